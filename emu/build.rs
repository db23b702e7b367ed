//! Builds the in-repo guest crates (guest-kernel, firmware) for riscv64gc-unknown-none-elf
//! and places their ELFs in OUT_DIR, where `emu::images` embeds them.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "riscv64gc-unknown-none-elf";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    ensure_target();
    for (krate, bin, out_name) in [
        ("guest-kernel", "guest-kernel", "guest-kernel.elf"),
        ("firmware", "firmware", "firmware.elf"),
    ] {
        let dir = root.join(krate);
        rerun_if_changed(&dir);
        let elf = build_guest(&dir, bin, &root.join("target").join("guest"), None);
        copy_out(&elf, &out_dir.join(out_name));
    }
    // Two more builds of the same kernel, for comparing PIE with non-PIE code on
    // identical work (guest-kernel/Cargo.toml, feature `nopie`): non-PIE, linked to run
    // only at its link address; and the PIE without jump tables, which the non-PIE build
    // cannot have (its code before the MMU is on runs at the physical address, and a
    // non-PIE jump table holds virtual ones), so that one pair differs in the relocation
    // model alone. Each has its own target directory: they differ in RUSTFLAGS and would
    // otherwise rebuild each other's dependencies every time.
    for (variant, out_name) in [
        (
            Variant {
                dir: "guest-nopie",
                feature: Some("nopie"),
                rustflags: &["-Crelocation-model=static", "-Cjump-tables=no"],
            },
            "guest-kernel-nopie.elf",
        ),
        (
            Variant {
                dir: "guest-pie-no-jump-tables",
                feature: None,
                // .cargo/config.toml's PIE flags (RUSTFLAGS replaces them) plus one.
                rustflags: &[
                    "-Crelocation-model=pie",
                    "-Clink-arg=-pie",
                    "-Clink-arg=--no-dynamic-linker",
                    "-Clink-arg=-znotext",
                    "-Clink-arg=-znorelro",
                    "-Cjump-tables=no",
                ],
            },
            "guest-kernel-pie-no-jump-tables.elf",
        ),
    ] {
        let elf = build_guest(
            &root.join("guest-kernel"),
            "guest-kernel",
            &root.join("target").join(variant.dir),
            Some(&variant),
        );
        copy_out(&elf, &out_dir.join(out_name));
    }
}

/// A guest-kernel build with its own compiler flags.
struct Variant {
    /// Under target/.
    dir: &'static str,
    feature: Option<&'static str>,
    /// Replace the crate's .cargo/config.toml flags (as CARGO_ENCODED_RUSTFLAGS).
    rustflags: &'static [&'static str],
}

fn rerun_if_changed(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", dir.join("build.rs").display());
    for extra in ["link.ld", "module", ".cargo/config.toml", "Cargo.lock"] {
        if dir.join(extra).exists() {
            println!("cargo:rerun-if-changed={}", dir.join(extra).display());
        }
    }
}

fn copy_out(elf: &Path, to: &Path) {
    std::fs::copy(elf, to).unwrap_or_else(|e| fail(&format!("cannot copy {}: {e}", elf.display())));
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

/// The riscv target must be installed; rust-toolchain.toml asks rustup for it, and we
/// add it here too for toolchains that were set up without that file.
fn ensure_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output();
    let installed = sysroot
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .map(|s| Path::new(&s).join("lib/rustlib").join(TARGET).exists())
        .unwrap_or(false);
    if installed {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        fail(&format!(
            "the Rust target {TARGET} is missing; run: rustup target add {TARGET}"
        ));
    }
}

fn build_guest(dir: &Path, bin: &str, target_dir: &Path, variant: Option<&Variant>) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", TARGET, "--bin", bin])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings are for the host; the guest build must not inherit them.
    for (k, _) in env::vars() {
        if k.starts_with("CARGO_") && k != "CARGO_HOME"
            || k == "RUSTFLAGS"
            || k == "RUSTC_WRAPPER"
            || k == "RUSTC_WORKSPACE_WRAPPER"
            || k.starts_with("RUSTC")
        {
            cmd.env_remove(&k);
        }
    }
    if let Some(v) = variant {
        if let Some(feature) = v.feature {
            cmd.args(["--features", feature]);
        }
        cmd.env("CARGO_ENCODED_RUSTFLAGS", v.rustflags.join("\x1f"));
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo for {}: {e}", dir.display())));
    if !status.success() {
        fail(&format!(
            "building {} for {TARGET} failed (see the errors above)",
            dir.display()
        ));
    }
    target_dir.join(TARGET).join("release").join(bin)
}

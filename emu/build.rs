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
    // The same kernel linked to run only at its link address, for comparing PIE with
    // non-PIE code on identical work (guest-kernel/Cargo.toml, feature `nopie`). Its own
    // target directory: the two builds differ in RUSTFLAGS and would otherwise rebuild
    // each other's dependencies every time.
    let elf = build_guest(
        &root.join("guest-kernel"),
        "guest-kernel",
        &root.join("target").join("guest-nopie"),
        Some(NonPie {
            feature: "nopie",
            rustflags: "-Crelocation-model=static\x1f-Ccode-model=medium",
        }),
    );
    copy_out(&elf, &out_dir.join("guest-kernel-nopie.elf"));
}

/// The feature and compiler flags of a non-PIE guest build.
struct NonPie {
    feature: &'static str,
    /// CARGO_ENCODED_RUSTFLAGS (0x1f-separated): replaces the crate's .cargo/config.toml
    /// PIE flags.
    rustflags: &'static str,
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
    std::fs::copy(elf, to)
        .unwrap_or_else(|e| fail(&format!("cannot copy {}: {e}", elf.display())));
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

fn build_guest(dir: &Path, bin: &str, target_dir: &Path, non_pie: Option<NonPie>) -> PathBuf {
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
    if let Some(n) = non_pie {
        cmd.args(["--features", n.feature])
            .env("CARGO_ENCODED_RUSTFLAGS", n.rustflags);
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

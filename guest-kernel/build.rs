//! Links the kernel with link.ld, compiles the loadable module (module/) to a
//! relocatable object that the kernel embeds with include_bytes!, and checks that the
//! `nopie` feature agrees with the relocation model the crate is compiled with.
//!
//! The module is compiled by rustc directly, not by cargo: it has no dependencies, and
//! what matters are the exact code-generation flags. `--emit obj` stops before linking,
//! so the object keeps every relocation; the static relocation model and the medany
//! code model (`code-model=medium`) give the pc-relative relocations a kernel module
//! has, and no unwind tables keep .eh_frame (and its relocations) out.
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rustc-link-arg=-T{}", dir.join("link.ld").display());
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed=.cargo/config.toml");
    println!("cargo:rerun-if-changed=module");
    check_relocation_model();
    build_module(&dir);
}

/// The PIE flags come from .cargo/config.toml, the non-PIE ones from RUSTFLAGS (which
/// replaces them); the `nopie` feature only changes what the kernel expects at boot. A
/// mismatch would build a kernel that fails at boot, so stop here instead.
fn check_relocation_model() {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let has = |flag: &str| flags.split('\x1f').any(|f| f.ends_with(flag));
    let pie = has("relocation-model=pie");
    let nopie = env::var_os("CARGO_FEATURE_NOPIE").is_some();
    if nopie && (pie || !has("jump-tables=no")) {
        // Without PIE, LLVM's jump tables hold absolute (virtual) addresses, and the
        // boot code before the MMU is on runs at the physical address: its first
        // `match` compiled to a table would jump to an unmapped address.
        panic!(
            "the nopie feature needs a non-PIE compile without jump tables: build with \
             RUSTFLAGS=\"-C relocation-model=static -C jump-tables=no\" (it replaces \
             .cargo/config.toml's PIE flags)"
        );
    }
    if !nopie && !pie {
        panic!(
            "the PIE kernel needs -C relocation-model=pie (.cargo/config.toml sets it; \
             RUSTFLAGS replaces it): unset RUSTFLAGS, or build with --features nopie"
        );
    }
}

fn build_module(dir: &std::path::Path) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("guest-module.o");
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = env::var("TARGET").unwrap_or_else(|_| "riscv64gc-unknown-none-elf".into());
    let source = dir.join("module").join("src").join("lib.rs");
    let status = Command::new(rustc)
        .args(["--edition", "2021", "--crate-type", "lib"])
        .args(["--crate-name", "guest_module", "--target", &target])
        .arg(format!("--emit=obj={}", out.display()))
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
        ])
        .args(["-C", "relocation-model=static", "-C", "code-model=medium"])
        .args(["-C", "force-unwind-tables=no", "-C", "debuginfo=0"])
        .arg(&source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("compiling the module {} failed: {s}", source.display()),
        Err(e) => panic!("cannot run rustc for the module: {e}"),
    }
}

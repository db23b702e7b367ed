//! The built-in firmware's SBI services, checked from S-mode by `firmware/tests-payload`:
//! an S-mode kernel that calls every extension the firmware offers (BASE, TIME, IPI,
//! RFENCE, HSM, SRST, DBCN, PMU), prints one line per check and powers off through SRST
//! with "system failure" if any check failed.
//!
//! The payload is built here for riscv64gc-unknown-none-elf (as emu/build.rs builds the
//! firmware) into `<repo>/target/guest`; it has no dependencies, so no network is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const TARGET: &str = "riscv64gc-unknown-none-elf";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ sits in the repository root")
        .to_path_buf()
}

/// Builds the payload once per test process and returns its ELF.
fn payload() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = repo_root().join("firmware").join("tests-payload");
        let target_dir = repo_root().join("target").join("guest");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&dir)
            .args([
                "build",
                "--release",
                "--target",
                TARGET,
                "--bin",
                "sbi-test-payload",
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        // This test's cargo settings are for the host build; the guest build must not
        // inherit them.
        for (k, _) in std::env::vars() {
            if (k.starts_with("CARGO_") && k != "CARGO_HOME")
                || k.starts_with("RUSTC")
                || k == "RUSTFLAGS"
            {
                cmd.env_remove(&k);
            }
        }
        let out = cmd.output().expect("cannot run cargo");
        assert!(
            out.status.success(),
            "building firmware/tests-payload failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir
            .join(TARGET)
            .join("release")
            .join("sbi-test-payload")
    })
}

/// Runs the payload on the built-in firmware with `harts` harts; its console and status.
fn run_payload(harts: &str) -> (String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("run")
        .arg(payload())
        .args(["--smp", harts, "--max-insns", "200000000"])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run emu");
    let console =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (console, out.status.code())
}

fn assert_all_checks_pass(harts: &str) -> String {
    let (console, status) = run_payload(harts);
    assert!(
        !console.contains("sbi-test: FAIL"),
        "a check failed:\n{console}"
    );
    assert!(
        console.lines().any(|l| l.starts_with("sbi-test: PASS (")),
        "no PASS line:\n{console}"
    );
    assert_eq!(status, Some(0), "{console}");
    console
}

#[test]
fn every_sbi_check_passes_on_one_hart() {
    let console = assert_all_checks_pass("1");
    // The PMU checks ran (they are the newest and the easiest to drop by accident).
    for line in [
        "sbi-test: ok   PMU",
        "sbi-test: ok   PMU firmware counter counts 4 set_timer calls",
        "sbi-test: ok   PMU stop freezes instret and cycle",
        "sbi-test: ok   scounteren at entry lets U-mode read time only",
    ] {
        assert!(
            console.lines().any(|l| l.trim_end() == line),
            "no line {line:?}:\n{console}"
        );
    }
}

#[test]
fn every_sbi_check_passes_on_two_harts() {
    let console = assert_all_checks_pass("2");
    assert!(
        console.contains("sbi-test: ok   HSM hart_start again after hart_stop"),
        "the HSM checks did not run on the second hart:\n{console}"
    );
}

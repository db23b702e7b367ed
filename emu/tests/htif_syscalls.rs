//! The HTIF syscall proxy (Spike front-end style) for bare-metal programs: the programs
//! are `emu/conformance/asm/htif_*.S`, built with the conformance crate.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod common;

use common::built_programs;

/// Run conformance program `name` with `stdin` in a fresh working directory `cwd`.
fn run_in(name: &str, cwd: &std::path::Path, stdin: &[u8]) -> Output {
    let elf = built_programs().join(name);
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .current_dir(cwd)
        .args(["run", "--bios", "none", "--max-insns", "10000000"])
        .arg(&elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start emu");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("writing emu's stdin");
    child.wait_with_output().expect("collecting emu output")
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-htif-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_program_prints_uses_files_reads_stdin_and_exits_through_the_syscall_proxy() {
    let dir = scratch_dir("files");
    let out = run_in("htif_syscalls", &dir, b"typed\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(42),
        "exit status (1..=12 = the program's failed check)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout,
        "hello from the HTIF syscall proxy\nfile contents\ntyped\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("htif_out.txt")).unwrap(),
        "file contents\n"
    );
    assert!(!dir.parent().unwrap().join("escape").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_syscall_stops_the_run_with_one_line_naming_it() {
    let dir = scratch_dir("unknown");
    let out = run_in("htif_unknown_syscall", &dir, b"");
    common::assert_one_error_line(&out, 126, "syscall 1234");
    let _ = std::fs::remove_dir_all(&dir);
}

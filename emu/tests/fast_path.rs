//! Issue 9: emu's shortcuts change nothing a guest or a trace can see.
//!
//! Each run is made twice: as `emu run` normally runs (the straight-through loop, the
//! hart's fetch- and data-page caches, the MMU's fast and counted caches) and with
//! `--no-fast-path` (the per-instruction reference loop, every access through the full
//! MMU path). Console output, exit status, instruction counts by privilege, trap counts
//! and traces must be byte-identical. The Debian boot is compared in linux_boot.rs.

use std::path::PathBuf;
use std::process::Command;

mod common;

use common::{
    built_programs, conformance_machine_flags, conformance_program_names, guest_kernel_boot_args,
    host_stats_line, GUEST_KERNEL_MODES,
};

/// Output of one run with the host's lines (timing, memory: they differ by nature) removed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    status: Option<i32>,
    stdout: String,
    stats: String,
}

/// One run with `--stats=basic`: `fast`, with emu's shortcuts, on both engines (the
/// interpreter and the default, compiling one, which must agree), else with
/// `--no-fast-path`.
fn run(args: &[&str], fast: bool) -> Run {
    if !fast {
        return run_with(args, &["--no-fast-path"]);
    }
    let interpreted = run_with(args, &["--interp"]);
    let default = run_with(args, &[]);
    assert_eq!(
        interpreted, default,
        "{args:?}: the default engine and --interp differ"
    );
    interpreted
}

fn run_with(args: &[&str], flags: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emu"));
    cmd.arg("run").args(args).arg("--stats=basic").args(flags);
    let out = cmd.output().expect("run emu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Timing and the compiler's own report differ by nature.
    let stats: Vec<&str> = stderr
        .lines()
        .filter(|l| !host_stats_line(l) && !l.starts_with("jit hart"))
        .collect();
    Run {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stats: stats.join("\n"),
    }
}

fn assert_same(what: &str, args: &[&str]) -> Run {
    let fast = run(args, true);
    let reference = run(args, false);
    assert!(
        fast.stats.contains("instructions"),
        "{what}: no statistics printed: {}",
        fast.stats
    );
    assert_eq!(fast, reference, "{what}: fast path and reference differ");
    fast
}

#[test]
fn conformance_programs_run_identically() {
    let dir = built_programs();
    let names = conformance_program_names();
    assert!(names.len() >= 15, "too few conformance programs: {names:?}");
    for name in names {
        let elf: PathBuf = dir.join(&name);
        let mut args = vec!["--bios", "none", "--max-insns", "50000000"];
        args.extend_from_slice(conformance_machine_flags(&name));
        let elf = elf.to_string_lossy().into_owned();
        args.push(&elf);
        assert_same(&name, &args);
    }
}

#[test]
fn guest_kernel_boots_run_identically() {
    for (mode, extra) in GUEST_KERNEL_MODES {
        let args = guest_kernel_boot_args(mode, extra);
        let r = assert_same(mode, &args);
        assert_eq!(r.status, Some(0), "{mode}: {}", r.stdout);
    }
}

/// A small budget per quantum and two harts: many quantum boundaries, interrupts and
/// hart switches, all of which must fall on the same instructions.
#[test]
fn smp_boot_with_short_quanta_runs_identically() {
    let args = ["--sv48", "--smp", "2", "--max-insns", "100000000"];
    let r = assert_same("smp 2", &args);
    assert_eq!(r.status, Some(0), "{}", r.stdout);
}

/// The MMU events of a traced boot: the traced loop takes the MMU's counted cache
/// normally and the full path with `--no-fast-path`.
#[test]
fn mmu_traces_are_identical() {
    let dir = std::env::temp_dir();
    let mut traces = Vec::new();
    for fast in [true, false] {
        let file = dir.join(format!("emu-fast-path-{}-{fast}.jsonl", std::process::id()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_emu"));
        cmd.args([
            "run",
            "--sv48",
            "--trace",
            "walk,tlb,satp,sfence,trap,mode",
            "--trace-format",
            "jsonl",
            "--trace-file",
        ])
        .arg(&file)
        .args(["--max-insns", "100000000"]);
        if !fast {
            cmd.arg("--no-fast-path");
        }
        let out = cmd.output().expect("run emu");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        traces.push(std::fs::read_to_string(&file).expect("trace file"));
        let _ = std::fs::remove_file(&file);
    }
    assert!(traces[0].lines().count() > 1000, "trace too short");
    assert!(traces[0].contains("\"walk\""), "no walk events");
    assert!(
        traces[0] == traces[1],
        "traces differ (fast {} lines, reference {} lines)",
        traces[0].lines().count(),
        traces[1].lines().count()
    );
}

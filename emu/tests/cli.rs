//! The command line contract: usage errors exit 2 with one error line, `--max-insns`
//! stops a runaway guest with status 124 and a message, and runs are deterministic.

mod common;

use common::{
    assert_one_error_line, built_programs, elf64, emu, temp_file, Segment, DRAM, EM_RISCV,
    LOOP_FOREVER,
};

const EXIT_USAGE: i32 = 2;
const EXIT_INSN_LIMIT: i32 = 124;

fn loop_forever_elf() -> std::path::PathBuf {
    temp_file(
        "loop.elf",
        &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &[LOOP_FOREVER])]),
    )
}

#[test]
fn smp_zero() {
    let out = emu(&["run", "--smp", "0"]);
    assert_one_error_line(&out, EXIT_USAGE, "--smp");
}

#[test]
fn memory_zero() {
    let out = emu(&["run", "-m", "0"]);
    assert_one_error_line(&out, EXIT_USAGE, "memory");
}

#[test]
fn memory_not_a_size() {
    let out = emu(&["run", "-m", "lots"]);
    assert_one_error_line(&out, EXIT_USAGE, "lots");
}

#[test]
fn two_paging_flags() {
    let out = emu(&["run", "--sv39", "--sv48"]);
    assert_one_error_line(&out, EXIT_USAGE, "--sv39");
}

#[test]
fn negative_instruction_count() {
    let out = emu(&["run", "--max-insns", "-5"]);
    assert_one_error_line(&out, EXIT_USAGE, "-5");
}

#[test]
fn instruction_count_not_a_number() {
    let out = emu(&["run", "--max-insns", "many"]);
    assert_one_error_line(&out, EXIT_USAGE, "many");
}

#[test]
fn bios_none_without_a_program() {
    // The built-in guest kernel needs firmware; without it the run would trap forever.
    let out = emu(&["run", "--bios", "none"]);
    assert_one_error_line(&out, EXIT_USAGE, "--bios none");
}

#[test]
fn unknown_flag() {
    let out = emu(&["run", "--frobnicate"]);
    assert_one_error_line(&out, EXIT_USAGE, "--frobnicate");
}

#[test]
fn unknown_subcommand() {
    let out = emu(&["fly"]);
    assert_one_error_line(&out, EXIT_USAGE, "fly");
}

#[test]
fn max_insns_stops_an_infinite_loop() {
    let path = loop_forever_elf();
    let out = emu(&[
        "run",
        "--bios",
        "none",
        path.to_str().unwrap(),
        "--max-insns",
        "10000",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "emu panicked:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(EXIT_INSN_LIMIT),
        "stderr:\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("emu:")).collect();
    assert_eq!(lines.len(), 1, "stderr:\n{stderr}");
    assert!(lines[0].contains("--max-insns"), "{}", lines[0]);
}

/// The instruction count `--stats` reports, from its "instructions  N" line.
fn stats_instructions(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("instructions"))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no instruction count in --stats output:\n{stderr}"))
}

#[test]
fn stats_are_deterministic() {
    // priv: many privilege changes and traps, so many chances to diverge.
    let elf = built_programs().join("priv");
    let run = || {
        let out = emu(&["run", "--bios", "none", elf.to_str().unwrap(), "--stats"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
        (stats_instructions(&stderr), out.stdout)
    };
    let (first, out1) = run();
    let (second, out2) = run();
    assert!(first > 100, "implausible instruction count {first}");
    assert_eq!(
        first, second,
        "two runs retired different instruction counts"
    );
    assert_eq!(out1, out2, "two runs printed different output");
}

/// Statistics at either level end with what the run cost the host's memory (which
/// scripts/bench-vs-qemu reads).
#[test]
fn stats_report_the_host_memory() {
    let elf = built_programs().join("priv");
    for level in ["--stats=basic", "--stats"] {
        let out = emu(&["run", "--bios", "none", elf.to_str().unwrap(), level]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.lines().any(|l| l.starts_with("host memory")
                && l.contains("MiB peak resident; guest RAM touched")),
            "{level}:\n{stderr}"
        );
    }
}

#[test]
fn stats_count_exactly_the_instructions_run() {
    // `j .` retires one instruction per iteration, so the limit is the count.
    let path = loop_forever_elf();
    let out = emu(&[
        "run",
        "--bios",
        "none",
        path.to_str().unwrap(),
        "--max-insns",
        "5000",
        "--stats",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(EXIT_INSN_LIMIT),
        "stderr:\n{stderr}"
    );
    assert_eq!(stats_instructions(&stderr), 5000, "stderr:\n{stderr}");
}

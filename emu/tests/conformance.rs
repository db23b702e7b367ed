//! Runs our bare-metal conformance programs (`emu/conformance`) on `emu run --bios none`.
//!
//! The crate is built once for riscv64gc-unknown-none-elf (as emu/build.rs builds the guest
//! crates); every binary in its `src/bin` is then run and must exit 0 through HTIF. A
//! failing program names its failing check in the exit status, which the assertion shows.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{
    built_programs, conformance_machine_flags as machine_flags,
    conformance_program_names as program_names,
};

/// Far above what any program needs (the largest retires well under a million), so a
/// program that loops forever is stopped by emu itself (status 124).
const MAX_INSNS: &str = "50000000";
/// Wall-clock guard in case emu itself stops making progress.
const WALL_LIMIT: Duration = Duration::from_secs(120);

/// Run one program with `extra` emu flags; returns its exit status (None if killed) and
/// its output.
fn run_program(name: &str, extra: &[&str]) -> (Option<i32>, String) {
    let elf = built_programs().join(name);
    assert!(elf.exists(), "{} was not built", elf.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none"])
        .args(machine_flags(name))
        .args(extra)
        .arg(&elf)
        .args(["--max-insns", MAX_INSNS])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start emu");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("waiting for emu").is_some() {
            break;
        }
        if start.elapsed() > WALL_LIMIT {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("collecting emu output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Every program whose name starts with one of `prefixes` must pass.
fn run_group(prefixes: &[&str]) {
    run_group_with(prefixes, &[]);
}

/// The same, with `extra` emu flags for every program.
fn run_group_with(prefixes: &[&str], extra: &[&str]) {
    let names: Vec<String> = program_names()
        .into_iter()
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
        .collect();
    assert!(
        !names.is_empty(),
        "no conformance program matches {prefixes:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let (status, output) = run_program(name, extra);
        if status != Some(0) {
            let status = status.map_or("killed (wall-clock limit)".into(), |s| s.to_string());
            failures.push(format!(
                "{name}: exit status {status} (1..=255 from the program = its failing check; see the output)\n{}",
                output.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} conformance programs failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// Groups below, by program-name prefix. Every program must belong to one of them.
const GROUPS: &[&[&str]] = &[
    &["rv64i_"],
    &["rv64m"],
    &["rv64a"],
    &["rv64f_"],
    &["rv64d_"],
    &["rv64c"],
    &["zicsr", "zicntr"],
    &["traps", "priv", "deleg", "mtvec_", "trig_"],
    &["clint_"],
    &["qemu_divergent"],
    &["selfcheck_"],
    &["vm_"],
];

#[test]
fn every_program_is_in_a_group() {
    for name in program_names() {
        assert!(
            GROUPS
                .iter()
                .flat_map(|g| g.iter())
                .any(|p| name.starts_with(p)),
            "conformance program {name} is not run by any test: add its prefix to GROUPS"
        );
    }
}

#[test]
fn rv64i() {
    run_group(GROUPS[0]);
}

#[test]
fn rv64m() {
    run_group(GROUPS[1]);
}

#[test]
fn rv64a() {
    run_group(GROUPS[2]);
}

#[test]
fn rv64f() {
    run_group(GROUPS[3]);
}

#[test]
fn rv64d() {
    run_group(GROUPS[4]);
}

#[test]
fn rv64c() {
    run_group(GROUPS[5]);
}

#[test]
fn zicsr_zicntr() {
    run_group(GROUPS[6]);
}

#[test]
fn traps_and_privilege() {
    run_group(GROUPS[7]);
}

#[test]
fn clint_interrupts() {
    run_group(GROUPS[8]);
}

/// The checks where QEMU 7.2 departs from the spec: emu must follow the spec.
#[test]
fn spec_over_qemu() {
    run_group(GROUPS[9]);
}

/// Proof that the harness can fail: `selfcheck_fail` fails its check 7 on purpose.
#[test]
fn a_failing_program_makes_emu_exit_with_its_check_number() {
    let (status, output) = run_program("selfcheck_fail", &[]);
    assert_eq!(status, Some(7), "emu output:\n{output}");
    assert!(
        output.contains("FAIL selfcheck_fail"),
        "the program's HTIF console message is missing:\n{output}"
    );
}

/// Virtual memory: leaves at every level of every mode, faults, permissions, A/D policy,
/// ASIDs, sfence.vma forms, PMP on page-table reads, satp WARL (see each `asm/vm_*.S`).
#[test]
fn virtual_memory() {
    run_group(GROUPS[11]);
}

/// The same programs with `--check-tlb`, which sends every access through the TLB model
/// (no host-side fast path) and re-walks on every hit: both paths must agree.
#[test]
fn virtual_memory_through_the_tlb_model() {
    run_group_with(GROUPS[11], &["--check-tlb"]);
}

/// And with a TLB model so small that every program evicts: translations must not depend
/// on what the TLB happens to hold.
#[test]
fn virtual_memory_with_a_tiny_tlb() {
    run_group_with(
        GROUPS[11],
        &["--tlb", "l1i=1:full,l1d=1:full,l2=2:1", "--stats"],
    );
}

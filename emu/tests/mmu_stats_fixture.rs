//! The TLB model's counters are part of the emulator's output (`--stats`), so speeding up
//! the model must not move any of them. Each case boots the in-repo guest kernel with
//! `--stats-json` and compares every line except the wall-clock ones with a fixture
//! recorded before the observed-path optimisations (tests/fixtures/mmu_stats/). The
//! geometries are chosen to exercise each branch of the model: the default, tiny arrays
//! that evict all the time, set-associative L1, no L2, Svadu refills and `--check-tlb`.
//!
//! A fixture is to be re-recorded only with a deliberate change of the model's behaviour
//! (replacement policy, what counts as an access), never to make a speed-up pass.

use std::process::Command;

fn counters(name: &str, args: &[&str]) -> String {
    let stats =
        std::env::temp_dir().join(format!("emu-mmu-stats-{}-{name}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("run")
        .args(args)
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .expect("run emu");
    assert!(
        out.status.success(),
        "{name}: boot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(console.contains("selftests: all"), "{name}: {console}");
    let json = std::fs::read_to_string(&stats).expect("stats JSON");
    let _ = std::fs::remove_file(&stats);
    strip_timing(&json)
}

fn strip_timing(json: &str) -> String {
    json.lines()
        .filter(|l| !l.contains("\"seconds\"") && !l.contains("\"mips\""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(name: &str, args: &[&str]) {
    let path = format!(
        "{}/tests/fixtures/mmu_stats/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let expected = std::fs::read_to_string(&path).expect("fixture");
    let got = counters(name, args);
    let expected = strip_timing(&expected);
    if got != expected {
        for (g, e) in got.lines().zip(expected.lines()) {
            if g != e {
                panic!("{name}: counters differ from {path}\n  got:      {g}\n  expected: {e}");
            }
        }
        panic!("{name}: counters differ from {path} (line count)\n{got}");
    }
}

#[test]
fn sv48_default_tlb() {
    check("sv48", &["--sv48"]);
}

#[test]
fn sv39_linear_layout() {
    check("sv39_linear", &["--sv39", "--append", "layout=linear"]);
}

#[test]
fn sv57_small_set_associative_tlb() {
    check(
        "sv57_small_tlb",
        &["--sv57", "--tlb", "l1i=4:full,l1d=4:2,l2=16:4"],
    );
}

#[test]
fn sv48_svadu_without_l2() {
    check(
        "sv48_svadu_no_l2",
        &[
            "--sv48",
            "--kaslr-seed",
            "7",
            "--svadu",
            "--tlb",
            "l1i=8:full,l1d=8:full,l2=0",
        ],
    );
}

#[test]
fn sv48_check_tlb() {
    check("sv48_check_tlb", &["--sv48", "--check-tlb"]);
}

#[test]
fn sv39_tiny_tlb() {
    check(
        "sv39_tiny_tlb",
        &["--sv39", "--tlb", "l1i=1:full,l1d=2:full,l2=4:2"],
    );
}

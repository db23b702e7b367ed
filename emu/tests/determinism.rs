//! Issue 10: the built-in guest kernel boots identically 20 times (console output and
//! instruction count), since time follows executed instructions; and identically
//! whatever the length of the machine's quanta.

use std::process::Command;

fn boot(run: u32) -> (String, String) {
    boot_with_quantum(run, None)
}

/// A boot with `EMU_IDLE_QUANTUM` set to `quantum` (None: the built-in length).
fn boot_with_quantum(run: u32, quantum: Option<u64>) -> (String, String) {
    let stats =
        std::env::temp_dir().join(format!("emu-determinism-{}-{run}.json", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emu"));
    if let Some(q) = quantum {
        cmd.env("EMU_IDLE_QUANTUM", q.to_string());
    }
    let out = cmd
        .args([
            "run",
            "--sv48",
            "--kaslr-seed",
            "7",
            "--max-insns",
            "100000000",
            "--stats-json",
        ])
        .arg(&stats)
        .output()
        .expect("run emu");
    assert!(
        out.status.success(),
        "boot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = std::fs::read_to_string(&stats).expect("stats JSON");
    let _ = std::fs::remove_file(&stats);
    // Everything but the wall-clock figures must repeat exactly.
    let counts: Vec<&str> = json
        .lines()
        .filter(|l| !l.contains("\"seconds\"") && !l.contains("\"mips\""))
        .collect();
    (console, counts.join("\n"))
}

#[test]
fn twenty_kernel_boots_are_identical() {
    let (console, counts) = boot(1);
    assert!(console.contains("selftests: all"), "{console}");
    for run in 2..=20 {
        let (c, n) = boot(run);
        assert_eq!(c, console, "run {run}: console output differs");
        assert_eq!(
            n, counts,
            "run {run}: instruction or translation counts differ"
        );
    }
}

/// The machine looks at devices and interrupts between quanta; with one hart and idle
/// devices their length is only a matter of speed. The guest must not see it: the timer
/// interrupt lands on the same instruction, and `time` reads the same value, whether a
/// quantum is 32 Ki instructions, 4 Ki, or 997 (which starts quanta in the middle of
/// timer ticks and puts traps anywhere in them). This kernel traps and reads the time
/// too seldom to show a small leak; `linux_boot.rs`'s
/// `debian_boot_identical_whatever_the_quantum` is the sharper check.
#[test]
fn the_length_of_quanta_changes_nothing() {
    let (console, counts) = boot_with_quantum(101, None);
    assert!(console.contains("selftests: all"), "{console}");
    for quantum in [4096, 997] {
        let (c, n) = boot_with_quantum(102, Some(quantum));
        assert_eq!(c, console, "quanta of {quantum}: console output differs");
        assert_eq!(
            n, counts,
            "quanta of {quantum}: instruction or translation counts differ"
        );
    }
}

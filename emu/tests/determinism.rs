//! Issue 10: the built-in guest kernel boots identically 20 times (console output and
//! instruction count), since time follows retired instructions.

use std::process::Command;

fn boot(run: u32) -> (String, String) {
    let stats =
        std::env::temp_dir().join(format!("emu-determinism-{}-{run}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
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

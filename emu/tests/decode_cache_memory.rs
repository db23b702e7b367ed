//! Memory that grows with the machine's size but not with what the guest does: a large
//! machine that runs a few instructions must stay small. The decode cache's page map used
//! to cost 4 bytes per RAM page per hart up front (1 GB for `-m 16G --smp 64`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{elf64, temp_file, Segment, DRAM, EM_RISCV, LOOP_FOREVER};

/// Peak resident set of a process, from /proc (kB), if it still runs.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn sixty_four_harts_on_16_gib_stay_small() {
    let elf = temp_file(
        "loop.elf",
        &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &[LOOP_FOREVER])]),
    );
    // Every hart runs the loop (all harts start at the entry with --bios none); 2 M
    // instructions give each of the 64 several quanta.
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args([
            "run", "--bios", "none", "--sv48", "-m", "16G", "--smp", "64",
        ])
        .args(["--max-insns", "2000000"])
        .arg(&elf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start emu");
    let pid = child.id();
    let start = Instant::now();
    let mut peak_kb = 0;
    while child.try_wait().expect("waiting for emu").is_none() {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "emu did not finish"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(peak_kb > 0, "emu ended before its memory could be read");
    // Everything per hart and the touched RAM fit in far less; the old page maps alone
    // were 1 GiB.
    assert!(
        peak_kb < 256 * 1024,
        "peak RSS {} MiB for a machine that touched almost no memory",
        peak_kb / 1024
    );
}

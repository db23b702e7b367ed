//! What a trace costs outside its window, and what the window's first events say.
//!
//! - Once a trace has ended (`--trace-limit` reached), the run goes back to the unobserved
//!   loop: memory and CPU time stay near those of an untraced run (the MMU stops recording
//!   events, so nothing piles up, and its fast path serves again).
//! - Before a `--trace-from` window opens, asking for `tlb` events costs nothing more than
//!   asking for walks: no per-access event is made outside the window.
//! - A windowed Perfetto trace opens, at the window's start, the phase slice of the satp
//!   in force there.
//! - The first `insn` event of a `--trace-from insn:N` window carries the physical address
//!   and symbol that the same instruction has in any other window.
//!
//! The guest is the built-in kernel with `tlb-sweep`, which reads one word from every page
//! of free RAM through the linear map: TLB events on nearly every instruction. Time bounds
//! are on user CPU time (the kernel's RAM setup is system time, equal in both runs) and
//! loose; the failures they catch are several times over them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

const EMU: &str = env!("CARGO_BIN_EXE_emu");

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-trace-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// User CPU seconds and peak RSS (KiB) of one `emu run` of the sweeping kernel.
struct Cost {
    user_s: f64,
    peak_rss_kib: i64,
}

// The child is reaped by `wait4`, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(ram: &str, extra: &[&str]) -> Cost {
    let child = Command::new(EMU)
        .args([
            "run",
            "--append",
            "tlb-sweep",
            "-m",
            ram,
            "--max-insns",
            "50000000",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run emu");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for (`child` is never waited on);
    // `status` and `usage` are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "emu {extra:?} did not exit 0 (wait status {status:#x})"
    );
    Cost {
        user_s: usage.ru_utime.tv_sec as f64 + usage.ru_utime.tv_usec as f64 * 1e-6,
        peak_rss_kib: usage.ru_maxrss,
    }
}

#[test]
fn an_ended_trace_costs_the_rest_of_the_run_nothing() {
    let trace = tmp("limit.txt");
    let untraced = run_measured("1G", &[]);
    let traced = run_measured(
        "1G",
        &[
            "--trace",
            "walk,tlb",
            "--trace-limit",
            "5",
            "--trace-file",
            trace.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(
        text.lines().filter(|l| !l.starts_with(' ')).count(),
        5,
        "{text}"
    );
    assert!(
        traced.peak_rss_kib as f64 <= untraced.peak_rss_kib as f64 * 1.3 + 16.0 * 1024.0,
        "peak RSS {} KiB after the trace ended, {} KiB untraced",
        traced.peak_rss_kib,
        untraced.peak_rss_kib
    );
    assert!(
        traced.user_s <= untraced.user_s * 1.5 + 0.1,
        "{:.2} s of user time with an ended trace, {:.2} s untraced",
        traced.user_s,
        untraced.user_s
    );
}

#[test]
fn tlb_events_cost_nothing_before_the_window() {
    // The window opens near the end of the 6 M-instruction run.
    let before = |kind: &str| {
        let file = tmp(&format!("before-{kind}.txt"));
        run_measured(
            "3G",
            &[
                "--trace",
                kind,
                "--trace-from",
                "insn:6000000",
                "--trace-file",
                file.to_str().unwrap(),
            ],
        )
    };
    let walks = before("walk");
    let tlb = before("tlb");
    assert!(
        tlb.user_s <= walks.user_s * 1.5 + 0.05,
        "{:.2} s of user time before a tlb window, {:.2} s before a walk window",
        tlb.user_s,
        walks.user_s
    );
}

/// A trace of the built-in kernel (no sweep) to a file; returns its text.
fn traced(name: &str, args: &[&str]) -> String {
    let file = tmp(name);
    let out = Command::new(EMU)
        .args(["run", "--max-insns", "20000000"])
        .args(args)
        .arg("--trace-file")
        .arg(&file)
        .output()
        .expect("run emu");
    assert!(
        out.status.success(),
        "emu {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&file).expect("trace file")
}

/// Instructions into the run, well after the kernel runs at its virtual address.
const LATE: u64 = 2_000_000;

#[test]
fn windowed_perfetto_trace_opens_the_phase_in_force() {
    let from = format!("insn:{LATE}");
    let text = traced(
        "window.json",
        &[
            "--trace",
            "satp,trap",
            "--trace-format",
            "perfetto",
            "--trace-from",
            &from,
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&text).expect("perfetto JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let ts = |e: &serde_json::Value| -> f64 {
        e["ts"]
            .as_str()
            .map_or_else(|| e["ts"].as_f64().unwrap(), |s| s.parse().unwrap())
    };
    let timed: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] != "M").collect();
    let first = timed.first().expect("events in the window");
    assert_eq!(
        first["ph"], "B",
        "the window starts with a phase slice: {first}"
    );
    assert_eq!(first["cat"], "phase", "{first}");
    assert_ne!(
        first["name"], "bare",
        "the kernel runs paged by then: {first}"
    );
    assert_eq!(
        ts(first),
        LATE as f64 / 1000.0,
        "opened at the window's start: {first}"
    );
    // It is the hart's phase until a satp write: no other phase is open before it.
    assert_eq!(
        timed.iter().filter(|e| e["ph"] == "E").count(),
        timed.iter().filter(|e| e["ph"] == "B").count(),
        "every phase closed at the end"
    );
}

#[test]
fn first_instruction_of_an_insn_window_has_its_physical_address_and_symbol() {
    let window = |from: u64, n: &str| {
        let from = format!("insn:{from}");
        traced(
            &format!("insn-{from}.jsonl"),
            &[
                "--trace",
                "insn",
                "--trace-format",
                "jsonl",
                "--trace-from",
                &from,
                "--trace-limit",
                n,
            ],
        )
    };
    let at = window(LATE, "1");
    let earlier = window(LATE - 1, "2");
    let first = at.lines().next().expect("an instruction event");
    let same = earlier.lines().nth(1).expect("two instruction events");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_ne!(
        v["pc"], v["pa"],
        "a virtual pc, to tell pa from it: {first}"
    );
    assert_eq!(
        first, same,
        "the window's first instruction as the previous window's second"
    );
}

//! Issue 9: `--jit` changes nothing a guest can see.
//!
//! Each run is made with and without `--jit`, both with `--stats=basic` (which keeps the
//! unobserved loop the JIT hooks into): console output, exit status, instruction counts
//! by privilege and trap counts must be identical, and the `--jit` run must have compiled
//! blocks, and where loops run, linked them (so the comparison is not vacuous).
//! `rv64i_smc_loop` among the conformance programs rewrites code that linked blocks ran.
//! Counted runs (`--stats`, `--trace walk`) run the counted flavour of compiled code:
//! their TLB counters and MMU events must be the interpreter's too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;

use common::{
    built_programs, conformance_machine_flags, conformance_program_names, guest_kernel_boot_args,
    host_stats_line, GUEST_KERNEL_MODES, TARGET,
};

#[derive(Debug, PartialEq, Eq)]
struct Run {
    status: Option<i32>,
    stdout: String,
    stats: String,
}

/// One run; the JIT's own report line is returned apart. `hot`: `--jit-hot`, low so
/// that short test programs get much of their code compiled.
fn run(args: &[&str], jit: Option<&str>) -> (Run, String) {
    run_with(args, jit, "--stats=basic", "0")
}

/// [`run`], each compile on the compile thread delayed by `delay_ms` milliseconds (the
/// hidden test hook `EMU_JIT_COMPILE_DELAY_MS`).
fn run_delayed(args: &[&str], jit: Option<&str>, delay_ms: &str) -> (Run, String) {
    run_with(args, jit, "--stats=basic", delay_ms)
}

/// [`run`] with the statistics flag `stats`.
fn run_with_stats(args: &[&str], jit: Option<&str>, stats: &str) -> (Run, String) {
    run_with(args, jit, stats, "0")
}

/// One run with the statistics flag `stats` and compiles delayed by `delay_ms`.
fn run_with(args: &[&str], jit: Option<&str>, stats: &str, delay_ms: &str) -> (Run, String) {
    match jit {
        Some(hot) => run_engine(args, &["--jit", "--jit-hot", hot], stats, delay_ms),
        None => run_engine(args, &["--interp"], stats, delay_ms),
    }
}

/// One run with the engine flags `engine`.
fn run_engine(args: &[&str], engine: &[&str], stats: &str, delay_ms: &str) -> (Run, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emu"));
    cmd.env("EMU_JIT_COMPILE_DELAY_MS", delay_ms);
    cmd.arg("run").args(args).arg(stats).args(engine);
    let out = cmd.output().expect("run emu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (jit_lines, stats): (Vec<&str>, Vec<&str>) = stderr
        .lines()
        .filter(|l| !host_stats_line(l))
        .partition(|l| l.starts_with("jit hart"));
    (
        Run {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stats: stats.join("\n"),
        },
        jit_lines.join("\n"),
    )
}

/// Blocks compiled, summed over the harts' report lines.
fn blocks_compiled(report: &str) -> u64 {
    reported(report, &["blocks,"])
}

/// Instructions compiled code ran, summed over the harts' report lines.
fn ran_compiled(report: &str) -> u64 {
    reported(report, &["instructions", "ran"])
}

/// Block exits linked straight to the next block, summed over the harts' report lines.
fn exits_linked(report: &str) -> u64 {
    report
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "exits")?;
            words.get(at.checked_sub(1)?)?.parse::<u64>().ok()
        })
        .sum()
}

fn assert_same(what: &str, args: &[&str], hot: &str) -> (Run, String) {
    assert_same_engine(what, args, &["--jit", "--jit-hot", hot])
}

/// A run with the engine flags `engine` against the interpreter's.
fn assert_same_engine(what: &str, args: &[&str], engine: &[&str]) -> (Run, String) {
    let (jit, report) = run_engine(args, engine, "--stats=basic", "0");
    let (reference, _) = run(args, None);
    assert!(
        jit.stats.contains("instructions"),
        "{what}: no statistics printed: {}",
        jit.stats
    );
    assert_eq!(
        jit, reference,
        "{what}: {engine:?} and the interpreter differ ({report})"
    );
    (jit, report)
}

#[test]
fn conformance_programs_run_identically() {
    let dir = built_programs();
    let names = conformance_program_names();
    assert!(names.len() >= 15, "too few conformance programs: {names:?}");
    let (mut compiled, mut linked) = (0, 0);
    for name in names {
        let elf: PathBuf = dir.join(&name);
        let mut args = vec!["--bios", "none", "--max-insns", "50000000"];
        args.extend_from_slice(conformance_machine_flags(&name));
        let elf = elf.to_string_lossy().into_owned();
        args.push(&elf);
        let report = assert_same(&name, &args, "1").1;
        compiled += blocks_compiled(&report);
        linked += exits_linked(&report);
    }
    assert!(compiled > 0, "no conformance program got a compiled block");
    assert!(linked > 0, "no conformance program linked two blocks");
}

/// Blocks given quick code, summed over the harts' report lines ("quick code for N
/// blocks").
fn quick_blocks(report: &str) -> u64 {
    count_near(report, &["quick", "code", "for"], 3)
}

/// [`assert_same`] with quick code (`jit/quick.rs`) from entry `quick` on and
/// Cranelift's from entry `hot` on.
fn assert_same_quick(what: &str, args: &[&str], quick: &str, hot: &str) -> (Run, String) {
    let engine = ["--jit", "--jit-hot", hot, "--jit-quick", quick];
    assert_same_engine(what, args, &engine)
}

/// Every conformance program with quick code for every block from its first entry
/// (Cranelift's only after 32765): each pattern of `jit/quick.rs`, its data-page lookups
/// and exits, against the interpreter.
#[test]
fn conformance_programs_run_identically_with_quick_code() {
    let dir = built_programs();
    let mut quick = 0;
    for name in conformance_program_names() {
        let elf: PathBuf = dir.join(&name);
        let mut args = vec!["--bios", "none", "--max-insns", "50000000"];
        args.extend_from_slice(conformance_machine_flags(&name));
        let elf = elf.to_string_lossy().into_owned();
        args.push(&elf);
        let report = assert_same_quick(&name, &args, "1", "32765").1;
        quick += quick_blocks(&report);
    }
    assert!(quick > 0, "no conformance program got quick code");
}

/// The guest kernel boots with quick code from the second entry and Cranelift's from
/// the 50th (compiled on the hart's thread, so at once): blocks go from quick code to
/// Cranelift's while they run.
#[test]
fn guest_kernel_boots_run_identically_with_quick_code() {
    for (mode, extra) in GUEST_KERNEL_MODES {
        let args = guest_kernel_boot_args(mode, extra);
        let (r, report) = assert_same_quick(mode, &args, "2", "50");
        assert_eq!(r.status, Some(0), "{mode}: {}", r.stdout);
        assert!(quick_blocks(&report) > 0, "{mode}: no quick code: {report}");
        assert!(
            blocks_compiled(&report) > 0,
            "{mode}: nothing compiled by Cranelift: {report}"
        );
    }
}

#[test]
fn guest_kernel_boots_run_identically() {
    for (mode, extra) in GUEST_KERNEL_MODES {
        let args = guest_kernel_boot_args(mode, extra);
        let (r, report) = assert_same(mode, &args, "20");
        assert_eq!(r.status, Some(0), "{mode}: {}", r.stdout);
        assert!(blocks_compiled(&report) > 0, "{mode}: nothing compiled");
    }
}

#[test]
fn smp_boot_runs_identically() {
    let args = ["--sv48", "--smp", "2", "--max-insns", "100000000"];
    let (r, report) = assert_same("smp 2", &args, "20");
    assert_eq!(r.status, Some(0), "{}", r.stdout);
    assert!(blocks_compiled(&report) > 0, "smp 2: nothing compiled");
}

/// benches/guest, built the way scripts/bench-vs-qemu builds it (its own workspace).
fn built_benches() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target_dir = root.join("target").join("bench-guest");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root.join("benches/guest"))
            .args(["build", "--release", "--target", TARGET, "--target-dir"])
            .arg(&target_dir);
        for (k, _) in std::env::vars() {
            if (k.starts_with("CARGO_") && k != "CARGO_HOME")
                || k.starts_with("RUSTC")
                || k == "RUSTFLAGS"
                || k == "RUSTDOCFLAGS"
            {
                cmd.env_remove(&k);
            }
        }
        let out = cmd
            .output()
            .expect("cannot run cargo to build benches/guest");
        assert!(
            out.status.success(),
            "building benches/guest failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join(TARGET).join("release")
    })
}

/// The two compute benchmarks, cut short (the test profile's emu is slow): the state at
/// the cut, counts included, must agree; the checksum exit is checked by the full runs
/// of scripts/bench-vs-qemu.
#[test]
fn guest_benchmarks_run_identically() {
    for prog in ["bench_dhrystone", "bench_coremark"] {
        let elf = built_benches().join(prog).to_string_lossy().into_owned();
        let args = ["--bios", "none", "--max-insns", "30000000", &elf];
        let (_, report) = assert_same(prog, &args, "20");
        assert!(blocks_compiled(&report) > 0, "{prog}: nothing compiled");
        // Their loops must run as linked blocks, not only block by block.
        assert!(exits_linked(&report) > 0, "{prog}: no block exit linked");
        // Compute-bound: compiled code runs nearly all of it. The runs stop at
        // --max-insns inside their loops, so a loop inside a block that overran its
        // budget would show in the instruction counts compared above.
        let ran = ran_compiled(&report);
        assert!(
            ran > 27_000_000,
            "{prog}: only {ran} instructions ran compiled: {report}"
        );
    }
}

/// Pages left to the interpreter because their code kept changing, summed over the harts'
/// report lines ("N pages given up").
fn pages_given_up(report: &str) -> u64 {
    reported(report, &["pages", "given"])
}

/// Self-modifying code stays cheap: `rv64i_smc_churn` rewrites one instruction of a
/// routine 100,000 times (fence.i and a call after each). With every entry compiled at
/// once (`--jit-hot 1`), recompiling after each rewrite made 93,795 blocks (3.3 CPU-s
/// against 0.04 s interpreted); the routine's page must instead be given up after
/// `jit::MAX_CODE_CHANGES` changes and interpreted, with results identical to the
/// interpreter's.
#[test]
fn code_that_keeps_changing_is_given_up() {
    let name = "rv64i_smc_churn";
    let elf = built_programs().join(name).to_string_lossy().into_owned();
    let args = ["--bios", "none", "--max-insns", "50000000", &elf];
    let (r, report) = assert_same(name, &args, "1");
    assert_eq!(r.status, Some(0), "{name} failed: {}", r.stdout);
    let blocks = blocks_compiled(&report);
    assert!(
        blocks > 0 && blocks < 100,
        "{name}: {blocks} blocks compiled (the page was not given up?): {report}"
    );
    assert_eq!(pages_given_up(&report), 1, "{name}: {report}");
}

/// The count before `words` in the harts' report lines ("N on the compile thread", "N
/// dropped as stale": `words` without the last, which punctuation follows), summed.
fn reported(report: &str, words: &[&str]) -> u64 {
    count_near(report, words, -1)
}

/// The count `at` words from where `words` start in the harts' report lines, summed.
fn count_near(report: &str, words: &[&str], at: isize) -> u64 {
    report
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let start = w.windows(words.len()).position(|x| x == words)?;
            w.get(start.checked_add_signed(at)?)?.parse::<u64>().ok()
        })
        .sum()
}

/// A program's runs for [`compile_thread_timing_changes_nothing`]: name, arguments,
/// `--jit-hot` values, compile delays in milliseconds.
type TimingCase<'a> = (&'a str, Vec<&'a str>, &'a [&'a str], &'a [&'a str]);

/// Issue 18: from `--jit-hot 100` (`jit::COMPILE_HERE_BELOW`) on, blocks compile on a
/// thread and are installed once the hart finds them ready, so which code runs compiled,
/// and from when, depends on the thread's timing; what the guest sees must not. Each
/// program runs with compiles as fast as the thread goes and with each delayed by a few
/// milliseconds (other blocks compiled, installed at other instructions, some dropped
/// because their page changed meanwhile), and every run must match the interpreter:
/// console, exit status, instructions per privilege and traps.
///
/// `rv64i_smc_churn` rewrites its routine after every call, so blocks of it must be
/// dropped as stale (they cannot be installed before the next run quantum, thousands of
/// instructions after the rewrite). Installing them anyway, marked with the page's
/// version at installation, changed its instruction count in about a third of the runs
/// (when one was installed between a rewrite and the next call), hence its ten runs;
/// the stale count catches that bug in every run.
#[test]
fn compile_thread_timing_changes_nothing() {
    let churn = built_programs()
        .join("rv64i_smc_churn")
        .to_string_lossy()
        .into_owned();
    let benches = built_benches();
    let coremark = benches
        .join("bench_coremark")
        .to_string_lossy()
        .into_owned();
    let dhrystone = benches
        .join("bench_dhrystone")
        .to_string_lossy()
        .into_owned();
    let programs: [TimingCase; 4] = [
        (
            "guest kernel",
            vec![
                "--sv48",
                "--kaslr-seed",
                "0x5eed",
                "--max-insns",
                "100000000",
            ],
            &["100"],
            &["0", "3"],
        ),
        (
            "bench_coremark",
            vec!["--bios", "none", "--max-insns", "30000000", &coremark],
            &["100", "5000"],
            &["0", "3"],
        ),
        (
            "bench_dhrystone",
            vec!["--bios", "none", "--max-insns", "30000000", &dhrystone],
            &["100", "5000"],
            &["0", "3"],
        ),
        (
            "rv64i_smc_churn",
            vec!["--bios", "none", "--max-insns", "50000000", &churn],
            &["100", "300"],
            &["0", "1", "2", "3", "5"],
        ),
    ];
    for (name, args, hots, delays) in programs {
        let (reference, _) = run(&args, None);
        assert!(
            reference.stats.contains("instructions"),
            "{name}: no statistics printed: {}",
            reference.stats
        );
        let (mut on_thread, mut stale) = (0, 0);
        for hot in hots {
            for delay in delays {
                let (r, report) = run_delayed(&args, Some(hot), delay);
                assert_eq!(
                    r, reference,
                    "{name}, --jit-hot {hot}, compiles delayed {delay} ms: differs from the interpreter ({report})"
                );
                on_thread += reported(&report, &["on", "the", "compile"]);
                stale += reported(&report, &["dropped", "as"]);
            }
        }
        assert!(
            on_thread > 0,
            "{name}: nothing compiled on the compile thread"
        );
        if name == "rv64i_smc_churn" {
            assert!(stale > 0, "{name}: no block dropped as stale");
        }
    }
}

/// Issue 18: a counted run (`--stats`) runs compiled code of the counted flavour, and its
/// counters (TLB hits and misses per level and page size, walks, PTE reads, per phase)
/// must be the interpreter's to the last access.
fn assert_same_counted(what: &str, args: &[&str], hot: &str) -> (Run, String) {
    assert_same_counted_engine(what, args, &["--jit", "--jit-hot", hot])
}

/// A `--stats` run with the engine flags `engine` against the interpreter's.
fn assert_same_counted_engine(what: &str, args: &[&str], engine: &[&str]) -> (Run, String) {
    let (jit, report) = run_engine(args, engine, "--stats", "0");
    let (reference, _) = run_with_stats(args, None, "--stats");
    assert!(
        jit.stats.contains("L1D") || jit.stats.contains("l1d"),
        "{what}: no TLB statistics printed: {}",
        jit.stats
    );
    assert_eq!(
        jit, reference,
        "{what}: --stats counters of {engine:?} and the interpreter differ"
    );
    (jit, report)
}

#[test]
fn counted_conformance_programs_count_identically() {
    let dir = built_programs();
    let mut compiled = 0;
    for name in conformance_program_names() {
        let elf = dir.join(&name).to_string_lossy().into_owned();
        let mut args = vec!["--bios", "none", "--max-insns", "50000000"];
        args.extend_from_slice(conformance_machine_flags(&name));
        args.push(&elf);
        compiled += blocks_compiled(&assert_same_counted(&name, &args, "1").1);
    }
    assert!(compiled > 0, "no conformance program got a compiled block");
}

/// The guest kernel's counters with counted quick code from the first entry (its
/// lookups count accesses into the counted run, or call the miss function).
#[test]
fn counted_guest_kernel_boot_counts_identically_with_quick_code() {
    for (mode, extra) in [("--sv39", "layout=linear nokaslr"), ("--sv48", "")] {
        let args = guest_kernel_boot_args(mode, extra);
        let engine = ["--jit", "--jit-hot", "32765", "--jit-quick", "1"];
        let report = assert_same_counted_engine(mode, &args, &engine).1;
        assert!(quick_blocks(&report) > 0, "{mode}: no quick code: {report}");
    }
}

#[test]
fn counted_guest_kernel_boot_counts_identically() {
    for (mode, extra) in [("--sv39", "layout=linear nokaslr"), ("--sv48", "")] {
        let args = guest_kernel_boot_args(mode, extra);
        let (r, report) = assert_same_counted(mode, &args, "20");
        assert_eq!(r.status, Some(0), "{mode}: {}", r.stdout);
        assert!(
            blocks_compiled(&report) > 0,
            "{mode}: nothing compiled in a --stats run: {report}"
        );
    }
}

/// `--trace walk` (and the other events the counted loop emits) runs compiled code too:
/// every event, and the instruction count and pc in each, as the interpreter's.
#[test]
fn traced_walks_are_identical() {
    let dir = std::env::temp_dir();
    let mut traces = Vec::new();
    let mut reports = Vec::new();
    // Cranelift's counted blocks, quick code's, the interpreter.
    let engines: [&[&str]; 3] = [
        &["--jit", "--jit-hot", "20"],
        &["--jit", "--jit-hot", "32765", "--jit-quick", "1"],
        &["--interp"],
    ];
    for (n, engine) in engines.iter().enumerate() {
        let file = dir.join(format!("emu-jit-trace-{}-{n}.jsonl", std::process::id()));
        let file_arg = file.to_string_lossy().into_owned();
        let args = [
            "--sv48",
            "--kaslr-seed",
            "0x5eed",
            "--trace",
            "walk,satp,sfence,trap,mode",
            "--trace-format",
            "jsonl",
            "--trace-file",
            &file_arg,
            "--max-insns",
            "100000000",
        ];
        let (r, report) = run_engine(&args, engine, "--stats", "0");
        assert_eq!(r.status, Some(0), "{}", r.stdout);
        traces.push(std::fs::read_to_string(&file).expect("trace file"));
        let _ = std::fs::remove_file(&file);
        reports.push((r, report));
    }
    assert!(traces[2].contains("\"walk\""), "no walk events");
    for n in 0..2 {
        assert!(
            traces[n] == traces[2],
            "{:?}: traces differ (compiled {} lines, interpreted {} lines)",
            engines[n],
            traces[n].lines().count(),
            traces[2].lines().count()
        );
        assert_eq!(
            reports[n].0, reports[2].0,
            "{:?}: traced runs' counters differ",
            engines[n]
        );
    }
    assert!(
        blocks_compiled(&reports[0].1) > 0,
        "nothing compiled in a traced run: {}",
        reports[0].1
    );
    assert!(
        quick_blocks(&reports[1].1) > 0,
        "no quick code in a traced run: {}",
        reports[1].1
    );
}

//! Boot tests of what the guest kernel does after its boot: vmalloc with the kernel's
//! reservation, the module loader and the ±2 GiB window, the BPF JIT, user processes
//! with and without ASIDs. Every paging mode x layout boots through the built-in
//! firmware; the kernel's report lines are the contract (format: guest-kernel/src/report.rs).

use std::process::Command;

const EMU: &str = env!("CARGO_BIN_EXE_emu");
const GIB: i128 = 1 << 30;

struct Boot {
    status: i32,
    stdout: String,
}

fn boot(mode: &str, append: &str, extra: &[&str]) -> Boot {
    let out = Command::new(EMU)
        .args(["run", &format!("--{mode}"), "--max-insns", "50000000"])
        .args(["--append", append])
        .args(extra)
        .output()
        .expect("run emu");
    Boot {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

fn line<'a>(log: &'a str, prefix: &str) -> &'a str {
    log.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{log}"))
}

fn hex(word: &str) -> u64 {
    let digits = word.trim_end_matches([',', ')']).trim_start_matches("0x");
    u64::from_str_radix(digits, 16).unwrap_or_else(|_| panic!("bad hex {word:?}"))
}

/// The word after `key` on the line starting with `prefix`, as hex.
fn hex_after(log: &str, prefix: &str, key: &str) -> u64 {
    let l = line(log, prefix);
    let mut words = l.split_whitespace();
    words
        .position(|w| w == key)
        .unwrap_or_else(|| panic!("no {key:?} in {l:?}"));
    hex(words
        .next()
        .unwrap_or_else(|| panic!("nothing after {key:?} in {l:?}")))
}

/// The value of `key=<n>` (decimal or 0x hex) on the line starting with `prefix`.
fn field(log: &str, prefix: &str, key: &str) -> u64 {
    let l = line(log, prefix);
    let v = l
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {l:?}"));
    if v.starts_with("0x") {
        hex(v)
    } else {
        v.parse()
            .unwrap_or_else(|_| panic!("bad number {v:?} in {l:?}"))
    }
}

/// (first, last) of a `layout: <name> 0x<first> - 0x<last>` line.
fn region(log: &str, name: &str) -> (u64, u64) {
    let l = log
        .lines()
        .find(|l| l.split_whitespace().take(2).eq(["layout:", name]))
        .unwrap_or_else(|| panic!("no layout line for {name} in:\n{log}"));
    let w: Vec<&str> = l.split_whitespace().collect();
    (hex(w[2]), hex(w[4]))
}

fn check(mode: &str, layout: &str) {
    let append = format!("layout={layout}");
    let b = boot(mode, &append, &["--kaslr-seed", "0x1234567"]);
    let log = &b.stdout;
    let what = format!("--{mode} --append '{append}'");
    assert_eq!(b.status, 0, "{what}: exit status {}\n{log}", b.status);
    assert!(log.contains("selftests: all"), "{what}: self-tests\n{log}");
    assert!(
        log.contains(&format!("mode={mode} ")),
        "{what}: mode\n{log}"
    );
    let start = field(log, "kernel:", "virt_addr");

    // The module: inside the window, within reach of the kernel, init ran and called back.
    let (win_lo, win_last) = region(log, "modules");
    let base = hex_after(log, "module: loaded at", "at");
    assert!(
        base >= win_lo && base < win_last,
        "{what}: module at {base:#x} outside the window {win_lo:#x}-{win_last:#x}"
    );
    let distance = base as i128 - start as i128;
    assert!(
        distance.abs() < 2 * GIB,
        "{what}: module {distance:#x} from _start"
    );
    assert!(
        log.contains("module: says \"hello from the module\""),
        "{what}: module init did not call kernel_log\n{log}"
    );
    assert!(
        log.contains("module: init returned 0x0, kernel_module_counter 0 -> 1, callback cookie ok"),
        "{what}: module init\n{log}"
    );
    assert!(
        log.contains("refused: relocation out of range: R_RISCV_"),
        "{what}: far load not refused\n{log}"
    );
    assert!(
        log.contains("corrupted object refused: unsupported relocation: R_RISCV_TLS_DTPREL64"),
        "{what}: bad relocation not refused\n{log}"
    );

    // BPF: ran, in the BPF region.
    let bpf = line(log, "bpf: jit");
    assert!(bpf.ends_with(" ok"), "{what}: {bpf}");
    let at = hex_after(log, "bpf: jit", "at");
    let (bpf_lo, bpf_last) = region(log, "bpf");
    assert!(
        at >= bpf_lo && at <= bpf_last,
        "{what}: BPF code at {at:#x} outside {bpf_lo:#x}-{bpf_last:#x}"
    );

    // vmalloc: the kernel's range reserved in layout=vmalloc only.
    if layout == "vmalloc" {
        let reserved = hex_after(log, "vmalloc: kernel reserved", "reserved");
        assert_eq!(reserved, start, "{what}: reservation is the kernel's range");
    } else {
        assert!(
            log.contains("vmalloc: kernel image outside vmalloc"),
            "{what}\n{log}"
        );
    }
    let exhausted = line(log, "vmalloc: exhausted");
    assert!(
        exhausted.contains("kernel overlaps=0, overlapping pairs=0"),
        "{what}: {exhausted}"
    );

    // User mode: both processes finished, 200 yields, ASID-tagged switches need no flush.
    for pid in [1, 2] {
        assert!(
            log.contains(&format!("user: pid {pid} exited 0 after 100 yields")),
            "{what}: pid {pid}\n{log}"
        );
    }
    assert!(field(log, "user: switches=", "switches") >= 199, "{what}");
    assert_eq!(field(log, "user: switches=", "full"), 0, "{what}");
    assert!(
        log.contains("satp.ASID has 16 writable bits"),
        "{what}\n{log}"
    );
}

macro_rules! boots {
    ($($name:ident: $mode:literal $layout:literal;)*) => {
        $(#[test] fn $name() { check($mode, $layout); })*
    };
}

boots! {
    sv39_vmalloc: "sv39" "vmalloc";
    sv39_top: "sv39" "top";
    sv39_linear: "sv39" "linear";
    sv48_vmalloc: "sv48" "vmalloc";
    sv48_top: "sv48" "top";
    sv48_linear: "sv48" "linear";
    sv57_vmalloc: "sv57" "vmalloc";
    sv57_top: "sv57" "top";
    sv57_linear: "sv57" "linear";
}

/// A number in the `--stats-json` document: the first `"key": <n>` after each of the
/// keys in `path` in turn (enough for the emulator's fixed schema).
fn json_number(json: &str, path: &[&str]) -> u64 {
    let mut rest = json;
    for key in path {
        let quoted = format!("\"{key}\":");
        let at = rest
            .find(&quoted)
            .unwrap_or_else(|| panic!("no {quoted} in stats JSON:\n{json}"));
        rest = &rest[at + quoted.len()..];
    }
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a number")
}

/// (TLB misses that needed a page walk, context switches) for one boot.
fn misses_and_switches(append: &str, name: &str) -> (u64, u64) {
    let path =
        std::env::temp_dir().join(format!("emu-subsystems-{}-{name}.json", std::process::id()));
    let path_arg = path.to_str().expect("utf-8 temp path");
    let b = boot("sv48", append, &["--stats-json", path_arg]);
    assert_eq!(b.status, 0, "{append}\n{}", b.stdout);
    let json = std::fs::read_to_string(&path).expect("stats JSON written");
    let _ = std::fs::remove_file(&path);
    let misses = json_number(&json, &["mmu", "l2", "misses"]);
    let switches = field(&b.stdout, "user: switches=", "switches");
    (misses, switches)
}

#[test]
fn noasid_costs_more_tlb_misses_per_switch() {
    let (asid_misses, asid_switches) = misses_and_switches("layout=vmalloc", "asid");
    let (flush_misses, flush_switches) = misses_and_switches("layout=vmalloc noasid", "noasid");
    assert_eq!(asid_switches, flush_switches, "same workload");
    let per_switch = |m: u64, s: u64| m as f64 / s as f64;
    let (with, without) = (
        per_switch(asid_misses, asid_switches),
        per_switch(flush_misses, flush_switches),
    );
    assert!(
        without > with + 1.0,
        "noasid: {flush_misses} L2 misses / {flush_switches} switches = {without:.2}; \
         ASIDs: {asid_misses} / {asid_switches} = {with:.2}"
    );
}

#[test]
fn noasid_flushes_on_every_switch() {
    let b = boot("sv39", "layout=top noasid", &[]);
    assert_eq!(b.status, 0, "{}", b.stdout);
    assert!(
        b.stdout.contains("noasid: every process runs as ASID 0"),
        "{}",
        b.stdout
    );
    let switches = field(&b.stdout, "user: switches=", "switches");
    let full = field(&b.stdout, "user: switches=", "full");
    assert!(
        full > switches,
        "{full} full fences for {switches} switches"
    );
}

#[test]
fn module_placed_far_fails_the_boot() {
    let b = boot("sv39", "module-place=far", &[]);
    assert_ne!(
        b.status, 0,
        "a module outside its window must fail the boot\n{}",
        b.stdout
    );
    assert!(
        b.stdout
            .contains("module: load failed: relocation out of range: R_RISCV_"),
        "{}",
        b.stdout
    );
    assert!(
        b.stdout.contains("selftest: module_in_window FAILED"),
        "{}",
        b.stdout
    );
}

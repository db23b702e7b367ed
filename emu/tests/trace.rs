//! Trace tests: the trampoline switch as events (issue 5), text snapshots per paging mode,
//! the JSONL schema, the Spike commit-log format, and the Perfetto JSON structure.

mod common;

use std::path::PathBuf;
use std::process::Command;

const EMU: &str = env!("CARGO_BIN_EXE_emu");

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-trace-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Run emu with a trace to a file; returns the file's text.
fn traced(name: &str, args: &[&str]) -> String {
    let file = tmp(name);
    let out = Command::new(EMU)
        .args(["run", "--max-insns", "100000000"])
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

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn hex(v: &serde_json::Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// Issue 5: satp <- trampoline_pg_dir, an instruction page fault at a physical pc,
/// execution continuing at the virtual label, satp <- early_pg_dir, later
/// satp <- swapper_pg_dir.
#[test]
fn trampoline_switch_event_sequence() {
    // The whole boot's satp writes and traps (cheap), then the instructions around the
    // switch (a short window).
    let boot = json_lines(&traced(
        "seq.jsonl",
        &[
            "--sv48",
            "--append",
            "nokaslr",
            "--trace",
            "satp,trap",
            "--trace-format",
            "jsonl",
        ],
    ));
    let satp_to = |e: &serde_json::Value| e["new"]["sym"].as_str().unwrap_or("").to_string();
    let i_tramp = boot
        .iter()
        .position(|e| e["kind"] == "satp" && satp_to(e) == "trampoline_pg_dir")
        .expect("satp <- trampoline_pg_dir");
    let i_trap = i_tramp
        + boot[i_tramp..]
            .iter()
            .position(|e| e["kind"] == "trap")
            .expect("a trap after the trampoline satp write");
    let trap = &boot[i_trap];
    assert_eq!(trap["cause"], 12, "instruction page fault: {trap}");
    let epc = hex(&trap["epc"]);
    let handler = hex(&trap["handler"]);
    assert!(
        (0x8000_0000..0x1_0000_0000).contains(&epc),
        "faulting pc {epc:#x} is physical"
    );
    assert!(
        handler >= 0xffff_0000_0000_0000,
        "handler {handler:#x} is the virtual label"
    );
    assert!(
        trap["handler_sym"]
            .as_str()
            .unwrap()
            .starts_with("relocate_enable_mmu"),
        "{trap}"
    );
    let rest: Vec<String> = boot[i_trap..]
        .iter()
        .filter(|e| e["kind"] == "satp")
        .map(satp_to)
        .collect();
    assert_eq!(
        rest.first().map(String::as_str),
        Some("early_pg_dir"),
        "then satp <- early_pg_dir: {rest:?}"
    );
    assert!(
        rest.iter().any(|s| s == "swapper_pg_dir"),
        "later satp <- swapper_pg_dir: {rest:?}"
    );

    let window = json_lines(&traced(
        "seq-insn.jsonl",
        &[
            "--sv48",
            "--append",
            "nokaslr",
            "--trace",
            "insn,trap",
            "--trace-format",
            "jsonl",
            "--trace-from",
            "relocate_enable_mmu",
            "--trace-limit",
            "200",
        ],
    ));
    let i = window
        .iter()
        .position(|e| e["kind"] == "trap")
        .expect("the trampoline trap in the window");
    let next = window[i + 1..]
        .iter()
        .find(|e| e["kind"] == "insn")
        .expect("an instruction after the trap");
    assert_eq!(
        hex(&next["pc"]),
        handler,
        "execution continues at the virtual label"
    );
    assert_eq!(
        hex(&next["pa"]),
        epc,
        "... which is the same physical instruction"
    );
}

fn trampoline_text(mode: &str) -> String {
    traced(
        &format!("tramp-{mode}.txt"),
        &[
            &format!("--{mode}"),
            "--append",
            "nokaslr",
            "--trace",
            "insn,walk,satp,trap",
            "--trace-from",
            "relocate_enable_mmu",
            "--trace-limit",
            "40",
        ],
    )
}

#[test]
fn snapshot_trampoline_sv39() {
    insta::assert_snapshot!(trampoline_text("sv39"));
}

#[test]
fn snapshot_trampoline_sv48() {
    insta::assert_snapshot!(trampoline_text("sv48"));
}

#[test]
fn snapshot_trampoline_sv57() {
    insta::assert_snapshot!(trampoline_text("sv57"));
}

/// Every JSONL line is an object with the common fields and the fields of its kind
/// (docs/trace-format.md).
#[test]
fn jsonl_schema() {
    let text = traced(
        "all.jsonl",
        &[
            "--sv39",
            "--append",
            "nokaslr",
            "--trace",
            "all",
            "--trace-format",
            "jsonl",
            "--trace-from",
            "relocate_enable_mmu",
            "--trace-limit",
            "300000",
        ],
    );
    let events = json_lines(&text);
    assert!(events.len() > 1000);
    let mut kinds = std::collections::BTreeSet::new();
    for e in &events {
        for f in ["hart", "instret", "priv", "kind"] {
            assert!(!e[f].is_null(), "missing {f}: {e}");
        }
        let kind = e["kind"].as_str().unwrap();
        kinds.insert(kind.to_string());
        let required: &[&str] = match kind {
            "insn" => &["pc", "pa", "raw", "len", "disasm", "sym"],
            "walk" => &["va", "access", "mode", "asid", "root", "steps", "result"],
            "tlb" => &["event", "tlb", "va", "asid", "page_size"],
            "satp" => &["old", "new"],
            "sfence" => &["vaddr", "asid"],
            "trap" => &[
                "cause",
                "name",
                "interrupt",
                "tval",
                "epc",
                "from",
                "to",
                "handler",
            ],
            "mode" => &["from", "to", "how"],
            "mmio" => &["pa", "size", "value", "write"],
            "sbi" => &["eid", "ext", "fid", "args"],
            "stale_tlb" => &["pc", "va", "cached_pa", "old_pte", "new_pte"],
            other => panic!("unknown kind {other}"),
        };
        for f in required {
            assert!(e.get(*f).is_some(), "{kind} without {f}: {e}");
        }
        if kind == "walk" {
            for s in e["steps"].as_array().unwrap() {
                for f in ["level", "pte_addr", "pte", "flags"] {
                    assert!(s.get(f).is_some(), "walk step without {f}: {e}");
                }
            }
        }
    }
    for k in [
        "insn", "walk", "tlb", "satp", "sfence", "trap", "mode", "mmio", "sbi",
    ] {
        assert!(
            kinds.contains(k),
            "no {k} event in a whole boot; saw {kinds:?}"
        );
    }
}

/// The Spike commit-log format, checked against hand-written lines for a small program.
#[test]
fn spike_commit_log() {
    use common::{elf64, Segment, DRAM, EM_RISCV};
    let prog = [
        0x0050_0513, // addi a0, zero, 5
        0x0075_0593, // addi a1, a0, 7
        0x0010_02b7, // lui  t0, 0x100      (sifive test device)
        0x0000_5337, // lui  t1, 0x5
        0x5553_0313, // addi t1, t1, 0x555
        0x0062_a023, // sw   t1, 0(t0)      poweroff
    ];
    let elf = common::temp_file(
        "spike.elf",
        &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &prog)]),
    );
    let text = traced(
        "spike.log",
        &[
            "--bios",
            "none",
            elf.to_str().unwrap(),
            "--trace",
            "insn",
            "--trace-format",
            "spike",
            "--trace-from",
            "0x80000000",
        ],
    );
    let expected = "\
core   0: 3 0x0000000080000000 (0x00500513) x10 0x0000000000000005
core   0: 3 0x0000000080000004 (0x00750593) x11 0x000000000000000c
core   0: 3 0x0000000080000008 (0x001002b7) x5  0x0000000000100000
core   0: 3 0x000000008000000c (0x00005337) x6  0x0000000000005000
core   0: 3 0x0000000080000010 (0x55530313) x6  0x0000000000005555
core   0: 3 0x0000000080000014 (0x0062a023) mem 0x0000000000100000 0x00005555
";
    assert_eq!(text, expected);
}

/// Bytes of a program given as instruction words: a word whose low two bits are not 11 is
/// a 16-bit compressed instruction.
fn code_bytes(words: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for &w in words {
        if w & 3 == 3 {
            out.extend_from_slice(&w.to_le_bytes());
        } else {
            out.extend_from_slice(&(w as u16).to_le_bytes());
        }
    }
    out
}

/// The Spike commit log of a guest that writes CSRs (explicitly, and implicitly: fflags
/// raised by floating-point operations, mstatus.FS set dirty, mstatus by mret), runs AMOs
/// (a read and a write each), LR/SC (a successful and a failed SC), loads and stores of
/// both register files, compressed instructions, and takes three exceptions (ecall,
/// illegal instruction, breakpoint). The lines before the exit were compared with Spike's
/// `--log-commits -l` output of the same instructions (docs/trace-format.md).
#[test]
fn snapshot_spike_commit_log_records() {
    use common::{elf64, Segment, DRAM, EM_RISCV};
    let code = [
        0x0000_0297, // auipc t0, 0
        0x09c2_8293, // addi t0, t0, 156          handler
        0x3052_9073, // csrw mtvec, t0
        0x0000_2337, // lui t1, 2
        0x3003_2073, // csrs mstatus, t1          FS = Initial
        0x3403_1073, // csrw mscratch, t1
        0x0010_0513, // li a0, 1
        0xd225_7553, // fcvt.d.l fa0, a0          FS becomes Dirty
        0x0030_0593, // li a1, 3
        0xd225_f5d3, // fcvt.d.l fa1, a1
        0x1ab5_7653, // fdiv.d fa2, fa0, fa1      raises NX
        0x1ab5_76d3, // fdiv.d fa3, fa0, fa1      raises NX again (already set)
        0xa2d6_26d3, // feq.d a3, fa2, fa3
        0x0410_0393, // li t2, 0x41
        0x0033_9073, // csrw fcsr, t2             logged as frm and fflags
        0x0010_2e73, // csrr t3, fflags           a read: no CSR record
        0x0000_0617, // auipc a2, 0
        0x0706_0613, // addi a2, a2, 112          data
        0x0050_0693, // li a3, 5
        0x00d6_372f, // amoadd.d a4, a3, (a2)
        0x08d6_202f, // amoswap.w zero, a3, (a2)
        0x1006_37af, // lr.d a5, (a2)
        0x18d6_382f, // sc.d a6, a3, (a2)         succeeds
        0x18d6_38af, // sc.d a7, a3, (a2)         fails: no store
        0x0006_3403, // ld s0, 0(a2)
        0x00d6_2423, // sw a3, 8(a2)
        0x00c6_3827, // fsd fa2, 16(a2)
        0x0106_3707, // fld fa4, 16(a2)
        0x0106_2787, // flw fa5, 16(a2)
        0x0505,      // c.addi a0, 1
        0x85aa,      // c.mv a1, a0
        0xee0c,      // c.sd a1, 24(a2)
        0x6e04,      // c.ld s1, 24(a2)
        0x0000_0073, // ecall
        0xc000_1073, // csrrw zero, cycle, zero   illegal (read-only CSR)
        0x0010_0073, // ebreak
        0x0010_02b7, // lui t0, 0x100             sifive test device
        0x0000_5337, // lui t1, 5
        0x5553_0313, // addi t1, t1, 0x555
        0x0062_a023, // sw t1, 0(t0)              poweroff
        0x0000_006f, // j .
        0x3410_23f3, // handler: csrr t2, mepc
        0x0043_8393, // addi t2, t2, 4
        0x3413_9073, // csrw mepc, t2
        0x3020_0073, // mret
        0x0000_0013, // nop
    ];
    let mut bytes = code_bytes(&code);
    assert_eq!(bytes.len(), 0xb0, "data must follow the code at +0xb0");
    bytes.extend_from_slice(&0x1111u64.to_le_bytes());
    bytes.extend_from_slice(&[0; 24]);
    let memsz = bytes.len() as u64;
    let elf = common::temp_file(
        "spike-records.elf",
        &elf64(
            EM_RISCV,
            DRAM,
            &[Segment {
                addr: DRAM,
                data: bytes,
                memsz,
            }],
        ),
    );
    let text = traced(
        "spike-records.log",
        &[
            "--bios",
            "none",
            elf.to_str().unwrap(),
            "--trace",
            "insn,trap",
            "--trace-format",
            "spike",
            "--trace-from",
            "0x80000000",
        ],
    );
    insta::assert_snapshot!(text);
}

/// Chrome trace JSON: one document, metadata, balanced phase slices in time order,
/// counters. (trace_perfetto.rs loads such a trace into Perfetto's trace processor.)
#[test]
fn perfetto_json_structure() {
    let text = traced(
        "boot.json",
        &[
            "--sv57",
            "--append",
            "nokaslr",
            "--trace",
            "satp,trap,walk,tlb",
            "--trace-format",
            "perfetto",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut open: Vec<String> = Vec::new();
    let mut last_ts = 0.0f64;
    let mut slices = Vec::new();
    let mut counters = 0;
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        if ph == "M" {
            continue;
        }
        let ts = e["ts"]
            .as_str()
            .map(|s| s.parse().unwrap())
            .or_else(|| e["ts"].as_f64())
            .expect("ts");
        assert!(ts >= last_ts, "timestamps go forward: {e}");
        last_ts = ts;
        match ph {
            "B" => open.push(e["name"].as_str().unwrap().to_string()),
            "E" => {
                let name = open.pop().expect("E closes an open slice");
                assert_eq!(name, e["name"].as_str().unwrap());
                slices.push(name);
            }
            "C" => counters += 1,
            "i" => {}
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    assert!(open.is_empty(), "every phase slice is closed: {open:?}");
    assert!(
        slices.iter().any(|s| s.contains("trampoline_pg_dir")),
        "{slices:?}"
    );
    assert!(
        slices.iter().any(|s| s.contains("swapper_pg_dir")),
        "{slices:?}"
    );
    assert!(counters > 0, "TLB counters present");
}

/// A trace that asks for no per-access or per-instruction events takes two shortcuts: the
/// MMU repeats TLB hits from its counted cache, and the hart runs the lean traced loop.
/// Its walk, satp, sfence, trap and mode events must be exactly those of a trace that
/// also asks for `tlb` (every access through the TLB model's full path) and of one that
/// also asks for `sbi` (every instruction looked at).
#[test]
fn shortcut_traces_match_full_path() {
    let kinds = "walk,satp,sfence,trap,mode";
    for mode in ["--sv39", "--sv57"] {
        let run = |name: &str, extra: &str| {
            let file = tmp(&format!("{name}{mode}.txt"));
            let out = Command::new(EMU)
                .args(["run", mode, "--max-insns", "2000000", "--trace"])
                .arg(format!("{kinds}{extra}"))
                .arg("--trace-file")
                .arg(&file)
                .output()
                .expect("run emu");
            assert_eq!(out.status.code(), Some(124), "emu {mode} {kinds}{extra}");
            let text = std::fs::read_to_string(&file).expect("trace file");
            std::fs::remove_file(&file).ok();
            let dropped = ["] tlb ", "] sbi "];
            text.lines()
                .filter(|l| !dropped.iter().any(|d| l.contains(d)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let lean = run("lean", "");
        assert!(lean.matches("walk ").count() > 100, "{mode}: walks traced");
        assert!(lean.contains("] satp "), "{mode}: satp writes traced");
        assert_eq!(lean, run("full", ",tlb"), "{mode}: lean vs full TLB path");
        assert_eq!(
            lean,
            run("each", ",sbi"),
            "{mode}: lean vs per-instruction loop"
        );
    }
}

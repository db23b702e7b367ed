//! The page-walk cache model (`--tlb ...,pwc=N:W`) on the bare-metal `vm_pwc` program
//! (emu/conformance/asm/vm_pwc.S), whose every walk is counted by hand below: hits and
//! misses per level, PTE reads, and what each form of sfence.vma removes.

use std::path::PathBuf;

mod common;

use common::{built_programs, emu, temp_file};

/// `--stats-json` of vm_pwc run with `--tlb TLB`; the program must pass.
fn run(tlb: &str, extra: &[&str]) -> serde_json::Value {
    let elf: PathBuf = built_programs().join("vm_pwc");
    assert!(elf.exists(), "{} was not built", elf.display());
    let json_path = temp_file(
        // The flags are in the name: tests run at once, each with its own file.
        &format!(
            "vm_pwc-{}{}.json",
            tlb.replace([',', ':', '='], "_"),
            extra.concat().replace(['/', '.'], "_")
        ),
        b"",
    );
    let mut args = vec![
        "run",
        "--bios",
        "none",
        elf.to_str().unwrap(),
        "--tlb",
        tlb,
        "--stats-json",
        json_path.to_str().unwrap(),
        "--max-insns",
        "1000000",
    ];
    args.extend_from_slice(extra);
    let out = emu(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "vm_pwc failed with --tlb {tlb}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json_path).unwrap();
    serde_json::from_str(&text).expect("valid JSON")
}

fn by_level(pwc: &serde_json::Value, what: &str) -> [u64; 4] {
    std::array::from_fn(|i| {
        pwc[what][(i + 1).to_string()]
            .as_u64()
            .unwrap_or_else(|| panic!("no pwc.{what}.{} in {pwc}", i + 1))
    })
}

// The walks of vm_pwc's S-mode part, in order (Sv39: non-leaf PTEs at levels 2 and 1;
// every walk probes level 1, then level 2, and stops at the first hit):
//   W0  first fetch (identity GiB leaf at root[2])   miss 1, miss 2   1 read
//   W1  ld VA            fills root[1] (level 2) and 3[0] (level 1)
//                                                     miss 1, miss 2   3 reads
//   W2  ld VA+4K                                      hit 1            1 read
//   W3  ld VA+2M         fills 3[1] (global)          miss 1, hit 2    2 reads
//   --  sfence.vma VA+4K: leaves only
//   W4  ld VA+4K                                      hit 1            1 read
//   --  3[0] := table 6; sfence.vma VA: leaves only
//   W5  ld VA: the cached 3[0] still leads to table 4 hit 1           1 read
//   --  sfence.vma x0, asid: removes root[1] and 3[0] (2 entries) and the code's TLB entry
//   W6  next fetch                                    miss 1, miss 2   1 read
//   W7  ld VA            fills both again             miss 1, miss 2   3 reads
//   W8  ld VA+2M+4K: the global 3[1] survived         hit 1            1 read
//   --  sfence.vma x0, x0: removes 3 entries
//   W9  next fetch                                    miss 1, miss 2   1 read
//   W10 ld VA+2M         fills both                   miss 1, miss 2   3 reads
const WALKS: u64 = 11;
const PTE_READS: u64 = 1 + 3 + 1 + 2 + 1 + 1 + 1 + 3 + 1 + 1 + 3;
const HITS: [u64; 4] = [4, 1, 0, 0];
const MISSES: [u64; 4] = [7, 6, 0, 0];
const FILLS: [u64; 4] = [4, 3, 0, 0];
const FLUSHED: u64 = 2 + 3;
/// Without a page-walk cache every walk to VA's pages reads 3 PTEs, the code's 1.
const PTE_READS_WITHOUT: u64 = 3 * 8 + 3;

#[test]
fn hits_and_misses_per_level_match_the_hand_count() {
    let json = run("pwc=8:full", &[]);
    let mmu = &json["mmu"];
    assert_eq!(
        json["tlb_config"],
        "l1i=32:full,l1d=32:full,l2=512:4,pwc=8:full"
    );
    assert_eq!(mmu["walks"].as_u64(), Some(WALKS), "{mmu}");
    assert_eq!(mmu["pte_reads"].as_u64(), Some(PTE_READS), "{mmu}");
    let pwc = &mmu["pwc"];
    assert_eq!(by_level(pwc, "hits"), HITS, "{pwc}");
    assert_eq!(by_level(pwc, "misses"), MISSES, "{pwc}");
    assert_eq!(by_level(pwc, "fills"), FILLS, "{pwc}");
    assert_eq!(pwc["flushed"].as_u64(), Some(FLUSHED), "{pwc}");
    assert_eq!(pwc["evictions"].as_u64(), Some(0), "{pwc}");
}

/// The same counts with every shortcut off: the model does not depend on the fast path.
#[test]
fn the_reference_path_counts_the_same() {
    let json = run("pwc=8:full", &["--no-fast-path"]);
    let pwc = &json["mmu"]["pwc"];
    assert_eq!(by_level(pwc, "hits"), HITS, "{pwc}");
    assert_eq!(json["mmu"]["pte_reads"].as_u64(), Some(PTE_READS));
}

/// One entry per level: level 1 must evict (3[0] and 3[1] compete), and a walk that loses
/// its level-1 entry hits level 2 and reads two PTEs. W2 hits 3[0]; W3 misses level 1,
/// hits root[1], evicts 3[0] for 3[1]; W4 hits root[1], evicts 3[1] for 3[0]; W5 hits
/// 3[0]; the ASID fence empties both levels; W7 refills them; W8 hits root[1] and evicts
/// 3[0] for 3[1]; the full fence empties both; W10 refills them.
#[test]
fn a_one_entry_cache_evicts() {
    let json = run("pwc=1", &[]);
    let pwc = &json["mmu"]["pwc"];
    assert_eq!(by_level(pwc, "hits"), [2, 3, 0, 0], "{pwc}");
    assert_eq!(pwc["evictions"].as_u64(), Some(3), "{pwc}");
}

/// Without `pwc=` the walks read every level and the JSON has no pwc object.
#[test]
fn without_a_page_walk_cache_every_level_is_read() {
    let json = run("l2=512:4", &[]);
    assert_eq!(json["tlb_config"], "l1i=32:full,l1d=32:full,l2=512:4");
    assert_eq!(json["mmu"]["walks"].as_u64(), Some(WALKS));
    assert_eq!(json["mmu"]["pte_reads"].as_u64(), Some(PTE_READS_WITHOUT));
    assert!(json["mmu"].get("pwc").is_none(), "{}", json["mmu"]);
}

/// The Perfetto trace's `page_walk_cache` counter ends on the hand-counted figures.
#[test]
fn perfetto_counters_end_on_the_same_counts() {
    let trace = temp_file("vm_pwc-trace.json", b"");
    let json = run(
        "pwc=8:full",
        &[
            "--trace",
            "walk",
            "--trace-format",
            "perfetto",
            "--trace-file",
            trace.to_str().unwrap(),
        ],
    );
    assert_eq!(by_level(&json["mmu"]["pwc"], "hits"), HITS);
    let text = std::fs::read_to_string(&trace).unwrap();
    let last = text
        .lines()
        .rfind(|l| l.contains("\"name\":\"page_walk_cache\""))
        .unwrap_or_else(|| panic!("no page_walk_cache counter in\n{text}"));
    for (level, (h, m)) in HITS.iter().zip(MISSES).enumerate().take(2) {
        let want = format!("\"level{0}_hits\":{h},\"level{0}_misses\":{m}", level + 1);
        assert!(last.contains(&want), "{want} not in {last}");
    }
}

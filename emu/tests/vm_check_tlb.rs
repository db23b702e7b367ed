//! `--check-tlb`, the missing-fence detector, on the bare-metal `vm_tlb_*` programs
//! (emu/conformance/asm/vm_tlb.S): a guest that rewrites a leaf PTE and reads through it
//! again without the sfence.vma the spec requires must be reported -- the address, and the
//! pc of the instruction that used the stale translation -- and the same guest with the
//! right fence must not be.

use object::{Object, ObjectSymbol};
use std::path::PathBuf;

mod common;

use common::{built_programs, emu, temp_file};

/// The virtual address every vm_tlb_* program remaps.
const VA: &str = "va 0x40000000";

struct Checked {
    /// Everything emu printed (the `--stats` table and its warnings).
    output: String,
    /// The `--stats-json` document.
    json: String,
    /// Address of the program's second read through VA.
    second_load: u64,
}

fn program(name: &str) -> PathBuf {
    let elf = built_programs().join(name);
    assert!(elf.exists(), "{} was not built", elf.display());
    elf
}

fn symbol(elf: &PathBuf, name: &str) -> u64 {
    let bytes = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("{name} is not in {}", elf.display()))
        .address()
}

/// Run `name` with `--check-tlb --stats --stats-json`; it must pass.
fn run_checked(name: &str) -> Checked {
    let mut run = run_checked_plain(name);
    run.second_load = symbol(&program(name), "vm_tlb_second_load");
    run
}

/// [`run_checked`] for a program without a `vm_tlb_second_load` symbol.
fn run_checked_plain(name: &str) -> Checked {
    let elf = program(name);
    let json_path = temp_file(&format!("{name}-stats.json"), b"");
    let out = emu(&[
        "run",
        "--bios",
        "none",
        elf.to_str().unwrap(),
        "--check-tlb",
        "--stats",
        "--stats-json",
        json_path.to_str().unwrap(),
        "--max-insns",
        "1000000",
    ]);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{name} failed:\n{output}");
    Checked {
        output,
        json: std::fs::read_to_string(&json_path).unwrap(),
        second_load: 0,
    }
}

/// An integer field of the `"mmu"` object of a `--stats-json` document.
fn mmu_counter(json: &str, field: &str) -> u64 {
    let mmu = &json[json.find("\"mmu\":").expect("no mmu object")..];
    let key = format!("\"{field}\": ");
    let at = mmu
        .find(&key)
        .unwrap_or_else(|| panic!("no {field} in {mmu}"))
        + key.len();
    let digits: String = mmu[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number in {mmu}"))
}

fn warnings(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.starts_with("warning: stale translation"))
        .collect()
}

#[test]
fn forgotten_sfence_is_reported_with_address_and_pc() {
    let run = run_checked("vm_tlb_nofence");
    assert!(
        mmu_counter(&run.json, "stale_translations") >= 1,
        "no stale translation counted:\n{}",
        run.json
    );
    assert!(mmu_counter(&run.json, "stale_hits") >= 1, "{}", run.json);
    // Another physical page changes the load's outcome: never counted as equivalent.
    assert_eq!(
        mmu_counter(&run.json, "stale_equivalent_hits"),
        0,
        "{}",
        run.json
    );
    let pc = format!("pc {:#x} ", run.second_load);
    let lines = warnings(&run.output);
    assert!(
        lines.iter().any(|l| l.contains(VA) && l.contains(&pc)),
        "no warning names {VA} and {pc}:\n{}",
        run.output
    );
    assert!(
        run.json.contains(VA),
        "the JSON report does not list the stale translation:\n{}",
        run.json
    );
}

#[test]
fn fenced_remap_is_not_reported() {
    let run = run_checked("vm_tlb_fenced");
    assert_eq!(
        mmu_counter(&run.json, "stale_translations"),
        0,
        "{}",
        run.json
    );
    assert_eq!(mmu_counter(&run.json, "stale_hits"), 0, "{}", run.json);
    assert!(
        mmu_counter(&run.json, "check_walks") > 0,
        "--check-tlb compared nothing:\n{}",
        run.json
    );
    assert!(warnings(&run.output).is_empty(), "{}", run.output);
}

/// `sfence.vma x0, asid` need not flush global entries, and emu's TLB model keeps them:
/// a guest that changes a global leaf and fences only its ASID has a missing fence too.
#[test]
fn asid_fence_after_changing_a_global_leaf_is_reported() {
    let run = run_checked("vm_tlb_global_asid");
    assert!(
        mmu_counter(&run.json, "stale_translations") >= 1,
        "{}",
        run.json
    );
    assert_eq!(
        mmu_counter(&run.json, "asid"),
        1,
        "the program fences once by ASID:\n{}",
        run.json
    );
    let pc = format!("pc {:#x} ", run.second_load);
    assert!(
        warnings(&run.output)
            .iter()
            .any(|l| l.contains(VA) && l.contains(&pc) && l.contains("DAG")),
        "no warning names {VA}, {pc} and the global flag:\n{}",
        run.output
    );
}

/// Two stale hits that cannot change their access's outcome (vm_tlb_equivalent.S): a load
/// through a leaf that lost W, and the fetch of the `sfence.vma` in `csrw satp;
/// sfence.vma` through the old table's global entry, whose W bit the new table clears.
/// Both are counted as equivalent, neither is reported.
#[test]
fn stale_but_equivalent_hits_are_counted_apart_and_not_reported() {
    let run = run_checked_plain("vm_tlb_equivalent");
    assert_eq!(
        mmu_counter(&run.json, "stale_equivalent_hits"),
        2,
        "{}",
        run.json
    );
    assert_eq!(
        mmu_counter(&run.json, "stale_equivalent_translations"),
        2,
        "{}",
        run.json
    );
    assert_eq!(mmu_counter(&run.json, "stale_hits"), 0, "{}", run.json);
    assert_eq!(
        mmu_counter(&run.json, "stale_translations"),
        0,
        "{}",
        run.json
    );
    assert!(warnings(&run.output).is_empty(), "{}", run.output);
    assert!(
        run.output
            .contains("stale but equivalent for the access: 2 (2 hits)"),
        "{}",
        run.output
    );
}

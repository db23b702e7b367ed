//! The non-PIE build of the guest kernel (`guest-kernel --features nopie`, which `emu images`
//! writes as guest-kernel-nopie.elf) stays non-PIE and keeps doing the PIE build's work:
//! the translation study's PIE/non-PIE comparison (docs/translation-cost.md section 10)
//! means something only while both hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection};

const EMU: &str = env!("CARGO_BIN_EXE_emu");
/// Where both builds can run: the non-PIE build is linked at layout=top's address.
const APPEND: &str = "layout=top nokaslr";

/// `emu images --out` into a directory of this test's own.
fn images(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-nopie-{test}-{}", std::process::id()));
    let out = Command::new(EMU)
        .args(["images", "--out"])
        .arg(&dir)
        .output()
        .expect("run emu images");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

struct Boot {
    status: i32,
    stdout: String,
    stats: String,
}

fn boot(elf: &Path, append: &str) -> Boot {
    let stats = elf.with_extension(format!("{}.json", append.len()));
    let out = Command::new(EMU)
        .arg("run")
        .arg(elf)
        .args(["--sv39", "--max-insns", "200000000", "--append", append])
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .expect("run emu");
    Boot {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stats: std::fs::read_to_string(&stats).unwrap_or_default(),
    }
}

/// Dynamic relocations and the dynamic section of an ELF: (entries in .rela.dyn,
/// has .dynamic, is ET_DYN).
fn dynamic_facts(elf: &Path) -> (u64, bool, bool) {
    let bytes = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let rela = file
        .section_by_name(".rela.dyn")
        .map(|s| s.size() / 24)
        .unwrap_or(0);
    let dynamic = file.section_by_name(".dynamic").is_some();
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    (rela, dynamic, e_type == 3)
}

/// The instructions of the phases whose name contains `root` (`swapper_pg_dir`), or of
/// the user processes' roots (`root 0x`), from `--stats-json`.
fn phase_instructions(stats: &str, root: &str) -> u64 {
    let mut total = 0;
    for part in stats.split("{\"name\": \"").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        if name.contains(root) {
            let rest = &part[part.find("\"instructions\": ").unwrap() + 16..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            total += digits.parse::<u64>().unwrap();
        }
    }
    total
}

fn lines<'a>(log: &'a str, prefix: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn nopie_build_has_no_dynamic_relocations_and_does_the_pie_builds_work() {
    let dir = images("same-work");
    let pie_elf = dir.join("guest-kernel.elf");
    let nopie_elf = dir.join("guest-kernel-nopie.elf");

    let (rela, dynamic, dyn_type) = dynamic_facts(&nopie_elf);
    assert_eq!(rela, 0, "the non-PIE ELF has {rela} dynamic relocations");
    assert!(!dynamic, "the non-PIE ELF has a .dynamic section");
    assert!(!dyn_type, "the non-PIE ELF is ET_DYN");
    // The comparison needs the other side to be a PIE.
    let (pie_rela, pie_dynamic, pie_dyn_type) = dynamic_facts(&pie_elf);
    assert!(
        pie_rela > 0 && pie_dynamic && pie_dyn_type,
        "the PIE ELF is not a PIE"
    );

    let pie = boot(&pie_elf, APPEND);
    let nopie = boot(&nopie_elf, APPEND);
    for (name, b) in [("PIE", &pie), ("non-PIE", &nopie)] {
        assert_eq!(b.status, 0, "{name} build: exit {}\n{}", b.status, b.stdout);
        assert!(
            b.stdout.contains("selftests: all"),
            "{name}: no passing self-test summary\n{}",
            b.stdout
        );
    }
    assert!(
        nopie
            .stdout
            .contains("relocate: 0 R_RISCV_RELATIVE relocations applied"),
        "the non-PIE build applied relocations\n{}",
        nopie.stdout
    );
    assert!(
        !pie.stdout.contains("relocate: 0 R_RISCV_RELATIVE"),
        "the PIE build applied no relocations\n{}",
        pie.stdout
    );
    // The same work: the same self-tests, user processes and module results, at the same
    // kernel address.
    for prefix in [
        "selftest",
        "user:",
        "module: init",
        "module: relocations",
        "kernel: virt_addr",
    ] {
        assert_eq!(
            lines(&pie.stdout, prefix),
            lines(&nopie.stdout, prefix),
            "the builds' {prefix:?} lines differ"
        );
    }
    // And about as many instructions: the code differs only in how addresses are taken.
    for root in ["swapper_pg_dir", "root 0x"] {
        let (a, b) = (
            phase_instructions(&pie.stats, root),
            phase_instructions(&nopie.stats, root),
        );
        assert!(b > 0, "no {root} phase in the non-PIE stats");
        let diff = a.abs_diff(b) as f64 / b as f64;
        assert!(
            diff < 0.03,
            "{root} phase: PIE {a} vs non-PIE {b} instructions ({:.1}% apart)",
            diff * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The non-PIE kernel cannot run anywhere but its link address: asked for another layout it
/// says so and stops with a failure, instead of crashing on its first absolute pointer.
#[test]
fn nopie_build_refuses_a_layout_it_cannot_run_at() {
    let dir = images("refuses");
    let b = boot(
        &dir.join("guest-kernel-nopie.elf"),
        "layout=vmalloc nokaslr",
    );
    assert_ne!(b.status, 0, "layout=vmalloc accepted\n{}", b.stdout);
    assert!(
        b.stdout
            .contains("non-PIE build and runs only at its link address"),
        "no explanation\n{}",
        b.stdout
    );
    assert!(!b.stdout.contains("selftest"), "{}", b.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

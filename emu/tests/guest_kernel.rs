//! Boot tests of the in-repo guest kernel (issue 5): every paging mode x layout x KASLR
//! setting, through the built-in firmware, checking the addresses the kernel reports.

use std::process::Command;

const EMU: &str = env!("CARGO_BIN_EXE_emu");
const GIB: u64 = 1 << 30;

struct Boot {
    status: i32,
    stdout: String,
}

fn boot(mode: &str, append: &str, extra: &[&str]) -> Boot {
    let out = Command::new(EMU)
        .args([
            "run",
            &format!("--{mode}"),
            "--max-insns",
            "200000000",
            "--append",
            append,
        ])
        .args(extra)
        .output()
        .expect("run emu");
    Boot {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// The value of `key=0x...` on the line starting with `prefix`.
fn field(log: &str, prefix: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{log}"));
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"));
    u64::from_str_radix(v.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("bad hex {v:?} in {line:?}"))
}

fn page_offset(mode: &str) -> u64 {
    match mode {
        "sv39" => 0xffff_ffd6_0000_0000,
        "sv48" => 0xffff_af80_0000_0000,
        _ => 0xff60_0000_0000_0000,
    }
}

/// Where the kernel sits without KASLR.
fn kernel_base(mode: &str, layout: &str) -> u64 {
    match layout {
        // VMALLOC_END - 2 GiB + 1 with VMALLOC_END = PAGE_OFFSET - 1.
        "vmalloc" => page_offset(mode) - 2 * GIB,
        "top" => 0xffff_ffff_8000_0000,
        // Inside the linear map: PAGE_OFFSET + (load address - DRAM base).
        _ => page_offset(mode) + 0x20_0000,
    }
}

fn check(mode: &str, layout: &str, kaslr: bool) {
    let append = format!(
        "layout={layout} {}",
        if kaslr { "kaslr" } else { "nokaslr" }
    );
    let b = boot(mode, &append, &["--kaslr-seed", "0x1234567"]);
    let what = format!("--{mode} --append '{append}'");
    assert_eq!(
        b.status, 0,
        "{what}: exit status {}\n{}",
        b.status, b.stdout
    );
    assert!(
        b.stdout.contains("selftests: all"),
        "{what}: no self-test summary\n{}",
        b.stdout
    );
    assert!(
        b.stdout.contains(&format!("mode={mode} ")),
        "{what}: kernel did not end up in {mode}\n{}",
        b.stdout
    );
    let va = field(&b.stdout, "kernel:", "virt_addr");
    let po = field(&b.stdout, "kernel:", "page_offset");
    assert_eq!(po, page_offset(mode), "{what}: PAGE_OFFSET");
    let base = kernel_base(mode, layout);
    if kaslr && layout != "linear" {
        let off = field(&b.stdout, "kernel:", "kaslr_offset");
        assert!(off > 0, "{what}: a non-zero seed must move the kernel");
        assert_eq!(va, base + off, "{what}: virt_addr = base + kaslr offset");
        assert!(
            off < GIB && off.is_multiple_of(2 << 20),
            "{what}: offset {off:#x} not 2 MiB-aligned in the first GiB"
        );
    } else {
        assert_eq!(va, base, "{what}: kernel virtual address");
    }
}

macro_rules! boots {
    ($($name:ident: $mode:literal $layout:literal $kaslr:literal;)*) => {
        $(#[test] fn $name() { check($mode, $layout, $kaslr); })*
    };
}

boots! {
    sv39_vmalloc_nokaslr: "sv39" "vmalloc" false;
    sv39_vmalloc_kaslr: "sv39" "vmalloc" true;
    sv39_top_nokaslr: "sv39" "top" false;
    sv39_top_kaslr: "sv39" "top" true;
    sv39_linear_nokaslr: "sv39" "linear" false;
    sv39_linear_kaslr: "sv39" "linear" true;
    sv48_vmalloc_nokaslr: "sv48" "vmalloc" false;
    sv48_vmalloc_kaslr: "sv48" "vmalloc" true;
    sv48_top_nokaslr: "sv48" "top" false;
    sv48_top_kaslr: "sv48" "top" true;
    sv48_linear_nokaslr: "sv48" "linear" false;
    sv48_linear_kaslr: "sv48" "linear" true;
    sv57_vmalloc_nokaslr: "sv57" "vmalloc" false;
    sv57_vmalloc_kaslr: "sv57" "vmalloc" true;
    sv57_top_nokaslr: "sv57" "top" false;
    sv57_top_kaslr: "sv57" "top" true;
    sv57_linear_nokaslr: "sv57" "linear" false;
    sv57_linear_kaslr: "sv57" "linear" true;
}

#[test]
fn sv48_hart_rejects_sv57_and_the_kernel_says_why() {
    let b = boot("sv48", "", &[]);
    assert_eq!(b.status, 0, "{}", b.stdout);
    assert!(
        b.stdout.contains("sv57 rejected by the hart"),
        "{}",
        b.stdout
    );
    assert!(b.stdout.contains("using sv48"), "{}", b.stdout);
}

#[test]
fn no4lvl_and_no5lvl_cap_the_mode() {
    let b = boot("sv57", "no5lvl", &[]);
    assert!(b.stdout.contains("mode=sv48 "), "{}", b.stdout);
    let b = boot("sv57", "no4lvl", &[]);
    assert!(b.stdout.contains("mode=sv39 "), "{}", b.stdout);
}

#[test]
fn writable_text_makes_the_selftests_fail() {
    let b = boot("sv48", "selftest-break=wx", &[]);
    assert_ne!(b.status, 0, "a broken kernel must not exit 0\n{}", b.stdout);
    assert!(b.stdout.contains("FAILED"), "{}", b.stdout);
    assert!(
        b.stdout.contains("text_store_faults"),
        "the failing test is named\n{}",
        b.stdout
    );
}

#[test]
fn relocation_table_has_only_relative_entries() {
    use object::read::elf::{ElfFile64, FileHeader, Rela, SectionHeader};
    use object::Endianness;
    let data = emu::images::GUEST_KERNEL;
    let elf = ElfFile64::<Endianness>::parse(data).expect("the guest kernel is an ELF");
    let endian = elf.endian();
    let sections = elf.elf_header().sections(endian, data).expect("sections");
    let mut count = 0;
    for section in sections.iter() {
        if section.sh_type(endian) != object::elf::SHT_RELA {
            continue;
        }
        let relas: &[object::elf::Rela64<Endianness>] =
            section.data_as_array(endian, data).expect("rela");
        for r in relas {
            let kind = r.r_type(endian, false);
            assert!(
                kind == object::elf::R_RISCV_RELATIVE || kind == object::elf::R_RISCV_NONE,
                "relocation type {kind} at {:#x} is not R_RISCV_RELATIVE",
                r.r_offset(endian)
            );
            count += 1;
        }
    }
    assert!(
        count > 0,
        "a position-independent kernel has R_RISCV_RELATIVE entries"
    );
}

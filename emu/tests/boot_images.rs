//! Boot images land where they fit and never on top of each other: a raw Linux Image
//! occupies `image_size` (BSS included) from its load address, the initrd and the device
//! tree go above everything else and below the top of RAM, a user's `--dtb` is checked
//! before use, and any clash is one error line naming both regions.

mod common;

use common::{assert_one_error_line, elf64, emu, temp_file, Segment, DRAM, EM_RISCV};
use emu::cpu::encode::{b_type, i_type, op, s_type};
use emu::machine::{dtb, MachineConfig};

/// A synthetic RISC-V Linux Image: a header with `text_offset` 2 MiB and the given
/// `image_size`, then `jal x0, 0` at the entry (the header's code0), `file_len` bytes.
fn linux_image(image_size: u64, file_len: usize) -> Vec<u8> {
    let mut img = vec![0u8; file_len];
    img[0..4].copy_from_slice(&0x0000_006fu32.to_le_bytes());
    img[8..16].copy_from_slice(&0x20_0000u64.to_le_bytes());
    img[16..24].copy_from_slice(&image_size.to_le_bytes());
    img[32..36].copy_from_slice(&2u32.to_le_bytes());
    img[48..56].copy_from_slice(b"RISCV\0\0\0");
    img[56..60].copy_from_slice(b"RSC\x05");
    img
}

/// A valid device tree (the board's own) padded to `len` bytes, `totalsize` included.
fn padded_dtb(len: usize) -> Vec<u8> {
    let mut tree = dtb::build(&MachineConfig::default()).unwrap();
    assert!(tree.len() <= len);
    tree.resize(len, 0);
    tree[4..8].copy_from_slice(&(len as u32).to_be_bytes());
    tree
}

#[test]
fn initrd_over_the_image_bss_is_refused_naming_both() {
    // 64 KiB of file, 28 MiB of kernel once its BSS is counted, 32 MiB of RAM: the
    // initrd (1 MiB, below the 2 MiB kept for the device tree) would sit in the BSS.
    let image = temp_file("bss.Image", &linux_image(28 << 20, 64 << 10));
    let initrd = temp_file("bss.initrd", &vec![0x11; 1 << 20]);
    let out = emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "32M",
        "--max-insns",
        "1000",
        image.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
    ]);
    assert_one_error_line(&out, 1, "the initrd (0x81d00000-0x81e00000, 1 MiB) overlaps the kernel image (0x80200000-0x81e00000)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("-m"), "{stderr}");
}

#[test]
fn image_whose_bss_does_not_fit_in_ram_is_refused() {
    let image = temp_file("huge-bss.Image", &linux_image(64 << 20, 64 << 10));
    let out = emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "32M",
        image.to_str().unwrap(),
    ]);
    assert_one_error_line(&out, 1, "image_size 0x4000000");
}

#[test]
fn image_with_room_for_its_bss_and_the_initrd_boots() {
    let image = temp_file("fits.Image", &linux_image(8 << 20, 64 << 10));
    let initrd = temp_file("fits.initrd", &vec![0x11; 1 << 20]);
    let out = emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "32M",
        "--max-insns",
        "1000",
        image.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_with_dtb(name: &str, tree: &[u8]) -> std::process::Output {
    let prog = elf64(
        EM_RISCV,
        DRAM,
        &[Segment::code(DRAM, &[common::LOOP_FOREVER])],
    );
    let prog = temp_file(&format!("{name}.elf"), &prog);
    let tree = temp_file(&format!("{name}.dtb"), tree);
    emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "32M",
        "--max-insns",
        "1000",
        prog.to_str().unwrap(),
        "--dtb",
        tree.to_str().unwrap(),
    ])
}

#[test]
fn dtb_without_the_magic_is_refused() {
    let mut tree = padded_dtb(4096);
    tree[0] ^= 0xff;
    assert_one_error_line(&run_with_dtb("bad-magic", &tree), 1, "magic");
    assert_one_error_line(&run_with_dtb("random", &[0x42; 100]), 1, "--dtb");
    assert_one_error_line(&run_with_dtb("tiny", b"\xd0\x0d"), 1, "too few");
}

#[test]
fn truncated_dtb_is_refused() {
    let tree = padded_dtb(8192);
    assert_one_error_line(&run_with_dtb("truncated", &tree[..6000]), 1, "truncated");
}

#[test]
fn dtb_of_an_unknown_version_is_refused() {
    let mut tree = padded_dtb(4096);
    tree[20..24].copy_from_slice(&15u32.to_be_bytes());
    assert_one_error_line(&run_with_dtb("old-version", &tree), 1, "version 15");
}

#[test]
fn valid_dtb_with_trailing_bytes_is_used() {
    let mut tree = padded_dtb(4096);
    tree.extend_from_slice(&[0xee; 100]);
    let out = run_with_dtb("trailing", &tree);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 3 MiB device tree and an initrd whose last word is a marker: the guest checks that
/// a1 points at the tree's magic and that the marker is still somewhere in RAM (it scans
/// for it), i.e. the tree did not land on the initrd's end.
#[test]
fn large_dtb_does_not_overwrite_the_initrd() {
    const T0: u32 = 5;
    const T1: u32 = 6;
    const T2: u32 = 7;
    const T3: u32 = 28;
    const A1: u32 = 11;
    const MARKER: u64 = 0x1234_5678_9abc_def0;
    const RAM_TOP: u64 = DRAM + (32 << 20);
    let mut code = Vec::new();
    let li = |code: &mut Vec<u32>, rd: u32, value: u64| {
        code.extend(emu::cpu::encode::load_immediate(rd, value));
    };
    // Fail code 2 unless a1 holds the FDT magic (big-endian d00dfeed).
    li(&mut code, T2, 0xedfe_0dd0);
    code.push(i_type(op::LOAD, T3, 6, A1, 0)); // lwu t3, 0(a1)
    let check_magic = code.len();
    code.push(0); // bne t3, t2, fail2 (patched)
    li(&mut code, T0, DRAM + 0x1_0000);
    li(&mut code, T1, RAM_TOP);
    li(&mut code, T2, MARKER);
    let scan = code.len();
    code.push(i_type(op::LOAD, T3, 3, T0, 0)); // ld t3, 0(t0)
    let found_branch = code.len();
    code.push(0); // beq t3, t2, found (patched)
    code.push(i_type(op::OP_IMM, T0, 0, T0, 8));
    code.push(b_type(
        op::BRANCH,
        6,
        T0,
        T1,
        (scan as i32 - code.len() as i32) * 4,
    )); // bltu
    let exit = |code: &mut Vec<u32>, value: u64| {
        li(code, T0, 0x10_0000);
        li(code, T1, value);
        code.push(s_type(op::STORE, 2, T0, T1, 0));
        code.push(common::LOOP_FOREVER);
    };
    exit(&mut code, (3 << 16) | 0x3333); // marker not found: status 3
    let fail2 = code.len();
    exit(&mut code, (2 << 16) | 0x3333);
    let found = code.len();
    exit(&mut code, 0x5555);
    code[check_magic] = b_type(op::BRANCH, 1, T3, T2, (fail2 - check_magic) as i32 * 4);
    code[found_branch] = b_type(op::BRANCH, 0, T3, T2, (found - found_branch) as i32 * 4);
    let prog = temp_file(
        "big-dtb.elf",
        &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &code)]),
    );
    let mut initrd = vec![0x11u8; 64 << 10];
    let n = initrd.len();
    initrd[n - 8..].copy_from_slice(&MARKER.to_le_bytes());
    let initrd = temp_file("big-dtb.initrd", &initrd);
    let tree = temp_file("big.dtb", &padded_dtb(3 << 20));
    let out = emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "32M",
        "--max-insns",
        "100000000",
        prog.to_str().unwrap(),
        "--initrd",
        initrd.to_str().unwrap(),
        "--dtb",
        tree.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dtb_that_would_cover_the_kernel_is_refused_naming_both() {
    // 12 MiB of kernel from 0x80200000 in 16 MiB of RAM leaves 2 MiB: a 3 MiB tree at
    // the top would reach into the kernel.
    let image = temp_file("dtb-kernel.Image", &linux_image(12 << 20, 64 << 10));
    let tree = temp_file("dtb-kernel.dtb", &padded_dtb(3 << 20));
    let out = emu(&[
        "run",
        "--bios",
        "none",
        "-m",
        "16M",
        "--max-insns",
        "1000",
        image.to_str().unwrap(),
        "--dtb",
        tree.to_str().unwrap(),
    ]);
    assert_one_error_line(
        &out,
        1,
        "the device tree (0x80cff000-0x80fff000, 3 MiB) overlaps the kernel image",
    );
}

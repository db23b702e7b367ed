//! Images emu cannot use: each is refused with one error line naming the problem and exit
//! status 1, never a panic or a hang. A guest that runs garbage gets architectural traps.

mod common;

use common::{assert_one_error_line, elf64, emu, temp_file, Segment, DRAM, EM_RISCV, LOOP_FOREVER};

const EXIT_BAD_IMAGE: i32 = 1;

fn run_bare(path: &std::path::Path) -> std::process::Output {
    emu(&[
        "run",
        "--bios",
        "none",
        path.to_str().unwrap(),
        "--max-insns",
        "100000",
    ])
}

/// A valid one-segment RISC-V program, to be damaged by the tests.
fn good_elf() -> Vec<u8> {
    let mut words = vec![LOOP_FOREVER];
    words.resize(1024, 0x0000_0013); // nops: a 4 KiB segment
    elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &words)])
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn missing_file() {
    let out = run_bare(std::path::Path::new("/nonexistent/emu-test/guest.elf"));
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "/nonexistent/emu-test/guest.elf");
}

#[test]
fn empty_file() {
    let path = temp_file("empty.elf", b"");
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "empty");
}

#[test]
fn random_bytes() {
    let path = temp_file("random.bin", &noise(4096, 0x9e37_79b9_7f4a_7c15));
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "not a RISC-V");
}

#[test]
fn elf_magic_followed_by_noise() {
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend(noise(2000, 42));
    let path = temp_file("noise.elf", &bytes);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "noise.elf");
}

#[test]
fn x86_64_elf() {
    // The emu binary itself is an x86-64 (host) ELF.
    let out = run_bare(std::path::Path::new(env!("CARGO_BIN_EXE_emu")));
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "not RISC-V");
}

#[test]
fn x86_64_elf_crafted() {
    let elf = elf64(62, DRAM, &[Segment::code(DRAM, &[LOOP_FOREVER])]);
    let path = temp_file("x86.elf", &elf);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "not RISC-V");
}

#[test]
fn truncated_inside_the_header() {
    let elf = good_elf();
    let path = temp_file("cut-header.elf", &elf[..40]);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "cut-header.elf");
}

#[test]
fn truncated_inside_the_program_headers() {
    let elf = good_elf();
    let path = temp_file("cut-phdr.elf", &elf[..64 + 20]);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "cut-phdr.elf");
}

#[test]
fn truncated_inside_a_segment() {
    let elf = good_elf();
    let path = temp_file("cut-segment.elf", &elf[..elf.len() / 2]);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "truncated");
}

#[test]
fn truncated_conformance_program() {
    let elf = std::fs::read(common::built_programs().join("rv64i_alu")).unwrap();
    for cut in [100, elf.len() / 3, elf.len() - 1] {
        let path = temp_file(&format!("cut-{cut}.elf"), &elf[..cut]);
        let out = run_bare(&path);
        // Cutting the tail may only lose section data the loader does not need; then the
        // program must still run correctly (status 0). Otherwise: one clean error.
        if out.status.code() == Some(0) {
            continue;
        }
        assert_one_error_line(&out, EXIT_BAD_IMAGE, &format!("cut-{cut}.elf"));
    }
}

#[test]
fn segment_outside_ram() {
    let elf = elf64(
        EM_RISCV,
        0x4000_0000,
        &[Segment::code(0x4000_0000, &[LOOP_FOREVER])],
    );
    let path = temp_file("outside.elf", &elf);
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "outside RAM");
}

#[test]
fn segment_running_past_the_end_of_ram() {
    // Starts inside the default 512 MiB but its zero-filled tail does not fit.
    let top = DRAM + (512 << 20);
    let seg = Segment {
        addr: top - 0x1000,
        data: vec![0x13, 0, 0, 0],
        memsz: 0x2000,
    };
    let path = temp_file("past-end.elf", &elf64(EM_RISCV, top - 0x1000, &[seg]));
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "outside RAM");
}

#[test]
fn segment_address_wraps_around() {
    let seg = Segment {
        addr: 0xffff_ffff_ffff_f000,
        data: vec![0x13, 0, 0, 0],
        memsz: 0x2000,
    };
    let path = temp_file("wrap.elf", &elf64(EM_RISCV, DRAM, &[seg]));
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "wrap.elf");
}

#[test]
fn overlapping_segments() {
    let a = Segment::code(DRAM, &[LOOP_FOREVER; 64]);
    let b = Segment::code(DRAM + 0x80, &[LOOP_FOREVER; 64]);
    let path = temp_file("overlap.elf", &elf64(EM_RISCV, DRAM, &[a, b]));
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "overlap");
}

#[test]
fn no_loadable_segment() {
    let path = temp_file("nothing.elf", &elf64(EM_RISCV, DRAM, &[]));
    let out = run_bare(&path);
    assert_one_error_line(&out, EXIT_BAD_IMAGE, "no loadable segments");
}

/// Garbage as code: every word is an illegal instruction (or worse). The hart takes
/// architectural traps (to mtvec = 0, itself nothing) until the instruction limit.
#[test]
fn guest_executing_garbage_is_contained() {
    for (name, seed) in [("garbage-a.elf", 1u64), ("garbage-b.elf", 0xdead_beef)] {
        let bytes = noise(8192, seed);
        let words: Vec<u32> = bytes
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let path = temp_file(name, &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &words)]));
        let out = run_bare(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "emu panicked:\n{stderr}");
        assert!(
            out.status.code().is_some(),
            "emu was killed by a signal:\n{stderr}"
        );
    }
    let all_ones = vec![0xffff_ffffu32; 256];
    let path = temp_file(
        "ones.elf",
        &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &all_ones)]),
    );
    let out = run_bare(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "emu panicked:\n{stderr}");
    // Every trap goes to mtvec = 0, where nothing answers: an endless chain of
    // instruction access faults, stopped by --max-insns (or seen as a deadlock).
    assert!(
        matches!(out.status.code(), Some(124) | Some(125)),
        "status {:?}:\n{stderr}",
        out.status.code()
    );
}

//! Guest programs for the benches, hand-assembled so the benches need no riscv toolchain.

/// RV64 instruction encoders (just what the bench programs use).
pub mod enc {
    pub fn i(op: u32, rd: u32, f3: u32, rs1: u32, imm: i32) -> u32 {
        ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn r(op: u32, rd: u32, f3: u32, rs1: u32, rs2: u32, f7: u32) -> u32 {
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn s(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
        let imm = imm as u32;
        ((imm >> 5 & 0x7f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((imm & 0x1f) << 7)
            | op
    }
    pub fn b(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
        let o = off as u32;
        ((o >> 12 & 1) << 31)
            | ((o >> 5 & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((o >> 1 & 0xf) << 8)
            | ((o >> 11 & 1) << 7)
            | 0x63
    }
    pub fn u(op: u32, rd: u32, imm20: u32) -> u32 {
        (imm20 << 12) | (rd << 7) | op
    }
    pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
        i(0x13, rd, 0, rs1, imm)
    }
}

/// A compute-bound loop that never ends: ALU, multiply, a load and a store per
/// iteration (10 instructions). Runs from `base` (RAM); uses the page after it as data.
pub fn compute_loop() -> Vec<u32> {
    use enc::*;
    vec![
        u(0x17, 10, 1),          // 0: auipc a0, 1        data page
        addi(5, 0, 0),           // 4: li t0, 0
        addi(6, 0, 1),           // 8: li t1, 1
        addi(5, 5, 1),           // 12: loop: addi t0, t0, 1
        r(0x33, 7, 4, 7, 5, 0),  // 16: xor t2, t2, t0
        i(0x13, 28, 1, 7, 3),    // 20: slli t3, t2, 3
        r(0x33, 7, 0, 7, 28, 0), // 24: add t2, t2, t3
        r(0x33, 29, 0, 5, 6, 1), // 28: mul t4, t0, t1
        s(0x23, 3, 10, 29, 0),   // 32: sd t4, 0(a0)
        i(0x03, 6, 3, 10, 0),    // 36: ld t1, 0(a0)
        i(0x13, 6, 7, 6, 0xff),  // 40: andi t1, t1, 0xff
        b(1, 5, 0, -32),         // 44: bnez t0, loop
    ]
}

/// Little-endian bytes of a program.
pub fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

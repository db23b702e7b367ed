//! Instruction encoders for the base formats. The RVC expander builds 32-bit words with
//! them (so one decoder handles both widths), and tests assemble programs with them.

#[inline]
pub const fn r_type(opcode: u32, rd: u32, funct3: u32, rs1: u32, rs2: u32, funct7: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

#[inline]
pub const fn i_type(opcode: u32, rd: u32, funct3: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

#[inline]
pub const fn s_type(opcode: u32, funct3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | ((imm & 0x1f) << 7)
        | opcode
}

#[inline]
pub const fn b_type(opcode: u32, funct3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
        | opcode
}

#[inline]
pub const fn u_type(opcode: u32, rd: u32, imm: i32) -> u32 {
    (imm as u32 & 0xffff_f000) | (rd << 7) | opcode
}

#[inline]
pub const fn j_type(opcode: u32, rd: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
        | (rd << 7)
        | opcode
}

/// `rd = value` for any 64-bit value, as 13 words: `addi rd, x0, 0`, then six rounds of
/// `slli rd, rd, 11; ori rd, rd, chunk`, 11 bits at a time so every `ori` immediate is
/// positive (66 bits are shifted in; the top two fall off, as they should).
pub fn load_immediate(rd: u32, value: u64) -> [u32; 13] {
    let mut words = [0; 13];
    words[0] = i_type(op::OP_IMM, rd, 0, 0, 0);
    for (round, shift) in (0..6).rev().enumerate() {
        let chunk = ((value >> (shift * 11)) & 0x7ff) as i32;
        words[1 + 2 * round] = i_type(op::OP_IMM, rd, 1, rd, 11);
        words[2 + 2 * round] = i_type(op::OP_IMM, rd, 6, rd, chunk);
    }
    words
}

/// Major opcodes used by the decoder, the expander and the tests.
pub mod op {
    pub const LOAD: u32 = 0x03;
    pub const LOAD_FP: u32 = 0x07;
    pub const MISC_MEM: u32 = 0x0f;
    pub const OP_IMM: u32 = 0x13;
    pub const AUIPC: u32 = 0x17;
    pub const OP_IMM_32: u32 = 0x1b;
    pub const STORE: u32 = 0x23;
    pub const STORE_FP: u32 = 0x27;
    pub const AMO: u32 = 0x2f;
    pub const OP: u32 = 0x33;
    pub const LUI: u32 = 0x37;
    pub const OP_32: u32 = 0x3b;
    pub const MADD: u32 = 0x43;
    pub const MSUB: u32 = 0x47;
    pub const NMSUB: u32 = 0x4b;
    pub const NMADD: u32 = 0x4f;
    pub const OP_FP: u32 = 0x53;
    pub const BRANCH: u32 = 0x63;
    pub const JALR: u32 = 0x67;
    pub const JAL: u32 = 0x6f;
    pub const SYSTEM: u32 = 0x73;
}

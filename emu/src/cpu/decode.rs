//! Decoding: instruction word -> [`Op`], the compact form the decode cache holds.
//!
//! Compressed parcels are first expanded to their 32-bit equivalent (so there is one
//! decoder), then the resulting `Op` keeps the 16-bit parcel in `raw`: the instruction
//! length and the illegal-instruction `tval` both come from `raw`.

use super::encode::{b_type, i_type, j_type, op, r_type, s_type, u_type};

/// What an [`Op`] does. `Empty` marks a decode-cache slot not decoded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OpKind {
    Empty = 0,
    /// The decode cache's sentinel one slot past the end of each decoded page: the
    /// straight-through loop reaches it by running off the page. Never decoded.
    PageEnd,
    Illegal,
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,
    Fence,
    FenceI,
    Ecall,
    Ebreak,
    Mret,
    Sret,
    Wfi,
    SfenceVma,
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,
    LrW,
    ScW,
    LrD,
    ScD,
    /// AMOs: the operation is in `rs2`-independent field `imm` (see [`AmoOp`]).
    AmoW,
    AmoD,
    Flw,
    Fld,
    Fsw,
    Fsd,
    /// OP-FP and the fused multiply-adds: handed to the FPU with `raw`.
    FpOp,
}

/// Where an op's data access is and which way it goes ([`OpKind::data_access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataAccess {
    /// A load from rs1 + imm (integer or floating-point).
    Load,
    /// A store to rs1 + imm (integer or floating-point).
    Store,
    /// LR: a load from rs1.
    LoadReserved,
    /// SC or AMO: a store to rs1 (an AMO reads the location first).
    StoreAtRs1,
}

/// The attributes of each op, in one place: the interpreter, the JIT, the tracer and the
/// JIT's page prefill all ask these instead of listing ops themselves.
impl OpKind {
    /// The data access the op makes and its size in bytes; None for no data access.
    pub fn data_access(self) -> Option<(DataAccess, u8)> {
        use DataAccess::*;
        Some(match self {
            OpKind::Lb | OpKind::Lbu => (Load, 1),
            OpKind::Lh | OpKind::Lhu => (Load, 2),
            OpKind::Lw | OpKind::Lwu | OpKind::Flw => (Load, 4),
            OpKind::Ld | OpKind::Fld => (Load, 8),
            OpKind::Sb => (Store, 1),
            OpKind::Sh => (Store, 2),
            OpKind::Sw | OpKind::Fsw => (Store, 4),
            OpKind::Sd | OpKind::Fsd => (Store, 8),
            OpKind::LrW => (LoadReserved, 4),
            OpKind::LrD => (LoadReserved, 8),
            OpKind::ScW | OpKind::AmoW => (StoreAtRs1, 4),
            OpKind::ScD | OpKind::AmoD => (StoreAtRs1, 8),
            _ => return None,
        })
    }

    /// Whether the op may write its integer rd. Floating-point loads and operations
    /// write an f register instead (an `FpOp` may also write an integer one: see
    /// `fp_writes_f_register`); everything else that is not listed here writes rd.
    pub fn writes_rd(self) -> bool {
        !matches!(
            self,
            OpKind::Empty
                | OpKind::PageEnd
                | OpKind::Illegal
                | OpKind::Beq
                | OpKind::Bne
                | OpKind::Blt
                | OpKind::Bge
                | OpKind::Bltu
                | OpKind::Bgeu
                | OpKind::Sb
                | OpKind::Sh
                | OpKind::Sw
                | OpKind::Sd
                | OpKind::Fsw
                | OpKind::Fsd
                | OpKind::Fence
                | OpKind::FenceI
                | OpKind::Ecall
                | OpKind::Ebreak
                | OpKind::Mret
                | OpKind::Sret
                | OpKind::Wfi
                | OpKind::SfenceVma
        )
    }

    /// A jump or branch whose target is its own pc plus its immediate (JAL and the
    /// conditional branches; JALR's target comes from a register).
    pub fn jumps_relative(self) -> bool {
        use OpKind::*;
        matches!(self, Jal | Beq | Bne | Blt | Bge | Bltu | Bgeu)
    }

    /// Whether the JIT compiles the op into blocks (the rest ends a block and runs in
    /// the interpreter).
    pub fn jit_compiles(self) -> bool {
        use OpKind::*;
        self.is_register_arithmetic()
            || matches!(
                self,
                Jal | Jalr
                    | Beq
                    | Bne
                    | Blt
                    | Bge
                    | Bltu
                    | Bgeu
                    | Lb
                    | Lh
                    | Lw
                    | Ld
                    | Lbu
                    | Lhu
                    | Lwu
                    | Sb
                    | Sh
                    | Sw
                    | Sd
                    | AmoW
                    | AmoD
            )
    }

    /// Arithmetic on registers (and `fence`, which orders nothing for harts that run in
    /// turns): no memory access, no jump, no trap. A compiled block cannot leave at such
    /// an op, so the registers it writes can wait to be stored.
    pub fn is_register_arithmetic(self) -> bool {
        use OpKind::*;
        matches!(
            self,
            Lui | Auipc
                | Addi
                | Slti
                | Sltiu
                | Xori
                | Ori
                | Andi
                | Slli
                | Srli
                | Srai
                | Add
                | Sub
                | Sll
                | Slt
                | Sltu
                | Xor
                | Srl
                | Sra
                | Or
                | And
                | Addiw
                | Slliw
                | Srliw
                | Sraiw
                | Addw
                | Subw
                | Sllw
                | Srlw
                | Sraw
                | Mul
                | Mulh
                | Mulhsu
                | Mulhu
                | Div
                | Divu
                | Rem
                | Remu
                | Mulw
                | Divw
                | Divuw
                | Remw
                | Remuw
                | Fence
        )
    }

    /// Whether a compiled block ends after the op. A conditional branch does not: its
    /// taken side leaves the block and the other carries on, so a block spans several
    /// basic blocks.
    /// LR, SC or an AMO.
    pub fn is_atomic(self) -> bool {
        matches!(
            self,
            OpKind::LrW | OpKind::LrD | OpKind::ScW | OpKind::ScD | OpKind::AmoW | OpKind::AmoD
        )
    }

    pub fn ends_jit_block(self) -> bool {
        matches!(self, OpKind::Jal | OpKind::Jalr)
    }
}

/// The read-modify-write operation of an AMO, stored in `Op::imm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AmoOp {
    Swap,
    Add,
    Xor,
    And,
    Or,
    Min,
    Max,
    Minu,
    Maxu,
}

impl AmoOp {
    /// The value the AMO stores, from the old value in memory `a` and the source `b`
    /// (a word's both sign-extended to 64 bits, which keeps the unsigned order too).
    pub fn apply(self, a: u64, b: u64) -> u64 {
        match self {
            AmoOp::Swap => b,
            AmoOp::Add => a.wrapping_add(b),
            AmoOp::Xor => a ^ b,
            AmoOp::And => a & b,
            AmoOp::Or => a | b,
            AmoOp::Min => (a as i64).min(b as i64) as u64,
            AmoOp::Max => (a as i64).max(b as i64) as u64,
            AmoOp::Minu => a.min(b),
            AmoOp::Maxu => a.max(b),
        }
    }

    pub fn from_imm(imm: i32) -> AmoOp {
        match imm {
            0 => AmoOp::Swap,
            1 => AmoOp::Add,
            2 => AmoOp::Xor,
            3 => AmoOp::And,
            4 => AmoOp::Or,
            5 => AmoOp::Min,
            6 => AmoOp::Max,
            7 => AmoOp::Minu,
            _ => AmoOp::Maxu,
        }
    }
}

/// A decoded instruction, copied out of the decode cache per execution. `repr(C)` and
/// 16 bytes so the copy is two aligned 8-byte moves (a packed 12-byte layout made the
/// compiler split it into overlapping moves that stalled store forwarding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Op {
    pub k: OpKind,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i32,
    /// The instruction as fetched: 32 bits, or the 16-bit parcel for RVC.
    pub raw: u32,
    /// Length in bytes: 4, or 2 for RVC.
    pub len: u32,
}

impl Op {
    pub const EMPTY: Op = Op {
        k: OpKind::Empty,
        rd: 0,
        rs1: 0,
        rs2: 0,
        imm: 0,
        raw: 0,
        len: 4,
    };

    fn illegal(raw: u32) -> Op {
        Op {
            k: OpKind::Illegal,
            raw,
            ..Op::EMPTY
        }
    }

    /// For a CSR instruction (CSRRW/CSRRS/CSRRC and their immediate forms), whether it
    /// writes the CSR: CSRRS/CSRRC with x0 (or uimm 0) only read it, so they are legal on
    /// read-only CSRs. None for any other op.
    pub fn csr_writes(&self) -> Option<bool> {
        match self.k {
            OpKind::Csrrw | OpKind::Csrrwi => Some(true),
            OpKind::Csrrs | OpKind::Csrrc | OpKind::Csrrsi | OpKind::Csrrci => Some(self.rs1 != 0),
            _ => None,
        }
    }
}

/// Decode one instruction: a 32-bit word, or a 16-bit parcel in the low half when its two
/// low bits are not 0b11.
pub fn decode(raw: u32) -> Op {
    if raw & 3 != 3 {
        let parcel = raw & 0xffff;
        return match expand_rvc(parcel as u16) {
            Some(word) => Op {
                raw: parcel,
                len: 2,
                ..decode32(word)
            },
            None => Op {
                len: 2,
                ..Op::illegal(parcel)
            },
        };
    }
    decode32(raw)
}

#[inline]
fn sext(v: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((v << shift) as i32) >> shift
}

// The immediates of the base formats, sign-extended.

#[inline]
fn imm_i(w: u32) -> i32 {
    (w as i32) >> 20
}

#[inline]
fn imm_s(w: u32) -> i32 {
    ((w as i32) >> 20 & !0x1f) | ((w >> 7) & 0x1f) as i32
}

#[inline]
fn imm_b(w: u32) -> i32 {
    sext(
        ((w >> 31) << 12)
            | (((w >> 7) & 1) << 11)
            | (((w >> 25) & 0x3f) << 5)
            | (((w >> 8) & 0xf) << 1),
        13,
    )
}

#[inline]
fn imm_u(w: u32) -> i32 {
    (w & 0xffff_f000) as i32
}

#[inline]
fn imm_j(w: u32) -> i32 {
    sext(
        ((w >> 31) << 20)
            | (((w >> 12) & 0xff) << 12)
            | (((w >> 20) & 1) << 11)
            | (((w >> 21) & 0x3ff) << 1),
        21,
    )
}

#[inline]
fn funct3(w: u32) -> u32 {
    (w >> 12) & 7
}

#[inline]
fn funct7(w: u32) -> u32 {
    w >> 25
}

/// A 32-bit word: the kind and immediate come from its major opcode's table, the
/// registers from their fixed fields (whether the op uses them or not).
fn decode32(w: u32) -> Op {
    match decode32_kind(w) {
        Some((k, imm)) => Op {
            k,
            rd: ((w >> 7) & 31) as u8,
            rs1: ((w >> 15) & 31) as u8,
            rs2: ((w >> 20) & 31) as u8,
            imm,
            raw: w,
            len: 4,
        },
        None => Op::illegal(w),
    }
}

/// The op kind and immediate of a 32-bit word, by major opcode; None for an illegal or
/// unsupported encoding.
#[inline]
fn decode32_kind(w: u32) -> Option<(OpKind, i32)> {
    let f3 = funct3(w);
    match w & 0x7f {
        op::LUI => Some((OpKind::Lui, imm_u(w))),
        op::AUIPC => Some((OpKind::Auipc, imm_u(w))),
        op::JAL => Some((OpKind::Jal, imm_j(w))),
        op::JALR if f3 == 0 => Some((OpKind::Jalr, imm_i(w))),
        op::BRANCH => Some((decode_branch(f3)?, imm_b(w))),
        op::LOAD => Some((decode_load(f3)?, imm_i(w))),
        op::STORE => Some((decode_store(f3)?, imm_s(w))),
        op::OP_IMM => decode_op_imm(w),
        op::OP_IMM_32 => decode_op_imm_32(w),
        op::OP => Some((decode_op(w)?, 0)),
        op::OP_32 => Some((decode_op_32(w)?, 0)),
        op::MISC_MEM => Some((decode_misc_mem(f3)?, 0)),
        op::SYSTEM => decode_system(w),
        op::AMO => decode_amo(w),
        op::LOAD_FP => Some((decode_load_fp(f3)?, imm_i(w))),
        op::STORE_FP => Some((decode_store_fp(f3)?, imm_s(w))),
        op::OP_FP | op::MADD | op::MSUB | op::NMSUB | op::NMADD => Some((OpKind::FpOp, 0)),
        _ => None,
    }
}

/// BRANCH, by funct3.
#[inline]
fn decode_branch(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        0 => OpKind::Beq,
        1 => OpKind::Bne,
        4 => OpKind::Blt,
        5 => OpKind::Bge,
        6 => OpKind::Bltu,
        7 => OpKind::Bgeu,
        _ => return None,
    })
}

/// LOAD, by funct3.
#[inline]
fn decode_load(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        0 => OpKind::Lb,
        1 => OpKind::Lh,
        2 => OpKind::Lw,
        3 => OpKind::Ld,
        4 => OpKind::Lbu,
        5 => OpKind::Lhu,
        6 => OpKind::Lwu,
        _ => return None,
    })
}

/// STORE, by funct3.
#[inline]
fn decode_store(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        0 => OpKind::Sb,
        1 => OpKind::Sh,
        2 => OpKind::Sw,
        3 => OpKind::Sd,
        _ => return None,
    })
}

/// OP-IMM, by funct3; the shifts take a 6-bit shamt and funct6 above it.
#[inline]
fn decode_op_imm(w: u32) -> Option<(OpKind, i32)> {
    let imm = imm_i(w);
    let shamt = ((w >> 20) & 0x3f) as i32;
    let f6 = w >> 26;
    Some(match funct3(w) {
        0 => (OpKind::Addi, imm),
        2 => (OpKind::Slti, imm),
        3 => (OpKind::Sltiu, imm),
        4 => (OpKind::Xori, imm),
        6 => (OpKind::Ori, imm),
        7 => (OpKind::Andi, imm),
        1 if f6 == 0 => (OpKind::Slli, shamt),
        5 if f6 == 0 => (OpKind::Srli, shamt),
        5 if f6 == 0x10 => (OpKind::Srai, shamt),
        _ => return None,
    })
}

/// OP-IMM-32, by funct3 and funct7; the shifts take a 5-bit shamt.
#[inline]
fn decode_op_imm_32(w: u32) -> Option<(OpKind, i32)> {
    let shamt = ((w >> 20) & 0x1f) as i32;
    Some(match (funct3(w), funct7(w)) {
        (0, _) => (OpKind::Addiw, imm_i(w)),
        (1, 0) => (OpKind::Slliw, shamt),
        (5, 0) => (OpKind::Srliw, shamt),
        (5, 0x20) => (OpKind::Sraiw, shamt),
        _ => return None,
    })
}

/// OP, by funct7 and funct3 (funct7 1 is the M extension).
#[inline]
fn decode_op(w: u32) -> Option<OpKind> {
    Some(match (funct7(w), funct3(w)) {
        (0, 0) => OpKind::Add,
        (0x20, 0) => OpKind::Sub,
        (0, 1) => OpKind::Sll,
        (0, 2) => OpKind::Slt,
        (0, 3) => OpKind::Sltu,
        (0, 4) => OpKind::Xor,
        (0, 5) => OpKind::Srl,
        (0x20, 5) => OpKind::Sra,
        (0, 6) => OpKind::Or,
        (0, 7) => OpKind::And,
        (1, 0) => OpKind::Mul,
        (1, 1) => OpKind::Mulh,
        (1, 2) => OpKind::Mulhsu,
        (1, 3) => OpKind::Mulhu,
        (1, 4) => OpKind::Div,
        (1, 5) => OpKind::Divu,
        (1, 6) => OpKind::Rem,
        (1, 7) => OpKind::Remu,
        _ => return None,
    })
}

/// OP-32, by funct7 and funct3 (funct7 1 is the M extension).
#[inline]
fn decode_op_32(w: u32) -> Option<OpKind> {
    Some(match (funct7(w), funct3(w)) {
        (0, 0) => OpKind::Addw,
        (0x20, 0) => OpKind::Subw,
        (0, 1) => OpKind::Sllw,
        (0, 5) => OpKind::Srlw,
        (0x20, 5) => OpKind::Sraw,
        (1, 0) => OpKind::Mulw,
        (1, 4) => OpKind::Divw,
        (1, 5) => OpKind::Divuw,
        (1, 6) => OpKind::Remw,
        (1, 7) => OpKind::Remuw,
        _ => return None,
    })
}

/// MISC-MEM, by funct3.
#[inline]
fn decode_misc_mem(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        0 => OpKind::Fence,
        1 => OpKind::FenceI,
        _ => return None,
    })
}

/// SYSTEM: funct3 0 holds the privileged instructions (whole words, and SFENCE.VMA by
/// funct7); the rest are the CSR instructions, with the CSR number as the immediate.
#[inline]
fn decode_system(w: u32) -> Option<(OpKind, i32)> {
    let csr = (w >> 20) as i32;
    Some(match funct3(w) {
        0 => match w {
            0x0000_0073 => (OpKind::Ecall, 0),
            0x0010_0073 => (OpKind::Ebreak, 0),
            0x3020_0073 => (OpKind::Mret, 0),
            0x1020_0073 => (OpKind::Sret, 0),
            0x1050_0073 => (OpKind::Wfi, 0),
            _ if funct7(w) == 0x09 && (w >> 7) & 31 == 0 => (OpKind::SfenceVma, 0),
            _ => return None,
        },
        1 => (OpKind::Csrrw, csr),
        2 => (OpKind::Csrrs, csr),
        3 => (OpKind::Csrrc, csr),
        5 => (OpKind::Csrrwi, csr),
        6 => (OpKind::Csrrsi, csr),
        7 => (OpKind::Csrrci, csr),
        _ => return None,
    })
}

/// AMO: funct3 gives the width, funct5 the operation; the AMO's operation goes in the
/// immediate ([`AmoOp`]).
#[inline]
fn decode_amo(w: u32) -> Option<(OpKind, i32)> {
    let wide = match funct3(w) {
        2 => false,
        3 => true,
        _ => return None,
    };
    let rs2 = (w >> 20) & 31;
    let amo = |a: AmoOp| (if wide { OpKind::AmoD } else { OpKind::AmoW }, a as i32);
    Some(match w >> 27 {
        0x02 if rs2 == 0 => (if wide { OpKind::LrD } else { OpKind::LrW }, 0),
        0x03 => (if wide { OpKind::ScD } else { OpKind::ScW }, 0),
        0x01 => amo(AmoOp::Swap),
        0x00 => amo(AmoOp::Add),
        0x04 => amo(AmoOp::Xor),
        0x0c => amo(AmoOp::And),
        0x08 => amo(AmoOp::Or),
        0x10 => amo(AmoOp::Min),
        0x14 => amo(AmoOp::Max),
        0x18 => amo(AmoOp::Minu),
        0x1c => amo(AmoOp::Maxu),
        _ => return None,
    })
}

/// LOAD-FP, by funct3 (the width).
#[inline]
fn decode_load_fp(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        2 => OpKind::Flw,
        3 => OpKind::Fld,
        _ => return None,
    })
}

/// STORE-FP, by funct3 (the width).
#[inline]
fn decode_store_fp(f3: u32) -> Option<OpKind> {
    Some(match f3 {
        2 => OpKind::Fsw,
        3 => OpKind::Fsd,
        _ => return None,
    })
}

/// A 16-bit parcel, with the fields the RVC formats share.
#[derive(Clone, Copy)]
struct Parcel(u32);

impl Parcel {
    #[inline]
    fn bit(self, n: u32) -> u32 {
        (self.0 >> n) & 1
    }

    #[inline]
    fn bits(self, hi: u32, lo: u32) -> u32 {
        (self.0 >> lo) & ((1 << (hi - lo + 1)) - 1)
    }

    #[inline]
    fn funct3(self) -> u32 {
        self.bits(15, 13)
    }

    /// rd (or rs1) in the full register field, bits 11:7.
    #[inline]
    fn rd(self) -> u32 {
        self.bits(11, 7)
    }

    /// rs2 in the full register field, bits 6:2.
    #[inline]
    fn rs2(self) -> u32 {
        self.bits(6, 2)
    }

    /// rd' (or rs2') in bits 4:2: x8-x15.
    #[inline]
    fn rdp(self) -> u32 {
        self.bits(4, 2) + 8
    }

    /// rs1' (or rd') in bits 9:7: x8-x15.
    #[inline]
    fn rs1p(self) -> u32 {
        self.bits(9, 7) + 8
    }

    /// imm[5] at bit 12, imm[4:0] at bits 6:2, sign-extended (C.ADDI, C.LI, C.ANDI, ...).
    #[inline]
    fn imm6(self) -> i32 {
        sext((self.bit(12) << 5) | self.bits(6, 2), 6)
    }

    /// The same bits as `imm6`, unsigned: the shift amount of C.SLLI/C.SRLI/C.SRAI.
    #[inline]
    fn shamt(self) -> u32 {
        (self.bit(12) << 5) | self.bits(6, 2)
    }

    /// Offset of C.LD/C.SD/C.FLD/C.FSD: uimm[5:3] at 12:10, uimm[7:6] at 6:5.
    #[inline]
    fn off_d(self) -> i32 {
        ((self.bits(12, 10) << 3) | (self.bits(6, 5) << 6)) as i32
    }

    /// Offset of C.LW/C.SW: uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5.
    #[inline]
    fn off_w(self) -> i32 {
        ((self.bits(12, 10) << 3) | (self.bit(6) << 2) | (self.bit(5) << 6)) as i32
    }
}

/// Expand an RV64C parcel to the equivalent 32-bit instruction; `None` for reserved and
/// illegal encodings (including the all-zero parcel).
pub fn expand_rvc(p: u16) -> Option<u32> {
    let p = Parcel(p as u32);
    match p.0 & 3 {
        0 => expand_q0(p),
        1 => expand_q1(p),
        2 => expand_q2(p),
        _ => None,
    }
}

/// Quadrant 0: C.ADDI4SPN and the loads and stores with x8-x15 operands.
#[inline]
fn expand_q0(p: Parcel) -> Option<u32> {
    let (rdp, rs1p) = (p.rdp(), p.rs1p());
    match p.funct3() {
        0 => {
            let imm =
                (p.bits(12, 11) << 4) | (p.bits(10, 7) << 6) | (p.bit(6) << 2) | (p.bit(5) << 3);
            (imm != 0).then(|| i_type(op::OP_IMM, rdp, 0, 2, imm as i32))
        }
        1 => Some(i_type(op::LOAD_FP, rdp, 3, rs1p, p.off_d())),
        2 => Some(i_type(op::LOAD, rdp, 2, rs1p, p.off_w())),
        3 => Some(i_type(op::LOAD, rdp, 3, rs1p, p.off_d())),
        5 => Some(s_type(op::STORE_FP, 3, rs1p, rdp, p.off_d())),
        6 => Some(s_type(op::STORE, 2, rs1p, rdp, p.off_w())),
        7 => Some(s_type(op::STORE, 3, rs1p, rdp, p.off_d())),
        _ => None,
    }
}

/// Quadrant 1: immediates and constants, C.ADDI16SP/C.LUI, the x8-x15 arithmetic,
/// C.J and the branches.
#[inline]
fn expand_q1(p: Parcel) -> Option<u32> {
    let (rd, imm6) = (p.rd(), p.imm6());
    match p.funct3() {
        0 => Some(i_type(op::OP_IMM, rd, 0, rd, imm6)),
        1 => (rd != 0).then(|| i_type(op::OP_IMM_32, rd, 0, rd, imm6)),
        2 => Some(i_type(op::OP_IMM, rd, 0, 0, imm6)),
        3 if rd == 2 => {
            let imm = sext(
                (p.bit(12) << 9)
                    | (p.bit(6) << 4)
                    | (p.bit(5) << 6)
                    | (p.bits(4, 3) << 7)
                    | (p.bit(2) << 5),
                10,
            );
            (imm != 0).then(|| i_type(op::OP_IMM, 2, 0, 2, imm))
        }
        3 => {
            let imm = sext((p.bit(12) << 17) | (p.bits(6, 2) << 12), 18);
            (imm != 0).then(|| u_type(op::LUI, rd, imm))
        }
        4 => expand_q1_arith(p),
        5 => {
            let imm = sext(
                (p.bit(12) << 11)
                    | (p.bit(11) << 4)
                    | (p.bits(10, 9) << 8)
                    | (p.bit(8) << 10)
                    | (p.bit(7) << 6)
                    | (p.bit(6) << 7)
                    | (p.bits(5, 3) << 1)
                    | (p.bit(2) << 5),
                12,
            );
            Some(j_type(op::JAL, 0, imm))
        }
        f3 @ (6 | 7) => {
            let imm = sext(
                (p.bit(12) << 8)
                    | (p.bits(11, 10) << 3)
                    | (p.bits(6, 5) << 6)
                    | (p.bits(4, 3) << 1)
                    | (p.bit(2) << 5),
                9,
            );
            Some(b_type(op::BRANCH, f3 - 6, p.rs1p(), 0, imm))
        }
        _ => None,
    }
}

/// Quadrant 1, funct3 4: C.SRLI, C.SRAI, C.ANDI and the register-register operations,
/// all on rd' in bits 9:7.
#[inline]
fn expand_q1_arith(p: Parcel) -> Option<u32> {
    let rdp = p.rs1p();
    let shamt = p.shamt() << 20;
    match p.bits(11, 10) {
        0 => Some(r_type(op::OP_IMM, rdp, 5, rdp, 0, 0) | shamt),
        1 => Some(r_type(op::OP_IMM, rdp, 5, rdp, 0, 0x20) | shamt),
        2 => Some(i_type(op::OP_IMM, rdp, 7, rdp, p.imm6())),
        _ => {
            let rs2p = p.rdp();
            match (p.bit(12), p.bits(6, 5)) {
                (0, 0) => Some(r_type(op::OP, rdp, 0, rdp, rs2p, 0x20)),
                (0, 1) => Some(r_type(op::OP, rdp, 4, rdp, rs2p, 0)),
                (0, 2) => Some(r_type(op::OP, rdp, 6, rdp, rs2p, 0)),
                (0, 3) => Some(r_type(op::OP, rdp, 7, rdp, rs2p, 0)),
                (1, 0) => Some(r_type(op::OP_32, rdp, 0, rdp, rs2p, 0x20)),
                (1, 1) => Some(r_type(op::OP_32, rdp, 0, rdp, rs2p, 0)),
                _ => None,
            }
        }
    }
}

/// Quadrant 2: C.SLLI, the stack-pointer loads and stores, and C.JR/C.MV/C.EBREAK/
/// C.JALR/C.ADD.
#[inline]
fn expand_q2(p: Parcel) -> Option<u32> {
    let (rd, rs2) = (p.rd(), p.rs2());
    match p.funct3() {
        0 => Some(r_type(op::OP_IMM, rd, 1, rd, 0, 0) | (p.shamt() << 20)),
        1 => {
            let off = (p.bit(12) << 5) | (p.bits(6, 5) << 3) | (p.bits(4, 2) << 6);
            Some(i_type(op::LOAD_FP, rd, 3, 2, off as i32))
        }
        2 => {
            let off = (p.bit(12) << 5) | (p.bits(6, 4) << 2) | (p.bits(3, 2) << 6);
            (rd != 0).then(|| i_type(op::LOAD, rd, 2, 2, off as i32))
        }
        3 => {
            let off = (p.bit(12) << 5) | (p.bits(6, 5) << 3) | (p.bits(4, 2) << 6);
            (rd != 0).then(|| i_type(op::LOAD, rd, 3, 2, off as i32))
        }
        4 => match (p.bit(12), rd, rs2) {
            (0, 0, 0) => None,
            (0, _, 0) => Some(i_type(op::JALR, 0, 0, rd, 0)),
            (0, _, _) => Some(r_type(op::OP, rd, 0, 0, rs2, 0)),
            (1, 0, 0) => Some(0x0010_0073),
            (1, _, 0) => Some(i_type(op::JALR, 1, 0, rd, 0)),
            _ => Some(r_type(op::OP, rd, 0, rd, rs2, 0)),
        },
        5 => {
            let off = (p.bits(12, 10) << 3) | (p.bits(9, 7) << 6);
            Some(s_type(op::STORE_FP, 3, 2, rs2, off as i32))
        }
        6 => {
            let off = (p.bits(12, 9) << 2) | (p.bits(8, 7) << 6);
            Some(s_type(op::STORE, 2, 2, rs2, off as i32))
        }
        7 => {
            let off = (p.bits(12, 10) << 3) | (p.bits(9, 7) << 6);
            Some(s_type(op::STORE, 3, 2, rs2, off as i32))
        }
        _ => None,
    }
}

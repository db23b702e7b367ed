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

    /// Whether the JIT compiles the op into blocks (the rest ends a block and runs in
    /// the interpreter).
    pub fn jit_compiles(self) -> bool {
        use OpKind::*;
        matches!(
            self,
            Lui | Auipc
                | Jal
                | Jalr
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

fn decode32(w: u32) -> Op {
    let rd = ((w >> 7) & 31) as u8;
    let rs1 = ((w >> 15) & 31) as u8;
    let rs2 = ((w >> 20) & 31) as u8;
    let f3 = (w >> 12) & 7;
    let f7 = w >> 25;
    let imm_i = (w as i32) >> 20;
    let imm_s = ((w as i32) >> 20 & !0x1f) | ((w >> 7) & 0x1f) as i32;
    let imm_b = sext(
        ((w >> 31) << 12)
            | (((w >> 7) & 1) << 11)
            | (((w >> 25) & 0x3f) << 5)
            | (((w >> 8) & 0xf) << 1),
        13,
    );
    let imm_j = sext(
        ((w >> 31) << 20)
            | (((w >> 12) & 0xff) << 12)
            | (((w >> 20) & 1) << 11)
            | (((w >> 21) & 0x3ff) << 1),
        21,
    );
    let mk = |k: OpKind, imm: i32| Op {
        k,
        rd,
        rs1,
        rs2,
        imm,
        raw: w,
        len: 4,
    };
    let bad = Op::illegal(w);
    match w & 0x7f {
        op::LUI => mk(OpKind::Lui, (w & 0xffff_f000) as i32),
        op::AUIPC => mk(OpKind::Auipc, (w & 0xffff_f000) as i32),
        op::JAL => mk(OpKind::Jal, imm_j),
        op::JALR if f3 == 0 => mk(OpKind::Jalr, imm_i),
        op::BRANCH => {
            let k = match f3 {
                0 => OpKind::Beq,
                1 => OpKind::Bne,
                4 => OpKind::Blt,
                5 => OpKind::Bge,
                6 => OpKind::Bltu,
                7 => OpKind::Bgeu,
                _ => return bad,
            };
            mk(k, imm_b)
        }
        op::LOAD => {
            let k = match f3 {
                0 => OpKind::Lb,
                1 => OpKind::Lh,
                2 => OpKind::Lw,
                3 => OpKind::Ld,
                4 => OpKind::Lbu,
                5 => OpKind::Lhu,
                6 => OpKind::Lwu,
                _ => return bad,
            };
            mk(k, imm_i)
        }
        op::STORE => {
            let k = match f3 {
                0 => OpKind::Sb,
                1 => OpKind::Sh,
                2 => OpKind::Sw,
                3 => OpKind::Sd,
                _ => return bad,
            };
            mk(k, imm_s)
        }
        op::OP_IMM => {
            let shamt = ((w >> 20) & 0x3f) as i32;
            let f6 = w >> 26;
            match f3 {
                0 => mk(OpKind::Addi, imm_i),
                2 => mk(OpKind::Slti, imm_i),
                3 => mk(OpKind::Sltiu, imm_i),
                4 => mk(OpKind::Xori, imm_i),
                6 => mk(OpKind::Ori, imm_i),
                7 => mk(OpKind::Andi, imm_i),
                1 if f6 == 0 => mk(OpKind::Slli, shamt),
                5 if f6 == 0 => mk(OpKind::Srli, shamt),
                5 if f6 == 0x10 => mk(OpKind::Srai, shamt),
                _ => bad,
            }
        }
        op::OP_IMM_32 => {
            let shamt = ((w >> 20) & 0x1f) as i32;
            match (f3, f7) {
                (0, _) => mk(OpKind::Addiw, imm_i),
                (1, 0) => mk(OpKind::Slliw, shamt),
                (5, 0) => mk(OpKind::Srliw, shamt),
                (5, 0x20) => mk(OpKind::Sraiw, shamt),
                _ => bad,
            }
        }
        op::OP => {
            let k = match (f7, f3) {
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
                _ => return bad,
            };
            mk(k, 0)
        }
        op::OP_32 => {
            let k = match (f7, f3) {
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
                _ => return bad,
            };
            mk(k, 0)
        }
        op::MISC_MEM => match f3 {
            0 => mk(OpKind::Fence, 0),
            1 => mk(OpKind::FenceI, 0),
            _ => bad,
        },
        op::SYSTEM => match f3 {
            0 => match w {
                0x0000_0073 => mk(OpKind::Ecall, 0),
                0x0010_0073 => mk(OpKind::Ebreak, 0),
                0x3020_0073 => mk(OpKind::Mret, 0),
                0x1020_0073 => mk(OpKind::Sret, 0),
                0x1050_0073 => mk(OpKind::Wfi, 0),
                _ if f7 == 0x09 && rd == 0 => mk(OpKind::SfenceVma, 0),
                _ => bad,
            },
            1 => mk(OpKind::Csrrw, (w >> 20) as i32),
            2 => mk(OpKind::Csrrs, (w >> 20) as i32),
            3 => mk(OpKind::Csrrc, (w >> 20) as i32),
            5 => mk(OpKind::Csrrwi, (w >> 20) as i32),
            6 => mk(OpKind::Csrrsi, (w >> 20) as i32),
            7 => mk(OpKind::Csrrci, (w >> 20) as i32),
            _ => bad,
        },
        op::AMO => {
            let wide = match f3 {
                2 => false,
                3 => true,
                _ => return bad,
            };
            let f5 = w >> 27;
            let amo = |a: AmoOp| mk(if wide { OpKind::AmoD } else { OpKind::AmoW }, a as i32);
            match f5 {
                0x02 if rs2 == 0 => mk(if wide { OpKind::LrD } else { OpKind::LrW }, 0),
                0x03 => mk(if wide { OpKind::ScD } else { OpKind::ScW }, 0),
                0x01 => amo(AmoOp::Swap),
                0x00 => amo(AmoOp::Add),
                0x04 => amo(AmoOp::Xor),
                0x0c => amo(AmoOp::And),
                0x08 => amo(AmoOp::Or),
                0x10 => amo(AmoOp::Min),
                0x14 => amo(AmoOp::Max),
                0x18 => amo(AmoOp::Minu),
                0x1c => amo(AmoOp::Maxu),
                _ => bad,
            }
        }
        op::LOAD_FP => match f3 {
            2 => mk(OpKind::Flw, imm_i),
            3 => mk(OpKind::Fld, imm_i),
            _ => bad,
        },
        op::STORE_FP => match f3 {
            2 => mk(OpKind::Fsw, imm_s),
            3 => mk(OpKind::Fsd, imm_s),
            _ => bad,
        },
        0x53 | 0x43 | 0x47 | 0x4b | 0x4f => mk(OpKind::FpOp, 0),
        _ => bad,
    }
}

/// Expand an RV64C parcel to the equivalent 32-bit instruction; `None` for reserved and
/// illegal encodings (including the all-zero parcel).
pub fn expand_rvc(p: u16) -> Option<u32> {
    let p = p as u32;
    let bit = |n: u32| (p >> n) & 1;
    let bits = |hi: u32, lo: u32| (p >> lo) & ((1 << (hi - lo + 1)) - 1);
    let f3 = bits(15, 13);
    let rd = bits(11, 7);
    let rs2 = bits(6, 2);
    let rdp = bits(4, 2) + 8;
    let rs1p = bits(9, 7) + 8;
    // imm[5] at bit 12, imm[4:0] at bits 6:2, sign-extended (C.ADDI, C.LI, C.ANDI, ...).
    let imm6 = sext((bit(12) << 5) | bits(6, 2), 6);
    let shamt = ((bit(12) << 5) | bits(6, 2)) as i32;
    // Offsets of C.LD/C.SD/C.FLD/C.FSD: uimm[5:3] at 12:10, uimm[7:6] at 6:5.
    let off_d = ((bits(12, 10) << 3) | (bits(6, 5) << 6)) as i32;
    // Offsets of C.LW/C.SW: uimm[5:3] at 12:10, uimm[2] at 6, uimm[6] at 5.
    let off_w = ((bits(12, 10) << 3) | (bit(6) << 2) | (bit(5) << 6)) as i32;
    match (p & 3, f3) {
        (0, 0) => {
            let imm = (bits(12, 11) << 4) | (bits(10, 7) << 6) | (bit(6) << 2) | (bit(5) << 3);
            (imm != 0).then(|| i_type(op::OP_IMM, rdp, 0, 2, imm as i32))
        }
        (0, 1) => Some(i_type(op::LOAD_FP, rdp, 3, rs1p, off_d)),
        (0, 2) => Some(i_type(op::LOAD, rdp, 2, rs1p, off_w)),
        (0, 3) => Some(i_type(op::LOAD, rdp, 3, rs1p, off_d)),
        (0, 5) => Some(s_type(op::STORE_FP, 3, rs1p, rdp, off_d)),
        (0, 6) => Some(s_type(op::STORE, 2, rs1p, rdp, off_w)),
        (0, 7) => Some(s_type(op::STORE, 3, rs1p, rdp, off_d)),
        (1, 0) => Some(i_type(op::OP_IMM, rd, 0, rd, imm6)),
        (1, 1) => (rd != 0).then(|| i_type(op::OP_IMM_32, rd, 0, rd, imm6)),
        (1, 2) => Some(i_type(op::OP_IMM, rd, 0, 0, imm6)),
        (1, 3) if rd == 2 => {
            let imm = sext(
                (bit(12) << 9) | (bit(6) << 4) | (bit(5) << 6) | (bits(4, 3) << 7) | (bit(2) << 5),
                10,
            );
            (imm != 0).then(|| i_type(op::OP_IMM, 2, 0, 2, imm))
        }
        (1, 3) => {
            let imm = sext((bit(12) << 17) | (bits(6, 2) << 12), 18);
            (imm != 0).then(|| u_type(op::LUI, rd, imm))
        }
        (1, 4) => {
            let rdp = rs1p;
            match bits(11, 10) {
                0 => Some(r_type(op::OP_IMM, rdp, 5, rdp, 0, 0) | ((shamt as u32) << 20)),
                1 => Some(r_type(op::OP_IMM, rdp, 5, rdp, 0, 0x20) | ((shamt as u32) << 20)),
                2 => Some(i_type(op::OP_IMM, rdp, 7, rdp, imm6)),
                _ => {
                    let rs2p = bits(4, 2) + 8;
                    match (bit(12), bits(6, 5)) {
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
        (1, 5) => {
            let imm = sext(
                (bit(12) << 11)
                    | (bit(11) << 4)
                    | (bits(10, 9) << 8)
                    | (bit(8) << 10)
                    | (bit(7) << 6)
                    | (bit(6) << 7)
                    | (bits(5, 3) << 1)
                    | (bit(2) << 5),
                12,
            );
            Some(j_type(op::JAL, 0, imm))
        }
        (1, 6) | (1, 7) => {
            let imm = sext(
                (bit(12) << 8)
                    | (bits(11, 10) << 3)
                    | (bits(6, 5) << 6)
                    | (bits(4, 3) << 1)
                    | (bit(2) << 5),
                9,
            );
            Some(b_type(op::BRANCH, f3 - 6, rs1p, 0, imm))
        }
        (2, 0) => Some(r_type(op::OP_IMM, rd, 1, rd, 0, 0) | ((shamt as u32) << 20)),
        (2, 1) => {
            let off = (bit(12) << 5) | (bits(6, 5) << 3) | (bits(4, 2) << 6);
            Some(i_type(op::LOAD_FP, rd, 3, 2, off as i32))
        }
        (2, 2) => {
            let off = (bit(12) << 5) | (bits(6, 4) << 2) | (bits(3, 2) << 6);
            (rd != 0).then(|| i_type(op::LOAD, rd, 2, 2, off as i32))
        }
        (2, 3) => {
            let off = (bit(12) << 5) | (bits(6, 5) << 3) | (bits(4, 2) << 6);
            (rd != 0).then(|| i_type(op::LOAD, rd, 3, 2, off as i32))
        }
        (2, 4) => match (bit(12), rd, rs2) {
            (0, 0, 0) => None,
            (0, _, 0) => Some(i_type(op::JALR, 0, 0, rd, 0)),
            (0, _, _) => Some(r_type(op::OP, rd, 0, 0, rs2, 0)),
            (1, 0, 0) => Some(0x0010_0073),
            (1, _, 0) => Some(i_type(op::JALR, 1, 0, rd, 0)),
            _ => Some(r_type(op::OP, rd, 0, rd, rs2, 0)),
        },
        (2, 5) => {
            let off = (bits(12, 10) << 3) | (bits(9, 7) << 6);
            Some(s_type(op::STORE_FP, 3, 2, rs2, off as i32))
        }
        (2, 6) => {
            let off = (bits(12, 9) << 2) | (bits(8, 7) << 6);
            Some(s_type(op::STORE, 2, 2, rs2, off as i32))
        }
        (2, 7) => {
            let off = (bits(12, 10) << 3) | (bits(9, 7) << 6);
            Some(s_type(op::STORE, 3, 2, rs2, off as i32))
        }
        _ => None,
    }
}

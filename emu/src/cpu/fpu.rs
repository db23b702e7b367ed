//! The F and D extensions: every OP-FP and fused multiply-add instruction, bit-exact.
//!
//! Arithmetic, conversions and comparisons are [`ieee754`]: IEEE 754 binary32/binary64
//! in software with RISC-V's choices built in — every NaN result is the canonical NaN,
//! tininess is detected after rounding, float-to-integer conversions saturate as the
//! unprivileged spec's table says. What this file adds is the instruction set around it:
//! the encodings, rounding-mode selection, NaN boxing, minimumNumber/maximumNumber, sign
//! injection, FCLASS and the raw moves, all on bit patterns. The exception flags an
//! operation raises go straight into the hart's `fflags`: there is no global state.

mod ieee754;

use ieee754::{IntFormat, Rounding};
use std::cmp::Ordering;

pub use ieee754::{FLAG_DZ, FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF};

/// The canonical NaNs RISC-V produces for every NaN result (payloads never propagate).
pub const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
pub const CANONICAL_NAN_D: u64 = 0x7ff8_0000_0000_0000;

/// The floating-point register file and fcsr of one hart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    pub f: [u64; 32],
    /// Accrued exceptions, NX=1 UF=2 OF=4 DZ=8 NV=16.
    pub fflags: u8,
    /// Dynamic rounding mode (fcsr.frm), used when an instruction's rm field is 7.
    pub frm: u8,
}

const OPCODE_OP_FP: u32 = 0x53;
const OPCODE_FMADD: u32 = 0x43;
const OPCODE_FMSUB: u32 = 0x47;
const OPCODE_FNMSUB: u32 = 0x4b;
const OPCODE_FNMADD: u32 = 0x4f;

const RM_DYN: u32 = 7;

/// The fields of an R-type or R4-type floating-point instruction.
#[derive(Clone, Copy)]
struct Fields {
    rd: usize,
    /// funct3: a rounding mode, or an opcode extension for instructions without one.
    rm: u32,
    rs1: usize,
    rs2: usize,
    rs3: usize,
    /// 0 = S, 1 = D (2 = H and 3 = Q are not implemented).
    fmt: u32,
    /// Bits 31:27, the operation of an OP-FP instruction.
    funct5: u32,
}

impl Fields {
    fn decode(insn: u32) -> Self {
        Fields {
            rd: ((insn >> 7) & 0x1f) as usize,
            rm: (insn >> 12) & 0x7,
            rs1: ((insn >> 15) & 0x1f) as usize,
            rs2: ((insn >> 20) & 0x1f) as usize,
            rs3: (insn >> 27) as usize,
            fmt: (insn >> 25) & 0x3,
            funct5: insn >> 27,
        }
    }

    /// The rounding mode this instruction uses; reserved modes (5, 6, or dyn with an
    /// frm of 5..7) make the instruction illegal.
    fn rounding(&self, frm: u8) -> Result<Rounding, ()> {
        let rm = if self.rm == RM_DYN {
            u32::from(frm)
        } else {
            self.rm
        };
        match rm {
            0 => Ok(Rounding::NearestEven),
            1 => Ok(Rounding::TowardZero),
            2 => Ok(Rounding::Down),
            3 => Ok(Rounding::Up),
            4 => Ok(Rounding::NearestMaxMagnitude),
            _ => Err(()),
        }
    }
}

/// Execute one OP-FP (opcode 0x53) or fused multiply-add (0x43 FMADD, 0x47 FMSUB,
/// 0x4b FNMSUB, 0x4f FNMADD) instruction — not loads/stores, which the hart does. Reads/writes
/// `fp.f`, accumulates `fp.fflags` (NX=1, UF=2, OF=4, DZ=8, NV=16), uses `fp.frm` when rm == 7
/// (dyn). Writes `x[rd]` for instructions with an integer destination (never writes x[0]).
/// Err(()) = illegal instruction (undefined encoding, reserved rounding mode 5/6, or dyn
/// with frm >= 5). An illegal instruction changes nothing.
// The one failure is "illegal instruction", which the hart turns into its trap with the
// instruction bits it already holds: an error type would carry nothing.
#[allow(clippy::result_unit_err)]
pub fn execute(insn: u32, fp: &mut FpState, x: &mut [u64; 32]) -> Result<(), ()> {
    let fields = Fields::decode(insn);
    match (insn & 0x7f, fields.fmt) {
        (OPCODE_OP_FP, _) if fields.funct5 == 0x08 => convert_between_formats(fields, fp),
        (OPCODE_OP_FP, 0) => op_fp::<Single>(fields, fp, x),
        (OPCODE_OP_FP, 1) => op_fp::<Double>(fields, fp, x),
        (OPCODE_FMADD | OPCODE_FMSUB | OPCODE_FNMSUB | OPCODE_FNMADD, 0) => {
            fused::<Single>(insn & 0x7f, fields, fp)
        }
        (OPCODE_FMADD | OPCODE_FMSUB | OPCODE_FNMSUB | OPCODE_FNMADD, 1) => {
            fused::<Double>(insn & 0x7f, fields, fp)
        }
        _ => Err(()),
    }
}

/// What differs between single and double precision beyond the IEEE format: how a value
/// sits in a 64-bit f register, and the raw moves to and from x registers. Values are
/// the format's bits in a `u64` (single: the low 32 bits).
trait Format: ieee754::Format {
    /// The operand an instruction sees in `reg` (single: not NaN-boxed = canonical NaN).
    fn read(reg: u64) -> u64;
    /// The register value for a result (single: NaN-boxed).
    fn write(value: u64) -> u64;
    /// FMV.X.W / FMV.X.D: the raw low bits, ignoring boxing, sign-extended to XLEN.
    fn move_to_int(reg: u64) -> u64;
    /// FMV.W.X / FMV.D.X.
    fn move_from_int(value: u64) -> u64;
}

struct Single;
struct Double;

const BOX_ONES: u64 = 0xffff_ffff_0000_0000;

impl ieee754::Format for Single {
    const EXP_BITS: u32 = 8;
    const FRAC_BITS: u32 = 23;
}

impl Format for Single {
    fn read(reg: u64) -> u64 {
        if reg & BOX_ONES == BOX_ONES {
            reg & 0xffff_ffff
        } else {
            u64::from(CANONICAL_NAN_S)
        }
    }
    fn write(value: u64) -> u64 {
        BOX_ONES | value
    }
    fn move_to_int(reg: u64) -> u64 {
        reg as u32 as i32 as i64 as u64
    }
    fn move_from_int(value: u64) -> u64 {
        BOX_ONES | (value & 0xffff_ffff)
    }
}

impl ieee754::Format for Double {
    const EXP_BITS: u32 = 11;
    const FRAC_BITS: u32 = 52;
}

impl Format for Double {
    fn read(reg: u64) -> u64 {
        reg
    }
    fn write(value: u64) -> u64 {
        value
    }
    fn move_to_int(reg: u64) -> u64 {
        reg
    }
    fn move_from_int(value: u64) -> u64 {
        value
    }
}

fn write_x(x: &mut [u64; 32], rd: usize, value: u64) {
    if rd != 0 {
        x[rd] = value;
    }
}

fn is_nan<F: Format>(bits: u64) -> bool {
    bits & F::EXP_MASK == F::EXP_MASK && bits & F::FRAC_MASK != 0
}

fn is_signaling_nan<F: Format>(bits: u64) -> bool {
    is_nan::<F>(bits) && bits & F::QUIET_BIT == 0
}

/// All OP-FP instructions of one format except FCVT.S.D / FCVT.D.S.
fn op_fp<F: Format>(i: Fields, fp: &mut FpState, x: &mut [u64; 32]) -> Result<(), ()> {
    let a = F::read(fp.f[i.rs1]);
    let b = F::read(fp.f[i.rs2]);
    let flags = &mut fp.fflags;
    let result = match i.funct5 {
        0x00 => ieee754::add::<F>(a, b, i.rounding(fp.frm)?, flags),
        0x01 => ieee754::sub::<F>(a, b, i.rounding(fp.frm)?, flags),
        0x02 => ieee754::mul::<F>(a, b, i.rounding(fp.frm)?, flags),
        0x03 => ieee754::div::<F>(a, b, i.rounding(fp.frm)?, flags),
        0x0b if i.rs2 == 0 => ieee754::sqrt::<F>(a, i.rounding(fp.frm)?, flags),
        0x04 => sign_inject::<F>(i.rm, a, b)?,
        0x05 => min_max::<F>(i.rm, a, b, flags)?,
        0x14 => {
            let holds = match i.rm {
                0 => ieee754::le::<F>(a, b, flags),
                1 => ieee754::lt::<F>(a, b, flags),
                2 => ieee754::eq::<F>(a, b, flags),
                _ => return Err(()),
            };
            write_x(x, i.rd, u64::from(holds));
            return Ok(());
        }
        0x18 => {
            let rm = i.rounding(fp.frm)?;
            let mut to_int = |int| ieee754::to_int::<F>(a, int, rm, flags);
            // W and WU results are sign-extended from bit 31, like every 32-bit result.
            let value = match i.rs2 {
                0 => to_int(IntFormat::I32) as i32 as i64 as u64,
                1 => to_int(IntFormat::U32) as u32 as i32 as i64 as u64,
                2 => to_int(IntFormat::I64) as i64 as u64,
                3 => to_int(IntFormat::U64) as u64,
                _ => return Err(()),
            };
            write_x(x, i.rd, value);
            return Ok(());
        }
        0x1a => {
            let rm = i.rounding(fp.frm)?;
            let src = x[i.rs1];
            let (negative, magnitude) = match i.rs2 {
                0 => ((src as i32) < 0, u64::from((src as i32).unsigned_abs())),
                1 => (false, u64::from(src as u32)),
                2 => ((src as i64) < 0, (src as i64).unsigned_abs()),
                3 => (false, src),
                _ => return Err(()),
            };
            ieee754::from_int::<F>(negative, magnitude, rm, flags)
        }
        0x1c if i.rs2 == 0 => {
            let value = match i.rm {
                0 => F::move_to_int(fp.f[i.rs1]),
                1 => classify::<F>(a),
                _ => return Err(()),
            };
            write_x(x, i.rd, value);
            return Ok(());
        }
        0x1e if i.rs2 == 0 && i.rm == 0 => {
            fp.f[i.rd] = F::move_from_int(x[i.rs1]);
            return Ok(());
        }
        _ => return Err(()),
    };
    fp.f[i.rd] = F::write(result);
    Ok(())
}

/// FSGNJ / FSGNJN / FSGNJX: pure bit operations, NaNs pass through unchanged and no
/// flag is raised.
fn sign_inject<F: Format>(rm: u32, a: u64, b: u64) -> Result<u64, ()> {
    let sign = match rm {
        0 => b & F::SIGN,
        1 => !b & F::SIGN,
        2 => (a ^ b) & F::SIGN,
        _ => return Err(()),
    };
    Ok((a & !F::SIGN) | sign)
}

/// FMIN / FMAX as IEEE 754-2019 minimumNumber / maximumNumber: a NaN operand loses to a
/// number, -0 is below +0, only a signaling NaN raises NV.
fn min_max<F: Format>(rm: u32, a: u64, b: u64, flags: &mut u8) -> Result<u64, ()> {
    let want_max = match rm {
        0 => false,
        1 => true,
        _ => return Err(()),
    };
    if is_signaling_nan::<F>(a) || is_signaling_nan::<F>(b) {
        *flags |= FLAG_NV;
    }
    Ok(match (is_nan::<F>(a), is_nan::<F>(b)) {
        (true, true) => F::CANONICAL_NAN,
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            let a_below = match ieee754::compare::<F>(a, b) {
                Some(Ordering::Equal) => a & F::SIGN != 0,
                order => order == Some(Ordering::Less),
            };
            if a_below != want_max {
                a
            } else {
                b
            }
        }
    })
}

/// FCLASS: a one-hot mask of the operand's class.
fn classify<F: Format>(bits: u64) -> u64 {
    let negative = bits & F::SIGN != 0;
    let exp = bits & F::EXP_MASK;
    let frac = bits & F::FRAC_MASK;
    let bit = if exp == F::EXP_MASK {
        match (frac, negative) {
            (0, true) => 0,
            (0, false) => 7,
            _ if frac & F::QUIET_BIT == 0 => 8,
            _ => 9,
        }
    } else if exp == 0 {
        match (frac, negative) {
            (0, true) => 3,
            (0, false) => 4,
            (_, true) => 2,
            (_, false) => 5,
        }
    } else if negative {
        1
    } else {
        6
    };
    1 << bit
}

/// FCVT.S.D (fmt S, rs2 = 1) and FCVT.D.S (fmt D, rs2 = 0).
fn convert_between_formats(i: Fields, fp: &mut FpState) -> Result<(), ()> {
    // FCVT.D.S is exact, but its rm field is still decoded: a reserved mode is illegal.
    let rm = i.rounding(fp.frm)?;
    let flags = &mut fp.fflags;
    fp.f[i.rd] = match (i.fmt, i.rs2) {
        (0, 1) => {
            let a = Double::read(fp.f[i.rs1]);
            Single::write(ieee754::convert::<Double, Single>(a, rm, flags))
        }
        (1, 0) => {
            let a = Single::read(fp.f[i.rs1]);
            Double::write(ieee754::convert::<Single, Double>(a, rm, flags))
        }
        _ => return Err(()),
    };
    Ok(())
}

/// FMADD / FMSUB / FNMSUB / FNMADD with one rounding. The negations are applied to the
/// operands (not the result) so that signed zeros and the rounding direction come out
/// as the spec defines: FNMSUB = -(a*b) + c, FNMADD = -(a*b) - c. Flipping a NaN's sign
/// is harmless: every NaN result is canonical and signalling-ness is kept.
fn fused<F: Format>(opcode: u32, i: Fields, fp: &mut FpState) -> Result<(), ()> {
    let rm = i.rounding(fp.frm)?;
    let a = F::read(fp.f[i.rs1]);
    let b = F::read(fp.f[i.rs2]);
    let c = F::read(fp.f[i.rs3]);
    let (a, c) = match opcode {
        OPCODE_FMADD => (a, c),
        OPCODE_FMSUB => (a, c ^ F::SIGN),
        OPCODE_FNMSUB => (a ^ F::SIGN, c),
        _ => (a ^ F::SIGN, c ^ F::SIGN),
    };
    fp.f[i.rd] = F::write(ieee754::mul_add::<F>(a, b, c, rm, &mut fp.fflags));
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod differential_tests;

//! The F and D extensions: every OP-FP and fused multiply-add instruction, bit-exact.
//!
//! Arithmetic, conversions and comparisons go to Berkeley SoftFloat 3 compiled with its
//! RISC-V specialisation (through `softfloat-wrapper`, feature `riscv`): that
//! specialisation is what makes every NaN result the canonical NaN, detects tininess
//! after rounding, and saturates float-to-integer conversions exactly as the
//! unprivileged spec's table says. What SoftFloat does not know about — NaN boxing,
//! the instruction encodings, minimumNumber/maximumNumber, sign injection, FCLASS and the
//! raw moves — is done here on bit patterns.
//!
//! SoftFloat keeps its rounding mode and exception flags in C thread-locals. Every
//! operation here clears the flags, runs, and folds what was raised into `fflags`, all on
//! the calling thread, so harts running on different threads cannot see each other's
//! flags.

use softfloat_wrapper::{ExceptionFlags, Float, RoundingMode, F32, F64};

/// fflags bits (the same values as SoftFloat's `softfloat_flag_*`).
pub const FLAG_NX: u8 = 1;
pub const FLAG_UF: u8 = 2;
pub const FLAG_OF: u8 = 4;
pub const FLAG_DZ: u8 = 8;
pub const FLAG_NV: u8 = 16;
const ALL_FLAGS: u8 = FLAG_NX | FLAG_UF | FLAG_OF | FLAG_DZ | FLAG_NV;

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
    fn rounding(&self, frm: u8) -> Result<RoundingMode, ()> {
        let rm = if self.rm == RM_DYN {
            u32::from(frm)
        } else {
            self.rm
        };
        match rm {
            0 => Ok(RoundingMode::TiesToEven),
            1 => Ok(RoundingMode::TowardZero),
            2 => Ok(RoundingMode::TowardNegative),
            3 => Ok(RoundingMode::TowardPositive),
            4 => Ok(RoundingMode::TiesToAway),
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

/// What differs between single and double precision: the SoftFloat type, how a value
/// sits in a 64-bit f register, and the raw moves to and from x registers.
trait Format {
    type Soft: Float + Copy;
    /// The operand an instruction sees in `reg` (single: not NaN-boxed = canonical NaN).
    fn read(reg: u64) -> Self::Soft;
    /// The register value for a result (single: NaN-boxed).
    fn write(value: Self::Soft) -> u64;
    fn canonical_nan() -> Self::Soft;
    /// The raw bits of the value for sign injection and classification.
    fn bits(value: Self::Soft) -> u64;
    fn from_bits(bits: u64) -> Self::Soft;
    const SIGN: u64;
    const EXP_MASK: u64;
    const FRAC_MASK: u64;
    const QUIET_BIT: u64;
    /// FMV.X.W / FMV.X.D: the raw low bits, ignoring boxing, sign-extended to XLEN.
    fn move_to_int(reg: u64) -> u64;
    /// FMV.W.X / FMV.D.X.
    fn move_from_int(value: u64) -> u64;
}

struct Single;
struct Double;

const BOX_ONES: u64 = 0xffff_ffff_0000_0000;

impl Format for Single {
    type Soft = F32;
    fn read(reg: u64) -> F32 {
        if reg & BOX_ONES == BOX_ONES {
            F32::from_bits(reg as u32)
        } else {
            F32::from_bits(CANONICAL_NAN_S)
        }
    }
    fn write(value: F32) -> u64 {
        BOX_ONES | u64::from(value.to_bits())
    }
    fn canonical_nan() -> F32 {
        F32::from_bits(CANONICAL_NAN_S)
    }
    fn bits(value: F32) -> u64 {
        u64::from(value.to_bits())
    }
    fn from_bits(bits: u64) -> F32 {
        F32::from_bits(bits as u32)
    }
    const SIGN: u64 = 1 << 31;
    const EXP_MASK: u64 = 0x7f80_0000;
    const FRAC_MASK: u64 = 0x007f_ffff;
    const QUIET_BIT: u64 = 1 << 22;
    fn move_to_int(reg: u64) -> u64 {
        reg as u32 as i32 as i64 as u64
    }
    fn move_from_int(value: u64) -> u64 {
        BOX_ONES | (value & 0xffff_ffff)
    }
}

impl Format for Double {
    type Soft = F64;
    fn read(reg: u64) -> F64 {
        F64::from_bits(reg)
    }
    fn write(value: F64) -> u64 {
        value.to_bits()
    }
    fn canonical_nan() -> F64 {
        F64::from_bits(CANONICAL_NAN_D)
    }
    fn bits(value: F64) -> u64 {
        value.to_bits()
    }
    fn from_bits(bits: u64) -> F64 {
        F64::from_bits(bits)
    }
    const SIGN: u64 = 1 << 63;
    const EXP_MASK: u64 = 0x7ff0_0000_0000_0000;
    const FRAC_MASK: u64 = 0x000f_ffff_ffff_ffff;
    const QUIET_BIT: u64 = 1 << 51;
    fn move_to_int(reg: u64) -> u64 {
        reg
    }
    fn move_from_int(value: u64) -> u64 {
        value
    }
}

/// Run one SoftFloat operation with the flags cleared first, and accrue what it raised.
fn accrue<T>(fp: &mut FpState, op: impl FnOnce() -> T) -> T {
    ExceptionFlags::default().set();
    let result = op();
    let mut raised = ExceptionFlags::default();
    raised.get();
    fp.fflags |= raised.to_bits() & ALL_FLAGS;
    result
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
    let result = match i.funct5 {
        0x00 => {
            let rm = i.rounding(fp.frm)?;
            accrue(fp, || a.add(b, rm))
        }
        0x01 => {
            let rm = i.rounding(fp.frm)?;
            accrue(fp, || a.sub(b, rm))
        }
        0x02 => {
            let rm = i.rounding(fp.frm)?;
            accrue(fp, || a.mul(b, rm))
        }
        0x03 => {
            let rm = i.rounding(fp.frm)?;
            accrue(fp, || a.div(b, rm))
        }
        0x0b if i.rs2 == 0 => {
            let rm = i.rounding(fp.frm)?;
            accrue(fp, || a.sqrt(rm))
        }
        0x04 => sign_inject::<F>(i.rm, a, b)?,
        0x05 => min_max::<F>(i.rm, a, b, fp)?,
        0x14 => {
            let holds = match i.rm {
                0 => accrue(fp, || a.le(b)),
                1 => accrue(fp, || a.lt(b)),
                2 => accrue(fp, || a.eq(b)),
                _ => return Err(()),
            };
            write_x(x, i.rd, u64::from(holds));
            return Ok(());
        }
        0x18 => {
            let rm = i.rounding(fp.frm)?;
            let value = match i.rs2 {
                0 => accrue(fp, || a.to_i32(rm, true)) as i64 as u64,
                1 => accrue(fp, || a.to_u32(rm, true)) as i32 as i64 as u64,
                2 => accrue(fp, || a.to_i64(rm, true)) as u64,
                3 => accrue(fp, || a.to_u64(rm, true)),
                _ => return Err(()),
            };
            write_x(x, i.rd, value);
            return Ok(());
        }
        0x1a => {
            let rm = i.rounding(fp.frm)?;
            let src = x[i.rs1];
            match i.rs2 {
                0 => accrue(fp, || F::Soft::from_i32(src as i32, rm)),
                1 => accrue(fp, || F::Soft::from_u32(src as u32, rm)),
                2 => accrue(fp, || F::Soft::from_i64(src as i64, rm)),
                3 => accrue(fp, || F::Soft::from_u64(src, rm)),
                _ => return Err(()),
            }
        }
        0x1c if i.rs2 == 0 => {
            let value = match i.rm {
                0 => F::move_to_int(fp.f[i.rs1]),
                1 => classify::<F>(F::bits(a)),
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
fn sign_inject<F: Format>(rm: u32, a: F::Soft, b: F::Soft) -> Result<F::Soft, ()> {
    let a = F::bits(a);
    let b = F::bits(b);
    let sign = match rm {
        0 => b & F::SIGN,
        1 => !b & F::SIGN,
        2 => (a ^ b) & F::SIGN,
        _ => return Err(()),
    };
    Ok(F::from_bits((a & !F::SIGN) | sign))
}

/// FMIN / FMAX as IEEE 754-2019 minimumNumber / maximumNumber: a NaN operand loses to a
/// number, -0 is below +0, only a signaling NaN raises NV.
fn min_max<F: Format>(rm: u32, a: F::Soft, b: F::Soft, fp: &mut FpState) -> Result<F::Soft, ()> {
    let want_max = match rm {
        0 => false,
        1 => true,
        _ => return Err(()),
    };
    let (a_bits, b_bits) = (F::bits(a), F::bits(b));
    if is_signaling_nan::<F>(a_bits) || is_signaling_nan::<F>(b_bits) {
        fp.fflags |= FLAG_NV;
    }
    Ok(match (is_nan::<F>(a_bits), is_nan::<F>(b_bits)) {
        (true, true) => F::canonical_nan(),
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            // Quiet comparison: no NaN is left, so no flag can be raised.
            let a_below = a.lt_quiet(b) || (a.eq(b) && a_bits & F::SIGN != 0);
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
    match (i.fmt, i.rs2) {
        (0, 1) => {
            let rm = i.rounding(fp.frm)?;
            let a = Double::read(fp.f[i.rs1]);
            let result = accrue(fp, || a.to_f32(rm));
            fp.f[i.rd] = Single::write(result);
        }
        (1, 0) => {
            // Exact, but the rm field is still decoded: a reserved mode is illegal.
            let rm = i.rounding(fp.frm)?;
            let a = Single::read(fp.f[i.rs1]);
            let result = accrue(fp, || a.to_f64(rm));
            fp.f[i.rd] = Double::write(result);
        }
        _ => return Err(()),
    }
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
        OPCODE_FMSUB => (a, c.neg()),
        OPCODE_FNMSUB => (a.neg(), c),
        _ => (a.neg(), c.neg()),
    };
    let result = accrue(fp, || a.fused_mul_add(b, c, rm));
    fp.f[i.rd] = F::write(result);
    Ok(())
}

#[cfg(test)]
mod tests;

//! Differential tests: every arithmetic, conversion and comparison instruction, in both
//! precisions and all five rounding modes, executed by [`execute`] and by an independent
//! implementation, the `softfp` crate (written for another RISC-V emulator, r2vm: RISC-V
//! NaN and conversion rules, tininess after rounding). It shares no code with
//! `ieee754`; it keeps two rounding bits in the format's own integer type where
//! `ieee754` computes in a 128-bit window. Results (register bits) and fflags must agree
//! exactly.
//!
//! Operands are drawn from the places where floating point goes wrong: zeros,
//! subnormals, the smallest normal, the largest finite, infinities, quiet and signaling
//! NaNs, one-bit and all-ones fractions (ties and carries), exponents near 1 (cancellation)
//! and near the integer limits 2^31, 2^32, 2^63, 2^64.

use super::*;
use proptest::prelude::*;
use softfp::{ExceptionFlags, F32Desc, F64Desc, Fp, FpDesc, RoundingMode, F32, F64};
use std::cell::Cell;

// softfp reads the rounding mode and reports flags through registered functions, which
// here use this thread's cells: each test thread has its own.
thread_local! {
    static ROUNDING: Cell<RoundingMode> = const { Cell::new(RoundingMode::TiesToEven) };
    static RAISED: Cell<u8> = const { Cell::new(0) };
}

fn oracle_rounding() -> RoundingMode {
    ROUNDING.with(Cell::get)
}

fn oracle_raise(flags: ExceptionFlags) {
    // softfp's flag bits are fflags' (NX=1 .. NV=16).
    RAISED.with(|raised| raised.set(raised.get() | flags.bits() as u8));
}

const ROUNDINGS: [RoundingMode; 5] = [
    RoundingMode::TiesToEven,
    RoundingMode::TowardZero,
    RoundingMode::TowardNegative,
    RoundingMode::TowardPositive,
    RoundingMode::TiesToAway,
];

/// Runs `op` in the oracle with RISC-V rounding mode `rm`; returns its result and flags.
fn oracle<T>(rm: u32, op: impl FnOnce() -> T) -> (T, u8) {
    softfp::register_get_rounding_mode(oracle_rounding);
    softfp::register_set_exception_flags(oracle_raise);
    ROUNDING.with(|r| r.set(ROUNDINGS[rm as usize]));
    RAISED.with(|r| r.set(0));
    let result = op();
    (result, RAISED.with(Cell::get))
}

/// One precision: its instruction fmt field, the oracle's type, NaN boxing, and the
/// oracle's conversions from integers (written per precision: softfp's conversion
/// bounds name concrete holder types).
trait Precision {
    type Desc: FpDesc;
    const FMT: u32;
    const EXP_BITS: u32;
    const FRAC_BITS: u32;
    fn float(bits: u64) -> Fp<Self::Desc>;
    fn bits(value: Fp<Self::Desc>) -> u64;
    /// How a value sits in an f register.
    fn register(bits: u64) -> u64;
    /// The value as a host float (exact: f32 widens exactly).
    fn host(bits: u64) -> f64;
    /// FCVT.fmt.{W,WU,L,LU} of x1's value (32-bit sources are the low bits).
    fn from_int(v: u64, kind: u32) -> Fp<Self::Desc>;
}

struct S;
struct D;

macro_rules! oracle_conversions {
    () => {
        fn from_int(v: u64, kind: u32) -> Fp<Self::Desc> {
            match kind {
                0 => Fp::convert_from_sint::<u32>(v as u32),
                1 => Fp::convert_from_uint::<u32>(v as u32),
                2 => Fp::convert_from_sint::<u64>(v),
                _ => Fp::convert_from_uint::<u64>(v),
            }
        }
    };
}

impl Precision for S {
    type Desc = F32Desc;
    const FMT: u32 = 0;
    const EXP_BITS: u32 = 8;
    const FRAC_BITS: u32 = 23;
    fn float(bits: u64) -> F32 {
        F32::new(bits as u32)
    }
    fn bits(value: F32) -> u64 {
        u64::from(value.0)
    }
    fn register(bits: u64) -> u64 {
        0xffff_ffff_0000_0000 | bits
    }
    fn host(bits: u64) -> f64 {
        f64::from(f32::from_bits(bits as u32))
    }
    oracle_conversions!();
}

impl Precision for D {
    type Desc = F64Desc;
    const FMT: u32 = 1;
    const EXP_BITS: u32 = 11;
    const FRAC_BITS: u32 = 52;
    fn float(bits: u64) -> F64 {
        F64::new(bits)
    }
    fn bits(value: F64) -> u64 {
        value.0
    }
    fn register(bits: u64) -> u64 {
        bits
    }
    fn host(bits: u64) -> f64 {
        f64::from_bits(bits)
    }
    oracle_conversions!();
}

/// Runs one instruction with f1..f3 and x1 as operands; returns (f10, x10, fflags).
fn run(insn: u32, f: [u64; 3], x1: u64) -> (u64, u64, u8) {
    let mut fp = FpState::default();
    fp.f[1..4].copy_from_slice(&f);
    let mut x = [0; 32];
    x[1] = x1;
    execute(insn, &mut fp, &mut x).expect("a legal instruction");
    (fp.f[10], x[10], fp.fflags)
}

/// An OP-FP instruction: rd = 10, rs1 = 1, rs2 as given (a register or a selector).
fn op_fp(funct5: u32, fmt: u32, rs2: u32, rm: u32) -> u32 {
    (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (1 << 15) | (rm << 12) | (10 << 7) | 0x53
}

fn fused(opcode: u32, fmt: u32, rm: u32) -> u32 {
    (3 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (rm << 12) | (10 << 7) | opcode
}

/// Operand bits of a precision, biased towards the edges (see the module comment).
fn edge_bits<P: Precision>() -> BoxedStrategy<u64> {
    let (exp_bits, frac_bits) = (P::EXP_BITS, P::FRAC_BITS);
    let bias = (1u64 << (exp_bits - 1)) - 1;
    let exp_max = (1u64 << exp_bits) - 1;
    let frac_mask = (1u64 << frac_bits) - 1;
    let exponent = prop_oneof![
        3 => prop::sample::select(vec![
            0,
            1,
            2,
            exp_max - 1,
            exp_max,
            bias - 1,
            bias + 31,
            bias + 32,
            bias + 63,
            bias + 64,
            u64::from(frac_bits) + 1,
        ]),
        3 => bias - 3..=bias + 3,
        1 => 0..=exp_max,
    ];
    let fraction = prop_oneof![
        prop::sample::select(vec![0, 1, frac_mask, 1 << (frac_bits - 1)]),
        (0..frac_bits).prop_map(|k| 1u64 << k),
        (0..frac_bits).prop_map(move |k| frac_mask >> k),
        (0..frac_bits).prop_map(move |k| frac_mask << k & frac_mask),
        any::<u64>().prop_map(move |r| r & frac_mask),
    ];
    (any::<bool>(), exponent, fraction)
        .prop_map(move |(negative, e, f)| {
            (u64::from(negative) << (exp_bits + frac_bits)) | e << frac_bits | f
        })
        .boxed()
}

/// Integer operands: around every power of two (exact, tie and carry cases when
/// rounded to a float), the extremes of each width, and anything.
fn edge_int() -> BoxedStrategy<u64> {
    prop_oneof![
        (0..64u32, -3i64..=3).prop_map(|(k, d)| (1u64 << k).wrapping_add(d as u64)),
        (0..64u32, -3i64..=3).prop_map(|(k, d)| (1u64 << k).wrapping_add(d as u64).wrapping_neg()),
        (0..64u32, 0..64u32).prop_map(|(k, j)| (1u64 << k) | (1u64 << j) | 1),
        prop::sample::select(vec![
            0,
            u64::MAX,
            i64::MIN as u64,
            i64::MAX as u64,
            i32::MIN as i64 as u64,
            i32::MAX as u64,
            u32::MAX as u64,
        ]),
        any::<u64>(),
        any::<u32>().prop_map(|v| v as i32 as i64 as u64),
    ]
    .boxed()
}

/// FADD / FSUB / FMUL / FDIV (funct5 0..3).
fn check_arithmetic<P: Precision>(
    funct5: u32,
    rm: u32,
    a: u64,
    b: u64,
) -> Result<(), TestCaseError> {
    let (x, y) = (P::float(a), P::float(b));
    let (want, want_flags) = oracle(rm, || match funct5 {
        0 => x + y,
        1 => x - y,
        2 => x * y,
        _ => x / y,
    });
    let (f10, _, flags) = run(
        op_fp(funct5, P::FMT, 2, rm),
        [P::register(a), P::register(b), 0],
        0,
    );
    prop_assert_eq!((f10, flags), (P::register(P::bits(want)), want_flags));
    Ok(())
}

/// FSQRT. softfp raises DZ for the square root of a signaling NaN; IEEE 754 §7.2 (and
/// so RISC-V) says every operation on a signaling NaN is invalid: NV, as SoftFloat does.
fn check_sqrt<P: Precision>(rm: u32, a: u64) -> Result<(), TestCaseError> {
    let x = P::float(a);
    let (want, mut want_flags) = oracle(rm, || x.square_root());
    if x.is_signaling() {
        want_flags = FLAG_NV;
    }
    let (f10, _, flags) = run(op_fp(0x0b, P::FMT, 0, rm), [P::register(a), 0, 0], 0);
    prop_assert_eq!((f10, flags), (P::register(P::bits(want)), want_flags));
    Ok(())
}

/// FMADD / FMSUB / FNMSUB / FNMADD: ±(a × b) ± c as the spec defines them (the product
/// negated for the N forms), one rounding.
fn check_fused<P: Precision>(
    opcode: u32,
    rm: u32,
    a: u64,
    b: u64,
    c: u64,
) -> Result<(), TestCaseError> {
    let (x, y, z) = (P::float(a), P::float(b), P::float(c));
    let (x, z) = match opcode {
        0x43 => (x, z),
        0x47 => (x, -z),
        0x4b => (-x, z),
        _ => (-x, -z),
    };
    let (want, want_flags) = oracle(rm, || Fp::fused_multiply_add(x, y, z));
    let mut want = P::bits(want);
    // softfp gets the sign of an exact zero wrong when the product is a zero and the
    // addend a zero of the same sign (it gives +0 for -0 + -0 under RUP). IEEE 754 §6.3:
    // the exact sum of two like-signed zeros keeps their sign; of opposite signs it is
    // +0, or -0 under roundTowardNegative. No flag either way.
    let sign = 1u64 << (P::EXP_BITS + P::FRAC_BITS);
    let magnitude = sign - 1;
    let finite = |v: u64| (v & magnitude) >> P::FRAC_BITS != (1 << P::EXP_BITS) - 1;
    let (xb, yb, zb) = (P::bits(x), P::bits(y), P::bits(z));
    let product_is_zero =
        (xb & magnitude == 0 && finite(yb)) || (yb & magnitude == 0 && finite(xb));
    if product_is_zero && zb & magnitude == 0 {
        let product_sign = (xb ^ yb) & sign;
        want = if product_sign == zb & sign {
            product_sign
        } else if rm == 2 {
            sign
        } else {
            0
        };
    }
    let registers = [P::register(a), P::register(b), P::register(c)];
    let (f10, _, flags) = run(fused(opcode, P::FMT, rm), registers, 0);
    prop_assert_eq!((f10, flags), (P::register(want), want_flags));
    Ok(())
}

/// FCVT.{W,WU,L,LU}.fmt against their definition, computed with the host's exact
/// round-to-integral operations: round by the mode, then the result if it is in range
/// (NX when it moved), else NV and the unprivileged spec's table: the maximum for NaN and
/// positive values, the minimum for negative ones. 32-bit results are sign-extended.
/// (softfp is not used here: it converts 2^63 to 0 without a flag, a bug.)
fn check_to_int<P: Precision>(kind: u32, rm: u32, a: u64) -> Result<(), TestCaseError> {
    let value = P::host(a);
    let rounded = match rm {
        0 => value.round_ties_even(),
        1 => value.trunc(),
        2 => value.floor(),
        3 => value.ceil(),
        _ => value.round(),
    };
    let (min, max): (i128, i128) = match kind {
        0 => (i32::MIN.into(), i32::MAX.into()),
        1 => (0, u32::MAX.into()),
        2 => (i64::MIN.into(), i64::MAX.into()),
        _ => (0, u64::MAX.into()),
    };
    // |rounded| < 2^100 converts to i128 exactly.
    let in_range = rounded.abs() < 2f64.powi(100) && (min..=max).contains(&(rounded as i128));
    let (want, want_flags) = match in_range {
        true => (rounded as i128, if rounded == value { 0 } else { FLAG_NX }),
        false if value.is_nan() || value > 0.0 => (max, FLAG_NV),
        false => (min, FLAG_NV),
    };
    let want = match kind {
        0 | 1 => want as i32 as i64 as u64,
        _ => want as u64,
    };
    let (_, x10, flags) = run(op_fp(0x18, P::FMT, kind, rm), [P::register(a), 0, 0], 0);
    prop_assert_eq!((x10, flags), (want, want_flags));
    Ok(())
}

/// FCVT.fmt.{W,WU,L,LU} from x1.
fn check_from_int<P: Precision>(kind: u32, rm: u32, v: u64) -> Result<(), TestCaseError> {
    let (want, want_flags) = oracle(rm, || P::from_int(v, kind));
    let (f10, _, flags) = run(op_fp(0x1a, P::FMT, kind, rm), [0; 3], v);
    prop_assert_eq!((f10, flags), (P::register(P::bits(want)), want_flags));
    Ok(())
}

/// FLE, FLT (signaling: NV for any NaN) and FEQ (quiet). softfp's quiet comparison
/// raises nothing, but IEEE 754 §5.11 and the unprivileged spec make a signaling NaN
/// raise NV even in a quiet comparison: that part of the expectation is the spec's.
fn check_compare<P: Precision>(rm: u32, a: u64, b: u64) -> Result<(), TestCaseError> {
    let (x, y) = (P::float(a), P::float(b));
    let (holds, mut want_flags) = oracle(0, || match rm {
        0 => matches!(Fp::compare_signaling(x, y), Some(o) if o.is_le()),
        1 => matches!(Fp::compare_signaling(x, y), Some(o) if o.is_lt()),
        _ => matches!(Fp::compare_quiet(x, y), Some(o) if o.is_eq()),
    });
    if rm == 2 && (x.is_signaling() || y.is_signaling()) {
        want_flags |= FLAG_NV;
    }
    let (_, x10, flags) = run(
        op_fp(0x14, P::FMT, 2, rm),
        [P::register(a), P::register(b), 0],
        0,
    );
    prop_assert_eq!((x10, flags), (u64::from(holds), want_flags));
    Ok(())
}

/// Cases per test: each test covers 2 to 5 rounding modes and up to 4 operations, so every
/// (operation, mode) pair sees about a thousand operand sets or more.
const CASES: u32 = 20_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arithmetic_single(funct5 in 0..4u32, rm in 0..5u32, a in edge_bits::<S>(), b in edge_bits::<S>()) {
        check_arithmetic::<S>(funct5, rm, a, b)?;
    }

    #[test]
    fn arithmetic_double(funct5 in 0..4u32, rm in 0..5u32, a in edge_bits::<D>(), b in edge_bits::<D>()) {
        check_arithmetic::<D>(funct5, rm, a, b)?;
    }

    #[test]
    fn sqrt_single(rm in 0..5u32, a in edge_bits::<S>()) {
        check_sqrt::<S>(rm, a)?;
    }

    #[test]
    fn sqrt_double(rm in 0..5u32, a in edge_bits::<D>()) {
        check_sqrt::<D>(rm, a)?;
    }

    #[test]
    fn fused_single(
        opcode in prop::sample::select(vec![0x43u32, 0x47, 0x4b, 0x4f]),
        rm in 0..5u32,
        a in edge_bits::<S>(), b in edge_bits::<S>(), c in edge_bits::<S>(),
    ) {
        check_fused::<S>(opcode, rm, a, b, c)?;
    }

    #[test]
    fn fused_double(
        opcode in prop::sample::select(vec![0x43u32, 0x47, 0x4b, 0x4f]),
        rm in 0..5u32,
        a in edge_bits::<D>(), b in edge_bits::<D>(), c in edge_bits::<D>(),
    ) {
        check_fused::<D>(opcode, rm, a, b, c)?;
    }

    #[test]
    fn to_int_single(kind in 0..4u32, rm in 0..5u32, a in edge_bits::<S>()) {
        check_to_int::<S>(kind, rm, a)?;
    }

    #[test]
    fn to_int_double(kind in 0..4u32, rm in 0..5u32, a in edge_bits::<D>()) {
        check_to_int::<D>(kind, rm, a)?;
    }

    #[test]
    fn from_int_single(kind in 0..4u32, rm in 0..5u32, v in edge_int()) {
        check_from_int::<S>(kind, rm, v)?;
    }

    #[test]
    fn from_int_double(kind in 0..4u32, rm in 0..5u32, v in edge_int()) {
        check_from_int::<D>(kind, rm, v)?;
    }

    #[test]
    fn double_to_single(rm in 0..5u32, a in edge_bits::<D>()) {
        let (want, want_flags) = oracle(rm, || D::float(a).convert_format::<F32Desc>());
        let (f10, _, flags) = run(op_fp(0x08, 0, 1, rm), [a, 0, 0], 0);
        prop_assert_eq!((f10, flags), (S::register(S::bits(want)), want_flags));
    }

    #[test]
    fn single_to_double(rm in 0..5u32, a in edge_bits::<S>()) {
        let (want, want_flags) = oracle(rm, || S::float(a).convert_format::<F64Desc>());
        let (f10, _, flags) = run(op_fp(0x08, 1, 0, rm), [S::register(a), 0, 0], 0);
        prop_assert_eq!((f10, flags), (D::bits(want), want_flags));
    }

    #[test]
    fn compare_single(rm in 0..3u32, a in edge_bits::<S>(), b in edge_bits::<S>()) {
        check_compare::<S>(rm, a, b)?;
    }

    #[test]
    fn compare_double(rm in 0..3u32, a in edge_bits::<D>(), b in edge_bits::<D>()) {
        check_compare::<D>(rm, a, b)?;
    }
}

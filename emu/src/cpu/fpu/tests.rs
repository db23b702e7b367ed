//! Expected values come from the unprivileged spec (NaN boxing, canonical NaN, the
//! conversion table, FCLASS bits) and from IEEE 754 arithmetic worked out by hand or by
//! the host's own IEEE f32/f64 operations, never from this module's output.

use super::*;
use proptest::prelude::*;

const S: u32 = 0;
const D: u32 = 1;

const RNE: u32 = 0;
const RTZ: u32 = 1;
const RDN: u32 = 2;
const RUP: u32 = 3;
const RMM: u32 = 4;
const DYN: u32 = 7;

// Register convention of every test: operands in f1, f2, f3 (or x5), result in f10 / x10.
const RD: usize = 10;

fn op_fp(funct5: u32, fmt: u32, rs2: u32, rm: u32) -> u32 {
    (funct5 << 27) | (fmt << 25) | (rs2 << 20) | (1 << 15) | (rm << 12) | ((RD as u32) << 7) | 0x53
}

/// An OP-FP instruction reading x5 as its integer source (FCVT.fmt.int, FMV.fmt.X).
fn op_fp_from_x(funct5: u32, fmt: u32, rs2: u32, rm: u32) -> u32 {
    (op_fp(funct5, fmt, rs2, rm) & !(0x1f << 15)) | (5 << 15)
}

fn binary(funct5: u32, fmt: u32, rm: u32) -> u32 {
    op_fp(funct5, fmt, 2, rm)
}

fn fadd(fmt: u32, rm: u32) -> u32 {
    binary(0x00, fmt, rm)
}
fn fsub(fmt: u32, rm: u32) -> u32 {
    binary(0x01, fmt, rm)
}
fn fmul(fmt: u32, rm: u32) -> u32 {
    binary(0x02, fmt, rm)
}
fn fdiv(fmt: u32, rm: u32) -> u32 {
    binary(0x03, fmt, rm)
}
fn fsqrt(fmt: u32, rm: u32) -> u32 {
    op_fp(0x0b, fmt, 0, rm)
}
fn fsgnj(fmt: u32, kind: u32) -> u32 {
    binary(0x04, fmt, kind)
}
fn fmin(fmt: u32) -> u32 {
    binary(0x05, fmt, 0)
}
fn fmax(fmt: u32) -> u32 {
    binary(0x05, fmt, 1)
}
fn fle(fmt: u32) -> u32 {
    binary(0x14, fmt, 0)
}
fn flt(fmt: u32) -> u32 {
    binary(0x14, fmt, 1)
}
fn feq(fmt: u32) -> u32 {
    binary(0x14, fmt, 2)
}
/// FCVT.{W,WU,L,LU}.fmt: `kind` 0 = W, 1 = WU, 2 = L, 3 = LU.
fn fcvt_to_int(fmt: u32, kind: u32, rm: u32) -> u32 {
    op_fp(0x18, fmt, kind, rm)
}
/// FCVT.fmt.{W,WU,L,LU} from x5.
fn fcvt_from_int(fmt: u32, kind: u32, rm: u32) -> u32 {
    op_fp_from_x(0x1a, fmt, kind, rm)
}
fn fcvt_s_d(rm: u32) -> u32 {
    op_fp(0x08, S, 1, rm)
}
fn fcvt_d_s(rm: u32) -> u32 {
    op_fp(0x08, D, 0, rm)
}
fn fmv_to_x(fmt: u32) -> u32 {
    op_fp(0x1c, fmt, 0, 0)
}
fn fclass(fmt: u32) -> u32 {
    op_fp(0x1c, fmt, 0, 1)
}
fn fmv_from_x(fmt: u32) -> u32 {
    op_fp_from_x(0x1e, fmt, 0, 0)
}
fn fused(opcode: u32, fmt: u32, rm: u32) -> u32 {
    (3 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (rm << 12) | ((RD as u32) << 7) | opcode
}

fn boxed(v: u32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(v)
}

/// The state after running `insn` on a hart whose f1..f3 hold `f_in` (others zero),
/// x5 holds `x5` and frm is `frm`.
fn run_with(insn: u32, f_in: &[u64], x5: u64, frm: u8) -> (FpState, [u64; 32]) {
    let mut fp = FpState {
        frm,
        ..FpState::default()
    };
    for (i, v) in f_in.iter().enumerate() {
        fp.f[i + 1] = *v;
    }
    let mut x = [0u64; 32];
    x[5] = x5;
    execute(insn, &mut fp, &mut x).unwrap_or_else(|()| panic!("{insn:#010x} is illegal"));
    (fp, x)
}

/// f10 and fflags after `insn` on operands `f_in`.
fn f_result(insn: u32, f_in: &[u64]) -> (u64, u8) {
    let (fp, _) = run_with(insn, f_in, 0, 0);
    (fp.f[RD], fp.fflags)
}

/// x10 and fflags after `insn` on operands `f_in`.
fn x_result(insn: u32, f_in: &[u64]) -> (u64, u8) {
    let (fp, x) = run_with(insn, f_in, 0, 0);
    (x[RD], fp.fflags)
}

/// f10 and fflags after `insn` with x5 = `x5`.
fn f_from_x(insn: u32, x5: u64) -> (u64, u8) {
    let (fp, _) = run_with(insn, &[], x5, 0);
    (fp.f[RD], fp.fflags)
}

const ONE_S: u32 = 0x3f80_0000;
const TWO_S: u32 = 0x4000_0000;
const NEG_ONE_S: u32 = 0xbf80_0000;
const NEG_TWO_S: u32 = 0xc000_0000;
const QNAN_PAYLOAD_S: u32 = 0x7fc1_2345;
const SNAN_S: u32 = 0x7f80_0001;
const INF_S: u32 = 0x7f80_0000;
const NEG_INF_S: u32 = 0xff80_0000;
const MAX_S: u32 = 0x7f7f_ffff;
const MIN_NORMAL_S: u32 = 0x0080_0000;
const MIN_SUBNORMAL_S: u32 = 0x0000_0001;
const NEG_ZERO_S: u32 = 0x8000_0000;
const HALF_S: u32 = 0x3f00_0000;

const ONE_D: u64 = 0x3ff0_0000_0000_0000;
const TWO_D: u64 = 0x4000_0000_0000_0000;
const NEG_ONE_D: u64 = 0xbff0_0000_0000_0000;
const HALF_D: u64 = 0x3fe0_0000_0000_0000;
const QNAN_PAYLOAD_D: u64 = 0x7ff8_0000_0001_2345;
const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
const INF_D: u64 = 0x7ff0_0000_0000_0000;
const NEG_INF_D: u64 = 0xfff0_0000_0000_0000;
const MAX_D: u64 = 0x7fef_ffff_ffff_ffff;
const MIN_NORMAL_D: u64 = 0x0010_0000_0000_0000;
const NEG_ZERO_D: u64 = 0x8000_0000_0000_0000;

fn d(v: f64) -> u64 {
    v.to_bits()
}

fn s(v: f32) -> u64 {
    boxed(v.to_bits())
}

// ---------------------------------------------------------------- canonical NaN

#[test]
fn riscv_specialisation_gives_the_canonical_nan() {
    // 0/0 is the default NaN: x86 SoftFloat would give 0xffc00000.
    assert_eq!(
        f_result(fdiv(S, RNE), &[boxed(0), boxed(0)]),
        (boxed(CANONICAL_NAN_S), FLAG_NV)
    );
    assert_eq!(f_result(fdiv(D, RNE), &[0, 0]), (CANONICAL_NAN_D, FLAG_NV));
    // Infinity minus infinity.
    assert_eq!(
        f_result(fsub(D, RNE), &[INF_D, INF_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
}

#[test]
fn nan_payloads_never_propagate() {
    assert_eq!(
        f_result(fadd(S, RNE), &[boxed(QNAN_PAYLOAD_S), boxed(ONE_S)]),
        (boxed(CANONICAL_NAN_S), 0)
    );
    assert_eq!(
        f_result(fmul(D, RNE), &[ONE_D, QNAN_PAYLOAD_D]),
        (CANONICAL_NAN_D, 0)
    );
    // A negative quiet NaN still gives the positive canonical NaN.
    assert_eq!(
        f_result(fadd(D, RNE), &[0xfff8_0000_0000_0000, ONE_D]),
        (CANONICAL_NAN_D, 0)
    );
}

#[test]
fn signaling_nan_operands_raise_invalid() {
    assert_eq!(
        f_result(fadd(S, RNE), &[boxed(SNAN_S), boxed(ONE_S)]),
        (boxed(CANONICAL_NAN_S), FLAG_NV)
    );
    assert_eq!(
        f_result(fdiv(D, RNE), &[ONE_D, SNAN_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
    assert_eq!(
        f_result(fsqrt(D, RNE), &[SNAN_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
}

// ---------------------------------------------------------------- NaN boxing

#[test]
fn single_results_are_nan_boxed() {
    assert_eq!(
        f_result(fadd(S, RNE), &[boxed(ONE_S), boxed(ONE_S)]),
        (boxed(TWO_S), 0)
    );
    assert_eq!(f_from_x(fcvt_from_int(S, 0, RNE), 3), (s(3.0), 0));
    assert_eq!(f_result(fcvt_s_d(RNE), &[TWO_D]), (boxed(TWO_S), 0));
}

#[test]
fn improperly_boxed_single_operand_is_the_canonical_nan() {
    // Upper half not all ones: the operand is the canonical (quiet) NaN, so no NV.
    let unboxed_one = u64::from(ONE_S);
    assert_eq!(
        f_result(fadd(S, RNE), &[unboxed_one, boxed(ONE_S)]),
        (boxed(CANONICAL_NAN_S), 0)
    );
    let almost_boxed = 0xffff_fffe_0000_0000 | u64::from(ONE_S);
    assert_eq!(
        f_result(fmul(S, RNE), &[boxed(ONE_S), almost_boxed]),
        (boxed(CANONICAL_NAN_S), 0)
    );
    assert_eq!(x_result(fclass(S), &[unboxed_one]), (1 << 9, 0));
    // FMIN sees a NaN and returns the other operand.
    assert_eq!(
        f_result(fmin(S), &[unboxed_one, boxed(TWO_S)]),
        (boxed(TWO_S), 0)
    );
    // Sign injection works on the canonical NaN it sees.
    assert_eq!(
        f_result(fsgnj(S, 1), &[unboxed_one, boxed(ONE_S)]),
        (boxed(0xffc0_0000), 0)
    );
    // Widening an unboxed value: the canonical NaN converts quietly.
    assert_eq!(
        f_result(fcvt_d_s(RNE), &[unboxed_one]),
        (CANONICAL_NAN_D, 0)
    );
    // Comparisons see a quiet NaN: FEQ is quiet, FLT signals.
    assert_eq!(x_result(feq(S), &[unboxed_one, unboxed_one]), (0, 0));
    assert_eq!(x_result(flt(S), &[unboxed_one, boxed(ONE_S)]), (0, FLAG_NV));
}

#[test]
fn raw_moves_ignore_boxing() {
    // FMV.X.W takes the low 32 bits as they are and sign-extends them.
    assert_eq!(
        x_result(fmv_to_x(S), &[0x0000_0000_8000_0001]),
        (0xffff_ffff_8000_0001, 0)
    );
    assert_eq!(
        x_result(fmv_to_x(S), &[0x1234_5678_7fff_ffff]),
        (0x7fff_ffff, 0)
    );
    // FMV.W.X boxes the low 32 bits of x and keeps NaN payloads.
    assert_eq!(
        f_from_x(fmv_from_x(S), 0x1234_5678_7f80_0001),
        (boxed(SNAN_S), 0)
    );
    assert_eq!(x_result(fmv_to_x(D), &[SNAN_D]), (SNAN_D, 0));
    assert_eq!(f_from_x(fmv_from_x(D), QNAN_PAYLOAD_D), (QNAN_PAYLOAD_D, 0));
}

// ---------------------------------------------------------------- signed zeros

#[test]
fn exact_zero_sum_sign_depends_on_rounding_mode() {
    assert_eq!(f_result(fadd(D, RNE), &[NEG_ZERO_D, 0]), (0, 0));
    assert_eq!(f_result(fadd(D, RDN), &[NEG_ZERO_D, 0]), (NEG_ZERO_D, 0));
    assert_eq!(f_result(fsub(D, RDN), &[ONE_D, ONE_D]), (NEG_ZERO_D, 0));
    assert_eq!(f_result(fsub(D, RUP), &[ONE_D, ONE_D]), (0, 0));
    assert_eq!(
        f_result(fadd(S, RDN), &[boxed(NEG_ZERO_S), boxed(0)]),
        (boxed(NEG_ZERO_S), 0)
    );
    assert_eq!(
        f_result(fadd(S, RNE), &[boxed(NEG_ZERO_S), boxed(NEG_ZERO_S)]),
        (boxed(NEG_ZERO_S), 0)
    );
}

#[test]
fn min_max_order_negative_zero_below_positive_zero() {
    let (pz, nz) = (boxed(0), boxed(NEG_ZERO_S));
    assert_eq!(f_result(fmin(S), &[pz, nz]), (nz, 0));
    assert_eq!(f_result(fmin(S), &[nz, pz]), (nz, 0));
    assert_eq!(f_result(fmax(S), &[pz, nz]), (pz, 0));
    assert_eq!(f_result(fmax(S), &[nz, pz]), (pz, 0));
    assert_eq!(f_result(fmin(D), &[0, NEG_ZERO_D]), (NEG_ZERO_D, 0));
    assert_eq!(f_result(fmax(D), &[NEG_ZERO_D, 0]), (0, 0));
    assert_eq!(f_result(fmin(D), &[ONE_D, NEG_ONE_D]), (NEG_ONE_D, 0));
    assert_eq!(f_result(fmax(D), &[NEG_INF_D, NEG_ONE_D]), (NEG_ONE_D, 0));
}

#[test]
fn sqrt_of_negative_zero_is_negative_zero() {
    assert_eq!(f_result(fsqrt(D, RNE), &[NEG_ZERO_D]), (NEG_ZERO_D, 0));
    assert_eq!(
        f_result(fsqrt(S, RNE), &[boxed(NEG_ZERO_S)]),
        (boxed(NEG_ZERO_S), 0)
    );
}

// ---------------------------------------------------------------- FMIN / FMAX NaNs

#[test]
fn min_max_nan_operands() {
    let one = boxed(ONE_S);
    let q = boxed(QNAN_PAYLOAD_S);
    let sn = boxed(SNAN_S);
    let canon = boxed(CANONICAL_NAN_S);
    assert_eq!(f_result(fmin(S), &[q, one]), (one, 0));
    assert_eq!(f_result(fmax(S), &[one, q]), (one, 0));
    assert_eq!(f_result(fmin(S), &[sn, one]), (one, FLAG_NV));
    assert_eq!(f_result(fmax(S), &[one, sn]), (one, FLAG_NV));
    assert_eq!(f_result(fmin(S), &[q, q]), (canon, 0));
    assert_eq!(f_result(fmax(S), &[sn, q]), (canon, FLAG_NV));
    assert_eq!(
        f_result(fmin(D), &[QNAN_PAYLOAD_D, NEG_INF_D]),
        (NEG_INF_D, 0)
    );
    assert_eq!(
        f_result(fmax(D), &[SNAN_D, SNAN_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
}

// ---------------------------------------------------------------- comparisons

#[test]
fn feq_is_quiet_flt_fle_signal() {
    let one = boxed(ONE_S);
    let q = boxed(QNAN_PAYLOAD_S);
    let sn = boxed(SNAN_S);
    assert_eq!(x_result(feq(S), &[q, one]), (0, 0));
    assert_eq!(x_result(feq(S), &[sn, one]), (0, FLAG_NV));
    assert_eq!(x_result(flt(S), &[q, one]), (0, FLAG_NV));
    assert_eq!(x_result(fle(S), &[one, q]), (0, FLAG_NV));
    assert_eq!(x_result(feq(D), &[QNAN_PAYLOAD_D, QNAN_PAYLOAD_D]), (0, 0));
    assert_eq!(
        x_result(fle(D), &[QNAN_PAYLOAD_D, QNAN_PAYLOAD_D]),
        (0, FLAG_NV)
    );
    // Zeros compare equal whatever their sign.
    assert_eq!(x_result(feq(D), &[NEG_ZERO_D, 0]), (1, 0));
    assert_eq!(x_result(flt(D), &[NEG_ZERO_D, 0]), (0, 0));
    assert_eq!(x_result(fle(D), &[NEG_ZERO_D, 0]), (1, 0));
    assert_eq!(x_result(flt(S), &[boxed(NEG_ONE_S), one]), (1, 0));
    assert_eq!(x_result(fle(S), &[boxed(TWO_S), one]), (0, 0));
}

#[test]
fn integer_destination_x0_is_never_written() {
    let mut fp = FpState::default();
    fp.f[1] = ONE_D;
    fp.f[2] = ONE_D;
    let mut x = [0u64; 32];
    let feq_to_x0 = feq(D) & !(0x1f << 7);
    execute(feq_to_x0, &mut fp, &mut x).unwrap();
    assert_eq!(x, [0; 32]);
    let fcvt_to_x0 = fcvt_to_int(D, 2, RNE) & !(0x1f << 7);
    execute(fcvt_to_x0, &mut fp, &mut x).unwrap();
    assert_eq!(x, [0; 32]);
}

// ---------------------------------------------------------------- FCLASS

#[test]
fn fclass_single_all_ten_classes() {
    let cases: [(u32, u64); 10] = [
        (NEG_INF_S, 1 << 0),
        (NEG_ONE_S, 1 << 1),
        (0x8000_0001, 1 << 2),
        (NEG_ZERO_S, 1 << 3),
        (0, 1 << 4),
        (MIN_SUBNORMAL_S, 1 << 5),
        (MAX_S, 1 << 6),
        (INF_S, 1 << 7),
        (SNAN_S, 1 << 8),
        (CANONICAL_NAN_S, 1 << 9),
    ];
    for (value, class) in cases {
        assert_eq!(
            x_result(fclass(S), &[boxed(value)]),
            (class, 0),
            "{value:#x}"
        );
    }
    // A negative signaling NaN is still a signaling NaN.
    assert_eq!(x_result(fclass(S), &[boxed(0xff80_0001)]), (1 << 8, 0));
}

#[test]
fn fclass_double_all_ten_classes() {
    let cases: [(u64, u64); 10] = [
        (NEG_INF_D, 1 << 0),
        (NEG_ONE_D, 1 << 1),
        (0x800f_ffff_ffff_ffff, 1 << 2),
        (NEG_ZERO_D, 1 << 3),
        (0, 1 << 4),
        (1, 1 << 5),
        (MIN_NORMAL_D, 1 << 6),
        (INF_D, 1 << 7),
        (0x7ff7_ffff_ffff_ffff, 1 << 8),
        (QNAN_PAYLOAD_D, 1 << 9),
    ];
    for (value, class) in cases {
        assert_eq!(x_result(fclass(D), &[value]), (class, 0), "{value:#x}");
    }
}

// ---------------------------------------------------------------- overflow, underflow

#[test]
fn overflow_result_depends_on_rounding_direction() {
    let (max, neg_max) = (boxed(MAX_S), boxed(MAX_S | 0x8000_0000));
    let two = boxed(TWO_S);
    let ovf = FLAG_OF | FLAG_NX;
    assert_eq!(f_result(fmul(S, RNE), &[max, two]), (boxed(INF_S), ovf));
    assert_eq!(f_result(fmul(S, RMM), &[max, two]), (boxed(INF_S), ovf));
    assert_eq!(f_result(fmul(S, RTZ), &[max, two]), (max, ovf));
    assert_eq!(f_result(fmul(S, RDN), &[max, two]), (max, ovf));
    assert_eq!(f_result(fmul(S, RUP), &[max, two]), (boxed(INF_S), ovf));
    assert_eq!(f_result(fmul(S, RUP), &[neg_max, two]), (neg_max, ovf));
    assert_eq!(
        f_result(fmul(S, RDN), &[neg_max, two]),
        (boxed(NEG_INF_S), ovf)
    );
    assert_eq!(f_result(fadd(D, RNE), &[MAX_D, MAX_D]), (INF_D, ovf));
    assert_eq!(f_result(fadd(D, RTZ), &[MAX_D, MAX_D]), (MAX_D, ovf));
}

#[test]
fn infinity_arithmetic_is_exact() {
    assert_eq!(f_result(fadd(D, RNE), &[INF_D, MAX_D]), (INF_D, 0));
    assert_eq!(
        f_result(fmul(S, RNE), &[boxed(NEG_INF_S), boxed(TWO_S)]),
        (boxed(NEG_INF_S), 0)
    );
}

#[test]
fn underflow_needs_tiny_and_inexact() {
    // 2^-1022 * 0.5 = 2^-1023 is an exact subnormal: no flag at all.
    assert_eq!(
        f_result(fmul(D, RNE), &[MIN_NORMAL_D, HALF_D]),
        (0x0008_0000_0000_0000, 0)
    );
    // Half the smallest subnormal: a tie between 0 and 2^-149, even is 0.
    let half = boxed(HALF_S);
    let tiny = boxed(MIN_SUBNORMAL_S);
    assert_eq!(
        f_result(fmul(S, RNE), &[tiny, half]),
        (boxed(0), FLAG_UF | FLAG_NX)
    );
    assert_eq!(
        f_result(fmul(S, RUP), &[tiny, half]),
        (tiny, FLAG_UF | FLAG_NX)
    );
    assert_eq!(
        f_result(fmul(S, RMM), &[tiny, half]),
        (tiny, FLAG_UF | FLAG_NX)
    );
    assert_eq!(
        f_result(fmul(S, RDN), &[boxed(MIN_SUBNORMAL_S | 0x8000_0000), half]),
        (boxed(0x8000_0001), FLAG_UF | FLAG_NX)
    );
    // Adding subnormals is exact.
    assert_eq!(f_result(fadd(S, RNE), &[tiny, tiny]), (boxed(2), 0));
}

#[test]
fn tininess_is_detected_after_rounding() {
    // 2^-126 - 2^-151 lies below the smallest normal, but rounded to 24 bits with an
    // unbounded exponent it becomes exactly 2^-126: RISC-V (after rounding) raises only
    // NX; a before-rounding machine would also raise UF.
    let x = 2f64.powi(-126) - 2f64.powi(-151);
    assert_eq!(x.to_bits(), 0x380f_ffff_f000_0000);
    assert_eq!(
        f_result(fcvt_s_d(RNE), &[d(x)]),
        (boxed(MIN_NORMAL_S), FLAG_NX)
    );
    // Truncating keeps it below 2^-126: tiny and inexact.
    assert_eq!(
        f_result(fcvt_s_d(RTZ), &[d(x)]),
        (boxed(0x007f_ffff), FLAG_UF | FLAG_NX)
    );
}

#[test]
fn divide_by_zero() {
    assert_eq!(
        f_result(fdiv(S, RNE), &[boxed(ONE_S), boxed(0)]),
        (boxed(INF_S), FLAG_DZ)
    );
    assert_eq!(
        f_result(fdiv(S, RNE), &[boxed(NEG_ONE_S), boxed(0)]),
        (boxed(NEG_INF_S), FLAG_DZ)
    );
    assert_eq!(
        f_result(fdiv(D, RNE), &[ONE_D, NEG_ZERO_D]),
        (NEG_INF_D, FLAG_DZ)
    );
    // Infinity / 0 is exact infinity: no DZ.
    assert_eq!(f_result(fdiv(D, RNE), &[INF_D, 0]), (INF_D, 0));
}

#[test]
fn sqrt_of_negative_is_invalid() {
    assert_eq!(
        f_result(fsqrt(D, RNE), &[NEG_ONE_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
    assert_eq!(
        f_result(fsqrt(S, RNE), &[boxed(NEG_INF_S)]),
        (boxed(CANONICAL_NAN_S), FLAG_NV)
    );
    assert_eq!(f_result(fsqrt(D, RNE), &[d(4.0)]), (d(2.0), 0));
    assert_eq!(
        f_result(fsqrt(D, RNE), &[TWO_D]),
        (d(std::f64::consts::SQRT_2), FLAG_NX)
    );
}

#[test]
fn flags_accumulate() {
    let mut fp = FpState {
        fflags: FLAG_NX,
        ..FpState::default()
    };
    fp.f[1] = ONE_D;
    let mut x = [0u64; 32];
    execute(fdiv(D, RNE), &mut fp, &mut x).unwrap();
    assert_eq!(fp.f[RD], INF_D);
    assert_eq!(fp.fflags, FLAG_NX | FLAG_DZ);
    // An exact operation leaves accrued flags alone.
    execute(fadd(D, RNE), &mut fp, &mut x).unwrap();
    assert_eq!(fp.fflags, FLAG_NX | FLAG_DZ);
}

// ---------------------------------------------------------------- rounding modes

#[test]
fn halfway_conversions_in_every_rounding_mode() {
    // (rm, 2.5 ->, -2.5 ->, 3.5 ->)
    let cases: [(u32, i64, i64, i64); 5] = [
        (RNE, 2, -2, 4),
        (RTZ, 2, -2, 3),
        (RDN, 2, -3, 3),
        (RUP, 3, -2, 4),
        (RMM, 3, -3, 4),
    ];
    for (rm, pos, neg, odd) in cases {
        for (value, want) in [(2.5f32, pos), (-2.5, neg), (3.5, odd)] {
            let got = x_result(fcvt_to_int(S, 0, rm), &[s(value)]);
            assert_eq!(got, (want as u64, FLAG_NX), "fcvt.w.s {value} rm {rm}");
            let got = x_result(fcvt_to_int(D, 2, rm), &[d(f64::from(value))]);
            assert_eq!(got, (want as u64, FLAG_NX), "fcvt.l.d {value} rm {rm}");
            // The same through dyn with frm = rm.
            let (fp, x) = run_with(fcvt_to_int(S, 0, DYN), &[s(value)], 0, rm as u8);
            assert_eq!(
                (x[RD], fp.fflags),
                (want as u64, FLAG_NX),
                "dyn {value} frm {rm}"
            );
        }
    }
}

#[test]
fn halfway_addition_in_every_rounding_mode() {
    // 1 + 2^-24 is halfway between 1 and 1 + 2^-23 (mantissa odd).
    let one = boxed(ONE_S);
    let half_ulp = boxed(0x3380_0000);
    let up = boxed(0x3f80_0001);
    for (rm, want) in [(RNE, one), (RTZ, one), (RDN, one), (RUP, up), (RMM, up)] {
        assert_eq!(
            f_result(fadd(S, rm), &[one, half_ulp]),
            (want, FLAG_NX),
            "rm {rm}"
        );
    }
    // (1 + 2^-23) + 2^-24 is halfway with an odd lower neighbour: RNE rounds up.
    assert_eq!(
        f_result(fadd(S, RNE), &[up, half_ulp]),
        (boxed(0x3f80_0002), FLAG_NX)
    );
    assert_eq!(f_result(fadd(S, RTZ), &[up, half_ulp]), (up, FLAG_NX));
}

#[test]
fn reserved_rounding_modes_are_illegal_and_change_nothing() {
    let instructions = [
        fadd(S, 0),
        fsub(D, 0),
        fmul(S, 0),
        fdiv(D, 0),
        fsqrt(S, 0),
        fcvt_to_int(D, 0, 0),
        fcvt_from_int(S, 3, 0),
        fcvt_s_d(0),
        fcvt_d_s(0),
        fused(0x43, D, 0),
        fused(0x4f, S, 0),
    ];
    for insn in instructions {
        for rm in [5u32, 6] {
            let mut fp = FpState::default();
            fp.f[1] = ONE_D;
            let mut x = [7u64; 32];
            let before = (fp.clone(), x);
            assert_eq!(
                execute(insn | (rm << 12), &mut fp, &mut x),
                Err(()),
                "{insn:#x} rm {rm}"
            );
            assert_eq!((fp, x), before);
        }
        for frm in [5u8, 6, 7] {
            let mut fp = FpState {
                frm,
                ..FpState::default()
            };
            let mut x = [0u64; 32];
            let insn = insn | (DYN << 12);
            assert_eq!(
                execute(insn, &mut fp, &mut x),
                Err(()),
                "{insn:#x} frm {frm}"
            );
        }
        let mut fp = FpState {
            frm: 4,
            ..FpState::default()
        };
        assert_eq!(
            execute(insn | (DYN << 12), &mut fp, &mut [0; 32]),
            Ok(()),
            "{insn:#x}"
        );
    }
}

#[test]
fn undefined_encodings_are_illegal() {
    let illegal = [
        fadd(2, RNE),                // fmt H (Zfh not implemented)
        fadd(3, RNE),                // fmt Q
        fused(0x43, 2, RNE),         // FMADD.H
        op_fp(0x0b, D, 1, RNE),      // FSQRT with rs2 != 0
        fsgnj(S, 3),                 // FSGNJ funct3 3
        binary(0x05, D, 2),          // FMIN/FMAX funct3 2
        binary(0x14, S, 3),          // compare funct3 3
        fcvt_to_int(S, 4, RNE),      // FCVT with rs2 = 4
        fcvt_from_int(D, 5, RNE),    // FCVT from int with rs2 = 5
        op_fp(0x08, S, 0, RNE),      // FCVT.S.S
        op_fp(0x08, D, 1, RNE),      // FCVT.D.D
        op_fp(0x08, S, 2, RNE),      // FCVT.S.H
        op_fp(0x1c, S, 0, 2),        // FMV.X.W / FCLASS funct3 2
        op_fp(0x1c, D, 1, 0),        // FMV.X.D with rs2 != 0
        op_fp_from_x(0x1e, S, 0, 1), // FMV.W.X funct3 1
        op_fp_from_x(0x1e, D, 1, 0), // FMV.D.X with rs2 != 0
        binary(0x06, S, RNE),        // unassigned funct5
        binary(0x1f, D, RNE),        // unassigned funct5
        0x0000_0013,                 // not an FP opcode (addi)
    ];
    for insn in illegal {
        let mut fp = FpState::default();
        let mut x = [0u64; 32];
        assert_eq!(execute(insn, &mut fp, &mut x), Err(()), "{insn:#010x}");
        assert_eq!(fp, FpState::default());
    }
}

// ---------------------------------------------------------------- conversions to int

/// The spec's table: NaN and +overflow give the largest value, -overflow the smallest;
/// every invalid conversion raises NV only; W and WU results are sign-extended.
#[test]
fn conversion_to_int_saturates_per_spec_table() {
    const W: u32 = 0;
    const WU: u32 = 1;
    const L: u32 = 2;
    const LU: u32 = 3;
    let i32_max = 0x7fff_ffff_u64;
    let i32_min = 0xffff_ffff_8000_0000_u64;
    let u32_max = u64::MAX; // 0xffffffff sign-extended
    let i64_max = i64::MAX as u64;
    let i64_min = i64::MIN as u64;
    let nv = FLAG_NV;
    let single: &[(u32, u32, u64, u8)] = &[
        (W, CANONICAL_NAN_S, i32_max, nv),
        (W, SNAN_S | 0x8000_0000, i32_max, nv),
        (W, INF_S, i32_max, nv),
        (W, NEG_INF_S, i32_min, nv),
        (W, 0x4f00_0000, i32_max, nv), // 2^31
        (W, 0xcf00_0000, i32_min, 0),  // -2^31 is in range
        (W, 0xcf80_0000, i32_min, nv), // -2^32
        (WU, CANONICAL_NAN_S, u32_max, nv),
        (WU, INF_S, u32_max, nv),
        (WU, NEG_INF_S, 0, nv),
        (WU, NEG_ONE_S, 0, nv),
        (WU, 0x4f80_0000, u32_max, nv),              // 2^32
        (WU, 0x4f32_d05e, 0xffff_ffff_b2d0_5e00, 0), // 3e9, sign-extended
        (WU, 0xbf00_0000, 0, FLAG_NX),               // -0.5 rounds to 0: in range
        (L, CANONICAL_NAN_S, i64_max, nv),
        (L, 0x5f00_0000, i64_max, nv), // 2^63
        (L, 0xdf00_0000, i64_min, 0),  // -2^63
        (L, NEG_INF_S, i64_min, nv),
        (LU, CANONICAL_NAN_S, u64::MAX, nv),
        (LU, 0x5f80_0000, u64::MAX, nv), // 2^64
        (LU, 0x5f7f_ffff, 0xffff_ff00_0000_0000, 0),
        (LU, NEG_ONE_S, 0, nv),
        (LU, NEG_ZERO_S, 0, 0),
    ];
    for &(kind, value, want, flags) in single {
        let got = x_result(fcvt_to_int(S, kind, RTZ), &[boxed(value)]);
        assert_eq!(got, (want, flags), "kind {kind} of {value:#x}");
    }
    let double: &[(u32, u64, u64, u8)] = &[
        (W, CANONICAL_NAN_D, i32_max, nv),
        (W, d(2147483647.0), i32_max, 0),
        (W, d(2147483647.5), i32_max, FLAG_NX),
        (W, d(2147483648.0), i32_max, nv),
        (W, d(-2147483648.9), i32_min, FLAG_NX),
        (W, d(-2147483649.0), i32_min, nv),
        (WU, d(4294967295.0), u32_max, 0),
        (WU, d(4294967296.0), u32_max, nv),
        (WU, d(-1.0), 0, nv),
        (WU, NEG_INF_D, 0, nv),
        (WU, SNAN_D, u32_max, nv),
        (L, SNAN_D, i64_max, nv),
        (L, INF_D, i64_max, nv),
        (L, d(2f64.powi(63)), i64_max, nv),
        (L, d(2f64.powi(63) - 1024.0), 0x7fff_ffff_ffff_fc00, 0), // largest double below
        (L, d(-(2f64.powi(63))), i64_min, 0),
        (L, NEG_INF_D, i64_min, nv),
        (LU, QNAN_PAYLOAD_D, u64::MAX, nv),
        (LU, d(18446744073709551616.0), u64::MAX, nv), // 2^64
        (LU, d(-0.75), 0, FLAG_NX),
        (LU, d(-1.0), 0, nv),
        (LU, d(1.5), 1, FLAG_NX),
    ];
    for &(kind, value, want, flags) in double {
        let got = x_result(fcvt_to_int(D, kind, RTZ), &[value]);
        assert_eq!(got, (want, flags), "kind {kind} of {value:#x}");
    }
    // Rounding can push an in-range value out of range: only NV, no NX.
    assert_eq!(
        x_result(fcvt_to_int(D, W, RNE), &[d(2147483647.5)]),
        (i32_max, nv)
    );
    assert_eq!(x_result(fcvt_to_int(D, WU, RUP), &[d(-0.5)]), (0, FLAG_NX));
    assert_eq!(x_result(fcvt_to_int(D, WU, RDN), &[d(-0.5)]), (0, nv));
    assert_eq!(x_result(fcvt_to_int(D, LU, RNE), &[d(1.5)]), (2, FLAG_NX));
}

// ---------------------------------------------------------------- conversions from int

#[test]
fn conversion_from_int() {
    const W: u32 = 0;
    const WU: u32 = 1;
    const L: u32 = 2;
    const LU: u32 = 3;
    // 2^24 + 1 needs 25 bits: a tie, even is 2^24.
    assert_eq!(
        f_from_x(fcvt_from_int(S, W, RNE), 16_777_217),
        (boxed(0x4b80_0000), FLAG_NX)
    );
    let (fp, _) = run_with(fcvt_from_int(S, W, RUP), &[], 16_777_217, 0);
    assert_eq!((fp.f[RD], fp.fflags), (boxed(0x4b80_0001), FLAG_NX));
    // W and WU use only the low 32 bits of x.
    assert_eq!(
        f_from_x(fcvt_from_int(S, W, RNE), 0x0000_0000_ffff_ffff),
        (s(-1.0), 0)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(S, WU, RNE), u64::MAX),
        (boxed(0x4f80_0000), FLAG_NX)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, WU, RNE), u64::MAX),
        (d(4294967295.0), 0)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, W, RNE), (-5i64) as u64),
        (d(-5.0), 0)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, L, RNE), i64::MIN as u64),
        (0xc3e0_0000_0000_0000, 0)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, LU, RNE), u64::MAX),
        (0x43f0_0000_0000_0000, FLAG_NX)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, LU, RTZ), u64::MAX),
        (0x43ef_ffff_ffff_ffff, FLAG_NX)
    );
    assert_eq!(f_from_x(fcvt_from_int(S, L, RNE), 0), (boxed(0), 0));
    // -(3 * 2^53 + 1): doubles are 4 apart there, rounding down gives -(3 * 2^53 + 4).
    let below = -(3i64 << 53) - 1;
    assert_eq!(
        f_from_x(fcvt_from_int(D, L, RDN), below as u64),
        (d(-27021597764222980.0), FLAG_NX)
    );
    assert_eq!(
        f_from_x(fcvt_from_int(D, L, RNE), below as u64),
        (d(-27021597764222976.0), FLAG_NX)
    );
}

// ---------------------------------------------------------------- between formats

#[test]
fn conversion_between_formats() {
    assert_eq!(f_result(fcvt_d_s(RNE), &[boxed(ONE_S)]), (ONE_D, 0));
    assert_eq!(
        f_result(fcvt_d_s(RNE), &[boxed(NEG_ZERO_S)]),
        (NEG_ZERO_D, 0)
    );
    assert_eq!(
        f_result(fcvt_d_s(RNE), &[boxed(SNAN_S)]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
    assert_eq!(
        f_result(fcvt_d_s(RNE), &[boxed(QNAN_PAYLOAD_S)]),
        (CANONICAL_NAN_D, 0)
    );
    assert_eq!(
        f_result(fcvt_d_s(RNE), &[boxed(MIN_SUBNORMAL_S)]),
        (d(2f64.powi(-149)), 0)
    );
    assert_eq!(
        f_result(fcvt_s_d(RNE), &[SNAN_D]),
        (boxed(CANONICAL_NAN_S), FLAG_NV)
    );
    assert_eq!(
        f_result(fcvt_s_d(RNE), &[QNAN_PAYLOAD_D]),
        (boxed(CANONICAL_NAN_S), 0)
    );
    assert_eq!(
        f_result(fcvt_s_d(RNE), &[d(1e300)]),
        (boxed(INF_S), FLAG_OF | FLAG_NX)
    );
    assert_eq!(
        f_result(fcvt_s_d(RTZ), &[d(1e300)]),
        (boxed(MAX_S), FLAG_OF | FLAG_NX)
    );
    assert_eq!(
        f_result(fcvt_s_d(RNE), &[d(1e-300)]),
        (boxed(0), FLAG_UF | FLAG_NX)
    );
    assert_eq!(
        f_result(fcvt_s_d(RUP), &[d(1e-300)]),
        (boxed(1), FLAG_UF | FLAG_NX)
    );
    assert_eq!(f_result(fcvt_s_d(RNE), &[d(0.1)]), (s(0.1), FLAG_NX));
    assert_eq!(f_result(fcvt_s_d(RNE), &[NEG_INF_D]), (boxed(NEG_INF_S), 0));
}

// ---------------------------------------------------------------- sign injection

#[test]
fn sign_injection_is_bitwise_and_quiet() {
    let one = boxed(ONE_S);
    let neg_two = boxed(NEG_TWO_S);
    assert_eq!(
        f_result(fsgnj(S, 0), &[one, neg_two]),
        (boxed(NEG_ONE_S), 0)
    );
    assert_eq!(f_result(fsgnj(S, 1), &[one, neg_two]), (one, 0));
    assert_eq!(
        f_result(fsgnj(S, 2), &[boxed(NEG_ONE_S), neg_two]),
        (one, 0)
    );
    assert_eq!(
        f_result(fsgnj(S, 2), &[one, neg_two]),
        (boxed(NEG_ONE_S), 0)
    );
    // NaNs keep their payload and raise nothing (FNEG / FABS of a signaling NaN).
    assert_eq!(
        f_result(fsgnj(S, 1), &[boxed(SNAN_S), boxed(SNAN_S)]),
        (boxed(0xff80_0001), 0)
    );
    assert_eq!(
        f_result(fsgnj(D, 2), &[SNAN_D | NEG_ZERO_D, SNAN_D | NEG_ZERO_D]),
        (SNAN_D, 0)
    );
    assert_eq!(
        f_result(fsgnj(D, 0), &[QNAN_PAYLOAD_D, NEG_ONE_D]),
        (QNAN_PAYLOAD_D | NEG_ZERO_D, 0)
    );
}

// ---------------------------------------------------------------- fused multiply-add

#[test]
fn fused_ops_round_once() {
    // (1 + 2^-30)(1 - 2^-30) = 1 - 2^-60: a separate multiply rounds it to 1.
    let a = d(1.0 + 2f64.powi(-30));
    let b = d(1.0 - 2f64.powi(-30));
    assert_eq!(f_result(fmul(D, RNE), &[a, b]), (ONE_D, FLAG_NX));
    let tiny = d(2f64.powi(-60));
    let neg_tiny = d(-(2f64.powi(-60)));
    assert_eq!(
        f_result(fused(OPCODE_FMADD, D, RNE), &[a, b, NEG_ONE_D]),
        (neg_tiny, 0)
    );
    assert_eq!(
        f_result(fused(OPCODE_FMSUB, D, RNE), &[a, b, ONE_D]),
        (neg_tiny, 0)
    );
    assert_eq!(
        f_result(fused(OPCODE_FNMSUB, D, RNE), &[a, b, ONE_D]),
        (tiny, 0)
    );
    assert_eq!(
        f_result(fused(OPCODE_FNMADD, D, RNE), &[a, b, NEG_ONE_D]),
        (tiny, 0)
    );
    // Single: (1 + 2^-13)(1 - 2^-13) - 1 = -2^-26 exactly.
    let (a, b) = (boxed(0x3f80_0400), boxed(0x3f7f_f800));
    assert_eq!(f_result(fmul(S, RNE), &[a, b]), (boxed(ONE_S), FLAG_NX));
    assert_eq!(
        f_result(fused(OPCODE_FMADD, S, RNE), &[a, b, boxed(NEG_ONE_S)]),
        (boxed(0xb280_0000), 0)
    );
}

#[test]
fn fused_ops_signed_zeros_follow_the_definition() {
    let (pz, nz, one) = (boxed(0), boxed(NEG_ZERO_S), boxed(ONE_S));
    // FNMSUB = -(0 * 1) + 0 = -0 + +0 = +0 (negating the FMSUB result would give -0).
    assert_eq!(
        f_result(fused(OPCODE_FNMSUB, S, RNE), &[pz, one, pz]),
        (pz, 0)
    );
    // FNMADD = -(0 * 1) - 0 = -0.
    assert_eq!(
        f_result(fused(OPCODE_FNMADD, S, RNE), &[pz, one, pz]),
        (nz, 0)
    );
    // FMSUB = 0 * 1 - 0: +0 in RNE, -0 in RDN.
    assert_eq!(
        f_result(fused(OPCODE_FMSUB, S, RNE), &[pz, one, pz]),
        (pz, 0)
    );
    assert_eq!(
        f_result(fused(OPCODE_FMSUB, S, RDN), &[pz, one, pz]),
        (nz, 0)
    );
    assert_eq!(
        f_result(
            fused(OPCODE_FMADD, D, RNE),
            &[NEG_ZERO_D, ONE_D, NEG_ZERO_D]
        ),
        (NEG_ZERO_D, 0)
    );
}

#[test]
fn fused_infinity_times_zero_is_invalid_even_with_quiet_nan_addend() {
    assert_eq!(
        f_result(fused(OPCODE_FMADD, D, RNE), &[INF_D, 0, QNAN_PAYLOAD_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
    assert_eq!(
        f_result(
            fused(OPCODE_FNMSUB, S, RNE),
            &[boxed(0), boxed(NEG_INF_S), boxed(ONE_S)]
        ),
        (boxed(CANONICAL_NAN_S), FLAG_NV)
    );
    // Quiet NaN addend with a finite product: quiet.
    assert_eq!(
        f_result(fused(OPCODE_FMADD, D, RNE), &[ONE_D, ONE_D, QNAN_PAYLOAD_D]),
        (CANONICAL_NAN_D, 0)
    );
    // inf * 1 - inf: invalid.
    assert_eq!(
        f_result(fused(OPCODE_FMSUB, D, RNE), &[INF_D, ONE_D, INF_D]),
        (CANONICAL_NAN_D, FLAG_NV)
    );
}

#[test]
fn fused_overflow_and_rounding() {
    assert_eq!(
        f_result(fused(OPCODE_FMADD, D, RNE), &[MAX_D, TWO_D, NEG_ONE_D]),
        (INF_D, FLAG_OF | FLAG_NX)
    );
    // 1 * 1 + 2^-24 in single: halfway, RNE keeps 1, RUP goes up.
    let (one, half_ulp) = (boxed(ONE_S), boxed(0x3380_0000));
    assert_eq!(
        f_result(fused(OPCODE_FMADD, S, RNE), &[one, one, half_ulp]),
        (one, FLAG_NX)
    );
    assert_eq!(
        f_result(fused(OPCODE_FMADD, S, RUP), &[one, one, half_ulp]),
        (boxed(0x3f80_0001), FLAG_NX)
    );
}

// ---------------------------------------------------------------- host cross-check

/// f64 operands that are not NaN: arbitrary bit patterns (mostly huge or tiny), moderate
/// values, and small integers (exact results).
fn non_nan_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        -1.0e6f64..1.0e6,
        (-64i32..64).prop_map(f64::from),
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
    ]
    .prop_filter("not NaN", |v| !v.is_nan())
}

/// Whether the host's correctly rounded result `r` of an operation is exact, when that
/// can be decided from an exact residual; None when the residual itself could round.
fn residual_is_zero(residual: f64, r: f64) -> Option<bool> {
    (r.is_finite() && r.abs() >= 2f64.powi(-900)).then_some(residual == 0.0)
}

/// Run a binary D operation on (a, b) and compare with the host's result `host`.
fn check_d(insn: u32, a: f64, b: f64, host: f64, exact: Option<bool>, dz: bool) {
    let (bits, flags) = f_result(insn, &[d(a), d(b)]);
    if host.is_nan() {
        assert_eq!(bits, CANONICAL_NAN_D, "{insn:#x} {a:e} {b:e}");
        assert_eq!(flags, FLAG_NV, "{insn:#x} {a:e} {b:e}");
        return;
    }
    assert_eq!(bits, d(host), "{insn:#x} {a:e} {b:e}");
    assert_eq!(flags & FLAG_NV, 0);
    assert_eq!(flags & FLAG_DZ != 0, dz, "{insn:#x} {a:e} {b:e}");
    if let Some(exact) = exact {
        assert_eq!(flags & FLAG_NX == 0, exact, "{insn:#x} {a:e} {b:e}");
    }
    if host.is_infinite() && a.is_finite() && b.is_finite() && !dz {
        assert_eq!(flags, FLAG_OF | FLAG_NX, "{insn:#x} {a:e} {b:e}");
    }
}

proptest! {
    #[test]
    fn fadd_d_matches_host(a in non_nan_f64(), b in non_nan_f64()) {
        let r = a + b;
        // TwoSum: the rounding error of a + b, exact unless the sum overflowed.
        let bv = r - a;
        let err = (a - (r - bv)) + (b - bv);
        let exact = r.is_finite().then_some(err == 0.0);
        check_d(fadd(D, RNE), a, b, r, exact, false);
        let r = a - b;
        let bv = r - a;
        let err = (a - (r - bv)) + (-b - bv);
        let exact = r.is_finite().then_some(err == 0.0);
        check_d(fsub(D, RNE), a, b, r, exact, false);
    }

    #[test]
    fn fmul_d_matches_host(a in non_nan_f64(), b in non_nan_f64()) {
        let r = a * b;
        let exact = if a == 0.0 || b == 0.0 {
            Some(true)
        } else {
            residual_is_zero(a.mul_add(b, -r), r)
        };
        check_d(fmul(D, RNE), a, b, r, exact, false);
    }

    #[test]
    fn fdiv_d_matches_host(a in non_nan_f64(), b in non_nan_f64()) {
        let r = a / b;
        let dz = b == 0.0 && a.is_finite() && a != 0.0;
        let exact = if a == 0.0 && b != 0.0 {
            Some(true)
        } else if b.is_finite() && b != 0.0 && a.is_finite() && a.abs() >= 2f64.powi(-900) {
            // The remainder a - r*b is exactly representable when nothing is near underflow.
            residual_is_zero(r.mul_add(b, -a), r)
        } else {
            None
        };
        check_d(fdiv(D, RNE), a, b, r, exact, dz);
    }

    #[test]
    fn fsqrt_d_matches_host(a in non_nan_f64()) {
        let r = a.sqrt();
        let (bits, flags) = f_result(fsqrt(D, RNE), &[d(a)]);
        if r.is_nan() {
            prop_assert_eq!((bits, flags), (CANONICAL_NAN_D, FLAG_NV));
        } else {
            prop_assert_eq!(bits, d(r));
            prop_assert_eq!(flags & !FLAG_NX, 0);
            // r*r - a is exactly representable unless a is near the subnormal range.
            let exact = if r == 0.0 || r.is_infinite() {
                Some(true)
            } else {
                (a >= 2f64.powi(-900)).then_some(r.mul_add(r, -a) == 0.0)
            };
            if let Some(exact) = exact {
                prop_assert_eq!(flags, if exact { 0 } else { FLAG_NX });
            }
        }
    }

    #[test]
    fn single_ops_match_host(a in any::<f32>(), b in any::<f32>()) {
        prop_assume!(!a.is_nan() && !b.is_nan());
        let ops = [(a + b, fadd(S, RNE)), (a - b, fsub(S, RNE)), (a * b, fmul(S, RNE)), (a / b, fdiv(S, RNE))];
        for (host, insn) in ops {
            let (bits, _) = f_result(insn, &[s(a), s(b)]);
            let want = if host.is_nan() { boxed(CANONICAL_NAN_S) } else { s(host) };
            prop_assert_eq!(bits, want, "{:#x} {} {}", insn, a, b);
        }
        let host = a.sqrt();
        let want = if host.is_nan() { boxed(CANONICAL_NAN_S) } else { s(host) };
        prop_assert_eq!(f_result(fsqrt(S, RNE), &[s(a)]).0, want);
        // Widening is exact, and narrowing back gives the value again.
        prop_assert_eq!(f_result(fcvt_d_s(RNE), &[s(a)]), (d(f64::from(a)), 0));
        prop_assert_eq!(f_result(fcvt_s_d(RNE), &[d(f64::from(a))]), (s(a), 0));
    }
}

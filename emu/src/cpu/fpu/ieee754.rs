//! IEEE 754 binary32 and binary64 arithmetic in software, with the choices RISC-V makes
//! where the standard leaves a choice: every NaN result is the canonical NaN, tininess is
//! detected after rounding, `0 × ∞ + qNaN` is invalid, and float-to-integer conversions
//! saturate as the unprivileged spec's table says.
//!
//! Why our own code and not a crate: the emulator needs the five rounding modes, the five
//! exception flags and all of the above bit-exact. Berkeley SoftFloat (the previous
//! implementation) has them but is C, and its Rust wrapper builds it with CMake; it also
//! keeps the rounding mode and flags in C thread-locals. `rustc_apfloat` is pure Rust but
//! has no square root, raises underflow by whether the result rounded to subnormal
//! precision is subnormal (which differs from RISC-V's tininess-after-rounding just below
//! the smallest normal), propagates NaN payloads and knows no RISC-V conversion rules:
//! all of that would have to be patched over on our side. `softfp` (pure Rust, written
//! for a RISC-V emulator) reads the rounding mode and reports flags through global
//! callbacks; it is the oracle of the differential tests, which found it wrong on two
//! edges (√sNaN raises DZ instead of NV; 2^63 converts to a 64-bit integer as 0 without
//! a flag). What the F and D extensions need is small once it is written in
//! one shape: every operation unpacks its operands into sign, exponent and integer
//! significand, handles the special operands (NaN, infinity, zero) by the spec's rules,
//! computes the exact result of the finite case in a `u128` — or its leading bits with a
//! sticky bit standing for everything non-zero below — and hands it to one routine,
//! [`round_pack`], the only place that rounds, detects overflow and underflow and
//! encodes. RISC-V semantics are then true by construction, with no global state (the
//! flags are the caller's) and no dependency.
//!
//! A value's bits are a `u64` for both formats (binary32 in the low 32 bits).

use std::cmp::Ordering;

/// Exception flags, with fcsr.fflags' bit values.
pub const FLAG_NX: u8 = 1;
pub const FLAG_UF: u8 = 2;
pub const FLAG_OF: u8 = 4;
pub const FLAG_DZ: u8 = 8;
pub const FLAG_NV: u8 = 16;

/// The five rounding-direction attributes (RISC-V rm 0..4, in that order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// RNE: to nearest, ties to even.
    NearestEven,
    /// RTZ.
    TowardZero,
    /// RDN: toward −∞.
    Down,
    /// RUP: toward +∞.
    Up,
    /// RMM: to nearest, ties away from zero.
    NearestMaxMagnitude,
}

/// A binary interchange format: its field widths, and the constants that follow.
pub trait Format {
    const EXP_BITS: u32;
    /// Stored significand bits (the precision is one more).
    const FRAC_BITS: u32;

    const SIGN: u64 = 1 << (Self::EXP_BITS + Self::FRAC_BITS);
    const EXP_MASK: u64 = ((1 << Self::EXP_BITS) - 1) << Self::FRAC_BITS;
    const FRAC_MASK: u64 = (1 << Self::FRAC_BITS) - 1;
    /// The first fraction bit: set in a quiet NaN, clear in a signaling one.
    const QUIET_BIT: u64 = 1 << (Self::FRAC_BITS - 1);
    /// The NaN RISC-V returns for every NaN result: positive, quiet, zero payload.
    const CANONICAL_NAN: u64 = Self::EXP_MASK | Self::QUIET_BIT;
    const INFINITY: u64 = Self::EXP_MASK;
    /// The largest finite magnitude: the exponent field one below all-ones, fraction all ones.
    const MAX_FINITE: u64 = Self::EXP_MASK - 1;
    const BIAS: i32 = (1 << (Self::EXP_BITS - 1)) - 1;
    /// The exponent of the smallest normal number.
    const EMIN: i32 = 1 - Self::BIAS;
}

/// What an operand is, after decoding its fields.
#[derive(Clone, Copy)]
enum Class {
    Nan {
        signaling: bool,
    },
    Infinity,
    Zero,
    /// `sig · 2^exp`, `sig` ≠ 0 (normal numbers carry their hidden bit).
    Finite {
        exp: i32,
        sig: u64,
    },
}

#[derive(Clone, Copy)]
struct Operand {
    negative: bool,
    class: Class,
}

fn unpack<F: Format>(bits: u64) -> Operand {
    let negative = bits & F::SIGN != 0;
    let exp_field = ((bits & F::EXP_MASK) >> F::FRAC_BITS) as i32;
    let frac = bits & F::FRAC_MASK;
    let class = match (exp_field, frac) {
        (0, 0) => Class::Zero,
        (0, _) => Class::Finite {
            exp: F::EMIN - F::FRAC_BITS as i32,
            sig: frac,
        },
        _ if bits & F::EXP_MASK == F::EXP_MASK => match frac {
            0 => Class::Infinity,
            _ => Class::Nan {
                signaling: frac & F::QUIET_BIT == 0,
            },
        },
        _ => Class::Finite {
            exp: exp_field - F::BIAS - F::FRAC_BITS as i32,
            sig: frac | 1 << F::FRAC_BITS,
        },
    };
    Operand { negative, class }
}

fn sign_bit<F: Format>(negative: bool) -> u64 {
    if negative {
        F::SIGN
    } else {
        0
    }
}

fn infinity<F: Format>(negative: bool) -> u64 {
    sign_bit::<F>(negative) | F::INFINITY
}

fn zero<F: Format>(negative: bool) -> u64 {
    sign_bit::<F>(negative)
}

/// The zero an exact cancellation (x + (−x)) gives: +0, except −0 when rounding down.
fn cancelled<F: Format>(rm: Rounding) -> u64 {
    zero::<F>(rm == Rounding::Down)
}

/// An invalid operation: NV and the canonical NaN.
fn invalid<F: Format>(flags: &mut u8) -> u64 {
    *flags |= FLAG_NV;
    F::CANONICAL_NAN
}

/// If an operand is a NaN, the result: the canonical NaN, with NV if one of them is
/// signaling.
fn nan_operand<F: Format>(operands: &[Operand], flags: &mut u8) -> Option<u64> {
    let mut any_nan = false;
    for operand in operands {
        if let Class::Nan { signaling } = operand.class {
            any_nan = true;
            if signaling {
                *flags |= FLAG_NV;
            }
        }
    }
    any_nan.then_some(F::CANONICAL_NAN)
}

/// Shift `sig` right by `drop` bits (left when negative, exactly), rounding by `rm` a
/// value of sign `negative`. Returns the rounded integer and whether non-zero bits were
/// dropped.
fn shift_round(sig: u128, drop: i32, negative: bool, rm: Rounding) -> (u128, bool) {
    if drop <= 0 {
        return (sig << -drop, false);
    }
    // Beyond 128 places everything is below half of the last place kept: one set bit
    // two places down says the same.
    let (sig, drop) = if drop > 128 {
        (u128::from(sig != 0), 2)
    } else {
        (sig, drop as u32)
    };
    let kept = sig.checked_shr(drop).unwrap_or(0);
    let rest = sig - kept.checked_shl(drop).unwrap_or(0);
    let half = 1u128 << (drop - 1);
    let round_up = match rm {
        Rounding::NearestEven => rest > half || (rest == half && kept & 1 == 1),
        Rounding::NearestMaxMagnitude => rest >= half,
        Rounding::TowardZero => false,
        Rounding::Down => negative && rest != 0,
        Rounding::Up => !negative && rest != 0,
    };
    (kept + u128::from(round_up), rest != 0)
}

/// The one rounding step every operation ends with: `(−1)^negative · sig · 2^exp`,
/// `sig` ≠ 0, rounded to the format by `rm`, with NX, OF and UF raised as IEEE 754 says
/// (underflow = tiny after rounding and inexact). The lowest bit of `sig` may be a
/// sticky bit standing for non-zero bits further down: callers keep it at least two
/// places below the last bit the result can keep, so it decides "inexact" and breaks
/// ties without moving the result.
fn round_pack<F: Format>(negative: bool, exp: i32, sig: u128, rm: Rounding, flags: &mut u8) -> u64 {
    // The value lies in [2^top, 2^(top+1)).
    let top = exp + 127 - sig.leading_zeros() as i32;
    // Normal results keep FRAC_BITS bits below the leading one; subnormal ones keep the
    // bits down to the subnormal spacing 2^(EMIN − FRAC_BITS).
    let scale = top.max(F::EMIN);
    let (kept, inexact) = shift_round(sig, scale - F::FRAC_BITS as i32 - exp, negative, rm);
    // `kept` carries the hidden bit, so adding it to the exponent field one below the
    // result's also carries a significand that rounded up to the next power of two into
    // the exponent (and a subnormal that rounded up into the smallest normal).
    let bits = (((scale + F::BIAS - 1) as u64) << F::FRAC_BITS) + kept as u64;
    if bits >= F::INFINITY {
        return overflow::<F>(negative, rm, flags);
    }
    if inexact {
        *flags |= FLAG_NX;
        if tiny_after_rounding::<F>(top, exp, sig, negative, rm) {
            *flags |= FLAG_UF;
        }
    }
    sign_bit::<F>(negative) | bits
}

/// Overflow: OF and NX, and infinity or the largest finite number by the direction.
fn overflow<F: Format>(negative: bool, rm: Rounding, flags: &mut u8) -> u64 {
    *flags |= FLAG_OF | FLAG_NX;
    let to_infinity = match rm {
        Rounding::NearestEven | Rounding::NearestMaxMagnitude => true,
        Rounding::TowardZero => false,
        Rounding::Down => negative,
        Rounding::Up => !negative,
    };
    let magnitude = if to_infinity {
        F::INFINITY
    } else {
        F::MAX_FINITE
    };
    sign_bit::<F>(negative) | magnitude
}

/// Tininess after rounding (RISC-V's choice of the two IEEE 754 allows): the value,
/// rounded to the format's precision as if the exponent range were unbounded, is below
/// 2^EMIN. Only a value in the binade just below 2^EMIN can round up out of it.
fn tiny_after_rounding<F: Format>(
    top: i32,
    exp: i32,
    sig: u128,
    negative: bool,
    rm: Rounding,
) -> bool {
    if top >= F::EMIN {
        return false;
    }
    let (kept, _) = shift_round(sig, top - F::FRAC_BITS as i32 - exp, negative, rm);
    let left_the_binade = kept >> (F::FRAC_BITS + 1) != 0;
    !(left_the_binade && top + 1 == F::EMIN)
}

/// A finite non-zero value `(−1)^negative · sig · 2^exp`, exact.
#[derive(Clone, Copy)]
struct Exact {
    negative: bool,
    exp: i32,
    sig: u128,
}

fn exact(negative: bool, exp: i32, sig: u64) -> Exact {
    Exact {
        negative,
        exp,
        sig: u128::from(sig),
    }
}

/// `x` with its leading bit moved to bit 125 of the 128-bit window sums work in (two
/// bits of headroom for the carry).
fn at_window_top(x: Exact) -> Exact {
    let shift = x.sig.leading_zeros() as i32 - 2;
    Exact {
        exp: x.exp - shift,
        sig: x.sig << shift,
        ..x
    }
}

/// Shift right, ORing every bit shifted out into the lowest bit kept ("jamming").
fn shift_right_jam(sig: u128, shift: u32) -> u128 {
    match shift {
        0 => sig,
        1..=127 => (sig >> shift) | u128::from(sig << (128 - shift) != 0),
        _ => u128::from(sig != 0),
    }
}

/// x + y for finite non-zero x and y, rounded once. Both go to the top of the window
/// first: operands have at most 106 significant bits (a product), so an alignment shift
/// of 19 places or fewer loses nothing, and after a longer one the difference still has
/// its leading bit at 124 or above, far from the sticky bit.
fn sum<F: Format>(x: Exact, y: Exact, rm: Rounding, flags: &mut u8) -> u64 {
    let (x, y) = (at_window_top(x), at_window_top(y));
    let (big, small) = if x.exp >= y.exp { (x, y) } else { (y, x) };
    let small_sig = shift_right_jam(small.sig, (big.exp - small.exp) as u32);
    let exp = big.exp;
    if big.negative == small.negative {
        return round_pack::<F>(big.negative, exp, big.sig + small_sig, rm, flags);
    }
    match big.sig.cmp(&small_sig) {
        Ordering::Greater => round_pack::<F>(big.negative, exp, big.sig - small_sig, rm, flags),
        Ordering::Less => round_pack::<F>(small.negative, exp, small_sig - big.sig, rm, flags),
        Ordering::Equal => cancelled::<F>(rm),
    }
}

/// a + b.
pub fn add<F: Format>(a: u64, b: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let (x, y) = (unpack::<F>(a), unpack::<F>(b));
    if let Some(nan) = nan_operand::<F>(&[x, y], flags) {
        return nan;
    }
    match (x.class, y.class) {
        (Class::Infinity, Class::Infinity) if x.negative != y.negative => invalid::<F>(flags),
        (Class::Infinity, _) => a,
        (_, Class::Infinity) => b,
        (Class::Zero, Class::Zero) if x.negative == y.negative => a,
        (Class::Zero, Class::Zero) => cancelled::<F>(rm),
        (Class::Zero, _) => b,
        (_, Class::Zero) => a,
        (Class::Finite { exp: xe, sig: xs }, Class::Finite { exp: ye, sig: ys }) => sum::<F>(
            exact(x.negative, xe, xs),
            exact(y.negative, ye, ys),
            rm,
            flags,
        ),
        (Class::Nan { .. }, _) | (_, Class::Nan { .. }) => unreachable!("NaNs returned above"),
    }
}

/// a − b: a + (−b), which flips a NaN's sign harmlessly (NaN results are canonical).
pub fn sub<F: Format>(a: u64, b: u64, rm: Rounding, flags: &mut u8) -> u64 {
    add::<F>(a, b ^ F::SIGN, rm, flags)
}

/// a × b.
pub fn mul<F: Format>(a: u64, b: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let (x, y) = (unpack::<F>(a), unpack::<F>(b));
    if let Some(nan) = nan_operand::<F>(&[x, y], flags) {
        return nan;
    }
    let negative = x.negative != y.negative;
    match (x.class, y.class) {
        (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity) => invalid::<F>(flags),
        (Class::Infinity, _) | (_, Class::Infinity) => infinity::<F>(negative),
        (Class::Zero, _) | (_, Class::Zero) => zero::<F>(negative),
        (Class::Finite { exp: xe, sig: xs }, Class::Finite { exp: ye, sig: ys }) => {
            let product = u128::from(xs) * u128::from(ys);
            round_pack::<F>(negative, xe + ye, product, rm, flags)
        }
        (Class::Nan { .. }, _) | (_, Class::Nan { .. }) => unreachable!("NaNs returned above"),
    }
}

/// `sig · 2^exp` with `sig`'s leading one moved to bit `at`.
fn normalized(exp: i32, sig: u64, at: u32) -> (i32, u64) {
    let shift = sig.leading_zeros() as i32 - (63 - at as i32);
    (exp - shift, sig << shift)
}

/// a ÷ b.
pub fn div<F: Format>(a: u64, b: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let (x, y) = (unpack::<F>(a), unpack::<F>(b));
    if let Some(nan) = nan_operand::<F>(&[x, y], flags) {
        return nan;
    }
    let negative = x.negative != y.negative;
    match (x.class, y.class) {
        (Class::Infinity, Class::Infinity) | (Class::Zero, Class::Zero) => invalid::<F>(flags),
        (Class::Infinity, _) => infinity::<F>(negative),
        (_, Class::Infinity) | (Class::Zero, _) => zero::<F>(negative),
        (_, Class::Zero) => {
            *flags |= FLAG_DZ;
            infinity::<F>(negative)
        }
        (Class::Finite { exp: xe, sig: xs }, Class::Finite { exp: ye, sig: ys }) => {
            // Both significands with their leading one at bit 63: the quotient of the
            // dividend shifted up 64 places has 64 or 65 bits, a remainder makes it sticky.
            let (xe, xs) = normalized(xe, xs, 63);
            let (ye, ys) = normalized(ye, ys, 63);
            let dividend = u128::from(xs) << 64;
            let quotient = dividend / u128::from(ys);
            // The remainder by multiplication: a second 128-bit division costs far more.
            let sticky = u128::from(quotient * u128::from(ys) != dividend);
            round_pack::<F>(negative, xe - ye - 64, quotient | sticky, rm, flags)
        }
        (Class::Nan { .. }, _) | (_, Class::Nan { .. }) => unreachable!("NaNs returned above"),
    }
}

/// ⌊√n⌋ for n < 2^112. The host's square root only gives a starting guess (within a few
/// units of the answer); the integer steps make the result exact whatever the guess.
fn isqrt(n: u128) -> u128 {
    let mut root = (n as f64).sqrt() as u128;
    while root * root > n {
        root -= 1;
    }
    while (root + 1) * (root + 1) <= n {
        root += 1;
    }
    root
}

/// √a.
pub fn sqrt<F: Format>(a: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let x = unpack::<F>(a);
    if let Some(nan) = nan_operand::<F>(&[x], flags) {
        return nan;
    }
    match x.class {
        Class::Zero => a,
        _ if x.negative => invalid::<F>(flags),
        Class::Infinity => a,
        Class::Finite { exp, sig } => {
            // With the significand at full precision p and 2p + 4 or 2p + 5 bits under
            // the root (the exponent left even), the root has p + 2 bits or more: the
            // sticky bit (a remainder) stays two places below the last bit kept.
            let (exp, sig) = normalized(exp, sig, F::FRAC_BITS);
            let shift = F::FRAC_BITS as i32 + 5 + (exp - F::FRAC_BITS as i32 - 5).rem_euclid(2);
            let radicand = u128::from(sig) << shift;
            let root = isqrt(radicand);
            let sticky = u128::from(root * root != radicand);
            round_pack::<F>(false, (exp - shift) / 2, root | sticky, rm, flags)
        }
        Class::Nan { .. } => unreachable!("NaNs returned above"),
    }
}

/// a × b + c with one rounding. 0 × ∞ is invalid even when c is a quiet NaN (the
/// unprivileged spec requires NV there).
pub fn mul_add<F: Format>(a: u64, b: u64, c: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let (x, y, z) = (unpack::<F>(a), unpack::<F>(b), unpack::<F>(c));
    let product_negative = x.negative != y.negative;
    let zero_times_infinity = matches!(
        (x.class, y.class),
        (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity)
    );
    if let Some(nan) = nan_operand::<F>(&[x, y, z], flags) {
        if zero_times_infinity {
            *flags |= FLAG_NV;
        }
        return nan;
    }
    if zero_times_infinity {
        return invalid::<F>(flags);
    }
    let product = match (x.class, y.class) {
        (Class::Infinity, _) | (_, Class::Infinity) => {
            return match z.class {
                Class::Infinity if z.negative != product_negative => invalid::<F>(flags),
                _ => infinity::<F>(product_negative),
            };
        }
        (Class::Zero, _) | (_, Class::Zero) => None,
        (Class::Finite { exp: xe, sig: xs }, Class::Finite { exp: ye, sig: ys }) => Some(Exact {
            negative: product_negative,
            exp: xe + ye,
            sig: u128::from(xs) * u128::from(ys),
        }),
        (Class::Nan { .. }, _) | (_, Class::Nan { .. }) => unreachable!("NaNs returned above"),
    };
    match (product, z.class) {
        (_, Class::Infinity) => c,
        (None, Class::Zero) if z.negative != product_negative => cancelled::<F>(rm),
        (None, _) => c,
        (Some(p), Class::Zero) => round_pack::<F>(p.negative, p.exp, p.sig, rm, flags),
        (Some(p), Class::Finite { exp, sig }) => {
            sum::<F>(p, exact(z.negative, exp, sig), rm, flags)
        }
        (Some(_), Class::Nan { .. }) => unreachable!("NaNs returned above"),
    }
}

/// Converts between formats (binary32 ↔ binary64); widening is always exact.
pub fn convert<From: Format, To: Format>(a: u64, rm: Rounding, flags: &mut u8) -> u64 {
    let x = unpack::<From>(a);
    if let Some(nan) = nan_operand::<To>(&[x], flags) {
        return nan;
    }
    match x.class {
        Class::Infinity => infinity::<To>(x.negative),
        Class::Zero => zero::<To>(x.negative),
        Class::Finite { exp, sig } => round_pack::<To>(x.negative, exp, u128::from(sig), rm, flags),
        Class::Nan { .. } => unreachable!("NaNs returned above"),
    }
}

/// The integer `(−1)^negative · magnitude`, rounded to the format (+0 for zero).
pub fn from_int<F: Format>(negative: bool, magnitude: u64, rm: Rounding, flags: &mut u8) -> u64 {
    match magnitude {
        0 => zero::<F>(false),
        _ => round_pack::<F>(negative, 0, u128::from(magnitude), rm, flags),
    }
}

/// The integer formats FCVT converts to, by their range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntFormat {
    I32,
    U32,
    I64,
    U64,
}

impl IntFormat {
    fn min(self) -> i128 {
        match self {
            IntFormat::I32 => i32::MIN.into(),
            IntFormat::I64 => i64::MIN.into(),
            IntFormat::U32 | IntFormat::U64 => 0,
        }
    }
    fn max(self) -> i128 {
        match self {
            IntFormat::I32 => i32::MAX.into(),
            IntFormat::U32 => u32::MAX.into(),
            IntFormat::I64 => i64::MAX.into(),
            IntFormat::U64 => u64::MAX.into(),
        }
    }
}

/// a rounded by `rm` to an integer of format `int`. Out of range after rounding, ±∞ and
/// NaN are invalid and give the unprivileged spec's values: the maximum for NaN and for
/// too large a positive value, the minimum for too large a negative one (NX is not
/// raised then).
pub fn to_int<F: Format>(a: u64, int: IntFormat, rm: Rounding, flags: &mut u8) -> i128 {
    let x = unpack::<F>(a);
    let rounded = match x.class {
        Class::Nan { .. } => None,
        Class::Infinity => None,
        Class::Zero => Some((0, false)),
        // 2^64 · 2^53 is beyond every integer format and still fits the u128.
        Class::Finite { exp, .. } if exp > 64 => None,
        Class::Finite { exp, sig } => {
            let (magnitude, inexact) = shift_round(u128::from(sig), -exp, x.negative, rm);
            let value = if x.negative {
                -(magnitude as i128)
            } else {
                magnitude as i128
            };
            Some((value, inexact))
        }
    };
    match rounded {
        Some((value, inexact)) if (int.min()..=int.max()).contains(&value) => {
            if inexact {
                *flags |= FLAG_NX;
            }
            value
        }
        _ => {
            *flags |= FLAG_NV;
            let nan = matches!(x.class, Class::Nan { .. });
            if x.negative && !nan {
                int.min()
            } else {
                int.max()
            }
        }
    }
}

/// The numerical order of a and b; None when either is a NaN. −0 = +0.
pub fn compare<F: Format>(a: u64, b: u64) -> Option<Ordering> {
    let (x, y) = (unpack::<F>(a), unpack::<F>(b));
    if matches!(x.class, Class::Nan { .. }) || matches!(y.class, Class::Nan { .. }) {
        return None;
    }
    Some(order_key::<F>(a).cmp(&order_key::<F>(b)))
}

/// An integer that orders non-NaN values as numbers: sign and magnitude bits already
/// order magnitudes, so negating the magnitude of negative values orders everything
/// (both zeros map to 0).
fn order_key<F: Format>(bits: u64) -> i64 {
    let magnitude = (bits & !F::SIGN) as i64;
    if bits & F::SIGN != 0 {
        -magnitude
    } else {
        magnitude
    }
}

fn any_signaling<F: Format>(a: u64, b: u64) -> bool {
    [a, b]
        .into_iter()
        .any(|bits| matches!(unpack::<F>(bits).class, Class::Nan { signaling: true }))
}

/// FEQ: a quiet comparison, NV only for a signaling NaN.
pub fn eq<F: Format>(a: u64, b: u64, flags: &mut u8) -> bool {
    if any_signaling::<F>(a, b) {
        *flags |= FLAG_NV;
    }
    compare::<F>(a, b) == Some(Ordering::Equal)
}

/// FLT / FLE: signaling comparisons, NV for any NaN.
fn signaling_compare<F: Format>(a: u64, b: u64, flags: &mut u8) -> Option<Ordering> {
    let order = compare::<F>(a, b);
    if order.is_none() {
        *flags |= FLAG_NV;
    }
    order
}

pub fn lt<F: Format>(a: u64, b: u64, flags: &mut u8) -> bool {
    signaling_compare::<F>(a, b, flags) == Some(Ordering::Less)
}

pub fn le<F: Format>(a: u64, b: u64, flags: &mut u8) -> bool {
    matches!(
        signaling_compare::<F>(a, b, flags),
        Some(Ordering::Less | Ordering::Equal)
    )
}

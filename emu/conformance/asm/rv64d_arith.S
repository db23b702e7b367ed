# RV64D arithmetic: the same ground as rv64f_arith in double precision, plus the
# double <-> single conversions (rounding, overflow, NaN handling, NaN-box checks).
.equ ONE,   0x3ff0000000000000
.equ TWO,   0x4000000000000000
.equ THREE, 0x4008000000000000
.equ HALF,  0x3fe0000000000000
.equ MONE,  0xbff0000000000000
.equ PINF,  0x7ff0000000000000
.equ MINF,  0xfff0000000000000
.equ QNAN,  0x7ff8000000000000
.equ SNAN,  0x7ff0000000000001
.equ PZERO, 0x0000000000000000
.equ MZERO, 0x8000000000000000
.equ DMAX,  0x7fefffffffffffff
.equ ULP53, 0x3ca0000000000000          # 2^-53: half an ulp of 1.0
.equ MULP53, 0xbca0000000000000

test_main:
    TEST_FD_RR 1, fadd.d, THREE, ONE, TWO, 0
    TEST_FD_RR 2, fadd.d, PZERO, ONE, MONE, 0
    TEST_FD_RR_RM 3, fadd.d, rdn, MZERO, ONE, MONE, 0
    TEST_FD_RR 4, fadd.d, QNAN, PINF, MINF, FF_NV
    TEST_FD_RR 5, fadd.d, QNAN, SNAN, ONE, FF_NV
    TEST_FD_RR 6, fadd.d, QNAN, 0x7ff8000000abcdef, ONE, 0
    TEST_FD_RR 7, fadd.d, PINF, DMAX, DMAX, FF_OF | FF_NX
    TEST_FD_RR_RM 8, fadd.d, rdn, DMAX, DMAX, DMAX, FF_OF | FF_NX
    TEST_FD_RR 9, fsub.d, MONE, ONE, TWO, 0
    TEST_FD_RR 10, fsub.d, QNAN, MINF, MINF, FF_NV
    TEST_FD_RR 11, fmul.d, 0x3ff8000000000000, THREE, HALF, 0
    TEST_FD_RR 12, fmul.d, MZERO, PZERO, MONE, 0
    TEST_FD_RR 13, fmul.d, QNAN, PZERO, MINF, FF_NV
    TEST_FD_RR 14, fmul.d, 0x0008000000000000, 0x0010000000000001, HALF, FF_UF | FF_NX
    TEST_FD_RR 15, fmul.d, 0x0008000000000000, 0x0010000000000000, HALF, 0
    TEST_FD_RR 16, fdiv.d, 0x3fd5555555555555, ONE, THREE, FF_NX
    TEST_FD_RR_RM 17, fdiv.d, rup, 0x3fd5555555555556, ONE, THREE, FF_NX
    TEST_FD_RR 18, fdiv.d, MINF, ONE, MZERO, FF_DZ
    TEST_FD_RR 19, fdiv.d, QNAN, PINF, PINF, FF_NV
    TEST_FD_R 20, fsqrt.d, 0x3ff6a09e667f3bcd, TWO, FF_NX
    TEST_FD_R 21, fsqrt.d, QNAN, MINF, FF_NV
    TEST_FD_R 22, fsqrt.d, MZERO, MZERO, 0
    TEST_FD_R 23, fsqrt.d, THREE, 0x4022000000000000, 0     # sqrt(9) = 3

    TEST_FD_RR 30, fmin.d, MONE, ONE, MONE, 0
    TEST_FD_RR 31, fmin.d, ONE, QNAN, ONE, 0
    TEST_FD_RR 32, fmin.d, ONE, SNAN, ONE, FF_NV
    TEST_FD_RR 33, fmin.d, QNAN, SNAN, QNAN, FF_NV
    TEST_FD_RR 34, fmin.d, MZERO, PZERO, MZERO, 0
    TEST_FD_RR 35, fmax.d, PZERO, MZERO, PZERO, 0
    TEST_FD_RR 36, fmax.d, TWO, TWO, QNAN, 0
    TEST_FD_RR 37, fmax.d, QNAN, QNAN, QNAN, 0

    TEST_FD_RRR 40, fmadd.d, 0x401c000000000000, TWO, THREE, ONE, 0
    TEST_FD_RRR 41, fmsub.d, 0x4014000000000000, TWO, THREE, ONE, 0
    TEST_FD_RRR 42, fnmsub.d, 0xc014000000000000, TWO, THREE, ONE, 0
    TEST_FD_RRR 43, fnmadd.d, 0xc01c000000000000, TWO, THREE, ONE, 0
    # (1+2^-27)^2 - (1+2^-26) = 2^-54 exactly only if not rounded in between.
    TEST_FD_RRR 44, fmadd.d, 0x3c90000000000000, 0x3ff0000002000000, 0x3ff0000002000000, 0xbff0000004000000, 0
    TEST_FD_RR 45, fmul.d, 0x3ff0000004000000, 0x3ff0000002000000, 0x3ff0000002000000, FF_NX
    TEST_FD_RRR 46, fmadd.d, QNAN, PZERO, PINF, QNAN, FF_NV
    TEST_FD_RRR 47, fnmsub.d, QNAN, ONE, ONE, SNAN, FF_NV

    TEST_FD_RR_RM 50, fadd.d, rne, ONE, ONE, ULP53, FF_NX
    TEST_FD_RR_RM 51, fadd.d, rtz, ONE, ONE, ULP53, FF_NX
    TEST_FD_RR_RM 52, fadd.d, rdn, ONE, ONE, ULP53, FF_NX
    TEST_FD_RR_RM 53, fadd.d, rup, 0x3ff0000000000001, ONE, ULP53, FF_NX
    TEST_FD_RR_RM 54, fadd.d, rmm, 0x3ff0000000000001, ONE, ULP53, FF_NX
    TEST_FD_RR_RM 55, fadd.d, rne, 0x3ff0000000000002, 0x3ff0000000000001, ULP53, FF_NX
    TEST_FD_RR_RM 56, fadd.d, rdn, 0xbff0000000000001, MONE, MULP53, FF_NX
    TEST_FD_RR_RM 57, fadd.d, rup, MONE, MONE, MULP53, FF_NX
    TEST_FD_RR_RM 58, fadd.d, rmm, 0xbff0000000000001, MONE, MULP53, FF_NX
    TEST_FD_RR_RM 59, fadd.d, rtz, MONE, MONE, MULP53, FF_NX
    li gp, 60
    fsrmi 2                           # RDN through frm
    TEST_FD_RR 61, fadd.d, 0xbff0000000000001, MONE, MULP53, FF_NX
    fsrmi 0

    # double -> single: rounding, overflow, NaNs.
    TEST_FD_R 70, fcvt.s.d, 0xffffffff3eaaaaab, 0x3fd5555555555555, FF_NX
    TEST_FD_R 71, fcvt.s.d, 0xffffffff7f800000, DMAX, FF_OF | FF_NX
    TEST_FD_R 72, fcvt.s.d, 0xffffffff7fc00000, SNAN, FF_NV
    TEST_FD_R 73, fcvt.s.d, 0xffffffff7fc00000, 0x7ff8000012345678, 0
    TEST_FD_R 74, fcvt.s.d, 0xffffffff80000000, MZERO, 0
    TEST_FD_R 75, fcvt.s.d, 0xffffffffff800000, MINF, 0
    TEST_FD_R 76, fcvt.s.d, 0xffffffff00000000, 0x3000000000000000, FF_UF | FF_NX  # underflows to 0
    # single -> double: exact; NaNs canonical; an unboxed input is the canonical NaN.
    TEST_FD_R 80, fcvt.d.s, ONE, 0xffffffff3f800000, 0
    TEST_FD_R 81, fcvt.d.s, QNAN, 0xffffffff7f800001, FF_NV
    TEST_FD_R 82, fcvt.d.s, QNAN, 0x000000003f800000, 0
    TEST_FD_R 83, fcvt.d.s, 0x36a0000000000000, 0xffffffff00000001, 0  # smallest subnormal
    TEST_FD_R 84, fcvt.d.s, MINF, 0xffffffffff800000, 0
    j pass

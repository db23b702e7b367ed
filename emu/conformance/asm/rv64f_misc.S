# RV64F conversions (with overflow/NaN saturation and NV, every rounding mode on
# halfway values), moves, sign injection, compares, fclass, flw/fsw, NaN boxing.
.equ ONE,   0x3f800000
.equ TWO,   0x40000000
.equ MONE,  0xbf800000
.equ PINF,  0x7f800000
.equ MINF,  0xff800000
.equ QNAN,  0x7fc00000
.equ SNAN,  0x7f800001
.equ PZERO, 0x00000000
.equ MZERO, 0x80000000
.equ F2_5,  0x40200000
.equ FM2_5, 0xc0200000
.equ F1E10, 0x501502f9
.equ F3E9,  0x4f32d05e

test_main:
    # float -> int32 (result sign-extended), halfway cases in every rounding mode.
    TEST_FS_TO_X 1, fcvt.w.s, 2, F2_5, FF_NX, rne
    TEST_FS_TO_X 2, fcvt.w.s, 2, F2_5, FF_NX, rtz
    TEST_FS_TO_X 3, fcvt.w.s, 2, F2_5, FF_NX, rdn
    TEST_FS_TO_X 4, fcvt.w.s, 3, F2_5, FF_NX, rup
    TEST_FS_TO_X 5, fcvt.w.s, 3, F2_5, FF_NX, rmm
    TEST_FS_TO_X 6, fcvt.w.s, -2, FM2_5, FF_NX, rne
    TEST_FS_TO_X 7, fcvt.w.s, -2, FM2_5, FF_NX, rtz
    TEST_FS_TO_X 8, fcvt.w.s, -3, FM2_5, FF_NX, rdn
    TEST_FS_TO_X 9, fcvt.w.s, -2, FM2_5, FF_NX, rup
    TEST_FS_TO_X 10, fcvt.w.s, -3, FM2_5, FF_NX, rmm
    TEST_FS_TO_X 11, fcvt.w.s, 4, 0x40600000, FF_NX, rne     # 3.5 -> 4 (even)
    TEST_FS_TO_X 12, fcvt.w.s, 0x7fffffff, F1E10, FF_NV      # overflow saturates
    TEST_FS_TO_X 13, fcvt.w.s, 0xffffffff80000000, 0xd01502f9, FF_NV
    TEST_FS_TO_X 14, fcvt.w.s, 0x7fffffff, QNAN, FF_NV       # NaN -> max
    TEST_FS_TO_X 15, fcvt.w.s, 0x7fffffff, PINF, FF_NV
    TEST_FS_TO_X 16, fcvt.w.s, 0xffffffff80000000, MINF, FF_NV
    TEST_FS_TO_X 17, fcvt.w.s, 0xffffffff80000000, 0xcf000000, 0   # -2^31 exactly
    TEST_FS_TO_X 18, fcvt.w.s, 0, MZERO, 0
    TEST_FS_TO_X 20, fcvt.wu.s, 0xffffffffb2d05e00, F3E9, 0  # 3e9: sign-extended word
    TEST_FS_TO_X 21, fcvt.wu.s, 0, MONE, FF_NV               # negative saturates to 0
    TEST_FS_TO_X 22, fcvt.wu.s, 0, 0xbf000000, FF_NX, rtz    # -0.5 rounds to 0: only NX
    TEST_FS_TO_X 23, fcvt.wu.s, 0xffffffffffffffff, F1E10, FF_NV
    TEST_FS_TO_X 24, fcvt.wu.s, 0xffffffffffffffff, QNAN, FF_NV
    TEST_FS_TO_X 25, fcvt.l.s, 10000000000, F1E10, 0
    TEST_FS_TO_X 26, fcvt.l.s, 0x7fffffffffffffff, PINF, FF_NV
    TEST_FS_TO_X 27, fcvt.l.s, 0x8000000000000000, MINF, FF_NV
    TEST_FS_TO_X 28, fcvt.l.s, 0x7fffffffffffffff, SNAN, FF_NV
    TEST_FS_TO_X 29, fcvt.l.s, -3, FM2_5, FF_NX, rmm
    TEST_FS_TO_X 30, fcvt.lu.s, 0, MINF, FF_NV
    TEST_FS_TO_X 31, fcvt.lu.s, 0xffffffffffffffff, QNAN, FF_NV
    TEST_FS_TO_X 32, fcvt.lu.s, 0x8000000000000000, 0x5f000000, 0  # 2^63 fits unsigned
    TEST_FS_TO_X 33, fcvt.lu.s, 3, F2_5, FF_NX, rup

    # int -> float
    TEST_X_TO_FS 40, fcvt.s.w, MONE, -1, 0
    TEST_X_TO_FS 41, fcvt.s.w, ONE, 0x100000001, 0            # only the low word counts
    TEST_X_TO_FS 42, fcvt.s.w, 0x4b800000, 16777217, FF_NX    # 2^24+1 -> 2^24 (even)
    TEST_X_TO_FS 43, fcvt.s.w, 0x4b800001, 16777217, FF_NX, rup
    TEST_X_TO_FS 44, fcvt.s.wu, 0x4f800000, 0xffffffff, FF_NX
    TEST_X_TO_FS 45, fcvt.s.wu, 0x4f7fffff, 0xffffffff, FF_NX, rtz
    TEST_X_TO_FS 46, fcvt.s.l, 0x5f000000, 0x7fffffffffffffff, FF_NX
    TEST_X_TO_FS 47, fcvt.s.l, 0xdf000000, 0x8000000000000000, 0
    TEST_X_TO_FS 48, fcvt.s.lu, 0x5f800000, 0xffffffffffffffff, FF_NX
    TEST_X_TO_FS 49, fcvt.s.lu, PZERO, 0, 0

    # Moves: fmv.x.w sign-extends bit 31; fmv.w.x takes the low word and NaN-boxes it.
    li gp, 50
    li a1, 0x123456780badf00d
    fmv.w.x fa0, a1
    CHECK_FREG_S fa0, 0x0badf00d
    li gp, 51
    FLOAD_S fa1, MZERO
    fmv.x.w a0, fa1
    CHECK 51, a0, 0xffffffff80000000
    # fmv.x.w copies the low word even of an improperly boxed value.
    li a1, 0x000000003f800000
    fmv.d.x fa1, a1
    fmv.x.w a0, fa1
    CHECK 52, a0, 0x3f800000
    CHECK_FLAGS 0
    # An improperly boxed single input is the canonical NaN to arithmetic ...
    li gp, 53
    fadd.s fa0, fa1, fa1
    CHECK_FREG_S fa0, QNAN
    CHECK_FLAGS 0
    # ... to sign injection (magnitude and sign of the canonical NaN) ...
    li gp, 54
    FLOAD_S fa2, MONE
    fsgnj.s fa0, fa1, fa2
    CHECK_FREG_S fa0, 0xffc00000
    li gp, 55
    fsgnj.s fa0, fa2, fa1
    CHECK_FREG_S fa0, ONE
    # ... and to fclass, but fsw stores the raw low word.
    li gp, 56
    fclass.s a0, fa1
    CHECK 56, a0, 0x200
    la s0, fbuf
    fsw fa1, 0(s0)
    lwu a0, 0(s0)
    CHECK 57, a0, 0x3f800000
    # flw NaN-boxes; fsw/flw round-trip any bit pattern, signalling NaN included.
    li gp, 58
    li a1, 0x7f800001
    sw a1, 4(s0)
    flw fa0, 4(s0)
    CHECK_FREG_S fa0, 0x7f800001
    CHECK_FLAGS 0
    fsw fa0, 8(s0)
    lwu a0, 8(s0)
    CHECK 59, a0, 0x7f800001
    flw fa0, 5(s0)                    # misaligned FP loads work like integer ones
    fsw fa0, 13(s0)
    lwu a0, 12(s0)
    CHECK 60, a0, 0x7f800000
    fsw fa2, -4(s0)                   # negative offset (stores into fbuf_lo)
    la t0, fbuf_lo
    lwu a0, 4(t0)
    CHECK 61, a0, MONE

    # Sign injection.
    TEST_FS_RR 70, fsgnj.s, MONE, ONE, MONE, 0
    TEST_FS_RR 71, fsgnj.s, ONE, MONE, TWO, 0
    TEST_FS_RR 72, fsgnjn.s, ONE, ONE, MONE, 0
    TEST_FS_RR 73, fsgnjn.s, MONE, ONE, ONE, 0
    TEST_FS_RR 74, fsgnjx.s, ONE, MONE, MONE, 0
    TEST_FS_RR 75, fsgnjx.s, MONE, ONE, MONE, 0
    TEST_FS_RR 76, fsgnjn.s, 0xff800001, SNAN, SNAN, 0         # no NaN handling, no flags

    # Compares: feq is quiet (NV only for sNaN); flt/fle signal on any NaN.
    TEST_FS_CMP 80, feq.s, 1, ONE, ONE, 0
    TEST_FS_CMP 81, feq.s, 0, ONE, TWO, 0
    TEST_FS_CMP 82, feq.s, 1, MZERO, PZERO, 0
    TEST_FS_CMP 83, feq.s, 0, QNAN, QNAN, 0
    TEST_FS_CMP 84, feq.s, 0, SNAN, ONE, FF_NV
    TEST_FS_CMP 85, flt.s, 1, MONE, ONE, 0
    TEST_FS_CMP 86, flt.s, 0, MZERO, PZERO, 0
    TEST_FS_CMP 87, flt.s, 0, QNAN, ONE, FF_NV
    TEST_FS_CMP 88, flt.s, 1, MINF, MONE, 0
    TEST_FS_CMP 89, fle.s, 1, MZERO, PZERO, 0
    TEST_FS_CMP 90, fle.s, 1, ONE, ONE, 0
    TEST_FS_CMP 91, fle.s, 0, TWO, ONE, 0
    TEST_FS_CMP 92, fle.s, 0, ONE, QNAN, FF_NV

    # fclass: one bit per class.
    TEST_FS_CLASS 100, 0x001, MINF
    TEST_FS_CLASS 101, 0x002, MONE
    TEST_FS_CLASS 102, 0x004, 0x807fffff
    TEST_FS_CLASS 103, 0x008, MZERO
    TEST_FS_CLASS 104, 0x010, PZERO
    TEST_FS_CLASS 105, 0x020, 0x00000001
    TEST_FS_CLASS 106, 0x040, ONE
    TEST_FS_CLASS 107, 0x080, PINF
    TEST_FS_CLASS 108, 0x100, SNAN
    TEST_FS_CLASS 109, 0x200, QNAN
    TEST_FS_CLASS 110, 0x200, 0xffffffff
    j pass

.section .data
.balign 8
fbuf_lo: .space 8
fbuf: .space 32

# RV64D conversions to/from integers, fmv.x.d/fmv.d.x, fld/fsd, sign injection,
# compares and fclass.d.
.equ ONE,   0x3ff0000000000000
.equ TWO,   0x4000000000000000
.equ MONE,  0xbff0000000000000
.equ PINF,  0x7ff0000000000000
.equ MINF,  0xfff0000000000000
.equ QNAN,  0x7ff8000000000000
.equ SNAN,  0x7ff0000000000001
.equ PZERO, 0x0000000000000000
.equ MZERO, 0x8000000000000000
.equ D2_5,  0x4004000000000000
.equ DM2_5, 0xc004000000000000
.equ D1E10, 0x4202a05f20000000

test_main:
    TEST_FD_TO_X 1, fcvt.w.d, 2, D2_5, FF_NX, rne
    TEST_FD_TO_X 2, fcvt.w.d, 2, D2_5, FF_NX, rtz
    TEST_FD_TO_X 3, fcvt.w.d, 2, D2_5, FF_NX, rdn
    TEST_FD_TO_X 4, fcvt.w.d, 3, D2_5, FF_NX, rup
    TEST_FD_TO_X 5, fcvt.w.d, 3, D2_5, FF_NX, rmm
    TEST_FD_TO_X 6, fcvt.w.d, -2, DM2_5, FF_NX, rne
    TEST_FD_TO_X 7, fcvt.w.d, -2, DM2_5, FF_NX, rtz
    TEST_FD_TO_X 8, fcvt.w.d, -3, DM2_5, FF_NX, rdn
    TEST_FD_TO_X 9, fcvt.w.d, -2, DM2_5, FF_NX, rup
    TEST_FD_TO_X 10, fcvt.w.d, -3, DM2_5, FF_NX, rmm
    TEST_FD_TO_X 11, fcvt.w.d, 0x7fffffff, D1E10, FF_NV
    TEST_FD_TO_X 12, fcvt.w.d, 0x7fffffff, QNAN, FF_NV
    TEST_FD_TO_X 13, fcvt.w.d, 0xffffffff80000000, 0xc1e0000000100000, FF_NX  # -2^31-0.5 -> -2^31 (even)
    TEST_FD_TO_X 14, fcvt.w.d, 0xffffffff80000000, 0xc1e0000000100000, FF_NV, rdn  # -> -2^31-1: overflow
    TEST_FD_TO_X 15, fcvt.w.d, 0x7fffffff, 0x41dfffffffc00000, 0      # 2^31-1 exactly
    TEST_FD_TO_X 20, fcvt.wu.d, 0xffffffffffffffff, 0x41efffffffe00000, 0   # 2^32-1: sign-extended
    TEST_FD_TO_X 21, fcvt.wu.d, 0, MONE, FF_NV
    TEST_FD_TO_X 22, fcvt.wu.d, 0xffffffffffffffff, PINF, FF_NV
    TEST_FD_TO_X 23, fcvt.wu.d, 0, 0xbfe0000000000000, FF_NX           # -0.5 -> 0 (RNE)
    TEST_FD_TO_X 24, fcvt.l.d, 10000000000, D1E10, 0
    TEST_FD_TO_X 25, fcvt.l.d, 0x7fffffffffffffff, 0x43e0000000000000, FF_NV   # 2^63
    TEST_FD_TO_X 26, fcvt.l.d, 0x8000000000000000, 0xc3e0000000000000, 0       # -2^63
    TEST_FD_TO_X 27, fcvt.l.d, 0x7fffffffffffffff, SNAN, FF_NV
    TEST_FD_TO_X 28, fcvt.l.d, -3, DM2_5, FF_NX, rdn
    TEST_FD_TO_X 29, fcvt.lu.d, 0xffffffffffffffff, 0x43f0000000000000, FF_NV  # 2^64
    TEST_FD_TO_X 30, fcvt.lu.d, 0x8000000000000000, 0x43e0000000000000, 0
    TEST_FD_TO_X 31, fcvt.lu.d, 0, MINF, FF_NV
    TEST_FD_TO_X 32, fcvt.lu.d, 0xffffffffffffffff, QNAN, FF_NV

    TEST_X_TO_FD 40, fcvt.d.w, MONE, -1, 0
    TEST_X_TO_FD 41, fcvt.d.w, ONE, 0xffffffff00000001, 0
    TEST_X_TO_FD 42, fcvt.d.wu, 0x41efffffffe00000, 0xffffffffffffffff, 0
    TEST_X_TO_FD 43, fcvt.d.l, 0x43e0000000000000, 0x7fffffffffffffff, FF_NX
    TEST_X_TO_FD 44, fcvt.d.l, 0x4340000000000000, 9007199254740993, FF_NX      # 2^53+1: even
    TEST_X_TO_FD 45, fcvt.d.l, 0x4340000000000001, 9007199254740993, FF_NX, rup
    TEST_X_TO_FD 46, fcvt.d.l, 0xc3e0000000000000, 0x8000000000000000, 0
    TEST_X_TO_FD 47, fcvt.d.lu, 0x43f0000000000000, 0xffffffffffffffff, FF_NX
    TEST_X_TO_FD 48, fcvt.d.lu, 0x43efffffffffffff, 0xffffffffffffffff, FF_NX, rtz

    # fmv.x.d / fmv.d.x move all 64 bits untouched; fld/fsd likewise (sNaN included).
    li gp, 50
    li a1, 0x7ff0000000000001
    fmv.d.x fa0, a1
    fmv.x.d a0, fa0
    bne a0, a1, fail
    CHECK_FLAGS 0
    la s0, dbuf
    fsd fa0, 0(s0)
    ld a0, 0(s0)
    CHECK 51, a0, 0x7ff0000000000001
    li a1, 0x0123456789abcdef
    sd a1, 8(s0)
    fld fa1, 8(s0)
    CHECK_FREG_D fa1, 0x0123456789abcdef
    fsd fa1, 3(s0)                    # misaligned
    ld a0, 3(s0)
    CHECK 52, a0, 0x0123456789abcdef
    fld fa2, 3(s0)
    CHECK_FREG_D fa2, 0x0123456789abcdef
    addi s1, s0, 16
    fsd fa1, -16(s1)
    ld a0, 0(s0)
    CHECK 53, a0, 0x0123456789abcdef
    # fld of a single-precision pattern (upper half zero) is not a boxed single:
    li gp, 54
    sd zero, 16(s0)
    li a1, 0x40000000
    sw a1, 16(s0)
    fld fa3, 16(s0)
    fadd.s fa0, fa3, fa3
    CHECK_FREG_S fa0, 0x7fc00000
    # ... while flw of the same word is.
    li gp, 55
    flw fa3, 16(s0)
    fadd.s fa0, fa3, fa3
    CHECK_FREG_S fa0, 0x40800000

    TEST_FD_RR 60, fsgnj.d, MONE, ONE, MONE, 0
    TEST_FD_RR 61, fsgnjn.d, MONE, ONE, ONE, 0
    TEST_FD_RR 62, fsgnjx.d, ONE, MONE, MONE, 0
    TEST_FD_RR 63, fsgnjx.d, 0xfff0000000000001, SNAN, MZERO, 0
    TEST_FD_RR 64, fsgnj.d, 0x7ff8000000000000, QNAN, ONE, 0

    TEST_FD_CMP 70, feq.d, 1, MZERO, PZERO, 0
    TEST_FD_CMP 71, feq.d, 0, QNAN, ONE, 0
    TEST_FD_CMP 72, feq.d, 0, ONE, SNAN, FF_NV
    TEST_FD_CMP 73, flt.d, 1, MONE, ONE, 0
    TEST_FD_CMP 74, flt.d, 0, ONE, ONE, 0
    TEST_FD_CMP 75, flt.d, 0, QNAN, QNAN, FF_NV
    TEST_FD_CMP 76, fle.d, 1, ONE, ONE, 0
    TEST_FD_CMP 77, fle.d, 0, SNAN, ONE, FF_NV
    TEST_FD_CMP 78, fle.d, 1, MINF, PINF, 0

    TEST_FD_CLASS 80, 0x001, MINF
    TEST_FD_CLASS 81, 0x002, MONE
    TEST_FD_CLASS 82, 0x004, 0x800fffffffffffff
    TEST_FD_CLASS 83, 0x008, MZERO
    TEST_FD_CLASS 84, 0x010, PZERO
    TEST_FD_CLASS 85, 0x020, 0x0000000000000001
    TEST_FD_CLASS 86, 0x040, TWO
    TEST_FD_CLASS 87, 0x080, PINF
    TEST_FD_CLASS 88, 0x100, SNAN
    TEST_FD_CLASS 89, 0x200, QNAN
    j pass

.section .data
.balign 8
dbuf: .space 32

# RV64F arithmetic: add/sub/mul/div/sqrt, min/max, the four fused multiply-adds,
# NaN handling (canonical NaN, signalling inputs raise NV), signed zeros, overflow and
# underflow flags, rounding modes on halfway cases (static and dynamic), fflags
# accumulation and the fcsr/frm/fflags views.
.equ ONE,   0x3f800000
.equ TWO,   0x40000000
.equ THREE, 0x40400000
.equ HALF,  0x3f000000
.equ MONE,  0xbf800000
.equ PINF,  0x7f800000
.equ MINF,  0xff800000
.equ QNAN,  0x7fc00000
.equ SNAN,  0x7f800001
.equ PZERO, 0x00000000
.equ MZERO, 0x80000000
.equ FMAX,  0x7f7fffff
.equ ULP24, 0x33800000          # 2^-24: half an ulp of 1.0

test_main:
    TEST_FS_RR 1, fadd.s, THREE, ONE, TWO, 0
    TEST_FS_RR 2, fadd.s, ONE, ONE, 0x30800000, FF_NX           # 1 + 2^-30 rounds to 1
    TEST_FS_RR 3, fadd.s, PZERO, ONE, MONE, 0                   # x + -x = +0 in RNE
    TEST_FS_RR_RM 4, fadd.s, rdn, MZERO, ONE, MONE, 0           # ... and -0 in RDN
    TEST_FS_RR 5, fadd.s, MZERO, MZERO, MZERO, 0
    TEST_FS_RR 6, fadd.s, QNAN, PINF, MINF, FF_NV               # inf - inf
    TEST_FS_RR 7, fadd.s, QNAN, SNAN, ONE, FF_NV                # sNaN -> canonical NaN, NV
    TEST_FS_RR 8, fadd.s, QNAN, 0x7fc12345, ONE, 0              # qNaN payload not kept, no NV
    TEST_FS_RR 9, fadd.s, PINF, FMAX, FMAX, FF_OF | FF_NX       # overflow
    TEST_FS_RR_RM 10, fadd.s, rtz, FMAX, FMAX, FMAX, FF_OF | FF_NX  # RTZ overflow: max finite
    TEST_FS_RR 11, fsub.s, MONE, ONE, TWO, 0
    TEST_FS_RR 12, fsub.s, PZERO, THREE, THREE, 0
    TEST_FS_RR 13, fsub.s, QNAN, PINF, PINF, FF_NV
    TEST_FS_RR 14, fmul.s, 0x3fc00000, THREE, HALF, 0
    TEST_FS_RR 15, fmul.s, MZERO, MONE, PZERO, 0                # sign of zero product
    TEST_FS_RR 16, fmul.s, QNAN, PINF, PZERO, FF_NV
    TEST_FS_RR 17, fmul.s, 0x00400000, 0x00800001, HALF, FF_UF | FF_NX  # tiny and inexact
    TEST_FS_RR 18, fmul.s, 0x00400000, 0x00800000, HALF, 0      # tiny but exact: no UF
    TEST_FS_RR 19, fdiv.s, 0x3eaaaaab, ONE, THREE, FF_NX
    TEST_FS_RR 20, fdiv.s, PINF, ONE, PZERO, FF_DZ
    TEST_FS_RR 21, fdiv.s, MINF, MONE, PZERO, FF_DZ
    TEST_FS_RR 22, fdiv.s, QNAN, PZERO, PZERO, FF_NV
    TEST_FS_RR 23, fdiv.s, MZERO, ONE, MINF, 0
    TEST_FS_R 24, fsqrt.s, TWO, 0x40800000, 0
    TEST_FS_R 25, fsqrt.s, QNAN, MONE, FF_NV
    TEST_FS_R 26, fsqrt.s, MZERO, MZERO, 0                      # sqrt(-0) = -0
    TEST_FS_R 27, fsqrt.s, PINF, PINF, 0
    TEST_FS_R 28, fsqrt.s, 0x3fb504f3, TWO, FF_NX

    # fmin/fmax: one NaN input -> the other operand; signalling NaN raises NV;
    # both NaN -> canonical NaN; -0 < +0.
    TEST_FS_RR 30, fmin.s, ONE, ONE, TWO, 0
    TEST_FS_RR 31, fmin.s, MONE, ONE, MONE, 0
    TEST_FS_RR 32, fmin.s, ONE, QNAN, ONE, 0
    TEST_FS_RR 33, fmin.s, ONE, ONE, SNAN, FF_NV
    TEST_FS_RR 34, fmin.s, QNAN, QNAN, SNAN, FF_NV
    TEST_FS_RR 35, fmin.s, MZERO, PZERO, MZERO, 0
    TEST_FS_RR 36, fmin.s, MZERO, MZERO, PZERO, 0
    TEST_FS_RR 37, fmax.s, TWO, ONE, TWO, 0
    TEST_FS_RR 38, fmax.s, PZERO, MZERO, PZERO, 0
    TEST_FS_RR 39, fmax.s, PZERO, PZERO, MZERO, 0
    TEST_FS_RR 40, fmax.s, MINF, QNAN, MINF, 0
    TEST_FS_RR 41, fmax.s, QNAN, 0x7fc00001, 0x7fc00002, 0

    # Fused multiply-add family, and the single rounding: (1+2^-12)^2 - (1+2^-11) is
    # exactly 2^-24 when fused; a separate multiply would round the product first (to
    # 1+2^-11) and give 0.
    TEST_FS_RRR 50, fmadd.s, 0x40e00000, TWO, THREE, ONE, 0     #  2*3+1 =  7
    TEST_FS_RRR 51, fmsub.s, 0x40a00000, TWO, THREE, ONE, 0     #  2*3-1 =  5
    TEST_FS_RRR 52, fnmsub.s, 0xc0a00000, TWO, THREE, ONE, 0    # -2*3+1 = -5
    TEST_FS_RRR 53, fnmadd.s, 0xc0e00000, TWO, THREE, ONE, 0    # -2*3-1 = -7
    TEST_FS_RRR 54, fmadd.s, ULP24, 0x3f800800, 0x3f800800, 0xbf801000, 0
    TEST_FS_RR 55, fmul.s, 0x3f801000, 0x3f800800, 0x3f800800, FF_NX
    TEST_FS_RRR 56, fmadd.s, QNAN, PINF, PZERO, QNAN, FF_NV     # inf*0 + qNaN still NV
    TEST_FS_RRR 57, fmadd.s, QNAN, ONE, ONE, SNAN, FF_NV
    TEST_FS_RRR 58, fmadd.s, QNAN, PINF, ONE, MINF, FF_NV       # inf - inf
    TEST_FS_RRR 59, fnmadd.s, PZERO, ONE, MZERO, MZERO, 0       # -(1*-0) - -0 = +0
    TEST_FS_RRR 60, fmadd.s, MZERO, ONE, MZERO, MZERO, 0

    # Rounding modes on exact halfway cases: 1 + 2^-24 lies halfway between 1 and
    # 1 + 2^-23; (1 + 2^-23) + 2^-24 lies halfway with an odd lower neighbour.
    TEST_FS_RR_RM 70, fadd.s, rne, ONE, ONE, ULP24, FF_NX
    TEST_FS_RR_RM 71, fadd.s, rtz, ONE, ONE, ULP24, FF_NX
    TEST_FS_RR_RM 72, fadd.s, rdn, ONE, ONE, ULP24, FF_NX
    TEST_FS_RR_RM 73, fadd.s, rup, 0x3f800001, ONE, ULP24, FF_NX
    TEST_FS_RR_RM 74, fadd.s, rmm, 0x3f800001, ONE, ULP24, FF_NX
    TEST_FS_RR_RM 75, fadd.s, rne, 0x3f800002, 0x3f800001, ULP24, FF_NX   # ties to even: up
    TEST_FS_RR_RM 76, fadd.s, rmm, 0x3f800002, 0x3f800001, ULP24, FF_NX
    TEST_FS_RR_RM 77, fadd.s, rtz, 0x3f800001, 0x3f800001, ULP24, FF_NX
    TEST_FS_RR_RM 78, fadd.s, rne, MONE, MONE, 0xb3800000, FF_NX
    TEST_FS_RR_RM 79, fadd.s, rtz, MONE, MONE, 0xb3800000, FF_NX
    TEST_FS_RR_RM 80, fadd.s, rdn, 0xbf800001, MONE, 0xb3800000, FF_NX
    TEST_FS_RR_RM 81, fadd.s, rup, MONE, MONE, 0xb3800000, FF_NX
    TEST_FS_RR_RM 82, fadd.s, rmm, 0xbf800001, MONE, 0xb3800000, FF_NX

    # Dynamic rounding: frm selects the mode of instructions with rm = dyn.
    li gp, 90
    fsrmi a0, 3                       # RUP; old frm (0) returned
    bnez a0, fail
    TEST_FS_RR 91, fadd.s, 0x3f800001, ONE, ULP24, FF_NX
    fsrmi 4                           # RMM
    TEST_FS_RR 92, fadd.s, 0xbf800001, MONE, 0xb3800000, FF_NX
    fsrmi 1                           # RTZ
    TEST_FS_RR 93, fdiv.s, 0x3eaaaaaa, ONE, THREE, FF_NX
    li gp, 94
    frrm a0
    li t6, 1
    bne a0, t6, fail
    fsrmi 0

    # fflags accumulate until cleared; fcsr = frm << 5 | fflags.
    li gp, 100
    csrwi fflags, 0
    FLOAD_S fa1, ONE
    FLOAD_S fa2, THREE
    FLOAD_S fa3, PZERO
    fdiv.s fa0, fa1, fa2              # NX
    fdiv.s fa0, fa1, fa3              # DZ
    fadd.s fa0, fa1, fa1              # exact: adds nothing
    frflags a0
    CHECK 100, a0, FF_DZ | FF_NX
    fsflagsi a0, FF_OF                # swap: returns old, writes new
    CHECK 101, a0, FF_DZ | FF_NX
    frflags a0
    CHECK 102, a0, FF_OF
    li a1, 0xff
    fscsr a0, a1                      # upper bits of fcsr are not writable
    CHECK 103, a0, FF_OF
    frcsr a0
    CHECK 104, a0, 0xff
    frrm a0
    CHECK 105, a0, 7
    frflags a0
    CHECK 106, a0, 0x1f
    csrwi frm, 2
    frcsr a0
    CHECK 107, a0, 0x5f
    csrw fcsr, zero

    # An invalid static rounding mode (5, 6) and dyn with frm = 5..7 are illegal.
    li gp, 110
    EXPECT_TRAP 1f
    .word 0x00c5d553                  # fadd.s fa0, fa1, fa2 with rm = 5
    j fail
1:  CHECK_CAUSE 110, 2
    CHECK 111, s10, 0x00c5d553
    li gp, 112
    EXPECT_TRAP 2f
    .word 0x00c5e553                  # rm = 6
    j fail
2:  CHECK_CAUSE 112, 2
    csrwi frm, 5
    li gp, 113
    EXPECT_TRAP 3f
    fadd.s fa0, fa1, fa2              # dyn, frm = 5
    j fail
3:  CHECK_CAUSE 113, 2
    csrwi frm, 7
    li gp, 114
    EXPECT_TRAP 4f
    fmadd.s fa0, fa1, fa2, fa3
    j fail
4:  CHECK_CAUSE 114, 2
    # ... but instructions that ignore rm still run with a bad frm.
    fsgnj.s fa0, fa1, fa1
    fmv.x.w a0, fa1
    csrwi frm, 0

    # Any F instruction that writes state marks mstatus.FS dirty (and SD).
    li gp, 120
    li t0, MSTATUS_FS
    csrc mstatus, t0
    li t0, 0x2000
    csrs mstatus, t0                  # FS = Initial
    fadd.s fa0, fa1, fa2
    csrr a0, mstatus
    srli a1, a0, 13
    andi a1, a1, 3
    CHECK 120, a1, 3
    srli a1, a0, 63
    CHECK 121, a1, 1
    # FS = Off: every F instruction and fcsr access is illegal.
    li t0, MSTATUS_FS
    csrc mstatus, t0
    li gp, 122
    EXPECT_TRAP 5f
    fadd.s fa0, fa1, fa2
    j fail
5:  CHECK_CAUSE 122, 2
    li gp, 123
    EXPECT_TRAP 6f
    frcsr a0
    j fail
6:  CHECK_CAUSE 123, 2
    li gp, 124
    EXPECT_TRAP 7f
    flw fa0, 0(sp)
    j fail
7:  CHECK_CAUSE 124, 2
    li t0, 0x2000
    csrs mstatus, t0
    j pass

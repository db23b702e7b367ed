# RV64A: LR/SC (success, failure without a reservation, failure on another address,
# reservation consumed by SC) and every AMO in W and D forms: rd gets the old value
# (W forms sign-extended), memory gets the combined value.

# \op rd=a0, rs2=a2, (s0) with memory = \old, a2 = \src; expect a0 = \rd_val and
# memory = \mem_val afterwards (loaded with ld for D forms, lwu+ld check for W forms).
.macro TEST_AMO_D num, op, old, src, rd_val, mem_val
    li gp, \num
    li t0, \old
    sd t0, 0(s0)
    li a2, \src
    \op a0, a2, (s0)
    li t6, \rd_val
    bne a0, t6, fail
    ld a1, 0(s0)
    li t6, \mem_val
    bne a1, t6, fail
.endm

# W forms touch only the addressed word: the neighbouring word must stay 0x5a5a5a5a.
.macro TEST_AMO_W num, op, old, src, rd_val, mem_val
    li gp, \num
    li t0, 0x5a5a5a5a00000000 | (\old & 0xffffffff)
    sd t0, 0(s0)
    li a2, \src
    \op a0, a2, (s0)
    li t6, \rd_val
    bne a0, t6, fail
    ld a1, 0(s0)
    li t6, 0x5a5a5a5a00000000 | (\mem_val & 0xffffffff)
    bne a1, t6, fail
.endm

test_main:
    la s0, word

    # LR/SC.D success: sc writes 0 to rd and stores.
    li gp, 1
    li t0, 100
    sd t0, 0(s0)
    lr.d a0, (s0)
    CHECK 1, a0, 100
    addi a0, a0, 1
    sc.d a1, a0, (s0)
    CHECK 2, a1, 0
    ld a2, 0(s0)
    CHECK 3, a2, 101
    # The reservation is gone after an SC: a second SC fails and does not store.
    li a0, 555
    sc.d a1, a0, (s0)
    li gp, 4
    beqz a1, fail
    ld a2, 0(s0)
    CHECK 5, a2, 101
    # SC to an address other than the reserved one fails.
    lr.d a0, (s0)
    addi s1, s0, 64
    sd zero, 0(s1)
    li a0, 9
    sc.d a1, a0, (s1)
    li gp, 6
    beqz a1, fail
    ld a2, 0(s1)
    CHECK 7, a2, 0

    # LR/SC.W: lr.w sign-extends; sc.w stores 32 bits only.
    li t0, 0x12345678fffffffe
    sd t0, 0(s0)
    lr.w a0, (s0)
    CHECK 10, a0, 0xfffffffffffffffe
    li a0, 0x7fffffff
    sc.w a1, a0, (s0)
    CHECK 11, a1, 0
    ld a2, 0(s0)
    CHECK 12, a2, 0x123456787fffffff
    li a0, 1
    sc.w a1, a0, (s0)
    li gp, 13
    beqz a1, fail
    # A retry loop (the canonical atomic increment) terminates with the right value.
    li gp, 14
    sd zero, 0(s0)
    li t1, 10
1:  lr.d a0, (s0)
    addi a0, a0, 1
    sc.d a1, a0, (s0)
    bnez a1, 1b
    addi t1, t1, -1
    bnez t1, 1b
    ld a2, 0(s0)
    CHECK 15, a2, 10
    # aq/rl variants decode and behave the same.
    lr.d.aqrl a0, (s0)
    sc.d.rl a1, a0, (s0)
    CHECK 16, a1, 0

    TEST_AMO_D 20, amoswap.d, 0x1111, 0x2222, 0x1111, 0x2222
    TEST_AMO_D 21, amoadd.d, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000
    TEST_AMO_D 22, amoxor.d, 0xff00ff00, 0x0ff00ff0, 0xff00ff00, 0xf0f0f0f0
    TEST_AMO_D 23, amoand.d, 0xff00ff00, 0x0ff00ff0, 0xff00ff00, 0x0f000f00
    TEST_AMO_D 24, amoor.d, 0xff00ff00, 0x0ff00ff0, 0xff00ff00, 0xfff0fff0
    TEST_AMO_D 25, amomin.d, -5, 3, -5, -5
    TEST_AMO_D 26, amomin.d, 5, -3, 5, -3
    TEST_AMO_D 27, amomax.d, -5, 3, -5, 3
    TEST_AMO_D 28, amomax.d, 0x8000000000000000, 0x7fffffffffffffff, 0x8000000000000000, 0x7fffffffffffffff
    TEST_AMO_D 29, amominu.d, -5, 3, -5, 3
    TEST_AMO_D 30, amominu.d, 2, 3, 2, 2
    TEST_AMO_D 31, amomaxu.d, -5, 3, -5, -5
    TEST_AMO_D 32, amomaxu.d, 2, 3, 2, 3
    TEST_AMO_D 33, amoadd.d.aqrl, 40, 2, 40, 42

    TEST_AMO_W 40, amoswap.w, 0x80000000, 0x1234, 0xffffffff80000000, 0x1234
    TEST_AMO_W 41, amoadd.w, 0x7fffffff, 1, 0x7fffffff, 0x80000000
    TEST_AMO_W 42, amoadd.w, 0xffffffff, 0x100000001, 0xffffffffffffffff, 0   # carry dropped
    TEST_AMO_W 43, amoxor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xf0f0f0f0
    TEST_AMO_W 44, amoand.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0x0f000f00
    TEST_AMO_W 45, amoor.w, 0x0f00ff00, 0x0ff00ff0, 0x0f00ff00, 0x0ff0fff0
    # Signed/unsigned comparisons look at 32 bits only: 0x80000000 is the most negative.
    TEST_AMO_W 46, amomin.w, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x80000000
    TEST_AMO_W 47, amomin.w, 0x1, 0xffffffff, 0x1, 0xffffffff
    TEST_AMO_W 48, amomax.w, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
    TEST_AMO_W 49, amomax.w, 0x1, 0x1ffffffff, 0x1, 0x1                       # rs2 = -1 as a word
    TEST_AMO_W 50, amominu.w, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x7fffffff
    TEST_AMO_W 51, amominu.w, 0x1, 0xffffffff00000002, 0x1, 0x1
    TEST_AMO_W 52, amomaxu.w, 0x80000000, 0x7fffffff, 0xffffffff80000000, 0x80000000
    TEST_AMO_W 53, amomaxu.w, 0x1, 0xfffffffe, 0x1, 0xfffffffe
    TEST_AMO_W 54, amoswap.w.aq, 7, 8, 7, 8

    # AMO with rd = x0 still writes memory; rd = rs2 returns the old value.
    li gp, 60
    li t0, 5
    sd t0, 0(s0)
    li a2, 6
    amoadd.d zero, a2, (s0)
    ld a1, 0(s0)
    CHECK 60, a1, 11
    amoswap.d a2, a2, (s0)
    CHECK 61, a2, 11
    ld a1, 0(s0)
    CHECK 62, a1, 6
    j pass

.section .data
.balign 64
word: .space 128

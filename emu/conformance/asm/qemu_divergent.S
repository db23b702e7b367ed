# Checks where the spec (and emu) and QEMU 7.2 disagree; QEMU is expected to fail this
# program (run-on-qemu.sh lists it as divergent and does not count it).
#   1: mepc[0] is always zero (privileged spec, "Machine Exception Program Counter");
#      QEMU 7.2 stores and returns bit 0.
#   2-5: a misaligned SC raises store/AMO address-misaligned (the A extension requires
#      natural alignment for LR/SC and names the exception); QEMU 7.2 lets an SC without
#      a matching reservation fail without ever checking its address.
#   8-12: a misaligned AMO raises store/AMO address-misaligned (cause 6) and writes
#      nothing; QEMU 7.2 reports load address-misaligned (cause 4).
#   13-14: an AMO to an address with nothing behind it raises store/AMO access fault
#      (cause 7); QEMU 7.2 reports load access fault (cause 5).
#   6-7: rdtime reads the CLINT's mtime (Zicntr); QEMU's spike board has no time CSR
#      and raises illegal instruction.
test_main:
    li a1, 0x80001235
    csrw mepc, a1
    csrr a0, mepc
    CHECK 1, a0, 0x80001234

    la s0, sbuf
    addi s1, s0, 4
    li gp, 2
    EXPECT_TRAP 1f
    sc.d a1, a2, (s1)
    j fail
1:  CHECK_CAUSE 2, 6
    li gp, 3
    bne s10, s1, fail
    addi s1, s0, 6
    li gp, 4
    EXPECT_TRAP 1f
    sc.w a1, a2, (s1)
    j fail
1:  CHECK_CAUSE 4, 6
    li gp, 5
    bne s10, s1, fail

    addi s1, s0, 1
    li gp, 8
    EXPECT_TRAP 1f
    amoswap.w a1, a2, (s1)
    j fail
1:  CHECK_CAUSE 8, 6
    li gp, 9
    bne s10, s1, fail
    addi s1, s0, 4
    li gp, 10
    EXPECT_TRAP 1f
    amoadd.d a1, a2, (s1)
    j fail
1:  CHECK_CAUSE 10, 6
    li gp, 11
    bne s10, s1, fail
    ld a1, 0(s0)
    CHECK 12, a1, 0

    li gp, 13
    li a0, 0x40000000
    EXPECT_TRAP 1f
    amoadd.w a1, a1, (a0)
    j fail
1:  CHECK_CAUSE 13, 7
    li gp, 14
    bne s10, a0, fail

    # time follows mtime: rdtime <= mtime <= rdtime after, and it moves.
    rdtime a0
    li t0, CLINT_MTIME
    ld a1, 0(t0)
    li t0, 20000
2:  addi t0, t0, -1
    bnez t0, 2b
    rdtime a2
    li gp, 6
    bltu a1, a0, fail
    bltu a2, a1, fail
    li gp, 7
    beq a2, a0, fail
    j pass

.section .data
.balign 16
sbuf: .space 16

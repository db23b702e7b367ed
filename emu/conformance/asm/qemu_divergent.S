# Checks where the spec (and emu) and QEMU 7.2 disagree; QEMU is expected to fail this
# program (run-on-qemu.sh lists it as divergent and does not count it).
#   1: mepc[0] is always zero (privileged spec, "Machine Exception Program Counter");
#      QEMU 7.2 stores and returns bit 0.
test_main:
    li a1, 0x80001235
    csrw mepc, a1
    csrr a0, mepc
    CHECK 1, a0, 0x80001234
    # time follows mtime: rdtime <= mtime <= rdtime after, and it moves.
    rdtime a0
    li t0, CLINT_MTIME
    ld a1, 0(t0)
    li t0, 20000
2:  addi t0, t0, -1
    bnez t0, 2b
    rdtime a2
    li gp, 4
    bltu a1, a0, fail
    bltu a2, a1, fail
    li gp, 5
    beq a2, a0, fail
    j pass

# Zicntr: rdcycle, rdtime, rdinstret (and their M-mode aliases) count forward; instret
# counts exactly the retired instructions; minstret/mcycle are writable in M-mode;
# time is the CLINT's mtime
# (checked in qemu_divergent, as QEMU's spike board lacks the time CSR).
test_main:
    rdinstret a0
    rdinstret a1
    sub a2, a1, a0
    CHECK 1, a2, 1
    rdinstret a0
    nop
    nop
    nop
    rdinstret a1
    sub a2, a1, a0
    CHECK 2, a2, 4
    csrr a0, minstret
    csrr a1, instret
    sub a2, a1, a0
    CHECK 3, a2, 1
    # cycle is non-decreasing and advances over a loop.
    rdcycle a0
    li t0, 1000
1:  addi t0, t0, -1
    bnez t0, 1b
    rdcycle a1
    li gp, 4
    bgeu a0, a1, fail
    csrr a2, mcycle
    li gp, 5
    bltu a2, a1, fail
    # minstret is writable from M-mode; instret counts on from the written value.
    li a0, 1000000
    csrw minstret, a0
    rdinstret a1
    sub a2, a1, a0
    li gp, 6
    bltz a2, fail
    li t0, 3
    bgeu a2, t0, fail
    # rdtime: see qemu_divergent (QEMU's spike board has no time CSR).
    j pass

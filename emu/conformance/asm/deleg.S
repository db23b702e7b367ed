# Delegation to S-mode: exceptions through medeleg (ecall from U and S, illegal
# instruction; never for traps taken in M), interrupts through mideleg (supervisor
# software and timer interrupts), sstatus stacking (SPP, SPIE, SIE), and the rule that
# S interrupts are taken in U regardless of SIE but never while in M.
.equ SSIP, 0x2
.equ STIP, 0x20
.equ MSIP_BIT, 0x8

test_main:
    la t0, strap_record
    csrw stvec, t0
    li t0, (1 << 8) | (1 << 2)        # ecall from U, illegal instruction
    csrw medeleg, t0

    # ecall from U goes to S; S resumes at 2f (in S), checks, and ecalls to M.
    li gp, 1
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  ecall
    j fail
2:  CHECK_CAUSE 1, 8
    andi a1, s7, MSTATUS_SPP
    CHECK 2, a1, 0                    # came from U
    csrr a0, scause
    CHECK 3, a0, 8
    # Illegal instruction in U goes to S with stval = the instruction bits.
    li gp, 4
    la t0, 4f
    csrw sepc, t0
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    EXPECT_TRAP 5f
    sret
4:  .word 0x0000000b
    j fail
5:  CHECK_CAUSE 4, 2
    CHECK 5, s10, 0x0000000b
    # ecall from S is not delegated: it goes to M.
    li gp, 6
    EXPECT_TRAP 6f
    ecall
    j fail
6:  CHECK_CAUSE 6, 9
    # A delegated cause raised in M still traps to M.
    li gp, 7
    EXPECT_TRAP 7f
    .word 0x0000000b
    j fail
7:  CHECK_CAUSE 7, 2
    csrr a0, mcause
    CHECK 8, a0, 2

    # With ecall-from-S delegated, S's own ecall goes to S, with SPP = S and SPIE = SIE.
    li t0, 1 << 9
    csrs medeleg, t0
    li gp, 10
    EXPECT_TRAP 2f
    ENTER_MODE 1, 3f
3:  csrsi sstatus, MSTATUS_SIE        # sie = 0: no S interrupt can be taken
    ecall
    j fail
2:  CHECK_CAUSE 10, 9
    andi a1, s7, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
    CHECK 11, a1, MSTATUS_SPP | MSTATUS_SPIE
    li gp, 12
    EXPECT_TRAP 2f
    ecall                             # still S -> S
    j fail
2:  CHECK_CAUSE 12, 9
    li gp, 13
    EXPECT_TRAP 2f
    ebreak                            # not delegated: back to M
    j fail
2:  CHECK_CAUSE 13, 3
    csrw medeleg, zero

    # Supervisor software interrupt delegated: pending while in M does nothing (even
    # with MIE set); entering S with SIE = 1 takes it in S at once.
    li t0, SSIP
    csrw mideleg, t0
    csrw mie, t0                      # SSIE
    csrsi mstatus, MSTATUS_MIE
    csrs mip, t0                      # SSIP pending
    nop
    nop
    csrci mstatus, MSTATUS_MIE
    li gp, 20
    li t0, MSTATUS_SPIE
    csrs mstatus, t0
    EXPECT_TRAP 2f
    la t0, 3f
    csrw mepc, t0
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPP_S | MSTATUS_SIE
    csrs mstatus, t0
    mret
3:  j fail
2:  CHECK_CAUSE 20, 0x8000000000000001
    la t0, 3b
    li gp, 21
    bne s11, t0, fail                 # sepc = the interrupted instruction
    csrr a0, sip
    andi a0, a0, SSIP
    CHECK 22, a0, SSIP                # still pending: software must clear it
    csrc sip, a0
    csrr a0, sip
    andi a0, a0, SSIP
    CHECK 23, a0, 0
    # Pending in U: taken even with SIE = 0.
    csrsi sip, SSIP
    li gp, 24
    EXPECT_TRAP 2f
    csrci sstatus, MSTATUS_SIE
    la t0, 3f
    csrw sepc, t0
    li t0, MSTATUS_SPP
    csrc sstatus, t0
    sret
3:  j fail
2:  CHECK_CAUSE 24, 0x8000000000000001
    andi a1, s7, MSTATUS_SPP
    CHECK 25, a1, 0
    csrci sip, SSIP
    # Back to M through a (non-delegated) ecall from S.
    li gp, 26
    EXPECT_TRAP 2f
    ecall
2:  CHECK_CAUSE 26, 9
    csrci mstatus, MSTATUS_MIE        # the recorder's mret restored MIE = 1

    # Not delegated: the same interrupt is an M interrupt.
    csrw mideleg, zero
    li t0, SSIP
    csrw mie, t0
    csrs mip, t0
    li gp, 30
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
3:  j fail
2:  CHECK_CAUSE 30, 0x8000000000000001
    li t0, SSIP
    csrc mip, t0

    # Supervisor timer interrupt, raised by M through mip.STIP, delegated to S.
    li t0, STIP
    csrw mideleg, t0
    csrw mie, t0
    csrs mip, t0
    li gp, 40
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  j fail
2:  CHECK_CAUSE 40, 0x8000000000000005
    csrr a0, sip
    andi a0, a0, STIP
    CHECK 41, a0, STIP
    # S cannot clear STIP (read-only in sip); M does, after an ecall.
    li t0, STIP
    csrc sip, t0
    csrr a0, sip
    andi a0, a0, STIP
    CHECK 42, a0, STIP
    li gp, 43
    EXPECT_TRAP 2f
    ecall
2:  CHECK_CAUSE 43, 9
    li t0, STIP
    csrc mip, t0
    csrr a0, mip
    andi a0, a0, STIP
    CHECK 44, a0, 0
    csrw mideleg, zero
    csrw mie, zero
    j pass

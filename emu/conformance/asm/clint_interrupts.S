# Machine software and timer interrupts through the CLINT: msip sets mip.MSIP; mtimecmp
# <= mtime sets mip.MTIP; enabled interrupts trap with the interrupt bit in mcause and
# mepc = the next instruction to run; WFI wakes on an enabled pending interrupt even with
# MIE = 0 (without trapping); MSI is taken before MTI when both are pending.
.equ MSIP_BIT, 0x8
.equ MTIP_BIT, 0x80

test_main:
    li s0, CLINT_MSIP
    li s1, CLINT_MTIMECMP
    li s2, CLINT_MTIME
    li t0, -1
    sd t0, 0(s1)                      # no timer interrupt for now
    csrr a0, mip
    andi a0, a0, MSIP_BIT | MTIP_BIT
    CHECK 1, a0, 0

    # Software interrupt.
    li t0, 1
    sw t0, 0(s0)
    lw a0, 0(s0)
    CHECK 2, a0, 1
    csrr a0, mip
    andi a0, a0, MSIP_BIT
    CHECK 3, a0, MSIP_BIT
    li t0, MSIP_BIT
    csrw mie, t0
    li gp, 4
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
1:  j fail
2:  CHECK_CAUSE 4, 0x8000000000000003
    la t0, 1b
    li gp, 5
    bne s11, t0, fail
    andi a1, s7, MSTATUS_MIE
    CHECK 6, a1, 0                    # MIE cleared on entry
    sw zero, 0(s0)
    csrr a0, mip
    andi a0, a0, MSIP_BIT
    CHECK 7, a0, 0

    # Timer interrupt, waited for with WFI.
    li t0, MTIP_BIT
    csrw mie, t0
    ld t0, 0(s2)
    addi t0, t0, 200
    sd t0, 0(s1)
    li gp, 10
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
1:  wfi
    j 1b
2:  CHECK_CAUSE 10, 0x8000000000000007
    csrr a0, mip
    andi a0, a0, MTIP_BIT
    CHECK 11, a0, MTIP_BIT
    ld a0, 0(s2)
    ld a1, 0(s1)
    li gp, 12
    bltu a0, a1, fail                 # mtime has reached mtimecmp
    li t0, -1
    sd t0, 0(s1)
    csrr a0, mip
    andi a0, a0, MTIP_BIT
    CHECK 13, a0, 0                   # a new compare value clears MTIP

    # WFI with MIE = 0 wakes up on the pending enabled interrupt and does not trap.
    csrci mstatus, MSTATUS_MIE
    ld t0, 0(s2)
    addi t0, t0, 100
    sd t0, 0(s1)
    li gp, 20
1:  wfi
    csrr a0, mip
    andi a0, a0, MTIP_BIT
    beqz a0, 1b                       # WFI may also return early; wait for MTIP
    li t0, -1
    sd t0, 0(s1)

    # Priority: MSI before MTI.
    li t0, MSIP_BIT | MTIP_BIT
    csrw mie, t0
    li t0, 1
    sw t0, 0(s0)
    sd zero, 0(s1)                    # mtimecmp = 0: timer pending at once
    li gp, 30
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
    j fail
2:  CHECK_CAUSE 30, 0x8000000000000003
    sw zero, 0(s0)
    li gp, 31
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
    j fail
2:  CHECK_CAUSE 31, 0x8000000000000007
    li t0, -1
    sd t0, 0(s1)
    csrw mie, zero

    # Interrupts for M are taken in S and U regardless of mstatus.MIE.
    li t0, MSIP_BIT
    csrw mie, t0
    csrci mstatus, MSTATUS_MIE
    li t0, MSTATUS_MPIE
    csrc mstatus, t0                  # MIE = 0 after the mret too
    li gp, 40
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  li t0, 1
    li t1, CLINT_MSIP
    sw t0, 0(t1)
4:  j 4b
2:  CHECK_CAUSE 40, 0x8000000000000003
    li t0, MSTATUS_MPP
    and a1, s7, t0
    CHECK 41, a1, 0
    sw zero, 0(s0)
    csrw mie, zero
    j pass

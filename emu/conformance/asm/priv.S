# Privilege transitions and CSR permission rules: mret into S and U, ecall from each
# mode (causes 8, 9, 11 via traps.S), mstatus stacking on mret/trap, sret from S to U,
# M-only CSRs from S, S CSRs from U, the counter-enable gates (mcounteren, scounteren),
# mret/sret privilege, and the TSR, TVM and TW traps.

# In the current lower mode, \insn must trap to M with illegal instruction.
.macro ILLEGAL_HERE num, insn:vararg
    li gp, \num
    EXPECT_TRAP 1f
    \insn
    j fail
1:
.endm

test_main:
    # mret stacking, observed in M: MIE = MPIE, MPIE = 1, MPP = U afterwards.
    li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    csrc mstatus, t0
    li t0, MSTATUS_MPP
    csrs mstatus, t0                  # MPP = M, MPIE = 0
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr a0, mstatus
    li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
    and a1, a0, t0
    CHECK 1, a1, MSTATUS_MPIE
    li t0, MSTATUS_MPP | MSTATUS_MPIE
    csrs mstatus, t0                  # MPP = M, MPIE = 1: MIE comes back set
    la t0, 1f
    csrw mepc, t0
    mret
1:  csrr a0, mstatus
    andi a1, a0, MSTATUS_MIE
    CHECK 2, a1, MSTATUS_MIE
    csrci mstatus, MSTATUS_MIE

    # M -> S: ecall from S is cause 9 with MPP = S recorded.
    li gp, 3
    EXPECT_TRAP 2f
    ENTER_MODE 1, s_mode_1
s_mode_1:
    csrr a0, sstatus                  # S CSRs are fine in S
    csrr a0, sscratch
    ecall
    j fail
2:  CHECK_CAUSE 3, 9
    li t0, MSTATUS_MPP
    and a1, s7, t0
    CHECK 4, a1, MSTATUS_MPP_S
    la t0, s_mode_1 + 8
    li gp, 5
    bne s11, t0, fail

    # M -> U: ecall from U is cause 8 with MPP = U.
    li gp, 6
    EXPECT_TRAP 2f
    ENTER_MODE 0, u_mode_1
u_mode_1:
    ecall
    j fail
2:  CHECK_CAUSE 6, 8
    li t0, MSTATUS_MPP
    and a1, s7, t0
    CHECK 7, a1, 0

    # S -> U through sret: SPP = U, sepc = target.
    li gp, 8
    EXPECT_TRAP 2f
    ENTER_MODE 1, s_mode_2
s_mode_2:
    li t0, MSTATUS_SPP
    csrc sstatus, t0                  # SPP = U
    la t0, u_mode_2
    csrw sepc, t0
    sret
    j fail
u_mode_2:
    ecall
    j fail
2:  CHECK_CAUSE 8, 8

    # From S: M CSRs, mret, and (with TSR/TVM/TW) sret, satp, sfence.vma, wfi are illegal.
    ENTER_MODE 1, s_mode_3
s_mode_3:
    ILLEGAL_HERE 10, csrr a0, mstatus
    CHECK_CAUSE 10, 2
    li t6, 0x30002573                 # the instruction bits: csrr a0, mstatus
    bne s10, t6, fail
    # Resumed in M: go back down for each further check.
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 11, csrw mscratch, zero
    CHECK_CAUSE 11, 2
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 12, csrr a0, mhartid
    CHECK_CAUSE 12, 2
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 13, mret
    CHECK_CAUSE 13, 2
    li t0, MSTATUS_TSR
    csrs mstatus, t0
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 14, sret
    CHECK_CAUSE 14, 2
    li t0, MSTATUS_TSR
    csrc mstatus, t0
    li t0, MSTATUS_TVM
    csrs mstatus, t0
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 15, csrr a0, satp
    CHECK_CAUSE 15, 2
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 16, sfence.vma
    CHECK_CAUSE 16, 2
    li t0, MSTATUS_TVM
    csrc mstatus, t0
    li t0, MSTATUS_TW
    csrs mstatus, t0
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 17, wfi
    CHECK_CAUSE 17, 2
    li t0, MSTATUS_TW
    csrc mstatus, t0
    # Without TVM, S may use satp and sfence.vma.
    li gp, 18
    EXPECT_TRAP 2f
    ENTER_MODE 1, 3f
3:  csrr a0, satp
    sfence.vma
    ecall
    j fail
2:  CHECK_CAUSE 18, 9

    # From U: S and M CSRs, sret and mret are illegal.
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 20, csrr a0, sstatus
    CHECK_CAUSE 20, 2
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 21, csrw sscratch, zero
    CHECK_CAUSE 21, 2
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 22, sret
    CHECK_CAUSE 22, 2
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 23, mret
    CHECK_CAUSE 23, 2
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 24, csrr a0, mstatus
    CHECK_CAUSE 24, 2
    # U may read fflags/frm/fcsr.
    li gp, 25
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  frcsr a0
    ecall
    j fail
2:  CHECK_CAUSE 25, 8

    # Counter gates: mcounteren gates S and U, scounteren gates U.
    csrw mcounteren, zero
    csrw scounteren, zero
    ENTER_MODE 1, 3f
3:  ILLEGAL_HERE 30, rdcycle a0
    CHECK_CAUSE 30, 2
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 31, rdinstret a0
    CHECK_CAUSE 31, 2
    csrwi mcounteren, 5               # CY and IR
    li gp, 32
    EXPECT_TRAP 2f
    ENTER_MODE 1, 3f
3:  rdcycle a0
    rdinstret a0
    ecall
    j fail
2:  CHECK_CAUSE 32, 9
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 33, rdcycle a0
    CHECK_CAUSE 33, 2
    csrwi scounteren, 1               # CY only
    li gp, 34
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  rdcycle a0
    ecall
    j fail
2:  CHECK_CAUSE 34, 8
    ENTER_MODE 0, 3f
3:  ILLEGAL_HERE 35, rdinstret a0
    CHECK_CAUSE 35, 2
    # M-mode is never gated.
    csrw mcounteren, zero
    rdcycle a0
    rdinstret a0
    j pass

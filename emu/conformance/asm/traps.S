# Synchronous exceptions taken in M-mode: illegal instructions (mtval = the instruction
# bits), ebreak, ecall from M, misaligned LR/SC/AMO (address-misaligned, never
# emulated), and access faults for loads, stores, AMOs and fetches outside RAM and
# outside every device. Trap entry state: mepc, MPP, MPIE, MIE.

# Execute the 32-bit word \bits; it must raise illegal instruction with mtval = \bits.
.macro ILLEGAL32 num, bits
    li gp, \num
    EXPECT_TRAP 1f
2:  .word \bits
    j fail
1:  CHECK_CAUSE \num, 2
    li t6, \bits
    bne s10, t6, fail
    la t6, 2b
    bne s11, t6, fail
.endm

# \insn (using address register a0 = \addr) must trap with \cause and mtval = \addr.
.macro FAULT num, cause, addr, insn:vararg
    li gp, \num
    li a0, \addr
    EXPECT_TRAP 1f
2:  \insn
    j fail
1:  CHECK_CAUSE \num, \cause
    li t6, \addr
    bne s10, t6, fail
    la t6, 2b
    bne s11, t6, fail
.endm

.equ NOWHERE, 0x40000000          # neither RAM nor a device
# (an AMO access fault is checked in qemu_divergent)

test_main:
    ILLEGAL32 1, 0x0000000b           # custom-0 opcode
    ILLEGAL32 2, 0x40001033           # sll with funct7 = 0x20
    ILLEGAL32 3, 0x0200101b           # slliw with shamt[5] set
    ILLEGAL32 4, 0x00007003           # load with funct3 = 7
    ILLEGAL32 5, 0x00004023           # store with funct3 = 4
    ILLEGAL32 6, 0x0000005b           # major opcode 1011011 (custom-2)
    ILLEGAL32 7, 0x7ff02073           # csrrs x0, 0x7ff, x0: no such CSR
    ILLEGAL32 8, 0x10508073           # wfi with rs1 != 0
    ILLEGAL32 9, 0xfe000073           # SYSTEM funct3 0 with funct7 0x7f
    ILLEGAL32 10, 0x0800602f          # AMO with width 6

    # ebreak: cause 3, mepc = its address (mtval: see qemu_divergent).
    li gp, 20
    EXPECT_TRAP 1f
2:  ebreak
    j fail
1:  CHECK_CAUSE 20, 3
    la t6, 2b
    bne s11, t6, fail
    # ecall from M: cause 11, mtval 0; trap entry moves MIE to MPIE and sets MPP = M.
    li gp, 21
    csrsi mstatus, MSTATUS_MIE        # mie = 0, so no interrupt can be taken
    EXPECT_TRAP 1f
2:  ecall
    j fail
1:  CHECK_CAUSE 21, 11
    CHECK 22, s10, 0
    la t6, 2b
    bne s11, t6, fail
    andi a1, s7, MSTATUS_MIE | MSTATUS_MPIE
    CHECK 23, a1, MSTATUS_MPIE
    li t6, MSTATUS_MPP
    and a1, s7, t6
    CHECK 24, a1, MSTATUS_MPP
    csrci mstatus, MSTATUS_MIE

    # Misaligned LR: load address-misaligned (misaligned SC and AMOs: qemu_divergent).
    la s0, abuf
    addi s1, s0, 2
    li gp, 31
    EXPECT_TRAP 1f
    lr.w a1, (s1)
    j fail
1:  CHECK_CAUSE 31, 4
    bne s10, s1, fail
    addi s1, s0, 4
    li gp, 32
    EXPECT_TRAP 1f
    lr.d a1, (s1)
    j fail
1:  CHECK_CAUSE 32, 4
    bne s10, s1, fail

    # Access faults: nothing at NOWHERE or at address 0.
    FAULT 40, 5, NOWHERE, lw a1, 0(a0)
    FAULT 41, 5, NOWHERE, ld a1, 0(a0)
    FAULT 42, 5, NOWHERE + 0x123, lbu a1, 0(a0)
    FAULT 43, 7, NOWHERE, sw a1, 0(a0)
    FAULT 44, 7, NOWHERE + 8, sd a1, 0(a0)
    FAULT 46, 5, NOWHERE, lr.d a1, (a0)
    FAULT 47, 5, 0, ld a1, 0(a0)
    FAULT 48, 7, 0, sb a1, 0(a0)
    FAULT 49, 5, NOWHERE, flw fa1, 0(a0)
    FAULT 50, 7, NOWHERE, fsd fa1, 0(a0)
    # Fetch: mepc and mtval are the target address.
    li gp, 55
    li a0, NOWHERE
    EXPECT_TRAP 1f
    jalr ra, 0(a0)
    j fail
1:  CHECK_CAUSE 55, 1
    CHECK 56, s10, NOWHERE
    CHECK 57, s11, NOWHERE
    # ra was written by the jalr before the fetch fault.
    la t6, 1b
    addi t6, t6, -4
    li gp, 58
    bne ra, t6, fail
    j pass

.section .data
.balign 16
abuf: .space 32

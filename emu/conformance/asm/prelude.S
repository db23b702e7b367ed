# Shared prologue of every conformance program.
#
# Conventions (every program follows them):
#   gp (x3)        number of the check in progress; `fail` reports it as the exit status.
#   t6 (x31)       scratch of the CHECK macros and of the trap handlers.
#   s8             resume address for the next *expected* trap (0 = no trap expected).
#   s7             mstatus (sstatus for the S-mode recorder) as the trap left it.
#   s9, s10, s11   cause, tval, epc of the last trap taken (written by the handlers).
# Everything else is free for the test body, which starts at `test_main` in M-mode with
# FS = Initial, fcsr = 0, all delegation off, and PMP entry 0 granting RWX on all memory
# (as real M-mode firmware does, so that S/U-mode code may run at all).
# Exit codes: 0 pass; N = check N failed; 255 = failure before the first check.

.option arch, +m, +a, +f, +d, +c, +zicsr, +zifencei, +zicntr
.option norvc

.equ MSTATUS_MIE,  0x8
.equ MSTATUS_SIE,  0x2
.equ MSTATUS_MPIE, 0x80
.equ MSTATUS_SPIE, 0x20
.equ MSTATUS_SPP,  0x100
.equ MSTATUS_MPP,  0x1800
.equ MSTATUS_MPP_S, 0x800
.equ MSTATUS_FS,   0x6000
.equ MSTATUS_MPRV, 0x20000
.equ MSTATUS_SUM,  0x40000
.equ MSTATUS_MXR,  0x80000
.equ MSTATUS_TVM,  0x100000
.equ MSTATUS_TW,   0x200000
.equ MSTATUS_TSR,  0x400000

.equ CLINT_MSIP,     0x02000000
.equ CLINT_MTIMECMP, 0x02004000
.equ CLINT_MTIME,    0x0200bff8

# ---- check macros ---------------------------------------------------------------
# Compare register \reg with the constant \val; on mismatch, check \num fails.
.macro CHECK num, reg, val
    li gp, \num
    li t6, \val
    bne \reg, t6, fail
.endm

# Register-register ALU op: \op a0, a1, a2 with a1 = \x, a2 = \y, expect \res.
.macro TEST_RR num, op, res, x, y
    li gp, \num
    li a1, \x
    li a2, \y
    \op a0, a1, a2
    li t6, \res
    bne a0, t6, fail
.endm

# Register-immediate ALU op: \op a0, a1, \imm with a1 = \x, expect \res.
.macro TEST_RI num, op, res, x, imm
    li gp, \num
    li a1, \x
    \op a0, a1, \imm
    li t6, \res
    bne a0, t6, fail
.endm

# Same as TEST_RR with rd == rs1 (catches decoders that read rs1 after writing rd).
.macro TEST_RR_SAME num, op, res, x, y
    li gp, \num
    li a0, \x
    li a2, \y
    \op a0, a0, a2
    li t6, \res
    bne a0, t6, fail
.endm

# Arm the trap recorder: the next trap resumes at \label (in M-mode, or in S-mode for
# traps taken by the S-mode recorder).
.macro EXPECT_TRAP label
    la s8, \label
.endm

# After resuming: the trap must have had cause \cause (checked as check \num).
.macro CHECK_CAUSE num, cause
    li gp, \num
    li t6, \cause
    bne s9, t6, fail
.endm

# Drop to privilege \mode (0 = U, 1 = S) at \label through mret.
.macro ENTER_MODE mode, label
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, (\mode) << 11
    csrs mstatus, t0
    la t0, \label
    csrw mepc, t0
    mret
.endm

# Single-precision / double-precision bit patterns through integer registers.
.macro FLOAD_S freg, bits
    li t6, \bits
    fmv.w.x \freg, t6
.endm
.macro FLOAD_D freg, bits
    li t6, \bits
    fmv.d.x \freg, t6
.endm
# fflags must equal \flags (and is cleared for the next check).
.macro CHECK_FFLAGS num, flags
    li gp, \num
    csrrci t6, fflags, 0x1f
    addi t6, t6, -(\flags)
    bnez t6, fail
.endm

# ---- HTIF words -----------------------------------------------------------------
.section .tohost, "aw", @progbits
.balign 64
.globl tohost
.type tohost, @object
.size tohost, 8
tohost: .dword 0
.globl fromhost
.type fromhost, @object
.size fromhost, 8
fromhost: .dword 0

# ---- entry ----------------------------------------------------------------------
.section .text.init, "ax", @progbits
.globl _start
_start:
    li gp, 0
    li s8, 0
    la t0, trap_record
    csrw mtvec, t0
    csrw mie, zero
    csrw medeleg, zero
    csrw mideleg, zero
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, MSTATUS_FS
    csrc mstatus, t0
    li t0, 0x2000
    csrs mstatus, t0
    csrwi fcsr, 0
    la sp, stack_top
    j test_main

# ---- reporting ------------------------------------------------------------------
.section .text, "ax", @progbits
.globl pass
pass:
    li a0, 1
    j htif_exit

.globl fail
fail:
    bnez gp, 1f
    li gp, 255
1:  la a0, msg_fail
    jal ra, puts
    la a0, test_name
    jal ra, puts
    la a0, msg_check
    jal ra, puts
    mv a0, gp
    jal ra, puthex
    la a0, msg_last
    jal ra, puts
    mv a0, s9
    jal ra, puthex
    li a0, '\n'
    jal ra, putchar
    slli a0, gp, 1
    ori a0, a0, 1
htif_exit:
    la t0, tohost
    sd a0, 0(t0)
1:  j 1b

# a0 = byte. Waits for the host to consume the previous command. Clobbers t0, t1.
putchar:
    la t0, tohost
1:  ld t1, 0(t0)
    bnez t1, 1b
    li t1, 0x0101000000000000
    or t1, t1, a0
    sd t1, 0(t0)
    ret

# a0 = NUL-terminated string. Clobbers a0, a1, t0, t1, t2.
puts:
    mv t2, ra
    mv a1, a0
1:  lbu a0, 0(a1)
    beqz a0, 2f
    jal ra, putchar
    addi a1, a1, 1
    j 1b
2:  mv ra, t2
    ret

# a0 = value, printed as 0x + 16 hex digits. Clobbers a0-a3, t0-t2.
puthex:
    mv t2, ra
    mv a2, a0
    li a0, '0'
    jal ra, putchar
    li a0, 'x'
    jal ra, putchar
    li a3, 60
1:  srl a0, a2, a3
    andi a0, a0, 0xf
    addi a0, a0, '0'
    li t1, '9'
    ble a0, t1, 2f
    addi a0, a0, 'a' - '0' - 10
2:  jal ra, putchar
    addi a3, a3, -4
    bgez a3, 1b
    mv ra, t2
    ret

# ---- trap recorders -------------------------------------------------------------
# M-mode: record cause/tval/epc; if a trap was expected, resume at s8 in M-mode (an
# interrupt also leaves MIE clear so that it is not taken again at once).
.balign 4
.globl trap_record
trap_record:
    csrr s7, mstatus
    csrr s9, mcause
    csrr s10, mtval
    csrr s11, mepc
    beqz s8, unexpected_trap
    csrw mepc, s8
    li s8, 0
    li t6, MSTATUS_MPP
    csrs mstatus, t6
    bgez s9, 1f
    li t6, MSTATUS_MPIE
    csrc mstatus, t6
1:  mret

# S-mode: the same for traps delegated to S; resumes at s8 in S-mode.
.balign 4
.globl strap_record
strap_record:
    csrr s7, sstatus
    csrr s9, scause
    csrr s10, stval
    csrr s11, sepc
    beqz s8, unexpected_trap
    csrw sepc, s8
    li s8, 0
    li t6, MSTATUS_SPP
    csrs sstatus, t6
    bgez s9, 1f
    li t6, MSTATUS_SPIE
    csrc sstatus, t6
1:  sret

unexpected_trap:
    la a0, msg_trap
    jal ra, puts
    mv a0, s9
    jal ra, puthex
    la a0, msg_epc
    jal ra, puts
    mv a0, s11
    jal ra, puthex
    la a0, msg_tval
    jal ra, puts
    mv a0, s10
    jal ra, puthex
    li a0, '\n'
    jal ra, putchar
    j fail

.section .rodata, "a", @progbits
msg_fail:  .asciz "FAIL "
msg_check: .asciz ": check "
msg_trap:  .asciz "unexpected trap: cause "
msg_last:  .asciz ", last trap cause "
msg_epc:   .asciz " epc "
msg_tval:  .asciz " tval "

.section .bss, "aw", @nobits
.balign 16
stack: .space 4096
stack_top:

.section .text, "ax", @progbits

# ---- floating-point check macros --------------------------------------------------
# Results are compared as the full 64-bit register, so NaN boxing of single results
# (upper 32 bits all ones) is checked by every single-precision test.
.macro CHECK_FREG_S reg, res
    fmv.x.d a0, \reg
    li t6, 0xffffffff00000000 | (\res & 0xffffffff)
    bne a0, t6, fail
.endm
.macro CHECK_FREG_D reg, res
    fmv.x.d a0, \reg
    li t6, \res
    bne a0, t6, fail
.endm
.macro CHECK_FLAGS flags
    csrrci t6, fflags, 0x1f
    xori t6, t6, \flags
    bnez t6, fail
.endm

# Binary op without a rounding-mode operand (or with the dynamic one).
.macro TEST_FS_RR num, op, res, x, y, flags
    li gp, \num
    FLOAD_S fa1, \x
    FLOAD_S fa2, \y
    \op fa0, fa1, fa2
    CHECK_FREG_S fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_RR num, op, res, x, y, flags
    li gp, \num
    FLOAD_D fa1, \x
    FLOAD_D fa2, \y
    \op fa0, fa1, fa2
    CHECK_FREG_D fa0, \res
    CHECK_FLAGS \flags
.endm
# Binary op with a static rounding mode.
.macro TEST_FS_RR_RM num, op, rm, res, x, y, flags
    li gp, \num
    FLOAD_S fa1, \x
    FLOAD_S fa2, \y
    \op fa0, fa1, fa2, \rm
    CHECK_FREG_S fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_RR_RM num, op, rm, res, x, y, flags
    li gp, \num
    FLOAD_D fa1, \x
    FLOAD_D fa2, \y
    \op fa0, fa1, fa2, \rm
    CHECK_FREG_D fa0, \res
    CHECK_FLAGS \flags
.endm
# Fused multiply-add family: \op fa0, fa1, fa2, fa3.
.macro TEST_FS_RRR num, op, res, x, y, z, flags
    li gp, \num
    FLOAD_S fa1, \x
    FLOAD_S fa2, \y
    FLOAD_S fa3, \z
    \op fa0, fa1, fa2, fa3
    CHECK_FREG_S fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_RRR num, op, res, x, y, z, flags
    li gp, \num
    FLOAD_D fa1, \x
    FLOAD_D fa2, \y
    FLOAD_D fa3, \z
    \op fa0, fa1, fa2, fa3
    CHECK_FREG_D fa0, \res
    CHECK_FLAGS \flags
.endm
# Unary float -> float (fsqrt, fcvt.s.d, fcvt.d.s).
.macro TEST_FS_R num, op, res, x, flags
    li gp, \num
    FLOAD_S fa1, \x
    \op fa0, fa1
    CHECK_FREG_S fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_R num, op, res, x, flags
    li gp, \num
    FLOAD_D fa1, \x
    \op fa0, fa1
    CHECK_FREG_D fa0, \res
    CHECK_FLAGS \flags
.endm
# Float -> integer register (compare, classify, convert): \op a0, fa1[, fa2][, rm].
.macro TEST_FS_TO_X num, op, res, x, flags, rm=rne
    li gp, \num
    FLOAD_S fa1, \x
    \op a0, fa1, \rm
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_TO_X num, op, res, x, flags, rm=rne
    li gp, \num
    FLOAD_D fa1, \x
    \op a0, fa1, \rm
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS \flags
.endm
.macro TEST_FS_CMP num, op, res, x, y, flags
    li gp, \num
    FLOAD_S fa1, \x
    FLOAD_S fa2, \y
    \op a0, fa1, fa2
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS \flags
.endm
.macro TEST_FD_CMP num, op, res, x, y, flags
    li gp, \num
    FLOAD_D fa1, \x
    FLOAD_D fa2, \y
    \op a0, fa1, fa2
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS \flags
.endm
# Integer -> float: \op fa0, a1[, rm].
.macro TEST_X_TO_FS num, op, res, x, flags, rm=rne
    li gp, \num
    li a1, \x
    \op fa0, a1, \rm
    CHECK_FREG_S fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_X_TO_FD num, op, res, x, flags, rm=rne
    li gp, \num
    li a1, \x
    \op fa0, a1, \rm
    CHECK_FREG_D fa0, \res
    CHECK_FLAGS \flags
.endm
.macro TEST_FS_CLASS num, res, x
    li gp, \num
    FLOAD_S fa1, \x
    fclass.s a0, fa1
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS 0
.endm
.macro TEST_FD_CLASS num, res, x
    li gp, \num
    FLOAD_D fa1, \x
    fclass.d a0, fa1
    li t6, \res
    bne a0, t6, fail
    CHECK_FLAGS 0
.endm

.equ FF_NV, 0x10
.equ FF_DZ, 0x08
.equ FF_OF, 0x04
.equ FF_UF, 0x02
.equ FF_NX, 0x01

# satp is WARL (written from M-mode; nothing is translated there). MAX_MODE, from the
# program's defs, is the highest mode the hart implements: 10 (Sv57, emu's default),
# 9 (run with --sv48) or 8 (--sv39). A write whose MODE is not implemented leaves satp
# entirely unchanged; ASID is 16 bits.
#
# Checks:
#   1  Sv39 with ASID all ones reads back mode 8, ASID 0xffff, the PPN
#   2  every undefined MODE (1-7, 11-15) leaves satp unchanged
#   3  Sv48: accepted if MAX_MODE >= 9, else satp unchanged
#   4  Sv57: accepted if MAX_MODE >= 10, else satp unchanged
#   5  Bare (all zero) is accepted

.equ SATP_PPN, (RAM_BASE >> 12) + 0x123

test_main:
    li a1, (SATP_SV39 << 60) | (0xffff << 44) | SATP_PPN
    csrw satp, a1
    csrr a0, satp
    CHECK_REG 1, a0, a1

    li gp, 2
    li a2, 1                        # candidate MODE
    li a3, 16
1:  li t0, 8
    bltu a2, t0, 2f
    li t0, 11
    bltu a2, t0, 3f
2:  slli t0, a2, 60
    ori t0, t0, 0x456
    csrw satp, t0
    csrr a0, satp
    bne a0, a1, fail
3:  addi a2, a2, 1
    bltu a2, a3, 1b

    li a2, (SATP_SV48 << 60) | (7 << 44) | SATP_PPN
    csrw satp, a2
    csrr a0, satp
.if MAX_MODE >= SATP_SV48
    CHECK_REG 3, a0, a2
.else
    CHECK_REG 3, a0, a1
.endif
    mv a1, a0
    li a2, (SATP_SV57 << 60) | (9 << 44) | SATP_PPN
    csrw satp, a2
    csrr a0, satp
.if MAX_MODE >= SATP_SV57
    CHECK_REG 4, a0, a2
.else
    CHECK_REG 4, a0, a1
.endif
    csrw satp, zero
    csrr a0, satp
    CHECK 5, a0, 0
    j pass

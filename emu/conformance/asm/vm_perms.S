# Leaf permissions by privilege (Sv39): the U bit with SUM, S-mode fetches from U pages,
# U-mode against non-U pages, MXR on execute-only pages, and M-mode loads/stores with
# MPRV=1 translated at MPP's privilege. U-mode code runs from the U alias of RAM.
#
# Checks (S = S-mode access, U = U-mode access, M+MPRV(P) = M-mode with MPRV=1, MPP=P):
#   1-2   S load / store of a U page without SUM: 13 / 15
#   3-4   S load / store of a U page with SUM: allowed (the store lands, check 4)
#   5-6   S fetch from a U page, with SUM / without: 12      7  S fetch, non-U X page: ok
#   8     U load of a U page: ok          9-10  U load / store of a non-U page: 13 / 15
#   11    U fetch from a non-U page: 12   12    U fetch from a U X page: ok
#   13    U load of a non-U page with SUM=1: still 13
#   14    S load of an execute-only page without MXR: 13      15  with MXR: ok
#   16    S store to the execute-only page with MXR: 15
#   17-19 SUM, MXR and privilege are checked on every access, not when the TLB fills:
#         17 S loads a U page with SUM=1, clears SUM, loads again: 13 (no fence between)
#         18 the same with MXR and the execute-only page
#         19 U loads an S page whose translation S has just used: 13
#   20    M+MPRV(S) load goes through translation   21  M+MPRV(S) load of a U page: 13
#   22    M+MPRV(U) load of a U page: ok            23  M+MPRV(U) load of a non-U page: 13
#   24    M+MPRV(S) with SUM: U page load ok        25  M+MPRV(S) store lands in the PA
#   26    M+MPRV(S) with MXR: execute-only load ok  27  M+MPRV(M): bare, no translation
#   28    M+MPRV(S) store to a read-only page: 15

.equ VA, 0x40000000
.equ VA_U, VA
.equ VA_S, VA + 0x1000
.equ VA_XONLY, VA + 0x2000
.equ VA_UCODE, VA + 0x3000
.equ VA_SCODE, VA + 0x4000
.equ VA_RO, VA + 0x5000

# M-mode \insn with MPRV=1, MPP=\mpp and mstatus bits \extra; it must not trap.
.macro MPRV_OK num, mpp, extra, insn:vararg
    li gp, \num
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | ((\mpp) << 11) | (\extra)
    csrs mstatus, t0
    \insn
    li t0, MSTATUS_MPRV | (\extra)
    csrc mstatus, t0
    li t0, MSTATUS_MPP
    csrs mstatus, t0
.endm

# The same access must trap with \cause and tval = register \va.
.macro MPRV_FAULT num, mpp, extra, cause, va, insn:vararg
    li gp, \num
    li t0, MSTATUS_MPP
    csrc mstatus, t0
    li t0, MSTATUS_MPRV | ((\mpp) << 11) | (\extra)
    csrs mstatus, t0
    EXPECT_TRAP 88f
    \insn
    j fail
88: li t0, MSTATUS_MPRV | (\extra)
    csrc mstatus, t0
    CHECK_CAUSE \num, \cause
    bne s10, \va, fail
.endm

test_main:
    MAP_IDENTITY 3
    PT_LEAF 0, 3, RAM_BASE, PTE_RWX_AD | PTE_U
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_u, PTE_RW_AD | PTE_U
    PT_LEAF_SYM 4, 1, page_s, PTE_RW_AD
    PT_LEAF_SYM 4, 2, page_x, PTE_V | PTE_X | PTE_AD
    PT_LEAF_SYM 4, 3, vm_code_page, PTE_V | PTE_R | PTE_X | PTE_U | PTE_AD
    PT_LEAF_SYM 4, 4, vm_code_page, PTE_V | PTE_R | PTE_X | PTE_AD
    PT_LEAF_SYM 4, 5, page_s, PTE_V | PTE_R | PTE_AD
    SATP_ROOT SATP_SV39, 0
    ld s1, page_u
    ld s2, page_s
    ld s3, page_x

    # S-mode and the U bit.
    li a1, VA_U
    MODE_FAULT 1, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    li a0, 0
    MODE_OK 3, 1, ld a0, 0(a1)
    CHECK_REG 3, a0, s1
    li a2, 0x77
    MODE_OK 4, 1, sd a2, 8(a1)
    ld a0, page_u + 8
    CHECK 4, a0, 0x77
    li a1, VA_UCODE
    MODE_FAULT 5, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li t0, MSTATUS_SUM
    csrc mstatus, t0
    MODE_FAULT 6, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA_SCODE
    MODE_OK 7, 1, jalr zero, 0(a1)

    # U-mode.
    li a1, VA_U
    li a0, 0
    MODE_OK 8, 0, ld a0, 0(a1)
    CHECK_REG 8, a0, s1
    li a1, VA_S
    MODE_FAULT 9, 0, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 10, 0, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, VA_SCODE
    MODE_FAULT 11, 0, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA_UCODE
    MODE_OK 12, 0, jalr zero, 0(a1)
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    li a1, VA_S
    MODE_FAULT 13, 0, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li t0, MSTATUS_SUM
    csrc mstatus, t0

    # MXR.
    li a1, VA_XONLY
    MODE_FAULT 14, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    li a0, 0
    MODE_OK 15, 1, ld a0, 0(a1)
    CHECK_REG 15, a0, s3
    MODE_FAULT 16, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li t0, MSTATUS_MXR
    csrc mstatus, t0

    # Permission changes that need no fence.
    li t0, MSTATUS_SUM
    csrs mstatus, t0
    li a1, VA_U
    li gp, 17
    EXPECT_TRAP 2f
    ENTER_VM 1, 1f
1:  ld a0, 0(a1)
    CHECK_REG 17, a0, s1
    li t0, MSTATUS_SUM
    csrc sstatus, t0
    ld a0, 0(a1)
    ecall
2:  CHECK_CAUSE 17, CAUSE_LOAD_PAGE
    bne s10, a1, fail
    li t0, MSTATUS_MXR
    csrs mstatus, t0
    li a1, VA_XONLY
    li gp, 18
    EXPECT_TRAP 2f
    ENTER_VM 1, 1f
1:  ld a0, 0(a1)
    CHECK_REG 18, a0, s3
    li t0, MSTATUS_MXR
    csrc sstatus, t0
    ld a0, 0(a1)
    ecall
2:  CHECK_CAUSE 18, CAUSE_LOAD_PAGE
    bne s10, a1, fail
    li a1, VA_S
    li a0, 0
    MODE_OK 19, 1, ld a0, 0(a1)
    CHECK_REG 19, a0, s2
    MODE_FAULT 19, 0, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)

    # MPRV. Without translation VA_S is no memory at all (an access fault), so a value
    # from page_s proves the translation.
    li a1, VA_S
    li a0, 0
    MPRV_OK 20, 1, 0, ld a0, 0(a1)
    CHECK_REG 20, a0, s2
    li a1, VA_U
    MPRV_FAULT 21, 1, 0, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a0, 0
    MPRV_OK 22, 0, 0, ld a0, 0(a1)
    CHECK_REG 22, a0, s1
    li a1, VA_S
    MPRV_FAULT 23, 0, 0, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA_U
    li a0, 0
    MPRV_OK 24, 1, MSTATUS_SUM, ld a0, 0(a1)
    CHECK_REG 24, a0, s1
    li a1, VA_S
    li a2, 0x99
    MPRV_OK 25, 1, 0, sd a2, 16(a1)
    ld a0, page_s + 16
    CHECK 25, a0, 0x99
    li a1, VA_XONLY
    li a0, 0
    MPRV_OK 26, 1, MSTATUS_MXR, ld a0, 0(a1)
    CHECK_REG 26, a0, s3
    la a1, page_s
    li a0, 0
    MPRV_OK 27, 3, 0, ld a0, 0(a1)
    CHECK_REG 27, a0, s2
    li a1, VA_RO
    MPRV_FAULT 28, 1, 0, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    j pass

.data
.balign 4096
page_u: .dword 0x5555000011112222, 0
.balign 4096
page_s: .dword 0x6666000033334444, 0, 0
.balign 4096
page_x: .dword 0x7777000055556666
.balign 4096

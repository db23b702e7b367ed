# PMP applies to the walker's own PTE reads (Sv39). PMP entry 0 covers the level-0 page
# table with no permissions, entry 1 covers one data page likewise, entry 2 grants RWX on
# everything else. Neither entry is locked, so M-mode is unaffected while S-mode accesses
# whose walk reads the protected table get an access fault of the access's own type
# (not a page fault), with tval = the virtual address.
#
# Checks:
#   1-3  load 5, store 7, fetch 1 through the protected table
#   4    M-mode reads the protected table directly (PMP does not bind M when unlocked)
#   5    the walk succeeds but the data page is PMP-protected: load access fault 5
#   6    PMP entry 0 made readable (then sfence.vma): the load through the table works

.equ VA, 0x40000000
.equ VA_P, 0x40200000
.equ PMP_NAPOT, 0x18
.equ PMP_R, 0x01
.equ PMP_RWX, 0x07

# pmpaddr for the 4 KiB page at symbol \sym (NAPOT encoding)
.macro PMP_PAGE reg, sym
    la \reg, \sym
    srli \reg, \reg, 2
    ori \reg, \reg, (4096 / 8) - 1
.endm

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, vm_code_page, PTE_V | PTE_R | PTE_X | PTE_AD
    PT_LINK 3, 1, 5
    PT_LEAF_SYM 5, 0, page_p, PTE_RW_AD
    SATP_ROOT SATP_SV39, 0
    ld s1, page_a

    la t0, vm_tables + 4 * 4096
    srli t0, t0, 2
    ori t0, t0, (4096 / 8) - 1
    csrw pmpaddr0, t0
    PMP_PAGE t0, page_p
    csrw pmpaddr1, t0
    li t0, -1
    csrw pmpaddr2, t0
    li t0, ((PMP_NAPOT | PMP_RWX) << 16) | (PMP_NAPOT << 8) | PMP_NAPOT
    csrw pmpcfg0, t0
    sfence.vma

    li a1, VA
    MODE_FAULT 1, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)
    li a1, VA + 0x1000
    MODE_FAULT 3, 1, CAUSE_FETCH_ACCESS, a1, jalr zero, 0(a1)
    la t0, vm_tables + 4 * 4096
    ld a0, 0(t0)
    li gp, 4
    beqz a0, fail
    li a1, VA_P
    MODE_FAULT 5, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)

    li t0, PMP_R
    csrs pmpcfg0, t0
    sfence.vma
    li a1, VA
    li a0, 0
    MODE_OK 6, 1, ld a0, 0(a1)
    CHECK_REG 6, a0, s1
    j pass

.data
.balign 4096
page_a: .dword 0x0a0a0a0a0b0b0b0b
.balign 4096
page_p: .dword 0x0c0c0c0c0d0d0d0d
.balign 4096

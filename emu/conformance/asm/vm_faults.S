# Page faults from the structure of the page table, in the paging mode the program's
# defs choose (LEVELS, MODE); S-mode accesses, traps to M. The faulting PTEs sit in the
# level-1 and level-0 tables below the mode's level-2 table. Every fault must carry
# tval = the virtual address.
#
# Checks:
#   1-3   V=0 leaf: load 13, store 15, fetch 12
#   4-5   W without R: load 13, store 15         6  W+X without R: fetch 12
#   7-9   leaf with bit 54 (reserved) / bit 61 (Svpbmt) / bit 63 (Svnapot) set: load 13
#   10    non-leaf PTE with bit 54 set            11-13 non-leaf PTE with A / D / U set
#   14    level-0 PTE that is a pointer (no leaf at the last level)
#   15    store to a read-only page: 15           16 fetch from a non-X page: 12
#   17    load from the read-only page works      18 a PTE made valid (and fenced) after
#                                                    a fault: load works
#   19    the table behind the bad non-leaf PTEs is fine through a clean pointer

.equ VA, 0x40000000
.if LEVELS == 3
.equ MID, 0
.elseif LEVELS == 4
.equ MID, 1
.else
.equ MID, 2
.endif

test_main:
    MAP_IDENTITY LEVELS
    PT_LINK MID, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD & ~PTE_V
    PT_LEAF_SYM 4, 1, page_a, PTE_V | PTE_W | PTE_AD
    PT_LEAF_SYM 4, 2, vm_code_page, PTE_V | PTE_W | PTE_X | PTE_AD
    PT_LEAF_SYM 4, 3, page_a, PTE_RW_AD | (1 << 54)
    PT_LEAF_SYM 4, 4, page_a, PTE_RW_AD | (1 << 61)
    PT_LEAF_SYM 4, 5, page_a, PTE_RW_AD | (1 << 63)
    PT_LINK 4, 6, 5
    PT_LEAF_SYM 4, 7, page_a, PTE_V | PTE_R | PTE_AD
    PT_LEAF_SYM 4, 8, vm_code_page, PTE_RW_AD
    PT_LEAF_SYM 4, 9, page_a, PTE_RW_AD & ~PTE_V
    PT_LINK 3, 1, 5, 1 << 54
    PT_LINK 3, 2, 5, PTE_A
    PT_LINK 3, 3, 5, PTE_D
    PT_LINK 3, 4, 5, PTE_U
    PT_LINK 3, 5, 5
    PT_LEAF_SYM 5, 0, page_a, PTE_RW_AD
    SATP_ROOT MODE, 0
    ld s1, page_a

    li a1, VA
    MODE_FAULT 1, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    MODE_FAULT 3, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA + 0x1000
    MODE_FAULT 4, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 5, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, VA + 0x2000
    MODE_FAULT 6, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA + 0x3000
    MODE_FAULT 7, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x4000
    MODE_FAULT 8, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x5000
    MODE_FAULT 9, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x200000
    MODE_FAULT 10, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x400000
    MODE_FAULT 11, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x600000
    MODE_FAULT 12, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x800000
    MODE_FAULT 13, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x6000
    MODE_FAULT 14, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA + 0x7000
    MODE_FAULT 15, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, VA + 0x8000
    MODE_FAULT 16, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA + 0x7000
    li a0, 0
    MODE_OK 17, 1, ld a0, 0(a1)
    CHECK_REG 17, a0, s1

    li a1, VA + 0x9000
    MODE_FAULT 18, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    PT_LEAF_SYM 4, 9, page_a, PTE_RW_AD
    sfence.vma
    li a0, 0
    MODE_OK 18, 1, ld a0, 0(a1)
    CHECK_REG 18, a0, s1

    li a1, VA + 0xa00000
    li a0, 0
    MODE_OK 19, 1, ld a0, 0(a1)
    CHECK_REG 19, a0, s1
    j pass

.data
.balign 4096
page_a: .dword 0x0123456789abcdef
.balign 4096

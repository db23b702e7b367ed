# Svade (emu's default): a leaf with A=0, or D=0 on a store, is a page fault and the PTE
# is left as it was. QEMU 7.2 updates A/D in hardware instead, so this program diverges
# there (see vm_svadu_ad for the hardware-update behaviour).
#
# Checks:
#   1-3  A=0: load 13, store 15, fetch 12 (tval = the address)
#   4    A=1, D=0: load ok                 5  A=1, D=0: store 15
#   6    A=1, D=1: store ok                7  the faulting PTEs are unchanged in memory

.equ VA, 0x40000000

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_V | PTE_R | PTE_W
    PT_LEAF_SYM 4, 1, vm_code_page, PTE_V | PTE_R | PTE_X
    PT_LEAF_SYM 4, 2, page_a, PTE_V | PTE_R | PTE_W | PTE_A
    PT_LEAF_SYM 4, 3, page_a, PTE_RW_AD
    SATP_ROOT SATP_SV39, 0
    ld s1, page_a

    li a1, VA
    MODE_FAULT 1, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, VA + 0x1000
    MODE_FAULT 3, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, VA + 0x2000
    li a0, 0
    MODE_OK 4, 1, ld a0, 0(a1)
    CHECK_REG 4, a0, s1
    MODE_FAULT 5, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    li a1, VA + 0x3000
    MODE_OK 6, 1, sd a0, 8(a1)

    PTE_ADDR a2, 4, 0
    ld a0, 0(a2)
    andi a0, a0, PTE_AD
    CHECK 7, a0, 0
    ld a0, 8(a2)
    andi a0, a0, PTE_AD
    CHECK 7, a0, 0
    ld a0, 16(a2)
    andi a0, a0, PTE_AD
    CHECK 7, a0, PTE_A
    j pass

.data
.balign 4096
page_a: .dword 0x1234432112344321, 0
.balign 4096

# Accesses outside memory (Sv39): a page-table pointer to an address where nothing
# exists makes the walk's PTE read fail, and a leaf for such an address makes the
# access itself fail. Both are access faults of the access's type (the spec's PMA rule),
# not page faults, with tval = the virtual address. QEMU 7.2 agrees on checks 1-3 but
# reports the failed PTE read as a page fault (checks 4-6): QEMU-divergent.
#
# Checks:
#   1-3  leaf for no memory: load 5, store 7, fetch 1
#   4-6  table pointer to no memory: load 5, store 7, fetch 1

.equ VA, 0x40000000
.equ NOWHERE, 0x7000000000          # far above RAM, below 2^56: no device there

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LEAF 3, 0, NOWHERE, PTE_V
    PT_LINK 3, 1, 4
    PT_LEAF 4, 0, NOWHERE, PTE_RWX_AD
    SATP_ROOT SATP_SV39, 0

    li a1, VA + 0x200000
    MODE_FAULT 1, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    MODE_FAULT 2, 1, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)
    MODE_FAULT 3, 1, CAUSE_FETCH_ACCESS, a1, jalr zero, 0(a1)
    li a1, VA
    MODE_FAULT 4, 1, CAUSE_LOAD_ACCESS, a1, ld a0, 0(a1)
    MODE_FAULT 5, 1, CAUSE_STORE_ACCESS, a1, sd a0, 0(a1)
    MODE_FAULT 6, 1, CAUSE_FETCH_ACCESS, a1, jalr zero, 0(a1)
    j pass

# Svadu (run with --svadu): the accesses that fault under Svade succeed and set the
# PTE's A bit (and D on stores) in memory; permissions still come first. QEMU 7.2 does
# the same by default.
#
# Checks:
#   1  load from an A=0 page works            2  ... and set A only
#   3  store to the same page (its TLB entry has A=1, D=0) works; the value lands
#   4  ... and set D                          5  fetch from an A=0 X page works
#   6  ... and set A only                     7  first access a store: works
#   8  ... and set A and D                    9  store to a read-only A=0 page: 15
#   10 ... and the PTE stays unchanged

.equ VA, 0x40000000

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_V | PTE_R | PTE_W
    PT_LEAF_SYM 4, 1, vm_code_page, PTE_V | PTE_R | PTE_X
    PT_LEAF_SYM 4, 2, page_b, PTE_V | PTE_R | PTE_W
    PT_LEAF_SYM 4, 3, page_a, PTE_V | PTE_R
    SATP_ROOT SATP_SV39, 0
    ld s1, page_a
    PTE_ADDR s2, 4, 0

    li a1, VA
    li a0, 0
    MODE_OK 1, 1, ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    ld a0, 0(s2)
    andi a0, a0, PTE_AD
    CHECK 2, a0, PTE_A
    li a2, 0xabcd
    MODE_OK 3, 1, sd a2, 8(a1)
    ld a0, page_a + 8
    CHECK 3, a0, 0xabcd
    ld a0, 0(s2)
    andi a0, a0, PTE_AD
    CHECK 4, a0, PTE_AD

    li a1, VA + 0x1000
    MODE_OK 5, 1, jalr zero, 0(a1)
    ld a0, 8(s2)
    andi a0, a0, PTE_AD
    CHECK 6, a0, PTE_A

    li a1, VA + 0x2000
    li a2, 0xdcba
    MODE_OK 7, 1, sd a2, 0(a1)
    ld a0, page_b
    CHECK 7, a0, 0xdcba
    ld a0, 16(s2)
    andi a0, a0, PTE_AD
    CHECK 8, a0, PTE_AD

    li a1, VA + 0x3000
    MODE_FAULT 9, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    ld a0, 24(s2)
    andi a0, a0, PTE_AD
    CHECK 10, a0, 0
    j pass

.data
.balign 4096
page_a: .dword 0x1234432112344321, 0
.balign 4096
page_b: .dword 0
.balign 4096

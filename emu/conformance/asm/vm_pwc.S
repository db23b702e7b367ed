# Material for the page-walk cache model (emu/tests/vm_pwc.rs counts its hits and misses
# per level by hand). Sv39, ASID 5. VA's GiB is root[1] -> table 3; its first 2 MiB are
# table 3[0] -> table 4 (leaves to page_a), its second 2 MiB table 3[1] -> table 5, a
# global pointer (leaves to page_a). Table 6 is a second level-0 table whose leaf 0 maps
# page_b. Code and data run from the identity GiB (root[2], a non-global leaf).
#
# In S-mode the program loads through VA's pages, fences by address, repoints the non-leaf
# PTE 3[0] from table 4 to table 6 and fences only that address (which need not flush
# non-leaf entries), then fences by ASID and fully. The load after the address fence may
# see page_a (a cached table 3[0]) or page_b (a fresh walk): the spec allows both.
#
# Checks:
#   1  first load: page_a      2  after the non-leaf change and a full fence: page_b

.equ VA, 0x40000000
.equ ASID, 5

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LINK 3, 1, 5, PTE_G
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, page_a, PTE_RW_AD
    PT_LEAF_SYM 5, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 5, 1, page_a, PTE_RW_AD
    PT_LEAF_SYM 6, 0, page_b, PTE_RW_AD
    SATP_ROOT SATP_SV39, 0, ASID
    ld s1, page_a
    ld s2, page_b
    PTE_ADDR s3, 3, 0
    la s4, vm_tables + 6 * 4096     # the non-leaf PTE 3[0] -> table 6
    srli s4, s4, 12
    slli s4, s4, 10
    ori s4, s4, PTE_V

    li gp, 1
    EXPECT_TRAP 2f
    li a1, VA
    li a2, VA + 0x1000
    li a5, VA + 0x200000
    li a7, VA + 0x201000
    li a6, ASID
    ENTER_MODE 1, 1f
1:  ld a0, 0(a1)                    # walk: 3 PTE reads, fills levels 2 and 1
    CHECK_REG 1, a0, s1
    ld a0, 0(a2)                    # level 1 hit: 1 read
    ld a0, 0(a5)                    # level 1 miss, level 2 hit: 2 reads
    sfence.vma a2, x0
    ld a0, 0(a2)                    # level 1 hit: 1 read
    sd s4, 0(s3)                    # 3[0] := table 6 (a non-leaf change)
    sfence.vma a1, x0               # only leaves: the cached 3[0] stays
    ld s5, 0(a1)                    # level 1 hit on the old 3[0]: 1 read
    sfence.vma x0, a6               # non-global entries of ASID 5
    ld a0, 0(a1)                    # misses: 3 reads through table 6
    CHECK_REG 2, a0, s2
    ld a0, 0(a7)                    # the global level-1 entry survived: 1 read
    sfence.vma x0, x0
    ld a0, 0(a5)                    # misses: 3 reads
    ecall
2:  CHECK_CAUSE 3, CAUSE_ECALL_S
    j pass

.data
.balign 4096
page_a: .dword 0x1010101010101010
.balign 4096
page_b: .dword 0x2020202020202020
.balign 4096

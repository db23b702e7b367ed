# A leaf at every level of one paging mode (LEVELS = 3, 4 or 5, MODE = its satp value,
# set by the program's defs), and the canonical-address rule of that mode. S-mode loads a
# known value through each mapping; superpages are reached at an offset inside them.
#
# Checks:
#   1  4 KiB leaf (level 0) maps page_a        2  neighbouring 4 KiB leaf maps page_b
#   3  2 MiB leaf (level 1), at an offset       4  1 GiB leaf (level 2), at an offset
#   5  512 GiB leaf (level 3; Sv48, Sv57)       6  256 TiB leaf (level 4; Sv57)
#   7  upper-half (sign-extended) address       8  a store through a 4 KiB leaf lands in
#                                                  page_b (read back bare in M)
#   10 non-canonical load: cause 13, tval       11 non-canonical store: cause 15, tval
#   12 non-canonical fetch: cause 12, tval      13 bit 63 clear in an upper-half address
#   14 the first address above the lower half (bit VA_BITS-1 set, upper bits clear)
#   20-23 misaligned 2 MiB / 1 GiB / 512 GiB / 256 TiB leaf: load page fault, tval
# The non-canonical addresses carry low bits that a truncating walker would find mapped.

.equ VA_BITS, 12 + 9 * LEVELS
.if LEVELS == 3
.equ MID, 0
.elseif LEVELS == 4
.equ MID, 1
.equ L3, 0
.else
.equ MID, 2
.equ L3, 1
.endif

.equ VA_4K, 0x40000000
.equ VA_2M, 0x40200000
.equ VA_1G, 0xc0000000
.equ VA_512G, 1 << 39
.equ VA_256T, 1 << 48
.equ VA_HIGH, 0xffffffffc0000000
.equ VA_BAD_2M, 0x40400000
.equ VA_BAD_1G, 0x100000000
.equ VA_BAD_512G, 2 << 39
.equ VA_BAD_256T, 2 << 48

test_main:
    MAP_IDENTITY LEVELS
    PT_LINK MID, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, page_b, PTE_RW_AD
    PT_LEAF 3, 1, RAM_BASE, PTE_RW_AD
    PT_LEAF MID, 3, RAM_BASE, PTE_RW_AD
.if LEVELS >= 4
    PT_LEAF L3, 1, 0, PTE_RW_AD
.endif
.if LEVELS == 5
    PT_LEAF 0, 1, 0, PTE_RW_AD
.endif
    # Upper half: the last entry at every level down to a 1 GiB leaf.
.if LEVELS == 3
    PT_LEAF 0, 511, RAM_BASE, PTE_RW_AD
.elseif LEVELS == 4
    PT_LINK 0, 511, 5
    PT_LEAF 5, 511, RAM_BASE, PTE_RW_AD
.else
    PT_LINK 0, 511, 5
    PT_LINK 5, 511, 6
    PT_LEAF 6, 511, RAM_BASE, PTE_RW_AD
.endif
    # Misaligned superpages: each PPN is off by one page of the next size down.
    PT_LEAF 3, 2, RAM_BASE + 0x1000, PTE_RW_AD
    PT_LEAF MID, 4, RAM_BASE + 0x200000, PTE_RW_AD
.if LEVELS >= 4
    PT_LEAF L3, 2, RAM_BASE, PTE_RW_AD
.endif
.if LEVELS == 5
    PT_LEAF 0, 2, 1 << 39, PTE_RW_AD
.endif
    SATP_ROOT MODE, 0

    # s0 = offset of page_a inside RAM; page_a lies in RAM's first 2 MiB.
    la s0, page_a
    li t0, RAM_BASE
    sub s0, s0, t0
    ld s1, page_a
    ld s2, page_b

    li gp, 1
    EXPECT_TRAP 2f
    ENTER_MODE 1, 1f
1:  li a1, VA_4K
    ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    li a1, VA_4K + 0x1000
    ld a0, 0(a1)
    CHECK_REG 2, a0, s2
    li a1, VA_2M
    add a1, a1, s0
    ld a0, 0(a1)
    CHECK_REG 3, a0, s1
    li a1, VA_1G
    add a1, a1, s0
    ld a0, 0(a1)
    CHECK_REG 4, a0, s1
.if LEVELS >= 4
    li a1, VA_512G + RAM_BASE
    add a1, a1, s0
    ld a0, 0(a1)
    CHECK_REG 5, a0, s1
.endif
.if LEVELS == 5
    li a1, VA_256T + RAM_BASE
    add a1, a1, s0
    ld a0, 0(a1)
    CHECK_REG 6, a0, s1
.endif
    li a1, VA_HIGH
    add a1, a1, s0
    ld a0, 0(a1)
    CHECK_REG 7, a0, s1
    li a1, VA_4K + 0x1008
    li a2, 0x5a5a5a5a12345678
    sd a2, 0(a1)
    li gp, 1
    ecall
2:  CHECK_CAUSE 1, CAUSE_ECALL_S
    ld a0, page_b + 8
    CHECK 8, a0, 0x5a5a5a5a12345678

    # Non-canonical addresses.
    li a1, 0x40000000c0000000
    add a1, a1, s0
    MODE_FAULT 10, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    MODE_FAULT 11, 1, CAUSE_STORE_PAGE, a1, sd a0, 0(a1)
    MODE_FAULT 12, 1, CAUSE_FETCH_PAGE, a1, jalr zero, 0(a1)
    li a1, 0x7fffffffc0000000
    add a1, a1, s0
    MODE_FAULT 13, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, 1 << (VA_BITS - 1)
    MODE_FAULT 14, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)

    # Misaligned superpages.
    li a1, VA_BAD_2M
    MODE_FAULT 20, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
    li a1, VA_BAD_1G
    MODE_FAULT 21, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
.if LEVELS >= 4
    li a1, VA_BAD_512G
    MODE_FAULT 22, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
.endif
.if LEVELS == 5
    li a1, VA_BAD_256T
    MODE_FAULT 23, 1, CAUSE_LOAD_PAGE, a1, ld a0, 0(a1)
.endif
    j pass

.data
.balign 4096
page_a: .dword 0x1111aaaa2222bbbb
.balign 4096
page_b: .dword 0x3333cccc4444dddd, 0
.balign 4096

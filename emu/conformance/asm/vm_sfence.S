# Each sfence.vma form makes a changed PTE visible (Sv39, ASID 5). S-mode reads through
# a mapping, rewrites the PTE with an ordinary store, fences, and must see the new page.
# Only what the spec guarantees is checked: a narrower fence that need not flush an entry
# (e.g. the ASID form and a global entry) is not tested here; emu/tests/vm_check_tlb.rs
# shows emu's TLB model keeping such an entry.
#
# Checks:
#   1  first read: page_a                          2  sfence.vma x0, x0    -> page_b
#   3  sfence.vma va, x0    -> page_a              4  sfence.vma x0, asid  -> page_b
#   5  sfence.vma va, asid  -> page_a              6  sfence.vma with va inside the page
#                                                     (not its first byte) -> page_b
#   7  2 MiB leaf moved, sfence.vma at an address 20 KiB into the superpage
#   8  global leaf changed, sfence.vma x0, x0      9  global leaf, sfence.vma va, x0
#   10 a non-leaf PTE changed (points at another level-0 table), sfence.vma x0, asid
#   11 the leaf cleared (V=0), sfence.vma va, x0: the access faults (13)

.equ VA, 0x40000000
.equ VA_G, VA + 0x1000
.equ VA_2M, 0x40200000
.equ ASID, 5

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, page_a, PTE_RW_AD | PTE_G
    PT_LEAF 3, 1, RAM_BASE, PTE_RW_AD
    PT_LEAF_SYM 5, 0, page_b, PTE_RW_AD
    SATP_ROOT SATP_SV39, 0, ASID
    ld s1, page_a
    ld s2, page_b
    # The second 2 MiB of RAM holds a marker at page_a's offset.
    la t0, page_a
    li t1, 0x200000
    add t0, t0, t1
    li s5, 0x2222000000000007
    sd s5, 0(t0)
    # PTE addresses and values the S-mode code stores.
    PTE_ADDR s3, 4, 0
    PTE_ADDR s4, 4, 1
    PTE_ADDR s6, 3, 1
    ld a3, 0(s3)                    # leaf for page_a
    PTE_ADDR t0, 5, 0
    ld a4, 0(t0)                    # leaf for page_b
    ld a5, 0(s6)                    # 2 MiB leaf at RAM_BASE
    li t0, 0x200000 >> 2
    add a6, a5, t0                  # 2 MiB leaf at RAM_BASE + 2 MiB
    # s0 = offset of page_a in RAM
    la s0, page_a
    li t0, RAM_BASE
    sub s0, s0, t0

    li gp, 1
    EXPECT_TRAP 2f
    ENTER_MODE 1, 1f
1:  li a1, VA
    li a7, ASID
    ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    sd a4, 0(s3)
    sfence.vma x0, x0
    ld a0, 0(a1)
    CHECK_REG 2, a0, s2
    sd a3, 0(s3)
    sfence.vma a1, x0
    ld a0, 0(a1)
    CHECK_REG 3, a0, s1
    sd a4, 0(s3)
    sfence.vma x0, a7
    ld a0, 0(a1)
    CHECK_REG 4, a0, s2
    sd a3, 0(s3)
    sfence.vma a1, a7
    ld a0, 0(a1)
    CHECK_REG 5, a0, s1
    sd a4, 0(s3)
    addi a2, a1, 0x7f8
    sfence.vma a2, x0
    ld a0, 0(a1)
    CHECK_REG 6, a0, s2

    li a2, VA_2M
    add a2, a2, s0
    ld a0, 0(a2)
    CHECK_REG 7, a0, s1
    sd a6, 0(s6)
    li t0, VA_2M + 0x5000
    sfence.vma t0, x0
    ld a0, 0(a2)
    CHECK_REG 7, a0, s5

    li a2, VA_G
    ld a0, 0(a2)
    CHECK_REG 8, a0, s1
    li t0, PTE_G
    or t0, t0, a4
    sd t0, 0(s4)
    sfence.vma x0, x0
    ld a0, 0(a2)
    CHECK_REG 8, a0, s2
    li t0, PTE_G
    or t0, t0, a3
    sd t0, 0(s4)
    sfence.vma a2, x0
    ld a0, 0(a2)
    CHECK_REG 9, a0, s1

    # Leaf 0 of table 4 maps page_b now; table 5's maps page_b too, so first restore
    # page_a in table 4 and fence, then swing the level-1 pointer to table 5.
    sd a3, 0(s3)
    sfence.vma a1, x0
    ld a0, 0(a1)
    CHECK_REG 10, a0, s1
    PTE_ADDR t0, 3, 0
    PTE_ADDR t1, 5, 0
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, PTE_V
    sd t1, 0(t0)
    sfence.vma x0, a7
    ld a0, 0(a1)
    CHECK_REG 10, a0, s2
    li gp, 1
    ecall
2:  CHECK_CAUSE 1, CAUSE_ECALL_S

    PTE_ADDR t0, 5, 0
    sd zero, 0(t0)
    li a1, VA
    li gp, 11
    EXPECT_TRAP 2f
    ENTER_MODE 1, 1f
1:  sfence.vma a1, x0
    ld a0, 0(a1)
    ecall
2:  CHECK_CAUSE 11, CAUSE_LOAD_PAGE
    bne s10, a1, fail
    j pass

.data
.balign 4096
page_a: .dword 0xaaaa00000000000a
.balign 4096
page_b: .dword 0xbbbb00000000000b
.balign 4096

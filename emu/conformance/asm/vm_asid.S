# ASID isolation (Sv39): two roots, ASIDs 1 and 2, map VA to different pages; S-mode
# switches satp between them without sfence.vma (allowed: neither table changed after
# the initial fence and the ASIDs differ) and must always see its own page. A global page
# mapped identically in both is visible in both.
#
# Checks:
#   1  ASID 1 sees page_a             2  the global page, under ASID 1
#   3  after csrw satp (ASID 2), no fence: page_b      4  the global page, under ASID 2
#   5  back to ASID 1: page_a         6  the global page again
#   7  ASID 2 once more: page_b

.equ VA, 0x40000000
.equ VA_G, VA + 0x1000

test_main:
    # Root A: table 0 (levels 3, 4). Root B: table 6 (levels 7, 8).
    MAP_IDENTITY 3, 0
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, page_g, PTE_RW_AD | PTE_G
    MAP_IDENTITY 3, 6
    PT_LINK 6, 1, 7
    PT_LINK 7, 0, 8
    PT_LEAF_SYM 8, 0, page_b, PTE_RW_AD
    PT_LEAF_SYM 8, 1, page_g, PTE_RW_AD | PTE_G
    SATP_ROOT SATP_SV39, 0, 1
    SATP_VALUE s3, SATP_SV39, 0, 1
    SATP_VALUE s4, SATP_SV39, 6, 2
    ld s1, page_a
    ld s2, page_b
    ld s5, page_g

    li gp, 1
    EXPECT_TRAP 2f
    ENTER_MODE 1, 1f
1:  li a1, VA
    li a2, VA_G
    ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    ld a0, 0(a2)
    CHECK_REG 2, a0, s5
    csrw satp, s4
    ld a0, 0(a1)
    CHECK_REG 3, a0, s2
    ld a0, 0(a2)
    CHECK_REG 4, a0, s5
    csrw satp, s3
    ld a0, 0(a1)
    CHECK_REG 5, a0, s1
    ld a0, 0(a2)
    CHECK_REG 6, a0, s5
    csrw satp, s4
    ld a0, 0(a1)
    CHECK_REG 7, a0, s2
    li gp, 1
    ecall
2:  CHECK_CAUSE 1, CAUSE_ECALL_S
    j pass

.data
.balign 4096
page_a: .dword 0xaaaa000000000001
.balign 4096
page_b: .dword 0xbbbb000000000002
.balign 4096
page_g: .dword 0x9999000000000003
.balign 4096

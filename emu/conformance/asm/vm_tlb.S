# Material for emu's missing-fence detector (emu/tests/vm_check_tlb.rs runs these with
# --check-tlb). S-mode reads VA (so the TLB holds its translation), repoints the leaf from
# page_a to page_b with a store, fences as FENCE says, and reads VA again:
#   FENCE = 0  no fence at all: the guest bug --check-tlb must report;
#   FENCE = 1  sfence.vma va, x0: correct, the new page must be seen;
#   FENCE = 2  the leaf is global and the fence is sfence.vma x0, asid, which need not
#              flush global entries: a second forgotten-fence bug, in disguise.
# Without the right fence the spec allows either page, so the program accepts both.
# The second read is at the global symbol vm_tlb_second_load (reports must name its pc).
#
# Checks:
#   1  first read: page_a      2  second read: page_b (FENCE = 1), page_a or page_b else

.equ VA, 0x40000000
.equ ASID, 3
.if FENCE == 2
.equ LEAF_FLAGS, PTE_RW_AD | PTE_G
.else
.equ LEAF_FLAGS, PTE_RW_AD
.endif

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, LEAF_FLAGS
    SATP_ROOT SATP_SV39, 0, ASID
    ld s1, page_a
    ld s2, page_b
    PTE_ADDR s3, 4, 0
    PT_LEAF_SYM 4, 1, page_b, LEAF_FLAGS
    ld s4, 8(s3)                    # the leaf for page_b, prepared in the next slot

    li gp, 1
    EXPECT_TRAP 2f
    ENTER_MODE 1, 1f
1:  li a1, VA
    li a2, ASID
    ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    sd s4, 0(s3)
.if FENCE == 1
    sfence.vma a1, x0
.elseif FENCE == 2
    sfence.vma x0, a2
.endif
.globl vm_tlb_second_load
vm_tlb_second_load:
    ld a0, 0(a1)
    li gp, 2
.if FENCE == 1
    bne a0, s2, fail
.else
    beq a0, s2, 3f
    bne a0, s1, fail
3:
.endif
    ecall
2:  CHECK_CAUSE 1, CAUSE_ECALL_S
    j pass

.data
.balign 4096
page_a: .dword 0x1010101010101010
.balign 4096
page_b: .dword 0x2020202020202020
.balign 4096

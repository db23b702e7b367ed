# Material for emu's missing-fence detector (emu/tests/vm_check_tlb.rs): two stale TLB hits
# that cannot change the outcome of the access that makes them, which --check-tlb must
# count apart and not report.
#   - VA's leaf loses W without a fence, then a load reads through the old entry: a load
#     does not need W.
#   - The standard `csrw satp; sfence.vma`: the new table's identity leaf is not writable,
#     and the fetch of the sfence.vma itself goes through the old table's global entry.
#
# Checks:
#   1  first load: page_a      2  second load: page_a

.equ VA, 0x40000000

test_main:
    PT_LEAF 0, 2, RAM_BASE, PTE_RWX_AD | PTE_G
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF 8, 2, RAM_BASE, PTE_V | PTE_R | PTE_X | PTE_AD | PTE_G
    SATP_ROOT SATP_SV39, 0, 3
    SATP_VALUE s6, SATP_SV39, 8, 4
    ld s1, page_a
    PTE_ADDR s3, 4, 0
    ld s4, 0(s3)
    andi s4, s4, ~PTE_W             # the same page, read-only

    li gp, 1
    EXPECT_TRAP 2f
    li a1, VA
    ENTER_MODE 1, 1f
1:  ld a0, 0(a1)
    CHECK_REG 1, a0, s1
    sd s4, 0(s3)                    # no fence
    ld a0, 0(a1)                    # stale W, a load: equivalent
    CHECK_REG 2, a0, s1
    csrw satp, s6
    sfence.vma                      # fetched through the old global RWX entry
    ecall
2:  CHECK_CAUSE 3, CAUSE_ECALL_S
    j pass

.data
.balign 4096
page_a: .dword 0x1010101010101010
.balign 4096

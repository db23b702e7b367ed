# AMOs under Sv39 in S-mode: an AMO is one access that needs write permission, so a
# loop of AMOs among loads and stores on two pages gives the TLB model the same accesses
# whether the interpreter or compiled code runs it (tests/jit.rs compares the --stats
# counters of both on every program).
#
# Checks:
#   1  200 rounds of amoadd.d, amoswap.w, amoor.d and amominu.w on two pages, between
#      a load and a store, run without a trap
#   2  ... amoadd.d counted the rounds          3  ... the loads and stores summed them
#   4  ... amoswap.w left the last round's 1    5  ... amoor.d ORed the rounds (255)
#   6  ... amominu.w kept the least (1)
#   7  loads from a read-only page in a loop, then amoadd.d on it (its translation
#      held for loads by then): store page fault, tval = the address
#   8  ... and memory unchanged
# (A misaligned AMO is in qemu_divergent: QEMU 7.2 reports the wrong cause.)

.equ VA, 0x40000000
.equ ROUNDS, 200

test_main:
    MAP_IDENTITY 3
    PT_LINK 0, 1, 3
    PT_LINK 3, 0, 4
    PT_LEAF_SYM 4, 0, page_a, PTE_RW_AD
    PT_LEAF_SYM 4, 1, page_b, PTE_RW_AD
    PT_LEAF_SYM 4, 2, page_a, PTE_V | PTE_R | PTE_A
    SATP_ROOT SATP_SV39, 0

    li a1, VA
    li a3, VA + 0x1000
    MODE_OK 1, 1, call amo_rounds
    ld a0, page_a
    CHECK 2, a0, ROUNDS
    ld a0, page_b
    CHECK 3, a0, ROUNDS * (ROUNDS + 1) / 2
    lwu a0, page_b + 16
    CHECK 4, a0, 1
    ld a0, page_a + 8
    CHECK 5, a0, 255
    lwu a0, page_b + 24
    CHECK 6, a0, 1

    li a1, VA + 0x2000
    MODE_FAULT 7, 1, CAUSE_STORE_PAGE, a1, call loads_then_amo
    ld a0, page_a
    CHECK 8, a0, ROUNDS
    j pass

# S-mode, a1 = page_a's VA, a3 = page_b's.
amo_rounds:
    li t0, ROUNDS
    li t1, 1
    addi a2, a1, 8
    addi a4, a3, 16
    addi a5, a3, 24
1:  amoadd.d a0, t1, (a1)
    ld t2, 0(a3)
    add t2, t2, t0
    sd t2, 0(a3)
    amoswap.w a6, t0, (a4)
    amoor.d zero, t0, (a2)
    amominu.w a7, t0, (a5)
    addi t0, t0, -1
    bnez t0, 1b
    ret

# S-mode, a1 = a read-only page's VA. The loop's last round goes on to the AMO in the
# same block, so compiled code meets it with the page held for loads.
loads_then_amo:
    li t0, 4
1:  ld t2, 0(a1)
    addi t0, t0, -1
    bnez t0, 1b
    amoadd.d a0, t2, (a1)
    ret

.data
.balign 4096
page_a: .dword 0, 0
.balign 4096
page_b: .dword 0, 0, 0x5a5a5a5a00000000, 0x7fffffff
.balign 4096

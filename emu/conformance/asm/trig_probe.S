# Sdtrig discovery, as a debugger or test suite probes it (debug spec 1.0, "Enumeration"):
# the trigger CSRs exist in M-mode, tselect is WARL and selects the triggers that exist,
# tinfo (version 1) lists the types each supports, and a tdata1 write of an unsupported
# type leaves a type tinfo lists. Writing 0 to tdata1 leaves an existing, disabled
# trigger.
#
# Checks:
#   1      csrw tselect, x0 does not trap and tselect reads 0
#   2      tinfo of trigger 0: version 1
#   3      trigger 0 supports mcontrol6 (tinfo bit 6)
#   4      at least one trigger; enumeration stops (tselect does not take the index)
#   5      every trigger found has tinfo bit 6
#   6      tdata1 = 0 leaves a trigger that exists (type not 0)
#   7      tdata1 with type 5 (exception trigger, not offered): type reads back as one
#          tinfo lists
#   8      an mcontrol6 write reads back type 6 with m, execute and match = 0
#   9      tdata2 holds what was written
#   10     tdata3 reads without trapping
#   11     U-mode access to tselect is illegal (cause 2)

.equ CSR_TINFO, 0x7a4
.equ MCONTROL6, (6 << 60)
.equ MC6_M, 1 << 6
.equ MC6_EXECUTE, 1 << 2
.equ CAUSE_ILLEGAL, 2

test_main:
    li gp, 1
    csrw tselect, x0
    csrr a0, tselect
    CHECK 1, a0, 0
    csrr a0, CSR_TINFO
    srli a1, a0, 24
    andi a1, a1, 0xff
    CHECK 2, a1, 1
    srli a1, a0, 6
    andi a1, a1, 1
    CHECK 3, a1, 1

    # Enumerate: a2 = number of triggers.
    li a2, 0
1:  csrw tselect, a2
    csrr a0, tselect
    bne a0, a2, 2f
    csrr a0, CSR_TINFO
    li t0, 1
    beq a0, t0, 2f          # tinfo = 1: no trigger here
    srli a1, a0, 6
    andi a1, a1, 1
    CHECK 5, a1, 1
    addi a2, a2, 1
    li t0, 4096
    bltu a2, t0, 1b
2:  li gp, 4
    beqz a2, fail
    li t0, 4096
    beq a2, t0, fail

    csrw tselect, zero
    csrw tdata1, zero
    csrr a0, tdata1
    srli a0, a0, 60
    li gp, 6
    beqz a0, fail

    li t0, (5 << 60) | MC6_M
    csrw tdata1, t0
    csrr a0, tdata1
    srli a0, a0, 60
    csrr a1, CSR_TINFO
    srl a1, a1, a0
    andi a1, a1, 1
    li t0, 15
    beq a0, t0, 3f          # 15: disabled, also allowed
    CHECK 7, a1, 1
3:  csrw tdata1, zero

    li t0, -2
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_M | MC6_EXECUTE
    csrw tdata1, t0
    csrr a0, tdata1
    li t0, 0xf0000000000007fc   # type, match, m, uncertainen, s, u, execute
    and a0, a0, t0
    CHECK 8, a0, MCONTROL6 | MC6_M | MC6_EXECUTE
    csrr a0, tdata2
    CHECK 9, a0, -2
    csrw tdata1, zero
    li gp, 10
    csrr a0, tdata3

    li gp, 11
    EXPECT_TRAP 4f
    ENTER_MODE 0, 5f
5:  csrr a0, tselect
    j fail
4:  CHECK_CAUSE 11, CAUSE_ILLEGAL
    j pass

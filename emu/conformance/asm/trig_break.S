# Sdtrig mcontrol6 address triggers with action 0: breakpoint exceptions (cause 3) taken
# before the instruction, epc = the instruction, tval = the pc (execute) or the access's
# address (load, store). The M/S/U bits choose the privileges, load/store/execute the
# access types. In M-mode triggers fire only while mstatus.MIE = 1 (the spec's guard
# against re-entering a handler), so the M-mode checks set it (mie = 0: no interrupt can
# come).
#
# Checks:
#   1-2    execute trigger on a label: cause 3, tval = epc = the label
#   3-5    load trigger on a word: cause 3, tval = the address, the load did not write rd
#   6-8    store trigger: cause 3, tval, memory unchanged
#   9      the load trigger does not fire on a store to the same word
#   10     a trigger for U only does not fire in M-mode
#   11     with mstatus.MIE = 0, an M-mode trigger does not fire
#   12     hit0 (bit 22) is set in the trigger that fired
#   13-14  U-mode execute trigger: fires in U-mode (trap to M), epc = the label
#   15     NAPOT load trigger over 16 bytes fires on a byte inside
#   16     an AMO fires a store trigger
#   17     after tdata1 = 0 nothing fires

.equ MCONTROL6, (6 << 60)
.equ MC6_LOAD, 1 << 0
.equ MC6_STORE, 1 << 1
.equ MC6_EXECUTE, 1 << 2
.equ MC6_U, 1 << 3
.equ MC6_S, 1 << 4
.equ MC6_M, 1 << 6
.equ MC6_NAPOT, 1 << 7
.equ MC6_HIT0, 1 << 22
.equ CAUSE_BREAKPOINT, 3

.pushsection .data
.balign 16
trig_word: .dword 0x1122334455667788
trig_pad: .dword 0
.popsection

test_main:
    csrsi mstatus, MSTATUS_MIE
    csrw tselect, zero

    # Execute.
    csrw tdata1, zero
    la t0, exec_target
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_M | MC6_EXECUTE
    csrw tdata1, t0
    li gp, 1
    EXPECT_TRAP 1f
    j exec_target
exec_target:
    j fail
1:  CHECK_CAUSE 1, CAUSE_BREAKPOINT
    la t0, exec_target
    li gp, 2
    bne s10, t0, fail
    bne s11, t0, fail

    # Load.
    csrw tdata1, zero
    la t0, trig_word
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_M | MC6_LOAD
    csrw tdata1, t0
    la a1, trig_word
    li a0, 7
    li gp, 3
    EXPECT_TRAP 1f
load_insn:
    ld a0, 0(a1)
    j fail
1:  CHECK_CAUSE 3, CAUSE_BREAKPOINT
    li gp, 4
    bne s10, a1, fail
    la t0, load_insn
    bne s11, t0, fail
    CHECK 5, a0, 7

    # Checks 9 and 12 while the load trigger is armed.
    li gp, 9
    sd zero, 8(a1)
    sd a0, 0(a1)
    li t0, 0x1122334455667788
    sd t0, 0(a1)
    csrr a0, tdata1
    li t0, MC6_HIT0
    and a0, a0, t0
    CHECK 12, a0, MC6_HIT0

    # Store: covers bytes 4..7 of the word, the access bytes 0..7.
    csrw tdata1, zero
    la t0, trig_word + 4
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_M | MC6_STORE
    csrw tdata1, t0
    li a0, -1
    li gp, 6
    EXPECT_TRAP 1f
store_insn:
    sd a0, 0(a1)
    j fail
1:  CHECK_CAUSE 6, CAUSE_BREAKPOINT
    li gp, 7
    bne s10, a1, fail
    la t0, store_insn
    bne s11, t0, fail
    ld a0, 0(a1)
    CHECK 8, a0, 0x1122334455667788

    # AMO: a store trigger fires (checked before the load trigger, which is off).
    li gp, 16
    li a2, 1
    EXPECT_TRAP 1f
    amoadd.d a0, a2, (a1)
    j fail
1:  CHECK_CAUSE 16, CAUSE_BREAKPOINT

    # U only: nothing fires in M-mode.
    csrw tdata1, zero
    li t0, MCONTROL6 | MC6_U | MC6_STORE | MC6_LOAD
    csrw tdata1, t0
    li gp, 10
    ld a0, 0(a1)
    sd a0, 0(a1)

    # MIE = 0: nothing fires in M-mode.
    csrw tdata1, zero
    li t0, MCONTROL6 | MC6_M | MC6_LOAD
    csrw tdata1, t0
    csrci mstatus, MSTATUS_MIE
    li gp, 11
    ld a0, 0(a1)
    csrsi mstatus, MSTATUS_MIE

    # U-mode execute trigger.
    csrw tdata1, zero
    la t0, user_target
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_U | MC6_EXECUTE
    csrw tdata1, t0
    li gp, 13
    EXPECT_TRAP 1f
    ENTER_MODE 0, user_target
user_target:
    j fail
1:  CHECK_CAUSE 13, CAUSE_BREAKPOINT
    la t0, user_target
    li gp, 14
    bne s11, t0, fail
    bne s10, t0, fail

    # NAPOT over trig_word's 16 bytes (tdata2 = base | 7: the low 4 bits are ignored).
    csrw tdata1, zero
    la t0, trig_word + 7
    csrw tdata2, t0
    li t0, MCONTROL6 | MC6_M | MC6_LOAD | MC6_NAPOT
    csrw tdata1, t0
    li gp, 15
    EXPECT_TRAP 1f
    lbu a0, 13(a1)
    j fail
1:  CHECK_CAUSE 15, CAUSE_BREAKPOINT
    addi t0, a1, 13
    bne s10, t0, fail

    csrw tdata1, zero
    li gp, 17
    lbu a0, 13(a1)
    ld a0, 0(a1)
    j pass

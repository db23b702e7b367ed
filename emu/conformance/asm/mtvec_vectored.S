# Vectored trap vectors: with mtvec.MODE = 1, exceptions go to BASE and interrupt n to
# BASE + 4n (likewise stvec for traps delegated to S).
.equ MSIP_BIT, 0x8
.equ MTIP_BIT, 0x80

# Each slot's code records its number in s6, then joins the common recorder.
.macro SLOT n, recorder
    li s6, \n
    j \recorder
.endm

test_main:
    la t0, mvec
    ori t0, t0, 1
    csrw mtvec, t0
    la t0, svec
    ori t0, t0, 1
    csrw stvec, t0
    li s6, -1

    li gp, 1
    EXPECT_TRAP 2f
    ecall
2:  CHECK_CAUSE 1, 11
    CHECK 2, s6, 0                    # exceptions use the base

    li s6, -1
    li t0, MSIP_BIT
    csrw mie, t0
    li t1, CLINT_MSIP
    li t0, 1
    sw t0, 0(t1)
    li gp, 3
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
    j fail
2:  CHECK_CAUSE 3, 0x8000000000000003
    CHECK 4, s6, 3
    li t1, CLINT_MSIP
    sw zero, 0(t1)

    li s6, -1
    li t0, MTIP_BIT
    csrw mie, t0
    li t1, CLINT_MTIMECMP
    sd zero, 0(t1)
    li gp, 5
    EXPECT_TRAP 2f
    csrsi mstatus, MSTATUS_MIE
    j fail
2:  CHECK_CAUSE 5, 0x8000000000000007
    CHECK 6, s6, 7
    li t0, -1
    li t1, CLINT_MTIMECMP
    sd t0, 0(t1)
    csrw mie, zero

    # S-mode vectored: delegated supervisor software interrupt lands in slot 1.
    li s6, -1
    li t0, 2
    csrw mideleg, t0
    csrw mie, t0
    csrs mip, t0
    li gp, 7
    EXPECT_TRAP 2f
    ENTER_MODE 0, 3f
3:  j fail
2:  CHECK_CAUSE 7, 0x8000000000000001
    CHECK 8, s6, 1
    csrci sip, 2
    # From S, an exception that is not delegated goes to M's base entry.
    li s6, -1
    li gp, 9
    EXPECT_TRAP 2f
    ebreak                            # not delegated: M slot 0
2:  CHECK_CAUSE 9, 3
    CHECK 10, s6, 0
    j pass

.balign 256
# One 4-byte jump per vector entry.
mvec:
    j mslot0
    j mslot1
    j mslot2
    j mslot3
    j mslot4
    j mslot5
    j mslot6
    j mslot7
    j mslot8
    j mslot9
    j mslot10
    j mslot11
.balign 256
svec:
    j sslot0
    j sslot1
    j sslot2
    j sslot3
    j sslot4
    j sslot5
    j sslot6
    j sslot7
    j sslot8
    j sslot9
mslot0: SLOT 0, trap_record
mslot1: SLOT 1, trap_record
mslot2: SLOT 2, trap_record
mslot3: SLOT 3, trap_record
mslot4: SLOT 4, trap_record
mslot5: SLOT 5, trap_record
mslot6: SLOT 6, trap_record
mslot7: SLOT 7, trap_record
mslot8: SLOT 8, trap_record
mslot9: SLOT 9, trap_record
mslot10: SLOT 10, trap_record
mslot11: SLOT 11, trap_record
sslot0: SLOT 0, strap_record
sslot1: SLOT 1, strap_record
sslot2: SLOT 2, strap_record
sslot3: SLOT 3, strap_record
sslot4: SLOT 4, strap_record
sslot5: SLOT 5, strap_record
sslot6: SLOT 6, strap_record
sslot7: SLOT 7, strap_record
sslot8: SLOT 8, strap_record
sslot9: SLOT 9, strap_record

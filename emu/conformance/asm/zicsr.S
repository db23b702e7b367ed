# Zicsr: the six CSR instructions (old value returned, set/clear/write semantics, the
# x0 / uimm=0 forms that do not write), read-only CSRs, unknown CSRs, and the fixed
# fields of misa, mstatus (UXL = SXL = 64-bit) and mhartid.
test_main:
    li a1, 0x00ff00ff00ff00ff
    csrw mscratch, a1
    li a2, 0x123456789abcdef0
    csrrw a0, mscratch, a2
    CHECK 1, a0, 0x00ff00ff00ff00ff
    csrr a0, mscratch
    CHECK 2, a0, 0x123456789abcdef0
    li a2, 0x0f
    csrrs a0, mscratch, a2
    CHECK 3, a0, 0x123456789abcdef0
    csrr a0, mscratch
    CHECK 4, a0, 0x123456789abcdeff
    li a2, 0xf0000000000000f0
    csrrc a0, mscratch, a2
    CHECK 5, a0, 0x123456789abcdeff
    csrr a0, mscratch
    CHECK 6, a0, 0x023456789abcde0f
    csrrwi a0, mscratch, 0x1f
    CHECK 7, a0, 0x023456789abcde0f
    csrr a0, mscratch
    CHECK 8, a0, 0x1f
    csrrci a0, mscratch, 0x5
    CHECK 9, a0, 0x1f
    csrrsi a0, mscratch, 0x20 - 0x10
    CHECK 10, a0, 0x1a
    csrr a0, mscratch
    CHECK 11, a0, 0x1a
    # rd = rs1 for csrrw: the old value lands in rd, the new value came from rs1.
    li a3, 77
    csrrw a3, mscratch, a3
    CHECK 12, a3, 0x1a
    csrr a0, mscratch
    CHECK 13, a0, 77
    # Zero uimm / x0 source: read without writing, hence allowed on read-only CSRs.
    csrrs a0, mhartid, zero
    CHECK 14, a0, 0
    csrrc a0, mvendorid, zero
    csrrsi a0, marchid, 0
    csrrci a0, mimpid, 0
    csrr a0, mhartid
    CHECK 15, a0, 0

    # Writes to read-only CSRs are illegal; the trap value is the instruction.
    li gp, 20
    EXPECT_TRAP 1f
2:  csrw mhartid, a0
    j fail
1:  CHECK_CAUSE 20, 2
    la t0, 2b
    li gp, 21
    bne s11, t0, fail
    lwu t1, 0(t0)
    bne s10, t1, fail
    li gp, 22
    EXPECT_TRAP 1f
    csrrwi zero, mvendorid, 0         # csrrw always writes, even with rd = x0
    j fail
1:  CHECK_CAUSE 22, 2
    li gp, 23
    EXPECT_TRAP 1f
    csrrsi a0, mimpid, 1
    j fail
1:  CHECK_CAUSE 23, 2
    li gp, 24
    EXPECT_TRAP 1f
    li a1, 1
    csrrc a0, cycle, a1               # user counters are read-only
    j fail
1:  CHECK_CAUSE 24, 2
    # An unallocated CSR number is illegal for reads too.
    li gp, 25
    EXPECT_TRAP 1f
    csrr a0, 0x0ff
    j fail
1:  CHECK_CAUSE 25, 2
    li gp, 26
    EXPECT_TRAP 1f
    csrr a0, 0x7ff
    j fail
1:  CHECK_CAUSE 26, 2

    # misa: MXL = 64-bit and at least I, M, A, F, D, C, S, U.
    csrr a0, misa
    srli a1, a0, 62
    CHECK 30, a1, 2
    li t0, 0x14112d
    and a1, a0, t0
    CHECK 31, a1, 0x14112d
    # mstatus.UXL and SXL are read-only 2 (64-bit), even after a write of zero.
    li t0, 0xf00000000
    csrc mstatus, t0
    csrr a0, mstatus
    srli a1, a0, 32
    andi a1, a1, 0xf
    CHECK 32, a1, 0xa
    # sstatus is a view of mstatus: SIE written through sstatus shows in mstatus.
    csrsi sstatus, MSTATUS_SIE
    csrr a0, mstatus
    andi a1, a0, MSTATUS_SIE
    CHECK 33, a1, MSTATUS_SIE
    csrci mstatus, MSTATUS_SIE
    csrr a0, sstatus
    andi a1, a0, MSTATUS_SIE
    CHECK 34, a1, 0
    # ... and does not show M-only fields (MPP).
    li t0, MSTATUS_MPP
    csrs mstatus, t0
    csrr a0, sstatus
    and a1, a0, t0
    CHECK 35, a1, 0
    # mtvec with mode 1 (vectored) reads back; mode >= 2 is reserved (WARL).
    la t0, trap_record
    ori t1, t0, 1
    csrw mtvec, t1
    csrr a0, mtvec
    li gp, 37
    bne a0, t1, fail
    csrw mtvec, t0
    # fcsr views: fflags and frm are fields of fcsr.
    csrwi fcsr, 0
    csrwi fflags, 0x3
    csrwi frm, 0x4
    csrr a0, fcsr
    CHECK 38, a0, 0x83
    csrw fcsr, zero
    # sscratch, mscratch are independent full-width registers.
    li a1, -1
    csrw sscratch, a1
    csrw mscratch, zero
    csrr a0, sscratch
    CHECK 39, a0, -1
    j pass

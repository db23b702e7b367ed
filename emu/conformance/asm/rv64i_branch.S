# RV64I control transfer: the six conditional branches (taken and not taken, forwards
# and backwards, signed vs unsigned), jal and jalr (link value, target with bit 0 cleared).

# Branch \op on (\x, \y) must be taken (\taken = 1) or not (\taken = 0).
.macro TEST_BR num, op, taken, x, y
    li gp, \num
    li a1, \x
    li a2, \y
    li a0, 0
    \op a1, a2, 1f
    li a0, 1            # not-taken path
    j 2f
1:  li a0, 2            # taken path
2:  li t6, 1 + \taken
    bne a0, t6, fail
.endm

test_main:
    TEST_BR 1, beq, 1, 7, 7
    TEST_BR 2, beq, 0, 7, 8
    TEST_BR 3, beq, 0, 0x100000000, 0
    TEST_BR 4, bne, 1, 0x100000000, 0
    TEST_BR 5, bne, 0, -1, -1
    TEST_BR 6, blt, 1, -1, 0
    TEST_BR 7, blt, 0, 0, -1
    TEST_BR 8, blt, 0, 3, 3
    TEST_BR 9, blt, 1, 0x8000000000000000, 0x7fffffffffffffff
    TEST_BR 10, bge, 1, 3, 3
    TEST_BR 11, bge, 1, 0, -1
    TEST_BR 12, bge, 0, -1, 0
    TEST_BR 13, bltu, 0, -1, 0
    TEST_BR 14, bltu, 1, 0, -1
    TEST_BR 15, bltu, 1, 0x7fffffffffffffff, 0x8000000000000000
    TEST_BR 16, bgeu, 1, -1, 0
    TEST_BR 17, bgeu, 0, 0, -1
    TEST_BR 18, bgeu, 1, 9, 9

    # A backward branch loop runs exactly 10 times.
    li gp, 20
    li a0, 0
    li a1, 10
3:  addi a0, a0, 1
    blt a0, a1, 3b
    li t6, 10
    bne a0, t6, fail

    # jal: rd = pc + 4, jumps to the target.
    li gp, 21
    li a0, 0
4:  jal ra, 5f
    li a0, 1            # must be skipped
5:  bnez a0, fail
    la t0, 4b
    addi t0, t0, 4
    bne ra, t0, fail
    # jal with rd = x0 (j) leaves x0 zero.
    li gp, 22
    j 6f
    j fail
6:  bnez x0, fail

    # jalr: target = (rs1 + imm) & ~1, rd = pc + 4; rd == rs1 reads rs1 first.
    li gp, 23
    la a1, 7f
    addi a1, a1, -2
8:  jalr a0, 3(a1)      # (7f - 2 + 3) & ~1 = 7f
    j fail
7:  la t0, 8b
    addi t0, t0, 4
    bne a0, t0, fail
    li gp, 24
    la a1, 9f
    addi a1, a1, 1      # bit 0 set: must be ignored
    jalr a1, 0(a1)
    j fail
9:  la t0, 9b
    addi t0, t0, -4
    bne a1, t0, fail    # link = address of the jalr + 4 = 9b - 4
    j pass

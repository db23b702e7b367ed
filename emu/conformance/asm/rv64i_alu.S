# RV64I register-register and register-immediate arithmetic, logic, shifts, lui/auipc,
# and the W forms (32-bit result sign-extended to 64).
test_main:
    TEST_RR 1, add, 0x0000000000000000, 0, 0
    TEST_RR 2, add, 0x0000000100000000, 0xffffffff, 1
    TEST_RR 3, add, 0x8000000000000000, 0x7fffffffffffffff, 1
    TEST_RR 4, add, 0xfffffffffffffffe, -1, -1
    TEST_RR_SAME 5, add, 24, 11, 13
    TEST_RR 6, sub, 0xffffffffffffffff, 0, 1
    TEST_RR 7, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
    TEST_RR 8, sub, 0, 0x123456789, 0x123456789
    TEST_RR 9, sll, 0x8000000000000000, 1, 63
    TEST_RR 10, sll, 0x0000000000000002, 1, 65          # only rs2[5:0] counts
    TEST_RR 11, sll, 0xffffffff00000000, 0xffffffff, 32
    TEST_RR 12, slt, 1, -1, 0
    TEST_RR 13, slt, 0, 0, -1
    TEST_RR 14, slt, 0, 5, 5
    TEST_RR 15, sltu, 0, -1, 0
    TEST_RR 16, sltu, 1, 0, -1
    TEST_RR 17, xor, 0xf0f0f0f00f0f0f0f, 0xff00ff0000ff00ff, 0x0ff00ff00ff00ff0
    TEST_RR 18, srl, 0x0000000000000001, 0x8000000000000000, 63
    TEST_RR 19, srl, 0x7fffffffffffffff, -1, 1
    TEST_RR 20, srl, 0x0000000080000000, 0x8000000000000000, 0x60 # rs2[5:0] = 32
    TEST_RR 21, sra, 0xffffffffffffffff, 0x8000000000000000, 63
    TEST_RR 22, sra, 0xc000000000000000, 0x8000000000000000, 1
    TEST_RR 23, sra, 0x0000000000000001, 0x4000000000000000, 62
    TEST_RR 24, or, 0xff0fff0fff0fff0f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f
    TEST_RR 25, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f

    TEST_RI 30, addi, 0x0000000000000800, 0x1000, -0x800
    TEST_RI 31, addi, 0x00000000000007ff, 0, 0x7ff
    TEST_RI 32, addi, 0xffffffffffffffff, 0, -1
    TEST_RI 33, addi, 0x8000000000000000, 0x7fffffffffffffff, 1
    TEST_RI 34, slti, 1, -2, -1
    TEST_RI 35, slti, 0, 0, -2048
    TEST_RI 36, sltiu, 1, 5, -1                         # imm sign-extends, then unsigned
    TEST_RI 37, sltiu, 0, -1, 5
    TEST_RI 38, sltiu, 1, 0, 1                          # seqz
    TEST_RI 39, xori, 0xfffffffffffff0f0, 0xf0f, -1     # not
    TEST_RI 40, ori, 0xfffffffffffff80f, 0xf, -2048
    TEST_RI 41, andi, 0x0000000000000700, 0xff00, 0x7ff
    TEST_RI 42, andi, 0x123456789abcd800, 0x123456789abcdeff, -0x800
    TEST_RI 43, slli, 0x8000000000000000, 1, 63
    TEST_RI 44, slli, 0x0000000100000000, 1, 32
    TEST_RI 45, srli, 0x0000000000000001, 0x8000000000000000, 63
    TEST_RI 46, srli, 0x00000000ffffffff, -1, 32
    TEST_RI 47, srai, 0xffffffffffffffff, 0x8000000000000000, 63
    TEST_RI 48, srai, 0xffffffff80000000, 0x8000000000000000, 32
    TEST_RI 49, srai, 0x0000000000000000, 0x7fffffffffffffff, 63

    # lui: 20-bit immediate into bits 31:12, sign-extended from bit 31.
    li gp, 50
    lui a0, 0x80000
    li t6, 0xffffffff80000000
    bne a0, t6, fail
    li gp, 51
    lui a0, 0x7ffff
    li t6, 0x7ffff000
    bne a0, t6, fail
    # auipc: pc-relative; two auipc 8 bytes apart differ by 8, and match the label.
    li gp, 52
1:  auipc a0, 0
    la a1, 1b
    bne a0, a1, fail
    li gp, 53
2:  auipc a0, 0x1
    la a1, 2b
    sub a0, a0, a1
    li t6, 0x1000
    bne a0, t6, fail
    li gp, 54
3:  auipc a0, 0x80000                                   # -2 GiB: sign-extended offset
    la a1, 3b
    sub a0, a0, a1
    li t6, 0xffffffff80000000
    bne a0, t6, fail

    # W forms: operate on the low 32 bits, sign-extend the 32-bit result.
    TEST_RR 60, addw, 0xffffffff80000000, 0x7fffffff, 1
    TEST_RR 61, addw, 0x0000000000000000, 0x00000001ffffffff, 1
    TEST_RR 62, addw, 0x0000000000000002, 0xffffffff00000001, 0x0000000100000001
    TEST_RR 63, subw, 0x000000007fffffff, 0xffffffff80000000, 1
    TEST_RR 64, subw, 0xffffffffffffffff, 0, 1
    TEST_RR 65, sllw, 0xffffffff80000000, 1, 31
    TEST_RR 66, sllw, 0x0000000000000002, 1, 33          # only rs2[4:0] counts
    TEST_RR 67, sllw, 0x0000000000000000, 0xffffffff00000000, 4
    TEST_RR 68, srlw, 0x0000000000000001, 0x0000000080000000, 31
    TEST_RR 69, srlw, 0x000000007fffffff, 0xffffffffffffffff, 1
    TEST_RR 70, srlw, 0xffffffff80000000, 0x1234567880000000, 0  # sign-extends bit 31
    TEST_RR 71, sraw, 0xffffffffffffffff, 0x0000000080000000, 31
    TEST_RR 72, sraw, 0xffffffffc0000000, 0x0000000080000000, 1
    TEST_RR 73, sraw, 0x0000000000000001, 0xffffffff40000000, 62 # shamt 30
    TEST_RI 74, addiw, 0xffffffff80000000, 0x7fffffff, 1
    TEST_RI 75, addiw, 0x0000000000000000, 0x1ffffffff, 1
    TEST_RI 76, addiw, 0xffffffffffffffff, 0x123456700000000, -1
    TEST_RI 77, addiw, 0x0000000012345678, 0xabcdef0012345678, 0   # sext.w
    TEST_RI 78, slliw, 0xffffffff80000000, 1, 31
    TEST_RI 79, slliw, 0x0000000000000000, 0x100000000, 0
    TEST_RI 80, srliw, 0x0000000000000001, 0x80000000, 31
    TEST_RI 81, srliw, 0xffffffff80000000, 0xffffffff80000000, 0
    TEST_RI 82, srliw, 0x0000000000ffffff, 0xffffffffffffffff, 8
    TEST_RI 83, sraiw, 0xffffffffffffffff, 0x80000000, 31
    TEST_RI 84, sraiw, 0xffffffffff800000, 0x0000000080000000, 8
    TEST_RI 85, sraiw, 0x0000000000000000, 0xffffffff00000000, 4

    # x0 is hard-wired to zero and writes to it are discarded.
    li gp, 90
    li a1, 5
    add zero, a1, a1
    bnez zero, fail
    addi x0, x0, 1
    bnez x0, fail

    # x0 as a source: the identity operand of add, or, xor and sub (`mv` is add rd, x0, rs).
    li a1, 0x123456789abcdef0
    li gp, 91
    add a0, zero, a1
    bne a0, a1, fail
    li gp, 92
    add a0, a1, zero
    bne a0, a1, fail
    li gp, 93
    or a0, zero, a1
    bne a0, a1, fail
    li gp, 94
    xor a0, a1, zero
    bne a0, a1, fail
    li gp, 95
    sub a0, a1, zero
    bne a0, a1, fail
    li gp, 96
    sub a0, zero, a1
    li t6, 0xedcba98765432110
    bne a0, t6, fail
    li gp, 97
    and a0, a1, zero
    bnez a0, fail
    j pass

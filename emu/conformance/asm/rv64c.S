# RV64C: every compressed instruction, executed and checked (written with explicit c.
# mnemonics so the assembler cannot pick the 32-bit form), 32-bit instructions at
# 2-byte-aligned addresses and across a page boundary, and the reserved encodings,
# which must raise illegal instruction with mtval = the 16 instruction bits.
.option rvc

test_main:
    la s0, cbuf
    # -- quadrant 1: immediates and register-register ops --
    li a0, 10
    c.addi a0, -11
    CHECK 1, a0, -1
    c.addi a0, 31
    CHECK 2, a0, 30
    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK 3, a0, 0xffffffff80000000
    li a0, 0x100000005
    c.addiw a0, 0                     # sext.w
    CHECK 4, a0, 5
    c.li a1, -32
    CHECK 5, a1, -32
    c.li a1, 31
    CHECK 6, a1, 31
    c.lui a2, 0x1f
    CHECK 7, a2, 0x1f000
    c.lui a2, 0xfffe0                 # nzimm = -32: sign-extended
    CHECK 8, a2, 0xfffffffffffe0000
    li a3, -16
    c.srli a3, 60
    CHECK 9, a3, 0xf
    li a3, 0x8000000000000000
    c.srai a3, 63
    CHECK 10, a3, -1
    li a3, 0x80000000
    c.srai a3, 4
    CHECK 11, a3, 0x8000000
    li a4, 0xff
    c.andi a4, -16
    CHECK 12, a4, 0xf0
    li a4, 0xff
    c.andi a4, 0x11
    CHECK 13, a4, 0x11
    li a4, 5
    li a5, 7
    c.sub a4, a5
    CHECK 14, a4, -2
    li a4, 0xff00
    li a5, 0x0ff0
    c.xor a4, a5
    CHECK 15, a4, 0xf0f0
    li a4, 0xff00
    c.or a4, a5
    CHECK 16, a4, 0xfff0
    li a4, 0xff00
    c.and a4, a5
    CHECK 17, a4, 0x0f00
    li a4, 0x80000000
    li a5, 1
    c.subw a4, a5
    CHECK 18, a4, 0x7fffffff
    li a4, 0x7fffffff
    c.addw a4, a5
    CHECK 19, a4, 0xffffffff80000000
    li s1, 0x100000000
    c.subw s1, a5
    CHECK 20, s1, -1
    c.nop
    # -- quadrant 2: full-register forms --
    li t0, 1
    c.slli t0, 63
    CHECK 21, t0, 0x8000000000000000
    li t1, 3
    c.slli t1, 1
    CHECK 22, t1, 6
    li t2, 12345
    c.mv s2, t2
    CHECK 23, s2, 12345
    li s3, 100
    li s4, -1
    c.add s3, s4
    CHECK 24, s3, 99
    # -- quadrant 0 / 2: stack-pointer forms --
    mv s5, sp
    c.addi16sp sp, -64
    sub t0, s5, sp
    CHECK 25, t0, 64
    c.addi16sp sp, 496
    sub t0, sp, s5
    CHECK 26, t0, 432
    mv sp, s5
    c.addi4spn a0, sp, 1020
    sub t0, a0, sp
    CHECK 27, t0, 1020
    c.addi4spn a1, sp, 4
    sub t0, a1, sp
    CHECK 28, t0, 4
    la sp, cbuf
    li t0, 0x1122334455667788
    c.sdsp t0, 8(sp)
    ld t1, 8(s0)
    CHECK 29, t1, 0x1122334455667788
    c.ldsp t2, 8(sp)
    CHECK 30, t2, 0x1122334455667788
    li t0, 0x80000001
    c.swsp t0, 16(sp)
    lwu t1, 16(s0)
    CHECK 31, t1, 0x80000001
    c.lwsp t2, 16(sp)
    CHECK 32, t2, 0xffffffff80000001
    li t0, 0x400921fb54442d18
    fmv.d.x ft0, t0
    c.fsdsp ft0, 24(sp)
    ld t1, 24(s0)
    CHECK 33, t1, 0x400921fb54442d18
    c.fldsp ft1, 24(sp)
    fmv.x.d t2, ft1
    CHECK 34, t2, 0x400921fb54442d18
    c.ldsp t2, 504(sp)                # largest offset
    CHECK 35, t2, 0xabcdef0123456789
    c.lwsp t2, 252(sp)
    CHECK 36, t2, 0x2468ace0
    mv sp, s5
    # -- quadrant 0: register-based loads/stores (x8..x15 only) --
    li a0, 0x0102030405060708
    c.sd a0, 32(s0)
    ld a1, 32(s0)
    CHECK 40, a1, 0x0102030405060708
    c.ld a2, 32(s0)
    CHECK 41, a2, 0x0102030405060708
    li a0, 0xfedcba98
    c.sw a0, 40(s0)
    c.lw a3, 40(s0)
    CHECK 42, a3, 0xfffffffffedcba98
    fmv.d.x fa4, a0
    c.fsd fa4, 48(s0)
    c.fld fa5, 48(s0)
    fmv.x.d a4, fa5
    CHECK 43, a4, 0xfedcba98
    c.ld a5, 248(s0)                  # largest offsets
    CHECK 44, a5, 0x2468ace013579bdf
    c.lw a5, 124(s0)
    CHECK 45, a5, 0xffffffff8badf00d
    # -- control transfer --
    li gp, 50
    c.j 1f
    j fail
1:  li a0, 0
    c.beqz a0, 2f
    j fail
2:  li a0, 1
    c.beqz a0, fail
    c.bnez a0, 3f
    j fail
3:  li a0, 0
    c.bnez a0, fail
    li gp, 51
    la t0, 4f
    c.jr t0
    j fail
4:  la t0, 5f
    c.jalr t0                         # ra = address after the 2-byte c.jalr
6:  j fail
5:  la t1, 6b
    bne ra, t1, fail
    # A backward c.bnez loop.
    li a0, 5
    li a1, 0
7:  addi a1, a1, 1
    c.addi a0, -1
    c.bnez a0, 7b
    CHECK 52, a1, 5
    # c.ebreak: breakpoint, mepc = its address, instruction length 2.
    li gp, 53
    EXPECT_TRAP 8f
9:  c.ebreak
    j fail
8:  CHECK_CAUSE 53, 3
    la t0, 9b
    li gp, 54
    bne s11, t0, fail

    # 32-bit instructions at 2-byte-aligned addresses, and one straddling a page.
    li gp, 60
    c.nop
    li a0, 0x1234
    addi a0, a0, 1
    CHECK 60, a0, 0x1235
    li gp, 61
    jal ra, straddle
    CHECK 61, a0, 0x7ff

    # Reserved and illegal compressed encodings.
    .macro ILLEGAL16 num, bits
    li gp, \num
    EXPECT_TRAP 1f
    .hword \bits
    j fail
1:  CHECK_CAUSE \num, 2
    li gp, \num
    li t6, \bits
    bne s10, t6, fail
    .endm
    ILLEGAL16 70, 0x0000              # all zeros: defined illegal
    ILLEGAL16 71, 0x0004              # c.addi4spn with nzuimm = 0
    ILLEGAL16 72, 0x6101              # c.addi16sp with nzimm = 0
    ILLEGAL16 73, 0x6081              # c.lui ra, 0
    ILLEGAL16 74, 0x8002              # c.jr x0
    ILLEGAL16 75, 0x4002              # c.lwsp x0
    ILLEGAL16 76, 0x6002              # c.ldsp x0
    ILLEGAL16 77, 0x2001              # c.addiw x0
    ILLEGAL16 78, 0x9c41              # reserved quadrant-1 ALU encoding (funct 100111, 10)
    j pass

# A 32-bit instruction at page offset 0xffe: its two halves are on different pages.
.section .text.straddle, "ax", @progbits
.balign 4096
    .skip 0xffc, 0
straddle:
    c.nop
    addi a0, zero, 0x7ff
    ret

.section .data
.balign 8
cbuf:
    .space 124
    .word 0x8badf00d
    .space 248 - 128
    .dword 0x2468ace013579bdf
    .space 504 - 256
    .dword 0xabcdef0123456789

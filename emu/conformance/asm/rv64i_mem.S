# RV64I loads and stores of every width, sign/zero extension, offsets, and misaligned
# plain accesses (which our platform performs rather than trapping: Zicclsm-style).
test_main:
    la s0, buf
    li a0, 0x8877665544332211
    sd a0, 0(s0)
    li a0, 0xfffefdfcfbfaf9f8
    sd a0, 8(s0)

    li gp, 1
    ld a1, 0(s0)
    CHECK 1, a1, 0x8877665544332211
    lb a1, 7(s0)
    CHECK 2, a1, 0xffffffffffffff88
    lbu a1, 7(s0)
    CHECK 3, a1, 0x88
    lb a1, 0(s0)
    CHECK 4, a1, 0x11
    lh a1, 6(s0)
    CHECK 5, a1, 0xffffffffffff8877
    lhu a1, 6(s0)
    CHECK 6, a1, 0x8877
    lw a1, 4(s0)
    CHECK 7, a1, 0xffffffff88776655
    lwu a1, 4(s0)
    CHECK 8, a1, 0x88776655
    lw a1, 0(s0)
    CHECK 9, a1, 0x44332211
    ld a1, 8(s0)
    CHECK 10, a1, 0xfffefdfcfbfaf9f8
    addi s1, s0, 16
    lbu a1, -1(s1)                  # negative offset
    CHECK 11, a1, 0xff
    lwu a1, -8(s1)
    CHECK 12, a1, 0xfbfaf9f8

    # Stores write exactly their width.
    sd zero, 16(s0)
    li a0, 0x1122334455667788
    sb a0, 16(s0)
    ld a1, 16(s0)
    CHECK 20, a1, 0x88
    sh a0, 18(s0)
    ld a1, 16(s0)
    CHECK 21, a1, 0x0000000077880088
    sw a0, 20(s0)
    ld a1, 16(s0)
    CHECK 22, a1, 0x5566778877880088
    sd a0, 16(s0)
    ld a1, 16(s0)
    CHECK 23, a1, 0x1122334455667788
    sb a0, -1(s1)                   # store with a negative offset
    lbu a1, 15(s0)
    CHECK 24, a1, 0x88

    # Loads into x0 are performed but the value is discarded.
    ld zero, 0(s0)
    CHECK 25, zero, 0

    # Misaligned plain loads and stores succeed and are little-endian byte-exact.
    ld a1, 1(s0)
    CHECK 30, a1, 0xf888776655443322
    lw a1, 3(s0)
    CHECK 31, a1, 0x77665544
    lh a1, 7(s0)
    CHECK 32, a1, 0xfffffffffffff888
    lhu a1, 7(s0)
    CHECK 33, a1, 0xf888
    lwu a1, 5(s0)
    CHECK 34, a1, 0xf8887766
    li a0, 0xa1a2a3a4a5a6a7a8
    sd a0, 3(s0)
    ld a1, 0(s0)
    CHECK 35, a1, 0xa4a5a6a7a8332211
    ld a1, 8(s0)
    CHECK 36, a1, 0x88fefdfcfba1a2a3
    sw a0, 13(s0)
    ld a1, 8(s0)
    CHECK 37, a1, 0xa6a7a8fcfba1a2a3
    sh a0, 23(s0)                   # crosses into the next doubleword
    ld a1, 16(s0)
    CHECK 38, a1, 0xa8223344556677a5
    ld a1, 24(s0)
    CHECK 39, a1, 0xa7
    j pass

.section .data
.balign 8
buf: .space 64

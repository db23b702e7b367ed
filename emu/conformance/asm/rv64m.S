# RV64M: multiply (low and the three high forms), division and remainder with the
# spec's special cases (divide by zero, signed overflow), and the W forms.
test_main:
    TEST_RR 1, mul, 0x0000000000000000, 0, 12345
    TEST_RR 2, mul, 0x0000000000000015, 3, 7
    TEST_RR 3, mul, 0xfffffffffffffff9, -1, 7
    TEST_RR 4, mul, 0x0000000000000001, -1, -1
    TEST_RR 5, mul, 0x0000000000000000, 0x8000000000000000, 2
    TEST_RR 6, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321
    TEST_RR 10, mulh, 0x0000000000000000, 3, 7
    TEST_RR 11, mulh, 0xffffffffffffffff, -1, 7
    TEST_RR 12, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
    TEST_RR 13, mulh, 0xc000000000000000, 0x8000000000000000, 0x7fffffffffffffff
    TEST_RR 14, mulh, 0x0000000000000000, -1, -1
    TEST_RR 20, mulhu, 0xfffffffffffffffe, -1, -1
    TEST_RR 21, mulhu, 0x0000000000000000, 3, 7
    TEST_RR 22, mulhu, 0x0000000000000006, -1, 7
    TEST_RR 23, mulhu, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
    TEST_RR 30, mulhsu, 0xffffffffffffffff, -1, 7
    TEST_RR 31, mulhsu, 0xffffffffffffffff, -1, -1
    TEST_RR 32, mulhsu, 0x0000000000000006, 7, -1
    TEST_RR 33, mulhsu, 0xc000000000000000, 0x8000000000000000, 0x8000000000000000
    TEST_RR 40, div, 0x0000000000000003, 20, 6
    TEST_RR 41, div, 0xfffffffffffffffd, -20, 6          # rounds toward zero
    TEST_RR 42, div, 0xfffffffffffffffd, 20, -6
    TEST_RR 43, div, 0x0000000000000003, -20, -6
    TEST_RR 44, div, 0xffffffffffffffff, 20, 0           # x / 0 = -1
    TEST_RR 45, div, 0x8000000000000000, 0x8000000000000000, -1  # overflow
    TEST_RR 50, divu, 0x0000000000000003, 20, 6
    TEST_RR 51, divu, 0x2aaaaaaaaaaaaaa7, -20, 6
    TEST_RR 52, divu, 0xffffffffffffffff, 20, 0
    TEST_RR 53, divu, 0x0000000000000000, 20, -6
    TEST_RR 60, rem, 0x0000000000000002, 20, 6
    TEST_RR 61, rem, 0xfffffffffffffffe, -20, 6          # sign of the dividend
    TEST_RR 62, rem, 0x0000000000000002, 20, -6
    TEST_RR 63, rem, 0xfffffffffffffffe, -20, -6
    TEST_RR 64, rem, 0x0000000000000014, 20, 0           # x % 0 = x
    TEST_RR 65, rem, 0x0000000000000000, 0x8000000000000000, -1  # overflow: 0
    TEST_RR 70, remu, 0x0000000000000002, 20, 6
    TEST_RR 71, remu, 0x0000000000000002, -20, 6
    TEST_RR 72, remu, 0xffffffffffffffec, -20, 0
    TEST_RR 73, remu, 0x0000000000000014, 20, -6
    TEST_RR_SAME 74, divu, 5, 35, 7

    TEST_RR 80, mulw, 0xffffffff80000000, 0x40000000, 2
    TEST_RR 81, mulw, 0x0000000000000015, 0xffffffff00000003, 0x1234567800000007
    TEST_RR 82, mulw, 0xfffffffffffffff9, 0xffffffff, 7
    TEST_RR 83, divw, 0xfffffffffffffffd, 0xffffffffffffffec, 6
    TEST_RR 84, divw, 0xffffffffffffffff, 20, 0x100000000   # divisor's low word is 0
    TEST_RR 85, divw, 0xffffffff80000000, 0x80000000, -1     # 32-bit overflow
    TEST_RR 86, divw, 0x0000000000000003, 0x5555555500000014, 6
    TEST_RR 87, divuw, 0x000000002aaaaaa7, 0xffffffec, 6
    TEST_RR 88, divuw, 0xffffffffffffffff, 20, 0
    TEST_RR 89, divuw, 0xffffffff80000000, 0xffffffff80000000, 1
    TEST_RR 90, remw, 0xfffffffffffffffe, 0xffffffec, 6
    TEST_RR 91, remw, 0x0000000000000000, 0x80000000, -1
    TEST_RR 92, remw, 0xffffffff80000000, 0x80000000, 0      # x % 0 = sext(x[31:0])
    TEST_RR 93, remuw, 0x0000000000000002, 0xffffffec, 6
    TEST_RR 94, remuw, 0xffffffffffffffec, 0x12345678ffffffec, 0
    TEST_RR 95, remuw, 0x0000000000000003, 0x0000000100000003, 0x0000000100000005
    j pass

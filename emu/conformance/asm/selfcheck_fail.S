# Proof that the harness can fail: check 7 fails on purpose, so the exit status is 7.
test_main:
    CHECK 1, zero, 0
    li a0, 1
    CHECK 7, a0, 2
    j pass

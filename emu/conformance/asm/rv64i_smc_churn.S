# Code that keeps changing: one instruction of a routine is rewritten, fence.i'd and run
# 100,000 times, alternating between two values, so every call must run the instruction
# just written. Valid anywhere; for --jit it is the case that must stay cheap (every
# rewrite invalidates the page's compiled code; emu/tests/jit.rs checks that the JIT
# gives the page up instead of recompiling it each time).
test_main:
    li gp, 1
    la t0, churn_patch
    li t3, 0x00100513       # addi a0, zero, 1
    li t4, 0x00200513       # addi a0, zero, 2
    li s1, 100000
    li s2, 0
1:  andi t5, s1, 1
    mv t1, t3
    beqz t5, 2f
    mv t1, t4
2:  sw t1, 0(t0)
    fence.i
    jal ra, churn_routine
    add s2, s2, a0
    addi s1, s1, -1
    bnez s1, 1b
    # Odd counts (50,000 of them) wrote "li a0, 2", even ones "li a0, 1".
    li t6, 150000
    bne s2, t6, fail
    j pass

# In .data so that it is writable in any memory model (see rv64i_smc_loop.S); its own
# page, apart from the loop above.
.section .data
.balign 4
churn_routine:
    addi a3, zero, 7
    addi a4, a3, 1
    addi a5, a4, 1
churn_patch:
    li a0, 0
    addi a6, a0, 0
    addi a7, a6, 0
    ret

# Self-modifying code in hot loops. Written for --jit (whose compiled blocks jump
# straight into each other on a page), valid anywhere: code that a loop has run many
# times is rewritten, from outside the loop and from inside it, and the new instruction
# must be the one that runs after fence.i.
test_main:
    # A routine in .data, called 100 times: its loop branches back within its page and
    # its "li a0, 1" is reached by falling through. Each call returns 1.
    li gp, 2
    li s0, 0
    li s1, 100
1:  jal ra, hot_routine
    add s0, s0, a0
    addi s1, s1, -1
    bnez s1, 1b
    li t6, 100
    bne s0, t6, fail

    # Rewrite "li a0, 1" as "li a0, 3" (addi a0, zero, 3 = 0x00300513) from here,
    # fence.i, and call it 100 times again: each call now returns 3.
    li gp, 3
    la t0, hot_patch
    li t1, 0x00300513
    sw t1, 0(t0)
    fence.i
    li s0, 0
    li s1, 100
2:  jal ra, hot_routine
    add s0, s0, a0
    addi s1, s1, -1
    bnez s1, 2b
    li t6, 300
    bne s0, t6, fail

    # A loop that rewrites its own body at iteration 50: iterations 1-49 add 1,
    # iterations 50-100 add 5 (the store and fence.i come before the add in 50).
    li gp, 4
    jal ra, self_patching_loop
    li t6, 49 + 51 * 5
    bne s2, t6, fail
    j pass

# In .data so that it is writable in any memory model; M-mode fetches are not
# restricted by PMP here, so it is still executable.
.section .data
.balign 4
hot_routine:
    li a1, 0
    li a2, 4
3:  addi a1, a1, 1
    addi a3, a1, 0
    addi a4, a3, 0
    bne a1, a2, 3b
hot_patch:
    li a0, 1
    addi a5, a0, 0
    addi a6, a5, 0
    addi a7, a6, 0
    ret

.balign 4
self_patching_loop:
    li a1, 0
    li a2, 100
    li s2, 0
4:  addi a1, a1, 1
    li t2, 50
    bne a1, t2, 5f
    la t0, loop_patch
    li t1, 0x00500513
    sw t1, 0(t0)
    fence.i
5:  addi a3, a1, 0
loop_patch:
    li a0, 1
    add s2, s2, a0
    bne a1, a2, 4b
    ret

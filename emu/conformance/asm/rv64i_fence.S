# fence and fence.i (Zifencei): a program that rewrites one of its own instructions must
# execute the new instruction after fence.i, including one already executed (and so
# possibly cached) before the store.
test_main:
    li gp, 1
    fence
    fence rw, rw
    fence iorw, iorw
    fence.tso
    fence.i

    # Run the patchable routine once as assembled: it returns 1.
    li gp, 2
    jal ra, patchable
    li t6, 1
    bne a0, t6, fail

    # Patch "li a0, 1" into "li a0, 2" (addi a0, zero, 2 = 0x00200513), fence.i, rerun.
    li gp, 3
    la t0, patchable
    li t1, 0x00200513
    sw t1, 0(t0)
    fence.i
    jal ra, patchable
    li t6, 2
    bne a0, t6, fail

    # A 16-bit store that changes only the upper half of an instruction word:
    # 0x00200513 -> 0x7ff00513 (li a0, 2047).
    li gp, 4
    li t1, 0x7ff0
    sh t1, 2(t0)
    fence.i
    jal ra, patchable
    li t6, 2047
    bne a0, t6, fail
    j pass

# Lives in .data so that it is writable in any memory model; it is still executable
# because M-mode fetches are not restricted by PMP here.
.section .data
.balign 4
patchable:
    li a0, 1
    ret

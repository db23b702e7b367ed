# Not a conformance check: asks the HTIF syscall proxy for syscall 1234, which does not
# exist; emu must stop the run with one line naming it (emu/tests/htif_syscalls.rs).

.pushsection .data
.balign 64
magic_mem: .dword 1234, 0, 0, 0, 0, 0, 0, 0
.popsection

test_main:
    la t0, magic_mem
    la t1, tohost
    sd t0, 0(t1)
1:  la t1, fromhost
    ld t1, 0(t1)
    beqz t1, 1b
    li gp, 1
    j fail

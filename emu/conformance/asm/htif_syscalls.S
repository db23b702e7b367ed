# Not a conformance check: a bare-metal program in the style of the riscv-tests
# benchmark environment, which does its I/O through the HTIF syscall proxy (tohost =
# address of an 8-dword block: number, arguments; the result comes back in the block's
# first dword, and fromhost says it is there). Run by emu/tests/htif_syscalls.rs in a
# scratch working directory, with "typed\n" on stdin. It prints a greeting, writes a file,
# reads it back, echoes stdin, and exits with status 42; a failed step exits with its
# check number (through the prelude's `fail`).
#
# Checks:
#   1      write(1, greeting) returns its length
#   2      openat(AT_FDCWD, "htif_out.txt", O_WRONLY|O_CREAT|O_TRUNC) gives fd >= 3
#   3      write to it returns the length
#   4      lseek(fd, 0, SEEK_CUR) = the length
#   5      close = 0
#   6      openat of the same file read-only
#   7      fstat: st_size = the length
#   8      read returns the length
#   9      openat("../escape") is refused (negative)
#   10     read(0) returns the 6 bytes typed on stdin
#   11     close of an fd that is not open: -EBADF

.equ SYS_OPENAT, 56
.equ SYS_CLOSE, 57
.equ SYS_LSEEK, 62
.equ SYS_READ, 63
.equ SYS_WRITE, 64
.equ SYS_FSTAT, 80
.equ SYS_EXIT, 93
.equ AT_FDCWD, -100

.pushsection .data
.balign 64
magic_mem: .space 64
greeting: .ascii "hello from the HTIF syscall proxy\n"
greeting_end:
file_name: .asciz "htif_out.txt"
escape_name: .asciz "../escape"
file_text: .ascii "file contents\n"
file_text_end:
.balign 8
stat_buf: .space 128
read_buf: .space 64
.popsection

# a7 = number, a0-a3 = arguments; returns a0. Clobbers t0, t1.
syscall:
    la t0, magic_mem
    sd a7, 0(t0)
    sd a0, 8(t0)
    sd a1, 16(t0)
    sd a2, 24(t0)
    sd a3, 32(t0)
    fence
    la t1, tohost
    sd t0, 0(t1)
1:  la t1, fromhost
    ld t1, 0(t1)
    beqz t1, 1b
    la t1, fromhost
    sd zero, 0(t1)
    ld a0, 0(t0)
    ret

test_main:
    li a7, SYS_WRITE
    li a0, 1
    la a1, greeting
    li a2, greeting_end - greeting
    call syscall
    CHECK 1, a0, greeting_end - greeting

    li a7, SYS_OPENAT
    li a0, AT_FDCWD
    la a1, file_name
    li a2, 0x241            # O_WRONLY | O_CREAT | O_TRUNC
    li a3, 0644
    call syscall
    li gp, 2
    li t0, 3
    blt a0, t0, fail
    mv s1, a0
    li a7, SYS_WRITE
    mv a0, s1
    la a1, file_text
    li a2, file_text_end - file_text
    call syscall
    CHECK 3, a0, file_text_end - file_text
    li a7, SYS_LSEEK
    mv a0, s1
    li a1, 0
    li a2, 1
    call syscall
    CHECK 4, a0, file_text_end - file_text
    li a7, SYS_CLOSE
    mv a0, s1
    call syscall
    CHECK 5, a0, 0

    li a7, SYS_OPENAT
    li a0, AT_FDCWD
    la a1, file_name
    li a2, 0
    li a3, 0
    call syscall
    li gp, 6
    li t0, 3
    blt a0, t0, fail
    mv s1, a0
    li a7, SYS_FSTAT
    mv a0, s1
    la a1, stat_buf
    call syscall
    la t0, stat_buf
    ld a0, 48(t0)
    CHECK 7, a0, file_text_end - file_text
    li a7, SYS_READ
    mv a0, s1
    la a1, read_buf
    li a2, 64
    call syscall
    CHECK 8, a0, file_text_end - file_text
    li a7, SYS_WRITE
    li a0, 1
    la a1, read_buf
    li a2, file_text_end - file_text
    call syscall

    li a7, SYS_OPENAT
    li a0, AT_FDCWD
    la a1, escape_name
    li a2, 0
    li a3, 0
    call syscall
    li gp, 9
    bgez a0, fail

    li a7, SYS_READ
    li a0, 0
    la a1, read_buf
    li a2, 6
    call syscall
    CHECK 10, a0, 6
    li a7, SYS_WRITE
    li a0, 1
    la a1, read_buf
    li a2, 6
    call syscall

    li a7, SYS_CLOSE
    li a0, 40
    call syscall
    CHECK 11, a0, -9

    li a7, SYS_EXIT
    li a0, 42
    call syscall
    li gp, 12
    j fail

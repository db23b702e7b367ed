//! The code that runs at the physical load address, and the MMU switch.
//!
//! Everything here lives in `.text.entry`, the first bytes of the image, because the
//! trampoline page table maps only the image's first 2 MiB. It uses only pc-relative
//! addressing (`lla`), which is right both before and after the switch: the same
//! instruction yields the physical address before and the virtual one after.

use core::arch::global_asm;
use core::mem::offset_of;

use crate::layout::KernelMapping;

/// Boot stack; 64 KiB is plenty for a single hart that never takes nested traps.
const BOOT_STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; BOOT_STACK_SIZE]);

#[no_mangle]
static mut BOOT_STACK: Stack = Stack([0; BOOT_STACK_SIZE]);

global_asm!(
    ".section .text.entry, \"ax\"",
    // Entered from the firmware in S-mode: a0 = hart id, a1 = DTB physical address,
    // satp = 0, running at the physical load address.
    ".globl _start",
    "_start:",
    // No interrupts until we have a real trap handler.
    "    csrw sie, zero",
    "    csrci sstatus, 2",
    "    mv s0, a0",
    "    mv s1, a1",
    "    lla t0, __bss_start",
    "    lla t1, __bss_stop",
    "1:  bgeu t0, t1, 2f",
    "    sd zero, 0(t0)",
    "    addi t0, t0, 8",
    "    j 1b",
    "2:  lla sp, BOOT_STACK + {stack_size}",
    // Any trap before relocate_enable_mmu is a bug: power off rather than spin.
    "    lla t0, early_park",
    "    csrw stvec, t0",
    "    mv a0, s0",
    "    mv a1, s1",
    "    call setup_vm",
    // a0 = satp value for early_pg_dir
    "    call relocate_enable_mmu",
    // Virtual from here on. The stack pointer still holds a physical address, which no
    // longer translates: take the virtual one.
    "    lla sp, BOOT_STACK + {stack_size}",
    "    mv a0, s0",
    "    mv a1, s1",
    "    call kernel_main",
    "3:  wfi",
    "    j 3b",
    "",
    // relocate_enable_mmu(a0 = satp for the target page table)
    //
    // Turn translation on while executing at the physical address. The trick: point
    // stvec at the *virtual* address of label 4, then write satp with the trampoline
    // table, which maps only the image's first 2 MiB at its virtual address. The next
    // fetch, at the old physical pc, has no mapping: the instruction page fault sends
    // the hart to stvec, i.e. to label 4, now virtual. No identity mapping is needed.
    ".globl relocate_enable_mmu",
    "relocate_enable_mmu:",
    "    lla t0, kernel_map",
    "    ld t1, {virt_addr}(t0)",
    "    ld t2, {phys_addr}(t0)",
    "    sub t1, t1, t2",
    // Return to the caller's virtual address.
    "    add ra, ra, t1",
    "    lla t2, 4f",
    "    add t2, t2, t1",
    "    csrw stvec, t2",
    // Trampoline satp: the target's mode bits with trampoline_pg_dir as root.
    "    srli t2, a0, 60",
    "    slli t2, t2, 60",
    "    lla t3, trampoline_pg_dir",
    "    srli t3, t3, 12",
    "    or t2, t2, t3",
    "    sfence.vma",
    "    csrw satp, t2",
    ".p2align 2",
    "4:",
    // Arrived virtually (by the page fault). Traps now park at the virtual address.
    "    lla t0, early_park",
    "    csrw stvec, t0",
    "    csrw satp, a0",
    "    sfence.vma",
    "    ret",
    "",
    // Traps before the kernel's handler is installed: say so and power off with a
    // failure status, so that a test harness sees the problem instead of a hang.
    ".p2align 2",
    ".globl early_park",
    "early_park:",
    "    li a0, 33", // '!'
    "    li a7, 1",
    "    ecall",
    "    li a0, 0",
    "    li a1, 1",
    "    li a6, 0",
    "    li a7, 0x53525354",
    "    ecall",
    "5:  wfi",
    "    j 5b",
    stack_size = const BOOT_STACK_SIZE,
    virt_addr = const offset_of!(KernelMapping, virt_addr),
    phys_addr = const offset_of!(KernelMapping, phys_addr),
);

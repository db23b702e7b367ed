//! M-mode SBI firmware (placeholder until the real-software issue: it powers off).
#![no_std]
#![no_main]

core::arch::global_asm!(
    ".section .text.entry",
    ".globl _start",
    "_start:",
    "li t0, 0x100000",
    "li t1, 0x5555",
    "sw t1, 0(t0)",
    "1: j 1b",
);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

//! Bare-metal conformance programs for emu. Every program is one binary in `src/bin`,
//! written in assembly (`asm/`), that checks its results and reports through HTIF:
//! `tohost = 1` means pass, `tohost = (n << 1) | 1` means check `n` failed.
//!
//! The programs are our own; they are validated against QEMU (`run-on-qemu.sh`).
#![no_std]

/// Emit the shared prologue (`asm/prelude.S`) followed by `asm/<name>.S`.
#[macro_export]
macro_rules! conformance_test {
    ($name:literal) => {
        core::arch::global_asm!(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/prelude.S")),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/", $name, ".S")),
            concat!(
                "\n.pushsection .rodata\n.globl test_name\ntest_name: .asciz \"",
                $name,
                "\"\n.popsection\n"
            ),
            options(raw)
        );
    };
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

//! Bare-metal conformance programs for emu. Every program is one binary in `src/bin`,
//! written in assembly (`asm/`), that checks its results and reports through HTIF:
//! `tohost = 1` means pass, `tohost = (n << 1) | 1` means check `n` failed.
//!
//! The programs are our own; they are validated against QEMU (`run-on-qemu.sh`).
#![no_std]

/// Emit the shared prologue (`asm/prelude.S`) followed by `asm/<name>.S`.
#[macro_export]
macro_rules! conformance_test {
    // A program built from shared parts: `defs` (assembler lines, e.g. `.equ LEVELS, 4`)
    // and `asm/<part>.S` files, in order, after the prelude. The vm_* programs use it to
    // share `asm/vm.S` and to build one test body for several paging modes.
    ($name:literal, defs: $defs:literal, parts: [$($part:literal),+ $(,)?]) => {
        core::arch::global_asm!(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/prelude.S")),
            $defs,
            $(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/", $part, ".S")),)+
            concat!(
                "\n.pushsection .rodata\n.globl test_name\ntest_name: .asciz \"",
                $name,
                "\"\n.popsection\n"
            ),
            options(raw)
        );
    };
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

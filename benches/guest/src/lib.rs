//! Runtime of the bare-metal benchmarks: entry, stack, BSS clearing and the HTIF exit.
//!
//! Each benchmark is one binary in `src/bin` with a `bench_main() -> u32` returning a
//! checksum of everything it computed. The exit status is 0 when the checksum is the one
//! the program expects and 1 + (checksum % 100) otherwise, so a run that skipped or
//! miscomputed work cannot pass for a fast one, on either emulator.
#![no_std]

core::arch::global_asm!(
    r#"
.section .text.init, "ax", @progbits
.globl _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, _stack_top
    la t0, _bss_start
    la t1, _bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call runtime_main
3:  j 3b

.section .tohost, "aw", @progbits
.globl tohost
.type tohost, @object
.size tohost, 8
.align 3
tohost: .dword 0
.globl fromhost
.type fromhost, @object
.size fromhost, 8
.align 3
fromhost: .dword 0
"#
);

extern "Rust" {
    fn bench_main() -> u32;
    static EXPECTED_CHECKSUM: u32;
}

extern "C" {
    static mut tohost: u64;
}

#[no_mangle]
extern "C" fn runtime_main() -> ! {
    // SAFETY: both symbols are defined by the benchmark binary linked with this crate.
    let (sum, expected) = unsafe { (bench_main(), EXPECTED_CHECKSUM) };
    let status = match option_env!("BENCH_CHECKSUM_BYTE") {
        // To record EXPECTED_CHECKSUM after changing a workload: build with
        // BENCH_CHECKSUM_BYTE=0..3 and read byte k of the checksum from the exit status.
        Some(k) => (sum >> (8 * (k.as_bytes()[0] - b'0') as u32)) & 0xff,
        None if sum == expected => 0,
        None => 1 + sum % 100,
    };
    exit(status as u64)
}

/// Stop the machine through HTIF with `status` (0 = success).
pub fn exit(status: u64) -> ! {
    loop {
        // SAFETY: `tohost` is the HTIF word the host watches; a volatile store is the
        // whole protocol.
        unsafe { core::ptr::write_volatile(&raw mut tohost, (status << 1) | 1) };
    }
}

/// Keep the optimiser from folding a value computed from constants.
#[inline(always)]
pub fn opaque<T>(x: T) -> T {
    core::hint::black_box(x)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(127)
}

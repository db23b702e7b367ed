//! A loadable module for guest-kernel, compiled to a relocatable ELF object (`--emit obj`,
//! never linked) and embedded in the kernel image. The kernel's loader places it in the
//! module window, resolves its undefined symbols through the kernel's export table and
//! applies the RISC-V relocations below, then calls `module_init`.
//!
//! The object is meant to exercise the loader: the Rust code yields the relocations the
//! compiler emits for medany code (CALL_PLT, PCREL_HI20 with PCREL_LO12_I/S, 64-bit
//! pointers), and the assembly in `module_asm_checks` the kinds it never emits on its
//! own (BRANCH, JAL, RVC_BRANCH, RVC_JUMP across sections; absolute HI20/LO12_I/LO12_S;
//! GOT_HI20; ADD32/SUB32 and ADD64/SUB64 differences; R_RISCV_32; CALL_PLT with RELAX).
//! Each instruction that carries a relocation is also executed and its effect checked,
//! so a mis-applied relocation shows up as a missing bit in the result, not just a
//! relocation count.
#![no_std]

use core::arch::global_asm;
use core::ptr::{addr_of, addr_of_mut};

extern "C" {
    /// Print a message on the kernel console.
    fn kernel_log(msg: *const u8, len: usize);
    /// Tell the kernel the module is alive; returns the kernel's answer to `cookie`.
    fn kernel_register_module(cookie: u64) -> u64;
    /// A kernel counter the module increments (kernel data written from the module).
    static mut kernel_module_counter: u64;
    /// Assembly checks below; returns the bits of the checks that passed.
    fn module_asm_checks() -> u64;
}

/// Every bit `module_asm_checks` sets when all its checks pass.
const ASM_CHECKS_ALL: u64 = 0x3ff;
/// What `kernel_register_module` answers: the cookie, rotated (so the call is proven to
/// have reached the kernel, not returned its argument).
const COOKIE: u64 = 0x5eed_0000_0000_c0de;

/// Module data: `.bss` (the loader must zero it) and `.data` (it must copy it).
static mut INIT_CALLS: u64 = 0;
/// The greeting's length lives in .data: if the loader did not copy .data, the module
/// says nothing.
static mut GREETING_LEN: usize = 21;

/// Function pointers in rodata: R_RISCV_64 relocations against the module's own text.
static STEPS: [extern "C" fn() -> u64; 2] = [step_one, step_two];

extern "C" fn step_one() -> u64 {
    1 << 20
}

extern "C" fn step_two() -> u64 {
    1 << 21
}

fn log(msg: &[u8]) {
    // SAFETY: kernel_log reads `len` bytes at `msg`, which is a live slice.
    unsafe { kernel_log(msg.as_ptr(), msg.len()) };
}

/// The module's entry point. Returns 0 on success, otherwise the bits of what failed:
/// the low bits are the assembly checks that did not pass.
#[no_mangle]
pub extern "C" fn module_init() -> u64 {
    // SAFETY: the module runs single-threaded, called once by the kernel's loader.
    unsafe {
        let calls = addr_of_mut!(INIT_CALLS);
        calls.write_volatile(calls.read_volatile() + 1);
        let len = addr_of!(GREETING_LEN).read_volatile();
        log(&b"hello from the module"[..len.min(21)]);
    }
    let mut failed = 0;
    // SAFETY: as above; the kernel exports this counter for modules to write.
    unsafe {
        let counter = addr_of_mut!(kernel_module_counter);
        counter.write_volatile(counter.read_volatile() + 1);
        if kernel_register_module(COOKIE) != COOKIE.rotate_left(8) {
            failed |= 1 << 16;
        }
        if addr_of!(INIT_CALLS).read_volatile() != 1 {
            failed |= 1 << 17;
        }
    }
    // Read through the table so the compiler cannot call the functions directly.
    // SAFETY: reading an immutable static.
    let steps = unsafe { addr_of!(STEPS).read_volatile() };
    if steps[0]() | steps[1]() != 3 << 20 {
        failed |= 1 << 18;
    }
    // SAFETY: an assembly function of this module, following the C ABI.
    let asm_bits = unsafe { module_asm_checks() };
    failed |= !asm_bits & ASM_CHECKS_ALL;
    log(if failed == 0 {
        b"all relocation checks passed, calling back done"
    } else {
        b"some relocation checks FAILED"
    });
    failed
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    log(b"panic in module");
    loop {}
}

// Bits of the result, one per check:
//   0 BRANCH      beq into the hop section and back
//   1 RVC_BRANCH  c.beqz into the hop section
//   2 RVC_JUMP    c.j into the hop section
//   3 JAL         jal ra to a hop-section function
//   4 HI20+LO12_I lui/addi of the absolute kernel symbol module_abs_offset
//   5 GOT_HI20    `la` under .option pic (auipc + ld from the GOT) == lla of the same symbol
//   6 LO12_S+I    store and reload at kernel_scratch + module_abs_offset with %lo offsets
//   7 ADD32/SUB32 a .word difference of two text labels == their run-time distance
//   8 R_RISCV_32  a .word of module_abs_offset; and ADD64/SUB64, R_RISCV_64 words
//   9 CALL_PLT    a relaxable `call` into the kernel (R_RISCV_RELAX alongside) returned
//
// The hop section follows this one in the object, so the short RVC branches reach it.
global_asm!(
    ".section .text.module_asm, \"ax\", @progbits",
    ".p2align 2",
    ".globl module_asm_checks",
    "module_asm_checks:",
    "    addi sp, sp, -32",
    "    sd ra, 24(sp)",
    "    sd s0, 16(sp)",
    "    sd s1, 8(sp)",
    "    li s0, 0",
    // Exact encodings: no compression, no relaxation, so the assembler keeps the short
    // forms and emits a relocation for each cross-section target.
    ".option push",
    ".option exact",
    "    li t0, 1",
    "    beq t0, t0, module_hop_branch",
    "module_back_branch:",
    "    li a0, 0",
    "    c.beqz a0, module_hop_rvc_branch",
    "module_back_rvc_branch:",
    "    c.j module_hop_rvc_jump",
    "module_back_rvc_jump:",
    "    jal ra, module_hop_jal",
    // Absolute addressing: module_abs_offset is an absolute symbol the kernel exports.
    "    lui t0, %hi(module_abs_offset)",
    "    addi t0, t0, %lo(module_abs_offset)",
    "    li t1, {abs}",
    "    bne t0, t1, 1f",
    "    ori s0, s0, 1 << 4",
    "1:",
    ".option pic",
    "    la t2, kernel_scratch",
    ".option nopic",
    "    lla t3, kernel_scratch",
    "    bne t2, t3, 2f",
    "    ori s0, s0, 1 << 5",
    "2:",
    // kernel_scratch + module_abs_offset, split into %hi and %lo (negative %lo: the
    // offset's bit 11 is set, so HI20 must round up).
    "    lui t4, %hi(module_abs_offset)",
    "    add t4, t4, t2",
    "    li t5, {magic}",
    "    sd t5, %lo(module_abs_offset)(t4)",
    "    ld t6, %lo(module_abs_offset)(t4)",
    "    bne t5, t6, 3f",
    "    ori s0, s0, 1 << 6",
    "3:",
    "    lla t0, module_asm_checks",
    "    lla t1, module_asm_end",
    "    sub t1, t1, t0",
    "    lla t2, module_asm_words",
    "    lwu t3, 0(t2)",
    "    bne t1, t3, 4f",
    "    ori s0, s0, 1 << 7",
    "4:",
    "    lwu t3, 4(t2)",
    "    li t4, {abs}",
    "    bne t3, t4, 5f",
    "    ld t3, 8(t2)",
    "    bne t1, t3, 5f",
    "    ld t3, 16(t2)",
    "    lla t4, kernel_scratch",
    "    bne t3, t4, 5f",
    "    ori s0, s0, 1 << 8",
    "5:",
    ".option pop",
    ".option push",
    ".option relax",
    "    li a0, {cookie}",
    "    call kernel_register_module",
    ".option pop",
    "    ori s0, s0, 1 << 9",
    "    mv a0, s0",
    "    ld ra, 24(sp)",
    "    ld s0, 16(sp)",
    "    ld s1, 8(sp)",
    "    addi sp, sp, 32",
    "    ret",
    "module_asm_end:",
    "",
    ".section .text.module_hop, \"ax\", @progbits",
    ".option push",
    ".option exact",
    "module_hop_branch:",
    "    ori s0, s0, 1 << 0",
    "    jal zero, module_back_branch",
    "module_hop_rvc_branch:",
    "    ori s0, s0, 1 << 1",
    "    jal zero, module_back_rvc_branch",
    "module_hop_rvc_jump:",
    "    ori s0, s0, 1 << 2",
    "    jal zero, module_back_rvc_jump",
    "module_hop_jal:",
    "    ori s0, s0, 1 << 3",
    "    ret",
    ".option pop",
    "",
    ".section .rodata.module_asm, \"a\", @progbits",
    ".p2align 3",
    "module_asm_words:",
    "    .word module_asm_end - module_asm_checks",
    "    .word module_abs_offset",
    "    .quad module_asm_end - module_asm_checks",
    "    .quad kernel_scratch",
    abs = const MODULE_ABS_OFFSET,
    magic = const 0x600d_f00d_u64,
    cookie = const 0x0123_4567_u64,
);

/// The value the kernel gives its absolute export `module_abs_offset` (checked here
/// against the relocated lui/addi pair). Bit 11 is set on purpose.
const MODULE_ABS_OFFSET: u64 = 0x1a38;

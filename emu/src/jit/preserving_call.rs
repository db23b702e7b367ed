//! A call from Cranelift's blocks into the host that costs the block nothing where it
//! does not happen: an assembly routine (at [`address`]) that keeps every register.
//!
//! A block keeps guest registers, addresses and the budget in host registers. A call in
//! the host's C convention clobbers nine general registers and all sixteen vector ones,
//! so every value live across it must be spilled, and the register allocator then keeps
//! such values on the stack on the straight path too: putting the data-miss call into
//! every access's miss path made the CoreMark-like program's code a quarter slower (see
//! docs/performance.md). Cranelift's `preserve_all` convention says the callee keeps
//! every register; this routine is such a callee. It saves what the C convention may
//! clobber, aligns the stack, calls the C function it is given and stores its result in
//! memory (the convention has no return values), then restores everything.
//!
//! Its arguments are the block's own first two, in the registers they arrive in, so
//! that the call moves nothing: rdi (the register file, unused) and rsi, the
//! environment, which starts with a [`MissCall`]: the function and its arguments, which
//! the block stores there before the call, and the word where the routine stores the
//! function's result.

use std::mem::offset_of;

/// The start of every block's environment (see `EnvLayout`): the host function a load or
/// store that misses calls, and the access it is called for.
#[repr(C)]
pub struct MissCall {
    /// `(env, va, size, store, pc) -> host address or 0`: the unobserved flavour's
    /// data-miss function (see `EnvLayout::data_miss`) or the counted flavour's (see
    /// `CountedLayout`).
    pub function: extern "C" fn(*mut u8, u64, u64, u64, u64) -> u64,
    /// The access: its virtual address, size in bytes, whether it is a store (0 or 1),
    /// and the pc of its instruction (only the counted flavour sets and reads it).
    pub va: u64,
    pub size: u64,
    pub store: u64,
    pub pc: u64,
    /// What the function returned.
    pub result: u64,
}

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .text.emu_jit_preserving_call,\"ax\",@progbits",
    ".p2align 4",
    ".globl emu_jit_preserving_call",
    ".hidden emu_jit_preserving_call",
    "emu_jit_preserving_call:",
    "push rbp",
    "mov rbp, rsp",
    // The caller's stack may be at any 8-byte boundary (quick code calls without a
    // frame); the C convention wants 16 at the call.
    "and rsp, -16",
    // Nine general registers (and a pad word), then xmm0-15.
    "sub rsp, 336",
    "mov [rsp], rax",
    "mov [rsp + 8], rcx",
    "mov [rsp + 16], rdx",
    "mov [rsp + 24], rsi",
    "mov [rsp + 32], rdi",
    "mov [rsp + 40], r8",
    "mov [rsp + 48], r9",
    "mov [rsp + 56], r10",
    "mov [rsp + 64], r11",
    "movdqa [rsp + 80], xmm0",
    "movdqa [rsp + 96], xmm1",
    "movdqa [rsp + 112], xmm2",
    "movdqa [rsp + 128], xmm3",
    "movdqa [rsp + 144], xmm4",
    "movdqa [rsp + 160], xmm5",
    "movdqa [rsp + 176], xmm6",
    "movdqa [rsp + 192], xmm7",
    "movdqa [rsp + 208], xmm8",
    "movdqa [rsp + 224], xmm9",
    "movdqa [rsp + 240], xmm10",
    "movdqa [rsp + 256], xmm11",
    "movdqa [rsp + 272], xmm12",
    "movdqa [rsp + 288], xmm13",
    "movdqa [rsp + 304], xmm14",
    "movdqa [rsp + 320], xmm15",
    "mov rdi, rsi",
    "mov rdx, [rdi + {size}]",
    "mov rcx, [rdi + {store}]",
    "mov rsi, [rdi + {va}]",
    "mov r8, [rdi + {pc}]",
    "call [rdi + {function}]",
    "mov rdi, [rsp + 24]",
    "mov [rdi + {result}], rax",
    "movdqa xmm0, [rsp + 80]",
    "movdqa xmm1, [rsp + 96]",
    "movdqa xmm2, [rsp + 112]",
    "movdqa xmm3, [rsp + 128]",
    "movdqa xmm4, [rsp + 144]",
    "movdqa xmm5, [rsp + 160]",
    "movdqa xmm6, [rsp + 176]",
    "movdqa xmm7, [rsp + 192]",
    "movdqa xmm8, [rsp + 208]",
    "movdqa xmm9, [rsp + 224]",
    "movdqa xmm10, [rsp + 240]",
    "movdqa xmm11, [rsp + 256]",
    "movdqa xmm12, [rsp + 272]",
    "movdqa xmm13, [rsp + 288]",
    "movdqa xmm14, [rsp + 304]",
    "movdqa xmm15, [rsp + 320]",
    "mov rax, [rsp]",
    "mov rcx, [rsp + 8]",
    "mov rdx, [rsp + 16]",
    "mov rsi, [rsp + 24]",
    "mov rdi, [rsp + 32]",
    "mov r8, [rsp + 40]",
    "mov r9, [rsp + 48]",
    "mov r10, [rsp + 56]",
    "mov r11, [rsp + 64]",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".popsection",
    function = const offset_of!(MissCall, function),
    va = const offset_of!(MissCall, va),
    size = const offset_of!(MissCall, size),
    store = const offset_of!(MissCall, store),
    pc = const offset_of!(MissCall, pc),
    result = const offset_of!(MissCall, result),
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    fn emu_jit_preserving_call();
}

/// The routine's address (see the module comment), on hosts that have it.
pub fn address() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    return Some(emu_jit_preserving_call as *const () as usize as u64);
    #[cfg(not(target_arch = "x86_64"))]
    return None;
}

//! Supervisor trap handling: the register-saving entry, and "expected faults", which
//! let the self-tests poke at a mapping and learn whether the access faulted.
//!
//! A self-test arms an expected fault, performs one access in inline assembly, then
//! disarms. If the access traps with a page fault the handler records it and resumes:
//! after the faulting instruction for loads and stores, at the return address for an
//! instruction fetch (the probe reached the target with `jalr ra`). Any other trap is a
//! kernel bug: it is reported and the machine powers off with a failure status.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::println;
use crate::sbi::{shutdown, ResetReason};

pub const CAUSE_INSTRUCTION_PAGE_FAULT: usize = 12;
pub const CAUSE_LOAD_PAGE_FAULT: usize = 13;
pub const CAUSE_STORE_PAGE_FAULT: usize = 15;

/// x0..x31 (x0 slot unused), then sepc.
#[repr(C)]
pub struct TrapFrame {
    pub regs: [usize; 32],
    pub sepc: usize,
}

const FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>().next_multiple_of(16);

global_asm!(
    ".p2align 2",
    ".globl trap_entry",
    "trap_entry:",
    "    addi sp, sp, -{frame}",
    "    sd x1, 8(sp)",
    "    sd x3, 24(sp)",
    "    sd x4, 32(sp)",
    "    sd x5, 40(sp)",
    "    sd x6, 48(sp)",
    "    sd x7, 56(sp)",
    "    sd x8, 64(sp)",
    "    sd x9, 72(sp)",
    "    sd x10, 80(sp)",
    "    sd x11, 88(sp)",
    "    sd x12, 96(sp)",
    "    sd x13, 104(sp)",
    "    sd x14, 112(sp)",
    "    sd x15, 120(sp)",
    "    sd x16, 128(sp)",
    "    sd x17, 136(sp)",
    "    sd x18, 144(sp)",
    "    sd x19, 152(sp)",
    "    sd x20, 160(sp)",
    "    sd x21, 168(sp)",
    "    sd x22, 176(sp)",
    "    sd x23, 184(sp)",
    "    sd x24, 192(sp)",
    "    sd x25, 200(sp)",
    "    sd x26, 208(sp)",
    "    sd x27, 216(sp)",
    "    sd x28, 224(sp)",
    "    sd x29, 232(sp)",
    "    sd x30, 240(sp)",
    "    sd x31, 248(sp)",
    "    csrr t0, sepc",
    "    sd t0, 256(sp)",
    "    mv a0, sp",
    "    call trap_handler",
    "    ld t0, 256(sp)",
    "    csrw sepc, t0",
    "    ld x1, 8(sp)",
    "    ld x3, 24(sp)",
    "    ld x4, 32(sp)",
    "    ld x5, 40(sp)",
    "    ld x6, 48(sp)",
    "    ld x7, 56(sp)",
    "    ld x8, 64(sp)",
    "    ld x9, 72(sp)",
    "    ld x10, 80(sp)",
    "    ld x11, 88(sp)",
    "    ld x12, 96(sp)",
    "    ld x13, 104(sp)",
    "    ld x14, 112(sp)",
    "    ld x15, 120(sp)",
    "    ld x16, 128(sp)",
    "    ld x17, 136(sp)",
    "    ld x18, 144(sp)",
    "    ld x19, 152(sp)",
    "    ld x20, 160(sp)",
    "    ld x21, 168(sp)",
    "    ld x22, 176(sp)",
    "    ld x23, 184(sp)",
    "    ld x24, 192(sp)",
    "    ld x25, 200(sp)",
    "    ld x26, 208(sp)",
    "    ld x27, 216(sp)",
    "    ld x28, 224(sp)",
    "    ld x29, 232(sp)",
    "    ld x30, 240(sp)",
    "    ld x31, 248(sp)",
    "    addi sp, sp, {frame}",
    "    sret",
    "",
    // The target of execute probes: returns at once if the fetch is allowed.
    ".p2align 2",
    ".globl probe_exec_target",
    "probe_exec_target:",
    "    ret",
    frame = const FRAME_SIZE,
);

extern "C" {
    fn trap_entry();
    pub fn probe_exec_target();
}

pub fn init() {
    // SAFETY: trap_entry is a complete trap handler, 4-byte aligned (direct mode).
    unsafe { asm!("csrw stvec, {0}", in(reg) trap_entry as *const () as usize) };
}

static ARMED: AtomicBool = AtomicBool::new(false);
static FAULT_CAUSE: AtomicUsize = AtomicUsize::new(0);
static FAULT_ADDR: AtomicUsize = AtomicUsize::new(0);
static FAULTED: AtomicBool = AtomicBool::new(false);

/// A page fault caught while probing: scause and stval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub cause: usize,
    pub addr: usize,
}

fn arm() {
    FAULTED.store(false, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
}

fn disarm() -> Option<Fault> {
    ARMED.store(false, Ordering::SeqCst);
    FAULTED.load(Ordering::SeqCst).then(|| Fault {
        cause: FAULT_CAUSE.load(Ordering::SeqCst),
        addr: FAULT_ADDR.load(Ordering::SeqCst),
    })
}

/// Store to `addr` the value already there (so a store that wrongly succeeds changes
/// nothing); returns the fault if the load or the store trapped.
pub fn probe_store(addr: usize) -> Option<Fault> {
    arm();
    // SAFETY: a faulting access is caught by trap_handler; a succeeding one rewrites the
    // same 8 bytes.
    unsafe {
        asm!("ld {tmp}, 0({addr})", "sd {tmp}, 0({addr})",
            addr = in(reg) addr, tmp = out(reg) _, options(nostack));
    }
    disarm()
}

/// Jump to `addr`, which must be an alias of `probe_exec_target`.
pub fn probe_exec(addr: usize) -> Option<Fault> {
    arm();
    // SAFETY: the target is a lone `ret`; a faulting fetch resumes at our ra.
    unsafe {
        asm!("jalr ra, 0({addr})", addr = in(reg) addr, out("ra") _, options(nostack));
    }
    disarm()
}

/// Load 8 bytes from `addr`; returns the value or the fault.
pub fn probe_load(addr: usize) -> Result<u64, Fault> {
    arm();
    let value: u64;
    // SAFETY: a faulting load is caught by trap_handler (value is then meaningless).
    unsafe {
        asm!("li {v}, 0", "ld {v}, 0({addr})", addr = in(reg) addr, v = out(reg) value,
            options(nostack));
    }
    match disarm() {
        Some(fault) => Err(fault),
        None => Ok(value),
    }
}

#[no_mangle]
extern "C" fn trap_handler(frame: &mut TrapFrame) {
    let scause: usize;
    let stval: usize;
    // SAFETY: reading trap CSRs.
    unsafe {
        asm!("csrr {0}, scause", out(reg) scause);
        asm!("csrr {0}, stval", out(reg) stval);
    }
    let page_fault = matches!(
        scause,
        CAUSE_INSTRUCTION_PAGE_FAULT | CAUSE_LOAD_PAGE_FAULT | CAUSE_STORE_PAGE_FAULT
    );
    if page_fault && ARMED.swap(false, Ordering::SeqCst) {
        FAULT_CAUSE.store(scause, Ordering::SeqCst);
        FAULT_ADDR.store(stval, Ordering::SeqCst);
        FAULTED.store(true, Ordering::SeqCst);
        if scause == CAUSE_INSTRUCTION_PAGE_FAULT {
            frame.sepc = frame.regs[1];
        } else {
            frame.sepc += instruction_length(frame.sepc);
        }
        return;
    }
    println!(
        "trap: unexpected scause={:#x} sepc={:#x} stval={:#x}",
        scause, frame.sepc, stval
    );
    shutdown(ResetReason::SystemFailure);
}

/// 2 for a compressed instruction, 4 otherwise (the low two bits tell).
fn instruction_length(pc: usize) -> usize {
    // SAFETY: pc is the address of an instruction that was just fetched; kernel text
    // is always readable.
    let low = unsafe { (pc as *const u16).read_volatile() };
    if low & 3 == 3 {
        4
    } else {
        2
    }
}

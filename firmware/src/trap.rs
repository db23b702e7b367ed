//! M-mode trap entry and dispatch.
//!
//! `mscratch` holds the top of this hart's M-mode stack while S/U-mode runs and 0 while
//! M-mode code runs. The entry swaps it with `sp`: a non-zero result is a trap from S/U
//! (save everything on the M stack); zero means the firmware itself trapped, which is a
//! firmware bug and ends the machine with a diagnostic.

use crate::csr::{self, *};
use crate::hart;
use crate::platform::{power, println};
use crate::pmu;
use crate::sbi;
use sbi_spec::pmu::firmware_event;

/// The PMU firmware event for an exception cause the firmware may see, if any.
fn trap_event(cause: usize) -> Option<usize> {
    Some(match cause {
        CAUSE_ILLEGAL_INSTRUCTION => firmware_event::ILLEGAL_INSN,
        CAUSE_MISALIGNED_LOAD => firmware_event::MISALIGNED_LOAD,
        CAUSE_LOAD_ACCESS => firmware_event::ACCESS_LOAD,
        CAUSE_MISALIGNED_STORE => firmware_event::MISALIGNED_STORE,
        CAUSE_STORE_ACCESS => firmware_event::ACCESS_STORE,
        _ => return None,
    })
}

/// Registers x0..x31 of the interrupted context; x2 (sp) is the interrupted sp.
#[repr(C)]
pub struct TrapFrame {
    pub x: [usize; 32],
}

const FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>();
const _: () = assert!(FRAME_SIZE.is_multiple_of(16));

core::arch::global_asm!(
    ".section .text",
    ".balign 4",
    ".globl trap_entry",
    "trap_entry:",
    "csrrw sp, mscratch, sp",
    "beqz sp, 1f",
    "addi sp, sp, -{frame}",
    "sd x1, 8(sp)",
    ".irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "sd x\\n, \\n*8(sp)",
    ".endr",
    "csrr t0, mscratch",
    "sd t0, 16(sp)",
    "csrw mscratch, zero",
    "mv a0, sp",
    "call {handler}",
    "addi t0, sp, {frame}",
    "csrw mscratch, t0",
    "ld x1, 8(sp)",
    ".irp n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "ld x\\n, \\n*8(sp)",
    ".endr",
    "ld sp, 16(sp)",
    "mret",
    // Trap taken in M-mode: restore sp (and mscratch = 0) and report.
    "1:",
    "csrrw sp, mscratch, sp",
    "j {fatal}",
    frame = const FRAME_SIZE,
    handler = sym handle_trap,
    fatal = sym machine_mode_trap,
);

extern "C" {
    fn trap_entry();
}

/// Points this hart's `mtvec` at the trap entry (direct mode).
pub fn install() {
    csr::write!("mscratch", 0);
    csr::write!("mtvec", trap_entry as *const () as usize);
}

extern "C" fn handle_trap(frame: &mut TrapFrame) {
    let cause = csr::read!("mcause");
    if cause & MCAUSE_INTERRUPT != 0 {
        match cause & !MCAUSE_INTERRUPT {
            IRQ_M_SOFT => hart::serve_mailbox(hart::this_hart(), true),
            IRQ_M_TIMER => {
                // Hand the expiry to S-mode; MTIE stays off until S sets a new deadline,
                // since the CLINT keeps MTIP asserted until mtimecmp moves.
                csr::set!("mip", MIP_STIP);
                csr::clear!("mie", MIP_MTIP);
            }
            // Nothing else is enabled in mie; a spurious wake-up needs no action.
            _ => {}
        }
        return;
    }
    if cause == CAUSE_SUPERVISOR_ECALL {
        let mut args = [0usize; 8];
        args.copy_from_slice(&frame.x[10..18]);
        let (a0, a1) = sbi::handle_ecall(&args);
        frame.x[10] = a0;
        if let Some(a1) = a1 {
            frame.x[11] = a1;
        }
        csr::write!("mepc", csr::read!("mepc") + 4);
        return;
    }
    redirect_to_supervisor(cause);
}

/// Delivers an exception from S/U-mode to the S-mode handler as if it had been delegated.
/// medeleg delegates every exception S-mode can handle, so this only runs on a hart whose
/// medeleg lacks some of those bits.
fn redirect_to_supervisor(cause: usize) {
    if let Some(event) = trap_event(cause) {
        pmu::record(event);
    }
    let mstatus = csr::read!("mstatus");
    let from_supervisor = (mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT == PRIV_S;
    csr::write!("scause", cause);
    csr::write!("sepc", csr::read!("mepc"));
    csr::write!("stval", csr::read!("mtval"));
    let mut status = mstatus & !(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_MPP);
    if from_supervisor {
        status |= MSTATUS_SPP;
    }
    if mstatus & MSTATUS_SIE != 0 {
        status |= MSTATUS_SPIE;
    }
    status |= PRIV_S << MSTATUS_MPP_SHIFT;
    csr::write!("mstatus", status);
    // Exceptions always go to the vector base, whatever stvec's mode.
    csr::write!("mepc", csr::read!("stvec") & !3);
}

extern "C" fn machine_mode_trap() -> ! {
    println!(
        "fatal: trap in M-mode (firmware bug): mcause {:#x} mepc {:#x} mtval {:#x} hart {}",
        csr::read!("mcause"),
        csr::read!("mepc"),
        csr::read!("mtval"),
        csr::read!("mhartid")
    );
    power::shutdown_failure(1);
    crate::halt()
}

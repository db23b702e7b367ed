//! emu's built-in M-mode firmware: an SBI v2.0 implementation on RustSBI for the `virt`
//! machine.
//!
//! All harts enter `_start` at 0x8000_0000 together (a0 = hartid, a1 = DTB). The first to
//! win the boot lottery sets up the machine and enters the next stage at 0x8020_0000 in
//! S-mode; the others wait in M-mode until S-mode starts them with HSM `hart_start`.
#![no_std]
#![no_main]

mod csr;
mod fdt;
mod hart;
mod platform;
mod pmu;
mod sbi;
mod trap;

use core::sync::atomic::{AtomicU32, Ordering};

use sbi_spec::hsm::hart_state;

use csr::*;
use platform::{power, println};

/// Harts with a larger id are never started (the `virt` machine numbers harts from 0).
pub const MAX_HARTS: usize = 8;
const STACK_SHIFT: usize = 14;
const STACK_SIZE: usize = 1 << STACK_SHIFT;
/// Where the next stage (Linux, or another S-mode kernel) is loaded.
const NEXT_STAGE: usize = 0x8020_0000;
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; MAX_HARTS]);

#[no_mangle]
#[link_section = ".bss.stacks"]
static mut STACKS: Stacks = Stacks([[0; STACK_SIZE]; MAX_HARTS]);

/// Room for the device tree handed on, which gains a memory reservation entry.
const DTB_CAPACITY: usize = 64 * 1024;
#[repr(C, align(8))]
struct DtbBuffer([u8; DTB_CAPACITY]);
static mut DTB_COPY: DtbBuffer = DtbBuffer([0; DTB_CAPACITY]);

// The boot flags live in .data, not .bss: they are read before the winner clears .bss.
#[no_mangle]
#[link_section = ".data.boot_flags"]
static COLD_BOOT_LOTTERY: AtomicU32 = AtomicU32::new(0);
#[no_mangle]
#[link_section = ".data.boot_flags"]
static COLD_BOOT_DONE: AtomicU32 = AtomicU32::new(0);

extern "C" {
    static __firmware_start: u8;
    static __firmware_end: u8;
}

core::arch::global_asm!(
    ".section .text.entry",
    ".globl _start",
    "_start:",
    "csrw mie, zero",
    "csrw mscratch, zero",
    "csrr a0, mhartid",
    "li t0, {max_harts}",
    "bgeu a0, t0, 3f",
    // sp = top of this hart's stack
    "la sp, STACKS",
    "addi t0, a0, 1",
    "slli t0, t0, {stack_shift}",
    "add sp, sp, t0",
    "la t0, COLD_BOOT_LOTTERY",
    "li t1, 1",
    // Module-level asm is assembled for the base ISA only; the hart has A (RV64GC).
    ".option push",
    ".option arch, +a",
    "amoswap.w.aq t1, t1, (t0)",
    ".option pop",
    "bnez t1, 2f",
    // The winner clears .bss (nobody else touches memory in it before COLD_BOOT_DONE).
    "la t0, __bss_start",
    "la t1, __bss_end",
    "1:",
    "bgeu t0, t1, 1f",
    "sd zero, 0(t0)",
    "addi t0, t0, 8",
    "j 1b",
    "1:",
    "call {cold_boot}",
    "2:",
    "la t0, COLD_BOOT_DONE",
    "1:",
    "lw t1, 0(t0)",
    "beqz t1, 1b",
    "fence r, rw",
    "call {warm_boot}",
    // A hart the firmware has no stack for stays asleep for good.
    "3:",
    "wfi",
    "j 3b",
    max_harts = const MAX_HARTS,
    stack_shift = const STACK_SHIFT,
    cold_boot = sym cold_boot,
    warm_boot = sym warm_boot,
);

fn stack_top(hart: usize) -> usize {
    let base = core::ptr::addr_of!(STACKS) as usize;
    base + (hart + 1) * STACK_SIZE
}

extern "C" fn cold_boot(me: usize, dtb: usize) -> ! {
    trap::install();
    platform::uart::init();

    // SAFETY: the boot ROM passes the DTB address; a bad one fails validation.
    let fdt = unsafe { fdt::Fdt::from_addr(dtb) };
    let info = fdt.as_ref().map(|f| f.machine_info()).unwrap_or_default();
    hart::set_present(info.harts | (1 << me));
    if let Some((base, size)) = info.ram {
        sbi::set_ram(base, size);
    }

    let (fw_start, fw_end) = (
        core::ptr::addr_of!(__firmware_start) as usize,
        core::ptr::addr_of!(__firmware_end) as usize,
    );
    let next_dtb = match &fdt {
        Some(fdt) => {
            // SAFETY: the boot hart is the only user of the buffer, once, before any other
            // hart runs Rust code.
            let buffer = unsafe { &mut (*core::ptr::addr_of_mut!(DTB_COPY)).0 };
            let reserve = (fw_start as u64, (fw_end - fw_start) as u64);
            match fdt.copy_with_reservation(reserve, buffer) {
                Some(_) => buffer.as_ptr() as usize,
                None => {
                    println!("warning: DTB larger than {DTB_CAPACITY} bytes; firmware memory is not reserved");
                    dtb
                }
            }
        }
        None => {
            println!("warning: no valid device tree at {dtb:#x}; only hart {me} is used");
            dtb
        }
    };

    println!(
        "firmware v{VERSION} (RustSBI, SBI v2.0), harts {:#x}, reserved {fw_start:#x}..{fw_end:#x}",
        hart::present_mask()
    );
    configure_hart();
    println!(
        "next stage {NEXT_STAGE:#x} in S-mode, DTB {next_dtb:#x}, timer via {}",
        if sbi::sstc_enabled() {
            "Sstc stimecmp"
        } else {
            "CLINT mtimecmp"
        }
    );
    hart::get(me).set_state(hart_state::STARTED);
    COLD_BOOT_DONE.store(1, Ordering::Release);
    enter_supervisor(me, NEXT_STAGE, next_dtb)
}

extern "C" fn warm_boot(me: usize) -> ! {
    trap::install();
    park(me)
}

/// Waits in M-mode, serving IPIs, until HSM `hart_start` names this hart; then enters
/// S-mode at the requested address. Also where `hart_stop` leaves a hart.
pub fn park(me: usize) -> ! {
    csr::write!("mie", MIP_MSIP);
    csr::clear!("mip", MIP_SSIP | MIP_STIP);
    let hart = hart::get(me);
    hart.complete_stop();
    loop {
        // Only touch the CLINT when something arrived: on an emulator whose wfi does not
        // sleep this loop spins, and it should stay cheap.
        if csr::read!("mip") & MIP_MSIP != 0 {
            hart::serve_mailbox(me, false);
        }
        if hart.state() == hart_state::START_PENDING {
            break;
        }
        // Wakes on msip even with mstatus.MIE clear; a request that arrived after the
        // check above left msip set, so this does not sleep through it.
        // SAFETY: wfi only waits.
        unsafe { core::arch::asm!("wfi") };
    }
    let (addr, opaque) = hart.start_request();
    configure_hart();
    hart.set_state(hart_state::STARTED);
    enter_supervisor(me, addr, opaque)
}

/// Per-hart machine setup for running S-mode software.
fn configure_hart() {
    // Everything S-mode can handle itself goes straight to it: misaligned fetch, access
    // faults, illegal instruction, breakpoint, misaligned load/store (not raised by our
    // hart, which does misaligned accesses itself), ecall from U, and page faults.
    // OpenSBI delegates only 0xb109 because it emulates some of the others; this firmware
    // emulates nothing, so delegating them saves a round trip through M-mode.
    const MEDELEG: usize = 0xb1ff;
    csr::write!("medeleg", MEDELEG);
    csr::write!("mideleg", MIP_SSIP | MIP_STIP | MIP_SEIP);
    // Counter access for S and U, and the counters' initial state.
    pmu::init_hart();
    // menvcfg (privileged spec 1.12) may be missing; its fields for absent extensions read
    // as zero. S-mode owns stimecmp only if STCE stuck and the CSR exists: some harts
    // (QEMU 7.2 with sstc=off) keep STCE writable without Sstc.
    let envcfg_bits =
        MENVCFG_STCE | MENVCFG_PBMTE | MENVCFG_CBZE | MENVCFG_CBCFE | MENVCFG_CBIE_FLUSH;
    let stce = csr::try_set_bits!("menvcfg", envcfg_bits).is_some()
        && csr::read!("menvcfg") & MENVCFG_STCE != 0;
    let sstc = stce && csr::try_set_bits!("0x14d", 0).is_some();
    if stce && !sstc {
        csr::clear!("menvcfg", MENVCFG_STCE);
    }
    sbi::set_sstc_enabled(sstc);
    // PMP entry 0: the whole address space, RWX, not locked (M-mode stays unrestricted).
    csr::write!("pmpaddr0", usize::MAX);
    csr::write!("pmpcfg0", PMP_A_NAPOT | PMP_R | PMP_W | PMP_X);
    csr::write!("satp", 0);
    csr::write!("mie", MIP_MSIP);
    csr::clear!("mip", MIP_SSIP | MIP_STIP);
}

/// Enters S-mode at `addr` with a0 = hartid and a1 = `arg`, the MMU off and S interrupts
/// disabled, as the SBI and Linux boot conventions require. `configure_hart` must have run.
fn enter_supervisor(me: usize, addr: usize, arg: usize) -> ! {
    csr::clear!(
        "mstatus",
        MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MIE | MSTATUS_MPRV
    );
    csr::set!("mstatus", PRIV_S << MSTATUS_MPP_SHIFT);
    // SAFETY: mret leaves the firmware; from now on the M stack is only used by traps,
    // which find its top in mscratch.
    unsafe {
        core::arch::asm!(
            "csrw mepc, {addr}",
            "csrw mscratch, {stack}",
            "mret",
            addr = in(reg) addr,
            stack = in(reg) stack_top(me),
            in("a0") me,
            in("a1") arg,
            options(noreturn),
        )
    }
}

pub fn halt() -> ! {
    loop {
        // SAFETY: wfi only waits.
        unsafe { core::arch::asm!("wfi") };
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("fatal: firmware panic: {info}");
    power::shutdown_failure(1);
    halt()
}

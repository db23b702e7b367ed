//! The few SBI calls the kernel makes: console output and system reset.

use core::arch::asm;

const EID_LEGACY_CONSOLE_PUTCHAR: usize = 0x01;
const EID_BASE: usize = 0x10;
const FID_PROBE_EXTENSION: usize = 3;
const EID_DBCN: usize = 0x4442_434E;
const FID_DBCN_WRITE_BYTE: usize = 2;
const EID_SRST: usize = 0x5352_5354;
const SRST_TYPE_SHUTDOWN: usize = 0;

/// Why the system is being reset; the emulator turns anything but `None` into a non-zero
/// exit status.
#[derive(Clone, Copy)]
pub enum ResetReason {
    None = 0,
    SystemFailure = 1,
}

#[inline(always)]
fn ecall(eid: usize, fid: usize, arg0: usize, arg1: usize) -> (isize, usize) {
    let (error, value): (usize, usize);
    // SAFETY: an SBI call only transfers control to the firmware, which returns here.
    unsafe {
        asm!("ecall",
            inlateout("a0") arg0 => error,
            inlateout("a1") arg1 => value,
            in("a6") fid,
            in("a7") eid,
            options(nostack));
    }
    (error as isize, value)
}

/// Whether the firmware implements `eid` (SBI base extension, probe_extension).
pub fn probe_extension(eid: usize) -> bool {
    let (error, value) = ecall(EID_BASE, FID_PROBE_EXTENSION, eid, 0);
    error == 0 && value != 0
}

pub fn has_debug_console() -> bool {
    probe_extension(EID_DBCN)
}

/// Write one byte with the debug-console extension, or the legacy call when the firmware
/// has no DBCN. Both are plain register calls, so this is usable before the MMU is on.
#[inline(always)]
pub fn console_putchar(byte: u8, use_dbcn: bool) {
    if use_dbcn {
        ecall(EID_DBCN, FID_DBCN_WRITE_BYTE, byte as usize, 0);
    } else {
        ecall(EID_LEGACY_CONSOLE_PUTCHAR, 0, byte as usize, 0);
    }
}

/// Power the machine off. Only returns if the firmware lacks SRST, in which case the hart
/// parks itself.
pub fn shutdown(reason: ResetReason) -> ! {
    ecall(EID_SRST, 0, SRST_TYPE_SHUTDOWN, reason as usize);
    loop {
        // SAFETY: waiting for an interrupt that never comes (all are masked) is harmless.
        unsafe { asm!("wfi") };
    }
}

//! The devices of the `virt` machine this firmware drives: the CLINT, the ns16550a UART and
//! the sifive test (power) device. Addresses are fixed by the machine (DESIGN.md §3).

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};

const CLINT_BASE: usize = 0x0200_0000;
const CLINT_MSIP: usize = CLINT_BASE;
const CLINT_MTIMECMP: usize = CLINT_BASE + 0x4000;
const UART_BASE: usize = 0x1000_0000;
const TEST_DEVICE: usize = 0x0010_0000;

/// Orders normal memory accesses against device accesses (plain `fence rw,rw` does not
/// cover I/O on RISC-V).
#[inline(always)]
pub fn io_fence() {
    // SAFETY: a fence has no effect besides ordering.
    unsafe { core::arch::asm!("fence iorw, iorw") };
}

pub mod clint {
    use super::*;

    pub fn send_soft_interrupt(hart: usize) {
        io_fence();
        // SAFETY: msip[hart] is a 32-bit CLINT register; callers pass present harts only.
        unsafe { write_volatile((CLINT_MSIP + 4 * hart) as *mut u32, 1) };
    }

    pub fn clear_soft_interrupt(hart: usize) {
        // SAFETY: as above.
        unsafe { write_volatile((CLINT_MSIP + 4 * hart) as *mut u32, 0) };
        io_fence();
    }

    pub fn set_timer_compare(hart: usize, deadline: u64) {
        // SAFETY: mtimecmp[hart] is a 64-bit CLINT register.
        unsafe { write_volatile((CLINT_MTIMECMP + 8 * hart) as *mut u64, deadline) };
    }
}

pub mod uart {
    use super::*;

    const THR_RBR: usize = 0;
    const IER: usize = 1;
    const FCR: usize = 2;
    const LCR: usize = 3;
    const LSR: usize = 5;
    const LSR_DATA_READY: u8 = 1 << 0;
    const LSR_THR_EMPTY: u8 = 1 << 5;

    /// Serialises multi-byte writes so that lines from different harts do not interleave.
    static LOCK: AtomicBool = AtomicBool::new(false);

    fn reg(offset: usize) -> *mut u8 {
        (UART_BASE + offset) as *mut u8
    }

    /// 8N1, FIFOs on, interrupts off: the state the kernel's early console expects.
    pub fn init() {
        // SAFETY: the UART registers are byte-wide MMIO registers.
        unsafe {
            write_volatile(reg(IER), 0);
            write_volatile(reg(LCR), 0x03);
            write_volatile(reg(FCR), 0x07);
        }
    }

    pub fn put_byte(byte: u8) {
        // SAFETY: as in `init`.
        unsafe {
            while read_volatile(reg(LSR)) & LSR_THR_EMPTY == 0 {
                core::hint::spin_loop();
            }
            write_volatile(reg(THR_RBR), byte);
        }
    }

    pub fn get_byte() -> Option<u8> {
        // SAFETY: as in `init`.
        unsafe {
            (read_volatile(reg(LSR)) & LSR_DATA_READY != 0).then(|| read_volatile(reg(THR_RBR)))
        }
    }

    /// Runs `f` with the console to itself (M-mode code is never interrupted, so a plain
    /// spinlock cannot deadlock against the same hart).
    pub fn locked<R>(f: impl FnOnce() -> R) -> R {
        while LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        let result = f();
        LOCK.store(false, Ordering::Release);
        result
    }
}

/// `core::fmt` sink for firmware messages.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(uart::put_byte);
        Ok(())
    }
}

/// Prints a line on the UART, prefixed so that firmware output is recognisable in logs.
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::platform::uart::locked(|| {
            use core::fmt::Write as _;
            let _ = writeln!($crate::platform::Console, "emu-sbi: {}", format_args!($($arg)*));
        })
    };
}
pub(crate) use println;

pub mod power {
    use super::*;

    const PASS: u32 = 0x5555;
    const FAIL: u32 = 0x3333;
    const RESET: u32 = 0x7777;

    fn write(value: u32) {
        io_fence();
        // SAFETY: the test device's command register is 32 bits wide.
        unsafe { write_volatile(TEST_DEVICE as *mut u32, value) };
        io_fence();
    }

    pub fn shutdown() {
        write(PASS);
    }

    /// Powers off reporting failure; the emulator (and QEMU) exit with status `code`.
    pub fn shutdown_failure(code: u16) {
        write(FAIL | (u32::from(code) << 16));
    }

    pub fn reboot() {
        write(RESET);
    }
}

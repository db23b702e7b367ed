//! Devices of the `virt` board. Each implements [`crate::bus::MmioDevice`] and knows
//! nothing of the hart loop.

pub mod clint;
pub mod console;
pub mod console_expect;
pub mod plic;
pub mod rtc;
pub mod test_device;
pub mod uart;
pub mod virtio;

/// Frequency of `mtime` (and of the timebase the device tree states).
pub const TIMEBASE_HZ: u64 = 10_000_000;

/// What drives `mtime`, and the devices that keep time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// mtime follows retired instructions: same inputs, same run.
    Deterministic,
    /// mtime follows the host's wall clock.
    Host,
}

/// Whether console input can still arrive (so a machine whose harts all sleep in WFI
/// may yet be woken). Only the host's stdin counts: a test's private queue cannot be fed
/// while the machine runs on the test's own thread.
pub fn console_input_open() -> bool {
    console::stdin_input_open()
}

//! Devices of the `virt` board. Each implements [`crate::bus::MmioDevice`] and knows
//! nothing of the hart loop.

pub mod clint;
pub mod console;
pub mod plic;
pub mod rtc;
pub mod test_device;
pub mod uart;

use crate::bus::Bus;
use crate::machine::{map, MachineConfig};

/// Map the board's devices (everything but RAM and the boot ROM).
pub fn attach_board_devices(bus: &mut Bus, config: &MachineConfig) {
    bus.map(
        map::TEST,
        0x1000,
        Box::new(test_device::TestDevice::default()),
    );
    bus.map(
        map::RTC,
        0x1000,
        Box::new(rtc::GoldfishRtc::new(config.clock)),
    );
    bus.map(
        map::CLINT,
        map::CLINT_SIZE,
        Box::new(clint::Clint::new(config.harts)),
    );
    bus.map(
        map::PLIC,
        map::PLIC_SIZE,
        Box::new(plic::Plic::new(config.harts)),
    );
    bus.map(
        map::UART0,
        0x100,
        Box::new(uart::Uart::new(
            config.console_output.clone(),
            config.console_input.open(),
        )),
    );
}

/// Whether console input can still arrive (so a machine whose harts all sleep in WFI
/// may yet be woken). Only the host's stdin counts: a test's private queue cannot be fed
/// while the machine runs on the test's own thread.
pub fn console_input_open() -> bool {
    console::stdin_input_open()
}

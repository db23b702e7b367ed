//! Devices of the `virt` board. Each implements [`crate::bus::MmioDevice`] and knows
//! nothing of the hart loop.

pub mod test_device;

use crate::bus::Bus;
use crate::machine::{map, MachineConfig};

/// Map the board's devices (everything but RAM and the boot ROM).
pub fn attach_board_devices(bus: &mut Bus, _config: &MachineConfig) {
    bus.map(
        map::TEST,
        0x1000,
        Box::new(test_device::TestDevice::default()),
    );
}

/// Whether console input can still arrive (so a machine whose harts all sleep in WFI
/// may yet be woken).
pub fn console_input_open() -> bool {
    false
}

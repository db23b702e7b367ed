//! The `virt` board's devices, wired onto the bus: each at its base address from [`map`],
//! with its interrupt line and clock.

use super::{map, ClockMode, MachineConfig};
use crate::bus::Bus;
use crate::devices::virtio::VirtioBackend;
use crate::devices::{clint, plic, rtc, test_device, uart, virtio};

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
        Box::new(rtc::GoldfishRtc::new(config.clock, map::RTC_IRQ)),
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
            map::UART0_IRQ,
        )),
    );
    for (slot, backend) in virtio_backends(config).into_iter().enumerate() {
        let base = map::VIRTIO0 + slot as u64 * map::VIRTIO_STRIDE;
        let irq = 1 + slot as u32;
        bus.map(
            base,
            map::VIRTIO_STRIDE,
            Box::new(virtio::VirtioMmio::new(slot, irq, backend)),
        );
    }
}

/// How many `--disk`s and `--share`s fit together: every virtio slot, less the one the
/// entropy device takes.
pub fn max_disks(config: &MachineConfig) -> usize {
    map::VIRTIO_COUNT as usize - config.virtio_rng as usize
}

/// What sits in each of the eight virtio-mmio slots: the disks in order (so the first
/// `--disk` is the guest's `vda`), then the 9P shares, then the entropy device, then
/// empty slots. Devices beyond [`max_disks`] are not attached; the CLI rejects them
/// before this point.
fn virtio_backends(config: &MachineConfig) -> Vec<Option<Box<dyn VirtioBackend>>> {
    let mut slots: Vec<Option<Box<dyn VirtioBackend>>> = Vec::new();
    for disk in config.disks.iter().take(max_disks(config)) {
        slots.push(Some(Box::new(virtio::blk::Block::new(
            disk.clone(),
            config.snapshot,
        ))));
    }
    for share in &config.shares {
        if slots.len() < max_disks(config) {
            slots.push(Some(Box::new(virtio::p9::NineP::new(share))));
        }
    }
    if config.virtio_rng {
        let host = config.clock == ClockMode::Host;
        slots.push(Some(Box::new(virtio::rng::Entropy::new(
            config.rng_seed,
            host,
        ))));
    }
    slots.resize_with(map::VIRTIO_COUNT as usize, || None);
    slots
}

//! The board's devices as the machine wires them: through the bus at their `virt`
//! addresses, with interrupt lines sampled and fed to the PLIC the way
//! `Machine::update_interrupts` does.

use emu::bus::{Bus, ExitRequest};
use emu::devices::console::{ConsoleInput, ConsoleInputSource, ConsoleOutput};
use emu::devices::{clint, plic};
use emu::machine::board::attach_board_devices;
use emu::machine::MachineConfig;

const UART: u64 = 0x1000_0000;
const PLIC: u64 = 0x0c00_0000;
const CLINT: u64 = 0x0200_0000;

struct Board {
    bus: Bus,
    input: ConsoleInput,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

fn board(harts: usize) -> Board {
    let (out, buf) = ConsoleOutput::capture();
    let input = ConsoleInput::new();
    let config = MachineConfig {
        harts,
        ram_size: 1 << 20,
        console_output: out,
        console_input: ConsoleInputSource::Queue(input.clone()),
        ..MachineConfig::default()
    };
    let mut bus = Bus::new(config.ram_size);
    attach_board_devices(&mut bus, &config);
    Board {
        bus,
        input,
        output: buf,
    }
}

impl Board {
    /// One machine step between quanta: poll devices, route lines into the PLIC, and
    /// return the mip bits each hart would see.
    fn sample(&mut self, now: u64, harts: usize) -> Vec<u64> {
        self.bus.poll_devices(now);
        let levels: Vec<(u32, bool)> = self.bus.irq_lines().collect();
        self.bus
            .device_mut("plic")
            .unwrap()
            .set_source_levels(&levels);
        (0..harts)
            .map(|h| {
                ["clint", "plic"]
                    .iter()
                    .map(|n| self.bus.device_mut(n).unwrap().interrupt_bits(h))
                    .fold(0, |a, b| a | b)
            })
            .collect()
    }
}

#[test]
fn uart_output_reaches_the_console() {
    let mut b = board(1);
    for &c in b"hello\n" {
        b.bus.write(UART, 1, c as u64).unwrap();
    }
    assert_eq!(&*b.output.lock().unwrap(), b"hello\n");
}

#[test]
fn typed_key_interrupts_supervisor_through_plic_and_completes() {
    let mut b = board(1);
    b.bus.write(PLIC + 4 * 10, 4, 1).unwrap();
    // Context 1 = hart 0, S-mode.
    b.bus.write(PLIC + 0x2080, 4, 1 << 10).unwrap();
    b.bus.write(UART + 1, 1, 1).unwrap();
    assert_eq!(b.sample(0, 1), vec![0]);

    b.input.push(b"x");
    assert_eq!(b.sample(1, 1), vec![plic::MIP_SEIP]);
    assert_eq!(b.bus.read(PLIC + 0x20_1004, 4), Ok(10));
    assert_eq!(b.bus.read(UART, 1), Ok(b'x' as u64));
    b.bus.write(PLIC + 0x20_1004, 4, 10).unwrap();
    assert_eq!(b.sample(2, 1), vec![0]);
}

#[test]
fn clint_timer_and_software_interrupts_per_hart() {
    let mut b = board(2);
    b.bus.write(CLINT + 0x4008, 8, 100).unwrap();
    assert_eq!(b.sample(99, 2), vec![0, 0]);
    assert_eq!(
        b.bus.device_mut("clint").unwrap().next_deadline(),
        Some(100)
    );
    assert_eq!(b.sample(100, 2), vec![0, clint::MIP_MTIP]);
    assert_eq!(b.bus.read(CLINT + 0xbff8, 8), Ok(100));
    b.bus.write(CLINT, 4, 1).unwrap();
    assert_eq!(b.sample(100, 2), vec![clint::MIP_MSIP, clint::MIP_MTIP]);
}

#[test]
fn ctrl_a_x_on_the_console_stops_the_machine() {
    let mut b = board(1);
    let mut filter = emu::devices::console::EscapeFilter::default();
    emu::devices::console::feed_keys(&mut filter, &b.input, b"\x01x", &mut |_| {});
    assert_eq!(b.bus.exit_request, None);
    b.sample(0, 1);
    assert_eq!(b.bus.exit_request, Some(ExitRequest::Exit(0)));
}

#[test]
fn test_device_poweroff_and_failure_codes() {
    let mut b = board(1);
    b.bus.write(0x10_0000, 4, 0x3333 | (3 << 16)).unwrap();
    assert_eq!(b.bus.exit_request.take(), Some(ExitRequest::Exit(3)));
    b.bus.write(0x10_0000, 4, 0x5555).unwrap();
    assert_eq!(b.bus.exit_request.take(), Some(ExitRequest::Exit(0)));
    b.bus.write(0x10_0000, 4, 0x7777).unwrap();
    assert_eq!(b.bus.exit_request.take(), Some(ExitRequest::Reset));
}

#[test]
fn rtc_reads_deterministic_wall_clock() {
    let mut b = board(1);
    b.bus.poll_devices(10_000_000);
    let low = b.bus.read(0x10_1000, 4).unwrap();
    let high = b.bus.read(0x10_1004, 4).unwrap();
    assert_eq!(
        (high << 32) | low,
        emu::devices::rtc::DETERMINISTIC_EPOCH_NS + 1_000_000_000
    );
}

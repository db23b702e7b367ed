//! NS16550A UART, the console Linux's `8250` driver and OpenSBI expect on `virt`.
//!
//! Transmission is instantaneous: a byte written to THR goes straight to the
//! [`ConsoleOutput`], so THR is always empty (LSR.THRE and LSR.TEMT always set). The
//! "THR empty" interrupt follows the 16550 rule: it becomes pending when THR empties
//! (after every write) or when the guest enables it while THR is empty, and it is
//! cleared by writing THR or by reading IIR while it is the reported cause.

use super::console::{ConsoleInput, ConsoleOutput};
use crate::bus::{DeviceError, ExitRequest, MmioDevice, Ram};
use std::collections::VecDeque;

const RBR_THR_DLL: u64 = 0;
const IER_DLM: u64 = 1;
const IIR_FCR: u64 = 2;
const LCR: u64 = 3;
const MCR: u64 = 4;
const LSR: u64 = 5;
const MSR: u64 = 6;
const SCR: u64 = 7;

const IER_RDA: u8 = 1 << 0;
const IER_THRE: u8 = 1 << 1;
const IER_MASK: u8 = 0x0f;

const IIR_NONE: u8 = 0x01;
const IIR_THRE: u8 = 0x02;
const IIR_RDA: u8 = 0x04;
const IIR_FIFO_ENABLED: u8 = 0xc0;

const FCR_FIFO_ENABLE: u8 = 1 << 0;
const FCR_CLEAR_RX: u8 = 1 << 1;

const LCR_DLAB: u8 = 1 << 7;

const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;

const MCR_LOOP: u8 = 1 << 4;
const MCR_MASK: u8 = 0x1f;

/// Modem status when not in loopback: carrier, data-set-ready and clear-to-send, i.e. a
/// permanently connected line, so drivers never wait for flow control.
const MSR_CONNECTED: u8 = 0xb0;

const FIFO_DEPTH: usize = 16;

pub struct Uart {
    /// Its interrupt line (PLIC source).
    irq: u32,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    dll: u8,
    dlm: u8,
    fifo_enabled: bool,
    thre_pending: bool,
    rx: VecDeque<u8>,
    output: ConsoleOutput,
    input: Option<ConsoleInput>,
    /// The guest has accessed a register. Until then typed bytes stay in the console
    /// queue, so a program that reads the console another way (the HTIF syscall proxy)
    /// does not lose them to a FIFO nobody reads.
    in_use: bool,
}

impl Uart {
    /// A UART writing to `output` and, when `input` is given, reading from it.
    pub fn new(output: ConsoleOutput, input: Option<ConsoleInput>, irq: u32) -> Self {
        Uart {
            irq,
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            dll: 0,
            dlm: 0,
            fifo_enabled: false,
            thre_pending: false,
            rx: VecDeque::new(),
            output,
            input,
            in_use: false,
        }
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    /// Move typed bytes into the receive FIFO, as far as it has room.
    fn fill_rx(&mut self) {
        if let Some(input) = &self.input {
            while self.rx.len() < FIFO_DEPTH {
                match input.pop() {
                    Some(b) => self.rx.push_back(b),
                    None => break,
                }
            }
        }
    }

    /// The highest-priority pending interrupt, in IIR encoding (without FIFO bits).
    fn pending_cause(&self) -> u8 {
        if self.ier & IER_RDA != 0 && !self.rx.is_empty() {
            IIR_RDA
        } else if self.ier & IER_THRE != 0 && self.thre_pending {
            IIR_THRE
        } else {
            IIR_NONE
        }
    }

    fn transmit(&mut self, byte: u8) {
        if self.mcr & MCR_LOOP != 0 {
            if self.rx.len() < FIFO_DEPTH {
                self.rx.push_back(byte);
            }
        } else {
            self.output.write_byte(byte);
        }
        self.thre_pending = true;
    }

    fn modem_status(&self) -> u8 {
        if self.mcr & MCR_LOOP == 0 {
            return MSR_CONNECTED;
        }
        // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD; drivers probe this.
        let m = self.mcr;
        ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
    }

    fn read_reg(&mut self, reg: u64) -> u8 {
        self.in_use = true;
        match reg {
            RBR_THR_DLL if self.dlab() => self.dll,
            RBR_THR_DLL => {
                if self.rx.is_empty() {
                    self.fill_rx();
                }
                self.rx.pop_front().unwrap_or(0)
            }
            IER_DLM if self.dlab() => self.dlm,
            IER_DLM => self.ier,
            IIR_FCR => {
                let cause = self.pending_cause();
                if cause == IIR_THRE {
                    self.thre_pending = false;
                }
                let fifo = if self.fifo_enabled {
                    IIR_FIFO_ENABLED
                } else {
                    0
                };
                cause | fifo
            }
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => {
                if self.rx.is_empty() {
                    self.fill_rx();
                }
                let dr = if self.rx.is_empty() { 0 } else { LSR_DR };
                dr | LSR_THRE | LSR_TEMT
            }
            MSR => self.modem_status(),
            SCR => self.scr,
            _ => 0,
        }
    }

    fn write_reg(&mut self, reg: u64, v: u8) {
        self.in_use = true;
        match reg {
            RBR_THR_DLL if self.dlab() => self.dll = v,
            RBR_THR_DLL => self.transmit(v),
            IER_DLM if self.dlab() => self.dlm = v,
            IER_DLM => {
                let was_enabled = self.ier & IER_THRE != 0;
                self.ier = v & IER_MASK;
                if !was_enabled && self.ier & IER_THRE != 0 {
                    // THR is always empty, so enabling the interrupt raises it at once.
                    self.thre_pending = true;
                }
            }
            IIR_FCR => {
                self.fifo_enabled = v & FCR_FIFO_ENABLE != 0;
                if v & FCR_CLEAR_RX != 0 {
                    self.rx.clear();
                }
            }
            LCR => self.lcr = v,
            MCR => self.mcr = v & MCR_MASK,
            SCR => self.scr = v,
            // LSR and MSR are read-only.
            _ => {}
        }
    }
}

impl MmioDevice for Uart {
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        self.write_snapshot(w)
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.read_snapshot(r)
    }
    fn name(&self) -> &str {
        "uart0"
    }

    /// Registers are bytes; wider accesses (some firmware uses 32-bit `reg-io-width`) see
    /// the register in their low byte.
    fn read(&mut self, offset: u64, _size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        Ok(if offset < 8 {
            self.read_reg(offset) as u64
        } else {
            0
        })
    }

    fn write(
        &mut self,
        offset: u64,
        _size: usize,
        value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if offset < 8 {
            self.write_reg(offset, value as u8);
        }
        Ok(())
    }

    fn poll(&mut self, _now: u64, _ram: &mut Ram) {
        if self.in_use {
            self.fill_rx();
        }
        self.output.flush();
    }

    fn irq_line(&self) -> Option<(u32, bool)> {
        Some((self.irq, self.pending_cause() != IIR_NONE))
    }

    fn take_exit_request(&mut self) -> Option<ExitRequest> {
        let input = self.input.as_ref()?;
        input.take_exit_request().then_some(ExitRequest::Exit(0))
    }
}

impl Uart {
    /// Snapshot state (`emu run --save`): registers and the receive FIFO. Bytes typed on
    /// the host but not yet taken into the FIFO belong to the host, not the snapshot.
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        for b in [self.ier, self.lcr, self.mcr, self.scr, self.dll, self.dlm] {
            w.u8(b);
        }
        w.bool(self.fifo_enabled);
        w.bool(self.thre_pending);
        w.bool(self.in_use);
        let rx: Vec<u8> = self.rx.iter().copied().collect();
        w.bytes(&rx);
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.ier = r.u8()?;
        self.lcr = r.u8()?;
        self.mcr = r.u8()?;
        self.scr = r.u8()?;
        self.dll = r.u8()?;
        self.dlm = r.u8()?;
        self.fifo_enabled = r.bool()?;
        self.thre_pending = r.bool()?;
        self.in_use = r.bool()?;
        let rx = r.bytes()?;
        if rx.len() > FIFO_DEPTH {
            return Err(r.error("holds more bytes than the receive FIFO"));
        }
        self.rx = rx.iter().copied().collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (
        Uart,
        ConsoleInput,
        std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        Ram,
    ) {
        let (out, buf) = ConsoleOutput::capture();
        let input = ConsoleInput::new();
        let uart = Uart::new(out, Some(input.clone()), 10);
        (uart, input, buf, Ram::new(0x8000_0000, 0x1000))
    }

    #[test]
    fn thr_writes_reach_output_and_lsr_reports_empty_transmitter() {
        let (mut u, _i, buf, mut r) = setup();
        for &b in b"ok\n" {
            u.write(0, 1, b as u64, &mut r).unwrap();
        }
        assert_eq!(&*buf.lock().unwrap(), b"ok\n");
        assert_eq!(u.read(5, 1, &mut r), Ok((LSR_THRE | LSR_TEMT) as u64));
    }

    #[test]
    fn received_bytes_set_dr_and_raise_rda_when_enabled() {
        let (mut u, input, _b, mut r) = setup();
        input.push(b"hi");
        u.poll(0, &mut r);
        assert_eq!(u.irq_line(), Some((10, false)));
        assert_eq!(u.read(5, 1, &mut r).unwrap() as u8 & LSR_DR, LSR_DR);
        u.write(1, 1, IER_RDA as u64, &mut r).unwrap();
        assert_eq!(u.irq_line(), Some((10, true)));
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_RDA as u64));
        assert_eq!(u.read(0, 1, &mut r), Ok(b'h' as u64));
        assert_eq!(u.read(0, 1, &mut r), Ok(b'i' as u64));
        assert_eq!(u.read(5, 1, &mut r).unwrap() as u8 & LSR_DR, 0);
        assert_eq!(u.irq_line(), Some((10, false)));
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_NONE as u64));
    }

    #[test]
    fn thre_interrupt_fires_on_enable_clears_on_iir_read_and_rearms_on_write() {
        let (mut u, _i, _b, mut r) = setup();
        u.write(1, 1, IER_THRE as u64, &mut r).unwrap();
        assert_eq!(u.irq_line(), Some((10, true)));
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_THRE as u64));
        assert_eq!(u.irq_line(), Some((10, false)));
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_NONE as u64));
        u.write(0, 1, b'x' as u64, &mut r).unwrap();
        assert_eq!(u.irq_line(), Some((10, true)));
        // Disabling the source drops the line even though the event is remembered.
        u.write(1, 1, 0, &mut r).unwrap();
        assert_eq!(u.irq_line(), Some((10, false)));
    }

    #[test]
    fn rda_has_priority_over_thre() {
        let (mut u, input, _b, mut r) = setup();
        u.write(1, 1, (IER_THRE | IER_RDA) as u64, &mut r).unwrap();
        input.push(b"a");
        u.poll(0, &mut r);
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_RDA as u64));
        // The THRE event was not consumed by that read.
        u.read(0, 1, &mut r).unwrap();
        assert_eq!(u.read(2, 1, &mut r), Ok(IIR_THRE as u64));
    }

    #[test]
    fn dlab_switches_to_divisor_latch() {
        let (mut u, _i, buf, mut r) = setup();
        u.write(3, 1, 0x83, &mut r).unwrap();
        u.write(0, 1, 0x01, &mut r).unwrap();
        u.write(1, 1, 0x02, &mut r).unwrap();
        assert_eq!(u.read(0, 1, &mut r), Ok(1));
        assert_eq!(u.read(1, 1, &mut r), Ok(2));
        u.write(3, 1, 0x03, &mut r).unwrap();
        assert_eq!(u.read(1, 1, &mut r), Ok(0));
        assert_eq!(u.read(3, 1, &mut r), Ok(3));
        assert!(buf.lock().unwrap().is_empty());
    }

    #[test]
    fn fifo_enable_shows_in_iir_and_scratch_holds_values() {
        let (mut u, _i, _b, mut r) = setup();
        u.write(2, 1, 0x07, &mut r).unwrap();
        assert_eq!(
            u.read(2, 1, &mut r),
            Ok((IIR_FIFO_ENABLED | IIR_NONE) as u64)
        );
        u.write(7, 1, 0xa5, &mut r).unwrap();
        assert_eq!(u.read(7, 1, &mut r), Ok(0xa5));
    }

    #[test]
    fn loopback_echoes_and_reflects_modem_lines() {
        let (mut u, _i, buf, mut r) = setup();
        assert_eq!(u.read(6, 1, &mut r), Ok(MSR_CONNECTED as u64));
        u.write(4, 1, (MCR_LOOP | 0x0a) as u64, &mut r).unwrap();
        assert_eq!(u.read(6, 1, &mut r).unwrap() & 0xf0, 0x90);
        u.write(0, 1, 0x55, &mut r).unwrap();
        assert_eq!(u.read(0, 1, &mut r), Ok(0x55));
        assert!(buf.lock().unwrap().is_empty());
    }

    #[test]
    fn ctrl_a_x_from_input_becomes_exit_request() {
        let (mut u, input, _b, _r) = setup();
        assert_eq!(u.take_exit_request(), None);
        input.request_exit();
        assert_eq!(u.take_exit_request(), Some(ExitRequest::Exit(0)));
    }
}

//! CLINT (SiFive core-local interruptor): per-hart software interrupts (msip) and timer
//! compare registers (mtimecmp) against the machine's `mtime`.
//!
//! `mtime` is owned by the machine (it follows retired instructions or the host clock) and
//! arrives through [`MmioDevice::poll`]. Guest writes to `mtime` are accepted and ignored:
//! letting the guest move time would make the `time` CSR, which the machine feeds from the
//! same clock, disagree with this register. No guest we run writes it.

use crate::bus::{DeviceError, MmioDevice, Ram};

const MSIP_BASE: u64 = 0x0;
const MTIMECMP_BASE: u64 = 0x4000;
const MTIME: u64 = 0xbff8;

/// mip bits the CLINT drives.
pub const MIP_MSIP: u64 = 1 << 3;
pub const MIP_MTIP: u64 = 1 << 7;

pub struct Clint {
    msip: Vec<bool>,
    mtimecmp: Vec<u64>,
    mtime: u64,
}

impl Clint {
    pub fn new(harts: usize) -> Self {
        Clint {
            msip: vec![false; harts],
            mtimecmp: vec![u64::MAX; harts],
            mtime: 0,
        }
    }

    /// Which hart's msip word `offset` falls in, if any.
    fn msip_hart(&self, offset: u64) -> Option<usize> {
        let hart = ((offset - MSIP_BASE) / 4) as usize;
        (offset < MTIMECMP_BASE && hart < self.msip.len()).then_some(hart)
    }

    /// Which hart's mtimecmp `offset` falls in, and the byte offset inside it.
    fn mtimecmp_slot(&self, offset: u64) -> Option<(usize, u64)> {
        if offset < MTIMECMP_BASE {
            return None;
        }
        let rel = offset - MTIMECMP_BASE;
        let hart = (rel / 8) as usize;
        (hart < self.mtimecmp.len()).then_some((hart, rel % 8))
    }
}

/// Read `size` bytes at byte `shift` of a 64-bit register.
fn read_part(reg: u64, shift: u64, size: usize) -> u64 {
    let v = reg >> (8 * shift);
    if size >= 8 {
        v
    } else {
        v & ((1u64 << (8 * size)) - 1)
    }
}

/// Replace `size` bytes at byte `shift` of a 64-bit register (32-bit halves of mtimecmp
/// are how RV32 software and some firmware write it).
fn write_part(reg: u64, shift: u64, size: usize, value: u64) -> u64 {
    if size >= 8 {
        return value;
    }
    let mask = ((1u64 << (8 * size)) - 1) << (8 * shift);
    (reg & !mask) | ((value << (8 * shift)) & mask)
}

/// Accesses must be naturally aligned and stay inside one register.
fn fits(offset: u64, size: usize, reg_size: u64) -> bool {
    let size = size as u64;
    let size = size.max(1);
    offset & (size - 1) == 0 && (offset % reg_size) + size <= reg_size
}

impl MmioDevice for Clint {
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
        "clint"
    }

    fn read(&mut self, offset: u64, size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        if let Some(hart) = self.msip_hart(offset) {
            if !fits(offset, size, 4) {
                return Err(DeviceError);
            }
            return Ok(read_part(self.msip[hart] as u64, offset % 4, size));
        }
        if (MTIME..MTIME + 8).contains(&offset) {
            if !fits(offset, size, 8) {
                return Err(DeviceError);
            }
            return Ok(read_part(self.mtime, offset - MTIME, size));
        }
        if let Some((hart, shift)) = self.mtimecmp_slot(offset) {
            if !fits(offset, size, 8) {
                return Err(DeviceError);
            }
            return Ok(read_part(self.mtimecmp[hart], shift, size));
        }
        // Unimplemented holes in the CLINT window read as zero, as on real parts.
        Ok(0)
    }

    fn write(
        &mut self,
        offset: u64,
        size: usize,
        value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if let Some(hart) = self.msip_hart(offset) {
            if !fits(offset, size, 4) {
                return Err(DeviceError);
            }
            if offset & 3 == 0 {
                self.msip[hart] = value & 1 != 0;
            }
            return Ok(());
        }
        if (MTIME..MTIME + 8).contains(&offset) {
            return if fits(offset, size, 8) {
                Ok(())
            } else {
                Err(DeviceError)
            };
        }
        if let Some((hart, shift)) = self.mtimecmp_slot(offset) {
            if !fits(offset, size, 8) {
                return Err(DeviceError);
            }
            self.mtimecmp[hart] = write_part(self.mtimecmp[hart], shift, size, value);
        }
        Ok(())
    }

    fn poll(&mut self, now: u64, _ram: &mut Ram) {
        self.mtime = now;
    }

    fn interrupt_bits(&self, hart: usize) -> u64 {
        let mut bits = 0;
        if self.msip.get(hart) == Some(&true) {
            bits |= MIP_MSIP;
        }
        if self
            .mtimecmp
            .get(hart)
            .is_some_and(|&cmp| self.mtime >= cmp)
        {
            bits |= MIP_MTIP;
        }
        bits
    }

    /// The earliest compare value still in the future: past ones have already raised
    /// MTIP, so only future ones can change an output by themselves. `u64::MAX` is how
    /// software disarms a timer, so it never counts as a deadline.
    fn next_deadline(&self) -> Option<u64> {
        self.mtimecmp
            .iter()
            .copied()
            .filter(|&cmp| cmp > self.mtime && cmp != u64::MAX)
            .min()
    }
}

impl Clint {
    /// Snapshot state (`emu run --save`).
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.u64(self.msip.len() as u64);
        for (&s, &cmp) in self.msip.iter().zip(&self.mtimecmp) {
            w.bool(s);
            w.u64(cmp);
        }
        w.u64(self.mtime);
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        if r.u64()? != self.msip.len() as u64 {
            return Err(r.error("has another number of harts"));
        }
        for (s, cmp) in self.msip.iter_mut().zip(&mut self.mtimecmp) {
            *s = r.bool()?;
            *cmp = r.u64()?;
        }
        self.mtime = r.u64()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram() -> Ram {
        Ram::new(0x8000_0000, 0x1000)
    }

    #[test]
    fn msip_sets_and_clears_software_interrupt() {
        let mut c = Clint::new(2);
        let mut r = ram();
        c.write(4, 4, 1, &mut r).unwrap();
        assert_eq!(c.interrupt_bits(1), MIP_MSIP);
        assert_eq!(c.interrupt_bits(0), 0);
        assert_eq!(c.read(4, 4, &mut r), Ok(1));
        c.write(4, 4, 0xfffe, &mut r).unwrap();
        assert_eq!(c.interrupt_bits(1), 0);
    }

    #[test]
    fn msip_beyond_last_hart_reads_zero_and_ignores_writes() {
        let mut c = Clint::new(1);
        let mut r = ram();
        c.write(8, 4, 1, &mut r).unwrap();
        assert_eq!(c.read(8, 4, &mut r), Ok(0));
        assert_eq!(c.interrupt_bits(2), 0);
    }

    #[test]
    fn mtimecmp_resets_disarmed_and_raises_mtip_when_reached() {
        let mut c = Clint::new(2);
        let mut r = ram();
        assert_eq!(c.read(0x4008, 8, &mut r), Ok(u64::MAX));
        assert_eq!(c.next_deadline(), None);
        c.write(0x4008, 8, 500, &mut r).unwrap();
        c.poll(499, &mut r);
        assert_eq!(c.interrupt_bits(1), 0);
        assert_eq!(c.next_deadline(), Some(500));
        c.poll(500, &mut r);
        assert_eq!(c.interrupt_bits(1), MIP_MTIP);
        assert_eq!(c.interrupt_bits(0), 0);
        // Reached deadlines no longer count as future events.
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn mtimecmp_32bit_halves() {
        let mut c = Clint::new(1);
        let mut r = ram();
        c.write(0x4000, 4, 0x1234_5678, &mut r).unwrap();
        c.write(0x4004, 4, 0x9, &mut r).unwrap();
        assert_eq!(c.read(0x4000, 8, &mut r), Ok(0x9_1234_5678));
        assert_eq!(c.read(0x4004, 4, &mut r), Ok(0x9));
        assert_eq!(c.read(0x4000, 4, &mut r), Ok(0x1234_5678));
    }

    #[test]
    fn next_deadline_is_minimum_over_harts() {
        let mut c = Clint::new(3);
        let mut r = ram();
        c.write(0x4000, 8, 900, &mut r).unwrap();
        c.write(0x4010, 8, 300, &mut r).unwrap();
        assert_eq!(c.next_deadline(), Some(300));
    }

    #[test]
    fn mtime_reads_machine_time_and_ignores_writes() {
        let mut c = Clint::new(1);
        let mut r = ram();
        c.poll(0x1_0000_0002, &mut r);
        assert_eq!(c.read(0xbff8, 8, &mut r), Ok(0x1_0000_0002));
        assert_eq!(c.read(0xbffc, 4, &mut r), Ok(1));
        c.write(0xbff8, 8, 7, &mut r).unwrap();
        assert_eq!(c.read(0xbff8, 8, &mut r), Ok(0x1_0000_0002));
    }

    #[test]
    fn misaligned_access_faults() {
        let mut c = Clint::new(1);
        let mut r = ram();
        assert!(c.read(0x4002, 4, &mut r).is_err());
        assert!(c.write(0x4004, 8, 0, &mut r).is_err());
        assert!(c.read(0xbffa, 8, &mut r).is_err());
    }
}

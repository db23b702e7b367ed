//! Goldfish RTC: nanoseconds since the Unix epoch, plus one alarm.
//!
//! In deterministic mode the wall clock is a fixed epoch plus `mtime` (100 ns per tick),
//! so the same run reads the same dates; in host mode it is the host's clock. A guest
//! that sets the time moves an offset, as QEMU does.

use super::{ClockMode, TIMEBASE_HZ};
use crate::bus::{DeviceError, MmioDevice, Ram};

const TIME_LOW: u64 = 0x00;
const TIME_HIGH: u64 = 0x04;
const ALARM_LOW: u64 = 0x08;
const ALARM_HIGH: u64 = 0x0c;
const IRQ_ENABLED: u64 = 0x10;
const CLEAR_ALARM: u64 = 0x14;
const ALARM_STATUS: u64 = 0x18;
const CLEAR_INTERRUPT: u64 = 0x1c;

/// 2025-01-01T00:00:00Z: the wall-clock time at mtime 0 in deterministic mode.
pub const DETERMINISTIC_EPOCH_NS: u64 = 1_735_689_600 * 1_000_000_000;
const NS_PER_TICK: u64 = 1_000_000_000 / TIMEBASE_HZ;

pub struct GoldfishRtc {
    clock: ClockMode,
    /// Its interrupt line (PLIC source).
    irq: u32,
    mtime: u64,
    /// Added to the source clock once the guest sets the time.
    offset_ns: i64,
    /// TIME_HIGH as latched by the last TIME_LOW read (the pair must be read low first).
    latched_high: u32,
    /// Written by the guest before TIME_LOW / ALARM_LOW complete a 64-bit value.
    staged_high: u32,
    alarm_ns: Option<u64>,
    irq_enabled: bool,
    irq_pending: bool,
}

impl GoldfishRtc {
    pub fn new(clock: ClockMode, irq: u32) -> Self {
        GoldfishRtc {
            clock,
            irq,
            mtime: 0,
            offset_ns: 0,
            latched_high: 0,
            staged_high: 0,
            alarm_ns: None,
            irq_enabled: false,
            irq_pending: false,
        }
    }

    fn source_ns(&self) -> u64 {
        match self.clock {
            ClockMode::Deterministic => {
                DETERMINISTIC_EPOCH_NS.saturating_add(self.mtime.saturating_mul(NS_PER_TICK))
            }
            ClockMode::Host => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.source_ns().wrapping_add_signed(self.offset_ns)
    }

    fn staged(&self, low: u64) -> u64 {
        ((self.staged_high as u64) << 32) | (low & 0xffff_ffff)
    }

    fn check_alarm(&mut self) {
        if let Some(at) = self.alarm_ns {
            if self.now_ns() >= at {
                self.alarm_ns = None;
                self.irq_pending = true;
            }
        }
    }
}

impl MmioDevice for GoldfishRtc {
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
        "rtc"
    }

    fn read(&mut self, offset: u64, size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        let v = match offset {
            TIME_LOW => {
                let now = self.now_ns();
                self.latched_high = (now >> 32) as u32;
                now as u32
            }
            TIME_HIGH => self.latched_high,
            ALARM_LOW => self.alarm_ns.unwrap_or(0) as u32,
            ALARM_HIGH => (self.alarm_ns.unwrap_or(0) >> 32) as u32,
            IRQ_ENABLED => self.irq_enabled as u32,
            ALARM_STATUS => self.alarm_ns.is_some() as u32,
            _ => 0,
        };
        Ok(v as u64)
    }

    fn write(
        &mut self,
        offset: u64,
        size: usize,
        value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        match offset {
            TIME_HIGH | ALARM_HIGH => self.staged_high = value as u32,
            TIME_LOW => {
                let wanted = self.staged(value);
                self.offset_ns = wanted.wrapping_sub(self.source_ns()) as i64;
            }
            ALARM_LOW => {
                self.alarm_ns = Some(self.staged(value));
                self.check_alarm();
            }
            IRQ_ENABLED => self.irq_enabled = value & 1 != 0,
            CLEAR_ALARM => self.alarm_ns = None,
            CLEAR_INTERRUPT => self.irq_pending = false,
            _ => {}
        }
        Ok(())
    }

    fn poll(&mut self, now: u64, _ram: &mut Ram) {
        self.mtime = now;
        self.check_alarm();
    }

    /// In deterministic mode the alarm is a point in guest time: the first `mtime` at
    /// which it fires, so the machine ends a quantum there rather than noticing it late.
    /// (With the host's clock it is a point in host time, seen at the next poll.)
    fn next_deadline(&self) -> Option<u64> {
        let at = self.alarm_ns?;
        if self.clock != ClockMode::Deterministic {
            return None;
        }
        // Fires once EPOCH + mtime * NS_PER_TICK + offset >= at.
        let ns = at as i128 - self.offset_ns as i128 - DETERMINISTIC_EPOCH_NS as i128;
        let ticks = (ns.max(0) as u128).div_ceil(NS_PER_TICK as u128);
        Some(u64::try_from(ticks).unwrap_or(u64::MAX).max(self.mtime))
    }

    fn irq_line(&self) -> Option<(u32, bool)> {
        Some((self.irq, self.irq_pending && self.irq_enabled))
    }
}

impl GoldfishRtc {
    /// Snapshot state (`emu run --save`).
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.u64(self.mtime);
        w.i64(self.offset_ns);
        w.u32(self.latched_high);
        w.u32(self.staged_high);
        w.opt_u64(self.alarm_ns);
        w.bool(self.irq_enabled);
        w.bool(self.irq_pending);
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.mtime = r.u64()?;
        self.offset_ns = r.i64()?;
        self.latched_high = r.u32()?;
        self.staged_high = r.u32()?;
        self.alarm_ns = r.opt_u64()?;
        self.irq_enabled = r.bool()?;
        self.irq_pending = r.bool()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram() -> Ram {
        Ram::new(0x8000_0000, 0x1000)
    }

    fn read_time(rtc: &mut GoldfishRtc) -> u64 {
        let low = rtc.read(TIME_LOW, 4, &mut ram()).unwrap();
        let high = rtc.read(TIME_HIGH, 4, &mut ram()).unwrap();
        (high << 32) | low
    }

    #[test]
    fn deterministic_time_is_epoch_plus_mtime() {
        let mut rtc = GoldfishRtc::new(ClockMode::Deterministic, 11);
        rtc.poll(10_000_000, &mut ram());
        assert_eq!(read_time(&mut rtc), DETERMINISTIC_EPOCH_NS + 1_000_000_000);
    }

    #[test]
    fn low_read_latches_high() {
        let mut rtc = GoldfishRtc::new(ClockMode::Deterministic, 11);
        rtc.poll(0, &mut ram());
        let low = rtc.read(TIME_LOW, 4, &mut ram()).unwrap();
        // Time moves past a 2^32 ns boundary between the two reads.
        rtc.poll(1 << 30, &mut ram());
        let high = rtc.read(TIME_HIGH, 4, &mut ram()).unwrap();
        assert_eq!((high << 32) | low, DETERMINISTIC_EPOCH_NS);
    }

    #[test]
    fn setting_time_moves_the_clock() {
        let mut rtc = GoldfishRtc::new(ClockMode::Deterministic, 11);
        let target: u64 = 2_000_000_000 * 1_000_000_000;
        rtc.write(TIME_HIGH, 4, target >> 32, &mut ram()).unwrap();
        rtc.write(TIME_LOW, 4, target & 0xffff_ffff, &mut ram())
            .unwrap();
        assert_eq!(read_time(&mut rtc), target);
        rtc.poll(10, &mut ram());
        assert_eq!(read_time(&mut rtc), target + 1000);
    }

    #[test]
    fn alarm_raises_irq_when_enabled_and_clears() {
        let mut rtc = GoldfishRtc::new(ClockMode::Deterministic, 11);
        let at = DETERMINISTIC_EPOCH_NS + 5_000;
        rtc.write(IRQ_ENABLED, 4, 1, &mut ram()).unwrap();
        rtc.write(ALARM_HIGH, 4, at >> 32, &mut ram()).unwrap();
        rtc.write(ALARM_LOW, 4, at & 0xffff_ffff, &mut ram())
            .unwrap();
        assert_eq!(rtc.read(ALARM_STATUS, 4, &mut ram()), Ok(1));
        rtc.poll(49, &mut ram());
        assert_eq!(rtc.irq_line(), Some((11, false)));
        rtc.poll(50, &mut ram());
        assert_eq!(rtc.irq_line(), Some((11, true)));
        assert_eq!(rtc.read(ALARM_STATUS, 4, &mut ram()), Ok(0));
        rtc.write(CLEAR_INTERRUPT, 4, 1, &mut ram()).unwrap();
        assert_eq!(rtc.irq_line(), Some((11, false)));
    }

    #[test]
    fn the_alarm_is_a_deadline_in_mtime_ticks() {
        let mut rtc = GoldfishRtc::new(ClockMode::Deterministic, 11);
        assert_eq!(rtc.next_deadline(), None);
        // The guest set the clock forward by 1 s first, then an alarm 4,950 ns later.
        let now = DETERMINISTIC_EPOCH_NS + 1_000_000_000;
        rtc.write(TIME_HIGH, 4, now >> 32, &mut ram()).unwrap();
        rtc.write(TIME_LOW, 4, now & 0xffff_ffff, &mut ram())
            .unwrap();
        let at = now + 4_950;
        rtc.write(ALARM_HIGH, 4, at >> 32, &mut ram()).unwrap();
        rtc.write(ALARM_LOW, 4, at & 0xffff_ffff, &mut ram())
            .unwrap();
        // 100 ns per tick: the first tick at or past the alarm is the 50th.
        assert_eq!(rtc.next_deadline(), Some(50));
        rtc.poll(49, &mut ram());
        assert_eq!(rtc.irq_line(), Some((11, false)));
        rtc.poll(50, &mut ram());
        assert_eq!(rtc.read(ALARM_STATUS, 4, &mut ram()), Ok(0));
        assert_eq!(rtc.next_deadline(), None);
        // With the host's clock the alarm is not in guest time.
        let mut host = GoldfishRtc::new(ClockMode::Host, 11);
        host.write(ALARM_HIGH, 4, 0xffff_ffff, &mut ram()).unwrap();
        host.write(ALARM_LOW, 4, 0, &mut ram()).unwrap();
        assert_eq!(host.read(ALARM_STATUS, 4, &mut ram()), Ok(1));
        assert_eq!(host.next_deadline(), None);
    }

    #[test]
    fn host_clock_is_after_2024() {
        let mut rtc = GoldfishRtc::new(ClockMode::Host, 11);
        assert!(read_time(&mut rtc) > 1_704_067_200 * 1_000_000_000);
    }
}

//! The bus's part of a snapshot: HTIF registers, the device clock, and every mapped
//! device's own state, in mapping order (RAM is a section of its own). Console bytes the
//! guest wrote through HTIF and the machine has not printed yet are not saved: they were
//! written before the point, and the run that saves prints them.

use super::Bus;
use crate::snapshot::format::{Reader, Result, SnapError, Writer};

impl Bus {
    pub(crate) fn save_state(&self, w: &mut Writer) -> Result<()> {
        if self.htif_syscalls.open_files() > 0 {
            return Err(SnapError::new(
                "the program has host files open through the HTIF syscall proxy, which a snapshot cannot hold",
            ));
        }
        w.opt_u64(self.htif_tohost);
        w.opt_u64(self.htif_fromhost);
        w.u64(self.device_time);
        w.u64(self.mappings.len() as u64);
        for m in &self.mappings {
            w.str(m.dev.name());
            w.u64(m.base);
            w.u64(m.size);
            let mut dev = Writer::new();
            m.dev.save_state(&mut dev)?;
            w.bytes(&dev.buf);
        }
        Ok(())
    }

    /// Take the state [`Bus::save_state`] wrote into a freshly built bus with the same
    /// devices at the same places.
    pub(crate) fn restore_state(&mut self, r: &mut Reader) -> Result<()> {
        self.htif_tohost = r.opt_u64()?;
        self.htif_fromhost = r.opt_u64()?;
        self.device_time = r.u64()?;
        let n = r.len(24)?;
        if n != self.mappings.len() {
            return Err(r.error(format!(
                "holds {n} devices, the machine has {}",
                self.mappings.len()
            )));
        }
        for m in &mut self.mappings {
            let name = r.str()?;
            let (base, size) = (r.u64()?, r.u64()?);
            if name != m.dev.name() || base != m.base || size != m.size {
                return Err(r.error(format!(
                    "holds device {name} at {base:#x} where the machine has {} at {:#x}",
                    m.dev.name(),
                    m.base
                )));
            }
            let payload = r.bytes()?;
            let mut dr = Reader::new(payload, format!("device {name}"));
            m.dev.restore_state(&mut dr)?;
            dr.finish()?;
        }
        Ok(())
    }
}

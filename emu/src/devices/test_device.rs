//! SiFive test / syscon device: the guest writes a magic value to power off, fail with a
//! code, or reset.

use crate::bus::{DeviceError, ExitRequest, MmioDevice, Ram};

#[derive(Default)]
pub struct TestDevice {
    request: Option<ExitRequest>,
}

/// The values of the sifive,test0 protocol.
pub const FINISHER_PASS: u64 = 0x5555;
pub const FINISHER_FAIL: u64 = 0x3333;
pub const FINISHER_RESET: u64 = 0x7777;

/// Decode a finisher write into what the guest asked for.
pub fn decode(value: u64) -> Option<ExitRequest> {
    match value & 0xffff {
        FINISHER_PASS => Some(ExitRequest::Exit(0)),
        FINISHER_FAIL => Some(ExitRequest::Exit(((value >> 16) & 0xffff) as u32)),
        FINISHER_RESET => Some(ExitRequest::Reset),
        _ => None,
    }
}

impl MmioDevice for TestDevice {
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
        "test"
    }
    fn read(&mut self, _offset: u64, _size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        Ok(0)
    }
    fn write(
        &mut self,
        offset: u64,
        _size: usize,
        value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if offset == 0 {
            self.request = decode(value);
        }
        Ok(())
    }
    fn take_exit_request(&mut self) -> Option<ExitRequest> {
        self.request.take()
    }
}

impl TestDevice {
    /// Snapshot state: none between instructions (the bus takes a request at once).
    fn write_snapshot(
        &self,
        _w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        _r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.request = None;
        Ok(())
    }
}

/// Guest DRAM: one contiguous host allocation, little-endian like the guest.
pub struct Ram {
    base: u64,
    bytes: Vec<u8>,
}

impl Ram {
    pub fn new(base: u64, size: u64) -> Self {
        Ram {
            base,
            bytes: vec![0; size as usize],
        }
    }

    #[inline]
    pub fn base(&self) -> u64 {
        self.base
    }

    #[inline]
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Offset of `[pa, pa + len)` into RAM when the whole range is RAM.
    #[inline]
    pub fn offset_of(&self, pa: u64, len: u64) -> Option<usize> {
        let off = pa.wrapping_sub(self.base);
        if off < self.size() && len <= self.size() - off {
            Some(off as usize)
        } else {
            None
        }
    }

    #[inline]
    pub fn read(&self, pa: u64, size: usize) -> Option<u64> {
        let off = self.offset_of(pa, size as u64)?;
        let mut buf = [0u8; 8];
        buf[..size].copy_from_slice(&self.bytes[off..off + size]);
        Some(u64::from_le_bytes(buf))
    }

    #[inline]
    pub fn write(&mut self, pa: u64, size: usize, value: u64) -> bool {
        match self.offset_of(pa, size as u64) {
            Some(off) => {
                self.bytes[off..off + size].copy_from_slice(&value.to_le_bytes()[..size]);
                true
            }
            None => false,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Copy `data` to physical address `pa`; false if it does not fit in RAM.
    pub fn load(&mut self, pa: u64, data: &[u8]) -> bool {
        match self.offset_of(pa, data.len() as u64) {
            Some(off) => {
                self.bytes[off..off + data.len()].copy_from_slice(data);
                true
            }
            None => false,
        }
    }

    /// Read guest memory into `buf`; false if out of range.
    pub fn read_bytes(&self, pa: u64, buf: &mut [u8]) -> bool {
        match self.offset_of(pa, buf.len() as u64) {
            Some(off) => {
                buf.copy_from_slice(&self.bytes[off..off + buf.len()]);
                true
            }
            None => false,
        }
    }
}

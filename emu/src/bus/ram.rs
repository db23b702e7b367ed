/// Guest DRAM: one contiguous host allocation, little-endian like the guest.
///
/// Writes are of two kinds. A hart's own stores go through [`Ram::as_mut_slice`]: the
/// hart keeps its decoded code right itself (it forgets what a store overwrites). Every
/// other writer (devices' DMA, the page-table walker's A/D updates, the host: loader,
/// debugger, HTIF, snapshot restore) goes through [`Ram::write`], [`Ram::load`] or
/// [`Ram::bytes_mut`], which log the pages they write. A hart's `fence.i` then compares
/// with memory only the decoded pages written that way, and does nothing at all when no
/// watched page (one a hart decoded code from) was written since the last (see
/// `DecodeCache::fence`).
pub struct Ram {
    base: u64,
    bytes: Vec<u8>,
    /// Per 4 KiB page, the logged writes to it (wrapping).
    page_writes: Vec<u32>,
    /// Per 4 KiB page: a hart decoded code from it ([`Ram::watch`]).
    watched: Vec<bool>,
    /// Logged writes to watched pages.
    watched_writes: u64,
}

impl Ram {
    pub fn new(base: u64, size: u64) -> Self {
        Ram {
            base,
            bytes: vec![0; size as usize],
            // Zeroed, so the host backs only the pages of it that are written.
            page_writes: vec![0; (size as usize).div_ceil(4096)],
            watched: vec![false; (size as usize).div_ceil(4096)],
            watched_writes: 0,
        }
    }

    /// Log a write to `[off, off + len)` (RAM offsets).
    #[inline]
    fn log_write(&mut self, off: usize, len: usize) {
        if len == 0 {
            return;
        }
        for page in off >> 12..=(off + len - 1) >> 12 {
            self.page_writes[page] = self.page_writes[page].wrapping_add(1);
            self.watched_writes += self.watched[page] as u64;
        }
    }

    /// A hart decodes code from the page at RAM offset `page << 12`: from now on, logged
    /// writes to it count in [`Ram::watched_writes`].
    #[inline]
    pub fn watch(&mut self, page: usize) {
        self.watched[page] = true;
    }

    /// Logged writes to the page at RAM offset `page << 12` so far (wrapping): a
    /// decoded page whose count did not move since it was checked is unchanged.
    #[inline]
    pub fn page_writes(&self, page: usize) -> u32 {
        self.page_writes[page]
    }

    /// Logged writes to watched pages so far.
    #[inline]
    pub fn watched_writes(&self) -> u64 {
        self.watched_writes
    }

    /// `[off, off + len)` (RAM offsets) to write, for writers other than a hart's own
    /// stores; the write is logged. Panics when the range is not in RAM (callers have
    /// it from [`Ram::offset_of`]).
    pub fn bytes_mut(&mut self, off: usize, len: usize) -> &mut [u8] {
        self.log_write(off, len);
        &mut self.bytes[off..off + len]
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
                self.log_write(off, size);
                self.bytes[off..off + size].copy_from_slice(&value.to_le_bytes()[..size]);
                true
            }
            None => false,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// All of RAM, for a hart's own stores, which are not logged (see [`Ram`]).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Copy `data` to physical address `pa`; false if it does not fit in RAM.
    pub fn load(&mut self, pa: u64, data: &[u8]) -> bool {
        match self.offset_of(pa, data.len() as u64) {
            Some(off) => {
                self.log_write(off, data.len());
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

//! Physical memory protection: 16 entries (storage and CSR access rules).

/// PMP CSR state. Entry checks come with the MMU issue.
#[derive(Debug, Clone, Default)]
pub struct Pmp {
    /// One configuration byte per entry.
    pub cfg: [u8; 16],
    /// pmpaddr registers (bits 53:0 of the physical address >> 2).
    pub addr: [u64; 16],
}

impl Pmp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read pmpcfgN (N even on RV64: 0, 2, ..., 14 are valid; only 0 and 2 hold entries 0..15).
    pub fn read_cfg(&self, n: usize) -> u64 {
        if n % 2 == 1 || n > 2 {
            return 0;
        }
        let base = n * 4;
        (0..8).fold(0, |acc, i| acc | (self.cfg[base + i] as u64) << (8 * i))
    }

    pub fn write_cfg(&mut self, n: usize, value: u64) {
        if n % 2 == 1 || n > 2 {
            return;
        }
        let base = n * 4;
        for i in 0..8 {
            if self.cfg[base + i] & 0x80 != 0 {
                continue; // locked
            }
            let mut b = (value >> (8 * i)) as u8 & 0x9f;
            // W=1,R=0 is reserved: keep the entry's old value.
            if b & 0b11 == 0b10 {
                b = self.cfg[base + i];
            }
            self.cfg[base + i] = b;
        }
    }

    pub fn read_addr(&self, n: usize) -> u64 {
        self.addr.get(n).copied().unwrap_or(0)
    }

    pub fn write_addr(&mut self, n: usize, value: u64) {
        if n >= 16 {
            return;
        }
        let locked = self.cfg[n] & 0x80 != 0;
        // A locked TOR entry also locks the pmpaddr below it.
        let next_locked_tor =
            n + 1 < 16 && self.cfg[n + 1] & 0x80 != 0 && (self.cfg[n + 1] >> 3) & 3 == 1;
        if locked || next_locked_tor {
            return;
        }
        self.addr[n] = value & ((1u64 << 54) - 1);
    }
}

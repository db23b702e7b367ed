//! virtio entropy device (device ID 4): fills every buffer the driver offers.
//!
//! The bytes come from xoshiro256** seeded with `MachineConfig::rng_seed`, so a
//! deterministic run sees the same "entropy" every time. In host-clock mode the seed is
//! mixed with the host time, since such runs are not reproducible anyway.

use super::mmio::{VirtioBackend, Work};
use super::queue::{Chain, QueueError};
use crate::bus::Ram;

pub const DEVICE_ID: u32 = 4;
/// Largest amount handed out per request; drivers ask for far less.
const MAX_REQUEST: u64 = 64 * 1024;

/// xoshiro256** (Blackman and Vigna): small, fast, and good enough to stand in for entropy.
#[derive(Debug, Clone)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (i, word) in s.iter_mut().enumerate() {
            let bytes: [u8; 8] = seed[8 * i..8 * i + 8].try_into().unwrap_or_default();
            *word = u64::from_le_bytes(bytes);
        }
        if s == [0; 4] {
            // The all-zero state is a fixed point of the generator.
            s = [
                0x9e37_79b9_7f4a_7c15,
                0xbf58_476d_1ce4_e5b9,
                0x94d0_49bb_1331_11eb,
                1,
            ];
        }
        Xoshiro256 { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub struct Entropy {
    rng: Xoshiro256,
}

impl Entropy {
    pub fn new(seed: [u8; 32], host_entropy: bool) -> Self {
        let mut seed = seed;
        if host_entropy {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            for (b, n) in seed.iter_mut().zip(nanos.to_le_bytes()) {
                *b ^= n;
            }
        }
        Entropy {
            rng: Xoshiro256::from_seed(seed),
        }
    }
}

impl VirtioBackend for Entropy {
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.u64s(&self.rng.s);
        Ok(())
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.rng.s = r.u64s()?;
        Ok(())
    }
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        0
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn read_config(&self, _offset: u64, _size: usize) -> u64 {
        0
    }

    fn process(
        &mut self,
        _queue: usize,
        chain: &Chain,
        ram: &mut Ram,
        work: &mut Work,
    ) -> Result<Option<u32>, QueueError> {
        let len = chain.writable_len().min(MAX_REQUEST);
        let mut bytes = [0u8; 4096];
        while work.done < len {
            let n = work.take((len - work.done).min(bytes.len() as u64)) as usize;
            if n == 0 {
                return Ok(None);
            }
            self.rng.fill(&mut bytes[..n]);
            chain.write_at(ram, work.done, &bytes[..n]);
            work.done += n as u64;
        }
        Ok(Some(len as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let mut a = Xoshiro256::from_seed([7; 32]);
        let mut b = Xoshiro256::from_seed([7; 32]);
        let mut c = Xoshiro256::from_seed([8; 32]);
        let (mut x, mut y, mut z) = ([0u8; 20], [0u8; 20], [0u8; 20]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x, [0; 20]);
    }

    #[test]
    fn zero_seed_still_produces_output() {
        let mut r = Xoshiro256::from_seed([0; 32]);
        assert_ne!(r.next_u64(), r.next_u64());
    }
}

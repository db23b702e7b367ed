//! Split virtqueues (virtio 1.x §2.7): the descriptor table, the driver's available ring
//! and the device's used ring, all in guest RAM.
//!
//! Everything here treats guest memory as hostile: every address and length is checked
//! against RAM before use, chains longer than the queue (loops) and indirect descriptors
//! (never offered) are errors, and an available index that runs more than a queue's
//! worth ahead is an error. An error puts the device in NEEDS_RESET; nothing panics.

use crate::bus::Ram;

const DESC_SIZE: u64 = 16;
const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;
const DESC_F_INDIRECT: u16 = 4;

/// Largest queue the devices offer (QueueNumMax).
pub const QUEUE_MAX: u16 = 256;

/// Why a queue cannot be processed; the transport turns any of these into NEEDS_RESET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// A ring or buffer lies (partly) outside RAM, or its end overflows.
    OutOfRam,
    /// A descriptor index is not below the queue size.
    BadIndex,
    /// The chain has more descriptors than the queue: it loops.
    ChainTooLong,
    /// INDIRECT descriptors were used without being negotiated.
    Indirect,
    /// The available index is more than a queue's worth ahead of what we consumed.
    AvailOverrun,
    /// A request's layout violates the device's format (e.g. no status byte).
    Malformed,
    /// The queue size is zero, not a power of two, or above the maximum.
    BadSize,
}

/// One buffer of a chain, already checked to lie inside RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    pub addr: u64,
    pub len: u32,
    pub device_writable: bool,
}

/// A descriptor chain taken from the available ring.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub head: u16,
    pub buffers: Vec<Buffer>,
}

impl Chain {
    /// Total bytes the driver gave the device to read.
    pub fn readable_len(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| !b.device_writable)
            .map(|b| b.len as u64)
            .sum()
    }

    /// Total bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| b.device_writable)
            .map(|b| b.len as u64)
            .sum()
    }

    /// Copy up to `out.len()` bytes of the readable part, starting `skip` bytes in.
    /// Returns how many bytes were copied.
    pub fn read_at(&self, ram: &Ram, mut skip: u64, out: &mut [u8]) -> usize {
        let mut done = 0;
        for b in self.buffers.iter().filter(|b| !b.device_writable) {
            if done == out.len() {
                break;
            }
            let len = b.len as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            let n = ((len - skip) as usize).min(out.len() - done);
            // Buffers were checked against RAM when the chain was taken.
            if !ram.read_bytes(b.addr + skip, &mut out[done..done + n]) {
                break;
            }
            done += n;
            skip = 0;
        }
        done
    }

    /// Copy `data` into the writable part, starting `skip` bytes in. Returns how many
    /// bytes were written.
    pub fn write_at(&self, ram: &mut Ram, mut skip: u64, data: &[u8]) -> usize {
        let mut done = 0;
        for b in self.buffers.iter().filter(|b| b.device_writable) {
            if done == data.len() {
                break;
            }
            let len = b.len as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            let n = ((len - skip) as usize).min(data.len() - done);
            if !ram.load(b.addr + skip, &data[done..done + n]) {
                break;
            }
            done += n;
            skip = 0;
        }
        done
    }
}

/// A chain the device has started but not finished: large requests are served a bounded
/// piece at a time, so one request cannot hold the machine for long.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    pub chain: Chain,
    /// Payload bytes handled so far.
    pub done: u64,
}

/// Driver-visible state of one queue plus the device's position in it.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    pub size: u16,
    pub ready: bool,
    pub desc_addr: u64,
    pub driver_addr: u64,
    pub device_addr: u64,
    /// Next available-ring entry the device will take.
    pub next_avail: u16,
    /// Next used-ring entry the device will fill.
    pub next_used: u16,
    /// The driver notified and the device has not yet found the available ring empty.
    pub kicked: bool,
    /// The chain being served, when a step ended in the middle of it.
    pub in_flight: Option<InFlight>,
}

fn check_range(ram: &Ram, addr: u64, len: u64) -> Result<(), QueueError> {
    addr.checked_add(len).ok_or(QueueError::OutOfRam)?;
    ram.offset_of(addr, len)
        .map(|_| ())
        .ok_or(QueueError::OutOfRam)
}

fn read_u16(ram: &Ram, addr: u64) -> Result<u16, QueueError> {
    ram.read(addr, 2)
        .map(|v| v as u16)
        .ok_or(QueueError::OutOfRam)
}

impl Queue {
    pub fn reset(&mut self) {
        *self = Queue::default();
    }

    /// Check the size and that the three rings lie in RAM.
    fn validate(&self, ram: &Ram) -> Result<(), QueueError> {
        let n = self.size as u64;
        if n == 0 || n > QUEUE_MAX as u64 || !self.size.is_power_of_two() {
            return Err(QueueError::BadSize);
        }
        check_range(ram, self.desc_addr, DESC_SIZE * n)?;
        check_range(ram, self.driver_addr, 6 + 2 * n)?;
        check_range(ram, self.device_addr, 6 + 8 * n)
    }

    /// Take the next available chain, if the driver has published one.
    pub fn pop(&mut self, ram: &Ram) -> Result<Option<Chain>, QueueError> {
        self.validate(ram)?;
        let avail_idx = read_u16(ram, self.driver_addr + 2)?;
        let outstanding = avail_idx.wrapping_sub(self.next_avail);
        if outstanding == 0 {
            return Ok(None);
        }
        if outstanding > self.size {
            return Err(QueueError::AvailOverrun);
        }
        let slot = (self.next_avail % self.size) as u64;
        let head = read_u16(ram, self.driver_addr + 4 + 2 * slot)?;
        let chain = self.walk_chain(ram, head)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        Ok(Some(chain))
    }

    fn walk_chain(&self, ram: &Ram, head: u16) -> Result<Chain, QueueError> {
        let mut chain = Chain {
            head,
            buffers: Vec::new(),
        };
        let mut index = head;
        loop {
            if index >= self.size {
                return Err(QueueError::BadIndex);
            }
            if chain.buffers.len() >= self.size as usize {
                return Err(QueueError::ChainTooLong);
            }
            let d = self.desc_addr + DESC_SIZE * index as u64;
            let addr = ram.read(d, 8).ok_or(QueueError::OutOfRam)?;
            let len = ram.read(d + 8, 4).ok_or(QueueError::OutOfRam)? as u32;
            let flags = read_u16(ram, d + 12)?;
            let next = read_u16(ram, d + 14)?;
            if flags & DESC_F_INDIRECT != 0 {
                return Err(QueueError::Indirect);
            }
            check_range(ram, addr, len as u64)?;
            chain.buffers.push(Buffer {
                addr,
                len,
                device_writable: flags & DESC_F_WRITE != 0,
            });
            if flags & DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            index = next;
        }
    }

    /// Return a chain to the driver with `written` bytes written into its buffers.
    pub fn push_used(&mut self, ram: &mut Ram, head: u16, written: u32) -> Result<(), QueueError> {
        self.validate(ram)?;
        let slot = (self.next_used % self.size) as u64;
        let entry = self.device_addr + 4 + 8 * slot;
        let ok = ram.write(entry, 4, head as u64) && ram.write(entry + 4, 4, written as u64);
        self.next_used = self.next_used.wrapping_add(1);
        if !(ok && ram.write(self.device_addr + 2, 2, self.next_used as u64)) {
            return Err(QueueError::OutOfRam);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x8000_0000;

    fn queue() -> Queue {
        Queue {
            size: 4,
            ready: true,
            desc_addr: BASE,
            driver_addr: BASE + 0x100,
            device_addr: BASE + 0x200,
            ..Queue::default()
        }
    }

    fn put_desc(ram: &mut Ram, i: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let d = BASE + 16 * i;
        ram.write(d, 8, addr);
        ram.write(d + 8, 4, len as u64);
        ram.write(d + 12, 2, flags as u64);
        ram.write(d + 14, 2, next as u64);
    }

    fn publish(ram: &mut Ram, slot: u64, head: u16, idx: u16) {
        ram.write(BASE + 0x100 + 4 + 2 * slot, 2, head as u64);
        ram.write(BASE + 0x102, 2, idx as u64);
    }

    #[test]
    fn pops_a_two_buffer_chain_and_reads_and_writes_across_it() {
        let mut ram = Ram::new(BASE, 0x10000);
        ram.load(BASE + 0x1000, b"abc");
        put_desc(&mut ram, 2, BASE + 0x1000, 3, DESC_F_NEXT, 0);
        put_desc(&mut ram, 0, BASE + 0x2000, 4, DESC_F_WRITE, 0);
        publish(&mut ram, 0, 2, 1);
        let mut q = queue();
        let chain = q.pop(&ram).unwrap().unwrap();
        assert_eq!(chain.head, 2);
        assert_eq!((chain.readable_len(), chain.writable_len()), (3, 4));
        let mut buf = [0u8; 8];
        assert_eq!(chain.read_at(&ram, 1, &mut buf), 2);
        assert_eq!(&buf[..2], b"bc");
        assert_eq!(chain.write_at(&mut ram, 0, b"12345"), 4);
        q.push_used(&mut ram, chain.head, 4).unwrap();
        assert_eq!(ram.read(BASE + 0x202, 2), Some(1));
        assert_eq!(ram.read(BASE + 0x204, 4), Some(2));
        assert_eq!(ram.read(BASE + 0x208, 4), Some(4));
        assert!(q.pop(&ram).unwrap().is_none());
    }

    #[test]
    fn looping_chain_is_an_error() {
        let mut ram = Ram::new(BASE, 0x10000);
        put_desc(&mut ram, 0, BASE + 0x1000, 1, DESC_F_NEXT, 1);
        put_desc(&mut ram, 1, BASE + 0x1000, 1, DESC_F_NEXT, 0);
        publish(&mut ram, 0, 0, 1);
        assert_eq!(queue().pop(&ram).unwrap_err(), QueueError::ChainTooLong);
    }

    #[test]
    fn hostile_descriptors_are_errors() {
        let cases: [(u64, u32, u16, u16, QueueError); 4] = [
            (0x1000, 16, 0, 0, QueueError::OutOfRam),
            (BASE + 0xfff0, 0x20, 0, 0, QueueError::OutOfRam),
            (u64::MAX - 4, u32::MAX, 0, 0, QueueError::OutOfRam),
            (BASE + 0x1000, 16, DESC_F_INDIRECT, 0, QueueError::Indirect),
        ];
        for (addr, len, flags, next, want) in cases {
            let mut ram = Ram::new(BASE, 0x10000);
            put_desc(&mut ram, 0, addr, len, flags, next);
            publish(&mut ram, 0, 0, 1);
            assert_eq!(queue().pop(&ram).unwrap_err(), want, "addr {addr:#x}");
        }
    }

    #[test]
    fn bad_head_index_overrun_and_rings_outside_ram_are_errors() {
        let mut ram = Ram::new(BASE, 0x10000);
        publish(&mut ram, 0, 9, 1);
        assert_eq!(queue().pop(&ram).unwrap_err(), QueueError::BadIndex);
        publish(&mut ram, 0, 0, 200);
        assert_eq!(queue().pop(&ram).unwrap_err(), QueueError::AvailOverrun);
        let mut q = queue();
        q.device_addr = BASE + 0xfffe;
        assert_eq!(q.pop(&ram).unwrap_err(), QueueError::OutOfRam);
        let mut q = queue();
        q.size = 3;
        assert_eq!(q.pop(&ram).unwrap_err(), QueueError::BadSize);
    }
}

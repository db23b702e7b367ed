//! The decode cache: decoded instructions per physical RAM page, one slot per 2-byte
//! offset. Keyed by physical page so that aliases and address-space switches share it;
//! kept coherent with this hart's stores slot by slot, and flushed whole by fence.i
//! (which covers DMA and other harts, as the spec requires software to do).

use super::decode::{Op, K};

const NO_PAGE: u32 = u32::MAX;
const SLOTS: usize = 2048;
/// Decoded pages kept before the cache starts over (each page is 32 KiB).
const MAX_PAGES: usize = 4096;

pub struct DecodeCache {
    /// RAM page number -> pool page index, or NO_PAGE.
    slot_of: Vec<u32>,
    /// Slot 0 is scratch space for an instruction that is not cached (fetched from a
    /// device, or crossing a page); pool page `i` is `ops[1 + i * SLOTS..][..SLOTS]`. One
    /// flat vector, so a lookup is one bounds check and one load.
    ops: Vec<Op>,
    /// Pool page index -> RAM page number it holds.
    owner: Vec<usize>,
    used: usize,
}

impl DecodeCache {
    pub fn new() -> Self {
        DecodeCache {
            slot_of: Vec::new(),
            ops: vec![Op::EMPTY],
            owner: Vec::new(),
            used: 0,
        }
    }

    /// Size the page map for `ram_bytes` of RAM (a no-op after the first call).
    #[inline]
    pub fn ensure(&mut self, ram_bytes: u64) {
        let pages = ram_bytes.div_ceil(4096) as usize;
        if self.slot_of.len() != pages {
            self.slot_of = vec![NO_PAGE; pages];
            self.used = 0;
        }
    }

    /// Index of the slot for `page_slot` (pc / 2, any high bits) in the page whose
    /// first slot is `slot_base` (from [`DecodeCache::page_for`]).
    #[inline(always)]
    pub fn index(slot_base: usize, page_slot: usize) -> usize {
        slot_base + (page_slot & (SLOTS - 1))
    }

    #[inline(always)]
    pub fn op(&self, index: usize) -> Op {
        self.ops[index]
    }

    #[inline(always)]
    pub fn op_ref(&self, index: usize) -> &Op {
        &self.ops[index]
    }

    #[inline(always)]
    pub fn is_decoded(&self, index: usize) -> bool {
        self.ops[index].k != K::Empty
    }

    /// Park an uncached op in the scratch slot; returns its index.
    pub fn scratch(&mut self, op: Op) -> usize {
        self.ops[0] = op;
        0
    }

    /// The first slot of RAM page `ram_page`'s decoded page, allocating one (and if
    /// full, first flushing the whole cache) when it has none. The second value is true
    /// when a flush happened.
    pub fn page_for(&mut self, ram_page: usize) -> (usize, bool) {
        let cur = self.slot_of[ram_page];
        if cur != NO_PAGE {
            return (1 + cur as usize * SLOTS, false);
        }
        let mut flushed = false;
        if self.used == MAX_PAGES {
            self.flush();
            flushed = true;
        }
        let index = self.used;
        self.used += 1;
        let base = 1 + index * SLOTS;
        if index == self.owner.len() {
            self.ops.resize(base + SLOTS, Op::EMPTY);
            self.owner.push(ram_page);
        } else {
            self.ops[base..base + SLOTS].fill(Op::EMPTY);
            self.owner[index] = ram_page;
        }
        self.slot_of[ram_page] = index as u32;
        (base, flushed)
    }

    #[inline(always)]
    pub fn set(&mut self, index: usize, op: Op) {
        self.ops[index] = op;
    }

    /// A store of `size` bytes at RAM offset `off` (not crossing a page): forget every
    /// decoded instruction that overlaps it.
    #[inline(always)]
    pub fn invalidate(&mut self, off: usize, size: usize) {
        let index = match self.slot_of.get(off >> 12) {
            Some(&i) if i != NO_PAGE => i as usize,
            _ => return,
        };
        self.invalidate_slow(index, off & 0xfff, size);
    }

    #[cold]
    fn invalidate_slow(&mut self, index: usize, page_off: usize, size: usize) {
        // An instruction starting up to 3 bytes before the store can overlap it.
        let first = page_off.saturating_sub(3) >> 1;
        let last = (page_off + size - 1).min(0xfff) >> 1;
        let base = 1 + index * SLOTS;
        for slot in &mut self.ops[base + first..=base + last] {
            slot.k = K::Empty;
        }
    }

    /// Forget everything (fence.i).
    pub fn flush(&mut self) {
        for i in 0..self.used {
            self.slot_of[self.owner[i]] = NO_PAGE;
        }
        self.used = 0;
    }
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::new()
    }
}

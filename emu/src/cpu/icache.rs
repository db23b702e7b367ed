//! The decode cache: decoded instructions per physical RAM page, one slot per 2-byte
//! offset. Keyed by physical page so that aliases and address-space switches share it;
//! kept coherent with this hart's stores slot by slot, and flushed whole by fence.i
//! (which covers DMA and other harts, as the spec requires software to do).

use super::decode::{Op, K};

const NO_PAGE: u32 = u32::MAX;
const SLOTS: usize = 2048;
/// Decoded pages kept before the cache starts over (each page is 24 KiB).
const MAX_PAGES: usize = 4096;

pub type DecodedPage = [Op; SLOTS];

pub struct DecodeCache {
    /// RAM page number -> index into `pool`, or NO_PAGE.
    slot_of: Vec<u32>,
    pool: Vec<Box<DecodedPage>>,
    /// Pool index -> RAM page number it holds.
    owner: Vec<usize>,
    used: usize,
}

impl DecodeCache {
    pub fn new() -> Self {
        DecodeCache {
            slot_of: Vec::new(),
            pool: Vec::new(),
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

    #[inline(always)]
    pub fn page(&self, index: usize) -> &DecodedPage {
        &self.pool[index]
    }

    /// Pool index of RAM page `ram_page`, allocating (and if full, first flushing the whole
    /// cache) when it has none. The second value is true when a flush happened.
    pub fn page_for(&mut self, ram_page: usize) -> (usize, bool) {
        let cur = self.slot_of[ram_page];
        if cur != NO_PAGE {
            return (cur as usize, false);
        }
        let mut flushed = false;
        if self.used == MAX_PAGES {
            self.flush();
            flushed = true;
        }
        let index = self.used;
        self.used += 1;
        if index == self.pool.len() {
            let page: Box<[Op]> = vec![Op::EMPTY; SLOTS].into_boxed_slice();
            let page: Box<DecodedPage> = match page.try_into() {
                Ok(p) => p,
                Err(_) => unreachable!("the vector has exactly SLOTS entries"),
            };
            self.pool.push(page);
            self.owner.push(ram_page);
        } else {
            self.pool[index].fill(Op::EMPTY);
            self.owner[index] = ram_page;
        }
        self.slot_of[ram_page] = index as u32;
        (index, flushed)
    }

    #[inline(always)]
    pub fn set(&mut self, index: usize, slot: usize, op: Op) {
        self.pool[index][slot & (SLOTS - 1)] = op;
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
        for slot in &mut self.pool[index][first..=last] {
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

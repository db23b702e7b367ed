//! The decode cache: decoded instructions per physical RAM page, one slot per 2-byte
//! offset. Keyed by physical page so that aliases and address-space switches share it;
//! kept coherent with this hart's stores slot by slot. fence.i (which must cover DMA and
//! other harts' stores, as the spec requires software to ask for) does not throw decoded
//! pages away: each keeps a copy of the bytes it was decoded from, and the first fetch
//! from it after a fence.i compares that copy with memory and drops only the slots whose
//! bytes changed. Linux runs fence.i each time it maps an executable page, so dropping
//! everything made it re-decode its hot code thousands of times per boot.

use super::decode::{Op, OpKind};
use crate::bus::Ram;
use crate::jit::MAX_CODE_CHANGES;

/// A decoded instruction as the cache stores it: what the hot loops read, in 8 bytes, so
/// a decoded page (2048 slots) is 16 KiB and a large kernel's hot code stays in the host's
/// caches. The instruction bits, which only slow paths read, are taken from the copy of
/// the page's bytes the cache keeps anyway (see [`DecodeCache::op`]).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub k: OpKind,
    /// Destination register in bits 0-4; bit 7 set for a 16-bit (RVC) instruction.
    rd_len: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        k: OpKind::Empty,
        rd_len: 0,
        rs1: 0,
        rs2: 0,
        imm: 0,
    };

    fn new(op: &Op) -> Slot {
        Slot {
            k: op.k,
            rd_len: (op.rd & 31) | if op.len == 2 { 0x80 } else { 0 },
            rs1: op.rs1 & 31,
            rs2: op.rs2 & 31,
            imm: op.imm,
        }
    }

    #[inline(always)]
    pub fn rd(&self) -> usize {
        (self.rd_len & 31) as usize
    }

    /// Instruction length in bytes (4, or 2 for RVC).
    #[inline(always)]
    pub fn len(&self) -> u64 {
        4 - ((self.rd_len >> 6) & 2) as u64
    }
}

/// [`DecodeCache::page_map`] entry of a RAM page with no decoded page. Zero, so that the
/// map can be allocated zeroed: the host then backs only the parts of it that were
/// written, i.e. memory follows the pages actually executed, not the size of RAM (64
/// harts on 16 GiB would otherwise fill 1 GiB of maps before the first instruction).
pub const NO_PAGE: u32 = 0;
// Generated stores test the map for this value too.
const _: () = assert!(NO_PAGE == crate::jit::NO_DECODED_PAGE);
const SLOTS: usize = 2048;
/// Slots per pool page: the page's slots and a [`OpKind::PageEnd`] sentinel after them, so that
/// running straight off the end of a page needs no bounds test of its own.
const STRIDE: usize = SLOTS + 1;
/// Decoded pages kept before the cache starts over (each costs 20 KiB: slots and a copy
/// of the page's bytes).
const MAX_PAGES: usize = 4096;
/// Slots of a full pool, the scratch slot included: per-slot tables (the JIT's entry
/// table too) are indexed below this.
pub const MAX_SLOTS: usize = 1 + MAX_PAGES * STRIDE;
/// Stores to a decoded page, with no instruction decoded on it in between, after which
/// the page is taken to hold data now and leaves the cache (doubled for each time the
/// RAM page was let go before, so a page that really mixes code and data settles).
const DATA_STORES_BEFORE_RELEASE: u32 = 64;
/// [`DecodeCache::compiled_at`] entry of a pool page no block was compiled from.
const NOT_COMPILED: u64 = u64::MAX;

pub struct DecodeCache {
    /// RAM page number -> pool page index + 1, or NO_PAGE.
    slot_of: Vec<u32>,
    /// Slot 0 is scratch space for an instruction that is not cached (fetched from a
    /// device, or crossing a page); pool page `i` is `ops[1 + i * STRIDE..][..SLOTS]`. One
    /// flat vector, so a lookup is one bounds check and one load.
    ops: Vec<Slot>,
    /// The instruction bits of the scratch slot (a page's slots have theirs in
    /// `snapshots`).
    scratch_raw: u32,
    /// Pool page index -> RAM page number it holds.
    owner: Vec<usize>,
    /// --jit: pool page index -> how often its decoded slots were dropped or the pool
    /// page reused, so compiled blocks made from it can tell they are stale.
    versions: Vec<u64>,
    /// --jit: pool page index -> the version compiled blocks were last made from, or
    /// [`NOT_COMPILED`].
    compiled_at: Vec<u64>,
    /// --jit: pool page index -> how often a change of its bytes invalidated compiled
    /// code (at most once per version); from [`MAX_CODE_CHANGES`] on, the page is left to
    /// the interpreter while this pool page holds it (see the jit module comment).
    code_changes: Vec<u32>,
    /// --jit: pages that reached [`MAX_CODE_CHANGES`] since the start.
    pages_given_up: u64,
    /// Pool page index -> stores to it since an instruction was last decoded on it.
    data_stores: Vec<u32>,
    /// RAM page number -> how often its decoded page was released for holding data.
    releases: Vec<u8>,
    /// Pool page `i`'s RAM bytes as they were when it was last revalidated, with each
    /// decoded slot's instruction bits written over them as it is decoded:
    /// `snapshots[i * 4096..][..4096]`. So a decoded slot's bits are always here (the
    /// bits of the instruction it holds, even if memory changed behind the hart's back
    /// since), and fence.i drops exactly the slots whose bytes in memory differ from
    /// what was decoded.
    snapshots: Vec<u8>,
    /// Pool page index -> the fence epoch it was last checked against memory in.
    checked: Vec<u64>,
    /// Pool page index -> its RAM page's logged writes ([`Ram::page_writes`]) when its
    /// snapshot was last made to match memory: a page whose count has not moved since
    /// needs no comparison (only logged writers reach RAM behind the hart's back, unless
    /// `other_writers`).
    seen_writes: Vec<u32>,
    /// Other harts store to the same RAM, unlogged: every fence.i compares every page.
    other_writers: bool,
    /// [`Ram::watched_writes`] at the last fence.i that moved `epoch`.
    writes_at_fence: u64,
    /// Bumped by a fence.i after logged writes (or with `other_writers`): a page
    /// checked in an older epoch is compared with memory before use, if it was written.
    epoch: u64,
    /// Bumped by anything that can make decoded code or a pool page's contents differ
    /// from what compiled code was made from (a page's version moving, a fence.i, the
    /// pool starting over): compiled code jumping between pages without the fetch path
    /// checks it (see the jit module comment, "Across pages").
    changes: u64,
    used: usize,
}

impl DecodeCache {
    pub fn new() -> Self {
        DecodeCache {
            slot_of: Vec::new(),
            ops: with_first(MAX_SLOTS, Slot::EMPTY),
            scratch_raw: 0,
            owner: Vec::new(),
            versions: Vec::new(),
            compiled_at: Vec::new(),
            code_changes: Vec::new(),
            pages_given_up: 0,
            data_stores: Vec::new(),
            releases: Vec::new(),
            snapshots: Vec::with_capacity(MAX_PAGES * 4096),
            checked: Vec::new(),
            seen_writes: Vec::new(),
            other_writers: false,
            writes_at_fence: 0,
            epoch: 0,
            changes: 0,
            used: 0,
        }
    }

    /// --jit: RAM page number -> decoded pool page + 1, or [`NO_PAGE`] for none
    /// (generated stores test it to see whether they must invalidate decoded code).
    pub fn page_map(&self) -> &[u32] {
        &self.slot_of
    }

    /// Does the RAM page at offset `page_off` have a decoded page?
    #[inline]
    pub fn has_code(&self, page_off: usize) -> bool {
        self.slot_of
            .get(page_off >> 12)
            .is_some_and(|&i| i != NO_PAGE)
    }

    /// --jit: the RAM offset of the instruction slot `index` (not the scratch slot)
    /// stands for, and whether it is the page's last slot.
    pub fn ram_offset_of(&self, index: usize) -> (usize, bool) {
        let (page, slot) = ((index - 1) / STRIDE, (index - 1) % STRIDE);
        (self.owner[page] * 4096 + slot * 2, slot == SLOTS - 1)
    }

    /// --jit: the version of the pool page holding slot `index` (not the scratch slot).
    #[inline(always)]
    pub fn version(&self, index: usize) -> u64 {
        self.versions[(index - 1) / STRIDE]
    }

    /// --jit: a block is being compiled from the slots of the page holding `index`, as
    /// they are at its current version.
    pub fn note_compiled(&mut self, index: usize) {
        let page = (index - 1) / STRIDE;
        self.compiled_at[page] = self.versions[page];
    }

    /// --jit: the code of the page holding `index` changed too often for compiling it to
    /// pay ([`MAX_CODE_CHANGES`]).
    pub fn compiling_given_up(&self, index: usize) -> bool {
        self.code_changes[(index - 1) / STRIDE] >= MAX_CODE_CHANGES
    }

    /// --jit: how many pages were given up so far ([`DecodeCache::compiling_given_up`]).
    pub fn pages_given_up(&self) -> u64 {
        self.pages_given_up
    }

    /// Size the page map for `ram_bytes` of RAM (a no-op after the first call).
    #[inline]
    pub fn ensure(&mut self, ram_bytes: u64) {
        let pages = ram_bytes.div_ceil(4096) as usize;
        if self.slot_of.len() != pages {
            // Zeroed (NO_PAGE), hence not touched here: see NO_PAGE.
            self.slot_of = vec![NO_PAGE; pages];
            self.releases = vec![0; pages];
            self.used = 0;
            self.changes += 1;
        }
    }

    /// Index of the slot for `page_slot` (pc / 2, any high bits) in the page whose
    /// first slot is `slot_base` (from [`DecodeCache::page_for`]).
    #[inline(always)]
    pub fn index(slot_base: usize, page_slot: usize) -> usize {
        slot_base + (page_slot & (SLOTS - 1))
    }

    /// The whole decoded instruction at `index` (slow paths).
    #[inline]
    pub fn op(&self, index: usize) -> Op {
        let s = &self.ops[index];
        Op {
            k: s.k,
            rd: s.rd() as u8,
            rs1: s.rs1,
            rs2: s.rs2,
            imm: s.imm,
            raw: self.raw(index, s.len() as usize),
            len: s.len() as u32,
        }
    }

    /// The `len` bytes of instruction bits of the slot at `index`. A page's slot never
    /// holds an instruction crossing the page's end (those go to the scratch slot).
    fn raw(&self, index: usize, len: usize) -> u32 {
        if index == 0 {
            return self.scratch_raw;
        }
        let at = snapshot_offset(index);
        let mut bytes = [0u8; 4];
        bytes[..len].copy_from_slice(&self.snapshots[at..at + len]);
        u32::from_le_bytes(bytes)
    }

    /// What the hot loops read of the instruction at `index`.
    #[inline(always)]
    pub fn slot(&self, index: usize) -> &Slot {
        &self.ops[index]
    }

    #[inline(always)]
    pub fn is_decoded(&self, index: usize) -> bool {
        self.ops[index].k != OpKind::Empty
    }

    /// Park an uncached op in the scratch slot; returns its index.
    pub fn scratch(&mut self, op: Op) -> usize {
        self.set(0, op);
        0
    }

    /// Other harts store to this RAM (their stores are not logged): every fence.i
    /// compares every decoded page with memory.
    pub fn set_other_writers(&mut self, other_writers: bool) {
        self.other_writers = other_writers;
    }

    /// The first slot of RAM page `ram_page`'s decoded page, allocating one (and if
    /// full, first flushing the whole cache) when it has none; `ram` is for the page's
    /// bytes and writes (the page is watched from now on: see [`Ram::watch`]). The
    /// second value is true when a flush happened.
    pub fn page_for(&mut self, ram_page: usize, ram: &mut Ram) -> (usize, bool) {
        let cur = self.slot_of[ram_page];
        if cur != NO_PAGE {
            let cur = cur as usize - 1;
            if self.checked[cur] != self.epoch {
                self.checked[cur] = self.epoch;
                let writes = ram.page_writes(ram_page);
                if self.other_writers || self.seen_writes[cur] != writes {
                    self.seen_writes[cur] = writes;
                    self.revalidate(cur, &ram.as_slice()[ram_page * 4096..][..4096]);
                }
            }
            return (1 + cur * STRIDE, false);
        }
        ram.watch(ram_page);
        let writes = ram.page_writes(ram_page);
        let bytes = &ram.as_slice()[ram_page * 4096..][..4096];
        let mut flushed = false;
        if self.used == MAX_PAGES {
            self.flush();
            flushed = true;
        }
        let index = self.used;
        self.used += 1;
        let base = 1 + index * STRIDE;
        if index == self.owner.len() {
            self.ops.resize(base + STRIDE, Slot::EMPTY);
            self.ops[base + SLOTS].k = OpKind::PageEnd;
            self.owner.push(ram_page);
            self.versions.push(0);
            self.compiled_at.push(NOT_COMPILED);
            self.code_changes.push(0);
            self.data_stores.push(0);
            self.snapshots.extend_from_slice(bytes);
            self.checked.push(self.epoch);
            self.seen_writes.push(writes);
        } else {
            self.ops[base..base + SLOTS].fill(Slot::EMPTY);
            self.owner[index] = ram_page;
            self.versions[index] = self.versions[index].wrapping_add(1);
            self.changes += 1;
            // Another RAM page: its code gets its own chance.
            self.compiled_at[index] = NOT_COMPILED;
            self.code_changes[index] = 0;
            self.data_stores[index] = 0;
            self.snapshots[index * 4096..][..4096].copy_from_slice(bytes);
            self.checked[index] = self.epoch;
            self.seen_writes[index] = writes;
        }
        self.slot_of[ram_page] = index as u32 + 1;
        (base, flushed)
    }

    /// After a fence.i: drop the slots of pool page `index` whose bytes differ from what
    /// they were decoded from (`bytes`, the page in memory now), keep the rest.
    #[cold]
    fn revalidate(&mut self, index: usize, bytes: &[u8]) {
        let at = index * 4096;
        if self.snapshots[at..at + 4096] == bytes[..] {
            return;
        }
        for off in (0..4096).step_by(8) {
            if self.snapshots[at + off..at + off + 8] != bytes[off..off + 8] {
                self.drop_slots(index, off, 8);
            }
        }
        self.snapshots[at..at + 4096].copy_from_slice(bytes);
    }

    #[inline(always)]
    pub fn set(&mut self, index: usize, op: Op) {
        self.ops[index] = Slot::new(&op);
        if index == 0 {
            self.scratch_raw = op.raw;
            return;
        }
        let at = snapshot_offset(index);
        let len = op.len as usize;
        self.snapshots[at..at + len].copy_from_slice(&op.raw.to_le_bytes()[..len]);
        // Code is still being run from the page.
        self.data_stores[(index - 1) / STRIDE] = 0;
    }

    /// A store of `size` bytes at RAM offset `off` (not crossing a page): forget every
    /// decoded instruction that overlaps it. True when the page was released (see
    /// [`DecodeCache::release`]): the hart must then forget every fetch page, which may
    /// point at it.
    #[inline(always)]
    pub fn invalidate(&mut self, off: usize, size: usize) -> bool {
        let index = match self.slot_of.get(off >> 12) {
            Some(&i) if i != NO_PAGE => i as usize - 1,
            _ => return false,
        };
        self.store_to_decoded_page(index, off & 0xfff, size)
    }

    /// A store into pool page `index`: drop what it overwrote, and release the page once
    /// it looks like data (see [`DATA_STORES_BEFORE_RELEASE`]). A page that once held code
    /// and now holds data (freed and reused: a module's init code, a kernel's JIT image)
    /// would otherwise make every store to it take the slow path for good: generated
    /// code leaves a block before any store to a decoded page.
    #[cold]
    fn store_to_decoded_page(&mut self, index: usize, page_off: usize, size: usize) -> bool {
        self.drop_slots(index, page_off, size);
        self.data_stores[index] += 1;
        let ram_page = self.owner[index];
        let releases = self.releases[ram_page].min(16) as u32;
        if self.data_stores[index] < DATA_STORES_BEFORE_RELEASE << releases {
            return false;
        }
        self.releases[ram_page] = self.releases[ram_page].saturating_add(1);
        self.release(index);
        true
    }

    /// Let pool page `index` go: its RAM page has no decoded page any more (the next fetch
    /// there decodes it afresh, in another pool page), its slots are emptied and its
    /// version moves, so nothing compiled from it runs again. The pool page itself is
    /// reused only when the cache starts over.
    fn release(&mut self, index: usize) {
        self.slot_of[self.owner[index]] = NO_PAGE;
        let base = 1 + index * STRIDE;
        self.ops[base..base + SLOTS].fill(Slot::EMPTY);
        self.versions[index] = self.versions[index].wrapping_add(1);
        self.changes += 1;
    }

    /// Is the pool page holding slot `index` (not the scratch slot) still its RAM
    /// page's decoded page (not released)?
    pub fn is_current(&self, index: usize) -> bool {
        let page = (index - 1) / STRIDE;
        self.slot_of[self.owner[page]] as usize == page + 1
    }

    /// Empty every slot of pool page `index` whose instruction can overlap the `size`
    /// bytes at `page_off`. True when one held an instruction.
    #[cold]
    fn drop_slots(&mut self, index: usize, page_off: usize, size: usize) -> bool {
        // An instruction starting up to 3 bytes before the store can overlap it.
        let first = page_off.saturating_sub(3) >> 1;
        let last = (page_off + size - 1).min(0xfff) >> 1;
        let base = 1 + index * STRIDE;
        let mut dropped = false;
        for slot in &mut self.ops[base + first..=base + last] {
            dropped |= slot.k != OpKind::Empty;
            slot.k = OpKind::Empty;
        }
        if dropped {
            if self.compiled_at[index] == self.versions[index] {
                // Compiled code made from this version is now stale.
                self.code_changes[index] = self.code_changes[index].saturating_add(1);
                if self.code_changes[index] == MAX_CODE_CHANGES {
                    self.pages_given_up += 1;
                }
            }
            self.versions[index] = self.versions[index].wrapping_add(1);
            self.changes += 1;
        }
        dropped
    }

    /// fence.i: memory may have changed behind the hart's back (DMA, the walker's A/D
    /// updates, a debugger: the writers `ram` logs; or another hart). Each decoded page
    /// written that way since it was last checked is compared with memory before its
    /// next use. With no logged write to a page code was decoded from since the last
    /// such fence, and no other harts, nothing can have changed: the fence costs
    /// nothing, and compiled code's jumps between pages stay valid (`changes` does not
    /// move). The Debian boot issues 41 k fence.i (one per executable page the kernel
    /// maps for user space); comparing every page run again after each was 422 k
    /// comparisons of 4 KiB, and each emptied the jump cache and the hart's fetch
    /// pages. True when pages are to be checked (the hart's fetch pages, which lead
    /// past [`DecodeCache::page_for`], must then be forgotten).
    pub fn fence(&mut self, ram: &Ram) -> bool {
        if !self.other_writers && ram.watched_writes() == self.writes_at_fence {
            return false;
        }
        self.writes_at_fence = ram.watched_writes();
        self.epoch += 1;
        self.changes += 1;
        true
    }

    /// --jit: how often decoded code may have changed (see the field).
    #[inline(always)]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Forget everything (the pool is full).
    pub fn flush(&mut self) {
        for i in 0..self.used {
            self.slot_of[self.owner[i]] = NO_PAGE;
        }
        self.used = 0;
        self.changes += 1;
    }
}

/// Where in `DecodeCache::snapshots` the bytes of slot `index` (not the scratch slot) are.
#[inline(always)]
fn snapshot_offset(index: usize) -> usize {
    let (page, slot) = ((index - 1) / STRIDE, (index - 1) % STRIDE);
    page * 4096 + slot * 2
}

/// A vector of `first` with room for `capacity` elements. The pool's vectors get their
/// whole size at once: the host backs only what is written, and growing them would copy
/// tens of MiB, old and new copies resident at once (the process's peak).
fn with_first<T>(capacity: usize, first: T) -> Vec<T> {
    let mut v = Vec::with_capacity(capacity);
    v.push(first);
    v
}

impl Default for DecodeCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::decode::decode;

    const NOP: u32 = 0x0000_0013;

    /// A store over the instruction at `index` (pool page 0's first slot): it is dropped,
    /// and the page is not released.
    fn store_over(c: &mut DecodeCache, index: usize) {
        assert!(c.is_decoded(index));
        assert!(!c.invalidate(0, 4));
        assert!(!c.is_decoded(index));
    }

    /// A slot's instruction bits come back as decoded, whatever memory holds now, and
    /// fence.i drops just the slots whose bytes in memory changed since.
    #[test]
    fn instruction_bits_are_those_decoded() {
        const C_NOP: u32 = 0x0001;
        const ADDI: u32 = 0x0050_0093; // addi x1, x0, 5
        let mut ram = Ram::new(0, 2 * 4096);
        let mut c = DecodeCache::new();
        c.ensure(ram.size());
        let (base, _) = c.page_for(1, &mut ram);
        assert!(ram.load(4096, &ADDI.to_le_bytes()));
        assert!(ram.load(4100, &(C_NOP as u16).to_le_bytes()));
        c.set(base, decode(ADDI));
        c.set(base + 2, decode(C_NOP));
        c.set(0, decode(NOP));
        // Memory changes behind the hart's back (a logged writer: DMA, say).
        assert!(ram.load(4096, &NOP.to_le_bytes()));
        assert_eq!((c.op(base).raw, c.op(base).len), (ADDI, 4));
        assert_eq!((c.op(base + 2).raw, c.op(base + 2).len), (C_NOP, 2));
        assert_eq!(c.op(0).raw, NOP);
        c.fence(&ram);
        c.page_for(1, &mut ram);
        assert!(!c.is_decoded(base));
        assert_eq!(c.op(base + 2).raw, C_NOP);
    }

    /// fence.i compares only decoded pages whose RAM page a logged writer wrote, and
    /// is free (no new epoch, compiled code's jumps kept) when no page code was decoded
    /// from was written that way: the hart's own stores (unlogged) keep decoded code
    /// right by themselves, and writes elsewhere (page tables, say) cannot change code.
    #[test]
    fn fence_i_compares_only_pages_written_behind_the_harts_back() {
        let mut ram = Ram::new(0, 4 * 4096);
        let mut c = DecodeCache::new();
        c.ensure(ram.size());
        let (first, _) = c.page_for(1, &mut ram);
        let (second, _) = c.page_for(2, &mut ram);
        c.set(first, decode(NOP));
        c.set(second, decode(NOP));
        let changes = c.changes();
        // A logged write to a page with no decoded code: the fence does nothing.
        assert!(ram.write(3 * 4096, 8, 0x1234));
        c.fence(&ram);
        assert_eq!(c.changes(), changes);
        // An unlogged write over the second page's code (not what a hart's store does:
        // it would drop the slot) is not looked for, since only logged writers are.
        ram.as_mut_slice()[2 * 4096..][..4].copy_from_slice(&0u32.to_le_bytes());
        // A logged write to the first page's code: that page is compared, the second
        // is not.
        assert!(ram.write(4096, 4, 0));
        c.fence(&ram);
        assert!(c.changes() > changes);
        c.page_for(1, &mut ram);
        c.page_for(2, &mut ram);
        assert!(!c.is_decoded(first));
        assert!(c.is_decoded(second));
    }

    /// With other harts storing to the same RAM (unlogged), every fence.i compares every
    /// decoded page.
    #[test]
    fn with_other_harts_fence_i_compares_every_page() {
        let mut ram = Ram::new(0, 2 * 4096);
        let mut c = DecodeCache::new();
        c.set_other_writers(true);
        c.ensure(ram.size());
        let (base, _) = c.page_for(1, &mut ram);
        c.set(base, decode(NOP));
        // Another hart's store: not in the log.
        ram.as_mut_slice()[4096..][..4].copy_from_slice(&0u32.to_le_bytes());
        let changes = c.changes();
        c.fence(&ram);
        assert!(c.changes() > changes);
        c.page_for(1, &mut ram);
        assert!(!c.is_decoded(base));
    }

    /// A change counts only while compiled code is made from the page's current version,
    /// once per version; at `MAX_CODE_CHANGES` the page is given up, and the count starts
    /// over when the pool page is reused for another RAM page.
    #[test]
    fn code_changes_count_only_invalidated_compiled_code() {
        let mut ram = Ram::new(0, 4096 * (MAX_PAGES as u64 + 1));
        let mut c = DecodeCache::new();
        c.ensure(ram.size());
        let (base, _) = c.page_for(0, &mut ram);
        // Nothing compiled: a change does not count.
        c.set(base, decode(NOP));
        store_over(&mut c, base);
        assert_eq!(c.code_changes[0], 0);
        // Compiled, then two changes: only the first one invalidated compiled code.
        c.set(base, decode(NOP));
        c.note_compiled(base);
        store_over(&mut c, base);
        c.set(base, decode(NOP));
        store_over(&mut c, base);
        assert_eq!(c.code_changes[0], 1);
        // Recompiled after each change: given up at the limit, counted once.
        for _ in 1..MAX_CODE_CHANGES {
            assert!(!c.compiling_given_up(base));
            c.set(base, decode(NOP));
            c.note_compiled(base);
            store_over(&mut c, base);
        }
        assert!(c.compiling_given_up(base));
        c.set(base, decode(NOP));
        c.note_compiled(base);
        store_over(&mut c, base);
        assert_eq!(c.pages_given_up(), 1);
        // Fill the pool; the next page starts the cache over and reuses pool page 0.
        for page in 1..MAX_PAGES {
            assert!(!c.page_for(page, &mut ram).1);
        }
        assert_eq!(c.page_for(MAX_PAGES, &mut ram), (base, true));
        assert!(!c.compiling_given_up(base));
        // The RAM page given up, decoded again, has a fresh count too.
        let (again, _) = c.page_for(0, &mut ram);
        assert!(!c.compiling_given_up(again));
        assert_eq!(c.pages_given_up(), 1);
    }

    /// A decoded page that only takes stores is released after
    /// `DATA_STORES_BEFORE_RELEASE` of them, then after twice as many the next time; an
    /// instruction decoded on it meanwhile starts the count over.
    #[test]
    fn a_page_that_only_takes_stores_is_released() {
        let mut ram = Ram::new(0, 4096 * 4);
        let mut c = DecodeCache::new();
        c.ensure(ram.size());
        for round in 0..2 {
            let (base, _) = c.page_for(1, &mut ram);
            c.set(base, decode(NOP));
            let changes = c.changes();
            let stores = DATA_STORES_BEFORE_RELEASE << round;
            for n in 1..stores {
                // Data beside the code, then (halfway) code decoded again.
                assert!(!c.invalidate(4096 + 64, 8), "released after {n} stores");
                if n == stores / 2 && round == 0 {
                    c.set(base + 1, decode(NOP));
                    for _ in 0..stores / 2 {
                        assert!(!c.invalidate(4096 + 64, 8));
                    }
                }
            }
            assert!(c.is_decoded(base) && c.is_current(base));
            assert!(c.invalidate(4096 + 64, 8));
            assert!(!c.is_decoded(base) && !c.is_current(base));
            assert!(c.changes() > changes);
            // Stores there now cost nothing: the RAM page has no decoded page.
            assert!(!c.invalidate(4096 + 64, 8));
        }
    }
}

//! The hart's own caches of translations, kept beside the MMU's ([`super::tlb`] for the
//! TLB model, the host-side fast path in `mod.rs`): together they are every place a
//! translation is remembered.
//!
//! - [`FetchPages`]: virtual page -> decoded page, for fetches.
//! - [`DataTlb`]: virtual page -> RAM offset, for loads and stores of unobserved runs
//!   (and the JIT's generated code, which reads its entries).
//! - [`CountedRun`] and [`FetchBatch`]: in counter-observed runs (`--stats`), accesses
//!   known to repeat a counted-cache hit, accounted to the MMU together.
//!
//! Each holds only pages the MMU's own fast path holds (so every check the full path
//! makes passes for the whole page), and the hart empties them whenever the MMU's
//! generation moves (sfence.vma, satp, PMP) or the translation context changes
//! (privilege, MPRV/MPP, SUM, MXR). The hart's side of them (filling, replaying to the
//! MMU) is in `cpu/data_path.rs` and `cpu/mod.rs`'s fetch.

/// Sentinel for "no page cached" (no address has this page number).
pub const NO_VPN: u64 = u64::MAX;

/// Entries in the fetch-page cache (direct-mapped by virtual page number).
const FETCH_SLOTS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct FetchEntry {
    vpn: u64,
    /// First slot of the decoded page (`DecodeCache::page_for`).
    base: usize,
    /// Physical address of the page.
    pa: u64,
}

/// Virtual page -> decoded page, so that a fetch on a recently used page needs no
/// translation. Valid for one fetch context and MMU generation: the hart empties it when
/// either changes, and when the decode cache starts over.
pub struct FetchPages {
    entries: [FetchEntry; FETCH_SLOTS],
}

impl FetchPages {
    const EMPTY: FetchEntry = FetchEntry {
        vpn: NO_VPN,
        base: 0,
        pa: 0,
    };

    pub fn new() -> Self {
        FetchPages {
            entries: [Self::EMPTY; FETCH_SLOTS],
        }
    }

    /// The decoded page holding virtual page `vpn` and its physical address.
    #[inline(always)]
    pub fn lookup(&self, vpn: u64) -> Option<(usize, u64)> {
        let e = &self.entries[vpn as usize % FETCH_SLOTS];
        (e.vpn == vpn).then_some((e.base, e.pa))
    }

    pub fn insert(&mut self, vpn: u64, base: usize, pa: u64) {
        self.entries[vpn as usize % FETCH_SLOTS] = FetchEntry { vpn, base, pa };
    }

    pub fn flush(&mut self) {
        self.entries = [Self::EMPTY; FETCH_SLOTS];
    }
}

impl Default for FetchPages {
    fn default() -> Self {
        Self::new()
    }
}

/// Entries of [`DataTlb`] per access type; direct-mapped by virtual page number.
pub const DTLB_SLOTS: usize = 256;

/// `repr(C)`: compiled blocks read entries (`cpu/fast/jit_glue.rs`).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct DtlbEntry {
    pub vpn: u64,
    /// RAM offset of a byte = its virtual address + `addend` (wrapping).
    pub addend: u64,
}

const DTLB_EMPTY: DtlbEntry = DtlbEntry {
    vpn: NO_VPN,
    addend: 0,
};

/// Virtual page -> RAM offset for the unobserved loop's loads and stores.
///
/// The store table never holds a RAM page with decoded code: a store there must drop
/// what was decoded from the bytes it changes, so it takes the slow path (the hart
/// forgets the page's store entries when it decodes code from it). A store that hits
/// the table then needs no other check, in the interpreter or in compiled code.
pub struct DataTlb {
    pub load: [DtlbEntry; DTLB_SLOTS],
    pub store: [DtlbEntry; DTLB_SLOTS],
    /// The MMU generation the entries were made under.
    generation: u64,
}

impl DataTlb {
    pub fn new() -> Box<DataTlb> {
        Box::new(DataTlb {
            load: [DTLB_EMPTY; DTLB_SLOTS],
            store: [DTLB_EMPTY; DTLB_SLOTS],
            generation: 0,
        })
    }

    pub fn flush(&mut self) {
        self.load = [DTLB_EMPTY; DTLB_SLOTS];
        self.store = [DTLB_EMPTY; DTLB_SLOTS];
    }

    /// Empty the cache if the MMU invalidated translations since it was filled.
    #[inline]
    pub fn sync(&mut self, generation: u64) {
        if self.generation != generation {
            self.flush();
            self.generation = generation;
        }
    }

    /// RAM offset of `[va, va + size)` when its page is cached and the access stays on it.
    ///
    /// One compare checks both: the entry is looked up by `va`'s page and its tag compared
    /// with the page of the access's last byte. They are equal only when both bytes are on
    /// the entry's page: an entry sits in the slot of its own page, and the page before
    /// it (the only other page the first byte can be on) has another slot.
    #[inline(always)]
    pub fn lookup(table: &[DtlbEntry; DTLB_SLOTS], va: u64, size: u64) -> Option<usize> {
        let e = &table[(va >> 12) as usize % DTLB_SLOTS];
        if e.vpn == va.wrapping_add(size - 1) >> 12 {
            Some(va.wrapping_add(e.addend) as usize)
        } else {
            None
        }
    }

    /// Remember that virtual page `vpn` is at RAM offset `page_off` for loads (`store`
    /// false) or stores. A page holding decoded code is never cached for stores (see
    /// [`DataTlb::forget_stores_to`]).
    pub fn insert(&mut self, store: bool, vpn: u64, page_off: usize) {
        let table = if store {
            &mut self.store
        } else {
            &mut self.load
        };
        table[vpn as usize % DTLB_SLOTS] = DtlbEntry {
            vpn,
            addend: (page_off as u64).wrapping_sub(vpn << 12),
        };
    }
}

impl DataTlb {
    /// RAM page at offset `page_off` now holds decoded code: no store reaches it through
    /// the table any more.
    pub fn forget_stores_to(&mut self, page_off: usize) {
        for e in &mut self.store {
            if e.vpn != NO_VPN && (e.vpn << 12).wrapping_add(e.addend) == page_off as u64 {
                *e = DTLB_EMPTY;
            }
        }
    }
}

/// Pages a [`CountedRun`] holds at once, direct-mapped by virtual page number (a power
/// of two).
pub const RUN_PAGES: usize = 64;

/// One page of a [`CountedRun`]. `repr(C)`, 64 bytes: compiled blocks of the counted
/// flavour find and update it (`cpu/jit_glue.rs`).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub struct RunPage {
    pub vpn: u64,
    /// RAM offset of a byte of the page = its virtual address + `addend`.
    pub addend: u64,
    /// Accesses to the page in the run, not accounted yet.
    pub n: u64,
    /// The run's sequence number ([`CountedRun::seq`]) of the last of them.
    pub last: u64,
    /// By access type (a load, a store): the page's number when that type was a
    /// counted-cache hit on the page's slot when it joined, [`NO_VPN`] otherwise; an
    /// access whose last byte's page number is its type's tag is the run's.
    pub tags: [u64; 2],
    /// What the MMU needs to account the accesses: the L1D slot they hit (or the MMU's
    /// "no TLB" mark) and the leaf level of its entry.
    pub slot: u32,
    pub level: u8,
}

/// Counter-observed runs: data accesses to a few RAM pages, each of which was a
/// counted-cache hit when it joined, accounted to the MMU together (`Mmu::settle_run`)
/// before anything else touches the TLB model. Between a page's joining and the
/// settling, nothing but these accesses touches the L1D (only data accesses do, and
/// the run is paused for any other, `Mmu::pause_run`), so each access to a page of the run would
/// be the same hit on the same slot; the model's state after them follows from how
/// many there were per page and where each page's last one fell in the sequence (its
/// slot's LRU stamp). A page joins only when that holds for every order of accesses
/// (`Mmu::may_join`). `repr(C)`: compiled blocks of the counted flavour extend it.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct CountedRun {
    pub pages: [RunPage; RUN_PAGES],
    /// Accesses in the run so far, all pages together.
    pub seq: u64,
    /// Bit `i` set when `pages[i]` holds a page (the host's; generated code ignores it).
    occupied: u64,
    /// Bit `i` set when `pages[i]` holds a page its L1D entry translates as part of a
    /// superpage (the host's).
    superpages: u64,
    /// By L1D slot modulo [`RUN_PAGES`]: the last page (its index in `pages`) that
    /// joined through that slot. A hint: the page there may since have been replaced
    /// (the host's).
    by_tlb_slot: [u8; RUN_PAGES],
    /// What the pages were joined under (`Mmu::run_context`).
    pub context: [u64; 4],
    /// The run was accounted since its last access: before the next, the MMU says
    /// whether its pages may stay (`Mmu::keep_run`).
    pub recheck: bool,
    /// The hart's count of RAM pages that came to hold decoded code, when the run last
    /// made sure that none of its pages with a store tag holds any: generated code then
    /// stores to such a page without looking, and a store to decoded code must go to
    /// the interpreter, which drops what was decoded from the bytes it changes (the
    /// host's).
    pub code_pages_seen: u64,
}

impl CountedRun {
    pub const EMPTY_PAGE: RunPage = RunPage {
        vpn: NO_VPN,
        addend: 0,
        n: 0,
        last: 0,
        tags: [NO_VPN; 2],
        slot: 0,
        level: 0,
    };

    pub const NONE: CountedRun = CountedRun {
        pages: [Self::EMPTY_PAGE; RUN_PAGES],
        seq: 0,
        occupied: 0,
        superpages: 0,
        by_tlb_slot: [0; RUN_PAGES],
        context: [0; 4],
        recheck: false,
        code_pages_seen: 0,
    };

    /// The run's slot for virtual page `vpn` (which may hold another page).
    #[inline(always)]
    pub fn slot(vpn: u64) -> usize {
        vpn as usize % RUN_PAGES
    }

    /// The RAM offset of `va` if the run holds its page for this access type (a load or
    /// a `store`), counting the access in the run.
    #[inline(always)]
    pub fn count(&mut self, va: u64, store: bool) -> Option<usize> {
        let vpn = va >> 12;
        let p = &mut self.pages[Self::slot(vpn)];
        if p.tags[store as usize] != vpn {
            return None;
        }
        self.seq += 1;
        p.n += 1;
        p.last = self.seq;
        Some(va.wrapping_add(p.addend) as usize)
    }

    /// Add page `vpn` (at RAM offset `page_off`; the MMU's `slot` and `level`) for this
    /// access type and count an access to it. The page it replaces must have nothing
    /// left to account.
    pub fn join(&mut self, vpn: u64, page_off: usize, store: bool, slot: u32, level: u8) {
        let i = Self::slot(vpn);
        self.occupied |= 1 << i;
        let p = &mut self.pages[i];
        if p.vpn != vpn {
            debug_assert_eq!(p.n, 0, "a page replaced with accesses unaccounted");
            if level > 0 {
                self.superpages |= 1 << i;
            } else {
                self.superpages &= !(1 << i);
            }
            self.by_tlb_slot[slot as usize % RUN_PAGES] = i as u8;
            *p = RunPage {
                vpn,
                addend: (page_off as u64).wrapping_sub(vpn << 12),
                slot,
                level,
                ..Self::EMPTY_PAGE
            };
        }
        p.tags[store as usize] = vpn;
        self.seq += 1;
        p.n += 1;
        p.last = self.seq;
    }

    /// Let the page `vpn` the run holds take accesses of the other type too (a load
    /// or a `store`), counting none.
    pub fn allow(&mut self, vpn: u64, store: bool) {
        let p = &mut self.pages[Self::slot(vpn)];
        debug_assert_eq!(p.vpn, vpn, "a page the run does not hold");
        p.tags[store as usize] = vpn;
    }

    /// Stop taking stores to the pages the run holds for which `has_code` says their
    /// RAM page (its offset) holds decoded code.
    pub fn forget_stores_to_code(&mut self, has_code: impl Fn(usize) -> bool) {
        for i in Occupied(self.occupied) {
            let p = &mut self.pages[i];
            if p.tags[1] != NO_VPN && has_code((p.vpn << 12).wrapping_add(p.addend) as usize) {
                p.tags[1] = NO_VPN;
            }
        }
    }

    /// The pages the run holds.
    pub fn held(&self) -> impl Iterator<Item = &RunPage> {
        Occupied(self.occupied).map(|i| &self.pages[i])
    }

    /// The pages the run holds as part of a superpage.
    pub fn held_superpages(&self) -> impl Iterator<Item = &RunPage> {
        Occupied(self.superpages).map(|i| &self.pages[i])
    }

    /// Whether some page the run holds joined through L1D slot `slot` (a TLB slot,
    /// not [`CountedRun::slot`]). Only a hint: false may be wrong.
    #[inline]
    pub fn holds_tlb_slot(&self, slot: u32) -> bool {
        let i = self.by_tlb_slot[slot as usize % RUN_PAGES] as usize;
        self.occupied & 1 << i != 0 && self.pages[i].slot == slot
    }

    /// `f` on each page the run holds, to change it.
    #[inline]
    pub fn each_held(&mut self, mut f: impl FnMut(&mut RunPage)) {
        for i in Occupied(self.occupied) {
            f(&mut self.pages[i]);
        }
    }

    /// Whether the run holds no page.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    /// Forget every page (after they were accounted).
    pub fn clear(&mut self) {
        debug_assert_eq!(self.seq, 0, "a run forgotten with accesses unaccounted");
        for i in Occupied(self.occupied) {
            self.pages[i] = Self::EMPTY_PAGE;
        }
        self.occupied = 0;
        self.superpages = 0;
        self.recheck = false;
    }
}

/// The positions of the bits set in a word, lowest first.
struct Occupied(u64);

impl Iterator for Occupied {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        (self.0 != 0).then(|| {
            let i = self.0.trailing_zeros() as usize;
            self.0 &= self.0 - 1;
            i
        })
    }
}

/// Counter-observed runs: the fetches from the page being run that are accounted in one
/// go. After one replay on a page succeeds, every further fetch from it until the loop
/// leaves the page would succeed the same way (only fetches touch the L1I, and none
/// other happens meanwhile), so they are counted and applied together. `from` is the
/// loop's instruction budget just after that replay ([`FetchBatch::NONE`]: none), so
/// `from - left` is the number of instructions fetched since, the one in flight
/// included.
#[derive(Debug, Clone, Copy)]
pub struct FetchBatch {
    pub from: u64,
    pub page: u64,
}

impl FetchBatch {
    pub const NONE: u64 = u64::MAX;
}

/// Counter-observed runs: fetches of compiled code that went on across pages, counted by
/// the L1I slot they hit, accounted to the MMU together (`Mmu::settle_fetch_run`).
///
/// A fetch batch opens on a page (the loop's [`FetchBatch`]): its fetches hit one L1I
/// slot, in the run [`FetchRun::BATCH`] until the settling finds which. A counted block's
/// exit to another page goes on without the host when the jump cache's entry for the
/// target says which slot the target's page hits alone in the L1I (`Mmu::fetch_word`)
/// and that slot's version has not moved since (`versions`, a copy of the L1I's slot
/// versions): the fetches since `from` are added to the current slot's count, `last`
/// notes where the last of them fell, and the target's slot becomes current. A lookup
/// checks the last-hit slot first, so the target's fetch hits its slot only when the
/// current slot does not translate it too: a slot that alone translates the page, with
/// its version unchanged, is that (a new entry that may translate an address some slot
/// does moves that slot's version). Without a TLB every fetch is accounted alike, in
/// slot [`FetchRun::BARE`].
///
/// Positions are budgets (the instructions left in the quantum, which fall by one per
/// fetch): `start` is the budget just after the run's first fetch, which the batch's
/// replay accounted, so a fetch that leaves budget `b` is the run's `start - b`th.
/// `repr(C)`: generated code of the counted flavour extends it (`cpu/jit_glue.rs`).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct FetchRun {
    /// The L1I's slot versions when `synced` was the array's version (`u64::MAX` for
    /// run slots the L1I does not have, which no word names); 0 for `BATCH` and `BARE`
    /// (a jump-cache word names `BARE` with version 0, and `BATCH` never).
    pub versions: [u64; FetchRun::WORDS],
    /// Fetches counted per run slot, not accounted yet.
    pub n: [u64; FetchRun::WORDS],
    /// Per run slot, the budget after its last counted fetch.
    pub last: [u64; FetchRun::WORDS],
    /// Bit `i` set when `n[i]` may be non-zero.
    pub touched: u64,
    /// The run slot the fetches since `from` hit.
    pub cur: u64,
    /// The jump-cache word that named `cur` at its version (for `BATCH`, a word no
    /// entry holds).
    pub cur_word: u64,
    /// The budget when the current slot's fetches began.
    pub from: u64,
    /// The pc they began at, when a counted exit made the slot current: the page of the
    /// chain's code since (a chain stays on its page but through such an exit).
    pub at: u64,
    /// The budget just after the run's first fetch.
    pub start: u64,
    /// The L1I's version that `versions` copies.
    pub synced: u64,
}

impl FetchRun {
    /// L1I slots a run counts by: an L1I with more never has its exits chained.
    pub const SLOTS: usize = 62;
    /// The run slot of the batch's page, whose L1I slot the settling looks up.
    pub const BATCH: u64 = 62;
    /// The run slot of fetches made without a TLB.
    pub const BARE: u64 = 63;
    pub const WORDS: usize = 64;
    /// A jump-cache word that never matches: `BATCH`'s version is 0, not this one.
    pub const NEVER: u64 = u64::MAX << Self::SLOT_BITS | Self::BATCH;
    /// Bits of a jump-cache word that hold the run slot; the version is above them.
    pub const SLOT_BITS: u32 = 6;

    pub fn new() -> Box<FetchRun> {
        Box::new(FetchRun {
            versions: [0; Self::WORDS],
            n: [0; Self::WORDS],
            last: [0; Self::WORDS],
            touched: 0,
            cur: Self::BATCH,
            cur_word: Self::BATCH,
            from: 0,
            at: 0,
            start: 0,
            synced: u64::MAX,
        })
    }

    /// Begin counting with the batch's fetches after budget `from` (its first fetch,
    /// which left `from`, already accounted).
    #[inline(always)]
    pub fn open(&mut self, from: u64) {
        self.cur = Self::BATCH;
        self.cur_word = Self::BATCH;
        self.from = from;
        self.start = from;
        self.touched = 1 << Self::BATCH;
    }

    /// Did any fetch go on from the batch's slot to another (so that the run, not the
    /// batch alone, holds the fetches since it opened)?
    #[inline(always)]
    pub fn moved(&self) -> bool {
        self.touched != 1 << Self::BATCH
    }

    /// What a counted exit's generated code does with the jump cache's `word` for the
    /// target `pc` (see `jit::CountedLayout`): when the word names a run slot at its
    /// current version, end the current slot's fetches at budget `left` and count on in
    /// that slot; false when it names none. The current slot's own word needs no more:
    /// its fetches simply go on (closing them later counts the same fetches, with the
    /// same last one).
    pub fn go_on(&mut self, word: u64, left: u64, pc: u64) -> bool {
        if word != self.cur_word {
            let slot = word & ((1 << Self::SLOT_BITS) - 1);
            if self.versions[slot as usize] != word >> Self::SLOT_BITS {
                return false;
            }
            self.close(left);
            self.cur = slot;
            self.cur_word = word;
            self.touched |= 1 << slot;
        }
        self.at = pc;
        true
    }

    /// End the current slot's fetches at budget `left`.
    #[inline(always)]
    pub fn close(&mut self, left: u64) {
        let cur = self.cur as usize;
        if self.from > left {
            self.n[cur] += self.from - left;
            self.last[cur] = left;
        }
        self.from = left;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum RunOp {
        Join { vpn: u64, slot: u32, level: u8 },
        Settled,
        Clear,
    }

    fn run_op() -> impl Strategy<Value = RunOp> {
        prop_oneof![
            8 => (0..256u64, 0..80u32, 0..3u8)
                .prop_map(|(vpn, slot, level)| RunOp::Join { vpn, slot, level }),
            1 => Just(RunOp::Settled),
            1 => Just(RunOp::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// What `Mmu::may_join` takes from the run without visiting its pages: the pages
        /// held through a superpage, and whether some held page joined through a TLB
        /// slot, whatever pages replaced others in the run's slots since.
        #[test]
        fn the_runs_summaries_match_its_pages(ops in proptest::collection::vec(run_op(), 1..200)) {
            let mut run = CountedRun::NONE;
            for op in ops {
                match op {
                    RunOp::Join { vpn, slot, level } => {
                        let p = &mut run.pages[CountedRun::slot(vpn)];
                        if p.vpn != vpn {
                            // `Mmu::join_run` accounts a displaced page first.
                            p.n = 0;
                        }
                        run.join(vpn, 0, vpn % 2 == 0, slot, level);
                    }
                    RunOp::Settled => {
                        run.each_held(|p| p.n = 0);
                        run.seq = 0;
                    }
                    RunOp::Clear => {
                        run.each_held(|p| p.n = 0);
                        run.seq = 0;
                        run.clear();
                    }
                }
                let supers: Vec<u64> = run.held_superpages().map(|p| p.vpn).collect();
                let want: Vec<u64> = run.held().filter(|p| p.level > 0).map(|p| p.vpn).collect();
                prop_assert_eq!(supers, want);
                for slot in 0..80 {
                    if run.holds_tlb_slot(slot) {
                        prop_assert!(run.held().any(|p| p.slot == slot), "slot {}", slot);
                    }
                }
            }
        }
    }
}

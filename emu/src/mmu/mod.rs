//! Address translation: the Sv39/Sv48/Sv57 walker, the TLB model, PMP and the fast path.
//!
//! Contract with the hart (`cpu`): every guest memory access goes through
//! [`Mmu::translate`]; the hart passes what the spec says the translation depends on in a
//! [`TranslateCtx`] (satp, the *effective* privilege -- MPP for M-mode loads/stores with
//! MPRV=1 -- SUM and MXR). The hart never walks page tables itself. Besides that it calls:
//! - [`Mmu::satp_write`] to apply the WARL rule to a csrw satp, then
//!   [`Mmu::satp_written`] with the old and new value;
//! - [`Mmu::sfence_vma`] with `Some(rs1)` / `Some(rs2 as u16)` for non-x0 operands;
//! - [`Mmu::pmp_changed`] after any pmpcfg/pmpaddr write (through the `pmp` field);
//! - [`Mmu::generation`] to validate its own caches (fetch pages, decoded blocks): it
//!   changes on sfence.vma, satp writes and PMP writes;
//! - [`Mmu::observed`]: when true, the hart must not bypass `translate` with its own
//!   caches, and should set [`Mmu::current_pc`] before each access (stale-translation
//!   reports carry it).
//!
//! Inside, `translate` is a three-tier lookup: a direct-mapped host-side cache (a few
//! compares; skipped when observed), then the TLB model ([`tlb`]: L1 I/D and a shared
//! L2 with ASID/global tags), then the walker ([`walker`]). Permissions are checked with
//! the current context on every TLB hit. Unobserved, a miss of the host-side cache
//! first tries the trail of the last walk to the page ([`PteTrail`]): the PTEs it read,
//! which make the same translation again while they hold the same values.
//!
//! Extensions: Svade by default, Svadu with `MmuConfig::svadu`; Svnapot and Svpbmt are not
//! implemented (see [`pte::PTE_RESERVED_MASK`]). ASIDLEN is 16, physical addresses are 56
//! bits. Every level may hold a leaf, so Sv48 maps 512 GiB pages and Sv57 also 256 TiB.

use crate::bus::Bus;
use crate::cpu::trap::Exception;

/// The three kinds of access the spec distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessType {
    Fetch,
    Load,
    Store,
}

impl AccessType {
    /// A data access: a store, or a load.
    pub fn data(store: bool) -> AccessType {
        if store {
            AccessType::Store
        } else {
            AccessType::Load
        }
    }

    /// The page-fault cause for this access.
    pub fn page_fault(self, va: u64) -> Exception {
        let cause = match self {
            AccessType::Fetch => Exception::INSN_PAGE_FAULT,
            AccessType::Load => Exception::LOAD_PAGE_FAULT,
            AccessType::Store => Exception::STORE_PAGE_FAULT,
        };
        Exception::new(cause, va)
    }

    /// The access-fault cause for this access.
    pub fn access_fault(self, va: u64) -> Exception {
        let cause = match self {
            AccessType::Fetch => Exception::INSN_ACCESS_FAULT,
            AccessType::Load => Exception::LOAD_ACCESS_FAULT,
            AccessType::Store => Exception::STORE_ACCESS_FAULT,
        };
        Exception::new(cause, va)
    }
}

/// satp.MODE values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SatpMode {
    Bare = 0,
    Sv39 = 8,
    Sv48 = 9,
    Sv57 = 10,
}

impl SatpMode {
    pub fn from_bits(mode: u64) -> Option<SatpMode> {
        match mode {
            0 => Some(SatpMode::Bare),
            8 => Some(SatpMode::Sv39),
            9 => Some(SatpMode::Sv48),
            10 => Some(SatpMode::Sv57),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SatpMode::Bare => "bare",
            SatpMode::Sv39 => "sv39",
            SatpMode::Sv48 => "sv48",
            SatpMode::Sv57 => "sv57",
        }
    }
}

/// Everything outside the MMU that a translation depends on, for one access.
///
/// `privilege` is the *effective* privilege of the access: for loads and stores with
/// mstatus.MPRV = 1 in M-mode the hart passes MPP here (the spec's rule), for fetches the
/// current privilege. 0 = U, 1 = S, 3 = M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranslateCtx {
    pub satp: u64,
    pub privilege: u8,
    pub sum: bool,
    pub mxr: bool,
}

/// Configuration chosen on the command line. Read once by [`Mmu::new`], except `stats`
/// and `check_tlb`, which may be switched at any time.
#[derive(Debug, Clone)]
pub struct MmuConfig {
    /// Highest satp mode the hart implements (`--sv39/--sv48/--sv57`).
    pub max_mode: SatpMode,
    /// Hardware A/D updates (Svadu) instead of page faults (Svade).
    pub svadu: bool,
    /// Geometry of the TLB model (`--tlb`).
    pub tlb: TlbConfig,
    /// Every access goes through the TLB model so the counters see it (`--stats`).
    pub stats: bool,
    /// Compare every TLB hit with a fresh walk (`--check-tlb`).
    pub check_tlb: bool,
    /// The emulator's own shortcuts may serve translations and instructions: the MMU's
    /// fast and counted caches, the hart's fetch-page and data-page caches and its
    /// straight-through loop. `--no-fast-path` clears it, so every access takes the full
    /// path through the TLB model and every instruction the reference loop: slower,
    /// with identical results (the differential tests compare the two).
    pub fast_path: bool,
}

impl Default for MmuConfig {
    fn default() -> Self {
        MmuConfig {
            max_mode: SatpMode::Sv57,
            svadu: false,
            tlb: TlbConfig::default(),
            stats: false,
            check_tlb: false,
            fast_path: true,
        }
    }
}

pub mod check;
pub mod page_caches;
pub mod pmp;
pub mod pte;
pub mod pwc;
#[cfg(test)]
mod run_tests;
pub(crate) mod state;
pub mod stats;
pub mod tlb;
pub mod walker;

pub use check::StaleTranslation;
pub use pmp::Pmp;
pub use pte::{Pte, PteFlags};
pub use stats::MmuStats;
pub use tlb::{TlbConfig, TlbEntry, TlbLevelConfig, TlbRestore};
pub use walker::{Leaf, WalkFault, WalkStep, WalkSteps};

use check::StaleLog;
use page_caches::{CountedRun, FetchRun, RunPage};
use pwc::{PageWalkCache, PwcLookup};
use tlb::TlbArray;
use walker::{ad_need, ad_update, leaf_permits, AdNeed};

/// Width of a physical address.
pub const PA_BITS: u32 = 56;

/// Width of satp.PPN (and of a PTE's PPN).
pub const SATP_PPN_MASK: u64 = (1 << 44) - 1;

/// satp.ASID (16 bits: ASIDLEN is the maximum the spec allows on RV64).
#[inline]
pub fn satp_asid(satp: u64) -> u16 {
    (satp >> 44) as u16
}

/// Physical address of the root page table named by satp.
#[inline]
pub fn satp_root(satp: u64) -> u64 {
    (satp & SATP_PPN_MASK) << 12
}

/// The mode satp selects. A MODE value this MMU does not implement cannot reach satp
/// (see [`Mmu::satp_write`]); should one arrive in a [`TranslateCtx`] anyway it is treated
/// as Bare.
#[inline]
pub fn satp_mode(satp: u64) -> SatpMode {
    SatpMode::from_bits(satp >> 60).unwrap_or(SatpMode::Bare)
}

/// Which TLB array an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlbLevel {
    L1I,
    L1D,
    L2,
}

impl TlbLevel {
    pub fn name(self) -> &'static str {
        match self {
            TlbLevel::L1I => "l1i",
            TlbLevel::L1D => "l1d",
            TlbLevel::L2 => "l2",
        }
    }
}

/// What happened in a TLB array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlbEventKind {
    Hit,
    Miss,
    Fill,
    Evict,
}

/// Something the MMU did, for tracing. Built only while [`Mmu::record_events`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MmuEvent {
    /// A page-table walk: every PTE read, then the leaf or the fault.
    Walk {
        va: u64,
        access: AccessType,
        satp: u64,
        steps: WalkSteps,
        result: Result<Leaf, WalkFault>,
        /// What the page-walk cache gave this walk (nothing probed without one).
        pwc: PwcLookup,
    },
    /// A lookup, fill or eviction in one TLB array. `entry` is the entry hit, filled or
    /// evicted (none for a miss).
    Tlb {
        kind: TlbEventKind,
        level: TlbLevel,
        va: u64,
        asid: u16,
        entry: Option<TlbEntry>,
    },
    /// Entries an sfence.vma removed from one array.
    TlbFlush {
        level: TlbLevel,
        vaddr: Option<u64>,
        asid: Option<u16>,
        removed: u64,
    },
    Sfence {
        vaddr: Option<u64>,
        asid: Option<u16>,
    },
    Satp {
        old: u64,
        new: u64,
    },
    /// `--check-tlb` found a TLB hit that disagrees with the page table.
    Stale(StaleTranslation),
}

/// Which [`MmuEvent`]s the MMU records (satp, sfence and stale-translation reports are
/// always recorded while recording is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventKinds {
    pub walks: bool,
    /// The TLB arrays' events (hit, miss, fill, evict, flush).
    pub tlb: bool,
}

/// The events of the instruction in progress, in order. Only the hart's thread touches
/// it: the MMU appends while recording is on and the hart drains it after each
/// instruction ([`Mmu::take_events`]).
#[derive(Debug, Default)]
struct EventLog {
    /// None: nothing is recorded (and the buffer holds nothing).
    kinds: Option<EventKinds>,
    events: Vec<MmuEvent>,
}

/// Slots per access type in the fast translation cache.
const FAST_SLOTS: usize = 512;

#[derive(Debug, Clone, Copy)]
struct FastEntry {
    vpn: u64,
    /// [`FastCache::key`] at fill time.
    key: u64,
    /// Physical address of the 4 KiB page.
    page: u64,
}

/// What a walk that filled the fast path read, so that its translation can be made again
/// without the walk: after an `sfence.vma` a translation must match the page tables as
/// they are, and a walk under the same satp, context and PMP state that reads the same
/// PTEs makes the same translation. Fences of everything come thousands of times a second
/// in some kernels' paths (changes to the linear map's permissions), a process switch
/// writes satp, and neither touches the PTEs of most pages in use; checking a trail reads
/// a few words where the full path looks up the TLB model, walks and fills it again. A
/// walk to a superpage leaf reads the same PTEs for every page of the superpage, so its
/// trail serves them all.
#[derive(Debug, Clone, Copy)]
struct PteTrail {
    /// The leaf's level (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) and the number of its region
    /// (the virtual page number shifted right by 9 bits per level).
    level: u8,
    region: u64,
    satp: u64,
    /// The context bits of [`FastCache::key`] (privilege, SUM, MXR).
    context: u8,
    pmp_version: u64,
    /// The physical address the region starts at.
    base: u64,
    /// Whether the PMP allows this access to the whole region with one decision (else
    /// each page other than the walk's is checked on its own).
    pmp_whole: bool,
    /// Steps from the root down to the leaf (0 for a translation that reads no PTE:
    /// satp = bare, or M-mode).
    len: u8,
    /// Each PTE's RAM offset and the value the walk read there.
    steps: [(usize, u64); 5],
}

/// Slots per access type for trails, and the largest leaf level that has one.
const TRAIL_SLOTS: usize = 512;
const TRAIL_MAX_LEVEL: u8 = 2;

impl PteTrail {
    /// Matches no page: virtual page numbers have at most 52 bits.
    const EMPTY: PteTrail = PteTrail {
        level: 0,
        region: u64::MAX,
        satp: 0,
        context: 0,
        pmp_version: 0,
        base: 0,
        pmp_whole: false,
        len: 0,
        steps: [(0, 0); 5],
    };

    /// The slot of the trail of a level-`level` leaf mapping `vpn`.
    #[inline]
    fn slot(vpn: u64, level: u8) -> usize {
        ((vpn >> (9 * level as u32)) as usize ^ (level as usize) << 7) % TRAIL_SLOTS
    }

    /// Whether every PTE of the trail still holds what the walk read.
    #[inline]
    fn holds(&self, ram: &[u8]) -> bool {
        let Some(steps) = self.steps.get(..self.len as usize) else {
            return false;
        };
        steps.iter().all(|&(off, pte)| {
            ram.get(off..off + 8)
                .is_some_and(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) == pte)
        })
    }
}

/// Slots per access type in the counted cache.
const COUNTED_SLOTS: usize = 1024;

/// [`CountedEntry::slot`] of a translation that needs no TLB (satp = bare, or M-mode).
const NO_TLB: u32 = u32::MAX;

/// A page joining a counted run ([`Mmu::may_join`]): its physical address, and the L1D
/// slot its accesses hit (or no TLB) with the leaf level of the slot's entry, which the
/// run keeps for [`Mmu::settle_run`].
#[derive(Debug, Clone, Copy)]
struct RunJoin {
    page: u64,
    slot: u32,
    level: u8,
}

/// A translation the observed fast path may repeat: one that hit the L1 of the TLB model
/// (or needed no TLB), passed the permission, A/D and whole-page PMP checks, and would
/// hit the same L1 slot again while that array's version stands. Repeating it makes
/// exactly the counter and LRU updates the full path makes, so `--stats` output is
/// unchanged; a miss in the model always takes the full path.
#[derive(Debug, Clone, Copy)]
struct CountedEntry {
    vpn: u64,
    /// [`FastCache::counted_key`] at fill time.
    key: u64,
    /// satp at fill time (the address space the L1 entry was found first for).
    satp: u64,
    /// [`TlbArray::slot_version`] of `slot` in the L1 at fill time.
    slot_version: u64,
    /// The PMP's version at fill time: a PMP write may take the page away, fence or not.
    pmp_version: u64,
    /// Physical address of the 4 KiB page.
    page: u64,
    /// L1 slot the lookup lands on, or [`NO_TLB`].
    slot: u32,
    /// Leaf level of the entry in `slot` (for `hits_by_size`).
    level: u8,
    /// A fetch's: `slot` was found to be the only L1I slot translating the page
    /// ([`Mmu::fetch_word`]). It stays so while the slot's version stands: an entry that
    /// comes to translate any of the slot's addresses moves it.
    alone: bool,
}

/// 2 MiB blocks the counted cache holds ([`CountedBlock`]), direct-mapped by block number
/// (a power of two).
const COUNTED_BLOCKS: usize = 64;

/// The counted cache's entry for a 2 MiB block of virtual addresses in a superpage whose
/// L1D entry translates its addresses alone (no other entry translates any of them, so
/// a lookup of any lands on that slot, wherever it starts): a data access of a type
/// in `types` to any page of the block is then the hit a [`CountedEntry`] of that page
/// would stand for. It holds while the slot's version does (an entry that comes to
/// translate an address of the slot's moves it) and the context, satp and PMP do, as a
/// [`CountedEntry`]. Counted runs join the block's pages through it
/// ([`Mmu::join_run`]), in any order with their other pages: those are translated by
/// other slots, which translate none of the block's addresses.
#[derive(Debug, Clone, Copy)]
struct CountedBlock {
    /// Virtual page number of the block's first page >> 9; `u64::MAX` for none.
    block: u64,
    key: u64,
    satp: u64,
    slot_version: u64,
    pmp_version: u64,
    /// Physical address of a page of the block = its virtual address + `pa_delta`.
    pa_delta: u64,
    slot: u32,
    level: u8,
    /// Whether the slot's entry translates the block alone. If not, `types` is empty:
    /// the block is known not to serve, until its slot's version moves.
    alone: bool,
    /// By data access type (a load, a store): whether that type's accesses are hits on
    /// `slot` (the counted cache served one for a page of the block) that the PMP allows
    /// everywhere in the block.
    types: [bool; 2],
}

impl CountedBlock {
    const NONE: CountedBlock = CountedBlock {
        block: u64::MAX,
        key: 0,
        satp: 0,
        slot_version: 0,
        pmp_version: 0,
        pa_delta: 0,
        slot: 0,
        level: 0,
        alone: false,
        types: [false; 2],
    };
}

/// The emulator's own translation cache in front of the TLB model: virtual page plus the
/// context bits a translation depends on -> physical page, for pages whose PMP decision
/// covers the whole page. Invalidated by bumping `epoch` (part of every key): on
/// sfence.vma, PMP changes, and whenever the satp in use differs from the one the entries
/// were made under. `slots` serves unobserved runs and bypasses the model; `counted`
/// serves runs with only `--stats` on and replays the model's bookkeeping.
struct FastCache {
    slots: [[FastEntry; FAST_SLOTS]; 3],
    /// Trails of the last walks that filled `slots` ([`Mmu::retrace`]).
    trails: [[PteTrail; TRAIL_SLOTS]; 3],
    counted: [[CountedEntry; COUNTED_SLOTS]; 3],
    counted_blocks: [CountedBlock; COUNTED_BLOCKS],
    epoch: u64,
    satp: u64,
}

impl FastCache {
    fn new() -> Box<FastCache> {
        let empty = FastEntry {
            vpn: u64::MAX,
            key: 0,
            page: 0,
        };
        let counted_empty = CountedEntry {
            vpn: u64::MAX,
            key: 0,
            slot_version: 0,
            pmp_version: 0,
            satp: 0,
            page: 0,
            slot: NO_TLB,
            level: 0,
            alone: false,
        };
        Box::new(FastCache {
            slots: [[empty; FAST_SLOTS]; 3],
            trails: [[PteTrail::EMPTY; TRAIL_SLOTS]; 3],
            counted: [[counted_empty; COUNTED_SLOTS]; 3],
            counted_blocks: [CountedBlock::NONE; COUNTED_BLOCKS],
            // Keys made from epoch >= 1 are never 0, so empty slots never match.
            epoch: 1,
            satp: 0,
        })
    }

    #[inline]
    fn key(&self, ctx: &TranslateCtx) -> u64 {
        self.epoch << 8 | (ctx.privilege as u64) << 2 | (ctx.sum as u64) << 1 | ctx.mxr as u64
    }

    /// The key of a counted-cache entry for L1 slot `slot`: without the epoch when the
    /// entry stands for an L1 hit, since the slot's version then says whether the model
    /// would still hit there (a fence or a satp write that leaves the slot alone leaves
    /// the hit alone); with it for translations made without a TLB.
    #[inline]
    fn counted_key(&self, ctx: &TranslateCtx, slot: u32) -> u64 {
        let key = self.key(ctx);
        if slot == NO_TLB {
            key
        } else {
            key & 0xff
        }
    }
}

/// The MMU of one hart.
pub struct Mmu {
    pub config: MmuConfig,
    pub pmp: Pmp,
    pub stats: MmuStats,
    /// The pc of the instruction making the next access. The hart sets it before each
    /// access when [`Mmu::observed`] is true; only stale-translation reports use it.
    pub current_pc: u64,
    /// Changes whenever a translation the hart may have cached becomes invalid
    /// (sfence.vma, satp and PMP writes). The hart's own fetch-page cache compares it.
    generation: u64,
    l1i: TlbArray,
    l1d: TlbArray,
    l2: TlbArray,
    /// The page-walk cache, when `--tlb` configures one.
    pwc: Option<PageWalkCache>,
    fast: Box<FastCache>,
    pmp_version_seen: u64,
    stale: StaleLog,
    log: EventLog,
    /// The L1 slot the current translation hit and that array's version then
    /// (`usize::MAX` when it did not hit the L1): what the counted cache may remember.
    l1_hit: (usize, u64),
    /// Whether the current translation walked from the root (its PTEs are then in
    /// `scratch_steps`).
    walked: bool,
    /// The PTEs read by the walk in progress ([`Mmu::walk`], [`Mmu::probe_pa`]): a
    /// scratch record, emptied by setting its length, since building a zeroed record
    /// for every walk costs a stalled copy (its byte stores read back as words).
    scratch_steps: WalkSteps,
}

impl Mmu {
    pub fn new(config: MmuConfig) -> Self {
        Mmu {
            l1i: TlbArray::new(config.tlb.l1i),
            l1d: TlbArray::new(config.tlb.l1d),
            l2: TlbArray::new(config.tlb.l2),
            pwc: PageWalkCache::new(config.tlb.pwc),
            stats: MmuStats {
                pwc_enabled: config.tlb.pwc.entries != 0,
                ..MmuStats::default()
            },
            config,
            pmp: Pmp::new(),
            current_pc: 0,
            generation: 0,
            fast: FastCache::new(),
            pmp_version_seen: 0,
            stale: StaleLog::default(),
            log: EventLog::default(),
            l1_hit: (usize::MAX, 0),
            walked: false,
            scratch_steps: WalkSteps::default(),
        }
    }

    /// Start recording [`MmuEvent`]s of `kinds` (None: stop, and drop what is queued).
    /// While recording, every access goes through the TLB model. Without TLB events a
    /// repeated L1 hit, which would report only a `Tlb` hit, takes the counted cache like
    /// a `--stats` run: walks, satp, sfence and stale reports are exactly those of the
    /// full path, at a fraction of its cost.
    pub fn record_events(&mut self, kinds: Option<EventKinds>) {
        if kinds.is_none() {
            self.log.events = Vec::new();
        }
        self.log.kinds = kinds;
    }

    /// What [`Mmu::record_events`] was last given.
    pub fn recorded_events(&self) -> Option<EventKinds> {
        self.log.kinds
    }

    /// Whether events were recorded since the last [`Mmu::take_events`].
    #[inline(always)]
    pub fn has_events(&self) -> bool {
        !self.log.events.is_empty()
    }

    /// Move the recorded events, in order, into `out` (which must be empty; its
    /// allocation is kept for the next call).
    #[inline]
    pub fn take_events(&mut self, out: &mut Vec<MmuEvent>) {
        debug_assert!(out.is_empty());
        std::mem::swap(&mut self.log.events, out);
    }

    #[inline]
    fn recording(&self) -> bool {
        self.log.kinds.is_some()
    }

    #[inline]
    fn recording_tlb(&self) -> bool {
        matches!(self.log.kinds, Some(EventKinds { tlb: true, .. }))
    }

    #[inline]
    fn recording_walks(&self) -> bool {
        matches!(self.log.kinds, Some(EventKinds { walks: true, .. }))
    }

    /// Translate `va` for `access`. Returns the physical address or the exception
    /// (page fault with tval = va, or access fault) the hart must raise.
    ///
    /// The PMP check is made on the byte at the returned address; an access that is
    /// misaligned across a PMP entry boundary inside a page is the hart's to split.
    #[inline]
    pub fn translate(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        bus: &mut Bus,
    ) -> Result<u64, Exception> {
        if !self.observed() && self.config.fast_path {
            let vpn = va >> 12;
            let e = &self.fast.slots[access as usize][vpn as usize % FAST_SLOTS];
            if e.vpn == vpn && e.key == self.fast.key(ctx) && ctx.satp == self.fast.satp {
                return Ok(e.page | (va & 0xfff));
            }
            if ctx.satp == self.fast.satp {
                if let Some(page) = self.retrace(vpn, access, ctx, bus) {
                    return Ok(page | (va & 0xfff));
                }
            }
        } else if self.only_counting() {
            if let Some(pa) = self.translate_counted(va, access, ctx, None) {
                return Ok(pa);
            }
        }
        self.translate_slow(va, access, ctx, bus)
    }

    /// The fast path's translation of `vpn` made again from the trail of a walk to a
    /// leaf that maps it ([`PteTrail`]), when that walk was made for this access under the
    /// same satp, context and PMP state, every PTE it read holds the same value, and (for
    /// another page of a superpage) the PMP allows the whole page.
    #[inline(never)]
    fn retrace(
        &mut self,
        vpn: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        bus: &Bus,
    ) -> Option<u64> {
        let key = self.fast.key(ctx);
        let trails = &self.fast.trails[access as usize];
        let t = (0..=TRAIL_MAX_LEVEL)
            .map(|level| &trails[PteTrail::slot(vpn, level)])
            .find(|t| t.region == vpn >> (9 * t.level as u32))?;
        // The PMP version a trail was made under is one `translate_slow` had seen, so an
        // equal version also means no PMP write went unannounced since.
        if t.satp != ctx.satp
            || t.context != key as u8
            || t.pmp_version != self.pmp.version()
            || !t.holds(bus.ram.as_slice())
        {
            return None;
        }
        let region_mask = (1u64 << (12 + 9 * t.level as u32)) - 1;
        let page = t.base | (vpn << 12 & region_mask);
        if !t.pmp_whole && self.pmp.allows(page, access, ctx.privilege) != (true, true) {
            return None;
        }
        self.fast.slots[access as usize][vpn as usize % FAST_SLOTS] = FastEntry { vpn, key, page };
        Some(page)
    }

    /// Observed by the counters alone, or by an event log that takes no TLB events, and no
    /// `--check-tlb`: a repeated L1 hit then needs only its bookkeeping, not the full
    /// path. The hart may then keep its fetch-page cache if it replays each fetch with
    /// [`Mmu::replay_fetch`].
    #[inline]
    pub fn only_counting(&self) -> bool {
        !self.config.check_tlb && !self.recording_tlb() && self.config.fast_path
    }

    /// The physical page the unobserved fast path holds for `va`'s page under `ctx`, if
    /// any: a page that passed every check of the full path as a whole (permissions,
    /// A/D, PMP), so the hart may cache it too until [`Mmu::generation`] moves.
    #[inline]
    pub fn fast_page(&self, va: u64, access: AccessType, ctx: &TranslateCtx) -> Option<u64> {
        if self.observed() || !self.config.fast_path {
            return None;
        }
        let vpn = va >> 12;
        let e = &self.fast.slots[access as usize][vpn as usize % FAST_SLOTS];
        (e.vpn == vpn && e.key == self.fast.key(ctx) && ctx.satp == self.fast.satp)
            .then_some(e.page)
    }

    /// For a hart that cached the decoded page of `va`'s physical page `page` under
    /// the current [`Mmu::generation`] and fetch context: account the fetch exactly as
    /// [`Mmu::translate`] would and return true, or return false having changed nothing
    /// (the hart must then translate). Only while [`Mmu::only_counting`].
    #[inline(always)]
    pub fn replay_fetch(&mut self, va: u64, ctx: &TranslateCtx, page: u64) -> bool {
        self.translate_counted(va, AccessType::Fetch, ctx, Some(page))
            .is_some()
    }

    /// The jump-cache word for a block at `va` fetched from physical page `page` (see
    /// [`FetchRun`]): the run slot a fetch of it hits, with that slot's version, when
    /// the counted cache would serve the fetch from `page` as a hit on an L1I slot that
    /// alone translates `va` (or without a TLB); [`FetchRun::NEVER`] otherwise.
    pub fn fetch_word(&mut self, va: u64, ctx: &TranslateCtx, page: u64) -> u64 {
        let Some(e) = self.counted_entry(va, AccessType::Fetch, ctx) else {
            return FetchRun::NEVER;
        };
        if e.page != page {
            return FetchRun::NEVER;
        }
        if e.slot == NO_TLB {
            return FetchRun::BARE;
        }
        let slot = e.slot as usize;
        if slot >= FetchRun::SLOTS || self.l1i.slot_version(slot) != e.slot_version {
            return FetchRun::NEVER;
        }
        if !e.alone {
            // Found once per entry (a block's every jump-cache fill asks).
            if !self.l1i.only_match(slot, va, satp_asid(ctx.satp)) {
                return FetchRun::NEVER;
            }
            let vpn = va >> 12;
            self.fast.counted[AccessType::Fetch as usize][vpn as usize % COUNTED_SLOTS].alone =
                true;
        }
        e.slot_version << FetchRun::SLOT_BITS | slot as u64
    }

    /// Bring `run`'s copy of the L1I's slot versions up to date.
    #[inline(always)]
    pub fn sync_fetch_run(&self, run: &mut FetchRun) {
        if run.synced != self.l1i.version() {
            self.copy_slot_versions(run);
        }
    }

    #[cold]
    fn copy_slot_versions(&self, run: &mut FetchRun) {
        run.synced = self.l1i.version();
        for (i, v) in run.versions[..FetchRun::SLOTS].iter_mut().enumerate() {
            *v = self.l1i.slot_version(i);
        }
    }

    /// Account the fetches `run` counted, its current slot's up to budget `end`, exactly
    /// as replaying each in turn would; the batch's own were fetched from `batch_va`'s
    /// page. Then the run holds nothing.
    pub fn settle_fetch_run(
        &mut self,
        run: &mut FetchRun,
        batch_va: u64,
        ctx: &TranslateCtx,
        end: u64,
    ) {
        run.close(end);
        let vpn = batch_va >> 12;
        let batch = self.fast.counted[AccessType::Fetch as usize][vpn as usize % COUNTED_SLOTS];
        debug_assert!(batch.vpn == vpn && batch.key == self.fast.counted_key(ctx, batch.slot));
        // The last fetch is the one that left the smallest budget.
        let mut last: Option<(u64, usize)> = None;
        let mut touched = run.touched;
        while touched != 0 {
            let i = touched.trailing_zeros() as usize;
            touched &= touched - 1;
            let n = std::mem::take(&mut run.n[i]);
            if n == 0 {
                continue;
            }
            let (slot, level) = match i as u64 {
                FetchRun::BATCH if batch.slot != NO_TLB => (batch.slot as usize, batch.level),
                FetchRun::BATCH | FetchRun::BARE => {
                    self.stats.bare_translations += n;
                    continue;
                }
                _ => (i, self.l1i.entry_at(i).level),
            };
            self.stats.paged_translations += n;
            self.stats.l1i.add_hits(level, n);
            self.l1i.stamp_ahead(slot, run.start - run.last[i]);
            if last.is_none_or(|(left, _)| run.last[i] < left) {
                last = Some((run.last[i], slot));
            }
        }
        if let Some((_, slot)) = last {
            self.l1i.advance(run.start - end, slot);
        }
        run.open(end);
    }

    /// Whether a [`Mmu::replay_fetch`] of `va` from physical page `page` would succeed
    /// now. Changes nothing.
    pub fn would_replay_fetch(&self, va: u64, ctx: &TranslateCtx, page: u64) -> bool {
        self.counted_hit(va, AccessType::Fetch, ctx)
            .is_some_and(|e| e.page == page)
    }

    /// The counted cache's entry for `va`'s page when translating it for `access` now
    /// would be the counted cache's hit ([`Mmu::translate_counted`]): an L1 entry the
    /// model would touch, unchanged since it was remembered, or no TLB at all. Changes
    /// nothing.
    #[inline(always)]
    fn counted_hit(&self, va: u64, access: AccessType, ctx: &TranslateCtx) -> Option<CountedEntry> {
        let e = self.counted_entry(va, access, ctx)?;
        if e.slot == NO_TLB {
            return Some(e);
        }
        let l1 = match access {
            AccessType::Fetch => &self.l1i,
            _ => &self.l1d,
        };
        (l1.slot_version(e.slot as usize) == e.slot_version
            && l1.would_touch(e.slot as usize, va, satp_asid(ctx.satp)))
        .then_some(e)
    }

    /// The counted cache's entry for `va`'s page, if it was made for this access type
    /// in the current context (privilege, SUM, MXR, epoch), satp and PMP state.
    #[inline(always)]
    fn counted_entry(
        &self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
    ) -> Option<CountedEntry> {
        let vpn = va >> 12;
        let e = self.fast.counted[access as usize][vpn as usize % COUNTED_SLOTS];
        (e.vpn == vpn && self.made_now(e.key, e.satp, e.pmp_version, e.slot, ctx)).then_some(e)
    }

    /// Whether a counted-cache entry for L1 slot `slot` made with `key`, `satp` and
    /// `pmp_version` was made in the current context (privilege, SUM, MXR; the epoch
    /// without a TLB), satp and PMP state.
    #[inline(always)]
    fn made_now(
        &self,
        key: u64,
        satp: u64,
        pmp_version: u64,
        slot: u32,
        ctx: &TranslateCtx,
    ) -> bool {
        key == self.fast.counted_key(ctx, slot)
            && satp == ctx.satp
            && pmp_version == self.pmp.version()
    }

    /// Whether `va`'s page may join the counted run `run` for a data access of type
    /// `access` (see [`CountedRun`]): the counted cache would serve the access as an L1D
    /// hit (or without TLB) on a slot no other page of the run hits, or on one whose
    /// entry covers none of the others' pages and is covered by none of theirs, so that
    /// every access of the run stays a hit on its page's slot in any order (the model's
    /// last-hit slot, checked first on each access, never names another match). Some:
    /// the physical page and what the run needs to account the page's accesses. Changes
    /// nothing; only while [`Mmu::only_counting`].
    fn may_join(
        &self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        run: &CountedRun,
    ) -> Option<RunJoin> {
        let vpn = va >> 12;
        let e = self.counted_hit(va, access, ctx)?;
        let join = RunJoin {
            page: e.page,
            slot: e.slot,
            level: e.level,
        };
        if e.slot == NO_TLB {
            return Some(join);
        }
        // The slot of a page of the run holds a translation of the page, so it covers
        // `va` too exactly when its entry is a superpage that `va` lies in (the address
        // space is the same); the same the other way round.
        let apart = |p: &RunPage| {
            let shift = 9 * p.level.max(e.level) as u32;
            p.vpn == vpn || p.slot == e.slot || (p.vpn ^ vpn) >> shift != 0
        };
        // A page held through the same slot (the same entry: a fill would have ended
        // the run) was found apart from every other held page, and `va` lies in that
        // page's region at the entry's level, so it is apart from them too. A 4 KiB
        // entry's page can only lie in a held superpage's region.
        let ok = run.holds_tlb_slot(e.slot)
            || if e.level == 0 {
                run.held_superpages().all(apart)
            } else {
                run.held().all(apart)
            };
        ok.then_some(join)
    }

    /// Join `va`'s page to `run` for a load or a `store` and count the access there, when
    /// the counted cache has the page, it may join ([`Mmu::may_join`]) and `offset` gives
    /// the offset of its physical page in the memory the run reaches (RAM) for that
    /// access type; the page it displaces from the run has its accesses accounted first.
    /// The page joins for the other type too when the counted cache would serve that
    /// type through the same L1D slot and `offset` accepts it, so that the first access
    /// of the other type is counted without a miss. Returns the offset of `va`; None,
    /// having changed nothing, otherwise (the caller ends the run and takes the full
    /// path).
    pub fn join_run(
        &mut self,
        run: &mut CountedRun,
        va: u64,
        store: bool,
        ctx: &TranslateCtx,
        offset: impl Fn(u64, bool) -> Option<usize>,
    ) -> Option<usize> {
        let vpn = va >> 12;
        let block = self.counted_block(va, ctx);
        let (join, other_hits) = match block.filter(|b| b.types[store as usize]) {
            Some(b) => (
                RunJoin {
                    page: (vpn << 12).wrapping_add(b.pa_delta),
                    slot: b.slot,
                    level: b.level,
                },
                b.types[!store as usize],
            ),
            None => {
                let join = self.may_join(va, AccessType::data(store), ctx, run)?;
                // Through the same slot, the other type's accesses are hits on the same
                // entry, apart from the run's other pages as this one's are.
                let other_hits = self
                    .counted_hit(va, AccessType::data(!store), ctx)
                    .is_some_and(|e| e.page == join.page && e.slot == join.slot);
                if join.level > 0 && join.slot != NO_TLB && block.is_none_or(|b| b.alone) {
                    let mut types = block.map_or([false; 2], |b| b.types);
                    types[store as usize] = true;
                    types[!store as usize] |= other_hits;
                    self.remember_block(va, join, types, ctx);
                }
                (join, other_hits)
            }
        };
        let off = offset(join.page, store)?;
        let both = other_hits && offset(join.page, !store) == Some(off);
        let displaced = &mut run.pages[CountedRun::slot(vpn)];
        if displaced.vpn != vpn && displaced.n > 0 {
            // Accounted alone; `settle_run` then moves the L1D's clock past its accesses
            // with the others'. Its slot's stamp is where its last access falls in the
            // run's sequence, ahead of the clock (which nothing but the run moves
            // meanwhile), as the other pages' will be.
            Self::settle_page(&mut self.l1d, &mut self.stats, displaced);
        }
        if run.is_empty() {
            run.context = self.run_context(ctx);
        }
        debug_assert_eq!(
            run.context,
            self.run_context(ctx),
            "a run outlived its context"
        );
        run.join(vpn, off, store, join.slot, join.level);
        if both {
            run.allow(vpn, !store);
        }
        Some(off + (va & 0xfff) as usize)
    }

    /// The counted cache's entry for `va`'s 2 MiB block, if it was made in the current
    /// context, satp and PMP state and its L1D slot still holds the same entry, which
    /// nothing translates the block's addresses before.
    #[inline(always)]
    fn counted_block(&self, va: u64, ctx: &TranslateCtx) -> Option<CountedBlock> {
        let block = va >> 21;
        let b = self.fast.counted_blocks[block as usize % COUNTED_BLOCKS];
        (b.block == block
            && self.made_now(b.key, b.satp, b.pmp_version, b.slot, ctx)
            && b.slot_version == self.l1d.slot_version(b.slot as usize))
        .then_some(b)
    }

    /// Remember `va`'s 2 MiB block in the counted cache (see [`CountedBlock`]): its page
    /// was a counted-cache hit on `join`'s slot, a superpage entry's, for the access
    /// `types` (those already known for the block included). The PMP must decide the
    /// whole block for a type to stay.
    fn remember_block(&mut self, va: u64, join: RunJoin, types: [bool; 2], ctx: &TranslateCtx) {
        let alone = self.l1d.alone(join.slot as usize, satp_asid(ctx.satp));
        let pa_delta = join.page.wrapping_sub(va & !0xfff);
        let block_pa = (va & !0x1f_ffff).wrapping_add(pa_delta);
        let privilege = ctx.privilege.min(3);
        let decided = |store: bool| {
            alone
                && types[store as usize]
                && self
                    .pmp
                    .allows_whole(block_pa, 1 << 21, AccessType::data(store), privilege)
        };
        let block = va >> 21;
        self.fast.counted_blocks[block as usize % COUNTED_BLOCKS] = CountedBlock {
            block,
            key: self.fast.counted_key(ctx, join.slot),
            satp: ctx.satp,
            slot_version: self.l1d.slot_version(join.slot as usize),
            pmp_version: self.pmp.version(),
            pa_delta,
            slot: join.slot,
            level: join.level,
            alone,
            types: [decided(false), decided(true)],
        };
    }

    /// Before something other than the run's accesses may touch the MMU: account them
    /// and have [`Mmu::keep_run`] look at the pages before the next.
    pub fn pause_run(&mut self, run: &mut CountedRun) {
        self.settle_run(run);
        run.recheck = !run.is_empty();
    }

    /// After an instruction that touched nothing of the MMU but the context (privilege,
    /// mstatus) while `run` was held back: [`Mmu::pause_run`] if that changed what the
    /// run's pages were joined under. Accounting the run after the instruction rather
    /// than before is the same, as the TLB model did not move in between.
    pub fn pause_run_if_moved(&mut self, run: &mut CountedRun, ctx: &TranslateCtx) {
        if !run.is_empty() && run.context != self.run_context(ctx) {
            self.pause_run(run);
        }
    }

    /// What the pages of a counted run are joined under: the L1D's version (its entries
    /// in the same slots), the counted cache's context key, satp and the PMP's version.
    fn run_context(&self, ctx: &TranslateCtx) -> [u64; 4] {
        [
            self.l1d.version(),
            self.fast.key(ctx),
            ctx.satp,
            self.pmp.version(),
        ]
    }

    /// Before the next access of a run accounted since its last one (anything may have
    /// happened in between): keep its pages only if each would still join it now, that
    /// is if nothing changed the L1D's entries or the context, and the L1D's last-hit
    /// slot, where the next lookup starts, is one of the run's or covers none of its
    /// pages ([`Mmu::may_join`]'s checks).
    pub fn keep_run(&self, run: &mut CountedRun, ctx: &TranslateCtx) {
        run.recheck = false;
        let last = self.l1d.last_hit();
        let asid = satp_asid(ctx.satp);
        let keep = run.context == self.run_context(ctx)
            && (run.holds_tlb_slot(last as u32)
                || run
                    .held()
                    .any(|p| p.slot == NO_TLB || p.slot as usize == last)
                || !run.held().any(|p| self.l1d.covers(last, p.vpn << 12, asid)));
        if !keep {
            run.clear();
        }
    }

    /// Account the accesses `run` holds, each exactly as a successful counted-cache hit
    /// ([`Mmu::translate`]) would have in turn, and start its count afresh (its pages
    /// stay).
    pub fn settle_run(&mut self, run: &mut CountedRun) {
        if run.seq == 0 {
            return;
        }
        let mut last = None;
        run.each_held(|p| {
            if p.n == 0 {
                return;
            }
            if p.slot != NO_TLB && last.is_none_or(|(at, _)| p.last > at) {
                last = Some((p.last, p.slot as usize));
            }
            Self::settle_page(&mut self.l1d, &mut self.stats, p);
        });
        // One data context per run: all its pages need the TLB, or none does, so every
        // access of the run (displaced pages' included) went through the L1D when one
        // held page did. The run's last access is a held page's: a page is displaced
        // only by another page joining with an access after it.
        if let Some((_, slot)) = last {
            self.l1d.advance(run.seq, slot);
        }
        run.seq = 0;
    }

    /// The counters and LRU stamp of a page's accesses in a run (the L1D's clock and
    /// last-hit slot are the whole run's, [`Mmu::settle_run`]'s to move).
    #[inline(always)]
    fn settle_page(l1d: &mut TlbArray, stats: &mut MmuStats, p: &mut RunPage) {
        if p.slot == NO_TLB {
            stats.bare_translations += p.n;
        } else {
            stats.paged_translations += p.n;
            stats.l1d.add_hits(p.level, p.n);
            l1d.stamp_ahead(p.slot as usize, p.last);
        }
        p.n = 0;
        p.last = 0;
    }

    /// Account `n` more fetches from `va`'s page, each exactly as a successful
    /// [`Mmu::replay_fetch`] of it would, when the last replay of that page succeeded and
    /// no fetch from another page happened since (the counters and the L1I's LRU state
    /// then end up as if each had been replayed in turn).
    pub fn repeat_fetch(&mut self, va: u64, ctx: &TranslateCtx, n: u64) {
        self.repeat_counted(va, AccessType::Fetch, ctx, n);
    }

    /// `n` more successful counted-cache translations of `va`'s page for `access`: the
    /// bookkeeping of [`Mmu::translate_counted`]'s hit, `n` times over.
    fn repeat_counted(&mut self, va: u64, access: AccessType, ctx: &TranslateCtx, n: u64) {
        let vpn = va >> 12;
        let e = self.fast.counted[access as usize][vpn as usize % COUNTED_SLOTS];
        debug_assert!(e.vpn == vpn && e.key == self.fast.counted_key(ctx, e.slot));
        if e.slot == NO_TLB {
            self.stats.bare_translations += n;
            return;
        }
        let (l1, l1_stats) = match access {
            AccessType::Fetch => (&mut self.l1i, &mut self.stats.l1i),
            _ => (&mut self.l1d, &mut self.stats.l1d),
        };
        l1.touch_repeat(e.slot as usize, n);
        self.stats.paged_translations += n;
        l1_stats.add_hits(e.level, n);
    }

    /// The counted cache: a translation the full path would make as an L1 hit (or without
    /// TLB), with the same counter and LRU updates; `None`, having changed nothing, when
    /// the full path must decide (or the page is not `expect_page`).
    #[inline(always)]
    fn translate_counted(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        expect_page: Option<u64>,
    ) -> Option<u64> {
        let e = self
            .counted_hit(va, access, ctx)
            .filter(|e| expect_page.is_none_or(|p| p == e.page))?;
        if e.slot == NO_TLB {
            self.stats.bare_translations += 1;
        } else {
            let (l1, l1_stats) = match access {
                AccessType::Fetch => (&mut self.l1i, &mut self.stats.l1i),
                _ => (&mut self.l1d, &mut self.stats.l1d),
            };
            l1.touch_repeat(e.slot as usize, 1);
            self.stats.paged_translations += 1;
            l1_stats.add_hits(e.level, 1);
        }
        Some(e.page | (va & 0xfff))
    }

    /// After a successful full translation with only the counters observing: remember
    /// it if repeating it is an L1 hit on the slot a fresh lookup finds first (or needs
    /// no TLB).
    fn remember_counted(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        pa: u64,
        paged: bool,
    ) {
        let (slot, slot_version, level) = if paged {
            let (hit, version) = self.l1_hit;
            let l1 = match access {
                AccessType::Fetch => &self.l1i,
                _ => &self.l1d,
            };
            if hit == usize::MAX
                || version != l1.version()
                || l1.first_match(va, satp_asid(ctx.satp)) != Some(hit)
            {
                return;
            }
            (hit as u32, l1.slot_version(hit), l1.entry_at(hit).level)
        } else {
            (NO_TLB, 0, 0)
        };
        let vpn = va >> 12;
        let key = self.fast.counted_key(ctx, slot);
        self.fast.counted[access as usize][vpn as usize % COUNTED_SLOTS] = CountedEntry {
            vpn,
            key,
            satp: ctx.satp,
            slot_version,
            pmp_version: self.pmp.version(),
            page: pa & !0xfff,
            slot,
            level,
            alone: false,
        };
    }

    #[inline(never)]
    fn translate_slow(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        bus: &mut Bus,
    ) -> Result<u64, Exception> {
        if ctx.satp != self.fast.satp {
            self.fast.satp = ctx.satp;
            self.fast.epoch += 1;
        }
        if self.pmp.version() != self.pmp_version_seen {
            // A PMP write the hart did not announce with pmp_changed().
            self.pmp_version_seen = self.pmp.version();
            self.fast.epoch += 1;
        }
        let privilege = ctx.privilege.min(3);
        let mode = satp_mode(ctx.satp);
        self.l1_hit.0 = usize::MAX;
        self.walked = false;
        let paged = !(mode == SatpMode::Bare || privilege >= 2);
        let pa = if !paged {
            self.stats.bare_translations += 1;
            va
        } else {
            self.stats.paged_translations += 1;
            self.translate_paged(va, access, ctx, mode, bus)?
        };
        // Physical addresses are 56 bits; in Bare mode a wider address names nothing.
        let (allowed, whole_page) = if pa >> PA_BITS == 0 {
            self.pmp.allows(pa, access, privilege)
        } else {
            (false, false)
        };
        if !allowed {
            self.stats.pmp_faults[access as usize] += 1;
            return Err(access.access_fault(va));
        }
        if whole_page {
            if !self.observed() && self.config.fast_path {
                let vpn = va >> 12;
                let key = self.fast.key(ctx);
                let slot = vpn as usize % FAST_SLOTS;
                self.fast.slots[access as usize][slot] = FastEntry {
                    vpn,
                    key,
                    page: pa & !0xfff,
                };
                // A translation made from a TLB hit leaves the trails as they are: each
                // stands for its own walk, and is checked in full before use.
                if !paged || self.walked {
                    self.remember_trail(vpn, access, ctx, pa, paged, bus);
                }
            } else if self.only_counting() {
                self.remember_counted(va, access, ctx, pa, paged);
            }
        }
        Ok(pa)
    }

    /// Keep the trail of the translation of `vpn` to `pa` just made: the walk's PTEs
    /// (`scratch_steps`, from the root) when `paged`.
    fn remember_trail(
        &mut self,
        vpn: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        pa: u64,
        paged: bool,
        bus: &Bus,
    ) {
        let steps = if paged {
            self.scratch_steps.as_slice()
        } else {
            &[]
        };
        let level = steps.last().map_or(0, |leaf| leaf.level);
        if level > TRAIL_MAX_LEVEL {
            return;
        }
        let size = 1u64 << (12 + 9 * level as u32);
        let base = pa & !(size - 1);
        let mut trail = PteTrail {
            level,
            region: vpn >> (9 * level as u32),
            satp: ctx.satp,
            context: self.fast.key(ctx) as u8,
            pmp_version: self.pmp.version(),
            base,
            // A 4 KiB page is here because the PMP allows all of it.
            pmp_whole: level == 0 || self.pmp.allows_whole(base, size, access, ctx.privilege),
            len: 0,
            steps: [(0, 0); 5],
        };
        for (to, step) in trail.steps.iter_mut().zip(steps) {
            let Some(off) = bus.ram.offset_of(step.pte_addr, 8) else {
                return;
            };
            *to = (off, step.pte.0);
            trail.len += 1;
        }
        self.fast.trails[access as usize][PteTrail::slot(vpn, level)] = trail;
    }

    /// Paging on: canonical check, TLB model, and the walk on a miss.
    fn translate_paged(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        mode: SatpMode,
        bus: &mut Bus,
    ) -> Result<u64, Exception> {
        if !walker::is_canonical(mode, va) {
            return Err(self.fault(WalkFault::NotCanonical, access, va));
        }
        let asid = satp_asid(ctx.satp);
        if let Some(entry) = self.tlb_lookup(va, asid, access) {
            let leaf = entry.leaf();
            if self.config.check_tlb {
                self.check_hit(va, access, ctx, mode, &leaf, bus);
            }
            // Permissions are re-checked on every hit with the current privilege,
            // SUM and MXR: the entry caches the PTE, not a decision.
            if !leaf_permits(leaf.pte, access, ctx) {
                return Err(self.fault(WalkFault::Permission, access, va));
            }
            match ad_need(leaf.pte, access) {
                AdNeed::None => return Ok(leaf.pa(va)),
                AdNeed::Update(_) if !self.config.svadu => {
                    return Err(self.fault(WalkFault::AccessedDirty, access, va));
                }
                // Svadu: walk again so the D bit is set in memory, then refill.
                AdNeed::Update(_) => {}
            }
        }
        let leaf = self.walk(va, access, ctx, mode, bus)?;
        self.tlb_fill(va, asid, access, &leaf);
        Ok(leaf.pa(va))
    }

    /// Count a fault and turn it into the exception the hart raises.
    fn fault(&mut self, fault: WalkFault, access: AccessType, va: u64) -> Exception {
        if fault.is_access_fault() {
            self.stats.pte_access_faults[access as usize] += 1;
        } else {
            self.stats.page_faults[access as usize] += 1;
        }
        fault.exception(access, va)
    }

    /// The full walk of the spec (steps 1-8) with Svade/Svadu handling.
    fn walk(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        mode: SatpMode,
        bus: &mut Bus,
    ) -> Result<Leaf, Exception> {
        let root_ppn = ctx.satp & SATP_PPN_MASK;
        let asid = satp_asid(ctx.satp);
        let levels = walker::levels(mode);
        // Bounded: only a PTE whose value changes on its own (a device) can force retries.
        for _ in 0..4 {
            self.scratch_steps.len = 0;
            let (start, pwc) = match self.pwc.as_mut() {
                Some(c) => c.lookup(va, asid, levels - 1, &mut self.stats.pwc),
                None => (None, PwcLookup::default()),
            };
            let (table, level, global) = match start {
                Some(s) => (s.table, s.level as usize - 1, s.global),
                None => (root_ppn << 12, levels as usize - 1, false),
            };
            let found = walker::find_leaf_from(
                mode,
                va,
                table,
                level,
                global,
                bus,
                &mut self.pmp,
                &mut self.scratch_steps,
            );
            let steps = &self.scratch_steps;
            if let Some(c) = self.pwc.as_mut() {
                c.fill(va, asid, steps.as_slice(), global, &mut self.stats.pwc);
            }
            self.stats.walks_by_mode[mode as usize - SatpMode::Sv39 as usize] += 1;
            self.stats.walks_by_depth[steps.len as usize] += 1;
            self.stats.pte_reads += steps.len as u64;
            let result = match found {
                Ok(leaf) if !leaf_permits(leaf.pte, access, ctx) => Err(WalkFault::Permission),
                Ok(mut leaf) => match ad_need(leaf.pte, access) {
                    AdNeed::None => Ok(Some(leaf)),
                    AdNeed::Update(_) if !self.config.svadu => Err(WalkFault::AccessedDirty),
                    AdNeed::Update(new) => match ad_update(&mut leaf, new, bus, &mut self.pmp) {
                        Ok(true) => {
                            self.stats.ad_updates += 1;
                            Ok(Some(leaf))
                        }
                        Ok(false) => Ok(None),
                        Err(f) => Err(f),
                    },
                },
                Err(f) => Err(f),
            };
            if self.recording_walks() {
                // A walk abandoned for a retry has no result of its own to report.
                if let Some(result) = result.transpose() {
                    self.log.events.push(MmuEvent::Walk {
                        va,
                        access,
                        satp: ctx.satp,
                        steps: *steps,
                        result,
                        pwc,
                    });
                }
            }
            match result {
                Ok(Some(leaf)) => {
                    self.walked = start.is_none();
                    return Ok(leaf);
                }
                Ok(None) => continue,
                Err(f) => return Err(self.fault(f, access, va)),
            }
        }
        Err(self.fault(WalkFault::InvalidPte { level: 0 }, access, va))
    }

    /// L1 (I or D by access type), then L2; an L2 hit refills the L1.
    fn tlb_lookup(&mut self, va: u64, asid: u16, access: AccessType) -> Option<TlbEntry> {
        let (l1, l1_stats, l1_level) = match access {
            AccessType::Fetch => (&mut self.l1i, &mut self.stats.l1i, TlbLevel::L1I),
            _ => (&mut self.l1d, &mut self.stats.l1d, TlbLevel::L1D),
        };
        if l1.is_present() {
            l1_stats.accesses += 1;
            let slot = l1.lookup_slot(va, asid);
            if let Some(i) = slot {
                self.l1_hit = (i, l1.version());
            }
            let found = slot.map(|i| *l1.entry_at(i));
            match found {
                Some(e) => {
                    l1_stats.hits += 1;
                    l1_stats.hits_by_size[e.level as usize] += 1;
                }
                None => l1_stats.misses += 1,
            }
            let kind = if found.is_some() {
                TlbEventKind::Hit
            } else {
                TlbEventKind::Miss
            };
            if self.recording_tlb() {
                self.log.events.push(MmuEvent::Tlb {
                    kind,
                    level: l1_level,
                    va,
                    asid,
                    entry: found,
                });
            }
            if found.is_some() {
                return found;
            }
        }
        if !self.l2.is_present() {
            return None;
        }
        self.stats.l2.accesses += 1;
        let found = self.l2.lookup(va, asid);
        match found {
            Some(e) => {
                self.stats.l2.hits += 1;
                self.stats.l2.hits_by_size[e.level as usize] += 1;
            }
            None => self.stats.l2.misses += 1,
        }
        let kind = if found.is_some() {
            TlbEventKind::Hit
        } else {
            TlbEventKind::Miss
        };
        if self.recording_tlb() {
            self.log.events.push(MmuEvent::Tlb {
                kind,
                level: TlbLevel::L2,
                va,
                asid,
                entry: found,
            });
        }
        if let Some(e) = found {
            self.insert_into(l1_level, va, asid, e);
        }
        found
    }

    /// After a walk: fill the L1 for this access type and the L2.
    fn tlb_fill(&mut self, va: u64, asid: u16, access: AccessType, leaf: &Leaf) {
        let entry = TlbEntry::from_leaf(va, asid, leaf);
        let l1 = match access {
            AccessType::Fetch => TlbLevel::L1I,
            _ => TlbLevel::L1D,
        };
        self.insert_into(l1, va, asid, entry);
        self.insert_into(TlbLevel::L2, va, asid, entry);
    }

    fn insert_into(&mut self, level: TlbLevel, va: u64, asid: u16, entry: TlbEntry) {
        let (array, stats) = match level {
            TlbLevel::L1I => (&mut self.l1i, &mut self.stats.l1i),
            TlbLevel::L1D => (&mut self.l1d, &mut self.stats.l1d),
            TlbLevel::L2 => (&mut self.l2, &mut self.stats.l2),
        };
        if !array.is_present() {
            return;
        }
        let evicted = array.insert(entry);
        stats.fills_by_size[entry.level as usize] += 1;
        if evicted.is_some() {
            stats.evictions += 1;
        }
        if self.recording_tlb() {
            if let Some(old) = evicted {
                self.log.events.push(MmuEvent::Tlb {
                    kind: TlbEventKind::Evict,
                    level,
                    va: old.va_base(),
                    asid: old.asid,
                    entry: Some(old),
                });
            }
            self.log.events.push(MmuEvent::Tlb {
                kind: TlbEventKind::Fill,
                level,
                va,
                asid,
                entry: Some(entry),
            });
        }
    }

    /// `--check-tlb`: compare a TLB hit with what the page table says now.
    fn check_hit(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        mode: SatpMode,
        cached: &Leaf,
        bus: &mut Bus,
    ) {
        let mut steps = WalkSteps::default();
        let root_ppn = ctx.satp & SATP_PPN_MASK;
        let fresh = walker::find_leaf(mode, va, root_ppn, bus, &mut self.pmp, &mut steps);
        self.stats.check_walks += 1;
        self.stats.check_pte_reads += steps.len as u64;
        if !check::differs(va, cached, &fresh) {
            return;
        }
        let changes = check::changes_outcome(va, cached, &fresh, access, ctx, self.config.svadu);
        let record = StaleTranslation {
            va,
            pc: self.current_pc,
            access,
            satp: ctx.satp,
            old_pte: cached.pte,
            old_pte_addr: cached.pte_addr,
            old_level: cached.level,
            new: fresh,
        };
        if !changes {
            self.stats.stale_equivalent_hits += 1;
            if self.stale.count_equivalent(&record) {
                self.stats.stale_equivalent_translations += 1;
            }
            return;
        }
        self.stats.stale_hits += 1;
        if self.recording() {
            self.log.events.push(MmuEvent::Stale(record.clone()));
        }
        if self.stale.record(record) {
            self.stats.stale_translations += 1;
        }
    }

    /// Where `va` leads under `ctx` right now, read from the page table with no effect on
    /// the TLB model, the statistics or A/D bits (for traces and debuggers): the physical
    /// address (or the fault) and every PTE the walk read. Permissions are not checked.
    pub fn probe(
        &mut self,
        va: u64,
        ctx: &TranslateCtx,
        bus: &mut Bus,
    ) -> (Result<u64, WalkFault>, WalkSteps) {
        let mut steps = WalkSteps::default();
        let mode = satp_mode(ctx.satp);
        if mode == SatpMode::Bare || ctx.privilege >= 2 {
            return (Ok(va), steps);
        }
        let root_ppn = ctx.satp & SATP_PPN_MASK;
        let leaf = walker::find_leaf(mode, va, root_ppn, bus, &mut self.pmp, &mut steps);
        (leaf.map(|l| l.pa(va)), steps)
    }

    /// [`Mmu::probe`]'s physical address alone (what traces ask of every instruction:
    /// not copying the steps out saves most of the cost).
    pub fn probe_pa(
        &mut self,
        va: u64,
        ctx: &TranslateCtx,
        bus: &mut Bus,
    ) -> Result<u64, WalkFault> {
        let mode = satp_mode(ctx.satp);
        if mode == SatpMode::Bare || ctx.privilege >= 2 {
            return Ok(va);
        }
        let steps = &mut self.scratch_steps;
        steps.len = 0;
        let root_ppn = ctx.satp & SATP_PPN_MASK;
        walker::find_leaf(mode, va, root_ppn, bus, &mut self.pmp, steps).map(|l| l.pa(va))
    }

    /// Distinct stale translations found by `--check-tlb` (at most
    /// [`check::STALE_RECORD_CAP`]; `stats.stale_translations` counts them all).
    pub fn stale_translations(&self) -> &[StaleTranslation] {
        &self.stale.records
    }

    /// The valid entries of the page-walk cache for non-leaf PTEs of `level` (1..=4);
    /// empty without one.
    pub fn pwc_entries(&self, level: u8) -> Vec<TlbEntry> {
        self.pwc
            .as_ref()
            .map(|c| c.entries(level))
            .unwrap_or_default()
    }

    /// The valid entries of one TLB array, for dumps and tests.
    pub fn tlb_entries(&self, level: TlbLevel) -> Vec<TlbEntry> {
        let array = match level {
            TlbLevel::L1I => &self.l1i,
            TlbLevel::L1D => &self.l1d,
            TlbLevel::L2 => &self.l2,
        };
        array.entries().copied().collect()
    }

    /// WARL rule for satp: the value satp holds after the guest writes `value` over
    /// `old`. A MODE this hart does not implement (reserved, or above `max_mode`) leaves
    /// satp entirely unchanged. ASID (16 bits) and PPN (44 bits) are fully writable.
    pub fn satp_write(&self, old: u64, value: u64) -> u64 {
        match SatpMode::from_bits(value >> 60) {
            Some(m) if m <= self.config.max_mode => value,
            _ => old,
        }
    }

    /// `sfence.vma rs1, rs2`: `vaddr` = rs1 when rs1 != x0, `asid` = the low 16 bits of
    /// rs2 when rs2 != x0 (ASIDLEN = 16; the spec says higher bits should be zero).
    /// Removes exactly the entries the spec says: all; all for `vaddr` including global
    /// ones; the non-global ones of `asid`; the non-global ones of `asid` for `vaddr`.
    pub fn sfence_vma(&mut self, vaddr: Option<u64>, asid: Option<u16>) {
        match (vaddr, asid) {
            (None, None) => self.stats.sfence_all += 1,
            (Some(_), None) => self.stats.sfence_addr += 1,
            (None, Some(_)) => self.stats.sfence_asid += 1,
            (Some(_), Some(_)) => self.stats.sfence_addr_asid += 1,
        }
        if self.recording() {
            self.log.events.push(MmuEvent::Sfence { vaddr, asid });
        }
        for level in [TlbLevel::L1I, TlbLevel::L1D, TlbLevel::L2] {
            let (array, stats) = match level {
                TlbLevel::L1I => (&mut self.l1i, &mut self.stats.l1i),
                TlbLevel::L1D => (&mut self.l1d, &mut self.stats.l1d),
                TlbLevel::L2 => (&mut self.l2, &mut self.stats.l2),
            };
            let removed = array.flush(vaddr, asid);
            stats.flushed += removed;
            if matches!(self.log.kinds, Some(EventKinds { tlb: true, .. })) {
                self.log.events.push(MmuEvent::TlbFlush {
                    level,
                    vaddr,
                    asid,
                    removed,
                });
            }
        }
        if let Some(c) = self.pwc.as_mut() {
            self.stats.pwc.flushed += c.flush(vaddr, asid);
        }
        self.invalidate_fast_path();
    }

    /// Called by the hart after each satp write (the TLB model is *not* flushed: the
    /// guest must fence). Counts it, reports it, and stops the fast path from returning
    /// translations made under the old value.
    pub fn satp_written(&mut self, old: u64, new: u64) {
        self.stats.satp_writes += 1;
        if self.recording() {
            self.log.events.push(MmuEvent::Satp { old, new });
        }
        self.invalidate_fast_path();
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True when statistics, tracing or `--check-tlb` need every access to go through
    /// the TLB model (the hart must then not use its own fetch-page cache either).
    #[inline]
    pub fn observed(&self) -> bool {
        self.config.stats || self.config.check_tlb || self.recording()
    }

    /// Called by the hart after any pmpcfg/pmpaddr write.
    pub fn pmp_changed(&mut self) {
        self.pmp_version_seen = self.pmp.version();
        self.invalidate_fast_path();
    }

    fn invalidate_fast_path(&mut self) {
        self.generation += 1;
        self.fast.epoch += 1;
    }
}

//! The hart: RV64GC with M/S/U privilege.
//!
//! Public contract used by the machine (`machine`): construct with [`Hart::new`], set the
//! entry state, then call [`Hart::run`] in quanta; between quanta the machine feeds the
//! interrupt lines and the time.
//!
//! Hot path: `fetch` looks the pc's page up in the fetch-page cache and takes the decoded
//! [`Op`] from the per-physical-page decode cache ([`decode_cache`]); [`semantics`] holds
//! each integer instruction's semantics, written once, and [`run_loop`] the loop that
//! runs them, generic over who observes it. Loads and stores go through a
//! [`data_path`]. Everything unusual (traps, CSRs, xRET, MMIO) is off that path.

pub mod csr;
mod data_path;
pub mod decode;
mod decode_cache;
pub mod disasm;
pub mod encode;
pub mod fpu;
mod jit_glue;
#[cfg(test)]
pub(crate) use jit_glue::counted_layout;
mod run_loop;
mod semantics;
mod state;
mod system;
pub mod traced_loop;
pub mod trap;
mod trigger;

/// Traps taken by a hart, indexed by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrapCounts {
    pub exceptions: [u64; 16],
    pub interrupts: [u64; 16],
}

/// Counters split by phase: the page-table root in force (satp MODE and PPN; ASID is
/// ignored so a process's phase is one phase). Bare mode is root 0.
#[derive(Debug, Clone, Default)]
pub struct Phases {
    /// Closed phases: satp (mode|ppn) -> (instructions, MMU counters).
    pub closed: std::collections::BTreeMap<u64, (u64, crate::mmu::MmuStats)>,
    /// Order in which roots were first entered (for reports).
    pub order: Vec<u64>,
    start_insns: u64,
    start_mmu: crate::mmu::MmuStats,
}

impl Phases {
    /// The phase key of a satp value.
    pub fn key(satp: u64) -> u64 {
        if satp >> 60 == 0 {
            0
        } else {
            satp & !(0xffff << 44)
        }
    }

    /// Close the phase of `old` and open the one of `new`.
    pub fn switch(&mut self, old: u64, new: u64, instret: u64, mmu: &crate::mmu::MmuStats) {
        if Self::key(old) == Self::key(new) {
            return;
        }
        self.account(old, instret, mmu);
        self.start_insns = instret;
        self.start_mmu = mmu.clone();
        if !self.order.contains(&Self::key(new)) {
            self.order.push(Self::key(new));
        }
    }

    /// Add what happened since the phase started to `satp`'s totals.
    fn account(&mut self, satp: u64, instret: u64, mmu: &crate::mmu::MmuStats) {
        let key = Self::key(satp);
        if !self.order.contains(&key) {
            self.order.insert(0, key);
        }
        let e = self.closed.entry(key).or_default();
        e.0 += instret - self.start_insns;
        e.1.merge(&mmu.since(&self.start_mmu));
    }

    /// All phases including the open one (for the report at the end of a run).
    pub fn totals(&self, current_satp: u64, instret: u64, mmu: &crate::mmu::MmuStats) -> Phases {
        let mut p = self.clone();
        p.account(current_satp, instret, mmu);
        p
    }
}

impl TrapCounts {
    pub fn total(&self) -> u64 {
        self.exceptions.iter().chain(&self.interrupts).sum()
    }
}

#[cfg(test)]
mod tests;

use crate::bus::{Bus, Ram};
use crate::mmu::page_caches::{CountedRun, DataTlb, FetchPages, FetchRun, NO_VPN};
use crate::mmu::{AccessType, Mmu, MmuConfig, TranslateCtx};
use csr::{ip, ms};
use decode::{decode, AmoOp, Op, OpKind};
use decode_cache::DecodeCache;
use fpu::FpState;
use trap::{irq, Exception};

/// Privilege levels (the encoding of mstatus.MPP).
pub const PRIV_U: u8 = 0;
pub const PRIV_S: u8 = 1;
pub const PRIV_M: u8 = 3;

/// Why [`Hart::run`] returned before its budget was used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStop {
    /// The budget was used up.
    Budget,
    /// The hart executed WFI and no enabled interrupt is pending.
    Wfi,
    /// Something the machine must look at now: an exit request on the bus, a CSR write
    /// that may unmask an interrupt, a CLINT/PLIC access.
    Yield,
}

/// What an executed instruction asks of the run loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Next,
    Yield,
    Wfi,
    /// The instruction raised an exception; the trap has been taken.
    Trapped,
}

/// An instruction counter (mcycle, minstret) as an offset from `instret`, so retiring an
/// instruction costs one increment.
#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    value: u64,
    at: u64,
}

/// `fetch` result when fetching trapped.
pub(crate) const FETCH_TRAPPED: usize = usize::MAX;

/// `execute` result (odd, so never a pc) when the run loop must look at `Hart::special`.
const SEE_STEP: u64 = 1;

pub struct Hart {
    pub hartid: u64,
    /// Traps taken, by cause (for statistics and for the traced loop to notice traps).
    pub traps: TrapCounts,
    /// Traps taken in all (the traced loop compares it to notice a trap).
    pub traps_taken: u64,
    /// Instructions and MMU counters per phase (satp root in force), kept while the MMU
    /// is observed (`--stats`, tracing).
    pub phases: Phases,
    /// Tracing state, used only by [`Hart::run_traced`].
    pub(crate) trace: traced_loop::HartTrace,
    pub x: [u64; 32],
    pub pc: u64,
    pub privilege: u8,
    pub mmu: Mmu,
    /// Instructions retired.
    pub instret: u64,
    pub fp: FpState,
    /// Instructions retired per privilege (index 0 = U, 1 = S, 3 = M), up to the last
    /// privilege change or return from [`Hart::run`].
    pub insns_by_priv: [u64; 4],
    priv_mark: u64,

    mstatus: u64,
    medeleg: u64,
    mideleg: u64,
    mie: u64,
    /// mip bits written by software (SSIP, STIP, SEIP).
    mip_sw: u64,
    /// mip bits driven by the CLINT and PLIC.
    lines: u64,
    mtvec: u64,
    stvec: u64,
    mepc: u64,
    sepc: u64,
    mcause: u64,
    scause: u64,
    mtval: u64,
    stval: u64,
    mscratch: u64,
    sscratch: u64,
    mcounteren: u32,
    scounteren: u32,
    mcountinhibit: u64,
    menvcfg: u64,
    senvcfg: u64,
    satp: u64,
    /// `mtime` as the machine last set it, and the instructions executed by then less
    /// those already gone in the current tick (see [`Hart::set_time`]).
    time: u64,
    time_executed: u64,
    /// Executed instructions per `mtime` tick between the machine's updates; 0 = `time`
    /// holds still until the next [`Hart::set_time`].
    insns_per_tick: u64,
    /// [mcycle, minstret].
    counters: [Counter; 2],

    /// The last LR: physical address and the value it read. Harts run in turns, so
    /// another hart may store between our LR and SC without us seeing it; SC therefore
    /// also requires memory to still hold the loaded value (as QEMU does).
    reservation: Option<(u64, u64)>,
    wfi: bool,
    /// What the last instruction that returned `SEE_STEP` asks of the run loop.
    special: Step,
    /// Translation inputs for loads/stores (MPRV applied) and for fetches.
    data_ctx: TranslateCtx,
    fetch_ctx: TranslateCtx,

    /// Decoded instructions per physical page ([`decode_cache`]).
    decoded: DecodeCache,
    /// Fetch-page cache: virtual page -> decode-cache page, valid while the MMU
    /// generation is `fetch_gen` (privilege/satp/mstatus changes clear it). The
    /// generation only moves through sfence.vma and PMP/satp CSR writes, so it is compared
    /// at quantum start and after each system instruction rather than on every fetch.
    fetch_pages: FetchPages,
    fetch_gen: u64,
    /// Observed runs translate every fetch (the TLB model counts it) and so cannot use
    /// the cache above; they remember the last physical page fetched from and its
    /// decode-cache page instead, which only fence.i invalidates.
    fetch_seen_pa: u64,
    /// How many times a RAM page came to hold decoded code (it only ever goes up): a
    /// counted run that saw another count drops the store tags of such pages.
    code_pages_added: u64,
    fetch_seen_page: usize,
    /// Observed by counters only (see [`Mmu::only_counting`]): the fetch-page cache
    /// stays on and each hit in it is replayed to the MMU. Set at quantum start.
    fetch_replayed: bool,
    /// Data-page cache of the unobserved loop ([`run_loop`]).
    dtlb: Box<DataTlb>,
    /// [`MmuConfig::fast_path`], read once: unobserved runs may use the straight-through loop
    /// and the hart's page caches.
    fast_path: bool,
    /// Compiled blocks (`--jit`, [`Hart::enable_jit`]); None: interpreter only.
    jit: Option<Box<crate::jit::Jit>>,
    /// Compiled blocks of the counted flavour, for counted runs (`--stats`, `--trace
    /// walk`); made at the first counted run that looks for one (`jit_glue.rs`).
    counted_jit: Option<Box<crate::jit::Jit>>,
    /// The fetches counted blocks make across pages, by L1I slot (`jit_glue.rs`).
    fetch_run: Box<FetchRun>,
    /// The data run the last quantum, a counted one, left paused: the next counted
    /// quantum goes on with its pages if they still hold (`Mmu::keep_run`). None after
    /// any other quantum, whose accesses the counters did not see, and after a restore.
    counted_run: Option<Box<CountedRun>>,
    /// Sdtrig debug triggers.
    triggers: trigger::Triggers,
}

impl Hart {
    pub fn new(hartid: u64, mmu: MmuConfig) -> Self {
        let fast_path = mmu.fast_path;
        let ctx = TranslateCtx {
            satp: 0,
            privilege: PRIV_M,
            sum: false,
            mxr: false,
        };
        Hart {
            hartid,
            traps: TrapCounts::default(),
            traps_taken: 0,
            phases: Phases::default(),
            trace: traced_loop::HartTrace::default(),
            x: [0; 32],
            pc: 0,
            privilege: PRIV_M,
            mmu: Mmu::new(mmu),
            instret: 0,
            fp: FpState {
                f: [0; 32],
                fflags: 0,
                frm: 0,
            },
            insns_by_priv: [0; 4],
            priv_mark: 0,
            mstatus: 0,
            medeleg: 0,
            mideleg: 0,
            mie: 0,
            mip_sw: 0,
            lines: 0,
            mtvec: 0,
            stvec: 0,
            mepc: 0,
            sepc: 0,
            mcause: 0,
            scause: 0,
            mtval: 0,
            stval: 0,
            mscratch: 0,
            sscratch: 0,
            mcounteren: 0,
            scounteren: 0,
            mcountinhibit: 0,
            menvcfg: 0,
            senvcfg: 0,
            satp: 0,
            time: 0,
            time_executed: 0,
            insns_per_tick: 0,
            counters: [Counter::default(); 2],
            reservation: None,
            wfi: false,
            special: Step::Next,
            data_ctx: ctx,
            fetch_ctx: ctx,
            decoded: DecodeCache::new(),
            fetch_pages: FetchPages::new(),
            fetch_gen: 0,
            fetch_seen_pa: NO_VPN,
            code_pages_added: 0,
            fetch_seen_page: 0,
            fetch_replayed: false,
            dtlb: DataTlb::new(),
            fast_path,
            jit: None,
            counted_jit: None,
            fetch_run: FetchRun::new(),
            counted_run: None,
            triggers: trigger::Triggers::default(),
        }
    }

    /// Run up to `budget` instructions. Returns how many were executed (retired or
    /// trapped: a guest stuck in a trap loop still consumes its budget and time) and why
    /// it stopped.
    pub fn run(&mut self, bus: &mut Bus, budget: u64) -> (u64, RunStop) {
        self.run_quantum(bus, None, budget)
    }

    /// mip bits driven by hardware (MSIP, MTIP, MEIP, SEIP) as the CLINT and PLIC see them.
    pub fn set_interrupt_lines(&mut self, bits: u64) {
        self.lines = bits & ip::LINES;
    }

    /// The current value of `mtime` (what the `time` CSR reads), `into_tick` instructions
    /// into its tick. A machine whose clock counts instructions passes the remainder of
    /// its count, so a lone hart's `time` is exactly its instructions over the rate
    /// wherever the machine's quanta begin and end; with the host's clock it is 0.
    pub fn set_time(&mut self, mtime: u64, into_tick: u64) {
        self.time = mtime;
        self.time_executed = self.executed().wrapping_sub(into_tick);
    }

    /// Let `time` advance one tick per `insns_per_tick` of this hart's executed
    /// instructions between [`Hart::set_time`] calls (0: it holds still). The machine
    /// updates mtime once per quantum; without this, two reads inside one quantum would
    /// be equal and Linux could not time anything shorter (its unaligned-access probe
    /// reports "rdtime lacks granularity"). The hart counts only its own instructions, so
    /// with several harts it never runs ahead of the machine's next mtime.
    pub fn set_time_rate(&mut self, insns_per_tick: u64) {
        self.insns_per_tick = insns_per_tick;
    }

    /// Instructions executed: retired, or ended in an exception (an instruction that
    /// traps does not retire, yet it counts for the quantum and the deterministic clock
    /// like one that does).
    fn executed(&self) -> u64 {
        let exceptions: u64 = self.traps.exceptions.iter().sum();
        self.instret.wrapping_add(exceptions)
    }

    /// What the `time` CSR reads now.
    fn time_now(&self) -> u64 {
        match self.insns_per_tick {
            0 => self.time,
            n => self
                .time
                .saturating_add(self.executed().wrapping_sub(self.time_executed) / n),
        }
    }

    /// In WFI with no enabled interrupt pending.
    pub fn waiting(&self) -> bool {
        self.wfi
    }

    /// The satp value in force.
    pub fn satp(&self) -> u64 {
        self.satp
    }

    /// Other harts store to the same RAM: their stores are not in its write log (see
    /// [`Ram`]), so a fence.i compares every decoded page with memory.
    pub fn share_ram_with_other_harts(&mut self) {
        self.decoded.set_other_writers(true);
    }

    /// Memory may have changed behind the hart's back (`fence.i`, or a debugger wrote to
    /// it through [`Ram::bytes_mut`]): decoded instructions written since are checked
    /// against memory before they run again.
    pub fn code_modified(&mut self, ram: &Ram) {
        if self.decoded.fence(ram) {
            self.forget_fetch_pages();
        }
    }

    /// After a guest store of `size` bytes at RAM offset `off`: decoded code there is
    /// forgotten, and when its page was released (it holds data now) so is every fetch
    /// page, which may point at it.
    #[inline(always)]
    fn note_ram_store(&mut self, off: usize, size: usize) {
        if self.decoded.invalidate(off, size) {
            self.forget_fetch_pages();
        }
    }

    /// Empty every cache of where instructions were fetched from (the decode cache
    /// started over, or the translation context changed).
    fn forget_fetch_pages(&mut self) {
        self.fetch_pages.flush();
        self.fetch_seen_pa = NO_VPN;
    }

    // ---------------------------------------------------------------- fetch

    /// Decode-cache index of the instruction at pc, or `FETCH_TRAPPED` (trap taken).
    /// An index rather than an `Op`: the op is then read field by field straight from the
    /// cache instead of being copied through the stack.
    #[inline(always)]
    fn fetch<const REPLAY: bool>(&mut self, pc: u64, bus: &mut Bus) -> usize {
        match self.fetch_cached::<REPLAY>(pc) {
            Some(index) => index,
            None => {
                self.pc = pc;
                self.fetch_or_trap(bus)
            }
        }
    }

    /// The fetch-page cache's side of [`Hart::fetch`]: the slot of the decoded
    /// instruction at pc if its page is cached (and, `REPLAY`, the MMU's counted cache
    /// replayed the fetch); None, having changed nothing, when the fetch path must run.
    #[inline(always)]
    fn fetch_cached<const REPLAY: bool>(&mut self, pc: u64) -> Option<usize> {
        let (base, pa) = self.fetch_pages.lookup(pc >> 12)?;
        let index = DecodeCache::index(base, (pc >> 1) as usize);
        (self.decoded.is_decoded(index)
            && (!REPLAY || self.mmu.replay_fetch(pc, &self.fetch_ctx, pa)))
        .then_some(index)
    }

    #[inline(never)]
    fn fetch_or_trap(&mut self, bus: &mut Bus) -> usize {
        match self.fetch_slow(bus) {
            Ok(index) => index,
            Err(e) => {
                self.raise(e);
                FETCH_TRAPPED
            }
        }
    }

    #[inline(never)]
    fn fetch_slow(&mut self, bus: &mut Bus) -> Result<usize, Exception> {
        let pc = self.pc;
        let pa = self
            .mmu
            .translate(pc, AccessType::Fetch, &self.fetch_ctx, bus)?;
        let page_off = (pc & 0xfff) as usize;
        // Unobserved runs (and counter-only ones, which replay each hit) keep the page
        // in the fetch-page cache; others translate every fetch.
        let cacheable = (self.fast_path && !self.mmu.observed()) || self.fetch_replayed;
        if pa & !0xfff == self.fetch_seen_pa {
            if cacheable {
                self.fetch_pages
                    .insert(pc >> 12, self.fetch_seen_page, self.fetch_seen_pa);
                self.fetch_gen = self.mmu.generation();
            }
            let slot = DecodeCache::index(self.fetch_seen_page, page_off >> 1);
            if self.decoded.is_decoded(slot) {
                return Ok(slot);
            }
        }
        let Some(ram_page_off) = bus.ram.offset_of(pa & !0xfff, 4096) else {
            // Not RAM (the boot ROM, a device, or nothing): fetch through the bus, which
            // refuses regions that are not executable; never cached.
            let fault = |_| AccessType::Fetch.access_fault(pc);
            let lo = bus.fetch(pa, 2).map_err(fault)? as u32;
            if lo & 3 != 3 {
                return Ok(self.decoded.scratch(decode(lo)));
            }
            let hi = if page_off == 0xffe {
                self.fetch_parcel(pc.wrapping_add(2), bus)?
            } else {
                bus.fetch(pa + 2, 2).map_err(fault)? as u32
            };
            return Ok(self.decoded.scratch(decode(lo | (hi << 16))));
        };
        if !self.decoded.has_code(ram_page_off) {
            // Stores there must now drop what is decoded from it (see `DataTlb`, and
            // `CountedRun::code_pages_seen`).
            self.dtlb.forget_stores_to(ram_page_off);
            self.code_pages_added = self.code_pages_added.wrapping_add(1);
        }
        let (index, started_over) = self.decoded.page_for(ram_page_off >> 12, &mut bus.ram);
        if started_over {
            self.forget_fetch_pages();
            for jit in [&mut self.jit, &mut self.counted_jit] {
                if let Some(jit) = jit.as_deref_mut() {
                    jit.decode_cache_started_over();
                }
            }
        }
        self.fetch_seen_pa = pa & !0xfff;
        self.fetch_seen_page = index;
        if cacheable {
            self.fetch_pages.insert(pc >> 12, index, pa & !0xfff);
            self.fetch_gen = self.mmu.generation();
        }
        let slot = DecodeCache::index(index, page_off >> 1);
        if self.decoded.is_decoded(slot) {
            return Ok(slot);
        }
        let ram = bus.ram.as_slice();
        let at = ram_page_off + page_off;
        let lo = u16::from_le_bytes([ram[at], ram[at + 1]]) as u32;
        if lo & 3 == 3 && page_off == 0xffe {
            // Crosses into the next page, which may map elsewhere: not cached.
            let hi = self.fetch_parcel(pc.wrapping_add(2), bus)?;
            return Ok(self.decoded.scratch(decode(lo | (hi << 16))));
        }
        let word = if lo & 3 == 3 {
            u32::from_le_bytes([ram[at], ram[at + 1], ram[at + 2], ram[at + 3]])
        } else {
            lo
        };
        self.decoded.set(slot, decode(word));
        Ok(slot)
    }

    /// The 16-bit parcel at virtual address `va` (the upper half of a page-crossing
    /// instruction).
    fn fetch_parcel(&mut self, va: u64, bus: &mut Bus) -> Result<u32, Exception> {
        let pa = self
            .mmu
            .translate(va, AccessType::Fetch, &self.fetch_ctx, bus)?;
        bus.fetch(pa, 2)
            .map(|v| v as u32)
            .map_err(|_| AccessType::Fetch.access_fault(va))
    }

    // ---------------------------------------------------------------- memory

    #[inline(always)]
    fn load(&mut self, bus: &mut Bus, va: u64, size: u64) -> Result<u64, Exception> {
        if (va & 0xfff) + size > 0x1000 {
            return self.load_split(bus, va, size);
        }
        let pa = self
            .mmu
            .translate(va, AccessType::Load, &self.data_ctx, bus)?;
        self.load_at(bus, va, pa, size)
    }

    /// The load of `va`, translated to `pa`, from RAM or a device.
    #[inline(always)]
    fn load_at(&mut self, bus: &mut Bus, va: u64, pa: u64, size: u64) -> Result<u64, Exception> {
        match bus.ram.offset_of(pa, size) {
            Some(off) => Ok(read_le(bus.ram.as_slice(), off, size)),
            None => {
                bus.sync_device_time(self.time_now());
                bus.read(pa, size as usize)
                    .map_err(|_| AccessType::Load.access_fault(va))
            }
        }
    }

    /// Store; `Ok(true)` when it went to a device (the machine must look now).
    #[inline(always)]
    fn store(&mut self, bus: &mut Bus, va: u64, size: u64, value: u64) -> Result<bool, Exception> {
        if (va & 0xfff) + size > 0x1000 {
            return self.store_split(bus, va, size, value);
        }
        let pa = self
            .mmu
            .translate(va, AccessType::Store, &self.data_ctx, bus)?;
        self.store_at(bus, va, pa, size, value)
    }

    /// The store to `va`, translated to `pa`, into RAM or a device; `Ok(true)` when it
    /// went to a device.
    #[inline(always)]
    fn store_at(
        &mut self,
        bus: &mut Bus,
        va: u64,
        pa: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        match bus.ram_offset(pa, size) {
            Some(off) => {
                write_le(bus.ram.as_mut_slice(), off, size, value);
                self.note_ram_store(off, size as usize);
                Ok(false)
            }
            None => self.store_slow(bus, pa, va, size, value),
        }
    }

    #[inline(never)]
    fn store_slow(
        &mut self,
        bus: &mut Bus,
        pa: u64,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        bus.sync_device_time(self.time_now());
        bus.write(pa, size as usize, value)
            .map_err(|_| AccessType::Store.access_fault(va))?;
        if let Some(off) = bus.ram.offset_of(pa, size) {
            self.note_ram_store(off, size as usize);
        }
        Ok(true)
    }

    /// The physical address of each byte of a page-crossing access; both pages are
    /// translated before any byte moves.
    fn split_pages(
        &mut self,
        bus: &mut Bus,
        va: u64,
        access: AccessType,
    ) -> Result<(u64, u64), Exception> {
        let next_page = (va | 0xfff).wrapping_add(1);
        let ctx = self.data_ctx;
        let pa0 = self.mmu.translate(va, access, &ctx, bus)?;
        let pa1 = self.mmu.translate(next_page, access, &ctx, bus)?;
        Ok((pa0, pa1.wrapping_sub(next_page)))
    }

    #[inline(never)]
    fn load_split(&mut self, bus: &mut Bus, va: u64, size: u64) -> Result<u64, Exception> {
        let (pa0, delta1) = self.split_pages(bus, va, AccessType::Load)?;
        let first = 0x1000 - (va & 0xfff);
        let mut v = 0;
        for i in 0..size {
            let pa = if i < first {
                pa0.wrapping_add(i)
            } else {
                va.wrapping_add(i).wrapping_add(delta1)
            };
            let b = bus
                .read(pa, 1)
                .map_err(|_| AccessType::Load.access_fault(va))?;
            v |= b << (8 * i);
        }
        Ok(v)
    }

    #[inline(never)]
    fn store_split(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        let (pa0, delta1) = self.split_pages(bus, va, AccessType::Store)?;
        let first = 0x1000 - (va & 0xfff);
        let mut device = false;
        for i in 0..size {
            let pa = if i < first {
                pa0.wrapping_add(i)
            } else {
                va.wrapping_add(i).wrapping_add(delta1)
            };
            let b = (value >> (8 * i)) & 0xff;
            match bus.ram_offset(pa, 1) {
                Some(off) => {
                    bus.ram.as_mut_slice()[off] = b as u8;
                    self.note_ram_store(off, 1);
                }
                None => {
                    device |= self.store_slow(bus, pa, va, 1, b)?;
                }
            }
        }
        Ok(device)
    }

    /// Translate and check an atomic access: naturally aligned, else `misaligned_cause`.
    fn atomic_pa(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        access: AccessType,
        misaligned_cause: u64,
    ) -> Result<u64, Exception> {
        if va & (size - 1) != 0 {
            return Err(Exception::new(misaligned_cause, va));
        }
        self.mmu.translate(va, access, &self.data_ctx, bus)
    }

    fn amo(&mut self, bus: &mut Bus, op: Op, size: u64) -> Result<Step, Exception> {
        let va = self.x[op.rs1 as usize & 31];
        let pa = self.atomic_pa(
            bus,
            va,
            size,
            AccessType::Store,
            Exception::STORE_MISALIGNED,
        )?;
        let fault = |_| AccessType::Store.access_fault(va);
        let raw = bus.read(pa, size as usize).map_err(fault)?;
        let old = if size == 4 {
            raw as i32 as i64 as u64
        } else {
            raw
        };
        let src = self.x[op.rs2 as usize & 31];
        let (a, b) = if size == 4 {
            (old, src as i32 as i64 as u64)
        } else {
            (old, src)
        };
        let new = AmoOp::from_imm(op.imm).apply(a, b);
        let device = bus.ram_offset(pa, size).is_none();
        bus.write(pa, size as usize, new).map_err(fault)?;
        if let Some(off) = bus.ram.offset_of(pa, size) {
            self.note_ram_store(off, size as usize);
        }
        self.x[op.rd as usize & 31] = old;
        self.pc = self.pc.wrapping_add(4);
        Ok(if device { Step::Yield } else { Step::Next })
    }

    fn load_reserved(&mut self, bus: &mut Bus, op: Op, size: u64) -> Result<Step, Exception> {
        let va = self.x[op.rs1 as usize & 31];
        let pa = self.atomic_pa(bus, va, size, AccessType::Load, Exception::LOAD_MISALIGNED)?;
        let raw = bus
            .read(pa, size as usize)
            .map_err(|_| AccessType::Load.access_fault(va))?;
        self.x[op.rd as usize & 31] = if size == 4 {
            raw as i32 as i64 as u64
        } else {
            raw
        };
        self.reservation = Some((pa, raw));
        self.pc = self.pc.wrapping_add(4);
        Ok(Step::Next)
    }

    fn store_conditional(&mut self, bus: &mut Bus, op: Op, size: u64) -> Result<Step, Exception> {
        let va = self.x[op.rs1 as usize & 31];
        let pa = self.atomic_pa(
            bus,
            va,
            size,
            AccessType::Store,
            Exception::STORE_MISALIGNED,
        )?;
        let ok = match self.reservation.take() {
            Some((reserved, loaded)) if reserved == pa => {
                bus.read(pa, size as usize)
                    .map_err(|_| AccessType::Store.access_fault(va))?
                    == loaded
            }
            _ => false,
        };
        let mut step = Step::Next;
        if ok {
            let value = self.x[op.rs2 as usize & 31];
            let device = bus.ram_offset(pa, size).is_none();
            bus.write(pa, size as usize, value)
                .map_err(|_| AccessType::Store.access_fault(va))?;
            if let Some(off) = bus.ram.offset_of(pa, size) {
                self.note_ram_store(off, size as usize);
            }
            if device {
                step = Step::Yield;
            }
        }
        self.x[op.rd as usize & 31] = (!ok) as u64;
        self.pc = self.pc.wrapping_add(4);
        Ok(step)
    }

    // ---------------------------------------------------------------- system

    // ---------------------------------------------------------------- triggers

    /// May a trigger with action = breakpoint fire now? Not in a handler that has not yet
    /// saved what a breakpoint trap would overwrite (see [`trigger`]).
    fn triggers_may_fire(&self) -> bool {
        match self.privilege {
            PRIV_M => self.mstatus & ms::MIE != 0,
            PRIV_S => {
                self.medeleg & (1 << Exception::BREAKPOINT) == 0 || self.mstatus & ms::SIE != 0
            }
            _ => true,
        }
    }

    /// Before fetching at `pc`: if an execute trigger matches it, take the breakpoint
    /// trap (tval = pc) and return true.
    #[cold]
    fn execute_trigger_fires(&mut self, pc: u64) -> bool {
        if !self.triggers_may_fire()
            || !self
                .triggers
                .fire(trigger::Access::Execute, self.privilege, pc, 1)
        {
            return false;
        }
        self.pc = pc;
        self.raise(Exception::new(Exception::BREAKPOINT, pc));
        true
    }

    /// Before executing the decoded instruction at `index` (at `pc`): if a load or store
    /// trigger matches the data access it is about to make, take the breakpoint trap
    /// (tval = the access's address) and return true. Instructions that would raise an
    /// illegal-instruction exception (FP with FS off) are left to raise it.
    #[cold]
    fn data_trigger_fires(&mut self, index: usize, pc: u64) -> bool {
        let op = self.decoded.op(index);
        let base = self.x[op.rs1 as usize & 31];
        let Some((accesses, addr, size)) = trigger::data_accesses(&op, base) else {
            return false;
        };
        let fp = matches!(op.k, OpKind::Flw | OpKind::Fld | OpKind::Fsw | OpKind::Fsd);
        if (fp && self.mstatus & ms::FS == 0) || !self.triggers_may_fire() {
            return false;
        }
        let privilege = self.privilege;
        if !accesses
            .iter()
            .any(|&a| self.triggers.fire(a, privilege, addr, size))
        {
            return false;
        }
        self.pc = pc;
        self.raise(Exception::new(Exception::BREAKPOINT, addr));
        true
    }

    // ---------------------------------------------------------------- traps

    /// Drop the fetch-page cache if the MMU invalidated translations or wants to see
    /// every access.
    #[inline]
    fn check_fetch_cache(&mut self) {
        let observed = self.mmu.observed() || !self.fast_path;
        self.fetch_replayed = observed && self.fast_path && self.mmu.only_counting();
        if self.fetch_gen != self.mmu.generation() || (observed && !self.fetch_replayed) {
            self.fetch_pages.flush();
        }
        self.dtlb.sync(self.mmu.generation());
    }

    /// Take the trap for an exception raised by the current instruction.
    #[cold]
    #[inline(never)]
    fn raise(&mut self, e: Exception) -> Step {
        self.take_trap(e.cause, e.tval, false);
        Step::Trapped
    }

    /// After a change of interrupt enables, pending bits or privilege: stop the quantum
    /// when an interrupt can now be taken (the next `run` takes it at its first
    /// boundary); otherwise carry on, since the lines only change between quanta.
    fn interrupt_check(&self) -> Step {
        if self.pending_interrupt().is_some() {
            Step::Yield
        } else {
            Step::Next
        }
    }

    /// The interrupt to take now, if any: highest priority among the enabled pending ones.
    fn pending_interrupt(&self) -> Option<u64> {
        let pending = self.mip() & self.mie;
        if pending == 0 {
            return None;
        }
        let m_enabled = self.privilege < PRIV_M || self.mstatus & ms::MIE != 0;
        let m_pending = pending & !self.mideleg;
        if m_enabled && m_pending != 0 {
            return highest_priority(m_pending);
        }
        let s_enabled =
            self.privilege < PRIV_S || (self.privilege == PRIV_S && self.mstatus & ms::SIE != 0);
        let s_pending = pending & self.mideleg;
        if s_enabled && s_pending != 0 {
            return highest_priority(s_pending);
        }
        None
    }

    /// Enter the trap handler for `cause` (an interrupt number when `interrupt`).
    fn take_trap(&mut self, cause: u64, tval: u64, interrupt: bool) {
        let counts = if interrupt {
            &mut self.traps.interrupts
        } else {
            &mut self.traps.exceptions
        };
        counts[(cause & 15) as usize] += 1;
        self.traps_taken += 1;
        let deleg = if interrupt {
            self.mideleg
        } else {
            self.medeleg
        };
        let to_s = self.privilege <= PRIV_S && (deleg >> (cause & 63)) & 1 == 1;
        let xcause = cause | ((interrupt as u64) << 63);
        let from = self.privilege as u64;
        let tvec = if to_s {
            self.sepc = self.pc;
            self.scause = xcause;
            self.stval = tval;
            let sie = self.mstatus & ms::SIE != 0;
            let mut s = self.mstatus & !(ms::SIE | ms::SPIE | ms::SPP);
            if sie {
                s |= ms::SPIE;
            }
            if from == PRIV_S as u64 {
                s |= ms::SPP;
            }
            self.mstatus = s;
            self.stvec
        } else {
            self.mepc = self.pc;
            self.mcause = xcause;
            self.mtval = tval;
            let mie = self.mstatus & ms::MIE != 0;
            let mut s = self.mstatus & !(ms::MIE | ms::MPIE | ms::MPP);
            if mie {
                s |= ms::MPIE;
            }
            s |= from << ms::MPP_SHIFT;
            self.mstatus = s;
            self.mtvec
        };
        let base = tvec & !3;
        self.pc = if interrupt && tvec & 3 == 1 {
            base.wrapping_add(4 * cause)
        } else {
            base
        };
        self.reservation = None;
        self.wfi = false;
        self.set_privilege(if to_s { PRIV_S } else { PRIV_M });
    }

    fn set_privilege(&mut self, p: u8) {
        self.account_privilege();
        self.privilege = p;
        self.update_translate_ctx();
    }

    /// Attribute instructions retired since the last call to the current privilege.
    fn account_privilege(&mut self) {
        let n = self.instret.wrapping_sub(self.priv_mark);
        self.insns_by_priv[self.privilege as usize & 3] += n;
        self.priv_mark = self.instret;
    }

    /// Recompute what translations depend on after privilege, mstatus or satp changed.
    fn update_translate_ctx(&mut self) {
        let effective = if self.privilege == PRIV_M && self.mstatus & ms::MPRV != 0 {
            ((self.mstatus & ms::MPP) >> ms::MPP_SHIFT) as u8
        } else {
            self.privilege
        };
        let sum = self.mstatus & ms::SUM != 0;
        let mxr = self.mstatus & ms::MXR != 0;
        let data_ctx = TranslateCtx {
            satp: self.satp,
            privilege: effective,
            sum,
            mxr,
        };
        let fetch_ctx = TranslateCtx {
            satp: self.satp,
            privilege: self.privilege,
            sum,
            mxr,
        };
        // Most mstatus writes change nothing translations depend on: Linux toggles
        // sstatus.SIE around every critical section (nine in ten calls here in the Debian
        // boot). The caches are kept then. A satp write that changes nothing here still
        // empties them, through the MMU generation it moves.
        if data_ctx != self.data_ctx {
            self.data_ctx = data_ctx;
            self.dtlb.flush();
        }
        if fetch_ctx != self.fetch_ctx {
            self.fetch_ctx = fetch_ctx;
            self.fetch_pages.flush();
        }
    }
}

/// Does this OP-FP / fused instruction write an f register (rather than an x register)?
pub(crate) fn fp_writes_f_register(insn: u32) -> bool {
    if insn & 0x7f != 0x53 {
        return true;
    }
    // FCMP (0x14), FCVT.int.fp (0x18), FMV.X / FCLASS (0x1c) write x registers.
    !matches!(insn >> 27, 0x14 | 0x18 | 0x1c)
}

fn highest_priority(bits: u64) -> Option<u64> {
    [irq::MEI, irq::MSI, irq::MTI, irq::SEI, irq::SSI, irq::STI]
        .into_iter()
        .find(|&n| bits & (1 << n) != 0)
}

#[inline(always)]
fn sext32(v: u64) -> u64 {
    v as i32 as i64 as u64
}

#[inline(always)]
fn read_le(ram: &[u8], off: usize, size: u64) -> u64 {
    match size {
        1 => ram[off] as u64,
        2 => u16::from_le_bytes([ram[off], ram[off + 1]]) as u64,
        4 => u32::from_le_bytes(ram[off..off + 4].try_into().unwrap_or([0; 4])) as u64,
        _ => u64::from_le_bytes(ram[off..off + 8].try_into().unwrap_or([0; 8])),
    }
}

#[inline(always)]
fn write_le(ram: &mut [u8], off: usize, size: u64, v: u64) {
    match size {
        1 => ram[off] = v as u8,
        2 => ram[off..off + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => ram[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => ram[off..off + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

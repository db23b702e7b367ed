//! The unobserved interpreter loop and its data-translation cache.
//!
//! [`Hart::run_fast`] is what `emu run` executes when nothing watches the MMU (no
//! `--stats`, no `--trace`, no `--check-tlb`, no `--no-fast-path`). It computes exactly
//! what the per-instruction loop in `mod.rs` computes, with two shortcuts:
//!
//! - **Straight through a page.** After an instruction whose successor lies on the same
//!   virtual page, the next op is taken from the same decoded page without going back
//!   through the fetch-page cache; only a page change, an op not decoded yet (or forgotten
//!   because a store overwrote it) or anything the slow path handles returns to `fetch`.
//! - **Data pages in the hart.** [`DataTlb`] maps a virtual page straight to its RAM
//!   offset for loads and stores, so a hit is a tag compare and an add. It holds only
//!   pages the MMU's own fast path holds (whole-page PMP decision, A/D already set for
//!   stores, RAM that is not the HTIF mailbox) and it is emptied whenever the MMU's
//!   generation moves (sfence.vma, satp, PMP) or the data context changes (privilege,
//!   MPRV/MPP, SUM, MXR).
//!
//! Both loops count the budget per instruction (trapped ones included) and take traps at
//! the same instruction boundaries, so a run is identical with this loop or the
//! reference one; `emu/tests/fast_path.rs` checks that.

use super::decode::OpKind;
use super::decode_cache::DecodeCache;
use super::trap::Exception;
use super::{read_le, sext32, write_le, Hart, RunStop, Step, FETCH_TRAPPED, NO_VPN};
use crate::bus::Bus;
use crate::mmu::AccessType;
use crate::trace::Tracer;

mod jit_glue;

/// Entries per access type; direct-mapped by virtual page number.
const DTLB_SLOTS: usize = 256;

/// `repr(C)`: `--jit` code reads entries (jit_glue.rs).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct DtlbEntry {
    vpn: u64,
    /// RAM offset of a byte = its virtual address + `addend` (wrapping).
    addend: u64,
}

const DTLB_EMPTY: DtlbEntry = DtlbEntry {
    vpn: NO_VPN,
    addend: 0,
};

/// Virtual page -> RAM offset for the unobserved loop's loads and stores.
pub(super) struct DataTlb {
    load: [DtlbEntry; DTLB_SLOTS],
    store: [DtlbEntry; DTLB_SLOTS],
    /// The MMU generation the entries were made under.
    generation: u64,
}

impl DataTlb {
    pub(super) fn new() -> Box<DataTlb> {
        Box::new(DataTlb {
            load: [DTLB_EMPTY; DTLB_SLOTS],
            store: [DTLB_EMPTY; DTLB_SLOTS],
            generation: 0,
        })
    }

    pub(super) fn flush(&mut self) {
        self.load = [DTLB_EMPTY; DTLB_SLOTS];
        self.store = [DTLB_EMPTY; DTLB_SLOTS];
    }

    /// Empty the cache if the MMU invalidated translations since it was filled.
    #[inline]
    pub(super) fn sync(&mut self, generation: u64) {
        if self.generation != generation {
            self.flush();
            self.generation = generation;
        }
    }

    /// RAM offset of `[va, va + size)` when its page is cached and the access stays on it.
    #[inline(always)]
    fn lookup(table: &[DtlbEntry; DTLB_SLOTS], va: u64, size: u64) -> Option<usize> {
        let vpn = va >> 12;
        let e = &table[vpn as usize % DTLB_SLOTS];
        if e.vpn == vpn && (va & 0xfff) + size <= 0x1000 {
            Some(va.wrapping_add(e.addend) as usize)
        } else {
            None
        }
    }
}

/// Counter-observed runs: consecutive data accesses to one RAM page, after a load and/or
/// a store there was a counted-cache hit. Each further access of a type that hit would be
/// the same hit on the same L1D slot (only data accesses touch the L1D, there was none
/// other in between, and a load and a store to one page find the same first-matching
/// slot), so they are counted here and accounted together ([`Mmu::repeat_data`]) before
/// anything else happens.
#[derive(Debug, Clone, Copy)]
struct CountedRun {
    vpn: u64,
    /// Which access types had a counted-cache hit on the page in this run.
    load: bool,
    store: bool,
    /// RAM offset of a byte of the page = its virtual address + `addend`.
    addend: u64,
    n: u64,
}

impl CountedRun {
    const NONE: CountedRun = CountedRun {
        vpn: NO_VPN,
        load: false,
        store: false,
        addend: 0,
        n: 0,
    };

    /// A run on page `vpn`, at RAM offset `page_off`, just after a counted-cache hit.
    fn starting(vpn: u64, page_off: usize, load: bool, store: bool) -> CountedRun {
        CountedRun {
            vpn,
            load,
            store,
            addend: (page_off as u64).wrapping_sub(vpn << 12),
            n: 0,
        }
    }
}

/// Counter-observed runs: the fetches from the page being run that are accounted in one
/// go. After one replay on a page succeeds, every further fetch from it until the loop
/// leaves the page would succeed the same way (only fetches touch the L1I, and none
/// other happens meanwhile), so they are counted and applied together. `from` is the
/// loop's instruction budget just after that replay (NO_BATCH: none), so `from - left`
/// is the number of instructions fetched since, the one in flight included.
struct FetchBatch {
    from: u64,
    page: u64,
}

const NO_BATCH: u64 = u64::MAX;

impl Hart {
    /// Account the fetches `batch` holds (`left`: the loop's budget now) and the data
    /// accesses `run` holds, and forget both.
    #[inline]
    fn end_counted(&mut self, batch: &mut FetchBatch, left: u64, run: &mut CountedRun) {
        if batch.from != NO_BATCH {
            let n = batch.from - left;
            if n > 0 {
                self.mmu.repeat_fetch(batch.page << 12, &self.fetch_ctx, n);
            }
            batch.from = NO_BATCH;
        }
        self.end_counted_run(run);
    }

    /// Account the accesses `run` holds and forget it.
    #[inline]
    fn end_counted_run(&mut self, run: &mut CountedRun) {
        if run.n > 0 {
            let access = if run.load {
                AccessType::Load
            } else {
                AccessType::Store
            };
            self.mmu
                .repeat_data(run.vpn << 12, access, &self.data_ctx, run.n);
        }
        *run = CountedRun::NONE;
    }

    /// Load in a counter-observed run, exactly as [`Hart::load`] accounts it.
    #[inline(always)]
    fn load_counted(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        run: &mut CountedRun,
    ) -> Result<u64, Exception> {
        let within = (va & 0xfff) + size <= 0x1000;
        let vpn = va >> 12;
        if vpn == run.vpn && run.load && within {
            run.n += 1;
            return Ok(read_le(
                bus.ram.as_slice(),
                va.wrapping_add(run.addend) as usize,
                size,
            ));
        }
        // A first load on the page of a store run keeps the run's stores.
        let store = vpn == run.vpn && run.store;
        self.end_counted_run(run);
        if within {
            if let Some(pa) = self.mmu.counted_hit(va, AccessType::Load, &self.data_ctx) {
                if let Some(off) = bus.ram.offset_of(pa & !0xfff, 4096) {
                    *run = CountedRun::starting(vpn, off, true, store);
                }
                return self.load_at(bus, va, pa, size);
            }
        }
        self.load(bus, va, size)
    }

    /// Store in a counter-observed run, exactly as [`Hart::store`] accounts it;
    /// `Ok(true)` when it went to a device.
    #[inline(always)]
    fn store_counted(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
        run: &mut CountedRun,
    ) -> Result<bool, Exception> {
        let within = (va & 0xfff) + size <= 0x1000;
        let vpn = va >> 12;
        if vpn == run.vpn && run.store && within {
            run.n += 1;
            let off = va.wrapping_add(run.addend) as usize;
            write_le(bus.ram.as_mut_slice(), off, size, value);
            self.icache.invalidate(off, size as usize);
            return Ok(false);
        }
        // A first store on the page of a load run keeps the run's loads.
        let load = vpn == run.vpn && run.load;
        self.end_counted_run(run);
        if within {
            if let Some(pa) = self.mmu.counted_hit(va, AccessType::Store, &self.data_ctx) {
                // Not the HTIF mailbox page: `ram_offset` leaves it to the device path.
                if let Some(off) = bus.ram_offset(pa & !0xfff, 4096) {
                    *run = CountedRun::starting(vpn, off, load, true);
                }
                return self.store_at(bus, va, pa, size, value);
            }
        }
        self.store(bus, va, size, value)
    }

    /// Load through the data-page cache, falling back to the full [`Hart::load`].
    #[inline(always)]
    fn load_fast(&mut self, bus: &mut Bus, va: u64, size: u64) -> Result<u64, Exception> {
        if let Some(off) = DataTlb::lookup(&self.dtlb.load, va, size) {
            return Ok(read_le(bus.ram.as_slice(), off, size));
        }
        self.load_and_remember(bus, va, size)
    }

    #[inline(never)]
    fn load_and_remember(&mut self, bus: &mut Bus, va: u64, size: u64) -> Result<u64, Exception> {
        let v = self.load(bus, va, size)?;
        self.remember_data_page(bus, va, AccessType::Load);
        Ok(v)
    }

    /// Store through the data-page cache; `Ok(true)` when it went to a device.
    #[inline(always)]
    fn store_fast(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        if let Some(off) = DataTlb::lookup(&self.dtlb.store, va, size) {
            write_le(bus.ram.as_mut_slice(), off, size, value);
            self.icache.invalidate(off, size as usize);
            return Ok(false);
        }
        self.store_and_remember(bus, va, size, value)
    }

    #[inline(never)]
    fn store_and_remember(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        let device = self.store(bus, va, size, value)?;
        self.remember_data_page(bus, va, AccessType::Store);
        Ok(device)
    }

    /// After a successful access: cache `va`'s page if the MMU's fast path holds it (so
    /// every check the full path makes passes for the whole page) and it is plain RAM.
    fn remember_data_page(&mut self, bus: &Bus, va: u64, access: AccessType) {
        let Some(page) = self.mmu.fast_page(va, access, &self.data_ctx) else {
            return;
        };
        let Some(off) = bus.ram_offset(page, 4096) else {
            return;
        };
        let vpn = va >> 12;
        let entry = DtlbEntry {
            vpn,
            addend: (off as u64).wrapping_sub(vpn << 12),
        };
        let table = match access {
            AccessType::Store => &mut self.dtlb.store,
            _ => &mut self.dtlb.load,
        };
        table[vpn as usize % DTLB_SLOTS] = entry;
    }

    /// The straight-through interpreter loop (see the module comment). Same contract as
    /// the reference loop: returns instructions executed (retired or trapped) and why it
    /// stopped.
    ///
    /// `COUNTED`: the MMU is observed by its counters only (`--stats`, or a trace without
    /// TLB events). Every fetch is then replayed to the MMU's counted cache and every
    /// load and store translated through it, in the reference loop's order, so the
    /// counters come out identical; the data-page cache is not used.
    ///
    /// `TRACED` (with `COUNTED`, and `tracer`): a trace with no per-instruction events
    /// (e.g. `--trace walk`). After each instruction that made the MMU queue events,
    /// trapped, or went through the slow path (which may change privilege), the events
    /// are emitted as the reference traced loop would.
    pub(super) fn run_fast<const COUNTED: bool, const TRACED: bool>(
        &mut self,
        bus: &mut Bus,
        mut tracer: Option<&mut Tracer>,
        budget: u64,
    ) -> (u64, RunStop) {
        self.dtlb.sync(self.mmu.generation());
        let mut left = budget;
        let mut pc = self.pc;
        // COUNTED: fetches and data accesses accounted in batches (see FetchBatch and
        // CountedRun), applied before anything else can touch the MMU.
        let mut batch = FetchBatch {
            from: NO_BATCH,
            page: 0,
        };
        let mut data_run = CountedRun::NONE;
        macro_rules! apply_batch {
            () => {
                if COUNTED {
                    self.end_counted(&mut batch, left, &mut data_run);
                }
            };
        }
        // TRACED: emit what the instruction just executed caused; `$before` is the
        // instruction count, privilege and trap count before it.
        macro_rules! emit {
            ($before:expr, $kind:expr) => {
                if let Some(t) = tracer.as_deref_mut() {
                    self.emit_traced_step(bus, t, $before, $kind);
                }
            };
        }
        let stop = 'fetch: loop {
            apply_batch!();
            // --jit (jit_glue.rs): at a block entry on a cached page, a compiled block runs
            // instead of the loop below; an instruction it leaves pending runs through
            // `step_reference` before going back to fetch.
            // One instruction through the reference path (anything the loop below does not
            // handle itself), its events when traced, then a fresh fetch.
            macro_rules! reference_step {
                ($index:expr) => {{
                    apply_batch!();
                    let index = $index;
                    if COUNTED {
                        self.mmu.current_pc = pc;
                    }
                    let before = (self.instret, self.privilege, self.traps_taken);
                    let kind = self.icache.slot(index).k;
                    let r = self.step_reference(index, pc, bus);
                    if TRACED {
                        if let Ok(n) = r {
                            self.pc = n;
                        }
                        emit!(before, Some(kind));
                    }
                    match r {
                        Ok(n) => {
                            pc = n;
                            continue 'fetch;
                        }
                        Err(stop) => {
                            pc = self.pc;
                            break 'fetch stop;
                        }
                    }
                }};
            }
            macro_rules! jit_block {
                ($index:expr) => {
                    if !COUNTED && self.jit.is_some() {
                        if let Some(exit) = self.run_block($index, pc, left, bus) {
                            left -= exit.retired;
                            pc = exit.pc;
                            if let Some(index) = exit.pending {
                                left -= 1;
                                reference_step!(index);
                            }
                            continue 'fetch;
                        }
                    }
                };
            }
            if left == 0 {
                break RunStop::Budget;
            }
            if COUNTED {
                self.mmu.current_pc = pc;
            }
            let fetch_before = (self.instret, self.privilege, self.traps_taken);
            // COUNTED: a fetch the counted cache replays starts a fetch batch at once.
            let (mut index, replayed_here) = match self.fetch_cached::<COUNTED>(pc) {
                Some(index) => (index, true),
                None => {
                    self.pc = pc;
                    (self.fetch_or_trap(bus), false)
                }
            };
            if index == FETCH_TRAPPED {
                if TRACED {
                    emit!(fetch_before, None);
                }
                left -= 1;
                pc = self.pc;
                continue;
            }
            // Successors on pc's page need no fetch if the fetch-page cache holds it. It
            // does not after a fetch from a device or across pages: such an instruction
            // sits in the scratch slot, with no page after it, and runs on its own.
            let (page, base, page_pa) = match self.fetch_pages.lookup(pc >> 12) {
                Some((base, pa)) if index != 0 => {
                    // TRACED: a fetch that went through the full path (a walk, say) runs
                    // its instruction through the reference step, which emits the events.
                    if TRACED && self.mmu_events_pending() {
                        left -= 1;
                        reference_step!(index)
                    }
                    jit_block!(index);
                    (pc >> 12, base, pa)
                }
                _ => {
                    left -= 1;
                    reference_step!(index)
                }
            };
            // The instruction `fetch` just replayed to the MMU needs no second replay.
            let mut replayed = true;
            batch.page = page;
            if COUNTED && replayed_here {
                // `left` as it will be once this first instruction is under way.
                batch.from = left - 1;
            }
            loop {
                left -= 1;
                if COUNTED && batch.from == NO_BATCH && !replayed {
                    let k = self.icache.slot(index).k;
                    // A fetch the counted cache cannot account for (and changed nothing
                    // for) goes to the fetch path, which translates it; so does a slot
                    // not decoded yet, which the reference loop never replays.
                    if matches!(k, OpKind::Empty | OpKind::PageEnd)
                        || !self.mmu.replay_fetch(pc, &self.fetch_ctx, page_pa)
                    {
                        left += 1;
                        continue 'fetch;
                    }
                    batch.from = left;
                }
                replayed = false;
                let op = self.icache.slot(index);
                let (kind, rd, rs1, rs2, imm, len) =
                    (op.k, op.rd(), op.rs1, op.rs2, op.imm, op.len());
                let a = self.x[rs1 as usize & 31];
                let b = self.x[rs2 as usize & 31];
                let imm = imm as i64 as u64;
                let next = pc.wrapping_add(len);
                macro_rules! trap {
                    ($e:expr) => {{
                        apply_batch!();
                        let before = (self.instret, self.privilege, self.traps_taken);
                        self.pc = pc;
                        self.raise($e);
                        pc = self.pc;
                        if TRACED {
                            emit!(before, Some(kind));
                        }
                        continue 'fetch;
                    }};
                }
                // TRACED, after a load or store that made the MMU queue events (its
                // translation took the full path): retire it, emit, carry on. Nothing
                // else in this loop reaches the MMU (a counted replay or hit queues no
                // event: TLB events are not traced in this mode), and fetch-path events
                // were handled after the fetch.
                // The instruction retired, falling through to the next one.
                macro_rules! retire {
                    () => {
                        self.x[0] = 0;
                        self.instret += 1;
                        pc = next;
                    };
                }
                // Straight on: the next slot, or the page's sentinel past its end.
                macro_rules! advance {
                    () => {
                        if left == 0 {
                            break 'fetch RunStop::Budget;
                        }
                        index += (len >> 1) as usize;
                    };
                }
                // TRACED: emit what the instruction that just retired caused.
                macro_rules! emit_retired {
                    () => {
                        self.pc = pc;
                        emit!(
                            (self.instret - 1, self.privilege, self.traps_taken),
                            Some(kind)
                        );
                    };
                }
                macro_rules! retire_emitting {
                    () => {
                        if TRACED && self.mmu_events_pending() {
                            retire!();
                            emit_retired!();
                            advance!();
                            continue;
                        }
                    };
                }
                // A control transfer: on the same page the decoded page is indexed
                // directly, elsewhere the fetch path finds the target.
                macro_rules! jump {
                    ($target:expr) => {{
                        let target = $target;
                        self.x[0] = 0;
                        self.instret += 1;
                        pc = target;
                        if left == 0 {
                            break 'fetch RunStop::Budget;
                        }
                        if target >> 12 != page {
                            continue 'fetch;
                        }
                        index = DecodeCache::index(base, (target >> 1) as usize);
                        jit_block!(index);
                        continue;
                    }};
                }
                macro_rules! branch {
                    ($cond:expr) => {
                        if $cond {
                            jump!(pc.wrapping_add(imm))
                        }
                    };
                }
                macro_rules! load {
                    ($size:expr, $ext:expr) => {{
                        let va = a.wrapping_add(imm);
                        let v = if COUNTED {
                            self.mmu.current_pc = pc;
                            self.load_counted(bus, va, $size, &mut data_run)
                        } else {
                            self.load_fast(bus, va, $size)
                        };
                        match v {
                            Ok(v) => {
                                self.x[rd] = $ext(v);
                                retire_emitting!();
                            }
                            Err(e) => trap!(e),
                        }
                    }};
                }
                macro_rules! store {
                    ($size:expr) => {{
                        let va = a.wrapping_add(imm);
                        let device = if COUNTED {
                            self.mmu.current_pc = pc;
                            self.store_counted(bus, va, $size, b, &mut data_run)
                        } else {
                            self.store_fast(bus, va, $size, b)
                        };
                        match device {
                            Ok(false) => retire_emitting!(),
                            Ok(true) => {
                                // A device saw it: the machine must look now.
                                self.instret += 1;
                                pc = next;
                                if TRACED {
                                    emit_retired!();
                                }
                                break 'fetch RunStop::Yield;
                            }
                            Err(e) => trap!(e),
                        }
                    }};
                }
                match kind {
                    OpKind::Empty | OpKind::PageEnd => {
                        // Not decoded yet (or overwritten by a store), or ran off the
                        // page: the fetch path takes over at pc.
                        left += 1;
                        continue 'fetch;
                    }
                    OpKind::Lui => self.x[rd] = imm,
                    OpKind::Auipc => self.x[rd] = pc.wrapping_add(imm),
                    OpKind::Jal => {
                        self.x[rd] = next;
                        jump!(pc.wrapping_add(imm))
                    }
                    OpKind::Jalr => {
                        self.x[rd] = next;
                        jump!(a.wrapping_add(imm) & !1)
                    }
                    OpKind::Beq => branch!(a == b),
                    OpKind::Bne => branch!(a != b),
                    OpKind::Blt => branch!((a as i64) < (b as i64)),
                    OpKind::Bge => branch!((a as i64) >= (b as i64)),
                    OpKind::Bltu => branch!(a < b),
                    OpKind::Bgeu => branch!(a >= b),
                    OpKind::Lb => load!(1, |v| v as i8 as i64 as u64),
                    OpKind::Lh => load!(2, |v| v as i16 as i64 as u64),
                    OpKind::Lw => load!(4, |v| v as i32 as i64 as u64),
                    OpKind::Ld => load!(8, |v| v),
                    OpKind::Lbu => load!(1, |v| v),
                    OpKind::Lhu => load!(2, |v| v),
                    OpKind::Lwu => load!(4, |v| v),
                    OpKind::Sb => store!(1),
                    OpKind::Sh => store!(2),
                    OpKind::Sw => store!(4),
                    OpKind::Sd => store!(8),
                    OpKind::Addi => self.x[rd] = a.wrapping_add(imm),
                    OpKind::Slti => self.x[rd] = ((a as i64) < (imm as i64)) as u64,
                    OpKind::Sltiu => self.x[rd] = (a < imm) as u64,
                    OpKind::Xori => self.x[rd] = a ^ imm,
                    OpKind::Ori => self.x[rd] = a | imm,
                    OpKind::Andi => self.x[rd] = a & imm,
                    OpKind::Slli => self.x[rd] = a << (imm & 63),
                    OpKind::Srli => self.x[rd] = a >> (imm & 63),
                    OpKind::Srai => self.x[rd] = ((a as i64) >> (imm & 63)) as u64,
                    OpKind::Add => self.x[rd] = a.wrapping_add(b),
                    OpKind::Sub => self.x[rd] = a.wrapping_sub(b),
                    OpKind::Sll => self.x[rd] = a << (b & 63),
                    OpKind::Slt => self.x[rd] = ((a as i64) < (b as i64)) as u64,
                    OpKind::Sltu => self.x[rd] = (a < b) as u64,
                    OpKind::Xor => self.x[rd] = a ^ b,
                    OpKind::Srl => self.x[rd] = a >> (b & 63),
                    OpKind::Sra => self.x[rd] = ((a as i64) >> (b & 63)) as u64,
                    OpKind::Or => self.x[rd] = a | b,
                    OpKind::And => self.x[rd] = a & b,
                    OpKind::Addiw => self.x[rd] = sext32(a.wrapping_add(imm)),
                    OpKind::Slliw => {
                        self.x[rd] = sext32((a as u32).wrapping_shl(imm as u32) as u64)
                    }
                    OpKind::Srliw => self.x[rd] = sext32(((a as u32) >> (imm & 31)) as u64),
                    OpKind::Sraiw => self.x[rd] = ((a as i32) >> (imm & 31)) as i64 as u64,
                    OpKind::Addw => self.x[rd] = sext32(a.wrapping_add(b)),
                    OpKind::Subw => self.x[rd] = sext32(a.wrapping_sub(b)),
                    OpKind::Sllw => self.x[rd] = sext32(((a as u32) << (b & 31)) as u64),
                    OpKind::Srlw => self.x[rd] = sext32(((a as u32) >> (b & 31)) as u64),
                    OpKind::Sraw => self.x[rd] = ((a as i32) >> (b & 31)) as i64 as u64,
                    OpKind::Mul => self.x[rd] = a.wrapping_mul(b),
                    OpKind::Mulh => {
                        self.x[rd] = ((a as i64 as i128 * b as i64 as i128) >> 64) as u64
                    }
                    OpKind::Mulhu => self.x[rd] = ((a as u128 * b as u128) >> 64) as u64,
                    OpKind::Mulw => self.x[rd] = sext32(a.wrapping_mul(b)),
                    OpKind::Fence => {}
                    _ => {
                        // Everything else takes the reference path, then a fresh fetch: a
                        // system instruction may have changed the translation context.
                        reference_step!(index)
                    }
                }
                retire!();
                advance!();
            }
        };
        apply_batch!();
        self.pc = pc;
        self.account_privilege();
        (budget - left, stop)
    }

    /// One instruction through the reference `execute`: `Ok(next pc)` to carry on (also
    /// after a trap, whose handler is then the next pc), or `Err(why)` when the run must
    /// stop (`self.pc` says where it resumes).
    #[inline(never)]
    fn step_reference(&mut self, index: usize, pc: u64, bus: &mut Bus) -> Result<u64, RunStop> {
        let n = self.execute(index, pc, bus);
        self.x[0] = 0;
        if n & 1 == 0 {
            self.instret += 1;
            return Ok(n);
        }
        match self.special {
            Step::Trapped => Ok(self.pc),
            Step::Next => {
                self.instret += 1;
                Ok(self.pc)
            }
            Step::Yield => {
                self.instret += 1;
                Err(RunStop::Yield)
            }
            Step::Wfi => {
                self.instret += 1;
                Err(RunStop::Wfi)
            }
        }
    }
}

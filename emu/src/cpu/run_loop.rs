//! The straight-through run loop, generic over who observes it.
//!
//! [`Hart::run_straight`] runs [`Hart::exec`](super::semantics) (each instruction's
//! semantics, written once) with two shortcuts over the per-instruction reference loop:
//!
//! - **Straight through a page.** After an instruction whose successor lies on the same
//!   virtual page, the next op is taken from the same decoded page without going back
//!   through the fetch-page cache; only a page change, an op not decoded yet (or forgotten
//!   because a store overwrote it) or anything `exec` leaves to the reference step
//!   returns to the fetch.
//! - **The hart's page caches** (`crate::mmu::page_caches`): fetches through the
//!   fetch-page cache, loads and stores through the data path the [`Observer`] chooses.
//!
//! The observer is a type, so each instantiation has only its own code: [`Unobserved`]
//! (the data-page cache; compiled blocks with `--jit`), [`Counted`] (`--stats`: every
//! fetch and data access accounted to the MMU's counted cache, in batches, so the
//! counters come out as the reference loop's; compiled blocks of the counted flavour,
//! entered only with a fetch batch open on their page, see `jit_glue.rs`), [`Traced`]
//! (counted, compiled blocks too, and after each
//! instruction that made the MMU queue events, trapped, or took the reference step, the
//! events are emitted as the per-instruction observer would), [`Reference`] (one fetch
//! and full translation per instruction: `--no-fast-path`, `--check-tlb`, TLB events,
//! debug triggers) and [`Watching`] (instruction, MMIO or SBI events, or a trace window
//! to open: each instruction looked at before and after it). All count the budget per
//! instruction (trapped ones included) and take traps at the same instruction
//! boundaries, so a run is identical whichever loop runs it; `emu/tests/fast_path.rs`
//! checks that.

use super::csr::num as csr;
use super::data_path::{self, Cached, DataPath};
use super::decode::OpKind;
use super::decode_cache::DecodeCache;
use super::jit_glue::BlockExit;
use super::semantics::Flow;
use super::{Hart, RunStop, Step, FETCH_TRAPPED};
use crate::bus::Bus;
use crate::mmu::page_caches::{CountedRun, FetchBatch};
use crate::trace::Tracer;

/// Who watches a run of [`Hart::run_straight`].
pub(super) trait Observer {
    /// The MMU's counters see every access: fetches are replayed to its counted cache,
    /// loads and stores go through it ([`CountedRun`]).
    const COUNTED: bool;
    /// The MMU is observed and is told the pc of each access (stale-translation reports
    /// name the instruction).
    const OBSERVED: bool = Self::COUNTED;
    /// Compiled blocks may run (`--jit`): of the counted flavour when `COUNTED`.
    const COMPILED: bool = false;
    /// Debug triggers are armed: checked before each instruction.
    const TRIGGERS: bool = false;
    /// [`Observer::tracer`] may return a tracer (or triggers may fire), so each step
    /// notes what it is compared with afterwards.
    const MAY_TRACE: bool = Self::TRIGGERS;
    /// The observer looks at every instruction, before and after it: each step is
    /// [`Hart::traced_instruction`] (`traced_loop.rs`), never straight through a page.
    const EACH: bool = false;
    /// How loads and stores reach memory.
    type Data: DataPath;
    fn data_path(hart: &mut Hart) -> Self::Data;
    /// The quantum is over, its data path settled.
    fn keep_data_path(_hart: &mut Hart, _data: Self::Data) {}
    /// Where events go after an instruction that caused any (None: nowhere).
    fn tracer(&mut self) -> Option<&mut Tracer>;
}

/// Nothing watches: the data-page cache, and compiled blocks with `--jit`.
pub(super) struct Unobserved;

impl Observer for Unobserved {
    const COUNTED: bool = false;
    const COMPILED: bool = true;
    type Data = Cached;
    fn data_path(_hart: &mut Hart) -> Cached {
        Cached
    }
    #[inline(always)]
    fn tracer(&mut self) -> Option<&mut Tracer> {
        None
    }
}

/// Counters watch (`--stats`, or a trace whose window is closed).
pub(super) struct Counted;

impl Observer for Counted {
    const COUNTED: bool = true;
    const COMPILED: bool = true;
    type Data = Box<CountedRun>;
    fn data_path(hart: &mut Hart) -> Box<CountedRun> {
        hart.take_counted_run()
    }
    fn keep_data_path(hart: &mut Hart, run: Box<CountedRun>) {
        hart.counted_run = Some(run);
    }
    #[inline(always)]
    fn tracer(&mut self) -> Option<&mut Tracer> {
        None
    }
}

/// Counters watch, and a trace that wants no per-instruction event (`--trace walk`).
pub(super) struct Traced<'t>(pub &'t mut Tracer);

impl Observer for Traced<'_> {
    const COUNTED: bool = true;
    const COMPILED: bool = true;
    const MAY_TRACE: bool = true;
    type Data = Box<CountedRun>;
    fn data_path(hart: &mut Hart) -> Box<CountedRun> {
        hart.take_counted_run()
    }
    fn keep_data_path(hart: &mut Hart, run: Box<CountedRun>) {
        hart.counted_run = Some(run);
    }
    #[inline(always)]
    fn tracer(&mut self) -> Option<&mut Tracer> {
        Some(self.0)
    }
}

/// Every access through the MMU's full path, one fetch per instruction: the reference
/// loop (`--no-fast-path`, `--check-tlb`, a trace of TLB events), checking debug
/// triggers when `TRIGGERS`. The fetch-page cache is empty in these runs, so every
/// instruction takes the fetch path and the reference step; with a trace, the events
/// of each instruction that caused any are emitted after it.
pub(super) struct Reference<'t, const TRIGGERS: bool>(pub Option<&'t mut Tracer>);

impl<const TRIGGERS: bool> Observer for Reference<'_, TRIGGERS> {
    const COUNTED: bool = false;
    const OBSERVED: bool = true;
    const TRIGGERS: bool = TRIGGERS;
    const MAY_TRACE: bool = true;
    type Data = data_path::Reference;
    fn data_path(_hart: &mut Hart) -> data_path::Reference {
        data_path::Reference
    }
    #[inline(always)]
    fn tracer(&mut self) -> Option<&mut Tracer> {
        self.0.as_deref_mut()
    }
}

/// A trace that looks at every instruction: instruction, MMIO or SBI events asked for,
/// or a trace window position to watch for.
pub(super) struct Watching<'t>(pub &'t mut Tracer);

impl Observer for Watching<'_> {
    const COUNTED: bool = false;
    const OBSERVED: bool = true;
    const MAY_TRACE: bool = true;
    const EACH: bool = true;
    type Data = data_path::Reference;
    fn data_path(_hart: &mut Hart) -> data_path::Reference {
        data_path::Reference
    }
    #[inline(always)]
    fn tracer(&mut self) -> Option<&mut Tracer> {
        Some(self.0)
    }
}

/// The loop's registers: where it is, what is left of the budget, and (counted runs)
/// the accesses not accounted yet.
struct Cursor<D> {
    pc: u64,
    left: u64,
    batch: FetchBatch,
    data: D,
}

/// Which loop runs a quantum and who observes it; chosen in one place,
/// [`Hart::loop_mode`], at the start of each quantum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopMode {
    /// Straight through, nothing observes the MMU ([`Unobserved`]).
    Unobserved,
    /// Straight through, the MMU's counters see every access ([`Counted`], or
    /// [`Traced`] with a trace).
    Counted,
    /// One fetch per instruction, every access through the MMU's full path
    /// ([`Reference`]); `triggers`: debug triggers are armed.
    Reference { triggers: bool },
    /// Every instruction looked at before and after it ([`Watching`]): instruction,
    /// MMIO or SBI events asked for, or a trace window position to watch for.
    EachInstruction,
}

/// Why [`Hart::straight`] left the page.
enum PageExit {
    /// To the fetch at the cursor's pc.
    Fetch,
    Stop(RunStop),
    /// The instruction at the cursor's pc raised this exception.
    Trap(super::trap::Exception),
    /// The op at this slot (at the cursor's pc) is one for the reference step.
    Reference(usize),
    /// Compiled blocks ran from the cursor's pc (which the exit does not yet count).
    Compiled(BlockExit),
}

/// Where the loop goes after a step: back to the fetch at `Cursor::pc`, or out.
type Went = Result<(), RunStop>;

impl Hart {
    /// The loop for this quantum (see [`LoopMode`]).
    pub(crate) fn loop_mode(&self, tracer: Option<&Tracer>) -> LoopMode {
        let triggers = self.triggers.armed();
        if tracer.is_some_and(|t| t.per_instruction()) {
            LoopMode::EachInstruction
        } else if triggers {
            LoopMode::Reference { triggers }
        } else if tracer.is_none() && self.fast_path && !self.mmu.observed() {
            LoopMode::Unobserved
        } else if self.fetch_replayed {
            LoopMode::Counted
        } else {
            LoopMode::Reference { triggers }
        }
    }

    /// Run one quantum of up to `budget` instructions, emitting to `tracer` the events it
    /// wants. Returns how many were executed (retired or trapped) and why it stopped.
    pub(super) fn run_quantum(
        &mut self,
        bus: &mut Bus,
        mut tracer: Option<&mut Tracer>,
        budget: u64,
    ) -> (u64, RunStop) {
        self.decoded.ensure(bus.ram.size());
        if let Some(t) = tracer.as_deref_mut() {
            self.follow_trace(t);
        }
        self.check_fetch_cache();
        if let Some(t) = tracer.as_deref_mut() {
            self.note_window_open(t);
        }
        if self.wfi {
            if self.mip() & self.mie == 0 {
                return (0, RunStop::Wfi);
            }
            self.wfi = false;
        }
        if let Some(n) = self.pending_interrupt() {
            let before = self.marks();
            self.take_trap(n, 0, true);
            if let Some(t) = tracer.as_deref_mut() {
                self.emit_traced_step(bus, t, before, None);
            }
        }
        let mode = self.loop_mode(tracer.as_deref());
        if mode != LoopMode::Counted {
            self.counted_run = None;
        }
        match (mode, tracer) {
            (LoopMode::EachInstruction, Some(t)) => {
                self.run_straight(bus, &mut Watching(t), budget)
            }
            (LoopMode::Unobserved, _) => self.run_straight(bus, &mut Unobserved, budget),
            (LoopMode::Counted, None) => self.run_straight(bus, &mut Counted, budget),
            (LoopMode::Counted, Some(t)) => self.run_straight(bus, &mut Traced(t), budget),
            // (Each instruction is chosen only with a tracer.)
            (LoopMode::Reference { triggers: false } | LoopMode::EachInstruction, t) => {
                self.run_straight(bus, &mut Reference::<false>(t), budget)
            }
            (LoopMode::Reference { triggers: true }, t) => {
                self.run_straight(bus, &mut Reference::<true>(t), budget)
            }
        }
    }

    /// Run up to `budget` instructions; returns how many ran (retired or trapped) and
    /// why it stopped. Same contract as the reference loop.
    pub(super) fn run_straight<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        budget: u64,
    ) -> (u64, RunStop) {
        self.dtlb.sync(self.mmu.generation());
        if O::COMPILED {
            self.install_compiled_blocks();
        }
        let mut cur = Cursor {
            pc: self.pc,
            left: budget,
            batch: FetchBatch {
                from: FetchBatch::NONE,
                page: 0,
            },
            data: O::data_path(self),
        };
        let stop = loop {
            // The data run stays open across fetches: a fetch the counted cache replays
            // touches the L1I only; anything else settles it first.
            if O::COUNTED {
                self.end_fetch_batch(&mut cur.batch, cur.left);
                cur.data.resume(self);
            }
            if cur.left == 0 {
                break RunStop::Budget;
            }
            if let Err(stop) = self.step_from_fetch(bus, obs, &mut cur) {
                break stop;
            }
        };
        self.settle::<O>(&mut cur);
        self.pc = cur.pc;
        self.account_privilege();
        O::keep_data_path(self, cur.data);
        (budget - cur.left, stop)
    }

    /// The counted run the last counted quantum left, paused (so its pages are looked
    /// at again before its next access: `Mmu::keep_run`), or a new one.
    fn take_counted_run(&mut self) -> Box<CountedRun> {
        self.counted_run
            .take()
            .unwrap_or_else(|| Box::new(CountedRun::NONE))
    }

    /// One step of an observer that looks at every instruction.
    #[inline(never)]
    fn step_watched<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
    ) -> Went {
        cur.left -= 1;
        self.pc = cur.pc;
        let went = match obs.tracer() {
            Some(t) => self.traced_instruction(bus, t),
            None => Ok(()),
        };
        cur.pc = self.pc;
        went
    }

    /// Counted runs: account the fetches and data accesses held back, before anything
    /// else can touch the MMU. (A data run may stay open while fetches replayed to the
    /// counted cache go on: they touch only the L1I, and the TLB model's levels are
    /// not inclusive.)
    #[inline(always)]
    fn settle<O: Observer>(&mut self, cur: &mut Cursor<O::Data>) {
        if O::COUNTED {
            self.end_fetch_batch(&mut cur.batch, cur.left);
            cur.data.settle(self);
        }
    }

    /// One fetch at `cur.pc`, then: a compiled block, the reference step, or straight
    /// through the decoded page.
    #[inline(always)]
    fn step_from_fetch<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
    ) -> Went {
        if O::EACH {
            return self.step_watched(bus, obs, cur);
        }
        let pc = cur.pc;
        if O::OBSERVED {
            self.mmu.current_pc = pc;
        }
        let before = self.marks_for::<O>();
        if O::TRIGGERS && self.execute_trigger_fires(pc) {
            return self.after_trigger(bus, obs, cur, before);
        }
        // Counted: a fetch the counted cache replays starts a fetch batch at once.
        let cached = if O::COUNTED {
            self.fetch_cached::<true>(pc)
        } else {
            self.fetch_cached::<false>(pc)
        };
        let (index, replayed) = match cached {
            Some(index) => (index, true),
            None => {
                // The full path may walk, fault and trap: nothing held back may wait.
                self.settle::<O>(cur);
                self.pc = pc;
                let index = self.fetch_or_trap(bus);
                cur.data.resume(self);
                (index, false)
            }
        };
        if index == FETCH_TRAPPED || (O::TRIGGERS && self.data_trigger_fires(index, pc)) {
            return self.after_trigger(bus, obs, cur, before);
        }
        // Successors on pc's page need no fetch if the fetch-page cache holds it. It does
        // not after a fetch from a device or across pages: such an instruction sits in
        // the scratch slot (index 0), with no page after it, and runs on its own. Traced:
        // a fetch that went through the full path (a walk, say) runs its instruction
        // through the reference step, which emits the events.
        let page = match self.fetch_pages.lookup(pc >> 12) {
            Some(page) if index != 0 && !(obs.tracer().is_some() && self.mmu.has_events()) => page,
            _ => {
                cur.left -= 1;
                return self.reference_step(bus, obs, cur, index);
            }
        };
        cur.batch.page = pc >> 12;
        // Counted: the batch holds the fetches after this one. After a fetch the full
        // path made, it opens only if the next fetch from the page would replay (the
        // loop would replay it next; this instruction cannot change the L1I or the
        // fetch context before then without leaving the batch: see `straight`), so
        // that a compiled block can start here too.
        let batch =
            O::COUNTED && (replayed || self.mmu.would_replay_fetch(pc, &self.fetch_ctx, page.1));
        if batch {
            // The budget as it will be once this first instruction is under way.
            cur.batch.from = cur.left - 1;
        }
        // Counted: compiled blocks count their fetches in the batch, so only with one
        // open.
        if O::COMPILED && self.jit.is_some() && (!O::COUNTED || batch) {
            if let Some(went) = self.enter_compiled(bus, obs, cur, index) {
                return went;
            }
        }
        self.run_page(bus, obs, cur, index, page)
    }

    /// Straight through the decoded page (`base`, at physical `page_pa`) from slot
    /// `index`, until something sends the loop back to the fetch or out.
    #[inline(always)]
    fn run_page<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        index: usize,
        page: (usize, u64),
    ) -> Went {
        match self.straight(bus, obs, cur, index, page) {
            PageExit::Fetch => Ok(()),
            PageExit::Stop(stop) => Err(stop),
            PageExit::Trap(e) => self.trap(bus, obs, cur, e),
            PageExit::Reference(index) => self.reference_step(bus, obs, cur, index),
            PageExit::Compiled(exit) => self.after_compiled(bus, obs, cur, exit),
        }
    }

    /// The loop of [`Hart::run_page`]. The pc, the budget and the fetch batch live in
    /// locals here, written back to `cur` on the way out, so that they stay in host
    /// registers: nothing inside takes their address.
    #[inline(always)]
    fn straight<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        mut index: usize,
        (base, page_pa): (usize, u64),
    ) -> PageExit {
        let (mut pc, mut left, mut batch_from) = (cur.pc, cur.left, cur.batch.from);
        let page = pc >> 12;
        // The first instruction was replayed to the MMU by its fetch.
        let mut replayed = true;
        let exit = loop {
            left -= 1;
            if O::COUNTED && batch_from == FetchBatch::NONE && !replayed {
                if !self.replay_fetch_on_page(index, pc, page_pa) {
                    left += 1;
                    break PageExit::Fetch;
                }
                batch_from = left;
            }
            replayed = false;
            // Read before executing: a store may overwrite the slot.
            let len = self.decoded.slot(index).len();
            let flow = self.exec(bus, &mut cur.data, index, pc);
            match flow {
                Flow::Next | Flow::Jump(_) | Flow::Device => {
                    self.x[0] = 0;
                    self.instret += 1;
                }
                Flow::Trap(e) => break PageExit::Trap(e),
                Flow::Refetch => {
                    left += 1;
                    break PageExit::Fetch;
                }
                Flow::Other => break PageExit::Reference(index),
            }
            match flow {
                Flow::Jump(target) => {
                    pc = target;
                    if left == 0 {
                        break PageExit::Stop(RunStop::Budget);
                    }
                    if target >> 12 != page {
                        break PageExit::Fetch;
                    }
                    index = DecodeCache::index(base, (target >> 1) as usize);
                    if O::COMPILED && self.jit.is_some() {
                        // Counted: with the target's fetch replayed, as the top of the
                        // loop would (then the batch counts it and what follows).
                        if O::COUNTED && batch_from == FetchBatch::NONE {
                            if !self.replay_fetch_on_page(index, pc, page_pa) {
                                continue;
                            }
                            batch_from = left - 1;
                        }
                        let batch = FetchBatch {
                            from: batch_from,
                            page,
                        };
                        let counting = cur.data.counting(batch);
                        if let Some(exit) = self.run_block(index, pc, left, bus, counting) {
                            break PageExit::Compiled(exit);
                        }
                    }
                }
                Flow::Device => {
                    // A device saw the store: the machine must look now.
                    pc = pc.wrapping_add(len);
                    self.pc = pc;
                    self.emit_retired(bus, obs);
                    break PageExit::Stop(RunStop::Yield);
                }
                _ => {
                    pc = pc.wrapping_add(len);
                    if obs.tracer().is_some() && self.mmu.has_events() {
                        self.pc = pc;
                        self.emit_retired(bus, obs);
                    }
                    if left == 0 {
                        break PageExit::Stop(RunStop::Budget);
                    }
                    index += (len >> 1) as usize;
                    if O::COMPILED
                        && self.jit.is_some()
                        && !(O::COUNTED && batch_from == FetchBatch::NONE)
                    {
                        let batch = FetchBatch {
                            from: batch_from,
                            page,
                        };
                        let counting = cur.data.counting(batch);
                        let exit = self.run_block_if_compiled(index, pc, left, bus, counting);
                        if let Some(exit) = exit {
                            break PageExit::Compiled(exit);
                        }
                    }
                }
            }
        };
        (cur.pc, cur.left, cur.batch.from) = (pc, left, batch_from);
        exit
    }

    /// Counted runs, the first instruction of a fetch batch on the page: replay its
    /// fetch to the counted cache; false (nothing changed) when the fetch path must
    /// translate it instead, as it must for a slot not decoded yet, which the reference
    /// loop never replays.
    #[inline(always)]
    fn replay_fetch_on_page(&mut self, index: usize, pc: u64, page_pa: u64) -> bool {
        !matches!(self.decoded.slot(index).k, OpKind::Empty | OpKind::PageEnd)
            && self.mmu.replay_fetch(pc, &self.fetch_ctx, page_pa)
    }

    /// Traced: emit what the instruction that just retired caused.
    #[inline(never)]
    fn emit_retired<O: Observer>(&mut self, bus: &mut Bus, obs: &mut O) {
        if let Some(t) = obs.tracer() {
            let before = (self.instret - 1, self.privilege, self.traps_taken);
            self.emit_traced_step(bus, t, before, None);
        }
    }

    /// The fetch trapped, or a debug trigger fired (and took its trap or entered debug
    /// mode): the instruction counts against the budget, and the loop fetches again at
    /// the new pc.
    #[inline(never)]
    fn after_trigger<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        before: (u64, u8, u64),
    ) -> Went {
        if let Some(t) = obs.tracer() {
            self.emit_traced_step(bus, t, before, None);
        }
        cur.left -= 1;
        cur.pc = self.pc;
        Ok(())
    }

    /// The instruction at `cur.pc` raised `e`: take the trap, then fetch at the handler.
    #[inline(never)]
    fn trap<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        e: super::trap::Exception,
    ) -> Went {
        self.settle::<O>(cur);
        let before = self.marks_for::<O>();
        self.pc = cur.pc;
        self.raise(e);
        cur.pc = self.pc;
        if let Some(t) = obs.tracer() {
            self.emit_traced_step(bus, t, before, None);
        }
        Ok(())
    }

    /// One instruction through the reference `execute` (anything `exec` leaves alone),
    /// its events when traced, then a fresh fetch: a system instruction may have changed
    /// the translation context.
    #[inline(always)]
    fn reference_step<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        index: usize,
    ) -> Went {
        // Counted: a CSR access touches nothing of the TLB model, satp's and the PMP's
        // aside (a trap it raises changes only the context), nor does a FENCE.I; so the
        // data run stays held back across them, settled after only if the context moved
        // (Linux toggles sstatus.SIE around every critical section). The fetch batch
        // ends here as always: the next fetch opens another.
        let run_held = O::COUNTED && self.leaves_mmu_alone(index);
        if run_held {
            self.end_fetch_batch(&mut cur.batch, cur.left);
        } else {
            self.settle::<O>(cur);
        }
        if O::OBSERVED {
            self.mmu.current_pc = cur.pc;
        }
        let before = self.marks_for::<O>();
        let kind = self.decoded.slot(index).k;
        let r = self.step_reference(index, cur.pc, bus);
        if run_held {
            cur.data.settle_if_moved(self);
        }
        if let Some(t) = obs.tracer() {
            if let Ok(n) = r {
                self.pc = n;
            }
            self.emit_traced_step(bus, t, before, Some(kind));
        }
        match r {
            Ok(n) => {
                cur.pc = n;
                Ok(())
            }
            Err(stop) => {
                cur.pc = self.pc;
                Err(stop)
            }
        }
    }

    /// `--jit`: at a block entry on a cached page, run the compiled block (and those it
    /// chains to) instead of the loop. None when no block is ready there.
    #[inline(always)]
    fn enter_compiled<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        index: usize,
    ) -> Option<Went> {
        let exit = self.run_block(index, cur.pc, cur.left, bus, cur.data.counting(cur.batch))?;
        Some(self.after_compiled(bus, obs, cur, exit))
    }

    /// Compiled blocks ran from `cur.pc`: count what they retired; an instruction they
    /// left pending runs through the reference step.
    #[inline(always)]
    fn after_compiled<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        exit: BlockExit,
    ) -> Went {
        cur.left -= exit.retired;
        cur.pc = exit.pc;
        if O::COUNTED {
            cur.batch = exit.batch;
        }
        match exit.pending {
            Some(index) => {
                cur.left -= 1;
                if let Some(e) = exit.fault {
                    return self.trap(bus, obs, cur, e);
                }
                if self.decoded.slot(index).k.is_atomic()
                    && self.pending_atomic(bus, obs, cur, index)
                {
                    return Ok(());
                }
                self.reference_step(bus, obs, cur, index)
            }
            None => Ok(()),
        }
    }

    /// An LR, SC or AMO a block left pending, through the loop's data path when it
    /// serves the access (see [`Hart::exec`]): then no held-back accounting needs
    /// settling, as it would before the reference step. False, having changed nothing,
    /// otherwise.
    #[inline(never)]
    fn pending_atomic<O: Observer>(
        &mut self,
        bus: &mut Bus,
        obs: &mut O,
        cur: &mut Cursor<O::Data>,
        index: usize,
    ) -> bool {
        if self.exec(bus, &mut cur.data, index, cur.pc) != Flow::Next {
            return false;
        }
        self.x[0] = 0;
        self.instret += 1;
        cur.pc = cur.pc.wrapping_add(4);
        if obs.tracer().is_some() && self.mmu.has_events() {
            self.pc = cur.pc;
            self.emit_retired(bus, obs);
        }
        true
    }

    /// Instruction count, privilege and trap count: what a traced step is compared with.
    #[inline(always)]
    fn marks(&self) -> (u64, u8, u64) {
        (self.instret, self.privilege, self.traps_taken)
    }

    /// [`Hart::marks`] when the observer may use them.
    #[inline(always)]
    fn marks_for<O: Observer>(&self) -> (u64, u8, u64) {
        if O::MAY_TRACE {
            self.marks()
        } else {
            (0, 0, 0)
        }
    }

    /// Is the op at decode-cache `index` one the reference step runs without touching
    /// the MMU but for its context: a FENCE.I, or an access to any CSR but satp and the
    /// PMP's?
    #[inline(always)]
    fn leaves_mmu_alone(&self, index: usize) -> bool {
        let op = self.decoded.op(index);
        let number = (op.imm as u32 & 0xfff) as u16;
        op.k == OpKind::FenceI
            || op.csr_writes().is_some()
                && number != csr::SATP
                && !(csr::PMPCFG0..=csr::PMPADDR63).contains(&number)
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

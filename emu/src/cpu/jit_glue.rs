//! `--jit`, the hart's side: finding, compiling and running blocks from the
//! straight-through loop (`run_loop.rs`).
//!
//! Generated code touches RAM only through a data-page cache hit (the same tables
//! `load_fast`/`store_fast` use). On a miss, quick code and Cranelift's blocks call
//! [`data_miss`] (the latter through `jit::preserving_call`), which does what
//! `load_fast`/`store_fast` do then: translate through the MMU's full path and cache the
//! page when it is plain RAM that passed every check for the whole page. Anything else
//! leaves the block before the instruction without a side effect a guest can see, and
//! the run loop executes it with its reference step, exactly as the interpreter would
//! have: through `Hart::load`/`store` and the same trap, MMIO and yield handling.
//!
//! Counted runs (`--stats`, `--trace walk`) have their own [`Jit`] of the counted flavour
//! (`jit::CountedLayout`): its blocks count data accesses in the loop's [`CountedRun`]
//! (the environment points at it) and call [`counted_miss`] for the rest, which joins
//! the page to the run as `load_counted`/`store_counted` do when it may join as plain
//! RAM; anything else leaves the block before the instruction, for the reference step,
//! which settles the run and accounts the access as the interpreter would. Fetches are
//! counted in fetch batches: the loop enters a chain only with a batch open on the
//! chain's page, so the budget the blocks use up counts their fetches. A chain that goes
//! on to another page through the jump cache counts the fetches so far by the L1I slot
//! they hit, in the hart's [`FetchRun`], when the entry's word ([`Mmu::fetch_word`], made
//! where `run_blocks` fills the entry) says which slot the target's fetch hits alone; on
//! any other page change `run_blocks` accounts the fetches (`Mmu::settle_fetch_run`, or
//! the batch alone when the chain never left its slot) and replays the next page's
//! first fetch, as the loop would, before going on there. When the blocks return, the
//! loop gets the batch back only when the chain never left it.

use std::mem::{offset_of, MaybeUninit};

use crate::bus::Bus;
use crate::cpu::data_path::{cacheable_page, end_fetch_batch, join_counted_run};
use crate::cpu::decode::{decode, OpKind};
use crate::cpu::decode_cache::{self, DecodeCache};
use crate::cpu::trap::Exception;
use crate::cpu::Hart;
use crate::jit::{
    Block, CountedLayout, Entry, EnvLayout, Insn, Jit, MissCall, EXIT_BEFORE, MAX_BLOCK,
    NO_DECODED_PAGE,
};
use crate::mmu::page_caches::{
    CountedRun, DataTlb, DtlbEntry, FetchBatch, FetchRun, RunPage, DTLB_SLOTS, RUN_PAGES,
};
use crate::mmu::{AccessType, Mmu, TranslateCtx};

/// What generated code reads and writes besides the registers.
#[repr(C)]
struct Env {
    /// The flavour's miss function and the access it is called for (`jit::EnvLayout`
    /// wants it first).
    miss: MissCall,
    /// Where to resume after the block (written by generated code).
    pc: u64,
    /// The link cell a chainable exit names (number + 1), or 0 (written by generated code).
    link: u64,
    /// Read by generated code for its inline data-page cache lookup and RAM access.
    load_table: *const DtlbEntry,
    store_table: *const DtlbEntry,
    ram: *mut u8,
    page_map: *const u32,
    page_map_len: u64,
    /// The jump cache and the epoch the run is in (read by generated code).
    jump_cache: *const u8,
    jump_epoch: u64,
    /// The decode-cache slot of the instruction an exit left pending (written by
    /// generated code).
    pending_slot: u64,
    /// Set only for blocks of the counted flavour, the only code that reads it (the
    /// unobserved loop does not pay for filling it).
    counted: MaybeUninit<CountedEnv>,
    /// Set only for blocks of the unobserved flavour, the only code that reads it.
    data: MaybeUninit<DataMissEnv>,
}

/// May a block's store reach the RAM page at offset `off`: is it in the decode cache's
/// page map (`page_map`, `len` entries, see `Env`) without decoded code
/// (`jit::NO_DECODED_PAGE`)?
fn may_store_to(page_map: *const u32, len: u64, off: usize) -> bool {
    let at = off >> 12;
    // SAFETY: `at` is checked against the page map's length; `run_blocks` took the map
    // from the decode cache, which is not resized while blocks run.
    at < len as usize && unsafe { *page_map.add(at) } == NO_DECODED_PAGE
}

/// The unobserved flavour's part of [`Env`]: what [`data_miss`] needs.
#[repr(C)]
struct DataMissEnv {
    mmu: *mut Mmu,
    bus: *mut Bus,
    dtlb: *mut DataTlb,
    data_ctx: TranslateCtx,
    /// The exception the last call's translation raised (the block then leaves before
    /// the instruction, and the run loop takes the trap without translating again).
    fault: Option<Exception>,
}

/// The unobserved flavour's data-page cache miss (see `jit::EnvLayout::data_miss`):
/// what `load_fast`/`store_fast` do on a miss, in the middle of generated code. The
/// access is translated through the MMU's full path; when the MMU's fast path then holds
/// the page (it passed every check for the whole page) and it is plain RAM, for a store
/// one without decoded code, the page goes into the data-page cache and the result is the
/// host address of the bytes. Otherwise 0: the block leaves before the instruction and
/// the run loop takes the trap the translation raised (`fault`), so that a faulting
/// access reaches the TLB model once whichever tier runs it, or the reference step takes
/// the access again (a device or a store to decoded code, which the MMU's fast path
/// now holds; a page whose PMP decision is not the whole page's, which the model then
/// looks up a second time).
/// Without this, each miss left the block and came back through the run loop: after
/// each of test_bpf's 831 k fences of everything, for every page in use.
extern "C" fn data_miss(env: *mut u8, va: u64, size: u64, store: u64, _pc: u64) -> u64 {
    // SAFETY: generated code of the unobserved flavour passes the environment
    // `run_blocks` gave it, with its data part set, whose pointers are valid for the
    // whole call: the MMU, the bus and the data-page cache are not otherwise used while
    // a block runs (generated code reads the cache's tables only between calls), and
    // RAM and the page map are not resized.
    let env = unsafe { &mut *(env as *mut Env) };
    // SAFETY: as above.
    let d = unsafe { env.data.assume_init_mut() };
    // SAFETY: as above.
    let (mmu, bus, dtlb) = unsafe { (&mut *d.mmu, &mut *d.bus, &mut *d.dtlb) };
    if (va & 0xfff) + size > 0x1000 {
        return 0;
    }
    let access = AccessType::data(store != 0);
    if let Err(e) = mmu.translate(va, access, &d.data_ctx, bus) {
        d.fault = Some(e);
        return 0;
    }
    // A store to decoded code is the interpreter's, which drops what was decoded.
    let (page_map, len) = (env.page_map, env.page_map_len);
    let has_code = |off| !may_store_to(page_map, len, off);
    let Some(off) = cacheable_page(mmu, bus, &d.data_ctx, va, access, has_code) else {
        return 0;
    };
    dtlb.insert(store != 0, va >> 12, off);
    (env.ram as u64).wrapping_add(off as u64 + (va & 0xfff))
}

/// The counted flavour's part of [`Env`]: the loop's data run, which generated code
/// extends, and what [`counted_miss`] needs to account the accesses outside it.
#[repr(C)]
struct CountedEnv {
    run: *mut CountedRun,
    /// The hart's fetch run (see `FetchRun`), which counted exits extend.
    fetch_run: *mut FetchRun,
    mmu: *mut Mmu,
    bus: *const Bus,
    data_ctx: TranslateCtx,
}

/// The counted flavour's data access outside the run (see `jit::CountedLayout`): what
/// `load_counted`/`store_counted` do when the page may join the run (a counted-cache
/// hit on plain RAM, for a store one without decoded code): join it, count the access
/// and return the host address of the bytes. Otherwise 0, having changed nothing: the
/// block leaves before the instruction and the reference step ends the run and takes
/// the access through the full path.
extern "C" fn counted_miss(env: *mut u8, va: u64, size: u64, store: u64, pc: u64) -> u64 {
    // SAFETY: generated code of the counted flavour passes the environment `run_blocks`
    // gave it, with its counted part set, and whose pointers are valid for the whole
    // call: the MMU, the bus and the loop's run are not otherwise used while a block
    // runs, RAM and the page map are not resized.
    let env = unsafe { &mut *(env as *mut Env) };
    // SAFETY: as above.
    let c = unsafe { env.counted.assume_init_mut() };
    // SAFETY: as above.
    let (mmu, bus, run) = unsafe { (&mut *c.mmu, &*c.bus, &mut *c.run) };
    if (va & 0xfff) + size > 0x1000 {
        return 0;
    }
    let store = store != 0;
    // A store to decoded code must drop what was decoded from the bytes it changes: the
    // interpreter's path does.
    let (page_map, len) = (env.page_map, env.page_map_len);
    let no_code = |off: usize, store: bool| !store || may_store_to(page_map, len, off);
    mmu.current_pc = pc;
    let Some(at) = join_counted_run(mmu, bus, &c.data_ctx, run, va, store, no_code) else {
        return 0;
    };
    (env.ram as u64).wrapping_add(at as u64)
}

/// A counted run's accounting the counted flavour's blocks extend: the loop's data run
/// and its fetch batch.
pub(in crate::cpu) struct Counting<'a> {
    pub run: &'a mut CountedRun,
    pub batch: FetchBatch,
}

/// How a block run ended, for the run loop.
pub(in crate::cpu) struct BlockExit {
    /// Instructions retired by the block.
    pub retired: u64,
    /// Where to carry on.
    pub pc: u64,
    /// `Some(slot)`: the instruction at `pc` (decode-cache slot) was not executed and
    /// must run in the interpreter next.
    pub pending: Option<usize>,
    /// Unobserved: the exception the pending instruction's access raised when
    /// [`data_miss`] translated it; the trap is taken instead of the step.
    pub fault: Option<Exception>,
    /// Counted: the fetch batch now open (another page's when the blocks went on there).
    pub batch: FetchBatch,
}

impl Hart {
    /// Turn the JIT on (`--jit`), compiling a block once it was entered `hot` times,
    /// with quick code from `quick` entries on (0: none); a no-op with
    /// `--no-fast-path` or when Cranelift does not support the host.
    pub fn enable_jit(&mut self, hot: u32, quick: u32) {
        if !self.fast_path {
            return;
        }
        self.jit = Jit::new(env_layout(false), hot, decode_cache::MAX_SLOTS).map(Box::new);
        if let Some(jit) = self.jit.as_deref_mut() {
            jit.enable_quick(quick);
        }
        self.counted_jit = None;
    }

    /// The compiled blocks of the counted flavour (`counted`) or the unobserved one; the
    /// counted `Jit` is made at the first counted run that looks for a block.
    #[inline(always)]
    fn jit_for(&mut self, counted: bool) -> Option<&mut Jit> {
        if !counted {
            return self.jit.as_deref_mut();
        }
        if self.counted_jit.is_none() {
            self.make_counted_jit();
        }
        self.counted_jit.as_deref_mut()
    }

    #[cold]
    fn make_counted_jit(&mut self) {
        if let Some((hot, quick)) = self.jit.as_deref().map(|j| (j.hot(), j.quick_hot())) {
            self.counted_jit =
                Jit::new(env_layout(true), hot, decode_cache::MAX_SLOTS).map(Box::new);
            if let Some(jit) = self.counted_jit.as_deref_mut() {
                jit.enable_quick(quick);
            }
        }
    }

    /// What compiling cost so far, both flavours (None without `--jit`).
    pub fn jit_stats(&self) -> Option<crate::jit::JitStats> {
        let mut stats = self.jit.as_ref()?.stats;
        if let Some(counted) = self.counted_jit.as_deref() {
            stats = stats.plus(&counted.stats);
        }
        Some(crate::jit::JitStats {
            pages_given_up: self.decoded.pages_given_up(),
            ..stats
        })
    }

    /// At a block entry (decode-cache slot `index`, not the scratch slot, with the page
    /// in the fetch-page cache): run its compiled block if there is a current one and
    /// `left` covers all of it, then straight on into the next compiled block while there
    /// is one; otherwise count the visit and compile when hot. None when nothing ran.
    ///
    /// `run`: a counted run's data run (the counted flavour runs; see the module
    /// comment), None in the unobserved loop.
    #[inline(always)]
    pub(in crate::cpu) fn run_block(
        &mut self,
        index: usize,
        pc: u64,
        left: u64,
        bus: &mut Bus,
        counting: Option<Counting>,
    ) -> Option<BlockExit> {
        let counted = counting.is_some();
        let jit = self.jit_for(counted)?;
        let block = match jit.entry(index) {
            Entry::Compiled(b) if b.quick && jit.take_due(&b) => {
                // Quick code that stayed hot: on to Cranelift (it runs meanwhile).
                self.compile_block(counted, index, pc & 0xfff, bus);
                self.jit_for(counted)?.compiled(index)?
            }
            Entry::Compiled(b) => b,
            Entry::Cold => return None,
            Entry::Warm => {
                self.compile_quick(counted, index, bus);
                self.jit_for(counted)?.compiled(index)?
            }
            Entry::Hot => {
                // Run it at once if it was compiled here (a low `--jit-hot`): code
                // that runs only once (as in the conformance programs) still goes
                // through the compiler. Sent to the compile thread, it is not ready yet.
                self.compile_block(counted, index, pc & 0xfff, bus);
                self.jit_for(counted)?.compiled(index)?
            }
        };
        self.enter_block(block, index, pc, left, bus, counting)
    }

    /// Within a run of the interpreter on a page: run the compiled block that starts at
    /// slot `index` (at `pc`), if there is one, as [`Hart::run_block`] would, without
    /// counting a visit in the table (a quick block still counts its own entry). A run
    /// the interpreter started in the middle of a block (where the last quantum ended,
    /// or after an instruction the block left to the reference step) goes back to
    /// compiled code at the next block's start instead of interpreting up to the next
    /// jump. Counted runs: only with a fetch batch open on the page.
    #[inline(always)]
    pub(in crate::cpu) fn run_block_if_compiled(
        &mut self,
        index: usize,
        pc: u64,
        left: u64,
        bus: &mut Bus,
        counting: Option<Counting>,
    ) -> Option<BlockExit> {
        let jit = match counting {
            Some(_) => self.counted_jit.as_deref(),
            None => self.jit.as_deref(),
        };
        let block = jit?.compiled(index)?;
        self.enter_block(block, index, pc, left, bus, counting)
    }

    /// Run `block`, found at slot `index` for `pc`, if it is current and `left` covers
    /// it (see [`Hart::run_block`]).
    #[inline(always)]
    fn enter_block(
        &mut self,
        block: Block,
        index: usize,
        pc: u64,
        left: u64,
        bus: &mut Bus,
        counting: Option<Counting>,
    ) -> Option<BlockExit> {
        let counted = counting.is_some();
        let version = self.decoded.version(index);
        let jit = self.jit_for(counted)?;
        if block.version != version {
            jit.forget(index);
            return None;
        }
        if left < block.len {
            return None;
        }
        let (generation, changes) = (self.mmu.generation(), self.decoded.changes());
        let privilege = self.privilege;
        let jit = self.jit_for(counted)?;
        let jump_epoch = jit.jump_epoch(generation, changes, privilege);
        if counting.is_none() {
            // The loop found this block through the fetch path: a jump here that
            // missed the jump cache (its page was not in the fetch-page cache) finds it
            // next time. (Only the counted flavour reads an entry's fetch word.)
            jit.remember_jump(pc, jump_epoch, &block, FetchRun::NEVER);
        }
        Some(match counting {
            Some(c) => self.run_blocks::<true>(block, pc, left, jump_epoch, bus, Some(c)),
            None => self.run_blocks::<false>(block, pc, left, jump_epoch, bus, None),
        })
    }

    /// Run `block` (entered at pc `pc`) and the compiled blocks that follow it, in jump
    /// epoch `jump_epoch` (nothing a block does moves it).
    /// Generated code goes from block to block through filled link cells and the jump
    /// cache; when it returns, this is what the run loop would do: find the next pc's
    /// slot through the fetch-page cache (no interrupt check happens in between, only
    /// the budget's, as the loop would), and link the exit it left by to that block: its
    /// cell when it named one, else the jump cache (for the counted flavour with the
    /// word saying which L1I slot the block's fetch hits).
    /// `COUNTED` (`counting` given): the counted flavour. Its blocks count fetches in
    /// the batch, and in the hart's fetch run across pages; on a page change left to
    /// this, it does what the loop would: the fetches are accounted and the next page's
    /// first fetch replayed to the MMU, opening the next batch (only when a block is
    /// ready there, so that it runs at once).
    fn run_blocks<const COUNTED: bool>(
        &mut self,
        mut block: Block,
        mut pc: u64,
        mut left: u64,
        jump_epoch: u64,
        bus: &mut Bus,
        counting: Option<Counting>,
    ) -> BlockExit {
        let mut page = pc >> 12;
        let (run, mut batch) = match counting {
            Some(c) => (Some(c.run), c.batch),
            None => (
                None,
                FetchBatch {
                    from: FetchBatch::NONE,
                    page,
                },
            ),
        };
        let page_map = self.decoded.page_map();
        let (page_map, page_map_len) = (page_map.as_ptr(), page_map.len() as u64);
        let ram = bus.ram.as_mut_slice().as_mut_ptr();
        let jit = if COUNTED {
            self.counted_jit.as_deref_mut()
        } else {
            self.jit.as_deref_mut()
        };
        let Some(jit) = jit else {
            return BlockExit {
                retired: 0,
                pc,
                pending: None,
                fault: None,
                batch,
            };
        };
        let jump_cache = jit.jump_cache();
        let mut env = Env {
            miss: MissCall {
                function: if COUNTED { counted_miss } else { data_miss },
                va: 0,
                size: 0,
                store: 0,
                pc: 0,
                result: 0,
            },
            pc: 0,
            link: 0,
            load_table: self.dtlb.load.as_ptr(),
            store_table: self.dtlb.store.as_ptr(),
            ram,
            page_map,
            page_map_len,
            jump_cache,
            jump_epoch,
            pending_slot: 0,
            counted: MaybeUninit::uninit(),
            data: MaybeUninit::uninit(),
        };
        if !COUNTED {
            env.data.write(DataMissEnv {
                mmu: &mut self.mmu,
                bus: &mut *bus,
                dtlb: &mut *self.dtlb,
                data_ctx: self.data_ctx,
                fault: None,
            });
        }
        if COUNTED {
            // The loop enters a counted chain only with a batch open on its page.
            debug_assert!(batch.from != FetchBatch::NONE);
            self.mmu.sync_fetch_run(&mut self.fetch_run);
            self.fetch_run.open(batch.from);
            env.counted.write(CountedEnv {
                run: run.map_or(std::ptr::null_mut(), |run| run as *mut CountedRun),
                fetch_run: &mut *self.fetch_run,
                mmu: &mut self.mmu,
                bus: &*bus,
                data_ctx: self.data_ctx,
            });
        }
        let mut retired = 0;
        loop {
            let budget = left.min(u32::MAX as u64);
            // SAFETY: `block` is current (its version was checked) and was compiled for
            // pc's page; `x` points to the 32 registers, which generated code reads and
            // writes only at offsets 8..256; `env` outlives the call and holds what the
            // inline RAM path and `counted_miss` use: tables, RAM, the page map, the jump
            // cache, the MMU and the bus, none of which is resized or otherwise used
            // while a block runs.
            let result = unsafe {
                jit.run(
                    &block,
                    self.x.as_mut_ptr(),
                    &mut env as *mut Env as *mut u8,
                    pc,
                    budget,
                )
            };
            let n = budget - (result & 0xffff_ffff);
            retired += n;
            left -= n;
            if result & EXIT_BEFORE != 0 {
                let pending = env.pending_slot as usize;
                jit.stats.retired += retired;
                self.instret += retired;
                if COUNTED {
                    // The pending instruction was fetched too, from the current slot's
                    // page: the loop would count its fetch in the batch.
                    let (mmu, run) = (&mut self.mmu, &mut *self.fetch_run);
                    end_fetches(mmu, run, &self.fetch_ctx, &mut batch, (left - 1, false));
                }
                return BlockExit {
                    retired,
                    pc: env.pc,
                    pending: Some(pending),
                    fault: if COUNTED {
                        None
                    } else {
                        // SAFETY: written above for the unobserved flavour.
                        unsafe { env.data.assume_init_mut() }.fault.take()
                    },
                    batch,
                };
            }
            pc = env.pc;
            let next = self.fetch_pages.lookup(pc >> 12).and_then(|(base, pa)| {
                let i = DecodeCache::index(base, (pc >> 1) as usize);
                let b = jit.compiled(i)?;
                (b.version == self.decoded.version(i) && left >= b.len).then_some((b, pa))
            });
            // Quick code due for Cranelift: back to the loop, whose entry sends it.
            let next = next.filter(|(b, _)| !(b.quick && jit.due(b)));
            if COUNTED && self.fetch_run.moved() {
                // A counted exit took the chain to the page it began on.
                page = self.fetch_run.at >> 12;
            }
            let next = match next {
                Some((b, pa)) if COUNTED && pc >> 12 != page => {
                    // The fetches so far, then the next page's first, which must replay,
                    // or the loop's fetch path takes over.
                    let (mmu, run) = (&mut self.mmu, &mut *self.fetch_run);
                    end_fetches(mmu, run, &self.fetch_ctx, &mut batch, (left, true));
                    if !self.mmu.replay_fetch(pc, &self.fetch_ctx, pa) {
                        break;
                    }
                    page = pc >> 12;
                    batch = FetchBatch {
                        from: left - 1,
                        page,
                    };
                    self.fetch_run.open(left - 1);
                    // The cell named is on the page the chain left.
                    env.link = 0;
                    Some((b, pa))
                }
                next => next,
            };
            match next {
                Some((b, pa)) => {
                    if env.link != 0 {
                        jit.link(env.link, &b);
                        // Quick code does not write it.
                        env.link = 0;
                    } else {
                        let fetch = if COUNTED {
                            self.mmu.fetch_word(pc, &self.fetch_ctx, pa)
                        } else {
                            FetchRun::NEVER
                        };
                        jit.remember_jump(pc, jump_epoch, &b, fetch);
                    }
                    block = b;
                }
                None => break,
            }
        }
        if COUNTED {
            // The loop goes on with a batch of the current page's fetches only.
            let (mmu, run) = (&mut self.mmu, &mut *self.fetch_run);
            end_fetches(mmu, run, &self.fetch_ctx, &mut batch, (left, false));
        }
        jit.stats.retired += retired;
        self.instret += retired;
        BlockExit {
            retired,
            pc,
            pending: None,
            fault: None,
            batch,
        }
    }

    /// Compile the block entered at `index` for the counted flavour's `Jit` (`counted`)
    /// or the unobserved one.
    #[cold]
    fn compile_block(&mut self, counted: bool, index: usize, page_offset: u64, bus: &Bus) {
        // A released page (see `DecodeCache::release`) may still be run to its end by
        // the loop: nothing is compiled from it, since stores no longer reach it.
        if !self.decoded.is_current(index) {
            return;
        }
        if self.decoded.compiling_given_up(index) {
            if let Some(jit) = self.jit_for(counted) {
                jit.give_up(index);
            }
            return;
        }
        let insns = self.block_insns(index, bus, true);
        let version = self.decoded.version(index);
        if let Some(jit) = self.jit_for(counted) {
            if jit.compile(index, page_offset, &insns, version) {
                self.decoded.note_compiled(index);
            }
        }
    }

    /// Give the block entered at `index` quick code, of the counted flavour (`counted`)
    /// or the unobserved one.
    #[cold]
    fn compile_quick(&mut self, counted: bool, index: usize, bus: &Bus) {
        if !self.decoded.is_current(index) || self.decoded.compiling_given_up(index) {
            return;
        }
        let insns = self.block_insns(index, bus, false);
        let version = self.decoded.version(index);
        if let Some(jit) = self.jit_for(counted) {
            if jit.compile_quick(index, &insns, version) {
                self.decoded.note_compiled(index);
            }
        }
    }

    /// The instructions of the block entered at `index`, as the compiler takes them: up
    /// to the first it does not compile, or the first jump. With `past_jumps` (Cranelift's
    /// blocks, which jump inside themselves), a jump ends the block only when no branch
    /// or jump so far, that one included, leads further on: what follows may then be
    /// reached from inside the block (the other arm of an `if`/`else`, the code after a
    /// call that a branch skips to, a forward jump's target), and compiling it there
    /// saves a chain hop into another block. Code in between that nothing reaches is
    /// not compiled (see `Translator::block`).
    pub(in crate::cpu) fn block_insns(
        &mut self,
        index: usize,
        bus: &Bus,
        past_jumps: bool,
    ) -> Vec<Insn> {
        let mut insns = Vec::with_capacity(MAX_BLOCK);
        let mut at = index;
        // The furthest target of a relative branch or jump so far, in bytes from the entry.
        let mut furthest = 0i64;
        while insns.len() < MAX_BLOCK {
            if self.decoded.slot(at).k == OpKind::Empty {
                self.decode_ahead(at, bus);
            }
            let s = self.decoded.slot(at);
            if !s.k.jit_compiles() {
                break;
            }
            insns.push(Insn {
                k: s.k,
                rd: s.rd() as u8,
                rs1: s.rs1,
                rs2: s.rs2,
                imm: s.imm,
                len: s.len() as u8,
            });
            // Slots are two bytes apart.
            let offset = 2 * (at - index) as i64;
            if s.k.jumps_relative() {
                furthest = furthest.max(offset.wrapping_add(s.imm as i64));
            }
            if s.k.ends_jit_block() && !(past_jumps && furthest > offset) {
                break;
            }
            at += (s.len() >> 1) as usize;
        }
        insns
    }

    /// Install the blocks the compile thread finished (once per run quantum, outside any
    /// block); those whose page's code changed while they compiled are dropped.
    #[inline(always)]
    pub(in crate::cpu) fn install_compiled_blocks(&mut self) {
        let decoded = &self.decoded;
        for jit in [self.jit.as_deref_mut(), self.counted_jit.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            jit.install_ready(|index| decoded.version(index));
        }
    }

    /// Decode the not yet decoded slot `at` from RAM, as a fetch there would, so a block
    /// can extend past code not run yet. Only the decode cache changes (it is kept
    /// coherent with stores like any decoded slot); a page-crossing instruction is left
    /// for the fetch path.
    fn decode_ahead(&mut self, at: usize, bus: &Bus) {
        let (off, last) = self.decoded.ram_offset_of(at);
        let ram = bus.ram.as_slice();
        let Some(lo) = ram.get(off..off + 2) else {
            return;
        };
        let lo = u16::from_le_bytes([lo[0], lo[1]]) as u32;
        let word = if lo & 3 != 3 {
            lo
        } else if last {
            return;
        } else {
            match ram.get(off + 2..off + 4) {
                Some(hi) => lo | (u16::from_le_bytes([hi[0], hi[1]]) as u32) << 16,
                None => return,
            }
        };
        self.decoded.set(at, decode(word));
    }
}

/// Counted runs: when chains went on from `batch`'s slot, account the fetches since it
/// opened, up to budget `left`, and close it; otherwise the batch alone holds them,
/// accounted here too when `batch_too`.
fn end_fetches(
    mmu: &mut Mmu,
    run: &mut FetchRun,
    ctx: &TranslateCtx,
    batch: &mut FetchBatch,
    (left, batch_too): (u64, bool),
) {
    if run.moved() {
        mmu.settle_fetch_run(run, batch.page << 12, ctx, left);
        batch.from = FetchBatch::NONE;
    } else if batch_too {
        end_fetch_batch(mmu, ctx, batch, left);
    }
}

/// The counted flavour's layout for an environment holding pointers to a [`CountedRun`]
/// and a [`FetchRun`] at byte offsets `run` and `fetch_run`.
pub(crate) fn counted_layout(run: usize, fetch_run: usize) -> CountedLayout {
    CountedLayout {
        run: run as i32,
        fetch_run: fetch_run as i32,
        fetch_versions: offset_of!(FetchRun, versions) as i32,
        fetch_n: offset_of!(FetchRun, n) as i32,
        fetch_last: offset_of!(FetchRun, last) as i32,
        fetch_touched: offset_of!(FetchRun, touched) as i32,
        fetch_cur: offset_of!(FetchRun, cur) as i32,
        fetch_cur_word: offset_of!(FetchRun, cur_word) as i32,
        fetch_from: offset_of!(FetchRun, from) as i32,
        fetch_at: offset_of!(FetchRun, at) as i32,
        pages: offset_of!(CountedRun, pages) as i32,
        page_shift: size_of::<RunPage>().trailing_zeros() as u8,
        page_mask: RUN_PAGES as u64 - 1,
        seq: offset_of!(CountedRun, seq) as i32,
        page_tags: offset_of!(RunPage, tags) as i32,
        page_addend: offset_of!(RunPage, addend) as i32,
        page_n: offset_of!(RunPage, n) as i32,
        page_last: offset_of!(RunPage, last) as i32,
    }
}

/// Where generated code finds the fields of [`Env`]; `counted`: the counted flavour.
fn env_layout(counted: bool) -> EnvLayout {
    let counted_at = offset_of!(Env, counted);
    let run = counted_at + offset_of!(CountedEnv, run);
    let fetch_run = counted_at + offset_of!(CountedEnv, fetch_run);
    EnvLayout {
        pc_offset: offset_of!(Env, pc) as i32,
        link_offset: offset_of!(Env, link) as i32,
        load_table_offset: offset_of!(Env, load_table) as i32,
        store_table_offset: offset_of!(Env, store_table) as i32,
        ram_offset: offset_of!(Env, ram) as i32,
        page_map_offset: offset_of!(Env, page_map) as i32,
        page_map_len_offset: offset_of!(Env, page_map_len) as i32,
        jump_cache_offset: offset_of!(Env, jump_cache) as i32,
        jump_epoch_offset: offset_of!(Env, jump_epoch) as i32,
        pending_slot_offset: offset_of!(Env, pending_slot) as i32,
        table_slots: DTLB_SLOTS as u64,
        counted: counted.then(|| counted_layout(run, fetch_run)),
        data_miss: !counted,
    }
}

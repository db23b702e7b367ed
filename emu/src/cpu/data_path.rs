//! How loads and stores reach memory: the [`DataPath`]s that instantiate the one body of
//! [`Hart::exec`](super::semantics), and the hart's side of its data-page caches
//! ([`crate::mmu::page_caches`]).

use super::decode_cache::DecodeCache;
use super::jit_glue::Counting;
use super::trap::Exception;
use super::{read_le, write_le, Hart};
use crate::bus::Bus;
use crate::mmu::page_caches::{CountedRun, DataTlb, FetchBatch};
use crate::mmu::{AccessType, Mmu, TranslateCtx};

/// How loads and stores reach memory; `pc` is the instruction's, for the MMU's reports.
pub(super) trait DataPath {
    fn load(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        pc: u64,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception>;
    /// Account whatever the path held back (counted runs); before anything else can
    /// touch the MMU.
    fn settle(&mut self, _hart: &mut Hart) {}
    /// After an instruction that touched no part of the MMU but its context (see
    /// `Hart::reference_step`) ran with what the path holds back still held: settle
    /// only if that context changed.
    fn settle_if_moved(&mut self, _hart: &mut Hart) {}
    /// After a [`DataPath::settle`] and whatever followed it, before the path's next
    /// access: forget what no longer holds.
    fn resume(&mut self, _hart: &mut Hart) {}
    /// The counted path's run with fetch batch `batch`, which compiled blocks of the
    /// counted flavour extend; None on the other paths.
    #[inline(always)]
    fn counting(&mut self, _batch: FetchBatch) -> Option<Counting<'_>> {
        None
    }
    /// `Ok(true)` when the store went to a device.
    fn store(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        pc: u64,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception>;
    /// The RAM offset of an aligned atomic access of `size` bytes at `va`, a load
    /// (LR) or a `store` (SC, AMO), accounted as the reference path's one translation
    /// of it would be, when this path serves it from RAM without a fault; None, having
    /// changed nothing, otherwise (the reference path then runs the instruction).
    #[inline(always)]
    fn atomic(
        &mut self,
        _hart: &mut Hart,
        _bus: &mut Bus,
        _pc: u64,
        _va: u64,
        _size: u64,
        _store: bool,
    ) -> Option<usize> {
        None
    }
}

/// Every access through the MMU's translate (its fast path, TLB model or walk).
pub(super) struct Reference;

impl DataPath for Reference {
    #[inline(always)]
    fn load(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        _pc: u64,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception> {
        hart.load(bus, va, size)
    }

    #[inline(always)]
    fn store(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        _pc: u64,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        hart.store(bus, va, size, value)
    }
}

/// The hart's data-page cache first (unobserved runs).
pub(super) struct Cached;

impl DataPath for Cached {
    #[inline(always)]
    fn load(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        _pc: u64,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception> {
        hart.load_fast(bus, va, size)
    }

    #[inline(always)]
    fn store(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        _pc: u64,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        hart.store_fast(bus, va, size, value)
    }

    #[inline(always)]
    fn atomic(
        &mut self,
        hart: &mut Hart,
        _bus: &mut Bus,
        _pc: u64,
        va: u64,
        size: u64,
        store: bool,
    ) -> Option<usize> {
        // A page the store table holds is writable, so readable, and has no decoded
        // code: an SC or AMO needs nothing more.
        let table = if store {
            &hart.dtlb.store
        } else {
            &hart.dtlb.load
        };
        DataTlb::lookup(table, va, size)
    }
}

/// Through the MMU's counted cache, repeated accesses to a few pages accounted together.
/// On the heap: the hart keeps the run from one counted quantum to the next.
impl DataPath for Box<CountedRun> {
    #[inline(always)]
    fn settle(&mut self, hart: &mut Hart) {
        hart.mmu.pause_run(self);
    }

    #[inline(always)]
    fn settle_if_moved(&mut self, hart: &mut Hart) {
        hart.mmu.pause_run_if_moved(self, &hart.data_ctx);
    }

    #[inline(always)]
    fn resume(&mut self, hart: &mut Hart) {
        if self.recheck {
            hart.mmu.keep_run(self, &hart.data_ctx);
            // Only the fetch path decodes code, and it pauses the run first.
            if self.code_pages_seen != hart.code_pages_added {
                self.code_pages_seen = hart.code_pages_added;
                self.forget_stores_to_code(|off| hart.decoded.has_code(off));
            }
        }
    }

    #[inline(always)]
    fn counting(&mut self, batch: FetchBatch) -> Option<Counting<'_>> {
        Some(Counting { run: self, batch })
    }

    #[inline(always)]
    fn load(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        pc: u64,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception> {
        hart.mmu.current_pc = pc;
        hart.load_counted(bus, va, size, self)
    }

    #[inline(always)]
    fn store(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        pc: u64,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        hart.mmu.current_pc = pc;
        hart.store_counted(bus, va, size, value, self)
    }

    #[inline(always)]
    fn atomic(
        &mut self,
        hart: &mut Hart,
        bus: &mut Bus,
        pc: u64,
        va: u64,
        _size: u64,
        store: bool,
    ) -> Option<usize> {
        hart.mmu.current_pc = pc;
        // Aligned, the access stays in its page. A page with decoded code takes no
        // store (see `CountedRun::code_pages_seen`).
        self.count(va, store).or_else(|| {
            let allow = stores_without_code(&hart.decoded);
            join_counted_run(&mut hart.mmu, bus, &hart.data_ctx, self, va, store, allow)
        })
    }
}

/// Account the fetches `batch` holds to `mmu` (fetch context `ctx`, `left`: the loop's
/// budget now) and forget them.
#[inline]
pub(super) fn end_fetch_batch(
    mmu: &mut Mmu,
    ctx: &TranslateCtx,
    batch: &mut FetchBatch,
    left: u64,
) {
    if batch.from != FetchBatch::NONE {
        let n = batch.from - left;
        if n > 0 {
            mmu.repeat_fetch(batch.page << 12, ctx, n);
        }
        batch.from = FetchBatch::NONE;
    }
}

/// Account the accesses `run` holds to `mmu` and forget its pages.
#[inline]
pub(super) fn end_counted_run(mmu: &mut Mmu, run: &mut CountedRun) {
    mmu.settle_run(run);
    run.clear();
}

/// What the hart's joins to a counted run accept: a page for stores only while it holds
/// no decoded code (see `CountedRun::code_pages_seen`).
fn stores_without_code(decoded: &DecodeCache) -> impl Fn(usize, bool) -> bool + '_ {
    move |off, store| !store || !decoded.has_code(off)
}

/// Counted runs: join `va`'s page to `run` for a load or a `store` and count the access
/// there when it is plain RAM and `allow` accepts the page's RAM offset for the access
/// type (see [`Mmu::join_run`]); the RAM offset of `va`.
pub(super) fn join_counted_run(
    mmu: &mut Mmu,
    bus: &Bus,
    ctx: &TranslateCtx,
    run: &mut CountedRun,
    va: u64,
    store: bool,
    allow: impl Fn(usize, bool) -> bool,
) -> Option<usize> {
    mmu.join_run(run, va, store, ctx, |page, store| {
        if store {
            // Not the HTIF mailbox page: `ram_offset` leaves it to the device path.
            bus.ram_offset(page, 4096)
        } else {
            bus.ram.offset_of(page, 4096)
        }
        .filter(|&off| allow(off, store))
    })
}

impl Hart {
    /// Account the fetches `batch` holds (`left`: the loop's budget now) and forget
    /// them.
    #[inline]
    pub(super) fn end_fetch_batch(&mut self, batch: &mut FetchBatch, left: u64) {
        end_fetch_batch(&mut self.mmu, &self.fetch_ctx, batch, left);
    }

    /// Account the accesses `run` holds and forget its pages.
    #[inline]
    fn end_counted_run(&mut self, run: &mut CountedRun) {
        end_counted_run(&mut self.mmu, run);
    }

    /// Load in a counter-observed run, exactly as [`Hart::load`] accounts it.
    #[inline(always)]
    pub(super) fn load_counted(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        run: &mut CountedRun,
    ) -> Result<u64, Exception> {
        if (va & 0xfff) + size <= 0x1000 {
            let off = match run.count(va, false) {
                Some(off) => Some(off),
                None => join_counted_run(
                    &mut self.mmu,
                    bus,
                    &self.data_ctx,
                    run,
                    va,
                    false,
                    stores_without_code(&self.decoded),
                ),
            };
            if let Some(off) = off {
                return Ok(read_le(bus.ram.as_slice(), off, size));
            }
        }
        self.end_counted_run(run);
        self.load(bus, va, size)
    }

    /// Store in a counter-observed run, exactly as [`Hart::store`] accounts it;
    /// `Ok(true)` when it went to a device.
    #[inline(always)]
    pub(super) fn store_counted(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
        run: &mut CountedRun,
    ) -> Result<bool, Exception> {
        if (va & 0xfff) + size <= 0x1000 {
            let off = match run.count(va, true) {
                Some(off) => Some(off),
                // A page with decoded code takes no store (see
                // `CountedRun::code_pages_seen`): the full path below sees it.
                None => {
                    let allow = stores_without_code(&self.decoded);
                    join_counted_run(&mut self.mmu, bus, &self.data_ctx, run, va, true, allow)
                }
            };
            if let Some(off) = off {
                write_le(bus.ram.as_mut_slice(), off, size, value);
                self.note_ram_store(off, size as usize);
                return Ok(false);
            }
        }
        self.end_counted_run(run);
        self.store(bus, va, size, value)
    }

    /// Load through the data-page cache, falling back to the full [`Hart::load`].
    #[inline(always)]
    pub(super) fn load_fast(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
    ) -> Result<u64, Exception> {
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
    pub(super) fn store_fast(
        &mut self,
        bus: &mut Bus,
        va: u64,
        size: u64,
        value: u64,
    ) -> Result<bool, Exception> {
        if let Some(off) = DataTlb::lookup(&self.dtlb.store, va, size) {
            // No decoded code there (see `DataTlb`): nothing to invalidate.
            write_le(bus.ram.as_mut_slice(), off, size, value);
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

    /// After a successful access: cache `va`'s page when it may be (see
    /// [`cacheable_page`]).
    fn remember_data_page(&mut self, bus: &Bus, va: u64, access: AccessType) {
        let decoded = &self.decoded;
        let has_code = |off: usize| decoded.has_code(off);
        if let Some(off) = cacheable_page(&self.mmu, bus, &self.data_ctx, va, access, has_code) {
            self.dtlb.insert(access == AccessType::Store, va >> 12, off);
        }
    }
}

/// The RAM offset of `va`'s page when the data-page cache may hold it for `access`
/// (see `DataTlb`): the MMU's fast path holds it, so every check the full path makes
/// passes for the whole page; it is plain RAM; and for a store, `has_code` says its RAM
/// offset holds no decoded code.
#[inline]
pub(super) fn cacheable_page(
    mmu: &Mmu,
    bus: &Bus,
    ctx: &TranslateCtx,
    va: u64,
    access: AccessType,
    has_code: impl Fn(usize) -> bool,
) -> Option<usize> {
    let page = mmu.fast_page(va, access, ctx)?;
    let off = bus.ram_offset(page, 4096)?;
    (access != AccessType::Store || !has_code(off)).then_some(off)
}

//! How loads and stores reach memory: the [`DataPath`]s that instantiate the one body of
//! [`Hart::exec`](super::semantics), and the hart's side of its data-page caches
//! ([`crate::mmu::page_caches`]).

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
    /// The counted path's run, which compiled blocks of the counted flavour extend; None
    /// on the other paths.
    #[inline(always)]
    fn counted_run(&mut self) -> Option<&mut CountedRun> {
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
}

/// Through the MMU's counted cache, repeated accesses to one page accounted together.
impl DataPath for CountedRun {
    #[inline(always)]
    fn settle(&mut self, hart: &mut Hart) {
        hart.end_counted_run(self);
    }

    #[inline(always)]
    fn counted_run(&mut self) -> Option<&mut CountedRun> {
        Some(self)
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
}

/// Account the accesses `run` holds to `mmu` (data context `ctx`) and forget it.
#[inline]
pub(super) fn end_counted_run(mmu: &mut Mmu, ctx: &TranslateCtx, run: &mut CountedRun) {
    if run.n > 0 {
        let access = if run.load {
            AccessType::Load
        } else {
            AccessType::Store
        };
        mmu.repeat_data(run.vpn << 12, access, ctx, run.n);
    }
    *run = CountedRun::NONE;
}

impl Hart {
    /// Account the fetches `batch` holds (`left`: the loop's budget now) and forget
    /// them.
    #[inline]
    pub(super) fn end_fetch_batch(&mut self, batch: &mut FetchBatch, left: u64) {
        if batch.from != FetchBatch::NONE {
            let n = batch.from - left;
            if n > 0 {
                self.mmu.repeat_fetch(batch.page << 12, &self.fetch_ctx, n);
            }
            batch.from = FetchBatch::NONE;
        }
    }

    /// Account the accesses `run` holds and forget it.
    #[inline]
    fn end_counted_run(&mut self, run: &mut CountedRun) {
        end_counted_run(&mut self.mmu, &self.data_ctx, run);
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
    pub(super) fn store_counted(
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
            self.note_ram_store(off, size as usize);
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

    /// After a successful access: cache `va`'s page if the MMU's fast path holds it (so
    /// every check the full path makes passes for the whole page) and it is plain RAM,
    /// for a store one holding no decoded code (see `DataTlb`).
    pub(super) fn remember_data_page(&mut self, bus: &Bus, va: u64, access: AccessType) {
        let Some(page) = self.mmu.fast_page(va, access, &self.data_ctx) else {
            return;
        };
        let Some(off) = bus.ram_offset(page, 4096) else {
            return;
        };
        let store = access == AccessType::Store;
        if store && self.decoded.has_code(off) {
            return;
        }
        self.dtlb.insert(store, va >> 12, off);
    }
}

//! The MMU's state in a snapshot: the TLB model's arrays (entries, LRU clocks,
//! versions), the page-walk cache's, their counters and PMP. The fast translation cache and the counted cache are
//! left out: a restored MMU starts with them empty, which only costs a refill.

use super::pwc::PageWalkCache;
use super::stats::{MmuStats, PwcStats, TlbLevelStats};
use super::{FastCache, Mmu, TlbRestore};
use crate::snapshot::format::{Reader, Result, Writer};

fn write_level(w: &mut Writer, s: &TlbLevelStats) {
    w.u64(s.accesses);
    w.u64(s.hits);
    w.u64(s.misses);
    w.u64s(&s.hits_by_size);
    w.u64s(&s.fills_by_size);
    w.u64(s.evictions);
    w.u64(s.flushed);
}

fn read_level(r: &mut Reader) -> Result<TlbLevelStats> {
    Ok(TlbLevelStats {
        accesses: r.u64()?,
        hits: r.u64()?,
        misses: r.u64()?,
        hits_by_size: r.u64s()?,
        fills_by_size: r.u64s()?,
        evictions: r.u64()?,
        flushed: r.u64()?,
    })
}

pub(crate) fn write_stats(w: &mut Writer, s: &MmuStats) {
    w.u64(s.paged_translations);
    w.u64(s.bare_translations);
    write_level(w, &s.l1i);
    write_level(w, &s.l1d);
    write_level(w, &s.l2);
    w.u64s(&s.walks_by_mode);
    w.u64s(&s.walks_by_depth);
    w.u64(s.pte_reads);
    w.u64(s.ad_updates);
    w.u64s(&s.page_faults);
    w.u64s(&s.pmp_faults);
    w.u64s(&s.pte_access_faults);
    w.bool(s.pwc_enabled);
    w.u64s(&s.pwc.hits);
    w.u64s(&s.pwc.misses);
    w.u64s(&s.pwc.fills);
    w.u64(s.pwc.evictions);
    w.u64(s.pwc.flushed);
    for v in [
        s.sfence_all,
        s.sfence_addr,
        s.sfence_asid,
        s.sfence_addr_asid,
        s.satp_writes,
        s.stale_translations,
        s.stale_hits,
        s.check_walks,
        s.check_pte_reads,
    ] {
        w.u64(v);
    }
}

pub(crate) fn read_stats(r: &mut Reader) -> Result<MmuStats> {
    let mut s = MmuStats {
        paged_translations: r.u64()?,
        bare_translations: r.u64()?,
        l1i: read_level(r)?,
        l1d: read_level(r)?,
        l2: read_level(r)?,
        walks_by_mode: r.u64s()?,
        walks_by_depth: r.u64s()?,
        pte_reads: r.u64()?,
        ad_updates: r.u64()?,
        page_faults: r.u64s()?,
        pmp_faults: r.u64s()?,
        pte_access_faults: r.u64s()?,
        pwc_enabled: r.bool()?,
        pwc: PwcStats {
            hits: r.u64s()?,
            misses: r.u64s()?,
            fills: r.u64s()?,
            evictions: r.u64()?,
            flushed: r.u64()?,
        },
        ..MmuStats::default()
    };
    let [a, b, c, d, e, f, g, h, i] = r.u64s::<9>()?;
    s.sfence_all = a;
    s.sfence_addr = b;
    s.sfence_asid = c;
    s.sfence_addr_asid = d;
    s.satp_writes = e;
    s.stale_translations = f;
    s.stale_hits = g;
    s.check_walks = h;
    s.check_pte_reads = i;
    Ok(s)
}

impl Mmu {
    pub(crate) fn save_state(&self, w: &mut Writer) {
        w.u64(self.generation);
        w.u64(self.current_pc);
        self.l1i.save_state(w);
        self.l1d.save_state(w);
        self.l2.save_state(w);
        w.bool(self.pwc.is_some());
        if let Some(c) = &self.pwc {
            c.save_state(w);
        }
        write_stats(w, &self.stats);
        self.pmp.save_state(w);
        w.u64(self.pmp_version_seen);
    }

    /// Take the state [`Mmu::save_state`] wrote into a fresh MMU of the same geometry,
    /// or (with [`TlbRestore::Cold`]) of another one, whose arrays stay empty.
    pub(crate) fn restore_state(&mut self, r: &mut Reader, how: TlbRestore) -> Result<()> {
        self.generation = r.u64()?;
        self.current_pc = r.u64()?;
        self.l1i.restore_state(r, how)?;
        self.l1d.restore_state(r, how)?;
        self.l2.restore_state(r, how)?;
        if r.bool()? {
            match self.pwc.as_mut() {
                Some(c) => c.restore_state(r, how)?,
                None if how == TlbRestore::Cold => PageWalkCache::skip_state(r)?,
                None => return Err(r.error("has a page-walk cache the machine has not")),
            }
        } else if self.pwc.is_some() && how == TlbRestore::Saved {
            return Err(r.error("has no page-walk cache, the machine has one"));
        }
        self.stats = read_stats(r)?;
        // The counters go on from the saved ones; whether a page-walk cache counts is
        // this machine's geometry (another one with TlbRestore::Cold).
        self.stats.pwc_enabled = self.pwc.is_some();
        self.pmp.restore_state(r)?;
        self.pmp_version_seen = r.u64()?;
        self.l1_hit = (usize::MAX, 0);
        // Nothing the fast path remembers belongs to the restored machine (a trail's PMP
        // version may even equal the restored one).
        self.fast = FastCache::new();
        Ok(())
    }
}

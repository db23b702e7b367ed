//! MMU counters (`--stats`). Counted on the MMU's slow path; they describe every access
//! only when [`super::Mmu::observed`] is true, which `--stats` makes so.

use std::fmt;

use super::pte::{page_size_name, PAGE_SIZES};

/// Counters of one TLB level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlbLevelStats {
    pub accesses: u64,
    pub hits: u64,
    pub misses: u64,
    /// Hits by page size of the entry (4K, 2M, 1G, 512G, 256T).
    pub hits_by_size: [u64; PAGE_SIZES],
    /// Fills by page size (a miss is counted by the size of the page it finally filled).
    pub fills_by_size: [u64; PAGE_SIZES],
    pub evictions: u64,
    /// Entries removed by sfence.vma.
    pub flushed: u64,
}

impl TlbLevelStats {
    /// `n` accesses that hit an entry of leaf level `level`.
    #[inline(always)]
    pub fn add_hits(&mut self, level: u8, n: u64) {
        self.accesses += n;
        self.hits += n;
        self.hits_by_size[level as usize] += n;
    }

    fn since(&self, e: &TlbLevelStats) -> TlbLevelStats {
        TlbLevelStats {
            accesses: self.accesses - e.accesses,
            hits: self.hits - e.hits,
            misses: self.misses - e.misses,
            hits_by_size: sub(&self.hits_by_size, &e.hits_by_size),
            fills_by_size: sub(&self.fills_by_size, &e.fills_by_size),
            evictions: self.evictions - e.evictions,
            flushed: self.flushed - e.flushed,
        }
    }

    fn merge(&mut self, o: &TlbLevelStats) {
        self.accesses += o.accesses;
        self.hits += o.hits;
        self.misses += o.misses;
        add(&mut self.hits_by_size, &o.hits_by_size);
        add(&mut self.fills_by_size, &o.fills_by_size);
        self.evictions += o.evictions;
        self.flushed += o.flushed;
    }
}

fn sub<const N: usize>(a: &[u64; N], b: &[u64; N]) -> [u64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Counters of the page-walk cache, indexed by the level of the non-leaf PTE (1..=4;
/// index 0 stays 0: level 0 holds only leaves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PwcStats {
    pub hits: [u64; 5],
    /// Levels probed without a hit (a walk probes from level 1 up to its first hit).
    pub misses: [u64; 5],
    pub fills: [u64; 5],
    pub evictions: u64,
    /// Entries removed by sfence.vma.
    pub flushed: u64,
}

impl PwcStats {
    fn since(&self, e: &PwcStats) -> PwcStats {
        PwcStats {
            hits: sub(&self.hits, &e.hits),
            misses: sub(&self.misses, &e.misses),
            fills: sub(&self.fills, &e.fills),
            evictions: self.evictions - e.evictions,
            flushed: self.flushed - e.flushed,
        }
    }

    fn merge(&mut self, o: &PwcStats) {
        add(&mut self.hits, &o.hits);
        add(&mut self.misses, &o.misses);
        add(&mut self.fills, &o.fills);
        self.evictions += o.evictions;
        self.flushed += o.flushed;
    }
}

/// Index of an access type in the per-access arrays: fetch, load, store.
pub const ACCESS_NAMES: [&str; 3] = ["fetch", "load", "store"];
/// Index of a paging mode in `walks_by_mode`.
pub const MODE_NAMES: [&str; 3] = ["sv39", "sv48", "sv57"];

/// Everything the MMU counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MmuStats {
    /// Translations that went through the MMU's slow path with paging on / off (bare
    /// mode or M-mode).
    pub paged_translations: u64,
    pub bare_translations: u64,
    pub l1i: TlbLevelStats,
    pub l1d: TlbLevelStats,
    pub l2: TlbLevelStats,
    /// Walks by satp mode (sv39, sv48, sv57).
    pub walks_by_mode: [u64; 3],
    /// Walks by depth: index = number of PTEs read (1..=5).
    pub walks_by_depth: [u64; 6],
    pub pte_reads: u64,
    /// A page-walk cache is configured: its counters are shown (and only then, so the
    /// output of a run without one is unchanged).
    pub pwc_enabled: bool,
    pub pwc: PwcStats,
    /// Svadu hardware A/D updates written back.
    pub ad_updates: u64,
    /// Page faults by access type (cause 12, 13, 15).
    pub page_faults: [u64; 3],
    /// Access faults by access type raised by PMP on the access itself.
    pub pmp_faults: [u64; 3],
    /// Access faults by access type raised while reading or updating a PTE.
    pub pte_access_faults: [u64; 3],
    pub sfence_all: u64,
    pub sfence_addr: u64,
    pub sfence_asid: u64,
    pub sfence_addr_asid: u64,
    pub satp_writes: u64,
    /// Distinct stale translations found by `--check-tlb` that change the access's outcome
    /// (another physical page, or a permission or A/D decision that differs for this
    /// access), and every TLB hit that was such.
    pub stale_translations: u64,
    pub stale_hits: u64,
    /// TLB hits that differ from the page table in a way this access cannot see (a W bit
    /// on a fetch, say), and how many distinct ones: reported apart, not as errors.
    pub stale_equivalent_translations: u64,
    pub stale_equivalent_hits: u64,
    /// Side-effect-free walks done by `--check-tlb` and the PTEs they read (kept apart
    /// from `walks_*`/`pte_reads` so checking does not skew the numbers).
    pub check_walks: u64,
    pub check_pte_reads: u64,
}

impl MmuStats {
    pub fn merge(&mut self, o: &MmuStats) {
        self.paged_translations += o.paged_translations;
        self.bare_translations += o.bare_translations;
        self.l1i.merge(&o.l1i);
        self.l1d.merge(&o.l1d);
        self.l2.merge(&o.l2);
        add(&mut self.walks_by_mode, &o.walks_by_mode);
        add(&mut self.walks_by_depth, &o.walks_by_depth);
        self.pte_reads += o.pte_reads;
        self.pwc_enabled |= o.pwc_enabled;
        self.pwc.merge(&o.pwc);
        self.ad_updates += o.ad_updates;
        add(&mut self.page_faults, &o.page_faults);
        add(&mut self.pmp_faults, &o.pmp_faults);
        add(&mut self.pte_access_faults, &o.pte_access_faults);
        self.sfence_all += o.sfence_all;
        self.sfence_addr += o.sfence_addr;
        self.sfence_asid += o.sfence_asid;
        self.sfence_addr_asid += o.sfence_addr_asid;
        self.satp_writes += o.satp_writes;
        self.stale_translations += o.stale_translations;
        self.stale_hits += o.stale_hits;
        self.stale_equivalent_translations += o.stale_equivalent_translations;
        self.stale_equivalent_hits += o.stale_equivalent_hits;
        self.check_walks += o.check_walks;
        self.check_pte_reads += o.check_pte_reads;
    }

    /// What was counted since `earlier` (a snapshot of the same counters).
    pub fn since(&self, earlier: &MmuStats) -> MmuStats {
        let e = earlier;
        MmuStats {
            paged_translations: self.paged_translations - e.paged_translations,
            bare_translations: self.bare_translations - e.bare_translations,
            l1i: self.l1i.since(&e.l1i),
            l1d: self.l1d.since(&e.l1d),
            l2: self.l2.since(&e.l2),
            walks_by_mode: sub(&self.walks_by_mode, &e.walks_by_mode),
            walks_by_depth: sub(&self.walks_by_depth, &e.walks_by_depth),
            pte_reads: self.pte_reads - e.pte_reads,
            pwc_enabled: self.pwc_enabled,
            pwc: self.pwc.since(&e.pwc),
            ad_updates: self.ad_updates - e.ad_updates,
            page_faults: sub(&self.page_faults, &e.page_faults),
            pmp_faults: sub(&self.pmp_faults, &e.pmp_faults),
            pte_access_faults: sub(&self.pte_access_faults, &e.pte_access_faults),
            sfence_all: self.sfence_all - e.sfence_all,
            sfence_addr: self.sfence_addr - e.sfence_addr,
            sfence_asid: self.sfence_asid - e.sfence_asid,
            sfence_addr_asid: self.sfence_addr_asid - e.sfence_addr_asid,
            satp_writes: self.satp_writes - e.satp_writes,
            stale_translations: self.stale_translations - e.stale_translations,
            stale_hits: self.stale_hits - e.stale_hits,
            stale_equivalent_translations: self.stale_equivalent_translations
                - e.stale_equivalent_translations,
            stale_equivalent_hits: self.stale_equivalent_hits - e.stale_equivalent_hits,
            check_walks: self.check_walks - e.check_walks,
            check_pte_reads: self.check_pte_reads - e.check_pte_reads,
        }
    }

    pub fn walks(&self) -> u64 {
        self.walks_by_mode.iter().sum()
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl fmt::Display for MmuStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "translations: {} paged, {} bare/M-mode",
            self.paged_translations, self.bare_translations
        )?;
        writeln!(
            f,
            "{:<5} {:>12} {:>12} {:>12} {:>7} {:>10} {:>10}",
            "tlb", "accesses", "hits", "misses", "hit%", "evictions", "flushed"
        )?;
        for (name, l) in [("L1I", &self.l1i), ("L1D", &self.l1d), ("L2", &self.l2)] {
            writeln!(
                f,
                "{:<5} {:>12} {:>12} {:>12} {:>6.2}% {:>10} {:>10}",
                name,
                l.accesses,
                l.hits,
                l.misses,
                percent(l.hits, l.accesses),
                l.evictions,
                l.flushed
            )?;
        }
        write!(f, "{:<11}", "page size")?;
        for level in 0..PAGE_SIZES as u8 {
            write!(f, " {:>10}", page_size_name(level))?;
        }
        writeln!(f)?;
        for (name, l) in [("L1I", &self.l1i), ("L1D", &self.l1d), ("L2", &self.l2)] {
            for (what, row) in [("hits", &l.hits_by_size), ("fills", &l.fills_by_size)] {
                write!(f, "{:<11}", format!("{name} {what}"))?;
                for v in row {
                    write!(f, " {v:>10}")?;
                }
                writeln!(f)?;
            }
        }
        write!(f, "walks: {}", self.walks())?;
        for (name, v) in MODE_NAMES.iter().zip(&self.walks_by_mode) {
            write!(f, "  {name} {v}")?;
        }
        write!(f, "  | by depth:")?;
        for (depth, v) in self.walks_by_depth.iter().enumerate().skip(1) {
            write!(f, " {depth}:{v}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "pte reads: {}  A/D updates: {}",
            self.pte_reads, self.ad_updates
        )?;
        if self.pwc_enabled {
            let p = &self.pwc;
            write!(f, "page-walk cache:")?;
            for level in 1..p.hits.len() {
                write!(
                    f,
                    "  level {level} {}/{} hit/miss",
                    p.hits[level], p.misses[level]
                )?;
            }
            writeln!(
                f,
                "  | fills {}  evictions {}  flushed {}",
                p.fills.iter().sum::<u64>(),
                p.evictions,
                p.flushed
            )?;
        }
        for (what, row) in [
            ("page faults", &self.page_faults),
            ("pmp faults", &self.pmp_faults),
            ("pte access faults", &self.pte_access_faults),
        ] {
            write!(f, "{what}:")?;
            for (name, v) in ACCESS_NAMES.iter().zip(row) {
                write!(f, "  {name} {v}")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "sfence.vma: all {}  address {}  asid {}  address+asid {}",
            self.sfence_all, self.sfence_addr, self.sfence_asid, self.sfence_addr_asid
        )?;
        writeln!(f, "satp writes: {}", self.satp_writes)?;
        write!(
            f,
            "stale translations: {} ({} stale hits, {} check walks, {} check PTE reads)",
            self.stale_translations, self.stale_hits, self.check_walks, self.check_pte_reads
        )?;
        // Only in checked runs, so the output of the others is unchanged.
        if self.check_walks > 0 {
            write!(
                f,
                "\nstale but equivalent for the access: {} ({} hits)",
                self.stale_equivalent_translations, self.stale_equivalent_hits
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_display_names_every_section() {
        let mut a = MmuStats::default();
        a.l2.hits = 3;
        a.walks_by_mode[1] = 2;
        a.page_faults[2] = 1;
        let mut b = a.clone();
        b.merge(&a);
        assert_eq!(b.l2.hits, 6);
        assert_eq!(b.walks(), 4);
        assert_eq!(b.page_faults, [0, 0, 2]);
        let text = b.to_string();
        for needle in [
            "L1I",
            "L2",
            "512G",
            "sv48 4",
            "sfence.vma",
            "satp writes",
            "stale",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}

//! The page-walk cache model (`--tlb ...,pwc=ENTRIES:WAYS`): caches of non-leaf PTEs, one
//! per level, as real cores keep beside their TLBs so that a walk need not re-read the
//! upper levels of the table.
//!
//! What is cached: every valid non-leaf PTE a walk reads (level 1 and up; level 0 holds
//! only leaves), as the walk read it. The entry for a level-`L` PTE is keyed by the
//! virtual-address bits above that level's index, `va >> (12 + 9 * L)` (the part of the
//! address that selects the table the PTE points to), tagged with satp.ASID and with the
//! global bit of the path: G in that PTE or in any PTE above it, which the spec makes
//! imply that every mapping below is global. A global entry serves every ASID. The root
//! table's address is not part of the key, as it is not part of a TLB entry's: a guest
//! that changes satp.PPN under the same ASID must fence, as for the TLB.
//!
//! Lookup: a walk probes the levels from the deepest (level 1, whose entry points at a
//! leaf table) upwards and starts below the first hit, reading only the PTEs under it;
//! every level probed before the hit counts a miss, the hit level a hit. A walk ending in a
//! superpage leaf still probes the levels below its leaf (hardware cannot know the leaf's
//! level before the walk). After the walk, each non-leaf PTE it read is filled into its
//! level's array. Each array is set-associative with LRU replacement ([`TlbArray`]).
//!
//! sfence.vma, as the privileged spec defines it: `rs1 = x0` orders "reads and writes made
//! to any level of the page tables" and invalidates "all address-translation cache
//! entries" (of the ASID in rs2, except global ones, when `rs2 != x0`); `rs1 != x0` orders
//! only "leaf page table entries corresponding to the virtual address in rs1" and
//! invalidates the entries "that contain leaf page table entries" for it. A page-walk
//! cache entry contains a non-leaf PTE, so a fence with an address leaves the page-walk
//! cache alone, and software that changes a non-leaf PTE must fence with `rs1 = x0`, as
//! the spec's list of common situations says. This model keeps the stale non-leaf entry
//! in that case, which is what exposes a guest that fences by address after changing a
//! non-leaf PTE.

use super::stats::PwcStats;
use super::tlb::{TlbArray, TlbEntry, TlbLevelConfig};
use super::walker::WalkStep;

/// Levels that can hold a non-leaf PTE: 1 to 4 (Sv57's root is level 4).
pub const PWC_LEVELS: usize = 4;

/// Where a walk may start thanks to a page-walk cache hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PwcStart {
    /// Level of the cached non-leaf PTE; the walk goes on at `level - 1`.
    pub level: u8,
    /// Physical address of the table it points to.
    pub table: u64,
    /// G seen on the path down to and including the cached PTE.
    pub global: bool,
}

/// What one walk's probe of the page-walk cache found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PwcLookup {
    /// Level of the entry that hit, if any.
    pub hit: Option<u8>,
    /// Bit `L` set for each level `L` probed that missed.
    pub missed: u8,
}

/// One array of cached non-leaf PTEs per level 1..=4.
pub struct PageWalkCache {
    levels: [TlbArray; PWC_LEVELS],
}

impl PageWalkCache {
    /// None when `config` is absent.
    pub fn new(config: TlbLevelConfig) -> Option<PageWalkCache> {
        (config.entries != 0).then(|| PageWalkCache {
            levels: std::array::from_fn(|_| TlbArray::new(config)),
        })
    }

    /// Probe levels 1 up to `top` (the root level of the paging mode), deepest first, for a
    /// walk of `va` under `asid`; counts hits and misses in `stats`.
    pub fn lookup(
        &mut self,
        va: u64,
        asid: u16,
        top: u8,
        stats: &mut PwcStats,
    ) -> (Option<PwcStart>, PwcLookup) {
        let mut probe = PwcLookup::default();
        for level in 1..=top.min(PWC_LEVELS as u8) {
            let array = &mut self.levels[level as usize - 1];
            match array.lookup(va, asid) {
                Some(e) => {
                    stats.hits[level as usize] += 1;
                    probe.hit = Some(level);
                    let start = PwcStart {
                        level,
                        table: e.pte.ppn() << 12,
                        global: e.global,
                    };
                    return (Some(start), probe);
                }
                None => {
                    stats.misses[level as usize] += 1;
                    probe.missed |= 1 << level;
                }
            }
        }
        (None, probe)
    }

    /// After a walk that read `steps` (every one but the last a valid non-leaf PTE, as the
    /// walker only goes on past those), starting with global bit `global` from the levels
    /// above the first step: cache each non-leaf PTE.
    pub fn fill(
        &mut self,
        va: u64,
        asid: u16,
        steps: &[WalkStep],
        mut global: bool,
        stats: &mut PwcStats,
    ) {
        let Some((_, non_leaf)) = steps.split_last() else {
            return;
        };
        for step in non_leaf {
            global |= step.pte.has(super::PteFlags::G);
            let level = step.level as usize;
            if level == 0 || level > PWC_LEVELS {
                continue;
            }
            let entry = TlbEntry {
                tag: va >> super::pte::page_shift(step.level),
                level: step.level,
                asid,
                global,
                pte: step.pte,
                pte_addr: step.pte_addr,
            };
            if self.levels[level - 1].insert(entry).is_some() {
                stats.evictions += 1;
            }
            stats.fills[level] += 1;
        }
    }

    /// sfence.vma: only the `rs1 = x0` forms reach non-leaf entries (see the module
    /// documentation); returns how many entries were removed.
    pub fn flush(&mut self, vaddr: Option<u64>, asid: Option<u16>) -> u64 {
        if vaddr.is_some() {
            return 0;
        }
        self.levels.iter_mut().map(|a| a.flush(None, asid)).sum()
    }

    /// Snapshot state: every level's array.
    pub(crate) fn save_state(&self, w: &mut crate::snapshot::format::Writer) {
        for l in &self.levels {
            l.save_state(w);
        }
    }

    /// Read past the state [`PageWalkCache::save_state`] wrote, whatever its geometry.
    pub(crate) fn skip_state(
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        for _ in 0..PWC_LEVELS {
            TlbArray::skip_state(r)?;
        }
        Ok(())
    }

    /// Take the state [`PageWalkCache::save_state`] wrote; the geometry must be this one's.
    pub(crate) fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
        how: super::TlbRestore,
    ) -> crate::snapshot::format::Result<()> {
        for l in &mut self.levels {
            l.restore_state(r, how)?;
        }
        Ok(())
    }

    /// The valid entries of `level` (1..=4), for tests and dumps.
    pub fn entries(&self, level: u8) -> Vec<TlbEntry> {
        match (level as usize)
            .checked_sub(1)
            .and_then(|i| self.levels.get(i))
        {
            Some(a) => a.entries().copied().collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::{Pte, PteFlags};

    fn step(level: u8, ppn: u64, flags: u8) -> WalkStep {
        WalkStep {
            level,
            pte_addr: 0x8000_0000 + level as u64 * 8,
            pte: Pte::new(ppn, flags),
        }
    }

    fn sv39_walk(global_root: bool) -> [WalkStep; 3] {
        let g = if global_root { PteFlags::G } else { 0 };
        [
            step(2, 0x80001, PteFlags::V | g),
            step(1, 0x80002, PteFlags::V),
            step(0, 0x80003, PteFlags::V | PteFlags::R),
        ]
    }

    fn cache() -> PageWalkCache {
        PageWalkCache::new(TlbLevelConfig {
            entries: 4,
            ways: 4,
        })
        .unwrap()
    }

    #[test]
    fn deepest_hit_wins_and_misses_are_counted_per_level() {
        let mut c = cache();
        let mut s = PwcStats::default();
        assert_eq!(c.lookup(0x4000_0000, 1, 2, &mut s).0, None);
        assert_eq!(s.misses, [0, 1, 1, 0, 0]);
        c.fill(0x4000_0000, 1, &sv39_walk(false), false, &mut s);
        assert_eq!(s.fills, [0, 1, 1, 0, 0]);
        // Same 2 MiB region: the level-1 entry, pointing at the leaf table.
        let (start, probe) = c.lookup(0x4000_1000, 1, 2, &mut s);
        assert_eq!(
            start,
            Some(PwcStart {
                level: 1,
                table: 0x80002000,
                global: false
            })
        );
        assert_eq!(probe.hit, Some(1));
        // Another 2 MiB region of the same GiB: level 1 misses, level 2 hits.
        let (start, probe) = c.lookup(0x4020_0000, 1, 2, &mut s);
        assert_eq!(start.map(|s| (s.level, s.table)), Some((2, 0x80001000)));
        assert_eq!(probe.missed, 1 << 1);
        assert_eq!(s.hits, [0, 1, 1, 0, 0]);
        // Another ASID sees nothing of a non-global path.
        assert_eq!(c.lookup(0x4000_1000, 2, 2, &mut s).0, None);
    }

    #[test]
    fn address_fences_keep_non_leaf_entries_asid_fences_keep_global_ones() {
        let mut c = cache();
        let mut s = PwcStats::default();
        c.fill(0x4000_0000, 1, &sv39_walk(false), false, &mut s);
        c.fill(0x8000_0000, 1, &sv39_walk(true), false, &mut s);
        assert_eq!(c.flush(Some(0x4000_0000), None), 0);
        assert_eq!(c.flush(Some(0x4000_0000), Some(1)), 0);
        // The global path serves any ASID and survives an ASID fence.
        assert!(c.lookup(0x8000_0000, 7, 2, &mut s).0.unwrap().global);
        assert_eq!(c.flush(None, Some(1)), 2);
        assert_eq!(c.lookup(0x4000_0000, 1, 2, &mut s).0, None);
        assert!(c.lookup(0x8000_0000, 1, 2, &mut s).0.is_some());
        assert_eq!(c.flush(None, None), 2);
        assert_eq!(c.entries(1).len() + c.entries(2).len(), 0);
    }
}

//! The stale-translation detector (`--check-tlb`).
//!
//! On every TLB model hit the MMU also walks the current page table (without A/D
//! updates and outside the walk counters) and compares. A difference means the guest
//! changed a PTE, or satp, and used the old translation without the `sfence.vma` the spec
//! requires. That is not an emulator error: it is reported, never raised.
//!
//! A difference matters only if it changes what this access comes to: another physical
//! page, a permission granted or refused, or a store that would have to set D. Those are
//! the reports. A difference this access cannot see -- a W bit on a fetch, the standard
//! `csrw satp; sfence.vma` idiom fetching the `sfence.vma` itself through a global entry
//! of the old table -- is counted apart as stale but equivalent, and not reported as a
//! missing fence.

use std::collections::HashSet;

use super::pte::{Pte, PteFlags};
use super::walker::{ad_need, leaf_permits, AdNeed, Leaf, WalkFault};
use super::{AccessType, TranslateCtx};

/// Keep at most this many distinct records; the counters go on counting.
pub const STALE_RECORD_CAP: usize = 1024;

/// One stale translation the detector saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTranslation {
    pub va: u64,
    /// The hart's pc for the access, as set in [`super::Mmu::current_pc`].
    pub pc: u64,
    pub access: AccessType,
    pub satp: u64,
    /// What the TLB entry holds.
    pub old_pte: Pte,
    pub old_pte_addr: u64,
    pub old_level: u8,
    /// What the page table says now: the leaf, or why there is none.
    pub new: Result<Leaf, WalkFault>,
}

impl StaleTranslation {
    /// One line for warnings and reports.
    pub fn describe(&self) -> String {
        let now = match &self.new {
            Ok(l) => format!("now {} at {:#x}", l.pte, l.pte_addr),
            Err(e) => format!("now {}", e.name()),
        };
        format!(
            "stale translation: pc {:#x} {:?} va {:#x}: TLB has {} (from {:#x}), {}",
            self.pc, self.access, self.va, self.old_pte, self.old_pte_addr, now
        )
    }
}

/// Flags whose change must be fenced. A is left out on purpose: Linux clears accessed
/// bits without a fence (the spec allows stale A=1 entries), and reporting that would
/// bury real bugs. D going 1 -> 0 is checked separately.
const COMPARED_FLAGS: u8 =
    PteFlags::V | PteFlags::R | PteFlags::W | PteFlags::X | PteFlags::U | PteFlags::G;

/// Does the fresh walk disagree with the cached leaf for `va`?
pub fn differs(va: u64, cached: &Leaf, fresh: &Result<Leaf, WalkFault>) -> bool {
    match fresh {
        Err(_) => true,
        Ok(now) => {
            let old_flags = cached.pte.flags().0;
            let new_flags = now.pte.flags().0;
            cached.pa(va) >> 12 != now.pa(va) >> 12
                || old_flags & COMPARED_FLAGS != new_flags & COMPARED_FLAGS
                || (old_flags & PteFlags::D != 0 && new_flags & PteFlags::D == 0)
        }
    }
}

/// What one access comes to through a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// This physical page, with (true) or without a D-bit write first.
    Page(u64, bool),
    PageFault,
    AccessFault,
}

/// The access's outcome through `leaf` (or the walk's fault). A is taken as set: the spec
/// allows a cached translation whose A bit software has since cleared, and Linux clears
/// A bits without fencing.
fn outcome(
    va: u64,
    leaf: &Result<Leaf, WalkFault>,
    access: AccessType,
    ctx: &TranslateCtx,
    svadu: bool,
) -> Outcome {
    let leaf = match leaf {
        Ok(l) => l,
        Err(f) if f.is_access_fault() => return Outcome::AccessFault,
        Err(_) => return Outcome::PageFault,
    };
    let pte = Pte(leaf.pte.0 | PteFlags::A as u64);
    if !leaf_permits(pte, access, ctx) {
        return Outcome::PageFault;
    }
    match ad_need(pte, access) {
        AdNeed::None => Outcome::Page(leaf.pa(va) >> 12, false),
        AdNeed::Update(_) if svadu => Outcome::Page(leaf.pa(va) >> 12, true),
        AdNeed::Update(_) => Outcome::PageFault,
    }
}

/// Would this access come out differently through the page table as it is now than
/// through the cached leaf? (Asked only of hits [`differs`] flagged.)
pub fn changes_outcome(
    va: u64,
    cached: &Leaf,
    fresh: &Result<Leaf, WalkFault>,
    access: AccessType,
    ctx: &TranslateCtx,
    svadu: bool,
) -> bool {
    outcome(va, &Ok(*cached), access, ctx, svadu) != outcome(va, fresh, access, ctx, svadu)
}

/// The records, deduplicated by (page, old PTE, new PTE) so one forgotten fence in a loop
/// does not fill the log.
#[derive(Debug, Default)]
pub struct StaleLog {
    pub records: Vec<StaleTranslation>,
    seen: HashSet<(u64, u64, u64)>,
    /// Keys of the stale-but-equivalent hits, which are counted, not recorded.
    seen_equivalent: HashSet<(u64, u64, u64)>,
}

fn key(s: &StaleTranslation) -> (u64, u64, u64) {
    let new_pte = s.new.map(|l| l.pte.0).unwrap_or(u64::MAX);
    (s.va >> 12, s.old_pte.0, new_pte)
}

impl StaleLog {
    /// Returns true when this stale-but-equivalent hit is a new distinct one.
    pub fn count_equivalent(&mut self, s: &StaleTranslation) -> bool {
        self.seen_equivalent.len() < STALE_RECORD_CAP * 4 && self.seen_equivalent.insert(key(s))
    }

    /// Returns true when this is a new distinct stale translation.
    pub fn record(&mut self, s: StaleTranslation) -> bool {
        if self.seen.len() >= STALE_RECORD_CAP * 4 || !self.seen.insert(key(&s)) {
            return false;
        }
        if self.records.len() < STALE_RECORD_CAP {
            self.records.push(s);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u8 = PteFlags::V | PteFlags::R | PteFlags::W | PteFlags::A | PteFlags::D;

    fn leaf(ppn: u64, flags: u8) -> Leaf {
        Leaf {
            pte: Pte::new(ppn, flags),
            pte_addr: 0x8000_1000,
            level: 0,
            global: false,
        }
    }

    fn s_mode() -> TranslateCtx {
        TranslateCtx {
            satp: 0,
            privilege: 1,
            sum: false,
            mxr: false,
        }
    }

    /// Which differences change the access's outcome, access by access.
    #[test]
    fn outcome_changing_and_equivalent_differences() {
        let va = 0x4000_0123;
        let ctx = s_mode();
        let old = leaf(0x80010, RW);
        let case = |new: Result<Leaf, WalkFault>, access, svadu| {
            assert!(differs(va, &old, &new));
            changes_outcome(va, &old, &new, access, &ctx, svadu)
        };
        let read_only = Ok(leaf(0x80010, RW & !PteFlags::W));
        assert!(!case(read_only, AccessType::Load, false));
        assert!(case(read_only, AccessType::Store, false));
        assert!(case(Ok(leaf(0x80011, RW)), AccessType::Load, false));
        let clean = Ok(leaf(0x80010, RW & !PteFlags::D));
        assert!(!case(clean, AccessType::Load, false));
        assert!(case(clean, AccessType::Store, false));
        assert!(case(clean, AccessType::Store, true));
        assert!(case(
            Err(WalkFault::InvalidPte { level: 0 }),
            AccessType::Load,
            false
        ));
        let user = Ok(leaf(0x80010, RW | PteFlags::U));
        assert!(case(user, AccessType::Load, false));
        // A cleared without a fence is not even a difference.
        let not_accessed = Ok(leaf(0x80010, RW & !PteFlags::A));
        assert!(!differs(va, &old, &not_accessed));
        // The satp idiom: a fetch through an entry whose W bit the new table clears.
        let rwx = leaf(0x80200, RW | PteFlags::X | PteFlags::G);
        let rx = Ok(leaf(
            0x80200,
            (RW | PteFlags::X | PteFlags::G) & !PteFlags::W,
        ));
        assert!(differs(va, &rwx, &rx));
        assert!(!changes_outcome(
            va,
            &rwx,
            &rx,
            AccessType::Fetch,
            &ctx,
            false
        ));
    }
}

//! The stale-translation detector (`--check-tlb`).
//!
//! On every TLB model hit the MMU also walks the current page table (without A/D
//! updates and outside the walk counters) and compares. A difference means the guest
//! changed a PTE, or satp, and used the old translation without the `sfence.vma` the spec
//! requires. That is not an emulator error: it is reported, never raised.

use std::collections::HashSet;

use super::pte::{Pte, PteFlags};
use super::walker::{Leaf, WalkFault};
use super::AccessType;

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

/// The records, deduplicated by (page, old PTE, new PTE) so one forgotten fence in a loop
/// does not fill the log.
#[derive(Debug, Default)]
pub struct StaleLog {
    pub records: Vec<StaleTranslation>,
    seen: HashSet<(u64, u64, u64)>,
}

impl StaleLog {
    /// Returns true when this is a new distinct stale translation.
    pub fn record(&mut self, s: StaleTranslation) -> bool {
        let new_pte = s.new.map(|l| l.pte.0).unwrap_or(u64::MAX);
        let key = (s.va >> 12, s.old_pte.0, new_pte);
        if self.seen.len() >= STALE_RECORD_CAP * 4 || !self.seen.insert(key) {
            return false;
        }
        if self.records.len() < STALE_RECORD_CAP {
            self.records.push(s);
        }
        true
    }
}

//! The page-table walker: one implementation, generic over the number of levels.
//!
//! The steps follow the privileged spec's "Virtual Address Translation Process"; the step
//! numbers in comments refer to it. The walk is split in two:
//! [`Walker::find_leaf`] does steps 1-4 and 6 (the structure of the table: which PTE maps
//! the address, or why none does) without side effects, and [`leaf_permits`] plus
//! [`ad_update`] do steps 5 and 7 (the access's rights and the A/D policy). The TLB re-uses
//! [`leaf_permits`] on every hit, and the stale-translation detector re-uses
//! [`Walker::find_leaf`] alone.

use super::pmp::Pmp;
use super::pte::{page_shift, Pte, PteFlags};
use super::{AccessType, SatpMode, TranslateCtx};
use crate::bus::Bus;

/// Privilege at which implicit page-table accesses are PMP-checked.
const PRIV_S: u8 = 1;

/// One PTE the walk read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStep {
    pub level: u8,
    pub pte_addr: u64,
    pub pte: Pte,
}

/// Every PTE one walk read, in order (at most five).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkSteps {
    pub steps: [WalkStep; 5],
    pub len: u8,
}

impl WalkSteps {
    #[inline]
    fn push(&mut self, step: WalkStep) {
        if let Some(slot) = self.steps.get_mut(self.len as usize) {
            *slot = step;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[WalkStep] {
        &self.steps[..self.len as usize]
    }
}

/// The leaf PTE that maps an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub pte: Pte,
    pub pte_addr: u64,
    /// 0 = 4 KiB page, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB, 4 = 256 TiB.
    pub level: u8,
    /// G set in the leaf or in any PTE above it: the spec makes a global non-leaf PTE
    /// imply that every mapping below it is global.
    pub global: bool,
}

impl Leaf {
    /// Step 8: the physical address of `va` through this leaf.
    #[inline]
    pub fn pa(&self, va: u64) -> u64 {
        let shift = page_shift(self.level);
        let offset_mask = (1u64 << shift) - 1;
        ((self.pte.ppn() << 12) & !offset_mask) | (va & offset_mask)
    }
}

/// Why a walk or a permission check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkFault {
    /// The address's upper bits are not a sign extension of the top VA bit.
    NotCanonical,
    /// V=0, W without R, or reserved bits 63:54 set (step 3).
    InvalidPte { level: u8 },
    /// A non-leaf PTE with A, D or U set (reserved for non-leaf PTEs, step 3).
    NonLeafReservedBits { level: u8 },
    /// Level 0 PTE is not a leaf (step 4).
    NoLeaf,
    /// A superpage whose PPN is not aligned to its size (step 6).
    MisalignedSuperpage { level: u8 },
    /// The leaf does not allow this access at this privilege (step 5).
    Permission,
    /// Svade: A=0, or D=0 on a store (step 7).
    AccessedDirty,
    /// Reading (or Svadu-updating) a PTE failed the PMP check or the PMA check (the PTE is
    /// not in main memory, or an update would write to read-only memory).
    PteAccess { pte_addr: u64 },
}

impl WalkFault {
    /// Page fault, except for failed PTE accesses, which are access faults of the
    /// original access type.
    pub fn is_access_fault(self) -> bool {
        matches!(self, WalkFault::PteAccess { .. })
    }

    pub fn exception(self, access: AccessType, va: u64) -> crate::cpu::trap::Exception {
        if self.is_access_fault() {
            access.access_fault(va)
        } else {
            access.page_fault(va)
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WalkFault::NotCanonical => "non-canonical address",
            WalkFault::InvalidPte { .. } => "invalid PTE",
            WalkFault::NonLeafReservedBits { .. } => "non-leaf PTE with A/D/U set",
            WalkFault::NoLeaf => "no leaf at level 0",
            WalkFault::MisalignedSuperpage { .. } => "misaligned superpage",
            WalkFault::Permission => "permission denied",
            WalkFault::AccessedDirty => "A/D bit clear (Svade)",
            WalkFault::PteAccess { .. } => "PTE access fault",
        }
    }
}

/// A page-table walker for a paging mode with `LEVELS` levels (3 = Sv39, 4 = Sv48,
/// 5 = Sv57).
pub struct Walker<const LEVELS: usize>;

pub type Sv39Walker = Walker<3>;
pub type Sv48Walker = Walker<4>;
pub type Sv57Walker = Walker<5>;

impl<const LEVELS: usize> Walker<LEVELS> {
    pub const VA_BITS: u32 = 12 + 9 * LEVELS as u32;

    /// Bits 63:VA_BITS must all equal bit VA_BITS-1.
    #[inline]
    pub fn is_canonical(va: u64) -> bool {
        let unused = 64 - Self::VA_BITS;
        (((va << unused) as i64) >> unused) as u64 == va
    }

    /// Steps 1-4 and 6: find the leaf mapping `va` in the table rooted at physical page
    /// `root_ppn`. Reads PTEs through `bus`, each PMP-checked as an S-mode load. Records
    /// every PTE read in `steps`.
    pub fn find_leaf(
        va: u64,
        root_ppn: u64,
        bus: &mut Bus,
        pmp: &mut Pmp,
        steps: &mut WalkSteps,
    ) -> Result<Leaf, WalkFault> {
        Self::find_leaf_from(va, root_ppn << 12, LEVELS - 1, false, bus, pmp, steps)
    }

    /// [`Walker::find_leaf`] from the table at physical address `table`, which holds the
    /// level-`level` PTEs for `va` (the root and `LEVELS - 1` for a whole walk; a table a
    /// page-walk cache entry points at for a shortened one), with `global` the G bit seen
    /// above it.
    pub fn find_leaf_from(
        va: u64,
        table: u64,
        level: usize,
        global: bool,
        bus: &mut Bus,
        pmp: &mut Pmp,
        steps: &mut WalkSteps,
    ) -> Result<Leaf, WalkFault> {
        if !Self::is_canonical(va) {
            return Err(WalkFault::NotCanonical);
        }
        // Step 1 (or the level a cached non-leaf PTE leads to).
        let mut table = table;
        let mut level = level.min(LEVELS - 1);
        let mut global = global;
        loop {
            // Step 2.
            let vpn = (va >> page_shift(level as u8)) & 0x1ff;
            let pte_addr = table + vpn * 8;
            if !pmp.allows(pte_addr, AccessType::Load, PRIV_S).0 {
                return Err(WalkFault::PteAccess { pte_addr });
            }
            let pte = match bus.read_pte(pte_addr) {
                Ok(v) => Pte(v),
                Err(_) => return Err(WalkFault::PteAccess { pte_addr }),
            };
            let level8 = level as u8;
            steps.push(WalkStep {
                level: level8,
                pte_addr,
                pte,
            });
            // Step 3.
            if pte.is_invalid() {
                return Err(WalkFault::InvalidPte { level: level8 });
            }
            global |= pte.has(PteFlags::G);
            // Step 4.
            if pte.is_leaf() {
                // Step 6.
                let low_ppn_mask = (1u64 << (9 * level)) - 1;
                if pte.ppn() & low_ppn_mask != 0 {
                    return Err(WalkFault::MisalignedSuperpage { level: level8 });
                }
                return Ok(Leaf {
                    pte,
                    pte_addr,
                    level: level8,
                    global,
                });
            }
            if pte.0 & (PteFlags::A | PteFlags::D | PteFlags::U) as u64 != 0 {
                return Err(WalkFault::NonLeafReservedBits { level: level8 });
            }
            if level == 0 {
                return Err(WalkFault::NoLeaf);
            }
            level -= 1;
            table = pte.ppn() << 12;
        }
    }
}

/// Is `va` canonical for `mode`? (Bare: every address is.)
#[inline]
pub fn is_canonical(mode: SatpMode, va: u64) -> bool {
    match mode {
        SatpMode::Bare => true,
        SatpMode::Sv39 => Sv39Walker::is_canonical(va),
        SatpMode::Sv48 => Sv48Walker::is_canonical(va),
        SatpMode::Sv57 => Sv57Walker::is_canonical(va),
    }
}

/// [`Walker::find_leaf`] for the walker of `mode` (which must not be Bare).
pub fn find_leaf(
    mode: SatpMode,
    va: u64,
    root_ppn: u64,
    bus: &mut Bus,
    pmp: &mut Pmp,
    steps: &mut WalkSteps,
) -> Result<Leaf, WalkFault> {
    match mode {
        SatpMode::Sv39 => Sv39Walker::find_leaf(va, root_ppn, bus, pmp, steps),
        SatpMode::Sv48 => Sv48Walker::find_leaf(va, root_ppn, bus, pmp, steps),
        SatpMode::Sv57 | SatpMode::Bare => Sv57Walker::find_leaf(va, root_ppn, bus, pmp, steps),
    }
}

/// [`Walker::find_leaf_from`] for the walker of `mode` (which must not be Bare).
#[allow(clippy::too_many_arguments)]
pub fn find_leaf_from(
    mode: SatpMode,
    va: u64,
    table: u64,
    level: usize,
    global: bool,
    bus: &mut Bus,
    pmp: &mut Pmp,
    steps: &mut WalkSteps,
) -> Result<Leaf, WalkFault> {
    match mode {
        SatpMode::Sv39 => Sv39Walker::find_leaf_from(va, table, level, global, bus, pmp, steps),
        SatpMode::Sv48 => Sv48Walker::find_leaf_from(va, table, level, global, bus, pmp, steps),
        SatpMode::Sv57 | SatpMode::Bare => {
            Sv57Walker::find_leaf_from(va, table, level, global, bus, pmp, steps)
        }
    }
}

/// Number of levels of `mode`'s page table (Bare walks as Sv57, as in [`find_leaf`]).
pub fn levels(mode: SatpMode) -> u8 {
    match mode {
        SatpMode::Sv39 => 3,
        SatpMode::Sv48 => 4,
        SatpMode::Sv57 | SatpMode::Bare => 5,
    }
}

/// Step 5: may `access` at the effective privilege in `ctx` use a leaf with `pte`?
/// Covers R/W/X, MXR, and the U bit with SUM (S-mode never executes U pages; U-mode never
/// touches non-U pages).
#[inline]
pub fn leaf_permits(pte: Pte, access: AccessType, ctx: &TranslateCtx) -> bool {
    let f = pte.flags();
    let user_page = f.has(PteFlags::U);
    let privilege_ok = match (ctx.privilege, access) {
        (0, _) => user_page,
        (_, AccessType::Fetch) => !user_page,
        _ => !user_page || ctx.sum,
    };
    let rights_ok = match access {
        AccessType::Fetch => f.has(PteFlags::X),
        AccessType::Load => f.has(PteFlags::R) || (ctx.mxr && f.has(PteFlags::X)),
        AccessType::Store => f.has(PteFlags::W),
    };
    privilege_ok && rights_ok
}

/// What step 7 asks of a leaf for this access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdNeed {
    /// A (and D for stores) already set.
    None,
    /// The PTE must become this value.
    Update(Pte),
}

/// The A/D bits `access` needs in `pte`.
#[inline]
pub fn ad_need(pte: Pte, access: AccessType) -> AdNeed {
    let mut want = PteFlags::A;
    if access == AccessType::Store {
        want |= PteFlags::D;
    }
    if pte.has(want) {
        AdNeed::None
    } else {
        AdNeed::Update(Pte(pte.0 | want as u64))
    }
}

/// Svadu step 7: write the updated PTE back. The PTE store is an implicit S-mode access
/// and is PMP-checked as such. Harts run one at a time, so nothing can interleave with the
/// read-compare-write the spec asks to be atomic, except a PTE living in a device whose
/// value changes by itself: then `Ok(false)` tells the caller to walk again (step 2).
pub fn ad_update(
    leaf: &mut Leaf,
    new: Pte,
    bus: &mut Bus,
    pmp: &mut Pmp,
) -> Result<bool, WalkFault> {
    let pte_addr = leaf.pte_addr;
    if !pmp.allows(pte_addr, AccessType::Store, PRIV_S).0 {
        return Err(WalkFault::PteAccess { pte_addr });
    }
    match bus.read_pte(pte_addr) {
        Ok(current) if current == leaf.pte.0 => {}
        Ok(_) => return Ok(false),
        Err(_) => return Err(WalkFault::PteAccess { pte_addr }),
    }
    if bus.write_pte(pte_addr, new.0).is_err() {
        return Err(WalkFault::PteAccess { pte_addr });
    }
    leaf.pte = new;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_addresses() {
        assert!(Sv39Walker::is_canonical(0x3f_ffff_ffff));
        assert!(!Sv39Walker::is_canonical(0x40_0000_0000));
        assert!(Sv39Walker::is_canonical(0xffff_ffc0_0000_0000));
        assert!(Sv48Walker::is_canonical(0x7fff_ffff_ffff));
        assert!(!Sv48Walker::is_canonical(0x8000_0000_0000));
        assert!(Sv57Walker::is_canonical(0xff00_0000_0000_0000));
        assert!(!Sv57Walker::is_canonical(0xfe00_0000_0000_0000));
    }

    #[test]
    fn pa_of_superpage_takes_low_bits_from_va() {
        let leaf = Leaf {
            pte: Pte::new(0x80200, PteFlags::V | PteFlags::R),
            pte_addr: 0,
            level: 1,
            global: false,
        };
        assert_eq!(leaf.pa(0x1234_5678), 0x8020_0000 | 0x14_5678);
    }
}

//! Physical memory protection: 16 entries, OFF/TOR/NA4/NAPOT, the L bit.
//!
//! Rules (privileged spec, "Physical Memory Protection"):
//! - entries are searched from 0 up; the first entry that matches any byte of the access
//!   decides, and the access fails unless that entry matches *all* its bytes;
//! - M-mode is checked only against locked entries and is allowed when nothing matches;
//! - S and U are allowed only by a matching entry granting the permission. Because this
//!   hart implements 16 entries, an S/U access that matches no entry fails: firmware must
//!   program at least one entry (typically NAPOT over all memory, RWX) before dropping
//!   to S-mode. Our firmware and OpenSBI both do.
//!
//! The page-table walker's own PTE reads (and Svadu A/D writes) are implicit accesses and
//! are checked as S-mode accesses, whatever the privilege of the access being translated.
//!
//! Decisions are cached per 4 KiB physical page when the whole page falls inside one
//! entry (or inside none), so the common case does not scan 16 entries.

use super::AccessType;

const ENTRIES: usize = 16;
const A_OFF: u8 = 0;
const A_TOR: u8 = 1;
const A_NA4: u8 = 2;
const A_NAPOT: u8 = 3;
const CFG_R: u8 = 1;
const CFG_W: u8 = 2;
const CFG_X: u8 = 4;
const CFG_L: u8 = 0x80;

/// Permission bits in the layout of pmpcfg (R=1, W=2, X=4).
#[inline]
fn perm_bit(access: AccessType) -> u8 {
    match access {
        AccessType::Load => CFG_R,
        AccessType::Store => CFG_W,
        AccessType::Fetch => CFG_X,
    }
}

/// What a whole 4 KiB page is allowed: one permission set for M, one for S/U.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageDecision {
    ppn: u64,
    machine: u8,
    user: u8,
}

const DECISION_SLOTS: usize = 64;

/// PMP CSR state plus the derived ranges and the per-page decision cache.
#[derive(Debug, Clone)]
pub struct Pmp {
    /// One configuration byte per entry.
    pub cfg: [u8; ENTRIES],
    /// pmpaddr registers (bits 55:2 of the physical address).
    pub addr: [u64; ENTRIES],
    /// `[lo, hi)` byte range of each entry; empty for OFF entries.
    ranges: [(u64, u64); ENTRIES],
    any_active: bool,
    any_locked: bool,
    /// Direct-mapped; `None` in a slot means unknown. Pages split by an entry boundary are
    /// never stored and are checked exactly each time.
    decisions: [Option<PageDecision>; DECISION_SLOTS],
    /// Bumped on every write that changes state, so owners of derived caches can notice.
    version: u64,
}

impl Default for Pmp {
    fn default() -> Self {
        Pmp {
            cfg: [0; ENTRIES],
            addr: [0; ENTRIES],
            ranges: [(0, 0); ENTRIES],
            any_active: false,
            any_locked: false,
            decisions: [None; DECISION_SLOTS],
            version: 0,
        }
    }
}

impl Pmp {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read pmpcfgN (N even on RV64; only pmpcfg0 and pmpcfg2 hold entries 0..15).
    pub fn read_cfg(&self, n: usize) -> u64 {
        if n % 2 == 1 || n > 2 {
            return 0;
        }
        let base = n * 4;
        (0..8).fold(0, |acc, i| acc | (self.cfg[base + i] as u64) << (8 * i))
    }

    pub fn write_cfg(&mut self, n: usize, value: u64) {
        if n % 2 == 1 || n > 2 {
            return;
        }
        let base = n * 4;
        for i in 0..8 {
            if self.cfg[base + i] & CFG_L != 0 {
                continue;
            }
            let mut b = (value >> (8 * i)) as u8 & 0x9f;
            // W=1,R=0 is reserved: keep the entry's old value.
            if b & 0b11 == 0b10 {
                b = self.cfg[base + i];
            }
            self.cfg[base + i] = b;
        }
        self.recompute();
    }

    pub fn read_addr(&self, n: usize) -> u64 {
        self.addr.get(n).copied().unwrap_or(0)
    }

    pub fn write_addr(&mut self, n: usize, value: u64) {
        if n >= ENTRIES {
            return;
        }
        let locked = self.cfg[n] & CFG_L != 0;
        // A locked TOR entry also locks the pmpaddr below it.
        let next_locked_tor =
            n + 1 < ENTRIES && self.cfg[n + 1] & CFG_L != 0 && (self.cfg[n + 1] >> 3) & 3 == A_TOR;
        if locked || next_locked_tor {
            return;
        }
        self.addr[n] = value & ((1u64 << 54) - 1);
        self.recompute();
    }

    /// Changes on every PMP write.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version
    }

    fn recompute(&mut self) {
        self.version += 1;
        self.decisions = [None; DECISION_SLOTS];
        self.any_active = false;
        self.any_locked = false;
        for i in 0..ENTRIES {
            let a = (self.cfg[i] >> 3) & 3;
            let pmpaddr = self.addr[i];
            self.ranges[i] = match a {
                A_OFF => (0, 0),
                A_TOR => {
                    let lo = if i == 0 { 0 } else { self.addr[i - 1] << 2 };
                    let hi = pmpaddr << 2;
                    if lo < hi {
                        (lo, hi)
                    } else {
                        (0, 0)
                    }
                }
                A_NA4 => (pmpaddr << 2, (pmpaddr << 2) + 4),
                _ => {
                    debug_assert_eq!(a, A_NAPOT);
                    // Trailing ones of pmpaddr encode the size: t ones = 2^(t+3) bytes.
                    let t = pmpaddr.trailing_ones().min(54);
                    let size_log2 = t + 3;
                    let base = (pmpaddr & !((1u64 << t) - 1)) << 2;
                    (base, base + (1u64 << size_log2))
                }
            };
            if a != A_OFF {
                self.any_active = true;
                if self.cfg[i] & CFG_L != 0 {
                    self.any_locked = true;
                }
            }
        }
    }

    /// Permissions (R/W/X bits) that entry `i` grants at `privilege` (3 = M).
    #[inline]
    fn entry_perms(&self, i: usize, privilege: u8) -> u8 {
        let cfg = self.cfg[i];
        if privilege >= 3 && cfg & CFG_L == 0 {
            CFG_R | CFG_W | CFG_X
        } else {
            cfg & (CFG_R | CFG_W | CFG_X)
        }
    }

    /// Exact check of the bytes `[pa, pa + size)`.
    pub fn check_exact(&self, pa: u64, size: u64, access: AccessType, privilege: u8) -> bool {
        let end = pa.saturating_add(size.max(1));
        for i in 0..ENTRIES {
            let (lo, hi) = self.ranges[i];
            if lo >= hi || end <= lo || pa >= hi {
                continue;
            }
            if pa < lo || end > hi {
                return false; // partially matched: the spec says fail
            }
            return self.entry_perms(i, privilege) & perm_bit(access) != 0;
        }
        privilege >= 3
    }

    /// The decision for the whole page `ppn`, if one entry (or none) covers all of it.
    fn page_decision(&self, ppn: u64) -> Option<PageDecision> {
        self.range_decision(ppn << 12, 4096)
            .map(|(machine, user)| PageDecision { ppn, machine, user })
    }

    /// Whether `access` at `privilege` (0 U, 1 S, 3 M) is allowed at every byte of
    /// `[base, base + size)` by one decision: the first entry that overlaps the range
    /// holds all of it, or none overlaps it.
    pub fn allows_whole(&self, base: u64, size: u64, access: AccessType, privilege: u8) -> bool {
        if !self.any_active || (privilege >= 3 && !self.any_locked) {
            return privilege >= 3;
        }
        self.range_decision(base, size)
            .is_some_and(|(machine, user)| {
                let perms = if privilege >= 3 { machine } else { user };
                perms & perm_bit(access) != 0
            })
    }

    /// The permissions (M-mode, S/U-mode) of every byte of `[base, base + size)` when one
    /// decision covers the range.
    fn range_decision(&self, base: u64, size: u64) -> Option<(u8, u8)> {
        let lo_page = base;
        let hi_page = base.saturating_add(size);
        for i in 0..ENTRIES {
            let (lo, hi) = self.ranges[i];
            if lo >= hi || hi_page <= lo || lo_page >= hi {
                continue;
            }
            if lo_page < lo || hi_page > hi {
                return None;
            }
            return Some((self.entry_perms(i, 3), self.entry_perms(i, 1)));
        }
        Some((CFG_R | CFG_W | CFG_X, 0))
    }

    /// Is `access` at `privilege` (0 U, 1 S, 3 M) allowed at byte `pa`?
    /// Also returns whether the decision holds for the whole 4 KiB page (so a caller may
    /// cache it per page).
    #[inline]
    pub fn allows(&mut self, pa: u64, access: AccessType, privilege: u8) -> (bool, bool) {
        if !self.any_active || (privilege >= 3 && !self.any_locked) {
            return (privilege >= 3, true);
        }
        let ppn = pa >> 12;
        let slot = ppn as usize % DECISION_SLOTS;
        let decision = match self.decisions[slot] {
            Some(d) if d.ppn == ppn => Some(d),
            _ => {
                let d = self.page_decision(ppn);
                if d.is_some() {
                    self.decisions[slot] = d;
                }
                d
            }
        };
        match decision {
            Some(d) => {
                let perms = if privilege >= 3 { d.machine } else { d.user };
                (perms & perm_bit(access) != 0, true)
            }
            None => (self.check_exact(pa, 1, access, privilege), false),
        }
    }
}

impl Pmp {
    /// Snapshot state: the CSRs; the ranges are derived again on restore and the decision
    /// cache starts empty.
    pub(crate) fn save_state(&self, w: &mut crate::snapshot::format::Writer) {
        w.buf.extend_from_slice(&self.cfg);
        w.u64s(&self.addr);
        w.u64(self.version);
    }

    pub(crate) fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.cfg.copy_from_slice(r.take(ENTRIES)?);
        for c in &mut self.cfg {
            *c &= 0x9f;
        }
        self.addr = r.u64s()?;
        for a in &mut self.addr {
            *a &= (1u64 << 54) - 1;
        }
        let version = r.u64()?;
        self.recompute();
        self.version = version;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn napot(base: u64, size: u64) -> u64 {
        (base >> 2) | ((size >> 3) - 1)
    }

    #[test]
    fn no_entries_m_allowed_su_denied() {
        let mut p = Pmp::new();
        assert_eq!(p.allows(0x8000_0000, AccessType::Load, 3), (true, true));
        assert!(!p.allows(0x8000_0000, AccessType::Load, 1).0);
        assert!(!p.allows(0x8000_0000, AccessType::Fetch, 0).0);
    }

    #[test]
    fn napot_tor_na4_and_priority() {
        let mut p = Pmp::new();
        // entry 0: NA4 read-only at 0x8000_1000
        p.write_addr(0, 0x8000_1000 >> 2);
        // entry 1: TOR [0x8000_0000, 0x8000_2000) no permissions
        p.write_addr(1, 0x8000_2000 >> 2);
        // entry 2: NAPOT 0x8000_0000..+16M RWX
        p.write_addr(2, napot(0x8000_0000, 16 << 20));
        let cfg = (A_NA4 << 3 | CFG_R) as u64
            | ((A_TOR << 3) as u64) << 8
            | ((A_NAPOT << 3 | 7) as u64) << 16;
        p.write_cfg(0, cfg);
        // TOR entry 1 starts at pmpaddr0 (0x8000_1000): below it nothing but entry 2.
        assert!(p.allows(0x8000_0000, AccessType::Store, 1).0);
        assert!(p.allows(0x8000_1000, AccessType::Load, 1).0);
        assert!(!p.allows(0x8000_1000, AccessType::Store, 1).0);
        assert!(!p.allows(0x8000_1004, AccessType::Load, 0).0);
        assert!(p.allows(0x8000_2000, AccessType::Fetch, 0).0);
        assert!(!p.allows(0x9000_0000, AccessType::Load, 1).0);
        // M-mode: nothing locked, so everything is allowed.
        assert!(p.allows(0x8000_1004, AccessType::Store, 3).0);
        // An 8-byte access straddling the NA4 entry fails.
        assert!(!p.check_exact(0x8000_0ffc, 8, AccessType::Load, 1));
    }

    #[test]
    fn locked_entry_binds_m_mode_and_freezes() {
        let mut p = Pmp::new();
        p.write_addr(0, napot(0x8000_0000, 4096));
        p.write_cfg(0, (CFG_L | A_NAPOT << 3 | CFG_R) as u64);
        assert!(!p.allows(0x8000_0000, AccessType::Store, 3).0);
        assert!(p.allows(0x8000_0000, AccessType::Load, 3).0);
        assert!(p.allows(0x9000_0000, AccessType::Store, 3).0);
        p.write_cfg(0, 0);
        p.write_addr(0, 0);
        assert_eq!(p.read_cfg(0) as u8, CFG_L | A_NAPOT << 3 | CFG_R);
        assert_eq!(p.read_addr(0), napot(0x8000_0000, 4096));
    }

    #[test]
    fn whole_address_space_napot() {
        let mut p = Pmp::new();
        p.write_addr(0, u64::MAX);
        p.write_cfg(0, (A_NAPOT << 3 | 7) as u64);
        assert!(p.allows(0, AccessType::Store, 0).0);
        assert!(p.allows((1 << 56) - 8, AccessType::Fetch, 1).0);
    }
}

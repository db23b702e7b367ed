//! Sdtrig (RISC-V Debug Specification 1.0, "Trigger Module"): a few address-match
//! triggers that raise breakpoint exceptions.
//!
//! Every trigger is an `mcontrol6` (type 6) trigger and nothing else; `tinfo` says so.
//! Supported: `select` = address, `match` = equal (0), NAPOT (1), >= (2) and < (3),
//! `size` = any, `action` = breakpoint exception (0), `chain` = 0, the `m`/`s`/`u`
//! privilege bits and `execute`/`store`/`load`. Other values of WARL fields read back as
//! the nearest supported one (0); writing a type other than 6 leaves a disabled
//! `mcontrol6` (all fields 0), which is how software sees the type was refused. `dmode`,
//! `vs`/`vu`, `uncertain*` and `hit1` are read-only 0 (no debug mode, no hypervisor);
//! `hit0` is set when the trigger fires. `tdata3` (textra64) is read-only 0.
//!
//! Timing: every trigger fires before its instruction executes. Execute triggers compare
//! the pc; load and store triggers compare every byte the access touches. To avoid
//! re-entering a trap handler (the spec's first option, since `medeleg` bit 3 is
//! writable), triggers do not fire in M-mode while `mstatus.MIE` = 0, nor in S-mode while
//! breakpoints are delegated and `mstatus.SIE` = 0.
//!
//! Cost: none while no trigger is armed. Arming one (a trigger with an access-type bit
//! and a privilege bit set) makes the hart run the reference loop with the checks
//! ([`Hart::run`]), which never enters the fast loop nor compiled blocks.

use super::decode::{Op, OpKind};

/// Triggers per hart.
pub const COUNT: usize = 4;

/// tdata1 type of `mcontrol6`.
const TYPE_MCONTROL6: u64 = 6;
const TYPE_SHIFT: u32 = 60;

/// mcontrol6 fields.
const LOAD: u64 = 1 << 0;
const STORE: u64 = 1 << 1;
const EXECUTE: u64 = 1 << 2;
const U: u64 = 1 << 3;
const S: u64 = 1 << 4;
const M: u64 = 1 << 6;
const MATCH_SHIFT: u32 = 7;
const MATCH_MASK: u64 = 0xf << MATCH_SHIFT;
const HIT0: u64 = 1 << 22;

/// `match` values.
const MATCH_EQUAL: u64 = 0;
const MATCH_NAPOT: u64 = 1;
const MATCH_GE: u64 = 2;
const MATCH_LT: u64 = 3;

/// tinfo: version 1 (Sdtrig 1.0) in bits 31:24, and bit 6 (`mcontrol6` supported).
pub const TINFO: u64 = (1 << 24) | (1 << TYPE_MCONTROL6);

/// A disabled `mcontrol6`: what tdata1 holds at reset and after any refused write.
const DISABLED: u64 = TYPE_MCONTROL6 << TYPE_SHIFT;

#[derive(Debug, Clone, Copy)]
struct Trigger {
    tdata1: u64,
    tdata2: u64,
}

/// What kind of access a trigger is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Execute,
    Load,
    Store,
}

/// The trigger module of one hart.
#[derive(Debug, Clone)]
pub struct Triggers {
    select: usize,
    triggers: [Trigger; COUNT],
    /// Some trigger can fire at some privilege: the hart must check every instruction.
    armed: bool,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            select: 0,
            triggers: [Trigger {
                tdata1: DISABLED,
                tdata2: 0,
            }; COUNT],
            armed: false,
        }
    }
}

impl Triggers {
    #[inline(always)]
    pub fn armed(&self) -> bool {
        self.armed
    }

    pub fn tselect(&self) -> u64 {
        self.select as u64
    }

    /// WARL: an index with no trigger behind it is not taken (the old one stays), so
    /// software enumerating triggers reads back something other than what it wrote.
    pub fn write_tselect(&mut self, v: u64) {
        if v < COUNT as u64 {
            self.select = v as usize;
        }
    }

    pub fn tdata1(&self) -> u64 {
        self.triggers[self.select].tdata1
    }

    pub fn tdata2(&self) -> u64 {
        self.triggers[self.select].tdata2
    }

    pub fn write_tdata1(&mut self, v: u64) {
        let legal = if v >> TYPE_SHIFT != TYPE_MCONTROL6 {
            DISABLED
        } else {
            let matching = match (v & MATCH_MASK) >> MATCH_SHIFT {
                m @ (MATCH_EQUAL | MATCH_NAPOT | MATCH_GE | MATCH_LT) => m,
                _ => MATCH_EQUAL,
            };
            DISABLED | (v & (LOAD | STORE | EXECUTE | U | S | M | HIT0)) | (matching << MATCH_SHIFT)
        };
        self.triggers[self.select].tdata1 = legal;
        self.armed = self
            .triggers
            .iter()
            .any(|t| t.tdata1 & (LOAD | STORE | EXECUTE) != 0 && t.tdata1 & (U | S | M) != 0);
    }

    pub fn write_tdata2(&mut self, v: u64) {
        self.triggers[self.select].tdata2 = v;
    }

    /// Whether a trigger fires for `access` to `[addr, addr + size)` at privilege
    /// `privilege` (whether triggers may fire at all there is the caller's business); the
    /// first one that does records the hit in its `hit0`.
    pub fn fire(&mut self, access: Access, privilege: u8, addr: u64, size: u64) -> bool {
        let kind = match access {
            Access::Execute => EXECUTE,
            Access::Load => LOAD,
            Access::Store => STORE,
        };
        let mode = match privilege {
            0 => U,
            1 => S,
            _ => M,
        };
        let last = addr.wrapping_add(size.max(1) - 1);
        for t in &mut self.triggers {
            if t.tdata1 & kind == 0 || t.tdata1 & mode == 0 {
                continue;
            }
            let hit = match (t.tdata1 & MATCH_MASK) >> MATCH_SHIFT {
                MATCH_NAPOT => {
                    // Bits up to and including the lowest clear bit of tdata2 are ignored.
                    let ignored = t.tdata2 ^ t.tdata2.wrapping_add(1);
                    let (lo, hi) = (t.tdata2 & !ignored, t.tdata2 | ignored);
                    addr <= hi && last >= lo
                }
                MATCH_GE => last >= t.tdata2,
                MATCH_LT => addr < t.tdata2,
                _ => addr <= t.tdata2 && t.tdata2 <= last,
            };
            if hit {
                t.tdata1 |= HIT0;
                return true;
            }
        }
        false
    }
}

/// The data access `op` would make, as `(access, address, size)` (AMOs count as both a
/// load and a store: the load is asked first, then the store), given its source register
/// `base` (rs1's value). None for instructions that touch no data memory.
pub fn data_accesses(op: &Op, base: u64) -> Option<(&'static [Access], u64, u64)> {
    const LOAD: &[Access] = &[Access::Load];
    const STORE: &[Access] = &[Access::Store];
    const BOTH: &[Access] = &[Access::Load, Access::Store];
    let at = base.wrapping_add(op.imm as i64 as u64);
    Some(match op.k {
        OpKind::Lb | OpKind::Lbu => (LOAD, at, 1),
        OpKind::Lh | OpKind::Lhu => (LOAD, at, 2),
        OpKind::Lw | OpKind::Lwu | OpKind::Flw => (LOAD, at, 4),
        OpKind::Ld | OpKind::Fld => (LOAD, at, 8),
        OpKind::Sb => (STORE, at, 1),
        OpKind::Sh => (STORE, at, 2),
        OpKind::Sw | OpKind::Fsw => (STORE, at, 4),
        OpKind::Sd | OpKind::Fsd => (STORE, at, 8),
        OpKind::LrW => (LOAD, base, 4),
        OpKind::LrD => (LOAD, base, 8),
        OpKind::ScW => (STORE, base, 4),
        OpKind::ScD => (STORE, base, 8),
        OpKind::AmoW => (BOTH, base, 4),
        OpKind::AmoD => (BOTH, base, 8),
        _ => return None,
    })
}

impl Triggers {
    /// Snapshot state (`emu run --save`).
    pub(crate) fn save_state(&self, w: &mut crate::snapshot::format::Writer) {
        w.u64(self.select as u64);
        for t in &self.triggers {
            w.u64(t.tdata1);
            w.u64(t.tdata2);
        }
        w.bool(self.armed);
    }

    pub(crate) fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.select = r.count(COUNT - 1)?;
        for t in &mut self.triggers {
            t.tdata1 = r.u64()?;
            t.tdata2 = r.u64()?;
        }
        self.armed = r.bool()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn armed(tdata1: u64, tdata2: u64) -> Triggers {
        let mut t = Triggers::default();
        t.write_tdata2(tdata2);
        t.write_tdata1(tdata1);
        t
    }

    #[test]
    fn unsupported_type_reads_back_as_disabled_mcontrol6() {
        let mut t = Triggers::default();
        t.write_tdata1((2 << 60) | M | EXECUTE);
        assert_eq!(t.tdata1(), DISABLED);
        assert!(!t.armed());
        t.write_tdata1(0);
        assert_eq!(t.tdata1() >> 60, 6);
    }

    #[test]
    fn tselect_is_warl() {
        let mut t = Triggers::default();
        t.write_tselect(COUNT as u64 - 1);
        t.write_tselect(COUNT as u64);
        assert_eq!(t.tselect(), COUNT as u64 - 1);
    }

    #[test]
    fn match_kinds() {
        let m6 = DISABLED | M | LOAD;
        let eq = armed(m6, 0x1003);
        let mut e = eq.clone();
        assert!(e.fire(Access::Load, 3, 0x1000, 8));
        assert!(e.tdata1() & HIT0 != 0);
        assert!(!eq.clone().fire(Access::Load, 3, 0x1004, 8));
        assert!(!eq.clone().fire(Access::Store, 3, 0x1000, 8));
        assert!(!eq.clone().fire(Access::Load, 1, 0x1000, 8));
        // NAPOT 0x2000..=0x20ff.
        let napot = armed(m6 | (MATCH_NAPOT << MATCH_SHIFT), 0x207f);
        assert!(napot.clone().fire(Access::Load, 3, 0x20fc, 8));
        assert!(!napot.clone().fire(Access::Load, 3, 0x2100, 1));
        assert!(!napot.clone().fire(Access::Load, 3, 0x1ff8, 8));
        let ge = armed(m6 | (MATCH_GE << MATCH_SHIFT), 0x3000);
        assert!(ge.clone().fire(Access::Load, 3, 0x2ffc, 8));
        assert!(!ge.clone().fire(Access::Load, 3, 0x2ff8, 8));
        let lt = armed(m6 | (MATCH_LT << MATCH_SHIFT), 0x3000);
        assert!(lt.clone().fire(Access::Load, 3, 0x2fff, 8));
        assert!(!lt.clone().fire(Access::Load, 3, 0x3000, 1));
    }
}

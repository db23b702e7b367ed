//! MMU events as trace events: what the hart drains from the MMU's event log after each
//! instruction becomes [`Event`]s here.

use super::{Access, Event, Header, Kind, TlbKind, WalkResult, WalkStep};
use crate::mmu::{AccessType, MmuEvent, TlbEventKind, WalkFault};

/// The [`Kind`] `--trace` names an event by.
pub fn kind_of(e: &Event) -> Kind {
    match e {
        Event::Insn { .. } => Kind::Insn,
        Event::Walk { .. } => Kind::Walk,
        Event::Tlb { .. } | Event::StaleTlb { .. } => Kind::Tlb,
        Event::Satp { .. } | Event::WindowOpen { .. } => Kind::Satp,
        Event::Sfence { .. } => Kind::Sfence,
        Event::Trap { .. } => Kind::Trap,
        Event::Mode { .. } => Kind::Mode,
        Event::Mmio { .. } => Kind::Mmio,
        Event::Sbi { .. } => Kind::Sbi,
    }
}

fn access_of(a: AccessType) -> Access {
    match a {
        AccessType::Fetch => Access::Fetch,
        AccessType::Load => Access::Load,
        AccessType::Store => Access::Store,
    }
}

fn page_size(level: u8) -> u64 {
    1u64 << (12 + 9 * level as u64)
}

/// An MMU event as a trace event.
pub fn from_mmu(e: &MmuEvent, h: Header) -> Option<Event> {
    Some(match e {
        MmuEvent::Walk {
            va,
            access,
            satp,
            steps,
            result,
            pwc,
        } => {
            let mut out = [WalkStep::default(); 5];
            for (o, s) in out.iter_mut().zip(steps.as_slice()) {
                *o = WalkStep {
                    level: s.level,
                    pte_addr: s.pte_addr,
                    pte: s.pte.0,
                };
            }
            let result = match result {
                Ok(leaf) => WalkResult::Leaf {
                    level: leaf.level,
                    page_size: page_size(leaf.level),
                    pa: leaf.pa(*va),
                },
                Err(f) => WalkResult::Fault {
                    cause: WalkFault::exception(*f, *access, *va).cause,
                },
            };
            Event::Walk {
                h,
                va: *va,
                access: access_of(*access),
                satp: *satp,
                steps: Box::new(out),
                nsteps: steps.len,
                result,
                pwc_hit: pwc.hit.unwrap_or(0),
                pwc_missed: pwc.missed,
            }
        }
        MmuEvent::Tlb {
            kind,
            level,
            va,
            asid,
            entry,
        } => Event::Tlb {
            h,
            kind: match kind {
                TlbEventKind::Hit => TlbKind::Hit,
                TlbEventKind::Miss => TlbKind::Miss,
                TlbEventKind::Fill => TlbKind::Fill,
                TlbEventKind::Evict => TlbKind::Evict,
            },
            tlb: level.name(),
            va: *va,
            asid: *asid,
            page_size: entry.map(|e| page_size(e.level)).unwrap_or(0),
            cause: "",
        },
        MmuEvent::TlbFlush {
            level,
            vaddr,
            asid,
            removed: _,
        } => Event::Tlb {
            h,
            kind: TlbKind::Flush,
            tlb: level.name(),
            va: vaddr.unwrap_or(0),
            asid: asid.unwrap_or(0),
            page_size: 0,
            cause: match (vaddr, asid) {
                (None, None) => "sfence.vma all",
                (Some(_), None) => "sfence.vma address",
                (None, Some(_)) => "sfence.vma asid",
                (Some(_), Some(_)) => "sfence.vma address+asid",
            },
        },
        MmuEvent::Sfence { vaddr, asid } => Event::Sfence {
            h,
            vaddr: *vaddr,
            asid: *asid,
        },
        MmuEvent::Satp { old, new } => Event::Satp {
            h,
            old: *old,
            new: *new,
        },
        MmuEvent::Stale(s) => {
            let off_mask = page_size(s.old_level) - 1;
            Event::StaleTlb {
                h,
                pc: s.pc,
                va: s.va,
                cached_pa: ((s.old_pte.ppn() << 12) & !off_mask) | (s.va & off_mask),
                walked_pa: s.new.as_ref().ok().map(|l| l.pa(s.va)),
                old_pte: s.old_pte.0,
                new_pte: s.new.as_ref().map(|l| l.pte.0).unwrap_or(0),
            }
        }
    })
}

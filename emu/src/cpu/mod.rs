//! The hart: RV64GC with M/S/U privilege.
//!
//! Public contract used by the machine (`machine`): construct with [`Hart::new`], set the
//! entry state, then call [`Hart::run`] in quanta; between quanta the machine feeds the
//! interrupt lines and the time.

pub mod fpu;
pub mod trap;

use crate::bus::Bus;
use crate::mmu::{Mmu, MmuConfig};

/// Privilege levels (the encoding of mstatus.MPP).
pub const PRIV_U: u8 = 0;
pub const PRIV_S: u8 = 1;
pub const PRIV_M: u8 = 3;

/// Why [`Hart::run`] returned before its budget was used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStop {
    /// The budget was used up.
    Budget,
    /// The hart executed WFI and no enabled interrupt is pending.
    Wfi,
    /// Something the machine must look at now: an exit request on the bus, a CSR write
    /// that may unmask an interrupt, a CLINT/PLIC access.
    Yield,
}

pub struct Hart {
    pub hartid: u64,
    pub x: [u64; 32],
    pub pc: u64,
    pub privilege: u8,
    pub mmu: Mmu,
    pub instret: u64,
}

impl Hart {
    pub fn new(hartid: u64, mmu: MmuConfig) -> Self {
        Hart {
            hartid,
            x: [0; 32],
            pc: 0,
            privilege: PRIV_M,
            mmu: Mmu::new(mmu),
            instret: 0,
        }
    }

    /// Run up to `budget` instructions. Returns how many retired and why it stopped.
    pub fn run(&mut self, _bus: &mut Bus, _budget: u64) -> (u64, RunStop) {
        (0, RunStop::Wfi)
    }

    /// mip bits driven by hardware (MSIP, MTIP, MEIP, SEIP) as the CLINT and PLIC see them.
    pub fn set_interrupt_lines(&mut self, _bits: u64) {}

    /// The current value of `mtime` (what the `time` CSR reads).
    pub fn set_time(&mut self, _mtime: u64) {}

    /// In WFI with no enabled interrupt pending.
    pub fn waiting(&self) -> bool {
        false
    }
}

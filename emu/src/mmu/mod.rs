//! Address translation: the Sv39/Sv48/Sv57 walker, the TLB model, PMP and the fast path.
//!
//! Contract with the hart (`cpu`): every guest memory access goes through
//! [`Mmu::translate`]; the hart passes what the spec says the translation depends on in a
//! [`TranslateCtx`]. The hart never walks page tables itself.

use crate::bus::Bus;
use crate::cpu::trap::Exception;

/// The three kinds of access the spec distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessType {
    Fetch,
    Load,
    Store,
}

impl AccessType {
    /// The page-fault cause for this access.
    pub fn page_fault(self, va: u64) -> Exception {
        let cause = match self {
            AccessType::Fetch => Exception::INSN_PAGE_FAULT,
            AccessType::Load => Exception::LOAD_PAGE_FAULT,
            AccessType::Store => Exception::STORE_PAGE_FAULT,
        };
        Exception::new(cause, va)
    }

    /// The access-fault cause for this access.
    pub fn access_fault(self, va: u64) -> Exception {
        let cause = match self {
            AccessType::Fetch => Exception::INSN_ACCESS_FAULT,
            AccessType::Load => Exception::LOAD_ACCESS_FAULT,
            AccessType::Store => Exception::STORE_ACCESS_FAULT,
        };
        Exception::new(cause, va)
    }
}

/// satp.MODE values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SatpMode {
    Bare = 0,
    Sv39 = 8,
    Sv48 = 9,
    Sv57 = 10,
}

impl SatpMode {
    pub fn from_bits(mode: u64) -> Option<SatpMode> {
        match mode {
            0 => Some(SatpMode::Bare),
            8 => Some(SatpMode::Sv39),
            9 => Some(SatpMode::Sv48),
            10 => Some(SatpMode::Sv57),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SatpMode::Bare => "bare",
            SatpMode::Sv39 => "sv39",
            SatpMode::Sv48 => "sv48",
            SatpMode::Sv57 => "sv57",
        }
    }
}

/// Everything outside the MMU that a translation depends on, for one access.
///
/// `privilege` is the *effective* privilege of the access: for loads and stores with
/// mstatus.MPRV = 1 in M-mode the hart passes MPP here (the spec's rule), for fetches the
/// current privilege. 0 = U, 1 = S, 3 = M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranslateCtx {
    pub satp: u64,
    pub privilege: u8,
    pub sum: bool,
    pub mxr: bool,
}

/// Configuration chosen on the command line.
#[derive(Debug, Clone)]
pub struct MmuConfig {
    /// Highest satp mode the hart implements (`--sv39/--sv48/--sv57`).
    pub max_mode: SatpMode,
    /// Hardware A/D updates (Svadu) instead of page faults (Svade).
    pub svadu: bool,
}

impl Default for MmuConfig {
    fn default() -> Self {
        MmuConfig {
            max_mode: SatpMode::Sv57,
            svadu: false,
        }
    }
}

pub mod pmp;
pub use pmp::Pmp;

/// The MMU of one hart.
pub struct Mmu {
    pub config: MmuConfig,
    pub pmp: Pmp,
    /// Changes whenever a translation the hart may have cached becomes invalid
    /// (sfence.vma, PMP writes). The hart's own fetch-page cache compares it.
    generation: u64,
}

impl Mmu {
    pub fn new(config: MmuConfig) -> Self {
        Mmu {
            config,
            pmp: Pmp::new(),
            generation: 0,
        }
    }

    /// Translate `va` for `access`. Returns the physical address or the exception
    /// (page fault with tval = va, or access fault) the hart must raise.
    #[inline]
    pub fn translate(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
        _bus: &mut Bus,
    ) -> Result<u64, Exception> {
        let mode = ctx.satp >> 60;
        if mode == 0 || ctx.privilege == 3 {
            return Ok(va);
        }
        // Paged modes arrive with the MMU issue.
        Err(access.page_fault(va))
    }

    /// WARL rule for satp: is `value` a legal satp (supported MODE)? If not, the hart
    /// leaves satp unchanged. Also reports the ASID mask.
    pub fn satp_write(&self, old: u64, value: u64) -> u64 {
        let mode = value >> 60;
        match SatpMode::from_bits(mode) {
            Some(m) if m <= self.config.max_mode => value,
            _ => old,
        }
    }

    /// `sfence.vma rs1, rs2`: `vaddr` = rs1 when rs1 != x0, `asid` = rs2 when rs2 != x0.
    pub fn sfence_vma(&mut self, _vaddr: Option<u64>, _asid: Option<u16>) {
        self.generation += 1;
    }

    /// Called by the hart after each satp write (the TLB is *not* flushed: the guest
    /// must fence; this only records the event).
    pub fn satp_written(&mut self, _old: u64, _new: u64) {}

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True when statistics, tracing or `--check-tlb` need every access to go through
    /// [`Mmu::translate`] (the hart must then not use its own fetch-page cache).
    #[inline]
    pub fn observed(&self) -> bool {
        false
    }

    /// PMP CSR write (pmpcfg0..15 / pmpaddr0..63 numbering of the spec).
    pub fn pmp_changed(&mut self) {
        self.generation += 1;
    }
}

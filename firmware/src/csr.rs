//! Machine-mode CSR access and the bit positions this firmware uses.

/// Reads a CSR given by name (`read!("mcause")`).
macro_rules! read {
    ($csr:literal) => {{
        let value: usize;
        // SAFETY: reading a CSR has no side effects on memory.
        unsafe { core::arch::asm!(concat!("csrr {0}, ", $csr), out(reg) value) };
        value
    }};
}

/// Writes a CSR given by name.
macro_rules! write {
    ($csr:literal, $value:expr) => {{
        let value: usize = $value;
        // SAFETY: callers only write M-mode state that this firmware owns.
        unsafe { core::arch::asm!(concat!("csrw ", $csr, ", {0}"), in(reg) value) };
    }};
}

/// Sets the given bits in a CSR.
macro_rules! set {
    ($csr:literal, $bits:expr) => {{
        let bits: usize = $bits;
        // SAFETY: as for `write!`.
        unsafe { core::arch::asm!(concat!("csrs ", $csr, ", {0}"), in(reg) bits) };
    }};
}

/// Clears the given bits in a CSR.
macro_rules! clear {
    ($csr:literal, $bits:expr) => {{
        let bits: usize = $bits;
        // SAFETY: as for `write!`.
        unsafe { core::arch::asm!(concat!("csrc ", $csr, ", {0}"), in(reg) bits) };
    }};
}

pub(crate) use {clear, read, set, write};

// mstatus
pub const MSTATUS_SIE: usize = 1 << 1;
pub const MSTATUS_MIE: usize = 1 << 3;
pub const MSTATUS_SPIE: usize = 1 << 5;
pub const MSTATUS_MPIE: usize = 1 << 7;
pub const MSTATUS_SPP: usize = 1 << 8;
pub const MSTATUS_MPP_SHIFT: usize = 11;
pub const MSTATUS_MPP: usize = 3 << MSTATUS_MPP_SHIFT;
pub const MSTATUS_MPRV: usize = 1 << 17;
pub const PRIV_S: usize = 1;

// mip / mie / mideleg
pub const IRQ_S_SOFT: usize = 1;
pub const IRQ_M_SOFT: usize = 3;
pub const IRQ_S_TIMER: usize = 5;
pub const IRQ_M_TIMER: usize = 7;
pub const IRQ_S_EXT: usize = 9;
pub const MIP_SSIP: usize = 1 << IRQ_S_SOFT;
pub const MIP_MSIP: usize = 1 << IRQ_M_SOFT;
pub const MIP_STIP: usize = 1 << IRQ_S_TIMER;
pub const MIP_MTIP: usize = 1 << IRQ_M_TIMER;
pub const MIP_SEIP: usize = 1 << IRQ_S_EXT;

// mcause exception codes
pub const CAUSE_ILLEGAL_INSTRUCTION: usize = 2;
pub const CAUSE_MISALIGNED_LOAD: usize = 4;
pub const CAUSE_LOAD_ACCESS: usize = 5;
pub const CAUSE_MISALIGNED_STORE: usize = 6;
pub const CAUSE_STORE_ACCESS: usize = 7;
pub const CAUSE_SUPERVISOR_ECALL: usize = 9;
pub const MCAUSE_INTERRUPT: usize = 1 << (usize::BITS - 1);

// menvcfg: each field is read-only zero when its extension is absent, so setting them all
// and reading back both enables and detects the extensions.
pub const MENVCFG_CBIE_FLUSH: usize = 0b01 << 4;
pub const MENVCFG_CBCFE: usize = 1 << 6;
pub const MENVCFG_CBZE: usize = 1 << 7;
pub const MENVCFG_PBMTE: usize = 1 << 62;
pub const MENVCFG_STCE: usize = 1 << 63;

// pmpcfg fields
pub const PMP_R: usize = 1 << 0;
pub const PMP_W: usize = 1 << 1;
pub const PMP_X: usize = 1 << 2;
pub const PMP_A_NAPOT: usize = 3 << 3;

/// Runs `csrrs value, CSR, bits` on a CSR the hart may not have, returning the CSR's old
/// value, or `None` if the access raised an illegal-instruction exception.
///
/// A temporary trap vector skips the faulting instruction instead of letting the fault reach
/// the firmware's fatal-trap path.
macro_rules! try_set_bits {
    ($csr:literal, $bits:expr) => {{
        let bits: usize = $bits;
        let value: usize;
        let trapped: usize;
        // SAFETY: the temporary mtvec is restored before the asm ends; the probe handler
        // only advances mepc past the 4-byte CSR instruction and returns to M-mode.
        unsafe {
            core::arch::asm!(
                "la {tmp}, 3f",
                "csrrw {saved}, mtvec, {tmp}",
                "li {trapped}, 0",
                concat!("csrrs {value}, ", $csr, ", {bits}"),
                "j 4f",
                ".balign 4",
                "3:",
                "li {trapped}, 1",
                "csrr {tmp}, mepc",
                "addi {tmp}, {tmp}, 4",
                "csrw mepc, {tmp}",
                "li {tmp}, 0x1800",
                "csrs mstatus, {tmp}",
                "mret",
                "4:",
                "csrw mtvec, {saved}",
                bits = in(reg) bits,
                tmp = out(reg) _,
                saved = out(reg) _,
                trapped = out(reg) trapped,
                value = out(reg) value,
            );
        }
        (trapped == 0).then_some(value)
    }};
}
pub(crate) use try_set_bits;

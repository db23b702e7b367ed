//! Exceptions and interrupts: cause codes of the privileged spec, one place.

/// A synchronous exception: `mcause`/`scause` code and the value for `xtval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub cause: u64,
    pub tval: u64,
}

impl Exception {
    pub const INSN_MISALIGNED: u64 = 0;
    pub const INSN_ACCESS_FAULT: u64 = 1;
    pub const ILLEGAL_INSN: u64 = 2;
    pub const BREAKPOINT: u64 = 3;
    pub const LOAD_MISALIGNED: u64 = 4;
    pub const LOAD_ACCESS_FAULT: u64 = 5;
    pub const STORE_MISALIGNED: u64 = 6;
    pub const STORE_ACCESS_FAULT: u64 = 7;
    pub const ECALL_FROM_U: u64 = 8;
    pub const ECALL_FROM_S: u64 = 9;
    pub const ECALL_FROM_M: u64 = 11;
    pub const INSN_PAGE_FAULT: u64 = 12;
    pub const LOAD_PAGE_FAULT: u64 = 13;
    pub const STORE_PAGE_FAULT: u64 = 15;

    #[inline]
    pub const fn new(cause: u64, tval: u64) -> Self {
        Exception { cause, tval }
    }

    #[inline]
    pub const fn illegal(insn: u64) -> Self {
        Exception::new(Self::ILLEGAL_INSN, insn)
    }

    /// Human name of an exception cause, for traces and statistics.
    pub fn cause_name(cause: u64) -> &'static str {
        match cause {
            0 => "instruction_address_misaligned",
            1 => "instruction_access_fault",
            2 => "illegal_instruction",
            3 => "breakpoint",
            4 => "load_address_misaligned",
            5 => "load_access_fault",
            6 => "store_address_misaligned",
            7 => "store_access_fault",
            8 => "user_ecall",
            9 => "supervisor_ecall",
            11 => "machine_ecall",
            12 => "instruction_page_fault",
            13 => "load_page_fault",
            15 => "store_page_fault",
            _ => "reserved",
        }
    }
}

/// Interrupt numbers (bit positions in mip/mie).
pub mod irq {
    pub const SSI: u64 = 1;
    pub const MSI: u64 = 3;
    pub const STI: u64 = 5;
    pub const MTI: u64 = 7;
    pub const SEI: u64 = 9;
    pub const MEI: u64 = 11;

    pub fn name(n: u64) -> &'static str {
        match n {
            SSI => "supervisor_software",
            MSI => "machine_software",
            STI => "supervisor_timer",
            MTI => "machine_timer",
            SEI => "supervisor_external",
            MEI => "machine_external",
            _ => "reserved",
        }
    }
}

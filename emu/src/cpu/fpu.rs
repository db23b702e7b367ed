//! Placeholder for the FPU (written by another helper): every OP-FP instruction is
//! illegal until the real `execute` lands. Only the signature is the contract.

pub struct FpState {
    pub f: [u64; 32],
    pub fflags: u8,
    pub frm: u8,
}

/// Execute one OP-FP or fused-multiply-add instruction (not loads/stores). Reads/writes
/// `fp.f`, accumulates `fp.fflags`, uses `fp.frm` when rm == 7 (dyn). Writes `x[rd]` for
/// instructions with an integer destination (never x[0]). Err(()) = illegal instruction
/// (undefined encoding, or reserved rounding mode / dyn with an invalid frm).
#[allow(clippy::result_unit_err)] // the signature is the FPU contract
pub fn execute(_insn: u32, _fp: &mut FpState, _x: &mut [u64; 32]) -> Result<(), ()> {
    Err(())
}

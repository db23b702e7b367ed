//! What each integer instruction does, written once.
//!
//! [`Hart::exec`] is one `match` over the decoded op for every instruction that is plain
//! integer computation, a branch or jump, or a load or store: the whole of RV64IM but
//! the system instructions and atomics. It changes registers and memory and returns a
//! [`Flow`] that says what happens next; it never touches the pc, the retired-instruction
//! count or the trap CSRs, which are the run loop's business. Loads and stores go
//! through a [`DataPath`], the one thing that differs between the loops that instantiate
//! the body: the reference path translates every access through the MMU, the cached path
//! tries the hart's data-page cache first, the counted path accounts each access to the
//! MMU's counters in batches (`data_path.rs`).
//!
//! [`Hart::execute`] is the reference instantiation: `exec` with the reference data
//! path, then everything `exec` leaves alone (atomics, CSRs, xRET, fences, FP).

use super::data_path::{DataPath, Reference};
use super::decode::{AmoOp, OpKind};
use super::trap::Exception;
use super::{read_le, sext32, write_le, Hart, Step, SEE_STEP};
use crate::bus::Bus;

/// What an instruction executed by [`Hart::exec`] asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    /// Retired; the next instruction follows it in memory.
    Next,
    /// Retired; control goes to this address.
    Jump(u64),
    /// Retired; a store reached a device, so the machine must look before anything else
    /// runs.
    Device,
    /// Raised this exception; nothing was written. The loop takes the trap.
    Trap(Exception),
    /// Not executed: the slot is not decoded (never, or a store overwrote it) or is the
    /// sentinel past the end of a decoded page; the fetch path takes over at pc.
    Refetch,
    /// Not executed: not one of the ops `exec` implements (system, atomic, FP).
    Other,
}

impl Hart {
    /// Execute the op at decode-cache `index`, which sits at `pc`, if it is one this
    /// body implements (see the module comment).
    #[inline(always)]
    pub(super) fn exec<D: DataPath>(
        &mut self,
        bus: &mut Bus,
        data: &mut D,
        index: usize,
        pc: u64,
    ) -> Flow {
        match self.exec_or_raise(bus, data, index, pc) {
            Ok(flow) => flow,
            Err(e) => Flow::Trap(e),
        }
    }

    /// [`Hart::exec`], with an exception as an error so that accesses can use `?`.
    #[inline(always)]
    fn exec_or_raise<D: DataPath>(
        &mut self,
        bus: &mut Bus,
        data: &mut D,
        index: usize,
        pc: u64,
    ) -> Result<Flow, Exception> {
        // Field by field from the cache slot: copying the whole `Op` made the compiler
        // bounce it through the stack on every instruction.
        let op = self.decoded.slot(index);
        let (kind, rd, rs1, rs2, imm, len) = (op.k, op.rd(), op.rs1, op.rs2, op.imm, op.len());
        let a = self.x[rs1 as usize & 31];
        let b = self.x[rs2 as usize & 31];
        let imm = imm as i64 as u64;
        let ea = a.wrapping_add(imm);
        let branch = |taken: bool| {
            Ok(if taken {
                Flow::Jump(pc.wrapping_add(imm))
            } else {
                Flow::Next
            })
        };
        let stored = |device: bool| Ok(if device { Flow::Device } else { Flow::Next });
        let value = match kind {
            OpKind::Lui => imm,
            OpKind::Auipc => pc.wrapping_add(imm),
            OpKind::Jal => {
                self.x[rd] = pc.wrapping_add(len);
                return Ok(Flow::Jump(pc.wrapping_add(imm)));
            }
            OpKind::Jalr => {
                self.x[rd] = pc.wrapping_add(len);
                return Ok(Flow::Jump(ea & !1));
            }
            OpKind::Beq => return branch(a == b),
            OpKind::Bne => return branch(a != b),
            OpKind::Blt => return branch((a as i64) < (b as i64)),
            OpKind::Bge => return branch((a as i64) >= (b as i64)),
            OpKind::Bltu => return branch(a < b),
            OpKind::Bgeu => return branch(a >= b),
            OpKind::Lb => data.load(self, bus, pc, ea, 1)? as i8 as i64 as u64,
            OpKind::Lh => data.load(self, bus, pc, ea, 2)? as i16 as i64 as u64,
            OpKind::Lw => data.load(self, bus, pc, ea, 4)? as i32 as i64 as u64,
            OpKind::Ld => data.load(self, bus, pc, ea, 8)?,
            OpKind::Lbu => data.load(self, bus, pc, ea, 1)?,
            OpKind::Lhu => data.load(self, bus, pc, ea, 2)?,
            OpKind::Lwu => data.load(self, bus, pc, ea, 4)?,
            OpKind::Sb => return stored(data.store(self, bus, pc, ea, 1, b)?),
            OpKind::Sh => return stored(data.store(self, bus, pc, ea, 2, b)?),
            OpKind::Sw => return stored(data.store(self, bus, pc, ea, 4, b)?),
            OpKind::Sd => return stored(data.store(self, bus, pc, ea, 8, b)?),
            OpKind::Fence => return Ok(Flow::Next),
            OpKind::LrW | OpKind::LrD | OpKind::ScW | OpKind::ScD | OpKind::AmoW | OpKind::AmoD => {
                return Ok(self.exec_atomic(bus, data, pc, (kind, rd, a, b, imm as i32)));
            }
            OpKind::Empty | OpKind::PageEnd => return Ok(Flow::Refetch),
            _ => match alu(kind, a, b, imm) {
                Some(v) => v,
                None => return Ok(Flow::Other),
            },
        };
        self.x[rd] = value;
        Ok(Flow::Next)
    }

    /// An LR, SC or AMO whose access the data path serves from RAM
    /// ([`DataPath::atomic`]); [`Flow::Other`], having changed nothing, when it does not
    /// (the reference path raises a misaligned access's exception before translating).
    /// `(kind, rd, rs1's value, rs2's value, the AMO's operation)` as `exec` read them.
    #[inline(never)]
    fn exec_atomic<D: DataPath>(
        &mut self,
        bus: &mut Bus,
        data: &mut D,
        pc: u64,
        (kind, rd, va, src, amo): (OpKind, usize, u64, u64, i32),
    ) -> Flow {
        let size = match kind {
            OpKind::LrW | OpKind::ScW | OpKind::AmoW => 4,
            _ => 8,
        };
        let load = matches!(kind, OpKind::LrW | OpKind::LrD);
        if va & (size - 1) != 0 {
            return Flow::Other;
        }
        let Some(off) = data.atomic(self, bus, pc, va, size, !load) else {
            return Flow::Other;
        };
        let widen = |raw: u64| if size == 4 { sext32(raw) } else { raw };
        let pa = bus.ram.base() + off as u64;
        let raw = read_le(bus.ram.as_slice(), off, size);
        let (result, stored) = match kind {
            OpKind::LrW | OpKind::LrD => {
                self.reservation = Some((pa, raw));
                (widen(raw), None)
            }
            OpKind::ScW | OpKind::ScD => {
                let ok = matches!(self.reservation.take(), Some((at, loaded)) if at == pa && raw == loaded);
                ((!ok) as u64, ok.then_some(src))
            }
            _ => {
                let new = AmoOp::from_imm(amo).apply(widen(raw), widen(src));
                (widen(raw), Some(new))
            }
        };
        if let Some(value) = stored {
            write_le(bus.ram.as_mut_slice(), off, size, value);
            self.note_ram_store(off, size as usize);
        }
        self.x[rd] = result;
        Flow::Next
    }

    /// Execute the op at decode-cache `index`, which sits at `pc`, through the reference
    /// data path. Returns the next pc, or `SEE_STEP` when the instruction trapped or
    /// needs the run loop's attention (`self.pc` and `self.special` then say what
    /// happened).
    #[inline(always)]
    pub(super) fn execute(&mut self, index: usize, pc: u64, bus: &mut Bus) -> u64 {
        match self.exec(bus, &mut Reference, index, pc) {
            Flow::Next => pc.wrapping_add(self.decoded.slot(index).len()),
            Flow::Jump(target) => target,
            Flow::Device => {
                self.pc = pc.wrapping_add(self.decoded.slot(index).len());
                self.after_slow(Ok(Step::Yield))
            }
            Flow::Trap(e) => {
                self.pc = pc;
                self.after_slow(Err(e))
            }
            // A slot the fetch just decoded is never empty.
            Flow::Other | Flow::Refetch => self.execute_other(index, pc, bus),
        }
    }

    /// The ops [`Hart::exec`] leaves alone: atomics, then everything else (system, FP).
    #[inline(never)]
    fn execute_other(&mut self, index: usize, pc: u64, bus: &mut Bus) -> u64 {
        self.pc = pc;
        let op = self.decoded.op(index);
        let r = match op.k {
            OpKind::LrW => self.load_reserved(bus, op, 4),
            OpKind::LrD => self.load_reserved(bus, op, 8),
            OpKind::ScW => self.store_conditional(bus, op, 4),
            OpKind::ScD => self.store_conditional(bus, op, 8),
            OpKind::AmoW => self.amo(bus, op, 4),
            OpKind::AmoD => self.amo(bus, op, 8),
            _ => {
                let r = self.execute_system(op, bus);
                self.check_fetch_cache();
                r
            }
        };
        self.after_slow(r)
    }

    /// The run-loop answer for an instruction that left the fast path: its new pc when it
    /// simply completed, else `SEE_STEP` with `self.special` set (taking the trap first).
    #[inline(never)]
    pub(super) fn after_slow(&mut self, r: Result<Step, Exception>) -> u64 {
        self.special = match r {
            Ok(Step::Next) => return self.pc,
            Ok(step) => step,
            Err(e) => self.raise(e),
        };
        SEE_STEP
    }
}

/// The value an integer computation writes to rd (`imm` sign-extended), or None for an op
/// that is not one.
#[inline(always)]
fn alu(kind: OpKind, a: u64, b: u64, imm: u64) -> Option<u64> {
    Some(match kind {
        OpKind::Addi => a.wrapping_add(imm),
        OpKind::Slti => ((a as i64) < (imm as i64)) as u64,
        OpKind::Sltiu => (a < imm) as u64,
        OpKind::Xori => a ^ imm,
        OpKind::Ori => a | imm,
        OpKind::Andi => a & imm,
        OpKind::Slli => a << (imm & 63),
        OpKind::Srli => a >> (imm & 63),
        OpKind::Srai => ((a as i64) >> (imm & 63)) as u64,
        OpKind::Add => a.wrapping_add(b),
        OpKind::Sub => a.wrapping_sub(b),
        OpKind::Sll => a << (b & 63),
        OpKind::Slt => ((a as i64) < (b as i64)) as u64,
        OpKind::Sltu => (a < b) as u64,
        OpKind::Xor => a ^ b,
        OpKind::Srl => a >> (b & 63),
        OpKind::Sra => ((a as i64) >> (b & 63)) as u64,
        OpKind::Or => a | b,
        OpKind::And => a & b,
        OpKind::Addiw => sext32(a.wrapping_add(imm)),
        OpKind::Slliw => sext32((a as u32).wrapping_shl(imm as u32) as u64),
        OpKind::Srliw => sext32(((a as u32) >> (imm & 31)) as u64),
        OpKind::Sraiw => ((a as i32) >> (imm & 31)) as i64 as u64,
        OpKind::Addw => sext32(a.wrapping_add(b)),
        OpKind::Subw => sext32(a.wrapping_sub(b)),
        OpKind::Sllw => sext32(((a as u32) << (b & 31)) as u64),
        OpKind::Srlw => sext32(((a as u32) >> (b & 31)) as u64),
        OpKind::Sraw => ((a as i32) >> (b & 31)) as i64 as u64,
        OpKind::Mul => a.wrapping_mul(b),
        OpKind::Mulh => ((a as i64 as i128 * b as i64 as i128) >> 64) as u64,
        OpKind::Mulhsu => ((a as i64 as i128).wrapping_mul(b as i128) >> 64) as u64,
        OpKind::Mulhu => ((a as u128 * b as u128) >> 64) as u64,
        OpKind::Mulw => sext32(a.wrapping_mul(b)),
        OpKind::Div | OpKind::Divu | OpKind::Rem | OpKind::Remu => divide(kind, a, b),
        OpKind::Divw | OpKind::Divuw | OpKind::Remw | OpKind::Remuw => divide_word(kind, a, b),
        _ => return None,
    })
}

/// RISC-V division: x / 0 = all ones, x % 0 = x, and signed overflow wraps.
#[inline(never)]
fn divide(kind: OpKind, a: u64, b: u64) -> u64 {
    match kind {
        OpKind::Div if b == 0 => u64::MAX,
        OpKind::Div => (a as i64).wrapping_div(b as i64) as u64,
        OpKind::Divu => a.checked_div(b).unwrap_or(u64::MAX),
        OpKind::Rem if b == 0 => a,
        OpKind::Rem => (a as i64).wrapping_rem(b as i64) as u64,
        _ => a.checked_rem(b).unwrap_or(a),
    }
}

/// The 32-bit divisions, results sign-extended.
#[inline(never)]
fn divide_word(kind: OpKind, a: u64, b: u64) -> u64 {
    let (sa, sb) = (a as i32, b as i32);
    let (ua, ub) = (a as u32, b as u32);
    match kind {
        OpKind::Divw if sb == 0 => u64::MAX,
        OpKind::Divw => sa.wrapping_div(sb) as i64 as u64,
        OpKind::Divuw => ua.checked_div(ub).map_or(u64::MAX, |q| sext32(q as u64)),
        OpKind::Remw if sb == 0 => sa as i64 as u64,
        OpKind::Remw => sa.wrapping_rem(sb) as i64 as u64,
        _ => sext32(ua.checked_rem(ub).unwrap_or(ua) as u64),
    }
}

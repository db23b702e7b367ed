//! The instructions off the interpreter's fast path: CSR access, fences that flush
//! translation or decoded code, environment calls, trap returns, WFI and floating point.

use super::csr::{ms, CsrEffect};
use super::decode::{Op, OpKind};
use super::trap::Exception;
use super::{fp_writes_f_register, fpu, Hart, Step, PRIV_M, PRIV_S, PRIV_U};
use crate::bus::Bus;

impl Hart {
    /// Everything that is not plain integer computation or memory access.
    #[inline(never)]
    pub(super) fn execute_system(&mut self, op: Op, bus: &mut Bus) -> Result<Step, Exception> {
        let illegal = Exception::illegal(op.raw as u64);
        match op.k {
            OpKind::Csrrw
            | OpKind::Csrrs
            | OpKind::Csrrc
            | OpKind::Csrrwi
            | OpKind::Csrrsi
            | OpKind::Csrrci => self.execute_csr(op),
            OpKind::FenceI => {
                self.code_modified(&bus.ram);
                self.advance(op);
                Ok(Step::Next)
            }
            OpKind::Ecall => Err(Exception::new(
                Exception::ECALL_FROM_U + self.privilege as u64,
                0,
            )),
            OpKind::Ebreak => Err(Exception::new(Exception::BREAKPOINT, self.pc)),
            OpKind::Mret => self.execute_mret(illegal),
            OpKind::Sret => self.execute_sret(illegal),
            OpKind::Wfi => self.execute_wfi(op, illegal),
            OpKind::SfenceVma => self.execute_sfence_vma(op, illegal),
            OpKind::Flw | OpKind::Fld => self.execute_fp_load(op, bus, illegal),
            OpKind::Fsw | OpKind::Fsd => self.execute_fp_store(op, bus, illegal),
            OpKind::FpOp => self.execute_fp_op(op, illegal),
            _ => Err(illegal),
        }
    }

    /// Move the pc past `op`.
    #[inline]
    fn advance(&mut self, op: Op) {
        self.pc = self.pc.wrapping_add(op.len as u64);
    }

    /// MRET: back to the privilege in MPP, with MIE restored from MPIE.
    #[inline]
    fn execute_mret(&mut self, illegal: Exception) -> Result<Step, Exception> {
        if self.privilege != PRIV_M {
            return Err(illegal);
        }
        let mpp = ((self.mstatus & ms::MPP) >> ms::MPP_SHIFT) as u8;
        let mut s = self.mstatus & !(ms::MIE | ms::MPP);
        if self.mstatus & ms::MPIE != 0 {
            s |= ms::MIE;
        }
        s |= ms::MPIE;
        if mpp != PRIV_M {
            s &= !ms::MPRV;
        }
        self.mstatus = s;
        self.pc = self.mepc;
        self.reservation = None;
        self.set_privilege(mpp);
        Ok(self.interrupt_check())
    }

    /// SRET: back to the privilege in SPP, with SIE restored from SPIE (illegal in S-mode
    /// when mstatus.TSR is set).
    #[inline]
    fn execute_sret(&mut self, illegal: Exception) -> Result<Step, Exception> {
        if self.privilege < PRIV_S || (self.privilege == PRIV_S && self.mstatus & ms::TSR != 0) {
            return Err(illegal);
        }
        let spp = ((self.mstatus & ms::SPP) >> 8) as u8;
        let mut s = self.mstatus & !(ms::SIE | ms::SPP | ms::MPRV);
        if self.mstatus & ms::SPIE != 0 {
            s |= ms::SIE;
        }
        s |= ms::SPIE;
        self.mstatus = s;
        self.pc = self.sepc;
        self.reservation = None;
        self.set_privilege(spp);
        Ok(self.interrupt_check())
    }

    /// WFI: wait unless an enabled interrupt is already pending (illegal in U-mode, and in
    /// S-mode when mstatus.TW is set).
    #[inline]
    fn execute_wfi(&mut self, op: Op, illegal: Exception) -> Result<Step, Exception> {
        if self.privilege == PRIV_U || (self.privilege == PRIV_S && self.mstatus & ms::TW != 0) {
            return Err(illegal);
        }
        self.advance(op);
        if self.mip() & self.mie != 0 {
            return Ok(Step::Next);
        }
        self.wfi = true;
        Ok(Step::Wfi)
    }

    /// SFENCE.VMA: drop cached translations for the address in rs1 and the ASID in rs2
    /// (all of either when the register is x0). Illegal in U-mode, and in S-mode when
    /// mstatus.TVM is set.
    #[inline]
    fn execute_sfence_vma(&mut self, op: Op, illegal: Exception) -> Result<Step, Exception> {
        if self.privilege == PRIV_U || (self.privilege == PRIV_S && self.mstatus & ms::TVM != 0) {
            return Err(illegal);
        }
        let vaddr = (op.rs1 != 0).then_some(self.x[op.rs1 as usize & 31]);
        let asid = (op.rs2 != 0).then(|| self.x[op.rs2 as usize & 31] as u16);
        self.mmu.sfence_vma(vaddr, asid);
        self.fetch_pages.flush();
        self.advance(op);
        Ok(Step::Next)
    }

    /// FLW/FLD (a single is NaN-boxed); illegal while mstatus.FS is Off.
    #[inline]
    fn execute_fp_load(
        &mut self,
        op: Op,
        bus: &mut Bus,
        illegal: Exception,
    ) -> Result<Step, Exception> {
        if self.mstatus & ms::FS == 0 {
            return Err(illegal);
        }
        let va = self.x[op.rs1 as usize & 31].wrapping_add(op.imm as i64 as u64);
        self.fp.f[op.rd as usize & 31] = if op.k == OpKind::Flw {
            self.load(bus, va, 4)? | 0xffff_ffff_0000_0000
        } else {
            self.load(bus, va, 8)?
        };
        self.mark_fs_dirty();
        self.advance(op);
        Ok(Step::Next)
    }

    /// FSW/FSD; illegal while mstatus.FS is Off.
    #[inline]
    fn execute_fp_store(
        &mut self,
        op: Op,
        bus: &mut Bus,
        illegal: Exception,
    ) -> Result<Step, Exception> {
        if self.mstatus & ms::FS == 0 {
            return Err(illegal);
        }
        let va = self.x[op.rs1 as usize & 31].wrapping_add(op.imm as i64 as u64);
        let v = self.fp.f[op.rs2 as usize & 31];
        let size = if op.k == OpKind::Fsw { 4 } else { 8 };
        let yields = self.store(bus, va, size, v)?;
        self.advance(op);
        Ok(if yields { Step::Yield } else { Step::Next })
    }

    /// OP-FP and the fused multiply-adds, run by the FPU; illegal while mstatus.FS is Off.
    #[inline]
    fn execute_fp_op(&mut self, op: Op, illegal: Exception) -> Result<Step, Exception> {
        if self.mstatus & ms::FS == 0 {
            return Err(illegal);
        }
        let flags = self.fp.fflags;
        fpu::execute(op.raw, &mut self.fp, &mut self.x).map_err(|_| illegal)?;
        if fp_writes_f_register(op.raw) || self.fp.fflags != flags {
            self.mark_fs_dirty();
        }
        self.advance(op);
        Ok(Step::Next)
    }

    /// CSRRW/CSRRS/CSRRC and their immediate forms.
    fn execute_csr(&mut self, op: Op) -> Result<Step, Exception> {
        let illegal = Exception::illegal(op.raw as u64);
        let csr = (op.imm as u32 & 0xfff) as u16;
        let immediate = matches!(op.k, OpKind::Csrrwi | OpKind::Csrrsi | OpKind::Csrrci);
        let src = if immediate {
            op.rs1 as u64
        } else {
            self.x[op.rs1 as usize & 31]
        };
        let writes = op.csr_writes() == Some(true);
        if !self.csr_privilege_ok(csr) || (writes && csr >> 10 == 3) {
            return Err(illegal);
        }
        let old = self.csr_read(csr).ok_or(illegal)?;
        let mut step = Step::Next;
        if writes {
            let new = match op.k {
                OpKind::Csrrw | OpKind::Csrrwi => src,
                OpKind::Csrrs | OpKind::Csrrsi => self.csr_modify_base(csr, old) | src,
                _ => self.csr_modify_base(csr, old) & !src,
            };
            match self.csr_write(csr, new) {
                CsrEffect::None => {}
                CsrEffect::Interrupts => step = self.interrupt_check(),
                CsrEffect::Reloop => step = Step::Yield,
            }
        }
        self.x[op.rd as usize & 31] = old;
        self.pc = self.pc.wrapping_add(4);
        Ok(step)
    }
}

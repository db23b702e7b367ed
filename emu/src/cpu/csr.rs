//! Control and status registers: numbering, access rules and side effects.

use super::{Hart, PRIV_M, PRIV_S};

/// CSR numbers.
pub mod num {
    pub const FFLAGS: u16 = 0x001;
    pub const FRM: u16 = 0x002;
    pub const FCSR: u16 = 0x003;
    pub const CYCLE: u16 = 0xc00;
    pub const TIME: u16 = 0xc01;
    pub const INSTRET: u16 = 0xc02;
    pub const HPMCOUNTER3: u16 = 0xc03;
    pub const HPMCOUNTER31: u16 = 0xc1f;
    pub const SSTATUS: u16 = 0x100;
    pub const SIE: u16 = 0x104;
    pub const STVEC: u16 = 0x105;
    pub const SCOUNTEREN: u16 = 0x106;
    pub const SENVCFG: u16 = 0x10a;
    pub const SSCRATCH: u16 = 0x140;
    pub const SEPC: u16 = 0x141;
    pub const SCAUSE: u16 = 0x142;
    pub const STVAL: u16 = 0x143;
    pub const SIP: u16 = 0x144;
    pub const SATP: u16 = 0x180;
    pub const MVENDORID: u16 = 0xf11;
    pub const MARCHID: u16 = 0xf12;
    pub const MIMPID: u16 = 0xf13;
    pub const MHARTID: u16 = 0xf14;
    pub const MCONFIGPTR: u16 = 0xf15;
    pub const MSTATUS: u16 = 0x300;
    pub const MISA: u16 = 0x301;
    pub const MEDELEG: u16 = 0x302;
    pub const MIDELEG: u16 = 0x303;
    pub const MIE: u16 = 0x304;
    pub const MTVEC: u16 = 0x305;
    pub const MCOUNTEREN: u16 = 0x306;
    pub const MENVCFG: u16 = 0x30a;
    pub const MCOUNTINHIBIT: u16 = 0x320;
    pub const MHPMEVENT3: u16 = 0x323;
    pub const MHPMEVENT31: u16 = 0x33f;
    pub const MSCRATCH: u16 = 0x340;
    pub const MEPC: u16 = 0x341;
    pub const MCAUSE: u16 = 0x342;
    pub const MTVAL: u16 = 0x343;
    pub const MIP: u16 = 0x344;
    pub const PMPCFG0: u16 = 0x3a0;
    pub const PMPCFG15: u16 = 0x3af;
    pub const PMPADDR0: u16 = 0x3b0;
    pub const PMPADDR63: u16 = 0x3ef;
    pub const TSELECT: u16 = 0x7a0;
    pub const TDATA1: u16 = 0x7a1;
    pub const TDATA2: u16 = 0x7a2;
    pub const TDATA3: u16 = 0x7a3;
    pub const TINFO: u16 = 0x7a4;
    pub const MCYCLE: u16 = 0xb00;
    pub const MINSTRET: u16 = 0xb02;
    pub const MHPMCOUNTER3: u16 = 0xb03;
    pub const MHPMCOUNTER31: u16 = 0xb1f;
}

/// mstatus fields.
pub mod ms {
    pub const SIE: u64 = 1 << 1;
    pub const MIE: u64 = 1 << 3;
    pub const SPIE: u64 = 1 << 5;
    pub const MPIE: u64 = 1 << 7;
    pub const SPP: u64 = 1 << 8;
    pub const MPP_SHIFT: u32 = 11;
    pub const MPP: u64 = 3 << MPP_SHIFT;
    pub const FS_SHIFT: u32 = 13;
    pub const FS: u64 = 3 << FS_SHIFT;
    pub const XS: u64 = 3 << 15;
    pub const MPRV: u64 = 1 << 17;
    pub const SUM: u64 = 1 << 18;
    pub const MXR: u64 = 1 << 19;
    pub const TVM: u64 = 1 << 20;
    pub const TW: u64 = 1 << 21;
    pub const TSR: u64 = 1 << 22;
    pub const UXL: u64 = 3 << 32;
    pub const SXL: u64 = 3 << 34;
    pub const SD: u64 = 1 << 63;
    /// UXL = SXL = 2 (64-bit), read-only.
    pub const XLEN_FIELDS: u64 = (2 << 32) | (2 << 34);
    /// Fields software may write through mstatus.
    pub const M_WRITABLE: u64 =
        SIE | MIE | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    /// The sstatus view (UBE and VS are hardwired to zero here).
    pub const S_VIEW: u64 = SIE | SPIE | SPP | FS | XS | SUM | MXR | UXL | SD;
    pub const S_WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
}

/// Interrupt bits in mip/mie.
pub mod ip {
    pub const SSIP: u64 = 1 << 1;
    pub const MSIP: u64 = 1 << 3;
    pub const STIP: u64 = 1 << 5;
    pub const MTIP: u64 = 1 << 7;
    pub const SEIP: u64 = 1 << 9;
    pub const MEIP: u64 = 1 << 11;
    pub const ALL: u64 = SSIP | MSIP | STIP | MTIP | SEIP | MEIP;
    pub const S_LEVEL: u64 = SSIP | STIP | SEIP;
    /// Bits M-mode software may write in mip (STIP: no Sstc, so firmware drives it).
    pub const M_WRITABLE: u64 = SSIP | STIP | SEIP;
    /// Bits the interrupt controllers drive.
    pub const LINES: u64 = MSIP | MTIP | MEIP | SEIP;
}

/// RV64 with I M A F D C S U.
pub const MISA_VALUE: u64 = (2 << 62)
    | (1 << 0)
    | (1 << 2)
    | (1 << 3)
    | (1 << 5)
    | (1 << 8)
    | (1 << 12)
    | (1 << 18)
    | (1 << 20);

/// Exceptions medeleg may delegate (not ecall from M, cause 11).
const MEDELEG_WRITABLE: u64 = 0xb3ff;

/// Outcome of a CSR write the hart loop cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrEffect {
    None,
    /// Interrupt enables or pending bits may have changed: stop the quantum.
    Interrupts,
    /// The hart must choose its run loop again before the next instruction (a debug
    /// trigger was armed or disarmed).
    Reloop,
}

impl Hart {
    /// mstatus as software reads it (SD computed from FS).
    pub fn mstatus(&self) -> u64 {
        let sd = if self.mstatus & ms::FS == ms::FS {
            ms::SD
        } else {
            0
        };
        self.mstatus | ms::XLEN_FIELDS | sd
    }

    /// mip as software reads it: software bits OR the controller lines.
    pub fn mip(&self) -> u64 {
        self.mip_sw | self.lines
    }

    fn counter_allowed(&self, index: u16) -> bool {
        let bit = 1u32 << (index & 31);
        match self.privilege {
            PRIV_M => true,
            PRIV_S => self.mcounteren & bit != 0,
            _ => self.mcounteren & bit != 0 && self.scounteren & bit != 0,
        }
    }

    fn fs_enabled(&self) -> bool {
        self.mstatus & ms::FS != 0
    }

    /// The value of an instruction counter that `mcountinhibit` bit `bit` can freeze.
    fn counter_value(&self, which: usize) -> u64 {
        let c = &self.counters[which];
        if self.mcountinhibit & (1 << (which * 2)) != 0 {
            c.value
        } else {
            c.value.wrapping_add(self.instret.wrapping_sub(c.at))
        }
    }

    fn set_counter(&mut self, which: usize, value: u64) {
        // The writing instruction's own retirement must not show in the written value.
        self.counters[which].value = value;
        self.counters[which].at = self.instret.wrapping_add(1);
    }

    /// Read a CSR as the current privilege may. `None` = illegal instruction. The
    /// privilege-field check (csr[9:8]) is done by the caller.
    pub fn csr_read(&self, csr: u16) -> Option<u64> {
        use num::*;
        Some(match csr {
            FFLAGS if self.fs_enabled() => self.fp.fflags as u64,
            FRM if self.fs_enabled() => self.fp.frm as u64,
            FCSR if self.fs_enabled() => ((self.fp.frm as u64) << 5) | self.fp.fflags as u64,
            CYCLE..=HPMCOUNTER31 => {
                if !self.counter_allowed(csr - CYCLE) {
                    return None;
                }
                match csr {
                    CYCLE => self.counter_value(0),
                    TIME => self.time_now(),
                    INSTRET => self.counter_value(1),
                    _ => 0,
                }
            }
            SSTATUS => self.mstatus() & ms::S_VIEW,
            SIE => self.mie & self.mideleg,
            STVEC => self.stvec,
            SCOUNTEREN => self.scounteren as u64,
            SENVCFG => self.senvcfg,
            SSCRATCH => self.sscratch,
            SEPC => self.sepc,
            SCAUSE => self.scause,
            STVAL => self.stval,
            SIP => self.mip() & self.mideleg,
            SATP => {
                if self.privilege == PRIV_S && self.mstatus & ms::TVM != 0 {
                    return None;
                }
                self.satp
            }
            MVENDORID | MARCHID | MIMPID | MCONFIGPTR => 0,
            MHARTID => self.hartid,
            MSTATUS => self.mstatus(),
            MISA => MISA_VALUE,
            MEDELEG => self.medeleg,
            MIDELEG => self.mideleg,
            MIE => self.mie,
            MTVEC => self.mtvec,
            MCOUNTEREN => self.mcounteren as u64,
            MENVCFG => self.menvcfg,
            MCOUNTINHIBIT => self.mcountinhibit,
            MHPMEVENT3..=MHPMEVENT31 => 0,
            MSCRATCH => self.mscratch,
            MEPC => self.mepc,
            MCAUSE => self.mcause,
            MTVAL => self.mtval,
            MIP => self.mip(),
            PMPCFG0..=PMPCFG15 if csr.is_multiple_of(2) => {
                self.mmu.pmp.read_cfg((csr - PMPCFG0) as usize)
            }
            PMPADDR0..=PMPADDR63 => self.mmu.pmp.read_addr((csr - PMPADDR0) as usize),
            MCYCLE => self.counter_value(0),
            MINSTRET => self.counter_value(1),
            MHPMCOUNTER3..=MHPMCOUNTER31 => 0,
            TSELECT => self.triggers.tselect(),
            TDATA1 => self.triggers.tdata1(),
            TDATA2 => self.triggers.tdata2(),
            TDATA3 => 0,
            TINFO => super::trigger::TINFO,
            _ => return None,
        })
    }

    /// Write a CSR that exists and that the caller has checked may be written.
    pub fn csr_write(&mut self, csr: u16, v: u64) -> CsrEffect {
        use num::*;
        match csr {
            FFLAGS => {
                self.fp.fflags = (v & 0x1f) as u8;
                self.mark_fs_dirty();
            }
            FRM => {
                self.fp.frm = (v & 7) as u8;
                self.mark_fs_dirty();
            }
            FCSR => {
                self.fp.fflags = (v & 0x1f) as u8;
                self.fp.frm = ((v >> 5) & 7) as u8;
                self.mark_fs_dirty();
            }
            SSTATUS => {
                let v = (self.mstatus & !ms::S_WRITABLE) | (v & ms::S_WRITABLE);
                self.write_mstatus(v);
                return CsrEffect::Interrupts;
            }
            SIE => {
                self.mie = (self.mie & !self.mideleg) | (v & self.mideleg & ip::ALL);
                return CsrEffect::Interrupts;
            }
            STVEC => self.stvec = legal_tvec(self.stvec, v),
            SCOUNTEREN => self.scounteren = v as u32,
            SENVCFG => self.senvcfg = v & 1,
            SSCRATCH => self.sscratch = v,
            SEPC => self.sepc = v & !1,
            SCAUSE => self.scause = v,
            STVAL => self.stval = v,
            SIP => {
                let writable = ip::SSIP & self.mideleg;
                self.mip_sw = (self.mip_sw & !writable) | (v & writable);
                return CsrEffect::Interrupts;
            }
            SATP => {
                let old = self.satp;
                let new = self.mmu.satp_write(old, v);
                if self.mmu.observed() {
                    self.phases.switch(old, new, self.instret, &self.mmu.stats);
                }
                self.satp = new;
                self.mmu.satp_written(old, new);
                self.update_translate_ctx();
            }
            MSTATUS => {
                self.write_mstatus(v);
                return CsrEffect::Interrupts;
            }
            MEDELEG => self.medeleg = v & MEDELEG_WRITABLE,
            MIDELEG => {
                self.mideleg = v & ip::S_LEVEL;
                return CsrEffect::Interrupts;
            }
            MIE => {
                self.mie = v & ip::ALL;
                return CsrEffect::Interrupts;
            }
            MTVEC => self.mtvec = legal_tvec(self.mtvec, v),
            MCOUNTEREN => self.mcounteren = v as u32,
            // FIOM, CBIE, CBCFE, CBZE, PBMTE, STCE: stored, no behaviour; only FIOM and the
            // bits of absent extensions that are read-only zero.
            MENVCFG => self.menvcfg = v & 1,
            MCOUNTINHIBIT => {
                let cy = self.counter_value(0);
                let ir = self.counter_value(1);
                self.mcountinhibit = v & 0b101;
                self.counters[0].value = cy;
                self.counters[0].at = self.instret;
                self.counters[1].value = ir;
                self.counters[1].at = self.instret;
            }
            MSCRATCH => self.mscratch = v,
            MEPC => self.mepc = v & !1,
            MCAUSE => self.mcause = v,
            MTVAL => self.mtval = v,
            MIP => {
                self.mip_sw = (self.mip_sw & !ip::M_WRITABLE) | (v & ip::M_WRITABLE);
                return CsrEffect::Interrupts;
            }
            PMPCFG0..=PMPCFG15 => {
                self.mmu.pmp.write_cfg((csr - PMPCFG0) as usize, v);
                self.mmu.pmp_changed();
            }
            PMPADDR0..=PMPADDR63 => {
                self.mmu.pmp.write_addr((csr - PMPADDR0) as usize, v);
                self.mmu.pmp_changed();
            }
            MCYCLE => self.set_counter(0, v),
            MINSTRET => self.set_counter(1, v),
            TSELECT => self.triggers.write_tselect(v),
            TDATA1 => {
                let was = self.triggers.armed();
                self.triggers.write_tdata1(v);
                if self.triggers.armed() != was {
                    return CsrEffect::Reloop;
                }
            }
            TDATA2 => self.triggers.write_tdata2(v),
            // tdata3 (no textra fields) and tinfo: read-only values, the write is legal.
            // mhpmcounters/events are read-only zero (WARL); the write is legal.
            _ => {}
        }
        CsrEffect::None
    }

    /// The base for CSRRS/CSRRC: like a read, but mip's SEIP is the software bit only.
    pub(super) fn csr_modify_base(&self, csr: u16, read: u64) -> u64 {
        match csr {
            num::MIP => (read & !ip::SEIP) | (self.mip_sw & ip::SEIP),
            num::SIP => (read & !ip::SEIP) | (self.mip_sw & ip::SEIP & self.mideleg),
            _ => read,
        }
    }

    fn write_mstatus(&mut self, v: u64) {
        let mut new = (self.mstatus & !ms::M_WRITABLE) | (v & ms::M_WRITABLE);
        // MPP = 2 is reserved: keep the previous mode.
        if (new & ms::MPP) >> ms::MPP_SHIFT == 2 {
            new = (new & !ms::MPP) | (self.mstatus & ms::MPP);
        }
        self.mstatus = new;
        self.update_translate_ctx();
    }

    pub(super) fn mark_fs_dirty(&mut self) {
        self.mstatus |= ms::FS;
    }

    /// Privilege a CSR requires (bits 9:8; 2 = hypervisor, treated as M here).
    pub(super) fn csr_privilege_ok(&self, csr: u16) -> bool {
        let need = ((csr >> 8) & 3) as u8;
        let need = if need == 2 { PRIV_M } else { need };
        self.privilege >= need
    }
}

/// WARL rule of mtvec/stvec: modes 0 (direct) and 1 (vectored); other modes keep the old
/// value's mode.
fn legal_tvec(old: u64, v: u64) -> u64 {
    let mode = if v & 3 < 2 { v & 3 } else { old & 3 };
    (v & !3) | mode
}

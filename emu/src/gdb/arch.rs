//! The register file as gdb sees it: RV64 integer and double-precision registers in the
//! `g` packet, CSRs and the privilege level through single-register (`p`/`P`) access.
//!
//! `gdbstub_arch`'s RISC-V description has only the integer registers, so the target
//! description is ours. Register numbers follow gdb's RISC-V convention: x0-x31 = 0-31,
//! pc = 32, f0-f31 = 33-64, CSR n = 65 + n, and the virtual `priv` register = 65 + 4096.

use std::num::NonZeroUsize;

use gdbstub::arch::{Arch, RegId, Registers};

use crate::cpu::csr::num;

/// First gdb register number of the CSRs (CSR `n` is `CSR_BASE + n`).
pub const CSR_BASE: usize = 65;
/// gdb's number for the virtual privilege register.
pub const PRIV_REGNUM: usize = CSR_BASE + 4096;

/// CSRs offered to gdb (name, number) besides the three floating-point ones, which live in
/// the fpu feature. Counters are read through their machine-mode aliases so that the
/// debugger sees them whatever the hart's counter-enable bits say.
pub const CSRS: &[(&str, u16)] = &[
    ("sstatus", num::SSTATUS),
    ("sie", num::SIE),
    ("stvec", num::STVEC),
    ("scounteren", num::SCOUNTEREN),
    ("senvcfg", num::SENVCFG),
    ("sscratch", num::SSCRATCH),
    ("sepc", num::SEPC),
    ("scause", num::SCAUSE),
    ("stval", num::STVAL),
    ("sip", num::SIP),
    ("satp", num::SATP),
    ("mstatus", num::MSTATUS),
    ("misa", num::MISA),
    ("medeleg", num::MEDELEG),
    ("mideleg", num::MIDELEG),
    ("mie", num::MIE),
    ("mtvec", num::MTVEC),
    ("mcounteren", num::MCOUNTEREN),
    ("menvcfg", num::MENVCFG),
    ("mscratch", num::MSCRATCH),
    ("mepc", num::MEPC),
    ("mcause", num::MCAUSE),
    ("mtval", num::MTVAL),
    ("mip", num::MIP),
    ("mcycle", num::MCYCLE),
    ("minstret", num::MINSTRET),
    ("cycle", num::CYCLE),
    ("instret", num::INSTRET),
    ("mhartid", num::MHARTID),
];

/// What goes in the `g` packet: everything gdb needs on every stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RvRegs {
    pub x: [u64; 32],
    pub pc: u64,
    /// Raw 64-bit patterns (single-precision values are NaN-boxed, as the hart holds them).
    pub f: [u64; 32],
}

impl Registers for RvRegs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for v in self.x.iter().chain([&self.pc]).chain(self.f.iter()) {
            v.to_le_bytes()
                .into_iter()
                .for_each(|b| write_byte(Some(b)));
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        // gdb may send a shorter packet (it never sends more than it got from us).
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")));
        for slot in self
            .x
            .iter_mut()
            .chain([&mut self.pc])
            .chain(self.f.iter_mut())
        {
            match words.next() {
                Some(w) => *slot = w,
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// One register addressed by gdb's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RvRegId {
    X(u8),
    Pc,
    F(u8),
    Csr(u16),
    Priv,
}

impl RvRegId {
    /// Size in bytes as the target description declares it.
    pub fn size(self) -> usize {
        match self {
            RvRegId::Csr(num::FFLAGS | num::FRM | num::FCSR) => 4,
            _ => 8,
        }
    }
}

impl RegId for RvRegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let reg = match id {
            0..=31 => RvRegId::X(id as u8),
            32 => RvRegId::Pc,
            33..=64 => RvRegId::F((id - 33) as u8),
            PRIV_REGNUM => RvRegId::Priv,
            n if (CSR_BASE..CSR_BASE + 4096).contains(&n) => RvRegId::Csr((n - CSR_BASE) as u16),
            _ => return None,
        };
        Some((reg, NonZeroUsize::new(reg.size())))
    }
}

/// RV64GC as gdb's RISC-V target understands it.
pub enum Rv64gc {}

impl Arch for Rv64gc {
    type Usize = u64;
    type Registers = RvRegs;
    type BreakpointKind = usize;
    type RegId = RvRegId;

    fn target_description_xml() -> Option<&'static str> {
        Some(target_xml())
    }
}

const X_NAMES: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

const F_NAMES: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// The target description, built once (gdb asks for it on every connection).
pub fn target_xml() -> &'static str {
    static XML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    XML.get_or_init(build_target_xml)
}

fn build_target_xml() -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n<architecture>riscv:rv64</architecture>\n<feature name=\"org.gnu.gdb.riscv.cpu\">\n",
    );
    for (i, name) in X_NAMES.iter().enumerate() {
        let ty = match *name {
            "sp" | "fp" => "data_ptr",
            _ => "int",
        };
        s += &format!("<reg name=\"{name}\" bitsize=\"64\" type=\"{ty}\" regnum=\"{i}\"/>\n");
    }
    s += "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\" regnum=\"32\"/>\n</feature>\n";
    s += "<feature name=\"org.gnu.gdb.riscv.fpu\">\n<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/><field name=\"double\" type=\"ieee_double\"/></union>\n";
    for (i, name) in F_NAMES.iter().enumerate() {
        s += &format!(
            "<reg name=\"{name}\" bitsize=\"64\" type=\"riscv_double\" regnum=\"{}\"/>\n",
            33 + i
        );
    }
    for (name, n) in [
        ("fflags", num::FFLAGS),
        ("frm", num::FRM),
        ("fcsr", num::FCSR),
    ] {
        s += &format!(
            "<reg name=\"{name}\" bitsize=\"32\" type=\"int\" regnum=\"{}\" group=\"float\"/>\n",
            CSR_BASE + n as usize
        );
    }
    s += "</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n";
    for (name, n) in CSRS {
        s += &format!(
            "<reg name=\"{name}\" bitsize=\"64\" type=\"uint64\" regnum=\"{}\" group=\"system\"/>\n",
            CSR_BASE + *n as usize
        );
    }
    s += &format!(
        "</feature>\n<feature name=\"org.gnu.gdb.riscv.virtual\">\n<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"{PRIV_REGNUM}\" group=\"general\"/>\n</feature>\n</target>\n"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_numbers_follow_gdb() {
        assert_eq!(RvRegId::from_raw_id(2).unwrap().0, RvRegId::X(2));
        assert_eq!(RvRegId::from_raw_id(32).unwrap().0, RvRegId::Pc);
        assert_eq!(RvRegId::from_raw_id(33).unwrap().0, RvRegId::F(0));
        assert_eq!(RvRegId::from_raw_id(64).unwrap().0, RvRegId::F(31));
        let (fcsr, size) = RvRegId::from_raw_id(68).unwrap();
        assert_eq!((fcsr, size.unwrap().get()), (RvRegId::Csr(num::FCSR), 4));
        assert_eq!(
            RvRegId::from_raw_id(65 + 0x180).unwrap().0,
            RvRegId::Csr(num::SATP)
        );
        assert_eq!(RvRegId::from_raw_id(4161).unwrap().0, RvRegId::Priv);
        assert!(RvRegId::from_raw_id(5000).is_none());
    }

    #[test]
    fn g_packet_round_trips_and_accepts_short_writes() {
        let mut r = RvRegs::default();
        r.x[1] = 0x1122_3344_5566_7788;
        r.pc = 0x8020_0000;
        r.f[31] = 0xffff_ffff_3f80_0000;
        let mut bytes = Vec::new();
        r.gdb_serialize(|b| bytes.push(b.unwrap()));
        assert_eq!(bytes.len(), 65 * 8);
        let mut back = RvRegs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, r);
        let mut short = RvRegs::default();
        short.gdb_deserialize(&bytes[..33 * 8]).unwrap();
        assert_eq!((short.x[1], short.pc, short.f[31]), (r.x[1], r.pc, 0));
    }

    #[test]
    fn description_lists_every_offered_register_once() {
        let xml = target_xml();
        for name in X_NAMES.iter().chain(F_NAMES.iter()) {
            assert_eq!(
                xml.matches(&format!("name=\"{name}\"")).count(),
                1,
                "{name}"
            );
        }
        assert!(xml.contains("name=\"satp\" bitsize=\"64\" type=\"uint64\" regnum=\"449\""));
        assert!(xml.contains("name=\"priv\""));
    }
}

//! Disassembler built on our own decoder: one `Op` → text, in the GNU assembler's
//! syntax with ABI register names. Compressed instructions are shown as the 32-bit
//! instruction they expand to, prefixed with `c.`.
//! `tests/disasm_oracle.rs` checks it against the `disc-v` crate (objdump's output) over
//! every RV64GC instruction class, every 16-bit parcel and random words.

use super::decode::{decode, AmoOp, Op, OpKind};

const X: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];
const F: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

fn x(r: u8) -> &'static str {
    X[r as usize & 31]
}
fn f(r: u8) -> &'static str {
    F[r as usize & 31]
}

/// Name of a CSR number, or its hex value.
pub fn csr_name(csr: u32) -> String {
    let n = match csr {
        0x001 => "fflags",
        0x002 => "frm",
        0x003 => "fcsr",
        0xc00 => "cycle",
        0xc01 => "time",
        0xc02 => "instret",
        0x100 => "sstatus",
        0x104 => "sie",
        0x105 => "stvec",
        0x106 => "scounteren",
        0x10a => "senvcfg",
        0x140 => "sscratch",
        0x141 => "sepc",
        0x142 => "scause",
        0x143 => "stval",
        0x144 => "sip",
        0x180 => "satp",
        0x300 => "mstatus",
        0x301 => "misa",
        0x302 => "medeleg",
        0x303 => "mideleg",
        0x304 => "mie",
        0x305 => "mtvec",
        0x306 => "mcounteren",
        0x30a => "menvcfg",
        0x320 => "mcountinhibit",
        0x340 => "mscratch",
        0x341 => "mepc",
        0x342 => "mcause",
        0x343 => "mtval",
        0x344 => "mip",
        0x3a0..=0x3af => return format!("pmpcfg{}", csr - 0x3a0),
        0x3b0..=0x3ef => return format!("pmpaddr{}", csr - 0x3b0),
        0x323..=0x33f => return format!("mhpmevent{}", csr - 0x320),
        0xb03..=0xb1f => return format!("mhpmcounter{}", csr - 0xb00),
        0xc03..=0xc1f => return format!("hpmcounter{}", csr - 0xc00),
        0xb00 => "mcycle",
        0xb02 => "minstret",
        0xf11 => "mvendorid",
        0xf12 => "marchid",
        0xf13 => "mimpid",
        0xf14 => "mhartid",
        0xf15 => "mconfigptr",
        _ => return format!("{csr:#x}"),
    };
    n.to_string()
}

/// Disassemble the instruction `raw` (a 32-bit word, or a 16-bit parcel in the low half)
/// at `pc` (used to show branch and jump targets).
pub fn disassemble(raw: u32, pc: u64) -> String {
    let op = decode(raw);
    let text = disassemble_op(&op, pc);
    if op.len == 2 && op.k != OpKind::Illegal {
        format!("c.{text}")
    } else {
        text
    }
}

fn target(pc: u64, imm: i32) -> String {
    format!("{:#x}", pc.wrapping_add(imm as i64 as u64))
}

fn disassemble_op(op: &Op, pc: u64) -> String {
    let (rd, rs1, rs2, imm) = (op.rd, op.rs1, op.rs2, op.imm);
    let r = |m: &str| format!("{m} {}, {}, {}", x(rd), x(rs1), x(rs2));
    let i = |m: &str| format!("{m} {}, {}, {imm}", x(rd), x(rs1));
    let load = |m: &str| format!("{m} {}, {imm}({})", x(rd), x(rs1));
    let store = |m: &str| format!("{m} {}, {imm}({})", x(rs2), x(rs1));
    let br = |m: &str| format!("{m} {}, {}, {}", x(rs1), x(rs2), target(pc, imm));
    let csr = |m: &str| {
        format!(
            "{m} {}, {}, {}",
            x(rd),
            csr_name(imm as u32 & 0xfff),
            x(rs1)
        )
    };
    let csri = |m: &str| format!("{m} {}, {}, {}", x(rd), csr_name(imm as u32 & 0xfff), rs1);
    // aq is bit 26, rl bit 25.
    let aq_rl = |raw: u32| match (raw >> 25) & 3 {
        0 => "",
        1 => ".rl",
        2 => ".aq",
        _ => ".aqrl",
    };
    match op.k {
        OpKind::Empty | OpKind::PageEnd | OpKind::Illegal => format!("unknown {:#x}", op.raw),
        OpKind::Lui => format!("lui {}, {:#x}", x(rd), (imm as u32) >> 12),
        OpKind::Auipc => format!("auipc {}, {:#x}", x(rd), (imm as u32) >> 12),
        OpKind::Jal => format!("jal {}, {}", x(rd), target(pc, imm)),
        OpKind::Jalr => format!("jalr {}, {imm}({})", x(rd), x(rs1)),
        OpKind::Beq => br("beq"),
        OpKind::Bne => br("bne"),
        OpKind::Blt => br("blt"),
        OpKind::Bge => br("bge"),
        OpKind::Bltu => br("bltu"),
        OpKind::Bgeu => br("bgeu"),
        OpKind::Lb => load("lb"),
        OpKind::Lh => load("lh"),
        OpKind::Lw => load("lw"),
        OpKind::Ld => load("ld"),
        OpKind::Lbu => load("lbu"),
        OpKind::Lhu => load("lhu"),
        OpKind::Lwu => load("lwu"),
        OpKind::Sb => store("sb"),
        OpKind::Sh => store("sh"),
        OpKind::Sw => store("sw"),
        OpKind::Sd => store("sd"),
        OpKind::Addi => i("addi"),
        OpKind::Slti => i("slti"),
        OpKind::Sltiu => i("sltiu"),
        OpKind::Xori => i("xori"),
        OpKind::Ori => i("ori"),
        OpKind::Andi => i("andi"),
        OpKind::Slli => format!("slli {}, {}, {}", x(rd), x(rs1), imm & 0x3f),
        OpKind::Srli => format!("srli {}, {}, {}", x(rd), x(rs1), imm & 0x3f),
        OpKind::Srai => format!("srai {}, {}, {}", x(rd), x(rs1), imm & 0x3f),
        OpKind::Add => r("add"),
        OpKind::Sub => r("sub"),
        OpKind::Sll => r("sll"),
        OpKind::Slt => r("slt"),
        OpKind::Sltu => r("sltu"),
        OpKind::Xor => r("xor"),
        OpKind::Srl => r("srl"),
        OpKind::Sra => r("sra"),
        OpKind::Or => r("or"),
        OpKind::And => r("and"),
        OpKind::Addiw => i("addiw"),
        OpKind::Slliw => format!("slliw {}, {}, {}", x(rd), x(rs1), imm & 0x1f),
        OpKind::Srliw => format!("srliw {}, {}, {}", x(rd), x(rs1), imm & 0x1f),
        OpKind::Sraiw => format!("sraiw {}, {}, {}", x(rd), x(rs1), imm & 0x1f),
        OpKind::Addw => r("addw"),
        OpKind::Subw => r("subw"),
        OpKind::Sllw => r("sllw"),
        OpKind::Srlw => r("srlw"),
        OpKind::Sraw => r("sraw"),
        OpKind::Mul => r("mul"),
        OpKind::Mulh => r("mulh"),
        OpKind::Mulhsu => r("mulhsu"),
        OpKind::Mulhu => r("mulhu"),
        OpKind::Div => r("div"),
        OpKind::Divu => r("divu"),
        OpKind::Rem => r("rem"),
        OpKind::Remu => r("remu"),
        OpKind::Mulw => r("mulw"),
        OpKind::Divw => r("divw"),
        OpKind::Divuw => r("divuw"),
        OpKind::Remw => r("remw"),
        OpKind::Remuw => r("remuw"),
        OpKind::Fence => fence(op.raw),
        OpKind::FenceI => "fence.i".into(),
        OpKind::Ecall => "ecall".into(),
        OpKind::Ebreak => "ebreak".into(),
        OpKind::Mret => "mret".into(),
        OpKind::Sret => "sret".into(),
        OpKind::Wfi => "wfi".into(),
        OpKind::SfenceVma => format!("sfence.vma {}, {}", x(rs1), x(rs2)),
        OpKind::Csrrw => csr("csrrw"),
        OpKind::Csrrs => csr("csrrs"),
        OpKind::Csrrc => csr("csrrc"),
        OpKind::Csrrwi => csri("csrrwi"),
        OpKind::Csrrsi => csri("csrrsi"),
        OpKind::Csrrci => csri("csrrci"),
        OpKind::LrW => format!("lr.w{} {}, ({})", aq_rl(op.raw), x(rd), x(rs1)),
        OpKind::LrD => format!("lr.d{} {}, ({})", aq_rl(op.raw), x(rd), x(rs1)),
        OpKind::ScW => format!("sc.w{} {}, {}, ({})", aq_rl(op.raw), x(rd), x(rs2), x(rs1)),
        OpKind::ScD => format!("sc.d{} {}, {}, ({})", aq_rl(op.raw), x(rd), x(rs2), x(rs1)),
        OpKind::AmoW | OpKind::AmoD => {
            let name = match AmoOp::from_imm(imm) {
                AmoOp::Swap => "amoswap",
                AmoOp::Add => "amoadd",
                AmoOp::Xor => "amoxor",
                AmoOp::And => "amoand",
                AmoOp::Or => "amoor",
                AmoOp::Min => "amomin",
                AmoOp::Max => "amomax",
                AmoOp::Minu => "amominu",
                AmoOp::Maxu => "amomaxu",
            };
            let w = if op.k == OpKind::AmoW { "w" } else { "d" };
            format!(
                "{name}.{w}{} {}, {}, ({})",
                aq_rl(op.raw),
                x(rd),
                x(rs2),
                x(rs1)
            )
        }
        OpKind::Flw => format!("flw {}, {imm}({})", f(rd), x(rs1)),
        OpKind::Fld => format!("fld {}, {imm}({})", f(rd), x(rs1)),
        OpKind::Fsw => format!("fsw {}, {imm}({})", f(rs2), x(rs1)),
        OpKind::Fsd => format!("fsd {}, {imm}({})", f(rs2), x(rs1)),
        OpKind::FpOp => fp(op.raw),
    }
}

/// FENCE with its predecessor and successor sets (`fence rw, w`), or FENCE.TSO. An empty
/// set is written `unknown`, as GNU objdump does.
fn fence(w: u32) -> String {
    let fm = w >> 28;
    let pred = (w >> 24) & 0xf;
    let succ = (w >> 20) & 0xf;
    if fm == 0b1000 && pred == 0b0011 && succ == 0b0011 {
        return "fence.tso".into();
    }
    let set = |bits: u32| -> String {
        if bits == 0 {
            return "unknown".into();
        }
        [(8, 'i'), (4, 'o'), (2, 'r'), (1, 'w')]
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, name)| name)
            .collect()
    };
    format!("fence {}, {}", set(pred), set(succ))
}

const ROUNDING_MODES: [&str; 5] = ["rne", "rtz", "rdn", "rup", "rmm"];

/// OP-FP and fused multiply-add, from the raw word (the hart hands these to the FPU
/// undecoded). Accepts exactly the encodings the FPU executes (`fpu::execute`), so an
/// encoding the hart traps on shows as `unknown`. A static rounding mode is shown as a
/// last operand, as GNU objdump does: omitted when it is `dyn`, and for the exact
/// widening conversions (`fcvt.d.s`, `fcvt.d.w[u]`) omitted when it is `rne`.
fn fp(w: u32) -> String {
    fp_known(w).unwrap_or_else(|| format!("unknown {w:#x}"))
}

fn fp_known(w: u32) -> Option<String> {
    let rd = ((w >> 7) & 31) as u8;
    let rs1 = ((w >> 15) & 31) as u8;
    let rs2 = ((w >> 20) & 31) as u8;
    let rs3 = ((w >> 27) & 31) as u8;
    let rm = (w >> 12) & 7;
    let fmt = (w >> 25) & 3;
    let opcode = w & 0x7f;
    // The rounding-mode operand, or None for the reserved modes 5 and 6.
    let rounding = |omit: u32| match rm {
        _ if rm == omit => Some(String::new()),
        0..=4 => Some(format!(", {}", ROUNDING_MODES[rm as usize])),
        7 => Some(", dyn".to_string()),
        _ => None,
    };
    let sfx = match fmt {
        0 => "s",
        1 => "d",
        _ => return None,
    };
    if opcode != 0x53 {
        let m = match opcode {
            0x43 => "fmadd",
            0x47 => "fmsub",
            0x4b => "fnmsub",
            _ => "fnmadd",
        };
        let rm = rounding(7)?;
        return Some(format!(
            "{m}.{sfx} {}, {}, {}, {}{rm}",
            f(rd),
            f(rs1),
            f(rs2),
            f(rs3)
        ));
    }
    let f5 = w >> 27;
    let arith = |m: &str| {
        Some(format!(
            "{m}.{sfx} {}, {}, {}{}",
            f(rd),
            f(rs1),
            f(rs2),
            rounding(7)?
        ))
    };
    let plain = |m: &str| format!("{m}.{sfx} {}, {}, {}", f(rd), f(rs1), f(rs2));
    let int_name = |n: u8| ["w", "wu", "l", "lu"].get(n as usize).copied();
    // Integer to float: exact (widening) only for 32-bit integers into a double.
    let widening = |n: u8| fmt == 1 && n <= 1;
    Some(match f5 {
        0x00 => arith("fadd")?,
        0x01 => arith("fsub")?,
        0x02 => arith("fmul")?,
        0x03 => arith("fdiv")?,
        0x0b if rs2 == 0 => format!("fsqrt.{sfx} {}, {}{}", f(rd), f(rs1), rounding(7)?),
        0x04 => plain(["fsgnj", "fsgnjn", "fsgnjx"].get(rm as usize)?),
        0x05 => plain(["fmin", "fmax"].get(rm as usize)?),
        0x08 => match (fmt, rs2) {
            (0, 1) => format!("fcvt.s.d {}, {}{}", f(rd), f(rs1), rounding(7)?),
            (1, 0) => format!("fcvt.d.s {}, {}{}", f(rd), f(rs1), rounding(0)?),
            _ => return None,
        },
        0x14 => format!(
            "{}.{sfx} {}, {}, {}",
            ["fle", "flt", "feq"].get(rm as usize)?,
            x(rd),
            f(rs1),
            f(rs2)
        ),
        0x18 => format!(
            "fcvt.{}.{sfx} {}, {}{}",
            int_name(rs2)?,
            x(rd),
            f(rs1),
            rounding(7)?
        ),
        0x1a => format!(
            "fcvt.{sfx}.{} {}, {}{}",
            int_name(rs2)?,
            f(rd),
            x(rs1),
            rounding(if widening(rs2) { 0 } else { 7 })?
        ),
        0x1c if rs2 == 0 && rm == 0 => {
            let w_or_d = if fmt == 0 { "w" } else { "d" };
            format!("fmv.x.{w_or_d} {}, {}", x(rd), f(rs1))
        }
        0x1c if rs2 == 0 && rm == 1 => format!("fclass.{sfx} {}, {}", x(rd), f(rs1)),
        0x1e if rs2 == 0 && rm == 0 => {
            let w_or_d = if fmt == 0 { "w" } else { "d" };
            format!("fmv.{w_or_d}.x {}, {}", f(rd), x(rs1))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::disassemble;

    #[test]
    fn common_instructions() {
        assert_eq!(disassemble(0x00000297, 0x1000), "auipc t0, 0x0");
        assert_eq!(disassemble(0xf1402573, 0), "csrrs a0, mhartid, zero");
        assert_eq!(disassemble(0x0202b583, 0), "ld a1, 32(t0)");
        assert_eq!(disassemble(0x00028067, 0), "jalr zero, 0(t0)");
        assert_eq!(disassemble(0x18051073, 0), "csrrw zero, satp, a0");
        assert_eq!(disassemble(0x12000073, 0), "sfence.vma zero, zero");
        // c.addi a0, 1
        assert_eq!(disassemble(0x0505, 0), "c.addi a0, a0, 1");
        // fadd.d fa0, fa1, fa2 (rm=dyn)
        assert_eq!(disassemble(0x02c5f553, 0), "fadd.d fa0, fa1, fa2");
        assert_eq!(disassemble(0xffff_ffff, 0), "unknown 0xffffffff");
        // Static rounding modes are shown, dyn is not.
        assert_eq!(disassemble(0x02c58553, 0), "fadd.d fa0, fa1, fa2, rne");
        // rm = 5 is reserved: the FPU traps, so it is not an instruction.
        assert_eq!(disassemble(0x02c5d553, 0), "unknown 0x2c5d553");
        assert_eq!(disassemble(0x140525af, 0), "lr.w.aq a1, (a0)");
        assert_eq!(disassemble(0x0ff0000f, 0), "fence iorw, iorw");
        assert_eq!(disassemble(0x8330000f, 0), "fence.tso");
    }
}

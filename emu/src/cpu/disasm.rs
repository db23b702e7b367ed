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
    let (rd, rs1, imm) = (op.rd, op.rs1, op.imm);
    match op.k {
        OpKind::Empty | OpKind::PageEnd | OpKind::Illegal => format!("unknown {:#x}", op.raw),
        OpKind::Lui => format!("lui {}, {:#x}", x(rd), (imm as u32) >> 12),
        OpKind::Auipc => format!("auipc {}, {:#x}", x(rd), (imm as u32) >> 12),
        OpKind::Jal => format!("jal {}, {}", x(rd), target(pc, imm)),
        OpKind::Jalr => format!("jalr {}, {imm}({})", x(rd), x(rs1)),
        OpKind::Beq => branch("beq", op, pc),
        OpKind::Bne => branch("bne", op, pc),
        OpKind::Blt => branch("blt", op, pc),
        OpKind::Bge => branch("bge", op, pc),
        OpKind::Bltu => branch("bltu", op, pc),
        OpKind::Bgeu => branch("bgeu", op, pc),
        OpKind::Lb => load("lb", x(rd), op),
        OpKind::Lh => load("lh", x(rd), op),
        OpKind::Lw => load("lw", x(rd), op),
        OpKind::Ld => load("ld", x(rd), op),
        OpKind::Lbu => load("lbu", x(rd), op),
        OpKind::Lhu => load("lhu", x(rd), op),
        OpKind::Lwu => load("lwu", x(rd), op),
        OpKind::Sb => store("sb", x(op.rs2), op),
        OpKind::Sh => store("sh", x(op.rs2), op),
        OpKind::Sw => store("sw", x(op.rs2), op),
        OpKind::Sd => store("sd", x(op.rs2), op),
        OpKind::Addi => reg_imm("addi", op, imm),
        OpKind::Slti => reg_imm("slti", op, imm),
        OpKind::Sltiu => reg_imm("sltiu", op, imm),
        OpKind::Xori => reg_imm("xori", op, imm),
        OpKind::Ori => reg_imm("ori", op, imm),
        OpKind::Andi => reg_imm("andi", op, imm),
        OpKind::Slli => reg_imm("slli", op, imm & 0x3f),
        OpKind::Srli => reg_imm("srli", op, imm & 0x3f),
        OpKind::Srai => reg_imm("srai", op, imm & 0x3f),
        OpKind::Add => reg_reg("add", op),
        OpKind::Sub => reg_reg("sub", op),
        OpKind::Sll => reg_reg("sll", op),
        OpKind::Slt => reg_reg("slt", op),
        OpKind::Sltu => reg_reg("sltu", op),
        OpKind::Xor => reg_reg("xor", op),
        OpKind::Srl => reg_reg("srl", op),
        OpKind::Sra => reg_reg("sra", op),
        OpKind::Or => reg_reg("or", op),
        OpKind::And => reg_reg("and", op),
        OpKind::Addiw => reg_imm("addiw", op, imm),
        OpKind::Slliw => reg_imm("slliw", op, imm & 0x1f),
        OpKind::Srliw => reg_imm("srliw", op, imm & 0x1f),
        OpKind::Sraiw => reg_imm("sraiw", op, imm & 0x1f),
        OpKind::Addw => reg_reg("addw", op),
        OpKind::Subw => reg_reg("subw", op),
        OpKind::Sllw => reg_reg("sllw", op),
        OpKind::Srlw => reg_reg("srlw", op),
        OpKind::Sraw => reg_reg("sraw", op),
        OpKind::Mul => reg_reg("mul", op),
        OpKind::Mulh => reg_reg("mulh", op),
        OpKind::Mulhsu => reg_reg("mulhsu", op),
        OpKind::Mulhu => reg_reg("mulhu", op),
        OpKind::Div => reg_reg("div", op),
        OpKind::Divu => reg_reg("divu", op),
        OpKind::Rem => reg_reg("rem", op),
        OpKind::Remu => reg_reg("remu", op),
        OpKind::Mulw => reg_reg("mulw", op),
        OpKind::Divw => reg_reg("divw", op),
        OpKind::Divuw => reg_reg("divuw", op),
        OpKind::Remw => reg_reg("remw", op),
        OpKind::Remuw => reg_reg("remuw", op),
        OpKind::Fence => fence(op.raw),
        OpKind::FenceI => "fence.i".into(),
        OpKind::Ecall => "ecall".into(),
        OpKind::Ebreak => "ebreak".into(),
        OpKind::Mret => "mret".into(),
        OpKind::Sret => "sret".into(),
        OpKind::Wfi => "wfi".into(),
        OpKind::SfenceVma => format!("sfence.vma {}, {}", x(rs1), x(op.rs2)),
        OpKind::Csrrw => csr("csrrw", x(rs1), op),
        OpKind::Csrrs => csr("csrrs", x(rs1), op),
        OpKind::Csrrc => csr("csrrc", x(rs1), op),
        OpKind::Csrrwi => csr("csrrwi", &rs1.to_string(), op),
        OpKind::Csrrsi => csr("csrrsi", &rs1.to_string(), op),
        OpKind::Csrrci => csr("csrrci", &rs1.to_string(), op),
        OpKind::LrW => format!("lr.w{} {}, ({})", aq_rl(op.raw), x(rd), x(rs1)),
        OpKind::LrD => format!("lr.d{} {}, ({})", aq_rl(op.raw), x(rd), x(rs1)),
        OpKind::ScW => atomic("sc", "w", op),
        OpKind::ScD => atomic("sc", "d", op),
        OpKind::AmoW => atomic(amo_name(imm), "w", op),
        OpKind::AmoD => atomic(amo_name(imm), "d", op),
        OpKind::Flw => load("flw", f(rd), op),
        OpKind::Fld => load("fld", f(rd), op),
        OpKind::Fsw => store("fsw", f(op.rs2), op),
        OpKind::Fsd => store("fsd", f(op.rs2), op),
        OpKind::FpOp => fp(op.raw),
    }
}

// The operand layouts shared by many ops, each given the mnemonic.

/// `beq rs1, rs2, target`.
fn branch(m: &str, op: &Op, pc: u64) -> String {
    let to = target(pc, op.imm);
    format!("{m} {}, {}, {to}", x(op.rs1), x(op.rs2))
}

/// `lw rd, imm(rs1)`, with rd named by the caller (integer or FP).
fn load(m: &str, rd: &str, op: &Op) -> String {
    format!("{m} {rd}, {}({})", op.imm, x(op.rs1))
}

/// `sw rs2, imm(rs1)`, with rs2 named by the caller (integer or FP).
fn store(m: &str, rs2: &str, op: &Op) -> String {
    format!("{m} {rs2}, {}({})", op.imm, x(op.rs1))
}

/// `addi rd, rs1, imm`, with the immediate as shown (a shift's is masked to its width).
fn reg_imm(m: &str, op: &Op, imm: i32) -> String {
    format!("{m} {}, {}, {imm}", x(op.rd), x(op.rs1))
}

/// `add rd, rs1, rs2`.
fn reg_reg(m: &str, op: &Op) -> String {
    format!("{m} {}, {}, {}", x(op.rd), x(op.rs1), x(op.rs2))
}

/// `csrrw rd, csr, src`, with the source (rs1 or the 5-bit immediate) as shown.
fn csr(m: &str, src: &str, op: &Op) -> String {
    let name = csr_name(op.imm as u32 & 0xfff);
    format!("{m} {}, {name}, {src}", x(op.rd))
}

/// `amoadd.w.aq rd, rs2, (rs1)` and `sc.d rd, rs2, (rs1)`.
fn atomic(name: &str, width: &str, op: &Op) -> String {
    format!(
        "{name}.{width}{} {}, {}, ({})",
        aq_rl(op.raw),
        x(op.rd),
        x(op.rs2),
        x(op.rs1)
    )
}

/// The ordering suffix of an atomic: aq is bit 26, rl bit 25.
fn aq_rl(raw: u32) -> &'static str {
    match (raw >> 25) & 3 {
        0 => "",
        1 => ".rl",
        2 => ".aq",
        _ => ".aqrl",
    }
}

/// An AMO's mnemonic without its width, from the operation in `Op::imm`.
fn amo_name(imm: i32) -> &'static str {
    match AmoOp::from_imm(imm) {
        AmoOp::Swap => "amoswap",
        AmoOp::Add => "amoadd",
        AmoOp::Xor => "amoxor",
        AmoOp::And => "amoand",
        AmoOp::Or => "amoor",
        AmoOp::Min => "amomin",
        AmoOp::Max => "amomax",
        AmoOp::Minu => "amominu",
        AmoOp::Maxu => "amomaxu",
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

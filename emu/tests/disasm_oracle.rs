//! Our disassembler (`emu::cpu::disasm`, on top of our decoder) checked against the
//! `disc-v` crate as an oracle, over valid RV64GC encodings.
//!
//! * 32-bit instructions: one property per instruction class (RV64I, M, A, F, D, Zicsr,
//!   Zifencei, privileged). Each class is a table of encodings written as bit patterns
//!   from the ISA manual's opcode maps; a case picks a pattern and fills its free fields
//!   with random bits, so every instruction of the class is exercised with arbitrary
//!   registers and immediates (random words would leave the rarer instructions to
//!   chance).
//! * 16-bit parcels: all 49,152 of them, exhaustively, legal and illegal alike. This
//!   checks our RVC expansion (disc-v decodes compressed instructions directly).
//! * Random 32-bit words: whichever decoder calls a word legal, the other must agree.
//!
//! The two disassemblers differ in conventions that carry no information; [`Canon`]
//! removes exactly those and nothing else (see its documentation). Everything else,
//! mnemonic, every register, every immediate, operand order, rounding mode, fence sets,
//! `.aq`/`.rl`, must be identical. For a parcel, disc-v only names the `c.` instruction,
//! so [`expand_c`] rewrites that to its 32-bit expansion per the ISA manual's RVC table.
//! One class of encodings is excused, in [`check_any`]: the reserved rounding modes,
//! which disc-v decodes and we (like the hart) treat as illegal.
//!
//! Run: `cargo test -p emu --test disasm_oracle`. `PROPTEST_CASES` overrides the
//! per-class case count.

use std::collections::HashMap;
use std::sync::OnceLock;

use disc_v::{Decoder, Instruction};
use emu::cpu::disasm::{csr_name, disassemble};
use proptest::prelude::*;

/// disc-v configured for exactly what the emulator implements: RV64 with IMAFD, Zicsr,
/// Zifencei and C (the privileged instructions are always decoded).
const ORACLE: Decoder = Decoder::RV64GC;

// ---------------------------------------------------------------------------------------
// Canonical form
// ---------------------------------------------------------------------------------------

/// An instruction's text reduced to what it says: the mnemonic and a list of operands.
///
/// The normalisation, applied to both sides alike:
/// * whitespace is dropped (we write `a0, 8(sp)`, disc-v writes `a0,8(sp)`);
/// * every number, standalone or as a memory offset, is written in decimal (we write
///   shift amounts in decimal, disc-v in hex);
/// * the CSR operand of a `csr*` instruction becomes its number (the CSR name tables of
///   the two sides differ in coverage; `csr_names_agree` checks the names both know).
///
/// Nothing else is rewritten: register names (both use ABI names), mnemonics, operand
/// order and count are compared as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Canon {
    mnemonic: String,
    operands: Vec<String>,
}

impl std::fmt::Display for Canon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.mnemonic, self.operands.join(","))
    }
}

/// A number as either side writes it: decimal with optional `-`, or `0x` hex.
fn number(token: &str) -> Option<i128> {
    let (neg, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if neg { -value } else { value })
}

/// One operand with its numbers in decimal: `0x10`, `16(sp)`, `a0` or `(a0)`.
fn canon_operand(operand: &str) -> String {
    match operand.split_once('(') {
        Some((offset, rest)) if !offset.is_empty() => match number(offset) {
            Some(n) => format!("{n}({rest}"),
            None => operand.to_string(),
        },
        _ => number(operand).map_or_else(|| operand.to_string(), |n| n.to_string()),
    }
}

fn parse(text: &str, csr_numbers: &HashMap<String, u32>) -> Canon {
    let (mnemonic, rest) = text.split_once(' ').unwrap_or((text, ""));
    let squeezed: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
    let mut operands: Vec<String> = if squeezed.is_empty() {
        Vec::new()
    } else {
        squeezed.split(',').map(canon_operand).collect()
    };
    if mnemonic.starts_with("csr") && operands.len() == 3 {
        if let Some(&n) = csr_numbers.get(&operands[1]) {
            operands[1] = n.to_string();
        }
    }
    Canon {
        mnemonic: mnemonic.to_string(),
        operands,
    }
}

/// Our CSR names, inverted.
fn our_csr_numbers() -> &'static HashMap<String, u32> {
    static MAP: OnceLock<HashMap<String, u32>> = OnceLock::new();
    MAP.get_or_init(|| (0..4096).map(|n| (csr_name(n), n)).collect())
}

/// disc-v's CSR names, inverted; read off its disassembly of `csrrs zero, <csr>, zero`
/// since it exports no name table.
fn oracle_csr_numbers() -> &'static HashMap<String, u32> {
    static MAP: OnceLock<HashMap<String, u32>> = OnceLock::new();
    MAP.get_or_init(|| (0..4096).map(|n| (oracle_csr_name(n), n)).collect())
}

fn oracle_csr_name(csr: u32) -> String {
    let text = ORACLE
        .decode(0, u64::from(csr << 20 | 0x2073))
        .without_aliases()
        .to_string();
    // "csrrs zero,<name>,zero"
    text.split(',').nth(1).unwrap_or_default().to_string()
}

/// Our side: the text as printed, minus the `c.` we put before every compressed
/// instruction (the rest of our text for a parcel is its 32-bit expansion).
fn canon_ours(raw: u32, pc: u64) -> Canon {
    let text = disassemble(raw, pc);
    let text = match raw & 3 {
        3 => text.as_str(),
        _ => text.strip_prefix("c.").unwrap_or(&text),
    };
    parse(text, our_csr_numbers())
}

/// The oracle's side: disc-v's text without aliases (`objdump -M no-aliases`), which for
/// 32-bit instructions is the base instruction. For a parcel it is the `c.` instruction
/// with its own operand list, so [`expand_c`] rewrites that to the 32-bit instruction
/// the parcel expands to, following the RVC expansion table of the ISA manual.
fn canon_oracle(ins: &Instruction) -> Canon {
    let canon = parse(&ins.without_aliases().to_string(), oracle_csr_numbers());
    if ins.length() == 2 {
        expand_c(canon)
    } else {
        canon
    }
}

/// The RVC expansion table, applied to disc-v's `c.` operand lists (the operand shapes
/// are disc-v's: `c.addi rd,rs1,imm`, `c.li rd,imm`, `c.slli rd,shamt`, `c.j zero,target`,
/// `c.beqz rs1,zero,target`, `c.jr rs1`, `c.add rd,rs2`, `c.nop [imm]` ...).
fn expand_c(c: Canon) -> Canon {
    let Some(name) = c.mnemonic.strip_prefix("c.") else {
        return c;
    };
    let ops: Vec<&str> = c.operands.iter().map(String::as_str).collect();
    let (mnemonic, operands): (&str, Vec<String>) = match (name, ops.as_slice()) {
        ("nop", []) => ("addi", vec!["zero".into(), "zero".into(), "0".into()]),
        ("nop", [imm]) => ("addi", vec!["zero".into(), "zero".into(), imm.to_string()]),
        ("li", [rd, imm]) => ("addi", vec![rd.to_string(), "zero".into(), imm.to_string()]),
        ("lui", [rd, imm]) => ("lui", vec![rd.to_string(), imm.to_string()]),
        ("mv", [rd, rs2]) => ("add", vec![rd.to_string(), "zero".into(), rs2.to_string()]),
        ("add", [rd, rs2]) => ("add", vec![rd.to_string(), rd.to_string(), rs2.to_string()]),
        ("slli" | "srli" | "srai", [rd, shamt]) => (
            name,
            vec![rd.to_string(), rd.to_string(), shamt.to_string()],
        ),
        ("jr", [rs1]) => ("jalr", vec!["zero".into(), format!("0({rs1})")]),
        ("jalr", [rs1]) => ("jalr", vec!["ra".into(), format!("0({rs1})")]),
        ("j", [rd, target]) => ("jal", vec![rd.to_string(), target.to_string()]),
        ("beqz", _) => ("beq", c.operands.clone()),
        ("bnez", _) => ("bne", c.operands.clone()),
        ("addi4spn" | "addi16sp", _) => ("addi", c.operands.clone()),
        ("lwsp" | "ldsp" | "fldsp" | "swsp" | "sdsp" | "fsdsp", _) => {
            (name.strip_suffix("sp").unwrap_or(name), c.operands.clone())
        }
        // Same operands as the base instruction: addi, addiw, andi, the register-register
        // ALU ops, loads and stores, ebreak.
        _ => (name, c.operands.clone()),
    };
    Canon {
        mnemonic: mnemonic.to_string(),
        operands,
    }
}

// ---------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------

fn is_unknown(text: &str) -> bool {
    text.starts_with("unknown")
}

/// Compare one encoding, which the caller knows to be valid RV64GC. `expect` is the
/// mnemonic the generator meant to build (checked against disc-v, so that a wrong bit
/// pattern in a table cannot silently test something else).
fn check_valid(raw: u32, pc: u64, expect: &str) -> Result<(), TestCaseError> {
    let oracle = ORACLE.decode(pc, u64::from(raw));
    prop_assert!(
        !oracle.is_illegal(),
        "{raw:#010x} ({expect}): generator built an encoding disc-v rejects: {oracle}"
    );
    prop_assert_eq!(
        oracle.without_aliases().mnemonic(),
        expect,
        "{:#010x}: generator pattern builds a different instruction",
        raw
    );
    let ours = disassemble(raw, pc);
    prop_assert!(
        !is_unknown(&ours),
        "{raw:#010x}: we call a valid {expect} illegal (disc-v: {oracle})"
    );
    let (a, b) = (canon_ours(raw, pc), canon_oracle(&oracle));
    prop_assert_eq!(
        &a,
        &b,
        "{:#010x} at pc {:#x}: ours `{}` vs disc-v `{}` (canonical `{}` vs `{}`)",
        raw,
        pc,
        ours,
        oracle.without_aliases(),
        a,
        b
    );
    Ok(())
}

fn reserved_rounding_mode(oracle: &Instruction) -> bool {
    let rm = (oracle.raw() >> 12) & 7;
    oracle.mnemonic().starts_with('f')
        && (rm == 5 || rm == 6)
        && oracle.to_string().ends_with(",unknown")
}

/// Compare one arbitrary encoding: legality must agree, and so must the text when legal.
fn check_any(raw: u32, pc: u64) -> Result<(), String> {
    let oracle = ORACLE.decode(pc, u64::from(raw));
    let ours = disassemble(raw, pc);
    match (is_unknown(&ours), oracle.is_illegal()) {
        (true, true) => Ok(()),
        // disc-v, like objdump, decodes the reserved static rounding modes 5 and 6 and
        // writes them as `unknown` (`fadd.s fa0,fa1,fa2,unknown`); the hart raises an
        // illegal-instruction trap for them, so we call the encoding illegal.
        (true, false) if reserved_rounding_mode(&oracle) => Ok(()),
        (false, false) => {
            let (a, b) = (canon_ours(raw, pc), canon_oracle(&oracle));
            if a == b {
                Ok(())
            } else {
                Err(format!(
                    "{raw:#010x} at pc {pc:#x}: ours `{ours}` vs disc-v `{}` \
                     (canonical `{a}` vs `{b}`)",
                    oracle.without_aliases()
                ))
            }
        }
        (ours_unknown, _) => Err(format!(
            "{raw:#010x}: legality differs: ours `{ours}` (illegal: {ours_unknown}) vs \
             disc-v `{}`",
            oracle.without_aliases()
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Generators: one bit pattern per instruction
// ---------------------------------------------------------------------------------------

/// An instruction's encoding, most significant bit first, as in the ISA manual's opcode
/// maps: `0`/`1` fixed, `-` any value, `r` a valid rounding mode (three `r`s: the `rm`
/// field takes 0-4 or 7; 5 and 6 are reserved). Spaces are for reading only.
struct Pattern {
    name: &'static str,
    bits: &'static str,
}

const fn p(name: &'static str, bits: &'static str) -> Pattern {
    Pattern { name, bits }
}

impl Pattern {
    /// The encoding with free bits from `free` and the rounding mode `rm`.
    fn build(&self, free: u32, rm: u32) -> u32 {
        let bits: Vec<u8> = self.bits.bytes().filter(|b| *b != b' ').collect();
        assert_eq!(bits.len(), 32, "pattern for {} is not 32 bits", self.name);
        let mut word = 0u32;
        for (i, b) in bits.iter().enumerate() {
            let pos = 31 - i as u32;
            let bit = match b {
                b'0' => 0,
                b'1' => 1,
                b'-' => (free >> pos) & 1,
                b'r' => (rm >> (pos - 12)) & 1,
                _ => panic!("bad character in pattern for {}", self.name),
            };
            word |= bit << pos;
        }
        word
    }
}

const RV64I: &[Pattern] = &[
    p("lui", "-------------------- ----- 0110111"),
    p("auipc", "-------------------- ----- 0010111"),
    p("jal", "-------------------- ----- 1101111"),
    p("jalr", "------------ ----- 000 ----- 1100111"),
    p("beq", "------- ----- ----- 000 ----- 1100011"),
    p("bne", "------- ----- ----- 001 ----- 1100011"),
    p("blt", "------- ----- ----- 100 ----- 1100011"),
    p("bge", "------- ----- ----- 101 ----- 1100011"),
    p("bltu", "------- ----- ----- 110 ----- 1100011"),
    p("bgeu", "------- ----- ----- 111 ----- 1100011"),
    p("lb", "------------ ----- 000 ----- 0000011"),
    p("lh", "------------ ----- 001 ----- 0000011"),
    p("lw", "------------ ----- 010 ----- 0000011"),
    p("ld", "------------ ----- 011 ----- 0000011"),
    p("lbu", "------------ ----- 100 ----- 0000011"),
    p("lhu", "------------ ----- 101 ----- 0000011"),
    p("lwu", "------------ ----- 110 ----- 0000011"),
    p("sb", "------- ----- ----- 000 ----- 0100011"),
    p("sh", "------- ----- ----- 001 ----- 0100011"),
    p("sw", "------- ----- ----- 010 ----- 0100011"),
    p("sd", "------- ----- ----- 011 ----- 0100011"),
    p("addi", "------------ ----- 000 ----- 0010011"),
    p("slti", "------------ ----- 010 ----- 0010011"),
    p("sltiu", "------------ ----- 011 ----- 0010011"),
    p("xori", "------------ ----- 100 ----- 0010011"),
    p("ori", "------------ ----- 110 ----- 0010011"),
    p("andi", "------------ ----- 111 ----- 0010011"),
    p("slli", "000000 ------ ----- 001 ----- 0010011"),
    p("srli", "000000 ------ ----- 101 ----- 0010011"),
    p("srai", "010000 ------ ----- 101 ----- 0010011"),
    p("add", "0000000 ----- ----- 000 ----- 0110011"),
    p("sub", "0100000 ----- ----- 000 ----- 0110011"),
    p("sll", "0000000 ----- ----- 001 ----- 0110011"),
    p("slt", "0000000 ----- ----- 010 ----- 0110011"),
    p("sltu", "0000000 ----- ----- 011 ----- 0110011"),
    p("xor", "0000000 ----- ----- 100 ----- 0110011"),
    p("srl", "0000000 ----- ----- 101 ----- 0110011"),
    p("sra", "0100000 ----- ----- 101 ----- 0110011"),
    p("or", "0000000 ----- ----- 110 ----- 0110011"),
    p("and", "0000000 ----- ----- 111 ----- 0110011"),
    p("addiw", "------------ ----- 000 ----- 0011011"),
    p("slliw", "0000000 ----- ----- 001 ----- 0011011"),
    p("srliw", "0000000 ----- ----- 101 ----- 0011011"),
    p("sraiw", "0100000 ----- ----- 101 ----- 0011011"),
    p("addw", "0000000 ----- ----- 000 ----- 0111011"),
    p("subw", "0100000 ----- ----- 000 ----- 0111011"),
    p("sllw", "0000000 ----- ----- 001 ----- 0111011"),
    p("srlw", "0000000 ----- ----- 101 ----- 0111011"),
    p("sraw", "0100000 ----- ----- 101 ----- 0111011"),
    // fm = 0 (normal fence) with any predecessor and successor sets; fence.tso is fm = 8
    // with rw,rw. rd and rs1 are reserved and zero.
    p("fence", "0000 ---- ---- 00000 000 00000 0001111"),
    p("fence.tso", "1000 0011 0011 00000 000 00000 0001111"),
];

const M: &[Pattern] = &[
    p("mul", "0000001 ----- ----- 000 ----- 0110011"),
    p("mulh", "0000001 ----- ----- 001 ----- 0110011"),
    p("mulhsu", "0000001 ----- ----- 010 ----- 0110011"),
    p("mulhu", "0000001 ----- ----- 011 ----- 0110011"),
    p("div", "0000001 ----- ----- 100 ----- 0110011"),
    p("divu", "0000001 ----- ----- 101 ----- 0110011"),
    p("rem", "0000001 ----- ----- 110 ----- 0110011"),
    p("remu", "0000001 ----- ----- 111 ----- 0110011"),
    p("mulw", "0000001 ----- ----- 000 ----- 0111011"),
    p("divw", "0000001 ----- ----- 100 ----- 0111011"),
    p("divuw", "0000001 ----- ----- 101 ----- 0111011"),
    p("remw", "0000001 ----- ----- 110 ----- 0111011"),
    p("remuw", "0000001 ----- ----- 111 ----- 0111011"),
];

const A: &[Pattern] = &[
    p("lr.w", "00010 -- 00000 ----- 010 ----- 0101111"),
    p("sc.w", "00011 -- ----- ----- 010 ----- 0101111"),
    p("amoswap.w", "00001 -- ----- ----- 010 ----- 0101111"),
    p("amoadd.w", "00000 -- ----- ----- 010 ----- 0101111"),
    p("amoxor.w", "00100 -- ----- ----- 010 ----- 0101111"),
    p("amoand.w", "01100 -- ----- ----- 010 ----- 0101111"),
    p("amoor.w", "01000 -- ----- ----- 010 ----- 0101111"),
    p("amomin.w", "10000 -- ----- ----- 010 ----- 0101111"),
    p("amomax.w", "10100 -- ----- ----- 010 ----- 0101111"),
    p("amominu.w", "11000 -- ----- ----- 010 ----- 0101111"),
    p("amomaxu.w", "11100 -- ----- ----- 010 ----- 0101111"),
    p("lr.d", "00010 -- 00000 ----- 011 ----- 0101111"),
    p("sc.d", "00011 -- ----- ----- 011 ----- 0101111"),
    p("amoswap.d", "00001 -- ----- ----- 011 ----- 0101111"),
    p("amoadd.d", "00000 -- ----- ----- 011 ----- 0101111"),
    p("amoxor.d", "00100 -- ----- ----- 011 ----- 0101111"),
    p("amoand.d", "01100 -- ----- ----- 011 ----- 0101111"),
    p("amoor.d", "01000 -- ----- ----- 011 ----- 0101111"),
    p("amomin.d", "10000 -- ----- ----- 011 ----- 0101111"),
    p("amomax.d", "10100 -- ----- ----- 011 ----- 0101111"),
    p("amominu.d", "11000 -- ----- ----- 011 ----- 0101111"),
    p("amomaxu.d", "11100 -- ----- ----- 011 ----- 0101111"),
];

const F: &[Pattern] = &[
    p("flw", "------------ ----- 010 ----- 0000111"),
    p("fsw", "------- ----- ----- 010 ----- 0100111"),
    p("fmadd.s", "----- 00 ----- ----- rrr ----- 1000011"),
    p("fmsub.s", "----- 00 ----- ----- rrr ----- 1000111"),
    p("fnmsub.s", "----- 00 ----- ----- rrr ----- 1001011"),
    p("fnmadd.s", "----- 00 ----- ----- rrr ----- 1001111"),
    p("fadd.s", "0000000 ----- ----- rrr ----- 1010011"),
    p("fsub.s", "0000100 ----- ----- rrr ----- 1010011"),
    p("fmul.s", "0001000 ----- ----- rrr ----- 1010011"),
    p("fdiv.s", "0001100 ----- ----- rrr ----- 1010011"),
    p("fsqrt.s", "0101100 00000 ----- rrr ----- 1010011"),
    p("fsgnj.s", "0010000 ----- ----- 000 ----- 1010011"),
    p("fsgnjn.s", "0010000 ----- ----- 001 ----- 1010011"),
    p("fsgnjx.s", "0010000 ----- ----- 010 ----- 1010011"),
    p("fmin.s", "0010100 ----- ----- 000 ----- 1010011"),
    p("fmax.s", "0010100 ----- ----- 001 ----- 1010011"),
    p("fcvt.w.s", "1100000 00000 ----- rrr ----- 1010011"),
    p("fcvt.wu.s", "1100000 00001 ----- rrr ----- 1010011"),
    p("fcvt.l.s", "1100000 00010 ----- rrr ----- 1010011"),
    p("fcvt.lu.s", "1100000 00011 ----- rrr ----- 1010011"),
    p("fmv.x.w", "1110000 00000 ----- 000 ----- 1010011"),
    p("feq.s", "1010000 ----- ----- 010 ----- 1010011"),
    p("flt.s", "1010000 ----- ----- 001 ----- 1010011"),
    p("fle.s", "1010000 ----- ----- 000 ----- 1010011"),
    p("fclass.s", "1110000 00000 ----- 001 ----- 1010011"),
    p("fcvt.s.w", "1101000 00000 ----- rrr ----- 1010011"),
    p("fcvt.s.wu", "1101000 00001 ----- rrr ----- 1010011"),
    p("fcvt.s.l", "1101000 00010 ----- rrr ----- 1010011"),
    p("fcvt.s.lu", "1101000 00011 ----- rrr ----- 1010011"),
    p("fmv.w.x", "1111000 00000 ----- 000 ----- 1010011"),
];

const D: &[Pattern] = &[
    p("fld", "------------ ----- 011 ----- 0000111"),
    p("fsd", "------- ----- ----- 011 ----- 0100111"),
    p("fmadd.d", "----- 01 ----- ----- rrr ----- 1000011"),
    p("fmsub.d", "----- 01 ----- ----- rrr ----- 1000111"),
    p("fnmsub.d", "----- 01 ----- ----- rrr ----- 1001011"),
    p("fnmadd.d", "----- 01 ----- ----- rrr ----- 1001111"),
    p("fadd.d", "0000001 ----- ----- rrr ----- 1010011"),
    p("fsub.d", "0000101 ----- ----- rrr ----- 1010011"),
    p("fmul.d", "0001001 ----- ----- rrr ----- 1010011"),
    p("fdiv.d", "0001101 ----- ----- rrr ----- 1010011"),
    p("fsqrt.d", "0101101 00000 ----- rrr ----- 1010011"),
    p("fsgnj.d", "0010001 ----- ----- 000 ----- 1010011"),
    p("fsgnjn.d", "0010001 ----- ----- 001 ----- 1010011"),
    p("fsgnjx.d", "0010001 ----- ----- 010 ----- 1010011"),
    p("fmin.d", "0010101 ----- ----- 000 ----- 1010011"),
    p("fmax.d", "0010101 ----- ----- 001 ----- 1010011"),
    p("fcvt.s.d", "0100000 00001 ----- rrr ----- 1010011"),
    p("fcvt.d.s", "0100001 00000 ----- rrr ----- 1010011"),
    p("feq.d", "1010001 ----- ----- 010 ----- 1010011"),
    p("flt.d", "1010001 ----- ----- 001 ----- 1010011"),
    p("fle.d", "1010001 ----- ----- 000 ----- 1010011"),
    p("fclass.d", "1110001 00000 ----- 001 ----- 1010011"),
    p("fcvt.w.d", "1100001 00000 ----- rrr ----- 1010011"),
    p("fcvt.wu.d", "1100001 00001 ----- rrr ----- 1010011"),
    p("fcvt.l.d", "1100001 00010 ----- rrr ----- 1010011"),
    p("fcvt.lu.d", "1100001 00011 ----- rrr ----- 1010011"),
    p("fcvt.d.w", "1101001 00000 ----- rrr ----- 1010011"),
    p("fcvt.d.wu", "1101001 00001 ----- rrr ----- 1010011"),
    p("fcvt.d.l", "1101001 00010 ----- rrr ----- 1010011"),
    p("fcvt.d.lu", "1101001 00011 ----- rrr ----- 1010011"),
    p("fmv.x.d", "1110001 00000 ----- 000 ----- 1010011"),
    p("fmv.d.x", "1111001 00000 ----- 000 ----- 1010011"),
];

const ZICSR: &[Pattern] = &[
    p("csrrw", "------------ ----- 001 ----- 1110011"),
    p("csrrs", "------------ ----- 010 ----- 1110011"),
    p("csrrc", "------------ ----- 011 ----- 1110011"),
    p("csrrwi", "------------ ----- 101 ----- 1110011"),
    p("csrrsi", "------------ ----- 110 ----- 1110011"),
    p("csrrci", "------------ ----- 111 ----- 1110011"),
];

const ZIFENCEI: &[Pattern] = &[p("fence.i", "000000000000 00000 001 00000 0001111")];

const PRIVILEGED: &[Pattern] = &[
    p("ecall", "000000000000 00000 000 00000 1110011"),
    p("ebreak", "000000000001 00000 000 00000 1110011"),
    p("sret", "0001000 00010 00000 000 00000 1110011"),
    p("mret", "0011000 00010 00000 000 00000 1110011"),
    p("wfi", "0001000 00101 00000 000 00000 1110011"),
    p("sfence.vma", "0001001 ----- ----- 000 00000 1110011"),
];

/// A valid rounding mode: RNE, RTZ, RDN, RUP, RMM or DYN.
fn rounding_mode() -> impl Strategy<Value = u32> {
    prop::sample::select(&[0u32, 1, 2, 3, 4, 7][..])
}

/// Any 2-byte-aligned pc, so branch targets wrap around the address space too.
fn pc() -> impl Strategy<Value = u64> {
    any::<u64>().prop_map(|pc| pc & !1)
}

/// (encoding, mnemonic, pc) for a random instruction of `class`.
fn instruction(class: &'static [Pattern]) -> impl Strategy<Value = (u32, &'static str, u64)> {
    (
        prop::sample::select((0..class.len()).collect::<Vec<_>>()),
        any::<u32>(),
        rounding_mode(),
        pc(),
    )
        .prop_map(move |(i, free, rm, pc)| (class[i].build(free, rm), class[i].name, pc))
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // A failure prints its encoding; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn rv64i((raw, name, pc) in instruction(RV64I)) { check_valid(raw, pc, name)?; }

    #[test]
    fn m((raw, name, pc) in instruction(M)) { check_valid(raw, pc, name)?; }

    #[test]
    fn a((raw, name, pc) in instruction(A)) { check_valid(raw, pc, name)?; }

    #[test]
    fn f((raw, name, pc) in instruction(F)) { check_valid(raw, pc, name)?; }

    #[test]
    fn d((raw, name, pc) in instruction(D)) { check_valid(raw, pc, name)?; }

    #[test]
    fn zicsr((raw, name, pc) in instruction(ZICSR)) { check_valid(raw, pc, name)?; }

    #[test]
    fn zifencei((raw, name, pc) in instruction(ZIFENCEI)) { check_valid(raw, pc, name)?; }

    #[test]
    fn privileged((raw, name, pc) in instruction(PRIVILEGED)) { check_valid(raw, pc, name)?; }

}

proptest! {
    // Cheap cases, and most of them land in the big classes: run more.
    #![proptest_config(ProptestConfig {
        cases: cases() * 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary 32-bit words: any major opcode of a 32-bit instruction (bits 4:2 not
    /// 111, which start longer encodings), anything in the other 25 bits.
    #[test]
    fn random_words(
        major in prop::sample::select((0..32u32).filter(|m| m & 7 != 7).collect::<Vec<_>>()),
        high in any::<u32>(),
        pc in pc(),
    ) {
        let raw = (high & !0x7f) | major << 2 | 3;
        if let Err(e) = check_any(raw, pc) {
            return Err(TestCaseError::fail(e));
        }
    }
}

/// Every 16-bit parcel, at a pc where branch targets can go either way.
#[test]
fn every_compressed_parcel() {
    let mut failures = Vec::new();
    for parcel in (0u32..=0xffff).filter(|p| p & 3 != 3) {
        if let Err(e) = check_any(parcel, 0x8000_1000) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} parcels differ, first 20:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// Where both sides name a CSR, the names are the same.
#[test]
fn csr_names_agree() {
    let mut differ = Vec::new();
    for csr in 0..4096 {
        let ours = csr_name(csr);
        if ours.starts_with("0x") {
            continue;
        }
        let theirs = oracle_csr_name(csr);
        if ours != theirs {
            differ.push(format!("{csr:#05x}: ours {ours}, disc-v {theirs}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// The generators' tables are what their names say, with the free bits all clear and
/// all set (the properties also check this per case).
#[test]
fn patterns_build_their_instruction() {
    for class in [RV64I, M, A, F, D, ZICSR, ZIFENCEI, PRIVILEGED] {
        for pattern in class {
            for free in [0, u32::MAX] {
                let raw = pattern.build(free, 7);
                let ins = ORACLE.decode(0, u64::from(raw)).without_aliases();
                assert_eq!(ins.mnemonic(), pattern.name, "{raw:#010x}");
            }
        }
    }
}

/// The canonical form keeps what matters: a wrong register, immediate, operand order
/// or mnemonic stays visible after normalisation.
#[test]
fn normaliser_is_not_blind() {
    let map = HashMap::new();
    let c = |s: &str| parse(s, &map);
    assert_eq!(c("addi a0, a1, 16"), c("addi a0,a1,0x10"));
    assert_eq!(c("ld a0, 8(sp)"), c("ld a0,0x8(sp)"));
    assert_ne!(c("addi a0, a1, 16"), c("addi a0,a2,16"));
    assert_ne!(c("addi a0, a1, 16"), c("addi a0,a1,17"));
    assert_ne!(c("sub a0, a1, a2"), c("sub a0,a2,a1"));
    assert_ne!(c("sd a0, 8(sp)"), c("sd a0,8(s0)"));
    assert_ne!(c("add a0, a1, a2"), c("addw a0,a1,a2"));
    assert_ne!(c("fadd.d fa0, fa1, fa2"), c("fadd.d fa0,fa1,fa2,rtz"));
    assert_ne!(c("amoadd.w.aq a0, a1, (a2)"), c("amoadd.w a0,a1,(a2)"));
}

//! Unit tests of the hart: hand-assembled programs run on a bare bus.

use super::csr::{ip, ms, num};
use super::decode::{decode, expand_rvc, OpKind};
use super::encode::{b_type, i_type, j_type, op, r_type, s_type, u_type};
use super::trap::Exception;
use super::*;
use crate::bus::{Bus, DRAM_BASE};

/// A tiny assembler: one function per instruction used by the tests.
mod asm {
    use super::*;
    pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
        i_type(op::OP_IMM, rd, 0, rs1, imm)
    }
    pub fn li(rd: u32, imm: i32) -> u32 {
        addi(rd, 0, imm)
    }
    pub fn alui(f3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
        i_type(op::OP_IMM, rd, f3, rs1, imm)
    }
    pub fn alu(f7: u32, f3: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
        r_type(op::OP, rd, f3, rs1, rs2, f7)
    }
    pub fn alu32(f7: u32, f3: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
        r_type(op::OP_32, rd, f3, rs1, rs2, f7)
    }
    pub fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
        alu(0, 0, rd, rs1, rs2)
    }
    pub fn lui(rd: u32, imm: i32) -> u32 {
        u_type(op::LUI, rd, imm)
    }
    pub fn auipc(rd: u32, imm: i32) -> u32 {
        u_type(op::AUIPC, rd, imm)
    }
    pub fn jal(rd: u32, off: i32) -> u32 {
        j_type(op::JAL, rd, off)
    }
    pub fn jalr(rd: u32, rs1: u32, off: i32) -> u32 {
        i_type(op::JALR, rd, 0, rs1, off)
    }
    pub fn branch(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
        b_type(op::BRANCH, f3, rs1, rs2, off)
    }
    pub fn load(f3: u32, rd: u32, rs1: u32, off: i32) -> u32 {
        i_type(op::LOAD, rd, f3, rs1, off)
    }
    pub fn store(f3: u32, rs2: u32, rs1: u32, off: i32) -> u32 {
        s_type(op::STORE, f3, rs1, rs2, off)
    }
    pub fn amo(f5: u32, wide: bool, rd: u32, rs1: u32, rs2: u32) -> u32 {
        r_type(op::AMO, rd, if wide { 3 } else { 2 }, rs1, rs2, f5 << 2)
    }
    pub fn csr(f3: u32, rd: u32, csr: u16, rs1: u32) -> u32 {
        i_type(op::SYSTEM, rd, f3, rs1, csr as i32)
    }
    pub fn csrr(rd: u32, c: u16) -> u32 {
        csr(2, rd, c, 0)
    }
    pub fn csrw(c: u16, rs1: u32) -> u32 {
        csr(1, 0, c, rs1)
    }
    pub const ECALL: u32 = 0x0000_0073;
    pub const EBREAK: u32 = 0x0010_0073;
    pub const MRET: u32 = 0x3020_0073;
    pub const SRET: u32 = 0x1020_0073;
    pub const WFI: u32 = 0x1050_0073;
    pub const FENCE_I: u32 = 0x0000_100f;
    pub const NOP: u32 = 0x0000_0013;
}
use asm::*;

const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;

const RAM: u64 = 1 << 20;
/// Where tests put trap handlers and data.
const HANDLER: u64 = DRAM_BASE + 0x8000;
const DATA: u64 = DRAM_BASE + 0x10000;

struct Rig {
    hart: Hart,
    bus: Bus,
}

impl Rig {
    fn new(prog: &[u32]) -> Rig {
        Rig::with_mmu(prog, Default::default())
    }

    /// [`Rig::new`] with an MMU configured as `mmu` says (`stats`: a counted run).
    fn with_mmu(prog: &[u32], mmu: crate::mmu::MmuConfig) -> Rig {
        let mut bus = Bus::new(RAM);
        load_words(&mut bus, DRAM_BASE, prog);
        let mut hart = Hart::new(0, mmu);
        hart.pc = DRAM_BASE;
        // Traps land on an `ebreak`-free spin so tests can look at the trap state.
        load_words(&mut bus, HANDLER, &[jal(0, 0)]);
        hart.mtvec = HANDLER;
        hart.stvec = HANDLER;
        // As M-mode firmware does: PMP entry 0 = all of memory, RWX, so S and U may run.
        hart.mmu.pmp.write_addr(0, u64::MAX);
        hart.mmu.pmp.write_cfg(0, 0x1f);
        hart.mmu.pmp_changed();
        Rig { hart, bus }
    }

    /// Execute exactly `n` instructions (or traps).
    fn step(&mut self, n: u64) -> RunStop {
        let (done, stop) = self.hart.run(&mut self.bus, n);
        if stop == RunStop::Budget {
            assert_eq!(done, n);
        }
        stop
    }

    /// Run until the pc reaches `pc`, at most 10 000 steps.
    fn run_to(&mut self, pc: u64) {
        for _ in 0..10_000 {
            if self.hart.pc == pc {
                return;
            }
            self.hart.run(&mut self.bus, 1);
        }
        panic!("pc never reached {pc:#x}; stuck at {:#x}", self.hart.pc);
    }

    /// Run the program to its end (the address after the last word).
    fn run_prog(&mut self, len: usize) {
        self.run_to(DRAM_BASE + 4 * len as u64);
    }

    fn x(&self, r: u32) -> u64 {
        self.hart.x[r as usize]
    }

    fn enter(&mut self, privilege: u8) {
        self.hart.set_privilege(privilege);
    }

    /// A CSR value as M-mode sees it (trap registers read directly).
    fn csr(&self, c: u16) -> u64 {
        match c {
            num::MCAUSE => self.hart.mcause,
            num::MEPC => self.hart.mepc,
            num::MTVAL => self.hart.mtval,
            num::SCAUSE => self.hart.scause,
            num::SEPC => self.hart.sepc,
            num::STVAL => self.hart.stval,
            num::MSTATUS => self.hart.mstatus(),
            _ => self.hart.csr_read(c).expect("CSR exists"),
        }
    }

    fn trapped(&self, cause: u64, tval: u64) {
        assert_eq!(self.hart.pc, HANDLER, "expected a trap");
        assert_eq!(self.csr(num::MCAUSE), cause, "mcause");
        assert_eq!(self.csr(num::MTVAL), tval, "mtval");
    }
}

fn load_words(bus: &mut Bus, at: u64, words: &[u32]) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(bus.ram.load(at, &bytes));
}

/// Load `rd` with a 64-bit constant built from two 32-bit halves (lui/addi pairs).
fn li64(rd: u32, v: u64) -> Vec<u32> {
    let mut out = Vec::new();
    let mut push32 = |val: u32, rd: u32| {
        let lo = ((val & 0xfff) as i32) << 20 >> 20;
        let hi = val.wrapping_sub(lo as u32) as i32;
        out.push(lui(rd, hi));
        out.push(addi(rd, rd, lo));
    };
    push32((v >> 32) as u32, rd);
    let mut out2 = out;
    out2.push(alui(1, rd, rd, 32)); // slli rd, rd, 32
                                    // Low half in t2 (zero-extended), then OR it in.
    let lo = v as u32;
    let lo12 = ((lo & 0xfff) as i32) << 20 >> 20;
    let hi20 = lo.wrapping_sub(lo12 as u32) as i32;
    out2.push(lui(T2, hi20));
    out2.push(addi(T2, T2, lo12));
    out2.push(alui(1, T2, T2, 32));
    out2.push(alui(5, T2, T2, 32)); // srli: zero-extend the low half
    out2.push(alu(0, 6, rd, rd, T2)); // or
    out2
}

#[test]
fn alu_immediate_and_register_ops() {
    let prog = [
        li(A0, -5),
        alui(2, A1, A0, 3),                       // slti
        alui(3, A2, A0, 3),                       // sltiu (a0 is huge unsigned)
        alui(4, 13, A0, 0xff),                    // xori
        alui(6, 14, A0, 0x10),                    // ori
        alui(7, 15, A0, 0x0f),                    // andi
        alui(1, 16, A0, 60),                      // slli
        alui(5, 17, A0, 60),                      // srli
        i_type(op::OP_IMM, 18, 5, A0, 0x400 | 1), // srai 1
        li(T0, 7),
        alu(0x20, 0, 19, T0, A0), // sub 7 - -5
        alu(0, 1, 20, T0, T0),    // sll 7 << 7
        alu(0, 2, 21, A0, T0),    // slt
        alu(0, 3, 22, A0, T0),    // sltu
        alu(0x20, 5, 23, A0, T0), // sra
        lui(24, 0x8000_0000u32 as i32),
        auipc(25, 0x1000),
        i_type(op::OP_IMM_32, 26, 0, 24, -1), // addiw: 0x80000000 - 1 wraps to positive
        alu32(0, 1, 27, T0, T0),              // sllw 7 << 7
        i_type(op::OP_IMM_32, 28, 5, 24, 0x400 | 4), // sraiw
        i_type(op::OP_IMM_32, 29, 5, 24, 4),  // srliw
        alu32(0x20, 0, 30, 24, T0),           // subw
        alu(0, 4, 31, A0, T0),                // xor
    ];
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(A1), 1);
    assert_eq!(r.x(A2), 0);
    assert_eq!(r.x(13), (-5i64 ^ 0xff) as u64);
    assert_eq!(r.x(14), (-5i64 | 0x10) as u64);
    assert_eq!(r.x(15), (-5i64 & 0xf) as u64);
    assert_eq!(r.x(16), (-5i64 as u64) << 60);
    assert_eq!(r.x(17), (-5i64 as u64) >> 60);
    assert_eq!(r.x(18), (-3i64) as u64);
    assert_eq!(r.x(19), 12);
    assert_eq!(r.x(20), 7 << 7);
    assert_eq!(r.x(21), 1);
    assert_eq!(r.x(22), 0);
    assert_eq!(r.x(23), u64::MAX);
    assert_eq!(r.x(24), 0xffff_ffff_8000_0000);
    assert_eq!(r.x(25), DRAM_BASE + 16 * 4 + 0x1000);
    assert_eq!(r.x(26), 0x7fff_ffff);
    assert_eq!(r.x(27), 7 << 7);
    assert_eq!(r.x(28), 0xffff_ffff_f800_0000);
    assert_eq!(r.x(29), 0x0800_0000);
    assert_eq!(r.x(30), 0x7fff_fff9);
    assert_eq!(r.x(31), (-5i64 ^ 7) as u64);
}

#[test]
fn writes_to_x0_are_discarded() {
    let prog = [li(0, 5), add(A0, 0, 0), lui(0, 0x1000)];
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(0), 0);
    assert_eq!(r.x(A0), 0);
}

#[test]
fn branches_and_jumps() {
    // Each taken branch skips an `li a0, 99`; each not-taken one adds 1 to a1.
    let mut prog = vec![li(T0, -1), li(T1, 1)];
    let cases = [
        (0, T0, T0, true),  // beq
        (0, T0, T1, false), // beq
        (1, T0, T1, true),  // bne
        (4, T0, T1, true),  // blt (signed)
        (4, T1, T0, false), // blt
        (5, T1, T0, true),  // bge
        (6, T1, T0, true),  // bltu (1 < 0xfff...)
        (6, T0, T1, false), // bltu
        (7, T0, T1, true),  // bgeu
        (7, T1, T0, false), // bgeu
    ];
    for (f3, a, b, _) in cases {
        prog.push(branch(f3, a, b, 8));
        prog.push(addi(A1, A1, 1));
    }
    let base = prog.len() as i32;
    prog.push(jal(1, 8)); // ra = pc + 4, skip one
    prog.push(li(A0, 99));
    prog.push(auipc(T2, 0));
    prog.push(jalr(A2, T2, 17)); // target auipc+17, bit 0 cleared -> +16 (the end)
    prog.push(li(A0, 98));
    prog.push(li(A0, 97));
    let end = prog.len();
    let mut r = Rig::new(&prog);
    r.run_prog(end);
    let not_taken = cases.iter().filter(|c| !c.3).count() as u64;
    assert_eq!(r.x(A1), not_taken);
    assert_eq!(r.x(1), DRAM_BASE + 4 * base as u64 + 4);
    assert_eq!(r.x(A2), DRAM_BASE + 4 * (base as u64 + 4));
    assert_eq!(r.x(A0), 0);
}

#[test]
fn loads_and_stores_all_widths() {
    let mut prog = li64(A0, DATA);
    prog.extend(li64(T0, 0x8182_8384_8586_8788));
    prog.extend([
        store(3, T0, A0, 0),
        load(0, 11, A0, 0),   // lb
        load(4, 12, A0, 0),   // lbu
        load(1, 13, A0, 0),   // lh
        load(5, 14, A0, 0),   // lhu
        load(2, 15, A0, 0),   // lw
        load(6, 16, A0, 0),   // lwu
        load(3, 17, A0, 0),   // ld
        store(0, T0, A0, 8),  // sb
        store(1, T0, A0, 16), // sh
        store(2, T0, A0, 24), // sw
        load(3, 18, A0, 8),
        load(3, 19, A0, 16),
        load(3, 20, A0, 24),
    ]);
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(11), 0xffff_ffff_ffff_ff88);
    assert_eq!(r.x(12), 0x88);
    assert_eq!(r.x(13), 0xffff_ffff_ffff_8788);
    assert_eq!(r.x(14), 0x8788);
    assert_eq!(r.x(15), 0xffff_ffff_8586_8788);
    assert_eq!(r.x(16), 0x8586_8788);
    assert_eq!(r.x(17), 0x8182_8384_8586_8788);
    assert_eq!(r.x(18), 0x88);
    assert_eq!(r.x(19), 0x8788);
    assert_eq!(r.x(20), 0x8586_8788);
}

#[test]
fn misaligned_loads_and_stores_succeed_even_across_pages() {
    let mut prog = li64(A0, DATA + 0xffd); // 3 bytes before a page boundary
    prog.extend(li64(T0, 0x1122_3344_5566_7788));
    prog.extend([
        store(3, T0, A0, 0),
        load(3, 11, A0, 0),
        load(2, 12, A0, 1),           // lw crossing at +1
        store(1, T0, A0, -0x100 + 1), // sh at an odd address inside the page
        load(5, 13, A0, -0x100 + 1),
    ]);
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(11), 0x1122_3344_5566_7788);
    assert_eq!(r.x(12), 0x4455_6677);
    assert_eq!(r.x(13), 0x7788);
    assert_eq!(r.bus.ram.read(DATA + 0x1000, 4), Some(0x2233_4455));
}

#[test]
fn multiply_and_divide() {
    let cases: &[(u32, u32, bool, u64, u64, u64)] = &[
        // (funct3, _, word op, a, b, expected)
        (0, 0, false, 7, (-3i64) as u64, (-21i64) as u64),
        (1, 0, false, (-1i64) as u64, (-1i64) as u64, 0),
        (1, 0, false, i64::MIN as u64, 2, u64::MAX),
        (2, 0, false, (-1i64) as u64, u64::MAX, u64::MAX), // mulhsu(-1, 2^64-1) = -1 high
        (3, 0, false, u64::MAX, u64::MAX, u64::MAX - 1),
        (4, 0, false, (-7i64) as u64, 2, (-3i64) as u64),
        (4, 0, false, 5, 0, u64::MAX),
        (4, 0, false, i64::MIN as u64, u64::MAX, i64::MIN as u64),
        (5, 0, false, 7, 0, u64::MAX),
        (5, 0, false, u64::MAX, 2, u64::MAX / 2),
        (6, 0, false, (-7i64) as u64, 2, u64::MAX),
        (6, 0, false, 9, 0, 9),
        (6, 0, false, i64::MIN as u64, u64::MAX, 0),
        (7, 0, false, 9, 0, 9),
        (7, 0, false, 9, 4, 1),
        (
            0,
            0,
            true,
            0x1_0000_0003,
            0x8000_0000,
            0xffff_ffff_8000_0000,
        ),
        (
            4,
            0,
            true,
            0xffff_ffff_8000_0000,
            u64::MAX,
            0xffff_ffff_8000_0000,
        ),
        (4, 0, true, 5, 0, u64::MAX),
        (5, 0, true, 0xffff_fffe, 1, 0xffff_ffff_ffff_fffe),
        (5, 0, true, 5, 0, u64::MAX),
        (6, 0, true, 0xffff_fff9, 2, u64::MAX),
        (6, 0, true, 0x8000_0005, 0, 0xffff_ffff_8000_0005),
        (7, 0, true, 0x8000_0005, 0, 0xffff_ffff_8000_0005),
        (7, 0, true, 0xffff_fff9, 0x10, 9),
    ];
    for &(f3, _, word, a, b, want) in cases {
        let mut prog = li64(A0, a);
        prog.extend(li64(A1, b));
        prog.push(if word {
            alu32(1, f3, A2, A0, A1)
        } else {
            alu(1, f3, A2, A0, A1)
        });
        let mut r = Rig::new(&prog);
        r.run_prog(prog.len());
        assert_eq!(r.x(A2), want, "f3={f3} word={word} a={a:#x} b={b:#x}");
    }
}

#[test]
fn atomics_compute_and_sign_extend() {
    // (funct5, a in memory, b in register, new memory value) for W and D.
    let cases: &[(u32, u64, u64, u64)] = &[
        (0x01, 5, 9, 9),
        (0x00, 5, 9, 14),
        (0x04, 6, 3, 5),
        (0x0c, 6, 3, 2),
        (0x08, 6, 3, 7),
        (0x10, (-2i64) as u64, 1, (-2i64) as u64),
        (0x14, (-2i64) as u64, 1, 1),
        (0x18, (-2i64) as u64, 1, 1),
        (0x1c, (-2i64) as u64, 1, (-2i64) as u64),
    ];
    for wide in [false, true] {
        for &(f5, mem, reg, want) in cases {
            let mut prog = li64(A0, DATA);
            prog.extend(li64(T0, mem));
            prog.extend(li64(A1, reg));
            prog.push(store(if wide { 3 } else { 2 }, T0, A0, 0));
            prog.push(amo(f5, wide, A2, A0, A1));
            prog.push(load(if wide { 3 } else { 2 }, 13, A0, 0));
            let mut r = Rig::new(&prog);
            r.run_prog(prog.len());
            let sx = |v: u64| if wide { v } else { v as i32 as i64 as u64 };
            assert_eq!(r.x(A2), sx(mem), "old value f5={f5:#x} wide={wide}");
            assert_eq!(r.x(13), sx(want), "new value f5={f5:#x} wide={wide}");
        }
    }
}

#[test]
fn lr_sc_reservation_rules() {
    let mut prog = li64(A0, DATA);
    prog.extend([
        li(T0, 42),
        amo(0x02, true, A1, A0, 0),  // lr.d
        amo(0x03, true, A2, A0, T0), // sc.d succeeds
        amo(0x03, true, 13, A0, T0), // sc.d without reservation fails
        amo(0x02, false, 14, A0, 0), // lr.w
        addi(A0, A0, 8),
        amo(0x03, false, 15, A0, T0), // sc.w to another address fails
        load(3, 16, A0, 0),
    ]);
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(A1), 0);
    assert_eq!(r.x(A2), 0);
    assert_eq!(r.x(13), 1);
    assert_eq!(r.x(14), 42);
    assert_eq!(r.x(15), 1);
    assert_eq!(r.x(16), 0);
    assert_eq!(r.bus.ram.read(DATA, 8), Some(42));
}

/// LR, SC and AMOs give the same registers, memory and TLB counters whether the data
/// path serves them (the hart's data-page cache, a counted run) or the reference path
/// translates them, run straight through in one quantum.
#[test]
fn atomics_agree_on_every_data_path() {
    let mut prog = li64(A0, DATA);
    prog.extend(li64(T0, 0xffff_ffff_8000_0005));
    prog.extend([
        store(3, T0, A0, 0),          // the page enters the caches
        load(3, 13, A0, 8),           // for loads too
        amo(0x00, false, A1, A0, T0), // amoadd.w
        amo(0x02, true, A2, A0, 0),   // lr.d
        amo(0x03, true, 14, A0, T0),  // sc.d succeeds
        amo(0x03, true, 15, A0, A1),  // sc.d without a reservation fails
        amo(0x02, false, 16, A0, 0),  // lr.w
        amo(0x01, true, 17, A0, A2),  // amoswap.d
        amo(0x03, false, 18, A0, T0), // sc.w: the word changed, fails
        amo(0x1c, true, 19, A0, T0),  // amomaxu.d
        amo(0x10, false, 20, A0, A1), // amomin.w
        load(3, 21, A0, 0),
    ]);
    let run = |stats: bool, fast_path: bool| {
        let config = crate::mmu::MmuConfig {
            stats,
            fast_path,
            ..Default::default()
        };
        let mut r = Rig::with_mmu(&prog, config);
        assert_eq!(r.step(prog.len() as u64), RunStop::Budget);
        assert_eq!(r.hart.pc, DRAM_BASE + 4 * prog.len() as u64);
        (r.hart.x, r.bus.ram.read(DATA, 8), r.hart.mmu.stats.clone())
    };
    let reference = run(true, false);
    assert_eq!(reference.0[14], 0, "the first sc.d succeeds");
    assert_eq!(reference.0[15], 1);
    assert_eq!(reference.0[18], 1);
    assert_eq!(run(true, true), reference, "counted run");
    let cached = run(false, true);
    assert_eq!(
        (cached.0, cached.1),
        (reference.0, reference.1),
        "data-page cache"
    );
}

#[test]
fn misaligned_atomics_trap() {
    for (insn, cause) in [
        (amo(0x02, false, A1, A0, 0), Exception::LOAD_MISALIGNED),
        (amo(0x03, true, A1, A0, 0), Exception::STORE_MISALIGNED),
        (amo(0x00, false, A1, A0, 0), Exception::STORE_MISALIGNED),
    ] {
        let mut prog = li64(A0, DATA + 2);
        prog.push(insn);
        let mut r = Rig::new(&prog);
        r.run_prog(prog.len() - 1);
        r.step(1);
        r.trapped(cause, DATA + 2);
        assert_eq!(r.csr(num::MEPC), DRAM_BASE + 4 * (prog.len() as u64 - 1));
    }
}

#[test]
fn access_fault_outside_ram_has_the_virtual_address() {
    let mut prog = li64(A0, 0x4000_0000);
    prog.push(load(3, A1, A0, 8));
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len() - 1);
    r.step(1);
    r.trapped(Exception::LOAD_ACCESS_FAULT, 0x4000_0008);
    let mut prog = li64(A0, 0x4000_0000);
    prog.push(store(3, A1, A0, 0));
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len() - 1);
    r.step(1);
    r.trapped(Exception::STORE_ACCESS_FAULT, 0x4000_0000);
    // Jumping nowhere: instruction access fault with tval = the target.
    let mut prog = li64(A0, 0x5000_0000);
    prog.push(jalr(0, A0, 0));
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len() - 1);
    r.step(2);
    r.trapped(Exception::INSN_ACCESS_FAULT, 0x5000_0000);
}

#[test]
fn rvc_expansion_matches_the_assembler() {
    // Pairs produced by GNU as from the same source with and without RVC.
    let table: &[(u16, u32)] = &[
        (0x0800, 0x01010413),
        (0x2504, 0x00853487),
        (0x424c, 0x00462583),
        (0x6b14, 0x01073683),
        (0xaf88, 0x00a7bc27),
        (0xc024, 0x04942023),
        (0xfd7c, 0x0ef53c23),
        (0x0001, 0x00000013),
        (0x12f5, 0xffd28293),
        (0x257d, 0x01f5051b),
        (0x5301, 0xfe000313),
        (0x7139, 0xfc010113),
        (0x7385, 0xfffe13b7),
        (0x917d, 0x03f55513),
        (0x8585, 0x4015d593),
        (0x9a7d, 0xfff67613),
        (0x8c05, 0x40940433),
        (0x8eb9, 0x00e6c6b3),
        (0x8fc5, 0x0097e7b3),
        (0x8d6d, 0x00b57533),
        (0x9c1d, 0x40f4043b),
        (0x9e35, 0x00d6063b),
        (0xaff5, 0x7fc0006f),
        (0xd101, 0xf00500e3),
        (0xecfd, 0x0e049f63),
        (0x1e06, 0x021e1e13),
        (0x30fe, 0x1f813087),
        (0x50fe, 0x0fc12083),
        (0x6fa2, 0x00813f83),
        (0x8082, 0x00008067),
        (0x857a, 0x01e00533),
        (0x9002, 0x00100073),
        (0x9282, 0x000280e7),
        (0x994e, 0x01390933),
        (0xa422, 0x00813427),
        (0xdf9a, 0x0e612e23),
        (0xffc6, 0x1f113c23),
    ];
    for &(c, w) in table {
        assert_eq!(expand_rvc(c), Some(w), "parcel {c:#06x}");
        let d = decode(c as u32);
        assert_eq!(d.raw, c as u32);
        assert_eq!(d.len, 2);
        assert_eq!((d.k, d.rd, d.rs1, d.rs2, d.imm), {
            let f = decode(w);
            (f.k, f.rd, f.rs1, f.rs2, f.imm)
        });
    }
}

#[test]
fn reserved_rvc_encodings_are_illegal_with_the_parcel_as_tval() {
    // all-zero, c.addi4spn imm 0, quadrant-0 funct3 4, c.lwsp rd=0, c.ldsp rd=0,
    // c.jr x0, c.addiw rd=0, c.addi16sp 0, c.lui imm 0, c.subw-space reserved.
    for parcel in [
        0x0000u16, 0x0004, 0x8000, 0x4002, 0x6002, 0x8002, 0x2001, 0x6101, 0x6281, 0x9c41,
    ] {
        assert_eq!(expand_rvc(parcel), None, "{parcel:#06x}");
        let mut r = Rig::new(&[]);
        assert!(r.bus.ram.load(DRAM_BASE, &parcel.to_le_bytes()));
        r.step(1);
        r.trapped(Exception::ILLEGAL_INSN, parcel as u64);
    }
}

#[test]
fn compressed_program_runs_with_two_byte_steps() {
    // c.li a0, 5; c.addi a0, 3; c.mv a1, a0; c.add a1, a0; c.slli a1, 2; c.j +2 (to the end)
    let parcels: [u16; 6] = [0x4515, 0x050d, 0x85aa, 0x95aa, 0x058a, 0xa009];
    let mut r = Rig::new(&[]);
    let bytes: Vec<u8> = parcels.iter().flat_map(|p| p.to_le_bytes()).collect();
    assert!(r.bus.ram.load(DRAM_BASE, &bytes));
    r.step(6);
    assert_eq!(r.x(A0), 8);
    assert_eq!(r.x(A1), 64);
    assert_eq!(r.hart.pc, DRAM_BASE + 10 + 2);
}

#[test]
fn instruction_crossing_a_page_is_fetched_from_both_pages() {
    let mut r = Rig::new(&[jal(0, 0xffe)]);
    let w = li(A0, 123).to_le_bytes();
    assert!(r.bus.ram.load(DRAM_BASE + 0xffe, &w));
    r.step(2);
    assert_eq!(r.x(A0), 123);
    assert_eq!(r.hart.pc, DRAM_BASE + 0x1002);
}

#[test]
fn undefined_encodings_are_illegal() {
    for w in [
        0xffff_ffffu32,
        r_type(op::OP, 1, 0, 2, 3, 0x10),
        i_type(op::LOAD, 1, 7, 2, 0),
        branch(2, 1, 2, 8),
        i_type(op::OP_IMM, 1, 1, 2, 0x400 | 3), // slli with funct6 != 0
        r_type(op::OP_32, 1, 1, 2, 3, 0x20),
        i_type(op::MISC_MEM, 0, 2, 0, 0),
        0x0000_4073,               // SYSTEM funct3 4
        amo(0x02, false, 1, 2, 3), // lr.w with rs2 != 0
        0x0000_007f,
    ] {
        let mut r = Rig::new(&[w]);
        r.step(1);
        r.trapped(Exception::ILLEGAL_INSN, w as u64);
    }
}

#[test]
fn ecall_and_ebreak_causes() {
    for (p, cause) in [
        (PRIV_M, Exception::ECALL_FROM_M),
        (PRIV_S, Exception::ECALL_FROM_S),
        (PRIV_U, Exception::ECALL_FROM_U),
    ] {
        let mut r = Rig::new(&[ECALL]);
        r.enter(p);
        r.step(1);
        r.trapped(cause, 0);
        assert_eq!(r.hart.privilege, PRIV_M);
        assert_eq!((r.csr(num::MSTATUS) & ms::MPP) >> 11, p as u64);
    }
    let mut r = Rig::new(&[NOP, EBREAK]);
    r.step(2);
    r.trapped(Exception::BREAKPOINT, DRAM_BASE + 4);
}

#[test]
fn delegated_exceptions_go_to_s_but_never_below_the_current_privilege() {
    let mut r = Rig::new(&[ECALL]);
    r.hart.medeleg = 1 << Exception::ECALL_FROM_U;
    r.hart.stvec = HANDLER + 0x100;
    r.enter(PRIV_U);
    r.hart.mstatus |= ms::SIE;
    r.step(1);
    assert_eq!(r.hart.privilege, PRIV_S);
    assert_eq!(r.hart.pc, HANDLER + 0x100);
    assert_eq!(r.csr(num::SCAUSE), Exception::ECALL_FROM_U);
    assert_eq!(r.csr(num::SEPC), DRAM_BASE);
    let st = r.csr(num::MSTATUS);
    assert_eq!(st & ms::SPP, 0, "SPP = U");
    assert_ne!(st & ms::SPIE, 0, "SPIE = old SIE");
    assert_eq!(st & ms::SIE, 0);

    // Illegal instruction delegated, but raised in M: stays in M.
    let mut r = Rig::new(&[0xffff_ffff]);
    r.hart.medeleg = 1 << Exception::ILLEGAL_INSN;
    r.step(1);
    assert_eq!(r.hart.privilege, PRIV_M);
    r.trapped(Exception::ILLEGAL_INSN, 0xffff_ffff);
}

#[test]
fn mret_and_sret_restore_state() {
    // mret to S with MPIE=1 and MPRV=1: MIE=1, MPIE=1, MPP=U, MPRV cleared.
    let mut r = Rig::new(&[MRET]);
    r.hart.mepc = DATA + 1; // bit 0 is cleared on write, emulate via csr_write
    r.hart.csr_write(num::MEPC, DATA + 1);
    r.hart
        .csr_write(num::MSTATUS, ms::MPIE | ((PRIV_S as u64) << 11) | ms::MPRV);
    r.step(1);
    assert_eq!(r.hart.privilege, PRIV_S);
    assert_eq!(r.hart.pc, DATA);
    let st = r.csr(num::MSTATUS);
    assert_ne!(st & ms::MIE, 0);
    assert_ne!(st & ms::MPIE, 0);
    assert_eq!(st & ms::MPP, 0);
    assert_eq!(st & ms::MPRV, 0);

    // sret from S to U: SIE = SPIE, SPIE = 1, SPP = U.
    let mut r = Rig::new(&[SRET]);
    r.hart.csr_write(num::SEPC, DATA);
    r.hart.csr_write(num::MSTATUS, ms::SPIE);
    r.enter(PRIV_S);
    r.step(1);
    assert_eq!(r.hart.privilege, PRIV_U);
    assert_eq!(r.hart.pc, DATA);
    let st = r.csr(num::MSTATUS);
    assert_ne!(st & ms::SIE, 0);
    assert_ne!(st & ms::SPIE, 0);

    // mret below M, sret in U, sret in S with TSR: illegal.
    for (insn, p, extra) in [
        (MRET, PRIV_S, 0),
        (SRET, PRIV_U, 0),
        (SRET, PRIV_S, ms::TSR),
    ] {
        let mut r = Rig::new(&[insn]);
        r.hart.csr_write(num::MSTATUS, extra);
        r.enter(p);
        r.step(1);
        r.trapped(Exception::ILLEGAL_INSN, insn as u64);
    }
}

#[test]
fn csr_privilege_and_read_only_rules() {
    // S reading an M CSR: illegal.
    let w = csrr(A0, num::MSTATUS);
    let mut r = Rig::new(&[w]);
    r.enter(PRIV_S);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
    // Writing mhartid (read-only): illegal; csrrs with x0: legal; csrrs with rs1 != 0: illegal.
    let w = csrw(num::MHARTID, A0);
    let mut r = Rig::new(&[w]);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
    let mut r = Rig::new(&[csr(2, A0, num::MHARTID, 0), csr(6, A1, num::MISA, 0)]);
    r.hart.hartid = 3;
    r.step(2);
    assert_eq!(r.x(A0), 3);
    assert_eq!(r.x(A1), csr::MISA_VALUE);
    let w = csr(2, A0, num::MVENDORID, A1);
    let mut r = Rig::new(&[li(A1, 1), w]);
    r.step(2);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
    // A CSR that does not exist.
    let w = csrr(A0, 0x7c0);
    let mut r = Rig::new(&[w]);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
    // satp from S with TVM.
    let w = csrr(A0, num::SATP);
    let mut r = Rig::new(&[w]);
    r.hart.csr_write(num::MSTATUS, ms::TVM);
    r.enter(PRIV_S);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
    // fcsr with FS = Off.
    let w = csrr(A0, num::FCSR);
    let mut r = Rig::new(&[w]);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, w as u64);
}

#[test]
fn counter_enables_gate_user_and_supervisor_reads() {
    let prog = [csrr(A0, num::INSTRET)];
    // U with mcounteren but not scounteren: illegal.
    let mut r = Rig::new(&prog);
    r.hart.mcounteren = 0b111;
    r.enter(PRIV_U);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, prog[0] as u64);
    // S with mcounteren: legal; U with both: legal.
    for (p, scen) in [(PRIV_S, 0), (PRIV_U, 0b100)] {
        let mut r = Rig::new(&[NOP, NOP, prog[0]]);
        r.hart.mcounteren = 0b100;
        r.hart.scounteren = scen;
        r.enter(p);
        r.step(3);
        assert_eq!(r.x(A0), 2, "instret counts retired instructions");
    }
    // time reads what the machine set; minstret writes take effect.
    let mut r = Rig::new(&[
        csrr(A0, num::TIME),
        li(T0, 100),
        csrw(num::MINSTRET, T0),
        csrr(A1, num::MINSTRET),
    ]);
    r.hart.set_time(77, 0);
    r.step(4);
    assert_eq!(r.x(A0), 77);
    assert_eq!(r.x(A1), 100);
}

#[test]
fn time_advances_with_retired_instructions_between_machine_updates() {
    let mut prog = vec![csrr(A0, num::TIME)];
    prog.extend([NOP; 20]);
    prog.push(csrr(A1, num::TIME));
    let mut r = Rig::new(&prog);
    r.hart.set_time_rate(10);
    r.hart.set_time(500, 0);
    r.step(prog.len() as u64);
    assert_eq!(r.x(A0), 500);
    assert_eq!(r.x(A1), 502, "21 instructions retired since set_time");
    // A new machine value restarts the count from there (no double counting).
    r.hart.set_time(1000, 0);
    r.hart.pc = DRAM_BASE;
    r.step(1);
    assert_eq!(r.x(A0), 1000);
}

#[test]
fn time_holds_still_without_a_rate() {
    let mut prog = vec![NOP; 30];
    prog.push(csrr(A1, num::TIME));
    let mut r = Rig::new(&prog);
    r.hart.set_time(7, 0);
    r.step(prog.len() as u64);
    assert_eq!(r.x(A1), 7);
}

#[test]
fn status_views_and_warl_fields() {
    let mut r = Rig::new(&[]);
    let h = &mut r.hart;
    h.csr_write(num::MSTATUS, u64::MAX);
    let st = h.mstatus();
    assert_eq!((st >> 32) & 3, 2, "UXL");
    assert_eq!((st >> 34) & 3, 2, "SXL");
    assert_ne!(st & ms::SD, 0, "SD follows FS = dirty");
    assert_eq!((st & ms::MPP) >> 11, 3, "MPP = 2 is reserved, kept at M");
    let ss = h.csr_read(num::SSTATUS).unwrap();
    assert_eq!(ss & (ms::MIE | ms::MPP | ms::TVM), 0);
    assert_eq!(ss & ms::SD, ms::SD);
    h.csr_write(num::MTVEC, 0x8000_0102);
    assert_eq!(h.csr_read(num::MTVEC), Some(0x8000_0100), "mode 2 reserved");
    h.csr_write(num::MTVEC, 0x8000_0101);
    assert_eq!(h.csr_read(num::MTVEC), Some(0x8000_0101));
    h.csr_write(num::MEPC, 0x8000_0003);
    assert_eq!(h.csr_read(num::MEPC), Some(0x8000_0002));
    // sie/sip are views through mideleg.
    h.csr_write(num::MIDELEG, u64::MAX);
    assert_eq!(h.csr_read(num::MIDELEG), Some(ip::S_LEVEL));
    h.csr_write(num::MIE, u64::MAX);
    assert_eq!(h.csr_read(num::SIE), Some(ip::S_LEVEL));
    h.csr_write(num::SIP, u64::MAX);
    assert_eq!(
        h.csr_read(num::SIP),
        Some(ip::SSIP),
        "only SSIP writable from S"
    );
    h.set_interrupt_lines(ip::SEIP | ip::MTIP);
    assert_eq!(h.csr_read(num::MIP), Some(ip::SSIP | ip::SEIP | ip::MTIP));
    h.csr_write(num::MIP, 0);
    assert_eq!(
        h.csr_read(num::MIP),
        Some(ip::SEIP | ip::MTIP),
        "lines stay"
    );
}

#[test]
fn interrupt_priority_and_delegation() {
    // All six pending and enabled, in U: MEI first, then MSI, MTI (M-level), then SEI, SSI, STI.
    let mut r = Rig::new(&[jal(0, 0)]);
    r.hart.mie = ip::ALL;
    r.hart.mideleg = ip::S_LEVEL;
    r.hart.mip_sw = ip::SSIP | ip::STIP;
    r.hart
        .set_interrupt_lines(ip::MEIP | ip::MSIP | ip::MTIP | ip::SEIP);
    r.enter(PRIV_U);
    let order = [irq::MEI, irq::MSI, irq::MTI, irq::SEI, irq::SSI, irq::STI];
    let mut lines = ip::MEIP | ip::MSIP | ip::MTIP | ip::SEIP;
    for n in order {
        r.enter(PRIV_U);
        r.hart.pc = DRAM_BASE;
        r.step(1);
        let m_level = n == irq::MEI || n == irq::MSI || n == irq::MTI;
        if m_level {
            assert_eq!(r.hart.privilege, PRIV_M);
            assert_eq!(r.csr(num::MCAUSE), (1 << 63) | n);
        } else {
            assert_eq!(r.hart.privilege, PRIV_S);
            assert_eq!(r.csr(num::SCAUSE), (1 << 63) | n);
        }
        lines &= !(1 << n);
        r.hart.set_interrupt_lines(lines);
        r.hart.mip_sw &= !(1 << n);
    }
}

#[test]
fn global_enables_decide_when_interrupts_are_taken() {
    // In M with MIE=0: a pending MTI waits.
    let mut r = Rig::new(&[NOP, NOP]);
    r.hart.mie = ip::MTIP;
    r.hart.set_interrupt_lines(ip::MTIP);
    r.step(1);
    assert_eq!(r.hart.pc, DRAM_BASE + 4);
    // In S, an M-level interrupt is taken even with MIE=0.
    r.enter(PRIV_S);
    r.step(1);
    assert_eq!(r.hart.privilege, PRIV_M);
    assert_eq!(r.csr(num::MCAUSE), (1 << 63) | irq::MTI);
    assert_eq!(r.csr(num::MEPC), DRAM_BASE + 4);
    // A delegated interrupt is not taken in M, and in S only with SIE.
    let mut r = Rig::new(&[NOP, NOP, NOP]);
    r.hart.mie = ip::STIP;
    r.hart.mideleg = ip::STIP;
    r.hart.mip_sw = ip::STIP;
    r.hart.mstatus |= ms::MIE;
    r.step(1);
    assert_eq!(r.hart.pc, DRAM_BASE + 4);
    r.enter(PRIV_S);
    r.step(1);
    assert_eq!(r.hart.pc, DRAM_BASE + 8);
    r.hart.mstatus |= ms::SIE;
    r.step(1);
    assert_eq!(r.hart.pc, HANDLER);
    assert_eq!(r.csr(num::SCAUSE), (1 << 63) | irq::STI);
}

#[test]
fn vectored_mode_offsets_interrupts_only() {
    let mut r = Rig::new(&[NOP]);
    r.hart.csr_write(num::MTVEC, HANDLER | 1);
    r.hart.mie = ip::MSIP;
    r.hart.set_interrupt_lines(ip::MSIP);
    r.hart.mstatus |= ms::MIE;
    r.step(1);
    // The interrupt is taken and the instruction at the vector (zeroes: illegal) traps
    // to the base.
    assert_eq!(r.csr(num::MEPC), HANDLER + 4 * irq::MSI);
    assert_eq!(r.hart.pc, HANDLER);
    assert_eq!(r.csr(num::MCAUSE), Exception::ILLEGAL_INSN);
}

#[test]
fn wfi_sleeps_until_an_enabled_interrupt_is_pending() {
    let mut r = Rig::new(&[WFI, li(A0, 1)]);
    r.hart.mie = ip::MTIP;
    assert_eq!(r.step(5), RunStop::Wfi);
    assert!(r.hart.waiting());
    assert_eq!(r.hart.run(&mut r.bus, 5), (0, RunStop::Wfi));
    // Pending but globally disabled (MIE=0): WFI still resumes, at the next instruction.
    r.hart.set_interrupt_lines(ip::MTIP);
    r.step(1);
    assert!(!r.hart.waiting());
    assert_eq!(r.x(A0), 1);
    // WFI in U, and in S with TW: illegal.
    for (p, st) in [(PRIV_U, 0), (PRIV_S, ms::TW)] {
        let mut r = Rig::new(&[WFI]);
        r.hart.csr_write(num::MSTATUS, st);
        r.enter(p);
        r.step(1);
        r.trapped(Exception::ILLEGAL_INSN, WFI as u64);
    }
}

#[test]
fn self_modifying_code_sees_its_own_stores() {
    // Run a loop body once, patch its first instruction, run it again.
    let patched = li(A0, 2);
    let mut prog = li64(T0, DRAM_BASE + 0x100);
    prog.extend(li64(T1, patched as u64));
    prog.push(jal(1, (0x100 - 4 * prog.len()) as i32));
    prog.push(store(2, T1, T0, 0)); // patch
    prog.push(jal(1, (0x100 - 4 * prog.len()) as i32));
    prog.push(FENCE_I);
    let back = prog.len();
    let mut r = Rig::new(&prog);
    load_words(
        &mut r.bus,
        DRAM_BASE + 0x100,
        &[li(A0, 1), add(A1, A1, A0), jalr(0, 1, 0)],
    );
    r.run_to(DRAM_BASE + 4 * (back as u64 - 3));
    assert_eq!(r.x(A1), 1);
    r.run_to(DRAM_BASE + 4 * (back as u64 - 1));
    assert_eq!(r.x(A1), 3);
    // After fence.i the decoded page is kept (pool page 0, first slot 1, after the
    // scratch slot) and still gives the right answer.
    r.step(1);
    assert_eq!(r.hart.decoded.page_for(0, &mut r.bus.ram), (1, false));
}

/// A program that writes a three-instruction routine adding 1 to a1 to a page of its
/// own, runs it, patches it to add 2 with no fence.i and runs it again (a1 = 3 at the
/// end), and the number of instructions it runs.
fn patched_routine() -> (Vec<u32>, u64) {
    let body = [li(A0, 1), add(A1, A1, A0), jalr(0, 1, 0)];
    let mut prog = li64(T0, DRAM_BASE + 0x1000);
    for (i, word) in body.iter().enumerate() {
        prog.extend(li64(T1, *word as u64));
        prog.push(store(2, T1, T0, 4 * i as i32));
    }
    prog.push(FENCE_I);
    prog.push(jal(1, (0x1000 - 4 * prog.len()) as i32));
    prog.extend(li64(T1, li(A0, 2) as u64));
    prog.push(store(2, T1, T0, 0));
    prog.push(jal(1, (0x1000 - 4 * prog.len()) as i32));
    let steps = prog.len() as u64 + 2 * body.len() as u64;
    (prog, steps)
}

#[test]
fn stores_to_a_page_cached_for_stores_see_code_decoded_there_later() {
    // The page holds the routine's body, which the data-page cache then holds for
    // stores: the patch must reach the decoded code, so the page cannot stay cached for
    // stores once code is decoded from it.
    let (prog, _) = patched_routine();
    let mut r = Rig::new(&prog);
    r.run_prog(prog.len());
    assert_eq!(r.x(A1), 3, "the patched instruction did not run");
}

/// The same in a counted run (`--stats`) with compiled code: the page joins the data
/// run for stores while it holds no code, and must stop taking stores there once code
/// is decoded from it, or the compiled patch would skip the decode cache.
#[test]
fn counted_stores_to_a_page_see_code_decoded_there_later() {
    let (prog, steps) = patched_routine();
    let end = DRAM_BASE + 4 * prog.len() as u64;
    let counted = crate::mmu::MmuConfig {
        stats: true,
        ..Default::default()
    };
    // Cranelift's blocks, then quick code.
    for (hot, quick) in [(1, 0), (crate::jit::MAX_HOT, 1)] {
        let mut r = Rig::with_mmu(&prog, counted.clone());
        r.hart.enable_jit(hot, quick);
        // One quantum: the run keeps its pages from the first stores to the patch.
        let (_, stop) = r.hart.run(&mut r.bus, steps);
        assert_eq!((stop, r.hart.pc), (RunStop::Budget, end));
        assert_eq!(
            r.x(A1),
            3,
            "the patched instruction did not run (quick {quick})"
        );
        let stats = r.hart.jit_stats().unwrap_or_default();
        assert!(
            stats.blocks + stats.quick_blocks > 0,
            "nothing compiled: the test needs a compiled store"
        );
    }
}

#[test]
fn fence_i_sees_code_written_behind_the_harts_back() {
    // A loop body at 0x100 runs once; then memory changes without the hart storing (as
    // DMA or another hart would), and fence.i must make the new instruction visible while
    // the unchanged ones stay decoded.
    let mut prog = li64(T0, DRAM_BASE + 0x100);
    prog.push(jal(1, (0x100 - 4 * prog.len()) as i32));
    let back = prog.len();
    prog.push(FENCE_I);
    prog.push(jal(1, (0x100 - 4 * prog.len()) as i32));
    let mut r = Rig::new(&prog);
    load_words(
        &mut r.bus,
        DRAM_BASE + 0x100,
        &[li(A0, 1), add(A1, A1, A0), jalr(0, 1, 0)],
    );
    r.run_to(DRAM_BASE + 4 * back as u64);
    assert_eq!(r.x(A1), 1);
    let version = r.hart.decoded.version(1);
    load_words(&mut r.bus, DRAM_BASE + 0x100, &[li(A0, 5)]);
    r.run_to(DRAM_BASE + 4 * (back as u64 + 2));
    assert_eq!(
        r.x(A1),
        6,
        "fence.i did not make the changed instruction visible"
    );
    // The page was revalidated, not thrown away: only the changed slots were dropped.
    assert_eq!(r.hart.decoded.page_for(0, &mut r.bus.ram), (1, false));
    assert_eq!(r.hart.decoded.version(1), version + 1);
}

#[test]
fn instructions_are_counted_per_privilege() {
    let mut r = Rig::new(&[NOP, NOP, ECALL]);
    r.enter(PRIV_S);
    r.step(3);
    r.step(2);
    assert_eq!(r.hart.insns_by_priv[PRIV_S as usize], 2);
    assert_eq!(r.hart.insns_by_priv[PRIV_M as usize], 2);
    assert_eq!(r.hart.instret, 4);
}

#[test]
fn decoder_tags_fp_and_system_ops() {
    assert_eq!(decode(0x0000_0073).k, OpKind::Ecall);
    assert_eq!(decode(0x1200_0073).k, OpKind::SfenceVma);
    assert_eq!(decode(0x0020_f053).k, OpKind::FpOp); // fadd.s with rm=dyn
    assert_eq!(decode(0x0005_2087).k, OpKind::Flw);
}

/// Throughput of the interpreter on a compute-bound loop (printed, not asserted):
/// `cargo test --release -p emu --lib cpu::tests::interpreter_speed -- --nocapture`.
#[test]
fn interpreter_speed() {
    let iterations: u64 = if cfg!(debug_assertions) {
        100_000
    } else {
        20_000_000
    };
    // a0 = iterations; loop: a1 += a0; a2 ^= a1; a0 -= 1; bnez a0, loop (4 insns)
    let mut prog = li64(A0, iterations);
    let loop_at = prog.len();
    prog.extend([add(A1, A1, A0), alu(0, 4, A2, A2, A1), addi(A0, A0, -1)]);
    prog.push(branch(1, A0, 0, -(4 * 3)));
    prog.push(EBREAK);
    let mut r = Rig::new(&prog);
    let start = std::time::Instant::now();
    let mut total = 0;
    loop {
        let (n, _) = r.hart.run(&mut r.bus, 4096);
        total += n;
        if r.hart.pc == HANDLER {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let want_sum = iterations * (iterations + 1) / 2;
    assert_eq!(r.x(A1), want_sum);
    assert_eq!(r.csr(num::MEPC), DRAM_BASE + 4 * (loop_at as u64 + 4));
    println!(
        "interpreter: {total} instructions in {secs:.3} s = {:.1} MIPS",
        total as f64 / secs / 1e6
    );
}

#[test]
fn fp_loads_and_stores_nan_box_and_dirty_fs() {
    let flw = i_type(op::LOAD_FP, 1, 2, A0, 0);
    let fld = i_type(op::LOAD_FP, 2, 3, A0, 8);
    let fsw = s_type(op::STORE_FP, 2, A0, 2, 16); // low half of f2
    let fsd = s_type(op::STORE_FP, 3, A0, 1, 24);
    let mut prog = li64(A0, DATA);
    prog.extend([flw, fld, fsw, fsd]);
    let mut r = Rig::new(&prog);
    assert!(r.bus.ram.write(DATA, 4, 0x3f80_0000));
    assert!(r.bus.ram.write(DATA + 8, 8, 0x4000_0000_1234_5678));
    r.hart.csr_write(num::MSTATUS, 1 << ms::FS_SHIFT); // Initial
    r.run_prog(prog.len());
    assert_eq!(r.hart.fp.f[1], 0xffff_ffff_3f80_0000);
    assert_eq!(r.hart.fp.f[2], 0x4000_0000_1234_5678);
    assert_eq!(r.bus.ram.read(DATA + 16, 8), Some(0x1234_5678));
    assert_eq!(r.bus.ram.read(DATA + 24, 8), Some(0xffff_ffff_3f80_0000));
    assert_eq!(r.csr(num::MSTATUS) & (ms::FS | ms::SD), ms::FS | ms::SD);

    // With FS = Off every FP instruction is illegal, loads and OP-FP alike.
    for w in [flw, 0x0020_f053] {
        let mut r = Rig::new(&[w]);
        r.step(1);
        r.trapped(Exception::ILLEGAL_INSN, w as u64);
    }
}

#[test]
fn fcsr_fields_are_views_of_one_register() {
    let mut r = Rig::new(&[]);
    let h = &mut r.hart;
    h.csr_write(num::MSTATUS, 1 << ms::FS_SHIFT);
    h.csr_write(num::FCSR, 0xff);
    assert_eq!(h.csr_read(num::FFLAGS), Some(0x1f));
    assert_eq!(h.csr_read(num::FRM), Some(7));
    h.csr_write(num::FRM, 2);
    assert_eq!(h.csr_read(num::FCSR), Some((2 << 5) | 0x1f));
    assert_eq!(h.mstatus() & ms::FS, ms::FS, "writing fcsr makes FS dirty");
}

#[test]
fn mprv_makes_loads_and_stores_use_mpp() {
    let mut r = Rig::new(&[]);
    r.hart.csr_write(
        num::MSTATUS,
        ms::MPRV | ((PRIV_U as u64) << ms::MPP_SHIFT) | ms::SUM,
    );
    assert_eq!(r.hart.data_ctx.privilege, PRIV_U);
    assert!(r.hart.data_ctx.sum);
    assert_eq!(r.hart.fetch_ctx.privilege, PRIV_M);
    r.enter(PRIV_S);
    assert_eq!(r.hart.data_ctx.privilege, PRIV_S, "MPRV only applies in M");
}

#[test]
fn status_writes_keep_cached_pages_unless_a_permission_changes() {
    // Sv39, two gigapages over RAM: the supervisor's own at 0x8000_0000 and a user alias
    // at 0xc000_0000, which S-mode may load from only with sstatus.SUM set.
    let root = DRAM_BASE + 0x20000;
    let (v, r, w, x, u, a, d) = (1, 2, 4, 8, 16, 64, 128);
    let gigapage = |flags: u64| (DRAM_BASE >> 12) << 10 | flags;
    let va = 0xc000_0000 + (DATA - DRAM_BASE);
    let csrrs = |c: u16, rs1: u32| csr(2, 0, c, rs1);
    let csrrc = |c: u16, rs1: u32| csr(3, 0, c, rs1);
    let ld = |rd: u32| load(3, rd, A1, 0);
    let mut rig = Rig::new(&[
        ld(A0),
        csrrs(num::SSTATUS, A2),
        ld(T1),
        csrrc(num::SSTATUS, T0),
        ld(A0),
    ]);
    let bus = &mut rig.bus;
    assert!(bus
        .ram
        .write(root + 2 * 8, 8, gigapage(v | r | w | x | a | d)));
    assert!(bus
        .ram
        .write(root + 3 * 8, 8, gigapage(v | r | w | u | a | d)));
    assert!(bus.ram.write(DATA, 8, 0x1234_5678_9abc_def0));
    let h = &mut rig.hart;
    h.csr_write(num::SATP, (8 << 60) | (root >> 12));
    h.csr_write(num::MSTATUS, ms::SUM);
    (h.x[A1 as usize], h.x[A2 as usize], h.x[T0 as usize]) = (va, ms::SIE, ms::SUM);
    rig.enter(PRIV_S);
    rig.step(2);
    assert!(
        DataTlb::lookup(&rig.hart.dtlb.load, va, 8).is_some(),
        "setting sstatus.SIE changes no permission: the cached page stays"
    );
    rig.step(1);
    assert_eq!(rig.x(T1), 0x1234_5678_9abc_def0);
    rig.step(2);
    rig.trapped(Exception::LOAD_PAGE_FAULT, va);
}

#[test]
fn sfence_vma_and_satp_follow_privilege_rules() {
    let sfence = r_type(op::SYSTEM, 0, 0, A0, A1, 0x09);
    let mut r = Rig::new(&[sfence]);
    r.enter(PRIV_U);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, sfence as u64);
    let mut r = Rig::new(&[sfence]);
    r.hart.csr_write(num::MSTATUS, ms::TVM);
    r.enter(PRIV_S);
    r.step(1);
    r.trapped(Exception::ILLEGAL_INSN, sfence as u64);
    let mut r = Rig::new(&[sfence, NOP]);
    r.enter(PRIV_S);
    r.step(1);
    assert_eq!(r.hart.pc, DRAM_BASE + 4);
    // An unsupported satp mode leaves satp unchanged (WARL).
    let h = &mut r.hart;
    h.csr_write(num::SATP, 5 << 60);
    assert_eq!(h.satp(), 0);
    h.csr_write(num::SATP, (8 << 60) | 0x1234);
    assert_eq!(h.satp(), (8 << 60) | 0x1234);
}

#[test]
fn pmp_csrs_reach_the_mmu() {
    let mut r = Rig::new(&[]);
    let h = &mut r.hart;
    h.csr_write(num::PMPADDR0 + 1, 0x2000_0000);
    h.csr_write(num::PMPCFG0, 0x0f << 8);
    assert_eq!(h.csr_read(num::PMPADDR0 + 1), Some(0x2000_0000));
    assert_eq!(h.csr_read(num::PMPCFG0), Some(0x0f << 8));
    assert_eq!(
        h.csr_read(num::PMPCFG0 + 1),
        None,
        "odd pmpcfg do not exist on RV64"
    );
}

#[test]
fn random_code_only_ever_traps() {
    // Garbage in RAM, run in every privilege with traps landing in more garbage: the
    // hart must keep going (architectural traps only) and never panic or stall.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 32) as u32
    };
    for round in 0..8 {
        let words: Vec<u32> = (0..(RAM as usize / 4)).map(|_| next()).collect();
        let mut r = Rig::new(&words);
        r.hart.mtvec = DRAM_BASE + ((next() as u64 % RAM) & !3);
        r.hart.stvec = DRAM_BASE + ((next() as u64 % RAM) & !3);
        r.hart.medeleg = next() as u64 & 0xb3ff;
        r.hart.mstatus |= 3 << ms::FS_SHIFT;
        r.enter([PRIV_U, PRIV_S, PRIV_M][round % 3]);
        let mut total = 0;
        for _ in 0..50 {
            let (n, stop) = r.hart.run(&mut r.bus, 2_000);
            total += n;
            if stop == RunStop::Wfi {
                // Wake it and carry on.
                r.hart.mie = ip::ALL;
                r.hart.set_interrupt_lines(ip::MSIP);
            }
        }
        assert!(total > 0);
    }
}

#[test]
fn enabling_a_pending_interrupt_ends_the_quantum_and_the_next_one_takes_it() {
    let set_mie = csr(6, 0, num::MSTATUS, 8); // csrsi mstatus, MIE
                                              // Nothing pending: the quantum goes on.
    let mut r = Rig::new(&[set_mie, NOP, NOP]);
    assert_eq!(r.step(3), RunStop::Budget);
    // MTI pending and enabled in mie: the write ends the quantum, the next run traps
    // before executing anything else.
    let mut r = Rig::new(&[set_mie, NOP, NOP]);
    r.hart.mie = ip::MTIP;
    r.hart.set_interrupt_lines(ip::MTIP);
    assert_eq!(r.hart.run(&mut r.bus, 3), (1, RunStop::Yield));
    assert_eq!(r.hart.pc, DRAM_BASE + 4);
    r.step(1);
    assert_eq!(r.csr(num::MCAUSE), (1 << 63) | irq::MTI);
    assert_eq!(r.csr(num::MEPC), DRAM_BASE + 4);
}

#[test]
fn stale_translation_reports_name_the_accessing_instruction() {
    // Sv39: RAM's first GiB identity-mapped (root[2]), VA 0x4000_0000 -> DATA through
    // root[1] -> l1[0] -> l0[0]. The program reads VA, repoints the leaf at DATA + 4 KiB
    // without sfence.vma, and reads VA again: the second read hits a stale TLB entry.
    let root = DRAM_BASE + 0x20000;
    let l1 = root + 0x1000;
    let l0 = root + 0x2000;
    let pte = |pa: u64, flags: u64| (pa >> 12) << 10 | flags;
    const PTR: u64 = 0x01;
    const RWXAD: u64 = 0xcf;
    const RWAD: u64 = 0xc7;
    let prog = [
        lui(A1, 0x4000_0000),
        load(3, A0, A1, 0),
        store(3, T1, T2, 0),
        load(3, A0, A1, 0),
    ];
    let mut r = Rig::new(&prog);
    for (at, v) in [
        (root + 2 * 8, pte(DRAM_BASE, RWXAD)),
        (root + 8, pte(l1, PTR)),
        (l1, pte(l0, PTR)),
        (l0, pte(DATA, RWAD)),
    ] {
        r.bus.write(at, 8, v).unwrap();
    }
    r.hart.mmu.config.check_tlb = true;
    r.hart.csr_write(num::SATP, (8 << 60) | (root >> 12));
    r.hart.x[T1 as usize] = pte(DATA + 0x1000, RWAD);
    r.hart.x[T2 as usize] = l0;
    r.enter(PRIV_S);
    r.step(prog.len() as u64);
    let stale = r.hart.mmu.stale_translations();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].va, 0x4000_0000);
    assert_eq!(stale[0].pc, DRAM_BASE + 12, "pc of the second load");
}

/// The interpreter, going on to the next instruction, enters the block compiled there
/// instead of interpreting that block's instructions up to the next jump: here it
/// falls into a loop whose block was compiled when the loop ran before.
#[test]
fn the_interpreter_enters_a_block_that_starts_where_it_goes_on() {
    const PASSES: u64 = 60;
    let prog = [
        li(T2, 2),
        li(T0, PASSES as i32),
        jal(0, 8),       // to the loop
        addi(A2, A2, 1), // the second time round: falls into the loop
        addi(T1, T1, 1), // the loop
        addi(T0, T0, -1),
        branch(1, T0, 0, -8), // bne t0, x0, loop
        li(T0, PASSES as i32),
        addi(T2, T2, -1),
        branch(1, T2, 0, -24), // bne t2, x0, the addi before the loop
        jal(0, 0),
    ];
    let mut r = Rig::new(&prog);
    // Blocks compile at their 50th entry, on this thread; no quick tier.
    r.hart.enable_jit(50, 0);
    let total = 3 + 3 * PASSES + 3 + 1 + 3 * PASSES + 3;
    r.step(total);
    assert_eq!(r.hart.pc, DRAM_BASE + 4 * 10);
    assert_eq!((r.x(T1), r.x(A2)), (2 * PASSES, 1));
    let compiled = r.hart.jit_stats().expect("jit on").retired;
    // Interpreted: the first three instructions, the loop's 49 passes before its block
    // was compiled (3 instructions each), the addi before the loop, and the last three,
    // where the budget left no longer covers the loop's block (7 instructions).
    // Interpreting up to the next jump would add a pass of the loop.
    assert_eq!(total - compiled, 3 + 49 * 3 + 1 + 3);
}

/// Cranelift's blocks go on past a jump only when a branch or jump so far, that one
/// included, leads further on (the other arm of an if/else, a forward jump's target);
/// quick code, and a jump behind which nothing is reached, end the block.
#[test]
fn blocks_go_on_past_a_jump_only_to_code_reached_from_before_it() {
    let kinds = |prog: &[u32]| {
        let mut r = Rig::new(prog);
        r.step(1);
        let (base, _) = r
            .hart
            .fetch_pages
            .lookup(DRAM_BASE >> 12)
            .expect("the program's page was fetched");
        let entry = DecodeCache::index(base, (DRAM_BASE >> 1) as usize);
        [false, true].map(|past_jumps| {
            let insns = r.hart.block_insns(entry, &r.bus, past_jumps);
            insns.iter().map(|i| i.k).collect::<Vec<_>>()
        })
    };
    use OpKind::*;
    let if_else = [
        branch(0, T0, 0, 12), // beq t0, x0, the else arm
        addi(A2, A2, 1),
        jal(0, 8),       // over the else arm
        addi(A0, A0, 1), // the else arm
        addi(T1, T1, 1),
        jal(0, -20), // back to the entry: nothing after it is reached
        addi(A1, A1, 1),
    ];
    let [quick, cranelift] = kinds(&if_else);
    assert_eq!(quick, [Beq, Addi, Jal]);
    assert_eq!(cranelift, [Beq, Addi, Jal, Addi, Addi, Jal]);
    // A forward jump: its target is reached inside the block (the words after the
    // program are zero, an illegal instruction, which ends any block).
    let [quick, cranelift] = kinds(&[jal(0, 8), addi(A0, A0, 1), addi(A1, A1, 1)]);
    assert_eq!(quick, [Jal]);
    assert_eq!(cranelift, [Jal, Addi, Addi]);
}

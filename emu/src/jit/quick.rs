//! The quick tier: x86-64 code written straight from a block's decoded instructions, one
//! fixed pattern per instruction, in a few microseconds per block.
//!
//! Cranelift's code is good but costs ~0.5 ms a block, so a block must run thousands of
//! times before it pays (`HOT`); until then the interpreter runs it. In the Debian boot
//! that warm-up was most of the interpreted 14 %: the crypto self-tests' unrolled
//! rounds, run a few thousand times each, ran interpreted at ~40 host instructions per
//! guest instruction. Quick code runs them at a handful, after a few dozen entries
//! ([`super::QUICK_HOT`]), and the block still goes to Cranelift if it stays hot.
//!
//! A quick block has the protocol of a Cranelift block (see the module comment of
//! `jit`): `fn(x, env, pc, left) -> left | EXIT_BEFORE?` with the resume pc in the
//! environment, called with the same four argument registers, so the run loop runs
//! both alike, and either can go straight on into the other: Cranelift's exits through
//! their link cells and the jump cache, quick code's through the jump cache. It is
//! simpler in three ways:
//!
//! - guest registers live in the register file, each instruction reads its operands
//!   from it and writes its result back (no register allocation);
//! - an exit looks its target up in the jump cache (the counted flavour's only when
//!   the entry says how to count the fetches, see `CountedLayout`), never in a link
//!   cell, and names no cell when it returns;
//! - a branch or jump is an exit, even to the block's own start.
//!
//! Each block counts its own entries (see `Promotion` in `jit`): a chain that runs
//! through it without the run loop still brings it to Cranelift, whose block then
//! takes its place, its entry made a jump there.
//!
//! It only uses the host registers a call may clobber (rax, rcx, rdx, rsi, rdi,
//! r8-r11), and the stack only to call the shared lookup routines, so it needs no
//! stack frame (its prologue only counts the entry): rdi = the registers, rsi = the
//! environment, rdx = the entry pc, r11 = the budget (moved from rcx, which shifts need
//! for their count).
//!
//! Ops it has no pattern for (divisions, atomics) end the block before them: the
//! interpreter runs them and the next entry starts another block.

use std::mem::offset_of;
use std::ptr::NonNull;

use super::{EnvLayout, Insn, EXIT_BEFORE};
use crate::cpu::decode::OpKind;

// x86-64 register numbers.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;
const R10: u8 = 10;
const R11: u8 = 11;

/// The guest register file.
const X: u8 = RDI;
const ENV: u8 = RSI;
/// The virtual pc the block was entered at.
const PC0: u8 = RDX;
/// The budget at entry.
const LEFT: u8 = R11;

// Condition codes (the low nibble of `jcc`/`setcc`).
const CC_B: u8 = 0x2;
const CC_BE: u8 = 0x6;
const CC_AE: u8 = 0x3;
const CC_E: u8 = 0x4;
const CC_NE: u8 = 0x5;
const CC_L: u8 = 0xc;
const CC_GE: u8 = 0xd;

// The `/digit` of the group-1 ALU ops (`81 /n`) and their `r, r/m` opcodes.
#[derive(Clone, Copy)]
enum Alu {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
}

impl Alu {
    fn digit(self) -> u8 {
        match self {
            Alu::Add => 0,
            Alu::Or => 1,
            Alu::And => 4,
            Alu::Sub => 5,
            Alu::Xor => 6,
            Alu::Cmp => 7,
        }
    }

    /// `op r, r/m`.
    fn load_form(self) -> u8 {
        (self.digit() << 3) | 3
    }
}

// The `/digit` of the shifts (`C1 /n ib`, `D3 /n`).
const SHL: u8 = 4;
const SHR: u8 = 5;
const SAR: u8 = 7;

/// A memory operand `[base + index + disp]`.
#[derive(Clone, Copy)]
struct Mem {
    base: u8,
    index: Option<u8>,
    disp: i32,
}

fn at(base: u8, disp: i32) -> Mem {
    Mem {
        base,
        index: None,
        disp,
    }
}

/// Guest register `r` in the register file.
fn reg(r: u8) -> Mem {
    at(X, (r as i32 & 31) * 8)
}

/// A little assembler for the handful of forms the patterns use.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
}

impl Asm {
    fn rex(&mut self, w: bool, reg: u8, index: u8, base: u8, byte_reg: bool) {
        let rex =
            0x40 | (w as u8) << 3 | (reg >> 3 & 1) << 2 | (index >> 3 & 1) << 1 | (base >> 3 & 1);
        // A byte register above bl needs a REX prefix to mean sil..r15b, not ah..bh.
        if rex != 0x40 || byte_reg {
            self.code.push(rex);
        }
    }

    /// `opcode` with register `reg` and memory operand `m` (ModRM, SIB, displacement).
    fn mem(&mut self, w: bool, opcode: &[u8], reg: u8, m: Mem) {
        let index = m.index.unwrap_or(0);
        self.rex(w, reg, index, m.base, false);
        self.code.extend_from_slice(opcode);
        let (mode, disp_len) = if m.disp == 0 && m.base & 7 != 5 {
            (0u8, 0)
        } else if i8::try_from(m.disp).is_ok() {
            (1, 1)
        } else {
            (2, 4)
        };
        match m.index {
            Some(i) => {
                self.code.push(mode << 6 | (reg & 7) << 3 | 4);
                self.code.push((i & 7) << 3 | (m.base & 7));
            }
            None if m.base & 7 == 4 => {
                self.code.push(mode << 6 | (reg & 7) << 3 | 4);
                self.code.push(4 << 3 | (m.base & 7));
            }
            None => self.code.push(mode << 6 | (reg & 7) << 3 | (m.base & 7)),
        }
        self.code
            .extend_from_slice(&m.disp.to_le_bytes()[..disp_len]);
    }

    /// `opcode` with register operands `reg` and `rm`.
    fn rr(&mut self, w: bool, opcode: &[u8], reg: u8, rm: u8, byte_reg: bool) {
        self.rex(w, reg, 0, rm, byte_reg && rm >= 4);
        self.code.extend_from_slice(opcode);
        self.code.push(0xc0 | (reg & 7) << 3 | (rm & 7));
    }

    fn load(&mut self, dst: u8, m: Mem) {
        self.mem(true, &[0x8b], dst, m);
    }

    fn store(&mut self, m: Mem, src: u8) {
        self.mem(true, &[0x89], src, m);
    }

    /// A store of the low `size` bytes of `src`.
    fn store_sized(&mut self, m: Mem, src: u8, size: u8) {
        match size {
            1 => self.mem(false, &[0x88], src, m),
            2 => {
                self.code.push(0x66);
                self.mem(false, &[0x89], src, m)
            }
            4 => self.mem(false, &[0x89], src, m),
            _ => self.store(m, src),
        }
    }

    /// `mov qword [m], imm` (sign-extended).
    fn store_imm(&mut self, m: Mem, imm: i32) {
        self.mem(true, &[0xc7], 0, m);
        self.code.extend_from_slice(&imm.to_le_bytes());
    }

    fn lea(&mut self, dst: u8, m: Mem) {
        self.mem(true, &[0x8d], dst, m);
    }

    fn mov_rr(&mut self, dst: u8, src: u8) {
        self.rr(true, &[0x89], src, dst, false);
    }

    /// `dst = imm` (sign-extended from 32 bits).
    fn mov_imm(&mut self, dst: u8, imm: i32) {
        self.rr(true, &[0xc7], 0, dst, false);
        self.code.extend_from_slice(&imm.to_le_bytes());
    }

    fn mov_imm64(&mut self, dst: u8, imm: u64) {
        self.rex(true, 0, 0, dst, false);
        self.code.push(0xb8 + (dst & 7));
        self.code.extend_from_slice(&imm.to_le_bytes());
    }

    /// `dst = 0` (a 32-bit xor, which clears the whole register).
    fn zero(&mut self, dst: u8) {
        self.rr(false, &[0x31], dst, dst, false);
    }

    fn alu_mem(&mut self, op: Alu, w: bool, dst: u8, m: Mem) {
        self.mem(w, &[op.load_form()], dst, m);
    }

    fn alu_imm(&mut self, op: Alu, w: bool, dst: u8, imm: i32) {
        match i8::try_from(imm) {
            Ok(b) => {
                self.rr(w, &[0x83], op.digit(), dst, false);
                self.code.push(b as u8);
            }
            Err(_) => {
                self.rr(w, &[0x81], op.digit(), dst, false);
                self.code.extend_from_slice(&imm.to_le_bytes());
            }
        }
    }

    fn shift_imm(&mut self, digit: u8, w: bool, dst: u8, amount: u8) {
        self.rr(w, &[0xc1], digit, dst, false);
        self.code.push(amount);
    }

    /// Shift `dst` by `cl` (the host masks the count as RISC-V does: 6 bits, 5 for
    /// 32-bit operations).
    fn shift_cl(&mut self, digit: u8, w: bool, dst: u8) {
        self.rr(w, &[0xd3], digit, dst, false);
    }

    fn imul_mem(&mut self, w: bool, dst: u8, m: Mem) {
        self.mem(w, &[0x0f, 0xaf], dst, m);
    }

    /// `dst = sign-extended low 32 bits of src`.
    fn movsxd(&mut self, dst: u8, src: u8) {
        self.rr(true, &[0x63], dst, src, false);
    }

    /// The low byte of `dst` = condition `cc`.
    fn setcc(&mut self, cc: u8, dst: u8) {
        self.rr(false, &[0x0f, 0x90 | cc], 0, dst, true);
    }

    /// `jcc rel32` to a place not known yet: returns where to patch.
    fn jcc(&mut self, cc: u8) -> usize {
        self.code.extend_from_slice(&[0x0f, 0x80 | cc, 0, 0, 0, 0]);
        self.code.len() - 4
    }

    /// `jcc` to `target`, code already written.
    fn jcc_back(&mut self, cc: u8, target: usize) {
        let rel = target as i64 - (self.code.len() + 6) as i64;
        self.code.extend_from_slice(&[0x0f, 0x80 | cc]);
        self.code.extend_from_slice(&(rel as i32).to_le_bytes());
    }

    /// Make the jump whose rel32 is at `patch` land here.
    fn land(&mut self, patch: usize) {
        let rel = (self.code.len() - (patch + 4)) as i32;
        self.code[patch..patch + 4].copy_from_slice(&rel.to_le_bytes());
    }

    /// `bts dst, bit`.
    fn set_bit(&mut self, dst: u8, bit: u8) {
        self.rr(true, &[0x0f, 0xba], 5, dst, false);
        self.code.push(bit);
    }

    /// `opcode [rip + disp]` (a word operand: the opcode carries the 0x66 prefix) then
    /// `imm`, for code placed at `base`, with the operand at address `target`.
    fn rip_word(&mut self, opcode: &[u8], base: u64, target: u64, imm: &[u8]) {
        self.code.extend_from_slice(opcode);
        let next = base + (self.code.len() + 4 + imm.len()) as u64;
        let disp = target.wrapping_sub(next) as i64 as i32;
        self.code.extend_from_slice(&disp.to_le_bytes());
        self.code.extend_from_slice(imm);
    }

    fn ret(&mut self) {
        self.code.push(0xc3);
    }

    /// `call` the routine at `target`, this code being placed at `base`.
    fn call(&mut self, base: u64, target: u64) {
        let next = base + self.code.len() as u64 + 5;
        self.code.push(0xe8);
        let rel = target.wrapping_sub(next) as i64 as i32;
        self.code.extend_from_slice(&rel.to_le_bytes());
    }
}

/// The shared routines: [`LOOKUPS`] lookups, then the counted flavour's as many miss
/// routines and its exits' fetch count ([`COUNT_FETCHES`]).
const ROUTINES: usize = COUNT_FETCHES + 1;
const LOOKUPS: usize = 8;
/// The counted flavour's miss routine of lookup `n` is `MISSES + n`.
const MISSES: usize = LOOKUPS;
const COUNT_FETCHES: usize = MISSES + LOOKUPS;

/// The data-page cache lookups shared by all blocks, one per table and access size
/// (loads of 1, 2, 4, 8 bytes, then stores; the counted flavour's miss routines after
/// them, see [`write_counted_lookups`]): given the address in rax, they return with
/// ZF set on a hit and r10 + rax the host address of the bytes, ZF clear on a miss. They
/// clobber rcx, r8 and r9. One compare checks the page and that the access stays on it,
/// as Cranelift's blocks and the interpreter do: the tag against the page of the access's
/// last byte. On a miss they ask the environment's data-miss function when it has one
/// (`EnvLayout::data_miss`), and hit when it gives a host address.
fn write_lookups(layout: EnvLayout) -> (Vec<u8>, [usize; ROUTINES]) {
    if let Some(c) = layout.counted {
        return write_counted_lookups(layout, c);
    }
    let mut a = Asm::default();
    let mut starts = [0; ROUTINES];
    for (n, start) in starts.iter_mut().take(LOOKUPS).enumerate() {
        let table = if n < 4 {
            layout.load_table_offset
        } else {
            layout.store_table_offset
        };
        let size = 1i32 << (n % 4);
        a.code.resize(a.code.len().next_multiple_of(16), 0xcc);
        *start = a.code.len();
        if size == 1 {
            a.mov_rr(R8, RAX);
            a.shift_imm(SHR, true, R8, 12);
        }
        // The entry's byte offset, ((va >> 12) & (slots - 1)) * 16, in two operations.
        a.mov_rr(R9, RAX);
        a.shift_imm(SHR, true, R9, 12 - 4);
        a.alu_imm(Alu::And, true, R9, ((layout.table_slots - 1) << 4) as i32);
        a.alu_mem(Alu::Add, true, R9, at(ENV, table));
        if size > 1 {
            a.lea(R10, at(RAX, size - 1));
            a.shift_imm(SHR, true, R10, 12);
            a.alu_mem(Alu::Cmp, true, R10, at(R9, 0));
        } else {
            a.alu_mem(Alu::Cmp, true, R8, at(R9, 0));
        }
        let to_miss = a.jcc(CC_NE);
        a.load(R10, at(R9, 8));
        a.alu_mem(Alu::Add, true, R10, at(ENV, layout.ram_offset));
        // Set ZF: a hit.
        a.rr(false, &[0x39], RAX, RAX, false);
        a.ret();
        a.land(to_miss);
        if layout.data_miss {
            call_miss_fn(&mut a, size, n >= 4);
        } else {
            // ZF is still clear from the compare: a miss.
            a.ret();
        }
    }
    (a.code, starts)
}

/// The tail of a lookup routine that missed: the environment's miss function (its
/// `MissCall`'s, in the host's C convention, `(env, va, size, store, pc)` -> host
/// address or 0; the pc is rcx, which only the counted flavour's exit stubs set, and only
/// its miss function reads), then ZF set and r10 + rax the host address, or ZF clear.
/// Keeps what the block keeps in call-clobbered registers (six pushes keep the stack
/// 16-byte aligned at the call).
fn call_miss_fn(a: &mut Asm, size: i32, store: bool) {
    let miss_fn = offset_of!(super::MissCall, function) as i32;
    for r in [RDI, RSI, RDX, R11, RAX, RAX] {
        a.rex(false, 0, 0, r, false);
        a.code.push(0x50 + (r & 7));
    }
    a.mov_rr(R8, RCX);
    a.mov_rr(RDI, RSI);
    a.mov_rr(RSI, RAX);
    a.mov_imm(RDX, size);
    a.mov_imm(RCX, store as i32);
    // call [rdi + miss_fn]
    a.mem(false, &[0xff], 2, at(RDI, miss_fn));
    a.mov_rr(R10, RAX);
    for r in [RAX, RAX, R11, RDX, RSI, RDI] {
        a.rex(false, 0, 0, r, false);
        a.code.push(0x58 + (r & 7));
    }
    // 0: leave before the instruction (ZF clear: r10 - 1 borrows, no zero).
    a.rr(true, &[0x85], R10, R10, false);
    let leave = a.jcc(CC_E);
    a.rr(true, &[0x29], RAX, R10, false);
    a.rr(false, &[0x39], RAX, RAX, false);
    a.ret();
    a.land(leave);
    // Clear ZF: a miss.
    a.alu_imm(Alu::Or, false, R8, 1);
    a.ret();
}

/// The counted flavour's routines (see `CountedLayout` in `jit`), the fetch count of its
/// exits last ([`COUNT_FETCHES`], [`write_count_fetches`]): the lookups
/// have the same contract, and count an access the environment's counted run covers
/// (a page it holds for the access's type, within the page) in it. On anything else
/// they return with ZF clear, as the plain ones do, and the caller's exit stub calls
/// the matching miss routine ([`MISSES`] on) with the instruction's pc in rcx: it asks the
/// environment's miss function, which may join the page to the run, and returns as a
/// lookup would. The pc is set only there, so the lookup's callers pay nothing for it.
fn write_counted_lookups(
    layout: EnvLayout,
    c: super::CountedLayout,
) -> (Vec<u8>, [usize; ROUTINES]) {
    let mut a = Asm::default();
    let mut starts = [0; ROUTINES];
    // The slot's byte offset, ((va >> 12) & mask) << shift, in two operations.
    assert!(c.page_shift <= 12, "a run page larger than a guest page");
    let slot_mask = i32::try_from(c.page_mask << c.page_shift).expect("a run of a few pages");
    for n in 0..LOOKUPS {
        let store = n >= 4;
        let size = 1i32 << (n % 4);
        a.code.resize(a.code.len().next_multiple_of(16), 0xcc);
        starts[n] = a.code.len();
        // r10: the run; r9: the offset of its slot for the page of the first byte,
        // which must hold the page of the last (r8) for this access type, so the access
        // stays in the page.
        a.mov_rr(R9, RAX);
        a.shift_imm(SHR, true, R9, 12 - c.page_shift);
        a.alu_imm(Alu::And, true, R9, slot_mask);
        a.load(R10, at(ENV, c.run));
        let page = |field: i32| Mem {
            base: R10,
            index: Some(R9),
            disp: c.pages + field,
        };
        a.lea(R8, at(RAX, size - 1));
        a.shift_imm(SHR, true, R8, 12);
        let tag = c.page_tags + if store { 8 } else { 0 };
        a.alu_mem(Alu::Cmp, true, R8, page(tag));
        let miss = a.jcc(CC_NE);
        // One more access in the run, the page's last so far (rcx is free on a hit:
        // only the miss routine reads the pc).
        // inc qword [r10 + seq]
        a.mem(true, &[0xff], 0, at(R10, c.seq));
        a.load(RCX, at(R10, c.seq));
        a.store(page(c.page_last), RCX);
        // inc qword [r10 + r9 + n]
        a.mem(true, &[0xff], 0, page(c.page_n));
        a.load(R10, page(c.page_addend));
        a.alu_mem(Alu::Add, true, R10, at(ENV, layout.ram_offset));
        a.rr(false, &[0x39], RAX, RAX, false);
        a.land(miss);
        // ZF is clear from the compare when the jump above was taken.
        a.ret();
        a.code.resize(a.code.len().next_multiple_of(16), 0xcc);
        starts[MISSES + n] = a.code.len();
        call_miss_fn(&mut a, size, store);
    }
    a.code.resize(a.code.len().next_multiple_of(16), 0xcc);
    starts[COUNT_FETCHES] = a.code.len();
    write_count_fetches(&mut a, c);
    (a.code, starts)
}

/// The counted flavour's routine for an exit through the jump-cache entry at rax, passing
/// the budget in rcx on (see `CountedLayout`): when the entry's fetch word names a
/// fetch-run slot at its current version, count the fetches since the current slot's
/// began in it, make the target's slot current, its fetches beginning at the target in
/// r8, and return with ZF set; otherwise return with ZF clear, the run untouched.
/// Clobbers r9, r10, r11 and rdx. Shared by all exits, which it keeps short.
fn write_count_fetches(a: &mut Asm, c: super::CountedLayout) {
    // r10 = the run, r9 = the word.
    a.load(R9, at(RAX, super::JUMP_ENTRY_FETCH));
    a.load(R10, at(ENV, c.fetch_run));
    // The current slot's word: its fetches go on from where they began.
    a.alu_mem(Alu::Cmp, true, R9, at(R10, c.fetch_cur_word));
    let same = a.jcc(CC_E);
    // r11 = the word's slot * 8, r9 = its version.
    a.mov_rr(R11, R9);
    a.alu_imm(Alu::And, true, R11, (1 << super::FETCH_SLOT_BITS) - 1);
    a.shift_imm(SHL, true, R11, 3);
    a.shift_imm(SHR, true, R9, super::FETCH_SLOT_BITS as u8);
    let version = Mem {
        base: R10,
        index: Some(R11),
        disp: c.fetch_versions,
    };
    a.alu_mem(Alu::Cmp, true, R9, version);
    let stale = a.jcc(CC_NE);
    // n[cur] += from - left; last[cur] = left.
    a.load(R9, at(R10, c.fetch_cur));
    a.shift_imm(SHL, true, R9, 3);
    a.rr(true, &[0x01], R10, R9, false);
    a.load(RDX, at(R10, c.fetch_from));
    a.rr(true, &[0x29], RCX, RDX, false);
    a.alu_mem(Alu::Add, true, RDX, at(R9, c.fetch_n));
    a.store(at(R9, c.fetch_n), RDX);
    a.store(at(R9, c.fetch_last), RCX);
    // The target's slot: current, touched, its fetches from here.
    a.shift_imm(SHR, true, R11, 3);
    a.store(at(R10, c.fetch_cur), R11);
    a.load(R9, at(RAX, super::JUMP_ENTRY_FETCH));
    a.store(at(R10, c.fetch_cur_word), R9);
    a.load(R9, at(R10, c.fetch_touched));
    // bts r9, r11
    a.rr(true, &[0x0f, 0xab], R11, R9, false);
    a.store(at(R10, c.fetch_touched), R9);
    a.store(at(R10, c.fetch_from), RCX);
    a.land(same);
    a.store(at(R10, c.fetch_at), R8);
    // Set ZF: counted.
    a.rr(false, &[0x39], RAX, RAX, false);
    // ZF is clear from the compare when the jump here was taken.
    a.land(stale);
    a.ret();
}

/// Where an exit resumes.
#[derive(Clone, Copy)]
enum Resume {
    /// At this byte offset from the block's entry.
    At(i64),
    /// At the address in rax.
    Rax,
}

/// How writing one instruction went.
#[derive(PartialEq, Eq)]
enum Written {
    /// The block goes on after it.
    Next,
    /// It ends the block (a jump).
    End,
    /// It has no pattern: the block ends before it.
    NoPattern,
}

/// An exit written after the block's straight path, reached by a conditional jump.
struct Stub {
    patch: usize,
    resume: i64,
    retired: u64,
    /// Leaves the instruction at `resume` (this decode-cache slot) pending.
    pending: Option<u64>,
    /// A counted lookup's miss: its miss routine first, and back on a hit.
    retry: Option<Retry>,
}

/// Where a counted lookup's exit stub first calls the miss routine (see
/// [`write_counted_lookups`]), and where it goes back to when that hits.
struct Retry {
    miss: u64,
    back: usize,
}

struct Writer {
    a: Asm,
    layout: EnvLayout,
    stubs: Vec<Stub>,
    /// Where the code will run, and the lookup routines (see [`write_lookups`]).
    base: u64,
    lookups: [u64; ROUTINES],
}

impl Writer {
    /// rax = guest register `r`.
    fn get(&mut self, dst: u8, r: u8) {
        if r & 31 == 0 {
            self.a.zero(dst);
        } else {
            self.a.load(dst, reg(r));
        }
    }

    /// Guest register `rd` = host register `src` (x0 stays zero).
    fn set(&mut self, rd: u8, src: u8) {
        if rd & 31 != 0 {
            self.a.store(reg(rd), src);
        }
    }

    /// host `dst` = the virtual pc at `offset` bytes from the entry.
    fn pc_at(&mut self, dst: u8, offset: i64) {
        match i32::try_from(offset) {
            Ok(d) => self.a.lea(dst, at(PC0, d)),
            Err(_) => {
                self.a.mov_imm64(dst, offset as u64);
                self.a.rr(true, &[0x01], PC0, dst, false);
            }
        }
    }

    /// Leave for the resume pc after `retired` instructions: straight into the block the
    /// jump cache holds for it (see [`Writer::chain`]), or back to the run loop, with
    /// the instruction at the resume pc left pending (this decode-cache slot) when
    /// `pending` says so.
    fn exit(&mut self, resume: Resume, retired: u64, pending: Option<u64>) {
        let h = self.layout;
        let target = match resume {
            Resume::At(offset) => {
                self.pc_at(R8, offset);
                R8
            }
            Resume::Rax => RAX,
        };
        self.a.store(at(ENV, h.pc_offset), target);
        if let Some(slot) = pending {
            self.a
                .store_imm(at(ENV, h.pending_slot_offset), slot as i32);
            self.a.lea(RAX, at(LEFT, -(retired as i32)));
            self.a.set_bit(RAX, EXIT_BEFORE.trailing_zeros() as u8);
            self.a.ret();
            return;
        }
        self.a.lea(RCX, at(LEFT, -(retired as i32)));
        if target == RAX {
            self.a.mov_rr(R8, RAX);
        }
        self.chain();
        self.a.mov_rr(RAX, RCX);
        self.a.ret();
    }

    /// With the target pc in r8 and the budget left in rcx: tail-call the block the jump
    /// cache holds for the target in the current jump epoch, as Cranelift's exits do
    /// (same slot, same checks, the budget covering any block), with the arguments a
    /// block takes; fall through to the code after it otherwise. Quick and Cranelift's
    /// blocks take their arguments in the same registers (Cranelift's `tail` convention
    /// passes them as the C convention does), so either may follow.
    fn chain(&mut self) {
        let h = self.layout;
        self.a.alu_imm(Alu::Cmp, true, RCX, super::MAX_BLOCK as i32);
        let short = self.a.jcc(CC_B);
        // rax = the entry: jump_cache + jump_slot(target) * 32.
        self.a.mov_rr(RAX, R8);
        self.a
            .shift_imm(SHR, true, RAX, super::JUMP_HASH_SHIFTS.0 as u8);
        self.a.mov_rr(R9, R8);
        self.a
            .shift_imm(SHR, true, R9, super::JUMP_HASH_SHIFTS.1 as u8);
        self.a.rr(true, &[0x31], R9, RAX, false);
        self.a
            .alu_imm(Alu::And, false, RAX, (super::JUMP_SLOTS - 1) as i32);
        self.a.shift_imm(
            SHL,
            false,
            RAX,
            super::JUMP_ENTRY_BYTES.trailing_zeros() as u8,
        );
        self.a
            .alu_mem(Alu::Add, true, RAX, at(ENV, h.jump_cache_offset));
        self.a
            .alu_mem(Alu::Cmp, true, R8, at(RAX, super::JUMP_ENTRY_PC));
        let miss = self.a.jcc(CC_NE);
        self.a.load(R9, at(ENV, h.jump_epoch_offset));
        self.a
            .alu_mem(Alu::Cmp, true, R9, at(RAX, super::JUMP_ENTRY_EPOCH));
        let stale = self.a.jcc(CC_NE);
        let uncounted = self.layout.counted.map(|_| {
            self.a.call(self.base, self.lookups[COUNT_FETCHES]);
            self.a.jcc(CC_NE)
        });
        self.a.mov_rr(PC0, R8);
        // jmp [rax + code]
        self.a
            .mem(false, &[0xff], 4, at(RAX, super::JUMP_ENTRY_CODE));
        for p in [short, miss, stale].into_iter().chain(uncounted) {
            self.a.land(p);
        }
    }

    /// rax = the effective address `x[rs1] + imm`.
    fn address(&mut self, op: &Insn) {
        if op.rs1 & 31 == 0 {
            self.a.mov_imm(RAX, op.imm);
        } else {
            self.a.load(RAX, reg(op.rs1));
            if op.imm != 0 {
                self.a.alu_imm(Alu::Add, true, RAX, op.imm);
            }
        }
    }

    /// The data-page cache lookup for `size` bytes at the address in rax (`store`: in the
    /// store table): on a miss, leave before the instruction (the counted flavour's exit
    /// stub first asks the miss routine, and comes back on its hit); on a hit, r10 + rax
    /// is the host address of the bytes.
    fn lookup(&mut self, store: bool, size: u8, retired: u64, offset: i64, slot: u64) {
        let n = size.trailing_zeros() as usize + if store { 4 } else { 0 };
        self.a.call(self.base, self.lookups[n]);
        let patch = self.a.jcc(CC_NE);
        let retry = self.layout.counted.map(|_| Retry {
            miss: self.lookups[MISSES + n],
            back: self.a.code.len(),
        });
        self.stubs.push(Stub {
            patch,
            resume: offset,
            retired,
            pending: Some(slot),
            retry,
        });
    }

    /// One instruction.
    fn insn(&mut self, op: &Insn, retired: u64, offset: i64, slot: u64) -> Written {
        use OpKind::*;
        let imm = op.imm;
        match op.k {
            Lui => {
                if op.rd & 31 != 0 {
                    self.a.store_imm(reg(op.rd), imm);
                }
            }
            Auipc => {
                self.pc_at(RAX, offset + imm as i64);
                self.set(op.rd, RAX);
            }
            Addi if op.rs1 & 31 == 0 => {
                if op.rd & 31 != 0 {
                    self.a.store_imm(reg(op.rd), imm);
                }
            }
            Addi | Xori | Ori | Andi => {
                self.get(RAX, op.rs1);
                let alu = match op.k {
                    Addi => Alu::Add,
                    Xori => Alu::Xor,
                    Ori => Alu::Or,
                    _ => Alu::And,
                };
                if imm != 0 || matches!(op.k, Andi) {
                    self.a.alu_imm(alu, true, RAX, imm);
                }
                self.set(op.rd, RAX);
            }
            Slti | Sltiu => {
                self.a.zero(R9);
                self.get(RAX, op.rs1);
                self.a.alu_imm(Alu::Cmp, true, RAX, imm);
                self.a.setcc(if op.k == Slti { CC_L } else { CC_B }, R9);
                self.set(op.rd, R9);
            }
            Slli | Srli | Srai => {
                self.get(RAX, op.rs1);
                let digit = match op.k {
                    Slli => SHL,
                    Srli => SHR,
                    _ => SAR,
                };
                self.a.shift_imm(digit, true, RAX, (imm & 63) as u8);
                self.set(op.rd, RAX);
            }
            Add | Sub | Xor | Or | And => {
                self.get(RAX, op.rs1);
                let alu = match op.k {
                    Add => Alu::Add,
                    Sub => Alu::Sub,
                    Xor => Alu::Xor,
                    Or => Alu::Or,
                    _ => Alu::And,
                };
                if op.rs2 & 31 != 0 {
                    self.a.alu_mem(alu, true, RAX, reg(op.rs2));
                } else if op.k == And {
                    self.a.zero(RAX);
                }
                self.set(op.rd, RAX);
            }
            Slt | Sltu => {
                self.a.zero(R9);
                self.get(RAX, op.rs1);
                if op.rs2 & 31 != 0 {
                    self.a.alu_mem(Alu::Cmp, true, RAX, reg(op.rs2));
                } else {
                    self.a.alu_imm(Alu::Cmp, true, RAX, 0);
                }
                self.a.setcc(if op.k == Slt { CC_L } else { CC_B }, R9);
                self.set(op.rd, R9);
            }
            Sll | Srl | Sra | Sllw | Srlw | Sraw => {
                self.get(RCX, op.rs2);
                self.get(RAX, op.rs1);
                let digit = match op.k {
                    Sll | Sllw => SHL,
                    Srl | Srlw => SHR,
                    _ => SAR,
                };
                let w = matches!(op.k, Sll | Srl | Sra);
                self.a.shift_cl(digit, w, RAX);
                if !w {
                    self.a.movsxd(RAX, RAX);
                }
                self.set(op.rd, RAX);
            }
            Addiw => {
                self.get(RAX, op.rs1);
                self.a.alu_imm(Alu::Add, false, RAX, imm);
                self.a.movsxd(RAX, RAX);
                self.set(op.rd, RAX);
            }
            Slliw | Srliw | Sraiw => {
                self.get(RAX, op.rs1);
                let digit = match op.k {
                    Slliw => SHL,
                    Srliw => SHR,
                    _ => SAR,
                };
                self.a.shift_imm(digit, false, RAX, (imm & 31) as u8);
                self.a.movsxd(RAX, RAX);
                self.set(op.rd, RAX);
            }
            Addw | Subw | Mul | Mulw => {
                self.get(RAX, op.rs1);
                let w = op.k == Mul;
                if op.rs2 & 31 != 0 {
                    match op.k {
                        Addw => self.a.alu_mem(Alu::Add, false, RAX, reg(op.rs2)),
                        Subw => self.a.alu_mem(Alu::Sub, false, RAX, reg(op.rs2)),
                        _ => self.a.imul_mem(w, RAX, reg(op.rs2)),
                    }
                } else if matches!(op.k, Mul | Mulw) {
                    self.a.zero(RAX);
                }
                if !w {
                    self.a.movsxd(RAX, RAX);
                }
                self.set(op.rd, RAX);
            }
            Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => {
                let size = match op.k {
                    Lb | Lbu => 1,
                    Lh | Lhu => 2,
                    Lw | Lwu => 4,
                    _ => 8,
                };
                self.address(op);
                self.lookup(false, size, retired, offset, slot);
                let bytes = Mem {
                    base: R10,
                    index: Some(RAX),
                    disp: 0,
                };
                let a = &mut self.a;
                match op.k {
                    Lb => a.mem(true, &[0x0f, 0xbe], RAX, bytes),
                    Lh => a.mem(true, &[0x0f, 0xbf], RAX, bytes),
                    Lw => a.mem(true, &[0x63], RAX, bytes),
                    Lbu => a.mem(false, &[0x0f, 0xb6], RAX, bytes),
                    Lhu => a.mem(false, &[0x0f, 0xb7], RAX, bytes),
                    // A 32-bit load clears the upper half.
                    Lwu => a.mem(false, &[0x8b], RAX, bytes),
                    _ => a.load(RAX, bytes),
                }
                self.set(op.rd, RAX);
            }
            Sb | Sh | Sw | Sd => {
                let size = match op.k {
                    Sb => 1,
                    Sh => 2,
                    Sw => 4,
                    _ => 8,
                };
                self.address(op);
                // The store table never holds a page with decoded code.
                self.lookup(true, size, retired, offset, slot);
                self.get(R8, op.rs2);
                let bytes = Mem {
                    base: R10,
                    index: Some(RAX),
                    disp: 0,
                };
                self.a.store_sized(bytes, R8, size);
            }
            Beq | Bne | Blt | Bge | Bltu | Bgeu => {
                self.get(RAX, op.rs1);
                if op.rs2 & 31 != 0 {
                    self.a.alu_mem(Alu::Cmp, true, RAX, reg(op.rs2));
                } else {
                    self.a.alu_imm(Alu::Cmp, true, RAX, 0);
                }
                let cc = match op.k {
                    Beq => CC_E,
                    Bne => CC_NE,
                    Blt => CC_L,
                    Bge => CC_GE,
                    Bltu => CC_B,
                    _ => CC_AE,
                };
                let patch = self.a.jcc(cc);
                self.stubs.push(Stub {
                    patch,
                    resume: offset + imm as i64,
                    retired: retired + 1,
                    pending: None,
                    retry: None,
                });
            }
            Jal | Jalr => {
                self.jump(op, retired, offset);
                return Written::End;
            }
            // Harts run in turns, so memory is always ordered.
            Fence => {}
            Mulh | Mulhu | Mulhsu => {
                // The one-operand multiply leaves the high half in rdx, which holds the
                // entry pc: kept in r9 meanwhile.
                self.a.mov_rr(R9, PC0);
                self.get(RAX, op.rs1);
                if op.rs2 & 31 == 0 {
                    self.a.zero(RDX);
                } else {
                    let digit = if op.k == Mulh { 5 } else { 4 };
                    self.a.mem(true, &[0xf7], digit, reg(op.rs2));
                    if op.k == Mulhsu {
                        // high(a signed * b unsigned) = high(a * b unsigned) - (a < 0 ? b : 0)
                        self.get(RAX, op.rs1);
                        self.a.shift_imm(SAR, true, RAX, 63);
                        self.a.alu_mem(Alu::And, true, RAX, reg(op.rs2));
                        self.a.rr(true, &[0x29], RAX, RDX, false);
                    }
                }
                self.set(op.rd, RDX);
                self.a.mov_rr(PC0, R9);
            }
            // Left to the interpreter until Cranelift compiles them: rare in the code
            // that is warm but not yet hot, and x86's division traps where RISC-V's
            // does not.
            Div | Divu | Rem | Remu | Divw | Divuw | Remw | Remuw | AmoW | AmoD => {
                return Written::NoPattern
            }
            // Never in a block (`OpKind::jit_compiles`).
            Empty | PageEnd | Illegal | FenceI | Ecall | Ebreak | Mret | Sret | Wfi | SfenceVma
            | Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci | LrW | ScW | LrD | ScD | Flw
            | Fld | Fsw | Fsd | FpOp => return Written::NoPattern,
        }
        Written::Next
    }

    /// JAL and JALR end the block: link, then leave for the target.
    fn jump(&mut self, op: &Insn, retired: u64, offset: i64) {
        let link = offset + op.len as i64;
        if op.k == OpKind::Jal {
            if op.rd & 31 != 0 {
                self.pc_at(R8, link);
                self.set(op.rd, R8);
            }
            self.exit(Resume::At(offset + op.imm as i64), retired + 1, None);
        } else {
            // The target first: rd may be rs1.
            self.address(op);
            self.a.alu_imm(Alu::And, true, RAX, -2);
            if op.rd & 31 != 0 {
                self.pc_at(R8, link);
                self.set(op.rd, R8);
            }
            self.exit(Resume::Rax, retired + 1, None);
        }
    }
}

/// The machine code of quick block `id`, for the block `insns` entered at decode-cache
/// slot `index`, to be placed at `base` in `area`, and the number of its instructions it
/// covers (it ends before the first op it has no pattern for); None when it would cover
/// none.
fn write_block(
    area: &CodeArea,
    base: u64,
    insns: &[Insn],
    index: usize,
    id: u16,
) -> Option<(Vec<u8>, u64)> {
    let origin = area.base.as_ptr() as u64;
    let mut w = Writer {
        a: Asm::default(),
        layout: area.layout,
        stubs: Vec::new(),
        base,
        lookups: area.lookups.map(|at| origin + at as u64),
    };
    // Count the entry; at zero, leave before the first instruction (see `Promotion`).
    let count_at = origin + (id as u64) * 2;
    w.a.rip_word(&[0x66, 0x83, 0x2d], base, count_at, &[1]);
    let due = w.a.jcc(CC_BE);
    debug_assert!(w.a.code.len() >= REDIRECT_BYTES);
    w.a.mov_rr(LEFT, RCX);
    let mut offset = 0i64;
    let mut done = 0u64;
    let mut ended = false;
    for (i, op) in insns.iter().enumerate() {
        let retired = i as u64;
        let slot = index as u64 + offset as u64 / 2;
        match w.insn(op, retired, offset, slot) {
            Written::NoPattern => break,
            Written::End => {
                done = retired + 1;
                ended = true;
                break;
            }
            Written::Next => {
                done = retired + 1;
                offset += op.len as i64;
            }
        }
    }
    if done == 0 {
        return None;
    }
    if !ended {
        w.exit(Resume::At(offset), done, None);
    }
    for stub in std::mem::take(&mut w.stubs) {
        w.a.land(stub.patch);
        if let Some(retry) = stub.retry {
            w.pc_at(RCX, stub.resume);
            w.a.call(base, retry.miss);
            w.a.jcc_back(CC_E, retry.back);
        }
        w.exit(Resume::At(stub.resume), stub.retired, stub.pending);
    }
    // Due: the count stays at zero until the run loop takes the block to Cranelift.
    w.a.land(due);
    w.a.rip_word(&[0x66, 0xc7, 0x05], base, count_at, &[0, 0]);
    w.a.store(at(ENV, w.layout.pc_offset), PC0);
    w.a.mov_rr(RAX, RCX);
    w.a.ret();
    Some((w.a.code, done))
}

/// Room kept for one block's code (64 instructions at up to ~100 bytes each with their
/// exits is under half of it); a block whose code would not fit gets none.
const MAX_BLOCK_BYTES: usize = 16384;

/// Bytes at a quick block's entry that [`CodeArea::redirect`] overwrites.
const REDIRECT_BYTES: usize = 12;

/// Executable memory for quick blocks: one mapping, filled in order, the shared lookup
/// routines first.
///
/// The mapping is writable and executable at once, as QEMU's code buffer is by default:
/// making each block's pages writable and back costs two `mprotect` calls per block,
/// each a TLB shootdown to the compile thread's core (~10 µs a block measured in the
/// Debian boot's 15,000 blocks, 5 % of its time), and a second, read-only view of the
/// same memory would count every page of code twice in the resident set.
///
/// The area starts with one 16-bit entry count per quick block number (see
/// `Promotion` in `jit`), which generated code decrements at each entry and reaches
/// with a rip-relative operand.
pub struct CodeArea {
    base: NonNull<u8>,
    size: usize,
    used: usize,
    /// Entry counts at the area's start.
    counts: usize,
    layout: EnvLayout,
    /// Offsets of the lookup routines.
    lookups: [usize; ROUTINES],
    /// Bytes taken by the routines.
    shared: usize,
}

// SAFETY: the area is a private mapping owned by this value; it is used from one thread
// at a time (the hart's), and moving that ownership between threads is sound.
unsafe impl Send for CodeArea {}

impl CodeArea {
    /// Reserve `size` bytes (the host backs only the pages written) for blocks of
    /// environment `layout`.
    pub fn new(size: usize, counts: usize, layout: EnvLayout) -> Option<CodeArea> {
        let base = super::code_memory::reserve(size)?;
        let mut area = CodeArea {
            base,
            size,
            used: counts * 2,
            counts,
            layout,
            lookups: [0; ROUTINES],
            shared: 0,
        };
        let (code, lookups) = write_lookups(layout);
        let start = area.put(&code)? as usize - base.as_ptr() as usize;
        area.lookups = lookups.map(|at| start + at);
        area.shared = area.used;
        Some(area)
    }

    /// Copy `code` in at the next 16-byte boundary: its address, None when full.
    fn put(&mut self, code: &[u8]) -> Option<u64> {
        let start = self.used.next_multiple_of(16);
        let end = start.checked_add(code.len())?;
        if end > self.size {
            return None;
        }
        // SAFETY: `start..end` lies inside the mapping, which is writable; no code there
        // runs (blocks are only ever added past the code in use).
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), self.base.as_ptr().add(start), code.len());
        }
        self.used = end;
        Some(self.base.as_ptr() as u64 + start as u64)
    }

    /// Write quick code for `insns`, the block entered at decode-cache slot `index`, as
    /// quick block `id` (below the `counts` the area was made with): its entry and how
    /// many of the instructions it covers. None when it would cover none, or when the
    /// area is full (then [`CodeArea::clear`] it first).
    pub fn add_block(&mut self, insns: &[Insn], index: usize, id: u16) -> Option<(*const u8, u64)> {
        if self.full() || id as usize >= self.counts {
            return None;
        }
        let base = self.base.as_ptr() as u64 + self.used.next_multiple_of(16) as u64;
        let (code, len) = write_block(self, base, insns, index, id)?;
        if code.len() > MAX_BLOCK_BYTES {
            return None;
        }
        let at = self.put(&code)?;
        debug_assert_eq!(at, base);
        Some((at as *const u8, len))
    }

    /// Quick block `id`'s entry count (it must be below the area's `counts`).
    pub fn count(&self, id: u16) -> u16 {
        assert!((id as usize) < self.counts);
        // SAFETY: the counts are the area's first `counts` aligned 16-bit words, inside
        // the mapping; generated code writes them only while it runs, on this thread.
        unsafe { (self.base.as_ptr() as *const u16).add(id as usize).read() }
    }

    /// Set quick block `id`'s entry count.
    pub fn set_count(&mut self, id: u16, count: u16) {
        assert!((id as usize) < self.counts);
        // SAFETY: as in `count`.
        unsafe {
            (self.base.as_ptr() as *mut u16)
                .add(id as usize)
                .write(count)
        }
    }

    /// Make the quick block at `code` (an entry [`CodeArea::add_block`] returned since
    /// the last clear) go straight to `target`, code taking the same arguments: its
    /// entry becomes `mov rax, target; jmp rax` (rax is no argument).
    pub fn redirect(&mut self, code: *const u8, target: *const u8) {
        let at = code as usize - self.base.as_ptr() as usize;
        assert!(at >= self.shared && at + REDIRECT_BYTES <= self.used);
        let mut jump = [0u8; REDIRECT_BYTES];
        jump[..2].copy_from_slice(&[0x48, 0xb8]);
        jump[2..10].copy_from_slice(&(target as u64).to_le_bytes());
        jump[10..].copy_from_slice(&[0xff, 0xe0]);
        // SAFETY: the bytes lie inside the mapping (checked above), at the start of a
        // block's code, whose prologue is longer than this; no block runs while the
        // hart patches (this is called outside any block), and the hart's thread is
        // the only one that runs quick code, so the next run sees the new bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(jump.as_ptr(), self.base.as_ptr().add(at), jump.len());
        }
    }

    /// Does `code` point into this area?
    pub fn holds(&self, code: u64) -> bool {
        let base = self.base.as_ptr() as u64;
        (base..base + self.size as u64).contains(&code)
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Is there room for another block?
    pub fn full(&self) -> bool {
        self.used + MAX_BLOCK_BYTES + 16 > self.size
    }

    /// Forget every block (their code is never run again); the routines stay.
    pub fn clear(&mut self) {
        self.used = self.shared;
    }
}

impl Drop for CodeArea {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing points into it once its owner (the Jit,
        // whose blocks are dropped with it) goes.
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr() as *mut std::ffi::c_void, self.size);
        }
    }
}

/// Call quick block `code` as the run loop calls any block.
///
/// # Safety
/// As [`super::Jit::run`]: `code` is a live quick block for `pc`'s page, `x` points to the
/// 32 guest registers and `env` to an environment of the block's layout.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn run(code: *const u8, x: *mut u64, env: *mut u8, pc: u64, left: u64) -> u64 {
    // SAFETY: a quick block is a function of these four arguments in the host's C
    // convention (it touches only call-clobbered registers, and the stack only to call
    // the lookup routines); the caller's contract covers what it reads and writes.
    unsafe {
        let f: unsafe extern "sysv64" fn(*mut u64, *mut u8, u64, u64) -> u64 =
            std::mem::transmute(code);
        f(x, env, pc, left)
    }
}

/// Other hosts have no quick tier (`Jit::enable_quick`), so no quick block to run: as
/// if it left before its first instruction.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn run(_code: *const u8, _x: *mut u64, _env: *mut u8, _pc: u64, left: u64) -> u64 {
    left | EXIT_BEFORE
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The environment fields quick code uses, laid out as the hart's `Env` is.
    #[repr(C)]
    struct TestEnv {
        pc: u64,
        link: u64,
        load_table: *const [u64; 2],
        store_table: *const [u64; 2],
        ram: *mut u8,
        pending_slot: u64,
        jump_cache: *const [u64; 4],
        jump_epoch: u64,
    }

    const SLOTS: usize = 256;
    /// The virtual page mapped to RAM offset 0, read-only; the next one is writable
    /// and maps to RAM offset 0x1000. Their table slots are the last two, so that every
    /// bit of the slot index counts.
    const PAGE_VA: u64 = 0x4000_0000 + (SLOTS as u64 - 2) * 4096;

    fn layout() -> EnvLayout {
        EnvLayout {
            pc_offset: offset_of!(TestEnv, pc) as i32,
            link_offset: offset_of!(TestEnv, link) as i32,
            load_table_offset: offset_of!(TestEnv, load_table) as i32,
            store_table_offset: offset_of!(TestEnv, store_table) as i32,
            ram_offset: offset_of!(TestEnv, ram) as i32,
            page_map_offset: 0,
            page_map_len_offset: 0,
            jump_cache_offset: offset_of!(TestEnv, jump_cache) as i32,
            jump_epoch_offset: offset_of!(TestEnv, jump_epoch) as i32,
            pending_slot_offset: offset_of!(TestEnv, pending_slot) as i32,
            table_slots: SLOTS as u64,
            counted: None,
            data_miss: false,
        }
    }

    fn op(k: OpKind, rd: u8, rs1: u8, rs2: u8, imm: i32) -> Insn {
        Insn {
            k,
            rd,
            rs1,
            rs2,
            imm,
            len: 4,
        }
    }

    struct Outcome {
        result: u64,
        pc: u64,
        pending: u64,
        x: [u64; 32],
        ram: Vec<u8>,
    }

    /// Run `insns` as a quick block entered at `pc` (decode-cache slot 100) with budget
    /// 1000 and registers `x`, RAM pages: PAGE_VA loadable (RAM 0..4K), PAGE_VA + 4K
    /// loadable and storable (RAM 4K..8K), the page after that nothing.
    fn run_block(insns: &[Insn], x: [u64; 32], pc: u64) -> Outcome {
        run_chain(insns, x, pc, None)
    }

    /// [`run_block`] in jump epoch 7, with `next`'s block (its pc, the epoch its entry
    /// was made in, its instructions) in the jump cache.
    fn run_chain(
        insns: &[Insn],
        mut x: [u64; 32],
        pc: u64,
        next: Option<(u64, u64, &[Insn])>,
    ) -> Outcome {
        let layout = layout();
        let mut load = vec![[u64::MAX, 0]; SLOTS];
        let mut store = vec![[u64::MAX, 0]; SLOTS];
        for (page, ram_off) in [(PAGE_VA >> 12, 0u64), ((PAGE_VA >> 12) + 1, 0x1000)] {
            let addend = ram_off.wrapping_sub(page << 12);
            load[page as usize % SLOTS] = [page, addend];
            if ram_off != 0 {
                store[page as usize % SLOTS] = [page, addend];
            }
        }
        let mut ram: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut jumps = vec![[0, u64::MAX, 0, 0]; super::super::JUMP_SLOTS];
        let mut area = CodeArea::new(1 << 20, 2, layout).expect("code area");
        let (code, _) = area.add_block(insns, 100, 0).expect("quick code");
        area.set_count(0, 1000);
        if let Some((next_pc, epoch, next)) = next {
            let (next_code, _) = area.add_block(next, 200, 1).expect("quick code");
            area.set_count(1, 1000);
            jumps[super::super::jump_slot(next_pc)] = [next_pc, epoch, next_code as u64, 0];
        }
        let mut env = TestEnv {
            pc: 0,
            link: 0,
            load_table: load.as_ptr(),
            store_table: store.as_ptr(),
            ram: ram.as_mut_ptr(),
            pending_slot: u64::MAX,
            jump_cache: jumps.as_ptr(),
            jump_epoch: 7,
        };
        // SAFETY: `code` was written for `layout()`, which `env` follows; the tables,
        // the jump cache and RAM it points to live until the block returns.
        let result = unsafe {
            run(
                code,
                x.as_mut_ptr(),
                &mut env as *mut TestEnv as *mut u8,
                pc,
                1000,
            )
        };
        Outcome {
            result,
            pc: env.pc,
            pending: env.pending_slot,
            x,
            ram,
        }
    }

    fn ram_u64(ram: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(ram[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn arithmetic_loads_stores_and_the_fall_through_exit() {
        use OpKind::*;
        let mut x = [0u64; 32];
        x[1] = PAGE_VA;
        x[2] = 0xffff_ffff_8000_0001;
        x[3] = 5;
        let insns = [
            op(Addi, 4, 2, 0, -2), // x4 = x2 - 2
            op(Sraiw, 5, 2, 0, 1), // 32-bit: 0x8000_0001 >> 1 (arithmetic), sign-extended
            op(Sltu, 6, 3, 2, 0),  // 5 < huge: 1
            op(Sra, 7, 2, 3, 0),   // x2 >> 5 arithmetic
            op(Ld, 8, 1, 0, 0x10), // RAM[0x10..0x18]
            op(Lb, 9, 1, 0, 0x11), // RAM[0x11], sign-extended
            op(Lui, 10, 0, 0, -4096),
            op(Sd, 0, 1, 2, 0x1008), // RAM[0x1008] = x2 (the writable page)
            op(Addw, 11, 2, 2, 0),   // 2 * 0x8000_0001 = 0x1_0000_0002 -> 2
            op(Add, 0, 2, 2, 0),     // x0 stays 0
        ];
        let o = run_block(&insns, x, 0x8000_0000);
        let ram: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(o.x[4], 0xffff_ffff_7fff_ffff);
        assert_eq!(o.x[5], 0xffff_ffff_c000_0000);
        assert_eq!(o.x[6], 1);
        assert_eq!(o.x[7], (0xffff_ffff_8000_0001u64 as i64 >> 5) as u64);
        assert_eq!(o.x[8], ram_u64(&ram, 0x10));
        assert_eq!(o.x[9], ram[0x11] as i8 as i64 as u64);
        assert_eq!(o.x[10], 0xffff_ffff_ffff_f000);
        assert_eq!(ram_u64(&o.ram, 0x1008), 0xffff_ffff_8000_0001);
        assert_eq!(o.x[11], 2);
        assert_eq!(o.x[0], 0);
        // Ran all ten; resumes after the last.
        assert_eq!(o.result, 1000 - 10);
        assert_eq!(o.pc, 0x8000_0000 + 40);
    }

    /// A load whose last byte is on the next page misses even though its first byte's
    /// page is cached (the next page may map anywhere), and a store to a page only cached
    /// for loads misses: both leave before the instruction, naming its slot.
    #[test]
    fn accesses_the_tables_do_not_cover_leave_before_the_instruction() {
        use OpKind::*;
        let mut x = [0u64; 32];
        x[1] = PAGE_VA + 0x1ffc;
        x[2] = PAGE_VA;
        for (second, name) in [
            (op(Ld, 5, 1, 0, 0), "a load over the page end"),
            (op(Sw, 0, 2, 1, 8), "a store to a page cached for loads"),
        ] {
            let insns = [op(Addi, 3, 0, 0, 7), second, op(Addi, 4, 0, 0, 9)];
            let o = run_block(&insns, x, 0x8000_0100);
            assert_eq!(o.x[3], 7, "{name}: the first instruction ran");
            assert_eq!(o.x[4], 0, "{name}: the third did not");
            assert_eq!(o.result, (1000 - 1) | EXIT_BEFORE, "{name}");
            assert_eq!(o.pc, 0x8000_0104, "{name}");
            // The second instruction sits 4 bytes (2 slots) after the entry's slot.
            assert_eq!(o.pending, 102, "{name}");
        }
        // Within the page, the same load hits.
        x[1] = PAGE_VA + 0x1ff8;
        let o = run_block(&[op(Ld, 5, 1, 0, 0)], x, 0x8000_0100);
        assert_eq!(o.result, 1000 - 1);
    }

    /// An exit whose target the jump cache holds (its pc, the current epoch) goes
    /// straight into that block while the budget covers any block; a `jalr`'s too.
    #[test]
    fn exits_go_on_through_the_jump_cache() {
        use OpKind::*;
        let mut x = [0u64; 32];
        x[2] = 0x8000_5000;
        let next = [op(Addi, 6, 6, 0, 5), op(Jal, 0, 0, 0, 0x100)];
        let first = [op(Addi, 5, 0, 0, 1), op(Jal, 0, 0, 0, 0x20)];
        let o = run_chain(&first, x, 0x8000_1000, Some((0x8000_1024, 7, &next)));
        assert_eq!(
            (o.result, o.pc, o.x[5], o.x[6]),
            (1000 - 4, 0x8000_1028 + 0x100, 1, 5)
        );
        let jalr = [op(Jalr, 0, 2, 0, 0)];
        let o = run_chain(&jalr, x, 0x8000_1000, Some((0x8000_5000, 7, &next)));
        assert_eq!((o.result, o.pc, o.x[6]), (1000 - 3, 0x8000_5104, 5));
        // Another pc in the same slot, or the entry of another epoch: back to the loop.
        let jal = [op(Jal, 0, 0, 0, 0x20)];
        let o = run_chain(&jal, x, 0x8000_1000, Some((0x8000_1028, 7, &next)));
        assert_eq!((o.result, o.pc, o.x[6]), (1000 - 1, 0x8000_1020, 0));
        let o = run_chain(&jal, x, 0x8000_1000, Some((0x8000_1020, 6, &next)));
        assert_eq!((o.result, o.pc, o.x[6]), (1000 - 1, 0x8000_1020, 0));
    }

    /// A block whose entry count runs out leaves before its first instruction, and
    /// keeps doing so (the count stays zero) until its count is set again.
    #[test]
    fn a_block_whose_count_runs_out_leaves_before_anything() {
        let mut area = CodeArea::new(1 << 20, 1, layout()).expect("code area");
        let (code, _) = area
            .add_block(&[op(OpKind::Addi, 5, 5, 0, 1)], 100, 0)
            .expect("quick code");
        area.set_count(0, 2);
        let mut x = [0u64; 32];
        let mut env = [0u64; 10];
        let results: Vec<u64> = (0..3)
            .map(|_| {
                // SAFETY: the block accesses no memory; `env` is as large as `TestEnv`
                // and its pc field is at offset 0.
                unsafe {
                    run(
                        code,
                        x.as_mut_ptr(),
                        env.as_mut_ptr() as *mut u8,
                        0x4000,
                        10,
                    )
                }
            })
            .collect();
        // The first entry ran (budget 10 - 1); the second found the count at zero.
        assert_eq!(results, [9, 10, 10]);
        assert_eq!((x[5], env[0], area.count(0)), (1, 0x4000, 0));
    }

    #[test]
    fn taken_branches_and_jumps_exit_to_their_targets() {
        use OpKind::*;
        let mut x = [0u64; 32];
        x[1] = 3;
        x[2] = 0x9000_0003;
        let not_taken = op(Blt, 0, 1, 0, 64); // 3 < 0 signed: no
        let taken = op(Bgeu, 0, 1, 0, -16); // 3 >= 0 unsigned: yes
        let o = run_block(&[not_taken, taken, op(Addi, 5, 0, 0, 1)], x, 0x8000_1000);
        assert_eq!(
            (o.result, o.pc, o.x[5]),
            (1000 - 2, 0x8000_1000 + 4 - 16, 0)
        );
        // jalr: target (x2 + 1) & !1, link the next pc, rd = rs1 is read first.
        let o = run_block(&[op(Jalr, 2, 2, 0, 1)], x, 0x8000_2000);
        assert_eq!(
            (o.result, o.pc, o.x[2]),
            (1000 - 1, 0x9000_0004, 0x8000_2004)
        );
        let o = run_block(&[op(Jal, 1, 0, 0, 0x800)], x, 0x8000_3000);
        assert_eq!(
            (o.result, o.pc, o.x[1]),
            (1000 - 1, 0x8000_3800, 0x8000_3004)
        );
    }

    /// A block ends before the first op without a pattern; a block that would start with
    /// one gets no code.
    #[test]
    fn ops_without_a_pattern_end_the_block() {
        use OpKind::*;
        let mut x = [0u64; 32];
        x[1] = 6;
        x[2] = 4;
        let o = run_block(&[op(Addi, 3, 1, 0, 1), op(Div, 4, 1, 2, 0)], x, 0x8000_0000);
        assert_eq!(
            (o.result, o.pc, o.x[3], o.x[4]),
            (1000 - 1, 0x8000_0004, 7, 0)
        );
        let area = CodeArea::new(1 << 20, 1, layout()).unwrap();
        assert!(write_block(&area, 0, &[op(Div, 4, 1, 2, 0)], 1, 0).is_none());
    }
}

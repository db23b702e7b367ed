//! `--jit`: an opt-in basic-block compiler for the unobserved loop, built on Cranelift.
//!
//! A block is a straight run of decoded instructions from one decode-cache slot up to and
//! including the first jump (a taken conditional branch leaves it on the way), stopping before anything it does not compile
//! (system instructions, atomics, FP, undecoded slots, the page's end) and after at most
//! [`MAX_BLOCK`] instructions. The interpreter stays the reference: a block computes what
//! the straight-through loop of `cpu/fast.rs` would, and hands every case it does not
//! handle back to it (see `cpu/fast/jit_glue.rs` for the run-time side: the entry hook,
//! the memory helpers and exit handling).
//!
//! Generated code has the signature `fn(x: *mut u64, env: *mut Env, pc: u64) -> u64`:
//! guest registers are loaded from `x` on first use and written back at every exit; the
//! block's entry pc is an argument because one physical page may be mapped at several
//! virtual addresses. The result is the number of instructions retired, with
//! [`EXIT_BEFORE`] set when the instruction after them still has to run in the
//! interpreter; the pc to resume at is left in the environment (at byte offset
//! [`Helpers::pc_offset`]).
//!
//! This module knows nothing about the hart: it is given the decoded instructions and the
//! addresses of the load/store helpers and returns callable blocks.

use std::time::{Duration, Instant};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block as IrBlock, Endianness, InstBuilder, MemFlagsData, Signature, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Module};

use crate::cpu::decode::K;

/// Longest block compiled, in instructions.
pub const MAX_BLOCK: usize = 64;
/// Executions of a block entry before it is compiled, unless `--jit-hot` says otherwise.
/// Compiling a block costs up to a millisecond, so a block must run thousands of times to
/// pay for itself: lower thresholds made the Debian boot several times slower (see
/// docs/performance.md).
pub const HOT: u32 = 20_000;
/// Shorter blocks are left to the interpreter: they save too little per run.
const MIN_BLOCK: usize = 4;
/// Table entry of a slot whose block is too short: no longer counted.
const NEVER: u32 = COMPILED - 1;
/// Blocks kept before all compiled code is thrown away and compiling starts over (code
/// for a block superseded by a store to its page is only reclaimed then).
const MAX_BLOCKS: usize = 1 << 15;
/// Flag in a table entry: the rest is a block number; otherwise it is an execution count.
const COMPILED: u32 = 1 << 31;
/// Flag in a block's result: the instruction after the retired ones was not executed.
pub const EXIT_BEFORE: u64 = 1 << 32;

/// Load/store helper results (see the glue).
pub const MEM_DONE: u64 = 0;
/// Not done, no side effect: exit before the instruction.
pub const MEM_NOT_DONE: u64 = 1;
/// Done, and the store overwrote decoded code: exit after the instruction.
pub const MEM_DONE_CODE_CHANGED: u64 = 2;

/// One decoded instruction as the compiler takes it.
#[derive(Debug, Clone, Copy)]
pub struct Insn {
    pub k: K,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i32,
    /// 2 or 4.
    pub len: u8,
}

/// The run-time side's entry points and environment layout.
///
/// Generated code first looks a data access up in the hart's data-page cache itself (a
/// direct-mapped table of `DTLB_SLOTS` entries `{ vpn: u64, addend: u64 }`, RAM offset =
/// va + addend) and touches RAM directly on a hit; a store does so only when the RAM page
/// holds no decoded code (`page_map[page] == u32::MAX`). Everything else goes to the
/// helpers.
#[derive(Debug, Clone, Copy)]
pub struct Helpers {
    /// `extern "C" fn(env, va, size) -> status`; the value read is left at `value_offset`.
    pub load: usize,
    /// `extern "C" fn(env, va, size, value) -> status`.
    pub store: usize,
    /// Byte offsets in the environment of the loaded value and of the exit pc.
    pub value_offset: i32,
    pub pc_offset: i32,
    /// Byte offsets in the environment of pointers to the load and store tables, to RAM,
    /// to the decode cache's page map and of its length.
    pub load_table_offset: i32,
    pub store_table_offset: i32,
    pub ram_offset: i32,
    pub page_map_offset: i32,
    pub page_map_len_offset: i32,
    /// Entries per table (a power of two).
    pub table_slots: u64,
}

/// Generated code's signature (see the module comment).
pub type BlockFn = unsafe extern "C" fn(*mut u64, *mut u8, u64) -> u64;

#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub code: BlockFn,
    /// Instructions in the block: the most one run can execute.
    pub len: u64,
    /// The decode-cache page version the block was compiled from.
    pub version: u64,
}

/// What compiling cost, for `--stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JitStats {
    pub blocks: u64,
    pub instructions: u64,
    pub compile_time: Duration,
    pub failures: u64,
    pub restarts: u64,
}

/// Does the compiler handle `k` inside a block?
pub fn compiles(k: K) -> bool {
    use K::*;
    matches!(
        k,
        Lui | Auipc
            | Jal
            | Jalr
            | Beq
            | Bne
            | Blt
            | Bge
            | Bltu
            | Bgeu
            | Lb
            | Lh
            | Lw
            | Ld
            | Lbu
            | Lhu
            | Lwu
            | Sb
            | Sh
            | Sw
            | Sd
            | Addi
            | Slti
            | Sltiu
            | Xori
            | Ori
            | Andi
            | Slli
            | Srli
            | Srai
            | Add
            | Sub
            | Sll
            | Slt
            | Sltu
            | Xor
            | Srl
            | Sra
            | Or
            | And
            | Addiw
            | Slliw
            | Srliw
            | Sraiw
            | Addw
            | Subw
            | Sllw
            | Srlw
            | Sraw
            | Mul
            | Mulh
            | Mulhsu
            | Mulhu
            | Div
            | Divu
            | Rem
            | Remu
            | Mulw
            | Divw
            | Divuw
            | Remw
            | Remuw
            | Fence
    )
}

/// Does `k` end a block (after it)? A conditional branch does not: its taken side
/// leaves the block and the other carries on, so a block spans several basic blocks.
pub fn ends_block(k: K) -> bool {
    matches!(k, K::Jal | K::Jalr)
}

pub struct Jit {
    module: Option<JITModule>,
    ctx: Context,
    fctx: FunctionBuilderContext,
    helpers: Helpers,
    /// Entries counted before compiling (at least 1).
    hot: u32,
    /// Per decode-cache slot: `COMPILED | block number`, or how often it was entered.
    table: Vec<u32>,
    blocks: Vec<Block>,
    pub stats: JitStats,
}

/// What the table says about an entry slot.
pub enum Entry {
    Compiled(Block),
    /// Entered often enough to compile now.
    Hot,
    Cold,
}

fn new_module() -> Option<JITModule> {
    let mut flags = settings::builder();
    flags.set("opt_level", "none").ok()?;
    // The IR is generated from a handful of patterns the tests cover; checking every
    // function again costs compile time for nothing.
    flags.set("enable_verifier", "false").ok()?;
    let isa = cranelift_native::builder()
        .ok()?
        .finish(settings::Flags::new(flags))
        .ok()?;
    Some(JITModule::new(JITBuilder::with_isa(
        isa,
        default_libcall_names(),
    )))
}

impl Jit {
    /// None when Cranelift does not support the host.
    pub fn new(helpers: Helpers, hot: u32) -> Option<Jit> {
        let module = new_module()?;
        Some(Jit {
            ctx: module.make_context(),
            module: Some(module),
            fctx: FunctionBuilderContext::new(),
            helpers,
            hot: hot.clamp(1, NEVER - 1),
            table: Vec::new(),
            blocks: Vec::new(),
            stats: JitStats::default(),
        })
    }

    /// The state of the block entry at decode-cache slot `index`, counting the visit.
    #[inline(always)]
    pub fn entry(&mut self, index: usize) -> Entry {
        if index >= self.table.len() {
            self.table.resize(index + 1, 0);
        }
        let e = &mut self.table[index];
        if *e & COMPILED != 0 {
            return Entry::Compiled(self.blocks[(*e & !COMPILED) as usize]);
        }
        if *e == NEVER {
            return Entry::Cold;
        }
        *e += 1;
        if *e >= self.hot {
            *e = 0;
            Entry::Hot
        } else {
            Entry::Cold
        }
    }

    /// The block compiled for `index`, if any (without counting a visit).
    #[inline(always)]
    pub fn compiled(&self, index: usize) -> Option<Block> {
        let e = *self.table.get(index)?;
        (e & COMPILED != 0).then(|| self.blocks[(e & !COMPILED) as usize])
    }

    /// Forget the block at `index` (its code changed); it is counted afresh.
    pub fn forget(&mut self, index: usize) {
        if let Some(e) = self.table.get_mut(index) {
            *e = 0;
        }
    }

    /// Compile `insns` as the block entered at `index`. A failure leaves the entry to the
    /// interpreter (it is counted again from zero).
    pub fn compile(&mut self, index: usize, insns: &[Insn], version: u64) {
        if insns.len() < MIN_BLOCK {
            // Kept until the next restart, even if the code there changes: a missed
            // block costs speed only.
            if let Some(e) = self.table.get_mut(index) {
                *e = NEVER;
            }
            return;
        }
        if self.blocks.len() >= MAX_BLOCKS {
            self.restart();
        }
        let start = Instant::now();
        let code = self.translate(insns);
        self.stats.compile_time += start.elapsed();
        let Some(code) = code else {
            self.stats.failures += 1;
            return;
        };
        self.stats.blocks += 1;
        self.stats.instructions += insns.len() as u64;
        if self.table.len() <= index {
            self.table.resize(index + 1, 0);
        }
        self.table[index] = COMPILED | self.blocks.len() as u32;
        self.blocks.push(Block {
            code,
            len: insns.len() as u64,
            version,
        });
    }

    /// Throw all compiled code away.
    fn restart(&mut self) {
        self.stats.restarts += 1;
        self.table.fill(0);
        self.blocks.clear();
        if let Some(m) = self.module.take() {
            // SAFETY: no generated code is running (we are compiling, outside any block)
            // and every pointer to it was in `blocks`, just cleared.
            unsafe { m.free_memory() };
        }
        self.module = new_module();
    }

    fn translate(&mut self, insns: &[Insn]) -> Option<BlockFn> {
        let module = self.module.as_mut()?;
        let ptr = module.target_config().pointer_type();
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(types::I64));
        let id = module
            .declare_anonymous_function(&sig)
            .map_err(|e| eprintln!("emu: jit: {e}"))
            .ok()?;
        self.ctx.func.signature = sig;
        let frontend = module.target_config();
        let mut load_sig = Signature::new(module.target_config().default_call_conv);
        for _ in 0..3 {
            load_sig.params.push(AbiParam::new(types::I64));
        }
        load_sig.returns.push(AbiParam::new(types::I64));
        let mut store_sig = load_sig.clone();
        store_sig.params.push(AbiParam::new(types::I64));
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let load_sig = b.import_signature(load_sig);
            let store_sig = b.import_signature(store_sig);
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let mut t = Translator {
                b,
                x: params[0],
                env: params[1],
                pc0: params[2],
                regs: [None; 32],
                dirty: 0,
                helpers: self.helpers,
                load_sig,
                store_sig,
            };
            t.block(insns);
            t.b.seal_all_blocks();
            t.b.finalize(frontend);
        }
        let defined = module.define_function(id, &mut self.ctx);
        module.clear_context(&mut self.ctx);
        if let Err(e) = defined {
            eprintln!("emu: jit: {e}");
            return None;
        }
        module.finalize_definitions().ok()?;
        let code = module.get_finalized_function(id);
        // SAFETY: `code` is the function just defined with the `BlockFn` signature
        // (pointer, pointer, i64) -> i64 in the host's default calling convention, which
        // is what `extern "C"` is on the hosts Cranelift supports.
        Some(unsafe { std::mem::transmute::<*const u8, BlockFn>(code) })
    }
}

struct Translator<'a> {
    b: FunctionBuilder<'a>,
    x: Value,
    env: Value,
    pc0: Value,
    /// Current value of each guest register, once read or written in the block.
    regs: [Option<Value>; 32],
    /// Registers written in the block (to store back at every exit).
    dirty: u32,
    helpers: Helpers,
    load_sig: cranelift_codegen::ir::SigRef,
    store_sig: cranelift_codegen::ir::SigRef,
}

const I64: types::Type = types::I64;
/// Register-file and environment accesses: aligned, never trapping.
const TRUSTED: MemFlagsData = MemFlagsData::trusted();
/// Guest RAM accesses (only after the data-page cache said the bytes are RAM): never
/// trapping, maybe unaligned, little-endian whatever the host.
const GUEST: MemFlagsData = MemFlagsData::new()
    .with_notrap()
    .with_endianness(Endianness::Little);
const I32: types::Type = types::I32;

impl Translator<'_> {
    fn get(&mut self, r: u8) -> Value {
        let r = (r & 31) as usize;
        if r == 0 {
            return self.b.ins().iconst(I64, 0);
        }
        if let Some(v) = self.regs[r] {
            return v;
        }
        let v = self.b.ins().load(I64, TRUSTED, self.x, (r * 8) as i32);
        self.regs[r] = Some(v);
        v
    }

    fn set(&mut self, r: u8, v: Value) {
        let r = (r & 31) as usize;
        if r != 0 {
            self.regs[r] = Some(v);
            self.dirty |= 1 << r;
        }
    }

    fn pc_at(&mut self, offset: u64) -> Value {
        self.b.ins().iadd_imm_s(self.pc0, offset as i64)
    }

    /// Store the written registers and the resume pc, and return `result`.
    fn exit(&mut self, pc: Value, result: Value) {
        for r in 1..32 {
            if self.dirty & (1 << r) != 0 {
                if let Some(v) = self.regs[r] {
                    self.b.ins().store(TRUSTED, v, self.x, (r * 8) as i32);
                }
            }
        }
        self.b
            .ins()
            .store(TRUSTED, pc, self.env, self.helpers.pc_offset);
        self.b.ins().return_(&[result]);
    }

    /// Continue when `status` is MEM_DONE; otherwise leave through a cold block: before
    /// instruction `retired` (MEM_NOT_DONE) or after it (MEM_DONE_CODE_CHANGED).
    fn side_exit(&mut self, status: Value, retired: u64, offset: u64, len: u64) {
        let out = self.b.create_block();
        let on = self.b.create_block();
        self.b.set_cold_block(out);
        self.b.ins().brif(status, out, &[], on, &[]);
        self.b.switch_to_block(out);
        let after = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, status, MEM_DONE_CODE_CHANGED as i64);
        let here = self.pc_at(offset);
        let next = self.pc_at(offset + len);
        let pc = self.b.ins().select(after, next, here);
        let done = self.b.ins().iconst(I64, (retired + 1) as i64);
        let before = self.b.ins().iconst(I64, (retired | EXIT_BEFORE) as i64);
        let result = self.b.ins().select(after, done, before);
        self.exit(pc, result);
        self.b.switch_to_block(on);
    }

    /// The data-page cache lookup for `[va, va + size)` in the table at `table_offset`:
    /// (hit, host address of the bytes on a hit).
    fn lookup(&mut self, table_offset: i32, va: Value, size: i64) -> (Value, Value) {
        let h = self.helpers;
        let vpn = self.b.ins().ushr_imm_u(va, 12);
        let slot = self.b.ins().band_imm_s(vpn, (h.table_slots - 1) as i64);
        let byte = self.b.ins().ishl_imm_u(slot, 4);
        let table = self.b.ins().load(I64, TRUSTED, self.env, table_offset);
        let entry = self.b.ins().iadd(table, byte);
        let tag = self.b.ins().load(I64, TRUSTED, entry, 0);
        let addend = self.b.ins().load(I64, TRUSTED, entry, 8);
        let same = self.b.ins().icmp(IntCC::Equal, tag, vpn);
        let in_page = self.b.ins().band_imm_s(va, 0xfff);
        let fits = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, in_page, 0x1000 - size);
        let hit = self.b.ins().band(same, fits);
        let off = self.b.ins().iadd(va, addend);
        let ram = self.b.ins().load(I64, TRUSTED, self.env, h.ram_offset);
        let host = self.b.ins().iadd(ram, off);
        (hit, host)
    }

    /// A guest load of `size` bytes at `va`, zero-extended, or a side exit.
    fn load_guest(&mut self, va: Value, size: i64, retired: u64, offset: u64, len: u64) -> Value {
        let (hit, host) = self.lookup(self.helpers.load_table_offset, va, size);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.append_block_param(join, I64);
        self.b.set_cold_block(slow);
        self.b.ins().brif(hit, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        let v = match size {
            1 => self.b.ins().uload8(I64, GUEST, host, 0),
            2 => self.b.ins().uload16(I64, GUEST, host, 0),
            4 => self.b.ins().uload32(GUEST, host, 0),
            _ => self.b.ins().load(I64, GUEST, host, 0),
        };
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(slow);
        let size_v = self.b.ins().iconst(I64, size);
        let f = self.b.ins().iconst(I64, self.helpers.load as i64);
        let call = self
            .b
            .ins()
            .call_indirect(self.load_sig, f, &[self.env, va, size_v]);
        let status = self.b.inst_results(call)[0];
        self.side_exit(status, retired, offset, len);
        let v = self
            .b
            .ins()
            .load(I64, TRUSTED, self.env, self.helpers.value_offset);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(join);
        self.b.block_params(join)[0]
    }

    /// A guest store, or a side exit (before it, or after it when it overwrote code).
    fn store_guest(
        &mut self,
        va: Value,
        value: Value,
        size: i64,
        retired: u64,
        offset: u64,
        len: u64,
    ) {
        let h = self.helpers;
        let (hit, host) = self.lookup(h.store_table_offset, va, size);
        let check: IrBlock = self.b.create_block();
        let check_page = self.b.create_block();
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(hit, check, &[], slow, &[]);
        // A page with decoded code: the helper stores and invalidates.
        self.b.switch_to_block(check);
        let ram = self.b.ins().load(I64, TRUSTED, self.env, h.ram_offset);
        let off = self.b.ins().isub(host, ram);
        let page = self.b.ins().ushr_imm_u(off, 12);
        let pages = self
            .b
            .ins()
            .load(I64, TRUSTED, self.env, h.page_map_len_offset);
        let in_map = self.b.ins().icmp(IntCC::UnsignedLessThan, page, pages);
        self.b.ins().brif(in_map, check_page, &[], slow, &[]);
        self.b.switch_to_block(check_page);
        let map = self.b.ins().load(I64, TRUSTED, self.env, h.page_map_offset);
        let at = self.b.ins().ishl_imm_u(page, 2);
        let at = self.b.ins().iadd(map, at);
        let decoded = self.b.ins().load(I32, TRUSTED, at, 0);
        let no_code = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, decoded, u32::MAX as i64);
        self.b.ins().brif(no_code, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        match size {
            1 => self.b.ins().istore8(GUEST, value, host, 0),
            2 => self.b.ins().istore16(GUEST, value, host, 0),
            4 => self.b.ins().istore32(GUEST, value, host, 0),
            _ => self.b.ins().store(GUEST, value, host, 0),
        };
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(slow);
        let size_v = self.b.ins().iconst(I64, size);
        let f = self.b.ins().iconst(I64, h.store as i64);
        let call = self
            .b
            .ins()
            .call_indirect(self.store_sig, f, &[self.env, va, size_v, value]);
        let status = self.b.inst_results(call)[0];
        self.side_exit(status, retired, offset, len);
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(join);
    }

    fn sext32(&mut self, v: Value) -> Value {
        let w = self.b.ins().ireduce(I32, v);
        self.b.ins().sextend(I64, w)
    }

    fn bool64(&mut self, cc: IntCC, a: Value, b: Value) -> Value {
        let c = self.b.ins().icmp(cc, a, b);
        self.b.ins().uextend(I64, c)
    }

    /// `v` as a constant of type `ty` (i32 constants are given zero-extended).
    fn constant(&mut self, ty: types::Type, v: i64) -> Value {
        let v = if ty == I32 { v as u32 as i64 } else { v };
        self.b.ins().iconst(ty, v)
    }

    /// `a / b` or `a % b` with RISC-V's results for a zero divisor and for overflow.
    fn divide(&mut self, k: K, a: Value, b: Value, ty: types::Type) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.b.ins().iconst(ty, 1);
        // A zero divisor is replaced by 1 so the host never faults; the result is then
        // chosen below. Signed overflow (MIN / -1) gives MIN and remainder 0, which
        // is what the host computes for MIN / 1 after replacing -1 by 1.
        let mut safe = self.b.ins().select(zero, one, b);
        if matches!(k, K::Div | K::Rem | K::Divw | K::Remw) {
            let min = self.constant(ty, i64::MIN >> (64 - ty.bits()));
            let minus_one = self.constant(ty, -1);
            let a_min = self.b.ins().icmp(IntCC::Equal, a, min);
            let b_m1 = self.b.ins().icmp(IntCC::Equal, b, minus_one);
            let ovf = self.b.ins().band(a_min, b_m1);
            safe = self.b.ins().select(ovf, one, safe);
        }
        match k {
            K::Div | K::Divw | K::Divu | K::Divuw => {
                let q = if matches!(k, K::Div | K::Divw) {
                    self.b.ins().sdiv(a, safe)
                } else {
                    self.b.ins().udiv(a, safe)
                };
                let all = self.constant(ty, -1);
                self.b.ins().select(zero, all, q)
            }
            _ => {
                let r = if matches!(k, K::Rem | K::Remw) {
                    self.b.ins().srem(a, safe)
                } else {
                    self.b.ins().urem(a, safe)
                };
                self.b.ins().select(zero, a, r)
            }
        }
    }

    fn block(&mut self, insns: &[Insn]) {
        let mut offset = 0u64;
        for (i, op) in insns.iter().enumerate() {
            let len = op.len as u64;
            let imm = op.imm as i64;
            let i = i as u64;
            let (rd, rs1, rs2) = (op.rd, op.rs1, op.rs2);
            macro_rules! alu {
                (|$t:ident, $a:ident, $b:ident| $e:expr) => {{
                    let $a = self.get(rs1);
                    let $b = self.get(rs2);
                    let $t = &mut *self;
                    let v = $e;
                    self.set(rd, v);
                }};
            }
            macro_rules! alu_imm {
                (|$t:ident, $a:ident| $e:expr) => {{
                    let $a = self.get(rs1);
                    let $t = &mut *self;
                    let v = $e;
                    self.set(rd, v);
                }};
            }
            match op.k {
                K::Lui => {
                    let v = self.b.ins().iconst(I64, imm);
                    self.set(rd, v)
                }
                K::Auipc => {
                    let v = self.pc_at(offset.wrapping_add(imm as u64));
                    self.set(rd, v)
                }
                K::Jal => {
                    let link = self.pc_at(offset + len);
                    let target = self.pc_at(offset.wrapping_add(imm as u64));
                    self.set(rd, link);
                    let n = self.b.ins().iconst(I64, (i + 1) as i64);
                    self.exit(target, n);
                    return;
                }
                K::Jalr => {
                    let a = self.get(rs1);
                    let t = self.b.ins().iadd_imm_s(a, imm);
                    let target = self.b.ins().band_imm_s(t, !1);
                    let link = self.pc_at(offset + len);
                    self.set(rd, link);
                    let n = self.b.ins().iconst(I64, (i + 1) as i64);
                    self.exit(target, n);
                    return;
                }
                K::Beq | K::Bne | K::Blt | K::Bge | K::Bltu | K::Bgeu => {
                    let cc = match op.k {
                        K::Beq => IntCC::Equal,
                        K::Bne => IntCC::NotEqual,
                        K::Blt => IntCC::SignedLessThan,
                        K::Bge => IntCC::SignedGreaterThanOrEqual,
                        K::Bltu => IntCC::UnsignedLessThan,
                        _ => IntCC::UnsignedGreaterThanOrEqual,
                    };
                    let a = self.get(rs1);
                    let b = self.get(rs2);
                    let taken = self.b.ins().icmp(cc, a, b);
                    // Taken: leave the block; not taken: carry on in it.
                    let out = self.b.create_block();
                    let on = self.b.create_block();
                    self.b.ins().brif(taken, out, &[], on, &[]);
                    self.b.switch_to_block(out);
                    let target = self.pc_at(offset.wrapping_add(imm as u64));
                    let n = self.b.ins().iconst(I64, (i + 1) as i64);
                    self.exit(target, n);
                    self.b.switch_to_block(on);
                }
                K::Lb | K::Lh | K::Lw | K::Ld | K::Lbu | K::Lhu | K::Lwu => {
                    let size = match op.k {
                        K::Lb | K::Lbu => 1,
                        K::Lh | K::Lhu => 2,
                        K::Lw | K::Lwu => 4,
                        _ => 8,
                    };
                    let a = self.get(rs1);
                    let va = self.b.ins().iadd_imm_s(a, imm);
                    let raw = self.load_guest(va, size, i, offset, len);
                    let v = match op.k {
                        K::Lb => {
                            let n = self.b.ins().ireduce(types::I8, raw);
                            self.b.ins().sextend(I64, n)
                        }
                        K::Lh => {
                            let n = self.b.ins().ireduce(types::I16, raw);
                            self.b.ins().sextend(I64, n)
                        }
                        K::Lw => self.sext32(raw),
                        _ => raw,
                    };
                    self.set(rd, v);
                }
                K::Sb | K::Sh | K::Sw | K::Sd => {
                    let size = match op.k {
                        K::Sb => 1,
                        K::Sh => 2,
                        K::Sw => 4,
                        _ => 8,
                    };
                    let a = self.get(rs1);
                    let value = self.get(rs2);
                    let va = self.b.ins().iadd_imm_s(a, imm);
                    self.store_guest(va, value, size, i, offset, len);
                }
                K::Addi => alu_imm!(|t, a| t.b.ins().iadd_imm_s(a, imm)),
                K::Slti => alu_imm!(|t, a| {
                    let c = t.b.ins().icmp_imm_s(IntCC::SignedLessThan, a, imm);
                    t.b.ins().uextend(I64, c)
                }),
                K::Sltiu => alu_imm!(|t, a| {
                    let c = t.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, a, imm);
                    t.b.ins().uextend(I64, c)
                }),
                K::Xori => alu_imm!(|t, a| t.b.ins().bxor_imm_s(a, imm)),
                K::Ori => alu_imm!(|t, a| t.b.ins().bor_imm_s(a, imm)),
                K::Andi => alu_imm!(|t, a| t.b.ins().band_imm_s(a, imm)),
                K::Slli => alu_imm!(|t, a| t.b.ins().ishl_imm_u(a, imm & 63)),
                K::Srli => alu_imm!(|t, a| t.b.ins().ushr_imm_u(a, imm & 63)),
                K::Srai => alu_imm!(|t, a| t.b.ins().sshr_imm_u(a, imm & 63)),
                K::Add => alu!(|t, a, b| t.b.ins().iadd(a, b)),
                K::Sub => alu!(|t, a, b| t.b.ins().isub(a, b)),
                // Cranelift's shifts take the amount modulo the width, as RISC-V does.
                K::Sll => alu!(|t, a, b| t.b.ins().ishl(a, b)),
                K::Slt => alu!(|t, a, b| t.bool64(IntCC::SignedLessThan, a, b)),
                K::Sltu => alu!(|t, a, b| t.bool64(IntCC::UnsignedLessThan, a, b)),
                K::Xor => alu!(|t, a, b| t.b.ins().bxor(a, b)),
                K::Srl => alu!(|t, a, b| t.b.ins().ushr(a, b)),
                K::Sra => alu!(|t, a, b| t.b.ins().sshr(a, b)),
                K::Or => alu!(|t, a, b| t.b.ins().bor(a, b)),
                K::And => alu!(|t, a, b| t.b.ins().band(a, b)),
                K::Addiw => alu_imm!(|t, a| {
                    let s = t.b.ins().iadd_imm_s(a, imm);
                    t.sext32(s)
                }),
                K::Slliw | K::Srliw | K::Sraiw => alu_imm!(|t, a| {
                    let w = t.b.ins().ireduce(I32, a);
                    let sh = imm & 31;
                    let r = match op.k {
                        K::Slliw => t.b.ins().ishl_imm_u(w, sh),
                        K::Srliw => t.b.ins().ushr_imm_u(w, sh),
                        _ => t.b.ins().sshr_imm_u(w, sh),
                    };
                    t.b.ins().sextend(I64, r)
                }),
                K::Addw => alu!(|t, a, b| {
                    let s = t.b.ins().iadd(a, b);
                    t.sext32(s)
                }),
                K::Subw => alu!(|t, a, b| {
                    let s = t.b.ins().isub(a, b);
                    t.sext32(s)
                }),
                K::Sllw | K::Srlw | K::Sraw => alu!(|t, a, b| {
                    let w = t.b.ins().ireduce(I32, a);
                    let sh = t.b.ins().ireduce(I32, b);
                    let r = match op.k {
                        K::Sllw => t.b.ins().ishl(w, sh),
                        K::Srlw => t.b.ins().ushr(w, sh),
                        _ => t.b.ins().sshr(w, sh),
                    };
                    t.b.ins().sextend(I64, r)
                }),
                K::Mul => alu!(|t, a, b| t.b.ins().imul(a, b)),
                K::Mulh => alu!(|t, a, b| t.b.ins().smulhi(a, b)),
                K::Mulhu => alu!(|t, a, b| t.b.ins().umulhi(a, b)),
                K::Mulhsu => alu!(|t, a, b| {
                    // high(a signed * b unsigned) = high(a * b unsigned) - (a < 0 ? b : 0)
                    let hi = t.b.ins().umulhi(a, b);
                    let sign = t.b.ins().sshr_imm_u(a, 63);
                    let fix = t.b.ins().band(sign, b);
                    t.b.ins().isub(hi, fix)
                }),
                K::Mulw => alu!(|t, a, b| {
                    let p = t.b.ins().imul(a, b);
                    t.sext32(p)
                }),
                K::Div | K::Divu | K::Rem | K::Remu => {
                    alu!(|t, a, b| t.divide(op.k, a, b, I64))
                }
                K::Divw | K::Divuw | K::Remw | K::Remuw => alu!(|t, a, b| {
                    let a = t.b.ins().ireduce(I32, a);
                    let b = t.b.ins().ireduce(I32, b);
                    let r = t.divide(op.k, a, b, I32);
                    t.b.ins().sextend(I64, r)
                }),
                // Fence: harts run in turns, so memory is always ordered.
                _ => {}
            }
            offset += len;
        }
        // Ran to the block's limit or up to something not compiled.
        let pc = self.pc_at(offset);
        let n = self.b.ins().iconst(I64, insns.len() as i64);
        self.exit(pc, n);
    }
}

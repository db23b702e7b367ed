//! `--jit`, the hart's side: finding, compiling and running blocks from the
//! straight-through loop (`run_loop.rs`).
//!
//! Generated code touches RAM only through a data-page cache hit (the same tables
//! `load_fast`/`store_fast` use). Anything else leaves the block before the instruction
//! without a side effect, and the run loop executes it with its reference step, exactly as
//! the interpreter would have: through `Hart::load`/`store` and the same trap, MMIO and
//! yield handling. Before that, a pending load or store gets its page put in the
//! data-page cache when the MMU's fast path holds it (what `load_fast` does after a miss;
//! the page passed every check the full path makes, so filling early changes nothing a
//! guest can see), so the block hits next time.

use crate::bus::Bus;
use crate::cpu::decode::{decode, DataAccess, OpKind};
use crate::cpu::decode_cache::DecodeCache;
use crate::cpu::Hart;
use crate::jit::{Block, Entry, EnvLayout, Insn, Jit, EXIT_BEFORE, MAX_BLOCK};
use crate::mmu::page_caches::{DtlbEntry, DTLB_SLOTS};
use crate::mmu::AccessType;

/// What generated code reads and writes besides the registers.
#[repr(C)]
struct Env {
    /// Where to resume after the block (written by generated code).
    pc: u64,
    /// The link cell a chainable exit names (number + 1), or 0 (written by generated code).
    link: u64,
    /// Read by generated code for its inline data-page cache lookup and RAM access.
    load_table: *const DtlbEntry,
    store_table: *const DtlbEntry,
    ram: *mut u8,
    page_map: *const u32,
    page_map_len: u64,
    /// The jump cache and the epoch the run is in (read by generated code).
    jump_cache: *const u8,
    jump_epoch: u64,
    /// The decode-cache slot of the instruction an exit left pending (written by
    /// generated code).
    pending_slot: u64,
}

/// How a block run ended, for the run loop.
pub(in crate::cpu) struct BlockExit {
    /// Instructions retired by the block.
    pub retired: u64,
    /// Where to carry on.
    pub pc: u64,
    /// `Some(slot)`: the instruction at `pc` (decode-cache slot) was not executed and
    /// must run in the interpreter next.
    pub pending: Option<usize>,
}

impl Hart {
    /// Turn the JIT on (`--jit`), compiling a block once it was entered `hot` times; a
    /// no-op with `--no-fast-path` or when Cranelift does not support the host.
    pub fn enable_jit(&mut self, hot: u32) {
        if !self.fast_path {
            return;
        }
        self.jit = Jit::new(
            EnvLayout {
                pc_offset: std::mem::offset_of!(Env, pc) as i32,
                link_offset: std::mem::offset_of!(Env, link) as i32,
                load_table_offset: std::mem::offset_of!(Env, load_table) as i32,
                store_table_offset: std::mem::offset_of!(Env, store_table) as i32,
                ram_offset: std::mem::offset_of!(Env, ram) as i32,
                page_map_offset: std::mem::offset_of!(Env, page_map) as i32,
                page_map_len_offset: std::mem::offset_of!(Env, page_map_len) as i32,
                jump_cache_offset: std::mem::offset_of!(Env, jump_cache) as i32,
                jump_epoch_offset: std::mem::offset_of!(Env, jump_epoch) as i32,
                pending_slot_offset: std::mem::offset_of!(Env, pending_slot) as i32,
                table_slots: DTLB_SLOTS as u64,
                across_pages: true,
            },
            hot,
        )
        .map(Box::new);
    }

    /// What compiling cost so far (None without `--jit`).
    pub fn jit_stats(&self) -> Option<crate::jit::JitStats> {
        self.jit.as_ref().map(|j| crate::jit::JitStats {
            pages_given_up: self.decoded.pages_given_up(),
            ..j.stats
        })
    }

    /// At a block entry (decode-cache slot `index`, not the scratch slot, with the page
    /// in the fetch-page cache): run its compiled block if there is a current one and
    /// `left` covers all of it, then straight on into the next compiled block while there
    /// is one; otherwise count the visit and compile when hot. None when nothing ran.
    #[inline(always)]
    pub(in crate::cpu) fn run_block(
        &mut self,
        index: usize,
        pc: u64,
        left: u64,
        bus: &mut Bus,
    ) -> Option<BlockExit> {
        let jit = self.jit.as_deref_mut()?;
        let block = match jit.entry(index) {
            Entry::Compiled(b) => b,
            Entry::Cold => return None,
            Entry::Hot => {
                // Run it at once if it was compiled here (a low `--jit-hot`): code
                // that runs only once (as in the conformance programs) still goes
                // through the compiler. Sent to the compile thread, it is not ready yet.
                self.compile_block(index, pc & 0xfff, bus);
                self.jit.as_deref()?.compiled(index)?
            }
        };
        let jit = self.jit.as_deref_mut()?;
        if block.version != self.decoded.version(index) {
            jit.forget(index);
            return None;
        }
        if left < block.len {
            return None;
        }
        // The loop found this block through the fetch path: a jump here that missed the
        // jump cache (its page was not in the fetch-page cache) finds it next time.
        let epoch = jit.jump_epoch(
            self.mmu.generation(),
            self.decoded.changes(),
            self.privilege,
        );
        jit.remember_jump(pc, epoch, &block);
        Some(self.run_blocks(block, pc, left, bus))
    }

    /// Run `block` (entered at pc `pc`) and the compiled blocks that follow it.
    /// Generated code goes from block to block through filled link cells and the jump
    /// cache; when it returns, this is what the run loop would do: find the next pc's
    /// slot through the fetch-page cache (no interrupt check happens in between, only the
    /// budget's, as the loop would), and link the exit it left by to that block: its
    /// cell when it named one, else the jump cache.
    fn run_blocks(
        &mut self,
        mut block: Block,
        mut pc: u64,
        mut left: u64,
        bus: &mut Bus,
    ) -> BlockExit {
        let page_map = self.decoded.page_map();
        let (page_map, page_map_len) = (page_map.as_ptr(), page_map.len() as u64);
        let (generation, changes) = (self.mmu.generation(), self.decoded.changes());
        let privilege = self.privilege;
        let Some(jit) = self.jit.as_deref_mut() else {
            return BlockExit {
                retired: 0,
                pc,
                pending: None,
            };
        };
        let jump_epoch = jit.jump_epoch(generation, changes, privilege);
        let mut env = Env {
            pc: 0,
            link: 0,
            load_table: self.dtlb.load.as_ptr(),
            store_table: self.dtlb.store.as_ptr(),
            ram: bus.ram.as_mut_slice().as_mut_ptr(),
            page_map,
            page_map_len,
            jump_cache: jit.jump_cache(),
            jump_epoch,
            pending_slot: 0,
        };
        let mut retired = 0;
        loop {
            let budget = left.min(u32::MAX as u64);
            // SAFETY: `block` is current (its version was checked) and was compiled for
            // pc's page; `x` points to the 32 registers, which generated code reads and
            // writes only at offsets 8..256; `env` outlives the call and holds what the
            // inline RAM path reads: tables, RAM, the page map and the jump cache, none
            // of which is resized or otherwise used while a block runs.
            let result = unsafe {
                jit.run(
                    &block,
                    self.x.as_mut_ptr(),
                    &mut env as *mut Env as *mut u8,
                    pc,
                    budget,
                )
            };
            let n = budget - (result & 0xffff_ffff);
            retired += n;
            left -= n;
            if result & EXIT_BEFORE != 0 {
                let pending = env.pending_slot as usize;
                self.instret += retired;
                self.prefill_data_page(pending, bus);
                return BlockExit {
                    retired,
                    pc: env.pc,
                    pending: Some(pending),
                };
            }
            pc = env.pc;
            let next = self.fetch_pages.lookup(pc >> 12).and_then(|(base, _)| {
                let i = DecodeCache::index(base, (pc >> 1) as usize);
                let b = jit.compiled(i)?;
                (b.version == self.decoded.version(i) && left >= b.len).then_some(b)
            });
            match next {
                Some(b) => {
                    if env.link != 0 {
                        jit.link(env.link, &b);
                    } else {
                        jit.remember_jump(pc, jump_epoch, &b);
                    }
                    block = b;
                }
                None => break,
            }
        }
        self.instret += retired;
        BlockExit {
            retired,
            pc,
            pending: None,
        }
    }

    /// Before the interpreter runs the load or store a block left pending (see the module
    /// comment): cache its page when the MMU's fast path holds it.
    #[cold]
    fn prefill_data_page(&mut self, index: usize, bus: &Bus) {
        let op = self.decoded.slot(index);
        let (access, offset) = match op.k.data_access() {
            Some((DataAccess::Load, _)) => (AccessType::Load, op.imm as i64 as u64),
            Some((DataAccess::Store, _)) => (AccessType::Store, op.imm as i64 as u64),
            // An AMO (its imm field names the operation).
            Some((DataAccess::StoreAtRs1, _)) => (AccessType::Store, 0),
            _ => return,
        };
        let va = self.x[op.rs1 as usize & 31].wrapping_add(offset);
        self.remember_data_page(bus, va, access);
    }

    #[cold]
    fn compile_block(&mut self, index: usize, page_offset: u64, bus: &Bus) {
        // A released page (see `DecodeCache::release`) may still be run to its end by
        // the loop: nothing is compiled from it, since stores no longer reach it.
        if !self.decoded.is_current(index) {
            return;
        }
        if self.decoded.compiling_given_up(index) {
            if let Some(jit) = self.jit.as_deref_mut() {
                jit.give_up(index);
            }
            return;
        }
        let mut insns = Vec::with_capacity(MAX_BLOCK);
        let mut at = index;
        while insns.len() < MAX_BLOCK {
            if self.decoded.slot(at).k == OpKind::Empty {
                self.decode_ahead(at, bus);
            }
            let s = self.decoded.slot(at);
            if !s.k.jit_compiles() {
                break;
            }
            insns.push(Insn {
                k: s.k,
                rd: s.rd() as u8,
                rs1: s.rs1,
                rs2: s.rs2,
                imm: s.imm,
                len: s.len() as u8,
            });
            if s.k.ends_jit_block() {
                break;
            }
            at += (s.len() >> 1) as usize;
        }
        let version = self.decoded.version(index);
        if let Some(jit) = self.jit.as_deref_mut() {
            if jit.compile(index, page_offset, &insns, version) {
                self.decoded.note_compiled(index);
            }
        }
    }

    /// Install the blocks the compile thread finished (once per run quantum, outside any
    /// block); those whose page's code changed while they compiled are dropped.
    #[inline(always)]
    pub(in crate::cpu) fn install_compiled_blocks(&mut self) {
        if let Some(jit) = self.jit.as_deref_mut() {
            let decoded = &self.decoded;
            jit.install_ready(|index| decoded.version(index));
        }
    }

    /// Decode the not yet decoded slot `at` from RAM, as a fetch there would, so a block
    /// can extend past code not run yet. Only the decode cache changes (it is kept
    /// coherent with stores like any decoded slot); a page-crossing instruction is left
    /// for the fetch path.
    fn decode_ahead(&mut self, at: usize, bus: &Bus) {
        let (off, last) = self.decoded.ram_offset_of(at);
        let ram = bus.ram.as_slice();
        let Some(lo) = ram.get(off..off + 2) else {
            return;
        };
        let lo = u16::from_le_bytes([lo[0], lo[1]]) as u32;
        let word = if lo & 3 != 3 {
            lo
        } else if last {
            return;
        } else {
            match ram.get(off + 2..off + 4) {
                Some(hi) => lo | (u16::from_le_bytes([hi[0], hi[1]]) as u32) << 16,
                None => return,
            }
        };
        self.decoded.set(at, decode(word));
    }
}

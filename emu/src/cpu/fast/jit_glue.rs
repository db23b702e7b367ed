//! `--jit`, the hart's side: finding, compiling and running blocks from
//! [`Hart::run_fast`], and the load/store helpers generated code calls.
//!
//! The helpers do what `load_fast`/`store_fast` do on a data-page cache hit and nothing
//! else: on a miss they may fill the cache from the MMU's fast path (a page that passed
//! every check the full path makes, so filling early changes nothing a guest can see),
//! and if that does not give the page either (not cached by the MMU, a device, a fault, a
//! page-crossing access) they return [`MEM_NOT_DONE`] without any side effect. The block
//! then exits before that instruction and the run loop executes it with
//! `step_reference`, exactly as the interpreter would have: through `Hart::load`/`store`
//! and the same trap, MMIO and yield handling.

use super::{DataTlb, DtlbEntry, DTLB_SLOTS};
use crate::bus::Bus;
use crate::cpu::decode::{decode, K};
use crate::cpu::icache::DecodeCache;
use crate::cpu::{read_le, write_le, Hart};
use crate::jit::{
    compiles, ends_block, Block, Entry, Helpers, Insn, Jit, EXIT_BEFORE, MAX_BLOCK, MEM_DONE,
    MEM_DONE_CODE_CHANGED, MEM_NOT_DONE,
};
use crate::mmu::{AccessType, Mmu, TranslateCtx};

/// What a block's helpers may touch: fields of the hart other than `x` (which generated
/// code owns for the block's duration) and the bus.
#[repr(C)]
struct Env {
    dtlb: *mut DataTlb,
    icache: *mut DecodeCache,
    mmu: *const Mmu,
    data_ctx: *const TranslateCtx,
    bus: *mut Bus,
    /// A load helper's result.
    value: u64,
    /// Where to resume after the block (written by generated code).
    pc: u64,
    /// Read by generated code for its inline data-page cache lookup and RAM access.
    load_table: *const DtlbEntry,
    store_table: *const DtlbEntry,
    ram: *mut u8,
    page_map: *const u32,
    page_map_len: u64,
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

/// The data-page cache entry for `va`'s page, when the MMU's fast path holds the page
/// under `ctx` and it is plain RAM (what `remember_data_page` caches after an access).
fn fill(
    table: &mut [DtlbEntry; DTLB_SLOTS],
    mmu: &Mmu,
    ctx: &TranslateCtx,
    bus: &Bus,
    va: u64,
    size: u64,
    access: AccessType,
) -> Option<usize> {
    let page = mmu.fast_page(va, access, ctx)?;
    let off = bus.ram_offset(page, 4096)?;
    let vpn = va >> 12;
    table[vpn as usize % DTLB_SLOTS] = DtlbEntry {
        vpn,
        addend: (off as u64).wrapping_sub(vpn << 12),
    };
    DataTlb::lookup(table, va, size)
}

extern "C" fn jit_load(env: *mut Env, va: u64, size: u64) -> u64 {
    // SAFETY: `env` is the `Env` on `run_block`'s stack, live for the whole block; its
    // pointers come from distinct fields of the hart (none of them `x`, the only hart
    // state generated code touches) and from the bus, and nothing else uses those while
    // the block runs, so these are the only references to them.
    let (env, dtlb, mmu, ctx, bus) = unsafe {
        let env = &mut *env;
        let parts = (&mut *env.dtlb, &*env.mmu, &*env.data_ctx, &*env.bus);
        (env, parts.0, parts.1, parts.2, parts.3)
    };
    let off = match DataTlb::lookup(&dtlb.load, va, size) {
        Some(off) => off,
        None => match fill(&mut dtlb.load, mmu, ctx, bus, va, size, AccessType::Load) {
            Some(off) => off,
            None => return MEM_NOT_DONE,
        },
    };
    env.value = read_le(bus.ram.as_slice(), off, size);
    MEM_DONE
}

extern "C" fn jit_store(env: *mut Env, va: u64, size: u64, value: u64) -> u64 {
    // SAFETY: as in `jit_load`; the bus is the only one borrowed mutably here.
    let (dtlb, icache, mmu, ctx, bus) = unsafe {
        let env = &mut *env;
        (
            &mut *env.dtlb,
            &mut *env.icache,
            &*env.mmu,
            &*env.data_ctx,
            &mut *env.bus,
        )
    };
    let off = match DataTlb::lookup(&dtlb.store, va, size) {
        Some(off) => off,
        None => match fill(&mut dtlb.store, mmu, ctx, bus, va, size, AccessType::Store) {
            Some(off) => off,
            None => return MEM_NOT_DONE,
        },
    };
    write_le(bus.ram.as_mut_slice(), off, size, value);
    if icache.invalidate(off, size as usize) {
        MEM_DONE_CODE_CHANGED
    } else {
        MEM_DONE
    }
}

impl Hart {
    /// Turn the JIT on (`--jit`), compiling a block once it was entered `hot` times; a
    /// no-op with `--no-fast-path` or when Cranelift does not support the host.
    pub fn enable_jit(&mut self, hot: u32) {
        if !self.fast_path {
            return;
        }
        self.jit = Jit::new(
            Helpers {
                load: jit_load as *const () as usize,
                store: jit_store as *const () as usize,
                value_offset: std::mem::offset_of!(Env, value) as i32,
                pc_offset: std::mem::offset_of!(Env, pc) as i32,
                load_table_offset: std::mem::offset_of!(Env, load_table) as i32,
                store_table_offset: std::mem::offset_of!(Env, store_table) as i32,
                ram_offset: std::mem::offset_of!(Env, ram) as i32,
                page_map_offset: std::mem::offset_of!(Env, page_map) as i32,
                page_map_len_offset: std::mem::offset_of!(Env, page_map_len) as i32,
                table_slots: DTLB_SLOTS as u64,
            },
            hot,
        )
        .map(Box::new);
    }

    /// What compiling cost so far (None without `--jit`).
    pub fn jit_stats(&self) -> Option<crate::jit::JitStats> {
        self.jit.as_ref().map(|j| j.stats)
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
                // Run it at once: with a low `--jit-hot` code that runs only once (as
                // in the conformance programs) still goes through the compiler.
                self.compile_block(index, bus);
                self.jit.as_deref()?.compiled(index)?
            }
        };
        let jit = self.jit.as_deref_mut()?;
        if block.version != self.icache.version(index) {
            jit.forget(index);
            return None;
        }
        if left < block.len {
            return None;
        }
        Some(self.run_blocks(block, index, pc, left, bus))
    }

    /// Run `block` (entered at slot `index`, pc `pc`) and the compiled blocks that follow
    /// it. Between blocks this is what the run loop would do: find the next pc's slot
    /// through the fetch-page cache (no interrupt or budget check happens in between
    /// except the budget, checked here as the loop would).
    fn run_blocks(
        &mut self,
        mut block: Block,
        mut index: usize,
        mut pc: u64,
        mut left: u64,
        bus: &mut Bus,
    ) -> BlockExit {
        let page_map = self.icache.page_map();
        let (page_map, page_map_len) = (page_map.as_ptr(), page_map.len() as u64);
        let mut env = Env {
            dtlb: &mut *self.dtlb,
            icache: &mut self.icache,
            mmu: &self.mmu,
            data_ctx: &self.data_ctx,
            value: 0,
            pc: 0,
            load_table: self.dtlb.load.as_ptr(),
            store_table: self.dtlb.store.as_ptr(),
            ram: bus.ram.as_mut_slice().as_mut_ptr(),
            page_map,
            page_map_len,
            bus,
        };
        let mut retired = 0;
        loop {
            // SAFETY: `block.code` was generated for exactly this signature; `x` points to
            // the 32 registers, which generated code reads and writes only at offsets
            // 8..256; `env` outlives the call and holds what the helpers use (see
            // `jit_load`) and what the inline RAM path reads: tables, RAM and the page
            // map, none of which is resized while a block runs.
            let result =
                unsafe { (block.code)(self.x.as_mut_ptr(), &mut env as *mut Env as *mut u8, pc) };
            let n = result & 0xffff_ffff;
            retired += n;
            left -= n;
            if result & EXIT_BEFORE != 0 {
                // The pending instruction is on the block's page, after its entry.
                let pending = index + (env.pc.wrapping_sub(pc) >> 1) as usize;
                self.instret += retired;
                return BlockExit {
                    retired,
                    pc: env.pc,
                    pending: Some(pending),
                };
            }
            pc = env.pc;
            let next = self.fetch_pages.lookup(pc >> 12).and_then(|(base, _)| {
                let i = DecodeCache::index(base, (pc >> 1) as usize);
                let b = self.jit.as_deref()?.compiled(i)?;
                (b.version == self.icache.version(i) && left >= b.len).then_some((b, i))
            });
            match next {
                Some((b, i)) => {
                    block = b;
                    index = i;
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

    #[cold]
    fn compile_block(&mut self, index: usize, bus: &Bus) {
        let mut insns = Vec::with_capacity(MAX_BLOCK);
        let mut at = index;
        while insns.len() < MAX_BLOCK {
            if self.icache.slot(at).k == K::Empty {
                self.decode_ahead(at, bus);
            }
            let s = self.icache.slot(at);
            if !compiles(s.k) {
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
            if ends_block(s.k) {
                break;
            }
            at += (s.len() >> 1) as usize;
        }
        let version = self.icache.version(index);
        if let Some(jit) = self.jit.as_deref_mut() {
            jit.compile(index, &insns, version);
        }
    }

    /// Decode the not yet decoded slot `at` from RAM, as a fetch there would, so a block
    /// can extend past code not run yet. Only the decode cache changes (it is kept
    /// coherent with stores like any decoded slot); a page-crossing instruction is left
    /// for the fetch path.
    fn decode_ahead(&mut self, at: usize, bus: &Bus) {
        let (off, last) = self.icache.ram_offset_of(at);
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
        self.icache.set(at, decode(word));
    }
}

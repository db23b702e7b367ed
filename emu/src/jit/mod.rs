//! The basic-block compiler for the straight-through loop (the default engine;
//! `--interp` turns it off), built on Cranelift, with a quick tier in front of it.
//!
//! Two tiers: a block entered [`QUICK_HOT`] times (`--jit-quick`) gets quick code
//! (`quick.rs`: x86-64 written straight from the decoded instructions in a few
//! microseconds, one pattern per op, every jump an exit through the jump cache), and once
//! entered [`HOT`] times in all (`--jit-hot`) Cranelift's code, which replaces it when
//! ready. Quick code runs the warm-up that the interpreter ran before; Cranelift's runs
//! the hot loops. Everything below is about Cranelift's blocks unless it says quick.
//!
//! A block is a run of decoded instructions in address order from one decode-cache slot
//! up to and including the first jump (a taken conditional branch leaves it on the way),
//! stopping before anything it does not compile
//! (system instructions, LR/SC, FP, undecoded slots, the page's end) and after at most
//! [`MAX_BLOCK`] instructions. Cranelift's blocks go on past a jump when a branch or jump
//! so far, that one included, leads further on (the other arm of an `if`/`else`, a
//! forward jump's target): that code is then reached by a jump inside the block (see
//! "Inside a block" below). The interpreter stays the
//! reference: a block computes what the straight-through loop of `cpu/run_loop.rs`
//! would, and hands every case it does not handle back to it by leaving the block before
//! that instruction (see `cpu/jit_glue.rs` for the run-time side: the entry hook, the
//! environment and exit handling).
//!
//! Generated code has the signature `fn(x: *mut u64, env: *mut Env, pc: u64, left: u64)
//! -> u64` in a calling convention without callee-saved registers (Rust enters it
//! through a small compiled trampoline, [`Jit::run`], which saves them once; see
//! [`block_signature`]): guest registers are loaded from `x` on first use
//! and stored back before the next instruction that can leave the block (an exit then
//! stores nothing but the pc); the block's entry pc is an argument because one physical
//! page may be mapped at several virtual addresses; `left` is the instruction budget
//! (below 2^32). The result is the budget left, with [`EXIT_BEFORE`] set when the
//! instruction at the resume pc still has to run in the interpreter; the pc to resume at
//! is left in the environment (at byte offset [`EnvLayout::pc_offset`]).
//!
//! Blocks are chained: a jump or branch to a target on the block's own page, or the
//! fall-through at its end, goes through a link cell. Empty, the block returns, naming
//! the cell (at [`EnvLayout::link_offset`]); the run loop finds the next block as usual and
//! fills the cell ([`Jit::link`]), and from then on the exit tail-calls the next block
//! directly while the budget covers a whole block. A same-page link needs no check at
//! run time: the page's translation cannot change inside a chain (nothing compiled
//! touches it), and every block on a page was compiled at the same decode-cache page
//! version (links are made only between current blocks, and generated code never stores
//! to a page holding decoded code: it leaves the block for the interpreter to do it).
//!
//! Inside a block: a branch or `jal` to an instruction of its own block (the back edge
//! of a loop whose body is one block, the common shape of a hot inner loop, or a branch
//! over a few instructions) jumps inside the function, with no call, prologue or cell:
//! forward always, back while the budget covers another block. The budget is carried to
//! the target as a value, and registers are read again from the register file after it
//! (they are stored before any jump, so it holds the current values).
//!
//! Across pages: an exit to another page, or a `jalr` (its target known only at run
//! time), looks its target pc up in the jump cache, a direct-mapped table of
//! `{pc, epoch, code}` entries ([`Jit::remember_jump`] fills it when such an exit
//! returned and the run loop found the next block). It tail-calls the entry's block
//! when the pc matches and the entry was made in the current jump epoch
//! ([`Jit::jump_epoch`]). The epoch moves with everything that can change which code a
//! virtual pc fetches: the MMU generation (sfence.vma, satp, PMP), any change of decoded
//! code (a page version moving, fence.i, the decode cache starting over) and the
//! privilege; so within one epoch, an entry names the block the fetch path would find,
//! at its current version. The run loop enters a chain only at a block whose version is
//! current.
//!
//! Self-modifying code: a change of a page's code (a store over a decoded instruction,
//! or bytes found changed after fence.i) bumps the page's version and so throws away
//! every block compiled from it; the decode cache counts, per decoded page, the changes
//! that invalidated compiled code (at most one per version, so a page's many blocks count
//! once). At [`MAX_CODE_CHANGES`] the page is given up: no block on it is compiled again
//! and the interpreter runs it, until the decode cache starts over (its pool page then
//! holds other code, and the RAM page gets a fresh count when it is decoded again). The
//! count is kept where it costs nothing per instruction: at the invalidation (already a
//! cold path) and when a block is about to be compiled.
//!
//! Where blocks are compiled: by default on a compile thread of the hart's own
//! (`compile_thread.rs`), which owns Cranelift's module. A hot entry sends the thread a
//! copy of its decoded instructions and is marked in flight (not counted, not sent
//! again); the hart goes on interpreting and never waits. Finished blocks are installed
//! when the hart asks ([`Jit::install_ready`], once per run quantum: nothing to do is
//! one comparison), and dropped as stale when their page's decode-cache version moved
//! on while they compiled. What runs compiled then depends on the compile thread's
//! timing, what the guest sees does not (a block computes what the interpreter would);
//! `emu/tests/jit.rs` checks that with compiles delayed by the hidden test hook
//! `EMU_JIT_COMPILE_DELAY_MS` (milliseconds slept before each compile on the thread,
//! read once per process). With `--jit-hot` below [`COMPILE_HERE_BELOW`] blocks are
//! compiled on the hart's thread instead, at once, and the hot entry runs compiled
//! straight away: low thresholds are for testing the compiler, where a run must compile
//! the same blocks every time and code that runs once (the conformance programs, with
//! `--jit-hot 1`) must still go through the compiler.
//!
//! Code memory belongs to the module; the hart holds code pointers (blocks, the
//! trampoline) and the link cells, allocated by the compiler in chunks and handed to the
//! hart with the block that first uses them. Throwing all code away ([`MAX_BLOCKS`]) is
//! the hart's decision, made outside any block: it forgets its pointers first, then the
//! compiler frees the memory, and blocks compiled before that are dropped unrun.
//!
//! Two flavours, one `Jit` each, differing only in how loads and stores reach RAM: the
//! unobserved one looks pages up in the hart's data-page cache (and calls the host on a
//! miss, [`EnvLayout::data_miss`], which translates and fills it); the counted one
//! ([`EnvLayout::counted`], for `--stats` and `--trace walk`) extends the counted loop's
//! run of accesses to one page and calls the host for the rest, so that the MMU's
//! counters come out as the interpreter's; its exits through the jump cache count the
//! fetches they leave behind by L1I slot, and go on only where the slot the target's
//! fetch hits is known (see [`CountedLayout`]).
//!
//! This module knows nothing about the hart: it is given the decoded instructions and the
//! environment's layout and returns runnable blocks.

mod code_memory;
mod compile_thread;
mod preserving_call;
mod quick;

pub use preserving_call::MissCall;

use std::mem::offset_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cranelift_codegen::ir::condcodes::IntCC;

use cranelift_codegen::ir::{
    types, AbiParam, Block as IrBlock, BlockArg, Endianness, InstBuilder, MemFlagsData, SigRef,
    Signature, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Module};

use crate::cpu::decode::{AmoOp, OpKind};
use compile_thread::{CompileThread, Compiled, Compiler, Done, Request};

/// Longest block compiled, in instructions.
pub const MAX_BLOCK: usize = 64;
/// Executions of a block entry before it is compiled, unless `--jit-hot` says otherwise.
/// Compiling a block costs about half a millisecond, so a block must run thousands of
/// times to pay for itself; until then quick code runs it ([`QUICK_HOT`]), which goes
/// on into other blocks as Cranelift's does, well enough that the highest count the
/// table holds pays best: against 20000, the real workloads' CPU time is 1-7 % lower
/// and the CoreMark-like program's 5 % (fewer compiles), the Debian boot's and the
/// Dhrystone-like program's the same (see docs/performance.md).
pub const HOT: u32 = MAX_HOT;
/// Entries of a block before it gets quick code (`quick.rs`), which it runs until it was
/// entered [`HOT`] times in all and Cranelift's code is ready. Quick code costs a few
/// microseconds a block, so it pays after a few dozen entries; 200 rather than fewer
/// keeps the code small (3 MiB in the Debian boot, 9 MiB from 20 entries, for the
/// same time: see docs/performance.md).
pub const QUICK_HOT: u32 = 200;
/// Quick blocks kept, and the address space reserved for their code; when either is
/// used up, all quick code is thrown away (Cranelift's stays) and blocks get it afresh.
const MAX_QUICK_BLOCKS: usize = 1 << 13;
const QUICK_CODE_BYTES: usize = 32 << 20;
/// Where a quick block stands on its way to Cranelift. Its own code counts its entries
/// (a 16-bit count in the code area, decremented at each entry, so entries through link
/// cells and the jump cache count as the run loop's do); at zero the block leaves before
/// its first instruction and the count stays zero until the run loop sends it to
/// Cranelift ([`Jit::take_due`]). Cranelift's code, once in, takes the quick block's
/// place in the table, and the quick block's entry is made a jump to it, so that
/// links and jump-cache entries made to the quick block lead there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Promotion {
    Counting,
    Sent,
    Failed,
}
/// Shorter blocks are left to the interpreter: they save too little per run.
const MIN_BLOCK: usize = 1;
/// Changes of a page's code that invalidated compiled code, after which the page is left
/// to the interpreter (see "Self-modifying code" above). Each such change costs a
/// recompile of every block on the page (up to ~0.5 ms each, the time the interpreter
/// takes for about a hundred thousand instructions). Code rewritten now and then (a
/// loader, a page freed and reused for other code) changes a few times per decode-cache
/// lifetime; a page rewritten in a loop reaches 16 after 16 recompiles, which bounds
/// what it wastes.
pub const MAX_CODE_CHANGES: u32 = 16;
/// Table entry of a slot whose block is too short, or on a page given up: no longer
/// counted.
const NEVER: u16 = COMPILED - 1;
/// Table entry of a slot whose block is being compiled on the compile thread.
const IN_FLIGHT: u16 = NEVER - 1;
/// The highest `--jit-hot`: a count must stay below the table's special entries.
pub const MAX_HOT: u32 = IN_FLIGHT as u32 - 1;
/// `--jit-hot` values below this compile on the hart's thread, at once (see "Where
/// blocks are compiled" above); the tests use 1 and 20.
pub const COMPILE_HERE_BELOW: u32 = 100;
/// Blocks kept before all compiled code is thrown away and compiling starts over (code
/// for a block superseded by a store to its page is only reclaimed then). Block numbers
/// fit the table's 15 bits: Cranelift's blocks below [`QUICK_BASE`], quick blocks from it.
const MAX_BLOCKS: usize = QUICK_BASE as usize;
/// The table's number of quick block 0.
const QUICK_BASE: u16 = 24 << 10;
/// Flag in a table entry: the rest is a block number; otherwise it is an execution count.
const COMPILED: u16 = 1 << 15;
const _: () = assert!(QUICK_BASE as usize + MAX_QUICK_BLOCKS <= COMPILED as usize);
/// Flag in a block's result: the instruction at the resume pc was not executed.
pub const EXIT_BEFORE: u64 = 1 << 32;
/// Entries of the jump cache (a power of two; see "Across pages" in the module comment).
const JUMP_SLOTS: usize = 4096;
/// Link cells per allocation chunk (chunks never move, so generated code can hold a
/// cell's address).
const CELLS_PER_CHUNK: usize = 4096;

/// One decoded instruction as the compiler takes it.
#[derive(Debug, Clone, Copy)]
pub struct Insn {
    pub k: OpKind,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub imm: i32,
    /// 2 or 4.
    pub len: u8,
}

/// The page-map entry of a RAM page without decoded code (the decode cache's `NO_PAGE`).
pub const NO_DECODED_PAGE: u32 = 0;

/// The layout of the environment generated code is given (the run-time side's `Env`).
/// It starts with a [`MissCall`]: the host function loads and stores call when the
/// tables below do not cover them (quick code in the host's calling convention,
/// Cranelift's blocks through the routine that keeps every register,
/// `preserving_call.rs`).
///
/// Generated code looks a data access up in the hart's data-page cache itself (a
/// direct-mapped table of `DTLB_SLOTS` entries `{ vpn: u64, addend: u64 }`, RAM offset =
/// va + addend) and touches RAM directly on a hit; the store table never holds a RAM page
/// with decoded code. On a miss it may ask the host (`data_miss`); anything else (a
/// device, a page-crossing access, a store to code, a fault) leaves the block before the
/// instruction, for the interpreter. The counted flavour checks a store's page itself
/// (`page_map[page] == NO_DECODED_PAGE`).
#[derive(Debug, Clone, Copy)]
pub struct EnvLayout {
    /// Byte offset in the environment of the resume pc.
    pub pc_offset: i32,
    /// Byte offset in the environment of the link cell named by a chainable exit (its
    /// number plus one; 0 for any other exit).
    pub link_offset: i32,
    /// Byte offsets in the environment of pointers to the load and store tables, to RAM,
    /// to the decode cache's page map and of its length.
    pub load_table_offset: i32,
    pub store_table_offset: i32,
    pub ram_offset: i32,
    pub page_map_offset: i32,
    pub page_map_len_offset: i32,
    /// Byte offsets in the environment of a pointer to the jump cache and of the jump
    /// epoch the chain runs in (see "Across pages" in the module comment).
    pub jump_cache_offset: i32,
    pub jump_epoch_offset: i32,
    /// Byte offset in the environment of the decode-cache slot of the instruction an
    /// exit leaves pending (written only by such exits).
    pub pending_slot_offset: i32,
    /// Entries per table (a power of two).
    pub table_slots: u64,
    /// The counted flavour (`--stats`, `--trace walk`): loads and stores extend the
    /// environment's counted run instead of looking up the data-page cache, and exits
    /// that go on through the jump cache count the fetches they leave behind (see
    /// [`CountedLayout`]). None: the unobserved flavour.
    pub counted: Option<CountedLayout>,
    /// The unobserved flavour calls the [`MissCall`]'s function on a data-page cache
    /// miss (`(env, va, size, store, pc) -> host address or 0`). It translates the access
    /// through the MMU's full path and, for plain RAM the MMU's fast path now holds (for
    /// a store, without decoded code), caches the page in the data-page cache and
    /// returns the host address of the bytes; on 0, having changed nothing a guest can
    /// see, the block leaves before the instruction. False: every miss leaves.
    pub data_miss: bool,
}

/// Where the counted flavour finds its run: the environment points at it (`run`); the
/// run holds `page_mask + 1` pages of `1 << page_shift` bytes from `pages`, direct-mapped
/// by virtual page number, and the count of its accesses at `seq`.
///
/// A load or store whose last byte's page is the one its first byte's slot holds for
/// the access type (`page_tags`: the load's tag, then the store's), so that it stays in
/// the page, is a repeat of the counted-cache hit with which the page joined: generated code adds one
/// to `seq` and to the page's `page_n`, stores `seq` in its `page_last`, and touches RAM
/// at va + `page_addend` (a page holds a store tag only while it holds no decoded
/// code: see `CountedRun`). Any other
/// access calls the environment's [`MissCall`] function (`(env, va, size, store, pc) ->
/// host address or 0`), which joins the page to the run when
/// the MMU's counted cache has it as plain RAM, counting the access, and returns the
/// host address of the bytes; on 0, having changed nothing, the block leaves before the
/// instruction.
///
/// Fetches are counted by the L1I slot they hit, in the fetch run the environment
/// points at (`fetch_run`, a `FetchRun` of the MMU's page caches): an exit that goes on
/// through the jump cache (to another page, or a `jalr`'s) does so only when the
/// entry's `fetch` word names a run slot (its low [`FETCH_SLOT_BITS`] bits) whose
/// version in the run (`fetch_versions`, 8 bytes per slot) is the rest of the word.
/// A word equal to the current slot's (`fetch_cur_word`, a word that named it at its
/// current version) needs no more: the slot's fetches simply go on. Otherwise, when the
/// version holds, it adds the fetches since `fetch_from` (that budget minus the one it
/// passes on) to the count (`fetch_n`) of the current slot (`fetch_cur`), stores the
/// budget it passes on in that slot's `fetch_last` and in `fetch_from`, makes the
/// target's slot current (with its word) and sets its bit in `fetch_touched`. Either
/// way it stores the target pc in `fetch_at`. Any other exit returns.
#[derive(Debug, Clone, Copy)]
pub struct CountedLayout {
    pub run: i32,
    /// Byte offset in the environment of the pointer to the fetch run, and of its fields
    /// in the run.
    pub fetch_run: i32,
    pub fetch_versions: i32,
    pub fetch_n: i32,
    pub fetch_last: i32,
    pub fetch_touched: i32,
    pub fetch_cur: i32,
    pub fetch_cur_word: i32,
    pub fetch_from: i32,
    pub fetch_at: i32,
    pub pages: i32,
    pub page_shift: u8,
    pub page_mask: u64,
    pub seq: i32,
    pub page_tags: i32,
    pub page_addend: i32,
    pub page_n: i32,
    pub page_last: i32,
}

/// The compiled entry from Rust: `(x, env, pc, left, block code) -> result`, calling the
/// block in the `tail` convention (see the module comment).
type Trampoline = unsafe extern "C" fn(*mut u64, *mut u8, u64, u64, *const u8) -> u64;

#[derive(Debug, Clone, Copy)]
pub struct Block {
    /// Entry of the generated code (`tail` calling convention: call it through
    /// [`Jit::run`]).
    pub code: *const u8,
    /// Instructions in the block: the most one run can execute.
    pub len: u64,
    /// The decode-cache page version the block was compiled from.
    pub version: u64,
    /// Quick code (`quick.rs`): every jump is an exit (through the jump cache in the
    /// unobserved flavour), and it goes to Cranelift once hot.
    pub quick: bool,
    /// The block's number.
    pub id: u16,
}

/// What compiling cost, for `--stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JitStats {
    pub blocks: u64,
    pub instructions: u64,
    pub compile_time: Duration,
    pub failures: u64,
    pub restarts: u64,
    /// Exits linked straight to the next block.
    pub links: u64,
    /// Jumps entered in the jump cache (to another page, or by `jalr`).
    pub jumps_cached: u64,
    /// Pages left to the interpreter because their code kept changing
    /// ([`MAX_CODE_CHANGES`]).
    pub pages_given_up: u64,
    /// Of `blocks`, those compiled on the compile thread.
    pub on_thread: u64,
    /// Of `blocks`, those dropped because their page's code changed while they compiled.
    pub stale: u64,
    /// Instructions retired by compiled code.
    pub retired: u64,
    /// Of `blocks` and `instructions`, quick code (`quick.rs`), and the bytes it took.
    pub quick_blocks: u64,
    pub quick_instructions: u64,
    pub quick_bytes: u64,
    /// Times all quick code was thrown away ([`MAX_QUICK_BLOCKS`]).
    pub quick_restarts: u64,
}

impl JitStats {
    /// Both `Jit`s' costs together (a hart has one per flavour).
    pub fn plus(&self, other: &JitStats) -> JitStats {
        JitStats {
            blocks: self.blocks + other.blocks,
            instructions: self.instructions + other.instructions,
            compile_time: self.compile_time + other.compile_time,
            failures: self.failures + other.failures,
            restarts: self.restarts + other.restarts,
            links: self.links + other.links,
            pages_given_up: self.pages_given_up + other.pages_given_up,
            jumps_cached: self.jumps_cached + other.jumps_cached,
            on_thread: self.on_thread + other.on_thread,
            stale: self.stale + other.stale,
            retired: self.retired + other.retired,
            quick_blocks: self.quick_blocks + other.quick_blocks,
            quick_instructions: self.quick_instructions + other.quick_instructions,
            quick_bytes: self.quick_bytes + other.quick_bytes,
            quick_restarts: self.quick_restarts + other.quick_restarts,
        }
    }
}

/// The link cells of all blocks: each holds the code address of the block its exit
/// tail-calls, or 0. The compiler allocates them (and never touches one again); the hart
/// gets the chunks in order ([`LinkCells::take_new_chunks`]), fills the cells and runs the
/// code that reads them. Atomic only so that a chunk can be shared between threads: all
/// reads and writes are on the hart's thread.
#[derive(Default)]
struct LinkCells {
    chunks: Vec<Arc<[AtomicU64]>>,
    used: usize,
    /// Chunks handed to the hart so far.
    sent: usize,
}

impl LinkCells {
    /// A new empty cell: (number, address).
    fn alloc(&mut self) -> (usize, u64) {
        let n = self.used;
        if n / CELLS_PER_CHUNK == self.chunks.len() {
            self.chunks
                .push((0..CELLS_PER_CHUNK).map(|_| AtomicU64::new(0)).collect());
        }
        self.used += 1;
        let cell = &self.chunks[n / CELLS_PER_CHUNK][n % CELLS_PER_CHUNK];
        (n, cell.as_ptr() as u64)
    }

    /// The compiler's side: the chunks allocated since the last call.
    fn take_new_chunks(&mut self) -> Vec<Arc<[AtomicU64]>> {
        let new = self.chunks[self.sent..].to_vec();
        self.sent = self.chunks.len();
        new
    }

    /// The hart's side: cell `n`, once its chunk was received.
    fn get(&self, n: usize) -> Option<&AtomicU64> {
        self.chunks
            .get(n / CELLS_PER_CHUNK)?
            .get(n % CELLS_PER_CHUNK)
    }
}

/// Where generated code finds a jump-cache entry's fields, and its size.
const JUMP_ENTRY_PC: i32 = std::mem::offset_of!(JumpEntry, pc) as i32;
const JUMP_ENTRY_EPOCH: i32 = std::mem::offset_of!(JumpEntry, epoch) as i32;
const JUMP_ENTRY_CODE: i32 = std::mem::offset_of!(JumpEntry, code) as i32;
const JUMP_ENTRY_FETCH: i32 = std::mem::offset_of!(JumpEntry, fetch) as i32;
const JUMP_ENTRY_BYTES: usize = std::mem::size_of::<JumpEntry>();
/// Bits of a jump-cache entry's `fetch` word that name the fetch run's slot (see
/// [`CountedLayout`]); the slot's version is above them.
pub const FETCH_SLOT_BITS: u32 = 6;
const _: () = assert!(JUMP_ENTRY_BYTES.is_power_of_two());

/// One jump-cache entry: the block starting at virtual `pc`, valid in jump epoch
/// `epoch`, and how a fetch of `pc` is counted (a word only the counted flavour reads,
/// see [`CountedLayout`]). 32 bytes, so generated code finds an entry with a shift.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct JumpEntry {
    pc: u64,
    epoch: u64,
    code: u64,
    fetch: u64,
}

impl JumpEntry {
    /// Matches no jump: no epoch is `u64::MAX` (see [`Jit::jump_epoch`]).
    const EMPTY: JumpEntry = JumpEntry {
        pc: 0,
        epoch: u64::MAX,
        code: 0,
        fetch: 0,
    };
}

/// The jump-cache slot of a jump to `pc`: its low bits mixed with its page number, so
/// the same offset in different pages (function entries are often aligned alike) land
/// in different slots.
fn jump_slot(pc: u64) -> usize {
    (((pc >> JUMP_HASH_SHIFTS.0) ^ (pc >> JUMP_HASH_SHIFTS.1)) as usize) & (JUMP_SLOTS - 1)
}

/// The two shifts of a pc whose xor [`jump_slot`] masks (generated code computes the
/// slot the same way).
const JUMP_HASH_SHIFTS: (i64, i64) = (1, 13);

/// Tells jump epochs apart (see "Across pages" in the module comment).
#[derive(Default)]
struct JumpEpochs {
    /// The hart's MMU generation and decoded-code change count last seen.
    seen: (u64, u64),
    /// Bumped whenever `seen` moves.
    base: u64,
}

/// Who compiles (see "Where blocks are compiled" above).
enum Compiling {
    Here(Box<Compiler>),
    Thread(CompileThread),
}

/// `EMU_JIT_COMPILE_DELAY_MS`, the test hook (see the module comment).
fn compile_delay() -> Duration {
    static DELAY: OnceLock<Duration> = OnceLock::new();
    *DELAY.get_or_init(|| {
        std::env::var("EMU_JIT_COMPILE_DELAY_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_millis)
    })
}

pub struct Jit {
    /// Virtual pc -> block, for exits whose target is on another page or only known at
    /// run time (boxed: generated code holds its address).
    jumps: Box<[JumpEntry]>,
    epochs: JumpEpochs,
    trampoline: Option<Trampoline>,
    /// The chunks received from the compiler (see [`LinkCells`]).
    cells: LinkCells,
    /// The compiler panicked once: compile nothing more.
    broken: bool,
    compiling: Compiling,
    /// Restarts asked for: answers from an older generation are about freed code.
    generation: u64,
    /// Blocks sent to the compile thread and not answered yet (in this generation).
    in_flight: usize,
    /// Entries counted before compiling (1 to [`MAX_HOT`]).
    hot: u16,
    /// Per decode-cache slot: `COMPILED | block number`, or how often it was entered.
    /// 16 bits: the table has an entry per slot of every decoded page (4 KiB a page).
    table: Vec<u16>,
    blocks: Vec<Block>,
    /// Quick blocks, numbered from [`QUICK_BASE`] in the table, and where each stands on
    /// its way to Cranelift.
    quick_blocks: Vec<Block>,
    promotion: Vec<Promotion>,
    /// Quick code (`quick.rs`), when the tier is on, and the entries before a block gets
    /// it (0: never).
    quick: Option<quick::CodeArea>,
    quick_hot: u16,
    layout: EnvLayout,
    pub stats: JitStats,
}

/// What the table says about an entry slot.
pub enum Entry {
    Compiled(Block),
    /// Entered often enough for quick code now.
    Warm,
    /// Entered often enough to compile now.
    Hot,
    Cold,
}

/// A block's signature (see the module comment).
fn block_signature(module: &JITModule) -> Signature {
    let mut sig = Signature::new(CallConv::Winch);
    let ptr = module.target_config().pointer_type();
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    sig
}

/// The signature under which Cranelift's blocks call `preserving_call.rs`'s routine:
/// the block's own first two arguments; `preserve_all`, so the call clobbers nothing.
fn preserving_call_signature() -> Signature {
    let mut sig = Signature::new(CallConv::PreserveAll);
    for _ in 0..2 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig
}

/// The trampoline (see [`Trampoline`]).
fn build_trampoline(
    module: &mut JITModule,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
) -> Option<Trampoline> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I64));
    let id = module.declare_anonymous_function(&sig).ok()?;
    ctx.func.signature = sig;
    let block_sig = block_signature(module);
    let frontend = module.target_config();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let block_sig = b.import_signature(block_sig);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let call = b.ins().call_indirect(block_sig, p[4], &p[..4]);
        let result = b.inst_results(call)[0];
        b.ins().return_(&[result]);
        b.seal_all_blocks();
        b.finalize(frontend);
    }
    let code = define(module, ctx, id)?;
    // SAFETY: `code` is the function just defined with the `Trampoline` signature (two
    // pointers, two i64 and a pointer to i64) in the host's default calling convention,
    // which is what `extern "C"` is on the hosts Cranelift supports.
    Some(unsafe { std::mem::transmute::<*const u8, Trampoline>(code) })
}

fn new_module() -> Option<JITModule> {
    let mut flags = settings::builder();
    // No e-graph pass: it took a quarter to a third of each compile, for code 2-4 %
    // faster (callgrind, `--jit-hot 99`: CoreMark-like compile 1.05 -> 0.80 G host
    // instructions, generated code 1.38 -> 1.43 G; see docs/performance.md). Compiles
    // are what the boot's warm-up waits for; the constant folds that matter are made
    // while building the IR (`Translator::add_imm`).
    flags.set("opt_level", "none").ok()?;
    // The IR is generated from a handful of patterns the tests cover; checking every
    // function again costs compile time for nothing. (The verifier would also refuse the
    // blocks' tail calls in the `winch` convention: see `block_signature`.)
    flags.set("enable_verifier", "false").ok()?;
    // Cranelift's tail calls (block chaining) need frame pointers.
    flags.set("preserve_frame_pointers", "true").ok()?;
    let isa = cranelift_native::builder()
        .ok()?
        .finish(settings::Flags::new(flags))
        .ok()?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    #[cfg(target_arch = "x86_64")]
    builder.memory_provider(Box::new(code_memory::CodeMemory::new(
        code_memory::CODE_BYTES,
    )?));
    Some(JITModule::new(builder))
}

impl Jit {
    /// None when Cranelift does not support the host. Entry slots are numbered below
    /// `slots`: the entry table gets that room at once (the host backs only what is
    /// written; growing it would copy it, old and new copies resident at once).
    pub fn new(layout: EnvLayout, hot: u32, slots: usize) -> Option<Jit> {
        let (compiling, trampoline) = if hot < COMPILE_HERE_BELOW {
            let (compiler, trampoline) = Compiler::new(layout)?;
            (Compiling::Here(Box::new(compiler)), trampoline)
        } else {
            let (thread, trampoline) = CompileThread::start(layout, compile_delay())?;
            (Compiling::Thread(thread), trampoline)
        };
        Some(Jit {
            trampoline: Some(trampoline),
            cells: LinkCells::default(),
            jumps: vec![JumpEntry::EMPTY; JUMP_SLOTS].into_boxed_slice(),
            epochs: JumpEpochs::default(),
            broken: false,
            compiling,
            generation: 0,
            in_flight: 0,
            hot: hot.clamp(1, MAX_HOT) as u16,
            table: Vec::with_capacity(slots),
            blocks: Vec::new(),
            quick_blocks: Vec::new(),
            promotion: Vec::new(),
            quick: None,
            quick_hot: 0,
            layout,
            stats: JitStats::default(),
        })
    }

    /// Give blocks entered `hot` times quick code (`quick.rs`) until Cranelift's is
    /// due; 0, or a host other than x86-64, leaves the tier off.
    pub fn enable_quick(&mut self, hot: u32) {
        if cfg!(target_arch = "x86_64") && hot > 0 && hot < self.hot as u32 {
            self.quick = quick::CodeArea::new(QUICK_CODE_BYTES, MAX_QUICK_BLOCKS, self.layout);
            self.quick_hot = hot as u16;
        }
    }

    /// The state of the block entry at decode-cache slot `index`, counting the visit.
    #[inline(always)]
    pub fn entry(&mut self, index: usize) -> Entry {
        if index >= self.table.len() {
            self.table.resize(index + 1, 0);
        }
        let e = self.table[index];
        if e & COMPILED != 0 {
            return Entry::Compiled(self.block_numbered(e & !COMPILED));
        }
        let e = &mut self.table[index];
        if *e >= IN_FLIGHT {
            // Never, or in flight.
            return Entry::Cold;
        }
        *e += 1;
        if *e >= self.hot {
            *e = 0;
            Entry::Hot
        } else if *e == self.quick_hot {
            Entry::Warm
        } else {
            Entry::Cold
        }
    }

    /// Is quick block `block` due for Cranelift: its code counted its entries down to
    /// zero and it was not sent yet? (A block sent, or whose compile failed, counts
    /// another 65,535 entries when its count runs out.)
    #[inline(always)]
    pub fn due(&mut self, block: &Block) -> bool {
        let Some(area) = self.quick.as_mut() else {
            return false;
        };
        if area.count(block.id) != 0 {
            return false;
        }
        if self.promotion[block.id as usize] == Promotion::Counting {
            return true;
        }
        area.set_count(block.id, u16::MAX);
        false
    }

    /// As [`Jit::due`], for the caller that sends a due block to Cranelift: once due,
    /// the block runs on (its count starts over) whether or not it is sent.
    #[inline(always)]
    pub fn take_due(&mut self, block: &Block) -> bool {
        let due = self.due(block);
        if let (true, Some(area)) = (due, self.quick.as_mut()) {
            area.set_count(block.id, u16::MAX);
        }
        due
    }

    /// The block table entries call `n` (Cranelift's below [`QUICK_BASE`]).
    #[inline(always)]
    fn block_numbered(&self, n: u16) -> Block {
        match n.checked_sub(QUICK_BASE) {
            Some(q) => self.quick_blocks[q as usize],
            None => self.blocks[n as usize],
        }
    }

    /// Write quick code for `insns`, the block entered at `index`, decoded at its page's
    /// `version`, and install it at once. False when nothing was written (the tier is
    /// off, or the block's first op has no quick pattern).
    pub fn compile_quick(&mut self, index: usize, insns: &[Insn], version: u64) -> bool {
        if self.quick.is_none() || self.broken {
            return false;
        }
        let start = std::time::Instant::now();
        if self.quick_blocks.len() >= MAX_QUICK_BLOCKS
            || self.quick.as_ref().is_some_and(quick::CodeArea::full)
        {
            self.forget_quick_code();
        }
        let before = self.quick.as_ref().map_or(0, quick::CodeArea::used);
        let id = self.quick_blocks.len() as u16;
        let Some((code_at, len)) = self
            .quick
            .as_mut()
            .and_then(|area| area.add_block(insns, index, id))
        else {
            return false;
        };
        let bytes = self.quick.as_ref().map_or(0, quick::CodeArea::used) - before;
        if self.table.len() <= index {
            self.table.resize(index + 1, 0);
        }
        self.table[index] = COMPILED | (QUICK_BASE + id);
        self.quick_blocks.push(Block {
            code: code_at,
            len,
            version,
            quick: true,
            id,
        });
        // Counted on towards `hot` from the entries that made it warm.
        if let Some(area) = self.quick.as_mut() {
            area.set_count(id, self.hot - self.quick_hot);
        }
        self.promotion.push(Promotion::Counting);
        self.stats.quick_blocks += 1;
        self.stats.quick_instructions += len;
        self.stats.quick_bytes += bytes as u64;
        self.stats.compile_time += start.elapsed();
        true
    }

    /// Entries of a block before it is compiled.
    pub fn hot(&self) -> u32 {
        self.hot as u32
    }

    /// Entries of a block before it gets quick code (0: never).
    pub fn quick_hot(&self) -> u32 {
        if self.quick.is_some() {
            self.quick_hot as u32
        } else {
            0
        }
    }

    /// The block compiled for `index`, if any (without counting a visit).
    #[inline(always)]
    pub fn compiled(&self, index: usize) -> Option<Block> {
        let e = *self.table.get(index)?;
        (e & COMPILED != 0).then(|| self.block_numbered(e & !COMPILED))
    }

    /// Run `block` (and whatever it chains to) on registers `x` with environment `env`,
    /// entered at `pc` with budget `left` (below 2^32, at least the block's length).
    ///
    /// # Safety
    /// `block` must be a current block of this `Jit` compiled for `pc`'s page, `x` must
    /// point to the 32 guest registers and `env` to an environment laid out as given to
    /// [`Jit::new`], both valid and otherwise unused for the whole call.
    #[inline(always)]
    pub unsafe fn run(&self, block: &Block, x: *mut u64, env: *mut u8, pc: u64, left: u64) -> u64 {
        // Quick code may chain into Cranelift's, which keeps no register the host's
        // convention keeps: through the trampoline, unless no Cranelift code lives
        // (before the first trampoline arrives, or after a failure).
        if block.quick && self.trampoline.is_none() {
            // SAFETY: the caller's contract; quick code lives until the next restart,
            // which drops the block first; with no trampoline no Cranelift block lives
            // (a restart drops both), so quick code chains only to quick code, which
            // touches only call-clobbered registers.
            return unsafe { quick::run(block.code, x, env, pc, left) };
        }
        match self.trampoline {
            // SAFETY: the caller's contract; the trampoline and `block.code` come from
            // this Jit's live module (both are dropped together at a restart).
            Some(t) => unsafe { t(x, env, pc, left, block.code) },
            None => left | EXIT_BEFORE,
        }
    }

    /// Fill link cell `link` (as a block exit named it: number plus one) with `to`, the
    /// block the exit's target starts: from now on the exit jumps straight there.
    pub fn link(&mut self, link: u64, to: &Block) {
        if let Some(cell) = link.checked_sub(1).and_then(|n| self.cells.get(n as usize)) {
            // An exit also names its (filled) cell when the budget was too short to go on.
            // A load and a store, not a swap: only this thread touches cells, and a
            // swap is a locked instruction on x86.
            if cell.load(Ordering::Relaxed) != to.code as u64 {
                cell.store(to.code as u64, Ordering::Relaxed);
                self.stats.links += 1;
            }
        }
    }

    /// Remember that a jump to `pc` in jump epoch `epoch` goes to `to`, whose fetch the
    /// counted flavour counts as `fetch` says (see [`CountedLayout`]): from now on an
    /// exit to `pc` in that epoch jumps straight there.
    #[inline]
    pub fn remember_jump(&mut self, pc: u64, epoch: u64, to: &Block, fetch: u64) {
        let e = &mut self.jumps[jump_slot(pc)];
        if e.pc != pc || e.epoch != epoch || e.code != to.code as u64 || e.fetch != fetch {
            self.stats.jumps_cached += 1;
        }
        *e = JumpEntry {
            pc,
            epoch,
            code: to.code as u64,
            fetch,
        };
    }

    /// The jump epoch of a hart whose MMU is at `generation`, whose decoded code is at
    /// `code_changes` (`DecodeCache::changes`), running at `privilege`. A jump-cache
    /// entry made in one epoch is valid exactly while the hart runs in that epoch: the
    /// epoch moves with anything that may change where a virtual pc's code is or what
    /// it is. The privilege is part of it because a fetch's permission check depends on
    /// it; returning to a privilege with nothing else changed (a system call's return)
    /// finds that privilege's entries valid again.
    pub fn jump_epoch(&mut self, generation: u64, code_changes: u64, privilege: u8) -> u64 {
        let seen = (generation, code_changes);
        if self.epochs.seen != seen {
            self.epochs.seen = seen;
            self.epochs.base += 1;
        }
        (self.epochs.base << 2) | (privilege & 3) as u64
    }

    /// The jump cache, for the environment of generated code.
    pub fn jump_cache(&self) -> *const u8 {
        self.jumps.as_ptr() as *const u8
    }

    /// Never compile the block entered at `index` (its page is given up, see
    /// [`MAX_CODE_CHANGES`]), until the decode cache starts over.
    pub fn give_up(&mut self, index: usize) {
        if let Some(e) = self.table.get_mut(index) {
            *e = NEVER;
        }
    }

    /// The decode cache started over: its slots will hold other pages' code, so entries
    /// marked never (too short, page given up) are counted afresh. Compiled entries need
    /// nothing: the pool pages' versions changed, so they are forgotten at lookup.
    pub fn decode_cache_started_over(&mut self) {
        for e in &mut self.table {
            if *e == NEVER {
                *e = 0;
            }
        }
    }

    /// Forget the block at `index` (its code changed); it is counted afresh.
    pub fn forget(&mut self, index: usize) {
        if let Some(e) = self.table.get_mut(index) {
            *e = 0;
        }
    }

    /// Compile `insns` as the block entered at `index`, `page_offset` bytes into its
    /// page, decoded at the page's `version`: at once on the hart's thread, or queued for
    /// the compile thread (installed later by [`Jit::install_ready`]). A failure leaves
    /// the entry to the interpreter (it is counted again from zero). False when nothing
    /// is compiled (the block is too short, or the compiler is broken).
    pub fn compile(
        &mut self,
        index: usize,
        page_offset: u64,
        insns: &[Insn],
        version: u64,
    ) -> bool {
        if insns.len() < MIN_BLOCK {
            // Kept until the next restart, even if the code there changes: a missed
            // block costs speed only.
            if let Some(e) = self.table.get_mut(index) {
                *e = NEVER;
            }
            return false;
        }
        if self.broken {
            return false;
        }
        if self.blocks.len() + self.in_flight >= MAX_BLOCKS {
            self.restart();
        }
        if self.table.len() <= index {
            self.table.resize(index + 1, 0);
        }
        let request = Request {
            index,
            page_offset,
            insns: insns.to_vec(),
            version,
        };
        // A quick block keeps running until Cranelift's replaces it.
        match self.quick_block_at(index) {
            Some(id) => self.promotion[id] = Promotion::Sent,
            None => self.table[index] = IN_FLIGHT,
        }
        match &mut self.compiling {
            Compiling::Here(compiler) => {
                let done = compiler.compile(request, false);
                // The page cannot have changed: nothing ran since the instructions were
                // read.
                self.install(done, |_| version);
            }
            Compiling::Thread(thread) => {
                thread.send(request);
                self.in_flight += 1;
            }
        }
        true
    }

    /// Install the blocks the compile thread finished, dropping those whose page's
    /// code changed meanwhile (`version(index)`: the page's decode-cache version now).
    /// To be called outside any block; costs one comparison when nothing is in flight.
    #[inline(always)]
    pub fn install_ready(&mut self, version: impl Fn(usize) -> u64) {
        if self.in_flight != 0 {
            self.install_answers(version);
        }
    }

    #[cold]
    fn install_answers(&mut self, version: impl Fn(usize) -> u64) {
        loop {
            let Compiling::Thread(thread) = &self.compiling else {
                return;
            };
            match thread.try_recv() {
                Some(Done::Block(done)) => {
                    if done.generation == self.generation {
                        self.in_flight -= 1;
                        self.install(done, &version);
                    }
                }
                Some(Done::Restarted(generation, trampoline)) => {
                    if generation == self.generation {
                        self.in_flight -= 1;
                        self.trampoline = trampoline;
                    }
                }
                None => return,
            }
        }
    }

    /// Take a compiled block of this generation: its link cells, and the block unless
    /// it failed or is stale.
    fn install(&mut self, done: Compiled, version: impl Fn(usize) -> u64) {
        self.cells.chunks.extend(done.chunks);
        self.broken |= done.broken;
        self.stats.compile_time += done.time;
        let index = done.index;
        let quick = self.quick_block_at(index);
        let promoting = quick.is_some_and(|id| self.promotion[id] == Promotion::Sent);
        if self.table.get(index) != Some(&IN_FLIGHT) && !promoting {
            return;
        }
        if !promoting {
            self.table[index] = 0;
        }
        let Some(code) = done.code else {
            self.stats.failures += 1;
            if let (true, Some(id)) = (promoting, quick) {
                self.promotion[id] = Promotion::Failed;
            }
            return;
        };
        self.stats.blocks += 1;
        self.stats.instructions += done.len;
        self.stats.on_thread += done.on_thread as u64;
        if done.version != version(index) {
            self.stats.stale += 1;
            return;
        }
        if let (true, Some(q), Some(area)) = (promoting, quick, self.quick.as_mut()) {
            let q = self.quick_blocks[q];
            if q.version == done.version {
                area.redirect(q.code, code.0);
            }
        }
        let id = self.blocks.len() as u16;
        self.table[index] = COMPILED | id;
        self.blocks.push(Block {
            code: code.0,
            len: done.len,
            version: done.version,
            quick: false,
            id,
        });
    }

    /// The number of the quick block entered at `index` (counted from [`QUICK_BASE`]),
    /// if that is what the table holds there.
    fn quick_block_at(&self, index: usize) -> Option<usize> {
        let e = *self.table.get(index)?;
        let n = (e & COMPILED != 0).then_some(e & !COMPILED)?;
        n.checked_sub(QUICK_BASE).map(usize::from)
    }

    /// Throw all quick code away (outside any block): its entries are counted afresh,
    /// or wait for Cranelift's code when it is being compiled. Cranelift's blocks stay;
    /// their links and jump-cache entries into quick code are emptied.
    fn forget_quick_code(&mut self) {
        self.stats.quick_restarts += 1;
        for e in &mut self.table {
            if *e & COMPILED != 0 && *e & !COMPILED >= QUICK_BASE {
                let q = ((*e & !COMPILED) - QUICK_BASE) as usize;
                *e = if self.promotion[q] == Promotion::Sent {
                    IN_FLIGHT
                } else {
                    0
                };
            }
        }
        self.quick_blocks.clear();
        self.promotion.clear();
        if let Some(area) = &mut self.quick {
            for cell in self.cells.chunks.iter().flat_map(|chunk| chunk.iter()) {
                if area.holds(cell.load(Ordering::Relaxed)) {
                    cell.store(0, Ordering::Relaxed);
                }
            }
            for e in self.jumps.iter_mut() {
                if area.holds(e.code) {
                    *e = JumpEntry::EMPTY;
                }
            }
            area.clear();
        }
    }

    /// Throw all compiled code away (outside any block).
    fn restart(&mut self) {
        self.stats.restarts += 1;
        self.table.fill(0);
        self.blocks.clear();
        self.quick_blocks.clear();
        self.promotion.clear();
        if let Some(area) = &mut self.quick {
            area.clear();
        }
        self.cells = LinkCells::default();
        self.jumps.fill(JumpEntry::EMPTY);
        self.trampoline = None;
        self.generation += 1;
        self.in_flight = 0;
        match &mut self.compiling {
            // SAFETY: no generated code is running (this is called outside any block)
            // and every pointer to it was in `blocks`, the trampoline and the link
            // cells, all just dropped.
            Compiling::Here(compiler) => self.trampoline = unsafe { compiler.restart() },
            Compiling::Thread(thread) => {
                // SAFETY: as above; answers of the old generation are dropped unread.
                unsafe { thread.restart() };
                // The new trampoline, counted until it arrives.
                self.in_flight = 1;
            }
        }
    }
}

impl Compiler {
    fn translate(&mut self, insns: &[Insn], index: usize, page_offset: u64) -> Option<*const u8> {
        let module = self.module.as_mut()?;
        let sig = block_signature(module);
        let id = module
            .declare_anonymous_function(&sig)
            .map_err(|e| eprintln!("emu: jit: {e}"))
            .ok()?;
        self.ctx.func.signature = sig.clone();
        let frontend = module.target_config();
        let preserving = if self.layout.counted.is_some() || self.layout.data_miss {
            preserving_call::address()
        } else {
            None
        };
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let block_sig = b.import_signature(sig);
            let miss_call =
                preserving.map(|at| (b.import_signature(preserving_call_signature()), at));
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            let params = b.block_params(entry).to_vec();
            let mut t = Translator {
                b,
                x: params[0],
                env: params[1],
                pc0: params[2],
                left: params[3],
                index,
                page_offset,
                regs: [None; 32],
                dirty: 0,
                left_base: 0,
                labels: Vec::new(),
                env_fields: Vec::new(),
                layout: self.layout,
                block_sig,
                counted: self.layout.counted,
                miss_call,
                cells: &mut self.cells,
            };
            t.block(insns);
            t.b.seal_all_blocks();
            t.b.finalize(frontend);
        }
        define(module, &mut self.ctx, id)
    }
}

/// Compile the function built in `ctx` as `id` and make it executable: its entry.
fn define(module: &mut JITModule, ctx: &mut Context, id: FuncId) -> Option<*const u8> {
    let defined = module.define_function(id, ctx);
    module.clear_context(ctx);
    if let Err(e) = defined {
        eprintln!("emu: jit: {e}");
        return None;
    }
    module.finalize_definitions().ok()?;
    Some(module.get_finalized_function(id))
}

struct Translator<'a> {
    b: FunctionBuilder<'a>,
    x: Value,
    env: Value,
    pc0: Value,
    /// The budget at the entry, or at the label last passed (see `labels`).
    left: Value,
    /// Instructions of the block before the point where `left` was taken.
    left_base: u64,
    /// Instructions a branch or `jal` of the block jumps to (their byte offset from the
    /// entry, and the IR block they start, whose parameter is the budget).
    labels: Vec<(u64, IrBlock)>,
    /// The decode-cache slot of the block's entry.
    index: usize,
    /// Where the block starts in its page (for which targets are on the same page).
    page_offset: u64,
    /// Current value of each guest register, once read or written in the block.
    regs: [Option<Value>; 32],
    /// Registers written since the last point the block could leave, not yet stored to
    /// the register file (bit per register; see `set`).
    dirty: u32,
    /// Environment words loaded so far (see `env_field`).
    env_fields: Vec<(i32, Value)>,
    layout: EnvLayout,
    block_sig: SigRef,
    /// The counted flavour: where the run is (see [`CountedLayout`]).
    counted: Option<CountedLayout>,
    /// Blocks that call the environment's miss function (the counted flavour, and the
    /// unobserved one with a data-miss function): the signature of the routine that
    /// calls it keeping every register, and the routine's address.
    miss_call: Option<(SigRef, u64)>,
    cells: &'a mut LinkCells,
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

    /// Stored to the register file before the next instruction that is not arithmetic on
    /// registers (`OpKind::is_register_arithmetic`), which may leave the block
    /// (`store_dirty`), so an exit has nothing to store but the pc, which keeps the
    /// function small (compile time grows with every exit's stores); a register written
    /// again before that (a chain of arithmetic on one register) is stored once.
    fn set(&mut self, r: u8, v: Value) {
        let r = (r & 31) as usize;
        if r != 0 {
            self.regs[r] = Some(v);
            self.dirty |= 1 << r;
        }
    }

    /// Store the registers written since the last call: before anything that can leave
    /// the block or jump inside it (a memory access, a branch, a jump, a label, the end).
    fn store_dirty(&mut self) {
        while self.dirty != 0 {
            let r = self.dirty.trailing_zeros() as usize;
            self.dirty &= self.dirty - 1;
            if let Some(v) = self.regs[r] {
                self.b.ins().store(TRUSTED, v, self.x, (r * 8) as i32);
            }
        }
    }

    fn pc_at(&mut self, offset: u64) -> Value {
        self.add_imm(self.pc0, offset as i64)
    }

    /// `a + imm` (64-bit), folded when `imm` is 0 (`mv`, an access at offset 0) or `a`
    /// is a constant (`li`: `addi rd, x0, imm`). The IR is compiled without Cranelift's
    /// optimiser (see `new_module`), so the folds it would make are made here.
    fn add_imm(&mut self, a: Value, imm: i64) -> Value {
        if imm == 0 {
            return a;
        }
        if let Some(c) = self.constant_of(a) {
            return self.b.ins().iconst(I64, c.wrapping_add(imm));
        }
        // `(b + k) + imm` as `b + (k + imm)`: one address computation instead of a
        // constant in a register (an access's last byte, `va + size - 1`, with `va`
        // itself a register plus an offset).
        if let Some((b, k)) = self.offset_of(a) {
            return self.b.ins().iadd_imm_s(b, k.wrapping_add(imm));
        }
        self.b.ins().iadd_imm_s(a, imm)
    }

    /// `(b, k)` when `v` is `b + k` with `k` a constant (as [`Translator::add_imm`] makes it).
    fn offset_of(&self, v: Value) -> Option<(Value, i64)> {
        use cranelift_codegen::ir::{InstructionData, Opcode};
        match self.definition(v)? {
            InstructionData::Binary {
                opcode: Opcode::Iadd,
                args: [b, k],
            } => Some((b, self.constant_of(k)?)),
            _ => None,
        }
    }

    /// The value of `v` when it is an `iconst`.
    fn constant_of(&self, v: Value) -> Option<i64> {
        use cranelift_codegen::ir::{InstructionData, Opcode};
        match self.definition(v)? {
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }

    /// The instruction that made `v` (None for a block parameter).
    fn definition(&self, v: Value) -> Option<cranelift_codegen::ir::InstructionData> {
        use cranelift_codegen::ir::ValueDef;
        let dfg = &self.b.func.dfg;
        match dfg.value_def(v) {
            ValueDef::Result(inst, _) => Some(dfg.insts[inst]),
            _ => None,
        }
    }

    /// Leave with the resume pc and `result`, through the one shared exit.
    fn exit(&mut self, pc: Value, result: Value) {
        self.exit_linking(pc, result, 0);
    }

    /// Return `result`, leaving the resume pc and `link` (see `EnvLayout::link_offset`) in
    /// the environment. Each exit returns by itself: a shared exit block would merge
    /// every exit's values, which costs the register allocator more than three
    /// instructions per exit cost in code size.
    fn exit_linking(&mut self, pc: Value, result: Value, link: i64) {
        let h = self.layout;
        self.b.ins().store(TRUSTED, pc, self.env, h.pc_offset);
        let link = self.b.ins().iconst(I64, link);
        self.b.ins().store(TRUSTED, link, self.env, h.link_offset);
        self.b.ins().return_(&[result]);
    }

    /// The budget left after `retired` instructions of this block, on the path through
    /// it since the last label.
    fn left_after(&mut self, retired: u64) -> Value {
        self.add_imm(self.left, -((retired - self.left_base) as i64))
    }

    /// The label at `offset`, if a branch or `jal` of the block jumps there.
    fn label(&self, offset: u64) -> Option<IrBlock> {
        self.labels
            .iter()
            .find(|&&(at, _)| at == offset)
            .map(|&(_, label)| label)
    }

    /// Find the labels of `insns`: the instructions a direct branch or `jal` of the block
    /// targets, each the start of an IR block taking the budget.
    fn find_labels(&mut self, insns: &[Insn]) {
        let mut starts = Vec::with_capacity(insns.len());
        let mut offset = 0u64;
        for op in insns {
            starts.push(offset);
            offset += op.len as u64;
        }
        for (op, &at) in insns.iter().zip(&starts) {
            let target = at.wrapping_add(op.imm as i64 as u64);
            if op.k.jumps_relative() && starts.contains(&target) && self.label(target).is_none() {
                let label = self.b.create_block();
                self.b.append_block_param(label, I64);
                self.labels.push((target, label));
            }
        }
    }

    /// Reaching the label `label` (instruction `retired`) straight on: carry the budget
    /// into it. Registers and environment words are loaded again after it: a jump may
    /// arrive from a path that did not load them, or with other values (registers are
    /// stored before any jump, so the register file has the current ones).
    fn enter_label(&mut self, label: IrBlock, retired: u64) {
        self.store_dirty();
        let left = self.left_after(retired);
        self.b.ins().jump(label, &[BlockArg::Value(left)]);
        self.resume_at_label(label, retired);
    }

    /// Go on at the label `label` (instruction `retired`), reached only by jumps to it.
    fn resume_at_label(&mut self, label: IrBlock, retired: u64) {
        self.b.switch_to_block(label);
        self.left = self.b.block_params(label)[0];
        self.left_base = retired;
        self.regs = [None; 32];
        self.dirty = 0;
        self.env_fields.clear();
    }

    /// Go on at `offset` after `retired` instructions, the last of them at
    /// `from`: to its label when the block has one, back only while the budget covers
    /// a whole block (forward is always within the budget the block was entered with);
    /// through [`Translator::exit_to`] otherwise.
    fn go_to(&mut self, offset: u64, retired: u64, from: u64) {
        let Some(label) = self.label(offset) else {
            self.exit_to(offset, retired);
            return;
        };
        let left = self.left_after(retired);
        if offset > from {
            self.b.ins().jump(label, &[BlockArg::Value(left)]);
            return;
        }
        let room = self.room(left);
        let out = self.b.create_block();
        self.b
            .ins()
            .brif(room, label, &[BlockArg::Value(left)], out, &[]);
        self.b.switch_to_block(out);
        self.exit_to(offset, retired);
    }

    /// Go on at `offset` (from the block's entry) after `retired` instructions: straight
    /// into the linked block when the target is on this page, its cell is filled and the
    /// budget covers any block; otherwise return, naming the cell to fill. A target on
    /// another page goes through the jump cache.
    fn exit_to(&mut self, offset: u64, retired: u64) {
        let target = self.pc_at(offset);
        let left = self.left_after(retired);
        let in_page = (self.page_offset as i64).wrapping_add(offset as i64);
        if !(0..4096).contains(&in_page) {
            self.jump(target, left);
            return;
        }
        let (n, addr) = self.cells.alloc();
        let cell = self.b.ins().iconst(I64, addr as i64);
        let code = self.b.ins().load(I64, TRUSTED, cell, 0);
        let linked = self.b.ins().icmp_imm_s(IntCC::NotEqual, code, 0);
        let out = self.b.create_block();
        self.continue_if(linked, out);
        let room = self.room(left);
        self.continue_if(room, out);
        let args = [self.x, self.env, target, left];
        self.b
            .ins()
            .return_call_indirect(self.block_sig, code, &args);
        self.b.switch_to_block(out);
        self.exit_linking(target, left, n as i64 + 1);
    }

    /// Does budget `left` cover any block?
    fn room(&mut self, left: Value) -> Value {
        self.b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, left, MAX_BLOCK as i64)
    }

    /// Go on at `target`, a pc on another page or known only at run time: straight into
    /// the block the jump cache holds for it in the current jump epoch, when the budget
    /// covers any block; otherwise return (the run loop then finds the block and
    /// remembers the jump).
    fn jump(&mut self, target: Value, left: Value) {
        let h = self.layout;
        let out = self.b.create_block();
        // The slot, as `jump_slot` computes it.
        let low = self.b.ins().ushr_imm_u(target, JUMP_HASH_SHIFTS.0);
        let page = self.b.ins().ushr_imm_u(target, JUMP_HASH_SHIFTS.1);
        let mixed = self.b.ins().bxor(low, page);
        let slot = self.b.ins().band_imm_s(mixed, (JUMP_SLOTS - 1) as i64);
        let byte = self
            .b
            .ins()
            .ishl_imm_u(slot, JUMP_ENTRY_BYTES.trailing_zeros() as i64);
        // Loaded here rather than through `env_field`: an exit is off the block's
        // straight path, so a value loaded in it cannot serve later instructions.
        let table = self
            .b
            .ins()
            .load(I64, TRUSTED, self.env, h.jump_cache_offset);
        let entry = self.b.ins().iadd(table, byte);
        let pc = self.b.ins().load(I64, TRUSTED, entry, JUMP_ENTRY_PC);
        let epoch = self.b.ins().load(I64, TRUSTED, entry, JUMP_ENTRY_EPOCH);
        let now = self
            .b
            .ins()
            .load(I64, TRUSTED, self.env, h.jump_epoch_offset);
        let pc_differs = self.b.ins().bxor(pc, target);
        let epoch_differs = self.b.ins().bxor(epoch, now);
        let differs = self.b.ins().bor(pc_differs, epoch_differs);
        let hit = self.b.ins().icmp_imm_s(IntCC::Equal, differs, 0);
        self.continue_if(hit, out);
        let room = self.room(left);
        self.continue_if(room, out);
        if let Some(c) = h.counted {
            self.count_fetches(c, entry, target, left, out);
        }
        let code = self.b.ins().load(I64, TRUSTED, entry, JUMP_ENTRY_CODE);
        let args = [self.x, self.env, target, left];
        self.b
            .ins()
            .return_call_indirect(self.block_sig, code, &args);
        self.b.switch_to_block(out);
        self.exit(target, left);
    }

    /// The counted flavour's exit through jump-cache entry `entry` to `target`, passing
    /// budget `left` on: go to `out` unless the entry's fetch word names a fetch-run
    /// slot at its current version; otherwise count the fetches since the current
    /// slot's began in it and make the target's slot current (see [`CountedLayout`]).
    fn count_fetches(
        &mut self,
        c: CountedLayout,
        entry: Value,
        target: Value,
        left: Value,
        out: IrBlock,
    ) {
        let word = self.b.ins().load(I64, TRUSTED, entry, JUMP_ENTRY_FETCH);
        let run = self.b.ins().load(I64, TRUSTED, self.env, c.fetch_run);
        // The current slot's word: its fetches go on from where they began.
        let cur_word = self.b.ins().load(I64, TRUSTED, run, c.fetch_cur_word);
        let same = self.b.ins().icmp(IntCC::Equal, word, cur_word);
        let other = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(same, done, &[], other, &[]);
        self.b.switch_to_block(other);
        let slot = self.b.ins().band_imm_s(word, (1 << FETCH_SLOT_BITS) - 1);
        let slot_at = self.b.ins().ishl_imm_u(slot, 3);
        let slot_at = self.b.ins().iadd(run, slot_at);
        let version = self.b.ins().load(I64, TRUSTED, slot_at, c.fetch_versions);
        let named = self.b.ins().ushr_imm_u(word, FETCH_SLOT_BITS as i64);
        let current = self.b.ins().icmp(IntCC::Equal, version, named);
        self.continue_if(current, out);
        let cur = self.b.ins().load(I64, TRUSTED, run, c.fetch_cur);
        let cur_at = self.b.ins().ishl_imm_u(cur, 3);
        let cur_at = self.b.ins().iadd(run, cur_at);
        let from = self.b.ins().load(I64, TRUSTED, run, c.fetch_from);
        let fetched = self.b.ins().isub(from, left);
        let n = self.b.ins().load(I64, TRUSTED, cur_at, c.fetch_n);
        let n = self.b.ins().iadd(n, fetched);
        self.b.ins().store(TRUSTED, n, cur_at, c.fetch_n);
        self.b.ins().store(TRUSTED, left, cur_at, c.fetch_last);
        let touched = self.b.ins().load(I64, TRUSTED, run, c.fetch_touched);
        let one = self.b.ins().iconst(I64, 1);
        let bit = self.b.ins().ishl(one, slot);
        let touched = self.b.ins().bor(touched, bit);
        self.b.ins().store(TRUSTED, touched, run, c.fetch_touched);
        self.b.ins().store(TRUSTED, slot, run, c.fetch_cur);
        self.b.ins().store(TRUSTED, word, run, c.fetch_cur_word);
        self.b.ins().store(TRUSTED, left, run, c.fetch_from);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.b.ins().store(TRUSTED, target, run, c.fetch_at);
    }

    /// The environment's word at `offset` (tables, RAM, page map: fixed while a block
    /// runs), loaded once per block. Memory accesses are all on the block's straight
    /// path, so the first load dominates every later use.
    fn env_field(&mut self, offset: i32) -> Value {
        if let Some(&(_, v)) = self.env_fields.iter().find(|(o, _)| *o == offset) {
            return v;
        }
        let v = self.b.ins().load(I64, TRUSTED, self.env, offset);
        self.env_fields.push((offset, v));
        v
    }

    /// Go on in a new block when `cond` holds, to `otherwise` if not (a compare and a
    /// conditional jump: a branch on a compare result fuses, a branch on an `and` of two
    /// does not).
    fn continue_if(&mut self, cond: Value, otherwise: IrBlock) {
        let on = self.b.create_block();
        self.b.ins().brif(cond, on, &[], otherwise, &[]);
        self.b.switch_to_block(on);
    }

    /// The data-page cache lookup for `[va, va + size)` in the table at `table_offset`:
    /// goes to `miss` unless the entry is `va`'s page and the access stays in it, and
    /// returns the host address of the bytes. One compare checks both, as the
    /// interpreter's lookup does (`DataTlb::lookup`): the slot is `va`'s page's, the tag
    /// is compared with the page of the last byte.
    fn lookup(&mut self, table_offset: i32, va: Value, size: i64, miss: IrBlock) -> Value {
        let h = self.layout;
        // The entry's byte offset, ((va >> 12) & (slots - 1)) * 16, in two operations.
        let shifted = self.b.ins().ushr_imm_u(va, 12 - 4);
        let byte = self
            .b
            .ins()
            .band_imm_s(shifted, ((h.table_slots - 1) << 4) as i64);
        let table = self.env_field(table_offset);
        let entry = self.b.ins().iadd(table, byte);
        let tag = self.b.ins().load(I64, TRUSTED, entry, 0);
        let last = self.add_imm(va, size - 1);
        let last_vpn = self.b.ins().ushr_imm_u(last, 12);
        let same = self.b.ins().icmp(IntCC::Equal, tag, last_vpn);
        self.continue_if(same, miss);
        let addend = self.b.ins().load(I64, TRUSTED, entry, 8);
        let off = self.b.ins().iadd(va, addend);
        // With a data-miss call, the miss path joins the hit path again after this, so
        // a value loaded here does not reach later accesses: RAM's base is loaded per
        // access (loading it once before the first compare instead keeps one more
        // register busy through the block, which cost more: see docs/performance.md).
        let ram = if self.miss_call.is_some() {
            self.b.ins().load(I64, TRUSTED, self.env, h.ram_offset)
        } else {
            self.env_field(h.ram_offset)
        };
        self.b.ins().iadd(ram, off)
    }

    /// The unobserved flavour's host address of `[va, va + size)` for a load or a
    /// store: a hit in the data-page cache's table for the access type (the store table
    /// never holds a RAM page with decoded code: a store there is the interpreter's,
    /// which invalidates what was decoded); on a miss, what
    /// the data-miss function says (it may fill the table), through the routine that
    /// keeps every register; where that is 0, or without a data-miss function, the block
    /// leaves before the instruction (at `offset`, `retired` into the block).
    /// `to_leave`: a cold block that leaves too (an earlier check may branch there).
    fn data_host(
        &mut self,
        store: bool,
        va: Value,
        size: i64,
        (retired, offset): (u64, u64),
        to_leave: IrBlock,
    ) -> Value {
        let h = self.layout;
        let table = if store {
            h.store_table_offset
        } else {
            h.load_table_offset
        };
        let Some(routine_call) = self.miss_call else {
            let host = self.lookup(table, va, size, to_leave);
            self.leave_before(to_leave, retired, offset);
            return host;
        };
        let miss = self.cold_block();
        let join = self.b.create_block();
        let host = self.b.append_block_param(join, I64);
        let hit = self.lookup(table, va, size, miss);
        self.b.ins().jump(join, &[BlockArg::Value(hit)]);
        self.b.switch_to_block(miss);
        let at = self.call_miss(routine_call, va, size, store, None);
        self.b
            .ins()
            .brif(at, join, &[BlockArg::Value(at)], to_leave, &[]);
        self.b.switch_to_block(join);
        self.leave_before(to_leave, retired, offset);
        host
    }

    /// Call the environment's miss function for the access at `va` through the routine
    /// that keeps every register (`routine_call`: its signature and address): store the
    /// access in the environment's [`MissCall`] (with the instruction's `pc` for the
    /// counted flavour), call, and return what the function returned.
    fn call_miss(
        &mut self,
        (sig, routine): (SigRef, u64),
        va: Value,
        size: i64,
        store: bool,
        pc: Option<Value>,
    ) -> Value {
        let field = |f| f as i32;
        self.b
            .ins()
            .store(TRUSTED, va, self.env, field(offset_of!(MissCall, va)));
        let size = self.b.ins().iconst(I64, size);
        self.b
            .ins()
            .store(TRUSTED, size, self.env, field(offset_of!(MissCall, size)));
        let store = self.b.ins().iconst(I64, store as i64);
        self.b
            .ins()
            .store(TRUSTED, store, self.env, field(offset_of!(MissCall, store)));
        if let Some(pc) = pc {
            self.b
                .ins()
                .store(TRUSTED, pc, self.env, field(offset_of!(MissCall, pc)));
        }
        let routine = self.b.ins().iconst(I64, routine as i64);
        self.b
            .ins()
            .call_indirect(sig, routine, &[self.x, self.env]);
        self.b
            .ins()
            .load(I64, TRUSTED, self.env, field(offset_of!(MissCall, result)))
    }

    /// A cold block for a memory access's checks to branch to; `leave_before` fills it.
    fn cold_block(&mut self) -> IrBlock {
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        slow
    }

    /// Make `slow` leave before instruction `retired` (at `offset`), for the interpreter
    /// to run it, and carry on in the current block.
    fn leave_before(&mut self, slow: IrBlock, retired: u64, offset: u64) {
        let on = self.b.current_block();
        self.b.switch_to_block(slow);
        let here = self.pc_at(offset);
        let left = self.left_after(retired);
        let result = self.b.ins().bor_imm_s(left, EXIT_BEFORE as i64);
        let slot = self
            .b
            .ins()
            .iconst(I64, (self.index as u64 + offset / 2) as i64);
        let h = self.layout;
        self.b
            .ins()
            .store(TRUSTED, slot, self.env, h.pending_slot_offset);
        self.exit(here, result);
        if let Some(on) = on {
            self.b.switch_to_block(on);
        }
    }

    /// A guest load of `size` bytes at `va`, zero-extended; on a data-page cache miss
    /// the block leaves before the instruction.
    fn load_guest(&mut self, va: Value, size: i64, retired: u64, offset: u64) -> Value {
        if let Some(c) = self.counted {
            let host = self.counted_access(c, va, false, size, retired, offset);
            return self.load_host(host, size);
        }
        let slow = self.cold_block();
        let host = self.data_host(false, va, size, (retired, offset), slow);
        self.load_host(host, size)
    }

    /// `size` bytes of guest RAM at host address `host`, zero-extended.
    fn load_host(&mut self, host: Value, size: i64) -> Value {
        match size {
            1 => self.b.ins().uload8(I64, GUEST, host, 0),
            2 => self.b.ins().uload16(I64, GUEST, host, 0),
            4 => self.b.ins().uload32(GUEST, host, 0),
            _ => self.b.ins().load(I64, GUEST, host, 0),
        }
    }

    /// The counted flavour's load or store of `size` bytes at `va`: the host address of
    /// the bytes, once the access is counted in the run or through the miss function;
    /// otherwise the block leaves before the instruction (see [`CountedLayout`]).
    fn counted_access(
        &mut self,
        c: CountedLayout,
        va: Value,
        store: bool,
        size: i64,
        retired: u64,
        offset: u64,
    ) -> Value {
        let h = self.layout;
        // Loaded before the paths below part and join again, so they dominate later uses.
        let ram = self.env_field(h.ram_offset);
        let miss = self.cold_block();
        let out = self.cold_block();
        let join = self.b.create_block();
        let host = self.b.append_block_param(join, I64);
        // In the run: the run's page for the access's first byte holds the page of its
        // last byte for this type (so the access stays in the page).
        let run = self.env_field(c.run);
        let vpn = self.b.ins().ushr_imm_u(va, 12);
        let slot = self.b.ins().band_imm_s(vpn, c.page_mask as i64);
        let slot = self.b.ins().ishl_imm_u(slot, c.page_shift as i64);
        let page = self.b.ins().iadd(run, slot);
        let last_vpn = if size > 1 {
            let last = self.b.ins().iadd_imm_s(va, size - 1);
            self.b.ins().ushr_imm_u(last, 12)
        } else {
            vpn
        };
        let tag_at = c.pages + c.page_tags + if store { 8 } else { 0 };
        let tag = self.b.ins().load(I64, TRUSTED, page, tag_at);
        let hit = self.b.ins().icmp(IntCC::Equal, tag, last_vpn);
        self.continue_if(hit, miss);
        let addend = self
            .b
            .ins()
            .load(I64, TRUSTED, page, c.pages + c.page_addend);
        let off = self.b.ins().iadd(va, addend);
        let seq = self.b.ins().load(I64, TRUSTED, run, c.seq);
        let seq = self.b.ins().iadd_imm_s(seq, 1);
        self.b.ins().store(TRUSTED, seq, run, c.seq);
        self.b
            .ins()
            .store(TRUSTED, seq, page, c.pages + c.page_last);
        let n = self.b.ins().load(I64, TRUSTED, page, c.pages + c.page_n);
        let n = self.b.ins().iadd_imm_s(n, 1);
        self.b.ins().store(TRUSTED, n, page, c.pages + c.page_n);
        let at = self.b.ins().iadd(ram, off);
        self.b.ins().jump(join, &[BlockArg::Value(at)]);
        // Anything else: the miss function decides (without the routine that calls it,
        // the block leaves).
        self.b.switch_to_block(miss);
        match self.miss_call {
            Some(routine_call) => {
                let pc = self.pc_at(offset);
                let at = self.call_miss(routine_call, va, size, store, Some(pc));
                self.b
                    .ins()
                    .brif(at, join, &[BlockArg::Value(at)], out, &[]);
            }
            None => {
                self.b.ins().jump(out, &[]);
            }
        }
        self.b.switch_to_block(join);
        self.leave_before(out, retired, offset);
        host
    }

    /// A guest store; on a data-page cache miss, or to a page holding decoded code, the
    /// block leaves before the instruction.
    fn store_guest(&mut self, va: Value, value: Value, size: i64, retired: u64, offset: u64) {
        if let Some(c) = self.counted {
            let host = self.counted_access(c, va, true, size, retired, offset);
            self.store_host(host, value, size);
            return;
        }
        let slow = self.cold_block();
        let host = self.data_host(true, va, size, (retired, offset), slow);
        self.store_host(host, value, size);
    }

    /// Store the low `size` bytes of `value` to guest RAM at host address `host`.
    fn store_host(&mut self, host: Value, value: Value, size: i64) {
        match size {
            1 => self.b.ins().istore8(GUEST, value, host, 0),
            2 => self.b.ins().istore16(GUEST, value, host, 0),
            4 => self.b.ins().istore32(GUEST, value, host, 0),
            _ => self.b.ins().store(GUEST, value, host, 0),
        };
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
    fn divide(&mut self, k: OpKind, a: Value, b: Value, ty: types::Type) -> Value {
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.b.ins().iconst(ty, 1);
        // A zero divisor is replaced by 1 so the host never faults; the result is then
        // chosen below. Signed overflow (MIN / -1) gives MIN and remainder 0, which
        // is what the host computes for MIN / 1 after replacing -1 by 1.
        let mut safe = self.b.ins().select(zero, one, b);
        if matches!(k, OpKind::Div | OpKind::Rem | OpKind::Divw | OpKind::Remw) {
            let min = self.constant(ty, i64::MIN >> (64 - ty.bits()));
            let minus_one = self.constant(ty, -1);
            let a_min = self.b.ins().icmp(IntCC::Equal, a, min);
            let b_m1 = self.b.ins().icmp(IntCC::Equal, b, minus_one);
            let ovf = self.b.ins().band(a_min, b_m1);
            safe = self.b.ins().select(ovf, one, safe);
        }
        match k {
            OpKind::Div | OpKind::Divw | OpKind::Divu | OpKind::Divuw => {
                let q = if matches!(k, OpKind::Div | OpKind::Divw) {
                    self.b.ins().sdiv(a, safe)
                } else {
                    self.b.ins().udiv(a, safe)
                };
                let all = self.constant(ty, -1);
                self.b.ins().select(zero, all, q)
            }
            _ => {
                let r = if matches!(k, OpKind::Rem | OpKind::Remw) {
                    self.b.ins().srem(a, safe)
                } else {
                    self.b.ins().urem(a, safe)
                };
                self.b.ins().select(zero, a, r)
            }
        }
    }

    /// Emit `insns` as one block: each instruction by its class's emitter, until a jump
    /// ends the block or an instruction it does not compile is reached.
    fn block(&mut self, insns: &[Insn]) {
        use OpKind::*;
        self.find_labels(insns);
        let mut offset = 0u64;
        // False after a jump, up to the next label: code only a jump inside the block
        // reaches (see `block_insns` in `cpu/jit_glue.rs`), or none.
        let mut reached = true;
        for (i, op) in insns.iter().enumerate() {
            let retired = i as u64;
            match self.label(offset) {
                Some(label) if reached => self.enter_label(label, retired),
                Some(label) => {
                    self.resume_at_label(label, retired);
                    reached = true;
                }
                None if reached => {}
                None => {
                    offset += op.len as u64;
                    continue;
                }
            }
            if !op.k.is_register_arithmetic() {
                // It may leave the block (or, a branch, jump inside it).
                self.store_dirty();
            }
            match op.k {
                Lui | Auipc => self.emit_upper(op, offset),
                Jal | Jalr => {
                    self.emit_jump(op, retired, offset);
                    reached = false;
                }
                Beq | Bne | Blt | Bge | Bltu | Bgeu => self.emit_branch(op, retired, offset),
                Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => self.emit_load(op, retired, offset),
                Sb | Sh | Sw | Sd => self.emit_store(op, retired, offset),
                AmoW | AmoD => self.emit_amo(op, retired, offset),
                Addi | Slti | Sltiu | Xori | Ori | Andi | Slli | Srli | Srai => {
                    self.emit_alu_imm(op)
                }
                Add | Sub | Sll | Slt | Sltu | Xor | Srl | Sra | Or | And => self.emit_alu_reg(op),
                Addiw | Slliw | Srliw | Sraiw => self.emit_alu_imm_w(op),
                Addw | Subw | Sllw | Srlw | Sraw => self.emit_alu_reg_w(op),
                Mul | Mulh | Mulhsu | Mulhu | Div | Divu | Rem | Remu | Mulw | Divw | Divuw
                | Remw | Remuw => self.emit_mul_div(op),
                // Harts run in turns, so memory is always ordered.
                Fence => {}
                // Not compiled (`jit_compiles`): a block never holds them.
                Empty | PageEnd | Illegal | FenceI | Ecall | Ebreak | Mret | Sret | Wfi
                | SfenceVma | Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci | LrW | ScW
                | LrD | ScD | Flw | Fld | Fsw | Fsd | FpOp => {
                    self.exit_to(offset, retired);
                    return;
                }
            }
            offset += op.len as u64;
        }
        // Ran to the block's limit or up to something not compiled.
        if reached {
            self.store_dirty();
            self.exit_to(offset, insns.len() as u64);
        }
    }

    // The emitters, one per class of op, called by `block` for an op of that class only.
    // `retired` is the number of instructions before `op` in the block, `offset` its byte
    // offset from the block's entry.

    /// LUI, AUIPC.
    fn emit_upper(&mut self, op: &Insn, offset: u64) {
        let imm = op.imm as i64;
        let v = if op.k == OpKind::Lui {
            self.b.ins().iconst(I64, imm)
        } else {
            self.pc_at(offset.wrapping_add(imm as u64))
        };
        self.set(op.rd, v)
    }

    /// JAL, JALR: both leave the straight path (what follows is reached, if at all, by
    /// a jump to a label).
    fn emit_jump(&mut self, op: &Insn, retired: u64, offset: u64) {
        let imm = op.imm as i64;
        let link_offset = offset + op.len as u64;
        if op.k == OpKind::Jal {
            let link = self.pc_at(link_offset);
            self.set(op.rd, link);
            self.store_dirty();
            self.go_to(offset.wrapping_add(imm as u64), retired + 1, offset);
        } else {
            let a = self.get(op.rs1);
            let t = self.add_imm(a, imm);
            let target = self.b.ins().band_imm_s(t, !1);
            let link = self.pc_at(link_offset);
            self.set(op.rd, link);
            self.store_dirty();
            let left = self.left_after(retired + 1);
            self.jump(target, left);
        }
    }

    /// The conditional branches: taken leaves the block, not taken carries on in it.
    fn emit_branch(&mut self, op: &Insn, retired: u64, offset: u64) {
        let cc = match op.k {
            OpKind::Beq => IntCC::Equal,
            OpKind::Bne => IntCC::NotEqual,
            OpKind::Blt => IntCC::SignedLessThan,
            OpKind::Bge => IntCC::SignedGreaterThanOrEqual,
            OpKind::Bltu => IntCC::UnsignedLessThan,
            _ => IntCC::UnsignedGreaterThanOrEqual,
        };
        let a = self.get(op.rs1);
        let b = self.get(op.rs2);
        let taken = self.b.ins().icmp(cc, a, b);
        let out = self.b.create_block();
        let on = self.b.create_block();
        self.b.ins().brif(taken, out, &[], on, &[]);
        self.b.switch_to_block(out);
        self.go_to(
            offset.wrapping_add(op.imm as i64 as u64),
            retired + 1,
            offset,
        );
        self.b.switch_to_block(on);
    }

    /// The integer loads.
    fn emit_load(&mut self, op: &Insn, retired: u64, offset: u64) {
        let size = match op.k {
            OpKind::Lb | OpKind::Lbu => 1,
            OpKind::Lh | OpKind::Lhu => 2,
            OpKind::Lw | OpKind::Lwu => 4,
            _ => 8,
        };
        let a = self.get(op.rs1);
        let va = self.add_imm(a, op.imm as i64);
        let raw = self.load_guest(va, size, retired, offset);
        let v = match op.k {
            OpKind::Lb => {
                let n = self.b.ins().ireduce(types::I8, raw);
                self.b.ins().sextend(I64, n)
            }
            OpKind::Lh => {
                let n = self.b.ins().ireduce(types::I16, raw);
                self.b.ins().sextend(I64, n)
            }
            OpKind::Lw => self.sext32(raw),
            _ => raw,
        };
        self.set(op.rd, v);
    }

    /// The integer stores.
    fn emit_store(&mut self, op: &Insn, retired: u64, offset: u64) {
        let size = match op.k {
            OpKind::Sb => 1,
            OpKind::Sh => 2,
            OpKind::Sw => 4,
            _ => 8,
        };
        let a = self.get(op.rs1);
        let value = self.get(op.rs2);
        let va = self.add_imm(a, op.imm as i64);
        self.store_guest(va, value, size, retired, offset);
    }

    /// AMO*.W/D: read-modify-write at x[rs1], naturally aligned, on a page the store
    /// table holds (a writable page is readable). Harts run in turns, so the access is
    /// atomic as it stands; LR/SC (the reservation) stay with the interpreter.
    fn emit_amo(&mut self, op: &Insn, retired: u64, offset: u64) {
        let size: i64 = if op.k == OpKind::AmoW { 4 } else { 8 };
        let va = self.get(op.rs1);
        let src = self.get(op.rs2);
        // A misaligned AMO is the interpreter's: it raises the exception before any
        // translation.
        let slow = self.cold_block();
        let low_bits = self.b.ins().band_imm_s(va, size - 1);
        let aligned = self.b.ins().icmp_imm_s(IntCC::Equal, low_bits, 0);
        self.continue_if(aligned, slow);
        let host = match self.counted {
            // A writable page is readable: the store table's entry serves both.
            None => self.data_host(true, va, size, (retired, offset), slow),
            // An AMO translates once, as a store (`Hart::amo`), so in the counted run it
            // is one store access.
            Some(c) => {
                self.leave_before(slow, retired, offset);
                self.counted_access(c, va, true, size, retired, offset)
            }
        };
        // Both operands as the interpreter takes them: a word sign-extended to 64 bits
        // (which keeps the order of the unsigned compares too).
        let (old, b) = if size == 4 {
            let raw = self.b.ins().sload32(GUEST, host, 0);
            (raw, self.sext32(src))
        } else {
            (self.b.ins().load(I64, GUEST, host, 0), src)
        };
        let new = match AmoOp::from_imm(op.imm) {
            AmoOp::Swap => b,
            AmoOp::Add => self.b.ins().iadd(old, b),
            AmoOp::Xor => self.b.ins().bxor(old, b),
            AmoOp::And => self.b.ins().band(old, b),
            AmoOp::Or => self.b.ins().bor(old, b),
            AmoOp::Min => self.b.ins().smin(old, b),
            AmoOp::Max => self.b.ins().smax(old, b),
            AmoOp::Minu => self.b.ins().umin(old, b),
            AmoOp::Maxu => self.b.ins().umax(old, b),
        };
        if size == 4 {
            self.b.ins().istore32(GUEST, new, host, 0);
        } else {
            self.b.ins().store(GUEST, new, host, 0);
        }
        self.set(op.rd, old);
    }

    /// OP-IMM: rd = rs1 op imm.
    fn emit_alu_imm(&mut self, op: &Insn) {
        let imm = op.imm as i64;
        let a = self.get(op.rs1);
        let v = match op.k {
            OpKind::Addi => self.add_imm(a, imm),
            OpKind::Slti => {
                let c = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, a, imm);
                self.b.ins().uextend(I64, c)
            }
            OpKind::Sltiu => {
                let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, a, imm);
                self.b.ins().uextend(I64, c)
            }
            OpKind::Xori => self.b.ins().bxor_imm_s(a, imm),
            OpKind::Ori => self.b.ins().bor_imm_s(a, imm),
            OpKind::Andi => self.b.ins().band_imm_s(a, imm),
            OpKind::Slli => self.b.ins().ishl_imm_u(a, imm & 63),
            OpKind::Srli => self.b.ins().ushr_imm_u(a, imm & 63),
            _ => self.b.ins().sshr_imm_u(a, imm & 63),
        };
        self.set(op.rd, v);
    }

    /// OP without the M extension: rd = rs1 op rs2.
    fn emit_alu_reg(&mut self, op: &Insn) {
        let a = self.get(op.rs1);
        let b = self.get(op.rs2);
        let v = match (op.k, op.rs1 & 31, op.rs2 & 31) {
            // x0 as the identity operand: `mv` is `add rd, x0, rs2` in its compressed
            // form (`c.mv`). Folded here, since no optimiser runs (see `add_imm`).
            (OpKind::Add | OpKind::Or | OpKind::Xor, 0, _) => b,
            (OpKind::Add | OpKind::Or | OpKind::Xor | OpKind::Sub, _, 0) => a,
            (OpKind::Add, _, _) => self.b.ins().iadd(a, b),
            (OpKind::Sub, _, _) => self.b.ins().isub(a, b),
            // Cranelift's shifts take the amount modulo the width, as RISC-V does.
            (OpKind::Sll, _, _) => self.b.ins().ishl(a, b),
            (OpKind::Slt, _, _) => self.bool64(IntCC::SignedLessThan, a, b),
            (OpKind::Sltu, _, _) => self.bool64(IntCC::UnsignedLessThan, a, b),
            (OpKind::Xor, _, _) => self.b.ins().bxor(a, b),
            (OpKind::Srl, _, _) => self.b.ins().ushr(a, b),
            (OpKind::Sra, _, _) => self.b.ins().sshr(a, b),
            (OpKind::Or, _, _) => self.b.ins().bor(a, b),
            _ => self.b.ins().band(a, b),
        };
        self.set(op.rd, v);
    }

    /// OP-IMM-32: a 32-bit result, sign-extended.
    fn emit_alu_imm_w(&mut self, op: &Insn) {
        let imm = op.imm as i64;
        let a = self.get(op.rs1);
        let v = if op.k == OpKind::Addiw {
            let s = self.add_imm(a, imm);
            self.sext32(s)
        } else {
            let w = self.b.ins().ireduce(I32, a);
            let sh = imm & 31;
            let r = match op.k {
                OpKind::Slliw => self.b.ins().ishl_imm_u(w, sh),
                OpKind::Srliw => self.b.ins().ushr_imm_u(w, sh),
                _ => self.b.ins().sshr_imm_u(w, sh),
            };
            self.b.ins().sextend(I64, r)
        };
        self.set(op.rd, v);
    }

    /// OP-32 without the M extension: a 32-bit result, sign-extended.
    fn emit_alu_reg_w(&mut self, op: &Insn) {
        let a = self.get(op.rs1);
        let b = self.get(op.rs2);
        let v = match op.k {
            OpKind::Addw => {
                let s = self.b.ins().iadd(a, b);
                self.sext32(s)
            }
            OpKind::Subw => {
                let s = self.b.ins().isub(a, b);
                self.sext32(s)
            }
            _ => {
                let w = self.b.ins().ireduce(I32, a);
                let sh = self.b.ins().ireduce(I32, b);
                let r = match op.k {
                    OpKind::Sllw => self.b.ins().ishl(w, sh),
                    OpKind::Srlw => self.b.ins().ushr(w, sh),
                    _ => self.b.ins().sshr(w, sh),
                };
                self.b.ins().sextend(I64, r)
            }
        };
        self.set(op.rd, v);
    }

    /// The M extension, 64- and 32-bit.
    fn emit_mul_div(&mut self, op: &Insn) {
        let a = self.get(op.rs1);
        let b = self.get(op.rs2);
        let v = match op.k {
            OpKind::Mul => self.b.ins().imul(a, b),
            OpKind::Mulh => self.b.ins().smulhi(a, b),
            OpKind::Mulhu => self.b.ins().umulhi(a, b),
            OpKind::Mulhsu => {
                // high(a signed * b unsigned) = high(a * b unsigned) - (a < 0 ? b : 0)
                let hi = self.b.ins().umulhi(a, b);
                let sign = self.b.ins().sshr_imm_u(a, 63);
                let fix = self.b.ins().band(sign, b);
                self.b.ins().isub(hi, fix)
            }
            OpKind::Mulw => {
                let p = self.b.ins().imul(a, b);
                self.sext32(p)
            }
            OpKind::Div | OpKind::Divu | OpKind::Rem | OpKind::Remu => self.divide(op.k, a, b, I64),
            _ => {
                let a = self.b.ins().ireduce(I32, a);
                let b = self.b.ins().ireduce(I32, b);
                let r = self.divide(op.k, a, b, I32);
                self.b.ins().sextend(I64, r)
            }
        };
        self.set(op.rd, v);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn layout() -> EnvLayout {
        EnvLayout {
            pc_offset: 0,
            link_offset: 8,
            load_table_offset: 16,
            store_table_offset: 24,
            ram_offset: 32,
            page_map_offset: 40,
            page_map_len_offset: 48,
            jump_cache_offset: 56,
            jump_epoch_offset: 64,
            pending_slot_offset: 72,
            table_slots: 256,
            counted: None,
            data_miss: false,
        }
    }

    /// A 4-byte instruction.
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

    fn addi() -> Insn {
        op(OpKind::Addi, 5, 5, 0, 1)
    }

    /// The environment of `layout()`, with the jump cache of `jit` and no jump epoch
    /// any entry was made in.
    fn test_env(jit: &Jit) -> [u64; 10] {
        let mut env = [0u64; 10];
        env[7] = jit.jump_cache() as u64;
        env[8] = u64::MAX - 1;
        env
    }

    /// Run `block` at pc 0x1000 with budget 100: the budget left.
    fn run_at_0x1000(jit: &Jit, block: &Block, x: &mut [u64; 32], env: &mut [u64]) -> u64 {
        // SAFETY: `block` is a current block of `jit`; `x` holds 32 registers and `env`
        // follows the layout `jit` compiles for, `layout()` or the counted one of
        // `counted_exits_count_fetches_by_the_slot_they_leave` (its tables and data run
        // are never read: the blocks here access no memory; the fetch run it points at
        // is alive), and both outlive the call.
        unsafe {
            jit.run(
                block,
                x.as_mut_ptr(),
                env.as_mut_ptr() as *mut u8,
                0x1000,
                100,
            )
        }
    }

    /// A quick block counts its own entries: due for Cranelift at `--jit-hot` entries in
    /// all, it leaves before its first instruction until sent, and once Cranelift's
    /// block is in, the quick block's entry leads there. When quick blocks run out, only
    /// quick code is thrown away: its entries count afresh, Cranelift's blocks stay, and
    /// links and jump-cache entries into quick code are emptied.
    #[test]
    fn quick_blocks_count_their_entries_and_make_way_for_cranelifts() {
        // Below `COMPILE_HERE_BELOW`: Cranelift compiles at once, on this thread.
        let mut jit = Jit::new(layout(), 50, 1 << 16).expect("Cranelift for the host");
        jit.enable_quick(2);
        let body = [addi(), addi()];
        // Slot 1: Cranelift's block.
        assert!(jit.compile(1, 0, &body, 7));
        let cranelift = jit.compiled(1).expect("compiled");
        assert!(!cranelift.quick);
        // Slot 2: quick code, entered until Cranelift's is due.
        assert!(jit.compile_quick(2, &body, 7));
        let quick = jit.compiled(2).expect("quick code");
        assert!(quick.quick);
        let (mut x, mut env) = ([0u64; 32], test_env(&jit));
        let ran = (0..)
            .take_while(|_| run_at_0x1000(&jit, &quick, &mut x, &mut env) == 98)
            .count();
        assert_eq!(ran + 1 + 2, 50, "due at the 50th entry in all");
        assert_eq!(x[5], 2 * ran as u64, "the due entry ran nothing");
        assert_eq!(env[0], 0x1000, "it resumes at its entry");
        assert!(jit.due(&quick) && jit.due(&quick), "due until taken");
        assert!(jit.take_due(&quick));
        assert!(!jit.due(&quick));
        // Cranelift's block replaces it, and the quick block's entry leads there.
        assert!(jit.compile(2, 0, &body, 7));
        assert!(!jit.compiled(2).expect("replaced").quick);
        // (A count that would stop the quick block at once: its code is not run.)
        jit.quick
            .as_mut()
            .expect("quick tier")
            .set_count(quick.id, 1);
        let before = x[5];
        assert_eq!(run_at_0x1000(&jit, &quick, &mut x, &mut env), 98);
        assert_eq!(x[5], before + 2);
        // A link and a jump-cache entry to quick code.
        assert!(jit.compile_quick(3, &body, 7));
        let third = jit.compiled(3).expect("quick code");
        jit.remember_jump(0x3000, 5, &third, 0);
        let cell = || {
            jit.cells
                .get(0)
                .expect("Cranelift's blocks have link cells")
        };
        cell().store(third.code as u64, Ordering::Relaxed);
        // Fill the quick blocks (slot 2's was the first), then one more.
        for index in 4..2 + MAX_QUICK_BLOCKS {
            assert!(jit.compile_quick(index, &body, 7));
        }
        assert_eq!(jit.stats.quick_restarts, 0);
        let last = 2 + MAX_QUICK_BLOCKS;
        assert!(jit.compile_quick(last, &body, 7));
        assert_eq!(jit.stats.quick_restarts, 1);
        assert!(jit.compiled(3).is_none(), "old quick code forgotten");
        assert!(matches!(jit.entry(3), Entry::Cold), "counted afresh");
        assert!(jit.compiled(last).is_some_and(|b| b.quick));
        for index in [1, 2] {
            let kept = jit.compiled(index).expect("Cranelift's block kept");
            assert!(!kept.quick);
        }
        assert_eq!(jit.compiled(1).map(|b| b.code), Some(cranelift.code));
        let cell = jit.cells.get(0).expect("link cells kept");
        assert_eq!(
            cell.load(Ordering::Relaxed),
            0,
            "the link into quick code emptied"
        );
        assert_eq!(
            jit.jumps[jump_slot(0x3000)].epoch,
            u64::MAX,
            "the jump emptied"
        );
    }

    /// A block may go on past a jump to code that a branch before it leads to (the other
    /// arm of an `if`/`else`): the jump leaves, the branch lands on that code inside the
    /// block, and code after the jump that no branch reaches is never run.
    #[test]
    fn a_block_goes_on_past_a_jump_to_code_a_branch_reaches() {
        use OpKind::*;
        let insns = [
            op(Bne, 0, 1, 0, 16),    // 0x1000: to 0x1010 when x1 != 0
            op(Addi, 5, 0, 0, 1),    // 0x1004
            op(Jal, 0, 0, 0, 0x100), // 0x1008: leaves for 0x1108
            op(Addi, 8, 0, 0, 3),    // 0x100c: reached by nothing
            op(Addi, 6, 0, 0, 7),    // 0x1010
            op(Addi, 7, 6, 0, 1),    // 0x1014
        ];
        let mut jit = Jit::new(layout(), 1, 1 << 16).expect("Cranelift for the host");
        assert!(jit.compile(1, 0, &insns, 7));
        let block = jit.compiled(1).expect("compiled");
        for (x1, left, pc, x5, x6, x7) in
            [(1, 100 - 3, 0x1018, 0, 7, 8), (0, 100 - 3, 0x1108, 1, 0, 0)]
        {
            let (mut x, mut env) = ([0u64; 32], test_env(&jit));
            x[1] = x1;
            assert_eq!(
                run_at_0x1000(&jit, &block, &mut x, &mut env),
                left,
                "x1 = {x1}"
            );
            assert_eq!(env[0], pc, "x1 = {x1}: resumes there");
            assert_eq!((x[5], x[6], x[7], x[8]), (x5, x6, x7, 0), "x1 = {x1}");
        }
    }

    /// Cranelift's inline data-page lookup finds the entry of the access's page (one
    /// whose number sets every bit of the slot index) and hits for accesses that end on
    /// the page's last byte; one byte further, the access crosses into the next page and
    /// leaves before the instruction, as does a store to a page cached only for loads.
    #[test]
    fn inline_lookups_hit_up_to_the_pages_last_byte() {
        use OpKind::*;
        let slots = layout().table_slots as usize;
        // Page `base`: RAM 0..4K, loads only; `base + 1`: RAM 4K..8K, loads and stores.
        let base = 0x4_0000 | (slots as u64 - 2);
        let mut load = vec![[u64::MAX, 0]; slots];
        let mut store = vec![[u64::MAX, 0]; slots];
        for (page, ram_off) in [(base, 0u64), (base + 1, 0x1000)] {
            let entry = [page, ram_off.wrapping_sub(page << 12)];
            load[page as usize % slots] = entry;
            if ram_off != 0 {
                store[page as usize % slots] = entry;
            }
        }
        let run = |insns: &[Insn], x: &mut [u64; 32], ram: &mut Vec<u8>| {
            let mut jit = Jit::new(layout(), 1, 1 << 16).expect("Cranelift for the host");
            assert!(jit.compile(1, 0, insns, 7));
            let block = jit.compiled(1).expect("compiled");
            let mut env = test_env(&jit);
            env[2] = load.as_ptr() as u64;
            env[3] = store.as_ptr() as u64;
            env[4] = ram.as_mut_ptr() as u64;
            let left = run_at_0x1000(&jit, &block, x, &mut env);
            (left, env[0])
        };
        let mut ram: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
        let byte = |ram: &Vec<u8>, at: usize, n: usize| {
            ram[at..at + n]
                .iter()
                .rev()
                .fold(0u64, |v, &b| v << 8 | b as u64)
        };
        let mut x = [0u64; 32];
        x[1] = (base << 12) + 0xff0;
        x[2] = ((base + 1) << 12) + 0xff0;
        x[3] = 0x1122_3344_5566_7788;
        let insns = [
            op(Ld, 5, 1, 0, 8),
            op(Lhu, 6, 1, 0, 14),
            op(Sd, 0, 2, 3, 8),
            op(Lw, 7, 2, 0, 12),
            op(Addi, 8, 0, 0, 9),
        ];
        let (left, _) = run(&insns, &mut x, &mut ram);
        assert_eq!(left, 100 - 5, "every access hit");
        assert_eq!(x[5], byte(&ram, 0xff8, 8));
        assert_eq!(x[6], byte(&ram, 0xffe, 2));
        assert_eq!(byte(&ram, 0x1ff8, 8), 0x1122_3344_5566_7788);
        assert_eq!(x[7], 0x1122_3344);
        assert_eq!(x[8], 9);
        for (second, name) in [
            (op(Lhu, 6, 1, 0, 15), "a load over the page's end"),
            (op(Sd, 0, 2, 3, 9), "a store over the page's end"),
            (op(Sw, 0, 1, 3, 0), "a store to a page cached for loads"),
        ] {
            let mut x = x;
            x[8] = 0;
            let insns = [op(Ld, 5, 1, 0, 8), second, op(Addi, 8, 0, 0, 9)];
            let (left, pc) = run(&insns, &mut x, &mut ram);
            assert_eq!(left, (100 - 1) | EXIT_BEFORE, "{name}");
            assert_eq!(pc, 0x1004, "{name}");
            assert_eq!(x[8], 0, "{name}: the third instruction did not run");
        }
    }

    /// Words of a [`MissCall`], which starts the environment.
    const MISS_WORDS: usize = size_of::<MissCall>() / 8;

    /// `layout()` after a [`MissCall`], for a data-miss function.
    fn layout_with_miss_call() -> EnvLayout {
        let l = layout();
        let at = |offset: i32| offset + 8 * MISS_WORDS as i32;
        EnvLayout {
            pc_offset: at(l.pc_offset),
            link_offset: at(l.link_offset),
            load_table_offset: at(l.load_table_offset),
            store_table_offset: at(l.store_table_offset),
            ram_offset: at(l.ram_offset),
            page_map_offset: at(l.page_map_offset),
            page_map_len_offset: at(l.page_map_len_offset),
            jump_cache_offset: at(l.jump_cache_offset),
            jump_epoch_offset: at(l.jump_epoch_offset),
            pending_slot_offset: at(l.pending_slot_offset),
            data_miss: true,
            ..l
        }
    }

    /// A data-miss function for the tests below: counts its calls in the environment's
    /// last word and maps page 7 to the first page of RAM (the environment's RAM
    /// pointer), for loads that stay on it. It clobbers every register a C function may,
    /// so that a caller relying on one of them fails.
    extern "C" fn page_7_for_loads(env: *mut u8, va: u64, size: u64, store: u64, _pc: u64) -> u64 {
        let env = env as *mut u64;
        // SAFETY: the tests' environment has `MISS_WORDS + 11` words, RAM's pointer at
        // word `MISS_WORDS + 4`.
        let result = unsafe {
            *env.add(MISS_WORDS + 10) += 1;
            if va >> 12 == 7 && store == 0 && (va & 0xfff) + size <= 0x1000 {
                *env.add(MISS_WORDS + 4) + (va & 0xfff)
            } else {
                0
            }
        };
        // SAFETY: only writes registers the C convention lets a callee clobber, which
        // are declared so.
        unsafe {
            std::arch::asm!(
                "mov rcx, -1", "mov rdx, -1", "mov rsi, -1", "mov rdi, -1",
                "mov r8, -1", "mov r9, -1", "mov r10, -1", "mov r11, -1",
                "pcmpeqd xmm0, xmm0", "pcmpeqd xmm15, xmm15",
                out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                out("xmm0") _, out("xmm15") _,
            );
        }
        result
    }

    /// Compile `insns` at slot `index` as quick code or Cranelift's, with a data-miss
    /// function and an empty data-page cache, run them at pc 0x1000 with budget 100 over
    /// the 4 KiB `ram`: (the budget left, the resume pc, calls of the data-miss function).
    fn run_with_miss_fn(
        jit: &mut Jit,
        quick: bool,
        insns: &[Insn],
        x: &mut [u64; 32],
        ram: &mut [u8],
    ) -> (u64, u64, u64) {
        let index = 1 + jit.blocks.len() + jit.quick_blocks.len();
        if quick {
            assert!(jit.compile_quick(index, insns, 7));
        } else {
            assert!(jit.compile(index, 0, insns, 7));
        }
        let block = jit.compiled(index).expect("compiled");
        let empty = vec![[u64::MAX, 0]; jit.layout.table_slots as usize];
        let mut env = [0u64; MISS_WORDS + 11];
        env[0] = page_7_for_loads as *const () as usize as u64;
        env[MISS_WORDS..MISS_WORDS + 10].copy_from_slice(&test_env(jit));
        env[MISS_WORDS + 2] = empty.as_ptr() as u64;
        env[MISS_WORDS + 3] = empty.as_ptr() as u64;
        env[MISS_WORDS + 4] = ram.as_mut_ptr() as u64;
        // SAFETY: `block` is current; `env` follows `layout_with_miss_call()` (its tables
        // and RAM outlive the call) and `x` holds 32 registers.
        let left = unsafe {
            jit.run(
                &block,
                x.as_mut_ptr(),
                env.as_mut_ptr() as *mut u8,
                0x1000,
                100,
            )
        };
        (left, env[MISS_WORDS], env[MISS_WORDS + 10])
    }

    /// With a data-miss function, a load or store that misses the data-page cache (empty
    /// here) asks it, in quick code and in Cranelift's: on a host address the block goes
    /// on with it, on 0 it leaves before the instruction.
    #[test]
    fn a_miss_asks_the_data_miss_function() {
        use OpKind::*;
        let mut ram: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
        let word = u64::from_le_bytes(ram[0xff8..0x1000].try_into().unwrap());
        for quick in [false, true] {
            let mut jit = Jit::new(layout_with_miss_call(), 50, 1 << 16).expect("Cranelift");
            jit.enable_quick(2);
            let mut x = [0u64; 32];
            x[1] = 0x7ff0;
            let insns = [op(Ld, 5, 1, 0, 8), op(Addi, 8, 0, 0, 9)];
            let (left, _, calls) = run_with_miss_fn(&mut jit, quick, &insns, &mut x, &mut ram);
            assert_eq!((left, calls), (98, 1), "quick: {quick}");
            assert_eq!((x[5], x[8]), (word, 9), "quick: {quick}");
            for (second, name) in [
                (op(Sd, 0, 1, 5, 0), "a store"),
                (op(Lhu, 6, 1, 0, 15), "a load over the page's end"),
                (op(Ld, 6, 0, 0, 0x100), "a load from another page"),
            ] {
                let mut x = x;
                x[8] = 0;
                let insns = [op(Ld, 5, 1, 0, 8), second, op(Addi, 8, 0, 0, 9)];
                let (left, pc, calls) = run_with_miss_fn(&mut jit, quick, &insns, &mut x, &mut ram);
                assert_eq!(left, (100 - 1) | EXIT_BEFORE, "{name}, quick: {quick}");
                assert_eq!((pc, calls), (0x1004, 2), "{name}, quick: {quick}");
                assert_eq!(x[8], 0, "{name}: the third instruction did not run");
            }
        }
    }

    /// Cranelift's block keeps the values it holds in host registers across the call of
    /// the data-miss function (whose callee clobbers all it may): registers written
    /// before a load that misses are added to after it. (A few values take the
    /// registers a call may clobber, many take the others too.)
    #[test]
    fn a_data_miss_call_keeps_every_host_register() {
        use OpKind::*;
        let mut ram = vec![5u8; 4096];
        for live in [3u8, 15] {
            let mut jit = Jit::new(layout_with_miss_call(), 50, 1 << 16).expect("Cranelift");
            let regs = 10..10 + live;
            let mut insns: Vec<Insn> = regs.clone().map(|r| op(Addi, r, r, 0, 1)).collect();
            insns.push(op(Lbu, 5, 1, 0, 8));
            insns.extend(regs.clone().map(|r| op(Add, r, r, 5, 0)));
            let mut x = [0u64; 32];
            x[1] = 0x7000;
            for r in regs.clone() {
                x[r as usize] = 100 * r as u64;
            }
            let (left, _, calls) = run_with_miss_fn(&mut jit, false, &insns, &mut x, &mut ram);
            assert_eq!((left, calls), (100 - insns.len() as u64, 1));
            for r in regs {
                assert_eq!(x[r as usize], 100 * r as u64 + 1 + 5, "x{r} of {live}");
            }
        }
    }

    /// A counted exit through the jump cache goes on when the entry's fetch word names a
    /// fetch-run slot at the version the run holds: the fetches since the current slot's
    /// began are counted there, and the target's slot becomes current; when the word is
    /// the current slot's, its fetches simply go on. Otherwise it returns, the run
    /// untouched. Cranelift's blocks and quick code alike.
    #[test]
    fn counted_exits_count_fetches_by_the_slot_they_leave() {
        use crate::mmu::page_caches::FetchRun;
        let counted = crate::cpu::counted_layout(80, 88);
        let layout = EnvLayout {
            counted: Some(counted),
            ..layout()
        };
        let mut jit = Jit::new(layout, 50, 1 << 16).expect("Cranelift for the host");
        jit.enable_quick(2);
        // At 0x1000: an addi, then a jump to 0x2000 (slot 1 Cranelift's, 2 quick code);
        // at 0x2000, two more, then on to 0x2008, where no block is.
        let jump = op(OpKind::Jal, 0, 0, 0, 0x1000 - 4);
        assert!(jit.compile(1, 0, &[addi(), jump], 7));
        assert!(jit.compile_quick(2, &[addi(), jump], 7));
        assert!(jit.compile(3, 0, &[addi(), addi()], 7));
        let next = jit.compiled(3).expect("compiled");
        let word = 9 << FETCH_SLOT_BITS | 5;
        jit.remember_jump(0x2000, 5, &next, word);
        for index in [1, 2] {
            let block = jit.compiled(index).expect("compiled");
            // The version the run holds for slot 5, and whether slot 5 is current.
            for (version, current) in [(9, false), (8, false), (9, true)] {
                let mut fetch_run = FetchRun::new();
                fetch_run.versions[5] = version;
                fetch_run.open(100);
                if current {
                    assert!(fetch_run.go_on(word, 100, 0x1000));
                }
                let mut env = [0u64; 12];
                env[7] = jit.jump_cache() as u64;
                env[8] = 5;
                env[11] = &mut *fetch_run as *mut FetchRun as u64;
                let mut x = [0u64; 32];
                let result = run_at_0x1000(&jit, &block, &mut x, &mut env);
                let went_on = version == 9;
                let (left, pc) = if went_on { (96, 0x2008) } else { (98, 0x2000) };
                assert_eq!(
                    (result, env[0]),
                    (left, pc),
                    "block {index}, version {version}, current {current}"
                );
                let batch = FetchRun::BATCH as usize;
                if !went_on {
                    assert_eq!(x[5], 1);
                    assert_eq!((fetch_run.n[batch], fetch_run.cur), (0, FetchRun::BATCH));
                    assert!(!fetch_run.moved());
                    continue;
                }
                assert_eq!(x[5], 3);
                assert_eq!((fetch_run.cur, fetch_run.cur_word), (5, word));
                assert_eq!(fetch_run.at, 0x2000);
                assert_eq!(fetch_run.touched, 1 << batch | 1 << 5);
                if current {
                    // Slot 5's fetches since budget 100 are still open.
                    assert_eq!((fetch_run.n[5], fetch_run.from), (0, 100));
                    assert_eq!(fetch_run.n[batch], 0);
                } else {
                    assert_eq!((fetch_run.n[batch], fetch_run.last[batch]), (2, 98));
                    assert_eq!(fetch_run.from, 98);
                }
            }
        }
    }

    /// What [`enter_from_c`] runs: `block` of `jit` at pc 0x1000, budget 100.
    struct CEntry<'a> {
        jit: &'a Jit,
        block: Block,
        x: [u64; 32],
        env: [u64; 10],
        left: u64,
    }

    /// `Jit::run` behind the C convention, for [`callee_saved_across`].
    extern "C" fn enter_from_c(entry: *mut u8) -> u64 {
        // SAFETY: `callee_saved_across` passes the `CEntry` it was given, alive and
        // otherwise unused for the call.
        let e = unsafe { &mut *(entry as *mut CEntry) };
        e.left = run_at_0x1000(e.jit, &e.block, &mut e.x, &mut e.env);
        e.left
    }

    /// The registers the C convention has a callee keep (rbx, rbp, r12-r15) after
    /// `enter_from_c(entry)`, called with each set to a value of its own (0x5a00 + n).
    #[cfg(target_arch = "x86_64")]
    fn callee_saved_across(entry: &mut CEntry) -> [u64; 6] {
        let mut kept = [0u64; 6];
        // SAFETY: the asm saves the six registers and the stack pointer on a stack it
        // aligns to 16 bytes, as a call needs, and restores them all; the called
        // function follows the C convention, which the clobbers declare.
        unsafe {
            std::arch::asm!(
                "mov r11, rsp",
                "and rsp, -16",
                "push r11",
                "push rbx",
                "push rbp",
                "push r12",
                "push r13",
                "push r14",
                "push r15",
                "push rsi",
                "mov rbx, 0x5a00",
                "mov rbp, 0x5a01",
                "mov r12, 0x5a02",
                "mov r13, 0x5a03",
                "mov r14, 0x5a04",
                "mov r15, 0x5a05",
                "call rax",
                "pop rsi",
                "mov [rsi], rbx",
                "mov [rsi + 8], rbp",
                "mov [rsi + 16], r12",
                "mov [rsi + 24], r13",
                "mov [rsi + 32], r14",
                "mov [rsi + 40], r15",
                "pop r15",
                "pop r14",
                "pop r13",
                "pop r12",
                "pop rbp",
                "pop rbx",
                "pop rsp",
                in("rax") enter_from_c as extern "C" fn(*mut u8) -> u64,
                in("rdi") entry as *mut CEntry as *mut u8,
                in("rsi") kept.as_mut_ptr(),
                clobber_abi("C"),
            );
        }
        kept
    }

    /// Blocks are compiled in a convention without callee-saved registers (see
    /// `block_signature`): whatever enters them from Rust, Cranelift's block directly or
    /// quick code that chains into it, must leave the host's callee-saved registers as
    /// it found them. The Cranelift block keeps 15 guest registers in host registers,
    /// more than the caller-saved ones.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn blocks_keep_no_host_register_across_a_chain() {
        let mut jit = Jit::new(layout(), 50, 1 << 16).expect("Cranelift for the host");
        jit.enable_quick(2);
        let many: Vec<Insn> = (1..16)
            .map(|r| op(OpKind::Addi, r, r, 0, r as i32))
            .collect();
        assert!(jit.compile(1, 0, &many, 7));
        let cranelift = jit.compiled(1).expect("compiled");
        // Quick code at 0x1000 that jumps to 0x2000 through the jump cache.
        let jump = op(OpKind::Jal, 0, 0, 0, 0x1000 - 4);
        assert!(jit.compile_quick(2, &[addi(), jump], 7));
        let quick = jit.compiled(2).expect("quick code");
        jit.remember_jump(0x2000, 5, &cranelift, 0);
        let expected: [u64; 6] = std::array::from_fn(|n| 0x5a00 + n as u64);
        for (block, left, x5) in [(cranelift, 85, 5), (quick, 83, 6)] {
            let mut env = test_env(&jit);
            env[8] = 5;
            let mut entry = CEntry {
                jit: &jit,
                block,
                x: [0; 32],
                env,
                left: 0,
            };
            assert_eq!(callee_saved_across(&mut entry), expected);
            assert_eq!(
                entry.left, left,
                "the chain ran to the Cranelift block's end"
            );
            assert_eq!(entry.x[5], x5);
            assert_eq!(entry.x[15], 15);
        }
    }
}

//! Where blocks are compiled: the Cranelift side ([`Compiler`]: the module, its contexts
//! and the link cells being handed out) and the thread it runs on by default
//! ([`CompileThread`]); see "Where blocks are compiled" in the module comment of
//! `jit/mod.rs`.
//!
//! The hart sends a [`Request`] (a copy of the decoded instructions) and runs on; the
//! thread answers each with a [`Done::Block`], in order. A restart (all code thrown away)
//! is a request too: the hart forgets every code pointer first, then asks; the thread
//! frees the module's memory, makes a new one and answers [`Done::Restarted`] with its
//! trampoline. Every answer carries the thread's generation (restarts done), so the hart
//! can drop answers about code a restart freed.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::JITModule;
use cranelift_module::Module;
use crossbeam_channel::{Receiver, Sender};

use super::{build_trampoline, new_module, EnvLayout, Insn, LinkCells, Trampoline};

/// A block to compile: the instructions from decode-cache slot `index`, `page_offset`
/// bytes into their page, as decoded at the page's `version`.
pub(super) struct Request {
    pub index: usize,
    pub page_offset: u64,
    pub insns: Vec<Insn>,
    pub version: u64,
}

/// The entry of generated code, sent from the thread that defined it to the hart.
#[derive(Clone, Copy)]
pub(super) struct Code(pub *const u8);

// SAFETY: the pointer is only an address of finalized code in the compiler's module: the
// compiler never writes that memory again (cranelift-jit makes it read-only and
// executable at finalization, and issues the cross-thread pipeline flush the host needs
// before another thread may run it), and the module's memory is freed only at a restart
// the hart asked for after forgetting every code pointer, or when the hart's `Jit` is
// gone (see [`CompileThread`]).
unsafe impl Send for Code {}

/// What compiling one block gave.
pub(super) struct Compiled {
    pub index: usize,
    pub version: u64,
    /// Instructions in the block.
    pub len: u64,
    /// None: the compiler failed.
    pub code: Option<Code>,
    /// Time spent in Cranelift.
    pub time: Duration,
    /// The compiler panicked: it compiles nothing more.
    pub broken: bool,
    /// Link-cell chunks the compiler allocated since its last answer, in order: the
    /// hart keeps them (generated code reads them, the hart fills them), whether or not
    /// it keeps this block.
    pub chunks: Vec<Arc<[AtomicU64]>>,
    /// Restarts the compiler had done when it compiled this.
    pub generation: u64,
    pub on_thread: bool,
}

/// An answer of the compile thread.
pub(super) enum Done {
    Block(Compiled),
    /// A new module (generation `.0`) is ready; its trampoline (None: Cranelift failed
    /// to make one, and every block compile fails).
    Restarted(u64, Option<Trampoline>),
}

enum Message {
    Compile(Request),
    Restart,
}

/// Cranelift's state: one module, where every block and the trampoline are defined.
pub(super) struct Compiler {
    pub module: Option<JITModule>,
    pub ctx: Context,
    pub fctx: FunctionBuilderContext,
    pub layout: EnvLayout,
    pub cells: LinkCells,
    /// The compiler panicked once: compile nothing more.
    pub broken: bool,
    pub generation: u64,
    /// Added before each compile on the thread (the determinism tests' hook).
    delay: Duration,
}

impl Compiler {
    /// A compiler and its trampoline; None when Cranelift does not support the host.
    pub fn new(layout: EnvLayout) -> Option<(Compiler, Trampoline)> {
        let mut module = new_module()?;
        let mut ctx = module.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let trampoline = build_trampoline(&mut module, &mut ctx, &mut fctx)?;
        Some((
            Compiler {
                module: Some(module),
                ctx,
                fctx,
                layout,
                cells: LinkCells::default(),
                broken: false,
                generation: 0,
                delay: Duration::ZERO,
            },
            trampoline,
        ))
    }

    /// Compile `r`. A panic in Cranelift is a bug in the IR built here; the guest must
    /// not pay for it with the emulator's life. Compiling stops for good (the compiler's
    /// state may be half-updated); blocks compiled so far stay valid.
    pub fn compile(&mut self, r: Request, on_thread: bool) -> Compiled {
        let start = Instant::now();
        let code = if self.broken {
            None
        } else {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.translate(&r.insns, r.index, r.page_offset)
            }))
            .unwrap_or_else(|_| {
                eprintln!("emu: jit: the compiler failed; the interpreter runs the rest");
                self.broken = true;
                None
            })
        };
        Compiled {
            index: r.index,
            version: r.version,
            len: r.insns.len() as u64,
            code: code.map(Code),
            time: start.elapsed(),
            broken: self.broken,
            chunks: self.cells.take_new_chunks(),
            generation: self.generation,
            on_thread,
        }
    }

    /// Throw all code away and start a new module: its trampoline.
    ///
    /// # Safety
    /// No code of this compiler runs or will run: the caller holds no pointer to it (its
    /// blocks, trampoline and link cells), nor does anyone it gave one.
    pub unsafe fn restart(&mut self) -> Option<Trampoline> {
        self.generation += 1;
        self.cells = LinkCells::default();
        if let Some(m) = self.module.take() {
            // SAFETY: the caller's contract: nothing runs or refers to the module's code.
            unsafe { m.free_memory() };
        }
        self.module = new_module();
        let m = self.module.as_mut()?;
        build_trampoline(m, &mut self.ctx, &mut self.fctx)
    }
}

/// The compile thread, from the hart's side. Dropping it closes the request channel:
/// the thread finishes its current block and ends, freeing the module's memory (the
/// hart's `Jit`, which holds every pointer into it, is being dropped with it).
pub(super) struct CompileThread {
    requests: Sender<Message>,
    done: Receiver<Done>,
}

impl CompileThread {
    /// Start the thread; None (and no thread) when Cranelift does not support the host.
    /// `delay` is added before each compile.
    pub fn start(layout: EnvLayout, delay: Duration) -> Option<(CompileThread, Trampoline)> {
        let (requests, inbox) = crossbeam_channel::unbounded::<Message>();
        let (outbox, done) = crossbeam_channel::unbounded::<Done>();
        thread::Builder::new()
            .name("emu-jit".into())
            .spawn(move || {
                let Some((mut compiler, trampoline)) = Compiler::new(layout) else {
                    let _ = outbox.send(Done::Restarted(0, None));
                    return;
                };
                compiler.delay = delay;
                if outbox.send(Done::Restarted(0, Some(trampoline))).is_err() {
                    return;
                }
                serve(&mut compiler, &inbox, &outbox);
                if let Some(m) = compiler.module.take() {
                    // SAFETY: the request channel closed: the hart's `Jit` is dropped,
                    // and with it every pointer to this module's code (its blocks,
                    // trampoline and link cells); answers still queued are dropped
                    // unread with the channel.
                    unsafe { m.free_memory() };
                }
            })
            .ok()?;
        match done.recv() {
            Ok(Done::Restarted(0, Some(trampoline))) => {
                Some((CompileThread { requests, done }, trampoline))
            }
            _ => None,
        }
    }

    /// Queue a block to compile.
    pub fn send(&self, r: Request) {
        // A send fails only when the thread is gone (it never ends while the channel is
        // open, unless it panicked): the block then stays interpreted.
        let _ = self.requests.send(Message::Compile(r));
    }

    /// Ask for a restart.
    ///
    /// # Safety
    /// As [`Compiler::restart`]: the caller forgot every pointer to the code compiled so
    /// far (blocks, trampoline, link cells) and drops every answer before the
    /// [`Done::Restarted`] this one gets.
    pub unsafe fn restart(&self) {
        let _ = self.requests.send(Message::Restart);
    }

    /// The next answer, if one is ready (none once the thread is gone).
    pub fn try_recv(&self) -> Option<Done> {
        self.done.try_recv().ok()
    }
}

/// The thread's loop: answer requests in order until the hart's side is dropped.
fn serve(compiler: &mut Compiler, inbox: &Receiver<Message>, outbox: &Sender<Done>) {
    while let Ok(m) = inbox.recv() {
        let answer = match m {
            Message::Compile(r) => {
                if !compiler.delay.is_zero() {
                    thread::sleep(compiler.delay);
                }
                Done::Block(compiler.compile(r, true))
            }
            Message::Restart => {
                // SAFETY: the hart asks only after forgetting every pointer to the code
                // (see `CompileThread::restart`); blocks compiled before the restart
                // reach it with the old generation and are dropped unrun.
                let trampoline = unsafe { compiler.restart() };
                Done::Restarted(compiler.generation, trampoline)
            }
        };
        if outbox.send(answer).is_err() {
            return;
        }
    }
}

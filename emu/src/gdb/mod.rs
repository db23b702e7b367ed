//! gdb remote stub (`emu run --gdb PORT [--gdb-wait]`), built on the `gdbstub` crate.
//!
//! One gdb thread per hart. The machine runs on this thread: while gdb waits for a stop,
//! the machine advances in slices and the socket is peeked between slices for Ctrl-C
//! (the interrupt byte) or any other packet. Without breakpoints or watchpoints a slice
//! is an ordinary run of many quanta; with them, the machine advances one instruction per
//! hart at a time so a stop lands exactly on the breakpoint's pc (breakpoints are kept in
//! a table, never patched into guest memory). Write watchpoints compare the watched bytes
//! after every such step.
//!
//! Memory is read and written through the selected hart's current translation (a
//! side-effect-free page walk: no TLB fill, no A/D update, no permission check), so gdb
//! sees what the hart would see; `monitor phys read` reads physical memory.

mod arch;
pub mod monitor;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::net::{TcpListener, TcpStream};

use gdbstub::common::{Signal, Tid};
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::{run_blocking, DisconnectReason, GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};

use crate::cpu::csr::num;
use crate::cpu::{Hart, RunStop, PRIV_S};
use crate::machine::{ClockMode, Machine, StopReason};
use crate::mmu::{satp_root, TlbLevel, TranslateCtx, WalkFault, WalkSteps};
use crate::trace::symbols::Symbolizer;
use arch::{Rv64gc, RvRegId, RvRegs};
use monitor::Command;

/// Instructions per slice when nothing needs checking between instructions: long
/// enough to keep the machine fast, short enough that Ctrl-C feels immediate.
const FREE_RUN_SLICE: u64 = 200_000;
/// Instructions per hart in a quantum that checks breakpoints after each of them. Device
/// and interrupt bookkeeping happens between quanta, as in the machine's own loop (whose
/// quanta are longer: a timer interrupt may arrive a few instructions later than there).
const CHECKED_QUANTUM: u32 = 256;
/// Checked quanta between two looks at the socket.
const QUANTA_PER_POLL: u32 = 64;

/// How the CLI wants the stub to behave.
#[derive(Debug, Clone)]
pub struct GdbOptions {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Stop before the first instruction and wait for gdb (otherwise the guest runs until
    /// gdb connects, as QEMU's `-s` without `-S`).
    pub wait: bool,
    /// Instruction limit for this machine (`--max-insns`), counted from its start.
    pub max_insns: Option<u64>,
    /// Process exit status for a guest exit code (what gdb's `W` packet reports).
    pub exit_status: fn(u32) -> u8,
}

/// Serve one gdb session on `m`, then (if gdb detaches) run the guest to its end.
/// Returns why the machine stopped; errors are one sentence for the user.
pub fn serve(
    m: &mut Machine,
    symbols: &Symbolizer,
    opts: &GdbOptions,
) -> Result<StopReason, String> {
    let listener = TcpListener::bind(("127.0.0.1", opts.port))
        .map_err(|e| format!("cannot listen for gdb on 127.0.0.1:{}: {e}", opts.port))?;
    // Port 0 asks the system for a free port: say which one it gave.
    let port = listener
        .local_addr()
        .map_err(|e| format!("cannot listen for gdb: {e}"))?
        .port();
    eprintln!(
        "emu: gdb server listening on 127.0.0.1:{port}, waiting for gdb (gdb: target remote :{port})"
    );
    let stream = match accept(m, &listener, opts)? {
        Ok(s) => s,
        Err(stop) => return Ok(stop),
    };
    let _ = stream.set_nodelay(true);
    let stream = GdbConn(stream);
    let mut dbg = Debugger::new(m, symbols, opts);
    // Room for the largest packet we accept (the default 4 KiB is tight for `M` writes).
    let mut packet_buffer = vec![0u8; 0x4000];
    let stub = GdbStub::builder(stream)
        .with_packet_buffer(&mut packet_buffer)
        .build()
        .map_err(|e| format!("gdb stub: {e}"))?;
    let result = stub.run_blocking::<EventLoop>(&mut dbg);
    let outcome = dbg.outcome;
    match result {
        Ok(DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_)) => {
            Ok(outcome.unwrap_or(StopReason::Interrupted))
        }
        Ok(DisconnectReason::Kill) => {
            eprintln!("emu: gdb killed the guest");
            Ok(StopReason::Interrupted)
        }
        Ok(DisconnectReason::Disconnect) => {
            eprintln!("emu: gdb detached; the guest runs on");
            Ok(m.run(opts.max_insns))
        }
        Err(_) if stop_requested() => Ok(StopReason::Interrupted),
        Err(e) if e.is_connection_error() => {
            eprintln!("emu: lost the gdb connection ({e}); the guest runs on");
            Ok(m.run(opts.max_insns))
        }
        Err(e) => Err(format!("gdb session failed: {e}")),
    }
}

fn stop_requested() -> bool {
    crate::machine::STOP_REQUESTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The gdb socket. Blocking reads wake up now and then, so that a stop request (SIGTERM)
/// ends the session even while gdb sits idle at its prompt.
struct GdbConn(TcpStream);

impl Connection for GdbConn {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.0, &[byte])
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.0, buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.0)
    }

    fn on_session_start(&mut self) -> std::io::Result<()> {
        self.0.set_nodelay(true)
    }
}

impl ConnectionExt for GdbConn {
    fn read(&mut self) -> std::io::Result<u8> {
        use std::io::ErrorKind;
        self.0
            .set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
        let mut b = [0u8];
        loop {
            match std::io::Read::read(&mut self.0, &mut b) {
                Ok(1) => return Ok(b[0]),
                Ok(_) => return Err(ErrorKind::UnexpectedEof.into()),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    if stop_requested() {
                        return Err(std::io::Error::new(
                            ErrorKind::Interrupted,
                            "emu was asked to stop",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        // Writes stay blocking: only the peek itself must not wait.
        self.0.set_nonblocking(true)?;
        let mut b = [0u8];
        let r = self.0.peek(&mut b);
        self.0.set_nonblocking(false)?;
        match r {
            Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(Some(b[0])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Wait for gdb. With `--gdb-wait` the machine does not move meanwhile; without it the
/// guest runs, and may finish (`Err(stop)`) before anyone connects.
fn accept(
    m: &mut Machine,
    listener: &TcpListener,
    opts: &GdbOptions,
) -> Result<Result<TcpStream, StopReason>, String> {
    let fail = |e: std::io::Error| format!("waiting for gdb failed: {e}");
    // Polled rather than blocking, so that SIGTERM still ends emu while nobody connects.
    listener.set_nonblocking(true).map_err(fail)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).map_err(fail)?;
                return Ok(Ok(s));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(fail(e)),
        }
        if opts.wait {
            if stop_requested() {
                return Ok(Err(StopReason::Interrupted));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        let limit = slice_end(m.total_insns, FREE_RUN_SLICE, opts.max_insns);
        match m.run(Some(limit)) {
            StopReason::InsnLimit if !limit_reached(m, opts.max_insns) => {}
            stop => {
                eprintln!("emu: the guest stopped before gdb connected");
                return Ok(Err(stop));
            }
        }
    }
}

fn slice_end(total: u64, slice: u64, max: Option<u64>) -> u64 {
    let end = total.saturating_add(slice);
    max.map_or(end, |l| end.min(l))
}

fn limit_reached(m: &Machine, max: Option<u64>) -> bool {
    max.is_some_and(|l| m.total_insns >= l)
}

fn tid(hart: usize) -> Tid {
    Tid::new(hart + 1).expect("hart + 1 is never zero")
}

/// What gdb asked the harts to do on the next resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    Continue,
    /// Single-step (reported on this hart). Unless gdb locked the scheduler, the other
    /// harts advance one instruction too: the machine runs its harts in lockstep rounds.
    Step(usize),
}

/// A write watchpoint, resolved to physical memory when gdb inserts it (gdb inserts its
/// watchpoints on every resume, so the translation is that of the resume).
#[derive(Debug, Clone)]
struct Watch {
    addr: u64,
    len: u64,
    pa: u64,
    last: Vec<u8>,
}

type Stop = MultiThreadStopReason<u64>;

/// The machine as a gdb target.
pub struct Debugger<'a> {
    m: &'a mut Machine,
    symbols: &'a Symbolizer,
    max_insns: Option<u64>,
    exit_status: fn(u32) -> u8,
    sw_breaks: BTreeSet<u64>,
    hw_breaks: BTreeSet<u64>,
    watches: Vec<Watch>,
    resume: Resume,
    /// gdb wants only the resumed hart to move (scheduler locking, or a plain `stepi`).
    locked: bool,
    /// The hart monitor commands act on: the one gdb last addressed or that last stopped.
    selected: usize,
    /// Set when the machine itself stopped (guest exit, reset, limit, signal).
    outcome: Option<StopReason>,
}

impl<'a> Debugger<'a> {
    pub fn new(m: &'a mut Machine, symbols: &'a Symbolizer, opts: &GdbOptions) -> Self {
        Debugger {
            m,
            symbols,
            max_insns: opts.max_insns,
            exit_status: opts.exit_status,
            sw_breaks: BTreeSet::new(),
            hw_breaks: BTreeSet::new(),
            watches: Vec::new(),
            resume: Resume::Continue,
            locked: false,
            selected: 0,
            outcome: None,
        }
    }

    fn hart_index(&self, t: Tid) -> Result<usize, TargetError<String>> {
        let i = t.get() - 1;
        if i < self.m.harts.len() {
            Ok(i)
        } else {
            Err(TargetError::NonFatal)
        }
    }

    /// Advance the machine by one slice. `Some` when it stopped for gdb.
    fn advance(&mut self) -> Option<Stop> {
        match self.resume {
            Resume::Step(h) => {
                self.resume = Resume::Continue;
                self.selected = h;
                Some(self.step(h).unwrap_or(Stop::SignalWithThread {
                    tid: tid(h),
                    signal: Signal::SIGTRAP,
                }))
            }
            Resume::Continue
                if self.sw_breaks.is_empty()
                    && self.hw_breaks.is_empty()
                    && self.watches.is_empty() =>
            {
                let limit = slice_end(self.m.total_insns, FREE_RUN_SLICE, self.max_insns);
                let stop = self.m.run(Some(limit));
                self.machine_stop(stop)
            }
            Resume::Continue => {
                for _ in 0..QUANTA_PER_POLL {
                    if let Some(s) = self.run_checked() {
                        return Some(s);
                    }
                }
                None
            }
        }
    }

    /// A short quantum with breakpoints and watchpoints checked after every instruction.
    /// The machine's own loop does the device and interrupt bookkeeping at the start (as
    /// at any quantum boundary); then the harts take turns one instruction at a time,
    /// until the quantum ends, a hart yields to the machine, or all of them sleep.
    fn run_checked(&mut self) -> Option<Stop> {
        if let Some(s) = self.round().or_else(|| self.check_hits()) {
            return Some(s);
        }
        if self.m.tracer.watching_pcs() {
            // The traced loop belongs to the machine; keep to its rounds.
            return None;
        }
        for _ in 1..CHECKED_QUANTUM {
            let m = &mut *self.m;
            if limit_reached(m, self.max_insns) {
                break;
            }
            let mut any_ran = false;
            let mut yielded = false;
            for hart in &mut m.harts {
                // A sleeping hart returns at once; interrupts that wake it are looked at
                // between quanta, as in the machine's loop.
                let (n, stop) = hart.run(&mut m.bus, 1);
                m.total_insns += n;
                any_ran |= n > 0;
                yielded |= stop == RunStop::Yield;
                if m.bus.exit_request.is_some() {
                    // The machine's loop takes the request and reports it.
                    let stop = m.run(Some(m.total_insns));
                    return self.machine_stop(stop);
                }
            }
            if let Some(s) = self.check_hits() {
                return Some(s);
            }
            if yielded || !any_ran {
                break;
            }
        }
        None
    }

    /// One instruction on every hart (or, when all of them sleep, the jump to the next
    /// timer deadline, which is what the machine would do anyway).
    fn round(&mut self) -> Option<Stop> {
        let total = self.m.total_insns;
        let mut end = total + 1;
        // In host-clock mode deadlines are wall-clock times, not instruction counts.
        if self.m.config.clock == ClockMode::Deterministic && self.m.harts.iter().all(Hart::waiting)
        {
            if let Some(d) = self
                .m
                .bus
                .device_mut("clint")
                .and_then(|c| c.next_deadline())
            {
                if d != u64::MAX {
                    end = end.max(d.saturating_mul(crate::machine::INSNS_PER_TICK));
                }
            }
        }
        let end = self.max_insns.map_or(end, |l| end.min(l));
        let stop = self.m.run(Some(end));
        self.machine_stop(stop)
    }

    /// Make sure hart `h` does not stop where its pc does not translate (just after the
    /// satp write of a trampoline, say). gdb cannot read the instruction there, so it
    /// could neither show it nor step past it (gdb's RISC-V single-step plants a
    /// breakpoint after the instruction it reads at pc). The hart's next step there only
    /// takes the fetch fault, so take it now and stop on the trap handler instead.
    /// Returns how the stop must be reported.
    fn settle(&mut self, h: usize, stop: Stop) -> Stop {
        let mut moved = false;
        for _ in 0..2 {
            if self.translate(h, self.m.harts[h].pc).is_ok() {
                break;
            }
            if let Some(machine) = self.step(h) {
                return machine;
            }
            moved = true;
        }
        if moved {
            // No longer at the breakpoint's address: a plain trap stop.
            Stop::SignalWithThread {
                tid: tid(h),
                signal: Signal::SIGTRAP,
            }
        } else {
            stop
        }
    }

    /// One instruction on hart `h`, and on the others too unless gdb locked them.
    fn step(&mut self, h: usize) -> Option<Stop> {
        if self.locked && self.m.harts.len() > 1 {
            self.step_one(h)
        } else {
            self.round()
        }
    }

    /// One instruction on hart `h` alone (the others hold still, as gdb asked).
    fn step_one(&mut self, h: usize) -> Option<Stop> {
        let m = &mut *self.m;
        let (n, _) = m.harts[h].run(&mut m.bus, 1);
        m.total_insns += n;
        if m.bus.exit_request.is_some() {
            // The machine's loop takes the request and reports it.
            let stop = m.run(Some(m.total_insns));
            return self.machine_stop(stop);
        }
        None
    }

    /// Translate a machine stop into what gdb is told; `None` = keep going.
    fn machine_stop(&mut self, stop: StopReason) -> Option<Stop> {
        let report = match stop {
            StopReason::InsnLimit if !limit_reached(self.m, self.max_insns) => return None,
            // The CLI refuses --save-at with --gdb; a save point would only pause.
            StopReason::SavePoint => return None,
            StopReason::Exit(code) => Stop::Exited((self.exit_status)(code)),
            StopReason::Reset => {
                eprintln!("emu: the guest reset the machine; ending the gdb session");
                Stop::Exited(0)
            }
            StopReason::InsnLimit => {
                eprintln!("emu: --max-insns reached; ending the gdb session");
                Stop::Exited(crate::user_error::EXIT_INSN_LIMIT)
            }
            StopReason::Interrupted => Stop::Terminated(Signal::SIGTERM),
            StopReason::UnsupportedSyscall(_)
            | StopReason::SyscallBlockOutsideRam(_)
            | StopReason::UnsupportedHtif(_) => {
                eprintln!("emu: the guest made an HTIF request emu does not serve; ending the gdb session");
                Stop::Exited(crate::user_error::EXIT_HTIF_UNSUPPORTED)
            }
            // The CLI refuses --expect, --fail-on and --timeout with --gdb; a caller of
            // the library that combines them gets the same statuses as `emu run`.
            StopReason::Watch(w) => Stop::Exited(w.exit_status()),
            StopReason::Deadlock => {
                // Worth a look in the debugger rather than the end of the session.
                eprintln!("emu: every hart waits for an interrupt that can never come");
                return Some(Stop::SignalWithThread {
                    tid: tid(self.selected),
                    signal: Signal::SIGTRAP,
                });
            }
        };
        self.outcome = Some(stop);
        Some(report)
    }

    /// A breakpoint at some hart's pc, or a watched location that changed.
    fn check_hits(&mut self) -> Option<Stop> {
        for (i, h) in self.m.harts.iter().enumerate() {
            if self.sw_breaks.contains(&h.pc) {
                self.selected = i;
                return Some(Stop::SwBreak(tid(i)));
            }
            if self.hw_breaks.contains(&h.pc) {
                self.selected = i;
                return Some(Stop::HwBreak(tid(i)));
            }
        }
        let ram = &self.m.bus.ram;
        for w in &mut self.watches {
            let mut now = vec![0; w.len as usize];
            if ram.read_bytes(w.pa, &mut now) && now != w.last {
                w.last = now;
                return Some(Stop::Watch {
                    tid: tid(self.selected),
                    kind: WatchKind::Write,
                    addr: w.addr,
                });
            }
        }
        None
    }

    /// Where `va` leads for hart `h` right now (no effect on TLB, stats or A/D bits).
    fn translate(&mut self, h: usize, va: u64) -> Result<u64, WalkFault> {
        let m = &mut *self.m;
        let hart = &mut m.harts[h];
        let ctx = debugger_ctx(hart, hart.privilege);
        hart.mmu.probe(va, &ctx, &mut m.bus).0
    }

    /// Read physical memory: RAM, or other main memory (the boot ROM, so the reset
    /// vector disassembles). Device registers are not read: reads have side effects.
    fn read_phys(&mut self, pa: u64, buf: &mut [u8]) -> bool {
        let bus = &mut self.m.bus;
        if bus.ram.read_bytes(pa, buf) {
            return true;
        }
        if !bus.pma(pa, buf.len()).is_some_and(|p| p.memory) {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            match bus.read(pa + i as u64, 1) {
                Ok(v) => *b = v as u8,
                Err(_) => return false,
            }
        }
        true
    }

    /// Write RAM and make every hart forget instructions it decoded from it.
    fn write_phys(&mut self, pa: u64, data: &[u8]) -> bool {
        let Some(off) = self.m.bus.ram.offset_of(pa, data.len() as u64) else {
            return false;
        };
        self.m
            .bus
            .ram
            .bytes_mut(off, data.len())
            .copy_from_slice(data);
        for h in &mut self.m.harts {
            h.code_modified(&self.m.bus.ram);
        }
        true
    }

    /// Apply `f` to each page-bounded piece of `[va, va + len)`, with its physical
    /// address. Stops at the first piece that does not translate or that `f` refuses;
    /// returns the bytes done.
    fn per_page(
        &mut self,
        h: usize,
        va: u64,
        len: usize,
        mut f: impl FnMut(&mut Self, u64, std::ops::Range<usize>) -> bool,
    ) -> usize {
        let mut done = 0;
        while done < len {
            let a = va.wrapping_add(done as u64);
            let n = ((0x1000 - (a & 0xfff)) as usize).min(len - done);
            let Ok(pa) = self.translate(h, a) else { break };
            if !f(self, pa, done..done + n) {
                break;
            }
            done += n;
        }
        done
    }

    fn run_monitor(&mut self, line: &str) -> String {
        let cmd = match monitor::parse(line) {
            Ok(c) => c,
            Err(e) => return format!("error: {e}\n"),
        };
        let h = self.selected.min(self.m.harts.len() - 1);
        match cmd {
            Command::Help => monitor::HELP.to_string(),
            Command::Satp => {
                let satp = self.m.harts[h].satp();
                monitor::format_satp(h, satp, &self.symbols.describe(satp_root(satp)))
            }
            Command::PtWalk(va) => {
                let m = &mut *self.m;
                let hart = &mut m.harts[h];
                let satp = hart.satp();
                // The page table in satp, whatever the hart's privilege: that is what a
                // user asking for a walk wants to see.
                let ctx = debugger_ctx(hart, PRIV_S);
                let (result, steps): (Result<u64, WalkFault>, WalkSteps) =
                    hart.mmu.probe(va, &ctx, &mut m.bus);
                monitor::format_walk(
                    va,
                    satp,
                    &self.symbols.describe(satp_root(satp)),
                    result,
                    &steps,
                )
            }
            Command::Tlb => {
                let mmu = &self.m.harts[h].mmu;
                let mut s = format!("hart {h} TLB model\n");
                if !self.m.observed {
                    s += "(without --stats or --trace, hits in the hart's own fast path \
                          do not reach the model)\n";
                }
                for level in [TlbLevel::L1I, TlbLevel::L1D, TlbLevel::L2] {
                    s += &monitor::format_tlb(level.name(), &mmu.tlb_entries(level));
                }
                s
            }
            Command::Stats => {
                let hart = &self.m.harts[h];
                let mut s = format!(
                    "hart {h}: {} instructions retired, {} on the machine\n",
                    hart.instret, self.m.total_insns
                );
                if !self.m.observed {
                    s += "(TLB statistics are collected only with --stats or --trace)\n";
                }
                let _ = write!(s, "{}", hart.mmu.stats);
                if !s.ends_with('\n') {
                    s.push('\n');
                }
                s
            }
            Command::PhysRead { addr, len } => {
                let mut buf = vec![0; len as usize];
                if self.read_phys(addr, &mut buf) {
                    monitor::format_hex(addr, &buf)
                } else {
                    format!("error: {addr:#x}..+{len:#x} is not RAM or boot ROM\n")
                }
            }
            Command::Hart(None) => format!("monitor commands act on hart {h}\n"),
            Command::Hart(Some(n)) if n < self.m.harts.len() => {
                self.selected = n;
                format!("monitor commands act on hart {n}\n")
            }
            Command::Hart(Some(n)) => format!(
                "error: there is no hart {n} (harts 0..{})\n",
                self.m.harts.len() - 1
            ),
        }
    }
}

/// Translation inputs for debugger accesses: the hart's satp, with SUM and MXR set so
/// that any mapped page can be inspected.
fn debugger_ctx(hart: &Hart, privilege: u8) -> TranslateCtx {
    TranslateCtx {
        satp: hart.satp(),
        privilege,
        sum: true,
        mxr: true,
    }
}

/// A CSR as the debugger sees it: no privilege or counter-enable checks.
fn csr_peek(hart: &Hart, csr: u16) -> Option<u64> {
    match csr {
        num::FFLAGS => Some(hart.fp.fflags as u64),
        num::FRM => Some(hart.fp.frm as u64),
        num::FCSR => Some(((hart.fp.frm as u64) << 5) | hart.fp.fflags as u64),
        num::SATP => Some(hart.satp()),
        num::CYCLE => hart.csr_read(num::MCYCLE),
        num::INSTRET => hart.csr_read(num::MINSTRET),
        c => hart.csr_read(c),
    }
}

/// CSRs gdb may write: the ones the target description offers, minus the read-only.
fn csr_writable(csr: u16) -> bool {
    matches!(csr, num::FFLAGS | num::FRM | num::FCSR)
        || arch::CSRS.iter().any(|&(_, n)| {
            n == csr && !matches!(n, num::MHARTID | num::MISA | num::CYCLE | num::INSTRET)
        })
}

struct EventLoop<'a>(PhantomData<&'a ()>);

impl<'a> run_blocking::BlockingEventLoop for EventLoop<'a> {
    type Target = Debugger<'a>;
    type Connection = GdbConn;
    type StopReason = Stop;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut Debugger<'a>,
        conn: &mut GdbConn,
    ) -> Result<
        run_blocking::Event<Stop>,
        run_blocking::WaitForStopReasonError<String, std::io::Error>,
    > {
        loop {
            if let Some(stop) = target.advance() {
                let stop = match stop {
                    Stop::SwBreak(_)
                    | Stop::HwBreak(_)
                    | Stop::SignalWithThread { .. }
                    | Stop::Watch { .. } => target.settle(target.selected, stop),
                    other => other,
                };
                return Ok(run_blocking::Event::TargetStopped(stop));
            }
            // A closed or broken socket counts as incoming data: reading it then reports
            // the error and ends the session.
            if conn.peek().map(|b| b.is_some()).unwrap_or(true) {
                let byte = conn
                    .read()
                    .map_err(run_blocking::WaitForStopReasonError::Connection)?;
                return Ok(run_blocking::Event::IncomingData(byte));
            }
        }
    }

    fn on_interrupt(target: &mut Debugger<'a>) -> Result<Option<Stop>, String> {
        Ok(Some(Stop::SignalWithThread {
            tid: tid(target.selected),
            signal: Signal::SIGINT,
        }))
    }
}

impl Target for Debugger<'_> {
    type Arch = Rv64gc;
    type Error = String;

    fn base_ops(&mut self) -> BaseOps<'_, Rv64gc, String> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadBase for Debugger<'_> {
    fn read_registers(&mut self, regs: &mut RvRegs, t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_index(t)?;
        self.selected = h;
        let hart = &self.m.harts[h];
        regs.x = hart.x;
        regs.pc = hart.pc;
        regs.f = hart.fp.f;
        Ok(())
    }

    fn write_registers(&mut self, regs: &RvRegs, t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_index(t)?;
        let hart = &mut self.m.harts[h];
        hart.x = regs.x;
        hart.x[0] = 0;
        hart.pc = regs.pc & !1;
        hart.fp.f = regs.f;
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, addr: u64, data: &mut [u8], t: Tid) -> TargetResult<usize, Self> {
        let h = self.hart_index(t)?;
        let done = self.per_page(h, addr, data.len(), |d, pa, r| {
            d.read_phys(pa, &mut data[r])
        });
        if done == 0 && !data.is_empty() {
            return Err(TargetError::NonFatal);
        }
        Ok(done)
    }

    fn write_addrs(&mut self, addr: u64, data: &[u8], t: Tid) -> TargetResult<(), Self> {
        let h = self.hart_index(t)?;
        let done = self.per_page(h, addr, data.len(), |d, pa, r| d.write_phys(pa, &data[r]));
        if done == data.len() {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }

    fn list_active_threads(&mut self, register: &mut dyn FnMut(Tid)) -> Result<(), String> {
        for i in 0..self.m.harts.len() {
            register(tid(i));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl SingleRegisterAccess<Tid> for Debugger<'_> {
    fn read_register(&mut self, t: Tid, reg: RvRegId, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let h = self.hart_index(t)?;
        let hart = &self.m.harts[h];
        let v = match reg {
            RvRegId::X(i) => hart.x[i as usize],
            RvRegId::Pc => hart.pc,
            RvRegId::F(i) => hart.fp.f[i as usize],
            RvRegId::Csr(c) => csr_peek(hart, c).ok_or(TargetError::NonFatal)?,
            RvRegId::Priv => hart.privilege as u64,
        };
        let n = reg.size().min(buf.len());
        buf[..n].copy_from_slice(&v.to_le_bytes()[..n]);
        Ok(n)
    }

    fn write_register(&mut self, t: Tid, reg: RvRegId, val: &[u8]) -> TargetResult<(), Self> {
        let h = self.hart_index(t)?;
        let mut bytes = [0u8; 8];
        let n = val.len().min(8);
        bytes[..n].copy_from_slice(&val[..n]);
        let v = u64::from_le_bytes(bytes);
        let hart = &mut self.m.harts[h];
        match reg {
            RvRegId::X(0) => {}
            RvRegId::X(i) => hart.x[i as usize] = v,
            RvRegId::Pc => hart.pc = v & !1,
            RvRegId::F(i) => hart.fp.f[i as usize] = v,
            RvRegId::Csr(c) if csr_writable(c) => {
                hart.csr_write(c, v);
            }
            // Privilege changes go through traps and xRET only; a debugger write would
            // bypass the translation context the hart keeps for it.
            RvRegId::Csr(_) | RvRegId::Priv => return Err(TargetError::NonFatal),
        }
        Ok(())
    }
}

impl MultiThreadResume for Debugger<'_> {
    fn resume(&mut self) -> Result<(), String> {
        // Watchpoints start from the memory as it is now.
        let ram = &self.m.bus.ram;
        for w in &mut self.watches {
            let _ = ram.read_bytes(w.pa, &mut w.last);
        }
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), String> {
        self.resume = Resume::Continue;
        self.locked = false;
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        _t: Tid,
        signal: Option<Signal>,
    ) -> Result<(), String> {
        match signal {
            Some(s) => Err(format!("cannot deliver signal {s} to a hart")),
            None => Ok(()),
        }
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSchedulerLocking for Debugger<'_> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), String> {
        self.locked = true;
        Ok(())
    }
}

impl MultiThreadSingleStep for Debugger<'_> {
    fn set_resume_action_step(&mut self, t: Tid, signal: Option<Signal>) -> Result<(), String> {
        if let Some(s) = signal {
            return Err(format!("cannot deliver signal {s} to a hart"));
        }
        let h = t.get() - 1;
        if h >= self.m.harts.len() {
            return Err(format!("no hart for thread {t}"));
        }
        self.resume = Resume::Step(h);
        Ok(())
    }
}

impl ThreadExtraInfo for Debugger<'_> {
    fn thread_extra_info(&self, t: Tid, buf: &mut [u8]) -> Result<usize, String> {
        let h = t.get() - 1;
        let Some(hart) = self.m.harts.get(h) else {
            return Ok(0);
        };
        let mode = ["U", "S", "?", "M"][(hart.privilege & 3) as usize];
        let text = format!(
            "hart {h}, {mode}-mode{}",
            if hart.waiting() { ", in wfi" } else { "" }
        );
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

impl Breakpoints for Debugger<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Debugger<'_> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.sw_breaks.insert(addr);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.sw_breaks.remove(&addr))
    }
}

impl HwBreakpoint for Debugger<'_> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        self.hw_breaks.insert(addr);
        Ok(true)
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.hw_breaks.remove(&addr))
    }
}

impl HwWatchpoint for Debugger<'_> {
    /// Write watchpoints only: stores are detected by comparing memory after each
    /// instruction, which cannot see reads.
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        if kind != WatchKind::Write || len == 0 || len > 0x1000 - (addr & 0xfff) {
            return Ok(false);
        }
        let Ok(pa) = self.translate(self.selected, addr) else {
            return Err(TargetError::NonFatal);
        };
        let mut last = vec![0; len as usize];
        if !self.m.bus.ram.read_bytes(pa, &mut last) {
            return Err(TargetError::NonFatal);
        }
        self.watches.push(Watch {
            addr,
            len,
            pa,
            last,
        });
        Ok(true)
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let before = self.watches.len();
        if kind == WatchKind::Write {
            self.watches.retain(|w| !(w.addr == addr && w.len == len));
        }
        Ok(self.watches.len() != before)
    }
}

impl MonitorCmd for Debugger<'_> {
    fn handle_monitor_cmd(&mut self, cmd: &[u8], mut out: ConsoleOutput<'_>) -> Result<(), String> {
        let text = match std::str::from_utf8(cmd) {
            Ok(line) => self.run_monitor(line),
            Err(_) => "error: the command is not UTF-8\n".to_string(),
        };
        let _ = out.write_str(&text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::MachineConfig;

    const DRAM: u64 = crate::bus::DRAM_BASE;

    /// M-mode, translation off: t0 = DRAM; loop { a0 += 1; [t0 + 0x100] = a0 }.
    fn counting_machine() -> Machine {
        let code: [u32; 4] = [
            0x0000_0297, // auipc t0, 0
            0x0015_0513, // addi a0, a0, 1
            0x10a2_b023, // sd a0, 0x100(t0)
            0xff9f_f06f, // j -8
        ];
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut m = Machine::new(MachineConfig::default());
        assert!(m.bus.ram.load(DRAM, &bytes));
        m.harts[0].pc = DRAM;
        m
    }

    fn options() -> GdbOptions {
        GdbOptions {
            port: 0,
            wait: true,
            max_insns: Some(1_000_000),
            exit_status: |c| c as u8,
        }
    }

    fn run_until_stop(d: &mut Debugger) -> Stop {
        for _ in 0..1000 {
            if let Some(s) = d.advance() {
                return s;
            }
        }
        panic!("no stop");
    }

    #[test]
    fn breakpoint_stops_before_the_instruction_every_time_round() {
        let mut m = counting_machine();
        let syms = Symbolizer::default();
        let mut d = Debugger::new(&mut m, &syms, &options());
        d.sw_breaks.insert(DRAM + 8);
        assert_eq!(run_until_stop(&mut d), Stop::SwBreak(tid(0)));
        assert_eq!((d.m.harts[0].pc, d.m.harts[0].x[10]), (DRAM + 8, 1));
        assert_eq!(
            d.m.total_insns, 2,
            "stopped exactly, not at a quantum's end"
        );
        assert_eq!(run_until_stop(&mut d), Stop::SwBreak(tid(0)));
        assert_eq!(d.m.harts[0].x[10], 2);
    }

    #[test]
    fn write_watchpoint_stops_after_the_store() {
        let mut m = counting_machine();
        let syms = Symbolizer::default();
        let mut d = Debugger::new(&mut m, &syms, &options());
        assert!(matches!(
            d.add_hw_watchpoint(DRAM + 0x100, 8, WatchKind::Write),
            Ok(true)
        ));
        assert!(matches!(
            d.add_hw_watchpoint(DRAM + 0x100, 8, WatchKind::Read),
            Ok(false)
        ));
        assert_eq!(
            run_until_stop(&mut d),
            Stop::Watch {
                tid: tid(0),
                kind: WatchKind::Write,
                addr: DRAM + 0x100
            }
        );
        assert_eq!(d.m.harts[0].pc, DRAM + 12);
        assert_eq!(d.m.bus.ram.read(DRAM + 0x100, 8), Some(1));
    }

    #[test]
    fn memory_outside_ram_and_rom_is_an_error_and_writes_reach_ram() {
        let mut m = counting_machine();
        let syms = Symbolizer::default();
        let mut d = Debugger::new(&mut m, &syms, &options());
        let mut buf = [0u8; 4];
        assert!(d.read_addrs(0, &mut buf, tid(0)).is_err());
        // Reads stop where RAM ends.
        let top = DRAM + d.m.config.ram_size;
        let mut two = [0u8; 8];
        assert_eq!(d.read_addrs(top - 4, &mut two, tid(0)).ok(), Some(4));
        assert_eq!(d.read_addrs(0x1000, &mut buf, tid(0)).ok(), Some(4));
        assert_eq!(u32::from_le_bytes(buf), 0x0000_0297, "boot ROM");
        assert!(d
            .write_addrs(DRAM + 4, &0x0025_0513u32.to_le_bytes(), tid(0))
            .is_ok());
        d.sw_breaks.insert(DRAM + 8);
        run_until_stop(&mut d);
        assert_eq!(d.m.harts[0].x[10], 2, "the patched addi a0, a0, 2 ran");
        assert!(
            d.write_addrs(0x1000, &[0], tid(0)).is_err(),
            "ROM is read-only"
        );
    }

    #[test]
    fn free_run_reports_the_guest_exit() {
        // sw of 0x5555 to the test device powers off with status 0.
        let code: [u32; 4] = [
            0x0010_02b7, // lui t0, 0x100
            0x0000_5337, // lui t1, 0x5
            0x5553_031b, // addiw t1, t1, 0x555
            0x0062_a023, // sw t1, 0(t0)
        ];
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut m = Machine::new(MachineConfig::default());
        assert!(m.bus.ram.load(DRAM, &bytes));
        m.harts[0].pc = DRAM;
        let syms = Symbolizer::default();
        let mut d = Debugger::new(&mut m, &syms, &options());
        assert_eq!(run_until_stop(&mut d), Stop::Exited(0));
        assert_eq!(d.outcome, Some(StopReason::Exit(0)));
    }
}

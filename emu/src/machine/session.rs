//! One run of a guest from a [`RunConfig`]: build the board and load the images, attach
//! the tracer or the gdb stub, run (booting the same images again after a guest reset),
//! and end with the report and the exit status.
//!
//! What belongs to the front end - the terminal, a progress display, snapshot files - it
//! does through [`Frontend`] at the points of the run where they fit.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use super::console_expect::Verdict;
use super::image_layout;
use super::run_config::{RunConfig, TraceConfig};
use super::stats::Report;
use super::{Machine, Progress, StopReason, WatchStop};
use crate::devices::console::ConsoleOutput;
use crate::jit::JitStats;
use crate::trace::symbols::Symbolizer;
use crate::trace::{sink, Tracer, Where};
use crate::user_error::{
    guest_exit_status, os_error, Failure, EXIT_DEADLOCK, EXIT_EXPECT_UNMET, EXIT_FAIL_PATTERN,
    EXIT_GUEST_RESET, EXIT_HTIF_UNSUPPORTED, EXIT_INSN_LIMIT, EXIT_INTERRUPTED, EXIT_TIMEOUT,
};

/// What the caller of [`run`] does at the run's turning points.
pub trait Frontend {
    /// The board is built and loaded, its save points, tracer and statistics set up;
    /// nothing has run yet. A snapshot being restored goes into `m` here.
    fn prepared(&mut self, m: &mut Machine, symbols: &Symbolizer) -> Result<(), Failure>;
    /// The guest is about to run. Returns whether the front end reads `progress` (the
    /// machine then publishes its counters there every quantum). `trace_bytes` counts
    /// what the trace writer has written.
    fn running(&mut self, progress: &Arc<Progress>, trace_bytes: Option<Arc<AtomicU64>>) -> bool;
    /// The run reached a save point (`m.reached_save_point`); it goes on afterwards.
    fn save_point(&mut self, m: &Machine) -> Result<(), Failure>;
    /// One line of emu's own for stderr while the guest runs (without the "emu: ").
    fn notice(&mut self, line: &str);
    /// The guest has stopped for good.
    fn stopped(&mut self);
}

/// How a run ended.
pub struct Outcome {
    pub stop: StopReason,
    /// The instruction clock of the last boot when it stopped.
    pub total_insns: u64,
    /// The statistics of the run (the counters of the last boot).
    pub report: Report,
    /// (hart id, what compiling cost) for each hart with the JIT on, of the last boot.
    pub jit: Vec<(u64, JitStats)>,
}

/// Build, boot and run `config` to its end. The trace is complete when this returns.
pub fn run(config: &RunConfig, frontend: &mut dyn Frontend) -> Result<Outcome, Failure> {
    let mut board = config.board.clone();
    if let Some(w) = &config.watch {
        board.console_output = ConsoleOutput::Watched(w.clone());
    }
    let (mut m, symbols) = image_layout::build(config, &board)?;
    m.save_points = super::savepoint::resolve(&config.save_at, &symbols)?;
    // Tracing: the sink thread formats and writes; the machine only batches events.
    let trace_sink = match &config.trace {
        Some(trace) => Some(attach_tracer(&mut m, trace, &symbols)?),
        None => None,
    };
    m.set_observed(config.stats_observed);
    frontend.prepared(&mut m, &symbols)?;

    let progress = Arc::new(Progress::default());
    if frontend.running(&progress, trace_sink.as_ref().map(sink::Sink::written)) {
        m.progress = Some(progress);
    }
    let start = Instant::now();
    // Reboots keep the deadline: it is the run's, not the board's.
    board.deadline = config.timeout.map(|t| start + t);
    m.config.deadline = board.deadline;
    let (mut m, stop) = run_boots(m, config, &board, &symbols, frontend)?;
    let elapsed = start.elapsed();
    frontend.stopped();
    m.finish();

    m.tracer.finish();
    if let Some(s) = trace_sink {
        s.join().map_err(
            |e| match config.trace.as_ref().and_then(|t| t.file.as_ref()) {
                Some(p) => Failure::image(format!(
                    "cannot write the trace file {}: {}",
                    p.display(),
                    os_error(&e)
                )),
                None => Failure::image(format!("writing the trace failed: {e}")),
            },
        )?;
    }
    Ok(Outcome {
        stop,
        total_insns: m.total_insns,
        report: Report::collect(&m, elapsed, &symbols, config.stats_shown),
        jit: m
            .harts
            .iter()
            .filter_map(|h| h.jit_stats().map(|j| (h.hartid, j)))
            .collect(),
    })
}

/// Start the trace writer and give `m` a tracer feeding it, windowed as `trace` asks.
fn attach_tracer(
    m: &mut Machine,
    trace: &TraceConfig,
    symbols: &Symbolizer,
) -> Result<sink::Sink, Failure> {
    let output = match &trace.file {
        Some(p) => sink::Output::File(p.clone()),
        None => sink::Output::Stderr,
    };
    let (s, tx) = sink::Sink::start(
        output,
        trace.format,
        symbols.clone(),
        crate::cpu::disasm::disassemble,
        trace.events.has(crate::trace::Kind::Insn),
    )
    .map_err(|e| match &trace.file {
        Some(p) => Failure::image(format!(
            "cannot open the trace file {}: {}",
            p.display(),
            os_error(&e)
        )),
        None => Failure::image(format!("cannot start the trace writer: {e}")),
    })?;
    let mut tracer = Tracer::new(trace.events, tx, trace.limit);
    let (from_pcs, from_insn) = resolve_where(trace.from.as_ref(), symbols)?;
    let (until_pcs, until_insn) = resolve_where(trace.until.as_ref(), symbols)?;
    tracer.set_window(from_pcs, from_insn, until_pcs, until_insn);
    m.set_tracer(tracer);
    Ok(s)
}

fn resolve_where(
    w: Option<&Where>,
    symbols: &Symbolizer,
) -> Result<(Vec<u64>, Option<u64>), Failure> {
    Ok(match w {
        None => (Vec::new(), None),
        Some(Where::Insn(n)) => (Vec::new(), Some(*n)),
        Some(Where::Address(a)) => (vec![*a], None),
        Some(Where::Symbol(name)) => {
            let pcs = symbols.resolve(name);
            if pcs.is_empty() {
                return Err(Failure::usage(format!(
                    "unknown symbol '{name}' for a trace window (give an address like 0x80200000, insn:N, or pass the ELF with --symbols)"
                )));
            }
            (pcs, None)
        }
    })
}

/// Run `m` (under gdb if asked) until it stops for good: past save points, and on a
/// fresh board after each guest reset unless `no_reboot`. Returns the last board.
fn run_boots(
    mut m: Machine,
    config: &RunConfig,
    board: &super::MachineConfig,
    symbols: &Symbolizer,
    frontend: &mut dyn Frontend,
) -> Result<(Machine, StopReason), Failure> {
    let mut resets = 0u64;
    let mut earlier_insns = 0u64;
    loop {
        let remaining = config.max_insns.map(|n| n.saturating_sub(earlier_insns));
        let stop = match config.gdb {
            Some(gdb) => {
                let opts = crate::gdb::GdbOptions {
                    port: gdb.port,
                    wait: gdb.wait,
                    max_insns: remaining,
                    exit_status: guest_exit_status,
                };
                crate::gdb::serve(&mut m, symbols, &opts).map_err(Failure::usage)?
            }
            None => m.run(remaining),
        };
        if stop == StopReason::SavePoint {
            frontend.save_point(&m)?;
            continue;
        }
        if stop != StopReason::Reset || config.no_reboot {
            return Ok((m, stop));
        }
        // A guest reset (syscon 0x7777, SBI system reset): boot the same images again on
        // a fresh board, as QEMU does. Disks were flushed when the old board was dropped.
        resets += 1;
        earlier_insns += m.total_insns;
        m.finish();
        let tracer = std::mem::take(&mut m.tracer);
        let published = m.progress.take();
        drop(m);
        frontend.notice(&format!("guest reset #{resets}, rebooting"));
        m = image_layout::build(config, board)?.0;
        m.set_tracer(tracer);
        m.set_observed(config.stats_observed);
        m.progress = published;
    }
}

impl Outcome {
    /// `emu`'s exit status for this end of `config`'s run, explained on stderr when it
    /// is not the guest's own.
    pub fn exit_status(&self, config: &RunConfig) -> u8 {
        // With --expect, a guest that ends before the console showed everything fails. A
        // caller's own watch (`emu test`) gets the same statuses; the caller explains them.
        let watch = config.watch.as_ref();
        let unmet = watch.and_then(|w| w.unmet());
        let explain = config.explain_watch;
        let no_reboot = config.no_reboot;
        match self.stop {
            StopReason::Exit(_) | StopReason::Reset if unmet.is_some() && !explain => {
                EXIT_EXPECT_UNMET
            }
            StopReason::Exit(code) if unmet.is_some() => {
                eprintln!(
                    "emu: the guest powered off (status {}) before the console showed --expect '{}'; exit status {EXIT_EXPECT_UNMET}",
                    guest_exit_status(code),
                    unmet.unwrap_or_default()
                );
                EXIT_EXPECT_UNMET
            }
            StopReason::Exit(code) => guest_exit_status(code),
            StopReason::Reset if no_reboot && unmet.is_some() => {
                eprintln!(
                    "emu: the guest reset the board (--no-reboot) before the console showed --expect '{}'; exit status {EXIT_EXPECT_UNMET}",
                    unmet.unwrap_or_default()
                );
                EXIT_EXPECT_UNMET
            }
            StopReason::Reset if no_reboot => {
                eprintln!(
                    "emu: the guest reset the board (--no-reboot); exit status {EXIT_GUEST_RESET}"
                );
                EXIT_GUEST_RESET
            }
            StopReason::Reset | StopReason::SavePoint => 0,
            StopReason::Watch(WatchStop::ExpectationsMet) => {
                if explain {
                    eprintln!("emu: the console showed every --expect pattern; exit status 0");
                }
                0
            }
            StopReason::Watch(WatchStop::FailurePattern) => {
                let verdict = watch.and_then(|w| w.check()).filter(|_| explain);
                if let Some(Verdict::Failed { pattern, line }) = verdict {
                    eprintln!(
                        "emu: --fail-on '{pattern}' matched: {line}; exit status {EXIT_FAIL_PATTERN}"
                    );
                }
                EXIT_FAIL_PATTERN
            }
            StopReason::Watch(WatchStop::Timeout) => {
                eprintln!(
                    "emu: --timeout {} reached after {} instructions; exit status {EXIT_TIMEOUT}",
                    config
                        .timeout
                        .map(|t| format!("{:?}", t))
                        .unwrap_or_default(),
                    self.total_insns
                );
                EXIT_TIMEOUT
            }
            StopReason::InsnLimit => {
                eprintln!(
                    "emu: stopped after {} instructions (--max-insns); exit status {EXIT_INSN_LIMIT}",
                    self.total_insns
                );
                EXIT_INSN_LIMIT
            }
            StopReason::Interrupted => {
                eprintln!("emu: interrupted after {} instructions", self.total_insns);
                EXIT_INTERRUPTED
            }
            StopReason::Deadlock => {
                eprintln!("emu: every hart is waiting for an interrupt that can never come; exit status {EXIT_DEADLOCK}");
                EXIT_DEADLOCK
            }
            StopReason::UnsupportedSyscall(n) => {
                eprintln!(
                    "emu: the guest asked the HTIF syscall proxy for syscall {n}, which emu does not serve (it serves {}); exit status {EXIT_HTIF_UNSUPPORTED}",
                    crate::bus::served_syscalls()
                );
                EXIT_HTIF_UNSUPPORTED
            }
            StopReason::SyscallBlockOutsideRam(addr) => {
                eprintln!("emu: the guest's HTIF syscall block at {addr:#x} is not in RAM; exit status {EXIT_HTIF_UNSUPPORTED}");
                EXIT_HTIF_UNSUPPORTED
            }
            StopReason::UnsupportedHtif(value) => {
                eprintln!(
                    "emu: the guest wrote HTIF command {value:#x} (device {}, command {}), which emu does not serve; exit status {EXIT_HTIF_UNSUPPORTED}",
                    value >> 56,
                    (value >> 48) & 0xff
                );
                EXIT_HTIF_UNSUPPORTED
            }
        }
    }
}

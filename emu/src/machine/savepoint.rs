//! Save points (`emu run --save-at`): where the machine stops so that a snapshot can be
//! taken, and how a quantum cut at such a point continues.
//!
//! A save point can fall in the middle of a hart's slice of a quantum. Ending the
//! quantum there would move the next look at devices and interrupts earlier, which the
//! guest can notice; so the machine only pauses: it records where it is in the quantum
//! ([`QuantumPosition`], saved in the snapshot), and the next [`super::Machine::run`] -
//! in the same process or after a restore - finishes that quantum before anything else.
//! Stopping a hart after `k` instructions and running it on for the rest of its budget is
//! what the hart loop already does between quanta, so the run is the uninterrupted one.

use crate::bus::Bus;
use crate::cpu::{Hart, RunStop};
use crate::trace::symbols::Symbolizer;
use crate::trace::{Tracer, Where};
use crate::user_error::Failure;

/// Where to stop: when a hart has retired `insn` instructions (as `--trace-from insn:N`
/// counts), or before a hart executes an instruction at one of these pcs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePoint {
    /// Which `--save-at` this is (0-based, in command-line order).
    pub id: usize,
    pub insn: Option<u64>,
    pub pcs: Vec<u64>,
}

/// The save points of `--save-at`, in order, resolved with the run's symbols.
pub fn resolve(save_at: &[Where], symbols: &Symbolizer) -> Result<Vec<SavePoint>, Failure> {
    save_at
        .iter()
        .enumerate()
        .map(|(id, w)| {
            let (insn, pcs) = match w {
                Where::Insn(n) => (Some(*n), Vec::new()),
                Where::Address(a) => (None, vec![*a]),
                Where::Symbol(name) => {
                    let pcs = symbols.resolve(name);
                    if pcs.is_empty() {
                        return Err(Failure::usage(format!(
                            "unknown symbol '{name}' for --save-at (give an address like 0x80200000, insn:N, or pass the ELF with --symbols)"
                        )));
                    }
                    (None, pcs)
                }
            };
            Ok(SavePoint { id, insn, pcs })
        })
        .collect()
}

/// A quantum interrupted at a save point: what the machine's loop had computed for it
/// and how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantumPosition {
    /// `mtime` the quantum started with.
    pub now: u64,
    pub quantum: u64,
    /// The hart whose slice was cut, and the budget it has left.
    pub hart: usize,
    pub left: u64,
    /// Instructions executed in the quantum so far, and whether every hart that ran in
    /// it went to sleep.
    pub executed: u64,
    pub all_waiting: bool,
}

/// How a hart's slice ended.
pub(super) enum Slice {
    /// As the hart loop reports it.
    Ran(u64, RunStop),
    /// Stopped at save point `index` of the pending list after `ran` instructions, with
    /// `left` of the budget to go.
    Paused { ran: u64, left: u64, index: usize },
}

fn run_hart(hart: &mut Hart, bus: &mut Bus, tracer: &mut Tracer, budget: u64) -> (u64, RunStop) {
    if tracer.watching_pcs() {
        hart.run_traced(bus, tracer, budget)
    } else {
        hart.run(bus, budget)
    }
}

/// Run `hart` for `budget` instructions, pausing at the first pending save point it
/// reaches: an `insn:N` point when the hart has retired N instructions (the count
/// `--trace-from insn:N` uses), a pc point before the hart executes there.
pub(super) fn run_slice(
    hart: &mut Hart,
    bus: &mut Bus,
    tracer: &mut Tracer,
    points: &[SavePoint],
    budget: u64,
) -> Slice {
    if points.is_empty() {
        let (n, stop) = run_hart(hart, bus, tracer, budget);
        return Slice::Ran(n, stop);
    }
    let watch_pcs = points.iter().any(|p| !p.pcs.is_empty());
    let mut ran = 0;
    loop {
        if ran >= budget {
            return Slice::Ran(ran, RunStop::Budget);
        }
        let reached = points
            .iter()
            .position(|p| p.insn.is_some_and(|n| hart.instret >= n) || p.pcs.contains(&hart.pc));
        if let Some(index) = reached {
            return Slice::Paused {
                ran,
                left: budget - ran,
                index,
            };
        }
        // A pc to watch: one instruction at a time, looking before each. Only counts:
        // up to the nearest one (an instruction that traps retires nothing, so this may
        // take more than one go).
        let cap = if watch_pcs {
            1
        } else {
            points
                .iter()
                .filter_map(|p| p.insn)
                .map(|n| n - hart.instret)
                .fold(budget - ran, u64::min)
        };
        let (n, stop) = run_hart(hart, bus, tracer, cap);
        ran += n;
        if n == 0 || stop != RunStop::Budget || hart.waiting() {
            return Slice::Ran(ran, stop);
        }
    }
}

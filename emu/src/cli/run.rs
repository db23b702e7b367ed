//! `emu run`: check the flags, turn them into a [`RunConfig`], and run it with the
//! terminal, the status line and snapshot files as its front end; then report.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::progress::{Sources, StatusLine};
use super::snapshot::Restored;
use super::terminal::{RawModeGuard, StdinTerminal};
use super::{Clock, Failure, RunArgs};
use crate::devices::console::ConsoleInputSource;
use crate::devices::virtio::{DiskConfig, ShareConfig};
use crate::machine::console_expect::ConsoleWatch;
use crate::machine::loader::read_input;
use crate::machine::run_config::{Firmware, GdbServer, Guest, RunConfig, TraceConfig};
use crate::machine::session::{self, Frontend, Outcome};
use crate::machine::stats::Report;
use crate::machine::{ClockMode, Machine, MachineConfig, Progress};
use crate::trace::symbols::Symbolizer;

pub fn run(mut args: RunArgs) -> Result<u8, Failure> {
    let restored = super::snapshot::prepare_restore(&mut args)?;
    super::snapshot::check_save_args(&args)?;
    let config = run_config(&args)?;
    let mut frontend = Terminal {
        args: &args,
        restored,
        status: None,
        raw: None,
    };
    let outcome = session::run(&config, &mut frontend)?;
    // After --restore: the report counts from the snapshot point on.
    let before = frontend.restored.and_then(|r| r.before);
    print_stats(&args, &outcome, before.as_ref())?;
    Ok(outcome.exit_status(&config))
}

/// The run the flags describe; usage errors and unusable files end it here.
fn run_config(args: &RunArgs) -> Result<RunConfig, Failure> {
    let board = board_config(args)?;
    let watch = match &args.watch {
        Some(w) => Some(w.clone()),
        None if args.expect.is_empty() && args.fail_on.is_empty() => None,
        None => Some(Arc::new(
            ConsoleWatch::from_patterns(&args.expect, &args.fail_on).map_err(Failure::usage)?,
        )),
    };
    let guest = match &args.guest {
        Some(p) => Guest::file(p)?,
        // The built-in guest kernel runs in S-mode on SBI: without firmware it would
        // only trap forever.
        None if args.bios == "none" => {
            return Err(Failure::usage(
                "--bios none runs a bare-metal program in M-mode: give its path \
                 (emu run --bios none prog.elf), or drop --bios none to boot the built-in \
                 guest kernel on the built-in firmware",
            ))
        }
        None => Guest::built_in(crate::images::GUEST_KERNEL, "built-in guest kernel"),
    };
    let initrd = match &args.initrd {
        Some(p) => Some(read_input("initrd", p)?),
        None => None,
    };
    // Fail now rather than after a long run.
    if let Some(p) = &args.stats_json {
        super::check_writable("statistics file", p)?;
    }
    let stats_observed = args.stats == Some(super::StatsLevel::Full) || args.stats_json.is_some();
    Ok(RunConfig {
        board,
        firmware: match args.bios.as_str() {
            "builtin" => Firmware::Builtin,
            "none" => Firmware::None,
            path => Firmware::File(PathBuf::from(path)),
        },
        guest,
        initrd,
        dtb: args.dtb.clone(),
        symbols: args.symbols.clone(),
        symbol_modules: args.symbols_module.clone(),
        trace: args.trace.map(|events| TraceConfig {
            events,
            file: args.trace_file.clone(),
            format: args.trace_format.unwrap_or(crate::trace::Format::Text),
            limit: args.trace_limit,
            from: args.trace_from.clone(),
            until: args.trace_until.clone(),
        }),
        stats_observed,
        stats_shown: args.stats.is_some() || args.stats_json.is_some(),
        // What shows kernel symbols: traces, gdb, statistics by phase, save points (also
        // after a restore).
        kallsyms: args.trace.is_some()
            || args.gdb.is_some()
            || stats_observed
            || !args.save_at.is_empty()
            || args.restore.is_some(),
        gdb: args.gdb.map(|port| GdbServer {
            port,
            wait: args.gdb_wait,
        }),
        max_insns: args.max_insns,
        timeout: args.timeout,
        no_reboot: args.no_reboot,
        save_at: args.save_at.clone(),
        watch,
        explain_watch: args.watch.is_none(),
    })
}

/// The board: the machine flags, the clock, the disks and shares (opened here), the
/// console on this process's stdin.
fn board_config(args: &RunArgs) -> Result<MachineConfig, Failure> {
    let mut config = args.machine.config();
    config.clock = match args.clock {
        Clock::Deterministic => ClockMode::Deterministic,
        Clock::Host => ClockMode::Host,
    };
    config.snapshot = args.snapshot;
    for warning in ignored_options(args) {
        eprintln!("emu: warning: {warning}");
    }
    for path in &args.disk {
        config
            .disks
            .push(DiskConfig::open(path).map_err(Failure::image)?);
    }
    for spec in &args.share {
        let (dir, tag, read_only) = ShareConfig::parse(spec).map_err(Failure::usage)?;
        if config.shares.iter().any(|s| s.tag == tag) {
            return Err(Failure::usage(format!(
                "two --share directories have the tag {tag:?}: give each its own ,tag=NAME"
            )));
        }
        config
            .shares
            .push(ShareConfig::open(&dir, &tag, read_only).map_err(Failure::image)?);
    }
    if config.disks.len() + config.shares.len() > crate::machine::board::max_disks(&config) {
        return Err(Failure::usage(format!(
            "too many --disk images and --share directories: at most {} fit on the virtio slots",
            crate::machine::board::max_disks(&config)
        )));
    }
    let terminal = super::terminal::stdin_terminal();
    config.console_input = if terminal == StdinTerminal::Background {
        eprintln!(
            "emu: not in the foreground of the terminal (timeout(1) without --foreground?): \
             the guest console reads no input and Ctrl-A does nothing"
        );
        ConsoleInputSource::None
    } else {
        ConsoleInputSource::Stdin
    };
    config.pace_idle = terminal != StdinTerminal::None;
    Ok(config)
}

/// `emu run`'s side of a run: the terminal (raw mode, Ctrl-C, the status line) and the
/// snapshot files.
struct Terminal<'a> {
    args: &'a RunArgs,
    restored: Option<Restored>,
    // Dropped before `raw` (field order), also when the run fails.
    status: Option<StatusLine>,
    raw: Option<RawModeGuard>,
}

impl Frontend for Terminal<'_> {
    fn prepared(&mut self, m: &mut Machine, symbols: &Symbolizer) -> Result<(), Failure> {
        match &mut self.restored {
            Some(r) => r.apply(m, symbols),
            None => Ok(()),
        }
    }

    fn running(&mut self, progress: &Arc<Progress>, trace_bytes: Option<Arc<AtomicU64>>) -> bool {
        super::terminal::install_stop_handler();
        self.raw = Some(RawModeGuard::enable());
        // The status line: not with gdb (the guest waits at breakpoints) nor with the
        // trace on stderr (the two would write over each other).
        let args = self.args;
        if args.gdb.is_some() || (args.trace.is_some() && args.trace_file.is_none()) {
            return false;
        }
        self.status = StatusLine::start(Sources {
            progress: progress.clone(),
            trace_bytes,
            deterministic_clock: args.clock == Clock::Deterministic,
        });
        true
    }

    fn save_point(&mut self, m: &Machine) -> Result<(), Failure> {
        super::snapshot::save(m, self.args)
    }

    fn notice(&mut self, line: &str) {
        super::progress::hide();
        eprintln!("emu: {line}");
    }

    fn stopped(&mut self) {
        self.status = None;
        self.raw = None;
    }
}

/// `--stats` on stderr and `--stats-json` to its file; `before`: the counters at the
/// restored snapshot's point.
fn print_stats(args: &RunArgs, outcome: &Outcome, before: Option<&Report>) -> Result<(), Failure> {
    let since_snapshot;
    let report = match before {
        Some(b) => {
            since_snapshot = super::snapshot::since(&outcome.report, b);
            &since_snapshot
        }
        None => &outcome.report,
    };
    if let Some(level) = args.stats {
        eprint!("{}", report.human(level == super::StatsLevel::Full));
        // --jit: what compiling cost (after reboots, of the last boot only).
        for (hartid, j) in &outcome.jit {
            let ran = outcome.report.per_hart.get(*hartid as usize).copied();
            let share = 100.0 * j.retired as f64 / ran.unwrap_or(0).max(1) as f64;
            eprintln!(
                "jit hart {}          {} instructions ran compiled ({:.1}%); {} blocks, {} instructions compiled in {:.3}s ({} failed, {} restarts; {} on the compile thread, {} dropped as stale), {} exits linked, {} pages given up (code kept changing); quick code for {} blocks ({} instructions, {} KiB, {} restarts)",
                hartid,
                j.retired,
                share,
                j.blocks,
                j.instructions,
                j.compile_time.as_secs_f64(),
                j.failures,
                j.restarts,
                j.on_thread,
                j.stale,
                j.links,
                j.pages_given_up,
                j.quick_blocks,
                j.quick_instructions,
                j.quick_bytes / 1024,
                j.quick_restarts
            );
        }
    }
    if let Some(p) = &args.stats_json {
        let json = match before {
            Some(b) => super::snapshot::json_with_before(report, b),
            None => report.json(),
        };
        super::write_atomically("statistics file", p, json.as_bytes())?;
    }
    Ok(())
}

/// Options given that this run ignores: one warning each.
fn ignored_options(args: &RunArgs) -> Vec<String> {
    let mut warnings = Vec::new();
    if args.trace.is_none() {
        let given: Vec<&str> = [
            ("--trace-file", args.trace_file.is_some()),
            ("--trace-format", args.trace_format.is_some()),
            ("--trace-from", args.trace_from.is_some()),
            ("--trace-until", args.trace_until.is_some()),
            ("--trace-limit", args.trace_limit.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect();
        if !given.is_empty() {
            warnings.push(format!(
                "{} {} no effect without --trace EVENTS",
                given.join(", "),
                if given.len() == 1 { "has" } else { "have" }
            ));
        }
    }
    let machine = &args.machine;
    if machine.jit {
        if machine.no_fast_path {
            warnings.push(
                "--jit has no effect with --no-fast-path: every instruction takes the reference loop"
                    .to_string(),
            );
        } else {
            // Counted runs (--stats, --trace of walks, satp, sfence, traps, modes) enter
            // compiled code; the reference loop (--check-tlb, TLB events) and the loop
            // that looks at each instruction (instruction, MMIO, SBI events) never do.
            use crate::trace::{EventMask, Kind};
            let trace = args.trace.unwrap_or(EventMask::NONE);
            let each: Vec<&str> = [Kind::Insn, Kind::Tlb, Kind::Mmio, Kind::Sbi]
                .into_iter()
                .filter(|k| trace.has(*k))
                .map(Kind::name)
                .collect();
            let each = format!("--trace {}", each.join(","));
            let interpreted: Vec<&str> = [
                ("--check-tlb", machine.check_tlb),
                (each.as_str(), each != "--trace "),
            ]
            .into_iter()
            .filter_map(|(flag, on)| on.then_some(flag))
            .collect();
            if !interpreted.is_empty() {
                warnings.push(format!(
                    "--jit has no effect with {}: compiled code cannot check each translation or trace each instruction, so this run is interpreted",
                    interpreted.join(", ")
                ));
            }
        }
    }
    if args.dtb.is_some() {
        let given: Vec<&str> = [
            ("--append", !machine.append.is_empty()),
            ("--kaslr-seed", machine.kaslr_seed.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect();
        if !given.is_empty() {
            warnings.push(format!(
                "{} {} no effect with --dtb: the given device tree is used as it is",
                given.join(", "),
                if given.len() == 1 { "has" } else { "have" }
            ));
        }
    }
    if args.snapshot && args.disk.is_empty() {
        warnings.push("--snapshot has no effect without --disk PATH".to_string());
    }
    warnings
}

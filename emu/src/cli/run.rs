//! `emu run`: build the board from the flags, load the images, run, report.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::progress::{Sources, StatusLine};
use super::{
    Clock, Failure, RunArgs, EXIT_DEADLOCK, EXIT_EXPECT_UNMET, EXIT_FAIL_PATTERN, EXIT_GUEST_RESET,
    EXIT_HTIF_UNSUPPORTED, EXIT_INSN_LIMIT, EXIT_INTERRUPTED, EXIT_TIMEOUT,
};
use crate::devices::console::ConsoleInputSource;
use crate::devices::console::ConsoleOutput;
use crate::devices::virtio::{DiskConfig, ShareConfig};
use crate::machine::console_expect::{ConsoleWatch, Verdict};
use crate::machine::loader::{self, LoadedImage};
use crate::machine::WatchStop;
use crate::machine::{self, ClockMode, Machine, Progress, StopReason};
use crate::trace::symbols::{Image, Symbolizer};
use crate::trace::{sink, Tracer, Where};

/// Bytes kept free at the top of RAM for the device tree (the initrd ends below).
const DTB_RESERVE: u64 = 2 << 20;

pub fn run(mut args: RunArgs) -> Result<u8, Failure> {
    let mut restored = super::snapshot::prepare_restore(&mut args)?;
    super::snapshot::check_save_args(&args)?;
    let mut config = args.machine.config();
    config.clock = match args.clock {
        Clock::Deterministic => ClockMode::Deterministic,
        Clock::Host => ClockMode::Host,
    };
    config.snapshot = args.snapshot;
    for warning in ignored_options(&args) {
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
    config.console_input = ConsoleInputSource::Stdin;
    let watch = match &args.watch {
        Some(w) => Some(w.clone()),
        None if args.expect.is_empty() && args.fail_on.is_empty() => None,
        None => Some(Arc::new(
            ConsoleWatch::from_patterns(&args.expect, &args.fail_on).map_err(Failure::usage)?,
        )),
    };
    if let Some(w) = &watch {
        config.console_output = ConsoleOutput::Watched(w.clone());
    }

    let (guest_bytes, guest_name) = match &args.guest {
        Some(p) => (read_input("program", p)?, p.display().to_string()),
        // The built-in guest kernel runs in S-mode on SBI: without firmware it would
        // only trap forever.
        None if args.bios == "none" => {
            return Err(Failure::usage(
                "--bios none runs a bare-metal program in M-mode: give its path \
                 (emu run --bios none prog.elf), or drop --bios none to boot the built-in \
                 guest kernel on the built-in firmware",
            ))
        }
        None => (
            crate::images::GUEST_KERNEL.to_vec(),
            "built-in guest kernel".to_string(),
        ),
    };
    let initrd = match &args.initrd {
        Some(p) => Some(read_input("initrd", p)?),
        None => None,
    };
    // Fail now rather than after a long run.
    if let Some(p) = &args.stats_json {
        super::check_writable("statistics file", p)?;
    }
    config.pace_idle = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let images = Images {
        guest: &guest_bytes,
        guest_name: &guest_name,
        initrd: initrd.as_deref(),
    };
    let (mut m, symbols) = build(&args, &config, &images)?;
    m.save_points = super::snapshot::save_points(&args, &symbols)?;

    // Tracing: the sink thread formats and writes; the machine only batches events.
    let mut trace_sink = None;
    if let Some(mask) = args.trace {
        let output = match &args.trace_file {
            Some(p) => sink::Output::File(p.clone()),
            None => sink::Output::Stderr,
        };
        let (s, tx) = sink::Sink::start(
            output,
            args.trace_format.unwrap_or(crate::trace::Format::Text),
            symbols.clone(),
            crate::cpu::disasm::disassemble,
        )
        .map_err(|e| match &args.trace_file {
            Some(p) => Failure::image(format!(
                "cannot open the trace file {}: {}",
                p.display(),
                loader::os_error(&e)
            )),
            None => Failure::image(format!("cannot start the trace writer: {e}")),
        })?;
        let mut tracer = Tracer::new(mask, tx, args.trace_limit);
        let (from_pcs, from_insn) = resolve_where(args.trace_from.as_ref(), &symbols)?;
        let (until_pcs, until_insn) = resolve_where(args.trace_until.as_ref(), &symbols)?;
        tracer.set_window(from_pcs, from_insn, until_pcs, until_insn);
        m.set_tracer(tracer);
        trace_sink = Some(s);
    }
    let stats_observed = args.stats == Some(super::StatsLevel::Full) || args.stats_json.is_some();
    m.set_observed(stats_observed);
    if let Some(r) = &mut restored {
        r.apply(&mut m, &symbols)?;
    }

    super::terminal::install_stop_handler();
    let raw = super::terminal::RawModeGuard::enable();
    // The status line: not with gdb (the guest waits at breakpoints) nor with the trace
    // on stderr (the two would write over each other).
    let progress = Arc::new(Progress::default());
    let status = if args.gdb.is_none() && (args.trace.is_none() || args.trace_file.is_some()) {
        m.progress = Some(progress.clone());
        StatusLine::start(Sources {
            progress: progress.clone(),
            trace_bytes: trace_sink.as_ref().map(sink::Sink::written),
            deterministic_clock: config.clock == ClockMode::Deterministic,
        })
    } else {
        None
    };
    let start = Instant::now();
    // Reboots keep the deadline: it is the run's, not the board's.
    config.deadline = args.timeout.map(|t| start + t);
    m.config.deadline = config.deadline;
    let mut resets = 0u64;
    let mut earlier_insns = 0u64;
    let stop = loop {
        let remaining = args.max_insns.map(|n| n.saturating_sub(earlier_insns));
        let stop = match args.gdb {
            Some(port) => {
                let opts = crate::gdb::GdbOptions {
                    port,
                    wait: args.gdb_wait,
                    max_insns: remaining,
                    exit_status,
                };
                crate::gdb::serve(&mut m, &symbols, &opts).map_err(Failure::usage)?
            }
            None => m.run(remaining),
        };
        if stop == StopReason::SavePoint {
            super::snapshot::save(&m, &args)?;
            continue;
        }
        if stop != StopReason::Reset || args.no_reboot {
            break stop;
        }
        // A guest reset (syscon 0x7777, SBI system reset): boot the same images again on
        // a fresh board, as QEMU does. Disks were flushed when the old board was dropped.
        resets += 1;
        earlier_insns += m.total_insns;
        m.finish();
        let tracer = std::mem::take(&mut m.tracer);
        let published = m.progress.take();
        drop(m);
        super::progress::hide();
        eprintln!("emu: guest reset #{resets}, rebooting");
        m = build(&args, &config, &images)?.0;
        m.set_tracer(tracer);
        m.set_observed(stats_observed);
        m.progress = published;
    };
    let elapsed = start.elapsed();
    drop(status);
    drop(raw);
    m.finish();

    m.tracer.finish();
    if let Some(s) = trace_sink {
        s.join().map_err(|e| match &args.trace_file {
            Some(p) => Failure::image(format!(
                "cannot write the trace file {}: {}",
                p.display(),
                loader::os_error(&e)
            )),
            None => Failure::image(format!("writing the trace failed: {e}")),
        })?;
    }
    let report = crate::machine::stats::Report::collect(&m, elapsed, &symbols);
    // After --restore: what happened from the snapshot point on.
    let before = restored.and_then(|r| r.before);
    let report = match &before {
        Some(b) => super::snapshot::since(&report, b),
        None => report,
    };
    if let Some(level) = args.stats {
        eprint!("{}", report.human(level == super::StatsLevel::Full));
        // --jit: what compiling cost (after reboots, of the last boot only).
        for h in &m.harts {
            if let Some(j) = h.jit_stats() {
                eprintln!(
                    "jit hart {}          {} blocks, {} instructions compiled in {:.3}s ({} failed, {} restarts), {} exits linked, {} pages given up (code kept changing)",
                    h.hartid,
                    j.blocks,
                    j.instructions,
                    j.compile_time.as_secs_f64(),
                    j.failures,
                    j.restarts,
                    j.links,
                    j.pages_given_up
                );
            }
        }
    }
    if let Some(p) = &args.stats_json {
        let json = match &before {
            Some(b) => super::snapshot::json_with_before(&report, b),
            None => report.json(),
        };
        super::write_atomically("statistics file", p, json.as_bytes())?;
    }
    // With --expect, a guest that ends before the console showed everything fails. A
    // caller's own watch (`emu test`) gets the same statuses; the caller explains them.
    let unmet = watch.as_ref().and_then(|w| w.unmet());
    let explain = args.watch.is_none();
    Ok(match stop {
        StopReason::Exit(_) | StopReason::Reset if unmet.is_some() && !explain => EXIT_EXPECT_UNMET,
        StopReason::Exit(code) if unmet.is_some() => {
            eprintln!(
                "emu: the guest powered off (status {}) before the console showed --expect '{}'; exit status {EXIT_EXPECT_UNMET}",
                exit_status(code),
                unmet.unwrap_or_default()
            );
            EXIT_EXPECT_UNMET
        }
        StopReason::Exit(code) => exit_status(code),
        StopReason::Reset if args.no_reboot && unmet.is_some() => {
            eprintln!(
                "emu: the guest reset the board (--no-reboot) before the console showed --expect '{}'; exit status {EXIT_EXPECT_UNMET}",
                unmet.unwrap_or_default()
            );
            EXIT_EXPECT_UNMET
        }
        StopReason::Reset if args.no_reboot => {
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
            let verdict = watch.as_ref().and_then(|w| w.check()).filter(|_| explain);
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
                args.timeout.map(|t| format!("{:?}", t)).unwrap_or_default(),
                m.total_insns
            );
            EXIT_TIMEOUT
        }
        StopReason::InsnLimit => {
            eprintln!(
                "emu: stopped after {} instructions (--max-insns); exit status {EXIT_INSN_LIMIT}",
                m.total_insns
            );
            EXIT_INSN_LIMIT
        }
        StopReason::Interrupted => {
            eprintln!("emu: interrupted after {} instructions", m.total_insns);
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
    })
}

/// A guest exit code as a process status: codes whose low byte is 0 (e.g. 256) must not
/// look like success.
fn exit_status(code: u32) -> u8 {
    match (code & 0xff) as u8 {
        0 if code != 0 => 1,
        c => c,
    }
}

fn img_err(e: loader::LoadError) -> Failure {
    Failure::image(e.to_string())
}

/// Read an input file the user named; errors name its role and path.
fn read_input(role: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    let data = std::fs::read(path).map_err(|e| {
        Failure::image(format!(
            "cannot read the {role} {}: {}",
            path.display(),
            loader::os_error(&e)
        ))
    })?;
    if data.is_empty() {
        return Err(Failure::image(format!(
            "the {role} {} is empty",
            path.display()
        )));
    }
    Ok(data)
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
            // The machine's observed runs (Machine::set_observed, the MMU's
            // `observed()`) never enter compiled code.
            let counted: Vec<&str> = [
                ("--stats", args.stats == Some(super::StatsLevel::Full)),
                ("--stats-json", args.stats_json.is_some()),
                ("--trace", args.trace.is_some()),
                ("--check-tlb", machine.check_tlb),
            ]
            .into_iter()
            .filter_map(|(flag, on)| on.then_some(flag))
            .collect();
            if !counted.is_empty() {
                warnings.push(format!(
                    "--jit has no effect with {}: compiled code cannot count or trace memory accesses, so this run is interpreted (--stats=basic works with --jit)",
                    counted.join(", ")
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

/// A stretch of RAM a boot image occupies, named for error messages.
struct Region {
    name: &'static str,
    start: u64,
    end: u64,
}

impl Region {
    fn new(name: &'static str, start: u64, end: u64) -> Region {
        Region { name, start, end }
    }

    fn describe(&self) -> String {
        let len = self.end.saturating_sub(self.start);
        let size = if len >= 1 << 20 {
            format!("{} MiB", len.div_ceil(1 << 20))
        } else {
            format!("{} KiB", len.div_ceil(1 << 10))
        };
        format!("{} ({:#x}-{:#x}, {size})", self.name, self.start, self.end)
    }

    fn outside_ram(&self, ram: (u64, u64)) -> Failure {
        Failure::image(format!(
            "{} does not fit in RAM ({:#x}-{:#x}); give more memory with -m",
            self.describe(),
            ram.0,
            ram.1
        ))
    }

    /// One error line naming this region and the first one it overlaps (or RAM).
    fn check_free(&self, taken: &[Region], ram: (u64, u64)) -> Result<(), Failure> {
        if self.start < ram.0 || self.end > ram.1 || self.end < self.start {
            return Err(self.outside_ram(ram));
        }
        match taken
            .iter()
            .find(|t| self.start < t.end && t.start < self.end)
        {
            Some(t) => Err(Failure::image(format!(
                "{} overlaps {} ({:#x}-{:#x}); give more memory with -m",
                self.describe(),
                t.name,
                t.start,
                t.end
            ))),
            None => Ok(()),
        }
    }
}

/// The guest images of a run, kept so a guest reset can boot them again.
struct Images<'a> {
    guest: &'a [u8],
    guest_name: &'a str,
    initrd: Option<&'a [u8]>,
}

/// Build the board, load firmware, kernel, initrd and DTB, and point the boot ROM at the
/// entry. Returns the machine and the symbols of what was loaded.
fn build(
    args: &RunArgs,
    config: &crate::machine::MachineConfig,
    images: &Images,
) -> Result<(Machine, Symbolizer), Failure> {
    let mut symbols = Symbolizer::default();

    let mut m = Machine::new(config.clone());
    let entry;
    let kernel: LoadedImage;
    let mut firmware: Option<LoadedImage> = None;
    match args.bios.as_str() {
        "none" => {
            kernel = m.load(images.guest, images.guest_name).map_err(img_err)?;
            entry = kernel.entry;
        }
        bios => {
            let (fw_bytes, fw_name) = if bios == "builtin" {
                (
                    crate::images::FIRMWARE.to_vec(),
                    "built-in firmware".to_string(),
                )
            } else {
                (read_input("firmware", Path::new(bios))?, bios.to_string())
            };
            let fw = if fw_bytes.starts_with(b"\x7fELF") {
                m.load(&fw_bytes, &fw_name).map_err(img_err)?
            } else {
                loader::load_raw(m.ram(), &fw_bytes, machine::map::DRAM, &fw_name)
                    .map_err(img_err)?
            };
            if fw_bytes.starts_with(b"\x7fELF") {
                if let Ok(im) = Image::from_elf("firmware", &fw_bytes) {
                    symbols.add(im);
                }
            }
            kernel = m.load(images.guest, images.guest_name).map_err(img_err)?;
            if kernel.start < fw.end && fw.start < kernel.end {
                return Err(Failure::image(format!(
                    "{fw_name} ({:#x}..{:#x}) overlaps {} ({:#x}..{:#x})",
                    fw.start, fw.end, images.guest_name, kernel.start, kernel.end
                )));
            }
            entry = fw.entry;
            firmware = Some(fw);
        }
    }
    if images.guest.starts_with(b"\x7fELF") {
        if let Ok(im) = Image::from_elf("kernel", images.guest) {
            symbols.add(im);
        }
    }
    if kernel.is_linux_image {
        // A stock Image has no ELF symbols; its kallsyms tables name the kernel's
        // functions and data. An Image without them just stays unnamed in traces.
        if let Ok(table) = crate::trace::kallsyms::find(images.guest) {
            symbols.add(Image::from_kallsyms(
                "kernel",
                &table,
                kernel.start,
                kernel.end - kernel.start,
            ));
        }
    }
    for p in &args.symbols {
        let data = read_input("symbols file", p)?;
        symbols.add(Image::from_elf(&p.display().to_string(), &data).map_err(Failure::image)?);
    }
    for module in &args.symbols_module {
        let mut data = read_input("module", &module.path)?;
        let name = module.path.display().to_string();
        // Distributions ship modules xz-compressed (Debian's .ko.xz).
        if data.starts_with(b"\xfd7zXZ\0") {
            data = crate::initramfs::deb::xz_decompress(&data)
                .map_err(|e| Failure::image(format!("the module {name}: {e}")))?;
        }
        for im in Image::from_module(&name, &data, &module.sections).map_err(Failure::image)? {
            symbols.add(im);
        }
    }

    // Everything placed in RAM so far; each later image is checked against all of it.
    let mut taken = vec![Region::new("the kernel image", kernel.start, kernel.end)];
    if let Some(fw) = &firmware {
        taken.push(Region::new("the firmware", fw.start, fw.end));
    }
    // A user's tree is known now, so the initrd can go below however much it needs.
    let user_dtb = match &args.dtb {
        Some(p) => {
            let data = read_input("device tree", p)?;
            let tree = machine::dtb::validate(&data).map_err(|why| {
                Failure::image(format!(
                    "--dtb {} is not a usable device tree: {why}",
                    p.display()
                ))
            })?;
            Some(tree.to_vec())
        }
        None => None,
    };
    let dtb_reserve = user_dtb
        .as_ref()
        .map_or(0, |t| (t.len() as u64 + 0x1000).next_multiple_of(0x1000))
        .max(DTB_RESERVE);
    let ram = (machine::map::DRAM, machine::map::DRAM + m.config.ram_size);
    if let Some(rd) = images.initrd {
        let end = ram.1.saturating_sub(dtb_reserve) & !0xfff;
        let start = end.saturating_sub(rd.len() as u64) & !0xfff;
        let initrd = Region::new("the initrd", start, start + rd.len() as u64);
        initrd.check_free(&taken, ram)?;
        if !m.ram().load(start, rd) {
            return Err(initrd.outside_ram(ram));
        }
        taken.push(initrd);
        m.config.initrd = Some((start, start + rd.len() as u64));
    }
    let dtb = match user_dtb {
        Some(tree) => tree,
        None => machine::dtb::build(&m.config)
            .map_err(|e| Failure::image(format!("cannot build the device tree: {e}")))?,
    };
    let dtb_at = m.dtb_address(dtb.len() as u64);
    Region::new("the device tree", dtb_at, dtb_at + dtb.len() as u64).check_free(&taken, ram)?;
    m.prepare_boot(entry, &dtb).map_err(img_err)?;
    Ok((m, symbols))
}

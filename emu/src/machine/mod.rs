//! The `virt` board: memory map, device wiring, boot ROM, image loading, and the loop
//! that runs the harts in deterministic round-robin quanta.

pub mod board;
pub use crate::devices::console_expect;
pub use crate::devices::{ClockMode, TIMEBASE_HZ};
pub mod dtb;
pub mod host_memory;
pub mod image_layout;
pub mod loader;
pub mod run_config;
pub mod savepoint;
pub mod session;
pub mod stats;

use crate::bus::{Bus, DeviceError, ExitRequest, MmioDevice, Ram, DRAM_BASE};
use crate::cpu::{Hart, RunStop};
use crate::mmu::MmuConfig;
use loader::{LoadError, LoadedImage};

/// Physical addresses of the board (DESIGN.md §3).
pub mod map {
    pub const BOOT_ROM: u64 = 0x1000;
    pub const BOOT_ROM_SIZE: u64 = 0x1000;
    pub const TEST: u64 = 0x10_0000;
    pub const RTC: u64 = 0x10_1000;
    pub const CLINT: u64 = 0x200_0000;
    pub const CLINT_SIZE: u64 = 0x1_0000;
    pub const PLIC: u64 = 0xc00_0000;
    pub const PLIC_SIZE: u64 = 0x60_0000;
    pub const UART0: u64 = 0x1000_0000;
    pub const UART0_IRQ: u32 = 10;
    pub const VIRTIO0: u64 = 0x1000_1000;
    pub const VIRTIO_STRIDE: u64 = 0x1000;
    pub const VIRTIO_COUNT: u64 = 8;
    pub const RTC_IRQ: u32 = 11;
    pub const DRAM: u64 = super::DRAM_BASE;
    /// Where the next stage after the firmware is loaded (OpenSBI fw_jump convention).
    pub const KERNEL: u64 = 0x8020_0000;
}

/// `mtime` ticks at 10 MHz; by default it advances one tick per this many retired
/// instructions (summed over harts), i.e. a nominal 100 M instructions/s guest.
pub const INSNS_PER_TICK: u64 = 10;

/// The deterministic clock after `insns` instructions of all harts: `mtime`, and the
/// instructions already gone in its current tick.
fn deterministic_clock(insns: u64) -> (u64, u64) {
    (insns / INSNS_PER_TICK, insns % INSNS_PER_TICK)
}

/// Longest quantum a hart runs before the machine looks at devices and interrupts,
/// while a device is working through a request or several harts share the machine.
const MAX_QUANTUM: u64 = 4096;

/// Longest quantum of a lone hart while every device is idle. Nothing can then change
/// between quanta but the timers, whose deadlines end a quantum exactly, and the host's
/// side (console input, Ctrl-C, `--timeout`), for which 32 Ki instructions are a few
/// microseconds; anything the guest starts on a device ends the quantum at once (a
/// device store yields). Each quantum end costs the poll of every device and the
/// instructions before it that a block no longer fits in, run by the interpreter.
const IDLE_QUANTUM: u64 = 32 * 1024;

/// [`IDLE_QUANTUM`], or `EMU_IDLE_QUANTUM` (a test hook: tests run the same guest with
/// quanta of other lengths and expect the same instructions, traps and output).
fn idle_quantum() -> u64 {
    static LENGTH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LENGTH.get_or_init(|| {
        std::env::var("EMU_IDLE_QUANTUM")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(IDLE_QUANTUM)
    })
}

/// Everything the board is built from.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    pub ram_size: u64,
    pub harts: usize,
    pub mmu: MmuConfig,
    pub bootargs: String,
    pub clock: ClockMode,
    pub kaslr_seed: u64,
    pub rng_seed: [u8; 32],
    pub initrd: Option<(u64, u64)>,
    /// Where UART output goes (default: stdout).
    pub console_output: crate::devices::console::ConsoleOutput,
    /// Where UART input comes from (default: none; the CLI chooses stdin).
    pub console_input: crate::devices::console::ConsoleInputSource,
    /// virtio block devices in slot order (`--disk`), opened by the caller.
    pub disks: Vec<crate::devices::virtio::DiskConfig>,
    /// Keep disk writes in memory instead of writing them to the files (`--snapshot`).
    pub snapshot: bool,
    /// Host directories shared over virtio 9P (`--share`), after the disks.
    pub shares: Vec<crate::devices::virtio::ShareConfig>,
    /// Attach the virtio entropy device (after the disks and shares).
    pub virtio_rng: bool,
    /// When every hart sleeps, let the skipped time pass on the wall clock as well
    /// (interactive sessions; the CLI sets it when stdin is a terminal).
    pub pace_idle: bool,
    /// Compile hot straight-line code with Cranelift (the default; off with `--interp`
    /// and in effect never with `--no-fast-path`).
    pub jit: bool,
    /// Block entries counted before compiling (`--jit-hot`).
    pub jit_hot: u32,
    /// Block entries before quick code (`--jit-quick`; 0: none).
    pub jit_quick: u32,
    /// Stop with [`StopReason::Watch`]`(`[`WatchStop::Timeout`]`)` at this wall-clock
    /// instant (`--timeout`).
    pub deadline: Option<std::time::Instant>,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            ram_size: 512 << 20,
            harts: 1,
            mmu: MmuConfig::default(),
            bootargs: String::new(),
            clock: ClockMode::Deterministic,
            kaslr_seed: 0,
            rng_seed: [0x5a; 32],
            initrd: None,
            console_output: Default::default(),
            console_input: Default::default(),
            disks: Vec::new(),
            shares: Vec::new(),
            snapshot: false,
            virtio_rng: true,
            pace_idle: false,
            jit: false,
            jit_hot: crate::jit::HOT,
            jit_quick: crate::jit::QUICK_HOT,
            deadline: None,
        }
    }
}

/// Why the machine stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The guest asked to exit with this status (HTIF, test device, SBI SRST).
    Exit(u32),
    /// The guest asked for a reset.
    Reset,
    /// `--max-insns` was reached.
    InsnLimit,
    /// Every hart sleeps in WFI with nothing that could ever wake it.
    Deadlock,
    /// A save point was reached ([`Machine::save_points`]; the one reached is in
    /// [`Machine::reached_save_point`]). Calling [`Machine::run`] again continues exactly
    /// as if the run had not stopped.
    SavePoint,
    /// The user interrupted the run (Ctrl-C, SIGTERM).
    Interrupted,
    /// The program asked the HTIF syscall proxy for this syscall, which it does not serve.
    UnsupportedSyscall(u64),
    /// The program's HTIF syscall block (at this address) is not in RAM.
    SyscallBlockOutsideRam(u64),
    /// The program wrote this `tohost` command, for a device or command HTIF lacks.
    UnsupportedHtif(u64),
    /// A console expectation or the wall-clock deadline decided the run.
    Watch(WatchStop),
}

/// The host-side limits of a run (`--expect`, `--fail-on`, `--timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStop {
    /// Every `--expect` pattern was seen (the console watch has the details).
    ExpectationsMet,
    /// A `--fail-on` pattern matched (the console watch's verdict names it and the line).
    FailurePattern,
    /// The `--timeout` deadline passed.
    Timeout,
}

impl WatchStop {
    /// `emu`'s exit status for this stop.
    pub fn exit_status(self) -> u8 {
        match self {
            WatchStop::ExpectationsMet => 0,
            WatchStop::FailurePattern => crate::user_error::EXIT_FAIL_PATTERN,
            WatchStop::Timeout => crate::user_error::EXIT_TIMEOUT,
        }
    }
}

/// Counters another thread may read while the machine runs (the CLI's status line),
/// updated once per quantum.
#[derive(Debug, Default)]
pub struct Progress {
    /// Instructions the harts executed (retired or trapped), across reboots.
    pub executed: std::sync::atomic::AtomicU64,
    /// The machine's instruction clock ([`Machine::total_insns`]: executed plus idle
    /// time skipped), which with the deterministic clock is guest time.
    pub clock: std::sync::atomic::AtomicU64,
}

/// Set by the signal handler; the machine stops at the next quantum boundary so traces,
/// statistics and disk images are finished properly.
pub static STOP_REQUESTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub struct Machine {
    pub config: MachineConfig,
    pub bus: Bus,
    pub harts: Vec<Hart>,
    /// Instructions retired by all harts.
    pub total_insns: u64,
    host_clock_start: std::time::Instant,
    /// Device interrupt lines, gathered every quantum (kept to reuse its allocation).
    irq_levels: Vec<(u32, bool)>,
    /// Where the interrupt controllers are on the bus, looked up once: they are asked
    /// every quantum.
    plic_at: Option<usize>,
    clint_at: Option<usize>,
    /// Trace producer (disabled unless `--trace`).
    pub tracer: crate::trace::Tracer,
    /// Statistics or a live trace want every access to go through the TLB model.
    pub observed: bool,
    /// Statistics want it for the whole run ([`Machine::set_observed`]); a trace only
    /// until it ends.
    stats_observed: bool,
    /// Published counters (None: nobody reads them).
    pub progress: Option<std::sync::Arc<Progress>>,
    /// Where to stop for a snapshot (`--save-at`), and the one last stopped at.
    pub save_points: Vec<savepoint::SavePoint>,
    pub reached_save_point: Option<savepoint::SavePoint>,
    /// The quantum a save point interrupted, finished by the next [`Machine::run`].
    pub resume: Option<savepoint::QuantumPosition>,
}

impl Machine {
    pub fn new(config: MachineConfig) -> Self {
        let mut bus = Bus::new(config.ram_size);
        bus.map(
            map::BOOT_ROM,
            map::BOOT_ROM_SIZE,
            Box::new(BootRom::new(0, 0)),
        );
        board::attach_board_devices(&mut bus, &config);
        bus.htif_stdin = config.console_input.clone();
        let harts = (0..config.harts)
            .map(|i| {
                let mut hart = Hart::new(i as u64, config.mmu.clone());
                if config.harts > 1 {
                    hart.share_ram_with_other_harts();
                }
                if config.clock == ClockMode::Deterministic {
                    hart.set_time_rate(INSNS_PER_TICK);
                }
                if config.jit {
                    hart.enable_jit(config.jit_hot, config.jit_quick);
                }
                hart
            })
            .collect();
        Machine {
            config,
            plic_at: bus.device_index("plic"),
            clint_at: bus.device_index("clint"),
            bus,
            harts,
            total_insns: 0,
            host_clock_start: std::time::Instant::now(),
            irq_levels: Vec::new(),
            tracer: crate::trace::Tracer::disabled(),
            observed: false,
            stats_observed: false,
            progress: None,
            save_points: Vec::new(),
            reached_save_point: None,
            resume: None,
        }
    }

    pub fn ram(&mut self) -> &mut Ram {
        &mut self.bus.ram
    }

    /// Load an image from bytes into RAM (ELF at its physical addresses, Linux Image at
    /// 0x8020_0000). Records HTIF symbols.
    pub fn load(&mut self, data: &[u8], what: &str) -> Result<LoadedImage, LoadError> {
        let img = loader::load_image(&mut self.bus.ram, data, what)?;
        if img.tohost.is_some() {
            self.bus.set_htif(img.tohost, img.fromhost);
        }
        Ok(img)
    }

    /// Place the DTB near the top of RAM and point the boot ROM at `entry`.
    /// Returns the DTB's physical address.
    pub fn prepare_boot(&mut self, entry: u64, dtb: &[u8]) -> Result<u64, LoadError> {
        let top = DRAM_BASE + self.config.ram_size;
        let dtb_addr = self.dtb_address(dtb.len() as u64);
        if dtb_addr < DRAM_BASE || !self.bus.ram.load(dtb_addr, dtb) {
            return Err(LoadError::OutsideRam {
                what: "device tree".into(),
                addr: dtb_addr,
                end: dtb_addr + dtb.len() as u64,
                ram_start: DRAM_BASE,
                ram_end: top,
            });
        }
        self.bus
            .replace_device("bootrom", Box::new(BootRom::new(entry, dtb_addr)));
        for h in &mut self.harts {
            h.pc = map::BOOT_ROM;
        }
        Ok(dtb_addr)
    }

    /// Where [`Machine::prepare_boot`] puts a device tree of `len` bytes: page-aligned,
    /// with at least a page free above it, at the top of RAM (may lie below RAM when the
    /// tree does not fit).
    pub fn dtb_address(&self, len: u64) -> u64 {
        let top = DRAM_BASE + self.config.ram_size;
        top.saturating_sub(len.saturating_add(0x1000)) & !0xfff
    }

    /// Start tracing into `tracer` (its window and kinds decide what is written). Until
    /// the trace ends every memory access is visible to the TLB model.
    pub fn set_tracer(&mut self, tracer: crate::trace::Tracer) {
        self.tracer = tracer;
        self.apply_observation();
    }

    /// Make every memory access visible to the TLB model for the whole run (for
    /// `--stats`).
    pub fn set_observed(&mut self, on: bool) {
        self.stats_observed = on;
        self.apply_observation();
    }

    /// Observe the MMU while statistics or a live trace want it; once a trace has ended
    /// (its window closed, `--trace-limit` reached) the harts go back to the unobserved
    /// loop and the MMU's fast path.
    fn apply_observation(&mut self) {
        let tracing = self.tracer.watching_pcs();
        self.observed = self.stats_observed || tracing;
        for h in &mut self.harts {
            h.mmu.config.stats = self.observed;
            h.follow_trace(&self.tracer);
        }
    }

    /// After the run: let devices finish (flush disks and console output).
    pub fn finish(&mut self) {
        let now = self.now();
        self.bus.poll_devices(now);
        self.drain_htif_console();
    }

    /// Print what the guest wrote through HTIF's console device.
    fn drain_htif_console(&mut self) {
        if !self.bus.htif_console.is_empty() {
            if let Some(watch) = self.config.console_output.watch() {
                watch.feed(&self.bus.htif_console);
            }
            crate::devices::console::write_host(
                crate::devices::console::HostStream::Stdout,
                &self.bus.htif_console,
            );
            crate::devices::console::ConsoleOutput::Stdout.flush();
            self.bus.htif_console.clear();
        }
    }

    /// Instructions already gone in the current `mtime` tick (0 with the host's clock).
    fn part_of_tick(&self) -> u64 {
        match self.config.clock {
            ClockMode::Deterministic => deterministic_clock(self.total_insns).1,
            ClockMode::Host => 0,
        }
    }

    fn now(&self) -> u64 {
        match self.config.clock {
            ClockMode::Deterministic => deterministic_clock(self.total_insns).0,
            ClockMode::Host => {
                let ns = self.host_clock_start.elapsed().as_nanos() as u64;
                ns / (1_000_000_000 / TIMEBASE_HZ)
            }
        }
    }

    /// Feed device interrupt lines to the controllers and the controllers' outputs to
    /// the harts.
    fn update_interrupts(&mut self, now: u64) {
        self.bus.poll_devices(now);
        self.irq_levels.clear();
        self.irq_levels.extend(self.bus.irq_lines());
        if let Some(plic) = self.plic_at.and_then(|at| self.bus.device_at_mut(at)) {
            plic.set_source_levels(&self.irq_levels);
        }
        let into_tick = self.part_of_tick();
        for (i, hart) in self.harts.iter_mut().enumerate() {
            let mut bits = 0;
            for at in [self.clint_at, self.plic_at].into_iter().flatten() {
                if let Some(d) = self.bus.device_at_mut(at) {
                    bits |= d.interrupt_bits(i);
                }
            }
            hart.set_interrupt_lines(bits);
            hart.set_time(now, into_tick);
        }
    }

    /// The earliest `mtime` at which a device's outputs change on their own.
    fn next_deadline(&self) -> Option<u64> {
        self.bus.next_deadline()
    }

    /// Run until the guest exits or `max_insns` instructions have retired.
    pub fn run(&mut self, max_insns: Option<u64>) -> StopReason {
        let limit = max_insns.unwrap_or(u64::MAX);
        loop {
            if let Some(p) = self.resume.take() {
                if self.total_insns >= limit {
                    self.resume = Some(p);
                    return StopReason::InsnLimit;
                }
                match self.run_quantum(p, limit) {
                    Some(stop) => return stop,
                    None => continue,
                }
            }
            if let Some(req) = self.bus.exit_request.take() {
                return match req {
                    ExitRequest::Exit(code) => StopReason::Exit(code),
                    ExitRequest::Reset => StopReason::Reset,
                    ExitRequest::UnsupportedSyscall(n) => StopReason::UnsupportedSyscall(n),
                    ExitRequest::SyscallBlockOutsideRam(a) => StopReason::SyscallBlockOutsideRam(a),
                    ExitRequest::UnsupportedHtif(v) => StopReason::UnsupportedHtif(v),
                };
            }
            if self.total_insns >= limit {
                return StopReason::InsnLimit;
            }
            if STOP_REQUESTED.load(std::sync::atomic::Ordering::Relaxed) {
                return StopReason::Interrupted;
            }
            if let Some(stop) = self.watch_stop() {
                return StopReason::Watch(stop);
            }
            let now = self.now();
            self.drain_htif_console();
            self.update_interrupts(now);
            // Quantum: up to the next timer deadline, the instruction limit and the
            // longest quantum for what the devices and harts are doing.
            let longest = if self.harts.len() == 1 && !self.bus.devices_have_pending_work() {
                idle_quantum()
            } else {
                MAX_QUANTUM
            };
            let mut quantum = longest.min(limit - self.total_insns);
            if let (Some(d), ClockMode::Deterministic) = (self.next_deadline(), self.config.clock) {
                if d > now {
                    // To the instruction at which mtime reaches d, wherever this quantum
                    // began within a tick.
                    let due = d.saturating_mul(INSNS_PER_TICK) - self.total_insns;
                    quantum = quantum.min(due.max(1));
                }
            }
            if self.observed && !self.stats_observed && !self.tracer.watching_pcs() {
                // The trace ended during the last quantum.
                self.apply_observation();
            }
            let start = savepoint::QuantumPosition {
                now,
                quantum,
                hart: 0,
                left: 0,
                executed: 0,
                all_waiting: true,
            };
            if let Some(stop) = self.run_quantum(start, limit) {
                return stop;
            }
        }
    }

    /// The harts' turns of one quantum from `at` (a fresh quantum: hart 0 with `left`
    /// 0), then what follows a quantum. `Some` when the run stops.
    fn run_quantum(&mut self, at: savepoint::QuantumPosition, limit: u64) -> Option<StopReason> {
        let savepoint::QuantumPosition {
            now,
            quantum,
            mut all_waiting,
            mut executed,
            ..
        } = at;
        {
            let nharts = self.harts.len() as u64;
            for (i, hart) in self.harts.iter_mut().enumerate().skip(at.hart) {
                let budget = if i == at.hart && at.left > 0 {
                    // The rest of a slice a save point cut: its time was set already.
                    // A limit set since (gdb's steps, --max-insns) still holds.
                    at.left.min(limit.saturating_sub(self.total_insns)).max(1)
                } else {
                    if self.config.clock == ClockMode::Deterministic {
                        // Include the harts that ran before this one in the round: every
                        // hart's `time` then continues from the latest value any hart
                        // could have read, so time never steps back when work moves
                        // between harts.
                        let (mtime, into_tick) = deterministic_clock(self.total_insns);
                        hart.set_time(mtime, into_tick);
                    }
                    quantum.div_ceil(nharts).max(1)
                };
                let (n, stop) = match savepoint::run_slice(
                    hart,
                    &mut self.bus,
                    &mut self.tracer,
                    &self.save_points,
                    budget,
                ) {
                    savepoint::Slice::Ran(n, stop) => (n, stop),
                    savepoint::Slice::Paused { ran, left, index } => {
                        self.total_insns += ran;
                        self.resume = Some(savepoint::QuantumPosition {
                            now,
                            quantum,
                            hart: i,
                            left,
                            executed: executed + ran,
                            all_waiting,
                        });
                        self.reached_save_point = Some(self.save_points.remove(index));
                        return Some(StopReason::SavePoint);
                    }
                };
                self.total_insns += n;
                executed += n;
                if stop != RunStop::Wfi {
                    all_waiting = false;
                }
                if self.bus.exit_request.is_some() {
                    break;
                }
            }
            if let Some(p) = &self.progress {
                use std::sync::atomic::Ordering::Relaxed;
                p.executed.fetch_add(executed, Relaxed);
                p.clock.store(self.total_insns, Relaxed);
            }
            if all_waiting
                && self.bus.exit_request.is_none()
                && self.config.clock == ClockMode::Deterministic
                && self.bus.devices_have_pending_work()
            {
                // Every hart sleeps while a device works through a request: let a
                // quantum of guest time pass (not past the next deadline or the limit),
                // which is what the device's work credit grows with.
                let mut target = self.total_insns.saturating_add(MAX_QUANTUM);
                if let Some(d) = self.next_deadline() {
                    target = target.min(d.max(now + 1).saturating_mul(INSNS_PER_TICK));
                }
                self.total_insns = self.total_insns.max(target.min(limit));
                return None;
            }
            if all_waiting && self.bus.exit_request.is_none() {
                // Every hart sleeps: jump time to the next deadline, as hardware would
                // simply wait for it.
                match (self.config.clock, self.next_deadline()) {
                    // A deadline whose instruction count does not fit in 64 bits can
                    // never arrive: treat it like no deadline at all.
                    (ClockMode::Deterministic, Some(d))
                        if d.checked_mul(INSNS_PER_TICK).is_some() =>
                    {
                        let target = d.max(now + 1).saturating_mul(INSNS_PER_TICK);
                        if self.config.pace_idle {
                            // Someone is at the console: let the idle time pass in real
                            // time too (capped), so an idle shell costs no CPU and guest
                            // time does not race ahead. Instruction counts are unchanged.
                            let ticks = d.max(now + 1) - now;
                            let ns = ticks
                                .saturating_mul(1_000_000_000 / TIMEBASE_HZ)
                                .min(20_000_000);
                            std::thread::sleep(std::time::Duration::from_nanos(ns));
                        }
                        // Idle time counts toward the clock but never past the limit.
                        self.total_insns = self.total_insns.max(target.min(limit));
                        if self.total_insns >= limit {
                            return Some(StopReason::InsnLimit);
                        }
                    }
                    (ClockMode::Host, _) => {
                        std::thread::sleep(std::time::Duration::from_micros(100))
                    }
                    _ => {
                        if !self.devices_may_wake() {
                            return Some(StopReason::Deadlock);
                        }
                        std::thread::sleep(std::time::Duration::from_micros(100));
                    }
                }
            }
        }
        None
    }

    /// Whether the console watch or the deadline ends the run now. Checked between
    /// quanta, which are bounded in instructions and in device work, so both hold while
    /// devices work, harts sleep or several harts run.
    fn watch_stop(&self) -> Option<WatchStop> {
        use console_expect::Verdict;
        if let Some(watch) = self.config.console_output.watch() {
            match watch.check() {
                Some(Verdict::AllSeen) => return Some(WatchStop::ExpectationsMet),
                Some(Verdict::Failed { .. }) => return Some(WatchStop::FailurePattern),
                None => {}
            }
        }
        match self.config.deadline {
            Some(d) if std::time::Instant::now() >= d => Some(WatchStop::Timeout),
            _ => None,
        }
    }

    /// Whether an outside event (console input) could still wake a sleeping hart.
    fn devices_may_wake(&self) -> bool {
        self.bus.device_name(map::UART0).is_some() && crate::devices::console_input_open()
    }
}

/// The reset vector: loads a0 = mhartid, a1 = DTB address and jumps to the firmware (or,
/// with `--bios none`, straight to the program).
pub struct BootRom {
    bytes: Vec<u8>,
}

impl BootRom {
    pub fn new(entry: u64, dtb: u64) -> Self {
        let code: [u32; 6] = [
            0x0000_0297, // auipc t0, 0
            0xf140_2573, // csrr  a0, mhartid
            0x0202_b583, // ld    a1, 32(t0)
            0x0182_b283, // ld    t0, 24(t0)
            0x0002_8067, // jr    t0
            0x0000_0013, // nop (padding)
        ];
        let mut bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        bytes.extend_from_slice(&entry.to_le_bytes());
        bytes.extend_from_slice(&dtb.to_le_bytes());
        BootRom { bytes }
    }
}

impl MmioDevice for BootRom {
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        self.write_snapshot(w)
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.read_snapshot(r)
    }
    fn name(&self) -> &str {
        "bootrom"
    }
    fn pma(&self) -> crate::bus::Pma {
        crate::bus::Pma::ROM
    }
    fn read(&mut self, offset: u64, size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        let mut v = 0u64;
        for i in 0..size {
            let b = self.bytes.get(offset as usize + i).copied().unwrap_or(0);
            v |= (b as u64) << (8 * i);
        }
        Ok(v)
    }
    fn write(
        &mut self,
        _offset: u64,
        _size: usize,
        _value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        Err(DeviceError)
    }
}

impl BootRom {
    /// Snapshot state: the code and the two addresses it loads.
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.bytes(&self.bytes);
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        let bytes = r.bytes()?;
        if bytes.len() != self.bytes.len() {
            return Err(r.error("has a boot ROM of another size"));
        }
        self.bytes = bytes.to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::encode::{b_type, i_type, j_type, op, s_type, u_type};

    /// Two harts take turns reading `time`; each checks its value against the latest one
    /// any hart stored, and stores its own. A hart's reading must never be older.
    #[test]
    fn time_never_steps_back_between_harts() {
        const S0: u32 = 8;
        const T0: u32 = 5;
        const T1: u32 = 6;
        const T2: u32 = 7;
        let prog = [
            u_type(op::AUIPC, S0, 0x1000),       // s0 = shared words, one page on
            i_type(op::LOAD, T1, 3, S0, 0),      // loop: t1 = latest stored time
            i_type(op::SYSTEM, T0, 2, 0, 0xc01), // t0 = time
            b_type(op::BRANCH, 6, T0, T1, 12),   // bltu t0, t1, backwards
            s_type(op::STORE, 3, S0, T0, 0),
            j_type(op::JAL, 0, -16),
            i_type(op::OP_IMM, T2, 0, 0, 1), // backwards: flag = 1, then spin
            s_type(op::STORE, 3, S0, T2, 8),
            j_type(op::JAL, 0, 0),
        ];
        let config = MachineConfig {
            harts: 2,
            ram_size: 1 << 20,
            virtio_rng: false,
            ..MachineConfig::default()
        };
        let mut m = Machine::new(config);
        let code: Vec<u8> = prog.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert!(m.ram().load(DRAM_BASE, &code));
        m.prepare_boot(DRAM_BASE, &[0; 8]).unwrap();
        assert_eq!(m.run(Some(400_000)), StopReason::InsnLimit);
        let word = |m: &mut Machine, at: u64| m.ram().read(DRAM_BASE + at, 8).unwrap();
        assert_eq!(word(&mut m, 0x1008), 0, "a hart read an older time");
        assert!(word(&mut m, 0x1000) > 30_000, "time follows instructions");
    }
}

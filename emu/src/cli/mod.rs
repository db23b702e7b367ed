//! The `emu` command line (clap). Every failure ends in one line on stderr and a
//! non-zero status: 2 for usage errors, 1 for an unusable image or file.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::machine::{self, ClockMode, Machine, MachineConfig, StopReason};
use crate::mmu::{MmuConfig, SatpMode};

/// Exit status when `--max-insns` stops the guest (as `timeout(1)` uses 124).
pub const EXIT_INSN_LIMIT: u8 = 124;
/// Exit status for an image or file that cannot be used.
pub const EXIT_BAD_IMAGE: u8 = 1;
/// Exit status for usage errors (clap's convention too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status after Ctrl-C or SIGTERM (128 + SIGINT, the shell convention).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit status when every hart sleeps forever (WFI with no possible wake-up).
pub const EXIT_DEADLOCK: u8 = 125;

#[derive(Parser, Debug)]
#[command(
    name = "emu",
    version,
    about = "A full-system RISC-V RV64GC emulator that shows address translation at work",
    long_about = "A full-system RISC-V RV64GC emulator (M/S/U, Sv39/Sv48/Sv57) on a QEMU-compatible \
`virt` board. It boots the in-repo guest kernel (relocation, trampoline page table, kernel \
mapping outside the linear map), OpenSBI and Linux, and runs bare-metal test programs.",
    after_help = "Examples:\n  emu run --sv48                      boot the built-in guest kernel in Sv48\n  emu run --bios none test.elf        run a bare-metal ELF in M-mode (HTIF exit code)\n  emu run --bios none prog.elf --stats --max-insns 1000000\n  emu dtb --sv39 -o virt.dtb          write the generated device tree"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Boot a guest on the `virt` board.
    Run(RunArgs),
    /// Write the device tree the board would give the guest.
    Dtb {
        #[command(flatten)]
        machine: MachineArgs,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write the embedded guest kernel and firmware ELFs to a directory.
    Images {
        /// Directory to write guest-kernel.elf and firmware.elf into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct MachineArgs {
    /// Guest RAM size, e.g. 512M, 1G (suffixes K, M, G).
    #[arg(short = 'm', long = "memory", default_value = "512M", value_parser = parse_size)]
    pub memory: u64,
    /// Number of harts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub smp: u16,
    /// Highest paging mode the harts implement: Sv39.
    #[arg(long, group = "paging")]
    pub sv39: bool,
    /// Highest paging mode the harts implement: Sv48.
    #[arg(long, group = "paging")]
    pub sv48: bool,
    /// Highest paging mode the harts implement: Sv57 (the default).
    #[arg(long, group = "paging")]
    pub sv57: bool,
    /// Kernel command line (the DTB's /chosen/bootargs).
    #[arg(long, default_value = "")]
    pub append: String,
    /// /chosen/kaslr-seed (0 disables KASLR in the guest kernel).
    #[arg(long, default_value_t = 0)]
    pub kaslr_seed: u64,
}

impl MachineArgs {
    pub fn config(&self) -> MachineConfig {
        let max_mode = if self.sv39 {
            SatpMode::Sv39
        } else if self.sv48 {
            SatpMode::Sv48
        } else {
            SatpMode::Sv57
        };
        MachineConfig {
            ram_size: self.memory,
            harts: self.smp as usize,
            mmu: MmuConfig {
                max_mode,
                ..MmuConfig::default()
            },
            bootargs: self.append.clone(),
            kaslr_seed: self.kaslr_seed,
            ..MachineConfig::default()
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// mtime advances with retired instructions (reproducible runs).
    Deterministic,
    /// mtime follows the host wall clock.
    Host,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// ELF or raw Linux Image to boot. Omitted: the embedded in-repo guest kernel.
    pub guest: Option<PathBuf>,
    #[command(flatten)]
    pub machine: MachineArgs,
    /// Firmware: `builtin` (in-repo SBI), `none` (run GUEST in M-mode at its entry), or a
    /// path (e.g. OpenSBI fw_jump.bin, loaded at 0x80000000).
    #[arg(long, default_value = "builtin")]
    pub bios: String,
    /// Stop after this many instructions (exit status 124).
    #[arg(long)]
    pub max_insns: Option<u64>,
    /// Print statistics on exit: instructions, wall time, MIPS.
    #[arg(long)]
    pub stats: bool,
    /// Time source for mtime.
    #[arg(long, value_enum, default_value_t = Clock::Deterministic)]
    pub clock: Clock,
}

/// Parse `512M`, `1G`, `4096`, `64K`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix '{c}' (use K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 512M, 1G)"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' is too large"))?;
    if bytes < 16 << 20 {
        return Err(format!("RAM size '{s}' is too small: at least 16M"));
    }
    if bytes > 16 << 30 {
        return Err(format!("RAM size '{s}' is too large: at most 16G"));
    }
    Ok(bytes)
}

/// One error line and the status to exit with.
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    fn image(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_BAD_IMAGE,
            message: message.into(),
        }
    }
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_USAGE,
            message: message.into(),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("emu: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Dtb { machine, output } => {
            let dtb = machine::dtb::build(&machine.config())
                .map_err(|e| Failure::image(format!("cannot build the device tree: {e}")))?;
            write_atomically(&output, &dtb)?;
            Ok(0)
        }
        Command::Images { out } => {
            std::fs::create_dir_all(&out)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", out.display())))?;
            write_atomically(&out.join("guest-kernel.elf"), crate::images::GUEST_KERNEL)?;
            write_atomically(&out.join("firmware.elf"), crate::images::FIRMWARE)?;
            println!(
                "wrote {0}/guest-kernel.elf and {0}/firmware.elf",
                out.display()
            );
            Ok(0)
        }
    }
}

/// Write a file so that it is either complete or absent (temp file + rename).
fn write_atomically(path: &std::path::Path, data: &[u8]) -> Result<(), Failure> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, data)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))
}

fn run(args: RunArgs) -> Result<u8, Failure> {
    let mut config = args.machine.config();
    config.clock = match args.clock {
        Clock::Deterministic => ClockMode::Deterministic,
        Clock::Host => ClockMode::Host,
    };
    let guest_bytes = match &args.guest {
        Some(p) => {
            crate::machine::loader::read_file(p).map_err(|e| Failure::image(e.to_string()))?
        }
        None => crate::images::GUEST_KERNEL.to_vec(),
    };
    let guest_name = args
        .guest
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in guest kernel".into());

    let mut m = Machine::new(config.clone());
    let entry = match args.bios.as_str() {
        "none" => {
            let img = m
                .load(&guest_bytes, &guest_name)
                .map_err(|e| Failure::image(e.to_string()))?;
            img.entry
        }
        bios => {
            let (fw_bytes, fw_name) = if bios == "builtin" {
                (
                    crate::images::FIRMWARE.to_vec(),
                    "built-in firmware".to_string(),
                )
            } else {
                let p = std::path::Path::new(bios);
                (
                    crate::machine::loader::read_file(p)
                        .map_err(|e| Failure::image(e.to_string()))?,
                    bios.to_string(),
                )
            };
            let fw = if fw_bytes.starts_with(b"\x7fELF") {
                m.load(&fw_bytes, &fw_name)
                    .map_err(|e| Failure::image(e.to_string()))?
            } else {
                crate::machine::loader::load_raw(m.ram(), &fw_bytes, machine::map::DRAM, &fw_name)
                    .map_err(|e| Failure::image(e.to_string()))?
            };
            let kernel = m
                .load(&guest_bytes, &guest_name)
                .map_err(|e| Failure::image(e.to_string()))?;
            if fw.end > kernel.start && kernel.start >= fw.start {
                return Err(Failure::image(format!(
                    "{fw_name} ({:#x}..{:#x}) overlaps {guest_name} at {:#x}",
                    fw.start, fw.end, kernel.start
                )));
            }
            fw.entry
        }
    };
    let dtb = machine::dtb::build(&m.config)
        .map_err(|e| Failure::image(format!("cannot build the device tree: {e}")))?;
    m.prepare_boot(entry, &dtb)
        .map_err(|e| Failure::image(e.to_string()))?;

    let start = Instant::now();
    let stop = m.run(args.max_insns);
    let elapsed = start.elapsed();
    flush_console(&mut m);
    if args.stats {
        print_stats(&m, elapsed);
    }
    Ok(match stop {
        StopReason::Exit(code) => (code & 0xff) as u8 | u8::from(code != 0 && code & 0xff == 0),
        StopReason::Reset => 0,
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
    })
}

fn flush_console(m: &mut Machine) {
    use std::io::Write;
    if !m.bus.htif_console.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&m.bus.htif_console);
        let _ = out.flush();
        m.bus.htif_console.clear();
    }
}

fn print_stats(m: &Machine, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64();
    let mips = if secs > 0.0 {
        m.total_insns as f64 / secs / 1e6
    } else {
        0.0
    };
    eprintln!("---- emu statistics ----");
    eprintln!("instructions      {:>16}", m.total_insns);
    for h in &m.harts {
        eprintln!("  hart {:<3}        {:>16}", h.hartid, h.instret);
    }
    eprintln!("wall time         {:>15.3}s", secs);
    eprintln!("speed             {:>12.1} MIPS", mips);
}

//! The `emu` command line (clap). Every failure ends in one line on stderr and a
//! non-zero status: 2 for usage errors, 1 for an unusable image or file.

mod progress;
mod qemu;
mod run;
mod snapshot;
mod terminal;
pub mod test;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::machine::{self, MachineConfig};
use crate::mmu::{MmuConfig, SatpMode};

pub use crate::machine::run_config::ModuleSymbols;
pub use crate::user_error::{
    Failure, EXIT_BAD_IMAGE, EXIT_DEADLOCK, EXIT_EXPECT_UNMET, EXIT_FAIL_PATTERN, EXIT_GUEST_RESET,
    EXIT_HTIF_UNSUPPORTED, EXIT_INSN_LIMIT, EXIT_INTERRUPTED, EXIT_TIMEOUT, EXIT_USAGE,
};

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
    Run(Box<RunArgs>),
    /// Write the device tree the board would give the guest.
    Dtb {
        #[command(flatten)]
        machine: MachineArgs,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Boot a Linux kernel with a generated busybox initramfs, run one command in the
    /// guest and exit with its status.
    Test(Box<test::TestArgs>),
    /// Write the embedded guest kernel and firmware ELFs to a directory.
    Images {
        /// Directory to write the guest kernel (guest-kernel.elf, and its non-PIE and
        /// no-jump-table builds) and firmware.elf into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct MachineArgs {
    /// Guest RAM size: 512M, 1G, 65536K, or a bare number of MiB as in QEMU (1024 = 1G).
    #[arg(short = 'm', long = "memory", value_name = "SIZE", default_value = "512M", value_parser = parse_size)]
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
    /// /chosen/kaslr-seed, decimal or 0x-hex (default 0, which disables KASLR in the
    /// guest kernel).
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub kaslr_seed: Option<u64>,
    /// Hardware A/D-bit updates (Svadu) instead of page faults when A or D is clear (Svade).
    #[arg(long)]
    pub svadu: bool,
    /// TLB model geometry: `off`, or a list of LEVEL=ENTRIES:WAYS with LEVEL one of l1i,
    /// l1d, l2 and WAYS a number or `full` (default l1i=32:full,l1d=32:full,l2=512:4);
    /// LEVEL pwc adds a page-walk cache of that geometry per level of non-leaf PTE.
    #[arg(long, value_name = "SPEC", value_parser = parse_tlb)]
    pub tlb: Option<crate::mmu::TlbConfig>,
    /// On every TLB hit, re-walk the page table and report translations the guest changed
    /// without sfence.vma (missing-fence detector).
    #[arg(long)]
    pub check_tlb: bool,
    /// Turn off emu's own shortcuts (decoded straight-line runs, the hart's page caches,
    /// the MMU's fast translation cache): every instruction takes the reference loop and
    /// every access the full path through the TLB model. Several times slower, same
    /// results; for checking a suspected emulator bug or differential testing.
    #[arg(long)]
    pub no_fast_path: bool,
    /// Interpret every instruction: the reference engine, no compiled code. By default
    /// emu compiles hot straight-line guest code to host code with Cranelift (blocks up
    /// to a jump, on past branches not taken, looping and branching inside themselves,
    /// jumping straight into each other; the interpreter runs everything else). Counted
    /// runs (--stats, --trace of walk, satp, sfence, trap, mode events) run compiled
    /// code too; --check-tlb and traces of each instruction, TLB, MMIO or SBI event are
    /// interpreted. Both engines give the same results; --interp is for checking a
    /// suspected compiler bug.
    #[arg(long, conflicts_with = "jit")]
    pub interp: bool,
    /// Compile hot code (the default; kept for scripts written when it was not). Warns
    /// when the run is one compiled code cannot serve (--check-tlb, --no-fast-path, a
    /// trace of insn, tlb, mmio or sbi events).
    #[arg(long)]
    pub jit: bool,
    /// Compile a block after it was entered N times (default and at most 32765). Low
    /// values compile more code and are for testing the compiler; below 100, blocks
    /// compile at once on the hart's thread instead of on a compile thread.
    #[arg(long, value_name = "N", conflicts_with = "interp", default_value_t = crate::jit::HOT,
          value_parser = clap::value_parser!(u32).range(1..=crate::jit::MAX_HOT as i64))]
    pub jit_hot: u32,
    /// Give a block quick code once it was entered N times (default 200), until it is
    /// compiled at --jit-hot entries: x86-64 code written in a few microseconds, one
    /// fixed pattern per instruction, several times faster than the interpreter. 0
    /// turns it off; so does an N not below --jit-hot. x86-64 hosts only.
    #[arg(long, value_name = "N", conflicts_with = "interp", default_value_t = crate::jit::QUICK_HOT,
          value_parser = clap::value_parser!(u32).range(0..=crate::jit::MAX_HOT as i64))]
    pub jit_quick: u32,
}

// `--jit-hot`'s help names its highest value.
const _: () = assert!(crate::jit::MAX_HOT == 32_765);

/// A count or address: decimal, or hex with 0x.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number (decimal or 0x-hex)"))
}

fn parse_tlb(s: &str) -> Result<crate::mmu::TlbConfig, String> {
    s.parse()
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
                svadu: self.svadu,
                tlb: self.tlb.unwrap_or_default(),
                check_tlb: self.check_tlb,
                fast_path: !self.no_fast_path,
                ..MmuConfig::default()
            },
            bootargs: self.append.clone(),
            kaslr_seed: self.kaslr_seed.unwrap_or(0),
            jit: !self.interp,
            jit_hot: self.jit_hot,
            jit_quick: self.jit_quick,
            ..MachineConfig::default()
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsLevel {
    /// Everything, with the TLB model observing every access.
    Full,
    /// Instruction and trap counts only; the TLB model stays off the hot path.
    Basic,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// mtime advances with retired instructions (reproducible runs).
    Deterministic,
    /// mtime follows the host wall clock.
    Host,
}

/// The end of `emu run --help`: examples, exit statuses, QEMU equivalents, console keys.
const RUN_HELP: &str = "\
Examples:
  emu run --sv48                                boot the built-in guest kernel (Sv48 hart)
  emu run --sv39 --append 'layout=linear nokaslr'
  emu run --trace insn,walk,satp,trap --trace-from relocate_enable_mmu --trace-limit 60
  emu run Image --initrd initramfs.cpio.gz --append console=ttyS0 --disk disk.img
  emu run --bios none test.elf                  bare-metal ELF in M-mode, HTIF exit code
  emu run --gdb 0 --gdb-wait                    gdb server on a free port (printed)

Exit status: the guest's (HTIF or test device), 0 on poweroff or Ctrl-A X, 1 unusable
image or file, 2 usage error, 124 --max-insns reached, 125 all harts asleep forever,
126 HTIF request emu does not serve, 130 interrupted (Ctrl-C, SIGTERM).
Console expectations: 0 once every --expect pattern was seen, 120 guest reset with
--no-reboot, 121 a --fail-on pattern matched (the line is printed), 122 the guest ended
before every --expect pattern was seen, 123 --timeout reached.

QEMU equivalents (qemu-system-riscv64 -M virt -nographic ...):
  -kernel Image        emu run Image          -bios FILE      --bios FILE
  -initrd FILE         --initrd FILE          -dtb FILE       --dtb FILE
  -append ARGS         --append ARGS          -drive file=X   --disk X
  -m 1024 / -m 1G      -m 1024 / -m 1G        -snapshot       --snapshot
  -smp N               --smp N                -d in_asm,int   --trace insn,trap
  -s -S                --gdb 1234 --gdb-wait  -D FILE         --trace-file FILE
-M virt and -nographic are accepted with a note (emu always works that way); other QEMU
spellings are refused with the emu equivalent.

Console: Ctrl-A x quits, Ctrl-A h lists the escape keys, Ctrl-A Ctrl-A sends Ctrl-A.
On a terminal, runs longer than a second show a status line on stderr (instructions,
MIPS, guest time, trace bytes), erased while the guest writes and at the end.";

#[derive(Args, Debug)]
#[command(
    after_help = RUN_HELP
)]
pub struct RunArgs {
    /// ELF or raw Linux Image to boot. Omitted: the embedded in-repo guest kernel.
    pub guest: Option<PathBuf>,
    #[command(flatten)]
    pub machine: MachineArgs,
    /// Firmware: `builtin` (in-repo SBI), `none` (run GUEST in M-mode at its entry), or a
    /// path (e.g. OpenSBI fw_jump.bin, loaded at 0x80000000).
    #[arg(long, default_value = "builtin", value_name = "builtin|none|PATH")]
    pub bios: String,
    /// Initial ramdisk, placed near the top of RAM and announced in /chosen.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// Use this device tree blob instead of the generated one.
    #[arg(long, value_name = "PATH")]
    pub dtb: Option<PathBuf>,
    /// Raw disk image for a virtio block device (repeatable; the first is /dev/vda).
    /// Writes go to the file unless --snapshot is given.
    #[arg(long, value_name = "PATH")]
    pub disk: Vec<PathBuf>,
    /// Keep disk writes in memory; the image files are not modified.
    #[arg(long)]
    pub snapshot: bool,
    /// Share a host directory over virtio 9P (repeatable; tag defaults to `share`; `ro`
    /// refuses writes). In the guest: mount -t 9p -o trans=virtio,version=9p2000.L TAG DIR.
    #[arg(long, value_name = "HOSTDIR[,tag=TAG][,ro]")]
    pub share: Vec<String>,
    /// Stop after this many instructions (exit status 124).
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub max_insns: Option<u64>,
    /// Print statistics on exit: `full` (the default: instructions, MIPS, TLB, walks,
    /// faults, sfence, satp, traps, phases — every access goes through the TLB model) or
    /// `basic` (instructions, MIPS and traps only, at full speed).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "full", value_name = "LEVEL")]
    pub stats: Option<StatsLevel>,
    /// Write the statistics as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub stats_json: Option<PathBuf>,
    /// Time source for mtime.
    #[arg(long, value_enum, default_value_t = Clock::Deterministic)]
    pub clock: Clock,
    /// Trace these events: comma list of insn, walk, tlb, satp, sfence, trap, mode, mmio,
    /// sbi, or all.
    #[arg(long, value_name = "EVENTS", value_parser = parse_events)]
    pub trace: Option<crate::trace::EventMask>,
    /// Write the trace here (default: stderr).
    #[arg(long, value_name = "PATH")]
    pub trace_file: Option<PathBuf>,
    /// Trace format (default text).
    #[arg(long, value_enum)]
    pub trace_format: Option<crate::trace::Format>,
    /// Start tracing at a symbol (e.g. relocate_enable_mmu), an address, or insn:N.
    #[arg(long, value_name = "WHERE", value_parser = parse_where)]
    pub trace_from: Option<crate::trace::Where>,
    /// Stop tracing at a symbol, an address, or insn:N.
    #[arg(long, value_name = "WHERE", value_parser = parse_where)]
    pub trace_until: Option<crate::trace::Where>,
    /// Stop tracing after N events.
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub trace_limit: Option<u64>,
    /// Extra ELF files whose symbols name addresses in traces (e.g. a vmlinux).
    #[arg(long, value_name = "ELF")]
    pub symbols: Vec<PathBuf>,
    /// A loaded Linux module's symbols: its .ko (or .ko.xz) and the addresses of its
    /// sections as the guest's /sys/module/NAME/sections/ lists them (`KO@ADDR` places
    /// .text). Repeatable.
    #[arg(long, value_name = "KO@ADDR|KO@SECTION=ADDR,...", value_parser = parse_module_symbols)]
    pub symbols_module: Vec<ModuleSymbols>,
    /// Serve the gdb remote protocol on 127.0.0.1:PORT (gdb: `target remote :PORT`); 0
    /// picks a free port, printed on stderr.
    #[arg(long, value_name = "PORT")]
    pub gdb: Option<u16>,
    /// With --gdb: stop before the first instruction until gdb connects.
    #[arg(long, requires = "gdb")]
    pub gdb_wait: bool,
    /// Stop with status 0 once the console has shown this regular expression (regex
    /// crate syntax, matched on the output with escape sequences and carriage returns
    /// removed, across lines). Repeatable: every pattern, in order.
    #[arg(long, value_name = "REGEX", conflicts_with = "gdb")]
    pub expect: Vec<String>,
    /// Stop with status 121 when the console shows this regular expression, printing the
    /// line. Repeatable.
    #[arg(long, value_name = "REGEX", conflicts_with = "gdb")]
    pub fail_on: Vec<String>,
    /// Stop with status 123 after this much wall-clock time: 90s, 5m, 1h, 500ms, or
    /// seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "gdb")]
    pub timeout: Option<std::time::Duration>,
    /// End the run when the guest resets the board (status 120) instead of rebooting.
    #[arg(long)]
    pub no_reboot: bool,
    /// Save a snapshot (--save FILE) when the run reaches WHERE: insn:N, a symbol, or an
    /// address, as --trace-from takes them. Repeatable; the run goes on after saving.
    #[arg(long, value_name = "WHERE", value_parser = parse_where, requires = "save")]
    pub save_at: Vec<crate::trace::Where>,
    /// Snapshot file for --save-at; `{n}` in it numbers the points (1 = the first
    /// --save-at).
    #[arg(long, value_name = "FILE", requires = "save_at")]
    pub save: Option<PathBuf>,
    /// Continue the run a snapshot holds (--save); the images, memory and devices come
    /// from it, so it needs no other arguments (--trace, --stats, --gdb, --max-insns
    /// and --save-at may be added; another --tlb measures the rest of the run with an
    /// empty TLB model of that geometry).
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,
    /// A console watch given by the caller (`emu test`), used instead of one built from
    /// --expect and --fail-on.
    #[arg(skip)]
    pub watch: Option<std::sync::Arc<crate::machine::console_expect::ConsoleWatch>>,
}

/// A wall-clock duration: a number with `ms`, `s`, `m` or `h`, or bare seconds
/// (fractions allowed: `1.5s`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit {
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "'{s}' is not a duration: use a number with ms, s, m or h (e.g. 90s, 5m)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 90s, 5m, 1h)"))?;
    let secs = n * scale;
    if !(secs > 0.0 && secs < 1e9) {
        return Err(format!(
            "'{s}' is not a usable duration: give more than 0 and less than 30 years"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn parse_events(s: &str) -> Result<crate::trace::EventMask, String> {
    s.parse()
}

fn parse_where(s: &str) -> Result<crate::trace::Where, String> {
    s.parse()
}

fn parse_module_symbols(s: &str) -> Result<ModuleSymbols, String> {
    let (path, places) = s
        .rsplit_once('@')
        .ok_or_else(|| format!("'{s}' is not KO@ADDR or KO@SECTION=ADDR,..."))?;
    if path.is_empty() {
        return Err(format!("'{s}' names no module file before '@'"));
    }
    let mut sections = Vec::new();
    for place in places.split(',') {
        let (section, addr) = match place.split_once('=') {
            Some((section, addr)) => (section.trim(), addr),
            None => (".text", place),
        };
        if section.is_empty() {
            return Err(format!("'{place}' names no section before '='"));
        }
        sections.push((section.to_string(), parse_u64(addr)?));
    }
    Ok(ModuleSymbols {
        path: PathBuf::from(path),
        sections,
    })
}

/// Parse a RAM size: `512M`, `1G`, `65536K`, or a bare number of MiB as QEMU's `-m`
/// takes it (`1024` is 1 GiB).
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
        _ => (s, 1 << 20),
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

pub fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    // The subcommand named on the command line, for hints and "try 'emu run --help'".
    let sub = argv
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| Cli::command().find_subcommand(a).is_some())
        .map(str::to_string);
    // `emu -kernel Image ...`: QEMU's command line without a subcommand.
    if sub.is_none() && argv.len() > 1 {
        let scan = qemu::scan(&argv[1..], &known_options("run"));
        if !scan.hints.is_empty() {
            for hint in &scan.hints {
                eprintln!("emu: {hint}");
            }
            eprintln!("emu: guests run with the run subcommand: emu run [OPTIONS] [GUEST]");
            eprintln!("{}", more_information(Some("run")));
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if let Some(sub) = sub.as_deref().filter(|s| *s != "images") {
        let scan = qemu::scan(&argv[2..], &known_options(sub));
        if !scan.hints.is_empty() {
            for hint in &scan.hints {
                eprintln!("emu: {hint}");
            }
            eprintln!("{}", more_information(Some(sub)));
            return ExitCode::from(EXIT_USAGE);
        }
        for note in &scan.notes {
            eprintln!("emu: {note}");
        }
        argv.truncate(2);
        argv.extend(scan.args);
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("{}", usage_error(&e, sub.as_deref()));
            return ExitCode::from(EXIT_USAGE);
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

/// The last line of a usage error.
fn more_information(sub: Option<&str>) -> String {
    match sub {
        Some(sub) => format!("For more information, try 'emu {sub} --help'."),
        None => "For more information, try 'emu --help'.".to_string(),
    }
}

/// Clap's whole message (what is wrong, its tips, the usage line) with one `emu:` line
/// first and the help hint naming the subcommand's help.
fn usage_error(e: &clap::Error, sub: Option<&str>) -> String {
    let text = e.render().to_string();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i == 0 {
            format!("emu: {}", line.strip_prefix("error: ").unwrap_or(line))
        } else if line.starts_with("For more information, try ") {
            more_information(sub)
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The options a subcommand defines, so that their values are never taken for QEMU
/// options (`--append -s`).
fn known_options(sub: &str) -> qemu::Known {
    let mut cmd = Cli::command();
    cmd.build();
    let mut known = qemu::Known {
        longs: Vec::new(),
        shorts: Vec::new(),
    };
    if let Some(sc) = cmd.find_subcommand(sub) {
        for a in sc.get_arguments() {
            let takes_value = a.get_action().takes_values();
            for long in a.get_long_and_visible_aliases().into_iter().flatten() {
                known.longs.push((long.to_string(), takes_value));
            }
            for short in a.get_short_and_visible_aliases().into_iter().flatten() {
                known.shorts.push((short, takes_value));
            }
        }
    }
    known
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Test(args) => test::test(*args),
        Command::Dtb { machine, output } => {
            let dtb = machine::dtb::build(&machine.config())
                .map_err(|e| Failure::image(format!("cannot build the device tree: {e}")))?;
            write_atomically("device tree file", &output, &dtb)?;
            Ok(0)
        }
        Command::Images { out } => {
            std::fs::create_dir_all(&out).map_err(|e| {
                Failure::image(format!(
                    "cannot create the directory {}: {}",
                    out.display(),
                    os_error(&e)
                ))
            })?;
            let kernel = out.join("guest-kernel.elf");
            write_atomically("image file", &kernel, crate::images::GUEST_KERNEL)?;
            for (name, bytes) in [
                ("guest-kernel-nopie.elf", crate::images::GUEST_KERNEL_NOPIE),
                (
                    "guest-kernel-pie-no-jump-tables.elf",
                    crate::images::GUEST_KERNEL_PIE_NO_JUMP_TABLES,
                ),
            ] {
                write_atomically("image file", &out.join(name), bytes)?;
            }
            write_atomically(
                "image file",
                &out.join("firmware.elf"),
                crate::images::FIRMWARE,
            )?;
            println!(
                "wrote {0}/guest-kernel.elf, {0}/guest-kernel-nopie.elf, \
                 {0}/guest-kernel-pie-no-jump-tables.elf and {0}/firmware.elf",
                out.display()
            );
            Ok(0)
        }
    }
}

use crate::machine::loader::os_error;

/// The temporary name [`write_atomically`] writes before renaming.
/// The temporary name `path` is written under before the rename; it names this process,
/// so that two runs writing the same file at once (a script's parallel jobs) do not take
/// each other's temporary file away: the last rename wins, and either file is complete.
fn temp_path(path: &std::path::Path) -> PathBuf {
    path.with_extension(format!("{}.tmp~", std::process::id()))
}

fn write_failure(role: &str, path: &std::path::Path, e: &std::io::Error) -> Failure {
    Failure::image(format!(
        "cannot write the {role} {}: {}",
        path.display(),
        os_error(e)
    ))
}

/// Write a file so that it is either complete or absent (temp file + rename); an error
/// names the file's role and path.
pub fn write_atomically(role: &str, path: &std::path::Path, data: &[u8]) -> Result<(), Failure> {
    let tmp = temp_path(path);
    std::fs::write(&tmp, data)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            write_failure(role, path, &e)
        })
}

/// Whether [`write_atomically`] will be able to write `path` (checked before a long run).
pub fn check_writable(role: &str, path: &std::path::Path) -> Result<(), Failure> {
    let tmp = temp_path(path);
    std::fs::File::create(&tmp)
        .and_then(|_| std::fs::remove_file(&tmp))
        .map_err(|e| write_failure(role, path, &e))
}

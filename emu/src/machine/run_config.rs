//! What one run of a guest is made of, as plain data: the board, the images, and how the
//! run is observed and ended. The CLI builds it from its flags; [`super::session::run`]
//! wires and runs it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::console_expect::ConsoleWatch;
use super::MachineConfig;
use crate::trace::{EventMask, Format, Where};

/// A guest run: build the board, boot the images, run to the end (rebooting on a guest
/// reset unless `no_reboot`).
pub struct RunConfig {
    /// The board. Its `deadline` is set by the run from `timeout`; its console output is
    /// the watch's when there is one.
    pub board: MachineConfig,
    pub firmware: Firmware,
    /// The program or kernel, and its name in messages.
    pub guest: Vec<u8>,
    pub guest_name: String,
    /// Placed near the top of RAM, below the device tree.
    pub initrd: Option<Vec<u8>>,
    /// A device tree file used instead of the generated one.
    pub dtb: Option<PathBuf>,
    /// ELF files whose symbols name addresses in traces, gdb and save points.
    pub symbols: Vec<PathBuf>,
    /// Kernel modules and where their sections are in the guest.
    pub symbol_modules: Vec<ModuleSymbols>,
    pub trace: Option<TraceConfig>,
    /// Statistics want every access to go through the TLB model for the whole run.
    pub stats_observed: bool,
    pub gdb: Option<GdbServer>,
    /// Instructions over all boots after which the run stops.
    pub max_insns: Option<u64>,
    /// Wall-clock limit of the run (reboots keep it).
    pub timeout: Option<Duration>,
    /// End the run when the guest resets the board instead of booting again.
    pub no_reboot: bool,
    /// Where to stop for a snapshot (the caller saves it), in order.
    pub save_at: Vec<Where>,
    /// Patterns the console output is matched against.
    pub watch: Option<Arc<ConsoleWatch>>,
    /// Explain the watch's verdict on stderr (`--expect`, `--fail-on`); a caller with its
    /// own watch (`emu test`) explains it itself.
    pub explain_watch: bool,
}

/// What runs before the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// The in-repo SBI firmware; the guest is loaded for it to jump to.
    Builtin,
    /// No firmware: the guest runs in M-mode from its entry.
    None,
    /// A firmware file (ELF, or raw at the start of RAM, e.g. OpenSBI fw_jump.bin).
    File(PathBuf),
}

/// `--symbols-module`: a module file and where its sections are in the guest.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleSymbols {
    pub path: PathBuf,
    /// (section name, runtime virtual address).
    pub sections: Vec<(String, u64)>,
}

/// Which events to trace, where to, and in which window.
pub struct TraceConfig {
    pub events: EventMask,
    /// None: stderr.
    pub file: Option<PathBuf>,
    pub format: Format,
    /// Events written at most.
    pub limit: Option<u64>,
    pub from: Option<Where>,
    pub until: Option<Where>,
}

/// A gdb remote stub on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GdbServer {
    pub port: u16,
    /// Hold the guest before its first instruction until gdb connects.
    pub wait: bool,
}

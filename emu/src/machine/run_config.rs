//! What one run of a guest is made of, as plain data: the board, the images, and how the
//! run is observed and ended. The CLI builds it from its flags; [`super::session::run`]
//! wires and runs it.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::console_expect::ConsoleWatch;
use super::MachineConfig;
use crate::trace::{EventMask, Format, Where};
use crate::user_error::{os_error, Failure};

/// A guest run: build the board, boot the images, run to the end (rebooting on a guest
/// reset unless `no_reboot`).
pub struct RunConfig {
    /// The board. Its `deadline` is set by the run from `timeout`; its console output is
    /// the watch's when there is one.
    pub board: MachineConfig,
    pub firmware: Firmware,
    /// The program or kernel.
    pub guest: Guest,
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
    /// Statistics are printed or written (any `--stats` level, `--stats-json`): measure
    /// the host's memory at the end (reading `/proc/self/pagemap` over all guest RAM
    /// takes a millisecond or two, which a run that shows no statistics skips).
    pub stats_shown: bool,
    /// Name a Linux Image's functions and data from its kallsyms tables. Finding them in
    /// a distribution kernel takes some 140 M host instructions (tens of milliseconds),
    /// which a run that shows no symbol skips.
    pub kallsyms: bool,
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

/// The program or kernel a run boots. A file's bytes are not held for the whole run (a
/// kernel Image is tens of MiB, as much as a small guest's RAM): the first boot takes the
/// bytes read when the run was set up, and a reboot after a guest reset reads the file
/// again, refusing it if it changed meanwhile, since a reset boots the same images.
pub struct Guest {
    /// Its name in messages: the path, or what emu built in.
    pub name: String,
    source: GuestSource,
    /// The bytes read at set-up, until the first boot takes them.
    unread: Mutex<Option<Vec<u8>>>,
}

enum GuestSource {
    BuiltIn(&'static [u8]),
    File {
        path: PathBuf,
        len: u64,
        modified: Option<SystemTime>,
    },
}

impl Guest {
    pub fn built_in(bytes: &'static [u8], name: &str) -> Guest {
        Guest {
            name: name.to_string(),
            source: GuestSource::BuiltIn(bytes),
            unread: Mutex::new(None),
        }
    }

    /// Read the program or kernel at `path` (an unreadable or empty file is refused).
    pub fn file(path: &std::path::Path) -> Result<Guest, Failure> {
        let bytes = super::loader::read_input("program", path)?;
        let modified = std::fs::metadata(path).ok().and_then(|m| m.modified().ok());
        Ok(Guest {
            name: path.display().to_string(),
            source: GuestSource::File {
                path: path.to_path_buf(),
                len: bytes.len() as u64,
                modified,
            },
            unread: Mutex::new(Some(bytes)),
        })
    }

    /// The bytes to boot: those read at set-up the first time, then the file again.
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, Failure> {
        let (path, len, modified) = match &self.source {
            GuestSource::BuiltIn(bytes) => return Ok(Cow::Borrowed(bytes)),
            GuestSource::File {
                path,
                len,
                modified,
            } => (path, *len, *modified),
        };
        if let Some(bytes) = self.unread.lock().ok().and_then(|mut u| u.take()) {
            return Ok(Cow::Owned(bytes));
        }
        let now = std::fs::metadata(path).map_err(|e| {
            Failure::image(format!(
                "cannot read the program {} again to reboot the guest: {}",
                path.display(),
                os_error(&e)
            ))
        })?;
        let changed = || {
            Failure::image(format!(
                "the program {} changed during the run, so the guest's reset cannot boot it \
                 again: give --no-reboot to end the run at a reset",
                path.display()
            ))
        };
        if now.len() != len || now.modified().ok() != modified {
            return Err(changed());
        }
        let bytes = super::loader::read_input("program", path)?;
        if bytes.len() as u64 != len {
            return Err(changed());
        }
        Ok(Cow::Owned(bytes))
    }
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

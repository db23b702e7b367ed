//! The host terminal in raw mode while a guest owns the console, restored on every exit
//! path: normal return, error, panic (the guard's Drop runs during unwinding) and
//! SIGTERM/SIGINT (the handler only asks the machine to stop; the guard restores).

use std::io::IsTerminal;

/// Whether emu may use its terminal: stdin is one, and emu's process group is the one
/// the terminal serves. A process outside the foreground group that reads the terminal
/// or changes its modes is stopped by the kernel (SIGTTIN, SIGTTOU) - which is where
/// `timeout 60 emu run ...` typed at a shell puts emu: timeout(1) moves itself and its
/// command into a process group of their own unless given `--foreground`.
pub fn stdin_terminal() -> StdinTerminal {
    if !std::io::stdin().is_terminal() {
        return StdinTerminal::None;
    }
    let foreground = rustix::termios::tcgetpgrp(std::io::stdin());
    let ours = rustix::process::getpgrp();
    if foreground == Ok(ours) {
        StdinTerminal::Foreground
    } else {
        StdinTerminal::Background
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinTerminal {
    /// Stdin is a pipe, a file or nothing.
    None,
    /// Stdin is a terminal emu may read and put in raw mode.
    Foreground,
    /// Stdin is a terminal, but emu's process group is not its foreground one.
    Background,
}

pub struct RawModeGuard {
    active: bool,
}

impl RawModeGuard {
    /// Put stdin's terminal in raw mode if stdin is a terminal emu is in the foreground
    /// of; otherwise do nothing.
    pub fn enable() -> Self {
        let active = stdin_terminal() == StdinTerminal::Foreground
            && crossterm::terminal::enable_raw_mode().is_ok();
        if active {
            // A panic prints through the hook before unwinding reaches our Drop; restore
            // first so the message is readable.
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = crossterm::terminal::disable_raw_mode();
                prev(info);
            }));
        }
        RawModeGuard { active }
    }
}

impl Drop for RawModeGuard {
    fn drop(&mut self) {
        if self.active {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// Ctrl-C (when the terminal is not raw) and SIGTERM stop the machine at the next quantum
/// boundary, so traces and statistics are completed and disks flushed. Another signal a
/// second or more after the first gives up at once (a user pressing Ctrl-C again); one
/// sooner is the same request delivered twice, as timeout(1) does: it signals the
/// command and then its whole process group.
pub fn install_stop_handler() {
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let _ = ctrlc::set_handler(|| {
        use std::sync::atomic::Ordering;
        let first = *FIRST.get_or_init(std::time::Instant::now);
        if crate::machine::STOP_REQUESTED.swap(true, Ordering::SeqCst)
            && first.elapsed() >= std::time::Duration::from_secs(1)
        {
            let _ = crossterm::terminal::disable_raw_mode();
            std::process::exit(130);
        }
    });
}

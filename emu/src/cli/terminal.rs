//! The host terminal in raw mode while a guest owns the console, restored on every exit
//! path: normal return, error, panic (the guard's Drop runs during unwinding) and
//! SIGTERM/SIGINT (the handler only asks the machine to stop; the guard restores).

use std::io::IsTerminal;

pub struct RawModeGuard {
    active: bool,
}

impl RawModeGuard {
    /// Put stdin's terminal in raw mode if stdin is a terminal; otherwise do nothing.
    pub fn enable() -> Self {
        let active =
            std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok();
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
/// boundary, so traces and statistics are completed and disks flushed.
pub fn install_stop_handler() {
    let _ = ctrlc::set_handler(|| {
        use std::sync::atomic::Ordering;
        if crate::machine::STOP_REQUESTED.swap(true, Ordering::SeqCst) {
            // A second signal while we are already stopping: give up at once.
            let _ = crossterm::terminal::disable_raw_mode();
            std::process::exit(130);
        }
    });
}

//! What the user sees when a run ends or fails: exit statuses of `emu` (below both the
//! CLI and the gdb stub, which report them), the one-line failure a run or a command ends
//! with, and OS errors as one readable phrase.

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
/// The guest asked HTIF for something emu does not serve (a syscall, a device).
pub const EXIT_HTIF_UNSUPPORTED: u8 = 126;
/// With `--no-reboot`: the guest reset the board (syscon reset, SBI system reset).
pub const EXIT_GUEST_RESET: u8 = 120;
/// A `--fail-on` pattern appeared on the console.
pub const EXIT_FAIL_PATTERN: u8 = 121;
/// The guest powered off, exited or (with `--no-reboot`) reset before the console had
/// shown every `--expect` pattern.
pub const EXIT_EXPECT_UNMET: u8 = 122;
/// The `--timeout` wall-clock limit passed.
pub const EXIT_TIMEOUT: u8 = 123;

/// A guest exit code as a process status: codes whose low byte is 0 (e.g. 256) must not
/// look like success.
pub fn guest_exit_status(code: u32) -> u8 {
    match (code & 0xff) as u8 {
        0 if code != 0 => 1,
        c => c,
    }
}

/// One error line and the status to exit with.
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    /// An image or file that cannot be used (status [`EXIT_BAD_IMAGE`]).
    pub fn image(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_BAD_IMAGE,
            message: message.into(),
        }
    }
    /// Flags that do not make a run (status [`EXIT_USAGE`]).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_USAGE,
            message: message.into(),
        }
    }
}

/// An OS error as a user reads it: "No such file or directory", without Rust's
/// " (os error 2)".
pub fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

//! What the user sees when a run ends or fails: exit statuses of `emu` (below both the
//! CLI and the gdb stub, which report them) and OS errors as one readable phrase.

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

/// An OS error as a user reads it: "No such file or directory", without Rust's
/// " (os error 2)".
pub fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

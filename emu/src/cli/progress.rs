//! The status line of a long run on a terminal: instructions, MIPS, guest time and trace
//! bytes on stderr, a few times a second, erased at the end.
//!
//! The machine only publishes counters once per quantum ([`crate::machine::Progress`]);
//! a separate thread reads them and draws, so the hot loop does no formatting. The
//! guest's console shares the terminal: the line is shown only while the guest is quiet
//! and its output ended a line, and guest output erases it first (the console writes
//! through [`write_host`], under the same lock as the drawing).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::devices::console::{self, HostStream};
use crate::machine::{Progress, INSNS_PER_TICK, TIMEBASE_HZ};

/// Runs shorter than this never show the line.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const REFRESH: Duration = Duration::from_millis(250);
/// The line comes back this long after the guest last wrote to the console.
const QUIET_FOR: Duration = Duration::from_millis(500);

/// The terminal as the status line sees it.
struct Screen {
    bar: Option<ProgressBar>,
    /// The last byte written to stdout or stderr ended a line (or nothing was written).
    at_line_start: bool,
    last_output: Option<Instant>,
}

static SCREEN: Mutex<Screen> = Mutex::new(Screen {
    bar: None,
    at_line_start: true,
    last_output: None,
});

fn screen() -> std::sync::MutexGuard<'static, Screen> {
    SCREEN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The console's writer while a status line may be shown: erase it, then write.
fn write_host(stream: HostStream, bytes: &[u8]) {
    let mut s = screen();
    if let Some(bar) = s.bar.take() {
        bar.finish_and_clear();
    }
    console::write_host_direct(stream, bytes);
    if let Some(&last) = bytes.last() {
        s.at_line_start = last == b'\n';
        s.last_output = Some(Instant::now());
    }
}

/// Erase the line if it is shown (before emu prints a message of its own).
pub fn hide() {
    if let Some(bar) = screen().bar.take() {
        bar.finish_and_clear();
    }
}

/// What the line shows, and the thread that draws it.
pub struct StatusLine {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What to read for the line.
pub struct Sources {
    pub progress: Arc<Progress>,
    /// Bytes of trace written, when tracing to a file.
    pub trace_bytes: Option<Arc<AtomicU64>>,
    /// Guest time follows the instruction clock (deterministic) or the wall clock.
    pub deterministic_clock: bool,
}

impl StatusLine {
    /// Start the drawing thread if stderr is a terminal; None otherwise.
    pub fn start(sources: Sources) -> Option<StatusLine> {
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return None;
        }
        console::set_host_writer(write_host);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop_seen = stop.clone();
        let thread = std::thread::Builder::new()
            .name("status-line".into())
            .spawn(move || draw_until(&stop_seen, &sources))
            .ok()?;
        Some(StatusLine {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        hide();
    }
}

fn draw_until(stop: &std::sync::atomic::AtomicBool, sources: &Sources) {
    let start = Instant::now();
    let mut last = (start, sources.progress.executed.load(Relaxed));
    let mut mips = 0.0;
    while !stop.load(Relaxed) {
        std::thread::sleep(REFRESH);
        let now = Instant::now();
        let executed = sources.progress.executed.load(Relaxed);
        let dt = now.duration_since(last.0).as_secs_f64();
        if dt > 0.0 {
            mips = executed.saturating_sub(last.1) as f64 / dt / 1e6;
        }
        last = (now, executed);
        if now.duration_since(start) < SHOW_AFTER || stop.load(Relaxed) {
            continue;
        }
        let guest_seconds = if sources.deterministic_clock {
            sources.progress.clock.load(Relaxed) as f64 / (INSNS_PER_TICK * TIMEBASE_HZ) as f64
        } else {
            now.duration_since(start).as_secs_f64()
        };
        let trace = sources.trace_bytes.as_ref().map(|b| b.load(Relaxed));
        let text = status_text(executed, mips, guest_seconds, trace);
        let mut s = screen();
        let quiet = s
            .last_output
            .is_none_or(|t| now.duration_since(t) >= QUIET_FOR);
        if !quiet || !s.at_line_start {
            continue;
        }
        let bar = s.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar
        });
        bar.set_message(text);
    }
}

/// The line's text, e.g. `emu: 1.234 G instructions, 412 MIPS, guest time 12.345 s`.
pub fn status_text(executed: u64, mips: f64, guest_seconds: f64, trace: Option<u64>) -> String {
    let mut text = format!(
        "emu: {} instructions, {mips:.0} MIPS, guest time {guest_seconds:.3} s",
        si(executed as f64)
    );
    if let Some(bytes) = trace {
        text.push_str(&format!(
            ", trace {:.1} MiB",
            bytes as f64 / (1u64 << 20) as f64
        ));
    }
    text
}

/// 1234567 as `1.235 M`.
fn si(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.3} G", n / 1e9),
        n if n >= 1e6 => format!("{:.3} M", n / 1e6),
        n if n >= 1e3 => format!("{:.3} k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_reads_well() {
        assert_eq!(
            status_text(1_234_567_890, 411.6, 12.3456, None),
            "emu: 1.235 G instructions, 412 MIPS, guest time 12.346 s"
        );
        assert_eq!(
            status_text(999, 0.0, 0.0001, Some(3 << 19)),
            "emu: 999 instructions, 0 MIPS, guest time 0.000 s, trace 1.5 MiB"
        );
    }
}

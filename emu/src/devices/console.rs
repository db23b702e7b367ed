//! The host side of the guest console: where UART output goes and where input comes from.
//!
//! Input reaches the UART through a [`ConsoleInput`] queue. With `--console stdio` (the
//! CLI's default) one background thread reads the host's stdin and feeds the queue; it
//! also implements QEMU's escape keys: Ctrl-A X says so on stderr and asks the machine to
//! exit (status 0), Ctrl-A H prints the list of escape keys, Ctrl-A Ctrl-A sends one
//! Ctrl-A to the guest, Ctrl-A followed by anything else is dropped. Putting the terminal in raw mode (so the keys arrive unprocessed) is the CLI's
//! job; a stdin that is not a terminal works the same way, and its end closes the queue.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Where the guest's console bytes go.
#[derive(Debug, Clone, Default)]
pub enum ConsoleOutput {
    /// The host's stdout.
    #[default]
    Stdout,
    /// An in-memory buffer (tests, or a caller that wants the text).
    Capture(Arc<Mutex<Vec<u8>>>),
    /// The host's stdout, every byte also fed to a watch that matches `--expect` and
    /// `--fail-on` patterns (the machine checks it between quanta).
    Watched(Arc<super::console_expect::ConsoleWatch>),
}

impl ConsoleOutput {
    /// A capture buffer and the output that fills it.
    pub fn capture() -> (ConsoleOutput, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (ConsoleOutput::Capture(buf.clone()), buf)
    }

    /// Write one byte. Stdout is flushed at each newline and by [`ConsoleOutput::flush`]
    /// (called every poll), so prompts without a newline still appear promptly.
    pub fn write_byte(&self, byte: u8) {
        match self {
            ConsoleOutput::Stdout => write_host(HostStream::Stdout, &[byte]),
            ConsoleOutput::Watched(watch) => {
                write_host(HostStream::Stdout, &[byte]);
                watch.feed(&[byte]);
            }
            ConsoleOutput::Capture(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.push(byte);
                }
            }
        }
    }

    pub fn flush(&self) {
        if let ConsoleOutput::Stdout | ConsoleOutput::Watched(_) = self {
            let _ = std::io::stdout().lock().flush();
        }
    }

    /// The console watch this output feeds, if any.
    pub fn watch(&self) -> Option<&Arc<super::console_expect::ConsoleWatch>> {
        match self {
            ConsoleOutput::Watched(watch) => Some(watch),
            _ => None,
        }
    }
}

/// The host's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStream {
    Stdout,
    Stderr,
}

/// Set by a front end that draws on the terminal itself (the CLI's status line): it must
/// erase its drawing before guest output or console messages appear, under the same
/// lock as its own drawing, so it does the writing.
static HOST_WRITER: OnceLock<fn(HostStream, &[u8])> = OnceLock::new();

/// Route [`write_host`] through `writer` from now on (first call wins).
pub fn set_host_writer(writer: fn(HostStream, &[u8])) {
    let _ = HOST_WRITER.set(writer);
}

/// Write guest console output (stdout) or a console message (stderr) to the host;
/// stdout is flushed at each newline.
pub fn write_host(stream: HostStream, bytes: &[u8]) {
    match HOST_WRITER.get() {
        Some(writer) => writer(stream, bytes),
        None => write_host_direct(stream, bytes),
    }
}

/// [`write_host`] without the front end's writer (the writer itself ends here).
pub fn write_host_direct(stream: HostStream, bytes: &[u8]) {
    // A closed stdout must not stop the guest; its output is simply lost.
    match stream {
        HostStream::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            if bytes.contains(&b'\n') {
                let _ = out.flush();
            }
        }
        HostStream::Stderr => {
            let _ = std::io::stderr().lock().write_all(bytes);
        }
    }
}

/// Where the UART's input comes from.
#[derive(Debug, Clone, Default)]
pub enum ConsoleInputSource {
    /// No input: the receiver stays empty (tests, batch runs).
    #[default]
    None,
    /// The host's stdin, through the shared reader thread (see [`stdin_input`]).
    Stdin,
    /// A queue the caller feeds (tests inject keys this way).
    Queue(ConsoleInput),
}

impl ConsoleInputSource {
    /// The queue the UART reads; starts the stdin reader on first use.
    pub fn open(&self) -> Option<ConsoleInput> {
        match self {
            ConsoleInputSource::None => None,
            ConsoleInputSource::Stdin => Some(stdin_input()),
            ConsoleInputSource::Queue(q) => Some(q.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct InputState {
    bytes: Mutex<VecDeque<u8>>,
    closed: AtomicBool,
    exit_requested: AtomicBool,
}

/// A queue of bytes typed at the guest console. Cloning gives another handle to the same
/// queue: the feeder (stdin thread or a test) pushes, the UART pops.
#[derive(Debug, Clone, Default)]
pub struct ConsoleInput {
    state: Arc<InputState>,
}

impl ConsoleInput {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue bytes for the guest (already past escape handling).
    pub fn push(&self, bytes: &[u8]) {
        if let Ok(mut q) = self.state.bytes.lock() {
            q.extend(bytes);
        }
    }

    pub fn pop(&self) -> Option<u8> {
        self.state.bytes.lock().ok()?.pop_front()
    }

    pub fn has_data(&self) -> bool {
        self.state
            .bytes
            .lock()
            .map(|q| !q.is_empty())
            .unwrap_or(false)
    }

    /// No more input will ever be pushed (stdin reached its end).
    pub fn close(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
    }

    /// Whether a byte may still arrive: queued bytes, or a feeder that has not closed.
    pub fn is_open(&self) -> bool {
        self.has_data() || !self.state.closed.load(Ordering::SeqCst)
    }

    /// The user asked to quit (Ctrl-A X).
    pub fn request_exit(&self) {
        self.state.exit_requested.store(true, Ordering::SeqCst);
    }

    pub fn take_exit_request(&self) -> bool {
        self.state.exit_requested.swap(false, Ordering::SeqCst)
    }
}

const CTRL_A: u8 = 0x01;

/// What one host key means once QEMU-style escapes are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    Send(u8),
    /// Ctrl-A X: quit.
    Exit,
    /// Ctrl-A H: print [`ESCAPE_HELP`].
    Help,
    Nothing,
}

/// The escape keys, as Ctrl-A H prints them.
pub const ESCAPE_HELP: &[&str] = &[
    "Ctrl-A h       print this help",
    "Ctrl-A x       quit emu (exit status 0)",
    "Ctrl-A Ctrl-A  send Ctrl-A to the guest",
];

/// What Ctrl-A X prints before emu quits.
pub const EXIT_MESSAGE: &str = "emu: terminated by Ctrl-A X";

/// The Ctrl-A escape state machine of the stdin reader.
#[derive(Debug, Default)]
pub struct EscapeFilter {
    after_ctrl_a: bool,
}

impl EscapeFilter {
    pub fn feed(&mut self, byte: u8) -> KeyAction {
        if !self.after_ctrl_a {
            if byte == CTRL_A {
                self.after_ctrl_a = true;
                return KeyAction::Nothing;
            }
            return KeyAction::Send(byte);
        }
        self.after_ctrl_a = false;
        match byte {
            b'x' | b'X' => KeyAction::Exit,
            b'h' | b'H' => KeyAction::Help,
            CTRL_A => KeyAction::Send(CTRL_A),
            _ => KeyAction::Nothing,
        }
    }
}

/// Run escape handling over `bytes` and feed the result into `input`; messages for the
/// user (help, quitting) go to `say`, one line per call.
pub fn feed_keys(
    filter: &mut EscapeFilter,
    input: &ConsoleInput,
    bytes: &[u8],
    say: &mut dyn FnMut(&str),
) {
    for &b in bytes {
        match filter.feed(b) {
            KeyAction::Send(c) => input.push(&[c]),
            KeyAction::Exit => {
                say(EXIT_MESSAGE);
                input.request_exit();
            }
            KeyAction::Help => ESCAPE_HELP.iter().for_each(|line| say(line)),
            KeyAction::Nothing => {}
        }
    }
}

/// One message line on stderr; a raw-mode terminal needs the carriage return.
fn say_on_stderr(line: &str) {
    let end = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        "\r\n"
    } else {
        "\n"
    };
    write_host(HostStream::Stderr, format!("{line}{end}").as_bytes());
}

static STDIN_INPUT: OnceLock<ConsoleInput> = OnceLock::new();

/// The process-wide queue fed from the host's stdin. The reader thread starts on first
/// use and lives until stdin ends; there is only one because there is only one stdin.
pub fn stdin_input() -> ConsoleInput {
    STDIN_INPUT
        .get_or_init(|| {
            let input = ConsoleInput::new();
            let feeder = input.clone();
            let spawned = std::thread::Builder::new()
                .name("console-stdin".into())
                .spawn(move || read_stdin_forever(feeder));
            if spawned.is_err() {
                input.close();
            }
            input
        })
        .clone()
}

fn read_stdin_forever(input: ConsoleInput) {
    let mut filter = EscapeFilter::default();
    let mut stdin = std::io::stdin();
    let mut buf = [0u8; 256];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => feed_keys(&mut filter, &input, &buf[..n], &mut say_on_stderr),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    input.close();
}

/// Whether the stdin console exists and may still deliver input.
pub fn stdin_input_open() -> bool {
    STDIN_INPUT.get().is_some_and(|i| i.is_open())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `keys`; returns what reached the guest and the lines said to the user.
    fn feed(input: &ConsoleInput, keys: &[u8]) -> (Vec<u8>, Vec<String>) {
        let mut f = EscapeFilter::default();
        let mut said = Vec::new();
        feed_keys(&mut f, input, keys, &mut |l| said.push(l.to_string()));
        let sent = std::iter::from_fn(|| input.pop()).collect();
        (sent, said)
    }

    #[test]
    fn ctrl_a_x_says_so_requests_exit_and_sends_nothing() {
        let input = ConsoleInput::new();
        let (sent, said) = feed(&input, b"ls\x01x");
        assert_eq!(sent, b"ls");
        assert_eq!(said, ["emu: terminated by Ctrl-A X"]);
        assert!(input.take_exit_request());
        assert!(!input.take_exit_request());
        let (_, said) = feed(&input, b"\x01X");
        assert_eq!(said, ["emu: terminated by Ctrl-A X"]);
        assert!(input.take_exit_request());
    }

    #[test]
    fn ctrl_a_h_prints_the_escape_keys_and_sends_nothing() {
        let input = ConsoleInput::new();
        let (sent, said) = feed(&input, b"a\x01hb\x01H");
        assert_eq!(sent, b"ab");
        let help = [
            "Ctrl-A h       print this help",
            "Ctrl-A x       quit emu (exit status 0)",
            "Ctrl-A Ctrl-A  send Ctrl-A to the guest",
        ];
        assert_eq!(said, [help, help].concat());
        assert!(!input.take_exit_request());
    }

    #[test]
    fn ctrl_a_ctrl_a_sends_one_ctrl_a_and_unknown_escapes_are_dropped() {
        let input = ConsoleInput::new();
        let (sent, said) = feed(&input, b"\x01\x01\x01qz");
        assert_eq!(sent, [CTRL_A, b'z']);
        assert!(said.is_empty());
        assert!(!input.take_exit_request());
    }

    #[test]
    fn an_escape_split_across_reads_still_counts() {
        let input = ConsoleInput::new();
        let mut f = EscapeFilter::default();
        let mut said = Vec::new();
        feed_keys(&mut f, &input, b"a\x01", &mut |l| said.push(l.to_string()));
        feed_keys(&mut f, &input, b"x", &mut |l| said.push(l.to_string()));
        assert_eq!(input.pop(), Some(b'a'));
        assert_eq!(input.pop(), None);
        assert!(input.take_exit_request());
    }

    #[test]
    fn closed_input_stays_open_until_drained() {
        let input = ConsoleInput::new();
        assert!(input.is_open());
        input.push(b"a");
        input.close();
        assert!(input.is_open());
        input.pop();
        assert!(!input.is_open());
    }

    #[test]
    fn capture_collects_output() {
        let (out, buf) = ConsoleOutput::capture();
        out.write_byte(b'h');
        out.write_byte(b'\n');
        out.flush();
        assert_eq!(&*buf.lock().unwrap(), b"h\n");
    }
}

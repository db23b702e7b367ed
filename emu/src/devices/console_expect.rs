//! Console expectations (`--expect`, `--fail-on`): regular expressions matched against
//! the guest console as it is produced, so a run can stop as soon as the console says
//! "done" or "Kernel panic".
//!
//! The text matched is the console byte stream with terminal escape sequences (CSI such as
//! colours and cursor moves, OSC titles, other two-byte escapes) and carriage returns
//! removed, so `\n` is the line break whatever the guest's terminal settings. Patterns
//! (the `regex` crate's syntax, on bytes) may span line breaks. Matching happens on what
//! has been written so far: `$` without `(?m)` means "the end of the output so far", so
//! a pattern that needs a complete line should end in `\n`.
//!
//! `--expect` patterns must appear in order: each is searched for after the end of the
//! previous one's match. `--fail-on` patterns are searched for everywhere; one that
//! matches wins over expectations met in the same output, and its report is the whole
//! line (or lines) holding the match, taken once the line has ended or the console has
//! fallen silent for a check.

use regex::bytes::Regex;
use std::sync::Mutex;

/// Text kept for matching: older output is dropped, so one match spans at most this much.
const WINDOW: usize = 64 << 10;
/// An escape string (OSC and friends) longer than this is taken as ordinary text again,
/// so a stray ESC ] cannot hide the rest of the console.
const MAX_ESCAPE_STRING: usize = 4096;

/// What the console has shown, once it decides the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every `--expect` pattern was seen, in order.
    AllSeen,
    /// A `--fail-on` pattern matched: the pattern and the line(s) holding the match.
    Failed { pattern: String, line: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EscapeState {
    Text,
    /// After ESC.
    Escape,
    /// Inside ESC [ ... (parameters and intermediates, up to the final byte).
    Csi,
    /// After ESC and an intermediate byte (0x20-0x2f), before the final byte.
    EscapeIntermediate,
    /// Inside ESC ] / ESC P / ESC X / ESC ^ / ESC _ ..., ended by BEL or ESC \.
    String(usize),
    /// ESC inside such a string: `\` ends it.
    StringEscape(usize),
}

/// Removes escape sequences and carriage returns from console bytes, across calls.
#[derive(Debug)]
pub struct EscapeStripper {
    state: EscapeState,
}

impl Default for EscapeStripper {
    fn default() -> Self {
        EscapeStripper {
            state: EscapeState::Text,
        }
    }
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

impl EscapeStripper {
    /// Append the text of `bytes` to `out`.
    pub fn strip(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        for &b in bytes {
            self.state = match self.state {
                EscapeState::Text => match b {
                    ESC => EscapeState::Escape,
                    b'\r' => EscapeState::Text,
                    _ => {
                        out.push(b);
                        EscapeState::Text
                    }
                },
                EscapeState::Escape => match b {
                    b'[' => EscapeState::Csi,
                    b']' | b'P' | b'X' | b'^' | b'_' => EscapeState::String(0),
                    0x20..=0x2f => EscapeState::EscapeIntermediate,
                    ESC => EscapeState::Escape,
                    _ => EscapeState::Text,
                },
                EscapeState::Csi => match b {
                    0x20..=0x3f => EscapeState::Csi,
                    0x40..=0x7e => EscapeState::Text,
                    // Not a well-formed sequence: the byte is text again.
                    _ => self.as_text(b, out),
                },
                EscapeState::EscapeIntermediate => match b {
                    0x20..=0x2f => EscapeState::EscapeIntermediate,
                    0x30..=0x7e => EscapeState::Text,
                    _ => self.as_text(b, out),
                },
                EscapeState::String(n) | EscapeState::StringEscape(n) if n >= MAX_ESCAPE_STRING => {
                    self.as_text(b, out)
                }
                EscapeState::String(n) => match b {
                    BEL => EscapeState::Text,
                    ESC => EscapeState::StringEscape(n + 1),
                    _ => EscapeState::String(n + 1),
                },
                EscapeState::StringEscape(n) => match b {
                    b'\\' => EscapeState::Text,
                    _ => EscapeState::String(n + 1),
                },
            };
        }
    }

    fn as_text(&mut self, b: u8, out: &mut Vec<u8>) -> EscapeState {
        self.state = EscapeState::Text;
        let mut one = Vec::new();
        self.strip(&[b], &mut one);
        out.extend_from_slice(&one);
        self.state
    }
}

/// The patterns of a run and how far the console has matched them.
#[derive(Debug)]
pub struct ConsoleMatcher {
    expect: Vec<Regex>,
    fail_on: Vec<Regex>,
    stripper: EscapeStripper,
    /// The console text not yet dropped (at most about [`WINDOW`]).
    text: Vec<u8>,
    /// Where in `text` the next `--expect` pattern is searched from.
    expect_from: usize,
    /// How many `--expect` patterns have been seen.
    seen: usize,
    /// Capture groups of the last `--expect` match (group 0 first), as text.
    captures: Vec<Option<String>>,
    /// A `--fail-on` match whose line has not ended yet: pattern index, line start.
    pending_failure: Option<(usize, usize)>,
    verdict: Option<Verdict>,
}

impl ConsoleMatcher {
    pub fn new(expect: Vec<Regex>, fail_on: Vec<Regex>) -> Self {
        ConsoleMatcher {
            expect,
            fail_on,
            stripper: EscapeStripper::default(),
            text: Vec::new(),
            expect_from: 0,
            seen: 0,
            captures: Vec::new(),
            pending_failure: None,
            verdict: None,
        }
    }

    /// Whether there is anything to match at all.
    pub fn is_active(&self) -> bool {
        !self.expect.is_empty() || !self.fail_on.is_empty()
    }

    /// Take more console output and match it; returns the verdict once there is one
    /// (and the same verdict on every later call).
    pub fn push(&mut self, bytes: &[u8]) -> Option<Verdict> {
        if self.verdict.is_some() {
            return self.verdict.clone();
        }
        let before = self.text.len();
        self.stripper.strip(bytes, &mut self.text);
        let grew = self.text.len() > before;
        if let Some((pattern, line_start)) = self.pending_failure {
            // The matching line is complete once a newline follows, or when a check
            // brought no new text (the guest stopped writing mid-line).
            let ended = self.text[line_start..].contains(&b'\n');
            if ended || !grew {
                return self.fail(pattern, line_start);
            }
            return None;
        }
        if !grew {
            return None;
        }
        for (i, re) in self.fail_on.iter().enumerate() {
            if let Some(m) = re.find(&self.text) {
                let line_start = self.text[..m.start()]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |p| p + 1);
                let last = m.start().max(m.end().saturating_sub(1));
                if self.text[last..].contains(&b'\n') {
                    return self.fail(i, line_start);
                }
                self.pending_failure = Some((i, line_start));
                return None;
            }
        }
        while self.seen < self.expect.len() {
            let Some(caps) = self.expect[self.seen].captures_at(&self.text, self.expect_from)
            else {
                break;
            };
            self.expect_from = caps.get(0).map_or(self.expect_from, |whole| whole.end());
            self.captures = caps
                .iter()
                .map(|g| g.map(|g| String::from_utf8_lossy(g.as_bytes()).into_owned()))
                .collect();
            self.seen += 1;
        }
        if self.seen == self.expect.len() && !self.expect.is_empty() {
            self.verdict = Some(Verdict::AllSeen);
            return self.verdict.clone();
        }
        self.trim();
        None
    }

    fn fail(&mut self, pattern: usize, line_start: usize) -> Option<Verdict> {
        // From the start of the match's line to the end of the line its last byte is on
        // (a match may span lines; one ending in a newline ends its line).
        let last = self.fail_on[pattern]
            .find_at(&self.text, line_start)
            .map_or(line_start, |m| m.start().max(m.end().saturating_sub(1)));
        let line_end = self.text[last..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.text.len(), |p| last + p);
        let line = String::from_utf8_lossy(&self.text[line_start..line_end]).into_owned();
        self.verdict = Some(Verdict::Failed {
            pattern: self.fail_on[pattern].as_str().to_string(),
            line,
        });
        self.verdict.clone()
    }

    /// Drop old text, keeping the last [`WINDOW`] bytes (from a line start when one is
    /// near).
    fn trim(&mut self) {
        if self.text.len() <= 2 * WINDOW {
            return;
        }
        let cut = self.text.len() - WINDOW;
        self.text.drain(..cut);
        self.expect_from = self.expect_from.saturating_sub(cut);
    }

    /// The first `--expect` pattern not seen yet.
    pub fn unmet(&self) -> Option<&str> {
        self.expect.get(self.seen).map(|r| r.as_str())
    }

    /// The capture groups of the last `--expect` match (index 0 is the whole match).
    pub fn captures(&self) -> &[Option<String>] {
        &self.captures
    }
}

/// A [`ConsoleMatcher`] shared between the console output (which feeds it every byte the
/// guest writes) and the machine's run loop (which checks it between quanta).
#[derive(Debug)]
pub struct ConsoleWatch {
    inner: Mutex<WatchState>,
}

#[derive(Debug)]
struct WatchState {
    matcher: ConsoleMatcher,
    /// Bytes written since the last check.
    pending: Vec<u8>,
}

impl ConsoleWatch {
    pub fn new(matcher: ConsoleMatcher) -> Self {
        ConsoleWatch {
            inner: Mutex::new(WatchState {
                matcher,
                pending: Vec::new(),
            }),
        }
    }

    /// Compile `--expect` and `--fail-on` patterns; an error names the bad pattern.
    pub fn from_patterns(expect: &[String], fail_on: &[String]) -> Result<Self, String> {
        let compile = |flag: &str, list: &[String]| {
            list.iter()
                .map(|p| {
                    Regex::new(p).map_err(|e| {
                        format!("{flag} '{p}' is not a regular expression: {}", one_line(&e))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self::new(ConsoleMatcher::new(
            compile("--expect", expect)?,
            compile("--fail-on", fail_on)?,
        )))
    }

    /// Console output, as the guest writes it (cheap: matching waits for [`check`]).
    ///
    /// [`check`]: ConsoleWatch::check
    pub fn feed(&self, bytes: &[u8]) {
        if let Ok(mut s) = self.inner.lock() {
            s.pending.extend_from_slice(bytes);
        }
    }

    /// Match what was written since the last check; the verdict once there is one.
    pub fn check(&self) -> Option<Verdict> {
        let mut s = self.inner.lock().ok()?;
        let s = &mut *s;
        if !s.matcher.is_active() {
            return None;
        }
        let pending = std::mem::take(&mut s.pending);
        let verdict = s.matcher.push(&pending);
        // Keep the allocation for the next quantum's output.
        s.pending = pending;
        s.pending.clear();
        verdict
    }

    /// The first `--expect` pattern not seen yet.
    pub fn unmet(&self) -> Option<String> {
        let s = self.inner.lock().ok()?;
        s.matcher.unmet().map(str::to_string)
    }

    /// The capture groups of the last `--expect` match.
    pub fn captures(&self) -> Vec<Option<String>> {
        self.inner
            .lock()
            .map(|s| s.matcher.captures().to_vec())
            .unwrap_or_default()
    }
}

/// A regex error message on one line (the crate's has a caret diagram over several).
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(expect: &[&str], fail_on: &[&str]) -> ConsoleMatcher {
        let re = |l: &[&str]| l.iter().map(|p| Regex::new(p).unwrap()).collect();
        ConsoleMatcher::new(re(expect), re(fail_on))
    }

    fn stripped(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        EscapeStripper::default().strip(bytes, &mut out);
        out
    }

    #[test]
    fn escape_sequences_and_carriage_returns_are_removed() {
        assert_eq!(stripped(b"a\x1b[1;31mred\x1b[0m b\r\n"), b"ared b\n");
        assert_eq!(stripped(b"\x1b]0;title\x07x\x1b]2;t\x1b\\y"), b"xy");
        assert_eq!(stripped(b"\x1b(Bz\x1b7\x1b8"), b"z");
        // A malformed CSI gives its byte back as text.
        assert_eq!(stripped(b"\x1b[12\nq"), b"\nq");
    }

    #[test]
    fn an_unterminated_escape_string_does_not_swallow_the_console() {
        let mut bytes = b"\x1b]".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', MAX_ESCAPE_STRING + 10));
        bytes.extend_from_slice(b"login:");
        assert!(stripped(&bytes).ends_with(b"login:"));
    }

    #[test]
    fn escapes_split_across_writes_are_still_removed() {
        let mut m = matcher(&["ready\\n"], &[]);
        for b in b"rea\x1b[3" {
            assert_eq!(m.push(&[*b]), None);
        }
        assert_eq!(m.push(b"2mdy\r"), None);
        assert_eq!(m.push(b"\n"), Some(Verdict::AllSeen));
    }

    #[test]
    fn expectations_must_appear_in_order() {
        let mut m = matcher(&["second", "first"], &[]);
        assert_eq!(m.push(b"first\nsecond\n"), None);
        assert_eq!(m.unmet(), Some("first"));
        assert_eq!(m.push(b"first again\n"), Some(Verdict::AllSeen));
        // Later output changes nothing.
        assert_eq!(m.push(b"more"), Some(Verdict::AllSeen));
    }

    #[test]
    fn one_output_meets_several_expectations_but_not_twice_the_same_text() {
        let mut m = matcher(&["a", "a"], &[]);
        assert_eq!(m.push(b"a"), None);
        assert_eq!(m.push(b"a"), Some(Verdict::AllSeen));
    }

    #[test]
    fn patterns_span_line_breaks_and_capture() {
        let mut m = matcher(&["login:\\s*\\n.*# "], &[]);
        assert_eq!(m.push(b"login: \r\n"), None);
        assert_eq!(m.push(b"root@x:~# "), Some(Verdict::AllSeen));
        let mut m = matcher(&["exit ([0-9]+)\\n"], &[]);
        assert_eq!(m.push(b"emu-test: exit 1"), None);
        assert_eq!(m.push(b"7\r\n"), Some(Verdict::AllSeen));
        assert_eq!(m.captures()[1].as_deref(), Some("17"));
    }

    #[test]
    fn a_failure_reports_its_whole_line_once_it_ends() {
        let mut m = matcher(&["done"], &["Kernel panic"]);
        assert_eq!(m.push(b"boot\n[ 1.0] Kernel pan"), None);
        assert_eq!(m.push(b"ic - not syncing"), None);
        assert_eq!(
            m.push(b": VFS\r\nmore\n"),
            Some(Verdict::Failed {
                pattern: "Kernel panic".into(),
                line: "[ 1.0] Kernel panic - not syncing: VFS".into()
            })
        );
    }

    #[test]
    fn a_failure_without_a_line_end_is_reported_when_the_console_falls_silent() {
        let mut m = matcher(&[], &["oops"]);
        assert_eq!(m.push(b"x oops y"), None);
        assert_eq!(
            m.push(b""),
            Some(Verdict::Failed {
                pattern: "oops".into(),
                line: "x oops y".into()
            })
        );
    }

    #[test]
    fn a_failure_wins_over_expectations_met_by_the_same_output() {
        let mut m = matcher(&["done"], &["FAIL"]);
        let v = m.push(b"FAIL\ndone\n");
        assert!(matches!(v, Some(Verdict::Failed { .. })), "{v:?}");
    }

    #[test]
    fn a_failure_spanning_lines_reports_all_of_them() {
        let mut m = matcher(&[], &["BUG:.*\\n.*at "]);
        let v = m.push(b"ok\nBUG: bad\n  at foo+0x1\nnext\n");
        assert_eq!(
            v,
            Some(Verdict::Failed {
                pattern: "BUG:.*\\n.*at ".into(),
                line: "BUG: bad\n  at foo+0x1".into()
            })
        );
    }

    #[test]
    fn long_output_keeps_matching_across_the_window_edge() {
        let mut m = matcher(&["needle\\n"], &[]);
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<_>>();
        for _ in 0..300 {
            assert_eq!(m.push(&line), None);
        }
        assert!(m.text.len() <= 2 * WINDOW + 1024);
        assert_eq!(m.push(b"nee"), None);
        assert_eq!(m.push(b"dle\n"), Some(Verdict::AllSeen));
    }

    #[test]
    fn watch_matches_only_when_checked_and_reports_bad_patterns() {
        let w = ConsoleWatch::from_patterns(&["hi".into()], &[]).unwrap();
        w.feed(b"h");
        assert_eq!(w.check(), None);
        w.feed(b"i");
        assert_eq!(w.check(), Some(Verdict::AllSeen));
        let e = ConsoleWatch::from_patterns(&[], &["(".into()]).unwrap_err();
        assert!(
            e.starts_with("--fail-on '(' is not a regular expression: "),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let idle = ConsoleWatch::from_patterns(&[], &[]).unwrap();
        idle.feed(b"anything");
        assert_eq!(idle.check(), None);
    }
}

//! The command outputs quoted in the documentation are what the binary prints now.
//!
//! A quoted output is a fenced block right after a marker comment that names the command
//! and how the excerpt is taken:
//!
//! ```text
//! <!-- emu-output: run --sv48 --stats | stderr | '---- translation' .. 'L2 ' | 'walks:' -->
//! ```
//!
//! The first section holds emu's arguments (shell-style quoting, no expansion; run from
//! the repository root). The others are rules, in any order:
//!
//! - `stdout` (the default) or `stderr`: the stream quoted.
//! - `status N`: the exit status the command must end with (default 0).
//! - `prompt`: the block starts with `$ emu ARGS`.
//! - `needs PATH`: the command uses this file (e.g. a Debian image in `.cache/debian`);
//!   when it is missing the block is skipped with a note, and with `CI=true` that fails.
//! - `gdb 'COMMAND'` (repeatable): emu runs with `--gdb PORT --gdb-wait` added, and
//!   `gdb-multiarch` in batch mode connects with the embedded guest kernel's symbols and
//!   runs these commands, each shown as a `(gdb) COMMAND` line, then `kill`s the guest
//!   (emu's status is then 130). The quoted stream is what gdb prints. Without
//!   gdb-multiarch the block is skipped with a note, and with `CI=true` that fails.
//! - `cut N`: lines are cut to N characters.
//! - `mask 'TEXT'`: the word after each `TEXT` is replaced by `..` (right-aligned in the
//!   same width when spaces separate it from TEXT, so columns stay aligned); for figures
//!   that are not deterministic (wall time, MIPS) or that move with every build. The doc's
//!   prose should say what is masked.
//! - selections, taken in order, each searching after the previous one: `lines A-B`,
//!   `line A` (1-based), `last N`, `'TEXT'` (the first line containing TEXT), and
//!   `'FROM' .. 'TO'` (from the first line containing FROM to the next one containing
//!   TO), `.. 'TO'` (on from the end of the previous selection to the next line
//!   containing TO). Lines skipped between two selections show as one `...` line. Without a
//!   selection the whole stream is quoted.
//!
//! Every Markdown file of the repository is scanned (build and dot directories aside). A
//! block that differs fails this test with a diff; `scripts/update-docs` runs it with
//! `UPDATE_DOCS=1`, which rewrites the blocks in place instead.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EMU: &str = env!("CARGO_BIN_EXE_emu");
const MARKER: &str = "<!-- emu-output:";
const ELLIPSIS: &str = "...";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ has a parent")
        .to_path_buf()
}

/// The Markdown files of the repository, sorted, without build output, caches and
/// vendored trees.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// Split shell-style words; a bare `|` is returned as its own word so sections can be
/// told apart from a quoted `'|'`.
fn words(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(out);
        };
        if first == '|' {
            chars.next();
            out.push(("|".to_string(), false));
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '|' {
                break;
            }
            chars.next();
            if c == '\'' || c == '"' {
                quoted = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                        None => return Err(format!("unclosed {c} in {text:?}")),
                    }
                }
            } else {
                word.push(c);
            }
        }
        out.push((word, quoted));
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Selection {
    Lines(usize, Option<usize>),
    Last(usize),
    Containing(String),
    Range(String, String),
    Until(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq)]
struct Spec {
    /// The arguments as written, for the prompt line and messages.
    shown: String,
    args: Vec<String>,
    stream: Stream,
    status: i32,
    prompt: bool,
    needs: Vec<String>,
    gdb: Vec<String>,
    cut: Option<usize>,
    masks: Vec<String>,
    selections: Vec<Selection>,
}

fn number(word: &str, what: &str) -> Result<usize, String> {
    word.parse()
        .map_err(|_| format!("{what}: {word:?} is not a number"))
}

fn parse_spec(text: &str) -> Result<Spec, String> {
    let mut sections: Vec<Vec<(String, bool)>> = vec![Vec::new()];
    for w in words(text)? {
        if w == ("|".to_string(), false) {
            sections.push(Vec::new());
        } else {
            sections.last_mut().unwrap().push(w);
        }
    }
    let args: Vec<String> = sections[0].iter().map(|(w, _)| w.clone()).collect();
    if args.is_empty() {
        return Err("no emu arguments before the first `|`".into());
    }
    let shown = args
        .iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "|'\"$;&".contains(c)) {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut spec = Spec {
        shown,
        args,
        stream: Stream::Stdout,
        status: 0,
        prompt: false,
        needs: Vec::new(),
        gdb: Vec::new(),
        cut: None,
        masks: Vec::new(),
        selections: Vec::new(),
    };
    for rule in &sections[1..] {
        let plain: Vec<&str> = rule
            .iter()
            .map(|(w, q)| if *q { "'" } else { w.as_str() })
            .collect();
        let arg = |i: usize| rule[i].0.clone();
        match plain.as_slice() {
            ["stdout"] => spec.stream = Stream::Stdout,
            ["stderr"] => spec.stream = Stream::Stderr,
            ["prompt"] => spec.prompt = true,
            ["status", n] => spec.status = number(n, "status")? as i32,
            ["needs", _] => spec.needs.push(arg(1)),
            ["gdb", "'"] => spec.gdb.push(arg(1)),
            ["cut", n] => spec.cut = Some(number(n, "cut")?),
            ["mask", "'"] => spec.masks.push(arg(1)),
            ["last", n] => spec.selections.push(Selection::Last(number(n, "last")?)),
            ["line", n] => {
                let n = number(n, "line")?;
                spec.selections.push(Selection::Lines(n, Some(n)));
            }
            ["lines", range] => {
                let (a, b) = range
                    .split_once('-')
                    .ok_or_else(|| format!("lines: {range:?} is not A-B or A-"))?;
                let b = if b.is_empty() {
                    None
                } else {
                    Some(number(b, "lines")?)
                };
                spec.selections
                    .push(Selection::Lines(number(a, "lines")?, b));
            }
            ["'"] => spec.selections.push(Selection::Containing(arg(0))),
            ["'", "..", "'"] => spec.selections.push(Selection::Range(arg(0), arg(2))),
            ["..", "'"] => spec.selections.push(Selection::Until(arg(1))),
            _ => {
                return Err(format!(
                    "unknown rule {:?} (see emu/tests/docs_outputs.rs)",
                    rule.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>()
                ))
            }
        }
    }
    for s in &spec.selections {
        if matches!(s, Selection::Lines(0, _)) || matches!(s, Selection::Lines(a, Some(b)) if b < a)
        {
            return Err(format!("{s:?}: lines count from 1, A <= B"));
        }
    }
    Ok(spec)
}

/// Replace the value after each `text` by `..`: a value in a column (after spaces) keeps
/// its width with the spaces, so columns stay aligned whatever the value; a value right
/// after `text` (`root=0x...`) becomes `..` whatever its length.
fn mask_line(line: &str, text: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(text) {
        let (head, tail) = rest.split_at(at + text.len());
        out.push_str(head);
        let spaces = tail.len() - tail.trim_start().len();
        let word = tail[spaces..]
            .find(char::is_whitespace)
            .unwrap_or(tail.len() - spaces);
        let width = spaces + word;
        if word > 0 && spaces > 0 {
            out.push_str(&format!("{:>width$}", ".."));
        } else if word > 0 {
            out.push_str("..");
        } else {
            out.push_str(&tail[..width]);
        }
        rest = &tail[width..];
    }
    out.push_str(rest);
    out
}

/// The block a spec quotes from `output`.
fn excerpt(spec: &Spec, output: &str) -> Result<Vec<String>, String> {
    let lines: Vec<&str> = output.lines().collect();
    let mut picked: Vec<std::ops::Range<usize>> = Vec::new();
    let mut next = 0;
    let find = |from: usize, text: &str| -> Result<usize, String> {
        (from..lines.len())
            .find(|&i| lines[i].contains(text))
            .ok_or_else(|| {
                format!("no line containing {text:?} after line {from} of the output:\n{output}")
            })
    };
    for s in &spec.selections {
        let range = match s {
            Selection::Lines(a, b) => {
                let end = b.unwrap_or(lines.len());
                if end > lines.len() || *a > end {
                    return Err(format!(
                        "{s:?}: the output has only {} lines:\n{output}",
                        lines.len()
                    ));
                }
                a - 1..end
            }
            Selection::Last(n) => lines.len().saturating_sub(*n)..lines.len(),
            Selection::Containing(text) => {
                let i = find(next, text)?;
                i..i + 1
            }
            Selection::Range(from, to) => {
                let a = find(next, from)?;
                let b = find(a + 1, to)?;
                a..b + 1
            }
            Selection::Until(to) => next..find(next, to)? + 1,
        };
        if range.start < next {
            return Err(format!(
                "{s:?} starts before the end of the previous selection"
            ));
        }
        next = range.end;
        picked.push(range);
    }
    if spec.selections.is_empty() {
        picked.push(0..lines.len());
    }
    let mut block = Vec::new();
    if spec.prompt {
        block.push(format!("$ emu {}", spec.shown));
    }
    let mut end = None;
    for range in picked {
        if end.is_some_and(|e| e != range.start) {
            block.push(ELLIPSIS.to_string());
        }
        end = Some(range.end);
        for line in &lines[range] {
            let mut line = line.to_string();
            for m in &spec.masks {
                line = mask_line(&line, m);
            }
            if let Some(n) = spec.cut {
                line = line.chars().take(n).collect();
            }
            block.push(line.trim_end().to_string());
        }
    }
    Ok(block)
}

/// One marked block of a Markdown file: the spec, and the line indices of the block's
/// content (between the fences).
struct Quote {
    marker_line: usize,
    spec: Spec,
    content: std::ops::Range<usize>,
}

fn find_quotes(text: &str) -> Result<Vec<Quote>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut quotes = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(rest) = lines[i].trim_start().strip_prefix(MARKER) else {
            i += 1;
            continue;
        };
        let marker_line = i;
        let mut body = rest.to_string();
        while !body.trim_end().ends_with("-->") {
            i += 1;
            let more = lines
                .get(i)
                .ok_or_else(|| format!("line {}: marker not closed by -->", marker_line + 1))?;
            body.push(' ');
            body.push_str(more.trim());
        }
        let body = body.trim_end().strip_suffix("-->").unwrap().trim();
        let spec = parse_spec(body).map_err(|e| format!("line {}: {e}", marker_line + 1))?;
        i += 1;
        let open = lines.get(i).map(|l| l.trim_start()).unwrap_or("");
        let fence: String = open.chars().take_while(|&c| c == '`' || c == '~').collect();
        if fence.len() < 3 {
            return Err(format!(
                "line {}: the marker must be followed directly by a fenced block",
                marker_line + 1
            ));
        }
        let start = i + 1;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim() == fence)
            .ok_or_else(|| format!("line {}: fenced block not closed", i + 1))?;
        quotes.push(Quote {
            marker_line,
            spec,
            content: start..end,
        });
        i = end + 1;
    }
    Ok(quotes)
}

/// Fenced blocks that look like a quoted session (first line `$ ...` or `(gdb) ...`) but
/// have no marker: their output would be checked by nobody. Returns their 1-based lines.
fn unmarked_sessions(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut fence: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let ticks: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        match &fence {
            Some(open) if trimmed.trim_end() == open.as_str() => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => {
                fence = Some(ticks);
                let first = lines.get(i + 1).map_or("", |l| l.trim_start());
                let marked = i > 0
                    && lines[..i]
                        .iter()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .is_some_and(|l| l.trim_end().ends_with("-->"))
                    && lines[..i]
                        .iter()
                        .rev()
                        .find(|l| l.trim_start().starts_with("<!--"))
                        .is_some_and(|l| l.trim_start().starts_with(MARKER));
                if (first.starts_with("$ ") || first.starts_with("(gdb) ")) && !marked {
                    found.push(i + 1);
                }
            }
            None => {}
        }
    }
    found
}

/// A line diff of the documented block against the binary's output (longest common
/// subsequence; the blocks are short).
fn diff(doc: &[&str], now: &[String]) -> String {
    let (n, m) = (doc.len(), now.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if doc[i] == now[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && doc[i] == now[j] {
            out += &format!("  {}\n", doc[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+ {}\n", now[j]);
            j += 1;
        } else {
            out += &format!("- {}\n", doc[i]);
            i += 1;
        }
    }
    out
}

const GDB: &str = "gdb-multiarch";

fn have_gdb() -> bool {
    Command::new(GDB)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the block needs and this machine lacks (a `needs` file, gdb-multiarch for `gdb`
/// rules); with `CI=true` that is a failure.
fn missing_artefact(
    spec: &Spec,
    root: &Path,
    ci: bool,
    gdb_here: bool,
) -> Result<Option<String>, String> {
    let file = spec.needs.iter().find(|p| !root.join(p).exists()).cloned();
    let tool = (!spec.gdb.is_empty() && !gdb_here).then(|| GDB.to_string());
    let Some(missing) = file.or(tool) else {
        return Ok(None);
    };
    if ci {
        return Err(format!(
            "{missing} is missing in CI (scripts/setup installs or fetches it)"
        ));
    }
    Ok(Some(missing))
}

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Wait for `child` at most `secs` seconds; `Err` (with the child still running) after.
fn wait_for(child: &mut Child, secs: u64) -> Result<Option<i32>, ()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Ok(status.code());
        }
        if Instant::now() > deadline {
            return Err(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// emu waiting for gdb, gdb-multiarch running `commands` against it; the output is what
/// gdb printed (stdout and stderr in one file, so they stay in order).
fn run_gdb_session(args: &[String], commands: &[String], root: &Path) -> Run {
    let scratch = std::env::temp_dir().join(format!("emu-docs-gdb-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let images = Command::new(EMU)
        .args(["images", "--out"])
        .arg(&scratch)
        .output()
        .unwrap();
    assert!(images.status.success(), "emu images failed: {images:?}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut emu = Command::new(EMU)
        .args(args)
        .args(["--gdb", &port, "--gdb-wait"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut emu_err = BufReader::new(emu.stderr.take().unwrap());
    let mut first = String::new();
    emu_err.read_line(&mut first).unwrap();
    assert!(
        first.contains("waiting for gdb"),
        "emu {args:?} did not wait for gdb: {first}"
    );
    let log_path = scratch.join("gdb.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut gdb = Command::new(GDB);
    gdb.current_dir(&scratch)
        .args(["-nx", "-batch"])
        .args(["-ex", "set architecture riscv:rv64"])
        .args(["-ex", "file guest-kernel.elf"])
        .args(["-ex", &format!("target remote :{port}")]);
    for c in commands {
        gdb.args(["-ex", &format!("echo (gdb) {c}\\n")]);
        gdb.args(["-ex", c]);
    }
    let mut gdb = gdb
        .arg("-ex")
        .arg("kill")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // Both children are ours: a hung session is ended before the test fails.
    if wait_for(&mut gdb, 120).is_err() {
        let _ = gdb.kill();
        let _ = emu.kill();
        panic!(
            "{GDB} did not finish in 120 s:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }
    let Ok(status) = wait_for(&mut emu, 30) else {
        let _ = emu.kill();
        panic!("emu {args:?} did not exit after the gdb session");
    };
    let mut stderr = first;
    emu_err.read_to_string(&mut stderr).unwrap();
    let stdout = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    Run {
        status,
        stdout,
        stderr,
    }
}

fn run_emu(args: &[String], root: &Path) -> Run {
    let out = assert_cmd::Command::new(EMU)
        .args(args)
        .current_dir(root)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap_or_else(|e| panic!("cannot run emu {args:?}: {e}"));
    Run {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn quoted_outputs_match_the_binary() {
    let root = repo_root();
    let update = std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    let gdb_here = have_gdb();
    let mut runs: HashMap<(Vec<String>, Vec<String>), Run> = HashMap::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        for line in unmarked_sessions(&text) {
            failures.push(format!(
                "{name}:{line}: this block quotes a session but has no {MARKER} marker \
                 (see emu/tests/docs_outputs.rs)"
            ));
        }
        let quotes = match find_quotes(&text) {
            Ok(q) => q,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if quotes.is_empty() {
            continue;
        }
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut changed = false;
        // Back to front, so rewriting a block keeps the earlier blocks' line numbers.
        for q in quotes.iter().rev() {
            let under_gdb = if q.spec.gdb.is_empty() {
                ""
            } else {
                " under gdb"
            };
            let at = format!(
                "{name}:{} (emu {}{under_gdb})",
                q.marker_line + 1,
                q.spec.shown
            );
            match missing_artefact(&q.spec, &root, ci, gdb_here) {
                Err(e) => {
                    failures.push(format!("{at}: {e}"));
                    continue;
                }
                Ok(Some(missing)) => {
                    eprintln!("note: {at}: not checked, {missing} is missing (scripts/setup)");
                    continue;
                }
                Ok(None) => {}
            }
            let run = runs
                .entry((q.spec.args.clone(), q.spec.gdb.clone()))
                .or_insert_with(|| {
                    if q.spec.gdb.is_empty() {
                        run_emu(&q.spec.args, &root)
                    } else {
                        run_gdb_session(&q.spec.args, &q.spec.gdb, &root)
                    }
                });
            if run.status != Some(q.spec.status) {
                failures.push(format!(
                    "{at}: exit status {:?}, the marker expects {}\nstderr:\n{}",
                    run.status, q.spec.status, run.stderr
                ));
                continue;
            }
            let output = match q.spec.stream {
                _ if !q.spec.gdb.is_empty() => &run.stdout,
                Stream::Stdout => &run.stdout,
                Stream::Stderr => &run.stderr,
            };
            let now = match excerpt(&q.spec, output) {
                Ok(block) => block,
                Err(e) => {
                    failures.push(format!("{at}: {e}"));
                    continue;
                }
            };
            checked += 1;
            let doc: Vec<&str> = lines[q.content.clone()]
                .iter()
                .map(|s| s.as_str())
                .collect();
            if doc == now {
                continue;
            }
            if update {
                eprintln!("updated {at}");
                lines.splice(q.content.clone(), now);
                changed = true;
            } else {
                failures.push(format!(
                    "{at}: the quoted output differs from what emu prints now \
                     (- doc, + emu):\n{}",
                    diff(&doc, &now)
                ));
            }
        }
        if changed {
            let mut new_text = lines.join("\n");
            if text.ends_with('\n') {
                new_text.push('\n');
            }
            std::fs::write(path, new_text).unwrap();
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nrun scripts/update-docs to rewrite the quoted blocks (a marker that no longer \
         selects anything must be fixed by hand)",
        failures.join("\n\n")
    );
    assert!(
        checked > 0,
        "no quoted output found: the markers ({MARKER}) were lost"
    );
}

#[test]
fn rules_select_mask_and_cut() {
    let output = "one\ntwo\nthree x\nfour\nspeed        26.2 MIPS\nsix\nseven\n";
    let spec = parse_spec(
        "run --sv48 | prompt | lines 1-2 | 'three' | .. 'four' | 'speed' | last 1 \
         | mask 'speed' | cut 5",
    )
    .unwrap();
    assert_eq!(spec.args, ["run", "--sv48"]);
    assert_eq!(
        excerpt(&spec, output).unwrap(),
        [
            "$ emu run --sv48",
            "one",
            "two",
            "three",
            "four",
            "speed",
            "...",
            "seven"
        ]
    );
    assert_eq!(
        excerpt(&parse_spec("run | 'two' .. 'o'").unwrap(), output).unwrap(),
        ["two", "three x", "four"]
    );
    assert_eq!(
        mask_line("speed        26.2 MIPS", "speed"),
        "speed          .. MIPS"
    );
    assert_eq!(mask_line("a=1 a=22 b", "a="), "a=.. a=.. b");
    assert_eq!(mask_line("root=0x806c1000 x", "root="), "root=.. x");
    let spec = parse_spec("run --append 'a | b' | stderr | status 3").unwrap();
    assert_eq!(spec.args, ["run", "--append", "a | b"]);
    assert_eq!(spec.shown, "run --append 'a | b'");
    assert_eq!((spec.stream, spec.status), (Stream::Stderr, 3));
    assert!(parse_spec("run | 'x' ..").is_err());
    assert!(parse_spec("run | lines 0-2").is_err());
    assert!(excerpt(&parse_spec("run | 'absent'").unwrap(), output).is_err());
    assert!(excerpt(&parse_spec("run | lines 9-").unwrap(), output).is_err());
    assert!(excerpt(&parse_spec("run | lines 6-9").unwrap(), output).is_err());
    assert!(excerpt(&parse_spec("run | 'six' | 'two'").unwrap(), output).is_err());
}

#[test]
fn sessions_without_a_marker_are_found() {
    let text = "a\n```\n$ emu run\nout\n```\n<!-- emu-output: run -->\n```\n$ emu run\n```\n\
                ```sh\ncargo build\n```\n````\n```\n$ x\n````\n~~~\n(gdb) monitor satp\n~~~\n";
    assert_eq!(unmarked_sessions(text), [2, 17]);
}

#[test]
fn a_missing_artefact_is_skipped_with_a_note_except_in_ci() {
    let root = repo_root();
    let spec = parse_spec("run .cache/none/Image | needs .cache/none/Image").unwrap();
    assert_eq!(
        missing_artefact(&spec, &root, false, true)
            .unwrap()
            .as_deref(),
        Some(".cache/none/Image")
    );
    assert!(missing_artefact(&spec, &root, true, true).is_err());
    let spec = parse_spec("run | needs README.md").unwrap();
    assert_eq!(missing_artefact(&spec, &root, true, true).unwrap(), None);
    let spec = parse_spec("run | gdb 'monitor satp'").unwrap();
    assert_eq!(spec.gdb, ["monitor satp"]);
    assert_eq!(
        missing_artefact(&spec, &root, false, false)
            .unwrap()
            .as_deref(),
        Some(GDB)
    );
    assert!(missing_artefact(&spec, &root, true, false).is_err());
    assert_eq!(missing_artefact(&spec, &root, true, true).unwrap(), None);
}

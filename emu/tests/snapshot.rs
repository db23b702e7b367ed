//! Snapshots (`emu run --save-at WHERE --save FILE`, `emu run --restore FILE`): a run
//! restored from a snapshot is the uninterrupted run from the snapshot point on - same
//! console output, exit status, instruction count, statistics and trace - and saving does
//! not change the run that saves. Broken, foreign or mismatched snapshots are refused with
//! one error line.
//!
//! For the built-in guest kernel and for Debian's Linux boot (the images of
//! `scripts/fetch-debian-images` in `$EMU_CACHE/debian`; without them the Debian test
//! fails when `CI=true` and otherwise prints a note and passes).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const EMU: &str = env!("CARGO_BIN_EXE_emu");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("snapshot-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn emu(dir: &Path, args: &[String]) -> Output {
    Command::new(EMU)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The instruction count a `--save` run reports for `file`.
fn saved_at(out: &Output, file: &str) -> u64 {
    let text = stderr(out);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("emu: saved {file} at instruction ")))
        .unwrap_or_else(|| panic!("no 'saved {file}' line:\n{text}"));
    line.split_whitespace().nth(5).unwrap().parse().unwrap()
}

/// The statistics JSON without its wall-clock figures.
fn counters(path: &Path) -> Value {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("seconds");
    o.remove("mips");
    v
}

/// `a + b` over every number of two JSON values of the same shape (trap maps may lack
/// causes with no count).
fn sum(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = serde_json::Map::new();
            for k in x.keys().chain(y.keys()) {
                let zero = Value::from(0u64);
                let xa = x.get(k).unwrap_or(&zero);
                let yb = y.get(k).unwrap_or(&zero);
                out.insert(k.clone(), sum(xa, yb));
            }
            Value::Object(out)
        }
        (Value::Array(x), Value::Array(y)) => {
            Value::Array(x.iter().zip(y).map(|(p, q)| sum(p, q)).collect())
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(p), Some(q)) => Value::from(p + q),
            _ => a.clone(),
        },
        _ => a.clone(),
    }
}

/// The counters a whole run reports, as a restored run's own plus its `before_snapshot`.
fn whole_run(restored: &Value) -> Value {
    let before = &restored["before_snapshot"];
    let mut out = serde_json::Map::new();
    for k in ["instructions", "per_hart", "by_privilege", "mmu", "traps"] {
        out.insert(k.to_string(), sum(&restored[k], &before[k]));
    }
    Value::Object(out)
}

fn same_counters(full: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in ["instructions", "per_hart", "by_privilege", "mmu", "traps"] {
        out.insert(k.to_string(), full[k].clone());
    }
    Value::Object(out)
}

/// Save at `points` during a run of `boot` (with statistics and a trace window opening
/// at `trace_from`), and check the saving run against the uninterrupted one, then every
/// restored run against it.
fn save_and_restore(name: &str, boot: &[String], points: &[&str], trace_from: u64) {
    let dir = scratch(name);
    let observe = |stats: &str, trace: &str| -> Vec<String> {
        strings(&[
            "--max-insns",
            GUARD,
            "--stats-json",
            stats,
            "--trace",
            "all",
            "--trace-from",
            &format!("insn:{trace_from}"),
            "--trace-limit",
            "3000",
            "--trace-file",
            trace,
        ])
    };

    let full = emu(&dir, &[boot, &observe("full.json", "full.trace")].concat());
    let full_out = full.stdout.clone();
    assert!(!full_out.is_empty(), "{}", stderr(&full));
    let full_trace = std::fs::read(dir.join("full.trace")).unwrap();
    assert!(full_trace.len() > 1000, "the trace window is empty");
    let full_stats = counters(&dir.join("full.json"));

    let mut save_args = [boot, &observe("save.json", "save.trace")].concat();
    for p in points {
        save_args.extend(strings(&["--save-at", p]));
    }
    save_args.extend(strings(&["--save", "point-{n}.snap"]));
    let saving = emu(&dir, &save_args);
    // Saving changes nothing in the run that saves.
    assert_eq!(
        saving.status.code(),
        full.status.code(),
        "{}",
        stderr(&saving)
    );
    assert!(
        saving.stdout == full_out,
        "the saving run's console differs"
    );
    assert!(
        std::fs::read(dir.join("save.trace")).unwrap() == full_trace,
        "the saving run's trace differs"
    );
    assert_eq!(counters(&dir.join("save.json")), full_stats);

    let mut earlier = 0;
    for i in 1..=points.len() {
        let file = format!("point-{i}.snap");
        let at = saved_at(&saving, &file);
        assert!(at >= earlier, "save points out of order");
        earlier = at;
        // The console up to the point: the same boot stopped there.
        let prefix = emu(
            &dir,
            &[boot, &strings(&["--max-insns", &at.to_string()])].concat(),
        );
        assert_eq!(prefix.status.code(), Some(124), "{}", stderr(&prefix));

        let stats = format!("restored-{i}.json");
        let trace = format!("restored-{i}.trace");
        let restored = emu(
            &dir,
            &[
                strings(&["run", "--restore", &file]),
                observe(&stats, &trace),
            ]
            .concat(),
        );
        assert_eq!(
            restored.status.code(),
            full.status.code(),
            "restoring {file}: {}",
            stderr(&restored)
        );
        let mut console = prefix.stdout.clone();
        console.extend_from_slice(&restored.stdout);
        assert!(
            console == full_out,
            "console before {file} plus the restored run's differs from the whole run:\n{}",
            String::from_utf8_lossy(&restored.stdout)
        );
        let r = counters(&dir.join(&stats));
        assert_eq!(
            r["before_snapshot"]["instructions"].as_u64(),
            Some(at),
            "counters at the point"
        );
        assert_eq!(
            whole_run(&r),
            same_counters(&full_stats),
            "restored from {file}: counters from the point plus those before it are not the whole run's"
        );
        // The trace window, when it opens after the point, is the uninterrupted run's.
        if at < trace_from {
            assert!(
                std::fs::read(dir.join(&trace)).unwrap() == full_trace,
                "restored from {file}: the trace window differs"
            );
        }
    }
}

/// Every run's hang guard: far more than any of these boots takes (a Debian boot is
/// about 1.2 G instructions).
const GUARD: &str = "4000000000";

#[test]
fn guest_kernel_restored_runs_are_the_uninterrupted_run() {
    save_and_restore(
        "guest-kernel",
        &strings(&["run"]),
        &[
            "relocate_enable_mmu",
            "insn:700000",
            "insn:1200000",
            "insn:2500000",
        ],
        1_500_000,
    );
}

#[test]
fn page_walk_cache_contents_and_counters_survive_a_restore() {
    // The page-walk cache is part of the TLB model: a restored run must find the entries
    // and counters the uninterrupted run had at the point.
    save_and_restore(
        "guest-kernel-pwc",
        &strings(&["run", "--sv48", "--tlb", "pwc=16:4"]),
        &["insn:1200000", "insn:2500000"],
        1_500_000,
    );
}

/// A snapshot of the guest kernel at 1 M instructions, in `dir`.
fn small_snapshot(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = emu(
        dir,
        &[
            strings(&["run", "--save-at", "insn:1000000", "--save", "s.snap"]),
            strings(extra),
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir.join("s.snap")
}

fn restore(dir: &Path, file: &Path, extra: &[&str]) -> Output {
    emu(
        dir,
        &[
            strings(&["run", "--restore", &file.display().to_string()]),
            strings(extra),
        ]
        .concat(),
    )
}

#[test]
fn broken_and_foreign_snapshots_are_refused_with_one_line() {
    let dir = scratch("refused");
    let good = small_snapshot(&dir, &[]);
    let bytes = std::fs::read(&good).unwrap();
    assert_eq!(&bytes[..8], b"EMUSNAP\0");
    let variant = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };

    let truncated = variant("truncated.snap", &bytes[..bytes.len() / 2]);
    common::assert_one_error_line(&restore(&dir, &truncated, &[]), 1, "corrupt or truncated");
    let header_only = variant("header.snap", &bytes[..10]);
    common::assert_one_error_line(&restore(&dir, &header_only, &[]), 1, "truncated");

    let mut corrupt = bytes.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x40;
    let corrupt = variant("corrupt.snap", &corrupt);
    common::assert_one_error_line(&restore(&dir, &corrupt, &[]), 1, "checksum");

    let mut magic = bytes.clone();
    magic[0] = b'X';
    let magic = variant("magic.snap", &magic);
    common::assert_one_error_line(&restore(&dir, &magic, &[]), 1, "not an emu snapshot");

    let mut version = bytes.clone();
    version[8] = 7;
    let version = variant("version.snap", &version);
    common::assert_one_error_line(&restore(&dir, &version, &[]), 1, "format version 7");

    // A well-sealed file whose sections do not hold what they claim.
    let mut inner = bytes[..bytes.len() - 4].to_vec();
    let len = inner.len();
    // The RAM section's closing run length (the last field before the checksum).
    inner[len - 2] ^= 0xff;
    let resealed = emu::snapshot::format::File::seal(&inner);
    let resealed = variant("resealed.snap", &resealed);
    let out = restore(&dir, &resealed, &[]);
    common::assert_one_error_line(&out, 1, "cannot restore");

    common::assert_one_error_line(
        &restore(&dir, &dir.join("missing.snap"), &[]),
        1,
        "missing.snap",
    );

    // Arguments that decide the machine belong to the snapshot.
    for (flag, value) in [("--smp", "2"), ("-m", "1G"), ("--append", "x")] {
        common::assert_one_error_line(
            &restore(&dir, &good, &[flag, value]),
            1,
            &format!("{flag} contradicts the snapshot"),
        );
    }
    common::assert_one_error_line(
        &restore(&dir, &good, &["--sv39"]),
        1,
        "contradicts the snapshot",
    );
    // The same value as the snapshot's is no contradiction.
    let out = restore(&dir, &good, &["-m", "512M", "--max-insns", "1100000"]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
}

#[test]
fn another_tlb_geometry_measures_the_rest_of_the_run_from_an_empty_model() {
    let dir = scratch("retune");
    let snap = small_snapshot(&dir, &["--stats-json", "saving.json"]);
    let same = restore(&dir, &snap, &["--stats-json", "same.json"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    let other = restore(
        &dir,
        &snap,
        &["--tlb", "l2=0,pwc=8:2", "--stats-json", "other.json"],
    );
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("the TLB model starts empty"),
        "{}",
        stderr(&other)
    );
    // The architecture does not see the TLB model: the same run, other counters.
    assert!(other.stdout == same.stdout, "the console differs");
    let (a, b) = (
        counters(&dir.join("same.json")),
        counters(&dir.join("other.json")),
    );
    assert_eq!(a["instructions"], b["instructions"]);
    assert!(a["mmu"]["l2"]["accesses"].as_u64().unwrap() > 0);
    assert_eq!(b["mmu"]["l2"]["accesses"].as_u64(), Some(0));
    assert!(a["mmu"].get("pwc").is_none());
    let fills = b["mmu"]["pwc"]["fills"].as_object().expect("pwc counters");
    assert!(fills.values().filter_map(|v| v.as_u64()).sum::<u64>() > 0);
    assert!(b["mmu"]["walks"].as_u64() > a["mmu"]["walks"].as_u64());
    // The counters before the point are the saving run's, whatever the geometry after.
    let (ba, bb) = (&a["before_snapshot"], &b["before_snapshot"]);
    for k in ["tlb_config", "instructions", "per_hart", "traps"] {
        assert_eq!(ba[k], bb[k], "before_snapshot.{k}");
    }
    let tlb_part = |mmu: &Value| -> Vec<Value> {
        ["l1i", "l1d", "l2", "walks", "pte_reads"]
            .iter()
            .map(|k| mmu[*k].clone())
            .collect()
    };
    assert_eq!(tlb_part(&ba["mmu"]), tlb_part(&bb["mmu"]));
    let phases = |r: &Value| -> Vec<(Value, Value, Vec<Value>)> {
        r["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].clone(),
                    p["instructions"].clone(),
                    tlb_part(&p["mmu"]),
                )
            })
            .collect()
    };
    assert_eq!(phases(ba), phases(bb));
}

#[test]
fn a_changed_disk_image_is_refused() {
    let dir = scratch("disk");
    let disk = dir.join("disk.img");
    std::fs::write(&disk, vec![0x5au8; 1 << 20]).unwrap();
    let snap = small_snapshot(&dir, &["--disk", "disk.img", "--snapshot"]);
    let out = restore(&dir, &snap, &["--max-insns", "1100000"]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    let mut data = std::fs::read(&disk).unwrap();
    data[4096] ^= 1;
    std::fs::write(&disk, &data).unwrap();
    common::assert_one_error_line(&restore(&dir, &snap, &[]), 1, "disk image");
}

#[test]
fn save_arguments_are_checked_before_the_run() {
    let dir = scratch("save-args");
    let out = emu(
        &dir,
        &strings(&[
            "run",
            "--save-at",
            "insn:1",
            "--save-at",
            "insn:2",
            "--save",
            "one.snap",
        ]),
    );
    common::assert_one_error_line(&out, 2, "{n}");
    let out = emu(
        &dir,
        &strings(&[
            "run",
            "--save-at",
            "no_such_symbol_here",
            "--save",
            "x.snap",
        ]),
    );
    common::assert_one_error_line(&out, 2, "unknown symbol");
    let out = emu(&dir, &strings(&["run", "--save-at", "insn:1"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!dir.join("x.snap").exists() && !dir.join("one.snap").exists());
}

/// A minimal gdb remote-protocol client: enough to ask where the hart stopped.
struct Rsp {
    s: std::net::TcpStream,
}

impl Rsp {
    fn byte(&mut self) -> u8 {
        use std::io::Read;
        let mut b = [0u8];
        self.s.read_exact(&mut b).expect("stub reply");
        b[0]
    }

    fn ask(&mut self, payload: &str) -> String {
        use std::io::Write;
        let sum = payload.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        write!(self.s, "${payload}#{sum:02x}").unwrap();
        assert_eq!(self.byte(), b'+');
        while self.byte() != b'$' {}
        let mut body = Vec::new();
        loop {
            match self.byte() {
                b'#' => break,
                b'*' => {
                    let n = self.byte() - 29;
                    let last = *body.last().unwrap();
                    body.extend(std::iter::repeat_n(last, n as usize));
                }
                b => body.push(b),
            }
        }
        self.byte();
        self.byte();
        self.s.write_all(b"+").unwrap();
        String::from_utf8(body).unwrap()
    }
}

#[test]
fn gdb_waits_at_the_snapshot_point() {
    use std::io::BufRead;
    let dir = scratch("gdb");
    let snap = small_snapshot(&dir, &[]);
    // Where the restored run starts: the pc of its first traced instruction.
    let out = restore(
        &dir,
        &snap,
        &[
            "--trace",
            "insn",
            "--trace-limit",
            "1",
            "--trace-file",
            "first.trace",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = std::fs::read_to_string(dir.join("first.trace")).unwrap();
    let pc = first
        .split_whitespace()
        .skip_while(|w| *w != "insn")
        .nth(1)
        .map(|h| u64::from_str_radix(h, 16).unwrap())
        .unwrap_or_else(|| panic!("no instruction in the trace: {first}"));

    let mut child = Command::new(EMU)
        .current_dir(&dir)
        .args(["run", "--restore", "s.snap", "--gdb", "0", "--gdb-wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("emu printed its gdb port").unwrap();
        if let Some(rest) = line.split("127.0.0.1:").nth(1) {
            break rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut rsp = Rsp { s };
    let stop = rsp.ask("?");
    assert!(
        stop.starts_with('T') || stop.starts_with('S'),
        "stop reply {stop}"
    );
    // Register 32 is the pc, little-endian hex.
    let reply = rsp.ask("p20");
    let bytes: Vec<u8> = (0..8)
        .map(|i| u8::from_str_radix(&reply[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let gdb_pc = u64::from_le_bytes(bytes.try_into().unwrap());
    assert_eq!(gdb_pc, pc, "gdb's stop is not the snapshot point");
    drop(rsp);
    let _ = child.kill();
    let _ = child.wait();
}

/// Debian's kernel and busybox initramfs, or `None` (after a note) when they are missing
/// outside CI.
fn debian_images() -> Option<(PathBuf, PathBuf)> {
    let base = std::env::var_os("EMU_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache"));
    let dir = base.join("debian");
    let (kernel, initrd) = (dir.join("Image"), dir.join("initramfs.cpio.gz"));
    if kernel.is_file() && initrd.is_file() {
        return Some((kernel, initrd));
    }
    let why = format!(
        "no Image and initramfs.cpio.gz in {} (scripts/fetch-debian-images makes them)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Debian images are required in CI: {why}");
    }
    eprintln!(
        "\n*** NOTE: Debian snapshot test NOT RUN ({why}; CI=true makes this a failure) ***\n"
    );
    None
}

#[test]
fn debian_boot_restored_runs_are_the_uninterrupted_run() {
    let Some((kernel, initrd)) = debian_images() else {
        return;
    };
    save_and_restore(
        "debian",
        &strings(&[
            "run",
            &kernel.display().to_string(),
            "--initrd",
            &initrd.display().to_string(),
            "--append",
            "console=ttyS0 earlycon=sbi emu.autotest=1",
        ]),
        &["insn:400000000", "insn:1000000000"],
        1_050_000_000,
    );
}

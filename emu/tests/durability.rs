//! Durability: SIGTERM or SIGINT in the middle of a run ends `emu` with status 130 and
//! leaves its files whole: every trace line is complete JSON, the statistics JSON exists
//! and parses, and a disk the guest was writing holds its writes (or, with --snapshot,
//! is untouched) at its original size.

mod common;

use common::{elf64, temp_file, Segment, DRAM, EM_RISCV, LOOP_FOREVER};
use emu::cpu::encode::{i_type, j_type, op, s_type};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXIT_INTERRUPTED: i32 = 130;

/// Start `emu run --bios none GUEST ARGS...` with stdin closed and stderr captured.
fn start(guest: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none", "-m", "16M"])
        .arg(guest)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start emu")
}

/// Let the guest run for `after`, send `signal`, and wait (bounded) for the exit.
/// Returns (status, stderr).
fn signal_after(mut child: Child, signal: &str, after: Duration) -> (Option<i32>, String) {
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "emu ended before the signal"
    );
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("emu did not stop within 30 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "emu panicked:\n{stderr}");
    (status.code(), stderr)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-durability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Every line of a JSON-lines file is a complete JSON object, the last one included.
/// Returns the number of lines.
fn assert_jsonl(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("trace file exists and is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the trace ends in a partial line: {:?}",
        &text[text.len().saturating_sub(200)..]
    );
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("trace line {} is not JSON ({e}): {line}", i + 1));
        assert!(
            v.is_object(),
            "trace line {} is not an object: {line}",
            i + 1
        );
    }
    text.lines().count()
}

fn assert_stats_json(path: &Path) {
    let text = std::fs::read_to_string(path).expect("the stats JSON was written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("the stats file parses");
    assert!(v.is_object(), "stats JSON is not an object: {text}");
}

fn interrupted_run_leaves_whole_trace_and_stats(signal: &str) {
    let guest = temp_file(
        &format!("loop-{signal}.elf"),
        &elf64(
            EM_RISCV,
            DRAM,
            &[Segment::code(DRAM, &[0x13, 0x13, LOOP_FOREVER])],
        ),
    );
    let trace = scratch(&format!("trace-{signal}.jsonl"));
    let stats = scratch(&format!("stats-{signal}.json"));
    let child = start(
        &guest,
        &[
            "--trace",
            "insn",
            "--trace-file",
            trace.to_str().unwrap(),
            "--trace-format",
            "jsonl",
            // Enough for the run to be mid-trace at the signal, bounded for the disk.
            "--trace-limit",
            "500000",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    );
    let (status, stderr) = signal_after(child, signal, Duration::from_millis(500));
    assert_eq!(status, Some(EXIT_INTERRUPTED), "SIG{signal}: {stderr}");
    assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
    assert_jsonl(&trace);
    assert_stats_json(&stats);
    let _ = std::fs::remove_file(&trace);
    let _ = std::fs::remove_file(&stats);
}

#[test]
fn sigterm_leaves_complete_trace_and_stats() {
    interrupted_run_leaves_whole_trace_and_stats("TERM");
}

#[test]
fn sigint_leaves_complete_trace_and_stats() {
    interrupted_run_leaves_whole_trace_and_stats("INT");
}

// ---------------------------------------------------------------- a guest that writes a disk

const VIRTIO0: u64 = 0x1000_1000;
const DESC: u64 = DRAM + 0x10000;
const AVAIL: u64 = DRAM + 0x11000;
const USED: u64 = DRAM + 0x12000;
const HEADER: u64 = DRAM + 0x13000;
const BUFFER: u64 = DRAM + 0x14000;
const STATUS: u64 = DRAM + 0x15000;
const SECTOR: u64 = 5;
const PATTERN: u8 = 0xc3;
const DISK_SECTORS: usize = 64;

const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;

/// `t0 = value` for any 64-bit value: 11 bits at a time (positive `ori` immediates).
fn li(code: &mut Vec<u32>, rd: u32, value: u64) {
    code.extend(emu::cpu::encode::load_immediate(rd, value));
}

/// Store the 32-bit `value` to virtio register `offset` of slot 0.
fn mmio_write(code: &mut Vec<u32>, offset: u64, value: u64) {
    li(code, T0, VIRTIO0 + offset);
    li(code, T1, value);
    code.push(s_type(op::STORE, 2, T0, T1, 0));
}

/// A bare-metal virtio-blk driver: sets up a queue whose only chain writes
/// PATTERN to sector SECTOR, then republishes and notifies that chain forever.
fn disk_writer() -> Vec<u8> {
    let mut code = Vec::new();
    mmio_write(&mut code, 0x70, 0);
    mmio_write(&mut code, 0x70, 1 | 2);
    mmio_write(&mut code, 0x24, 1);
    mmio_write(&mut code, 0x20, 1); // VIRTIO_F_VERSION_1
    mmio_write(&mut code, 0x70, 1 | 2 | 8);
    mmio_write(&mut code, 0x30, 0);
    // Four entries: the chain uses descriptors 0..3, and every avail slot holds head 0.
    mmio_write(&mut code, 0x38, 4);
    for (reg, addr) in [(0x80, DESC), (0x90, AVAIL), (0xa0, USED)] {
        mmio_write(&mut code, reg, addr & 0xffff_ffff);
        mmio_write(&mut code, reg + 4, addr >> 32);
    }
    mmio_write(&mut code, 0x44, 1);
    mmio_write(&mut code, 0x70, 1 | 2 | 8 | 4);
    li(&mut code, T0, AVAIL);
    li(&mut code, T2, VIRTIO0 + 0x50);
    let top = code.len();
    code.push(i_type(op::LOAD, T1, 5, T0, 2)); // lhu t1, 2(t0): avail.idx
    code.push(i_type(op::OP_IMM, T1, 0, T1, 1));
    code.push(s_type(op::STORE, 1, T0, T1, 2)); // sh t1, 2(t0)
    code.push(s_type(op::STORE, 2, T2, 0, 0)); // notify queue 0
    let back = -4 * (code.len() - top) as i32;
    code.push(j_type(op::JAL, 0, back));

    let mut data = vec![0u8; 0x6000];
    let put = |data: &mut Vec<u8>, addr: u64, bytes: &[u8]| {
        let off = (addr - DESC) as usize;
        data[off..off + bytes.len()].copy_from_slice(bytes);
    };
    let desc = |addr: u64, len: u32, flags: u16, next: u16| -> Vec<u8> {
        let mut d = addr.to_le_bytes().to_vec();
        d.extend_from_slice(&len.to_le_bytes());
        d.extend_from_slice(&flags.to_le_bytes());
        d.extend_from_slice(&next.to_le_bytes());
        d
    };
    let chain = [
        desc(HEADER, 16, 1, 1),
        desc(BUFFER, 512, 1, 2),
        desc(STATUS, 1, 2, 0),
    ]
    .concat();
    put(&mut data, DESC, &chain);
    let mut header = 1u32.to_le_bytes().to_vec(); // VIRTIO_BLK_T_OUT
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&SECTOR.to_le_bytes());
    put(&mut data, HEADER, &header);
    put(&mut data, BUFFER, &[PATTERN; 512]);

    let code_seg = Segment::code(DRAM, &code);
    let data_seg = Segment {
        addr: DESC,
        memsz: data.len() as u64,
        data,
    };
    elf64(EM_RISCV, DRAM, &[code_seg, data_seg])
}

fn disk_after_sigterm(snapshot: bool) -> Vec<u8> {
    let name = if snapshot { "snap" } else { "rw" };
    let guest = temp_file(&format!("disk-writer-{name}.elf"), &disk_writer());
    let disk = scratch(&format!("disk-{name}.img"));
    // A trailing partial sector: the guest cannot see it, and it must survive as is.
    let mut original = vec![0u8; DISK_SECTORS * 512];
    original.extend_from_slice(&[0x5a; 100]);
    std::fs::write(&disk, &original).unwrap();
    let mut args = vec!["--disk", disk.to_str().unwrap()];
    if snapshot {
        args.push("--snapshot");
    }
    let child = start(&guest, &args);
    let (status, stderr) = signal_after(child, "TERM", Duration::from_millis(500));
    assert_eq!(status, Some(EXIT_INTERRUPTED), "{stderr}");
    let after = std::fs::read(&disk).unwrap();
    assert_eq!(after.len(), original.len(), "the disk changed size");
    if snapshot {
        assert!(after == original, "--snapshot wrote to the disk file");
    }
    let _ = std::fs::remove_file(&disk);
    after
}

#[test]
fn disk_writes_are_in_the_file_after_sigterm() {
    let after = disk_after_sigterm(false);
    let s = SECTOR as usize * 512;
    assert!(
        after[s..s + 512].iter().all(|&b| b == PATTERN),
        "the guest's write of sector {SECTOR} is not in the file"
    );
    let untouched = after[..s]
        .iter()
        .chain(&after[s + 512..DISK_SECTORS * 512])
        .all(|&b| b == 0);
    assert!(untouched, "sectors the guest never wrote changed");
    assert!(after[DISK_SECTORS * 512..].iter().all(|&b| b == 0x5a));
}

#[test]
fn snapshot_disk_is_untouched_after_sigterm() {
    disk_after_sigterm(true);
}

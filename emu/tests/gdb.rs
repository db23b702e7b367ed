//! The gdb stub driven by Debian's `gdb-multiarch` in batch mode against the built-in
//! guest kernel: a breakpoint at the physical `relocate_enable_mmu`, single steps across
//! the trampoline's satp switch, monitor commands, and the guest's exit reported to gdb.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use emu::trace::symbols::{Image, Symbolizer};

mod common;

const EMU: &str = env!("CARGO_BIN_EXE_emu");
const GDB: &str = "gdb-multiarch";
const KERNEL_VA: u64 = 0xffff_ffff_8000_0000;

/// Whether gdb-multiarch can run here. CI must have it (scripts/setup installs it);
/// elsewhere the test says why it did nothing.
fn have_gdb() -> bool {
    let ok = Command::new(GDB)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{GDB} is missing in CI: scripts/setup must install it"
        );
        eprintln!("note: {GDB} not found; skipping the gdb test (run scripts/setup)");
    }
    ok
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-gdb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(EMU)
        .args(["images", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "emu images failed: {out:?}");
    dir
}

/// The physical address of a kernel symbol before the MMU is on.
fn physical_symbol(elf: &Path, name: &str) -> u64 {
    let data = std::fs::read(elf).unwrap();
    let mut syms = Symbolizer::default();
    syms.add(Image::from_elf("kernel", &data).unwrap());
    let addrs = syms.resolve(name);
    *addrs
        .iter()
        .find(|&&a| a < KERNEL_VA)
        .unwrap_or_else(|| panic!("no physical address for {name} in {addrs:x?}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// emu waiting for gdb, and its stderr lines as they come.
struct Emu {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Emu {
    /// The built-in kernel at its link address.
    fn start(port: u16) -> Emu {
        Self::start_with(port, &["--append", "nokaslr layout=top"])
    }

    fn start_with(port: u16, args: &[&str]) -> Emu {
        let mut child = Command::new(EMU)
            .args(["run", "--gdb", &port.to_string(), "--gdb-wait"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let emu = Emu { child, stderr: rx };
        // gdb fails at once if nobody listens yet.
        let line = emu
            .stderr
            .recv_timeout(Duration::from_secs(20))
            .expect("emu did not start listening");
        assert!(
            line.contains("waiting for gdb"),
            "unexpected first line: {line}"
        );
        emu
    }

    /// Exit status, waiting at most `secs`.
    fn wait(mut self, secs: u64) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("emu did not exit after the gdb session");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<String> = self.stderr.try_iter().collect();
        (status, rest.join("\n"))
    }
}

/// Run gdb-multiarch in batch mode with these commands, killing it after `secs`.
fn gdb_batch(dir: &Path, port: u16, commands: &[String], secs: u64) -> Output {
    let mut cmd = Command::new(GDB);
    cmd.current_dir(dir)
        .args(["-nx", "-batch"])
        .args(["-ex", "set architecture riscv:rv64"])
        .args(["-ex", "file guest-kernel.elf"])
        .args(["-ex", &format!("target remote :{port}")]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("{GDB} did not finish in {secs} s");
        }
    }
}

fn hex_after(text: &str, prefix: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(prefix)?;
        let word = rest.split_whitespace().next()?;
        u64::from_str_radix(word.trim_start_matches("0x"), 16).ok()
    })
}

#[test]
fn gdb_breaks_at_relocate_enable_mmu_and_steps_across_the_trampoline() {
    if !have_gdb() {
        return;
    }
    let dir = scratch_dir("trampoline");
    let bp = physical_symbol(&dir.join("guest-kernel.elf"), "relocate_enable_mmu");
    assert_eq!(bp & 0xffff_ffff_fff0_0000, 0x8020_0000, "{bp:#x}");
    let port = free_port();
    let emu = Emu::start(port);
    let started = Instant::now();
    let out = gdb_batch(
        &dir,
        port,
        &[
            format!("break *{bp:#x}"),
            "continue".into(),
            "info registers pc".into(),
            "stepi 20".into(),
            "info registers pc".into(),
            "monitor ptwalk 0xffffffff80000000".into(),
            "monitor satp".into(),
            "info threads".into(),
            "kill".into(),
        ],
        60,
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let (status, emu_err) = emu.wait(20);
    let context = format!("gdb said:\n{text}\nemu said:\n{emu_err}");

    assert!(
        text.contains(&format!("Breakpoint 1, {bp:#018x}")),
        "breakpoint not hit\n{context}"
    );
    // Two `info registers pc`: at the breakpoint, then after the steps.
    let pcs: Vec<u64> = text.lines().filter_map(|l| hex_after(l, "pc")).collect();
    assert_eq!(pcs.len(), 2, "{context}");
    assert_eq!(pcs[0], bp, "{context}");
    assert!(
        pcs[1] >= KERNEL_VA,
        "stepping did not cross the satp switch to a virtual pc ({:#x})\n{context}",
        pcs[1]
    );
    assert!(!text.contains("Cannot access memory"), "{context}");

    // The walk: every level from the root down to a leaf, in the trace's format.
    let walk: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("walk  ffffffff80000000 sv57"))
        .take_while(|l| l.starts_with("walk") || l.starts_with("  "))
        .collect();
    assert!(!walk.is_empty(), "no walk output\n{context}");
    let levels: Vec<&str> = walk
        .iter()
        .filter(|l| l.contains(" pte@0x"))
        .map(|l| l.trim_start().split(' ').next().unwrap())
        .collect();
    assert!(
        levels.len() >= 2 && levels[0] == "L4",
        "{levels:?}\n{context}"
    );
    assert!(
        walk.last().unwrap().contains("-> leaf L") && walk.last().unwrap().contains("pa=0x802"),
        "{context}"
    );

    let satp = text
        .lines()
        .find(|l| l.starts_with("hart 0: satp="))
        .unwrap_or_else(|| panic!("no satp line\n{context}"));
    assert!(satp.contains("mode=sv57"), "{satp}");
    let root = hex_after(satp.split(" root=").nth(1).unwrap_or(""), "").unwrap_or(0);
    assert!(root >= 0x8020_0000, "{satp}");
    assert!(
        satp.ends_with("_pg_dir)"),
        "root not named after the kernel's table: {satp}"
    );
    assert!(text.contains("Thread 1.1 (hart 0, S-mode)"), "{context}");

    assert_eq!(status, Some(130), "kill ends emu as interrupted\n{context}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the session took {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn guest_exit_is_reported_to_gdb_and_becomes_emus_status() {
    if !have_gdb() {
        return;
    }
    let dir = scratch_dir("exit");
    let port = free_port();
    let emu = Emu::start(port);
    let out = gdb_batch(
        &dir,
        port,
        &[
            "break kernel_main".into(),
            "continue".into(),
            "delete".into(),
            "continue".into(),
        ],
        60,
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let (status, emu_err) = emu.wait(20);
    let context = format!("gdb said:\n{text}\nemu said:\n{emu_err}");
    // The stop is reported (gdb may name an inlined frame at kernel_main's address, so
    // the frame's name is not checked).
    assert!(text.contains("Breakpoint 1 at 0xffffffff8"), "{context}");
    assert!(text.contains("Breakpoint 1, "), "{context}");
    assert!(
        text.contains("[Inferior 1 (process 1) exited normally]"),
        "{context}"
    );
    assert_eq!(status, Some(0), "{context}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A minimal remote-protocol client, for what gdb's batch mode cannot do (Ctrl-C) and to
/// look at exact replies.
struct Rsp {
    s: std::net::TcpStream,
}

impl Rsp {
    fn connect(port: u16) -> Rsp {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Rsp { s }
    }

    fn byte(&mut self) -> u8 {
        use std::io::Read;
        let mut b = [0u8];
        self.s.read_exact(&mut b).expect("stub reply");
        b[0]
    }

    fn send(&mut self, payload: &str) {
        use std::io::Write;
        let sum = payload.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        write!(self.s, "${payload}#{sum:02x}").unwrap();
        assert_eq!(self.byte(), b'+', "stub did not acknowledge {payload}");
    }

    fn reply(&mut self) -> String {
        while self.byte() != b'$' {}
        let mut body = Vec::new();
        loop {
            match self.byte() {
                b'#' => break,
                // Run-length encoding: repeat the previous byte (count - 29) more times.
                b'*' => {
                    let n = self.byte() - 29;
                    let last = *body.last().expect("a run follows a byte");
                    body.extend(std::iter::repeat_n(last, n as usize));
                }
                b => body.push(b),
            }
        }
        self.byte();
        self.byte();
        use std::io::Write;
        self.s.write_all(b"+").unwrap();
        String::from_utf8(body).unwrap()
    }

    fn ask(&mut self, payload: &str) -> String {
        self.send(payload);
        self.reply()
    }
}

#[test]
fn protocol_replies_registers_memory_and_ctrl_c() {
    // No gdb needed: this talks the remote protocol itself, to a guest that counts in a0
    // forever (so Ctrl-C always finds it running).
    let code = [0x0015_0513, 0xffdf_f06f]; // 1: addi a0, a0, 1; j 1b
    let elf = common::elf64(
        common::EM_RISCV,
        common::DRAM,
        &[common::Segment::code(common::DRAM, &code)],
    );
    let path = common::temp_file("gdb-count.elf", &elf);
    let port = free_port();
    let emu = Emu::start_with(port, &["--bios", "none", path.to_str().unwrap()]);
    let mut c = Rsp::connect(port);
    assert!(c.ask("?").starts_with('T'), "initial stop");
    // Reset state: M-mode at the boot ROM, translation off.
    assert_eq!(c.ask("p20"), "0010000000000000", "pc");
    assert_eq!(c.ask("p1041"), "0300000000000000", "priv");
    assert_eq!(c.ask("p1c1"), "0000000000000000", "satp");
    // The boot ROM's first instruction (auipc t0, 0) is readable; address 0 is nothing.
    assert_eq!(c.ask("m1000,4"), "97020000");
    assert!(
        c.ask("m0,4").starts_with('E'),
        "unbacked memory must be an error"
    );
    // Registers: x0..x31, pc, f0..f31.
    assert_eq!(c.ask("g").len(), 65 * 16);
    let out = c.ask(&format!("qRcmd,{}", hex("satp")));
    assert_eq!(
        unhex(out.strip_prefix('O').unwrap()),
        "hart 0: satp=0x0000000000000000 mode=bare (no translation)\n"
    );
    assert_eq!(c.reply(), "OK");
    let out = c.ask(&format!("qRcmd,{}", hex("ptwalk nope")));
    assert!(
        unhex(&out[1..]).starts_with("error: 'nope' is not a number"),
        "{out}"
    );
    assert_eq!(c.reply(), "OK");

    // RAM writes land and read back; the guest's code is intact.
    assert_eq!(c.ask("M80000008,4:78563412"), "OK");
    assert_eq!(c.ask("m80000000,c"), "130515006ff0dfff78563412");

    c.send("vCont;c");
    std::thread::sleep(Duration::from_millis(100));
    {
        use std::io::Write;
        c.s.write_all(&[0x03]).unwrap();
    }
    let stop = c.reply();
    assert!(
        stop.starts_with("T02"),
        "Ctrl-C must stop with SIGINT: {stop}"
    );
    let pc = c.ask("p20");
    assert!(
        pc == "0000008000000000" || pc == "0400008000000000",
        "stopped in the loop: {pc}"
    );
    assert_ne!(c.ask("pa"), "0000000000000000", "a0 counted");
    c.send("k");
    let (status, _) = emu.wait(20);
    assert_eq!(status, Some(130));
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn write_watchpoint_stops_after_the_store() {
    if !have_gdb() {
        return;
    }
    let dir = scratch_dir("watch");
    // kernel_map is filled in by setup_vm, before the MMU is on: watch it physically.
    let var = physical_symbol(&dir.join("guest-kernel.elf"), "kernel_map");
    let port = free_port();
    let emu = Emu::start(port);
    let out = gdb_batch(
        &dir,
        port,
        &[
            "set language c".into(),
            format!("watch *(long *){var:#x}"),
            "continue".into(),
            "info registers pc".into(),
            format!("x/gx {var:#x}"),
            "kill".into(),
        ],
        60,
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let (status, emu_err) = emu.wait(20);
    let context = format!("gdb said:\n{text}\nemu said:\n{emu_err}");
    assert!(text.contains("Hardware watchpoint 1"), "{context}");
    assert!(text.contains("Old value = 0"), "{context}");
    let new = text
        .lines()
        .find_map(|l| l.strip_prefix("New value = "))
        .unwrap_or_else(|| panic!("no new value\n{context}"));
    assert_ne!(new, "0", "{context}");
    // Stopped in the kernel's physical image, right after the store.
    let pc = text
        .lines()
        .find_map(|l| hex_after(l, "pc"))
        .unwrap_or_else(|| panic!("no pc\n{context}"));
    assert!(
        (0x8020_0000..0x8100_0000).contains(&pc),
        "{pc:#x}\n{context}"
    );
    assert_eq!(status, Some(130), "{context}");
    let _ = std::fs::remove_dir_all(&dir);
}

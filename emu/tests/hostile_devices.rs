//! Device work a guest asks for is bounded and interruptible: a virtio-blk request chain
//! that publishes its own successor forever, or one read of gigabytes, neither holds the
//! machine inside the notifying store. `--max-insns` and SIGTERM end such runs within a
//! second, memory stays bounded, and the guest still sees its requests complete, later.

mod common;
mod hostile;

use common::{elf64, temp_file, Segment, DRAM, EM_RISCV};
use emu::bus::{Ram, DRAM_BASE};
use emu::machine::{Machine, StopReason};
use hostile::{driver_program, reg, DriverPlan};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the scenarios put their rings (the program sits at the start of RAM).
const RINGS: u64 = DRAM_BASE + 0x1_0000;
const RINGS_LEN: u64 = 0x4000;

/// A file removed when the test ends.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn code_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// An ELF with the driver program at DRAM and the ring area as a second segment.
fn driver_elf(name: &str, plan: &DriverPlan, rings: &Ram) -> TempPath {
    let words = driver_program(plan);
    let off = rings.offset_of(RINGS, RINGS_LEN).unwrap();
    let segments = [
        Segment::code(DRAM, &words),
        Segment {
            addr: RINGS,
            data: rings.as_slice()[off..off + RINGS_LEN as usize].to_vec(),
            memsz: RINGS_LEN,
        },
    ];
    TempPath(temp_file(name, &elf64(EM_RISCV, DRAM, &segments)))
}

fn spawn_emu(elf: &Path, disk: &Path, ram: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none", "-m", ram])
        .arg(elf)
        .arg("--disk")
        .arg(disk)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start emu")
}

/// Peak resident memory of a running process, in KiB (0 once it has gone).
fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) a live process has used so far, from /proc/PID/stat. The
/// limits below are stated in it rather than in wall time: on a loaded machine a process
/// can wait seconds for a core, which says nothing about how soon emu stops working.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Wait for `child` for at most `limit` (killing it and failing the test after that);
/// returns its status, stderr, the CPU time it used (last sample before it exited) and
/// the largest VmHWM seen meanwhile.
fn wait_bounded(
    name: &str,
    mut child: Child,
    limit: Duration,
) -> (Option<i32>, String, Duration, u64) {
    let start = Instant::now();
    let mut hwm = 0;
    let mut cpu = Duration::ZERO;
    let status = loop {
        hwm = hwm.max(vm_hwm_kib(child.id()));
        cpu = cpu.max(cpu_time(child.id()));
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: emu still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        !stderr.contains("panicked"),
        "{name}: emu panicked:\n{stderr}"
    );
    (status.code(), stderr, cpu, hwm)
}

/// The self-publishing chain (see `hostile::self_publishing_chain`) as an ELF, and its
/// disk.
fn self_publishing_guest(name: &str) -> (TempPath, TempPath) {
    let mut rings = Ram::new(DRAM_BASE, 1 << 20);
    let plan = hostile::self_publishing_chain(&mut rings, RINGS);
    let elf = driver_elf(&format!("{name}.elf"), &plan, &rings);
    let disk = TempPath(temp_file(
        &format!("{name}.img"),
        &hostile::self_publishing_disk(),
    ));
    (elf, disk)
}

/// The scenario is real: run in-process, the device keeps completing requests the chain
/// publishes for itself (the used index climbs far past the queue's four entries) while
/// the run still ends at its instruction limit, a bounded piece of device work per slice
/// of guest time.
#[test]
fn self_publishing_chain_keeps_publishing_while_the_run_stays_bounded() {
    let mut rings = Ram::new(DRAM_BASE, 1 << 20);
    let plan = hostile::self_publishing_chain(&mut rings, RINGS);
    let disk = TempPath(temp_file(
        "self-publishing-inproc.img",
        &hostile::self_publishing_disk(),
    ));
    let mut m = hostile::virtio_machine(&disk.0, false);
    let off = rings.offset_of(RINGS, RINGS_LEN).unwrap();
    assert!(m
        .ram()
        .load(RINGS, &rings.as_slice()[off..off + RINGS_LEN as usize]));
    assert!(m.ram().load(DRAM_BASE, &code_bytes(&driver_program(&plan))));
    m.harts[0].pc = DRAM_BASE;
    let limit = 20_000_000;
    assert_eq!(m.run(Some(limit)), StopReason::InsnLimit);
    assert!(m.total_insns <= limit);
    let completed = m.ram().read(plan.used + 2, 2).unwrap();
    let published = m.ram().read(plan.avail + 2, 2).unwrap();
    assert!(
        completed > 100,
        "the chain stopped publishing after {completed} requests"
    );
    assert_eq!(
        published,
        (completed + 1) & 0xffff,
        "each completion publishes exactly the next request"
    );
}

/// Before: the notify store served requests until the ring was empty, which this chain
/// never lets happen, so the store never returned and `--max-insns` was never checked.
#[test]
fn self_publishing_chain_stops_at_max_insns_within_a_second() {
    let (elf, disk) = self_publishing_guest("self-publishing-limit");
    let child = spawn_emu(&elf.0, &disk.0, "16M", &["--max-insns", "1000000"]);
    let (status, err, cpu, _) = wait_bounded("self-publishing", child, Duration::from_secs(30));
    assert_eq!(status, Some(124), "{err}");
    assert!(err.contains("--max-insns"), "{err}");
    assert!(cpu < Duration::from_secs(1), "used {cpu:?} of CPU");
}

/// The same guest without a limit: the first SIGTERM ends it (status 130) within a
/// second, with the usual message.
#[test]
fn self_publishing_chain_stops_on_the_first_sigterm() {
    let (elf, disk) = self_publishing_guest("self-publishing-sigterm");
    let child = spawn_emu(&elf.0, &disk.0, "16M", &[]);
    // Let the guest reach its notify and the device start on the endless chain.
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_time(child.id());
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill")
            .success(),
        "emu was gone before the signal"
    );
    let (status, err, cpu, _) = wait_bounded("sigterm", child, Duration::from_secs(30));
    assert_eq!(status, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let after = cpu.saturating_sub(before);
    assert!(
        after < Duration::from_secs(1),
        "used {after:?} of CPU after SIGTERM"
    );
}

/// One read request of 254 buffers of 16 MiB each (all the same 16 MiB of guest RAM), so
/// 4064 MiB from a sparse 4 GiB disk. Before: served inside the notify store, seconds
/// long, past any `--max-insns`. Now: served a bounded piece per slice of guest time,
/// so the limit ends the run at once, and memory stays within guest RAM plus a little.
#[test]
fn four_gib_read_request_is_served_in_pieces() {
    const BUFFER: u64 = DRAM_BASE + (32 << 20);
    const BUFFER_LEN: u32 = 16 << 20;
    const DATA_DESCS: u64 = 254;
    let mut rings = Ram::new(DRAM_BASE, 1 << 20);
    let desc = RINGS;
    let avail = RINGS + 0x1000;
    let used = RINGS + 0x2000;
    let header = RINGS + 0x3000;
    let status = RINGS + 0x3100;
    let mut put_desc = |i: u64, addr: u64, len: u32, flags: u16, next: u16| {
        let d = desc + 16 * i;
        rings.write(d, 8, addr);
        rings.write(d + 8, 4, len as u64);
        rings.write(d + 12, 2, flags as u64);
        rings.write(d + 14, 2, next as u64);
    };
    put_desc(0, header, 16, 1, 1);
    for i in 1..=DATA_DESCS {
        put_desc(i, BUFFER, BUFFER_LEN, 1 | 2, (i + 1) as u16);
    }
    put_desc(DATA_DESCS + 1, status, 1, 2, 0);
    rings.write(header, 4, 0); // read from sector 0
    rings.write(avail + 2, 2, 1);
    rings.write(avail + 4, 2, 0);
    let plan = DriverPlan {
        slot: 0,
        queue_size: 256,
        desc,
        avail,
        used,
        notify_forever: false,
    };
    let elf = driver_elf("huge-read.elf", &plan, &rings);
    let disk = TempPath(temp_file("huge-read.img", b""));
    std::fs::File::options()
        .write(true)
        .open(&disk.0)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let child = spawn_emu(&elf.0, &disk.0, "64M", &["--max-insns", "200000"]);
    let (code, err, cpu, hwm) = wait_bounded("huge-read", child, Duration::from_secs(60));
    assert_eq!(code, Some(124), "{err}");
    assert!(cpu < Duration::from_secs(1), "used {cpu:?} of CPU");
    // Guest RAM (64 MiB) is the most the transfer may touch; allow the emulator's own
    // footprint on top, far below the 4 GiB moved.
    assert!(hwm < 256 << 10, "peak RSS {hwm} KiB");
}

/// A 12 MiB read (192 buffers of 64 KiB over one guest buffer) on a machine driven from
/// the test: the notify store returns with the request still in progress, the device
/// finishes it in later polls as guest time passes, without another notify, and then
/// publishes it in the used ring with the right length, status and data, and raises its
/// interrupt.
#[test]
fn large_request_completes_in_later_polls_without_another_notify() {
    const SECTORS: u64 = 12 << 11; // 12 MiB
    const DATA_DESCS: u64 = 192;
    let disk_path = TempPath(temp_file("large-read.img", b""));
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::options()
            .write(true)
            .open(&disk_path.0)
            .unwrap();
        f.set_len(SECTORS * 512).unwrap();
        // The last 64 KiB of the disk ends up in the buffer: mark it.
        f.write_all_at(&[0x5a; 65536], SECTORS * 512 - 65536)
            .unwrap();
    }
    let mut m = hostile::virtio_machine(&disk_path.0, false);
    let (desc, avail, used, header, status, buffer) = (
        RINGS,
        RINGS + 0x1000,
        RINGS + 0x2000,
        RINGS + 0x3000,
        RINGS + 0x3100,
        RINGS + 0x4000,
    );
    let ram = m.ram();
    let mut put_desc = |i: u64, addr: u64, len: u32, flags: u16, next: u16| {
        let d = desc + 16 * i;
        ram.write(d, 8, addr);
        ram.write(d + 8, 4, len as u64);
        ram.write(d + 12, 2, flags as u64);
        ram.write(d + 14, 2, next as u64);
    };
    put_desc(0, header, 16, 1, 1);
    for i in 1..=DATA_DESCS {
        put_desc(i, buffer, 65536, 1 | 2, (i + 1) as u16);
    }
    put_desc(DATA_DESCS + 1, status, 1, 2, 0);
    ram.write(status, 1, 0xff);
    ram.write(avail + 2, 2, 1);
    hostile::virtio_setup(&mut m, 0, 256, desc, avail, used);
    hostile::virtio_write(&mut m, 0, reg::QUEUE_NOTIFY, 0);
    let used_idx = |m: &mut Machine| m.ram().read(used + 2, 2).unwrap();
    assert_eq!(
        used_idx(&mut m),
        0,
        "a 12 MiB request finished inside the notify store"
    );
    assert!(m.bus.devices_have_pending_work());
    let mut now = 0;
    let mut polls = 0;
    while used_idx(&mut m) == 0 {
        polls += 1;
        assert!(polls < 1000, "the request never completed");
        now += 410; // one 4096-instruction quantum of guest time
        m.bus.poll_devices(now);
    }
    assert!(
        polls >= 5,
        "done in {polls} polls: the pieces are not bounded"
    );
    assert!(!m.bus.devices_have_pending_work());
    assert_eq!(m.ram().read(used + 8, 4), Some(SECTORS * 512 + 1));
    assert_eq!(m.ram().read(status, 1), Some(0));
    assert_eq!(m.ram().read(buffer, 8), Some(0x5a5a_5a5a_5a5a_5a5a));
    assert_eq!(
        hostile::virtio_read(&mut m, 0, 0x060) & 1,
        1,
        "no used-buffer interrupt"
    );
}

/// A guest that notifies and then sleeps in WFI with nothing to wake it: the machine
/// lets guest time pass until the device has finished (the request completes), and only
/// then reports that every hart waits forever.
#[test]
fn sleeping_guest_is_not_a_deadlock_while_the_device_works() {
    const SECTORS: u64 = 8 << 11; // 8 MiB
    let disk_path = TempPath(temp_file("sleeping.img", b""));
    std::fs::File::options()
        .write(true)
        .open(&disk_path.0)
        .unwrap()
        .set_len(SECTORS * 512)
        .unwrap();
    let mut m = hostile::virtio_machine(&disk_path.0, false);
    let (desc, avail, used, header, status, buffer) = (
        RINGS,
        RINGS + 0x1000,
        RINGS + 0x2000,
        RINGS + 0x3000,
        RINGS + 0x3100,
        RINGS + 0x4000,
    );
    let ram = m.ram();
    let mut put_desc = |i: u64, addr: u64, len: u32, flags: u16, next: u16| {
        let d = desc + 16 * i;
        ram.write(d, 8, addr);
        ram.write(d + 8, 4, len as u64);
        ram.write(d + 12, 2, flags as u64);
        ram.write(d + 14, 2, next as u64);
    };
    put_desc(0, header, 16, 1, 1);
    for i in 1..=128 {
        put_desc(i, buffer, 65536, 1 | 2, (i + 1) as u16);
    }
    put_desc(129, status, 1, 2, 0);
    ram.write(avail + 2, 2, 1);
    let plan = DriverPlan {
        slot: 0,
        queue_size: 256,
        desc,
        avail,
        used,
        notify_forever: false,
    };
    let mut code = driver_program(&plan);
    // Replace the final spin with `wfi; j -4`.
    code.pop();
    code.push(0x1050_0073);
    hostile::asm::j(&mut code, -4);
    assert!(m.ram().load(DRAM_BASE, &code_bytes(&code)));
    m.harts[0].pc = DRAM_BASE;
    assert_eq!(m.run(Some(10_000_000)), StopReason::Deadlock);
    assert_eq!(
        m.ram().read(used + 2, 2),
        Some(1),
        "the request was not finished"
    );
    assert_eq!(m.ram().read(used + 8, 4), Some(SECTORS * 512 + 1));
}

//! Debian's riscv64 Linux 6.12 boots on emu to the busybox initramfs that
//! `scripts/fetch-debian-images` builds: in Sv39, Sv48 and Sv57 with the built-in
//! firmware, once through Debian's OpenSBI, on two harts, with an ext4 virtio disk whose
//! writes survive into a second boot, with a shell driven through the console, and with
//! Debian's dynamically linked (glibc) `date` reading the clock under both firmwares, and
//! with Debian's `perf stat` counting instructions through the SBI PMU under both.
//!
//! The images come from the script (run once per test process; it downloads nothing when
//! its cache is complete) or, when it fails, from what an earlier run left in
//! `$EMU_CACHE/debian` (default `.cache/debian`). With neither, the tests fail when
//! `CI=true` and otherwise print a note and pass, for a developer without network.
//!
//! A Linux boot is about 1.1 G instructions (the disk test's drivers add 2.7 G), so
//! every run has a `--max-insns` guard: a hang fails the test instead of blocking CI.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;
#[path = "common/console_reader.rs"]
mod console_reader;
use console_reader::ConsoleReader;

/// Room for a boot without drivers (1.1 G instructions) plus a wide margin.
const BOOT_LIMIT: &str = "4000000000";
/// Room for a boot that also loads the virtio and ext4 modules (3.8 G).
const DISK_BOOT_LIMIT: &str = "8000000000";
/// Room for a boot from the perf initramfs (2.3 G: the kernel inflates 44 MB of it).
const PERF_BOOT_LIMIT: &str = "8000000000";
const EXIT_INSN_LIMIT: i32 = 124;

struct Images {
    kernel: PathBuf,
    initrd: PathBuf,
    /// `initrd` plus Debian's dynamically linked (glibc) `date` and `sleep`.
    glibc_initrd: PathBuf,
    /// `glibc_initrd` plus Debian's perf and the shared libraries it loads.
    perf_initrd: PathBuf,
    opensbi: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ sits in the repository root")
        .to_path_buf()
}

fn cache_dir() -> PathBuf {
    let base = std::env::var_os("EMU_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"));
    base.join("debian")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The Debian images, or `None` (after a loud note) when they cannot be had outside CI.
fn images() -> Option<&'static Images> {
    static IMAGES: OnceLock<Result<Images, String>> = OnceLock::new();
    let found = IMAGES.get_or_init(|| {
        let script = repo_root().join("scripts").join("fetch-debian-images");
        let fetched = Command::new(&script)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .output();
        let dir = cache_dir();
        let images = Images {
            kernel: dir.join("Image"),
            initrd: dir.join("initramfs.cpio.gz"),
            glibc_initrd: dir.join("initramfs-glibc.cpio.gz"),
            perf_initrd: dir.join("initramfs-perf.cpio.gz"),
            opensbi: dir.join("fw_jump.bin"),
        };
        let complete = [
            &images.kernel,
            &images.initrd,
            &images.glibc_initrd,
            &images.perf_initrd,
            &images.opensbi,
        ]
        .iter()
        .all(|p| p.is_file());
        match fetched {
            Ok(out) if out.status.success() && complete => Ok(images),
            Ok(out) if complete => {
                eprintln!(
                    "note: {} failed; using the images already in {}:\n{}",
                    script.display(),
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                Ok(images)
            }
            Ok(out) => Err(format!(
                "{} failed and {} lacks Image, initramfs.cpio.gz, initramfs-glibc.cpio.gz, \
                 initramfs-perf.cpio.gz or fw_jump.bin:\n{}",
                script.display(),
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) if complete => {
                eprintln!(
                    "note: cannot run {}: {e}; using {}",
                    script.display(),
                    dir.display()
                );
                Ok(images)
            }
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    });
    match found {
        Ok(images) => Some(images),
        Err(why) if in_ci() => panic!("Debian images are required in CI: {why}"),
        Err(why) => {
            eprintln!(
                "\n*** NOTE: Linux boot test NOT RUN (no Debian images; CI=true makes this a \
                 failure) ***\n{why}\n"
            );
            None
        }
    }
}

fn emu_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emu"))
}

/// Arguments for booting the Debian kernel and initramfs with `append` as the command line.
fn linux_args(images: &Images, append: &str, limit: &str) -> Vec<String> {
    linux_args_with_initrd(images, &images.initrd, append, limit)
}

fn linux_args_with_initrd(
    images: &Images,
    initrd: &Path,
    append: &str,
    limit: &str,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    args.push(images.kernel.display().to_string());
    args.push("--initrd".into());
    args.push(initrd.display().to_string());
    args.push("--append".into());
    args.push(append.into());
    args.push("--max-insns".into());
    args.push(limit.into());
    // Instruction counts only: the TLB model would make every boot ~5x slower.
    args.push("--stats=basic".into());
    args
}

struct Boot {
    status: Option<i32>,
    console: String,
    stderr: String,
    wall: Duration,
}

impl Boot {
    fn describe(&self) -> String {
        format!(
            "exit status {:?} after {:.1} s\n--- console ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.wall.as_secs_f64(),
            self.console,
            self.stderr
        )
    }

    fn assert_line(&self, line: &str) {
        assert!(
            self.console.lines().any(|l| l.trim_end() == line),
            "no line {line:?} on the console; {}",
            self.describe()
        );
    }

    /// A clean power-off, with the console free of the kernel's alarms.
    fn assert_clean_poweroff(&self) {
        assert_ne!(
            self.status,
            Some(EXIT_INSN_LIMIT),
            "the boot hit its --max-insns guard (a hang?); {}",
            self.describe()
        );
        assert_eq!(self.status, Some(0), "{}", self.describe());
        for alarm in [
            "Kernel panic",
            "Oops",
            "BUG:",
            "WARNING:",
            "Unable to handle",
        ] {
            assert!(
                !self.console.contains(alarm),
                "the kernel reported {alarm:?}; {}",
                self.describe()
            );
        }
    }
}

fn boot(images: &Images, append: &str, limit: &str, extra: &[&str]) -> Boot {
    boot_initrd(images, &images.initrd, append, limit, extra)
}

fn boot_initrd(images: &Images, initrd: &Path, append: &str, limit: &str, extra: &[&str]) -> Boot {
    boot_with_env(images, initrd, append, limit, extra, &[])
}

fn boot_with_env(
    images: &Images,
    initrd: &Path,
    append: &str,
    limit: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Boot {
    let start = Instant::now();
    let out: Output = emu_command()
        .envs(env.iter().copied())
        .args(linux_args_with_initrd(images, initrd, append, limit))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run emu");
    let boot = Boot {
        status: out.status.code(),
        console: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall: start.elapsed(),
    };
    // Boot times are part of what these tests watch (CI budget); `--nocapture` shows them.
    let insns = (boot.console.lines().chain(boot.stderr.lines()))
        .find(|l| l.starts_with("instructions"))
        .unwrap_or("instructions ?");
    eprintln!(
        "boot {extra:?}: {:.1} s, {}",
        boot.wall.as_secs_f64(),
        insns.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    boot
}

const AUTOTEST: &str = "console=ttyS0 earlycon=sbi emu.autotest=1";

fn boots_to_init(mode: &str, extra: &[&str]) {
    let Some(images) = images() else { return };
    let mut args = vec![mode];
    args.extend_from_slice(extra);
    let b = boot(images, AUTOTEST, BOOT_LIMIT, &args);
    b.assert_clean_poweroff();
    b.assert_line("emu-initramfs: /init reached");
    b.assert_line(&format!("emu-initramfs: mmu : {}", &mode[2..]));
    b.assert_line("emu-initramfs: harts online 1");
}

#[test]
fn sv39_builtin_firmware() {
    boots_to_init("--sv39", &[]);
}

#[test]
fn sv48_builtin_firmware() {
    boots_to_init("--sv48", &[]);
}

#[test]
fn sv57_builtin_firmware() {
    boots_to_init("--sv57", &[]);
}

#[test]
fn sv39_debian_opensbi() {
    let Some(images) = images() else { return };
    let opensbi = images.opensbi.display().to_string();
    boots_to_init("--sv39", &["--bios", &opensbi]);
}

#[test]
fn two_harts_come_online() {
    let Some(images) = images() else { return };
    let b = boot(images, AUTOTEST, BOOT_LIMIT, &["--smp", "2"]);
    b.assert_clean_poweroff();
    b.assert_line("emu-initramfs: /init reached");
    b.assert_line("emu-initramfs: harts online 2");
}

/// Runs the initramfs's glibc test (`emu.glibctest=1`): Debian's coreutils `date`, linked
/// dynamically against glibc, reads the clock through the vDSO (the `time` CSR read in
/// U-mode, which traps unless the firmware's `scounteren` allows it) before and after
/// `sleep 0.1`. Checks that the programs ran and that the clock moved by the sleep.
fn glibc_reads_the_clock(images: &Images, extra: &[&str]) -> Boot {
    let append = format!("{AUTOTEST} emu.glibctest=1");
    let b = boot_initrd(images, &images.glibc_initrd, &append, BOOT_LIMIT, extra);
    b.assert_clean_poweroff();
    b.assert_line("emu-initramfs: ld.so --list date: status 0");
    assert!(
        b.console.lines().any(|l| l.starts_with(
            "emu-initramfs: date links libc.so.6 => /lib/riscv64-linux-gnu/libc.so.6"
        )),
        "date is not shown linked against glibc's libc.so.6; {}",
        b.describe()
    );
    let clock = |which: &str| -> f64 {
        let prefix = format!("emu-initramfs: date {which}: status 0 value ");
        let line = b.console.lines().find(|l| l.starts_with(&prefix));
        let value = line.and_then(|l| l[prefix.len()..].trim().parse::<f64>().ok());
        value.unwrap_or_else(|| panic!("date {which} the sleep failed; {}", b.describe()))
    };
    let (before, after) = (clock("before"), clock("after"));
    b.assert_line("emu-initramfs: sleep 0.1: status 0");
    assert!(
        after - before >= 0.1 && after - before < 10.0,
        "the clock moved {:.3} s over sleep 0.1; {}",
        after - before,
        b.describe()
    );
    b
}

/// The kernel's lines about the SBI firmware (spec version, extensions found or not, the
/// PMU driver), timestamps dropped; the implementation ID line is left out.
fn sbi_report(b: &Boot) -> Vec<String> {
    let mut lines: Vec<String> = b
        .console
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, text)| text.trim_end()))
        .filter(|t| {
            (t.starts_with("SBI ") && !t.starts_with("SBI implementation ID"))
                || t.starts_with("riscv-pmu-sbi: ")
                || t.contains("PMU implementation")
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Issue 19: glibc programs read the clock in U-mode under the built-in firmware (it sets
/// `scounteren.TM` as OpenSBI does) as under Debian's OpenSBI, and Linux reports the same
/// SBI extensions under both, the PMU among them: cycle and instret plus 16 firmware
/// counters. The two boots run side by side.
#[test]
fn glibc_reads_the_clock_and_sbi_matches_opensbi() {
    let Some(images) = images() else { return };
    let opensbi = images.opensbi.display().to_string();
    let (builtin, reference) = std::thread::scope(|s| {
        let builtin = s.spawn(|| glibc_reads_the_clock(images, &["--sv39"]));
        let reference = s.spawn(|| glibc_reads_the_clock(images, &["--sv39", "--bios", &opensbi]));
        (builtin.join(), reference.join())
    });
    let (builtin, reference) = match (builtin, reference) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    for line in [
        "riscv-pmu-sbi: SBI PMU extension is available",
        "riscv-pmu-sbi: 16 firmware and 2 hardware counters",
    ] {
        assert!(
            builtin.console.contains(line),
            "no {line:?} in the boot log; {}",
            builtin.describe()
        );
    }
    assert_eq!(
        sbi_report(&builtin),
        sbi_report(&reference),
        "the kernel reports different SBI services under the built-in firmware (left) and \
         Debian's OpenSBI (right)"
    );
}

/// One `perf stat -x,` result of the initramfs's perf test (`emu.perftest=1`): the
/// instructions counted for the command `name`, after checking the line is a real count
/// over the whole run (not `<not supported>` or `<not counted>`, counter enabled 100%).
fn perf_instructions(b: &Boot, name: &str) -> u64 {
    b.assert_line(&format!("emu-initramfs: perf stat {name}: status 0"));
    let prefix = format!("emu-initramfs: perf stat {name}: ");
    let line = b
        .console
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .find(|l| l.contains(",instructions,"))
        .unwrap_or_else(|| {
            panic!(
                "perf stat {name} printed no instructions line; {}",
                b.describe()
            )
        });
    // value,unit,event,run time,percentage enabled,...
    let fields: Vec<&str> = line.trim_end().split(',').collect();
    let count = fields[0].parse::<u64>().unwrap_or_else(|_| {
        panic!(
            "perf stat {name} counted no instructions ({line:?}); {}",
            b.describe()
        )
    });
    assert_eq!(
        fields.get(4).copied(),
        Some("100.00"),
        "perf stat {name} had the counter enabled for part of the run only ({line:?}); {}",
        b.describe()
    );
    count
}

/// Boots the perf initramfs and returns the instructions perf counted for `/bin/true` and
/// for a busybox shell loop of 1000 iterations.
fn perf_counts_instructions(images: &Images, extra: &[&str]) -> (u64, u64) {
    let append = format!("{AUTOTEST} emu.perftest=1");
    let b = boot_initrd(images, &images.perf_initrd, &append, PERF_BOOT_LIMIT, extra);
    b.assert_clean_poweroff();
    assert!(
        b.console
            .contains("riscv-pmu-sbi: SBI PMU extension is available"),
        "Linux found no SBI PMU; {}",
        b.describe()
    );
    let (true_count, loop_count) = (perf_instructions(&b, "true"), perf_instructions(&b, "loop"));
    // exec, static busybox's start-up and exit are some 10^5 instructions (user and
    // kernel: without Sscofpmf nothing filters by mode); each loop iteration adds thousands.
    assert!(
        (10_000..50_000_000).contains(&true_count),
        "perf counted {true_count} instructions for /bin/true; {}",
        b.describe()
    );
    assert!(
        loop_count > true_count + 1_000_000 && loop_count < 1_000_000_000,
        "perf counted {loop_count} instructions for 1000 loop iterations ({true_count} for \
         true); {}",
        b.describe()
    );
    (true_count, loop_count)
}

/// Issue 19: Debian's `perf stat -e instructions` counts through Linux's SBI PMU driver
/// under the built-in firmware (instret, started and stopped by SBI calls, read by S-mode
/// as the `instret` CSR) as under Debian's OpenSBI, and both count about the same.
#[test]
fn perf_stat_counts_instructions_under_both_firmwares() {
    let Some(images) = images() else { return };
    let opensbi = images.opensbi.display().to_string();
    let (builtin, reference) = std::thread::scope(|s| {
        let builtin = s.spawn(|| perf_counts_instructions(images, &["--sv39"]));
        let reference =
            s.spawn(|| perf_counts_instructions(images, &["--sv39", "--bios", &opensbi]));
        (builtin.join(), reference.join())
    });
    let (builtin, reference) = match (builtin, reference) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    eprintln!("perf stat instructions (true, loop): built-in {builtin:?}, OpenSBI {reference:?}");
    // The counts include kernel and M-mode work (interrupts, SBI calls), which differs
    // between the firmwares, but the same commands must come out within a factor of two.
    for (what, b, r) in [
        ("true", builtin.0, reference.0),
        ("loop", builtin.1, reference.1),
    ] {
        assert!(
            b < 2 * r && r < 2 * b,
            "perf counted {b} instructions for {what} under the built-in firmware but {r} \
             under Debian's OpenSBI"
        );
    }
}

/// e2fsprogs' tool `name`, or `None` (with a note) outside CI when it is not installed.
fn e2fsprogs_tool(name: &str) -> Option<PathBuf> {
    let found = ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(!in_ci(), "{name} (Debian e2fsprogs) is required in CI");
        eprintln!("\n*** NOTE: ext4 disk test NOT RUN: {name} (e2fsprogs) not found ***\n");
    }
    found
}

fn run_tool(tool: &Path, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect("cannot run");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        tool.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An ext4 image made on the host is mounted by the guest, which prints a file from it and
/// appends a line; a second boot (another mode, Debian's OpenSBI) sees that line, and the
/// host finds both lines and a clean file system afterwards.
#[test]
fn ext4_disk_written_then_read_back_after_reboot() {
    let Some(images) = images() else { return };
    let (Some(mkfs), Some(debugfs), Some(fsck)) = (
        e2fsprogs_tool("mkfs.ext4"),
        e2fsprogs_tool("debugfs"),
        e2fsprogs_tool("e2fsck"),
    ) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("emu-linux-disk-{}", std::process::id()));
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("emu-disktest.log"), "prefilled by the host\n").unwrap();
    let disk = dir.join("disk.img");
    let _ = std::fs::remove_file(&disk);
    let disk_arg = disk.display().to_string();
    run_tool(
        &mkfs,
        &["-q", "-d", &content.display().to_string(), &disk_arg, "8M"],
    );

    let append = format!("{AUTOTEST} emu.disktest=1");
    let first = boot(
        images,
        &append,
        DISK_BOOT_LIMIT,
        &["--sv39", "--disk", &disk_arg],
    );
    first.assert_clean_poweroff();
    first.assert_line("emu-initramfs: disk mounted");
    first.assert_line("emu-initramfs: disk log: prefilled by the host");
    first.assert_line("emu-initramfs: disk unmounted");

    let opensbi = images.opensbi.display().to_string();
    let second = boot(
        images,
        &append,
        DISK_BOOT_LIMIT,
        &["--sv57", "--bios", &opensbi, "--disk", &disk_arg],
    );
    second.assert_clean_poweroff();
    second.assert_line("emu-initramfs: disk log: prefilled by the host");
    second.assert_line("emu-initramfs: disk log: written by the guest as line 2");
    second.assert_line("emu-initramfs: disk unmounted");

    let log = run_tool(&debugfs, &["-R", "cat /emu-disktest.log", &disk_arg]);
    assert_eq!(
        log,
        "prefilled by the host\nwritten by the guest as line 2\n\
         written by the guest as line 3\n"
    );
    run_tool(&fsck, &["-f", "-n", &disk_arg]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The busybox shell reads commands typed on emu's standard input (here a pipe, as the
/// UART takes any stdin) and runs them; `poweroff -f` typed there ends emu with status 0.
#[test]
fn interactive_shell_on_the_console() {
    let Some(images) = images() else { return };
    let mut child = emu_command()
        .args(linux_args(images, "console=ttyS0", BOOT_LIMIT))
        .arg("--sv48")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run emu");
    let mut stdin = child.stdin.take().unwrap();
    let mut console = ConsoleReader::new(child.stdout.take().unwrap());
    let stderr = child.stderr.take().unwrap();
    // Generous: the max-insns guard ends a hung guest long before this on any host.
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut converse = || -> Result<(), String> {
        let banner = console.wait_for("built-in shell (ash)", 0, deadline)?;
        let prompt = console.wait_for("# ", banner, deadline)?;
        // The shell echoes what it reads, so look for the answer, not the command.
        stdin
            .write_all(b"echo answer=$((6 * 7)) $(grep -c ^processor /proc/cpuinfo)\n")
            .map_err(|e| e.to_string())?;
        let answered = console.wait_for("answer=42 1", prompt, deadline)?;
        stdin
            .write_all(b"poweroff -f\n")
            .map_err(|e| e.to_string())?;
        console.wait_for("reboot: Power down", answered, deadline)?;
        Ok(())
    };
    let conversation = converse();
    if conversation.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().expect("waiting for emu");
    let mut err = String::new();
    let _ = { stderr }.read_to_string(&mut err);
    if let Err(why) = conversation {
        panic!("{why}\n--- stderr ---\n{err}");
    }
    assert_eq!(status.code(), Some(0), "stderr:\n{err}");
}

/// The instruction count from `--stats` output.
fn instruction_count(boot: &Boot) -> String {
    boot.stderr
        .lines()
        .find(|l| l.starts_with("instructions"))
        .unwrap_or_else(|| panic!("no instruction count; {}", boot.describe()))
        .to_string()
}

/// Issue 10: the same inputs give the same run — five Debian boots, identical console
/// output (timestamps included: time follows retired instructions) and instruction counts.
#[test]
fn debian_boots_are_deterministic() {
    let Some(images) = images() else { return };
    let first = boot(images, AUTOTEST, BOOT_LIMIT, &["--sv39"]);
    first.assert_clean_poweroff();
    for run in 2..=5 {
        let again = boot(images, AUTOTEST, BOOT_LIMIT, &["--sv39"]);
        assert_eq!(
            instruction_count(&again),
            instruction_count(&first),
            "run {run}: instruction count differs"
        );
        assert_eq!(
            again.console, first.console,
            "run {run}: console output differs"
        );
    }
}

/// The statistics lines of a boot that must not depend on how it was run: everything but
/// the host's figures and the JIT's own report.
fn counts(b: &Boot) -> Vec<String> {
    b.stderr
        .lines()
        .filter(|l| !common::host_stats_line(l) && !l.starts_with("jit "))
        .map(str::to_string)
        .collect()
}

/// Boot with `--sv39` (the reference, which must power off cleanly) and with `--sv39`
/// plus `flags`: the console, instruction counts per privilege and traps must agree.
/// Returns the second run.
fn assert_boot_matches_reference(images: &Images, flags: &[&str]) -> Boot {
    let reference = boot(images, AUTOTEST, BOOT_LIMIT, &["--sv39", "--interp"]);
    reference.assert_clean_poweroff();
    let args: Vec<&str> = ["--sv39"].iter().chain(flags).copied().collect();
    let other = boot(images, AUTOTEST, BOOT_LIMIT, &args);
    assert!(counts(&reference).iter().any(|l| l.starts_with("traps:")));
    assert_eq!(
        counts(&reference),
        counts(&other),
        "{flags:?}: statistics differ"
    );
    assert_eq!(
        reference.console, other.console,
        "{flags:?}: console output differs"
    );
    other
}

/// Issue 9: the fast paths change nothing: a Debian boot with them and one with
/// `--no-fast-path` (reference loop, full MMU path on every access) print the same
/// console, the same instruction counts per privilege and the same traps.
#[test]
fn debian_boot_identical_without_fast_paths() {
    let Some(images) = images() else { return };
    assert_boot_matches_reference(images, &["--no-fast-path"]);
}

/// Issue 9: the default engine, which compiles hot blocks, changes nothing either: a
/// Debian boot with compiled blocks prints the same console, instruction counts per
/// privilege and traps as the interpreter (`--interp`), and did compile blocks.
#[test]
fn debian_boot_identical_with_jit() {
    let Some(images) = images() else { return };
    let jit = assert_boot_matches_reference(images, &[]);
    assert!(
        jit.stderr
            .lines()
            .any(|l| l.starts_with("jit hart 0") && !l.contains(" 0 blocks")),
        "the --jit boot compiled nothing:\n{}",
        jit.stderr
    );
}

/// Between quanta the machine polls devices and delivers interrupts; while the devices
/// are idle a lone hart runs long quanta, and their length must be invisible to the
/// guest. Quanta of 997 instructions start in the middle of timer ticks and end next to
/// page faults and system calls; the boot must still take the same traps at the same
/// instruction counts (the timer's deadline ends a quantum exactly, and `time` counts
/// the instructions that trapped as well as those that retired) and print the same
/// console, timestamps included.
#[test]
fn debian_boot_identical_whatever_the_quantum() {
    let Some(images) = images() else { return };
    let trace = |name: &str| {
        std::env::temp_dir().join(format!("emu-quantum-{}-{name}.jsonl", std::process::id()))
    };
    let run = |name: &str, env: &[(&str, &str)]| {
        let path = trace(name);
        let path_arg = path.display().to_string();
        let b = boot_with_env(
            images,
            &images.initrd,
            AUTOTEST,
            BOOT_LIMIT,
            &[
                "--trace",
                "trap",
                "--trace-format",
                "jsonl",
                "--trace-file",
                &path_arg,
            ],
            env,
        );
        let traps = std::fs::read_to_string(&path).expect("the trap trace");
        let _ = std::fs::remove_file(&path);
        (b, traps)
    };
    let (long, long_traps) = run("long", &[]);
    long.assert_clean_poweroff();
    let (short, short_traps) = run("short", &[("EMU_IDLE_QUANTUM", "997")]);
    assert!(long_traps.lines().count() > 1000, "{long_traps}");
    let first_difference = long_traps
        .lines()
        .zip(short_traps.lines())
        .find(|(a, b)| a != b);
    assert_eq!(first_difference, None, "the traps differ");
    assert_eq!(long_traps.lines().count(), short_traps.lines().count());
    assert_eq!(counts(&long), counts(&short), "statistics differ");
    assert_eq!(long.console, short.console, "console output differs");
}

/// Issue 7: SIGTERM in the middle of a traced Linux boot leaves a complete trace (every
/// line valid JSON) and the statistics, and exits with 130.
#[test]
fn sigterm_during_a_traced_linux_boot_leaves_a_complete_trace() {
    let Some(images) = images() else { return };
    let dir = std::env::temp_dir().join(format!("emu-linux-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("boot.jsonl");
    let stats = dir.join("stats.json");
    let mut child = emu_command()
        .args(linux_args(images, AUTOTEST, BOOT_LIMIT))
        .args([
            "--sv48",
            "--trace",
            "satp,trap,sbi,mode",
            "--trace-format",
            "jsonl",
            "--trace-file",
        ])
        .arg(&trace)
        .arg("--stats-json")
        .arg(&stats)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run emu");
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: plain kill(2) on the child's pid; no memory is involved.
    let rc = unsafe { libc_kill(child.id() as i32, 15) };
    assert_eq!(rc, 0, "kill failed");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "SIGTERM ends the run with 130");
    let text = std::fs::read_to_string(&trace).expect("trace file exists");
    assert!(
        text.lines().count() > 100,
        "the boot got somewhere before the signal"
    );
    assert!(text.ends_with('\n'), "the last line is complete");
    for line in text.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "incomplete line: {line}"
        );
        assert!(line.contains("\"kind\":"), "not an event: {line}");
    }
    let stats_text = std::fs::read_to_string(&stats).expect("stats written on SIGTERM");
    assert!(stats_text.contains("\"instructions\""), "{stats_text}");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

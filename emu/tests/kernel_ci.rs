//! Boot-testing a kernel in CI: `emu run --expect/--fail-on/--timeout/--no-reboot` and
//! `emu test`, with Debian's riscv64 kernel and the busybox initramfs of
//! `scripts/fetch-debian-images`.
//!
//! The images come from `$EMU_CACHE/debian` (default `.cache/debian`); when something is
//! missing the script is run once to fetch it. Without them the tests fail when
//! `CI=true` and otherwise print a note and pass, as `linux_boot.rs` does. Every run has
//! a `--max-insns` guard so that a hang fails instead of blocking CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A boot is about 1.1 G instructions; two boots and a wide margin.
const GUARD: &str = "6000000000";
const EXIT_GUEST_RESET: i32 = 120;
const EXIT_FAIL_PATTERN: i32 = 121;
const EXIT_EXPECT_UNMET: i32 = 122;
const EXIT_TIMEOUT: i32 = 123;

struct Images {
    kernel: PathBuf,
    initrd: PathBuf,
    cache: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ sits in the repository root")
        .to_path_buf()
}

fn cache_base() -> PathBuf {
    std::env::var_os("EMU_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What `emu test` needs besides the kernel: busybox and the kernel's modules.
fn missing(dir: &Path) -> Vec<PathBuf> {
    [
        dir.join("Image"),
        dir.join("initramfs.cpio.gz"),
        dir.join("root/busybox/usr/bin/busybox"),
        dir.join("root/kernel/usr/lib/modules"),
    ]
    .into_iter()
    .filter(|p| !p.exists())
    .collect()
}

fn images() -> Option<&'static Images> {
    static IMAGES: OnceLock<Result<Images, String>> = OnceLock::new();
    let found = IMAGES.get_or_init(|| {
        let dir = cache_base().join("debian");
        if !missing(&dir).is_empty() {
            let script = repo_root().join("scripts").join("fetch-debian-images");
            let out = Command::new(&script)
                .current_dir(repo_root())
                .stdin(Stdio::null())
                .output();
            let still = missing(&dir);
            if !still.is_empty() {
                let why = match out {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => format!("cannot run {}: {e}", script.display()),
                };
                return Err(format!(
                    "{} missing after {}:\n{why}",
                    still[0].display(),
                    script.display()
                ));
            }
        }
        Ok(Images {
            kernel: dir.join("Image"),
            initrd: dir.join("initramfs.cpio.gz"),
            cache: cache_base(),
        })
    });
    match found {
        Ok(images) => Some(images),
        Err(why) if in_ci() => panic!("Debian images are required in CI: {why}"),
        Err(why) => {
            eprintln!(
                "\n*** NOTE: kernel CI test NOT RUN (no Debian images; CI=true makes this a \
                 failure) ***\n{why}\n"
            );
            None
        }
    }
}

fn emu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emu"));
    c.stdin(Stdio::null());
    c
}

/// `emu run` of Debian's kernel and busybox initramfs with `append`, plus `extra`.
fn boot(images: &Images, append: &str, extra: &[&str]) -> Output {
    boot_with(emu(), images, append, extra)
}

fn boot_with(mut cmd: Command, images: &Images, append: &str, extra: &[&str]) -> Output {
    cmd.arg("run")
        .arg(&images.kernel)
        .arg("--initrd")
        .arg(&images.initrd)
        .args(["--append", append, "--max-insns", GUARD])
        .args(extra);
    cmd.output().expect("emu runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout (end) ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        tail(&text(&out.stdout)),
        text(&out.stderr)
    )
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn expect_stops_the_run_with_status_0_once_every_pattern_was_seen_in_order() {
    let Some(images) = images() else { return };
    // Without --expect this boot would go on to a shell waiting on the console forever.
    let out = boot(
        images,
        "console=ttyS0",
        &[
            "--expect",
            r"Run /init as init\s+process",
            "--expect",
            "emu-initramfs: /init reached\n",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("emu-initramfs: /init reached"),
        "{}",
        describe(&out)
    );
    // Stopped at once: /init's next line never came.
    assert!(!stdout.contains("harts online"), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("emu: the console showed every --expect pattern; exit status 0"),
        "{}",
        describe(&out)
    );
}

#[test]
fn expectations_out_of_order_are_unmet_when_the_guest_powers_off() {
    let Some(images) = images() else { return };
    let out = boot(
        images,
        "console=ttyS0 emu.autotest=1",
        &[
            "--expect",
            "emu-initramfs: /init reached",
            "--expect",
            "Run /init as init",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_EXPECT_UNMET),
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains(
            "emu: the guest powered off (status 0) before the console showed --expect 'Run /init as init'; exit status 122"
        ),
        "{}",
        describe(&out)
    );
}

#[test]
fn fail_on_stops_with_its_status_and_prints_the_matching_line() {
    let Some(images) = images() else { return };
    let out = boot(
        images,
        "console=ttyS0 emu.autotest=1",
        &["--fail-on", "harts online [0-9]+"],
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_FAIL_PATTERN),
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains(
            "emu: --fail-on 'harts online [0-9]+' matched: emu-initramfs: harts online 1; exit status 121"
        ),
        "{}",
        describe(&out)
    );
    assert!(
        !text(&out.stdout).contains("autotest done"),
        "{}",
        describe(&out)
    );
}

#[test]
fn timeout_ends_a_two_hart_boot_that_would_otherwise_wait_forever() {
    let Some(images) = images() else { return };
    // Console input stays open and nothing is typed: the shell would wait forever (the
    // guard aside). Two harts; the entropy device works during the boot.
    let mut cmd = emu();
    cmd.stdin(Stdio::piped());
    let start = Instant::now();
    cmd.arg("run")
        .arg(&images.kernel)
        .arg("--initrd")
        .arg(&images.initrd)
        .args([
            "--append",
            "console=ttyS0",
            "--smp",
            "2",
            "--timeout",
            "4s",
            "--max-insns",
            GUARD,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("emu starts");
    // Keep stdin open until emu has ended.
    let out = child.wait_with_output().expect("emu runs");
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(EXIT_TIMEOUT), "{}", describe(&out));
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert!(
        text(&out.stderr).contains("emu: --timeout 4s reached after "),
        "{}",
        describe(&out)
    );
}

#[test]
fn no_reboot_ends_the_run_at_the_guest_reset_that_would_otherwise_reboot() {
    let Some(images) = images() else { return };
    // /init exits at once, the kernel panics and, with panic=-1, resets the board.
    let append = "console=ttyS0 panic=-1 rdinit=/bin/busybox";
    let out = boot(images, append, &["--no-reboot"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_GUEST_RESET),
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("emu: the guest reset the board (--no-reboot); exit status 120"),
        "{}",
        describe(&out)
    );
    assert_eq!(text(&out.stdout).matches("emu-sbi: firmware").count(), 1);
    // Without --no-reboot the same guest boots again (the expectations span the reboot).
    let out = boot(
        images,
        append,
        &[
            "--expect",
            "emu-sbi: firmware",
            "--expect",
            "emu-sbi: firmware",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("emu: guest reset #1, rebooting"),
        "{}",
        describe(&out)
    );
}

/// `emu test` with a private cache for what it generates, and a 5-minute bound.
fn emu_test(images: &Images, args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("emu-kernel-ci-{}", std::process::id()));
    let mut cmd = emu();
    cmd.env("EMU_CACHE", &images.cache)
        .env("XDG_CACHE_HOME", &home)
        .arg("test")
        .arg("--kernel")
        .arg(&images.kernel)
        .args(["--timeout", "5m"])
        .args(args);
    cmd.output().expect("emu runs")
}

#[test]
fn emu_test_exits_with_the_command_status_and_streams_its_output() {
    let Some(images) = images() else { return };
    let out = emu_test(
        images,
        &["--", "/bin/sh", "-c", "echo 'it'\\''s the guest'; exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stdout = text(&out.stdout);
    // The guest's tty turns \n into \r\n.
    assert!(stdout.contains("it's the guest\r\n"), "{}", describe(&out));
    assert!(stdout.contains("emu-test: exit 3"), "{}", describe(&out));
    let out = emu_test(images, &["--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn emu_test_share_carries_files_both_ways_and_the_status_back() {
    let Some(images) = images() else { return };
    let dir = std::env::temp_dir().join(format!("emu-kernel-ci-share-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("greeting"), "hello from the host\n").unwrap();
    let out = emu_test(
        images,
        &[
            "--share",
            dir.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "cat greeting; echo written by the guest > fromguest; exit 4",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        text(&out.stdout).contains("hello from the host"),
        "the guest did not read the host file:\n{}",
        describe(&out)
    );
    let back = std::fs::read_to_string(dir.join("fromguest"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        back.as_deref().ok(),
        Some("written by the guest\n"),
        "{}",
        describe(&out)
    );
}

#[test]
fn emu_test_loads_modules_with_the_dependencies_their_metadata_names() {
    let Some(images) = images() else { return };
    // 9p needs netfs and 9pnet (depends= in its .modinfo); 9pnet_virtio needs 9pnet. The
    // virtio-mmio transport is no symbol dependency: a share names it explicitly.
    let out = emu_test(
        images,
        &[
            "--module",
            "9p",
            "--module",
            "virtio_mmio",
            "--",
            "cut",
            "-d ",
            "-f1",
            "/proc/modules",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    for m in ["netfs", "9pnet", "9p", "virtio_mmio"] {
        assert!(
            stdout.lines().any(|l| l.trim_end() == m),
            "{m} not loaded\n{}",
            describe(&out)
        );
    }
    assert!(
        !stdout.lines().any(|l| l.trim_end() == "9pnet_virtio"),
        "{}",
        describe(&out)
    );
}

#[test]
fn emu_test_reports_a_kernel_panic_with_its_status() {
    let Some(images) = images() else { return };
    let out = emu_test(
        images,
        &["--", "/bin/sh", "-c", "echo c > /proc/sysrq-trigger"],
    );
    assert_eq!(
        out.status.code(),
        Some(EXIT_FAIL_PATTERN),
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("emu: the guest failed before the command's status: ")
            && text(&out.stderr).contains("Kernel panic - not syncing"),
        "{}",
        describe(&out)
    );
}

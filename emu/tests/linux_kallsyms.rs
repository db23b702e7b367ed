//! The symbols emu recovers from Debian's stripped Linux Image (its kallsyms tables, see
//! emu/src/trace/kallsyms.rs) are the ones the running kernel reports: the guest's own
//! /proc/kallsyms, printed by an initramfs, is the reference.
//!
//! The initramfs is the one `scripts/fetch-debian-images` builds, with a second, small
//! uncompressed archive appended whose /init replaces the first one's: Linux unpacks
//! concatenated archives in turn, a later file overwriting an earlier one. That /init
//! prints a sample of /proc/kallsyms (every 97th line and a few named symbols) and
//! powers off. Without the Debian images the test fails when `CI=true` and otherwise
//! prints a note and passes, as emu/tests/linux_boot.rs does.

use emu::initramfs::newc::NewcWriter;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A boot to the init below and back is about 1 G instructions.
const BOOT_LIMIT: &str = "4000000000";

/// Symbols the test names: text (core and .init), data, read-only data and BSS.
const NAMED: &[&str] = &[
    "_start",
    "_text",
    "start_kernel",
    "handle_mm_fault",
    "do_sys_openat2",
    "init_task",
    "linux_banner",
    "swapper_pg_dir",
    "modules",
    "bpf_int_jit_compile",
];

fn cache_dir() -> PathBuf {
    let base = std::env::var_os("EMU_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("emu/ sits in the repository root")
                .join(".cache")
        });
    base.join("debian")
}

fn debian_images() -> Option<(PathBuf, PathBuf)> {
    let dir = cache_dir();
    let (kernel, initrd) = (dir.join("Image"), dir.join("initramfs.cpio.gz"));
    if kernel.is_file() && initrd.is_file() {
        return Some((kernel, initrd));
    }
    let why = format!(
        "{} lacks Image or initramfs.cpio.gz (run scripts/fetch-debian-images)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Debian images are required in CI: {why}");
    }
    eprintln!("\n*** NOTE: kallsyms test NOT RUN (CI=true makes this a failure) ***\n{why}\n");
    None
}

/// Debian's initramfs followed by an archive whose /init prints kallsyms lines.
fn kallsyms_initrd(base: &Path) -> PathBuf {
    let names = NAMED.join("|");
    let init = format!(
        "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         echo 0 >/proc/sys/kernel/kptr_restrict\n\
         /bin/busybox awk 'NR % 97 == 1 || $3 ~ /^({names})$/ {{ print \"emu-kallsyms: \" $0 }}' /proc/kallsyms\n\
         echo emu-kallsyms: done\n\
         /bin/busybox poweroff -f\n"
    );
    let mut rd = std::fs::read(base).expect("read the Debian initramfs");
    // An appended uncompressed archive must start on a 4-byte boundary.
    while !rd.len().is_multiple_of(4) {
        rd.push(0);
    }
    let mut extra = NewcWriter::new(900_001);
    extra.file("init", 0o755, init.as_bytes());
    rd.extend(extra.finish());
    let path = std::env::temp_dir().join(format!("emu-kallsyms-{}.cpio", std::process::id()));
    std::fs::write(&path, rd).expect("write the test initramfs");
    path
}

/// (address, type letter, name) from `emu-kallsyms: ffffffff80000000 T _start` lines;
/// module symbols (a `[module]` column) are not in the Image and are skipped.
fn guest_lines(console: &str) -> Vec<(u64, char, String)> {
    console
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("emu-kallsyms: "))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?.chars().next()?;
            let name = f.next()?.to_string();
            f.next().is_none().then_some((addr, kind, name))
        })
        .collect()
}

#[test]
fn symbols_from_the_image_match_the_guests_proc_kallsyms() {
    let Some((kernel, base_initrd)) = debian_images() else {
        return;
    };
    let image = std::fs::read(&kernel).expect("read the Image");
    let table = emu::trace::kallsyms::find(&image).expect("kallsyms tables in Debian's Image");
    let ours: HashSet<(u64, char, &str)> = table
        .symbols
        .iter()
        .map(|s| (s.addr, s.kind, s.name.as_str()))
        .collect();

    let initrd = kallsyms_initrd(&base_initrd);
    let trace = std::env::temp_dir().join(format!("emu-kallsyms-{}.trace", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("run")
        .arg(&kernel)
        .arg("--initrd")
        .arg(&initrd)
        .args([
            "--append",
            "console=ttyS0",
            "--sv39",
            "--max-insns",
            BOOT_LIMIT,
        ])
        .args(["--trace", "insn", "--trace-from", "start_kernel"])
        .args(["--trace-limit", "3", "--trace-file"])
        .arg(&trace)
        .arg("--stats")
        .output()
        .expect("run emu");
    let _ = std::fs::remove_file(&initrd);
    let console = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        console.contains("emu-kallsyms: done"),
        "the guest did not print its kallsyms (status {:?}):\n{console}\n{stderr}",
        out.status
    );

    // Every line the guest printed is a symbol read from the Image, at the address the
    // running kernel reports (this kernel is not relocatable, so the runtime address is
    // the link address).
    let guest = guest_lines(&console);
    assert!(guest.len() > 500, "too few kallsyms lines: {}", guest.len());
    let missing: Vec<_> = guest
        .iter()
        .filter(|(a, k, n)| !ours.contains(&(*a, *k, n.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} guest symbols not recovered from the Image, e.g. {:x?}",
        missing.len(),
        guest.len(),
        &missing[..missing.len().min(5)]
    );
    for name in NAMED {
        assert!(
            guest.iter().any(|(_, _, n)| n == name),
            "the guest did not print {name}"
        );
    }

    // The trace names the instructions at start_kernel's runtime address, and the
    // --stats phases are named by the kernel's page tables.
    let start_kernel = guest
        .iter()
        .find(|(_, _, n)| n == "start_kernel")
        .map(|(a, _, _)| *a)
        .expect("start_kernel printed");
    let text = std::fs::read_to_string(&trace).expect("read the trace");
    let _ = std::fs::remove_file(&trace);
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.contains(&format!("{start_kernel:016x}"))
            && first.trim_end().ends_with("start_kernel"),
        "first traced instruction is not start_kernel at {start_kernel:#x}: {first}"
    );
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.contains("start_kernel+0x")),
        "second traced instruction not named start_kernel+off:\n{text}"
    );
    for phase in [
        "sv39 early_pg_dir",
        "sv39 trampoline_pg_dir",
        "sv39 swapper_pg_dir",
    ] {
        assert!(
            stderr.contains(phase),
            "--stats lacks phase '{phase}':\n{stderr}"
        );
    }
}

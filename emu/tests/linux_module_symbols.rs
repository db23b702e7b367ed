//! A loaded Linux module is named from its own `.ko` once the guest has said where its
//! sections are (`--symbols-module`, see docs/trace-format.md): Debian's kernel loads
//! test_bpf from its kernel package and prints /sys/module/test_bpf/sections/ and the
//! module's lines of /proc/kallsyms; every symbol the running kernel reports for the
//! module is named the same by the symbols read from test_bpf.ko.xz at those addresses,
//! and a second boot (the emulator is deterministic, so the module lands at the same
//! place) opens a trace window at a module function by name.
//!
//! Like emu/tests/linux_kallsyms.rs, without the Debian images (scripts/fetch-debian-images)
//! the test fails when `CI=true` and otherwise prints a note and passes.

use emu::initramfs::newc::NewcWriter;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A boot to the init below, one test of test_bpf and back is about 1.3 G instructions.
const BOOT_LIMIT: &str = "4000000000";

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

/// The Image, the initramfs and test_bpf.ko.xz from the kernel package.
fn debian_files() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let dir = cache_dir();
    let (kernel, initrd) = (dir.join("Image"), dir.join("initramfs.cpio.gz"));
    let module = std::fs::read_dir(dir.join("root/kernel/usr/lib/modules"))
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(|v| v.ok())
                .map(|v| v.path().join("kernel/lib/test_bpf.ko.xz"))
                .find(|p| p.is_file())
        });
    if let (true, true, Some(module)) = (kernel.is_file(), initrd.is_file(), module) {
        return Some((kernel, initrd, module));
    }
    let why = format!(
        "{} lacks Image, initramfs.cpio.gz or the kernel package's test_bpf.ko.xz \
         (run scripts/fetch-debian-images)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("Debian images are required in CI: {why}");
    }
    eprintln!(
        "\n*** NOTE: module symbols test NOT RUN (CI=true makes this a failure) ***\n{why}\n"
    );
    None
}

/// Debian's initramfs followed by an archive (its /init replaces the first one's) that
/// loads test_bpf with one test and prints where the module is.
fn module_initrd(base: &Path, module: &Path) -> PathBuf {
    let init = "#!/bin/busybox sh\n\
         /bin/busybox mount -t proc proc /proc\n\
         /bin/busybox mkdir -p /sys\n\
         /bin/busybox mount -t sysfs sysfs /sys\n\
         echo 0 >/proc/sys/kernel/kptr_restrict\n\
         /bin/busybox xzcat /lib/modules/test_bpf.ko.xz >/tmp/test_bpf.ko\n\
         /bin/busybox insmod /tmp/test_bpf.ko test_suite=test_bpf test_range=0,0\n\
         cd /sys/module/test_bpf/sections\n\
         for s in $(/bin/busybox ls -a); do [ -f \"$s\" ] && echo \"emu-module: $s $(/bin/busybox cat $s)\"; done\n\
         cd /\n\
         /bin/busybox awk '$4 == \"[test_bpf]\" && $3 !~ /^[.$]/ { print \"emu-modsym: \" $0 }' /proc/kallsyms\n\
         echo emu-module: done\n\
         /bin/busybox poweroff -f\n";
    let mut rd = std::fs::read(base).expect("read the Debian initramfs");
    while !rd.len().is_multiple_of(4) {
        rd.push(0);
    }
    let ko = std::fs::read(module).expect("read test_bpf.ko.xz");
    let mut extra = NewcWriter::new(900_001);
    extra.file("lib/modules/test_bpf.ko.xz", 0o644, &ko);
    extra.file("init", 0o755, init.as_bytes());
    rd.extend(extra.finish());
    let path = std::env::temp_dir().join(format!("emu-modsyms-{}.cpio", std::process::id()));
    std::fs::write(&path, rd).expect("write the test initramfs");
    path
}

fn boot(kernel: &Path, initrd: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_emu"))
        .arg("run")
        .arg(kernel)
        .arg("--initrd")
        .arg(initrd)
        .args([
            "--append",
            "console=ttyS0 loglevel=4",
            "--sv39",
            "--max-insns",
            BOOT_LIMIT,
        ])
        .args(extra)
        .output()
        .expect("run emu");
    let console = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        console.contains("emu-module: done"),
        "the guest did not get through its init (status {:?}):\n{console}\n{stderr}",
        out.status
    );
    (console, stderr)
}

/// (section, address) from `emu-module: .text 0xffffffff01234000` lines.
fn sections(console: &str) -> Vec<(String, u64)> {
    console
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("emu-module: "))
        .filter_map(|l| {
            let (name, addr) = l.split_once(' ')?;
            let addr = u64::from_str_radix(addr.trim().strip_prefix("0x")?, 16).ok()?;
            Some((name.to_string(), addr))
        })
        .collect()
}

/// address -> names, from `emu-modsym: ffffffff0123abcd t name\t[test_bpf]` lines. The
/// guest leaves out local labels (`.L0`) and RISC-V mapping symbols (`$x...`), which mark
/// places in code rather than name them.
fn module_kallsyms(console: &str) -> HashMap<u64, Vec<String>> {
    let mut out: HashMap<u64, Vec<String>> = HashMap::new();
    for l in console
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("emu-modsym: "))
    {
        let mut f = l.split_whitespace();
        let (Some(addr), Some(_kind), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(addr) = u64::from_str_radix(addr, 16) {
            out.entry(addr).or_default().push(name.to_string());
        }
    }
    out
}

#[test]
fn module_symbols_match_the_guests_kallsyms_and_name_a_trace() {
    let Some((kernel, base_initrd, module)) = debian_files() else {
        return;
    };
    let initrd = module_initrd(&base_initrd, &module);
    let (console, _) = boot(&kernel, &initrd, &[]);
    let placed = sections(&console);
    for want in [".text", ".init.text", ".data"] {
        assert!(
            placed.iter().any(|(s, _)| s == want),
            "the guest did not print the address of {want}:\n{console}"
        );
    }
    let guest = module_kallsyms(&console);
    assert!(
        guest.len() > 20,
        "too few test_bpf symbols in /proc/kallsyms: {}\n{console}",
        guest.len()
    );

    // Every address the running kernel names in the module is named the same from the
    // .ko's symbol table at the reported section addresses.
    let ko = emu::initramfs::deb::xz_decompress(&std::fs::read(&module).unwrap()).unwrap();
    let mut symbols = emu::trace::symbols::Symbolizer::default();
    for im in emu::trace::symbols::Image::from_module("test_bpf.ko", &ko, &placed)
        .expect("test_bpf.ko parses")
    {
        symbols.add(im);
    }
    let wrong: Vec<_> = guest
        .iter()
        .filter(|(addr, names)| !names.contains(&symbols.describe(**addr)))
        .map(|(addr, names)| (format!("{addr:#x}"), names, symbols.describe(*addr)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} module addresses named differently, e.g. {:?}",
        wrong.len(),
        guest.len(),
        &wrong[..wrong.len().min(5)]
    );

    // The command line: a second boot places the module at the same addresses, and a
    // trace window opens at the module's init function, named in the trace.
    let spec = format!(
        "{}@{}",
        module.display(),
        placed
            .iter()
            .map(|(s, a)| format!("{s}={a:#x}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let trace = std::env::temp_dir().join(format!("emu-modsyms-{}.jsonl", std::process::id()));
    let (again, _) = boot(
        &kernel,
        &initrd,
        &[
            "--symbols-module",
            &spec,
            "--trace",
            "insn",
            "--trace-format",
            "jsonl",
            "--trace-from",
            "__run_one",
            "--trace-limit",
            "2000",
            "--trace-file",
            trace.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_file(&initrd);
    assert_eq!(
        sections(&again),
        placed,
        "the module moved in the second boot"
    );
    let text = std::fs::read_to_string(&trace).expect("read the trace");
    let _ = std::fs::remove_file(&trace);
    let syms: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|e| e["kind"] == "insn")
        .map(|e| e["sym"].as_str().unwrap_or("").to_string())
        .collect();
    // __run_one (in .text) runs a test's compiled program; the guest's kallsyms has it.
    assert!(
        guest.values().flatten().any(|n| n == "__run_one"),
        "the guest's kallsyms lacks __run_one"
    );
    assert_eq!(
        syms.first().map(String::as_str),
        Some("__run_one"),
        "the trace does not open at __run_one"
    );
    assert!(
        syms.iter().any(|s| s.starts_with("__run_one+0x")),
        "the instructions after __run_one's first are not named __run_one+off"
    );
}

/// Wrong `--symbols-module` arguments are one clear line each, before anything runs.
#[test]
fn symbols_module_errors_name_the_problem() {
    let emu = env!("CARGO_BIN_EXE_emu");
    let run = |spec: &str| {
        let out = Command::new(emu)
            .args(["run", "--symbols-module", spec, "--max-insns", "1000"])
            .output()
            .expect("run emu");
        assert!(!out.status.success(), "{spec} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let no_at = run("test_bpf.ko");
    assert!(no_at.contains("is not KO@ADDR"), "{no_at}");
    let bad_addr = run("test_bpf.ko@.text=0xzz");
    assert!(bad_addr.contains("is not a number"), "{bad_addr}");
    let missing = run("/nonexistent/test_bpf.ko@0xffffffff01000000");
    assert!(
        missing.contains("cannot read the module /nonexistent/test_bpf.ko"),
        "{missing}"
    );
    // An executable ELF is not a module: its symbols are not section offsets.
    let not_module = run(&format!("{emu}@0xffffffff01000000"));
    assert!(not_module.contains("not a kernel module"), "{not_module}");
}

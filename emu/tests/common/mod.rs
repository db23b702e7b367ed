//! Helpers shared by the integration tests: building the conformance programs, writing
//! small ELF files by hand, and checking emu's one-line error contract.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const TARGET: &str = "riscv64gc-unknown-none-elf";

pub fn conformance_crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// Names of every conformance program in the crate, sorted. The `htif_*` programs are
/// left out: they are not conformance checks but syscall-proxy clients that write files in
/// the working directory and read stdin, run by tests/htif_syscalls.rs alone.
pub fn conformance_program_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(conformance_crate_dir().join("src").join("bin"))
        .expect("emu/conformance/src/bin is missing")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .filter(|name| !name.starts_with("htif_"))
        .collect();
    names.sort();
    names
}

/// Machine flags a program needs, by name prefix: `vm_sv39_*` and `vm_sv48_*` run on a
/// hart whose highest paging mode is Sv39 / Sv48, `vm_svadu_*` with hardware A/D updates.
/// Everything else runs on the default machine (Sv57, Svade).
pub fn conformance_machine_flags(name: &str) -> &'static [&'static str] {
    const FLAGS: &[(&str, &[&str])] = &[
        ("vm_sv39_", &["--sv39"]),
        ("vm_sv48_", &["--sv48"]),
        ("vm_svadu_", &["--svadu"]),
    ];
    FLAGS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or(&[], |(_, flags)| flags)
}

/// Build the conformance crate (once per test process) the way emu/build.rs builds the
/// guest crates, and return the directory holding its binaries.
pub fn built_programs() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target_dir = root.join("target").join("conformance");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(conformance_crate_dir())
            .args(["build", "--release", "--target", TARGET, "--target-dir"])
            .arg(&target_dir);
        // The test's own cargo settings are for the host build; the guest build must not
        // inherit them.
        for (k, _) in std::env::vars() {
            if (k.starts_with("CARGO_") && k != "CARGO_HOME")
                || k.starts_with("RUSTC")
                || k == "RUSTFLAGS"
                || k == "RUSTDOCFLAGS"
            {
                cmd.env_remove(&k);
            }
        }
        let out = cmd
            .output()
            .expect("cannot run cargo to build emu/conformance");
        assert!(
            out.status.success(),
            "building emu/conformance for {TARGET} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join(TARGET).join("release")
    })
}

/// A PT_LOAD segment for [`elf64`]: physical (= virtual) address, bytes in the file,
/// and size in memory (>= the bytes; the rest is zero-filled).
pub struct Segment {
    pub addr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
}

impl Segment {
    pub fn code(addr: u64, words: &[u32]) -> Self {
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let memsz = data.len() as u64;
        Segment { addr, data, memsz }
    }
}

/// A minimal little-endian ELF64 executable: header, program headers, segment bytes.
pub fn elf64(machine: u16, entry: u64, segments: &[Segment]) -> Vec<u8> {
    const EHSIZE: usize = 64;
    const PHENTSIZE: usize = 56;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, SysV ABI
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&machine.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&(EHSIZE as u64).to_le_bytes()); // e_phoff
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    out.extend_from_slice(&5u32.to_le_bytes()); // e_flags: RVC, double-float ABI
    out.extend_from_slice(&(EHSIZE as u16).to_le_bytes());
    out.extend_from_slice(&(PHENTSIZE as u16).to_le_bytes());
    out.extend_from_slice(&(segments.len() as u16).to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    assert_eq!(out.len(), EHSIZE);
    let mut offset = EHSIZE + PHENTSIZE * segments.len();
    for s in segments {
        out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        out.extend_from_slice(&7u32.to_le_bytes()); // RWX
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&s.addr.to_le_bytes()); // p_vaddr
        out.extend_from_slice(&s.addr.to_le_bytes()); // p_paddr
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&s.memsz.to_le_bytes());
        out.extend_from_slice(&8u64.to_le_bytes());
        offset += s.data.len();
    }
    for s in segments {
        out.extend_from_slice(&s.data);
    }
    out
}

pub const EM_RISCV: u16 = 243;
pub const DRAM: u64 = 0x8000_0000;
/// `jal x0, 0`: a one-instruction infinite loop.
pub const LOOP_FOREVER: u32 = 0x0000_006f;

/// Write `bytes` to a fresh file under the test's temporary directory.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emu-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Run emu with `args`, stopping it after a generous wall-clock limit.
pub fn emu(args: &[&str]) -> Output {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(args)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("cannot run emu")
}

/// emu refused its input the documented way: status `status`, exactly one error line
/// (starting with "emu:" or clap's "error:") that mentions `needle`, nothing on stdout,
/// and no panic.
pub fn assert_one_error_line(out: &Output, status: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "emu panicked:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(status),
        "wrong exit status; stderr:\n{stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("emu:") || l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error line, got:\n{stderr}"
    );
    assert!(
        stderr.lines().next() == Some(errors[0]),
        "the error line must come first:\n{stderr}"
    );
    assert!(
        errors[0].to_lowercase().contains(&needle.to_lowercase()),
        "the error line does not mention {needle:?}: {}",
        errors[0]
    );
    assert!(stdout.is_empty(), "unexpected output on stdout:\n{stdout}");
}

/// The guest kernel's boot in each paging mode, as the differential tests run it: the
/// mode flag and its extra kernel command line.
pub const GUEST_KERNEL_MODES: [(&str, &str); 3] = [
    ("--sv39", "layout=linear nokaslr"),
    ("--sv48", ""),
    ("--sv57", ""),
];

/// `emu run` arguments for a fixed-seed guest kernel boot in `mode` with `extra` on its
/// command line, cut at 100 M instructions.
pub fn guest_kernel_boot_args<'a>(mode: &'a str, extra: &'a str) -> [&'a str; 7] {
    [
        mode,
        "--kaslr-seed",
        "0x5eed",
        "--append",
        extra,
        "--max-insns",
        "100000000",
    ]
}

/// A `--stats` line that describes the host rather than the guest (timing, memory), so
/// differs between runs that must otherwise agree.
pub fn host_stats_line(line: &str) -> bool {
    ["wall time", "speed", "host memory"]
        .iter()
        .any(|p| line.starts_with(p))
}

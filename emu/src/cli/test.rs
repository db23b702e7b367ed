//! `emu test --kernel Image [--share DIR] -- CMD ARGS`: boot a kernel with a generated
//! busybox initramfs, run one command in the guest, stream the console, and exit with the
//! command's status (the vmtest model).
//!
//! The initramfs is built in Rust (`crate::initramfs`) from Debian's busybox-static and
//! the kernel package's modules, found in `$EMU_CACHE/debian` (the tree
//! `scripts/fetch-debian-images` leaves) unless `--busybox` and `--modules` say where.
//! The part that depends only on busybox, the modules and `/init` is cached under
//! `$XDG_CACHE_HOME/emu/test` (or `~/.cache/emu/test`), keyed by those inputs; the
//! command goes into a small second archive appended for each run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Failure, MachineArgs, RunArgs, EXIT_EXPECT_UNMET, EXIT_FAIL_PATTERN};
use crate::initramfs::{self, ModuleTree};
use crate::machine::console_expect::{ConsoleMatcher, ConsoleWatch, Verdict};

/// The end of `emu test --help`.
pub const TEST_HELP: &str = "\
Examples:
  emu test --kernel Image -- uname -a
  emu test --kernel Image --share . -- ./run-tests.sh      (needs the virtio-9p device)
  emu test --kernel Image --module test_bpf -- dmesg

The guest: Debian's static busybox as /bin, the modules loaded (dependencies first), the
shares mounted at /mnt/TAG (the first is the working directory), then CMD ARGS run with
the console as stdin, stdout and stderr. Kernel command line: console=ttyS0 quiet panic=-1
and --append.

Exit status: CMD's; 121 the kernel panicked or the guest's setup failed (the line is
printed), 122 the guest powered off or rebooted without reporting CMD's status, 123
--timeout reached, 1 a missing or unusable input (kernel, busybox, modules), 2 usage
error, 130 interrupted.

Inputs: busybox from --busybox (a static riscv64 binary or Debian's busybox-static .deb),
else $EMU_CACHE/debian (root/busybox or debs/busybox-static_*.deb); modules from
--modules DIR (a lib/modules/RELEASE directory), else the kernel package's in
$EMU_CACHE/debian (root/kernel, or debs/linux-image-RELEASE_*.deb, extracted once).
EMU_CACHE defaults to ./.cache when it exists, else ~/.cache/emu. Generated archives are
cached in $XDG_CACHE_HOME/emu/test (default ~/.cache/emu/test), keyed by their inputs.";

#[derive(clap::Args, Debug)]
#[command(after_help = TEST_HELP)]
pub struct TestArgs {
    /// The Linux kernel Image to boot (uncompressed, as Debian's vmlinux-* is).
    #[arg(long, value_name = "IMAGE")]
    pub kernel: PathBuf,
    /// Share a host directory over virtio-9p, mounted at /mnt/TAG (tag `share` by
    /// default); repeatable. The first is the command's working directory.
    #[arg(long, value_name = "HOSTDIR[,tag=TAG][,ro]")]
    pub share: Vec<String>,
    /// Load this kernel module, and the modules it depends on, before the command;
    /// repeatable.
    #[arg(long = "module", value_name = "NAME")]
    pub load_modules: Vec<String>,
    /// The kernel's modules: a lib/modules/RELEASE directory.
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
    /// busybox: a static riscv64 binary or Debian's busybox-static .deb.
    #[arg(long, value_name = "PATH")]
    pub busybox: Option<PathBuf>,
    /// Append this cpio archive (newc, plain or compressed as the kernel accepts) to the
    /// initramfs, e.g. test programs; repeatable.
    #[arg(long, value_name = "CPIO")]
    pub initrd_extra: Vec<PathBuf>,
    /// Stop with status 123 after this much wall-clock time: 90s, 5m, 1h.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub machine: MachineArgs,
    /// The command to run in the guest, and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// A `--share` request: the host directory, the 9p mount tag, read-only or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRequest {
    pub host_dir: PathBuf,
    pub tag: String,
    pub read_only: bool,
}

impl ShareRequest {
    /// `HOSTDIR[,tag=TAG][,ro]`, the syntax of `emu run --share`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(',');
        let dir = parts.next().unwrap_or_default();
        if dir.is_empty() {
            return Err(format!(
                "--share '{spec}' names no directory (HOSTDIR[,tag=TAG][,ro])"
            ));
        }
        let mut share = ShareRequest {
            host_dir: PathBuf::from(dir),
            tag: "share".into(),
            read_only: false,
        };
        for part in parts {
            match part.split_once('=') {
                Some(("tag", t))
                    if !t.is_empty()
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) =>
                {
                    share.tag = t.to_string()
                }
                None if part == "ro" => share.read_only = true,
                _ => {
                    return Err(format!(
                    "--share '{spec}': '{part}' is neither tag=TAG (letters, digits, _ - .) nor ro"
                ))
                }
            }
        }
        Ok(share)
    }
}

/// Give the run the host directories as virtio-9p shares (`emu run --share`).
pub fn attach_shares(run: &mut RunArgs, shares: &[ShareRequest]) -> Result<(), Failure> {
    for s in shares {
        let mut spec = format!("{},tag={}", s.host_dir.display(), s.tag);
        if s.read_only {
            spec.push_str(",ro");
        }
        run.share.push(spec);
    }
    Ok(())
}

/// Where Debian's packages are looked for (`$EMU_CACHE/debian`).
fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("EMU_CACHE") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from(".cache");
    if local.join("debian").is_dir() {
        return local;
    }
    user_cache().unwrap_or(local)
}

/// `$XDG_CACHE_HOME/emu` or `~/.cache/emu`.
fn user_cache() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty());
    match xdg {
        Some(dir) => Some(PathBuf::from(dir).join("emu")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("emu")),
    }
}

/// Where emu test keeps what it generates (archives, extracted modules): never in
/// `$EMU_CACHE`, which may be shared and read-only.
fn output_cache() -> PathBuf {
    user_cache().unwrap_or_else(std::env::temp_dir).join("test")
}

fn read(role: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::image(format!(
            "cannot read the {role} {}: {}",
            path.display(),
            crate::machine::loader::os_error(&e)
        ))
    })
}

/// The newest-named file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn find_file(dir: &Path, prefix: &str, suffix: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The busybox binary for the guest.
fn busybox(args: &TestArgs, cache: &Path) -> Result<Vec<u8>, Failure> {
    let debian = cache.join("debian");
    let path = match &args.busybox {
        Some(p) => p.clone(),
        None => {
            let extracted = debian.join("root/busybox/usr/bin/busybox");
            if extracted.is_file() {
                extracted
            } else if let Some(deb) =
                find_file(&debian.join("debs"), "busybox-static_", "_riscv64.deb")
            {
                deb
            } else {
                return Err(Failure::image(format!(
                    "no busybox for the guest: neither {} nor {}/busybox-static_*_riscv64.deb exists; \
                     give --busybox PATH (Debian's busybox-static .deb or a static riscv64 busybox) \
                     or run scripts/fetch-debian-images",
                    extracted.display(),
                    debian.join("debs").display()
                )));
            }
        }
    };
    let bytes = read("busybox", &path)?;
    let binary = initramfs::busybox_from(&bytes)
        .map_err(|e| Failure::image(format!("cannot take busybox from {}: {e}", path.display())))?;
    Ok(binary)
}

/// The kernel's module tree: --modules, the extracted package, or the package itself
/// (extracted once into the cache).
fn module_tree(
    args: &TestArgs,
    cache: &Path,
    release: Option<&str>,
) -> Result<ModuleTree, Failure> {
    if let Some(dir) = &args.modules {
        let dir = match release {
            Some(r) if dir.join(r).is_dir() => dir.join(r),
            _ => dir.clone(),
        };
        return ModuleTree::open(&dir).map_err(Failure::image);
    }
    let release = release.ok_or_else(|| {
        Failure::image(format!(
            "the kernel {} has no 'Linux version' banner, so its modules cannot be found; give --modules DIR",
            args.kernel.display()
        ))
    })?;
    let debian = cache.join("debian");
    let extracted = debian.join("root/kernel/usr/lib/modules").join(release);
    if extracted.is_dir() {
        return ModuleTree::open(&extracted).map_err(Failure::image);
    }
    let unpacked = output_cache().join(format!("modules-{release}"));
    if unpacked.join(".complete").is_file() {
        return ModuleTree::open(&unpacked).map_err(Failure::image);
    }
    let Some(deb) = find_file(
        &debian.join("debs"),
        &format!("linux-image-{release}_"),
        ".deb",
    ) else {
        return Err(Failure::image(format!(
            "no modules for kernel {release}: neither {} nor {}/linux-image-{release}_*.deb exists; \
             give --modules DIR (a lib/modules/{release} directory)",
            extracted.display(),
            debian.join("debs").display()
        )));
    };
    eprintln!("emu: extracting the modules of {} (once)", deb.display());
    let bytes = read("kernel package", &deb)?;
    let _ = std::fs::remove_dir_all(&unpacked);
    let found = initramfs::extract_modules(&bytes, release, &unpacked).map_err(|e| {
        Failure::image(format!(
            "cannot extract the modules of {}: {e}",
            deb.display()
        ))
    })?;
    if !found {
        return Err(Failure::image(format!(
            "{} has no lib/modules/{release}: give --modules DIR",
            deb.display()
        )));
    }
    let _ = std::fs::write(unpacked.join(".complete"), b"");
    ModuleTree::open(&unpacked).map_err(Failure::image)
}

/// The base archive (busybox, /init, modules), from the cache when its inputs are the same.
fn base_archive(
    args: &TestArgs,
    cache: &Path,
    release: Option<&str>,
    modules: &[String],
) -> Result<Vec<u8>, Failure> {
    let busybox = busybox(args, cache)?;
    let resolved = if modules.is_empty() {
        Vec::new()
    } else {
        module_tree(args, cache, release)?
            .resolve(modules)
            .map_err(Failure::image)?
    };
    let mut parts: Vec<&[u8]> = vec![initramfs::INIT_SCRIPT.as_bytes(), &busybox];
    for m in &resolved {
        parts.push(m.name.as_bytes());
        parts.push(&m.bytes);
    }
    let key = initramfs::fnv1a(&parts);
    let dir = output_cache();
    let path = dir.join(format!("initramfs-{key:016x}.cpio"));
    if let Ok(cached) = std::fs::read(&path) {
        return Ok(cached);
    }
    let archive = initramfs::base_archive(&busybox, &resolved);
    // A cache that cannot be written only costs the next run the build.
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = super::write_atomically("initramfs cache", &path, &archive);
    }
    Ok(archive)
}

pub fn test(args: TestArgs) -> Result<u8, Failure> {
    let shares = args
        .share
        .iter()
        .map(|s| ShareRequest::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    let cache = cache_root();
    let kernel = read("kernel", &args.kernel)?;
    let release = initramfs::kernel_release(&kernel);
    let mut modules: Vec<String> = Vec::new();
    if !shares.is_empty() {
        modules.extend(initramfs::SHARE_MODULES.iter().map(|m| m.to_string()));
    }
    modules.extend(args.load_modules.iter().cloned());

    // Everything that can be refused is refused before the archive is built.
    let mut run = run_args(&args)?;
    attach_shares(&mut run, &shares)?;

    let mut initrd = base_archive(&args, &cache, release.as_deref(), &modules)?;
    let tags: Vec<String> = shares.iter().map(|s| s.tag.clone()).collect();
    initrd.extend(initramfs::run_archive(&args.command, &tags));
    for extra in &args.initrd_extra {
        initrd.resize(initrd.len().next_multiple_of(4), 0);
        initrd.extend(read("initrd", extra)?);
    }
    // `emu run` reads the initrd from a file.
    let initrd_path = std::env::temp_dir().join(format!("emu-test-{}.cpio", std::process::id()));
    super::write_atomically("initrd file", &initrd_path, &initrd)?;
    run.initrd = Some(initrd_path.clone());

    let watch = Arc::new(ConsoleWatch::new(ConsoleMatcher::new(
        vec![regex::bytes::Regex::new(initramfs::STATUS_PATTERN).expect("a valid pattern")],
        vec![
            regex::bytes::Regex::new("Kernel panic - not syncing").expect("a valid pattern"),
            regex::bytes::Regex::new(initramfs::SETUP_FAILED_PATTERN).expect("a valid pattern"),
        ],
    )));
    run.watch = Some(watch.clone());
    let outcome = super::run::run(run);
    let _ = std::fs::remove_file(&initrd_path);
    let status = outcome?;
    Ok(match status {
        // The status line was seen: the command's own status.
        0 if watch.unmet().is_none() => watch
            .captures()
            .get(1)
            .and_then(|g| g.as_deref())
            .and_then(|s| s.parse::<u32>().ok())
            .map_or(EXIT_EXPECT_UNMET, |code| code.min(255) as u8),
        EXIT_FAIL_PATTERN => {
            if let Some(Verdict::Failed { line, .. }) = watch.check() {
                eprintln!("emu: the guest failed before the command's status: {line}; exit status {EXIT_FAIL_PATTERN}");
            }
            EXIT_FAIL_PATTERN
        }
        EXIT_EXPECT_UNMET => {
            eprintln!("emu: the guest stopped before /init reported the command's exit status; exit status {EXIT_EXPECT_UNMET}");
            EXIT_EXPECT_UNMET
        }
        other => other,
    })
}

/// The `emu run` arguments of the boot (all but the initrd and the watch).
fn run_args(args: &TestArgs) -> Result<RunArgs, Failure> {
    let kernel = args.kernel.clone().into_os_string();
    let cli = <super::Cli as clap::Parser>::try_parse_from([
        std::ffi::OsString::from("emu"),
        "run".into(),
        kernel,
    ])
    .map_err(|e| Failure::usage(e.to_string()))?;
    let super::Command::Run(mut run) = cli.command else {
        return Err(Failure::usage("emu run did not parse"));
    };
    let mut machine: MachineArgs = args.machine.clone();
    let mut append = String::from("console=ttyS0 quiet panic=-1");
    if !machine.append.is_empty() {
        append.push(' ');
        append.push_str(&machine.append);
    }
    machine.append = append;
    run.machine = machine;
    run.no_reboot = true;
    run.timeout = args.timeout;
    Ok(*run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_specs_parse_like_emu_run_share() {
        let s = ShareRequest::parse("out").unwrap();
        assert_eq!(
            (s.host_dir.as_path(), s.tag.as_str(), s.read_only),
            (Path::new("out"), "share", false)
        );
        let s = ShareRequest::parse("/src,tag=src,ro").unwrap();
        assert_eq!((s.tag.as_str(), s.read_only), ("src", true));
        for bad in ["", ",tag=x", "d,tag=", "d,rw", "d,tag=a b"] {
            assert!(ShareRequest::parse(bad).is_err(), "{bad}");
        }
    }
}

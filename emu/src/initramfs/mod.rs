//! The initramfs `emu test` boots: Debian's static busybox, the kernel modules a run
//! needs (their dependencies resolved from the modules' own `.modinfo`), and an `/init`
//! (`scripts/lib/test-init.sh`, shared with `scripts/mkinitramfs`) that runs the command
//! and prints its exit status. Built in Rust so that `emu test` needs no shell tools:
//! Debian packages are read with [`deb`], the archive written with [`newc`].

pub mod deb;
pub mod newc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `/init` script.
pub const INIT_SCRIPT: &str = include_str!("../../../scripts/lib/test-init.sh");

/// The console line `/init` prints after the command, with its exit status.
pub const STATUS_PATTERN: &str = "emu-test: exit ([0-9]+)\n";
/// The console line `/init` prints when a step before the command fails.
pub const SETUP_FAILED_PATTERN: &str = "emu-test: setup failed: [^\n]*\n";

/// The modules a 9p share needs (their own dependencies, such as netfs and 9pnet, come
/// from their metadata).
pub const SHARE_MODULES: &[&str] = &["virtio_mmio", "9pnet_virtio", "9p"];

/// The kernel release an uncompressed Linux Image announces ("Linux version X ...").
pub fn kernel_release(image: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"Linux version ";
    let at = image.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &image[at..image.len().min(at + 128)];
    let end = rest.iter().position(|&b| b == b' ' || b == 0)?;
    let release = std::str::from_utf8(&rest[..end]).ok()?;
    (!release.is_empty()).then(|| release.to_string())
}

/// A module name as the kernel spells it: dashes become underscores.
pub fn module_name(s: &str) -> String {
    s.replace('-', "_")
}

/// The module files of a `lib/modules/RELEASE` directory, by module name.
#[derive(Debug)]
pub struct ModuleTree {
    pub dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
    builtin: BTreeSet<String>,
}

impl ModuleTree {
    /// Index `dir` (which holds `kernel/` and usually `modules.builtin`).
    pub fn open(dir: &Path) -> Result<Self, String> {
        let mut files = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d)
                .map_err(|e| format!("cannot read the module directory {}: {e}", d.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let file = entry.file_name().to_string_lossy().into_owned();
                if let Some(stem) = file
                    .strip_suffix(".ko.xz")
                    .or_else(|| file.strip_suffix(".ko"))
                {
                    files.insert(module_name(stem), path);
                }
            }
        }
        let builtin = std::fs::read_to_string(dir.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.rsplit('/').next())
            .map(|f| module_name(f.trim_end_matches(".ko")))
            .collect();
        Ok(ModuleTree {
            dir: dir.to_path_buf(),
            files,
            builtin,
        })
    }

    /// The modules to load for `wanted`, dependencies first, with each file's bytes
    /// (as stored: `.ko.xz` or `.ko`) and whether it is xz-compressed. Modules built
    /// into the kernel are left out.
    pub fn resolve(&self, wanted: &[String]) -> Result<Vec<Module>, String> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        for w in wanted {
            self.visit(&module_name(w), &mut done, &mut Vec::new(), &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        name: &str,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
        order: &mut Vec<Module>,
    ) -> Result<(), String> {
        if done.contains(name) || self.builtin.contains(name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            return Err(format!(
                "the modules depend on each other in a cycle: {} -> {name}",
                path.join(" -> ")
            ));
        }
        let file = self.files.get(name).ok_or_else(|| {
            format!(
                "the kernel module {name} is neither in {} nor built into the kernel (modules.builtin)",
                self.dir.display()
            )
        })?;
        let bytes = std::fs::read(file)
            .map_err(|e| format!("cannot read the kernel module {}: {e}", file.display()))?;
        let compressed = file.extension().is_some_and(|e| e == "xz");
        let elf = if compressed {
            deb::xz_decompress(&bytes).map_err(|e| format!("{}: {e}", file.display()))?
        } else {
            bytes.clone()
        };
        let depends = modinfo_depends(&elf).map_err(|e| format!("{}: {e}", file.display()))?;
        path.push(name.to_string());
        for dep in depends {
            self.visit(&dep, done, path, order)?;
        }
        path.pop();
        done.insert(name.to_string());
        order.push(Module {
            name: name.to_string(),
            bytes,
            compressed,
        });
        Ok(())
    }
}

/// A module to put in the initramfs.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: String,
    pub bytes: Vec<u8>,
    pub compressed: bool,
}

/// The `depends=` list of a module's `.modinfo` section.
pub fn modinfo_depends(elf: &[u8]) -> Result<Vec<String>, String> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF module: {e}"))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or("the module has no .modinfo section")?;
    let data = section
        .data()
        .map_err(|e| format!("cannot read .modinfo: {e}"))?;
    Ok(data
        .split(|&b| b == 0)
        .filter_map(|rec| rec.strip_prefix(b"depends="))
        .flat_map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|d| !d.is_empty())
        .map(|d| module_name(&d))
        .collect())
}

/// The archive with busybox, `/init` and the modules, loaded in the order given.
pub fn base_archive(busybox: &[u8], modules: &[Module]) -> Vec<u8> {
    let mut w = newc::NewcWriter::new(1);
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "etc",
        "mnt",
        "lib",
        "lib/modules",
        "emu-test",
    ] {
        w.dir(dir);
    }
    w.char_device("dev/console", 0o600, 5, 1);
    w.file("bin/busybox", 0o755, busybox);
    w.symlink("bin/sh", "busybox");
    w.file("init", 0o755, INIT_SCRIPT.as_bytes());
    let mut order = String::new();
    for m in modules {
        let file = if m.compressed {
            format!("lib/modules/{}.ko.xz", m.name)
        } else {
            format!("lib/modules/{}.ko", m.name)
        };
        w.file(&file, 0o644, &m.bytes);
        order.push_str(&m.name);
        order.push('\n');
    }
    w.file("lib/modules/load-order", 0o644, order.as_bytes());
    w.finish()
}

/// Quote one word for the guest's shell.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The small archive appended for one run: the command (`/emu-test/cmd`, run by the
/// guest's shell) and the 9p tags to mount (`/emu-test/shares`).
pub fn run_archive(command: &[String], share_tags: &[String]) -> Vec<u8> {
    let mut w = newc::NewcWriter::new(1_000_000);
    let words: Vec<String> = command.iter().map(|w| shell_quote(w)).collect();
    w.file(
        "emu-test/cmd",
        0o644,
        format!("exec {}\n", words.join(" ")).as_bytes(),
    );
    let mut tags = share_tags.join("\n");
    tags.push('\n');
    w.file("emu-test/shares", 0o644, tags.as_bytes());
    w.finish()
}

/// A stable 64-bit hash (FNV-1a) for cache keys: the same inputs give the same name on
/// every build of emu.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&(part.len() as u64).to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The busybox binary: a static riscv64 ELF as it is, or the file a Debian package
/// (busybox-static) ships as /usr/bin/busybox or /bin/busybox.
pub fn busybox_from(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"\x7fELF") {
        return Ok(bytes.to_vec());
    }
    let mut found = None;
    deb::for_each_file(bytes, &mut |entry, data| {
        if let deb::Entry::File { path, .. } = entry {
            if path == "usr/bin/busybox" || path == "bin/busybox" {
                found = Some(data.to_vec());
                return false;
            }
        }
        true
    })?;
    found.ok_or_else(|| "the package has no /usr/bin/busybox".to_string())
}

/// Extract `usr/lib/modules/RELEASE/` (or `lib/modules/RELEASE/`) of a kernel package
/// into `dest`; returns false when the package has no such directory.
pub fn extract_modules(deb_bytes: &[u8], release: &str, dest: &Path) -> Result<bool, String> {
    let prefixes = [
        format!("usr/lib/modules/{release}/"),
        format!("lib/modules/{release}/"),
    ];
    let mut any = false;
    let mut failure = None;
    deb::for_each_file(deb_bytes, &mut |entry, data| {
        let deb::Entry::File { path, .. } = entry else {
            return true;
        };
        let Some(rel) = prefixes.iter().find_map(|p| path.strip_prefix(p.as_str())) else {
            return true;
        };
        if rel.split('/').any(|c| c == ".." || c.is_empty()) {
            return true;
        }
        let target = dest.join(rel);
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&target, data));
        if let Err(e) = written {
            failure = Some(format!("cannot write {}: {e}", target.display()));
            return false;
        }
        any = true;
        true
    })?;
    match failure {
        Some(f) => Err(f),
        None => Ok(any),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_comes_from_the_linux_version_banner() {
        let mut image = vec![0u8; 100];
        image.extend_from_slice(
            b"Linux version 6.12.117+deb13-riscv64 (debian-kernel@lists) #1 SMP",
        );
        assert_eq!(
            kernel_release(&image).as_deref(),
            Some("6.12.117+deb13-riscv64")
        );
        assert_eq!(kernel_release(b"no banner"), None);
    }

    #[test]
    fn words_are_quoted_for_the_guest_shell() {
        assert_eq!(shell_quote("/bin/sh"), "/bin/sh");
        assert_eq!(shell_quote("exit 3"), "'exit 3'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME;rm"), "'$HOME;rm'");
    }

    #[test]
    fn the_run_archive_holds_the_command_and_the_tags() {
        let a = run_archive(
            &["/bin/sh".into(), "-c".into(), "exit 3".into()],
            &["share".into()],
        );
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("emu-test/cmd\0"));
        assert!(text.contains("exec /bin/sh -c 'exit 3'\n"));
        assert!(text.contains("share\n"));
    }

    /// A minimal relocatable ELF64 (RISC-V) whose only sections are `.modinfo` and the
    /// section-name table.
    fn module_elf(modinfo: &[u8]) -> Vec<u8> {
        let shstrtab = b"\0.modinfo\0.shstrtab\0";
        let modinfo_at = 64u64;
        let shstr_at = modinfo_at + modinfo.len() as u64;
        let sh_at = (shstr_at + shstrtab.len() as u64).next_multiple_of(8);
        let mut e = vec![0u8; 64];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2; // 64-bit
        e[5] = 1; // little-endian
        e[6] = 1;
        e[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        e[18..20].copy_from_slice(&243u16.to_le_bytes()); // EM_RISCV
        e[20..24].copy_from_slice(&1u32.to_le_bytes());
        e[40..48].copy_from_slice(&sh_at.to_le_bytes());
        e[52..54].copy_from_slice(&64u16.to_le_bytes());
        e[58..60].copy_from_slice(&64u16.to_le_bytes());
        e[60..62].copy_from_slice(&3u16.to_le_bytes());
        e[62..64].copy_from_slice(&2u16.to_le_bytes());
        e.extend_from_slice(modinfo);
        e.extend_from_slice(shstrtab);
        e.resize(sh_at as usize, 0);
        let section = |name: u32, kind: u32, off: u64, size: u64| {
            let mut h = vec![0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            h[48..56].copy_from_slice(&1u64.to_le_bytes());
            h
        };
        e.extend(vec![0u8; 64]);
        e.extend(section(1, 1, modinfo_at, modinfo.len() as u64));
        e.extend(section(10, 3, shstr_at, shstrtab.len() as u64));
        e
    }

    #[test]
    fn dependencies_come_from_modinfo_and_load_first() {
        let dir = std::env::temp_dir().join(format!("emu-modtree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("kernel/fs/9p")).unwrap();
        std::fs::create_dir_all(dir.join("kernel/net/9p")).unwrap();
        let put =
            |rel: &str, modinfo: &[u8]| std::fs::write(dir.join(rel), module_elf(modinfo)).unwrap();
        put(
            "kernel/fs/9p/9p.ko",
            b"license=GPL\0depends=9pnet,netfs\0name=9p\0",
        );
        put("kernel/net/9p/9pnet.ko", b"depends=\0name=9pnet\0");
        put("kernel/fs/netfs.ko", b"name=netfs\0");
        put(
            "kernel/net/9p/9pnet_virtio.ko",
            b"depends=9pnet,virtio-mmio\0",
        );
        std::fs::write(
            dir.join("modules.builtin"),
            "kernel/drivers/virtio/virtio-mmio.ko\n",
        )
        .unwrap();
        let tree = ModuleTree::open(&dir).unwrap();
        let names = |w: &[&str]| -> Vec<String> {
            let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
            tree.resolve(&w)
                .unwrap()
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        assert_eq!(names(&["9p"]), ["9pnet", "netfs", "9p"]);
        // virtio_mmio is built in; each module appears once.
        assert_eq!(
            names(&["virtio_mmio", "9pnet_virtio", "9p"]),
            ["9pnet", "9pnet_virtio", "netfs", "9p"]
        );
        let e = tree.resolve(&["ext4".into()]).unwrap_err();
        assert!(e.contains("ext4 is neither in"), "{e}");
        put("kernel/fs/netfs.ko", b"depends=9p\0");
        let e = tree.resolve(&["9p".into()]).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! A writer for the cpio "newc" format, the one the Linux kernel unpacks as an initramfs.
//!
//! Every entry has mtime 0, owner root and inode numbers counted from a chosen start, so
//! the same inputs give the same bytes (cacheable, comparable).

/// File type bits of `st_mode`.
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;

/// An archive being written.
#[derive(Debug)]
pub struct NewcWriter {
    out: Vec<u8>,
    next_ino: u32,
}

impl NewcWriter {
    /// Inode numbers start at `first_ino` (archives appended to another must not reuse
    /// its numbers, or the kernel takes files for hard links of each other).
    pub fn new(first_ino: u32) -> Self {
        NewcWriter {
            out: Vec::new(),
            next_ino: first_ino,
        }
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let nlink = if mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let namesize = name.len() + 1;
        let fields = [
            self.next_ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0, // dev major
            0, // dev minor
            rdev.0,
            rdev.1,
            namesize as u32,
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
        self.next_ino += 1;
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    pub fn dir(&mut self, name: &str) {
        self.entry(name, S_IFDIR | 0o755, (0, 0), &[]);
    }

    /// A regular file with permission bits `perm` (e.g. 0o755).
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, S_IFREG | (perm & 0o7777), (0, 0), data);
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, S_IFLNK | 0o777, (0, 0), target.as_bytes());
    }

    /// A character device node (no root needed: the kernel creates it when unpacking).
    pub fn char_device(&mut self, name: &str, perm: u32, major: u32, minor: u32) {
        self.entry(name, S_IFCHR | (perm & 0o7777), (major, minor), &[]);
    }

    /// Write the trailer and return the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of each header, read back as the kernel's unpacker does.
    fn entries(mut a: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let total = a.len();
        loop {
            assert_eq!(&a[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(std::str::from_utf8(&a[6 + 8 * i..14 + 8 * i]).unwrap(), 16)
                    .unwrap()
            };
            let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let name = String::from_utf8(a[110..110 + namesize - 1].to_vec()).unwrap();
            let data_at = (110 + namesize).next_multiple_of(4);
            let data = a[data_at..data_at + size].to_vec();
            let next = (data_at + size).next_multiple_of(4);
            assert_eq!((total - a.len() + next) % 4, 0);
            a = &a[next..];
            if name == "TRAILER!!!" {
                assert!(a.is_empty());
                return out;
            }
            out.push((name, mode, data));
        }
    }

    #[test]
    fn entries_read_back_with_their_modes_and_data() {
        let mut w = NewcWriter::new(1);
        w.dir("bin");
        w.file("bin/busybox", 0o755, b"\x7fELF...");
        w.symlink("bin/sh", "busybox");
        w.char_device("dev/console", 0o600, 5, 1);
        let a = w.finish();
        let e = entries(&a);
        assert_eq!(e.len(), 4);
        assert_eq!(e[0], ("bin".into(), 0o040755, vec![]));
        assert_eq!(
            e[1],
            ("bin/busybox".into(), 0o100755, b"\x7fELF...".to_vec())
        );
        assert_eq!(e[2], ("bin/sh".into(), 0o120777, b"busybox".to_vec()));
        assert_eq!(e[3].1, 0o020600);
        // rdev major/minor of the console node.
        let console = a.windows(11).position(|w| w == b"dev/console").unwrap() - 110;
        assert_eq!(
            &a[console + 6 + 8 * 9..console + 6 + 8 * 11],
            b"0000000500000001"
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let build = || {
            let mut w = NewcWriter::new(7);
            w.file("init", 0o755, b"#!/bin/sh\n");
            w.finish()
        };
        assert_eq!(build(), build());
    }
}

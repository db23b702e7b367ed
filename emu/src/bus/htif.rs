//! The HTIF host side: exit, console output, and the syscall proxy of bare-metal programs
//! written for Spike's front-end server.
//!
//! A `tohost` write is `device << 56 | command << 48 | payload`. Device 0 command 0 is the
//! syscall device: an odd payload is an exit (status = payload >> 1); an even, nonzero
//! payload is the physical address of a `magic_mem` block of eight little-endian u64s,
//! `[number, a0, a1, a2, a3, a4, a5, a6]`, with RISC-V Linux syscall numbers. The host
//! performs the call, stores its result (or `-errno`) in the block's first word and writes
//! 1 to `fromhost`, which the program polls. Device 1 command 1 prints one byte.

use super::{ExitRequest, Ram};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};

/// RISC-V Linux syscall numbers the proxy serves.
mod nr {
    pub const OPENAT: u64 = 56;
    pub const CLOSE: u64 = 57;
    pub const LSEEK: u64 = 62;
    pub const READ: u64 = 63;
    pub const WRITE: u64 = 64;
    pub const FSTAT: u64 = 80;
    pub const EXIT: u64 = 93;
    pub const EXIT_GROUP: u64 = 94;
}

/// Linux errno values (the same on every Linux architecture for these).
mod errno {
    pub const EPERM: i64 = 1;
    pub const EBADF: i64 = 9;
    pub const EFAULT: i64 = 14;
    pub const EINVAL: i64 = 22;
}

/// `openat`'s "relative to the working directory" descriptor.
const AT_FDCWD: i64 = -100;
/// Linux open flags (asm-generic, which RISC-V uses).
const O_ACCMODE: u64 = 3;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;
/// The longest path `openat` reads from guest memory.
const PATH_MAX: usize = 4096;
/// The most bytes one `read` or `write` moves (the program loops for more, as with a
/// short read or write on Linux); bounds the host buffer a guest can make us allocate.
const IO_CHUNK: u64 = 1 << 20;
/// Guest descriptors for host files start after stdin, stdout and stderr.
const FIRST_FILE_FD: u64 = 3;
/// At most this many host files open at once (further `openat`s get EMFILE).
const MAX_OPEN_FILES: usize = 64;
const EMFILE: i64 = 24;

/// What the syscall proxy needs of the rest of the machine.
pub struct SyscallHost<'a> {
    pub ram: &'a mut Ram,
    /// Where the program's stdout goes (the same stream as the HTIF console).
    pub stdout: &'a mut Vec<u8>,
    pub stdin: &'a crate::devices::console::ConsoleInputSource,
}

/// State of the syscall proxy: the host files the program opened.
#[derive(Default)]
pub struct SyscallProxy {
    files: BTreeMap<u64, std::fs::File>,
}

/// How a syscall ended for the run.
pub enum SyscallOutcome {
    /// The result to put in `magic_mem[0]`.
    Return(i64),
    /// The program asked to exit, or the call is one the proxy does not serve.
    Stop(ExitRequest),
}

impl SyscallProxy {
    /// How many host files the program has open (a snapshot cannot hold them).
    pub fn open_files(&self) -> usize {
        self.files.len()
    }

    /// Serve the request whose `magic_mem` block is at physical address `block`.
    pub fn call(&mut self, block: u64, host: &mut SyscallHost) -> SyscallOutcome {
        let mut args = [0u64; 8];
        for (i, a) in args.iter_mut().enumerate() {
            match host.ram.read(block.wrapping_add(8 * i as u64), 8) {
                Some(v) => *a = v,
                // The block is not in RAM: nothing to answer into.
                None => return SyscallOutcome::Stop(ExitRequest::SyscallBlockOutsideRam(block)),
            }
        }
        let [number, a0, a1, a2, a3, ..] = args;
        let ret = match number {
            nr::WRITE => self.write(a0, a1, a2, host),
            nr::READ => self.read(a0, a1, a2, host),
            nr::OPENAT => self.openat(a0 as i64, a1, a2, a3, host),
            nr::CLOSE => self.close(a0),
            nr::FSTAT => self.fstat(a0, a1, host),
            nr::LSEEK => self.lseek(a0, a1 as i64, a2),
            nr::EXIT | nr::EXIT_GROUP => {
                return SyscallOutcome::Stop(ExitRequest::Exit(a0 as u32));
            }
            other => return SyscallOutcome::Stop(ExitRequest::UnsupportedSyscall(other)),
        };
        SyscallOutcome::Return(ret)
    }

    /// The guest bytes `[addr, addr + len)`, if they are all RAM.
    fn guest_bytes(ram: &Ram, addr: u64, len: u64) -> Option<&[u8]> {
        let off = ram.offset_of(addr, len)?;
        Some(&ram.as_slice()[off..off + len as usize])
    }

    fn write(&mut self, fd: u64, buf: u64, len: u64, host: &mut SyscallHost) -> i64 {
        let len = len.min(IO_CHUNK);
        let Some(bytes) = Self::guest_bytes(host.ram, buf, len) else {
            return -errno::EFAULT;
        };
        match fd {
            1 => {
                host.stdout.extend_from_slice(bytes);
                len as i64
            }
            2 => {
                // stdout bytes come first so interleaved output stays in program order.
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(host.stdout);
                let _ = out.flush();
                host.stdout.clear();
                let _ = std::io::stderr().write_all(bytes);
                len as i64
            }
            _ => match self.files.get_mut(&fd) {
                Some(f) => io_result(f.write(bytes)),
                None => -errno::EBADF,
            },
        }
    }

    fn read(&mut self, fd: u64, buf: u64, len: u64, host: &mut SyscallHost) -> i64 {
        let len = len.min(IO_CHUNK);
        let Some(off) = host.ram.offset_of(buf, len) else {
            return -errno::EFAULT;
        };
        let dst = host.ram.bytes_mut(off, len as usize);
        if fd == 0 {
            return match host.stdin.open() {
                Some(input) => read_console(&input, dst),
                // No console input: end of file.
                None => 0,
            };
        }
        match self.files.get_mut(&fd) {
            Some(f) => io_result(f.read(dst)),
            None => -errno::EBADF,
        }
    }

    fn openat(
        &mut self,
        dirfd: i64,
        path: u64,
        flags: u64,
        mode: u64,
        host: &mut SyscallHost,
    ) -> i64 {
        if dirfd != AT_FDCWD {
            return -errno::EBADF;
        }
        let Some(path) = guest_c_string(host.ram, path) else {
            return -errno::EFAULT;
        };
        let path = std::path::Path::new(&path);
        // Only paths below the working directory: a guest program must not reach the rest
        // of the host's files.
        if !path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return -errno::EPERM;
        }
        if self.files.len() >= MAX_OPEN_FILES {
            return -EMFILE;
        }
        let mut opts = std::fs::OpenOptions::new();
        match flags & O_ACCMODE {
            O_WRONLY => opts.write(true),
            O_RDWR => opts.read(true).write(true),
            0 => opts.read(true),
            _ => return -errno::EINVAL,
        };
        opts.append(flags & O_APPEND != 0)
            .truncate(flags & O_TRUNC != 0)
            .create(flags & O_CREAT != 0 && flags & O_EXCL == 0)
            .create_new(flags & O_CREAT != 0 && flags & O_EXCL != 0);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode((mode & 0o777) as u32);
        }
        match opts.open(path) {
            Ok(f) => {
                let fd = (FIRST_FILE_FD..)
                    .find(|fd| !self.files.contains_key(fd))
                    .unwrap_or(FIRST_FILE_FD);
                self.files.insert(fd, f);
                fd as i64
            }
            Err(e) => -os_errno(&e),
        }
    }

    fn close(&mut self, fd: u64) -> i64 {
        match fd {
            0..=2 => 0,
            _ => match self.files.remove(&fd) {
                Some(_) => 0,
                None => -errno::EBADF,
            },
        }
    }

    /// Fill a RISC-V Linux `struct stat` (asm-generic layout, 128 bytes).
    fn fstat(&mut self, fd: u64, buf: u64, host: &mut SyscallHost) -> i64 {
        use std::os::unix::fs::MetadataExt;
        const S_IFCHR: u64 = 0o020000;
        let mut st = [0u8; 128];
        let mut put = |at: usize, v: u64, size: usize| {
            st[at..at + size].copy_from_slice(&v.to_le_bytes()[..size]);
        };
        match fd {
            // A terminal-like character device, so C libraries line-buffer stdout.
            0..=2 => {
                put(16, S_IFCHR | 0o620, 4);
                put(20, 1, 4);
                put(56, 1024, 4);
            }
            _ => {
                let Some(f) = self.files.get(&fd) else {
                    return -errno::EBADF;
                };
                let m = match f.metadata() {
                    Ok(m) => m,
                    Err(e) => return -os_errno(&e),
                };
                put(0, m.dev(), 8);
                put(8, m.ino(), 8);
                put(16, m.mode() as u64, 4);
                put(20, m.nlink(), 4);
                put(24, m.uid() as u64, 4);
                put(28, m.gid() as u64, 4);
                put(32, m.rdev(), 8);
                put(48, m.size(), 8);
                put(56, m.blksize(), 4);
                put(64, m.blocks(), 8);
                put(72, m.atime() as u64, 8);
                put(80, m.atime_nsec() as u64, 8);
                put(88, m.mtime() as u64, 8);
                put(96, m.mtime_nsec() as u64, 8);
                put(104, m.ctime() as u64, 8);
                put(112, m.ctime_nsec() as u64, 8);
            }
        }
        if host.ram.load(buf, &st) {
            0
        } else {
            -errno::EFAULT
        }
    }

    fn lseek(&mut self, fd: u64, offset: i64, whence: u64) -> i64 {
        let Some(f) = self.files.get_mut(&fd) else {
            return -errno::EBADF;
        };
        let pos = match whence {
            0 if offset >= 0 => SeekFrom::Start(offset as u64),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return -errno::EINVAL,
        };
        match f.seek(pos) {
            Ok(p) => p as i64,
            Err(e) => -os_errno(&e),
        }
    }
}

/// Name of a syscall number the proxy knows of, for messages.
pub fn served_syscalls() -> &'static str {
    "write, read, openat, close, fstat, lseek, exit"
}

/// Read console input into `dst` as a terminal in canonical mode would: until a line
/// ends, `dst` is full, or the input ends (0 at once: end of file). Waiting for the line
/// makes the result independent of how the host's stdin thread happened to split it.
fn read_console(input: &crate::devices::console::ConsoleInput, dst: &mut [u8]) -> i64 {
    if dst.is_empty() {
        return 0;
    }
    let mut n = 0;
    loop {
        while n < dst.len() {
            match input.pop() {
                Some(b) => {
                    dst[n] = b;
                    n += 1;
                    if b == b'\n' {
                        return n as i64;
                    }
                }
                None => break,
            }
        }
        if n == dst.len() || !input.is_open() {
            return n as i64;
        }
        if crate::machine::STOP_REQUESTED.load(std::sync::atomic::Ordering::Relaxed) {
            return if n > 0 { n as i64 } else { -4 }; // EINTR
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The NUL-terminated string at guest address `addr` (at most [`PATH_MAX`] bytes).
fn guest_c_string(ram: &Ram, addr: u64) -> Option<String> {
    let mut bytes = Vec::new();
    for i in 0..PATH_MAX as u64 {
        let b = ram.read(addr.checked_add(i)?, 1)? as u8;
        if b == 0 {
            return String::from_utf8(bytes).ok();
        }
        bytes.push(b);
    }
    None
}

fn os_errno(e: &std::io::Error) -> i64 {
    e.raw_os_error().map_or(errno::EINVAL, |n| n as i64)
}

fn io_result(r: std::io::Result<usize>) -> i64 {
    match r {
        Ok(n) => n as i64,
        Err(e) => -os_errno(&e),
    }
}

//! A 9P2000.L file server confined to one host directory.
//!
//! Confinement does not depend on paths: the root is an open directory descriptor, and
//! every fid holds an `O_PATH` descriptor reached from it one name at a time with
//! `openat(dir, name, O_PATH | O_NOFOLLOW)`. A name is never a path: names containing
//! `/`, empty names and NUL bytes are refused, so the kernel never resolves more than one
//! component on the guest's behalf and never follows a symbolic link (links are returned
//! to the guest as text by `readlink`; the guest resolves them in its own namespace). `..`
//! is not passed to the host either: each fid remembers its names from the root, and `..`
//! drops the last one (at the root it stays at the root, as `/..` does) and walks again
//! from the root descriptor. Operations that need a readable or writable descriptor reopen
//! the fid's own inode through `/proc/self/fd/N` after checking its type with `fstat`:
//! only regular files and directories are opened; a device node, FIFO or socket gives
//! `EPERM`, a symbolic link `ELOOP`. Files are created with `O_CREAT | O_EXCL |
//! O_NOFOLLOW`, so creating never opens an existing node. `mknod` is refused, and `link`
//! only takes regular files of the share. A read-only share answers `EROFS` to every
//! request that would change the tree or a file.
//!
//! Every request is bounded: the message is at most the negotiated `msize`, every field
//! is checked against the message (`wire::Reader`), a reply never exceeds the buffer the
//! guest gave for it, a walk takes at most 16 names, and the number of fids is capped.

use super::wire::{Reader, Truncated, Writer};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, CWD};
use rustix::io::Errno;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Largest message we accept: Linux's virtio transport asks for 512 KiB.
pub const MAX_MSIZE: u32 = 512 * 1024 + 4096;
/// Smallest useful `msize`: a header plus a directory entry with a long name.
const MIN_MSIZE: u32 = 4096;
/// Walk elements per Twalk (the protocol's MAXWELEM).
const MAX_WALK: usize = 16;
/// Fids a guest may hold at once; each holds a host file descriptor.
pub const MAX_FIDS: usize = 4096;
/// Entries of one directory listing kept for readdir.
const MAX_DIR_ENTRIES: usize = 1 << 20;
/// Size of a reply header: size, type, tag.
const HEADER: usize = 7;
const NOFID: u32 = u32::MAX;

// Message types (9P2000.L and the 9P2000 ones it keeps).
const RLERROR: u8 = 7;
const TSTATFS: u8 = 8;
const TLOPEN: u8 = 12;
const TLCREATE: u8 = 14;
const TSYMLINK: u8 = 16;
const TMKNOD: u8 = 18;
const TRENAME: u8 = 20;
const TREADLINK: u8 = 22;
const TGETATTR: u8 = 24;
const TSETATTR: u8 = 26;
const TXATTRWALK: u8 = 30;
const TXATTRCREATE: u8 = 32;
const TREADDIR: u8 = 40;
const TFSYNC: u8 = 50;
const TLOCK: u8 = 52;
const TGETLOCK: u8 = 54;
const TLINK: u8 = 70;
const TMKDIR: u8 = 72;
const TRENAMEAT: u8 = 74;
const TUNLINKAT: u8 = 76;
const TVERSION: u8 = 100;
const TAUTH: u8 = 102;
const TATTACH: u8 = 104;
const TFLUSH: u8 = 108;
const TWALK: u8 = 110;
const TREAD: u8 = 116;
const TWRITE: u8 = 118;
const TCLUNK: u8 = 120;
const TREMOVE: u8 = 122;

const QID_DIR: u8 = 0x80;
const QID_SYMLINK: u8 = 0x02;
const QID_FILE: u8 = 0;

// Linux open flags as 9P2000.L carries them.
const L_ACCMODE: u32 = 3;
const L_RDONLY: u32 = 0;
const L_TRUNC: u32 = 0o1000;
const L_APPEND: u32 = 0o2000;
const L_EXCL: u32 = 0o200;
const AT_REMOVEDIR: u32 = 0x200;

// Tsetattr valid bits.
const SET_MODE: u32 = 1;
const SET_UID: u32 = 2;
const SET_GID: u32 = 4;
const SET_SIZE: u32 = 8;
const SET_ATIME: u32 = 16;
const SET_MTIME: u32 = 32;
const SET_ATIME_SET: u32 = 128;
const SET_MTIME_SET: u32 = 256;

/// Rgetattr: every basic field is valid (P9_GETATTR_BASIC).
const GETATTR_BASIC: u64 = 0x7ff;
const LOCK_SUCCESS: u8 = 0;
const LOCK_TYPE_UNLOCK: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    /// Device nodes, FIFOs and sockets: visible, never opened.
    Other,
}

fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

struct DirEntry {
    name: Vec<u8>,
    ino: u64,
    dtype: u8,
}

enum Opened {
    File(File),
    /// A directory opened for reading; its listing is taken at offset 0.
    Dir(File, Vec<DirEntry>),
}

struct Fid {
    /// `O_PATH` descriptor of the fid's inode, reached from the root.
    path_fd: Arc<OwnedFd>,
    /// Names from the root (for `..` and Trename).
    names: Vec<Vec<u8>>,
    kind: Kind,
    opened: Option<Opened>,
}

/// A share served over 9P2000.L.
pub struct Server {
    root: Arc<OwnedFd>,
    read_only: bool,
    msize: u32,
    fids: HashMap<u32, Fid>,
}

type Res<T> = Result<T, Errno>;

impl From<Truncated> for Errno {
    fn from(_: Truncated) -> Errno {
        Errno::INVAL
    }
}

/// A single name as the guest gives it: no separators, no NUL, not empty.
fn check_name(name: &[u8]) -> Res<()> {
    if name.is_empty() || name.len() > 255 || name.contains(&b'/') || name.contains(&0) {
        return Err(Errno::INVAL);
    }
    Ok(())
}

/// A new entry's name: also not `.` or `..`.
fn check_new_name(name: &[u8]) -> Res<()> {
    check_name(name)?;
    if name == b"." || name == b".." {
        return Err(Errno::EXIST);
    }
    Ok(())
}

fn qid_of(stat: &rustix::fs::Stat) -> (u8, u32, u64) {
    let ty = match kind_of(stat.st_mode) {
        Kind::Dir => QID_DIR,
        Kind::Symlink => QID_SYMLINK,
        _ => QID_FILE,
    };
    (ty, stat.st_mtime as u32, stat.st_ino)
}

fn put_qid(w: &mut Writer, q: (u8, u32, u64)) {
    w.u8(q.0);
    w.u32(q.1);
    w.u64(q.2);
}

fn open_path_beneath(dir: impl AsFd, name: &[u8]) -> Res<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The `/proc` path of a descriptor we hold: opening it reaches exactly that inode.
fn proc_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

impl Server {
    /// Serve the directory open as `root` (an `O_PATH` or ordinary directory descriptor).
    pub fn new(root: Arc<OwnedFd>, read_only: bool) -> Server {
        Server {
            root,
            read_only,
            msize: MAX_MSIZE,
            fids: HashMap::new(),
        }
    }

    /// The negotiated message size (what the guest may send, and what replies may take).
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// Answer one request. `max_reply` is the room the guest gave for the answer. An
    /// empty result means the request had no readable header (no tag to answer to).
    pub fn handle(&mut self, request: &[u8], max_reply: usize) -> Vec<u8> {
        let mut r = Reader::new(request);
        let (Ok(_size), Ok(kind), Ok(tag)) = (r.u32(), r.u8(), r.u16()) else {
            return Vec::new();
        };
        let room = max_reply.min(self.msize as usize);
        let reply = match self.dispatch(kind, tag, &mut r, room) {
            Ok(w) => w.finish(),
            Err(e) => {
                let mut w = Writer::new(RLERROR, tag);
                w.u32(e.raw_os_error() as u32);
                w.finish()
            }
        };
        if reply.len() > max_reply {
            // Only a guest that offers less than an error's 11 bytes gets here.
            let mut w = Writer::new(RLERROR, tag);
            w.u32(Errno::RANGE.raw_os_error() as u32);
            let e = w.finish();
            return if e.len() <= max_reply { e } else { Vec::new() };
        }
        reply
    }

    fn dispatch(&mut self, kind: u8, tag: u16, r: &mut Reader, room: usize) -> Res<Writer> {
        let mut w = Writer::new(kind.wrapping_add(1), tag);
        match kind {
            TVERSION => self.version(r, &mut w)?,
            TAUTH => return Err(Errno::OPNOTSUPP),
            TATTACH => self.attach(r, &mut w)?,
            TFLUSH => {
                // Every request is answered before the next is read: nothing to cancel.
                r.u16()?;
            }
            TWALK => self.walk(r, &mut w)?,
            TLOPEN => self.lopen(r, &mut w)?,
            TLCREATE => self.lcreate(r, &mut w)?,
            TREAD => self.read(r, &mut w, room)?,
            TWRITE => self.write(r, &mut w)?,
            TCLUNK => {
                let fid = r.u32()?;
                self.fids.remove(&fid).ok_or(Errno::BADF)?;
            }
            TREMOVE => self.remove(r)?,
            TGETATTR => self.getattr(r, &mut w)?,
            TSETATTR => self.setattr(r)?,
            TREADDIR => self.readdir(r, &mut w, room)?,
            TMKDIR => self.mkdir(r, &mut w)?,
            TSYMLINK => self.symlink(r, &mut w)?,
            TMKNOD => {
                self.writable()?;
                return Err(Errno::PERM);
            }
            TREADLINK => {
                let fid = self.fid(r.u32()?)?;
                if fid.kind != Kind::Symlink {
                    return Err(Errno::INVAL);
                }
                let target = rustix::fs::readlinkat(&*fid.path_fd, c"", Vec::new())?;
                w.string(target.as_bytes());
            }
            TUNLINKAT => self.unlinkat(r)?,
            TRENAMEAT => self.renameat(r)?,
            TRENAME => self.rename(r)?,
            TLINK => self.link(r)?,
            TSTATFS => self.statfs(r, &mut w)?,
            TFSYNC => {
                let fid = self.fid(r.u32()?)?;
                match &fid.opened {
                    Some(Opened::File(f)) | Some(Opened::Dir(f, _)) => rustix::fs::fsync(f)?,
                    None => {}
                }
            }
            TLOCK => {
                // Locks are the guest's business: one guest is the only client, and the
                // host's own processes do not see its locks (as with a local file system
                // mounted by one machine).
                self.fid(r.u32()?)?;
                w.u8(LOCK_SUCCESS);
            }
            TGETLOCK => {
                self.fid(r.u32()?)?;
                let _ty = r.u8()?;
                let start = r.u64()?;
                let length = r.u64()?;
                let proc_id = r.u32()?;
                let client = r.string()?;
                w.u8(LOCK_TYPE_UNLOCK);
                w.u64(start);
                w.u64(length);
                w.u32(proc_id);
                w.string(client);
            }
            TXATTRWALK | TXATTRCREATE => return Err(Errno::OPNOTSUPP),
            _ => return Err(Errno::OPNOTSUPP),
        }
        Ok(w)
    }

    fn writable(&self) -> Res<()> {
        if self.read_only {
            Err(Errno::ROFS)
        } else {
            Ok(())
        }
    }

    fn fid(&self, fid: u32) -> Res<&Fid> {
        self.fids.get(&fid).ok_or(Errno::BADF)
    }

    fn fid_mut(&mut self, fid: u32) -> Res<&mut Fid> {
        self.fids.get_mut(&fid).ok_or(Errno::BADF)
    }

    /// A directory fid, for operations on its entries.
    fn dir_fid(&self, fid: u32) -> Res<&Fid> {
        let f = self.fid(fid)?;
        if f.kind != Kind::Dir {
            return Err(Errno::NOTDIR);
        }
        Ok(f)
    }

    fn insert_fid(&mut self, id: u32, fid: Fid) -> Res<()> {
        if id == NOFID {
            return Err(Errno::BADF);
        }
        if !self.fids.contains_key(&id) && self.fids.len() >= MAX_FIDS {
            return Err(Errno::MFILE);
        }
        self.fids.insert(id, fid);
        Ok(())
    }

    /// Walk `names` (already reduced: no `.` or `..`) from the root.
    fn open_from_root(&self, names: &[Vec<u8>]) -> Res<Arc<OwnedFd>> {
        let mut fd = self.root.clone();
        for name in names {
            fd = Arc::new(open_path_beneath(&*fd, name)?);
        }
        Ok(fd)
    }

    fn version(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let msize = r.u32()?;
        let version = r.string()?;
        // A new version starts a new session: every fid is gone.
        self.fids.clear();
        self.msize = msize.clamp(MIN_MSIZE, MAX_MSIZE);
        w.u32(self.msize);
        if version.starts_with(b"9P2000.L") {
            w.string(b"9P2000.L");
        } else {
            w.string(b"unknown");
        }
        Ok(())
    }

    fn attach(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let fid = r.u32()?;
        let _afid = r.u32()?;
        let _uname = r.string()?;
        let _aname = r.string()?;
        let _n_uname = r.u32()?;
        if self.fids.contains_key(&fid) {
            return Err(Errno::BADF);
        }
        let stat = rustix::fs::fstat(&*self.root)?;
        self.insert_fid(
            fid,
            Fid {
                path_fd: self.root.clone(),
                names: Vec::new(),
                kind: Kind::Dir,
                opened: None,
            },
        )?;
        put_qid(w, qid_of(&stat));
        Ok(())
    }

    fn walk(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let fid = r.u32()?;
        let newfid = r.u32()?;
        let n = r.u16()? as usize;
        if n > MAX_WALK {
            return Err(Errno::INVAL);
        }
        let mut wnames = Vec::with_capacity(n);
        for _ in 0..n {
            wnames.push(r.string()?);
        }
        if newfid != fid && self.fids.contains_key(&newfid) {
            return Err(Errno::BADF);
        }
        let start = self.fid(fid)?;
        let mut fd = start.path_fd.clone();
        let mut names = start.names.clone();
        let mut kind = start.kind;
        let mut qids = Vec::with_capacity(n);
        let mut failure = None;
        for name in wnames {
            let step = (|| -> Res<(Arc<OwnedFd>, rustix::fs::Stat)> {
                check_name(name)?;
                if kind != Kind::Dir {
                    return Err(Errno::NOTDIR);
                }
                let next = match name {
                    b"." => fd.clone(),
                    b".." => {
                        names.pop();
                        self.open_from_root(&names)?
                    }
                    _ => {
                        let next = Arc::new(open_path_beneath(&*fd, name)?);
                        names.push(name.to_vec());
                        next
                    }
                };
                let stat = rustix::fs::fstat(&*next)?;
                Ok((next, stat))
            })();
            match step {
                Ok((next, stat)) => {
                    fd = next;
                    kind = kind_of(stat.st_mode);
                    qids.push(qid_of(&stat));
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            // An error on the first name is the reply; later ones end the walk short.
            if qids.is_empty() {
                return Err(e);
            }
        } else {
            self.insert_fid(
                newfid,
                Fid {
                    path_fd: fd,
                    names,
                    kind,
                    opened: None,
                },
            )?;
        }
        w.u16(qids.len() as u16);
        for q in qids {
            put_qid(w, q);
        }
        Ok(())
    }

    fn lopen(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let id = r.u32()?;
        let flags = r.u32()?;
        let read_only = self.read_only;
        let msize = self.msize;
        let fid = self.fid_mut(id)?;
        if fid.opened.is_some() {
            return Err(Errno::BADF);
        }
        let access = flags & L_ACCMODE;
        if read_only && (access != L_RDONLY || flags & L_TRUNC != 0) {
            return Err(Errno::ROFS);
        }
        let stat = rustix::fs::fstat(&*fid.path_fd)?;
        let path = proc_path(&fid.path_fd);
        let opened = match kind_of(stat.st_mode) {
            Kind::Dir => {
                if access != L_RDONLY {
                    return Err(Errno::ISDIR);
                }
                let f = rustix::fs::openat(
                    CWD,
                    path.as_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                Opened::Dir(File::from(f), Vec::new())
            }
            Kind::File => {
                let f = rustix::fs::openat(
                    CWD,
                    path.as_str(),
                    open_flags(flags) | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                Opened::File(File::from(f))
            }
            Kind::Symlink => return Err(Errno::LOOP),
            Kind::Other => return Err(Errno::PERM),
        };
        fid.opened = Some(opened);
        put_qid(w, qid_of(&stat));
        w.u32(msize - 24);
        Ok(())
    }

    fn lcreate(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let id = r.u32()?;
        let name = r.string()?;
        let flags = r.u32()?;
        let mode = r.u32()?;
        let _gid = r.u32()?;
        self.writable()?;
        check_new_name(name)?;
        let msize = self.msize;
        let dir = self.dir_fid(id)?;
        if dir.opened.is_some() {
            return Err(Errno::BADF);
        }
        // O_EXCL always: creating never opens a node that is already there (a device
        // node or FIFO put in the share on the host, or a symbolic link).
        let file = rustix::fs::openat(
            &*dir.path_fd,
            name,
            open_flags(flags & !L_TRUNC)
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o777),
        )?;
        let path_fd = Arc::new(open_path_beneath(&*dir.path_fd, name)?);
        let stat = rustix::fs::fstat(&file)?;
        let mut names = dir.names.clone();
        names.push(name.to_vec());
        let fid = self.fid_mut(id)?;
        *fid = Fid {
            path_fd,
            names,
            kind: Kind::File,
            opened: Some(Opened::File(File::from(file))),
        };
        put_qid(w, qid_of(&stat));
        w.u32(msize - 24);
        Ok(())
    }

    fn read(&mut self, r: &mut Reader, w: &mut Writer, room: usize) -> Res<()> {
        let fid = self.fid(r.u32()?)?;
        let offset = r.u64()?;
        let count = r.u32()? as usize;
        let file = match &fid.opened {
            Some(Opened::File(f)) => f,
            Some(Opened::Dir(..)) => return Err(Errno::ISDIR),
            None => return Err(Errno::BADF),
        };
        let n = count.min(room.saturating_sub(HEADER + 4));
        let at = w.buf.len();
        w.u32(0);
        w.buf.resize(at + 4 + n, 0);
        let got = read_full_at(file, &mut w.buf[at + 4..], offset)?;
        w.buf.truncate(at + 4 + got);
        w.buf[at..at + 4].copy_from_slice(&(got as u32).to_le_bytes());
        Ok(())
    }

    fn write(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let fid = self.fid(r.u32()?)?;
        let offset = r.u64()?;
        let count = r.u32()? as usize;
        let data = r.rest();
        let data = &data[..count.min(data.len())];
        let file = match &fid.opened {
            Some(Opened::File(f)) => f,
            Some(Opened::Dir(..)) => return Err(Errno::ISDIR),
            None => return Err(Errno::BADF),
        };
        if self.read_only {
            return Err(Errno::ROFS);
        }
        let n = file.write_at(data, offset).map_err(io_errno)?;
        w.u32(n as u32);
        Ok(())
    }

    fn remove(&mut self, r: &mut Reader) -> Res<()> {
        let id = r.u32()?;
        // Tremove clunks the fid whatever happens.
        let fid = self.fids.remove(&id).ok_or(Errno::BADF)?;
        self.writable()?;
        let (name, parent) = fid.names.split_last().ok_or(Errno::BUSY)?;
        let dir = self.open_from_root(parent)?;
        let flags = if fid.kind == Kind::Dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rustix::fs::unlinkat(&*dir, name.as_slice(), flags)
    }

    fn getattr(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let fid = self.fid(r.u32()?)?;
        let _mask = r.u64()?;
        let s = rustix::fs::fstat(&*fid.path_fd)?;
        w.u64(GETATTR_BASIC);
        put_qid(w, qid_of(&s));
        w.u32(s.st_mode);
        w.u32(s.st_uid);
        w.u32(s.st_gid);
        w.u64(s.st_nlink as u64);
        w.u64(s.st_rdev as u64);
        w.u64(s.st_size as u64);
        w.u64(s.st_blksize as u64);
        w.u64(s.st_blocks as u64);
        for (sec, nsec) in [
            (s.st_atime as u64, s.st_atime_nsec as u64),
            (s.st_mtime as u64, s.st_mtime_nsec as u64),
            (s.st_ctime as u64, s.st_ctime_nsec as u64),
            (0, 0),
        ] {
            w.u64(sec);
            w.u64(nsec);
        }
        w.u64(0); // gen
        w.u64(0); // data_version
        Ok(())
    }

    fn setattr(&mut self, r: &mut Reader) -> Res<()> {
        let fid = self.fid(r.u32()?)?;
        let valid = r.u32()?;
        let mode = r.u32()?;
        let uid = r.u32()?;
        let gid = r.u32()?;
        let size = r.u64()?;
        let atime = (r.u64()?, r.u64()?);
        let mtime = (r.u64()?, r.u64()?);
        self.writable()?;
        let path = proc_path(&fid.path_fd);
        if valid & SET_MODE != 0 {
            rustix::fs::chmodat(
                CWD,
                path.as_str(),
                Mode::from_raw_mode(mode & 0o7777),
                AtFlags::empty(),
            )?;
        }
        if valid & (SET_UID | SET_GID) != 0 {
            // An id of -1 means "unchanged" to chown(2); rustix rejects it as an id, so
            // it is taken as not asked for.
            let owner =
                (valid & SET_UID != 0 && uid != u32::MAX).then(|| rustix::fs::Uid::from_raw(uid));
            let group =
                (valid & SET_GID != 0 && gid != u32::MAX).then(|| rustix::fs::Gid::from_raw(gid));
            rustix::fs::chownat(CWD, path.as_str(), owner, group, AtFlags::empty())?;
        }
        if valid & SET_SIZE != 0 {
            if fid.kind != Kind::File {
                return Err(Errno::INVAL);
            }
            let f = rustix::fs::openat(
                CWD,
                path.as_str(),
                OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            rustix::fs::ftruncate(&f, size)?;
        }
        if valid & (SET_ATIME | SET_MTIME) != 0 {
            let time = |set: u32, given: u32, (sec, nsec): (u64, u64)| {
                if valid & set == 0 {
                    Timespec {
                        tv_sec: 0,
                        tv_nsec: rustix::fs::UTIME_OMIT,
                    }
                } else if valid & given != 0 {
                    Timespec {
                        tv_sec: sec as i64,
                        tv_nsec: nsec.min(999_999_999) as _,
                    }
                } else {
                    Timespec {
                        tv_sec: 0,
                        tv_nsec: rustix::fs::UTIME_NOW,
                    }
                }
            };
            let times = Timestamps {
                last_access: time(SET_ATIME, SET_ATIME_SET, atime),
                last_modification: time(SET_MTIME, SET_MTIME_SET, mtime),
            };
            rustix::fs::utimensat(CWD, path.as_str(), &times, AtFlags::empty())?;
        }
        Ok(())
    }

    fn readdir(&mut self, r: &mut Reader, w: &mut Writer, room: usize) -> Res<()> {
        let id = r.u32()?;
        let offset = r.u64()?;
        let count = r.u32()? as usize;
        let fid = self.fid_mut(id)?;
        let (dir, entries) = match &mut fid.opened {
            Some(Opened::Dir(f, e)) => (f, e),
            _ => return Err(Errno::BADF),
        };
        if offset == 0 {
            *entries = list_dir(dir)?;
        }
        let limit = count.min(room.saturating_sub(HEADER + 4));
        let at = w.buf.len();
        w.u32(0);
        let mut used = 0usize;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, e) in entries.iter().enumerate().skip(start) {
            let len = 13 + 8 + 1 + 2 + e.name.len();
            if used + len > limit {
                break;
            }
            let qtype = match e.dtype {
                4 => QID_DIR,
                10 => QID_SYMLINK,
                _ => QID_FILE,
            };
            put_qid(w, (qtype, 0, e.ino));
            w.u64(i as u64 + 1);
            w.u8(e.dtype);
            w.string(&e.name);
            used += len;
        }
        w.buf[at..at + 4].copy_from_slice(&(used as u32).to_le_bytes());
        Ok(())
    }

    fn mkdir(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let id = r.u32()?;
        let name = r.string()?;
        let mode = r.u32()?;
        let _gid = r.u32()?;
        self.writable()?;
        check_new_name(name)?;
        let dir = self.dir_fid(id)?;
        rustix::fs::mkdirat(&*dir.path_fd, name, Mode::from_raw_mode(mode & 0o7777))?;
        let stat = rustix::fs::statat(&*dir.path_fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        put_qid(w, qid_of(&stat));
        Ok(())
    }

    fn symlink(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        let id = r.u32()?;
        let name = r.string()?;
        let target = r.string()?;
        let _gid = r.u32()?;
        self.writable()?;
        check_new_name(name)?;
        if target.is_empty() || target.contains(&0) {
            return Err(Errno::INVAL);
        }
        let dir = self.dir_fid(id)?;
        // The target is stored as text; this server never follows it.
        rustix::fs::symlinkat(target, &*dir.path_fd, name)?;
        let stat = rustix::fs::statat(&*dir.path_fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        put_qid(w, qid_of(&stat));
        Ok(())
    }

    fn unlinkat(&mut self, r: &mut Reader) -> Res<()> {
        let id = r.u32()?;
        let name = r.string()?;
        let flags = r.u32()?;
        self.writable()?;
        check_new_name(name)?;
        let dir = self.dir_fid(id)?;
        let at = if flags & AT_REMOVEDIR != 0 {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rustix::fs::unlinkat(&*dir.path_fd, name, at)
    }

    fn renameat(&mut self, r: &mut Reader) -> Res<()> {
        let old_dir = r.u32()?;
        let old_name = r.string()?;
        let new_dir = r.u32()?;
        let new_name = r.string()?;
        self.writable()?;
        check_new_name(old_name)?;
        check_new_name(new_name)?;
        let from = self.dir_fid(old_dir)?;
        let to = self.dir_fid(new_dir)?;
        rustix::fs::renameat(&*from.path_fd, old_name, &*to.path_fd, new_name)
    }

    fn rename(&mut self, r: &mut Reader) -> Res<()> {
        let id = r.u32()?;
        let new_dir = r.u32()?;
        let new_name = r.string()?;
        self.writable()?;
        check_new_name(new_name)?;
        let fid = self.fid(id)?;
        let (old_name, parent) = fid.names.split_last().ok_or(Errno::BUSY)?;
        let from = self.open_from_root(parent)?;
        let to = self.dir_fid(new_dir)?;
        rustix::fs::renameat(&*from, old_name.as_slice(), &*to.path_fd, new_name)
    }

    fn link(&mut self, r: &mut Reader) -> Res<()> {
        let dir = r.u32()?;
        let target = r.u32()?;
        let name = r.string()?;
        self.writable()?;
        check_new_name(name)?;
        let dir = self.dir_fid(dir)?;
        let target = self.fid(target)?;
        if target.kind != Kind::File {
            return Err(Errno::PERM);
        }
        rustix::fs::linkat(
            CWD,
            proc_path(&target.path_fd).as_str(),
            &*dir.path_fd,
            name,
            AtFlags::SYMLINK_FOLLOW,
        )
    }

    fn statfs(&mut self, r: &mut Reader, w: &mut Writer) -> Res<()> {
        self.fid(r.u32()?)?;
        let s = rustix::fs::fstatfs(&*self.root)?;
        w.u32(s.f_type as u32);
        w.u32(s.f_bsize as u32);
        w.u64(s.f_blocks);
        w.u64(s.f_bfree);
        w.u64(s.f_bavail);
        w.u64(s.f_files);
        w.u64(s.f_ffree);
        w.u64(0); // fsid
        w.u32(s.f_namelen as u32);
        Ok(())
    }
}

/// Host open flags for a 9P2000.L open: the access mode, truncate and append. Others
/// (O_DIRECT, O_NONBLOCK, O_SYNC, ...) are the guest's business.
fn open_flags(flags: u32) -> OFlags {
    let mut o = match flags & L_ACCMODE {
        1 => OFlags::WRONLY,
        2 => OFlags::RDWR,
        _ => OFlags::RDONLY,
    };
    if flags & L_TRUNC != 0 {
        o |= OFlags::TRUNC;
    }
    if flags & L_APPEND != 0 {
        o |= OFlags::APPEND;
    }
    if flags & L_EXCL != 0 {
        o |= OFlags::EXCL;
    }
    o
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_io_error(&e).unwrap_or(Errno::IO)
}

/// Read until `buf` is full or the file ends.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> Res<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset.saturating_add(got as u64)) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_errno(e)),
        }
    }
    Ok(got)
}

fn list_dir(dir: &File) -> Res<Vec<DirEntry>> {
    let mut out = Vec::new();
    let reader = rustix::fs::Dir::read_from(dir)?;
    for entry in reader {
        let entry = entry?;
        if out.len() >= MAX_DIR_ENTRIES {
            break;
        }
        let dtype = match entry.file_type() {
            FileType::Directory => 4,
            FileType::RegularFile => 8,
            FileType::Symlink => 10,
            FileType::Fifo => 1,
            FileType::CharacterDevice => 2,
            FileType::BlockDevice => 6,
            FileType::Socket => 12,
            FileType::Unknown => 0,
        };
        out.push(DirEntry {
            name: entry.file_name().to_bytes().to_vec(),
            ino: entry.ino(),
            dtype,
        });
    }
    Ok(out)
}

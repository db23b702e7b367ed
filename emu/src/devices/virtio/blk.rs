//! virtio block device (device ID 2) over a host file.
//!
//! Writes go to the file as they come (they persist, as with QEMU's default); FLUSH
//! requests and dropping the device sync it. In snapshot mode the file is never written:
//! writes land in an in-memory overlay of 512-byte sectors that dies with the machine.

use super::mmio::{config_bytes, VirtioBackend, Work};
use super::queue::{Chain, QueueError, QUEUE_MAX};
use crate::bus::Ram;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEVICE_ID: u32 = 2;
pub const SECTOR: u64 = 512;

const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_FLUSH: u64 = 1 << 9;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

const HEADER_LEN: usize = 16;
const ID_LEN: usize = 20;
const DISK_ID: &[u8] = b"emu-virtio-blk";
/// Requests are copied through a bounce buffer of at most this size, however large the
/// request: memory use does not grow with the transfer.
const CHUNK: usize = 64 * 1024;

/// A disk image opened for the machine (`--disk PATH`). Cloning shares the open file.
#[derive(Debug, Clone)]
pub struct DiskConfig {
    pub path: PathBuf,
    file: Arc<File>,
    /// Size of the file in bytes; the guest sees whole sectors of it.
    pub size: u64,
    /// False when the file could only be opened read-only.
    pub writable: bool,
}

impl DiskConfig {
    /// Open `path` read-write, or read-only when permissions allow no more (then the
    /// guest sees a read-only disk unless snapshot mode gives it an overlay).
    pub fn open(path: &Path) -> Result<DiskConfig, String> {
        let describe = |e: std::io::Error| {
            format!(
                "cannot open the disk image {}: {}",
                path.display(),
                crate::user_error::os_error(&e)
            )
        };
        let (file, writable) = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                (File::open(path).map_err(describe)?, false)
            }
            Err(e) => return Err(describe(e)),
        };
        let meta = file.metadata().map_err(describe)?;
        if !meta.is_file() {
            return Err(format!(
                "the disk image {} is not a regular file",
                path.display()
            ));
        }
        Ok(DiskConfig {
            path: path.to_path_buf(),
            file: Arc::new(file),
            size: meta.len(),
            writable,
        })
    }
}

pub struct Block {
    disk: DiskConfig,
    snapshot: bool,
    overlay: HashMap<u64, Box<[u8; SECTOR as usize]>>,
    config: [u8; 24],
}

impl Block {
    pub fn new(disk: DiskConfig, snapshot: bool) -> Self {
        let mut config = [0u8; 24];
        config[0..8].copy_from_slice(&(disk.size / SECTOR).to_le_bytes());
        // Two descriptors of every request are the header and the status byte.
        config[12..16].copy_from_slice(&(QUEUE_MAX as u32 - 2).to_le_bytes());
        Block {
            disk,
            snapshot,
            overlay: HashMap::new(),
            config,
        }
    }

    fn capacity_bytes(&self) -> u64 {
        self.disk.size / SECTOR * SECTOR
    }

    fn read_only(&self) -> bool {
        !self.disk.writable && !self.snapshot
    }

    /// Whether `[pos, pos + len)` is a whole-sector range inside the disk.
    fn in_bounds(&self, pos: u64, len: u64) -> bool {
        len.is_multiple_of(SECTOR)
            && pos
                .checked_add(len)
                .is_some_and(|e| e <= self.capacity_bytes())
    }

    fn read_disk(&self, pos: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.disk.file.read_exact_at(buf, pos)?;
        if !self.overlay.is_empty() {
            for (i, chunk) in buf.chunks_mut(SECTOR as usize).enumerate() {
                if let Some(s) = self.overlay.get(&(pos / SECTOR + i as u64)) {
                    chunk.copy_from_slice(&s[..chunk.len()]);
                }
            }
        }
        Ok(())
    }

    fn write_disk(&mut self, pos: u64, data: &[u8]) -> std::io::Result<()> {
        if !self.snapshot {
            return self.disk.file.write_all_at(data, pos);
        }
        for (i, chunk) in data.chunks(SECTOR as usize).enumerate() {
            let mut sector = Box::new([0u8; SECTOR as usize]);
            sector[..chunk.len()].copy_from_slice(chunk);
            self.overlay.insert(pos / SECTOR + i as u64, sector);
        }
        Ok(())
    }

    /// Device-to-guest transfer of `len` bytes at disk offset `pos`, continued from
    /// `work.done`. `None` when the budget ran out before the end.
    fn do_in(
        &self,
        chain: &Chain,
        ram: &mut Ram,
        pos: u64,
        len: u64,
        work: &mut Work,
    ) -> Option<u8> {
        if !self.in_bounds(pos, len) {
            return Some(S_IOERR);
        }
        let mut buf = vec![0u8; CHUNK.min(len.saturating_sub(work.done) as usize)];
        while work.done < len {
            let n = work.take((len - work.done).min(CHUNK as u64)) as usize;
            if n == 0 {
                return None;
            }
            if self.read_disk(pos + work.done, &mut buf[..n]).is_err() {
                return Some(S_IOERR);
            }
            chain.write_at(ram, work.done, &buf[..n]);
            work.done += n as u64;
        }
        Some(S_OK)
    }

    /// Guest-to-device transfer of `len` bytes to disk offset `pos`, continued from
    /// `work.done`. `None` when the budget ran out before the end.
    fn do_out(
        &mut self,
        chain: &Chain,
        ram: &Ram,
        pos: u64,
        len: u64,
        work: &mut Work,
    ) -> Option<u8> {
        if self.read_only() || !self.in_bounds(pos, len) {
            return Some(S_IOERR);
        }
        let mut buf = vec![0u8; CHUNK.min(len.saturating_sub(work.done) as usize)];
        while work.done < len {
            let n = work.take((len - work.done).min(CHUNK as u64)) as usize;
            if n == 0 {
                return None;
            }
            chain.read_at(ram, HEADER_LEN as u64 + work.done, &mut buf[..n]);
            if self.write_disk(pos + work.done, &buf[..n]).is_err() {
                return Some(S_IOERR);
            }
            work.done += n as u64;
        }
        Some(S_OK)
    }

    fn flush(&self) -> u8 {
        if self.snapshot || !self.disk.writable {
            return S_OK;
        }
        match self.disk.file.sync_data() {
            Ok(()) => S_OK,
            Err(_) => S_IOERR,
        }
    }
}

impl VirtioBackend for Block {
    /// The disk's identity is the snapshot's configuration; here only what the guest
    /// wrote into the in-memory overlay (`--snapshot`), in sector order.
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        w.bool(self.snapshot);
        let mut sectors: Vec<&u64> = self.overlay.keys().collect();
        sectors.sort_unstable();
        w.u64(sectors.len() as u64);
        for s in sectors {
            w.u64(*s);
            w.buf.extend_from_slice(&self.overlay[s][..]);
        }
        Ok(())
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        if r.bool()? != self.snapshot {
            return Err(r.error("was saved with another --snapshot setting"));
        }
        let n = r.len(8 + SECTOR as usize)?;
        self.overlay.clear();
        for _ in 0..n {
            let sector = r.u64()?;
            if sector >= self.disk.size.div_ceil(SECTOR) {
                return Err(r.error("holds a sector beyond the end of the disk"));
            }
            let mut data = Box::new([0u8; SECTOR as usize]);
            data.copy_from_slice(r.take(SECTOR as usize)?);
            self.overlay.insert(sector, data);
        }
        Ok(())
    }
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        let ro = if self.read_only() { F_RO } else { 0 };
        F_SEG_MAX | F_FLUSH | ro
    }

    fn num_queues(&self) -> usize {
        1
    }

    fn read_config(&self, offset: u64, size: usize) -> u64 {
        config_bytes(&self.config, offset, size)
    }

    fn process(
        &mut self,
        _queue: usize,
        chain: &Chain,
        ram: &mut Ram,
        work: &mut Work,
    ) -> Result<Option<u32>, QueueError> {
        // A partly served request reads its header again: the driver may not touch a
        // request it has handed over, and if it does, the bounds checks below still hold.
        let mut header = [0u8; HEADER_LEN];
        let writable = chain.writable_len();
        if chain.read_at(ram, 0, &mut header) < HEADER_LEN || writable == 0 {
            return Err(QueueError::Malformed);
        }
        let kind = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default());
        let sector = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let data_in = writable - 1;
        let pos = sector.checked_mul(SECTOR);
        let (status, data_written) = match (kind, pos) {
            (T_IN, Some(pos)) => match self.do_in(chain, ram, pos, data_in, work) {
                None => return Ok(None),
                Some(s) => (s, if s == S_OK { data_in } else { 0 }),
            },
            (T_OUT, Some(pos)) => {
                let len = chain.readable_len() - HEADER_LEN as u64;
                match self.do_out(chain, ram, pos, len, work) {
                    None => return Ok(None),
                    Some(s) => (s, 0),
                }
            }
            (T_IN | T_OUT, None) => (S_IOERR, 0),
            (T_FLUSH, _) => (self.flush(), 0),
            (T_GET_ID, _) => {
                let mut id = [0u8; ID_LEN];
                id[..DISK_ID.len()].copy_from_slice(DISK_ID);
                let n = (data_in as usize).min(ID_LEN);
                chain.write_at(ram, 0, &id[..n]);
                (S_OK, n as u64)
            }
            _ => (S_UNSUPP, 0),
        };
        chain.write_at(ram, writable - 1, &[status]);
        Ok(Some((data_written + 1).min(u32::MAX as u64) as u32))
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.flush();
    }
}

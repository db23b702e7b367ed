//! virtio 9P transport (device ID 9): a host directory shared with the guest (`--share`).
//!
//! The guest mounts it with `mount -t 9p -o trans=virtio,version=9p2000.L TAG DIR`; the
//! configuration space holds the mount tag (a 16-bit length, then the bytes), announced
//! by feature bit 0 (VIRTIO_9P_MOUNT_TAG). Each request is one descriptor chain: the
//! message in the driver's buffers, the reply written into the device's buffers.
//!
//! The server is our own ([`server`]), not the `p9` crate (crosvm's, BSD-3): that crate
//! walks a guest's names with a plain `openat(dir, name)` and relies on running inside
//! crosvm's jail (a pivot_root into the shared directory) to keep `..` and multi-component
//! names from leaving the share; it also has no read-only mode. emu runs as an ordinary
//! process with no jail, so confinement has to be in the server itself (see
//! [`server`]'s documentation for how it is done).
//!
//! Work per request is bounded: a request is served only once the device's work credit
//! has paid for the bytes its buffers can move (up to twice the negotiated `msize`), the
//! credit accumulating across steps as with a large block request.

pub mod server;
pub mod wire;

use super::mmio::{config_bytes, VirtioBackend, Work};
use super::queue::{Chain, QueueError};
use crate::bus::Ram;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEVICE_ID: u32 = 9;
const F_MOUNT_TAG: u64 = 1;
/// Longest mount tag accepted (Linux reads the tag into a fixed-size name).
pub const MAX_TAG_LEN: usize = 64;
pub const DEFAULT_TAG: &str = "share";

/// A host directory to share (`--share HOSTDIR[,tag=TAG][,ro]`), opened by the caller.
#[derive(Debug, Clone)]
pub struct ShareConfig {
    pub path: PathBuf,
    pub tag: String,
    pub read_only: bool,
    root: Arc<OwnedFd>,
}

impl ShareConfig {
    /// Parse the `--share` argument (the directory part may not contain a comma).
    /// Errors are one sentence naming the problem.
    pub fn parse(spec: &str) -> Result<(PathBuf, String, bool), String> {
        let mut parts = spec.split(',');
        let dir = parts.next().unwrap_or_default();
        if dir.is_empty() {
            return Err(format!(
                "--share {spec:?} names no directory: use --share HOSTDIR[,tag=TAG][,ro]"
            ));
        }
        let mut tag = DEFAULT_TAG.to_string();
        let mut read_only = false;
        for opt in parts {
            match opt.split_once('=') {
                None if opt == "ro" => read_only = true,
                Some(("tag", t)) => tag = t.to_string(),
                _ => {
                    return Err(format!(
                        "--share {spec:?}: unknown option {opt:?} (the options are tag=TAG and ro)"
                    ))
                }
            }
        }
        let tag_ok = !tag.is_empty()
            && tag.len() <= MAX_TAG_LEN
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !tag_ok {
            return Err(format!(
                "--share {spec:?}: the tag {tag:?} must be 1 to {MAX_TAG_LEN} letters, digits, '_', '-' or '.'"
            ));
        }
        Ok((PathBuf::from(dir), tag, read_only))
    }

    /// Open `path` as the share's root.
    pub fn open(path: &Path, tag: &str, read_only: bool) -> Result<ShareConfig, String> {
        let root = rustix::fs::open(
            path,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| {
            format!(
                "cannot share {}: {}",
                path.display(),
                crate::user_error::os_error(&std::io::Error::from(e))
            )
        })?;
        Ok(ShareConfig {
            path: path.to_path_buf(),
            tag: tag.to_string(),
            read_only,
            root: Arc::new(root),
        })
    }
}

pub struct NineP {
    server: server::Server,
    config: Vec<u8>,
}

impl NineP {
    pub fn new(share: &ShareConfig) -> Self {
        let mut config = (share.tag.len() as u16).to_le_bytes().to_vec();
        config.extend_from_slice(share.tag.as_bytes());
        NineP {
            server: server::Server::new(share.root.clone(), share.read_only),
            config,
        }
    }
}

impl VirtioBackend for NineP {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        F_MOUNT_TAG
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
        let msize = self.server.msize() as u64;
        let request_len = chain.readable_len().min(msize);
        let reply_room = chain.writable_len().min(msize);
        // Pay for the request before serving it; `work.done` is what earlier steps paid.
        let cost = (request_len + reply_room).max(1);
        if work.done < cost {
            work.done += work.take(cost - work.done);
            if work.done < cost {
                return Ok(None);
            }
        }
        let mut request = vec![0u8; request_len as usize];
        let got = chain.read_at(ram, 0, &mut request);
        request.truncate(got);
        let reply = self.server.handle(&request, reply_room as usize);
        let written = chain.write_at(ram, 0, &reply);
        Ok(Some(written as u32))
    }
}

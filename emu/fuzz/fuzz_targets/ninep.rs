//! A hostile guest talking 9P2000.L to the share server: the input is a sequence of
//! messages (each a 16-bit length and that many bytes, sent after a valid version and
//! attach), answered with a random reply room. Never a panic, never a reply larger than
//! the room, and nothing outside the shared directory changes.
#![no_main]

use emu::devices::virtio::p9::server::Server;
use libfuzzer_sys::fuzz_target;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// One scratch tree per fuzzing process: `share/` (a file, a directory, links pointing
/// out) and `outside/secret`, which must stay as it is.
fn tree() -> &'static PathBuf {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("emu-fuzz-9p-{}", std::process::id()));
        let share = dir.join("share");
        std::fs::create_dir_all(share.join("sub")).expect("create the scratch share");
        std::fs::create_dir_all(dir.join("outside")).expect("create the outside directory");
        std::fs::write(dir.join("outside/secret"), "secret").expect("write the secret");
        std::fs::write(share.join("file"), "0123456789").expect("write a file");
        let _ = std::os::unix::fs::symlink("../outside", share.join("up"));
        let _ = std::os::unix::fs::symlink(dir.join("outside/secret"), share.join("abs"));
        dir
    })
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = ((7 + body.len()) as u32).to_le_bytes().to_vec();
    m.push(kind);
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(body);
    m
}

fuzz_target!(|data: &[u8]| {
    let dir = tree();
    let root = OwnedFd::from(std::fs::File::open(dir.join("share")).expect("open the share"));
    let read_only = data.first().is_some_and(|b| b & 1 != 0);
    let mut server = Server::new(Arc::new(root), read_only);
    let mut version = 65536u32.to_le_bytes().to_vec();
    version.extend_from_slice(b"\x08\x009P2000.L");
    server.handle(&message(100, &version), 1 << 20);
    let mut attach = vec![0u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    attach.extend_from_slice(&[0; 4]);
    server.handle(&message(104, &attach), 1 << 20);
    let mut rest = data.get(1..).unwrap_or_default();
    while rest.len() >= 4 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let room = u16::from_le_bytes([rest[2], rest[3]]) as usize * 16;
        rest = &rest[4..];
        let msg = &rest[..len.min(rest.len())];
        rest = &rest[msg.len()..];
        let reply = server.handle(msg, room);
        assert!(reply.len() <= room, "reply of {} bytes in room {room}", reply.len());
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("outside/secret")).ok().as_deref(),
        Some("secret")
    );
    assert_eq!(std::fs::read_dir(dir.join("outside")).map(|d| d.count()).ok(), Some(1));
});

//! A guest program drives the virtio-mmio block or entropy device through its own
//! stores: random descriptor tables, rings and buffers in guest RAM (addresses drawn
//! toward the rings, so buffers alias them), then notifies once or in a loop. The run is
//! bounded by an instruction limit and must end there, however much work the rings ask
//! for (a hang is a libFuzzer timeout); the disk file never changes size.
#![no_main]

#[path = "../../tests/hostile/mod.rs"]
mod hostile;

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch disk per fuzzing process: the self-publishing disk (sector n reads as
/// "read sector n + 1"), so random rings can find the endless chain.
fn disk() -> &'static PathBuf {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    DISK.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("emu-fuzz-virtio-guest-{}.img", std::process::id()));
        std::fs::write(&path, hostile::self_publishing_disk()).expect("create the scratch disk");
        path
    })
}

fuzz_target!(|data: &[u8]| {
    hostile::run_guest_virtio(data, disk());
});

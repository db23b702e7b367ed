//! A hostile guest driving the virtio-mmio block and entropy devices: random descriptor
//! tables and rings in RAM, random register writes and notifies. Never a panic, a hang,
//! or a host access outside guest RAM; the disk file never changes size.
#![no_main]

#[path = "../../tests/hostile/mod.rs"]
mod hostile;

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch disk per fuzzing process (64 KiB plus a partial sector).
fn disk() -> &'static PathBuf {
    static DISK: OnceLock<PathBuf> = OnceLock::new();
    DISK.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("emu-fuzz-virtio-{}.img", std::process::id()));
        std::fs::write(&path, vec![0xa5u8; (64 << 10) + 100]).expect("create the scratch disk");
        path
    })
}

fuzz_target!(|data: &[u8]| {
    hostile::run_virtio(data, disk(), false);
});

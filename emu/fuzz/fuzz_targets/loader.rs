//! Arbitrary bytes as a guest image, a firmware, an initrd: loading either succeeds
//! inside RAM or fails with an error, and symbol extraction never panics.
#![no_main]

use emu::bus::{Ram, DRAM_BASE};
use emu::machine::loader::{load_image, load_raw};
use emu::trace::symbols::Image;
use libfuzzer_sys::fuzz_target;

const RAM_SIZE: u64 = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let mut ram = Ram::new(DRAM_BASE, RAM_SIZE);
    if let Ok(img) = load_image(&mut ram, data, "fuzz image") {
        assert!(
            img.start >= DRAM_BASE && img.end <= DRAM_BASE + RAM_SIZE,
            "{img:?}"
        );
        assert!(img.start <= img.end, "{img:?}");
    }
    assert_eq!(ram.size(), RAM_SIZE);
    // An initrd or raw firmware is copied as is; the address comes from the input.
    let addr = match data.get(..8) {
        Some(a) => u64::from_le_bytes(a.try_into().unwrap_or_default()),
        None => DRAM_BASE,
    };
    let _ = load_raw(&mut ram, data, addr, "fuzz initrd");
    let _ = load_raw(
        &mut ram,
        data,
        DRAM_BASE + (addr & 0x3f_ffff),
        "fuzz initrd",
    );
    let _ = Image::from_elf("fuzz", data);
});

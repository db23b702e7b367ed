//! Any machine configuration the library accepts: the device tree builds (or fails with
//! an error for a command line no shell could pass, one with a NUL), parses back with
//! the `fdt` crate, and says what the configuration says.
#![no_main]

use emu::machine::{dtb, MachineConfig};
use emu::mmu::{MmuConfig, SatpMode};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Above the CLI's 64 but bounded, so one input cannot spend minutes writing cpu nodes.
const MAX_HARTS: usize = 128;

fn config(u: &mut Unstructured) -> Result<MachineConfig> {
    let max_mode = *u.choose(&[
        SatpMode::Bare,
        SatpMode::Sv39,
        SatpMode::Sv48,
        SatpMode::Sv57,
    ])?;
    Ok(MachineConfig {
        ram_size: u.arbitrary()?,
        harts: u.int_in_range(0..=MAX_HARTS)?,
        mmu: MmuConfig {
            max_mode,
            ..MmuConfig::default()
        },
        bootargs: u.arbitrary()?,
        kaslr_seed: u.arbitrary()?,
        rng_seed: u.arbitrary()?,
        initrd: u.arbitrary()?,
        virtio_rng: u.arbitrary()?,
        ..MachineConfig::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(cfg) = config(&mut Unstructured::new(data)) else {
        return;
    };
    let blob = match dtb::build(&cfg) {
        Ok(b) => b,
        Err(e) => {
            assert!(cfg.bootargs.contains('\0'), "build failed for {cfg:?}: {e}");
            return;
        }
    };
    let tree = fdt::Fdt::new(&blob).unwrap_or_else(|e| panic!("unparsable DTB for {cfg:?}: {e:?}"));
    assert_eq!(tree.cpus().count(), cfg.harts);
    let region = tree.memory().regions().next().expect("a memory region");
    assert_eq!(region.starting_address as u64, emu::bus::DRAM_BASE);
    assert_eq!(region.size.map(|s| s as u64), Some(cfg.ram_size));
    let chosen = tree.chosen();
    if !cfg.bootargs.is_empty() {
        assert_eq!(chosen.bootargs(), Some(cfg.bootargs.as_str()));
    }
});

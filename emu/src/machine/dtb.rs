//! Device-tree generation from the machine configuration (vm-fdt).

use super::{map, MachineConfig, TIMEBASE_HZ};
use vm_fdt::{FdtWriter, FdtWriterResult};

/// Build the flattened device tree for `cfg`.
pub fn build(cfg: &MachineConfig) -> FdtWriterResult<Vec<u8>> {
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "riscv-virtio,qemu")?;

    let chosen = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &cfg.bootargs)?;
    fdt.property_string("stdout-path", "/soc/serial@10000000")?;
    fdt.property_u64("kaslr-seed", cfg.kaslr_seed)?;
    fdt.end_node(chosen)?;

    let mem = fdt.begin_node(&format!("memory@{:x}", map::DRAM))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[map::DRAM, cfg.ram_size])?;
    fdt.end_node(mem)?;

    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", TIMEBASE_HZ as u32)?;
    for hart in 0..cfg.harts {
        let cpu = fdt.begin_node(&format!("cpu@{hart}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_u32("reg", hart as u32)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", "rv64imafdc_zicntr_zicsr_zifencei")?;
        fdt.property_string("mmu-type", &format!("riscv,{}", cfg.mmu.max_mode.name()))?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)?;
    fdt.end_node(root)?;
    fdt.finish()
}

//! Device-tree generation from the machine configuration (vm-fdt).
//!
//! The tree mirrors what QEMU 7.2 generates for `-M virt` (see
//! reference/virt-machine-facts.md) minus the devices we do not model (PCI, flash,
//! fw-cfg, platform bus, PMU), so firmware and kernels written for QEMU find the same
//! nodes. All eight virtio-mmio slots are listed, as QEMU does: empty slots answer with
//! device ID 0 and drivers skip them, so the tree does not change with `--disk` and the
//! first disk is always `vda`. Interrupt-controller nodes carry `#address-cells = <0>`,
//! which QEMU omits and `dtc` warns about.

use super::{map, MachineConfig, TIMEBASE_HZ};
use crate::devices::plic;
use crate::mmu::SatpMode;
use vm_fdt::{FdtWriter, FdtWriterResult};

/// What `riscv,isa` says; must match what the hart implements.
pub const ISA_STRING: &str = "rv64imafdc_zicntr_zicsr_zifencei";
pub const ISA_EXTENSIONS: [&str; 9] = ["i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei"];

const UART_CLOCK_HZ: u32 = 3_686_400;
const VIRTIO_SLOT_SIZE: u64 = map::VIRTIO_STRIDE;

/// mip bit numbers, as the cpu interrupt controllers number their inputs.
const IRQ_M_SOFT: u32 = 3;
const IRQ_M_TIMER: u32 = 7;
const IRQ_S_EXT: u32 = 9;
const IRQ_M_EXT: u32 = 11;

/// Phandles, fixed by the hart count so the tree is reproducible.
struct Phandles {
    harts: u32,
}

impl Phandles {
    fn cpu_intc(&self, hart: u32) -> u32 {
        1 + hart
    }
    fn plic(&self) -> u32 {
        1 + self.harts
    }
    fn test(&self) -> u32 {
        2 + self.harts
    }
}

/// The `mmu-type` string for the highest mode the harts implement.
pub fn mmu_type(mode: SatpMode) -> &'static str {
    match mode {
        SatpMode::Bare => "riscv,none",
        SatpMode::Sv39 => "riscv,sv39",
        SatpMode::Sv48 => "riscv,sv48",
        SatpMode::Sv57 => "riscv,sv57",
    }
}

/// Build the flattened device tree for `cfg`.
pub fn build(cfg: &MachineConfig) -> FdtWriterResult<Vec<u8>> {
    let ph = Phandles {
        harts: cfg.harts as u32,
    };
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "riscv-virtio,qemu")?;

    write_chosen(&mut fdt, cfg)?;

    let mem = fdt.begin_node(&format!("memory@{:x}", map::DRAM))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[map::DRAM, cfg.ram_size])?;
    fdt.end_node(mem)?;

    write_cpus(&mut fdt, cfg, &ph)?;

    for (name, value) in [("poweroff", 0x5555), ("reboot", 0x7777)] {
        let node = fdt.begin_node(name)?;
        fdt.property_string("compatible", &format!("syscon-{name}"))?;
        fdt.property_u32("regmap", ph.test())?;
        fdt.property_u32("offset", 0)?;
        fdt.property_u32("value", value)?;
        fdt.end_node(node)?;
    }

    write_soc(&mut fdt, cfg, &ph)?;

    fdt.end_node(root)?;
    fdt.finish()
}

fn write_chosen(fdt: &mut FdtWriter, cfg: &MachineConfig) -> FdtWriterResult<()> {
    let chosen = fdt.begin_node("chosen")?;
    // Without --append there is no bootargs property, as with QEMU, so a kernel's
    // built-in command line applies.
    if !cfg.bootargs.is_empty() {
        fdt.property_string("bootargs", &cfg.bootargs)?;
    }
    fdt.property_string("stdout-path", "/soc/serial@10000000")?;
    if let Some((start, end)) = cfg.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    fdt.property("rng-seed", &cfg.rng_seed)?;
    fdt.property_u64("kaslr-seed", cfg.kaslr_seed)?;
    fdt.end_node(chosen)
}

fn write_cpus(fdt: &mut FdtWriter, cfg: &MachineConfig, ph: &Phandles) -> FdtWriterResult<()> {
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", TIMEBASE_HZ as u32)?;
    for hart in 0..cfg.harts as u32 {
        let cpu = fdt.begin_node(&format!("cpu@{hart:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_u32("reg", hart)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", ISA_STRING)?;
        fdt.property_string("riscv,isa-base", "rv64i")?;
        fdt.property_string_list(
            "riscv,isa-extensions",
            ISA_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        )?;
        fdt.property_string("mmu-type", mmu_type(cfg.mmu.max_mode))?;
        let intc = fdt.begin_node("interrupt-controller")?;
        fdt.property_u32("#interrupt-cells", 1)?;
        fdt.property_u32("#address-cells", 0)?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_string("compatible", "riscv,cpu-intc")?;
        fdt.property_phandle(ph.cpu_intc(hart))?;
        fdt.end_node(intc)?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)
}

/// `reg` for a device node under `/soc` (two address and two size cells).
fn reg(fdt: &mut FdtWriter, base: u64, size: u64) -> FdtWriterResult<()> {
    fdt.property_array_u64("reg", &[base, size])
}

/// `interrupts-extended` listing, for every hart, its intc with each of `irqs`.
fn per_hart_interrupts(
    fdt: &mut FdtWriter,
    harts: u32,
    ph: &Phandles,
    irqs: &[u32],
) -> FdtWriterResult<()> {
    let cells: Vec<u32> = (0..harts)
        .flat_map(|h| irqs.iter().flat_map(move |&irq| [ph.cpu_intc(h), irq]))
        .collect();
    fdt.property_array_u32("interrupts-extended", &cells)
}

/// A device wired to PLIC source `irq`.
fn plic_interrupt(fdt: &mut FdtWriter, ph: &Phandles, irq: u32) -> FdtWriterResult<()> {
    fdt.property_u32("interrupts", irq)?;
    fdt.property_u32("interrupt-parent", ph.plic())
}

fn write_soc(fdt: &mut FdtWriter, cfg: &MachineConfig, ph: &Phandles) -> FdtWriterResult<()> {
    let harts = cfg.harts as u32;
    let soc = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;

    let node = fdt.begin_node(&format!("test@{:x}", map::TEST))?;
    fdt.property_string_list(
        "compatible",
        vec![
            "sifive,test1".into(),
            "sifive,test0".into(),
            "syscon".into(),
        ],
    )?;
    reg(fdt, map::TEST, 0x1000)?;
    fdt.property_phandle(ph.test())?;
    fdt.end_node(node)?;

    let node = fdt.begin_node(&format!("rtc@{:x}", map::RTC))?;
    fdt.property_string("compatible", "google,goldfish-rtc")?;
    reg(fdt, map::RTC, 0x1000)?;
    plic_interrupt(fdt, ph, map::RTC_IRQ)?;
    fdt.end_node(node)?;

    let node = fdt.begin_node(&format!("clint@{:x}", map::CLINT))?;
    fdt.property_string_list(
        "compatible",
        vec!["sifive,clint0".into(), "riscv,clint0".into()],
    )?;
    reg(fdt, map::CLINT, map::CLINT_SIZE)?;
    per_hart_interrupts(fdt, harts, ph, &[IRQ_M_SOFT, IRQ_M_TIMER])?;
    fdt.end_node(node)?;

    let node = fdt.begin_node(&format!("plic@{:x}", map::PLIC))?;
    fdt.property_string_list(
        "compatible",
        vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()],
    )?;
    reg(fdt, map::PLIC, map::PLIC_SIZE)?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("riscv,ndev", plic::NDEV)?;
    per_hart_interrupts(fdt, harts, ph, &[IRQ_M_EXT, IRQ_S_EXT])?;
    fdt.property_phandle(ph.plic())?;
    fdt.end_node(node)?;

    let node = fdt.begin_node(&format!("serial@{:x}", map::UART0))?;
    fdt.property_string("compatible", "ns16550a")?;
    reg(fdt, map::UART0, 0x100)?;
    fdt.property_u32("clock-frequency", UART_CLOCK_HZ)?;
    plic_interrupt(fdt, ph, map::UART0_IRQ)?;
    fdt.end_node(node)?;

    for slot in 0..map::VIRTIO_COUNT {
        let base = map::VIRTIO0 + slot * map::VIRTIO_STRIDE;
        let node = fdt.begin_node(&format!("virtio_mmio@{base:x}"))?;
        fdt.property_string("compatible", "virtio,mmio")?;
        reg(fdt, base, VIRTIO_SLOT_SIZE)?;
        plic_interrupt(fdt, ph, 1 + slot as u32)?;
        fdt.end_node(node)?;
    }

    fdt.end_node(soc)
}

/// Size of the flattened-device-tree header (version 17).
const FDT_HEADER_LEN: usize = 40;
const FDT_MAGIC: u32 = 0xd00d_feed;
/// Header versions a kernel can read: it must be at least 16, and the oldest version it
/// stays compatible with at most 17 (what every DTB in use says).
const FDT_MIN_VERSION: u32 = 16;
const FDT_MAX_LAST_COMP_VERSION: u32 = 17;

/// Check a user's `--dtb` file is a flattened device tree a kernel can read (magic,
/// `totalsize`, version, blocks inside the tree) and return the tree itself, without
/// trailing bytes. The error says what is wrong, for one line naming the file.
pub fn validate(data: &[u8]) -> Result<&[u8], String> {
    let be32 = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if data.len() < FDT_HEADER_LEN {
        return Err(format!(
            "{} bytes are too few for a device-tree header ({FDT_HEADER_LEN})",
            data.len()
        ));
    }
    let field = |at| be32(at).unwrap_or(0);
    let magic = field(0);
    if magic != FDT_MAGIC {
        return Err(format!(
            "no flattened-device-tree magic (0x{FDT_MAGIC:08x} at offset 0, found 0x{magic:08x})"
        ));
    }
    let total = field(4) as usize;
    if total < FDT_HEADER_LEN || total > data.len() {
        return Err(format!(
            "its header says {total} bytes (totalsize) but the file has {} (truncated?)",
            data.len()
        ));
    }
    let (version, last_comp) = (field(20), field(24));
    if version < FDT_MIN_VERSION || last_comp > FDT_MAX_LAST_COMP_VERSION || last_comp > version {
        return Err(format!(
            "unsupported device-tree version {version} (compatible back to {last_comp}); \
             kernels read versions 16 and 17"
        ));
    }
    let (off_struct, off_strings, off_rsvmap) = (field(8), field(12), field(16));
    // Version 16 headers end before size_dt_struct.
    let size_strings = field(32);
    let size_struct = if version >= 17 { field(36) } else { 0 };
    let inside = |off: u32, len: u32| (off as u64 + len as u64) <= total as u64;
    if !inside(off_struct, size_struct)
        || !inside(off_strings, size_strings)
        || !inside(off_rsvmap, 16)
    {
        return Err(format!(
            "its blocks (structure at {off_struct:#x}+{size_struct:#x}, strings at \
             {off_strings:#x}+{size_strings:#x}, reservations at {off_rsvmap:#x}) reach past \
             its totalsize {total:#x}"
        ));
    }
    Ok(&data[..total])
}

//! What the kernel learns at boot from the device tree and the command line.
//!
//! Parsed in the physical phase (MMU off), so everything is copied into plain fields of
//! `BOOT`: no references into the DTB survive, because its address changes (physical,
//! then the fixmap, then the linear map) and the formatting machinery is off limits
//! until the kernel runs at its virtual address.

use core::ptr::addr_of;

use fdt::Fdt;

use crate::layout::{KernelLayout, SatpMode};

pub const MAX_MEMORY_REGIONS: usize = 8;
const BOOTARGS_MAX: usize = 256;

/// The cap a device tree's `mmu-type` puts on the paging mode.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DtMmuType {
    Absent,
    Cap(SatpMode),
    /// "riscv,none", "riscv,sv32" or something unknown: no usable cap.
    Unrecognised,
}

pub struct BootParams {
    pub hartid: usize,
    pub dtb_pa: usize,
    pub dtb_size: usize,
    /// RAM regions from /memory, (base, size).
    pub memory: [(usize, usize); MAX_MEMORY_REGIONS],
    pub memory_count: usize,
    /// /reserved-memory regions marked no-map: never in the linear map.
    pub reserved_nomap: [(usize, usize); MAX_MEMORY_REGIONS],
    pub reserved_count: usize,
    /// The other /reserved-memory regions: mapped, but not ours to touch (OpenSBI lists
    /// its PMP-protected memory here without no-map, so an access would fault).
    pub reserved_mapped: [(usize, usize); MAX_MEMORY_REGIONS],
    pub reserved_mapped_count: usize,
    pub dt_mmu_type: DtMmuType,
    pub kaslr_seed: u64,
    bootargs: [u8; BOOTARGS_MAX],
    bootargs_len: usize,
    pub layout: KernelLayout,
    /// A `layout=` value that was not understood (the default was used instead).
    pub layout_unknown: bool,
    /// `kaslr` (Some(true)) or `nokaslr` (Some(false)) on the command line.
    pub kaslr_arg: Option<bool>,
    pub no4lvl: bool,
    pub no5lvl: bool,
    /// `selftest-break=wx`: map kernel text writable so that the self-tests must fail.
    pub break_wx: bool,
    /// `module-place=far`: load the module outside its window, more than 2 GiB from the
    /// kernel, so that the module self-tests must fail.
    pub module_far: bool,
    /// `noasid`: run every process as ASID 0 and flush the TLB on each switch.
    pub noasid: bool,
}

pub static mut BOOT: BootParams = BootParams {
    hartid: 0,
    dtb_pa: 0,
    dtb_size: 0,
    memory: [(0, 0); MAX_MEMORY_REGIONS],
    memory_count: 0,
    reserved_nomap: [(0, 0); MAX_MEMORY_REGIONS],
    reserved_count: 0,
    reserved_mapped: [(0, 0); MAX_MEMORY_REGIONS],
    reserved_mapped_count: 0,
    dt_mmu_type: DtMmuType::Absent,
    kaslr_seed: 0,
    bootargs: [0; BOOTARGS_MAX],
    bootargs_len: 0,
    layout: KernelLayout::DEFAULT,
    layout_unknown: false,
    kaslr_arg: None,
    no4lvl: false,
    no5lvl: false,
    break_wx: false,
    module_far: false,
    noasid: false,
};

pub fn boot() -> &'static BootParams {
    // SAFETY: BOOT is written once, by setup_vm before anything else runs.
    unsafe { &*addr_of!(BOOT) }
}

impl BootParams {
    pub fn bootargs(&self) -> &str {
        core::str::from_utf8(&self.bootargs[..self.bootargs_len]).unwrap_or("")
    }

    pub fn memory_regions(&self) -> &[(usize, usize)] {
        &self.memory[..self.memory_count]
    }

    pub fn reserved_nomap(&self) -> &[(usize, usize)] {
        &self.reserved_nomap[..self.reserved_count]
    }

    /// Whether `pa` is in any /reserved-memory region.
    pub fn is_reserved(&self, pa: usize) -> bool {
        self.reserved_nomap()
            .iter()
            .chain(&self.reserved_mapped[..self.reserved_mapped_count])
            .any(|&(base, size)| pa >= base && pa - base < size)
    }

    /// Call `f(start, end)` for every piece of RAM the linear map covers: the /memory
    /// regions minus the no-map reservations (the firmware's PMP-protected memory, which
    /// a speculative or stray access through the linear map must never reach).
    pub fn for_each_linear_range(&self, mut f: impl FnMut(usize, usize)) {
        for &(base, size) in self.memory_regions() {
            let end = base + size;
            let mut cursor = base;
            while cursor < end {
                let next = self
                    .reserved_nomap()
                    .iter()
                    .filter(|r| r.0 + r.1 > cursor && r.0 < end)
                    .min_by_key(|r| r.0);
                match next {
                    Some(&(rb, rs)) if rb <= cursor => cursor = rb + rs,
                    Some(&(rb, _)) => {
                        f(cursor, rb);
                        cursor = rb;
                    }
                    None => {
                        f(cursor, end);
                        cursor = end;
                    }
                }
            }
        }
    }

    /// Lowest RAM address.
    pub fn ram_start(&self) -> usize {
        self.memory_regions().iter().map(|r| r.0).min().unwrap_or(0)
    }

    /// Read the DTB at physical address `dtb_pa` and the command line it carries.
    /// The KASLR seed is wiped from the DTB once read, so later readers cannot learn it.
    pub fn parse(&mut self, hartid: usize, dtb_pa: usize) -> Result<(), &'static str> {
        self.hartid = hartid;
        self.dtb_pa = dtb_pa;
        // SAFETY: the firmware passes a DTB at this address; from_ptr checks the magic.
        let fdt = unsafe { Fdt::from_ptr(dtb_pa as *const u8) }.map_err(|_| "bad DTB")?;
        self.dtb_size = fdt.total_size();

        let memory = fdt.find_node("/memory").ok_or("DTB has no /memory node")?;
        for region in memory.reg().ok_or("/memory has no reg")? {
            if self.memory_count == MAX_MEMORY_REGIONS {
                break;
            }
            let size = region.size.unwrap_or(0);
            if size != 0 {
                self.memory[self.memory_count] = (region.starting_address as usize, size);
                self.memory_count += 1;
            }
        }
        if self.memory_count == 0 {
            return Err("DTB lists no RAM");
        }

        if let Some(reserved) = fdt.find_node("/reserved-memory") {
            for child in reserved.children() {
                let Some(region) = child.reg().and_then(|mut r| r.next()) else {
                    continue;
                };
                let range = (region.starting_address as usize, region.size.unwrap_or(0));
                let (list, count) = if child.property("no-map").is_some() {
                    (&mut self.reserved_nomap, &mut self.reserved_count)
                } else {
                    (&mut self.reserved_mapped, &mut self.reserved_mapped_count)
                };
                if *count < MAX_MEMORY_REGIONS {
                    list[*count] = range;
                    *count += 1;
                }
            }
        }

        self.dt_mmu_type = Self::mmu_type_of_boot_hart(&fdt, hartid);

        if let Some(chosen) = fdt.find_node("/chosen") {
            if let Some(args) = chosen.property("bootargs") {
                let text = args.value;
                let len = text.iter().position(|&b| b == 0).unwrap_or(text.len());
                let len = len.min(BOOTARGS_MAX);
                self.bootargs[..len].copy_from_slice(&text[..len]);
                self.bootargs_len = len;
            }
            if let Some(seed) = chosen.property("kaslr-seed") {
                self.kaslr_seed = match seed.value.len() {
                    8 => u64::from_be_bytes(seed.value.try_into().unwrap_or([0; 8])),
                    4 => u32::from_be_bytes(seed.value.try_into().unwrap_or([0; 4])) as u64,
                    _ => 0,
                };
                let value = seed.value.as_ptr() as *mut u8;
                for i in 0..seed.value.len() {
                    // SAFETY: the DTB sits in ordinary RAM handed to us by the firmware.
                    unsafe { value.add(i).write_volatile(0) };
                }
            }
        }
        self.parse_bootargs();
        Ok(())
    }

    fn mmu_type_of_boot_hart(fdt: &Fdt, hartid: usize) -> DtMmuType {
        let Some(cpus) = fdt.find_node("/cpus") else {
            return DtMmuType::Absent;
        };
        let mut chosen = None;
        for cpu in cpus.children() {
            if !cpu.name.starts_with("cpu@") {
                continue;
            }
            let reg = cpu.property("reg").and_then(|p| p.as_usize());
            if chosen.is_none() || reg == Some(hartid) {
                chosen = Some(cpu);
            }
        }
        let Some(cpu) = chosen else {
            return DtMmuType::Absent;
        };
        match cpu.property("mmu-type").map(|p| p.value) {
            None => DtMmuType::Absent,
            Some(b"riscv,sv39\0") => DtMmuType::Cap(SatpMode::Sv39),
            Some(b"riscv,sv48\0") => DtMmuType::Cap(SatpMode::Sv48),
            Some(b"riscv,sv57\0") => DtMmuType::Cap(SatpMode::Sv57),
            Some(_) => DtMmuType::Unrecognised,
        }
    }

    fn parse_bootargs(&mut self) {
        let len = self.bootargs_len;
        let args = self.bootargs;
        for word in args[..len].split(|&b| b == b' ' || b == b'\t' || b == b'\n') {
            match word {
                b"layout=vmalloc" => self.layout = KernelLayout::Vmalloc,
                b"layout=top" => self.layout = KernelLayout::Top,
                b"layout=linear" => self.layout = KernelLayout::Linear,
                b"kaslr" => self.kaslr_arg = Some(true),
                b"nokaslr" => self.kaslr_arg = Some(false),
                b"no4lvl" => self.no4lvl = true,
                b"no5lvl" => self.no5lvl = true,
                b"selftest-break=wx" => self.break_wx = true,
                b"module-place=far" => self.module_far = true,
                b"noasid" => self.noasid = true,
                _ if word.starts_with(b"layout=") => self.layout_unknown = true,
                _ => {}
            }
        }
    }
}

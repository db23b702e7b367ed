//! The virtual address-space layout: paging modes, the three kernel placements, the
//! `kernel_map` record and address conversion (`__va`, `__pa`, `__pa_symbol`, `lm_alias`).
//!
//! Region addresses follow Linux 6.12 (see shared/reference/linux-riscv-vm-layout.md §2):
//! everything below the kernel/module area depends on the paging mode, which is only
//! known at run time, so it is computed from `SatpMode` rather than written as constants.

/// The address the image is linked at (must match `KERNEL_LINK_ADDR` in link.ld).
pub const KERNEL_LINK_ADDR: usize = 0xffff_ffff_8000_0000;
pub const SZ_2M: usize = 2 << 20;
pub const SZ_1G: usize = 1 << 30;
pub const SZ_2G: usize = 2 << 30;
pub const SZ_128M: usize = 128 << 20;
pub const PAGE_SIZE: usize = 4096;
/// Size of the fixmap (Linux's FIXADDR_SIZE for our purposes).
pub const FIXMAP_SIZE: usize = 6 << 20;
/// The FDT window in the fixmap: two 2 MiB leaves, so that a DTB of up to 2 MiB can
/// straddle a 2 MiB boundary.
pub const FIXMAP_FDT_SIZE: usize = 2 * SZ_2M;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(usize)]
pub enum SatpMode {
    Sv39 = 8,
    Sv48 = 9,
    Sv57 = 10,
}

impl SatpMode {
    pub fn levels(self) -> usize {
        match self {
            SatpMode::Sv39 => 3,
            SatpMode::Sv48 => 4,
            SatpMode::Sv57 => 5,
        }
    }

    pub fn va_bits(self) -> usize {
        12 + 9 * self.levels()
    }

    pub fn name(self) -> &'static str {
        match self {
            SatpMode::Sv39 => "sv39",
            SatpMode::Sv48 => "sv48",
            SatpMode::Sv57 => "sv57",
        }
    }

    /// The next smaller mode, the one to try when this one is refused.
    pub fn lower(self) -> Option<SatpMode> {
        match self {
            SatpMode::Sv57 => Some(SatpMode::Sv48),
            SatpMode::Sv48 => Some(SatpMode::Sv39),
            SatpMode::Sv39 => None,
        }
    }

    pub fn from_bits(bits: usize) -> Option<SatpMode> {
        match bits {
            8 => Some(SatpMode::Sv39),
            9 => Some(SatpMode::Sv48),
            10 => Some(SatpMode::Sv57),
            _ => None,
        }
    }

    /// The satp value that selects this mode with `root_pa` as the root table, ASID 0.
    pub fn satp(self, root_pa: usize) -> usize {
        (self as usize) << 60 | root_pa >> 12
    }

    /// Bytes covered by one entry of the top-level table.
    pub fn top_level_size(self) -> usize {
        1 << (12 + 9 * (self.levels() - 1))
    }

    /// Start of the direct (linear) map: PAGE_OFFSET_L3/L4/L5.
    pub fn page_offset(self) -> usize {
        match self {
            SatpMode::Sv39 => 0xffff_ffd6_0000_0000,
            SatpMode::Sv48 => 0xffff_af80_0000_0000,
            SatpMode::Sv57 => 0xff60_0000_0000_0000,
        }
    }

    /// KERN_VIRT_SIZE: the VA reserved for the direct map (half of the kernel half of
    /// the top-level table).
    pub fn kern_virt_size(self) -> usize {
        128 * self.top_level_size()
    }
}

/// Where the kernel image lives in the virtual address space (`layout=` boot argument).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KernelLayout {
    /// The 2020 v5 patch: the top 2 GiB of the vmalloc area, just below PAGE_OFFSET.
    Vmalloc,
    /// Mainline since 5.13: the last 2 GiB of the address space.
    Top,
    /// Before the patch: inside the linear map, at `__va(load address)`.
    Linear,
}

impl KernelLayout {
    /// The layout without a `layout=` argument. A non-PIE build can run only where it was
    /// linked, which is where layout=top puts the kernel without KASLR.
    pub const DEFAULT: KernelLayout = if cfg!(feature = "nopie") {
        KernelLayout::Top
    } else {
        KernelLayout::Vmalloc
    };

    pub fn name(self) -> &'static str {
        match self {
            KernelLayout::Vmalloc => "vmalloc",
            KernelLayout::Top => "top",
            KernelLayout::Linear => "linear",
        }
    }

    /// The lowest address of the layout's kernel region, before any KASLR offset.
    pub fn kernel_region_base(
        self,
        mode: SatpMode,
        phys_addr: usize,
        phys_ram_base: usize,
    ) -> usize {
        match self {
            // KERNEL_VIRT_ADDR = VMALLOC_END - 2G + 1 with VMALLOC_END = PAGE_OFFSET - 1.
            KernelLayout::Vmalloc => mode.page_offset() - SZ_2G,
            KernelLayout::Top => KERNEL_LINK_ADDR,
            KernelLayout::Linear => mode.page_offset() + (phys_addr - phys_ram_base),
        }
    }
}

/// Where the kernel is, virtually and physically; filled by `setup_vm` before relocation
/// (the field offsets are used from assembly in relocate_enable_mmu).
#[repr(C)]
pub struct KernelMapping {
    pub page_offset: usize,
    pub virt_addr: usize,
    /// The KASLR displacement from the layout's kernel region base.
    pub virt_offset: usize,
    pub phys_addr: usize,
    pub size: usize,
    /// `__va(pa) = pa + va_pa_offset` for the linear map.
    pub va_pa_offset: usize,
    /// `va - pa` for the kernel image mapping.
    pub va_kernel_pa_offset: usize,
    /// DRAM start rounded down to 2 MiB: the physical address PAGE_OFFSET maps.
    pub phys_ram_base: usize,
    pub mode: usize,
}

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut kernel_map: KernelMapping = KernelMapping {
    page_offset: 0,
    virt_addr: 0,
    virt_offset: 0,
    phys_addr: 0,
    size: 0,
    va_pa_offset: 0,
    va_kernel_pa_offset: 0,
    phys_ram_base: 0,
    mode: 0,
};

/// A copy of `kernel_map`, for reading without touching the `static mut` everywhere.
pub fn kmap() -> &'static KernelMapping {
    // SAFETY: kernel_map is written only by setup_vm, on one hart, before anything reads it.
    unsafe { &*kernel_map_ptr() }
}

/// The address of `kernel_map`, pc-relative: an exported static is otherwise reached
/// through the GOT, which holds the wrong address until relocation is done.
pub fn kernel_map_ptr() -> *mut KernelMapping {
    // Keep the symbol referenced from Rust so it is never discarded.
    let _ = core::ptr::addr_of!(kernel_map);
    crate::symbol_addr!("kernel_map") as *mut KernelMapping
}

pub fn mode() -> SatpMode {
    SatpMode::from_bits(kmap().mode).unwrap_or(SatpMode::Sv39)
}

/// The linear-map address of physical address `pa`.
#[allow(clippy::missing_safety_doc)]
pub fn __va(pa: usize) -> usize {
    pa.wrapping_add(kmap().va_pa_offset)
}

/// Whether `va` lies in the part of the address space reserved for the linear map.
pub fn is_linear_mapping(va: usize) -> bool {
    let k = kmap();
    va >= k.page_offset && va - k.page_offset < mode().kern_virt_size()
}

/// The physical address behind a kernel virtual address: the linear map's offset for
/// linear addresses, the image's offset for everything else. This range test (plus the
/// load of kernel_map) is the "extra load in virt-to-phys" the 2020 thread worried about.
pub fn __pa(va: usize) -> usize {
    if is_linear_mapping(va) {
        va.wrapping_sub(kmap().va_pa_offset)
    } else {
        va.wrapping_sub(kmap().va_kernel_pa_offset)
    }
}

/// `__pa` for an address inside the kernel image only; `None` otherwise.
pub fn __pa_symbol(va: usize) -> Option<usize> {
    let k = kmap();
    if va >= k.virt_addr && va - k.virt_addr < k.size {
        Some(va - k.va_kernel_pa_offset)
    } else {
        None
    }
}

/// The linear-map alias of a kernel-image address.
pub fn lm_alias(va: usize) -> Option<usize> {
    __pa_symbol(va).map(__va)
}

/// Every region of the kernel's address space for the running mode and layout, with
/// exclusive ends. Computed, like Linux's macros, from the mode and kernel_map.
pub struct VmLayout {
    pub user_end: usize,
    pub fixmap_start: usize,
    pub pci_io_start: usize,
    pub vmemmap_start: usize,
    pub vmalloc_start: usize,
    /// VMALLOC_END as an exclusive end; equal to PAGE_OFFSET.
    pub vmalloc_end: usize,
    pub page_offset: usize,
    pub direct_map_end: usize,
    pub modules_start: usize,
    pub modules_end: usize,
    pub bpf_start: usize,
    pub bpf_end: usize,
    pub kernel_start: usize,
    pub kernel_end: usize,
}

pub fn page_align_up(x: usize) -> usize {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

impl VmLayout {
    pub fn compute(mode: SatpMode, layout: KernelLayout, k: &KernelMapping) -> VmLayout {
        let page_offset = mode.page_offset();
        let vmalloc_size = mode.kern_virt_size() / 2;
        let vmalloc_start = page_offset - vmalloc_size;
        let vmemmap_start = vmalloc_start - (1usize << (mode.va_bits() - 7));
        let pci_io_start = vmemmap_start - (16 << 20);
        let fixmap_start = pci_io_start - FIXMAP_SIZE;
        let kernel_start = k.virt_addr;
        let kernel_end = k.virt_addr + k.size;
        let end_aligned = page_align_up(kernel_end);
        let (modules_start, modules_end, bpf_start, bpf_end) = match layout {
            // Modules and BPF share the 2 GiB below the kernel; BPF takes the top 128 MiB.
            KernelLayout::Top => (
                end_aligned.wrapping_sub(SZ_2G),
                kernel_start,
                kernel_start - SZ_128M,
                kernel_start,
            ),
            // v5: BPF right after _end, modules from there up to _start + 2 GiB; capped at
            // VMALLOC_END, since with a KASLR offset _start + 2 GiB is inside the linear map.
            KernelLayout::Vmalloc => {
                let bpf_end = end_aligned + SZ_128M;
                let modules_end = (kernel_start + SZ_2G).min(page_offset);
                (bpf_end, modules_end, end_aligned, bpf_end)
            }
            // Pre-5.13: modules came from vmalloc; only its top 2 GiB is within reach of
            // the kernel (at PAGE_OFFSET), and BPF took the last 128 MiB of vmalloc.
            KernelLayout::Linear => {
                let bpf_start = page_offset - SZ_128M;
                (
                    end_aligned.wrapping_sub(SZ_2G).max(vmalloc_start),
                    bpf_start,
                    bpf_start,
                    page_offset,
                )
            }
        };
        VmLayout {
            user_end: 1usize << (mode.va_bits() - 1),
            fixmap_start,
            pci_io_start,
            vmemmap_start,
            vmalloc_start,
            vmalloc_end: page_offset,
            page_offset,
            direct_map_end: page_offset + mode.kern_virt_size(),
            modules_start,
            modules_end,
            bpf_start,
            bpf_end,
            kernel_start,
            kernel_end,
        }
    }

    /// The FDT window's virtual address (the start of the fixmap, 2 MiB aligned).
    pub fn fixmap_fdt(&self) -> usize {
        self.fixmap_start
    }
}

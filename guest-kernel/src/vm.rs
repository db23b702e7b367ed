//! Early virtual-memory setup, in the order the hart runs it:
//! `setup_vm` (physical: choose the paging mode, KASLR and the kernel's virtual address,
//! relocate, build trampoline_pg_dir and early_pg_dir), then relocate_enable_mmu (in
//! entry.rs), then `setup_vm_final` (virtual: swapper_pg_dir with the linear map and the
//! image's per-section permissions).
//!
//! Everything before the MMU is on runs at the physical address while the data it could
//! reach through absolute pointers (GOT, vtables) holds link-time or virtual addresses:
//! so no `print!`, no trait objects and no panics there, only arithmetic, statics reached
//! pc-relatively, and `early_puts`.

use core::arch::asm;
use core::ptr::{addr_of, addr_of_mut};

use crate::bootparams::{BootParams, DtMmuType, BOOT};
use crate::console::{early_put_hex, early_puts};
use crate::layout::{
    kernel_map_ptr, kmap, KernelLayout, KernelMapping, SatpMode, VmLayout, FIXMAP_FDT_SIZE,
    KERNEL_LINK_ADDR, PAGE_SIZE, SZ_1G, SZ_2M,
};
use crate::pgtable::{
    self, best_map_size, early_pg_dir_pa, map_pages, swapper_pg_dir_pa, trampoline_pg_dir_pa,
    MapError, PAGE_KERNEL, PAGE_KERNEL_EXEC, PAGE_KERNEL_READ_EXEC, PAGE_KERNEL_RO,
};
use crate::sbi::{shutdown, ResetReason};

/// Section bounds of the image, in the current address space.
#[derive(Clone, Copy)]
pub struct Image {
    pub start: usize,
    pub text_end: usize,
    pub rodata_start: usize,
    pub rodata_end: usize,
    pub data_start: usize,
    pub end: usize,
}

impl Image {
    pub fn here() -> Image {
        Image {
            start: symbol_addr!("_start"),
            text_end: symbol_addr!("_etext"),
            rodata_start: symbol_addr!("__start_rodata"),
            rodata_end: symbol_addr!("__end_rodata"),
            data_start: symbol_addr!("_sdata"),
            end: symbol_addr!("_end"),
        }
    }

    pub fn size(&self) -> usize {
        self.end - self.start
    }
}

/// How each paging mode fared in `set_satp_mode`, for the boot report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    NotConsidered,
    DisabledByNo5lvl,
    DisabledByNo4lvl,
    CappedByDeviceTree,
    /// The hart ignored the satp write (WARL): the value read back.
    Rejected(usize),
    Accepted,
    /// Sv39 is the baseline every RV64 MMU has; Linux takes it without a probe.
    Baseline,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KaslrOutcome {
    Disabled(KaslrOff),
    Enabled {
        offset: usize,
        positions: usize,
        entropy_bits: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KaslrOff {
    Nokaslr,
    NoSeed,
    /// In the linear layout the virtual address is tied to the physical one.
    LinearLayout,
    /// A non-PIE build runs only at its link address.
    #[cfg(feature = "nopie")]
    NotRelocatable,
}

/// The decisions the physical phase took, printed once printing is possible.
pub struct BootLog {
    /// Indexed by `probe_index`: Sv57, Sv48, Sv39.
    pub probes: [ProbeOutcome; 3],
    pub relocations: usize,
    pub relocation_none: usize,
    pub kaslr: KaslrOutcome,
    pub early_tables: usize,
}

pub static mut BOOT_LOG: BootLog = BootLog {
    probes: [ProbeOutcome::NotConsidered; 3],
    relocations: 0,
    relocation_none: 0,
    kaslr: KaslrOutcome::Disabled(KaslrOff::NoSeed),
    early_tables: 0,
};

pub fn boot_log() -> &'static BootLog {
    // SAFETY: written only by setup_vm, before anything reads it.
    unsafe { &*addr_of!(BOOT_LOG) }
}

pub fn probe_index(mode: SatpMode) -> usize {
    match mode {
        SatpMode::Sv57 => 0,
        SatpMode::Sv48 => 1,
        SatpMode::Sv39 => 2,
    }
}

/// A fatal error before the MMU is on: report it with the fmt-free console and stop.
fn early_fail(what: &str, value: u64) -> ! {
    early_puts("early boot failed: ");
    early_puts(what);
    early_puts(" ");
    early_put_hex(value);
    early_puts("\n");
    shutdown(ResetReason::SystemFailure)
}

/// As `early_fail`, for a message without a value.
#[cfg(feature = "nopie")]
fn early_fail_message(what: &str) -> ! {
    early_puts("early boot failed: ");
    early_puts(what);
    early_puts("\n");
    shutdown(ResetReason::SystemFailure)
}

/// The physical half of the boot: returns the satp value for early_pg_dir.
#[no_mangle]
pub extern "C" fn setup_vm(hartid: usize, dtb_pa: usize) -> usize {
    // SAFETY: one hart, MMU off, nothing else touches these statics yet.
    let boot = unsafe { &mut *addr_of_mut!(BOOT) };
    // SAFETY: as for BOOT.
    let log = unsafe { &mut *addr_of_mut!(BOOT_LOG) };
    // SAFETY: as for BOOT.
    let km = unsafe { &mut *kernel_map_ptr() };

    if let Err(why) = boot.parse(hartid, dtb_pa) {
        early_fail(why, dtb_pa as u64);
    }
    let image = Image::here();
    if !image.start.is_multiple_of(SZ_2M) {
        early_fail(
            "kernel not loaded on a 2 MiB boundary, at",
            image.start as u64,
        );
    }
    // The relocation formula and the single early PMD table assume one GiB.
    if image.start / SZ_1G != (image.end - 1) / SZ_1G {
        early_fail(
            "kernel image crosses a 1 GiB boundary, at",
            image.start as u64,
        );
    }

    let mode = set_satp_mode(boot, log);
    let layout = boot.layout;
    // The nopie-only code is compiled out of the PIE, not just dead in it: the PIE is
    // the kernel the rest of the study measures, and extra functions change how the
    // compiler partitions and inlines it.
    #[cfg(feature = "nopie")]
    if layout != KernelLayout::Top {
        early_fail_message(
            "this kernel is a non-PIE build and runs only at its link address: \
             boot it with layout=top (or no layout=), or use the PIE build",
        );
    }
    let phys_ram_base = boot.ram_start() & !(SZ_2M - 1);
    let virt_offset = choose_kaslr_offset(boot, layout, image.size(), log);

    km.mode = mode as usize;
    km.page_offset = mode.page_offset();
    km.phys_addr = image.start;
    km.size = image.size();
    km.virt_offset = virt_offset;
    km.virt_addr = layout.kernel_region_base(mode, image.start, phys_ram_base) + virt_offset;
    km.phys_ram_base = phys_ram_base;
    km.va_pa_offset = km.page_offset - phys_ram_base;
    km.va_kernel_pa_offset = km.virt_addr - km.phys_addr;
    if !km.page_offset.is_multiple_of(mode.top_level_size()) {
        early_fail(
            "PAGE_OFFSET not aligned to a top-level entry",
            km.page_offset as u64,
        );
    }

    relocate_kernel(km, log);

    let vl = VmLayout::compute(mode, layout, km);
    let tables_before = pgtable::pool_used();
    if let Err(e) = create_trampoline_and_early_tables(km, mode, &vl, boot) {
        early_fail(map_error_text(e), km.virt_addr as u64);
    }
    log.early_tables = pgtable::pool_used() - tables_before;
    mode.satp(early_pg_dir_pa())
}

fn map_error_text(e: MapError) -> &'static str {
    match e {
        MapError::OutOfTables => "out of page-table pages mapping",
        MapError::Remap => "address mapped twice:",
    }
}

/// Pick the deepest paging mode the hart, the device tree and the command line allow:
/// Sv57, else Sv48, else Sv39. A mode is tried by writing it to satp with a real table
/// behind it; satp is WARL, so a hart that lacks the mode keeps the old value (0).
///
/// Unlike Linux, modes above the device tree's `mmu-type` are still probed (and then
/// refused), so that the log says what the hart itself supports: with a DT capped at
/// sv48 on an Sv48-only hart it reads "sv57 rejected by the hart", not just "capped".
fn set_satp_mode(boot: &BootParams, log: &mut BootLog) -> SatpMode {
    let mut mode = SatpMode::Sv57;
    if boot.no4lvl {
        log.probes[probe_index(SatpMode::Sv57)] = ProbeOutcome::DisabledByNo4lvl;
        log.probes[probe_index(SatpMode::Sv48)] = ProbeOutcome::DisabledByNo4lvl;
        mode = SatpMode::Sv39;
    } else if boot.no5lvl {
        log.probes[probe_index(SatpMode::Sv57)] = ProbeOutcome::DisabledByNo5lvl;
        mode = SatpMode::Sv48;
    }
    let dt_cap = match boot.dt_mmu_type {
        DtMmuType::Cap(cap) => cap,
        DtMmuType::Absent | DtMmuType::Unrecognised => SatpMode::Sv57,
    };
    loop {
        if mode == SatpMode::Sv39 {
            log.probes[probe_index(mode)] = ProbeOutcome::Baseline;
            return mode;
        }
        let read_back = probe_satp_mode(mode);
        let outcome = if read_back >> 60 != mode as usize {
            ProbeOutcome::Rejected(read_back)
        } else if mode > dt_cap {
            ProbeOutcome::CappedByDeviceTree
        } else {
            ProbeOutcome::Accepted
        };
        log.probes[probe_index(mode)] = outcome;
        if outcome == ProbeOutcome::Accepted {
            return mode;
        }
        mode = mode.lower().unwrap_or(SatpMode::Sv39);
    }
}

/// Identity-map the 2 MiB around `write_satp_and_read_back` in early_pg_dir, so that the
/// hart keeps fetching if it accepts the mode, try it, and undo everything.
fn probe_satp_mode(mode: SatpMode) -> usize {
    let code: usize;
    // SAFETY: computes the address of a function; touches no memory.
    unsafe { asm!("lla {0}, {1}", out(reg) code, sym write_satp_and_read_back) };
    let window = code & !(SZ_2M - 1);
    let mark = pgtable::pool_used();
    let root = early_pg_dir_pa();
    pgtable::clear_table(root);
    if map_pages(root, mode, window, window, SZ_2M, SZ_2M, PAGE_KERNEL_EXEC).is_err() {
        early_fail("cannot build the satp probe table", window as u64);
    }
    // SAFETY: the table maps the code that runs while this satp value is live.
    let read_back = unsafe { write_satp_and_read_back(mode.satp(root)) };
    pgtable::clear_table(root);
    pgtable::pool_release_to(mark);
    read_back
}

/// Write satp, read it back, turn translation off again; flush around it. Only the
/// instructions of this function run with the probe mode live.
#[inline(never)]
unsafe extern "C" fn write_satp_and_read_back(satp: usize) -> usize {
    let read_back: usize;
    asm!(
        "sfence.vma",
        "csrw satp, {satp}",
        "csrr {read_back}, satp",
        "csrw satp, zero",
        "sfence.vma",
        satp = in(reg) satp,
        read_back = out(reg) read_back,
        options(nostack),
    );
    read_back
}

/// Choose the KASLR displacement: a multiple of 2 MiB that keeps the image inside the
/// first GiB of the layout's kernel region.
fn choose_kaslr_offset(
    boot: &BootParams,
    layout: KernelLayout,
    image_size: usize,
    log: &mut BootLog,
) -> usize {
    let outcome = if layout == KernelLayout::Linear {
        KaslrOutcome::Disabled(KaslrOff::LinearLayout)
    } else if boot.kaslr_arg == Some(false) {
        KaslrOutcome::Disabled(KaslrOff::Nokaslr)
    } else if boot.kaslr_seed == 0 {
        KaslrOutcome::Disabled(KaslrOff::NoSeed)
    } else {
        let positions = (SZ_1G - image_size) / SZ_2M;
        let offset = (boot.kaslr_seed % positions as u64) as usize * SZ_2M;
        KaslrOutcome::Enabled {
            offset,
            positions,
            entropy_bits: usize::BITS - 1 - positions.leading_zeros(),
        }
    };
    #[cfg(feature = "nopie")]
    let outcome = match outcome {
        KaslrOutcome::Enabled { .. } => KaslrOutcome::Disabled(KaslrOff::NotRelocatable),
        disabled => disabled,
    };
    log.kaslr = outcome;
    match outcome {
        KaslrOutcome::Enabled { offset, .. } => offset,
        KaslrOutcome::Disabled(_) => 0,
    }
}

#[repr(C)]
struct Elf64Rela {
    offset: u64,
    info: u64,
    addend: u64,
}

const R_RISCV_NONE: u64 = 0;
const R_RISCV_RELATIVE: u64 = 3;

/// Apply .rela.dyn for the kernel's virtual address, writing through physical addresses
/// (MMU off). Every entry is R_RISCV_RELATIVE: the stored value is the link-time address
/// `addend`, moved by the distance between the link address and the run address.
/// A non-PIE build runs the same code and must find an empty table and a zero distance.
fn relocate_kernel(km: &KernelMapping, log: &mut BootLog) {
    let start = symbol_addr!("__rela_dyn_start");
    let end = symbol_addr!("__rela_dyn_end");
    let count = (end - start) / core::mem::size_of::<Elf64Rela>();
    let relocs = start as *const Elf64Rela;
    let reloc_offset = km.virt_addr.wrapping_sub(KERNEL_LINK_ADDR) as u64;
    #[cfg(feature = "nopie")]
    if count != 0 {
        early_fail("a non-PIE build has dynamic relocations:", count as u64);
    }
    #[cfg(feature = "nopie")]
    if reloc_offset != 0 {
        early_fail(
            "a non-PIE build cannot run away from its link address, at",
            km.virt_addr as u64,
        );
    }
    for i in 0..count {
        // SAFETY: the table lies inside the loaded image, between the linker's bounds.
        let rela = unsafe { &*relocs.add(i) };
        match rela.info & 0xffff_ffff {
            R_RISCV_RELATIVE => {}
            R_RISCV_NONE => {
                log.relocation_none += 1;
                continue;
            }
            other => early_fail("unsupported relocation type", other),
        }
        let target = (rela.offset as usize)
            .wrapping_sub(KERNEL_LINK_ADDR)
            .wrapping_add(km.phys_addr);
        if target < km.phys_addr || target + 8 > km.phys_addr + km.size {
            early_fail("relocation outside the image at", rela.offset);
        }
        let mut value = rela.addend;
        if value >= KERNEL_LINK_ADDR as u64 {
            value = value.wrapping_add(reloc_offset);
        }
        // SAFETY: target is inside the image (checked above).
        unsafe { (target as *mut u64).write_unaligned(value) };
        log.relocations += 1;
    }
}

/// trampoline_pg_dir: exactly one 2 MiB leaf, the image's first 2 MiB at virt_addr.
/// early_pg_dir: the whole image with 2 MiB RWX leaves, plus the FDT in the fixmap.
fn create_trampoline_and_early_tables(
    km: &KernelMapping,
    mode: SatpMode,
    vl: &VmLayout,
    boot: &BootParams,
) -> Result<(), MapError> {
    let trampoline = trampoline_pg_dir_pa();
    map_pages(
        trampoline,
        mode,
        km.virt_addr,
        km.phys_addr,
        SZ_2M,
        SZ_2M,
        PAGE_KERNEL_EXEC,
    )?;
    let early = early_pg_dir_pa();
    map_pages(
        early,
        mode,
        km.virt_addr,
        km.phys_addr,
        km.size,
        SZ_2M,
        PAGE_KERNEL_EXEC,
    )?;
    map_fdt_fixmap(early, mode, vl, boot.dtb_pa)
}

/// Map the 4 MiB window that holds the DTB (2 MiB aligned) at the start of the fixmap.
fn map_fdt_fixmap(
    root: usize,
    mode: SatpMode,
    vl: &VmLayout,
    dtb_pa: usize,
) -> Result<(), MapError> {
    let window = dtb_pa & !(SZ_2M - 1);
    map_pages(
        root,
        mode,
        vl.fixmap_fdt(),
        window,
        FIXMAP_FDT_SIZE,
        SZ_2M,
        PAGE_KERNEL_RO,
    )
}

/// Where the FDT is readable once early_pg_dir is live.
pub fn fdt_fixmap_va(vl: &VmLayout, dtb_pa: usize) -> usize {
    vl.fixmap_fdt() + (dtb_pa & (SZ_2M - 1))
}

/// The permissions the linear map gives physical address `pa`, and where they change.
/// The linear alias of the image never executes (unless the kernel *is* the linear map,
/// in layout=linear) and is read-only for text and rodata.
fn linear_perm(
    pa: usize,
    km: &KernelMapping,
    image: &Image,
    layout: KernelLayout,
    break_wx: bool,
) -> (u64, usize) {
    let to_pa = |va: usize| va - km.va_kernel_pa_offset;
    let text = (to_pa(image.start), to_pa(image.text_end));
    let rodata = (to_pa(image.rodata_start), to_pa(image.rodata_end));
    if pa < text.0 {
        (PAGE_KERNEL, text.0)
    } else if pa < text.1 {
        let perm = match (layout, break_wx) {
            (_, true) => PAGE_KERNEL_EXEC,
            (KernelLayout::Linear, false) => PAGE_KERNEL_READ_EXEC,
            (_, false) => PAGE_KERNEL_RO,
        };
        (perm, text.1)
    } else if pa >= rodata.0 && pa < rodata.1 {
        (PAGE_KERNEL_RO, rodata.1)
    } else {
        (PAGE_KERNEL, usize::MAX)
    }
}

/// Map every RAM region at `__va(pa)` with the largest leaves alignment, size and
/// permission changes allow.
fn create_linear_mapping(
    root: usize,
    mode: SatpMode,
    km: &KernelMapping,
    image: &Image,
    boot: &BootParams,
) -> Result<(), MapError> {
    let limit = km.phys_ram_base + mode.kern_virt_size();
    let mut result = Ok(());
    boot.for_each_linear_range(|start, end| {
        let mut pa = (start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        let end = (end & !(PAGE_SIZE - 1)).min(limit);
        while pa < end && result.is_ok() {
            let (perm, perm_end) = linear_perm(pa, km, image, boot.layout, boot.break_wx);
            let va = crate::layout::__va(pa);
            let leaf = best_map_size(mode, pa, va, end.min(perm_end) - pa);
            result = map_pages(root, mode, va, pa, leaf, leaf, perm);
            pa += leaf;
        }
    });
    result
}

/// Map the image at virt_addr section by section: text RX, rodata R, data and bss RW.
/// Sections are 2 MiB aligned, so 2 MiB leaves give exact permissions.
fn create_kernel_page_table(
    root: usize,
    mode: SatpMode,
    km: &KernelMapping,
    image: &Image,
    break_wx: bool,
) -> Result<(), MapError> {
    let text_perm = if break_wx {
        PAGE_KERNEL_EXEC
    } else {
        PAGE_KERNEL_READ_EXEC
    };
    let sections = [
        (image.start, image.text_end, text_perm),
        (image.rodata_start, image.rodata_end, PAGE_KERNEL_RO),
        (image.data_start, image.end, PAGE_KERNEL),
    ];
    for (start, end, perm) in sections {
        kvmmap(
            root,
            mode,
            start,
            start - km.va_kernel_pa_offset,
            end - start,
            perm,
        )?;
    }
    Ok(())
}

/// Map a piece of the kernel image (2 MiB leaves).
fn kvmmap(
    root: usize,
    mode: SatpMode,
    va: usize,
    pa: usize,
    size: usize,
    perm: u64,
) -> Result<(), MapError> {
    map_pages(root, mode, va, pa, size, SZ_2M, perm)
}

/// Build swapper_pg_dir and switch to it. Runs virtually, on early_pg_dir.
pub fn setup_vm_final() -> Result<(), MapError> {
    let km = kmap();
    let boot = crate::bootparams::boot();
    let mode = crate::layout::mode();
    let image = Image::here();
    let vl = VmLayout::compute(mode, boot.layout, km);
    let root = swapper_pg_dir_pa();
    map_fdt_fixmap(root, mode, &vl, boot.dtb_pa)?;
    create_linear_mapping(root, mode, km, &image, boot)?;
    // In layout=linear the image is part of the linear map, mapped just above.
    if boot.layout != KernelLayout::Linear {
        create_kernel_page_table(root, mode, km, &image, boot.break_wx)?;
    }
    // SAFETY: swapper maps everything the kernel touches from here on: the image (text
    // executable), its stack in bss, and the FDT.
    unsafe {
        asm!("csrw satp, {0}", "sfence.vma", in(reg) mode.satp(root));
    }
    Ok(())
}

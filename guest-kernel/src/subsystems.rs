//! What the kernel does once swapper_pg_dir is live, before the self-tests: the page
//! and vmalloc allocators (with the kernel's reservation in layout=vmalloc), vmalloc
//! exhaustion, the module loader (in the window, far away, and with a bad relocation),
//! the BPF JIT, and two user processes. Each step prints its report lines and records
//! what it saw in `SubsystemRecords`; the self-tests (selftest.rs) judge the records.

use core::fmt::Write;
use core::ptr::addr_of_mut;

use crate::bootparams::boot;
use crate::bpf;
use crate::console::{Size, SmallString};
use crate::layout::{kmap, KernelLayout, VmLayout, PAGE_SIZE, SZ_1G, SZ_2M};
use crate::module::{self, LoadError};
use crate::palloc;
use crate::pgtable::PAGE_KERNEL;
use crate::println;
use crate::tlb::{self, FLUSH_PAGE_THRESHOLD};
use crate::trap::{probe_load, CAUSE_LOAD_PAGE_FAULT};
use crate::user::{self, UserReport};
use crate::vmalloc::{self, AreaKind};

/// Records of every step, for the self-tests.
#[derive(Default)]
pub struct SubsystemRecords {
    /// The kernel's reservation in vmalloc (layout=vmalloc only): (start, size).
    pub kernel_reservation: Option<(usize, usize)>,
    pub reservation_error: bool,
    pub exhaustion: Option<Exhaustion>,
    pub small_vmalloc: Option<VmallocCheck>,
    pub large_vmalloc: Option<VmallocCheck>,
    pub module: Option<ModuleCheck>,
    pub module_error: Option<SmallString>,
    pub far_refusal: Option<SmallString>,
    pub bad_reloc_refusal: Option<SmallString>,
    pub bpf: Option<bpf::BpfRun>,
    pub bpf_error: bool,
    pub user: UserReport,
}

pub struct Exhaustion {
    pub areas: usize,
    pub bytes: usize,
    pub largest_gap_left: usize,
    pub overlaps_kernel: usize,
    pub overlapping_pairs: usize,
    pub module_window_starved: bool,
    pub error: Option<vmalloc::VmError>,
    pub areas_after_free: usize,
    pub areas_before: usize,
}

pub struct VmallocCheck {
    pub addr: usize,
    pub pages: usize,
    pub data_ok: bool,
    pub guard_faults: bool,
    pub unmapped_after_free: bool,
    pub fences: tlb::FenceCounts,
}

pub struct ModuleCheck {
    pub base: usize,
    pub size: usize,
    pub in_window: bool,
    pub init_result: u64,
    pub counter_delta: u64,
    pub cookie_ok: bool,
    pub scratch_ok: bool,
    /// Relocations applied, by type.
    pub by_type: [u16; 64],
}

static mut SUBSYSTEM_RECORDS: Option<SubsystemRecords> = None;

pub fn results() -> &'static SubsystemRecords {
    // SAFETY: written once by `run`, before the self-tests read it.
    unsafe { (*addr_of_mut!(SUBSYSTEM_RECORDS)).get_or_insert_with(SubsystemRecords::default) }
}

fn results_mut() -> &'static mut SubsystemRecords {
    // SAFETY: one hart; only `run` writes.
    unsafe { (*addr_of_mut!(SUBSYSTEM_RECORDS)).get_or_insert_with(SubsystemRecords::default) }
}

pub fn run(vl: &VmLayout) {
    palloc::init();
    let (_, _, free) = palloc::stats();
    println!(
        "palloc: {} of free RAM above the kernel image",
        Size(free as u64)
    );
    reserve_kernel(vl);
    exhaust_vmalloc(vl);
    results_mut().small_vmalloc = vmalloc_map_and_free(vl, 8);
    results_mut().large_vmalloc = vmalloc_map_and_free(vl, FLUSH_PAGE_THRESHOLD + 36);
    load_module(vl);
    run_bpf(vl);
    run_user();
    let (allocated, freed, _) = palloc::stats();
    println!(
        "palloc: {allocated} pages allocated, {freed} freed; {} page-table pages beyond the boot pool; heap high water {} bytes",
        crate::pgtable::extra_tables(),
        crate::heap::high_water()
    );
}

/// vm_area_add_early: in layout=vmalloc the image lies inside vmalloc, so its range
/// (rounded up to 2 MiB) is taken out before anyone allocates.
fn reserve_kernel(vl: &VmLayout) {
    println!(
        "vmalloc: window {:#018x} - {:#018x} ({})",
        vl.vmalloc_start,
        vl.vmalloc_end - 1,
        Size((vl.vmalloc_end - vl.vmalloc_start) as u64)
    );
    let k = kmap();
    if boot().layout != KernelLayout::Vmalloc {
        println!(
            "vmalloc: kernel image outside vmalloc (layout={}), nothing reserved",
            boot().layout.name()
        );
        return;
    }
    let size = k.size.next_multiple_of(SZ_2M);
    match vmalloc::reserve_early(k.virt_addr, size) {
        Ok(()) => {
            println!(
                "vmalloc: kernel reserved {:#018x} - {:#018x} ({}, image {} rounded up to 2 MiB)",
                k.virt_addr,
                k.virt_addr + size - 1,
                Size(size as u64),
                Size(k.size as u64)
            );
            results_mut().kernel_reservation = Some((k.virt_addr, size));
        }
        Err(e) => {
            println!("vmalloc: kernel reservation failed: {e:?}");
            results_mut().reservation_error = true;
        }
    }
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Reserve address space in vmalloc, large areas first, halving the size each time
/// none fits, down to a single page: afterwards no gap of two pages (one plus its
/// guard) is left. Then check nothing overlaps the kernel or anything else, see whether
/// the module window still has room, and free it all.
fn exhaust_vmalloc(vl: &VmLayout) {
    let areas_before = vmalloc::areas().len();
    let mut size =
        1usize << (usize::BITS - 1 - ((vl.vmalloc_end - vl.vmalloc_start) / 8).leading_zeros());
    let mut taken = 0usize;
    let mut bytes = 0usize;
    let mut error = None;
    while size >= PAGE_SIZE {
        match vmalloc::get_vm_area(size, vl.vmalloc_start, vl.vmalloc_end) {
            Ok(_) => {
                taken += 1;
                bytes += size;
            }
            Err(vmalloc::VmError::NoSpace) => size /= 2,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let areas = vmalloc::areas();
    let reserved = results().kernel_reservation.map(|(s, n)| (s, s + n));
    let test_areas = || {
        areas
            .iter()
            .filter(|a| a.kind == AreaKind::Reserved)
            .map(|a| (a.start, a.start + a.size + a.guard))
    };
    let overlaps_kernel = reserved.map_or(0, |r| test_areas().filter(|&a| overlaps(a, r)).count());
    let overlapping_pairs = areas
        .windows(2)
        .filter(|w| w[0].start + w[0].size + w[0].guard > w[1].start)
        .count();
    let largest_gap_left = vmalloc::largest_gap(vl.vmalloc_start, vl.vmalloc_end);
    let mut to_free = [0usize; 256];
    for (slot, a) in to_free.iter_mut().zip(test_areas()) {
        *slot = a.0;
    }
    // Can a module still be placed, with vmalloc full?
    let module_window_starved =
        match vmalloc::get_vm_area(16 * PAGE_SIZE, vl.modules_start, vl.modules_end) {
            Ok(addr) => {
                let _ = vmalloc::free_vm_area(addr);
                false
            }
            Err(_) => true,
        };
    for &start in to_free.iter().take(taken.min(256)) {
        let _ = vmalloc::free_vm_area(start);
    }
    let areas_after_free = vmalloc::areas().len();
    println!(
        "vmalloc: exhausted with {taken} areas ({bytes:#x} bytes of address space, largest gap left {:#x}), kernel overlaps={overlaps_kernel}, overlapping pairs={overlapping_pairs}, module window starved={}",
        largest_gap_left,
        if module_window_starved { "yes" } else { "no" }
    );
    if let Some(e) = error {
        println!("vmalloc: exhaustion stopped early: {e:?}");
    }
    results_mut().exhaustion = Some(Exhaustion {
        areas: taken,
        bytes,
        largest_gap_left,
        overlaps_kernel,
        overlapping_pairs,
        module_window_starved,
        error,
        areas_after_free,
        areas_before,
    });
}

/// vmalloc `pages` pages, write and read them back, check the guard page faults, free
/// them and check the range is gone and how the TLB was flushed.
fn vmalloc_map_and_free(vl: &VmLayout, pages: usize) -> Option<VmallocCheck> {
    let size = pages * PAGE_SIZE;
    let addr = match vmalloc::vmalloc_range(size, vl.vmalloc_start, vl.vmalloc_end, PAGE_KERNEL) {
        Ok(a) => a,
        Err(e) => {
            println!("vmalloc: {pages} pages failed: {e:?}");
            return None;
        }
    };
    let mut data_ok = true;
    for i in 0..pages {
        let p = (addr + i * PAGE_SIZE) as *mut u64;
        // SAFETY: the area was just mapped read-write.
        unsafe {
            p.write_volatile(0xa5a5_0000 + i as u64);
            p.add(511).write_volatile(!(i as u64));
        }
    }
    for i in 0..pages {
        let p = (addr + i * PAGE_SIZE) as *const u64;
        // SAFETY: as above.
        data_ok &= unsafe {
            p.read_volatile() == 0xa5a5_0000 + i as u64 && p.add(511).read_volatile() == !(i as u64)
        };
    }
    let guard_faults =
        matches!(probe_load(addr + size), Err(f) if f.cause == CAUSE_LOAD_PAGE_FAULT);
    let before = tlb::counts();
    let freed = vmalloc::vfree(addr).is_ok();
    let fences = tlb::counts().since(&before);
    let unmapped_after_free =
        freed && matches!(probe_load(addr), Err(f) if f.cause == CAUSE_LOAD_PAGE_FAULT);
    println!(
        "vmalloc: {pages} pages at {addr:#018x}: data {}, guard page {}, freed with {} page fences + {} full fences (threshold {FLUSH_PAGE_THRESHOLD} pages), {} after free",
        if data_ok { "ok" } else { "CORRUPT" },
        if guard_faults { "faults" } else { "DOES NOT FAULT" },
        fences.page,
        fences.full,
        if unmapped_after_free { "unmapped" } else { "STILL MAPPED" }
    );
    Some(VmallocCheck {
        addr,
        pages,
        data_ok,
        guard_faults,
        unmapped_after_free,
        fences,
    })
}

fn error_text(e: &LoadError) -> SmallString {
    let mut s = SmallString::new();
    let _ = write!(s, "{e}");
    s
}

fn load_module(vl: &VmLayout) {
    let object = module::module_object();
    let far = boot().module_far;
    let (lo, hi) = if far {
        (vl.vmalloc_start, vl.vmalloc_start + SZ_1G)
    } else {
        (vl.modules_start, vl.modules_end)
    };
    println!(
        "module: object {} bytes, window {:#018x} - {:#018x}{}",
        object.len(),
        vl.modules_start,
        vl.modules_end - 1,
        if far {
            ", module-place=far: loading at the start of vmalloc instead"
        } else {
            ""
        }
    );
    let start = crate::vm::Image::here().start;
    // SAFETY: reading kernel data the module may have written; nothing runs concurrently.
    let counter_before =
        unsafe { core::ptr::addr_of!(module::kernel_module_counter).read_volatile() };
    match module::load(object, lo, hi) {
        Ok(m) => {
            let distance = m.base as i64 - start as i64;
            println!(
                "module: loaded at {:#018x} size {:#x} (text {:#x} rodata {:#x} data+got {:#x}, {} GOT entries), distance to _start {}{:#x} ({} MiB)",
                m.base,
                m.size,
                m.text_size,
                m.rodata_size,
                m.data_size,
                m.got_entries,
                if distance < 0 { "-" } else { "+" },
                distance.unsigned_abs(),
                distance / (1 << 20)
            );
            println!(
                "module: {} sections, {} symbols, {} undefined resolved through {} kernel exports",
                m.sections,
                m.symbols,
                m.undefined,
                module::export_count()
            );
            crate::print!("module: relocations");
            let mut total = 0;
            for (t, &n) in m.by_type.iter().enumerate() {
                if n > 0 {
                    crate::print!(" {}={n}", module::reloc_name(t as u32));
                    total += n as usize;
                }
            }
            println!(" total={total}");
            let init_result = m.call_init();
            // SAFETY: as above.
            let (counter, scratch) = unsafe {
                (
                    core::ptr::addr_of!(module::kernel_module_counter).read_volatile(),
                    core::ptr::addr_of!(module::kernel_scratch[module::MODULE_ABS_OFFSET / 8])
                        .read_volatile(),
                )
            };
            let cookie_ok = module::registered_cookie() == 0x0123_4567;
            println!(
                "module: init returned {init_result:#x}, kernel_module_counter {counter_before} -> {counter}, callback cookie {}, kernel_scratch[{:#x}] = {scratch:#x}",
                if cookie_ok { "ok" } else { "MISSING" },
                module::MODULE_ABS_OFFSET
            );
            results_mut().module = Some(ModuleCheck {
                base: m.base,
                size: m.size,
                in_window: m.base >= vl.modules_start && m.base + m.size <= vl.modules_end,
                init_result,
                counter_delta: counter.wrapping_sub(counter_before),
                cookie_ok,
                scratch_ok: scratch == 0x600d_f00d,
                by_type: m.by_type,
            });
            // The module stays loaded (its pages are checked by the page-table dump).
        }
        Err(e) => {
            println!("module: load failed: {e}");
            results_mut().module_error = Some(error_text(&e));
        }
    }
    refuse_far_load(vl);
    refuse_bad_relocation(vl);
}

/// The same object placed more than 2 GiB from the kernel must be refused.
fn refuse_far_load(vl: &VmLayout) {
    let object = module::module_object();
    match module::load(object, vl.vmalloc_start, vl.vmalloc_start + SZ_1G) {
        Ok(m) => {
            println!(
                "module: far load at {:#018x} was ACCEPTED (it should not reach the kernel)",
                m.base
            );
            m.unload();
        }
        Err(e) => {
            println!(
                "module: far load in {:#018x} - {:#018x} refused: {e}",
                vl.vmalloc_start,
                vl.vmalloc_start + SZ_1G - 1
            );
            results_mut().far_refusal = Some(error_text(&e));
        }
    }
}

/// A copy of the object with one relocation turned into a type the loader does not
/// handle (R_RISCV_TLS_DTPREL64) must be refused with that type's name.
fn refuse_bad_relocation(vl: &VmLayout) {
    static mut COPY: [u8; 32 * 1024] = [0; 32 * 1024];
    let object = module::module_object();
    // SAFETY: one hart; COPY is only used here.
    let copy = unsafe { &mut *addr_of_mut!(COPY) };
    if object.len() > copy.len() {
        println!("module: object too large for the bad-relocation test");
        return;
    }
    copy[..object.len()].copy_from_slice(object);
    let Some(at) = first_rela_entry(object) else {
        println!("module: no relocation to corrupt");
        return;
    };
    // r_info's low 32 bits are the type (little-endian ELF64 Rela: offset, info, addend).
    copy[at + 8..at + 12].copy_from_slice(&9u32.to_le_bytes());
    let copy: &'static [u8] = &copy[..object.len()];
    match module::load(copy, vl.modules_start, vl.modules_end) {
        Ok(m) => {
            println!("module: corrupted object was ACCEPTED");
            m.unload();
        }
        Err(e) => {
            println!("module: corrupted object refused: {e}");
            results_mut().bad_reloc_refusal = Some(error_text(&e));
        }
    }
}

/// File offset of the first entry of the first SHT_RELA section.
fn first_rela_entry(object: &[u8]) -> Option<usize> {
    let read = |at: usize, n: usize| -> Option<u64> {
        let bytes = object.get(at..at + n)?;
        Some(bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | b as u64))
    };
    let shoff = read(0x28, 8)? as usize;
    let shentsize = read(0x3a, 2)? as usize;
    let shnum = read(0x3c, 2)? as usize;
    (0..shnum).find_map(|i| {
        let sh = shoff + i * shentsize;
        let is_rela = read(sh + 4, 4)? == 4;
        let size = read(sh + 0x20, 8)?;
        (is_rela && size >= 24)
            .then(|| read(sh + 0x18, 8))
            .flatten()
            .map(|o| o as usize)
    })
}

fn run_bpf(vl: &VmLayout) {
    match bpf::run(vl.bpf_start, vl.bpf_end, 5) {
        Ok(r) => {
            println!(
                "bpf: jit {} instructions at {:#018x} (written through the linear alias, mapped RX, fence.i), helper call distance {}{:#x}, run(5) = {} expected {} {}",
                r.instructions,
                r.addr,
                if r.call_distance < 0 { "-" } else { "+" },
                r.call_distance.unsigned_abs(),
                r.result,
                r.expected,
                if r.result == r.expected { "ok" } else { "WRONG" }
            );
            results_mut().bpf = Some(r);
        }
        Err(e) => {
            println!("bpf: failed: {e}");
            results_mut().bpf_error = true;
        }
    }
}

fn run_user() {
    let noasid = boot().noasid;
    let report = user::run(noasid);
    println!(
        "asid: satp.ASID has {} writable bits; {}",
        report.asid_bits,
        if report.use_asids {
            "processes get ASIDs 1 and 2, switches do not flush"
        } else if noasid {
            "noasid: every process runs as ASID 0, each switch flushes the TLB"
        } else {
            "too few ASIDs: every process runs as ASID 0, each switch flushes the TLB"
        }
    );
    if let Some(e) = report.setup_error {
        println!("user: setup failed: {e}");
    }
    for (i, exit) in report.exits.iter().enumerate() {
        match exit {
            Some(code) => println!(
                "user: pid {} exited {code} after {} yields",
                i + 1,
                report.yields[i]
            ),
            None => println!("user: pid {} did not exit", i + 1),
        }
    }
    println!(
        "user: switches={} satp_writes={} sfence.vma={} (page={} full={} asid={}) syscalls={} sum_copies={} bytes={} mode={}",
        report.switches,
        report.satp_writes,
        report.fences.total(),
        report.fences.page,
        report.fences.full,
        report.fences.asid,
        report.syscalls,
        report.sum_windows,
        report.bytes_copied,
        if report.use_asids { "asid" } else { "noasid" }
    );
    println!(
        "user: kernel load from user memory without SUM {}, with SUM {}",
        if report.sum_fault_without {
            "faults"
        } else {
            "DID NOT FAULT"
        },
        if report.sum_ok_with { "ok" } else { "FAULTED" }
    );
    results_mut().user = report;
}

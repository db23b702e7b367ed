//! Self-tests of the mappings the boot built. Each returns Ok or a one-line reason; the
//! boot exits with a failure status if any fails. Several of them must fail with
//! `selftest-break=wx`, which maps kernel text writable (and keeps it executable).

use core::ptr::{addr_of, addr_of_mut};

use crate::bootparams::boot;
use crate::console::SmallString;
use crate::layout::{
    __pa, __pa_symbol, __va, is_linear_mapping, kmap, lm_alias, mode, page_align_up, KernelLayout,
    VmLayout, KERNEL_LINK_ADDR, PAGE_SIZE, SZ_1G, SZ_2G, SZ_2M,
};
use crate::pgtable::{
    best_map_size, early_pg_dir_pa, for_each_leaf, level_size, lookup, pte_pa, swapper_pg_dir_pa,
    trampoline_pg_dir_pa, PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X,
};
use crate::println;
use crate::trap::{
    probe_exec, probe_exec_target, probe_load, probe_store, CAUSE_INSTRUCTION_PAGE_FAULT,
    CAUSE_STORE_PAGE_FAULT,
};
use crate::vm::{fdt_fixmap_va, Image};

pub type Outcome = Result<(), SmallString>;
type SelfTest = (&'static str, fn(&VmLayout) -> Outcome);

/// A test that does not apply to this configuration.
pub const SKIP: &str = "\u{1}skip:";

#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {{
        let mut s = $crate::console::SmallString::new();
        let _ = core::fmt::Write::write_fmt(&mut s, format_args!($($arg)*));
        return Err(s);
    }};
}

#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond { fail!($($arg)*); }
    };
}

/// Data the tests poke at: one value in rodata, one in data, and a pointer to it that
/// only the boot-time relocation can have made right.
static RODATA_PROBE: u64 = 0x0123_4567_89ab_cdef;
static mut DATA_PROBE: u64 = 0;
static RELOCATED_POINTER: &u64 = &RODATA_PROBE;

pub struct Summary {
    pub run: usize,
    pub failed: usize,
    failed_names: [&'static str; 32],
}

impl Summary {
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

pub fn run_all(vl: &VmLayout) -> Summary {
    let tests: [SelfTest; 28] = [
        ("relocation", relocation),
        ("satp_is_swapper", satp_is_swapper),
        ("kernel_address", kernel_address),
        ("pa_va_linear", pa_va_linear),
        ("pa_va_kernel", pa_va_kernel),
        ("text_store_faults", text_store_faults),
        ("text_alias_store_faults", text_alias_store_faults),
        ("rodata_store_faults", rodata_store_faults),
        ("rodata_alias_store_faults", rodata_alias_store_faults),
        ("data_store_ok", data_store_ok),
        ("text_exec_ok", text_exec_ok),
        ("exec_linear_alias_faults", exec_linear_alias_faults),
        ("fdt_fixmap", fdt_fixmap),
        ("trampoline_pg_dir", trampoline_one_leaf),
        ("early_pg_dir", early_maps_image),
        ("page_table_walk", page_table_walk),
        ("no_wx_mappings", page_table_dump),
        (
            "vmalloc_kernel_reserved",
            crate::subsystems_tests::vmalloc_kernel_reserved,
        ),
        (
            "vmalloc_exhaustion",
            crate::subsystems_tests::vmalloc_exhaustion,
        ),
        (
            "vmalloc_map_free",
            crate::subsystems_tests::vmalloc_map_free,
        ),
        (
            "module_in_window",
            crate::subsystems_tests::module_in_window,
        ),
        (
            "module_init_callback",
            crate::subsystems_tests::module_init_callback,
        ),
        (
            "module_relocation_kinds",
            crate::subsystems_tests::module_relocation_kinds,
        ),
        (
            "module_far_refused",
            crate::subsystems_tests::module_far_refused,
        ),
        (
            "module_bad_relocation_refused",
            crate::subsystems_tests::module_bad_relocation_refused,
        ),
        ("bpf_jit", crate::subsystems_tests::bpf_jit),
        ("user_processes", crate::subsystems_tests::user_processes),
        (
            "user_sum_and_asid",
            crate::subsystems_tests::user_sum_and_asid,
        ),
    ];
    let mut summary = Summary {
        run: 0,
        failed: 0,
        failed_names: [""; 32],
    };
    for (name, test) in tests {
        match test(vl) {
            Ok(()) => {
                summary.run += 1;
                println!("selftest: {name} ok");
            }
            Err(why) if why.as_str().starts_with(SKIP) => {
                println!("selftest: {name} skipped ({})", &why.as_str()[SKIP.len()..]);
            }
            Err(why) => {
                summary.run += 1;
                println!("selftest: {name} FAILED ({})", why.as_str());
                if summary.failed < summary.failed_names.len() {
                    summary.failed_names[summary.failed] = name;
                }
                summary.failed += 1;
            }
        }
    }
    if summary.all_passed() {
        println!("selftests: all {} passed", summary.run);
    } else {
        crate::print!("selftests: {} of {} FAILED:", summary.failed, summary.run);
        for name in &summary.failed_names[..summary.failed.min(32)] {
            crate::print!(" {name}");
        }
        println!();
    }
    summary
}

fn text_addr() -> usize {
    probe_exec_target as *const () as usize
}

fn relocation(_: &VmLayout) -> Outcome {
    // SAFETY: reading a static; volatile so the compiler cannot fold the stored pointer
    // into a pc-relative address and bypass the relocation we want to check.
    let stored = unsafe { addr_of!(RELOCATED_POINTER).read_volatile() } as *const u64 as usize;
    let actual = addr_of!(RODATA_PROBE) as usize;
    ensure!(
        stored == actual,
        "pointer in data is {stored:#x}, object is at {actual:#x}"
    );
    Ok(())
}

fn satp_is_swapper(_: &VmLayout) -> Outcome {
    let satp: usize;
    // SAFETY: reading a CSR.
    unsafe { core::arch::asm!("csrr {0}, satp", out(reg) satp) };
    let want = mode().satp(swapper_pg_dir_pa());
    ensure!(satp == want, "satp={satp:#x}, expected {want:#x}");
    Ok(())
}

/// virt_addr is where the layout (and KASLR) put it, and is 2 MiB aligned.
fn kernel_address(_: &VmLayout) -> Outcome {
    let k = kmap();
    let b = boot();
    let base = b
        .layout
        .kernel_region_base(mode(), k.phys_addr, k.phys_ram_base);
    ensure!(
        k.virt_addr.is_multiple_of(SZ_2M),
        "virt_addr {:#x} not 2 MiB aligned",
        k.virt_addr
    );
    match b.layout {
        KernelLayout::Linear => ensure!(
            k.virt_addr == __va(k.phys_addr),
            "virt_addr {:#x} is not __va(phys_addr)",
            k.virt_addr
        ),
        _ => ensure!(
            k.virt_addr >= base && k.virt_addr + k.size <= base + SZ_1G,
            "virt_addr {:#x} outside the first GiB of the region at {base:#x}",
            k.virt_addr
        ),
    }
    if b.layout == KernelLayout::Vmalloc {
        ensure!(
            base == mode().page_offset() - SZ_2G,
            "vmalloc base {base:#x}"
        );
    }
    if b.layout == KernelLayout::Top {
        ensure!(base == KERNEL_LINK_ADDR, "top base {base:#x}");
    }
    let here = Image::here().start;
    ensure!(
        here == k.virt_addr,
        "running at {here:#x}, kernel_map says {:#x}",
        k.virt_addr
    );
    Ok(())
}

fn pa_va_linear(_: &VmLayout) -> Outcome {
    let b = boot();
    let mut result = Ok(());
    let check = |pa: usize| -> Outcome {
        let va = __va(pa);
        ensure!(
            is_linear_mapping(va),
            "__va({pa:#x}) = {va:#x} not in the linear map"
        );
        ensure!(__pa(va) == pa, "__pa(__va({pa:#x})) = {:#x}", __pa(va));
        if b.is_reserved(pa) {
            return Ok(()); // firmware memory: mapped, but PMP would refuse the load
        }
        if let Err(f) = probe_load(va) {
            fail!(
                "load from __va({pa:#x}) = {va:#x} faulted (scause {})",
                f.cause
            );
        }
        Ok(())
    };
    b.for_each_linear_range(|start, end| {
        let start = page_align_up(start);
        let end = end & !(PAGE_SIZE - 1);
        if result.is_ok() && start < end {
            result = check(start).and_then(|_| check(end - 8));
        }
    });
    result?;
    check(b.dtb_pa & !7)
}

fn pa_va_kernel(_: &VmLayout) -> Outcome {
    let k = kmap();
    let x = addr_of_mut!(DATA_PROBE) as usize;
    let Some(pa) = __pa_symbol(x) else {
        fail!("__pa_symbol({x:#x}) refused a kernel address");
    };
    ensure!(
        pa == k.phys_addr + (x - k.virt_addr),
        "__pa_symbol({x:#x}) = {pa:#x}"
    );
    ensure!(
        __pa(x) == pa,
        "__pa({x:#x}) = {:#x}, __pa_symbol = {pa:#x}",
        __pa(x)
    );
    ensure!(
        __pa_symbol(__va(0x8000_0000)).is_none() || k.va_pa_offset == k.va_kernel_pa_offset,
        "__pa_symbol accepted a linear address"
    );
    let Some(alias) = lm_alias(x) else {
        fail!("no lm_alias for {x:#x}")
    };
    ensure!(__pa(alias) == pa, "__pa(lm_alias) = {:#x}", __pa(alias));
    // The two mappings are one memory: a store through one is seen through the other.
    // SAFETY: DATA_PROBE is ours; alias maps the same bytes (checked just above).
    unsafe {
        (x as *mut u64).write_volatile(0xfeed_f00d_1234_5678);
        let seen = (alias as *const u64).read_volatile();
        ensure!(seen == 0xfeed_f00d_1234_5678, "alias read {seen:#x}");
    }
    Ok(())
}

fn expect_fault(
    addr: usize,
    cause: usize,
    what: &str,
    fault: Option<crate::trap::Fault>,
) -> Outcome {
    match fault {
        None => fail!("{what} at {addr:#x} did not fault"),
        Some(f) if f.cause != cause || f.addr != addr => fail!(
            "{what} at {addr:#x} gave scause {} stval {:#x}",
            f.cause,
            f.addr
        ),
        Some(_) => Ok(()),
    }
}

fn text_store_faults(_: &VmLayout) -> Outcome {
    let va = text_addr();
    expect_fault(va, CAUSE_STORE_PAGE_FAULT, "store to text", probe_store(va))
}

fn text_alias_store_faults(_: &VmLayout) -> Outcome {
    let Some(va) = lm_alias(text_addr()) else {
        fail!("no alias")
    };
    expect_fault(
        va,
        CAUSE_STORE_PAGE_FAULT,
        "store to text's linear alias",
        probe_store(va),
    )
}

fn rodata_store_faults(_: &VmLayout) -> Outcome {
    let va = addr_of!(RODATA_PROBE) as usize;
    expect_fault(
        va,
        CAUSE_STORE_PAGE_FAULT,
        "store to rodata",
        probe_store(va),
    )
}

fn rodata_alias_store_faults(_: &VmLayout) -> Outcome {
    let Some(va) = lm_alias(addr_of!(RODATA_PROBE) as usize) else {
        fail!("no alias")
    };
    expect_fault(
        va,
        CAUSE_STORE_PAGE_FAULT,
        "store to rodata's linear alias",
        probe_store(va),
    )
}

fn data_store_ok(_: &VmLayout) -> Outcome {
    let va = addr_of_mut!(DATA_PROBE) as usize;
    let Some(alias) = lm_alias(va) else {
        fail!("no alias")
    };
    for addr in [va, alias] {
        if let Some(f) = probe_store(addr) {
            fail!("store to data at {addr:#x} faulted (scause {})", f.cause);
        }
    }
    Ok(())
}

fn text_exec_ok(_: &VmLayout) -> Outcome {
    if let Some(f) = probe_exec(text_addr()) {
        fail!(
            "calling kernel text faulted (scause {} stval {:#x})",
            f.cause,
            f.addr
        );
    }
    Ok(())
}

fn exec_linear_alias_faults(_: &VmLayout) -> Outcome {
    if boot().layout == KernelLayout::Linear {
        fail!("{SKIP}layout=linear: the kernel text is the linear map");
    }
    let Some(va) = lm_alias(text_addr()) else {
        fail!("no alias")
    };
    expect_fault(
        va,
        CAUSE_INSTRUCTION_PAGE_FAULT,
        "fetch from text's linear alias",
        probe_exec(va),
    )
}

fn fdt_magic_at(va: usize) -> Result<u32, SmallString> {
    match probe_load(va & !7) {
        Ok(word) => {
            let shift = (va & 7) * 8;
            Ok(u32::from_be((word >> shift) as u32))
        }
        Err(f) => fail!("load at {va:#x} faulted (scause {})", f.cause),
    }
}

fn fdt_fixmap(vl: &VmLayout) -> Outcome {
    let dtb_pa = boot().dtb_pa;
    for va in [fdt_fixmap_va(vl, dtb_pa), __va(dtb_pa)] {
        let magic = fdt_magic_at(va)?;
        ensure!(magic == 0xd00d_feed, "FDT magic at {va:#x} is {magic:#x}");
    }
    Ok(())
}

fn trampoline_one_leaf(_: &VmLayout) -> Outcome {
    let k = kmap();
    let mut leaves = 0;
    let mut good = false;
    for_each_leaf(trampoline_pg_dir_pa(), mode(), &mut |va, pte, level| {
        leaves += 1;
        good = va == k.virt_addr
            && level == 1
            && pte_pa(pte) == k.phys_addr
            && pte & (PTE_R | PTE_W | PTE_X) == PTE_R | PTE_W | PTE_X;
    });
    ensure!(
        leaves == 1 && good,
        "{leaves} leaves; want one 2 MiB RWX leaf at virt_addr"
    );
    Ok(())
}

fn early_maps_image(vl: &VmLayout) -> Outcome {
    let k = kmap();
    let (mut image, mut fixmap, mut other) = (0, 0, 0);
    for_each_leaf(early_pg_dir_pa(), mode(), &mut |va, pte, level| {
        if level != 1 {
            other += 1;
        } else if va >= k.virt_addr
            && va < k.virt_addr + k.size
            && pte_pa(pte) == va - k.va_kernel_pa_offset
        {
            image += 1;
        } else if va >= vl.fixmap_start && va < vl.pci_io_start {
            fixmap += 1;
        } else {
            other += 1;
        }
    });
    let want = k.size / SZ_2M;
    ensure!(
        image == want && fixmap == 2 && other == 0,
        "{image} image leaves (want {want}), {fixmap} fixmap, {other} other"
    );
    Ok(())
}

/// Translate through swapper_pg_dir by software and compare with what the mapping should be.
fn check_leaf(va: usize, want_level: Option<usize>, want_flags: u64, what: &str) -> Outcome {
    let Some((pte, level)) = lookup(swapper_pg_dir_pa(), mode(), va) else {
        fail!("{what} {va:#x} unmapped");
    };
    let size = level_size(level);
    let pa = pte_pa(pte) + (va & (size - 1));
    ensure!(
        pa == __pa(va),
        "{what} {va:#x} -> {pa:#x}, __pa says {:#x}",
        __pa(va)
    );
    if let Some(l) = want_level {
        ensure!(
            level == l,
            "{what} {va:#x}: leaf of {size:#x} bytes, want {:#x}",
            level_size(l)
        );
    }
    let mask = PTE_R | PTE_W | PTE_X | PTE_U | PTE_G | PTE_A | PTE_D | PTE_V;
    ensure!(
        pte & mask == want_flags,
        "{what} {va:#x}: flags {:#x}, want {want_flags:#x}",
        pte & mask
    );
    Ok(())
}

fn page_table_walk(_: &VmLayout) -> Outcome {
    let base = PTE_V | PTE_G | PTE_A | PTE_D;
    let linear = boot().layout == KernelLayout::Linear;
    let text = text_addr();
    check_leaf(text, Some(1), base | PTE_R | PTE_X, "text")?;
    check_leaf(
        addr_of!(RODATA_PROBE) as usize,
        Some(1),
        base | PTE_R,
        "rodata",
    )?;
    check_leaf(
        addr_of!(DATA_PROBE) as usize,
        Some(1),
        base | PTE_R | PTE_W,
        "data",
    )?;
    if !linear {
        let alias = lm_alias(text).unwrap_or(0);
        check_leaf(alias, None, base | PTE_R, "text linear alias")?;
    }
    // The first linear range starts with the largest leaf its alignment allows, unless
    // that leaf would reach the image, whose alias is split by permissions.
    let mut first = None;
    boot().for_each_linear_range(|start, end| {
        if first.is_none() {
            first = Some((page_align_up(start), end & !(PAGE_SIZE - 1)));
        }
    });
    let Some((start, end)) = first else {
        fail!("no RAM in the linear map")
    };
    let va = __va(start);
    let want = best_map_size(mode(), start, va, end - start);
    let (image_start, image_end) = (kmap().phys_addr, kmap().phys_addr + kmap().size);
    let level = if start < image_end && start + want > image_start {
        None
    } else {
        Some((want.trailing_zeros() as usize - 12) / 9)
    };
    check_leaf(va, level, base | PTE_R | PTE_W, "linear map start")?;
    Ok(())
}

fn in_dynamic_region(vl: &VmLayout, va: usize) -> bool {
    let within = |start: usize, end: usize| va >= start && va < end;
    within(vl.vmalloc_start, vl.vmalloc_end)
        || within(vl.modules_start, vl.modules_end)
        || within(vl.bpf_start, vl.bpf_end)
}

/// Walk every leaf of swapper_pg_dir: nothing is writable and executable, every leaf is
/// a global kernel leaf with A and D set, lies in a known region (the linear map, the
/// image, the fixmap, or 4 KiB pages of vmalloc, modules and BPF), and the linear map
/// covers exactly the RAM.
fn page_table_dump(vl: &VmLayout) -> Outcome {
    let k = kmap();
    let linear_layout = boot().layout == KernelLayout::Linear;
    let (mut linear_bytes, mut image_bytes, mut fixmap_bytes) = (0usize, 0usize, 0usize);
    let mut bad: Option<(usize, u64)> = None;
    let mut stray: Option<usize> = None;
    for_each_leaf(swapper_pg_dir_pa(), mode(), &mut |va, pte, level| {
        let size = level_size(level);
        let wx = pte & (PTE_W | PTE_X) == PTE_W | PTE_X;
        let flags_ok = pte & (PTE_G | PTE_A | PTE_D | PTE_V) == PTE_G | PTE_A | PTE_D | PTE_V
            && pte & PTE_U == 0;
        if (wx || !flags_ok) && bad.is_none() {
            bad = Some((va, pte));
        }
        if is_linear_mapping(va) {
            linear_bytes += size;
        } else if va >= k.virt_addr && va < k.virt_addr + k.size {
            image_bytes += size;
        } else if va >= vl.fixmap_start && va < vl.pci_io_start {
            fixmap_bytes += size;
        } else if level == 0 && in_dynamic_region(vl, va) {
            // vmalloc, module and BPF pages: 4 KiB leaves, checked for W^X above.
        } else if stray.is_none() {
            stray = Some(va);
        }
    });
    if let Some((va, pte)) = bad {
        let kind = if pte & (PTE_W | PTE_X) == PTE_W | PTE_X {
            "writable+executable"
        } else {
            "bad flags on"
        };
        fail!("{kind} leaf at {va:#x} (pte {pte:#x})");
    }
    if let Some(va) = stray {
        fail!("leaf at {va:#x} outside linear map, image and fixmap");
    }
    let mut ram = 0;
    boot().for_each_linear_range(|start, end| {
        ram += (end & !(PAGE_SIZE - 1)).saturating_sub(page_align_up(start));
    });
    ensure!(
        linear_bytes == ram,
        "linear map covers {linear_bytes:#x} bytes, RAM is {ram:#x}"
    );
    let want_image = if linear_layout { 0 } else { k.size };
    ensure!(
        image_bytes == want_image,
        "image mapped {image_bytes:#x} bytes, want {want_image:#x}"
    );
    ensure!(fixmap_bytes == 2 * SZ_2M, "fixmap {fixmap_bytes:#x} bytes");
    Ok(())
}

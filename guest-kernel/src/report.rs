//! The boot report. Tests grep these lines, so their shape is a contract:
//!
//! ```text
//! boot: hart=<n> dtb=0x<pa> size=0x<bytes> console=<sbi-legacy|sbi-dbcn> bootargs="<args>"
//! dt: memory 0x<start>-0x<end> (<size>)                     one per /memory region
//! dt: reserved no-map 0x<start>-0x<end> (<size>)            not in the linear map
//! dt: reserved 0x<start>-0x<end> (<size>)                   mapped, never touched
//! dt: mmu-type=<sv39|sv48|sv57|absent|unrecognised>
//! satp: <mode> <outcome>                                    one per mode considered
//! satp: using <mode> (<deeper mode> <outcome>)
//! relocate: <n> R_RISCV_RELATIVE relocations applied at physical addresses, reloc_offset=0x<x>
//! kaslr: enabled offset=0x<x> entropy_bits=<n> positions=<n>   or   kaslr: disabled (<why>) offset=0x0
//! kernel: virt_addr=0x<x> page_offset=0x<x> mode=<mode> layout=<layout> kaslr_offset=0x<x> phys_addr=0x<x> size=0x<x>
//! kernel_map: va_pa_offset=0x<x> va_kernel_pa_offset=0x<x> phys_ram_base=0x<x>
//! mmu: early_pg_dir live (<n> early tables) fdt via fixmap at 0x<va>
//! mmu: swapper_pg_dir live (<n> page-table pages in use)
//! layout: <region> 0x<first> - 0x<last> (<size>)            inclusive ends, one per region
//! linear-map: leaves 512G=<n> 1G=<n> 2M=<n> 4K=<n>
//! palloc: <size> of free RAM above the kernel image
//! vmalloc: window 0x<first> - 0x<last> (<size>)
//! vmalloc: kernel reserved 0x<first> - 0x<last> (<size>, image <size> rounded up to 2 MiB)   layout=vmalloc
//! vmalloc: kernel image outside vmalloc (layout=<layout>), nothing reserved                  other layouts
//! vmalloc: exhausted with <n> areas (0x<bytes> bytes of address space, largest gap left 0x<x>), kernel overlaps=<n>, overlapping pairs=<n>, module window starved=<yes|no>
//! vmalloc: <n> pages at 0x<va>: data ok, guard page faults, freed with <n> page fences + <n> full fences (threshold 64 pages), unmapped after free
//! module: object <n> bytes, window 0x<first> - 0x<last>[, module-place=far: ...]
//! module: loaded at 0x<base> size 0x<x> (text 0x<x> rodata 0x<x> data+got 0x<x>, <n> GOT entries), distance to _start <+|->0x<x> (<n> MiB)
//! module: <n> sections, <n> symbols, <n> undefined resolved through <n> kernel exports
//! module: relocations R_RISCV_<TYPE>=<n> ... total=<n>
//! module: says "<text>"                                     the module calling kernel_log
//! module: init returned 0x<x>, kernel_module_counter <a> -> <b>, callback cookie <ok|MISSING>, kernel_scratch[0x<i>] = 0x<x>
//! module: load failed: <error>                               (module-place=far, or a broken loader)
//! module: far load in 0x<first> - 0x<last> refused: relocation out of range: R_RISCV_<TYPE> (<n>) at <section>+0x<off> against <symbol> (value 0x<x>)
//! module: corrupted object refused: unsupported relocation: R_RISCV_TLS_DTPREL64 (9) at ...
//! bpf: jit <n> instructions at 0x<va> (...), helper call distance 0x<x>, run(5) = <r> expected <e> <ok|WRONG>
//! user: pid <n> asid <n> writes "<text>"                     the write system call
//! asid: satp.ASID has <n> writable bits; <what the switches do>
//! user: pid <n> exited <status> after <n> yields             or   user: pid <n> did not exit
//! user: switches=<n> satp_writes=<n> sfence.vma=<n> (page=<n> full=<n> asid=<n>) syscalls=<n> sum_copies=<n> bytes=<n> mode=<asid|noasid>
//! user: kernel load from user memory without SUM faults, with SUM ok
//! palloc: <n> pages allocated, <n> freed; <n> page-table pages beyond the boot pool; heap high water <n> bytes
//! selftest: <name> ok | selftest: <name> FAILED (<detail>) | selftest: <name> skipped (<why>)
//! selftests: all <n> passed   or   selftests: <k> of <n> FAILED: <name> <name> ...
//! ```
//! All addresses are printed as 0x followed by 16 hex digits. The sfence.vma counts on the
//! `user: switches=` line cover the context-switch loop only.

use crate::bootparams::{boot, DtMmuType};
use crate::console::{uses_dbcn, Size};
use crate::layout::{kmap, mode, SatpMode, VmLayout, KERNEL_LINK_ADDR};
use crate::pgtable::{self, for_each_leaf, level_size, swapper_pg_dir_pa};
use crate::println;
use crate::vm::{boot_log, probe_index, KaslrOff, KaslrOutcome, ProbeOutcome};

pub fn print_boot_decisions() {
    let b = boot();
    println!(
        "boot: hart={} dtb={:#018x} size={:#x} console={} bootargs=\"{}\"",
        b.hartid,
        b.dtb_pa,
        b.dtb_size,
        if uses_dbcn() {
            "sbi-dbcn"
        } else {
            "sbi-legacy"
        },
        b.bootargs()
    );
    for &(base, size) in b.memory_regions() {
        println!(
            "dt: memory {:#018x}-{:#018x} ({})",
            base,
            base + size - 1,
            Size(size as u64)
        );
    }
    for &(base, size) in b.reserved_nomap() {
        println!(
            "dt: reserved no-map {:#018x}-{:#018x} ({})",
            base,
            base + size - 1,
            Size(size as u64)
        );
    }
    for &(base, size) in &b.reserved_mapped[..b.reserved_mapped_count] {
        println!(
            "dt: reserved {:#018x}-{:#018x} ({})",
            base,
            base + size - 1,
            Size(size as u64)
        );
    }
    let mmu_type = match b.dt_mmu_type {
        DtMmuType::Absent => "absent",
        DtMmuType::Unrecognised => "unrecognised",
        DtMmuType::Cap(m) => m.name(),
    };
    println!("dt: mmu-type={mmu_type}");
    if b.layout_unknown {
        println!(
            "boot: unknown layout= value ignored, using layout={}",
            b.layout.name()
        );
    }

    let log = boot_log();
    let chosen = mode();
    for m in [SatpMode::Sv57, SatpMode::Sv48, SatpMode::Sv39] {
        let outcome = log.probes[probe_index(m)];
        if outcome != ProbeOutcome::NotConsidered {
            println!("satp: {} {}", m.name(), outcome_text(outcome));
        }
    }
    // The reason is whatever stopped the next deeper mode.
    match SatpMode::from_bits(chosen as usize + 1) {
        Some(deeper) => println!(
            "satp: using {} ({} {})",
            chosen.name(),
            deeper.name(),
            outcome_text(log.probes[probe_index(deeper)])
        ),
        None => println!(
            "satp: using {} (the deepest mode, accepted by the hart)",
            chosen.name()
        ),
    }

    let k = kmap();
    println!(
        "relocate: {} R_RISCV_RELATIVE relocations applied at physical addresses, reloc_offset={:#018x}",
        log.relocations,
        k.virt_addr.wrapping_sub(KERNEL_LINK_ADDR)
    );
    match log.kaslr {
        KaslrOutcome::Enabled {
            offset,
            positions,
            entropy_bits,
        } => println!(
            "kaslr: enabled offset={offset:#x} entropy_bits={entropy_bits} positions={positions} (seed from /chosen/kaslr-seed, wiped)"
        ),
        KaslrOutcome::Disabled(why) => {
            let why = match why {
                KaslrOff::Nokaslr => "nokaslr",
                KaslrOff::NoSeed => "no /chosen/kaslr-seed",
                KaslrOff::LinearLayout => "layout=linear ties the virtual address to the physical one",
                #[cfg(feature = "nopie")]
                KaslrOff::NotRelocatable => "a non-PIE build runs only at its link address",
            };
            println!("kaslr: disabled ({why}) offset=0x0");
        }
    }
    println!(
        "kernel: virt_addr={:#018x} page_offset={:#018x} mode={} layout={} kaslr_offset={:#x} phys_addr={:#018x} size={:#x}",
        k.virt_addr,
        k.page_offset,
        chosen.name(),
        b.layout.name(),
        k.virt_offset,
        k.phys_addr,
        k.size
    );
    println!(
        "kernel_map: va_pa_offset={:#018x} va_kernel_pa_offset={:#018x} phys_ram_base={:#018x}",
        k.va_pa_offset, k.va_kernel_pa_offset, k.phys_ram_base
    );
}

pub enum OutcomeText {
    Plain(&'static str),
    ReadBack(usize),
}

impl core::fmt::Display for OutcomeText {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            OutcomeText::Plain(s) => f.write_str(s),
            OutcomeText::ReadBack(v) => write!(f, "rejected by the hart (WARL read-back {v:#x})"),
        }
    }
}

fn outcome_text(outcome: ProbeOutcome) -> OutcomeText {
    OutcomeText::Plain(match outcome {
        ProbeOutcome::NotConsidered => "not considered",
        ProbeOutcome::DisabledByNo5lvl => "disabled by no5lvl",
        ProbeOutcome::DisabledByNo4lvl => "disabled by no4lvl",
        ProbeOutcome::CappedByDeviceTree => {
            "accepted by the hart, but above the device tree's mmu-type"
        }
        ProbeOutcome::Rejected(v) => return OutcomeText::ReadBack(v),
        ProbeOutcome::Accepted => "accepted by the hart (satp read back)",
        ProbeOutcome::Baseline => "baseline, taken without a probe",
    })
}

fn region(name: &str, start: usize, end_exclusive: usize) {
    println!(
        "layout: {:<10} {:#018x} - {:#018x} ({})",
        name,
        start,
        end_exclusive.wrapping_sub(1),
        Size(end_exclusive.wrapping_sub(start) as u64)
    );
}

/// Every region of the address space, like Linux's print_vm_layout, ordered by address.
pub fn print_vm_layout(vl: &VmLayout) {
    let b = boot();
    let ram: usize = b.memory_regions().iter().map(|r| r.1).sum();
    let k = kmap();
    region("user", 0, vl.user_end);
    region("fixmap", vl.fixmap_start, vl.pci_io_start);
    region("pci-io", vl.pci_io_start, vl.vmemmap_start);
    region("vmemmap", vl.vmemmap_start, vl.vmalloc_start);
    region("vmalloc", vl.vmalloc_start, vl.vmalloc_end);
    region("direct", vl.page_offset, vl.direct_map_end);
    region(
        "lowmem",
        vl.page_offset,
        crate::layout::__va(k.phys_ram_base) + ram,
    );
    region("modules", vl.modules_start, vl.modules_end);
    region("bpf", vl.bpf_start, vl.bpf_end);
    region("kernel", vl.kernel_start, vl.kernel_end);
}

/// Leaf counts of the linear map, by size, read back from swapper_pg_dir.
pub struct LeafHistogram {
    pub counts: [usize; 4],
}

pub fn linear_map_histogram() -> LeafHistogram {
    let mut counts = [0usize; 4];
    for_each_leaf(swapper_pg_dir_pa(), mode(), &mut |va, _pte, level| {
        if crate::layout::is_linear_mapping(va) && level < counts.len() {
            counts[level] += 1;
        }
    });
    LeafHistogram { counts }
}

pub fn print_histogram(h: &LeafHistogram) {
    println!(
        "linear-map: leaves 512G={} 1G={} 2M={} 4K={}",
        h.counts[3], h.counts[2], h.counts[1], h.counts[0]
    );
    let mapped: usize = (0..4).map(|l| h.counts[l] * level_size(l)).sum();
    println!(
        "linear-map: {} mapped, {} of {} page-table pages in use",
        Size(mapped as u64),
        pgtable::pool_used(),
        pgtable::pool_capacity()
    );
}

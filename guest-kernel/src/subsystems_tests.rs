//! Self-tests of what subsystems.rs did (vmalloc, modules, BPF, user mode). Each judges
//! the records it left; they run with the boot's other self-tests.

use goblin::elf::reloc::*;

use crate::bootparams::boot;
use crate::layout::{kmap, KernelLayout, VmLayout, PAGE_SIZE, SZ_2M};
use crate::selftest::{Outcome, SKIP};
use crate::subsystems::results;
use crate::tlb::FLUSH_PAGE_THRESHOLD;
use crate::user::YIELDS_PER_PROCESS;
use crate::vmalloc::{self, AreaKind};
use crate::{ensure, fail};

pub fn vmalloc_kernel_reserved(_: &VmLayout) -> Outcome {
    let r = results();
    if boot().layout != KernelLayout::Vmalloc {
        ensure!(
            r.kernel_reservation.is_none(),
            "a reservation outside layout=vmalloc"
        );
        fail!("{SKIP}the kernel is not in vmalloc in this layout");
    }
    let k = kmap();
    let Some((start, size)) = r.kernel_reservation else {
        fail!("no reservation for the kernel image");
    };
    ensure!(
        start == k.virt_addr && size == k.size.next_multiple_of(SZ_2M) && size >= k.size,
        "reserved {start:#x}+{size:#x}, image {:#x}+{:#x}",
        k.virt_addr,
        k.size
    );
    let listed = vmalloc::areas()
        .iter()
        .any(|a| a.kind == AreaKind::KernelImage && a.start == start && a.size == size);
    ensure!(listed, "the reservation is not in the area list");
    Ok(())
}

pub fn vmalloc_exhaustion(_: &VmLayout) -> Outcome {
    let Some(e) = &results().exhaustion else {
        fail!("exhaustion did not run");
    };
    ensure!(e.error.is_none(), "stopped by {:?}", e.error);
    ensure!(e.areas > 0 && e.bytes > 0, "nothing allocated");
    ensure!(
        e.overlaps_kernel == 0,
        "{} areas overlap the kernel",
        e.overlaps_kernel
    );
    ensure!(
        e.overlapping_pairs == 0,
        "{} overlapping area pairs",
        e.overlapping_pairs
    );
    ensure!(
        e.largest_gap_left < 2 * PAGE_SIZE,
        "a gap of {:#x} bytes was left: not exhausted",
        e.largest_gap_left
    );
    ensure!(
        e.areas_after_free == e.areas_before,
        "{} areas after freeing, {} before",
        e.areas_after_free,
        e.areas_before
    );
    // Where the module window lies inside vmalloc, exhausting vmalloc starves modules:
    // the thread's objection to the v5 layout, made visible.
    let shared = boot().layout != KernelLayout::Top;
    ensure!(
        e.module_window_starved == shared,
        "module window starved={} in layout={}",
        e.module_window_starved,
        boot().layout.name()
    );
    Ok(())
}

pub fn vmalloc_map_free(_: &VmLayout) -> Outcome {
    let r = results();
    let (Some(small), Some(large)) = (&r.small_vmalloc, &r.large_vmalloc) else {
        fail!("vmalloc failed");
    };
    for c in [small, large] {
        ensure!(
            c.data_ok,
            "{} pages at {:#x}: data corrupt",
            c.pages,
            c.addr
        );
        ensure!(c.guard_faults, "guard page after {:#x} is mapped", c.addr);
        ensure!(
            c.unmapped_after_free,
            "{:#x} still mapped after vfree",
            c.addr
        );
    }
    ensure!(
        small.pages <= FLUSH_PAGE_THRESHOLD
            && small.fences.page == small.pages
            && small.fences.full == 0,
        "{} pages freed with {:?}",
        small.pages,
        small.fences
    );
    ensure!(
        large.pages > FLUSH_PAGE_THRESHOLD && large.fences.page == 0 && large.fences.full == 1,
        "{} pages freed with {:?}",
        large.pages,
        large.fences
    );
    Ok(())
}

pub fn module_in_window(vl: &VmLayout) -> Outcome {
    let r = results();
    let Some(m) = &r.module else {
        match &r.module_error {
            Some(e) => fail!("load failed: {}", e.as_str()),
            None => fail!("no module loaded"),
        }
    };
    ensure!(
        m.in_window,
        "module at {:#x}+{:#x} outside the window {:#x}-{:#x}",
        m.base,
        m.size,
        vl.modules_start,
        vl.modules_end
    );
    Ok(())
}

pub fn module_init_callback(_: &VmLayout) -> Outcome {
    let Some(m) = &results().module else {
        fail!("no module loaded");
    };
    ensure!(
        m.init_result == 0,
        "module_init returned {:#x}",
        m.init_result
    );
    ensure!(
        m.counter_delta == 1,
        "kernel_module_counter moved by {}",
        m.counter_delta
    );
    ensure!(
        m.cookie_ok,
        "the module never called kernel_register_module"
    );
    ensure!(
        m.scratch_ok,
        "kernel_scratch was not written through HI20/LO12_S"
    );
    Ok(())
}

/// Every relocation kind the loader claims to handle was in the object and applied
/// (and module_init's checks prove they were applied right).
pub fn module_relocation_kinds(_: &VmLayout) -> Outcome {
    let Some(m) = &results().module else {
        fail!("no module loaded");
    };
    let required = [
        R_RISCV_64,
        R_RISCV_32,
        R_RISCV_BRANCH,
        R_RISCV_JAL,
        R_RISCV_CALL_PLT,
        R_RISCV_GOT_HI20,
        R_RISCV_PCREL_HI20,
        R_RISCV_PCREL_LO12_I,
        R_RISCV_PCREL_LO12_S,
        R_RISCV_HI20,
        R_RISCV_LO12_I,
        R_RISCV_LO12_S,
        R_RISCV_ADD32,
        R_RISCV_SUB32,
        R_RISCV_ADD64,
        R_RISCV_SUB64,
        R_RISCV_RVC_BRANCH,
        R_RISCV_RVC_JUMP,
        R_RISCV_RELAX,
    ];
    for t in required {
        ensure!(
            m.by_type[t as usize] > 0,
            "no {} relocation applied",
            crate::module::reloc_name(t)
        );
    }
    Ok(())
}

pub fn module_far_refused(_: &VmLayout) -> Outcome {
    match &results().far_refusal {
        Some(e) if e.as_str().starts_with("relocation out of range: R_RISCV_") => Ok(()),
        Some(e) => fail!("refused for another reason: {}", e.as_str()),
        None => fail!("a module more than 2 GiB from the kernel was accepted"),
    }
}

pub fn module_bad_relocation_refused(_: &VmLayout) -> Outcome {
    match &results().bad_reloc_refusal {
        Some(e)
            if e.as_str()
                .starts_with("unsupported relocation: R_RISCV_TLS_DTPREL64") =>
        {
            Ok(())
        }
        Some(e) => fail!("refused for another reason: {}", e.as_str()),
        None => fail!("an object with an unsupported relocation was accepted"),
    }
}

pub fn bpf_jit(vl: &VmLayout) -> Outcome {
    let r = results();
    let Some(b) = &r.bpf else {
        fail!("the JIT did not run");
    };
    ensure!(
        b.addr >= vl.bpf_start && b.addr + PAGE_SIZE <= vl.bpf_end,
        "code at {:#x} outside the BPF window",
        b.addr
    );
    ensure!(
        b.result == b.expected,
        "program returned {}, expected {}",
        b.result,
        b.expected
    );
    Ok(())
}

pub fn user_processes(_: &VmLayout) -> Outcome {
    let u = &results().user;
    if let Some(e) = u.setup_error {
        fail!("setup: {e}");
    }
    for (i, exit) in u.exits.iter().enumerate() {
        ensure!(*exit == Some(0), "pid {} exit {:?}", i + 1, exit);
        ensure!(
            u.yields[i] == YIELDS_PER_PROCESS,
            "pid {} yielded {} times",
            i + 1,
            u.yields[i]
        );
    }
    ensure!(
        u.switches >= 2 * YIELDS_PER_PROCESS - 1,
        "only {} context switches",
        u.switches
    );
    ensure!(u.sum_windows == 4, "{} user copies, want 4", u.sum_windows);
    Ok(())
}

pub fn user_sum_and_asid(_: &VmLayout) -> Outcome {
    let u = &results().user;
    ensure!(u.sum_fault_without, "kernel read user memory without SUM");
    ensure!(u.sum_ok_with, "kernel could not read user memory with SUM");
    if u.use_asids {
        ensure!(
            u.fences.full == 0 && u.fences.page == 0,
            "switching ASID-tagged address spaces flushed: {:?}",
            u.fences
        );
    } else {
        ensure!(
            u.fences.full >= u.satp_writes - 1,
            "{} full fences for {} satp writes without ASIDs",
            u.fences.full,
            u.satp_writes
        );
    }
    Ok(())
}

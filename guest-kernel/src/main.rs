//! guest-kernel: a small S-mode kernel that boots the way RISC-V Linux does, with its
//! image mapped outside the linear map: in the top 2 GiB of vmalloc (the 2020 v5 patch,
//! `layout=vmalloc`, default), at the top of the address space (mainline, `layout=top`),
//! or inside the linear map (`layout=linear`). See shared/reference/linux-riscv-vm-layout.md.
//!
//! Boot path: `_start` (entry.rs, physical) -> `setup_vm` (vm.rs, physical: DTB, satp
//! probe, KASLR, relocation, trampoline_pg_dir + early_pg_dir) -> `relocate_enable_mmu`
//! (entry.rs, the stvec trick) -> `kernel_main` (virtual) -> `setup_vm_final`
//! (swapper_pg_dir) -> report and self-tests -> SBI shutdown, status 0 only if every
//! self-test passed.
#![no_std]
#![no_main]

extern crate alloc;

/// The address of a link-script or assembly symbol *in the address space we run in*:
/// `lla` is pc-relative, so it gives the physical address before the MMU is on and the
/// virtual one after, never the unrelocated link address.
#[macro_export]
macro_rules! symbol_addr {
    ($name:literal) => {{
        let addr: usize;
        // SAFETY: computes an address; touches no memory.
        unsafe {
            core::arch::asm!(concat!("lla {0}, ", $name), out(reg) addr,
                options(nomem, nostack, pure))
        };
        addr
    }};
}

mod bench;
mod bootparams;
mod bpf;
mod console;
mod entry;
mod heap;
mod layout;
mod module;
mod palloc;
mod subsystems;
// Same failure-message type as selftest.rs.
mod pgtable;
mod report;
mod sbi;
#[allow(clippy::result_large_err)]
mod subsystems_tests;
// Self-test failure messages live in a fixed buffer (no heap): large, and harmless.
#[allow(clippy::result_large_err)]
mod selftest;
mod tlb;
mod trap;
mod user;
mod vm;
mod vmalloc;

use bootparams::boot;
use layout::{kmap, mode, VmLayout};
use sbi::{shutdown, ResetReason};

/// First Rust code at the kernel's virtual address (early_pg_dir is live).
#[no_mangle]
extern "C" fn kernel_main(_hartid: usize, _dtb_pa: usize) -> ! {
    // Page tables are statics in the image: from now on reach them through its mapping.
    pgtable::set_table_va_offset(kmap().va_kernel_pa_offset);
    trap::init();
    console::init();
    println!("guest-kernel: running at its virtual address");
    report::print_boot_decisions();

    let vl = VmLayout::compute(mode(), boot().layout, kmap());
    println!(
        "mmu: early_pg_dir live ({} early tables) fdt via fixmap at {:#018x}",
        vm::boot_log().early_tables,
        vm::fdt_fixmap_va(&vl, boot().dtb_pa)
    );
    if let Err(e) = vm::setup_vm_final() {
        println!("mmu: setup_vm_final failed: {e:?}");
        shutdown(ResetReason::SystemFailure);
    }
    println!(
        "mmu: swapper_pg_dir live ({} page-table pages in use)",
        pgtable::pool_used()
    );
    if boot().break_wx {
        println!("selftest-break=wx: kernel text mapped writable; self-tests must fail");
    }
    println!("Virtual kernel memory layout:");
    report::print_vm_layout(&vl);
    report::print_histogram(&report::linear_map_histogram());
    // Page tables may now live anywhere in RAM: reach them all through the linear map.
    pgtable::use_linear_map_for_tables(kmap().va_pa_offset);
    subsystems::run(&vl);
    bench::run_requested();

    let summary = selftest::run_all(&vl);
    shutdown(if summary.all_passed() {
        ResetReason::None
    } else {
        ResetReason::SystemFailure
    })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let satp: usize;
    // SAFETY: reading a CSR.
    unsafe { core::arch::asm!("csrr {0}, satp", out(reg) satp) };
    if satp == 0 {
        // Before the MMU is on the formatting machinery cannot run (see vm.rs).
        console::early_puts("panic before the MMU was on\n");
    } else {
        println!("panic: {info}");
    }
    shutdown(ResetReason::SystemFailure)
}

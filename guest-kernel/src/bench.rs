//! Microbenchmarks for docs/translation-cost.md, run only when the command line asks:
//!
//! - `pa-bench`: instructions per `__pa` call as written (range test on the linear map,
//!   then one of two offsets) against a single subtraction of one offset, the 5.12-era
//!   form the 2020 thread defended. Prints
//!   `pa-bench: range_test=<x> subtract=<y> insns per call (<which> address 0x<va>, <n> calls)`.
//! - `tlb-sweep`: reads one word from every 4 KiB page of the free RAM above the image
//!   through the linear map, so that the emulator's walk counters (the difference to a
//!   run without it) show what the linear map's leaf sizes cost a sweeping workload.
//!   Prints `tlb-sweep: <n> pages (<size>) at 0x<va>, <n> instructions`.
//!
//! Counts come from `instret`; the emulator counts instructions exactly but has no cycles.

use core::hint::black_box;

use crate::bootparams::boot;
use crate::console::Size;
use crate::layout::{__pa, __va, kmap};
use crate::println;

const PA_CALLS: u64 = 1000;
const PAGE_SIZE: usize = 4096;
const HUGE_2M: usize = 2 << 20;

fn instret() -> u64 {
    let n: u64;
    // SAFETY: reads a counter CSR; the firmware opens it to S-mode through mcounteren.
    unsafe { core::arch::asm!("csrr {0}, instret", out(reg) n, options(nomem, nostack)) };
    n
}

fn asked_for(word: &str) -> bool {
    boot()
        .bootargs()
        .split_ascii_whitespace()
        .any(|w| w == word)
}

/// Both benchmarks, if their boot arguments are present.
pub fn run_requested() {
    if asked_for("pa-bench") {
        pa_bench();
    }
    if asked_for("tlb-sweep") {
        tlb_sweep();
    }
}

// Called through function pointers, out of line, so that each call pays the whole
// conversion rather than a value hoisted out of the loop; `__pa` itself is the kernel's.
#[inline(never)]
fn pa_subtract_linear(va: usize) -> usize {
    va.wrapping_sub(kmap().va_pa_offset)
}

#[inline(never)]
fn pa_subtract_kernel(va: usize) -> usize {
    va.wrapping_sub(kmap().va_kernel_pa_offset)
}

/// The loop and call overhead the conversions are measured against.
#[inline(never)]
fn pa_identity(va: usize) -> usize {
    va
}

fn instructions_for(convert: fn(usize) -> usize, va: usize) -> u64 {
    // An opaque pointer: every loop is the same indirect call, whatever it calls.
    let convert = black_box(convert);
    let start = instret();
    for _ in 0..PA_CALLS {
        black_box(convert(black_box(va)));
    }
    instret() - start
}

/// Tenths of an instruction per call above the identity function.
fn tenths_per_call(convert: fn(usize) -> usize, va: usize) -> u64 {
    let overhead = instructions_for(pa_identity, va);
    let total = instructions_for(convert, va);
    (total.saturating_sub(overhead) * 10 + PA_CALLS / 2) / PA_CALLS
}

fn pa_bench() {
    let k = kmap();
    let linear_va = __va(k.phys_addr + k.size);
    let image_va = k as *const _ as usize;
    // Both forms must agree, or the comparison means nothing.
    if __pa(linear_va) != pa_subtract_linear(linear_va)
        || __pa(image_va) != pa_subtract_kernel(image_va)
    {
        println!("pa-bench: the two forms of __pa disagree; not measured");
        return;
    }
    for (which, va, subtract) in [
        (
            "linear",
            linear_va,
            pa_subtract_linear as fn(usize) -> usize,
        ),
        ("kernel-image", image_va, pa_subtract_kernel),
    ] {
        let range = tenths_per_call(__pa, va);
        let sub = tenths_per_call(subtract, va);
        println!(
            "pa-bench: range_test={}.{} subtract={}.{} insns per call ({which} address {va:#018x}, {PA_CALLS} calls)",
            range / 10,
            range % 10,
            sub / 10,
            sub % 10
        );
    }
}

fn tlb_sweep() {
    let k = kmap();
    let Some(&(ram_start, ram_size)) = boot().memory_regions().first() else {
        println!("tlb-sweep: no memory region");
        return;
    };
    // Free RAM above the image, whole 2 MiB blocks so every leaf size sees whole blocks.
    let start = (k.phys_addr + k.size + HUGE_2M - 1) & !(HUGE_2M - 1);
    let end = (ram_start + ram_size) & !(HUGE_2M - 1);
    if end <= start {
        println!("tlb-sweep: no free RAM above the image");
        return;
    }
    let va = __va(start);
    let pages = (end - start) / PAGE_SIZE;
    let before = instret();
    let mut sum = 0u64;
    for page in 0..pages {
        // SAFETY: the page lies in RAM that the linear map covers (read only).
        sum = sum.wrapping_add(unsafe {
            core::ptr::read_volatile((va + page * PAGE_SIZE) as *const u64)
        });
    }
    let spent = instret() - before;
    black_box(sum);
    debug_assert_eq!(__pa(va), start);
    println!(
        "tlb-sweep: {pages} pages ({}) at {va:#018x}, {spent} instructions",
        Size((end - start) as u64)
    );
}

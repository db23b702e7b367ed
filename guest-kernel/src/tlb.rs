//! TLB maintenance after the boot: every `sfence.vma` the kernel issues from here on goes
//! through these functions, which count each kind for the boot report.
//!
//! Range flushes go page by page up to `FLUSH_PAGE_THRESHOLD` pages and flush everything
//! beyond, as Linux does (tlb_flush_all_threshold = 64): one fence per page is cheap for
//! a few pages, and a full flush is cheaper than hundreds of single-page fences.

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::layout::PAGE_SIZE;

pub const FLUSH_PAGE_THRESHOLD: usize = 64;

static PAGE_FENCES: AtomicUsize = AtomicUsize::new(0);
static FULL_FENCES: AtomicUsize = AtomicUsize::new(0);
static ASID_FENCES: AtomicUsize = AtomicUsize::new(0);

/// sfence.vma counts by kind, since boot.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct FenceCounts {
    /// `sfence.vma va, x0`: one page, every address space (kernel pages are global).
    pub page: usize,
    /// `sfence.vma x0, x0`: everything, global entries included.
    pub full: usize,
    /// `sfence.vma x0, asid`: the non-global entries of one address space.
    pub asid: usize,
}

impl FenceCounts {
    pub fn total(&self) -> usize {
        self.page + self.full + self.asid
    }

    pub fn since(&self, earlier: &FenceCounts) -> FenceCounts {
        FenceCounts {
            page: self.page - earlier.page,
            full: self.full - earlier.full,
            asid: self.asid - earlier.asid,
        }
    }
}

pub fn counts() -> FenceCounts {
    FenceCounts {
        page: PAGE_FENCES.load(Ordering::Relaxed),
        full: FULL_FENCES.load(Ordering::Relaxed),
        asid: ASID_FENCES.load(Ordering::Relaxed),
    }
}

pub fn flush_page(va: usize) {
    PAGE_FENCES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: a TLB fence has no effect on memory.
    unsafe { asm!("sfence.vma {0}, zero", in(reg) va, options(nostack)) };
}

pub fn flush_all() {
    FULL_FENCES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { asm!("sfence.vma", options(nostack)) };
}

pub fn flush_asid(asid: usize) {
    ASID_FENCES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: as above.
    unsafe { asm!("sfence.vma zero, {0}", in(reg) asid, options(nostack)) };
}

/// After changing the kernel mappings of [start, end).
pub fn flush_kernel_range(start: usize, end: usize) {
    let pages = (end - start).div_ceil(PAGE_SIZE);
    if pages > FLUSH_PAGE_THRESHOLD {
        flush_all();
    } else {
        for i in 0..pages {
            flush_page(start + i * PAGE_SIZE);
        }
    }
}

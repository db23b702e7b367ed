//! The kernel heap, for the few boot-time users of `alloc` (the ELF parser of the module
//! loader). A bump arena in .bss: allocation moves a pointer, and the arena rewinds to
//! the start whenever the last live allocation is freed, which happens after each
//! module load. Small, and enough for a kernel whose heap use is strictly phased.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

const HEAP_SIZE: usize = 256 * 1024;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; HEAP_SIZE]>);

// SAFETY: one hart; the arena is handed out in disjoint pieces.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; HEAP_SIZE]));
static NEXT: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

struct BumpHeap;

// SAFETY: every block handed out lies inside the arena, aligned as asked, and no two
// live blocks overlap (the arena only rewinds when none is live).
unsafe impl GlobalAlloc for BumpHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = ARENA.0.get() as usize;
        let start = (base + NEXT.load(Ordering::Relaxed)).next_multiple_of(layout.align());
        let end = start + layout.size();
        if end > base + HEAP_SIZE {
            return core::ptr::null_mut();
        }
        NEXT.store(end - base, Ordering::Relaxed);
        HIGH_WATER.fetch_max(end - base, Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
        if LIVE.fetch_sub(1, Ordering::Relaxed) == 1 {
            NEXT.store(0, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static HEAP: BumpHeap = BumpHeap;

/// Most bytes of the arena ever in use.
pub fn high_water() -> usize {
    HIGH_WATER.load(Ordering::Relaxed)
}

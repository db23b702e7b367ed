//! The physical page allocator: 4 KiB pages of RAM the kernel image, the DTB and the
//! firmware do not use. Pages come from a bump pointer over the RAM ranges, and freed
//! pages go on a free list threaded through the pages themselves (reached through the
//! linear map), which is reused first. Nothing is touched before it is handed out, so
//! setting up costs nothing however large RAM is.

use core::ptr::addr_of_mut;

use crate::bootparams::{boot, MAX_MEMORY_REGIONS};
use crate::layout::{__va, kmap, page_align_up, PAGE_SIZE};

struct PageAllocator {
    /// Free RAM, (start, end) page aligned, in address order.
    ranges: [(usize, usize); MAX_MEMORY_REGIONS * 2],
    range_count: usize,
    /// Index into `ranges` and the next never-used page in it.
    range: usize,
    next: usize,
    /// Physical address of the first freed page (0: none); each holds the next one.
    free_list: usize,
    allocated: usize,
    freed: usize,
}

static mut PAGES: PageAllocator = PageAllocator {
    ranges: [(0, 0); MAX_MEMORY_REGIONS * 2],
    range_count: 0,
    range: 0,
    next: 0,
    free_list: 0,
    allocated: 0,
    freed: 0,
};

fn pages() -> &'static mut PageAllocator {
    // SAFETY: one hart; the kernel never allocates from a trap handler.
    unsafe { &mut *addr_of_mut!(PAGES) }
}

/// Collect free RAM: the linear-map ranges above the kernel image, minus the DTB and the
/// reserved regions the firmware keeps mapped.
pub fn init() {
    let p = pages();
    let b = boot();
    let k = kmap();
    let image_end = k.phys_addr + k.size;
    let dtb = (b.dtb_pa, b.dtb_pa + b.dtb_size);
    b.for_each_linear_range(|start, end| {
        let mut start = page_align_up(start.max(image_end));
        let end = end & !(PAGE_SIZE - 1);
        // The DTB sits below the image on our boards; if not, use only what follows it.
        if dtb.1 > start && dtb.0 < end {
            start = page_align_up(dtb.1);
        }
        while start < end && b.is_reserved(start) {
            start += PAGE_SIZE;
        }
        if start < end && p.range_count < p.ranges.len() {
            p.ranges[p.range_count] = (start, end);
            p.range_count += 1;
        }
    });
    p.range = 0;
    p.next = p.ranges[0].0;
}

/// A zeroed page, by physical address.
pub fn alloc_page() -> Option<usize> {
    let p = pages();
    let pa = if p.free_list != 0 {
        let pa = p.free_list;
        // SAFETY: a page on the free list is ours; its first word links to the next.
        p.free_list = unsafe { (__va(pa) as *const usize).read() };
        pa
    } else {
        while p.range < p.range_count && p.next >= p.ranges[p.range].1 {
            p.range += 1;
            if p.range < p.range_count {
                p.next = p.ranges[p.range].0;
            }
        }
        if p.range >= p.range_count {
            return None;
        }
        let pa = p.next;
        p.next += PAGE_SIZE;
        pa
    };
    // SAFETY: the page is free RAM, mapped read-write in the linear map.
    unsafe { core::ptr::write_bytes(__va(pa) as *mut u8, 0, PAGE_SIZE) };
    p.allocated += 1;
    Some(pa)
}

pub fn free_page(pa: usize) {
    let p = pages();
    // SAFETY: the caller gives the page back; nothing else refers to it any more.
    unsafe { (__va(pa) as *mut usize).write(p.free_list) };
    p.free_list = pa;
    p.freed += 1;
}

/// (pages handed out, pages given back, bytes of free RAM the allocator manages)
pub fn stats() -> (usize, usize, usize) {
    let p = pages();
    let total = p.ranges[..p.range_count].iter().map(|r| r.1 - r.0).sum();
    (p.allocated, p.freed, total)
}

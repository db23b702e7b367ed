//! Virtual ranges of the kernel address space outside the linear map: vmalloc, modules
//! and BPF all take their ranges from here.
//!
//! One sorted list of areas covers every window, like Linux's vmap_area tree: a caller
//! asks for `size` bytes anywhere in [lo, hi), and gets the lowest fit. In layout=vmalloc
//! the module and BPF windows lie inside vmalloc, so they compete with vmalloc users for
//! the same addresses; that is the starvation the 2020 thread worried about, and what
//! `reserve_early` for the kernel image prevents for the kernel itself.
//!
//! Every area but an early reservation is followed by one unmapped guard page, so that
//! running off its end faults instead of landing in the neighbour.

use core::ptr::addr_of_mut;

use crate::layout::{mode, page_align_up, PAGE_SIZE};
use crate::palloc;
use crate::pgtable::{self, map_pages, swapper_pg_dir_pa, MapError};
use crate::tlb;

const MAX_AREAS: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AreaKind {
    /// An early reservation (`vm_area_add_early`): the kernel image. No guard page.
    KernelImage,
    /// Address space only, nothing mapped (`get_vm_area`).
    Reserved,
    /// Backed by pages and mapped with 4 KiB leaves (`vmalloc`).
    Mapped,
}

#[derive(Clone, Copy, Debug)]
pub struct VmArea {
    pub start: usize,
    /// Usable bytes; the guard page, if any, follows.
    pub size: usize,
    pub guard: usize,
    pub kind: AreaKind,
}

impl VmArea {
    /// End of the area including its guard page.
    fn end(&self) -> usize {
        self.start + self.size + self.guard
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    /// No gap of the requested size in the window.
    NoSpace,
    /// The area list is full.
    TooManyAreas,
    /// An early reservation overlaps an existing area.
    Overlap,
    NoMemory,
    Map(MapErrorKind),
    NotFound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapErrorKind {
    OutOfTables,
    Remap,
}

impl From<MapError> for VmError {
    fn from(e: MapError) -> Self {
        VmError::Map(match e {
            MapError::OutOfTables => MapErrorKind::OutOfTables,
            MapError::Remap => MapErrorKind::Remap,
        })
    }
}

struct AreaList {
    areas: [VmArea; MAX_AREAS],
    count: usize,
}

static mut AREAS: AreaList = AreaList {
    areas: [VmArea {
        start: 0,
        size: 0,
        guard: 0,
        kind: AreaKind::Reserved,
    }; MAX_AREAS],
    count: 0,
};

fn list() -> &'static mut AreaList {
    // SAFETY: one hart, never used from a trap handler.
    unsafe { &mut *addr_of_mut!(AREAS) }
}

/// All areas, in address order.
pub fn areas() -> &'static [VmArea] {
    let l = list();
    &l.areas[..l.count]
}

fn insert(area: VmArea) -> Result<(), VmError> {
    let l = list();
    if l.count == MAX_AREAS {
        return Err(VmError::TooManyAreas);
    }
    let at = l.areas[..l.count]
        .iter()
        .position(|a| a.start > area.start)
        .unwrap_or(l.count);
    l.areas.copy_within(at..l.count, at + 1);
    l.areas[at] = area;
    l.count += 1;
    Ok(())
}

fn remove(start: usize) -> Result<VmArea, VmError> {
    let l = list();
    let at = l.areas[..l.count]
        .iter()
        .position(|a| a.start == start)
        .ok_or(VmError::NotFound)?;
    let area = l.areas[at];
    l.areas.copy_within(at + 1..l.count, at);
    l.count -= 1;
    Ok(area)
}

/// Reserve [start, start + size) before anyone allocates, with no guard page: the
/// kernel image's range in layout=vmalloc (size already rounded up by the caller).
pub fn reserve_early(start: usize, size: usize) -> Result<(), VmError> {
    let end = start + size;
    if areas().iter().any(|a| a.start < end && start < a.end()) {
        return Err(VmError::Overlap);
    }
    insert(VmArea {
        start,
        size,
        guard: 0,
        kind: AreaKind::KernelImage,
    })
}

/// The lowest page-aligned address in [lo, hi) where `size` bytes plus a guard page fit.
fn find_gap(size: usize, lo: usize, hi: usize) -> Option<usize> {
    let need = size.checked_add(PAGE_SIZE)?;
    let mut candidate = page_align_up(lo);
    for a in areas() {
        if a.end() <= candidate {
            continue;
        }
        if a.start >= hi {
            break;
        }
        if a.start >= candidate && a.start - candidate >= need {
            return Some(candidate);
        }
        candidate = candidate.max(page_align_up(a.end()));
    }
    (candidate < hi && hi - candidate >= need).then_some(candidate)
}

/// Reserve `size` bytes of address space (rounded up to pages) in [lo, hi).
pub fn get_vm_area(size: usize, lo: usize, hi: usize) -> Result<usize, VmError> {
    let size = page_align_up(size);
    let start = find_gap(size, lo, hi).ok_or(VmError::NoSpace)?;
    insert(VmArea {
        start,
        size,
        guard: PAGE_SIZE,
        kind: AreaKind::Reserved,
    })?;
    Ok(start)
}

/// Release an area reserved with `get_vm_area` (nothing mapped in it).
pub fn free_vm_area(start: usize) -> Result<(), VmError> {
    remove(start).map(|_| ())
}

/// Allocate `size` bytes in [lo, hi), back them with fresh zeroed pages and map them
/// with 4 KiB leaves carrying `perm`.
pub fn vmalloc_range(size: usize, lo: usize, hi: usize, perm: u64) -> Result<usize, VmError> {
    let start = get_vm_area(size, lo, hi)?;
    let size = page_align_up(size);
    let root = swapper_pg_dir_pa();
    for offset in (0..size).step_by(PAGE_SIZE) {
        let mapped = match palloc::alloc_page() {
            Some(pa) => map_pages(root, mode(), start + offset, pa, PAGE_SIZE, PAGE_SIZE, perm)
                .map_err(VmError::from),
            None => Err(VmError::NoMemory),
        };
        if let Err(e) = mapped {
            unmap_and_free(start, offset);
            let _ = remove(start);
            return Err(e);
        }
    }
    // The privileged spec lets a hart cache invalid entries, so even leaves that
    // replace invalid PTEs need a fence before use (Linux's flush_cache_vmap; a hart
    // with Svvptc would not need it).
    tlb::flush_kernel_range(start, start + size);
    if let Some(a) = list().areas[..list().count]
        .iter_mut()
        .find(|a| a.start == start)
    {
        a.kind = AreaKind::Mapped;
    }
    Ok(start)
}

/// Unmap [start, start + size), give the pages back; flush the range.
fn unmap_and_free(start: usize, size: usize) {
    let root = swapper_pg_dir_pa();
    for offset in (0..size).step_by(PAGE_SIZE) {
        if let Some(pa) = pgtable::unmap_page(root, mode(), start + offset) {
            palloc::free_page(pa);
        }
    }
    tlb::flush_kernel_range(start, start + size);
}

/// Free an area from `vmalloc_range` (or `get_vm_area`): unmap, flush, return the pages.
pub fn vfree(start: usize) -> Result<(), VmError> {
    let area = remove(start)?;
    if area.kind == AreaKind::Mapped {
        unmap_and_free(area.start, area.size);
    }
    Ok(())
}

/// Change the permissions of the mapped pages [start, start + size), then flush them.
pub fn set_memory_perm(start: usize, size: usize, perm: u64) -> bool {
    let root = swapper_pg_dir_pa();
    let size = page_align_up(size);
    let mut ok = true;
    for offset in (0..size).step_by(PAGE_SIZE) {
        ok &= pgtable::set_page_perm(root, mode(), start + offset, perm);
    }
    tlb::flush_kernel_range(start, start + size);
    ok
}

/// The largest hole left in [lo, hi) (ignoring guard pages).
pub fn largest_gap(lo: usize, hi: usize) -> usize {
    let mut largest = 0;
    let mut cursor = lo;
    for a in areas() {
        if a.end() <= cursor {
            continue;
        }
        if a.start >= hi {
            break;
        }
        largest = largest.max(a.start.saturating_sub(cursor));
        cursor = a.end();
    }
    largest.max(hi.saturating_sub(cursor))
}

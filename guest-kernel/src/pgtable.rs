//! RISC-V page tables: entries, the page-table page pool, and xv6-style `walk`/`map_pages`.
//!
//! Page-table pages are addressed by physical address. Before the MMU is on that is also
//! the address to write through; afterwards every table page is reached through the
//! kernel image mapping, because all of them are statics inside the image (the three
//! named page directories and `PT_POOL`). `set_table_va_offset` switches between the two.

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::layout::{SatpMode, PAGE_SIZE};

pub const PTE_V: u64 = 1 << 0;
pub const PTE_R: u64 = 1 << 1;
pub const PTE_W: u64 = 1 << 2;
pub const PTE_X: u64 = 1 << 3;
pub const PTE_U: u64 = 1 << 4;
pub const PTE_G: u64 = 1 << 5;
pub const PTE_A: u64 = 1 << 6;
pub const PTE_D: u64 = 1 << 7;

/// Kernel leaves are global (shared by every address space) and have A and D preset, so
/// the hardware never needs to update them (or fault, on harts without Svadu).
pub const PAGE_KERNEL_BASE: u64 = PTE_V | PTE_G | PTE_A | PTE_D;
pub const PAGE_KERNEL_RO: u64 = PAGE_KERNEL_BASE | PTE_R;
pub const PAGE_KERNEL: u64 = PAGE_KERNEL_BASE | PTE_R | PTE_W;
pub const PAGE_KERNEL_READ_EXEC: u64 = PAGE_KERNEL_BASE | PTE_R | PTE_X;
pub const PAGE_KERNEL_EXEC: u64 = PAGE_KERNEL_BASE | PTE_R | PTE_W | PTE_X;

const ENTRIES: usize = 512;
/// Enough for the probe, trampoline, early and swapper tables with a few GiB of RAM.
const POOL_PAGES: usize = 96;

#[repr(C, align(4096))]
pub struct PageTable {
    pub entries: [u64; ENTRIES],
}

impl PageTable {
    pub const fn empty() -> Self {
        PageTable {
            entries: [0; ENTRIES],
        }
    }
}

/// Top-level tables, named after Linux's so that traces can label the satp writes.
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut trampoline_pg_dir: PageTable = PageTable::empty();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut early_pg_dir: PageTable = PageTable::empty();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut swapper_pg_dir: PageTable = PageTable::empty();

/// Intermediate tables for all three directories, handed out in order.
static mut PT_POOL: [PageTable; POOL_PAGES] = [const { PageTable::empty() }; POOL_PAGES];
static POOL_NEXT: AtomicUsize = AtomicUsize::new(0);
/// Virtual minus physical address of the page-table statics (0 while the MMU is off).
static TABLE_VA_PA_OFFSET: AtomicUsize = AtomicUsize::new(0);
/// What `table_at` adds to a table's physical address: the statics' offset until the
/// linear map is live, then the linear map's (which reaches every RAM page).
static TABLE_ACCESS_OFFSET: AtomicUsize = AtomicUsize::new(0);
/// Set once the linear map is live: table pages may then be any RAM page.
static TABLES_FROM_PAGE_ALLOCATOR: AtomicBool = AtomicBool::new(false);
/// Table pages taken from the page allocator.
static EXTRA_TABLES: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy, Debug)]
pub enum MapError {
    OutOfTables,
    /// The address is already mapped (by a leaf or, for a large leaf, a table).
    Remap,
}

pub fn set_table_va_offset(offset: usize) {
    TABLE_VA_PA_OFFSET.store(offset, Ordering::Relaxed);
    TABLE_ACCESS_OFFSET.store(offset, Ordering::Relaxed);
}

/// Reach every table through the linear map from now on, so that tables may live in
/// any RAM page, and let `alloc_table` fall back to the page allocator.
pub fn use_linear_map_for_tables(va_pa_offset: usize) {
    TABLE_ACCESS_OFFSET.store(va_pa_offset, Ordering::Relaxed);
    TABLES_FROM_PAGE_ALLOCATOR.store(true, Ordering::Relaxed);
}

/// Table pages taken from the page allocator after the boot pool ran out.
pub fn extra_tables() -> usize {
    EXTRA_TABLES.load(Ordering::Relaxed)
}

/// A fresh, zeroed top-level table (a user address space's root).
pub fn alloc_root() -> Option<usize> {
    alloc_table()
}

/// Copy top-level entries [from, 512) of `src` into `dst`: the kernel half of the
/// address space, shared by every user page table through the same lower-level tables.
pub fn copy_top_level(dst: usize, src: usize, from: usize) {
    // SAFETY: both are top-level tables of ours; dst is not live yet.
    unsafe {
        let (d, s) = (table_at(dst), table_at(src));
        for i in from..ENTRIES {
            (*d).entries[i] = (*s).entries[i];
        }
    }
}

/// Remove the 4 KiB leaf at `va`; returns the physical page it mapped. The caller
/// flushes the TLB.
pub fn unmap_page(root_pa: usize, mode: SatpMode, va: usize) -> Option<usize> {
    let pte = walk(root_pa, mode, va, 0, false).ok()?;
    // SAFETY: walk returned a PTE slot inside one of our tables.
    unsafe {
        let entry = *pte;
        if entry & PTE_V == 0 {
            return None;
        }
        *pte = 0;
        Some(pte_pa(entry))
    }
}

/// Give the 4 KiB leaf at `va` new permission bits (same page). The caller flushes.
pub fn set_page_perm(root_pa: usize, mode: SatpMode, va: usize, perm: u64) -> bool {
    let Ok(pte) = walk(root_pa, mode, va, 0, false) else {
        return false;
    };
    // SAFETY: as above.
    unsafe {
        if *pte & PTE_V == 0 {
            return false;
        }
        *pte = pa_to_pte(pte_pa(*pte)) | perm;
    }
    true
}

fn table_at(pa: usize) -> *mut PageTable {
    pa.wrapping_add(TABLE_ACCESS_OFFSET.load(Ordering::Relaxed)) as *mut PageTable
}

fn pa_of(ptr: *const PageTable) -> usize {
    (ptr as usize).wrapping_sub(TABLE_VA_PA_OFFSET.load(Ordering::Relaxed))
}

// The directories are exported (#[no_mangle]) symbols, which rustc reaches through the
// GOT in a PIE build; before relocation the GOT holds link addresses. `lla` is
// pc-relative and right in both phases.
pub fn trampoline_pg_dir_pa() -> usize {
    pa_of(crate::symbol_addr!("trampoline_pg_dir") as *const PageTable)
}
pub fn early_pg_dir_pa() -> usize {
    pa_of(crate::symbol_addr!("early_pg_dir") as *const PageTable)
}
pub fn swapper_pg_dir_pa() -> usize {
    pa_of(crate::symbol_addr!("swapper_pg_dir") as *const PageTable)
}

/// Zero a top-level table (used between satp probes).
pub fn clear_table(pa: usize) {
    // SAFETY: pa names one of our page-table statics, not in use by the MMU right now.
    unsafe { (*table_at(pa)).entries = [0; ENTRIES] };
}

/// Take a zeroed page-table page from the pool; once it is used up (after boot, when
/// vmalloc, modules and user processes need tables), from the page allocator.
fn alloc_table() -> Option<usize> {
    let index = POOL_NEXT.fetch_add(1, Ordering::Relaxed);
    if index >= POOL_PAGES {
        POOL_NEXT.store(POOL_PAGES, Ordering::Relaxed);
        if TABLES_FROM_PAGE_ALLOCATOR.load(Ordering::Relaxed) {
            EXTRA_TABLES.fetch_add(1, Ordering::Relaxed);
            return crate::palloc::alloc_page();
        }
        return None;
    }
    // SAFETY: each pool index is handed out once, so no one else refers to this page.
    let table = unsafe { addr_of_mut!(PT_POOL[index]) };
    // SAFETY: the page just handed out, which nothing else refers to.
    unsafe { (*table).entries = [0; ENTRIES] };
    Some(pa_of(table))
}

/// Give back every pool page taken since `mark` (the satp probe's throw-away tables).
pub fn pool_release_to(mark: usize) {
    POOL_NEXT.store(mark, Ordering::Relaxed);
}

pub fn pool_used() -> usize {
    POOL_NEXT.load(Ordering::Relaxed).min(POOL_PAGES)
}

pub fn pool_capacity() -> usize {
    POOL_PAGES
}

/// Bytes mapped by one leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB).
pub const fn level_size(level: usize) -> usize {
    PAGE_SIZE << (9 * level)
}

fn vpn(va: usize, level: usize) -> usize {
    (va >> (12 + 9 * level)) & (ENTRIES - 1)
}

pub fn pte_pa(pte: u64) -> usize {
    ((pte >> 10) << 12) as usize & ((1usize << 56) - 1)
}

fn pa_to_pte(pa: usize) -> u64 {
    ((pa >> 12) << 10) as u64
}

pub fn is_leaf(pte: u64) -> bool {
    pte & (PTE_R | PTE_W | PTE_X) != 0
}

/// The address of the PTE for `va` at `leaf_level`, creating intermediate tables when
/// `alloc` is set. Fails if a larger leaf already covers `va`.
pub fn walk(
    root_pa: usize,
    mode: SatpMode,
    va: usize,
    leaf_level: usize,
    alloc: bool,
) -> Result<*mut u64, MapError> {
    let mut table = root_pa;
    for level in (leaf_level + 1..mode.levels()).rev() {
        // SAFETY: `table` is a page-table page of ours (root or allocated from the pool).
        let pte = unsafe { addr_of_mut!((*table_at(table)).entries[vpn(va, level)]) };
        // SAFETY: `pte` points into that page-table page.
        let entry = unsafe { *pte };
        if entry & PTE_V != 0 {
            if is_leaf(entry) {
                return Err(MapError::Remap);
            }
            table = pte_pa(entry);
        } else {
            if !alloc {
                return Err(MapError::OutOfTables);
            }
            let next = alloc_table().ok_or(MapError::OutOfTables)?;
            // Non-leaf entries carry only V: A/D/G/U must be zero there.
            // SAFETY: `pte` points into a page-table page of ours.
            unsafe { *pte = pa_to_pte(next) | PTE_V };
            table = next;
        }
    }
    // SAFETY: as above.
    Ok(unsafe { addr_of_mut!((*table_at(table)).entries[vpn(va, leaf_level)]) })
}

/// Map [va, va + size) to [pa, pa + size) with leaves of `leaf_size` bytes.
pub fn map_pages(
    root_pa: usize,
    mode: SatpMode,
    va: usize,
    pa: usize,
    size: usize,
    leaf_size: usize,
    perm: u64,
) -> Result<(), MapError> {
    let level = (leaf_size.trailing_zeros() as usize - 12) / 9;
    let mut offset = 0;
    while offset < size {
        let pte = walk(root_pa, mode, va + offset, level, true)?;
        // SAFETY: walk returned a PTE slot inside one of our tables.
        unsafe {
            if *pte & PTE_V != 0 {
                return Err(MapError::Remap);
            }
            *pte = pa_to_pte(pa + offset) | perm;
        }
        offset += leaf_size;
    }
    Ok(())
}

/// The largest leaf that fits at (pa, va) for `size` bytes. A 512 GiB leaf exists only
/// with five levels and a 1 GiB leaf only with four or more: in Sv39 a 1 GiB entry is
/// the top level, which Linux never uses as a leaf for the linear map.
pub fn best_map_size(mode: SatpMode, pa: usize, va: usize, size: usize) -> usize {
    let fits = |leaf: usize| (pa | va) & (leaf - 1) == 0 && size >= leaf;
    if mode.levels() >= 5 && fits(level_size(3)) {
        level_size(3)
    } else if mode.levels() >= 4 && fits(level_size(2)) {
        level_size(2)
    } else if fits(level_size(1)) {
        level_size(1)
    } else {
        PAGE_SIZE
    }
}

/// The leaf translating `va`, with its level, or None if `va` is unmapped.
pub fn lookup(root_pa: usize, mode: SatpMode, va: usize) -> Option<(u64, usize)> {
    let mut table = root_pa;
    for level in (0..mode.levels()).rev() {
        // SAFETY: `table` is one of our page-table pages.
        let entry = unsafe { (*table_at(table)).entries[vpn(va, level)] };
        if entry & PTE_V == 0 {
            return None;
        }
        if is_leaf(entry) {
            return Some((entry, level));
        }
        table = pte_pa(entry);
    }
    None
}

/// Call `f(va, pte, level)` for every leaf under `root_pa`, in address order.
pub fn for_each_leaf(root_pa: usize, mode: SatpMode, f: &mut dyn FnMut(usize, u64, usize)) {
    visit(root_pa, mode, mode.levels() - 1, 0, f);
}

fn visit(
    table: usize,
    mode: SatpMode,
    level: usize,
    va_prefix: usize,
    f: &mut dyn FnMut(usize, u64, usize),
) {
    for index in 0..ENTRIES {
        // SAFETY: `table` is one of our page-table pages.
        let entry = unsafe { (*table_at(table)).entries[index] };
        if entry & PTE_V == 0 {
            continue;
        }
        let va = va_prefix | index << (12 + 9 * level);
        if is_leaf(entry) {
            f(sign_extend(va, mode.va_bits()), entry, level);
        } else if level > 0 {
            visit(pte_pa(entry), mode, level - 1, va, f);
        }
    }
}

/// Canonical form of a virtual address: bits above VA_BITS copy bit VA_BITS - 1.
pub fn sign_extend(va: usize, va_bits: usize) -> usize {
    let shift = 64 - va_bits;
    (((va << shift) as isize) >> shift) as usize
}

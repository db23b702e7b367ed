//! Shared helpers for the MMU integration tests: a bus with RAM, a page allocator for
//! page tables, and `map_page` (in the spirit of xv6's mappages) to build tables.
#![allow(dead_code)]

use emu::bus::{Bus, DRAM_BASE};
use emu::mmu::{AccessType, Mmu, MmuConfig, Pte, PteFlags, PteFlags as F, SatpMode, TranslateCtx};

pub const RAM_SIZE: u64 = 16 << 20;
pub const V: u8 = F::V;
pub const R: u8 = F::R;
pub const W: u8 = F::W;
pub const X: u8 = F::X;
pub const U: u8 = F::U;
pub const G: u8 = F::G;
pub const A: u8 = F::A;
pub const D: u8 = F::D;
/// A normal kernel data page that never faults on A/D.
pub const RW_AD: u8 = V | R | W | A | D;
pub const RWX_AD: u8 = V | R | W | X | A | D;

pub const PRIV_U: u8 = 0;
pub const PRIV_S: u8 = 1;
pub const PRIV_M: u8 = 3;

pub fn levels(mode: SatpMode) -> u8 {
    match mode {
        SatpMode::Sv39 => 3,
        SatpMode::Sv48 => 4,
        SatpMode::Sv57 => 5,
        SatpMode::Bare => 0,
    }
}

pub fn satp(mode: SatpMode, asid: u16, root: u64) -> u64 {
    (mode as u64) << 60 | (asid as u64) << 44 | root >> 12
}

pub fn ctx(satp: u64, privilege: u8) -> TranslateCtx {
    TranslateCtx {
        satp,
        privilege,
        sum: false,
        mxr: false,
    }
}

/// Test machine: bus + MMU + a bump allocator for page-table pages from the top half of
/// RAM (the bottom half is free for "data" pages the tests map).
pub struct Env {
    pub bus: Bus,
    pub mmu: Mmu,
    next_table: u64,
}

impl Env {
    pub fn new(config: MmuConfig) -> Env {
        Env::with_ram(config, RAM_SIZE)
    }

    pub fn with_ram(config: MmuConfig, ram_size: u64) -> Env {
        let mut mmu = Mmu::new(config);
        allow_all_pmp(&mut mmu);
        Env {
            bus: Bus::new(ram_size),
            mmu,
            next_table: DRAM_BASE + ram_size / 2,
        }
    }

    /// Table pages handed out so far.
    pub fn tables(&self, ram_size: u64) -> std::ops::Range<u64> {
        DRAM_BASE + ram_size / 2..self.next_table
    }

    pub fn observed(config: MmuConfig) -> Env {
        Env::new(MmuConfig {
            stats: true,
            ..config
        })
    }

    /// A zeroed 4 KiB page for a page table.
    pub fn alloc_table(&mut self) -> u64 {
        let page = self.next_table;
        assert!(
            page + 4096 <= DRAM_BASE + self.bus.ram.size(),
            "test ran out of table pages"
        );
        self.next_table += 4096;
        for off in (0..4096).step_by(8) {
            self.bus.write(page + off, 8, 0).unwrap();
        }
        page
    }

    /// Map `va` to `pa` with a leaf at `level` (0 = 4K) and PTE `flags`, creating the
    /// intermediate tables. Returns the leaf PTE's address.
    pub fn map_page(
        &mut self,
        mode: SatpMode,
        root: u64,
        va: u64,
        pa: u64,
        level: u8,
        flags: u8,
    ) -> u64 {
        let pte_addr = self.walk_create(mode, root, va, level);
        self.bus
            .write(pte_addr, 8, Pte::new(pa >> 12, flags).0)
            .unwrap();
        pte_addr
    }

    /// Address of the PTE at `level` for `va`, creating non-leaf tables above it.
    pub fn walk_create(&mut self, mode: SatpMode, root: u64, va: u64, level: u8) -> u64 {
        let mut table = root;
        let mut l = levels(mode) - 1;
        loop {
            let idx = (va >> (12 + 9 * l as u32)) & 0x1ff;
            let pte_addr = table + idx * 8;
            if l == level {
                return pte_addr;
            }
            let pte = Pte(self.bus.read(pte_addr, 8).unwrap());
            let target = pte.ppn() << 12;
            let is_table =
                target >= DRAM_BASE + self.bus.ram.size() / 2 && target < self.next_table;
            table = if pte.has(PteFlags::V) && !pte.is_leaf() && is_table {
                pte.ppn() << 12
            } else {
                let next = self.alloc_table();
                self.bus
                    .write(pte_addr, 8, Pte::new(next >> 12, V).0)
                    .unwrap();
                next
            };
            l -= 1;
        }
    }

    pub fn read_pte(&mut self, pte_addr: u64) -> Pte {
        Pte(self.bus.read(pte_addr, 8).unwrap())
    }

    pub fn write_pte(&mut self, pte_addr: u64, pte: Pte) {
        self.bus.write(pte_addr, 8, pte.0).unwrap();
    }

    pub fn tr(
        &mut self,
        va: u64,
        access: AccessType,
        ctx: &TranslateCtx,
    ) -> Result<u64, (u64, u64)> {
        self.mmu
            .translate(va, access, ctx, &mut self.bus)
            .map_err(|e| (e.cause, e.tval))
    }
}

/// Entry 15: NAPOT over the whole address space, RWX, so S/U can run (what firmware does).
pub fn allow_all_pmp(mmu: &mut Mmu) {
    mmu.pmp.write_addr(15, u64::MAX);
    mmu.pmp.write_cfg(2, (0x18 | 7) << 56);
    mmu.pmp_changed();
}

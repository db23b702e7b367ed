//! Scenarios for the benches: hand-assembled guest programs (so the benches need no
//! riscv toolchain), page tables built straight into RAM, translation scenarios on a bare
//! `Mmu` + `Bus`, and whole-guest boots. The benches time these; the tests below check
//! that each scenario does what its bench claims to measure.

use emu::bus::{Bus, DRAM_BASE};
use emu::mmu::{AccessType, Mmu, MmuConfig, Pte, PteFlags, SatpMode, TranslateCtx};

/// RV64 instruction encoders (just what the bench programs use).
pub mod enc {
    pub fn i(op: u32, rd: u32, f3: u32, rs1: u32, imm: i32) -> u32 {
        ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn r(op: u32, rd: u32, f3: u32, rs1: u32, rs2: u32, f7: u32) -> u32 {
        (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
    }
    pub fn s(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
        let imm = imm as u32;
        ((imm >> 5 & 0x7f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((imm & 0x1f) << 7)
            | op
    }
    pub fn b(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
        let o = off as u32;
        ((o >> 12 & 1) << 31)
            | ((o >> 5 & 0x3f) << 25)
            | (rs2 << 20)
            | (rs1 << 15)
            | (f3 << 12)
            | ((o >> 1 & 0xf) << 8)
            | ((o >> 11 & 1) << 7)
            | 0x63
    }
    pub fn u(op: u32, rd: u32, imm20: u32) -> u32 {
        (imm20 << 12) | (rd << 7) | op
    }
    pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
        i(0x13, rd, 0, rs1, imm)
    }
    pub fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
        i(0x03, rd, 3, rs1, imm)
    }
    /// `csrw csr, rs1` (csrrw x0, csr, rs1).
    pub fn csrw(csr: u16, rs1: u32) -> u32 {
        i(0x73, 0, 1, rs1, csr as i32)
    }
    pub const MRET: u32 = 0x3020_0073;
    pub const SFENCE_VMA_ALL: u32 = 0x1200_0073;
}

/// A compute-bound loop that never ends: ALU, multiply, a load and a store per
/// iteration (9 instructions). Runs from any page; uses the page after it as data.
pub fn compute_loop() -> Vec<u32> {
    use enc::*;
    vec![
        u(0x17, 10, 1),          // 0: auipc a0, 1        data page
        addi(5, 0, 0),           // 4: li t0, 0
        addi(6, 0, 1),           // 8: li t1, 1
        addi(5, 5, 1),           // 12: loop: addi t0, t0, 1
        r(0x33, 7, 4, 7, 5, 0),  // 16: xor t2, t2, t0
        i(0x13, 28, 1, 7, 3),    // 20: slli t3, t2, 3
        r(0x33, 7, 0, 7, 28, 0), // 24: add t2, t2, t3
        r(0x33, 29, 0, 5, 6, 1), // 28: mul t4, t0, t1
        s(0x23, 3, 10, 29, 0),   // 32: sd t4, 0(a0)
        i(0x03, 6, 3, 10, 0),    // 36: ld t1, 0(a0)
        i(0x13, 6, 7, 6, 0xff),  // 40: andi t1, t1, 0xff
        b(1, 5, 0, -32),         // 44: bnez t0, loop
    ]
}

/// Little-endian bytes of a program.
pub fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// An FP-heavy loop in M-mode, satp = bare: what a numeric kernel asks of the F and D
/// extensions. 14 instructions per iteration, 11 of them floating point, all rounding
/// (round to nearest except the truncating fcvt.w.d), most inexact.
pub mod fp_loop {
    use super::enc::*;
    use super::DRAM_BASE;
    use emu::machine::{Machine, MachineConfig};

    const OP_FP: u32 = 0x53;
    const FMADD: u32 = 0x43;
    const FMSUB: u32 = 0x47;
    const S: u32 = 0;
    const D: u32 = 1;
    const RNE: u32 = 0;
    const RTZ: u32 = 1;

    /// An OP-FP instruction: `funct5`, format, rd, rs1, rs2 (or the rs2 selector), rm.
    fn fp(funct5: u32, fmt: u32, rd: u32, rs1: u32, rs2: u32, rm: u32) -> u32 {
        r(OP_FP, rd, rm, rs1, rs2, funct5 << 2 | fmt)
    }
    /// A fused multiply-add (R4-type) in double precision.
    fn fused_d(opcode: u32, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
        (rs3 << 27) | (D << 25) | (rs2 << 20) | (rs1 << 15) | (RNE << 12) | (rd << 7) | opcode
    }

    /// mstatus.FS = Initial: the F and D instructions trap while FS is Off.
    const FS_INITIAL: u32 = 0x2000;
    const MSTATUS: i32 = 0x300;

    pub fn prologue() -> Vec<u32> {
        let (t0, t1) = (5, 6);
        vec![
            u(0x37, t0, FS_INITIAL >> 12), // lui t0, FS_INITIAL
            i(0x73, 0, 2, t0, MSTATUS),    // csrs mstatus, t0
            addi(t1, 0, 3),                // li t1, 3
            fp(0x1a, D, 1, t1, 0, RNE),    // fcvt.d.w f1, t1      f1 = 3
            addi(t1, 0, 7),                // li t1, 7
            fp(0x1a, D, 2, t1, 0, RNE),    // fcvt.d.w f2, t1      f2 = 7
            fp(0x03, D, 3, 1, 2, RNE),     // fdiv.d f3, f1, f2    f3 = 3/7
            fp(0x1a, D, 4, 0, 0, RNE),     // fcvt.d.w f4, x0      acc = 0
            fp(0x1a, S, 12, 0, 0, RNE),    // fcvt.s.w f12, x0     single acc = 0
            addi(t0, 0, 0),                // li t0, 0             iterations
        ]
    }

    pub fn body() -> Vec<u32> {
        let (t0, t2, t3, t4) = (5, 7, 28, 29);
        let body = vec![
            fused_d(FMADD, 4, 3, 2, 4),   // fmadd.d f4, f3, f2, f4   acc += 3/7 * 7
            fp(0x03, D, 5, 4, 2, RNE),    // fdiv.d f5, f4, f2        q = acc / 7
            fp(0x0b, D, 6, 5, 0, RNE),    // fsqrt.d f6, f5           s = sqrt(q)
            fused_d(FMSUB, 7, 6, 6, 5),   // fmsub.d f7, f6, f6, f5   s*s - q
            fp(0x18, D, t2, 6, 0, RTZ),   // fcvt.w.d t2, f6, rtz
            fp(0x1a, D, 8, t2, 0, RNE),   // fcvt.d.w f8, t2
            fp(0x01, D, 9, 6, 8, RNE),    // fsub.d f9, f6, f8        frac(s)
            fp(0x08, S, 10, 9, 1, RNE),   // fcvt.s.d f10, f9
            fp(0x02, S, 11, 10, 10, RNE), // fmul.s f11, f10, f10
            fp(0x00, S, 12, 12, 11, RNE), // fadd.s f12, f12, f11
            fp(0x14, D, t3, 7, 9, 1),     // flt.d t3, f7, f9
            r(0x33, t4, 0, t4, t3, 0),    // add t4, t4, t3
            addi(t0, t0, 1),              // addi t0, t0, 1
        ];
        let back = -4 * body.len() as i32;
        [body, vec![b(1, t0, 0, back)]].concat() // bnez t0, loop
    }

    /// A machine whose hart 0 runs the prologue, then the loop forever.
    pub fn machine() -> Machine {
        let mut m = Machine::new(MachineConfig {
            ram_size: 1 << 20,
            ..MachineConfig::default()
        });
        let code = [prologue(), body()].concat();
        assert!(m.ram().load(DRAM_BASE, &super::bytes(&code)));
        m.harts[0].pc = DRAM_BASE;
        m
    }

    /// Where the loop starts: after `iterations` whole iterations the hart is back here.
    pub fn loop_head() -> u64 {
        DRAM_BASE + 4 * prologue().len() as u64
    }

    /// Instructions that leave the hart at the loop head after `iterations` iterations.
    pub fn insns_for(iterations: u64) -> u64 {
        prologue().len() as u64 + iterations * body().len() as u64
    }
}

/// Page tables built directly in guest RAM, in the spirit of xv6's `mappages`.
pub mod paging {
    use super::*;

    pub const PRIV_S: u8 = 1;
    /// A kernel page nothing will fault on (A and D already set: Svade is the default).
    pub const RWX_AD: u8 = PteFlags::V | PteFlags::R | PteFlags::W | PteFlags::X | A_D;
    pub const RW_AD: u8 = PteFlags::V | PteFlags::R | PteFlags::W | A_D;
    pub const RX_A: u8 = PteFlags::V | PteFlags::R | PteFlags::X | PteFlags::A;
    const A_D: u8 = PteFlags::A | PteFlags::D;

    pub fn levels(mode: SatpMode) -> u8 {
        match mode {
            SatpMode::Bare => 0,
            SatpMode::Sv39 => 3,
            SatpMode::Sv48 => 4,
            SatpMode::Sv57 => 5,
        }
    }

    pub fn satp(mode: SatpMode, asid: u16, root: u64) -> u64 {
        (mode as u64) << 60 | (asid as u64) << 44 | root >> 12
    }

    /// Translation context of an S-mode access (SUM and MXR clear).
    pub fn s_ctx(satp: u64) -> TranslateCtx {
        TranslateCtx {
            satp,
            privilege: PRIV_S,
            sum: false,
            mxr: false,
        }
    }

    /// Bump allocator of zeroed table pages in `[next, end)` of RAM.
    pub struct PageTables {
        next: u64,
        end: u64,
    }

    impl PageTables {
        pub fn new(start: u64, end: u64) -> Self {
            PageTables { next: start, end }
        }

        /// A zeroed 4 KiB table page. Running out is a bug in a bench's setup.
        pub fn alloc(&mut self, bus: &mut Bus) -> u64 {
            let page = self.next;
            assert!(page + 4096 <= self.end, "bench ran out of table pages");
            assert!(bus.ram.load(page, &[0; 4096]), "table page outside RAM");
            self.next += 4096;
            page
        }

        /// Map `va` to `pa` with a leaf at `level` (0 = 4 KiB) carrying `flags`, creating
        /// the intermediate tables below `root`.
        #[allow(clippy::too_many_arguments)]
        pub fn map(
            &mut self,
            bus: &mut Bus,
            mode: SatpMode,
            root: u64,
            va: u64,
            pa: u64,
            level: u8,
            flags: u8,
        ) {
            let mut table = root;
            for l in (level + 1..levels(mode)).rev() {
                let pte_addr = table + pte_index(va, l) * 8;
                let pte = Pte(bus.read(pte_addr, 8).expect("table in RAM"));
                table = if pte.has(PteFlags::V) && !pte.is_leaf() {
                    pte.ppn() << 12
                } else {
                    let next = self.alloc(bus);
                    write_pte(bus, pte_addr, Pte::new(next >> 12, PteFlags::V));
                    next
                };
            }
            write_pte(
                bus,
                table + pte_index(va, level) * 8,
                Pte::new(pa >> 12, flags),
            );
        }
    }

    fn pte_index(va: u64, level: u8) -> u64 {
        (va >> (12 + 9 * level as u32)) & 0x1ff
    }

    fn write_pte(bus: &mut Bus, addr: u64, pte: Pte) {
        bus.write(addr, 8, pte.0).expect("table in RAM");
    }
}

/// Translation scenarios on a lone MMU and a RAM-only bus: what `translate.rs` times.
pub mod translate {
    use super::paging::*;
    use super::*;
    use emu::mmu::TlbConfig;

    const RAM_SIZE: u64 = 8 << 20;
    /// Page tables live in the top half of RAM.
    const TABLES: u64 = DRAM_BASE + RAM_SIZE / 2;

    /// One hart's MMU with the memory its page tables live in.
    pub struct Space {
        pub bus: Bus,
        pub mmu: Mmu,
        pub tables: PageTables,
    }

    impl Space {
        pub fn new(config: MmuConfig) -> Space {
            let mut mmu = Mmu::new(config);
            allow_all_pmp(&mut mmu);
            Space {
                bus: Bus::new(RAM_SIZE),
                mmu,
                tables: PageTables::new(TABLES, DRAM_BASE + RAM_SIZE),
            }
        }

        pub fn new_root(&mut self) -> u64 {
            self.tables.alloc(&mut self.bus)
        }

        pub fn map(&mut self, mode: SatpMode, root: u64, va: u64, pa: u64, level: u8, flags: u8) {
            self.tables
                .map(&mut self.bus, mode, root, va, pa, level, flags)
        }

        /// A translation the scenario set up to succeed; a fault is a bug in the setup.
        #[inline]
        pub fn translate(&mut self, va: u64, access: AccessType, ctx: &TranslateCtx) -> u64 {
            match self.mmu.translate(va, access, ctx, &mut self.bus) {
                Ok(pa) => pa,
                Err(e) => panic!("bench translation of {va:#x} faulted: {e:?}"),
            }
        }

        /// A satp write as the hart performs it (WARL, then the MMU is told).
        pub fn write_satp(&mut self, old: u64, value: u64) -> u64 {
            let new = self.mmu.satp_write(old, value);
            self.mmu.satp_written(old, new);
            new
        }
    }

    /// PMP entry 0 covering everything with RWX, as firmware sets it before entering S.
    pub fn allow_all_pmp(mmu: &mut Mmu) {
        mmu.pmp.write_addr(0, u64::MAX);
        mmu.pmp.write_cfg(0, 0x18 | 7);
        mmu.pmp_changed();
    }

    /// The configuration a plain run uses (fast path on, model behind it).
    pub fn plain() -> MmuConfig {
        MmuConfig::default()
    }

    /// `--stats`: every access goes through the TLB model.
    pub fn observed() -> MmuConfig {
        MmuConfig {
            stats: true,
            ..MmuConfig::default()
        }
    }

    /// No TLB model and no fast path: every translation is a full walk.
    pub fn always_walk() -> MmuConfig {
        MmuConfig {
            stats: true,
            tlb: TlbConfig::off(),
            ..MmuConfig::default()
        }
    }

    /// Leaf levels a mode can map: 4K, 2M, 1G, then 512G (Sv48+) and 256T (Sv57).
    pub fn leaf_levels(mode: SatpMode) -> std::ops::Range<u8> {
        0..levels(mode)
    }

    /// One leaf of `level` in `mode`: the returned va (inside the page, not at its start)
    /// translates to the returned pa. Both are aligned for the page size and canonical in
    /// every mode that has the level.
    pub struct Leaf {
        pub space: Space,
        pub ctx: TranslateCtx,
        pub va: u64,
        pub pa: u64,
    }

    pub fn one_leaf(config: MmuConfig, mode: SatpMode, level: u8) -> Leaf {
        let mut space = Space::new(config);
        let root = space.new_root();
        let size = 1u64 << (12 + 9 * level as u32);
        let (va_page, pa_page) = (2 * size, size);
        space.map(mode, root, va_page, pa_page, level, RW_AD);
        let offset = 0x123 << 3;
        Leaf {
            space,
            ctx: s_ctx(satp(mode, 1, root)),
            va: va_page + offset,
            pa: pa_page + offset,
        }
    }

    pub const FILL_MODE: SatpMode = SatpMode::Sv48;
    /// Pages touched to fill the default TLB: twice the L2's 512 entries so every set
    /// has seen more pages than it has ways.
    pub const FILL_PAGES: u64 = 1024;
    pub const FILL_BASE: u64 = 0x1000_0000;
    pub const FILL_ASID: u16 = 1;

    /// The default TLB model filled with ASID 1 entries: loads of `FILL_PAGES` pages fill
    /// L2 and L1D, fetches of the last 32 fill L1I.
    pub struct FullTlb {
        pub space: Space,
        pub ctx: TranslateCtx,
    }

    impl FullTlb {
        pub fn new() -> FullTlb {
            let mut space = Space::new(observed());
            let root = space.new_root();
            for n in 0..FILL_PAGES {
                let va = FILL_BASE + n * 4096;
                space.map(FILL_MODE, root, va, DRAM_BASE + n * 4096, 0, RWX_AD);
            }
            let mut t = FullTlb {
                space,
                ctx: s_ctx(satp(FILL_MODE, FILL_ASID, root)),
            };
            t.refill();
            t
        }

        pub fn refill(&mut self) {
            let ctx = self.ctx;
            for n in 0..FILL_PAGES {
                self.space
                    .translate(FILL_BASE + n * 4096, AccessType::Load, &ctx);
            }
            for n in FILL_PAGES - 32..FILL_PAGES {
                self.space
                    .translate(FILL_BASE + n * 4096, AccessType::Fetch, &ctx);
            }
        }

        /// A page that is in every level after `refill`.
        pub fn resident_page(&self) -> u64 {
            FILL_BASE + (FILL_PAGES - 1) * 4096
        }

        /// Put back what an address fence on `va` removed.
        pub fn refill_page(&mut self, va: u64) {
            let ctx = self.ctx;
            self.space.translate(va, AccessType::Load, &ctx);
            self.space.translate(va, AccessType::Fetch, &ctx);
        }
    }

    impl Default for FullTlb {
        fn default() -> Self {
            FullTlb::new()
        }
    }

    pub const SWITCH_BASE: u64 = 0x4000_0000;

    /// Two address spaces mapping the same `pages` virtual pages to different frames.
    /// `switch_and_touch` moves to the other space and loads from each page once.
    /// With ASIDs (1 and 2) the switch is a bare satp write and the other space's
    /// entries are still cached; without (both ASID 0) it must be followed by a full
    /// sfence.vma, as Linux does, and every touch walks.
    pub struct SatpSwitch {
        pub space: Space,
        satps: [u64; 2],
        current: usize,
        pages: u64,
        with_asids: bool,
    }

    impl SatpSwitch {
        pub fn new(config: MmuConfig, pages: u64, with_asids: bool) -> SatpSwitch {
            let mut space = Space::new(config);
            let mut satps = [0; 2];
            for (s, satp_value) in satps.iter_mut().enumerate() {
                let root = space.new_root();
                for n in 0..pages {
                    let pa = DRAM_BASE + (s as u64 * pages + n) * 4096;
                    space.map(FILL_MODE, root, SWITCH_BASE + n * 4096, pa, 0, RW_AD);
                }
                let asid = if with_asids { s as u16 + 1 } else { 0 };
                *satp_value = satp(FILL_MODE, asid, root);
            }
            let mut sw = SatpSwitch {
                space,
                satps,
                current: 0,
                pages,
                with_asids,
            };
            // Warm both spaces so the timed switches start from the steady state.
            sw.switch_and_touch();
            sw.switch_and_touch();
            sw
        }

        pub fn switch_and_touch(&mut self) {
            let old = self.satps[self.current];
            self.current ^= 1;
            let new = self.space.write_satp(old, self.satps[self.current]);
            if !self.with_asids {
                self.space.mmu.sfence_vma(None, None);
            }
            let ctx = s_ctx(new);
            for n in 0..self.pages {
                self.space
                    .translate(SWITCH_BASE + n * 4096, AccessType::Load, &ctx);
            }
        }
    }
}

/// The compute loop under Sv48 with 4 KiB pages, entered in S-mode by an M-mode
/// prologue (PMP all-RWX, satp, MPP = S, mepc, mret), so the hart is set up exactly as
/// firmware would and the emulator needs no back door.
pub mod sv48_loop {
    use super::paging::*;
    use super::*;
    use emu::machine::{Machine, MachineConfig};

    pub const RAM_SIZE: u64 = 64 << 20;
    pub const PROLOGUE: u64 = DRAM_BASE;
    /// Where the prologue finds satp and the S-mode entry point.
    const CONSTANTS: u64 = PROLOGUE + 0x100;
    pub const CODE_PA: u64 = DRAM_BASE + 0x1000;
    pub const DATA_PA: u64 = DRAM_BASE + 0x2000;
    const TABLES: u64 = DRAM_BASE + 0x10_0000;
    /// A kernel-style high address (the `layout=top` kernel base).
    pub const CODE_VA: u64 = 0xffff_ffff_8000_0000;
    pub const ASID: u16 = 1;

    const PMPADDR0: u16 = 0x3b0;
    const PMPCFG0: u16 = 0x3a0;
    const SATP: u16 = 0x180;
    const MSTATUS: u16 = 0x300;
    const MEPC: u16 = 0x341;

    pub fn prologue() -> Vec<u32> {
        use enc::*;
        let (t0, t1, t2, t3) = (5, 6, 7, 28);
        let off = (CONSTANTS - PROLOGUE) as i32;
        vec![
            u(0x17, t0, 0), // auipc t0, 0
            ld(t1, t0, off),
            ld(t2, t0, off + 8),
            addi(t3, 0, -1),
            csrw(PMPADDR0, t3),
            addi(t3, 0, 0x18 | 7), // NAPOT, RWX
            csrw(PMPCFG0, t3),
            csrw(SATP, t1),
            SFENCE_VMA_ALL,
            addi(t3, 0, 1),
            i(0x13, t3, 1, t3, 11), // slli t3, t3, 11: MPP = S
            csrw(MSTATUS, t3),
            csrw(MEPC, t2),
            MRET,
        ]
    }

    /// A machine whose hart 0 will run the prologue and then the loop in S-mode.
    pub fn machine(observed: bool) -> Machine {
        let mut m = Machine::new(MachineConfig {
            ram_size: RAM_SIZE,
            ..MachineConfig::default()
        });
        let mode = SatpMode::Sv48;
        let mut tables = PageTables::new(TABLES, DRAM_BASE + RAM_SIZE);
        let root = tables.alloc(&mut m.bus);
        tables.map(&mut m.bus, mode, root, CODE_VA, CODE_PA, 0, RX_A);
        tables.map(&mut m.bus, mode, root, CODE_VA + 0x1000, DATA_PA, 0, RW_AD);

        let satp_value = satp(mode, ASID, root);
        let constants: Vec<u8> = [satp_value, CODE_VA]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert!(m.ram().load(PROLOGUE, &bytes(&prologue())));
        assert!(m.ram().load(CONSTANTS, &constants));
        assert!(m.ram().load(CODE_PA, &bytes(&compute_loop())));
        m.harts[0].pc = PROLOGUE;
        m.set_observed(observed);
        m
    }

    /// True when the hart is where the loop keeps it: S-mode, Sv48, inside the code page.
    pub fn running_the_loop(m: &Machine) -> bool {
        let h = &m.harts[0];
        h.privilege == PRIV_S
            && h.satp() >> 60 == SatpMode::Sv48 as u64
            && h.pc >> 12 == CODE_VA >> 12
    }
}

/// Whole boots of the in-repo guest kernel through the in-repo firmware, set up as
/// `emu run` does (firmware and kernel ELFs, generated device tree, boot ROM).
pub mod guest {
    use emu::devices::console::ConsoleOutput;
    use emu::machine::{dtb, Machine, MachineConfig, StopReason};
    use emu::mmu::{MmuConfig, SatpMode};

    pub const MODES: [SatpMode; 3] = [SatpMode::Sv39, SatpMode::Sv48, SatpMode::Sv57];
    pub const LAYOUTS: [&str; 3] = ["vmalloc", "top", "linear"];
    /// Far more than a boot needs (about 1.3 M instructions); reaching it is a failure.
    pub const MAX_INSNS: u64 = 200_000_000;

    /// A machine ready to boot with `--sv.. --append "layout=LAYOUT nokaslr"`; the
    /// console goes to a buffer so the benches print nothing.
    pub fn machine(mode: SatpMode, layout: &str) -> Machine {
        let (console, _text) = ConsoleOutput::capture();
        let mut m = Machine::new(MachineConfig {
            mmu: MmuConfig {
                max_mode: mode,
                ..MmuConfig::default()
            },
            bootargs: format!("layout={layout} nokaslr"),
            console_output: console,
            ..MachineConfig::default()
        });
        let fw = m
            .load(emu::images::FIRMWARE, "built-in firmware")
            .expect("embedded firmware loads");
        m.load(emu::images::GUEST_KERNEL, "built-in guest kernel")
            .expect("embedded kernel loads");
        let tree = dtb::build(&m.config).expect("device tree builds");
        m.prepare_boot(fw.entry, &tree).expect("device tree fits");
        m
    }

    /// Boot to the kernel's SBI shutdown; returns the instructions it took. The kernel
    /// exits 0 only when all its self-tests passed.
    pub fn boot(m: &mut Machine) -> u64 {
        let stop = m.run(Some(MAX_INSNS));
        assert_eq!(
            stop,
            StopReason::Exit(0),
            "guest boot ({}) failed",
            m.config.bootargs
        );
        m.total_insns
    }
}

#[cfg(test)]
mod tests {
    use super::paging::*;
    use super::translate::*;
    use super::*;
    use emu::mmu::TlbLevel;

    #[test]
    fn every_leaf_size_walks_to_its_frame_with_one_pte_read_per_level() {
        for mode in [SatpMode::Sv39, SatpMode::Sv48, SatpMode::Sv57] {
            for level in leaf_levels(mode) {
                let mut l = one_leaf(always_walk(), mode, level);
                for round in 1..=3 {
                    assert_eq!(l.space.translate(l.va, AccessType::Load, &l.ctx), l.pa);
                    let stats = &l.space.mmu.stats;
                    assert_eq!(stats.walks(), round, "{mode:?} level {level}");
                    assert_eq!(
                        stats.pte_reads,
                        round * (levels(mode) - level) as u64,
                        "{mode:?} level {level}"
                    );
                }
            }
        }
    }

    #[test]
    fn tlb_hits_do_not_walk_with_or_without_stats() {
        for config in [plain(), observed()] {
            let mut l = one_leaf(config, SatpMode::Sv48, 0);
            l.space.translate(l.va, AccessType::Load, &l.ctx);
            let walks = l.space.mmu.stats.walks();
            for _ in 0..10 {
                assert_eq!(l.space.translate(l.va, AccessType::Load, &l.ctx), l.pa);
            }
            assert_eq!(l.space.mmu.stats.walks(), walks);
        }
    }

    fn entries(t: &FullTlb) -> [usize; 3] {
        [TlbLevel::L1I, TlbLevel::L1D, TlbLevel::L2].map(|l| t.space.mmu.tlb_entries(l).len())
    }

    #[test]
    fn fill_fills_every_level_and_each_fence_form_removes_what_it_should() {
        let mut t = FullTlb::new();
        assert_eq!(entries(&t), [32, 32, 512]);
        let va = t.resident_page();

        t.space.mmu.sfence_vma(Some(va), None);
        assert_eq!(entries(&t), [31, 31, 511]);
        t.refill_page(va);
        assert_eq!(entries(&t), [32, 32, 512]);

        t.space.mmu.sfence_vma(Some(va), Some(FILL_ASID));
        assert_eq!(entries(&t), [31, 31, 511]);
        t.refill_page(va);

        t.space.mmu.sfence_vma(None, Some(FILL_ASID + 1));
        assert_eq!(entries(&t), [32, 32, 512], "another ASID's fence");
        t.space.mmu.sfence_vma(None, Some(FILL_ASID));
        assert_eq!(entries(&t), [0, 0, 0]);
        t.refill();
        assert_eq!(entries(&t), [32, 32, 512]);

        t.space.mmu.sfence_vma(None, None);
        assert_eq!(entries(&t), [0, 0, 0]);
    }

    #[test]
    fn satp_switch_keeps_entries_only_with_asids() {
        for pages in [16, 64] {
            let mut with = SatpSwitch::new(observed(), pages, true);
            let mut without = SatpSwitch::new(observed(), pages, false);
            let (w0, n0) = (
                with.space.mmu.stats.walks(),
                without.space.mmu.stats.walks(),
            );
            for _ in 0..4 {
                with.switch_and_touch();
                without.switch_and_touch();
            }
            assert_eq!(with.space.mmu.stats.walks(), w0, "{pages} pages, ASIDs");
            assert_eq!(
                without.space.mmu.stats.walks() - n0,
                4 * pages,
                "{pages} pages, no ASIDs"
            );
        }
    }

    #[test]
    fn sv48_loop_runs_in_s_mode_through_the_page_table() {
        for observed in [false, true] {
            let mut m = sv48_loop::machine(observed);
            m.run(Some(100_000));
            assert!(sv48_loop::running_the_loop(&m), "pc {:#x}", m.harts[0].pc);
            let h = &mut m.harts[0];
            // Only the prologue ran in M-mode (its mret may be counted on either side).
            let prologue = sv48_loop::prologue().len() as u64;
            assert!((prologue - 1..=prologue).contains(&h.insns_by_priv[3]));
            assert_eq!(h.insns_by_priv[1], 100_000 - h.insns_by_priv[3]);
            if observed {
                let s = &h.mmu.stats;
                assert!(s.paged_translations > 50_000, "{}", s.paged_translations);
                assert_eq!(s.walks(), 2, "one walk each for the code and data pages");
            }
        }
    }

    #[test]
    fn the_bare_loop_stays_in_m_mode() {
        let mut m = emu::machine::Machine::new(emu::machine::MachineConfig {
            ram_size: 1 << 20,
            ..Default::default()
        });
        assert!(m.ram().load(DRAM_BASE, &bytes(&compute_loop())));
        m.harts[0].pc = DRAM_BASE;
        m.run(Some(10_000));
        assert_eq!(m.harts[0].privilege, 3);
        assert_eq!(m.harts[0].pc >> 12, DRAM_BASE >> 12);
    }

    /// The loop's registers after some iterations, computed with the host's own IEEE
    /// arithmetic (round to nearest; `as i32` truncates like fcvt.w.d with rtz).
    #[test]
    fn fp_loop_computes_what_the_host_computes() {
        let iterations = 2_000;
        let mut m = fp_loop::machine();
        m.run(Some(fp_loop::insns_for(iterations)));
        let h = &m.harts[0];
        assert_eq!(h.pc, fp_loop::loop_head(), "the loop trapped or left");
        assert_eq!(h.x[5], iterations);

        let third_sevenths = 3.0f64 / 7.0;
        let (mut acc, mut acc_s, mut below) = (0.0f64, 0.0f32, 0u64);
        for _ in 0..iterations {
            acc = third_sevenths.mul_add(7.0, acc);
            let q = acc / 7.0;
            let s = q.sqrt();
            let residual = s.mul_add(s, -q);
            let frac = s - f64::from(s as i32);
            let frac_s = frac as f32;
            acc_s += frac_s * frac_s;
            below += u64::from(residual < frac);
        }
        assert_eq!(h.fp.f[4], acc.to_bits());
        assert_eq!(
            h.fp.f[12],
            0xffff_ffff_0000_0000 | u64::from(acc_s.to_bits())
        );
        assert_eq!(h.x[29], below);
        assert!(
            below > 0 && below < iterations,
            "flt takes both ways: {below}"
        );
        assert_eq!(h.fp.fflags, 1, "only inexact results");
    }

    #[test]
    fn guest_boots_cleanly() {
        let mut m = guest::machine(SatpMode::Sv48, "top");
        let insns = guest::boot(&mut m);
        assert!(insns > 100_000, "{insns}");
    }
}

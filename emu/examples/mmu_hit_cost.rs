//! Cost of a TLB-hit translation: `cargo run --release -p emu --example mmu_hit_cost`.
//!
//! Times 10M `Mmu::translate` calls over 16 mapped 4 KiB pages under Sv48 (all hits
//! after the first round) in three set-ups: the fast path (nothing observed), the TLB
//! model alone (`--stats`, every access goes through the model), and satp = bare.

use std::hint::black_box;
use std::time::Instant;

use emu::bus::{Bus, DRAM_BASE};
use emu::mmu::{AccessType, Mmu, MmuConfig, Pte, PteFlags, TranslateCtx};

const CALLS: u64 = 10_000_000;
const PAGES: u64 = 16;

/// A 4-level table mapping VA `i << 12` to `DRAM_BASE + 1 MiB + (i << 12)`.
fn build_sv48(bus: &mut Bus) -> u64 {
    let root = DRAM_BASE + 0x40_0000;
    let (l2, l1, l0) = (root + 0x1000, root + 0x2000, root + 0x3000);
    let v = PteFlags::V;
    bus.write(root, 8, Pte::new(l2 >> 12, v).0).unwrap();
    bus.write(l2, 8, Pte::new(l1 >> 12, v).0).unwrap();
    bus.write(l1, 8, Pte::new(l0 >> 12, v).0).unwrap();
    let leaf = PteFlags::V | PteFlags::R | PteFlags::W | PteFlags::A | PteFlags::D;
    for i in 0..PAGES {
        let pa = DRAM_BASE + 0x10_0000 + (i << 12);
        bus.write(l0 + i * 8, 8, Pte::new(pa >> 12, leaf).0)
            .unwrap();
    }
    9 << 60 | 1 << 44 | root >> 12
}

fn time(label: &str, mmu: &mut Mmu, bus: &mut Bus, ctx: TranslateCtx) {
    let mut sum = 0u64;
    let start = Instant::now();
    for i in 0..CALLS {
        let va = ((i % PAGES) << 12) | (i & 0xff8);
        match mmu.translate(black_box(va), AccessType::Load, &ctx, bus) {
            Ok(pa) => sum = sum.wrapping_add(pa),
            Err(e) => panic!("unexpected fault {e:?} at {va:#x}"),
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
    println!("{label:<28} {ns:6.2} ns/translate  (checksum {sum:#x})");
}

fn main() {
    for (label, stats, bare) in [
        ("sv48, fast path", false, false),
        ("sv48, TLB model (--stats)", true, false),
        ("bare, fast path", false, true),
    ] {
        let mut bus = Bus::new(8 << 20);
        let satp = build_sv48(&mut bus);
        let mut mmu = Mmu::new(MmuConfig {
            stats,
            ..MmuConfig::default()
        });
        // Firmware-style PMP: one NAPOT entry over everything, RWX.
        mmu.pmp.write_addr(0, u64::MAX);
        mmu.pmp.write_cfg(0, 0x1f);
        mmu.pmp_changed();
        let ctx = TranslateCtx {
            satp: if bare { 0 } else { satp },
            privilege: 1,
            sum: false,
            mxr: false,
        };
        time(label, &mut mmu, &mut bus, ctx);
        if stats {
            println!("{}", mmu.stats);
        }
    }
}

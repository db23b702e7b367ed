//! Address-translation micro-benches on a lone MMU (no hart): TLB hits on the fast path
//! and through the TLB model, cold walks per mode and leaf size, each sfence.vma form on
//! a full TLB, and address-space switches with and without ASIDs.

use std::hint::black_box;
mod common;

use std::time::{Duration, Instant};

use common::ThreadCpuTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId};
use emu::bus::DRAM_BASE;
use emu::mmu::pte::page_size_name;
use emu::mmu::{AccessType, MmuConfig, SatpMode};
use emu_benches::paging::{s_ctx, satp, RW_AD};
use emu_benches::translate::*;

/// Pages cycled through by the TLB-hit benches: all of them fit in the fast path and in
/// the 32-entry L1D, so every translation after the first round hits.
const HOT_PAGES: u64 = 16;
const HOT_BASE: u64 = 0x20_0000_0000;

type Criterion = criterion::Criterion<ThreadCpuTime>;

fn short(g: &mut BenchmarkGroup<'_, ThreadCpuTime>) {
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

fn tlb_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("tlb_hit");
    short(&mut g);
    for (name, config) in [("fast_path", plain()), ("model_with_stats", observed())] {
        let mut s = Space::new(config);
        let root = s.new_root();
        for n in 0..HOT_PAGES {
            let va = HOT_BASE + n * 4096;
            s.map(SatpMode::Sv48, root, va, DRAM_BASE + n * 4096, 0, RW_AD);
        }
        let ctx = s_ctx(satp(SatpMode::Sv48, 1, root));
        for n in 0..HOT_PAGES {
            s.translate(HOT_BASE + n * 4096, AccessType::Load, &ctx);
        }
        let walks = s.mmu.stats.walks();
        let mut n = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                n = (n + 1) % HOT_PAGES;
                s.translate(black_box(HOT_BASE + n * 4096 + 8), AccessType::Load, &ctx)
            })
        });
        assert_eq!(s.mmu.stats.walks(), walks, "{name}: a hit bench walked");
    }
    g.finish();
}

fn cold_walk(c: &mut Criterion) {
    let mut g = c.benchmark_group("walk");
    short(&mut g);
    for (mode_name, mode) in [
        ("sv39", SatpMode::Sv39),
        ("sv48", SatpMode::Sv48),
        ("sv57", SatpMode::Sv57),
    ] {
        for level in leaf_levels(mode) {
            // No TLB model and the fast path off: every translation is a full walk.
            let mut l = one_leaf(always_walk(), mode, level);
            g.bench_function(BenchmarkId::new(mode_name, page_size_name(level)), |b| {
                b.iter(|| l.space.translate(black_box(l.va), AccessType::Load, &l.ctx))
            });
            assert_eq!(l.space.translate(l.va, AccessType::Load, &l.ctx), l.pa);
        }
    }
    g.finish();
}

/// One sfence.vma form and what must be put back after it.
struct FenceForm {
    name: &'static str,
    /// (vaddr, asid) operands; None times the clock alone.
    operands: Option<(Option<u64>, Option<u16>)>,
    refill: fn(&mut FullTlb, u64),
    /// Timed window. Forms that empty the TLB need ~1000 walks (hundreds of µs, untimed)
    /// after each fence, so their window is kept small to bound the bench's wall time.
    window: Duration,
}

/// Times only the fence; the TLB is refilled (untimed) after each one. Each window is a
/// few hundred ns, so it is read with the wall clock (a vDSO call) rather than the thread
/// CPU clock (a system call, as slow as the fence); a preemption seldom lands in so short
/// a window. `timer_only` measures the pair of clock reads, to subtract from the others.
fn sfence_full_tlb(c: &mut Criterion) {
    let mut g = c.benchmark_group("sfence_full_tlb");
    g.sample_size(10);
    let va = FullTlb::new().resident_page();
    let (cheap, refilling) = (Duration::from_millis(200), Duration::from_millis(3));
    let forms = [
        FenceForm {
            name: "timer_only",
            operands: None,
            refill: |_, _| {},
            window: cheap,
        },
        FenceForm {
            name: "all",
            operands: Some((None, None)),
            refill: |t, _| t.refill(),
            window: refilling,
        },
        FenceForm {
            name: "address",
            operands: Some((Some(va), None)),
            refill: FullTlb::refill_page,
            window: cheap,
        },
        FenceForm {
            name: "asid",
            operands: Some((None, Some(FILL_ASID))),
            refill: |t, _| t.refill(),
            window: refilling,
        },
        FenceForm {
            name: "address_asid",
            operands: Some((Some(va), Some(FILL_ASID))),
            refill: FullTlb::refill_page,
            window: cheap,
        },
    ];
    for form in forms {
        let mut t = FullTlb::new();
        g.warm_up_time(form.window / 2)
            .measurement_time(form.window);
        g.bench_function(form.name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    if let Some((vaddr, asid)) = form.operands {
                        t.space.mmu.sfence_vma(black_box(vaddr), black_box(asid));
                    }
                    total += start.elapsed();
                    (form.refill)(&mut t, va);
                }
                total
            })
        });
    }
    g.finish();
}

/// One switch to the other address space plus one load from each of its N pages.
fn satp_switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("satp_switch");
    short(&mut g);
    for pages in [16, 64] {
        for (name, with_asids) in [("asid", true), ("no_asid_flush_all", false)] {
            let mut sw = SatpSwitch::new(MmuConfig::default(), pages, with_asids);
            g.bench_function(BenchmarkId::new(name, format!("{pages}_pages")), |b| {
                b.iter(|| sw.switch_and_touch())
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = tlb_hit, cold_walk, sfence_full_tlb, satp_switch
}
criterion_main!(benches);

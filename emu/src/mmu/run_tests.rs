//! Counted runs ([`CountedRun`]) against access-by-access translation: the same data
//! accesses, one MMU translating each with [`Mmu::translate`] and another holding them in
//! a run (joining pages, counting, settling, keeping or dropping its pages where the hart
//! does), must give the same physical addresses and leave the same counters and TLB
//! state (LRU stamps included). The page tables give the run what makes it hard: pages
//! that share its direct-mapped slots, superpages, and 4K entries left in the TLB under a
//! superpage by a remap without a fence (two entries matching one address), and a page
//! of a superpage that the PMP lets S-mode read only. The same
//! page tables check that the predicate the hart opens a fetch batch on,
//! [`Mmu::would_replay_fetch`], agrees with the replay it stands for, and that fetches
//! counted by L1I slot in a [`FetchRun`] account as each fetch translated in turn.

use super::page_caches::{CountedRun, FetchRun, RUN_PAGES};
use super::*;
use crate::bus::{Bus, DRAM_BASE};
use crate::snapshot::format::Writer;
use proptest::prelude::*;

const RAM: u64 = 4 << 20;
const ROOT: u64 = DRAM_BASE + 0x30_0000;
const MIDDLE: u64 = ROOT + 0x1000;
const LEAVES: u64 = ROOT + 0x2000;
/// The first 2 MiB of virtual space the tests use: 4K pages, or one superpage after a
/// remap. The next 2 MiB: one superpage.
const BASE: u64 = 0x4000_0000;
const FLAGS: u64 = 0b1100_1111; // V R W X A D

#[derive(Debug, Clone)]
enum Op {
    /// A load or store in the run.
    Access {
        page: usize,
        store: bool,
    },
    /// Something else translating in between (a reference step's access, a fetch):
    /// the run is paused around it.
    Other {
        page: usize,
        access: u8,
    },
    /// The first 2 MiB remapped as a superpage (or back to 4K pages), without a fence.
    Remap {
        huge: bool,
    },
    Fence {
        page: Option<usize>,
    },
    /// A PMP write (without a fence) that takes page 3's physical page under the
    /// superpage remap away from S-mode, or gives it back.
    Pmp {
        deny: bool,
    },
}

/// Page `i`'s virtual address: 16 pages of the first 2 MiB, then 16 of the superpage,
/// spaced so that several share a slot of the run.
fn va(page: usize) -> u64 {
    if page < 16 {
        BASE + page as u64 * 0x1000
    } else {
        let i = page as u64 - 16;
        BASE + 0x20_0000 + ((i % 8) * RUN_PAGES as u64 + i / 8) * 0x1000
    }
}

fn pte(pa: u64, flags: u64) -> u64 {
    (pa >> 12) << 10 | flags
}

fn remap(bus: &mut Bus, huge: bool) {
    let entry = if huge {
        pte(DRAM_BASE, FLAGS)
    } else {
        pte(LEAVES, 1)
    };
    bus.write(MIDDLE, 8, entry).unwrap();
}

fn machine(l1d: TlbLevelConfig) -> (Bus, TranslateCtx, MmuConfig) {
    let mut bus = Bus::new(RAM);
    bus.write(ROOT + (BASE >> 30) * 8, 8, pte(MIDDLE, 1))
        .unwrap();
    remap(&mut bus, false);
    let second = pte(DRAM_BASE + 0x20_0000, FLAGS);
    bus.write(MIDDLE + 8, 8, second).unwrap();
    for i in 0..512 {
        let leaf = pte(DRAM_BASE + 0x10_0000 + i * 0x1000, FLAGS);
        bus.write(LEAVES + i * 8, 8, leaf).unwrap();
    }
    let ctx = TranslateCtx {
        satp: 8 << 60 | ROOT >> 12,
        privilege: 1,
        sum: false,
        mxr: false,
    };
    let config = MmuConfig {
        max_mode: SatpMode::Sv39,
        stats: true,
        tlb: TlbConfig {
            l1d,
            l2: TlbLevelConfig {
                entries: 16,
                ways: 4,
            },
            ..TlbConfig::default()
        },
        ..MmuConfig::default()
    };
    (bus, ctx, config)
}

/// The one page the PMP lets S-mode read only: page 17's, in the superpage, which the
/// PMP then does not decide at once.
const READ_ONLY: u64 = DRAM_BASE + 0x20_0000 + RUN_PAGES as u64 * 0x1000;

fn new_mmu(config: &MmuConfig) -> Mmu {
    let mut mmu = Mmu::new(config.clone());
    // Entry 0: NAPOT over READ_ONLY's 4 KiB, R. Entry 15: NAPOT over everything, RWX.
    mmu.pmp.write_addr(0, READ_ONLY >> 2 | 0x1ff);
    mmu.pmp.write_addr(15, u64::MAX);
    mmu.pmp.write_cfg(0, 0x18 | 1);
    mmu.pmp.write_cfg(2, (0x18 | 7) << 56);
    mmu.pmp_changed();
    mmu
}

fn state(mmu: &Mmu) -> Vec<u8> {
    let mut w = Writer::new();
    mmu.save_state(&mut w);
    w.buf
}

fn access_type(n: u8) -> AccessType {
    match n % 3 {
        0 => AccessType::Load,
        1 => AccessType::Store,
        _ => AccessType::Fetch,
    }
}

fn check(l1d: TlbLevelConfig, ops: &[Op]) {
    let (mut bus, ctx, config) = machine(l1d);
    let (mut each, mut runs) = (new_mmu(&config), new_mmu(&config));
    let mut run = CountedRun::NONE;
    for (n, op) in ops.iter().enumerate() {
        match *op {
            Op::Access { page, store } => {
                let access = AccessType::data(store);
                let va = va(page);
                let want = each.translate(va, access, &ctx, &mut bus).ok();
                let off = |page: u64, _| Some((page - DRAM_BASE) as usize);
                let got = match run.count(va, store) {
                    Some(at) => Some(at as u64 + DRAM_BASE),
                    None => match runs.join_run(&mut run, va, store, &ctx, off) {
                        Some(at) => Some(at as u64 + DRAM_BASE),
                        None => {
                            runs.settle_run(&mut run);
                            run.clear();
                            runs.translate(va, access, &ctx, &mut bus).ok()
                        }
                    },
                };
                assert_eq!(got, want, "op {n}: {op:?}");
            }
            Op::Other { page, access } => {
                let access = access_type(access);
                let want = each.translate(va(page), access, &ctx, &mut bus);
                runs.pause_run(&mut run);
                let got = runs.translate(va(page), access, &ctx, &mut bus);
                runs.keep_run(&mut run, &ctx);
                assert_eq!(got.ok(), want.ok(), "op {n}: {op:?}");
            }
            Op::Remap { huge } => remap(&mut bus, huge),
            Op::Pmp { deny } => {
                deny_page(&mut each, DRAM_BASE + 0x3000, deny);
                runs.pause_run(&mut run);
                deny_page(&mut runs, DRAM_BASE + 0x3000, deny);
                runs.keep_run(&mut run, &ctx);
            }
            Op::Fence { page } => {
                each.sfence_vma(page.map(va), None);
                runs.pause_run(&mut run);
                runs.sfence_vma(page.map(va), None);
                runs.keep_run(&mut run, &ctx);
            }
        }
    }
    runs.settle_run(&mut run);
    assert_eq!(runs.stats, each.stats);
    assert_eq!(state(&runs), state(&each), "TLB state");
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..32usize, any::<bool>()).prop_map(|(page, store)| Op::Access { page, store }),
        2 => (0..32usize, any::<u8>()).prop_map(|(page, access)| Op::Other { page, access }),
        1 => any::<bool>().prop_map(|huge| Op::Remap { huge }),
        1 => proptest::option::of(0..32usize).prop_map(|page| Op::Fence { page }),
        1 => any::<bool>().prop_map(|deny| Op::Pmp { deny }),
    ]
}

fn l1d() -> impl Strategy<Value = TlbLevelConfig> {
    prop_oneof![
        Just(TlbLevelConfig {
            entries: 2,
            ways: 2
        }),
        Just(TlbLevelConfig {
            entries: 4,
            ways: 4
        }),
        Just(TlbLevelConfig {
            entries: 8,
            ways: 2
        }),
        Just(TlbLevelConfig {
            entries: 32,
            ways: 32
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn runs_account_as_each_access_would(l1d in l1d(), ops in proptest::collection::vec(op(), 1..300)) {
        check(l1d, &ops);
    }
}

/// Two pages of one superpage on different slots: page 1's first match is a 4K entry
/// left under the superpage by a remap without a fence, page 2's the superpage's entry,
/// which covers page 1 too. The run must not hold both: an access to page 1 right after
/// one to page 2 finds the superpage's slot as the last hit and stays there.
#[test]
fn pages_whose_slots_overlap_stay_exact() {
    let full = TlbLevelConfig {
        entries: 8,
        ways: 8,
    };
    let a = |page| Op::Access { page, store: false };
    // Each page is remembered by the counted cache after a hit (not after a fill); page
    // 16 (the other superpage) moves the last hit away, so that pages 1 and 2 are each
    // remembered on their own first match.
    let remap = Op::Remap { huge: true };
    let ops = [
        a(16),
        a(1),
        remap,
        a(2),
        a(2),
        a(16),
        a(1),
        a(2),
        a(1),
        a(2),
    ];
    check(full, &ops);
}

/// A fetch translated by the full path, a replay of a page's last translation, or the
/// same remaps and fences as above.
#[derive(Debug, Clone)]
enum FetchOp {
    Full { page: usize },
    Replay { page: usize },
    Remap { huge: bool },
    Fence { page: Option<usize> },
}

fn fetch_op() -> impl Strategy<Value = FetchOp> {
    prop_oneof![
        4 => (0..32usize).prop_map(|page| FetchOp::Full { page }),
        8 => (0..32usize).prop_map(|page| FetchOp::Replay { page }),
        1 => any::<bool>().prop_map(|huge| FetchOp::Remap { huge }),
        1 => proptest::option::of(0..32usize).prop_map(|page| FetchOp::Fence { page }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// `Mmu::would_replay_fetch`, which lets the hart open a fetch batch after a fetch
    /// the full path made, answers what `Mmu::replay_fetch` then does, also with 4K
    /// and superpage entries matching one address in the L1I.
    #[test]
    fn would_replay_fetch_answers_as_replay_fetch(
        l1i in l1d(),
        ops in proptest::collection::vec(fetch_op(), 1..300),
    ) {
        let (mut bus, ctx, mut config) = machine(l1i);
        config.tlb.l1i = l1i;
        let mut mmu = new_mmu(&config);
        let mut page_of = [None; 32];
        for (n, op) in ops.iter().enumerate() {
            match *op {
                FetchOp::Full { page } => {
                    let pa = mmu.translate(va(page), AccessType::Fetch, &ctx, &mut bus);
                    page_of[page] = pa.ok().map(|pa| pa & !0xfff);
                }
                FetchOp::Replay { page } => {
                    if let Some(pa) = page_of[page] {
                        let would = mmu.would_replay_fetch(va(page), &ctx, pa);
                        let did = mmu.replay_fetch(va(page), &ctx, pa);
                        prop_assert_eq!(would, did, "op {}: {:?}", n, op);
                    }
                }
                FetchOp::Remap { huge } => remap(&mut bus, huge),
                FetchOp::Fence { page } => mmu.sfence_vma(page.map(va), None),
            }
        }
    }
}

/// What the counted cache must follow: accesses of each type, remaps without a fence,
/// the second superpage made global or not (a global and a non-global entry matching
/// one address), fences, satp writes between two address spaces, and PMP writes
/// (without a fence) that take page 16's physical page away from S-mode or give it back.
#[derive(Debug, Clone)]
enum ModelOp {
    Access { page: usize, access: u8 },
    Remap { huge: bool },
    Global { on: bool },
    Fence { page: Option<usize> },
    Asid { asid: u64 },
    Pmp { deny: bool },
}

/// PMP entry 1 over the physical page at `pa`: no access for S-mode when `deny`, else
/// off.
fn deny_page(mmu: &mut Mmu, pa: u64, deny: bool) {
    mmu.pmp.write_addr(1, pa >> 2 | 0x1ff);
    let cfg = if deny { 0x18 } else { 0 };
    mmu.pmp.write_cfg(0, (cfg << 8) | 0x18 | 1);
    mmu.pmp_changed();
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        12 => (0..32usize, any::<u8>()).prop_map(|(page, access)| ModelOp::Access { page, access }),
        1 => any::<bool>().prop_map(|huge| ModelOp::Remap { huge }),
        1 => any::<bool>().prop_map(|on| ModelOp::Global { on }),
        1 => proptest::option::of(0..32usize).prop_map(|page| ModelOp::Fence { page }),
        1 => (1..3u64).prop_map(|asid| ModelOp::Asid { asid }),
        1 => any::<bool>().prop_map(|deny| ModelOp::Pmp { deny }),
    ]
}

/// The counted cache (an MMU with only counters observing) against the full path on
/// every access (the same MMU without its caches): the same translations, counters and
/// TLB state, LRU stamps included.
fn check_model(l1: TlbLevelConfig, ops: &[ModelOp]) {
    let (mut bus, mut ctx, mut config) = machine(l1);
    config.tlb.l1i = l1;
    let mut counted = new_mmu(&config);
    config.fast_path = false;
    let mut full = new_mmu(&config);
    for (n, op) in ops.iter().enumerate() {
        match *op {
            ModelOp::Access { page, access } => {
                let access = access_type(access);
                let want = full.translate(va(page), access, &ctx, &mut bus);
                let got = counted.translate(va(page), access, &ctx, &mut bus);
                assert_eq!(got.ok(), want.ok(), "op {n}: {op:?}");
            }
            ModelOp::Remap { huge } => remap(&mut bus, huge),
            ModelOp::Global { on } => {
                let g = if on { 1 << 5 } else { 0 };
                let second = pte(DRAM_BASE + 0x20_0000, FLAGS | g);
                bus.write(MIDDLE + 8, 8, second).unwrap();
            }
            ModelOp::Fence { page } => {
                full.sfence_vma(page.map(va), None);
                counted.sfence_vma(page.map(va), None);
            }
            ModelOp::Asid { asid } => ctx.satp = 8 << 60 | asid << 44 | ROOT >> 12,
            ModelOp::Pmp { deny } => {
                deny_page(&mut full, DRAM_BASE + 0x20_0000, deny);
                deny_page(&mut counted, DRAM_BASE + 0x20_0000, deny);
            }
        }
    }
    assert_eq!(counted.stats, full.stats);
    assert_eq!(state(&counted), state(&full), "TLB state");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The counted cache keeps an entry across fences and fills that leave its L1 slot
    /// alone, so this is where a fill that puts a second match before it must be seen.
    #[test]
    fn counted_cache_translates_as_the_full_path(
        l1 in l1d(),
        ops in proptest::collection::vec(model_op(), 1..300),
    ) {
        check_model(l1, &ops);
    }
}

/// A fetch from a page, or a remap without a fence, or a fence.
#[derive(Debug, Clone)]
enum RunFetchOp {
    Fetch { page: usize },
    Remap { huge: bool },
    Fence { page: Option<usize> },
}

fn run_fetch_op() -> impl Strategy<Value = RunFetchOp> {
    prop_oneof![
        12 => (0..32usize).prop_map(|page| RunFetchOp::Fetch { page }),
        1 => any::<bool>().prop_map(|huge| RunFetchOp::Remap { huge }),
        1 => proptest::option::of(0..32usize).prop_map(|page| RunFetchOp::Fence { page }),
    ]
}

/// Fetches as the hart makes them in a counted run with compiled code, against each
/// fetch translated in turn: a page change goes on in the fetch run when the word the
/// page's jump-cache entry got ([`Mmu::fetch_word`], made when the hart last replayed
/// a fetch there) names a slot whose version the run holds, as a counted exit does;
/// otherwise the run is settled and the host replays the fetch (or translates it),
/// opening a batch. Fences settle the run first; remaps without a fence do not.
fn check_fetch_run(l1i: TlbLevelConfig, ops: &[RunFetchOp]) {
    let (mut bus, ctx, mut config) = machine(l1i);
    config.tlb.l1i = l1i;
    let (mut each, mut runs) = (new_mmu(&config), new_mmu(&config));
    let mut run = FetchRun::new();
    // The open batch's page address, and the page of the fetch before.
    let mut batch: Option<u64> = None;
    let mut last_page = None;
    let mut words = [None; 32];
    let mut left = 1u64 << 40;
    for (n, op) in ops.iter().enumerate() {
        match *op {
            RunFetchOp::Fetch { page } => {
                let va = va(page);
                let Ok(pa) = each.translate(va, AccessType::Fetch, &ctx, &mut bus) else {
                    if let Some(at) = batch.take() {
                        runs.settle_fetch_run(&mut run, at, &ctx, left);
                    }
                    let got = runs.translate(va, AccessType::Fetch, &ctx, &mut bus);
                    assert!(got.is_err(), "op {n}: {op:?}");
                    last_page = None;
                    continue;
                };
                let page_pa = pa & !0xfff;
                left -= 1;
                if let Some(at) = batch {
                    if last_page == Some(page) {
                        continue;
                    }
                    if words[page].is_some_and(|w| run.go_on(w, left + 1, va)) {
                        last_page = Some(page);
                        continue;
                    }
                    runs.settle_fetch_run(&mut run, at, &ctx, left + 1);
                    batch = None;
                }
                last_page = None;
                if !runs.replay_fetch(va, &ctx, page_pa) {
                    let got = runs.translate(va, AccessType::Fetch, &ctx, &mut bus);
                    assert_eq!(got.ok(), Some(pa), "op {n}: {op:?}");
                    if !runs.would_replay_fetch(va, &ctx, page_pa) {
                        continue;
                    }
                }
                runs.sync_fetch_run(&mut run);
                run.open(left);
                batch = Some(va & !0xfff);
                last_page = Some(page);
                words[page] = Some(runs.fetch_word(va, &ctx, page_pa));
            }
            RunFetchOp::Remap { huge } => remap(&mut bus, huge),
            RunFetchOp::Fence { page } => {
                if let Some(at) = batch.take() {
                    runs.settle_fetch_run(&mut run, at, &ctx, left);
                }
                last_page = None;
                each.sfence_vma(page.map(va), None);
                runs.sfence_vma(page.map(va), None);
            }
        }
    }
    if let Some(at) = batch {
        runs.settle_fetch_run(&mut run, at, &ctx, left);
    }
    assert_eq!(runs.stats, each.stats);
    assert_eq!(state(&runs), state(&each), "TLB state");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn fetch_runs_account_as_each_fetch_would(
        l1i in l1d(),
        ops in proptest::collection::vec(run_fetch_op(), 1..300),
    ) {
        check_fetch_run(l1i, &ops);
    }
}

//! The TLB model through `Mmu::translate`: ASID isolation, global pages across satp
//! switches, the four sfence.vma forms, L1/L2 behaviour, the fast path, the stale-
//! translation detector and events.

mod mmu_support;

use emu::bus::DRAM_BASE;
use emu::mmu::{
    AccessType, EventKinds, MmuConfig, MmuEvent, Pte, SatpMode, TlbConfig, TlbEventKind, TlbLevel,
    WalkFault,
};
use mmu_support::*;

use AccessType::{Fetch, Load, Store};

const MODE: SatpMode = SatpMode::Sv48;
const PA1: u64 = DRAM_BASE + 0x10_0000;
const PA2: u64 = DRAM_BASE + 0x20_0000;
const PA3: u64 = DRAM_BASE + 0x30_0000;

/// Two address spaces (ASID 1 and 2) mapping the same VAs differently, plus a global
/// kernel page mapped only in space 1.
struct TwoSpaces {
    env: Env,
    satp1: u64,
    satp2: u64,
    pte1: u64,
    pte2: u64,
    global_pte: u64,
}

const VA: u64 = 0x1000;
const KVA: u64 = 0x7fff_ffe0_0000;

fn two_spaces(config: MmuConfig) -> TwoSpaces {
    let mut env = Env::new(config);
    let root1 = env.alloc_table();
    let root2 = env.alloc_table();
    let pte1 = env.map_page(MODE, root1, VA, PA1, 0, RW_AD | U);
    let pte2 = env.map_page(MODE, root2, VA, PA2, 0, RW_AD | U);
    let global_pte = env.map_page(MODE, root1, KVA, PA3, 0, RW_AD | G);
    TwoSpaces {
        env,
        satp1: satp(MODE, 1, root1),
        satp2: satp(MODE, 2, root2),
        pte1,
        pte2,
        global_pte,
    }
}

fn observed() -> MmuConfig {
    MmuConfig {
        stats: true,
        ..MmuConfig::default()
    }
}

#[test]
fn asids_isolate_and_global_pages_survive_satp_switches() {
    for config in [observed(), MmuConfig::default()] {
        let mut t = two_spaces(config);
        let (c1, c2) = (ctx(t.satp1, PRIV_U), ctx(t.satp2, PRIV_U));
        assert_eq!(t.env.tr(VA, Load, &c1), Ok(PA1));
        assert_eq!(t.env.tr(KVA, Load, &ctx(t.satp1, PRIV_S)), Ok(PA3));
        t.env.mmu.satp_written(t.satp1, t.satp2);
        assert_eq!(
            t.env.tr(VA, Load, &c2),
            Ok(PA2),
            "ASID 2 must not see ASID 1's entry"
        );
        // Space 2 does not map KVA at all, but the global entry from space 1 is cached
        // and global entries match every ASID.
        assert_eq!(t.env.tr(KVA, Load, &ctx(t.satp2, PRIV_S)), Ok(PA3));
        t.env.mmu.satp_written(t.satp2, t.satp1);
        assert_eq!(t.env.tr(VA, Load, &c1), Ok(PA1));
        assert_eq!(t.env.mmu.stats.satp_writes, 2);
        // After a full fence the global page is gone in space 2.
        t.env.mmu.sfence_vma(None, None);
        assert_eq!(t.env.tr(KVA, Load, &ctx(t.satp2, PRIV_S)), Err((13, KVA)));
    }
}

#[test]
fn satp_write_flushes_nothing() {
    let mut t = two_spaces(observed());
    let c1 = ctx(t.satp1, PRIV_U);
    assert_eq!(t.env.tr(VA, Load, &c1), Ok(PA1));
    // Re-use ASID 1 for a new root without a fence: the old entry may (and in our model
    // does) still answer.
    let root3 = t.env.alloc_table();
    t.env.map_page(MODE, root3, VA, PA2, 0, RW_AD | U);
    let satp3 = satp(MODE, 1, root3);
    t.env.mmu.satp_written(t.satp1, satp3);
    assert_eq!(t.env.tr(VA, Load, &ctx(satp3, PRIV_U)), Ok(PA1));
    t.env.mmu.sfence_vma(None, Some(1));
    assert_eq!(t.env.tr(VA, Load, &ctx(satp3, PRIV_U)), Ok(PA2));
}

/// Change both spaces' PTEs and the global PTE behind the TLB's back, then apply one
/// fence form and see exactly which translations were refreshed.
fn after_fence(vaddr: Option<u64>, asid: Option<u16>, config: MmuConfig) -> [u64; 4] {
    let mut t = two_spaces(config);
    let c1 = ctx(t.satp1, PRIV_U);
    let c2 = ctx(t.satp2, PRIV_U);
    let k1 = ctx(t.satp1, PRIV_S);
    let other = 0x2000;
    let other_pte = t
        .env
        .map_page(MODE, t.env.mmu_root(t.satp1), other, PA1, 0, RW_AD | U);
    for (va, c) in [(VA, &c1), (VA, &c2), (KVA, &k1), (other, &c1)] {
        t.env.tr(va, Load, c).unwrap();
    }
    let moved = |pa: u64| pa + 0x1000;
    for (pte_addr, pa) in [(t.pte1, PA1), (t.pte2, PA2), (other_pte, PA1)] {
        let flags = t.env.read_pte(pte_addr).flags().0;
        t.env.write_pte(pte_addr, Pte::new(moved(pa) >> 12, flags));
    }
    let g = t.env.read_pte(t.global_pte).flags().0;
    t.env.write_pte(t.global_pte, Pte::new(moved(PA3) >> 12, g));
    t.env.mmu.sfence_vma(vaddr, asid);
    [
        t.env.tr(VA, Load, &c1).unwrap(),
        t.env.tr(VA, Load, &c2).unwrap(),
        t.env.tr(KVA, Load, &k1).unwrap(),
        t.env.tr(other, Load, &c1).unwrap(),
    ]
}

impl Env {
    fn mmu_root(&self, satp: u64) -> u64 {
        emu::mmu::satp_root(satp)
    }
}

#[test]
fn sfence_vma_four_forms() {
    let old = [PA1, PA2, PA3, PA1];
    let new = [PA1 + 0x1000, PA2 + 0x1000, PA3 + 0x1000, PA1 + 0x1000];
    for config in [observed(), MmuConfig::default()] {
        // sfence.vma x0, x0: everything.
        assert_eq!(after_fence(None, None, config.clone()), new);
        // sfence.vma va, x0: that page in every ASID; global too; other pages kept.
        assert_eq!(
            after_fence(Some(VA + 0x123), None, config.clone()),
            [new[0], new[1], old[2], old[3]]
        );
        assert_eq!(
            after_fence(Some(KVA), None, config.clone()),
            [old[0], old[1], new[2], old[3]]
        );
        // sfence.vma x0, asid: non-global entries of that ASID.
        assert_eq!(
            after_fence(None, Some(1), config.clone()),
            [new[0], old[1], old[2], new[3]]
        );
        // sfence.vma va, asid: non-global entries of that ASID for va; globals kept.
        assert_eq!(
            after_fence(Some(VA), Some(2), config.clone()),
            [old[0], new[1], old[2], old[3]]
        );
        assert_eq!(
            after_fence(Some(KVA), Some(1), config.clone()),
            [old[0], old[1], old[2], old[3]]
        );
    }
}

#[test]
fn sfence_counters_by_form() {
    let mut env = Env::new(observed());
    env.mmu.sfence_vma(None, None);
    env.mmu.sfence_vma(Some(0x1000), None);
    env.mmu.sfence_vma(Some(0x1000), None);
    env.mmu.sfence_vma(None, Some(3));
    env.mmu.sfence_vma(Some(0), Some(0));
    let s = &env.mmu.stats;
    assert_eq!(
        (
            s.sfence_all,
            s.sfence_addr,
            s.sfence_asid,
            s.sfence_addr_asid
        ),
        (1, 2, 1, 1)
    );
}

#[test]
fn l1_miss_l2_hit_and_separate_i_d() {
    let config = MmuConfig {
        stats: true,
        tlb: "l1i=2:full,l1d=2:full,l2=64:4".parse().unwrap(),
        ..MmuConfig::default()
    };
    let mut env = Env::new(config);
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 0, root), PRIV_S);
    for i in 0..4 {
        env.map_page(MODE, root, i << 12, PA1 + (i << 12), 0, RWX_AD);
    }
    for i in 0..4 {
        env.tr(i << 12, Load, &c).unwrap();
    }
    let s = env.mmu.stats.clone();
    assert_eq!((s.l1d.accesses, s.l1d.misses, s.l1d.evictions), (4, 4, 2));
    assert_eq!((s.l2.accesses, s.l2.misses), (4, 4));
    assert_eq!(s.walks(), 4);
    // Page 0 was evicted from the 2-entry L1D but is still in L2.
    env.tr(0, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.l2.hits, 1);
    assert_eq!(env.mmu.stats.walks(), 4);
    // Fetches use the L1I: a miss there, a hit in L2.
    env.tr(0x1000, Fetch, &c).unwrap();
    assert_eq!(env.mmu.stats.l1i.misses, 1);
    assert_eq!(env.mmu.stats.l2.hits, 2);
    assert_eq!(env.mmu.tlb_entries(TlbLevel::L1I).len(), 1);
    assert_eq!(env.mmu.stats.walks(), 4);
}

#[test]
fn tlb_off_walks_every_time_when_observed() {
    let config = MmuConfig {
        stats: true,
        tlb: TlbConfig::off(),
        ..MmuConfig::default()
    };
    let mut env = Env::new(config);
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 0, root), PRIV_S);
    env.map_page(MODE, root, 0x1000, PA1, 0, RW_AD);
    for _ in 0..3 {
        assert_eq!(env.tr(0x1000, Store, &c), Ok(PA1));
    }
    assert_eq!(env.mmu.stats.walks(), 3);
    assert_eq!(env.mmu.stats.pte_reads, 12);
}

#[test]
fn fast_path_is_invalidated_by_sfence_and_pmp() {
    let mut env = Env::new(MmuConfig::default());
    assert!(!env.mmu.observed());
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 0, root), PRIV_S);
    let pte = env.map_page(MODE, root, 0x1000, PA1, 0, RW_AD);
    assert_eq!(env.tr(0x1000, Load, &c), Ok(PA1));
    env.write_pte(pte, Pte::new(PA2 >> 12, RW_AD));
    assert_eq!(
        env.tr(0x1000, Load, &c),
        Ok(PA1),
        "no fence yet: old translation"
    );
    let g = env.mmu.generation();
    env.mmu.sfence_vma(Some(0x1000), None);
    assert!(env.mmu.generation() > g);
    assert_eq!(env.tr(0x1000, Load, &c), Ok(PA2));
    // A PMP change that denies the page must be seen at once.
    env.mmu.pmp.write_addr(0, (PA2 >> 2) | 0x1ff);
    env.mmu.pmp.write_cfg(0, 0x18);
    env.mmu.pmp_changed();
    assert_eq!(env.tr(0x1000, Load, &c), Err((5, 0x1000)));
    // A different ctx (U-mode) must not hit an S-mode fast entry.
    assert_eq!(
        env.tr(0x1000, Load, &ctx(c.satp, PRIV_U)),
        Err((13, 0x1000))
    );
}

/// Walks made so far.
fn walks(env: &Env) -> u64 {
    env.mmu.stats.walks_by_mode.iter().sum()
}

/// A fast-path translation is taken up again after an sfence.vma while the PTEs its walk
/// read hold the same values (no walk after the fence), and only then: a changed leaf,
/// a changed non-leaf PTE, another context, another root or a PMP write each make the
/// next access walk.
#[test]
fn fast_path_rechecks_its_ptes_after_a_fence() {
    let mut env = Env::new(MmuConfig::default());
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 0, root), PRIV_S);
    let va = 0x40_1000;
    let leaf = env.map_page(MODE, root, va, PA1, 0, RW_AD | U);
    let u = ctx(c.satp, PRIV_U);
    assert_eq!(env.tr(va, Load, &u), Ok(PA1));
    assert_eq!(walks(&env), 1);
    for fence in [(None, None), (Some(va), None), (None, Some(0))] {
        env.mmu.sfence_vma(fence.0, fence.1);
        assert_eq!(env.tr(va, Load, &u), Ok(PA1), "{fence:?}");
        assert_eq!(walks(&env), 1, "{fence:?}: the PTEs held, no walk");
    }
    // The same page in S-mode without SUM was never translated: it faults.
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va, Load, &c), Err((13, va)));
    assert_eq!(env.tr(va, Load, &u), Ok(PA1));
    assert_eq!(walks(&env), 2, "only the faulting access walked");

    // The leaf changes: seen after the fence.
    env.write_pte(leaf, Pte::new(PA2 >> 12, RW_AD | U));
    assert_eq!(
        env.tr(va, Load, &u),
        Ok(PA1),
        "no fence yet: old translation"
    );
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va, Load, &u), Ok(PA2));
    let after_leaf = walks(&env);
    assert_eq!(after_leaf, 3);

    // A non-leaf PTE changes: its new table maps the page elsewhere.
    let level1 = env.walk_create(MODE, root, va, 1);
    let table = env.alloc_table();
    env.write_pte(
        table + ((va >> 12) & 0x1ff) * 8,
        Pte::new(PA3 >> 12, RW_AD | U),
    );
    env.write_pte(level1, Pte::new(table >> 12, V));
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va, Load, &u), Ok(PA3));
    assert_eq!(walks(&env), after_leaf + 1);

    // A satp write of the same value changes no walk; another root's walk is its own,
    // and so is one under another PMP state.
    env.mmu.satp_written(u.satp, u.satp);
    assert_eq!(env.tr(va, Load, &u), Ok(PA3));
    assert_eq!(walks(&env), after_leaf + 1);
    let root2 = env.alloc_table();
    env.map_page(MODE, root2, va, PA1, 0, RW_AD | U);
    let u2 = ctx(satp(MODE, 0, root2), PRIV_U);
    env.mmu.satp_written(u.satp, u2.satp);
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va, Load, &u2), Ok(PA1));
    assert_eq!(walks(&env), after_leaf + 2);
    allow_all_pmp(&mut env.mmu);
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va, Load, &u2), Ok(PA1));
    assert_eq!(walks(&env), after_leaf + 3);
}

/// The trail of a walk to a 2 MiB leaf serves the superpage's other pages after a fence,
/// each only where the PMP allows the whole page.
#[test]
fn a_superpage_walk_serves_its_other_pages_after_a_fence() {
    let mut env = Env::new(MmuConfig::default());
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 0, root), PRIV_S);
    let (va, pa) = (0x4020_0000, DRAM_BASE + 0x40_0000);
    env.map_page(MODE, root, va, pa, 1, RW_AD);
    assert_eq!(env.tr(va + 0x10, Load, &c), Ok(pa + 0x10));
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va + 0x5008, Load, &c), Ok(pa + 0x5008));
    assert_eq!(walks(&env), 1, "the other page came from the trail");
    // Deny one page of the superpage (entry 0 ahead of the allow-all entry 15).
    env.mmu.pmp.write_addr(0, ((pa + 0x7000) >> 2) | 0x1ff);
    env.mmu.pmp.write_cfg(0, 0x18);
    env.mmu.pmp_changed();
    assert_eq!(env.tr(va + 0x6000, Load, &c), Ok(pa + 0x6000));
    let walked = walks(&env);
    env.mmu.sfence_vma(None, None);
    assert_eq!(env.tr(va + 0x7000, Load, &c), Err((5, va + 0x7000)));
    assert_eq!(env.tr(va + 0x8000, Load, &c), Ok(pa + 0x8000));
    assert_eq!(walks(&env), walked + 1, "only the denied page walked");
}

#[test]
fn fast_path_does_not_serve_entries_of_an_old_satp() {
    let mut t = two_spaces(MmuConfig::default());
    let c1 = ctx(t.satp1, PRIV_U);
    let c2 = ctx(t.satp2, PRIV_U);
    assert_eq!(t.env.tr(VA, Store, &c1), Ok(PA1));
    assert_eq!(t.env.tr(VA, Store, &c2), Ok(PA2));
    assert_eq!(t.env.tr(VA, Store, &c1), Ok(PA1));
}

#[test]
fn stale_translation_detector() {
    let config = MmuConfig {
        check_tlb: true,
        ..MmuConfig::default()
    };
    let mut env = Env::new(config);
    assert!(env.mmu.observed());
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 4, root), PRIV_S);
    let pte = env.map_page(MODE, root, 0x5000, PA1, 0, RW_AD);
    env.tr(0x5000, Load, &c).unwrap();
    env.tr(0x5000, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.stale_translations, 0);
    assert_eq!(env.mmu.stats.check_walks, 1);
    assert_eq!(env.mmu.stats.walks(), 1, "check walks are counted apart");

    // The guest remaps the page and forgets the fence.
    env.write_pte(pte, Pte::new(PA2 >> 12, RW_AD));
    env.mmu.current_pc = 0xffff_ffff_8000_1234;
    assert_eq!(
        env.tr(0x5008, Load, &c),
        Ok(PA1 + 8),
        "the stale entry is still used"
    );
    env.tr(0x5010, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.stale_translations, 1);
    assert_eq!(env.mmu.stats.stale_hits, 2);
    let rec = env.mmu.stale_translations()[0].clone();
    assert_eq!(rec.va, 0x5008);
    assert_eq!(rec.pc, 0xffff_ffff_8000_1234);
    assert_eq!(rec.old_pte.ppn(), PA1 >> 12);
    assert_eq!(rec.new.unwrap().pte.ppn(), PA2 >> 12);
    assert!(rec.describe().contains("stale translation"));

    // Unmapping without a fence is reported too.
    env.write_pte(pte, Pte(0));
    env.tr(0x5000, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.stale_translations, 2);
    assert!(matches!(
        env.mmu.stale_translations()[1].new,
        Err(WalkFault::InvalidPte { level: 0 })
    ));

    // With the fence, nothing is stale.
    env.write_pte(pte, Pte::new(PA3 >> 12, RW_AD));
    env.mmu.sfence_vma(Some(0x5000), Some(4));
    assert_eq!(env.tr(0x5000, Load, &c), Ok(PA3));
    assert_eq!(env.tr(0x5000, Load, &c), Ok(PA3));
    assert_eq!(env.mmu.stats.stale_translations, 2);

    // Clearing A behind the TLB's back is not reported (Linux does it by design).
    env.write_pte(pte, Pte::new(PA3 >> 12, V | R | W | D));
    env.tr(0x5000, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.stale_translations, 2);
    // A permission downgrade without a fence: a load cannot see it (stale but
    // equivalent), a store can (reported).
    env.write_pte(pte, Pte::new(PA3 >> 12, V | R | A | D));
    env.tr(0x5000, Load, &c).unwrap();
    assert_eq!(env.mmu.stats.stale_translations, 2);
    assert_eq!(env.mmu.stats.stale_equivalent_hits, 1);
    assert_eq!(
        env.tr(0x5000, Store, &c),
        Ok(PA3),
        "the stale writable entry is still used"
    );
    assert_eq!(env.mmu.stats.stale_translations, 3);
}

#[test]
fn events_describe_walks_tlb_sfence_and_satp() {
    let mut env = Env::new(MmuConfig::default());
    env.mmu.record_events(Some(EventKinds {
        walks: true,
        tlb: true,
    }));
    assert!(env.mmu.observed());
    let root = env.alloc_table();
    let c = ctx(satp(MODE, 9, root), PRIV_S);
    env.map_page(MODE, root, 0x1000, PA1, 0, RW_AD);
    env.tr(0x1000, Load, &c).unwrap();
    env.tr(0x1000, Load, &c).unwrap();
    env.mmu.sfence_vma(None, Some(9));
    env.mmu.satp_written(0, c.satp);
    let mut ev = Vec::new();
    env.mmu.take_events(&mut ev);
    let walk = ev
        .iter()
        .find_map(|e| match e {
            MmuEvent::Walk { steps, result, .. } => Some((*steps, *result)),
            _ => None,
        })
        .unwrap();
    assert_eq!(walk.0.as_slice().len(), 4);
    assert_eq!(walk.0.as_slice()[0].pte_addr, root);
    assert_eq!(walk.1.unwrap().pte.ppn(), PA1 >> 12);
    let tlb_kinds: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            MmuEvent::Tlb { kind, level, .. } => Some((*kind, *level)),
            _ => None,
        })
        .collect();
    use TlbEventKind::*;
    assert_eq!(
        tlb_kinds,
        vec![
            (Miss, TlbLevel::L1D),
            (Miss, TlbLevel::L2),
            (Fill, TlbLevel::L1D),
            (Fill, TlbLevel::L2),
            (Hit, TlbLevel::L1D)
        ]
    );
    assert!(ev.contains(&MmuEvent::Sfence {
        vaddr: None,
        asid: Some(9)
    }));
    assert!(ev.iter().any(|e| matches!(
        e,
        MmuEvent::TlbFlush {
            level: TlbLevel::L2,
            removed: 1,
            ..
        }
    )));
    assert!(ev.contains(&MmuEvent::Satp {
        old: 0,
        new: c.satp
    }));
}

/// With stats on, the counters are a function of the access sequence alone.
#[test]
fn counters_are_deterministic() {
    let run = || {
        let mut t = two_spaces(observed());
        for i in 0..100u64 {
            let c = if i % 3 == 0 {
                ctx(t.satp1, PRIV_U)
            } else {
                ctx(t.satp2, PRIV_U)
            };
            let _ = t.env.tr(VA + (i % 7) * 8, Load, &c);
            let _ = t.env.tr(KVA, Store, &ctx(t.satp1, PRIV_S));
            if i % 10 == 0 {
                t.env.mmu.sfence_vma(None, Some(2));
            }
        }
        t.env.mmu.stats.clone()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.l1d.hits > 0 && a.walks() > 0);
}

/// G in a non-leaf PTE makes every mapping below it global (the spec's rule), so the
/// entry answers for other ASIDs and survives an ASID fence.
#[test]
fn global_non_leaf_makes_the_leaf_global() {
    let mut env = Env::new(observed());
    let root = env.alloc_table();
    let pte = env.map_page(MODE, root, KVA, PA3, 0, RW_AD);
    let l1 = env.walk_create(MODE, root, KVA, 1);
    let p = env.read_pte(l1);
    env.write_pte(l1, Pte(p.0 | G as u64));
    let k1 = ctx(satp(MODE, 1, root), PRIV_S);
    assert_eq!(env.tr(KVA, Load, &k1), Ok(PA3));
    assert!(env.mmu.tlb_entries(TlbLevel::L2)[0].global);
    env.write_pte(pte, Pte(0));
    env.mmu.sfence_vma(None, Some(1));
    let other_root = env.alloc_table();
    assert_eq!(
        env.tr(KVA, Load, &ctx(satp(MODE, 2, other_root), PRIV_S)),
        Ok(PA3)
    );
}

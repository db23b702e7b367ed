//! `Mmu::translate` on page tables built in RAM: leaf sizes, every fault class, SUM/MXR,
//! MPRV through the context, Svade/Svadu, PMP on the access and on PTE reads, satp WARL.

mod mmu_support;

use emu::bus::DRAM_BASE;
use emu::mmu::{AccessType, MmuConfig, Pte, SatpMode, TlbLevel, TranslateCtx};
use mmu_support::*;

use AccessType::{Fetch, Load, Store};

const MODES: [SatpMode; 3] = [SatpMode::Sv39, SatpMode::Sv48, SatpMode::Sv57];
const DATA: u64 = DRAM_BASE + 0x10_0000;

fn setup(mode: SatpMode) -> (Env, u64, u64) {
    let mut env = Env::observed(MmuConfig::default());
    let root = env.alloc_table();
    let satp = satp(mode, 1, root);
    (env, root, satp)
}

#[test]
fn every_leaf_size_in_every_mode() {
    for mode in MODES {
        for level in 0..levels(mode) {
            let (mut env, root, satp) = setup(mode);
            let shift = 12 + 9 * level as u32;
            // A superpage needs an aligned physical address; pick one per size (PA need
            // not be RAM: translation does not touch the data).
            let pa = if level == 0 {
                DATA
            } else {
                1u64 << shift.max(31)
            };
            let va = 5u64 << shift;
            env.map_page(mode, root, va, pa, level, RW_AD);
            let offset = (1u64 << shift) - 8;
            let c = ctx(satp, PRIV_S);
            assert_eq!(
                env.tr(va + offset, Load, &c),
                Ok(pa + offset),
                "{mode:?} level {level}"
            );
            assert_eq!(
                env.tr(va + 16, Store, &c),
                Ok(pa + 16),
                "{mode:?} level {level}"
            );
            let depth = (levels(mode) - level) as usize;
            assert_eq!(
                env.mmu.stats.walks_by_depth[depth], 1,
                "{mode:?} level {level}"
            );
            let l2 = env.mmu.tlb_entries(TlbLevel::L2);
            assert_eq!(l2.len(), 1);
            assert_eq!(l2[0].level, level);
            assert_eq!(env.mmu.stats.l1d.hits, 1);
            assert_eq!(env.mmu.stats.l1d.hits_by_size[level as usize], 1);
        }
    }
}

#[test]
fn non_canonical_addresses_page_fault() {
    for mode in MODES {
        let (mut env, _root, satp) = setup(mode);
        let bits = 12 + 9 * levels(mode) as u32;
        let va = 1u64 << bits; // first bit above the VA width, top VA bit clear
        let c = ctx(satp, PRIV_S);
        assert_eq!(env.tr(va, Load, &c), Err((13, va)));
        assert_eq!(env.tr(va, Store, &c), Err((15, va)));
        assert_eq!(env.tr(va, Fetch, &c), Err((12, va)));
        assert_eq!(
            env.mmu.stats.walks(),
            0,
            "no walk for a non-canonical address"
        );
    }
}

/// One PTE value per fault class; every one must be a page fault with tval = va.
#[test]
fn malformed_ptes_page_fault() {
    let va = 0x4000_1000;
    for mode in MODES {
        let cases: Vec<(&str, u8, u64)> = vec![
            ("V=0", 0, Pte::new(DATA >> 12, R | W | A | D).0),
            ("W without R", 0, Pte::new(DATA >> 12, V | W | A | D).0),
            (
                "W+X without R",
                0,
                Pte::new(DATA >> 12, V | W | X | A | D).0,
            ),
            ("bit 54", 0, Pte::new(DATA >> 12, RW_AD).0 | 1 << 54),
            ("PBMT", 0, Pte::new(DATA >> 12, RW_AD).0 | 1 << 61),
            ("N (napot)", 0, Pte::new(DATA >> 12, RW_AD).0 | 1 << 63),
            ("misaligned 2M", 1, Pte::new((DATA >> 12) + 1, RW_AD).0),
            ("misaligned 1G", 2, Pte::new((DATA >> 12) + 0x200, RW_AD).0),
        ];
        for (name, level, pte) in cases {
            let (mut env, root, satp) = setup(mode);
            let pte_addr = env.walk_create(mode, root, va, level);
            env.write_pte(pte_addr, Pte(pte));
            let c = ctx(satp, PRIV_S);
            assert_eq!(env.tr(va, Load, &c), Err((13, va)), "{mode:?} {name}");
            assert_eq!(env.tr(va, Store, &c), Err((15, va)), "{mode:?} {name}");
        }
    }
}

#[test]
fn non_leaf_with_a_d_or_u_and_missing_leaf_page_fault() {
    let va = 0x4000_1000;
    for mode in MODES {
        for bad in [A, D, U] {
            let (mut env, root, satp) = setup(mode);
            env.map_page(mode, root, va, DATA, 0, RW_AD);
            // Corrupt the level-1 (non-leaf) PTE.
            let l1 = env.walk_create(mode, root, va, 1);
            let p = env.read_pte(l1);
            env.write_pte(l1, Pte(p.0 | bad as u64));
            assert_eq!(
                env.tr(va, Load, &ctx(satp, PRIV_S)),
                Err((13, va)),
                "{mode:?} {bad:#x}"
            );
        }
        // A level-0 PTE that is valid but not a leaf.
        let (mut env, root, satp) = setup(mode);
        let l0 = env.walk_create(mode, root, va, 0);
        let table = env.alloc_table();
        env.write_pte(l0, Pte::new(table >> 12, V));
        assert_eq!(env.tr(va, Fetch, &ctx(satp, PRIV_S)), Err((12, va)));
        assert_eq!(env.mmu.stats.walks_by_depth[levels(mode) as usize], 1);
    }
}

#[test]
fn u_bit_sum_and_mxr() {
    let mode = SatpMode::Sv39;
    let (mut env, root, satp) = setup(mode);
    let user = 0x1000;
    let kernel = 0x2000;
    let xonly = 0x3000;
    let user_x = 0x4000;
    env.map_page(mode, root, user, DATA, 0, RW_AD | U);
    env.map_page(mode, root, kernel, DATA + 0x1000, 0, RWX_AD);
    env.map_page(mode, root, xonly, DATA + 0x2000, 0, V | X | A);
    env.map_page(mode, root, user_x, DATA + 0x3000, 0, V | X | R | A | U);
    let s = ctx(satp, PRIV_S);
    let s_sum = TranslateCtx { sum: true, ..s };
    let u = ctx(satp, PRIV_U);
    // S-mode loads/stores to U pages need SUM.
    assert_eq!(env.tr(user, Load, &s), Err((13, user)));
    assert_eq!(env.tr(user, Store, &s), Err((15, user)));
    assert_eq!(env.tr(user, Load, &s_sum), Ok(DATA));
    assert_eq!(env.tr(user, Store, &s_sum), Ok(DATA));
    // S-mode never executes U pages, SUM or not.
    assert_eq!(env.tr(user_x, Fetch, &s), Err((12, user_x)));
    assert_eq!(env.tr(user_x, Fetch, &s_sum), Err((12, user_x)));
    // U-mode never touches non-U pages, and uses U pages normally.
    assert_eq!(env.tr(kernel, Load, &u), Err((13, kernel)));
    assert_eq!(env.tr(kernel, Fetch, &u), Err((12, kernel)));
    assert_eq!(env.tr(user, Store, &u), Ok(DATA));
    assert_eq!(env.tr(user_x, Fetch, &u), Ok(DATA + 0x3000));
    // MXR: loads from execute-only pages.
    assert_eq!(env.tr(xonly, Load, &s), Err((13, xonly)));
    let mxr = TranslateCtx { mxr: true, ..s };
    assert_eq!(env.tr(xonly, Load, &mxr), Ok(DATA + 0x2000));
    assert_eq!(env.tr(xonly, Store, &mxr), Err((15, xonly)));
    // Rights: no store to R/X pages, no fetch from non-X.
    assert_eq!(env.tr(user_x, Store, &u), Err((15, user_x)));
    assert_eq!(env.tr(user, Fetch, &u), Err((12, user)));
    // The hits above re-checked permissions: the same entries answered differently per
    // ctx. Nothing here may have been cached as a decision.
    assert!(env.mmu.stats.l1d.hits > 0);
}

/// The hart passes the effective privilege: M-mode with MPRV=1 and MPP=S arrives as S.
#[test]
fn mprv_is_the_effective_privilege_in_the_ctx() {
    let mode = SatpMode::Sv48;
    let (mut env, root, satp) = setup(mode);
    let va = 0x7fff_0000_1000u64;
    env.map_page(mode, root, va, DATA, 0, RW_AD);
    // Plain M-mode: no translation at all.
    assert_eq!(env.tr(va, Load, &ctx(satp, PRIV_M)), Ok(va));
    // MPRV with MPP=S: translated with S rights.
    assert_eq!(env.tr(va, Load, &ctx(satp, PRIV_S)), Ok(DATA));
    // MPRV with MPP=U: the page is not a U page.
    assert_eq!(env.tr(va, Load, &ctx(satp, PRIV_U)), Err((13, va)));
}

#[test]
fn svade_faults_on_clear_a_or_d() {
    let mode = SatpMode::Sv39;
    let (mut env, root, satp) = setup(mode);
    let c = ctx(satp, PRIV_S);
    env.map_page(mode, root, 0x1000, DATA, 0, V | R | W);
    env.map_page(mode, root, 0x2000, DATA, 0, V | R | W | A);
    assert_eq!(env.tr(0x1000, Load, &c), Err((13, 0x1000)));
    assert_eq!(env.tr(0x2000, Load, &c), Ok(DATA));
    // A store through the cached (D=0) entry must fault, not use it.
    assert_eq!(env.tr(0x2000, Store, &c), Err((15, 0x2000)));
    assert_eq!(env.mmu.stats.ad_updates, 0);
    let pte_addr = env.walk_create(mode, root, 0x2000, 0);
    assert_eq!(env.read_pte(pte_addr).0 & D as u64, 0);
}

#[test]
fn svadu_sets_a_and_d_in_memory() {
    let mode = SatpMode::Sv57;
    let mut env = Env::observed(MmuConfig {
        svadu: true,
        ..MmuConfig::default()
    });
    let root = env.alloc_table();
    let c = ctx(satp(mode, 3, root), PRIV_S);
    let pte_addr = env.map_page(mode, root, 0x1000, DATA, 0, V | R | W);
    assert_eq!(env.tr(0x1000, Load, &c), Ok(DATA));
    assert_eq!(env.read_pte(pte_addr).0 & (A | D) as u64, A as u64);
    // The store hits the TLB entry with D=0: it must walk again and set D.
    assert_eq!(env.tr(0x1008, Store, &c), Ok(DATA + 8));
    assert_eq!(env.read_pte(pte_addr).0 & (A | D) as u64, (A | D) as u64);
    assert_eq!(env.mmu.stats.ad_updates, 2);
    assert_eq!(env.mmu.stats.walks(), 2);
    // Now D=1 is cached: no further walk.
    assert_eq!(env.tr(0x1010, Store, &c), Ok(DATA + 16));
    assert_eq!(env.mmu.stats.walks(), 2);
    // A failing permission check does not set A.
    let ro = env.map_page(mode, root, 0x2000, DATA, 0, V | R);
    assert_eq!(env.tr(0x2000, Store, &c), Err((15, 0x2000)));
    assert_eq!(env.read_pte(ro).0 & A as u64, 0);
}

#[test]
fn pmp_checks_pte_reads_as_s_mode() {
    let mode = SatpMode::Sv39;
    let (mut env, root, satp) = setup(mode);
    env.map_page(mode, root, 0x1000, DATA, 0, RWX_AD);
    // Entry 0: the root table page, no permissions (NAPOT 4K).
    env.mmu.pmp.write_addr(0, (root >> 2) | 0x1ff);
    env.mmu.pmp.write_cfg(0, 0x18);
    env.mmu.pmp_changed();
    for (access, cause) in [(Load, 5), (Store, 7), (Fetch, 1)] {
        assert_eq!(
            env.tr(0x1000, access, &ctx(satp, PRIV_S)),
            Err((cause, 0x1000))
        );
        // Under MPRV (effective S) the walk is denied the same way...
        // ...while M-mode with paging off never reads a PTE.
        assert_eq!(env.tr(0x1000, access, &ctx(satp, PRIV_M)), Ok(0x1000));
    }
    assert_eq!(env.mmu.stats.pte_access_faults, [1, 1, 1]);
    // Allow reads again: the walk succeeds.
    env.mmu.pmp.write_cfg(0, 0x18 | 1);
    env.mmu.pmp_changed();
    assert_eq!(env.tr(0x1000, Load, &ctx(satp, PRIV_S)), Ok(DATA));
}

#[test]
fn pmp_checks_the_translated_address() {
    let mode = SatpMode::Sv48;
    let (mut env, root, satp) = setup(mode);
    env.map_page(mode, root, 0x1000, DATA, 0, RWX_AD);
    // Entry 0: the data page read-only for S/U.
    env.mmu.pmp.write_addr(0, (DATA >> 2) | 0x1ff);
    env.mmu.pmp.write_cfg(0, 0x18 | 1);
    env.mmu.pmp_changed();
    let c = ctx(satp, PRIV_S);
    assert_eq!(env.tr(0x1000, Load, &c), Ok(DATA));
    assert_eq!(env.tr(0x1000, Store, &c), Err((7, 0x1000)));
    assert_eq!(env.tr(0x1000, Fetch, &c), Err((1, 0x1000)));
    assert_eq!(env.mmu.stats.pmp_faults, [1, 0, 1]);
    // Bare mode in S: PMP alone.
    assert_eq!(env.tr(DATA, Store, &ctx(0, PRIV_S)), Err((7, DATA)));
    // M-mode ignores unlocked entries, obeys locked ones.
    assert_eq!(env.tr(DATA, Store, &ctx(0, PRIV_M)), Ok(DATA));
    env.mmu.pmp.write_cfg(0, 0x80 | 0x18 | 1);
    env.mmu.pmp_changed();
    assert_eq!(env.tr(DATA, Store, &ctx(0, PRIV_M)), Err((7, DATA)));
}

#[test]
fn s_mode_without_pmp_entries_is_denied() {
    let mut env = Env::observed(MmuConfig::default());
    env.mmu.pmp.write_cfg(2, 0);
    env.mmu.pmp_changed();
    assert_eq!(env.tr(DATA, Load, &ctx(0, PRIV_S)), Err((5, DATA)));
    assert_eq!(env.tr(DATA, Load, &ctx(0, PRIV_M)), Ok(DATA));
}

#[test]
fn satp_warl() {
    let mmu39 = emu::mmu::Mmu::new(MmuConfig {
        max_mode: SatpMode::Sv39,
        ..MmuConfig::default()
    });
    let old = satp(SatpMode::Sv39, 7, 0x8010_0000);
    // Unsupported (higher) modes and reserved modes leave satp entirely unchanged.
    for mode in [9u64, 10, 1, 7, 11, 15] {
        let v = mode << 60 | 0xffff << 44 | 0x1234;
        assert_eq!(mmu39.satp_write(old, v), old, "mode {mode}");
    }
    // ASID: 16 bits, all ones reads back 0xffff; PPN: 44 bits.
    let all = 8u64 << 60 | 0xffff << 44 | ((1 << 44) - 1);
    let got = mmu39.satp_write(old, all);
    assert_eq!(emu::mmu::satp_asid(got), 0xffff);
    assert_eq!(got & ((1 << 44) - 1), (1 << 44) - 1);
    assert_eq!(mmu39.satp_write(old, 0), 0);
    let mmu57 = emu::mmu::Mmu::new(MmuConfig::default());
    assert_eq!(mmu57.satp_write(old, 10 << 60), 10 << 60);
    assert_eq!(mmu57.satp_write(old, 9 << 60), 9 << 60);
}

#[test]
fn non_ram_pte_address_is_an_access_fault() {
    let mode = SatpMode::Sv39;
    let mut env = Env::observed(MmuConfig::default());
    // Root table "at" 0x4000_0000: nothing on the bus answers there.
    let satp = satp(mode, 0, 0x4000_0000);
    assert_eq!(env.tr(0x1000, Load, &ctx(satp, PRIV_S)), Err((5, 0x1000)));
    assert_eq!(env.tr(0x1000, Fetch, &ctx(satp, PRIV_U)), Err((1, 0x1000)));
}

/// A guest may point satp at garbage; the walk must end (never loop) and fault.
#[test]
fn self_referencing_tables_terminate() {
    for mode in MODES {
        let (mut env, root, satp) = setup(mode);
        for i in 0..512 {
            env.write_pte(root + i * 8, Pte::new(root >> 12, V));
        }
        assert_eq!(env.tr(0x1000, Load, &ctx(satp, PRIV_S)), Err((13, 0x1000)));
        assert_eq!(env.mmu.stats.pte_reads, levels(mode) as u64);
    }
}

/// Addresses at the very top of the 64-bit space, in every mode and privilege, must
/// fault cleanly (no arithmetic overflow anywhere).
#[test]
fn top_of_address_space_faults_cleanly() {
    for mode in [
        SatpMode::Bare,
        SatpMode::Sv39,
        SatpMode::Sv48,
        SatpMode::Sv57,
    ] {
        let mut env = Env::observed(MmuConfig::default());
        let root = env.alloc_table();
        let satp = if mode == SatpMode::Bare {
            0
        } else {
            satp(mode, 0, root)
        };
        for va in [u64::MAX, u64::MAX - 7, 0xffff_ffff_ffff_f000, 1 << 63] {
            for p in [PRIV_U, PRIV_S, PRIV_M] {
                for access in [Fetch, Load, Store] {
                    let r = env.tr(va, access, &ctx(satp, p));
                    assert!(r.is_err(), "{mode:?} {va:#x} priv {p}: {r:?}");
                }
            }
        }
    }
}

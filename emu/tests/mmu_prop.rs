//! Property test: on random page tables in all three paging modes, under random sequences
//! of PTE writes, sfence.vma forms and satp switches, every translation the MMU returns
//! (TLB model + fast path, any configuration) is one the spec allows.
//!
//! "Allowed" is computed by a deliberately simple reference written here from the
//! privileged spec's text, sharing no code with `emu::mmu`: the result of walking the
//! current page tables, or the result of using any translation that was valid at some
//! earlier access and that no sfence.vma since has covered (the spec lets a hart keep
//! using those until it fences).

mod mmu_support;

use emu::bus::{Bus, DRAM_BASE};
use emu::mmu::{AccessType, MmuConfig, SatpMode, TlbConfig, TranslateCtx};
use mmu_support::Env;
use proptest::prelude::*;

const RAM: u64 = 1 << 20;

// ---------------------------------------------------------------------------------------
// The reference: Sv39/Sv48/Sv57 translation transliterated from the spec, section
// "Virtual Address Translation Process", with PAGESIZE = 4096, PTESIZE = 8, and
// LEVELS = 3/4/5.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pa(u64),
    PageFault,
    AccessFault,
}

/// A translation some TLB could hold: the leaf PTE as written back, and where it maps.
#[derive(Debug, Clone, Copy)]
struct Cached {
    va: u64,
    pte_addr: u64,
    level: u32,
    asid: u64,
    global: bool,
    pte: u64,
}

impl Cached {
    fn maps(&self, va: u64) -> bool {
        let span = 12 + 9 * self.level;
        va >> span == self.va >> span
    }
}

fn bit(pte: u64, n: u32) -> bool {
    (pte >> n) & 1 == 1
}

/// Step 5 of the spec, for a leaf PTE.
fn ref_allowed(pte: u64, access: AccessType, privilege: u8, sum: bool, mxr: bool) -> bool {
    let (r, w, x, u) = (bit(pte, 1), bit(pte, 2), bit(pte, 3), bit(pte, 4));
    let readable = r || (mxr && x);
    let kind_ok = match access {
        AccessType::Load => readable,
        AccessType::Store => w,
        AccessType::Fetch => x,
    };
    let mode_ok = if privilege == 0 {
        u
    } else if u {
        // S-mode: U pages only for loads/stores with SUM, never for fetches.
        sum && access != AccessType::Fetch
    } else {
        true
    };
    kind_ok && mode_ok
}

/// PMP as the spec states it, for one byte: the lowest-numbered entry whose range holds
/// the byte decides; when none does, M-mode is allowed and S/U are not. (The tests lock
/// no entry, so M-mode is always allowed.) Ranges are `[lo, hi)` with R=1, W=2, X=4.
struct RefPmp {
    entries: Vec<(u64, u64, u8)>,
}

impl RefPmp {
    fn allows(&self, pa: u64, access: AccessType, privilege: u8) -> bool {
        if privilege == 3 {
            return true;
        }
        let need = match access {
            AccessType::Load => 1,
            AccessType::Store => 2,
            AccessType::Fetch => 4,
        };
        match self
            .entries
            .iter()
            .find(|(lo, hi, _)| *lo <= pa && pa < *hi)
        {
            Some((_, _, perms)) => perms & need != 0,
            None => false,
        }
    }

    /// The physical-address check every access ends with.
    fn check(&self, outcome: Outcome, access: AccessType, privilege: u8) -> Outcome {
        match outcome {
            Outcome::Pa(pa) if pa >> 56 != 0 || !self.allows(pa, access, privilege) => {
                Outcome::AccessFault
            }
            other => other,
        }
    }
}

struct RefWalk {
    outcome: Outcome,
    /// On success: the leaf as it would be cached (with A, and D for stores, set).
    leaf: Option<Cached>,
}

#[allow(clippy::too_many_arguments)]
fn ref_translate(
    bus: &mut Bus,
    pmp: &RefPmp,
    satp: u64,
    va: u64,
    access: AccessType,
    privilege: u8,
    sum: bool,
    mxr: bool,
    svadu: bool,
) -> RefWalk {
    let fail = |outcome| RefWalk {
        outcome,
        leaf: None,
    };
    let mode = satp >> 60;
    if privilege == 3 || mode == 0 {
        // Bare: pa = va (the physical address space is 56 bits wide).
        return RefWalk {
            outcome: pmp.check(Outcome::Pa(va), access, privilege),
            leaf: None,
        };
    }
    let levels: u32 = match mode {
        8 => 3,
        9 => 4,
        _ => 5,
    };
    // "Instruction fetch addresses and load and store effective addresses, which are
    // 64 bits, must have bits 63-VABITS all equal to bit VABITS-1, or else a page-fault
    // exception will occur."
    let vabits = 12 + 9 * levels;
    let upper = va >> (vabits - 1);
    if upper != 0 && upper != u64::MAX >> (vabits - 1) {
        return fail(Outcome::PageFault);
    }
    let vpn = |i: u32| (va >> (12 + 9 * i)) & 0x1ff;
    // 1. Let a be satp.ppn x PAGESIZE, and let i = LEVELS - 1.
    let mut a = (satp & ((1 << 44) - 1)) * 4096;
    let mut i = levels - 1;
    let mut global = false;
    let (pte, pte_i, pte_addr) = loop {
        // 2. Let pte be the value of the PTE at address a + va.vpn[i] x PTESIZE. If
        // accessing pte violates a PMA or PMP check, raise an access-fault exception.
        // Implicit accesses to the page table are checked as S-mode loads.
        let pte_addr = a + vpn(i) * 8;
        if !pmp.allows(pte_addr, AccessType::Load, 1) {
            return fail(Outcome::AccessFault);
        }
        let pte = match bus.read(pte_addr, 8) {
            Ok(v) => v,
            Err(_) => return fail(Outcome::AccessFault),
        };
        // 3. If pte.v = 0, or if pte.r = 0 and pte.w = 1, or if any bits or encodings
        // that are reserved for future standard use are set within pte, stop and raise a
        // page-fault exception. (No Svnapot/Svpbmt: bits 63:54 are reserved.)
        if !bit(pte, 0) || (!bit(pte, 1) && bit(pte, 2)) || pte >> 54 != 0 {
            return fail(Outcome::PageFault);
        }
        global |= bit(pte, 5);
        // 4. Otherwise, the PTE is valid. If pte.r = 1 or pte.x = 1, go to step 5.
        // Otherwise, this PTE is a pointer to the next level of the page table. Let
        // i = i - 1. If i < 0, stop and raise a page-fault exception. Otherwise, let
        // a = pte.ppn x PAGESIZE and go to step 2. (For non-leaf PTEs, the D, A, and U
        // bits are reserved for future standard use.)
        if bit(pte, 1) || bit(pte, 3) {
            break (pte, i, pte_addr);
        }
        if bit(pte, 4) || bit(pte, 6) || bit(pte, 7) {
            return fail(Outcome::PageFault);
        }
        if i == 0 {
            return fail(Outcome::PageFault);
        }
        i -= 1;
        a = ((pte >> 10) & ((1 << 44) - 1)) * 4096;
    };
    // 5. A leaf PTE has been found. Determine if the requested memory access is allowed.
    if !ref_allowed(pte, access, privilege, sum, mxr) {
        return fail(Outcome::PageFault);
    }
    // 6. If i > 0 and pte.ppn[i-1:0] != 0, this is a misaligned superpage.
    let ppn = (pte >> 10) & ((1 << 44) - 1);
    if pte_i > 0 && ppn % (1 << (9 * pte_i)) != 0 {
        return fail(Outcome::PageFault);
    }
    // 7. If pte.a = 0, or if the memory access is a store and pte.d = 0: Svade raises a
    // page fault; Svadu sets the bits.
    let mut cached = pte | 1 << 6;
    if access == AccessType::Store {
        cached |= 1 << 7;
    }
    if cached != pte && !svadu {
        return fail(Outcome::PageFault);
    }
    // The A/D write is an implicit S-mode store, PMP-checked too.
    if cached != pte && !pmp.allows(pte_addr, AccessType::Store, 1) {
        return fail(Outcome::AccessFault);
    }
    // 8. pa.pgoff = va.pgoff; superpage: pa.ppn[i-1:0] = va.vpn[i-1:0];
    // pa.ppn[LEVELS-1:i] = pte.ppn[LEVELS-1:i].
    let mut pa_ppn = 0u64;
    for j in 0..levels {
        let segment = if j < pte_i {
            vpn(j)
        } else if j == levels - 1 {
            ppn >> (9 * j)
        } else {
            (ppn >> (9 * j)) & 0x1ff
        };
        pa_ppn |= segment << (9 * j);
    }
    RefWalk {
        outcome: pmp.check(Outcome::Pa(pa_ppn * 4096 + (va & 0xfff)), access, privilege),
        leaf: Some(Cached {
            va,
            pte_addr,
            level: pte_i,
            asid: (satp >> 44) & 0xffff,
            global,
            pte: cached,
        }),
    }
}

/// What using a cached translation gives for this access now (None: the hardware must
/// walk again, which the current walk's outcome already covers).
fn use_cached(
    c: &Cached,
    va: u64,
    access: AccessType,
    t: &TranslateCtx,
    svadu: bool,
) -> Option<Outcome> {
    if !ref_allowed(c.pte, access, t.privilege, t.sum, t.mxr) {
        return Some(Outcome::PageFault);
    }
    if access == AccessType::Store && !bit(c.pte, 7) {
        return if svadu {
            None
        } else {
            Some(Outcome::PageFault)
        };
    }
    let span = 12 + 9 * c.level;
    let mask = (1u64 << span) - 1;
    Some(Outcome::Pa(
        ((c.pte >> 10) << 12 & ((1 << 56) - 1) & !mask) | (va & mask),
    ))
}

// ---------------------------------------------------------------------------------------
// Random machines and operation sequences.

/// Virtual page bases tests pick from: near zero, near the top of each mode's positive
/// half, negative halves, and addresses canonical in one mode but not another.
const VA_BASES: [u64; 10] = [
    0x0,
    0x1000,
    0x20_0000,
    0x4000_0000,
    0x3f_ffff_f000,
    0xffff_ffc0_0000_0000,
    0x7fff_ffff_f000,
    0xffff_8000_0000_0000,
    0x00ff_ffff_ffff_f000,
    0x8000_0000_0000,
];
/// Offsets added to a base: within the page, within 2 MiB, within 1 GiB.
const VA_SPREADS: [u64; 3] = [0xfff, 0x1f_ffff, 0x3fff_ffff];

/// Physical targets for leaves and pointers: RAM (aligned for every size), RAM
/// misaligned for superpages, nothing (0x4000_0000), far away (256 TiB, 512 GiB).
const PA_TARGETS: [u64; 7] = [
    DRAM_BASE,
    1 << 48,
    DRAM_BASE + 0x1000,
    DRAM_BASE + 0x3000,
    0x4000_0000,
    1 << 39,
    DRAM_BASE + RAM / 2,
];

#[derive(Debug, Clone)]
struct Space {
    mode: u64,
    asid: u16,
}

#[derive(Debug, Clone)]
struct Mapping {
    space: usize,
    va: usize,
    level: u8,
    /// Index into PA_TARGETS, or None for a PA aligned for the level.
    pa: Option<usize>,
    flags: u8,
}

#[derive(Debug, Clone)]
enum Op {
    /// `again`: the address of an earlier successful translation (picked by `va`), so
    /// TLB hits, stale entries and fences meet; otherwise VA_BASES[va] + offset.
    Translate {
        again: bool,
        va: usize,
        offset: u64,
        spread: usize,
        access: u8,
        privilege: u8,
        sum: bool,
        mxr: bool,
    },
    /// Rewrite one PTE slot in use (or the leaf of the latest translation, when
    /// `recent`): `how` picks the kind of new value.
    WritePte {
        recent: bool,
        slot: usize,
        how: u8,
        pa: usize,
        bits: u64,
    },
    /// `va`: (recent, index, offset, spread), like Translate's address choice.
    Sfence {
        va: Option<(bool, usize, u64, usize)>,
        asid: Option<u16>,
    },
    SwitchSpace(usize),
}

fn space() -> impl Strategy<Value = Space> {
    (
        prop_oneof![Just(0u64), Just(8), Just(9), Just(10), Just(9), Just(10)],
        0u16..3,
    )
        .prop_map(|(mode, asid)| Space { mode, asid })
}

/// PTE flags: mostly usable leaves (so translations succeed and get cached), some
/// execute-only ones, some arbitrary bytes (invalid, W without R, non-leaf...).
fn flags() -> impl Strategy<Value = u8> {
    const V: u8 = 1;
    const R: u8 = 2;
    const W: u8 = 4;
    const X: u8 = 8;
    const U: u8 = 16;
    const G: u8 = 32;
    const A: u8 = 64;
    const D: u8 = 128;
    prop_oneof![
        1 => any::<u8>(),
        5 => any::<u8>().prop_map(|f| (f & (W | X | U | G)) | V | R | A | D),
        1 => any::<u8>().prop_map(|f| (f & (U | G | D)) | V | X | A),
        1 => any::<u8>().prop_map(|f| (f & (W | U | G | A | D)) | V | R),
    ]
}

/// Leaves mostly 4 KiB, mostly at a physical address aligned for their size.
fn mapping() -> impl Strategy<Value = Mapping> {
    let level = prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3), 1 => Just(4)];
    let pa = prop_oneof![3 => Just(None), 1 => (0..PA_TARGETS.len()).prop_map(Some)];
    (0usize..3, 0..VA_BASES.len(), level, pa, flags()).prop_map(|(space, va, level, pa, flags)| {
        Mapping {
            space,
            va,
            level,
            pa,
            flags,
        }
    })
}

/// A physical address aligned for a leaf at `level`.
fn aligned_pa(level: u8) -> u64 {
    [
        DRAM_BASE + 0x1000,
        DRAM_BASE + 0x20_0000,
        DRAM_BASE,
        1 << 39,
        1 << 48,
    ][level as usize]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), 0..VA_BASES.len(), any::<u64>(), spread(), 0u8..3, prop_oneof![4 => Just(1u8), 3 => Just(0u8), 1 => Just(3u8)], any::<bool>(), any::<bool>())
            .prop_map(|(again, va, offset, spread, access, privilege, sum, mxr)| Op::Translate { again, va, offset, spread, access, privilege, sum, mxr }),
        2 => (any::<bool>(), any::<usize>(), 0u8..4, 0..PA_TARGETS.len(), any::<u64>())
            .prop_map(|(recent, slot, how, pa, bits)| Op::WritePte { recent, slot, how, pa, bits }),
        2 => (proptest::option::of((any::<bool>(), 0..VA_BASES.len(), any::<u64>(), spread())), proptest::option::of(0u16..3))
            .prop_map(|(va, asid)| Op::Sfence { va, asid }),
        1 => (0usize..3).prop_map(Op::SwitchSpace),
    ]
}

/// Mostly within one 4 KiB page, so translations, PTE writes and fences meet often.
fn spread() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 1 => Just(1), 1 => Just(2)]
}

fn tlb_config(choice: u8) -> TlbConfig {
    match choice {
        0 => TlbConfig::default(),
        1 => "l1i=2:full,l1d=2:2,l2=8:2".parse().unwrap(),
        2 => "l1i=1:1,l1d=4:1,l2=0".parse().unwrap(),
        _ => TlbConfig::off(),
    }
}

/// PMP set-ups (entry 15 is the firmware-style allow-all NAPOT entry `Env` installs):
/// 0 just that; 1 the first table page (space 0's root) inaccessible to S/U; 2 everything
/// below DRAM_BASE + 8 KiB read-only; 3 a 4-byte execute-only hole inside a RW 2 MiB
/// region (a page PMP cannot decide as a whole); 4 no entry at all (S/U denied).
/// Programs the real PMP and returns the same rules for the reference.
fn setup_pmp(env: &mut Env, choice: u8) -> RefPmp {
    let table0 = DRAM_BASE + RAM / 2;
    let all = (0u64, 1u64 << 57, 7u8);
    let pmp = &mut env.mmu.pmp;
    let entries = match choice {
        1 => {
            pmp.write_addr(0, (table0 >> 2) | 0x1ff);
            pmp.write_cfg(0, 0x18);
            vec![(table0, table0 + 4096, 0), all]
        }
        2 => {
            pmp.write_addr(0, (DRAM_BASE + 0x2000) >> 2);
            pmp.write_cfg(0, 0x08 | 1);
            vec![(0, DRAM_BASE + 0x2000, 1), all]
        }
        3 => {
            pmp.write_addr(0, (DRAM_BASE + 0x1000) >> 2);
            pmp.write_addr(1, (DRAM_BASE >> 2) | 0x3_ffff);
            pmp.write_cfg(0, (0x10 | 4) | (0x18 | 3) << 8);
            vec![
                (DRAM_BASE + 0x1000, DRAM_BASE + 0x1004, 4),
                (DRAM_BASE, DRAM_BASE + (2 << 20), 3),
                all,
            ]
        }
        4 => {
            pmp.write_cfg(2, 0);
            vec![]
        }
        _ => vec![all],
    };
    env.mmu.pmp_changed();
    RefPmp { entries }
}

fn access_of(n: u8) -> AccessType {
    match n {
        0 => AccessType::Fetch,
        1 => AccessType::Load,
        _ => AccessType::Store,
    }
}

fn mode_of(bits: u64) -> SatpMode {
    SatpMode::from_bits(bits).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn run_case(
    spaces: Vec<Space>,
    mappings: Vec<Mapping>,
    ops: Vec<Op>,
    svadu: bool,
    observe: u8,
    tlb: u8,
    pmp_choice: u8,
) -> Result<(), TestCaseError> {
    let config = MmuConfig {
        svadu,
        tlb: tlb_config(tlb),
        stats: observe == 1,
        check_tlb: observe == 2,
        ..MmuConfig::default()
    };
    let mut env = Env::with_ram(config, RAM);
    let pmp = setup_pmp(&mut env, pmp_choice);
    let roots: Vec<u64> = spaces.iter().map(|_| env.alloc_table()).collect();
    for m in &mappings {
        let s = &spaces[m.space];
        if s.mode == 0 {
            continue;
        }
        let mode = mode_of(s.mode);
        let level = m.level.min(mmu_support::levels(mode) - 1);
        let va = VA_BASES[m.va];
        let pa = m.pa.map_or(aligned_pa(level), |i| PA_TARGETS[i]);
        env.map_page(mode, roots[m.space], va, pa, level, m.flags);
    }
    let satp_of = |i: usize| -> u64 {
        let s = &spaces[i];
        if s.mode == 0 {
            0
        } else {
            s.mode << 60 | (s.asid as u64) << 44 | roots[i] >> 12
        }
    };
    // Every PTE slot currently non-zero in a table page: the targets of PTE writes.
    let tables = env.tables(RAM);
    let mut slots = Vec::new();
    let mut a = tables.start;
    while a < tables.end {
        if env.bus.read(a, 8).unwrap() != 0 {
            slots.push(a);
        }
        a += 8;
    }
    let mut current = 0usize;
    let mut cached: Vec<Cached> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Translate {
                again,
                va,
                offset,
                spread,
                access,
                privilege,
                sum,
                mxr,
            } => {
                let va = match (again, cached.len()) {
                    (true, n) if n > 0 => cached[n - 1 - va % n.min(4)].va ^ (offset & 0xff8),
                    _ => VA_BASES[va].wrapping_add(offset & VA_SPREADS[spread]),
                };
                let access = access_of(access);
                let satp = satp_of(current);
                let ctx = TranslateCtx {
                    satp,
                    privilege,
                    sum,
                    mxr,
                };
                let walk = ref_translate(
                    &mut env.bus,
                    &pmp,
                    satp,
                    va,
                    access,
                    privilege,
                    sum,
                    mxr,
                    svadu,
                );
                let mut allowed = vec![walk.outcome];
                let paged = satp >> 60 != 0 && privilege != 3;
                if paged && !non_canonical(satp, va) {
                    let asid = (satp >> 44) & 0xffff;
                    for c in cached
                        .iter()
                        .filter(|c| c.maps(va) && (c.global || c.asid == asid))
                    {
                        if let Some(o) = use_cached(c, va, access, &ctx, svadu) {
                            allowed.push(pmp.check(o, access, privilege));
                        }
                    }
                }
                let got = match env.mmu.translate(va, access, &ctx, &mut env.bus) {
                    Ok(pa) => Outcome::Pa(pa),
                    Err(e) => {
                        prop_assert_eq!(e.tval, va, "step {}: tval", step);
                        let (pf, af) = match access {
                            AccessType::Fetch => (12, 1),
                            AccessType::Load => (13, 5),
                            AccessType::Store => (15, 7),
                        };
                        if e.cause == pf {
                            Outcome::PageFault
                        } else {
                            prop_assert_eq!(e.cause, af, "step {}: cause", step);
                            Outcome::AccessFault
                        }
                    }
                };
                prop_assert!(
                    allowed.contains(&got),
                    "step {}: {:?} at {:#x} under satp {:#x} priv {} sum {} mxr {}: got {:?}, allowed {:?}",
                    step, access, va, satp, privilege, sum, mxr, got, allowed
                );
                // The real TLB fills whenever its walk succeeds, even when the final PMP
                // check then fails; remembering a leaf it did not fill only widens what
                // later steps accept.
                if let Some(leaf) = walk.leaf {
                    cached.push(leaf);
                }
            }
            Op::WritePte {
                recent,
                slot,
                how,
                pa,
                bits,
            } => {
                let addr = match (recent, cached.last(), slots.is_empty()) {
                    (true, Some(c), _) => c.pte_addr,
                    (_, _, false) => slots[slot % slots.len()],
                    _ => continue,
                };
                let old = env.bus.read(addr, 8).unwrap();
                let new = match how {
                    0 => old ^ (bits & 0xff),
                    1 => (PA_TARGETS[pa] >> 12) << 10 | (bits & 0xff),
                    2 => bits,
                    _ => 0,
                };
                env.bus.write(addr, 8, new).unwrap();
            }
            Op::Sfence { va, asid } => {
                let va = va.map(|(recent, v, off, spread)| match (recent, cached.len()) {
                    (true, n) if n > 0 => cached[n - 1 - v % n.min(4)].va ^ (off & 0xfff),
                    _ => VA_BASES[v].wrapping_add(off & VA_SPREADS[spread]),
                });
                env.mmu.sfence_vma(va, asid);
                cached.retain(|c| {
                    let va_covers = va.is_none_or(|v| c.maps(v));
                    let asid_covers = asid.is_none_or(|a| !c.global && c.asid == a as u64);
                    !(va_covers && asid_covers)
                });
            }
            Op::SwitchSpace(next) => {
                let old = satp_of(current);
                current = next;
                env.mmu.satp_written(old, satp_of(next));
            }
        }
    }
    Ok(())
}

fn non_canonical(satp: u64, va: u64) -> bool {
    let vabits = match satp >> 60 {
        8 => 39,
        9 => 48,
        _ => 57,
    };
    let upper = va >> (vabits - 1);
    upper != 0 && upper != u64::MAX >> (vabits - 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn translations_are_always_allowed_by_the_spec(
        spaces in proptest::collection::vec(space(), 3),
        mappings in proptest::collection::vec(mapping(), 8..40),
        ops in proptest::collection::vec(op(), 1..80),
        svadu in any::<bool>(),
        observe in 0u8..3,
        tlb in 0u8..4,
        pmp in prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3), 1 => Just(4)],
    ) {
        run_case(spaces, mappings, ops, svadu, observe, tlb, pmp)?;
    }
}

/// The reference itself, on answers computed by hand.
#[test]
fn reference_agrees_with_hand_computed_answers() {
    let mut env = Env::with_ram(MmuConfig::default(), RAM);
    let pmp = setup_pmp(&mut env, 0);
    let root = env.alloc_table();
    env.map_page(SatpMode::Sv39, root, 0x1000, DRAM_BASE, 0, 0xc7);
    let satp = 8 << 60 | root >> 12;
    let w = ref_translate(
        &mut env.bus,
        &pmp,
        satp,
        0x1234,
        AccessType::Load,
        1,
        false,
        false,
        false,
    );
    assert_eq!(w.outcome, Outcome::Pa(DRAM_BASE + 0x234));
    let w = ref_translate(
        &mut env.bus,
        &pmp,
        satp,
        0x1234,
        AccessType::Load,
        0,
        false,
        false,
        false,
    );
    assert_eq!(w.outcome, Outcome::PageFault);
    let w = ref_translate(
        &mut env.bus,
        &pmp,
        satp,
        0x40_0000_0000,
        AccessType::Load,
        1,
        false,
        false,
        false,
    );
    assert_eq!(w.outcome, Outcome::PageFault);
    let deny_root = RefPmp {
        entries: vec![(root, root + 4096, 0), (0, 1 << 57, 7)],
    };
    let w = ref_translate(
        &mut env.bus,
        &deny_root,
        satp,
        0x1234,
        AccessType::Load,
        1,
        false,
        false,
        false,
    );
    assert_eq!(w.outcome, Outcome::AccessFault);
}

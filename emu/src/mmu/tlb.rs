//! The TLB model: the architectural translation cache that statistics and `tlb` events
//! describe. Set-associative arrays with LRU replacement, one entry per page of any size,
//! tagged with ASID and the global bit.

use std::fmt;
use std::str::FromStr;

use super::pte::{page_shift, Pte, PAGE_SIZES};
use super::walker::Leaf;

/// Geometry of one TLB level. `entries == 0` means the level is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlbLevelConfig {
    pub entries: usize,
    /// Associativity; `ways == entries` is fully associative.
    pub ways: usize,
}

impl TlbLevelConfig {
    pub const ABSENT: TlbLevelConfig = TlbLevelConfig {
        entries: 0,
        ways: 0,
    };

    pub fn sets(&self) -> usize {
        if self.entries == 0 {
            0
        } else {
            self.entries / self.ways
        }
    }
}

/// How a restored machine takes the TLB model's saved contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlbRestore {
    /// As saved: the geometry must match (the run continues exactly).
    Saved,
    /// Dropped: the machine was built with another geometry (`--restore FILE --tlb
    /// SPEC`), so its TLB arrays and page-walk cache start empty.
    Cold,
}

/// Geometry of the whole model, set with `--tlb SPEC`.
///
/// Syntax: `off`, or a comma-separated list of `LEVEL=ENTRIES:WAYS` where `LEVEL` is
/// `l1i`, `l1d` or `l2`, `ENTRIES` a positive number of entries (or `0` to remove that
/// level) and `WAYS` the associativity, a number dividing `ENTRIES` or `full` for a fully
/// associative level. `:WAYS` may be omitted and then means `full`. Levels not named
/// keep their defaults: `l1i=32:full,l1d=32:full,l2=512:4`.
///
/// `pwc=ENTRIES:WAYS` adds a page-walk cache (see [`super::pwc`]): one array of that
/// geometry per level of non-leaf PTE. It is absent unless named, and `off` removes it too.
///
/// Examples: `l2=1024:8`, `l1i=16:full,l1d=16:4`, `l2=0` (no L2), `pwc=16:4`, `off` (no
/// model: every translation that misses the emulator's fast path walks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlbConfig {
    pub l1i: TlbLevelConfig,
    pub l1d: TlbLevelConfig,
    pub l2: TlbLevelConfig,
    /// Geometry of each level of the page-walk cache; absent by default.
    pub pwc: TlbLevelConfig,
}

impl Default for TlbConfig {
    fn default() -> Self {
        TlbConfig {
            l1i: TlbLevelConfig {
                entries: 32,
                ways: 32,
            },
            l1d: TlbLevelConfig {
                entries: 32,
                ways: 32,
            },
            l2: TlbLevelConfig {
                entries: 512,
                ways: 4,
            },
            pwc: TlbLevelConfig::ABSENT,
        }
    }
}

impl TlbConfig {
    pub fn off() -> Self {
        TlbConfig {
            l1i: TlbLevelConfig::ABSENT,
            l1d: TlbLevelConfig::ABSENT,
            l2: TlbLevelConfig::ABSENT,
            pwc: TlbLevelConfig::ABSENT,
        }
    }

    pub fn is_off(&self) -> bool {
        self.l1i.entries == 0
            && self.l1d.entries == 0
            && self.l2.entries == 0
            && self.pwc.entries == 0
    }
}

/// Largest number of entries a level may have; keeps a typo from allocating gigabytes.
const MAX_ENTRIES: usize = 1 << 20;

impl FromStr for TlbConfig {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec == "off" {
            return Ok(TlbConfig::off());
        }
        let mut config = TlbConfig::default();
        for item in spec.split(',').map(str::trim) {
            let (name, geometry) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected LEVEL=ENTRIES:WAYS"))?;
            let (entries, ways) = match geometry.split_once(':') {
                Some((e, w)) => (e, Some(w)),
                None => (geometry, None),
            };
            let entries: usize = entries
                .parse()
                .map_err(|_| format!("`{item}`: `{entries}` is not a number of entries"))?;
            if entries > MAX_ENTRIES {
                return Err(format!("`{item}`: at most {MAX_ENTRIES} entries"));
            }
            let ways = match ways {
                None | Some("full") => entries,
                Some(w) => w
                    .parse()
                    .map_err(|_| format!("`{item}`: `{w}` is not a number of ways or `full`"))?,
            };
            let level = if entries == 0 {
                TlbLevelConfig::ABSENT
            } else {
                if ways == 0 || ways > entries || !entries.is_multiple_of(ways) {
                    return Err(format!(
                        "`{item}`: the number of ways must divide the number of entries"
                    ));
                }
                TlbLevelConfig { entries, ways }
            };
            match name {
                "l1i" => config.l1i = level,
                "l1d" => config.l1d = level,
                "l2" => config.l2 = level,
                "pwc" => config.pwc = level,
                _ => {
                    return Err(format!(
                        "`{item}`: unknown TLB level `{name}` (l1i, l1d, l2, pwc)"
                    ))
                }
            }
        }
        Ok(config)
    }
}

impl fmt::Display for TlbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            return write!(f, "off");
        }
        let level = |c: &TlbLevelConfig| {
            if c.entries == 0 {
                "0".to_string()
            } else if c.ways == c.entries {
                format!("{}:full", c.entries)
            } else {
                format!("{}:{}", c.entries, c.ways)
            }
        };
        write!(
            f,
            "l1i={},l1d={},l2={}",
            level(&self.l1i),
            level(&self.l1d),
            level(&self.l2)
        )?;
        // Named only when present, so the text of a configuration without one is unchanged.
        if self.pwc.entries != 0 {
            write!(f, ",pwc={}", level(&self.pwc))?;
        }
        Ok(())
    }
}

/// One cached translation: the leaf PTE as the walk found it (after any A/D update).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlbEntry {
    /// `va >> page_shift(level)` of the whole 64-bit address.
    pub tag: u64,
    pub level: u8,
    pub asid: u16,
    pub global: bool,
    pub pte: Pte,
    pub pte_addr: u64,
}

impl TlbEntry {
    pub fn from_leaf(va: u64, asid: u16, leaf: &Leaf) -> TlbEntry {
        TlbEntry {
            tag: va >> page_shift(leaf.level),
            level: leaf.level,
            asid,
            global: leaf.global,
            pte: leaf.pte,
            pte_addr: leaf.pte_addr,
        }
    }

    #[inline]
    pub fn leaf(&self) -> Leaf {
        Leaf {
            pte: self.pte,
            pte_addr: self.pte_addr,
            level: self.level,
            global: self.global,
        }
    }

    #[inline]
    pub fn covers(&self, va: u64) -> bool {
        va >> page_shift(self.level) == self.tag
    }

    /// First virtual address of the page.
    pub fn va_base(&self) -> u64 {
        self.tag << page_shift(self.level)
    }

    /// Does `sfence.vma` with these operands remove this entry?
    #[inline]
    pub fn fenced_by(&self, vaddr: Option<u64>, asid: Option<u16>) -> bool {
        let va_match = vaddr.is_none_or(|va| self.covers(va));
        let asid_match = match asid {
            None => true,
            Some(a) => !self.global && self.asid == a,
        };
        va_match && asid_match
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: TlbEntry,
    last_use: u64,
}

/// [`TlbArray::keys`] entry of an empty slot (no key is: a key's low bits are a level,
/// at most 4).
const NO_KEY: u64 = u64::MAX;

/// What lookups compare first: the tag, with the leaf level in the low three bits.
#[inline(always)]
fn key(tag: u64, level: u8) -> u64 {
    tag << 3 | level as u64
}

/// Largest fully associative array whose slots are indexed by key (see
/// [`TlbArray::buckets`]): one bit per slot in a bucket's mask.
const MAX_INDEXED: usize = 64;

/// The bucket of `key` in [`TlbArray::buckets`] (a multiplicative hash: its top six bits).
#[inline(always)]
fn bucket(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

const EMPTY_SLOT: Slot = Slot {
    entry: TlbEntry {
        tag: 0,
        level: 0,
        asid: 0,
        global: false,
        pte: Pte(0),
        pte_addr: 0,
    },
    last_use: 0,
};

/// One set-associative TLB array with LRU replacement.
///
/// Pages of different sizes share the array: an entry of size `s` lives in the set chosen
/// by its own tag (`va >> shift(s)`), so a lookup probes one set per page size currently
/// present (a bitmask of present sizes keeps that to one probe in the common case).
/// The default L1 arrays are fully associative, 32 slots in one set: there a probe checks
/// only the span of slots whose key hashes like its own ([`TlbArray::buckets`]), in slot order,
/// so it finds the same first match a scan of the set would.
#[derive(Debug, Clone)]
pub struct TlbArray {
    sets: usize,
    ways: usize,
    slots: Vec<Slot>,
    /// `key(tag, level)` of each valid slot's entry, [`NO_KEY`] for an empty slot: the
    /// one record of which slots are valid, kept apart from the entries so that a lookup
    /// in a fully associative array scans 8 bytes per slot.
    keys: Vec<u64>,
    /// A fully associative array of at most [`MAX_INDEXED`] slots: for each of 64
    /// buckets, bit `i` set when slot `i` is valid and its key falls in the bucket. A
    /// lookup then checks the span of its key's bucket's slots ([`TlbArray::candidates`]),
    /// in slot order, instead of every slot. Empty for other geometries, which scan the set.
    buckets: Vec<u64>,
    /// Bit `i % 64` of word `i / 64` set when slot `i` is valid: a full fence then
    /// empties only the valid slots (after one, a kernel that fences everything often
    /// refills a few dozen of the L2's 512 before the next).
    valid: Vec<u64>,
    /// Bit `l` set when some valid entry may have leaf level `l`.
    sizes_present: u8,
    clock: u64,
    /// Slot of the last hit: checked first, since consecutive accesses mostly touch
    /// the same page.
    last_hit: usize,
    /// Changes whenever an entry is added or removed, so a caller may remember which slot
    /// a lookup lands on (see [`TlbArray::touch`]).
    version: u64,
    /// For each slot, the `version` at which its entry last came or went, or a new
    /// entry may have become a match before it (see [`TlbArray::slot_version`]).
    changed: Vec<u64>,
}

impl TlbArray {
    pub fn new(config: TlbLevelConfig) -> TlbArray {
        TlbArray {
            sets: config.sets(),
            ways: config.ways,
            slots: vec![EMPTY_SLOT; config.entries],
            keys: vec![NO_KEY; config.entries],
            buckets: if config.entries <= MAX_INDEXED && config.ways == config.entries {
                vec![0; 64]
            } else {
                Vec::new()
            },
            valid: vec![0; config.entries.div_ceil(64)],
            sizes_present: 0,
            clock: 0,
            last_hit: 0,
            version: 0,
            changed: vec![0; config.entries],
        }
    }

    #[inline]
    pub fn is_present(&self) -> bool {
        self.sets != 0
    }

    #[inline]
    fn set_range(&self, tag: u64, level: u8) -> std::ops::Range<usize> {
        // Mix the level in so that a 4K page and a superpage with equal tags spread out.
        let mixed = tag ^ (level as u64) << 7;
        // A mask rather than a division when it can be (the default geometries).
        let set = if self.sets.is_power_of_two() {
            (mixed & (self.sets as u64 - 1)) as usize
        } else {
            (mixed % self.sets as u64) as usize
        };
        set * self.ways..(set + 1) * self.ways
    }

    /// The slots that may hold an entry of `level` for `tag`, in slot order: its set, or
    /// in an indexed array the span from the first to the last slot of its key's bucket
    /// (empty when the bucket is).
    #[inline]
    fn candidates(&self, tag: u64, level: u8) -> std::ops::Range<usize> {
        if self.buckets.is_empty() {
            return self.set_range(tag, level);
        }
        match self.buckets[bucket(key(tag, level))] {
            0 => 0..0,
            slots => slots.trailing_zeros() as usize..64 - slots.leading_zeros() as usize,
        }
    }

    /// The entry translating `va` for `asid`, marking it most recently used.
    #[inline]
    pub fn lookup(&mut self, va: u64, asid: u16) -> Option<TlbEntry> {
        self.lookup_slot(va, asid).map(|i| self.slots[i].entry)
    }

    #[inline(always)]
    fn slot_matches(&self, i: usize, va: u64, asid: u16) -> bool {
        let e = &self.slots[i].entry;
        let tag = va >> page_shift(e.level);
        self.keys[i] == key(tag, e.level) && e.tag == tag && (e.global || e.asid == asid)
    }

    /// [`TlbArray::lookup`] returning the slot: the last hit if it matches, else the
    /// first match in probe order.
    #[inline]
    pub fn lookup_slot(&mut self, va: u64, asid: u16) -> Option<usize> {
        if self.sizes_present == 0 {
            return None;
        }
        self.clock += 1;
        let found = if self.slot_matches(self.last_hit, va, asid) {
            self.last_hit
        } else {
            self.first_match(va, asid)?
        };
        self.slots[found].last_use = self.clock;
        self.last_hit = found;
        Some(found)
    }

    /// The first slot in probe order (page sizes ascending, ways ascending) holding a
    /// translation of `va` for `asid`. Two valid entries can match one address (a 4K
    /// and a superpage entry after an unfenced remap, or a global and a non-global one),
    /// so the order is part of the model.
    pub fn first_match(&self, va: u64, asid: u16) -> Option<usize> {
        for level in 0..PAGE_SIZES as u8 {
            if self.sizes_present & (1 << level) == 0 {
                continue;
            }
            let tag = va >> page_shift(level);
            let want = key(tag, level);
            for i in self.candidates(tag, level) {
                let e = &self.slots[i].entry;
                if self.keys[i] == want && e.tag == tag && (e.global || e.asid == asid) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// The entry in slot `i`.
    #[inline]
    pub fn entry_at(&self, i: usize) -> &TlbEntry {
        &self.slots[i].entry
    }

    /// Equal versions mean the same entries in the same slots (only LRU state differs).
    #[inline]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Equal slot versions mean that a lookup that found slot `i` first in probe order
    /// still does, with the same entry, although other slots may have changed: their
    /// entries went, or came for addresses slot `i` does not translate. An entry that
    /// may become a second match for an address some slot translates (a superpage, a
    /// global entry, a page the array already holds) moves the version of every slot
    /// whose entry shares an address with it; a 4 KiB non-global entry for a page the
    /// array holds no translation of matches only that page in its own address space
    /// and moves only its own slot's. Emptying the whole array moves every slot that
    /// held an entry (an empty slot's version moved when it was emptied).
    #[inline]
    pub fn slot_version(&self, i: usize) -> u64 {
        self.changed.get(i).copied().unwrap_or(u64::MAX)
    }

    /// Redo a lookup of `va` the caller knows lands on slot `first` -- the
    /// [`TlbArray::first_match`] it found under the current [`TlbArray::version`] -- with
    /// the same effect on the LRU state as [`TlbArray::lookup_slot`]. Returns false, having
    /// changed nothing, when the last-hit slot is another match that `lookup_slot` would
    /// return instead.
    #[inline(always)]
    pub fn touch(&mut self, first: usize, va: u64, asid: u16) -> bool {
        if self.last_hit != first && self.slot_matches(self.last_hit, va, asid) {
            return false;
        }
        self.clock += 1;
        self.slots[first].last_use = self.clock;
        self.last_hit = first;
        true
    }

    /// `n` more [`TlbArray::touch`]es of slot `first` right after one that succeeded.
    #[inline]
    pub fn touch_repeat(&mut self, first: usize, n: u64) {
        self.clock += n;
        self.slots[first].last_use = self.clock;
        self.last_hit = first;
    }

    /// Whether a [`TlbArray::touch`] of slot `first` for `va` would succeed now (the
    /// last-hit slot is `first` or does not match `va`).
    #[inline]
    pub fn would_touch(&self, first: usize, va: u64, asid: u16) -> bool {
        self.last_hit == first || !self.slot_matches(self.last_hit, va, asid)
    }

    /// Whether slot `i` holds a translation of `va` for `asid`.
    #[inline]
    pub fn covers(&self, i: usize, va: u64, asid: u16) -> bool {
        self.slot_matches(i, va, asid)
    }

    /// Whether slot `i` holds a translation of `va` for `asid` and no other slot does.
    pub fn only_match(&self, i: usize, va: u64, asid: u16) -> bool {
        if !self.slot_matches(i, va, asid) {
            return false;
        }
        (0..PAGE_SIZES as u8)
            .filter(|level| self.sizes_present & (1 << level) != 0)
            .all(|level| {
                let tag = va >> page_shift(level);
                self.candidates(tag, level)
                    .all(|j| j == i || !self.slot_matches(j, va, asid))
            })
    }

    /// Whether slot `i` holds an entry and no other slot holds one for `asid` that
    /// translates any of the addresses slot `i`'s entry does: a lookup of any of them
    /// then finds slot `i`, wherever it starts. While [`TlbArray::slot_version`] of `i`
    /// stands it stays so (an entry that comes to translate one of those addresses moves
    /// it), or becomes so.
    pub fn alone(&self, i: usize, asid: u16) -> bool {
        if self.keys[i] == NO_KEY {
            return false;
        }
        let e = &self.slots[i].entry;
        let base = e.tag << page_shift(e.level);
        // A valid slot's key holds its entry's tag and level: the regions are compared
        // from the keys alone, the entries read only where they meet.
        let apart = |k: u64| {
            let level = (k & 7) as u8;
            // Two aligned regions of power-of-two sizes meet when one holds the other.
            (base ^ ((k >> 3) << page_shift(level))) >> page_shift(e.level.max(level)) != 0
        };
        self.keys.iter().enumerate().all(|(j, &k)| {
            let f = &self.slots[j].entry;
            k == NO_KEY || j == i || apart(k) || !(f.global || f.asid == asid)
        })
    }

    /// The slot a lookup checks first.
    #[inline]
    pub fn last_hit(&self) -> usize {
        self.last_hit
    }

    /// Part of `n` successful [`TlbArray::touch`]es in a row (see [`TlbArray::advance`]):
    /// slot `slot`'s last touch among them was the `at`th (1 to `n`).
    #[inline]
    pub fn stamp_ahead(&mut self, slot: usize, at: u64) {
        let stamp = &mut self.slots[slot].last_use;
        *stamp = (*stamp).max(self.clock + at);
    }

    /// The end of `n` successful [`TlbArray::touch`]es in a row, the last of slot
    /// `last`, after [`TlbArray::stamp_ahead`] for each slot they touched.
    #[inline]
    pub fn advance(&mut self, n: u64, last: usize) {
        self.clock += n;
        self.last_hit = last;
    }

    /// Insert `entry`, replacing an entry for the same page and address space if there is
    /// one, else an invalid slot, else the least recently used. Returns the evicted entry.
    pub fn insert(&mut self, entry: TlbEntry) -> Option<TlbEntry> {
        if !self.is_present() {
            return None;
        }
        self.clock += 1;
        self.version += 1;
        if entry.level != 0
            || entry.global
            || self
                .first_match(entry.tag << page_shift(entry.level), entry.asid)
                .is_some()
        {
            self.mark_overlapping(entry.tag, entry.level);
        }
        let range = self.set_range(entry.tag, entry.level);
        let want = key(entry.tag, entry.level);
        let same = |k: u64, s: &Slot| {
            k == want
                && s.entry.tag == entry.tag
                && s.entry.global == entry.global
                && (entry.global || s.entry.asid == entry.asid)
        };
        // Slot numbers are the array's. An entry for the same page has `want` for key, so
        // only its key's candidates can hold it (the set, or in an indexed array its
        // bucket's span); an empty slot of an indexed array is the first clear bit of
        // `valid`.
        let empty = if self.buckets.is_empty() {
            self.keys[range.clone()]
                .iter()
                .position(|&k| k == NO_KEY)
                .map(|i| range.start + i)
        } else {
            let first = (!self.valid[0]).trailing_zeros() as usize;
            (first < self.slots.len()).then_some(first)
        };
        let victim = self
            .candidates(entry.tag, entry.level)
            .find(|&i| same(self.keys[i], &self.slots[i]))
            .or(empty)
            // The least recently used, the first of equals.
            .unwrap_or_else(|| range.min_by_key(|&i| self.slots[i].last_use).unwrap_or(0));
        let (old, old_key) = (self.slots[victim], self.keys[victim]);
        self.slots[victim] = Slot {
            entry,
            last_use: self.clock,
        };
        self.set_key(victim, want);
        self.sizes_present |= 1 << entry.level;
        (old_key != NO_KEY && !same(old_key, &old)).then_some(old.entry)
    }

    /// Move the version of every slot whose entry shares an address with the region of
    /// a level-`level` entry tagged `tag` that is about to come: a lookup of such an
    /// address may find the new entry before the slot's. (Slots whose entries share no
    /// address with it keep their first matches.)
    fn mark_overlapping(&mut self, tag: u64, level: u8) {
        let base = tag << page_shift(level);
        for (w, &word) in self.valid.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let e = &self.slots[i].entry;
                if (e.va_base() ^ base) >> page_shift(e.level.max(level)) == 0 {
                    self.changed[i] = self.version;
                }
            }
        }
    }

    /// Remove every entry `sfence.vma vaddr, asid` covers; returns how many.
    pub fn flush(&mut self, vaddr: Option<u64>, asid: Option<u16>) -> u64 {
        self.version += 1;
        let mut removed = 0;
        match vaddr {
            Some(va) => {
                for level in 0..PAGE_SIZES as u8 {
                    if self.sizes_present & (1 << level) == 0 {
                        continue;
                    }
                    for i in self.candidates(va >> page_shift(level), level) {
                        let e = &self.slots[i].entry;
                        if self.keys[i] != NO_KEY && e.level == level && e.fenced_by(vaddr, asid) {
                            self.set_key(i, NO_KEY);
                            removed += 1;
                        }
                    }
                }
            }
            // Everything goes (`sfence.vma x0, x0`, thousands of times a second in some
            // kernels' paths): only the valid slots need emptying.
            None if asid.is_none() => {
                for (w, word) in self.valid.iter_mut().enumerate() {
                    removed += word.count_ones() as u64;
                    while *word != 0 {
                        let i = w * 64 + word.trailing_zeros() as usize;
                        *word &= *word - 1;
                        if let Some(b) = self.buckets.get_mut(bucket(self.keys[i])) {
                            *b = 0;
                        }
                        self.keys[i] = NO_KEY;
                        self.changed[i] = self.version;
                    }
                }
                self.sizes_present = 0;
            }
            None => {
                for i in 0..self.slots.len() {
                    if self.keys[i] != NO_KEY && self.slots[i].entry.fenced_by(None, asid) {
                        self.set_key(i, NO_KEY);
                        removed += 1;
                    }
                }
            }
        }
        removed
    }

    /// Make `k` the key of slot `i`, keeping `valid` and the buckets in step.
    #[inline]
    fn set_key(&mut self, i: usize, k: u64) {
        let old = self.keys[i];
        let bit = 1u64 << (i % 64);
        if old != NO_KEY {
            self.valid[i / 64] &= !bit;
            if let Some(b) = self.buckets.get_mut(bucket(old)) {
                *b &= !bit;
            }
        }
        if k != NO_KEY {
            self.valid[i / 64] |= bit;
            if let Some(b) = self.buckets.get_mut(bucket(k)) {
                *b |= bit;
            }
        }
        self.keys[i] = k;
        self.changed[i] = self.version;
    }

    /// Every valid entry (for tests and dumps).
    pub fn entries(&self) -> impl Iterator<Item = &TlbEntry> {
        self.slots
            .iter()
            .zip(&self.keys)
            .filter(|(_, &k)| k != NO_KEY)
            .map(|(s, _)| &s.entry)
    }
}

impl TlbArray {
    /// Snapshot state: every slot with its LRU stamp, the clock and the version.
    pub(crate) fn save_state(&self, w: &mut crate::snapshot::format::Writer) {
        w.u64(self.sets as u64);
        w.u64(self.ways as u64);
        w.u64(self.slots.len() as u64);
        for (s, &k) in self.slots.iter().zip(&self.keys) {
            w.u64(s.entry.tag);
            w.u8(s.entry.level);
            w.u16(s.entry.asid);
            w.bool(s.entry.global);
            w.u64(s.entry.pte.0);
            w.u64(s.entry.pte_addr);
            w.bool(k != NO_KEY);
            w.u64(s.last_use);
        }
        w.u8(self.sizes_present);
        w.u64(self.clock);
        w.u64(self.last_hit as u64);
        w.u64(self.version);
    }

    /// Read past the state [`TlbArray::save_state`] wrote, whatever its geometry.
    pub(crate) fn skip_state(
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        let (_sets, _ways, n) = (r.u64()?, r.u64()?, r.u64()?);
        // A count the rest of the section cannot hold ends at the first short read.
        // Per slot: tag, level, asid, global, pte, pte_addr, valid, last use.
        for _ in 0..n {
            r.u64()?;
            r.u8()?;
            r.u16()?;
            r.bool()?;
            r.u64()?;
            r.u64()?;
            r.bool()?;
            r.u64()?;
        }
        // Sizes present, clock, last hit, version.
        r.u8()?;
        r.u64()?;
        r.u64()?;
        r.u64()?;
        Ok(())
    }

    /// Take the state [`TlbArray::save_state`] wrote; the geometry must be this one's.
    /// With [`TlbRestore::Cold`] the saved entries are read and dropped, whatever their
    /// geometry, and this array stays as built (empty).
    pub(crate) fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
        how: TlbRestore,
    ) -> crate::snapshot::format::Result<()> {
        if how == TlbRestore::Cold {
            return Self::skip_state(r);
        }
        let (sets, ways, n) = (r.u64()?, r.u64()?, r.u64()?);
        if (sets, ways, n) != (self.sets as u64, self.ways as u64, self.slots.len() as u64) {
            return Err(r.error(format!(
                "has a TLB array of {n} entries in {sets} sets, the machine {} in {}",
                self.slots.len(),
                self.sets
            )));
        }
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            s.entry.tag = r.u64()?;
            s.entry.level = r.u8()?;
            if s.entry.level > 4 {
                return Err(r.error("has a TLB entry above level 4"));
            }
            s.entry.asid = r.u16()?;
            s.entry.global = r.bool()?;
            s.entry.pte = Pte(r.u64()?);
            s.entry.pte_addr = r.u64()?;
            let k = if r.bool()? {
                key(s.entry.tag, s.entry.level)
            } else {
                NO_KEY
            };
            s.last_use = r.u64()?;
            self.set_key(i, k);
        }
        self.sizes_present = r.u8()? & 0x1f;
        self.clock = r.u64()?;
        self.last_hit = r.count(self.slots.len().saturating_sub(1))?;
        self.version = r.u64()?;
        // The restored version may be below the one the slots were stamped with.
        self.changed.fill(self.version);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::pte::PteFlags;

    fn entry(va: u64, level: u8, asid: u16, global: bool) -> TlbEntry {
        let flags = PteFlags::V | PteFlags::R | if global { PteFlags::G } else { 0 };
        TlbEntry {
            tag: va >> page_shift(level),
            level,
            asid,
            global,
            pte: Pte::new(0x80000, flags),
            pte_addr: 0,
        }
    }

    /// A repeatable pseudo-random source (xorshift from `seed`): `next(n)` is below `n`.
    fn numbers_below(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

    /// The first valid slot in slot order holding a translation of `va` for `asid`,
    /// smaller pages first: what [`TlbArray::first_match`] must find, by brute force.
    fn first_match_by_scan(t: &TlbArray, va: u64, asid: u16) -> Option<usize> {
        (0..PAGE_SIZES as u8).find_map(|level| {
            (0..t.slots.len()).find(|&i| {
                let e = &t.slots[i].entry;
                t.keys[i] != NO_KEY
                    && e.level == level
                    && e.tag == va >> page_shift(level)
                    && (e.global || e.asid == asid)
            })
        })
    }

    /// The valid-slot bitmap of a set-associative array of several words (an L2 of 512
    /// slots) follows its keys through random fills and fences, and a full fence, which
    /// empties only the slots the bitmap names, removes and counts every valid entry.
    #[test]
    fn a_full_fence_empties_exactly_the_valid_slots() {
        let mut t = TlbArray::new(TlbLevelConfig {
            entries: 512,
            ways: 4,
        });
        assert!(t.buckets.is_empty() && t.valid.len() == 8);
        let mut next = numbers_below(0x9e37_79b9_7f4a_7c15);
        let bitmap = |t: &TlbArray| {
            let mut words = vec![0u64; 8];
            for i in (0..512).filter(|&i| t.keys[i] != NO_KEY) {
                words[i / 64] |= 1 << (i % 64);
            }
            words
        };
        for round in 0..200 {
            for _ in 0..next(600) {
                let va = next(1 << 12) << 12;
                let level = (next(4) == 0) as u8;
                t.insert(entry(va, level, next(2) as u16, next(8) == 0));
            }
            if round % 3 == 0 {
                let va = next(1 << 12) << 12;
                t.flush(Some(va), (next(2) == 0).then_some(next(2) as u16));
                t.flush(None, Some(next(2) as u16));
            }
            assert_eq!(t.valid, bitmap(&t));
            let valid = t.keys.iter().filter(|&&k| k != NO_KEY).count() as u64;
            assert_eq!(
                t.flush(None, None),
                valid,
                "a full fence counts every entry"
            );
            assert!(t.keys.iter().all(|&k| k == NO_KEY), "and removes it");
            assert_eq!(t.valid, vec![0; 8]);
            assert_eq!(t.lookup(0, 0), None);
        }
    }

    /// `slot_version`'s promise, checked after every fill and fence of a random
    /// sequence (4 KiB, 2 MiB and 1 GiB pages, two address spaces, global or not, in a
    /// small address space so that addresses often have several matches): a slot whose
    /// version did not move is still the first match of every address it was the first
    /// match of, for the same address space.
    #[test]
    fn an_unmoved_slot_version_keeps_its_first_matches() {
        for (entries, ways) in [(8, 8), (32, 32), (16, 4)] {
            let mut t = TlbArray::new(TlbLevelConfig { entries, ways });
            let mut next = numbers_below(0x5851_f42d_4c95_7f2d ^ entries as u64);
            // Pages in two 1 GiB regions, four 2 MiB regions each, eight pages each.
            let va =
                |next: &mut dyn FnMut(u64) -> u64| next(2) << 30 | next(4) << 21 | next(8) << 12;
            let probes: Vec<(u64, u16)> = (0..2u64)
                .flat_map(|g| {
                    (0..4u64).flat_map(move |m| (0..8u64).map(move |p| g << 30 | m << 21 | p << 12))
                })
                .flat_map(|va| [(va, 0), (va, 1)])
                .collect();
            for _ in 0..5_000 {
                let before: Vec<(u64, Option<usize>)> = probes
                    .iter()
                    .map(|&(va, asid)| {
                        let first = t.first_match(va, asid);
                        (first.map_or(0, |i| t.slot_version(i)), first)
                    })
                    .collect();
                match next(12) {
                    0 => {
                        t.flush(
                            Some(va(&mut next)),
                            (next(2) == 0).then_some(next(2) as u16),
                        );
                    }
                    1 if next(8) == 0 => {
                        t.flush(None, None);
                    }
                    _ => {
                        let level = [0, 0, 0, 0, 1, 1, 2][next(7) as usize];
                        t.insert(entry(va(&mut next), level, next(2) as u16, next(4) == 0));
                    }
                }
                for (&(va, asid), &(version, first)) in probes.iter().zip(&before) {
                    if let Some(i) = first {
                        if t.slot_version(i) == version {
                            assert_eq!(
                                t.first_match(va, asid),
                                Some(i),
                                "{entries}x{ways}: slot {i} kept its version but lost {va:#x} (asid {asid})"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn indexed_lookups_find_what_a_scan_finds() {
        // A fully associative array small enough to be indexed, under random fills
        // (4K and 2M pages, two address spaces, global or not, so that one address often
        // has several matching entries) and fences of one page, one address space or all.
        let config = TlbLevelConfig {
            entries: 8,
            ways: 8,
        };
        let mut t = TlbArray::new(config);
        assert!(!t.buckets.is_empty());
        // The same array without its index: every lookup and insert scans the set.
        let mut scan = t.clone();
        scan.buckets = Vec::new();
        let mut next = numbers_below(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let va = next(6) << 12 | next(2) << 21;
            let asid = next(2) as u16;
            match next(10) {
                0..=5 => {
                    let e = entry(va, next(2) as u8, asid, next(4) == 0);
                    let evicted = t.insert(e).map(|e| (e.tag, e.level, e.asid));
                    assert_eq!(
                        evicted,
                        scan.insert(e).map(|e| (e.tag, e.level, e.asid)),
                        "an insert replaces what a scan replaces"
                    );
                }
                6 | 7 => {
                    let asid = (next(2) == 0).then_some(asid);
                    t.flush(Some(va), asid);
                    scan.flush(Some(va), asid);
                    assert!(
                        t.entries().all(|e| !e.fenced_by(Some(va), asid)),
                        "a fence leaves nothing it covers"
                    );
                }
                8 if next(20) == 0 => {
                    t.flush(None, None);
                    scan.flush(None, None);
                }
                _ => {
                    t.flush(None, Some(asid));
                    scan.flush(None, Some(asid));
                }
            }
            assert_eq!(t.keys, scan.keys, "the same entries in the same slots");
            let stamps = |a: &TlbArray| a.slots.iter().map(|s| s.last_use).collect::<Vec<_>>();
            assert_eq!(stamps(&t), stamps(&scan), "the same LRU state");
            let valid = (0..t.slots.len())
                .filter(|&i| t.keys[i] != NO_KEY)
                .fold(0u64, |m, i| m | 1 << i);
            assert_eq!(t.valid, [valid], "the valid slots");
            assert_eq!(scan.valid, [valid], "the valid slots");
            for probe in 0..6 {
                for asid in 0..2 {
                    for big in 0..2 {
                        let va = probe << 12 | big << 21;
                        assert_eq!(t.first_match(va, asid), first_match_by_scan(&t, va, asid));
                    }
                }
            }
            for (b, &slots) in t.buckets.iter().enumerate() {
                let expected = (0..t.slots.len())
                    .filter(|&i| t.keys[i] != NO_KEY && bucket(t.keys[i]) == b)
                    .fold(0u64, |m, i| m | 1 << i);
                assert_eq!(slots, expected, "bucket {b}");
            }
        }
    }

    #[test]
    fn parse_spec() {
        assert_eq!("off".parse::<TlbConfig>().unwrap(), TlbConfig::off());
        let c: TlbConfig = "l1i=16:full,l2=1024:8".parse().unwrap();
        assert_eq!(
            c.l1i,
            TlbLevelConfig {
                entries: 16,
                ways: 16
            }
        );
        assert_eq!(c.l1d, TlbConfig::default().l1d);
        assert_eq!(
            c.l2,
            TlbLevelConfig {
                entries: 1024,
                ways: 8
            }
        );
        assert_eq!(c.to_string(), "l1i=16:full,l1d=32:full,l2=1024:8");
        assert_eq!(
            "l2=0".parse::<TlbConfig>().unwrap().l2,
            TlbLevelConfig::ABSENT
        );
        assert_eq!(
            TlbConfig::default().to_string().parse::<TlbConfig>(),
            Ok(TlbConfig::default())
        );
        let with_pwc: TlbConfig = "pwc=16:4".parse().unwrap();
        assert_eq!(
            with_pwc.pwc,
            TlbLevelConfig {
                entries: 16,
                ways: 4
            }
        );
        assert_eq!(
            with_pwc.to_string(),
            "l1i=32:full,l1d=32:full,l2=512:4,pwc=16:4"
        );
        assert_eq!(with_pwc.to_string().parse::<TlbConfig>(), Ok(with_pwc));
        assert_eq!(
            "pwc=8".parse::<TlbConfig>().unwrap().to_string(),
            "l1i=32:full,l1d=32:full,l2=512:4,pwc=8:full"
        );
        for bad in [
            "l3=4",
            "l2=10:3",
            "l2=x",
            "l1i",
            "l2=8:0",
            "l2=8:16",
            "l2=99999999999",
            "pwc=6:4",
        ] {
            assert!(bad.parse::<TlbConfig>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lru_replacement_in_one_set() {
        let mut t = TlbArray::new(TlbLevelConfig {
            entries: 2,
            ways: 2,
        });
        assert_eq!(t.insert(entry(0x1000, 0, 1, false)), None);
        assert_eq!(t.insert(entry(0x2000, 0, 1, false)), None);
        assert!(t.lookup(0x1000, 1).is_some());
        let evicted = t.insert(entry(0x3000, 0, 1, false)).unwrap();
        assert_eq!(evicted.tag, 2);
        assert!(t.lookup(0x1000, 1).is_some());
        assert!(t.lookup(0x2000, 1).is_none());
    }

    #[test]
    fn superpage_entry_covers_its_range() {
        let mut t = TlbArray::new(TlbConfig::default().l2);
        t.insert(entry(0x4000_0000, 2, 5, false));
        assert!(t.lookup(0x7fff_f123, 5).is_some());
        assert!(t.lookup(0x8000_0000, 5).is_none());
        assert!(t.lookup(0x4000_0000, 6).is_none());
    }

    #[test]
    fn four_sfence_forms() {
        let fill = || {
            let mut t = TlbArray::new(TlbLevelConfig {
                entries: 8,
                ways: 8,
            });
            t.insert(entry(0x1000, 0, 1, false));
            t.insert(entry(0x1000, 0, 2, false));
            t.insert(entry(0x1000, 0, 0, true));
            t.insert(entry(0x2000, 0, 1, false));
            t.insert(entry(0x2000, 0, 0, true));
            t
        };
        let count = |t: &TlbArray| t.entries().count();
        let mut t = fill();
        assert_eq!(t.flush(None, None), 5);
        let mut t2 = fill();
        assert_eq!(t2.flush(Some(0x1abc), None), 3);
        assert_eq!(count(&t2), 2);
        let mut t3 = fill();
        assert_eq!(t3.flush(None, Some(1)), 2);
        assert!(t3.lookup(0x1000, 2).is_some());
        assert!(t3.lookup(0x2000, 1).unwrap().global);
        let mut t4 = fill();
        assert_eq!(t4.flush(Some(0x1000), Some(1)), 1);
        assert!(t4.lookup(0x1000, 1).unwrap().global);
        assert_eq!(count(&t4), 4);
        assert_eq!(count(&t), 0);
    }
}

//! PLIC (platform-level interrupt controller), SiFive layout as on QEMU's `virt`.
//!
//! Sources 1..=96 (`riscv,ndev` = 96); source 0 means "no interrupt". Two contexts per
//! hart: 2*hart is M-mode (drives MEIP), 2*hart+1 is S-mode (drives SEIP).
//!
//! The gateways are level-triggered the way QEMU models them: while a source is not being
//! serviced its pending bit follows the device's line, a claim clears the pending bit and
//! holds the source in service, and the completion releases it so the next sampled high
//! level pends it again. Levels are sampled by the machine between hart quanta; a
//! completion does not re-pend from the last sample, because the device may have dropped
//! its line since, and a stale re-pend would be a spurious interrupt the guest counts.

use crate::bus::{DeviceError, MmioDevice, Ram};

/// Highest source number (`riscv,ndev`).
pub const NDEV: u32 = 96;
const SOURCES: usize = NDEV as usize + 1;
const WORDS: usize = SOURCES.div_ceil(32);
/// Priorities and thresholds have 3 bits (7 levels, as QEMU's `virt`).
const PRIORITY_MASK: u32 = 0x7;

const PRIORITY_BASE: u64 = 0x0;
const PENDING_BASE: u64 = 0x1000;
const ENABLE_BASE: u64 = 0x2000;
const ENABLE_STRIDE: u64 = 0x80;
const CONTEXT_BASE: u64 = 0x20_0000;
const CONTEXT_STRIDE: u64 = 0x1000;

pub const MIP_SEIP: u64 = 1 << 9;
pub const MIP_MEIP: u64 = 1 << 11;

/// A set of sources, a bit per source number (the machine samples the lines and asks
/// for the best candidate every quantum: a few word operations rather than a loop over
/// every source).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sources([u64; SOURCES.div_ceil(64)]);

impl Sources {
    fn get(&self, src: usize) -> bool {
        src < SOURCES && self.0[src / 64] & (1 << (src % 64)) != 0
    }

    fn set(&mut self, src: usize, on: bool) {
        if src < SOURCES {
            let bit = 1 << (src % 64);
            if on {
                self.0[src / 64] |= bit;
            } else {
                self.0[src / 64] &= !bit;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The sources in the set, lowest first.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let bit = w.trailing_zeros() as usize;
                    w &= w - 1;
                    i * 64 + bit
                })
            })
        })
    }

    /// 32 bits of the set from source `32 * word` on (the layout of the pending array).
    fn word32(&self, word: usize) -> u32 {
        self.0
            .get(word / 2)
            .map_or(0, |&w| (w >> (32 * (word % 2))) as u32)
    }
}

pub struct Plic {
    priority: [u32; SOURCES],
    level: Sources,
    pending: Sources,
    in_service: Sources,
    /// Per context: enable bit words.
    enable: Vec<[u32; WORDS]>,
    threshold: Vec<u32>,
}

/// Bits of enable word `word` that name real sources (source 0 is not one).
fn valid_source_mask(word: usize) -> u32 {
    let mut mask = 0u32;
    for bit in 0..32 {
        let src = word * 32 + bit;
        if src != 0 && src < SOURCES {
            mask |= 1 << bit;
        }
    }
    mask
}

impl Plic {
    pub fn new(harts: usize) -> Self {
        let contexts = 2 * harts;
        Plic {
            priority: [0; SOURCES],
            level: Sources::default(),
            pending: Sources::default(),
            in_service: Sources::default(),
            enable: vec![[0; WORDS]; contexts],
            threshold: vec![0; contexts],
        }
    }

    fn enabled(&self, ctx: usize, src: usize) -> bool {
        self.enable[ctx][src / 32] & (1 << (src % 32)) != 0
    }

    /// The source `ctx` would claim now: highest priority above the threshold among its
    /// enabled pending sources, lowest id on ties; 0 if none.
    fn best_candidate(&self, ctx: usize) -> u32 {
        // Asked every quantum for every hart; nothing is pending almost always.
        if self.pending.is_empty() {
            return 0;
        }
        let mut best = 0usize;
        let mut best_priority = self.threshold[ctx];
        for src in self.pending.iter() {
            if self.enabled(ctx, src) && self.priority[src] > best_priority {
                best = src;
                best_priority = self.priority[src];
            }
        }
        best as u32
    }

    fn claim(&mut self, ctx: usize) -> u32 {
        let src = self.best_candidate(ctx);
        if src != 0 {
            self.pending.set(src as usize, false);
            self.in_service.set(src as usize, true);
        }
        src
    }

    fn complete(&mut self, ctx: usize, src: u32) {
        let src = src as usize;
        // The spec ignores completions for sources not enabled in this context.
        if src != 0 && src < SOURCES && self.enabled(ctx, src) {
            self.in_service.set(src, false);
        }
    }

    fn pending_word(&self, word: usize) -> u32 {
        self.pending.word32(word)
    }

    fn contexts(&self) -> usize {
        self.threshold.len()
    }

    /// Decode a per-context register offset into (context, register within context).
    fn context_reg(&self, offset: u64) -> Option<(usize, u64)> {
        let rel = offset.checked_sub(CONTEXT_BASE)?;
        let ctx = (rel / CONTEXT_STRIDE) as usize;
        (ctx < self.contexts()).then_some((ctx, rel % CONTEXT_STRIDE))
    }

    fn enable_word(&self, offset: u64) -> Option<(usize, usize)> {
        if !(ENABLE_BASE..CONTEXT_BASE).contains(&offset) {
            return None;
        }
        let rel = offset - ENABLE_BASE;
        let ctx = (rel / ENABLE_STRIDE) as usize;
        let word = ((rel % ENABLE_STRIDE) / 4) as usize;
        (ctx < self.contexts() && word < WORDS).then_some((ctx, word))
    }
}

impl MmioDevice for Plic {
    fn save_state(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        self.write_snapshot(w)
    }
    fn restore_state(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        self.read_snapshot(r)
    }
    fn name(&self) -> &str {
        "plic"
    }

    fn read(&mut self, offset: u64, size: usize, _ram: &mut Ram) -> Result<u64, DeviceError> {
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        let value = if offset < PENDING_BASE {
            let src = ((offset - PRIORITY_BASE) / 4) as usize;
            self.priority.get(src).copied().unwrap_or(0)
        } else if offset < ENABLE_BASE {
            let word = ((offset - PENDING_BASE) / 4) as usize;
            if word < WORDS {
                self.pending_word(word)
            } else {
                0
            }
        } else if let Some((ctx, word)) = self.enable_word(offset) {
            self.enable[ctx][word]
        } else if let Some((ctx, reg)) = self.context_reg(offset) {
            match reg {
                0 => self.threshold[ctx],
                4 => self.claim(ctx),
                _ => 0,
            }
        } else {
            0
        };
        Ok(value as u64)
    }

    fn write(
        &mut self,
        offset: u64,
        size: usize,
        value: u64,
        _ram: &mut Ram,
    ) -> Result<(), DeviceError> {
        if size != 4 || offset & 3 != 0 {
            return Err(DeviceError);
        }
        let value = value as u32;
        if offset < PENDING_BASE {
            let src = ((offset - PRIORITY_BASE) / 4) as usize;
            if src != 0 && src < SOURCES {
                self.priority[src] = value & PRIORITY_MASK;
            }
        } else if offset < ENABLE_BASE {
            // Pending bits are read-only: only gateways set them.
        } else if let Some((ctx, word)) = self.enable_word(offset) {
            self.enable[ctx][word] = value & valid_source_mask(word);
        } else if let Some((ctx, reg)) = self.context_reg(offset) {
            match reg {
                0 => self.threshold[ctx] = value & PRIORITY_MASK,
                4 => self.complete(ctx, value),
                _ => {}
            }
        }
        Ok(())
    }

    fn set_source_levels(&mut self, levels: &[(u32, bool)]) {
        let mut level = Sources::default();
        for &(src, high) in levels {
            if high {
                level.set(src as usize, true);
            }
        }
        self.level = level;
        // Sources not in service follow their line; source 0 is never pending.
        let mut follow = level;
        follow.set(0, false);
        for ((p, &s), &l) in self
            .pending
            .0
            .iter_mut()
            .zip(&self.in_service.0)
            .zip(&follow.0)
        {
            *p = (*p & s) | (l & !s);
        }
    }

    fn interrupt_bits(&self, hart: usize) -> u64 {
        let (m, s) = (2 * hart, 2 * hart + 1);
        if s >= self.contexts() {
            return 0;
        }
        let mut bits = 0;
        if self.best_candidate(m) != 0 {
            bits |= MIP_MEIP;
        }
        if self.best_candidate(s) != 0 {
            bits |= MIP_SEIP;
        }
        bits
    }
}

impl Plic {
    /// Snapshot state (`emu run --save`).
    fn write_snapshot(
        &self,
        w: &mut crate::snapshot::format::Writer,
    ) -> crate::snapshot::format::Result<()> {
        for i in 0..SOURCES {
            w.u32(self.priority[i]);
            w.bool(self.level.get(i));
            w.bool(self.pending.get(i));
            w.bool(self.in_service.get(i));
        }
        w.u64(self.enable.len() as u64);
        for (words, &threshold) in self.enable.iter().zip(&self.threshold) {
            for &word in words {
                w.u32(word);
            }
            w.u32(threshold);
        }
        Ok(())
    }

    fn read_snapshot(
        &mut self,
        r: &mut crate::snapshot::format::Reader,
    ) -> crate::snapshot::format::Result<()> {
        for i in 0..SOURCES {
            self.priority[i] = r.u32()?;
            self.level.set(i, r.bool()?);
            self.pending.set(i, r.bool()?);
            self.in_service.set(i, r.bool()?);
        }
        if r.u64()? != self.enable.len() as u64 {
            return Err(r.error("has another number of contexts"));
        }
        for (words, threshold) in self.enable.iter_mut().zip(&mut self.threshold) {
            for word in words.iter_mut() {
                *word = r.u32()?;
            }
            *threshold = r.u32()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S_CTX1_ENABLE: u64 = ENABLE_BASE + ENABLE_STRIDE; // hart 0, S
    const S_CTX1_THRESHOLD: u64 = CONTEXT_BASE + CONTEXT_STRIDE;
    const S_CTX1_CLAIM: u64 = CONTEXT_BASE + CONTEXT_STRIDE + 4;

    fn ram() -> Ram {
        Ram::new(0x8000_0000, 0x1000)
    }

    fn w(p: &mut Plic, off: u64, v: u64) {
        p.write(off, 4, v, &mut ram()).unwrap();
    }

    fn r(p: &mut Plic, off: u64) -> u64 {
        p.read(off, 4, &mut ram()).unwrap()
    }

    #[test]
    fn level_makes_pending_and_claim_complete_cycle() {
        let mut p = Plic::new(1);
        w(&mut p, 4 * 10, 1);
        w(&mut p, S_CTX1_ENABLE, 1 << 10);
        p.set_source_levels(&[(10, true)]);
        assert_eq!(r(&mut p, PENDING_BASE), 1 << 10);
        assert_eq!(p.interrupt_bits(0), MIP_SEIP);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 10);
        assert_eq!(r(&mut p, PENDING_BASE), 0);
        assert_eq!(p.interrupt_bits(0), 0);
        // In service: the line staying high does not pend it again until completion.
        p.set_source_levels(&[(10, true)]);
        assert_eq!(p.interrupt_bits(0), 0);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 0);
        w(&mut p, S_CTX1_CLAIM, 10);
        p.set_source_levels(&[(10, true)]);
        assert_eq!(p.interrupt_bits(0), MIP_SEIP);
        // A dropped line withdraws an unclaimed request.
        p.set_source_levels(&[(10, false)]);
        assert_eq!(p.interrupt_bits(0), 0);
    }

    #[test]
    fn m_context_drives_meip() {
        let mut p = Plic::new(2);
        w(&mut p, 4 * 3, 2);
        // Context 2 = hart 1 M-mode.
        w(&mut p, ENABLE_BASE + 2 * ENABLE_STRIDE, 1 << 3);
        p.set_source_levels(&[(3, true)]);
        assert_eq!(p.interrupt_bits(1), MIP_MEIP);
        assert_eq!(p.interrupt_bits(0), 0);
        assert_eq!(r(&mut p, CONTEXT_BASE + 2 * CONTEXT_STRIDE + 4), 3);
    }

    #[test]
    fn priority_threshold_and_tie_break() {
        let mut p = Plic::new(1);
        for (src, prio) in [(5, 2), (7, 3), (9, 3), (40, 1)] {
            w(&mut p, 4 * src, prio);
        }
        w(&mut p, S_CTX1_ENABLE, (1 << 5) | (1 << 7) | (1 << 9));
        w(&mut p, S_CTX1_ENABLE + 4, 1 << (40 - 32));
        p.set_source_levels(&[(5, true), (7, true), (9, true), (40, true)]);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 7);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 9);
        w(&mut p, S_CTX1_THRESHOLD, 2);
        assert_eq!(p.interrupt_bits(0), 0);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 0);
        w(&mut p, S_CTX1_THRESHOLD, 0);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 5);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 40);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 0);
    }

    /// Sources on either side of the set's 64-bit words and in every pending word:
    /// pending bits as the guest reads them, claims by priority then lowest id.
    #[test]
    fn sources_across_words_pend_and_claim() {
        let mut p = Plic::new(1);
        let sources = [1usize, 31, 32, 63, 64, 65, 95, 96];
        for &src in &sources {
            w(&mut p, 4 * src as u64, 1);
        }
        for word in 0..4u64 {
            w(&mut p, S_CTX1_ENABLE + 4 * word, u32::MAX as u64);
        }
        w(&mut p, 4 * 65, 2);
        let levels: Vec<(u32, bool)> = sources.iter().map(|&s| (s as u32, true)).collect();
        p.set_source_levels(&levels);
        let pending: Vec<u64> = (0..4)
            .map(|word| r(&mut p, PENDING_BASE + 4 * word))
            .collect();
        assert_eq!(
            pending,
            [1 << 1 | 1 << 31, 1 | 1 << 31, 1 | 1 << 1 | 1 << 31, 1]
        );
        let claims: Vec<u64> = (0..9).map(|_| r(&mut p, S_CTX1_CLAIM)).collect();
        assert_eq!(claims, [65, 1, 31, 32, 63, 64, 95, 96, 0]);
        // Completed, still high: pending again; dropped while in service: not.
        w(&mut p, S_CTX1_CLAIM, 96);
        let mut low = levels.clone();
        low[7].1 = true;
        low[6].1 = false;
        w(&mut p, S_CTX1_CLAIM, 95);
        p.set_source_levels(&low);
        assert_eq!(r(&mut p, PENDING_BASE + 12), 1);
        assert_eq!(r(&mut p, PENDING_BASE + 8) & 1 << 31, 0);
    }

    #[test]
    fn zero_priority_never_interrupts_and_disabled_sources_are_not_claimed() {
        let mut p = Plic::new(1);
        w(&mut p, S_CTX1_ENABLE, 1 << 4);
        p.set_source_levels(&[(4, true), (6, true)]);
        assert_eq!(p.interrupt_bits(0), 0);
        w(&mut p, 4 * 6, 1);
        assert_eq!(p.interrupt_bits(0), 0);
        assert_eq!(r(&mut p, S_CTX1_CLAIM), 0);
    }

    #[test]
    fn source_zero_and_out_of_range_bits_are_hardwired() {
        let mut p = Plic::new(1);
        w(&mut p, 0, 7);
        assert_eq!(r(&mut p, 0), 0);
        w(&mut p, S_CTX1_ENABLE, u32::MAX as u64);
        assert_eq!(r(&mut p, S_CTX1_ENABLE), 0xffff_fffe);
        w(&mut p, S_CTX1_ENABLE + 12, u32::MAX as u64);
        assert_eq!(r(&mut p, S_CTX1_ENABLE + 12), 1);
        w(&mut p, 4 * 8, 0xff);
        assert_eq!(r(&mut p, 4 * 8), 7);
        // Sources beyond ndev and contexts beyond the harts are inert.
        p.set_source_levels(&[(200, true)]);
        assert_eq!(p.interrupt_bits(5), 0);
        assert_eq!(r(&mut p, CONTEXT_BASE + 9 * CONTEXT_STRIDE + 4), 0);
    }

    #[test]
    fn only_aligned_word_accesses() {
        let mut p = Plic::new(1);
        assert!(p.read(0, 8, &mut ram()).is_err());
        assert!(p.write(2, 4, 0, &mut ram()).is_err());
    }
}

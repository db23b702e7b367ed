//! Page-table entries of Sv39/Sv48/Sv57 (all three share one PTE format).

use std::fmt;

/// Bits 63:54 of a PTE.
///
/// This is the one place that records which PTE extensions we implement: none of them.
/// Svnapot (bit 63) and Svpbmt (bits 62:61) are not implemented, so all ten bits are
/// reserved and a PTE (leaf or not) with any of them set is a page fault, as the spec
/// requires of an implementation without those extensions.
pub const PTE_RESERVED_MASK: u64 = 0xffc0_0000_0000_0000;

/// Width of the PPN field (bits 53:10).
pub const PPN_BITS: u32 = 44;
const PPN_MASK: u64 = (1 << PPN_BITS) - 1;

/// Number of page sizes a walker can produce: 4 KiB, 2 MiB, 1 GiB, 512 GiB, 256 TiB
/// (a leaf at level 0..=4; level 4 exists only in Sv57, level 3 from Sv48 on).
pub const PAGE_SIZES: usize = 5;

/// log2 of the size of a page whose leaf sits at `level`.
#[inline]
pub const fn page_shift(level: u8) -> u32 {
    12 + 9 * level as u32
}

/// Human name of the page size of a leaf at `level`.
pub fn page_size_name(level: u8) -> &'static str {
    match level {
        0 => "4K",
        1 => "2M",
        2 => "1G",
        3 => "512G",
        4 => "256T",
        _ => "?",
    }
}

/// The low eight flag bits of a PTE.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PteFlags(pub u8);

impl PteFlags {
    pub const V: u8 = 1 << 0;
    pub const R: u8 = 1 << 1;
    pub const W: u8 = 1 << 2;
    pub const X: u8 = 1 << 3;
    pub const U: u8 = 1 << 4;
    pub const G: u8 = 1 << 5;
    pub const A: u8 = 1 << 6;
    pub const D: u8 = 1 << 7;

    #[inline]
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

impl fmt::Display for PteFlags {
    /// `DAGUXWRV` order, like the spec's figure, with `-` for clear bits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [char; 8] = ['D', 'A', 'G', 'U', 'X', 'W', 'R', 'V'];
        for (i, c) in NAMES.iter().enumerate() {
            let bit = 7 - i;
            let shown = if self.0 & (1 << bit) != 0 { *c } else { '-' };
            write!(f, "{shown}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PteFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One 64-bit page-table entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pte(pub u64);

impl Pte {
    /// A PTE pointing at physical page number `ppn` with `flags`.
    #[inline]
    pub fn new(ppn: u64, flags: u8) -> Pte {
        Pte(((ppn & PPN_MASK) << 10) | flags as u64)
    }

    #[inline]
    pub fn flags(self) -> PteFlags {
        PteFlags(self.0 as u8)
    }

    #[inline]
    pub fn has(self, bits: u8) -> bool {
        self.flags().has(bits)
    }

    #[inline]
    pub fn ppn(self) -> u64 {
        (self.0 >> 10) & PPN_MASK
    }

    /// A leaf has R or X set; anything else valid points to the next level.
    #[inline]
    pub fn is_leaf(self) -> bool {
        self.0 & (PteFlags::R | PteFlags::X) as u64 != 0
    }

    /// V=0, W without R, or a reserved bit: the walk stops with a page fault.
    #[inline]
    pub fn is_invalid(self) -> bool {
        let f = self.0 as u8;
        f & PteFlags::V == 0
            || f & (PteFlags::R | PteFlags::W) == PteFlags::W
            || self.0 & PTE_RESERVED_MASK != 0
    }
}

impl fmt::Debug for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#018x} (ppn={:#x} {})",
            self.0,
            self.ppn(),
            self.flags()
        )
    }
}

impl fmt::Display for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let p = Pte::new(0x0123_4567_89ab, PteFlags::V | PteFlags::R | PteFlags::D);
        assert_eq!(p.ppn(), 0x0123_4567_89ab);
        assert!(p.is_leaf());
        assert!(!p.is_invalid());
        assert_eq!(p.flags().to_string(), "D-----RV");
    }

    #[test]
    fn invalid_encodings() {
        assert!(Pte(0).is_invalid());
        assert!(Pte::new(1, PteFlags::V | PteFlags::W).is_invalid());
        assert!(Pte(Pte::new(1, PteFlags::V | PteFlags::R).0 | 1 << 63).is_invalid());
        assert!(Pte(Pte::new(1, PteFlags::V | PteFlags::R).0 | 1 << 54).is_invalid());
        // RSW bits 9:8 are for software and never make a PTE invalid.
        assert!(!Pte(Pte::new(1, PteFlags::V).0 | 0x300).is_invalid());
    }
}

//! The kernel's own symbol table, read out of a stock Linux `Image` through its kallsyms
//! tables, for kernels shipped without an ELF symbol table or a usable System.map.
//!
//! With `CONFIG_KALLSYMS` the kernel carries, in its read-only data, everything that
//! `/proc/kallsyms` prints. The build (Linux's scripts/kallsyms) emits these arrays, each
//! aligned to 8 bytes on a 64-bit kernel, in this order since Linux 6.4:
//!
//! - `kallsyms_num_syms`: a u32, the number of symbols N;
//! - `kallsyms_names`: N entries, each a length (one byte, or two when the first has bit 7
//!   set: a little-endian base-128 number below 0x4000) followed by that many token codes;
//!   the first expanded character is the symbol's type letter (`T`, `t`, `D`, `B`, ...);
//! - `kallsyms_markers`: one u32 per 256 symbols, the offset in `kallsyms_names` of
//!   entry 256·k;
//! - `kallsyms_token_table`: 256 NUL-terminated strings, the expansion of each code (a
//!   character that occurs in some name stands for itself);
//! - `kallsyms_token_index`: 256 u16 offsets of those strings in the token table;
//! - `kallsyms_offsets`: N u32s, each symbol's address minus `kallsyms_relative_base`,
//!   in address order;
//! - `kallsyms_relative_base`: a u64, the lowest symbol's address (the link address;
//!   riscv64's is `_start`, the Image's first byte);
//! - `kallsyms_seqs_of_names`: the name-sorted permutation (not needed here).
//!
//! Before 6.4 the offsets and the relative base came first (before `kallsyms_num_syms`);
//! both placements are tried. None of these arrays has a symbol of its own in a stripped
//! Image, so they are found by their structure: the token table holds the ten digits as
//! ten consecutive one-character strings at codes 0x30..0x39 (every kernel has names with
//! all ten digits), its index must follow it exactly, the markers end just before it, and
//! `kallsyms_names` is the one stretch before the markers whose entries, decoded, land
//! on every marker and end at the markers. Every read is bounds-checked: arbitrary bytes
//! give an error, never a panic.

/// One symbol as `/proc/kallsyms` would print it with kptr_restrict=0, at its link
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    pub addr: u64,
    /// The `nm`-style type letter: `T`/`t` text, `D`/`d` data, `B`/`b` BSS, `R`/`r`
    /// read-only data, ...
    pub kind: char,
    pub name: String,
}

/// The recovered table and where its parts were found (file offsets into the Image).
#[derive(Debug, Clone)]
pub struct Kallsyms {
    /// In address order, as the kernel stores them.
    pub symbols: Vec<KernelSymbol>,
    /// `kallsyms_relative_base`: the lowest symbol's link address.
    pub relative_base: u64,
    pub names_offset: usize,
    pub token_table_offset: usize,
}

impl Kallsyms {
    /// The link address of the Image's first byte: `_start` where the table has it
    /// (riscv64 and arm64 Images begin with it), else the lowest symbol.
    pub fn image_base(&self) -> u64 {
        self.lookup_name("_start").unwrap_or(self.relative_base)
    }

    /// The link address of the first symbol called `name`.
    pub fn lookup_name(&self, name: &str) -> Option<u64> {
        self.symbols.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

/// The ten digits as one-character strings, as they sit at codes 0x30..0x39.
const DIGIT_TOKENS: &[u8; 20] = b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00";
/// No real symbol name is longer than this (KSYM_NAME_LEN is 512 in current kernels).
const MAX_NAME: usize = 512;
/// A names entry's length is at most two base-128 bytes.
const MAX_ENTRY: usize = 0x3fff;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

fn align8(x: usize) -> Option<usize> {
    x.checked_add(7).map(|v| v & !7)
}

/// The 256 token strings and the offset just past `kallsyms_token_index`.
struct Tokens<'a> {
    start: usize,
    strings: Vec<&'a [u8]>,
    index_end: usize,
}

/// Given the offset of the "0" token, walk back to the start of the table, read 256
/// strings and check that the index array that must follow them does. String 0 may be
/// empty or preceded by padding, so its start comes from the index (its entry 1 is the
/// length of string 0 plus its NUL).
fn token_table_at(d: &[u8], digits: usize) -> Option<Tokens<'_>> {
    // String 0x30 starts at `digits`; each earlier string ends with the NUL just before
    // the next one starts. Walk back to string 1.
    let mut second = digits;
    for _ in 1..0x30 {
        let nul = second.checked_sub(1)?;
        if d.get(nul) != Some(&0) {
            return None;
        }
        let from = d.get(..nul)?.iter().rposition(|&b| b == 0)? + 1;
        if nul - from > MAX_NAME {
            return None;
        }
        second = from;
    }
    let mut strings = Vec::with_capacity(256);
    let mut at = second;
    for _ in 1..256 {
        let rest = d.get(at..)?;
        let len = rest.iter().take(MAX_NAME + 1).position(|&b| b == 0)?;
        strings.push(&rest[..len]);
        at += len + 1;
    }
    let index = align8(at)?;
    let start = second.checked_sub(usize::from(u16_at(d, index + 2)?))?;
    let first = d.get(start..second.checked_sub(1)?)?;
    if first.contains(&0) || d.get(second - 1) != Some(&0) || at - start > usize::from(u16::MAX) {
        return None;
    }
    strings.insert(0, first);
    let mut offset = 0usize;
    for (i, s) in strings.iter().enumerate() {
        if usize::from(u16_at(d, index + 2 * i)?) != offset {
            return None;
        }
        offset += s.len() + 1;
    }
    Some(Tokens {
        start,
        strings,
        index_end: index + 512,
    })
}

/// Candidate `kallsyms_markers` arrays ending just before the token table: the array's
/// first entry is 0 and the entries increase. Returns (offset of the array, entries).
fn markers_before(d: &[u8], table: usize) -> Vec<(usize, Vec<u32>)> {
    let mut out = Vec::new();
    // The markers end on a 4-byte boundary and the table starts on an 8-byte one, so the
    // last marker is either the word just before the table or the one before that.
    for gap in [4usize, 8] {
        let Some(mut at) = table.checked_sub(gap) else {
            continue;
        };
        if gap == 8 && u32_at(d, table - 4) != Some(0) {
            continue;
        }
        let mut rev = Vec::new();
        let mut prev = u32::MAX;
        while let Some(v) = u32_at(d, at) {
            if v >= prev || rev.len() > 1 << 16 {
                break;
            }
            rev.push(v);
            if v == 0 {
                rev.reverse();
                out.push((at, rev));
                break;
            }
            prev = v;
            let Some(next) = at.checked_sub(4) else { break };
            at = next;
        }
    }
    out
}

/// Reads one names entry at `at`: (offset of its codes, their count).
fn entry_at(d: &[u8], at: usize) -> Option<(usize, usize)> {
    let b0 = *d.get(at)?;
    if b0 & 0x80 == 0 {
        return Some((at + 1, usize::from(b0)));
    }
    let b1 = *d.get(at + 1)?;
    if b1 & 0x80 != 0 {
        return None;
    }
    Some((at + 2, usize::from(b0 & 0x7f) | usize::from(b1) << 7))
}

/// Walks `n` entries from `start`, checking each against the markers; returns where the
/// entries end.
fn names_fit(d: &[u8], start: usize, n: usize, markers: &[u32]) -> Option<usize> {
    let mut at = start;
    for i in 0..n {
        if i % 256 == 0 && markers.get(i / 256).map(|&m| m as usize) != Some(at - start) {
            return None;
        }
        let (codes, len) = entry_at(d, at)?;
        if len == 0 || len > MAX_ENTRY {
            return None;
        }
        at = codes.checked_add(len)?;
        if at > d.len() {
            return None;
        }
    }
    Some(at)
}

/// Finds `kallsyms_names` (and `kallsyms_num_syms` 8 bytes before it) for markers at
/// `markers_at`: returns (names offset, symbol count).
fn find_names(d: &[u8], markers_at: usize, markers: &[u32]) -> Option<(usize, usize)> {
    let last = *markers.last()? as usize;
    // The last marker's entry is at `names + last`, and at most 255 entries follow it.
    let hi = markers_at.checked_sub(last)? & !7;
    let lo = hi.saturating_sub(256 * (MAX_ENTRY + 2));
    let mut start = hi;
    while start >= lo.max(8) {
        if let Some(n) = u32_at(d, start - 8) {
            let n = n as usize;
            if n > 0 && n.div_ceil(256) == markers.len() {
                if let Some(end) = names_fit(d, start, n, markers) {
                    if end <= markers_at && markers_at - end < 8 {
                        return Some((start, n));
                    }
                }
            }
        }
        start -= 8;
    }
    None
}

/// The N offsets and the relative base, from the layout of Linux 6.4 and later (after
/// the token index) or the earlier one (before `kallsyms_num_syms`). They must be in
/// address order.
fn offsets(d: &[u8], tokens: &Tokens, names_at: usize, n: usize) -> Option<(Vec<u32>, u64)> {
    let bytes = n.checked_mul(4)?;
    let after_index = align8(tokens.index_end)?;
    let mut candidates = vec![(after_index, align8(after_index.checked_add(bytes)?)?)];
    // Before 6.4: offsets, then the base, then kallsyms_num_syms 8 bytes before the names.
    if let Some(base_at) = names_at.checked_sub(16) {
        if let Some(off_at) = base_at.checked_sub(bytes) {
            candidates.push((off_at & !7, base_at));
        }
    }
    for (off_at, base_at) in candidates {
        let Some(raw) = d.get(off_at..off_at + bytes) else {
            continue;
        };
        let offs: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let sorted = offs.windows(2).all(|w| w[0] <= w[1]);
        if offs.first() == Some(&0) && sorted {
            if let Some(base) = u64_at(d, base_at) {
                return Some((offs, base));
            }
        }
    }
    None
}

/// Expands one entry's `len` codes at `codes` into `name` (emptied first): the type
/// letter and then the name. False if the entry is too short or too long.
fn expand(d: &[u8], tokens: &Tokens, codes: usize, len: usize, name: &mut Vec<u8>) -> bool {
    name.clear();
    let Some(codes) = d.get(codes..codes + len) else {
        return false;
    };
    for &c in codes {
        name.extend_from_slice(tokens.strings[usize::from(c)]);
    }
    (2..=MAX_NAME + 1).contains(&name.len())
}

/// Recover the symbol table of a Linux Image. The error says why none was found.
pub fn find(image: &[u8]) -> Result<Kallsyms, String> {
    let mut any_table = false;
    // A vectorised search: comparing every 20-byte window of a 20-30 MiB Image took
    // ~50 ms at the start of every run that names kernel symbols (--stats, traces).
    for digits in memchr::memmem::find_iter(image, DIGIT_TOKENS) {
        let Some(tokens) = token_table_at(image, digits) else {
            continue;
        };
        any_table = true;
        for (markers_at, markers) in markers_before(image, tokens.start) {
            let Some((names_at, n)) = find_names(image, markers_at, &markers) else {
                continue;
            };
            let Some((offs, base)) = offsets(image, &tokens, names_at, n) else {
                continue;
            };
            let mut symbols = Vec::with_capacity(n);
            let mut at = names_at;
            let mut ok = true;
            // One buffer for every expansion: a distribution kernel has some 100 k
            // symbols, and allocating twice per symbol was most of the search's time.
            let mut full = Vec::with_capacity(MAX_NAME + 1);
            for off in offs {
                let Some((codes, len)) = entry_at(image, at) else {
                    ok = false;
                    break;
                };
                at = codes + len;
                if !expand(image, &tokens, codes, len, &mut full) {
                    ok = false;
                    break;
                }
                // The type is one ASCII letter (checked below); a name that is not
                // UTF-8 is not a kallsyms table's.
                let Ok(name) = std::str::from_utf8(&full[1..]) else {
                    ok = false;
                    break;
                };
                symbols.push(KernelSymbol {
                    addr: base.wrapping_add(u64::from(off)),
                    kind: char::from(full[0]),
                    name: name.to_string(),
                });
            }
            if ok && symbols.iter().all(|s| s.kind.is_ascii_alphabetic()) {
                return Ok(Kallsyms {
                    symbols,
                    relative_base: base,
                    names_offset: names_at,
                    token_table_offset: tokens.start,
                });
            }
        }
    }
    Err(if any_table {
        "a kallsyms token table is present but its names, markers or offsets are not where \
         Linux puts them"
            .into()
    } else {
        "no kallsyms tables (a kernel built without CONFIG_KALLSYMS, or not a Linux Image)".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lays out a tiny table the way Linux 6.4+ does, with names compressed through a
    /// few tokens, at a given file offset inside a junk-filled buffer.
    fn build(symbols: &[(u64, &str)], lead: usize) -> Vec<u8> {
        let mut tokens: Vec<Vec<u8>> = (0..256u16).map(|c| vec![c as u8]).collect();
        // Codes 0x01..0x03 are unused characters; make them tokens.
        tokens[1] = b"start".to_vec();
        tokens[2] = b"_ke".to_vec();
        tokens[3] = b"rnel".to_vec();
        tokens[0] = Vec::new();
        let encode = |s: &str| -> Vec<u8> {
            let mut out = Vec::new();
            let mut rest = s.as_bytes();
            'outer: while let Some(&c) = rest.first() {
                for code in 1..4u8 {
                    let t = &tokens[usize::from(code)];
                    if rest.starts_with(t) {
                        out.push(code);
                        rest = &rest[t.len()..];
                        continue 'outer;
                    }
                }
                out.push(c);
                rest = &rest[1..];
            }
            out
        };
        let mut d = vec![0x5au8; lead];
        let pad8 = |d: &mut Vec<u8>| {
            while !d.len().is_multiple_of(8) {
                d.push(0);
            }
        };
        pad8(&mut d);
        d.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
        pad8(&mut d);
        let names = d.len();
        let mut markers = Vec::new();
        for (i, (_, s)) in symbols.iter().enumerate() {
            if i % 256 == 0 {
                markers.push((d.len() - names) as u32);
            }
            let codes = encode(s);
            d.push(codes.len() as u8);
            d.extend_from_slice(&codes);
        }
        pad8(&mut d);
        for m in markers {
            d.extend_from_slice(&m.to_le_bytes());
        }
        pad8(&mut d);
        let mut index = Vec::new();
        let table = d.len();
        for t in &tokens {
            index.push((d.len() - table) as u16);
            d.extend_from_slice(t);
            d.push(0);
        }
        pad8(&mut d);
        for i in index {
            d.extend_from_slice(&i.to_le_bytes());
        }
        pad8(&mut d);
        let base = symbols[0].0;
        for (a, _) in symbols {
            d.extend_from_slice(&((a - base) as u32).to_le_bytes());
        }
        pad8(&mut d);
        d.extend_from_slice(&base.to_le_bytes());
        d.extend_from_slice(&[0xa5; 64]);
        d
    }

    fn sample() -> Vec<(u64, String)> {
        let mut v = vec![
            (0xffff_ffff_8000_0000, "T_start".to_string()),
            (0xffff_ffff_8000_2000, "T_text".to_string()),
        ];
        // Enough symbols for two markers, with the digits 0-9 in their names.
        for i in 0..300u64 {
            v.push((
                0xffff_ffff_8000_3000 + i * 0x40,
                format!("tstart_kernel_{i}"),
            ));
        }
        v.push((0xffff_ffff_8100_0000, "Bswapper_pg_dir".to_string()));
        v
    }

    #[test]
    fn reads_back_a_built_table_at_any_offset() {
        let syms = sample();
        let refs: Vec<(u64, &str)> = syms.iter().map(|(a, s)| (*a, s.as_str())).collect();
        for lead in [0usize, 13, 4096] {
            let image = build(&refs, lead);
            let k = find(&image).expect("table found");
            assert_eq!(k.symbols.len(), syms.len());
            assert_eq!(k.relative_base, 0xffff_ffff_8000_0000);
            for (got, (addr, full)) in k.symbols.iter().zip(&syms) {
                assert_eq!(got.addr, *addr);
                assert_eq!(format!("{}{}", got.kind, got.name), *full);
            }
            assert_eq!(k.image_base(), 0xffff_ffff_8000_0000);
            assert_eq!(k.lookup_name("swapper_pg_dir"), Some(0xffff_ffff_8100_0000));
        }
    }

    #[test]
    fn damaged_tables_are_errors_not_panics() {
        let syms = sample();
        let refs: Vec<(u64, &str)> = syms.iter().map(|(a, s)| (*a, s.as_str())).collect();
        let image = build(&refs, 64);
        assert!(find(&image[..image.len() / 2]).is_err());
        assert!(find(&[]).is_err());
        assert!(find(DIGIT_TOKENS).is_err());
        // Flipping any one byte either still yields a table or an error.
        for i in (0..image.len()).step_by(7) {
            let mut bad = image.clone();
            bad[i] ^= 0xff;
            let _ = find(&bad);
        }
    }
}

//! The snapshot file: header, tagged sections, checksum (docs/snapshot-format.md), and
//! the little-endian [`Writer`]/[`Reader`] every component's state goes through.
//!
//! The reader never trusts a length: every read is bounds-checked and returns a
//! [`SnapError`] naming what was wrong, so any input (truncated, corrupt, hostile) gives
//! one error, never a panic or an allocation the file's size does not justify.

use std::fmt;

/// First bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"EMUSNAP\0";
/// Format version; a reader accepts exactly this one.
pub const VERSION: u32 = 3;
/// Bytes of the header: magic, version, section count.
const HEADER_LEN: usize = 8 + 4 + 4;
/// Bytes of a section header: tag and payload length.
const SECTION_HEADER_LEN: usize = 4 + 8;
/// The RAM section's page size and the most pages one compressed chunk holds.
pub const PAGE: usize = 4096;
const CHUNK_PAGES: usize = 256;

/// What is wrong with a snapshot (one sentence, without the file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapError(pub String);

impl fmt::Display for SnapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl SnapError {
    pub fn new(msg: impl Into<String>) -> SnapError {
        SnapError(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, SnapError>;

/// Appends little-endian values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64s(&mut self, v: &[u64]) {
        for &x in v {
            self.u64(x);
        }
    }
    /// A length-prefixed byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(x) => {
                self.u8(1);
                self.u64(x);
            }
            None => self.u8(0),
        }
    }
}

/// Reads what a [`Writer`] wrote; every read is checked against the end.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// What is being read, for error messages ("hart 0", "device uart0").
    what: String,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: impl Into<String>) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            what: what.into(),
        }
    }

    pub fn error(&self, msg: impl fmt::Display) -> SnapError {
        SnapError(format!("{} {msg}", self.what))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.error("ends early (the file is truncated or corrupt)"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(format!("holds {b} where a flag (0 or 1) belongs"))),
        }
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn u64s<const N: usize>(&mut self) -> Result<[u64; N]> {
        let mut a = [0; N];
        for x in &mut a {
            *x = self.u64()?;
        }
        Ok(a)
    }
    /// A length that counts items of at least `item_size` bytes each: never more than
    /// the bytes left could hold, so a corrupt length cannot make us allocate.
    pub fn len(&mut self, item_size: usize) -> Result<usize> {
        let n = self.u64()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(item_size.max(1) as u64) > left {
            return Err(self.error(format!("claims {n} items, more than its {left} bytes hold")));
        }
        Ok(n as usize)
    }
    /// A count that must not exceed `max`.
    pub fn count(&mut self, max: usize) -> Result<usize> {
        let n = self.u64()?;
        if n > max as u64 {
            return Err(self.error(format!("holds a count of {n} where at most {max} fit")));
        }
        Ok(n as usize)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.error("holds a name that is not UTF-8"))
    }
    pub fn opt_u64(&mut self) -> Result<Option<u64>> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }
    /// Everything must have been read: leftover bytes mean a different layout.
    pub fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(self.error(format!(
                "has {} bytes more than its layout",
                self.buf.len() - self.pos
            )));
        }
        Ok(())
    }
}

/// Section tags.
pub mod tag {
    pub const CONFIG: [u8; 4] = *b"CONF";
    pub const MACHINE: [u8; 4] = *b"MACH";
    pub const HART: [u8; 4] = *b"HART";
    pub const DEVICES: [u8; 4] = *b"DEVS";
    pub const RAM: [u8; 4] = *b"RAM ";
    pub const DISKS: [u8; 4] = *b"DISK";
}

/// A snapshot file under construction or just read: its sections in order.
#[derive(Debug, Default)]
pub struct File {
    pub sections: Vec<([u8; 4], Vec<u8>)>,
}

fn tag_name(t: [u8; 4]) -> String {
    t.iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect::<String>()
        .trim_end()
        .to_string()
}

impl File {
    pub fn push(&mut self, tag: [u8; 4], payload: Vec<u8>) {
        self.sections.push((tag, payload));
    }

    /// The whole file: header, sections, CRC-32 of everything before it.
    pub fn encode(&self) -> Vec<u8> {
        let total: usize = self
            .sections
            .iter()
            .map(|(_, p)| SECTION_HEADER_LEN + p.len())
            .sum();
        let mut out = Vec::with_capacity(HEADER_LEN + total + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.sections.len() as u32).to_le_bytes());
        for (t, p) in &self.sections {
            out.extend_from_slice(t);
            out.extend_from_slice(&(p.len() as u64).to_le_bytes());
            out.extend_from_slice(p);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// `body` (a file without its checksum) with the checksum appended: for tests and
    /// fuzzing, which change files and want the reader to look past the checksum.
    pub fn seal(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        out
    }

    /// Parse and check a whole file: magic, version, checksum, section bounds.
    pub fn decode(data: &[u8]) -> Result<File> {
        if data.len() < MAGIC.len() || data[..MAGIC.len()] != MAGIC {
            return Err(SnapError::new("not an emu snapshot (wrong magic)"));
        }
        if data.len() < HEADER_LEN + 4 {
            return Err(SnapError::new("truncated (shorter than its header)"));
        }
        let mut header = Reader::new(&data[MAGIC.len()..HEADER_LEN], "header");
        let version = header.u32()?;
        if version != VERSION {
            return Err(SnapError::new(format!(
                "format version {version}; this emu reads version {VERSION} only"
            )));
        }
        let count = header.u32()? as usize;
        let (body, crc) = data.split_at(data.len() - 4);
        let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(body) != want {
            return Err(SnapError::new(
                "corrupt or truncated (its checksum does not match)",
            ));
        }
        let mut r = Reader::new(&body[HEADER_LEN..], "section table");
        let mut file = File::default();
        for _ in 0..count {
            let t: [u8; 4] = r.array()?;
            let len = r.u64()?;
            let len = usize::try_from(len).map_err(|_| r.error("has an impossible length"))?;
            let payload = r
                .take(len)
                .map_err(|_| SnapError(format!("section {} ends early", tag_name(t))))?;
            file.sections.push((t, payload.to_vec()));
        }
        r.finish()?;
        Ok(file)
    }

    /// The only section with this tag.
    pub fn one(&self, t: [u8; 4]) -> Result<&[u8]> {
        let mut found = self.sections.iter().filter(|(s, _)| *s == t);
        match (found.next(), found.next()) {
            (Some((_, p)), None) => Ok(p),
            (None, _) => Err(SnapError(format!("no {} section", tag_name(t)))),
            (Some(_), Some(_)) => Err(SnapError(format!("more than one {} section", tag_name(t)))),
        }
    }

    /// Every section with this tag, in file order.
    pub fn all(&self, t: [u8; 4]) -> Vec<&[u8]> {
        self.sections
            .iter()
            .filter(|(s, _)| *s == t)
            .map(|(_, p)| p.as_slice())
            .collect()
    }
}

/// RAM as runs of non-zero pages, each run compressed with LZ4 (block format).
pub fn encode_ram(ram: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u64(ram.len() as u64);
    let pages = ram.len() / PAGE;
    let zero = |p: usize| page_is_zero(&ram[p * PAGE..(p + 1) * PAGE]);
    let mut p = 0;
    while p < pages {
        if zero(p) {
            p += 1;
            continue;
        }
        let first = p;
        while p < pages && p - first < CHUNK_PAGES && !zero(p) {
            p += 1;
        }
        let packed = lz4_flex::block::compress(&ram[first * PAGE..p * PAGE]);
        w.u64(first as u64);
        w.u32((p - first) as u32);
        w.bytes(&packed);
    }
    // A run of no pages ends the list.
    w.u64(0);
    w.u32(0);
    w.buf
}

/// Fill `ram` (zeroed first) from [`encode_ram`]'s output; its size must match.
pub fn decode_ram(payload: &[u8], ram: &mut [u8]) -> Result<()> {
    let mut r = Reader::new(payload, "RAM section");
    let size = r.u64()?;
    if size != ram.len() as u64 {
        return Err(r.error(format!(
            "holds {size} bytes of RAM but the machine has {}",
            ram.len()
        )));
    }
    let pages = ram.len() / PAGE;
    // Pages the file leaves out are zero. Only those that are not are written: RAM the
    // machine never touched stays unbacked on the host.
    let clear = |ram: &mut [u8], from: usize, to: usize| {
        for p in from..to {
            let page = &mut ram[p * PAGE..(p + 1) * PAGE];
            if !page_is_zero(page) {
                page.fill(0);
            }
        }
    };
    let mut next_free = 0usize;
    loop {
        let first = r.u64()?;
        let n = r.u32()? as usize;
        if n == 0 {
            break;
        }
        let packed = r.bytes()?;
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        if n > CHUNK_PAGES || first < next_free || first > pages || n > pages - first {
            return Err(r.error(format!(
                "has a run of {n} pages at page {first} that does not fit its {pages} pages in order"
            )));
        }
        clear(ram, next_free, first);
        let out = &mut ram[first * PAGE..(first + n) * PAGE];
        match lz4_flex::block::decompress_into(packed, out) {
            Ok(len) if len == out.len() => {}
            _ => {
                return Err(r.error(format!(
                    "has a run at page {first} that does not decompress to {n} pages"
                )))
            }
        }
        next_free = first + n;
    }
    clear(ram, next_free, pages);
    r.finish()
}

/// Whether a page holds only zeros (an OR over it, which vectorizes; no early exit).
fn page_is_zero(page: &[u8]) -> bool {
    page.chunks_exact(64)
        .map(|c| c.iter().fold(0u8, |a, &b| a | b))
        .fold(0u8, |a, b| a | b)
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_round_trip_skips_zero_pages() {
        let mut ram = vec![0u8; 64 * PAGE];
        ram[5 * PAGE + 7] = 1;
        ram[6 * PAGE] = 2;
        ram[63 * PAGE + 4095] = 3;
        let enc = encode_ram(&ram);
        assert!(enc.len() < 3 * PAGE, "zero pages are not stored");
        let mut back = vec![0xffu8; 64 * PAGE];
        decode_ram(&enc, &mut back).unwrap();
        assert_eq!(back, ram);
    }

    #[test]
    fn file_checks_magic_version_and_checksum() {
        let mut f = File::default();
        f.push(tag::MACHINE, vec![1, 2, 3]);
        let bytes = f.encode();
        assert_eq!(
            File::decode(&bytes).unwrap().one(tag::MACHINE).unwrap(),
            &[1, 2, 3]
        );
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(File::decode(&bad).unwrap_err().0.contains("checksum"));
        let mut other = bytes.clone();
        other[8] = VERSION as u8 + 1;
        let want = format!("version {}", VERSION + 1);
        assert!(File::decode(&other).unwrap_err().0.contains(&want));
        for n in 0..bytes.len() {
            assert!(File::decode(&bytes[..n]).is_err());
        }
    }
}

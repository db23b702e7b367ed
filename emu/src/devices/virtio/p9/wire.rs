//! 9P message encoding: little-endian integers, strings as a 16-bit length and bytes.
//!
//! The reader never reads past the message it was given and never allocates more than the
//! message holds: every field is checked against what is left, so a hostile length gives
//! an error, not a panic or a large allocation.

/// The request is shorter than its fields say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated)?;
        let s = self.data.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// What is left of the message.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.data.get(self.pos..).unwrap_or_default();
        self.pos = self.data.len();
        s
    }

    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Truncated> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, Truncated> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64, Truncated> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn string(&mut self) -> Result<&'a [u8], Truncated> {
        let n = self.u16()? as usize;
        self.bytes(n)
    }
}

/// A reply under construction; [`Writer::finish`] fills in the size field.
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new(kind: u8, tag: u16) -> Self {
        let mut w = Writer {
            buf: Vec::with_capacity(64),
        };
        w.u32(0);
        w.u8(kind);
        w.u16(tag);
        w
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
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

    /// A string; callers keep it under 64 KiB (names are checked on the way in, and link
    /// targets are limited by the host's PATH_MAX).
    pub fn string(&mut self, s: &[u8]) {
        let n = s.len().min(u16::MAX as usize);
        self.u16(n as u16);
        self.buf.extend_from_slice(&s[..n]);
    }

    pub fn finish(mut self) -> Vec<u8> {
        let len = (self.buf.len() as u32).to_le_bytes();
        self.buf[..4].copy_from_slice(&len);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_lengths_past_the_end() {
        let mut r = Reader::new(&[5, 0, b'a', b'b']);
        assert_eq!(r.string(), Err(Truncated));
        let mut r = Reader::new(&[2, 0, b'a', b'b', 1]);
        assert_eq!(r.string(), Ok(&b"ab"[..]));
        assert_eq!(r.u16(), Err(Truncated));
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u8(), Err(Truncated));
    }

    #[test]
    fn writer_fills_in_the_size() {
        let mut w = Writer::new(101, 7);
        w.string(b"9P2000.L");
        let m = w.finish();
        assert_eq!(&m[..4], &(m.len() as u32).to_le_bytes());
        assert_eq!(&m[4..7], &[101, 7, 0]);
    }
}

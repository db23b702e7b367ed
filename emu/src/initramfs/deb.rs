//! Reading files out of a Debian package (`.deb`) without dpkg: the package is an `ar`
//! archive whose `data.tar.xz` (or uncompressed `data.tar`) member holds the files.
//! The tar stream is parsed as it is decompressed, so a 100 MB kernel package is never
//! held in memory whole.

use std::io::Write;

/// One file of the package's data archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File { path: String, mode: u32 },
    Dir { path: String },
    Symlink { path: String, target: String },
}

/// Find the `data.tar*` member of an ar archive: its name and bytes.
pub fn data_member(deb: &[u8]) -> Result<(&str, &[u8]), String> {
    let mut rest = deb
        .strip_prefix(b"!<arch>\n")
        .ok_or("not a Debian package (no ar signature)")?;
    while rest.len() >= 60 {
        let header = &rest[..60];
        let name = std::str::from_utf8(&header[..16])
            .map_err(|_| "a damaged ar member header")?
            .trim_end()
            .trim_end_matches('/');
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("a damaged ar member size")?;
        let body = rest.get(60..60 + size).ok_or("the package is truncated")?;
        if name.starts_with("data.tar") {
            return Ok((name, body));
        }
        rest = &rest[(60 + size + (size & 1)).min(rest.len())..];
    }
    Err("the package has no data.tar member".into())
}

/// Call `visit` for every entry of the package's data archive, with the file's bytes
/// for regular files; paths lose their leading `./`. `visit` returns false to stop early.
pub fn for_each_file(
    deb: &[u8],
    visit: &mut dyn FnMut(&Entry, &[u8]) -> bool,
) -> Result<(), String> {
    let (name, body) = data_member(deb)?;
    let mut sink = TarStream::new(visit);
    match name {
        "data.tar.xz" => {
            let mut input = body;
            match lzma_rs::xz_decompress(&mut input, &mut sink) {
                Ok(()) => {}
                // The visitor's early stop surfaces as a write error.
                Err(_) if sink.stopped => {}
                Err(e) => return Err(sink.error.take().unwrap_or(format!("{name}: {e}"))),
            }
        }
        "data.tar" => {
            if sink.write_all(body).is_err() && !sink.stopped {
                return Err(sink.error.take().unwrap_or_default());
            }
        }
        other => {
            return Err(format!(
                "its {other} is compressed in a way emu cannot read (it reads data.tar.xz and data.tar)"
            ))
        }
    }
    Ok(())
}

/// A tar parser fed by `Write`, one header or one file body at a time.
struct TarStream<'a> {
    visit: &'a mut dyn FnMut(&Entry, &[u8]) -> bool,
    buf: Vec<u8>,
    /// The entry whose body is being collected, its size and padded size.
    current: Option<(Header, usize, usize)>,
    /// A GNU long name or pax path for the next entry.
    long_name: Option<String>,
    long_link: Option<String>,
    stopped: bool,
    error: Option<String>,
    ended: bool,
}

#[derive(Debug, Clone)]
struct Header {
    name: String,
    link: String,
    kind: u8,
    mode: u32,
}

fn octal(field: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    usize::from_str_radix(s, 8).ok()
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

impl<'a> TarStream<'a> {
    fn new(visit: &'a mut dyn FnMut(&Entry, &[u8]) -> bool) -> Self {
        TarStream {
            visit,
            buf: Vec::new(),
            current: None,
            long_name: None,
            long_link: None,
            stopped: false,
            error: None,
            ended: false,
        }
    }

    fn fail(&mut self, why: String) -> std::io::Error {
        self.error = Some(why.clone());
        std::io::Error::other(why)
    }

    /// Consume complete pieces of `buf`.
    fn advance(&mut self) -> std::io::Result<()> {
        loop {
            if self.ended {
                self.buf.clear();
                return Ok(());
            }
            match self.current.take() {
                None => {
                    if self.buf.len() < 512 {
                        return Ok(());
                    }
                    let h: Vec<u8> = self.buf.drain(..512).collect();
                    if h.iter().all(|&b| b == 0) {
                        self.ended = true;
                        continue;
                    }
                    let size = octal(&h[124..136])
                        .ok_or_else(|| self.fail("a damaged tar header size".into()))?;
                    let mode = octal(&h[100..108]).unwrap_or(0o644) as u32;
                    let mut name = text(&h[0..100]);
                    if &h[257..262] == b"ustar" {
                        let prefix = text(&h[345..500]);
                        if !prefix.is_empty() {
                            name = format!("{prefix}/{name}");
                        }
                    }
                    let header = Header {
                        name,
                        link: text(&h[157..257]),
                        kind: h[156],
                        mode,
                    };
                    self.current = Some((header, size, size.next_multiple_of(512)));
                }
                Some((header, size, padded)) => {
                    if self.buf.len() < padded {
                        self.current = Some((header, size, padded));
                        return Ok(());
                    }
                    let body: Vec<u8> = self.buf.drain(..padded).collect();
                    self.entry(header, &body[..size])?;
                }
            }
        }
    }

    fn entry(&mut self, h: Header, body: &[u8]) -> std::io::Result<()> {
        match h.kind {
            b'L' => {
                self.long_name = Some(text(body));
                return Ok(());
            }
            b'K' => {
                self.long_link = Some(text(body));
                return Ok(());
            }
            b'x' => {
                // pax records "LEN key=value\n": only path and linkpath matter here.
                for rec in String::from_utf8_lossy(body).lines() {
                    if let Some((_, kv)) = rec.split_once(' ') {
                        if let Some(p) = kv.strip_prefix("path=") {
                            self.long_name = Some(p.to_string());
                        } else if let Some(p) = kv.strip_prefix("linkpath=") {
                            self.long_link = Some(p.to_string());
                        }
                    }
                }
                return Ok(());
            }
            b'g' => return Ok(()),
            _ => {}
        }
        let raw = self.long_name.take().unwrap_or(h.name);
        let link = self.long_link.take().unwrap_or(h.link);
        let path = raw
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let entry = match h.kind {
            b'0' | 0 | b'7' => Entry::File { path, mode: h.mode },
            b'5' => Entry::Dir { path },
            b'2' => Entry::Symlink { path, target: link },
            // Hard links, devices and FIFOs are not needed from a package.
            _ => return Ok(()),
        };
        let data = if matches!(entry, Entry::File { .. }) {
            body
        } else {
            &[]
        };
        if !(self.visit)(&entry, data) {
            self.stopped = true;
            return Err(std::io::Error::other("stopped"));
        }
        Ok(())
    }
}

impl Write for TarStream<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.stopped {
            return Err(std::io::Error::other("stopped"));
        }
        self.buf.extend_from_slice(data);
        self.advance()?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decompress an `.xz` file (a kernel module `.ko.xz`).
pub fn xz_decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut input = data;
    lzma_rs::xz_decompress(&mut input, &mut out)
        .map_err(|e| format!("not a valid .xz file: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_header(name: &str, kind: u8, size: usize, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000755");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..262].copy_from_slice(b"ustar");
        h
    }

    fn tar(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
        let mut t = Vec::new();
        for (name, kind, body, link) in entries {
            t.extend(tar_header(name, *kind, body.len(), link));
            t.extend_from_slice(body);
            t.resize(t.len().next_multiple_of(512), 0);
        }
        t.extend([0u8; 1024]);
        t
    }

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut a = b"!<arch>\n".to_vec();
        for (name, body) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                100644,
                body.len()
            );
            a.extend_from_slice(header.as_bytes());
            a.extend_from_slice(body);
            if body.len() % 2 == 1 {
                a.push(b'\n');
            }
        }
        a
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut out).unwrap();
        out
    }

    fn collect(deb: &[u8]) -> Result<Vec<(Entry, Vec<u8>)>, String> {
        let mut seen = Vec::new();
        for_each_file(deb, &mut |e, d| {
            seen.push((e.clone(), d.to_vec()));
            true
        })?;
        Ok(seen)
    }

    #[test]
    fn files_come_out_of_an_xz_data_member() {
        let long = format!("./usr/lib/modules/{}/x.ko.xz", "v".repeat(120));
        let data = tar(&[
            ("./usr/", b'5', b"", ""),
            ("././@LongLink", b'L', long.as_bytes(), ""),
            ("./usr/lib/modules/vvv", b'0', b"module", ""),
            ("./usr/bin/busybox", b'0', b"odd-size", ""),
            ("./bin", b'2', b"", "usr/bin"),
        ]);
        let deb = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", b"x"),
            ("data.tar.xz", &xz(&data)),
        ]);
        let seen = collect(&deb).unwrap();
        assert_eq!(seen[0].0, Entry::Dir { path: "usr".into() });
        assert_eq!(
            seen[1],
            (
                Entry::File {
                    path: long.trim_start_matches("./").into(),
                    mode: 0o755
                },
                b"module".to_vec()
            )
        );
        assert_eq!(seen[2].1, b"odd-size");
        assert_eq!(
            seen[3].0,
            Entry::Symlink {
                path: "bin".into(),
                target: "usr/bin".into()
            }
        );
    }

    #[test]
    fn a_visitor_may_stop_early() {
        let data = tar(&[("a", b'0', b"1", ""), ("b", b'0', b"2", "")]);
        let deb = ar(&[("data.tar", &data)]);
        let mut n = 0;
        for_each_file(&deb, &mut |_, _| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn damaged_packages_are_errors_not_panics() {
        assert!(data_member(b"not a deb").is_err());
        assert!(data_member(b"!<arch>\n").is_err());
        let deb = ar(&[("data.tar.zst", b"zz")]);
        assert!(for_each_file(&deb, &mut |_, _| true)
            .unwrap_err()
            .contains("data.tar.zst"));
        let deb = ar(&[("data.tar.xz", b"garbage")]);
        assert!(for_each_file(&deb, &mut |_, _| true).is_err());
        let mut truncated = ar(&[("data.tar", &tar(&[("a", b'0', b"1", "")]))]);
        truncated.truncate(100);
        assert!(data_member(&truncated).is_err());
        for cut in [10, 300, 600] {
            let data = tar(&[("a", b'0', &[7u8; 700], "")]);
            let deb = ar(&[("data.tar.xz", &xz(&data[..cut]))]);
            // A tar cut short ends without an error from the tar side; nothing may panic.
            let _ = collect(&deb);
        }
    }
}

//! Image loading: ELF files (PT_LOAD segments at their physical addresses) and raw Linux
//! `Image` files (detected by the header magic). Every problem a user's file can have is
//! a [`LoadError`] with a sentence that says what is wrong, never a panic.

use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol};
use std::path::Path;

use crate::bus::Ram;
pub use crate::user_error::os_error;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is empty")]
    Empty { what: String },
    #[error("{what} is not a RISC-V 64-bit ELF or Linux Image: {why}")]
    Format { what: String, why: String },
    #[error("{what}: segment at {addr:#x}..{end:#x} lies outside RAM {ram_start:#x}..{ram_end:#x} (try a larger -m)")]
    OutsideRam {
        what: String,
        addr: u64,
        end: u64,
        ram_start: u64,
        ram_end: u64,
    },
    #[error("{what}: segments at {a:#x} and {b:#x} overlap")]
    Overlap { what: String, a: u64, b: u64 },
}

/// A loaded program: where to enter it and what the machine needs from its symbols.
#[derive(Debug, Clone, Default)]
pub struct LoadedImage {
    pub entry: u64,
    /// Lowest and highest physical address the image occupies.
    pub start: u64,
    pub end: u64,
    pub tohost: Option<u64>,
    pub fromhost: Option<u64>,
    pub is_linux_image: bool,
}

/// Read a file the user named, with a clear error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let data = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    if data.is_empty() {
        return Err(LoadError::Empty {
            what: path.display().to_string(),
        });
    }
    Ok(data)
}

/// Read an input file the user named for a run; errors name its role and path.
pub fn read_input(role: &str, path: &Path) -> Result<Vec<u8>, crate::user_error::Failure> {
    use crate::user_error::Failure;
    let data = std::fs::read(path).map_err(|e| {
        Failure::image(format!(
            "cannot read the {role} {}: {}",
            path.display(),
            os_error(&e)
        ))
    })?;
    if data.is_empty() {
        return Err(Failure::image(format!(
            "the {role} {} is empty",
            path.display()
        )));
    }
    Ok(data)
}

/// Offset of the RISC-V Linux `Image` header magic "RSC\x05".
const LINUX_MAGIC2_OFFSET: usize = 0x38;
/// Offsets of the header's `text_offset` (where above the start of RAM the image goes)
/// and `image_size` (how much memory the kernel occupies from there, BSS included), both
/// little-endian u64 (Linux, Documentation/arch/riscv/boot-image-header.rst).
const LINUX_TEXT_OFFSET_OFFSET: usize = 8;
const LINUX_IMAGE_SIZE_OFFSET: usize = 16;
/// Physical address where a raw Linux Image is loaded (RAM base + text_offset 2 MiB).
pub const LINUX_LOAD_ADDR: u64 = 0x8020_0000;

pub fn is_linux_image(data: &[u8]) -> bool {
    data.len() >= 0x40 && &data[LINUX_MAGIC2_OFFSET..LINUX_MAGIC2_OFFSET + 4] == b"RSC\x05"
}

/// Load an ELF or a Linux Image into RAM. `what` names the file in errors.
/// `image_base` is where a raw Image goes (Linux Images are always placed there).
pub fn load_image(ram: &mut Ram, data: &[u8], what: &str) -> Result<LoadedImage, LoadError> {
    if data.is_empty() {
        return Err(LoadError::Empty { what: what.into() });
    }
    if data.starts_with(b"\x7fELF") {
        return load_elf(ram, data, what);
    }
    if is_linux_image(data) {
        return load_linux_image(ram, data, what);
    }
    Err(LoadError::Format {
        what: what.into(),
        why: "no ELF magic and no Linux Image header (RSC\\x05 at 0x38)".into(),
    })
}

fn header_u64(data: &[u8], offset: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&data[offset..offset + 8]);
    u64::from_le_bytes(bytes)
}

/// A raw Linux Image: placed `text_offset` above the start of RAM (2 MiB when the
/// header leaves it 0), and occupying `image_size` bytes from there, which covers the
/// BSS the file does not contain: whatever is loaded next must go above that.
fn load_linux_image(ram: &mut Ram, data: &[u8], what: &str) -> Result<LoadedImage, LoadError> {
    let text_offset = header_u64(data, LINUX_TEXT_OFFSET_OFFSET);
    let image_size = header_u64(data, LINUX_IMAGE_SIZE_OFFSET);
    let addr = match text_offset {
        0 => LINUX_LOAD_ADDR,
        t if t % 4096 == 0 && t < ram.size() => ram.base() + t,
        t => {
            return Err(LoadError::Format {
                what: what.into(),
                why: format!(
                    "the Image header's text_offset {t:#x} is not a page-aligned offset inside RAM"
                ),
            })
        }
    };
    let footprint = image_size.max(data.len() as u64);
    let end = addr.saturating_add(footprint);
    if ram.offset_of(addr, footprint).is_none() {
        return Err(LoadError::OutsideRam {
            what: format!("{what} (image_size {image_size:#x}, BSS included)"),
            addr,
            end,
            ram_start: ram.base(),
            ram_end: ram.base() + ram.size(),
        });
    }
    let mut img = load_raw(ram, data, addr, what)?;
    img.end = end;
    img.is_linux_image = true;
    Ok(img)
}

/// Copy a raw binary to `addr`.
pub fn load_raw(
    ram: &mut Ram,
    data: &[u8],
    addr: u64,
    what: &str,
) -> Result<LoadedImage, LoadError> {
    let end = addr.saturating_add(data.len() as u64);
    if !ram.load(addr, data) {
        return Err(LoadError::OutsideRam {
            what: what.into(),
            addr,
            end,
            ram_start: ram.base(),
            ram_end: ram.base() + ram.size(),
        });
    }
    Ok(LoadedImage {
        entry: addr,
        start: addr,
        end,
        ..Default::default()
    })
}

fn load_elf(ram: &mut Ram, data: &[u8], what: &str) -> Result<LoadedImage, LoadError> {
    let fmt = |why: String| LoadError::Format {
        what: what.into(),
        why,
    };
    let elf = ElfFile64::<Endianness>::parse(data).map_err(|e| fmt(format!("{e}")))?;
    let header: &FileHeader64<Endianness> = elf.elf_header();
    let endian = elf.endian();
    if header.e_machine(endian) != object::elf::EM_RISCV {
        return Err(fmt(format!(
            "ELF machine is {}, not RISC-V (243)",
            header.e_machine(endian)
        )));
    }
    if !elf.is_little_endian() {
        return Err(fmt("big-endian ELF".into()));
    }
    let mut segments: Vec<(u64, u64)> = Vec::new();
    for ph in elf.elf_program_headers() {
        if ph.p_type(endian) != PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let paddr = ph.p_paddr(endian);
        let memsz = ph.p_memsz(endian);
        let filesz = ph.p_filesz(endian);
        let bytes = ph.data(endian, data).map_err(|_| {
            fmt(format!(
                "segment at {paddr:#x} extends past the end of the file (truncated?)"
            ))
        })?;
        if filesz > memsz {
            return Err(fmt(format!("segment at {paddr:#x} has filesz > memsz")));
        }
        let end = paddr
            .checked_add(memsz)
            .ok_or_else(|| fmt("segment address overflows".into()))?;
        if ram.offset_of(paddr, memsz).is_none() {
            return Err(LoadError::OutsideRam {
                what: what.into(),
                addr: paddr,
                end,
                ram_start: ram.base(),
                ram_end: ram.base() + ram.size(),
            });
        }
        for &(a, b) in &segments {
            if paddr < b && a < end {
                return Err(LoadError::Overlap {
                    what: what.into(),
                    a,
                    b: paddr,
                });
            }
        }
        segments.push((paddr, end));
        ram.load(paddr, bytes);
        // Zero the BSS part explicitly: RAM may hold an earlier image.
        let bss = (memsz - bytes.len() as u64) as usize;
        if bss > 0 {
            let off = ram
                .offset_of(paddr + bytes.len() as u64, bss as u64)
                .expect("checked above");
            ram.bytes_mut(off, bss).fill(0);
        }
    }
    if segments.is_empty() {
        return Err(fmt("no loadable segments".into()));
    }
    let mut img = LoadedImage {
        entry: elf.entry(),
        start: segments.iter().map(|s| s.0).min().unwrap_or(0),
        end: segments.iter().map(|s| s.1).max().unwrap_or(0),
        ..Default::default()
    };
    for sym in elf.symbols() {
        match sym.name() {
            Ok("tohost") => img.tohost = Some(sym.address()),
            Ok("fromhost") => img.fromhost = Some(sym.address()),
            _ => {}
        }
    }
    Ok(img)
}

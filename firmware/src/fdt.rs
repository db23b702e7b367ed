//! Just enough flattened-device-tree handling for the firmware: which harts exist, where RAM
//! is, and a copy of the tree whose memory-reservation block covers the firmware.
//!
//! The reservation matters because nothing else tells the kernel that the first part of RAM
//! is taken: without it Linux hands the firmware's pages (code, stacks) to its allocator.

use crate::MAX_HARTS;

const MAGIC: u32 = 0xd00d_feed;
const HEADER_LEN: usize = 40;
const TOKEN_BEGIN_NODE: u32 = 1;
const TOKEN_END_NODE: u32 = 2;
const TOKEN_PROP: u32 = 3;
const TOKEN_NOP: u32 = 4;
const TOKEN_END: u32 = 9;

/// What the firmware learns from the device tree.
#[derive(Clone, Copy, Debug, Default)]
pub struct MachineInfo {
    /// Bit n set: hart n is described (and not disabled) under /cpus.
    pub harts: usize,
    /// The first RAM bank, if a memory node was found.
    pub ram: Option<(usize, usize)>,
}

/// A validated device tree blob in memory.
pub struct Fdt<'a> {
    blob: &'a [u8],
    off_struct: usize,
    off_strings: usize,
    off_rsvmap: usize,
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(bytes, at)?) << 32) | u64::from(be32(bytes, at + 4)?))
}

/// Reads a `cells`-wide big-endian number (1 or 2 cells) from the front of `bytes`.
fn cells_value(bytes: &[u8], cells: usize) -> Option<u64> {
    match cells {
        1 => be32(bytes, 0).map(u64::from),
        2 => be64(bytes, 0),
        _ => None,
    }
}

fn c_str(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl<'a> Fdt<'a> {
    /// # Safety
    /// `addr` must point to readable memory holding a device tree (or at least a header
    /// whose `totalsize` bytes are readable).
    pub unsafe fn from_addr(addr: usize) -> Option<Fdt<'static>> {
        if addr == 0 || !addr.is_multiple_of(8) {
            return None;
        }
        // SAFETY: the caller promises the header is readable; its size field is checked
        // against a sanity bound before the whole blob is borrowed.
        let header = unsafe { core::slice::from_raw_parts(addr as *const u8, HEADER_LEN) };
        if be32(header, 0)? != MAGIC {
            return None;
        }
        let total = be32(header, 4)? as usize;
        if !(HEADER_LEN..=16 << 20).contains(&total) {
            return None;
        }
        // SAFETY: as above.
        let blob = unsafe { core::slice::from_raw_parts(addr as *const u8, total) };
        Fdt::parse(blob)
    }

    fn parse(blob: &'a [u8]) -> Option<Fdt<'a>> {
        let off_struct = be32(blob, 8)? as usize;
        let off_strings = be32(blob, 12)? as usize;
        let off_rsvmap = be32(blob, 16)? as usize;
        let version = be32(blob, 20)?;
        let size_strings = be32(blob, 32)? as usize;
        let size_struct = be32(blob, 36)? as usize;
        let fits = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= blob.len());
        if version < 17 || !fits(off_struct, size_struct) || !fits(off_strings, size_strings) {
            return None;
        }
        if !off_rsvmap.is_multiple_of(8) || !fits(off_rsvmap, 16) {
            return None;
        }
        Some(Fdt {
            blob,
            off_struct,
            off_strings,
            off_rsvmap,
        })
    }

    fn string_at(&self, offset: usize) -> &'a [u8] {
        self.blob
            .get(self.off_strings + offset..)
            .map(c_str)
            .unwrap_or(&[])
    }

    /// Walks the structure block once, collecting harts and the first memory bank.
    pub fn machine_info(&self) -> MachineInfo {
        let mut info = MachineInfo::default();
        self.walk(&mut info);
        info
    }

    fn walk(&self, info: &mut MachineInfo) -> Option<()> {
        let b = self.blob;
        let mut pos = self.off_struct;
        let mut depth = 0usize;
        // Cell sizes of the root (for memory) and of /cpus (for cpu reg).
        let (mut root_addr_cells, mut root_size_cells, mut cpus_addr_cells) = (2, 1, 1);
        let mut in_cpus = false;
        // Per-node state of the node whose properties are being read.
        let mut node_is_cpu = false;
        let mut node_is_memory = false;
        let mut cpu_reg: Option<u64> = None;
        let mut cpu_disabled = false;
        loop {
            let token = be32(b, pos)?;
            pos += 4;
            match token {
                TOKEN_BEGIN_NODE => {
                    let name = c_str(b.get(pos..)?);
                    pos = align4(pos + name.len() + 1);
                    depth += 1;
                    // Properties precede subnodes, so a node's flags stay valid while its
                    // children (e.g. a cpu's interrupt-controller) are skipped over.
                    if depth == 2 {
                        in_cpus = name == b"cpus";
                        node_is_memory = name == b"memory" || name.starts_with(b"memory@");
                    }
                    if depth == 3 {
                        node_is_cpu = in_cpus && name.starts_with(b"cpu@");
                        cpu_reg = None;
                        cpu_disabled = false;
                    }
                }
                TOKEN_END_NODE => {
                    if depth == 3 && node_is_cpu && !cpu_disabled {
                        if let Some(hart) = cpu_reg.filter(|&h| h < MAX_HARTS as u64) {
                            info.harts |= 1 << hart;
                        }
                        node_is_cpu = false;
                    }
                    if depth == 2 {
                        in_cpus = false;
                        node_is_memory = false;
                    }
                    depth = depth.checked_sub(1)?;
                }
                TOKEN_PROP => {
                    let len = be32(b, pos)? as usize;
                    let name = self.string_at(be32(b, pos + 4)? as usize);
                    let value = b.get(pos + 8..pos + 8 + len)?;
                    pos = align4(pos + 8 + len);
                    match (depth, name) {
                        (1, b"#address-cells") => root_addr_cells = be32(value, 0)? as usize,
                        (1, b"#size-cells") => root_size_cells = be32(value, 0)? as usize,
                        (2, b"#address-cells") if in_cpus => {
                            cpus_addr_cells = be32(value, 0)? as usize
                        }
                        (3, b"reg") if node_is_cpu => cpu_reg = cells_value(value, cpus_addr_cells),
                        (3, b"status") if node_is_cpu => cpu_disabled = c_str(value) == b"disabled",
                        (2, b"reg") if node_is_memory && info.ram.is_none() => {
                            let base = cells_value(value, root_addr_cells)?;
                            let size =
                                cells_value(value.get(root_addr_cells * 4..)?, root_size_cells)?;
                            info.ram = Some((base as usize, size as usize));
                        }
                        _ => {}
                    }
                }
                TOKEN_NOP => {}
                TOKEN_END => return Some(()),
                _ => return None,
            }
        }
    }

    /// Writes into `out` a copy of this tree whose memory-reservation block starts with
    /// `reserve` (base, size) followed by the original entries. Returns the copy's length,
    /// or `None` if `out` is too small.
    pub fn copy_with_reservation(&self, reserve: (u64, u64), out: &mut [u8]) -> Option<usize> {
        let b = self.blob;
        // Original reservation entries, up to the (0, 0) terminator.
        let mut rsv_end = self.off_rsvmap;
        while be64(b, rsv_end)? != 0 || be64(b, rsv_end + 8)? != 0 {
            rsv_end += 16;
        }
        let old_entries = &b[self.off_rsvmap..rsv_end];
        let size_struct = be32(b, 36)? as usize;
        let size_strings = be32(b, 32)? as usize;
        let new_rsvmap = HEADER_LEN;
        let new_struct = new_rsvmap + 16 + old_entries.len() + 16;
        let new_strings = new_struct + size_struct;
        let total = new_strings + size_strings;
        let out = out.get_mut(..total)?;

        out[..HEADER_LEN].copy_from_slice(&b[..HEADER_LEN]);
        let mut put32 =
            |at: usize, v: usize| out[at..at + 4].copy_from_slice(&(v as u32).to_be_bytes());
        put32(4, total);
        put32(8, new_struct);
        put32(12, new_strings);
        put32(16, new_rsvmap);
        out[new_rsvmap..new_rsvmap + 8].copy_from_slice(&reserve.0.to_be_bytes());
        out[new_rsvmap + 8..new_rsvmap + 16].copy_from_slice(&reserve.1.to_be_bytes());
        out[new_rsvmap + 16..new_struct - 16].copy_from_slice(old_entries);
        out[new_struct - 16..new_struct].fill(0);
        out[new_struct..new_strings]
            .copy_from_slice(&b[self.off_struct..self.off_struct + size_struct]);
        out[new_strings..total]
            .copy_from_slice(&b[self.off_strings..self.off_strings + size_strings]);
        Some(total)
    }
}

//! What a run costs the host in memory, for `--stats`: the process's peak resident set
//! and how much of the guest's RAM the host had to back with pages.
//!
//! Guest RAM is one zeroed allocation the kernel backs lazily, so the part of it that is
//! resident is the part the guest (or emu loading its images) wrote. Both figures come
//! from Linux's `/proc/self`; elsewhere they are absent.

use std::io::{Read, Seek, SeekFrom};

/// The process's peak resident set size in bytes (`VmHWM` of `/proc/self/status`).
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes of host pages backing `bytes` that are resident or swapped out, i.e. touched
/// (`/proc/self/pagemap`: one 64-bit entry per virtual page, bit 63 present, bit 62
/// swapped). Pages only partly inside `bytes` count whole.
pub fn touched_bytes(bytes: &[u8]) -> Option<u64> {
    const PRESENT_OR_SWAPPED: u64 = 3 << 62;
    let page = rustix::param::page_size() as u64;
    let start = bytes.as_ptr() as u64 / page;
    let end = (bytes.as_ptr() as u64 + bytes.len() as u64).div_ceil(page);
    let mut map = std::fs::File::open("/proc/self/pagemap").ok()?;
    map.seek(SeekFrom::Start(start * 8)).ok()?;
    let mut touched = 0u64;
    let mut buf = vec![0u8; 8 * 4096];
    let mut left = end - start;
    while left > 0 {
        let n = left.min(4096) as usize;
        map.read_exact(&mut buf[..8 * n]).ok()?;
        touched += buf[..8 * n]
            .chunks_exact(8)
            .filter(|e| {
                u64::from_le_bytes((*e).try_into().unwrap_or_default()) & PRESENT_OR_SWAPPED != 0
            })
            .count() as u64;
        left -= n as u64;
    }
    Some(touched * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_pages_count_and_untouched_ones_do_not() {
        let page = rustix::param::page_size();
        // Above the allocator's largest mmap threshold (32 MiB), so a fresh mapping of its
        // own, which the kernel zeroes lazily, as guest RAM is.
        let mut ram = vec![0u8; 64 << 20];
        let before = touched_bytes(&ram).expect("Linux has /proc/self/pagemap");
        for i in (0..64).map(|i| i * 2 * page) {
            ram[i] = 1;
        }
        let after = touched_bytes(&ram).unwrap();
        assert!(after >= before + 63 * page as u64, "{before} -> {after}");
        assert!(after <= (66 * page) as u64, "{after}");
        assert!(peak_resident_bytes().unwrap() >= after);
    }
}

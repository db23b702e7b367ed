//! virtio-mmio block and entropy devices driven the way a guest driver does: real split
//! queues built in guest RAM, requests through MMIO, results read back from RAM and from
//! the backing file. Includes the hostile cases a guest can construct.

use emu::bus::{MmioDevice, Ram, DRAM_BASE};
use emu::devices::virtio::blk::Block;
use emu::devices::virtio::rng::Entropy;
use emu::devices::virtio::{DiskConfig, VirtioBackend, VirtioMmio};
use emu::machine::{Machine, MachineConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

const QUEUE_SIZE: u64 = 8;
const DESC: u64 = DRAM_BASE;
const AVAIL: u64 = DRAM_BASE + 0x1000;
const USED: u64 = DRAM_BASE + 0x2000;
const HEADER: u64 = DRAM_BASE + 0x3000;
const STATUS: u64 = DRAM_BASE + 0x3100;
const DATA: u64 = DRAM_BASE + 0x4000;
const RAM_SIZE: u64 = 0x10_0000;

const ACKNOWLEDGE: u64 = 1;
const DRIVER: u64 = 2;
const DRIVER_OK: u64 = 4;
const FEATURES_OK: u64 = 8;
const NEEDS_RESET: u64 = 64;

const VERSION_1: u64 = 1 << 32;
const BLK_FLUSH: u64 = 1 << 9;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;

/// A temporary disk image removed when the test ends.
struct TempDisk(PathBuf);

impl TempDisk {
    fn new(contents: &[u8]) -> TempDisk {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("emu-virtio-test-{}-{n}.img", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempDisk(path)
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for TempDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sector `s` of the test image is filled with byte `s + 1`.
fn image(sectors: usize) -> Vec<u8> {
    (0..sectors)
        .flat_map(|s| std::iter::repeat_n(s as u8 + 1, 512))
        .collect()
}

/// Just enough of a virtio driver to talk to one device.
struct Driver {
    dev: VirtioMmio,
    ram: Ram,
    avail_idx: u16,
}

impl Driver {
    /// A driver that has negotiated `features` and set up queue 0.
    fn new(backend: Box<dyn VirtioBackend>, features: u64) -> Driver {
        let mut d = Driver {
            dev: VirtioMmio::new(0, 1, Some(backend)),
            ram: Ram::new(DRAM_BASE, RAM_SIZE),
            avail_idx: 0,
        };
        d.init(features);
        d
    }

    fn rd(&mut self, off: u64) -> u64 {
        self.dev.read(off, 4, &mut self.ram).unwrap()
    }

    fn wr(&mut self, off: u64, v: u64) {
        self.dev.write(off, 4, v, &mut self.ram).unwrap();
    }

    fn init(&mut self, features: u64) {
        self.avail_idx = 0;
        self.wr(0x70, 0);
        self.wr(0x70, ACKNOWLEDGE | DRIVER);
        self.wr(0x24, 0);
        self.wr(0x20, features & 0xffff_ffff);
        self.wr(0x24, 1);
        self.wr(0x20, features >> 32);
        self.wr(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK);
        assert_eq!(self.rd(0x70) & FEATURES_OK, FEATURES_OK);
        self.wr(0x30, 0);
        assert!(self.rd(0x34) >= QUEUE_SIZE);
        self.wr(0x38, QUEUE_SIZE);
        for (reg, addr) in [(0x80, DESC), (0x90, AVAIL), (0xa0, USED)] {
            self.wr(reg, addr & 0xffff_ffff);
            self.wr(reg + 4, addr >> 32);
        }
        self.wr(0x44, 1);
        self.wr(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    }

    fn desc(&mut self, i: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let d = DESC + 16 * i;
        self.ram.write(d, 8, addr);
        self.ram.write(d + 8, 4, len as u64);
        self.ram.write(d + 12, 2, flags as u64);
        self.ram.write(d + 14, 2, next as u64);
    }

    /// Publish chain `head` and notify queue 0.
    fn submit(&mut self, head: u16) {
        let slot = self.avail_idx as u64 % QUEUE_SIZE;
        self.ram.write(AVAIL + 4 + 2 * slot, 2, head as u64);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.ram.write(AVAIL + 2, 2, self.avail_idx as u64);
        self.wr(0x50, 0);
    }

    fn used_idx(&self) -> u16 {
        self.ram.read(USED + 2, 2).unwrap() as u16
    }

    /// (id, len) of used entry `n`.
    fn used(&self, n: u64) -> (u32, u32) {
        let e = USED + 4 + 8 * (n % QUEUE_SIZE);
        (
            self.ram.read(e, 4).unwrap() as u32,
            self.ram.read(e + 4, 4).unwrap() as u32,
        )
    }

    /// A block request: header, one data buffer of `len` bytes at DATA, status byte.
    fn blk_request(&mut self, kind: u32, sector: u64, len: u32) -> u8 {
        self.ram.write(HEADER, 4, kind as u64);
        self.ram.write(HEADER + 4, 4, 0);
        self.ram.write(HEADER + 8, 8, sector);
        self.ram.write(STATUS, 1, 0xff);
        let data_flags = if kind == T_IN { F_WRITE } else { 0 };
        self.desc(0, HEADER, 16, F_NEXT, 1);
        if len > 0 {
            self.desc(1, DATA, len, data_flags | F_NEXT, 2);
            self.desc(2, STATUS, 1, F_WRITE, 0);
        } else {
            self.desc(1, STATUS, 1, F_WRITE, 0);
        }
        self.submit(0);
        self.ram.read(STATUS, 1).unwrap() as u8
    }

    fn data(&self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        assert!(self.ram.read_bytes(DATA, &mut v));
        v
    }
}

fn block_driver(disk: &TempDisk, snapshot: bool) -> Driver {
    let cfg = DiskConfig::open(&disk.0).unwrap();
    Driver::new(Box::new(Block::new(cfg, snapshot)), VERSION_1 | BLK_FLUSH)
}

#[test]
fn identifies_as_virtio_block_version_2_with_capacity() {
    let disk = TempDisk::new(&image(8));
    let mut d = block_driver(&disk, false);
    assert_eq!(d.rd(0x0), 0x7472_6976);
    assert_eq!(d.rd(0x4), 2);
    assert_eq!(d.rd(0x8), 2);
    d.wr(0x14, 1);
    assert_eq!(d.rd(0x10) & 1, 1, "VIRTIO_F_VERSION_1 offered");
    assert_eq!(
        d.dev.read(0x100, 8, &mut d.ram),
        Ok(8),
        "capacity in sectors"
    );
}

#[test]
fn reads_a_sector_into_guest_memory_and_interrupts() {
    let disk = TempDisk::new(&image(8));
    let mut d = block_driver(&disk, false);
    assert_eq!(d.dev.irq_line(), Some((1, false)));
    assert_eq!(d.blk_request(T_IN, 3, 1024), S_OK);
    let data = d.data(1024);
    assert!(data[..512].iter().all(|&b| b == 4));
    assert!(data[512..].iter().all(|&b| b == 5));
    assert_eq!(d.used_idx(), 1);
    assert_eq!(d.used(0), (0, 1025));
    assert_eq!(d.rd(0x60), 1);
    assert_eq!(d.dev.irq_line(), Some((1, true)));
    d.wr(0x64, 1);
    assert_eq!(d.dev.irq_line(), Some((1, false)));
}

#[test]
fn writes_persist_to_the_file() {
    let disk = TempDisk::new(&image(8));
    let mut d = block_driver(&disk, false);
    d.ram.load(DATA, &[0xab; 512]);
    assert_eq!(d.blk_request(T_OUT, 2, 512), S_OK);
    assert_eq!(d.used(0), (0, 1));
    assert_eq!(d.blk_request(T_FLUSH, 0, 0), S_OK);
    drop(d);
    let file = disk.contents();
    assert!(file[1024..1536].iter().all(|&b| b == 0xab));
    assert!(file[1536..2048].iter().all(|&b| b == 4));
}

#[test]
fn snapshot_mode_reads_back_writes_but_leaves_the_file_alone() {
    let disk = TempDisk::new(&image(8));
    let before = disk.contents();
    let mut d = block_driver(&disk, true);
    d.ram.load(DATA, &[0x5a; 512]);
    assert_eq!(d.blk_request(T_OUT, 1, 512), S_OK);
    d.ram.load(DATA, &[0; 1536]);
    assert_eq!(d.blk_request(T_IN, 0, 1536), S_OK);
    let data = d.data(1536);
    assert!(data[..512].iter().all(|&b| b == 1));
    assert!(data[512..1024].iter().all(|&b| b == 0x5a));
    assert!(data[1024..].iter().all(|&b| b == 3));
    drop(d);
    assert_eq!(disk.contents(), before);
}

#[test]
fn access_past_the_end_is_an_io_error() {
    let disk = TempDisk::new(&image(4));
    let mut d = block_driver(&disk, false);
    assert_eq!(d.blk_request(T_IN, 3, 1024), S_IOERR);
    assert_eq!(d.blk_request(T_OUT, 4, 512), S_IOERR);
    assert_eq!(d.blk_request(T_IN, u64::MAX / 2, 512), S_IOERR);
    // The device stays usable after I/O errors: they are the guest's answer, not a fault.
    assert_eq!(d.rd(0x70) & NEEDS_RESET, 0);
    assert_eq!(d.blk_request(T_IN, 0, 512), S_OK);
}

/// Submit a crafted chain and check the device refuses it without touching RAM
/// outside the rings, then recovers after a reset.
fn assert_needs_reset(build: impl FnOnce(&mut Driver)) {
    let disk = TempDisk::new(&image(4));
    let mut d = block_driver(&disk, false);
    d.ram.write(HEADER, 4, T_IN as u64);
    d.ram.write(HEADER + 8, 8, 0);
    build(&mut d);
    d.submit(0);
    assert_eq!(d.rd(0x70) & NEEDS_RESET, NEEDS_RESET);
    assert_eq!(d.rd(0x60) & 2, 2, "configuration-change interrupt");
    assert_eq!(d.used_idx(), 0);
    // Further notifications are ignored until the driver resets the device.
    d.submit(0);
    assert_eq!(d.used_idx(), 0);
    d.init(VERSION_1);
    d.ram.write(USED + 2, 2, 0);
    assert_eq!(d.rd(0x70) & NEEDS_RESET, 0);
    assert_eq!(d.blk_request(T_IN, 0, 512), S_OK);
}

#[test]
fn looping_chain_needs_reset() {
    assert_needs_reset(|d| {
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, DATA, 512, F_WRITE | F_NEXT, 0);
    });
}

#[test]
fn self_loop_needs_reset() {
    assert_needs_reset(|d| d.desc(0, HEADER, 16, F_NEXT, 0));
}

#[test]
fn buffer_outside_ram_needs_reset() {
    assert_needs_reset(|d| {
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, 0x1000_0000, 512, F_WRITE | F_NEXT, 2);
        d.desc(2, STATUS, 1, F_WRITE, 0);
    });
}

#[test]
fn huge_length_needs_reset() {
    assert_needs_reset(|d| {
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, DATA, u32::MAX, F_WRITE | F_NEXT, 2);
        d.desc(2, STATUS, 1, F_WRITE, 0);
    });
}

#[test]
fn wrapping_address_needs_reset() {
    assert_needs_reset(|d| {
        d.desc(0, HEADER, 16, F_NEXT, 1);
        d.desc(1, u64::MAX - 7, 512, F_WRITE | F_NEXT, 2);
        d.desc(2, STATUS, 1, F_WRITE, 0);
    });
}

#[test]
fn unnegotiated_indirect_descriptor_needs_reset() {
    assert_needs_reset(|d| d.desc(0, DATA, 64, F_INDIRECT, 0));
}

#[test]
fn next_index_beyond_queue_needs_reset() {
    assert_needs_reset(|d| d.desc(0, HEADER, 16, F_NEXT, 200));
}

#[test]
fn request_without_status_byte_needs_reset() {
    assert_needs_reset(|d| d.desc(0, HEADER, 16, 0, 0));
}

#[test]
fn driver_without_version_1_is_refused() {
    let disk = TempDisk::new(&image(1));
    let mut d = block_driver(&disk, false);
    d.wr(0x70, 0);
    d.wr(0x70, ACKNOWLEDGE | DRIVER);
    d.wr(0x24, 0);
    d.wr(0x20, 1 << 9);
    d.wr(0x24, 1);
    d.wr(0x20, 0);
    d.wr(0x70, ACKNOWLEDGE | DRIVER | FEATURES_OK);
    assert_eq!(d.rd(0x70) & FEATURES_OK, 0);
}

#[test]
fn entropy_device_is_deterministic_per_seed() {
    let fetch = |seed: [u8; 32]| {
        let mut d = Driver::new(Box::new(Entropy::new(seed, false)), VERSION_1);
        assert_eq!(d.rd(0x8), 4);
        d.desc(0, DATA, 48, F_WRITE, 0);
        d.submit(0);
        assert_eq!(d.used(0), (0, 48));
        d.data(48)
    };
    let a = fetch([1; 32]);
    assert_eq!(a, fetch([1; 32]));
    assert_ne!(a, fetch([2; 32]));
    assert_ne!(a, vec![0; 48]);
}

#[test]
fn machine_puts_disks_first_then_entropy_then_empty_slots() {
    let disk = TempDisk::new(&image(2));
    let config = MachineConfig {
        disks: vec![DiskConfig::open(&disk.0).unwrap()],
        ram_size: 1 << 20,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(config);
    let id = |m: &mut Machine, slot: u64| m.bus.read(0x1000_1008 + slot * 0x1000, 4).unwrap();
    assert_eq!(m.bus.read(0x1000_1000, 4), Ok(0x7472_6976));
    assert_eq!(id(&mut m, 0), 2);
    assert_eq!(id(&mut m, 1), 4);
    for slot in 2..8 {
        assert_eq!(m.bus.read(0x1000_1000 + slot * 0x1000, 4), Ok(0x7472_6976));
        assert_eq!(id(&mut m, slot), 0);
    }
}

#[test]
fn missing_disk_is_a_clear_error() {
    let err = DiskConfig::open(std::path::Path::new("/nonexistent/emu-disk.img")).unwrap_err();
    assert!(err.contains("/nonexistent/emu-disk.img"), "{err}");
}

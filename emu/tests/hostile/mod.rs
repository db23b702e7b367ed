//! Hostile-guest scenarios shared by the robustness tests and the fuzz targets
//! (`emu/fuzz` includes this file by path): a hart started from an arbitrary state on
//! random memory, and virtio devices driven by a guest that lies about its queues.
//!
//! Scenarios are built from plain bytes, so a seeded PRNG (tests) and libFuzzer (fuzz
//! targets) drive the same code. Each scenario checks what must hold whatever the bytes
//! say and panics when it does not; a panic or hang of the emulator itself is, of course,
//! also a failure.
// Each consumer uses a different subset.
#![allow(dead_code)]

use emu::bus::DRAM_BASE;
use emu::cpu::csr::num;
use emu::cpu::{Hart, PRIV_M, PRIV_S, PRIV_U};
use emu::devices::console::ConsoleOutput;
use emu::devices::virtio::DiskConfig;
use emu::machine::{map, Machine, MachineConfig, StopReason};
use emu::mmu::{MmuConfig, SatpMode};
use std::path::Path;

/// Reads scenario parameters from bytes; once they run out every read is zero, so any
/// input, even an empty one, is a valid scenario.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let src = self.take(N);
        out[..src.len()].copy_from_slice(src);
        out
    }
}

/// RAM of the scenario machines: big enough for a 2 MiB identity megapage.
pub const RAM_SIZE: u64 = 4 << 20;
/// Where the random memory image (code, data, page tables) is placed.
pub const IMAGE: u64 = DRAM_BASE + 0x1000;
/// Largest random memory image.
pub const IMAGE_MAX: usize = 64 << 10;
/// Bytes of a hart scenario that describe the starting state; the rest is the memory
/// image, so callers can place code exactly.
pub const STATE_LEN: usize = 512;
/// Offsets of state bytes tests pin: privilege (0 U, 1 S, 2 M), satp mode (0 bare,
/// 1 Sv39, 2 Sv48, 3 Sv57), and whether the root table identity-maps the image.
pub const STATE_PRIV: usize = 4;
pub const STATE_SATP_MODE: usize = 13;
pub const STATE_MAP_IMAGE: usize = 17;
/// Most instructions one hart scenario may run.
pub const MAX_STEPS: u64 = 20_000;

/// Addresses a guest is likely to aim at: devices, RAM edges, holes, the top of the
/// address space. Registers start near them so random code reaches them.
const INTERESTING: [u64; 16] = [
    0,
    map::BOOT_ROM,
    map::TEST,
    map::RTC,
    map::CLINT,
    map::CLINT + 0x4000,
    map::CLINT + 0xbff8,
    map::PLIC,
    map::UART0,
    map::VIRTIO0,
    DRAM_BASE,
    IMAGE,
    DRAM_BASE + RAM_SIZE - 8,
    DRAM_BASE + RAM_SIZE,
    0xffff_ffff_ffff_f000,
    0x0000_0040_0000_0000,
];

/// What a hart scenario ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HartOutcome {
    pub stop: StopReason,
    pub pc: u64,
    pub privilege: u8,
    pub x: [u64; 32],
    pub instret: u64,
    pub mcause: u64,
    pub scause: u64,
}

fn quiet_config(ram_size: u64) -> MachineConfig {
    let (console_output, _) = ConsoleOutput::capture();
    MachineConfig {
        ram_size,
        console_output,
        ..MachineConfig::default()
    }
}

fn satp_mode_from(b: u8) -> SatpMode {
    match b % 4 {
        0 => SatpMode::Bare,
        1 => SatpMode::Sv39,
        2 => SatpMode::Sv48,
        _ => SatpMode::Sv57,
    }
}

fn satp_mode_bits(mode: SatpMode) -> u64 {
    match mode {
        SatpMode::Bare => 0,
        SatpMode::Sv39 => 8,
        SatpMode::Sv48 => 9,
        SatpMode::Sv57 => 10,
    }
}

/// A hart on random memory, entered through `mret` from a state the bytes choose:
/// privilege, mstatus, satp (with a root table that may identity-map the image), trap
/// vectors, delegation, PMP, registers. It runs a bounded number of instructions on the
/// full board (so random stores reach the devices) and must end in an architectural
/// state. Returns that state so callers can check determinism.
pub fn run_hart(data: &[u8]) -> HartOutcome {
    let (state, image) = data.split_at(data.len().min(STATE_LEN));
    let image = &image[..image.len().min(IMAGE_MAX)];
    let mut b = Bytes::new(state);
    let max_mode = satp_mode_from(b.u8() | 1);
    let mut config = quiet_config(RAM_SIZE);
    config.mmu = MmuConfig {
        max_mode,
        svadu: b.bool(),
        check_tlb: b.bool(),
        ..MmuConfig::default()
    };
    let observed = b.bool();
    let target_priv = [PRIV_U, PRIV_S, PRIV_M][b.u8() as usize % 3];
    let mstatus = b.u64();
    let mode = satp_mode_from(b.u8());
    let asid = b.u16() as u64;
    let root_page = (b.u8() % 16) as u64;
    let map_image = b.bool();
    let leaf_flags = b.u8();
    let medeleg = b.u64();
    let mideleg = b.u64();
    let mie = b.u64();
    let mtvec = b.u32() as u64 % IMAGE_MAX as u64;
    let stvec = b.u32() as u64 % IMAGE_MAX as u64;
    let vectored = b.u8();
    let extra_csrs: Vec<(u16, u64)> = (0..b.u8() % 4)
        .map(|_| (b.u16() & 0xfff, b.u64()))
        .collect();
    let mut regs = [0u64; 32];
    for r in regs.iter_mut().skip(1) {
        let sel = b.u8();
        *r = if sel < 2 * INTERESTING.len() as u8 {
            INTERESTING[sel as usize / 2].wrapping_add(b.u8() as u64 * 8)
        } else {
            b.u64()
        };
    }
    let steps = 1 + b.u16() as u64 % MAX_STEPS;

    let mut m = Machine::new(config);
    m.set_observed(observed);
    let ram = m.ram();
    // DRAM_BASE: the prologue, one `mret` into the chosen state.
    ram.load(DRAM_BASE, &0x3020_0073u32.to_le_bytes());
    ram.load(IMAGE, image);
    let root = IMAGE + root_page * 4096;
    if map_image && mode != SatpMode::Bare {
        // One leaf at the top level mapping the image at its physical address, with
        // flags the bytes choose (V forced, so the walk at least starts).
        let (index, ppn) = match mode {
            SatpMode::Sv39 => (DRAM_BASE >> 30, DRAM_BASE >> 12),
            _ => (0, 0),
        };
        let pte = (ppn << 10) | leaf_flags as u64 | 1;
        ram.load(root + index * 8, &pte.to_le_bytes());
    }

    let hart: &mut Hart = &mut m.harts[0];
    hart.x = regs;
    // Everything a trap leaves behind must be the hart's doing, not a leftover.
    hart.csr_write(num::MCAUSE, 0);
    hart.csr_write(num::SCAUSE, 0);
    // PMP entry 0 opens all memory to S and U (without it they could touch nothing);
    // the bytes may add locked or narrower entries after it.
    hart.csr_write(num::PMPADDR0, u64::MAX);
    hart.csr_write(num::PMPCFG0, 0x1f);
    hart.csr_write(num::MTVEC, (IMAGE + mtvec) | (vectored & 1) as u64);
    hart.csr_write(num::STVEC, (IMAGE + stvec) | ((vectored >> 1) & 1) as u64);
    hart.csr_write(num::MEDELEG, medeleg);
    hart.csr_write(num::MIDELEG, mideleg);
    hart.csr_write(num::MIE, mie);
    let satp = (satp_mode_bits(mode) << 60) | (asid << 44) | (root >> 12);
    hart.csr_write(num::SATP, satp);
    for (csr, value) in extra_csrs {
        // Only what M-mode software could write with csrw: existing, not read-only; the
        // cause registers stay as the hart's traps leave them.
        let cause = csr == num::MCAUSE || csr == num::SCAUSE;
        if csr >> 10 != 3 && !cause && hart.csr_read(csr).is_some() {
            hart.csr_write(csr, value);
        }
    }
    let mpp = (target_priv as u64) << 11;
    hart.csr_write(num::MSTATUS, (mstatus & !(3 << 11)) | mpp);
    hart.csr_write(num::MEPC, IMAGE);
    hart.pc = DRAM_BASE;

    let stop = m.run(Some(steps));
    assert!(
        matches!(
            stop,
            StopReason::InsnLimit | StopReason::Exit(_) | StopReason::Reset | StopReason::Deadlock
        ),
        "unexpected stop {stop:?}"
    );
    let outcome = outcome_of(&m.harts[0], stop);
    // mcause and scause are WLRL: software may leave any value there. So a cause that
    // is not architectural only counts as a finding when no instruction that could have
    // written the register was in memory, before or after the run.
    let may_write = |csr: u16| writes_csr(image, csr) || writes_csr(m.bus.ram.as_slice(), csr);
    check_architectural(&outcome, may_write);
    outcome
}

/// Whether `mem` holds, at any 2-byte boundary, a Zicsr instruction that writes `csr`
/// (CSRRW/CSRRS/CSRRC and their immediate forms; the C extension has none).
fn writes_csr(mem: &[u8], csr: u16) -> bool {
    mem.windows(4).step_by(2).any(|w| {
        let insn = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        insn & 0x7f == 0x73 && (insn >> 12) & 3 != 0 && (insn >> 20) as u16 == csr
    })
}

fn outcome_of(h: &Hart, stop: StopReason) -> HartOutcome {
    HartOutcome {
        stop,
        pc: h.pc,
        privilege: h.privilege,
        x: h.x,
        instret: h.instret,
        mcause: h.csr_read(num::MCAUSE).unwrap_or(u64::MAX),
        scause: h.csr_read(num::SCAUSE).unwrap_or(u64::MAX),
    }
}

/// A cause register holds 0 (nothing taken yet) or a cause the spec defines and this
/// hart can raise.
fn cause_is_architectural(cause: u64) -> bool {
    let interrupt = cause >> 63 == 1;
    let code = cause & !(1 << 63);
    if interrupt {
        matches!(code, 1 | 3 | 5 | 7 | 9 | 11)
    } else {
        matches!(code, 0..=9 | 11 | 12 | 13 | 15)
    }
}

/// `guest_may_write(csr)` says whether the guest could have written a cause register;
/// it scans memory, so it is asked only about a cause that is not architectural.
fn check_architectural(o: &HartOutcome, guest_may_write: impl Fn(u16) -> bool) {
    assert!(
        matches!(o.privilege, PRIV_U | PRIV_S | PRIV_M),
        "privilege {}",
        o.privilege
    );
    assert_eq!(o.x[0], 0, "x0 was written");
    assert_eq!(o.pc & 1, 0, "pc {:#x} is odd (IALIGN is 16)", o.pc);
    assert!(
        cause_is_architectural(o.mcause) || guest_may_write(num::MCAUSE),
        "mcause {:#x} is not a cause this hart can raise",
        o.mcause
    );
    assert!(
        cause_is_architectural(o.scause) || guest_may_write(num::SCAUSE),
        "scause {:#x} is not a cause this hart can raise",
        o.scause
    );
}

/// virtio-mmio register offsets a hostile driver pokes.
pub mod reg {
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const CONFIG: u64 = 0x100;

    pub const ALL: [u64; 17] = [
        0x000,
        0x008,
        DEVICE_FEATURES_SEL,
        DRIVER_FEATURES,
        DRIVER_FEATURES_SEL,
        QUEUE_SEL,
        QUEUE_NUM,
        QUEUE_READY,
        QUEUE_NOTIFY,
        INTERRUPT_ACK,
        STATUS,
        QUEUE_DESC_LOW,
        QUEUE_DESC_HIGH,
        QUEUE_DRIVER_LOW,
        QUEUE_DRIVER_HIGH,
        QUEUE_DEVICE_LOW,
        CONFIG,
    ];
}

/// Status bits of the virtio device status register.
pub const STATUS_NEEDS_RESET: u64 = 64;
const VIRTIO_F_VERSION_1_HIGH: u64 = 1;

/// A machine for driving virtio through the bus: small RAM, `disk` in slot 0 (the
/// entropy device then sits in slot 1).
pub fn virtio_machine(disk: &Path, snapshot: bool) -> Machine {
    let mut config = quiet_config(1 << 20);
    config.disks = vec![DiskConfig::open(disk).expect("open the scenario disk")];
    config.snapshot = snapshot;
    Machine::new(config)
}

/// Write a 32-bit virtio register of `slot` through the bus, as the guest would.
pub fn virtio_write(m: &mut Machine, slot: u64, offset: u64, value: u64) {
    let pa = map::VIRTIO0 + slot * map::VIRTIO_STRIDE + offset;
    // A refused access is an access fault for the guest, never a host error.
    let _ = m.bus.write(pa, 4, value);
}

pub fn virtio_read(m: &mut Machine, slot: u64, offset: u64) -> u64 {
    let pa = map::VIRTIO0 + slot * map::VIRTIO_STRIDE + offset;
    m.bus.read(pa, 4).unwrap_or(0)
}

/// The driver's side of device initialisation (virtio 1.x §3.1.1) up to DRIVER_OK, with
/// queue 0 of `size` entries at the given guest addresses.
pub fn virtio_setup(m: &mut Machine, slot: u64, size: u64, desc: u64, avail: u64, used: u64) {
    virtio_write(m, slot, reg::STATUS, 0);
    virtio_write(m, slot, reg::STATUS, 1 | 2);
    virtio_write(m, slot, reg::DRIVER_FEATURES_SEL, 1);
    virtio_write(m, slot, reg::DRIVER_FEATURES, VIRTIO_F_VERSION_1_HIGH);
    virtio_write(m, slot, reg::STATUS, 1 | 2 | 8);
    virtio_write(m, slot, reg::QUEUE_SEL, 0);
    virtio_write(m, slot, reg::QUEUE_NUM, size);
    for (low, addr) in [
        (reg::QUEUE_DESC_LOW, desc),
        (reg::QUEUE_DRIVER_LOW, avail),
        (reg::QUEUE_DEVICE_LOW, used),
    ] {
        virtio_write(m, slot, low, addr & 0xffff_ffff);
        virtio_write(m, slot, low + 4, addr >> 32);
    }
    virtio_write(m, slot, reg::QUEUE_READY, 1);
    virtio_write(m, slot, reg::STATUS, 1 | 2 | 8 | 4);
}

/// A guest address the bytes choose: mostly inside the 64 KiB the scenario fills, at
/// times the edges of RAM or anywhere at all.
fn guest_addr(b: &mut Bytes) -> u64 {
    match b.u8() % 8 {
        0 => b.u64(),
        1 => DRAM_BASE + (1 << 20) - (b.u16() as u64 % 64),
        2 => DRAM_BASE.wrapping_sub(b.u8() as u64),
        _ => DRAM_BASE + b.u16() as u64,
    }
}

/// A hostile driver: RAM (descriptor tables, rings, buffers) filled from the bytes, then
/// a sequence of register writes, reads, RAM pokes and full set-ups on the disk (slot 0)
/// and entropy (slot 1) devices. Must neither panic nor hang, and the disk file may
/// change only in content, never in size.
pub fn run_virtio(data: &[u8], disk: &Path, snapshot_only: bool) {
    let disk_len = std::fs::metadata(disk).map(|md| md.len()).ok();
    let mut b = Bytes::new(data);
    let snapshot = snapshot_only || b.bool();
    let mut m = virtio_machine(disk, snapshot);
    let fill_len = b.u16() as usize;
    let fill = b.take(fill_len);
    m.ram().load(DRAM_BASE, fill);
    let mut ops = 0;
    while !b.is_empty() && ops < 64 {
        ops += 1;
        let kind = b.u8();
        let slot = (kind >> 7) as u64;
        match kind % 8 {
            0 | 1 => {
                let offset = reg::ALL[b.u8() as usize % reg::ALL.len()];
                let value = if kind & 0x40 != 0 {
                    guest_addr(&mut b) & 0xffff_ffff
                } else {
                    b.u32() as u64
                };
                virtio_write(&mut m, slot, offset, value);
            }
            2 => {
                // Any offset, any width, read or write: must not panic.
                let offset = b.u16() as u64 % map::VIRTIO_STRIDE;
                let size = 1usize << (b.u8() % 4);
                let pa = map::VIRTIO0 + slot * map::VIRTIO_STRIDE + offset;
                if b.bool() {
                    let _ = m.bus.write(pa, size, b.u64());
                } else {
                    let _ = m.bus.read(pa, size);
                }
            }
            3 => {
                let addr = DRAM_BASE + b.u16() as u64;
                let value = b.u64();
                let _ = m.ram().write(addr, 8, value);
            }
            4 | 5 => {
                let size = 1u64 << (b.u8() % 10);
                let (desc, avail, used) =
                    (guest_addr(&mut b), guest_addr(&mut b), guest_addr(&mut b));
                virtio_setup(&mut m, slot, size, desc, avail, used);
            }
            _ => {
                virtio_write(&mut m, slot, reg::QUEUE_NOTIFY, (b.u8() % 2) as u64);
            }
        }
    }
    assert_eq!(m.ram().size(), 1 << 20);
    drop(m);
    if let Some(len) = disk_len {
        let after = std::fs::metadata(disk).map(|md| md.len()).ok();
        assert_eq!(after, Some(len), "the guest changed the disk file's size");
    }
}

/// Hand assembly of the bare-metal virtio drivers below (RV64I, no compressed code).
pub mod asm {
    use emu::cpu::encode::{j_type, op, s_type};

    pub const T0: u32 = 5;
    pub const T1: u32 = 6;

    /// `rd = value` for any 64-bit value: 11 bits at a time, so every `ori` immediate
    /// is positive (13 words).
    pub fn li(code: &mut Vec<u32>, rd: u32, value: u64) {
        code.extend(emu::cpu::encode::load_immediate(rd, value));
    }

    /// `sw rs2, offset(rs1)`.
    pub fn sw(code: &mut Vec<u32>, rs2: u32, rs1: u32, offset: i32) {
        code.push(s_type(op::STORE, 2, rs1, rs2, offset));
    }

    /// `jal x0, offset` (bytes, relative to this instruction).
    pub fn j(code: &mut Vec<u32>, offset: i32) {
        code.push(j_type(op::JAL, 0, offset));
    }
}

/// Where the queue of a guest-built virtio driver lives, and how the driver behaves.
#[derive(Debug, Clone, Copy)]
pub struct DriverPlan {
    /// virtio-mmio slot (0 = the first disk).
    pub slot: u64,
    pub queue_size: u32,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    /// Notify once and spin (`false`), or notify again and again (`true`).
    pub notify_forever: bool,
}

/// A bare-metal program for `DRAM_BASE` that initialises a virtio-mmio device the way a
/// driver does (virtio 1.x §3.1.1, queue 0 at the plan's addresses), notifies queue 0,
/// and then spins or keeps notifying. Every access is a guest store through the bus.
pub fn driver_program(plan: &DriverPlan) -> Vec<u32> {
    use asm::{li, sw, T0, T1};
    let base = map::VIRTIO0 + plan.slot * map::VIRTIO_STRIDE;
    let mut code = Vec::new();
    li(&mut code, T0, base);
    let store = |code: &mut Vec<u32>, offset: u64, value: u64| {
        li(code, T1, value);
        sw(code, T1, T0, offset as i32);
    };
    let queue_regs = [
        (reg::QUEUE_DESC_LOW, plan.desc),
        (reg::QUEUE_DRIVER_LOW, plan.avail),
        (reg::QUEUE_DEVICE_LOW, plan.used),
    ];
    store(&mut code, reg::STATUS, 0);
    store(&mut code, reg::STATUS, 1 | 2);
    store(&mut code, reg::DRIVER_FEATURES_SEL, 1);
    store(&mut code, reg::DRIVER_FEATURES, VIRTIO_F_VERSION_1_HIGH);
    store(&mut code, reg::STATUS, 1 | 2 | 8);
    store(&mut code, reg::QUEUE_SEL, 0);
    store(&mut code, reg::QUEUE_NUM, plan.queue_size as u64);
    for (low, addr) in queue_regs {
        store(&mut code, low, addr & 0xffff_ffff);
        store(&mut code, low + 4, addr >> 32);
    }
    store(&mut code, reg::QUEUE_READY, 1);
    store(&mut code, reg::STATUS, 1 | 2 | 8 | 4);
    // Notify queue 0 (x0 is the value 0), then spin or notify again.
    sw(&mut code, 0, T0, reg::QUEUE_NOTIFY as i32);
    asm::j(&mut code, if plan.notify_forever { -4 } else { 0 });
    code
}

/// The request chain of the "self-publishing" attack on virtio-blk, built in RAM at
/// `base` (needs 0x340 bytes) on a queue of four entries:
///
/// - the request header's sector field and the available ring's `idx` are the same
///   bytes (the ring starts 6 bytes into the header), so the driver's index names the
///   sector to read;
/// - the data buffer covers the header and the ring, so every completed read writes the
///   sector's contents over both.
///
/// With a disk whose sector `n` holds `n + 1` at byte 8 ([`self_publishing_disk`]),
/// each completion publishes the next request, forever: a device that serves "until the
/// ring is empty" inside the notify store never returns from it. Returns the plan
/// (slot 0) for [`driver_program`].
pub fn self_publishing_chain(ram: &mut emu::bus::Ram, base: u64) -> DriverPlan {
    // The data buffer is one sector at `header`: everything the reads must not
    // overwrite (descriptors, status byte, used ring) lies past it.
    let header = base;
    let desc = base + 0x200;
    let status = base + 0x280;
    let used = base + 0x300;
    let put_desc = |ram: &mut emu::bus::Ram, i: u64, addr: u64, len: u32, flags: u16, next: u16| {
        let d = desc + 16 * i;
        ram.write(d, 8, addr);
        ram.write(d + 8, 4, len as u64);
        ram.write(d + 12, 2, flags as u64);
        ram.write(d + 14, 2, next as u64);
    };
    // Header: type 0 (read), sector 1 = the ring's idx, so one request is published.
    ram.write(header, 4, 0);
    ram.write(header + 8, 8, 1);
    put_desc(ram, 0, header, 16, 1, 1);
    put_desc(ram, 1, header, 512, 1 | 2, 2);
    put_desc(ram, 2, status, 1, 2, 0);
    DriverPlan {
        slot: 0,
        queue_size: 4,
        desc,
        avail: header + 6,
        used,
        notify_forever: false,
    }
}

/// The disk for [`self_publishing_chain`]: 65536 sectors, sector `n` holding the
/// request header "read sector n + 1" (the type is 0, the sector at byte 8), so the
/// chain never runs out of requests, even when the 16-bit index wraps.
pub fn self_publishing_disk() -> Vec<u8> {
    let mut disk = vec![0u8; 65536 * 512];
    for (n, sector) in disk.chunks_mut(512).enumerate() {
        sector[8..10].copy_from_slice(&((n as u16).wrapping_add(1)).to_le_bytes());
    }
    disk
}

/// RAM of the guest-driven virtio scenario.
pub const GUEST_VIRTIO_RAM: u64 = 1 << 20;
/// Most instructions one guest-driven virtio scenario runs.
pub const GUEST_VIRTIO_STEPS: u64 = 20_000;

/// A guest that drives the disk (slot 0) or the entropy device (slot 1) through its own
/// stores: descriptor tables, rings and buffers in RAM are the bytes' (with addresses
/// drawn toward the rings themselves, so buffers alias them), the queue's placement and
/// size too, and the program notifies once or in a loop. The run is bounded by an
/// instruction limit and must end by it (or a guest exit), whatever the device is asked
/// to do (DMA may overwrite the program, so a trap, an exit or a sleep can end it too);
/// the disk file keeps its size.
pub fn run_guest_virtio(data: &[u8], disk: &Path) -> StopReason {
    let disk_len = std::fs::metadata(disk).map(|md| md.len()).ok();
    let mut b = Bytes::new(data);
    let mut config = quiet_config(GUEST_VIRTIO_RAM);
    config.disks = vec![DiskConfig::open(disk).expect("open the scenario disk")];
    config.snapshot = b.bool();
    let mut m = Machine::new(config);
    // The rings go in the second 64 KiB of RAM; the program is in the first.
    let area = DRAM_BASE + 0x1_0000;
    let near = |b: &mut Bytes| -> u64 {
        match b.u8() % 8 {
            0 => b.u64(),
            1 => DRAM_BASE + b.u32() as u64 % GUEST_VIRTIO_RAM,
            _ => area + b.u16() as u64 % 0x1000,
        }
    };
    let plan = DriverPlan {
        slot: (b.u8() % 2) as u64,
        queue_size: [1, 2, 4, 8, 16, 256, 3, 0][b.u8() as usize % 8],
        desc: near(&mut b),
        avail: near(&mut b),
        used: near(&mut b),
        notify_forever: b.bool(),
    };
    let steps = 1 + b.u32() as u64 % GUEST_VIRTIO_STEPS;
    // Descriptors: addresses near the rings (so buffers alias them), any length, flags.
    for i in 0..(b.u8() % 32) as u64 {
        let d = plan.desc.wrapping_add(16 * i);
        let addr = near(&mut b);
        let len = match b.u8() % 4 {
            0 => b.u32() as u64,
            1 => 16,
            2 => 512 * (1 + b.u8() as u64 % 8),
            _ => 1,
        };
        let _ = m.ram().write(d, 8, addr);
        let _ = m.ram().write(d.wrapping_add(8), 4, len);
        let _ = m.ram().write(d.wrapping_add(12), 2, (b.u8() & 7) as u64);
        let _ = m.ram().write(d.wrapping_add(14), 2, (b.u8() % 32) as u64);
    }
    // Available ring: flags, idx, entries.
    let _ = m
        .ram()
        .write(plan.avail.wrapping_add(2), 2, b.u8() as u64 % 8);
    for i in 0..8u64 {
        let _ = m
            .ram()
            .write(plan.avail.wrapping_add(4 + 2 * i), 2, (b.u8() % 32) as u64);
    }
    // Whatever is left of the bytes lands in the ring area as it is.
    let rest = b.take(0x1000);
    m.ram().load(area, rest);
    let code: Vec<u8> = driver_program(&plan)
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert!(m.ram().load(DRAM_BASE, &code));
    m.harts[0].pc = DRAM_BASE;
    let stop = m.run(Some(steps));
    assert!(
        matches!(
            stop,
            StopReason::InsnLimit | StopReason::Exit(_) | StopReason::Reset | StopReason::Deadlock
        ),
        "unexpected stop {stop:?}"
    );
    assert!(
        m.total_insns <= steps,
        "ran {} of {steps} instructions",
        m.total_insns
    );
    drop(m);
    if let Some(len) = disk_len {
        let after = std::fs::metadata(disk).map(|md| md.len()).ok();
        assert_eq!(after, Some(len), "the guest changed the disk file's size");
    }
    stop
}

//! Nothing a guest does may crash or hang the emulator (issue 10, "guest cannot escape"):
//! hostile virtio queues get a device error, random instruction streams in every
//! privilege level end in architectural states, and bare-metal guests that jump to
//! garbage, store to wild physical addresses or program absurd timer compares end with
//! a defined exit status through the `emu` binary.

mod common;
mod hostile;

use common::{elf64, temp_file, Segment, DRAM, EM_RISCV};
use emu::bus::DRAM_BASE;
use emu::cpu::encode::{i_type, op, s_type};
use emu::machine::Machine;
use hostile::{reg, virtio_read, virtio_setup, virtio_write, STATUS_NEEDS_RESET};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- deterministic PRNG

/// SplitMix64: a seeded, dependency-free source of test bytes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n.div_ceil(8))
            .flat_map(|_| self.next().to_le_bytes())
            .take(n)
            .collect()
    }
}

// ---------------------------------------------------------------- virtio through the bus

const SECTORS: usize = 64;
const DESC: u64 = DRAM_BASE + 0x1000;
const AVAIL: u64 = DRAM_BASE + 0x2000;
const USED: u64 = DRAM_BASE + 0x3000;
const HEADER: u64 = DRAM_BASE + 0x4000;
const DATA: u64 = DRAM_BASE + 0x5000;
const STATUS: u64 = DRAM_BASE + 0x8000;
const BLK: u64 = 0;
const RNG: u64 = 1;
const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;

/// A disk file whose sector `s` is filled with byte `s + 1`, removed on drop.
struct Disk(PathBuf);

impl Disk {
    fn new(name: &str) -> Disk {
        let bytes: Vec<u8> = (0..SECTORS)
            .flat_map(|s| std::iter::repeat_n(s as u8 + 1, 512))
            .collect();
        Disk(temp_file(name, &bytes))
    }

    fn contents(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn desc(m: &mut Machine, i: u64, addr: u64, len: u32, flags: u16, next: u16) {
    let d = DESC + 16 * i;
    let ram = m.ram();
    ram.write(d, 8, addr);
    ram.write(d + 8, 4, len as u64);
    ram.write(d + 12, 2, flags as u64);
    ram.write(d + 14, 2, next as u64);
}

/// Publish `head` as the next available chain (after `published` earlier ones) and notify.
fn submit(m: &mut Machine, slot: u64, head: u16, published: u16) {
    let ring_slot = published as u64 % 8;
    m.ram().write(AVAIL + 4 + 2 * ring_slot, 2, head as u64);
    m.ram().write(AVAIL + 2, 2, published as u64 + 1);
    virtio_write(m, slot, reg::QUEUE_NOTIFY, 0);
}

fn used_idx(m: &mut Machine) -> u16 {
    m.ram().read(USED + 2, 2).unwrap() as u16
}

fn needs_reset(m: &mut Machine, slot: u64) -> bool {
    virtio_read(m, slot, reg::STATUS) & STATUS_NEEDS_RESET != 0
}

/// A block-read request header for `sector` at HEADER, status byte primed to 0xff.
fn blk_header(m: &mut Machine, sector: u64) {
    m.ram().write(HEADER, 4, 0);
    m.ram().write(HEADER + 8, 8, sector);
    m.ram().write(STATUS, 1, 0xff);
}

fn ready_machine(disk: &Disk) -> Machine {
    let mut m = hostile::virtio_machine(&disk.0, false);
    virtio_setup(&mut m, BLK, 8, DESC, AVAIL, USED);
    virtio_setup(&mut m, RNG, 8, DESC, AVAIL, USED);
    assert!(!needs_reset(&mut m, BLK));
    m
}

/// The harness itself works: a well-formed read completes with the disk's bytes. Without
/// this the error cases below could pass for the wrong reason.
#[test]
fn a_valid_block_read_completes() {
    let disk = Disk::new("valid.img");
    let mut m = ready_machine(&disk);
    blk_header(&mut m, 3);
    desc(&mut m, 0, HEADER, 16, F_NEXT, 1);
    desc(&mut m, 1, DATA, 512, F_WRITE | F_NEXT, 2);
    desc(&mut m, 2, STATUS, 1, F_WRITE, 0);
    submit(&mut m, BLK, 0, 0);
    assert_eq!(used_idx(&mut m), 1);
    assert_eq!(m.ram().read(STATUS, 1), Some(0));
    let mut data = [0u8; 512];
    assert!(m.ram().read_bytes(DATA, &mut data));
    assert!(data.iter().all(|&b| b == 4));
    assert!(!needs_reset(&mut m, BLK));
}

/// Each hostile chain puts the device in NEEDS_RESET without completing anything; after
/// a reset the same device serves a valid request again.
#[test]
fn hostile_descriptors_are_device_errors() {
    const RAM_END: u64 = DRAM_BASE + (1 << 20);
    type Chain = &'static [(u64, u32, u16, u16)];
    let cases: [(&str, Chain); 8] = [
        (
            "data outside RAM",
            &[
                (HEADER, 16, F_NEXT, 1),
                (0x1000, 512, F_WRITE | F_NEXT, 2),
                (STATUS, 1, F_WRITE, 0),
            ],
        ),
        (
            "data below RAM",
            &[
                (HEADER, 16, F_NEXT, 1),
                (DRAM_BASE - 256, 512, F_WRITE | F_NEXT, 2),
                (STATUS, 1, F_WRITE, 0),
            ],
        ),
        (
            "data across the end of RAM",
            &[
                (HEADER, 16, F_NEXT, 1),
                (RAM_END - 256, 512, F_WRITE | F_NEXT, 2),
                (STATUS, 1, F_WRITE, 0),
            ],
        ),
        (
            "enormous length",
            &[
                (HEADER, 16, F_NEXT, 1),
                (DATA, u32::MAX, F_WRITE | F_NEXT, 2),
                (STATUS, 1, F_WRITE, 0),
            ],
        ),
        (
            "address that wraps",
            &[
                (HEADER, 16, F_NEXT, 1),
                (u64::MAX - 8, 512, F_WRITE | F_NEXT, 2),
                (STATUS, 1, F_WRITE, 0),
            ],
        ),
        (
            "two-descriptor loop",
            &[(HEADER, 16, F_NEXT, 1), (DATA, 512, F_WRITE | F_NEXT, 0)],
        ),
        ("self loop", &[(HEADER, 16, F_NEXT, 0)]),
        ("next index past the queue", &[(HEADER, 16, F_NEXT, 200)]),
    ];
    for (what, chain) in cases {
        let disk = Disk::new("hostile.img");
        let before = disk.contents();
        let mut m = ready_machine(&disk);
        blk_header(&mut m, 0);
        for (i, &(addr, len, flags, next)) in chain.iter().enumerate() {
            desc(&mut m, i as u64, addr, len, flags, next);
        }
        submit(&mut m, BLK, 0, 0);
        assert!(needs_reset(&mut m, BLK), "{what}: no device error");
        assert_eq!(used_idx(&mut m), 0, "{what}: a chain was completed");
        assert_eq!(
            m.ram().read(STATUS, 1),
            Some(0xff),
            "{what}: status written"
        );
        // NEEDS_RESET is sticky: further notifies do nothing until the driver resets.
        submit(&mut m, BLK, 0, 1);
        assert_eq!(used_idx(&mut m), 0, "{what}: served while in NEEDS_RESET");
        drop(m);
        assert_eq!(disk.contents(), before, "{what}: disk changed");

        let mut m = ready_machine(&disk);
        blk_header(&mut m, 1);
        desc(&mut m, 0, HEADER, 16, F_NEXT, 1);
        desc(&mut m, 1, DATA, 512, F_WRITE | F_NEXT, 2);
        desc(&mut m, 2, STATUS, 1, F_WRITE, 0);
        submit(&mut m, BLK, 0, 0);
        assert_eq!(used_idx(&mut m), 1, "{what}: no recovery after reset");
    }
}

#[test]
fn rings_outside_ram_and_bad_queue_sizes_are_device_errors() {
    let disk = Disk::new("rings.img");
    let cases: [(&str, u64, u64, u64, u64); 5] = [
        ("descriptor table outside RAM", 8, 0x1000, AVAIL, USED),
        (
            "avail ring across the end of RAM",
            8,
            DESC,
            DRAM_BASE + (1 << 20) - 4,
            USED,
        ),
        (
            "used ring at the top of the address space",
            8,
            DESC,
            AVAIL,
            u64::MAX - 16,
        ),
        ("queue size not a power of two", 6, DESC, AVAIL, USED),
        ("queue size above the maximum", 1024, DESC, AVAIL, USED),
    ];
    for (what, size, d, a, u) in cases {
        let mut m = hostile::virtio_machine(&disk.0, false);
        virtio_setup(&mut m, BLK, size, d, a, u);
        m.ram().write(AVAIL + 2, 2, 1);
        m.ram().write(DRAM_BASE + (1 << 20) - 2, 2, 1);
        virtio_write(&mut m, BLK, reg::QUEUE_NOTIFY, 0);
        assert!(needs_reset(&mut m, BLK), "{what}: no device error");
    }
}

#[test]
fn avail_index_running_ahead_is_a_device_error() {
    let disk = Disk::new("overrun.img");
    let mut m = ready_machine(&disk);
    m.ram().write(AVAIL + 2, 2, 9);
    virtio_write(&mut m, BLK, reg::QUEUE_NOTIFY, 0);
    assert!(needs_reset(&mut m, BLK));
    assert_eq!(used_idx(&mut m), 0);
}

/// Overlap is not a protocol error, so the device serves it, but it must stay inside
/// RAM: here the data buffer covers the descriptor table, the rings and the status byte.
#[test]
fn overlapping_buffers_are_served_inside_ram() {
    let disk = Disk::new("overlap.img");
    let mut m = ready_machine(&disk);
    blk_header(&mut m, 2);
    desc(&mut m, 0, HEADER, 16, F_NEXT, 1);
    desc(
        &mut m,
        1,
        DESC,
        (STATUS - DESC + 1) as u32,
        F_WRITE | F_NEXT,
        2,
    );
    desc(&mut m, 2, STATUS, 1, F_WRITE, 0);
    submit(&mut m, BLK, 0, 0);
    // Not whole sectors: the request completes with an I/O error and writes nothing else.
    assert_eq!(used_idx(&mut m), 1);
    assert_eq!(m.ram().read(STATUS, 1), Some(1));

    // A whole-sector read over its own header and descriptors.
    let mut m = ready_machine(&disk);
    blk_header(&mut m, 2);
    desc(&mut m, 0, HEADER, 16, F_NEXT, 1);
    desc(&mut m, 1, DESC, 0x4000, F_WRITE | F_NEXT, 2);
    desc(&mut m, 2, STATUS, 1, F_WRITE, 0);
    submit(&mut m, BLK, 0, 0);
    let mut d = [0u8; 16];
    assert!(m.ram().read_bytes(DESC, &mut d));
    assert!(
        d.iter().all(|&b| b == 3),
        "sector 2 did not land over the table"
    );
}

#[test]
fn entropy_device_with_hostile_buffers() {
    let disk = Disk::new("rng.img");
    // Enormous but in-RAM buffer: filled, bounded by RAM.
    let mut m = ready_machine(&disk);
    desc(&mut m, 0, DRAM_BASE, 1 << 20, F_WRITE, 0);
    submit(&mut m, RNG, 0, 0);
    assert!(used_idx(&mut m) == 1 || needs_reset(&mut m, RNG));
    // Past the end of RAM: device error.
    let mut m = ready_machine(&disk);
    desc(&mut m, 0, DRAM_BASE + 0x1000, u32::MAX, F_WRITE, 0);
    submit(&mut m, RNG, 0, 0);
    assert!(needs_reset(&mut m, RNG));
    assert_eq!(used_idx(&mut m), 0);
}

/// The fuzzer's virtio scenario, driven by a seeded PRNG: random RAM, random register
/// writes, full set-ups with random ring addresses, notifies.
#[test]
fn random_hostile_drivers_never_crash() {
    let disk = Disk::new("random.img");
    let before = disk.contents();
    let mut rng = SplitMix(0x5eed_0001);
    for _ in 0..300 {
        let len = 64 + rng.next() as usize % 4096;
        let mut data = rng.bytes(len);
        data[0] |= 1; // snapshot: the file must then stay as it was
        hostile::run_virtio(&data, &disk.0, true);
    }
    assert_eq!(disk.contents(), before, "snapshot mode wrote the file");
}

// ---------------------------------------------------------------- random instruction streams

/// The fuzzer's hart scenario, seeded: random memory and registers, random mstatus, satp
/// (all modes, with and without an identity mapping), delegation and trap vectors, in
/// each privilege level. Every run ends in an architectural state and runs the same way
/// twice.
#[test]
fn random_instruction_streams_in_every_privilege_level() {
    let mut rng = SplitMix(0x5eed_0002);
    for privilege in 0..3u8 {
        for i in 0..60 {
            let len = hostile::STATE_LEN + (rng.next() % 8192) as usize;
            let mut data = rng.bytes(len);
            data[hostile::STATE_PRIV] = privilege;
            data[hostile::STATE_SATP_MODE] = i as u8 % 4;
            data[hostile::STATE_MAP_IMAGE] = (i / 4) as u8 % 2;
            let first = hostile::run_hart(&data);
            let second = hostile::run_hart(&data);
            assert_eq!(first, second, "seed run {privilege}/{i} not deterministic");
        }
    }
}

/// Random streams made of valid-looking instructions (mostly loads, stores, branches and
/// CSR accesses aimed at the interesting addresses in the registers), which get further
/// than raw random bytes before they trap.
#[test]
fn random_valid_instruction_mixes() {
    let mut rng = SplitMix(0x5eed_0003);
    for i in 0..120 {
        let mut data = rng.bytes(hostile::STATE_LEN);
        data[hostile::STATE_PRIV] = (i % 3) as u8;
        data[hostile::STATE_SATP_MODE] = i as u8 % 4;
        data[hostile::STATE_MAP_IMAGE] = 1;
        let code: Vec<u8> = (0..1024)
            .flat_map(|_| {
                let r = rng.next();
                let (rd, rs1, rs2) = (
                    (r & 31) as u32,
                    ((r >> 5) & 31) as u32,
                    ((r >> 10) & 31) as u32,
                );
                let imm = ((r >> 16) as i32) & 0x7f8;
                let w = match (r >> 40) % 6 {
                    0 => i_type(op::LOAD, rd, ((r >> 48) & 3) as u32, rs1, imm),
                    1 => s_type(op::STORE, ((r >> 48) & 3) as u32, rs1, rs2, imm),
                    2 => i_type(
                        op::SYSTEM,
                        rd,
                        1 + ((r >> 48) % 3) as u32,
                        rs1,
                        ((r >> 52) & 0xfff) as i32,
                    ),
                    3 => i_type(op::OP_IMM, rd, 0, rs1, imm),
                    4 => (r >> 8) as u32,
                    _ => i_type(op::JALR, 0, 0, rs1, imm),
                };
                w.to_le_bytes()
            })
            .collect();
        // The image follows the state bytes, so the code is what executes first.
        data.extend_from_slice(&code);
        hostile::run_hart(&data);
    }
}

// ---------------------------------------------------------------- wild guests through `emu`

/// Hand assembly for the bare-metal guests below.
#[derive(Default)]
struct Asm(Vec<u32>);

const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const S1: u32 = 9;
const T3: u32 = 28;
const T4: u32 = 29;

const CSR_MSTATUS: i32 = 0x300;
const CSR_MIE: i32 = 0x304;
const CSR_MTVEC: i32 = 0x305;
const CSR_MEPC: i32 = 0x341;
const CSR_MCAUSE: i32 = 0x342;
const TEST_DEVICE: u64 = 0x10_0000;
const MTIMECMP: u64 = 0x200_4000;

impl Asm {
    fn at(&self) -> u64 {
        DRAM + 4 * self.0.len() as u64
    }

    /// Any 64-bit constant: 11 bits at a time, so every `ori` immediate is positive.
    fn li(&mut self, rd: u32, value: u64) -> &mut Self {
        self.0.extend(emu::cpu::encode::load_immediate(rd, value));
        self
    }

    fn sd(&mut self, rs2: u32, rs1: u32) -> &mut Self {
        self.0.push(s_type(op::STORE, 3, rs1, rs2, 0));
        self
    }

    fn sw(&mut self, rs2: u32, rs1: u32) -> &mut Self {
        self.0.push(s_type(op::STORE, 2, rs1, rs2, 0));
        self
    }

    fn ld(&mut self, rd: u32, rs1: u32) -> &mut Self {
        self.0.push(i_type(op::LOAD, rd, 3, rs1, 0));
        self
    }

    fn addi(&mut self, rd: u32, rs1: u32, imm: i32) -> &mut Self {
        self.0.push(i_type(op::OP_IMM, rd, 0, rs1, imm));
        self
    }

    fn slli(&mut self, rd: u32, rs1: u32, sh: i32) -> &mut Self {
        self.0.push(i_type(op::OP_IMM, rd, 1, rs1, sh));
        self
    }

    fn or(&mut self, rd: u32, rs1: u32, rs2: u32) -> &mut Self {
        self.0
            .push((rs2 << 20) | (rs1 << 15) | (6 << 12) | (rd << 7) | op::OP);
        self
    }

    fn csrw(&mut self, csr: i32, rs1: u32) -> &mut Self {
        self.0.push(i_type(op::SYSTEM, 0, 1, rs1, csr));
        self
    }

    fn csrr(&mut self, rd: u32, csr: i32) -> &mut Self {
        self.0.push(i_type(op::SYSTEM, rd, 2, 0, csr));
        self
    }

    fn jr(&mut self, rs1: u32) -> &mut Self {
        self.0.push(i_type(op::JALR, 0, 0, rs1, 0));
        self
    }

    fn mret(&mut self) -> &mut Self {
        self.0.push(0x3020_0073);
        self
    }

    fn wfi(&mut self) -> &mut Self {
        self.0.push(0x1050_0073);
        self
    }

    fn loop_forever(&mut self) -> &mut Self {
        self.0.push(0x0000_006f);
        self
    }

    /// Exit through the sifive test device with status `100 + reg` (fail code in bits
    /// 31:16; the status is its low byte).
    fn exit_with(&mut self, reg: u32) -> &mut Self {
        self.addi(reg, reg, 100)
            .slli(reg, reg, 16)
            .li(T4, 0x3333)
            .or(reg, reg, T4)
            .li(T4, TEST_DEVICE)
            .sw(reg, T4)
            .loop_forever()
    }
}

/// Run `emu run --bios none` on `words` with stdin closed, failing the test if it takes
/// longer than `limit`. Returns (status, stderr).
fn run_guest(name: &str, words: &[u32], extra: &[&str], limit: Duration) -> (Option<i32>, String) {
    let elf = elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, words)]);
    let path = temp_file(name, &elf);
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none", "-m", "16M"])
        .arg(&path)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start emu");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: emu still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        !stderr.contains("panicked"),
        "{name}: emu panicked:\n{stderr}"
    );
    (status.code(), stderr)
}

/// A machine-mode trap handler that exits with 100 + mcause.
fn exit_on_trap(a: &mut Asm) -> u64 {
    let handler = a.at();
    a.csrr(T3, CSR_MCAUSE).exit_with(T3);
    handler
}

/// Code that first jumps over a handler placed at the start, then installs it as mtvec.
fn with_handler(handler: impl FnOnce(&mut Asm)) -> Asm {
    let mut a = Asm::default();
    // Leave room for a jump over the handler: patched below.
    a.0.push(0);
    let handler_at = a.at();
    handler(&mut a);
    let body = a.at();
    a.0[0] = common_jal(body - DRAM);
    a.li(T0, handler_at).csrw(CSR_MTVEC, T0);
    a
}

fn common_jal(offset: u64) -> u32 {
    emu::cpu::encode::j_type(op::JAL, 0, offset as i32)
}

#[test]
fn jump_to_unmapped_address_is_an_instruction_access_fault() {
    let mut a = with_handler(|a| {
        exit_on_trap(a);
    });
    a.li(T0, 0xdead_beef_0000).jr(T0);
    let (status, err) = run_guest("jump-unmapped.elf", &a.0, &[], Duration::from_secs(60));
    assert_eq!(status, Some(101), "{err}");
}

#[test]
fn jump_into_garbage_takes_an_architectural_trap() {
    let mut rng = SplitMix(0x5eed_0004);
    for i in 0..8 {
        let mut a = with_handler(|a| {
            exit_on_trap(a);
        });
        // li is 13 words, jr one: the garbage follows the jump directly.
        let garbage_at = a.at() + 4 * 14;
        a.li(T0, garbage_at).jr(T0);
        assert_eq!(a.at(), garbage_at);
        a.0.extend((0..256).map(|_| rng.next() as u32));
        // Garbage may loop or sleep without trapping: bound it.
        let (status, err) = run_guest(
            &format!("garbage{i}.elf"),
            &a.0,
            &["--max-insns", "1000000"],
            Duration::from_secs(60),
        );
        let architectural = [
            100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112, 113, 115,
        ];
        assert!(
            matches!(status, Some(s) if architectural.contains(&s) || s == 124 || s == 125 || s < 100),
            "garbage {i}: status {status:?}\n{err}"
        );
    }
}

/// Stores and loads at addresses nothing answers at (or that refuse them) each take an
/// access fault; a handler counts them and skips the instruction; RAM still works after.
#[test]
fn wild_physical_stores_and_loads_fault_and_are_counted() {
    let ram_end = DRAM + (16 << 20);
    let wild = [
        0,
        0x1000,                // boot ROM: read-only
        DRAM - 8,              // just below RAM
        ram_end,               // just past RAM
        ram_end - 4,           // an 8-byte access across the end of RAM
        0x00ff_ffff_ffff_fff8, // top of the 56-bit physical space
        0x0100_0000_0000_0000, // beyond it
        0xffff_ffff_ffff_fff8, // top of the 64-bit space
    ];
    let mut a = with_handler(|a| {
        a.csrr(T3, CSR_MEPC)
            .addi(T3, T3, 4)
            .csrw(CSR_MEPC, T3)
            .addi(S1, S1, 1)
            .mret();
    });
    a.addi(S1, 0, 0);
    for &addr in &wild {
        a.li(T0, addr).sd(T1, T0).ld(T2, T0);
    }
    // RAM is still fine: store and load back, counted as faults if not.
    a.li(T0, DRAM + 0x10_0000)
        .li(T1, 0x1234)
        .sd(T1, T0)
        .ld(T2, T0);
    a.0.push(emu::cpu::encode::b_type(op::BRANCH, 1, T2, T1, 8)); // bne t2, t1, +8
    a.0.push(common_jal(8)); // equal: skip the penalty
    a.addi(S1, S1, 50);
    a.addi(T3, S1, 0).exit_with(T3);
    let (status, err) = run_guest("wild.elf", &a.0, &[], Duration::from_secs(60));
    // The boot ROM faults only on the store; every other address on both.
    let faults = 2 * wild.len() as i32 - 1;
    assert_eq!(status, Some(100 + faults), "{err}");
}

/// WFI with the timer as the only wake-up: a compare so far away that the instruction
/// counter could never reach it is no wake-up at all, so emu reports that every hart
/// sleeps forever (125) instead of running to a `--max-insns` nobody gave, or hanging;
/// one just within reach is taken (status 100 + 7, the timer interrupt).
#[test]
fn absurd_mtimecmp_and_wfi_ends_the_run() {
    let cases = [
        ("never", u64::MAX, 125),
        ("far-future", u64::MAX - 1, 125),
        ("just-unreachable", u64::MAX / 10 + 1, 125),
        ("reachable", u64::MAX / 10 - 3, 107),
    ];
    for (name, cmp, want) in cases {
        let mut a = with_handler(|a| {
            exit_on_trap(a);
        });
        a.li(T0, MTIMECMP)
            .li(T1, cmp)
            .sd(T1, T0)
            .li(T1, 1 << 7)
            .csrw(CSR_MIE, T1)
            .li(T1, 1 << 3)
            .csrw(CSR_MSTATUS, T1)
            .wfi()
            .loop_forever();
        let (status, err) = run_guest(
            &format!("mtimecmp-{name}.elf"),
            &a.0,
            &[],
            Duration::from_secs(60),
        );
        assert_eq!(status, Some(want), "{name}: {err}");
        assert!(!err.contains("--max-insns"), "{name}: {err}");
    }
}

/// mtimecmp = 0 with the timer enabled and a handler that returns without clearing it:
/// an interrupt storm that must still be bounded by --max-insns.
#[test]
fn timer_interrupt_storm_is_bounded() {
    let mut a = with_handler(|a| {
        a.mret();
    });
    a.li(T0, MTIMECMP)
        .sd(0, T0)
        .li(T1, 1 << 7)
        .csrw(CSR_MIE, T1)
        .li(T1, 1 << 3)
        .csrw(CSR_MSTATUS, T1)
        .loop_forever();
    let (status, err) = run_guest(
        "storm.elf",
        &a.0,
        &["--max-insns", "2000000"],
        Duration::from_secs(60),
    );
    assert_eq!(status, Some(124), "{err}");
}

/// Physical accesses whose end wraps past 2^64 reach no device: each is a bus fault,
/// never a device access at a huge offset. (The MMU stops such addresses for the hart;
/// this holds the bus to the same rule for everything else that uses it.)
#[test]
fn bus_accesses_that_wrap_the_address_space_fault() {
    let disk = Disk::new("wrap.img");
    let mut m = hostile::virtio_machine(&disk.0, false);
    for size in [2usize, 4, 8] {
        for back in 1..size as u64 {
            let pa = 0u64.wrapping_sub(back);
            assert!(m.bus.read(pa, size).is_err(), "read {size} at {pa:#x}");
            assert!(m.bus.write(pa, size, 0).is_err(), "write {size} at {pa:#x}");
        }
    }
}

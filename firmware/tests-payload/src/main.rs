//! An S-mode test kernel for the firmware: it calls every SBI service the firmware offers,
//! checks the answers and the interrupts they cause, prints one line per check, and ends
//! the machine with SBI SRST: a clean shutdown if all checks passed, "system failure"
//! (a non-zero exit status of emu or QEMU) otherwise. With more than one hart it also
//! starts and stops a secondary hart twice through HSM.
//!
//! Build (from this directory) and run:
//!   cargo build --release --target riscv64gc-unknown-none-elf --target-dir ../../target/guest
//!   emu run ../../target/guest/riscv64gc-unknown-none-elf/release/sbi-test-payload
//!   qemu-system-riscv64 -M virt -nographic \
//!     -bios ../../target/guest/riscv64gc-unknown-none-elf/release/firmware \
//!     -kernel ../../target/guest/riscv64gc-unknown-none-elf/release/sbi-test-payload
//! Expected: a line "sbi-test: PASS (N checks)" and exit status 0.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicUsize, Ordering};

const EID_BASE: usize = 0x10;
const EID_TIME: usize = 0x5449_4D45;
const EID_IPI: usize = 0x73_5049;
const EID_RFENCE: usize = 0x5246_4E43;
const EID_HSM: usize = 0x48_534D;
const EID_SRST: usize = 0x5352_5354;
const EID_DBCN: usize = 0x4442_434E;
const EID_PMU: usize = 0x50_4D55;
const LEGACY_SET_TIMER: usize = 0;
const LEGACY_PUTCHAR: usize = 1;

const ERR_NOT_SUPPORTED: isize = -2;
const ERR_INVALID_PARAM: isize = -3;
const ERR_ALREADY_AVAILABLE: isize = -6;
const ERR_ALREADY_STARTED: isize = -7;
const ERR_ALREADY_STOPPED: isize = -8;
const HSM_STARTED: usize = 0;
const HSM_STOPPED: usize = 1;

const TIMEBASE_HZ: u64 = 10_000_000;
const MAX_HARTS: usize = 4;
const STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; MAX_HARTS]);
#[no_mangle]
static mut STACKS: Stacks = Stacks([[0; STACK_SIZE]; MAX_HARTS]);

core::arch::global_asm!(
    ".section .text.entry",
    ".globl _start",
    "_start:",
    "la sp, STACKS",
    "li t0, {stack_size}",
    "add sp, sp, t0",
    "la t0, __bss_start",
    "la t1, __bss_end",
    "1:",
    "bgeu t0, t1, 2f",
    "sd zero, 0(t0)",
    "addi t0, t0, 8",
    "j 1b",
    "2:",
    "call {main}",
    // Secondary harts: a1 (the HSM opaque value) is their stack top.
    ".globl secondary_entry",
    "secondary_entry:",
    "mv sp, a1",
    "call {secondary}",
    stack_size = const STACK_SIZE,
    main = sym main,
    secondary = sym secondary_main,
);

extern "C" {
    fn secondary_entry();
}

struct SbiRet {
    error: isize,
    value: usize,
}

fn ecall(eid: usize, fid: usize, args: [usize; 3]) -> SbiRet {
    ecall4(eid, fid, [args[0], args[1], args[2], 0])
}

fn ecall4(eid: usize, fid: usize, args: [usize; 4]) -> SbiRet {
    ecall5(eid, fid, [args[0], args[1], args[2], args[3], 0])
}

fn ecall5(eid: usize, fid: usize, args: [usize; 5]) -> SbiRet {
    let (error, value);
    // SAFETY: an SBI call only has the effects the SBI specification gives it.
    unsafe {
        core::arch::asm!("ecall",
            inlateout("a0") args[0] => error, inlateout("a1") args[1] => value,
            in("a2") args[2], in("a3") args[3], in("a4") args[4], in("a6") fid, in("a7") eid);
    }
    SbiRet { error, value }
}

fn legacy(eid: usize, arg: usize) -> isize {
    let ret;
    // SAFETY: as for `ecall`.
    unsafe { core::arch::asm!("ecall", inlateout("a0") arg => ret, in("a7") eid) };
    ret
}

fn print(s: &str) {
    ecall(EID_DBCN, 0, [s.len(), s.as_ptr() as usize, 0]);
}

struct Dbcn;
impl core::fmt::Write for Dbcn {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        print(s);
        Ok(())
    }
}

macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!(Dbcn, $($arg)*);
    }};
}

static FAILURES: AtomicUsize = AtomicUsize::new(0);
static CHECKS: AtomicUsize = AtomicUsize::new(0);

fn check(ok: bool, what: &str) {
    CHECKS.fetch_add(1, Ordering::Relaxed);
    if ok {
        println!("sbi-test: ok   {what}");
    } else {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        println!("sbi-test: FAIL {what}");
    }
}

fn time() -> u64 {
    let t: u64;
    // SAFETY: reading the time CSR has no side effects.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) t) };
    t
}

static TIMER_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
static SOFT_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
static SECONDARY_RUNS: AtomicUsize = AtomicUsize::new(0);

const SIE_SSIE: usize = 1 << 1;
const SIE_STIE: usize = 1 << 5;
const SSTATUS_SIE: usize = 1 << 1;

// The interrupt handler saves the caller-saved registers (it calls Rust code that may use
// them); callee-saved ones are preserved by that code itself.
core::arch::global_asm!(
    ".section .text",
    ".balign 4",
    "trap_vector:",
    "addi sp, sp, -128",
    "sd ra, 0(sp)",
    "sd t0, 8(sp)", "sd t1, 16(sp)", "sd t2, 24(sp)",
    "sd a0, 32(sp)", "sd a1, 40(sp)", "sd a2, 48(sp)", "sd a3, 56(sp)",
    "sd a4, 64(sp)", "sd a5, 72(sp)", "sd a6, 80(sp)", "sd a7, 88(sp)",
    "sd t3, 96(sp)", "sd t4, 104(sp)", "sd t5, 112(sp)", "sd t6, 120(sp)",
    "call {handler}",
    "ld ra, 0(sp)",
    "ld t0, 8(sp)", "ld t1, 16(sp)", "ld t2, 24(sp)",
    "ld a0, 32(sp)", "ld a1, 40(sp)", "ld a2, 48(sp)", "ld a3, 56(sp)",
    "ld a4, 64(sp)", "ld a5, 72(sp)", "ld a6, 80(sp)", "ld a7, 88(sp)",
    "ld t3, 96(sp)", "ld t4, 104(sp)", "ld t5, 112(sp)", "ld t6, 120(sp)",
    "addi sp, sp, 128",
    "sret",
    handler = sym handle_trap,
);

extern "C" {
    fn trap_vector();
}

extern "C" fn handle_trap() {
    let scause: usize;
    let sepc: usize;
    // SAFETY: CSR reads.
    unsafe {
        core::arch::asm!("csrr {0}, scause", "csrr {1}, sepc", out(reg) scause, out(reg) sepc)
    };
    match scause {
        c if c == (1 << 63) | 5 => {
            TIMER_INTERRUPTS.fetch_add(1, Ordering::Relaxed);
            // Push the deadline out, which also withdraws the pending STIP.
            ecall(EID_TIME, 0, [u64::MAX as usize, 0, 0]);
        }
        c if c == (1 << 63) | 1 => {
            SOFT_INTERRUPTS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: acknowledging the supervisor software interrupt.
            unsafe { core::arch::asm!("csrc sip, {0}", in(reg) SIE_SSIE) };
        }
        _ => {
            println!("sbi-test: FAIL unexpected trap scause {scause:#x} sepc {sepc:#x}");
            finish(false);
        }
    }
}

/// Waits until `counter` moves from `before`, sleeping with wfi between checks; for an
/// interrupt that is expected to come, so the wfi cannot sleep for good.
fn wait_for(counter: &AtomicUsize, before: usize, ticks: u64) -> bool {
    let end = time() + ticks;
    while counter.load(Ordering::Relaxed) == before && time() < end {
        // SAFETY: wfi only waits.
        unsafe { core::arch::asm!("wfi") };
    }
    counter.load(Ordering::Relaxed) != before
}

/// Spins for `ticks` of time (no wfi: nothing may wake it) and says whether `counter` moved.
fn moved_within(counter: &AtomicUsize, before: usize, ticks: u64) -> bool {
    let end = time() + ticks;
    while time() < end {
        core::hint::spin_loop();
    }
    counter.load(Ordering::Relaxed) != before
}

fn test_base() {
    let version = ecall(EID_BASE, 0, [0; 3]);
    check(
        version.error == 0 && version.value == 2 << 24,
        "BASE spec version is 2.0",
    );
    let imp = ecall(EID_BASE, 1, [0; 3]);
    let imp_version = ecall(EID_BASE, 2, [0; 3]);
    println!(
        "sbi-test: implementation id {} version {:#x}",
        imp.value, imp_version.value
    );
    for (eid, name) in [
        (EID_TIME, "TIME"),
        (EID_IPI, "IPI"),
        (EID_RFENCE, "RFENCE"),
        (EID_HSM, "HSM"),
        (EID_SRST, "SRST"),
        (EID_DBCN, "DBCN"),
        (EID_PMU, "PMU"),
        (LEGACY_PUTCHAR, "legacy console_putchar"),
    ] {
        let probe = ecall(EID_BASE, 3, [eid, 0, 0]);
        check(probe.error == 0 && probe.value != 0, name);
    }
    let absent = ecall(EID_BASE, 3, [0x0abc_def0, 0, 0]);
    check(
        absent.error == 0 && absent.value == 0,
        "probe of an unknown extension is 0",
    );
    let unknown = ecall(0x0abc_def0, 0, [0; 3]);
    check(
        unknown.error == -2,
        "unknown extension answers NOT_SUPPORTED",
    );
}

fn test_console() {
    for b in b"sbi-test: hello via legacy console_putchar\n" {
        legacy(LEGACY_PUTCHAR, *b as usize);
    }
    for b in b"sbi-test: hello via DBCN write_byte\n" {
        ecall(EID_DBCN, 2, [*b as usize, 0, 0]);
    }
    let msg = "sbi-test: hello via DBCN write\n";
    let ret = ecall(EID_DBCN, 0, [msg.len(), msg.as_ptr() as usize, 0]);
    check(
        ret.error == 0 && ret.value == msg.len(),
        "DBCN write returns the byte count",
    );
    let bad = ecall(EID_DBCN, 0, [4, 0, 1]);
    check(
        bad.error == ERR_INVALID_PARAM,
        "DBCN write above 2^64 is INVALID_PARAM",
    );
    let mut buf = [0u8; 8];
    let read = ecall(EID_DBCN, 1, [buf.len(), buf.as_mut_ptr() as usize, 0]);
    check(
        read.error == 0 && read.value <= buf.len(),
        "DBCN read returns at most the buffer size",
    );
}

fn test_timer() {
    let t0 = time();
    while time() == t0 {}
    check(time() > t0, "time advances");

    // SAFETY: enabling the interrupts the handler above serves.
    unsafe {
        core::arch::asm!("csrw stvec, {0}", in(reg) trap_vector as *const () as usize);
        core::arch::asm!("csrs sie, {0}", in(reg) SIE_STIE | SIE_SSIE);
        core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_SIE);
    }
    let deadline = time() + TIMEBASE_HZ / 100;
    let before = TIMER_INTERRUPTS.load(Ordering::Relaxed);
    ecall(EID_TIME, 0, [deadline as usize, 0, 0]);
    let fired = wait_for(&TIMER_INTERRUPTS, before, TIMEBASE_HZ);
    check(
        fired && time() >= deadline,
        "TIME set_timer raises the S timer interrupt after the deadline",
    );
    let before = TIMER_INTERRUPTS.load(Ordering::Relaxed);
    legacy(LEGACY_SET_TIMER, (time() + TIMEBASE_HZ / 100) as usize);
    check(
        wait_for(&TIMER_INTERRUPTS, before, TIMEBASE_HZ),
        "legacy set_timer raises the S timer interrupt",
    );
    // A deadline moved into the future must withdraw an interrupt that has not fired yet.
    let before = TIMER_INTERRUPTS.load(Ordering::Relaxed);
    ecall(EID_TIME, 0, [(time() + TIMEBASE_HZ / 1000) as usize, 0, 0]);
    ecall(EID_TIME, 0, [u64::MAX as usize, 0, 0]);
    check(
        !moved_within(&TIMER_INTERRUPTS, before, TIMEBASE_HZ / 100),
        "a later deadline cancels the earlier one",
    );
}

fn test_ipi(me: usize) {
    let before = SOFT_INTERRUPTS.load(Ordering::Relaxed);
    let ret = ecall(EID_IPI, 0, [1, me, 0]);
    check(
        ret.error == 0 && wait_for(&SOFT_INTERRUPTS, before, TIMEBASE_HZ),
        "IPI to self raises SSIP",
    );
    let before = SOFT_INTERRUPTS.load(Ordering::Relaxed);
    let ret = ecall(EID_IPI, 0, [0, usize::MAX, 0]);
    check(
        ret.error == 0 && wait_for(&SOFT_INTERRUPTS, before, TIMEBASE_HZ),
        "IPI to all harts (base -1)",
    );
    let ret = ecall(EID_IPI, 0, [1, 1000, 0]);
    check(
        ret.error == ERR_INVALID_PARAM,
        "IPI to a missing hart is INVALID_PARAM",
    );
}

fn test_rfence() {
    let ret = ecall(EID_RFENCE, 0, [0, usize::MAX, 0]);
    check(ret.error == 0, "RFENCE remote_fence_i on all harts");
    let ret = ecall(EID_RFENCE, 1, [0, usize::MAX, 0]);
    check(
        ret.error == 0,
        "RFENCE remote_sfence_vma (everything) on all harts",
    );
    let ret = ecall4(EID_RFENCE, 1, [0, usize::MAX, 0x8020_0000, 3 * 4096]);
    check(
        ret.error == 0,
        "RFENCE remote_sfence_vma (range) on all harts",
    );
    let ret = ecall(EID_RFENCE, 0, [1, 1000, 0]);
    check(
        ret.error == ERR_INVALID_PARAM,
        "RFENCE to a missing hart is INVALID_PARAM",
    );
}

fn hart_status(hart: usize) -> SbiRet {
    ecall(EID_HSM, 2, [hart, 0, 0])
}

fn test_hsm(me: usize) {
    let status = hart_status(me);
    check(
        status.error == 0 && status.value == HSM_STARTED,
        "HSM status of this hart is STARTED",
    );
    check(
        hart_status(1000).error == ERR_INVALID_PARAM,
        "HSM status of a missing hart is INVALID_PARAM",
    );
    let again = ecall(EID_HSM, 0, [me, secondary_entry as *const () as usize, 0]);
    check(
        again.error == ERR_ALREADY_AVAILABLE,
        "HSM start of a running hart is ALREADY_AVAILABLE",
    );
    let other = (0..MAX_HARTS).find(|&h| h != me && hart_status(h).error == 0);
    let Some(other) = other else {
        println!("sbi-test: single hart, skipping hart_start/hart_stop");
        return;
    };
    check(
        hart_status(other).value == HSM_STOPPED,
        "HSM: a secondary hart waits STOPPED",
    );
    // Start it twice: the second start proves hart_stop parks the hart for reuse.
    for round in 1..=2 {
        let stack_top = core::ptr::addr_of!(STACKS) as usize + (other + 1) * STACK_SIZE;
        let runs = SECONDARY_RUNS.load(Ordering::Acquire);
        let start = ecall(
            EID_HSM,
            0,
            [other, secondary_entry as *const () as usize, stack_top],
        );
        let ran = start.error == 0 && {
            let end = time() + TIMEBASE_HZ;
            while SECONDARY_RUNS.load(Ordering::Acquire) == runs && time() < end {}
            SECONDARY_RUNS.load(Ordering::Acquire) == runs + 1
        };
        check(
            ran,
            if round == 1 {
                "HSM hart_start runs a secondary hart"
            } else {
                "HSM hart_start again after hart_stop"
            },
        );
        let end = time() + TIMEBASE_HZ;
        while hart_status(other).value != HSM_STOPPED && time() < end {}
        check(
            hart_status(other).value == HSM_STOPPED,
            "HSM hart_stop leaves the hart STOPPED",
        );
    }
}

extern "C" fn secondary_main(hartid: usize) -> ! {
    println!("sbi-test: hart {hartid} started");
    // A remote fence from a secondary hart targets the boot hart too.
    let fence = ecall(EID_RFENCE, 1, [0, usize::MAX, 0]);
    check(fence.error == 0, "RFENCE from a secondary hart");
    SECONDARY_RUNS.fetch_add(1, Ordering::Release);
    ecall(EID_HSM, 1, [0; 3]);
    println!("sbi-test: FAIL hart_stop returned");
    finish(false)
}

// PMU function IDs, configuration/start/stop flags and event encodings (SBI v2.0 ch. 11).
const PMU_NUM_COUNTERS: usize = 0;
const PMU_GET_INFO: usize = 1;
const PMU_CONFIG_MATCHING: usize = 2;
const PMU_START: usize = 3;
const PMU_STOP: usize = 4;
const PMU_FW_READ: usize = 5;
const PMU_FW_READ_HI: usize = 6;
const PMU_SNAPSHOT_SET_SHMEM: usize = 7;
const CFG_SKIP_MATCH: usize = 1 << 0;
const CFG_CLEAR_VALUE: usize = 1 << 1;
const CFG_AUTO_START: usize = 1 << 2;
const START_SET_INIT_VALUE: usize = 1 << 0;
const STOP_RESET: usize = 1 << 0;
const EVENT_CPU_CYCLES: usize = 1;
const EVENT_INSTRUCTIONS: usize = 2;
const EVENT_CACHE_MISSES: usize = 4;
const EVENT_L1D_READ_MISS: usize = (1 << 16) | 1;
const FIRMWARE: usize = 15 << 16;
const EVENT_FW_SET_TIMER: usize = FIRMWARE | 5;
const EVENT_FW_IPI_SENT: usize = FIRMWARE | 6;
const EVENT_FW_IPI_RECEIVED: usize = FIRMWARE | 7;
const EVENT_FW_HFENCE_GVMA_SENT: usize = FIRMWARE | 14;
const COUNTER_TYPE_FIRMWARE: usize = 1 << 63;
/// The counter numbers the firmware gives cycle and instret (those of their CSRs).
const CYCLE: usize = 0;
const INSTRET: usize = 2;

fn instret() -> u64 {
    let n: u64;
    // SAFETY: reading a counter CSR (mcounteren lets S-mode) has no side effects.
    unsafe { core::arch::asm!("rdinstret {0}", out(reg) n) };
    n
}

fn cycle() -> u64 {
    let n: u64;
    // SAFETY: as for `instret`.
    unsafe { core::arch::asm!("rdcycle {0}", out(reg) n) };
    n
}

fn pmu(fid: usize, args: [usize; 5]) -> SbiRet {
    ecall5(EID_PMU, fid, args)
}

/// Counter numbers 0..n whose info reads; `info` gets each one's counter_info.
fn pmu_counters(n: usize, info: &mut [usize; 64]) -> usize {
    let mut valid = 0;
    for (i, slot) in info.iter_mut().enumerate().take(n) {
        let ret = pmu(PMU_GET_INFO, [i, 0, 0, 0, 0]);
        *slot = if ret.error == 0 {
            ret.value
        } else {
            usize::MAX
        };
        valid += (ret.error == 0) as usize;
    }
    valid
}

fn fw_read(counter: usize) -> SbiRet {
    pmu(PMU_FW_READ, [counter, 0, 0, 0, 0])
}

fn test_pmu(me: usize) {
    let n = pmu(PMU_NUM_COUNTERS, [0; 5]);
    check(
        n.error == 0 && (3..=64).contains(&n.value),
        "PMU num_counters",
    );
    let mut info = [0usize; 64];
    let valid = pmu_counters(n.value.min(64), &mut info);
    println!("sbi-test: PMU {} counters, {valid} with info", n.value);
    check(
        info[CYCLE] == 0xc00 | (63 << 12) && info[INSTRET] == 0xc02 | (63 << 12),
        "PMU counters 0 and 2 are the 64-bit cycle and instret CSRs",
    );
    check(
        pmu(PMU_GET_INFO, [1, 0, 0, 0, 0]).error == ERR_INVALID_PARAM,
        "PMU counter 1 (time) is no counter",
    );
    check(
        pmu(PMU_GET_INFO, [n.value, 0, 0, 0, 0]).error == ERR_INVALID_PARAM,
        "PMU counter_get_info past the last counter is INVALID_PARAM",
    );
    let firmware_mask = (0..n.value.min(64))
        .filter(|&i| info[i] != usize::MAX && info[i] & COUNTER_TYPE_FIRMWARE != 0)
        .fold(0usize, |m, i| m | 1 << i);
    check(firmware_mask != 0, "PMU offers firmware counters");
    let all_mask = (0..n.value.min(64))
        .filter(|&i| info[i] != usize::MAX)
        .fold(0usize, |m, i| m | 1 << i);

    // Hardware: the instructions event lands on instret, which start and stop control.
    let cfg = pmu(
        PMU_CONFIG_MATCHING,
        [0, all_mask, CFG_CLEAR_VALUE, EVENT_INSTRUCTIONS, 0],
    );
    check(
        cfg.error == 0 && cfg.value == INSTRET,
        "PMU config_matching(instructions) picks instret",
    );
    let cfg = pmu(PMU_CONFIG_MATCHING, [0, all_mask, 0, EVENT_CPU_CYCLES, 0]);
    check(
        cfg.error == 0 && cfg.value == CYCLE,
        "PMU config_matching(cycles) picks cycle",
    );
    // Stopped, whatever state the counters were in.
    pmu(PMU_STOP, [CYCLE, 0b101, 0, 0, 0]);
    let frozen = instret();
    let frozen_cycles = cycle();
    for _ in 0..100 {
        core::hint::spin_loop();
    }
    check(
        instret() == frozen && cycle() == frozen_cycles,
        "PMU stop freezes instret and cycle",
    );
    check(
        pmu(PMU_STOP, [INSTRET, 1, 0, 0, 0]).error == ERR_ALREADY_STOPPED,
        "PMU stop of a stopped counter is ALREADY_STOPPED",
    );
    let start = pmu(PMU_START, [INSTRET, 1, START_SET_INIT_VALUE, 1000, 0]);
    let after = instret();
    check(
        start.error == 0 && after > 1000 && after < 1000 + 1000,
        "PMU start with an initial value runs instret from it",
    );
    check(
        pmu(PMU_START, [INSTRET, 1, 0, 0, 0]).error == ERR_ALREADY_STARTED,
        "PMU start of a running counter is ALREADY_STARTED",
    );
    check(
        pmu(PMU_START, [CYCLE, 1, 0, 0, 0]).error == 0 && cycle() > frozen_cycles,
        "PMU start runs cycle on",
    );
    check(
        pmu(PMU_CONFIG_MATCHING, [0, all_mask, 0, EVENT_CACHE_MISSES, 0]).error
            == ERR_NOT_SUPPORTED
            && pmu(
                PMU_CONFIG_MATCHING,
                [0, all_mask, 0, EVENT_L1D_READ_MISS, 0],
            )
            .error
                == ERR_NOT_SUPPORTED,
        "PMU: events nothing counts are NOT_SUPPORTED",
    );
    check(
        pmu(PMU_CONFIG_MATCHING, [0, all_mask, 0, 0x4_0001, 0]).error == ERR_INVALID_PARAM,
        "PMU: an undefined event type is INVALID_PARAM",
    );
    check(
        pmu(PMU_CONFIG_MATCHING, [0, 1 << 1, 0, EVENT_CPU_CYCLES, 0]).error == ERR_INVALID_PARAM,
        "PMU: a set naming counter 1 is INVALID_PARAM",
    );
    check(
        pmu(
            PMU_CONFIG_MATCHING,
            [0, 1 << INSTRET, CFG_SKIP_MATCH, EVENT_CPU_CYCLES, 0],
        )
        .error
            == ERR_NOT_SUPPORTED,
        "PMU: instret cannot count cycles",
    );
    check(
        fw_read(INSTRET).error == ERR_INVALID_PARAM,
        "PMU fw_read of a hardware counter is INVALID_PARAM",
    );

    // Firmware counters: SBI set_timer calls, IPIs sent and received.
    let timer = pmu(
        PMU_CONFIG_MATCHING,
        [
            0,
            firmware_mask,
            CFG_CLEAR_VALUE | CFG_AUTO_START,
            EVENT_FW_SET_TIMER,
            0,
        ],
    );
    check(
        timer.error == 0 && firmware_mask & (1 << timer.value) != 0,
        "PMU config_matching(set_timer) picks a firmware counter",
    );
    let sent = pmu(
        PMU_CONFIG_MATCHING,
        [
            0,
            firmware_mask,
            CFG_CLEAR_VALUE | CFG_AUTO_START,
            EVENT_FW_IPI_SENT,
            0,
        ],
    );
    let received = pmu(
        PMU_CONFIG_MATCHING,
        [
            0,
            firmware_mask,
            CFG_CLEAR_VALUE | CFG_AUTO_START,
            EVENT_FW_IPI_RECEIVED,
            0,
        ],
    );
    check(
        sent.error == 0
            && received.error == 0
            && sent.value != timer.value
            && received.value != sent.value
            && received.value != timer.value,
        "PMU: each firmware event gets a free counter",
    );
    for _ in 0..3 {
        ecall(EID_TIME, 0, [u64::MAX as usize, 0, 0]);
    }
    legacy(LEGACY_SET_TIMER, u64::MAX as usize);
    let count = fw_read(timer.value);
    check(
        count.error == 0 && count.value == 4,
        "PMU firmware counter counts 4 set_timer calls",
    );
    check(
        pmu(PMU_FW_READ_HI, [timer.value, 0, 0, 0, 0]).error == 0,
        "PMU fw_read_hi of a firmware counter",
    );
    let soft = SOFT_INTERRUPTS.load(Ordering::Relaxed);
    ecall(EID_IPI, 0, [1, me, 0]);
    wait_for(&SOFT_INTERRUPTS, soft, TIMEBASE_HZ);
    check(
        fw_read(sent.value).value == 1 && fw_read(received.value).value == 1,
        "PMU firmware counters count one IPI sent and received",
    );
    check(
        pmu(PMU_STOP, [timer.value, 1, 0, 0, 0]).error == 0,
        "PMU stop of a firmware counter",
    );
    ecall(EID_TIME, 0, [u64::MAX as usize, 0, 0]);
    check(
        fw_read(timer.value).value == 4,
        "PMU a stopped firmware counter does not count",
    );
    check(
        pmu(PMU_START, [timer.value, 1, START_SET_INIT_VALUE, 10, 0]).error == 0 && {
            ecall(EID_TIME, 0, [u64::MAX as usize, 0, 0]);
            fw_read(timer.value).value == 11
        },
        "PMU start of a firmware counter with an initial value",
    );
    let release = pmu(
        PMU_STOP,
        [
            0,
            (1 << timer.value) | (1 << sent.value) | (1 << received.value),
            STOP_RESET,
            0,
            0,
        ],
    );
    check(
        release.error == 0 && fw_read(timer.value).error == ERR_INVALID_PARAM,
        "PMU stop with reset releases firmware counters",
    );
    check(
        pmu(PMU_START, [timer.value, 1, 0, 0, 0]).error == ERR_INVALID_PARAM,
        "PMU start of a free firmware counter is INVALID_PARAM",
    );
    check(
        pmu(
            PMU_CONFIG_MATCHING,
            [0, firmware_mask, 0, EVENT_FW_HFENCE_GVMA_SENT, 0],
        )
        .error
            == ERR_NOT_SUPPORTED,
        "PMU: hypervisor fence events are NOT_SUPPORTED",
    );
    check(
        pmu(PMU_SNAPSHOT_SET_SHMEM, [0x8040_0000, 0, 0, 0, 0]).error == ERR_NOT_SUPPORTED,
        "PMU snapshot memory is NOT_SUPPORTED",
    );
}

/// The counter enables S-mode finds: it may read every counter itself, and U-mode may
/// read `time` (the vDSO's clock) but not cycle or instret, as OpenSBI leaves them.
fn test_counter_enables() {
    let scounteren: usize;
    // SAFETY: reading a CSR has no side effects.
    unsafe { core::arch::asm!("csrr {0}, scounteren", out(reg) scounteren) };
    check(
        scounteren == 0b10,
        "scounteren at entry lets U-mode read time only",
    );
    check(
        time() != 0 || cycle() != 0 || instret() != 0,
        "S-mode reads the counters",
    );
}

fn test_srst_errors() {
    let ret = ecall(EID_SRST, 0, [5, 0, 0]);
    check(
        ret.error == ERR_INVALID_PARAM,
        "SRST with a reserved type is INVALID_PARAM",
    );
    let ret = ecall(EID_SRST, 0, [0, 7, 0]);
    check(
        ret.error == ERR_INVALID_PARAM,
        "SRST with a reserved reason is INVALID_PARAM",
    );
}

fn finish(passed: bool) -> ! {
    let reason = if passed { 0 } else { 1 };
    ecall(EID_SRST, 0, [0, reason, 0]);
    loop {
        // SAFETY: wfi only waits.
        unsafe { core::arch::asm!("wfi") };
    }
}

extern "C" fn main(hartid: usize, dtb: usize) -> ! {
    println!("sbi-test: S-mode payload on hart {hartid}, DTB at {dtb:#x}");
    test_base();
    test_counter_enables();
    test_console();
    test_timer();
    test_ipi(hartid);
    test_rfence();
    test_pmu(hartid);
    test_hsm(hartid);
    test_srst_errors();
    let failures = FAILURES.load(Ordering::Relaxed);
    let checks = CHECKS.load(Ordering::Relaxed);
    if failures == 0 {
        println!("sbi-test: PASS ({checks} checks)");
    } else {
        println!("sbi-test: FAILED ({failures} of {checks} checks)");
    }
    finish(failures == 0)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("sbi-test: FAIL panic: {info}");
    finish(false)
}

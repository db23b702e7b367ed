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
const LEGACY_SET_TIMER: usize = 0;
const LEGACY_PUTCHAR: usize = 1;

const ERR_INVALID_PARAM: isize = -3;
const ERR_ALREADY_AVAILABLE: isize = -6;
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
    let (error, value);
    // SAFETY: an SBI call only has the effects the SBI specification gives it.
    unsafe {
        core::arch::asm!("ecall",
            inlateout("a0") args[0] => error, inlateout("a1") args[1] => value,
            in("a2") args[2], in("a3") args[3], in("a6") fid, in("a7") eid);
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
    test_console();
    test_timer();
    test_ipi(hartid);
    test_rfence();
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

//! User mode: two processes with their own page tables and ASIDs, three system calls
//! (`write`, `sched_yield`, `exit`, with Linux's numbers) and a round-robin loop that
//! switches between them.
//!
//! Each process's root table gets the kernel half of swapper_pg_dir copied in, so the
//! kernel (whose leaves are global) is mapped the same way in every address space and a
//! trap needs no satp change. A context switch is one satp write. With ASIDs the TLB
//! keeps both processes' entries, tagged, and the switch needs no fence; with `noasid`
//! every process runs as ASID 0 and each switch must flush the whole TLB, global kernel
//! entries included (what Linux does when the hart has too few ASIDs).
//!
//! The kernel touches user memory only in `copy_from_user`, with sstatus.SUM set for
//! just that copy: at any other time a stray kernel access to a user page faults.
//!
//! Execution model: `run_user` saves the kernel's callee-saved registers, enters the
//! process with sret and "returns" when the process traps (the user trap vector saves
//! the user registers and restores the kernel's). The scheduler loop is thus ordinary
//! Rust code, on the boot stack.

use core::arch::{asm, global_asm};
use core::mem::offset_of;
use core::ptr::addr_of_mut;

use crate::layout::{__va, mode, PAGE_SIZE};
use crate::palloc;
use crate::pgtable::{
    self, lookup, map_pages, swapper_pg_dir_pa, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X,
};
use crate::println;
use crate::tlb;
use crate::trap::{probe_load, CAUSE_LOAD_PAGE_FAULT};

const SYS_WRITE: usize = 64;
const SYS_SCHED_YIELD: usize = 124;
const SYS_EXIT: usize = 93;
const ENOSYS: isize = 38;
const EFAULT: isize = 14;

const CAUSE_USER_ECALL: usize = 8;
const SSTATUS_SPP: usize = 1 << 8;
const SSTATUS_SUM: usize = 1 << 18;

/// User virtual addresses (the same in both processes).
const USER_TEXT: usize = 0x1_0000;
const USER_DATA: usize = 0x2_0000;
/// Data pages each process touches between two yields: TLB entries worth keeping.
pub const USER_DATA_PAGES: usize = 8;
const USER_STACK_TOP: usize = 0x4_0000;
/// Yields per process: 2 processes x 100 yields = 200 context switches.
pub const YIELDS_PER_PROCESS: usize = 100;

const USER_TEXT_PERM: u64 = PTE_V | PTE_R | PTE_X | PTE_U | PTE_A;
const USER_DATA_PERM: u64 = PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D;

/// User registers and, while the process runs, the kernel's callee-saved ones.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct UserContext {
    regs: [usize; 32],
    pc: usize,
    kernel_ra: usize,
    kernel_sp: usize,
    kernel_gp: usize,
    kernel_tp: usize,
    kernel_s: [usize; 12],
}

impl UserContext {
    const fn zero() -> Self {
        UserContext {
            regs: [0; 32],
            pc: 0,
            kernel_ra: 0,
            kernel_sp: 0,
            kernel_gp: 0,
            kernel_tp: 0,
            kernel_s: [0; 12],
        }
    }
}

// The program both processes run, position independent, copied to USER_TEXT.
// a0/a1: greeting, a2: iterations, a3: first data page, a4: data pages, a5/a6: farewell.
global_asm!(
    ".section .rodata.user_program, \"a\", @progbits",
    ".p2align 2",
    ".option push",
    ".option norelax",
    ".globl user_program_start",
    "user_program_start:",
    "    mv s0, a0",
    "    mv s1, a1",
    "    mv s2, a2",
    "    mv s3, a3",
    "    mv s4, a4",
    "    mv s5, a5",
    "    mv s6, a6",
    "    li a0, 1",
    "    mv a1, s0",
    "    mv a2, s1",
    "    li a7, {write}",
    "    ecall",
    "1:  mv t0, s3",
    "    mv t1, s4",
    "2:  ld t2, 0(t0)",
    "    addi t2, t2, 1",
    "    sd t2, 0(t0)",
    "    li t3, 4096",
    "    add t0, t0, t3",
    "    addi t1, t1, -1",
    "    bnez t1, 2b",
    "    li a7, {yield_}",
    "    ecall",
    "    addi s2, s2, -1",
    "    bnez s2, 1b",
    "    li a0, 1",
    "    mv a1, s5",
    "    mv a2, s6",
    "    li a7, {write}",
    "    ecall",
    // Exit status: the counter of the last data page minus the iterations (0 if every
    // store reached this process's own page).
    "    addi t1, s4, -1",
    "    slli t1, t1, 12",
    "    add t0, s3, t1",
    "    ld a0, 0(t0)",
    "    li t1, {iterations}",
    "    sub a0, a0, t1",
    "    li a7, {exit}",
    "    ecall",
    "3:  j 3b",
    ".globl user_program_end",
    "user_program_end:",
    ".option pop",
    write = const SYS_WRITE,
    yield_ = const SYS_SCHED_YIELD,
    exit = const SYS_EXIT,
    iterations = const YIELDS_PER_PROCESS,
);

// run_user(ctx): enter user mode with ctx's registers; returns when the process traps.
global_asm!(
    ".section .text",
    ".p2align 2",
    ".globl run_user",
    "run_user:",
    "    sd ra, {kra}(a0)",
    "    sd sp, {ksp}(a0)",
    "    sd gp, {kgp}(a0)",
    "    sd tp, {ktp}(a0)",
    "    sd s0, {ks}+0(a0)",
    "    sd s1, {ks}+8(a0)",
    "    sd s2, {ks}+16(a0)",
    "    sd s3, {ks}+24(a0)",
    "    sd s4, {ks}+32(a0)",
    "    sd s5, {ks}+40(a0)",
    "    sd s6, {ks}+48(a0)",
    "    sd s7, {ks}+56(a0)",
    "    sd s8, {ks}+64(a0)",
    "    sd s9, {ks}+72(a0)",
    "    sd s10, {ks}+80(a0)",
    "    sd s11, {ks}+88(a0)",
    "    csrw sscratch, a0",
    "    lla t0, user_trap_entry",
    "    csrw stvec, t0",
    "    ld t0, {pc}(a0)",
    "    csrw sepc, t0",
    "    li t0, {spp}",
    "    csrc sstatus, t0",
    "    ld x1, 8(a0)",
    "    ld x2, 16(a0)",
    "    ld x3, 24(a0)",
    "    ld x4, 32(a0)",
    "    ld x5, 40(a0)",
    "    ld x6, 48(a0)",
    "    ld x7, 56(a0)",
    "    ld x8, 64(a0)",
    "    ld x9, 72(a0)",
    "    ld x11, 88(a0)",
    "    ld x12, 96(a0)",
    "    ld x13, 104(a0)",
    "    ld x14, 112(a0)",
    "    ld x15, 120(a0)",
    "    ld x16, 128(a0)",
    "    ld x17, 136(a0)",
    "    ld x18, 144(a0)",
    "    ld x19, 152(a0)",
    "    ld x20, 160(a0)",
    "    ld x21, 168(a0)",
    "    ld x22, 176(a0)",
    "    ld x23, 184(a0)",
    "    ld x24, 192(a0)",
    "    ld x25, 200(a0)",
    "    ld x26, 208(a0)",
    "    ld x27, 216(a0)",
    "    ld x28, 224(a0)",
    "    ld x29, 232(a0)",
    "    ld x30, 240(a0)",
    "    ld x31, 248(a0)",
    "    ld x10, 80(a0)",
    "    sret",
    "",
    // Traps from user mode: sscratch holds the running process's context.
    ".p2align 2",
    "user_trap_entry:",
    "    csrrw a0, sscratch, a0",
    "    sd x1, 8(a0)",
    "    sd x2, 16(a0)",
    "    sd x3, 24(a0)",
    "    sd x4, 32(a0)",
    "    sd x5, 40(a0)",
    "    sd x6, 48(a0)",
    "    sd x7, 56(a0)",
    "    sd x8, 64(a0)",
    "    sd x9, 72(a0)",
    "    sd x11, 88(a0)",
    "    sd x12, 96(a0)",
    "    sd x13, 104(a0)",
    "    sd x14, 112(a0)",
    "    sd x15, 120(a0)",
    "    sd x16, 128(a0)",
    "    sd x17, 136(a0)",
    "    sd x18, 144(a0)",
    "    sd x19, 152(a0)",
    "    sd x20, 160(a0)",
    "    sd x21, 168(a0)",
    "    sd x22, 176(a0)",
    "    sd x23, 184(a0)",
    "    sd x24, 192(a0)",
    "    sd x25, 200(a0)",
    "    sd x26, 208(a0)",
    "    sd x27, 216(a0)",
    "    sd x28, 224(a0)",
    "    sd x29, 232(a0)",
    "    sd x30, 240(a0)",
    "    sd x31, 248(a0)",
    "    csrr t0, sscratch",
    "    sd t0, 80(a0)",
    "    csrr t0, sepc",
    "    sd t0, {pc}(a0)",
    "    ld ra, {kra}(a0)",
    "    ld sp, {ksp}(a0)",
    "    ld gp, {kgp}(a0)",
    "    ld tp, {ktp}(a0)",
    "    ld s0, {ks}+0(a0)",
    "    ld s1, {ks}+8(a0)",
    "    ld s2, {ks}+16(a0)",
    "    ld s3, {ks}+24(a0)",
    "    ld s4, {ks}+32(a0)",
    "    ld s5, {ks}+40(a0)",
    "    ld s6, {ks}+48(a0)",
    "    ld s7, {ks}+56(a0)",
    "    ld s8, {ks}+64(a0)",
    "    ld s9, {ks}+72(a0)",
    "    ld s10, {ks}+80(a0)",
    "    ld s11, {ks}+88(a0)",
    "    lla t0, trap_entry",
    "    csrw stvec, t0",
    "    ret",
    pc = const offset_of!(UserContext, pc),
    kra = const offset_of!(UserContext, kernel_ra),
    ksp = const offset_of!(UserContext, kernel_sp),
    kgp = const offset_of!(UserContext, kernel_gp),
    ktp = const offset_of!(UserContext, kernel_tp),
    ks = const offset_of!(UserContext, kernel_s),
    spp = const SSTATUS_SPP,
);

extern "C" {
    fn run_user(ctx: *mut UserContext);
    static user_program_start: u8;
    static user_program_end: u8;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Exited(isize),
    Killed { scause: usize, stval: usize },
}

struct Process {
    pid: usize,
    asid: usize,
    root: usize,
    ctx: UserContext,
    state: State,
    yields: usize,
    writes: usize,
    /// Physical pages mapped for the process (text, data, stack), freed at exit.
    pages: [usize; 2 + USER_DATA_PAGES],
}

const NPROC: usize = 2;

static mut PROCS: [Process; NPROC] = [const {
    Process {
        pid: 0,
        asid: 0,
        root: 0,
        ctx: UserContext::zero(),
        state: State::Runnable,
        yields: 0,
        writes: 0,
        pages: [0; 2 + USER_DATA_PAGES],
    }
}; NPROC];

/// What the user-mode phase did, for the report and the self-tests.
#[derive(Clone, Copy, Default)]
pub struct UserReport {
    pub asid_bits: u32,
    pub use_asids: bool,
    pub switches: usize,
    pub satp_writes: usize,
    pub fences: tlb::FenceCounts,
    pub syscalls: usize,
    pub sum_windows: usize,
    pub bytes_copied: usize,
    /// Exit status per process, None if it did not exit normally.
    pub exits: [Option<isize>; NPROC],
    pub yields: [usize; NPROC],
    /// A kernel load of user memory without SUM faulted; with SUM it did not.
    pub sum_fault_without: bool,
    pub sum_ok_with: bool,
    pub setup_error: Option<&'static str>,
}

/// satp.ASID is WARL: write all ones and count the bits that stick.
pub fn probe_asid_bits() -> u32 {
    let read_back: usize;
    // SAFETY: only the ASID changes; every kernel mapping is global, so the kernel keeps
    // running under any ASID. The full fence afterwards drops anything tagged with it.
    unsafe {
        asm!(
            "csrr {old}, satp",
            "or {tmp}, {old}, {ones}",
            "csrw satp, {tmp}",
            "csrr {rb}, satp",
            "csrw satp, {old}",
            old = out(reg) _,
            tmp = out(reg) _,
            rb = out(reg) read_back,
            ones = in(reg) 0xffffusize << 44,
        );
    }
    tlb::flush_all();
    ((read_back >> 44) & 0xffff).count_ones()
}

fn satp_for(root: usize, asid: usize) -> usize {
    mode().satp(root) | asid << 44
}

fn write_satp(value: usize) {
    // SAFETY: the value names a root table whose kernel half equals swapper_pg_dir's, so
    // the kernel stays mapped.
    unsafe { asm!("csrw satp, {0}", in(reg) value) };
}

fn processes() -> &'static mut [Process; NPROC] {
    // SAFETY: one hart; only this module touches PROCS.
    unsafe { &mut *addr_of_mut!(PROCS) }
}

fn greeting(pid: usize, last: bool) -> ([u8; 64], usize) {
    let mut s = crate::console::SmallString::new();
    let _ = if last {
        core::fmt::Write::write_fmt(
            &mut s,
            format_args!("pid {pid} done after {YIELDS_PER_PROCESS} yields"),
        )
    } else {
        core::fmt::Write::write_fmt(&mut s, format_args!("hello from user mode, pid {pid}"))
    };
    let mut buf = [0u8; 64];
    let n = s.as_str().len().min(64);
    buf[..n].copy_from_slice(&s.as_str().as_bytes()[..n]);
    (buf, n)
}

/// Build a process: root table sharing the kernel half, text, data and stack pages.
fn create_process(p: &mut Process, pid: usize, asid: usize) -> Result<(), &'static str> {
    let root = pgtable::alloc_root().ok_or("no page for a root table")?;
    let kernel_half = 256;
    pgtable::copy_top_level(root, swapper_pg_dir_pa(), kernel_half);
    p.pid = pid;
    p.asid = asid;
    p.root = root;

    // The program's bounds: two labels around it in rodata.
    let (start, end) = (
        core::ptr::addr_of!(user_program_start) as usize,
        core::ptr::addr_of!(user_program_end) as usize,
    );
    let mut map_user_page = |slot: usize, va: usize, perm: u64| -> Result<usize, &'static str> {
        let pa = palloc::alloc_page().ok_or("out of memory")?;
        map_pages(root, mode(), va, pa, PAGE_SIZE, PAGE_SIZE, perm).map_err(|_| "map failed")?;
        p.pages[slot] = pa;
        Ok(pa)
    };
    let text = map_user_page(0, USER_TEXT, USER_TEXT_PERM)?;
    // SAFETY: copying the program into the fresh page through its linear alias.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, __va(text) as *mut u8, end - start)
    };
    let first_data = map_user_page(1, USER_DATA, USER_DATA_PERM)?;
    for i in 1..USER_DATA_PAGES {
        map_user_page(1 + i, USER_DATA + i * PAGE_SIZE, USER_DATA_PERM)?;
    }
    map_user_page(
        1 + USER_DATA_PAGES,
        USER_STACK_TOP - PAGE_SIZE,
        USER_DATA_PERM,
    )?;
    // The messages live in the first data page; the program's counters in the others.
    let (hello, hello_len) = greeting(pid, false);
    let (bye, bye_len) = greeting(pid, true);
    // SAFETY: writing into the fresh data page through its linear alias.
    unsafe {
        let page = __va(first_data) as *mut u8;
        core::ptr::copy_nonoverlapping(hello.as_ptr(), page.add(64), hello_len);
        core::ptr::copy_nonoverlapping(bye.as_ptr(), page.add(128), bye_len);
    }
    p.ctx = UserContext::zero();
    p.ctx.pc = USER_TEXT;
    p.ctx.regs[2] = USER_STACK_TOP;
    p.ctx.regs[10] = USER_DATA + 64;
    p.ctx.regs[11] = hello_len;
    p.ctx.regs[12] = YIELDS_PER_PROCESS;
    p.ctx.regs[13] = USER_DATA + PAGE_SIZE;
    p.ctx.regs[14] = USER_DATA_PAGES - 1;
    p.ctx.regs[15] = USER_DATA + 128;
    p.ctx.regs[16] = bye_len;
    p.state = State::Runnable;
    // A fresh ASID may still tag entries of an earlier user of it.
    if asid != 0 {
        tlb::flush_asid(asid);
    }
    Ok(())
}

/// Copy `len` bytes at user address `src` of process `p` into `dst`, with SUM set for
/// the copy only. The range must be mapped user-readable in the process's table.
fn copy_from_user(p: &Process, dst: &mut [u8], src: usize) -> Result<(), isize> {
    let len = dst.len();
    let end = src.checked_add(len).ok_or(EFAULT)?;
    if end > 1usize << (mode().va_bits() - 1) {
        return Err(EFAULT);
    }
    let mut page = src & !(PAGE_SIZE - 1);
    while page < end {
        match lookup(p.root, mode(), page) {
            Some((pte, _)) if pte & (PTE_U | PTE_R) == PTE_U | PTE_R => {}
            _ => return Err(EFAULT),
        }
        page += PAGE_SIZE;
    }
    // SAFETY: the range is mapped readable for user mode in the live page table (checked
    // above); SUM lets S-mode read it for the duration of the copy.
    unsafe {
        asm!("csrs sstatus, {0}", in(reg) SSTATUS_SUM);
        for (i, byte) in dst.iter_mut().enumerate() {
            *byte = ((src + i) as *const u8).read_volatile();
        }
        asm!("csrc sstatus, {0}", in(reg) SSTATUS_SUM);
    }
    Ok(())
}

/// A kernel load from user memory faults unless SUM is set (run with `p`'s table live).
fn check_sum(report: &mut UserReport) {
    report.sum_fault_without = matches!(
        probe_load(USER_DATA),
        Err(f) if f.cause == CAUSE_LOAD_PAGE_FAULT
    );
    // SAFETY: setting SUM for one probe only.
    unsafe { asm!("csrs sstatus, {0}", in(reg) SSTATUS_SUM) };
    report.sum_ok_with = probe_load(USER_DATA).is_ok();
    // SAFETY: clears SUM again, as it was before the probe.
    unsafe { asm!("csrc sstatus, {0}", in(reg) SSTATUS_SUM) };
}

fn scause_stval() -> (usize, usize) {
    let (scause, stval): (usize, usize);
    // SAFETY: reading trap CSRs.
    unsafe {
        asm!("csrr {0}, scause", out(reg) scause);
        asm!("csrr {0}, stval", out(reg) stval);
    }
    (scause, stval)
}

/// Handle a system call of `p`; returns true if `p` gave up the CPU.
fn syscall(p: &mut Process, report: &mut UserReport) -> bool {
    report.syscalls += 1;
    p.ctx.pc += 4;
    let (nr, a0, a1, a2) = (
        p.ctx.regs[17],
        p.ctx.regs[10],
        p.ctx.regs[11],
        p.ctx.regs[12],
    );
    let ret: isize = match nr {
        SYS_WRITE if a0 == 1 || a0 == 2 => {
            let mut buf = [0u8; 128];
            let len = a2.min(buf.len());
            match copy_from_user(p, &mut buf[..len], a1) {
                Ok(()) => {
                    report.sum_windows += 1;
                    report.bytes_copied += len;
                    p.writes += 1;
                    println!(
                        "user: pid {} asid {} writes \"{}\"",
                        p.pid,
                        p.asid,
                        core::str::from_utf8(&buf[..len]).unwrap_or("<not utf-8>")
                    );
                    len as isize
                }
                Err(e) => -e,
            }
        }
        SYS_SCHED_YIELD => {
            p.yields += 1;
            p.ctx.regs[10] = 0;
            return true;
        }
        SYS_EXIT => {
            p.state = State::Exited(a0 as isize);
            return true;
        }
        _ => -ENOSYS,
    };
    p.ctx.regs[10] = ret as usize;
    false
}

/// Create both processes, run them to completion, report.
pub fn run(noasid: bool) -> UserReport {
    let mut report = UserReport {
        asid_bits: probe_asid_bits(),
        ..UserReport::default()
    };
    // ASID 0 is the kernel's (swapper) and the only one noasid uses.
    report.use_asids = !noasid && report.asid_bits >= 2;
    let procs = processes();
    for (i, p) in procs.iter_mut().enumerate() {
        let asid = if report.use_asids { i + 1 } else { 0 };
        if let Err(e) = create_process(p, i + 1, asid) {
            report.setup_error = Some(e);
            return report;
        }
    }
    let fences_before = tlb::counts();
    let mut on_cpu: Option<usize> = None;
    let mut next = 0;
    while let Some(index) = (0..NPROC)
        .map(|k| (next + k) % NPROC)
        .find(|&k| procs[k].state == State::Runnable)
    {
        if on_cpu != Some(index) {
            let p = &procs[index];
            write_satp(satp_for(p.root, p.asid));
            report.satp_writes += 1;
            if !report.use_asids {
                tlb::flush_all();
            }
            if on_cpu.is_some() {
                report.switches += 1;
            } else {
                check_sum(&mut report);
            }
            on_cpu = Some(index);
        }
        let p = &mut procs[index];
        // SAFETY: the context holds a valid user pc and stack in p's table, which is live.
        unsafe { run_user(&mut p.ctx) };
        let (scause, stval) = scause_stval();
        let gave_up = if scause == CAUSE_USER_ECALL {
            syscall(p, &mut report)
        } else {
            p.state = State::Killed { scause, stval };
            true
        };
        if gave_up {
            next = (index + 1) % NPROC;
        }
    }
    report.fences = tlb::counts().since(&fences_before);
    // Back to the kernel's own table; the processes' pages go back to the allocator.
    write_satp(mode().satp(swapper_pg_dir_pa()));
    report.satp_writes += 1;
    for (i, p) in procs.iter_mut().enumerate() {
        report.yields[i] = p.yields;
        match p.state {
            State::Exited(code) => report.exits[i] = Some(code),
            State::Killed { scause, stval } => {
                println!(
                    "user: pid {} killed by scause={scause:#x} stval={stval:#x} at pc={:#x}",
                    p.pid, p.ctx.pc
                )
            }
            State::Runnable => {}
        }
        for &pa in &p.pages {
            if pa != 0 {
                palloc::free_page(pa);
            }
        }
        p.pages = [0; 2 + USER_DATA_PAGES];
        if p.asid != 0 {
            tlb::flush_asid(p.asid);
        }
    }
    if !report.use_asids {
        tlb::flush_all();
    }
    report
}

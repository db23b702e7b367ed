//! The SBI v2.0 services, implemented as RustSBI extension traits, plus the legacy (v0.1)
//! calls RustSBI does not dispatch.
//!
//! BASE comes from RustSBI: spec version 2.0, implementation ID 4 ("RustSBI", the registered
//! ID of the library this firmware is built on) with the rustsbi crate's version, and
//! mvendorid/marchid/mimpid read from the hart.

use core::sync::atomic::{AtomicUsize, Ordering};

use rustsbi::{HartMask, Physical, RustSBI, SbiRet};
use sbi_spec::{base, hsm::hart_state, legacy, srst};

use crate::csr::{self, MIP_STIP};
use crate::hart::{self, work};
use crate::platform::{clint, power, uart};
use crate::pmu::{self, Pmu};
use sbi_spec::pmu::firmware_event;

/// Extension implementations; the derive generates `handle_ecall` and BASE's
/// `probe_extension` from the fields present.
#[derive(RustSBI)]
pub struct Firmware {
    console: Uart,
    timer: Clint,
    ipi: Clint,
    fence: Clint,
    hsm: Hsm,
    reset: TestDevice,
    pmu: Pmu,
}

pub static FIRMWARE: Firmware = Firmware {
    console: Uart,
    timer: Clint,
    ipi: Clint,
    fence: Clint,
    hsm: Hsm,
    reset: TestDevice,
    pmu: Pmu,
};

/// RAM bounds (base, end) for checking addresses S-mode passes in; (0, usize::MAX) until
/// the device tree has been read.
static RAM_BASE: AtomicUsize = AtomicUsize::new(0);
static RAM_END: AtomicUsize = AtomicUsize::new(usize::MAX);

pub fn set_ram(base: usize, size: usize) {
    RAM_BASE.store(base, Ordering::Relaxed);
    RAM_END.store(base.saturating_add(size), Ordering::Relaxed);
}

/// Is [addr, addr + len) inside RAM?
fn in_ram(addr: usize, len: usize) -> bool {
    let (base, end) = (
        RAM_BASE.load(Ordering::Relaxed),
        RAM_END.load(Ordering::Relaxed),
    );
    addr >= base && addr.checked_add(len).is_some_and(|e| e <= end)
}

/// Whether `menvcfg.STCE` could be set: then S-mode owns `stimecmp`, and SBI set_timer
/// programs it instead of the CLINT.
static SSTC: AtomicUsize = AtomicUsize::new(0);

pub fn set_sstc_enabled(enabled: bool) {
    SSTC.store(enabled as usize, Ordering::Relaxed);
}

pub fn sstc_enabled() -> bool {
    SSTC.load(Ordering::Relaxed) != 0
}

/// Handles one ecall from S-mode: `regs` are a0..a7 on entry; returns (a0, a1), or
/// `None` for a1 when a legacy call leaves a1 alone.
pub fn handle_ecall(regs: &[usize; 8]) -> (usize, Option<usize>) {
    let (extension, function) = (regs[7], regs[6]);
    if let Some(a0) = legacy_call(extension, regs[0]) {
        return (a0, None);
    }
    if extension == base::EID_BASE
        && function == base::PROBE_EXTENSION
        && is_supported_legacy(regs[0])
    {
        return (SbiRet::success(0).error, Some(1));
    }
    let params = [regs[0], regs[1], regs[2], regs[3], regs[4], regs[5]];
    let ret = FIRMWARE.handle_ecall(extension, function, params);
    (ret.error, Some(ret.value))
}

fn is_supported_legacy(extension: usize) -> bool {
    matches!(
        extension,
        legacy::LEGACY_SET_TIMER
            | legacy::LEGACY_CONSOLE_PUTCHAR
            | legacy::LEGACY_CONSOLE_GETCHAR
            | legacy::LEGACY_SHUTDOWN
    )
}

/// The v0.1 calls: a7 selects the call, a0 is the argument and the only result register.
/// The legacy IPI and remote-fence calls (which take a pointer to a hart mask in S-mode
/// virtual memory) are superseded by IPI/RFENCE and answer "not supported".
fn legacy_call(extension: usize, arg: usize) -> Option<usize> {
    const NOT_SUPPORTED: usize = -2isize as usize;
    Some(match extension {
        legacy::LEGACY_SET_TIMER => {
            rustsbi::Timer::set_timer(&Clint, arg as u64);
            0
        }
        legacy::LEGACY_CONSOLE_PUTCHAR => {
            uart::put_byte(arg as u8);
            0
        }
        legacy::LEGACY_CONSOLE_GETCHAR => uart::get_byte().map_or(usize::MAX, usize::from),
        legacy::LEGACY_SHUTDOWN => {
            power::shutdown();
            NOT_SUPPORTED
        }
        legacy::LEGACY_CLEAR_IPI..=legacy::LEGACY_REMOTE_SFENCE_VMA_ASID => NOT_SUPPORTED,
        _ => return None,
    })
}

/// DBCN on the ns16550a.
pub struct Uart;

impl Uart {
    /// The bytes of a DBCN buffer, if S-mode named a RAM range (physical addresses above
    /// XLEN bits, via `phys_addr_hi`, do not exist on RV64).
    fn buffer(bytes: &Physical<impl Sized>) -> Option<(usize, usize)> {
        let (addr, len) = (bytes.phys_addr_lo(), bytes.num_bytes());
        (bytes.phys_addr_hi() == 0 && in_ram(addr, len)).then_some((addr, len))
    }
}

impl rustsbi::Console for Uart {
    fn write(&self, bytes: Physical<&[u8]>) -> SbiRet {
        let Some((addr, len)) = Self::buffer(&bytes) else {
            return SbiRet::invalid_param();
        };
        // SAFETY: the range lies in RAM, which M-mode can always read.
        let data = unsafe { core::slice::from_raw_parts(addr as *const u8, len) };
        uart::locked(|| data.iter().copied().for_each(uart::put_byte));
        SbiRet::success(len)
    }

    fn read(&self, bytes: Physical<&mut [u8]>) -> SbiRet {
        let Some((addr, len)) = Self::buffer(&bytes) else {
            return SbiRet::invalid_param();
        };
        // SAFETY: the range lies in RAM; S-mode is suspended in this call and owns it.
        let data = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) };
        let mut count = 0;
        for slot in data.iter_mut() {
            match uart::get_byte() {
                Some(byte) => *slot = byte,
                None => break,
            }
            count += 1;
        }
        SbiRet::success(count)
    }

    fn write_byte(&self, byte: u8) -> SbiRet {
        uart::put_byte(byte);
        SbiRet::success(0)
    }
}

/// TIME, IPI and RFENCE on the CLINT.
pub struct Clint;

/// The harts a mask names, as a bit set, or `None` if it names a hart that does not exist.
fn targets(mask: HartMask) -> Option<usize> {
    let (bits, base) = mask.into_inner();
    if base == usize::MAX {
        return Some(hart::present_mask());
    }
    let mut set = 0usize;
    for i in 0..usize::BITS as usize {
        if bits & (1 << i) != 0 {
            let hart = base.checked_add(i)?;
            if !hart::is_present(hart) {
                return None;
            }
            set |= 1 << hart;
        }
    }
    Some(set)
}

fn harts_in(set: usize) -> impl Iterator<Item = usize> {
    (0..crate::MAX_HARTS).filter(move |h| set & (1 << h) != 0)
}

/// Largest range (in pages) flushed page by page; anything bigger flushes everything.
const MAX_PAGES_FLUSHED_ONE_BY_ONE: usize = 64;
const PAGE_SIZE: usize = 4096;

/// Flushes this hart's TLB for [start, start + size), limited to `asid` if given. A size
/// of 0 with start 0, or of usize::MAX, means everything (SBI spec, RFENCE).
fn local_sfence_vma(start: usize, size: usize, asid: Option<usize>) {
    let whole = (start == 0 && size == 0)
        || size == usize::MAX
        || size / PAGE_SIZE > MAX_PAGES_FLUSHED_ONE_BY_ONE;
    match (whole, asid) {
        // SAFETY: flushing address-translation caches is always safe.
        (true, None) => unsafe { core::arch::asm!("sfence.vma") },
        // SAFETY: as above.
        (true, Some(asid)) => unsafe { core::arch::asm!("sfence.vma zero, {0}", in(reg) asid) },
        (false, _) => {
            let end = start.saturating_add(size);
            let mut page = start & !(PAGE_SIZE - 1);
            while page < end {
                match asid {
                    // SAFETY: flushing address-translation caches is always safe.
                    None => unsafe { core::arch::asm!("sfence.vma {0}", in(reg) page) },
                    // SAFETY: as above.
                    Some(asid) => unsafe {
                        core::arch::asm!("sfence.vma {0}, {1}", in(reg) page, in(reg) asid)
                    },
                }
                page += PAGE_SIZE;
            }
        }
    }
}

impl Clint {
    /// Runs `local` on this hart if it is a target, posts `bits` to the other targets and
    /// waits until they have done the work. `sent` is the firmware event counted per
    /// request posted to another hart.
    fn remote_fence(
        &self,
        mask: HartMask,
        bits: usize,
        sent: usize,
        local: impl FnOnce(),
    ) -> SbiRet {
        let Some(set) = targets(mask) else {
            return SbiRet::invalid_param();
        };
        let me = hart::this_hart();
        for target in harts_in(set) {
            if target != me {
                hart::post(target, bits);
                pmu::record(sent);
            }
        }
        if set & (1 << me) != 0 {
            local();
        }
        for target in harts_in(set) {
            if target != me {
                hart::wait_for_fences(target);
            }
        }
        SbiRet::success(0)
    }
}

impl rustsbi::Timer for Clint {
    fn set_timer(&self, deadline: u64) {
        pmu::record(firmware_event::SET_TIMER);
        if sstc_enabled() {
            csr::write!("0x14d", deadline as usize);
            return;
        }
        clint::set_timer_compare(hart::this_hart(), deadline);
        // The new deadline supersedes a timer interrupt S-mode has not seen yet; the M
        // timer interrupt raises STIP again when the deadline passes.
        csr::clear!("mip", MIP_STIP);
        csr::set!("mie", csr::MIP_MTIP);
    }
}

impl rustsbi::Ipi for Clint {
    fn send_ipi(&self, mask: HartMask) -> SbiRet {
        let Some(set) = targets(mask) else {
            return SbiRet::invalid_param();
        };
        for target in harts_in(set) {
            hart::post(target, work::SUPERVISOR_IPI);
            pmu::record(firmware_event::IPI_SENT);
        }
        SbiRet::success(0)
    }
}

impl rustsbi::Fence for Clint {
    fn remote_fence_i(&self, mask: HartMask) -> SbiRet {
        // SAFETY: an instruction fence has no memory effects.
        self.remote_fence(
            mask,
            work::FENCE_I,
            firmware_event::FENCE_I_SENT,
            || unsafe { core::arch::asm!("fence.i") },
        )
    }

    fn remote_sfence_vma(&self, mask: HartMask, start: usize, size: usize) -> SbiRet {
        self.remote_fence(
            mask,
            work::SFENCE_VMA,
            firmware_event::SFENCE_VMA_SENT,
            || local_sfence_vma(start, size, None),
        )
    }

    fn remote_sfence_vma_asid(
        &self,
        mask: HartMask,
        start: usize,
        size: usize,
        asid: usize,
    ) -> SbiRet {
        self.remote_fence(
            mask,
            work::SFENCE_VMA_ASID,
            firmware_event::SFENCE_VMA_ASID_SENT,
            || local_sfence_vma(start, size, Some(asid)),
        )
    }
}

/// HSM: secondary harts wait in M-mode (see `crate::park`) until started.
pub struct Hsm;

impl rustsbi::Hsm for Hsm {
    fn hart_start(&self, hartid: usize, start_addr: usize, opaque: usize) -> SbiRet {
        if !hart::is_present(hartid) {
            return SbiRet::invalid_param();
        }
        if !in_ram(start_addr, 4) {
            return SbiRet::invalid_address();
        }
        if !hart::get(hartid).request_start(start_addr, opaque) {
            return SbiRet::already_available();
        }
        hart::post(hartid, 0);
        SbiRet::success(0)
    }

    fn hart_stop(&self) -> SbiRet {
        let me = hart::this_hart();
        hart::get(me).set_state(hart_state::STOP_PENDING);
        crate::park(me)
    }

    fn hart_get_status(&self, hartid: usize) -> SbiRet {
        if !hart::is_present(hartid) {
            return SbiRet::invalid_param();
        }
        SbiRet::success(hart::get(hartid).state())
    }
}

/// SRST on the sifive test device.
pub struct TestDevice;

impl rustsbi::Reset for TestDevice {
    fn system_reset(&self, reset_type: u32, reset_reason: u32) -> SbiRet {
        let failure = match reset_reason {
            srst::RESET_REASON_NO_REASON => false,
            srst::RESET_REASON_SYSTEM_FAILURE => true,
            // SBI-implementation and vendor specific reasons: not a clean shutdown.
            0xE000_0000.. => true,
            _ => return SbiRet::invalid_param(),
        };
        match reset_type {
            srst::RESET_TYPE_SHUTDOWN if failure => power::shutdown_failure(1),
            srst::RESET_TYPE_SHUTDOWN => power::shutdown(),
            srst::RESET_TYPE_COLD_REBOOT | srst::RESET_TYPE_WARM_REBOOT => power::reboot(),
            0xF000_0000.. => return SbiRet::not_supported(),
            _ => return SbiRet::invalid_param(),
        }
        // Still running: the device did not act on the command.
        SbiRet::failed()
    }
}

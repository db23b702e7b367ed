//! Per-hart bookkeeping shared between harts: HSM state, start requests, and the work that
//! one hart asks another to do through a CLINT software interrupt (an "IPI").

use core::sync::atomic::{AtomicUsize, Ordering};

use sbi_spec::hsm::hart_state;

use crate::csr::{self, MIP_SSIP};
use crate::platform::clint;
use crate::pmu;
use crate::MAX_HARTS;
use sbi_spec::pmu::firmware_event;

/// Work bits a hart finds in its mailbox when its machine software interrupt fires.
pub mod work {
    /// Raise the supervisor software interrupt (SBI IPI).
    pub const SUPERVISOR_IPI: usize = 1 << 0;
    /// Execute `fence.i`.
    pub const FENCE_I: usize = 1 << 1;
    /// Flush the whole TLB with `sfence.vma` (remote ranged/ASID requests are widened to
    /// this: always correct, and the mailbox stays a single word without a queue).
    pub const SFENCE_VMA: usize = 1 << 2;
    /// The same flush for a request limited to an address space (kept apart from
    /// SFENCE_VMA only so that the PMU counts the two kinds of request separately).
    pub const SFENCE_VMA_ASID: usize = 1 << 3;
    /// Requests the sender waits for until the target has carried them out.
    pub const FENCES: usize = FENCE_I | SFENCE_VMA | SFENCE_VMA_ASID;
}

pub struct Hart {
    /// One of `sbi_spec::hsm::hart_state`.
    state: AtomicUsize,
    /// `work::*` bits requested by other harts and not yet done.
    pending: AtomicUsize,
    start_addr: AtomicUsize,
    start_opaque: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const HART_INIT: Hart = Hart {
    state: AtomicUsize::new(hart_state::STOPPED),
    pending: AtomicUsize::new(0),
    start_addr: AtomicUsize::new(0),
    start_opaque: AtomicUsize::new(0),
};

static HARTS: [Hart; MAX_HARTS] = [HART_INIT; MAX_HARTS];

/// Bit n set: hart n exists (from the device tree, set once at cold boot).
static PRESENT: AtomicUsize = AtomicUsize::new(0);

pub fn set_present(mask: usize) {
    PRESENT.store(mask, Ordering::Release);
}

pub fn is_present(hart: usize) -> bool {
    hart < MAX_HARTS && PRESENT.load(Ordering::Acquire) & (1 << hart) != 0
}

pub fn present_mask() -> usize {
    PRESENT.load(Ordering::Acquire)
}

pub fn this_hart() -> usize {
    csr::read!("mhartid")
}

pub fn get(hart: usize) -> &'static Hart {
    &HARTS[hart]
}

impl Hart {
    pub fn state(&self) -> usize {
        self.state.load(Ordering::Acquire)
    }

    pub fn set_state(&self, state: usize) {
        self.state.store(state, Ordering::Release);
    }

    /// Moves a stopped hart to START_PENDING with its entry point; false if it was not
    /// stopped.
    pub fn request_start(&self, addr: usize, opaque: usize) -> bool {
        if self
            .state
            .compare_exchange(
                hart_state::STOPPED,
                hart_state::START_PENDING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return false;
        }
        self.start_addr.store(addr, Ordering::Relaxed);
        self.start_opaque.store(opaque, Ordering::Release);
        true
    }

    /// Finishes `hart_stop`: STOP_PENDING becomes STOPPED (other states are left alone, so
    /// a start requested before this hart first parked is not lost).
    pub fn complete_stop(&self) {
        let _ = self.state.compare_exchange(
            hart_state::STOP_PENDING,
            hart_state::STOPPED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub fn start_request(&self) -> (usize, usize) {
        let opaque = self.start_opaque.load(Ordering::Acquire);
        (self.start_addr.load(Ordering::Relaxed), opaque)
    }

    fn fences_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) & work::FENCES != 0
    }
}

/// Posts `bits` to `target`'s mailbox and interrupts it.
pub fn post(target: usize, bits: usize) {
    HARTS[target].pending.fetch_or(bits, Ordering::Release);
    clint::send_soft_interrupt(target);
}

/// Waits until `target` has carried out the fences posted to it. This hart keeps serving its
/// own mailbox meanwhile: two harts fencing each other at once would otherwise deadlock, as
/// neither takes interrupts while in M-mode.
pub fn wait_for_fences(target: usize) {
    let me = this_hart();
    while HARTS[target].fences_pending() {
        if csr::read!("mip") & csr::MIP_MSIP != 0 {
            serve_mailbox(me, true);
        }
        core::hint::spin_loop();
    }
}

/// Handles a machine software interrupt: acknowledges it and performs the posted work.
/// `running` says whether S-mode software runs on this hart; a stopped hart drops
/// supervisor IPIs (they are meant for a kernel that is not there).
pub fn serve_mailbox(me: usize, running: bool) {
    clint::clear_soft_interrupt(me);
    let hart = &HARTS[me];
    let bits = hart.pending.load(Ordering::Acquire);
    if bits == 0 {
        return;
    }
    if bits & work::FENCE_I != 0 {
        // SAFETY: an instruction fence has no memory effects.
        unsafe { core::arch::asm!("fence.i") };
        pmu::record(firmware_event::FENCE_I_RECEIVED);
    }
    if bits & (work::SFENCE_VMA | work::SFENCE_VMA_ASID) != 0 {
        // SAFETY: flushing address-translation caches is always safe.
        unsafe { core::arch::asm!("sfence.vma") };
    }
    if bits & work::SFENCE_VMA != 0 {
        pmu::record(firmware_event::SFENCE_VMA_RECEIVED);
    }
    if bits & work::SFENCE_VMA_ASID != 0 {
        pmu::record(firmware_event::SFENCE_VMA_ASID_RECEIVED);
    }
    if bits & work::SUPERVISOR_IPI != 0 && running {
        csr::set!("mip", MIP_SSIP);
        pmu::record(firmware_event::IPI_RECEIVED);
    }
    // Clear only what was done: bits posted meanwhile re-raised msip and stay pending.
    hart.pending.fetch_and(!bits, Ordering::Release);
}

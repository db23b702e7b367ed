//! SBI PMU extension (EID 0x504D55, SBI v2.0 chapter 11) and the per-hart counter set-up
//! that goes with it.
//!
//! Logical counter numbers follow the counter CSRs, as Linux's PMU driver expects when it
//! reads hardware counters itself: 0 is `cycle`, 2 is `instret`; 1 (`time`) is no PMU
//! counter. The programmable `mhpmcounter3..31` are not offered: without a description of
//! which events a hart's `mhpmevent` values select there is nothing to program them with
//! (and emu's hart has them read-only zero). Firmware counters follow at 3: they count
//! events this firmware handles itself (SBI calls, IPIs and fences it serves, traps it
//! redirects).
//!
//! Every counter is per hart: a call configures, starts, stops or reads the calling hart's
//! counters, so each hart only ever touches its own state here.

mod spec;

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use rustsbi::SbiRet;
use sbi_spec::pmu::{firmware_event, flags, hardware_event};

use crate::csr;
use crate::hart;
use crate::MAX_HARTS;
use spec::Event;

const CYCLE: usize = 0;
const INSTRET: usize = 2;
const FIRST_FIRMWARE: usize = 3;
/// As many firmware counters as OpenSBI offers.
const FIRMWARE_COUNTERS: usize = 16;
/// Counter numbers 0..COUNTERS (1 among them being no counter, as for OpenSBI).
const COUNTERS: usize = FIRST_FIRMWARE + FIRMWARE_COUNTERS;
const _: () = assert!(FIRMWARE_COUNTERS <= usize::BITS as usize);

const CSR_CYCLE: u16 = 0xc00;
const CSR_INSTRET: u16 = 0xc02;

/// `scounteren.TM`: U-mode may read `time`, which the vDSO's clock_gettime does.
const SCOUNTEREN_TM: usize = 1 << 1;
/// `mcountinhibit` as OpenSBI leaves it: cycle and instret count, everything else is
/// stopped until S-mode starts it.
const MCOUNTINHIBIT_INIT: usize = 0xffff_fff8;

/// Whether the hart has `mcountinhibit` (privileged spec 1.11). Without it the hardware
/// counters always count, and start and stop can only set their value.
static HAS_MCOUNTINHIBIT: AtomicBool = AtomicBool::new(false);

struct HartCounters {
    /// For each firmware counter, 1 + the firmware event code it counts; 0 while free.
    event: [AtomicUsize; FIRMWARE_COUNTERS],
    value: [AtomicU64; FIRMWARE_COUNTERS],
    /// Bit i: firmware counter i is started.
    started: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const HART_INIT: HartCounters = HartCounters {
    event: [FREE; FIRMWARE_COUNTERS],
    value: [ZERO; FIRMWARE_COUNTERS],
    started: AtomicUsize::new(0),
};

static HARTS: [HartCounters; MAX_HARTS] = [HART_INIT; MAX_HARTS];

fn this_hart() -> &'static HartCounters {
    // Harts at or above MAX_HARTS never leave the entry code, so this index is in range.
    &HARTS[hart::this_hart() % MAX_HARTS]
}

/// Counter set-up for a hart about to enter S-mode, as OpenSBI makes it: S-mode may read
/// every counter; U-mode may read `time` only (Linux's PMU driver widens this if it is
/// configured to let users read cycle and instret); cycle and instret count; this hart's
/// firmware counters are free.
pub fn init_hart() {
    csr::write!("mcounteren", 0xffff_ffff);
    csr::write!("scounteren", SCOUNTEREN_TM);
    if csr::try_set_bits!("mcountinhibit", 0).is_some() {
        csr::write!("mcountinhibit", MCOUNTINHIBIT_INIT);
        HAS_MCOUNTINHIBIT.store(true, Ordering::Relaxed);
    }
    let hart = this_hart();
    hart.started.store(0, Ordering::Relaxed);
    for i in 0..FIRMWARE_COUNTERS {
        hart.event[i].store(0, Ordering::Relaxed);
        hart.value[i].store(0, Ordering::Relaxed);
    }
}

/// Counts one occurrence of firmware event `code` (`firmware_event::*`) on this hart, in
/// every started firmware counter bound to it.
pub fn record(code: usize) {
    let hart = this_hart();
    let started = hart.started.load(Ordering::Relaxed);
    if started == 0 {
        return;
    }
    for i in bits(started) {
        if hart.event[i].load(Ordering::Relaxed) == code + 1 {
            hart.value[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The set bits of `mask`, lowest first.
fn bits(mask: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS as usize).filter(move |i| mask & (1 << i) != 0)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Counter {
    Cycle,
    Instret,
    /// Firmware counter n (logical number FIRST_FIRMWARE + n).
    Firmware(usize),
}

impl Counter {
    fn from_index(index: usize) -> Option<Counter> {
        match index {
            CYCLE => Some(Counter::Cycle),
            INSTRET => Some(Counter::Instret),
            FIRST_FIRMWARE..COUNTERS => Some(Counter::Firmware(index - FIRST_FIRMWARE)),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Counter::Cycle => CYCLE,
            Counter::Instret => INSTRET,
            Counter::Firmware(n) => FIRST_FIRMWARE + n,
        }
    }
}

/// The counters named by `base` and `mask`, or `None` if the set names a number that is no
/// counter.
fn counter_set(base: usize, mask: usize) -> Option<impl Iterator<Item = Counter>> {
    let valid = bits(mask).all(|i| base.checked_add(i).and_then(Counter::from_index).is_some());
    valid.then(|| bits(mask).filter_map(move |i| Counter::from_index(base + i)))
}

/// What one counter of a start or stop request came to; the call reports the worst.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Done,
    /// Already started (for start) or already stopped (for stop).
    Already,
    /// A firmware counter that counts no event.
    Unconfigured,
}

fn hardware_running(counter: Counter) -> bool {
    !HAS_MCOUNTINHIBIT.load(Ordering::Relaxed)
        || csr::read!("mcountinhibit") & (1 << counter.index()) == 0
}

fn set_hardware_inhibit(counter: Counter, inhibit: bool) {
    if !HAS_MCOUNTINHIBIT.load(Ordering::Relaxed) {
        return;
    }
    let bit = 1 << counter.index();
    if inhibit {
        csr::set!("mcountinhibit", bit);
    } else {
        csr::clear!("mcountinhibit", bit);
    }
}

fn write_hardware(counter: Counter, value: u64) {
    match counter {
        Counter::Cycle => csr::write!("mcycle", value as usize),
        Counter::Instret => csr::write!("minstret", value as usize),
        Counter::Firmware(_) => {}
    }
}

fn start(counter: Counter, initial: Option<u64>) -> Outcome {
    match counter {
        Counter::Firmware(n) => {
            let hart = this_hart();
            if hart.event[n].load(Ordering::Relaxed) == 0 {
                return Outcome::Unconfigured;
            }
            if hart.started.load(Ordering::Relaxed) & (1 << n) != 0 {
                return Outcome::Already;
            }
            if let Some(value) = initial {
                hart.value[n].store(value, Ordering::Relaxed);
            }
            hart.started.fetch_or(1 << n, Ordering::Relaxed);
            Outcome::Done
        }
        hardware => {
            // Without mcountinhibit the counter never stops, but S-mode still needs its
            // start value set to measure from.
            if HAS_MCOUNTINHIBIT.load(Ordering::Relaxed) && hardware_running(hardware) {
                return Outcome::Already;
            }
            if let Some(value) = initial {
                write_hardware(hardware, value);
            }
            set_hardware_inhibit(hardware, false);
            Outcome::Done
        }
    }
}

fn stop(counter: Counter, release: bool) -> Outcome {
    match counter {
        Counter::Firmware(n) => {
            let hart = this_hart();
            if hart.event[n].load(Ordering::Relaxed) == 0 {
                return Outcome::Unconfigured;
            }
            let was_started = hart.started.fetch_and(!(1 << n), Ordering::Relaxed) & (1 << n);
            if release {
                hart.event[n].store(0, Ordering::Relaxed);
            }
            if was_started == 0 {
                Outcome::Already
            } else {
                Outcome::Done
            }
        }
        // cycle and instret count one event each for good: there is no binding to release.
        hardware => {
            if !hardware_running(hardware) {
                return Outcome::Already;
            }
            set_hardware_inhibit(hardware, true);
            Outcome::Done
        }
    }
}

/// The fixed hardware counter for a hardware event, if there is one.
fn hardware_counter_for(code: usize) -> Option<Counter> {
    match code {
        hardware_event::CPU_CYCLES => Some(Counter::Cycle),
        hardware_event::INSTRUCTIONS => Some(Counter::Instret),
        _ => None,
    }
}

/// Firmware events this firmware can count: those it handles. The hypervisor fences are
/// never requested (the hart has no H extension and RFENCE offers no HFENCE calls), and
/// there are no platform-specific firmware events.
fn firmware_event_counted(code: usize) -> bool {
    code <= firmware_event::SFENCE_VMA_ASID_RECEIVED
}

/// Can `counter` count `event` at all?
fn can_count(counter: Counter, event: Event) -> bool {
    match (counter, event) {
        (Counter::Firmware(_), Event::Firmware(code)) => firmware_event_counted(code),
        (hardware, Event::Hardware(code)) => hardware_counter_for(code) == Some(hardware),
        _ => false,
    }
}

/// The SBI PMU extension.
pub struct Pmu;

impl rustsbi::Pmu for Pmu {
    fn num_counters(&self) -> usize {
        COUNTERS
    }

    fn counter_get_info(&self, counter_idx: usize) -> SbiRet {
        match Counter::from_index(counter_idx) {
            // mcycle and minstret are 64 bits wide on RV64.
            Some(Counter::Cycle) => SbiRet::success(spec::hardware_counter_info(CSR_CYCLE, 64)),
            Some(Counter::Instret) => SbiRet::success(spec::hardware_counter_info(CSR_INSTRET, 64)),
            Some(Counter::Firmware(_)) => SbiRet::success(spec::firmware_counter_info()),
            None => SbiRet::invalid_param(),
        }
    }

    fn counter_config_matching(
        &self,
        counter_idx_base: usize,
        counter_idx_mask: usize,
        config_flags: usize,
        event_idx: usize,
        _event_data: u64,
    ) -> SbiRet {
        let config = flags::CounterCfgFlags::from_bits_truncate(config_flags);
        let Some(set) = counter_set(counter_idx_base, counter_idx_mask) else {
            return SbiRet::invalid_param();
        };
        let Some(event) = Event::decode(event_idx) else {
            return SbiRet::invalid_param();
        };
        let hart = this_hart();
        // The filter flags (counting inhibited in some modes) are hints the spec lets an
        // implementation ignore; this hart cannot filter cycle and instret by mode, and
        // firmware events all come from S-mode calls.
        let chosen = if config.contains(flags::CounterCfgFlags::SKIP_MATCH) {
            // The caller names the counter: the first of the set.
            match set.take(1).find(|&c| can_count(c, event)) {
                Some(counter) => counter,
                None => return SbiRet::not_supported(),
            }
        } else {
            // The fixed counters are offered whether or not they are running: they count
            // from boot until S-mode stops them, and the S-mode driver keeps track of
            // which of them it uses.
            let mut set = set;
            let found = set.find(|&c| {
                can_count(c, event)
                    && match c {
                        Counter::Firmware(n) => hart.event[n].load(Ordering::Relaxed) == 0,
                        _ => true,
                    }
            });
            match found {
                Some(counter) => counter,
                None => return SbiRet::not_supported(),
            }
        };
        if let (Counter::Firmware(n), Event::Firmware(code)) = (chosen, event) {
            hart.event[n].store(code + 1, Ordering::Relaxed);
        }
        if config.contains(flags::CounterCfgFlags::CLEAR_VALUE) {
            match chosen {
                Counter::Firmware(n) => hart.value[n].store(0, Ordering::Relaxed),
                hardware => write_hardware(hardware, 0),
            }
        }
        if config.contains(flags::CounterCfgFlags::AUTO_START) {
            // A counter that already runs keeps running: success, as asked.
            start(chosen, None);
        }
        SbiRet::success(chosen.index())
    }

    fn counter_start(
        &self,
        counter_idx_base: usize,
        counter_idx_mask: usize,
        start_flags: usize,
        initial_value: u64,
    ) -> SbiRet {
        let start_flags = flags::CounterStartFlags::from_bits_truncate(start_flags);
        let Some(set) = counter_set(counter_idx_base, counter_idx_mask) else {
            return SbiRet::invalid_param();
        };
        // No snapshot memory can be set up (snapshot_set_shmem is not supported).
        if start_flags.contains(flags::CounterStartFlags::INIT_SNAPSHOT) {
            return SbiRet::no_shmem();
        }
        let initial = start_flags
            .contains(flags::CounterStartFlags::INIT_VALUE)
            .then_some(initial_value);
        // Every counter of the set is acted on, so that one unconfigured counter in a
        // set does not keep the others from starting; the answer is the worst outcome.
        match set.map(|c| start(c, initial)).max() {
            Some(Outcome::Unconfigured) => SbiRet::invalid_param(),
            Some(Outcome::Already) => SbiRet::already_started(),
            _ => SbiRet::success(0),
        }
    }

    fn counter_stop(
        &self,
        counter_idx_base: usize,
        counter_idx_mask: usize,
        stop_flags: usize,
    ) -> SbiRet {
        let stop_flags = flags::CounterStopFlags::from_bits_truncate(stop_flags);
        let Some(set) = counter_set(counter_idx_base, counter_idx_mask) else {
            return SbiRet::invalid_param();
        };
        if stop_flags.contains(flags::CounterStopFlags::TAKE_SNAPSHOT) {
            return SbiRet::no_shmem();
        }
        let release = stop_flags.contains(flags::CounterStopFlags::RESET);
        // As for start: Linux stops "all counters" at CPU bring-up with one call that
        // includes free firmware counters, and the hardware ones must stop all the same.
        match set.map(|c| stop(c, release)).max() {
            Some(Outcome::Unconfigured) => SbiRet::invalid_param(),
            Some(Outcome::Already) => SbiRet::already_stopped(),
            _ => SbiRet::success(0),
        }
    }

    fn counter_fw_read(&self, counter_idx: usize) -> SbiRet {
        match firmware_counter_value(counter_idx) {
            Some(value) => SbiRet::success(value as usize),
            None => SbiRet::invalid_param(),
        }
    }

    fn counter_fw_read_hi(&self, counter_idx: usize) -> SbiRet {
        // RV64: the low read returned all 64 bits.
        match firmware_counter_value(counter_idx) {
            Some(_) => SbiRet::success(0),
            None => SbiRet::invalid_param(),
        }
    }
}

/// The value of a firmware counter that counts an event, or `None` for any other number.
fn firmware_counter_value(counter_idx: usize) -> Option<u64> {
    let Some(Counter::Firmware(n)) = Counter::from_index(counter_idx) else {
        return None;
    };
    let hart = this_hart();
    (hart.event[n].load(Ordering::Relaxed) != 0).then(|| hart.value[n].load(Ordering::Relaxed))
}

//! Encodings of the SBI PMU extension (SBI v2.0, chapter 11) that the `sbi-spec` crate
//! leaves as plain numbers: the `event_idx` an S-mode caller names and the `counter_info`
//! word `counter_get_info` answers with.

use sbi_spec::pmu::{cache_event, event_type, firmware_event, hardware_event};

/// An `event_idx` (bits 19:16 type, 15:0 code) that names an event the spec defines.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// Type 0: one of `hardware_event::*` (not `NO_EVENT`).
    Hardware(usize),
    /// Type 1: a cache event (`cache_id << 3 | op_id << 1 | result_id`).
    Cache,
    /// Type 2: a raw event, selected by `event_data`.
    Raw,
    /// Type 15: one of `firmware_event::*`, or `PLATFORM`.
    Firmware(usize),
}

impl Event {
    /// Decodes `event_idx`; `None` if it is not an event of SBI v2.0 (bits above 19 set,
    /// an undefined type, or a code outside its type's table).
    pub fn decode(event_idx: usize) -> Option<Event> {
        if event_idx >> 20 != 0 {
            return None;
        }
        let (kind, code) = (event_idx >> 16, event_idx & 0xffff);
        match kind {
            event_type::HARDWARE_GENERAL => (hardware_event::CPU_CYCLES
                ..=hardware_event::REF_CPU_CYCLES)
                .contains(&code)
                .then_some(Event::Hardware(code)),
            event_type::HARDWARE_CACHE => {
                // Bit 0 (access or miss) takes both values.
                let (cache, op) = (code >> 3, (code >> 1) & 3);
                (cache <= cache_event::NODE && op <= 2).then_some(Event::Cache)
            }
            // The raw event code field is zero; `event_data` carries the selector.
            event_type::HARDWARE_RAW => (code == 0).then_some(Event::Raw),
            event_type::FIRMWARE => (code <= firmware_event::HFENCE_VVMA_ASID_RECEIVED
                || code == firmware_event::PLATFORM)
                .then_some(Event::Firmware(code)),
            _ => None,
        }
    }
}

/// `counter_info` of a hardware counter: bits 11:0 its CSR, 17:12 its width minus one,
/// XLEN-1 clear.
pub const fn hardware_counter_info(csr: u16, bits: u32) -> usize {
    (csr as usize & 0xfff) | ((bits as usize - 1) << 12)
}

/// `counter_info` of a firmware counter: bit XLEN-1 set. The CSR and width fields are to
/// be ignored for this type; the width is still given (64 bits), as firmware counters
/// are 64 bits wide.
pub const fn firmware_counter_info() -> usize {
    (1 << (usize::BITS - 1)) | (63 << 12)
}

//! A hart on random memory from a random starting state (privilege, mstatus, satp and
//! page table, trap vectors, delegation, PMP, registers): a bounded run never panics or
//! hangs, ends in an architectural state, and is deterministic.
#![no_main]

#[path = "../../tests/hostile/mod.rs"]
mod hostile;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = hostile::run_hart(data);
    let second = hostile::run_hart(data);
    assert_eq!(first, second, "the same start ran differently twice");
});

#![no_std]
#![no_main]
use bench_guest as _;
#[no_mangle]
static EXPECTED_CHECKSUM: u32 = 0;
#[no_mangle]
fn bench_main() -> u32 { 0 }

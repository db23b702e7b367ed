#![no_std]
#![no_main]
conformance::conformance_test!("clint_interrupts");

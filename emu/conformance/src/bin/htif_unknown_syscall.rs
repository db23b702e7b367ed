#![no_std]
#![no_main]
conformance::conformance_test!("htif_unknown_syscall");

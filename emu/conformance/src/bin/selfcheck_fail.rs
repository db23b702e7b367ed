#![no_std]
#![no_main]
conformance::conformance_test!("selfcheck_fail");

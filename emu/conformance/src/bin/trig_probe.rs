#![no_std]
#![no_main]
conformance::conformance_test!("trig_probe");

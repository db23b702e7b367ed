#![no_std]
#![no_main]
conformance::conformance_test!("mtvec_vectored");

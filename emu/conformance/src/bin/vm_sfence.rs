#![no_std]
#![no_main]
conformance::conformance_test!("vm_sfence", defs: "", parts: ["vm", "vm_sfence"]);

#![no_std]
#![no_main]
conformance::conformance_test!("vm_amo", defs: "", parts: ["vm", "vm_amo"]);

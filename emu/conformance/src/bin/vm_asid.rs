#![no_std]
#![no_main]
conformance::conformance_test!("vm_asid", defs: "", parts: ["vm", "vm_asid"]);

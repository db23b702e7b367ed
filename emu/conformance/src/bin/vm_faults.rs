#![no_std]
#![no_main]
conformance::conformance_test!("vm_faults", defs: "", parts: ["vm", "vm_faults"]);

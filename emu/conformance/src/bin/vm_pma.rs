#![no_std]
#![no_main]
conformance::conformance_test!("vm_pma", defs: "", parts: ["vm", "vm_pma"]);

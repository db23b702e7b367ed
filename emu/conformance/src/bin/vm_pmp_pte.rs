#![no_std]
#![no_main]
conformance::conformance_test!("vm_pmp_pte", defs: "", parts: ["vm", "vm_pmp_pte"]);

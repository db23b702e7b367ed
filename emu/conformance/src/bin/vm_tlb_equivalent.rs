#![no_std]
#![no_main]
conformance::conformance_test!("vm_tlb_equivalent", defs: "", parts: ["vm", "vm_tlb_equivalent"]);

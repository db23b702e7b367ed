#![no_std]
#![no_main]
conformance::conformance_test!("vm_tlb_global_asid", defs: ".equ FENCE, 2\n", parts: ["vm", "vm_tlb"]);

#![no_std]
#![no_main]
conformance::conformance_test!("vm_tlb_nofence", defs: ".equ FENCE, 0\n", parts: ["vm", "vm_tlb"]);

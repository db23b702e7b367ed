#![no_std]
#![no_main]
conformance::conformance_test!("vm_tlb_fenced", defs: ".equ FENCE, 1\n", parts: ["vm", "vm_tlb"]);

#![no_std]
#![no_main]
conformance::conformance_test!("vm_pwc", defs: "", parts: ["vm", "vm_pwc"]);

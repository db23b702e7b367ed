#![no_std]
#![no_main]
conformance::conformance_test!("vm_svade", defs: "", parts: ["vm", "vm_svade"]);

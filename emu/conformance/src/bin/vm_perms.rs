#![no_std]
#![no_main]
conformance::conformance_test!("vm_perms", defs: "", parts: ["vm", "vm_perms"]);

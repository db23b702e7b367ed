#![no_std]
#![no_main]
conformance::conformance_test!("vm_pma_devices", defs: "", parts: ["vm", "vm_pma_devices"]);

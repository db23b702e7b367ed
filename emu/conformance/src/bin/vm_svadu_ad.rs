#![no_std]
#![no_main]
conformance::conformance_test!("vm_svadu_ad", defs: "", parts: ["vm", "vm_svadu_ad"]);

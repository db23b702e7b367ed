#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_satp_warl",
    defs: ".equ MAX_MODE, 10\n",
    parts: ["vm", "vm_satp_warl"]
);

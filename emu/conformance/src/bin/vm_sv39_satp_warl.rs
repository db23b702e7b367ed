#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_sv39_satp_warl",
    defs: ".equ MAX_MODE, 8\n",
    parts: ["vm", "vm_satp_warl"]
);

#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_sv48_satp_warl",
    defs: ".equ MAX_MODE, 9\n",
    parts: ["vm", "vm_satp_warl"]
);

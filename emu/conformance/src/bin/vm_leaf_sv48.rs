#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_leaf_sv48",
    defs: ".equ LEVELS, 4\n.equ MODE, 9\n",
    parts: ["vm", "vm_leaf"]
);

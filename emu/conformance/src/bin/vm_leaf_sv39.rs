#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_leaf_sv39",
    defs: ".equ LEVELS, 3\n.equ MODE, 8\n",
    parts: ["vm", "vm_leaf"]
);

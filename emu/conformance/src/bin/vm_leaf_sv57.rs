#![no_std]
#![no_main]
conformance::conformance_test!(
    "vm_leaf_sv57",
    defs: ".equ LEVELS, 5\n.equ MODE, 10\n",
    parts: ["vm", "vm_leaf"]
);

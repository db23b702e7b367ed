//! `emu`: a full-system RISC-V RV64GC emulator whose speciality is address translation.
//!
//! Architecture (see docs/architecture.md): [`cpu`] harts fetch through the [`mmu`],
//! which reads page tables from the [`bus`]; [`devices`] sit on the bus behind one small
//! trait; [`machine`] is the `virt` board that wires them and runs the harts.

pub mod bus;
pub mod cli;
pub mod cpu;
pub mod devices;
pub mod gdb;
pub mod initramfs;
pub mod jit;
pub mod machine;
pub mod mmu;
pub mod snapshot;
pub mod trace;
pub mod user_error;

/// The in-repo guest kernel and firmware, built for riscv64 by build.rs and embedded.
pub mod images {
    /// The guest kernel ELF (`guest-kernel/`).
    pub static GUEST_KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest-kernel.elf"));
    /// The same kernel built non-PIE (feature `nopie`): linked to run only at its link
    /// address (`layout=top`, no KASLR), with no dynamic relocations. For comparing the
    /// cost of position-independent code on identical work; `emu images` writes it.
    pub static GUEST_KERNEL_NOPIE: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/guest-kernel-nopie.elf"));
    /// The PIE built like the non-PIE one in everything but the relocation model: without
    /// jump tables (which the non-PIE build cannot have), so that the two differ in one
    /// thing. `emu images` writes it.
    pub static GUEST_KERNEL_PIE_NO_JUMP_TABLES: &[u8] = include_bytes!(concat!(
        env!("OUT_DIR"),
        "/guest-kernel-pie-no-jump-tables.elf"
    ));
    /// The M-mode SBI firmware ELF (`firmware/`).
    pub static FIRMWARE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/firmware.elf"));
}

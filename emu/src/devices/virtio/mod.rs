//! virtio-mmio devices: the transport, split virtqueues, and the block and entropy
//! device models.

pub mod blk;
pub mod mmio;
pub mod queue;
pub mod rng;

pub use blk::DiskConfig;
pub use mmio::{VirtioBackend, VirtioMmio};

//! virtio-mmio devices: the transport, split virtqueues, and the block, entropy and 9P
//! (host directory share) device models.

pub mod blk;
pub mod mmio;
pub mod p9;
pub mod queue;
pub mod rng;

pub use blk::DiskConfig;
pub use mmio::{VirtioBackend, VirtioMmio};
pub use p9::ShareConfig;

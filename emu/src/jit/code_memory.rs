//! Executable memory for Cranelift's blocks: one mapping reserved up front and filled
//! in order, readable, writable and executable at once, as the quick tier's
//! (`quick::CodeArea`) and QEMU's code buffer are.
//!
//! Cranelift's own providers map fresh pages for every function after the previous
//! one was made executable, then `mprotect` them: a system call or two and a TLB
//! shootdown to the hart's core per compiled block, and every block alone on its
//! pages, starting at the same offset in a page. Blocks then compete for the same few
//! sets of the host's instruction cache and each takes an instruction-TLB entry of
//! its own; packed one after the other, a chain of hot blocks shares lines and pages.
//!
//! x86-64 keeps instruction fetch coherent with stores, and a block is published to
//! the hart through a channel (or compiled on its thread), so code written here needs
//! no cache maintenance before it runs. Other hosts keep Cranelift's own provider.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use std::io;
use std::ptr::NonNull;

use cranelift_jit::{BranchProtection, JITMemoryKind, JITMemoryProvider};
use cranelift_module::ModuleResult;

/// Address space reserved for one module's code. Only the pages written become
/// resident: the largest runs so far write a few MiB before a restart
/// (`MAX_BLOCKS` blocks of at most `MAX_BLOCK` instructions, 10 KiB each on average,
/// would fill it; the largest Debian workloads average under 2 KiB).
pub const CODE_BYTES: usize = 256 << 20;

/// One reserved mapping, handed out in order; freed as a whole.
pub struct CodeMemory {
    base: NonNull<u8>,
    size: usize,
    used: usize,
    freed: bool,
}

// SAFETY: the mapping is owned by this value and used by one thread at a time (the
// thread that owns the Cranelift module); moving that ownership between threads is
// sound.
unsafe impl Send for CodeMemory {}

/// Reserve `size` bytes of memory that is readable, writable and executable at once
/// (the host backs only the pages written), for generated code: this module's and the
/// quick tier's. The caller unmaps it. None when the host refuses the mapping.
pub fn reserve(size: usize) -> Option<NonNull<u8>> {
    use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
    // SAFETY: a fresh anonymous mapping at an address the kernel chooses overlaps
    // nothing of ours.
    let base = unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            size,
            ProtFlags::READ | ProtFlags::WRITE | ProtFlags::EXEC,
            MapFlags::PRIVATE | MapFlags::NORESERVE,
        )
    }
    .ok()?;
    NonNull::new(base as *mut u8)
}

impl CodeMemory {
    /// Reserve `size` bytes; None when the host refuses the mapping.
    pub fn new(size: usize) -> Option<CodeMemory> {
        Some(CodeMemory {
            base: reserve(size)?,
            size,
            used: 0,
            freed: false,
        })
    }
}

impl JITMemoryProvider for CodeMemory {
    fn allocate(&mut self, size: usize, align: u64, _kind: JITMemoryKind) -> io::Result<*mut u8> {
        let align = usize::try_from(align.max(1)).unwrap_or(usize::MAX);
        let start = self
            .used
            .checked_next_multiple_of(align)
            .filter(|start| {
                !self.freed && start.checked_add(size).is_some_and(|end| end <= self.size)
            })
            .ok_or_else(|| io::Error::other("the JIT's code memory is used up"))?;
        self.used = start + size;
        // SAFETY: `start + size <= self.size`: the pointer stays inside the mapping.
        Ok(unsafe { self.base.as_ptr().add(start) })
    }

    unsafe fn free_memory(&mut self) {
        if self.freed {
            return;
        }
        self.freed = true;
        // SAFETY: the caller guarantees that no code in the mapping runs or will run
        // (`JITModule::free_memory`'s contract); the mapping is ours and unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.size) };
    }

    fn finalize(&mut self, _: BranchProtection) -> ModuleResult<()> {
        Ok(())
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // SAFETY: this memory goes with its module, and the module with its `Compiler`:
        // on the hart's thread together with the `Jit` that holds every pointer into
        // it (blocks, trampoline, link cells, quick blocks redirected here), outside
        // any block; on the compile thread only after the hart's side is gone.
        unsafe { self.free_memory() }
    }
}

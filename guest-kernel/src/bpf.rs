//! A tiny JIT in the BPF region: it emits a handful of RISC-V instructions for the
//! program `r0 = helper(r1) + imm` and runs them.
//!
//! The code is written through a writable alias (the page's linear-map address, which is
//! never executable) and only then mapped executable, read-only, in the BPF window: no
//! address is ever writable and executable at once. `fence.i` makes the new instructions
//! visible to instruction fetch. The call to the kernel helper is an auipc + jalr pair,
//! which only reaches ±2 GiB: that is why the BPF region must sit next to kernel text.

use crate::layout::{__va, mode, PAGE_SIZE};
use crate::palloc;
use crate::pgtable::{map_pages, swapper_pg_dir_pa, PAGE_KERNEL_READ_EXEC};
use crate::tlb;
use crate::vmalloc;

/// What the JIT did.
pub struct BpfRun {
    pub addr: usize,
    pub instructions: usize,
    pub result: u64,
    pub expected: u64,
    /// The auipc offset to the helper (must fit in ±2 GiB).
    pub call_distance: i64,
}

pub enum BpfError {
    NoSpace(vmalloc::VmError),
    NoMemory,
    Map,
    /// The helper is out of auipc + jalr reach from the BPF region.
    HelperOutOfRange(i64),
}

impl core::fmt::Display for BpfError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            BpfError::NoSpace(e) => write!(f, "no room in the BPF window ({e:?})"),
            BpfError::NoMemory => write!(f, "out of pages"),
            BpfError::Map => write!(f, "cannot map the code page"),
            BpfError::HelperOutOfRange(d) => {
                write!(f, "helper out of auipc+jalr range (distance {d:#x})")
            }
        }
    }
}

/// The kernel function JITed code calls (like a BPF helper).
extern "C" fn bpf_helper_mul3(x: u64) -> u64 {
    x.wrapping_mul(3)
}

const IMM: i32 = 7;

// Encoders for the few instruction formats the JIT emits.
const fn i_type(imm: i32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}
const fn s_type(imm: i32, rs2: u32, rs1: u32, funct3: u32, opcode: u32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5 & 0x7f) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | ((imm & 0x1f) << 7)
        | opcode
}
const fn u_type(imm20: u32, rd: u32, opcode: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | opcode
}

const RA: u32 = 1;
const SP: u32 = 2;
const A0: u32 = 10;
const OP_IMM: u32 = 0x13;
const LOAD: u32 = 0x03;
const STORE: u32 = 0x23;
const AUIPC: u32 = 0x17;
const JALR: u32 = 0x67;

/// JIT `r0 = helper(r1) + IMM` at `pc`.
fn emit(pc: usize, helper: usize) -> Result<([u32; 8], i64), BpfError> {
    let call_at = pc + 8;
    let distance = helper as i64 - call_at as i64;
    if !(-(1i64 << 31) - (1 << 11)..(1i64 << 31) - (1 << 11)).contains(&distance) {
        return Err(BpfError::HelperOutOfRange(distance));
    }
    let hi = ((distance + 0x800) >> 12) as u32 & 0xfffff;
    let lo = (distance as i32) << 20 >> 20;
    Ok((
        [
            i_type(-16, SP, 0, SP, OP_IMM), // addi sp, sp, -16
            s_type(8, RA, SP, 3, STORE),    // sd ra, 8(sp)
            u_type(hi, RA, AUIPC),          // auipc ra, %hi(helper)
            i_type(lo, RA, 0, RA, JALR),    // jalr ra, %lo(helper)(ra)
            i_type(IMM, A0, 0, A0, OP_IMM), // addi a0, a0, IMM
            i_type(8, SP, 3, RA, LOAD),     // ld ra, 8(sp)
            i_type(16, SP, 0, SP, OP_IMM),  // addi sp, sp, 16
            i_type(0, RA, 0, 0, JALR),      // ret
        ],
        distance,
    ))
}

/// JIT the program into the BPF window [lo, hi), run it on `arg`, unmap it again.
pub fn run(lo: usize, hi: usize, arg: u64) -> Result<BpfRun, BpfError> {
    let addr = vmalloc::get_vm_area(PAGE_SIZE, lo, hi).map_err(BpfError::NoSpace)?;
    let result = jit_and_call(addr, arg);
    // The page is unmapped (if it was mapped) and its address space released either way.
    if let Some(pa) = crate::pgtable::unmap_page(swapper_pg_dir_pa(), mode(), addr) {
        tlb::flush_page(addr);
        palloc::free_page(pa);
    }
    let _ = vmalloc::free_vm_area(addr);
    result
}

fn jit_and_call(addr: usize, arg: u64) -> Result<BpfRun, BpfError> {
    let (code, call_distance) = emit(addr, bpf_helper_mul3 as *const () as usize)?;
    let pa = palloc::alloc_page().ok_or(BpfError::NoMemory)?;
    let alias = __va(pa) as *mut u32;
    for (i, insn) in code.iter().enumerate() {
        // SAFETY: the fresh page is ours; its linear alias is writable (and never
        // executable).
        unsafe { alias.add(i).write_volatile(*insn) };
    }
    if map_pages(
        swapper_pg_dir_pa(),
        mode(),
        addr,
        pa,
        PAGE_SIZE,
        PAGE_SIZE,
        PAGE_KERNEL_READ_EXEC,
    )
    .is_err()
    {
        palloc::free_page(pa);
        return Err(BpfError::Map);
    }
    tlb::flush_page(addr);
    // SAFETY: publishes the stores above to instruction fetch on this hart.
    unsafe { core::arch::asm!("fence.i") };
    // SAFETY: the page holds a complete function following the C ABI, mapped RX.
    let program: extern "C" fn(u64) -> u64 = unsafe { core::mem::transmute(addr) };
    let result = program(arg);
    Ok(BpfRun {
        addr,
        instructions: code.len(),
        result,
        expected: arg.wrapping_mul(3).wrapping_add(IMM as u64),
        call_distance,
    })
}

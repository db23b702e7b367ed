//! The module loader: takes a relocatable RISC-V ELF object (the in-repo module crate,
//! embedded in the image), places its sections in one area of the module window, fills
//! in its undefined symbols from the kernel's export table, applies its relocations and
//! calls `module_init`.
//!
//! Placement matters because of how medany code reaches other code and data: auipc plus
//! a 12-bit offset, a signed 32-bit pc-relative distance. A module further than ~2 GiB
//! from the kernel cannot call it or touch its data; the loader must refuse it rather
//! than truncate an offset, and says which relocation did not fit. That is the 2020
//! thread's reason for keeping modules (and BPF) within 2 GiB of kernel text.
//!
//! Memory layout of a loaded module, each part page aligned so that it gets its own
//! permissions: text (RX) | rodata (R) | data, bss and the GOT (RW). Everything is
//! written through the module's own mapping while it is still RW, then text and rodata
//! are made read-only and the instruction cache is synchronised (`fence.i`).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use goblin::elf::header::{EM_RISCV, ET_REL};
use goblin::elf::reloc::*;
use goblin::elf::section_header::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS};
use goblin::elf::sym::STT_SECTION;
use goblin::elf::Elf;

use crate::layout::page_align_up;
use crate::pgtable::{PAGE_KERNEL, PAGE_KERNEL_READ_EXEC, PAGE_KERNEL_RO};
use crate::println;
use crate::vmalloc;

/// The module object, built by build.rs from module/ (a relocatable object, not linked).
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);
static MODULE_OBJECT: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/guest-module.o")));

pub fn module_object() -> &'static [u8] {
    &MODULE_OBJECT.0
}

/// The absolute value the kernel exports as `module_abs_offset` (an offset into
/// `kernel_scratch`; the module reaches it with lui/addi, HI20 + LO12). Bit 11 is set
/// so that HI20 has to round up. Must match MODULE_ABS_OFFSET in module/src/lib.rs.
pub const MODULE_ABS_OFFSET: usize = 0x1a38;
const SCRATCH_WORDS: usize = 1024;

/// Kernel data modules may write.
#[no_mangle]
pub static mut kernel_module_counter: u64 = 0;
#[no_mangle]
pub static mut kernel_scratch: [u64; SCRATCH_WORDS] = [0; SCRATCH_WORDS];

static mut REGISTERED_COOKIE: u64 = 0;

extern "C" fn kernel_log(msg: *const u8, len: usize) {
    // SAFETY: the module passes a pointer and length of its own bytes, readable by the
    // kernel (module data is mapped in the kernel's half, global).
    let bytes = unsafe { core::slice::from_raw_parts(msg, len.min(200)) };
    println!(
        "module: says \"{}\"",
        core::str::from_utf8(bytes).unwrap_or("<not utf-8>")
    );
}

extern "C" fn kernel_register_module(cookie: u64) -> u64 {
    // SAFETY: one hart; the module calls this during its init only.
    unsafe { REGISTERED_COOKIE = cookie };
    cookie.rotate_left(8)
}

pub fn registered_cookie() -> u64 {
    // SAFETY: read after the module's init returned.
    unsafe { core::ptr::addr_of!(REGISTERED_COOKIE).read() }
}

/// The symbols a module may use, by name (like EXPORT_SYMBOL).
fn export_table() -> [(&'static str, usize); 5] {
    [
        ("kernel_log", kernel_log as *const () as usize),
        (
            "kernel_register_module",
            kernel_register_module as *const () as usize,
        ),
        (
            "kernel_module_counter",
            core::ptr::addr_of!(kernel_module_counter) as usize,
        ),
        (
            "kernel_scratch",
            core::ptr::addr_of!(kernel_scratch) as usize,
        ),
        ("module_abs_offset", MODULE_ABS_OFFSET),
    ]
}

pub fn export_count() -> usize {
    export_table().len()
}

fn lookup_export(name: &str) -> Option<usize> {
    export_table()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, a)| a)
}

/// Why a load failed.
#[derive(Debug)]
pub enum LoadError {
    Parse,
    NotRiscvRelocatable,
    NoSpace(vmalloc::VmError),
    UndefinedSymbol(&'static str),
    /// A relocation's value does not fit its field.
    OutOfRange(RelocSite),
    /// A relocation type the loader does not handle.
    Unsupported(RelocSite),
    /// A PCREL_LO12 whose auipc has no PCREL_HI20/GOT_HI20.
    MissingHi20(RelocSite),
    NoInit,
}

/// Where a relocation is, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct RelocSite {
    pub rtype: u32,
    pub section: &'static str,
    pub offset: u64,
    pub symbol: &'static str,
    /// The value (distance, for pc-relative types) that did not fit.
    pub value: i64,
}

pub fn reloc_name(rtype: u32) -> &'static str {
    r_to_str(rtype, EM_RISCV)
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let site = |f: &mut fmt::Formatter, what: &str, s: &RelocSite| {
            write!(
                f,
                "{what}: {} ({}) at {}+{:#x} against {} (value {:#x})",
                reloc_name(s.rtype),
                s.rtype,
                s.section,
                s.offset,
                s.symbol,
                s.value
            )
        };
        match self {
            LoadError::Parse => write!(f, "not a valid ELF object"),
            LoadError::NotRiscvRelocatable => write!(f, "not a RISC-V relocatable object"),
            LoadError::NoSpace(e) => write!(f, "no room in the module window ({e:?})"),
            LoadError::UndefinedSymbol(name) => write!(f, "unknown symbol {name}"),
            LoadError::OutOfRange(s) => site(f, "relocation out of range", s),
            LoadError::Unsupported(s) => site(f, "unsupported relocation", s),
            LoadError::MissingHi20(s) => site(f, "no matching HI20 for", s),
            LoadError::NoInit => write!(f, "no module_init symbol"),
        }
    }
}

/// Where a module was placed and what its load did.
pub struct LoadedModule {
    pub base: usize,
    pub size: usize,
    pub text_size: usize,
    pub rodata_size: usize,
    pub data_size: usize,
    pub got_entries: usize,
    pub init: usize,
    pub sections: usize,
    pub symbols: usize,
    pub undefined: usize,
    /// Relocations applied, by type (index = R_RISCV_* number).
    pub by_type: [u16; 64],
}

impl LoadedModule {
    /// Call `module_init`; returns its result (0 = success).
    pub fn call_init(&self) -> u64 {
        // SAFETY: init is the relocated address of the module's `module_init`, an
        // `extern "C" fn() -> u64`, mapped executable.
        let init: extern "C" fn() -> u64 = unsafe { core::mem::transmute(self.init) };
        init()
    }

    pub fn unload(self) {
        let _ = vmalloc::vfree(self.base);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Text,
    Rodata,
    Data,
}

fn part_of(flags: u64) -> Option<Part> {
    if flags & SHF_ALLOC as u64 == 0 {
        None
    } else if flags & SHF_EXECINSTR as u64 != 0 {
        Some(Part::Text)
    } else if flags & SHF_WRITE as u64 != 0 {
        Some(Part::Data)
    } else {
        Some(Part::Rodata)
    }
}

/// Load `object` into the first gap of [lo, hi) of the kernel address space.
pub fn load(object: &'static [u8], lo: usize, hi: usize) -> Result<LoadedModule, LoadError> {
    let elf = Elf::parse(object).map_err(|_| LoadError::Parse)?;
    if elf.header.e_machine != EM_RISCV || elf.header.e_type != ET_REL || !elf.is_64 {
        return Err(LoadError::NotRiscvRelocatable);
    }
    let shdrs = &elf.section_headers;

    // Lay the sections out: offsets within the module, by part, in object order (so
    // that short RVC branches between neighbouring sections still reach).
    let mut offsets: Vec<Option<usize>> = vec![None; shdrs.len()];
    let mut cursor = 0;
    let mut part_ends = [0usize; 3];
    for (i, part) in [Part::Text, Part::Rodata, Part::Data]
        .into_iter()
        .enumerate()
    {
        cursor = page_align_up(cursor);
        for (index, sh) in shdrs.iter().enumerate() {
            if part_of(sh.sh_flags) == Some(part) && sh.sh_size > 0 {
                cursor = cursor.next_multiple_of(sh.sh_addralign.max(1) as usize);
                offsets[index] = Some(cursor);
                cursor += sh.sh_size as usize;
            }
        }
        part_ends[i] = cursor;
    }
    // The GOT: one slot per symbol named by a GOT_HI20, after the data.
    let mut got_symbols: Vec<usize> = Vec::new();
    for (_, relocs) in &elf.shdr_relocs {
        for r in relocs.iter() {
            if r.r_type == R_RISCV_GOT_HI20 && !got_symbols.contains(&r.r_sym) {
                got_symbols.push(r.r_sym);
            }
        }
    }
    let got_offset = cursor.next_multiple_of(8);
    let size = page_align_up(got_offset + 8 * got_symbols.len());

    let base = vmalloc::vmalloc_range(size, lo, hi, PAGE_KERNEL).map_err(LoadError::NoSpace)?;
    let result = place_and_relocate(&elf, object, base, &offsets, got_offset, &got_symbols);
    let mut module = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = vmalloc::vfree(base);
            return Err(e);
        }
    };
    let text_size = page_align_up(part_ends[0]);
    let rodata_size = page_align_up(part_ends[1]) - text_size;
    vmalloc::set_memory_perm(base, text_size, PAGE_KERNEL_READ_EXEC);
    vmalloc::set_memory_perm(base + text_size, rodata_size, PAGE_KERNEL_RO);
    // SAFETY: orders the stores that wrote the module's code before fetching it.
    unsafe { core::arch::asm!("fence.i") };
    module.size = size;
    module.text_size = text_size;
    module.rodata_size = rodata_size;
    module.data_size = size - text_size - rodata_size;
    module.got_entries = got_symbols.len();
    module.sections = offsets.iter().filter(|o| o.is_some()).count();
    Ok(module)
}

fn place_and_relocate(
    elf: &Elf<'static>,
    object: &'static [u8],
    base: usize,
    offsets: &[Option<usize>],
    got_offset: usize,
    got_symbols: &[usize],
) -> Result<LoadedModule, LoadError> {
    let shdrs = &elf.section_headers;
    for (index, sh) in shdrs.iter().enumerate() {
        let Some(offset) = offsets[index] else {
            continue;
        };
        if sh.sh_type == SHT_NOBITS {
            continue; // fresh vmalloc pages are zeroed
        }
        let (start, len) = (sh.sh_offset as usize, sh.sh_size as usize);
        let bytes = object.get(start..start + len).ok_or(LoadError::Parse)?;
        // SAFETY: [base + offset, + len) lies in the area just mapped RW for the module.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (base + offset) as *mut u8, len) };
    }

    // Symbol values: section symbols and defined symbols relative to their section's
    // place, absolute symbols as they are, undefined ones from the export table.
    let mut values: Vec<Option<usize>> = Vec::with_capacity(elf.syms.len());
    let mut undefined = 0;
    let mut init = None;
    for sym in elf.syms.iter() {
        let name = elf.strtab.get_at(sym.st_name).unwrap_or("");
        let value = match sym.st_shndx {
            0 if name.is_empty() => Some(0),
            0 => {
                undefined += 1;
                lookup_export(name)
            }
            0xfff1 => Some(sym.st_value as usize),
            index => offsets
                .get(index)
                .copied()
                .flatten()
                .map(|o| base + o + sym.st_value as usize),
        };
        if name == "module_init" && sym.st_shndx != 0 && sym.st_type() != STT_SECTION {
            init = value;
        }
        values.push(value);
    }
    let got = base + got_offset;
    for (slot, &sym) in got_symbols.iter().enumerate() {
        let value = symbol_value(elf, &values, sym)?;
        // SAFETY: the GOT lies inside the module's RW area.
        unsafe { ((got + 8 * slot) as *mut u64).write(value as u64) };
    }

    let mut by_type = [0u16; 64];
    for (rel_index, relocs) in &elf.shdr_relocs {
        let target = shdrs[*rel_index].sh_info as usize;
        let Some(section_offset) = offsets.get(target).copied().flatten() else {
            continue; // relocations of a section we do not load (debug info)
        };
        let section = elf.shdr_strtab.get_at(shdrs[target].sh_name).unwrap_or("?");
        let ctx = SectionCtx {
            elf,
            values: &values,
            base: base + section_offset,
            section,
            relocs,
            got,
            got_symbols,
        };
        for r in relocs.iter() {
            ctx.apply(&r)?;
            if let Some(count) = by_type.get_mut(r.r_type as usize) {
                *count += 1;
            }
        }
    }
    Ok(LoadedModule {
        base,
        size: 0,
        text_size: 0,
        rodata_size: 0,
        data_size: 0,
        got_entries: 0,
        init: init.ok_or(LoadError::NoInit)?,
        sections: 0,
        symbols: values.len(),
        undefined,
        by_type,
    })
}

fn symbol_name(elf: &Elf<'static>, sym: usize) -> &'static str {
    elf.syms
        .get(sym)
        .and_then(|s| {
            if s.st_type() == STT_SECTION {
                elf.section_headers
                    .get(s.st_shndx)
                    .and_then(|sh| elf.shdr_strtab.get_at(sh.sh_name))
            } else {
                elf.strtab.get_at(s.st_name)
            }
        })
        .unwrap_or("?")
}

fn symbol_value(
    elf: &Elf<'static>,
    values: &[Option<usize>],
    sym: usize,
) -> Result<usize, LoadError> {
    values
        .get(sym)
        .copied()
        .flatten()
        .ok_or(LoadError::UndefinedSymbol(symbol_name(elf, sym)))
}

/// Everything needed to apply the relocations of one section.
struct SectionCtx<'a> {
    elf: &'a Elf<'static>,
    values: &'a [Option<usize>],
    /// Where the section was placed.
    base: usize,
    section: &'static str,
    relocs: &'a RelocSection<'static>,
    got: usize,
    got_symbols: &'a [usize],
}

/// The range of a signed 32-bit pc-relative (or absolute) value split into hi20 + lo12.
fn fits_hi20(v: i64) -> bool {
    (-(1i64 << 31) - (1 << 11)..(1i64 << 31) - (1 << 11)).contains(&v)
}

fn hi20(v: i64) -> u32 {
    ((v + 0x800) >> 12) as u32 & 0xfffff
}

fn lo12(v: i64) -> u32 {
    (v as u32) & 0xfff
}

impl SectionCtx<'_> {
    fn site(&self, r: &Reloc, value: i64) -> RelocSite {
        RelocSite {
            rtype: r.r_type,
            section: self.section,
            offset: r.r_offset,
            symbol: symbol_name(self.elf, r.r_sym),
            value,
        }
    }

    /// S + A.
    fn target(&self, r: &Reloc) -> Result<i64, LoadError> {
        let s = symbol_value(self.elf, self.values, r.r_sym)?;
        Ok((s as i64).wrapping_add(r.r_addend.unwrap_or(0)))
    }

    fn got_slot(&self, sym: usize) -> usize {
        let slot = self.got_symbols.iter().position(|&s| s == sym).unwrap_or(0);
        self.got + 8 * slot
    }

    /// The pc-relative value of the PCREL_HI20 or GOT_HI20 at `auipc` (in this section).
    fn hi20_value_at(&self, auipc: usize) -> Option<i64> {
        let offset = (auipc - self.base) as u64;
        let hi = self.relocs.iter().find(|h| {
            h.r_offset == offset && matches!(h.r_type, R_RISCV_PCREL_HI20 | R_RISCV_GOT_HI20)
        })?;
        let target = if hi.r_type == R_RISCV_GOT_HI20 {
            self.got_slot(hi.r_sym) as i64 + hi.r_addend.unwrap_or(0)
        } else {
            self.target(&hi).ok()?
        };
        Some(target.wrapping_sub(auipc as i64))
    }

    fn apply(&self, r: &Reloc) -> Result<(), LoadError> {
        let at = self.base + r.r_offset as usize;
        let pc = at as i64;
        let check = |ok: bool, value: i64| {
            if ok {
                Ok(())
            } else {
                Err(LoadError::OutOfRange(self.site(r, value)))
            }
        };
        match r.r_type {
            R_RISCV_NONE | R_RISCV_RELAX => {}
            R_RISCV_64 => write64(at, self.target(r)? as u64),
            R_RISCV_32 => {
                let v = self.target(r)?;
                check(v == v as i32 as i64 || v == v as u32 as i64, v)?;
                write32(at, v as u32);
            }
            R_RISCV_32_PCREL | R_RISCV_PLT32 => {
                let v = self.target(r)?.wrapping_sub(pc);
                check(v == v as i32 as i64, v)?;
                write32(at, v as u32);
            }
            R_RISCV_ADD8 | R_RISCV_ADD16 | R_RISCV_ADD32 | R_RISCV_ADD64 | R_RISCV_SUB6
            | R_RISCV_SUB8 | R_RISCV_SUB16 | R_RISCV_SUB32 | R_RISCV_SUB64 | R_RISCV_SET6
            | R_RISCV_SET8 | R_RISCV_SET16 | R_RISCV_SET32 => {
                apply_data(at, r.r_type, self.target(r)? as u64)
            }
            R_RISCV_BRANCH => {
                let v = self.target(r)?.wrapping_sub(pc);
                check((-4096..4096).contains(&v), v)?;
                patch32(at, 0x01fff07f, b_imm(v));
            }
            R_RISCV_JAL => {
                let v = self.target(r)?.wrapping_sub(pc);
                check((-(1 << 20)..(1 << 20)).contains(&v), v)?;
                patch32(at, 0x0000_0fff, j_imm(v));
            }
            R_RISCV_RVC_BRANCH => {
                let v = self.target(r)?.wrapping_sub(pc);
                check((-256..256).contains(&v), v)?;
                patch16(at, 0xe383, cb_imm(v));
            }
            R_RISCV_RVC_JUMP => {
                let v = self.target(r)?.wrapping_sub(pc);
                check((-2048..2048).contains(&v), v)?;
                patch16(at, 0xe003, cj_imm(v));
            }
            R_RISCV_CALL | R_RISCV_CALL_PLT => {
                let v = self.target(r)?.wrapping_sub(pc);
                check(fits_hi20(v), v)?;
                patch32(at, 0xfff, hi20(v) << 12);
                patch32(at + 4, 0x000f_ffff, lo12(v) << 20);
            }
            R_RISCV_PCREL_HI20 => {
                let v = self.target(r)?.wrapping_sub(pc);
                check(fits_hi20(v), v)?;
                patch32(at, 0xfff, hi20(v) << 12);
            }
            R_RISCV_GOT_HI20 => {
                let v = (self.got_slot(r.r_sym) as i64 + r.r_addend.unwrap_or(0)).wrapping_sub(pc);
                check(fits_hi20(v), v)?;
                patch32(at, 0xfff, hi20(v) << 12);
            }
            R_RISCV_PCREL_LO12_I | R_RISCV_PCREL_LO12_S => {
                // The symbol is the auipc's label; the offset is the one its HI20 computed.
                let auipc = symbol_value(self.elf, self.values, r.r_sym)?;
                let v = self
                    .hi20_value_at(auipc)
                    .ok_or(LoadError::MissingHi20(self.site(r, auipc as i64)))?;
                patch_lo12(at, r.r_type == R_RISCV_PCREL_LO12_S, lo12(v));
            }
            R_RISCV_HI20 => {
                let v = self.target(r)?;
                check(fits_hi20(v), v)?;
                patch32(at, 0xfff, hi20(v) << 12);
            }
            R_RISCV_LO12_I | R_RISCV_LO12_S => {
                let v = self.target(r)?;
                patch_lo12(at, r.r_type == R_RISCV_LO12_S, lo12(v));
            }
            _ => return Err(LoadError::Unsupported(self.site(r, 0))),
        }
        Ok(())
    }
}

// Instruction and data patching. Module code is 2-byte aligned (RVC), so 32-bit
// instructions may straddle a 4-byte boundary: all accesses are unaligned-safe.

fn read32(at: usize) -> u32 {
    // SAFETY: `at` is inside the module's RW area (a relocation site).
    unsafe { (at as *const u32).read_unaligned() }
}

fn write32(at: usize, v: u32) {
    // SAFETY: as above.
    unsafe { (at as *mut u32).write_unaligned(v) }
}

fn write64(at: usize, v: u64) {
    // SAFETY: as above.
    unsafe { (at as *mut u64).write_unaligned(v) }
}

fn patch32(at: usize, keep: u32, bits: u32) {
    write32(at, (read32(at) & keep) | bits);
}

fn patch16(at: usize, keep: u16, bits: u16) {
    // SAFETY: as above.
    unsafe {
        let p = at as *mut u16;
        p.write_unaligned((p.read_unaligned() & keep) | bits);
    }
}

fn patch_lo12(at: usize, store: bool, lo: u32) {
    if store {
        patch32(at, 0x01ff_f07f, (lo >> 5) << 25 | (lo & 0x1f) << 7);
    } else {
        patch32(at, 0x000f_ffff, lo << 20);
    }
}

fn b_imm(v: i64) -> u32 {
    let v = v as u32;
    (v >> 12 & 1) << 31 | (v >> 5 & 0x3f) << 25 | (v >> 1 & 0xf) << 8 | (v >> 11 & 1) << 7
}

fn j_imm(v: i64) -> u32 {
    let v = v as u32;
    (v >> 20 & 1) << 31 | (v >> 1 & 0x3ff) << 21 | (v >> 11 & 1) << 20 | (v >> 12 & 0xff) << 12
}

fn cb_imm(v: i64) -> u16 {
    let v = v as u16;
    (v >> 8 & 1) << 12
        | (v >> 3 & 3) << 10
        | (v >> 6 & 3) << 5
        | (v >> 1 & 3) << 3
        | (v >> 5 & 1) << 2
}

fn cj_imm(v: i64) -> u16 {
    let v = v as u16;
    (v >> 11 & 1) << 12
        | (v >> 4 & 1) << 11
        | (v >> 8 & 3) << 9
        | (v >> 10 & 1) << 8
        | (v >> 6 & 1) << 7
        | (v >> 7 & 1) << 6
        | (v >> 1 & 7) << 3
        | (v >> 5 & 1) << 2
}

/// The ADD/SUB/SET families: arithmetic on the bytes already in place, at their width.
fn apply_data(at: usize, rtype: u32, v: u64) {
    // SAFETY: `at` is a relocation site inside the module's RW area.
    unsafe {
        match rtype {
            R_RISCV_ADD8 => *(at as *mut u8) = (*(at as *const u8)).wrapping_add(v as u8),
            R_RISCV_SUB8 => *(at as *mut u8) = (*(at as *const u8)).wrapping_sub(v as u8),
            R_RISCV_SET8 => *(at as *mut u8) = v as u8,
            R_RISCV_SUB6 => {
                let old = *(at as *const u8);
                *(at as *mut u8) = (old & 0xc0) | (old.wrapping_sub(v as u8) & 0x3f);
            }
            R_RISCV_SET6 => {
                let old = *(at as *const u8);
                *(at as *mut u8) = (old & 0xc0) | (v as u8 & 0x3f);
            }
            R_RISCV_ADD16 | R_RISCV_SUB16 | R_RISCV_SET16 => {
                let p = at as *mut u16;
                let old = p.read_unaligned();
                p.write_unaligned(match rtype {
                    R_RISCV_ADD16 => old.wrapping_add(v as u16),
                    R_RISCV_SUB16 => old.wrapping_sub(v as u16),
                    _ => v as u16,
                });
            }
            R_RISCV_ADD32 | R_RISCV_SUB32 | R_RISCV_SET32 => {
                let old = read32(at);
                write32(
                    at,
                    match rtype {
                        R_RISCV_ADD32 => old.wrapping_add(v as u32),
                        R_RISCV_SUB32 => old.wrapping_sub(v as u32),
                        _ => v as u32,
                    },
                );
            }
            _ => {
                let p = at as *mut u64;
                let old = p.read_unaligned();
                p.write_unaligned(if rtype == R_RISCV_ADD64 {
                    old.wrapping_add(v)
                } else {
                    old.wrapping_sub(v)
                });
            }
        }
    }
}

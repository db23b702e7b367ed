//! Symbolizer: names guest addresses after the ELF symbols of the firmware, the guest
//! kernel and any `--symbols` file.
//!
//! A relocatable kernel runs at three kinds of address: its link address (what the ELF's
//! symbol table says), its physical load address before the MMU is on, and its runtime
//! virtual address after relocation (which KASLR and the paging mode change). We learn
//! the physical placement from the ELF program headers (p_paddr vs p_vaddr) and the
//! runtime virtual base from the guest itself: the first retired instruction whose
//! virtual pc differs from its physical pc inside the image tells us
//! `runtime_base = pc - (pa - phys_base)`. See docs/trace-format.md.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

#[derive(Debug, Clone)]
struct Sym {
    addr: u64,
    size: u64,
    name: String,
}

/// One ELF image's symbols and placement.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    syms: Vec<Sym>,
    /// Link-time virtual address of the lowest loadable segment.
    pub link_base: u64,
    /// Physical address of the lowest loadable segment.
    pub phys_base: u64,
    /// Bytes spanned by the loadable segments.
    pub size: u64,
    /// Virtual base at run time, once learned from the guest.
    pub runtime_base: Option<u64>,
    /// Learn the runtime base only from pcs in the upper (kernel) half: a Linux kernel's
    /// vDSO is a page of its image that user processes execute at a user address.
    kernel_half: bool,
}

impl Image {
    /// Parse an ELF's symbols. Errors are reported as a sentence for the user.
    pub fn from_elf(name: &str, data: &[u8]) -> Result<Image, String> {
        let file =
            object::File::parse(data).map_err(|e| format!("{name}: not an ELF file ({e})"))?;
        let mut lo_v = u64::MAX;
        let mut lo_p = u64::MAX;
        let mut hi_v = 0u64;
        if let object::File::Elf64(elf) = &file {
            use object::read::elf::ProgramHeader;
            let endian = elf.endian();
            for ph in elf.elf_program_headers() {
                if ph.p_type(endian) == object::elf::PT_LOAD && ph.p_memsz(endian) > 0 {
                    let v = ph.p_vaddr(endian);
                    if v < lo_v {
                        lo_v = v;
                        lo_p = ph.p_paddr(endian);
                    }
                    hi_v = hi_v.max(v + ph.p_memsz(endian));
                }
            }
        } else {
            for seg in file.segments() {
                lo_v = lo_v.min(seg.address());
                hi_v = hi_v.max(seg.address() + seg.size());
            }
            lo_p = lo_v;
        }
        if lo_v == u64::MAX {
            return Err(format!("{name}: no loadable segments"));
        }
        let mut syms: Vec<Sym> = file
            .symbols()
            .filter(|s| {
                matches!(
                    s.kind(),
                    SymbolKind::Text | SymbolKind::Data | SymbolKind::Label | SymbolKind::Unknown
                )
            })
            .filter_map(|s| {
                let n = s.name().ok()?;
                if n.is_empty() || n.starts_with(".L") || n.starts_with("$") {
                    return None;
                }
                Some(Sym {
                    addr: s.address(),
                    size: s.size(),
                    name: demangle(n),
                })
            })
            .collect();
        syms.sort_by_key(|s| (s.addr, std::cmp::Reverse(s.size)));
        Ok(Image {
            name: name.into(),
            syms,
            link_base: lo_v,
            phys_base: lo_p,
            size: hi_v - lo_v,
            runtime_base: None,
            kernel_half: false,
        })
    }

    /// A Linux kernel's symbols recovered from its Image's kallsyms tables
    /// (see [`super::kallsyms`]): the Image's first byte is linked at
    /// `table.image_base()` and was loaded at `phys_base`, spanning `size` bytes (BSS
    /// included).
    pub fn from_kallsyms(
        name: &str,
        table: super::kallsyms::Kallsyms,
        phys_base: u64,
        size: u64,
    ) -> Image {
        let link_base = table.image_base();
        let mut syms: Vec<Sym> = table
            .symbols
            .into_iter()
            .map(|s| Sym {
                addr: s.addr,
                size: 0,
                name: s.name,
            })
            .collect();
        syms.sort_by_key(|s| s.addr);
        Image {
            name: name.into(),
            syms,
            link_base,
            phys_base,
            size,
            runtime_base: None,
            kernel_half: true,
        }
    }

    /// A loaded kernel module's symbols: `data` is the module's relocatable ELF (`.ko`)
    /// and `placements` the runtime address of each of its sections the guest reported
    /// (Linux lists them in /sys/module/NAME/sections/). A module's sections are placed
    /// independently, so each placed section is one image; a symbol's value in a `.ko` is
    /// an offset into its section. Module memory is vmalloc'ed (virtually contiguous,
    /// physically not), so only the virtual view is named.
    pub fn from_module(
        name: &str,
        data: &[u8],
        placements: &[(String, u64)],
    ) -> Result<Vec<Image>, String> {
        use object::{ObjectSection, SectionIndex};
        let file =
            object::File::parse(data).map_err(|e| format!("{name}: not an ELF file ({e})"))?;
        if file.kind() != object::ObjectKind::Relocatable {
            return Err(format!(
                "{name}: not a kernel module (a relocatable ELF .ko or .ko.xz)"
            ));
        }
        let mut images = Vec::new();
        for (section, addr) in placements {
            let sec = file
                .section_by_name(section)
                .ok_or_else(|| format!("{name}: no section {section}"))?;
            let index: SectionIndex = sec.index();
            let mut syms: Vec<Sym> = file
                .symbols()
                .filter(|s| s.section_index() == Some(index))
                .filter(|s| {
                    matches!(
                        s.kind(),
                        SymbolKind::Text
                            | SymbolKind::Data
                            | SymbolKind::Label
                            | SymbolKind::Unknown
                    )
                })
                .filter_map(|s| {
                    let n = s.name().ok()?;
                    if n.is_empty() || n.starts_with(".L") || n.starts_with('$') {
                        return None;
                    }
                    Some(Sym {
                        addr: addr.checked_add(s.address())?,
                        size: s.size(),
                        name: n.to_string(),
                    })
                })
                .collect();
            // module_init() and module_exit() make `init_module` and `cleanup_module`
            // aliases of the module's own functions; name the address by the function.
            let aliased: Vec<u64> = syms
                .iter()
                .filter(|s| !matches!(s.name.as_str(), "init_module" | "cleanup_module"))
                .map(|s| s.addr)
                .collect();
            syms.retain(|s| {
                !matches!(s.name.as_str(), "init_module" | "cleanup_module")
                    || !aliased.contains(&s.addr)
            });
            syms.sort_by_key(|s| (s.addr, std::cmp::Reverse(s.size)));
            images.push(Image {
                name: format!("{name} {section}"),
                syms,
                link_base: *addr,
                phys_base: *addr,
                size: sec.size(),
                runtime_base: None,
                kernel_half: false,
            });
        }
        Ok(images)
    }

    fn lookup_link(&self, addr: u64) -> Option<(&str, u64)> {
        if addr < self.link_base || addr >= self.link_base + self.size {
            return None;
        }
        let i = self.syms.partition_point(|s| s.addr <= addr);
        // Prefer the closest preceding symbol that contains the address (sized), else the
        // closest preceding label.
        let cand = &self.syms[..i];
        let best = cand
            .iter()
            .rev()
            .take(8)
            .find(|s| s.size > 0 && addr < s.addr + s.size)
            .or(cand.last())?;
        Some((&best.name, addr - best.addr))
    }

    /// Convert an address in any of the image's three views to its link address.
    fn to_link(&self, addr: u64) -> Option<u64> {
        let in_range = |base: u64| addr >= base && addr < base + self.size;
        if let Some(rb) = self.runtime_base {
            if in_range(rb) {
                return Some(addr - rb + self.link_base);
            }
        }
        if in_range(self.link_base) {
            return Some(addr);
        }
        if in_range(self.phys_base) {
            return Some(addr - self.phys_base + self.link_base);
        }
        None
    }

    /// Link addresses of a symbol.
    fn find(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }
}

fn demangle(n: &str) -> String {
    // Our guest crates use #[no_mangle] for everything a user names; Rust-mangled names
    // are shortened to their last path component so traces stay readable.
    if let Some(rest) = n.strip_prefix("_ZN") {
        let mut parts = Vec::new();
        let mut s = rest;
        while let Some(c) = s.chars().next() {
            if !c.is_ascii_digit() {
                break;
            }
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            let len: usize = digits.parse().unwrap_or(0);
            s = &s[digits.len()..];
            if len > s.len() {
                break;
            }
            parts.push(&s[..len]);
            s = &s[len..];
        }
        if parts
            .last()
            .is_some_and(|p| p.starts_with('h') && p.len() == 17)
        {
            parts.pop();
        }
        if !parts.is_empty() {
            let keep = parts.len().saturating_sub(2);
            return parts[keep..].join("::");
        }
    }
    n.to_string()
}

/// All images the trace knows about.
#[derive(Debug, Clone, Default)]
pub struct Symbolizer {
    pub images: Vec<Image>,
}

impl Symbolizer {
    pub fn add(&mut self, image: Image) {
        self.images.push(image);
    }

    /// `symbol+0xoff` for an address in any view of any image.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        self.images
            .iter()
            .find_map(|im| im.to_link(addr).and_then(|l| im.lookup_link(l)))
    }

    /// Learn runtime virtual bases from a retired instruction's virtual and physical pc.
    /// Returns true when a base changed (names of virtual addresses may differ now).
    #[inline]
    pub fn observe_pc(&mut self, pc: u64, pa: u64) -> bool {
        if pc == pa {
            return false;
        }
        let mut changed = false;
        for im in &mut self.images {
            if im.kernel_half && (pc as i64) >= 0 {
                continue;
            }
            if pa >= im.phys_base && pa < im.phys_base + im.size && im.phys_base != im.link_base {
                let base = pc.wrapping_sub(pa - im.phys_base);
                if im.runtime_base != Some(base) {
                    im.runtime_base = Some(base);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Physical and link addresses where `name` can be found (for trace windows).
    pub fn resolve(&self, name: &str) -> Vec<u64> {
        let mut out = Vec::new();
        for im in &self.images {
            if let Some(link) = im.find(name) {
                out.push(link);
                out.push(link - im.link_base + im.phys_base);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Format `addr` as `name+0x10` or an empty string.
    pub fn describe(&self, addr: u64) -> String {
        match self.lookup(addr) {
            Some((n, 0)) => n.to_string(),
            Some((n, off)) => format!("{n}+{off:#x}"),
            None => String::new(),
        }
    }
}

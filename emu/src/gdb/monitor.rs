//! `monitor` commands: parsing, and the text they print. Kept free of the machine so the
//! formats can be tested on their own; `super` gathers the data and calls these.

use crate::mmu::pte::{page_shift, page_size_name};
use crate::mmu::{satp_asid, satp_mode, satp_root, SatpMode, TlbEntry, WalkFault, WalkSteps};
use crate::trace::format::pte_flags;

pub const HELP: &str = "\
emu monitor commands (they act on the hart gdb last looked at, or the one `hart N` picks):
  satp                     paging mode, ASID and root page table of the hart
  ptwalk VA                walk VA through the current page table, level by level
  tlb                      the valid entries of the TLB model (l1i, l1d, l2)
  stats                    translation statistics of the hart
  phys read ADDR [LEN]     hex dump of physical RAM or boot ROM (LEN: default 64, max 4096)
  hart [N]                 show or select the hart these commands act on
  help                     this text
";

/// Largest `phys read` (the reply goes through one gdb console packet stream).
pub const MAX_PHYS_READ: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Satp,
    PtWalk(u64),
    Tlb,
    Stats,
    PhysRead { addr: u64, len: u64 },
    Hart(Option<usize>),
}

/// Parse one monitor command line. Errors are a sentence for the gdb console.
pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let arg = |i: usize, what: &str| -> Result<u64, String> {
        let w = words
            .get(i)
            .ok_or_else(|| format!("'{}' needs {what}", words[0]))?;
        parse_number(w)
    };
    let done = |n: usize, cmd: Command| -> Result<Command, String> {
        match words.get(n) {
            Some(extra) => Err(format!(
                "unexpected '{extra}' after '{}'",
                words[..n].join(" ")
            )),
            None => Ok(cmd),
        }
    };
    match words.first().copied() {
        None | Some("help") => Ok(Command::Help),
        Some("satp") => done(1, Command::Satp),
        Some("ptwalk") => done(2, Command::PtWalk(arg(1, "a virtual address")?)),
        Some("tlb") => done(1, Command::Tlb),
        Some("stats") => done(1, Command::Stats),
        Some("phys") => match words.get(1).copied() {
            Some("read") => {
                let addr = arg(2, "an address")?;
                let len = if words.len() > 3 {
                    arg(3, "a length")?
                } else {
                    64
                };
                if len == 0 || len > MAX_PHYS_READ {
                    return Err(format!("length must be 1..={MAX_PHYS_READ}"));
                }
                done(4, Command::PhysRead { addr, len })
            }
            _ => Err("usage: phys read ADDR [LEN]".into()),
        },
        Some("hart") => match words.get(1) {
            None => Ok(Command::Hart(None)),
            Some(_) => done(2, Command::Hart(Some(arg(1, "a hart number")? as usize))),
        },
        Some(other) => Err(format!(
            "unknown monitor command '{other}' (try 'monitor help')"
        )),
    }
}

/// Hex with `0x`, or decimal.
fn parse_number(s: &str) -> Result<u64, String> {
    let t = s.replace('_', "");
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("'{s}' is not a number (decimal or 0x-hex)"))
}

/// `name+0x10` suffix in parentheses, or nothing.
fn sym_suffix(sym: &str) -> String {
    if sym.is_empty() {
        String::new()
    } else {
        format!(" ({sym})")
    }
}

/// One line describing a satp value; `root_sym` names the root page table if known.
pub fn format_satp(hart: usize, satp: u64, root_sym: &str) -> String {
    match satp_mode(satp) {
        SatpMode::Bare => format!("hart {hart}: satp={satp:#018x} mode=bare (no translation)\n"),
        mode => format!(
            "hart {hart}: satp={satp:#018x} mode={} asid={} root={:#x}{}\n",
            mode.name(),
            satp_asid(satp),
            satp_root(satp),
            sym_suffix(root_sym)
        ),
    }
}

/// Why a walk ended without a leaf, in words.
fn fault_text(f: WalkFault) -> String {
    match f {
        WalkFault::NotCanonical => "address is not canonical for this mode".into(),
        WalkFault::InvalidPte { level } => format!("invalid PTE at L{level}"),
        WalkFault::NonLeafReservedBits { level } => {
            format!("non-leaf PTE at L{level} has A/D/U set")
        }
        WalkFault::NoLeaf => "no leaf at L0".into(),
        WalkFault::MisalignedSuperpage { level } => format!("misaligned superpage at L{level}"),
        WalkFault::Permission => "permission denied".into(),
        WalkFault::AccessedDirty => "A/D bit clear".into(),
        WalkFault::PteAccess { pte_addr } => {
            format!("PTE read at {pte_addr:#x} failed (access fault)")
        }
    }
}

/// A page walk, in the layout of the text trace's `walk` events.
pub fn format_walk(
    va: u64,
    satp: u64,
    root_sym: &str,
    result: Result<u64, WalkFault>,
    steps: &WalkSteps,
) -> String {
    let mode = satp_mode(satp);
    if mode == SatpMode::Bare {
        return format!("walk  {va:016x} bare: no translation, pa={va:#x}\n");
    }
    let mut s = format!(
        "walk  {va:016x} {} asid={} root={:#x}{}\n",
        mode.name(),
        satp_asid(satp),
        satp_root(satp),
        sym_suffix(root_sym)
    );
    let steps = &steps.steps[..steps.len as usize];
    for st in steps {
        s += &format!(
            "  L{} pte@{:#x} = {:#018x} {}\n",
            st.level,
            st.pte_addr,
            st.pte.0,
            pte_flags(st.pte.0)
        );
    }
    match (result, steps.last()) {
        (Ok(pa), Some(leaf)) => {
            s += &format!(
                "  -> leaf L{} {} pa={pa:#x}\n",
                leaf.level,
                page_size_name(leaf.level)
            )
        }
        (Ok(pa), None) => s += &format!("  -> pa={pa:#x}\n"),
        (Err(f), _) => s += &format!("  -> fault: {}\n", fault_text(f)),
    }
    s
}

/// The entries of one TLB array.
pub fn format_tlb(name: &str, entries: &[TlbEntry]) -> String {
    let mut s = format!("{name}: {} valid entries\n", entries.len());
    for e in entries {
        let shift = page_shift(e.level);
        let va = e.tag << shift;
        let pa = e.pte.ppn() << 12 & !((1u64 << shift) - 1);
        s += &format!(
            "  va={va:#018x} -> pa={pa:#x} {:<4} asid={}{} {} pte@{:#x}\n",
            page_size_name(e.level),
            e.asid,
            if e.global { " global" } else { "" },
            pte_flags(e.pte.0),
            e.pte_addr
        );
    }
    s
}

/// A classic 16-bytes-per-line hex dump.
pub fn format_hex(addr: u64, bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        s += &format!("{:#018x}:", addr + 16 * i as u64);
        for b in line {
            s += &format!(" {b:02x}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::{Pte, WalkStep};

    #[test]
    fn parses_commands() {
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(parse("satp"), Ok(Command::Satp));
        assert_eq!(
            parse("ptwalk 0xffffffff80000000"),
            Ok(Command::PtWalk(0xffff_ffff_8000_0000))
        );
        assert_eq!(parse("  tlb "), Ok(Command::Tlb));
        assert_eq!(parse("stats"), Ok(Command::Stats));
        assert_eq!(
            parse("phys read 0x80000000 16"),
            Ok(Command::PhysRead {
                addr: 0x8000_0000,
                len: 16
            })
        );
        assert_eq!(
            parse("phys read 4096"),
            Ok(Command::PhysRead {
                addr: 4096,
                len: 64
            })
        );
        assert_eq!(parse("hart"), Ok(Command::Hart(None)));
        assert_eq!(parse("hart 1"), Ok(Command::Hart(Some(1))));
    }

    #[test]
    fn rejects_bad_commands_with_a_sentence() {
        assert!(parse("ptwalk")
            .unwrap_err()
            .contains("needs a virtual address"));
        assert!(parse("ptwalk zz").unwrap_err().contains("not a number"));
        assert!(parse("satp 1").unwrap_err().contains("unexpected '1'"));
        assert!(parse("phys write 0 0").unwrap_err().contains("usage"));
        assert!(parse("phys read 0 0").unwrap_err().contains("length"));
        assert!(parse("phys read 0 99999").unwrap_err().contains("length"));
        assert!(parse("frobnicate")
            .unwrap_err()
            .contains("unknown monitor command"));
    }

    #[test]
    fn satp_line_names_mode_asid_and_root() {
        let satp = (10u64 << 60) | (3 << 44) | 0x80a4f;
        assert_eq!(
            format_satp(0, satp, "early_pg_dir"),
            "hart 0: satp=0xa000300000080a4f mode=sv57 asid=3 root=0x80a4f000 (early_pg_dir)\n"
        );
        assert!(format_satp(1, 0, "").contains("mode=bare"));
    }

    fn steps(list: &[(u8, u64, u64)]) -> WalkSteps {
        let mut s = WalkSteps::default();
        for (i, &(level, pte_addr, pte)) in list.iter().enumerate() {
            s.steps[i] = WalkStep {
                level,
                pte_addr,
                pte: Pte(pte),
            };
        }
        s.len = list.len() as u8;
        s
    }

    #[test]
    fn walk_lists_every_level_and_the_leaf() {
        let satp = (8u64 << 60) | 0x80001;
        let st = steps(&[(2, 0x8000_1ff0, 0x2000_0801), (1, 0x8000_2000, 0x2008_00cf)]);
        let text = format_walk(0xffff_ffff_8000_1234, satp, "", Ok(0x8020_1234), &st);
        assert_eq!(
            text,
            "walk  ffffffff80001234 sv39 asid=0 root=0x80001000\n\
             \x20 L2 pte@0x80001ff0 = 0x0000000020000801 -------V\n\
             \x20 L1 pte@0x80002000 = 0x00000000200800cf DA--XWRV\n\
             \x20 -> leaf L1 2M pa=0x80201234\n"
        );
        let fault = format_walk(
            0x1000,
            satp,
            "pg",
            Err(WalkFault::InvalidPte { level: 2 }),
            &steps(&[(2, 0x8000_1000, 0)]),
        );
        assert!(fault.contains("root=0x80001000 (pg)"));
        assert!(fault.ends_with("-> fault: invalid PTE at L2\n"));
        assert!(format_walk(0x42, 0, "", Ok(0x42), &WalkSteps::default()).contains("bare"));
    }

    #[test]
    fn tlb_entries_show_page_and_frame() {
        let e = TlbEntry {
            tag: 0xffff_ffff_8000_0000u64 >> 21,
            level: 1,
            asid: 0,
            global: true,
            pte: Pte(0x2008_00ef),
            pte_addr: 0x8000_2000,
        };
        let text = format_tlb("l2", &[e]);
        assert!(text.starts_with("l2: 1 valid entries\n"));
        assert!(
            text.contains("va=0xffffffff80000000 -> pa=0x80200000 2M   asid=0 global DAG-XWRV"),
            "{text}"
        );
    }

    #[test]
    fn hex_dump_lines() {
        let d = format_hex(0x8000_0000, &(0u8..18).collect::<Vec<_>>());
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0x0000000080000000: 00 01 02"));
        assert_eq!(lines[1], "0x0000000080000010: 10 11");
    }
}

//! `--stats` and `--stats-json`: one report assembled from the harts, the MMUs and the
//! machine after a run.

use std::fmt::Write;
use std::time::Duration;

use super::Machine;
use crate::mmu::pte::{page_size_name, PAGE_SIZES};
use crate::mmu::stats::{TlbLevelStats, ACCESS_NAMES, MODE_NAMES};
use crate::mmu::MmuStats;

const PRIV_NAMES: [(usize, &str); 3] = [(3, "M"), (1, "S"), (0, "U")];

/// Everything `--stats` prints.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub instructions: u64,
    pub per_hart: Vec<u64>,
    /// Instructions by privilege, indexed 0 U, 1 S, 3 M.
    pub by_privilege: [u64; 4],
    pub seconds: f64,
    pub mips: f64,
    /// The host process's peak resident set, in bytes (absent off Linux).
    pub host_peak_bytes: Option<u64>,
    /// Bytes of guest RAM the host backs with pages (touched), and the RAM's size.
    pub ram_touched: Option<(u64, u64)>,
    /// MMU counters summed over harts.
    pub mmu: MmuStats,
    /// What `--check-tlb` found, one line each (capped by the MMU).
    pub stale: Vec<String>,
    /// TLB geometry in use.
    pub tlb_config: String,
    /// Per phase (page-table root in force), in the order first entered.
    pub phases: Vec<PhaseReport>,
    /// Traps by cause, summed over harts.
    pub traps: crate::cpu::TrapCounts,
}

/// One phase: the instructions and translation work done while one root was in satp.
#[derive(Debug, Clone, Default)]
pub struct PhaseReport {
    /// Symbol of the root (`trampoline_pg_dir`, `swapper_pg_dir`), `bare`, or the address.
    pub name: String,
    /// satp MODE and PPN (0 for bare).
    pub satp: u64,
    pub instructions: u64,
    pub mmu: MmuStats,
}

impl Report {
    /// `symbols` names the page-table roots of the phases; `host_memory`: measure what
    /// the host's memory holds (else those figures are absent).
    pub fn collect(
        m: &Machine,
        elapsed: Duration,
        symbols: &crate::trace::symbols::Symbolizer,
        host_memory: bool,
    ) -> Report {
        let seconds = elapsed.as_secs_f64();
        let mut r = Report {
            instructions: m.total_insns,
            per_hart: m.harts.iter().map(|h| h.instret).collect(),
            seconds,
            mips: if seconds > 0.0 {
                m.harts.iter().map(|h| h.instret).sum::<u64>() as f64 / seconds / 1e6
            } else {
                0.0
            },
            host_peak_bytes: host_memory
                .then(super::host_memory::peak_resident_bytes)
                .flatten(),
            ram_touched: host_memory
                .then(|| super::host_memory::touched_bytes(m.bus.ram.as_slice()))
                .flatten()
                .map(|t| (t, m.bus.ram.size())),
            ..Report::default()
        };
        for h in &m.harts {
            for (i, n) in h.insns_by_priv.iter().enumerate() {
                r.by_privilege[i] += n;
            }
            r.mmu.merge(&h.mmu.stats);
            for (c, n) in r.traps.exceptions.iter_mut().zip(&h.traps.exceptions) {
                *c += n;
            }
            for (c, n) in r.traps.interrupts.iter_mut().zip(&h.traps.interrupts) {
                *c += n;
            }
            let phases = h.phases.totals(h.satp(), h.instret, &h.mmu.stats);
            for key in &phases.order {
                let Some((insns, mmu)) = phases.closed.get(key) else {
                    continue;
                };
                match r.phases.iter_mut().find(|p| p.satp == *key) {
                    Some(p) => {
                        p.instructions += insns;
                        p.mmu.merge(mmu);
                    }
                    None => r.phases.push(PhaseReport {
                        name: phase_name(*key, symbols),
                        satp: *key,
                        instructions: *insns,
                        mmu: mmu.clone(),
                    }),
                }
            }
            r.stale
                .extend(h.mmu.stale_translations().iter().map(|s| s.describe()));
        }
        r.tlb_config = m.config.mmu.tlb.to_string();
        r
    }

    /// The human table.
    /// The human table; `translation` adds the TLB, walk and phase sections (only
    /// meaningful when the TLB model observed the run).
    pub fn human(&self, translation: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "---- emu statistics ----");
        let _ = writeln!(s, "instructions        {:>16}", self.instructions);
        if self.per_hart.len() > 1 {
            for (i, n) in self.per_hart.iter().enumerate() {
                let _ = writeln!(s, "  hart {i:<13} {n:>16}");
            }
        }
        for (i, name) in PRIV_NAMES {
            let _ = writeln!(s, "  {name}-mode            {:>16}", self.by_privilege[i]);
        }
        let _ = writeln!(s, "wall time           {:>15.3}s", self.seconds);
        let _ = writeln!(s, "speed               {:>12.1} MIPS", self.mips);
        if let (Some(peak), Some((touched, size))) = (self.host_peak_bytes, self.ram_touched) {
            let _ = writeln!(
                s,
                "host memory         {:>12} MiB peak resident; guest RAM touched {} of {} MiB",
                peak >> 20,
                touched >> 20,
                size >> 20
            );
        }
        if translation {
            let _ = writeln!(s, "---- translation (TLB model {}) ----", self.tlb_config);
            let _ = writeln!(s, "{}", self.mmu);
        }
        let mut traps = Vec::new();
        for (i, n) in self
            .traps
            .exceptions
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            traps.push(format!(
                "{} {n}",
                crate::cpu::trap::Exception::cause_name(i as u64)
            ));
        }
        for (i, n) in self
            .traps
            .interrupts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
            traps.push(format!("{} {n}", crate::cpu::trap::irq::name(i as u64)));
        }
        let _ = writeln!(
            s,
            "traps: {}",
            if traps.is_empty() {
                "none".to_string()
            } else {
                traps.join(", ")
            }
        );
        if translation && !self.phases.is_empty() {
            let _ = writeln!(s, "---- by phase (page-table root in force) ----");
            let _ = writeln!(
                s,
                "{:<26} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6}",
                "phase", "instructions", "L1 miss", "L2 miss", "walks", "PTE rd", "sfence", "satp"
            );
            for p in &self.phases {
                let m = &p.mmu;
                let _ = writeln!(
                    s,
                    "{:<26} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7} {:>6}",
                    p.name,
                    p.instructions,
                    m.l1i.misses + m.l1d.misses,
                    m.l2.misses,
                    m.walks(),
                    m.pte_reads,
                    m.sfence_all + m.sfence_addr + m.sfence_asid + m.sfence_addr_asid,
                    m.satp_writes
                );
            }
        }
        for line in &self.stale {
            let _ = writeln!(s, "warning: {line}");
        }
        s
    }

    /// The JSON document of `--stats-json` (schema in docs/cli.md).
    pub fn json(&self) -> String {
        let mut s = String::from("{\n");
        let _ = writeln!(s, "  \"instructions\": {},", self.instructions);
        let _ = writeln!(
            s,
            "  \"per_hart\": [{}],",
            self.per_hart
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            s,
            "  \"by_privilege\": {{\"M\": {}, \"S\": {}, \"U\": {}}},",
            self.by_privilege[3], self.by_privilege[1], self.by_privilege[0]
        );
        let _ = writeln!(s, "  \"seconds\": {:.6},", self.seconds);
        let _ = writeln!(s, "  \"mips\": {:.3},", self.mips);
        let _ = writeln!(s, "  \"tlb_config\": \"{}\",", self.tlb_config);
        let _ = writeln!(s, "  \"mmu\": {},", mmu_json(&self.mmu));
        let _ = writeln!(s, "  \"traps\": {},", self.traps_json());
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|p| {
                format!(
                    "{{\"name\": {}, \"satp\": {}, \"instructions\": {}, \"mmu\": {}}}",
                    crate::trace::format::json_str(&p.name),
                    p.satp,
                    p.instructions,
                    mmu_json(&p.mmu)
                )
            })
            .collect();
        let _ = writeln!(s, "  \"phases\": [{}],", phases.join(",\n    "));
        let stale: Vec<String> = self
            .stale
            .iter()
            .map(|l| crate::trace::format::json_str(l))
            .collect();
        let _ = writeln!(s, "  \"stale_translations\": [{}]", stale.join(", "));
        s.push_str("}\n");
        s
    }
}

impl Report {
    /// Non-zero trap counts by cause name: `{"exceptions": {...}, "interrupts": {...}}`.
    fn traps_json(&self) -> String {
        let exceptions: Vec<String> = self
            .traps
            .exceptions
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| {
                let name = crate::cpu::trap::Exception::cause_name(i as u64);
                format!("\"{name}\": {n}")
            })
            .collect();
        let interrupts: Vec<String> = self
            .traps
            .interrupts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("\"{}\": {n}", crate::cpu::trap::irq::name(i as u64)))
            .collect();
        format!(
            "{{\"exceptions\": {{{}}}, \"interrupts\": {{{}}}}}",
            exceptions.join(", "),
            interrupts.join(", ")
        )
    }
}

fn list(v: &[u64]) -> String {
    v.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn named(names: &[&str], v: &[u64]) -> String {
    let fields: Vec<String> = names
        .iter()
        .zip(v)
        .map(|(n, x)| format!("\"{n}\": {x}"))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

fn tlb_json(l: &TlbLevelStats) -> String {
    let sizes: Vec<&str> = (0..PAGE_SIZES as u8).map(page_size_name).collect();
    format!(
        "{{\"accesses\": {}, \"hits\": {}, \"misses\": {}, \"evictions\": {}, \"flushed\": {}, \"hits_by_size\": {}, \"fills_by_size\": {}}}",
        l.accesses,
        l.hits,
        l.misses,
        l.evictions,
        l.flushed,
        named(&sizes, &l.hits_by_size),
        named(&sizes, &l.fills_by_size)
    )
}

/// `"pwc": {...}, ` when a page-walk cache is configured, else nothing.
fn pwc_json(m: &MmuStats) -> String {
    if !m.pwc_enabled {
        return String::new();
    }
    let levels = ["1", "2", "3", "4"];
    let p = &m.pwc;
    format!(
        "\"pwc\": {{\"hits\": {}, \"misses\": {}, \"fills\": {}, \"evictions\": {}, \"flushed\": {}}}, ",
        named(&levels, &p.hits[1..]),
        named(&levels, &p.misses[1..]),
        named(&levels, &p.fills[1..]),
        p.evictions,
        p.flushed
    )
}

/// `, "stale_equivalent_...": n` in runs `--check-tlb` checked, else nothing.
fn equivalent_json(m: &MmuStats) -> String {
    if m.check_walks == 0 {
        return String::new();
    }
    format!(
        ", \"stale_equivalent_translations\": {}, \"stale_equivalent_hits\": {}",
        m.stale_equivalent_translations, m.stale_equivalent_hits
    )
}

/// MMU counters as a JSON object (field names as in [`MmuStats`]). The `pwc` object is
/// there only with a page-walk cache, the `stale_equivalent_*` counters only in checked
/// runs.
pub fn mmu_json(m: &MmuStats) -> String {
    format!(
        "{{\"paged_translations\": {}, \"bare_translations\": {}, \"l1i\": {}, \"l1d\": {}, \"l2\": {}, \
\"walks\": {}, \"walks_by_mode\": {}, \"walks_by_depth\": [{}], \"pte_reads\": {}, {}\"ad_updates\": {}, \
\"page_faults\": {}, \"pmp_faults\": {}, \"pte_access_faults\": {}, \
\"sfence\": {{\"all\": {}, \"address\": {}, \"asid\": {}, \"address_asid\": {}}}, \"satp_writes\": {}, \
\"stale_translations\": {}, \"stale_hits\": {}, \"check_walks\": {}, \"check_pte_reads\": {}{}}}",
        m.paged_translations,
        m.bare_translations,
        tlb_json(&m.l1i),
        tlb_json(&m.l1d),
        tlb_json(&m.l2),
        m.walks(),
        named(&MODE_NAMES, &m.walks_by_mode),
        list(&m.walks_by_depth),
        m.pte_reads,
        pwc_json(m),
        m.ad_updates,
        named(&ACCESS_NAMES, &m.page_faults),
        named(&ACCESS_NAMES, &m.pmp_faults),
        named(&ACCESS_NAMES, &m.pte_access_faults),
        m.sfence_all,
        m.sfence_addr,
        m.sfence_asid,
        m.sfence_addr_asid,
        m.satp_writes,
        m.stale_translations,
        m.stale_hits,
        m.check_walks,
        m.check_pte_reads,
        equivalent_json(m)
    )
}

/// `bare`, `sv48 swapper_pg_dir`, or `sv39 root 0x80712000` for a table without a symbol.
fn phase_name(satp: u64, symbols: &crate::trace::symbols::Symbolizer) -> String {
    let mode = match satp >> 60 {
        0 => return "bare".into(),
        8 => "sv39",
        9 => "sv48",
        10 => "sv57",
        _ => "?",
    };
    let root = (satp & ((1 << 44) - 1)) << 12;
    match symbols.lookup(root) {
        Some((name, 0)) => format!("{mode} {name}"),
        _ => format!("{mode} root {root:#x}"),
    }
}

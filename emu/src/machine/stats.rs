//! `--stats` and `--stats-json`: one report assembled from the harts, the MMUs and the
//! machine after a run.

use std::fmt::Write;
use std::time::Duration;

use super::Machine;

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
}

impl Report {
    pub fn collect(m: &Machine, elapsed: Duration) -> Report {
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
            ..Report::default()
        };
        for h in &m.harts {
            for (i, n) in h.insns_by_priv.iter().enumerate() {
                r.by_privilege[i] += n;
            }
        }
        r
    }

    /// The human table.
    pub fn human(&self) -> String {
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
        let _ = writeln!(s, "  \"mips\": {:.3}", self.mips);
        s.push_str("}\n");
        s
    }
}

//! Snapshots: the whole machine at one instruction, saved to a file and restored
//! (`emu run --save-at WHERE --save FILE`, `emu run --restore FILE`); the format is
//! described in docs/snapshot-format.md.

pub mod format;

use crate::machine::savepoint::{QuantumPosition, SavePoint};
use crate::machine::{ClockMode, Machine};
use crate::mmu::TlbRestore;
use format::{tag, File, Reader, Result, SnapError, Writer};

/// What the machine section says besides the state it restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInfo {
    /// The machine's instruction clock at the point.
    pub total_insns: u64,
    /// The TLB model saw every access up to the point (`--stats`, `--trace`): only then
    /// are its contents and counters those of an observed run.
    pub observed: bool,
    /// The save point, as it was asked for.
    pub point: SavePoint,
}

/// The whole snapshot file of `m` (paused at a save point, or between quanta) with the
/// run's configuration section `config` (the CLI's, see `cli/snapshot.rs`).
pub fn capture(m: &Machine, config: Vec<u8>) -> Result<Vec<u8>> {
    if m.config.clock != ClockMode::Deterministic {
        return Err(SnapError::new(
            "snapshots need the deterministic clock (drop --clock host)",
        ));
    }
    if m.config.mmu.check_tlb {
        return Err(SnapError::new(
            "--check-tlb's findings cannot be saved in a snapshot (drop --check-tlb)",
        ));
    }
    let mut file = File::default();
    file.push(tag::CONFIG, config);

    let mut w = Writer::new();
    w.u64(m.total_insns);
    w.bool(m.observed);
    let point = m.reached_save_point.clone().unwrap_or(SavePoint {
        id: 0,
        insn: Some(m.total_insns),
        pcs: Vec::new(),
    });
    w.u64(point.id as u64);
    w.opt_u64(point.insn);
    w.u64(point.pcs.len() as u64);
    w.u64s(&point.pcs);
    match m.resume {
        Some(p) => {
            w.u8(1);
            w.u64(p.now);
            w.u64(p.quantum);
            w.u64(p.hart as u64);
            w.u64(p.left);
            w.u64(p.executed);
            w.bool(p.all_waiting);
        }
        None => w.u8(0),
    }
    w.u64(m.harts.len() as u64);
    file.push(tag::MACHINE, w.buf);

    for h in &m.harts {
        let mut w = Writer::new();
        h.save_state(&mut w);
        file.push(tag::HART, w.buf);
    }
    let mut w = Writer::new();
    m.bus.save_state(&mut w)?;
    file.push(tag::DEVICES, w.buf);
    file.push(tag::RAM, format::encode_ram(m.bus.ram.as_slice()));
    Ok(file.encode())
}

/// Read the machine section without restoring anything.
pub fn machine_info(file: &File) -> Result<MachineInfo> {
    let mut r = Reader::new(file.one(tag::MACHINE)?, "machine section");
    let total_insns = r.u64()?;
    let observed = r.bool()?;
    let id = r.count(u16::MAX as usize)?;
    let insn = r.opt_u64()?;
    let n = r.len(8)?;
    let mut pcs = Vec::with_capacity(n);
    for _ in 0..n {
        pcs.push(r.u64()?);
    }
    Ok(MachineInfo {
        total_insns,
        observed,
        point: SavePoint { id, insn, pcs },
    })
}

/// Put the state of `file` into `m`, a machine freshly built from the snapshot's
/// configuration (images loaded, nothing run); with [`TlbRestore::Cold`] its TLB model
/// may have another geometry and starts empty.
pub fn restore(m: &mut Machine, file: &File, tlb: TlbRestore) -> Result<MachineInfo> {
    let info = machine_info(file)?;
    let mut r = Reader::new(file.one(tag::MACHINE)?, "machine section");
    r.u64()?;
    r.bool()?;
    r.u64()?;
    r.opt_u64()?;
    let n = r.len(8)?;
    r.take(8 * n)?;
    let resume = if r.bool()? {
        let p = QuantumPosition {
            now: r.u64()?,
            quantum: r.u64()?,
            hart: r.count(m.harts.len().saturating_sub(1))?,
            left: r.u64()?,
            executed: r.u64()?,
            all_waiting: r.bool()?,
        };
        Some(p)
    } else {
        None
    };
    let harts = r.u64()?;
    r.finish()?;
    let sections = file.all(tag::HART);
    if harts != m.harts.len() as u64 || sections.len() != m.harts.len() {
        return Err(SnapError(format!(
            "{} harts saved, the machine has {}",
            sections.len(),
            m.harts.len()
        )));
    }
    for (h, payload) in m.harts.iter_mut().zip(sections) {
        let mut r = Reader::new(payload, format!("hart {}", h.hartid));
        h.restore_state(&mut r, tlb)?;
        r.finish()?;
    }
    let mut r = Reader::new(file.one(tag::DEVICES)?, "device section");
    m.bus.restore_state(&mut r)?;
    r.finish()?;
    let size = m.bus.ram.size() as usize;
    format::decode_ram(file.one(tag::RAM)?, m.bus.ram.bytes_mut(0, size))?;
    m.total_insns = info.total_insns;
    m.resume = resume;
    Ok(info)
}

//! A hart's state in a snapshot (`emu run --save`): everything architectural (registers,
//! CSRs, FP state, privilege, reservation, WFI), the counters the statistics report, the
//! debug triggers and the MMU. The decode cache, the page caches and compiled code are
//! left out: a restored hart starts with them empty and rebuilds them as it runs, which
//! changes nothing it computes.

use super::{Counter, Hart, Phases, Step};
use crate::mmu::{TlbRestore, TranslateCtx};
use crate::snapshot::format::{Reader, Result, Writer};

fn write_ctx(w: &mut Writer, c: &TranslateCtx) {
    w.u64(c.satp);
    w.u8(c.privilege);
    w.bool(c.sum);
    w.bool(c.mxr);
}

fn read_ctx(r: &mut Reader) -> Result<TranslateCtx> {
    Ok(TranslateCtx {
        satp: r.u64()?,
        privilege: r.u8()?,
        sum: r.bool()?,
        mxr: r.bool()?,
    })
}

fn write_phases(w: &mut Writer, p: &Phases) {
    w.u64(p.closed.len() as u64);
    for (key, (insns, mmu)) in &p.closed {
        w.u64(*key);
        w.u64(*insns);
        crate::mmu::state::write_stats(w, mmu);
    }
    w.u64(p.order.len() as u64);
    w.u64s(&p.order);
    w.u64(p.start_insns);
    crate::mmu::state::write_stats(w, &p.start_mmu);
}

fn read_phases(r: &mut Reader) -> Result<Phases> {
    let mut p = Phases::default();
    for _ in 0..r.len(16)? {
        let key = r.u64()?;
        let insns = r.u64()?;
        let mmu = crate::mmu::state::read_stats(r)?;
        p.closed.insert(key, (insns, mmu));
    }
    for _ in 0..r.len(8)? {
        p.order.push(r.u64()?);
    }
    p.start_insns = r.u64()?;
    p.start_mmu = crate::mmu::state::read_stats(r)?;
    Ok(p)
}

impl Hart {
    /// Append this hart's state to `w`.
    pub(crate) fn save_state(&self, w: &mut Writer) {
        w.u64(self.hartid);
        w.u64s(&self.x);
        w.u64(self.pc);
        w.u8(self.privilege);
        w.u64(self.instret);
        w.u64s(&self.fp.f);
        w.u8(self.fp.fflags);
        w.u8(self.fp.frm);
        w.u64s(&self.insns_by_priv);
        w.u64(self.priv_mark);
        for v in [
            self.mstatus,
            self.medeleg,
            self.mideleg,
            self.mie,
            self.mip_sw,
            self.lines,
            self.mtvec,
            self.stvec,
            self.mepc,
            self.sepc,
            self.mcause,
            self.scause,
            self.mtval,
            self.stval,
            self.mscratch,
            self.sscratch,
        ] {
            w.u64(v);
        }
        w.u32(self.mcounteren);
        w.u32(self.scounteren);
        for v in [
            self.mcountinhibit,
            self.menvcfg,
            self.senvcfg,
            self.satp,
            self.time,
            self.time_executed,
            self.insns_per_tick,
        ] {
            w.u64(v);
        }
        for c in &self.counters {
            w.u64(c.value);
            w.u64(c.at);
        }
        match self.reservation {
            Some((pa, value)) => {
                w.u8(1);
                w.u64(pa);
                w.u64(value);
            }
            None => w.u8(0),
        }
        w.bool(self.wfi);
        w.u8(match self.special {
            Step::Next => 0,
            Step::Yield => 1,
            Step::Wfi => 2,
            Step::Trapped => 3,
        });
        write_ctx(w, &self.data_ctx);
        write_ctx(w, &self.fetch_ctx);
        w.u64s(&self.traps.exceptions);
        w.u64s(&self.traps.interrupts);
        w.u64(self.traps_taken);
        write_phases(w, &self.phases);
        self.triggers.save_state(w);
        self.mmu.save_state(w);
    }

    /// Take the state [`Hart::save_state`] wrote. The hart must be fresh (as built by
    /// the machine with the snapshot's configuration): its caches are still empty.
    pub(crate) fn restore_state(&mut self, r: &mut Reader, tlb: TlbRestore) -> Result<()> {
        let id = r.u64()?;
        if id != self.hartid {
            return Err(r.error(format!("is hart {id}, expected hart {}", self.hartid)));
        }
        self.x = r.u64s()?;
        self.x[0] = 0;
        self.pc = r.u64()?;
        self.privilege = match r.u8()? {
            p @ (0 | 1 | 3) => p,
            p => return Err(r.error(format!("has privilege level {p}"))),
        };
        self.instret = r.u64()?;
        self.fp.f = r.u64s()?;
        self.fp.fflags = r.u8()? & 0x1f;
        self.fp.frm = r.u8()? & 7;
        self.insns_by_priv = r.u64s()?;
        self.priv_mark = r.u64()?;
        let [mstatus, medeleg, mideleg, mie, mip_sw, lines, mtvec, stvec, mepc, sepc, mcause, scause, mtval, stval, mscratch, sscratch] =
            r.u64s::<16>()?;
        self.mstatus = mstatus;
        self.medeleg = medeleg;
        self.mideleg = mideleg;
        self.mie = mie;
        self.mip_sw = mip_sw;
        self.lines = lines;
        self.mtvec = mtvec;
        self.stvec = stvec;
        self.mepc = mepc;
        self.sepc = sepc;
        self.mcause = mcause;
        self.scause = scause;
        self.mtval = mtval;
        self.stval = stval;
        self.mscratch = mscratch;
        self.sscratch = sscratch;
        self.mcounteren = r.u32()?;
        self.scounteren = r.u32()?;
        let [mcountinhibit, menvcfg, senvcfg, satp, time, time_executed, insns_per_tick] =
            r.u64s::<7>()?;
        self.mcountinhibit = mcountinhibit;
        self.menvcfg = menvcfg;
        self.senvcfg = senvcfg;
        self.satp = satp;
        self.time = time;
        self.time_executed = time_executed;
        self.insns_per_tick = insns_per_tick;
        for c in &mut self.counters {
            *c = Counter {
                value: r.u64()?,
                at: r.u64()?,
            };
        }
        self.reservation = if r.bool()? {
            Some((r.u64()?, r.u64()?))
        } else {
            None
        };
        self.wfi = r.bool()?;
        self.special = match r.u8()? {
            0 => Step::Next,
            1 => Step::Yield,
            2 => Step::Wfi,
            3 => Step::Trapped,
            s => return Err(r.error(format!("has run-loop request {s}"))),
        };
        self.data_ctx = read_ctx(r)?;
        self.fetch_ctx = read_ctx(r)?;
        self.counted_run = None;
        self.traps.exceptions = r.u64s()?;
        self.traps.interrupts = r.u64s()?;
        self.traps_taken = r.u64()?;
        self.phases = read_phases(r)?;
        if self.phases.start_insns > self.instret || self.priv_mark > self.instret {
            return Err(r.error("counts more instructions in a phase than it retired"));
        }
        self.triggers.restore_state(r)?;
        self.mmu.restore_state(r, tlb)?;
        Ok(())
    }
}

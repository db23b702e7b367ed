//! Tracing: what the run loop's traced observers do. `Hart::run` has no tracing code at
//! all; when a trace is active the machine calls [`Hart::run_traced`], whose loop
//! (`run_loop.rs`) executes the same fetch and execute steps and this file reconstructs
//! every event afterwards: memory accesses from the operands, traps from the trap CSRs,
//! privilege changes by comparison, walks and TLB activity from the MMU's event buffer.
//! [`Hart::traced_instruction`] is the step of the observer that looks at every
//! instruction; `Hart::emit_after` serves them all.

use super::csr::{ip, num as csr};
use super::decode::{DataAccess, Op, OpKind};
use super::{fpu, Hart, RunStop, Step, FETCH_TRAPPED, PRIV_M, PRIV_S};
use crate::bus::Bus;
use crate::mmu::{EventKinds, MmuEvent};
use crate::trace::mmu_events::{from_mmu, kind_of};
use crate::trace::{CsrWrite, Event, Header, Kind, MemAccess, Tracer};

/// Per-hart tracing state.
#[derive(Default)]
pub struct HartTrace {
    /// Reused buffer the MMU's events are moved into for conversion (no allocation per
    /// instruction).
    scratch: Vec<MmuEvent>,
}

/// Event kinds that come from the MMU's event log.
const MMU_KINDS: [Kind; 4] = [Kind::Walk, Kind::Tlb, Kind::Satp, Kind::Sfence];

impl Hart {
    /// Make the MMU record the events `tracer` wants now: walks and TLB events only while
    /// the window is open and they are asked for (outside it the TLB model is kept by the
    /// counted cache, as `--stats` keeps it, and nothing is recorded per access); nothing
    /// at all once the trace has ended. Called at each quantum and whenever the window
    /// opens or closes.
    pub fn follow_trace(&mut self, tracer: &Tracer) {
        let requested = tracer.requested();
        let kinds =
            (tracer.watching_pcs() && MMU_KINDS.iter().any(|k| requested.has(*k))).then(|| {
                EventKinds {
                    walks: tracer.wants(Kind::Walk),
                    tlb: tracer.wants(Kind::Tlb),
                }
            });
        if self.mmu.recorded_events() != kinds {
            self.mmu.record_events(kinds);
            // Whether fetches may be replayed from the fetch-page cache depends on it.
            self.check_fetch_cache();
        }
    }

    fn header(&self, instret: u64, privilege: u8) -> Header {
        Header {
            hart: self.hartid as u32,
            instret,
            privilege,
        }
    }

    /// Run like [`Hart::run`], emitting the events `tracer` wants.
    pub fn run_traced(
        &mut self,
        bus: &mut Bus,
        tracer: &mut Tracer,
        budget: u64,
    ) -> (u64, RunStop) {
        self.run_quantum(bus, Some(tracer), budget)
    }

    /// One instruction at `self.pc` for a trace that looks at every instruction
    /// (instruction, MMIO or SBI events asked for, or a window position to watch for):
    /// the run loop's step when its observer is [`super::run_loop::Watching`]. `Err`
    /// when the run must stop after it.
    pub(super) fn traced_instruction(
        &mut self,
        bus: &mut Bus,
        tracer: &mut Tracer,
    ) -> Result<(), RunStop> {
        let pc = self.pc;
        self.mmu.current_pc = pc;
        let pa = self.watch_window(bus, tracer, pc);
        // The window and limit change the mask only in `at_pc` and `emit`, so what
        // this instruction reports is known before it runs.
        let want_insn = tracer.wants(Kind::Insn) || tracer.wants(Kind::Mmio);
        let want_sbi = tracer.wants(Kind::Sbi);
        let before = self.snapshot();
        if self.triggers.armed() && self.execute_trigger_fires(pc) {
            self.emit_after(bus, tracer, &before, None, None);
            return Ok(());
        }
        let index = if self.fetch_replayed {
            self.fetch::<true>(pc, bus)
        } else {
            self.fetch::<false>(pc, bus)
        };
        if index == FETCH_TRAPPED {
            self.emit_after(bus, tracer, &before, None, None);
            return Ok(());
        }
        if self.triggers.armed() && self.data_trigger_fires(index, pc) {
            self.emit_after(bus, tracer, &before, None, None);
            return Ok(());
        }
        // Copied before executing: a store may overwrite the decoded slot.
        let op = want_insn.then(|| self.decoded.op(index));
        let kind = self.decoded.slot(index).k;
        let operands = op.map(|op| (self.x[op.rs1 as usize & 31], self.x[op.rs2 as usize & 31]));
        let pre = op.map(|op| self.insn_pre(&op, bus));
        let sbi = (want_sbi && kind == OpKind::Ecall && self.privilege == PRIV_S)
            .then(|| (self.x[17], self.x[16], [self.x[10], self.x[11], self.x[12]]));
        let next = self.execute(index, pc, bus);
        self.x[0] = 0;
        let mut stop = None;
        let retired = if next & 1 == 0 {
            self.pc = next;
            true
        } else {
            match self.special {
                Step::Trapped => false,
                Step::Next => true,
                Step::Yield => {
                    stop = Some(RunStop::Yield);
                    true
                }
                Step::Wfi => {
                    stop = Some(RunStop::Wfi);
                    true
                }
            }
        };
        if retired {
            self.instret += 1;
        }
        let insn = match (op, operands, pre) {
            (Some(op), Some(operands), Some(pre)) if retired => {
                Some(self.insn_record(&op, pc, pa, operands, &pre, bus))
            }
            _ => None,
        };
        if let Some((eid, fid, args)) = sbi {
            tracer.emit(Event::Sbi {
                h: self.header(before.instret, before.privilege),
                eid,
                fid,
                args,
            });
        }
        // Most instructions report nothing else: no MMU event, trap or mode change.
        if insn.is_some()
            || self.mmu.has_events()
            || self.traps_taken != before.traps
            || self.privilege != before.privilege
        {
            self.emit_after(bus, tracer, &before, insn.as_ref(), Some(kind));
        }
        match stop {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }

    /// Before the instruction at `pc`: tell the tracer where the run is, so that the
    /// window opens or closes here, and make the MMU record what the tracer now wants.
    /// Returns the instruction's physical address when the tracer needs it (else `pc`).
    fn watch_window(&mut self, bus: &mut Bus, tracer: &mut Tracer, pc: u64) -> u64 {
        let probed = tracer.needs_pa();
        let mut pa = if probed {
            self.probe_fetch(pc, bus)
        } else {
            pc
        };
        let mask = tracer.mask;
        tracer.at_pc(pc, pa, self.instret);
        if tracer.mask != mask {
            // The window opened or closed here.
            self.follow_trace(tracer);
            self.note_window_open(tracer);
            if !probed && tracer.needs_pa() {
                pa = self.probe_fetch(pc, bus);
            }
        }
        pa
    }

    /// Physical address of the instruction at `pc`, without side effects.
    fn probe_fetch(&mut self, pc: u64, bus: &mut Bus) -> u64 {
        let ctx = self.fetch_ctx;
        self.mmu.probe_pa(pc, &ctx, bus).unwrap_or(pc)
    }

    /// For the straight-through loop's traced mode: emit what the instruction just executed
    /// caused, given the instruction count, privilege and trap count before it.
    pub(super) fn emit_traced_step(
        &mut self,
        bus: &mut Bus,
        tracer: &mut Tracer,
        (instret, privilege, traps): (u64, u8, u64),
        kind: Option<OpKind>,
    ) {
        let before = Before {
            instret,
            privilege,
            traps,
        };
        self.emit_after(bus, tracer, &before, None, kind);
    }

    /// Where a `--trace-from` window has opened: note the satp in force on this hart.
    pub(super) fn note_window_open(&self, tracer: &mut Tracer) {
        if tracer.window_note_due(self.hartid) {
            tracer.note_window_open(self.header(self.instret, self.privilege), self.satp);
        }
    }

    fn snapshot(&self) -> Before {
        Before {
            instret: self.instret,
            privilege: self.privilege,
            traps: self.traps_taken,
        }
    }

    /// What the record of `op` needs from before it runs: what its results alone do not
    /// show.
    fn insn_pre(&mut self, op: &Op, bus: &mut Bus) -> Pre {
        let mut pre = Pre {
            mstatus: self.mstatus(),
            mip: self.mip(),
            amo_read: None,
            sc_stores: false,
            fp_raised: 0,
        };
        match op.k {
            OpKind::AmoW | OpKind::AmoD | OpKind::ScW | OpKind::ScD => {
                let size = if matches!(op.k, OpKind::AmoW | OpKind::ScW) {
                    4
                } else {
                    8
                };
                let va = self.x[op.rs1 as usize & 31];
                let ctx = self.data_ctx;
                if let Ok(pa) = self.mmu.probe_pa(va, &ctx, bus) {
                    let current = bus.ram.read(pa, size);
                    if matches!(op.k, OpKind::AmoW | OpKind::AmoD) {
                        pre.amo_read = current;
                    } else {
                        // The condition `store_conditional` applies.
                        pre.sc_stores = matches!(
                            (self.reservation, current),
                            (Some((reserved, loaded)), Some(now)) if reserved == pa && now == loaded
                        );
                    }
                }
            }
            OpKind::FpOp => {
                // The flags an operation raises, including those already set (which
                // leave fflags unchanged): run it on copies with fflags clear.
                let mut fp = self.fp.clone();
                fp.fflags = 0;
                let mut x = self.x;
                if fpu::execute(op.raw, &mut fp, &mut x).is_ok() {
                    pre.fp_raised = fp.fflags;
                }
            }
            _ => {}
        }
        pre
    }

    /// What the instruction event of `op`, just retired, reports.
    fn insn_record(
        &mut self,
        op: &Op,
        pc: u64,
        pa: u64,
        (a, b): (u64, u64),
        pre: &Pre,
        bus: &mut Bus,
    ) -> InsnRecord {
        let rd = op.rd as usize & 31;
        let writes_f = matches!(op.k, OpKind::Flw | OpKind::Fld)
            || (op.k == OpKind::FpOp && super::fp_writes_f_register(op.raw));
        let rd_write = (!writes_f && op.k.writes_rd() && rd != 0).then(|| (rd as u8, self.x[rd]));
        let frd_write = writes_f.then(|| (rd as u8, self.fp.f[rd]));
        let mut mmio = false;
        let sc_failed = matches!(op.k, OpKind::ScW | OpKind::ScD)
            && if rd != 0 {
                self.x[rd] != 0
            } else {
                !pre.sc_stores
            };
        let amo = matches!(op.k, OpKind::AmoW | OpKind::AmoD);
        let mem = data_access(op, a)
            .filter(|_| !sc_failed)
            .map(|(va, size, store)| {
                let ctx = self.data_ctx;
                let dpa = self.mmu.probe_pa(va, &ctx, bus).unwrap_or(va);
                let mask = |v: u64| {
                    if size < 8 {
                        v & ((1u64 << (size * 8)) - 1)
                    } else {
                        v
                    }
                };
                let value = match (store, op.k) {
                    (true, OpKind::Fsw | OpKind::Fsd) => self.fp.f[op.rs2 as usize & 31],
                    // What the operation wrote is in memory now.
                    (true, OpKind::AmoW | OpKind::AmoD) => {
                        bus.ram.read(dpa, size as usize).unwrap_or(b)
                    }
                    (true, _) => b,
                    (false, OpKind::Flw | OpKind::Fld) => self.fp.f[rd],
                    (false, _) => self.x[rd],
                };
                let amo_read = amo.then(|| pre.amo_read.unwrap_or(self.x[rd])).map(mask);
                mmio = bus.ram.offset_of(dpa, size as u64).is_none();
                MemAccess {
                    va,
                    pa: dpa,
                    size,
                    value: mask(value),
                    store,
                    amo_read,
                }
            });
        InsnRecord {
            pc,
            pa,
            raw: op.raw,
            len: op.len as u8,
            rd: rd_write,
            frd: frd_write,
            mem,
            mmio,
            csrs: self.csr_writes(op, pre),
        }
    }

    /// The CSRs `op`, just retired, wrote, as Spike's commit log names them: a write
    /// through a view is recorded on the register holding the state (sstatus as mstatus,
    /// sip as mip), fcsr as its fields frm and fflags, and sie as both sie and mie.
    /// Implicit writes: fflags by a floating-point operation that raised a flag, mstatus
    /// by mret and sret and whenever it changed (FS set dirty).
    fn csr_writes(&self, op: &Op, pre: &Pre) -> Option<Box<[CsrWrite]>> {
        let mut out: Vec<CsrWrite> = Vec::new();
        let mut push = |csr: u16, value: u64| out.push(CsrWrite { csr, value });
        match op.k {
            OpKind::Csrrw
            | OpKind::Csrrs
            | OpKind::Csrrc
            | OpKind::Csrrwi
            | OpKind::Csrrsi
            | OpKind::Csrrci => {
                let writes = op.csr_writes() == Some(true);
                let number = (op.imm as u32 & 0xfff) as u16;
                match number {
                    _ if !writes => {}
                    csr::FCSR => {
                        push(csr::FFLAGS, self.fp.fflags as u64);
                        push(csr::FRM, self.fp.frm as u64);
                    }
                    csr::SSTATUS => push(csr::MSTATUS, self.mstatus()),
                    // Spike also logs its mvip on every mip or sip write, valued before
                    // the write's effect on SSIP and STIP.
                    csr::MIP | csr::SIP => {
                        let mvip = (self.mip_sw & ip::SEIP) | (pre.mip & (ip::SSIP | ip::STIP));
                        push(MVIP, mvip);
                        push(csr::MIP, self.mip());
                    }
                    csr::SIE => {
                        push(csr::SIE, self.mie & self.mideleg);
                        push(csr::MIE, self.mie);
                    }
                    n => push(n, self.csr_read(n).unwrap_or(0)),
                }
            }
            OpKind::FpOp if pre.fp_raised != 0 => push(csr::FFLAGS, self.fp.fflags as u64),
            _ => {}
        }
        let mstatus = self.mstatus();
        if (mstatus != pre.mstatus || matches!(op.k, OpKind::Mret | OpKind::Sret))
            && !out.iter().any(|w| w.csr == csr::MSTATUS)
        {
            out.push(CsrWrite {
                csr: csr::MSTATUS,
                value: mstatus,
            });
        }
        (!out.is_empty()).then(|| out.into_boxed_slice())
    }

    /// Emit, in order: the MMU's walk and TLB events, the instruction, then satp/sfence
    /// events, the MMIO access, and the trap or privilege change it caused.
    fn emit_after(
        &mut self,
        bus: &mut Bus,
        tracer: &mut Tracer,
        before: &Before,
        insn: Option<&InsnRecord>,
        kind: Option<OpKind>,
    ) {
        let h = self.header(before.instret, before.privilege);
        let mut mmu_events = std::mem::take(&mut self.trace.scratch);
        self.mmu.take_events(&mut mmu_events);
        let mut later = Vec::new();
        for e in &mmu_events {
            match from_mmu(e, h) {
                Some(ev @ (Event::Walk { .. } | Event::Tlb { .. }))
                    if tracer.wants(kind_of(&ev)) =>
                {
                    tracer.emit(ev)
                }
                Some(Event::Walk { .. } | Event::Tlb { .. }) => {}
                Some(ev) => later.push(ev),
                None => {}
            }
        }
        mmu_events.clear();
        self.trace.scratch = mmu_events;
        if let Some(r) = insn {
            if tracer.wants(Kind::Insn) {
                tracer.emit(Event::Insn {
                    h,
                    pc: r.pc,
                    pa: r.pa,
                    raw: r.raw,
                    len: r.len,
                    rd: r.rd,
                    frd: r.frd,
                    mem: r.mem,
                    csrs: r.csrs.clone(),
                });
            }
            if let (Some(m), true) = (r.mem, r.mmio && tracer.wants(Kind::Mmio)) {
                tracer.emit(Event::Mmio {
                    h,
                    pa: m.pa,
                    size: m.size,
                    value: m.value,
                    write: m.store,
                });
            }
        }
        for ev in later {
            if matches!(ev, Event::StaleTlb { .. }) || tracer.wants(kind_of(&ev)) {
                tracer.emit(ev);
            }
        }
        let trapped = self.traps_taken != before.traps;
        if trapped && tracer.wants(Kind::Trap) {
            let to = self.privilege;
            let (cause, tval, epc) = if to == PRIV_M {
                (self.mcause, self.mtval, self.mepc)
            } else {
                (self.scause, self.stval, self.sepc)
            };
            let ctx = self.fetch_ctx;
            let handler_pa = self.mmu.probe_pa(self.pc, &ctx, bus).unwrap_or(self.pc);
            tracer.emit(Event::Trap {
                h,
                cause: cause & !(1 << 63),
                interrupt: cause >> 63 == 1,
                tval,
                epc,
                from: before.privilege,
                to,
                handler: self.pc,
                handler_pa,
            });
        }
        if self.privilege != before.privilege && tracer.wants(Kind::Mode) {
            let how = match (trapped, kind) {
                (true, _) => "trap",
                (false, Some(OpKind::Mret)) => "mret",
                (false, Some(OpKind::Sret)) => "sret",
                _ => "other",
            };
            tracer.emit(Event::Mode {
                h,
                from: before.privilege,
                to: self.privilege,
                how,
            });
        }
    }
}

/// An instruction event's content, gathered right after the instruction retired.
struct InsnRecord {
    pc: u64,
    pa: u64,
    raw: u32,
    len: u8,
    rd: Option<(u8, u64)>,
    frd: Option<(u8, u64)>,
    mem: Option<MemAccess>,
    /// The data access went to a device (an MMIO event follows the instruction's).
    mmio: bool,
    csrs: Option<Box<[CsrWrite]>>,
}

/// Spike's mvip CSR (AIA), which this hart does not have.
const MVIP: u16 = 0x309;

/// Noted before an instruction runs, for its record.
#[derive(Clone, Copy)]
struct Pre {
    /// mstatus and mip as read before.
    mstatus: u64,
    mip: u64,
    /// AMO: the memory value it is about to read (None if not in RAM).
    amo_read: Option<u64>,
    /// SC: whether it will store (the reservation holds).
    sc_stores: bool,
    /// Floating-point operation: the exception flags it raises.
    fp_raised: u8,
}

struct Before {
    instret: u64,
    privilege: u8,
    traps: u64,
}

/// The data access an instruction made: (virtual address, size, is-store), from the
/// operand `a` (rs1) read before it executed.
fn data_access(op: &Op, a: u64) -> Option<(u64, u8, bool)> {
    let (access, size) = op.k.data_access()?;
    let at = a.wrapping_add(op.imm as i64 as u64);
    Some(match access {
        DataAccess::Load => (at, size, false),
        DataAccess::Store => (at, size, true),
        DataAccess::LoadReserved => (a, size, false),
        DataAccess::StoreAtRs1 => (a, size, true),
    })
}

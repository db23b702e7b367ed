//! Tracing: event types, the per-hart producer, and sinks that format off the hart's
//! thread.
//!
//! The hart checks one mask bit per event kind (`Tracer::wants`), so disabled tracing
//! costs one predictable branch. Enabled events are pushed into a batch that travels
//! through a bounded crossbeam channel to a sink thread; a full channel blocks the
//! producer (it slows the guest, it never drops events).

pub mod format;
pub mod kallsyms;
pub mod mmu_events;
pub mod sink;
pub mod symbols;

use std::fmt;
use std::str::FromStr;

/// The event kinds a user can ask for with `--trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Insn = 1 << 0,
    Walk = 1 << 1,
    Tlb = 1 << 2,
    Satp = 1 << 3,
    Sfence = 1 << 4,
    Trap = 1 << 5,
    Mode = 1 << 6,
    Mmio = 1 << 7,
    Sbi = 1 << 8,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Insn,
        Kind::Walk,
        Kind::Tlb,
        Kind::Satp,
        Kind::Sfence,
        Kind::Trap,
        Kind::Mode,
        Kind::Mmio,
        Kind::Sbi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Insn => "insn",
            Kind::Walk => "walk",
            Kind::Tlb => "tlb",
            Kind::Satp => "satp",
            Kind::Sfence => "sfence",
            Kind::Trap => "trap",
            Kind::Mode => "mode",
            Kind::Mmio => "mmio",
            Kind::Sbi => "sbi",
        }
    }
}

/// A set of event kinds, parsed from `insn,walk,satp` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventMask(pub u32);

impl EventMask {
    pub const NONE: EventMask = EventMask(0);

    #[inline(always)]
    pub fn has(self, k: Kind) -> bool {
        self.0 & k as u32 != 0
    }
}

impl FromStr for EventMask {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut mask = 0u32;
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word == "all" {
                mask = Kind::ALL.iter().fold(0, |m, k| m | *k as u32);
                continue;
            }
            match Kind::ALL.iter().find(|k| k.name() == word) {
                Some(k) => mask |= *k as u32,
                None => {
                    let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                    return Err(format!(
                        "unknown trace event '{word}' (choose from {}, all)",
                        names.join(", ")
                    ));
                }
            }
        }
        if mask == 0 {
            return Err(
                "no trace events given (e.g. --trace insn,walk,satp or --trace all)".into(),
            );
        }
        Ok(EventMask(mask))
    }
}

/// What every event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub hart: u32,
    /// Instructions the hart had retired when the event happened.
    pub instret: u64,
    /// Privilege at the time: 0 U, 1 S, 3 M.
    pub privilege: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Fetch,
    Load,
    Store,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Fetch => "fetch",
            Access::Load => "load",
            Access::Store => "store",
        }
    }
}

/// A data access made by an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemAccess {
    pub va: u64,
    pub pa: u64,
    pub size: u8,
    /// The value loaded, or for a store the value written.
    pub value: u64,
    pub store: bool,
    /// An atomic read-modify-write (AMO): `store` is set, `value` is what was written
    /// and this is what was read first.
    pub amo_read: Option<u64>,
}

/// A CSR the instruction wrote and the value it holds afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsrWrite {
    pub csr: u16,
    pub value: u64,
}

/// One level of a page walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalkStep {
    pub level: u8,
    pub pte_addr: u64,
    pub pte: u64,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkResult {
    /// A leaf at `level`, mapping a page of `page_size` bytes; `pa` is the translation.
    Leaf { level: u8, page_size: u64, pa: u64 },
    /// The walk raised this exception cause (12/13/15 page fault, 1/5/7 access fault).
    Fault { cause: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlbKind {
    Hit,
    Miss,
    Fill,
    Evict,
    Flush,
}

impl TlbKind {
    pub fn name(self) -> &'static str {
        match self {
            TlbKind::Hit => "hit",
            TlbKind::Miss => "miss",
            TlbKind::Fill => "fill",
            TlbKind::Evict => "evict",
            TlbKind::Flush => "flush",
        }
    }
}

/// A trace event. Payloads are inline (no allocation per event) except a walk's steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Insn {
        h: Header,
        pc: u64,
        pa: u64,
        raw: u32,
        /// 2 for compressed instructions, 4 otherwise.
        len: u8,
        /// Integer register written (never x0) and its new value.
        rd: Option<(u8, u64)>,
        /// Floating-point register written and its new value.
        frd: Option<(u8, u64)>,
        mem: Option<MemAccess>,
        /// CSRs written, explicitly or as a side effect (fflags by a floating-point
        /// operation, mstatus.FS becoming dirty, mstatus by mret/sret); see
        /// docs/trace-format.md for which number a write is recorded under. Boxed:
        /// most instructions write none.
        csrs: Option<Box<[CsrWrite]>>,
    },
    Walk {
        h: Header,
        va: u64,
        access: Access,
        satp: u64,
        /// Boxed: walks are rare, and inline they would make every event half as large
        /// again (events are copied into batches by the million).
        steps: Box<[WalkStep; 5]>,
        nsteps: u8,
        result: WalkResult,
        /// Level of the page-walk cache entry the walk started below (0: none), and a
        /// bit per level probed without a hit (0 without a page-walk cache).
        pwc_hit: u8,
        pwc_missed: u8,
    },
    Tlb {
        h: Header,
        kind: TlbKind,
        /// TLB name: "l1i", "l1d", "l2".
        tlb: &'static str,
        va: u64,
        asid: u16,
        page_size: u64,
        /// What caused a flush ("sfence.vma all", ...), or "" for other kinds.
        cause: &'static str,
    },
    Satp {
        h: Header,
        old: u64,
        new: u64,
    },
    Sfence {
        h: Header,
        vaddr: Option<u64>,
        asid: Option<u16>,
    },
    Trap {
        h: Header,
        cause: u64,
        interrupt: bool,
        tval: u64,
        epc: u64,
        from: u8,
        to: u8,
        handler: u64,
        /// Physical address of the handler (lets the symbolizer name a handler at a
        /// virtual address it has not seen executed yet).
        handler_pa: u64,
    },
    Mode {
        h: Header,
        from: u8,
        to: u8,
        /// "mret", "sret" or "trap".
        how: &'static str,
    },
    Mmio {
        h: Header,
        pa: u64,
        size: u8,
        value: u64,
        write: bool,
    },
    Sbi {
        h: Header,
        eid: u64,
        fid: u64,
        args: [u64; 3],
    },
    /// `--check-tlb`: a TLB hit that a fresh walk contradicts.
    StaleTlb {
        h: Header,
        pc: u64,
        va: u64,
        cached_pa: u64,
        walked_pa: Option<u64>,
        old_pte: u64,
        new_pte: u64,
    },
    /// Not something the guest did: a trace window (`--trace-from`) opened on this hart
    /// while `satp` was in force. Only the Perfetto format writes anything for it: the
    /// phase slice the window starts in.
    WindowOpen {
        h: Header,
        satp: u64,
    },
}

impl Event {
    pub fn header(&self) -> &Header {
        match self {
            Event::Insn { h, .. }
            | Event::Walk { h, .. }
            | Event::Tlb { h, .. }
            | Event::Satp { h, .. }
            | Event::Sfence { h, .. }
            | Event::Trap { h, .. }
            | Event::Mode { h, .. }
            | Event::Mmio { h, .. }
            | Event::Sbi { h, .. }
            | Event::StaleTlb { h, .. }
            | Event::WindowOpen { h, .. } => h,
        }
    }
}

/// Output formats of `--trace-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned, human-readable, one event per line; walks indented under their instruction.
    Text,
    /// One JSON object per line (docs/trace-format.md).
    Jsonl,
    /// Chrome trace JSON for ui.perfetto.dev: phases as slices per hart, traps as instants,
    /// TLB misses, miss ratios and walks as counters.
    Perfetto,
    /// `spike --log-commits` compatible commit log.
    Spike,
}

/// Where a trace window starts or ends: a symbol, an address, or `insn:N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Symbol(String),
    Address(u64),
    Insn(u64),
}

impl FromStr for Where {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(
                "empty trace position (use a symbol, an address like 0x80200000, or insn:N)".into(),
            );
        }
        if let Some(n) = s.strip_prefix("insn:") {
            return n
                .parse()
                .map(Where::Insn)
                .map_err(|_| format!("'{s}': insn:N needs a count"));
        }
        if let Some(hex) = s.strip_prefix("0x") {
            return u64::from_str_radix(&hex.replace('_', ""), 16)
                .map(Where::Address)
                .map_err(|_| format!("'{s}' is not a hex address"));
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return s
                .parse()
                .map(Where::Address)
                .map_err(|_| format!("'{s}' is not an address"));
        }
        Ok(Where::Symbol(s.to_string()))
    }
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Symbol(s) => write!(f, "{s}"),
            Where::Address(a) => write!(f, "{a:#x}"),
            Where::Insn(n) => write!(f, "insn:{n}"),
        }
    }
}

/// Events per batch sent to the sink thread.
const BATCH: usize = 4096;

/// The producer side, owned by the hart loop (one per machine; events carry the hart id).
pub struct Tracer {
    /// Kinds enabled right now (zero outside the trace window).
    pub mask: EventMask,
    /// Kinds the user asked for.
    requested: EventMask,
    batch: Vec<Event>,
    tx: Option<crossbeam_channel::Sender<Vec<Event>>>,
    /// Events still allowed by `--trace-limit`.
    remaining: u64,
    /// Window: start/stop addresses resolved to physical or virtual pcs.
    pub from_pcs: Vec<u64>,
    pub until_pcs: Vec<u64>,
    pub from_insn: Option<u64>,
    pub until_insn: Option<u64>,
    started: bool,
    stopped: bool,
    /// The window opens at a `--trace-from` position (not at the start of the run): each
    /// hart then notes the satp in force there ([`Event::WindowOpen`]).
    opens_late: bool,
    /// Harts (by id) whose [`Event::WindowOpen`] was sent.
    window_noted: Vec<bool>,
    pub emitted: u64,
}

impl Default for Tracer {
    fn default() -> Self {
        Tracer::disabled()
    }
}

impl Tracer {
    /// A tracer that records nothing.
    pub fn disabled() -> Self {
        Tracer {
            mask: EventMask::NONE,
            requested: EventMask::NONE,
            batch: Vec::new(),
            tx: None,
            remaining: 0,
            from_pcs: Vec::new(),
            until_pcs: Vec::new(),
            from_insn: None,
            until_insn: None,
            started: true,
            stopped: false,
            opens_late: false,
            window_noted: Vec::new(),
            emitted: 0,
        }
    }

    /// A tracer sending `requested` events to `tx`. The window opens at once unless
    /// `from` positions are set afterwards (`set_window`).
    pub fn new(
        requested: EventMask,
        tx: crossbeam_channel::Sender<Vec<Event>>,
        limit: Option<u64>,
    ) -> Self {
        Tracer {
            mask: requested,
            requested,
            batch: Vec::with_capacity(BATCH),
            tx: Some(tx),
            remaining: limit.unwrap_or(u64::MAX),
            ..Tracer::disabled()
        }
    }

    /// Restrict output to a window. Pcs are compared with the instruction's virtual and
    /// physical pc; `insn` positions with the machine's total retired count.
    pub fn set_window(
        &mut self,
        from_pcs: Vec<u64>,
        from_insn: Option<u64>,
        until_pcs: Vec<u64>,
        until_insn: Option<u64>,
    ) {
        self.started = from_pcs.is_empty() && from_insn.is_none();
        self.opens_late = !self.started;
        self.from_pcs = from_pcs;
        self.from_insn = from_insn;
        self.until_pcs = until_pcs;
        self.until_insn = until_insn;
        self.mask = if self.started {
            self.requested
        } else {
            EventMask::NONE
        };
    }

    /// Whether the window logic needs to see every pc (the hart then calls `at_pc`).
    #[inline(always)]
    pub fn watching_pcs(&self) -> bool {
        self.tx.is_some() && !self.stopped
    }

    /// Whether the physical pc of the next instruction matters: for instruction events,
    /// or to compare with the window's start/stop addresses.
    #[inline]
    pub fn needs_pa(&self) -> bool {
        self.mask.has(Kind::Insn)
            || (!self.started && !self.from_pcs.is_empty())
            || (self.started && !self.stopped && !self.until_pcs.is_empty())
    }

    /// Whether the hart must look at each instruction: to make instruction, MMIO or SBI
    /// events, or because a window position may open or close the trace at any pc.
    #[inline]
    pub fn per_instruction(&self) -> bool {
        const EACH: u32 = Kind::Insn as u32 | Kind::Mmio as u32 | Kind::Sbi as u32;
        self.mask.0 & EACH != 0
            || !self.started
            || (!self.stopped && (!self.until_pcs.is_empty() || self.until_insn.is_some()))
    }

    /// Called by the hart before each instruction when `watching_pcs()`: opens or closes
    /// the window.
    pub fn at_pc(&mut self, pc: u64, pa: u64, insns: u64) {
        if !self.started {
            let hit = self.from_pcs.iter().any(|&p| p == pc || p == pa)
                || self.from_insn.is_some_and(|n| insns >= n);
            if hit {
                self.started = true;
                self.mask = self.requested;
            }
        } else if !self.stopped {
            let hit = self.until_pcs.iter().any(|&p| p == pc || p == pa)
                || self.until_insn.is_some_and(|n| insns >= n);
            if hit {
                self.stop();
            }
        }
    }

    /// Whether hart `hart` has yet to note the satp in force where the window opened
    /// ([`Tracer::note_window_open`]); only for a window opened by `--trace-from` and a
    /// trace that shows satp.
    #[inline]
    pub fn window_note_due(&self, hart: u64) -> bool {
        self.opens_late
            && self.started
            && !self.stopped
            && self.mask.has(Kind::Satp)
            && !self
                .window_noted
                .get(hart as usize)
                .copied()
                .unwrap_or(false)
    }

    /// Send hart `h.hart`'s [`Event::WindowOpen`] (it is not counted by `--trace-limit`).
    pub fn note_window_open(&mut self, h: Header, satp: u64) {
        let i = h.hart as usize;
        if self.window_noted.len() <= i {
            self.window_noted.resize(i + 1, false);
        }
        self.window_noted[i] = true;
        self.batch.push(Event::WindowOpen { h, satp });
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.mask = EventMask::NONE;
        self.flush();
    }

    /// The kinds the user asked for (whether or not the window is open).
    pub fn requested(&self) -> EventMask {
        self.requested
    }

    #[inline(always)]
    pub fn wants(&self, k: Kind) -> bool {
        self.mask.has(k)
    }

    /// Record an event (the caller checked `wants`).
    #[inline]
    pub fn emit(&mut self, e: Event) {
        if self.remaining == 0 {
            return;
        }
        self.remaining -= 1;
        self.emitted += 1;
        self.batch.push(e);
        if self.batch.len() >= BATCH {
            self.flush();
        }
        if self.remaining == 0 {
            self.stop();
        }
    }

    /// Send the pending batch to the sink (blocking when the channel is full).
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.tx {
            // The sink only disconnects after we drop the sender, so this cannot fail
            // unless the sink thread died; then there is nowhere to write anyway.
            let _ = tx.send(batch);
        }
    }

    /// Flush and close the channel so the sink can finish the file.
    pub fn finish(&mut self) {
        self.flush();
        self.tx = None;
        self.mask = EventMask::NONE;
        self.stopped = true;
    }
}

//! Formatting of trace events: text, jsonl, perfetto (Chrome JSON) and spike.
//! Runs on the sink thread, never on the hart's.

use std::io::{self, Write};

use super::symbols::Symbolizer;
use super::{Event, Format, MemAccess, WalkResult};
use crate::cpu::trap::{irq, Exception};

/// Disassembles one instruction (raw bits, length) at `pc`.
pub type Disassembler = fn(raw: u32, pc: u64) -> String;

const PRIV: [&str; 4] = ["U", "S", "?", "M"];

fn priv_name(p: u8) -> &'static str {
    PRIV[(p & 3) as usize]
}

fn cause_name(cause: u64, interrupt: bool) -> &'static str {
    if interrupt {
        irq::name(cause)
    } else {
        Exception::cause_name(cause)
    }
}

/// Decoded PTE flags as `DAGUXWRV` letters (a dash for a clear bit).
pub fn pte_flags(pte: u64) -> String {
    String::from_utf8_lossy(&pte_flag_letters(pte)).into_owned()
}

fn pte_flag_letters(pte: u64) -> [u8; 8] {
    const L: &[u8; 8] = b"DAGUXWRV";
    std::array::from_fn(|i| if pte >> (7 - i) & 1 == 1 { L[i] } else { b'-' })
}

fn decimal_digits(v: u64) -> usize {
    v.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn satp_fields(satp: u64) -> (&'static str, u64, u64) {
    let mode = match satp >> 60 {
        0 => "bare",
        8 => "sv39",
        9 => "sv48",
        10 => "sv57",
        _ => "?",
    };
    (mode, (satp >> 44) & 0xffff, (satp & ((1 << 44) - 1)) << 12)
}

fn page_size_name(size: u64) -> std::borrow::Cow<'static, str> {
    match size {
        0x1000 => "4K".into(),
        0x20_0000 => "2M".into(),
        0x4000_0000 => "1G".into(),
        0x80_0000_0000 => "512G".into(),
        s => format!("{s:#x}").into(),
    }
}

/// Formats a stream of events in one of the formats. Keeps the state a format needs
/// (pending walks for text indentation, open slices for perfetto).
pub struct Formatter {
    pub format: Format,
    pub symbols: Symbolizer,
    disasm: Disassembler,
    /// Walk lines waiting for the instruction that caused them (text format).
    pending: Vec<String>,
    /// Whether instruction events come: if not, no walk line waits for one, and each
    /// is written at once (where the next event would have written it), not held
    /// until the end.
    insns: bool,
    first_json: bool,
    /// Perfetto: per-hart phase slices and counters, indexed by hart.
    perfetto_harts: Vec<PerfettoHart>,
    /// Disassembly and symbol per (pc, raw): traced code runs in loops, and formatting
    /// these is most of the cost of an instruction event.
    insn_cache: std::collections::HashMap<(u64, u32), InsnText>,
    /// The line being built (instruction events are formatted by hand into bytes).
    line: Vec<u8>,
    /// jsonl: per pc, direct-mapped, the middle of the last instruction line made there.
    insn_lines: Vec<InsnLine>,
    /// Text: the root of the last walk line and its symbol (walks of one address space
    /// come in runs, and a symbol look-up costs more than the rest of the line).
    walk_root: (u64, Box<str>),
}

/// The part of a jsonl instruction line fixed by pc, pa and the instruction: from
/// `","kind":"insn"` through `"sym":"..."`.
struct InsnLine {
    pc: u64,
    pa: u64,
    raw: u32,
    len: u8,
    bytes: Box<[u8]>,
}

impl InsnLine {
    /// No instruction is at an odd address, so this slot never matches.
    fn empty() -> InsnLine {
        InsnLine {
            pc: u64::MAX,
            pa: 0,
            raw: 0,
            len: 0,
            bytes: Box::default(),
        }
    }
}

const INSN_LINES: usize = 1 << 14;

/// Cached text of one instruction at one address.
struct InsnText {
    disasm: Box<str>,
    sym: Box<str>,
    /// `"disasm":"...","sym":"..."` with JSON escaping done once.
    json: Box<str>,
}

const INSN_CACHE_MAX: usize = 1 << 20;

/// `0x` and the minimal hex digits of `v`.
fn push_hex(buf: &mut Vec<u8>, v: u64) {
    let digits = ((64 - v.leading_zeros() as usize).max(1)).div_ceil(4);
    buf.extend_from_slice(b"0x");
    if digits > 8 {
        push_chars(
            buf,
            hex8((v >> 32) as u32) << ((16 - digits) * 8),
            digits - 8,
        );
        push_chars(buf, hex8(v as u32), 8);
    } else {
        push_chars(buf, hex8(v as u32) << ((8 - digits) * 8), digits);
    }
}

/// Exactly 4 or 8 hex digits of `v`, no prefix.
fn push_hex_digits(buf: &mut Vec<u8>, v: u32, digits: usize) {
    push_chars(buf, hex8(v) << ((8 - digits) * 8), digits);
}

/// The 16 hex digits of `v`, no prefix.
fn push_hex16(buf: &mut Vec<u8>, v: u64) {
    push_hex_digits(buf, (v >> 32) as u32, 8);
    push_hex_digits(buf, v as u32, 8);
}

/// The eight hex digits of `x` as ASCII, the first in the most significant byte. Made in
/// a register: digits stored byte by byte and then copied out as a block would make the
/// CPU wait for the bytes to reach memory (a failed store-to-load forward).
#[inline(always)]
fn hex8(x: u32) -> u64 {
    // One nibble per byte.
    let mut n = x as u64;
    n = (n | (n << 16)) & 0x0000_ffff_0000_ffff;
    n = (n | (n << 8)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // '0' + n, and 'a' - '0' - 10 more where n >= 10 (n + 6 carries into bit 4).
    let letters = ((n + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    n + 0x3030_3030_3030_3030 + letters * 0x27
}

/// Append the first `n` (at most 8) bytes of `chars`, most significant byte first.
#[inline(always)]
fn push_chars(buf: &mut Vec<u8>, chars: u64, n: usize) {
    let at = buf.len();
    buf.extend_from_slice(&chars.to_be_bytes());
    buf.truncate(at + n);
}

fn push_dec(buf: &mut Vec<u8>, v: u64) {
    let digits = decimal_digits(v);
    let at = buf.len();
    buf.resize(at + digits, b'0');
    let mut rest = v;
    for d in buf[at..].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
}

impl Formatter {
    /// A formatter of events in `format`; `insns`: whether instruction events are among
    /// them.
    pub fn new(format: Format, symbols: Symbolizer, disasm: Disassembler, insns: bool) -> Self {
        Formatter {
            format,
            symbols,
            disasm,
            pending: Vec::new(),
            insns,
            first_json: true,
            perfetto_harts: Vec::new(),
            insn_cache: std::collections::HashMap::new(),
            line: Vec::with_capacity(512),
            insn_lines: Vec::new(),
            walk_root: (u64::MAX, Box::default()),
        }
    }

    /// Forget the text made from symbols, once the symbolizer has learned new names.
    fn forget_names(&mut self) {
        self.insn_cache.clear();
        self.insn_lines.clear();
        self.walk_root = (u64::MAX, Box::default());
    }

    pub fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.format == Format::Perfetto {
            writeln!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
            writeln!(
                out,
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{{\"name\":\"emu guest\"}}}}"
            )?;
            self.first_json = false;
        }
        Ok(())
    }

    pub fn end(&mut self, out: &mut dyn Write, last_instret: u64) -> io::Result<()> {
        match self.format {
            Format::Text => {
                for l in self.pending.drain(..) {
                    writeln!(out, "{l}")?;
                }
            }
            Format::Perfetto => {
                for (hart, state) in self.perfetto_harts.iter_mut().enumerate() {
                    let hart = hart as u32;
                    let at = last_instret.max(state.last_instret);
                    // The final totals, so the counters end on the run's figures.
                    state.write_counters(hart, at, out)?;
                    if let Some((_, name)) = state.phase.take() {
                        writeln!(
                            out,
                            ",{{\"name\":{},\"ph\":\"E\",\"pid\":1,\"tid\":{},\"ts\":{}}}",
                            json_str(&name),
                            perfetto_tid(hart),
                            ts(at)
                        )?;
                    }
                }
                writeln!(out, "]}}")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn sym(&self, addr: u64) -> String {
        self.symbols.describe(addr)
    }

    pub fn write(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if matches!(e, Event::WindowOpen { .. }) && self.format != Format::Perfetto {
            return Ok(());
        }
        let learned = match e {
            Event::Insn { pc, pa, .. } => self.symbols.observe_pc(*pc, *pa),
            Event::Trap {
                handler,
                handler_pa,
                ..
            } => self.symbols.observe_pc(*handler, *handler_pa),
            _ => false,
        };
        if learned {
            // Names of virtual addresses may have changed.
            self.forget_names();
        }
        match self.format {
            Format::Text => self.text(e, out),
            Format::Jsonl => self.jsonl(e, out),
            Format::Spike => self.spike(e, out),
            Format::Perfetto => self.perfetto(e, out),
        }
    }

    // ---- text -------------------------------------------------------------------

    fn text(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if let Event::Walk { .. } = e {
            let mut line = Vec::with_capacity(256);
            self.walk_text(e, &mut line);
            if self.insns {
                let text = String::from_utf8(line).expect("walk lines are ASCII");
                self.pending.push(text);
                return Ok(());
            }
            line.push(b'\n');
            return out.write_all(&line);
        }
        let h = e.header();
        let head = format!("[h{} {:>10} {}]", h.hart, h.instret, priv_name(h.privilege));
        match e {
            Event::Insn {
                pc,
                pa,
                raw,
                len,
                rd,
                frd,
                mem,
                csrs,
                ..
            } => {
                let bits = if *len == 2 {
                    format!("    {:04x}", raw & 0xffff)
                } else {
                    format!("{raw:08x}")
                };
                let t = self.insn_text(*pc, *raw);
                let mut line = format!(
                    "{head} insn  {pc:016x} {pa_s} {bits}  {dis:<28} {sym}",
                    pa_s = if pc == pa {
                        " ".repeat(16)
                    } else {
                        format!("{pa:016x}")
                    },
                    dis = t.disasm,
                    sym = t.sym,
                );
                if let Some((r, v)) = rd {
                    line.push_str(&format!("  x{r}={v:#x}"));
                }
                if let Some((r, v)) = frd {
                    line.push_str(&format!("  f{r}={v:#x}"));
                }
                for w in csrs.iter().flat_map(|c| c.iter()) {
                    line.push_str(&format!(
                        "  {}={:#x}",
                        crate::cpu::disasm::csr_name(w.csr as u32),
                        w.value
                    ));
                }
                if let Some(m) = mem {
                    line.push_str(&format!("  {}", mem_text(m)));
                }
                writeln!(out, "{}", line.trim_end())?;
                for l in self.pending.drain(..) {
                    writeln!(out, "{l}")?;
                }
                Ok(())
            }
            _ => {
                // Other events print in stream order, after any walks they follow.
                for l in self.pending.drain(..) {
                    writeln!(out, "{l}")?;
                }
                let body = match e {
                    Event::Tlb { kind, tlb, va, asid, page_size, cause, .. } => format!(
                        "tlb   {:<5} {tlb:<3} va={va:#x} asid={asid} {}{}",
                        kind.name(),
                        page_size_name(*page_size),
                        if cause.is_empty() { String::new() } else { format!(" ({cause})") }
                    ),
                    Event::Satp { old, new, .. } => {
                        let (om, oa, or) = satp_fields(*old);
                        let (nm, na, nr) = satp_fields(*new);
                        format!(
                            "satp  {om} asid={oa} root={or:#x} {} -> {nm} asid={na} root={nr:#x} {}",
                            self.sym(or),
                            self.sym(nr)
                        )
                    }
                    Event::Sfence { vaddr, asid, .. } => format!(
                        "sfence.vma {} {}",
                        vaddr.map_or("all-addresses".into(), |v| format!("va={v:#x}")),
                        asid.map_or("all-asids".into(), |a| format!("asid={a}"))
                    ),
                    Event::Trap { cause, interrupt, tval, epc, from, to, handler, .. } => format!(
                        "trap  {}{} tval={tval:#x} epc={epc:#x} {} {}->{} handler={handler:#x} {}",
                        if *interrupt { "interrupt " } else { "" },
                        cause_name(*cause, *interrupt),
                        self.sym(*epc),
                        priv_name(*from),
                        priv_name(*to),
                        self.sym(*handler)
                    ),
                    Event::Mode { from, to, how, .. } => format!("mode  {} -> {} ({how})", priv_name(*from), priv_name(*to)),
                    Event::Mmio { pa, size, value, write, .. } => format!(
                        "mmio  {} {pa:#x} size={size} value={value:#x}",
                        if *write { "write" } else { "read " }
                    ),
                    Event::Sbi { eid, fid, args, .. } => format!(
                        "sbi   {} fid={fid} a0={:#x} a1={:#x} a2={:#x}",
                        sbi_name(*eid),
                        args[0],
                        args[1],
                        args[2]
                    ),
                    Event::StaleTlb { pc, va, cached_pa, walked_pa, old_pte, new_pte, .. } => format!(
                        "STALE TLB va={va:#x} cached_pa={cached_pa:#x} walk={} pte {old_pte:#x} -> {new_pte:#x} at pc={pc:#x} {} (missing sfence.vma?)",
                        walked_pa.map_or("fault".into(), |p| format!("{p:#x}")),
                        self.sym(*pc)
                    ),
                    Event::Insn { .. } | Event::Walk { .. } => unreachable!("handled above"),
                    // Written by the Perfetto format only.
                    Event::WindowOpen { .. } => return Ok(()),
                };
                writeln!(out, "{head} {body}")
            }
        }
    }

    // ---- jsonl ------------------------------------------------------------------

    /// Disassembly and symbol of the instruction `raw` at `pc`, from the cache.
    fn insn_text(&mut self, pc: u64, raw: u32) -> &InsnText {
        if self.insn_cache.len() >= INSN_CACHE_MAX {
            self.insn_cache.clear();
        }
        let (disasm, symbols) = (self.disasm, &self.symbols);
        self.insn_cache.entry((pc, raw)).or_insert_with(|| {
            let d = disasm(raw, pc);
            let sym = symbols.describe(pc);
            let json = format!(",\"disasm\":{},\"sym\":{}", json_str(&d), json_str(&sym));
            InsnText {
                disasm: d.into(),
                sym: sym.into(),
                json: json.into(),
            }
        })
    }

    /// The text of a walk event (its lines, without the last newline) onto `line`,
    /// indented under the header an instruction line of the same event would have.
    fn walk_text(&mut self, e: &Event, line: &mut Vec<u8>) {
        let Event::Walk {
            h,
            va,
            access,
            satp,
            steps,
            nsteps,
            result,
            ..
        } = e
        else {
            return;
        };
        // The width of `[h{hart} {instret:>10} {priv}]` and three more.
        let pad = 9 + decimal_digits(h.hart as u64) + decimal_digits(h.instret).max(10);
        let (mode, asid, root) = satp_fields(*satp);
        if self.walk_root.0 != root {
            self.walk_root = (root, self.sym(root).into());
        }
        line.resize(line.len() + pad, b' ');
        line.extend_from_slice(b"walk  ");
        push_hex16(line, *va);
        line.push(b' ');
        let acc = access.name().as_bytes();
        line.extend_from_slice(acc);
        line.resize(line.len() + 5usize.saturating_sub(acc.len()), b' ');
        line.push(b' ');
        line.extend_from_slice(mode.as_bytes());
        line.extend_from_slice(b" asid=");
        push_dec(line, asid);
        line.extend_from_slice(b" root=");
        push_hex(line, root);
        line.push(b' ');
        line.extend_from_slice(self.walk_root.1.as_bytes());
        let new_line = |line: &mut Vec<u8>| {
            line.push(b'\n');
            line.resize(line.len() + pad + 2, b' ');
        };
        for st in &steps[..(*nsteps as usize).min(steps.len())] {
            new_line(line);
            line.push(b'L');
            push_dec(line, st.level as u64);
            line.extend_from_slice(b" pte@");
            push_hex(line, st.pte_addr);
            line.extend_from_slice(b" = 0x");
            push_hex16(line, st.pte);
            line.push(b' ');
            line.extend_from_slice(&pte_flag_letters(st.pte));
        }
        new_line(line);
        match result {
            WalkResult::Leaf {
                level,
                page_size,
                pa,
            } => {
                line.extend_from_slice(b"-> leaf L");
                push_dec(line, *level as u64);
                line.push(b' ');
                line.extend_from_slice(page_size_name(*page_size).as_bytes());
                line.extend_from_slice(b" pa=");
                push_hex(line, *pa);
            }
            WalkResult::Fault { cause } => {
                line.extend_from_slice(b"-> fault ");
                line.extend_from_slice(Exception::cause_name(*cause).as_bytes());
            }
        }
    }

    /// Like [`Formatter::write`], into a buffer the caller writes out: a jsonl
    /// instruction line is then built in place, the hot case of a full instruction trace.
    pub fn write_buffered(&mut self, e: &Event, buf: &mut Vec<u8>) -> io::Result<()> {
        if self.format == Format::Text && !self.insns && matches!(e, Event::Walk { .. }) {
            self.walk_text(e, buf);
            buf.push(b'\n');
            return Ok(());
        }
        if self.format != Format::Jsonl || !matches!(e, Event::Insn { .. }) {
            return self.write(e, buf);
        }
        if let Event::Insn { pc, pa, .. } = e {
            if self.symbols.observe_pc(*pc, *pa) {
                self.forget_names();
            }
        }
        self.jsonl_insn(e, buf);
        Ok(())
    }

    /// The fixed middle of the jsonl line of instruction `raw` (`len` bytes) at `pc`/`pa`.
    fn insn_line(&mut self, pc: u64, pa: u64, raw: u32, len: u8) -> &[u8] {
        if self.insn_lines.is_empty() {
            self.insn_lines.resize_with(INSN_LINES, InsnLine::empty);
        }
        let slot = (pc >> 1) as usize % INSN_LINES;
        let l = &self.insn_lines[slot];
        if !(l.pc == pc && l.pa == pa && l.raw == raw && l.len == len) {
            let mut b = Vec::with_capacity(160);
            b.extend_from_slice(b"\",\"kind\":\"insn\",\"pc\":\"");
            push_hex(&mut b, pc);
            b.extend_from_slice(b"\",\"pa\":\"");
            push_hex(&mut b, pa);
            b.extend_from_slice(b"\",\"raw\":\"0x");
            if len == 2 {
                push_hex_digits(&mut b, raw & 0xffff, 4);
            } else {
                push_hex_digits(&mut b, raw, 8);
            }
            b.extend_from_slice(b"\",\"len\":");
            push_dec(&mut b, len as u64);
            b.extend_from_slice(self.insn_text(pc, raw).json.as_bytes());
            self.insn_lines[slot] = InsnLine {
                pc,
                pa,
                raw,
                len,
                bytes: b.into(),
            };
        }
        &self.insn_lines[slot].bytes
    }

    /// The JSON line of an instruction event, built byte by byte onto `line`.
    fn jsonl_insn(&mut self, e: &Event, line: &mut Vec<u8>) {
        let Event::Insn {
            h,
            pc,
            pa,
            raw,
            len,
            rd,
            frd,
            mem,
            csrs,
        } = e
        else {
            return;
        };
        line.extend_from_slice(b"{\"hart\":");
        push_dec(line, h.hart as u64);
        line.extend_from_slice(b",\"instret\":");
        push_dec(line, h.instret);
        line.extend_from_slice(b",\"priv\":\"");
        line.extend_from_slice(priv_name(h.privilege).as_bytes());
        line.extend_from_slice(self.insn_line(*pc, *pa, *raw, *len));
        for (name, reg) in [
            (&b",\"rd\":{\"reg\":\"x"[..], rd),
            (b",\"frd\":{\"reg\":\"f", frd),
        ] {
            if let Some((r, v)) = reg {
                line.extend_from_slice(name);
                push_dec(line, *r as u64);
                line.extend_from_slice(b"\",\"value\":\"");
                push_hex(line, *v);
                line.extend_from_slice(b"\"}");
            }
        }
        if let Some(m) = mem {
            line.extend_from_slice(match (m.store, m.amo_read.is_some()) {
                (true, true) => b",\"mem\":{\"op\":\"amo\",\"va\":\"",
                (true, false) => b",\"mem\":{\"op\":\"store\",\"va\":\"",
                _ => b",\"mem\":{\"op\":\"load\",\"va\":\"",
            });
            push_hex(line, m.va);
            line.extend_from_slice(b"\",\"pa\":\"");
            push_hex(line, m.pa);
            line.extend_from_slice(b"\",\"size\":");
            push_dec(line, m.size as u64);
            line.extend_from_slice(b",\"value\":\"");
            push_hex(line, m.value);
            if let Some(read) = m.amo_read {
                line.extend_from_slice(b"\",\"read\":\"");
                push_hex(line, read);
            }
            line.extend_from_slice(b"\"}");
        }
        if let Some(csrs) = csrs {
            line.extend_from_slice(b",\"csr\":[");
            for (i, w) in csrs.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                line.extend_from_slice(b"{\"csr\":\"");
                line.extend_from_slice(crate::cpu::disasm::csr_name(w.csr as u32).as_bytes());
                line.extend_from_slice(b"\",\"value\":\"");
                push_hex(line, w.value);
                line.extend_from_slice(b"\"}");
            }
            line.push(b']');
        }
        line.extend_from_slice(b"}\n");
    }

    fn jsonl(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        if matches!(e, Event::Insn { .. }) {
            let mut line = std::mem::take(&mut self.line);
            line.clear();
            self.jsonl_insn(e, &mut line);
            let r = out.write_all(&line);
            self.line = line;
            return r;
        }
        let h = e.header();
        let mut s = format!(
            "{{\"hart\":{},\"instret\":{},\"priv\":\"{}\"",
            h.hart,
            h.instret,
            priv_name(h.privilege)
        );
        match e {
            // Written by `jsonl_insn`, which returned above.
            Event::Insn { .. } => {}
            Event::Walk { va, access, satp, steps, nsteps, result, .. } => {
                let (mode, asid, root) = satp_fields(*satp);
                s.push_str(&format!(
                    ",\"kind\":\"walk\",\"va\":\"{va:#x}\",\"access\":\"{}\",\"mode\":\"{mode}\",\"asid\":{asid},\"root\":\"{root:#x}\",\"steps\":[",
                    access.name()
                ));
                for (i, st) in steps[..*nsteps as usize].iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&format!(
                        "{{\"level\":{},\"pte_addr\":\"{:#x}\",\"pte\":\"{:#x}\",\"flags\":\"{}\"}}",
                        st.level,
                        st.pte_addr,
                        st.pte,
                        pte_flags(st.pte)
                    ));
                }
                s.push(']');
                match result {
                    WalkResult::Leaf { level, page_size, pa } => s.push_str(&format!(
                        ",\"result\":{{\"leaf_level\":{level},\"page_size\":{page_size},\"pa\":\"{pa:#x}\"}}"
                    )),
                    WalkResult::Fault { cause } => {
                        s.push_str(&format!(",\"result\":{{\"fault\":\"{}\",\"cause\":{cause}}}", Exception::cause_name(*cause)))
                    }
                }
            }
            Event::Tlb { kind, tlb, va, asid, page_size, cause, .. } => s.push_str(&format!(
                ",\"kind\":\"tlb\",\"event\":\"{}\",\"tlb\":\"{tlb}\",\"va\":\"{va:#x}\",\"asid\":{asid},\"page_size\":{page_size},\"cause\":{}",
                kind.name(),
                json_str(cause)
            )),
            Event::Satp { old, new, .. } => {
                let (om, oa, or) = satp_fields(*old);
                let (nm, na, nr) = satp_fields(*new);
                s.push_str(&format!(
                    ",\"kind\":\"satp\",\"old\":{{\"mode\":\"{om}\",\"asid\":{oa},\"root\":\"{or:#x}\",\"sym\":{}}},\"new\":{{\"mode\":\"{nm}\",\"asid\":{na},\"root\":\"{nr:#x}\",\"sym\":{}}}",
                    json_str(&self.sym(or)),
                    json_str(&self.sym(nr))
                ));
            }
            Event::Sfence { vaddr, asid, .. } => s.push_str(&format!(
                ",\"kind\":\"sfence\",\"vaddr\":{},\"asid\":{}",
                vaddr.map_or("null".into(), |v| format!("\"{v:#x}\"")),
                asid.map_or("null".into(), |a| a.to_string())
            )),
            Event::Trap { cause, interrupt, tval, epc, from, to, handler, .. } => s.push_str(&format!(
                ",\"kind\":\"trap\",\"cause\":{cause},\"name\":\"{}\",\"interrupt\":{interrupt},\"tval\":\"{tval:#x}\",\"epc\":\"{epc:#x}\",\"from\":\"{}\",\"to\":\"{}\",\"handler\":\"{handler:#x}\",\"handler_sym\":{}",
                cause_name(*cause, *interrupt),
                priv_name(*from),
                priv_name(*to),
                json_str(&self.sym(*handler))
            )),
            Event::Mode { from, to, how, .. } => s.push_str(&format!(
                ",\"kind\":\"mode\",\"from\":\"{}\",\"to\":\"{}\",\"how\":\"{how}\"",
                priv_name(*from),
                priv_name(*to)
            )),
            Event::Mmio { pa, size, value, write, .. } => s.push_str(&format!(
                ",\"kind\":\"mmio\",\"pa\":\"{pa:#x}\",\"size\":{size},\"value\":\"{value:#x}\",\"write\":{write}"
            )),
            Event::Sbi { eid, fid, args, .. } => s.push_str(&format!(
                ",\"kind\":\"sbi\",\"eid\":\"{eid:#x}\",\"ext\":\"{}\",\"fid\":{fid},\"args\":[\"{:#x}\",\"{:#x}\",\"{:#x}\"]",
                sbi_name(*eid),
                args[0],
                args[1],
                args[2]
            )),
            Event::StaleTlb { pc, va, cached_pa, walked_pa, old_pte, new_pte, .. } => s.push_str(&format!(
                ",\"kind\":\"stale_tlb\",\"pc\":\"{pc:#x}\",\"sym\":{},\"va\":\"{va:#x}\",\"cached_pa\":\"{cached_pa:#x}\",\"walked_pa\":{},\"old_pte\":\"{old_pte:#x}\",\"new_pte\":\"{new_pte:#x}\"",
                json_str(&self.sym(*pc)),
                walked_pa.map_or("null".into(), |p| format!("\"{p:#x}\""))
            )),
            // Written by the Perfetto format only.
            Event::WindowOpen { .. } => return Ok(()),
        }
        s.push('}');
        writeln!(out, "{s}")
    }

    // ---- spike commit log --------------------------------------------------------

    fn spike(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        match e {
            Event::Insn {
                h,
                pc,
                raw,
                len,
                rd,
                frd,
                mem,
                csrs,
                ..
            } => {
                let bits = if *len == 2 {
                    format!("0x{:04x}", raw & 0xffff)
                } else {
                    format!("0x{raw:08x}")
                };
                let mut s = format!("core {:>3}: {} 0x{pc:016x} ({bits})", h.hart, h.privilege);
                // Spike keeps an instruction's register writes in a map ordered by
                // `number << 4 | kind` (kind 0 x, 1 f, 4 CSR) and prints them in that order.
                let mut writes: Vec<(u32, String)> = Vec::new();
                if let Some((r, v)) = rd {
                    writes.push(((*r as u32) << 4, format!(" x{r:<2} 0x{v:016x}")));
                }
                if let Some((r, v)) = frd {
                    writes.push(((*r as u32) << 4 | 1, format!(" f{r:<2} 0x{v:016x}")));
                }
                for w in csrs.iter().flat_map(|c| c.iter()) {
                    writes.push((
                        (w.csr as u32) << 4 | 4,
                        format!(" c{}_{} 0x{:016x}", w.csr, spike_csr_name(w.csr), w.value),
                    ));
                }
                writes.sort_by_key(|(key, _)| *key);
                for (_, text) in &writes {
                    s.push_str(text);
                }
                // Loads are printed before stores; an AMO makes one of each.
                if let Some(m) = mem {
                    if !m.store || m.amo_read.is_some() {
                        s.push_str(&format!(" mem 0x{:016x}", m.va));
                    }
                    if m.store {
                        let w = m.size as usize * 2;
                        s.push_str(&format!(" mem 0x{:016x} 0x{:0w$x}", m.va, m.value));
                    }
                }
                writeln!(out, "{s}")
            }
            Event::Trap {
                h,
                cause,
                interrupt,
                tval,
                epc,
                ..
            } => {
                let name = if *interrupt {
                    format!("interrupt #{cause}")
                } else {
                    match Exception::cause_name(*cause) {
                        "reserved" => format!("trap #{cause}"),
                        name => format!("trap_{name}"),
                    }
                };
                writeln!(
                    out,
                    "core {:>3}: exception {name}, epc 0x{epc:016x}",
                    h.hart
                )?;
                // Spike's traps carry a tval except environment calls and interrupts.
                if !*interrupt && !matches!(cause, 8..=11) {
                    writeln!(out, "core {:>3}:           tval 0x{tval:016x}", h.hart)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    // ---- perfetto (Chrome trace JSON) ---------------------------------------------

    fn perfetto(&mut self, e: &Event, out: &mut dyn Write) -> io::Result<()> {
        let h = e.header();
        let t = ts(h.instret);
        let tid = perfetto_tid(h.hart);
        let hart = h.hart as usize;
        if hart >= self.perfetto_harts.len() {
            self.perfetto_harts
                .resize_with(hart + 1, PerfettoHart::default);
        }
        if !self.perfetto_harts[hart].named {
            self.perfetto_harts[hart].named = true;
            writeln!(
                out,
                ",{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":\"hart {}\"}}}}",
                h.hart
            )?;
        }
        self.perfetto_harts[hart].last_instret = h.instret;
        match e {
            // The phase in force where a `--trace-from` window opens starts with it.
            Event::Satp { new, .. } | Event::WindowOpen { satp: new, .. } => {
                let open = &self.perfetto_harts[hart].phase;
                // Rewriting the satp in force (e.g. switching to the same address space)
                // does not start a new phase.
                if open.as_ref().is_some_and(|(satp, _)| satp == new) {
                    return Ok(());
                }
                let (mode, asid, root) = satp_fields(*new);
                let sym = self.sym(root);
                let name = if mode == "bare" {
                    "bare".to_string()
                } else if sym.is_empty() {
                    format!("{mode} root {root:#x} asid {asid}")
                } else {
                    format!("{mode} {sym}")
                };
                if let Some((_, prev)) = self.perfetto_harts[hart].phase.take() {
                    writeln!(
                        out,
                        ",{{\"name\":{},\"ph\":\"E\",\"pid\":1,\"tid\":{tid},\"ts\":{t}}}",
                        json_str(&prev)
                    )?;
                }
                writeln!(
                    out,
                    ",{{\"name\":{},\"cat\":\"phase\",\"ph\":\"B\",\"pid\":1,\"tid\":{tid},\"ts\":{t},\"args\":{{\"satp\":\"{new:#x}\"}}}}",
                    json_str(&name)
                )?;
                self.perfetto_harts[hart].phase = Some((*new, name));
            }
            Event::Trap {
                cause,
                interrupt,
                epc,
                ..
            } => writeln!(
                out,
                ",{{\"name\":{},\"cat\":\"trap\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{tid},\"ts\":{t},\"args\":{{\"epc\":\"{epc:#x}\"}}}}",
                json_str(cause_name(*cause, *interrupt))
            )?,
            Event::Tlb { kind, tlb, .. } => self.perfetto_harts[hart].count_tlb(*kind, tlb),
            Event::Walk {
                pwc_hit,
                pwc_missed,
                ..
            } => self.perfetto_harts[hart].count_walk(*pwc_hit, *pwc_missed),
            _ => {}
        }
        let state = &mut self.perfetto_harts[hart];
        if h.instret >= state.last_counter_at + COUNTER_INTERVAL {
            state.write_counters(h.hart, h.instret, out)?;
        }
        Ok(())
    }
}

/// Instructions between two samples of the perfetto counters.
const COUNTER_INTERVAL: u64 = 10_000;

/// Perfetto's JSON importer files events of thread 0 under the process's main thread,
/// so hart 0 would share a track with hart 1; thread ids start at 1 instead.
fn perfetto_tid(hart: u32) -> u64 {
    u64::from(hart) + 1
}

/// What the perfetto format keeps per hart.
#[derive(Default)]
struct PerfettoHart {
    /// Its thread_name metadata has been written.
    named: bool,
    /// The satp in force and the name of its open phase slice.
    phase: Option<(u64, String)>,
    last_instret: u64,
    last_counter_at: u64,
    /// Since the start: TLB misses at any level, and page walks.
    tlb_misses: u64,
    walks: u64,
    /// Since the start: page-walk cache hits and misses by level (1..=4), and whether any
    /// walk probed one (its counter track exists only then).
    pwc_hits: [u64; 5],
    pwc_misses: [u64; 5],
    pwc_seen: bool,
    /// Since the last counter sample: (lookups, misses) in the L1I, L1D and L2 TLBs.
    window: [(u64, u64); 3],
}

impl PerfettoHart {
    fn count_walk(&mut self, pwc_hit: u8, pwc_missed: u8) {
        self.walks += 1;
        if let Some(h) = self
            .pwc_hits
            .get_mut(pwc_hit as usize)
            .filter(|_| pwc_hit > 0)
        {
            *h += 1;
            self.pwc_seen = true;
        }
        for (level, m) in self.pwc_misses.iter_mut().enumerate() {
            if pwc_missed & (1 << level) != 0 {
                *m += 1;
                self.pwc_seen = true;
            }
        }
    }

    fn count_tlb(&mut self, kind: super::TlbKind, tlb: &str) {
        let level = match tlb {
            "l1i" => 0,
            "l1d" => 1,
            "l2" => 2,
            _ => return,
        };
        match kind {
            super::TlbKind::Hit => self.window[level].0 += 1,
            super::TlbKind::Miss => {
                self.window[level].0 += 1;
                self.window[level].1 += 1;
                self.tlb_misses += 1;
            }
            _ => {}
        }
    }

    /// Samples the counters at `instret`: the running totals, and the miss ratios since
    /// the previous sample.
    fn write_counters(&mut self, hart: u32, instret: u64, out: &mut dyn Write) -> io::Result<()> {
        self.last_counter_at = instret;
        let t = ts(instret);
        let suffix = if hart == 0 {
            String::new()
        } else {
            format!(" hart {hart}")
        };
        writeln!(
            out,
            ",{{\"name\":\"translation{suffix}\",\"ph\":\"C\",\"pid\":1,\"ts\":{t},\"args\":{{\"tlb_misses\":{},\"walks\":{}}}}}",
            self.tlb_misses, self.walks
        )?;
        if self.pwc_seen {
            let mut args = Vec::new();
            for level in 1..self.pwc_hits.len() {
                let (h, m) = (self.pwc_hits[level], self.pwc_misses[level]);
                if h + m > 0 {
                    args.push(format!(
                        "\"level{level}_hits\":{h},\"level{level}_misses\":{m}"
                    ));
                }
            }
            writeln!(
                out,
                ",{{\"name\":\"page_walk_cache{suffix}\",\"ph\":\"C\",\"pid\":1,\"ts\":{t},\"args\":{{{}}}}}",
                args.join(",")
            )?;
        }
        let rates = self.take_miss_rates();
        if !rates.is_empty() {
            writeln!(
                out,
                ",{{\"name\":\"tlb_miss_rate{suffix}\",\"ph\":\"C\",\"pid\":1,\"ts\":{t},\"args\":{{{rates}}}}}"
            )?;
        }
        Ok(())
    }

    /// `"l1i":r,...` miss ratios of the TLBs looked up since the last sample (one
    /// counter track per TLB), and a new window.
    fn take_miss_rates(&mut self) -> String {
        let mut args = String::new();
        for (name, (lookups, misses)) in ["l1i", "l1d", "l2"].iter().zip(self.window) {
            if lookups > 0 {
                if !args.is_empty() {
                    args.push(',');
                }
                args.push_str(&format!("\"{name}\":{:.6}", misses as f64 / lookups as f64));
            }
        }
        self.window = [(0, 0); 3];
        args
    }
}

/// A CSR's name as Spike's commit log writes it.
fn spike_csr_name(csr: u16) -> String {
    match csr {
        0x309 => "mvip".into(),
        _ => crate::cpu::disasm::csr_name(csr as u32),
    }
}

/// Chrome trace timestamps are microseconds; one retired instruction is shown as 1 ns.
fn ts(instret: u64) -> String {
    format!("{}.{:03}", instret / 1000, instret % 1000)
}

fn mem_text(m: &MemAccess) -> String {
    if let Some(read) = m.amo_read {
        let at = if m.va == m.pa {
            format!("{:#x}", m.va)
        } else {
            format!("{:#x} -> pa {:#x}", m.va, m.pa)
        };
        return format!("amo{} [{at}] {read:#x} -> {:#x}", m.size * 8, m.value);
    }
    let op = if m.store { "store" } else { "load" };
    if m.va == m.pa {
        format!("{op}{} [{:#x}] = {:#x}", m.size * 8, m.va, m.value)
    } else {
        format!(
            "{op}{} [{:#x} -> pa {:#x}] = {:#x}",
            m.size * 8,
            m.va,
            m.pa,
            m.value
        )
    }
}

/// Name of an SBI extension ID.
pub fn sbi_name(eid: u64) -> &'static str {
    match eid {
        0x00 => "legacy_set_timer",
        0x01 => "legacy_console_putchar",
        0x02 => "legacy_console_getchar",
        0x08 => "legacy_shutdown",
        0x10 => "BASE",
        0x5449_4D45 => "TIME",
        0x73_5049 => "IPI",
        0x5246_4E43 => "RFENCE",
        0x48_534D => "HSM",
        0x5352_5354 => "SRST",
        0x4442_434E => "DBCN",
        0x50_4D55 => "PMU",
        _ => "unknown",
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod digit_tests {
    use super::*;

    /// Values around every digit-count boundary, plus a spread of others.
    fn samples() -> Vec<u64> {
        let mut v = vec![0, 1, 9, 10, 15, 16, u64::MAX, u64::MAX - 1];
        for shift in 0..64 {
            let p = 1u64 << shift;
            v.extend([p, p - 1, p + 1, p.wrapping_mul(0x9e37_79b9_7f4a_7c15)]);
        }
        let mut p = 1u64;
        while let Some(q) = p.checked_mul(10) {
            v.extend([p - 1, p, p + 1, q - 1]);
            p = q;
        }
        v
    }

    #[test]
    fn hex_and_decimal_match_std_formatting() {
        for v in samples() {
            let mut b = vec![b'['];
            push_hex(&mut b, v);
            push_dec(&mut b, v);
            push_hex_digits(&mut b, v as u32, 8);
            push_hex_digits(&mut b, v as u32 & 0xffff, 4);
            let want = format!("[{v:#x}{v}{:08x}{:04x}", v as u32, v as u32 & 0xffff);
            assert_eq!(String::from_utf8(b).unwrap(), want);
        }
    }
}

#[cfg(test)]
mod walk_line_tests {
    use super::*;
    use crate::trace::{Access, Header, WalkStep};

    fn walk(va: u64) -> Event {
        let step = WalkStep {
            level: 2,
            pte_addr: 0x8000_1000,
            pte: 0,
        };
        Event::Walk {
            h: Header {
                hart: 0,
                instret: 5,
                privilege: 1,
            },
            va,
            access: Access::Load,
            satp: 8 << 60 | 0x80001,
            steps: Box::new([step; 5]),
            nsteps: 1,
            result: WalkResult::Fault { cause: 13 },
            pwc_hit: 0,
            pwc_missed: 0,
        }
    }

    /// Walk lines wait for the instruction line they go under only when instruction
    /// events come; otherwise each is written as it comes, not held until the end.
    #[test]
    fn walk_lines_wait_only_for_traced_instructions() {
        for insns in [false, true] {
            let mut f = Formatter::new(
                Format::Text,
                Symbolizer::default(),
                |_, _| String::new(),
                insns,
            );
            let mut out = Vec::new();
            f.write(&walk(0x1000), &mut out).unwrap();
            assert_eq!(out.is_empty(), insns, "insns {insns}");
            f.write(&walk(0x2000), &mut out).unwrap();
            f.end(&mut out, 5).unwrap();
            let text = String::from_utf8(out).unwrap();
            let first = text
                .find("walk  0000000000001000 load")
                .expect("first walk");
            let second = text
                .find("walk  0000000000002000 load")
                .expect("second walk");
            assert!(first < second, "{text}");
        }
    }
}

#[cfg(test)]
mod walk_text_tests {
    use super::*;
    use crate::trace::{Access, Header, WalkStep};

    /// The layout of a walk's text written with `format!`, as the hand-built bytes must
    /// read: indented under `[h{hart} {instret:>10} {priv}]`, one line per step.
    fn reference(
        h: Header,
        va: u64,
        access: Access,
        satp: u64,
        steps: &[WalkStep],
        result: WalkResult,
    ) -> String {
        let head = format!("[h{} {:>10} {}]", h.hart, h.instret, priv_name(h.privilege));
        let pad = " ".repeat(head.len() + 3);
        let (mode, asid, root) = satp_fields(satp);
        let mut s = format!(
            "{pad}walk  {va:016x} {:<5} {mode} asid={asid} root={root:#x} ",
            access.name()
        );
        for st in steps {
            s += &format!(
                "\n{pad}  L{} pte@{:#x} = {:#018x} {}",
                st.level,
                st.pte_addr,
                st.pte,
                pte_flags(st.pte)
            );
        }
        match result {
            WalkResult::Leaf {
                level,
                page_size,
                pa,
            } => {
                s += &format!(
                    "\n{pad}  -> leaf L{level} {} pa={pa:#x}",
                    page_size_name(page_size)
                )
            }
            WalkResult::Fault { cause } => {
                s += &format!("\n{pad}  -> fault {}", Exception::cause_name(cause))
            }
        }
        s
    }

    #[test]
    fn walk_text_reads_as_its_layout() {
        let steps = [
            WalkStep {
                level: 2,
                pte_addr: 0x8020_1ff8,
                pte: 0x2008_0401,
            },
            WalkStep {
                level: 1,
                pte_addr: 0x8020_2000,
                pte: 0x0000_0000_2008_08cf,
            },
            WalkStep {
                level: 0,
                pte_addr: 0x8_0000,
                pte: 0xffff_ffff_ffff_ffff,
            },
        ];
        let results = [
            WalkResult::Leaf {
                level: 1,
                page_size: 0x20_0000,
                pa: 0x8020_0000,
            },
            WalkResult::Leaf {
                level: 0,
                page_size: 0x3000,
                pa: 0,
            },
            WalkResult::Fault { cause: 15 },
        ];
        let mut f = Formatter::new(
            Format::Text,
            Symbolizer::default(),
            |_, _| String::new(),
            false,
        );
        for (hart, instret) in [
            (0, 0),
            (1, 1_234_567_890),
            (12, 98_765_432_101),
            (3, u64::MAX),
        ] {
            for (access, satp) in [
                (Access::Fetch, 8 << 60 | 7 << 44 | 0x80201),
                (Access::Store, 9u64 << 60),
                (Access::Load, 0),
            ] {
                for (n, result) in results.iter().enumerate() {
                    let h = Header {
                        hart,
                        instret,
                        privilege: (n as u8) | 1,
                    };
                    let mut boxed = [WalkStep {
                        level: 0,
                        pte_addr: 0,
                        pte: 0,
                    }; 5];
                    boxed[..n + 1].copy_from_slice(&steps[..n + 1]);
                    let e = Event::Walk {
                        h,
                        va: 0xffff_ffd8_0000_1234 >> n,
                        access,
                        satp,
                        steps: Box::new(boxed),
                        nsteps: n as u8 + 1,
                        result: *result,
                        pwc_hit: 0,
                        pwc_missed: 0,
                    };
                    let mut line = Vec::new();
                    f.walk_text(&e, &mut line);
                    assert_eq!(
                        String::from_utf8(line).unwrap(),
                        reference(
                            h,
                            0xffff_ffd8_0000_1234 >> n,
                            access,
                            satp,
                            &steps[..n + 1],
                            *result
                        )
                    );
                }
            }
        }
    }
}

//! `emu run --save-at WHERE --save FILE` and `emu run --restore FILE`: the run's
//! configuration in the snapshot (which images, which board), checked and taken back on
//! restore; the report counted from the snapshot point.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Clock, Failure, RunArgs};
use crate::machine::savepoint::SavePoint;
use crate::machine::stats::Report;
use crate::machine::Machine;
use crate::mmu::TlbRestore;
use crate::snapshot::format::{self, Reader, SnapError, Writer};
use crate::trace::symbols::Symbolizer;

/// A snapshot being restored: the parsed file and the counters at its point.
pub struct Restored {
    pub path: PathBuf,
    file: format::File,
    /// The report of the restored machine before it runs (filled by [`Restored::apply`]).
    pub before: Option<Report>,
    /// Whether the TLB model takes the saved contents or starts empty (`--tlb` given).
    tlb: TlbRestore,
    /// The TLB geometry the snapshot was saved with (what the counters before it
    /// measured).
    saved_tlb: String,
}

/// What identifies an input file: its length and CRC-32.
fn identity(data: &[u8]) -> (u64, u32) {
    (data.len() as u64, crc32fast::hash(data))
}

fn file_identity(role: &str, path: &Path) -> Result<(u64, u32), Failure> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| {
        Failure::image(format!(
            "cannot read the {role} {}: {}",
            path.display(),
            crate::machine::loader::os_error(&e)
        ))
    })?;
    // Streamed: disk images may be large.
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            Failure::image(format!(
                "cannot read the {role} {}: {}",
                path.display(),
                crate::machine::loader::os_error(&e)
            ))
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hasher.finalize()))
}

/// Absolute form of a path the user gave, so a snapshot restores from any directory.
fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// (length, CRC-32) of each input, in [`BootSpec::files`] or [`BootSpec::builtins`] order.
type Identities = Vec<(u64, u32)>;

/// The board and boot arguments of a run: what a snapshot must hold to be continued.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BootSpec {
    memory: u64,
    smp: u16,
    /// 0 Sv39, 1 Sv48, 2 Sv57.
    paging: u8,
    svadu: bool,
    tlb: String,
    append: String,
    kaslr_seed: Option<u64>,
    bios: String,
    guest: Option<PathBuf>,
    initrd: Option<PathBuf>,
    dtb: Option<PathBuf>,
    disks: Vec<PathBuf>,
    snapshot: bool,
    symbols: Vec<PathBuf>,
}

impl BootSpec {
    fn of(args: &RunArgs) -> BootSpec {
        let m = &args.machine;
        let abs = |p: &Option<PathBuf>| p.as_deref().map(absolute);
        BootSpec {
            memory: m.memory,
            smp: m.smp,
            paging: if m.sv39 {
                0
            } else if m.sv48 {
                1
            } else {
                2
            },
            svadu: m.svadu,
            tlb: m.tlb.unwrap_or_default().to_string(),
            append: m.append.clone(),
            kaslr_seed: m.kaslr_seed,
            bios: match args.bios.as_str() {
                b @ ("builtin" | "none") => b.to_string(),
                path => absolute(Path::new(path)).display().to_string(),
            },
            guest: abs(&args.guest),
            initrd: abs(&args.initrd),
            dtb: abs(&args.dtb),
            disks: args.disk.iter().map(|p| absolute(p)).collect(),
            snapshot: args.snapshot,
            symbols: args.symbols.iter().map(|p| absolute(p)).collect(),
        }
    }

    /// The files whose contents the run depends on, with their roles.
    fn files(&self) -> Vec<(&'static str, PathBuf)> {
        let mut v = Vec::new();
        if !matches!(self.bios.as_str(), "builtin" | "none") {
            v.push(("firmware", PathBuf::from(&self.bios)));
        }
        v.extend(self.guest.iter().map(|p| ("kernel image", p.clone())));
        v.extend(self.initrd.iter().map(|p| ("initrd", p.clone())));
        v.extend(self.dtb.iter().map(|p| ("device tree", p.clone())));
        v.extend(self.disks.iter().map(|p| ("disk image", p.clone())));
        v.extend(self.symbols.iter().map(|p| ("symbols file", p.clone())));
        v
    }

    /// The built-in images the run uses (they change with the emu build).
    fn builtins(&self) -> Vec<(&'static str, &'static [u8])> {
        let mut v = Vec::new();
        if self.bios == "builtin" {
            v.push(("built-in firmware", crate::images::FIRMWARE));
        }
        if self.guest.is_none() {
            v.push(("built-in guest kernel", crate::images::GUEST_KERNEL));
        }
        v
    }

    fn write(&self, w: &mut Writer) -> Result<(), Failure> {
        w.u64(self.memory);
        w.u16(self.smp);
        w.u8(self.paging);
        w.bool(self.svadu);
        w.str(&self.tlb);
        w.str(&self.append);
        w.opt_u64(self.kaslr_seed);
        w.str(&self.bios);
        let path = |w: &mut Writer, p: &Option<PathBuf>| match p {
            Some(p) => {
                w.u8(1);
                w.str(&p.display().to_string());
            }
            None => w.u8(0),
        };
        path(w, &self.guest);
        path(w, &self.initrd);
        path(w, &self.dtb);
        for list in [&self.disks, &self.symbols] {
            w.u64(list.len() as u64);
            for p in list {
                w.str(&p.display().to_string());
            }
        }
        w.bool(self.snapshot);
        // The identities, checked on restore.
        let files = self.files();
        w.u64(files.len() as u64);
        for (role, p) in &files {
            let (len, crc) = file_identity(role, p)?;
            w.u64(len);
            w.u32(crc);
        }
        let builtins = self.builtins();
        w.u64(builtins.len() as u64);
        for (_, data) in &builtins {
            let (len, crc) = identity(data);
            w.u64(len);
            w.u32(crc);
        }
        Ok(())
    }

    /// The spec and the identities (length, CRC-32) of its files and built-in images.
    fn read(r: &mut Reader) -> format::Result<(BootSpec, Identities, Identities)> {
        let memory = r.u64()?;
        let smp = r.u16()?;
        let paging = r.u8()?;
        if paging > 2 || smp == 0 || smp > 64 {
            return Err(r.error("names a board emu does not build"));
        }
        let svadu = r.bool()?;
        let tlb = r.str()?;
        let append = r.str()?;
        let kaslr_seed = r.opt_u64()?;
        let bios = r.str()?;
        let path = |r: &mut Reader| -> format::Result<Option<PathBuf>> {
            Ok(if r.bool()? {
                Some(PathBuf::from(r.str()?))
            } else {
                None
            })
        };
        let guest = path(r)?;
        let initrd = path(r)?;
        let dtb = path(r)?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            for _ in 0..r.len(8)? {
                list.push(PathBuf::from(r.str()?));
            }
        }
        let [disks, symbols] = lists;
        let snapshot = r.bool()?;
        let spec = BootSpec {
            memory,
            smp,
            paging,
            svadu,
            tlb,
            append,
            kaslr_seed,
            bios,
            guest,
            initrd,
            dtb,
            disks,
            snapshot,
            symbols,
        };
        let mut ids = [Vec::new(), Vec::new()];
        for list in &mut ids {
            for _ in 0..r.len(12)? {
                list.push((r.u64()?, r.u32()?));
            }
        }
        let [files, builtins] = ids;
        if files.len() != spec.files().len() || builtins.len() != spec.builtins().len() {
            return Err(r.error("does not list one identity per input"));
        }
        Ok((spec, files, builtins))
    }
}

/// `--save` with `{n}` replaced by the save point's number (1-based).
pub fn save_path(template: &Path, point: &SavePoint) -> PathBuf {
    PathBuf::from(
        template
            .display()
            .to_string()
            .replace("{n}", &(point.id + 1).to_string()),
    )
}

/// Check `--save-at`/`--save` before the run; refuse what cannot be saved.
pub fn check_save_args(args: &RunArgs) -> Result<(), Failure> {
    let Some(template) = &args.save else {
        return Ok(());
    };
    if args.save_at.len() > 1 && !template.display().to_string().contains("{n}") {
        return Err(Failure::usage(
            "several --save-at points need {n} in the --save file name (e.g. --save boot-{n}.snap)",
        ));
    }
    if args.gdb.is_some() {
        return Err(Failure::usage(
            "--save-at cannot be combined with --gdb: save first, then debug with --restore FILE --gdb PORT",
        ));
    }
    if args.clock == Clock::Host {
        return Err(Failure::usage(
            "--save-at needs the deterministic clock: drop --clock host",
        ));
    }
    if args.machine.check_tlb {
        return Err(Failure::usage(
            "--save-at cannot be combined with --check-tlb (its findings cannot be saved)",
        ));
    }
    let first = SavePoint {
        id: 0,
        insn: None,
        pcs: Vec::new(),
    };
    super::check_writable("snapshot file", &save_path(template, &first))
}

/// Write the snapshot of `m`, paused at its reached save point, to the `--save` file.
pub fn save(m: &Machine, args: &RunArgs) -> Result<(), Failure> {
    let Some(template) = &args.save else {
        return Ok(());
    };
    let start = Instant::now();
    let point = m.reached_save_point.clone().unwrap_or(SavePoint {
        id: 0,
        insn: None,
        pcs: Vec::new(),
    });
    let path = save_path(template, &point);
    let mut conf = Writer::new();
    BootSpec::of(args).write(&mut conf)?;
    let bytes = crate::snapshot::capture(m, conf.buf)
        .map_err(|e| Failure::image(format!("cannot save {}: {e}", path.display())))?;
    super::write_atomically("snapshot file", &path, &bytes)?;
    super::progress::hide();
    eprintln!(
        "emu: saved {} at instruction {} ({:.1} MiB, {:.2}s)",
        path.display(),
        m.total_insns,
        bytes.len() as f64 / (1 << 20) as f64,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `--restore FILE`: read and check the snapshot and make `args` describe its run.
/// Arguments that contradict the snapshot are refused.
pub fn prepare_restore(args: &mut RunArgs) -> Result<Option<Restored>, Failure> {
    let Some(path) = args.restore.clone() else {
        return Ok(None);
    };
    let fail = |e: SnapError| Failure::image(format!("cannot restore {}: {e}", path.display()));
    let data = std::fs::read(&path).map_err(|e| {
        Failure::image(format!(
            "cannot read the snapshot {}: {}",
            path.display(),
            crate::machine::loader::os_error(&e)
        ))
    })?;
    let file = format::File::decode(&data).map_err(fail)?;
    drop(data);
    let mut r = Reader::new(
        file.one(format::tag::CONFIG).map_err(fail)?,
        "configuration",
    );
    let (spec, file_ids, builtin_ids) = BootSpec::read(&mut r).map_err(fail)?;
    r.finish().map_err(fail)?;
    crate::snapshot::machine_info(&file).map_err(fail)?;

    // Everything that decides the board must be the snapshot's.
    let given = BootSpec::of(args);
    let default = default_spec().unwrap_or_else(|| given.clone());
    let mut contradictions = Vec::new();
    let mut check = |flag: &str, differs_from_default: bool, differs_from_snapshot: bool| {
        if differs_from_default && differs_from_snapshot {
            contradictions.push(flag.to_string());
        }
    };
    check(
        "-m",
        given.memory != default.memory,
        given.memory != spec.memory,
    );
    check("--smp", given.smp != default.smp, given.smp != spec.smp);
    check(
        "--sv39/--sv48/--sv57",
        given.paging != default.paging,
        given.paging != spec.paging,
    );
    check(
        "--svadu",
        given.svadu != default.svadu,
        given.svadu != spec.svadu,
    );
    check(
        "--append",
        given.append != default.append,
        given.append != spec.append,
    );
    check(
        "--kaslr-seed",
        given.kaslr_seed != default.kaslr_seed,
        given.kaslr_seed != spec.kaslr_seed,
    );
    check(
        "--bios",
        given.bios != default.bios,
        given.bios != spec.bios,
    );
    check("GUEST", given.guest.is_some(), given.guest != spec.guest);
    check(
        "--initrd",
        given.initrd.is_some(),
        given.initrd != spec.initrd,
    );
    check("--dtb", given.dtb.is_some(), given.dtb != spec.dtb);
    check("--disk", !given.disks.is_empty(), given.disks != spec.disks);
    check(
        "--snapshot",
        given.snapshot,
        given.snapshot != spec.snapshot,
    );
    check("--clock host", args.clock == Clock::Host, true);
    if !contradictions.is_empty() {
        return Err(Failure::image(format!(
            "{} contradicts the snapshot {}, which holds the whole machine: drop it",
            contradictions.join(", "),
            path.display()
        )));
    }

    // The images must be the ones the snapshot was taken with.
    for ((role, p), (len, crc)) in spec.files().iter().zip(&file_ids) {
        let now = file_identity(role, p)?;
        if now != (*len, *crc) {
            return Err(Failure::image(format!(
                "cannot restore {}: the {role} {} changed since the snapshot was taken ({} bytes, CRC-32 {:08x}; now {} bytes, {:08x})",
                path.display(),
                p.display(),
                len,
                crc,
                now.0,
                now.1
            )));
        }
    }
    for ((role, data), id) in spec.builtins().iter().zip(&builtin_ids) {
        if identity(data) != *id {
            return Err(Failure::image(format!(
                "cannot restore {}: the {role} of this emu differs from the one the snapshot was taken with",
                path.display()
            )));
        }
    }

    let m = &mut args.machine;
    m.memory = spec.memory;
    m.smp = spec.smp;
    (m.sv39, m.sv48, m.sv57) = (spec.paging == 0, spec.paging == 1, spec.paging == 2);
    m.svadu = spec.svadu;
    // The TLB model is no part of the architecture: another geometry may measure the
    // rest of the run (the gem5 checkpoint habit), starting empty.
    let tlb = if given.tlb != default.tlb && given.tlb != spec.tlb {
        eprintln!(
            "emu: note: restoring {} with --tlb {} (saved with {}): the TLB model starts empty",
            path.display(),
            given.tlb,
            spec.tlb
        );
        TlbRestore::Cold
    } else {
        m.tlb = Some(spec.tlb.parse().map_err(|e: String| {
            fail(SnapError(format!(
                "configuration names a TLB model emu cannot build: {e}"
            )))
        })?);
        TlbRestore::Saved
    };
    m.append = spec.append.clone();
    m.kaslr_seed = spec.kaslr_seed;
    args.bios = spec.bios.clone();
    args.guest = spec.guest.clone();
    args.initrd = spec.initrd.clone();
    args.dtb = spec.dtb.clone();
    args.disk = spec.disks.clone();
    args.snapshot = spec.snapshot;
    let mut symbols = spec.symbols.clone();
    symbols.extend(
        given
            .symbols
            .into_iter()
            .filter(|p| !spec.symbols.contains(p)),
    );
    args.symbols = symbols;
    Ok(Some(Restored {
        path,
        file,
        before: None,
        tlb,
        saved_tlb: spec.tlb.clone(),
    }))
}

/// The spec of `emu run` with no arguments (what "not given" looks like).
fn default_spec() -> Option<BootSpec> {
    use clap::Parser;
    match super::Cli::try_parse_from(["emu", "run"]) {
        Ok(super::Cli {
            command: super::Command::Run(args),
        }) => Some(BootSpec::of(&args)),
        _ => None,
    }
}

impl Restored {
    /// Put the snapshot's state into `m` (just built from the snapshot's configuration)
    /// and remember the counters at the point.
    pub fn apply(&mut self, m: &mut Machine, symbols: &Symbolizer) -> Result<(), Failure> {
        let start = Instant::now();
        let info = crate::snapshot::restore(m, &self.file, self.tlb)
            .map_err(|e| Failure::image(format!("cannot restore {}: {e}", self.path.display())))?;
        self.file = format::File::default();
        let mut before = Report::collect(m, std::time::Duration::ZERO, symbols, false);
        before.tlb_config = self.saved_tlb.clone();
        self.before = Some(before);
        if m.observed && !info.observed {
            eprintln!(
                "emu: note: {} was saved from a run without --stats or --trace: the TLB model's contents and counters at its point are not those of an observed run",
                self.path.display()
            );
        }
        eprintln!(
            "emu: restored {} at instruction {} ({:.2}s)",
            self.path.display(),
            m.total_insns,
            start.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// What happened after the snapshot point: `after` less `before`.
pub fn since(after: &Report, before: &Report) -> Report {
    let mut r = after.clone();
    r.instructions = after.instructions.saturating_sub(before.instructions);
    for (n, b) in r.per_hart.iter_mut().zip(&before.per_hart) {
        *n = n.saturating_sub(*b);
    }
    for (n, b) in r.by_privilege.iter_mut().zip(&before.by_privilege) {
        *n = n.saturating_sub(*b);
    }
    r.mmu = after.mmu.since(&before.mmu);
    for (n, b) in r.traps.exceptions.iter_mut().zip(&before.traps.exceptions) {
        *n = n.saturating_sub(*b);
    }
    for (n, b) in r.traps.interrupts.iter_mut().zip(&before.traps.interrupts) {
        *n = n.saturating_sub(*b);
    }
    r.phases = after
        .phases
        .iter()
        .filter_map(|p| {
            let mut p = p.clone();
            if let Some(b) = before.phases.iter().find(|b| b.satp == p.satp) {
                p.instructions = p.instructions.saturating_sub(b.instructions);
                p.mmu = p.mmu.since(&b.mmu);
            }
            (p.instructions > 0 || p.mmu != Default::default()).then_some(p)
        })
        .collect();
    r.stale = after
        .stale
        .iter()
        .skip(before.stale.len())
        .cloned()
        .collect();
    r
}

/// The JSON report with the counters at the snapshot point as `before_snapshot`.
pub fn json_with_before(report: &Report, before: &Report) -> String {
    let mut s = report.json();
    let body = s.trim_end().trim_end_matches('}').trim_end().to_string();
    let before_json: String = before
        .json()
        .trim_end()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    s = format!("{body},\n  \"before_snapshot\": {before_json}\n}}\n");
    s
}

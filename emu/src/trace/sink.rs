//! The sink thread: receives event batches and writes them in the chosen format.
//! The file is written through a buffer and flushed and synced when the producer closes
//! the channel, so a stop for any reason (poweroff, crash, --max-insns, Ctrl-C, SIGTERM)
//! leaves a complete file.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::format::{Disassembler, Formatter};
use super::symbols::Symbolizer;
use super::{Event, Format};

/// Batches in flight before the producer blocks.
const CHANNEL_BATCHES: usize = 64;

/// Formatted bytes collected before a write to the output.
const WRITE_AT: usize = 1 << 18;

pub struct Sink {
    handle: Option<JoinHandle<std::io::Result<u64>>>,
    written: Arc<AtomicU64>,
}

/// Where the trace goes.
pub enum Output {
    Stdout,
    Stderr,
    File(PathBuf),
}

impl Sink {
    /// Start the sink thread; returns it and the sender for the tracer. `insns`: whether
    /// instruction events are traced.
    pub fn start(
        output: Output,
        format: Format,
        symbols: Symbolizer,
        disasm: Disassembler,
        insns: bool,
    ) -> std::io::Result<(Sink, crossbeam_channel::Sender<Vec<Event>>)> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Event>>(CHANNEL_BATCHES);
        let writer: Box<dyn Write + Send> = match output {
            Output::Stdout => Box::new(std::io::stdout()),
            Output::Stderr => Box::new(std::io::stderr()),
            Output::File(p) => Box::new(File::create(&p)?),
        };
        let written = Arc::new(AtomicU64::new(0));
        let written_by_sink = written.clone();
        let handle = std::thread::Builder::new()
            .name("trace-sink".into())
            .spawn(move || {
                // Lines are built straight into this buffer, which goes to the file in
                // large writes (no second copy through a BufWriter).
                let mut out = writer;
                let mut buf = Vec::with_capacity(WRITE_AT + (WRITE_AT >> 2));
                let mut f = Formatter::new(format, symbols, disasm, insns);
                f.begin(&mut buf)?;
                let mut n = 0u64;
                let mut last = 0;
                for batch in rx {
                    for e in &batch {
                        f.write_buffered(e, &mut buf)?;
                        last = e.header().instret;
                    }
                    n += batch.len() as u64;
                    if buf.len() >= WRITE_AT {
                        out.write_all(&buf)?;
                        written_by_sink.fetch_add(buf.len() as u64, Ordering::Relaxed);
                        buf.clear();
                    }
                }
                f.end(&mut buf, last)?;
                out.write_all(&buf)?;
                out.flush()?;
                Ok(n)
            })?;
        Ok((
            Sink {
                handle: Some(handle),
                written,
            },
            tx,
        ))
    }

    /// Bytes written to the output so far (in steps of about 256 KiB).
    pub fn written(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }

    /// Wait for the sink to write everything (call after the tracer's `finish`).
    pub fn join(mut self) -> std::io::Result<u64> {
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("trace sink thread failed")),
            None => Ok(0),
        }
    }
}

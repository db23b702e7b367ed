//! The console of a spawned `emu`, read on a thread so a test can wait for text with a
//! deadline (shared by the tests that type into a guest shell).

use std::io::Read;
use std::sync::mpsc;
use std::time::Instant;

/// Reads emu's console on a thread so the test can wait for text with a deadline.
pub struct ConsoleReader {
    chunks: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl ConsoleReader {
    pub fn new(mut out: impl Read + Send + 'static) -> Self {
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        ConsoleReader {
            chunks,
            seen: String::new(),
        }
    }

    /// Wait until `needle` appears after byte `from` of the console; its end offset.
    pub fn wait_for(
        &mut self,
        needle: &str,
        from: usize,
        deadline: Instant,
    ) -> Result<usize, String> {
        loop {
            if let Some(i) = self.seen[from.min(self.seen.len())..].find(needle) {
                return Ok(from + i + needle.len());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(c) => self.seen.push_str(&String::from_utf8_lossy(&c)),
                Err(_) => {
                    return Err(format!(
                        "no {needle:?} on the console; it shows:\n{}",
                        self.seen
                    ))
                }
            }
        }
    }
}

//! Console output through SBI, with `print!`/`println!`.
//!
//! `print!` formats through `core::fmt`, whose tables hold absolute (relocated, virtual)
//! addresses: it must not be used before the MMU is on. The physical phase uses
//! `early_puts`/`early_put_hex`, which touch nothing but their arguments.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sbi;

static USE_DBCN: AtomicBool = AtomicBool::new(false);

/// Pick the console call once the kernel runs virtually.
pub fn init() {
    USE_DBCN.store(sbi::has_debug_console(), Ordering::Relaxed);
}

pub fn uses_dbcn() -> bool {
    USE_DBCN.load(Ordering::Relaxed)
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let dbcn = uses_dbcn();
        for b in s.bytes() {
            sbi::console_putchar(b, dbcn);
        }
        Ok(())
    }
}

pub fn print_args(args: fmt::Arguments) {
    let _ = Console.write_fmt(args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print_args(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print_args(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Physical-phase output: legacy SBI putchar, byte by byte, no formatting machinery.
pub fn early_puts(s: &str) {
    for b in s.bytes() {
        sbi::console_putchar(b, false);
    }
}

pub fn early_put_hex(value: u64) {
    early_puts("0x");
    for shift in (0..16).rev() {
        let digit = ((value >> (shift * 4)) & 0xf) as u8;
        let c = if digit < 10 {
            b'0' + digit
        } else {
            b'a' + digit - 10
        };
        sbi::console_putchar(c, false);
    }
}

/// A size in the largest binary unit that divides it, like "2 MiB" or "6 MiB".
pub struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut value = self.0;
        let mut unit = 0;
        while value >= 1024 && value.is_multiple_of(1024) && unit + 1 < UNITS.len() {
            value /= 1024;
            unit += 1;
        }
        let text = alloc_free_concat(value, UNITS[unit]);
        f.pad(text.as_str())
    }
}

/// Formats "<value> <unit>" into a fixed buffer so that `Size` honours width/alignment.
fn alloc_free_concat(value: u64, unit: &str) -> SmallString {
    let mut s = SmallString::new();
    let _ = write!(s, "{value} {unit}");
    s
}

pub struct SmallString {
    buf: [u8; 120],
    len: usize,
}

impl SmallString {
    pub fn new() -> Self {
        Self {
            buf: [0; 120],
            len: 0,
        }
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Write for SmallString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let bytes = s.as_bytes();
        let room = self.buf.len() - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        if n < bytes.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

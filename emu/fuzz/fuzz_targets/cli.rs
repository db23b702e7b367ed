//! Any argument vector: clap parsing never panics, errors render (as `emu` prints them),
//! and an accepted command line yields a machine configuration.
#![no_main]

use clap::Parser;
use emu::cli::{Cli, Command};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Words the parser knows, so inputs reach its deeper paths quickly.
const WORDS: &[&str] = &[
    "run",
    "dtb",
    "images",
    "--bios",
    "none",
    "builtin",
    "--initrd",
    "--append",
    "--dtb",
    "-m",
    "--memory",
    "--smp",
    "--sv39",
    "--sv48",
    "--sv57",
    "--disk",
    "--snapshot",
    "--trace",
    "--trace-file",
    "--trace-format",
    "--trace-from",
    "--trace-until",
    "--trace-limit",
    "--stats",
    "--stats-json",
    "--tlb",
    "--max-insns",
    "--clock",
    "host",
    "deterministic",
    "--kaslr-seed",
    "--svadu",
    "--check-tlb",
    "--symbols",
    "-o",
    "--out",
    "insn,walk",
    "all",
    "jsonl",
    "perfetto",
    "spike",
    "text",
    "insn:5",
    "0x80200000",
    "512M",
    "16G",
    "0",
    "-1",
    "l1i=32:full,l1d=32:full,l2=512:4",
    "off",
    "--help",
    "-h",
    "--version",
    "--",
    "=",
    "",
];

fn argv(u: &mut Unstructured) -> Result<Vec<String>> {
    let mut args = vec!["emu".to_string()];
    for _ in 0..u.int_in_range(0..=12)? {
        let arg = match u.int_in_range(0..=3)? {
            0 => u.arbitrary::<String>()?,
            1 => format!("{}={}", u.choose(WORDS)?, u.arbitrary::<String>()?),
            _ => u.choose(WORDS)?.to_string(),
        };
        args.push(arg);
    }
    Ok(args)
}

fuzz_target!(|data: &[u8]| {
    let Ok(args) = argv(&mut Unstructured::new(data)) else {
        return;
    };
    match Cli::try_parse_from(&args) {
        Ok(cli) => match cli.command {
            Command::Run(run) => {
                let cfg = run.machine.config();
                assert!(cfg.harts >= 1);
            }
            Command::Dtb { machine, .. } => {
                let _ = machine.config();
            }
            Command::Images { .. } => {}
            // Parsed only: running it would boot a kernel.
            Command::Test(_) => {}
        },
        Err(e) => {
            let _ = e.render().to_string();
        }
    }
});

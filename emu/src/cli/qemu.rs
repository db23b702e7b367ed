//! QEMU habits: options spelled the QEMU way (`-kernel Image`, `-smp 2`, `-s -S`) are
//! found before clap sees the command line (clap would split `-smp` into `-s -m p` and
//! report a meaningless `-s`), and each gets one line saying what emu takes instead.
//! Options that only ask for what emu always does (`-nographic`, `-M virt`) are dropped
//! with a note; everything else is a usage error.

use std::ffi::OsString;

/// What the scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The command line with the accepted QEMU options removed.
    pub args: Vec<OsString>,
    /// Accepted QEMU options: one note line each (without the `emu: ` prefix).
    pub notes: Vec<String>,
    /// Refused QEMU options: one hint line each (without the `emu: ` prefix).
    pub hints: Vec<String>,
}

/// A QEMU option: its name without dashes, whether it takes a value, and what to say.
struct Habit {
    name: &'static str,
    takes_value: bool,
    advice: Advice,
}

enum Advice {
    /// A usage error with this hint (after "'-NAME' is QEMU's spelling; ").
    Refuse(&'static str),
    /// Accepted and removed, with this note, when the value (if any) is one of these.
    Drop {
        values: &'static [&'static str],
        note: &'static str,
        otherwise: &'static str,
    },
}

const HABITS: &[Habit] = &[
    Habit {
        name: "kernel",
        takes_value: true,
        advice: Advice::Refuse(
            "emu takes the kernel as the positional GUEST: emu run Image --append ...",
        ),
    },
    Habit {
        name: "initrd",
        takes_value: true,
        advice: Advice::Refuse("use --initrd PATH"),
    },
    Habit {
        name: "append",
        takes_value: true,
        advice: Advice::Refuse("use --append ARGS"),
    },
    Habit {
        name: "smp",
        takes_value: true,
        advice: Advice::Refuse("use --smp N"),
    },
    Habit {
        name: "bios",
        takes_value: true,
        advice: Advice::Refuse("use --bios builtin|none|PATH"),
    },
    Habit {
        name: "dtb",
        takes_value: true,
        advice: Advice::Refuse("use --dtb PATH"),
    },
    Habit {
        name: "snapshot",
        takes_value: false,
        advice: Advice::Refuse("use --snapshot"),
    },
    Habit {
        name: "s",
        takes_value: false,
        advice: Advice::Refuse("for a gdb server on port 1234 use --gdb 1234"),
    },
    Habit {
        name: "S",
        takes_value: false,
        advice: Advice::Refuse("to wait for gdb before the first instruction use --gdb-wait (with --gdb PORT)"),
    },
    Habit {
        name: "gdb",
        takes_value: true,
        advice: Advice::Refuse("use --gdb PORT (always on 127.0.0.1)"),
    },
    Habit {
        name: "nographic",
        takes_value: false,
        advice: Advice::Drop {
            values: &[],
            note: "'-nographic' is not needed: emu has no display, the guest console is this terminal (Ctrl-A X quits)",
            otherwise: "",
        },
    },
    Habit {
        name: "M",
        takes_value: true,
        advice: Advice::Drop {
            values: &["virt"],
            note: "'-M virt' is not needed: emu's board is always virt",
            otherwise: "emu's board is always virt: drop -M",
        },
    },
    Habit {
        name: "machine",
        takes_value: true,
        advice: Advice::Drop {
            values: &["virt"],
            note: "'-machine virt' is not needed: emu's board is always virt",
            otherwise: "emu's board is always virt: drop -machine",
        },
    },
    Habit {
        name: "cpu",
        takes_value: true,
        advice: Advice::Refuse(
            "emu's harts are always rv64gc; choose the paging mode with --sv39, --sv48 or --sv57",
        ),
    },
    Habit {
        name: "drive",
        takes_value: true,
        advice: Advice::Refuse("use --disk PATH (a raw image on virtio-blk, repeatable)"),
    },
    Habit {
        name: "device",
        takes_value: true,
        advice: Advice::Refuse(
            "emu's devices are fixed (UART, RTC, virtio-blk for each --disk): drop it",
        ),
    },
    Habit {
        name: "netdev",
        takes_value: true,
        advice: Advice::Refuse("emu has no network device: drop it"),
    },
    Habit {
        name: "serial",
        takes_value: true,
        advice: Advice::Refuse("the guest console is always the UART on this terminal: drop it"),
    },
    Habit {
        name: "monitor",
        takes_value: true,
        advice: Advice::Refuse(
            "emu has no monitor; Ctrl-A h lists the console keys, --gdb PORT serves gdb",
        ),
    },
    Habit {
        name: "enable-kvm",
        takes_value: false,
        advice: Advice::Refuse("emu has no accelerator: drop it (emu compiles hot guest code by default)"),
    },
    Habit {
        name: "accel",
        takes_value: true,
        advice: Advice::Refuse("emu has no accelerator: drop it (emu compiles hot guest code by default)"),
    },
    Habit {
        name: "d",
        takes_value: true,
        advice: Advice::Refuse("use --trace EVENTS (insn, walk, tlb, satp, sfence, trap, mode, mmio, sbi, all)"),
    },
    Habit {
        name: "D",
        takes_value: true,
        advice: Advice::Refuse("use --trace-file PATH"),
    },
];

/// Option names of the subcommand: long names (`--x`) and short letters (`-x`) that emu
/// itself defines, and which of them take a value.
pub struct Known {
    pub longs: Vec<(String, bool)>,
    pub shorts: Vec<(char, bool)>,
}

impl Known {
    fn long_takes_value(&self, name: &str) -> Option<bool> {
        self.longs.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
    fn short_takes_value(&self, c: char) -> Option<bool> {
        self.shorts.iter().find(|(n, _)| *n == c).map(|&(_, v)| v)
    }
}

/// Scan `args` (the words after the subcommand) for QEMU options.
pub fn scan(args: &[OsString], known: &Known) -> Scan {
    let mut out = Scan::default();
    let mut i = 0;
    while i < args.len() {
        let Some(arg) = args[i].to_str() else {
            // Not UTF-8: a path, never an option name.
            out.args.push(args[i].clone());
            i += 1;
            continue;
        };
        i += 1;
        if arg == "--" {
            out.args.extend(args[i - 1..].iter().cloned());
            break;
        }
        // Skip the separate value of one of emu's own options.
        let emu_value = if let Some(long) = arg.strip_prefix("--") {
            if long.contains('=') {
                Some(false)
            } else {
                known.long_takes_value(long)
            }
        } else if let Some(short) = arg.strip_prefix('-') {
            let mut chars = short.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => known.short_takes_value(c),
                _ => None,
            }
        } else {
            Some(false)
        };
        if let Some(takes_value) = emu_value {
            out.args.push(arg.into());
            if takes_value && i < args.len() {
                out.args.push(args[i].clone());
                i += 1;
            }
            continue;
        }
        // Not one of emu's: `-name` or `--name` (long QEMU names only with two dashes).
        let name = arg
            .strip_prefix("--")
            .filter(|n| n.len() > 1)
            .or_else(|| arg.strip_prefix('-'));
        let habit = name.and_then(|n| HABITS.iter().find(|h| h.name == n));
        let Some(habit) = habit else {
            out.args.push(arg.into());
            continue;
        };
        let value = if habit.takes_value && i < args.len() {
            i += 1;
            Some(args[i - 1].to_string_lossy())
        } else {
            None
        };
        match &habit.advice {
            Advice::Refuse(hint) => out
                .hints
                .push(format!("'{arg}' is QEMU's spelling; {hint}")),
            Advice::Drop {
                values,
                note,
                otherwise,
            } => {
                if !habit.takes_value || value.is_some_and(|v| values.contains(&&*v)) {
                    out.notes.push(format!("note: {note}"));
                } else {
                    out.hints
                        .push(format!("'{arg}' is QEMU's spelling; {otherwise}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            longs: vec![
                ("append".into(), true),
                ("initrd".into(), true),
                ("sv48".into(), false),
            ],
            shorts: vec![('m', true)],
        }
    }

    fn words(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn qemu_options_are_found_and_values_skipped() {
        let s = scan(
            &words("-kernel Image -append console=ttyS0 -nographic -m 1G -s -S"),
            &known(),
        );
        assert_eq!(
            s.hints,
            [
                "'-kernel' is QEMU's spelling; emu takes the kernel as the positional GUEST: emu run Image --append ...",
                "'-append' is QEMU's spelling; use --append ARGS",
                "'-s' is QEMU's spelling; for a gdb server on port 1234 use --gdb 1234",
                "'-S' is QEMU's spelling; to wait for gdb before the first instruction use --gdb-wait (with --gdb PORT)",
            ]
        );
        assert_eq!(s.notes.len(), 1);
        assert_eq!(s.args, words("-m 1G"));
    }

    #[test]
    fn values_of_emu_options_are_not_mistaken_for_qemu_options() {
        // `--append -s`: a kernel argument, not QEMU's gdb flag.
        let s = scan(&words("--append -s --initrd -kernel --sv48"), &known());
        assert!(s.hints.is_empty(), "{:?}", s.hints);
        assert_eq!(s.args, words("--append -s --initrd -kernel --sv48"));
    }

    #[test]
    fn machine_virt_is_dropped_other_machines_are_refused() {
        let s = scan(&words("-M virt prog.elf"), &known());
        assert!(s.hints.is_empty());
        assert_eq!(s.args, words("prog.elf"));
        let s = scan(&words("-machine sifive_u"), &known());
        assert_eq!(
            s.hints,
            ["'-machine' is QEMU's spelling; emu's board is always virt: drop -machine"]
        );
    }

    #[test]
    fn words_after_double_dash_are_left_alone() {
        let s = scan(&words("-- -kernel"), &known());
        assert!(s.hints.is_empty());
        assert_eq!(s.args, words("-- -kernel"));
    }
}

//! What a new user reads: usage errors with clap's whole message and a pointer at the
//! subcommand's help, hints for QEMU spellings, warnings for options that do nothing,
//! file errors naming role and path, the gdb port actually bound, and no status line
//! when stderr is not a terminal. Every text is compared exactly.

mod common;

use common::{elf64, emu, temp_file, Segment, DRAM, EM_RISCV, LOOP_FOREVER};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const EXIT_USAGE: i32 = 2;
const EXIT_BAD_FILE: i32 = 1;
const EXIT_INSN_LIMIT: i32 = 124;
/// Ctrl-C or SIGTERM (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

/// Written once: the tests run in parallel, and a file being rewritten while another
/// emu reads it would be empty.
fn loop_forever_elf() -> std::path::PathBuf {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        temp_file(
            "messages-loop.elf",
            &elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &[LOOP_FOREVER])]),
        )
    })
    .clone()
}

/// Run emu; its status, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = emu(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_usage_error(args: &[&str], expected: &str) {
    let (status, stdout, stderr) = run(args);
    assert_eq!(stderr, expected, "emu {args:?}");
    assert_eq!(status, Some(EXIT_USAGE), "emu {args:?}");
    assert!(stdout.is_empty(), "emu {args:?}: {stdout}");
}

#[test]
fn unknown_flag_keeps_clap_s_message_and_points_at_run_help() {
    assert_usage_error(
        &["run", "--frobnicate"],
        "emu: unexpected argument '--frobnicate' found\n\
         \n  tip: to pass '--frobnicate' as a value, use '-- --frobnicate'\n\
         \nUsage: emu run [OPTIONS] [GUEST]\n\
         \nFor more information, try 'emu run --help'.\n",
    );
}

#[test]
fn misspelled_flag_gets_the_similar_one() {
    assert_usage_error(
        &["run", "--sv84"],
        "emu: unexpected argument '--sv84' found\n\
         \n  tip: a similar argument exists: '--sv48'\n\
         \nUsage: emu run --sv48 [GUEST]\n\
         \nFor more information, try 'emu run --help'.\n",
    );
}

#[test]
fn missing_value_names_the_option() {
    assert_usage_error(
        &["run", "-m"],
        "emu: a value is required for '--memory <SIZE>' but none was supplied\n\
         \nFor more information, try 'emu run --help'.\n",
    );
}

#[test]
fn conflicting_flags_are_both_named() {
    assert_usage_error(
        &["run", "--sv39", "--sv48"],
        "emu: the argument '--sv39' cannot be used with '--sv48'\n\
         \nUsage: emu run --sv39 [GUEST]\n\
         \nFor more information, try 'emu run --help'.\n",
    );
}

#[test]
fn bad_value_says_what_is_wrong() {
    assert_usage_error(
        &["run", "-m", "12X"],
        "emu: invalid value '12X' for '--memory <SIZE>': unknown size suffix 'X' (use K, M or G)\n\
         \nFor more information, try 'emu run --help'.\n",
    );
}

#[test]
fn errors_point_at_the_help_of_what_was_typed() {
    assert_usage_error(
        &["fly"],
        "emu: unrecognized subcommand 'fly'\n\
         \nUsage: emu <COMMAND>\n\
         \nFor more information, try 'emu --help'.\n",
    );
    assert_usage_error(
        &["dtb", "--sv39"],
        "emu: the following required arguments were not provided:\n  --output <OUTPUT>\n\
         \nUsage: emu dtb --output <OUTPUT> --sv39\n\
         \nFor more information, try 'emu dtb --help'.\n",
    );
}

/// (QEMU words, the hint emu prints for them)
const QEMU_HINTS: &[(&[&str], &str)] = &[
    (&["-kernel", "Image"], "emu: '-kernel' is QEMU's spelling; emu takes the kernel as the positional GUEST: emu run Image --append ..."),
    (&["-initrd", "rd.cpio"], "emu: '-initrd' is QEMU's spelling; use --initrd PATH"),
    (&["-append", "console=ttyS0"], "emu: '-append' is QEMU's spelling; use --append ARGS"),
    (&["-smp", "2"], "emu: '-smp' is QEMU's spelling; use --smp N"),
    (&["-bios", "fw_jump.bin"], "emu: '-bios' is QEMU's spelling; use --bios builtin|none|PATH"),
    (&["-dtb", "x.dtb"], "emu: '-dtb' is QEMU's spelling; use --dtb PATH"),
    (&["-snapshot"], "emu: '-snapshot' is QEMU's spelling; use --snapshot"),
    (&["-s"], "emu: '-s' is QEMU's spelling; for a gdb server on port 1234 use --gdb 1234"),
    (&["-S"], "emu: '-S' is QEMU's spelling; to wait for gdb before the first instruction use --gdb-wait (with --gdb PORT)"),
    (&["-gdb", "tcp::1234"], "emu: '-gdb' is QEMU's spelling; use --gdb PORT (always on 127.0.0.1)"),
    (&["-M", "sifive_u"], "emu: '-M' is QEMU's spelling; emu's board is always virt: drop -M"),
    (&["-machine", "spike"], "emu: '-machine' is QEMU's spelling; emu's board is always virt: drop -machine"),
    (&["-cpu", "rv64"], "emu: '-cpu' is QEMU's spelling; emu's harts are always rv64gc; choose the paging mode with --sv39, --sv48 or --sv57"),
    (&["-drive", "file=d.img,format=raw"], "emu: '-drive' is QEMU's spelling; use --disk PATH (a raw image on virtio-blk, repeatable)"),
    (&["-device", "virtio-net-device"], "emu: '-device' is QEMU's spelling; emu's devices are fixed (UART, RTC, virtio-blk for each --disk): drop it"),
    (&["-netdev", "user,id=n"], "emu: '-netdev' is QEMU's spelling; emu has no network device: drop it"),
    (&["-serial", "mon:stdio"], "emu: '-serial' is QEMU's spelling; the guest console is always the UART on this terminal: drop it"),
    (&["-monitor", "stdio"], "emu: '-monitor' is QEMU's spelling; emu has no monitor; Ctrl-A h lists the console keys, --gdb PORT serves gdb"),
    (&["-enable-kvm"], "emu: '-enable-kvm' is QEMU's spelling; emu has no accelerator: drop it (emu compiles hot guest code by default)"),
    (&["-accel", "kvm"], "emu: '-accel' is QEMU's spelling; emu has no accelerator: drop it (emu compiles hot guest code by default)"),
    (&["-d", "in_asm"], "emu: '-d' is QEMU's spelling; use --trace EVENTS (insn, walk, tlb, satp, sfence, trap, mode, mmio, sbi, all)"),
    (&["-D", "log.txt"], "emu: '-D' is QEMU's spelling; use --trace-file PATH"),
    (&["--kernel", "Image"], "emu: '--kernel' is QEMU's spelling; emu takes the kernel as the positional GUEST: emu run Image --append ..."),
];

#[test]
fn each_qemu_spelling_gets_its_hint() {
    for (words, hint) in QEMU_HINTS {
        let mut args = vec!["run"];
        args.extend_from_slice(words);
        assert_usage_error(
            &args,
            &format!("{hint}\nFor more information, try 'emu run --help'.\n"),
        );
    }
}

#[test]
fn a_qemu_command_line_gets_one_hint_per_option() {
    assert_usage_error(
        &[
            "run", "-M", "virt", "-kernel", "Image", "-append", "console=ttyS0 -s", "-nographic",
            "-s", "-S",
        ],
        "emu: '-kernel' is QEMU's spelling; emu takes the kernel as the positional GUEST: emu run Image --append ...\n\
         emu: '-append' is QEMU's spelling; use --append ARGS\n\
         emu: '-s' is QEMU's spelling; for a gdb server on port 1234 use --gdb 1234\n\
         emu: '-S' is QEMU's spelling; to wait for gdb before the first instruction use --gdb-wait (with --gdb PORT)\n\
         For more information, try 'emu run --help'.\n",
    );
}

#[test]
fn a_qemu_command_line_without_run_is_pointed_at_run() {
    assert_usage_error(
        &["-kernel", "Image", "-nographic"],
        "emu: '-kernel' is QEMU's spelling; emu takes the kernel as the positional GUEST: emu run Image --append ...\n\
         emu: guests run with the run subcommand: emu run [OPTIONS] [GUEST]\n\
         For more information, try 'emu run --help'.\n",
    );
}

#[test]
fn nographic_and_machine_virt_are_accepted_with_a_note() {
    let elf = loop_forever_elf();
    let (status, _, stderr) = run(&[
        "run",
        "-nographic",
        "-M",
        "virt",
        "--bios",
        "none",
        elf.to_str().unwrap(),
        "--max-insns",
        "1000",
    ]);
    assert_eq!(
        stderr,
        "emu: note: '-nographic' is not needed: emu has no display, the guest console is this terminal (Ctrl-A X quits)\n\
         emu: note: '-M virt' is not needed: emu's board is always virt\n\
         emu: stopped after 1000 instructions (--max-insns); exit status 124\n"
    );
    assert_eq!(status, Some(EXIT_INSN_LIMIT));
}

/// The RAM size the generated device tree announces for these `-m` words.
fn dtb_memory(size: &str) -> u64 {
    let dir = std::env::temp_dir().join(format!("emu-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("mem-{size}.dtb"));
    let (status, _, stderr) = run(&["dtb", "-m", size, "-o", path.to_str().unwrap()]);
    assert_eq!(status, Some(0), "{stderr}");
    let blob = std::fs::read(&path).unwrap();
    let tree = fdt::Fdt::new(&blob).unwrap();
    let region = tree.memory().regions().next().unwrap();
    region.size.unwrap() as u64
}

#[test]
fn memory_without_a_suffix_is_mib_as_in_qemu() {
    assert_eq!(dtb_memory("1024"), 1 << 30);
    assert_eq!(dtb_memory("65536K"), 64 << 20);
    assert_eq!(dtb_memory("1G"), 1 << 30);
    assert_eq!(dtb_memory("48"), 48 << 20);
}

fn run_loop_with(extra: &[&str]) -> (Option<i32>, String) {
    let elf = loop_forever_elf();
    let mut args = vec![
        "run",
        "--bios",
        "none",
        elf.to_str().unwrap(),
        "--max-insns",
        "1000",
    ];
    args.extend_from_slice(extra);
    let (status, _, stderr) = run(&args);
    (status, stderr)
}

const STOPPED: &str = "emu: stopped after 1000 instructions (--max-insns); exit status 124\n";

#[test]
fn trace_options_without_trace_are_ignored_with_a_warning() {
    let (status, stderr) = run_loop_with(&["--trace-format", "jsonl"]);
    assert_eq!(
        stderr,
        format!("emu: warning: --trace-format has no effect without --trace EVENTS\n{STOPPED}")
    );
    assert_eq!(status, Some(EXIT_INSN_LIMIT));
    let (status, stderr) = run_loop_with(&["--trace-limit", "5", "--trace-from", "insn:10"]);
    assert_eq!(
        stderr,
        format!(
            "emu: warning: --trace-from, --trace-limit have no effect without --trace EVENTS\n{STOPPED}"
        )
    );
    assert_eq!(status, Some(EXIT_INSN_LIMIT));
}

#[test]
fn jit_in_a_counted_run_is_ignored_with_a_warning() {
    let (status, stderr) = run_loop_with(&["--jit", "--check-tlb"]);
    assert_eq!(
        stderr,
        format!("emu: warning: --jit has no effect with --check-tlb: compiled code cannot check each translation or trace each instruction, so this run is interpreted\n{STOPPED}")
    );
    assert_eq!(status, Some(EXIT_INSN_LIMIT));
    let (_, stderr) = run_loop_with(&[
        "--jit",
        "--stats",
        "--trace",
        "trap,insn,tlb",
        "--trace-file",
        "/dev/null",
    ]);
    assert!(
        stderr.starts_with("emu: warning: --jit has no effect with --trace insn,tlb: compiled code cannot check each translation or trace each instruction, so this run is interpreted\n"),
        "{stderr}"
    );
    let (_, stderr) = run_loop_with(&["--jit", "--no-fast-path"]);
    assert_eq!(
        stderr,
        format!("emu: warning: --jit has no effect with --no-fast-path: every instruction takes the reference loop\n{STOPPED}")
    );
    // Where the JIT does run, nothing is said.
    let (_, stderr) = run_loop_with(&["--jit", "--stats=basic"]);
    assert!(!stderr.contains("warning"), "{stderr}");
    let (_, stderr) = run_loop_with(&[
        "--jit",
        "--stats",
        "--trace",
        "walk,trap",
        "--trace-file",
        "/dev/null",
    ]);
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn device_tree_options_with_dtb_are_ignored_with_a_warning() {
    let dtb = std::env::temp_dir().join(format!("emu-tests-{}-given.dtb", std::process::id()));
    let (status, _, stderr) = run(&["dtb", "-o", dtb.to_str().unwrap()]);
    assert_eq!(status, Some(0), "{stderr}");
    let (status, stderr) = run_loop_with(&["--dtb", dtb.to_str().unwrap(), "--kaslr-seed", "7"]);
    assert_eq!(
        stderr,
        format!("emu: warning: --kaslr-seed has no effect with --dtb: the given device tree is used as it is\n{STOPPED}")
    );
    assert_eq!(status, Some(EXIT_INSN_LIMIT));
    let (_, stderr) = run_loop_with(&["--snapshot"]);
    assert_eq!(
        stderr,
        format!("emu: warning: --snapshot has no effect without --disk PATH\n{STOPPED}")
    );
}

fn assert_file_error(extra: &[&str], expected: &str) {
    let (status, stderr) = run_loop_with(extra);
    assert_eq!(stderr, format!("{expected}\n"), "{extra:?}");
    assert_eq!(status, Some(EXIT_BAD_FILE), "{extra:?}");
}

#[test]
fn file_errors_name_the_role_the_path_and_the_reason() {
    let missing = "/nonexistent/emu-test";
    assert_file_error(
        &[
            "--trace",
            "insn",
            "--trace-file",
            &format!("{missing}/t.json"),
        ],
        "emu: cannot open the trace file /nonexistent/emu-test/t.json: No such file or directory",
    );
    assert_file_error(
        &["--stats-json", &format!("{missing}/s.json")],
        "emu: cannot write the statistics file /nonexistent/emu-test/s.json: No such file or directory",
    );
    assert_file_error(
        &["--initrd", &format!("{missing}/rd.cpio")],
        "emu: cannot read the initrd /nonexistent/emu-test/rd.cpio: No such file or directory",
    );
    assert_file_error(
        &["--disk", &format!("{missing}/d.img")],
        "emu: cannot open the disk image /nonexistent/emu-test/d.img: No such file or directory",
    );
    assert_file_error(
        &["--dtb", &format!("{missing}/x.dtb")],
        "emu: cannot read the device tree /nonexistent/emu-test/x.dtb: No such file or directory",
    );
    let (status, _, stderr) = run(&["run", "--bios", "none", &format!("{missing}/prog.elf")]);
    assert_eq!(
        stderr,
        "emu: cannot read the program /nonexistent/emu-test/prog.elf: No such file or directory\n"
    );
    assert_eq!(status, Some(EXIT_BAD_FILE));
    let (status, _, stderr) = run(&["run", "--bios", &format!("{missing}/fw.bin")]);
    assert_eq!(
        stderr,
        "emu: cannot read the firmware /nonexistent/emu-test/fw.bin: No such file or directory\n"
    );
    assert_eq!(status, Some(EXIT_BAD_FILE));
    let (status, _, stderr) = run(&["dtb", "-o", &format!("{missing}/virt.dtb")]);
    assert_eq!(
        stderr,
        "emu: cannot write the device tree file /nonexistent/emu-test/virt.dtb: No such file or directory\n"
    );
    assert_eq!(status, Some(EXIT_BAD_FILE));
}

#[test]
fn gdb_port_zero_binds_a_free_port_and_says_which() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--gdb", "0", "--gdb-wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .strip_prefix("emu: gdb server listening on 127.0.0.1:")
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {line}"));
    assert_ne!(port, 0);
    assert_eq!(
        line,
        format!("emu: gdb server listening on 127.0.0.1:{port}, waiting for gdb (gdb: target remote :{port})\n")
    );
    let connected = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = child.kill();
    let _ = child.wait();
    assert!(connected.is_ok(), "nothing listens on the announced port");
}

/// A run of a guest that loops forever, stopped by SIGTERM after `SECONDS_BEFORE_TERM`
/// seconds (timeout(1) from coreutils): long enough for the status line whatever the
/// host's speed, which a run cut by an instruction count is not (a compiled loop runs
/// billions of instructions a second).
const SECONDS_BEFORE_TERM: &str = "3";

/// The command line that runs the looping guest under timeout(1).
fn terminated_loop_command() -> Vec<String> {
    let elf = loop_forever_elf();
    [
        "timeout",
        "--preserve-status",
        "-s",
        "TERM",
        SECONDS_BEFORE_TERM,
        env!("CARGO_BIN_EXE_emu"),
        "run",
        "--bios",
        "none",
        elf.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// The message a run stopped by SIGTERM ends with, and its instruction count.
fn interrupted_count(text: &str) -> Option<u64> {
    let rest = text.rsplit("emu: interrupted after ").next()?;
    rest.strip_suffix(" instructions\r\n")
        .or_else(|| rest.strip_suffix(" instructions\n"))?
        .parse()
        .ok()
}

#[test]
fn no_status_line_when_stderr_is_not_a_terminal() {
    let command = terminated_loop_command();
    let out = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .output()
        .expect("timeout(1) from coreutils is needed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "{stderr}");
    let n = interrupted_count(&stderr).unwrap_or_else(|| panic!("{stderr:?}"));
    assert!(n > 0, "{stderr:?}");
    assert_eq!(stderr, format!("emu: interrupted after {n} instructions\n"));
}

#[test]
fn status_line_on_a_terminal_is_drawn_and_cleared() {
    // script(1) (util-linux) gives emu a pseudo-terminal for stdin, stdout and stderr.
    // timeout(1) puts emu in a process group of its own, outside the terminal's
    // foreground, as `timeout 3 emu run ...` typed at a shell does; "; exit $?" keeps the
    // shell from replacing itself with timeout, so that group is not orphaned and a
    // read of the terminal would stop emu (SIGTTIN) instead of failing.
    let command = format!("{}; exit $?", terminated_loop_command().join(" "));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(EXIT_INTERRUPTED), "{text}");
    assert!(
        text.starts_with(
            "emu: not in the foreground of the terminal (timeout(1) without --foreground?): \
             the guest console reads no input and Ctrl-A does nothing\r\n"
        ),
        "{text:?}"
    );
    assert!(
        text.contains(" instructions, ") && text.contains(" MIPS, guest time "),
        "no status line:\n{text:?}"
    );
    // Erased before the last message, which then stands alone on its line.
    let n = interrupted_count(&text).unwrap_or_else(|| panic!("{text:?}"));
    let last = format!("\r\x1b[2Kemu: interrupted after {n} instructions\r\n");
    assert!(text.ends_with(&last), "{text:?}");
}

#[test]
fn ctrl_a_h_lists_the_keys_and_ctrl_a_x_says_it_quits() {
    let elf = loop_forever_elf();
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none", elf.to_str().unwrap()])
        .write_stdin(b"\x01h\x01x".to_vec())
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Ctrl-A h       print this help\n\
         Ctrl-A x       quit emu (exit status 0)\n\
         Ctrl-A Ctrl-A  send Ctrl-A to the guest\n\
         emu: terminated by Ctrl-A X\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A bare-metal guest that prints "r" (ready), waits for a byte on the UART, then resets
/// the board through the test device (0x7777 at 0x100000).
const RESET_ON_INPUT: [u32; 12] = [
    0x1000_02b7, // lui   t0, 0x10000      UART
    0x0720_0313, // li    t1, 'r'
    0x0062_8023, // sb    t1, 0(t0)
    0x0052_c303, // lbu   t1, 5(t0)        line status
    0x0013_7313, // andi  t1, t1, 1        data ready
    0xfe03_0ce3, // beqz  t1, -8
    0x0002_c303, // lbu   t1, 0(t0)        the byte
    0x0010_03b7, // lui   t2, 0x100        test device
    0x0000_7e37, // lui   t3, 7
    0x777e_0e13, // addi  t3, t3, 0x777
    0x01c3_a023, // sw    t3, 0(t2)        reset
    LOOP_FOREVER,
];

/// Run the reset-on-input guest from `elf`; `before_input` runs once the first boot has
/// said it is ready, then one byte goes to the guest and stdin ends.
fn reset_after(elf: &std::path::Path, before_input: impl FnOnce()) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--bios", "none", "--max-insns", "20000000"])
        .arg(elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0u8; 1];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    assert_eq!(&ready, b"r");
    before_input();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"x").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reboot_boots_the_program_file_again_and_refuses_it_when_it_changed() {
    let image = elf64(EM_RISCV, DRAM, &[Segment::code(DRAM, &RESET_ON_INPUT)]);
    // Unchanged: the second boot waits for input that never comes, until the limit.
    let elf = temp_file("messages-reset-same.elf", &image);
    let (status, stderr) = reset_after(&elf, || {});
    assert_eq!(status, Some(EXIT_INSN_LIMIT), "{stderr}");
    assert!(
        stderr.contains("emu: guest reset #1, rebooting\n"),
        "{stderr}"
    );
    // Rewritten while the first boot ran (as a rebuilt kernel is): not booted again.
    let elf = temp_file("messages-reset-changed.elf", &image);
    let (status, stderr) = reset_after(&elf, || {
        let mut longer = image.clone();
        longer.extend_from_slice(b"rebuilt");
        std::fs::write(&elf, longer).unwrap();
    });
    assert_eq!(status, Some(EXIT_BAD_FILE), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "emu: the program {} changed during the run, so the guest's reset cannot boot it again: give --no-reboot to end the run at a reset\n",
            elf.display()
        )),
        "{stderr}"
    );
}

//! `scripts/translation-study --quick` still produces the document and its charts, through
//! the scale-out path (`--print-jobs`, `xargs -P2`, `--assemble`): the study is regenerated
//! by one command, and this keeps that command working (not timing).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emu/ has a parent")
        .to_path_buf()
}

/// `cargo test` builds the examples next to the binaries; when only this test was built
/// the script falls back to `cargo run --example study_charts`.
fn prebuilt_study_charts(emu: &Path) -> Option<PathBuf> {
    let exe = emu
        .parent()?
        .join("examples")
        .join(format!("study_charts{}", std::env::consts::EXE_SUFFIX));
    exe.exists().then_some(exe)
}

fn study(emu: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/translation-study"))
        .args(args)
        .env("EMU", emu);
    if let Some(charts) = prebuilt_study_charts(&PathBuf::from(env!("CARGO_BIN_EXE_emu"))) {
        cmd.env("STUDY_CHARTS", charts);
    }
    cmd.output().expect("python3 runs")
}

/// Run `commands` (shell lines) two at a time with `xargs -P2`, as a user of --print-jobs
/// would; returns whether every one succeeded.
fn xargs_p2(commands: &str) -> bool {
    use std::io::Write;
    let mut child = Command::new("xargs")
        .args(["-P2", "-d", "\n", "-I{}", "sh", "-c", "{}"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("xargs runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

fn check_document(doc: &str) {
    for heading in [
        "## Conclusions",
        "## 1. Walks per 1000 instructions",
        "## 2. Linear-map leaf sizes",
        "## 3. Relocations",
        "## 4. Instructions per boot phase",
        "## 5. sfence.vma and satp writes",
        "## 6. `__pa`: range test vs one subtraction",
        "## 7. Context switches with and without ASIDs",
        "## 9. Page-walk cache",
        "## 10. Debian Linux running work",
        "## 11. PIE vs non-PIE",
    ] {
        assert!(doc.contains(heading), "missing section {heading:?}");
    }
    // Numbers measured, not placeholders: the guest's own relocation count appears.
    assert!(
        doc.contains("R_RISCV_RELATIVE entries takes"),
        "relocation conclusion missing"
    );
    assert!(doc.contains("| sv48 | vmalloc |"), "sv48 row missing");
    // The PIE/non-PIE comparison ran all three builds and their traces, and they agreed.
    assert!(
        doc.contains("The steady state, measured on the same kernel built non-PIE")
            && doc.contains("| sv39 | self-tests (swapper) |")
            && doc.contains("print the same"),
        "PIE/non-PIE comparison missing or the builds disagree"
    );
    // The guest's microbenchmarks ran and were parsed (their conclusions need the numbers).
    assert!(
        doc.contains("Measured with `instret` in the guest"),
        "pa-bench conclusion missing"
    );
    assert!(
        doc.contains("(`tlb-sweep`) adds"),
        "tlb-sweep conclusion missing"
    );
    assert!(
        doc.contains("| ours | sv48 |") && doc.contains("A page-walk cache"),
        "page-walk cache rows or conclusion missing"
    );
}

/// The scale-out path: `--print-jobs` gives one command per run, `xargs -P2` runs them, one
/// fails (an emulator wrapper refuses the `noasid` runs), `--assemble` builds the document
/// from the rest and names the failed run with the command that reruns it; that command
/// alone completes the results, a second pass of every command skips the finished runs, and
/// the plain `--quick` run over the same results only assembles (charts included).
#[test]
fn quick_study_scales_out_with_print_jobs_xargs_and_assemble() {
    let real_emu = PathBuf::from(env!("CARGO_BIN_EXE_emu"));
    let work = std::env::temp_dir().join(format!("translation-study-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let results = work.join("results");
    let out = work.join("out");
    let refuse = work.join("refuse-noasid");
    let wrapper = work.join("emu-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *noasid*) [ -e '{}' ] && {{ echo refused >&2; exit 3; }};; esac\nexec '{}' \"$@\"\n",
            refuse.display(),
            real_emu.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(&refuse, b"").unwrap();
    let results_s = results.to_str().unwrap();
    let out_s = out.to_str().unwrap();

    let listed = study(
        &wrapper,
        &["--quick", "--print-jobs", "--results", results_s],
    );
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let jobs = String::from_utf8(listed.stdout).unwrap();
    let lines: Vec<&str> = jobs.lines().collect();
    assert!(lines.len() >= 15, "only {} jobs:\n{jobs}", lines.len());
    assert!(
        lines
            .iter()
            .all(|l| l.contains("--job ") && l.contains(results_s)),
        "{jobs}"
    );
    let noasid: Vec<&&str> = lines.iter().filter(|l| l.contains("noasid")).collect();
    assert_eq!(noasid.len(), 2, "{jobs}");

    assert!(
        !xargs_p2(&jobs),
        "the refused runs must make xargs report a failure"
    );
    let partial = study(
        &wrapper,
        &["--quick", "--assemble", results_s, "--out", out_s],
    );
    let stderr = String::from_utf8_lossy(&partial.stderr).into_owned();
    assert!(partial.status.success(), "{stderr}");
    let doc = std::fs::read_to_string(out.join("translation-cost.md")).unwrap();
    assert!(doc.contains("**Incomplete: 2 runs are missing"), "{doc}");
    assert!(doc.contains("## 1. Walks per 1000 instructions"));
    let rerun: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("cd ") && l.contains("noasid"))
        .collect();
    assert_eq!(
        rerun.len(),
        2,
        "the report does not give both reruns:\n{stderr}"
    );
    assert!(
        stderr.contains("failed:") && stderr.contains("refused"),
        "{stderr}"
    );

    // Rerun the failed jobs alone, then everything: finished runs are not redone.
    std::fs::remove_file(&refuse).unwrap();
    let finished_before: Vec<(PathBuf, std::time::SystemTime)> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.clone(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    for line in &rerun {
        let ok = Command::new("sh")
            .args(["-c", line.trim()])
            .status()
            .unwrap();
        assert!(ok.success(), "rerun failed: {line}");
    }
    assert!(xargs_p2(&jobs), "a second pass failed");
    for (path, modified) in &finished_before {
        assert_eq!(
            std::fs::metadata(path).unwrap().modified().unwrap(),
            *modified,
            "{} was run again",
            path.display()
        );
    }
    assert!(!std::fs::read_dir(&results).unwrap().any(|e| e
        .unwrap()
        .path()
        .extension()
        .is_some_and(|x| x == "failed")));

    // The plain run over complete results assembles without running anything.
    let full = study(
        &wrapper,
        &["--quick", "--results", results_s, "--out", out_s],
    );
    let stderr = String::from_utf8_lossy(&full.stderr).into_owned();
    assert!(full.status.success(), "{stderr}");
    assert!(!stderr.contains("missing"), "{stderr}");
    assert!(stderr.contains("(done before)"), "{stderr}");
    let doc = std::fs::read_to_string(out.join("translation-cost.md")).expect("document written");
    assert!(!doc.contains("Incomplete"), "{doc}");
    check_document(&doc);

    let charts: Vec<PathBuf> = std::fs::read_dir(out.join("translation-cost"))
        .expect("chart directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
        .collect();
    assert!(charts.len() >= 3, "only {} charts", charts.len());
    for chart in &charts {
        let svg = std::fs::read_to_string(chart).expect("chart readable");
        assert!(
            svg.starts_with("<svg") && svg.contains("<rect"),
            "{chart:?} has no bars"
        );
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        assert!(doc.contains(&name), "document does not show {name}");
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// The study reads boot phases and traps from `--stats-json`.
#[test]
fn stats_json_has_phases_and_traps() {
    let out = std::env::temp_dir().join(format!("study-stats-{}.json", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_emu"))
        .args(["run", "--sv48", "--append", "nokaslr", "--stats-json"])
        .arg(&out)
        .output()
        .expect("emu runs");
    assert!(status.status.success(), "the guest kernel boot failed");
    let text = std::fs::read_to_string(&out).expect("stats written");
    let _ = std::fs::remove_file(&out);
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let phases = json["phases"].as_array().expect("phases list");
    let names: Vec<&str> = phases.iter().filter_map(|p| p["name"].as_str()).collect();
    for want in [
        "bare",
        "sv48 trampoline_pg_dir",
        "sv48 early_pg_dir",
        "sv48 swapper_pg_dir",
    ] {
        assert!(names.contains(&want), "no phase {want:?} in {names:?}");
    }
    let phase_insns: u64 = phases
        .iter()
        .map(|p| p["instructions"].as_u64().expect("instructions"))
        .sum();
    // Phases split the harts' instret (`instructions` also counts the trapping ones).
    let instret: u64 = json["per_hart"]
        .as_array()
        .expect("per_hart")
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(phase_insns, instret, "phases must add up to the whole run");
    let swapper = phases
        .iter()
        .find(|p| p["name"] == "sv48 swapper_pg_dir")
        .unwrap();
    assert!(swapper["mmu"]["walks"].as_u64().unwrap() > 0);
    // The user processes make system calls: the trap counts carry them by cause name.
    assert!(json["traps"]["exceptions"]["user_ecall"].as_u64().unwrap() > 0);
}

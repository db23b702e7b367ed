//! Interpreter speed on a compute-bound loop: bare (M-mode, satp = bare) against the
//! same loop in S-mode under Sv48 with 4 KiB pages, with and without the TLB model in
//! the path (`--stats`). Throughput is in instructions, so criterion prints
//! instructions/s; a direct timing afterwards prints MIPS and the Sv48/bare ratio.

mod common;

use std::time::Duration;

use common::{thread_cpu_now, ThreadCpuTime};
use criterion::{BatchSize, SamplingMode, Throughput};
use emu::bus::DRAM_BASE;
use emu::machine::{Machine, MachineConfig};
use emu_benches::sv48_loop;

const INSNS: u64 = 10_000_000;

fn bare_machine() -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_size: 64 << 20,
        ..MachineConfig::default()
    });
    let code = emu_benches::bytes(&emu_benches::compute_loop());
    assert!(m.ram().load(DRAM_BASE, &code));
    m.harts[0].pc = DRAM_BASE;
    m
}

fn sv48_machine() -> Machine {
    sv48_loop::machine(false)
}

fn sv48_observed_machine() -> Machine {
    sv48_loop::machine(true)
}

fn run_loop(mut m: Machine, paged: bool) -> Machine {
    m.run(Some(INSNS));
    assert_eq!(m.total_insns, INSNS);
    assert_eq!(
        sv48_loop::running_the_loop(&m),
        paged,
        "the loop left its page"
    );
    m
}

type Variant = (&'static str, fn() -> Machine, bool);
const VARIANTS: [Variant; 3] = [
    ("compute_loop_bare", bare_machine, false),
    ("compute_loop_sv48", sv48_machine, true),
    ("compute_loop_sv48_stats", sv48_observed_machine, true),
];

fn interpreter(c: &mut criterion::Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("interpreter");
    g.throughput(Throughput::Elements(INSNS))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, setup, paged) in VARIANTS {
        g.bench_function(name, |b| {
            b.iter_batched(setup, |m| run_loop(m, paged), BatchSize::PerIteration)
        });
    }
    g.finish();
}

/// Median MIPS (per CPU second of this thread) of a few direct runs of one variant.
fn mips(setup: fn() -> Machine, paged: bool) -> f64 {
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let m = setup();
            let start = thread_cpu_now();
            let m = run_loop(m, paged);
            let secs = (thread_cpu_now() - start).as_secs_f64();
            drop(m);
            INSNS as f64 / secs / 1e6
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    let mut c = common::criterion().configure_from_args();
    interpreter(&mut c);
    c.final_summary();
    // Only when measuring (`cargo bench`), not when `cargo test --benches` checks that
    // the benches run.
    if std::env::args().any(|a| a == "--bench") {
        let [bare, sv48, stats] = VARIANTS.map(|(_, setup, paged)| mips(setup, paged));
        println!(
            "interpreter (median of 5 direct runs): bare {bare:.0} MIPS, sv48 {sv48:.0} MIPS \
             (slowdown {:.3}x), sv48 with stats {stats:.0} MIPS (slowdown {:.3}x)",
            bare / sv48,
            bare / stats
        );
    }
}

//! Interpreter speed on an FP-heavy loop (`emu_benches::fp_loop`: fmadd.d, fdiv.d,
//! fsqrt.d, fmsub.d, conversions, single-precision arithmetic, a compare), M-mode, satp =
//! bare. Throughput is in instructions, so criterion prints instructions/s; a direct
//! timing afterwards prints MIPS.

mod common;

use std::time::Duration;

use common::{thread_cpu_now, ThreadCpuTime};
use criterion::{BatchSize, SamplingMode, Throughput};
use emu::machine::Machine;
use emu_benches::fp_loop;

const ITERATIONS: u64 = 500_000;

fn run_loop(mut m: Machine) -> Machine {
    let insns = fp_loop::insns_for(ITERATIONS);
    m.run(Some(insns));
    assert_eq!(m.total_insns, insns);
    assert_eq!(m.harts[0].pc, fp_loop::loop_head(), "the loop trapped");
    m
}

fn fpu(c: &mut criterion::Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("fpu");
    g.throughput(Throughput::Elements(fp_loop::insns_for(ITERATIONS)))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("fp_loop", |b| {
        b.iter_batched(fp_loop::machine, run_loop, BatchSize::PerIteration)
    });
    g.finish();
}

/// Median MIPS (per CPU second of this thread) of a few direct runs.
fn mips() -> f64 {
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let m = fp_loop::machine();
            let start = thread_cpu_now();
            let m = run_loop(m);
            let secs = (thread_cpu_now() - start).as_secs_f64();
            drop(m);
            fp_loop::insns_for(ITERATIONS) as f64 / secs / 1e6
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    let mut c = common::criterion().configure_from_args();
    fpu(&mut c);
    c.final_summary();
    // Only when measuring (`cargo bench`), not under `cargo test --benches`.
    if std::env::args().any(|a| a == "--bench") {
        println!("fpu fp_loop (median of 5 direct runs): {:.1} MIPS", mips());
    }
}

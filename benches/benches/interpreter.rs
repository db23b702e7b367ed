//! Interpreter speed on a compute-bound bare-metal loop (M-mode, satp = bare).
//! Throughput is reported in instructions, so criterion prints instructions/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use emu::machine::{Machine, MachineConfig};

const INSNS: u64 = 20_000_000;

fn machine_with_loop() -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_size: 64 << 20,
        ..MachineConfig::default()
    });
    let code = emu_benches::bytes(&emu_benches::compute_loop());
    assert!(m.ram().load(0x8000_0000, &code));
    m.harts[0].pc = 0x8000_0000;
    m
}

fn interpreter(c: &mut Criterion) {
    let mut g = c.benchmark_group("interpreter");
    g.throughput(Throughput::Elements(INSNS));
    g.sample_size(10);
    g.bench_function("compute_loop_bare", |b| {
        b.iter_batched(
            machine_with_loop,
            |mut m| {
                m.run(Some(INSNS));
                assert_eq!(m.total_insns, INSNS);
                m
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, interpreter);
criterion_main!(benches);

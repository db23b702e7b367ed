//! Whole boots of the in-repo guest kernel through the in-repo firmware, per paging mode
//! x kernel layout (nokaslr): what `emu run --svNN --append "layout=L nokaslr"` does,
//! minus process start. Throughput is the boot's instruction count.

mod common;

use std::time::Duration;

use common::ThreadCpuTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, SamplingMode, Throughput,
};
use emu_benches::guest;

fn guest_boot(c: &mut criterion::Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("guest_boot");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    for mode in guest::MODES {
        for layout in guest::LAYOUTS {
            let insns = guest::boot(&mut guest::machine(mode, layout));
            g.throughput(Throughput::Elements(insns));
            let id = BenchmarkId::new(mode.name(), layout);
            g.bench_function(id, |b| {
                b.iter_batched(
                    || guest::machine(mode, layout),
                    |mut m| {
                        assert_eq!(guest::boot(&mut m), insns, "boots are deterministic");
                        m
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = guest_boot
}
criterion_main!(benches);

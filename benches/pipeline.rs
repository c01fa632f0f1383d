//! Throughput of the whole pipeline (read, decode, reassemble, TLS, certificates, findings,
//! reports) on the real seed captures of `benches/data/` (see its README), replicated in memory
//! into larger captures: each copy gets its own addresses and later timestamps, so every
//! connection of every copy is a new conversation, in time order as in a real capture.
//!
//! Run: `cargo bench --bench pipeline`. `scripts/bench.sh` measures the binary on 1 GB files and
//! compares with tshark; figures are in the README.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "../tests/common/replicate.rs"]
mod replicate;
use replicate::replicate;

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for name in ["handshake-heavy.pcap", "bulk.pcap"] {
        let original = std::fs::read(dir.join(name)).expect("seed capture (see benches/data)");
        let (big, copies) = replicate(&original, 128 << 20);
        group.throughput(Throughput::Bytes(big.len() as u64));
        group.bench_function(format!("{name} x{copies} ({} MB)", big.len() >> 20), |b| {
            // The copy handed to the analyzer is made outside the timed part.
            b.iter_batched(
                || big.clone(),
                |data| {
                    tlsdiag::analyze_bytes("bench", data, tlsdiag::Options::default())
                        .unwrap()
                        .tls_connections
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

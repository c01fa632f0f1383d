//! Throughput of each stage of the pipeline on its own, on the seed captures of `benches/data/`
//! replicated in memory (as in `pipeline.rs`): reading the capture's blocks; that and decoding
//! the link, IP and TCP headers; the whole analysis with the reports made but not written; and
//! writing one analysed file's report in each output format. The differences between the
//! first three tell what decoding and the analysis proper cost; the last what each format
//! adds to it.
//!
//! Run: `cargo bench --bench stages` (`cargo bench --bench stages -- render` for one group).

use std::io::Cursor;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tlsdiag::capture::{self, CaptureEvent};
use tlsdiag::packet::PacketDecoder;
use tlsdiag::render;

#[path = "../tests/common/replicate.rs"]
mod replicate;
use replicate::replicate;

/// Bytes of each replicated capture: enough for steady figures, small enough to run in a minute.
const SIZE: usize = 64 << 20;

fn seed(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    std::fs::read(dir.join(name)).expect("seed capture (see benches/data)")
}

/// Packets read from `data` (blocks parsed, nothing decoded).
fn read_only(data: Vec<u8>) -> u64 {
    let mut packets = 0;
    capture::read_capture(
        Box::new(Cursor::new(data)),
        capture::Compression::None,
        |ev| packets += matches!(ev, CaptureEvent::Packet(_)) as u64,
    )
    .expect("a capture");
    packets
}

/// TCP segments decoded from `data`.
fn read_and_decode(data: Vec<u8>) -> u64 {
    let mut decoder = PacketDecoder::new();
    let mut segments = 0;
    capture::read_capture(
        Box::new(Cursor::new(data)),
        capture::Compression::None,
        |ev| {
            if let CaptureEvent::Packet(p) = ev {
                decoder.decode(&p, |_| segments += 1);
            }
        },
    )
    .expect("a capture");
    segments
}

fn stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("stages");
    group.sample_size(10);
    for name in ["handshake-heavy.pcap", "bulk.pcap"] {
        let (big, _) = replicate(&seed(name), SIZE);
        group.throughput(Throughput::Bytes(big.len() as u64));
        // The copy each run is handed is made outside the timed part (a fresh 64 MB copy costs
        // about as much as reading it, in page faults).
        group.bench_function(format!("{name}: read blocks"), |b| {
            b.iter_batched(|| big.clone(), read_only, BatchSize::LargeInput)
        });
        group.bench_function(format!("{name}: read, decode link/IP/TCP"), |b| {
            b.iter_batched(|| big.clone(), read_and_decode, BatchSize::LargeInput)
        });
        group.bench_function(format!("{name}: analysis, reports not written"), |b| {
            b.iter_batched(
                || big.clone(),
                |data| {
                    let (input, compression) =
                        capture::decompress(Box::new(Cursor::new(data))).expect("a capture");
                    tlsdiag::analyzer::analyze_streaming(
                        input,
                        compression,
                        "bench".into(),
                        tlsdiag::Options::default(),
                        drop,
                    )
                    .expect("analysed")
                    .tls_connections
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let (big, _) = replicate(&seed("handshake-heavy.pcap"), SIZE);
    let report =
        tlsdiag::analyze_bytes("bench", big, tlsdiag::Options::default()).expect("analysed");
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.throughput(Throughput::Elements(report.connections.len() as u64));
    let mut out = Vec::new();
    group.bench_function("jsonl", |b| {
        b.iter(|| {
            out.clear();
            for c in &report.connections {
                render::write_jsonl_connection(&mut out, &report.file, c).expect("written");
            }
            render::write_jsonl_file(&mut out, &report).expect("written");
            out.len()
        })
    });
    group.bench_function("json", |b| {
        b.iter(|| {
            out.clear();
            render::write_json_report(&mut out, &report).expect("written");
            out.len()
        })
    });
    group.bench_function("text", |b| b.iter(|| render::render_text(&report).len()));
    group.bench_function("sarif", |b| {
        b.iter(|| render::sarif::sarif_results(&report).len())
    });
    group.bench_function("html", |b| {
        b.iter(|| render::html::html_file(&report).len())
    });
    group.finish();
}

criterion_group!(benches, stages, render);
criterion_main!(benches);

//! Throughput of the whole pipeline (read, decode, reassemble, TLS, certificates, report) on
//! real handshakes from `captures/`, replicated in memory into a larger capture with new ports so
//! every copy is a new connection.
//!
//! Run: `cargo bench --bench pipeline`. Figures are in the README.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Replicates the packets of a little-endian microsecond pcap `copies` times, shifting both TCP
/// ports of IPv4-over-Ethernet packets by the copy number so each copy is its own connection.
fn replicate(pcap: &[u8], copies: u16) -> Vec<u8> {
    let mut out = pcap[..24].to_vec();
    for k in 0..copies {
        let mut pos = 24;
        while pos + 16 <= pcap.len() {
            let caplen = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().unwrap()) as usize;
            let end = pos + 16 + caplen;
            if end > pcap.len() {
                break;
            }
            let start = out.len();
            out.extend_from_slice(&pcap[pos..end]);
            let frame = &mut out[start + 16..];
            if frame.len() > 14 + 20 + 4 && frame[12..14] == [0x08, 0x00] {
                let ihl = (frame[14] & 0x0f) as usize * 4;
                let t = 14 + ihl;
                for port_at in [t, t + 2] {
                    let p = u16::from_be_bytes([frame[port_at], frame[port_at + 1]]);
                    let shifted = p.wrapping_add(k.wrapping_mul(7));
                    frame[port_at..port_at + 2].copy_from_slice(&shifted.to_be_bytes());
                }
            }
            pos = end;
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    for (name, copies) in [
        ("tls12-ca-list-17k.pcap", 2000u16),
        ("tls12-cr-small.pcap", 4000),
    ] {
        let original = std::fs::read(dir.join(name)).expect("capture");
        let big = replicate(&original, copies);
        group.throughput(Throughput::Bytes(big.len() as u64));
        group.bench_function(format!("{name} x{copies} ({} MB)", big.len() >> 20), |b| {
            b.iter(|| {
                let report =
                    tlsdiag::analyze_bytes("bench", big.clone(), tlsdiag::Options::default())
                        .unwrap();
                assert_eq!(report.tls_connections, copies as usize);
                report
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

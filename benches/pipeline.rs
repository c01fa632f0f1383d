//! Throughput of the whole pipeline (read, decode, reassemble, TLS, certificates, findings,
//! reports) on the real seed captures of `benches/data/` (see its README), replicated in memory
//! into larger captures: each copy gets its own addresses and later timestamps, so every
//! connection of every copy is a new conversation, in time order as in a real capture.
//!
//! Run: `cargo bench --bench pipeline`. `scripts/bench.sh` measures the binary on 1 GB files and
//! compares with tshark; figures are in the README.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Replicates a little-endian microsecond Ethernet/IPv4 pcap until it reaches `target` bytes.
fn replicate(pcap: &[u8], target: usize) -> (Vec<u8>, u32) {
    let mut records: Vec<(u32, u32, &[u8])> = Vec::new();
    let mut pos = 24;
    while pos + 16 <= pcap.len() {
        let sec = u32::from_le_bytes(pcap[pos..pos + 4].try_into().unwrap());
        let usec = u32::from_le_bytes(pcap[pos + 4..pos + 8].try_into().unwrap());
        let caplen = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if pos + 16 + caplen > pcap.len() {
            break;
        }
        records.push((sec, usec, &pcap[pos + 16..pos + 16 + caplen]));
        pos += 16 + caplen;
    }
    let span =
        records.last().map(|r| r.0).unwrap_or(0) - records.first().map(|r| r.0).unwrap_or(0) + 1;
    let mut out = Vec::with_capacity(target + pcap.len());
    out.extend_from_slice(&pcap[..24]);
    let mut copies = 0u32;
    while out.len() < target {
        copies += 1;
        for &(sec, usec, frame) in &records {
            let start = out.len();
            out.extend_from_slice(&(sec + copies * span).to_le_bytes());
            out.extend_from_slice(&usec.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(frame);
            let f = &mut out[start + 16..];
            if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                // Both addresses of IPv4 get the copy number in their two low bytes (the same
                // change in both directions keeps each conversation whole).
                for at in [28usize, 32] {
                    let k = (copies as u16).to_be_bytes();
                    f[at] ^= k[0];
                    f[at + 1] ^= k[1];
                }
            }
        }
    }
    (out, copies)
}

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

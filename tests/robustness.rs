//! Bad input never panics: every capture of the corpora cut short at many points, with bytes
//! flipped, and pure garbage, all end in a report or a clear error.

use std::path::{Path, PathBuf};

use tlsdiag::{analyze_bytes, Options};

fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public/dev");
    let mut stack = vec![own, public];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".pcap"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A tiny deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn truncated_and_corrupted_captures_do_not_panic() {
    let files = captures();
    assert!(files.len() >= 20, "corpus not found");
    let mut rng = Lcg(0x5eed);
    let mut runs = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        if bytes.len() > 2_000_000 {
            continue;
        }
        // Cut short at a few points: the report of what was read must still come out.
        for cut in [
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - bytes.len() / 7,
        ] {
            let r = analyze_bytes("cut", bytes[..cut].to_vec(), Options::default());
            if let Ok(report) = r {
                assert!(report.capture.packets > 0 || report.warnings.len() <= 1);
            }
            runs += 1;
        }
        // Flip bytes past the file header.
        let mut flipped = bytes.clone();
        if flipped.len() > 64 {
            for _ in 0..(flipped.len() / 50).max(4) {
                let i = 32 + (rng.next() as usize) % (flipped.len() - 32);
                flipped[i] ^= (rng.next() as u8) | 1;
            }
        }
        let _ = analyze_bytes("flipped", flipped, Options::default());
        runs += 1;
    }
    assert!(runs > 80);
}

#[test]
fn garbage_inputs_are_clear_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("text", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("zeros", vec![0; 4096]),
        ("gzip of text", {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"hello, not a capture").unwrap();
            e.finish().unwrap()
        }),
        (
            "truncated gzip",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2],
        ),
        ("pcap header only", {
            let mut v = 0xa1b2c3d4u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[
                2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
            ]);
            v
        }),
    ];
    for (name, bytes) in cases {
        match analyze_bytes(name, bytes, Options::default()) {
            Ok(report) => assert_eq!(report.connections.len(), 0, "{name}"),
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
}

#[test]
fn hostile_pcapng_block_length_is_refused_without_allocating_it() {
    // A Section Header Block, then a block announcing 4 GiB.
    let mut v = Vec::new();
    v.extend_from_slice(&0x0a0d0d0au32.to_le_bytes());
    v.extend_from_slice(&28u32.to_le_bytes());
    v.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&(-1i64).to_le_bytes());
    v.extend_from_slice(&28u32.to_le_bytes());
    v.extend_from_slice(&6u32.to_le_bytes());
    v.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    v.extend_from_slice(&[0u8; 64]);
    match analyze_bytes("hostile", v, Options::default()) {
        Ok(report) => assert!(!report.warnings.is_empty() || report.capture.packets == 0),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// One pcapng block: type, body padded to 4 bytes, lengths at both ends.
fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let total = (body.len() + 12) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(&body);
    v.extend_from_slice(&total.to_le_bytes());
    v
}

fn ng_section_header() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(0x0a0d0d0a, &body)
}

/// An Ethernet Interface Description Block with an `if_tsoffset` option.
fn ng_interface(tsoffset: i64) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&65535u32.to_le_bytes());
    body.extend_from_slice(&14u16.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    body.extend_from_slice(&tsoffset.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    ng_block(1, &body)
}

fn ng_packet(if_id: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&if_id.to_le_bytes());
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

/// Ethernet, IPv4 and a TCP SYN (checksums zero: nothing checks them).
fn tcp_syn(src_port: u16, seq: u32) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&0x0800u16.to_be_bytes());
    v.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    v.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    v.extend_from_slice(&src_port.to_be_bytes());
    v.extend_from_slice(&443u16.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

#[test]
fn extreme_interface_time_offsets_do_not_overflow() {
    // Two interfaces whose if_tsoffset (seconds) are +2^62 and -2^62: their packets are
    // interleaved, so every time difference the analyzer takes spans far more than i64 ns.
    let mut v = ng_section_header();
    v.extend(ng_interface(1 << 62));
    v.extend(ng_interface(-(1 << 62)));
    for i in 0..6u32 {
        v.extend(ng_packet(
            i % 2,
            1_000_000 * u64::from(i),
            &tcp_syn(40000 + i as u16, i),
        ));
    }
    let report = analyze_bytes("extreme-offsets", v, Options::default()).unwrap();
    assert_eq!(report.capture.packets, 6);
    assert_eq!(report.capture.interfaces, 2);
}

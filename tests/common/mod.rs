//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The captures shipped in `captures/`.
#[allow(dead_code)]
pub fn ours() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// Every capture, ours and the public ones (when `../shared` is there), with the options that
/// read each (its key log, when one lies beside it).
#[allow(dead_code)]
pub fn every_capture() -> Vec<(PathBuf, tlsdiag::Options)> {
    let mut all = tlsdiag::check::captures_in(&ours()).unwrap();
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    if public.exists() {
        all.extend(tlsdiag::check::captures_in(&public).unwrap());
    }
    assert!(all.len() >= 59);
    all.into_iter()
        .map(|path| {
            let mut options = tlsdiag::Options::default();
            if let Some(keys) = tlsdiag::check::keylog_beside(&path) {
                options.keylog_files = vec![path.with_file_name(keys)];
            }
            (path, options)
        })
        .collect()
}

/// Builds a pcap of one TCP connection (Ethernet, IPv4) from (from_client, payload) pieces,
/// with a SYN handshake first. For rules no captured server of ours shows (auth loops).
#[allow(dead_code)] // not every test binary uses every helper
pub fn synthetic_tcp(pieces: &[(bool, &[u8])]) -> Vec<u8> {
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut t = 1_700_000_000u32;
    let mut packet =
        |pcap: &mut Vec<u8>, client: bool, flags: u8, seq: u32, ack: u32, data: &[u8]| {
            let (src, dst, sport, dport) = if client {
                ([10, 0, 0, 1], [10, 0, 0, 2], 50000u16, 80u16)
            } else {
                ([10, 0, 0, 2], [10, 0, 0, 1], 80, 50000)
            };
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            let total = 40 + data.len();
            f.extend_from_slice(&[
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                6,
                0,
                0,
            ]);
            f.extend_from_slice(&src);
            f.extend_from_slice(&dst);
            f.extend_from_slice(&sport.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&ack.to_be_bytes());
            f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            f.extend_from_slice(data);
            t += 1;
            pcap.extend_from_slice(&t.to_le_bytes());
            pcap.extend_from_slice(&0u32.to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&f);
        };
    packet(&mut pcap, true, 0x02, cseq, 0, b"");
    packet(&mut pcap, false, 0x12, sseq, cseq + 1, b"");
    cseq += 1;
    sseq += 1;
    for (client, data) in pieces {
        if *client {
            packet(&mut pcap, true, 0x18, cseq, sseq, data);
            cseq += data.len() as u32;
        } else {
            packet(&mut pcap, false, 0x18, sseq, cseq, data);
            sseq += data.len() as u32;
        }
    }
    pcap
}

/// The records of a classic little-endian pcap, in order (frame 1 first).
fn pcap_records(pcap: &[u8]) -> Vec<&[u8]> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian pcap only"
    );
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push(&pcap[at..at + 16 + caplen]);
        at += 16 + caplen;
    }
    records
}

/// A classic little-endian pcap with some frames (numbered from 1) left out: captures that
/// lost packets, made from real ones.
#[allow(dead_code)]
pub fn pcap_without_frames(pcap: &[u8], drop: &[u64]) -> Vec<u8> {
    let keep: Vec<(u64, u32)> = (1..=pcap_records(pcap).len() as u64)
        .filter(|f| !drop.contains(f))
        .map(|f| (f, 0))
        .collect();
    pcap_frames(pcap, &keep)
}

/// A classic little-endian pcap made of the given frames of another, in the given order, each
/// moved later by the given seconds: reordered or delayed packets from real captures.
#[allow(dead_code)]
pub fn pcap_frames(pcap: &[u8], frames: &[(u64, u32)]) -> Vec<u8> {
    let records = pcap_records(pcap);
    let mut out = pcap[..24].to_vec();
    for &(frame, later) in frames {
        let r = records[frame as usize - 1];
        let ts = u32::from_le_bytes(r[..4].try_into().unwrap()) + later;
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&r[4..]);
    }
    out
}

/// The failed client-certificate handshake of one capture and the 403 of another with the
/// same client and server (its port changed), in both orders, written to temporary files (as
/// tests/http.rs builds them). Written once per test process: tests running at once read them
/// while none rewrites them.
#[allow(dead_code)]
pub fn linked_captures() -> Vec<PathBuf> {
    static WRITTEN: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    WRITTEN.get_or_init(write_linked_captures).clone()
}

#[allow(dead_code)]
fn write_linked_captures() -> Vec<PathBuf> {
    let records = |bytes: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = 24;
        while pos + 16 <= bytes.len() {
            let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
            out.push(bytes[pos..pos + 16 + caplen].to_vec());
            pos += 16 + caplen;
        }
        out
    };
    let tls = std::fs::read(ours().join("tls12-client-cert-empty-required.pcap")).unwrap();
    let http = std::fs::read(ours().join("http-401-403.pcap")).unwrap();
    let mut http_records = records(&http);
    for r in &mut http_records {
        let t = 16 + 14 + (r[16 + 14] & 0x0f) as usize * 4;
        for at in [t, t + 2] {
            if u16::from_be_bytes([r[at], r[at + 1]]) == 44325 {
                r[at..at + 2].copy_from_slice(&44310u16.to_be_bytes());
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("tlsdiag-linked-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = Vec::new();
    for (name, first_tls) in [("tls-then-403.pcap", true), ("403-then-tls.pcap", false)] {
        let mut bytes = tls[..24].to_vec();
        let (a, b) = (records(&tls), http_records.clone());
        let (first, second) = if first_tls { (a, b) } else { (b, a) };
        for r in first.iter().chain(&second) {
            bytes.extend_from_slice(r);
        }
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        out.push(path);
    }
    out
}

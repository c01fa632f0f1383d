//! Messy real traffic (issue 10) on the captures of `captures/messy/` (facts from tshark 4.0.17
//! in `captures/messy/facts.tsv` and README): stream identity like Wireshark's `tcp.stream`,
//! capture gaps, tunnels, OpenVPN and IPv6 fragments.

mod common;

use std::path::{Path, PathBuf};

use tlsdiag::{analyze_bytes, analyze_path, ConnectionReport, FileReport, Options};

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/messy")
        .join(name)
}

fn run(name: &str) -> FileReport {
    analyze_path(&path(name), Options::default()).unwrap()
}

/// (message type, frame, frames) of one connection.
fn messages(c: &ConnectionReport) -> Vec<(&'static str, u64, Vec<u64>)> {
    c.messages
        .iter()
        .map(|m| (m.kind, m.frame, m.frames.clone()))
        .collect()
}

/// Every message's frame is one of its frames, and the last.
fn assert_frame_is_last_of_frames(r: &FileReport) {
    for c in &r.connections {
        for m in &c.messages {
            assert_eq!(
                m.frames.last(),
                Some(&m.frame),
                "stream {} {} at frame {} carried by {:?}",
                c.stream,
                m.kind,
                m.frame,
                m.frames
            );
        }
    }
}

#[test]
fn messages_after_a_gap_carry_the_frame_of_their_last_byte() {
    // gap-then-message.pcap without the client's ACKs 8, 10 and 12: the server's segments after
    // the 400-byte hole (old frames 9, 11, 13, now 8, 9, 10) wait in the out-of-order buffer
    // until the client's ACK of everything (old 14, now 11) tells that the hole was lost.
    // ServerKeyExchange ends in the segment now numbered 9 (tshark, default preferences: SKE 11
    // before renumbering), CertificateRequest and ServerHelloDone in 10 (13 before).
    let pcap = std::fs::read(path("gap-then-message.pcap")).unwrap();
    let lossy = common::pcap_without_frames(&pcap, &[8, 10, 12]);
    let r = analyze_bytes("lossy", lossy, Options::default()).unwrap();
    assert_eq!(r.connections.len(), 1);
    let c = &r.connections[0];
    let server: Vec<_> = messages(c)
        .into_iter()
        .filter(|m| m.0 != "client_hello" && m.1 < 12)
        .collect();
    assert_eq!(
        server,
        vec![
            ("server_hello", 6, vec![6]),
            ("server_key_exchange", 9, vec![8, 9]),
            ("certificate_request", 10, vec![9, 10]),
            ("server_hello_done", 10, vec![10]),
        ]
    );
    // The hole itself is dated where it was noticed: the client's ACK.
    let gaps = &c.tcp.server.gaps;
    assert_eq!(
        (gaps.len(), gaps[0].offset, gaps[0].bytes, gaps[0].frame),
        (1, 300, 400, 11)
    );
    assert_frame_is_last_of_frames(&r);
}

#[test]
fn gap_captures_keep_every_message_after_the_gap() {
    // tshark with default preferences: SKE 11, CR+SHD 13 (gap-then-message); SKE 9, CR+SHD 11
    // (gap-record-aligned). The Certificate is lost in both.
    for (name, ske, cr) in [
        ("gap-then-message.pcap", 11, 13),
        ("gap-record-aligned.pcap", 9, 11),
    ] {
        let r = run(name);
        let c = &r.connections[0];
        let got: Vec<(&str, u64)> = messages(c).iter().map(|m| (m.0, m.1)).collect();
        assert_eq!(
            got[..5],
            [
                ("client_hello", 4),
                ("server_hello", 6),
                ("server_key_exchange", ske),
                ("certificate_request", cr),
                ("server_hello_done", cr)
            ],
            "{name}"
        );
        assert!(
            got.iter().all(|m| m.0 != "certificate" || m.1 > cr),
            "{name}"
        );
        assert_frame_is_last_of_frames(&r);
    }
}

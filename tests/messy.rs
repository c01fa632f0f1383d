//! Messy real traffic (issue 10) on the captures of `captures/messy/` (facts from tshark 4.0.17
//! in `captures/messy/facts.tsv` and README): stream identity like Wireshark's `tcp.stream`,
//! capture gaps, tunnels, OpenVPN and IPv6 fragments.

mod common;

use std::path::{Path, PathBuf};

use tlsdiag::model::OutcomeStatus;
use tlsdiag::{analyze_bytes, analyze_path, ConnectionReport, FileReport, Options};

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures/messy")
        .join(name)
}

fn run(name: &str) -> FileReport {
    analyze_path(&path(name), Options::default()).unwrap()
}

/// With `messy.keys`, so HTTP inside TLS shows.
fn with_keys() -> Options {
    Options {
        keylog_files: vec![path("messy.keys")],
        ..Options::default()
    }
}

/// Per connection: (tcp.stream, first frame, last frame, ClientHello frame, ServerHello frame,
/// frame of the HTTP 200 response).
type Conn = (u64, u64, u64, u64, u64, Option<u64>);

fn connections(r: &FileReport) -> Vec<Conn> {
    let frame_of = |c: &ConnectionReport, kind: &str| {
        c.messages
            .iter()
            .find(|m| m.kind == kind)
            .map_or(0, |m| m.frame)
    };
    r.connections
        .iter()
        .map(|c| {
            (
                c.stream,
                c.first_frame,
                c.last_frame,
                frame_of(c, "client_hello"),
                frame_of(c, "server_hello"),
                c.http
                    .iter()
                    .find(|x| x.status == Some(200))
                    .and_then(|x| x.response_frame),
            )
        })
        .collect()
}

fn outcomes(r: &FileReport) -> Vec<OutcomeStatus> {
    r.connections.iter().map(|c| c.outcome.status).collect()
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

/// tcp.stream, frames of ClientHello / ServerHello / HTTP 200 as tshark shows them
/// (captures/messy/facts.tsv), except where noted.
#[test]
fn a_syn_on_a_known_port_pair_follows_wiresharks_rules() {
    use OutcomeStatus::*;
    let cases: [(&str, &[Conn], &[OutcomeStatus]); 7] = [
        // The same SYN, seconds after the client reset an attempt a middlebox answered with a
        // bare ACK: one stream (tshark too), and the attempt does not spoil the numbering.
        (
            "syn-retrans-after-rst.pcap",
            &[(0, 1, 25, 7, 9, Some(17)), (1, 26, 45, 29, 31, Some(37))],
            &[Completed, Completed],
        ),
        // The same after a middlebox's RST in the server's name.
        (
            "syn-retrans-after-mbrst.pcap",
            &[(0, 1, 24, 6, 8, Some(16)), (1, 25, 44, 28, 30, Some(36))],
            &[Completed, Completed],
        ),
        // A plain SYN retransmission.
        (
            "syn-retrans-plain.pcap",
            &[(0, 1, 23, 5, 7, Some(15)), (1, 24, 43, 27, 29, Some(35))],
            &[Completed, Completed],
        ),
        // A new ISN after a FIN/FIN close: a new stream.
        (
            "syn-new-isn-after-close.pcap",
            &[
                (0, 1, 22, 4, 6, Some(14)),
                (1, 23, 42, 26, 28, Some(34)),
                (2, 43, 64, 46, 48, Some(56)),
            ],
            &[Completed, Completed, Completed],
        ),
        // The same ISN after a FIN/FIN close: the client's sequence space moved past that SYN,
        // so it is a new connection. tshark 4.0 merges it into stream 0 and loses its TLS 1.3
        // handshake, so its later streams are one less (deliberate difference).
        (
            "syn-same-isn-after-close.pcap",
            &[
                (0, 1, 22, 4, 6, Some(14)),
                (1, 23, 42, 26, 28, Some(34)),
                (2, 43, 64, 46, 48, Some(56)),
            ],
            &[Completed, Completed, Completed],
        ),
        // A new ISN without any close: a new stream; the first connection stopped after the
        // server's flight.
        (
            "syn-new-isn-no-close.pcap",
            &[
                (0, 1, 7, 4, 6, None),
                (1, 8, 27, 11, 13, Some(19)),
                (2, 28, 49, 31, 33, Some(41)),
            ],
            &[Incomplete, Completed, Completed],
        ),
        // Three SYN-ACKs with different ISNs: one stream, numbered from the last, which the
        // client acknowledges.
        (
            "multi-synack.pcap",
            &[(0, 1, 24, 6, 8, Some(16)), (1, 25, 44, 28, 30, Some(36))],
            &[Completed, Completed],
        ),
    ];
    for (name, want, status) in cases {
        let r = analyze_path(&path(name), with_keys()).unwrap();
        assert_eq!(connections(&r), want, "{name}");
        assert_eq!(outcomes(&r), status, "{name}");
        assert_eq!(r.tcp_conversations, want.len() as u64, "{name}");
        for c in &r.connections {
            assert!(!c.tcp.midstream, "{name} stream {}", c.stream);
            assert_eq!(c.tcp.server.gap_bytes + c.tcp.client.gap_bytes, 0, "{name}");
        }
    }
    let r = run("syn-retrans-after-rst.pcap");
    assert_eq!(
        r.connections[0].tcp.notes,
        [
            "an earlier attempt with the same SYN (frames 1-3) ended without data; the client \
          sent that SYN again in frame 4 and the connection went on from there, under the same \
          tcp.stream"
        ]
    );
    assert_eq!(r.connections[0].tcp.ended_by, "fin");
    assert!(r.connections[1].tcp.notes.is_empty());
}

#[test]
fn a_syn_retried_after_the_failed_attempt_was_finalized_keeps_its_stream() {
    // syn-retrans-after-rst.pcap with the port-50002 connection moved between the reset
    // attempt (frames 1-3) and its retry, 10 s later, and the retry 10 s after that: the
    // attempt is long finalized when the same SYN comes back, yet Wireshark's stream 0 goes
    // on. New frames: attempt 1-3, port 50002 4-23, the retried connection 24-45.
    let pcap = std::fs::read(path("syn-retrans-after-rst.pcap")).unwrap();
    let mut order: Vec<(u64, u32)> = vec![(1, 0), (2, 0), (3, 0)];
    order.extend((26..=45).map(|f| (f, 10)));
    order.extend((4..=25).map(|f| (f, 20)));
    let r = analyze_bytes("delayed", common::pcap_frames(&pcap, &order), with_keys()).unwrap();
    assert_eq!(
        connections(&r),
        [(0, 24, 45, 27, 29, Some(37)), (1, 4, 23, 7, 9, Some(15))]
    );
    assert_eq!(r.tcp_conversations, 2);
    assert_eq!(outcomes(&r), [OutcomeStatus::Completed; 2]);
    assert_eq!(
        r.connections[0].tcp.notes,
        [
            "an earlier attempt with the same SYN (frames 1-3) ended without data; the client \
          sent that SYN again in frame 24 and the connection went on from there, under the \
          same tcp.stream"
        ]
    );
}

#[test]
fn the_synack_the_client_acknowledges_numbers_the_server_bytes() {
    // multi-synack.pcap with the real SYN-ACK (frame 4, ISN 0x7E570000) sent first, before the
    // two from middleboxes: the client's ACK in frame 5 acknowledges the one now in frame 2.
    // Wireshark numbers from the last SYN-ACK and would lose the server's flight; we resync
    // on the acknowledged one and say so.
    let pcap = std::fs::read(path("multi-synack.pcap")).unwrap();
    let mut order: Vec<(u64, u32)> = vec![(1, 0), (4, 0), (2, 0), (3, 0)];
    order.extend((5..=44).map(|f| (f, 0)));
    let r = analyze_bytes("reordered", common::pcap_frames(&pcap, &order), with_keys()).unwrap();
    assert_eq!(
        connections(&r),
        [(0, 1, 24, 6, 8, Some(16)), (1, 25, 44, 28, 30, Some(36))]
    );
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert_eq!((c.tcp.midstream, c.tcp.server.gap_bytes), (false, 0));
    assert_eq!(
        c.tcp.notes,
        [
            "the server sent 3 SYN-ACKs with different initial sequence numbers (frames 2, 3, 4); \
          its bytes are numbered from the one in frame 2: the peer acknowledged it (frame 5)"
        ]
    );
    // In the capture as made the last SYN-ACK is the real one, as Wireshark assumes.
    let r = run("multi-synack.pcap");
    assert_eq!(
        r.connections[0].tcp.notes,
        [
            "the server sent 3 SYN-ACKs with different initial sequence numbers (frames 2, 3, 4); \
          its bytes are numbered from the one in frame 4: the peer acknowledged it (frame 5)"
        ]
    );
}

/// (type, frame) of every handshake message of a connection.
fn kinds(c: &ConnectionReport) -> Vec<(&'static str, u64)> {
    c.messages.iter().map(|m| (m.kind, m.frame)).collect()
}

/// The mutual TLS 1.2 handshake of `tls12-cr-small.pcap` as the messy captures carry it:
/// ClientHello, the server's flight in one frame, the client's in one, the server's Finished.
fn tls12_mtls(ch: u64, server: u64, client: u64, fin: u64) -> Vec<(&'static str, u64)> {
    vec![
        ("client_hello", ch),
        ("server_hello", server),
        ("certificate", server),
        ("server_key_exchange", server),
        ("certificate_request", server),
        ("server_hello_done", server),
        ("certificate", client),
        ("client_key_exchange", client),
        ("certificate_verify", client),
        ("finished", client),
        ("finished", fin),
    ]
}

#[test]
fn tls_inside_gtpu_is_decoded() {
    // GTPv1-U on UDP 2152: plain, with a PDU Session Container extension header, and with
    // IPv6 inside. tshark: stream 0, CH 4, server flight 6, client flight 8, Finished 10,
    // HTTP 200 14; the addresses are the inner ones.
    for (name, client, server) in [
        ("gtpu-tls.pcap", "10.45.0.2:50030", "198.51.100.44:443"),
        ("gtpu-ext-tls.pcap", "10.45.0.2:50030", "198.51.100.44:443"),
        (
            "gtpu-ipv6-tls.pcap",
            "[2001:db8:1e::2]:50030",
            "[2001:db8:cafe::443]:443",
        ),
    ] {
        let r = analyze_path(&path(name), with_keys()).unwrap();
        assert_eq!(connections(&r), [(0, 1, 22, 4, 6, Some(14))], "{name}");
        let c = &r.connections[0];
        assert_eq!((c.client.as_str(), c.server.as_str()), (client, server));
        assert_eq!(kinds(c), tls12_mtls(4, 6, 8, 10), "{name}");
        assert_eq!(c.outcome.status, OutcomeStatus::Completed, "{name}");
        assert_eq!(c.client_auth.client_certificate, "sent", "{name}");
    }
}

#[test]
fn ipv6_fragments_are_reassembled() {
    // The server's flight in fragments sent as offset 552 (frame 6), 0 (7), 0 again (8, a
    // duplicate) and the last (9); the client's flight in order (11, 12, 13). tshark: server
    // flight in 9, client flight in 13, CH 4, server Finished 15, HTTP 200 19.
    let r = analyze_path(&path("ipv6-frag-tls.pcap"), with_keys()).unwrap();
    assert_eq!(connections(&r), [(0, 1, 27, 4, 9, Some(19))]);
    assert_eq!(kinds(&r.connections[0]), tls12_mtls(4, 9, 13, 15));
    assert_eq!(
        (
            r.packets.ipv6_fragments,
            r.packets.ipv6_reassembled,
            r.packets.fragments_dropped
        ),
        (7, 2, 0)
    );
}

/// (subject, issuer) of each certificate of a Certificate message.
fn chain(c: &ConnectionReport, frame: u64) -> Vec<(String, String)> {
    c.messages
        .iter()
        .filter(|m| m.kind == "certificate" && m.frame == frame)
        .flat_map(|m| match &m.detail {
            Some(tlsdiag::tls::Detail::Certificate(cert)) => cert
                .certificates
                .iter()
                .map(|x| (x.subject.clone(), x.issuer.clone()))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn ca_names(c: &ConnectionReport) -> (usize, Vec<String>) {
    c.messages
        .iter()
        .find_map(|m| match &m.detail {
            Some(tlsdiag::tls::Detail::CertificateRequest(cr)) => Some((
                cr.ca_list_bytes,
                cr.ca_names.iter().map(|n| n.dn.clone()).collect(),
            )),
            _ => None,
        })
        .unwrap()
}

#[test]
fn tls_inside_openvpn_over_tcp_is_read_from_its_control_channel() {
    // Real OpenVPN 2.6.14 (captures/messy/README.md). tshark: CH 8, server hello flight 10
    // (9 with tls-auth), client flight 13 (12); it never shows the CertificateRequest, whose
    // record is split across two P_CONTROL packets: it is in 12 (11), with ServerHelloDone.
    let root = "CN=Messy VPN Root CA,O=tlsdiag messy";
    let issuing = "CN=Messy VPN Client Issuing CA,O=tlsdiag messy";
    for (name, server, cr, client, hmac) in [
        ("openvpn-tcp.pcap", 10, 12, 13, ""),
        (
            "openvpn-tcp-tlsauth.pcap",
            9,
            11,
            12,
            " (tls-auth, 20-byte HMAC)",
        ),
    ] {
        let r = run(name);
        assert_eq!(r.connections.len(), 1, "{name}");
        let c = &r.connections[0];
        assert_eq!(
            kinds(c),
            [
                ("client_hello", 8),
                ("server_hello", server),
                ("certificate", server),
                ("server_key_exchange", server),
                ("certificate_request", cr),
                ("server_hello_done", cr),
                ("certificate", client),
                ("client_key_exchange", client),
                ("certificate_verify", client),
            ],
            "{name}"
        );
        assert_eq!(
            ca_names(c),
            (122, vec![root.to_string(), issuing.to_string()])
        );
        assert_eq!(
            chain(c, client),
            [
                ("CN=alice,O=tlsdiag messy".to_string(), issuing.to_string()),
                (issuing.to_string(), root.to_string())
            ],
            "{name}"
        );
        assert_eq!(c.outcome.status, OutcomeStatus::Completed, "{name}");
        assert_eq!(
            c.tcp.notes,
            [format!("TLS carried in OpenVPN's control channel{hmac}")]
        );
        assert!(c
            .findings
            .iter()
            .all(|f| f.code != "client-cert-issuer-not-requested"));
    }
}

#[test]
fn tls_inside_openvpn_over_udp_is_read_from_its_control_channel() {
    // tshark with -d udp.port==1194,openvpn (facts.tsv): CH 3, server hello flight 4, client
    // flight 7; CertificateRequest + ServerHelloDone (not shown by tshark) in 5, or 6 with
    // tls-auth. The conversation is udp.stream 0 and the filters say so.
    for (name, cr, hmac) in [
        ("openvpn-udp.pcap", 5, ""),
        ("openvpn-udp-tlsauth.pcap", 6, " (tls-auth, 20-byte HMAC)"),
    ] {
        let r = run(name);
        assert_eq!((r.connections.len(), r.tcp_conversations), (1, 0), "{name}");
        let c = &r.connections[0];
        assert!(c.udp);
        assert_eq!(c.stream, 0);
        assert_eq!(
            kinds(c),
            [
                ("client_hello", 3),
                ("server_hello", 4),
                ("certificate", 4),
                ("server_key_exchange", 4),
                ("certificate_request", cr),
                ("server_hello_done", cr),
                ("certificate", 7),
                ("client_key_exchange", 7),
                ("certificate_verify", 7),
            ],
            "{name}"
        );
        assert_eq!(ca_names(c).0, 122);
        assert_eq!(c.outcome.status, OutcomeStatus::Completed, "{name}");
        assert_eq!(
            c.tcp.notes,
            [format!("TLS carried in OpenVPN's control channel{hmac}")]
        );
        assert!(c.not_seen.is_empty(), "{:?}", c.not_seen);
        assert!(!c.findings.is_empty());
        for f in &c.findings {
            assert!(f.filter.starts_with("udp.stream eq 0 && "), "{}", f.filter);
        }
    }
}

#[test]
fn a_vpn_client_certificate_from_an_unrequested_ca_is_explained() {
    // The client sends mallory <- Rogue Root CA; the server names only the Messy VPN CAs in
    // its CertificateRequest (frame 11) and closes the connection without an alert.
    let r = run("openvpn-tcp-clientcert-rejected.pcap");
    let c = &r.connections[0];
    assert_eq!(
        chain(c, 12),
        [
            (
                "CN=mallory,O=Rogue Org".to_string(),
                "CN=Rogue Root CA,O=Rogue Org".to_string()
            ),
            (
                "CN=Rogue Root CA,O=Rogue Org".to_string(),
                "CN=Rogue Root CA,O=Rogue Org".to_string()
            ),
        ]
    );
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "client-cert-issuer-not-requested")
        .unwrap();
    assert_eq!(f.frames, [11, 12]);
}

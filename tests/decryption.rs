//! Decryption on captures made with openssl, nginx and curl: every cipher family, the same
//! result from a key log file and from the capture's own Decryption Secrets Block, renegotiated
//! and TLS 1.3 client authentication made visible, and a wrong key log reported as such.

use std::path::{Path, PathBuf};

use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn run(capture: &str, keylog: Option<&str>) -> FileReport {
    let options = Options {
        keylog_files: keylog.map(|k| dir().join(k)).into_iter().collect(),
        ..Options::default()
    };
    analyze_path(&dir().join(capture), options).unwrap()
}

fn only(r: &FileReport) -> &ConnectionReport {
    assert_eq!(r.connections.len(), 1);
    &r.connections[0]
}

fn frames_of(c: &ConnectionReport, kind: &str) -> Vec<(u64, String)> {
    c.messages
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| (m.frame, format!("{:?}", m.direction).to_lowercase()))
        .collect()
}

/// (capture, cipher suite, HTTP response frame)
const FAMILIES: &[(&str, &str, u64)] = &[
    (
        "dec-tls12-chacha",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        11,
    ),
    (
        "dec-tls12-aes128gcm",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        11,
    ),
    (
        "dec-tls12-aes128ccm",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        11,
    ),
    (
        "dec-tls12-cbc-sha1-etm",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        11,
    ),
    (
        "dec-tls12-cbc-sha1-mte",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        11,
    ),
    (
        "dec-tls12-cbc-sha256",
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        11,
    ),
    (
        "dec-tls12-cbc-sha384-mte",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        11,
    ),
    ("dec-tls10-cbc", "TLS_RSA_WITH_AES_128_CBC_SHA", 19),
    ("dec-tls10-cbc-mte", "TLS_RSA_WITH_AES_128_CBC_SHA", 19),
    ("dec-tls13-chacha", "TLS_CHACHA20_POLY1305_SHA256", 11),
    ("dec-tls13-aes128gcm", "TLS_AES_128_GCM_SHA256", 11),
];

#[test]
fn every_cipher_family_decrypts_from_key_log_and_from_dsb() {
    for &(name, suite, response) in FAMILIES {
        for (capture, keylog) in [
            (format!("{name}.pcap"), Some(format!("{name}.keys"))),
            (format!("{name}-dsb.pcapng"), None),
        ] {
            let r = run(&capture, keylog.as_deref());
            let c = only(&r);
            assert_eq!(c.cipher_suite.as_deref(), Some(suite), "{capture}");
            assert_eq!(
                c.decryption.status, "decrypted",
                "{capture}: {:?}",
                c.decryption
            );
            // Both Finished messages are read, and the client's certificate.
            assert_eq!(frames_of(c, "finished").len(), 2, "{capture}");
            assert_eq!(c.client_auth.client_certificate, "sent", "{capture}");
            let statuses: Vec<(Option<u16>, Option<u64>)> = c
                .http
                .iter()
                .map(|x| (x.status, x.response_frame))
                .collect();
            assert_eq!(statuses, vec![(Some(200), Some(response))], "{capture}");
            assert!(c.findings.is_empty(), "{capture}: {:?}", c.findings);
        }
    }
}

#[test]
fn renegotiated_certificate_request_with_a_17k_ca_list() {
    // Without keys: the renegotiation's encrypted records, and from their sizes a CA list
    // over Schannel's limit even at its smallest possible size.
    let r = run("dec-tls12-reneg-ca-17k.pcap", None);
    let codes: Vec<&str> = only(&r).findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, vec!["ca-list-over-limit", "renegotiation-encrypted"]);
    let d = only(&r)
        .client_auth
        .inference
        .as_ref()
        .unwrap()
        .ca_list_bytes;
    assert_eq!(d.map(|d| (d.min, d.max)), Some((16905, 17046)));
    // With keys: the renegotiated CertificateRequest and its CA list, as in clear.
    let r = run(
        "dec-tls12-reneg-ca-17k.pcap",
        Some("dec-tls12-reneg-ca-17k.keys"),
    );
    let c = only(&r);
    assert_eq!(
        frames_of(c, "client_hello"),
        vec![(4, "client".into()), (15, "client".into())]
    );
    let cr = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate_request")
        .unwrap();
    assert_eq!((cr.frame, cr.records, cr.decrypted), (20, 2, true));
    let f = &c.findings[0];
    assert_eq!(f.code, "ca-list-over-limit");
    assert!(f.title.contains("17,006 bytes (83 names)"));
    assert_eq!(c.http[0].status, Some(200));
    assert_eq!(c.http[0].response_frame, Some(24));
}

#[test]
fn tls13_empty_certificate_answered_by_403() {
    let r = run("dec-tls13-empty-cert-403-dsb.pcapng", None);
    let c = only(&r);
    assert_eq!(c.decryption.status, "decrypted");
    let codes: Vec<&str> = c.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        vec![
            "ca-list-over-limit",
            "client-cert-empty",
            "http-403-client-cert"
        ]
    );
    let cert = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate" && m.direction == tlsdiag::tls::Direction::Client)
        .unwrap();
    assert_eq!(cert.frame, 12);
    assert_eq!(c.http[0].status, Some(403));
    assert_eq!(c.http[0].substatus.as_deref(), Some("403.7"));
}

#[test]
fn tls13_post_handshake_certificate_request() {
    let r = run("dec-tls13-pha-empty.pcap", Some("dec-tls13-pha-empty.keys"));
    let c = only(&r);
    // The Finished of post-handshake authentication keeps the application keys: everything,
    // including the client's close_notify after it, decrypts.
    assert_eq!(c.decryption.status, "decrypted");
    let cr = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate_request")
        .unwrap();
    assert_eq!(cr.frame, 12);
    assert_eq!(c.client_auth.client_certificate, "empty");
    // The server went on without a certificate (GET /secure/ -> 200): a file note, no error.
    assert!(c.findings.is_empty());
    assert_eq!(c.file_notes, vec!["client-cert-empty"]);
    assert_eq!(c.handshakes.len(), 2);
    assert_eq!(
        (c.handshakes[1].kind, c.handshakes[1].first_frame),
        ("post-handshake-auth", 12)
    );
    assert_eq!(
        c.handshakes[1].outcome.status,
        tlsdiag::model::OutcomeStatus::Completed
    );
}

#[test]
fn wrong_key_log_fails_authentication_and_keeps_the_rest() {
    let r = run(
        "dec-tls12-aes128gcm.pcap",
        Some("dec-tls12-wrong-keys.keys"),
    );
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    let reason = c.decryption.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("authentication failed at the 1st encrypted record"),
        "{reason}"
    );
    // The handshake in clear is all there, with its CertificateRequest.
    assert_eq!(
        frames_of(c, "certificate_request"),
        vec![(6, "server".into())]
    );
    assert_eq!(c.client_auth.client_certificate, "sent");
}

#[test]
fn key_log_for_another_session() {
    let r = run("dec-tls12-aes128gcm.pcap", Some("dec-tls12-chacha.keys"));
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    assert!(c
        .decryption
        .reason
        .as_deref()
        .unwrap()
        .starts_with("no key for this connection in the key log (client random"));
}

#[test]
fn a_capture_gap_stops_decryption_of_that_direction_only() {
    // Drop frame 10 (the client's encrypted GET): the server's acknowledgement shows the bytes
    // were sent, so the client direction has a hole; the server's records still decrypt.
    let bytes = std::fs::read(dir().join("dec-tls12-aes128gcm.pcap")).unwrap();
    let mut out = bytes[..24].to_vec();
    let (mut pos, mut frame) = (24, 0);
    while pos + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        frame += 1;
        if frame != 10 {
            out.extend_from_slice(&bytes[pos..pos + 16 + caplen]);
        }
        pos += 16 + caplen;
    }
    let options = Options {
        keylog_files: vec![dir().join("dec-tls12-aes128gcm.keys")],
        ..Options::default()
    };
    let r = tlsdiag::analyze_bytes("gap", out, options).unwrap();
    let c = only(&r);
    assert_eq!(c.decryption.status, "partly-decrypted");
    let reason = c.decryption.reason.as_deref().unwrap();
    assert!(reason.contains("lost in a capture gap"), "{reason}");
    assert!(c.decryption.server_records >= 3, "{:?}", c.decryption);
    // The response is still read; its request is not.
    assert!(c.http.iter().any(|x| x.status == Some(200)));
    assert!(c
        .not_seen
        .iter()
        .any(|n| n.contains("lost in a capture gap")));
}

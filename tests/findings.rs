//! Findings on captures made with real servers: each capture gives exactly the expected codes
//! with the expected frames, and a clean capture gives none.

use std::path::Path;

use tlsdiag::findings::{catalog_markdown, Thresholds};
use tlsdiag::model::{Finding, OutcomeStatus, Severity};
use tlsdiag::tls::Direction;
use tlsdiag::{analyze_path, FileReport, Options};

fn report(path: &Path, options: Options) -> FileReport {
    analyze_path(path, options).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn own(name: &str) -> FileReport {
    report(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .join(name),
        Options::default(),
    )
}

fn codes(r: &FileReport) -> Vec<(String, Vec<u64>)> {
    let mut v: Vec<(String, Vec<u64>)> = r
        .connections
        .iter()
        .flat_map(|c| &c.findings)
        .map(|f| (f.code.to_string(), f.frames.clone()))
        .collect();
    v.sort();
    v
}

fn find<'a>(r: &'a FileReport, code: &str) -> &'a Finding {
    r.connections
        .iter()
        .flat_map(|c| &c.findings)
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", codes(r)))
}

fn expect(name: &str, expected: &[(&str, &[u64])]) -> FileReport {
    let r = own(name);
    let mut want: Vec<(String, Vec<u64>)> = expected
        .iter()
        .map(|(c, f)| (c.to_string(), f.to_vec()))
        .collect();
    want.sort();
    assert_eq!(codes(&r), want, "{name}");
    for f in r.connections.iter().flat_map(|c| &c.findings) {
        assert!(
            f.filter
                .starts_with(&format!("tcp.stream eq {} && ", f.stream)),
            "{}",
            f.filter
        );
        assert!(!f.refs.is_empty() && !f.frames.is_empty() && !f.explanation.is_empty());
    }
    r
}

#[test]
fn clean_handshakes_give_no_finding() {
    expect("tls12-cr-small.pcap", &[]);
    // About 11.5 KB of CA names: below the 12 KB warning threshold.
    let r = expect("tls12-ca-list-11k.pcap", &[]);
    assert_eq!(r.connections[0].client_auth.issuer_match, Some("exact"));
}

#[test]
fn ca_list_sizes() {
    let r = expect("tls12-ca-list-13k.pcap", &[("ca-list-large", &[6, 8])]);
    let f = find(&r, "ca-list-large");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.title.contains("13,262 bytes (65 names)"), "{}", f.title);

    let r = expect(
        "tls12-ca-list-17k.pcap",
        &[("ca-list-over-limit", &[6, 8, 10])],
    );
    let f = find(&r, "ca-list-over-limit");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.title.contains("17,006 bytes (83 names)"), "{}", f.title);
    assert!(f.explanation.contains("spanned 2 TLS records"));
    assert!(f.explanation.contains("event 36885"));
    assert_eq!(
        f.explanation
            .matches("206 bytes  CN=tlsdiag Generated Client CA")
            .count(),
        10
    );
    assert_eq!(f.filter, "tcp.stream eq 0 && tls.handshake.type == 13");
    // 158 + 79 x 208 bytes passes 16,384: names 79 to 81 are the ones Schannel would not send.
    assert!(
        f.explanation.contains("3 name(s) lie past byte 16,384"),
        "{}",
        f.explanation
    );
    assert!(f
        .explanation
        .contains("    CN=tlsdiag Generated Client CA 0079,"));

    // 37 KB: over the CA-list limit and over Schannel's 32 KB message limit.
    let r = expect(
        "tls12-ca-list-37k.pcap",
        &[
            ("ca-list-over-limit", &[6, 8, 10, 12]),
            ("handshake-message-large", &[6, 8, 10, 12]),
        ],
    );
    assert!(find(&r, "ca-list-over-limit")
        .title
        .contains("37,182 bytes (180 names)"));
    assert!(find(&r, "handshake-message-large")
        .title
        .contains("MessageLimitClient"));

    let r = expect("tls12-ca-list-empty.pcap", &[("ca-list-empty", &[6])]);
    assert_eq!(r.connections[0].client_auth.issuer_match, Some("any"));
}

#[test]
fn warn_threshold_is_an_option() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/tls12-ca-list-11k.pcap");
    let options = Options {
        thresholds: Thresholds {
            ca_list_warn_bytes: 10_000,
        },
        ..Options::default()
    };
    let r = report(&path, options);
    assert!(find(&r, "ca-list-large")
        .title
        .contains("11,598 bytes (57 names)"));
}

#[test]
fn server_chain_shapes() {
    let r = expect(
        "tls12-self-issued-intermediate.pcap",
        &[("chain-self-issued-intermediate", &[6])],
    );
    let f = find(&r, "chain-self-issued-intermediate");
    assert!(f.title.contains("Certificate 1"));
    assert!(f
        .explanation
        .contains("No certificate in the chain verifies it"));

    // With the real root appended, the root's key is named as the signer.
    let r = expect(
        "tls12-self-issued-intermediate-with-root.pcap",
        &[
            ("chain-root-included", &[6]),
            ("chain-self-issued-intermediate", &[6]),
        ],
    );
    let f = find(&r, "chain-self-issued-intermediate");
    assert!(
        f.explanation
            .contains("verifies with the key of certificate 2"),
        "{}",
        f.explanation
    );
    assert!(find(&r, "chain-root-included")
        .title
        .contains("certificate 2"));

    let r = expect(
        "tls12-chain-out-of-order.pcap",
        &[("chain-out-of-order", &[6]), ("chain-root-included", &[6])],
    );
    assert!(find(&r, "chain-out-of-order")
        .title
        .contains("Certificate 0"));

    let r = expect("tls12-expired-leaf.pcap", &[("cert-expired", &[6])]);
    assert!(find(&r, "cert-expired").explanation.contains("captured at"));
}

#[test]
fn client_certificate_problems() {
    // The server asks, the client sends nothing and the server goes on (openssl s_server
    // -verify): the handshake completed, so this is said once in the file's notes, not as an
    // error on the connection.
    let r = expect("tls12-client-cert-empty.pcap", &[]);
    let c = &r.connections[0];
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert_eq!(c.file_notes, vec!["client-cert-empty"]);
    assert_eq!(r.summary.notes.get("client-cert-empty"), Some(&1));

    let r = expect(
        "tls12-client-cert-empty-required.pcap",
        &[("client-cert-empty", &[6, 8]), ("handshake-failed", &[9])],
    );
    let failed = find(&r, "handshake-failed");
    assert!(failed.title.contains("handshake_failure (40)"));
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert_eq!(c.outcome.by, Some(Direction::Server));
    assert_eq!((c.outcome.alert, c.outcome.frame), (Some(40), Some(9)));
    assert!(c
        .outcome
        .cause
        .as_deref()
        .unwrap()
        .ends_with("after the client's empty Certificate (frame 8)"));
    assert_eq!(find(&r, "client-cert-empty").severity, Severity::Error);
    assert!(failed
        .explanation
        .contains("Explained by: client-cert-empty"));

    expect(
        "tls12-client-cert-expired.pcap",
        &[("client-cert-expired", &[8]), ("handshake-failed", &[9])],
    );
    expect(
        "tls12-client-cert-no-clientauth.pcap",
        &[
            ("client-cert-no-client-auth-eku", &[8]),
            ("handshake-failed", &[9]),
        ],
    );
    let r = expect(
        "tls12-client-cert-unlisted-ca.pcap",
        &[
            ("client-cert-issuer-not-requested", &[6, 8]),
            ("handshake-failed", &[9]),
        ],
    );
    assert_eq!(r.connections[0].client_auth.issuer_match, Some("none"));
    assert!(find(&r, "handshake-failed")
        .title
        .contains("unknown_ca (48)"));
}

#[test]
fn encrypted_client_authentication_is_named() {
    let r = expect(
        "tls12-renegotiation.pcap",
        &[("renegotiation-encrypted", &[13, 15, 17, 18, 19])],
    );
    assert!(find(&r, "renegotiation-encrypted")
        .filter
        .ends_with("frame.number >= 13"));
    // curl offers ALPN http/1.1: the HTTP inside is hidden, said once for the file. The
    // renegotiation's ChangeCipherSpecs are in clear and each is followed by its Finished: it
    // completed.
    let r = expect(
        "apache-reneg-tls12.pcap",
        &[("renegotiation-encrypted", &[11, 12, 13, 14, 15])],
    );
    let c = &r.connections[0];
    assert_eq!(c.file_notes, vec!["http-not-visible"]);
    assert_eq!(c.handshakes.len(), 2);
    assert_eq!(
        (
            c.handshakes[1].kind,
            c.handshakes[1].first_frame,
            c.handshakes[1].encrypted
        ),
        ("renegotiation", 11, true)
    );
    assert_eq!(c.handshakes[1].outcome.status, OutcomeStatus::Completed);
    assert_eq!(c.handshakes[1].initiated_by, Direction::Server);
    // TLS 1.3 without keys: the post-handshake authentication and its end told from record
    // sizes, so no note that client authentication is hidden.
    let r = expect("tls13-pha.pcap", &[]);
    assert_eq!(r.summary.notes.get("tls13-client-auth-hidden"), None);
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert!(c.client_auth.inferred);
    assert_eq!(c.client_auth.client_certificate, "sent");
    assert_eq!(c.handshakes[1].kind, "post-handshake-auth");
}

#[test]
fn public_capture_with_empty_client_certificate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public/dev/zeek+zeek/testing/btest/Traces/tls/certificate-request-failed.pcap");
    if !path.exists() {
        println!("SKIPPED: {} is absent", path.display());
        return;
    }
    let r = report(&path, Options::default());
    let mut got = codes(&r);
    got.retain(|(c, _)| c != "chain-root-included");
    assert_eq!(
        got,
        vec![
            // The request accepts only rsa_sign and rsa_pkcs1_sha256.
            ("cert-request-restrictive".to_string(), vec![6, 8]),
            ("client-cert-empty".to_string(), vec![6, 8]),
            ("handshake-failed".to_string(), vec![9])
        ]
    );
    assert!(find(&r, "handshake-failed")
        .title
        .contains("alert handshake_failure (40)"));
    assert_eq!(r.summary.by_code.get("client-cert-empty"), Some(&1));
}

#[test]
fn findings_doc_is_generated_from_the_catalog() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/findings.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == catalog_markdown(),
        "docs/findings.md is out of date: run `cargo run -- explain --all --markdown > docs/findings.md`"
    );
}

fn public(rel: &str) -> Option<FileReport> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public/dev")
        .join(rel);
    if !path.exists() {
        println!("SKIPPED: {} is absent", path.display());
        return None;
    }
    Some(report(&path, Options::default()))
}

#[test]
fn public_captures_missing_answer_and_revocation_urls() {
    let Some(r) = public("arkime+arkime/tests/pcap/mysql-tls.pcap") else {
        return;
    };
    // The capture ends with the server's flight (frame 10): the client's answer is not in it, so
    // nothing is missing; the outcome says where the capture ends.
    let c = &r.connections[0];
    assert!(c.findings.iter().all(|f| f.code != "client-cert-missing"));
    assert_eq!(c.client_auth.client_certificate, "not-visible");
    assert_eq!(c.outcome.status, tlsdiag::model::OutcomeStatus::Incomplete);
    assert!(c
        .outcome
        .cause
        .as_deref()
        .unwrap()
        .contains("the capture ends before the handshake completed after the server's ServerHelloDone (frame 10)"));

    let Some(r) = public("zeek+zeek/testing/btest/Traces/tls/client-certificate.pcap") else {
        return;
    };
    let f = find(&r, "client-cert-revocation-info");
    assert!(f.title.contains("6 revocation URL(s)"), "{}", f.title);
    assert!(f.explanation.contains(
        "http://ocsp09.actalis.it/VA/AUTHCL-G3  (no traffic to this host in the capture)"
    ));
    assert_eq!(f.frames, vec![15]);
}

#[test]
fn public_captures_with_weak_self_signed_and_not_yet_valid_certificates() {
    // arkime's SSLv3 client-auth capture: a self-signed RSA 1024 server certificate.
    let Some(r) = public("arkime+arkime/tests/pcap/ssl-selfsign.pcap") else {
        return;
    };
    let got: Vec<&str> = r.connections[0].findings.iter().map(|f| f.code).collect();
    assert!(got.contains(&"chain-leaf-self-signed"), "{got:?}");
    let weak: Vec<&Finding> = r.connections[0]
        .findings
        .iter()
        .filter(|f| f.code == "cert-weak-key")
        .collect();
    assert_eq!(weak.len(), 2, "server and client certificates");
    assert!(
        weak[0].title.contains("1024-bit RSA key"),
        "{}",
        weak[0].title
    );
    // zeek's ML-DSA capture: the certificate starts after the capture was made.
    let Some(r) = public("zeek+zeek/testing/btest/Traces/tls/ml-dsa-44-cert.pcap") else {
        return;
    };
    let f = find(&r, "cert-not-yet-valid");
    assert!(
        f.explanation.contains("is valid only from"),
        "{}",
        f.explanation
    );
}

#[test]
fn server_and_client_certificate_properties() {
    // A server leaf allowed for client authentication only.
    let r = expect(
        "fnd-server-no-serverauth-eku.pcap",
        &[("cert-no-server-auth-eku", &[6])],
    );
    assert!(find(&r, "cert-no-server-auth-eku")
        .explanation
        .contains("allows only clientAuth"));
    // A self-signed RSA 1024 server certificate.
    let r = expect(
        "fnd-server-rsa1024-selfsigned.pcap",
        &[("cert-weak-key", &[6]), ("chain-leaf-self-signed", &[6])],
    );
    assert!(find(&r, "cert-weak-key").title.contains("1024-bit RSA key"));
    // A client certificate valid only from 2035: OpenSSL answers bad_certificate (42).
    let r = expect(
        "fnd-client-cert-not-yet-valid.pcap",
        &[
            ("client-cert-not-yet-valid", &[8]),
            ("handshake-failed", &[9]),
        ],
    );
    assert!(find(&r, "client-cert-not-yet-valid")
        .title
        .contains("valid only from 2035-01-01 00:00:00Z"));
    assert!(find(&r, "handshake-failed")
        .title
        .contains("bad_certificate (42)"));
}

mod common;

fn tls_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind, 3, 3];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

/// A DER Name with one CN of `len` characters.
fn name(cn: &str) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 128 {
            v.push(content.len() as u8);
        } else {
            v.extend_from_slice(&[0x81, content.len() as u8]);
        }
        v.extend_from_slice(content);
        v
    }
    let mut atv = tlv(0x06, &[0x55, 0x04, 0x03]);
    atv.extend(tlv(0x0c, cn.as_bytes()));
    tlv(0x30, &tlv(0x31, &tlv(0x30, &atv)))
}

#[test]
fn a_ca_list_announcing_more_than_the_message_holds_is_called_cut() {
    // ClientHello; then ServerHello and a CertificateRequest whose DN vector announces 16,380
    // bytes while the message carries about 16,000: the sign of a list cut by its sender.
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&[7; 32]);
    ch.extend_from_slice(&[0, 0, 2, 0xc0, 0x2f, 1, 0]);
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[9; 32]);
    sh.extend_from_slice(&[0, 0xc0, 0x2f, 0]);
    let mut names = Vec::new();
    let mut i = 0;
    while names.len() < 16_000 {
        let n = name(&format!("Generated CA {i:04} {}", "x".repeat(170)));
        names.extend_from_slice(&(n.len() as u16).to_be_bytes());
        names.extend(n);
        i += 1;
    }
    let mut cr = vec![1, 1, 0, 2, 4, 1];
    cr.extend_from_slice(&16_380u16.to_be_bytes());
    cr.extend(&names);
    let mut flight = handshake(2, &sh);
    flight.extend(handshake(13, &cr));
    flight.extend(handshake(14, &[]));
    let (a, b) = flight.split_at(10_000);
    let mut server = tls_record(22, a);
    server.extend(tls_record(22, b));
    let client = tls_record(22, &handshake(1, &ch));
    let pcap = common::synthetic_tcp(&[(true, &client), (false, &server)]);
    let r = tlsdiag::analyze_bytes("cut", pcap, Options::default()).unwrap();
    let f = find(&r, "ca-list-over-limit");
    assert!(f.title.contains("16,380 bytes"), "{}", f.title);
    assert!(
        f.explanation.contains("looks cut short"),
        "{}",
        f.explanation
    );
    assert!(
        f.explanation.contains("spanned 2 TLS records"),
        "{}",
        f.explanation
    );
    assert_eq!(f.frames, vec![4]);
}

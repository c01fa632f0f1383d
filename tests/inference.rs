//! The client-certificate exchange told from encrypted record sizes, measured against the truth:
//! every capture with a key log is analysed without its keys and with them, and each inferred
//! fact (request sent, client certificate empty or sent, its size, CertificateVerify, how the
//! handshake ended) is compared with the decrypted messages. Also exact facts and findings on
//! the Apache renegotiation and TLS 1.3 captures of `captures/clientauth`.

use std::path::{Path, PathBuf};

use tlsdiag::model::{OutcomeStatus, Severity};
use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn run(capture: &Path, keylog: Option<&Path>) -> FileReport {
    let options = Options {
        keylog_files: keylog.map(Path::to_path_buf).into_iter().collect(),
        ..Options::default()
    };
    analyze_path(capture, options).unwrap()
}

fn clientauth(name: &str) -> ConnectionReport {
    let r = run(
        &root()
            .join("captures/clientauth")
            .join(format!("{name}.pcap")),
        None,
    );
    assert_eq!(r.connections.len(), 1, "{name}");
    r.connections.into_iter().next().unwrap()
}

/// (capture, key log) pairs: `X.keys` beside `X.pcap`/`X.pcapng` in `captures/` and its
/// folders, and the public captures whose manifest names a key log.
fn keyed_captures() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("captures")];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "keys") {
                for ext in ["pcap", "pcapng"] {
                    let c = p.with_extension(ext);
                    if c.exists() {
                        out.push((c, p.clone()));
                    }
                }
            }
        }
    }
    let public = root().join("../shared/captures-public");
    if let Ok(manifest) = std::fs::read_to_string(public.join("MANIFEST.tsv")) {
        let mut lines = manifest.lines().filter(|l| !l.starts_with('#'));
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        if let (Some(file), Some(keylog)) = (col("file"), col("keylog")) {
            for l in lines {
                let f: Vec<&str> = l.split('\t').collect();
                let (Some(c), Some(k)) = (f.get(file), f.get(keylog)) else {
                    continue;
                };
                let (c, k) = (public.join("dev").join(c), public.join("dev").join(k));
                if !k.ends_with("-") && k.is_file() && c.is_file() {
                    out.push((c, k));
                }
            }
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    /// Connections whose client authentication is encrypted without keys.
    encrypted: usize,
    /// Of those, connections with a definite answer (request known; when requested, the
    /// client's answer known).
    answered: usize,
    facts: usize,
    right: usize,
    wrong: Vec<String>,
    unanswered: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: String, ok: bool) {
        self.facts += 1;
        if ok {
            self.right += 1;
        } else {
            self.wrong.push(what);
        }
    }
}

/// The client's Certificate after the last CertificateRequest, and whether a
/// CertificateVerify followed it, from the decrypted messages.
fn truth_answer(c: &ConnectionReport) -> (Option<u32>, bool) {
    let cr = c
        .messages
        .iter()
        .rfind(|m| m.kind == "certificate_request")
        .map(|m| m.frame);
    let after = |m: &&tlsdiag::tls::HandshakeMessage| {
        m.direction == tlsdiag::tls::Direction::Client && cr.is_some_and(|f| m.frame >= f)
    };
    let cert = c
        .messages
        .iter()
        .filter(after)
        .find(|m| m.kind == "certificate")
        .map(|m| m.length);
    let cv = c
        .messages
        .iter()
        .filter(after)
        .any(|m| m.kind == "certificate_verify");
    (cert, cv)
}

fn compare(name: &str, plain: &ConnectionReport, keyed: &ConnectionReport, t: &mut Tally) {
    let tls13 = plain.tls_version.as_deref() == Some("TLS 1.3");
    let hidden = (tls13 && plain.decryption.status == "not-decrypted")
        || plain.encrypted_handshake.iter().any(|e| e.after_finished);
    if !hidden || keyed.decryption.status != "decrypted" {
        return;
    }
    let at = format!("{name} stream {}", plain.stream);
    t.encrypted += 1;
    let a = &plain.client_auth;
    let truth = &keyed.client_auth;
    let answered = a.requested.is_some()
        && (a.requested == Some(false) || a.client_certificate != "not-visible");
    if answered {
        t.answered += 1;
    } else {
        t.unanswered.push(format!(
            "{at}: {} {:?} {}",
            plain.tls_version.as_deref().unwrap_or("?"),
            a.requested,
            plain
                .inferred
                .iter()
                .filter_map(|i| i.ambiguous.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(req) = a.requested {
        t.check(
            format!("{at}: requested {req}, truth {:?}", truth.requested),
            truth.requested == Some(req),
        );
    }
    if a.client_certificate != "not-visible" {
        t.check(
            format!(
                "{at}: client certificate {}, truth {}",
                a.client_certificate, truth.client_certificate
            ),
            a.client_certificate == truth.client_certificate,
        );
    }
    let (cert_len, cv) = truth_answer(keyed);
    let truth_list = keyed.messages.iter().rev().find_map(|m| match &m.detail {
        Some(tlsdiag::tls::Detail::CertificateRequest(cr)) => Some(cr.ca_list_bytes),
        _ => None,
    });
    if let Some(inf) = &a.inference {
        if let Some(d) = inf.ca_list_bytes {
            t.check(
                format!("{at}: CA list {d}, truth {truth_list:?}"),
                truth_list.is_some_and(|n| d.min <= n && n <= d.max),
            );
        }
        if let Some(len) = inf.client_certificate_length {
            t.check(
                format!("{at}: client Certificate body {len}, truth {cert_len:?}"),
                cert_len.is_some_and(|n| len.min <= n as usize && n as usize <= len.max),
            );
        }
        if let Some(v) = inf.certificate_verify {
            t.check(format!("{at}: CertificateVerify {v}, truth {cv}"), v == cv);
        }
    }
    // How each inferred handshake ended, against the decrypted handshake of the same kind.
    for inf in &plain.inferred {
        let Some(end) = inf.end else { continue };
        let truth = keyed
            .handshakes
            .iter()
            .rfind(|h| h.kind == inf.handshake && h.first_frame <= inf.first_frame)
            .map(|h| h.outcome.status);
        t.check(
            format!("{at}: {} ended {end}, truth {truth:?}", inf.handshake),
            truth.is_some_and(|s| s.word() == end),
        );
    }
}

#[test]
fn inference_measured_against_decryption() {
    let mut t = Tally::default();
    let mut files = 0;
    for (capture, keys) in keyed_captures() {
        let plain = run(&capture, None);
        let keyed = run(&capture, Some(&keys));
        files += 1;
        let name = capture
            .strip_prefix(root())
            .unwrap_or(&capture)
            .display()
            .to_string();
        for p in &plain.connections {
            if let Some(k) = keyed.connections.iter().find(|k| k.stream == p.stream) {
                compare(&name, p, k, &mut t);
            }
        }
    }
    let coverage = t.answered as f64 / t.encrypted.max(1) as f64 * 100.0;
    let accuracy = t.right as f64 / t.facts.max(1) as f64 * 100.0;
    println!(
        "inference: {files} captures with key logs; {} connections with encrypted client authentication, {} answered (coverage {coverage:.1}%); {} inferred facts, {} equal to the decrypted truth (accuracy {accuracy:.1}%)",
        t.encrypted, t.answered, t.facts, t.right
    );
    for w in &t.wrong {
        println!("  wrong: {w}");
    }
    for w in &t.unanswered {
        println!("  unanswered: {w}");
    }
    assert!(t.encrypted >= 45, "the corpus shrank: {}", t.encrypted);
    assert!(accuracy >= 99.0, "accuracy {accuracy:.1}%: {:?}", t.wrong);
    assert!(coverage >= 90.0, "coverage {coverage:.1}%");
}

/// The worked example: Apache renegotiation with AES-GCM, an empty client Certificate
/// (31-byte record = 7 + 24), the server's encrypted fatal alert.
#[test]
fn apache_renegotiation_empty_certificate_without_keys() {
    let c = clientauth("inf-tls12-reneg-gcm-empty");
    let a = &c.client_auth;
    assert_eq!(a.requested, Some(true));
    assert!(a.inferred);
    assert_eq!(a.client_certificate, "empty");
    let inf = a.inference.as_ref().unwrap();
    assert_eq!(inf.handshake, "renegotiation");
    assert_eq!(inf.certificate_request_frame, Some(13));
    assert_eq!(inf.client_certificate_frame, Some(14));
    assert_eq!(inf.certificate_verify, Some(false));
    assert_eq!((inf.end, inf.end_frame), (Some("failed"), Some(15)));
    // CertificateRequest record of 234 bytes: 210 plaintext; the CA list (158) lies in range.
    let d = inf.ca_list_bytes.unwrap();
    assert!(d.min <= 158 && 158 <= d.max, "{d:?}");
    assert!(a
        .evidence
        .iter()
        .any(|e| e.contains("31 (frame 14, 7 B plaintext)")));
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "client-cert-empty")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(f
        .explanation
        .contains("Inferred from encrypted record sizes"));
    assert_eq!(f.frames, vec![13, 14]);
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert_eq!(c.handshakes[1].outcome.frame, Some(15));
}

/// A 37 KB CA list is over Schannel's limit even at its smallest possible size, in TLS 1.2
/// renegotiation and in a TLS 1.3 CertificateRequest spread over three records.
#[test]
fn large_ca_list_found_without_keys() {
    for name in [
        "inf-tls12-reneg-gcm-valid2-ca37k",
        "inf-tls13-aes128-valid2-ca37k",
    ] {
        let c = clientauth(name);
        let d = c
            .client_auth
            .inference
            .as_ref()
            .unwrap()
            .ca_list_bytes
            .unwrap();
        assert!(
            d.min >= 16384 && d.min <= 37182 && 37182 <= d.max,
            "{name}: {d:?}"
        );
        let f = c
            .findings
            .iter()
            .find(|f| f.code == "ca-list-over-limit")
            .unwrap_or_else(|| panic!("{name}"));
        assert!(f.title.contains("inferred from encrypted record sizes"));
        assert_eq!(c.client_auth.client_certificate, "sent");
    }
    // 2 names in 158 bytes: no size finding.
    let c = clientauth("inf-tls13-aes128-valid2");
    assert!(!c.findings.iter().any(|f| f.code.starts_with("ca-list")));
}

/// TLS 1.3 without keys: request, answer and end told apart; no request is false, not null.
#[test]
fn tls13_facts_without_keys() {
    let c = clientauth("inf-tls13-chacha-empty");
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert!(c
        .findings
        .iter()
        .any(|f| f.code == "client-cert-empty" && f.severity == Severity::Error));

    let c = clientauth("inf-tls13-aes256-wrongca");
    let inf = c.client_auth.inference.as_ref().unwrap();
    assert_eq!(c.client_auth.client_certificate, "sent");
    // Certificate record of 571 bytes: 554 plaintext, body 550 (1 + 3 + 546 of certificates).
    assert_eq!(
        inf.client_certificate_length.map(|r| (r.min, r.max)),
        Some((550, 550))
    );
    assert_eq!(inf.certificate_verify, Some(true));
    assert_eq!(inf.end, Some("failed"));

    let c = clientauth("inf-tls13-aes128-nocr");
    assert_eq!(c.client_auth.requested, Some(false));
    assert!(c.client_auth.inferred);
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
}

/// Post-handshake authentication: an empty answer the server accepted is no error; the one
/// Apache refused is.
#[test]
fn post_handshake_auth_without_keys() {
    let c = clientauth("inf-tls13-pha-empty");
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert_eq!(
        c.client_auth.inference.as_ref().unwrap().handshake,
        "post-handshake-auth"
    );
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert!(c.findings.iter().all(|f| f.severity < Severity::Error));

    let c = clientauth("inf-tls13-pha-apache-empty");
    let inf = c.client_auth.inference.as_ref().unwrap();
    assert_eq!(inf.certificate_request_frame, Some(12));
    assert_eq!((inf.end, inf.end_frame), (Some("failed"), Some(14)));
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert!(c
        .findings
        .iter()
        .any(|f| f.code == "client-cert-empty" && f.severity == Severity::Error));
}

/// nginx answers a TLS 1.3 connection without a client certificate with HTTP 400 after a
/// completed handshake: the inferred empty Certificate is no error without keys (the HTTP is
/// hidden); Apache's TLS 1.1 CBC renegotiation without one fails, and says so.
#[test]
fn nginx_and_tls11_cbc_without_keys() {
    let c = clientauth("inf2-nginx-tls13-empty");
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert!(c.findings.iter().all(|f| f.severity < Severity::Error));
    assert!(c
        .findings
        .iter()
        .any(|f| f.code == "client-cert-empty" && f.severity == Severity::Warning));

    let c = clientauth("inf2-apache-tls11-cbc-empty");
    assert_eq!(c.tls_version.as_deref(), Some("TLS 1.1"));
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert!(c
        .findings
        .iter()
        .any(|f| f.code == "client-cert-empty" && f.severity == Severity::Error));
    // CBC: the certificate's size is a range (padding), the CA list's too.
    let c = clientauth("inf2-apache-tls11-cbc-valid");
    let inf = c.client_auth.inference.as_ref().unwrap();
    let len = inf.client_certificate_length.unwrap();
    assert!(len.max - len.min == 255, "{len:?}");
    assert_eq!(inf.end, Some("completed"));
}

//! Verdicts on real captures: each connection's outcome and the severity of its findings follow
//! what happened (captures/clientauth, made with Apache, nginx and OpenSSL), and the two trust
//! figures over the public dev corpus: no error about the client certificate or the handshake
//! on a connection that completed without an HTTP error, and few info findings per connection.

use std::path::{Path, PathBuf};

use tlsdiag::model::{OutcomeStatus, Severity};
use tlsdiag::tls::Direction;
use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

fn clientauth(name: &str, keys: bool) -> FileReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/clientauth");
    let mut options = Options::default();
    if keys {
        options.keylog_files.push(dir.join(format!("{name}.keys")));
    }
    analyze_path(&dir.join(format!("{name}.pcap")), options).unwrap()
}

fn codes(c: &ConnectionReport) -> Vec<(&'static str, Severity)> {
    let mut v: Vec<_> = c.findings.iter().map(|f| (f.code, f.severity)).collect();
    v.sort();
    v
}

#[test]
fn renegotiation_refused_by_the_server() {
    // s_client types R; OpenSSL's s_server declines with warning no_renegotiation (frame 12),
    // the client answers with a fatal handshake_failure (frame 14).
    let r = clientauth("reneg-refused-by-server", true);
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Refused);
    assert_eq!(c.handshakes.len(), 2);
    let h = &c.handshakes[1];
    assert_eq!((h.kind, h.first_frame), ("renegotiation", 11));
    assert_eq!(h.initiated_by, Direction::Client);
    assert_eq!(h.outcome.by, Some(Direction::Server));
    assert_eq!((h.outcome.alert, h.outcome.frame), (Some(100), Some(12)));
    assert!(h
        .outcome
        .cause
        .as_deref()
        .unwrap()
        .ends_with("fatal handshake_failure alert (40) in frame 14"));
    assert_eq!(codes(c), vec![("renegotiation-refused", Severity::Error)]);
    assert_eq!(c.findings[0].frames, vec![11, 12]);
}

#[test]
fn renegotiation_aborted_after_an_empty_certificate() {
    // Apache asks in <Location /secure> (HelloRequest frame 11), curl has no certificate
    // (empty Certificate frame 14), Apache aborts (fatal handshake_failure frame 15) and the
    // GET of frame 10 never gets a response.
    let r = clientauth("reneg-aborted-empty-cert", true);
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert_eq!(c.handshakes[0].outcome.status, OutcomeStatus::Completed);
    let h = &c.handshakes[1];
    assert_eq!(
        (h.kind, h.first_frame, h.initiated_by),
        ("renegotiation", 11, Direction::Server)
    );
    assert_eq!((h.outcome.alert, h.outcome.frame), (Some(40), Some(15)));
    assert_eq!(
        codes(c),
        vec![
            ("client-cert-empty", Severity::Error),
            ("handshake-failed", Severity::Error)
        ]
    );
    let failed = c
        .findings
        .iter()
        .find(|f| f.code == "handshake-failed")
        .unwrap();
    assert_eq!(failed.frames, vec![11, 15]);
    assert!(failed
        .explanation
        .contains("triggered by GET /secure/ (frame 10), which got no response"));
    assert!(failed
        .explanation
        .contains("Explained by: client-cert-empty"));
    // Without keys the renegotiation's end is told from record sizes: the server's encrypted
    // alert after the client's 31-byte empty Certificate (7 + 24 bytes of GCM overhead).
    let r = clientauth("reneg-aborted-empty-cert", false);
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert!(c.handshakes[1].encrypted);
    assert_eq!(c.handshakes[1].outcome.frame, Some(15));
    assert!(c
        .outcome
        .cause
        .as_deref()
        .unwrap()
        .contains("inferred from encrypted record sizes"));
    assert_eq!(c.client_auth.client_certificate, "empty");
}

#[test]
fn renegotiation_with_a_certificate_completes() {
    for keys in [true, false] {
        let r = clientauth("reneg-ok", keys);
        let c = &r.connections[0];
        assert_eq!(c.outcome.status, OutcomeStatus::Completed, "keys {keys}");
        assert_eq!(c.handshakes.len(), 2);
        assert!(c.findings.iter().all(|f| f.severity != Severity::Error));
    }
}

#[test]
fn optional_client_certificates_are_not_errors() {
    // nginx ssl_verify_client optional: empty Certificate (frame 8), 200 (frame 11).
    let r = clientauth("optional-empty-completed", true);
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert_eq!(c.client_auth.client_certificate, "empty");
    assert!(c.findings.is_empty());
    assert_eq!(r.summary.notes.get("client-cert-empty"), Some(&1));
    // Apache optional_no_ca accepts a certificate from a CA it did not list.
    let r = clientauth("optional-wrong-issuer-completed", true);
    let c = &r.connections[0];
    assert_eq!(c.client_auth.issuer_match, Some("none"));
    assert!(c.findings.is_empty());
    assert_eq!(
        r.summary.notes.get("client-cert-issuer-not-requested"),
        Some(&1)
    );
    // Without keys the 200 is hidden, so the empty certificate is a warning that says a 403
    // could be hiding there.
    let r = clientauth("optional-empty-completed", false);
    assert_eq!(
        codes(&r.connections[0]),
        vec![("client-cert-empty", Severity::Warning)]
    );
}

fn public_captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            public_captures(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(p);
        }
    }
}

/// The two figures of `shared/tools/verdict_stats.py`, computed the same way.
#[test]
fn public_corpus_has_no_false_alarms_and_little_noise() {
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public/dev");
    if !dev.exists() {
        println!("SKIPPED: {} is absent", dev.display());
        return;
    }
    const CLIENT: &[&str] = &[
        "client-cert-empty",
        "client-cert-missing",
        "client-cert-issuer-not-requested",
        "client-cert-expired",
        "client-cert-not-yet-valid",
        "client-cert-no-client-auth-eku",
        "handshake-failed",
    ];
    let mut files = Vec::new();
    public_captures(&dev, &mut files);
    files.sort();
    let (mut tls, mut info, mut false_alarms) = (0usize, 0usize, Vec::new());
    for p in &files {
        let Ok(r) = analyze_path(p, Options::default()) else {
            continue;
        };
        for c in r.connections.iter().filter(|c| c.tls) {
            tls += 1;
            let t = &c.transcript;
            let server_data = t
                .split(" > ")
                .any(|part| part.starts_with("< ") && part.contains("AppData"))
                || t.starts_with("< ") && t.contains("AppData");
            let completed = t.contains("Finished") && server_data && !t.contains("Alert(fatal");
            let http_error = c.http.iter().any(|x| x.status.is_some_and(|s| s >= 400))
                || c.http2_status.iter().any(|h| h.status >= 400);
            for f in &c.findings {
                info += (f.severity == Severity::Info) as usize;
                if completed
                    && !http_error
                    && f.severity == Severity::Error
                    && CLIENT.contains(&f.code)
                {
                    false_alarms.push(format!("{} stream {}: {}", p.display(), c.stream, f.code));
                }
            }
        }
    }
    let ratio = info as f64 / tls.max(1) as f64;
    println!(
        "{} errors on completed connections without an HTTP error; {ratio:.2} info findings per TLS connection ({tls} TLS connections)",
        false_alarms.len()
    );
    assert!(tls > 400, "{tls} TLS connections");
    assert_eq!(false_alarms, Vec::<String>::new());
    assert!(ratio <= 0.15, "{ratio:.2} info findings per TLS connection");
}

/// One line per TLS connection (and per other connection with a finding) of a public capture:
/// outcome, each handshake's outcome, and every finding with its severity and frames.
fn verdict_rows(dev: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut rows = Vec::new();
    for p in files {
        let name = p.strip_prefix(dev).unwrap_or(p).display().to_string();
        let r = match analyze_path(p, Options::default()) {
            Ok(r) => r,
            Err(e) => {
                rows.push(format!("{name}\t-\terror: {e}"));
                continue;
            }
        };
        for c in r
            .connections
            .iter()
            .filter(|c| c.tls || !c.findings.is_empty())
        {
            let handshakes: Vec<String> = c
                .handshakes
                .iter()
                .map(|h| format!("{}@{}:{}", h.kind, h.first_frame, h.outcome.status.word()))
                .collect();
            let mut findings: Vec<String> = c
                .findings
                .iter()
                .map(|f| {
                    let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
                    format!("{}:{}@{}", f.code, f.severity.word(), frames.join("+"))
                })
                .collect();
            findings.sort();
            rows.push(format!(
                "{name}\t{}\t{}{}\t{}\t{}",
                c.stream,
                c.outcome.status.word(),
                c.outcome.frame.map(|f| format!("@{f}")).unwrap_or_default(),
                if handshakes.is_empty() {
                    "-".into()
                } else {
                    handshakes.join(" ")
                },
                if findings.is_empty() {
                    "-".into()
                } else {
                    findings.join(" ")
                },
            ));
        }
    }
    rows
}

/// The regression corpus: every connection's verdict over the public dev captures, pinned in
/// tests/verdicts/public-dev.tsv (cases reviewed against the packets are listed in
/// tests/verdicts/README.md). A changed verdict fails here; after checking the change against the
/// packets, `TLSDIAG_BLESS=1 cargo test --test verdicts` rewrites the file.
#[test]
fn public_corpus_verdicts_are_pinned() {
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public/dev");
    if !dev.exists() {
        println!("SKIPPED: {} is absent", dev.display());
        return;
    }
    let mut files = Vec::new();
    public_captures(&dev, &mut files);
    files.sort();
    let header = "# capture\ttcp.stream\toutcome@frame\thandshakes (kind@first frame:outcome)\tfindings (code:severity@frames)";
    let mut got = vec![header.to_string()];
    got.extend(verdict_rows(&dev, &files));
    let pinned_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verdicts/public-dev.tsv");
    if std::env::var_os("TLSDIAG_BLESS").is_some() {
        std::fs::write(&pinned_path, got.join("\n") + "\n").unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(&pinned_path).unwrap();
    let pinned: Vec<&str> = pinned.lines().collect();
    let changed: Vec<String> = got
        .iter()
        .map(String::as_str)
        .zip(pinned.iter().copied())
        .filter(|(a, b)| a != b)
        .take(10)
        .map(|(a, b)| format!("pinned: {b}\n   now: {a}"))
        .collect();
    assert!(
        changed.is_empty() && got.len() == pinned.len(),
        "{} verdict rows now, {} pinned; first differences:\n{}",
        got.len(),
        pinned.len(),
        changed.join("\n")
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
    Some(analyze_path(&path, Options::default()).unwrap())
}

/// zeek's ssl-v2.pcap: CLIENT-HELLO (frame 4), SERVER-HELLO (6), CLIENT-MASTER-KEY (8), then
/// SSLv2 records with 3-byte headers. Message 2 is CLIENT-MASTER-KEY in SSLv2, not ServerHello,
/// and the encrypted records after it are SSLv2 framing, not lost TLS framing.
#[test]
fn sslv2_client_master_key_is_named_and_its_records_framed() {
    let Some(r) = public("zeek+zeek/testing/btest/Traces/tls/ssl-v2.pcap") else {
        return;
    };
    let c = &r.connections[0];
    let titles: Vec<(u64, &str)> = c.messages.iter().map(|m| (m.frame, m.title())).collect();
    assert_eq!(
        titles,
        vec![
            (4, "ClientHello"),
            (6, "SSLv2 ServerHello"),
            (8, "SSLv2 ClientMasterKey")
        ]
    );
    assert!(c.not_seen.is_empty(), "{:?}", c.not_seen);
    assert_eq!(c.outcome.status, OutcomeStatus::Unknown);
    assert!(c
        .outcome
        .cause
        .as_deref()
        .unwrap()
        .contains("ClientMasterKey (frame 8)"));
    let text = tlsdiag::render::render_text(&r);
    // No keys given: no decryption line at all.
    assert!(!text.contains("decryption:"), "{text}");
}

/// nDPI's tls_certificate_too_long.pcap, stream 2: the client closes (FIN, frame 94) after the
/// server's ServerHelloDone (frame 55); the server's reset (frame 100) answers the FIN and is not
/// the reason the handshake failed.
#[test]
fn a_close_before_the_reset_ended_the_handshake() {
    let Some(r) = public("ntop+nDPI/tests/cfgs/default/pcap/tls_certificate_too_long.pcap") else {
        return;
    };
    let c = r.connections.iter().find(|c| c.stream == 2).unwrap();
    assert_eq!(c.outcome.status, OutcomeStatus::Failed);
    assert_eq!(c.outcome.ended_by, Some("close"));
    assert_eq!(c.outcome.by, Some(Direction::Client));
    assert_eq!(c.outcome.frame, Some(94));
    assert_eq!(
        c.outcome.cause.as_deref(),
        Some("the client closed the connection (FIN) in frame 94 after the server's ServerHelloDone (frame 55), before the handshake completed; the server then reset it in frame 100")
    );
    let f: Vec<_> = c
        .findings
        .iter()
        .map(|f| (f.code, f.severity, f.frames.clone()))
        .collect();
    assert_eq!(f, vec![("handshake-failed", Severity::Error, vec![94])]);
    assert!(c.findings[0].filter.ends_with("tcp.flags.fin == 1"));
}

/// zeek's tls1.2-protocol-violation.pcap: the server's first handshake record holds bytes that
/// are no handshake message; its ChangeCipherSpec (frame 11) comes later and application data
/// flows both ways. The connection completed: no renegotiation, no failure.
#[test]
fn malformed_handshake_bytes_before_change_cipher_spec_are_not_a_renegotiation() {
    let Some(r) = public("zeek+zeek/testing/btest/Traces/tls/tls1.2-protocol-violation.pcap")
    else {
        return;
    };
    let c = &r.connections[0];
    assert_eq!(c.outcome.status, OutcomeStatus::Completed);
    assert_eq!(c.handshakes.len(), 1);
    assert!(c.encrypted_handshake.iter().all(|e| !e.after_finished));
    assert_eq!(codes(c), vec![]);
}

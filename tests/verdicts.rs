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

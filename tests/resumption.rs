//! Session resumption marked on the real captures of captures/serverkey: TLS 1.2 session ID and
//! session ticket, TLS 1.3 PSK; the outcome, transcript, JSON field and finding say that the
//! abbreviated handshake had no CertificateRequest.

use std::path::{Path, PathBuf};

use tlsdiag::model::Severity;
use tlsdiag::{analyze_path, FileReport, Options};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey")
}

fn run(capture: &str, keylog: bool) -> FileReport {
    let options = Options {
        keylog_files: keylog
            .then(|| dir().join(format!("{capture}.keys")))
            .into_iter()
            .collect(),
        ..Options::default()
    };
    analyze_path(&dir().join(format!("{capture}.pcap")), options).unwrap()
}

#[test]
fn resumed_handshakes_are_marked() {
    for (capture, how, hello_frame, keylog) in [
        ("resume-session-id", "session-id", 23, false),
        ("resume-ticket", "session-ticket", 23, false),
        ("resume-tls13-psk", "psk", 26, false),
        ("resume-tls13-psk", "psk", 26, true),
    ] {
        let r = run(capture, keylog);
        assert_eq!(r.connections.len(), 2, "{capture}");
        let (full, resumed) = (&r.connections[0], &r.connections[1]);
        // The full handshake is not marked.
        assert_eq!(full.handshakes[0].resumed, None, "{capture}");
        assert!(!full.findings.iter().any(|f| f.code == "session-resumed"));
        assert!(!full.transcript.contains("resumed"));
        assert_eq!(resumed.handshakes.len(), 1);
        assert_eq!(resumed.handshakes[0].resumed, Some(how), "{capture}");
        // Without keys TLS 1.3 also says the rest is encrypted; the resumption is said last.
        let cause = resumed.outcome.cause.clone().unwrap_or_default();
        assert!(
            cause.ends_with(&format!("resumed an earlier session ({how}): no CertificateRequest, the client identity is the earlier session's")),
            "{capture}: {cause}"
        );
        assert!(
            resumed
                .transcript
                .starts_with(&format!("> ClientHello < ServerHello(resumed: {how}),")),
            "{capture}: {}",
            resumed.transcript
        );
        let f: Vec<_> = resumed
            .findings
            .iter()
            .filter(|f| f.code == "session-resumed")
            .collect();
        assert_eq!(f.len(), 1, "{capture}");
        assert_eq!(
            (f[0].severity, f[0].frames.clone()),
            (Severity::Info, vec![hello_frame])
        );
        assert!(
            f[0].explanation.contains("no CertificateRequest"),
            "{}",
            f[0].explanation
        );
        // No CertificateRequest in the resumed handshake.
        assert!(!resumed
            .messages
            .iter()
            .any(|m| m.kind == "certificate_request"));
        let json = serde_json::to_value(resumed).unwrap();
        assert_eq!(json["handshakes"][0]["resumed"], how);
    }
}

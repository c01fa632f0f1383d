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

#[test]
fn ticket_accepted_without_session_id_echo() {
    // RFC 5077 lets a server accept a ticket without echoing the session ID. The same capture
    // with one byte of the resumed ServerHello's session ID changed: the echo is gone, the
    // handshake is still abbreviated, and the ticket's master secret still decrypts it.
    let mut bytes = std::fs::read(dir().join("resume-ticket.pcap")).unwrap();
    let server_hellos: Vec<usize> = (0..bytes.len() - 6)
        .filter(|&i| bytes[i..i + 3] == [0x16, 3, 3] && bytes[i + 5] == 2)
        .collect();
    assert_eq!(server_hellos.len(), 2);
    // Record header 5, handshake header 4, version 2, random 32, then the session ID length.
    let sid_len_at = server_hellos[1] + 5 + 4 + 2 + 32;
    assert_eq!(bytes[sid_len_at], 32);
    bytes[sid_len_at + 1] ^= 0xff;
    let mut keys = tlsdiag::serverkey::ServerKeys::default();
    keys.add_file(&dir().join("server-key.pkcs8.pem"), None)
        .unwrap();
    let options = Options {
        server_keys: std::sync::Arc::new(keys),
        ..Options::default()
    };
    let r = tlsdiag::analyze_bytes("resume-ticket-no-echo", bytes, options).unwrap();
    let resumed = &r.connections[1];
    assert_eq!(resumed.handshakes[0].resumed, Some("session-ticket"));
    assert!(resumed.findings.iter().any(|f| f.code == "session-resumed"));
    assert_eq!(resumed.decryption.status, "decrypted");
    assert_eq!(
        resumed
            .http
            .iter()
            .map(|x| (x.request_frame, x.response_frame, x.status))
            .collect::<Vec<_>>(),
        vec![(Some(26), Some(28), Some(200))]
    );
    // The full handshake before it is not taken for a resumption.
    assert_eq!(r.connections[0].handshakes[0].resumed, None);
}

#[test]
fn public_captures_tls13_variant_psk_and_ticket() {
    // A TLS 1.3 variant (0xfb1a) echoes the session ID like TLS 1.3 and resumes by PSK; a
    // TLS 1.2 client resumes by ticket with the session ID echoed.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public/dev");
    let cases = [
        (
            "ntop+nDPI/tests/cfgs/default/pcap/tls_2_reasms.pcapng",
            0,
            "psk",
        ),
        (
            "OISF+suricata-verify/tests/tls/tls-cert-issuer/tls.pcap",
            4,
            "session-ticket",
        ),
    ];
    for (file, stream, how) in cases {
        let path = base.join(file);
        if !path.exists() {
            println!("SKIPPED: {} is absent", path.display());
            continue;
        }
        let r = analyze_path(&path, Options::default()).unwrap();
        let c = r.connections.iter().find(|c| c.stream == stream).unwrap();
        assert_eq!(c.handshakes[0].resumed, Some(how), "{file}");
        assert!(
            c.transcript
                .contains(&format!("< ServerHello(resumed: {how}),")),
            "{file}: {}",
            c.transcript
        );
    }
}

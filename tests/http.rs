//! HTTP on real captures: plaintext 401/403 from nginx, and 403 inside TLS answered to an empty
//! client certificate, visible once decrypted with the key log.

use std::path::Path;

use tlsdiag::{analyze_path, FileReport, Options};

fn run(name: &str, keylog: Option<&str>) -> FileReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let options = Options {
        keylog_files: keylog.map(|k| dir.join(k)).into_iter().collect(),
        ..Options::default()
    };
    analyze_path(&dir.join(name), options).unwrap()
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

#[test]
fn plaintext_basic_401_then_200_and_403() {
    let r = run("http-401-403.pcap", None);
    assert_eq!(r.http_connections, 1);
    let c = &r.connections[0];
    assert!(!c.tls);
    assert_eq!(c.http_version, Some("HTTP/1.x"));
    let got: Vec<(Option<u64>, Option<u64>, Option<u16>)> = c
        .http
        .iter()
        .map(|x| (x.request_frame, x.response_frame, x.status))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(4), Some(6), Some(401)),
            (Some(8), Some(9), Some(200)),
            (Some(10), Some(11), Some(403))
        ]
    );
    assert_eq!(c.http[0].www_authenticate, vec!["Basic"]);
    assert_eq!(c.http[1].basic_user.as_deref(), Some("user"));
    // The 401 was the normal challenge (the retry succeeded): only the cleartext password and
    // the 403 are findings.
    assert_eq!(
        codes(&r),
        vec![
            ("http-403".to_string(), vec![10, 11]),
            ("http-basic-cleartext".to_string(), vec![8]),
        ]
    );
}

#[test]
fn encrypted_403_is_not_visible_without_keys() {
    let r = run("nginx-mtls-403.pcap", None);
    let c = &r.connections[0];
    assert_eq!(c.decryption.status, "not-decrypted");
    assert!(c.http.is_empty());
    assert_eq!(
        codes(&r),
        vec![("client-cert-empty".to_string(), vec![6, 8])]
    );
    // The handshake completed, but the 403 nginx sent is inside the encrypted HTTP: a warning
    // that says so, not "optional" and not an error.
    let f = &c.findings[0];
    assert_eq!(f.severity, tlsdiag::model::Severity::Warning);
    assert!(f.explanation.contains("a key log would show it"));
    assert_eq!(c.file_notes, vec!["http-not-visible"]);
}

#[test]
fn decrypted_403_after_empty_client_certificate() {
    let r = run("nginx-mtls-403.pcap", Some("nginx-mtls-403.keys"));
    let c = &r.connections[0];
    assert_eq!(c.decryption.status, "decrypted");
    assert_eq!(c.http.len(), 1);
    let x = &c.http[0];
    assert_eq!(
        (x.request_frame, x.response_frame, x.status),
        (Some(10), Some(11), Some(403))
    );
    assert_eq!(x.method.as_deref(), Some("GET"));
    assert_eq!(x.target.as_deref(), Some("/secure/"));
    assert_eq!(x.substatus.as_deref(), Some("403.7"));
    assert_eq!(x.substatus_source, Some("inferred"));
    assert_eq!(
        codes(&r),
        vec![
            ("client-cert-empty".to_string(), vec![6, 8]),
            ("http-403-client-cert".to_string(), vec![10, 11]),
        ]
    );
}

#[test]
fn tls13_empty_certificate_and_403_visible_with_keys() {
    let r = run(
        "nginx-mtls-403-tls13.pcap",
        Some("nginx-mtls-403-tls13.keys"),
    );
    let c = &r.connections[0];
    assert_eq!(c.tls_version.as_deref(), Some("TLS 1.3"));
    assert_eq!(c.decryption.status, "decrypted");
    let cr = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate_request")
        .unwrap();
    assert!(cr.decrypted);
    assert_eq!(c.client_auth.client_certificate, "empty");
    let got: Vec<String> = codes(&r).into_iter().map(|(c, _)| c).collect();
    assert_eq!(got, vec!["client-cert-empty", "http-403-client-cert"]);
    assert_eq!(c.http[0].status, Some(403));
}

#[test]
fn apache_renegotiation_decrypted() {
    // IIS-style: the CertificateRequest comes in a renegotiation inside the encrypted session.
    let r = run("apache-reneg-tls12.pcap", Some("apache-reneg-tls12.keys"));
    let c = &r.connections[0];
    assert_eq!(c.decryption.status, "decrypted");
    let hellos = c
        .messages
        .iter()
        .filter(|m| m.kind == "client_hello")
        .count();
    assert_eq!(hellos, 2);
    let cr = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate_request")
        .unwrap();
    assert_eq!(cr.frame, 13);
    assert!(cr.decrypted);
    assert_eq!(c.client_auth.client_certificate, "sent");
    assert_eq!(
        c.http.iter().filter_map(|x| x.status).collect::<Vec<_>>(),
        vec![200]
    );
    assert!(!codes(&r)
        .iter()
        .any(|(c, _)| c == "renegotiation-encrypted"));
}

mod common;
use common::synthetic_tcp as synthetic_http;

fn findings_of(pcap: Vec<u8>) -> Vec<(String, Vec<u64>)> {
    let r = tlsdiag::analyze_bytes("synthetic", pcap, Options::default()).unwrap();
    codes(&r)
}

#[test]
fn kerberos_refused_three_times_is_an_auth_loop() {
    // SPNEGO token with the Kerberos OID ("YII..." in base64).
    let krb = b"GET /app HTTP/1.1\r\nHost: intranet\r\nAuthorization: Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXegDTALBgkqhkiG9xIBAgI=\r\n\r\n";
    let deny =
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n";
    let pieces: Vec<(bool, &[u8])> = vec![
        (true, krb),
        (false, deny),
        (true, krb),
        (false, deny),
        (true, krb),
        (false, deny),
    ];
    let got = findings_of(synthetic_http(&pieces));
    assert_eq!(got, vec![("http-auth-loop".to_string(), vec![4, 6, 8])]);
}

#[test]
fn success_then_401_on_the_same_connection() {
    let get = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let deny = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n";
    let get_b = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    let pieces: Vec<(bool, &[u8])> = vec![(true, get), (false, ok), (true, get_b), (false, deny)];
    let got = findings_of(synthetic_http(&pieces));
    assert_eq!(
        got,
        vec![("http-401-after-first-request".to_string(), vec![4, 6])]
    );
}

#[test]
fn negotiate_with_ntlm_inside_and_iis_substatus_from_the_body() {
    let ntlm =
        b"GET /s HTTP/1.1\r\nHost: x\r\nAuthorization: Negotiate TlRMTVNTUAABAAAAB4IIog==\r\n\r\n";
    let page = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 39\r\n\r\n<h1>HTTP Error 403.16 - Forbidden</h1>\n";
    let pieces: Vec<(bool, &[u8])> = vec![(true, ntlm), (false, page)];
    let pcap = synthetic_http(&pieces);
    let r = tlsdiag::analyze_bytes("synthetic", pcap, Options::default()).unwrap();
    let x = &r.connections[0].http[0];
    assert_eq!(x.substatus.as_deref(), Some("403.16"));
    assert_eq!(x.substatus_source, Some("body"));
    assert_eq!(x.auth_token, Some("ntlm"));
    let got = codes(&r);
    assert_eq!(
        got,
        vec![
            ("http-403".to_string(), vec![3, 4]),
            ("negotiate-fell-back-to-ntlm".to_string(), vec![3]),
        ]
    );
    let f = r.connections[0]
        .findings
        .iter()
        .find(|f| f.code == "http-403")
        .unwrap();
    assert!(f
        .explanation
        .contains("403.16: client certificate is untrusted or invalid"));
}

/// Records of a little-endian microsecond pcap (header, then (record header, frame) pairs).
fn records(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        out.push((
            bytes[pos..pos + 16].to_vec(),
            bytes[pos + 16..pos + 16 + caplen].to_vec(),
        ));
        pos += 16 + caplen;
    }
    out
}

#[test]
fn a_403_is_linked_to_the_failed_handshake_of_the_same_client_and_server() {
    // A failed client-certificate handshake (stream 0), then, 19 s later, the same client and
    // server over plain HTTP answered 403 (the HTTP capture's server port is changed to the TLS
    // one so that both connections are with the same server).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let tls = std::fs::read(dir.join("tls12-client-cert-empty-required.pcap")).unwrap();
    let http = std::fs::read(dir.join("http-401-403.pcap")).unwrap();
    let mut merged = tls[..24].to_vec();
    for (hdr, frame) in records(&tls) {
        merged.extend(hdr);
        merged.extend(frame);
    }
    for (hdr, mut frame) in records(&http) {
        let t = 14 + (frame[14] & 0x0f) as usize * 4;
        for at in [t, t + 2] {
            if u16::from_be_bytes([frame[at], frame[at + 1]]) == 44325 {
                frame[at..at + 2].copy_from_slice(&44310u16.to_be_bytes());
            }
        }
        merged.extend(hdr);
        merged.extend(frame);
    }
    let r = tlsdiag::analyze_bytes("merged", merged.clone(), Options::default()).unwrap();
    assert_eq!(r.connections.len(), 2);
    // The other way round (the 403 first in the file): kept reports are linked too.
    let mut reversed = merged[..24].to_vec();
    let all = records(&merged);
    let tls_count = records(&tls).len();
    for (hdr, frame) in all[tls_count..].iter().chain(&all[..tls_count]) {
        reversed.extend(hdr);
        reversed.extend(frame);
    }
    let rev = tlsdiag::analyze_bytes("reversed", reversed, Options::default()).unwrap();
    let f = rev.connections[0]
        .findings
        .iter()
        .find(|f| f.code == "http-403")
        .unwrap();
    assert!(
        f.explanation
            .contains("within a minute on tcp.stream 1 (client-cert-empty, handshake-failed)"),
        "{}",
        f.explanation
    );
    let f = r.connections[1]
        .findings
        .iter()
        .find(|f| f.code == "http-403")
        .unwrap();
    assert!(
        f.explanation
            .contains("within a minute on tcp.stream 0 (client-cert-empty, handshake-failed)"),
        "{}",
        f.explanation
    );
}

#[test]
fn public_ntlm_and_negotiate_exchanges() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public/dev/arkime+arkime/tests/pcap/ntlm_synthetic.pcap");
    if !path.exists() {
        println!("SKIPPED: {} is absent", path.display());
        return;
    }
    let r = analyze_path(&path, Options::default()).unwrap();
    type Row<'a> = (Option<u64>, Option<u16>, Option<&'a str>, Option<&'a str>);
    let exchanges: Vec<Row<'_>> = r
        .connections
        .iter()
        .flat_map(|c| &c.http)
        .map(|x| {
            (
                x.response_frame,
                x.status,
                x.authorization.as_deref(),
                x.auth_token,
            )
        })
        .collect();
    assert_eq!(
        exchanges,
        vec![
            (Some(46), Some(401), Some("NTLM"), Some("ntlm")),
            (Some(50), Some(200), Some("NTLM"), Some("ntlm")),
            (Some(60), Some(401), Some("Negotiate"), Some("ntlm")),
            (Some(64), Some(200), Some("Negotiate"), Some("ntlm")),
        ]
    );
    // The challenges were answered: no 401 finding; the Negotiate-with-NTLM requests are noted.
    let got: Vec<(String, Vec<u64>)> = codes(&r);
    assert_eq!(
        got,
        vec![
            ("negotiate-fell-back-to-ntlm".to_string(), vec![58]),
            ("negotiate-fell-back-to-ntlm".to_string(), vec![62]),
        ]
    );
}

#[test]
fn switching_protocols_to_websocket_is_final() {
    // A real capture (see captures/messy/facts.tsv): GET /chat at frame 4, 101 at frame 6,
    // then WebSocket frames 8-13 both ways. tshark: one HTTP exchange, http.response.code 101.
    let r = run("messy/http-101-websocket.pcap", None);
    assert_eq!(r.http_connections, 1);
    let c = &r.connections[0];
    assert_eq!(c.http_version, Some("HTTP/1.x"));
    let got: Vec<(Option<u64>, Option<u64>, Option<u16>)> = c
        .http
        .iter()
        .map(|x| (x.request_frame, x.response_frame, x.status))
        .collect();
    assert_eq!(got, vec![(Some(4), Some(6), Some(101))]);
    assert_eq!(c.http[0].method.as_deref(), Some("GET"));
    assert_eq!(c.http[0].target.as_deref(), Some("/chat"));
    assert!(
        c.not_seen
            .iter()
            .any(|n| n == "upgraded to websocket at frame 6"),
        "{:?}",
        c.not_seen
    );
}

/// nginx answers a request whose header line has no colon with 400 (captures/
/// make-http-malformed.sh). The request is in the capture: it must be called malformed, with its
/// frame and the parser's reason, not "not in the capture"; the next connection parses normally.
#[test]
fn malformed_request_is_named_with_its_frame() {
    let r = run("http-malformed-request.pcap", None);
    assert_eq!(r.connections.len(), 2);
    let bad = &r.connections[0].http;
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].request_frame, bad[0].response_frame, bad[0].status),
        (Some(4), Some(6), Some(400))
    );
    assert_eq!(
        bad[0].malformed_request.as_deref(),
        Some("invalid header name")
    );
    assert_eq!(
        (bad[0].method.as_deref(), bad[0].target.as_deref()),
        (Some("GET"), Some("/index.html"))
    );
    let good = &r.connections[1].http;
    assert_eq!(
        (
            good[0].request_frame,
            good[0].response_frame,
            good[0].status
        ),
        (Some(14), Some(16), Some(200))
    );
    assert_eq!(good[0].malformed_request, None);
    let text = tlsdiag::render::render_text(&r);
    assert!(
        text.contains("frame 4/6    HTTP GET /index.html (malformed request: invalid header name) -> 400 Bad Request"),
        "{text}"
    );
    assert!(!text.contains("not in the capture"), "{text}");
}

//! Signature algorithms and certificate types on the real captures of captures/serverkey: the
//! names decoded from the hellos and the CertificateRequest, and the findings that explain an
//! empty client Certificate or a chain signed with an algorithm the server did not list.

use std::path::{Path, PathBuf};

use tlsdiag::model::Severity;
use tlsdiag::tls::Detail;
use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey")
}

fn run(capture: &str) -> FileReport {
    let options = Options {
        keylog_files: vec![dir().join(format!("{capture}.keys"))],
        ..Options::default()
    };
    analyze_path(&dir().join(format!("{capture}.pcap")), options).unwrap()
}

fn only(r: &FileReport) -> &ConnectionReport {
    assert_eq!(r.connections.len(), 1);
    &r.connections[0]
}

const SIGALG_CODES: &[&str] = &[
    "client-cert-key-type-not-requested",
    "client-chain-sigalg-not-listed",
    "client-verify-sigalg-not-listed",
    "cert-request-restrictive",
    "server-chain-sigalg-not-offered",
];

fn sigalg_findings(c: &ConnectionReport) -> Vec<(&'static str, Severity, Vec<u64>, String)> {
    c.findings
        .iter()
        .filter(|f| SIGALG_CODES.contains(&f.code))
        .map(|f| (f.code, f.severity, f.frames.clone(), f.title.clone()))
        .collect()
}

/// (certificate type names, signature algorithm names) of the CertificateRequest.
fn request(c: &ConnectionReport) -> (Vec<&'static str>, Vec<String>) {
    c.messages
        .iter()
        .find_map(|m| match &m.detail {
            Some(Detail::CertificateRequest(cr)) => Some((
                cr.cert_type_names.clone(),
                cr.signature_algorithm_names.clone(),
            )),
            _ => None,
        })
        .unwrap()
}

#[test]
fn key_type_not_listed_explains_the_empty_certificate() {
    let r = run("client-keytype-not-listed");
    let c = only(&r);
    assert_eq!(
        request(c),
        (
            vec!["rsa_sign"],
            vec![
                "rsa_pkcs1_sha256".to_string(),
                "rsa_pkcs1_sha384".to_string()
            ]
        )
    );
    assert_eq!(
        sigalg_findings(c),
        vec![(
            "cert-request-restrictive",
            Severity::Warning,
            vec![6, 8],
            "The CertificateRequest excludes ECDSA keys and chains signed with 4 common algorithm(s): a client with such a certificate sends none".to_string()
        )]
    );
    assert!(c.findings.iter().any(|f| f.code == "client-cert-empty"));
}

#[test]
fn sigalg_not_listed_strict_client_sends_nothing() {
    let r = run("client-sigalg-not-listed");
    let c = only(&r);
    assert_eq!(
        request(c),
        (
            vec!["rsa_sign", "ecdsa_sign"],
            vec![
                "rsa_pkcs1_sha256".to_string(),
                "ecdsa_secp256r1_sha256".to_string()
            ]
        )
    );
    let f = sigalg_findings(c);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].3,
        "The CertificateRequest excludes chains signed with 4 common algorithm(s): a client with such a certificate sends none"
    );
    let full = c
        .findings
        .iter()
        .find(|f| f.code == "cert-request-restrictive")
        .unwrap();
    assert!(
        full.explanation.contains("ecdsa_secp521r1_sha512"),
        "{}",
        full.explanation
    );
    assert_eq!(
        full.filter,
        "tcp.stream eq 0 && (tls.handshake.type == 13 || tls.handshake.type == 11)"
    );
}

#[test]
fn chain_signed_with_an_unlisted_algorithm_is_a_warning_when_accepted() {
    let r = run("client-sigalg-not-listed-sent");
    let c = only(&r);
    assert_eq!(
        sigalg_findings(c),
        vec![(
            "client-chain-sigalg-not-listed",
            Severity::Warning,
            vec![6, 8],
            "The client's chain is signed with an algorithm the server did not list ([0] CN=dave (ecdsa-with-SHA512),OU=Clients,O=tlsdiag serverkey PKI,C=US signed with ecdsa-with-SHA512)".to_string()
        )]
    );
    assert_eq!(c.http[0].status, Some(200));
    // The CertificateVerify names its algorithm, a listed one.
    let cv = c
        .messages
        .iter()
        .find(|m| m.kind == "certificate_verify")
        .unwrap();
    assert!(matches!(
        &cv.detail,
        Some(Detail::CertificateVerify { signature_algorithm, .. }) if signature_algorithm == "rsa_pkcs1_sha256"
    ));
}

#[test]
fn hellos_name_their_algorithms_and_normal_handshakes_give_no_finding() {
    for capture in [
        "rsa-kx-tls12-gcm",
        "tls13",
        "rsa-kx-reneg-clientauth-ok",
        "ecdhe-tls12",
    ] {
        let r = run(capture);
        let c = only(&r);
        assert_eq!(sigalg_findings(c), vec![], "{capture}");
        let ch = c
            .messages
            .iter()
            .find_map(|m| match &m.detail {
                Some(Detail::ClientHello(ch)) => Some(ch),
                _ => None,
            })
            .unwrap();
        assert!(
            ch.sigalg_ids.contains(&0x0804),
            "{capture}: {:?}",
            ch.sigalg_ids
        );
        let json = serde_json::to_value(c).unwrap();
        let names = json["messages"][0]["signature_algorithms"]
            .as_array()
            .unwrap();
        assert!(
            names.iter().any(|n| n == "ecdsa_secp256r1_sha256"),
            "{capture}"
        );
    }
}

/// The rules whose cases real software would not produce here, on a real report with one list
/// changed: the findings must follow the lists, not the capture.
#[test]
fn rules_follow_the_lists() {
    use std::sync::Arc;
    use tlsdiag::findings::{evaluate, FindingsContext};
    let r = run("client-sigalg-not-listed-sent");
    let base = only(&r).clone();
    let codes = |c: &ConnectionReport| -> Vec<&'static str> {
        let (findings, _, _) = evaluate(c, &mut FindingsContext::default());
        let mut v: Vec<&'static str> = findings
            .iter()
            .map(|f| f.code)
            .filter(|c| SIGALG_CODES.contains(c))
            .collect();
        v.sort();
        v
    };
    assert_eq!(codes(&base), vec!["client-chain-sigalg-not-listed"]);
    // The client offers only RSA signatures: the server chain (signed ECDSA-SHA256) is not.
    let mut c = base.clone();
    for m in &mut c.messages {
        if let Some(Detail::ClientHello(ch)) = &mut m.detail {
            ch.sigalg_ids = vec![0x0401];
            ch.sigalg_cert_ids.clear();
        }
    }
    assert_eq!(
        codes(&c),
        vec![
            "client-chain-sigalg-not-listed",
            "server-chain-sigalg-not-offered"
        ]
    );
    // The server asks for ECDSA only: dave's RSA key and his RSA CertificateVerify do not fit,
    // while his chain (ecdsa-with-SHA512, ecdsa-with-SHA256) now does.
    let mut c = base.clone();
    for m in &mut c.messages {
        if let Some(Detail::CertificateRequest(cr)) = &mut m.detail {
            let mut x = (**cr).clone();
            x.cert_types = vec![64];
            x.sigalg_ids = vec![0x0403, 0x0603];
            *cr = Arc::new(x);
        }
    }
    assert_eq!(
        codes(&c),
        vec![
            "client-cert-key-type-not-requested",
            "client-verify-sigalg-not-listed"
        ]
    );
}

//! Trust stores (`--trust`, `--client-trust`) on the real captures of captures/serverkey: the
//! client chain validated as the server would, the server chain as the client would, with the
//! exact findings, severities and reasons.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tlsdiag::model::Severity;
use tlsdiag::trust::TrustStore;
use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey")
}

fn store(paths: &[&str]) -> Arc<TrustStore> {
    let mut s = TrustStore::default();
    for p in paths {
        s.add_path(&dir().join(p)).unwrap();
    }
    Arc::new(s)
}

fn run(capture: &str, trust: &[&str], client_trust: &[&str], keylog: bool) -> FileReport {
    let options = Options {
        trust: store(trust),
        client_trust: store(client_trust),
        keylog_files: keylog
            .then(|| dir().join(format!("{capture}.keys")))
            .into_iter()
            .collect(),
        ..Options::default()
    };
    analyze_path(&dir().join(format!("{capture}.pcap")), options).unwrap()
}

fn only(r: &FileReport) -> &ConnectionReport {
    assert_eq!(r.connections.len(), 1);
    &r.connections[0]
}

fn trust_findings(c: &ConnectionReport) -> Vec<(&'static str, Severity, Vec<u64>)> {
    c.findings
        .iter()
        .filter(|f| f.code.ends_with("-untrusted"))
        .map(|f| (f.code, f.severity, f.frames.clone()))
        .collect()
}

#[test]
fn client_from_an_untrusted_ca_is_the_reason_for_unknown_ca() {
    for trust in [
        "trust/root.pem",
        "trust/root.der",
        "trust/roots.p7b",
        "trust/dir",
    ] {
        let r = run("untrusted-client-ca", &[trust], &[], false);
        let c = only(&r);
        assert_eq!(
            trust_findings(c),
            vec![("client-cert-untrusted", Severity::Error, vec![8])],
            "{trust}"
        );
        let f = c
            .findings
            .iter()
            .find(|f| f.code == "client-cert-untrusted")
            .unwrap();
        assert_eq!(
            f.title,
            "The client certificate is not trusted: the issuer CN=Untrusted Client Root CA,O=Untrusted Org,C=US of CN=mallory,OU=Clients,O=Untrusted Org,C=US is neither in the trust store nor sent in the chain"
        );
        // The server's fatal unknown_ca (frame 9) is explained by it.
        let failed = c
            .findings
            .iter()
            .find(|f| f.code == "handshake-failed")
            .unwrap();
        assert_eq!(failed.frames, vec![9]);
        assert!(
            failed.explanation.contains("client-cert-untrusted"),
            "{}",
            failed.explanation
        );
    }
}

#[test]
fn trusted_chains_give_no_finding() {
    // alice's chain: leaf and intermediate sent, root in the store; the server chain likewise.
    for trust in [
        "trust/root.pem",
        "trust/bundle.pem",
        "trust/roots.p7b",
        "trust/dir",
    ] {
        for (capture, keylog) in [
            ("rsa-kx-tls12-gcm", false),
            ("rsa-kx-reneg-clientauth-ok", true),
            ("tls13", true),
        ] {
            let r = run(capture, &[trust], &[trust], keylog);
            assert_eq!(trust_findings(only(&r)), vec![], "{capture} {trust}");
        }
    }
}

#[test]
fn a_store_without_the_root_flags_both_chains() {
    // Completed with HTTP 200: the peers trusted the chains another way, so a warning.
    let r = run(
        "rsa-kx-tls12-gcm",
        &["trust/300-cas.pem"],
        &["trust/300-cas.pem"],
        true,
    );
    let c = only(&r);
    assert_eq!(
        trust_findings(c),
        vec![
            ("server-chain-untrusted", Severity::Warning, vec![6]),
            ("client-cert-untrusted", Severity::Warning, vec![8]),
        ]
    );
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "client-cert-untrusted")
        .unwrap();
    assert!(f.explanation.contains("Path built: CN=alice,OU=Clients,O=tlsdiag serverkey PKI,C=US (sent) <- CN=tlsdiag Serverkey Intermediate CA,O=tlsdiag serverkey PKI,C=US (sent)."), "{}", f.explanation);
    assert!(
        f.explanation.contains("This connection completed"),
        "{}",
        f.explanation
    );
    // Only the client store given: the server chain is not judged.
    let r = run("rsa-kx-tls12-gcm", &["trust/300-cas.pem"], &[], true);
    assert_eq!(
        trust_findings(only(&r)),
        vec![("client-cert-untrusted", Severity::Warning, vec![8])]
    );
}

#[test]
fn the_cli_takes_trust_stores_and_rejects_bad_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .current_dir(dir())
        .args([
            "untrusted-client-ca.pcap",
            "--trust",
            "trust/roots.p7b",
            "-f",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["connections"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"client-cert-untrusted"), "{codes:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .current_dir(dir())
        .args([
            "untrusted-client-ca.pcap",
            "--trust",
            "server-key.pkcs8.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "tlsdiag: --trust server-key.pkcs8.pem: no CERTIFICATE block in the PEM text"
    );
}

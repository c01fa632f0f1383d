//! Decryption with the server's RSA private key (`--server-key`) on the real captures of
//! captures/serverkey: every key file format, RSA key exchange in TLS 1.0 and 1.2 (GCM, CBC),
//! the client certificate requested in an encrypted renegotiation, session resumption, the key
//! log's `RSA` and `PMS_CLIENT_RANDOM` lines, what is said where a server key cannot help, and
//! wrong keys and passwords. The password and key bytes never appear in any output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tlsdiag::serverkey::ServerKeys;
use tlsdiag::{analyze_path, ConnectionReport, FileReport, Options};

const PASSWORD: &str = "tlsdiag-test";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey")
}

fn keys(files: &[&str]) -> Arc<ServerKeys> {
    let mut k = ServerKeys::default();
    for f in files {
        k.add_file(&dir().join(f), Some(PASSWORD)).unwrap();
    }
    Arc::new(k)
}

fn run_with(capture: &str, server_keys: Arc<ServerKeys>, keylog: Option<&str>) -> FileReport {
    let options = Options {
        server_keys,
        keylog_files: keylog.map(|k| dir().join(k)).into_iter().collect(),
        ..Options::default()
    };
    analyze_path(&dir().join(format!("{capture}.pcap")), options).unwrap()
}

fn run(capture: &str, key: &str) -> FileReport {
    run_with(capture, keys(&[key]), None)
}

fn only(r: &FileReport) -> &ConnectionReport {
    assert_eq!(r.connections.len(), 1);
    &r.connections[0]
}

/// (request frame, response frame, status) of each HTTP exchange.
fn http(c: &ConnectionReport) -> Vec<(Option<u64>, Option<u64>, Option<u16>)> {
    c.http
        .iter()
        .map(|x| (x.request_frame, x.response_frame, x.status))
        .collect()
}

/// (frame, type) of the handshake messages read after decryption.
fn decrypted_messages(c: &ConnectionReport) -> Vec<(u64, &'static str)> {
    c.messages
        .iter()
        .filter(|m| m.decrypted)
        .map(|m| (m.frame, m.kind))
        .collect()
}

fn codes(c: &ConnectionReport) -> Vec<&'static str> {
    c.findings.iter().map(|f| f.code).collect()
}

#[test]
fn every_key_format_decrypts_the_rsa_key_exchange() {
    for key in [
        "server-key.pkcs1.pem",
        "server-key.pkcs8.pem",
        "server-key.with-text.pem",
        "server-key.der",
        "server-key.encrypted.pem",
        "server.pfx",
        "server-legacy.pfx",
    ] {
        let r = run("rsa-kx-tls12-gcm", key);
        let c = only(&r);
        assert_eq!(c.decryption.status, "decrypted", "{key}");
        assert_eq!(c.decryption.keys_from, Some("server-key"), "{key}");
        assert_eq!(
            (c.decryption.client_records, c.decryption.server_records),
            (3, 3),
            "{key}"
        );
        assert_eq!(http(c), vec![(Some(10), Some(11), Some(200))], "{key}");
        assert_eq!(c.http[0].target.as_deref(), Some("/index.html"));
        assert!(r.warnings.is_empty(), "{key}: {:?}", r.warnings);
    }
}

#[test]
fn cbc_suites_of_tls_1_2_and_1_0() {
    for (capture, version, suite, records) in [
        (
            "rsa-kx-tls12-cbc",
            "TLS 1.2",
            "TLS_RSA_WITH_AES_256_CBC_SHA256",
            3,
        ),
        (
            "rsa-kx-tls10-cbc",
            "TLS 1.0",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            4,
        ),
    ] {
        let r = run(capture, "server-key.pkcs8.pem");
        let c = only(&r);
        assert_eq!(c.tls_version.as_deref(), Some(version));
        assert_eq!(c.cipher_suite.as_deref(), Some(suite));
        assert_eq!(c.decryption.status, "decrypted", "{capture}");
        assert_eq!(c.decryption.client_records, records, "{capture}");
        assert_eq!(http(c), vec![(Some(10), Some(11), Some(200))], "{capture}");
    }
}

#[test]
fn renegotiation_inside_the_encrypted_connection_is_read() {
    let r = run("rsa-kx-reneg-clientauth-ok", "server.pfx");
    let c = only(&r);
    assert_eq!(c.decryption.status, "decrypted");
    assert_eq!(
        decrypted_messages(c),
        vec![
            (8, "finished"),
            (9, "finished"),
            (11, "hello_request"),
            (12, "client_hello"),
            (13, "server_hello"),
            (13, "certificate"),
            (13, "certificate_request"),
            (13, "server_hello_done"),
            (14, "certificate"),
            (14, "client_key_exchange"),
            (14, "certificate_verify"),
            (14, "finished"),
            (15, "finished"),
        ]
    );
    let client_cert = c
        .messages
        .iter()
        .find(|m| m.frame == 14 && m.kind == "certificate")
        .unwrap();
    assert_eq!(client_cert.length, 1265 + 3);
    assert_eq!(http(c), vec![(Some(10), Some(16), Some(200))]);
    assert_eq!(c.http[0].target.as_deref(), Some("/secure/"));
    assert!(!codes(c).contains(&"client-cert-empty"), "{:?}", codes(c));
}

#[test]
fn failed_renegotiation_shows_the_empty_certificate_and_the_alert() {
    let r = run("rsa-kx-reneg-clientauth-nocert", "server-key.pkcs1.pem");
    let c = only(&r);
    let empty = c
        .messages
        .iter()
        .find(|m| m.frame == 14 && m.kind == "certificate")
        .unwrap();
    assert!(empty.decrypted);
    assert!(matches!(&empty.detail, Some(tlsdiag::tls::Detail::Certificate(x)) if x.empty));
    let alert = c.alerts.iter().find(|a| a.frame == 15).unwrap();
    assert_eq!((alert.description, alert.decrypted), (Some(40), true));
    // The GET that triggered the renegotiation never got an answer.
    assert_eq!(http(c), vec![(Some(10), None, None)]);
    assert!(codes(c).contains(&"client-cert-empty"), "{:?}", codes(c));
    assert_eq!(c.outcome.status.word(), "failed");
}

#[test]
fn resumed_sessions_decrypt_through_the_earlier_master_secret() {
    for capture in ["resume-session-id", "resume-ticket"] {
        let r = run(capture, "server-key.pkcs8.pem");
        assert_eq!(r.connections.len(), 2);
        let second = &r.connections[1];
        assert!(
            !second
                .messages
                .iter()
                .any(|m| m.kind == "client_key_exchange"),
            "{capture}: the second handshake is abbreviated"
        );
        for c in &r.connections {
            assert_eq!(c.decryption.status, "decrypted", "{capture}");
            assert_eq!(c.decryption.keys_from, Some("server-key"), "{capture}");
        }
        assert_eq!(
            http(second),
            vec![(Some(26), Some(28), Some(200))],
            "{capture}"
        );
    }
}

#[test]
fn key_log_rsa_and_pms_client_random_lines() {
    for keylog in ["rsa-kx-tls12-gcm.rsa.keys", "rsa-kx-tls12-gcm.pms.keys"] {
        let r = run_with("rsa-kx-tls12-gcm", Arc::default(), Some(keylog));
        let c = only(&r);
        assert_eq!(c.decryption.status, "decrypted", "{keylog}");
        assert_eq!(
            c.decryption.keys_from,
            Some("key-log-pre-master"),
            "{keylog}"
        );
        assert_eq!(http(c), vec![(Some(10), Some(11), Some(200))], "{keylog}");
    }
    // The same lines do nothing for another connection: it says the key log lacks its key.
    let r = run_with(
        "rsa-kx-tls12-cbc",
        Arc::default(),
        Some("rsa-kx-tls12-gcm.rsa.keys"),
    );
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    assert_eq!(
        c.decryption.reason.as_deref(),
        Some("no RSA line in the key log for this connection's encrypted pre-master secret, and no --server-key given")
    );
}

#[test]
fn ephemeral_key_exchange_is_named_per_connection() {
    let r = run("ecdhe-tls12", "server-key.pkcs8.pem");
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    assert_eq!(
        c.decryption.reason.as_deref(),
        Some("key exchange is ECDHE: a server key cannot decrypt this; use a key log")
    );
    let r = run("tls13", "server-key.pkcs8.pem");
    let c = only(&r);
    assert_eq!(
        c.decryption.reason.as_deref(),
        Some("key exchange is ECDHE (TLS 1.3 has no RSA key exchange): a server key cannot decrypt this; use a key log")
    );
    // With the client's key log the same capture decrypts: the server key is not in the way.
    let r = run_with(
        "ecdhe-tls12",
        keys(&["server-key.pkcs8.pem"]),
        Some("ecdhe-tls12.keys"),
    );
    assert_eq!(only(&r).decryption.status, "decrypted");
    assert_eq!(only(&r).decryption.keys_from, Some("key-log"));
}

#[test]
fn a_key_of_another_certificate_is_reported() {
    let r = run("rsa-kx-tls12-gcm", "other-key.pem");
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    assert_eq!(
        c.decryption.reason.as_deref(),
        Some("no --server-key matches the server certificate (CN=localhost,O=tlsdiag serverkey PKI,C=US): the key given belongs to another certificate")
    );
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("other-key.pem"), "{:?}", r.warnings);
    // Beside the right key it is simply not used, and no warning is given.
    let r = run_with(
        "rsa-kx-tls12-gcm",
        keys(&["other-key.pem", "server-key.der"]),
        None,
    );
    assert_eq!(only(&r).decryption.status, "decrypted");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn wrong_pre_master_secret_says_so() {
    // A PMS_CLIENT_RANDOM line with the right random and a wrong secret.
    let good = std::fs::read_to_string(dir().join("rsa-kx-tls12-gcm.pms.keys")).unwrap();
    let mut parts: Vec<String> = good.split_whitespace().map(String::from).collect();
    parts[2] = "00".repeat(48);
    let tmp = std::env::temp_dir().join(format!("tlsdiag-wrong-pms-{}.keys", std::process::id()));
    std::fs::write(&tmp, parts.join(" ") + "\n").unwrap();
    let r = run_with(
        "rsa-kx-tls12-gcm",
        Arc::default(),
        Some(tmp.to_str().unwrap()),
    );
    std::fs::remove_file(&tmp).ok();
    let c = only(&r);
    assert_eq!(c.decryption.status, "not-decrypted");
    assert_eq!(
        c.decryption.reason.as_deref(),
        Some("authentication failed at the 1st encrypted record from the client (frame 8): wrong PMS_CLIENT_RANDOM pre-master secret in the key log")
    );
}

#[test]
fn key_file_errors_are_clear() {
    let err = |file: &str, pw: Option<&str>| {
        ServerKeys::default()
            .add_file(&dir().join(file), pw)
            .unwrap_err()
    };
    let e = err("server.pfx", Some("not-the-password"));
    assert!(e.ends_with("server.pfx: wrong password for this PKCS#12/PFX file (its integrity MAC does not verify)"), "{e}");
    assert!(!e.contains("not-the-password"));
    let e = err("server-legacy.pfx", Some("nope"));
    assert!(e.contains("wrong password"), "{e}");
    let e = err("server-key.encrypted.pem", Some("nope"));
    assert!(
        e.ends_with("wrong password for the encrypted key, or not an RSA key"),
        "{e}"
    );
    let e = err("server-key.encrypted.pem", None);
    assert!(e.contains("the key is encrypted: give its password"), "{e}");
    let e = err("server.pfx", None);
    assert!(
        e.contains("give its password with --key-password or TLSDIAG_KEY_PASSWORD"),
        "{e}"
    );
    let e = err("pki/client-ec.key", None);
    assert!(
        e.ends_with(
            "not an RSA private key: only RSA key exchange can be decrypted with a server key"
        ),
        "{e}"
    );
    let e = err("server-cert.pem", None);
    assert!(
        e.ends_with("no private key in the PEM text (blocks found: CERTIFICATE)"),
        "{e}"
    );
    let e = err("rsa-kx-tls12-gcm.pcap", None);
    assert!(e.ends_with("not a PEM, DER or PKCS#12/PFX key file"), "{e}");
    assert!(err("no-such-file.pem", None).contains("no-such-file.pem"));
}

fn tlsdiag(args: &[&str], env_password: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tlsdiag"));
    cmd.current_dir(dir())
        .args(args)
        .env_remove("SSLKEYLOGFILE");
    match env_password {
        Some(p) => cmd.env("TLSDIAG_KEY_PASSWORD", p),
        None => cmd.env_remove("TLSDIAG_KEY_PASSWORD"),
    };
    cmd.output().unwrap()
}

#[test]
fn cli_wrong_password_is_an_input_error() {
    let out = tlsdiag(
        &[
            "rsa-kx-tls12-gcm.pcap",
            "--server-key",
            "server.pfx",
            "--key-password",
            "hunter2",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "tlsdiag: --server-key server.pfx: wrong password for this PKCS#12/PFX file (its integrity MAC does not verify)"
    );
    assert!(out.stdout.is_empty());
    // The environment variable is read when the option is absent.
    let out = tlsdiag(
        &[
            "rsa-kx-tls12-gcm.pcap",
            "--server-key",
            "server-legacy.pfx",
            "-q",
        ],
        Some(PASSWORD),
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("decryption: decrypted (3 client, 3 server records)"),
        "{text}"
    );
    assert!(text.contains("GET /index.html -> 200 OK"), "{text}");
}

#[test]
fn password_and_key_bytes_never_appear_in_any_output() {
    // Secrets: the password, the key files' base64 lines, the pre-master and master secrets.
    let mut secrets: Vec<String> = vec![PASSWORD.to_string()];
    let pem = std::fs::read_to_string(dir().join("server-key.pkcs8.pem")).unwrap();
    secrets.extend(
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(|l| l[..24].to_string()),
    );
    let pms = std::fs::read_to_string(dir().join("rsa-kx-tls12-gcm.pms.keys")).unwrap();
    let pms = pms.split_whitespace().nth(2).unwrap().to_string();
    let ms = std::fs::read_to_string(dir().join("rsa-kx-tls12-gcm.keys")).unwrap();
    let ms: Vec<String> = ms
        .lines()
        .filter(|l| l.starts_with("CLIENT_RANDOM"))
        .filter_map(|l| l.split_whitespace().nth(2).map(String::from))
        .collect();
    assert_eq!(pms.len(), 96);
    assert!(!ms.is_empty());
    for s in [pms].into_iter().chain(ms) {
        secrets.push(s[..32].to_lowercase());
        secrets.push(s[..32].to_uppercase());
    }
    let der = std::fs::read(dir().join("server-key.der")).unwrap();
    secrets.push(hex::encode(&der[40..72]));
    for format in ["text", "json", "jsonl", "summary"] {
        for key in ["server.pfx", "server-key.pkcs8.pem"] {
            let out = tlsdiag(
                &[
                    "rsa-kx-tls12-gcm.pcap",
                    "rsa-kx-reneg-clientauth-ok.pcap",
                    "--server-key",
                    key,
                    "--key-password",
                    PASSWORD,
                    "--format",
                    format,
                ],
                Some(PASSWORD),
            );
            assert_eq!(out.status.code(), Some(0), "{format}");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if format != "summary" {
                assert!(all.contains("200"), "{format}: decrypted HTTP expected");
            }
            for s in &secrets {
                assert!(
                    !all.contains(s.as_str()),
                    "{format} {key}: output holds {s}"
                );
            }
        }
    }
}

#[test]
fn damaged_captures_with_a_server_key_never_panic() {
    // Bytes flipped in the handshake and records of the RSA captures: the ClientKeyExchange,
    // the transcript and the derived keys must cope (a report, never a panic).
    let keys = keys(&["server-key.pkcs8.pem"]);
    let mut seed = 0x2545_f491_u32;
    for capture in [
        "rsa-kx-tls12-gcm",
        "rsa-kx-tls10-cbc",
        "rsa-kx-reneg-clientauth-ok",
        "resume-ticket",
    ] {
        let bytes = std::fs::read(dir().join(format!("{capture}.pcap"))).unwrap();
        for round in 0..30 {
            let mut b = bytes.clone();
            for _ in 0..(1 + round % 8) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                // Past the pcap headers, where the TLS bytes are.
                let at = 100 + seed as usize % (b.len() - 100);
                b[at] ^= (seed >> 24) as u8 | 1;
            }
            let options = Options {
                server_keys: keys.clone(),
                ..Options::default()
            };
            let _ = tlsdiag::analyze_bytes(capture, b, options);
        }
    }
}

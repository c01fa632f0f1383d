//! The command line on the project's own captures: exact facts in text and JSON, every input
//! form (plain, gzip, zstd, pcapng, standard input), and clear errors with exit code 2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn tlsdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .output()
        .expect("run tlsdiag")
}

fn json_of(path: &Path) -> Value {
    let out = tlsdiag(&["analyze", "--format", "json", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn messages<'a>(conn: &'a Value, kind: &str) -> Vec<&'a Value> {
    conn["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == kind)
        .collect()
}

#[test]
fn large_ca_list_spanning_two_records() {
    let v = json_of(&capture("tls12-ca-list-17k.pcap"));
    assert_eq!(v["schema_version"], 3);
    assert_eq!(v["tls_connections"], 1);
    let conn = &v["connections"][0];
    assert_eq!(conn["stream"], 0);
    assert_eq!(conn["tls_version"], "TLS 1.2");
    let cr = messages(conn, "certificate_request");
    assert_eq!(cr.len(), 1);
    let cr = cr[0];
    assert_eq!(cr["frame"], 10);
    assert_eq!(cr["direction"], "server");
    assert_eq!(cr["ca_list_bytes"], 17006);
    assert_eq!(cr["records"], 2);
    let names = cr["ca_names"].as_array().unwrap();
    assert_eq!(names.len(), 83);
    assert_eq!(names[0], "CN=tlsdiag Test Root CA,O=tlsdiag test PKI,C=US");
    let sizes: u64 = cr["ca_name_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .sum();
    // Each name has a 2-byte length prefix in the list.
    assert_eq!(sizes + 2 * 83, 17006);
    let frames: Vec<u64> = cr["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_u64().unwrap())
        .collect();
    assert!(
        frames.len() >= 2 && *frames.last().unwrap() == 10,
        "{frames:?}"
    );
    let client_cert = messages(conn, "certificate")
        .into_iter()
        .find(|m| m["direction"] == "client")
        .unwrap();
    assert_eq!(client_cert["frame"], 12);
    assert_eq!(client_cert["empty"], false);
    assert_eq!(client_cert["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(
        client_cert["certificates"][0]["issuer"],
        "CN=tlsdiag Test Intermediate CA,O=tlsdiag test PKI,C=US"
    );
}

#[test]
fn empty_client_certificate_then_fatal_alert() {
    let v = json_of(&capture("tls12-client-cert-empty-required.pcap"));
    let conn = &v["connections"][0];
    let cr = messages(conn, "certificate_request")[0];
    assert_eq!(
        (cr["frame"].as_u64(), cr["ca_list_bytes"].as_u64()),
        (Some(6), Some(158))
    );
    assert_eq!(cr["ca_names"].as_array().unwrap().len(), 2);
    let cert = messages(conn, "certificate")
        .into_iter()
        .find(|m| m["direction"] == "client")
        .unwrap();
    assert_eq!(cert["frame"], 8);
    assert_eq!(cert["empty"], true);
    assert_eq!(cert["certificates_length"], 0);
    let alert = &conn["alerts"][0];
    assert_eq!(alert["frame"], 9);
    assert_eq!(alert["direction"], "server");
    assert_eq!(alert["description"], 40);
    assert_eq!(alert["name"], "handshake_failure");
    assert!(conn["transcript"]
        .as_str()
        .unwrap()
        .contains("> Certificate(empty),ClientKeyExchange"));
}

#[test]
fn text_report_names_the_evidence() {
    let out = tlsdiag(&[capture("tls12-client-cert-empty-required.pcap")
        .to_str()
        .unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("tcp.stream 0:"), "{text}");
    assert!(
        text.contains("CertificateRequest 2 CA name(s), CA list 158 bytes"),
        "{text}"
    );
    assert!(
        text.contains("Certificate EMPTY: no certificate sent"),
        "{text}"
    );
    assert!(
        text.contains("Alert fatal handshake_failure (40)"),
        "{text}"
    );
}

/// The same capture as pcap, gzip, pcapng with a Decryption Secrets Block, zstd pcapng and
/// standard input yields the same handshake.
#[test]
fn every_input_form_gives_the_same_handshake() {
    let reference = json_of(&capture("tls12-cr-small.pcap"));
    let summary = |v: &Value| -> Vec<(String, u64, String)> {
        v["connections"][0]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["type"].as_str().unwrap().to_string(),
                    m["frame"].as_u64().unwrap(),
                    m["direction"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let expected = summary(&reference);
    assert_eq!(expected.len(), 9, "{expected:?}");
    for (name, compression, format) in [
        ("tls12-cr-small.pcap.gz", "gzip", "pcap"),
        ("tls12-cr-small.pcapng.zst", "zstd", "pcapng"),
    ] {
        let v = json_of(&capture(name));
        assert_eq!(v["capture"]["compression"], compression, "{name}");
        assert_eq!(v["capture"]["format"], format, "{name}");
        assert_eq!(summary(&v), expected, "{name}");
    }
    // The pcapng with a Decryption Secrets Block decrypts by itself: the two Finished messages
    // appear in addition.
    let dsb = json_of(&capture("tls12-cr-small-dsb.pcapng"));
    assert_eq!(dsb["capture"]["decryption_secrets_blocks"], 1);
    assert_eq!(dsb["has_tls_secrets"], true);
    assert_eq!(dsb["connections"][0]["decryption"]["status"], "decrypted");
    let mut with_finished = expected.clone();
    with_finished.push(("finished".into(), 8, "client".into()));
    with_finished.push(("finished".into(), 9, "server".into()));
    with_finished.sort_by_key(|m| m.1);
    let mut got = summary(&dsb);
    got.sort_by_key(|m| m.1);
    assert_eq!(got, with_finished);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(capture("tls12-cr-small.pcap.gz")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Dribble the input in small writes: the reader must cope with short reads.
    let writer = std::thread::spawn(move || {
        for chunk in bytes.chunks(7) {
            stdin.write_all(chunk).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["file"], "-");
    assert_eq!(summary(&v), expected);
}

#[test]
fn renegotiation_is_visible_as_encrypted_handshake_records() {
    let v = json_of(&capture("tls12-renegotiation.pcap"));
    let conn = &v["connections"][0];
    let after: Vec<u64> = conn["encrypted_handshake"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["after_finished"] == true)
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    // HelloRequest (13), then the renegotiation flights up to the new Finished messages (19).
    assert_eq!(after.first(), Some(&13), "{after:?}");
    assert!(after.iter().all(|f| (13..=19).contains(f)), "{after:?}");
    assert!(messages(conn, "certificate_request").is_empty());
    assert!(conn["not_seen"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("after the handshake finished")));
}

#[test]
fn tls13_says_what_is_encrypted() {
    let v = json_of(&capture("tls13-cr-small.pcap"));
    let conn = &v["connections"][0];
    assert_eq!(conn["tls_version"], "TLS 1.3");
    assert!(messages(conn, "certificate_request").is_empty());
    assert!(conn["not_seen"][0]
        .as_str()
        .unwrap()
        .contains("TLS 1.3 encrypts everything"));
}

#[test]
fn truncated_capture_warns_and_reports_what_was_read() {
    let bytes = std::fs::read(capture("tls12-client-cert-empty-required.pcap")).unwrap();
    let dir = std::env::temp_dir().join(format!("tlsdiag-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    // Cut in the middle of the last packet.
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let out = tlsdiag(&["--format", "json", cut.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut short"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["capture"]["truncated"]
        .as_str()
        .unwrap()
        .contains("cut short"));
    assert_eq!(
        messages(&v["connections"][0], "certificate_request").len(),
        1
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_inputs_are_one_line_errors_with_exit_code_2() {
    let missing = tlsdiag(&["analyze", "no/such/file.pcap"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tlsdiag: no/such/file.pcap: cannot open"),
        "{err}"
    );

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let not_capture = tlsdiag(&[manifest.to_str().unwrap()]);
    assert_eq!(not_capture.status.code(), Some(2));
    let err = String::from_utf8_lossy(&not_capture.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Cargo.toml: not a pcap or pcapng capture"),
        "{err}"
    );

    // One bad file among good ones: the good one is still reported, the exit code says 2.
    let mixed = tlsdiag(&[
        "no-such.pcap",
        capture("tls12-cr-small.pcap").to_str().unwrap(),
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stdout).contains("tcp.stream 0:"));

    let usage = tlsdiag(&["analyze", "--format", "yaml", "x.pcap"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn sslkeylogfile_is_used_when_no_keylog_option_is_given() {
    let capture = capture("nginx-mtls-403.pcap");
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/nginx-mtls-403.keys");
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["-f", "json", capture.to_str().unwrap()])
        .env("SSLKEYLOGFILE", &keys)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["connections"][0]["decryption"]["status"], "decrypted");
    assert_eq!(v["connections"][0]["http"][0]["status"], 403);
    // A key log named by SSLKEYLOGFILE that cannot be read is a warning, and the report is there.
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .arg(capture.to_str().unwrap())
        .env("SSLKEYLOGFILE", "no/such/keys.txt")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read key log no/such/keys.txt"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("client-cert-empty"));
    // One named with --keylog is a usage error, said once, before any capture is read.
    let other = capture_path("http-401-403.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args([
            "--keylog",
            "no/such/keys.txt",
            capture.to_str().unwrap(),
            other.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("no/such/keys.txt").count(), 1, "{err}");
    assert!(
        err.starts_with("tlsdiag: key log no/such/keys.txt: "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

fn capture_path(name: &str) -> PathBuf {
    capture(name)
}

/// A key log with unusable lines: one warning for the whole run with the count and the first
/// line numbers, not one per line and per capture.
#[test]
fn bad_key_log_lines_are_one_warning() {
    let dir = std::env::temp_dir().join(format!("tlsdiag-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.txt");
    let good = std::fs::read_to_string(capture("nginx-mtls-403.keys")).unwrap();
    std::fs::write(
        &keys,
        format!("# comment\n{good}garbage\nCLIENT_RANDOM zz 00\nalso bad\n"),
    )
    .unwrap();
    let a = capture("nginx-mtls-403.pcap");
    let b = capture("http-401-403.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args([
            "--keylog",
            keys.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let n = good.lines().count();
    let expected = format!(
        "tlsdiag: warning: key log {}: 3 line(s) could not be used (line {}, {}, {}); 1 client random(s) read\n",
        keys.display(),
        n + 2,
        n + 3,
        n + 4
    );
    assert_eq!(err, expected);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("could not be used") && !text.contains("expected LABEL"));
    assert!(
        text.contains("HTTP (decrypted) GET /secure/ -> 403"),
        "decrypted with the good lines"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--help` shows the analysis options of the bare form; `completions` and `man` come from the
/// same definitions; `--files-from` skips comments; `-q` leaves only the report; `--color
/// always` colours severities.
#[test]
fn command_line_conventions() {
    let help = tlsdiag(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--keylog",
        "--format",
        "--fail-on",
        "--no-progress",
        "--color",
        "Exit codes: 0",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let bash = tlsdiag(&["completions", "bash"]);
    assert!(String::from_utf8_lossy(&bash.stdout).contains("--keylog"));
    let man = tlsdiag(&["man"]);
    assert!(String::from_utf8_lossy(&man.stdout).starts_with(".ie \\n(.g .ds Aq"));

    let dir = std::env::temp_dir().join(format!("tlsdiag-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("list.txt");
    let a = capture("nginx-mtls-403.pcap");
    let b = capture("http-401-403.pcap");
    std::fs::write(
        &list,
        format!(
            "# archive\n\n{}\n  # {}\n{}\n",
            a.display(),
            "not a path",
            b.display()
        ),
    )
    .unwrap();
    let out = tlsdiag(&["-f", "summary", "--files-from", list.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("== 2 file(s)"), "{text}");
    assert_eq!(
        text.matches("`tlsdiag explain CODE` tells more").count(),
        1,
        "{text}"
    );

    let quiet = tlsdiag(&[
        "-q",
        "-f",
        "summary",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&quiet.stdout);
    assert!(!text.lines().any(|l| l.starts_with("== ")), "{text}");
    assert!(!text.contains("tlsdiag explain"), "{text}");
    assert!(text.contains("Diagnosis:"));

    let plain = tlsdiag(&[a.to_str().unwrap()]);
    assert!(!plain.stdout.contains(&0x1b));
    let color = tlsdiag(&["--color", "always", a.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&color.stdout).contains("  \x1b[1;33mWARNING\x1b[0m "));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Compresses `raw` so that its first `keep` bytes are flushed, then the rest, and cuts the
/// compressed stream right after the flush: decoding yields exactly `keep` bytes, then ends early.
fn compressed_and_cut(raw: &[u8], keep: usize, zstd: bool) -> Vec<u8> {
    if zstd {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.write_all(&raw[..keep]).unwrap();
        enc.flush().unwrap();
        let cut = enc.get_ref().len();
        enc.write_all(&raw[keep..]).unwrap();
        let mut all = enc.finish().unwrap();
        all.truncate(cut);
        all
    } else {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw[..keep]).unwrap();
        enc.flush().unwrap();
        let cut = enc.get_ref().len();
        enc.write_all(&raw[keep..]).unwrap();
        let mut all = enc.finish().unwrap();
        all.truncate(cut);
        all
    }
}

#[test]
fn compressed_capture_cut_short_is_reported_up_to_the_cut() {
    let raw = std::fs::read(capture("tls12-cr-small.pcap")).unwrap();
    // Frame 8 (the client's Certificate flight) starts at byte 2338; cut 600 bytes into it.
    let keep = 2338 + 16 + 600;
    for (zstd, ext, kind) in [(false, "gz", "gzip"), (true, "zst", "zstd")] {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls12-cr-small-cut.pcap.{ext}"));
        std::fs::write(&path, compressed_and_cut(&raw, keep, zstd)).unwrap();
        let v = json_of(&path);
        assert_eq!(v["capture"]["packets"], 7, "{kind}");
        assert_eq!(v["tls_connections"], 1, "{kind}");
        let conn = &v["connections"][0];
        let seen: Vec<(String, u64)> = conn["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["type"].as_str().unwrap().to_string(),
                    m["frame"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = [
            ("client_hello", 4),
            ("server_hello", 6),
            ("certificate", 6),
            ("server_key_exchange", 6),
            ("certificate_request", 6),
            ("server_hello_done", 6),
        ]
        .iter()
        .map(|(t, f)| (t.to_string(), *f))
        .collect();
        assert_eq!(seen, want, "{kind}");
        let warnings: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            warnings.iter().any(|w| w.starts_with(&format!(
                "{kind} stream ended early: the capture is cut short after 7 packets"
            ))),
            "{kind}: {warnings:?}"
        );
    }
}

/// The pcap without the given frames (1-based): a 24-byte global header, then 16-byte record
/// headers each followed by its captured bytes.
fn pcap_without_frames(raw: &[u8], drop: &[usize]) -> Vec<u8> {
    let mut out = raw[..24].to_vec();
    let mut at = 24;
    let mut frame = 1;
    while at + 16 <= raw.len() {
        let caplen = u32::from_le_bytes(raw[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + 16 + caplen;
        if !drop.contains(&frame) {
            out.extend_from_slice(&raw[at..end]);
        }
        at = end;
        frame += 1;
    }
    out
}

const MIDSTREAM: &str = "the capture starts in the middle of this connection";

#[test]
fn missing_syn_with_client_hello_is_not_midstream() {
    let raw = std::fs::read(capture("tls12-cr-small.pcap")).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));

    // SYN and SYN-ACK gone; the ACK, then the ClientHello (now frame 2), are there.
    let path = dir.join("tls12-cr-small-no-syn.pcap");
    std::fs::write(&path, pcap_without_frames(&raw, &[1, 2])).unwrap();
    let v = json_of(&path);
    assert_eq!(v["tls_connections"], 1);
    let conn = &v["connections"][0];
    assert_eq!(conn["tcp"]["syn_seen"], false);
    assert_eq!(conn["tcp"]["midstream"], false);
    let not_seen = conn["not_seen"].to_string();
    assert!(!not_seen.contains(MIDSTREAM), "{not_seen}");
    assert_eq!(messages(conn, "client_hello")[0]["frame"], 2);
    assert_eq!(messages(conn, "certificate_request")[0]["frame"], 4);

    // Without the ClientHello too, the client's first data (its Certificate) follows missing
    // bytes: that is the middle of the connection.
    let path = dir.join("tls12-cr-small-no-client-hello.pcap");
    std::fs::write(&path, pcap_without_frames(&raw, &[1, 2, 4])).unwrap();
    let v = json_of(&path);
    let conn = &v["connections"][0];
    assert_eq!(conn["tcp"]["midstream"], true);
    let not_seen = conn["not_seen"].to_string();
    assert!(not_seen.contains(MIDSTREAM), "{not_seen}");
}

/// Stream numbers of the connection blocks of a text report, in the order they are written.
fn stream_order(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("tcp.stream "))
        .filter_map(|l| l.split(':').next()?.parse().ok())
        .collect()
}

/// Verdict first: the diagnosis opens the text report, then every connection in tcp.stream
/// order; `--stream` writes connections as they end and the diagnosis after them. cisco's
/// tls_sgt.pcap (71 TLS connections, 58 mutual-TLS) ends streams 3 and 4 only at the end of the
/// capture, so the two orders differ.
#[test]
fn text_report_opens_with_the_verdict_and_keeps_stream_order() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public/dev/cisco+mercury/unit_tests/pcaps/tls_sgt.pcap");
    if !path.exists() {
        println!("SKIPPED: {} is absent", path.display());
        return;
    }
    let held = tlsdiag(&[path.to_str().unwrap()]);
    let text = String::from_utf8(held.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with(
        "Diagnosis: 71 TLS connections (13 unknown, 58 completed); findings: 58 warnings"
    ));
    assert_eq!(
        lines[2],
        "  WARNING client-cert-issuer-not-requested  on 58 connections to wsstet-pov-rtp1.cpoc.co (64.100.1.197:443)"
    );
    assert!(text.contains("          tcp.stream 0: tcp.stream eq 0 && "));
    assert!(text.contains("          ... and 55 more connection(s)\n"));
    let order = stream_order(&text);
    assert_eq!(order.len(), 71);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let first_connection = text.find("\ntcp.stream ").unwrap();
    assert!(text.find("Diagnosis:").unwrap() < first_connection);

    let streamed = tlsdiag(&["--stream", path.to_str().unwrap()]);
    let streamed = String::from_utf8(streamed.stdout).unwrap();
    let order = stream_order(&streamed);
    assert_eq!(order.len(), 71);
    assert_eq!(&order[..3], &[0, 2, 5]);
    assert!(streamed.find("Diagnosis:").unwrap() > streamed.rfind("\ntcp.stream ").unwrap());
}

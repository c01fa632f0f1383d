//! The Windows side beyond Kerberos: IIS logs joined to the connections of real captures
//! (`captures/iislogs/`, constructed logs with decoys), and `.etl` traces answered with the
//! command that converts them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tlsdiag::iislog::IisLog;
use tlsdiag::{analyze_path, FileReport, Options};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures")
}

fn with_log(capture: &str, keys: bool) -> FileReport {
    let log = IisLog::read(&[captures().join("iislogs")]).unwrap();
    let options = Options {
        iis_log: Some(Arc::new(log)),
        keylog_files: if keys {
            vec![captures().join(capture.replace(".pcap", ".keys"))]
        } else {
            Vec::new()
        },
        ..Options::default()
    };
    analyze_path(&captures().join(capture), options).unwrap()
}

/// (stream, log file name, line, status text) of every joined line.
fn joined(r: &FileReport) -> Vec<(u64, String, usize, String)> {
    r.connections
        .iter()
        .flat_map(|c| {
            c.iis_log.iter().map(move |l| {
                let file = Path::new(&l.file).file_name().unwrap().to_string_lossy();
                (c.stream, file.into_owned(), l.line, l.status_text())
            })
        })
        .collect()
}

fn codes(r: &FileReport) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .connections
        .iter()
        .flat_map(|c| &c.findings)
        .map(|f| (f.code.to_string(), f.severity.word().to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn iis_log_gives_the_403_7_hidden_in_tls_and_no_decoy_attaches() {
    let r = with_log("nginx-mtls-403.pcap", false);
    assert_eq!(
        joined(&r),
        vec![(0, "u_ex261122.log".into(), 7, "403.7".into())]
    );
    let j = r.iis_log.as_ref().unwrap();
    assert_eq!((j.lines, j.joined, j.skipped), (19, 1, 1));
    assert_eq!(j.unmatched, 18);
    assert!(j.ambiguous.is_empty());
    // Without keys the log says what decryption says: a 403.7 on the connection whose client
    // sent no certificate.
    let decrypted = tlsdiag::analyze_path(
        &captures().join("nginx-mtls-403.pcap"),
        Options {
            keylog_files: vec![captures().join("nginx-mtls-403.keys")],
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(codes(&r), codes(&decrypted));
    assert_eq!(
        codes(&r),
        vec![
            ("client-cert-empty".into(), "error".into()),
            ("http-403-client-cert".into(), "error".into())
        ]
    );
    let f = r.connections[0]
        .findings
        .iter()
        .find(|f| f.code == "http-403-client-cert")
        .unwrap();
    assert!(f
        .explanation
        .contains("403.7 (client certificate required, from the IIS log)"));
    let x = &r.connections[0].http[0];
    assert_eq!(x.substatus_source, Some("iis-log"));
    assert_eq!(x.target.as_deref(), Some("/secure/"));
    assert_eq!(r.summary.by_code.get("http-403-client-cert"), Some(&1));
    assert_eq!(r.http_connections, 1);
}

#[test]
fn iis_log_other_field_orders_and_tls13() {
    let r = with_log("nginx-mtls-403-tls13.pcap", false);
    assert_eq!(
        joined(&r),
        vec![(0, "u_ex261122.log".into(), 9, "403.7".into())]
    );
    let r = with_log("dec-tls13-empty-cert-403.pcap", false);
    assert_eq!(
        joined(&r),
        vec![(0, "u_ex261122_x.log".into(), 7, "403.7".into())]
    );
    let l = &r.connections[0].iis_log[0];
    assert_eq!((l.time_taken_ms, l.client_port), (Some(7), None));
    // TLS 1.3 without keys: the record sizes tell the empty client Certificate and the CA list
    // (issue #17), the log gives the 403: the same findings as the decrypted capture.
    assert_eq!(
        codes(&r),
        vec![
            ("ca-list-over-limit".into(), "error".into()),
            ("client-cert-empty".into(), "error".into()),
            ("http-403-client-cert".into(), "error".into())
        ]
    );
}

#[test]
fn iis_log_on_visible_http_adds_substatus_and_win32_name() {
    let r = with_log("http-401-403.pcap", false);
    assert_eq!(
        joined(&r),
        vec![
            (0, "u_ex261122.log".into(), 10, "401.2".into()),
            (0, "u_ex261122.log".into(), 11, "200".into()),
            (0, "u_ex261122.log".into(), 12, "403.16".into()),
        ]
    );
    let c = &r.connections[0];
    assert_eq!(c.iis_log[2].win32_status, 2148204809);
    assert_eq!(c.iis_log[2].win32_name, Some("CERT_E_UNTRUSTEDROOT"));
    assert_eq!(c.iis_log[0].win32_name, Some("ERROR_ACCESS_DENIED"));
    // The visible exchanges keep their frames and take the logged sub-status.
    let got: Vec<(Option<u64>, Option<&str>, Option<&str>)> = c
        .http
        .iter()
        .map(|x| (x.response_frame, x.substatus.as_deref(), x.substatus_source))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(6), Some("401.2"), Some("iis-log")),
            (Some(9), None, None),
            (Some(11), Some("403.16"), Some("iis-log"))
        ]
    );
}

#[test]
fn iis_log_with_c_port_tells_connections_apart_and_without_is_ambiguous() {
    let r = with_log("http-malformed-request.pcap", false);
    assert_eq!(
        joined(&r),
        vec![
            (0, "u_ex261201.log".into(), 5, "400".into()),
            (1, "u_ex261201.log".into(), 6, "200".into()),
        ]
    );
    let j = r.iis_log.as_ref().unwrap();
    assert_eq!(j.ambiguous.len(), 1);
    assert_eq!(j.ambiguous[0].line, 9);
    assert_eq!(j.ambiguous[0].candidates, vec![0, 1]);
    assert_eq!(j.unmatched, 19 - 2 - 1);
}

#[test]
fn iis_log_tolerance_is_what_keeps_decoys_out() {
    // With a minute of tolerance the line 16 s earlier (and the 403.16 of another client in
    // the same second does not: the client address differs) attaches too.
    let log = IisLog::read(&[captures().join("iislogs/u_ex261122.log")]).unwrap();
    let options = Options {
        iis_log: Some(Arc::new(log)),
        iis_tolerance_secs: 60,
        ..Options::default()
    };
    let r = analyze_path(&captures().join("nginx-mtls-403.pcap"), options).unwrap();
    let lines: Vec<usize> = r.connections[0].iis_log.iter().map(|l| l.line).collect();
    assert_eq!(lines, vec![5, 7]);
}

#[test]
fn iis_log_from_the_command_line() {
    let (code, out, err) = tlsdiag(&[
        captures().join("nginx-mtls-403.pcap").to_str().unwrap(),
        "--iis-log",
        captures().join("iislogs").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("IIS log: 19 line(s) in 3 file(s): 1 joined to a connection, 0 ambiguous, 18 matching no connection, 1 unreadable"), "{out}");
    assert!(
        out.contains("u_ex261122.log:7 2026-11-22 05:55:46Z GET /secure/ -> 403.7, 8 ms"),
        "{out}"
    );
    assert!(
        out.contains("frames none (from the IIS log); Wireshark filter"),
        "{out}"
    );
    assert!(
        out.contains("HTTP (IIS log) GET /secure/ -> 403 (from the IIS log) (IIS 403.7"),
        "{out}"
    );
    let (code, _, err) = tlsdiag(&[
        captures().join("nginx-mtls-403.pcap").to_str().unwrap(),
        "--iis-log",
        "/nonexistent/u_ex.log",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--iis-log"), "{err}");
}

fn tlsdiag(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn etl_trace_is_answered_with_the_conversion_command() {
    // Constructed from the documented layout (no Windows here): a WMI_BUFFER_HEADER of 0x48
    // bytes, then the SYSTEM_TRACE_HEADER of the logfile-header event (version 2, 64-bit system
    // header, marker 0xC0, hook 0x0000). The name says nothing: the content is recognised.
    let dir = std::env::temp_dir().join(format!("tlsdiag-etl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = vec![0u8; 4096];
    b[0..4].copy_from_slice(&0x10000u32.to_le_bytes());
    b[0x48..0x4e].copy_from_slice(&[2, 0, 2, 0xc0, 0, 0]);
    let path = dir.join("NetTrace.bin");
    std::fs::write(&path, &b).unwrap();
    let (code, _, err) = tlsdiag(&[path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("a Windows ETW trace (.etl"), "{err}");
    assert!(
        err.contains("pktmon etl2pcap FILE.etl --out FILE.pcapng"),
        "{err}"
    );
    assert!(!err.contains("not a pcap or pcapng capture"), "{err}");
    // Any other bytes named .etl get the same answer instead of "not a pcap".
    let named = dir.join("trace.ETL");
    std::fs::write(&named, b"garbage that is no capture").unwrap();
    let (_, _, err) = tlsdiag(&[named.to_str().unwrap()]);
    assert!(err.contains("etl2pcapng"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn with_events(capture: &str, export: &str) -> FileReport {
    let log =
        tlsdiag::schannel::SchannelLog::read(&[captures().join("schannel").join(export)]).unwrap();
    let options = Options {
        schannel: Some(Arc::new(log)),
        ..Options::default()
    };
    analyze_path(&captures().join(capture), options).unwrap()
}

/// (stream, event id, alert) of every joined event.
fn events(r: &FileReport) -> Vec<(u64, u32, Option<u8>)> {
    r.connections
        .iter()
        .flat_map(|c| {
            c.schannel_events
                .iter()
                .map(move |e| (c.stream, e.id, e.alert))
        })
        .collect()
}

#[test]
fn schannel_alert_events_join_the_connection_with_that_alert() {
    for export in ["system-schannel.xml", "system-schannel.csv"] {
        let r = with_events("tls12-client-cert-empty-required.pcap", export);
        assert_eq!(events(&r), vec![(0, 36888, Some(40))], "{export}");
        let e = &r.connections[0].schannel_events[0];
        assert_eq!(e.error_state, Some(1205));
        assert_eq!(e.computer.as_deref(), Some("WEB01.contoso.test"));
        // The finding on the alert's frame (9) says it; the others do not.
        for f in &r.connections[0].findings {
            assert_eq!(
                f.explanation.contains("Schannel event 36888"),
                f.frames.contains(&9),
                "{export} {}",
                f.code
            );
        }
        let j = r.schannel.as_ref().unwrap();
        assert_eq!((j.joined, j.skipped), (1, 0), "{export}");
        assert!(j.ambiguous.is_empty());
    }
    let j = with_events(
        "tls12-client-cert-empty-required.pcap",
        "system-schannel.xml",
    )
    .schannel
    .unwrap();
    assert_eq!((j.events, j.unmatched), (7, 6));
    for (capture, alert) in [
        ("tls12-client-cert-expired.pcap", 45),
        ("tls12-client-cert-unlisted-ca.pcap", 48),
    ] {
        let r = with_events(capture, "system-schannel.xml");
        assert_eq!(events(&r), vec![(0, 36888, Some(alert))], "{capture}");
        // The CSV holds no such event: nothing joins.
        let r = with_events(capture, "system-schannel.csv");
        assert_eq!(events(&r), vec![], "{capture}");
    }
}

#[test]
fn schannel_36885_confirms_the_ca_list_over_limit() {
    for export in ["system-schannel.xml", "system-schannel.csv"] {
        let r = with_events("tls12-ca-list-17k.pcap", export);
        assert_eq!(events(&r), vec![(0, 36885, None)], "{export}");
        let f = r.connections[0]
            .findings
            .iter()
            .find(|f| f.code == "ca-list-over-limit")
            .unwrap();
        assert!(f.explanation.ends_with(
            "\nSchannel event 36885 at 2026-11-22 05:55:22Z on WEB01.contoso.test confirms it: the server truncated its list of trusted issuers."
        ));
        // The file's verdict carries the confirmed explanation.
        let d = r
            .summary
            .diagnosis
            .values()
            .find(|d| d.code == "ca-list-over-limit")
            .unwrap();
        assert!(d.examples[0].explanation.contains("Schannel event 36885"));
    }
    // A capture whose CA list is small takes no 36885.
    let r = with_events("tls12-cr-small.pcap", "system-schannel.xml");
    assert_eq!(events(&r), vec![]);
}

#[test]
fn schannel_bad_exports_are_clear_errors() {
    let (code, _, err) = tlsdiag(&[
        captures().join("tls12-ca-list-17k.pcap").to_str().unwrap(),
        "--schannel-events",
        captures().join("iislogs/README.md").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--schannel-events") && err.contains("not an event export"),
        "{err}"
    );
    let (code, out, _) = tlsdiag(&[
        captures().join("tls12-ca-list-17k.pcap").to_str().unwrap(),
        "--schannel-events",
        captures()
            .join("schannel/system-schannel.xml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Schannel events: 7 in 1 file(s): 1 joined to a connection"),
        "{out}"
    );
}

#[test]
fn a_huge_tolerance_is_no_overflow() {
    // Found by review after the fuzz run: the joins widened each connection's time span by
    // the tolerance with plain arithmetic (a panic in debug builds).
    let (code, out, err) = tlsdiag(&[
        captures().join("tls12-ca-list-17k.pcap").to_str().unwrap(),
        "--schannel-events",
        captures()
            .join("schannel/system-schannel.xml")
            .to_str()
            .unwrap(),
        "--iis-log",
        captures().join("iislogs").to_str().unwrap(),
        "--iis-log-tolerance",
        "9223372036854775807",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Schannel events: 7 in 1 file(s)"), "{out}");
}

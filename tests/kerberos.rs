//! Kerberos on the real MIT Kerberos + Apache mod_auth_gssapi + curl captures of
//! `captures/kerberos/`: every message decoded as tshark decodes it (`facts.tsv`), and the
//! findings each failure gives, with their frames and the SPN they name; none on success.

use std::path::{Path, PathBuf};

use tlsdiag::model::Severity;
use tlsdiag::{analyze_bytes, analyze_path, analyze_path_sharded, FileReport, Options};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/kerberos")
}

fn run(name: &str) -> FileReport {
    let keys = dir().join(format!("{}.keys", name.trim_end_matches(".pcap")));
    let options = Options {
        keylog_files: keys.exists().then_some(keys).into_iter().collect(),
        ..Options::default()
    };
    analyze_path(&dir().join(name), options).unwrap()
}

/// (stream or None for file-level, code, severity, frames) of every Kerberos finding.
type Got = (Option<u64>, String, Severity, Vec<u64>);

fn krb_findings(r: &FileReport) -> Vec<Got> {
    let mut v: Vec<Got> = r
        .connections
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.code.starts_with("krb-"))
        .map(|f| {
            (
                Some(f.stream),
                f.code.to_string(),
                f.severity,
                f.frames.clone(),
            )
        })
        .chain(
            r.kerberos
                .findings
                .iter()
                .map(|f| (None, f.code.to_string(), f.severity, f.frames.clone())),
        )
        .collect();
    v.sort();
    v
}

/// Rows of facts.tsv (written from tshark's JSON) for one capture.
fn facts(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir().join("facts.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|row| row[0] == name)
        .collect()
}

/// frame, kind, error code, sname, tcp.stream, cname, kvno.
type Row = (u64, String, String, String, Option<u64>, String, String);

const ALL: &[&str] = &[
    "krb-success.pcap",
    "krb-success-tcp.pcap",
    "krb-spn-unknown.pcap",
    "krb-stale-keytab.pcap",
    "krb-https-stale-keytab.pcap",
    "krb-wrong-principal.pcap",
    "krb-clock-skew.pcap",
    "krb-clock-skew-tgs.pcap",
    "krb-clock-skew-autocorrected.pcap",
    "krb-clock-skew-server.pcap",
    "krb-clock-skew-server-behind.pcap",
    "krb-preauth-failed.pcap",
    "krb-no-ticket.pcap",
];

#[test]
fn kdc_messages_are_decoded_as_tshark_decodes_them() {
    for name in ALL {
        let r = run(name);
        let want: Vec<Row> = facts(name)
            .iter()
            .filter(|row| row[2] == "udp" || row[2] == "tcp")
            .filter(|row| !row[4].starts_with("HTTP") && !row[4].ends_with("-in-HTTP"))
            .map(|row| {
                (
                    row[1].parse().unwrap(),
                    row[4].clone(),
                    row[5].clone(),
                    row[7].clone(),
                    (row[2] == "tcp").then(|| row[3].parse().unwrap()),
                    row[12].clone(),
                    row[13].clone(),
                )
            })
            .collect();
        let got: Vec<Row> = r
            .kerberos
            .messages
            .iter()
            .map(|m| {
                let k = &m.message;
                (
                    m.frame,
                    k.kind.to_string(),
                    k.error_code.map(|c| c.to_string()).unwrap_or_default(),
                    k.sname.clone().unwrap_or_default(),
                    m.tcp_stream,
                    // tshark shows cname on errors and AS exchanges only.
                    if k.kind == "TGS-REQ" {
                        String::new()
                    } else {
                        k.cname.clone().unwrap_or_default()
                    },
                    k.kvno.map(|v| v.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(r.kerberos.skipped, 0, "{name}");
        for m in &r.kerberos.messages {
            assert_eq!(
                m.client,
                "127.0.0.1:".to_string() + m.client.rsplit(':').next().unwrap()
            );
            assert_eq!(m.kdc, "127.0.0.88:88", "{name} frame {}", m.frame);
            assert_eq!(m.message.realm.as_deref(), Some("TLSDIAG.TEST"));
        }
    }
}

#[test]
fn krb_error_server_time_matches_tshark() {
    // The KDC's stime agrees with the capture; the skewed web server's is an hour off.
    let r = run("krb-clock-skew-server.pcap");
    let kdc = &r.kerberos.messages[1].message;
    assert_eq!((kdc.error_code, kdc.stime), (Some(25), Some(1796082194)));
    let site = r.connections[0].http[0]
        .negotiate_response
        .as_ref()
        .unwrap();
    let e = site.kerberos.as_ref().unwrap();
    // "Dec  1, 2026 00:43:14 UTC" in facts.tsv; MIT leaves ctime out.
    assert_eq!(
        (e.error_code, e.stime, e.ctime),
        (Some(37), Some(1796085794), None)
    );
}

#[test]
fn negotiate_tokens_are_decoded_as_tshark_decodes_them() {
    for name in ALL {
        let r = run(name);
        let rows = facts(name);
        for c in &r.connections {
            for x in &c.http {
                let req = x.request_frame.unwrap();
                let resp = x.response_frame.unwrap();
                let ap = rows
                    .iter()
                    .find(|row| row[4] == "AP-REQ-in-HTTP" && row[1] == req.to_string());
                let got = x
                    .negotiate_request
                    .as_ref()
                    .and_then(|t| t.kerberos.as_ref());
                match ap {
                    Some(row) => {
                        let m = got.unwrap_or_else(|| panic!("{name} {req}: no AP-REQ"));
                        assert_eq!(m.kind, "AP-REQ");
                        assert_eq!(m.sname.as_deref(), Some(row[7].as_str()));
                        assert_eq!(
                            m.kvno.map(|k| k.to_string()).as_deref(),
                            Some(row[13].as_str())
                        );
                    }
                    None => assert!(got.is_none(), "{name} {req}"),
                }
                let answer = rows.iter().find(|row| {
                    row[1] == resp.to_string()
                        && (row[4] == "KRB-ERROR-in-HTTP" || row[4] == "AP-REP-in-HTTP")
                });
                let got = x.negotiate_response.as_ref();
                match answer {
                    Some(row) => {
                        let t = got.unwrap();
                        let neg = match row[16].as_str() {
                            "0" => "accept-completed",
                            "2" => "reject",
                            other => panic!("negResult {other}"),
                        };
                        assert_eq!(t.neg_result, Some(neg), "{name} {resp}");
                        let m = t.kerberos.as_ref().unwrap();
                        if row[4] == "AP-REP-in-HTTP" {
                            assert_eq!(m.kind, "AP-REP");
                        } else {
                            assert_eq!(m.kind, "KRB-ERROR");
                            assert_eq!(m.error_code.unwrap().to_string(), row[5]);
                            assert_eq!(m.sname.as_deref(), Some(row[7].as_str()));
                        }
                    }
                    None => assert!(got.is_none(), "{name} {resp}"),
                }
            }
        }
    }
}

#[test]
fn success_and_normal_preauth_give_no_kerberos_finding() {
    for name in [
        "krb-success.pcap",
        "krb-success-tcp.pcap",
        "krb-clock-skew-autocorrected.pcap",
    ] {
        let r = run(name);
        // Every capture starts with KDC_ERR_PREAUTH_REQUIRED (25): the normal first answer.
        assert!(r
            .kerberos
            .messages
            .iter()
            .any(|m| m.message.error_code == Some(25)));
        assert_eq!(krb_findings(&r), vec![], "{name}");
        assert!(r.summary.by_severity.is_empty(), "{name}: {:?}", r.summary);
    }
    // No Kerberos at all: the bare 401 stays a plain http-401.
    let r = run("krb-no-ticket.pcap");
    assert!(r.kerberos.messages.is_empty());
    assert_eq!(krb_findings(&r), vec![]);
    assert_eq!(r.summary.by_code.get("http-401"), Some(&1));
}

fn one(name: &str) -> (Got, String, String) {
    let r = run(name);
    let got = krb_findings(&r);
    assert_eq!(got.len(), 1, "{name}: {got:?}");
    let f = r
        .connections
        .iter()
        .flat_map(|c| &c.findings)
        .chain(&r.kerberos.findings)
        .find(|f| f.code.starts_with("krb-"))
        .unwrap();
    // The 401 it explains points to it.
    for c in &r.connections {
        for h in c.findings.iter().filter(|h| h.code == "http-401") {
            assert!(
                h.explanation
                    .contains(&format!("Kerberos says why: {}", f.code)),
                "{name}"
            );
        }
    }
    (got[0].clone(), f.title.clone(), f.explanation.clone())
}

#[test]
fn spn_unknown_is_tied_to_the_401() {
    let (got, title, why) = one("krb-spn-unknown.pcap");
    // The four KRB-ERROR 7 (two before the request, two after the 401) and the request/401.
    assert_eq!(
        got,
        (
            Some(2),
            "krb-spn-unknown".into(),
            Severity::Error,
            vec![30, 40, 45, 47, 54, 64]
        )
    );
    assert_eq!(
        title,
        "No account holds the SPN HTTP/www.tlsdiag.test in TLSDIAG.TEST"
    );
    assert!(why.contains("KDC_ERR_S_PRINCIPAL_UNKNOWN (7)"));
    assert!(why.contains("setspn -Q HTTP/www.tlsdiag.test"));
    assert!(why.contains("without a Kerberos token"));
}

#[test]
fn stale_keytab_and_wrong_principal_are_rejected_tickets() {
    for (name, stream, frames, code, name_of) in [
        (
            "krb-stale-keytab.pcap",
            0,
            vec![9, 10, 12],
            44,
            "KRB_AP_ERR_BADKEYVER",
        ),
        // Behind HTTPS: found once the key log decrypts the HTTP.
        (
            "krb-https-stale-keytab.pcap",
            0,
            vec![16, 17, 18],
            44,
            "KRB_AP_ERR_BADKEYVER",
        ),
        (
            "krb-wrong-principal.pcap",
            0,
            vec![9, 10, 12],
            35,
            "KRB_AP_ERR_NOT_US",
        ),
    ] {
        let (got, title, why) = one(name);
        assert_eq!(
            got,
            (
                Some(stream),
                "krb-ticket-rejected".into(),
                Severity::Error,
                frames
            ),
            "{name}"
        );
        assert_eq!(
            title,
            format!("The site rejected the Kerberos ticket for HTTP/www.tlsdiag.test: {name_of} ({code})")
        );
        assert!(why.contains("key version 3"), "{name}: {why}");
        assert!(why.contains("TGS-REP in frame"), "{name}");
    }
}

#[test]
fn https_without_keys_shows_only_the_kdc_exchange() {
    let r = analyze_path(
        &dir().join("krb-https-stale-keytab.pcap"),
        Options::default(),
    )
    .unwrap();
    assert_eq!(krb_findings(&r), vec![]);
    assert_eq!(r.kerberos.messages.len(), 6);
}

#[test]
fn clock_skew_names_whose_clock_is_off() {
    // Client ahead: the KDC refuses the AS exchange; its own clock agrees with the capture.
    let (got, title, why) = one("krb-clock-skew.pcap");
    assert_eq!(
        got,
        (
            Some(2),
            "krb-clock-skew".into(),
            Severity::Error,
            vec![16, 24, 26]
        )
    );
    assert_eq!(
        title,
        "The KDC refused the logon because of clock skew: KRB_AP_ERR_SKEW (37)"
    );
    assert!(
        why.contains("The KDC's clock reads 2026-11-30 23:43:09Z and agrees with the capture's")
    );
    // Client ahead on the TGS exchange only.
    let (got, title, _) = one("krb-clock-skew-tgs.pcap");
    assert_eq!(
        got,
        (
            Some(2),
            "krb-clock-skew".into(),
            Severity::Error,
            vec![30, 41, 46, 48, 55, 65]
        )
    );
    assert!(title.contains("a ticket to HTTP/www.tlsdiag.test"));
    // Web server an hour ahead (37) and an hour behind (33, ticket not yet valid).
    let (got, _, why) = one("krb-clock-skew-server.pcap");
    assert_eq!(
        got,
        (
            Some(0),
            "krb-clock-skew".into(),
            Severity::Error,
            vec![9, 10, 12]
        )
    );
    assert!(why.contains("web server's clock reads 2026-12-01 00:43:14Z while the capture's reads 2026-11-30 23:43:14Z: the web server's clock is ahead by 3600 s"), "{why}");
    let (got, _, why) = one("krb-clock-skew-server-behind.pcap");
    assert_eq!(
        got,
        (
            Some(0),
            "krb-clock-skew".into(),
            Severity::Error,
            vec![9, 10, 12]
        )
    );
    assert!(why.contains("KRB_AP_ERR_TKT_NYV (33)"));
    assert!(why.contains("behind by 3600 s"), "{why}");
}

#[test]
fn preauth_failed_without_http_is_said_once_per_file() {
    let (got, title, why) = one("krb-preauth-failed.pcap");
    assert_eq!(
        got,
        (None, "krb-preauth-failed".into(), Severity::Error, vec![4])
    );
    assert_eq!(
        title,
        "The KDC refused the logon of alice@TLSDIAG.TEST: KDC_ERR_PREAUTH_FAILED (24)"
    );
    assert!(why.contains("the password is wrong"));
    let r = run("krb-preauth-failed.pcap");
    assert_eq!(r.summary.by_code.get("krb-preauth-failed"), Some(&1));
    assert_eq!(r.summary.by_severity.get("error"), Some(&1));
}

#[test]
fn sharded_analysis_gives_the_same_kerberos_findings() {
    for name in ALL {
        let path = dir().join(name);
        let keys = dir().join(format!("{}.keys", name.trim_end_matches(".pcap")));
        let options = Options {
            keylog_files: keys.exists().then_some(keys).into_iter().collect(),
            ..Options::default()
        };
        let one = analyze_path(&path, options.clone()).unwrap();
        let many = analyze_path_sharded(&path, options, 3).unwrap();
        assert_eq!(krb_findings(&one), krb_findings(&many), "{name}");
        assert_eq!(one.summary.by_code, many.summary.by_code, "{name}");
        assert_eq!(one.kerberos.messages.len(), many.kerberos.messages.len());
    }
}

#[test]
fn garbage_on_port_88_is_counted_not_fatal() {
    let mut bytes = std::fs::read(dir().join("krb-success.pcap")).unwrap();
    // pcap header (24) + record header (16) + Ethernet (14) + IPv4 (20) + UDP (8): frame 1's
    // AS-REQ starts here.
    assert_eq!(bytes[82], 0x6a);
    bytes[82] = 0x30;
    let r = analyze_bytes("garbage", bytes.clone(), Options::default()).unwrap();
    assert_eq!(r.kerberos.skipped, 1);
    assert_eq!(r.kerberos.messages.len(), 5);
    // A hostile length inside the message is refused by the decoder, not followed.
    bytes[82] = 0x6a;
    bytes[83] = 0x84;
    let r = analyze_bytes("garbage", bytes, Options::default()).unwrap();
    assert_eq!(r.kerberos.skipped, 1);
    assert_eq!(krb_findings(&r), vec![]);
}

/// A legacy pcap without the given frames (1-based).
fn without_frames(raw: &[u8], drop: &[usize]) -> Vec<u8> {
    let mut out = raw[..24].to_vec();
    let (mut at, mut frame) = (24, 1);
    while at + 16 <= raw.len() {
        let len = u32::from_le_bytes(raw[at + 8..at + 12].try_into().unwrap()) as usize;
        if !drop.contains(&frame) {
            out.extend_from_slice(&raw[at..at + 16 + len]);
        }
        at += 16 + len;
        frame += 1;
    }
    out
}

#[test]
fn spn_unknown_without_the_http_is_a_warning_said_once_per_file() {
    // The GET (45) and its 401 (47) cut out of the capture: the KDC errors explain nothing seen.
    // Frames after them move up by two (54 and 64 become 52 and 62).
    let raw = std::fs::read(dir().join("krb-spn-unknown.pcap")).unwrap();
    let r = analyze_bytes("cut", without_frames(&raw, &[45, 47]), Options::default()).unwrap();
    assert_eq!(r.http_connections, 0);
    assert_eq!(
        krb_findings(&r),
        vec![(
            None,
            "krb-spn-unknown".into(),
            Severity::Warning,
            vec![30, 40, 52, 62]
        )]
    );
    let f = &r.kerberos.findings[0];
    assert!(f.explanation.contains("4 times, frames 30, 40, 52, 62"));
    assert_eq!(f.stream, 3);
    assert_eq!(r.summary.by_severity.get("warning"), Some(&1));
}

#[allow(dead_code)]
mod common;

#[test]
fn a_real_ticket_refused_again_and_again_is_a_rejected_ticket() {
    // The real AP-REQ token curl sent in krb-success.pcap, replayed to a server that answers
    // a bare 401 each time (the IIS behaviour for a ticket it cannot decrypt): no KRB-ERROR
    // says why, the loop does.
    let raw = std::fs::read(dir().join("krb-success.pcap")).unwrap();
    let marker = b"Authorization: Negotiate ";
    let start = raw.windows(marker.len()).position(|w| w == marker).unwrap() + marker.len();
    let end = start + raw[start..].iter().position(|&b| b == b'\r').unwrap();
    let token = std::str::from_utf8(&raw[start..end]).unwrap();
    assert!(token.starts_with("YII"));
    let get = format!(
        "GET /app HTTP/1.1\r\nHost: www.tlsdiag.test\r\nAuthorization: Negotiate {token}\r\n\r\n"
    );
    let deny = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
    let pieces: Vec<(bool, &[u8])> = (0..3)
        .flat_map(|_| [(true, get.as_bytes()), (false, &deny[..])])
        .collect();
    let r = analyze_bytes("loop", common::synthetic_tcp(&pieces), Options::default()).unwrap();
    let c = &r.connections[0];
    let mut got: Vec<(&str, Severity)> = c.findings.iter().map(|f| (f.code, f.severity)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("http-auth-loop", Severity::Warning),
            ("krb-ticket-rejected", Severity::Error),
        ]
    );
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "krb-ticket-rejected")
        .unwrap();
    assert_eq!(
        f.title,
        "The site refused the Kerberos ticket for HTTP/www.tlsdiag.test without saying why"
    );
    assert!(f.explanation.contains("(key version 2)"));
    // Requests in frames 3, 5, 7 and refusals in 4, 6, 8 (after a two-packet handshake).
    assert_eq!(f.frames, vec![3, 4, 5, 6, 7, 8]);
    // The loop finding points to it.
    let l = c
        .findings
        .iter()
        .find(|f| f.code == "http-auth-loop")
        .unwrap();
    assert!(l
        .explanation
        .ends_with("Kerberos says why: krb-ticket-rejected."));
}

/// The records of a little-endian microsecond Ethernet/IPv4 pcap: (header, data).
fn records(raw: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= raw.len() {
        let len = u32::from_le_bytes(raw[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((
            raw[at..at + 16].to_vec(),
            raw[at + 16..at + 16 + len].to_vec(),
        ));
        at += 16 + len;
    }
    out
}

fn tcp_ports(data: &[u8]) -> Option<(u16, u16)> {
    if data.len() < 34 || data[23] != 6 {
        return None;
    }
    let l4 = 14 + (data[14] & 0x0f) as usize * 4;
    Some((
        u16::from_be_bytes([data[l4], data[l4 + 1]]),
        u16::from_be_bytes([data[l4 + 2], data[l4 + 3]]),
    ))
}

#[test]
fn spn_unknown_then_ntlm_that_gets_through_is_a_warning() {
    // The real KDC conversations of krb-spn-unknown.pcap (four KRB-ERROR 7), their client moved
    // to 10.0.0.1, followed by a synthetic HTTP connection of that client in the same second:
    // Negotiate with NTLM inside, the challenge 401, then 200. Kerberos failed, the site
    // still answered: a warning, not an error.
    let raw = std::fs::read(dir().join("krb-spn-unknown.pcap")).unwrap();
    let mut out = raw[..24].to_vec();
    let mut kept = 0;
    let mut second = [0u8; 4];
    for (head, mut data) in records(&raw) {
        if tcp_ports(&data).is_some_and(|(a, b)| a == 80 || b == 80) {
            continue;
        }
        second.copy_from_slice(&head[0..4]);
        for at in [26, 30] {
            if data[at..at + 4] == [127, 0, 0, 1] {
                data[at..at + 4].copy_from_slice(&[10, 0, 0, 1]);
            }
        }
        out.extend_from_slice(&head);
        out.extend_from_slice(&data);
        kept += 1;
    }
    let ntlm1 = b"GET /app HTTP/1.1\r\nHost: www.tlsdiag.test\r\nAuthorization: Negotiate TlRMTVNTUAABAAAAB4IIog==\r\n\r\n";
    let challenge = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate TlRMTVNTUAACAAAAAAAAAAAAAAA=\r\nContent-Length: 0\r\n\r\n";
    let ntlm3 = b"GET /app HTTP/1.1\r\nHost: www.tlsdiag.test\r\nAuthorization: Negotiate TlRMTVNTUAADAAAAAAAAAAAAAAA=\r\n\r\n";
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let pieces: Vec<(bool, &[u8])> = vec![
        (true, ntlm1),
        (false, challenge),
        (true, ntlm3),
        (false, ok),
    ];
    for (mut head, data) in records(&common::synthetic_tcp(&pieces)) {
        head[0..4].copy_from_slice(&second);
        out.extend_from_slice(&head);
        out.extend_from_slice(&data);
    }
    let r = analyze_bytes("ntlm", out, Options::default()).unwrap();
    assert_eq!(r.connections.len(), 1);
    let c = &r.connections[0];
    assert_eq!(c.client, "10.0.0.1:50000");
    let errors: Vec<u64> = r
        .kerberos
        .messages
        .iter()
        .filter(|m| m.message.error_code == Some(7))
        .map(|m| m.frame)
        .collect();
    assert_eq!(errors.len(), 4);
    let first_http = kept as u64 + 1;
    // After the two-packet handshake: requests and answers in the next four frames.
    let mut frames = errors.clone();
    frames.extend([first_http + 2, first_http + 3]);
    assert_eq!(
        krb_findings(&r),
        vec![(
            Some(c.stream),
            "krb-spn-unknown".into(),
            Severity::Warning,
            frames
        )]
    );
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "krb-spn-unknown")
        .unwrap();
    assert!(f.explanation.contains("after the client fell back to NTLM"));
    assert!(f.explanation.contains("A later request got past the 401"));
    // The NTLM tokens are not taken for Kerberos.
    assert!(c.http.iter().all(|x| x.negotiate_request.is_none()));
}

#[test]
fn json_lines_carry_the_file_level_kerberos_finding() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
        .args(["-f", "jsonl"])
        .arg(dir().join("krb-preauth-failed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let findings: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "finding")
        .collect();
    assert_eq!(findings.len(), 1, "{text}");
    assert_eq!(findings[0]["code"], "krb-preauth-failed");
    assert_eq!(findings[0]["frames"], serde_json::json!([4]));
}

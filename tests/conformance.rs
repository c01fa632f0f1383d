//! Conformance with tshark over the public captures in `../shared/captures-public/dev/` and over
//! our own captures in `captures/` and `captures/messy/`: for every capture and TCP stream, the
//! handshake messages (type, frame, direction), CertificateRequest CA lists (byte size and every
//! name), certificate chains (subject, issuer, DER size) and empty client Certificates must equal
//! tshark's ground truth (`truth/*.json`, made by `shared/tools/tshark_truth.py` with tshark
//! 4.0.17).
//!
//! Where we differ from tshark on purpose, the case is listed in `KNOWN_DIFFERENCES` with the
//! reason; a listed case that starts to agree fails too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tlsdiag::tls::Detail;

/// (capture path relative to its corpus, substring of the difference, why we are right).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "Lekensteyn+wireshark-notes/all/dump.pcapng",
        "with key log: http codes: tshark {}",
        "the decrypted HTTP runs on port 4433, which tshark does not dissect as HTTP; we \
         recognise HTTP by its content on any port",
    ),
    (
        "Lekensteyn+wireshark-notes/ssl3/dump.pcapng",
        "with key log: http codes",
        "SSLv3 is not decrypted (see above), so the HTTP inside stays hidden",
    ),
    (
        "Lekensteyn+wireshark-notes/tls/works/dump.pcapng",
        "with key log: http codes",
        "one connection uses a 40-bit export suite, which is not decrypted",
    ),
    (
        "cisco+mercury/unit_tests/pcaps/http_auth.pcap",
        "http codes: tshark {\"401\": 1}, we {\"200\": 1, \"401\": 1}",
        "the 200 response's body is longer than what the capture holds: tshark waits for the \
         rest and never shows the response; we report it from its head",
    ),
    (
        "secdev+scapy/doc/notebooks/tls/raw_data/tls_nss_example.pcap",
        "with key log: http codes: tshark {}",
        "the decrypted responses are HTTP/1.0 read until close; tshark leaves them as 'TLS \
         segment of a reassembled PDU' and does not count them",
    ),
    (
        "zeek+zeek/testing/btest/Traces/erspan.pcap",
        "http codes: tshark {\"200\": 6, \"302\": 1, \"401\": 1}",
        "the truth script counts 8 responses in this ERSPAN capture while `tshark -Y \
         http.response` shows 14; we report 17: the 3 more are responses whose bodies the \
         capture lost, which tshark shows only once a body is complete",
    ),
    (
        "Lekensteyn+wireshark-notes/all/dump.pcapng",
        "client finished ",
        "with the key log tshark decrypts every OpenSSL suite; we decrypt AES, ChaCha20, Camellia, \
         3DES, DES and RC4 but not SEED, IDEA and the 40-bit export suites, so the Finished of \
         those connections stays encrypted",
    ),
    (
        "Lekensteyn+wireshark-notes/all/dump.pcapng",
        "server finished ",
        "same as above (SEED, IDEA and export suites are not decrypted)",
    ),
    (
        "Lekensteyn+wireshark-notes/ssl3/dump.pcapng",
        "finished ",
        "SSLv3 decryption is not implemented (its key derivation and MAC differ from TLS); the \
         issue asks for TLS 1.0 to 1.3",
    ),
    (
        "Lekensteyn+wireshark-notes/tls/works/dump.pcapng",
        "finished ",
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5: 40-bit export keys are not derived",
    ),
    (
        "OISF+suricata-verify/tests/bug-1450-04/tls_DER-incomplete-header.pcap",
        "certificates_length=12 chain=[",
        "the certificate entry is 9 bytes (tshark's own tree says Certificate Length: 9); tshark's \
         certificate field holds only the 7 bytes its X.509 dissector read before the DER broke",
    ),
    (
        "ntop+nDPI/tests/cfgs/default/pcap/anydesk.pcapng",
        "stream 1: we have",
        "AnyDesk runs TLS on TCP port 80; tshark dissects port 80 as HTTP and shows no TLS there \
         without `-d tcp.port==80,tls`, we detect TLS by content on any port",
    ),
    (
        "zeek+zeek/testing/btest/Traces/tls/tls-fragmented-handshake.pcap.gz",
        "we have frame 410 server certificate certificates_length=339626",
        "a 339,626-byte Certificate: tshark assumes plaintext handshake messages are below 64 KiB \
         (is_encrypted_handshake_message in packet-tls.c) and labels it encrypted",
    ),
    (
        "gap-then-message.pcap",
        "stream 0: we have frame",
        "the truth is made with tcp.reassemble_out_of_order, under which tshark 4.0 drops every \
         server record after a capture gap; with its default preferences tshark shows \
         ServerKeyExchange in 11 and CertificateRequest + ServerHelloDone in 13, as we do \
         (captures/messy/facts.tsv)",
    ),
    (
        "gap-record-aligned.pcap",
        "stream 0: we have frame",
        "as gap-then-message.pcap: tshark's default preferences show ServerKeyExchange in 9 and \
         CertificateRequest + ServerHelloDone in 11, as we do; out-of-order reassembly loses them",
    ),
    (
        "syn-same-isn-after-close.pcap",
        "stream 1: ",
        "a SYN with the first connection's ISN 2 s after a complete FIN/FIN close is a new \
         connection (the client's sequence space had moved past that SYN); tshark 4.0 takes it \
         for a retransmission, merges it into stream 0 and loses its TLS 1.3 handshake, so its \
         stream 1 is our stream 2 (tcp::syn_verdict)",
    ),
    (
        "syn-same-isn-after-close.pcap",
        "stream 2: we have",
        "the third connection: tshark's stream 1, see above",
    ),
    (
        "syn-same-isn-after-close.pcap",
        "http codes: tshark {\"200\": 2}, we {\"200\": 3}",
        "the second connection's HTTP 200, lost by tshark with its handshake (see above)",
    ),
    (
        "openvpn-tcp.pcap",
        "stream 0: we have frame 12 server",
        "the CertificateRequest record is split across two P_CONTROL packets (10 and 12); \
         tshark's OpenVPN dissector does not reassemble TLS records across them and never shows \
         CertificateRequest and ServerHelloDone, we take the TLS bytes out of the packets in \
         message-id order and do",
    ),
    (
        "openvpn-tcp-tlsauth.pcap",
        "stream 0: we have frame 11 server",
        "as openvpn-tcp.pcap, with tls-auth: CertificateRequest and ServerHelloDone in 11",
    ),
    (
        "openvpn-tcp-clientcert-rejected.pcap",
        "stream 0: we have frame 11 server",
        "as openvpn-tcp.pcap: CertificateRequest and ServerHelloDone in 11",
    ),
    (
        "openvpn-udp.pcap",
        "stream 0: we have frame",
        "OpenVPN over UDP: the truth script reads TLS over TCP only (it counts 0 TLS \
         connections); tshark with `-d udp.port==1194,openvpn` shows ClientHello 3, \
         ServerHello..ServerKeyExchange 4 and the client's flight 7 in udp.stream 0, as we do, \
         and, as over TCP, not the CertificateRequest + ServerHelloDone we read in 5",
    ),
    (
        "openvpn-udp-tlsauth.pcap",
        "stream 0: we have frame",
        "as openvpn-udp.pcap, with tls-auth: CertificateRequest + ServerHelloDone in 6",
    ),
];

/// One handshake message reduced to what both sides must agree on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Msg {
    frame: u64,
    name: String,
    from: String,
    facts: String,
}

/// Removes RFC 4514 escapes so our names compare with the truth's unescaped rendering.
fn unescape(dn: &str) -> String {
    let mut out = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn truth_messages(truth: &Value, section: &str) -> BTreeMap<u64, Vec<Msg>> {
    let mut per_stream: BTreeMap<u64, Vec<Msg>> = BTreeMap::new();
    let Some(list) = truth[section]["handshake_messages"].as_array() else {
        return per_stream;
    };
    for m in list {
        let stream = m["stream"].as_u64().unwrap();
        let name = m["name"].as_str().unwrap().to_string();
        let from = match m["from"].as_str().unwrap_or("") {
            "server?" => "server".to_string(),
            f => f.to_string(),
        };
        let mut facts = String::new();
        if name == "certificate_request" {
            let names: Vec<String> = m["ca_names"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|n| format!("{}:{}", n["len"], n["dn"].as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            facts = format!(
                "dnames_len={} names=[{}]",
                m["dnames_len"],
                names.join(" | ")
            );
        }
        if name == "certificate" {
            let chain: Vec<String> = m["chain"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| {
                            format!(
                                "{}:{} <- {}",
                                c["der_len"],
                                c["subject"].as_str().unwrap_or("?"),
                                c["issuer"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            facts = format!(
                "certificates_length={} chain=[{}]",
                m["certificates_length"],
                chain.join(" | ")
            );
        }
        per_stream.entry(stream).or_default().push(Msg {
            frame: m["frame"].as_u64().unwrap(),
            name,
            from,
            facts,
        });
    }
    per_stream
}

fn our_messages(report: &tlsdiag::FileReport) -> BTreeMap<u64, Vec<Msg>> {
    let mut per_stream: BTreeMap<u64, Vec<Msg>> = BTreeMap::new();
    for c in &report.connections {
        for m in &c.messages {
            let mut facts = String::new();
            match &m.detail {
                Some(Detail::CertificateRequest(cr)) => {
                    let names: Vec<String> = cr
                        .ca_names
                        .iter()
                        .map(|n| format!("{}:{}", n.der_len, unescape(&n.dn)))
                        .collect();
                    facts = format!(
                        "dnames_len={} names=[{}]",
                        cr.ca_list_bytes,
                        names.join(" | ")
                    );
                }
                Some(Detail::Certificate(cert)) => {
                    let chain: Vec<String> = cert
                        .certificates
                        .iter()
                        .map(|ci| {
                            format!(
                                "{}:{} <- {}",
                                ci.der_len,
                                if ci.parse_error.is_some() {
                                    "?".into()
                                } else {
                                    unescape(&ci.subject)
                                },
                                if ci.parse_error.is_some() {
                                    "?".into()
                                } else {
                                    unescape(&ci.issuer)
                                }
                            )
                        })
                        .collect();
                    facts = format!(
                        "certificates_length={} chain=[{}]",
                        cert.certificates_length,
                        chain.join(" | ")
                    );
                }
                _ => {}
            }
            let from = match m.direction {
                tlsdiag::tls::Direction::Client => "client",
                tlsdiag::tls::Direction::Server => "server",
                tlsdiag::tls::Direction::Unknown => "unknown",
            };
            per_stream.entry(c.stream).or_default().push(Msg {
                frame: m.frame,
                name: m.kind.to_string(),
                from: from.to_string(),
                facts,
            });
        }
    }
    per_stream
}

/// Compares one capture, without or with its key log; returns the differences as lines.
fn compare(capture: &Path, truth: &Value, keylog: Option<PathBuf>) -> Vec<String> {
    let section = if keylog.is_some() {
        "with_keylog"
    } else {
        "without_keylog"
    };
    let options = tlsdiag::Options {
        keylog_files: keylog.into_iter().collect(),
        ..tlsdiag::Options::default()
    };
    let report = match tlsdiag::analyze_path(capture, options) {
        Ok(r) => r,
        Err(e) => {
            // tshark could not read it either when it reports no packets.
            if truth["format"]["capinfos"]["packets"].is_null() {
                return Vec::new();
            }
            return vec![format!("cannot read: {e}")];
        }
    };
    let ours = our_messages(&report);
    let theirs = truth_messages(truth, section);
    let mut diffs = Vec::new();
    // HTTP response codes (HTTP/1.x and HTTP/2 :status), counted over the file.
    let mut our_codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut our_h2: BTreeMap<String, u64> = BTreeMap::new();
    for c in &report.connections {
        for x in c.http.iter().filter_map(|x| x.status) {
            *our_codes.entry(x.to_string()).or_default() += 1;
        }
        for h in &c.http2_status {
            *our_h2.entry(h.status.to_string()).or_default() += 1;
        }
    }
    let counts = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let their_codes = counts(&truth[section]["summary"]["http_response_codes"]);
    let their_h2 = counts(&truth[section]["summary"]["http2_status"]);
    if our_codes != their_codes {
        diffs.push(format!(
            "http codes: tshark {their_codes:?}, we {our_codes:?}"
        ));
    }
    if our_h2 != their_h2 {
        diffs.push(format!("http2 status: tshark {their_h2:?}, we {our_h2:?}"));
    }
    // WWW-Authenticate schemes offered (tshark counts each header).
    let mut our_www: BTreeMap<String, u64> = BTreeMap::new();
    for c in &report.connections {
        for x in &c.http {
            for scheme in &x.www_authenticate {
                *our_www.entry(scheme.clone()).or_default() += 1;
            }
        }
    }
    let their_www = counts(&truth[section]["summary"]["www_authenticate_schemes"]);
    if our_www != their_www {
        diffs.push(format!(
            "www-authenticate: tshark {their_www:?}, we {our_www:?}"
        ));
    }
    let streams: BTreeSet<u64> = ours.keys().chain(theirs.keys()).copied().collect();
    for s in streams {
        let mut a = ours.get(&s).cloned().unwrap_or_default();
        let mut b = theirs.get(&s).cloned().unwrap_or_default();
        a.sort();
        b.sort();
        if a == b {
            continue;
        }
        for m in b.iter().filter(|m| !a.contains(m)) {
            diffs.push(format!(
                "stream {s}: tshark has frame {} {} {} {}",
                m.frame, m.from, m.name, m.facts
            ));
        }
        for m in a.iter().filter(|m| !b.contains(m)) {
            diffs.push(format!(
                "stream {s}: we have frame {} {} {} {}",
                m.frame, m.from, m.name, m.facts
            ));
        }
    }
    diffs
}

fn run_corpus(root: &Path, truth_dir: &Path, data_dir: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(truth_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(file) = truth["file"].as_str() else {
            continue;
        };
        let capture = data_dir.join(file);
        if !capture.exists() {
            failures.push(format!("{file}: capture missing at {}", capture.display()));
            continue;
        }
        checked += 1;
        let mut diffs = compare(&capture, &truth, None);
        if let Some(keylog) = truth["with_keylog"]["keylog"].as_str() {
            let keylog = data_dir.join(keylog);
            for d in compare(&capture, &truth, Some(keylog)) {
                diffs.push(format!("with key log: {d}"));
            }
        }
        let known: Vec<&(&str, &str, &str)> =
            KNOWN_DIFFERENCES.iter().filter(|k| k.0 == file).collect();
        let mut unexplained: Vec<&String> = diffs
            .iter()
            .filter(|d| !known.iter().any(|k| d.contains(k.1)))
            .collect();
        for k in &known {
            if !diffs.iter().any(|d| d.contains(k.1)) {
                failures.push(format!(
                    "{file}: listed difference no longer occurs ({}); remove it from KNOWN_DIFFERENCES",
                    k.1
                ));
            }
        }
        if !unexplained.is_empty() {
            unexplained.truncate(12);
            failures.push(format!(
                "{file} (relative to {}):\n    {}",
                root.display(),
                unexplained
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    (checked, failures)
}

#[test]
fn public_captures_match_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures-public");
    if !root.exists() {
        println!(
            "SKIPPED: {} is absent (CI and developers have it)",
            root.display()
        );
        return;
    }
    let (checked, failures) = run_corpus(&root, &root.join("truth"), &root.join("dev"));
    assert!(checked >= 80, "only {checked} captures checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn own_captures_match_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let (checked, failures) = run_corpus(&root, &root.join("truth"), &root);
    assert!(checked >= 20, "only {checked} captures checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn messy_captures_match_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/messy");
    let (checked, failures) = run_corpus(&root, &root.join("truth"), &root);
    assert!(checked >= 20, "only {checked} captures checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

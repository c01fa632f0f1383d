//! The text report: a file header, each connection's block (transcript, findings, messages,
//! HTTP, what was not seen) and the counts by code.

use std::fmt::Write as _;

use crate::model::*;
use crate::tls::handshake::handshake_title;
use crate::tls::{Detail, Direction};

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Client => "client",
        Direction::Server => "server",
        Direction::Unknown => "?",
    }
}

/// Renders the text report of one file.
pub fn render_text(r: &FileReport) -> String {
    let mut o = render_file_header(r);
    for c in &r.connections {
        o.push('\n');
        o.push_str(&render_connection_text(c));
    }
    o.push('\n');
    o.push_str(&render_findings_summary(r));
    o
}

/// The file's first lines: format, counts, warnings.
pub fn render_file_header(r: &FileReport) -> String {
    let mut o = String::new();
    let cap = &r.capture;
    let _ = writeln!(
        o,
        "{}: {}{}, {} packets, {} TCP conversations, {} with TLS, {} with HTTP",
        r.file,
        cap.format,
        match cap.compression {
            Some(crate::capture::Compression::Gzip) => " (gzip)",
            Some(crate::capture::Compression::Zstd) => " (zstd)",
            _ => "",
        },
        cap.packets,
        r.tcp_conversations,
        r.tls_connections,
        r.http_connections
    );
    for w in &r.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    if cap.decryption_secrets_blocks > 0 {
        let _ = writeln!(
            o,
            "note: {} Decryption Secrets Block(s) with TLS keys in the capture",
            cap.decryption_secrets_blocks
        );
    }
    o
}

/// One connection's block of the text report.
pub fn render_connection_text(c: &ConnectionReport) -> String {
    let mut o = String::new();
    render_connection(&mut o, c);
    o
}

/// Control characters (a newline in a certificate subject, say) written as escapes, so one
/// value cannot break the layout of the text report.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().flat_map(char::escape_debug).collect())
}

/// Counts of a file's connections by outcome, its file-level notes, and its findings by
/// severity and code.
pub fn render_findings_summary(r: &FileReport) -> String {
    let mut o = String::new();
    if !r.summary.outcomes.is_empty() {
        let parts: Vec<String> = ["failed", "refused", "incomplete", "unknown", "completed"]
            .iter()
            .filter_map(|s| r.summary.outcomes.get(s).map(|n| format!("{n} {s}")))
            .collect();
        let _ = writeln!(o, "TLS connections: {}", parts.join(", "));
    }
    for (code, n) in &r.summary.notes {
        let _ = writeln!(o, "note: {}", crate::findings::file_note_text(code, *n));
    }
    if r.summary.by_code.is_empty() {
        let _ = writeln!(o, "No findings.");
    } else {
        let sev: Vec<String> = ["error", "warning", "info"]
            .iter()
            .filter_map(|s| r.summary.by_severity.get(s).map(|n| format!("{n} {s}")))
            .collect();
        let _ = writeln!(o, "Findings: {}", sev.join(", "));
        for (code, n) in &r.summary.by_code {
            let _ = writeln!(o, "  {n:>4}  {code}");
        }
        let _ = writeln!(o, "`tlsdiag explain CODE` tells more about a code.");
    }
    o
}

fn render_http(o: &mut String, c: &ConnectionReport) {
    let inside = if c.tls { " (decrypted)" } else { "" };
    for x in &c.http {
        let request = match (&x.method, &x.target) {
            (Some(m), Some(t)) => format!("{m} {t}"),
            _ => "(request not in the capture)".to_string(),
        };
        let frames = match (x.request_frame, x.response_frame) {
            (Some(a), Some(b)) => format!("{a}/{b}"),
            (Some(a), None) => format!("{a}/-"),
            (None, Some(b)) => format!("-/{b}"),
            (None, None) => "-".into(),
        };
        let _ = write!(o, "  frame {frames:<6} HTTP{inside} {request}");
        if let Some(user) = &x.basic_user {
            let _ = write!(o, " [Basic user {user}]");
        } else if let Some(scheme) = &x.authorization {
            let _ = write!(
                o,
                " [{scheme}{}]",
                x.auth_token.map(|t| format!(" {t}")).unwrap_or_default()
            );
        }
        match x.status {
            Some(status) => {
                let _ = write!(o, " -> {status} {}", x.reason.as_deref().unwrap_or(""));
                if let Some(sub) = &x.substatus {
                    let _ = write!(o, " (IIS {sub}: {})", crate::http::substatus_meaning(sub));
                }
                if !x.www_authenticate.is_empty() {
                    let _ = write!(o, ", WWW-Authenticate: {}", x.www_authenticate.join(", "));
                }
                o.push('\n');
            }
            None => o.push_str(" -> no response in the capture\n"),
        }
    }
    for h in &c.http2_status {
        let _ = writeln!(
            o,
            "  frame {:<6} HTTP/2{inside} response :status {}",
            h.frame, h.status
        );
    }
}

fn render_findings(o: &mut String, c: &ConnectionReport) {
    for f in &c.findings {
        let frames: Vec<String> = f.frames.iter().map(|x| x.to_string()).collect();
        let _ = writeln!(
            o,
            "  {:<7} {}  {}",
            f.severity.word().to_uppercase(),
            f.code,
            escape_controls(&f.title)
        );
        for line in f.explanation.lines() {
            if line.starts_with("    ") {
                // Pre-formatted evidence lines (lists of names, URLs) stay as they are.
                let _ = writeln!(o, "      {line}");
            } else {
                let _ = writeln!(o, "{}", crate::findings::wrap(line, 100, "          "));
            }
        }
        let _ = writeln!(
            o,
            "          frames {}; Wireshark filter: {}",
            frames.join(","),
            f.filter
        );
    }
}

fn render_connection(o: &mut String, c: &ConnectionReport) {
    let _ = write!(
        o,
        "{}.stream {}: {} -> {}",
        if c.udp { "udp" } else { "tcp" },
        c.stream,
        c.client,
        c.server
    );
    if let Some(v) = &c.tls_version {
        let _ = write!(o, "  {v}");
    }
    if let Some(cs) = &c.cipher_suite {
        let _ = write!(o, "  {cs}");
    }
    if let Some(sni) = &c.sni {
        let _ = write!(o, "  SNI {sni}");
    }
    o.push('\n');
    let _ = writeln!(
        o,
        "  frames {}-{}, started {}{}",
        c.first_frame,
        c.last_frame,
        utc(c.start_ns.div_euclid(1_000_000_000)),
        if c.upgraded {
            ", TLS upgraded from a cleartext protocol"
        } else {
            ""
        }
    );
    if c.tls {
        let _ = writeln!(
            o,
            "  outcome: {}{}",
            c.outcome.status.word(),
            c.outcome
                .cause
                .as_deref()
                .map(|x| format!(": {}", escape_controls(x)))
                .unwrap_or_default()
        );
        if c.handshakes.len() > 1 {
            for (i, h) in c.handshakes.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "    handshake {} ({}, started by the {} in frame {}{}): {}{}",
                    i + 1,
                    h.kind,
                    dir_word(h.initiated_by),
                    h.first_frame,
                    if h.encrypted { ", encrypted" } else { "" },
                    h.outcome.status.word(),
                    h.outcome
                        .cause
                        .as_deref()
                        .map(|x| format!(": {}", escape_controls(x)))
                        .unwrap_or_default()
                );
            }
        }
    }
    if !c.transcript.is_empty() {
        let _ = writeln!(o, "  transcript: {}", c.transcript);
    }
    let d = &c.decryption;
    let keys_given = d
        .reason
        .as_deref()
        .is_none_or(|r| !r.starts_with("no key log given"));
    if c.tls && (d.status != "not-decrypted" || keys_given) {
        let _ = writeln!(
            o,
            "  decryption: {} ({} client, {} server records){}",
            d.status,
            d.client_records,
            d.server_records,
            d.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    render_findings(o, c);
    for m in &c.messages {
        let _ = write!(
            o,
            "  frame {:<6} {:<6} {}",
            m.frame,
            dir_word(m.direction),
            if m.kind == "sslv2_server_hello" {
                "SSLv2 ServerHello"
            } else {
                handshake_title(m.type_id)
            }
        );
        match &m.detail {
            Some(Detail::ClientHello(ch)) => {
                let _ = write!(o, " {}", ch.legacy_version);
                if !ch.offered_versions.is_empty() {
                    let _ = write!(o, ", offers {}", ch.offered_versions.join(" "));
                }
                if let Some(sni) = &ch.sni {
                    let _ = write!(o, ", SNI {sni}");
                }
                if !ch.alpn.is_empty() {
                    let _ = write!(o, ", ALPN {}", ch.alpn.join(","));
                }
                if ch.post_handshake_auth {
                    o.push_str(", post-handshake auth offered");
                }
                if ch.sslv2_format {
                    o.push_str(" (SSLv2 format)");
                }
                o.push('\n');
            }
            Some(Detail::ServerHello(sh)) => {
                if sh.hello_retry_request {
                    o.push_str(" (HelloRetryRequest)");
                }
                let _ = writeln!(o, " {}, {}", sh.version, sh.cipher_suite);
            }
            Some(Detail::Certificate(cert)) => {
                if cert.empty {
                    o.push_str(" EMPTY: no certificate sent\n");
                } else {
                    let _ = writeln!(
                        o,
                        " {} certificate(s), {} bytes",
                        cert.certificates.len(),
                        cert.certificates_length
                    );
                    for (i, ci) in cert.certificates.iter().enumerate() {
                        let _ = writeln!(o, "      [{i}] subject {}", escape_controls(&ci.subject));
                        let _ = write!(o, "          issuer  {}", escape_controls(&ci.issuer));
                        if ci.self_issued {
                            o.push_str("  (self-issued)");
                        }
                        o.push('\n');
                        let mut facts = Vec::new();
                        if let (Some(k), Some(b)) = (&ci.key, ci.key_bits) {
                            facts.push(format!("{k} {b}"));
                        }
                        if let (Some(nb), Some(na)) = (ci.not_before, ci.not_after) {
                            facts.push(format!("valid {} to {}", utc(nb), utc(na)));
                        }
                        if ci.is_ca == Some(true) {
                            facts.push("CA".into());
                        }
                        if !ci.eku.is_empty() {
                            facts.push(format!("EKU {}", ci.eku.join(",")));
                        }
                        if let Some(e) = &ci.parse_error {
                            facts.push(format!("does not parse: {e}"));
                        }
                        if !facts.is_empty() {
                            let _ = writeln!(o, "          {}", facts.join("; "));
                        }
                    }
                }
            }
            Some(Detail::CertificateRequest(cr)) => {
                let _ = writeln!(
                    o,
                    " {} CA name(s), CA list {} bytes, message {} bytes in {} record(s){}",
                    cr.ca_names.len(),
                    cr.ca_list_bytes,
                    m.length + 4,
                    m.records,
                    if cr.truncated { ", LIST CUT SHORT" } else { "" }
                );
                for n in cr.ca_names.iter().take(20) {
                    let _ = writeln!(o, "      {} ({} B)", escape_controls(&n.dn), n.der_len);
                }
                if cr.ca_names.len() > 20 {
                    let _ = writeln!(o, "      ... {} more", cr.ca_names.len() - 20);
                }
            }
            Some(Detail::Malformed { malformed }) => {
                let _ = writeln!(o, " MALFORMED: {malformed}");
            }
            _ => {
                let _ = writeln!(o, " ({} bytes)", m.length);
            }
        }
    }
    for a in &c.alerts {
        match (a.level, a.description, a.name) {
            (Some(l), Some(d), Some(n)) => {
                let _ = writeln!(
                    o,
                    "  frame {:<6} {:<6} Alert {} {n} ({d})",
                    a.frame,
                    dir_word(a.direction),
                    if l == 2 { "fatal" } else { "warning" }
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "  frame {:<6} {:<6} Alert (encrypted)",
                    a.frame,
                    dir_word(a.direction)
                );
            }
        }
    }
    render_http(o, c);
    for e in c.encrypted_handshake.iter().filter(|e| e.after_finished) {
        let _ = writeln!(
            o,
            "  frame {:<6} {:<6} encrypted handshake record, {} bytes",
            e.frame,
            dir_word(e.direction),
            e.length
        );
    }
    if let Some(f) = c.tcp.rst_frame {
        let _ = writeln!(o, "  frame {f:<6} TCP reset");
    }
    for n in &c.tcp.notes {
        let _ = writeln!(o, "  TCP: {n}");
    }
    for n in &c.not_seen {
        let _ = writeln!(o, "  not seen: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("CN=plain"), "CN=plain");
        assert_eq!(
            escape_controls("CN=evil\nERROR fake\tx\u{7}"),
            "CN=evil\\nERROR fake\\tx\\u{7}"
        );
    }
}

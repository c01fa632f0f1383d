//! The text report: a file header, each connection's block (transcript, findings, messages,
//! HTTP, what was not seen) and the counts by code.

use std::fmt::Write as _;

use crate::model::*;
use crate::tls::{Detail, Direction};

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Client => "client",
        Direction::Server => "server",
        Direction::Unknown => "?",
    }
}

/// Renders the text report of one file, verdict first: the file's header, the diagnosis, then
/// every connection in `tcp.stream` order.
pub fn render_text(r: &FileReport) -> String {
    let mut o = render_file_header(r);
    o.push_str(&render_diagnosis(r));
    let mut order: Vec<&ConnectionReport> = r.connections.iter().collect();
    order.sort_by_key(|c| c.stream);
    // An explanation the diagnosis printed is not repeated on its connection.
    let said: Vec<&str> = r
        .summary
        .diagnosis
        .values()
        .filter_map(|e| e.examples.first())
        .map(|x| x.explanation.as_str())
        .collect();
    for c in order {
        o.push('\n');
        render_connection(&mut o, c, &said);
    }
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
    render_connection(&mut o, c, &[]);
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

/// The verdict of a file: its TLS connections by outcome, then per finding code (errors
/// first) how many connections and which servers it concerns, its explanation once, and the
/// first streams with their Wireshark filters; then the facts said once per file.
pub fn render_diagnosis(r: &FileReport) -> String {
    let mut o = String::new();
    let entries = Summary::diagnosis_in_order(&r.summary.diagnosis);
    let tls: usize = r.summary.outcomes.values().sum();
    let outcomes: Vec<String> = ["failed", "refused", "incomplete", "unknown", "completed"]
        .iter()
        .filter_map(|s| r.summary.outcomes.get(s).map(|n| format!("{n} {s}")))
        .collect();
    let _ = write!(o, "Diagnosis:");
    if tls > 0 {
        let _ = write!(
            o,
            " {tls} TLS connection{} ({})",
            if tls == 1 { "" } else { "s" },
            outcomes.join(", ")
        );
    }
    if entries.is_empty() && r.kerberos.findings.is_empty() {
        let _ = writeln!(o, "{}no findings.", if tls > 0 { "; " } else { " " });
    } else {
        let sev: Vec<String> = ["error", "warning", "info"]
            .iter()
            .filter_map(|s| {
                r.summary.by_severity.get(s).map(|&n| {
                    let plural = if n != 1 && *s != "info" { "s" } else { "" };
                    format!("{n} {s}{plural}")
                })
            })
            .collect();
        let _ = writeln!(
            o,
            "{}findings: {}",
            if tls > 0 { "; " } else { " " },
            sev.join(", ")
        );
    }
    for e in &entries {
        let servers: Vec<String> = e
            .servers
            .iter()
            .take(3)
            .map(|s| escape_controls(s).into_owned())
            .collect();
        let more = e.servers.len().saturating_sub(3);
        let _ = writeln!(
            o,
            "  {:<7} {}  on {} connection{} to {}{}",
            e.severity.word().to_uppercase(),
            e.code,
            e.connections,
            if e.connections == 1 { "" } else { "s" },
            servers.join(", "),
            match (more, e.more_servers) {
                (0, false) => String::new(),
                (n, false) => format!(" and {n} more server{}", if n == 1 { "" } else { "s" }),
                (_, true) => " and more servers".into(),
            }
        );
        if let Some(first) = e.examples.first() {
            let _ = writeln!(
                o,
                "{}",
                crate::findings::wrap(&escape_controls(&first.title), 100, "          ")
            );
            render_explanation(&mut o, &first.explanation);
        }
        for x in &e.examples {
            let _ = writeln!(o, "          tcp.stream {}: {}", x.stream, x.filter);
        }
        if e.connections > e.examples.len() {
            let _ = writeln!(
                o,
                "          ... and {} more connection(s)",
                e.connections - e.examples.len()
            );
        }
    }
    render_kerberos(&mut o, r);
    if let Some(j) = &r.schannel {
        let _ = writeln!(
            o,
            "Schannel events: {} in {} file(s): {} joined to a connection, {} ambiguous, {} matching no connection, {} unreadable or not Schannel",
            j.events,
            j.files.len(),
            j.joined,
            j.ambiguous.len(),
            j.unmatched,
            j.skipped
        );
        for a in &j.ambiguous {
            let streams: Vec<String> = a.candidates.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(
                o,
                "  {} (event {}) matches tcp.stream {}",
                escape_controls(&a.source),
                a.id,
                streams.join(", ")
            );
        }
    }
    if let Some(j) = &r.iis_log {
        let _ = writeln!(
            o,
            "IIS log: {} line(s) in {} file(s): {} joined to a connection, {} ambiguous, {} matching no connection, {} unreadable",
            j.lines,
            j.files.len(),
            j.joined,
            j.ambiguous.len(),
            j.unmatched,
            j.skipped
        );
        for a in &j.ambiguous {
            let streams: Vec<String> = a.candidates.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(
                o,
                "  {}:{} matches tcp.stream {} (add c-port to the log fields to tell them apart)",
                escape_controls(&a.file),
                a.line,
                streams.join(", ")
            );
        }
    }
    for (code, n) in &r.summary.notes {
        let _ = writeln!(o, "note: {}", crate::findings::file_note_text(code, *n));
    }
    o
}

/// Kerberos on port 88: the errors the KDC answered, and the findings no HTTP request explains.
fn render_kerberos(o: &mut String, r: &FileReport) {
    let k = &r.kerberos;
    if k.messages.is_empty() && k.skipped == 0 {
        return;
    }
    let mut errors: Vec<(i32, String, usize)> = Vec::new();
    for m in k.messages.iter().filter(|m| m.message.is_error()) {
        let code = m.message.error_code.unwrap_or_default();
        match errors.iter_mut().find(|e| e.0 == code) {
            Some(e) => e.2 += 1,
            None => errors.push((code, m.message.error_name.clone().unwrap_or_default(), 1)),
        }
    }
    let errors: Vec<String> = errors
        .iter()
        .map(|(code, name, n)| {
            let normal = if *code == 25 {
                ", normal pre-authentication"
            } else {
                ""
            };
            format!("{name} ({code}) x{n}{normal}")
        })
        .collect();
    let _ = writeln!(
        o,
        "Kerberos on port 88: {} message(s){}{}",
        k.messages.len(),
        if errors.is_empty() {
            String::new()
        } else {
            format!("; KDC errors: {}", errors.join(", "))
        },
        if k.skipped > 0 {
            format!("; {} undecodable", k.skipped)
        } else {
            String::new()
        }
    );
    for f in &k.findings {
        let frames: Vec<String> = f.frames.iter().map(|x| x.to_string()).collect();
        let _ = writeln!(
            o,
            "  {:<7} {}  {}",
            f.severity.word().to_uppercase(),
            f.code,
            escape_controls(&f.title)
        );
        render_explanation(o, &escape_controls(&f.explanation));
        let _ = writeln!(
            o,
            "          frames {}; Wireshark filter: {}",
            frames.join(","),
            f.filter
        );
    }
}

fn render_http(o: &mut String, c: &ConnectionReport) {
    for x in &c.http {
        let from_log =
            x.request_frame.is_none() && x.reason.as_deref() == Some(crate::iislog::FROM_LOG);
        let inside = if from_log {
            " (IIS log)"
        } else if c.tls {
            " (decrypted)"
        } else {
            ""
        };
        let request = match (&x.malformed_request, &x.method, &x.target) {
            (Some(problem), Some(m), Some(t)) => format!(
                "{} {} (malformed request: {problem})",
                escape_controls(m),
                escape_controls(t)
            ),
            (Some(problem), ..) => format!("(malformed request: {problem})"),
            (None, Some(m), Some(t)) => format!("{m} {t}"),
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
            let krb = x
                .negotiate_request
                .as_ref()
                .and_then(|t| t.kerberos.as_ref())
                .map(|m| {
                    format!(
                        " {} {}{}",
                        m.kind,
                        escape_controls(m.sname.as_deref().unwrap_or("?")),
                        m.kvno.map(|k| format!(" kvno {k}")).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let _ = write!(
                o,
                " [{scheme}{}{krb}]",
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
                if let Some(t) = &x.negotiate_response {
                    let krb = t.kerberos.as_ref().map(|m| match m.error_code {
                        Some(code) => format!(
                            " {} {}",
                            m.error_name.as_deref().unwrap_or("KRB-ERROR"),
                            code
                        ),
                        None => format!(" {}", m.kind),
                    });
                    let _ = write!(
                        o,
                        " [SPNEGO {}{}]",
                        t.neg_result.unwrap_or("token"),
                        krb.unwrap_or_default()
                    );
                }
                o.push('\n');
            }
            None => o.push_str(" -> no response in the capture\n"),
        }
    }
    for l in &c.iis_log {
        let _ = writeln!(
            o,
            "  IIS log {}:{} {} {} {} -> {}{}{}",
            escape_controls(&l.file),
            l.line,
            crate::model::utc(l.time),
            escape_controls(l.method.as_deref().unwrap_or("-")),
            escape_controls(l.uri.as_deref().unwrap_or("-")),
            l.status_text(),
            match (l.win32_status, l.win32_name) {
                (0, _) => String::new(),
                (n, Some(name)) => format!(", win32 {n} {name}"),
                (n, None) => format!(", win32 {n}"),
            },
            l.time_taken_ms
                .map(|t| format!(", {t} ms"))
                .unwrap_or_default()
        );
    }
    for e in &c.schannel_events {
        let _ = writeln!(
            o,
            "  Schannel {} {} {}: {}{}",
            e.id,
            crate::model::utc(e.time_ns.div_euclid(1_000_000_000)),
            escape_controls(&e.source),
            e.meaning,
            e.alert.map(|a| format!(" (alert {a})")).unwrap_or_default()
        );
    }
    let inside = if c.tls { " (decrypted)" } else { "" };
    for h in &c.http2_status {
        let _ = writeln!(
            o,
            "  frame {:<6} HTTP/2{inside} response :status {}",
            h.frame, h.status
        );
    }
}

fn render_findings(o: &mut String, c: &ConnectionReport, said: &[&str]) {
    for f in &c.findings {
        let frames: Vec<String> = f.frames.iter().map(|x| x.to_string()).collect();
        let _ = writeln!(
            o,
            "  {:<7} {}  {}",
            f.severity.word().to_uppercase(),
            f.code,
            escape_controls(&f.title)
        );
        if said.contains(&f.explanation.as_str()) {
            let _ = writeln!(o, "          (explained in the diagnosis above)");
        } else {
            render_explanation(o, &f.explanation);
        }
        // A finding from IIS log lines alone has no frame.
        let frames = if frames.is_empty() {
            "none (from the IIS log)".to_string()
        } else {
            frames.join(",")
        };
        let _ = writeln!(
            o,
            "          frames {frames}; Wireshark filter: {}",
            f.filter
        );
    }
}

/// A finding's explanation, wrapped; pre-formatted evidence lines (lists of names, URLs)
/// stay as they are.
fn render_explanation(o: &mut String, explanation: &str) {
    for line in explanation.lines() {
        if line.starts_with("    ") {
            let _ = writeln!(o, "      {line}");
        } else {
            let _ = writeln!(o, "{}", crate::findings::wrap(line, 100, "          "));
        }
    }
}

fn render_connection(o: &mut String, c: &ConnectionReport, said: &[&str]) {
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
    inferred_client_auth(o, c);
    if !c.transcript.is_empty() {
        let _ = writeln!(o, "  transcript: {}", c.transcript);
    }
    let d = &c.decryption;
    let keys_given = d
        .reason
        .as_deref()
        .is_some_and(|r| !r.starts_with("no key log given"));
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
    render_findings(o, c, said);
    for m in &c.messages {
        let _ = write!(
            o,
            "  frame {:<6} {:<6} {}",
            m.frame,
            dir_word(m.direction),
            m.title()
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

/// One line on the client-certificate exchange told from encrypted record sizes (the
/// arithmetic is in the findings and in JSON `client_auth.evidence`), or why it could not be.
fn inferred_client_auth(o: &mut String, c: &ConnectionReport) {
    let a = &c.client_auth;
    if let Some(inf) = a.inference.as_ref().filter(|_| a.inferred) {
        let mut facts = vec![match a.requested {
            Some(true) => "certificate requested".to_string(),
            _ => "no certificate requested".to_string(),
        }];
        match (inf.client_certificate, inf.client_certificate_length) {
            (Some("empty"), _) => facts.push("client sent an empty Certificate".into()),
            (Some(_), Some(len)) => facts.push(format!("client sent a Certificate of {len} bytes")),
            _ => {}
        }
        if let Some(cv) = inf.certificate_verify {
            facts.push(format!(
                "CertificateVerify {}",
                if cv { "sent" } else { "not sent" }
            ));
        }
        if let Some(d) = inf.ca_list_bytes {
            facts.push(format!("CA list of {d} bytes"));
        }
        let _ = writeln!(
            o,
            "  client auth ({}, inferred from encrypted record sizes): {}",
            inf.handshake.replace('-', " "),
            facts.join(", ")
        );
    } else if let Some(why) = c.inferred.iter().find_map(|i| i.ambiguous.as_deref()) {
        let _ = writeln!(
            o,
            "  client auth: not told from encrypted record sizes: {}",
            escape_controls(why)
        );
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

//! Reports: the per-connection and per-file model (serialised as JSON, schema in
//! `docs/json-schema.md`) and its text rendering.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::analyzer::Conn;
use crate::capture::ReadOutcome;
use crate::findings::{ClientAuthSummary, Finding, Summary};
use crate::http::Exchange;
use crate::packet::PacketStats;
use crate::tcp::HalfStats;
use crate::tls::handshake::{cipher_name, handshake_title, version_name};
use crate::tls::{
    AlertEvent, AppDataStats, DecryptionStatus, Detail, Direction, EncryptedHandshake,
    HandshakeMessage,
};

/// Version of the JSON layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct CcsEvent {
    pub direction: Direction,
    pub frame: u64,
    #[serde(skip)]
    pub seq: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct H2Status {
    pub frame: u64,
    pub status: u16,
}

#[derive(Debug, Clone, Serialize)]
pub struct PerDirection<T> {
    pub client: T,
    pub server: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpSummary {
    /// The capture holds the SYN of the connection.
    pub syn_seen: bool,
    /// The first bytes seen in a direction were not the start of its stream.
    pub midstream: bool,
    /// "fin", "rst" or "capture-end".
    pub ended_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rst_frame: Option<u64>,
    /// Who sent the first reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_by: Option<Direction>,
    pub client: HalfStats,
    pub server: HalfStats,
}

/// Everything about one TCP connection that carried TLS.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    /// Wireshark's `tcp.stream`.
    pub stream: u64,
    pub client: String,
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Capture time of the first packet, nanoseconds since the Unix epoch.
    pub start_ns: i64,
    /// TLS started after other application bytes (STARTTLS or a database upgrade).
    pub upgraded: bool,
    /// TLS was found on the connection.
    pub tls: bool,
    /// One-line handshake transcript: `>` client to server, `<` server to client.
    pub transcript: String,
    pub messages: Vec<HandshakeMessage>,
    pub alerts: Vec<AlertEvent>,
    pub change_cipher_spec: Vec<CcsEvent>,
    pub encrypted_handshake: Vec<EncryptedHandshake>,
    pub application_data: PerDirection<AppDataStats>,
    pub tcp: TcpSummary,
    /// Whether the TLS records could be decrypted, and if not why.
    pub decryption: DecryptionStatus,
    /// `HTTP/1.x` or `HTTP/2` when HTTP was seen (in clear or decrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<&'static str>,
    /// HTTP/1.x requests and responses, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<Exchange>,
    /// HTTP/2 response `:status` values with their frames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http2_status: Vec<H2Status>,
    /// What the capture does not show, in plain words.
    pub not_seen: Vec<String>,
    /// Whether a client certificate was asked for and what the client answered.
    pub client_auth: ClientAuthSummary,
    /// Explained problems, most severe first.
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub schema_version: u32,
    pub file: String,
    pub capture: ReadOutcome,
    pub packets: PacketStats,
    pub tcp_conversations: u64,
    pub tls_connections: usize,
    /// Connections where HTTP was seen (in clear or decrypted).
    pub http_connections: usize,
    /// TLS handshakes seen (ServerHello messages, renegotiations included).
    pub handshakes: usize,
    pub distinct_certificates: usize,
    pub has_tls_secrets: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_ns: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ns: Option<i64>,
    pub warnings: Vec<String>,
    /// Findings of all connections counted by code and severity.
    pub summary: Summary,
    pub connections: Vec<ConnectionReport>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn file_report(
    file: String,
    capture: ReadOutcome,
    packets: PacketStats,
    tcp_conversations: u64,
    distinct_certificates: usize,
    has_tls_secrets: bool,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    connections: Vec<ConnectionReport>,
    warnings: Vec<String>,
) -> FileReport {
    let mut summary = Summary::default();
    for f in connections.iter().flat_map(|c| &c.findings) {
        summary.add(f);
    }
    FileReport {
        summary,
        schema_version: SCHEMA_VERSION,
        file,
        capture,
        packets,
        tcp_conversations,
        tls_connections: connections.iter().filter(|c| c.tls).count(),
        handshakes: connections
            .iter()
            .flat_map(|c| &c.messages)
            .filter(|m| m.kind == "server_hello")
            .count(),
        http_connections: connections
            .iter()
            .filter(|c| c.http_version.is_some())
            .count(),
        distinct_certificates,
        has_tls_secrets,
        first_ns,
        last_ns,
        warnings,
        connections,
    }
}

/// Builds the report of a conversation, or None when it carried neither TLS nor HTTP.
pub(crate) fn connection_report(c: &mut Conn, capture_last_frame: u64) -> Option<ConnectionReport> {
    let mut http_exchanges = c
        .app
        .http
        .as_mut()
        .map(|h| std::mem::take(&mut h.exchanges))
        .unwrap_or_default();
    // The session ends here: its evidence moves into the report instead of being copied.
    let (mut messages, mut alerts, mut encrypted_handshake, notes) = {
        let t = c.app.tls.as_mut()?;
        (
            std::mem::take(&mut t.messages),
            std::mem::take(&mut t.alerts),
            std::mem::take(&mut t.encrypted_handshake),
            std::mem::take(&mut t.notes),
        )
    };
    let c = &*c;
    let tls = c.app.tls.as_ref()?;
    let http = c
        .app
        .http
        .as_deref()
        .filter(|h| h.detected() || !http_exchanges.is_empty());
    if http.is_none() {
        http_exchanges.clear();
    }
    if !tls.detected && http.is_none() {
        return None;
    }
    // Client: the ClientHello sender, else the side sending HTTP requests, else the SYN
    // sender, else the first packet's sender.
    let client_dir = tls
        .client_dir
        .or(http.and_then(|h| h.client_dir()))
        .or(c.syn_dir)
        .unwrap_or(0) as usize;
    let server_dir = 1 - client_dir;
    let dir_of = |d: u8| {
        if d as usize == client_dir {
            Direction::Client
        } else {
            Direction::Server
        }
    };

    for m in &mut messages {
        m.direction = dir_of(m.dir);
    }

    for a in &mut alerts {
        a.direction = dir_of(a.dir);
    }

    for e in &mut encrypted_handshake {
        e.direction = dir_of(e.dir);
    }
    let change_cipher_spec: Vec<CcsEvent> = tls
        .ccs
        .iter()
        .map(|&(d, frame, seq)| CcsEvent {
            direction: dir_of(d),
            frame,
            seq,
        })
        .collect();
    let sni = messages.iter().find_map(|m| match &m.detail {
        Some(Detail::ClientHello(ch)) => ch.sni.clone(),
        _ => None,
    });
    let tls_version = tls.version.map(version_name);
    let cipher_suite = tls.cipher.map(cipher_name);

    let mut not_seen = notes;
    let tcp_c = &c.tcp[client_dir];
    let tcp_s = &c.tcp[server_dir];
    for (who, half) in [("client", tcp_c), ("server", tcp_s)] {
        if half.first_frame.is_none() {
            not_seen.push(format!(
                "no packet from the {who} is in the capture (one-sided capture)"
            ));
        }
        for g in &half.stats.gaps {
            not_seen.push(format!(
                "{} bytes from the {who} lost in a capture gap (at stream offset {}, noticed at frame {})",
                g.bytes, g.offset, g.frame
            ));
        }
        if half.stats.buffer_overflows > 0 {
            not_seen.push(format!(
                "the {who}'s out-of-order buffer reached its bound {} times: holes were given up early (--max-out-of-order)",
                half.stats.buffer_overflows
            ));
        }
        if half.stats.conflicting_overlaps > 0 {
            not_seen.push(format!(
                "{} retransmissions from the {who} carried bytes that differ from the first copy (first copy kept)",
                half.stats.conflicting_overlaps
            ));
        }
    }
    if tcp_c.midstream || tcp_s.midstream {
        not_seen.push(
            "the capture starts in the middle of this connection; earlier handshake messages are not in it"
                .into(),
        );
    }
    let decryption = tls.decryption_status(client_dir);
    if tls.version == Some(0x0304) && decryption.status == "not-decrypted" {
        not_seen.push("TLS 1.3 encrypts everything after ServerHello (certificates, CertificateRequest, client Certificate, alerts): a key log would show them".into());
    }
    let reneg = encrypted_handshake
        .iter()
        .filter(|e| e.after_finished)
        .count();
    if reneg > 0 {
        not_seen.push(format!(
            "{reneg} encrypted handshake record(s) after the handshake finished (renegotiation or post-handshake messages): a key log would show them"
        ));
    }
    let ended_by = if c.tcp[0].rst_frame.is_some() || c.tcp[1].rst_frame.is_some() {
        "rst"
    } else if c.tcp[0].fin_frame.is_some() || c.tcp[1].fin_frame.is_some() {
        "fin"
    } else {
        "capture-end"
    };
    let rst_frame = match (tcp_c.rst_frame, tcp_s.rst_frame) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let reset_by = match (tcp_c.rst_frame, tcp_s.rst_frame) {
        (Some(a), Some(b)) if b < a => Some(Direction::Server),
        (Some(_), _) => Some(Direction::Client),
        (None, Some(_)) => Some(Direction::Server),
        (None, None) => None,
    };
    let _ = capture_last_frame;
    let application_data = PerDirection {
        client: tls.app_data_stats(client_dir as u8).clone(),
        server: tls.app_data_stats(server_dir as u8).clone(),
    };
    let mut report = ConnectionReport {
        stream: c.stream,
        client: c.endpoints[client_dir].to_string(),
        server: c.endpoints[server_dir].to_string(),
        tls_version,
        cipher_suite,
        sni,
        first_frame: c.first_frame,
        last_frame: c.last_frame,
        start_ns: c.first_ts,
        upgraded: tls.upgraded,
        tls: tls.detected,
        transcript: String::new(),
        messages,
        alerts,
        change_cipher_spec,
        encrypted_handshake,
        application_data,
        tcp: TcpSummary {
            syn_seen: c.tcp[0].syn_seen || c.tcp[1].syn_seen,
            midstream: tcp_c.midstream || tcp_s.midstream,
            ended_by,
            rst_frame,
            reset_by,
            client: tcp_c.stats.clone(),
            server: tcp_s.stats.clone(),
        },
        decryption,
        http_version: http.map(|h| if h.http2 { "HTTP/2" } else { "HTTP/1.x" }),
        http: http_exchanges,
        http2_status: http
            .map(|h| {
                h.http2_status
                    .iter()
                    .map(|&(frame, status)| H2Status { frame, status })
                    .collect()
            })
            .unwrap_or_default(),
        not_seen,
        client_auth: ClientAuthSummary {
            requested: false,
            client_certificate: "not-visible",
            issuer_match: None,
        },
        findings: Vec::new(),
    };
    report.transcript = transcript(&report);
    Some(report)
}

/// Short label of a message for the transcript.
/// Writes the short label of a message for the transcript.
fn write_message_label(out: &mut String, m: &HandshakeMessage) {
    let title = if m.kind == "sslv2_server_hello" {
        "SSLv2ServerHello"
    } else {
        handshake_title(m.type_id)
    };
    match &m.detail {
        Some(Detail::ClientHello(ch)) if ch.sslv2_format => out.push_str("ClientHello(SSLv2)"),
        Some(Detail::ServerHello(sh)) if sh.hello_retry_request => {
            out.push_str("HelloRetryRequest")
        }
        Some(Detail::Certificate(c)) if c.empty => out.push_str("Certificate(empty)"),
        Some(Detail::Certificate(c)) => {
            let _ = write!(out, "Certificate({})", c.certificates.len());
        }
        Some(Detail::CertificateRequest(cr)) => {
            let _ = write!(
                out,
                "CertificateRequest({} CA, {} B)",
                cr.ca_names.len(),
                cr.ca_list_bytes
            );
        }
        _ => out.push_str(title),
    }
}

/// One event of the transcript; labels are written straight into the output.
enum Event<'a> {
    Message(&'a HandshakeMessage),
    Text(&'static str),
    Alert(&'a AlertEvent),
    AppData(u64),
}

/// Zeek-style one-line history: events in frame order, grouped by direction.
fn transcript(r: &ConnectionReport) -> String {
    // (frame, order within the connection, direction, event)
    let mut events: Vec<(u64, u32, Direction, Event<'_>)> =
        Vec::with_capacity(r.messages.len() + r.alerts.len() + 8);
    for m in &r.messages {
        events.push((m.frame, m.seq, m.direction, Event::Message(m)));
    }
    for c in &r.change_cipher_spec {
        events.push((c.frame, c.seq, c.direction, Event::Text("CCS")));
    }
    for e in &r.encrypted_handshake {
        let label = if e.after_finished {
            "EncryptedHandshake"
        } else {
            "Finished*"
        };
        events.push((e.frame, e.seq, e.direction, Event::Text(label)));
    }
    for a in &r.alerts {
        events.push((a.frame, a.seq, a.direction, Event::Alert(a)));
    }
    for (dir, stats) in [
        (Direction::Client, &r.application_data.client),
        (Direction::Server, &r.application_data.server),
    ] {
        if let Some(f) = stats.first_frame {
            events.push((f, u32::MAX - 1, dir, Event::AppData(stats.records)));
        }
    }
    if let Some(f) = r.tcp.rst_frame {
        events.push((f, u32::MAX, Direction::Unknown, Event::Text("RST")));
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(events.len() * 16);
    let mut last: Option<Direction> = None;
    for (_, _, dir, event) in events {
        if last != Some(dir) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(match dir {
                Direction::Client => "> ",
                Direction::Server => "< ",
                Direction::Unknown => "| ",
            });
            last = Some(dir);
        } else {
            out.push(',');
        }
        match event {
            Event::Message(m) => write_message_label(&mut out, m),
            Event::Text(t) => out.push_str(t),
            Event::Alert(a) => match (a.name, a.level) {
                (Some(n), Some(2)) => {
                    let _ = write!(out, "Alert(fatal {n})");
                }
                (Some(n), _) => {
                    let _ = write!(out, "Alert({n})");
                }
                _ => out.push_str("Alert(encrypted)"),
            },
            Event::AppData(n) => {
                let _ = write!(out, "AppData×{n}");
            }
        }
    }
    out
}

fn fmt_time(secs: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm), UTC.
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// UTC date and time of a Unix timestamp, for the text report.
pub fn utc(secs: i64) -> String {
    fmt_time(secs)
}

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

/// Counts of a file's findings by severity and code.
pub fn render_findings_summary(r: &FileReport) -> String {
    let mut o = String::new();
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

/// JSON Lines: one object for the connection (without its findings) and one per finding, each
/// with `kind`, `schema_version`, `file` and `stream`.
pub fn jsonl_connection(file: &str, c: &ConnectionReport) -> String {
    let mut out = String::new();
    if let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(c) {
        map.remove("findings");
        let mut line = serde_json::Map::new();
        line.insert("kind".into(), "connection".into());
        line.insert("schema_version".into(), SCHEMA_VERSION.into());
        line.insert("file".into(), file.into());
        line.extend(map);
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    for f in &c.findings {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(f) {
            let mut line = serde_json::Map::new();
            line.insert("kind".into(), "finding".into());
            line.insert("schema_version".into(), SCHEMA_VERSION.into());
            line.insert("file".into(), file.into());
            line.extend(map);
            out.push_str(&serde_json::Value::Object(line).to_string());
            out.push('\n');
        }
    }
    out
}

/// JSON Lines: the file's summary object (`kind: file`), written after its connections.
pub fn jsonl_file(r: &FileReport) -> String {
    let mut out = String::new();
    if let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(r) {
        map.remove("connections");
        map.remove("schema_version");
        map.remove("file");
        let mut line = serde_json::Map::new();
        line.insert("kind".into(), "file".into());
        line.insert("schema_version".into(), SCHEMA_VERSION.into());
        line.insert("file".into(), r.file.clone().into());
        line.extend(map);
        out.push_str(&serde_json::Value::Object(line).to_string());
        out.push('\n');
    }
    out
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
            f.title
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
    let _ = write!(o, "tcp.stream {}: {} -> {}", c.stream, c.client, c.server);
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
                        let _ = writeln!(o, "      [{i}] subject {}", ci.subject);
                        let _ = write!(o, "          issuer  {}", ci.issuer);
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
                    let _ = writeln!(o, "      {} ({} B)", n.dn, n.der_len);
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
    for n in &c.not_seen {
        let _ = writeln!(o, "  not seen: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(951782400), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1700000000), "2023-11-14 22:13:20Z");
    }
}

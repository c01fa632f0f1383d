//! Turns a finished conversation's protocol state into its `ConnectionReport`, and a file's
//! connections into its `FileReport`: moves the evidence out of the sessions, orients it
//! (client/server), lists what the capture could not show and writes the one-line transcript.

use std::fmt::Write as _;

use super::Conn;
use crate::capture::ReadOutcome;
use crate::model::*;
use crate::packet::PacketStats;
use crate::tls::handshake::{cipher_name, version_name};
use crate::tls::{AlertEvent, Detail, Direction, HandshakeMessage};

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
    for c in &connections {
        summary.add_connection(c);
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
        kerberos: Default::default(),
        iis_log: None,
        schannel: None,
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
    let (mut messages, mut alerts, mut encrypted_handshake, notes, mut sealed) = {
        let t = c.app.tls.as_mut()?;
        (
            std::mem::take(&mut t.messages),
            std::mem::take(&mut t.alerts),
            std::mem::take(&mut t.encrypted_handshake),
            std::mem::take(&mut t.notes),
            std::mem::take(&mut t.sealed),
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
    for r in &mut sealed {
        r.direction = dir_of(r.dir);
    }
    let hello = messages.iter().find_map(|m| match &m.detail {
        Some(Detail::ClientHello(ch)) if m.direction == Direction::Client => Some(ch),
        _ => None,
    });
    let inferred = crate::tls::inference::infer(tls.version, tls.cipher, hello, &sealed);
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
    // HTTP's own notes (an upgrade to WebSocket, a head too long to read) go with TLS's.
    if let Some(h) = http {
        not_seen.extend(h.notes.iter().cloned());
    }
    let tcp_c = &c.tcp[client_dir];
    let tcp_s = &c.tcp[server_dir];
    // A UDP conversation has no TCP state to tell about.
    let halves = if c.udp {
        Vec::new()
    } else {
        vec![("client", tcp_c), ("server", tcp_s)]
    };
    for (who, half) in halves {
        if half.first_frame().is_none() {
            not_seen.push(format!(
                "no packet from the {who} is in the capture (one-sided capture)"
            ));
        }
        for g in &half.stats().gaps {
            not_seen.push(format!(
                "{} bytes from the {who} lost in a capture gap (at stream offset {}, noticed at frame {})",
                g.bytes, g.offset, g.frame
            ));
        }
        if half.stats().buffer_overflows > 0 {
            not_seen.push(format!(
                "the {who}'s out-of-order buffer reached its bound {} times: holes were given up early (--max-out-of-order)",
                half.stats().buffer_overflows
            ));
        }
        let (budget_overflows, budget_first_frame) = half.budget_overflows();
        if budget_overflows > 0 {
            not_seen.push(format!(
                "the {who}'s out-of-order data went over the memory budget {budget_overflows} times, first at frame {budget_first_frame}: holes were given up early (--max-memory)"
            ));
        }
        if half.stats().conflicting_overlaps > 0 {
            not_seen.push(format!(
                "{} retransmissions from the {who} carried bytes that differ from the first copy (first copy kept)",
                half.stats().conflicting_overlaps
            ));
        }
    }
    if tcp_c.starts_midstream() || tcp_s.starts_midstream() {
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
    let ended_by = if c.tcp[0].rst_frame().is_some() || c.tcp[1].rst_frame().is_some() {
        "rst"
    } else if c.tcp[0].fin_frame().is_some() || c.tcp[1].fin_frame().is_some() {
        "fin"
    } else {
        "capture-end"
    };
    let rst_frame = match (tcp_c.rst_frame(), tcp_s.rst_frame()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let reset_by = match (tcp_c.rst_frame(), tcp_s.rst_frame()) {
        (Some(a), Some(b)) if b < a => Some(Direction::Server),
        (Some(_), _) => Some(Direction::Client),
        (None, Some(_)) => Some(Direction::Server),
        (None, None) => None,
    };
    let (fin_frame, closed_by) = match (tcp_c.fin_frame(), tcp_s.fin_frame()) {
        (Some(a), Some(b)) if b < a => (Some(b), Some(Direction::Server)),
        (Some(a), _) => (Some(a), Some(Direction::Client)),
        (None, Some(b)) => (Some(b), Some(Direction::Server)),
        (None, None) => (None, None),
    };
    let _ = capture_last_frame;
    let application_data = PerDirection {
        client: tls.app_data_stats(client_dir as u8).clone(),
        server: tls.app_data_stats(server_dir as u8).clone(),
    };
    let mut report = ConnectionReport {
        stream: c.stream,
        udp: c.udp,
        client: c.endpoints[client_dir].to_string(),
        server: c.endpoints[server_dir].to_string(),
        tls_version,
        cipher_suite,
        sni,
        first_frame: c.first_frame,
        last_frame: c.last_frame,
        start_ns: c.first_ts,
        end_ns: c.last_ts,
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
            midstream: tcp_c.starts_midstream() || tcp_s.starts_midstream(),
            ended_by,
            rst_frame,
            reset_by,
            fin_frame,
            closed_by,
            client: tcp_c.stats().clone(),
            server: tcp_s.stats().clone(),
            notes: c
                .app
                .openvpn
                .as_ref()
                .map(|o| o.note())
                .into_iter()
                .chain(c.tcp_notes.iter().cloned())
                .chain(tcp_c.isn_note("client"))
                .chain(tcp_s.isn_note("server"))
                .collect(),
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
            requested: None,
            client_certificate: "not-visible",
            issuer_match: None,
            inferred: false,
            evidence: Vec::new(),
            inference: None,
        },
        iis_log: Vec::new(),
        schannel_events: Vec::new(),
        findings: Vec::new(),
        outcome: Outcome {
            status: OutcomeStatus::Unknown,
            cause: None,
            by: None,
            alert: None,
            ended_by: None,
            frame: None,
        },
        handshakes: Vec::new(),
        file_notes: Vec::new(),
        inferred,
    };
    report.transcript = transcript(&report);
    (report.handshakes, report.outcome) = super::outcome::handshake_outcomes(&report);
    Some(report)
}

/// Short label of a message for the transcript.
/// Writes the short label of a message for the transcript.
fn write_message_label(out: &mut String, m: &HandshakeMessage) {
    let title = m.title();
    match &m.detail {
        Some(Detail::ClientHello(ch)) if ch.sslv2_format => out.push_str("ClientHello(SSLv2)"),
        Some(Detail::ServerHello(sh)) if sh.hello_retry_request => {
            out.push_str("HelloRetryRequest")
        }
        Some(Detail::ServerHello(sh)) if sh.resumed.is_some() => {
            let _ = write!(
                out,
                "ServerHello(resumed: {})",
                sh.resumed.unwrap_or_default()
            );
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
        // Transcript labels have no spaces ("SSLv2ServerHello").
        _ => title.split(' ').for_each(|w| out.push_str(w)),
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

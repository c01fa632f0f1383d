//! The plain-data model of an analysis: what one connection and one capture file amount to
//! (`ConnectionReport`, `FileReport`) and the findings on them. Everything here is data with
//! `Serialize` (the JSON schema is in `docs/json-schema.md`); it is built by `analyzer`, judged by
//! `findings` and printed by `render`, and imports only plain data types of the earlier stages.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::ReadOutcome;
use crate::http::Exchange;
use crate::packet::PacketStats;
use crate::tcp::HalfStats;
use crate::tls::{
    AlertEvent, AppDataStats, DecryptionStatus, Direction, EncryptedHandshake, HandshakeMessage,
};

/// Version of the JSON layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

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
    /// What TCP did that changes how to read the connection: a SYN retried after a failed
    /// attempt, SYN-ACKs with different sequence numbers and which one counts, and the carrier
    /// of the TLS when it is not TCP directly (OpenVPN's control channel).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Everything about one TCP connection that carried TLS.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    /// Wireshark's `tcp.stream` (`udp.stream` when `udp`).
    pub stream: u64,
    /// A UDP conversation (OpenVPN over UDP), not a TCP connection.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub udp: bool,
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
    /// How the connection ended, judged from its handshakes: the first handshake that did not
    /// complete, else the initial one.
    pub outcome: Outcome,
    /// Every handshake of the connection (initial, renegotiations, TLS 1.3 post-handshake
    /// authentication) with its own outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handshakes: Vec<HandshakeOutcome>,
    /// Whether a client certificate was asked for and what the client answered.
    pub client_auth: ClientAuthSummary,
    /// Explained problems, most severe first.
    pub findings: Vec<Finding>,
    /// Facts that hold for many connections of a file (HTTP or TLS 1.3 client authentication
    /// hidden without keys): counted once per file in `Summary::notes`, not repeated here.
    #[serde(skip)]
    pub file_notes: Vec<&'static str>,
}

/// How a handshake (or a whole connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// Both Finished messages (or application data both ways where they are encrypted).
    Completed,
    /// A fatal alert, a reset or a close before the handshake completed.
    Failed,
    /// A renegotiation declined with a no_renegotiation alert.
    Refused,
    /// The capture ends before the handshake completed.
    Incomplete,
    /// Not known: the capture starts mid-stream, or the handshake is encrypted without keys.
    Unknown,
}

impl OutcomeStatus {
    pub fn word(self) -> &'static str {
        match self {
            OutcomeStatus::Completed => "completed",
            OutcomeStatus::Failed => "failed",
            OutcomeStatus::Refused => "refused",
            OutcomeStatus::Incomplete => "incomplete",
            OutcomeStatus::Unknown => "unknown",
        }
    }
}

/// The outcome of a connection or of one of its handshakes.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: OutcomeStatus,
    /// What ended it, in plain words ("the server sent a fatal handshake_failure alert (40)
    /// after the client's empty Certificate").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The side that ended it (alert sender, resetting or closing side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Direction>,
    /// Alert description code, when an alert ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<u8>,
    /// Frame of the alert, reset or completion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
}

/// One handshake of a connection.
#[derive(Debug, Clone, Serialize)]
pub struct HandshakeOutcome {
    /// `initial`, `renegotiation` or `post-handshake-auth`.
    pub kind: &'static str,
    /// Who started it: `client` (ClientHello) or `server` (HelloRequest, or the
    /// CertificateRequest of post-handshake authentication).
    pub initiated_by: Direction,
    pub first_frame: u64,
    /// The handshake's records are encrypted and were not decrypted.
    pub encrypted: bool,
    #[serde(flatten)]
    pub outcome: Outcome,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One explained problem (or notable fact) on a connection.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub stream: u64,
    pub frames: Vec<u64>,
    /// Wireshark display filter showing the evidence.
    pub filter: String,
    pub refs: Vec<&'static str>,
}

/// What the client-authentication part of a connection amounts to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientAuthSummary {
    /// A CertificateRequest was seen (in clear).
    pub requested: bool,
    /// "sent", "empty", "missing", "not-visible" (encrypted or not captured).
    pub client_certificate: &'static str,
    /// How the client chain matched the requested CA names: "exact", "canonical", "none",
    /// or "any" when the list was empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_match: Option<&'static str>,
}

/// Counts findings of one file by code and by severity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub by_code: BTreeMap<&'static str, usize>,
    pub by_severity: BTreeMap<&'static str, usize>,
    /// Connections by outcome (`completed`, `failed`...).
    pub outcomes: BTreeMap<&'static str, usize>,
    /// File-level notes: code -> number of connections it holds for (said once per file).
    pub notes: BTreeMap<&'static str, usize>,
}

impl Summary {
    pub fn add(&mut self, f: &Finding) {
        *self.by_code.entry(f.code).or_default() += 1;
        *self.by_severity.entry(f.severity.word()).or_default() += 1;
    }

    /// Counts a connection: its findings, its outcome (TLS connections only) and its notes.
    pub fn add_connection(&mut self, c: &ConnectionReport) {
        for f in &c.findings {
            self.add(f);
        }
        if c.tls {
            *self.outcomes.entry(c.outcome.status.word()).or_default() += 1;
        }
        for n in &c.file_notes {
            *self.notes.entry(n).or_default() += 1;
        }
    }

    /// Adds the counts of another part of the same file (sharded analysis).
    pub fn merge(&mut self, other: Summary) {
        for (map, more) in [
            (&mut self.by_code, other.by_code),
            (&mut self.by_severity, other.by_severity),
            (&mut self.outcomes, other.outcomes),
            (&mut self.notes, other.notes),
        ] {
            for (k, n) in more {
                *map.entry(k).or_default() += n;
            }
        }
    }
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

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
use crate::tls::inference::InferredAuth;
use crate::tls::{
    AlertEvent, AppDataStats, DecryptionStatus, Direction, EncryptedHandshake, HandshakeMessage,
};

/// Version of the JSON layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 3;

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
    /// The first FIN, and who sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fin_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<Direction>,
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
    /// Capture time of the last packet.
    #[serde(skip)]
    pub end_ns: i64,
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
    /// IIS log lines joined to this connection (`--iis-log`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub iis_log: Vec<crate::iislog::IisLine>,
    /// Schannel events joined to this connection (`--schannel-events`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schannel_events: Vec<crate::schannel::SchannelEvent>,
    /// Explained problems, most severe first.
    pub findings: Vec<Finding>,
    /// Facts that hold for many connections of a file (HTTP or TLS 1.3 client authentication
    /// hidden without keys): counted once per file in `Summary::notes`, not repeated here.
    #[serde(skip)]
    pub file_notes: Vec<&'static str>,
    /// The client-certificate exchanges told from encrypted record sizes (no keys needed).
    #[serde(skip)]
    pub inferred: Vec<InferredAuth>,
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
    /// How a failure ended it: `alert`, `encrypted-alert`, `reset` or `close` (FIN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<&'static str>,
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
    /// It resumed an earlier session (`session-id`, `session-ticket`, `psk`): abbreviated, with
    /// no CertificateRequest; the client identity is the earlier session's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<&'static str>,
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
    /// Kerberos seen on port 88, and the KDC errors no HTTP connection explains.
    #[serde(skip_serializing_if = "KerberosReport::is_empty")]
    pub kerberos: KerberosReport,
    /// The join of `--iis-log` lines to the connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iis_log: Option<crate::iislog::JoinSummary>,
    /// The join of `--schannel-events` to the connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schannel: Option<crate::schannel::JoinSummary>,
    pub connections: Vec<ConnectionReport>,
}

/// Kerberos on port 88 (TCP and UDP) in one capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KerberosReport {
    /// Every message decoded, in capture order.
    pub messages: Vec<crate::kerberos::KdcMessage>,
    /// Messages on port 88 that could not be decoded (or beyond the number kept).
    pub skipped: u64,
    /// Findings from KDC errors that no HTTP request of the capture explains (the others are
    /// on the HTTP connection they explain). `stream` is the KDC's `tcp.stream`, 0 over UDP.
    pub findings: Vec<Finding>,
}

impl KerberosReport {
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.skipped == 0 && self.findings.is_empty()
    }
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
    /// A CertificateRequest was sent (seen, decrypted or inferred): `null` when the capture
    /// cannot tell (encrypted without keys and not inferable).
    pub requested: Option<bool>,
    /// "sent", "empty", "missing", "not-visible" (encrypted or not captured).
    pub client_certificate: &'static str,
    /// How the client chain matched the requested CA names: "exact", "canonical", "none",
    /// or "any" when the list was empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_match: Option<&'static str>,
    /// The facts were inferred from encrypted record sizes, not read from the messages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// The records and the arithmetic behind an inference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The inferred facts in full (sizes as ranges, CertificateVerify, how the handshake ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference: Option<InferredAuth>,
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
    /// The verdict: per finding code and severity, the connections, servers and first streams.
    #[serde(serialize_with = "diagnosis_worst_first")]
    pub diagnosis: BTreeMap<(Severity, &'static str), DiagnosisEntry>,
}

/// Schannel truncates the CA list it sends at this size (KB 933430, event 36885).
pub const SCHANNEL_CA_LIST_LIMIT: usize = 16384;
/// Default of `--ca-list-warn-bytes`: where a CA list starts to be called large.
pub const DEFAULT_CA_LIST_WARN: usize = 12288;

/// Servers named per diagnosis entry at most (the rest are counted as "more").
pub const DIAGNOSIS_SERVERS: usize = 16;
/// Streams shown per diagnosis entry (the lowest numbers, whatever the order of analysis).
pub const DIAGNOSIS_EXAMPLES: usize = 3;

/// One finding code (at one severity) over a whole file: how many connections, which servers,
/// and the first streams with their evidence filter. Memory is bounded whatever the file size.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosisEntry {
    pub code: &'static str,
    pub severity: Severity,
    /// Connections with at least one finding of this code and severity.
    pub connections: usize,
    /// Distinct servers (`address`, or `SNI (address)` when the name is known), at most
    /// [`DIAGNOSIS_SERVERS`].
    pub servers: std::collections::BTreeSet<String>,
    /// More distinct servers than `servers` lists.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub more_servers: bool,
    /// The connections with the lowest stream numbers.
    pub examples: Vec<DiagnosisExample>,
}

/// A connection that shows a diagnosis entry.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosisExample {
    pub stream: u64,
    pub title: String,
    pub explanation: String,
    pub filter: String,
}

impl DiagnosisEntry {
    fn absorb(&mut self, other: DiagnosisEntry) {
        self.connections += other.connections;
        self.more_servers |= other.more_servers;
        for s in other.servers {
            self.add_server(s);
        }
        self.examples.extend(other.examples);
        self.examples.sort_by_key(|e| e.stream);
        self.examples.truncate(DIAGNOSIS_EXAMPLES);
    }

    fn add_server(&mut self, server: String) {
        self.servers.insert(server);
        if self.servers.len() > DIAGNOSIS_SERVERS {
            self.servers.pop_last();
            self.more_servers = true;
        }
    }
}

fn diagnosis_worst_first<S: serde::Serializer>(
    map: &BTreeMap<(Severity, &'static str), DiagnosisEntry>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(Summary::diagnosis_in_order(map))
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
        let mut seen: Vec<(Severity, &'static str)> = Vec::new();
        for f in &c.findings {
            let key = (f.severity, f.code);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let server = match &c.sni {
                Some(sni) => format!("{sni} ({})", c.server),
                None => c.server.clone(),
            };
            let mut one = DiagnosisEntry {
                code: f.code,
                severity: f.severity,
                connections: 1,
                servers: Default::default(),
                more_servers: false,
                examples: vec![DiagnosisExample {
                    stream: c.stream,
                    title: f.title.clone(),
                    explanation: f.explanation.clone(),
                    filter: f.filter.clone(),
                }],
            };
            one.add_server(server);
            match self.diagnosis.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(one);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().absorb(one),
            }
        }
    }

    /// Diagnosis entries worst first: errors, then warnings, then info; within a severity the
    /// code on most connections first.
    pub fn diagnosis_in_order<'a>(
        map: &'a BTreeMap<(Severity, &'static str), DiagnosisEntry>,
    ) -> Vec<&'a DiagnosisEntry> {
        let mut v: Vec<&DiagnosisEntry> = map.values().collect();
        v.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.connections.cmp(&a.connections))
                .then(a.code.cmp(b.code))
        });
        v
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
        for (key, entry) in other.diagnosis {
            match self.diagnosis.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(entry);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().absorb(entry),
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

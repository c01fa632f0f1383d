//! TLS: records framed per direction, handshake messages reassembled across records and TCP
//! segments, alerts, ChangeCipherSpec, and the encrypted records that still say something.
//!
//! Each TCP direction feeds its own [`RecordLayer`] state: partial records and partial handshake
//! messages of one direction never mix with the other's (the rusticata parser shares one buffer
//! for both). After encryption starts, only record headers are walked; payload is not buffered.
//! A direction that does not start with TLS is scanned for a ClientHello/ServerHello (STARTTLS
//! and other upgrades); a capture gap or a direction picked up mid-stream is resynchronised on
//! plausible record headers.

pub mod decrypt;
pub mod handshake;
pub mod inference;
mod keys;
pub mod openvpn;
mod reassembly;
mod record;

use keys::DecryptState;
use record::{Mode, RecordLayer};

use serde::Serialize;

pub use handshake::{CertCache, Detail};

use crate::keylog::KeyLog;
use crate::serverkey::ServerKeys;

/// What TLS analysis shares across the connections of a capture.
#[derive(Default)]
pub struct TlsContext {
    pub certs: CertCache,
    pub keylog: KeyLog,
    /// RSA server keys (`--server-key`), shared by every file of a run.
    pub server_keys: std::sync::Arc<ServerKeys>,
    /// TLS <= 1.2 master secrets derived here, by session ID and by session ticket, for the
    /// abbreviated handshakes that resume them.
    pub sessions: rustc_hash::FxHashMap<Vec<u8>, Vec<u8>>,
    /// Which server keys decrypted something in this capture.
    pub keys_used: Vec<bool>,
    /// Subjects of server certificates of RSA key exchanges that no server key matches.
    pub unmatched_certificates: Vec<String>,
    /// The analyzer's memory budget, which incomplete handshake messages draw on (and, through
    /// the analyzer, out-of-order TCP data and IP fragments).
    pub budget: crate::budget::Budget,
}

impl TlsContext {
    fn mark_key_used(&mut self, index: usize) {
        if self.keys_used.len() <= index {
            self.keys_used.resize(index + 1, false);
        }
        self.keys_used[index] = true;
    }

    fn note_unmatched_certificate(&mut self, subject: &str) {
        if self.unmatched_certificates.len() < 16
            && !self.unmatched_certificates.iter().any(|s| s == subject)
        {
            self.unmatched_certificates.push(subject.to_string());
        }
    }

    /// Warnings about server keys: keys that matched no server certificate of the capture.
    pub fn server_key_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.server_keys.is_empty() {
            return out;
        }
        if !self.unmatched_certificates.is_empty() {
            let unused: Vec<&str> = self
                .server_keys
                .keys
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.keys_used.get(*i).copied().unwrap_or(false))
                .map(|(_, k)| k.source.as_str())
                .collect();
            out.push(format!(
                "--server-key {}: no key given matches the server certificate of an RSA key exchange in this capture ({})",
                if unused.is_empty() { "(all)".to_string() } else { unused.join(", ") },
                self.unmatched_certificates.join("; ")
            ));
        }
        out
    }
}

/// Largest record body accepted: TLS 1.2 ciphertext may reach 2^14 + 2048 (RFC 5246 6.2.3).
/// tls-parser caps at 2^14 + 256, which rejects legal CBC records; framing is ours.
const MAX_RECORD: usize = 16384 + 2048;
/// Handshake messages above this are reported but not buffered.
const MAX_HANDSHAKE_MESSAGE: usize = 4 << 20;
/// How far into a non-TLS direction we look for a TLS upgrade.
const SCAN_LIMIT: u64 = 256 * 1024;
/// Bounds on per-connection evidence lists.
const MAX_EVENTS: usize = 512;
/// Ciphertext records kept for the size inference: enough for the handshakes and a
/// post-handshake authentication after the first requests.
const MAX_SEALED: usize = 256;

/// Which side sent something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
    Unknown,
}

impl Direction {
    /// The name JSON uses: `client`, `server` or `unknown`.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
            Direction::Unknown => "unknown",
        }
    }
}

/// The version number an SSLv2 SERVER-HELLO carries.
pub const SSLV2: u16 = 0x0002;

/// One handshake message as seen on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct HandshakeMessage {
    /// snake_case type name (`client_hello`, `certificate_request`...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_id: u8,
    pub direction: Direction,
    /// The frame in which the message is complete (where Wireshark shows it).
    pub frame: u64,
    /// Every frame that carried its bytes.
    pub frames: Vec<u64>,
    /// Body length from the handshake header.
    pub length: u32,
    /// Records the message spanned.
    pub records: u32,
    /// Read after decrypting its records.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    #[serde(skip)]
    pub dir: u8,
    #[serde(skip)]
    pub ts_ns: i64,
    /// Order of events within the connection (several can share a frame).
    #[serde(skip)]
    pub seq: u32,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

impl HandshakeMessage {
    /// The name Wireshark gives the message ("ServerHello", "SSLv2 ClientMasterKey"). SSLv2 type
    /// numbers mean other messages than TLS ones (2 is CLIENT-MASTER-KEY, not ServerHello).
    pub fn title(&self) -> &'static str {
        match self.kind {
            "sslv2_server_hello" => "SSLv2 ServerHello",
            "sslv2_client_master_key" => "SSLv2 ClientMasterKey",
            _ => handshake::handshake_title(self.type_id),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    pub direction: Direction,
    pub frame: u64,
    /// None when the alert is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    pub encrypted: bool,
    /// Read after decrypting its record.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    #[serde(skip)]
    pub dir: u8,
    #[serde(skip)]
    pub seq: u32,
}

/// An encrypted handshake record (TLS <= 1.2 after ChangeCipherSpec).
#[derive(Debug, Clone, Serialize)]
pub struct EncryptedHandshake {
    pub direction: Direction,
    pub frame: u64,
    pub length: usize,
    /// False for the first one of a direction after its ChangeCipherSpec (its Finished).
    pub after_finished: bool,
    #[serde(skip)]
    pub dir: u8,
    #[serde(skip)]
    pub seq: u32,
}

/// Application data seen in one direction.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppDataStats {
    pub records: u64,
    pub bytes: u64,
    /// Plaintext bytes recovered by decryption.
    #[serde(skip_serializing_if = "is_zero")]
    pub decrypted_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Name of an alert description (RFC 8446 6, RFC 5246 7.2).
pub fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown",
    }
}

/// Everything TLS seen on one TCP connection.
pub struct TlsSession {
    layers: [RecordLayer; 2],
    pub messages: Vec<HandshakeMessage>,
    pub alerts: Vec<AlertEvent>,
    pub encrypted_handshake: Vec<EncryptedHandshake>,
    /// Records seen only as ciphertext (type and length), for the size inference.
    pub sealed: Vec<inference::SealedRecord>,
    /// (dir, frame, seq) of each ChangeCipherSpec.
    pub ccs: Vec<(u8, u64, u32)>,
    /// Counter giving events their order.
    next_seq: u32,
    /// Negotiated version (ServerHello, supported_versions first).
    pub version: Option<u16>,
    pub cipher: Option<u16>,
    /// TCP direction index that sent the first ClientHello.
    pub client_dir: Option<u8>,
    /// TLS was found in this connection.
    pub detected: bool,
    /// TLS started after other bytes (STARTTLS or similar upgrade).
    pub upgraded: bool,
    pub notes: Vec<String>,
    pub sslv2_records: u64,
    pub oversized_records: u64,
    /// MAC length when the negotiated suite encrypts nothing (TLS_RSA_WITH_NULL_SHA...).
    null_cipher_mac: Option<usize>,
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    /// Both hellos carry encrypt_then_mac (RFC 7366).
    encrypt_then_mac: [bool; 2],
    early_data_offered: bool,
    /// The ServerHello chose DEFLATE compression (RFC 3749).
    deflate: bool,
    /// Record protection state, present once keys were found for this connection.
    decrypt: Option<Box<DecryptState>>,
    /// Why the connection is not (or not fully) decrypted.
    decrypt_reason: Option<std::borrow::Cow<'static, str>>,
    /// The record being dispatched was decrypted.
    decrypting_now: bool,
    /// Decrypted application data (direction, frame, bytes), for the HTTP analysis.
    pub app_plaintext: Vec<(u8, u64, Vec<u8>)>,
    /// TLS <= 1.2: the keys of the handshake in progress derive from its ClientKeyExchange.
    await_kx: bool,
    /// Handshake messages since the last ClientHello, kept only while a pre-master secret may
    /// have to be turned into an extended master secret (RFC 7627 session hash).
    transcript: Option<Vec<u8>>,
    /// Both hellos carry extended_master_secret (client, server).
    ems: [bool; 2],
    /// Session ID of the last ServerHello.
    session_id: Vec<u8>,
    /// Session ID the last ClientHello offered.
    client_session_id: Vec<u8>,
    /// Session ticket the last ClientHello offered.
    ticket: Option<Vec<u8>>,
    /// The last TLS <= 1.2 handshake resumed a session (abbreviated handshake).
    resumed: bool,
    /// Leaf of the last server Certificate message.
    server_cert: Option<std::sync::Arc<crate::x509::CertInfo>>,
    /// Master secret of the last TLS <= 1.2 handshake whose keys were found.
    master_secret: Option<Vec<u8>>,
}

/// How far decryption went on a connection.
#[derive(Debug, Clone, Serialize)]
pub struct DecryptionStatus {
    /// `decrypted`, `partly-decrypted` or `not-decrypted`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<std::borrow::Cow<'static, str>>,
    pub client_records: u64,
    pub server_records: u64,
    /// Where the keys came from when records were decrypted: `key-log` (master or traffic
    /// secrets), `key-log-pre-master` (`RSA` or `PMS_CLIENT_RANDOM` lines), `server-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_from: Option<&'static str>,
}

impl Default for TlsSession {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsSession {
    pub fn new() -> Self {
        TlsSession {
            layers: [RecordLayer::new(), RecordLayer::new()],
            messages: Vec::new(),
            alerts: Vec::new(),
            encrypted_handshake: Vec::new(),
            sealed: Vec::new(),
            ccs: Vec::new(),
            next_seq: 0,
            version: None,
            cipher: None,
            client_dir: None,
            detected: false,
            upgraded: false,
            notes: Vec::new(),
            sslv2_records: 0,
            oversized_records: 0,
            null_cipher_mac: None,
            client_random: None,
            server_random: None,
            encrypt_then_mac: [false; 2],
            early_data_offered: false,
            deflate: false,
            decrypt: None,
            decrypt_reason: None,
            decrypting_now: false,
            app_plaintext: Vec::new(),
            await_kx: false,
            transcript: None,
            ems: [false; 2],
            session_id: Vec::new(),
            client_session_id: Vec::new(),
            ticket: None,
            resumed: false,
            server_cert: None,
            master_secret: None,
        }
    }

    /// Stops looking for TLS (the connection carries another protocol).
    pub fn give_up(&mut self) {
        if !self.detected {
            for layer in &mut self.layers {
                layer.mode = Mode::Off;
            }
        }
    }

    /// True once neither direction can still turn out to carry TLS.
    pub fn gave_up(&self) -> bool {
        !self.detected && self.layers.iter().all(|l| l.mode == Mode::Off)
    }

    /// Both directions have nothing more to tell without keys: no partial handshake message
    /// buffered and encryption under way. Used to skip application data cheaply.
    pub fn app_data_stats(&self, dir: u8) -> &AppDataStats {
        &self.layers[dir as usize & 1].app
    }

    pub fn records(&self, dir: u8) -> u64 {
        self.layers[dir as usize & 1].records
    }

    fn note(&mut self, text: String) {
        if self.notes.len() < 64 && !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cold]
fn unreachable_start() {
    // `feed` is only called after the direction left Start; nothing to do if it is not.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn hs(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![kind];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    fn feed(s: &mut TlsSession, dir: u8, chunks: &[(&[u8], u64)]) {
        let mut ctx = TlsContext::default();
        for (bytes, frame) in chunks {
            s.on_data(dir, bytes, *frame, *frame, 0, false, &mut ctx);
        }
    }

    #[test]
    fn message_split_over_three_records() {
        let body: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let msg = hs(12, &body);
        let (a, rest) = msg.split_at(100);
        let (b, c) = rest.split_at(100);
        let mut stream = record(22, a);
        stream.extend(record(22, b));
        stream.extend(record(22, c));
        let mut s = TlsSession::new();
        feed(&mut s, 1, &[(&stream[..110], 5), (&stream[110..], 6)]);
        assert_eq!(s.messages.len(), 1);
        let m = &s.messages[0];
        assert_eq!(
            (m.kind, m.length, m.records, m.frame),
            ("server_key_exchange", 300, 3, 6)
        );
        assert_eq!(m.frames, vec![5, 6]);
    }

    #[test]
    fn three_messages_in_one_record() {
        let mut payload = hs(2, &[3, 3]);
        payload.extend(hs(14, &[]));
        payload.extend(hs(0, &[]));
        let stream = record(22, &payload);
        let mut s = TlsSession::new();
        feed(&mut s, 1, &[(&stream, 9)]);
        let kinds: Vec<&str> = s.messages.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            vec!["server_hello", "server_hello_done", "hello_request"]
        );
        assert!(s.messages.iter().all(|m| m.frame == 9 && m.records == 1));
    }

    #[test]
    fn record_split_over_five_segments() {
        let stream = record(22, &hs(14, &[]));
        let mut alert = record(21, &[2, 40]);
        let mut all = stream.clone();
        all.append(&mut alert);
        let pieces: Vec<(&[u8], u64)> = vec![
            (&all[0..1], 1),
            (&all[1..3], 2),
            (&all[3..5], 3),
            (&all[5..7], 4),
            (&all[7..], 5),
        ];
        let mut s = TlsSession::new();
        feed(&mut s, 1, &pieces);
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.messages[0].frames, vec![1, 2, 3, 4, 5]);
        assert_eq!(s.messages[0].frame, 5);
        assert_eq!(s.alerts[0].description, Some(40));
    }

    #[test]
    fn encrypted_after_ccs_and_gap_resync() {
        let mut stream = record(20, &[1]);
        stream.extend(record(22, &[0xaa; 40]));
        stream.extend(record(23, &[0xbb; 100]));
        stream.extend(record(22, &[0xcc; 60]));
        let mut s = TlsSession::new();
        s.version = Some(0x0303);
        feed(&mut s, 0, &[(&stream, 3)]);
        assert_eq!(s.encrypted_handshake.len(), 2);
        assert!(!s.encrypted_handshake[0].after_finished);
        assert!(s.encrypted_handshake[1].after_finished);
        assert_eq!(s.app_data_stats(0).records, 1);
        // A gap in the middle of a record, then records resume.
        s.on_gap(0, 1000, 4);
        let mut more = vec![0x99; 7];
        more.extend(record(23, &[1; 10]));
        more.extend(record(23, &[1; 10]));
        feed(&mut s, 0, &[(&more, 5)]);
        assert_eq!(s.app_data_stats(0).records, 3);
    }

    #[test]
    fn starttls_upgrade_is_found() {
        let mut stream = b"220 mail ESMTP\r\n".to_vec();
        stream.extend(record(22, &hs(1, &[0; 40])));
        let mut s = TlsSession::new();
        feed(&mut s, 0, &[(&stream[..16], 1), (&stream[16..], 2)]);
        assert!(s.detected);
        assert!(s.upgraded);
        assert_eq!(s.messages[0].kind, "client_hello");
    }

    #[test]
    fn not_tls_gives_up() {
        let mut s = TlsSession::new();
        let junk = vec![b'A'; 1024];
        for i in 0..300 {
            feed(&mut s, 0, &[(&junk, i)]);
            feed(&mut s, 1, &[(&junk, i)]);
        }
        assert!(s.gave_up());
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut seed = 7u32;
        for _ in 0..200 {
            let mut s = TlsSession::new();
            let mut v = Vec::new();
            for _ in 0..400 {
                seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
                v.push((seed >> 16) as u8);
            }
            v[0] = 22;
            v[1] = 3;
            v[2] = 1;
            feed(&mut s, 0, &[(&v[..200], 1), (&v[200..], 2)]);
            s.on_gap(0, 17, 3);
            s.finish();
        }
    }
}

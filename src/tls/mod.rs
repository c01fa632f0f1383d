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

use serde::Serialize;

use handshake::{handshake_name, TLS13};
pub use handshake::{CertCache, Detail};

use crate::keylog::KeyLog;

/// What TLS analysis shares across the connections of a capture.
#[derive(Default)]
pub struct TlsContext {
    pub certs: CertCache,
    pub keylog: KeyLog,
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

/// Which side sent something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
    Unknown,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing seen yet in this direction.
    Start,
    /// Looking for a hello record (upgrade), or for any plausible record (resync).
    Scan {
        any_record: bool,
    },
    Records,
    /// Given up: not TLS.
    Off,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    kind: u8,
    len: usize,
    remaining: usize,
    /// Content is buffered (handshake, alert, CCS in clear).
    keep: bool,
    /// Bytes of it were lost in a capture gap.
    damaged: bool,
    /// SSLv2 record (2-byte header).
    sslv2: bool,
    /// Version bytes of the record header (part of the AEAD additional data and the MAC).
    hdr_version: [u8; 2],
}

/// Per-direction record and handshake reassembly state.
struct RecordLayer {
    mode: Mode,
    hdr: [u8; 5],
    hdr_len: usize,
    cur: Option<Record>,
    body: Vec<u8>,
    rec_frames: Vec<u64>,
    /// Plaintext handshake bytes not yet forming a whole message.
    hs_buf: Vec<u8>,
    /// (end offset in hs_buf, frames of the record that brought those bytes).
    hs_pieces: Vec<(usize, Vec<u64>)>,
    /// Bytes of an oversized handshake message still to skip.
    hs_skip: usize,
    /// After ChangeCipherSpec (TLS <= 1.2): handshake records are encrypted.
    encrypted: bool,
    finished_seen: bool,
    /// SSLv2 records may appear (the direction started with one).
    sslv2: bool,
    scanned: u64,
    /// Last bytes of the previous chunk while scanning, for hellos split across chunks.
    scan_tail: Vec<u8>,
    records: u64,
    app: AppDataStats,
    sync_losses: u32,
}

impl RecordLayer {
    fn new() -> Self {
        RecordLayer {
            mode: Mode::Start,
            hdr: [0; 5],
            hdr_len: 0,
            cur: None,
            body: Vec::new(),
            rec_frames: Vec::new(),
            hs_buf: Vec::new(),
            hs_pieces: Vec::new(),
            hs_skip: 0,
            encrypted: false,
            finished_seen: false,
            sslv2: false,
            scanned: 0,
            scan_tail: Vec::new(),
            records: 0,
            app: AppDataStats::default(),
            sync_losses: 0,
        }
    }
}

/// Is this a plausible TLS record header?
fn plausible_header(h: &[u8]) -> bool {
    h.len() >= 5
        && (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && (u16::from_be_bytes([h[3], h[4]]) as usize) <= MAX_RECORD
        && u16::from_be_bytes([h[3], h[4]]) > 0
}

/// Is this the start of a ClientHello (dir client) or ServerHello record?
fn hello_record_at(b: &[u8]) -> bool {
    plausible_header(b)
        && b[0] == 22
        && b.len() >= 9
        && (b[5] == 1 || b[5] == 2)
        && u32::from_be_bytes([0, b[6], b[7], b[8]]) < 0x10000
}

/// SSLv2-format ClientHello or ServerHello (2-byte header with the high bit set).
fn sslv2_hello_at(b: &[u8]) -> bool {
    if b.len() < 5 || b[0] & 0x80 == 0 {
        return false;
    }
    let len = (((b[0] & 0x7f) as usize) << 8) | b[1] as usize;
    match b[2] {
        1 => len >= 9 && b[3] <= 3 && (b[3] == 0 && b[4] == 2 || b[3] == 3),
        4 => len >= 11,
        _ => false,
    }
}

/// Everything TLS seen on one TCP connection.
pub struct TlsSession {
    layers: [RecordLayer; 2],
    pub messages: Vec<HandshakeMessage>,
    pub alerts: Vec<AlertEvent>,
    pub encrypted_handshake: Vec<EncryptedHandshake>,
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
}

/// A key change waiting for the end of the record that announced it (TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySwitch {
    None,
    /// After this direction's Finished: application traffic secret 0.
    Traffic,
    /// After a KeyUpdate.
    Update,
}

/// Per-connection decryption state.
struct DecryptState {
    tls13: bool,
    spec: decrypt::CipherSpec,
    current: [Option<decrypt::RecordCipher>; 2],
    /// TLS <= 1.2: keys of the last hellos, taking over at each direction's ChangeCipherSpec.
    pending: [Option<decrypt::RecordCipher>; 2],
    /// TLS <= 1.2: the last hellos' keys are not in the key log (renegotiation without keys).
    pending_missing: Option<String>,
    /// DEFLATE decompressors when the session compresses records (old OpenSSL did).
    inflate: [Option<flate2::Decompress>; 2],
    deflate: bool,
    failed: [Option<String>; 2],
    records: [u64; 2],
    /// TLS 1.3 application traffic secrets 0 (client, server), by direction index.
    traffic: [Option<Vec<u8>>; 2],
    switch: [KeySwitch; 2],
    /// The direction already uses application traffic keys.
    on_traffic_keys: [bool; 2],
    early_skips: u32,
}

impl DecryptState {
    fn new(tls13: bool, spec: decrypt::CipherSpec) -> Self {
        DecryptState {
            tls13,
            spec,
            current: [None, None],
            pending: [None, None],
            pending_missing: None,
            inflate: [None, None],
            deflate: false,
            failed: [None, None],
            records: [0, 0],
            traffic: [None, None],
            switch: [KeySwitch::None; 2],
            on_traffic_keys: [false; 2],
            early_skips: 0,
        }
    }

    /// Will a record of `kind` in direction `d` be decrypted?
    fn will_decrypt(&self, d: usize, kind: u8) -> bool {
        self.current[d].is_some() && (!self.tls13 || kind == 23)
    }

    /// TLS <= 1.2 ChangeCipherSpec in direction `d`: the pending keys take over.
    fn activate_pending(&mut self, d: usize) {
        if let Some(next) = self.pending[d].take() {
            self.current[d] = Some(next);
            self.failed[d] = None;
            self.inflate[d] = self.deflate.then(|| flate2::Decompress::new(true));
        } else if let Some(reason) = &self.pending_missing {
            // New hellos whose keys we lack: the old keys no longer apply.
            self.current[d] = None;
            self.failed[d] = Some(reason.clone());
        }
    }
}

/// Decrypted application-data chunks kept per connection for the HTTP analysis.
const MAX_APP_CHUNKS: usize = 4096;
/// Largest plaintext a compressed record may expand to (RFC 5246 6.2.2).
const MAX_INFLATED: usize = 16384 + 1024;

/// How far decryption went on a connection.
#[derive(Debug, Clone, Serialize)]
pub struct DecryptionStatus {
    /// `decrypted`, `partly-decrypted` or `not-decrypted`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<std::borrow::Cow<'static, str>>,
    pub client_records: u64,
    pub server_records: u64,
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

    /// Takes contiguous bytes of direction `dir` (0 or 1).
    #[allow(clippy::too_many_arguments)]
    pub fn on_data(
        &mut self,
        dir: u8,
        mut bytes: &[u8],
        frame: u64,
        at_frame: u64,
        ts_ns: i64,
        midstream: bool,
        ctx: &mut TlsContext,
    ) {
        let d = (dir & 1) as usize;
        while !bytes.is_empty() {
            match self.layers[d].mode {
                Mode::Off => return,
                Mode::Start => {
                    // Decide on the first bytes; wait for 5 when they come in smaller pieces.
                    let layer = &mut self.layers[d];
                    let first = if layer.hdr_len > 0 {
                        layer.hdr[0]
                    } else {
                        bytes[0]
                    };
                    if !(20..=24).contains(&first) && first & 0x80 == 0 {
                        // Cannot start a record: another protocol first (or mid-stream).
                        layer.mode = Mode::Scan {
                            any_record: midstream || self.detected,
                        };
                        continue;
                    }
                    let need = 5 - layer.hdr_len;
                    let take = need.min(bytes.len());
                    if layer.hdr_len > 0 || bytes.len() < 5 {
                        if layer.rec_frames.last() != Some(&frame) {
                            layer.rec_frames.push(frame);
                        }
                        layer.hdr[layer.hdr_len..layer.hdr_len + take]
                            .copy_from_slice(&bytes[..take]);
                        layer.hdr_len += take;
                        bytes = &bytes[take..];
                        if layer.hdr_len < 5 {
                            return;
                        }
                        let probe = layer.hdr;
                        layer.hdr_len = 0;
                        self.start_direction(d, &probe, midstream);
                        // Replay the probe through the chosen mode.
                        self.feed(d, &probe, frame, at_frame, ts_ns, ctx);
                    } else {
                        let probe = [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]];
                        self.start_direction(d, &probe, midstream);
                    }
                }
                _ => {
                    self.feed(d, bytes, frame, at_frame, ts_ns, ctx);
                    return;
                }
            }
        }
    }

    fn start_direction(&mut self, d: usize, probe: &[u8; 5], midstream: bool) {
        let layer = &mut self.layers[d];
        if plausible_header(probe) {
            layer.mode = Mode::Records;
        } else if sslv2_hello_at(probe) {
            layer.mode = Mode::Records;
            layer.sslv2 = true;
        } else {
            layer.mode = Mode::Scan {
                any_record: midstream || self.detected,
            };
        }
    }

    /// Runs bytes through the direction's current mode.
    fn feed(
        &mut self,
        d: usize,
        mut bytes: &[u8],
        frame: u64,
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) {
        while !bytes.is_empty() {
            match self.layers[d].mode {
                Mode::Off => return,
                Mode::Start => unreachable_start(),
                Mode::Scan { any_record } => {
                    let layer = &mut self.layers[d];
                    // A hello may start in the last bytes of the previous chunk.
                    let tail = std::mem::take(&mut layer.scan_tail);
                    if !tail.is_empty() {
                        let mut window = tail.clone();
                        window.extend_from_slice(&bytes[..bytes.len().min(16)]);
                        if let Some(i) = (0..tail.len()).find(|&i| hello_record_at(&window[i..])) {
                            layer.mode = Mode::Records;
                            layer.rec_frames.clear();
                            layer.cur = None;
                            layer.hdr_len = 0;
                            self.upgraded |= !any_record && !self.detected;
                            self.feed(d, &tail[i..], frame, at_frame, ts_ns, ctx);
                            continue;
                        }
                    }
                    let found = (0..bytes.len()).find(|&i| {
                        let b = &bytes[i..];
                        hello_record_at(b)
                            || (any_record && plausible_header(b) && {
                                let next = 5 + u16::from_be_bytes([b[3], b[4]]) as usize;
                                next == b.len() || (next < b.len() && plausible_header(&b[next..]))
                            })
                    });
                    match found {
                        Some(i) => {
                            if i > 0 || !any_record {
                                self.upgraded |= !any_record && !self.detected;
                            }
                            let layer = &mut self.layers[d];
                            layer.mode = Mode::Records;
                            layer.scanned += i as u64;
                            layer.rec_frames.clear();
                            layer.cur = None;
                            layer.hdr_len = 0;
                            bytes = &bytes[i..];
                        }
                        None => {
                            layer.scanned += bytes.len() as u64;
                            layer.scan_tail = bytes[bytes.len().saturating_sub(8)..].to_vec();
                            if layer.scanned > SCAN_LIMIT && !any_record {
                                layer.mode = Mode::Off;
                            }
                            return;
                        }
                    }
                }
                Mode::Records => {
                    let used = self.records_step(d, bytes, frame, at_frame, ts_ns, ctx);
                    bytes = &bytes[used..];
                }
            }
        }
    }

    /// Consumes bytes in record mode; returns how many were used (all, unless sync was lost).
    fn records_step(
        &mut self,
        d: usize,
        bytes: &[u8],
        frame: u64,
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) -> usize {
        let mut pos = 0;
        while pos < bytes.len() {
            if self.layers[d].cur.is_none() {
                // Header.
                let layer = &mut self.layers[d];
                if layer.rec_frames.last() != Some(&frame) {
                    layer.rec_frames.push(frame);
                }
                let rest = &bytes[pos..];
                let sslv2_now = layer.sslv2
                    && (if layer.hdr_len > 0 {
                        layer.hdr[0]
                    } else {
                        rest[0]
                    }) & 0x80
                        != 0;
                let hdr_size = if sslv2_now { 2 } else { 5 };
                let header: [u8; 5];
                let from_buffer = layer.hdr_len > 0 || rest.len() < hdr_size;
                if !from_buffer {
                    let mut h = [0u8; 5];
                    h[..hdr_size].copy_from_slice(&rest[..hdr_size]);
                    header = h;
                    pos += hdr_size;
                } else {
                    let take = (hdr_size - layer.hdr_len).min(rest.len());
                    layer.hdr[layer.hdr_len..layer.hdr_len + take].copy_from_slice(&rest[..take]);
                    layer.hdr_len += take;
                    pos += take;
                    if layer.hdr_len < hdr_size {
                        return pos;
                    }
                    header = layer.hdr;
                    layer.hdr_len = 0;
                }
                let record = if sslv2_now {
                    let len = (((header[0] & 0x7f) as usize) << 8) | header[1] as usize;
                    Record {
                        kind: 0,
                        len,
                        remaining: len,
                        keep: true,
                        damaged: false,
                        sslv2: true,
                        hdr_version: [0, 2],
                    }
                } else if (20..=24).contains(&header[0]) && header[1] == 3 && header[2] <= 4 {
                    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
                    if len > MAX_RECORD {
                        // Beyond what any TLS version allows; still skip it to stay in sync.
                        self.oversized_records += 1;
                    }
                    let keep = match header[0] {
                        22 => {
                            !layer.encrypted
                                || self.version == Some(TLS13)
                                || self.null_cipher_mac.is_some()
                        }
                        20 | 21 => true,
                        _ => false,
                    } || self
                        .decrypt
                        .as_ref()
                        .is_some_and(|ds| ds.will_decrypt(d, header[0]));
                    let keep = keep && len <= MAX_RECORD;
                    Record {
                        kind: header[0],
                        len,
                        remaining: len,
                        keep,
                        damaged: false,
                        sslv2: false,
                        hdr_version: [header[1], header[2]],
                    }
                } else {
                    // Lost sync: look for the next plausible record.
                    layer.sync_losses += 1;
                    layer.rec_frames.clear();
                    layer.mode = Mode::Scan { any_record: true };
                    self.note(format!(
                        "lost TLS record framing at frame {at_frame}; resynchronised on the next plausible record"
                    ));
                    // Rescan from just after the bad header's first byte (or from the start of
                    // this chunk when the header began in an earlier one).
                    return if from_buffer { 0 } else { pos - hdr_size + 1 };
                };
                let layer = &mut self.layers[d];
                layer.records += 1;
                layer.body.clear();
                layer.cur = Some(record);
                if record.len == 0 {
                    self.complete_record(d, at_frame, ts_ns, ctx, None);
                }
                continue;
            }
            // Body.
            let layer = &mut self.layers[d];
            let Some(mut rec) = layer.cur else { break };
            let n = rec.remaining.min(bytes.len() - pos);
            if layer.rec_frames.last() != Some(&frame) {
                layer.rec_frames.push(frame);
            }
            let whole_here = rec.remaining == rec.len && n == rec.len;
            rec.remaining -= n;
            layer.cur = Some(rec);
            if whole_here && rec.keep {
                // Zero-copy: the record is whole in this chunk.
                let content = &bytes[pos..pos + n];
                pos += n;
                self.complete_record(d, at_frame, ts_ns, ctx, Some(content));
                continue;
            }
            if rec.keep {
                layer.body.extend_from_slice(&bytes[pos..pos + n]);
            }
            pos += n;
            if rec.remaining == 0 {
                self.complete_record(d, at_frame, ts_ns, ctx, None);
            }
        }
        pos
    }

    /// A record is complete: dispatch on its type. `inline` holds its content when it was not
    /// copied into the body buffer.
    fn complete_record(
        &mut self,
        d: usize,
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
        inline: Option<&[u8]>,
    ) {
        let Some(rec) = self.layers[d].cur.take() else {
            return;
        };
        self.next_seq += 1;
        let body = std::mem::take(&mut self.layers[d].body);
        let content: &[u8] = inline.unwrap_or(&body);
        let dir = d as u8;
        if rec.damaged {
            if rec.kind == 22 && rec.keep {
                self.note(format!(
                    "a handshake record completed at frame {at_frame} lost bytes in a capture gap; its messages cannot be decoded"
                ));
                self.layers[d].hs_buf.clear();
                self.layers[d].hs_pieces.clear();
            }
        } else if rec.sslv2 {
            self.sslv2_record(d, content, at_frame, ts_ns);
        } else {
            self.detected = true;
            let mut kind = rec.kind;
            let plaintext = if rec.keep
                && self
                    .decrypt
                    .as_ref()
                    .is_some_and(|ds| ds.will_decrypt(d, rec.kind))
            {
                self.decrypt_record(d, &rec, content, at_frame)
            } else {
                None
            };
            if let Some((inner, _)) = &plaintext {
                kind = *inner;
            }
            let decrypted = plaintext.is_some();
            self.decrypting_now = decrypted;
            let content: &[u8] = plaintext
                .as_ref()
                .map(|(_, p)| p.as_slice())
                .unwrap_or(content);
            // With a NULL cipher the "encrypted" records are plaintext followed by their MAC.
            let null_mac = self
                .null_cipher_mac
                .filter(|_| self.layers[d].encrypted && !decrypted);
            let content = match null_mac {
                Some(mac) if content.len() >= mac => &content[..content.len() - mac],
                _ => content,
            };
            match kind {
                22 if rec.keep
                    && (decrypted
                        || !self.layers[d].encrypted
                        || null_mac.is_some()
                        || self.version == Some(TLS13)) =>
                {
                    self.handshake_bytes(d, content, at_frame, ts_ns, ctx)
                }
                22 => {
                    let layer = &mut self.layers[d];
                    let after = layer.finished_seen;
                    layer.finished_seen = true;
                    if self.encrypted_handshake.len() < MAX_EVENTS {
                        self.encrypted_handshake.push(EncryptedHandshake {
                            direction: Direction::Unknown,
                            frame: at_frame,
                            length: rec.len,
                            after_finished: after,
                            dir,
                            seq: self.next_seq,
                        });
                    }
                }
                20 => {
                    if self.ccs.len() < MAX_EVENTS {
                        self.ccs.push((dir, at_frame, self.next_seq));
                    }
                    // TLS 1.3 sends CCS only for middlebox compatibility; it changes nothing.
                    if self.version != Some(TLS13) {
                        self.layers[d].encrypted = true;
                        // The keys negotiated by the last hellos take over in this direction.
                        if let Some(ds) = self.decrypt.as_mut() {
                            ds.activate_pending(d);
                        }
                    }
                }
                21 => {
                    let clear = content.len() == 2
                        && (decrypted
                            || null_mac.is_some()
                            || !(self.layers[d].encrypted && rec.len != 2));
                    if self.alerts.len() < MAX_EVENTS {
                        self.alerts.push(if clear {
                            AlertEvent {
                                direction: Direction::Unknown,
                                frame: at_frame,
                                level: Some(content[0]),
                                description: Some(content[1]),
                                name: Some(alert_name(content[1])),
                                encrypted: false,
                                decrypted,
                                dir,
                                seq: self.next_seq,
                            }
                        } else {
                            AlertEvent {
                                direction: Direction::Unknown,
                                frame: at_frame,
                                level: None,
                                description: None,
                                name: None,
                                encrypted: true,
                                decrypted: false,
                                dir,
                                seq: self.next_seq,
                            }
                        });
                    }
                }
                23 => {
                    let app = &mut self.layers[d].app;
                    app.records += 1;
                    app.bytes += rec.len as u64;
                    app.first_frame.get_or_insert(at_frame);
                    if decrypted {
                        app.decrypted_bytes += content.len() as u64;
                        if self.app_plaintext.len() < MAX_APP_CHUNKS {
                            self.app_plaintext.push((dir, at_frame, content.to_vec()));
                        }
                    }
                }
                _ => {}
            }
            self.decrypting_now = false;
            self.apply_key_switch(d, at_frame);
        }
        // Give the buffer back for reuse.
        let layer = &mut self.layers[d];
        layer.rec_frames.clear();
        if inline.is_none() {
            let mut body = body;
            body.clear();
            layer.body = body;
        }
    }

    fn sslv2_record(&mut self, d: usize, content: &[u8], at_frame: u64, ts_ns: i64) {
        self.sslv2_records += 1;
        let Some(&kind) = content.first() else { return };
        let (name, detail): (&'static str, Option<Detail>) = match kind {
            1 if self.client_dir.is_none() => {
                self.client_dir = Some(d as u8);
                let version = content
                    .get(1..3)
                    .map(|v| u16::from_be_bytes([v[0], v[1]]))
                    .unwrap_or(0);
                let info = handshake::ClientHelloInfo {
                    legacy_version: handshake::version_name(version),
                    cipher_suites: content
                        .get(3..5)
                        .map(|v| u16::from_be_bytes([v[0], v[1]]) as usize / 3)
                        .unwrap_or(0),
                    sslv2_format: true,
                    ..Default::default()
                };
                // The challenge, right-aligned in 32 zero bytes, is the client random when the
                // server answers with TLS (RFC 5246 appendix E.2).
                let field = |i: usize| {
                    content
                        .get(i..i + 2)
                        .map(|v| u16::from_be_bytes([v[0], v[1]]) as usize)
                        .unwrap_or(0)
                };
                let (specs, session, challenge) = (field(3), field(5), field(7));
                let start = 9 + specs + session;
                if let Some(ch) = content
                    .get(start..start + challenge)
                    .filter(|c| c.len() <= 32)
                {
                    let mut random = [0u8; 32];
                    random[32 - ch.len()..].copy_from_slice(ch);
                    self.client_random = Some(random);
                }
                ("client_hello", Some(Detail::ClientHello(info)))
            }
            4 if self.messages.iter().all(|m| m.kind != "sslv2_server_hello") => {
                self.version.get_or_insert(0x0002);
                ("sslv2_server_hello", None)
            }
            // The last message in clear: everything after it is encrypted.
            2 if self.client_dir == Some(d as u8)
                && self
                    .messages
                    .iter()
                    .all(|m| m.kind != "sslv2_client_master_key") =>
            {
                ("sslv2_client_master_key", None)
            }
            _ => return,
        };
        self.detected = true;
        let frames = self.layers[d].rec_frames.clone();
        self.messages.push(HandshakeMessage {
            kind: name,
            type_id: kind,
            direction: Direction::Unknown,
            frame: at_frame,
            frames,
            length: content.len() as u32,
            records: 1,
            decrypted: false,
            dir: d as u8,
            ts_ns,
            seq: self.next_seq,
            detail,
        });
    }

    /// Appends plaintext handshake bytes and decodes every message they complete.
    fn handshake_bytes(
        &mut self,
        d: usize,
        mut content: &[u8],
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) {
        let frames = self.layers[d].rec_frames.clone();
        // Skip the rest of an oversized message.
        let layer = &mut self.layers[d];
        if layer.hs_skip > 0 {
            let n = layer.hs_skip.min(content.len());
            layer.hs_skip -= n;
            content = &content[n..];
        }
        // Fast path: nothing buffered, messages whole in this record.
        if self.layers[d].hs_buf.is_empty() {
            let mut c = content;
            while c.len() >= 4 {
                let len = u32::from_be_bytes([0, c[1], c[2], c[3]]) as usize;
                if c.len() < 4 + len {
                    break;
                }
                let (msg, rest) = c.split_at(4 + len);
                if !self.message(d, msg, frames.clone(), 1, at_frame, ts_ns, ctx) {
                    return;
                }
                c = rest;
            }
            content = c;
            if content.is_empty() {
                return;
            }
        }
        let layer = &mut self.layers[d];
        layer.hs_buf.extend_from_slice(content);
        let end = layer.hs_buf.len();
        layer.hs_pieces.push((end, frames));
        loop {
            let layer = &mut self.layers[d];
            if layer.hs_buf.len() < 4 {
                return;
            }
            let len =
                u32::from_be_bytes([0, layer.hs_buf[1], layer.hs_buf[2], layer.hs_buf[3]]) as usize;
            if handshake_name(layer.hs_buf[0]) == "unknown" {
                // Not a handshake header: encrypted bytes, or garbage after a malformed message.
                let bytes = std::mem::take(&mut layer.hs_buf);
                layer.hs_pieces.clear();
                self.message(d, &bytes, Vec::new(), 1, at_frame, ts_ns, ctx);
                return;
            }
            if len > MAX_HANDSHAKE_MESSAGE {
                let kind = layer.hs_buf[0];
                let have = layer.hs_buf.len() - 4;
                layer.hs_skip = len - have;
                layer.hs_buf.clear();
                layer.hs_pieces.clear();
                self.note(format!(
                    "{} of {len} bytes at frame {at_frame} is larger than {} MiB and was not decoded",
                    handshake_name(kind),
                    MAX_HANDSHAKE_MESSAGE >> 20
                ));
                return;
            }
            if layer.hs_buf.len() < 4 + len {
                return;
            }
            let msg: Vec<u8> = layer.hs_buf.drain(..4 + len).collect();
            // Frames of the records that brought these bytes.
            let mut msg_frames: Vec<u64> = Vec::new();
            let mut records = 0u32;
            let mut start = 0usize;
            let mut keep = Vec::new();
            for (piece_end, pf) in layer.hs_pieces.drain(..) {
                if start < 4 + len {
                    records += 1;
                    for f in &pf {
                        if !msg_frames.contains(f) {
                            msg_frames.push(*f);
                        }
                    }
                }
                if piece_end > 4 + len {
                    keep.push((piece_end - (4 + len), pf));
                }
                start = piece_end;
            }
            layer.hs_pieces = keep;
            if !self.message(d, &msg, msg_frames, records, at_frame, ts_ns, ctx) {
                return;
            }
        }
    }

    /// Records one whole handshake message. Returns false when the bytes turned out not to be a
    /// plaintext handshake (the direction is encrypted and we missed the switch).
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        d: usize,
        msg: &[u8],
        frames: Vec<u64>,
        records: u32,
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) -> bool {
        let kind = msg[0];
        let body = &msg[4..];
        if handshake_name(kind) == "unknown" {
            // Wireshark's heuristic too: an unknown type means an encrypted handshake record
            // whose ChangeCipherSpec we did not see (gap, or picked up mid-stream).
            let layer = &mut self.layers[d];
            layer.encrypted = true;
            // Without a ChangeCipherSpec seen, the first such record is taken for Finished.
            let after_finished = layer.finished_seen;
            layer.finished_seen = true;
            layer.hs_buf.clear();
            layer.hs_pieces.clear();
            if self.encrypted_handshake.len() < MAX_EVENTS {
                self.encrypted_handshake.push(EncryptedHandshake {
                    direction: Direction::Unknown,
                    frame: at_frame,
                    length: msg.len(),
                    after_finished,
                    dir: d as u8,
                    seq: self.next_seq,
                });
            }
            return false;
        }
        let detail = handshake::decode(kind, body, self.version, &mut ctx.certs);
        match (&detail, kind) {
            (Some(Detail::ClientHello(ch)), 1) => {
                self.client_random = body.get(2..34).and_then(|r| r.try_into().ok());
                self.encrypt_then_mac[0] = ch.extensions.contains(&22);
                self.early_data_offered = ch.extensions.contains(&42);
            }
            (Some(Detail::ServerHello(sh)), 2) if !sh.hello_retry_request => {
                self.server_random = body.get(2..34).and_then(|r| r.try_into().ok());
                self.encrypt_then_mac[1] = sh.extensions.contains(&22);
                self.deflate = sh.compression == 1;
            }
            _ => {}
        }
        if self.decrypting_now && self.version == Some(TLS13) {
            if let Some(ds) = self.decrypt.as_mut() {
                match kind {
                    // Only the handshake's Finished switches to application keys; the Finished
                    // of post-handshake authentication does not (RFC 8446 4.6.2).
                    20 if !ds.on_traffic_keys[d] => {
                        ds.switch[d] = KeySwitch::Traffic;
                        ds.on_traffic_keys[d] = true;
                    }
                    24 => ds.switch[d] = KeySwitch::Update,
                    _ => {}
                }
            }
        }
        if self.client_dir.is_none() {
            match kind {
                1 => self.client_dir = Some(d as u8),
                2 => self.client_dir = Some(1 - d as u8),
                _ => {}
            }
        }
        if let (Some(Detail::ServerHello(sh)), 2) = (&detail, kind) {
            if sh.hello_retry_request {
                self.version = Some(TLS13);
            } else {
                self.version = Some(sh.version_id);
                self.cipher = Some(sh.cipher_id);
                self.null_cipher_mac = tls_parser::TlsCipherSuite::from_id(sh.cipher_id)
                    .filter(|cs| cs.enc == tls_parser::TlsCipherEnc::Null)
                    .map(|cs| cs.mac_size as usize / 8);
                self.setup_keys(d, ctx);
            }
        }
        self.next_seq += 1;
        if self.messages.len() < MAX_EVENTS * 4 {
            self.messages.push(HandshakeMessage {
                kind: handshake_name(kind),
                type_id: kind,
                direction: Direction::Unknown,
                frame: at_frame,
                frames,
                length: body.len() as u32,
                records,
                decrypted: self.decrypting_now,
                dir: d as u8,
                ts_ns,
                seq: self.next_seq,
                detail,
            });
        }
        true
    }

    /// Looks up this connection's secrets after a ServerHello sent in direction `server_dir` and
    /// prepares record protection: TLS 1.3 handshake keys at once, TLS <= 1.2 keys pending until
    /// each direction's ChangeCipherSpec.
    fn setup_keys(&mut self, server_dir: usize, ctx: &TlsContext) {
        let result = self.find_keys(server_dir, ctx);
        if let Err(reason) = result {
            // A renegotiation whose keys are missing: the current keys end at its CCS.
            if let Some(ds) = self.decrypt.as_mut() {
                if !ds.tls13 {
                    ds.pending = [None, None];
                    ds.pending_missing = Some(format!("renegotiated handshake: {reason}"));
                }
            }
            self.decrypt_reason = Some(reason);
        } else {
            self.decrypt_reason = None;
        }
    }

    fn find_keys(
        &mut self,
        server_dir: usize,
        ctx: &TlsContext,
    ) -> Result<(), std::borrow::Cow<'static, str>> {
        if ctx.keylog.is_empty() {
            return Err(
                "no key log given (--keylog, SSLKEYLOGFILE or a pcapng Decryption Secrets Block)"
                    .into(),
            );
        }
        let (Some(version), Some(cipher)) = (self.version, self.cipher) else {
            return Err("no ServerHello".into());
        };
        let Some(client_random) = self.client_random else {
            return Err("the ClientHello is not in the capture, so its random cannot be matched with the key log".into());
        };
        let Some(secrets) = ctx.keylog.get(&client_random) else {
            return Err(format!(
                "no key for this connection in the key log (client random {}...)",
                hex::encode(&client_random[..8])
            )
            .into());
        };
        let spec = decrypt::cipher_spec(cipher).map_err(std::borrow::Cow::Owned)?;
        let client_dir = 1 - server_dir;
        if version == TLS13 {
            let (Some(chs), Some(shs)) = (&secrets.client_handshake, &secrets.server_handshake)
            else {
                return Err(
                    "the key log has no TLS 1.3 handshake traffic secrets for this connection"
                        .into(),
                );
            };
            let mut ds = DecryptState::new(true, spec);
            ds.current[client_dir] = decrypt::tls13_cipher(spec, chs);
            ds.current[server_dir] = decrypt::tls13_cipher(spec, shs);
            ds.traffic[client_dir] = secrets.client_traffic_0.clone();
            ds.traffic[server_dir] = secrets.server_traffic_0.clone();
            self.decrypt = Some(Box::new(ds));
            Ok(())
        } else if version >= 0x0301 {
            let Some(ms) = &secrets.master_secret else {
                return Err(
                    "the key log has no CLIENT_RANDOM master secret for this connection".into(),
                );
            };
            let Some(server_random) = self.server_random else {
                return Err("no ServerHello random".into());
            };
            let etm = self.encrypt_then_mac[0] && self.encrypt_then_mac[1];
            let (c, s) =
                decrypt::tls12_ciphers(spec, version, ms, &client_random, &server_random, etm);
            // A renegotiation keeps the current keys until its ChangeCipherSpec.
            let ds = self
                .decrypt
                .get_or_insert_with(|| Box::new(DecryptState::new(false, spec)));
            ds.spec = spec;
            ds.deflate = self.deflate;
            ds.pending[client_dir] = Some(c);
            ds.pending[server_dir] = Some(s);
            ds.pending_missing = None;
            Ok(())
        } else {
            Err(format!(
                "{} decryption is not supported",
                handshake::version_name(version)
            )
            .into())
        }
    }

    /// Decrypts a record's content; None when it cannot be (the direction then stays encrypted).
    fn decrypt_record(
        &mut self,
        d: usize,
        rec: &Record,
        content: &[u8],
        at_frame: u64,
    ) -> Option<(u8, Vec<u8>)> {
        let client_dir = self.client_dir.map(|c| c as usize);
        let early_data = self.early_data_offered;
        let ds = self.decrypt.as_mut()?;
        let cipher = ds.current[d].as_mut()?;
        let side = if Some(d) == client_dir {
            "client"
        } else {
            "server"
        };
        match cipher.decrypt(rec.kind, rec.hdr_version, content) {
            Ok((kind, plain)) => {
                ds.records[d] += 1;
                let Some(inflater) = ds.inflate[d].as_mut() else {
                    return Some((kind, plain));
                };
                // DEFLATE compression (RFC 3749): one stream per direction, flushed per record.
                let mut out = Vec::with_capacity(plain.len() * 4 + 64);
                let before = inflater.total_in();
                let r = inflater.decompress_vec(&plain, &mut out, flate2::FlushDecompress::Sync);
                out.reserve(MAX_INFLATED.saturating_sub(out.len()));
                let mut r = r;
                while r.is_ok()
                    && ((inflater.total_in() - before) as usize) < plain.len()
                    && out.len() < MAX_INFLATED
                {
                    let used = (inflater.total_in() - before) as usize;
                    r = inflater.decompress_vec(
                        &plain[used..],
                        &mut out,
                        flate2::FlushDecompress::Sync,
                    );
                    if out.capacity() == out.len() {
                        out.reserve(4096);
                    }
                }
                match r {
                    Ok(_) => Some((kind, out)),
                    Err(_) => {
                        ds.failed[d] = Some(format!("decompression failed at the {} record from the {side} (frame {at_frame})", ordinal(ds.records[d])));
                        ds.current[d] = None;
                        None
                    }
                }
            }
            Err(e) => {
                // TLS 1.3 0-RTT data was sent under early keys: skip it until the handshake
                // keys fit, as Wireshark does.
                if ds.tls13
                    && Some(d) == client_dir
                    && ds.records[d] == 0
                    && early_data
                    && ds.early_skips < 64
                {
                    ds.early_skips += 1;
                    return None;
                }
                let what = match e {
                    decrypt::DecryptError::Authentication => "authentication failed".to_string(),
                    decrypt::DecryptError::Malformed(m) => format!("record malformed ({m})"),
                };
                ds.failed[d] = Some(format!(
                    "{what} at the {} encrypted record from the {side} (frame {at_frame}): wrong key log, or keys of another session",
                    ordinal(ds.records[d] + 1)
                ));
                ds.current[d] = None;
                None
            }
        }
    }

    /// TLS 1.3: after a Finished or KeyUpdate, the direction's next records use new keys.
    fn apply_key_switch(&mut self, d: usize, at_frame: u64) {
        let Some(ds) = self.decrypt.as_mut() else {
            return;
        };
        let switch = std::mem::replace(&mut ds.switch[d], KeySwitch::None);
        let next = match switch {
            KeySwitch::None => return,
            KeySwitch::Traffic => match &ds.traffic[d] {
                Some(secret) => decrypt::tls13_cipher(ds.spec, secret),
                None => {
                    ds.failed[d] = Some(format!(
                        "the key log has no application traffic secret for this direction (needed after frame {at_frame})"
                    ));
                    None
                }
            },
            KeySwitch::Update => ds.current[d].as_ref().and_then(|c| c.key_update()),
        };
        ds.current[d] = next;
    }

    /// How far decryption went.
    pub fn decryption_status(&self, client_dir: usize) -> DecryptionStatus {
        let (records, failures) = match &self.decrypt {
            Some(ds) => (ds.records, ds.failed.clone()),
            None => ([0, 0], [None, None]),
        };
        let c = records[client_dir];
        let s = records[1 - client_dir];
        let failure = failures[client_dir]
            .clone()
            .or(failures[1 - client_dir].clone())
            .map(std::borrow::Cow::Owned);
        let status = if c + s == 0 {
            "not-decrypted"
        } else if failure.is_some() {
            "partly-decrypted"
        } else {
            "decrypted"
        };
        let reason = failure.or_else(|| {
            if c + s == 0 {
                self.decrypt_reason.clone()
            } else {
                None
            }
        });
        DecryptionStatus {
            status,
            reason,
            client_records: c,
            server_records: s,
        }
    }

    /// Bytes of direction `dir` were lost in a capture gap.
    pub fn on_gap(&mut self, dir: u8, len: u64, at_frame: u64) {
        let d = (dir & 1) as usize;
        // Lost records break the sequence numbers (and TLS 1.0 CBC chaining): stop decrypting
        // this direction and say why.
        if let Some(ds) = self.decrypt.as_mut() {
            if ds.current[d].is_some() || ds.pending[d].is_some() {
                ds.current[d] = None;
                ds.pending[d] = None;
                ds.failed[d] = Some(format!(
                    "{len} bytes lost in a capture gap at frame {at_frame}; later records of this direction cannot be decrypted"
                ));
            }
        }
        let layer = &mut self.layers[d];
        match layer.mode {
            Mode::Records => {
                let mut lost_handshake = !layer.hs_buf.is_empty() || layer.hs_skip > 0;
                match layer.cur.as_mut() {
                    Some(rec) if (len as usize) < rec.remaining && layer.hdr_len == 0 => {
                        rec.remaining -= len as usize;
                        rec.damaged = true;
                        lost_handshake |= rec.kind == 22 && rec.keep;
                    }
                    _ => {
                        layer.cur = None;
                        layer.hdr_len = 0;
                        layer.mode = Mode::Scan { any_record: true };
                    }
                }
                if lost_handshake {
                    layer.hs_buf.clear();
                    layer.hs_pieces.clear();
                    layer.hs_skip = 0;
                    self.note(format!(
                        "{len} bytes lost in a capture gap at frame {at_frame} cut a handshake message; it is not reported"
                    ));
                }
            }
            Mode::Start => layer.mode = Mode::Scan { any_record: true },
            _ => {}
        }
    }

    /// End of the connection or of the capture: report what was left incomplete, and settle
    /// directions.
    pub fn finish(&mut self) {
        for d in 0..2 {
            let layer = &self.layers[d];
            if layer.hs_buf.len() >= 4 {
                let kind = layer.hs_buf[0];
                let len =
                    u32::from_be_bytes([0, layer.hs_buf[1], layer.hs_buf[2], layer.hs_buf[3]]);
                let have = layer.hs_buf.len() - 4;
                let frames: Vec<String> = layer
                    .hs_pieces
                    .iter()
                    .flat_map(|(_, f)| f.iter().map(|x| x.to_string()))
                    .collect();
                let text = format!(
                    "incomplete {} ({have} of {len} bytes, frames {}): the rest is not in the capture",
                    handshake_name(kind),
                    frames.join(",")
                );
                self.note(text);
            } else if let Some(rec) = layer.cur {
                if rec.keep && rec.kind == 22 {
                    let text = format!(
                        "incomplete handshake record ({} of {} bytes) at the end: the rest is not in the capture",
                        rec.len - rec.remaining,
                        rec.len
                    );
                    self.note(text);
                }
            }
        }
        let client = self.client_dir;
        let dir_of = |d: u8| match client {
            Some(c) if c == d => Direction::Client,
            Some(_) => Direction::Server,
            None => Direction::Unknown,
        };
        for m in &mut self.messages {
            m.direction = dir_of(m.dir);
        }
        for a in &mut self.alerts {
            a.direction = dir_of(a.dir);
        }
        for e in &mut self.encrypted_handshake {
            e.direction = dir_of(e.dir);
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

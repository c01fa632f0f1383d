//! Handshake reassembly: plaintext handshake bytes of one direction joined across records and
//! segments into whole messages (with every frame that carried them), SSLv2 hello records, and
//! the session facts each message sets (version, suite, randoms, keys).

use super::handshake::{self, handshake_name, Detail, TLS13};
use super::keys::KeySwitch;
use super::*;

/// Which buffer of a direction just grew (see [`TlsSession::settle_layer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// The incomplete record: on refusal the caller drops it.
    Record,
    /// The incomplete handshake message: on refusal it is dropped here.
    Message,
}

/// An empty buffer keeps an allocation at most this large (uncounted) for the next bytes.
pub(super) const SMALL: usize = 4096;

/// What one piece of an incomplete handshake message costs beyond its bytes (its list of
/// frames), counted against the memory budget.
const HS_PIECE_OVERHEAD: usize = 64;

impl TlsSession {
    pub(super) fn sslv2_record(&mut self, d: usize, content: &[u8], at_frame: u64, ts_ns: i64) {
        self.sslv2_records += 1;
        // After CLIENT-MASTER-KEY both sides encrypt (SSLv2 section 2.6): nothing more to read.
        if self
            .messages
            .iter()
            .any(|m| m.kind == "sslv2_client_master_key")
        {
            return;
        }
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
                self.version.get_or_insert(SSLV2);
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

    /// Appends plaintext handshake bytes and decodes every message they complete; what is left
    /// of an incomplete message draws on the memory budget.
    pub(super) fn handshake_bytes(
        &mut self,
        d: usize,
        content: &[u8],
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) {
        self.reassemble_handshake(d, content, at_frame, ts_ns, ctx);
        self.settle_layer(d, Hold::Message, at_frame, ctx);
    }

    /// Brings direction `d`'s claim on the memory budget to what it holds while waiting for
    /// more: the incomplete record (`body`) and the incomplete handshake message. Checked once
    /// bytes were taken (so the budget may be passed by one segment or one record, at most
    /// 18 KiB, for that moment). Returns false when the budget refused a record's bytes: the
    /// caller drops that record. When it refuses an incomplete handshake message, the message is
    /// dropped here and the rest of it skipped, as for a message over 4 MiB, and the connection
    /// says so.
    pub(super) fn settle_layer(
        &mut self,
        d: usize,
        what: Hold,
        at_frame: u64,
        ctx: &mut TlsContext,
    ) -> bool {
        let layer = &mut self.layers[d];
        // A large message leaves a large allocation behind: give it back once done or mostly
        // unused. An empty buffer keeps at most a small allocation and is not counted.
        let cap = layer.hs_buf.capacity();
        if (layer.hs_buf.is_empty() && cap > SMALL)
            || (cap > 64 << 10 && layer.hs_buf.len() < cap / 4)
        {
            layer.hs_buf.shrink_to_fit();
        }
        let used = |v: &Vec<u8>| if v.is_empty() { 0 } else { v.capacity() };
        let want =
            used(&layer.body) + used(&layer.hs_buf) + layer.hs_pieces.len() * HS_PIECE_OVERHEAD;
        if layer.held.set(&ctx.budget, want) {
            return true;
        }
        if what == Hold::Record || layer.hs_buf.len() < 4 {
            if what == Hold::Message {
                // Too little to know the message: a few bytes are kept whatever the budget says.
                layer.held.force(&ctx.budget, want);
            }
            return what == Hold::Message;
        }
        let kind = layer.hs_buf[0];
        let len =
            u32::from_be_bytes([0, layer.hs_buf[1], layer.hs_buf[2], layer.hs_buf[3]]) as usize;
        let have = layer.hs_buf.len();
        layer.hs_skip = (4 + len).saturating_sub(have);
        layer.hs_buf = Vec::new();
        layer.hs_pieces = Vec::new();
        let want = used(&layer.body);
        layer.held.force(&ctx.budget, want);
        ctx.budget
            .refused(crate::budget::Use::Tls, have as u64, at_frame);
        self.note(format!(
            "handshake bytes beyond the memory budget were dropped at frame {at_frame}: {} of {len} bytes was not decoded ({have} bytes had arrived; --max-memory)",
            handshake_name(kind),
        ));
        true
    }

    /// The memory budget refused the bytes of the current record of direction `d`: the rest
    /// of the record is walked but not read. A handshake record takes its message with it (the
    /// rest of the message is skipped, as for a message over 4 MiB); the connection says so.
    pub(super) fn drop_record_over_budget(
        &mut self,
        d: usize,
        at_frame: u64,
        ctx: &mut TlsContext,
    ) {
        let layer = &mut self.layers[d];
        let Some(mut rec) = layer.cur else { return };
        let arrived = layer.hs_buf.len() + layer.body.len();
        rec.keep = false;
        rec.over_budget = true;
        layer.cur = Some(rec);
        if rec.kind == 22 && layer.hs_buf.is_empty() && layer.hs_skip >= rec.len {
            // All of it is the rest of a message already given up (and said): skip it here.
            layer.hs_skip -= rec.len;
            layer.body = Vec::new();
            self.settle_layer(d, Hold::Record, at_frame, ctx);
            return;
        }
        // The record may first end a message being skipped; the dropped one starts after that.
        let skipped = if layer.hs_buf.is_empty() {
            layer.hs_skip.min(rec.len)
        } else {
            0
        };
        if rec.kind == 22 {
            // Those bytes go by unread with the record.
            layer.hs_skip -= skipped;
        }
        let header: Vec<u8> = layer
            .hs_buf
            .iter()
            .chain(layer.body.get(skipped..).unwrap_or(&[]))
            .take(4)
            .copied()
            .collect();
        let text = match header[..] {
            [kind, a, b, c] if rec.kind == 22 && handshake_name(kind) != "unknown" => {
                let len = u32::from_be_bytes([0, a, b, c]) as usize;
                // The message's bytes that go by unread: what was buffered, and this record
                // after the end of the message being skipped.
                layer.hs_skip =
                    (4 + len).saturating_sub(layer.hs_buf.len() + rec.len - skipped);
                format!(
                    "handshake bytes beyond the memory budget were dropped at frame {at_frame}: {} of {len} bytes was not decoded ({arrived} bytes had arrived; --max-memory)",
                    handshake_name(kind)
                )
            }
            _ => format!(
                "TLS bytes beyond the memory budget were dropped at frame {at_frame}: a record of {} bytes was not read (--max-memory)",
                rec.len
            ),
        };
        if rec.kind == 22 {
            layer.hs_buf = Vec::new();
            layer.hs_pieces = Vec::new();
        }
        layer.body = Vec::new();
        ctx.budget
            .refused(crate::budget::Use::Tls, arrived as u64, at_frame);
        self.settle_layer(d, Hold::Record, at_frame, ctx);
        self.note(text);
    }

    fn reassemble_handshake(
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
    pub(super) fn message(
        &mut self,
        d: usize,
        msg: &[u8],
        frames: Vec<u64>,
        records: u32,
        at_frame: u64,
        ts_ns: i64,
        ctx: &mut TlsContext,
    ) -> bool {
        // Like Wireshark, a message belongs to the frame that completed it, and that frame is
        // one of those that carried it: the latest.
        let mut frames = frames;
        let at_frame = frames.iter().copied().fold(at_frame, u64::max);
        if !frames.contains(&at_frame) {
            frames.push(at_frame);
        }
        frames.sort_unstable();
        frames.dedup();
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
            layer.finished_guessed |= !layer.ccs_seen;
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
        let mut detail = handshake::decode(kind, body, self.version, &mut ctx.certs);
        match (&detail, kind) {
            (Some(Detail::ClientHello(ch)), 1) => {
                self.client_random = body.get(2..34).and_then(|r| r.try_into().ok());
                self.encrypt_then_mac[0] = ch.extensions.contains(&22);
                self.ems[0] = ch.extensions.contains(&23);
                self.early_data_offered = ch.extensions.contains(&42);
                (self.client_session_id, self.ticket) = handshake::hello_session(body, true);
                // A new handshake: its transcript starts here (only kept when a pre-master
                // secret may need the extended master secret's session hash).
                self.transcript = (!ctx.server_keys.is_empty()
                    || ctx.keylog.has_pre_master_secrets())
                .then(Vec::new);
                self.await_kx = false;
                self.resumed = false;
            }
            (Some(Detail::ServerHello(sh)), 2) if !sh.hello_retry_request => {
                self.server_random = body.get(2..34).and_then(|r| r.try_into().ok());
                self.encrypt_then_mac[1] = sh.extensions.contains(&22);
                self.ems[1] = sh.extensions.contains(&23);
                self.deflate = sh.compression == 1;
                self.session_id = handshake::hello_session(body, false).0;
                // TLS <= 1.2: the server echoing the offered session ID resumes that session
                // (also when the client offered a ticket, RFC 5077 3.4).
                // TLS 1.3 and its drafts and variants echo the ID always (RFC 8446 4.1.3).
                self.resumed = (0x0300..=0x0303).contains(&sh.version_id)
                    && !self.session_id.is_empty()
                    && self.session_id == self.client_session_id;
            }
            (Some(Detail::Certificate(cert)), 11) if self.client_dir == Some(1 - d as u8) => {
                if let Some(leaf) = cert.certificates.first() {
                    self.server_cert = Some(leaf.clone());
                }
            }
            (Some(Detail::NewSessionTicket { .. }), 4) if self.version != Some(TLS13) => {
                // TLS 1.2: the ticket resumes the session whose master secret we derived.
                let ticket = handshake::Cursor::new(body.get(4..).unwrap_or(&[]))
                    .vec16()
                    .map(<[u8]>::to_vec);
                if let (Some(t), Some(ms)) = (ticket, &self.master_secret) {
                    if !t.is_empty() && ctx.sessions.len() < 1 << 16 {
                        ctx.sessions.insert(t, ms.clone());
                    }
                }
            }
            _ => {}
        }
        if kind == 2 && self.resumed {
            if let Some(Detail::ServerHello(sh)) = detail.as_mut() {
                sh.resumed = Some(if self.ticket.is_some() {
                    "session-ticket"
                } else {
                    "session-id"
                });
            }
        }
        if kind != 0 {
            // HelloRequest is not part of the handshake hash (RFC 5246 7.4.1.1).
            if let Some(t) = self.transcript.as_mut() {
                if t.len() + msg.len() <= MAX_HANDSHAKE_MESSAGE {
                    t.extend_from_slice(msg);
                } else {
                    self.transcript = None;
                }
            }
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
        if kind == 16 && self.await_kx && self.client_dir == Some(d as u8) {
            self.keys_from_client_key_exchange(d, body, at_frame, ctx);
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
}

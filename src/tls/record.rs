//! Record framing, one state per direction: TLS and SSLv2 record headers, resynchronisation after
//! a gap or a mid-stream start, scanning for a hello after a cleartext prelude (STARTTLS), and the
//! dispatch of each complete record (handshake, alert, ChangeCipherSpec, application data).

use super::handshake::{handshake_name, TLS13};
use super::keys::MAX_APP_CHUNKS;
use super::reassembly::Hold;
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
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
pub(super) struct Record {
    pub(super) kind: u8,
    pub(super) len: usize,
    pub(super) remaining: usize,
    /// Content is buffered (handshake, alert, CCS in clear).
    pub(super) keep: bool,
    /// Bytes of it were lost in a capture gap.
    pub(super) damaged: bool,
    /// Its content was not buffered: the memory budget refused (see `settle_layer`).
    pub(super) over_budget: bool,
    /// SSLv2 record (2-byte header).
    pub(super) sslv2: bool,
    /// Version bytes of the record header (part of the AEAD additional data and the MAC).
    pub(super) hdr_version: [u8; 2],
}

/// Per-direction record and handshake reassembly state.
pub(super) struct RecordLayer {
    pub(super) mode: Mode,
    pub(super) hdr: [u8; 5],
    pub(super) hdr_len: usize,
    pub(super) cur: Option<Record>,
    pub(super) body: Vec<u8>,
    pub(super) rec_frames: Vec<u64>,
    /// Latest frame at which bytes of the current record were received (TCP's `at_frame`):
    /// the record counts as complete there, not where its last chunk happened to be handed
    /// over (after a capture gap that may be a frame of the other direction).
    pub(super) rec_at: u64,
    /// Plaintext handshake bytes not yet forming a whole message.
    pub(super) hs_buf: Vec<u8>,
    /// (end offset in hs_buf, frames of the record that brought those bytes).
    pub(super) hs_pieces: Vec<(usize, Vec<u64>)>,
    /// Bytes of an oversized handshake message still to skip.
    pub(super) hs_skip: usize,
    /// What `body`, `hs_buf` and `hs_pieces` claim of the memory budget (see
    /// `settle_layer`).
    pub(super) held: crate::budget::Reservation,
    /// After ChangeCipherSpec (TLS <= 1.2): handshake records are encrypted.
    pub(super) encrypted: bool,
    pub(super) finished_seen: bool,
    /// A ChangeCipherSpec was seen in this direction.
    pub(super) ccs_seen: bool,
    /// Handshake bytes were taken for encrypted (and the first for Finished) before any
    /// ChangeCipherSpec of this direction: a guess a later ChangeCipherSpec proves wrong.
    pub(super) finished_guessed: bool,
    /// SSLv2 records may appear (the direction started with one).
    pub(super) sslv2: bool,
    pub(super) scanned: u64,
    /// Last bytes of the previous chunk while scanning, for hellos split across chunks.
    pub(super) scan_tail: Vec<u8>,
    pub(super) records: u64,
    pub(super) app: AppDataStats,
    pub(super) sync_losses: u32,
}

impl RecordLayer {
    /// Bytes of the current record came in `frame`, received at `at_frame`.
    fn note_frame(&mut self, frame: u64, at_frame: u64) {
        if self.rec_frames.last() != Some(&frame) {
            self.rec_frames.push(frame);
        }
        self.rec_at = self.rec_at.max(at_frame);
    }

    fn clear_frames(&mut self) {
        self.rec_frames.clear();
        self.rec_at = 0;
    }

    pub(super) fn new() -> Self {
        RecordLayer {
            mode: Mode::Start,
            hdr: [0; 5],
            hdr_len: 0,
            cur: None,
            body: Vec::new(),
            rec_frames: Vec::new(),
            rec_at: 0,
            hs_buf: Vec::new(),
            hs_pieces: Vec::new(),
            hs_skip: 0,
            held: Default::default(),
            encrypted: false,
            finished_seen: false,
            ccs_seen: false,
            finished_guessed: false,
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
pub(super) fn plausible_header(h: &[u8]) -> bool {
    h.len() >= 5
        && (20..=24).contains(&h[0])
        && h[1] == 3
        && h[2] <= 4
        && (u16::from_be_bytes([h[3], h[4]]) as usize) <= MAX_RECORD
        && u16::from_be_bytes([h[3], h[4]]) > 0
}

/// Is this the start of a ClientHello (dir client) or ServerHello record?
pub(super) fn hello_record_at(b: &[u8]) -> bool {
    plausible_header(b)
        && b[0] == 22
        && b.len() >= 9
        && (b[5] == 1 || b[5] == 2)
        && u32::from_be_bytes([0, b[6], b[7], b[8]]) < 0x10000
}

/// SSLv2-format ClientHello or ServerHello (2-byte header with the high bit set).
pub(super) fn sslv2_hello_at(b: &[u8]) -> bool {
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

impl TlsSession {
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
                        layer.note_frame(frame, at_frame);
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

    pub(super) fn start_direction(&mut self, d: usize, probe: &[u8; 5], midstream: bool) {
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
    pub(super) fn feed(
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
                            layer.clear_frames();
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
                            layer.clear_frames();
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
    pub(super) fn records_step(
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
                layer.note_frame(frame, at_frame);
                let rest = &bytes[pos..];
                let first = if layer.hdr_len > 0 {
                    layer.hdr[0]
                } else {
                    rest[0]
                };
                // Once the server answered in SSLv2, every record is SSLv2: a 2-byte header
                // (high bit set) or, with block-cipher padding, a 3-byte one (high bit clear).
                let sslv2_session = layer.sslv2 && self.version == Some(SSLV2);
                let sslv2_now = layer.sslv2 && (first & 0x80 != 0 || sslv2_session);
                let hdr_size = match (sslv2_now, first & 0x80 != 0) {
                    (true, true) => 2,
                    (true, false) => 3,
                    (false, _) => 5,
                };
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
                    let len = if hdr_size == 2 {
                        (((header[0] & 0x7f) as usize) << 8) | header[1] as usize
                    } else {
                        (((header[0] & 0x3f) as usize) << 8) | header[1] as usize
                    };
                    Record {
                        kind: 0,
                        len,
                        remaining: len,
                        keep: true,
                        damaged: false,
                        over_budget: false,
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
                        over_budget: false,
                        sslv2: false,
                        hdr_version: [header[1], header[2]],
                    }
                } else {
                    // Lost sync: look for the next plausible record.
                    layer.sync_losses += 1;
                    layer.clear_frames();
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
            layer.note_frame(frame, at_frame);
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
                if !self.settle_layer(d, Hold::Record, at_frame, ctx) {
                    self.drop_record_over_budget(d, at_frame, ctx);
                }
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
    pub(super) fn complete_record(
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
        let at_frame = at_frame.max(self.layers[d].rec_at);
        self.next_seq += 1;
        let body = std::mem::take(&mut self.layers[d].body);
        let content: &[u8] = inline.unwrap_or(&body);
        let dir = d as u8;
        if rec.over_budget {
            // A record all the same (said when it was dropped: `drop_record_over_budget`).
            self.detected = true;
        } else if rec.damaged {
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
            let sealed = if self.version == Some(TLS13) {
                rec.kind == 23
            } else {
                self.layers[d].encrypted && self.null_cipher_mac.is_none()
            };
            if sealed && !decrypted && self.sealed.len() < MAX_SEALED {
                self.sealed.push(super::inference::SealedRecord {
                    dir,
                    direction: Direction::Unknown,
                    frame: at_frame,
                    kind: rec.kind,
                    length: rec.len,
                    seq: self.next_seq,
                });
            }
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
                        let layer = &mut self.layers[d];
                        if layer.finished_guessed && !layer.ccs_seen {
                            // The handshake bytes before it were malformed, not encrypted:
                            // the Finished is the next handshake record, and they belong to the
                            // initial handshake, not to a renegotiation.
                            layer.finished_seen = false;
                            layer.finished_guessed = false;
                            for e in self.encrypted_handshake.iter_mut().filter(|e| e.dir == dir) {
                                e.after_finished = false;
                            }
                        }
                        self.layers[d].ccs_seen = true;
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
        layer.clear_frames();
        if inline.is_none() && body.capacity() <= super::reassembly::SMALL {
            let mut body = body;
            body.clear();
            layer.body = body;
        }
        self.settle_layer(d, Hold::Record, at_frame, ctx);
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

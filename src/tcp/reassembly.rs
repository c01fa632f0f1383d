//! Per-direction reassembly: one [`HalfStream`] per direction turns TCP segments into ordered
//! bytes and explicit gaps (see the module above for the delivery rules).

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use crate::budget::{Budget, Reservation};
use crate::packet::{flags, TcpSegment};

/// Bytes handed to the consumer of one direction, in stream order.
#[derive(Debug)]
pub enum Delivery<'a> {
    Data {
        bytes: &'a [u8],
        /// Frame that carried these bytes.
        frame: u64,
        /// The frame at which these bytes count as received, as Wireshark places a reassembled
        /// PDU: the frame that made them contiguous when a segment filled a hole before them,
        /// otherwise (a hole given up on at a peer's ACK, a reset, the end) the latest frame
        /// among those delivered in the same go, never a frame that carried none of them.
        at_frame: u64,
    },
    /// Bytes the capture does not hold.
    Gap {
        len: u64,
        /// Frame being processed when the hole was given up on.
        at_frame: u64,
    },
}

/// A hole in one direction's byte stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GapRecord {
    /// Offset of the hole in the direction's stream (bytes since its start).
    pub offset: u64,
    pub bytes: u64,
    /// Frame at which the hole was given up on.
    pub frame: u64,
}

/// Counters and evidence for one direction.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HalfStats {
    pub bytes: u64,
    pub segments: u64,
    pub retransmitted_bytes: u64,
    pub out_of_order_segments: u64,
    pub conflicting_overlaps: u64,
    pub gaps: Vec<GapRecord>,
    pub gap_bytes: u64,
    /// Out-of-order data discarded because the buffer bound was reached.
    pub buffer_overflows: u64,
}

const MAX_GAP_RECORDS: usize = 32;

/// What a direction that sent no bytes reports: nothing.
static NO_STATS: HalfStats = HalfStats {
    bytes: 0,
    segments: 0,
    retransmitted_bytes: 0,
    out_of_order_segments: 0,
    conflicting_overlaps: 0,
    gaps: Vec::new(),
    gap_bytes: 0,
    buffer_overflows: 0,
};

struct Pending {
    data: Vec<u8>,
    frame: u64,
}

/// One direction of a TCP connection.
///
/// Only what every direction needs (sequence numbers, frames, flags) is kept inline; the rest
/// ([`Extra`]) is allocated when the direction first carries bytes or SYNs disagree. A port
/// scan leaves up to `--max-connections` (100,000) half-open connections live, each one SYN and
/// nothing else: they must stay small.
pub struct HalfStream {
    started: bool,
    pub syn_seen: bool,
    /// No SYN was seen: the first byte seen may not be the first byte of the stream (see
    /// [`starts_midstream`](Self::starts_midstream) for whether bytes are known to be missing).
    pub midstream: bool,
    /// Data or a FIN was seen: the direction's sequence space moved past its SYN, so a SYN
    /// with the same number can no longer be a retransmission, and its base is settled.
    pub sent_data: bool,
    /// The SYNs seen carried ACK (the direction answered the connection).
    syn_acks: bool,
    /// Sequence number of the next byte to deliver.
    next_seq: u32,
    /// Wireshark's base sequence: the SYN's, or one less than the first segment's.
    pub base_seq: Option<u32>,
    /// Stream offset of the next byte to deliver (counts gaps too).
    delivered: u64,
    /// Highest stream offset the peer acknowledged.
    peer_acked: Option<u64>,
    /// Frames of the first FIN, the first RST and the first packet. Frame numbers start at 1
    /// ([`Packet::frame`](crate::capture::Packet::frame)), so `None` costs no extra word.
    fin_frame: Option<NonZeroU64>,
    rst_frame: Option<NonZeroU64>,
    first_frame: Option<NonZeroU64>,
    pub last_frame: u64,
    /// The first SYN's initial sequence number and frame; any others are in
    /// [`Extra::later_syn_isns`].
    first_syn_isn: Option<(u32, NonZeroU64)>,
    /// Allocated on first use (see [`extra_mut`](Self::extra_mut)).
    extra: Option<Box<Extra>>,
}

/// The state of a direction that carries bytes or whose SYNs disagree; a direction that only
/// sent a SYN (or only ACKs) has none.
#[derive(Default)]
struct Extra {
    /// Out-of-order segments by stream offset; never overlapping each other.
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// What the buffered segments claim of the memory budget (see [`HalfStream::settle`]).
    held: Reservation,
    /// The first bytes at stream offset 0 (up to 16), to tell a stream whose SYN is missing
    /// but whose data starts at the beginning (a ClientHello, a request line) from one picked
    /// up in the middle.
    first_data: Vec<u8>,
    /// Distinct initial sequence numbers of the SYNs after the first, with the frame of the
    /// first SYN bearing each (with the first, at most [`MAX_SYN_ISNS`]).
    later_syn_isns: Vec<(u32, u64)>,
    /// Why the base is the one it is when several SYNs disagreed: (frame of its SYN, reason,
    /// frame that told).
    isn_choice: Option<(u64, &'static str, u64)>,
    stats: HalfStats,
    /// Times the memory budget made this direction give up its holes, and the first frame.
    budget_overflows: u64,
    budget_first_frame: u64,
}

impl Extra {
    fn holding(&self) -> usize {
        self.pending_bytes + self.pending.len() * PENDING_OVERHEAD
    }
}

/// A frame number as kept in a [`HalfStream`].
fn frame_number(frame: u64) -> Option<NonZeroU64> {
    debug_assert!(frame != 0, "frame numbers start at 1");
    NonZeroU64::new(frame)
}

/// What one buffered segment costs beyond its bytes (map node, vector header), counted so
/// that many tiny segments cannot hold much more memory than the budget says.
const PENDING_OVERHEAD: usize = 64;

/// SYN-ACKs with distinct sequence numbers remembered per direction (middleboxes, SYN cookies
/// and load balancers send a few; more is noise).
const MAX_SYN_ISNS: usize = 8;

/// The first bytes of a TLS or HTTP stream as its first data: a handshake record holding a
/// ClientHello or ServerHello, an HTTP/1 request line or status line, or the HTTP/2 preface.
fn looks_like_stream_start(data: &[u8]) -> bool {
    if data.len() >= 6 && data[0] == 0x16 && data[1] == 0x03 && matches!(data[5], 1 | 2) {
        return true;
    }
    const STARTS: [&[u8]; 11] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
        b"HTTP/1.",
        b"PRI * HTTP/2",
    ];
    STARTS.iter().any(|s| data.starts_with(s))
}

impl Default for HalfStream {
    fn default() -> Self {
        Self::new()
    }
}

impl HalfStream {
    pub fn new() -> Self {
        HalfStream {
            started: false,
            syn_seen: false,
            midstream: false,
            sent_data: false,
            syn_acks: false,
            next_seq: 0,
            base_seq: None,
            delivered: 0,
            peer_acked: None,
            fin_frame: None,
            rst_frame: None,
            first_frame: None,
            last_frame: 0,
            first_syn_isn: None,
            extra: None,
        }
    }

    /// The state kept apart, allocated now if this is its first use.
    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Bytes before the first seen data are missing: no SYN was seen, and the first data does
    /// not begin as a stream begins (a TLS ClientHello or ServerHello record, an HTTP request
    /// or status line, the HTTP/2 preface).
    pub fn starts_midstream(&self) -> bool {
        let first_data = self.extra.as_ref().map_or(&[][..], |e| &e.first_data);
        self.midstream && !looks_like_stream_start(first_data)
    }

    /// Frame of the first packet in this direction.
    pub fn first_frame(&self) -> Option<u64> {
        self.first_frame.map(NonZeroU64::get)
    }

    /// Frame of the first FIN in this direction.
    pub fn fin_frame(&self) -> Option<u64> {
        self.fin_frame.map(NonZeroU64::get)
    }

    /// Frame of the first RST in this direction.
    pub fn rst_frame(&self) -> Option<u64> {
        self.rst_frame.map(NonZeroU64::get)
    }

    /// Counters and evidence of the bytes sent (all zero when none were).
    pub fn stats(&self) -> &HalfStats {
        self.extra.as_ref().map_or(&NO_STATS, |e| &e.stats)
    }

    /// Times the memory budget made this direction give up its holes, and the frame of the
    /// first (0 when none).
    pub fn budget_overflows(&self) -> (u64, u64) {
        self.extra
            .as_ref()
            .map_or((0, 0), |e| (e.budget_overflows, e.budget_first_frame))
    }

    /// Counts one time the memory budget made this direction give up its holes, at `frame`.
    pub fn note_budget_overflow(&mut self, frame: u64) {
        let extra = self.extra_mut();
        if extra.budget_overflows == 0 {
            extra.budget_first_frame = frame;
        }
        extra.budget_overflows += 1;
    }

    /// Stream offset of a sequence number, relative to what has been delivered.
    fn offset_of(&self, seq: u32) -> i64 {
        self.delivered as i64 + seq.wrapping_sub(self.next_seq) as i32 as i64
    }

    /// Bytes delivered so far (including gaps).
    pub fn position(&self) -> u64 {
        self.delivered
    }

    /// Takes one segment sent in this direction.
    pub fn segment<F>(&mut self, seg: &TcpSegment<'_>, frame: u64, max_pending: usize, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        self.note_arrival(seg, frame);
        if seg.has(flags::SYN) {
            if !self.started {
                self.started = true;
                self.syn_seen = true;
                self.next_seq = seg.seq.wrapping_add(1);
            }
            // Data on a SYN (TCP Fast Open) follows the SYN's sequence number.
            if seg.payload.is_empty() {
                return;
            }
        }
        if !self.started {
            self.started = true;
            self.midstream = true;
            self.next_seq = seg.seq;
        }
        let seq = if seg.has(flags::SYN) {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !seg.payload.is_empty() && self.delivered == 0 && seq == self.next_seq {
            let extra = self.extra_mut();
            if extra.first_data.is_empty() {
                extra.first_data = seg.payload[..seg.payload.len().min(16)].to_vec();
            }
        }
        if !seg.payload.is_empty() || seg.missing > 0 {
            self.extra_mut().stats.segments += 1;
            self.insert(seq, seg.payload, seg.missing, frame, max_pending, out);
        }
        self.note_end(seg, frame);
    }

    /// Frames and the sequence base (port reuse is told by a SYN with another base).
    ///
    /// Until the direction sends data its base follows the SYNs: Wireshark numbers from the
    /// last SYN-ACK, and a packet that came before it (a middlebox's bare ACK or RST in the
    /// server's name) set nothing that matters. The first data may still settle on an earlier
    /// SYN-ACK it follows, as may the peer's ACK ([`resync_on_ack`](Self::resync_on_ack)).
    fn note_arrival(&mut self, seg: &TcpSegment<'_>, frame: u64) {
        if self.first_frame.is_none() {
            self.first_frame = frame_number(frame);
        }
        self.last_frame = frame;
        if seg.has(flags::SYN) {
            self.syn_acks = seg.has(flags::ACK);
            self.remember_syn_isn(seg.seq, frame);
            match self.base_seq {
                None => self.base_seq = Some(seg.seq),
                Some(b) if b != seg.seq && !self.sent_data => {
                    self.rebase(seg.seq);
                    self.extra_mut().isn_choice = Some((frame, "came last", frame));
                }
                Some(_) => {}
            }
        } else if self.base_seq.is_none() {
            self.base_seq = Some(seg.seq.wrapping_sub(1));
        } else if !self.sent_data && (!seg.payload.is_empty() || seg.has(flags::FIN)) {
            let fits = seg.seq.wrapping_sub(1);
            if self.base_seq != Some(fits) {
                if let Some(syn_frame) = self.syn_frame(fits) {
                    self.rebase(fits);
                    self.extra_mut().isn_choice =
                        Some((syn_frame, "the first data follows it", frame));
                }
            }
        }
        if !seg.payload.is_empty() || seg.has(flags::FIN) || seg.missing > 0 {
            self.sent_data = true;
        }
    }

    /// Distinct initial sequence numbers of the SYNs seen in this direction, with the frame of
    /// the first SYN bearing each, in the order seen.
    fn syn_isns(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let first = self.first_syn_isn.map(|(isn, frame)| (isn, frame.get()));
        let later = self
            .extra
            .iter()
            .flat_map(|e| e.later_syn_isns.iter().copied());
        first.into_iter().chain(later)
    }

    fn syn_isn_count(&self) -> usize {
        usize::from(self.first_syn_isn.is_some())
            + self.extra.as_ref().map_or(0, |e| e.later_syn_isns.len())
    }

    /// Frame of the first SYN with initial sequence number `isn`.
    fn syn_frame(&self, isn: u32) -> Option<u64> {
        self.syn_isns()
            .find(|&(i, _)| i == isn)
            .map(|(_, frame)| frame)
    }

    /// Keeps a SYN's initial sequence number if it is new (at most [`MAX_SYN_ISNS`]); the
    /// first is kept inline, so a SYN alone allocates nothing.
    fn remember_syn_isn(&mut self, isn: u32, frame: u64) {
        if self.syn_frame(isn).is_some() || self.syn_isn_count() >= MAX_SYN_ISNS {
            return;
        }
        if self.first_syn_isn.is_none() {
            if let Some(frame) = frame_number(frame) {
                self.first_syn_isn = Some((isn, frame));
                return;
            }
        }
        self.extra_mut().later_syn_isns.push((isn, frame));
    }

    /// Numbers this direction from the SYN with sequence number `isn`; only before any data,
    /// so nothing delivered or buffered is renumbered.
    fn rebase(&mut self, isn: u32) {
        debug_assert!(!self.sent_data && self.first_pending().is_none());
        self.base_seq = Some(isn);
        self.started = true;
        self.syn_seen = true;
        self.midstream = false;
        self.next_seq = isn.wrapping_add(1);
        self.delivered = 0;
        self.peer_acked = None;
        if let Some(extra) = self.extra.as_deref_mut() {
            extra.first_data.clear();
        }
    }

    /// The peer acknowledged `ack` at `frame`: when this direction sent SYN-ACKs with different
    /// numbers and no data yet, the one acknowledged is the real one.
    pub fn resync_on_ack(&mut self, ack: u32, frame: u64) {
        if self.sent_data || self.syn_isn_count() < 2 {
            return;
        }
        let isn = ack.wrapping_sub(1);
        let Some(syn_frame) = self.syn_frame(isn) else {
            return;
        };
        if self.base_seq != Some(isn) {
            self.rebase(isn);
            self.extra_mut().isn_choice = Some((syn_frame, "the peer acknowledged it", frame));
        } else {
            let extra = self.extra_mut();
            if !matches!(extra.isn_choice, Some((_, r, _)) if r != "came last") {
                extra.isn_choice = Some((syn_frame, "the peer acknowledged it", frame));
            }
        }
    }

    /// Says which SYN numbers this direction when several with different sequence numbers
    /// were seen (None otherwise).
    pub fn isn_note(&self, who: &str) -> Option<String> {
        if self.syn_isn_count() < 2 {
            return None;
        }
        let (frame, why, told) = self.extra.as_ref()?.isn_choice?;
        let frames: Vec<String> = self.syn_isns().map(|(_, f)| f.to_string()).collect();
        let told = if told == frame {
            String::new()
        } else {
            format!(" (frame {told})")
        };
        Some(format!(
            "the {who} sent {} {} with different initial sequence numbers (frames {}); its bytes are numbered from the one in frame {frame}: {why}{told}",
            frames.len(),
            if self.syn_acks { "SYN-ACKs" } else { "SYNs" },
            frames.join(", ")
        ))
    }

    fn note_end(&mut self, seg: &TcpSegment<'_>, frame: u64) {
        if seg.has(flags::FIN) && self.fin_frame.is_none() {
            self.fin_frame = frame_number(frame);
        }
        if seg.has(flags::RST) && self.rst_frame.is_none() {
            self.rst_frame = frame_number(frame);
        }
    }

    /// The bookkeeping of [`segment`](Self::segment) without the bytes, for a conversation
    /// another shard analyses: what numbering needs (the sequence base that tells port reuse)
    /// and what tells its end (FIN, RST).
    pub fn track(&mut self, seg: &TcpSegment<'_>, frame: u64) {
        self.note_arrival(seg, frame);
        // As in `segment`: a SYN without data ends there.
        if !(seg.has(flags::SYN) && seg.payload.is_empty()) {
            self.note_end(seg, frame);
        }
    }

    fn insert<F>(
        &mut self,
        seq: u32,
        payload: &[u8],
        missing: u32,
        frame: u64,
        max_pending: usize,
        out: &mut F,
    ) where
        F: FnMut(Delivery<'_>),
    {
        let start = self.offset_of(seq);
        let end = start + payload.len() as i64;
        let delivered = self.delivered as i64;
        if end <= delivered {
            self.extra_mut().stats.retransmitted_bytes += payload.len() as u64;
            return;
        }
        if start <= delivered {
            // In order (possibly overlapping what was delivered: the first copy won).
            let skip = (delivered - start) as usize;
            self.extra_mut().stats.retransmitted_bytes += skip as u64;
            let fresh = &payload[skip..];
            self.deliver_data(fresh, frame, frame, out);
            if missing > 0 {
                self.deliver_gap(missing as u64, frame, out);
            }
            self.drain(Some(frame), out);
            return;
        }
        // Out of order: keep the parts not already buffered.
        let extra = self.extra_mut();
        extra.stats.out_of_order_segments += 1;
        let start = start as u64;
        let mut cursor = start;
        let end = end as u64;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        // Existing entries that may overlap [start, end): the one before start and those inside.
        let before = extra
            .pending
            .range(..start)
            .next_back()
            .map(|(&s, p)| (s, s + p.data.len() as u64));
        let inside: Vec<(u64, u64)> = extra
            .pending
            .range(start..end)
            .map(|(&s, p)| (s, s + p.data.len() as u64))
            .collect();
        for (s, e) in before.into_iter().chain(inside) {
            if e <= cursor {
                continue;
            }
            if s > cursor {
                pieces.push((cursor, s.min(end)));
            }
            // Compare the overlapping part with what was buffered first.
            let ov_start = s.max(cursor);
            let ov_end = e.min(end);
            if ov_start < ov_end {
                if let Some(p) = extra.pending.get(&s) {
                    let old = &p.data[(ov_start - s) as usize..(ov_end - s) as usize];
                    let new = &payload[(ov_start - start) as usize..(ov_end - start) as usize];
                    if old != new {
                        extra.stats.conflicting_overlaps += 1;
                    }
                }
                extra.stats.retransmitted_bytes += ov_end - ov_start;
            }
            cursor = cursor.max(e);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        for (s, e) in pieces {
            let len = (e - s) as usize;
            if self.pending_bytes() + len > max_pending {
                // The buffer is full: give up on the oldest hole so memory stays bounded.
                self.extra_mut().stats.buffer_overflows += 1;
                self.skip_to_first_pending(frame, out);
                // After the skip, this piece may be deliverable directly.
                if s <= self.delivered {
                    let skip = (self.delivered - s.min(self.delivered)) as usize;
                    let bytes = &payload[(s - start) as usize..(e - start) as usize];
                    if skip < bytes.len() {
                        self.deliver_data(&bytes[skip..], frame, frame, out);
                    }
                    self.drain(Some(frame), out);
                    continue;
                }
                if self.pending_bytes() + len > max_pending {
                    continue;
                }
            }
            let extra = self.extra_mut();
            extra.pending_bytes += len;
            extra.pending.insert(
                s,
                Pending {
                    data: payload[(s - start) as usize..(e - start) as usize].to_vec(),
                    frame,
                },
            );
        }
        self.check_acked_hole(frame, out);
    }

    fn deliver_data<F>(&mut self, bytes: &[u8], frame: u64, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        if bytes.is_empty() {
            return;
        }
        self.delivered += bytes.len() as u64;
        self.next_seq = self.next_seq.wrapping_add(bytes.len() as u32);
        self.extra_mut().stats.bytes += bytes.len() as u64;
        out(Delivery::Data {
            bytes,
            frame,
            at_frame,
        });
    }

    fn deliver_gap<F>(&mut self, len: u64, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        if len == 0 {
            return;
        }
        let offset = self.delivered;
        let stats = &mut self.extra_mut().stats;
        if stats.gaps.len() < MAX_GAP_RECORDS {
            stats.gaps.push(GapRecord {
                offset,
                bytes: len,
                frame: at_frame,
            });
        }
        stats.gap_bytes += len;
        self.delivered += len;
        self.next_seq = self.next_seq.wrapping_add(len as u32);
        out(Delivery::Gap { len, at_frame });
    }

    /// Delivers buffered segments that have become contiguous. `filler` is the frame whose
    /// data made them contiguous; without one (a hole given up on), each piece counts as
    /// received at the latest frame delivered so far in this go: a frame of the other
    /// direction (the ACK that told the hole) carried none of these bytes.
    fn drain<F>(&mut self, filler: Option<u64>, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        let mut at_frame = filler.unwrap_or(0);
        while let Some(extra) = self.extra.as_deref_mut() {
            let Some(entry) = extra.pending.first_entry() else {
                break;
            };
            let start = *entry.key();
            if start > self.delivered {
                break;
            }
            let p = entry.remove();
            extra.pending_bytes -= p.data.len();
            let skip = (self.delivered - start) as usize;
            if skip < p.data.len() {
                at_frame = at_frame.max(p.frame);
                self.deliver_data(&p.data[skip..], p.frame, at_frame, out);
            }
        }
    }

    /// Stream offset of the first buffered segment.
    fn first_pending(&self) -> Option<u64> {
        let (&start, _) = self.extra.as_ref()?.pending.first_key_value()?;
        Some(start)
    }

    /// Skips the hole before the first buffered segment and delivers what follows.
    fn skip_to_first_pending<F>(&mut self, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        if let Some(start) = self.first_pending() {
            if start > self.delivered {
                self.deliver_gap(start - self.delivered, at_frame, out);
            }
            self.drain(None, out);
        }
    }

    /// If the peer acknowledged past a hole, the capture lost those bytes: skip them now
    /// rather than wait for a retransmission that will never come.
    fn check_acked_hole<F>(&mut self, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        let Some(acked) = self.peer_acked else { return };
        while let Some(start) = self.first_pending() {
            if start <= self.delivered || acked < start {
                break;
            }
            self.skip_to_first_pending(at_frame, out);
        }
    }

    /// Takes an acknowledgement sent by the peer for this direction's bytes.
    pub fn peer_ack<F>(&mut self, ack: u32, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        if !self.started {
            return;
        }
        let off = self.offset_of(ack);
        if off < 0 {
            return;
        }
        let off = off as u64;
        if self.peer_acked.is_none_or(|a| off > a) {
            self.peer_acked = Some(off);
            if self.first_pending().is_some() {
                self.check_acked_hole(at_frame, out);
            }
        }
    }

    /// Gives up on every hole and delivers everything buffered (RST, close, end of file).
    pub fn flush<F>(&mut self, at_frame: u64, out: &mut F)
    where
        F: FnMut(Delivery<'_>),
    {
        while self.first_pending().is_some() {
            self.skip_to_first_pending(at_frame, out);
        }
    }

    /// Bytes buffered out of order.
    pub fn pending_bytes(&self) -> usize {
        self.extra.as_ref().map_or(0, |e| e.pending_bytes)
    }

    /// Brings this direction's claim on the memory budget to what it buffers now (bytes and
    /// per-segment overhead). False when the budget refused the growth: the caller then gives
    /// up this direction's holes ([`flush`](Self::flush)) and settles again, which only
    /// shrinks. Checked after each segment rather than before, so the budget may be passed by
    /// at most one segment for the moment it takes to flush.
    pub fn settle(&mut self, budget: &Budget) -> bool {
        match self.extra.as_deref_mut() {
            Some(extra) => {
                let holding = extra.holding();
                extra.held.set(budget, holding)
            }
            // Nothing was ever buffered, so nothing is claimed.
            None => true,
        }
    }

    /// What is buffered differs from what is claimed: [`settle`](Self::settle) has work.
    pub fn unsettled(&self) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|e| e.held.bytes() != e.holding())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Endpoint;

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            ip: [0; 16],
            v6: false,
            port,
        }
    }

    fn seg(seq: u32, flags: u8, payload: &[u8]) -> TcpSegment<'_> {
        TcpSegment {
            src: ep(1),
            dst: ep(2),
            seq,
            ack: 0,
            flags,
            payload,
            missing: 0,
            in_icmp_error: false,
            udp: false,
        }
    }

    /// Feeds segments and returns (stream bytes with gaps as '#', delivery frames).
    fn run(h: &mut HalfStream, segs: &[(u32, u8, &[u8])], flush: bool) -> (Vec<u8>, Vec<u64>) {
        let mut got = Vec::new();
        let mut frames = Vec::new();
        for (i, (seq, f, p)) in segs.iter().enumerate() {
            h.segment(&seg(*seq, *f, p), i as u64 + 1, 1 << 20, &mut |d| match d {
                Delivery::Data { bytes, frame, .. } => {
                    got.extend_from_slice(bytes);
                    frames.push(frame);
                }
                Delivery::Gap { len, .. } => got.extend(std::iter::repeat_n(b'#', len as usize)),
            });
        }
        if flush {
            h.flush(99, &mut |d| match d {
                Delivery::Data { bytes, frame, .. } => {
                    got.extend_from_slice(bytes);
                    frames.push(frame);
                }
                Delivery::Gap { len, .. } => got.extend(std::iter::repeat_n(b'#', len as usize)),
            });
        }
        (got, frames)
    }

    const SYN: u8 = flags::SYN;
    const ACK: u8 = flags::ACK;

    #[test]
    fn in_order_after_syn() {
        let mut h = HalfStream::new();
        let (got, frames) = run(
            &mut h,
            &[(100, SYN, b""), (101, ACK, b"abc"), (104, ACK, b"def")],
            false,
        );
        assert_eq!(got, b"abcdef");
        assert_eq!(frames, vec![2, 3]);
        assert!(!h.midstream);
    }

    #[test]
    fn out_of_order_is_reordered() {
        let mut h = HalfStream::new();
        let (got, frames) = run(
            &mut h,
            &[
                (100, SYN, b""),
                (104, ACK, b"def"),
                (107, ACK, b"ghi"),
                (101, ACK, b"abc"),
            ],
            false,
        );
        assert_eq!(got, b"abcdefghi");
        assert_eq!(frames, vec![4, 2, 3]);
        assert_eq!(h.stats().out_of_order_segments, 2);
    }

    #[test]
    fn retransmission_and_duplicates_dropped() {
        let mut h = HalfStream::new();
        let (got, _) = run(
            &mut h,
            &[
                (100, SYN, b""),
                (101, ACK, b"abc"),
                (101, ACK, b"abc"),
                (104, ACK, b"def"),
                (101, ACK, b"abcdef"),
            ],
            false,
        );
        assert_eq!(got, b"abcdef");
        assert_eq!(h.stats().retransmitted_bytes, 9);
    }

    #[test]
    fn overlap_first_copy_wins_and_conflict_counted() {
        let mut h = HalfStream::new();
        // "XYZ" arrives first at 104..107, then "dEFgh" at 104..109 overlapping with other bytes.
        let (got, _) = run(
            &mut h,
            &[
                (100, SYN, b""),
                (104, ACK, b"XYZ"),
                (104, ACK, b"dEFgh"),
                (101, ACK, b"abc"),
            ],
            false,
        );
        assert_eq!(got, b"abcXYZgh");
        assert_eq!(h.stats().conflicting_overlaps, 1);
    }

    #[test]
    fn partial_overlap_with_delivered_data() {
        let mut h = HalfStream::new();
        let (got, _) = run(
            &mut h,
            &[(100, SYN, b""), (101, ACK, b"abcd"), (103, ACK, b"cdef")],
            false,
        );
        assert_eq!(got, b"abcdef");
    }

    #[test]
    fn gap_is_flushed_at_end() {
        let mut h = HalfStream::new();
        let (got, _) = run(
            &mut h,
            &[(100, SYN, b""), (101, ACK, b"abc"), (110, ACK, b"xyz")],
            true,
        );
        assert_eq!(got, b"abc######xyz");
        assert_eq!(h.stats().gap_bytes, 6);
        assert_eq!(h.stats().gaps[0].offset, 3);
    }

    #[test]
    fn gap_skipped_when_peer_acked_it() {
        let mut h = HalfStream::new();
        let mut got = Vec::new();
        let mut sink = |d: Delivery<'_>| match d {
            Delivery::Data { bytes, .. } => got.extend_from_slice(bytes),
            Delivery::Gap { len, .. } => got.extend(std::iter::repeat_n(b'#', len as usize)),
        };
        h.segment(&seg(100, SYN, b""), 1, 1 << 20, &mut sink);
        h.segment(&seg(101, ACK, b"abc"), 2, 1 << 20, &mut sink);
        h.segment(&seg(107, ACK, b"ghi"), 3, 1 << 20, &mut sink);
        // The peer acknowledges everything up to 110: bytes 104..107 were lost by the capture.
        h.peer_ack(110, 4, &mut sink);
        assert_eq!(got, b"abc###ghi");
    }

    #[test]
    fn sequence_wraparound() {
        let mut h = HalfStream::new();
        let isn = u32::MAX - 2;
        let (got, _) = run(
            &mut h,
            &[
                (isn, SYN, b""),
                (isn.wrapping_add(4), ACK, b"def"),
                (isn.wrapping_add(1), ACK, b"abc"),
                (4, ACK, b"ghi"),
            ],
            false,
        );
        assert_eq!(got, b"abcdefghi");
    }

    #[test]
    fn midstream_pickup_and_one_direction() {
        let mut h = HalfStream::new();
        let (got, _) = run(&mut h, &[(5000, ACK, b"late"), (5004, ACK, b"r")], false);
        assert_eq!(got, b"later");
        assert!(h.midstream);
    }

    #[test]
    fn bounded_out_of_order_buffer() {
        let mut h = HalfStream::new();
        let mut got = Vec::new();
        let mut sink = |d: Delivery<'_>| match d {
            Delivery::Data { bytes, .. } => got.extend_from_slice(bytes),
            Delivery::Gap { len, .. } => got.extend(std::iter::repeat_n(b'#', len as usize)),
        };
        h.segment(&seg(0, SYN, b""), 1, 8, &mut sink);
        h.segment(&seg(3, ACK, b"cdef"), 2, 8, &mut sink);
        h.segment(&seg(7, ACK, b"ghij"), 3, 8, &mut sink);
        // The third piece overflows the 8-byte bound: the hole at 1..3 is given up.
        h.segment(&seg(11, ACK, b"k"), 4, 8, &mut sink);
        assert!(h.pending_bytes() <= 8);
        assert!(got.starts_with(b"##cdef"));
        assert_eq!(h.stats().buffer_overflows, 1);
    }

    #[test]
    fn a_syn_alone_keeps_nothing_apart() {
        let mut h = HalfStream::new();
        run(&mut h, &[(100, SYN, b""), (100, SYN, b"")], false);
        h.peer_ack(101, 3, &mut |_| {});
        assert!(h.extra.is_none());
        assert_eq!((h.first_frame(), h.stats().segments), (Some(1), 0));
        assert_eq!(h.isn_note("client"), None);
        // Bytes need it.
        run(&mut h, &[(101, ACK, b"abc")], false);
        assert!(h.extra.is_some());
    }

    #[test]
    fn syn_rules() {
        use super::super::{syn_verdict, SynVerdict};
        let fresh = HalfStream::new();
        let mut h = HalfStream::new();
        run(&mut h, &[(100, SYN, b"")], false);
        // Open: the same SYN is a retransmission, another number a new conversation.
        assert_eq!(
            syn_verdict(&h, &fresh, false, &seg(100, SYN, b"")),
            SynVerdict::Same
        );
        assert_eq!(
            syn_verdict(&h, &fresh, false, &seg(9000, SYN, b"")),
            SynVerdict::New
        );
        assert_eq!(
            syn_verdict(&h, &fresh, false, &seg(9000, SYN | ACK, b"")),
            SynVerdict::Same
        );
        // Ended (RST) before any data: the same SYN retries the attempt.
        assert_eq!(
            syn_verdict(&h, &fresh, true, &seg(100, SYN, b"")),
            SynVerdict::Retry
        );
        assert_eq!(
            syn_verdict(&h, &fresh, true, &seg(9000, SYN, b"")),
            SynVerdict::New
        );
        // Ended after data: the same number cannot be a retransmission any more.
        run(&mut h, &[(101, ACK, b"abc")], false);
        assert!(h.sent_data);
        assert_eq!(
            syn_verdict(&h, &fresh, false, &seg(100, SYN, b"")),
            SynVerdict::Same
        );
        assert_eq!(
            syn_verdict(&h, &fresh, true, &seg(100, SYN, b"")),
            SynVerdict::New
        );
    }

    #[test]
    fn udp_conversations_numbered_in_order_both_ways() {
        let mut u = super::super::UdpFlows::default();
        assert_eq!(u.lookup(ep(1), ep(2)), (0, None));
        assert_eq!(u.lookup(ep(3), ep(2)), (1, None));
        u.set_slot(ep(2), ep(1), Some(7));
        assert_eq!(u.lookup(ep(2), ep(1)), (0, Some(7)));
        u.set_slot(ep(1), ep(2), None);
        assert_eq!(u.lookup(ep(1), ep(2)), (0, None));
        assert_eq!(u.lookup(ep(4), ep(5)), (2, None));
    }

    #[test]
    fn synacks_with_different_numbers() {
        let mut sink = |_: Delivery<'_>| {};
        // The last SYN-ACK numbers the stream until the peer acknowledges another.
        let mut h = HalfStream::new();
        h.segment(&seg(500, SYN | ACK, b""), 2, 1 << 20, &mut sink);
        h.segment(&seg(7000, SYN | ACK, b""), 3, 1 << 20, &mut sink);
        assert_eq!(h.base_seq, Some(7000));
        h.resync_on_ack(501, 4);
        assert_eq!(h.base_seq, Some(500));
        let (got, _) = run(&mut h, &[(501, ACK, b"abc")], false);
        assert_eq!(got, b"abc");
        assert_eq!(h.stats().gap_bytes, 0);
        assert_eq!(
            h.isn_note("server").unwrap(),
            "the server sent 2 SYN-ACKs with different initial sequence numbers (frames 2, 3); its \
             bytes are numbered from the one in frame 2: the peer acknowledged it (frame 4)"
        );
        // Once data flowed, nothing moves the base.
        h.segment(&seg(9000, SYN | ACK, b""), 5, 1 << 20, &mut sink);
        h.resync_on_ack(9001, 6);
        assert_eq!(h.base_seq, Some(500));
        // Data that follows an earlier SYN-ACK settles it without the peer's ACK.
        let mut h = HalfStream::new();
        h.segment(&seg(500, SYN | ACK, b""), 2, 1 << 20, &mut sink);
        h.segment(&seg(7000, SYN | ACK, b""), 3, 1 << 20, &mut sink);
        let (got, _) = run(&mut h, &[(501, ACK, b"abc")], false);
        assert_eq!((got.as_slice(), h.base_seq), (&b"abc"[..], Some(500)));
        // A middlebox's bare ACK before the SYN-ACK does not set the numbering.
        let mut h = HalfStream::new();
        h.segment(&seg(0x0BAD_F00D, ACK, b""), 2, 1 << 20, &mut sink);
        h.segment(&seg(500, SYN | ACK, b""), 3, 1 << 20, &mut sink);
        let (got, _) = run(&mut h, &[(501, ACK, b"abc")], false);
        assert_eq!((got.as_slice(), h.midstream), (&b"abc"[..], false));
    }

    proptest::proptest! {
        /// Any segmentation, reordering and duplication of a stream reassembles to the stream.
        #[test]
        fn random_segmentation_reassembles(
            data in proptest::collection::vec(proptest::num::u8::ANY, 1..400),
            cuts in proptest::collection::vec(1usize..40, 1..40),
            order in proptest::collection::vec(proptest::num::usize::ANY, 0..60),
            isn in proptest::num::u32::ANY,
        ) {
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= data.len() { break; }
                let end = (at + c).min(data.len());
                segs.push((at, end));
                at = end;
            }
            // Shuffle deterministically and duplicate some segments.
            let mut sequence: Vec<(usize, usize)> = segs.clone();
            for (i, o) in order.iter().enumerate() {
                let a = i % sequence.len();
                let b = o % sequence.len();
                sequence.swap(a, b);
                if o % 5 == 0 { sequence.push(segs[o % segs.len()]); }
            }
            let mut h = HalfStream::new();
            let mut got = Vec::new();
            let mut sink = |d: Delivery<'_>| if let Delivery::Data { bytes, .. } = d { got.extend_from_slice(bytes) };
            h.segment(&seg(isn, SYN, b""), 1, 1 << 20, &mut sink);
            for (i, (s, e)) in sequence.iter().enumerate() {
                let sg = seg(isn.wrapping_add(1).wrapping_add(*s as u32), ACK, &data[*s..*e]);
                h.segment(&sg, i as u64 + 2, 1 << 20, &mut sink);
            }
            h.flush(0, &mut sink);
            proptest::prop_assert_eq!(got, data);
        }
    }
}

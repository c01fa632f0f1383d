//! TCP: conversations numbered as Wireshark's `tcp.stream`, and each direction reassembled on
//! its own.
//!
//! Data is delivered as soon as it is contiguous, never gated on the peer's ACK: a capture that
//! holds one direction only, or ends before the last flight was acknowledged, still yields every
//! byte it holds. Out-of-order segments wait in a bounded buffer; retransmissions are dropped;
//! overlaps keep the first copy (a copy that differs is counted as a conflict). Holes become
//! explicit [`Delivery::Gap`]s: when the peer acknowledged bytes the capture never showed, when
//! the out-of-order buffer is full, and at RST, end of connection and end of file.

mod reassembly;

pub use reassembly::{Delivery, GapRecord, HalfStats, HalfStream};

use rustc_hash::FxHashMap;

use crate::packet::{flags, Endpoint, TcpSegment};

/// Key of a conversation, the same for both directions.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: Endpoint,
    hi: Endpoint,
}

impl FlowKey {
    pub fn new(a: Endpoint, b: Endpoint) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// Maps packets to conversations, numbering them in order of first appearance like Wireshark's
/// `tcp.stream`.
///
/// A finished conversation leaves a tombstone (its capture time) so that stray packets after its
/// end neither open a new stream number nor revive it; tombstones are dropped when old.
#[derive(Default)]
pub struct FlowTable {
    map: FxHashMap<FlowKey, Entry>,
    next_stream: u64,
}

#[derive(Clone, Copy)]
enum Entry {
    Live(usize),
    Closed {
        ts_ns: i64,
        attempt: Option<Attempt>,
    },
}

/// A finished conversation that never got past its SYN (no data, no FIN either way): the same
/// SYN sent again continues it, under the same stream number, as in Wireshark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub stream: u64,
    /// Sender of the SYN and its sequence number.
    pub client: Endpoint,
    pub isn: u32,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// Where a segment belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A live conversation (slot index).
    Live(usize),
    /// A conversation that was finished; with the attempt a retried SYN would continue.
    Closed(Option<Attempt>),
    /// Never seen (or forgotten).
    Unknown,
}

impl FlowTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn lookup(&self, src: Endpoint, dst: Endpoint) -> Lookup {
        match self.map.get(&FlowKey::new(src, dst)) {
            Some(Entry::Live(slot)) => Lookup::Live(*slot),
            Some(Entry::Closed { attempt, .. }) => Lookup::Closed(*attempt),
            None => Lookup::Unknown,
        }
    }

    /// Allocates the next stream number for a conversation stored at `slot`; any conversation
    /// that had the same addresses and ports is forgotten (port reuse).
    pub fn insert(&mut self, src: Endpoint, dst: Endpoint, slot: usize) -> u64 {
        self.map.insert(FlowKey::new(src, dst), Entry::Live(slot));
        let stream = self.next_stream;
        self.next_stream += 1;
        stream
    }

    /// Gives a conversation on these addresses and ports the stream number of an earlier
    /// one (a SYN retried after the earlier attempt was finalized).
    pub fn reopen(&mut self, src: Endpoint, dst: Endpoint, slot: usize) {
        self.map.insert(FlowKey::new(src, dst), Entry::Live(slot));
    }

    /// Marks a conversation finished; `attempt` when it never got past its SYN.
    pub fn close(&mut self, src: Endpoint, dst: Endpoint, ts_ns: i64, attempt: Option<Attempt>) {
        self.map
            .insert(FlowKey::new(src, dst), Entry::Closed { ts_ns, attempt });
    }

    /// Forgets tombstones older than `before_ns`.
    pub fn expire_closed(&mut self, before_ns: i64) {
        self.map
            .retain(|_, e| !matches!(e, Entry::Closed { ts_ns, .. } if *ts_ns < before_ns));
    }

    pub fn conversations(&self) -> u64 {
        self.next_stream
    }

    /// Conversations remembered (live and tombstones).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// UDP conversations numbered in order of first appearance like Wireshark's `udp.stream`, for
/// the few carried protocols we analyse (OpenVPN's control channel); each may name the slot of
/// the connection that analyses it. At most [`MAX_UDP_CONVERSATIONS`] are remembered: beyond,
/// numbers still advance but a conversation seen again would get a new one.
#[derive(Default)]
pub struct UdpFlows {
    map: FxHashMap<FlowKey, (u64, Option<usize>)>,
    next_stream: u64,
}

pub const MAX_UDP_CONVERSATIONS: usize = 1 << 18;

impl UdpFlows {
    /// The stream number of the conversation and its slot, numbering it if new.
    pub fn lookup(&mut self, src: Endpoint, dst: Endpoint) -> (u64, Option<usize>) {
        let key = FlowKey::new(src, dst);
        if let Some(&found) = self.map.get(&key) {
            return found;
        }
        let stream = self.next_stream;
        self.next_stream += 1;
        if self.map.len() < MAX_UDP_CONVERSATIONS {
            self.map.insert(key, (stream, None));
        }
        (stream, None)
    }

    /// Gives the conversation a slot, or takes it away (`None`: finalized).
    pub fn set_slot(&mut self, src: Endpoint, dst: Endpoint, slot: Option<usize>) {
        if let Some(e) = self.map.get_mut(&FlowKey::new(src, dst)) {
            e.1 = slot;
        }
    }
}

/// What a SYN without ACK on a live conversation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynVerdict {
    /// Not such a SYN, or a retransmission of the conversation's SYN.
    Same,
    /// A new conversation on the same port pair: a new stream number.
    New,
    /// The same SYN again after the first attempt ended (RST) before any data: the attempt is
    /// discarded and the conversation starts over, keeping its stream number.
    Retry,
}

/// Wireshark's rule: a SYN without ACK starts a new conversation when its sequence number
/// differs from the base of that direction; with the same number it is a retransmission.
///
/// One deliberate difference: once the conversation ended (FIN both ways, or RST) after that
/// direction sent data or a FIN, a SYN with the same number cannot be a retransmission (the
/// sender's sequence space moved past it) and starts a new conversation; tshark 4.0 merges it
/// into the old stream and loses its handshake (captures/messy/syn-same-isn-after-close.pcap).
/// A SYN sent again after an attempt that ended before any data (a middlebox's or the
/// client's RST) stays in the conversation, as in Wireshark.
pub fn syn_verdict(
    this: &HalfStream,
    other: &HalfStream,
    ended: bool,
    seg: &TcpSegment<'_>,
) -> SynVerdict {
    if seg.flags & (flags::SYN | flags::ACK) != flags::SYN {
        return SynVerdict::Same;
    }
    match this.base_seq {
        Some(b) if b != seg.seq => SynVerdict::New,
        Some(_) if ended && this.sent_data => SynVerdict::New,
        Some(_) if ended && !other.sent_data => SynVerdict::Retry,
        _ => SynVerdict::Same,
    }
}

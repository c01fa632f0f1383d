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

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::packet::{flags, Endpoint, TcpSegment};

/// Key of a conversation, the same for both directions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// Tombstones kept at most, whatever their age (see [`FlowTable`]).
pub const MAX_TOMBSTONES: usize = 1 << 16;

/// Maps packets to conversations, numbering them in order of first appearance like Wireshark's
/// `tcp.stream`.
///
/// A finished conversation leaves a tombstone (its capture time, and the attempt a retried SYN
/// would continue) so that stray packets after its end neither open a new stream number nor
/// revive it. Tombstones are forgotten oldest first, when older than the caller says
/// ([`expire_closed`](Self::expire_closed)) or when more than [`MAX_TOMBSTONES`] are kept (a
/// port scan closes a million conversations in seconds). What is lost with a forgotten
/// tombstone: a later packet of that conversation (a late retransmission, FIN or RST) opens a
/// new conversation with the next stream number instead of counting as a late packet, so the
/// numbers that follow are one more than tshark's; and a SYN sent again after an attempt that
/// ended without data gets a new stream number, not the attempt's (and no retry note).
pub struct FlowTable {
    map: FxHashMap<FlowKey, Entry>,
    next_stream: u64,
    /// Tombstones by capture time, oldest on top; an entry whose tombstone was since replaced
    /// (the port pair was used again) is skipped when it comes up.
    closed_order: BinaryHeap<Reverse<(i64, FlowKey)>>,
    /// Tombstones in `map`.
    closed: usize,
    max_closed: usize,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable {
            map: FxHashMap::default(),
            next_stream: 0,
            closed_order: BinaryHeap::new(),
            closed: 0,
            max_closed: MAX_TOMBSTONES,
        }
    }
}

#[derive(Clone, Copy)]
enum Entry {
    Live(usize),
    Closed(Tombstone),
}

/// A finished conversation, in 40 bytes: the attempt's client is one of the key's endpoints.
#[derive(Clone, Copy)]
struct Tombstone {
    ts_ns: i64,
    attempt: Option<PackedAttempt>,
}

#[derive(Clone, Copy)]
struct PackedAttempt {
    stream: u64,
    first_frame: u64,
    last_frame: u64,
    isn: u32,
    /// The client is the key's `hi` endpoint (else its `lo`).
    client_hi: bool,
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

    /// The same table keeping at most `max` tombstones.
    pub fn with_max_tombstones(max: usize) -> Self {
        FlowTable {
            max_closed: max,
            ..Self::default()
        }
    }

    pub fn lookup(&self, src: Endpoint, dst: Endpoint) -> Lookup {
        let key = FlowKey::new(src, dst);
        match self.map.get(&key) {
            Some(Entry::Live(slot)) => Lookup::Live(*slot),
            Some(Entry::Closed(t)) => Lookup::Closed(t.attempt.map(|a| Attempt {
                stream: a.stream,
                client: if a.client_hi { key.hi } else { key.lo },
                isn: a.isn,
                first_frame: a.first_frame,
                last_frame: a.last_frame,
            })),
            None => Lookup::Unknown,
        }
    }

    /// Stores `entry` under `key`, keeping the count of tombstones.
    fn set(&mut self, key: FlowKey, entry: Entry) {
        let closing = matches!(entry, Entry::Closed(_));
        if let Some(Entry::Closed(_)) = self.map.insert(key, entry) {
            self.closed -= 1;
        }
        self.closed += closing as usize;
    }

    /// Allocates the next stream number for a conversation stored at `slot`; any conversation
    /// that had the same addresses and ports is forgotten (port reuse).
    pub fn insert(&mut self, src: Endpoint, dst: Endpoint, slot: usize) -> u64 {
        self.set(FlowKey::new(src, dst), Entry::Live(slot));
        let stream = self.next_stream;
        self.next_stream += 1;
        stream
    }

    /// Gives a conversation on these addresses and ports the stream number of an earlier
    /// one (a SYN retried after the earlier attempt was finalized).
    pub fn reopen(&mut self, src: Endpoint, dst: Endpoint, slot: usize) {
        self.set(FlowKey::new(src, dst), Entry::Live(slot));
    }

    /// Marks a conversation finished; `attempt` when it never got past its SYN (its client is
    /// `src` or `dst`).
    pub fn close(&mut self, src: Endpoint, dst: Endpoint, ts_ns: i64, attempt: Option<Attempt>) {
        let key = FlowKey::new(src, dst);
        let attempt = attempt.map(|a| PackedAttempt {
            stream: a.stream,
            first_frame: a.first_frame,
            last_frame: a.last_frame,
            isn: a.isn,
            client_hi: a.client == key.hi && a.client != key.lo,
        });
        self.set(key, Entry::Closed(Tombstone { ts_ns, attempt }));
        self.closed_order.push(Reverse((ts_ns, key)));
        while self.closed > self.max_closed {
            if !self.forget_oldest() {
                break;
            }
        }
        if self.closed_order.len() > 2 * self.closed + 1024 {
            // Mostly entries of tombstones replaced since: keep the others.
            let map = &self.map;
            self.closed_order
                .retain(|Reverse((ts, key))| Self::is_tombstone(map, key, *ts));
        }
    }

    fn is_tombstone(map: &FxHashMap<FlowKey, Entry>, key: &FlowKey, ts_ns: i64) -> bool {
        matches!(map.get(key), Some(Entry::Closed(t)) if t.ts_ns == ts_ns)
    }

    /// Forgets the oldest tombstone (entries of tombstones replaced since are dropped on the
    /// way); false when there is none.
    fn forget_oldest(&mut self) -> bool {
        while let Some(Reverse((ts, key))) = self.closed_order.pop() {
            if Self::is_tombstone(&self.map, &key, ts) {
                self.map.remove(&key);
                self.closed -= 1;
                return true;
            }
        }
        false
    }

    /// Forgets tombstones older than `before_ns`.
    pub fn expire_closed(&mut self, before_ns: i64) {
        while let Some(&Reverse((ts, key))) = self.closed_order.peek() {
            if ts >= before_ns {
                break;
            }
            self.closed_order.pop();
            if Self::is_tombstone(&self.map, &key, ts) {
                self.map.remove(&key);
                self.closed -= 1;
            }
        }
    }

    pub fn conversations(&self) -> u64 {
        self.next_stream
    }

    /// Conversations remembered (live and tombstones).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Tombstones remembered.
    pub fn tombstones(&self) -> usize {
        self.closed
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8, port: u16) -> Endpoint {
        let mut ip = [0u8; 16];
        ip[..4].copy_from_slice(&[10, 0, 0, last]);
        Endpoint {
            ip,
            v6: false,
            port,
        }
    }

    #[test]
    fn a_tombstone_is_small() {
        assert!(
            std::mem::size_of::<Entry>() <= 48,
            "{}",
            std::mem::size_of::<Entry>()
        );
        assert!(std::mem::size_of::<FlowKey>() <= 40);
    }

    #[test]
    fn tombstones_are_bounded_and_forgotten_oldest_first() {
        let mut t = FlowTable::with_max_tombstones(100);
        let server = ep(1, 443);
        for i in 0..1000u16 {
            let client = ep(2, 1024 + i);
            t.insert(client, server, 0);
            t.close(client, server, i64::from(i), None);
        }
        assert_eq!(t.tombstones(), 100);
        assert_eq!(t.len(), 100);
        // The newest 100 are remembered, the older ones forgotten.
        assert_eq!(t.lookup(ep(2, 1024 + 899), server), Lookup::Unknown);
        assert_eq!(t.lookup(ep(2, 1024 + 900), server), Lookup::Closed(None));
        assert_eq!(t.lookup(server, ep(2, 1024 + 999)), Lookup::Closed(None));
        assert_eq!(t.conversations(), 1000);
    }

    #[test]
    fn expiry_forgets_exactly_the_older_tombstones() {
        let mut t = FlowTable::new();
        let server = ep(1, 443);
        // Closed out of time order, one reused (its first tombstone replaced).
        for (port, ts) in [(1, 50), (2, 10), (3, 30), (4, 20), (1, 5)] {
            let client = ep(2, port);
            t.insert(client, server, 0);
            t.close(client, server, ts, None);
        }
        t.insert(ep(2, 5), server, 7);
        t.expire_closed(30);
        assert_eq!(t.lookup(ep(2, 1), server), Lookup::Unknown);
        assert_eq!(t.lookup(ep(2, 2), server), Lookup::Unknown);
        assert_eq!(t.lookup(ep(2, 4), server), Lookup::Unknown);
        assert_eq!(t.lookup(ep(2, 3), server), Lookup::Closed(None));
        assert_eq!(t.lookup(ep(2, 5), server), Lookup::Live(7));
        assert_eq!(t.tombstones(), 1);
    }

    #[test]
    fn a_tombstone_keeps_its_attempt() {
        let mut t = FlowTable::new();
        for (client, server) in [(ep(9, 40000), ep(1, 443)), (ep(1, 40000), ep(9, 443))] {
            t.insert(client, server, 0);
            let attempt = Attempt {
                stream: 7,
                client,
                isn: 0xdead_beef,
                first_frame: 3,
                last_frame: 11,
            };
            t.close(client, server, 1, Some(attempt));
            assert_eq!(t.lookup(server, client), Lookup::Closed(Some(attempt)));
        }
    }
}

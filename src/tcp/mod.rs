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
    Closed { ts_ns: i64 },
}

/// Where a segment belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A live conversation (slot index).
    Live(usize),
    /// A conversation that was finished.
    Closed,
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
            Some(Entry::Closed { .. }) => Lookup::Closed,
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

    /// Marks a conversation finished.
    pub fn close(&mut self, src: Endpoint, dst: Endpoint, ts_ns: i64) {
        self.map
            .insert(FlowKey::new(src, dst), Entry::Closed { ts_ns });
    }

    /// Forgets tombstones older than `before_ns`.
    pub fn expire_closed(&mut self, before_ns: i64) {
        self.map
            .retain(|_, e| !matches!(e, Entry::Closed { ts_ns } if *ts_ns < before_ns));
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

/// Wireshark starts a new conversation on a SYN (without ACK) whose sequence number differs from
/// the base sequence already recorded for that direction.
pub fn is_port_reuse(half: &HalfStream, seg: &TcpSegment<'_>) -> bool {
    seg.flags & (flags::SYN | flags::ACK) == flags::SYN
        && half.base_seq.is_some_and(|b| b != seg.seq)
}

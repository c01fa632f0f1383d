//! IPv4 and IPv6 fragment reassembly with bounded, expiring state (at most 4096 pending
//! datagrams of both versions together, each expired after 60 s of capture time).

use super::*;

/// Limits of the reassembly state.
pub(super) const MAX_PENDING_DATAGRAMS: usize = 4096;
pub(super) const MAX_DATAGRAM: usize = 65535;
pub(super) const FRAGMENT_TIMEOUT_NS: i64 = 60_000_000_000;
/// Fragments kept per datagram: repeated duplicates must not grow the list without end.
pub(super) const MAX_FRAGMENTS: usize = 1024;

/// A datagram being reassembled: addresses (IPv4 ones in the first 4 bytes), identification
/// (16 bits in IPv4, 32 in IPv6's fragment header) and protocol.
#[derive(Hash, PartialEq, Eq, Clone, Copy)]
pub(super) struct FragKey {
    pub(super) src: [u8; 16],
    pub(super) dst: [u8; 16],
    pub(super) v6: bool,
    pub(super) id: u32,
    pub(super) proto: u8,
}

pub(super) struct PendingDatagram {
    pub(super) data: Vec<u8>,
    /// Received byte ranges, merged lazily when checking completeness.
    pub(super) have: Vec<(u32, u32)>,
    pub(super) total: Option<u32>,
    pub(super) first_ts: i64,
    /// What `data` claims of the memory budget; given back when the datagram goes.
    pub(super) held: crate::budget::Reservation,
}

/// IP fragment reassembly. etherparse has a pool too, but it needs a strictly sliced packet
/// (so it cannot take snaplen-cut or tunnelled fragments) and has no memory bound; this one caps
/// the number and size of pending datagrams and expires them by capture time. Overlapping
/// fragments: the last copy wins (duplicates are the common case and change nothing).
#[derive(Default)]
pub(super) struct Defrag {
    pub(super) pending: FxHashMap<FragKey, PendingDatagram>,
    pub(super) last_sweep_ns: i64,
    /// The analyzer's memory budget: a datagram that would pass it is dropped.
    pub(super) budget: crate::budget::Budget,
}

impl Defrag {
    /// Adds a fragment; returns the whole payload once every byte is there.
    pub(super) fn add(
        &mut self,
        key: FragKey,
        offset: u32,
        more: bool,
        payload: &[u8],
        ts_ns: i64,
        stats: &mut PacketStats,
    ) -> Option<Vec<u8>> {
        if ts_ns.saturating_sub(self.last_sweep_ns) > FRAGMENT_TIMEOUT_NS {
            let before = self.pending.len();
            self.pending
                .retain(|_, p| ts_ns.saturating_sub(p.first_ts) <= FRAGMENT_TIMEOUT_NS);
            stats.fragments_dropped += (before - self.pending.len()) as u64;
            self.last_sweep_ns = ts_ns;
        }
        let end = offset as usize + payload.len();
        if end > MAX_DATAGRAM {
            stats.fragments_dropped += 1;
            return None;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= MAX_PENDING_DATAGRAMS {
            stats.fragments_dropped += 1;
            return None;
        }
        let p = self.pending.entry(key).or_insert_with(|| PendingDatagram {
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            first_ts: ts_ns,
            held: Default::default(),
        });
        if p.data.len() < end {
            if !p.held.set(&self.budget, end) {
                // Over the memory budget: the datagram is dropped with what it held.
                let held = p.held.bytes() + payload.len();
                self.pending.remove(&key);
                self.budget
                    .refused(crate::budget::Use::Fragments, held as u64, 0);
                stats.fragments_dropped += 1;
                return None;
            }
            p.data.resize(end, 0);
        }
        if p.have.len() >= MAX_FRAGMENTS {
            self.pending.remove(&key);
            stats.fragments_dropped += 1;
            return None;
        }
        p.data[offset as usize..end].copy_from_slice(payload);
        p.have.push((offset, end as u32));
        if !more {
            p.total = Some(end as u32);
        }
        let total = p.total?;
        p.have.sort_unstable();
        let mut covered = 0u32;
        for &(s, e) in &p.have {
            if s > covered {
                return None;
            }
            covered = covered.max(e);
        }
        if covered < total {
            return None;
        }
        let mut done = self.pending.remove(&key)?;
        done.data.truncate(total as usize);
        Some(done.data)
    }
}

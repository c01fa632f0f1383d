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
    /// The fragments' bytes by offset, in the order they came (a later copy overwrites an
    /// earlier one when assembled): memory follows the bytes received, not the datagram's
    /// size (an 8-byte fragment at offset 65,520 holds 8 bytes, not 64 KiB).
    pub(super) fragments: Vec<(u32, Box<[u8]>)>,
    /// Bytes in `fragments`; at most [`MAX_DATAGRAM`] (beyond, they are merged into one).
    pub(super) stored: usize,
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
            fragments: Vec::new(),
            stored: 0,
            have: Vec::new(),
            total: None,
            first_ts: ts_ns,
            held: Default::default(),
        });
        if !p.held.set(&self.budget, p.stored + payload.len()) {
            // Over the memory budget: the datagram is dropped with what it held.
            let held = p.held.bytes() + payload.len();
            self.pending.remove(&key);
            self.budget
                .refused(crate::budget::Use::Fragments, held as u64, 0);
            stats.fragments_dropped += 1;
            return None;
        }
        if p.have.len() >= MAX_FRAGMENTS {
            self.pending.remove(&key);
            stats.fragments_dropped += 1;
            return None;
        }
        p.fragments.push((offset, payload.into()));
        p.stored += payload.len();
        if p.stored > MAX_DATAGRAM {
            // Overlapping copies add up: merge them (the same bytes win as when assembled).
            let merged = assemble(&p.fragments);
            p.stored = merged.len();
            p.held.shrink_to(p.stored);
            p.fragments = vec![(0, merged.into_boxed_slice())];
        }
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
        let done = self.pending.remove(&key)?;
        let mut data = assemble(&done.fragments);
        data.resize(total as usize, 0);
        Some(data)
    }
}

/// The bytes of `fragments` laid out by offset, later ones over earlier ones; holes are zeros.
fn assemble(fragments: &[(u32, Box<[u8]>)]) -> Vec<u8> {
    let len = fragments
        .iter()
        .map(|(offset, bytes)| *offset as usize + bytes.len())
        .max()
        .unwrap_or(0);
    let mut data = vec![0; len];
    for (offset, bytes) in fragments {
        let offset = *offset as usize;
        data[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: [1; 16],
            dst: [2; 16],
            v6: id % 2 == 1,
            id,
            proto: 6,
        }
    }

    fn held(d: &Defrag) -> usize {
        d.pending
            .values()
            .flat_map(|p| &p.fragments)
            .map(|(_, b)| b.len())
            .sum()
    }

    #[test]
    fn a_far_fragment_holds_its_bytes_only() {
        let mut d = Defrag::default();
        let mut stats = PacketStats::default();
        for id in [4, 5] {
            // IPv4 (even id) and IPv6 (odd id) alike.
            assert!(d
                .add(key(id), 65_520, true, &[7; 8], 0, &mut stats)
                .is_none());
        }
        assert_eq!(held(&d), 16);
    }

    #[test]
    fn out_of_order_overlapping_fragments_assemble_as_before() {
        let mut d = Defrag::default();
        let mut stats = PacketStats::default();
        let k = key(1);
        // The last fragment first; overlaps: the later copy wins.
        assert!(d.add(k, 16, false, &[3; 8], 0, &mut stats).is_none());
        assert!(d.add(k, 8, true, &[2; 12], 0, &mut stats).is_none());
        let whole = d.add(k, 0, true, &[1; 10], 0, &mut stats).unwrap();
        let mut want = vec![1u8; 10];
        want.extend([2; 10]);
        want.extend([3; 4]);
        assert_eq!(whole, want);
        assert!(d.pending.is_empty());
    }

    #[test]
    fn repeated_copies_stay_within_one_datagram() {
        let mut d = Defrag::default();
        let mut stats = PacketStats::default();
        let k = key(2);
        for i in 0..200u8 {
            assert!(d.add(k, 0, true, &[i; 1480], 0, &mut stats).is_none());
        }
        assert!(held(&d) <= MAX_DATAGRAM);
        let whole = d.add(k, 1480, false, &[9; 20], 0, &mut stats).unwrap();
        assert_eq!(whole.len(), 1500);
        assert!(whole[..1480].iter().all(|&b| b == 199));
        assert!(whole[1480..].iter().all(|&b| b == 9));
    }
}

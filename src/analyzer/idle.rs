//! Live connections in the order they went idle, and those that ended in the order they ended,
//! so that finding the longest-idle connection (past `--max-connections`) and the connections
//! a sweep must finalize costs O(log n) each instead of a walk over every live connection.
//!
//! The idle order is kept lazily: each live connection has one entry `(key, slot)` whose key
//! is never later than the connection's `last_ts` (it is its `last_ts` when the entry was made,
//! and is lowered at once if a packet with an earlier timestamp arrives). Packets that move
//! `last_ts` forward change nothing here; an entry found stale when looked at is moved to its
//! connection's real `last_ts`. Each such move follows at least one packet, so the cost stays
//! linear, and the answers are exactly those of a walk over all connections: the smallest
//! `(last_ts, slot)`.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::Conn;

#[derive(Default)]
pub(super) struct IdleIndex {
    /// `(key, slot)` for every live connection (see the module's documentation).
    idle: BTreeSet<(i64, usize)>,
    /// `(ended_at, slot)` of live connections that ended (exact).
    ended: BTreeSet<(i64, usize)>,
    /// Per slot: its key in `idle`, and its time in `ended`.
    keys: Vec<Option<(i64, Option<i64>)>>,
}

impl IdleIndex {
    /// A new connection in `slot`, last seen at `ts`.
    pub(super) fn insert(&mut self, slot: usize, ts: i64) {
        self.remove(slot);
        if self.keys.len() <= slot {
            self.keys.resize(slot + 1, None);
        }
        self.idle.insert((ts, slot));
        self.keys[slot] = Some((ts, None));
    }

    /// The connection in `slot` was finalized.
    pub(super) fn remove(&mut self, slot: usize) {
        if let Some(Some((key, ended))) = self.keys.get_mut(slot).map(Option::take) {
            self.idle.remove(&(key, slot));
            if let Some(t) = ended {
                self.ended.remove(&(t, slot));
            }
        }
    }

    /// The connection in `slot` saw a packet at `ts` (now its `last_ts`) and has ended at
    /// `ended_at` (if it has).
    pub(super) fn touch(&mut self, slot: usize, ts: i64, ended_at: Option<i64>) {
        let Some(Some((key, ended))) = self.keys.get_mut(slot) else {
            return;
        };
        if ts < *key {
            // An earlier timestamp than the entry's: the entry must move back.
            self.idle.remove(&(*key, slot));
            self.idle.insert((ts, slot));
            *key = ts;
        }
        if *ended != ended_at {
            if let Some(t) = *ended {
                self.ended.remove(&(t, slot));
            }
            if let Some(t) = ended_at {
                self.ended.insert((t, slot));
            }
            *ended = ended_at;
        }
    }

    /// Moves a stale entry to its connection's real `last_ts`.
    fn refresh(&mut self, entry: (i64, usize), last_ts: i64) {
        self.idle.remove(&entry);
        self.idle.insert((last_ts, entry.1));
        if let Some(Some((key, _))) = self.keys.get_mut(entry.1) {
            *key = last_ts;
        }
    }

    /// The live connection with the smallest `(last_ts, slot)`, leaving out `except` and
    /// slots whose connection is taken out for the moment.
    pub(super) fn longest_idle(
        &mut self,
        except: usize,
        conns: &[Option<Box<Conn>>],
    ) -> Option<usize> {
        let mut after: Option<(i64, usize)> = None;
        loop {
            let entry = match after {
                None => self.idle.first(),
                Some(e) => self
                    .idle
                    .range((Bound::Excluded(e), Bound::Unbounded))
                    .next(),
            }
            .copied()?;
            let Some(conn) = conns.get(entry.1).and_then(|c| c.as_deref()) else {
                after = Some(entry);
                continue;
            };
            if entry.1 == except {
                after = Some(entry);
            } else if conn.last_ts == entry.0 {
                return Some(entry.1);
            } else {
                // Stale: its real place is later, where this walk will meet it again.
                self.refresh(entry, conn.last_ts);
            }
        }
    }

    /// Slots of the connections that ended more than `linger_ns` before `now` or saw no
    /// packet for more than `idle_ns`, in slot order (the order a walk over all would give).
    pub(super) fn due(
        &mut self,
        now: i64,
        linger_ns: i64,
        idle_ns: i64,
        conns: &[Option<Box<Conn>>],
    ) -> Vec<usize> {
        let mut due: Vec<usize> = self
            .ended
            .iter()
            .take_while(|&&(t, _)| now.saturating_sub(t) > linger_ns)
            .map(|&(_, slot)| slot)
            .collect();
        let candidates: Vec<(i64, usize)> = self
            .idle
            .iter()
            .take_while(|&&(key, _)| now.saturating_sub(key) > idle_ns)
            .copied()
            .collect();
        for entry in candidates {
            let Some(conn) = conns.get(entry.1).and_then(|c| c.as_deref()) else {
                continue;
            };
            if now.saturating_sub(conn.last_ts) > idle_ns {
                due.push(entry.1);
            } else {
                self.refresh(entry, conn.last_ts);
            }
        }
        due.sort_unstable();
        due.dedup();
        due
    }
}

#[cfg(test)]
mod tests {
    /// A live connection that saw only a SYN costs its box and nothing else (each direction
    /// keeps its rarely used state apart, allocated on first use): a port scan keeps 100,000
    /// of them (the default `--max-connections`). 376 bytes, mimalloc's 384-byte class; 824
    /// with that state inline.
    #[test]
    fn a_connection_is_small() {
        let size = std::mem::size_of::<super::Conn>();
        assert!(size <= 384, "Conn is {size} bytes");
    }
}

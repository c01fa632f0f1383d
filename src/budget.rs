//! One memory budget per analyzer (`--max-memory`) for the bytes held while waiting for more:
//! out-of-order TCP segments (`tcp`), incomplete TLS records and handshake messages (`tls`)
//! and IP fragments (`packet`). Each buffer asks the budget when it grows (IP fragments
//! before; TCP and TLS right after taking one segment or record, so the budget is passed by at
//! most that much for a moment); when it refuses, the buffer gives up or drops what it would
//! have held, says so on its connection, and counts it here for the file's one warning per kind.
//!
//! Held bytes are claimed through a [`Reservation`] owned by the buffer: it is given back when
//! the buffer shrinks or when its owner (a connection, a pending datagram) is dropped, whatever
//! the path, so the count cannot leak. After a file is finished the budget holds nothing
//! ([`Budget::held`] is 0; the analyzer asserts it in debug builds).
//!
//! The counter is per analyzer, not per process: with `-j N` each of the N analyzers that can
//! run at once gets `max_memory / N` (the command divides for files analysed in parallel,
//! `analyze_path_sharded` for the shards of one file). One counter shared by
//! every thread would bound memory as well, but what an analyzer drops would then depend on how
//! the threads happened to interleave; a fixed share keeps every run with the same options
//! giving the same report. Within an analyzer the counter is shared by the packet decoder and the
//! connections, hence the `Arc` and the atomics (relaxed: one thread uses them; the analyzer
//! stays `Send`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The default of `--max-memory`: 32 MiB. With it the hostile captures of `make-hostile.py`
/// peak under 100 MB resident (the connections' own state and the allocator come on top).
pub const DEFAULT_MAX_MEMORY: usize = 32 << 20;

/// What a budget holds bytes for; also the three kinds of drop the file's warnings count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Out-of-order TCP segments waiting for a hole to fill.
    OutOfOrder = 0,
    /// TLS records and handshake messages waiting for the rest of their bytes.
    Tls = 1,
    /// IP fragments waiting for the rest of their datagram.
    Fragments = 2,
}

#[derive(Debug, Default)]
struct Shared {
    limit: usize,
    held: AtomicUsize,
    peak: AtomicUsize,
    /// Per [`Use`]: refusals, bytes they concerned, frame of the first (0: none known).
    refusals: [AtomicU64; 3],
    bytes: [AtomicU64; 3],
    first_frame: [AtomicU64; 3],
}

/// A handle on one analyzer's memory budget; clones share the count.
#[derive(Debug, Clone)]
pub struct Budget {
    shared: Arc<Shared>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_MAX_MEMORY)
    }
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Budget {
            shared: Arc::new(Shared {
                limit,
                ..Default::default()
            }),
        }
    }

    /// Bytes that may be held at once.
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Relaxed)
    }

    /// The most bytes held at once so far.
    pub fn peak(&self) -> usize {
        self.shared.peak.load(Relaxed)
    }

    /// Claims `n` more bytes; false (and nothing claimed) when that would pass the limit.
    pub fn try_reserve(&self, n: usize) -> bool {
        let held = self.held();
        if held.saturating_add(n) > self.shared.limit {
            return false;
        }
        self.force(n);
        true
    }

    /// Claims `n` bytes whatever the limit (a few bytes that must be kept to make sense of
    /// what follows, or a segment already buffered that the caller gives up right after).
    fn force(&self, n: usize) {
        let now = self.shared.held.fetch_add(n, Relaxed) + n;
        self.shared.peak.fetch_max(now, Relaxed);
    }

    /// Gives back `n` bytes claimed earlier.
    pub fn release(&self, n: usize) {
        let before = self.shared.held.fetch_sub(n, Relaxed);
        debug_assert!(before >= n, "budget released more than it held");
    }

    /// Counts one refusal of `bytes` for `kind` at `frame` (0 when unknown), for the warning.
    pub fn refused(&self, kind: Use, bytes: u64, frame: u64) {
        let k = kind as usize;
        self.shared.refusals[k].fetch_add(1, Relaxed);
        self.shared.bytes[k].fetch_add(bytes, Relaxed);
        if frame != 0 {
            let _ = self.shared.first_frame[k].compare_exchange(0, frame, Relaxed, Relaxed);
        }
    }

    /// Refusals counted for `kind`: (how many, bytes concerned, first frame or 0).
    pub fn refusals(&self, kind: Use) -> (u64, u64, u64) {
        let k = kind as usize;
        (
            self.shared.refusals[k].load(Relaxed),
            self.shared.bytes[k].load(Relaxed),
            self.shared.first_frame[k].load(Relaxed),
        )
    }

    /// Sets the frame of the first refusal of `kind` when it is not known yet (the packet
    /// decoder does not know frame numbers; the analyzer tells it after the packet).
    pub fn note_frame(&self, kind: Use, frame: u64) {
        let _ = self.shared.first_frame[kind as usize].compare_exchange(0, frame, Relaxed, Relaxed);
    }

    /// The file's warnings: one per kind of drop, with its counts.
    pub fn warnings(&self) -> Vec<String> {
        let limit = size_words(self.limit());
        let mut out = Vec::new();
        for (kind, what) in [
            (
                Use::OutOfOrder,
                "out-of-order TCP data: a connection gave up its holes early {n} times ({b} bytes were buffered then), first at frame {f}; the connections concerned say so",
            ),
            (
                Use::Tls,
                "incomplete TLS records and handshake messages: {n} were dropped unread ({b} bytes had arrived), first at frame {f}; the connections concerned say so",
            ),
            (
                Use::Fragments,
                "IP fragments pending reassembly: {n} datagrams were dropped unassembled ({b} bytes), first at frame {f}",
            ),
        ] {
            let (n, b, f) = self.refusals(kind);
            if n == 0 {
                continue;
            }
            let text = what
                .replace("{n}", &n.to_string())
                .replace("{b}", &b.to_string())
                .replace("{f}", &f.to_string());
            out.push(format!(
                "the memory budget ({limit}, --max-memory) was reached by {text}"
            ));
        }
        out
    }
}

/// Bytes one buffer holds against a [`Budget`]; given back when it shrinks or is dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    budget: Option<Budget>,
    bytes: usize,
}

impl Reservation {
    /// Bytes claimed now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Claims exactly `bytes` in all: shrinking always succeeds; growing is refused (nothing
    /// changes, false) when the budget has no room for the difference.
    pub fn set(&mut self, budget: &Budget, bytes: usize) -> bool {
        self.bind(budget);
        if bytes <= self.bytes {
            self.shrink_to(bytes);
            return true;
        }
        if !budget.try_reserve(bytes - self.bytes) {
            return false;
        }
        self.bytes = bytes;
        true
    }

    /// Claims `bytes` in all even past the limit (see [`Budget::force`]'s uses).
    pub fn force(&mut self, budget: &Budget, bytes: usize) {
        self.bind(budget);
        if bytes <= self.bytes {
            self.shrink_to(bytes);
        } else {
            budget.force(bytes - self.bytes);
            self.bytes = bytes;
        }
    }

    /// Gives back what is claimed beyond `bytes`.
    pub fn shrink_to(&mut self, bytes: usize) {
        if bytes < self.bytes {
            if let Some(b) = &self.budget {
                b.release(self.bytes - bytes);
            }
            self.bytes = bytes;
        }
    }

    /// Makes `budget` the one claimed from; a claim on another moves (analyzers always pass
    /// the same one; unit tests may not).
    fn bind(&mut self, budget: &Budget) {
        match &self.budget {
            Some(b) if Arc::ptr_eq(&b.shared, &budget.shared) => {}
            _ => {
                self.shrink_to(0);
                self.budget = Some(budget.clone());
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

/// Parses a size: plain bytes (`65536`) or with a binary suffix `K`, `M`, `G` (optionally
/// followed by `B` or `iB`, any case): `64M` is 64 MiB.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (examples: 64M, 1G, 1048576)"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "'{text}' is not a size (examples: 64M, 1G, 1048576)"
            ))
        }
    };
    number
        .checked_mul(1usize << shift)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A size as the warnings say it: `64 MiB`, `512 KiB`, or bytes.
pub fn size_words(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512kib"), Ok(512 << 10));
        assert_eq!(parse_size("2 MB"), Ok(2 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(size_words(64 << 20), "64 MiB");
        assert_eq!(size_words(1000), "1000 bytes");
    }

    #[test]
    fn reservations_come_back() {
        let budget = Budget::new(100);
        let mut a = Reservation::default();
        assert!(a.set(&budget, 60));
        let mut b = Reservation::default();
        assert!(!b.set(&budget, 50), "60 + 50 is over 100");
        assert_eq!(b.bytes(), 0);
        assert!(b.set(&budget, 40));
        assert_eq!(budget.held(), 100);
        a.shrink_to(10);
        assert_eq!(budget.held(), 50);
        b.force(&budget, 200);
        assert_eq!(budget.held(), 210);
        assert_eq!(budget.peak(), 210);
        drop(a);
        // A claim moves with the budget it is made on.
        let other = Budget::new(1000);
        assert!(b.set(&other, 300));
        assert_eq!((budget.held(), other.held()), (0, 300));
        drop(b);
        assert_eq!(other.held(), 0);
    }

    #[test]
    fn warnings_once_per_kind() {
        let budget = Budget::new(1 << 20);
        assert!(budget.warnings().is_empty());
        budget.refused(Use::Tls, 4000, 7);
        budget.refused(Use::Tls, 1000, 9);
        budget.refused(Use::Fragments, 8, 0);
        budget.note_frame(Use::Fragments, 12);
        let w = budget.warnings();
        assert_eq!(w.len(), 2);
        assert!(
            w[0].contains("1 MiB")
                && w[0].contains("2 were dropped")
                && w[0].contains("5000 bytes")
                && w[0].contains("frame 7"),
            "{}",
            w[0]
        );
        assert!(
            w[1].contains("1 datagrams") && w[1].contains("frame 12"),
            "{}",
            w[1]
        );
    }
}

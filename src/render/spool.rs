//! Pieces of a report made in one order (as connections end) and written in another (by
//! `tcp.stream`), as the formats whose file header comes first need (`json`, `html`,
//! `parquet`): each piece is kept with its key, in memory up to a limit and past it in an
//! unnamed temporary file, and only the keys and places stay in memory (about 32 bytes a
//! piece). The report is never held whole, whatever the capture's size.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Bytes written to the temporary file at once.
const BATCH: usize = 256 << 10;

/// Pieces of output under their keys.
pub struct Spool<K> {
    /// Key, offset from the first byte ever put, length.
    index: Vec<(K, u64, u32)>,
    /// The pieces since the last spill.
    memory: Vec<u8>,
    /// Bytes moved to `file` so far: a piece at an offset below this is in the file.
    spilled: u64,
    file: Option<File>,
    limit: usize,
}

impl<K: Ord> Spool<K> {
    /// A spool that keeps up to `limit` bytes of pieces in memory.
    pub fn new(limit: usize) -> Spool<K> {
        Spool {
            index: Vec::new(),
            memory: Vec::new(),
            spilled: 0,
            file: None,
            limit,
        }
    }

    /// Pieces put so far.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes moved to the temporary file so far.
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    /// Puts one piece, written by `write` into the spool's buffer, under `key`. A piece larger
    /// than 4 GiB is an error (no report piece comes near).
    pub fn put(
        &mut self,
        key: K,
        write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        let start = self.memory.len();
        if let Err(e) = write(&mut self.memory) {
            self.memory.truncate(start);
            return Err(e);
        }
        let len = u32::try_from(self.memory.len() - start)
            .map_err(|_| io::Error::other("a report piece of 4 GiB or more"))?;
        self.index.push((key, self.spilled + start as u64, len));
        // Once past the limit, pieces go to the file in small batches, written while they are
        // still in the processor's cache.
        if self.memory.len() > self.limit || (self.file.is_some() && self.memory.len() >= BATCH) {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        // Written a batch at a time: one 8 MiB write(2) took nine times as long as 128 of
        // 64 KiB into ext4's page cache (measured with dd, 315 MB).
        for batch in self.memory.chunks(BATCH) {
            file.write_all(batch)?;
        }
        self.spilled += self.memory.len() as u64;
        self.memory.clear();
        self.memory.shrink_to(2 * BATCH);
        Ok(())
    }

    /// Hands every piece and its key to `each` in key order (pieces under equal keys in the
    /// order put), freeing the spool.
    pub fn drain_sorted(
        mut self,
        mut each: impl FnMut(&K, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.index.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut window = match self.file.take() {
            Some(mut f) => {
                f.flush()?;
                Some(Window::new(f, self.spilled))
            }
            None => None,
        };
        let mut piece = Vec::new();
        for (key, offset, len) in std::mem::take(&mut self.index) {
            let len = len as usize;
            if offset >= self.spilled {
                let start = (offset - self.spilled) as usize;
                each(&key, &self.memory[start..start + len])?;
                continue;
            }
            let Some(window) = window.as_mut() else {
                return Err(io::Error::other("spooled piece without its file"));
            };
            each(&key, window.read(offset, len, &mut piece)?)?;
        }
        Ok(())
    }
}

/// Bytes of the spill file read at once: pieces are read in key order, which is near the
/// order they were put in (connections end about in the order they start), so most pieces
/// are found in the last window read. On 1 GB of handshakes (315 MB of JSON spilled), windows
/// of 1 MiB placed an eighth before the piece read 518 MB in 494 reads; a buffered reader
/// refilled at each jump back read several GB.
const WINDOW: usize = 1 << 20;

/// A part of the spill file in memory.
struct Window {
    file: File,
    /// Where `data` starts in the file.
    start: u64,
    data: Vec<u8>,
    /// The file's length.
    end: u64,
}

impl Window {
    fn new(file: File, end: u64) -> Window {
        Window {
            file,
            start: 0,
            data: Vec::new(),
            end,
        }
    }

    /// The piece at `offset`: in the window, read into the window (placed an eighth of its size
    /// before the piece, as the next pieces in key order may have been put just before it), or, when
    /// large, read alone into `piece`.
    fn read<'a>(
        &'a mut self,
        offset: u64,
        len: usize,
        piece: &'a mut Vec<u8>,
    ) -> io::Result<&'a [u8]> {
        let end = offset + len as u64;
        if offset >= self.start && end <= self.start + self.data.len() as u64 {
            let at = (offset - self.start) as usize;
            return Ok(&self.data[at..at + len]);
        }
        if len >= WINDOW / 4 {
            piece.resize(len, 0);
            self.file.seek(SeekFrom::Start(offset))?;
            self.file.read_exact(piece)?;
            return Ok(piece);
        }
        self.start = offset.saturating_sub((WINDOW / 8) as u64);
        let size = (self.end - self.start).min(WINDOW as u64) as usize;
        self.data.resize(size, 0);
        self.file.seek(SeekFrom::Start(self.start))?;
        self.file.read_exact(&mut self.data)?;
        let at = (offset - self.start) as usize;
        Ok(&self.data[at..at + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(spool: Spool<(u64, u64)>) -> Vec<String> {
        let mut out = Vec::new();
        spool
            .drain_sorted(|_, p| {
                out.push(String::from_utf8(p.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
        out
    }

    fn fill(limit: usize) -> Spool<(u64, u64)> {
        let mut spool = Spool::new(limit);
        // Out of order, one key twice, pieces of different sizes, an empty one.
        for (i, stream) in [5u64, 1, 9, 1, 0, 7, 3].iter().enumerate() {
            let text = format!("{stream}:{}", "x".repeat(i * 3));
            spool
                .put((*stream, 0), |b| {
                    b.extend_from_slice(text.as_bytes());
                    Ok(())
                })
                .unwrap();
        }
        spool.put((2, 0), |_| Ok(())).unwrap();
        spool
    }

    #[test]
    fn pieces_come_back_in_key_order_in_memory_or_spilled() {
        let want = [
            "0:xxxxxxxxxxxx",
            "1:xxx",
            "1:xxxxxxxxx",
            "",
            "3:xxxxxxxxxxxxxxxxxx",
            "5:",
            "7:xxxxxxxxxxxxxxx",
            "9:xxxxxx",
        ];
        let in_memory = fill(1 << 20);
        assert_eq!(in_memory.spilled(), 0);
        assert_eq!(collect(in_memory), want);
        // Spilled after every piece, and after some of them.
        for limit in [0, 20] {
            let spool = fill(limit);
            assert!(spool.spilled() > 0, "limit {limit}");
            assert_eq!(spool.len(), 8);
            assert_eq!(collect(spool), want, "limit {limit}");
        }
    }

    /// Pieces larger than a quarter of the window are read alone; pieces put in reverse order
    /// are read through windows placed before them; a spill file of several windows.
    #[test]
    fn large_pieces_and_pieces_put_backwards_come_back_whole() {
        let mut spool = Spool::new(1000);
        let mut want = Vec::new();
        for i in (0..3000u64).rev() {
            let size = if i % 1000 == 7 {
                300_000
            } else {
                700 + (i as usize % 13)
            };
            let piece: Vec<u8> = (0..size).map(|j| (i as usize * 31 + j) as u8).collect();
            spool
                .put(i, |b| {
                    b.extend_from_slice(&piece);
                    Ok(())
                })
                .unwrap();
            want.push(piece);
        }
        want.reverse();
        assert!(spool.spilled() > 2 * WINDOW as u64);
        let mut got = Vec::new();
        spool
            .drain_sorted(|&k, p| {
                got.push((k, p.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(got.len(), 3000);
        for (i, (k, p)) in got.into_iter().enumerate() {
            assert_eq!(k, i as u64);
            assert!(p == want[i], "piece {i}");
        }
    }

    #[test]
    fn a_failed_write_is_an_error() {
        let mut spool: Spool<u8> = Spool::new(0);
        let e = spool
            .put(1, |_| Err(io::Error::other("broken")))
            .unwrap_err();
        assert_eq!(e.to_string(), "broken");
    }
}

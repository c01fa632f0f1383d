//! Pieces of a report made in one order (as connections end) and written in another (by
//! `tcp.stream`), as the formats whose file header comes first need (`json`, `html`,
//! `parquet`): each piece is kept with its key, in memory up to a limit and past it in an
//! unnamed temporary file, and only the keys and places stay in memory (about 32 bytes a
//! piece). The report is never held whole, whatever the capture's size.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

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
        if self.memory.len() > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.write_all(&self.memory)?;
        self.spilled += self.memory.len() as u64;
        self.memory.clear();
        // Past the limit once, the buffer keeps at most one limit's worth.
        self.memory.shrink_to(self.limit);
        Ok(())
    }

    /// Hands every piece and its key to `each` in key order (pieces under equal keys in the
    /// order put), freeing the spool.
    pub fn drain_sorted(
        mut self,
        mut each: impl FnMut(&K, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.index.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut file = match self.file.take() {
            Some(mut f) => {
                f.flush()?;
                f.seek(SeekFrom::Start(0))?;
                Some(BufReader::with_capacity(256 << 10, f))
            }
            None => None,
        };
        // Where the file reader stands: pieces put in key order are read without seeking.
        let mut position = 0u64;
        let mut piece = Vec::new();
        for (key, offset, len) in std::mem::take(&mut self.index) {
            let len = len as usize;
            if offset >= self.spilled {
                let start = (offset - self.spilled) as usize;
                each(&key, &self.memory[start..start + len])?;
                continue;
            }
            let Some(reader) = file.as_mut() else {
                return Err(io::Error::other("spooled piece without its file"));
            };
            if offset != position {
                reader.seek_relative(offset as i64 - position as i64)?;
            }
            piece.resize(len, 0);
            reader.read_exact(&mut piece)?;
            position = offset + len as u64;
            each(&key, &piece)?;
        }
        Ok(())
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

    #[test]
    fn a_failed_write_is_an_error() {
        let mut spool: Spool<u8> = Spool::new(0);
        let e = spool
            .put(1, |_| Err(io::Error::other("broken")))
            .unwrap_err();
        assert_eq!(e.to_string(), "broken");
    }
}

//! pcap-parser's block parsers run over the chunks the read-ahead thread fills, where the bytes
//! lie (`-j 2` on one file). Reading through `Read` would copy every byte once more, from the
//! chunk into the parser's buffer: on bulk traffic that copy was a fifth of the time of the
//! thread that follows the packets. Only a block that straddles two chunks is copied, into
//! `carry`. The reader answers as pcap-parser's own readers do (the same blocks, errors, offsets
//! and end), so the read loop is the same over either.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Read};

use pcap_parser::nom::{self, Needed, Offset};
use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
    LegacyPcapBlock, PcapHeader,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock, Block};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::input::ReadAhead;
use super::{CaptureEvent, Compression};

type LegacyParse = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

/// The file's format, as pcap-parser's readers tell it from the first block.
enum Format {
    Legacy {
        header: PcapHeader,
        parse: LegacyParse,
    },
    Ng {
        big_endian: bool,
    },
}

/// Blocks parsed in place from the read-ahead chunks.
pub(super) struct ChunkReader {
    source: ReadAhead,
    format: Format,
    /// The chunk being parsed and where its unconsumed bytes start.
    chunk: Vec<u8>,
    pos: usize,
    /// A block that straddles chunks, gathered: the end of one chunk and the start of the next.
    carry: Vec<u8>,
    /// Bytes at the end of `carry` copied from `chunk` (up to `pos`): once the straddling block
    /// is consumed, they are read from the chunk again instead.
    carry_from_chunk: usize,
    consumed: usize,
    /// The block size past which the caller is told the buffer is too small (it grows it up to
    /// its own bound), as pcap-parser's buffer capacity.
    capacity: usize,
    /// Bytes the last parse said it still needed.
    needed: usize,
    exhausted: bool,
}

impl ChunkReader {
    /// Takes the first chunk and recognises the format as `pcap_parser::create_reader` does.
    pub(super) fn new(
        mut source: ReadAhead,
        capacity: usize,
    ) -> Result<ChunkReader, PcapError<&'static [u8]>> {
        // The format is told from the first `capacity` bytes, as pcap-parser's first read
        // fills its buffer: more than one chunk only when chunks are small.
        let mut chunk = match source.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => return Err(PcapError::Eof),
            Err(_) => return Err(PcapError::ReadError),
        };
        let mut ended = false;
        while chunk.len() < capacity && !ended {
            match source.next_chunk() {
                Ok(Some(more)) => {
                    chunk.extend_from_slice(&more);
                    source.give_back(more);
                }
                Ok(None) => ended = true,
                Err(_) => return Err(PcapError::ReadError),
            }
        }
        let format = if parse_sectionheaderblock(&chunk).is_ok() {
            Format::Ng { big_endian: false }
        } else {
            match parse_pcap_header(&chunk) {
                Ok((_, header)) => {
                    let parse: LegacyParse = if header.is_modified_format() {
                        parse_pcap_frame_modified
                    } else if header.is_bigendian() {
                        parse_pcap_frame_be
                    } else {
                        parse_pcap_frame
                    };
                    Format::Legacy { header, parse }
                }
                Err(nom::Err::Incomplete(Needed::Size(n))) => {
                    return Err(PcapError::Incomplete(n.into()))
                }
                Err(nom::Err::Incomplete(Needed::Unknown)) => return Err(PcapError::Incomplete(0)),
                Err(_) => return Err(PcapError::HeaderNotRecognized),
            }
        };
        Ok(ChunkReader {
            source,
            format,
            chunk,
            pos: 0,
            carry: Vec::new(),
            carry_from_chunk: 0,
            consumed: 0,
            capacity,
            needed: 0,
            exhausted: ended,
        })
    }

    /// The unconsumed bytes at hand: the straddling block being gathered, or the chunk's rest.
    fn window(&self) -> &[u8] {
        if self.carry.is_empty() {
            &self.chunk[self.pos..]
        } else {
            &self.carry
        }
    }

    /// Replaces the chunk with the next one; false at the end of the input.
    fn take_chunk(&mut self) -> io::Result<bool> {
        match self.source.next_chunk()? {
            Some(next) => {
                let spent = std::mem::replace(&mut self.chunk, next);
                self.source.give_back(spent);
                self.pos = 0;
                self.carry_from_chunk = 0;
                Ok(true)
            }
            None => {
                self.exhausted = true;
                Ok(false)
            }
        }
    }
}

impl PcapReaderIterator for ChunkReader {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        if let Format::Legacy { header, .. } = &self.format {
            if self.consumed == 0 {
                return Ok((header.size(), PcapBlockOwned::from(header.clone())));
            }
        }
        let window_len = self.window().len();
        if window_len == 0 && self.exhausted {
            return Err(PcapError::Eof);
        }
        let data = if self.carry.is_empty() {
            &self.chunk[self.pos..]
        } else {
            &self.carry[..]
        };
        let parsed = match &mut self.format {
            Format::Legacy { parse, .. } => (*parse)(data).map(|(rem, b)| (rem, b.into())),
            Format::Ng { big_endian } => {
                let parse = if *big_endian {
                    parse_block_be
                } else {
                    parse_block_le
                };
                parse(data).map(|(rem, b)| {
                    if let Block::SectionHeader(shb) = &b {
                        *big_endian = shb.big_endian();
                    }
                    (rem, PcapBlockOwned::from(b))
                })
            }
        };
        match parsed {
            Ok((rem, block)) => Ok((data.offset(rem), block)),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(e),
            Err(nom::Err::Incomplete(n)) => {
                if self.exhausted {
                    return Err(PcapError::UnexpectedEof);
                }
                let n = match n {
                    Needed::Size(n) => n.get(),
                    Needed::Unknown => 0,
                };
                self.needed = n;
                if n > 0 && window_len + n >= self.capacity {
                    Err(PcapError::BufferTooSmall)
                } else {
                    Err(PcapError::Incomplete(n))
                }
            }
        }
    }

    fn consume(&mut self, offset: usize) {
        self.consume_noshift(offset);
    }

    fn consume_noshift(&mut self, offset: usize) {
        self.consumed += offset;
        if self.carry.is_empty() {
            self.pos += offset;
            return;
        }
        self.carry.drain(..offset.min(self.carry.len()));
        // What is left of the gathered bytes came from the current chunk: read it there.
        if self.carry.len() <= self.carry_from_chunk {
            self.pos -= self.carry.len();
            self.carry.clear();
            self.carry_from_chunk = 0;
        }
    }

    fn consumed(&self) -> usize {
        self.consumed
    }

    /// Gathers the bytes the last parse needed: the chunk's rest and the start of the next
    /// chunk(s) into `carry`.
    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        if self.carry.is_empty() {
            let rest = self.chunk.len() - self.pos;
            let start_carry = rest > 0;
            if start_carry {
                self.carry.extend_from_slice(&self.chunk[self.pos..]);
            }
            if !self.take_chunk().map_err(|_| PcapError::ReadError)? || !start_carry {
                return Ok(());
            }
        }
        // At least what was asked for, and some more, so that a block announced in small
        // steps (a header, then its body) is gathered in few calls.
        // Never more than the capacity, as pcap-parser's buffer reads no more than its space: a
        // hostile length then ends in the caller's bound (BlockTooLarge), not in a copy of
        // what the header claims.
        let mut want = self
            .needed
            .max(4096)
            .min(self.capacity.saturating_sub(self.carry.len()))
            .max(1);
        while want > 0 {
            if self.pos == self.chunk.len()
                && !self.take_chunk().map_err(|_| PcapError::ReadError)?
            {
                break;
            }
            let take = want.min(self.chunk.len() - self.pos);
            self.carry
                .extend_from_slice(&self.chunk[self.pos..self.pos + take]);
            self.pos += take;
            self.carry_from_chunk += take;
            want -= take;
        }
        Ok(())
    }

    fn position(&self) -> usize {
        0
    }

    fn grow(&mut self, new_size: usize) -> bool {
        self.capacity = self.capacity.max(new_size);
        true
    }

    fn data(&self) -> &[u8] {
        self.window()
    }

    fn reader_exhausted(&self) -> bool {
        self.exhausted
    }
}

/// Everything a read gives: each event (frame, time, link type, interface, lengths and a
/// hash of the bytes) and how it ended, read by pcap-parser's buffered reader (`None`) or in
/// place from chunks of `chunk_size` bytes: for the tests and the `capture_chunks` fuzz target,
/// which compare the two.
#[doc(hidden)]
pub fn readout(bytes: &[u8], chunk_size: Option<usize>) -> String {
    let mut out = String::new();
    let on_event = |ev: CaptureEvent<'_>| {
        let mut h = DefaultHasher::new();
        match ev {
            CaptureEvent::Packet(p) => {
                p.data.hash(&mut h);
                out.push_str(&format!(
                    "{} {} {} {} {} {} {:x}\n",
                    p.frame,
                    p.ts_ns,
                    p.linktype,
                    p.interface,
                    p.data.len(),
                    p.orig_len,
                    h.finish()
                ));
            }
            CaptureEvent::TlsSecrets(text) => {
                text.hash(&mut h);
                out.push_str(&format!("secrets {} {:x}\n", text.len(), h.finish()));
            }
        }
    };
    let input: Box<dyn Read + Send> = Box::new(io::Cursor::new(bytes.to_vec()));
    let result = match chunk_size {
        None => super::read_capture_counted(input, Compression::None, None, on_event),
        Some(size) => {
            super::read_capture_chunked(input, Compression::None, None, Some(size), on_event)
        }
    };
    format!("{out}{result:?}")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::readout;

    /// The inputs: every capture of ours, cut short at a few places, and with bytes changed.
    fn inputs() -> Vec<(String, Vec<u8>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let mut all = Vec::new();
        for path in crate::check::captures_in(&root).unwrap() {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.display().to_string();
            // Compressed captures are read by the same thread either way.
            if bytes.starts_with(&[0x1f, 0x8b]) || bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                continue;
            }
            let n = bytes.len();
            for cut in [n / 3, n / 2, n.saturating_sub(7), n.saturating_sub(1)] {
                all.push((format!("{name} cut at {cut}"), bytes[..cut].to_vec()));
            }
            for (i, at) in [n / 5, n / 2 + 3, n - n / 7].into_iter().enumerate() {
                let mut changed = bytes.clone();
                if let Some(b) = changed.get_mut(at) {
                    *b ^= [0xff, 0x80, 0x01][i];
                }
                all.push((format!("{name} byte {at} changed"), changed));
            }
            all.push((name, bytes));
        }
        all
    }

    /// A legacy record announcing more than the 256 MiB bound, with more than that behind it:
    /// both readers stop at the bound (the chunk reader once gathered all that the header
    /// claimed and read it as a packet).
    #[test]
    fn a_hostile_record_length_ends_at_the_bound_in_chunks_too() {
        let mut bytes = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
        let record = |bytes: &mut Vec<u8>, caplen: u32| {
            bytes.extend_from_slice(&[0; 8]);
            bytes.extend_from_slice(&caplen.to_le_bytes());
            bytes.extend_from_slice(&caplen.to_le_bytes());
        };
        record(&mut bytes, 60);
        bytes.resize(bytes.len() + 60, 0);
        record(&mut bytes, 300 << 20);
        bytes.resize(bytes.len() + (257 << 20), 0);
        let want = readout(&bytes, None);
        assert!(want.contains("BlockTooLarge { offset: 100 }"), "{want}");
        assert_eq!(readout(&bytes, Some(1 << 20)), want);
    }

    /// Blocks parsed in place from chunks of any size, straddling them or not, give what
    /// pcap-parser's reader gives: the same packets, secrets, errors and ends.
    #[test]
    fn chunks_give_what_the_buffered_reader_gives() {
        let inputs = inputs();
        assert!(inputs.len() > 300, "{}", inputs.len());
        let mut straddled = 0;
        for (name, bytes) in &inputs {
            let want = readout(bytes, None);
            // At most a few thousand chunks a file, so that the test stays quick.
            for size in [1, 7, 100, 1500, 65_536] {
                if bytes.len() / size > 400 {
                    continue;
                }
                straddled += (bytes.len() > size) as usize;
                let got = readout(bytes, Some(size));
                assert!(got == want, "{name}, chunks of {size}:\n{got}\n---\n{want}");
            }
        }
        assert!(straddled > 1000);
    }
}

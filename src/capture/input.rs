//! Input streams: a file or standard input, decompressed by magic (gzip, zstd), with reads made
//! full (pcap-parser's format sniffing does a single `read()`, which fails on pipes) and counted.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use super::{CaptureError, Compression};

/// Opens a file (or `-` for standard input) and sniffs compression.
pub fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(CaptureError::Open)?)
    };
    decompress(raw)
}

/// Wraps a reader in the decompressor its magic bytes call for.
pub fn decompress(
    raw: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let mut magic = [0u8; 4];
    let n = peek_full(&mut buffered, &mut magic)?;
    let magic = &magic[..n];
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(buffered)),
            Compression::Gzip,
        ))
    } else if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        let dec = zstd::stream::read::Decoder::with_buffer(buffered)?;
        Ok((Box::new(dec), Compression::Zstd))
    } else {
        Ok((Box::new(buffered), Compression::None))
    }
}

/// Fills `out` from the reader's buffer without consuming, looping over short reads.
pub(super) fn peek_full<R: Read>(r: &mut BufReader<R>, out: &mut [u8]) -> io::Result<usize> {
    // BufReader only refills when empty, so a short first read can leave fewer bytes than asked;
    // for 4 bytes of magic one retry on an empty buffer is all that can happen in practice.
    loop {
        let buf = r.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        if n == out.len() || buf.is_empty() || n > 0 {
            return Ok(n);
        }
    }
}

/// A reader whose `read` fills the whole buffer unless the source is at its end. pcap-parser
/// sniffs the format with one `read()`, and a pipe or decoder may return only a few bytes.
///
/// A decompressor whose compressed input ends early fails with `UnexpectedEof`; that is a capture
/// cut short, not a read error: the bytes decoded so far are returned, then end of file, and
/// `ended_early` is set so the caller can say why the capture ended.
pub(super) struct ReadFull<R> {
    pub(super) inner: R,
    pub(super) ended_early: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R: Read> Read for ReadFull<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended_early.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(0);
        }
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.ended_early
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

/// Counts bytes pulled from the (decompressed) input: for this file, and into a progress
/// counter that may be shared by files read in parallel.
pub(super) struct Counting<R> {
    pub(super) inner: R,
    pub(super) count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub(super) shared: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(shared) = &self.shared {
            shared.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }
}

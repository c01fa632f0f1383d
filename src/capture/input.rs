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
    let named_etl = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("etl"));
    sniff(raw, named_etl)
}

/// Wraps a reader in the decompressor its magic bytes call for.
pub fn decompress(
    raw: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    sniff(raw, false)
}

/// pcap and pcapng magic numbers (both byte orders, micro- and nanosecond, Kuznetzov).
const CAPTURE_MAGICS: &[[u8; 4]] = &[
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// Is this the start of an ETW trace file? Its first buffer is a WMI_BUFFER_HEADER (0x48
/// bytes) followed by the logfile-header event, whose SYSTEM_TRACE_HEADER starts with version 2,
/// header type 1 or 2 (32/64-bit system header), marker flags 0xC0, and hook id 0x0000
/// (EVENT_TRACE_GROUP_HEADER, EVENT_TRACE_TYPE_INFO).
pub(super) fn is_etl(head: &[u8]) -> bool {
    head.len() >= 0x4e
        && head[0x48..0x4a] == [2, 0]
        && matches!(head[0x4a], 1 | 2)
        && head[0x4b] == 0xc0
        && head[0x4c..0x4e] == [0, 0]
}

fn sniff(
    raw: Box<dyn Read + Send>,
    named_etl: bool,
) -> Result<(Box<dyn Read + Send>, Compression), CaptureError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    {
        let head = buffered.fill_buf()?;
        let is_capture = head.len() >= 4 && CAPTURE_MAGICS.iter().any(|m| head[..4] == *m);
        let compressed =
            head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        if !is_capture && !compressed && (is_etl(head) || (named_etl && !head.is_empty())) {
            return Err(CaptureError::EtwTrace);
        }
    }
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

/// Bytes read ahead at a time by [`ReadAhead`].
const READ_AHEAD_CHUNK: usize = 1 << 20;
/// Chunks read ahead and not yet consumed, at most.
const READ_AHEAD_CHUNKS: usize = 4;

/// A reader whose reads (system calls, the kernel's page-cache copies, decompression) happen
/// on a thread of its own, a few chunks ahead of the consumer (`-j 2` on one file). Errors
/// reach the consumer in order, after the bytes read before them.
pub struct ReadAhead {
    chunks: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    spent: std::sync::mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ReadAhead {
    pub fn new(inner: Box<dyn Read + Send>) -> ReadAhead {
        ReadAhead::with_chunk_size(inner, READ_AHEAD_CHUNK)
    }

    /// Reads ahead in chunks of `chunk_size` bytes (tests use small ones, so that blocks
    /// straddle chunks).
    pub(super) fn with_chunk_size(mut inner: Box<dyn Read + Send>, chunk_size: usize) -> ReadAhead {
        let chunk_size = chunk_size.max(1);
        let (chunk_to, chunks) = std::sync::mpsc::sync_channel(READ_AHEAD_CHUNKS);
        let (spent, spent_from) = std::sync::mpsc::sync_channel::<Vec<u8>>(READ_AHEAD_CHUNKS + 2);
        std::thread::spawn(move || {
            yield_to_the_stages();
            read_ahead(&mut *inner, chunk_size, chunk_to, spent_from)
        });
        ReadAhead {
            chunks,
            spent,
            current: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

/// The nice value of the read-ahead thread. Each chunk the consumer takes wakes this thread,
/// and a woken thread of the same priority takes the core from the thread running there: one
/// of the two stages, busy on handshake-heavy traffic (about 2,500 context switches per GB).
/// At nice 10 it reads in the gaps instead. Measured with `-j 2` against `-j 1` on the 1 GB
/// bench captures (medians of 9-11 runs taking turns, five series, the machine's speed
/// drifting between them): handshake-heavy `summary` 1.39-1.49x before, 1.42-1.81x after;
/// `jsonl` 1.32-1.53x before, 1.54-1.71x after. On bulk traffic, where reading is half of the
/// work, `summary` loses a little (1.60-1.73x before, 1.48-1.64x after; `jsonl` 1.48-1.64x
/// before, 1.53-1.74x after); handshakes are what this tool is for. gzip input, where
/// decompressing is the slowest stage, is as fast (0.38-0.40 s for 134 MB either way): when
/// the stages wait for it, it has a core.
#[cfg(target_os = "linux")]
const READ_AHEAD_NICE: libc::c_int = 10;

/// Lowers the calling thread's priority by [`READ_AHEAD_NICE`] from the process's (Linux
/// schedules threads one by one, so `setpriority` on the thread id applies to this thread
/// alone). Failure leaves it as it was.
fn yield_to_the_stages() {
    #[cfg(target_os = "linux")]
    // SAFETY: these calls take and return plain integers; no memory is shared with the kernel.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        // -1 is also a valid nice value: errno tells a failure, and then nothing is changed.
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, thread);
        if *libc::__errno_location() == 0 {
            let lower = (nice + READ_AHEAD_NICE).min(19);
            libc::setpriority(libc::PRIO_PROCESS, thread, lower);
        }
    }
}

/// The read-ahead thread's loop: fills chunks (given back ones first) until the end of the
/// input, an error, or the consumer hanging up.
fn read_ahead(
    inner: &mut dyn Read,
    chunk_size: usize,
    chunk_to: std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
    spent_from: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut chunk = spent_from.try_recv().unwrap_or_default();
        chunk.resize(chunk_size, 0);
        let mut filled = 0;
        let result = loop {
            match inner.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == chunk.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        chunk.truncate(filled);
        let end = filled < chunk_size || result.is_err();
        // The consumer hung up (it stopped reading): nothing more to do.
        if filled > 0 && chunk_to.send(Ok(chunk)).is_err() {
            return;
        }
        if let Err(e) = result {
            let _ = chunk_to.send(Err(e));
        }
        if end {
            return;
        }
    }
}

impl ReadAhead {
    /// The next chunk read ahead (never empty), `None` at the end of the input.
    pub(super) fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        match self.chunks.recv() {
            Ok(Ok(chunk)) => Ok(Some(chunk)),
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Hands a chunk back to the reading thread to be filled again.
    pub(super) fn give_back(&self, chunk: Vec<u8>) {
        let _ = self.spent.try_send(chunk);
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.current.len() {
            match self.next_chunk()? {
                Some(chunk) => {
                    let spent = std::mem::replace(&mut self.current, chunk);
                    self.give_back(spent);
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first bytes of an ETL file as the documented layout has them: a WMI_BUFFER_HEADER
    /// (buffer size 64 KiB) and the SYSTEM_TRACE_HEADER of the logfile-header event.
    fn etl_head() -> Vec<u8> {
        let mut b = vec![0u8; 0x100];
        b[0..4].copy_from_slice(&0x10000u32.to_le_bytes());
        b[0x48..0x4e].copy_from_slice(&[2, 0, 2, 0xc0, 0, 0]);
        b
    }

    /// Gives `data` in reads of at most 1000 bytes, then fails with `error` if set.
    struct Failing {
        data: io::Cursor<Vec<u8>>,
        error: Option<io::ErrorKind>,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1000);
            match self.data.read(&mut buf[..n])? {
                0 => match self.error.take() {
                    Some(kind) => Err(io::Error::new(kind, "broken")),
                    None => Ok(0),
                },
                n => Ok(n),
            }
        }
    }

    #[test]
    fn read_ahead_gives_every_byte_then_the_error_in_order() {
        let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
        for error in [None, Some(io::ErrorKind::UnexpectedEof)] {
            let inner = Failing {
                data: io::Cursor::new(data.clone()),
                error,
            };
            let mut ahead = ReadAhead::new(Box::new(inner));
            let mut got = Vec::new();
            let mut buf = vec![0; 7777];
            let end = loop {
                match ahead.read(&mut buf) {
                    Ok(0) => break None,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => break Some(e.kind()),
                }
            };
            assert!(got == data, "{error:?}: bytes differ");
            assert_eq!(end, error);
            // After the end, the end again.
            assert_eq!(ahead.read(&mut buf).unwrap(), 0);
        }
    }

    /// Tells the nice value of the thread that reads it, then ends.
    #[cfg(target_os = "linux")]
    struct NiceProbe(std::sync::mpsc::Sender<libc::c_int>);

    #[cfg(target_os = "linux")]
    impl Read for NiceProbe {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            // SAFETY: plain integers in and out.
            let nice =
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            let _ = self.0.send(nice);
            Ok(0)
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_read_ahead_thread_yields_to_the_stages_and_they_keep_their_priority() {
        let (to, from) = std::sync::mpsc::channel();
        let mut ahead = ReadAhead::new(Box::new(NiceProbe(to)));
        assert_eq!(ahead.read(&mut [0; 16]).unwrap(), 0);
        // SAFETY: plain integers in and out.
        let own = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let reader = from.recv().unwrap();
        assert_eq!(reader, (own + READ_AHEAD_NICE).min(19));
        assert_ne!(reader, own);
    }

    #[test]
    fn etl_is_recognised_by_content_and_by_name() {
        let r = decompress(Box::new(io::Cursor::new(etl_head())));
        assert!(matches!(r, Err(CaptureError::EtwTrace)));
        let mut other = etl_head();
        other[0x4b] = 0x00;
        assert!(decompress(Box::new(io::Cursor::new(other.clone()))).is_ok());
        assert!(matches!(
            sniff(Box::new(io::Cursor::new(other)), true),
            Err(CaptureError::EtwTrace)
        ));
        // A real pcap named .etl is still read as a pcap.
        let pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        assert!(sniff(Box::new(io::Cursor::new(pcap.to_vec())), true).is_ok());
        let err = CaptureError::EtwTrace.to_string();
        assert!(err.contains("pktmon etl2pcap") && err.contains("etl2pcapng"));
    }
}

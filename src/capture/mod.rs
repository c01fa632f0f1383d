//! Capture files: streams the packets of a pcap or pcapng file (optionally gzip or zstd
//! compressed, from a file or standard input) in constant memory.
//!
//! pcap-parser does the block framing. What it leaves to its caller is done here: sniffing
//! compression by magic, making reads full (the format sniffing in `create_reader` does a single
//! `read()`, which fails on pipes), tracking pcapng interfaces per section (link type, timestamp
//! resolution and offset), numbering frames exactly as Wireshark does (1-based, every packet
//! block in file order), and keeping Decryption Secrets Blocks. With `-j 2` the file is read
//! on a thread of its own ([`ReadAhead`]) and its blocks are parsed in place in that thread's
//! chunks (`chunks.rs`), with the same results as pcap-parser's buffered reader.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

mod chunks;
mod input;

#[doc(hidden)]
pub use chunks::readout;
pub use input::{decompress, open_input, ReadAhead};
use input::{Counting, ReadFull};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError, SecretsType};

/// Initial size of the block buffer; large enough for any ordinary snaplen.
const INITIAL_BUFFER: usize = 1 << 20;
/// A single block larger than this is treated as a hostile length, not a packet.
const MAX_BLOCK_BUFFER: usize = 256 << 20;

/// Errors that stop reading a capture. A file cut short is not an error: see [`ReadOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    #[error("empty file")]
    Empty,
    #[error("not a pcap or pcapng capture (starts with {0})")]
    NotACapture(String),
    /// A Windows Event Tracing file (`netsh trace`, `pktmon`): convertible, not readable here.
    #[error("a Windows ETW trace (.etl, from netsh trace or pktmon), not a pcap: convert it first with `pktmon etl2pcap FILE.etl --out FILE.pcapng` (Windows 10 2004 and later), or with etl2pcapng (github.com/microsoft/etl2pcapng) for netsh trace files, then analyse the .pcapng")]
    EtwTrace,
    #[error("corrupt capture after {packets} packets (byte offset {offset}): {detail}")]
    Corrupt {
        packets: u64,
        offset: u64,
        detail: String,
    },
    #[error("block larger than {} MiB at byte offset {offset}: hostile or corrupt length", MAX_BLOCK_BUFFER >> 20)]
    BlockTooLarge { offset: u64 },
}

/// How the container was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One packet as read from the file, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Wireshark's frame number: 1-based position among packet blocks.
    pub frame: u64,
    /// Capture time in nanoseconds since the Unix epoch (0 when the block has no timestamp).
    pub ts_ns: i64,
    /// LINKTYPE_* value of the interface the packet was captured on.
    pub linktype: i32,
    /// Interface index within the section (0 for legacy pcap).
    pub interface: u32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length of the packet on the wire (larger than `data.len()` when snaplen cut it).
    pub orig_len: u32,
}

/// What the reader hands to its consumer, in file order.
pub enum CaptureEvent<'a> {
    Packet(Packet<'a>),
    /// Text of a TLS key log found in a pcapng Decryption Secrets Block.
    TlsSecrets(&'a [u8]),
}

/// How reading ended.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReadOutcome {
    /// "pcap", "pcap-nsec", "pcap-modified", "pcapng".
    pub format: String,
    pub compression: Option<Compression>,
    pub packets: u64,
    pub sections: u32,
    pub interfaces: u32,
    /// Distinct link types seen, in first-seen order.
    pub linktypes: Vec<i32>,
    pub decryption_secrets_blocks: u32,
    /// Set when the file ended in the middle of a block, or reading stopped at a pcapng block
    /// whose length cannot be right (the packets before it are kept).
    pub truncated: Option<String>,
    pub bytes_read: u64,
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    units_per_sec: u64,
    offset_sec: i64,
}

fn describe_magic(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let printable: String = bytes
        .iter()
        .take(8)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} \"{}\"", hex.join(" "), printable)
}

/// Reads every block of a capture and calls `on_event` for packets and secrets, in file order.
///
/// Returns how reading ended; a file cut short ends normally with `truncated` set, after every
/// complete packet has been delivered.
pub fn read_capture<F>(
    input: Box<dyn Read + Send>,
    compression: Compression,
    on_event: F,
) -> Result<ReadOutcome, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    read_capture_counted(input, compression, None, on_event)
}

/// Like [`read_capture`], adding the bytes read to `progress` as it goes (for progress bars).
pub fn read_capture_counted<F>(
    input: Box<dyn Read + Send>,
    compression: Compression,
    progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    on_event: F,
) -> Result<ReadOutcome, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    let (reader, state) = counted(input, progress);
    let pcap = pcap_parser::create_reader(INITIAL_BUFFER, reader).map_err(not_a_capture)?;
    read_blocks(pcap, compression, state, on_event)
}

/// Like [`read_capture_counted`], with the reading (system calls, page-cache copies,
/// decompression) on a thread of its own a few chunks ahead ([`ReadAhead`]), and the blocks
/// parsed where they lie in its chunks (`-j 2` on one file).
pub fn read_capture_ahead<F>(
    input: Box<dyn Read + Send>,
    compression: Compression,
    progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    on_event: F,
) -> Result<ReadOutcome, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    read_capture_chunked(input, compression, progress, None, on_event)
}

/// [`read_capture_ahead`] with chunks of `chunk_size` bytes (the read-ahead's own size when
/// `None`).
fn read_capture_chunked<F>(
    input: Box<dyn Read + Send>,
    compression: Compression,
    progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    chunk_size: Option<usize>,
    on_event: F,
) -> Result<ReadOutcome, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    let (reader, state) = counted(input, progress);
    let source = match chunk_size {
        Some(size) => ReadAhead::with_chunk_size(Box::new(reader), size),
        None => ReadAhead::new(Box::new(reader)),
    };
    let pcap = chunks::ChunkReader::new(source, INITIAL_BUFFER).map_err(not_a_capture)?;
    read_blocks(Box::new(pcap), compression, state, on_event)
}

type Shared<T> = std::sync::Arc<T>;

/// What the input's wrappers tell once it is read: the bytes it gave, and whether a compressed
/// stream ended early.
struct InputState {
    count: Shared<std::sync::atomic::AtomicU64>,
    ended_early: Shared<std::sync::atomic::AtomicBool>,
}

/// The input made to fill every read, counting the bytes it gives (into `progress` too).
fn counted(
    input: Box<dyn Read + Send>,
    progress: Option<Shared<std::sync::atomic::AtomicU64>>,
) -> (ReadFull<Counting<Box<dyn Read + Send>>>, InputState) {
    let count = Shared::new(std::sync::atomic::AtomicU64::new(0));
    let ended_early = Shared::new(std::sync::atomic::AtomicBool::new(false));
    let reader = ReadFull {
        inner: Counting {
            inner: input,
            count: count.clone(),
            shared: progress,
        },
        ended_early: ended_early.clone(),
    };
    (reader, InputState { count, ended_early })
}

/// Why the start of the input is not a capture.
fn not_a_capture(e: PcapError<&[u8]>) -> CaptureError {
    match e {
        PcapError::Eof => CaptureError::Empty,
        PcapError::ReadError => CaptureError::Io(io::Error::other("read failed")),
        PcapError::Incomplete(_) => {
            CaptureError::NotACapture("a file shorter than a capture header".into())
        }
        _ => CaptureError::NotACapture("bytes that are neither pcap nor pcapng".into()),
    }
}

/// Reads every block from `pcap` (pcap-parser's reader, or the chunk reader), in file order.
fn read_blocks<F>(
    mut pcap: Box<dyn PcapReaderIterator + Send + '_>,
    compression: Compression,
    InputState { count, ended_early }: InputState,
    mut on_event: F,
) -> Result<ReadOutcome, CaptureError>
where
    F: FnMut(CaptureEvent<'_>),
{
    let mut outcome = ReadOutcome {
        compression: Some(compression),
        ..Default::default()
    };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy: Option<Interface> = None;
    let mut legacy_nsec = false;
    let mut buffer_size = INITIAL_BUFFER;
    let mut big_endian = false;
    loop {
        match pcap.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(hdr) => {
                        legacy_nsec = hdr.is_nanosecond_precision();
                        outcome.format = if hdr.is_modified_format() {
                            "pcap-modified".into()
                        } else if legacy_nsec {
                            "pcap-nsec".into()
                        } else {
                            "pcap".into()
                        };
                        let linktype = hdr.network.0;
                        legacy = Some(Interface {
                            linktype,
                            units_per_sec: if legacy_nsec {
                                1_000_000_000
                            } else {
                                1_000_000
                            },
                            offset_sec: 0,
                        });
                        outcome.interfaces = 1;
                        outcome.linktypes.push(linktype);
                    }
                    PcapBlockOwned::Legacy(b) => {
                        outcome.packets += 1;
                        let iface = legacy.unwrap_or(Interface {
                            linktype: 1,
                            units_per_sec: 1_000_000,
                            offset_sec: 0,
                        });
                        let sub = if legacy_nsec {
                            b.ts_usec as i64
                        } else {
                            b.ts_usec as i64 * 1000
                        };
                        let caplen = (b.caplen as usize).min(b.data.len());
                        on_event(CaptureEvent::Packet(Packet {
                            frame: outcome.packets,
                            ts_ns: (b.ts_sec as i64)
                                .saturating_mul(1_000_000_000)
                                .saturating_add(sub),
                            linktype: iface.linktype,
                            interface: 0,
                            data: &b.data[..caplen],
                            orig_len: b.origlen,
                        }));
                    }
                    PcapBlockOwned::NG(block) => match block {
                        Block::SectionHeader(shb) => {
                            big_endian = shb.big_endian();
                            outcome.format = "pcapng".into();
                            outcome.sections += 1;
                            interfaces.clear();
                        }
                        Block::InterfaceDescription(idb) => {
                            let linktype = idb.linktype.0;
                            interfaces.push(Interface {
                                linktype,
                                units_per_sec: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                                offset_sec: idb.if_tsoffset,
                            });
                            outcome.interfaces += 1;
                            if !outcome.linktypes.contains(&linktype) {
                                outcome.linktypes.push(linktype);
                            }
                        }
                        Block::EnhancedPacket(epb) => {
                            outcome.packets += 1;
                            let iface = interfaces.get(epb.if_id as usize).copied();
                            let (linktype, ts_ns) = match iface {
                                Some(i) => (i.linktype, ng_timestamp(&i, epb.ts_high, epb.ts_low)),
                                // A packet naming an interface that was never described cannot be
                                // decoded; it still takes its frame number.
                                None => (-1, 0),
                            };
                            on_event(CaptureEvent::Packet(Packet {
                                frame: outcome.packets,
                                ts_ns,
                                linktype,
                                interface: epb.if_id,
                                data: epb.packet_data(),
                                orig_len: epb.origlen,
                            }));
                        }
                        Block::SimplePacket(spb) => {
                            outcome.packets += 1;
                            let linktype = interfaces.first().map(|i| i.linktype).unwrap_or(-1);
                            on_event(CaptureEvent::Packet(Packet {
                                frame: outcome.packets,
                                ts_ns: 0,
                                linktype,
                                interface: 0,
                                data: spb.packet_data(),
                                orig_len: spb.origlen,
                            }));
                        }
                        Block::DecryptionSecrets(dsb) => {
                            outcome.decryption_secrets_blocks += 1;
                            if dsb.secrets_type == SecretsType::TlsKeyLog {
                                let len = (dsb.secrets_len as usize).min(dsb.data.len());
                                on_event(CaptureEvent::TlsSecrets(&dsb.data[..len]));
                            }
                        }
                        _ => {}
                    },
                }
                // `consume` would move the rest of the buffer down each time half of it has
                // been read (circular::Buffer::consume): one more copy of every byte. Without
                // it, only the partial block left at a refill is moved (`refill` shifts first).
                pcap.consume_noshift(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                pcap.refill().map_err(|_| io::Error::other("read failed"))?;
            }
            Err(PcapError::BufferTooSmall) => {
                if let Some(why) = impossible_block_length(&outcome, big_endian, pcap.data(), false)
                {
                    outcome.truncated = Some(corrupt_block(pcap.consumed(), &why));
                    break;
                }
                if buffer_size >= MAX_BLOCK_BUFFER {
                    return Err(CaptureError::BlockTooLarge {
                        offset: pcap.consumed() as u64,
                    });
                }
                buffer_size *= 2;
                if !pcap.grow(buffer_size) {
                    return Err(CaptureError::BlockTooLarge {
                        offset: pcap.consumed() as u64,
                    });
                }
                pcap.refill().map_err(|_| io::Error::other("read failed"))?;
            }
            Err(PcapError::UnexpectedEof) => {
                if let Some(why) = impossible_block_length(&outcome, big_endian, pcap.data(), true)
                {
                    outcome.truncated = Some(corrupt_block(pcap.consumed(), &why));
                    break;
                }
                outcome.truncated = Some(format!(
                    "file cut short in the middle of a block after {} packets (byte offset {})",
                    outcome.packets,
                    pcap.consumed()
                ));
                break;
            }
            Err(PcapError::ReadError) => {
                return Err(CaptureError::Io(io::Error::other("read failed")));
            }
            Err(e) => {
                let detail = match &e {
                    PcapError::NomError(i, kind) => {
                        format!("{kind:?} at bytes {}", describe_magic(i))
                    }
                    other => format!("{other:?}"),
                };
                let at = pcap.consumed() as u64;
                if outcome.packets == 0 && outcome.format.is_empty() {
                    return Err(CaptureError::NotACapture(detail));
                }
                return Err(CaptureError::Corrupt {
                    packets: outcome.packets,
                    offset: at,
                    detail,
                });
            }
        }
    }
    outcome.bytes_read = count.load(std::sync::atomic::Ordering::Relaxed);
    if ended_early.load(std::sync::atomic::Ordering::Relaxed) {
        let what = match compression {
            Compression::Gzip => "gzip stream",
            Compression::Zstd => "zstd stream",
            Compression::None => "input",
        };
        outcome.truncated = Some(format!(
            "{what} ended early: the capture is cut short after {} packets ({} bytes decompressed)",
            outcome.packets, outcome.bytes_read
        ));
    }
    Ok(outcome)
}

/// Why the pcapng block at the start of `rest` cannot have the total length it announces, if
/// it cannot: above the [`MAX_BLOCK_BUFFER`] bound, or (when `rest` is the whole rest of the
/// file) larger than the rest of the file although the block's own content ends within it (an
/// Enhanced Packet Block whose captured bytes are all there). A block whose content itself runs
/// past the end of the file is a file cut short, not a corrupt length.
fn impossible_block_length(
    outcome: &ReadOutcome,
    big_endian: bool,
    rest: &[u8],
    rest_is_all: bool,
) -> Option<String> {
    if outcome.format != "pcapng" || rest.len() < 8 {
        return None;
    }
    let u32_at = |at: usize| -> Option<u64> {
        let b: [u8; 4] = rest.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as u64)
    };
    let kind = u32_at(0)?;
    let len = u32_at(4)?;
    if len > MAX_BLOCK_BUFFER as u64 {
        return Some(format!(
            "length {len} is above the {} MiB bound",
            MAX_BLOCK_BUFFER >> 20
        ));
    }
    if !rest_is_all || len <= rest.len() as u64 {
        return None;
    }
    // Enhanced Packet Block: 28 bytes of header, the captured bytes padded to 4, 4 of trailer.
    let content_end = match kind {
        6 => u32_at(20).map(|caplen| 28 + caplen.div_ceil(4) * 4 + 4),
        _ => None,
    };
    content_end
        .filter(|&end| end <= rest.len() as u64)
        .map(|_| {
            format!(
                "length {len} is larger than the rest of the file ({} bytes)",
                rest.len()
            )
        })
}

fn corrupt_block(offset: usize, why: &str) -> String {
    format!("corrupt pcapng block at offset {offset}: {why}; the packets before it are reported")
}

fn ng_timestamp(iface: &Interface, high: u32, low: u32) -> i64 {
    let units = ((high as u64) << 32 | low as u64) as i128;
    let per_sec = iface.units_per_sec as i128;
    let ns = units / per_sec * 1_000_000_000
        + (units % per_sec) * 1_000_000_000 / per_sec
        + iface.offset_sec as i128 * 1_000_000_000;
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Peeks at the first bytes of a file for error messages ("starts with 50 4b 03 04 ...").
pub fn sniff_description(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let mut buf = [0u8; 8];
    let n = f.read(&mut buf).ok()?;
    Some(describe_magic(&buf[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy_pcap(packets: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (i, p) in packets.iter().enumerate() {
            v.extend_from_slice(&(1000 + i as u32).to_le_bytes());
            v.extend_from_slice(&500u32.to_le_bytes());
            v.extend_from_slice(&(p.len() as u32).to_le_bytes());
            v.extend_from_slice(&(p.len() as u32).to_le_bytes());
            v.extend_from_slice(p);
        }
        v
    }

    type Seen = Vec<(u64, i64, usize)>;

    fn read_all(bytes: Vec<u8>) -> Result<(ReadOutcome, Seen), CaptureError> {
        let (input, comp) = decompress(Box::new(io::Cursor::new(bytes)))?;
        let mut seen = Vec::new();
        let outcome = read_capture(input, comp, |ev| {
            if let CaptureEvent::Packet(p) = ev {
                seen.push((p.frame, p.ts_ns, p.data.len()));
            }
        })?;
        Ok((outcome, seen))
    }

    #[test]
    fn legacy_frames_and_timestamps() {
        let (outcome, seen) = read_all(legacy_pcap(&[&[1, 2, 3], &[4; 60]])).unwrap();
        assert_eq!(outcome.format, "pcap");
        assert_eq!(
            seen,
            vec![(1, 1_000_000_500_000, 3), (2, 1_001_000_500_000, 60)]
        );
    }

    #[test]
    fn truncated_file_keeps_complete_packets() {
        let mut bytes = legacy_pcap(&[&[1, 2, 3], &[4; 60]]);
        bytes.truncate(bytes.len() - 10);
        let (outcome, seen) = read_all(bytes).unwrap();
        assert_eq!(seen.len(), 1);
        assert!(outcome.truncated.unwrap().contains("cut short"));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let err = read_all(b"PK\x03\x04 this is a zip file, not a capture".to_vec()).unwrap_err();
        assert!(matches!(err, CaptureError::NotACapture(_)), "{err}");
        assert!(matches!(
            read_all(Vec::new()).unwrap_err(),
            CaptureError::Empty
        ));
    }

    #[test]
    fn hostile_caplen_is_bounded() {
        let mut bytes = legacy_pcap(&[]);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&0xfff0_0000u32.to_le_bytes());
        bytes.extend_from_slice(&0xfff0_0000u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 100]);
        // Either a clean error or a truncation warning; never an allocation of 4 GiB.
        match read_all(bytes) {
            Ok((outcome, seen)) => {
                assert!(seen.is_empty());
                assert!(outcome.truncated.is_some());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn gzip_is_sniffed_by_magic() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&legacy_pcap(&[&[9; 20]])).unwrap();
        let (outcome, seen) = read_all(enc.finish().unwrap()).unwrap();
        assert_eq!(outcome.compression, Some(Compression::Gzip));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn short_reads_are_completed() {
        struct Trickle(io::Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(7);
                self.0.read(&mut buf[..n])
            }
        }
        let bytes = legacy_pcap(&[&[1; 100], &[2; 200]]);
        let (input, comp) = decompress(Box::new(Trickle(io::Cursor::new(bytes)))).unwrap();
        let mut n = 0;
        read_capture(input, comp, |ev| {
            if let CaptureEvent::Packet(_) = ev {
                n += 1
            }
        })
        .unwrap();
        assert_eq!(n, 2);
    }

    fn ng_block(kind: u32, body: &[u8], total_override: Option<u32>) -> Vec<u8> {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let total = (body.len() + 12) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&kind.to_le_bytes());
        v.extend_from_slice(&total_override.unwrap_or(total).to_le_bytes());
        v.extend_from_slice(&body);
        v.extend_from_slice(&total.to_le_bytes());
        v
    }

    fn ng_epb(data: &[u8], total_override: Option<u32>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&1_000_000u32.to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        ng_block(6, &body, total_override)
    }

    fn ng_file(blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut v = ng_block(0x0a0d0d0a, &shb, None);
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        v.extend(ng_block(1, &idb, None));
        for b in blocks {
            v.extend_from_slice(b);
        }
        v
    }

    #[test]
    fn pcapng_block_longer_than_the_file_is_corrupt_not_cut_short() {
        let good = [ng_epb(&[1; 60], None), ng_epb(&[2; 61], None)];
        // Section header 28 + interface 20 + two packets (92 and 96 bytes).
        let bad_at = 28 + 20 + 92 + 96;
        let mut blocks = good.to_vec();
        blocks.push(ng_epb(&[3; 40], Some(4096)));
        let (outcome, seen) = read_all(ng_file(&blocks)).unwrap();
        assert_eq!(seen.iter().map(|s| s.2).collect::<Vec<_>>(), vec![60, 61]);
        assert_eq!(outcome.packets, 2);
        assert_eq!(
            outcome.truncated.as_deref(),
            Some(
                format!(
                    "corrupt pcapng block at offset {bad_at}: length 4096 is larger than the rest \
                     of the file (72 bytes); the packets before it are reported"
                )
                .as_str()
            )
        );

        // Above the 256 MiB bound: refused at once, the packets before it kept.
        let mut blocks = good.to_vec();
        blocks.push(ng_epb(&[3; 40], Some(0x2000_0000)));
        let (outcome, seen) = read_all(ng_file(&blocks)).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            outcome.truncated.as_deref(),
            Some(
                format!(
                    "corrupt pcapng block at offset {bad_at}: length 536870912 is above the 256 \
                     MiB bound; the packets before it are reported"
                )
                .as_str()
            )
        );

        // A packet whose own bytes run past the end is a file cut short, as before.
        let mut file = ng_file(&good);
        file.extend(ng_epb(&[3; 40], None));
        file.truncate(file.len() - 20);
        let (outcome, seen) = read_all(file).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(outcome.truncated.unwrap().starts_with("file cut short"));
    }
}

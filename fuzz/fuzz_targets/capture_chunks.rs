//! A capture read two ways, which must agree: by pcap-parser's buffered reader, and parsed in
//! place from read-ahead chunks (`-j 2`) of a size the first two bytes choose (1 to 65,536), so
//! that blocks, headers and hostile lengths straddle chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let chunk_size = 1 + u16::from_le_bytes([data[0], data[1]]) as usize;
    let capture = &data[2..];
    let buffered = tlsdiag::capture::readout(capture, None);
    let chunked = tlsdiag::capture::readout(capture, Some(chunk_size));
    assert_eq!(buffered, chunked, "chunks of {chunk_size}");
});

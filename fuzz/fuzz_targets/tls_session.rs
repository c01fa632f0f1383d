//! A TLS session fed its two directions in chunks, with capture gaps, as TCP hands them over.
//! Input: chunks of [header: 2 bytes][bytes]; header bit 15 = direction, bit 14 = a gap of
//! that many bytes instead of data, low 14 bits = length (see fuzz/seeds.py).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::tls::{TlsContext, TlsSession};

fuzz_target!(|data: &[u8]| {
    let mut ctx = TlsContext::default();
    let mut session = TlsSession::new();
    let mut rest = data;
    let mut frame = 0u64;
    while rest.len() >= 2 {
        let header = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        let dir = (header >> 15) as u8;
        let len = (header & 0x3fff) as usize;
        frame += 1;
        if header & 0x4000 != 0 {
            session.on_gap(dir, len as u64, frame);
            continue;
        }
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        session.on_data(dir, chunk, frame, frame, frame as i64, false, &mut ctx);
    }
    session.finish();
});

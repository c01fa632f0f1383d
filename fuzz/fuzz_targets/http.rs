//! An HTTP session (HTTP/1.x, HTTP/2 preface and HEADERS, WebSocket upgrade) fed its two
//! directions in chunks; same input format as `tls_session` (see fuzz/seeds.py).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::http::HttpSession;

fuzz_target!(|data: &[u8]| {
    let mut session = HttpSession::new();
    let mut rest = data;
    let mut frame = 0u64;
    while rest.len() >= 2 {
        let header = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        let dir = (header >> 15) as u8;
        let len = (header & 0x3fff) as usize;
        frame += 1;
        if header & 0x4000 != 0 {
            session.on_gap(dir, len as u64);
            continue;
        }
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        session.on_data(dir, chunk, frame, frame as i64);
    }
    session.finish();
});

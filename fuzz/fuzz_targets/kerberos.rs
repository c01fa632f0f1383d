//! Kerberos as the analyzer meets it: a UDP datagram on port 88 (`kerberos::decode`), a TCP
//! stream on port 88 framed by 4-byte lengths (`kerberos::TcpFramer`, fed the input in two
//! pieces, then a gap), and the token of an HTTP `Negotiate` header after base64
//! (`kerberos::decode_negotiate`: SPNEGO or GSS-API wrapping an AP-REQ, AP-REP or KRB-ERROR).
//! Every input goes through all three; the decoded messages are serialized as in the JSON report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::kerberos;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = kerberos::decode(data) {
        let _ = m.is_error();
        let _ = serde_json::to_string(&m);
    }
    let mut framer = kerberos::TcpFramer::default();
    let (a, b) = data.split_at(data.len() / 2);
    for (i, piece) in [a, b].into_iter().enumerate() {
        let (messages, _broke) = framer.push(piece, i as u64 + 1);
        for (_, m) in messages {
            if let Ok(m) = m {
                let _ = serde_json::to_string(&m);
            }
        }
    }
    framer.gap();
    if let Some(token) = kerberos::decode_negotiate(data) {
        let _ = serde_json::to_string(&token);
    }
});

//! NSS key log text (SSLKEYLOGFILE), as read from files and pcapng Decryption Secrets Blocks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::keylog::KeyLog;

fuzz_target!(|data: &[u8]| {
    let mut log = KeyLog::new();
    log.add_text(data, "fuzz");
    let _ = log.len();
    let _ = log.get(&data[..data.len().min(32)]);
});

//! A Schannel event export (`--schannel-events`), read by `SchannelLog::read` as the CLI does:
//! UTF-8 or UTF-16LE text, wevtutil XML or `Export-Csv` CSV chosen by the first character.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tlsdiag::schannel::SchannelLog;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("schannel", "export", data);
    if let Ok(log) = SchannelLog::read(&[path]) {
        let _ = serde_json::to_string(&log.events);
    }
});

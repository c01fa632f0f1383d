//! An IIS W3C log file (`--iis-log`), read by `IisLog::read` as the CLI does (lossy UTF-8,
//! `#Fields:` directives, one request per line); the lines are serialized as in the JSON report.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tlsdiag::iislog::IisLog;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("iislog", "log", data);
    if let Ok(log) = IisLog::read(&[path]) {
        for line in &log.lines {
            let _ = line.status_text();
        }
        let _ = serde_json::to_string(&log.lines);
    }
});

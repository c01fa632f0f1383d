//! A whole capture (pcap, pcapng, gzip or zstd) through the analyzer, findings and both
//! renderings, without keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = tlsdiag::analyze_bytes("fuzz", data.to_vec(), tlsdiag::Options::default()) {
        let _ = tlsdiag::render::text::render_text(&report);
        let _ = serde_json::to_string(&report);
    }
});

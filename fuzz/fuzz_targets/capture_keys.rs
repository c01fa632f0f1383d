//! A whole capture through the analyzer with every key log of `captures/` loaded, so mutated
//! captures whose client randoms still match reach record decryption and the HTTP inside.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn keylogs() -> &'static Vec<PathBuf> {
    static KEYS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../captures");
        let mut found = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "keys") {
                    found.push(p);
                }
            }
        }
        found.sort();
        found
    })
}

fuzz_target!(|data: &[u8]| {
    let options = tlsdiag::Options {
        keylog_files: keylogs().clone(),
        ..tlsdiag::Options::default()
    };
    if let Ok(report) = tlsdiag::analyze_bytes("fuzz", data.to_vec(), options) {
        let _ = tlsdiag::render::text::render_text(&report);
        let _ = serde_json::to_string(&report);
    }
});

//! A trust store file (`--trust`, `--client-trust`, `tlsdiag calist`): PEM bundle, DER
//! certificate, PKCS#7 `.p7b` or Microsoft serialized store `.sst`, loaded by
//! `TrustStore::add_path` as the CLI does, then the CA list a server trusting it would send
//! (`calist`), serialized as `calist --format json` prints it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tlsdiag::trust::TrustStore;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("trust", "store", data);
    let mut store = TrustStore::default();
    if store.add_path(&path).is_ok() {
        let _ = serde_json::to_string(&store.ca_list());
    }
});

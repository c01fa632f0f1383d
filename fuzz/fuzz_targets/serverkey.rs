//! A server key file (`--server-key`): PEM (PKCS#1, PKCS#8, encrypted PKCS#8), DER, or
//! PKCS#12/PFX, loaded by `ServerKeys::add_file` as the CLI does, once without a password and
//! once with the password of the files in `captures/serverkey/` (so seeds get past the PKCS#12
//! MAC and the PKCS#8 decryption).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use tlsdiag::serverkey::ServerKeys;

/// The password of `captures/serverkey/server.pfx`, `server-legacy.pfx` and
/// `server-key.encrypted.pem`.
const PASSWORD: &str = "tlsdiag-test";

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("serverkey", "key", data);
    for password in [None, Some(PASSWORD)] {
        let mut keys = ServerKeys::default();
        if keys.add_file(&path, password).is_ok() {
            for key in &keys.keys {
                let _ = key.bits();
                let _ = format!("{key:?}");
            }
        }
    }
});

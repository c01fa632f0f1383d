//! X.509 certificates and names: description, canonical names, and a signature check of the
//! input against itself and of its two halves (child, issuer).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::x509;

fuzz_target!(|data: &[u8]| {
    let _ = x509::cert_info(data);
    let _ = x509::dn_to_string(data);
    let _ = x509::dn_canonical(data);
    let _ = x509::verify_signature(data, data);
    let (a, b) = data.split_at(data.len() / 2);
    let _ = x509::verify_signature(a, b);
});

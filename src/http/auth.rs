//! What the `Authorization` and `WWW-Authenticate` headers carry: the scheme of a token
//! (Kerberos, NTLM or SPNEGO inside Negotiate) and the user of a Basic credential.

use super::truncate;

pub(crate) fn basic_user(token: &str) -> Option<String> {
    let decoded = base64_decode(token)?;
    let text = String::from_utf8_lossy(&decoded);
    let user = text.split(':').next()?.to_string();
    Some(truncate(&user, 128))
}

/// Kind of an NTLM/Negotiate token: raw NTLMSSP starts "TlRMTVNT" ("NTLMSSP" in base64); SPNEGO
/// wrapping Kerberos starts with the GSS-API tag 0x60 ("YII..."), and its inner mechanism says
/// whether it carries Kerberos or NTLM.
pub(crate) fn token_kind(token: &str) -> Option<&'static str> {
    if token.starts_with("TlRMTVNT") {
        return Some("ntlm");
    }
    let bytes = base64_decode(token)?;
    const NTLMSSP: &[u8] = b"NTLMSSP\0";
    const KRB5_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    const MS_KRB5_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
    ];
    if bytes.windows(NTLMSSP.len()).any(|w| w == NTLMSSP) {
        Some("ntlm")
    } else if bytes.first() == Some(&0x60)
        && bytes
            .windows(KRB5_OID.len())
            .any(|w| w == KRB5_OID || w == MS_KRB5_OID)
    {
        Some("kerberos")
    } else if bytes.first() == Some(&0xa1) {
        // A SPNEGO continuation (negTokenResp) names no mechanism.
        Some("spnego")
    } else {
        None
    }
}

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The SPNEGO/Kerberos content of a Negotiate token; `None` for NTLM and undecodable tokens.
/// Tokens are bounded by the header size httparse accepts, so decoding them is cheap.
pub(crate) fn negotiate(token: &str) -> Option<crate::kerberos::NegotiateToken> {
    if token.is_empty() || token.starts_with("TlRMTVNT") {
        return None;
    }
    crate::kerberos::decode_negotiate(&base64_decode(token)?)
}

//! Certificates and distinguished names.
//!
//! x509-parser decodes certificates; what users read is produced here: RFC 4514 text of names
//! (most specific RDN first, as Wireshark and OpenSSL's `-nameopt RFC2253` print them), key
//! sizes, extensions worth reporting, and a canonical form of names for the comparisons servers
//! make (case-folded, whitespace-collapsed, string types unified).
//!
//! Names are rendered from their DER with a small walker of our own rather than
//! `X509Name::to_string`, because that prints the RDNs in encoding order with ", " separators and
//! cannot render the malformed names that hostile CertificateRequests carry.

use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

/// Short names of attribute types; others are printed as dotted OIDs.
fn attribute_name(oid: &[u64]) -> Option<&'static str> {
    Some(match oid {
        [2, 5, 4, 3] => "CN",
        [2, 5, 4, 6] => "C",
        [2, 5, 4, 7] => "L",
        [2, 5, 4, 8] => "ST",
        [2, 5, 4, 10] => "O",
        [2, 5, 4, 11] => "OU",
        [2, 5, 4, 9] => "street",
        [2, 5, 4, 5] => "serialNumber",
        [2, 5, 4, 17] => "postalCode",
        [2, 5, 4, 42] => "GN",
        [2, 5, 4, 4] => "SN",
        [2, 5, 4, 12] => "title",
        [2, 5, 4, 97] => "organizationIdentifier",
        [1, 2, 840, 113549, 1, 9, 1] => "emailAddress",
        [0, 9, 2342, 19200300, 100, 1, 25] => "DC",
        [0, 9, 2342, 19200300, 100, 1, 1] => "UID",
        _ => return None,
    })
}

/// A DER TLV: tag, content, and the bytes after it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn decode_oid(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::with_capacity(8);
    let mut v: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        v = (v << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            if out.is_empty() {
                let first = if v < 80 { v / 40 } else { 2 };
                out.push(first);
                out.push(v - first * 40);
            } else {
                out.push(v);
            }
            v = 0;
        } else if i == bytes.len() - 1 || v > (u64::MAX >> 7) {
            break;
        }
    }
    out
}

/// One attribute value as text, or `None` when it is not a string type.
fn attribute_text(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, VisibleString, NumericString
        0x0c | 0x13 | 0x16 | 0x1a | 0x12 => Some(String::from_utf8_lossy(value).into_owned()),
        // TeletexString: in practice Latin-1 or UTF-8.
        0x14 => Some(match std::str::from_utf8(value) {
            Ok(s) => s.to_owned(),
            Err(_) => value.iter().map(|&b| b as char).collect(),
        }),
        // BMPString (UTF-16BE)
        0x1e => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        // UniversalString (UCS-4)
        0x1c => Some(
            value
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or('\u{fffd}')
                })
                .collect(),
        ),
        _ => None,
    }
}

/// RFC 4514 section 2.4 escaping.
fn escape_value(s: &str, out: &mut String) {
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
}

/// RDNs of a DER Name as (type, string tag, value) lists, in encoding order.
type Rdn<'a> = Vec<(Vec<u64>, u8, &'a [u8])>;

fn parse_name(der: &[u8]) -> Option<Vec<Rdn<'_>>> {
    let (tag, content, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let mut rdns = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tag, set, after) = tlv(rest)?;
        if tag != 0x31 {
            return None;
        }
        let mut attrs = Vec::new();
        let mut inner = set;
        while !inner.is_empty() {
            let (tag, seq, after_attr) = tlv(inner)?;
            if tag != 0x30 {
                return None;
            }
            let (otag, oid, value) = tlv(seq)?;
            if otag != 0x06 {
                return None;
            }
            let (vtag, vbytes, _) = tlv(value)?;
            attrs.push((decode_oid(oid), vtag, vbytes));
            inner = after_attr;
        }
        rdns.push(attrs);
        rest = after;
    }
    Some(rdns)
}

/// RFC 4514 text of a DER-encoded Name, most specific RDN first. Names that do not parse are
/// shown as `#` and their hex, as RFC 4514 does for values it cannot print.
pub fn dn_to_string(der: &[u8]) -> String {
    let Some(rdns) = parse_name(der) else {
        return format!("#{}", hex::encode(der));
    };
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, (oid, tag, value)) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match attribute_name(oid) {
                Some(name) => out.push_str(name),
                None => {
                    let parts: Vec<String> = oid.iter().map(|n| n.to_string()).collect();
                    out.push_str(&parts.join("."));
                }
            }
            out.push('=');
            match attribute_text(*tag, value) {
                Some(text) => escape_value(&text, &mut out),
                None => {
                    out.push('#');
                    out.push_str(&format!("{tag:02x}"));
                    out.push_str(&hex::encode(value));
                }
            }
        }
    }
    out
}

/// Canonical form of a Name for "same name" comparisons as OpenSSL's `X509_NAME_cmp` makes
/// them: attribute values case-folded and whitespace-collapsed, string types unified.
pub fn dn_canonical(der: &[u8]) -> Option<String> {
    let rdns = parse_name(der)?;
    let mut out = String::new();
    for rdn in rdns {
        out.push('/');
        let mut attrs: Vec<String> = rdn
            .iter()
            .map(|(oid, tag, value)| {
                let text = attribute_text(*tag, value).unwrap_or_else(|| hex::encode(value));
                let folded = text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase();
                let oid: Vec<String> = oid.iter().map(|n| n.to_string()).collect();
                format!("{}={}", oid.join("."), folded)
            })
            .collect();
        attrs.sort();
        out.push_str(&attrs.join("+"));
    }
    Some(out)
}

/// What we report about one certificate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertInfo {
    pub der_len: usize,
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    /// Subject and issuer are the same DER.
    pub self_issued: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_bits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub eku: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crl_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ocsp_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca_issuer_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// DER of subject and issuer, for chain and CA-list comparisons.
    #[serde(skip)]
    pub subject_der: Vec<u8>,
    #[serde(skip)]
    pub issuer_der: Vec<u8>,
    /// The certificate's own key verifies its signature (a real self-signed certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<bool>,
    /// The whole certificate, for signature checks between certificates.
    #[serde(skip)]
    pub der: Vec<u8>,
}

fn rsa_bits(modulus: &[u8]) -> u32 {
    let trimmed: &[u8] = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    trimmed.len() as u32 * 8 - trimmed[0].leading_zeros()
}

fn general_name(g: &GeneralName<'_>) -> String {
    match g {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => s.to_string(),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}.{}.{}.{}", b[0], b[1], b[2], b[3]),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                format!("IP:{}", std::net::Ipv6Addr::from(a))
            }
            _ => format!("IP:{}", hex::encode(b)),
        },
        GeneralName::DirectoryName(n) => format!("DirName:{}", dn_to_string(n.as_raw())),
        other => format!("{other:?}"),
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    match x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()) {
        Ok(sn) => sn.to_string(),
        Err(_) => oid.to_id_string(),
    }
}

/// Parses a DER certificate into what the report shows. Never fails: a certificate that does
/// not parse keeps its size, fingerprint and the error.
pub fn cert_info(der: &[u8]) -> CertInfo {
    let sha256 = hex::encode(Sha256::digest(der));
    let mut info = CertInfo {
        der_len: der.len(),
        sha256,
        subject: String::new(),
        issuer: String::new(),
        self_issued: false,
        serial: None,
        not_before: None,
        not_after: None,
        key: None,
        key_bits: None,
        signature_algorithm: None,
        is_ca: None,
        path_len: None,
        eku: Vec::new(),
        san: Vec::new(),
        crl_urls: Vec::new(),
        ocsp_urls: Vec::new(),
        ca_issuer_urls: Vec::new(),
        parse_error: None,
        subject_der: Vec::new(),
        issuer_der: Vec::new(),
        self_signed: None,
        der: der.to_vec(),
    };
    let cert = match parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            info.parse_error = Some(e.to_string());
            return info;
        }
    };
    info.subject_der = cert.subject().as_raw().to_vec();
    info.issuer_der = cert.issuer().as_raw().to_vec();
    info.subject = dn_to_string(&info.subject_der);
    info.issuer = dn_to_string(&info.issuer_der);
    info.self_issued = info.subject_der == info.issuer_der;
    // Only a self-issued certificate can be self-signed; checking others would waste a verify.
    if info.self_issued || dn_canonical(&info.subject_der) == dn_canonical(&info.issuer_der) {
        info.self_signed = match verify_parsed(&cert, &cert) {
            Verification::Valid => Some(true),
            Verification::Invalid => Some(false),
            Verification::Unsupported(_) => None,
        };
    }
    info.serial = Some(hex::encode(cert.raw_serial()));
    info.not_before = Some(cert.validity().not_before.timestamp());
    info.not_after = Some(cert.validity().not_after.timestamp());
    info.signature_algorithm = Some(oid_name(&cert.signature_algorithm.algorithm));
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            info.key = Some("RSA".into());
            info.key_bits = Some(rsa_bits(rsa.modulus));
        }
        Ok(x509_parser::public_key::PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| oid_name(&o))
                .unwrap_or_else(|| "EC".into());
            info.key = Some(format!("EC {curve}"));
            info.key_bits = Some(point.key_size() as u32);
        }
        _ => info.key = Some(oid_name(&spki.algorithm.algorithm)),
    }
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                info.is_ca = Some(bc.ca);
                info.path_len = bc.path_len_constraint;
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut names = Vec::new();
                if eku.any {
                    names.push("anyExtendedKeyUsage".to_string());
                }
                if eku.server_auth {
                    names.push("serverAuth".into());
                }
                if eku.client_auth {
                    names.push("clientAuth".into());
                }
                if eku.code_signing {
                    names.push("codeSigning".into());
                }
                if eku.email_protection {
                    names.push("emailProtection".into());
                }
                if eku.time_stamping {
                    names.push("timeStamping".into());
                }
                if eku.ocsp_signing {
                    names.push("OCSPSigning".into());
                }
                names.extend(eku.other.iter().map(|o| o.to_id_string()));
                info.eku = names;
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                info.san = san.general_names.iter().map(general_name).collect();
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        info.crl_urls.extend(names.iter().map(general_name));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    let url = general_name(&desc.access_location);
                    match desc.access_method.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.48.1" => info.ocsp_urls.push(url),
                        "1.3.6.1.5.5.7.48.2" => info.ca_issuer_urls.push(url),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// Outcome of checking one certificate's signature with another's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Valid,
    Invalid,
    /// The check could not be made (algorithm not supported, key too small for ring...).
    Unsupported(String),
}

fn verify_parsed(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Verification {
    // ring refuses RSA keys under 2048 bits with the same error as a bad signature, so a weak key
    // must not be read as "not signed by this key".
    if let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = issuer.public_key().parsed() {
        if rsa_bits(rsa.modulus) < 2048 {
            return Verification::Unsupported("RSA key under 2048 bits".into());
        }
    }
    match child.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Verification::Valid,
        Err(X509Error::SignatureVerificationError) => Verification::Invalid,
        Err(e) => Verification::Unsupported(e.to_string()),
    }
}

/// Does `issuer`'s key verify `child`'s signature? Both are DER certificates.
pub fn verify_signature(child: &[u8], issuer: &[u8]) -> Verification {
    match (
        parse_x509_certificate(child),
        parse_x509_certificate(issuer),
    ) {
        (Ok((_, c)), Ok((_, i))) => verify_parsed(&c, &i),
        _ => Verification::Unsupported("certificate does not parse".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a Name from (oid bytes, tag, value) RDNs in encoding order.
    fn name(rdns: &[(&[u8], u8, &str)]) -> Vec<u8> {
        fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut v = vec![tag];
            if content.len() < 128 {
                v.push(content.len() as u8);
            } else {
                v.push(0x82);
                v.extend_from_slice(&(content.len() as u16).to_be_bytes());
            }
            v.extend_from_slice(content);
            v
        }
        let mut seq = Vec::new();
        for (oid, tag, value) in rdns {
            let mut atv = wrap(0x06, oid);
            atv.extend(wrap(*tag, value.as_bytes()));
            seq.extend(wrap(0x31, &wrap(0x30, &atv)));
        }
        wrap(0x30, &seq)
    }

    const C: &[u8] = &[0x55, 0x04, 0x06];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const CN: &[u8] = &[0x55, 0x04, 0x03];

    #[test]
    fn rfc4514_order_and_escaping() {
        let der = name(&[
            (C, 0x13, "US"),
            (O, 0x0c, "Foo, Inc."),
            (CN, 0x0c, " root#1 "),
        ]);
        assert_eq!(dn_to_string(&der), "CN=\\ root#1\\ ,O=Foo\\, Inc.,C=US");
    }

    #[test]
    fn canonical_form_ignores_case_space_and_string_type() {
        let a = name(&[(C, 0x13, "US"), (CN, 0x13, "My  Root CA")]);
        let b = name(&[(C, 0x0c, "us"), (CN, 0x0c, "my root ca")]);
        assert_ne!(a, b);
        assert_eq!(dn_canonical(&a), dn_canonical(&b));
    }

    #[test]
    fn malformed_name_is_hex() {
        assert_eq!(dn_to_string(&[0x30, 0x05, 0x31]), "#300531");
        assert!(dn_canonical(&[0x04, 0x00]).is_none());
    }

    #[test]
    fn rsa_bits_counts_significant_bits() {
        let mut m = vec![0u8, 0xc0];
        m.extend_from_slice(&[0xff; 255]);
        assert_eq!(rsa_bits(&m), 2048);
        assert_eq!(rsa_bits(&[0x01, 0x00]), 9);
    }
}

//! Trust stores (`--trust`): certificates read from a PEM bundle, a DER file, a directory of
//! either (OpenSSL `rehash` symlinks are read once), or a PKCS#7 `.p7b`/`.sst` export of
//! Windows `certutil`/MMC; and the CA list a server trusting them would send.
//!
//! PKCS#7 is parsed with RustCrypto `cms` (already in the build through the PKCS#12 reader) rather
//! than by hand. A Microsoft serialized store (`.sst` from MMC's "Microsoft Serialized Certificate
//! Store" export) is not PKCS#7 but a list of property records with the certificates inside;
//! when a file is neither PEM, a certificate, nor PKCS#7, the DER certificates it embeds are
//! picked out (each candidate must parse as a whole X.509 certificate).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::model::{DEFAULT_CA_LIST_WARN, SCHANNEL_CA_LIST_LIMIT};
use crate::x509::{self, CertInfo};

/// One trusted certificate.
#[derive(Debug, Clone)]
pub struct TrustCert {
    pub info: Arc<CertInfo>,
    /// The file it came from.
    pub source: String,
}

/// The certificates of every `--trust` path, without duplicates, in the order read.
#[derive(Debug, Default)]
pub struct TrustStore {
    pub certs: Vec<TrustCert>,
    /// Files in a directory that held no certificate.
    pub warnings: Vec<String>,
    seen: rustc_hash::FxHashSet<Vec<u8>>,
}

impl TrustStore {
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Adds a file or directory; returns how many new certificates it brought.
    pub fn add_path(&mut self, path: &Path) -> Result<usize, String> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| format!("{name}: {e}"))?;
        if !meta.is_dir() {
            let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
            let ders = certificates_in(&bytes).map_err(|e| format!("{name}: {e}"))?;
            return Ok(self.add_ders(ders, &name));
        }
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{name}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        let mut added = 0;
        for entry in entries {
            if entry.is_dir() {
                continue;
            }
            let file = entry.display().to_string();
            match std::fs::read(&entry)
                .map_err(|e| e.to_string())
                .and_then(|b| certificates_in(&b))
            {
                Ok(ders) => added += self.add_ders(ders, &file),
                Err(e) => {
                    if self.warnings.len() < 100 {
                        self.warnings.push(format!("{file}: {e} (skipped)"));
                    }
                }
            }
        }
        if self.certs.is_empty() && added == 0 {
            return Err(format!("{name}: no certificate in this directory"));
        }
        Ok(added)
    }

    fn add_ders(&mut self, ders: Vec<Vec<u8>>, source: &str) -> usize {
        let mut added = 0;
        for der in ders {
            if self.seen.insert(der.clone()) {
                self.certs.push(TrustCert {
                    info: Arc::new(x509::cert_info(&der)),
                    source: source.to_string(),
                });
                added += 1;
            }
        }
        added
    }

    /// The CA list a server trusting these certificates sends in its CertificateRequest: each
    /// distinct subject once, in store order (OpenSSL and Schannel both send the subjects of
    /// every certificate of the store).
    pub fn ca_list(&self) -> CaListPlan {
        let mut names: Vec<PlannedName> = Vec::new();
        let mut seen = rustc_hash::FxHashSet::default();
        let mut total = 0usize;
        for cert in &self.certs {
            let subject = &cert.info.subject_der;
            if subject.is_empty() || !seen.insert(subject.clone()) {
                continue;
            }
            total += 2 + subject.len();
            names.push(PlannedName {
                index: names.len() + 1,
                dn: x509::dn_to_string(subject),
                der_len: subject.len(),
                running_total: total,
                past_warn: total > DEFAULT_CA_LIST_WARN,
                past_schannel: total > SCHANNEL_CA_LIST_LIMIT,
            });
        }
        let first = |f: fn(&PlannedName) -> bool| names.iter().find(|n| f(n)).map(|n| n.index);
        CaListPlan {
            ca_list_bytes: total,
            count: names.len(),
            warn_bytes: DEFAULT_CA_LIST_WARN,
            schannel_limit: SCHANNEL_CA_LIST_LIMIT,
            passes_warn_at: first(|n| n.past_warn),
            passes_schannel_at: first(|n| n.past_schannel),
            cut: names.iter().filter(|n| n.past_schannel).count(),
            names,
        }
    }
}

/// One name of a planned CA list.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedName {
    /// 1-based position in the list.
    pub index: usize,
    /// RFC 4514 text.
    pub dn: String,
    /// DER size of the Name.
    pub der_len: usize,
    /// Bytes of the list up to and including this name (2-byte length plus DER per name).
    pub running_total: usize,
    /// The running total is past 12,288 bytes.
    pub past_warn: bool,
    /// The running total is past Schannel's 16,384 bytes: Schannel would not send this name.
    pub past_schannel: bool,
}

/// The CA list a server would send.
#[derive(Debug, Clone, Serialize)]
pub struct CaListPlan {
    /// Size of the list as on the wire (what a CertificateRequest reports as `ca_list_bytes`).
    pub ca_list_bytes: usize,
    pub count: usize,
    pub warn_bytes: usize,
    pub schannel_limit: usize,
    /// 1-based index of the first name that takes the list past `warn_bytes`.
    pub passes_warn_at: Option<usize>,
    /// 1-based index of the first name past Schannel's limit (that name and all after it are
    /// cut).
    pub passes_schannel_at: Option<usize>,
    /// Names that would be cut.
    pub cut: usize,
    pub names: Vec<PlannedName>,
}

/// Every certificate (DER) in a file's bytes.
pub fn certificates_in(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if let Some(text) = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN "))
    {
        return pem_certificates(text);
    }
    if x509_parser::parse_x509_certificate(bytes).is_ok_and(|(rest, _)| rest.is_empty()) {
        return Ok(vec![bytes.to_vec()]);
    }
    if let Some(certs) = pkcs7_certificates(bytes) {
        if !certs.is_empty() {
            return Ok(certs);
        }
    }
    let found = embedded_certificates(bytes);
    if found.is_empty() {
        return Err("no certificate found (expected PEM, DER, PKCS#7 .p7b or .sst)".into());
    }
    Ok(found)
}

fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(end_rel) = block.find("-----END ") else {
            break;
        };
        let Some(close) = block[end_rel + 9..].find("-----") else {
            break;
        };
        let end = end_rel + 9 + close + 5;
        let pem = &block[..end];
        rest = &block[end..];
        if let Ok((label, der)) = pem_rfc7468::decode_vec(pem.as_bytes()) {
            match label {
                "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => out.push(der),
                "PKCS7" | "CERTIFICATE CHAIN" => {
                    out.extend(pkcs7_certificates(&der).unwrap_or_default())
                }
                _ => {}
            }
        } else if pem.contains("BEGIN CERTIFICATE") {
            return Err("a CERTIFICATE block is not valid base64".into());
        }
    }
    if out.is_empty() {
        return Err("no CERTIFICATE block in the PEM text".into());
    }
    Ok(out)
}

/// The certificates of a PKCS#7 SignedData (certs-only, as `.p7b` exports are).
fn pkcs7_certificates(der: &[u8]) -> Option<Vec<Vec<u8>>> {
    use der::{Decode, Encode};
    let ci = cms::content_info::ContentInfo::from_der(der).ok()?;
    let sd: cms::signed_data::SignedData = ci.content.decode_as().ok()?;
    let mut out = Vec::new();
    for choice in sd.certificates?.0.iter() {
        if let cms::cert::CertificateChoices::Certificate(c) = choice {
            out.push(c.to_der().ok()?);
        }
    }
    Some(out)
}

/// Certificates embedded in another binary structure (a Microsoft serialized store).
fn embedded_certificates(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 < bytes.len() {
        // A certificate is a SEQUENCE with a two-byte length (any real one is 256..65535 bytes).
        if bytes[i] == 0x30 && bytes[i + 1] == 0x82 {
            let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize + 4;
            if let Some(cand) = bytes.get(i..i + len) {
                if x509_parser::parse_x509_certificate(cand).is_ok_and(|(r, _)| r.is_empty()) {
                    out.push(cand.to_vec());
                    i += len;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_certificates_is_an_error() {
        assert!(certificates_in(b"hello").is_err());
        assert!(
            certificates_in(b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n")
                .unwrap_err()
                .contains("no CERTIFICATE block")
        );
    }

    #[test]
    fn certificates_inside_another_structure_are_found() {
        // A Microsoft serialized store holds each certificate inside property records: here
        // the real root and intermediate DER between other bytes.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/serverkey");
        let root = std::fs::read(dir.join("trust/root.der")).unwrap();
        let inter = pem_certificates(&std::fs::read_to_string(dir.join("pki/inter.pem")).unwrap())
            .unwrap()
            .remove(0);
        let mut sst = b"\0\0\0\0CERT\x20\0\0\0\x01\0\0\0".to_vec();
        sst.extend_from_slice(&root);
        sst.extend_from_slice(&[0x30, 0x82, 0xff, 0xff, 0x20, 0, 0, 0]);
        sst.extend_from_slice(&inter);
        sst.extend_from_slice(&[0; 12]);
        assert_eq!(certificates_in(&sst).unwrap(), vec![root, inter]);
    }
}

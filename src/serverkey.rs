//! Server private keys (`--server-key`): RSA keys read from PEM (PKCS#1 or PKCS#8, with any text
//! before the BEGIN line), DER, or PKCS#12/PFX, and the RSA decryption of a ClientKeyExchange's
//! encrypted pre-master secret.
//!
//! Keys are matched to connections by the server certificate's public key, so no address or
//! port needs to be configured. Key bytes and the password never leave this module: errors name
//! the file and what went wrong, and `Debug` prints no key material.
//!
//! Security note: RUSTSEC-2023-0071 ("Marvin") is a timing side channel in `rsa`'s PKCS#1 v1.5
//! decryption. It needs an attacker who submits chosen ciphertexts to a live decryption service
//! and measures how long each takes. Here the ciphertexts are recorded traffic, decrypted once on
//! the analyst's machine, with no one to observe the timing: the advisory does not apply.

use std::path::Path;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};

/// The environment variable read for the PKCS#12 password when `--key-password` is not given.
pub const PASSWORD_ENV: &str = "TLSDIAG_KEY_PASSWORD";

/// One RSA private key and the file it came from.
pub struct ServerKey {
    /// The file name as given, for messages.
    pub source: String,
    key: RsaPrivateKey,
    /// Big-endian modulus without leading zeros, to match certificates.
    modulus: Vec<u8>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "ServerKey({}, {} bits)", self.source, self.bits())
    }
}

impl ServerKey {
    pub fn bits(&self) -> usize {
        self.modulus.len() * 8
            - self
                .modulus
                .first()
                .map_or(8, |b| b.leading_zeros() as usize)
    }

    /// Decrypts an encrypted pre-master secret (RSAES-PKCS1-v1_5). A wrong key shows as a
    /// padding error here, or as records that do not authenticate later.
    pub fn decrypt_pms(&self, epms: &[u8]) -> Option<Vec<u8>> {
        self.key.decrypt(Pkcs1v15Encrypt, epms).ok()
    }
}

/// All server keys of a run.
#[derive(Debug, Default)]
pub struct ServerKeys {
    pub keys: Vec<ServerKey>,
}

impl ServerKeys {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key whose public key is in this certificate.
    pub fn for_certificate(&self, cert_der: &[u8]) -> Option<(usize, &ServerKey)> {
        let modulus = rsa_modulus(cert_der)?;
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.modulus == modulus)
    }

    /// Loads one file; `password` is for PKCS#12 files.
    pub fn add_file(&mut self, path: &Path, password: Option<&str>) -> Result<(), String> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
        let keys = parse_key_file(&bytes, password).map_err(|e| format!("{name}: {e}"))?;
        for key in keys {
            let modulus = trim(&key.n().to_bytes_be()).to_vec();
            self.keys.push(ServerKey {
                source: name.clone(),
                key,
                modulus,
            });
        }
        Ok(())
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// The RSA modulus of a certificate (None for other key types or unparsable certificates).
pub fn rsa_modulus(cert_der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    match cert.public_key().parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => Some(trim(rsa.modulus).to_vec()),
        _ => None,
    }
}

const NOT_RSA: &str =
    "not an RSA private key: only RSA key exchange can be decrypted with a server key";

/// Reads every RSA private key of a file: PEM blocks (anywhere in the text), DER PKCS#8 or
/// PKCS#1, or PKCS#12.
fn parse_key_file(bytes: &[u8], password: Option<&str>) -> Result<Vec<RsaPrivateKey>, String> {
    let text = std::str::from_utf8(bytes).ok();
    if let Some(text) = text.filter(|t| t.contains("-----BEGIN ")) {
        return parse_pem_text(text, password);
    }
    if bytes.first() != Some(&0x30) {
        return Err("not a PEM, DER or PKCS#12/PFX key file".into());
    }
    if let Ok(k) = RsaPrivateKey::from_pkcs8_der(bytes) {
        return Ok(vec![k]);
    }
    if let Ok(k) = RsaPrivateKey::from_pkcs1_der(bytes) {
        return Ok(vec![k]);
    }
    if pkcs8::PrivateKeyInfo::try_from(bytes).is_ok() {
        return Err(NOT_RSA.into());
    }
    parse_pkcs12(bytes, password)
}

fn parse_pem_text(text: &str, password: Option<&str>) -> Result<Vec<RsaPrivateKey>, String> {
    let mut keys = Vec::new();
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block[11..].find("-----").map(|i| i + 11);
        let Some(label_end) = label_end else { break };
        let label = &block[11..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(format!("PEM block {label} has no END line"));
        };
        let pem = &block[..end + end_marker.len()];
        rest = &block[end + end_marker.len()..];
        labels.push(label.to_string());
        let key = match label {
            "RSA PRIVATE KEY" => {
                if pem.contains("Proc-Type: 4,ENCRYPTED") {
                    return Err("the PKCS#1 key is encrypted with a legacy PEM cipher: decrypt it first (openssl rsa -in FILE -out PLAIN)".into());
                }
                RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| format!("PKCS#1 key: {e}"))?
            }
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| {
                if matches!(e, pkcs8::Error::KeyMalformed | pkcs8::Error::PublicKey(_))
                    || e.to_string().contains("OID")
                {
                    NOT_RSA.to_string()
                } else {
                    format!("PKCS#8 key: {e}")
                }
            })?,
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pw) = password else {
                    return Err(format!("the key is encrypted: give its password with --key-password or {PASSWORD_ENV}"));
                };
                RsaPrivateKey::from_pkcs8_encrypted_pem(pem, pw.as_bytes()).map_err(|_| {
                    "wrong password for the encrypted key, or not an RSA key".to_string()
                })?
            }
            "EC PRIVATE KEY" | "DSA PRIVATE KEY" => return Err(NOT_RSA.into()),
            _ => continue,
        };
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(format!(
            "no private key in the PEM text (blocks found: {})",
            if labels.is_empty() {
                "none".to_string()
            } else {
                labels.join(", ")
            }
        ));
    }
    Ok(keys)
}

fn parse_pkcs12(bytes: &[u8], password: Option<&str>) -> Result<Vec<RsaPrivateKey>, String> {
    let Some(password) = password else {
        // Windows exports always have a password, but an empty one is allowed.
        return match p12_keystore::KeyStore::from_pkcs12(bytes, "") {
            Ok(store) => pkcs12_keys(&store),
            Err(_) => Err(format!(
                "a PKCS#12/PFX file (or an unreadable DER key): give its password with --key-password or {PASSWORD_ENV}"
            )),
        };
    };
    match p12_keystore::KeyStore::from_pkcs12(bytes, password) {
        Ok(store) => pkcs12_keys(&store),
        Err(p12_keystore::error::Error::MacError(_)) => Err(
            "wrong password for this PKCS#12/PFX file (its integrity MAC does not verify)".into(),
        ),
        Err(p12_keystore::error::Error::DerError(_)) => {
            Err("not a PEM, DER or PKCS#12/PFX key file".into())
        }
        // The library's messages name algorithms and structure, never the password.
        Err(e) => Err(format!("cannot read this PKCS#12/PFX file: {e}")),
    }
}

fn pkcs12_keys(store: &p12_keystore::KeyStore) -> Result<Vec<RsaPrivateKey>, String> {
    let mut keys = Vec::new();
    let mut other = 0;
    for (_, entry) in store.entries() {
        if let p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) = entry {
            match RsaPrivateKey::from_pkcs8_der(chain.key()) {
                Ok(k) => keys.push(k),
                Err(_) => other += 1,
            }
        }
    }
    if keys.is_empty() {
        return Err(if other > 0 {
            NOT_RSA.into()
        } else {
            "the PKCS#12/PFX file holds no private key (only certificates)".into()
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error() {
        assert_eq!(
            parse_key_file(b"hello", None).unwrap_err(),
            "not a PEM, DER or PKCS#12/PFX key file"
        );
        assert!(parse_key_file(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None
        )
        .unwrap_err()
        .contains("blocks found: CERTIFICATE"));
        assert!(parse_key_file(&[0x30, 0x03, 0x02, 0x01, 0x00], Some("x")).is_err());
    }
}

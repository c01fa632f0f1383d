//! TLS secrets in the NSS key log format (`SSLKEYLOGFILE`), from files and from pcapng
//! Decryption Secrets Blocks.
//!
//! Each line is `LABEL <client_random hex> <secret hex>`; `#` starts a comment. Secrets are
//! indexed by the ClientHello random they belong to. A malformed line is a warning with its line
//! number, never an error, and secrets never leave this module except as key material.

use std::path::Path;

use rustc_hash::FxHashMap;

/// Secrets known for one ClientHello random.
#[derive(Default, Clone)]
pub struct Secrets {
    /// TLS <= 1.2 master secret (48 bytes).
    pub master_secret: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic_0: Option<Vec<u8>>,
    pub server_traffic_0: Option<Vec<u8>>,
    pub client_early: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Secrets(..)")
    }
}

/// All secrets of a run, indexed by client random.
#[derive(Default, Debug)]
pub struct KeyLog {
    by_random: FxHashMap<[u8; 32], Secrets>,
    /// Warnings about lines that could not be used ("keys.txt line 7: ...").
    pub warnings: Vec<String>,
    /// Lines with labels we do not use (EXPORTER_SECRET...).
    pub ignored_lines: usize,
    /// `RSA` lines: pre-master secret by the first 8 bytes of the encrypted pre-master secret.
    by_epms_prefix: FxHashMap<[u8; 8], Vec<u8>>,
    /// `PMS_CLIENT_RANDOM` lines: pre-master secret by client random.
    pms_by_random: FxHashMap<[u8; 32], Vec<u8>>,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    hex::decode(s).ok()
}

impl KeyLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty() && !self.has_pre_master_secrets()
    }

    pub fn len(&self) -> usize {
        self.by_random.len() + self.by_epms_prefix.len() + self.pms_by_random.len()
    }

    /// The log has `RSA` or `PMS_CLIENT_RANDOM` lines (master secrets derive from them after the
    /// ClientKeyExchange).
    pub fn has_pre_master_secrets(&self) -> bool {
        !self.by_epms_prefix.is_empty() || !self.pms_by_random.is_empty()
    }

    /// The pre-master secret of an `RSA` line for this encrypted pre-master secret.
    pub fn pms_for_epms(&self, epms: &[u8]) -> Option<&[u8]> {
        let key: [u8; 8] = epms.get(..8)?.try_into().ok()?;
        self.by_epms_prefix.get(&key).map(Vec::as_slice)
    }

    /// The pre-master secret of a `PMS_CLIENT_RANDOM` line.
    pub fn pms_for_random(&self, client_random: &[u8]) -> Option<&[u8]> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.pms_by_random.get(&key).map(Vec::as_slice)
    }

    pub fn get(&self, client_random: &[u8]) -> Option<&Secrets> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.by_random.get(&key)
    }

    /// Reads a key log file.
    pub fn add_file(&mut self, path: &Path) -> std::io::Result<()> {
        let bytes = std::fs::read(path)?;
        self.add_text(&bytes, &path.display().to_string());
        Ok(())
    }

    /// Adds the lines of a key log; `source` names it in warnings.
    pub fn add_text(&mut self, text: &[u8], source: &str) {
        let text = String::from_utf8_lossy(text);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(label), Some(random), Some(secret)) =
                (parts.next(), parts.next(), parts.next())
            else {
                self.warn(format!(
                    "{source} line {}: expected LABEL CLIENT_RANDOM SECRET",
                    i + 1
                ));
                continue;
            };
            if label == "RSA" || label == "PMS_CLIENT_RANDOM" {
                self.pre_master_line(label, random, secret, source, i + 1);
                continue;
            }
            let slot: fn(&mut Secrets) -> &mut Option<Vec<u8>> = match label {
                "CLIENT_RANDOM" => |s| &mut s.master_secret,
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.client_handshake,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => |s| &mut s.server_handshake,
                "CLIENT_TRAFFIC_SECRET_0" => |s| &mut s.client_traffic_0,
                "SERVER_TRAFFIC_SECRET_0" => |s| &mut s.server_traffic_0,
                "CLIENT_EARLY_TRAFFIC_SECRET" => |s| &mut s.client_early,
                _ => {
                    // EXPORTER_SECRET...: not used.
                    self.ignored_lines += 1;
                    continue;
                }
            };
            let random: Option<[u8; 32]> = unhex(random).and_then(|r| r.try_into().ok());
            let Some(random) = random else {
                self.warn(format!(
                    "{source} line {}: client random is not 64 hex digits",
                    i + 1
                ));
                continue;
            };
            let Some(secret) = unhex(secret).filter(|s| !s.is_empty() && s.len() <= 64) else {
                self.warn(format!("{source} line {}: secret is not hex", i + 1));
                continue;
            };
            if label == "CLIENT_RANDOM" && secret.len() != 48 {
                self.warn(format!(
                    "{source} line {}: master secret is not 48 bytes",
                    i + 1
                ));
                continue;
            }
            *slot(self.by_random.entry(random).or_default()) = Some(secret);
        }
    }

    /// `RSA <first 8 bytes of the encrypted pre-master, hex> <pre-master hex>` or
    /// `PMS_CLIENT_RANDOM <client random hex> <pre-master hex>` (Wireshark's forms).
    fn pre_master_line(&mut self, label: &str, id: &str, secret: &str, source: &str, line: usize) {
        let Some(pms) = unhex(secret).filter(|s| !s.is_empty() && s.len() <= 512) else {
            self.warn(format!(
                "{source} line {line}: pre-master secret is not hex"
            ));
            return;
        };
        if label == "RSA" {
            match unhex(id).and_then(|r| <[u8; 8]>::try_from(r).ok()) {
                Some(prefix) => {
                    self.by_epms_prefix.insert(prefix, pms);
                }
                None => self.warn(format!(
                    "{source} line {line}: RSA line: the encrypted pre-master prefix is not 16 hex digits"
                )),
            }
        } else {
            match unhex(id).and_then(|r| <[u8; 32]>::try_from(r).ok()) {
                Some(random) => {
                    self.pms_by_random.insert(random, pms);
                }
                None => self.warn(format!(
                    "{source} line {line}: client random is not 64 hex digits"
                )),
            }
        }
    }

    fn warn(&mut self, text: String) {
        if self.warnings.len() < 100 {
            self.warnings.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_comments_and_bad_lines() {
        let random = "ab".repeat(32);
        let text = format!(
            "# SSL/TLS secrets log file, generated by OpenSSL\n\
             CLIENT_RANDOM {random} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {random} {}\r\n\
             EXPORTER_SECRET {random} {}\n\
             CLIENT_RANDOM zz {}\n\
             CLIENT_RANDOM {random}\n\
             \n",
            "11".repeat(48),
            "22".repeat(32),
            "33".repeat(32),
            "11".repeat(48)
        );
        let mut k = KeyLog::new();
        k.add_text(text.as_bytes(), "keys.txt");
        let s = k.get(&[0xab; 32]).unwrap();
        assert_eq!(s.master_secret.as_deref(), Some(&[0x11; 48][..]));
        assert_eq!(s.server_handshake.as_deref(), Some(&[0x22; 32][..]));
        assert_eq!(k.ignored_lines, 1);
        assert_eq!(k.warnings.len(), 2);
        assert!(
            k.warnings[0].starts_with("keys.txt line 5:"),
            "{:?}",
            k.warnings
        );
        assert_eq!(format!("{s:?}"), "Secrets(..)");
    }

    #[test]
    fn rsa_and_pms_client_random_lines() {
        let random = "cd".repeat(32);
        let text = format!(
            "RSA 0102030405060708 {}\nPMS_CLIENT_RANDOM {random} {}\nRSA 0102 {}\nPMS_CLIENT_RANDOM {random} xyz\n",
            "03".repeat(48),
            "04".repeat(48),
            "05".repeat(48)
        );
        let mut k = KeyLog::new();
        k.add_text(text.as_bytes(), "k");
        assert!(!k.is_empty());
        assert!(k.has_pre_master_secrets());
        let epms = [1u8, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff];
        assert_eq!(k.pms_for_epms(&epms), Some(&[3u8; 48][..]));
        assert_eq!(k.pms_for_epms(&[9; 8]), None);
        assert_eq!(k.pms_for_random(&[0xcd; 32]), Some(&[4u8; 48][..]));
        assert!(k.get(&[0xcd; 32]).is_none());
        assert_eq!(
            k.warnings,
            vec![
                "k line 3: RSA line: the encrypted pre-master prefix is not 16 hex digits",
                "k line 4: pre-master secret is not hex"
            ]
        );
    }
}

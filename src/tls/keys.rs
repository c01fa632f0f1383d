//! Record protection: finding a connection's secrets in the key log, the key schedule hookup
//! (TLS 1.2 keys pending until ChangeCipherSpec, TLS 1.3 handshake/traffic keys and KeyUpdate),
//! record decryption with optional DEFLATE, and how far decryption went.

use super::handshake::{self, TLS13};
use super::record::Record;
use super::*;

/// A key change waiting for the end of the record that announced it (TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeySwitch {
    None,
    /// After this direction's Finished: application traffic secret 0.
    Traffic,
    /// After a KeyUpdate.
    Update,
}

/// Per-connection decryption state.
pub(super) struct DecryptState {
    pub(super) tls13: bool,
    pub(super) spec: decrypt::CipherSpec,
    pub(super) current: [Option<decrypt::RecordCipher>; 2],
    /// TLS <= 1.2: keys of the last hellos, taking over at each direction's ChangeCipherSpec.
    pub(super) pending: [Option<decrypt::RecordCipher>; 2],
    /// TLS <= 1.2: the last hellos' keys are not in the key log (renegotiation without keys).
    pub(super) pending_missing: Option<String>,
    /// DEFLATE decompressors when the session compresses records (old OpenSSL did).
    pub(super) inflate: [Option<flate2::Decompress>; 2],
    pub(super) deflate: bool,
    pub(super) failed: [Option<String>; 2],
    pub(super) records: [u64; 2],
    /// TLS 1.3 application traffic secrets 0 (client, server), by direction index.
    pub(super) traffic: [Option<Vec<u8>>; 2],
    pub(super) switch: [KeySwitch; 2],
    /// The direction already uses application traffic keys.
    pub(super) on_traffic_keys: [bool; 2],
    pub(super) early_skips: u32,
}

impl DecryptState {
    pub(super) fn new(tls13: bool, spec: decrypt::CipherSpec) -> Self {
        DecryptState {
            tls13,
            spec,
            current: [None, None],
            pending: [None, None],
            pending_missing: None,
            inflate: [None, None],
            deflate: false,
            failed: [None, None],
            records: [0, 0],
            traffic: [None, None],
            switch: [KeySwitch::None; 2],
            on_traffic_keys: [false; 2],
            early_skips: 0,
        }
    }

    /// Will a record of `kind` in direction `d` be decrypted?
    pub(super) fn will_decrypt(&self, d: usize, kind: u8) -> bool {
        self.current[d].is_some() && (!self.tls13 || kind == 23)
    }

    /// TLS <= 1.2 ChangeCipherSpec in direction `d`: the pending keys take over.
    pub(super) fn activate_pending(&mut self, d: usize) {
        if let Some(next) = self.pending[d].take() {
            self.current[d] = Some(next);
            self.failed[d] = None;
            self.inflate[d] = self.deflate.then(|| flate2::Decompress::new(true));
        } else if let Some(reason) = &self.pending_missing {
            // New hellos whose keys we lack: the old keys no longer apply.
            self.current[d] = None;
            self.failed[d] = Some(reason.clone());
        }
    }
}

/// Decrypted application-data chunks kept per connection for the HTTP analysis.
pub(super) const MAX_APP_CHUNKS: usize = 4096;
/// Largest plaintext a compressed record may expand to (RFC 5246 6.2.2).
pub(super) const MAX_INFLATED: usize = 16384 + 1024;

impl TlsSession {
    /// Looks up this connection's secrets after a ServerHello sent in direction `server_dir` and
    /// prepares record protection: TLS 1.3 handshake keys at once, TLS <= 1.2 keys pending until
    /// each direction's ChangeCipherSpec.
    pub(super) fn setup_keys(&mut self, server_dir: usize, ctx: &TlsContext) {
        let result = self.find_keys(server_dir, ctx);
        if let Err(reason) = result {
            // A renegotiation whose keys are missing: the current keys end at its CCS.
            if let Some(ds) = self.decrypt.as_mut() {
                if !ds.tls13 {
                    ds.pending = [None, None];
                    ds.pending_missing = Some(format!("renegotiated handshake: {reason}"));
                }
            }
            self.decrypt_reason = Some(reason);
        } else {
            self.decrypt_reason = None;
        }
    }

    pub(super) fn find_keys(
        &mut self,
        server_dir: usize,
        ctx: &TlsContext,
    ) -> Result<(), std::borrow::Cow<'static, str>> {
        if ctx.keylog.is_empty() {
            return Err(
                "no key log given (--keylog, SSLKEYLOGFILE or a pcapng Decryption Secrets Block)"
                    .into(),
            );
        }
        let (Some(version), Some(cipher)) = (self.version, self.cipher) else {
            return Err("no ServerHello".into());
        };
        let Some(client_random) = self.client_random else {
            return Err("the ClientHello is not in the capture, so its random cannot be matched with the key log".into());
        };
        let Some(secrets) = ctx.keylog.get(&client_random) else {
            return Err(format!(
                "no key for this connection in the key log (client random {}...)",
                hex::encode(&client_random[..8])
            )
            .into());
        };
        let spec = decrypt::cipher_spec(cipher).map_err(std::borrow::Cow::Owned)?;
        let client_dir = 1 - server_dir;
        if version == TLS13 {
            let (Some(chs), Some(shs)) = (&secrets.client_handshake, &secrets.server_handshake)
            else {
                return Err(
                    "the key log has no TLS 1.3 handshake traffic secrets for this connection"
                        .into(),
                );
            };
            let mut ds = DecryptState::new(true, spec);
            ds.current[client_dir] = decrypt::tls13_cipher(spec, chs);
            ds.current[server_dir] = decrypt::tls13_cipher(spec, shs);
            ds.traffic[client_dir] = secrets.client_traffic_0.clone();
            ds.traffic[server_dir] = secrets.server_traffic_0.clone();
            self.decrypt = Some(Box::new(ds));
            Ok(())
        } else if version >= 0x0301 {
            let Some(ms) = &secrets.master_secret else {
                return Err(
                    "the key log has no CLIENT_RANDOM master secret for this connection".into(),
                );
            };
            let Some(server_random) = self.server_random else {
                return Err("no ServerHello random".into());
            };
            let etm = self.encrypt_then_mac[0] && self.encrypt_then_mac[1];
            let (c, s) =
                decrypt::tls12_ciphers(spec, version, ms, &client_random, &server_random, etm);
            // A renegotiation keeps the current keys until its ChangeCipherSpec.
            let ds = self
                .decrypt
                .get_or_insert_with(|| Box::new(DecryptState::new(false, spec)));
            ds.spec = spec;
            ds.deflate = self.deflate;
            ds.pending[client_dir] = Some(c);
            ds.pending[server_dir] = Some(s);
            ds.pending_missing = None;
            Ok(())
        } else {
            Err(format!(
                "{} decryption is not supported",
                handshake::version_name(version)
            )
            .into())
        }
    }

    /// Decrypts a record's content; None when it cannot be (the direction then stays encrypted).
    pub(super) fn decrypt_record(
        &mut self,
        d: usize,
        rec: &Record,
        content: &[u8],
        at_frame: u64,
    ) -> Option<(u8, Vec<u8>)> {
        let client_dir = self.client_dir.map(|c| c as usize);
        let early_data = self.early_data_offered;
        let ds = self.decrypt.as_mut()?;
        let cipher = ds.current[d].as_mut()?;
        let side = if Some(d) == client_dir {
            "client"
        } else {
            "server"
        };
        match cipher.decrypt(rec.kind, rec.hdr_version, content) {
            Ok((kind, plain)) => {
                ds.records[d] += 1;
                let Some(inflater) = ds.inflate[d].as_mut() else {
                    return Some((kind, plain));
                };
                // DEFLATE compression (RFC 3749): one stream per direction, flushed per record.
                let mut out = Vec::with_capacity(plain.len() * 4 + 64);
                let before = inflater.total_in();
                let r = inflater.decompress_vec(&plain, &mut out, flate2::FlushDecompress::Sync);
                out.reserve(MAX_INFLATED.saturating_sub(out.len()));
                let mut r = r;
                while r.is_ok()
                    && ((inflater.total_in() - before) as usize) < plain.len()
                    && out.len() < MAX_INFLATED
                {
                    let used = (inflater.total_in() - before) as usize;
                    r = inflater.decompress_vec(
                        &plain[used..],
                        &mut out,
                        flate2::FlushDecompress::Sync,
                    );
                    if out.capacity() == out.len() {
                        out.reserve(4096);
                    }
                }
                match r {
                    Ok(_) => Some((kind, out)),
                    Err(_) => {
                        ds.failed[d] = Some(format!("decompression failed at the {} record from the {side} (frame {at_frame})", ordinal(ds.records[d])));
                        ds.current[d] = None;
                        None
                    }
                }
            }
            Err(e) => {
                // TLS 1.3 0-RTT data was sent under early keys: skip it until the handshake
                // keys fit, as Wireshark does.
                if ds.tls13
                    && Some(d) == client_dir
                    && ds.records[d] == 0
                    && early_data
                    && ds.early_skips < 64
                {
                    ds.early_skips += 1;
                    return None;
                }
                let what = match e {
                    decrypt::DecryptError::Authentication => "authentication failed".to_string(),
                    decrypt::DecryptError::Malformed(m) => format!("record malformed ({m})"),
                };
                ds.failed[d] = Some(format!(
                    "{what} at the {} encrypted record from the {side} (frame {at_frame}): wrong key log, or keys of another session",
                    ordinal(ds.records[d] + 1)
                ));
                ds.current[d] = None;
                None
            }
        }
    }

    /// TLS 1.3: after a Finished or KeyUpdate, the direction's next records use new keys.
    pub(super) fn apply_key_switch(&mut self, d: usize, at_frame: u64) {
        let Some(ds) = self.decrypt.as_mut() else {
            return;
        };
        let switch = std::mem::replace(&mut ds.switch[d], KeySwitch::None);
        let next = match switch {
            KeySwitch::None => return,
            KeySwitch::Traffic => match &ds.traffic[d] {
                Some(secret) => decrypt::tls13_cipher(ds.spec, secret),
                None => {
                    ds.failed[d] = Some(format!(
                        "the key log has no application traffic secret for this direction (needed after frame {at_frame})"
                    ));
                    None
                }
            },
            KeySwitch::Update => ds.current[d].as_ref().and_then(|c| c.key_update()),
        };
        ds.current[d] = next;
    }

    /// How far decryption went.
    pub fn decryption_status(&self, client_dir: usize) -> DecryptionStatus {
        let (records, failures) = match &self.decrypt {
            Some(ds) => (ds.records, ds.failed.clone()),
            None => ([0, 0], [None, None]),
        };
        let c = records[client_dir];
        let s = records[1 - client_dir];
        let failure = failures[client_dir]
            .clone()
            .or(failures[1 - client_dir].clone())
            .map(std::borrow::Cow::Owned);
        let status = if c + s == 0 {
            "not-decrypted"
        } else if failure.is_some() {
            "partly-decrypted"
        } else {
            "decrypted"
        };
        let reason = failure.or_else(|| {
            if c + s == 0 {
                self.decrypt_reason.clone()
            } else {
                None
            }
        });
        DecryptionStatus {
            status,
            reason,
            client_records: c,
            server_records: s,
        }
    }
}

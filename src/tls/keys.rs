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
    /// What a record that does not authenticate says about the keys.
    pub(super) mismatch_hint: &'static str,
    /// Where the keys came from (see [`DecryptionStatus::keys_from`]).
    pub(super) keys_from: &'static str,
}

/// What a record failing to authenticate means for keys from a key log.
const KEYLOG_MISMATCH: &str = "wrong key log, or keys of another session";

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
            mismatch_hint: KEYLOG_MISMATCH,
            keys_from: "key-log",
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
        match self.find_keys(server_dir, ctx) {
            // A renegotiation whose keys are missing: the current keys end at its CCS.
            Err(reason) => self.set_key_failure(reason),
            Ok(()) => self.decrypt_reason = None,
        }
    }

    pub(super) fn find_keys(
        &mut self,
        server_dir: usize,
        ctx: &TlsContext,
    ) -> Result<(), std::borrow::Cow<'static, str>> {
        self.await_kx = false;
        if ctx.keylog.is_empty() && ctx.server_keys.is_empty() {
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
        let secrets = ctx.keylog.get(&client_random);
        let kx = tls_parser::TlsCipherSuite::from_id(cipher).map(|cs| cs.kx);
        let no_key = || -> std::borrow::Cow<'static, str> {
            if ctx.keylog.is_empty() {
                "no key log entry for this connection".into()
            } else {
                format!(
                    "no key for this connection in the key log (client random {}...)",
                    hex::encode(&client_random[..8])
                )
                .into()
            }
        };
        let spec = decrypt::cipher_spec(cipher).map_err(std::borrow::Cow::Owned)?;
        let client_dir = 1 - server_dir;
        if version == TLS13 {
            let Some(secrets) = secrets else {
                if !ctx.server_keys.is_empty() {
                    return Err(EPHEMERAL_TLS13.into());
                }
                return Err(no_key());
            };
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
            if let Some(ms) = secrets.and_then(|s| s.master_secret.clone()) {
                self.install_tls12(server_dir, &ms, KEYLOG_MISMATCH)?;
                return Ok(());
            }
            if self.resumed {
                // An abbreviated handshake: the master secret is the earlier session's.
                let known = ctx
                    .sessions
                    .get(&self.session_id)
                    .or_else(|| self.ticket.as_ref().and_then(|t| ctx.sessions.get(t)))
                    .cloned();
                return match known {
                    Some(ms) => self.install_tls12(server_dir, &ms, SERVER_KEY_MISMATCH),
                    None if secrets.is_none() && !ctx.keylog.is_empty() => Err(no_key()),
                    None => Err("resumed session: its master secret comes from an earlier handshake that is not in the capture or was not decrypted".into()),
                };
            }
            let rsa_kx = kx == Some(tls_parser::TlsCipherKx::Rsa);
            let pms_logged = ctx.keylog.pms_for_random(&client_random).is_some();
            let derivable = pms_logged
                || (rsa_kx && (!ctx.server_keys.is_empty() || ctx.keylog.has_pre_master_secrets()));
            // The client offered a ticket whose session we decrypted, and the server did not
            // echo a session ID (RFC 5077 lets it accept the ticket anyway): the ticket's keys
            // apply unless a ClientKeyExchange follows (a full handshake then replaces them).
            let ticket_ms = self
                .ticket
                .as_ref()
                .and_then(|t| ctx.sessions.get(t))
                .cloned();
            if let Some(ms) = ticket_ms {
                self.install_tls12(server_dir, &ms, SERVER_KEY_MISMATCH)?;
                self.await_kx = derivable;
                return Ok(());
            }
            if derivable {
                // The pre-master secret comes with the ClientKeyExchange.
                self.await_kx = true;
                return Err("the ClientKeyExchange with the encrypted pre-master secret is not in the capture".into());
            }
            if secrets.is_some() {
                return Err(
                    "the key log has no CLIENT_RANDOM master secret for this connection".into(),
                );
            }
            if !ctx.server_keys.is_empty() && !rsa_kx {
                let what = match kx {
                    Some(tls_parser::TlsCipherKx::Dhe | tls_parser::TlsCipherKx::Dh) => "DHE",
                    Some(tls_parser::TlsCipherKx::Ecdhe | tls_parser::TlsCipherKx::Ecdh) => "ECDHE",
                    _ => "not RSA",
                };
                return Err(format!(
                    "key exchange is {what}: a server key cannot decrypt this; use a key log"
                )
                .into());
            }
            Err(no_key())
        } else {
            Err(format!(
                "{} decryption is not supported",
                handshake::version_name(version)
            )
            .into())
        }
    }

    /// TLS <= 1.2: record keys from the master secret, pending until each ChangeCipherSpec (a
    /// renegotiation keeps the current keys until then).
    fn install_tls12(
        &mut self,
        server_dir: usize,
        ms: &[u8],
        mismatch_hint: &'static str,
    ) -> Result<(), std::borrow::Cow<'static, str>> {
        let (Some(version), Some(cipher), Some(client_random), Some(server_random)) = (
            self.version,
            self.cipher,
            self.client_random,
            self.server_random,
        ) else {
            return Err("no ServerHello random".into());
        };
        let spec = decrypt::cipher_spec(cipher).map_err(std::borrow::Cow::Owned)?;
        let client_dir = 1 - server_dir;
        let etm = self.encrypt_then_mac[0] && self.encrypt_then_mac[1];
        let (c, s) = decrypt::tls12_ciphers(spec, version, ms, &client_random, &server_random, etm);
        let ds = self
            .decrypt
            .get_or_insert_with(|| Box::new(DecryptState::new(false, spec)));
        ds.spec = spec;
        ds.deflate = self.deflate;
        ds.pending[client_dir] = Some(c);
        ds.pending[server_dir] = Some(s);
        ds.pending_missing = None;
        ds.mismatch_hint = mismatch_hint;
        ds.keys_from = match mismatch_hint {
            KEYLOG_MISMATCH => "key-log",
            SERVER_KEY_MISMATCH => "server-key",
            _ => "key-log-pre-master",
        };
        self.master_secret = Some(ms.to_vec());
        Ok(())
    }

    /// The client's ClientKeyExchange (TLS <= 1.2) of a handshake whose keys derive from the
    /// pre-master secret: from a `PMS_CLIENT_RANDOM` or `RSA` key log line, or decrypted with
    /// the server key matching the server certificate.
    pub(super) fn keys_from_client_key_exchange(
        &mut self,
        client_dir: usize,
        body: &[u8],
        at_frame: u64,
        ctx: &mut TlsContext,
    ) {
        self.await_kx = false;
        let transcript = self.transcript.take();
        let server_dir = 1 - client_dir;
        let Some(client_random) = self.client_random else {
            return;
        };
        let result = self.pre_master_secret(&client_random, body, at_frame, ctx);
        let (pms, hint) = match result {
            Ok(found) => found,
            Err(reason) => {
                self.set_key_failure(reason.into());
                return;
            }
        };
        let (Some(version), Some(cipher)) = (self.version, self.cipher) else {
            return;
        };
        let sha384 = decrypt::cipher_spec(cipher).is_ok_and(|s| s.sha384);
        let ms = if self.ems[0] && self.ems[1] {
            // RFC 7627: the session hash covers the handshake up to this ClientKeyExchange.
            let Some(transcript) = transcript else {
                self.set_key_failure("extended master secret: the handshake before the ClientKeyExchange is incomplete in the capture".into());
                return;
            };
            let hash = session_hash(version, sha384, &transcript);
            decrypt::prf(version, sha384, &pms, b"extended master secret", &hash, 48)
        } else {
            let mut seed = client_random.to_vec();
            seed.extend_from_slice(&self.server_random.unwrap_or([0; 32]));
            decrypt::prf(version, sha384, &pms, b"master secret", &seed, 48)
        };
        match self.install_tls12(server_dir, &ms, hint) {
            Ok(()) => {
                self.decrypt_reason = None;
                // A later resumption of this session (same session ID) uses the same secret.
                if !self.session_id.is_empty() && ctx.sessions.len() < MAX_SESSIONS {
                    ctx.sessions.insert(self.session_id.clone(), ms);
                }
            }
            Err(reason) => self.set_key_failure(reason),
        }
    }

    /// The keys of the handshake in progress cannot be found: its ChangeCipherSpec ends the
    /// current keys (a renegotiation) and the connection says why.
    fn set_key_failure(&mut self, reason: std::borrow::Cow<'static, str>) {
        if let Some(ds) = self.decrypt.as_mut() {
            if !ds.tls13 {
                ds.pending = [None, None];
                ds.pending_missing = Some(format!("renegotiated handshake: {reason}"));
            }
        }
        self.decrypt_reason = Some(reason);
    }

    fn pre_master_secret(
        &self,
        client_random: &[u8; 32],
        body: &[u8],
        at_frame: u64,
        ctx: &mut TlsContext,
    ) -> Result<(Vec<u8>, &'static str), String> {
        if let Some(pms) = ctx.keylog.pms_for_random(client_random) {
            return Ok((
                pms.to_vec(),
                "wrong PMS_CLIENT_RANDOM pre-master secret in the key log",
            ));
        }
        // RSA: a 2-byte length, then the encrypted pre-master secret (TLS 1.0 and later).
        let mut c = handshake::Cursor::new(body);
        let epms = match c.vec16() {
            Some(e) if c.is_empty() && !e.is_empty() => e,
            _ => {
                return Err(format!(
                    "the ClientKeyExchange (frame {at_frame}) does not hold an RSA-encrypted pre-master secret"
                ))
            }
        };
        if let Some(pms) = ctx.keylog.pms_for_epms(epms) {
            return Ok((pms.to_vec(), "wrong RSA pre-master secret in the key log"));
        }
        if ctx.server_keys.is_empty() {
            return Err("no RSA line in the key log for this connection's encrypted pre-master secret, and no --server-key given".into());
        }
        let cert = self.server_cert.clone();
        let keys = ctx.server_keys.clone();
        let key = match &cert {
            Some(cert) => match keys.for_certificate(&cert.der) {
                Some((i, key)) => {
                    ctx.mark_key_used(i);
                    key
                }
                None => {
                    let subject = cert.subject.clone();
                    ctx.note_unmatched_certificate(&subject);
                    return Err(format!(
                        "no --server-key matches the server certificate ({subject}): the key given belongs to another certificate"
                    ));
                }
            },
            None => {
                // No server Certificate seen (capture started late): try keys of the right size.
                let found = keys.keys.iter().enumerate().find_map(|(i, k)| {
                    (k.bits().div_ceil(8) == epms.len())
                        .then(|| {
                            k.decrypt_pms(epms)
                                .filter(|p| p.len() == 48)
                                .map(|p| (i, p))
                        })
                        .flatten()
                });
                return match found {
                    Some((i, pms)) => {
                        ctx.mark_key_used(i);
                        Ok((pms, SERVER_KEY_MISMATCH))
                    }
                    None => Err(format!("the server certificate is not in the capture and no --server-key decrypts the pre-master secret of frame {at_frame}")),
                };
            }
        };
        match key.decrypt_pms(epms) {
            Some(pms) if pms.len() == 48 => Ok((pms, SERVER_KEY_MISMATCH)),
            Some(pms) => Err(format!(
                "the pre-master secret of frame {at_frame} decrypted with {} is {} bytes, not 48: the server key does not match",
                key.source,
                pms.len()
            )),
            None => Err(format!(
                "RSA decryption of the pre-master secret of frame {at_frame} with {} failed: the server key does not match",
                key.source
            )),
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
                    "{what} at the {} encrypted record from the {side} (frame {at_frame}): {}",
                    ordinal(ds.records[d] + 1),
                    ds.mismatch_hint
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
        let (records, failures, keys_from) = match &self.decrypt {
            Some(ds) => (ds.records, ds.failed.clone(), Some(ds.keys_from)),
            None => ([0, 0], [None, None], None),
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
            keys_from: keys_from.filter(|_| c + s > 0),
        }
    }
}

/// Why a server key cannot help a TLS 1.3 connection.
const EPHEMERAL_TLS13: &str =
    "key exchange is ECDHE (TLS 1.3 has no RSA key exchange): a server key cannot decrypt this; use a key log";
/// What a record failing to authenticate means when the keys came from the server key.
const SERVER_KEY_MISMATCH: &str = "the server key does not match this session";
/// Master secrets remembered for resumption per capture at most.
const MAX_SESSIONS: usize = 1 << 16;

/// The handshake hash of RFC 7627: MD5 and SHA-1 concatenated before TLS 1.2, else the hash of
/// the suite's PRF.
fn session_hash(version: u16, sha384: bool, transcript: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    if version >= 0x0303 {
        if sha384 {
            sha2::Sha384::digest(transcript).to_vec()
        } else {
            sha2::Sha256::digest(transcript).to_vec()
        }
    } else {
        let mut out = md5::Md5::digest(transcript).to_vec();
        out.extend_from_slice(&sha1::Sha1::digest(transcript));
        out
    }
}

//! Record decryption from logged secrets: TLS 1.0 to 1.2 key blocks from the master secret
//! (PRF per version), TLS 1.3 traffic keys from traffic secrets (HKDF-Expand-Label, KeyUpdate),
//! and the record protections AES-GCM, AES-CCM(_8), ChaCha20-Poly1305, and CBC (AES, Camellia,
//! 3DES) or RC4 with HMAC (MAC-then-encrypt and encrypt-then-MAC, TLS 1.0 chained IVs). The
//! older ciphers matter because Windows servers of the IIS era negotiated them.
//!
//! The cipher parameters come from tls-parser's suite table, with the corrections decryption
//! needs: its ChaCha20 suites say 128-bit keys (the cipher takes 256), it has no fixed-IV lengths,
//! and its `Default` PRF means "depends on the version". Crypto is RustCrypto: ring has neither
//! AES-CBC nor MD5 (TLS 1.0 PRF).

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use aes_gcm::aead::consts::{U12, U16, U8};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsCipherSuite};

/// The bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    AesGcm,
    AesCcm,
    AesCcm8,
    ChaCha20Poly1305,
    AesCbc,
    CamelliaCbc,
    TripleDesCbc,
    DesCbc,
    Rc4,
}

impl Bulk {
    fn block_cipher(self) -> bool {
        matches!(
            self,
            Bulk::AesCbc | Bulk::CamelliaCbc | Bulk::TripleDesCbc | Bulk::DesCbc
        )
    }
    fn block_len(self) -> usize {
        match self {
            Bulk::TripleDesCbc | Bulk::DesCbc => 8,
            _ => 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacHash {
    None,
    Md5,
    Sha1,
    Sha256,
    Sha384,
}

impl MacHash {
    pub(crate) fn len(self) -> usize {
        match self {
            MacHash::None => 0,
            MacHash::Md5 => 16,
            MacHash::Sha1 => 20,
            MacHash::Sha256 => 32,
            MacHash::Sha384 => 48,
        }
    }
}

/// What decryption needs to know about a cipher suite.
#[derive(Debug, Clone, Copy)]
pub struct CipherSpec {
    pub id: u16,
    pub bulk: Bulk,
    pub key_len: usize,
    /// Implicit IV: GCM/CCM salt 4, ChaCha20 12, CBC block 16, TLS 1.3 always 12.
    pub iv_len: usize,
    pub mac: MacHash,
    /// Hash of the PRF (TLS 1.2) or of HKDF (TLS 1.3): SHA-384 for *_SHA384 suites.
    pub sha384: bool,
}

/// Looks up a suite; `Err` names what is not supported.
pub fn cipher_spec(id: u16) -> Result<CipherSpec, String> {
    let Some(cs) = TlsCipherSuite::from_id(id) else {
        return Err(format!("unknown cipher suite 0x{id:04x}"));
    };
    let sha384 = cs.name.ends_with("SHA384");
    let key_len = cs.enc_size as usize / 8;
    let (bulk, iv_len, key_len) = match (cs.enc, cs.enc_mode) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm) => (Bulk::AesGcm, 4, key_len),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm) if cs.name.ends_with("_8") => {
            (Bulk::AesCcm8, 4, key_len)
        }
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm) => (Bulk::AesCcm, 4, key_len),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc) => (Bulk::AesCbc, 16, key_len),
        (TlsCipherEnc::Camellia, TlsCipherEncMode::Cbc) => (Bulk::CamelliaCbc, 16, key_len),
        (TlsCipherEnc::TripleDes, TlsCipherEncMode::Cbc) => (Bulk::TripleDesCbc, 8, 24),
        (TlsCipherEnc::Des, TlsCipherEncMode::Cbc) if !cs.name.contains("EXPORT") => {
            (Bulk::DesCbc, 8, 8)
        }
        (TlsCipherEnc::Rc4, _) if !cs.name.contains("EXPORT") => (Bulk::Rc4, 0, key_len),
        // tls-parser lists ChaCha20-Poly1305 with a 128-bit key; the cipher uses 256.
        (TlsCipherEnc::Chacha20_Poly1305, _) => (Bulk::ChaCha20Poly1305, 12, 32),
        _ => {
            return Err(format!(
                "cipher suite {} is not supported for decryption",
                cs.name
            ))
        }
    };
    if !matches!(key_len, 8 | 16 | 24 | 32) {
        return Err(format!(
            "cipher suite {} has an unsupported key size",
            cs.name
        ));
    }
    let mac = match bulk {
        Bulk::AesCbc | Bulk::CamelliaCbc | Bulk::TripleDesCbc | Bulk::DesCbc | Bulk::Rc4 => {
            match cs.mac {
                TlsCipherMac::HmacMd5 => MacHash::Md5,
                TlsCipherMac::HmacSha1 => MacHash::Sha1,
                TlsCipherMac::HmacSha256 => MacHash::Sha256,
                TlsCipherMac::HmacSha384 => MacHash::Sha384,
                _ => return Err(format!("cipher suite {} has an unsupported MAC", cs.name)),
            }
        }
        _ => MacHash::None,
    };
    // TLS 1.3 suites (0x13xx) use a 12-byte IV for every AEAD.
    let iv_len = if id >> 8 == 0x13 { 12 } else { iv_len };
    Ok(CipherSpec {
        id,
        bulk,
        key_len,
        iv_len,
        mac,
        sha384,
    })
}

fn hmac_into<D>(key: &[u8], parts: &[&[u8]], out: &mut Vec<u8>)
where
    D: hmac::digest::core_api::CoreProxy,
    D::Core: hmac::digest::HashMarker
        + hmac::digest::core_api::UpdateCore
        + hmac::digest::core_api::FixedOutputCore
        + hmac::digest::core_api::BufferKindUser<BufferKind = hmac::digest::block_buffer::Eager>
        + Default
        + Clone,
    <D::Core as hmac::digest::core_api::BlockSizeUser>::BlockSize:
        hmac::digest::typenum::IsLess<hmac::digest::typenum::U256>,
    hmac::digest::typenum::Le<
        <D::Core as hmac::digest::core_api::BlockSizeUser>::BlockSize,
        hmac::digest::typenum::U256,
    >: hmac::digest::typenum::NonZero,
{
    let mut m = <Hmac<D> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        m.update(p);
    }
    out.extend_from_slice(&m.finalize().into_bytes());
}

fn hmac(hash: MacHash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    match hash {
        MacHash::Sha1 => hmac_into::<Sha1>(key, parts, &mut out),
        MacHash::Sha256 => hmac_into::<Sha256>(key, parts, &mut out),
        MacHash::Sha384 => hmac_into::<Sha384>(key, parts, &mut out),
        MacHash::Md5 => hmac_into::<md5::Md5>(key, parts, &mut out),
        MacHash::None => {}
    }
    out
}

fn md5_hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    hmac_into::<md5::Md5>(key, parts, &mut out);
    out
}

/// An HMAC over several parts, keyed by the first argument.
type HmacFn<'a> = dyn Fn(&[u8], &[&[u8]]) -> Vec<u8> + 'a;

/// P_hash of RFC 5246 section 5.
fn p_hash(hmac_fn: &HmacFn<'_>, secret: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 48);
    let mut a = hmac_fn(secret, &[seed]);
    while out.len() < len {
        out.extend(hmac_fn(secret, &[&a, seed]));
        a = hmac_fn(secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// The TLS PRF of `version` (TLS 1.0/1.1: MD5 xor SHA-1 over the two halves of the secret).
pub fn prf(
    version: u16,
    sha384: bool,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    if version >= 0x0303 {
        let h = if sha384 {
            MacHash::Sha384
        } else {
            MacHash::Sha256
        };
        return p_hash(&|k, p| hmac(h, k, p), secret, &label_seed, len);
    }
    let half = secret.len().div_ceil(2);
    let s1 = &secret[..half];
    let s2 = &secret[secret.len() - half..];
    let md5 = p_hash(&|k, p| md5_hmac(k, p), s1, &label_seed, len);
    let sha = p_hash(&|k, p| hmac(MacHash::Sha1, k, p), s2, &label_seed, len);
    md5.iter().zip(sha).map(|(a, b)| a ^ b).collect()
}

/// HKDF-Expand-Label of RFC 8446 section 7.1, with the secret used directly as the PRK.
pub fn hkdf_expand_label(sha384: bool, secret: &[u8], label: &str, len: usize) -> Option<Vec<u8>> {
    let full = format!("tls13 {label}");
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let mut out = vec![0u8; len];
    if sha384 {
        hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?;
    } else {
        hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .ok()?;
    }
    Some(out)
}

/// Why a record could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptError {
    /// The record's authentication tag or MAC does not verify.
    Authentication,
    /// The record is too short or its padding is wrong.
    Malformed(&'static str),
}

/// The state protecting one direction's records.
pub struct RecordCipher {
    spec: CipherSpec,
    key: Vec<u8>,
    iv: Vec<u8>,
    mac_key: Vec<u8>,
    pub seq: u64,
    /// TLS 1.3 record protection (nonce from the IV, header as AAD, inner content type).
    tls13: bool,
    /// TLS version for the AAD/MAC of TLS <= 1.2, and to know TLS 1.0's chained IV.
    version: u16,
    encrypt_then_mac: bool,
    /// TLS 1.3 traffic secret, kept for KeyUpdate.
    secret: Vec<u8>,
    /// RC4 keystream state, which runs on across records.
    rc4: Option<Box<rc4::Rc4<rc4::consts::U16>>>,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordCipher(0x{:04x}, seq {})", self.spec.id, self.seq)
    }
}

/// Keys of both directions for TLS <= 1.2, from the master secret.
pub fn tls12_ciphers(
    spec: CipherSpec,
    version: u16,
    master_secret: &[u8],
    client_random: &[u8],
    server_random: &[u8],
    encrypt_then_mac: bool,
) -> (RecordCipher, RecordCipher) {
    let mac_len = spec.mac.len();
    // CBC in TLS 1.1+ carries an explicit IV; only TLS 1.0 uses the key block's IV, but the key
    // block always contains it (RFC 5246 6.3).
    let need = 2 * (mac_len + spec.key_len + spec.iv_len);
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let block = prf(
        version,
        spec.sha384,
        master_secret,
        b"key expansion",
        &seed,
        need,
    );
    let mut at = 0;
    let mut take = |n: usize| {
        let v = block[at..at + n].to_vec();
        at += n;
        v
    };
    let (cm, sm) = (take(mac_len), take(mac_len));
    let (ck, sk) = (take(spec.key_len), take(spec.key_len));
    let (ci, si) = (take(spec.iv_len), take(spec.iv_len));
    let etm = encrypt_then_mac && spec.bulk.block_cipher();
    let make = |key: Vec<u8>, iv, mac_key| {
        use rc4::KeyInit as _;
        let rc4 = (spec.bulk == Bulk::Rc4)
            .then(|| {
                rc4::Rc4::<rc4::consts::U16>::new_from_slice(&key)
                    .ok()
                    .map(Box::new)
            })
            .flatten();
        RecordCipher {
            spec,
            key,
            iv,
            mac_key,
            seq: 0,
            tls13: false,
            version,
            encrypt_then_mac: etm,
            secret: Vec::new(),
            rc4,
        }
    };
    (make(ck, ci, cm), make(sk, si, sm))
}

/// TLS 1.3 record protection from a traffic secret.
pub fn tls13_cipher(spec: CipherSpec, secret: &[u8]) -> Option<RecordCipher> {
    let key = hkdf_expand_label(spec.sha384, secret, "key", spec.key_len)?;
    let iv = hkdf_expand_label(spec.sha384, secret, "iv", 12)?;
    Some(RecordCipher {
        spec,
        key,
        iv,
        mac_key: Vec::new(),
        seq: 0,
        tls13: true,
        version: 0x0304,
        encrypt_then_mac: false,
        secret: secret.to_vec(),
        rc4: None,
    })
}

fn aead_open(
    bulk: Bulk,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), DecryptError> {
    let tag_len = if bulk == Bulk::AesCcm8 { 8 } else { 16 };
    if buf.len() < tag_len {
        return Err(DecryptError::Malformed("record shorter than its tag"));
    }
    let tag = buf.split_off(buf.len() - tag_len);
    let nonce12 = aes_gcm::Nonce::from_slice(nonce);
    let bad = |_| DecryptError::Authentication;
    macro_rules! open {
        ($t:ty, $tag:ty) => {{
            let c = <$t>::new_from_slice(key).map_err(|_| DecryptError::Malformed("key size"))?;
            c.decrypt_in_place_detached(
                nonce12,
                aad,
                buf,
                aes_gcm::aead::generic_array::GenericArray::<u8, $tag>::from_slice(&tag),
            )
            .map_err(bad)
        }};
    }
    match (bulk, key.len()) {
        (Bulk::AesGcm, 16) => open!(aes_gcm::Aes128Gcm, U16),
        (Bulk::AesGcm, 32) => open!(aes_gcm::Aes256Gcm, U16),
        (Bulk::AesCcm, 16) => open!(ccm::Ccm<aes::Aes128, U16, U12>, U16),
        (Bulk::AesCcm, 32) => open!(ccm::Ccm<aes::Aes256, U16, U12>, U16),
        (Bulk::AesCcm8, 16) => open!(ccm::Ccm<aes::Aes128, U8, U12>, U8),
        (Bulk::AesCcm8, 32) => open!(ccm::Ccm<aes::Aes256, U8, U12>, U8),
        (Bulk::ChaCha20Poly1305, 32) => open!(chacha20poly1305::ChaCha20Poly1305, U16),
        _ => Err(DecryptError::Malformed("unsupported key size")),
    }
}

fn cbc_decrypt(bulk: Bulk, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), DecryptError> {
    use aes::cipher::block_padding::NoPadding;
    macro_rules! run {
        ($c:ty) => {
            cbc::Decryptor::<$c>::new_from_slices(key, iv)
                .map_err(|_| DecryptError::Malformed("key size"))?
                .decrypt_padded_mut::<NoPadding>(buf)
                .map(|_| ())
        };
    }
    let r = match (bulk, key.len()) {
        (Bulk::AesCbc, 16) => run!(aes::Aes128),
        (Bulk::AesCbc, 32) => run!(aes::Aes256),
        (Bulk::CamelliaCbc, 16) => run!(camellia::Camellia128),
        (Bulk::CamelliaCbc, 32) => run!(camellia::Camellia256),
        (Bulk::TripleDesCbc, 24) => run!(des::TdesEde3),
        (Bulk::DesCbc, 8) => run!(des::Des),
        _ => return Err(DecryptError::Malformed("key size")),
    };
    r.map_err(|_| DecryptError::Malformed("CBC length is not a multiple of the block"))
}

/// Removes TLS CBC padding (not PKCS#7: the last byte is the padding length, preceded by that
/// many bytes of the same value).
fn strip_padding(buf: &mut Vec<u8>) -> Result<(), DecryptError> {
    let Some(&pad) = buf.last() else {
        return Err(DecryptError::Malformed("empty CBC record"));
    };
    let pad = pad as usize;
    if pad + 1 > buf.len()
        || buf[buf.len() - 1 - pad..]
            .iter()
            .any(|&b| b as usize != pad)
    {
        return Err(DecryptError::Authentication);
    }
    buf.truncate(buf.len() - 1 - pad);
    Ok(())
}

impl RecordCipher {
    pub fn spec(&self) -> CipherSpec {
        self.spec
    }

    /// Decrypts one record body. Returns the real content type (TLS 1.3 inner type) and the
    /// plaintext. The sequence number advances only when the record authenticates.
    pub fn decrypt(
        &mut self,
        record_type: u8,
        version: [u8; 2],
        body: &[u8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let seq = self.seq.to_be_bytes();
        let result = if self.tls13 {
            self.decrypt13(record_type, version, body, &seq)
        } else {
            match self.spec.bulk {
                Bulk::AesCbc | Bulk::CamelliaCbc | Bulk::TripleDesCbc | Bulk::DesCbc => {
                    self.decrypt_cbc(record_type, version, body, &seq)
                }
                Bulk::Rc4 => self.decrypt_rc4(record_type, version, body, &seq),
                _ => self.decrypt_aead12(record_type, version, body, &seq),
            }
        };
        if result.is_ok() {
            self.seq += 1;
        }
        result
    }

    fn decrypt13(
        &self,
        record_type: u8,
        version: [u8; 2],
        body: &[u8],
        seq: &[u8; 8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let mut nonce = self.iv.clone();
        for (i, b) in seq.iter().enumerate() {
            nonce[4 + i] ^= b;
        }
        let len = (body.len() as u16).to_be_bytes();
        let aad = [record_type, version[0], version[1], len[0], len[1]];
        let mut buf = body.to_vec();
        aead_open(self.spec.bulk, &self.key, &nonce, &aad, &mut buf)?;
        // TLSInnerPlaintext: content, then the type, then zero padding.
        while buf.last() == Some(&0) {
            buf.pop();
        }
        let inner = buf
            .pop()
            .ok_or(DecryptError::Malformed("no inner content type"))?;
        Ok((inner, buf))
    }

    fn decrypt_aead12(
        &self,
        record_type: u8,
        version: [u8; 2],
        body: &[u8],
        seq: &[u8; 8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let tag_len = if self.spec.bulk == Bulk::AesCcm8 {
            8
        } else {
            16
        };
        let (nonce, ciphertext) = if self.spec.bulk == Bulk::ChaCha20Poly1305 {
            // RFC 7905: no explicit nonce; the IV xor the sequence number.
            let mut n = self.iv.clone();
            for (i, b) in seq.iter().enumerate() {
                n[4 + i] ^= b;
            }
            (n, body)
        } else {
            if body.len() < 8 {
                return Err(DecryptError::Malformed(
                    "record shorter than its explicit nonce",
                ));
            }
            let mut n = self.iv.clone();
            n.extend_from_slice(&body[..8]);
            (n, &body[8..])
        };
        if ciphertext.len() < tag_len {
            return Err(DecryptError::Malformed("record shorter than its tag"));
        }
        let plain_len = ((ciphertext.len() - tag_len) as u16).to_be_bytes();
        let mut aad = seq.to_vec();
        aad.extend_from_slice(&[
            record_type,
            version[0],
            version[1],
            plain_len[0],
            plain_len[1],
        ]);
        let mut buf = ciphertext.to_vec();
        aead_open(self.spec.bulk, &self.key, &nonce, &aad, &mut buf)?;
        Ok((record_type, buf))
    }

    fn decrypt_rc4(
        &mut self,
        record_type: u8,
        version: [u8; 2],
        body: &[u8],
        seq: &[u8; 8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        use rc4::StreamCipher;
        let mac_len = self.spec.mac.len();
        let rc4 = self
            .rc4
            .as_mut()
            .ok_or(DecryptError::Malformed("no RC4 state"))?;
        let mut buf = body.to_vec();
        // The keystream advances even when the MAC then fails; the direction stops anyway.
        rc4.apply_keystream(&mut buf);
        if buf.len() < mac_len {
            return Err(DecryptError::Malformed("record shorter than its MAC"));
        }
        let got = buf.split_off(buf.len() - mac_len);
        let len = (buf.len() as u16).to_be_bytes();
        let header = [record_type, version[0], version[1], len[0], len[1]];
        if hmac(self.spec.mac, &self.mac_key, &[seq, &header, &buf]) != got {
            return Err(DecryptError::Authentication);
        }
        Ok((record_type, buf))
    }

    fn decrypt_cbc(
        &mut self,
        record_type: u8,
        version: [u8; 2],
        body: &[u8],
        seq: &[u8; 8],
    ) -> Result<(u8, Vec<u8>), DecryptError> {
        let mac_len = self.spec.mac.len();
        let block = self.spec.bulk.block_len();
        let explicit_iv = self.version >= 0x0302;
        let (ct_with_iv, mac) = if self.encrypt_then_mac {
            if body.len() < mac_len {
                return Err(DecryptError::Malformed("record shorter than its MAC"));
            }
            let (ct, mac) = body.split_at(body.len() - mac_len);
            let len = (ct.len() as u16).to_be_bytes();
            let expected = hmac(
                self.spec.mac,
                &self.mac_key,
                &[
                    seq,
                    &[record_type, version[0], version[1], len[0], len[1]],
                    ct,
                ],
            );
            if expected != mac {
                return Err(DecryptError::Authentication);
            }
            (ct, Some(()))
        } else {
            (body, None)
        };
        let (iv, ct) = if explicit_iv {
            if ct_with_iv.len() < block {
                return Err(DecryptError::Malformed("record shorter than its IV"));
            }
            (ct_with_iv[..block].to_vec(), &ct_with_iv[block..])
        } else {
            (self.iv.clone(), ct_with_iv)
        };
        if ct.is_empty() || ct.len() % block != 0 {
            return Err(DecryptError::Malformed(
                "CBC length is not a multiple of the block",
            ));
        }
        let last_block = ct[ct.len() - block..].to_vec();
        let mut buf = ct.to_vec();
        cbc_decrypt(self.spec.bulk, &self.key, &iv, &mut buf)?;
        strip_padding(&mut buf)?;
        if mac.is_none() {
            if buf.len() < mac_len {
                return Err(DecryptError::Authentication);
            }
            let got = buf.split_off(buf.len() - mac_len);
            let len = (buf.len() as u16).to_be_bytes();
            let expected = hmac(
                self.spec.mac,
                &self.mac_key,
                &[
                    seq,
                    &[record_type, version[0], version[1], len[0], len[1]],
                    &buf,
                ],
            );
            if expected != got {
                return Err(DecryptError::Authentication);
            }
        }
        if !explicit_iv {
            // TLS 1.0: the next record's IV is this record's last ciphertext block.
            self.iv = last_block;
        }
        Ok((record_type, buf))
    }

    /// TLS 1.3 KeyUpdate: the next traffic secret and fresh keys for this direction.
    pub fn key_update(&self) -> Option<RecordCipher> {
        let hash_len = if self.spec.sha384 { 48 } else { 32 };
        let next = hkdf_expand_label(self.spec.sha384, &self.secret, "traffic upd", hash_len)?;
        tls13_cipher(self.spec, &next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls12_prf_vector() {
        // Known-answer test for the TLS 1.2 PRF (SHA-256), as published on the IETF TLS list.
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let out = prf(0x0303, false, &secret, b"test label", &seed, 100);
        assert_eq!(
            hex::encode(&out[..32]),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        );
    }

    #[test]
    fn hkdf_expand_label_rfc8448() {
        // RFC 8448 section 3: server handshake traffic secret -> key and iv.
        let secret =
            hex::decode("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
                .unwrap();
        let key = hkdf_expand_label(false, &secret, "key", 16).unwrap();
        let iv = hkdf_expand_label(false, &secret, "iv", 12).unwrap();
        assert_eq!(hex::encode(key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex::encode(iv), "5d313eb2671276ee13000b30");
    }

    #[test]
    fn suites() {
        let chacha = cipher_spec(0xcca8).unwrap();
        assert_eq!(
            (chacha.bulk, chacha.key_len, chacha.iv_len),
            (Bulk::ChaCha20Poly1305, 32, 12)
        );
        let gcm = cipher_spec(0xc030).unwrap();
        assert_eq!(
            (gcm.bulk, gcm.key_len, gcm.iv_len, gcm.sha384),
            (Bulk::AesGcm, 32, 4, true)
        );
        let cbc = cipher_spec(0x002f).unwrap();
        assert_eq!(
            (cbc.bulk, cbc.mac, cbc.key_len),
            (Bulk::AesCbc, MacHash::Sha1, 16)
        );
        let t13 = cipher_spec(0x1302).unwrap();
        assert_eq!((t13.iv_len, t13.sha384), (12, true));
        let tdes = cipher_spec(0x000a).unwrap();
        assert_eq!(
            (tdes.bulk, tdes.key_len, tdes.iv_len),
            (Bulk::TripleDesCbc, 24, 8)
        );
        let rc4 = cipher_spec(0x0005).unwrap();
        assert_eq!(
            (rc4.bulk, rc4.mac, rc4.key_len),
            (Bulk::Rc4, MacHash::Sha1, 16)
        );
        assert!(cipher_spec(0x0003).unwrap_err().contains("EXPORT"));
    }

    #[test]
    fn tls_padding_is_not_pkcs7() {
        let mut ok = vec![1, 2, 3, 2, 2, 2];
        strip_padding(&mut ok).unwrap();
        assert_eq!(ok, vec![1, 2, 3]);
        let mut bad = vec![1, 2, 3, 1, 2];
        assert_eq!(strip_padding(&mut bad), Err(DecryptError::Authentication));
    }
}

//! Handshake message bodies: what each message says, decoded per protocol version.
//!
//! tls-parser decodes ClientHello and ServerHello. CertificateRequest and Certificate are decoded
//! here because their layout depends on the negotiated version (tls-parser guesses the
//! CertificateRequest layout and has no TLS 1.3 layouts at all), and because the findings need
//! exact byte counts of the CA list as it was on the wire, including lists cut short.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use crate::x509::{self, CertInfo};

/// snake_case name of a handshake type, as in tshark's field names and our JSON.
pub fn handshake_name(kind: u8) -> &'static str {
    match kind {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        3 => "hello_verify_request",
        4 => "new_session_ticket",
        5 => "end_of_early_data",
        6 => "hello_retry_request",
        8 => "encrypted_extensions",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        21 => "certificate_url",
        22 => "certificate_status",
        23 => "supplemental_data",
        24 => "key_update",
        25 => "compressed_certificate",
        67 => "next_protocol",
        254 => "message_hash",
        _ => "unknown",
    }
}

/// Display name for text output ("CertificateRequest").
pub fn handshake_title(kind: u8) -> &'static str {
    match kind {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        6 => "HelloRetryRequest",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        21 => "CertificateURL",
        22 => "CertificateStatus",
        23 => "SupplementalData",
        24 => "KeyUpdate",
        25 => "CompressedCertificate",
        67 => "NextProtocol",
        254 => "MessageHash",
        _ => "Unknown",
    }
}

/// The random a ServerHello carries when it is really a HelloRetryRequest (RFC 8446 4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

pub const TLS13: u16 = 0x0304;

/// Name of a protocol version number.
pub fn version_name(v: u16) -> Cow<'static, str> {
    match v {
        0x0002 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v if v & 0x0f0f == 0x0a0a => format!("GREASE 0x{v:04x}").into(),
        v if v >> 8 == 0x7f => format!("TLS 1.3 draft {}", v & 0xff).into(),
        v => format!("0x{v:04x}").into(),
    }
}

/// Name of a cipher suite from tls-parser's table.
pub fn cipher_name(id: u16) -> Cow<'static, str> {
    match tls_parser::TlsCipherSuite::from_id(id) {
        Some(cs) => cs.name.into(),
        None => format!("0x{id:04x}").into(),
    }
}

/// Name of a TLS SignatureScheme (RFC 8446 4.2.3; TLS 1.2 hash/signature pairs share the
/// numbers), from tls-parser's table: `rsa_pkcs1_sha256`, or `0x0402` when it has none.
pub fn sigalg_name(id: u16) -> String {
    let s = tls_parser::SignatureScheme(id).to_string();
    if s.starts_with("SignatureScheme") {
        match (id >> 8, id & 0xff) {
            // TLS 1.2 pairs outside the TLS 1.3 table (RFC 5246 7.4.1.4.1).
            (h @ 1..=6, sig @ 1..=3) => format!(
                "{}_{}",
                ["", "rsa_pkcs1", "dsa", "ecdsa"][sig as usize],
                ["", "md5", "sha1", "sha224", "sha256", "sha384", "sha512"][h as usize]
            ),
            _ => format!("0x{id:04x}"),
        }
    } else {
        s
    }
}

/// Name of a CertificateRequest certificate type (RFC 5246 7.4.4, RFC 8422 5.5).
pub fn cert_type_name(t: u8) -> &'static str {
    match t {
        1 => "rsa_sign",
        2 => "dss_sign",
        3 => "rsa_fixed_dh",
        4 => "dss_fixed_dh",
        5 => "rsa_ephemeral_dh",
        6 => "dss_ephemeral_dh",
        20 => "fortezza_dms",
        64 => "ecdsa_sign",
        65 => "rsa_fixed_ecdh",
        66 => "ecdsa_fixed_ecdh",
        _ => "unknown",
    }
}

fn sigalg_names<S: serde::Serializer>(ids: &[u16], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(ids.iter().map(|&a| sigalg_name(a)))
}

fn sigalg_list(data: &[u8]) -> Vec<u16> {
    let mut c = Cursor::new(data);
    c.vec16()
        .map(|l| {
            l.chunks_exact(2)
                .map(|a| u16::from_be_bytes([a[0], a[1]]))
                .collect()
        })
        .unwrap_or_default()
}

/// Serialises a random as hex (kept as bytes: no string per hello unless written out).
fn hex32<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// A big-endian reader that never panics.
pub(crate) struct Cursor<'a> {
    pub buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u24(&mut self) -> Option<u32> {
        let b = self.take(3)?;
        Some(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()? as usize;
        self.take(n)
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Extensions as (type, data), walked by hand so one odd extension does not hide the others.
fn extension_list(block: &[u8]) -> Vec<(u16, &[u8])> {
    let mut c = Cursor::new(block);
    let mut out = Vec::new();
    while !c.is_empty() {
        let (Some(kind), Some(data)) = (c.u16(), c.vec16()) else {
            break;
        };
        out.push((kind, data));
    }
    out
}

/// A hello's session ID and, for a ClientHello, the non-empty session ticket it offers.
pub(crate) fn hello_session(body: &[u8], client: bool) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut c = Cursor::new(body);
    let Some(sid) = c.take(34).and_then(|_| c.vec8()) else {
        return (Vec::new(), None);
    };
    let mut ticket = None;
    if client {
        let ext = (|| {
            c.vec16()?; // cipher suites
            c.vec8()?; // compression methods
            c.vec16()
        })();
        for (kind, data) in extension_list(ext.unwrap_or(&[])) {
            if kind == 35 && !data.is_empty() {
                ticket = Some(data.to_vec());
            }
        }
    }
    (sid.to_vec(), ticket)
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ClientHelloInfo {
    pub legacy_version: Cow<'static, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offered_versions: Vec<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    pub cipher_suites: usize,
    pub extensions: Vec<u16>,
    pub post_handshake_auth: bool,
    /// signature_algorithms (extension 13), in the client's order; written out by name (kept
    /// as numbers: naming them for every ClientHello of a large capture would cost).
    #[serde(
        rename = "signature_algorithms",
        serialize_with = "sigalg_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sigalg_ids: Vec<u16>,
    /// signature_algorithms_cert (extension 50): what the client accepts in certificates.
    #[serde(
        rename = "signature_algorithms_cert",
        serialize_with = "sigalg_names",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sigalg_cert_ids: Vec<u16>,
    #[serde(serialize_with = "hex32")]
    pub random: [u8; 32],
    /// Set for an SSLv2-format ClientHello.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sslv2_format: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerHelloInfo {
    pub version: Cow<'static, str>,
    #[serde(skip)]
    pub version_id: u16,
    pub cipher_suite: Cow<'static, str>,
    #[serde(skip)]
    pub cipher_id: u16,
    pub hello_retry_request: bool,
    /// Compression method (1 = DEFLATE, RFC 3749); shown only when not null.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub compression: u8,
    pub extensions: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(serialize_with = "hex32")]
    pub random: [u8; 32],
    /// The handshake resumes an earlier session: `session-id` (the server echoed the offered
    /// session ID), `session-ticket` (echoed while the client offered a ticket, RFC 5077), or
    /// `psk` (TLS 1.3 pre_shared_key accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<&'static str>,
}

/// One distinguished name of a CertificateRequest. Serialised as its RFC 4514 text; the sizes
/// are in `ca_name_sizes` beside the list.
#[derive(Debug, Clone)]
pub struct CaName {
    pub dn: String,
    /// Size of the DER Name (without its 2-byte length prefix).
    pub der_len: usize,
    pub der: Vec<u8>,
}

impl Serialize for CaName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.dn)
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CertificateRequestInfo {
    /// "tls1.3", "tls1.2" or "tls1.0" layout.
    pub layout: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_types: Vec<u8>,
    /// `cert_types` by name (`rsa_sign`, `ecdsa_sign`...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_type_names: Vec<&'static str>,
    /// supported_signature_algorithms as hex (`0x0401`), kept for compatibility.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_algorithms: Vec<String>,
    /// The same by name (`rsa_pkcs1_sha256`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_algorithm_names: Vec<String>,
    #[serde(skip)]
    pub sigalg_ids: Vec<u16>,
    /// Length of the DN vector as on the wire (tshark `tls.handshake.dnames_len`).
    pub ca_list_bytes: usize,
    /// CA distinguished names as RFC 4514 text, in wire order.
    pub ca_names: Vec<CaName>,
    /// DER size of each name, in the same order.
    pub ca_name_sizes: Vec<usize>,
    /// TLS 1.3 certificate_request_context length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_len: Option<usize>,
    /// The DN list announced more bytes than the message holds, or an entry ran past its end.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Lookup sets for matching client certificates, built once per distinct request.
    #[serde(skip)]
    match_index: std::sync::OnceLock<CaMatchIndex>,
}

/// The CA names of a CertificateRequest as sets: exact DER and canonical form.
#[derive(Debug, Clone, Default)]
pub struct CaMatchIndex {
    pub der: rustc_hash::FxHashSet<Vec<u8>>,
    pub canonical: rustc_hash::FxHashSet<String>,
}

impl CertificateRequestInfo {
    fn set_sigalgs(&mut self, algs: &[u8]) {
        self.sigalg_ids = algs
            .chunks_exact(2)
            .map(|a| u16::from_be_bytes([a[0], a[1]]))
            .collect();
        self.signature_algorithm_names = self.sigalg_ids.iter().map(|&a| sigalg_name(a)).collect();
    }

    /// The names as lookup sets (built on first use; the request is shared across connections).
    pub fn match_index(&self) -> &CaMatchIndex {
        self.match_index.get_or_init(|| CaMatchIndex {
            der: self.ca_names.iter().map(|n| n.der.clone()).collect(),
            canonical: self
                .ca_names
                .iter()
                .filter_map(|n| x509::dn_canonical(&n.der))
                .collect(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CertificateMsgInfo {
    /// Length of the certificate list (tshark `tls.handshake.certificates_length`).
    pub certificates_length: usize,
    pub empty: bool,
    pub certificates: Vec<Arc<CertInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_len: Option<usize>,
    /// The message is malformed; what parsed is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    ClientHello(ClientHelloInfo),
    ServerHello(ServerHelloInfo),
    Certificate(CertificateMsgInfo),
    CertificateRequest(Arc<CertificateRequestInfo>),
    KeyUpdate {
        update_requested: bool,
    },
    CertificateStatus {
        status_type: u8,
        response_len: usize,
    },
    NewSessionTicket {
        lifetime_hint: u32,
        ticket_len: usize,
    },
    /// CertificateVerify (TLS 1.2 and 1.3 name the algorithm; TLS 1.0/1.1 do not).
    CertificateVerify {
        signature_algorithm: String,
        #[serde(skip)]
        sigalg_id: u16,
    },
    Malformed {
        malformed: String,
    },
}

/// Certificates and CertificateRequests seen in a file, decoded once each: the same chain and
/// the same CA list repeat across thousands of connections.
#[derive(Default)]
pub struct CertCache {
    /// By (length, 64-bit hash of the DER); a hit is confirmed by comparing the DER.
    map: rustc_hash::FxHashMap<(usize, u64), Arc<CertInfo>>,
    requests: rustc_hash::FxHashMap<(u16, usize, u64), Arc<CertificateRequestInfo>>,
}

/// Distinct certificates remembered per file at most.
const MAX_CACHED_CERTIFICATES: usize = 1 << 16;
/// Distinct CertificateRequests remembered per file at most.
const MAX_CACHED_REQUESTS: usize = 4096;

impl CertCache {
    pub fn get(&mut self, der: &[u8]) -> Arc<CertInfo> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(der);
        let key = (der.len(), hash);
        match self.map.get(&key) {
            Some(info) if info.der == der => info.clone(),
            Some(_) => Arc::new(x509::cert_info(der)), // hash collision: do not cache
            None => {
                let info = Arc::new(x509::cert_info(der));
                // Distinct certificates are few in real captures; a hostile one could carry
                // millions, so the cache is bounded (and so is the memory).
                if self.map.len() < MAX_CACHED_CERTIFICATES {
                    self.map.insert(key, info.clone());
                }
                info
            }
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Keys of the certificates held (length and hash of the DER), to count distinct
    /// certificates over several caches.
    pub fn keys(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.map.keys().copied()
    }

    /// A CertificateRequest body decoded in the layout of `version`, from the cache when the
    /// same body was seen before (keyed by length and a 64-bit hash of the bytes).
    pub fn certificate_request(&mut self, body: &[u8], version: Option<u16>) -> Detail {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(body);
        let key = (version.unwrap_or(0), body.len(), hash);
        if let Some(info) = self.requests.get(&key) {
            return Detail::CertificateRequest(info.clone());
        }
        let detail = parse_certificate_request(body, version);
        if let Detail::CertificateRequest(info) = &detail {
            if self.requests.len() < MAX_CACHED_REQUESTS {
                self.requests.insert(key, info.clone());
            }
        }
        detail
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

pub fn parse_client_hello(body: &[u8]) -> Detail {
    let Ok((_, ch)) = tls_parser::parse_tls_handshake_client_hello(body) else {
        return Detail::Malformed {
            malformed: "ClientHello does not parse".into(),
        };
    };
    let mut info = ClientHelloInfo {
        legacy_version: version_name(ch.version.0),
        cipher_suites: ch.ciphers.len(),
        random: ch.random.try_into().unwrap_or([0; 32]),
        ..Default::default()
    };
    for (kind, data) in extension_list(ch.ext.unwrap_or(&[])) {
        info.extensions.push(kind);
        let mut c = Cursor::new(data);
        match kind {
            0 => {
                // server_name: list of (type, name); host_name is type 0.
                if let Some(list) = c.vec16() {
                    let mut l = Cursor::new(list);
                    while let (Some(t), Some(name)) = (l.u8(), l.vec16()) {
                        if t == 0 && info.sni.is_none() {
                            info.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
            }
            16 => {
                if let Some(list) = c.vec16() {
                    let mut l = Cursor::new(list);
                    while let Some(p) = l.vec8() {
                        info.alpn.push(String::from_utf8_lossy(p).into_owned());
                    }
                }
            }
            43 => {
                if let Some(list) = c.vec8() {
                    info.offered_versions = list
                        .chunks_exact(2)
                        .map(|v| version_name(u16::from_be_bytes([v[0], v[1]])))
                        .collect();
                }
            }
            49 => info.post_handshake_auth = true,
            13 => info.sigalg_ids = sigalg_list(data),
            50 => info.sigalg_cert_ids = sigalg_list(data),
            _ => {}
        }
    }
    Detail::ClientHello(info)
}

pub fn parse_server_hello(body: &[u8]) -> Detail {
    let mut c = Cursor::new(body);
    let parsed = (|| {
        let version = c.u16()?;
        let random = c.take(32)?;
        let _session_id = c.vec8()?;
        let cipher = c.u16()?;
        let compression = c.u8()?;
        let ext = if c.is_empty() { &[][..] } else { c.vec16()? };
        Some((version, random, cipher, compression, ext))
    })();
    let Some((legacy_version, random, cipher, compression, ext)) = parsed else {
        return Detail::Malformed {
            malformed: "ServerHello does not parse".into(),
        };
    };
    let mut info = ServerHelloInfo {
        version_id: legacy_version,
        cipher_id: cipher,
        cipher_suite: cipher_name(cipher),
        hello_retry_request: random == HRR_RANDOM,
        compression,
        random: random.try_into().unwrap_or([0; 32]),
        ..Default::default()
    };
    for (kind, data) in extension_list(ext) {
        info.extensions.push(kind);
        match kind {
            // supported_versions in a ServerHello is a single version (RFC 8446 4.2.1).
            43 if data.len() == 2 => info.version_id = u16::from_be_bytes([data[0], data[1]]),
            // pre_shared_key in a ServerHello: the server accepted a PSK (RFC 8446 4.2.11).
            41 => info.resumed = Some("psk"),
            16 => {
                let mut c = Cursor::new(data);
                if let Some(list) = c.vec16() {
                    let mut l = Cursor::new(list);
                    if let Some(p) = l.vec8() {
                        info.alpn = Some(String::from_utf8_lossy(p).into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    info.version = version_name(info.version_id);
    Detail::ServerHello(info)
}

/// Parses a DN vector body (entries of u16 length + DER), tolerating a cut list.
fn parse_dn_list(list: &[u8], truncated: &mut bool) -> Vec<CaName> {
    let mut c = Cursor::new(list);
    let mut names = Vec::new();
    while !c.is_empty() {
        let Some(len) = c.u16() else {
            *truncated = true;
            break;
        };
        let Some(der) = c.take(len as usize) else {
            *truncated = true;
            break;
        };
        names.push(CaName {
            dn: x509::dn_to_string(der),
            der_len: der.len(),
            der: der.to_vec(),
        });
    }
    names
}

/// CertificateRequest in the layout of `version` (None: unknown, try 1.2 then 1.0).
pub fn parse_certificate_request(body: &[u8], version: Option<u16>) -> Detail {
    match version {
        Some(TLS13) => cert_request_13(body),
        Some(v) if v >= 0x0303 => cert_request_12(body, true),
        Some(_) => cert_request_12(body, false),
        None => {
            // An unknown version (one-sided capture): choose the layout that parses.
            match cert_request_12(body, true) {
                Detail::CertificateRequest(info) if !info.truncated => {
                    Detail::CertificateRequest(info)
                }
                first => match cert_request_12(body, false) {
                    Detail::CertificateRequest(info) if !info.truncated => {
                        Detail::CertificateRequest(info)
                    }
                    _ => first,
                },
            }
        }
    }
}

fn cert_request_12(body: &[u8], with_sig_algs: bool) -> Detail {
    let mut c = Cursor::new(body);
    let mut info = CertificateRequestInfo {
        layout: if with_sig_algs { "tls1.2" } else { "tls1.0" },
        ..Default::default()
    };
    let Some(types) = c.vec8() else {
        return malformed("CertificateRequest: no certificate types");
    };
    info.cert_types = types.to_vec();
    info.cert_type_names = types.iter().map(|&t| cert_type_name(t)).collect();
    if with_sig_algs {
        let Some(algs) = c.vec16() else {
            return malformed("CertificateRequest: no signature algorithms");
        };
        info.signature_algorithms = algs
            .chunks_exact(2)
            .map(|a| format!("0x{:02x}{:02x}", a[0], a[1]))
            .collect();
        info.set_sigalgs(algs);
    }
    let Some(announced) = c.u16() else {
        return malformed("CertificateRequest: no CA list length");
    };
    info.ca_list_bytes = announced as usize;
    let available = c.buf.len();
    let list = &c.buf[..available.min(announced as usize)];
    if available < announced as usize {
        info.truncated = true;
    }
    info.ca_names = parse_dn_list(list, &mut info.truncated);
    info.ca_name_sizes = info.ca_names.iter().map(|n| n.der_len).collect();
    if available > announced as usize {
        // Trailing bytes: the other layout is probably the right one.
        info.truncated = true;
    }
    Detail::CertificateRequest(Arc::new(info))
}

fn cert_request_13(body: &[u8]) -> Detail {
    let mut c = Cursor::new(body);
    let mut info = CertificateRequestInfo {
        layout: "tls1.3",
        ..Default::default()
    };
    let Some(ctx) = c.vec8() else {
        return malformed("CertificateRequest: no context");
    };
    info.context_len = Some(ctx.len());
    let Some(exts) = c.vec16() else {
        return malformed("CertificateRequest: no extensions");
    };
    for (kind, data) in extension_list(exts) {
        let mut e = Cursor::new(data);
        match kind {
            // certificate_authorities (RFC 8446 4.2.4)
            47 => {
                let Some(announced) = e.u16() else { continue };
                info.ca_list_bytes = announced as usize;
                let list = &e.buf[..e.buf.len().min(announced as usize)];
                if e.buf.len() < announced as usize {
                    info.truncated = true;
                }
                info.ca_names = parse_dn_list(list, &mut info.truncated);
                info.ca_name_sizes = info.ca_names.iter().map(|n| n.der_len).collect();
            }
            13 => {
                if let Some(algs) = e.vec16() {
                    info.signature_algorithms = algs
                        .chunks_exact(2)
                        .map(|a| format!("0x{:02x}{:02x}", a[0], a[1]))
                        .collect();
                    info.set_sigalgs(algs);
                }
            }
            _ => {}
        }
    }
    Detail::CertificateRequest(Arc::new(info))
}

fn malformed(what: &str) -> Detail {
    Detail::Malformed {
        malformed: what.into(),
    }
}

/// Certificate in the layout of `version` (None: try 1.2, then 1.3).
pub fn parse_certificate(body: &[u8], version: Option<u16>, cache: &mut CertCache) -> Detail {
    match version {
        Some(TLS13) => certificate_13(body, cache),
        Some(_) => certificate_12(body, cache),
        None => match certificate_12(body, cache) {
            Detail::Certificate(c) if c.error.is_none() => Detail::Certificate(c),
            first => match certificate_13(body, cache) {
                Detail::Certificate(c) if c.error.is_none() => Detail::Certificate(c),
                _ => first,
            },
        },
    }
}

fn certificate_12(body: &[u8], cache: &mut CertCache) -> Detail {
    let mut c = Cursor::new(body);
    let Some(announced) = c.u24() else {
        return malformed("Certificate: no list length");
    };
    let Some(list) = c.take(announced as usize) else {
        // Report the announced length as tshark does, without guessing at the certificates.
        return Detail::Certificate(CertificateMsgInfo {
            certificates_length: announced as usize,
            empty: announced == 0,
            error: Some(format!(
                "certificate list of {announced} bytes is longer than the {}-byte message",
                body.len()
            )),
            ..Default::default()
        });
    };
    if !c.is_empty() {
        return malformed("Certificate: bytes after the certificate list");
    }
    let mut info = CertificateMsgInfo {
        certificates_length: list.len(),
        empty: list.is_empty(),
        ..Default::default()
    };
    let mut l = Cursor::new(list);
    while !l.is_empty() {
        let Some(der) = l.vec24() else {
            return malformed("Certificate: entry longer than the list");
        };
        info.certificates.push(cache.get(der));
    }
    Detail::Certificate(info)
}

fn certificate_13(body: &[u8], cache: &mut CertCache) -> Detail {
    let mut c = Cursor::new(body);
    let Some(ctx) = c.vec8() else {
        return malformed("Certificate: no context");
    };
    let Some(list) = c.vec24() else {
        return malformed("Certificate: list longer than the message");
    };
    let mut info = CertificateMsgInfo {
        certificates_length: list.len(),
        empty: list.is_empty(),
        context_len: Some(ctx.len()),
        ..Default::default()
    };
    let mut l = Cursor::new(list);
    while !l.is_empty() {
        let (Some(der), Some(_exts)) = (l.vec24(), l.vec16()) else {
            return malformed("Certificate: entry longer than the list");
        };
        info.certificates.push(cache.get(der));
    }
    Detail::Certificate(info)
}

/// Decodes the body of a plaintext handshake message of `kind`.
pub fn decode(
    kind: u8,
    body: &[u8],
    version: Option<u16>,
    cache: &mut CertCache,
) -> Option<Detail> {
    Some(match kind {
        1 => parse_client_hello(body),
        2 => parse_server_hello(body),
        11 => parse_certificate(body, version, cache),
        13 => cache.certificate_request(body, version),
        22 => {
            let mut c = Cursor::new(body);
            match (c.u8(), c.vec24()) {
                (Some(t), Some(r)) => Detail::CertificateStatus {
                    status_type: t,
                    response_len: r.len(),
                },
                _ => malformed("CertificateStatus does not parse"),
            }
        }
        15 if version.is_some_and(|v| v >= 0x0303) => {
            let mut c = Cursor::new(body);
            let id = c.u16()?;
            Detail::CertificateVerify {
                signature_algorithm: sigalg_name(id),
                sigalg_id: id,
            }
        }
        24 => Detail::KeyUpdate {
            update_requested: body.first() == Some(&1),
        },
        4 => {
            let mut c = Cursor::new(body);
            let hint = c.u32()?;
            let ticket_len = if version == Some(TLS13) {
                // ticket_age_add, nonce, then the ticket
                c.u32()?;
                c.vec8()?;
                c.vec16()?.len()
            } else {
                c.vec16()?.len()
            };
            Detail::NewSessionTicket {
                lifetime_hint: hint,
                ticket_len,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(cn: &str) -> Vec<u8> {
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String cn } } }
        let mut atv = vec![0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, cn.len() as u8];
        atv.extend_from_slice(cn.as_bytes());
        let mut seq = vec![0x30, atv.len() as u8];
        seq.extend(atv);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        let mut name = vec![0x30, set.len() as u8];
        name.extend(set);
        name
    }

    fn dn_list(names: &[Vec<u8>]) -> Vec<u8> {
        let mut list = Vec::new();
        for n in names {
            list.extend_from_slice(&(n.len() as u16).to_be_bytes());
            list.extend_from_slice(n);
        }
        let mut v = (list.len() as u16).to_be_bytes().to_vec();
        v.extend(list);
        v
    }

    #[test]
    fn certificate_request_tls12() {
        let mut body = vec![2, 1, 64, 0, 4, 4, 1, 8, 4];
        body.extend(dn_list(&[dn("Root A"), dn("Root B")]));
        let Detail::CertificateRequest(info) = parse_certificate_request(&body, Some(0x0303))
        else {
            panic!()
        };
        assert_eq!(info.ca_names.len(), 2);
        assert_eq!(info.ca_names[0].dn, "CN=Root A");
        assert_eq!(info.ca_list_bytes, 2 * (2 + 19));
        assert_eq!(info.signature_algorithms, vec!["0x0401", "0x0804"]);
        assert!(!info.truncated);
    }

    #[test]
    fn certificate_request_layout_guess_and_tls10() {
        let mut body = vec![1, 1];
        body.extend(dn_list(&[dn("Old CA")]));
        let Detail::CertificateRequest(info) = parse_certificate_request(&body, None) else {
            panic!()
        };
        assert_eq!(info.layout, "tls1.0");
        assert_eq!(info.ca_names[0].dn, "CN=Old CA");
    }

    #[test]
    fn certificate_request_tls13_and_cut_list() {
        let list = dn_list(&[dn("Root 13")]);
        let mut ext = 47u16.to_be_bytes().to_vec();
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend(&list);
        let mut body = vec![0];
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let Detail::CertificateRequest(info) = parse_certificate_request(&body, Some(TLS13)) else {
            panic!()
        };
        assert_eq!(info.ca_names[0].dn, "CN=Root 13");
        assert_eq!(info.context_len, Some(0));

        let mut cut = vec![1, 1, 0, 2, 4, 1];
        cut.extend(dn_list(&[dn("A"), dn("B")]));
        cut.truncate(cut.len() - 5);
        let Detail::CertificateRequest(info) = parse_certificate_request(&cut, Some(0x0303)) else {
            panic!()
        };
        assert!(info.truncated);
        assert_eq!(info.ca_names.len(), 1);
    }

    #[test]
    fn empty_certificate_both_layouts() {
        let mut cache = CertCache::default();
        let Detail::Certificate(c12) = parse_certificate(&[0, 0, 0], Some(0x0303), &mut cache)
        else {
            panic!()
        };
        assert!(c12.empty);
        let Detail::Certificate(c13) = parse_certificate(&[0, 0, 0, 0], Some(TLS13), &mut cache)
        else {
            panic!()
        };
        assert!(c13.empty);
        let Detail::Certificate(cut) = parse_certificate(&[0, 0, 9, 1], Some(0x0303), &mut cache)
        else {
            panic!()
        };
        assert_eq!(cut.certificates_length, 9);
        assert!(cut
            .error
            .unwrap()
            .contains("longer than the 4-byte message"));
    }
}

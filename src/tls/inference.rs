//! The client-certificate exchange told from encrypted record sizes, without keys.
//!
//! The cipher suite is in the clear ServerHello, so each encrypted record's plaintext length
//! follows from its length: exactly for AEAD suites (TLS 1.2 AES-GCM/CCM: 8-byte explicit nonce and
//! a 16-byte tag; ChaCha20-Poly1305: 16; TLS 1.3: 16 and the inner content-type byte) and within
//! a range for CBC suites (explicit IV, MAC, 1 to 256 bytes of padding). OpenSSL, Apache, nginx
//! and Java write one handshake message per record, so the records of a flight are its messages
//! in protocol order; counts and a few fixed sizes (ServerHelloDone and HelloRequest 4 bytes,
//! Finished 4 + hash, an empty TLS 1.2 Certificate 7, TLS 1.3 8 + context) anchor them.
//! Where the server's and the client's flights can be read both ways, both must agree; where
//! several message sequences fit, the facts stay unknown and `ambiguous` says why.

use serde::Serialize;

use super::decrypt::{cipher_spec, Bulk};
use super::handshake::ClientHelloInfo;
use super::Direction;

/// A record the capture shows only as ciphertext (not decrypted): its outer type and length.
#[derive(Debug, Clone, Copy)]
pub struct SealedRecord {
    pub dir: u8,
    pub direction: Direction,
    pub frame: u64,
    /// Outer content type (TLS 1.3: always 23 but for ChangeCipherSpec).
    pub kind: u8,
    pub length: usize,
    pub seq: u32,
}

/// Bounds of a length in bytes (equal when exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub min: usize,
    pub max: usize,
}

impl Range {
    fn exact(n: usize) -> Self {
        Range { min: n, max: n }
    }
    pub fn is_exact(&self) -> bool {
        self.min == self.max
    }
    fn contains(&self, n: usize) -> bool {
        self.min <= n && n <= self.max
    }
    fn minus(&self, lo: usize, hi: usize) -> Range {
        Range {
            min: self.min.saturating_sub(hi),
            max: self.max.saturating_sub(lo),
        }
    }
    fn plus(&self, other: Range) -> Range {
        Range {
            min: self.min + other.min,
            max: self.max + other.max,
        }
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_exact() {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// What the record sizes say about one handshake's client-certificate exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InferredAuth {
    /// `renegotiation`, `initial` (TLS 1.3 main handshake) or `post-handshake-auth`.
    pub handshake: &'static str,
    /// Frame where the handshake starts (HelloRequest/ClientHello record, TLS 1.3 first
    /// encrypted server record, or the post-handshake CertificateRequest).
    pub first_frame: u64,
    /// A CertificateRequest was sent; None when the sizes cannot tell.
    pub requested: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_request_frame: Option<u64>,
    /// Size of the CertificateRequest's CA list (`dnames_len`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_list_bytes: Option<Range>,
    /// `sent` or `empty`; None when not known (or not requested).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate_frame: Option<u64>,
    /// Body length of the client's Certificate message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate_length: Option<Range>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_verify: Option<bool>,
    /// `completed` or `failed`; None when the sizes do not tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u64>,
    /// The side whose alert ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_by: Option<Direction>,
    /// The records and the arithmetic, one line each (in JSON as `client_auth.evidence`).
    #[serde(skip)]
    pub evidence: Vec<String>,
    /// Why facts were left unknown: several message sequences fit the sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambiguous: Option<String>,
}

impl InferredAuth {
    fn new(handshake: &'static str, first_frame: u64) -> Self {
        InferredAuth {
            handshake,
            first_frame,
            requested: None,
            certificate_request_frame: None,
            ca_list_bytes: None,
            client_certificate: None,
            client_certificate_frame: None,
            client_certificate_length: None,
            certificate_verify: None,
            end: None,
            end_frame: None,
            end_by: None,
            evidence: Vec::new(),
            ambiguous: None,
        }
    }

    fn ambiguous(&mut self, why: String) {
        if self.ambiguous.is_none() {
            self.ambiguous = Some(why);
        }
    }
}

/// How a suite expands plaintext into a record.
#[derive(Debug, Clone, Copy)]
enum Expansion {
    /// Fixed bytes added (AEAD, stream cipher with MAC); TLS 1.3 counts its content-type byte.
    Fixed(usize, &'static str),
    /// CBC: explicit IV, MAC, padding of 1..=256 bytes to a block multiple.
    Cbc { iv: usize, mac: usize, block: usize },
}

impl Expansion {
    fn of(version: u16, cipher: u16) -> Option<Expansion> {
        let spec = cipher_spec(cipher).ok()?;
        let tls13 = version == 0x0304;
        let tag = if spec.bulk == Bulk::AesCcm8 { 8 } else { 16 };
        Some(match spec.bulk {
            _ if tls13 => Expansion::Fixed(tag + 1, "16-byte AEAD tag + 1 content-type byte"),
            Bulk::AesGcm | Bulk::AesCcm => {
                Expansion::Fixed(8 + tag, "8-byte explicit nonce + 16-byte tag")
            }
            Bulk::AesCcm8 => Expansion::Fixed(16, "8-byte explicit nonce + 8-byte tag"),
            Bulk::ChaCha20Poly1305 => Expansion::Fixed(16, "16-byte Poly1305 tag"),
            Bulk::Rc4 => Expansion::Fixed(spec.mac.len(), "MAC"),
            Bulk::AesCbc | Bulk::CamelliaCbc | Bulk::TripleDesCbc | Bulk::DesCbc => {
                let block = if matches!(spec.bulk, Bulk::TripleDesCbc | Bulk::DesCbc) {
                    8
                } else {
                    16
                };
                Expansion::Cbc {
                    iv: if version >= 0x0302 { block } else { 0 },
                    mac: spec.mac.len(),
                    block,
                }
            }
        })
    }

    fn plaintext(&self, len: usize) -> Option<Range> {
        match *self {
            Expansion::Fixed(n, _) => len.checked_sub(n).map(Range::exact),
            Expansion::Cbc { iv, mac, block } => {
                // Encrypt-then-MAC or MAC-then-encrypt: either way the ciphertext is whole blocks.
                let aligned = (len.checked_sub(iv)?) % block == 0
                    || (len.checked_sub(iv + mac)?) % block == 0;
                let max = len.checked_sub(iv + mac + 1)?;
                aligned.then(|| Range {
                    min: len.saturating_sub(iv + mac + 256),
                    max,
                })
            }
        }
    }

    fn describe(&self) -> String {
        match *self {
            Expansion::Fixed(n, what) => format!("record length - {n} ({what})"),
            Expansion::Cbc { iv, mac, block } => format!(
                "record length - {iv} (explicit IV) - {mac} (MAC) - 1..256 (padding to {block}-byte blocks)"
            ),
        }
    }
}

/// One message as the sizes show it: one record, or full records and the one that ends them.
#[derive(Debug, Clone)]
struct Unit {
    direction: Direction,
    kind: u8,
    frame: u64,
    lengths: Vec<usize>,
    plain: Range,
}

impl Unit {
    fn show(&self) -> String {
        let lens: Vec<String> = self.lengths.iter().map(|l| l.to_string()).collect();
        format!(
            "{} (frame {}, {} B plaintext)",
            lens.join("+"),
            self.frame,
            self.plain
        )
    }
    fn is(&self, n: usize) -> bool {
        self.plain.contains(n)
    }
    fn exactly(&self, n: usize) -> bool {
        self.plain == Range::exact(n)
    }
}

const MAX_PLAINTEXT: usize = 16384;
/// Smallest plausible X.509 certificate in DER.
const MIN_CERT: usize = 100;
/// A CertificateVerify body: 2-byte algorithm (TLS 1.2+), 2-byte length, a signature of 8
/// (tiny ECDSA) to 1024 bytes (RSA 8192).
const CV_BODY: Range = Range { min: 8, max: 1028 };

/// Groups records into messages: a record full to 2^14 bytes continues in the next one of the
/// same direction and type.
fn units(records: &[&SealedRecord], exp: &Expansion) -> Option<Vec<Unit>> {
    let mut out: Vec<Unit> = Vec::new();
    let mut open = false;
    for r in records {
        let plain = exp.plaintext(r.length)?;
        match out.last_mut() {
            Some(u) if open && u.direction == r.direction && u.kind == r.kind => {
                u.frame = r.frame;
                u.lengths.push(r.length);
                u.plain = u.plain.plus(plain);
            }
            _ => out.push(Unit {
                direction: r.direction,
                kind: r.kind,
                frame: r.frame,
                lengths: vec![r.length],
                plain,
            }),
        }
        open = plain.contains(MAX_PLAINTEXT);
    }
    Some(out)
}

fn list(units: &[Unit]) -> String {
    units.iter().map(Unit::show).collect::<Vec<_>>().join(", ")
}

/// Infers the client-certificate exchanges of a connection's encrypted handshakes.
/// `hello` is the first (cleartext) ClientHello; `records` are the records not decrypted,
/// with their directions set, in connection order.
pub fn infer(
    version: Option<u16>,
    cipher: Option<u16>,
    hello: Option<&ClientHelloInfo>,
    records: &[SealedRecord],
) -> Vec<InferredAuth> {
    let (Some(version), Some(cipher)) = (version, cipher) else {
        return Vec::new();
    };
    if records.is_empty() || records.iter().any(|r| r.direction == Direction::Unknown) {
        return Vec::new();
    }
    let Some(exp) = Expansion::of(version, cipher) else {
        return Vec::new();
    };
    let mut sorted: Vec<&SealedRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.seq);
    let suite = super::handshake::cipher_name(cipher);
    let arithmetic = format!("{suite}: plaintext = {}", exp.describe());
    let mut out = if version == 0x0304 {
        tls13(&sorted, &exp, hello, cipher)
    } else {
        tls12(&sorted, &exp, hello, &suite, version)
    };
    for a in &mut out {
        a.evidence.insert(0, arithmetic.clone());
    }
    out
}

/// TLS 1.0-1.2 renegotiations: encrypted handshake records after each side's Finished.
fn tls12(
    records: &[&SealedRecord],
    exp: &Expansion,
    hello: Option<&ClientHelloInfo>,
    suite: &str,
    version: u16,
) -> Vec<InferredAuth> {
    // The first encrypted handshake record of each direction is its initial Finished.
    let mut seen = [false; 2];
    let mut after: Vec<&SealedRecord> = Vec::new();
    for r in records {
        if r.kind == 22 && !seen[r.dir as usize & 1] {
            seen[r.dir as usize & 1] = true;
            continue;
        }
        if seen[r.dir as usize & 1] && matches!(r.kind, 20..=22) {
            after.push(r);
        }
    }
    let Some(units) = units(&after, exp) else {
        return Vec::new();
    };
    let ske = if suite.contains("_ECDHE_") || suite.contains("_DHE_") {
        Some(1)
    } else if suite.starts_with("TLS_RSA_WITH") {
        Some(0)
    } else {
        None
    };
    let stapling_offered = hello.is_none_or(|h| h.extensions.iter().any(|&e| e == 5 || e == 17));
    let mut out = Vec::new();
    let mut i = 0;
    while i < units.len() {
        let u = &units[i];
        if u.kind != 22 {
            i += 1;
            continue;
        }
        let mut a;
        if u.direction == Direction::Server && u.plain.max <= 4 + 16 && u.is(4) {
            // HelloRequest; the client's ClientHello follows (or it ignored the request).
            a = InferredAuth::new("renegotiation", u.frame);
            a.evidence
                .push(format!("server: HelloRequest {}", u.show()));
            i += 1;
            match units[i..]
                .iter()
                .position(|x| x.direction == Direction::Client)
            {
                Some(p) if units[i + p].kind == 22 => i += p,
                _ => break,
            }
        } else if u.direction == Direction::Client {
            a = InferredAuth::new("renegotiation", u.frame);
        } else {
            i += 1;
            continue;
        }
        let ch = &units[i];
        a.evidence
            .push(format!("client: ClientHello {}", ch.show()));
        i += 1;
        // The server's flight: its handshake records up to the client's next record.
        let start = i;
        while i < units.len() && units[i].direction == Direction::Server && units[i].kind == 22 {
            i += 1;
        }
        let flight = &units[start..i];
        let mut server_says: Option<bool> = None;
        let mut cr_unit: Option<&Unit> = None;
        let resumed = flight.len() == 1
            && units
                .get(i)
                .is_some_and(|x| x.direction == Direction::Server && x.kind == 20);
        if flight.is_empty() {
            a.ambiguous("the server sent no handshake records after the ClientHello".into());
        } else if resumed {
            server_says = Some(false);
            a.evidence.push(format!(
                "server: ServerHello {} then ChangeCipherSpec: an abbreviated (resumed) handshake, which has no CertificateRequest",
                flight[0].show()
            ));
        } else if !flight
            .last()
            .is_some_and(|x| x.is(4) && x.plain.max <= 4 + 16)
        {
            a.ambiguous(format!(
                "the server's flight ({}) does not end in a separate 4-byte ServerHelloDone: several messages share records, and which ones cannot be told from sizes",
                list(flight)
            ));
        } else if let Some(ske) = ske {
            let middle = flight.len() as isize - 2;
            let extra = middle - 1 - ske;
            let names = if ske == 1 {
                "Certificate, ServerKeyExchange"
            } else {
                "Certificate"
            };
            a.evidence.push(format!(
                "server: {} records ({}): ServerHello, {middle} message(s), ServerHelloDone (4 B); the suite's key exchange needs {names}",
                flight.len(),
                list(flight)
            ));
            match extra {
                0 => server_says = Some(false),
                2 => server_says = Some(true),
                1 if !stapling_offered => server_says = Some(true),
                1 => a.evidence.push(
                    "server: the one extra message is a CertificateRequest or a CertificateStatus (the ClientHello offered OCSP stapling)".into(),
                ),
                _ => a.ambiguous(format!(
                    "the server's flight has {middle} messages between ServerHello and ServerHelloDone, more or fewer than any one-message-per-record sequence"
                )),
            }
            if (1..=2).contains(&extra) {
                cr_unit = flight.get(flight.len() - 2);
            }
        } else {
            a.ambiguous(format!(
                "the key exchange of {suite} is not one whose messages are known (ECDHE, DHE or RSA)"
            ));
        }
        // The client's flight: handshake records up to its ChangeCipherSpec.
        let cstart = i;
        while i < units.len() && units[i].direction == Direction::Client && units[i].kind == 22 {
            i += 1;
        }
        let cflight = &units[cstart..i];
        let client_ccs = units
            .get(i)
            .is_some_and(|x| x.direction == Direction::Client && x.kind == 20);
        let mut client_says: Option<bool> = None;
        if client_ccs && !cflight.is_empty() {
            let shown = list(cflight);
            match cflight.len() {
                1 if !cke_sizes(suite).iter().any(|&n| cflight[0].is(n)) => a.ambiguous(format!(
                    "the client's one record before its ChangeCipherSpec ({shown}) is not the size of a ClientKeyExchange alone"
                )),
                1 => {
                    client_says = Some(false);
                    a.evidence.push(format!(
                        "client: 1 record before its ChangeCipherSpec ({shown}): ClientKeyExchange alone, no Certificate"
                    ));
                }
                2 | 3 => {
                    client_says = Some(true);
                    let cert = &cflight[0];
                    let body = cert.plain.minus(4, 4);
                    a.client_certificate_frame = Some(cert.frame);
                    a.client_certificate_length = Some(body);
                    a.certificate_verify = Some(cflight.len() == 3);
                    if cert.is(7) && cert.plain.max < 4 + 3 + 3 + MIN_CERT {
                        a.client_certificate = Some("empty");
                        a.client_certificate_length = Some(Range::exact(3));
                        a.evidence.push(format!(
                            "client: {} records ({shown}): Certificate, ClientKeyExchange{}; a {} B Certificate is an empty one (4-byte header + 3-byte empty list = 7 B)",
                            cflight.len(),
                            if cflight.len() == 3 { ", CertificateVerify" } else { "" },
                            cert.plain
                        ));
                    } else if cert.plain.min >= 4 + 3 + 3 + MIN_CERT {
                        a.client_certificate = Some("sent");
                        a.evidence.push(format!(
                            "client: {} records ({shown}): Certificate of {} B (certificate list {} B), ClientKeyExchange{}",
                            cflight.len(),
                            cert.plain,
                            body.minus(3, 3),
                            if cflight.len() == 3 { ", CertificateVerify" } else { "" }
                        ));
                    } else {
                        a.client_certificate_length = None;
                        a.certificate_verify = None;
                        a.ambiguous(format!(
                            "the client's first record ({}) is too small for a certificate and too large for an empty Certificate",
                            cert.show()
                        ));
                    }
                }
                n => a.ambiguous(format!(
                    "the client sent {n} handshake records before its ChangeCipherSpec ({shown}), more than Certificate, ClientKeyExchange and CertificateVerify"
                )),
            }
        }
        a.requested = match (server_says, client_says) {
            (Some(s), Some(c)) if s != c => {
                a.ambiguous(
                    "the server's and the client's flights disagree on whether a CertificateRequest was sent".into(),
                );
                None
            }
            // The client's flight decides where the server's records are shared.
            (s, c) => c.or(s),
        };
        if a.requested.is_none() {
            a.client_certificate = None;
            a.client_certificate_length = None;
            a.certificate_verify = None;
        }
        if a.requested == Some(true) {
            if let Some(cr) = cr_unit {
                // body: types (1 + 1..16), signature algorithms (TLS 1.2: 2 + 2..128),
                // CA list (2 + D).
                let body = cr.plain.minus(4, 4);
                let (sig_min, sig_max, sig_text) = if version >= 0x0303 {
                    (4, 130, " + 2+2..128 B signature algorithms")
                } else {
                    (0, 0, "")
                };
                let d = body.minus(1 + 1 + sig_min + 2, 1 + 16 + sig_max + 2);
                a.certificate_request_frame = Some(cr.frame);
                a.ca_list_bytes = Some(d);
                a.evidence.push(format!(
                    "server: CertificateRequest {} = 4-byte header + 1+1..16 B certificate types{sig_text} + 2 + CA list of {d} B",
                    cr.show()
                ));
            }
        } else {
            a.client_certificate = None;
            a.client_certificate_length = None;
            a.client_certificate_frame = None;
            a.certificate_verify = None;
        }
        // How it ended: the client's Finished after its ChangeCipherSpec, then the server's
        // ChangeCipherSpec and Finished; or an alert.
        let mut j = i;
        let mut server_ccs = false;
        // An alert right after the ClientHello is a refusal (warning no_renegotiation) or a
        // failure: which one is inside the alert.
        while j < units.len() && !flight.is_empty() {
            let x = &units[j];
            if x.kind == 22 && x.direction == Direction::Server && server_ccs {
                a.end = Some("completed");
                a.end_frame = Some(x.frame);
                a.evidence.push(format!(
                    "server: ChangeCipherSpec and Finished {}: the handshake completed",
                    x.show()
                ));
                j += 1;
                break;
            }
            if x.kind == 20 && x.direction == Direction::Server {
                server_ccs = true;
            }
            if x.kind == 21 {
                a.end = Some("failed");
                a.end_frame = Some(x.frame);
                a.evidence.push(format!(
                    "{}: an encrypted alert {} before the handshake completed: it failed",
                    side(x.direction),
                    x.show()
                ));
                a.end_by = Some(x.direction);
                j += 1;
                break;
            }
            if x.kind == 22 && x.direction == Direction::Server && x.is(4) && x.plain.max <= 20 {
                break; // the next renegotiation's HelloRequest
            }
            if x.kind == 22 && x.direction == Direction::Client && j > i + 1 {
                break;
            }
            j += 1;
        }
        i = j.max(i);
        out.push(a);
    }
    out
}

/// Plaintext sizes of a ClientKeyExchange alone: an ECDHE point (X25519, X448, P-256, P-384,
/// P-521) or an RSA-encrypted secret / DHE value of 512 to 4096 bits.
fn cke_sizes(suite: &str) -> Vec<usize> {
    if suite.contains("_ECDHE_") {
        [32, 56, 65, 97, 133].iter().map(|p| 4 + 1 + p).collect()
    } else {
        [64, 128, 192, 256, 384, 512]
            .iter()
            .map(|p| 4 + 2 + p)
            .collect()
    }
}

fn side(d: Direction) -> &'static str {
    match d {
        Direction::Client => "client",
        Direction::Server => "server",
        Direction::Unknown => "peer",
    }
}

/// (requested, certificate, index of the Certificate, CertificateVerify, index of the Finished)
type Answer = (bool, Option<&'static str>, Option<usize>, bool, usize);

/// What a TLS 1.3 flight of the client (Certificate, CertificateVerify, Finished) shows, given
/// the request context length (`ctx`, None when unknown).
fn tls13_answer(burst: &[Unit], fin: usize, ctx: Option<usize>) -> Option<Answer> {
    let f = burst.iter().take(3).position(|u| u.exactly(fin))?;
    match f {
        0 if ctx == Some(0) => Some((false, None, None, false, 0)),
        1 => {
            let c = burst[0].plain.min.checked_sub(8)?;
            (burst[0].plain.is_exact() && ctx.is_none_or(|x| x == c) && c <= 255).then_some((
                true,
                Some("empty"),
                Some(0),
                false,
                1,
            ))
        }
        2 => (burst[0].plain.min >= 4 + 1 + 3 + 3 + MIN_CERT
            && burst[1].plain.minus(4, 4).min >= CV_BODY.min
            && burst[1].plain.minus(4, 4).max <= CV_BODY.max)
            .then_some((true, Some("sent"), Some(0), true, 2)),
        _ => None,
    }
}

/// How the server took the client's last flight: an alert alone (2-byte plaintext) with no
/// other data after it fails the handshake; anything else from the server means it went on.
fn tls13_end(a: &mut InferredAuth, rest: &[Unit], done_frame: u64) {
    let Some(next) = rest.iter().find(|u| u.direction == Direction::Server) else {
        return;
    };
    let alert = next.exactly(2);
    let more = rest
        .iter()
        .any(|u| u.direction == Direction::Server && !u.exactly(2));
    if alert && !more {
        a.end = Some("failed");
        a.end_frame = Some(next.frame);
        a.end_by = Some(Direction::Server);
        a.evidence.push(format!(
            "server: {} = 2 B, an alert, and no other data from the server: it rejected the client's answer",
            next.show()
        ));
    } else if !alert {
        a.end = Some("completed");
        a.end_frame = Some(done_frame);
        a.evidence.push(format!(
            "server: {} after the client's Finished is not an alert: the server went on",
            next.show()
        ));
    }
}

/// TLS 1.3: the main handshake's encrypted flights, then post-handshake authentication.
fn tls13(
    records: &[&SealedRecord],
    exp: &Expansion,
    hello: Option<&ClientHelloInfo>,
    cipher: u16,
) -> Vec<InferredAuth> {
    let recs: Vec<&SealedRecord> = records.iter().filter(|r| r.kind == 23).copied().collect();
    let Some(units) = units(&recs, exp) else {
        return Vec::new();
    };
    let Some(first) = units.first() else {
        return Vec::new();
    };
    let Ok(spec) = cipher_spec(cipher) else {
        return Vec::new();
    };
    let fin = 4 + if spec.sha384 { 48 } else { 32 };
    let mut out = Vec::new();
    let mut a = InferredAuth::new("initial", first.frame);
    if first.direction != Direction::Server || hello.is_some_and(|h| h.extensions.contains(&42)) {
        // Early data (0-RTT) interleaves client records with the server's flight.
        a.ambiguous("the client offered or sent early data before the server's flight".into());
        out.push(a);
        return out;
    }
    let k = units
        .iter()
        .position(|u| u.direction == Direction::Client)
        .unwrap_or(units.len());
    let flight = &units[..k];
    let shown = list(flight);
    let mut server_says = None;
    let mut cr_unit = None;
    let ends_in_finished = flight.last().is_some_and(|u| u.exactly(fin));
    if !ends_in_finished {
        a.ambiguous(format!(
            "the server's flight ({shown}) does not end in a separate {fin}-byte Finished: several messages share records"
        ));
    } else {
        let n = flight.len();
        let plausible = n < 4
            || (flight[n - 3].plain.min >= 4 + 1 + 3 + 3 + MIN_CERT
                && flight[n - 2].plain.minus(4, 4).min >= CV_BODY.min
                && flight[n - 2].plain.minus(4, 4).max <= CV_BODY.max);
        match n {
            _ if !plausible => a.ambiguous(format!(
                "the server's records ({shown}) do not have the sizes of Certificate, CertificateVerify and Finished"
            )),
            2 => {
                server_says = Some(false);
                a.evidence.push(format!(
                    "server: 2 records ({shown}): EncryptedExtensions, Finished ({fin} B): a PSK handshake, which has no CertificateRequest"
                ));
            }
            4 => {
                // EncryptedExtensions and a CertificateRequest sharing one record would look
                // the same, unless that record is too small for both (6 + 15 bytes).
                a.evidence.push(format!(
                    "server: 4 records ({shown}): EncryptedExtensions, Certificate, CertificateVerify, Finished ({fin} B)"
                ));
                if flight[0].plain.max < 6 + 15 {
                    server_says = Some(false);
                }
            }
            5 => {
                server_says = Some(true);
                cr_unit = Some(&flight[1]);
                a.evidence.push(format!(
                    "server: 5 records ({shown}): EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished ({fin} B)"
                ));
            }
            _ => a.ambiguous(format!(
                "the server's flight has {n} records ({shown}), not a one-message-per-record sequence"
            )),
        }
    }
    let burst_end = units[k..]
        .iter()
        .position(|u| u.direction != Direction::Client)
        .map_or(units.len(), |p| k + p);
    let burst = &units[k..burst_end];
    let mut client_says = None;
    let mut done = None;
    if !burst.is_empty() {
        match tls13_answer(burst, fin, Some(0)) {
            Some((req, cert, cu, cv, f)) => {
                client_says = Some(req);
                done = Some(k + f);
                a.certificate_verify = Some(cv);
                a.client_certificate = cert;
                if let Some(cu) = cu {
                    let c = &burst[cu];
                    a.client_certificate_frame = Some(c.frame);
                    a.client_certificate_length = Some(c.plain.minus(4, 4));
                }
                a.evidence.push(match (req, cert) {
                    (false, _) => format!(
                        "client: Finished {} first: no Certificate, so no CertificateRequest",
                        burst[0].show()
                    ),
                    (true, Some("empty")) => format!(
                        "client: {} = 8 B, an empty Certificate (4-byte header + 1-byte empty context + 3-byte empty list), then Finished {}",
                        burst[0].show(),
                        burst[1].show()
                    ),
                    _ => format!(
                        "client: Certificate {} (certificate list {} B), CertificateVerify {}, Finished {}",
                        burst[0].show(),
                        burst[0].plain.minus(8, 8),
                        burst[1].show(),
                        burst[2].show()
                    ),
                });
            }
            None if burst[0].exactly(2) => {
                a.end = Some("failed");
                a.end_frame = Some(burst[0].frame);
                a.end_by = Some(Direction::Client);
                a.evidence.push(format!(
                    "client: {} = 2 B, an alert instead of its Finished: it aborted",
                    burst[0].show()
                ));
            }
            None => a.ambiguous(format!(
                "the client's records ({}) are not Certificate, CertificateVerify and Finished one per record",
                list(&burst[..burst.len().min(3)])
            )),
        }
    }
    a.requested = match (server_says, client_says) {
        (Some(s), Some(c)) if s != c => {
            a.ambiguous(
                "the server's and the client's flights disagree on whether a CertificateRequest was sent".into(),
            );
            None
        }
        // A lone Finished (or Certificate, Finished) from the client decides even where the
        // server's messages share records.
        (s, c) => c.or(s),
    };
    if a.requested != Some(true) {
        a.client_certificate = None;
        a.client_certificate_frame = None;
        a.client_certificate_length = None;
        a.certificate_verify = None;
    } else if let Some(cr) = cr_unit {
        // body: context length (1) + empty context + extensions (2): certificate_authorities
        // (4 + 2 + D), signature_algorithms (4 + 2 + 2..128), up to 300 B of others.
        let d = cr
            .plain
            .minus(4, 4)
            .minus(1 + 2 + 6 + 8, 1 + 2 + 6 + 134 + 300);
        a.certificate_request_frame = Some(cr.frame);
        a.ca_list_bytes = Some(d);
        a.evidence.push(format!(
            "server: CertificateRequest {} = 4-byte header + 1 + 2 + certificate_authorities (6 + CA list of {d} B) + signature_algorithms (6 + 2..128 B) + up to 300 B of other extensions",
            cr.show()
        ));
    }
    let mut next = done.map(|d| d + 1);
    if let Some(d) = done {
        let rest = &units[d + 1..];
        tls13_end(&mut a, rest, units[d].frame);
    }
    out.push(a);
    // Post-handshake authentication: only where the ClientHello offered it.
    if !hello.is_some_and(|h| h.post_handshake_auth) {
        return out;
    }
    while let Some(from) = next {
        let Some(p) = (from.max(1)..units.len()).find(|&p| {
            units[p].direction == Direction::Client && units[p - 1].direction == Direction::Server
        }) else {
            break;
        };
        let end = units[p..]
            .iter()
            .position(|u| u.direction != Direction::Client)
            .map_or(units.len(), |q| p + q);
        let burst = &units[p..end];
        let cr = &units[p - 1];
        let ctx = burst.first().and_then(|u| u.plain.min.checked_sub(8));
        let answer = tls13_answer(burst, fin, None).filter(|&(req, cert, ..)| {
            // An empty Certificate tells the context length; the request must hold it.
            req && (cert != Some("empty") || cr.plain.min >= 4 + 1 + ctx.unwrap_or(0) + 2 + 8)
        });
        let Some((_, cert, cu, cv, f)) = answer else {
            next = Some(p + 1);
            continue;
        };
        let mut b = InferredAuth::new("post-handshake-auth", cr.frame);
        b.requested = Some(true);
        b.certificate_request_frame = Some(cr.frame);
        b.client_certificate = cert;
        b.certificate_verify = Some(cv);
        if let Some(cu) = cu {
            b.client_certificate_frame = Some(burst[cu].frame);
            b.client_certificate_length = Some(burst[cu].plain.minus(4, 4));
        }
        let ctx_range = if cert == Some("empty") {
            Range::exact(ctx.unwrap_or(0))
        } else {
            Range { min: 1, max: 255 }
        };
        let d = cr
            .plain
            .minus(4, 4)
            .minus(1 + 2 + 6 + 8, 1 + 2 + 6 + 134 + 300)
            .minus(ctx_range.min, ctx_range.max);
        b.ca_list_bytes = Some(d);
        b.evidence.push(format!(
            "client offered post_handshake_auth; server: {} before the client's flight, a CertificateRequest with a {ctx_range}-byte context and a CA list of {d} B",
            cr.show()
        ));
        b.evidence.push(match cert {
            Some("empty") => format!(
                "client: {} = 8 + {} B, an empty Certificate echoing the context, then Finished {}",
                burst[0].show(),
                ctx_range,
                burst[1].show()
            ),
            _ => format!(
                "client: Certificate {}, CertificateVerify {}, Finished {}",
                burst[0].show(),
                burst[1].show(),
                burst[2].show()
            ),
        });
        tls13_end(&mut b, &units[p + f + 1..], burst[f].frame);
        out.push(b);
        next = Some(p + f + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(cipher_dirs: &[(u8, u8, usize)]) -> Vec<SealedRecord> {
        cipher_dirs
            .iter()
            .enumerate()
            .map(|(i, &(dir, kind, length))| SealedRecord {
                dir,
                direction: if dir == 0 {
                    Direction::Client
                } else {
                    Direction::Server
                },
                frame: i as u64 + 1,
                kind,
                length,
                seq: i as u32,
            })
            .collect()
    }

    #[test]
    fn cbc_plaintext_range() {
        // AES-128-CBC with HMAC-SHA256 in TLS 1.2: 16-byte IV, 32-byte MAC.
        let e = Expansion::of(0x0303, 0xc023).unwrap();
        assert_eq!(e.plaintext(64), Some(Range { min: 0, max: 15 }));
        assert_eq!(e.plaintext(65), None);
    }

    /// TLS 1.2 GCM renegotiation where the server's flight is one record.
    fn shared_server_flight(client: &[(u8, u8, usize)]) -> InferredAuth {
        let mut r = vec![
            (0, 22, 40),
            (1, 22, 40),
            (1, 22, 28),
            (0, 22, 200),
            (1, 22, 1800),
        ];
        r.extend_from_slice(client);
        r.push((1, 21, 26));
        let out = infer(Some(0x0303), Some(0xc02b), None, &recs(&r));
        assert_eq!(out.len(), 1);
        out.into_iter().next().unwrap()
    }

    #[test]
    fn shared_server_flight_told_by_the_client() {
        // Client: empty Certificate (31 = 7 + 24), ClientKeyExchange (61), CCS, Finished.
        let a = shared_server_flight(&[(0, 22, 31), (0, 22, 61), (0, 20, 25), (0, 22, 40)]);
        assert!(a.ambiguous.is_some());
        assert_eq!(a.requested, Some(true));
        assert_eq!(a.client_certificate, Some("empty"));
        // The CertificateRequest is inside the shared record: its size is not known.
        assert_eq!(a.ca_list_bytes, None);
        assert_eq!(a.end, Some("failed"));
    }

    #[test]
    fn shared_flights_on_both_sides_are_left_unknown() {
        // The client's flight in one record too: 1200 B is no ClientKeyExchange alone.
        let a = shared_server_flight(&[(0, 22, 1200), (0, 20, 25), (0, 22, 40)]);
        assert!(a.ambiguous.is_some());
        assert_eq!(a.requested, None);
        assert_eq!(a.client_certificate, None);
        assert_eq!(a.certificate_verify, None);
    }

    #[test]
    fn random_record_sequences_never_panic() {
        let mut seed = 11u32;
        let mut next = |m: u32| {
            seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
            (seed >> 16) % m
        };
        let hello = ClientHelloInfo {
            post_handshake_auth: true,
            ..Default::default()
        };
        for _ in 0..2000 {
            let n = next(24) as usize;
            let r: Vec<(u8, u8, usize)> = (0..n)
                .map(|_| {
                    let kind = [20, 21, 22, 23][next(4) as usize];
                    let len = [0, 4, 19, 25, 26, 28, 31, 40, 53, 64, 69, 16401, 16408]
                        [next(13) as usize]
                        + next(3) as usize;
                    (next(2) as u8, kind, len)
                })
                .collect();
            for (version, cipher) in [
                (0x0303, 0xc02b),
                (0x0303, 0xc023),
                (0x0302, 0xc013),
                (0x0304, 0x1301),
                (0x0304, 0x1302),
            ] {
                let _ = infer(Some(version), Some(cipher), Some(&hello), &recs(&r));
            }
        }
    }
}

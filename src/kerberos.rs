//! Kerberos messages: the KDC exchanges on TCP and UDP port 88 (AS/TGS requests and replies,
//! KRB-ERROR) and the Kerberos tokens inside HTTP `Negotiate` headers (SPNEGO wrapping an
//! AP-REQ, AP-REP or KRB-ERROR). Decoding only: what the messages mean for a failure is said by
//! `findings::kerberos`. The Kerberos ASN.1 is decoded by rusticata's `kerberos-parser`; the
//! SPNEGO and GSS-API wrappers around it are walked with `asn1-rs` (its TLV reader).

use asn1_rs::{Any, Class, FromDer};
use kerberos_parser::krb5::{ApRep, ApReq, KdcRep, KdcReq, KrbError, PrincipalName};
use kerberos_parser::krb5_parser::{parse_as_rep, parse_as_req, parse_tgs_rep, parse_tgs_req};
use serde::Serialize;

/// The Kerberos port.
pub const PORT: u16 = 88;

/// A Kerberos message over TCP is at most this long here (MIT's default limit is 1 MiB for
/// the KDC; longer length prefixes are taken for garbage, not buffered).
pub const MAX_TCP_MESSAGE: usize = 1 << 20;

/// What one Kerberos message says that matters for a diagnosis.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KrbMessage {
    /// `AS-REQ`, `AS-REP`, `TGS-REQ`, `TGS-REP`, `AP-REQ`, `AP-REP` or `KRB-ERROR`.
    pub kind: &'static str,
    /// KRB-ERROR code (RFC 4120 section 7.5.9) and its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// Realm of the service (requests, errors) or of the ticket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Service principal: the one asked for (requests), named in the ticket (replies, AP-REQ)
    /// or in the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sname: Option<String>,
    /// Client principal, when the message names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    /// Key version of the service ticket (AS/TGS-REP, AP-REQ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvno: Option<u32>,
    /// KRB-ERROR: the clock of whoever sent it (Unix seconds), and the client's time it echoes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctime: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etext: Option<String>,
}

impl KrbMessage {
    fn new(kind: &'static str) -> Self {
        KrbMessage {
            kind,
            error_code: None,
            error_name: None,
            realm: None,
            sname: None,
            cname: None,
            kvno: None,
            stime: None,
            ctime: None,
            etext: None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.kind == "KRB-ERROR"
    }
}

/// A Kerberos message seen on port 88, with where and when.
#[derive(Debug, Clone, Serialize)]
pub struct KdcMessage {
    pub frame: u64,
    /// `udp` or `tcp`.
    pub transport: &'static str,
    /// Wireshark's `tcp.stream` of a KDC conversation over TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_stream: Option<u64>,
    /// The Kerberos client's address and port, and the KDC's.
    pub client: String,
    pub kdc: String,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    #[serde(flatten)]
    pub message: KrbMessage,
}

/// Why bytes on port 88 or a Negotiate token could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a Kerberos message (first byte {0:#04x})")]
    NotKerberos(u8),
    #[error("empty message")]
    Empty,
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// Decodes one Kerberos message as sent to or by a KDC (or inside a GSS token).
pub fn decode(bytes: &[u8]) -> Result<KrbMessage, DecodeError> {
    let first = *bytes.first().ok_or(DecodeError::Empty)?;
    // [APPLICATION n] constructed: 0x60 | n for n < 31.
    match first {
        0x6a => parse_as_req(bytes)
            .map(|(_, r)| request("AS-REQ", &r))
            .map_err(|_| DecodeError::Malformed("AS-REQ")),
        0x6c => parse_tgs_req(bytes)
            .map(|(_, r)| request("TGS-REQ", &r))
            .map_err(|_| DecodeError::Malformed("TGS-REQ")),
        0x6b => parse_as_rep(bytes)
            .map(|(_, r)| reply("AS-REP", &r))
            .map_err(|_| DecodeError::Malformed("AS-REP")),
        0x6d => parse_tgs_rep(bytes)
            .map(|(_, r)| reply("TGS-REP", &r))
            .map_err(|_| DecodeError::Malformed("TGS-REP")),
        0x6e => ApReq::from_der(bytes)
            .map(|(_, r)| {
                let mut m = KrbMessage::new("AP-REQ");
                m.realm = Some(r.ticket.realm.0.clone());
                m.sname = Some(principal(&r.ticket.sname));
                m.kvno = r.ticket.enc_part.kvno;
                m
            })
            .map_err(|_| DecodeError::Malformed("AP-REQ")),
        0x6f => ApRep::from_der(bytes)
            .map(|_| KrbMessage::new("AP-REP"))
            .map_err(|_| DecodeError::Malformed("AP-REP")),
        0x7e => KrbError::from_der(bytes)
            .map(|(_, e)| error(&e))
            .map_err(|_| DecodeError::Malformed("KRB-ERROR")),
        other => Err(DecodeError::NotKerberos(other)),
    }
}

fn principal(p: &PrincipalName) -> String {
    p.name_string.join("/")
}

fn request(kind: &'static str, r: &KdcReq<'_>) -> KrbMessage {
    let mut m = KrbMessage::new(kind);
    m.realm = Some(r.req_body.realm.0.clone());
    m.sname = r.req_body.sname.as_ref().map(principal);
    m.cname = r.req_body.cname.as_ref().map(principal);
    m
}

fn reply(kind: &'static str, r: &KdcRep<'_>) -> KrbMessage {
    let mut m = KrbMessage::new(kind);
    m.realm = Some(r.ticket.realm.0.clone());
    m.sname = Some(principal(&r.ticket.sname));
    m.cname = Some(principal(&r.cname));
    m.kvno = r.ticket.enc_part.kvno;
    m
}

fn error(e: &KrbError<'_>) -> KrbMessage {
    let mut m = KrbMessage::new("KRB-ERROR");
    m.error_code = Some(e.error_code.0);
    m.error_name = Some(error_name(e.error_code.0));
    m.realm = Some(e.realm.0.clone());
    m.sname = Some(principal(&e.sname));
    m.cname = e.cname.as_ref().map(principal);
    m.stime = unix_seconds(&e.stime.0);
    m.ctime = e.ctime.as_ref().and_then(|t| unix_seconds(&t.0));
    m.etext = e.etext.as_ref().map(|t| t.chars().take(256).collect());
    m
}

/// The RFC 4120 name of an error code (`KDC_ERR_S_PRINCIPAL_UNKNOWN`), from kerberos-parser.
pub fn error_name(code: i32) -> String {
    format!("{:?}", kerberos_parser::krb5::ErrorCode(code))
}

/// Kerberos times are UTC ("Z"); days from the civil date (Howard Hinnant's algorithm).
fn unix_seconds(t: &asn1_rs::ASN1DateTime) -> Option<i64> {
    if !(1..=12).contains(&t.month) || !(1..=31).contains(&t.day) {
        return None;
    }
    let y = t.year as i64 - if t.month <= 2 { 1 } else { 0 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = t.month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + t.day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + t.hour as i64 * 3600 + t.minute as i64 * 60 + t.second as i64)
}

/// The Kerberos V5 GSS-API mechanism (1.2.840.113554.1.2.2) and Microsoft's variant of it
/// (1.2.840.48018.1.2.2), DER content bytes.
const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// SPNEGO (1.3.6.1.5.5.2).
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// What an HTTP `Negotiate` token carries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct NegotiateToken {
    /// SPNEGO negResult of a negTokenResp: `accept-completed`, `accept-incomplete`, `reject`
    /// or `request-mic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neg_result: Option<&'static str>,
    /// The Kerberos message inside (AP-REQ, AP-REP or KRB-ERROR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos: Option<KrbMessage>,
}

/// Decodes a Negotiate token (the bytes after base64): a SPNEGO negTokenInit or negTokenResp,
/// or a bare Kerberos GSS token. `None` when it is not SPNEGO/Kerberos (NTLM, garbage).
pub fn decode_negotiate(token: &[u8]) -> Option<NegotiateToken> {
    match token.first()? {
        0x60 => {
            // GSS-API InitialContextToken: [APPLICATION 0] { OID, inner }.
            let (_, gss) = Any::from_der(token).ok()?;
            let (inner, oid) = Any::from_der(gss.data).ok()?;
            if oid.tag().0 != 6 {
                return None;
            }
            if oid.data == SPNEGO_OID {
                neg_token(inner)
            } else if oid.data == KRB5_OID || oid.data == MS_KRB5_OID {
                Some(NegotiateToken {
                    neg_result: None,
                    kerberos: krb5_inner(inner),
                })
            } else {
                None
            }
        }
        0xa0 | 0xa1 => neg_token(token),
        _ => None,
    }
}

/// A SPNEGO NegotiationToken: [0] negTokenInit (mechToken [2]) or [1] negTokenResp
/// (negResult [0], responseToken [2]).
fn neg_token(bytes: &[u8]) -> Option<NegotiateToken> {
    let (_, choice) = Any::from_der(bytes).ok()?;
    if choice.class() != Class::ContextSpecific {
        return None;
    }
    let (_, seq) = Any::from_der(choice.data).ok()?;
    let mut out = NegotiateToken::default();
    let mut rest = seq.data;
    while !rest.is_empty() {
        let (next, field) = Any::from_der(rest).ok()?;
        rest = next;
        let (_, value) = Any::from_der(field.data).ok()?;
        match (choice.tag().0, field.tag().0) {
            // negTokenResp negResult ENUMERATED.
            (1, 0) => {
                out.neg_result = match value.data {
                    [0] => Some("accept-completed"),
                    [1] => Some("accept-incomplete"),
                    [2] => Some("reject"),
                    [3] => Some("request-mic"),
                    _ => None,
                }
            }
            // mechToken / responseToken OCTET STRING holding a GSS token.
            (0, 2) | (1, 2) => out.kerberos = gss_krb5(value.data),
            _ => {}
        }
    }
    Some(out)
}

/// A Kerberos GSS token: [APPLICATION 0] { krb5 OID, TOK_ID (2 bytes), message }.
fn gss_krb5(bytes: &[u8]) -> Option<KrbMessage> {
    let (_, gss) = Any::from_der(bytes).ok()?;
    if gss.class() != Class::Application || gss.tag().0 != 0 {
        return None;
    }
    let (inner, oid) = Any::from_der(gss.data).ok()?;
    if oid.data != KRB5_OID && oid.data != MS_KRB5_OID {
        return None;
    }
    krb5_inner(inner)
}

/// After the mechanism OID: TOK_ID 01 00 (AP-REQ), 02 00 (AP-REP) or 03 00 (KRB-ERROR).
fn krb5_inner(bytes: &[u8]) -> Option<KrbMessage> {
    let msg = bytes.get(2..)?;
    decode(msg).ok()
}

/// A message framed on TCP, with the frame that completed it.
pub type Framed = (u64, Result<KrbMessage, DecodeError>);

/// Frames Kerberos messages on a TCP stream: each is preceded by a 4-byte big-endian length
/// (RFC 4120 section 7.2.2). A length over [`MAX_TCP_MESSAGE`] or with the reserved high bit
/// set ends the framing of that direction (counted as undecodable).
#[derive(Default)]
pub struct TcpFramer {
    buf: Vec<u8>,
    dead: bool,
}

impl TcpFramer {
    /// Takes bytes of one direction; returns the complete messages with the frame that
    /// completed them (as Wireshark reports them), and whether the framing just broke.
    pub fn push(&mut self, bytes: &[u8], frame: u64) -> (Vec<Framed>, bool) {
        let mut out = Vec::new();
        if self.dead {
            return (out, false);
        }
        self.buf.extend_from_slice(bytes);
        loop {
            if self.buf.len() < 4 {
                return (out, false);
            }
            let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            if len & 0x8000_0000 != 0 || len as usize > MAX_TCP_MESSAGE {
                self.dead = true;
                self.buf = Vec::new();
                return (out, true);
            }
            let total = 4 + len as usize;
            if self.buf.len() < total {
                return (out, false);
            }
            out.push((frame, decode(&self.buf[4..total])));
            self.buf.drain(..total);
        }
    }

    /// A hole in the stream: the framing cannot resume.
    pub fn gap(&mut self) {
        self.dead = true;
        self.buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[0x30, 0x00]), Err(DecodeError::NotKerberos(0x30)));
        assert_eq!(
            decode(&[0x7e, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30]),
            Err(DecodeError::Malformed("KRB-ERROR"))
        );
        for first in [0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x7e] {
            for len in 0..40u8 {
                let mut b = vec![first, len];
                b.extend(std::iter::repeat_n(0xa0, len as usize));
                assert!(decode(&b).is_err());
            }
        }
        assert_eq!(decode_negotiate(b"NTLMSSP\0"), None);
        assert_eq!(decode_negotiate(&[0x60, 0x82, 0xff, 0xff]), None);
        assert_eq!(decode_negotiate(&[0xa1, 0x03, 0x30, 0x01, 0xa0]), None);
    }

    #[test]
    fn hostile_tcp_length_stops_framing() {
        let mut f = TcpFramer::default();
        let (msgs, bad) = f.push(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3], 1);
        assert!(msgs.is_empty() && bad);
        let (msgs, bad) = f.push(&[0, 0, 0, 1, 0x30], 2);
        assert!(msgs.is_empty() && !bad);
        let mut f = TcpFramer::default();
        let (msgs, bad) = f.push(&[0, 0, 0, 2, 0x30, 0x00, 0, 0], 3);
        assert_eq!(msgs, vec![(3, Err(DecodeError::NotKerberos(0x30)))]);
        assert!(!bad);
    }

    #[test]
    fn civil_time() {
        let t =
            asn1_rs::ASN1DateTime::new(2026, 11, 30, 23, 42, 57, None, asn1_rs::ASN1TimeZone::Z);
        assert_eq!(unix_seconds(&t), Some(1796082177));
    }
}

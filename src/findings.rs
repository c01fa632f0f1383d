//! Findings: the explanations users run tlsdiag for. Each one has a stable code, a severity, the
//! frames of its evidence and a Wireshark display filter that shows that evidence.
//!
//! The catalog below is the single source of the codes' documentation: `tlsdiag explain CODE`
//! prints it and `docs/findings.md` is generated from it (a test keeps them equal).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::report::ConnectionReport;
use crate::tls::handshake::{CertificateMsgInfo, CertificateRequestInfo};
use crate::tls::{Detail, Direction, HandshakeMessage};
use crate::x509::{self, CertInfo, Verification};

/// Schannel truncates the CA list it sends at this size (KB 933430, event 36885).
pub const SCHANNEL_CA_LIST_LIMIT: usize = 16384;
/// Default of `--ca-list-warn-bytes`.
pub const DEFAULT_CA_LIST_WARN: usize = 12288;
/// Schannel's MessageLimitServer (16 KiB) and MessageLimitClient / MessageLimitServerClientAuth
/// (32 KiB): the largest fragmented handshake message it accepts.
pub const SCHANNEL_MESSAGE_LIMIT_SERVER: usize = 16384;
pub const SCHANNEL_MESSAGE_LIMIT_CLIENT: usize = 32768;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One explained problem (or notable fact) on a connection.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub stream: u64,
    pub frames: Vec<u64>,
    /// Wireshark display filter showing the evidence.
    pub filter: String,
    pub refs: Vec<&'static str>,
}

/// Documentation of a finding code.
pub struct CodeDoc {
    pub code: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub cause: &'static str,
    pub evidence: &'static str,
    pub fix: &'static str,
    pub refs: &'static [&'static str],
}

const RFC5246_CR: &str = "RFC 5246 section 7.4.4 (CertificateRequest)";
const RFC8446_CR: &str = "RFC 8446 section 4.3.2 and 4.2.4 (certificate_authorities)";
const KB933430: &str = "Microsoft KB 933430 (client certificate selection fails when the trusted CA list exceeds 16 KB)";
const EVENT36885: &str =
    "Schannel event 36885 (the trusted issuer list is too long and was truncated)";
const SCHANNEL_REG: &str = "Microsoft Learn: TLS registry settings, Messaging (MessageLimitClient, MessageLimitServer, MessageLimitServerClientAuth)";
const KB254047: &str =
    "Microsoft KB 254047 (intermediate whose Subject equals its Issuer is taken for a root)";
const KB954755: &str = "Microsoft KB 954755 (the server must send its intermediate certificates)";
const RFC5280_VALIDITY: &str = "RFC 5280 section 4.1.2.5 (validity)";
const RFC5280_EKU: &str = "RFC 5280 section 4.2.1.12 (extended key usage)";
const RFC5246_CERT: &str =
    "RFC 5246 section 7.4.6 (client Certificate; empty when no suitable certificate)";
const RFC8446_ALERTS: &str = "RFC 8446 section 6.2 (alerts, certificate_required 116)";
const RFC5746: &str = "RFC 5746 (TLS renegotiation)";
const IIS_403: &str = "Microsoft: HTTP status codes in IIS (403.7 client certificate required, 403.13 revoked, 403.16 untrusted, 403.17 expired)";

pub static CATALOG: &[CodeDoc] = &[
    CodeDoc {
        code: "ca-list-over-limit",
        severity: Severity::Error,
        title: "CertificateRequest CA list at or above Schannel's 16 KB limit",
        cause: "The server sends the names of the CAs it trusts for client certificates in its CertificateRequest. Windows Schannel truncates this list at 16,384 bytes (logging event 36885), and clients choose a certificate by matching its issuer against the list: CAs cut off the end of the list, or a list a client refuses as too long, leave the client with no matching certificate, so it sends none (IIS answers 403.7) or the wrong one (403.16).",
        evidence: "The CertificateRequest's CA list byte size as on the wire (tshark's tls.handshake.dnames_len), the number of names, the ten largest names, the names that lie past byte 16,384 (those a Schannel server would not send), the number of TLS records the message spanned, and whether the list looks cut short.",
        fix: "Trust fewer CAs for client authentication on the server: on Windows move unneeded roots out of the Trusted Root store, or use a Client Authentication Issuers store (ClientAuthTrustMode / SendTrustedIssuerList=0 makes Schannel send no list at all); on other servers point the client-CA setting (nginx ssl_client_certificate, Apache SSLCADNRequestFile) at only the issuing CAs.",
        refs: &[KB933430, EVENT36885, RFC5246_CR],
    },
    CodeDoc {
        code: "ca-list-large",
        severity: Severity::Warning,
        title: "CertificateRequest CA list is large",
        cause: "The CA list is above the warning threshold (default 12,288 bytes, --ca-list-warn-bytes) but below Schannel's 16,384-byte limit. It works today; a few more trusted roots push it over the limit, where Schannel truncates it. A list that ends within one name of the limit was probably cut by the sender.",
        evidence: "CA list byte size, name count, the ten largest names, records spanned.",
        fix: "Trim the set of CAs trusted for client authentication before it reaches 16 KB (see ca-list-over-limit).",
        refs: &[KB933430, EVENT36885, RFC5246_CR],
    },
    CodeDoc {
        code: "ca-list-empty",
        severity: Severity::Info,
        title: "CertificateRequest names no CA",
        cause: "The server asked for a client certificate without naming acceptable CAs. Clients may then offer any certificate (RFC 5246 7.4.4), and some pick one the server does not trust, or ask the user. Windows Server 2012 and later send no list by default (SendTrustedIssuerList is 0).",
        evidence: "The CertificateRequest and its empty certificate_authorities list.",
        fix: "Usually fine. If clients pick the wrong certificate, configure the server to send the issuing CAs, or select the certificate on the client.",
        refs: &[RFC5246_CR, RFC8446_CR],
    },
    CodeDoc {
        code: "handshake-message-large",
        severity: Severity::Warning,
        title: "Handshake message larger than Windows accepts by default",
        cause: "Schannel reassembles fragmented handshake messages only up to MessageLimitClient (32,768 bytes, for messages a Windows client receives), MessageLimitServer (16,384 bytes, messages a Windows server receives without client authentication) and MessageLimitServerClientAuth (32,768 bytes, with client authentication). A larger Certificate or CertificateRequest makes a Windows peer abort the handshake.",
        evidence: "The message, its size and the records it spanned.",
        fix: "Shorten the certificate chain or CA list, or raise the limit in HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Messaging on the Windows peer.",
        refs: &[SCHANNEL_REG],
    },
    CodeDoc {
        code: "chain-self-issued-intermediate",
        severity: Severity::Error,
        title: "Server chain holds an intermediate whose Subject equals its Issuer but is not self-signed",
        cause: "A certificate after the leaf has the same name as Subject and Issuer, yet its own key does not verify its signature: it is an intermediate that carries its issuer's name. Schannel takes any certificate whose Subject equals its Issuer for a self-signed root, does not send it, and clients then lack the intermediate (and the key that signed the leaf).",
        evidence: "The certificate's position in the chain, its Subject and Issuer, and which certificate of the chain does verify it.",
        fix: "Reissue the intermediate CA with a distinct subject name (or install the correct intermediate) so no CA certificate has Subject equal to Issuer unless it is a real root.",
        refs: &[KB254047, KB954755],
    },
    CodeDoc {
        code: "chain-root-included",
        severity: Severity::Info,
        title: "Server chain includes a self-signed root",
        cause: "The server sends a self-signed root certificate. Clients never use it (they need their own copy in their trust store); it only costs bytes in the handshake.",
        evidence: "Position and subject of the self-signed certificate.",
        fix: "Leave the root out of the configured chain.",
        refs: &[KB954755],
    },
    CodeDoc {
        code: "chain-out-of-order",
        severity: Severity::Warning,
        title: "Server chain is out of order",
        cause: "Each certificate must be certified by the one that follows it (RFC 5246 7.4.2). Here a certificate is not issued by the next one. Many clients reorder, but some (older Windows, Java, embedded stacks) fail to build the chain.",
        evidence: "The position where the issuer of one certificate is not the next certificate.",
        fix: "Configure the chain in order: leaf first, then each issuer.",
        refs: &["RFC 5246 section 7.4.2 (certificate_list order)"],
    },
    CodeDoc {
        code: "chain-leaf-self-signed",
        severity: Severity::Warning,
        title: "Server certificate is self-signed",
        cause: "The server's own certificate is self-signed, so clients trust it only if it is installed in their trust store.",
        evidence: "The leaf certificate.",
        fix: "Use a certificate issued by a CA the clients trust, or distribute this one to the clients.",
        refs: &[RFC5280_VALIDITY],
    },
    CodeDoc {
        code: "cert-expired",
        severity: Severity::Error,
        title: "Server certificate expired at capture time",
        cause: "A certificate of the server chain was past its notAfter date when the Certificate message was captured.",
        evidence: "The certificate, its validity and the capture time of the message.",
        fix: "Renew the certificate and install the new one (and its chain).",
        refs: &[RFC5280_VALIDITY],
    },
    CodeDoc {
        code: "cert-not-yet-valid",
        severity: Severity::Error,
        title: "Server certificate not yet valid at capture time",
        cause: "A certificate of the server chain had a notBefore date after the capture time: a wrong clock on the issuing CA, the server or the capture host.",
        evidence: "The certificate, its validity and the capture time.",
        fix: "Check clocks; wait or reissue with a correct validity start.",
        refs: &[RFC5280_VALIDITY],
    },
    CodeDoc {
        code: "cert-weak-key",
        severity: Severity::Warning,
        title: "Certificate with an RSA key under 2048 bits",
        cause: "RSA keys under 2048 bits are refused by current clients and by policy on Windows (and their signatures cannot be checked here).",
        evidence: "The certificate and its key size.",
        fix: "Reissue with RSA 2048 or larger, or ECDSA.",
        refs: &["NIST SP 800-131A"],
    },
    CodeDoc {
        code: "cert-no-server-auth-eku",
        severity: Severity::Warning,
        title: "Server certificate lacks the serverAuth extended key usage",
        cause: "The leaf has an Extended Key Usage extension without serverAuth (1.3.6.1.5.5.7.3.1), so clients reject it for a TLS server.",
        evidence: "The leaf and its EKU list.",
        fix: "Reissue from a template that includes Server Authentication.",
        refs: &[RFC5280_EKU],
    },
    CodeDoc {
        code: "client-cert-empty",
        severity: Severity::Error,
        title: "Client answered the CertificateRequest without a certificate",
        cause: "The server asked for a client certificate and the client sent a Certificate message holding none. Clients do this when no certificate in their store is issued by a CA named in the CertificateRequest (a truncated or wrong CA list is a common reason), when the certificate's private key is missing or not usable, or when the application was not given a certificate. IIS answers such a request with 403.7.",
        evidence: "The CertificateRequest (CA names, list size) and the empty client Certificate.",
        fix: "Check on the client that a certificate issued by one of the listed CAs is installed with its private key and is selected by the application; if the CA list was cut (see ca-list-*), shrink it on the server.",
        refs: &[RFC5246_CERT, IIS_403],
    },
    CodeDoc {
        code: "client-cert-missing",
        severity: Severity::Error,
        title: "Server asked for a client certificate and no Certificate message followed",
        cause: "After the CertificateRequest the client sent no Certificate message: an SSLv3 client says no_certificate with an alert, or the handshake stopped (alert, reset, close or end of capture) before the client answered.",
        evidence: "The CertificateRequest and what ended the handshake.",
        fix: "Look at what ended the handshake; with SSLv3 the client had no suitable certificate.",
        refs: &[RFC5246_CERT],
    },
    CodeDoc {
        code: "client-cert-issuer-not-requested",
        severity: Severity::Error,
        title: "Client certificate is not from a CA the server listed",
        cause: "No certificate of the chain the client sent was issued by (or is) one of the CAs in the CertificateRequest, comparing the names byte for byte and then in canonical form (case, spaces and string types ignored). The server will not be able to build a trusted chain: IIS answers 403.16, other servers alert unknown_ca (48).",
        evidence: "The client chain's issuers and the requested CA names.",
        fix: "Issue the client certificate from a CA the server trusts, or add its issuing CA to the server's client-authentication trust list.",
        refs: &[RFC5246_CR, IIS_403],
    },
    CodeDoc {
        code: "client-cert-expired",
        severity: Severity::Error,
        title: "Client certificate expired at capture time",
        cause: "The client's certificate was past its notAfter date when it was sent. IIS answers 403.17; other servers alert certificate_expired (45).",
        evidence: "The client certificate, its validity and the capture time.",
        fix: "Renew the client certificate.",
        refs: &[RFC5280_VALIDITY, IIS_403],
    },
    CodeDoc {
        code: "client-cert-not-yet-valid",
        severity: Severity::Error,
        title: "Client certificate not yet valid at capture time",
        cause: "The client's certificate has a notBefore date after the capture time (clock skew). IIS answers 403.17.",
        evidence: "The client certificate, its validity and the capture time.",
        fix: "Check the clocks of client, server and issuing CA.",
        refs: &[RFC5280_VALIDITY, IIS_403],
    },
    CodeDoc {
        code: "client-cert-no-client-auth-eku",
        severity: Severity::Error,
        title: "Client certificate lacks the clientAuth extended key usage",
        cause: "The client certificate has an Extended Key Usage extension without clientAuth (1.3.6.1.5.5.7.3.2); servers refuse it for client authentication (OpenSSL: unsupported_certificate 43; IIS 403.16).",
        evidence: "The client certificate and its EKU list.",
        fix: "Reissue the client certificate from a template with Client Authentication.",
        refs: &[RFC5280_EKU],
    },
    CodeDoc {
        code: "client-cert-revocation-info",
        severity: Severity::Info,
        title: "Where the server must check the client certificate's revocation",
        cause: "To accept a client certificate the server downloads the CRLs or asks the OCSP responders the chain names. When it cannot reach them, IIS answers 403.13 (revoked) or the handshake fails.",
        evidence: "CRL distribution point and OCSP/CA-issuer URLs of the client chain, and whether the capture holds traffic to their hosts.",
        fix: "Make sure the server can reach these URLs (proxy, firewall, DNS), or publish reachable CRLs.",
        refs: &["RFC 5280 section 4.2.1.13 (CRL distribution points)", IIS_403],
    },
    CodeDoc {
        code: "handshake-failed",
        severity: Severity::Error,
        title: "The handshake failed",
        cause: "A fatal alert or a TCP reset ended the connection before the handshake completed. The alert names the reason as seen by its sender: 40 handshake_failure, 42 bad_certificate, 45 certificate_expired, 46 certificate_unknown, 48 unknown_ca, 116 certificate_required...",
        evidence: "The alert (level, description, sender) or the reset, and the finding that explains it when there is one.",
        fix: "Follow the linked finding; otherwise the alert's sender logs the detailed reason.",
        refs: &[RFC8446_ALERTS, "RFC 5246 section 7.2 (alerts)"],
    },
    CodeDoc {
        code: "renegotiation-encrypted",
        severity: Severity::Info,
        title: "Encrypted handshake after the handshake finished (renegotiation)",
        cause: "Handshake records were sent after both Finished messages. This is how IIS (http.sys) asks for a client certificate for a URL: a TLS 1.2 renegotiation inside the encrypted session, whose CertificateRequest and client Certificate are encrypted. In TLS 1.3 the equivalent is post-handshake authentication.",
        evidence: "Frames and sizes of the encrypted handshake records.",
        fix: "Decrypt with a key log to see the CertificateRequest and the client's answer; or make the server ask in the first handshake (netsh http sslcert clientcertnegotiation=enable).",
        refs: &[RFC5746],
    },
    CodeDoc {
        code: "http-403-client-cert",
        severity: Severity::Error,
        title: "HTTP 403 on a connection whose client certificate failed",
        cause: "The server refused a request with 403 on a connection where the client sent no certificate, an empty one, or one that another finding flags (expired, wrong issuer, no clientAuth usage). This is the IIS 403.7 / 403.16 / 403.17 pattern.",
        evidence: "The request and the 403 response (frames), the handshake finding that explains it, and the IIS sub-status: from the error page when it says it, otherwise inferred (IIS shows sub-statuses to local clients only).",
        fix: "Fix the client-certificate finding named in the explanation.",
        refs: &[IIS_403, RFC5246_CERT],
    },
    CodeDoc {
        code: "http-403",
        severity: Severity::Warning,
        title: "HTTP 403 Forbidden",
        cause: "The server refused a request. Without a client-certificate problem on the connection the reason is on the server: permissions, IP restrictions, a required certificate mapping (403.12), or another IIS sub-status.",
        evidence: "Request and response frames, the IIS sub-status when the error page gives it, and a handshake problem of the same client on another connection within a minute.",
        fix: "Look up the sub-status; on IIS read the sc-substatus field of the W3C log.",
        refs: &[IIS_403],
    },
    CodeDoc {
        code: "http-401",
        severity: Severity::Warning,
        title: "HTTP 401 Unauthorized",
        cause: "The server asked for authentication and the client never got through for that resource on this connection. (A 401 that the client answers with credentials which then get past authentication is the normal challenge and is not reported.)",
        evidence: "Request and response frames, the WWW-Authenticate schemes offered, the Authorization scheme sent, the IIS sub-status when shown.",
        fix: "Check the authentication methods enabled on the site and the client's credentials.",
        refs: &["RFC 9110 section 11.6.1 (WWW-Authenticate)", "Microsoft: HTTP status codes in IIS (401.1 logon failed, 401.2 server configuration, 401.3 ACL)"],
    },
    CodeDoc {
        code: "http-401-after-first-request",
        severity: Severity::Error,
        title: "401 after a first successful request on the same connection",
        cause: "A request succeeded and later requests on the same connection were refused with 401. Over a proxy that shares server connections, or when client-certificate mapping only applies to the first request (KB Q190009), authentication is lost after the first request.",
        evidence: "The requests of the connection in order with their status codes.",
        fix: "Update the server (KB Q190009 was fixed in NT4 SP4), or disable connection sharing on the proxy, or authenticate every request.",
        refs: &["Microsoft KB 190009 (client certificate mapping lost after the first request over a proxy)"],
    },
    CodeDoc {
        code: "http-auth-loop",
        severity: Severity::Warning,
        title: "Windows authentication refused again and again",
        cause: "The same resource was answered 401 three or more times in a row while the client sent Negotiate or NTLM tokens: Kerberos failing with no fallback (missing or duplicate SPN, clock skew), or NTLM credentials refused.",
        evidence: "The requests and responses of the loop, and whether the tokens were Kerberos (SPNEGO with the Kerberos OID, 'YII...') or NTLM ('TlRMTVNT...').",
        fix: "For Kerberos check the SPN of the site's host name (setspn -Q HTTP/host) and the application pool identity; for NTLM check the account and the LmCompatibilityLevel policy.",
        refs: &["RFC 4559 (SPNEGO-based HTTP authentication)", "MS-NLMP (NTLM)"],
    },
    CodeDoc {
        code: "negotiate-fell-back-to-ntlm",
        severity: Severity::Info,
        title: "Negotiate authentication fell back to NTLM",
        cause: "The client sent Authorization: Negotiate with an NTLM message inside: it could not get a Kerberos ticket for the site, usually because no SPN (or two) exists for the host name.",
        evidence: "The request with the Negotiate header whose token is NTLMSSP.",
        fix: "Register the SPN HTTP/host for the account running the site (once), or accept NTLM.",
        refs: &["RFC 4559 (SPNEGO-based HTTP authentication)"],
    },
    CodeDoc {
        code: "http-basic-cleartext",
        severity: Severity::Warning,
        title: "Basic credentials sent over plain HTTP",
        cause: "A request carries an Authorization: Basic header without TLS: the password travels in clear (base64 is not encryption).",
        evidence: "The request and the user name (the password is never shown).",
        fix: "Serve the site over HTTPS only, or use another authentication scheme.",
        refs: &["RFC 7617 section 4 (Basic: security considerations)"],
    },
    CodeDoc {
        code: "http-not-visible",
        severity: Severity::Info,
        title: "The HTTP inside a TLS connection is encrypted",
        cause: "The connection carries HTTP (ALPN or port) but without keys its requests and status codes cannot be read.",
        evidence: "Application data records and bytes per direction; whether a renegotiation happened after the first request.",
        fix: "Capture with a key log (SSLKEYLOGFILE) or a pcapng with Decryption Secrets Blocks and run again with --keylog.",
        refs: &["NSS key log format (SSLKEYLOGFILE)"],
    },
    CodeDoc {
        code: "tls13-client-auth-hidden",
        severity: Severity::Info,
        title: "TLS 1.3: client authentication is encrypted",
        cause: "TLS 1.3 encrypts everything after ServerHello, including the CertificateRequest and the client's Certificate. Whether a client certificate was asked for or sent cannot be seen without keys.",
        evidence: "The negotiated version; whether the client offered post-handshake authentication.",
        fix: "Capture with a key log (SSLKEYLOGFILE) and decrypt, or test with TLS 1.2.",
        refs: &[RFC8446_CR],
    },
];

/// Looks a code up in the catalog.
pub fn doc(code: &str) -> Option<&'static CodeDoc> {
    CATALOG.iter().find(|d| d.code == code)
}

/// Renders one code's documentation as text (`tlsdiag explain`).
pub fn explain_text(d: &CodeDoc) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} ({})", d.code, d.severity.word());
    let _ = writeln!(o, "{}\n", d.title);
    for (head, body) in [("Cause", d.cause), ("Evidence", d.evidence), ("Fix", d.fix)] {
        let _ = writeln!(o, "{head}:");
        let _ = writeln!(o, "{}\n", wrap(body, 92, "  "));
    }
    let _ = writeln!(o, "References:");
    for r in d.refs {
        let _ = writeln!(o, "  - {r}");
    }
    o
}

/// Renders the whole catalog as `docs/findings.md`.
pub fn catalog_markdown() -> String {
    let mut o = String::from(
        "# Finding codes\n\nGenerated by `tlsdiag explain --all --markdown`; do not edit by hand. Codes are part of the\ninterface: they keep their meaning across versions. Every finding carries `code`, `severity`,\n`title`, `explanation`, `stream`, `frames`, a Wireshark display `filter` and `refs`.\n\n| code | severity | title |\n|---|---|---|\n",
    );
    for d in CATALOG {
        let _ = writeln!(
            o,
            "| [`{}`](#{}) | {} | {} |",
            d.code,
            d.code,
            d.severity.word(),
            d.title
        );
    }
    for d in CATALOG {
        let _ = write!(
            o,
            "\n## {}\n\n**{}**: {}\n\n**Cause.** {}\n\n**Evidence.** {}\n\n**Fix.** {}\n\n**References.**\n",
            d.code,
            d.severity.word(),
            d.title,
            d.cause,
            d.evidence,
            d.fix
        );
        for r in d.refs {
            let _ = writeln!(o, "- {r}");
        }
    }
    o
}

/// Wraps text at `width` columns, every line starting with `indent`.
pub(crate) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// Thresholds, with the defaults documented in `tlsdiag --help`.
#[derive(Debug, Clone)]
pub struct Thresholds {
    pub ca_list_warn_bytes: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            ca_list_warn_bytes: DEFAULT_CA_LIST_WARN,
        }
    }
}

/// What the client-authentication part of a connection amounts to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientAuthSummary {
    /// A CertificateRequest was seen (in clear).
    pub requested: bool,
    /// "sent", "empty", "missing", "not-visible" (encrypted or not captured).
    pub client_certificate: &'static str,
    /// How the client chain matched the requested CA names: "exact", "canonical", "none",
    /// or "any" when the list was empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_match: Option<&'static str>,
}

/// Entries a findings cache holds before it starts over (hostile captures can carry any number
/// of distinct names).
const MAX_CACHED: usize = 1 << 16;

/// Caches shared by all connections of a file.
#[derive(Default)]
pub struct FindingsContext {
    pub thresholds: Thresholds,
    verified: FxHashMap<(u64, u64), Verification>,
    canonical: FxHashMap<Vec<u8>, Option<String>>,
    /// Hosts and IPs the capture has TCP connections to, for revocation reachability.
    pub contacted: FxHashSet<String>,
}

impl FindingsContext {
    pub fn new(thresholds: Thresholds) -> Self {
        FindingsContext {
            thresholds,
            ..Default::default()
        }
    }

    /// Keyed by hashes of the two SHA-256 fingerprints (no copy of them per lookup).
    fn verify(&mut self, child: &CertInfo, issuer: &CertInfo) -> Verification {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let h = BuildHasherDefault::<rustc_hash::FxHasher>::default();
        let key = (h.hash_one(&child.sha256), h.hash_one(&issuer.sha256));
        if let Some(v) = self.verified.get(&key) {
            return v.clone();
        }
        let v = x509::verify_signature(&child.der, &issuer.der);
        if self.verified.len() >= MAX_CACHED {
            self.verified.clear();
        }
        self.verified.insert(key, v.clone());
        v
    }

    /// Is the canonical form of `der` in `set`? (no copy of the cached form)
    fn canonical_in(&mut self, der: &[u8], set: &FxHashSet<String>) -> bool {
        if !self.canonical.contains_key(der) {
            let c = x509::dn_canonical(der);
            if self.canonical.len() >= MAX_CACHED {
                self.canonical.clear();
            }
            self.canonical.insert(der.to_vec(), c);
        }
        self.canonical
            .get(der)
            .and_then(|c| c.as_ref())
            .is_some_and(|c| set.contains(c))
    }

    fn canonical(&mut self, der: &[u8]) -> Option<String> {
        if let Some(c) = self.canonical.get(der) {
            return c.clone();
        }
        let c = x509::dn_canonical(der);
        if self.canonical.len() >= MAX_CACHED {
            self.canonical.clear();
        }
        self.canonical.insert(der.to_vec(), c.clone());
        c
    }

    /// Are two DER names the same, exactly or canonically?
    fn same_name(&mut self, a: &[u8], b: &[u8]) -> Option<&'static str> {
        if a == b {
            return Some("exact");
        }
        match (self.canonical(a), self.canonical(b)) {
            (Some(x), Some(y)) if x == y => Some("canonical"),
            _ => None,
        }
    }
}

fn filter_for(stream: u64, rest: &str) -> String {
    format!("tcp.stream eq {stream} && {rest}")
}

fn fmt_bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn date(secs: i64) -> String {
    crate::report::utc(secs)
}

/// Builds the finding for `code` from the catalog's severity and references.
fn finding(
    code: &'static str,
    c: &ConnectionReport,
    title: String,
    explanation: String,
    frames: Vec<u64>,
    filter: String,
) -> Finding {
    let d = doc(code).expect("finding code is in the catalog");
    let mut frames = frames;
    frames.sort_unstable();
    frames.dedup();
    Finding {
        code,
        severity: d.severity,
        title,
        explanation,
        stream: c.stream,
        frames,
        filter,
        refs: d.refs.to_vec(),
    }
}

/// Evaluates every rule on one connection.
pub fn evaluate(
    c: &ConnectionReport,
    ctx: &mut FindingsContext,
) -> (Vec<Finding>, ClientAuthSummary, Vec<(usize, String)>) {
    let mut out = Vec::new();
    let crs: Vec<(&HandshakeMessage, &CertificateRequestInfo)> = c
        .messages
        .iter()
        .filter_map(|m| match &m.detail {
            Some(Detail::CertificateRequest(cr)) => Some((m, &**cr)),
            _ => None,
        })
        .collect();
    let mut ca_list_flagged = false;
    for (m, cr) in &crs {
        ca_list_flagged |= ca_list(c, m, cr, ctx, &mut out);
    }
    for m in &c.messages {
        message_size(c, m, !crs.is_empty(), &mut out);
    }
    // Server chains.
    for m in c
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Server)
    {
        if let Some(Detail::Certificate(cert)) = &m.detail {
            if !cert.certificates.is_empty() {
                server_chain(c, m, cert, ctx, &mut out);
            }
        }
    }
    let summary = client_auth(c, &crs, ca_list_flagged, ctx, &mut out);
    outcome(c, &mut out);
    let inferred = http_rules(c, &summary, &mut out);
    sort_findings(&mut out);
    (out, summary, inferred)
}

fn sort_findings(out: &mut [Finding]) {
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.frames.first().cmp(&b.frames.first()))
    });
}

/// Evaluates a connection and stores the results in it: findings, the client-authentication
/// summary, and IIS sub-statuses inferred from the handshake.
pub fn evaluate_into(c: &mut ConnectionReport, ctx: &mut FindingsContext) {
    let (findings, summary, inferred) = evaluate(c, ctx);
    c.findings = findings;
    c.client_auth = summary;
    for (i, sub) in inferred {
        if let Some(x) = c.http.get_mut(i) {
            x.substatus = Some(sub);
            x.substatus_source = Some("inferred");
        }
    }
}

/// The IIS sub-status a client-certificate problem leads to, with the finding that shows it.
fn likely_substatus(
    summary: &ClientAuthSummary,
    out: &[Finding],
) -> Option<(&'static str, &'static str)> {
    let has = |code: &str| out.iter().any(|f| f.code == code);
    if summary.client_certificate == "empty" {
        return Some(("403.7", "client-cert-empty"));
    }
    if summary.client_certificate == "missing" {
        return Some(("403.7", "client-cert-missing"));
    }
    for (code, sub) in [
        ("client-cert-expired", "403.17"),
        ("client-cert-not-yet-valid", "403.17"),
        ("client-cert-issuer-not-requested", "403.16"),
        ("client-cert-no-client-auth-eku", "403.16"),
    ] {
        if has(code) {
            return Some((sub, code));
        }
    }
    None
}

/// Rules on the HTTP exchanges of one connection. Returns sub-statuses inferred for exchanges
/// (index, "403.7") whose body did not say.
fn http_rules(
    c: &ConnectionReport,
    summary: &ClientAuthSummary,
    out: &mut Vec<Finding>,
) -> Vec<(usize, String)> {
    let mut inferred = Vec::new();
    let filter_status = |status: u16| {
        if c.tls {
            format!(
                "tcp.stream eq {} && http.response.code == {status}",
                c.stream
            )
        } else {
            filter_for(c.stream, &format!("http.response.code == {status}"))
        }
    };
    let describe = |x: &crate::http::Exchange| -> String {
        let request = match (&x.method, &x.target) {
            (Some(m), Some(t)) => format!("{m} {t}"),
            _ => "a request not in the capture".into(),
        };
        let frames = match (x.request_frame, x.response_frame) {
            (Some(a), Some(b)) => format!("frames {a} and {b}"),
            (None, Some(b)) => format!("frame {b}"),
            (Some(a), None) => format!("frame {a}"),
            _ => String::new(),
        };
        format!("{request} ({frames})")
    };
    let cert_problem = likely_substatus(summary, out);
    // 401 after a success on the same connection (certificate mapping lost, KB Q190009).
    let first_ok = c
        .http
        .iter()
        .position(|x| x.status.is_some_and(|s| (200..400).contains(&s)));
    let mut after_first: Vec<usize> = Vec::new();
    if let Some(ok) = first_ok {
        after_first = c
            .http
            .iter()
            .enumerate()
            .skip(ok + 1)
            .filter(|(_, x)| x.status == Some(401))
            .map(|(i, _)| i)
            .collect();
    }
    // Runs of 401 answers for the same resource with Negotiate/NTLM.
    let mut loop_members: Vec<usize> = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    let flush_run = |run: &mut Vec<usize>, loop_members: &mut Vec<usize>| {
        if run.len() >= 3 {
            loop_members.extend(run.iter().copied());
        }
        run.clear();
    };
    for (i, x) in c.http.iter().enumerate() {
        let windows_auth = x
            .authorization
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("negotiate") || a.eq_ignore_ascii_case("ntlm"))
            || x.www_authenticate
                .iter()
                .any(|w| w.eq_ignore_ascii_case("negotiate") || w.eq_ignore_ascii_case("ntlm"));
        let same_target = run.last().is_none_or(|&j| c.http[j].target == x.target);
        if x.status == Some(401) && windows_auth && same_target {
            run.push(i);
        } else {
            flush_run(&mut run, &mut loop_members);
            if x.status == Some(401) && windows_auth {
                run.push(i);
            }
        }
    }
    flush_run(&mut run, &mut loop_members);
    if !loop_members.is_empty() {
        let tokens: Vec<&str> = loop_members
            .iter()
            .filter_map(|&i| c.http[i].auth_token)
            .collect();
        let kind = if tokens.contains(&"kerberos") {
            "Kerberos tickets (SPNEGO with the Kerberos OID): the server cannot accept them (wrong or duplicate SPN, clock skew, or the account behind the site cannot decrypt them)"
        } else if tokens.contains(&"ntlm") {
            "NTLM messages: the server refuses the credentials (wrong password, account locked, or NTLM disabled by policy)"
        } else {
            "no token the server could use"
        };
        let list: Vec<String> = loop_members
            .iter()
            .map(|&i| format!("    {}", describe(&c.http[i])))
            .collect();
        out.push(finding(
            "http-auth-loop",
            c,
            format!("{} requests in a row answered 401 with Windows authentication", loop_members.len()),
            format!(
                "The same resource was answered 401 {} times in a row while the client sent {kind}.\n{}",
                loop_members.len(),
                list.join("\n")
            ),
            loop_members.iter().filter_map(|&i| c.http[i].response_frame).collect(),
            filter_status(401),
        ));
    }
    if !after_first.is_empty() {
        let ok = first_ok.unwrap_or(0);
        let mut list = vec![format!(
            "    {} -> {}",
            describe(&c.http[ok]),
            c.http[ok].status.unwrap_or(0)
        )];
        list.extend(
            after_first
                .iter()
                .map(|&i| format!("    {} -> 401", describe(&c.http[i]))),
        );
        out.push(finding(
            "http-401-after-first-request",
            c,
            "A request succeeded, then later requests on the same connection got 401".into(),
            format!(
                "On this connection {} succeeded, and {} later request(s) were refused with 401. When a proxy shares one server connection between clients, or client-certificate mapping applies to the first request only (KB Q190009), authentication is lost after the first request.\n{}",
                describe(&c.http[ok]),
                after_first.len(),
                list.join("\n")
            ),
            std::iter::once(c.http[ok].response_frame)
                .chain(after_first.iter().map(|&i| c.http[i].response_frame))
                .flatten()
                .collect(),
            filter_status(401),
        ));
    }
    for (i, x) in c.http.iter().enumerate() {
        let Some(status) = x.status else { continue };
        let frames: Vec<u64> = [x.request_frame, x.response_frame]
            .into_iter()
            .flatten()
            .collect();
        if let Some(user) = &x.basic_user {
            if !c.tls {
                out.push(finding(
                    "http-basic-cleartext",
                    c,
                    format!("Basic credentials of user \"{user}\" sent without TLS"),
                    format!("The request {} carries an Authorization: Basic header over plain HTTP: anyone on the path can read the password (not shown here).", describe(x)),
                    x.request_frame.into_iter().collect(),
                    filter_for(c.stream, "http.authorization"),
                ));
            }
        }
        if x.authorization
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("negotiate"))
            && x.auth_token == Some("ntlm")
        {
            out.push(finding(
                "negotiate-fell-back-to-ntlm",
                c,
                "Negotiate authentication fell back to NTLM".into(),
                format!("The request {} uses Authorization: Negotiate but carries an NTLM message: Kerberos was not possible, usually because the client found no SPN for the site's host name (or found it twice).", describe(x)),
                x.request_frame.into_iter().collect(),
                filter_for(c.stream, "http.authorization"),
            ));
        }
        if status == 403 {
            let body_sub = x.substatus.clone();
            if let Some((sub, code)) = cert_problem {
                let (shown, how) = match &body_sub {
                    Some(b) => (b.clone(), "from the error page"),
                    None => {
                        inferred.push((i, sub.to_string()));
                        (
                            sub.to_string(),
                            "inferred: IIS hides the sub-status from remote clients",
                        )
                    }
                };
                out.push(finding(
                    "http-403-client-cert",
                    c,
                    format!("HTTP 403 for {}: the client certificate problem of this connection", describe(x)),
                    format!(
                        "The server answered 403 to {} on a connection where {code} was found; the likely IIS sub-status is {shown} ({}, {how}).",
                        describe(x),
                        crate::http::substatus_meaning(&shown)
                    ),
                    frames.clone(),
                    filter_status(403),
                ));
            } else if !loop_members.contains(&i) {
                let sub = substatus_sentence(body_sub.as_deref());
                out.push(finding(
                    "http-403",
                    c,
                    format!("HTTP 403 for {}", describe(x)),
                    format!(
                        "The server refused {} with 403 {}.{sub}",
                        describe(x),
                        x.reason.as_deref().unwrap_or("")
                    ),
                    frames.clone(),
                    filter_status(403),
                ));
            }
        }
        // A 401 the client answers with credentials that get past authentication (any later
        // status but 401 for the same resource) is the normal challenge.
        let answered = c.http[i + 1..]
            .iter()
            .any(|y| y.target == x.target && y.status.is_some_and(|s| s != 401));
        if status == 401 && !answered && !loop_members.contains(&i) && !after_first.contains(&i) {
            let schemes = if x.www_authenticate.is_empty() {
                "no WWW-Authenticate scheme".to_string()
            } else {
                format!("WWW-Authenticate {}", x.www_authenticate.join(", "))
            };
            let sub = substatus_sentence(x.substatus.as_deref());
            out.push(finding(
                "http-401",
                c,
                format!("HTTP 401 for {}", describe(x)),
                format!(
                    "The server asked for authentication ({schemes}) in answer to {}{}, and no later request for it succeeded on this connection.{sub}",
                    describe(x),
                    x.authorization.as_deref().map(|a| format!(", which carried {a} credentials")).unwrap_or_default()
                ),
                frames,
                filter_status(401),
            ));
        }
    }
    // TLS whose HTTP we could not read.
    let alpn_http = c.messages.iter().any(|m| match &m.detail {
        Some(Detail::ClientHello(ch)) => ch.alpn.iter().any(|p| p == "http/1.1" || p == "h2"),
        _ => false,
    });
    let https_port =
        endpoint_port(&c.server).is_some_and(|p| matches!(p, 443 | 444 | 4443 | 8443 | 9443));
    if c.tls
        && c.http_version.is_none()
        && c.decryption.status == "not-decrypted"
        && (alpn_http || https_port)
        && (c.application_data.client.records > 0 || c.application_data.server.records > 0)
    {
        let a = &c.application_data;
        out.push(finding(
            "http-not-visible",
            c,
            "The HTTP inside this TLS connection is encrypted".into(),
            format!(
                "The client sent {} bytes of application data in {} records and the server {} bytes in {} records; a key log (--keylog, SSLKEYLOGFILE) would show the requests and status codes.{}",
                a.client.bytes,
                a.client.records,
                a.server.bytes,
                a.server.records,
                if c.encrypted_handshake.iter().any(|e| e.after_finished) {
                    " The handshake was renegotiated after the first request, the pattern of IIS asking for a client certificate for one URL."
                } else {
                    ""
                }
            ),
            a.client.first_frame.into_iter().chain(a.server.first_frame).collect(),
            filter_for(c.stream, "tls.record.content_type == 23"),
        ));
    }
    inferred
}

/// " IIS sub-status 403.16: client certificate is untrusted or invalid." or nothing.
fn substatus_sentence(sub: Option<&str>) -> String {
    sub.map(|s| {
        format!(
            " IIS sub-status {s}: {}.",
            crate::http::substatus_meaning(s)
        )
    })
    .unwrap_or_default()
}

fn endpoint_port(ep: &str) -> Option<u16> {
    ep.rsplit_once(':')?.1.parse().ok()
}

/// What correlation remembers of a finalized connection.
pub struct Recent {
    stream: u64,
    client_host: String,
    server: String,
    start_ns: i64,
    /// Error findings of the handshake (not HTTP).
    problems: Vec<&'static str>,
}

/// Links every HTTP 401/403 to handshake problems of the same client and server within a minute
/// on any other connection of the file, before or after it. Used when all reports are kept (JSON
/// and library use); streamed output links to earlier connections only.
pub fn correlate_all(connections: &mut [ConnectionReport]) {
    let problems: Vec<(u64, String, String, i64, Vec<&'static str>)> = connections
        .iter()
        .map(|c| {
            let codes: Vec<&'static str> = c
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error && !f.code.starts_with("http-"))
                .map(|f| f.code)
                .collect();
            (
                c.stream,
                host_part(&c.client),
                c.server.clone(),
                c.start_ns,
                codes,
            )
        })
        .filter(|p| !p.4.is_empty())
        .collect();
    if problems.is_empty() {
        return;
    }
    for c in connections.iter_mut() {
        let client = host_part(&c.client);
        let linked: Vec<String> = problems
            .iter()
            .filter(|(stream, host, server, start, _)| {
                *stream != c.stream
                    && *host == client
                    && *server == c.server
                    && (start - c.start_ns).abs() <= CORRELATION_WINDOW_NS
            })
            .map(|(stream, _, _, _, codes)| format!("tcp.stream {stream} ({})", codes.join(", ")))
            .collect();
        if linked.is_empty() {
            continue;
        }
        for f in c.findings.iter_mut() {
            if matches!(f.code, "http-403" | "http-401")
                && !f.explanation.contains("within a minute on")
            {
                f.explanation.push_str(&format!(
                    " The same client had a handshake problem with this server within a minute on {}: that is the likely cause.",
                    linked.join(", ")
                ));
            }
        }
    }
}

/// How far apart (capture time) two connections of one client may be to be linked.
const CORRELATION_WINDOW_NS: i64 = 60_000_000_000;
/// Connections remembered for correlation at most.
const MAX_RECENT: usize = 4096;

fn host_part(ep: &str) -> String {
    ep.rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_default()
}

/// Links an HTTP 401/403 on a connection to a handshake problem of the same client and server
/// on another connection within a minute (browsers retry on a new connection), looking at the
/// connections finalized before it; then remembers this one for the next.
pub fn correlate_recent(report: &mut ConnectionReport, recent: &mut VecDeque<Recent>) {
    let client = host_part(&report.client);
    let wants_link = report
        .findings
        .iter()
        .any(|f| matches!(f.code, "http-403" | "http-401"));
    let linked: Vec<String> = if !wants_link {
        Vec::new()
    } else {
        recent
            .iter()
            .filter(|r| {
                r.stream != report.stream
                    && r.client_host == client
                    && r.server == report.server
                    && (r.start_ns - report.start_ns).abs() <= CORRELATION_WINDOW_NS
                    && !r.problems.is_empty()
            })
            .map(|r| format!("tcp.stream {} ({})", r.stream, r.problems.join(", ")))
            .collect()
    };
    if !linked.is_empty() {
        for f in report.findings.iter_mut() {
            if matches!(f.code, "http-403" | "http-401") {
                f.explanation.push_str(&format!(
                    " The same client had a handshake problem with this server within a minute on {}: that is the likely cause.",
                    linked.join(", ")
                ));
            }
        }
    }
    let problems: Vec<&'static str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && !f.code.starts_with("http-"))
        .map(|f| f.code)
        .collect();
    recent.push_back(Recent {
        stream: report.stream,
        client_host: client,
        server: report.server.clone(),
        start_ns: report.start_ns,
        problems,
    });
    while recent.len() > MAX_RECENT
        || recent
            .front()
            .is_some_and(|r| report.start_ns - r.start_ns > 2 * CORRELATION_WINDOW_NS)
    {
        recent.pop_front();
    }
}

/// CA-list rules for one CertificateRequest; returns true when a size finding fired.
fn ca_list(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    cr: &CertificateRequestInfo,
    ctx: &FindingsContext,
    out: &mut Vec<Finding>,
) -> bool {
    let filter = filter_for(c.stream, "tls.handshake.type == 13");
    let n = cr.ca_names.len();
    let bytes = cr.ca_list_bytes;
    if n == 0 && !cr.truncated {
        out.push(finding(
            "ca-list-empty",
            c,
            "The server asked for a client certificate without naming any CA".into(),
            format!(
                "The CertificateRequest in frame {} has an empty CA list: the client may offer any certificate it has, and must choose one itself. Windows Server 2012 and later send no list by default (SendTrustedIssuerList = 0).",
                m.frame
            ),
            m.frames.clone(),
            filter,
        ));
        return false;
    }
    let mut largest: Vec<&crate::tls::handshake::CaName> = cr.ca_names.iter().collect();
    largest.sort_by_key(|n| std::cmp::Reverse(n.der_len));
    let top: Vec<String> = largest
        .iter()
        .take(10)
        .map(|n| format!("    {} bytes  {}", n.der_len, n.dn))
        .collect();
    let largest_entry = largest.first().map(|n| n.der_len + 2).unwrap_or(0);
    let spanned = if m.records > 1 {
        format!(" The message spanned {} TLS records.", m.records)
    } else {
        String::new()
    };
    let schannel = "Windows Schannel cuts the list it sends at 16,384 bytes (event 36885, KB 933430); clients match their certificates' issuers against this list, so a cut list makes them find no suitable certificate and send none (IIS 403.7) or a wrong one (403.16).";
    if bytes >= SCHANNEL_CA_LIST_LIMIT || cr.truncated {
        let cut = if cr.truncated {
            " The list looks cut short: it announces more bytes than the message holds, as when the sender truncated it."
        } else {
            ""
        };
        // Which names lie past 16,384 bytes: those a Schannel server would not send.
        let mut end = 0usize;
        let beyond: Vec<&str> = cr
            .ca_names
            .iter()
            .filter(|n| {
                end += 2 + n.der_len;
                end > SCHANNEL_CA_LIST_LIMIT
            })
            .map(|n| n.dn.as_str())
            .collect();
        let beyond_text = if beyond.is_empty() {
            String::new()
        } else {
            let mut shown: Vec<String> =
                beyond.iter().take(5).map(|d| format!("    {d}")).collect();
            if beyond.len() > 5 {
                shown.push(format!("    ... and {} more", beyond.len() - 5));
            }
            format!(
                "\n  {} name(s) lie past byte 16,384, where a Schannel server stops: clients with certificates from these CAs would not find theirs in the list:\n{}",
                beyond.len(),
                shown.join("\n")
            )
        };
        out.push(finding(
            "ca-list-over-limit",
            c,
            format!(
                "CA list of {} bytes ({} names) is at or above Schannel's 16 KB limit",
                fmt_bytes(bytes),
                n
            ),
            format!(
                "The CertificateRequest in frame {} lists {} CA names in {} bytes, at or above the 16,384 bytes Schannel handles.{}{} {}\n  Largest names:\n{}{beyond_text}",
                m.frame,
                n,
                fmt_bytes(bytes),
                spanned,
                cut,
                schannel,
                top.join("\n")
            ),
            m.frames.clone(),
            filter,
        ));
        return true;
    }
    if bytes >= ctx.thresholds.ca_list_warn_bytes {
        let near = if bytes + largest_entry > SCHANNEL_CA_LIST_LIMIT {
            " It ends within one name of the 16 KB limit: it was probably cut by the sender."
        } else {
            ""
        };
        out.push(finding(
            "ca-list-large",
            c,
            format!(
                "CA list of {} bytes ({} names) is close to Schannel's 16 KB limit",
                fmt_bytes(bytes),
                n
            ),
            format!(
                "The CertificateRequest in frame {} lists {} CA names in {} bytes (warning threshold {} bytes).{}{} {}\n  Largest names:\n{}",
                m.frame,
                n,
                fmt_bytes(bytes),
                fmt_bytes(ctx.thresholds.ca_list_warn_bytes),
                spanned,
                near,
                schannel,
                top.join("\n")
            ),
            m.frames.clone(),
            filter,
        ));
        return true;
    }
    false
}

fn message_size(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    client_auth: bool,
    out: &mut Vec<Finding>,
) {
    let size = m.length as usize + 4;
    let (limit, name, who) = match m.direction {
        Direction::Server => (
            SCHANNEL_MESSAGE_LIMIT_CLIENT,
            "MessageLimitClient",
            "a Windows client",
        ),
        Direction::Client if client_auth => (
            SCHANNEL_MESSAGE_LIMIT_CLIENT,
            "MessageLimitServerClientAuth",
            "a Windows server doing client authentication",
        ),
        Direction::Client => (
            SCHANNEL_MESSAGE_LIMIT_SERVER,
            "MessageLimitServer",
            "a Windows server",
        ),
        Direction::Unknown => return,
    };
    if size <= limit {
        return;
    }
    let title = crate::tls::handshake::handshake_title(m.type_id);
    out.push(finding(
        "handshake-message-large",
        c,
        format!("{title} of {} bytes exceeds Schannel's {name} ({} bytes)", fmt_bytes(size), fmt_bytes(limit)),
        format!(
            "The {} {title} completed in frame {} is {} bytes long over {} records; {who} rejects fragmented handshake messages above {} bytes by default ({name}).",
            match m.direction {
                Direction::Server => "server's",
                _ => "client's",
            },
            m.frame,
            fmt_bytes(size),
            m.records,
            fmt_bytes(limit)
        ),
        m.frames.clone(),
        filter_for(c.stream, &format!("tls.handshake.type == {}", m.type_id)),
    ));
}

fn validity_rules(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    ci: &CertInfo,
    position: usize,
    client: bool,
    out: &mut Vec<Finding>,
) {
    let (Some(nb), Some(na)) = (ci.not_before, ci.not_after) else {
        return;
    };
    let at = m.ts_ns.div_euclid(1_000_000_000);
    if m.ts_ns == 0 {
        return; // no timestamp (Simple Packet Block): cannot judge
    }
    let who = if client { "client" } else { "server" };
    let (code, title, verdict) = if at > na {
        (
            if client {
                "client-cert-expired"
            } else {
                "cert-expired"
            },
            format!(
                "The {who} certificate at position {position} expired on {}",
                date(na)
            ),
            format!(
                "expired on {} ({} days before the capture)",
                date(na),
                (at - na) / 86400
            ),
        )
    } else if at < nb {
        (
            if client {
                "client-cert-not-yet-valid"
            } else {
                "cert-not-yet-valid"
            },
            format!(
                "The {who} certificate at position {position} is valid only from {}",
                date(nb)
            ),
            format!("is valid only from {}", date(nb)),
        )
    } else {
        return;
    };
    let filter = filter_for(
        c.stream,
        &format!(
            "tls.handshake.type == 11 && ip.src == {}",
            endpoint_ip(if client { &c.client } else { &c.server })
        ),
    );
    out.push(finding(
        code,
        c,
        title,
        format!(
            "Certificate {position} of the {who} chain ({}) {verdict}; the Certificate message was captured at {} (frame {}).{}",
            ci.subject,
            date(at),
            m.frame,
            if client { " Servers refuse it: IIS answers 403.17, OpenSSL alerts certificate_expired (45)." } else { "" }
        ),
        m.frames.clone(),
        filter,
    ));
}

/// The IP part of an `ip:port` or `[ip]:port` string, for display filters.
fn endpoint_ip(ep: &str) -> String {
    let host = ep.rsplit_once(':').map(|(h, _)| h).unwrap_or(ep);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

fn weak_key(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    ci: &CertInfo,
    position: usize,
    who: &str,
    out: &mut Vec<Finding>,
) {
    if ci.key.as_deref() == Some("RSA") && ci.key_bits.is_some_and(|b| b < 2048) {
        out.push(finding(
            "cert-weak-key",
            c,
            format!("The {who} certificate at position {position} has a {}-bit RSA key", ci.key_bits.unwrap_or(0)),
            format!("{} uses an RSA key of {} bits; current clients and Windows policy refuse RSA under 2048 bits.", ci.subject, ci.key_bits.unwrap_or(0)),
            m.frames.clone(),
            filter_for(c.stream, "tls.handshake.type == 11"),
        ));
    }
}

fn server_chain(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    cert: &CertificateMsgInfo,
    ctx: &mut FindingsContext,
    out: &mut Vec<Finding>,
) {
    let chain: &[Arc<CertInfo>] = &cert.certificates;
    let filter = filter_for(c.stream, "tls.handshake.type == 11");
    for (i, ci) in chain.iter().enumerate() {
        if ci.parse_error.is_some() {
            continue;
        }
        validity_rules(c, m, ci, i, false, out);
        weak_key(c, m, ci, i, "server", out);
        let self_named = ctx.same_name(&ci.subject_der, &ci.issuer_der).is_some();
        if i == 0 {
            if self_named && ci.self_signed != Some(false) {
                out.push(finding(
                    "chain-leaf-self-signed",
                    c,
                    "The server's certificate is self-signed".into(),
                    format!("The leaf {} is issued by itself; clients trust it only if it is in their trust store.", ci.subject),
                    m.frames.clone(),
                    filter.clone(),
                ));
            }
            if !ci.eku.is_empty()
                && !ci
                    .eku
                    .iter()
                    .any(|e| e == "serverAuth" || e == "anyExtendedKeyUsage")
            {
                out.push(finding(
                    "cert-no-server-auth-eku",
                    c,
                    "The server's certificate is not valid for TLS servers (no serverAuth EKU)"
                        .into(),
                    format!("The leaf {} allows only {}.", ci.subject, ci.eku.join(", ")),
                    m.frames.clone(),
                    filter.clone(),
                ));
            }
            continue;
        }
        if !self_named {
            continue;
        }
        match ci.self_signed {
            Some(false) => {
                // Which certificate of the chain did sign it?
                let signer = chain
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .find(|(_, other)| ctx.verify(ci, other) == Verification::Valid)
                    .map(|(j, other)| format!(" Its signature verifies with the key of certificate {j} ({}).", other.subject))
                    .unwrap_or_else(|| " No certificate in the chain verifies it: its issuer (the real root with the same name) is not sent.".into());
                out.push(finding(
                    "chain-self-issued-intermediate",
                    c,
                    format!("Certificate {i} of the server chain has Subject equal to Issuer but is not self-signed"),
                    format!(
                        "Certificate {i} has Subject \"{}\" and Issuer \"{}\" (the same name{}), but its own key does not verify its signature, so it is an intermediate, not a root.{signer} Schannel takes a certificate whose Subject equals its Issuer for a self-signed root and does not send it, so clients miss this intermediate (KB 254047).",
                        ci.subject,
                        ci.issuer,
                        if ci.subject_der == ci.issuer_der { ", byte for byte" } else { " in canonical form" }
                    ),
                    m.frames.clone(),
                    filter.clone(),
                ));
            }
            Some(true) => {
                out.push(finding(
                    "chain-root-included",
                    c,
                    format!("The server sends its root CA (certificate {i})"),
                    format!("Certificate {i} ({}) is a self-signed root. Clients use their own copy; sending it only adds {} bytes to the handshake.", ci.subject, ci.der_len),
                    m.frames.clone(),
                    filter.clone(),
                ));
            }
            None => {}
        }
    }
    // Order: certificate i must be issued by certificate i+1.
    for i in 0..chain.len().saturating_sub(1) {
        let (child, parent) = (&chain[i], &chain[i + 1]);
        if child.parse_error.is_some() || parent.parse_error.is_some() {
            continue;
        }
        let named = ctx
            .same_name(&child.issuer_der, &parent.subject_der)
            .is_some();
        let signed = if named {
            ctx.verify(child, parent)
        } else {
            Verification::Invalid
        };
        if !named || signed == Verification::Invalid {
            out.push(finding(
                "chain-out-of-order",
                c,
                format!("Certificate {} of the server chain is not issued by certificate {}", i, i + 1),
                format!(
                    "Certificate {i} ({}) is issued by \"{}\", but the next certificate is \"{}\"{}. The chain must run leaf first, then each issuer.",
                    child.subject,
                    child.issuer,
                    parent.subject,
                    if named { ", whose key does not verify it" } else { "" }
                ),
                m.frames.clone(),
                filter.clone(),
            ));
            break;
        }
    }
}

fn client_auth(
    c: &ConnectionReport,
    crs: &[(&HandshakeMessage, &CertificateRequestInfo)],
    ca_list_flagged: bool,
    ctx: &mut FindingsContext,
    out: &mut Vec<Finding>,
) -> ClientAuthSummary {
    let mut summary = ClientAuthSummary {
        requested: !crs.is_empty(),
        client_certificate: "not-visible",
        issuer_match: None,
    };
    let Some(&(cr_msg, cr)) = crs.last() else {
        return summary;
    };
    // The client's answer: its first Certificate after this CertificateRequest.
    let answer = c.messages.iter().find(|m| {
        m.direction == Direction::Client
            && m.frame >= cr_msg.frame
            && matches!(m.detail, Some(Detail::Certificate(_)))
    });
    let cr_filter = filter_for(c.stream, "tls.handshake.type == 13");
    let list_desc = format!(
        "The CertificateRequest (frame {}) named {} CA{} in {} bytes",
        cr_msg.frame,
        cr.ca_names.len(),
        if cr.ca_names.len() == 1 { "" } else { "s" },
        fmt_bytes(cr.ca_list_bytes)
    );
    let Some(answer) = answer else {
        // No Certificate from the client: what ended the handshake?
        let client_seen = c.tcp.client.segments > 0 || c.tcp.client.bytes > 0;
        if !client_seen {
            return summary;
        }
        let client_later = c
            .messages
            .iter()
            .any(|m| m.direction == Direction::Client && m.frame > cr_msg.frame)
            || c.change_cipher_spec
                .iter()
                .any(|x| x.direction == Direction::Client && x.frame > cr_msg.frame);
        let no_cert_alert = c
            .alerts
            .iter()
            .find(|a| a.direction == Direction::Client && a.description == Some(41));
        let ended = if let Some(a) = no_cert_alert {
            format!("the client sent a no_certificate alert (41) in frame {} (SSLv3's way of declining)", a.frame)
        } else if let Some(a) = c
            .alerts
            .iter()
            .find(|a| a.frame > cr_msg.frame && a.level == Some(2))
        {
            format!(
                "the {} sent a fatal {} alert ({}) in frame {}",
                if a.direction == Direction::Client {
                    "client"
                } else {
                    "server"
                },
                a.name.unwrap_or("?"),
                a.description.unwrap_or(0),
                a.frame
            )
        } else if let Some(f) = c.tcp.rst_frame {
            format!("the connection was reset in frame {f}")
        } else if client_later {
            "the client went on without a Certificate message (a protocol violation, or a lost segment)".into()
        } else if c.tcp.ended_by == "fin" {
            "the connection was closed without an answer".into()
        } else {
            "the capture ends before the client answered".into()
        };
        summary.client_certificate = "missing";
        let mut frames = vec![cr_msg.frame];
        frames.extend(no_cert_alert.map(|a| a.frame));
        frames.extend(c.tcp.rst_frame);
        out.push(finding(
            "client-cert-missing",
            c,
            "The server asked for a client certificate and got no Certificate message".into(),
            format!("{list_desc}; no client Certificate followed: {ended}."),
            frames,
            filter_for(
                c.stream,
                "(tls.handshake.type == 13 || tls.alert_message || tcp.flags.reset == 1)",
            ),
        ));
        return summary;
    };
    let Some(Detail::Certificate(cert)) = &answer.detail else {
        return summary;
    };
    if cert.empty {
        summary.client_certificate = "empty";
        let truncation = if ca_list_flagged {
            " The CA list is large enough to be cut by Schannel (see the ca-list finding): truncation of the list is the likely cause."
        } else {
            ""
        };
        out.push(finding(
            "client-cert-empty",
            c,
            "The client sent no certificate".into(),
            format!(
                "{list_desc}, and the client answered with an empty Certificate in frame {}. Usual causes: no certificate in the client's store is issued by one of the listed CAs, its private key is missing or not usable, or the application was not configured with one. IIS answers such a request with 403.7.{truncation}",
                answer.frame
            ),
            vec![cr_msg.frame, answer.frame],
            filter_for(c.stream, "(tls.handshake.type == 13 || (tls.handshake.type == 11 && tls.handshake.certificates_length == 0))"),
        ));
        return summary;
    }
    summary.client_certificate = "sent";
    let chain = &cert.certificates;
    let cert_filter = filter_for(
        c.stream,
        &format!(
            "tls.handshake.type == 11 && ip.src == {}",
            endpoint_ip(&c.client)
        ),
    );
    // Issuer against the requested CA names.
    if cr.ca_names.is_empty() {
        summary.issuer_match = Some("any");
    } else {
        let index = cr.match_index();
        let mut best: Option<&'static str> = None;
        for ci in chain.iter().filter(|ci| ci.parse_error.is_none()) {
            for candidate in [&ci.issuer_der, &ci.subject_der] {
                if index.der.contains(candidate.as_slice()) {
                    best = Some("exact");
                } else if best.is_none() && ctx.canonical_in(candidate, &index.canonical) {
                    best = Some("canonical");
                }
            }
        }
        summary.issuer_match = Some(best.unwrap_or("none"));
        if best.is_none() {
            if let Some(leaf) = chain.first() {
                out.push(finding(
                    "client-cert-issuer-not-requested",
                    c,
                    "The client's certificate is not from a CA the server asked for".into(),
                    format!(
                        "{list_desc}. The client sent {} (frame {}), issued by \"{}\", and no certificate of its chain is issued by or equal to a listed CA (compared byte for byte and in canonical form). Requested: {}.",
                        leaf.subject,
                        answer.frame,
                        leaf.issuer,
                        cr.ca_names.iter().take(5).map(|n| format!("\"{}\"", n.dn)).collect::<Vec<_>>().join(", ")
                            + if cr.ca_names.len() > 5 { ", ..." } else { "" }
                    ),
                    vec![cr_msg.frame, answer.frame],
                    filter_for(c.stream, "(tls.handshake.type == 13 || tls.handshake.type == 11)"),
                ));
            }
        }
    }
    let _ = cr_filter;
    if let Some(leaf) = chain.first().filter(|l| l.parse_error.is_none()) {
        validity_rules(c, answer, leaf, 0, true, out);
        weak_key(c, answer, leaf, 0, "client", out);
        if !leaf.eku.is_empty()
            && !leaf
                .eku
                .iter()
                .any(|e| e == "clientAuth" || e == "anyExtendedKeyUsage")
        {
            out.push(finding(
                "client-cert-no-client-auth-eku",
                c,
                "The client's certificate is not valid for client authentication (no clientAuth EKU)".into(),
                format!("{} (frame {}) allows only {}; servers refuse it for client authentication.", leaf.subject, answer.frame, leaf.eku.join(", ")),
                vec![answer.frame],
                cert_filter.clone(),
            ));
        }
        // Revocation: where the server has to look.
        let mut urls: Vec<String> = Vec::new();
        for ci in chain.iter() {
            for u in ci
                .crl_urls
                .iter()
                .chain(&ci.ocsp_urls)
                .chain(&ci.ca_issuer_urls)
            {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        if !urls.is_empty() {
            let lines: Vec<String> = urls
                .iter()
                .map(|u| {
                    let host = url_host(u);
                    let seen = host.as_ref().is_some_and(|h| ctx.contacted.contains(h));
                    format!(
                        "    {u}{}",
                        if seen {
                            "  (the capture holds traffic to this host)"
                        } else {
                            "  (no traffic to this host in the capture)"
                        }
                    )
                })
                .collect();
            out.push(finding(
                "client-cert-revocation-info",
                c,
                format!("The server must reach {} revocation URL(s) to accept this client certificate", urls.len()),
                format!(
                    "To check {} (frame {}) the server downloads CRLs or asks OCSP responders; if it cannot, IIS answers 403.13 and other servers fail the handshake.\n{}",
                    leaf.subject,
                    answer.frame,
                    lines.join("\n")
                ),
                vec![answer.frame],
                cert_filter,
            ));
        }
    }
    summary
}

/// Host of an http(s)/ldap URL.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?']).next()?;
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']').next()?.trim_start_matches('[')
    } else {
        host.split(':').next()?
    };
    Some(host.to_ascii_lowercase())
}

fn outcome(c: &ConnectionReport, out: &mut Vec<Finding>) {
    // The handshake completed when both sides sent Finished (TLS <= 1.2: the first encrypted
    // handshake record after each ChangeCipherSpec) or application data flowed both ways.
    // The first Finished of a direction: encrypted (the first handshake record after its
    // ChangeCipherSpec) or decrypted.
    let first_finished = |d: Direction| {
        let encrypted = c
            .encrypted_handshake
            .iter()
            .filter(|e| e.direction == d && !e.after_finished)
            .map(|e| e.frame)
            .min();
        let clear = c
            .messages
            .iter()
            .filter(|m| m.direction == d && m.kind == "finished")
            .map(|m| m.frame)
            .min();
        encrypted.into_iter().chain(clear).min()
    };
    let tls13 = c.tls_version.as_deref() == Some("TLS 1.3");
    let completed_at: Option<u64> = if tls13 {
        match (
            c.application_data.client.first_frame,
            c.application_data.server.first_frame,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    } else if let (Some(a), Some(b)) = (
        first_finished(Direction::Client),
        first_finished(Direction::Server),
    ) {
        Some(a.max(b))
    } else {
        None
    };
    let started = c
        .messages
        .iter()
        .any(|m| m.kind == "client_hello" || m.kind == "server_hello");
    if !started {
        return;
    }
    let before_completion = |frame: u64| completed_at.is_none_or(|done| frame <= done);
    let fatal = c
        .alerts
        .iter()
        .find(|a| a.level == Some(2) && before_completion(a.frame));
    let explained_by: Vec<&str> = out
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect();
    let link = if explained_by.is_empty() {
        String::new()
    } else {
        format!(" Explained by: {}.", explained_by.join(", "))
    };
    if let Some(a) = fatal {
        let who = match a.direction {
            Direction::Client => "client",
            Direction::Server => "server",
            Direction::Unknown => "peer",
        };
        let name = a.name.unwrap_or("unknown");
        let code = a.description.unwrap_or(0);
        out.push(finding(
            "handshake-failed",
            c,
            format!("The {who} aborted the handshake with alert {name} ({code})"),
            format!(
                "In frame {} the {who} sent a fatal {name} alert ({code}) before the handshake completed: {}.{link}",
                a.frame,
                alert_meaning(code)
            ),
            vec![a.frame],
            filter_for(c.stream, "tls.alert_message"),
        ));
        return;
    }
    if let Some(rst) = c.tcp.rst_frame {
        if completed_at.is_none() && !tls13 {
            let who = match c.tcp.reset_by {
                Some(Direction::Client) => "the client",
                Some(Direction::Server) => "the server",
                _ => "a peer",
            };
            out.push(finding(
                "handshake-failed",
                c,
                format!("The connection was reset by {who} during the handshake"),
                format!(
                    "{} sent a TCP reset in frame {rst}, before the handshake completed, with no alert in clear (an alert may be encrypted, or it gave up without one).{link}",
                    capitalize(who)
                ),
                vec![rst],
                filter_for(c.stream, "tcp.flags.reset == 1"),
            ));
        }
    }
    let reneg: Vec<&crate::tls::EncryptedHandshake> = c
        .encrypted_handshake
        .iter()
        .filter(|e| e.after_finished)
        .collect();
    if !reneg.is_empty() {
        let first = reneg[0].frame;
        let sizes: Vec<String> = reneg
            .iter()
            .take(12)
            .map(|e| {
                format!(
                    "frame {} {} {} bytes",
                    e.frame,
                    if e.direction == Direction::Server {
                        "server"
                    } else {
                        "client"
                    },
                    e.length
                )
            })
            .collect();
        let server_bytes: usize = reneg
            .iter()
            .filter(|e| e.direction == Direction::Server)
            .map(|e| e.length)
            .sum();
        out.push(finding(
            "renegotiation-encrypted",
            c,
            format!("{} encrypted handshake record(s) after the handshake: a renegotiation", reneg.len()),
            format!(
                "After both Finished messages the peers exchanged encrypted handshake records ({}). This is how IIS asks for a client certificate for one URL: a second handshake inside the encrypted session, whose CertificateRequest (with its CA list) and client Certificate cannot be read without keys. The server sent {} bytes of encrypted handshake in it{}.",
                sizes.join(", "),
                fmt_bytes(server_bytes),
                if server_bytes > SCHANNEL_CA_LIST_LIMIT { ", more than 16 KB: a large CA list is likely" } else { "" }
            ),
            reneg.iter().map(|e| e.frame).collect(),
            filter_for(c.stream, &format!("tls.record.content_type == 22 && frame.number >= {first}")),
        ));
    }
    if tls13 && c.decryption.status == "not-decrypted" {
        let pha = c
            .messages
            .iter()
            .any(|m| matches!(&m.detail, Some(Detail::ClientHello(ch)) if ch.post_handshake_auth));
        let frames: Vec<u64> = c
            .messages
            .iter()
            .filter(|m| m.kind == "server_hello")
            .map(|m| m.frame)
            .collect();
        out.push(finding(
            "tls13-client-auth-hidden",
            c,
            "TLS 1.3: whether a client certificate was requested or sent is encrypted".into(),
            format!(
                "The connection negotiated TLS 1.3, which encrypts CertificateRequest and the client's Certificate.{} A key log (SSLKEYLOGFILE) would show them.",
                if pha { " The client offered post-handshake authentication, so the server may also ask later." } else { "" }
            ),
            frames,
            filter_for(c.stream, "tls.handshake.type == 2"),
        ));
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn alert_meaning(code: u8) -> &'static str {
    match code {
        40 => "the sender could not agree on parameters or, typically with client authentication, refused the client's (missing) certificate",
        41 => "SSLv3 client without a suitable certificate",
        42 => "the certificate was corrupt or its signature did not verify",
        43 => "the certificate is of a type the receiver does not support (often a wrong key usage)",
        44 => "the certificate was revoked",
        45 => "the certificate has expired or is not yet valid",
        46 => "the certificate could not be accepted for another reason (often an untrusted chain)",
        48 => "the chain does not lead to a CA the receiver trusts",
        49 => "access denied after a valid certificate",
        70 => "protocol version not supported",
        71 => "cipher suites too weak for the receiver",
        80 => "internal error of the sender",
        112 => "the server name (SNI) is not known",
        116 => "the server requires a client certificate and got none (TLS 1.3)",
        _ => "see the alert's name",
    }
}

/// Counts findings of one file by code and by severity.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub by_code: BTreeMap<&'static str, usize>,
    pub by_severity: BTreeMap<&'static str, usize>,
}

impl Summary {
    pub fn add(&mut self, f: &Finding) {
        *self.by_code.entry(f.code).or_default() += 1;
        *self.by_severity.entry(f.severity.word()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for d in CATALOG {
            assert!(seen.insert(d.code), "duplicate {}", d.code);
            assert!(d
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(!d.refs.is_empty(), "{} has no references", d.code);
        }
    }

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_host("http://crl.example.com/x.crl").as_deref(),
            Some("crl.example.com")
        );
        assert_eq!(
            url_host("http://10.0.0.1:8080/ocsp").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            url_host("ldap://[2001:db8::1]/cn=x").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(url_host("not a url"), None);
    }

    #[test]
    fn thousands() {
        assert_eq!(fmt_bytes(17006), "17,006");
        assert_eq!(fmt_bytes(158), "158");
        assert_eq!(fmt_bytes(1234567), "1,234,567");
    }
}

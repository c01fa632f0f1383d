//! Findings: the explanations users run tlsdiag for. Each one has a stable code, a severity, the
//! frames of its evidence and a Wireshark display filter that shows that evidence.
//!
//! Rules read the plain-data model (`crate::model`) and nothing else; one file per rule family,
//! each declaring its codes' documentation next to its rules (`catalog` chains them).

mod ca_list;
pub mod catalog;
mod chain;
mod client_auth;
mod correlate;
mod http;
mod kerberos;
mod outcome;
mod session;
mod sigalgs;
mod trust;

use rustc_hash::{FxHashMap, FxHashSet};

pub(crate) use catalog::wrap;
pub use catalog::{catalog, catalog_markdown, doc, explain_text, CodeDoc};
pub use correlate::{correlate_all, correlate_recent, DeferredLinks, ProblemIndex, Recent};
pub use kerberos::{file_findings as kerberos_file_findings, kerberos_rules};

use crate::model::*;
use crate::tls::handshake::CertificateRequestInfo;
use crate::tls::{Detail, Direction, HandshakeMessage};
use crate::x509::{self, CertInfo, Verification};

pub use crate::model::{DEFAULT_CA_LIST_WARN, SCHANNEL_CA_LIST_LIMIT};
/// Schannel's MessageLimitServer (16 KiB) and MessageLimitClient / MessageLimitServerClientAuth
/// (32 KiB): the largest fragmented handshake message it accepts.
pub const SCHANNEL_MESSAGE_LIMIT_SERVER: usize = 16384;
pub const SCHANNEL_MESSAGE_LIMIT_CLIENT: usize = 32768;

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
    /// The server's trust store (`--trust`), for client chains.
    pub trust: std::sync::Arc<crate::trust::TrustStore>,
    /// The client's trust store (`--client-trust`), for server chains.
    pub client_trust: std::sync::Arc<crate::trust::TrustStore>,
}

impl FindingsContext {
    pub fn new(thresholds: Thresholds) -> Self {
        FindingsContext {
            thresholds,
            ..Default::default()
        }
    }

    /// Keyed by hashes of the two SHA-256 fingerprints (no copy of them per lookup).
    pub(crate) fn verify(&mut self, child: &CertInfo, issuer: &CertInfo) -> Verification {
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
    pub(crate) fn canonical_in(&mut self, der: &[u8], set: &FxHashSet<String>) -> bool {
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

    pub(crate) fn canonical(&mut self, der: &[u8]) -> Option<String> {
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
    pub(crate) fn same_name(&mut self, a: &[u8], b: &[u8]) -> Option<&'static str> {
        if a == b {
            return Some("exact");
        }
        match (self.canonical(a), self.canonical(b)) {
            (Some(x), Some(y)) if x == y => Some("canonical"),
            _ => None,
        }
    }
}

pub(crate) fn filter_for(stream: u64, rest: &str) -> String {
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
    crate::model::utc(secs)
}

/// Builds the finding for `code` from the catalog's severity and references.
pub(crate) fn finding(
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
        ca_list_flagged |= ca_list::ca_list(c, m, cr, ctx, &mut out);
    }
    let last_seen = crs.last().map(|(m, _)| m.frame);
    for a in c
        .inferred
        .iter()
        .filter(|a| a.requested == Some(true) && last_seen.is_none_or(|f| a.first_frame > f))
    {
        ca_list_flagged |= ca_list::inferred_size(c, a, ctx, &mut out);
    }
    for m in &c.messages {
        ca_list::message_size(c, m, !crs.is_empty(), &mut out);
    }
    // Server chains.
    for m in c
        .messages
        .iter()
        .filter(|m| m.direction == Direction::Server)
    {
        if let Some(Detail::Certificate(cert)) = &m.detail {
            if !cert.certificates.is_empty() {
                chain::server_chain(c, m, cert, ctx, &mut out);
            }
        }
    }
    trust::trust_rules(c, ctx, &mut out);
    session::resumption(c, &mut out);
    sigalgs::sigalg_rules(c, &mut out);
    let summary = client_auth::client_auth(c, &crs, ca_list_flagged, ctx, &mut out);
    outcome::outcome(c, &mut out);
    let inferred = http::http_rules(c, &summary, &mut out);
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
    weigh_consequences(c);
    let (notes, kept): (Vec<Finding>, Vec<Finding>) =
        std::mem::take(&mut c.findings).into_iter().partition(|f| {
            FILE_LEVEL.contains(&f.code)
                || (f.severity == Severity::Info && ACCEPTED_BY_SERVER.contains(&f.code))
        });
    c.findings = kept;
    c.file_notes = notes.iter().map(|f| f.code).collect();
}

/// Codes that hold for most connections of a capture without keys: said once per file
/// (`Summary::notes`) instead of on every connection.
pub const FILE_LEVEL: &[&str] = &["http-not-visible", "tls13-client-auth-hidden"];

/// Client-certificate observations that the server accepted (see `weigh_consequences`): on a
/// completed connection they are said once per file too.
const ACCEPTED_BY_SERVER: &[&str] = &[
    "client-cert-empty",
    "client-cert-missing",
    "client-cert-issuer-not-requested",
];

/// What a file-level note says, once, with the number of connections it holds for.
pub fn file_note_text(code: &str, connections: usize) -> String {
    match code {
        "http-not-visible" => format!(
            "the HTTP inside {connections} TLS connection(s) is encrypted: a key log (--keylog, SSLKEYLOGFILE) would show the requests and status codes"
        ),
        "tls13-client-auth-hidden" => format!(
            "{connections} TLS 1.3 connection(s) encrypt their CertificateRequest and client Certificate: a key log would show whether a client certificate was asked for and sent"
        ),
        "client-cert-empty" | "client-cert-missing" => format!(
            "on {connections} connection(s) the server asked for a client certificate, got none, and went on: client certificates are optional there"
        ),
        "client-cert-issuer-not-requested" => format!(
            "on {connections} connection(s) the client's certificate was not from a CA the server listed, and the server accepted it (the list is only a hint)"
        ),
        _ => format!("{code}: {connections} connection(s)"),
    }
}

/// Client-certificate observations on a connection whose handshakes completed, with no HTTP
/// 401/403 on it, did not break anything here: the server accepted what it got. They are kept
/// as information (a missing or foreign certificate) or a warning (one stricter servers
/// refuse), and say so. An error stays an error only where it explains a failure.
fn weigh_consequences(c: &mut ConnectionReport) {
    if c.outcome.status != OutcomeStatus::Completed {
        return;
    }
    let http_refused = c.http.iter().any(|x| matches!(x.status, Some(401 | 403)))
        || c.http2_status.iter().any(|h| matches!(h.status, 401 | 403));
    if http_refused {
        return;
    }
    let done = c
        .outcome
        .frame
        .map(|f| format!(" (frame {f})"))
        .unwrap_or_default();
    // Encrypted HTTP may hide the 403 that tells the server did mind: say so, as a warning.
    let http_hidden = c.findings.iter().any(|f| f.code == "http-not-visible");
    for f in &mut c.findings {
        if http_hidden
            && f.code.starts_with("client-cert-")
            && f.code != "client-cert-revocation-info"
        {
            if f.severity > Severity::Warning {
                f.severity = Severity::Warning;
            }
            f.explanation.push_str(&format!(
                " The handshake completed{done}; whether the server then refused the request (IIS and nginx answer 403) is inside the encrypted HTTP: a key log would show it."
            ));
            continue;
        }
        let (severity, sentence) = match f.code {
            "client-cert-empty" => (
                Severity::Info,
                format!("The server went on without a certificate: the handshake completed{done}, so client certificates are optional on this server."),
            ),
            "client-cert-missing" => (
                Severity::Info,
                format!("The server went on without one: the handshake completed{done}."),
            ),
            "client-cert-issuer-not-requested" => (
                Severity::Info,
                format!("The server accepted the certificate: the handshake completed{done}. The CA list is only a hint; this server trusts more than it lists."),
            ),
            "client-cert-expired" | "client-cert-not-yet-valid" | "client-cert-no-client-auth-eku" => (
                Severity::Warning,
                format!("This server accepted it (the handshake completed{done}); servers that check it (IIS answers 403.16 or 403.17) will refuse it."),
            ),
            _ => continue,
        };
        if f.severity > severity {
            f.severity = severity;
        }
        f.explanation.push(' ');
        f.explanation.push_str(&sentence);
    }
    sort_findings(&mut c.findings);
}

#[cfg(test)]
mod tests {
    use super::client_auth::url_host;
    use super::*;

    #[test]
    fn catalog_codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for d in catalog() {
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

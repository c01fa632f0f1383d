//! Rules that validate certificate chains against trust stores given on the command line:
//! the client's chain against the server's store (`--trust`), the server's chain against the
//! client's store (`--client-trust`), as each side would decide: signatures (x509-parser's
//! verification, no signature math here), a path to a trusted certificate using the
//! intermediates sent in the capture, validity at capture time, CA flags on issuers, and the
//! leaf's extended key usage.

use std::sync::Arc;

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::{Detail, Direction, HandshakeMessage};
use crate::trust::TrustStore;
use crate::x509::{CertInfo, Verification};

const RFC5280_PATH: &str = "RFC 5280 section 6 (certification path validation)";

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "client-cert-untrusted",
        severity: Severity::Error,
        title: "The server's trust store does not validate the client's certificate",
        cause: "Checked against the trust store given with --trust (the server's trusted roots), the client's chain fails: no path leads from its certificate to a trusted certificate (the issuer is neither trusted nor sent by the client), a signature on the path does not verify, a certificate of the path was expired or not yet valid at capture time, an issuer is not a CA, or the certificate's extended key usage excludes client authentication. A server refuses such a certificate with alert unknown_ca (48), bad_certificate (42) or certificate_expired (45); IIS, which asks for the certificate after the handshake, answers 403.16 (untrusted) or 403.17 (expired).",
        evidence: "The client Certificate message, the path built (each certificate and where it came from: sent in the capture or found in the trust store) and the first reason the path fails.",
        fix: "Import the client's issuing root (and intermediates) into the server's trusted store (on Windows the Local Computer Trusted Root and Intermediate stores, or the Client Authentication Issuers store); or have the client send its intermediates; or issue the client a certificate from a CA the server trusts, valid now and with the clientAuth EKU.",
        refs: &[RFC5280_PATH, RFC5280_VALIDITY, RFC5280_EKU, IIS_403],
    },
    CodeDoc {
        code: "server-chain-untrusted",
        severity: Severity::Error,
        title: "The client's trust store does not validate the server's chain",
        cause: "Checked against the trust store given with --client-trust (the client's trusted roots), the server's chain fails: no path from the server certificate to a trusted certificate, a signature that does not verify, a certificate outside its validity at capture time, an issuer that is not a CA, or an EKU without serverAuth. Clients abort such a handshake (alert unknown_ca 48, bad_certificate 42, certificate_expired 45) before any client certificate is sent.",
        evidence: "The server Certificate message, the path built and the first reason it fails.",
        fix: "Install the server's root in the clients' trust store, or configure the server with a certificate (and full intermediate chain) from a CA the clients trust.",
        refs: &[RFC5280_PATH, RFC5280_VALIDITY, KB954755],
    },
];

/// Certificates a path may hold at most (longer chains are not built).
const MAX_DEPTH: usize = 8;

/// Why a chain does not validate, and the path as far as it was built.
struct Failure {
    reason: String,
    path: Vec<String>,
}

fn trusted(store: &TrustStore, cert: &CertInfo) -> bool {
    store.certs.iter().any(|t| t.info.der == cert.der)
}

/// Validates `chain` (leaf first, as sent) against `store` at `at_secs`, for `purpose`
/// (`clientAuth` or `serverAuth`). None when a valid path exists.
fn validate(
    chain: &[Arc<CertInfo>],
    store: &TrustStore,
    at_secs: Option<i64>,
    purpose: &str,
    ctx: &mut FindingsContext,
) -> Option<Failure> {
    let leaf = chain.first()?;
    let mut path = vec![format!("{} (sent)", leaf.subject)];
    let fail = |reason: String, path: &[String]| {
        Some(Failure {
            reason,
            path: path.to_vec(),
        })
    };
    if !leaf.eku.is_empty()
        && !leaf
            .eku
            .iter()
            .any(|e| e == purpose || e == "anyExtendedKeyUsage")
    {
        return fail(
            format!(
                "its extended key usage ({}) does not include {purpose}",
                leaf.eku.join(", ")
            ),
            &path,
        );
    }
    let mut current: Arc<CertInfo> = leaf.clone();
    for depth in 0..MAX_DEPTH {
        if let Some(reason) = outside_validity(&current, at_secs) {
            return fail(reason, &path);
        }
        if depth > 0 && current.is_ca == Some(false) {
            return fail(
                format!("{} issues certificates but is not a CA", current.subject),
                &path,
            );
        }
        if trusted(store, &current) {
            return None;
        }
        // Issuer candidates: the trust store first, then what the peer sent.
        let candidates: Vec<(Arc<CertInfo>, &'static str)> = store
            .certs
            .iter()
            .map(|t| (t.info.clone(), "trust store"))
            .chain(chain.iter().map(|c| (c.clone(), "sent")))
            .filter(|(c, _)| {
                c.der != current.der && ctx.same_name(&c.subject_der, &current.issuer_der).is_some()
            })
            .collect();
        let mut bad_signature = None;
        let mut next = None;
        for (cand, from) in candidates {
            match ctx.verify(&current, &cand) {
                Verification::Invalid => bad_signature = Some(cand.subject.clone()),
                // An algorithm the verifier lacks is not evidence against the chain.
                Verification::Valid | Verification::Unsupported(_) => {
                    next = Some((cand, from));
                    break;
                }
            }
        }
        let Some((issuer, from)) = next else {
            if let Some(subject) = bad_signature {
                return fail(
                    format!(
                        "the signature of {} does not verify with the key of {subject}",
                        current.subject
                    ),
                    &path,
                );
            }
            return fail(
                if current.self_signed == Some(true) || current.subject_der == current.issuer_der {
                    format!(
                        "the chain ends at {}, which is not in the trust store",
                        current.subject
                    )
                } else {
                    format!(
                        "the issuer {} of {} is neither in the trust store nor sent in the chain",
                        crate::x509::dn_to_string(&current.issuer_der),
                        current.subject
                    )
                },
                &path,
            );
        };
        path.push(format!("{} ({from})", issuer.subject));
        if from == "trust store" {
            // A trusted certificate ends the path; its own validity still counts.
            if let Some(reason) = outside_validity(&issuer, at_secs) {
                return fail(reason, &path);
            }
            return None;
        }
        current = issuer;
    }
    fail(
        format!("no path to a trusted certificate within {MAX_DEPTH} certificates"),
        &path,
    )
}

fn outside_validity(cert: &CertInfo, at_secs: Option<i64>) -> Option<String> {
    let now = at_secs?;
    if let Some(nb) = cert.not_before.filter(|&nb| now < nb) {
        return Some(format!(
            "{} was not yet valid at capture time (valid from {})",
            cert.subject,
            date(nb)
        ));
    }
    if let Some(na) = cert.not_after.filter(|&na| now > na) {
        return Some(format!(
            "{} had expired at capture time (valid until {})",
            cert.subject,
            date(na)
        ));
    }
    None
}

/// The chain rules of one connection.
pub(super) fn trust_rules(c: &ConnectionReport, ctx: &mut FindingsContext, out: &mut Vec<Finding>) {
    let (server_store, client_store) = (ctx.trust.clone(), ctx.client_trust.clone());
    let refused = matches!(
        c.outcome.status,
        OutcomeStatus::Failed | OutcomeStatus::Refused
    ) || c.http.iter().any(|x| x.status == Some(403));
    let http_seen = !c.http.is_empty() || !c.http2_status.is_empty();
    for m in &c.messages {
        let Some(Detail::Certificate(cert)) = &m.detail else {
            continue;
        };
        if cert.certificates.is_empty() {
            continue;
        }
        let (store, code, purpose, side) = match m.direction {
            Direction::Client => (
                &server_store,
                "client-cert-untrusted",
                "clientAuth",
                "client",
            ),
            Direction::Server => (
                &client_store,
                "server-chain-untrusted",
                "serverAuth",
                "server",
            ),
            Direction::Unknown => continue,
        };
        if store.is_empty() {
            continue;
        }
        let at = (m.ts_ns != 0).then_some(m.ts_ns.div_euclid(1_000_000_000));
        let Some(failure) = validate(&cert.certificates, store, at, purpose, ctx) else {
            continue;
        };
        let leaf = &cert.certificates[0].subject;
        out.push(untrusted(
            c, m, leaf, code, side, failure, refused, http_seen,
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn untrusted(
    c: &ConnectionReport,
    m: &HandshakeMessage,
    leaf: &str,
    code: &'static str,
    side: &str,
    failure: Failure,
    refused: bool,
    http_seen: bool,
) -> Finding {
    let whose = if side == "client" {
        "server's (--trust)"
    } else {
        "client's (--client-trust)"
    };
    let mut explanation = format!(
        "The {side} certificate {leaf} sent in frame {} does not validate against the {whose} trust store: {}. Path built: {}.",
        m.frame,
        failure.reason,
        failure.path.join(" <- ")
    );
    let mut f = finding(
        code,
        c,
        format!("The {side} certificate is not trusted: {}", failure.reason),
        String::new(),
        m.frames.clone(),
        filter_for(c.stream, "tls.handshake.type == 11"),
    );
    if !refused && c.outcome.status == OutcomeStatus::Completed && http_seen {
        // The peer accepted it here: it trusts through another store than the one given.
        f.severity = Severity::Warning;
        explanation.push_str(" This connection completed, so this peer trusts it some other way (another store, or no checking); peers that use the store given will refuse it.");
    }
    f.explanation = explanation;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pki(name: &str) -> Arc<CertInfo> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures/serverkey")
            .join(name);
        let der = crate::trust::certificates_in(&std::fs::read(path).unwrap()).unwrap();
        Arc::new(crate::x509::cert_info(&der[0]))
    }

    fn root_store() -> TrustStore {
        let mut s = TrustStore::default();
        s.add_path(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("captures/serverkey/trust/root.pem"),
        )
        .unwrap();
        s
    }

    #[test]
    fn validity_eku_and_ca_flags() {
        let mut ctx = FindingsContext::default();
        let store = root_store();
        let alice = vec![pki("pki/client.pem"), pki("pki/inter.pem")];
        let issued = alice[0].not_before.unwrap();
        assert!(validate(&alice, &store, Some(issued + 60), "clientAuth", &mut ctx).is_none());
        let late = alice[0].not_after.unwrap() + 1;
        let f = validate(&alice, &store, Some(late), "clientAuth", &mut ctx).unwrap();
        assert!(
            f.reason.starts_with("CN=alice,OU=Clients,O=tlsdiag serverkey PKI,C=US had expired at capture time (valid until "),
            "{}",
            f.reason
        );
        let f = validate(&alice, &store, Some(issued - 3600), "clientAuth", &mut ctx).unwrap();
        assert!(
            f.reason.contains("was not yet valid at capture time"),
            "{}",
            f.reason
        );
        // The server certificate has only serverAuth.
        let server = vec![pki("server-cert.pem"), pki("pki/inter.pem")];
        let f = validate(&server, &store, Some(issued + 60), "clientAuth", &mut ctx).unwrap();
        assert_eq!(
            f.reason,
            "its extended key usage (serverAuth) does not include clientAuth"
        );
        assert!(validate(&server, &store, Some(issued + 60), "serverAuth", &mut ctx).is_none());
        // The client sends its own root: the path ends there, outside the store.
        let mallory = vec![
            pki("pki/client-untrusted.pem"),
            pki("pki/untrusted-root.pem"),
        ];
        let f = validate(&mallory, &store, None, "clientAuth", &mut ctx).unwrap();
        assert_eq!(
            f.reason,
            "the chain ends at CN=Untrusted Client Root CA,O=Untrusted Org,C=US, which is not in the trust store"
        );
        assert_eq!(f.path.len(), 2);
        assert!(f.path[1].ends_with("(sent)"));
        // A certificate sent in place of the intermediate does not help.
        let wrong = vec![pki("pki/client.pem"), pki("server-cert.pem")];
        let f = validate(&wrong, &store, None, "clientAuth", &mut ctx).unwrap();
        assert!(
            f.reason.contains("neither in the trust store nor sent"),
            "{}",
            f.reason
        );
    }
}

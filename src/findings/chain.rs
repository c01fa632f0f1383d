//! Rules on the server's certificate chain: shape (self-issued intermediates, roots, order,
//! self-signed leaves) and each certificate's validity, key and EKU. `validity_rules` is shared
//! with the client chain.

use std::sync::Arc;

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::handshake::CertificateMsgInfo;
use crate::tls::HandshakeMessage;
use crate::x509::{CertInfo, Verification};

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "chain-self-issued-intermediate",
        severity: Severity::Error,
        title: "Server chain holds an intermediate whose Subject equals its Issuer but is not self-signed",
        cause: "A certificate after the leaf has the same name as Subject and Issuer, yet its own key does not verify its signature: it is an intermediate that carries its issuer's name. Schannel takes any certificate whose Subject equals its Issuer for a self-signed root, does not send it, and clients then lack the intermediate (and the key that signed the leaf). It is an error even where this connection completed: the client here had the intermediate (sent by a non-Schannel server, or cached), while clients without it cached, and any client of a Schannel server sending this chain, fail to build the path.",
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
        cause: "A certificate of the server chain was past its notAfter date when the Certificate message was captured. Where the handshake completed, this client did not check validity (or was told to ignore it); browsers, Schannel and other verifying clients refuse the server.",
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
];

pub(super) fn validity_rules(
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
pub(super) fn endpoint_ip(ep: &str) -> String {
    let host = ep.rsplit_once(':').map(|(h, _)| h).unwrap_or(ep);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

pub(super) fn weak_key(
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

pub(super) fn server_chain(
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

//! Rules on signature algorithms and certificate types: what the CertificateRequest accepts
//! (`certificate_types`, `supported_signature_algorithms`) against the client's certificate, its
//! chain and its CertificateVerify; and what the ClientHello offers (`signature_algorithms_cert`,
//! else `signature_algorithms`) against the server's chain.

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::handshake::{cert_type_name, sigalg_name, CertificateMsgInfo};
use crate::tls::{Detail, Direction, HandshakeMessage};
use crate::x509::CertInfo;

const RFC5246_SIGALGS: &str =
    "RFC 5246 section 7.4.4 and 7.4.6 (certificate_types, supported_signature_algorithms)";
const RFC8446_SIGALGS: &str =
    "RFC 8446 section 4.2.3 (signature_algorithms, signature_algorithms_cert)";

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "client-cert-key-type-not-requested",
        severity: Severity::Error,
        title: "The client certificate's key type is not among those the server requested",
        cause: "The CertificateRequest lists the certificate types (rsa_sign, ecdsa_sign...) and signature algorithms the server accepts. The client's certificate has a key of a type the request excludes (for example an ECDSA key when only rsa_sign and RSA algorithms are listed), so it cannot sign a CertificateVerify the server accepts. Clients that follow RFC 5246 then send no certificate; others send it and the server aborts.",
        evidence: "The CertificateRequest's certificate types and signature algorithms, and the client certificate's key type.",
        fix: "Issue the client a certificate with an accepted key type (usually RSA), or configure the server to accept the client's (for OpenSSL-based servers the client signature algorithms setting, e.g. ClientSignatureAlgorithms / -client_sigalgs).",
        refs: &[RFC5246_SIGALGS, RFC8446_SIGALGS],
    },
    CodeDoc {
        code: "client-chain-sigalg-not-listed",
        severity: Severity::Warning,
        title: "The client's chain is signed with an algorithm the server did not list",
        cause: "In TLS 1.2 every certificate the client provides must be signed with an algorithm from the CertificateRequest's supported_signature_algorithms (RFC 5246 7.4.6). A certificate of the client's chain uses another one (for example ecdsa-with-SHA512 when only SHA-256 algorithms are listed). Strict clients then withhold the certificate (an empty Certificate) and servers that check refuse it; OpenSSL servers do not check, so such connections can succeed.",
        evidence: "Each certificate of the client chain whose signature algorithm is not in the list, and the list.",
        fix: "Add the algorithm to the server's list of client signature algorithms, or reissue the certificate (or intermediate) with a listed algorithm (SHA-256 is accepted everywhere).",
        refs: &[RFC5246_SIGALGS],
    },
    CodeDoc {
        code: "client-verify-sigalg-not-listed",
        severity: Severity::Error,
        title: "The client's CertificateVerify uses an algorithm the server did not list",
        cause: "The client signed its CertificateVerify with a signature algorithm that is not in the CertificateRequest's list. Servers refuse this with alert illegal_parameter (47) or decrypt_error (51).",
        evidence: "The CertificateVerify's algorithm and the CertificateRequest's list.",
        fix: "Update the client's TLS stack (it should pick a listed algorithm), or list the algorithm on the server.",
        refs: &[RFC5246_SIGALGS, RFC8446_SIGALGS],
    },
    CodeDoc {
        code: "cert-request-restrictive",
        severity: Severity::Warning,
        title: "The CertificateRequest excludes common key types or signature algorithms",
        cause: "The client answered the CertificateRequest without a certificate, and the request accepts only some key types or signature algorithms. A client whose certificate has another key type (an ECDSA key when only rsa_sign is listed), or whose chain is signed with an algorithm not listed (SHA-384, SHA-512, RSA-PSS), has no suitable certificate and, following RFC 5246 7.4.6, sends none: the server then aborts with handshake_failure (40) or answers 403.7.",
        evidence: "The CertificateRequest's certificate types and signature algorithms, what they exclude, and the client's empty Certificate.",
        fix: "Compare the client certificate's key type and its chain's signature algorithms with the lists; widen the server's client signature algorithms (or certificate types), or issue the client a certificate that fits.",
        refs: &[RFC5246_SIGALGS],
    },
    CodeDoc {
        code: "server-chain-sigalg-not-offered",
        severity: Severity::Warning,
        title: "The server's chain is signed with an algorithm the client did not offer",
        cause: "The ClientHello lists the signature algorithms the client accepts in certificates (signature_algorithms_cert, else signature_algorithms). A certificate of the server's chain is signed with another one. Strict clients abort (bad_certificate 42, unsupported_certificate 43, handshake_failure 40); many accept it anyway.",
        evidence: "The certificate, its signature algorithm and the client's list.",
        fix: "Serve a chain signed with an algorithm the clients offer (for old clients, SHA-256 RSA), or update the clients.",
        refs: &[RFC8446_SIGALGS, RFC5246_SIGALGS],
    },
];

/// TLS SignatureSchemes a certificate's signature algorithm corresponds to (several for
/// RSASSA-PSS, whose hash is in the parameters); empty when unknown.
fn schemes_of(cert: &CertInfo) -> &'static [u16] {
    let Some(alg) = cert.signature_algorithm.as_deref() else {
        return &[];
    };
    match alg.to_ascii_lowercase().as_str() {
        "sha1withrsaencryption" => &[0x0201],
        "sha256withrsaencryption" => &[0x0401],
        "sha384withrsaencryption" => &[0x0501],
        "sha512withrsaencryption" => &[0x0601],
        "ecdsa-with-sha1" => &[0x0203],
        "ecdsa-with-sha256" => &[0x0403],
        "ecdsa-with-sha384" => &[0x0503],
        "ecdsa-with-sha512" => &[0x0603],
        "rsassa-pss" | "rsassapss" | "id-rsassa-pss" => {
            &[0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b]
        }
        "ed25519" => &[0x0807],
        "ed448" => &[0x0808],
        _ => &[],
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    Ecdsa,
    Ed25519,
}

fn key_type(cert: &CertInfo) -> Option<KeyType> {
    let key = cert.key.as_deref()?;
    if key.starts_with("RSA") {
        Some(KeyType::Rsa)
    } else if key.starts_with("EC") {
        Some(KeyType::Ecdsa)
    } else if key.eq_ignore_ascii_case("ed25519") {
        Some(KeyType::Ed25519)
    } else {
        None
    }
}

fn key_word(k: KeyType) -> &'static str {
    match k {
        KeyType::Rsa => "RSA",
        KeyType::Ecdsa => "ECDSA",
        KeyType::Ed25519 => "Ed25519",
    }
}

/// A signature algorithm that signs with a key of this type (TLS 1.2 numbering: the low byte
/// is the signature for the classic pairs).
fn signs_with(id: u16, k: KeyType) -> bool {
    match k {
        KeyType::Rsa => id & 0xff == 1 || (0x0804..=0x0806).contains(&id),
        KeyType::Ecdsa => id & 0xff == 3 && id >> 8 <= 6,
        KeyType::Ed25519 => id == 0x0807,
    }
}

fn type_allows(types: &[u8], k: KeyType) -> bool {
    types.is_empty()
        || match k {
            KeyType::Rsa => types.iter().any(|t| matches!(t, 1 | 3 | 65)),
            KeyType::Ecdsa | KeyType::Ed25519 => types.iter().any(|t| matches!(t, 64 | 66)),
        }
}

fn names(ids: &[u16]) -> String {
    ids.iter()
        .map(|&a| sigalg_name(a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Signature algorithms CAs commonly sign client chains with; a list without some of them is
/// restrictive. RSA-PSS is left out: certificates rarely use it and Schannel before Windows 10
/// does not list it, so its absence would flag every older IIS.
const COMMON: &[u16] = &[0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603];

/// The signature-algorithm rules of one connection.
pub(super) fn sigalg_rules(c: &ConnectionReport, out: &mut Vec<Finding>) {
    let failed = matches!(
        c.outcome.status,
        OutcomeStatus::Failed | OutcomeStatus::Refused
    );
    let severity_for = |f: &mut Finding| {
        if !failed && f.severity > Severity::Warning {
            f.severity = Severity::Warning;
            f.explanation.push_str(
                " This connection did not fail on it: this server accepted it; stricter peers will not.",
            );
        }
    };
    let mut msgs: Vec<&HandshakeMessage> = c.messages.iter().collect();
    msgs.sort_by_key(|m| (m.frame, m.seq));
    let filter_cr = filter_for(
        c.stream,
        "(tls.handshake.type == 13 || tls.handshake.type == 11)",
    );
    for (i, m) in msgs.iter().enumerate() {
        match &m.detail {
            Some(Detail::CertificateRequest(cr)) if cr.layout != "tls1.0" => {
                // The client's answer: its next Certificate and CertificateVerify.
                let rest = &msgs[i + 1..];
                let answer = rest.iter().find(|x| {
                    x.direction == Direction::Client
                        && matches!(x.detail, Some(Detail::Certificate(_)))
                });
                let verify = rest.iter().find(|x| {
                    x.direction == Direction::Client
                        && matches!(x.detail, Some(Detail::CertificateVerify { .. }))
                });
                let listed = &cr.sigalg_ids;
                let types: Vec<&str> = cr.cert_types.iter().map(|&t| cert_type_name(t)).collect();
                let cert = answer.and_then(|a| match &a.detail {
                    Some(Detail::Certificate(x)) => Some((*a, x)),
                    _ => None,
                });
                match cert {
                    Some((a, x)) if !x.empty => {
                        client_chain(c, m, a, x, listed, &cr.cert_types, &types, out);
                        if let (Some(v), Some(Detail::CertificateVerify { sigalg_id, .. })) =
                            (verify, verify.and_then(|v| v.detail.as_ref()))
                        {
                            if !listed.is_empty() && !listed.contains(sigalg_id) {
                                let mut f = finding(
                                    "client-verify-sigalg-not-listed",
                                    c,
                                    format!(
                                        "The client's CertificateVerify uses {}, which the server did not list",
                                        sigalg_name(*sigalg_id)
                                    ),
                                    format!(
                                        "The CertificateVerify in frame {} is signed with {}; the CertificateRequest (frame {}) lists {}.",
                                        v.frame,
                                        sigalg_name(*sigalg_id),
                                        m.frame,
                                        names(listed)
                                    ),
                                    vec![m.frame, v.frame],
                                    filter_for(c.stream, "(tls.handshake.type == 13 || tls.handshake.type == 15)"),
                                );
                                severity_for(&mut f);
                                out.push(f);
                            }
                        }
                    }
                    Some((a, _)) => {
                        // An empty Certificate: say what the request excluded.
                        let mut excluded = Vec::new();
                        for k in [KeyType::Rsa, KeyType::Ecdsa] {
                            let by_type = !type_allows(&cr.cert_types, k);
                            let by_alg =
                                !listed.is_empty() && !listed.iter().any(|&id| signs_with(id, k));
                            if by_type || by_alg {
                                excluded.push(format!("{} keys", key_word(k)));
                            }
                        }
                        let missing: Vec<u16> = if listed.is_empty() {
                            Vec::new()
                        } else {
                            COMMON
                                .iter()
                                .copied()
                                .filter(|a| !listed.contains(a))
                                .collect()
                        };
                        if excluded.is_empty() && missing.is_empty() {
                            continue;
                        }
                        let mut what = Vec::new();
                        let mut short = Vec::new();
                        if !excluded.is_empty() {
                            what.push(excluded.join(" and "));
                            short.push(excluded.join(" and "));
                        }
                        if !missing.is_empty() {
                            what.push(format!("chains signed with {}", names(&missing)));
                            short.push(format!(
                                "chains signed with {} common algorithm(s)",
                                missing.len()
                            ));
                        }
                        let mut f = finding(
                            "cert-request-restrictive",
                            c,
                            format!(
                                "The CertificateRequest excludes {}: a client with such a certificate sends none",
                                short.join(" and ")
                            ),
                            format!(
                                "The CertificateRequest (frame {}) accepts certificate types {} and signature algorithms {}. It excludes {}. The client answered with an empty Certificate in frame {}: if its certificate has an excluded key type, or its chain an excluded signature algorithm, it had no suitable certificate (RFC 5246 7.4.6).",
                                m.frame,
                                if types.is_empty() { "(any)".to_string() } else { types.join(", ") },
                                if listed.is_empty() { "(not listed)".to_string() } else { names(listed) },
                                what.join("; "),
                                a.frame
                            ),
                            vec![m.frame, a.frame],
                            filter_cr.clone(),
                        );
                        if c.outcome.status == OutcomeStatus::Completed {
                            // The server went on without a certificate: only a hint.
                            f.severity = Severity::Info;
                        }
                        out.push(f);
                    }
                    None => {}
                }
            }
            Some(Detail::Certificate(x)) if m.direction == Direction::Server && !x.empty => {
                server_chain(c, &msgs[..i], m, x, &mut *out, failed);
            }
            _ => {}
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn client_chain(
    c: &ConnectionReport,
    cr_msg: &HandshakeMessage,
    answer: &HandshakeMessage,
    x: &CertificateMsgInfo,
    listed: &[u16],
    cert_types: &[u8],
    types: &[&str],
    out: &mut Vec<Finding>,
) {
    let failed = matches!(
        c.outcome.status,
        OutcomeStatus::Failed | OutcomeStatus::Refused
    );
    let filter = filter_for(
        c.stream,
        "(tls.handshake.type == 13 || tls.handshake.type == 11)",
    );
    let Some(leaf) = x.certificates.first() else {
        return;
    };
    if let Some(k) = key_type(leaf) {
        let by_type = !type_allows(cert_types, k);
        let by_alg = !listed.is_empty() && !listed.iter().any(|&id| signs_with(id, k));
        if by_type || by_alg {
            let mut f = finding(
                "client-cert-key-type-not-requested",
                c,
                format!(
                    "The client certificate has an {} key, which the CertificateRequest does not accept",
                    key_word(k)
                ),
                format!(
                    "The client certificate {} (frame {}) has an {} key; the CertificateRequest (frame {}) accepts certificate types {} and signature algorithms {}.",
                    leaf.subject,
                    answer.frame,
                    key_word(k),
                    cr_msg.frame,
                    if types.is_empty() { "(any)".to_string() } else { types.join(", ") },
                    if listed.is_empty() { "(not listed)".to_string() } else { names(listed) }
                ),
                vec![cr_msg.frame, answer.frame],
                filter.clone(),
            );
            if !failed {
                f.severity = Severity::Warning;
                f.explanation.push_str(" This server accepted it anyway.");
            }
            out.push(f);
        }
    }
    if listed.is_empty() {
        return;
    }
    let off: Vec<String> = x
        .certificates
        .iter()
        .enumerate()
        // A self-signed root's own signature is never checked.
        .filter(|(_, cert)| cert.self_signed != Some(true))
        .filter(|(_, cert)| {
            let s = schemes_of(cert);
            !s.is_empty() && !s.iter().any(|a| listed.contains(a))
        })
        .map(|(i, cert)| {
            format!(
                "[{i}] {} signed with {}",
                cert.subject,
                cert.signature_algorithm.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if off.is_empty() {
        return;
    }
    let mut f = finding(
        "client-chain-sigalg-not-listed",
        c,
        format!(
            "The client's chain is signed with an algorithm the server did not list ({})",
            off[0]
        ),
        format!(
            "The CertificateRequest (frame {}) lists the signature algorithms {}. In the client's chain (frame {}): {}. Strict clients withhold such a certificate and servers that check refuse it.",
            cr_msg.frame,
            names(listed),
            answer.frame,
            off.join("; ")
        ),
        vec![cr_msg.frame, answer.frame],
        filter,
    );
    if failed {
        f.severity = Severity::Error;
    } else {
        f.explanation
            .push_str(" This server accepted it (the connection did not fail on it).");
    }
    out.push(f);
}

fn server_chain(
    c: &ConnectionReport,
    before: &[&HandshakeMessage],
    m: &HandshakeMessage,
    x: &CertificateMsgInfo,
    out: &mut Vec<Finding>,
    failed: bool,
) {
    // The ClientHello of this handshake: the last one before the Certificate.
    let Some(Detail::ClientHello(ch)) = before
        .iter()
        .rev()
        .find(|h| matches!(h.detail, Some(Detail::ClientHello(_))))
        .and_then(|h| h.detail.as_ref())
    else {
        return;
    };
    let offered = if ch.sigalg_cert_ids.is_empty() {
        &ch.sigalg_ids
    } else {
        &ch.sigalg_cert_ids
    };
    if offered.is_empty() {
        return;
    }
    let off: Vec<String> = x
        .certificates
        .iter()
        .enumerate()
        .filter(|(_, cert)| cert.self_signed != Some(true))
        .filter(|(_, cert)| {
            let s = schemes_of(cert);
            !s.is_empty() && !s.iter().any(|a| offered.contains(a))
        })
        .map(|(i, cert)| {
            format!(
                "[{i}] {} signed with {}",
                cert.subject,
                cert.signature_algorithm.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if off.is_empty() {
        return;
    }
    let mut f = finding(
        "server-chain-sigalg-not-offered",
        c,
        format!(
            "The server's chain is signed with an algorithm the client did not offer ({})",
            off[0]
        ),
        format!(
            "The ClientHello offers {} ({}). In the server's chain (frame {}): {}.",
            names(offered),
            if ch.sigalg_cert_ids.is_empty() {
                "signature_algorithms"
            } else {
                "signature_algorithms_cert"
            },
            m.frame,
            off.join("; ")
        ),
        vec![m.frame],
        filter_for(
            c.stream,
            "(tls.handshake.type == 1 || tls.handshake.type == 11)",
        ),
    );
    if failed {
        f.severity = Severity::Error;
    }
    out.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_families() {
        assert!(signs_with(0x0401, KeyType::Rsa));
        assert!(signs_with(0x0804, KeyType::Rsa));
        assert!(!signs_with(0x0403, KeyType::Rsa));
        assert!(signs_with(0x0603, KeyType::Ecdsa));
        assert!(!signs_with(0x0807, KeyType::Ecdsa));
        assert!(type_allows(&[1], KeyType::Rsa));
        assert!(!type_allows(&[1], KeyType::Ecdsa));
        assert!(type_allows(&[], KeyType::Ecdsa));
        assert_eq!(sigalg_name(0x0603), "ecdsa_secp521r1_sha512");
        assert_eq!(sigalg_name(0x0402), "dsa_sha256");
        assert_eq!(sigalg_name(0x0301), "rsa_pkcs1_sha224");
        assert_eq!(sigalg_name(0xfafa), "0xfafa");
    }
}

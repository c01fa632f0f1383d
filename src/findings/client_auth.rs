//! Rules on the client's answer to a CertificateRequest: no certificate, an issuer the server did
//! not ask for, validity, EKU and revocation information; and the connection's client-auth summary.

use super::catalog::*;
use super::chain::{endpoint_ip, validity_rules, weak_key};
use super::*;
use crate::model::*;
use crate::tls::handshake::CertificateRequestInfo;
use crate::tls::inference::InferredAuth;
use crate::tls::{Detail, Direction, HandshakeMessage};

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "client-cert-empty",
        severity: Severity::Error,
        title: "Client answered the CertificateRequest without a certificate",
        cause: "The server asked for a client certificate and the client sent a Certificate message holding none. It is an error where the handshake then failed or the server answered 403/401; where the server went on without a certificate (the handshake completed), client certificates are optional there and the finding is informational. Clients do this when no certificate in their store is issued by a CA named in the CertificateRequest (a truncated or wrong CA list is a common reason), when the certificate's private key is missing or not usable, or when the application was not given a certificate. IIS answers such a request with 403.7.",
        evidence: "The CertificateRequest (CA names, list size) and the empty client Certificate. Without keys (TLS 1.2 renegotiation, TLS 1.3) the same finding is inferred from encrypted record sizes: the client's Certificate record holds exactly an empty Certificate (TLS 1.2: 7 bytes; TLS 1.3: 8 plus the request context) after a flight that holds a CertificateRequest; the text says so and gives the records and the arithmetic.",
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
        cause: "No certificate of the chain the client sent was issued by (or is) one of the CAs in the CertificateRequest, comparing the names byte for byte and then in canonical form (case, spaces and string types ignored). The list is a hint to the client: where the handshake then fails or the server answers 403, the server could not build a trusted chain (IIS answers 403.16, other servers alert unknown_ca 48); where the server accepted the certificate (the handshake completed), it trusts more than it lists and the finding is informational.",
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
];

pub(super) fn client_auth(
    c: &ConnectionReport,
    crs: &[(&HandshakeMessage, &CertificateRequestInfo)],
    ca_list_flagged: bool,
    ctx: &mut FindingsContext,
    out: &mut Vec<Finding>,
) -> ClientAuthSummary {
    let mut summary = ClientAuthSummary {
        requested: (!crs.is_empty()).then_some(true),
        client_certificate: "not-visible",
        issuer_match: None,
        inferred: false,
        evidence: Vec::new(),
        inference: None,
    };
    // A request told from encrypted record sizes, later than any request seen in clear, is
    // the exchange the connection ended with.
    let last_seen = crs.last().map(|(m, _)| m.frame);
    if let Some(a) = c
        .inferred
        .iter()
        .rev()
        .find(|a| a.requested == Some(true) && last_seen.is_none_or(|f| a.first_frame > f))
    {
        inferred_answer(c, a, ca_list_flagged, &mut summary, out);
        return summary;
    }
    let Some(&(cr_msg, cr)) = crs.last() else {
        summary.requested = not_requested(c, &mut summary);
        return summary;
    };
    // The client's answer: its first Certificate after this CertificateRequest.
    let answer = c.messages.iter().find(|m| {
        m.direction == Direction::Client
            && m.frame >= cr_msg.frame
            && matches!(m.detail, Some(Detail::Certificate(_)))
    });
    let list_desc = format!(
        "The CertificateRequest (frame {}) named {} CA{} in {} bytes",
        cr_msg.frame,
        cr.ca_names.len(),
        if cr.ca_names.len() == 1 { "" } else { "s" },
        fmt_bytes(cr.ca_list_bytes)
    );
    let Some(answer) = answer else {
        let client_spoke = c.tcp.client.segments > 0 || c.tcp.client.bytes > 0;
        if client_spoke && missing_certificate(c, cr_msg, &list_desc, out) {
            summary.client_certificate = "missing";
        }
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
        revocation_info(c, answer, leaf, chain, &cert_filter, ctx, out);
    }
    summary
}

/// Whether the capture shows that no client certificate was asked for: `Some(false)` only
/// where every handshake is visible (in clear, decrypted, or told from record sizes);
/// `None` where one is hidden.
fn not_requested(c: &ConnectionReport, summary: &mut ClientAuthSummary) -> Option<bool> {
    let tls13 = c.tls_version.as_deref() == Some("TLS 1.3");
    let server_done = c.messages.iter().any(|m| {
        m.direction == Direction::Server
            && (m.kind == "server_hello_done" || (tls13 && m.kind == "finished"))
    });
    let inferred_no = |kind: &str| {
        let of_kind: Vec<_> = c.inferred.iter().filter(|a| a.handshake == kind).collect();
        !of_kind.is_empty() && of_kind.iter().all(|a| a.requested == Some(false))
    };
    let mut used = None;
    let main_known = if server_done {
        true
    } else if tls13 && inferred_no("initial") {
        used = c.inferred.iter().find(|a| a.handshake == "initial");
        true
    } else {
        false
    };
    // Encrypted renegotiations not decrypted must all be told to hold no request.
    let reneg_hidden = c.encrypted_handshake.iter().any(|e| e.after_finished);
    let reneg_known = !reneg_hidden || inferred_no("renegotiation");
    if reneg_hidden && reneg_known {
        used = used.or(c.inferred.iter().find(|a| a.handshake == "renegotiation"));
    }
    // TLS 1.3 post-handshake authentication hides among application data: where the client
    // offered it and the records were not decrypted, a request cannot be ruled out.
    let pha_possible = tls13
        && c.decryption.status != "decrypted"
        && c.messages
            .iter()
            .any(|m| matches!(&m.detail, Some(Detail::ClientHello(ch)) if ch.post_handshake_auth));
    if !(main_known && reneg_known) || pha_possible {
        return None;
    }
    if let Some(a) = used {
        summary.inferred = true;
        summary.evidence = a.evidence.clone();
        summary.inference = Some(a.clone());
    }
    Some(false)
}

/// The client-certificate exchange told from encrypted record sizes: the summary and the
/// findings a decrypted exchange would give (same codes), saying they were inferred.
fn inferred_answer(
    c: &ConnectionReport,
    a: &InferredAuth,
    ca_list_flagged: bool,
    summary: &mut ClientAuthSummary,
    out: &mut Vec<Finding>,
) {
    summary.requested = Some(true);
    summary.inferred = true;
    summary.evidence = a.evidence.clone();
    summary.inference = Some(a.clone());
    summary.client_certificate = a.client_certificate.unwrap_or("not-visible");
    if a.client_certificate != Some("empty") {
        return;
    }
    let cr_frame = a.certificate_request_frame.unwrap_or(a.first_frame);
    let cert_frame = a.client_certificate_frame.unwrap_or(cr_frame);
    let list = a
        .ca_list_bytes
        .map(|d| format!(" with a CA list of {d} bytes"))
        .unwrap_or_default();
    let truncation = if ca_list_flagged {
        " The CA list is large enough to be cut by Schannel (see the ca-list finding): truncation of the list is the likely cause."
    } else {
        ""
    };
    out.push(finding(
        "client-cert-empty",
        c,
        "The client sent no certificate (inferred from encrypted record sizes)".into(),
        format!(
            "Inferred from encrypted record sizes (no keys needed): the server sent a CertificateRequest (frame {cr_frame}){list} in the {}, and the client answered with an empty Certificate in frame {cert_frame}. Usual causes: no certificate in the client's store is issued by one of the listed CAs, its private key is missing or not usable, or the application was not configured with one. IIS answers such a request with 403.7.{truncation}\n  The arithmetic:\n{}",
            a.handshake.replace('-', " "),
            a.evidence
                .iter()
                .map(|e| format!("    {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        vec![cr_frame, cert_frame],
        filter_for(c.stream, &format!("frame.number in {{{cr_frame} {cert_frame}}}")),
    ));
}

/// The server asked and no client Certificate followed: says what ended the handshake. False
/// when the capture ends before the client could answer (nothing is known missing).
fn missing_certificate(
    c: &ConnectionReport,
    cr_msg: &HandshakeMessage,
    list_desc: &str,
    out: &mut Vec<Finding>,
) -> bool {
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
        format!(
            "the client sent a no_certificate alert (41) in frame {} (SSLv3's way of declining)",
            a.frame
        )
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
        "the client went on without a Certificate message (a protocol violation, or a lost segment)"
            .into()
    } else if c.tcp.ended_by == "fin" {
        "the connection was closed without an answer".into()
    } else {
        // The capture ends before the client answered: nothing went wrong that the capture
        // shows, and the connection's outcome (incomplete) already says where it ends.
        return false;
    };
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
    true
}

/// The CRL, OCSP and CA-issuer URLs the server must reach to accept the client's chain, and
/// whether the capture holds traffic to their hosts.
fn revocation_info(
    c: &ConnectionReport,
    answer: &HandshakeMessage,
    leaf: &CertInfo,
    chain: &[std::sync::Arc<CertInfo>],
    cert_filter: &str,
    ctx: &FindingsContext,
    out: &mut Vec<Finding>,
) {
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
            cert_filter.to_string(),
        ));
    }
}

/// Host of an http(s)/ldap URL.
pub(super) fn url_host(url: &str) -> Option<String> {
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

//! Rules on the CertificateRequest's CA list (Schannel's 16 KB limit, large and empty lists)
//! and on handshake messages past Schannel's MessageLimit values.

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::handshake::CertificateRequestInfo;
use crate::tls::inference::InferredAuth;
use crate::tls::{Direction, HandshakeMessage};

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "ca-list-over-limit",
        severity: Severity::Error,
        title: "CertificateRequest CA list at or above Schannel's 16 KB limit",
        cause: "The server sends the names of the CAs it trusts for client certificates in its CertificateRequest. Windows Schannel truncates this list at 16,384 bytes (logging event 36885); a connection that completed here does not clear it: the clients that break are those whose certificate's issuer lies past the cut, or that refuse an over-long list, and clients choose a certificate by matching its issuer against the list: CAs cut off the end of the list, or a list a client refuses as too long, leave the client with no matching certificate, so it sends none (IIS answers 403.7) or the wrong one (403.16).",
        evidence: "The CertificateRequest's CA list byte size as on the wire (tshark's tls.handshake.dnames_len), the number of names, the ten largest names, the names that lie past byte 16,384 (those a Schannel server would not send), the number of TLS records the message spanned, and whether the list looks cut short. Without keys (encrypted renegotiation, TLS 1.3) the list's size range is inferred from the encrypted CertificateRequest record(s), and the finding fires when even the smallest size that fits is at or above the limit.",
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
];

/// CA-list rules for one CertificateRequest; returns true when a size finding fired.
pub(super) fn ca_list(
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

pub(super) fn message_size(
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
    let title = m.title();
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

/// The 16 KB and warning checks on a CA list whose size was told from encrypted record sizes:
/// they fire when the list is over the limit even at its smallest possible size. Returns true
/// when a size finding fired.
pub(super) fn inferred_size(
    c: &ConnectionReport,
    a: &InferredAuth,
    ctx: &FindingsContext,
    out: &mut Vec<Finding>,
) -> bool {
    let (Some(d), Some(frame)) = (a.ca_list_bytes, a.certificate_request_frame) else {
        return false;
    };
    let code = if d.min >= SCHANNEL_CA_LIST_LIMIT {
        "ca-list-over-limit"
    } else if d.min >= ctx.thresholds.ca_list_warn_bytes {
        "ca-list-large"
    } else {
        return false;
    };
    let arithmetic: Vec<String> = a.evidence.iter().map(|e| format!("    {e}")).collect();
    out.push(finding(
        code,
        c,
        format!(
            "CA list of {} to {} bytes (inferred from encrypted record sizes) is {} Schannel's 16 KB limit",
            fmt_bytes(d.min),
            fmt_bytes(d.max),
            if code == "ca-list-over-limit" { "at or above" } else { "close to" }
        ),
        format!(
            "Inferred from encrypted record sizes (no keys needed): the CertificateRequest completed in frame {frame} carries a CA list of {} to {} bytes, {} the 16,384 bytes Windows Schannel handles even at its smallest possible size. Schannel cuts the list it sends at 16,384 bytes (event 36885, KB 933430); clients match their certificates' issuers against this list, so a cut list makes them find no suitable certificate and send none (IIS 403.7) or a wrong one (403.16). The names themselves need a key log.\n  The arithmetic:\n{}",
            fmt_bytes(d.min),
            fmt_bytes(d.max),
            if code == "ca-list-over-limit" {
                "at or above"
            } else {
                "close to (at least the warning threshold) if not above"
            },
            arithmetic.join("\n")
        ),
        vec![frame],
        filter_for(c.stream, &format!("frame.number == {frame}")),
    ));
    true
}

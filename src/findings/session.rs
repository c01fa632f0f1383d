//! Rules on session resumption: an abbreviated handshake (TLS <= 1.2 session ID or ticket,
//! TLS 1.3 PSK) has no CertificateRequest, so the client identity is the earlier session's.

use super::catalog::*;
use super::*;
use crate::model::*;

const RFC5077: &str = "RFC 5077 (TLS session resumption without server-side state)";
const RFC8446_PSK: &str = "RFC 8446 section 2.2 and 4.6.1 (resumption and PSK)";

pub(super) const DOCS: &[CodeDoc] = &[CodeDoc {
    code: "session-resumed",
    severity: Severity::Info,
    title: "Handshake resumed an earlier session",
    cause: "The handshake resumed an earlier TLS session (the server echoed the session ID the client offered, accepted its session ticket, or accepted a TLS 1.3 pre-shared key). A resumed handshake is abbreviated: the server sends no CertificateRequest and the client no Certificate, so no client certificate can be asked for here; the client's identity, if any, is the one authenticated in the earlier full handshake. If that session had no client certificate, a server that requires one (IIS answers 403.7) refuses the request without asking again.",
    evidence: "The ServerHello that resumed the session and how (session-id, session-ticket, psk).",
    fix: "Nothing if the earlier session carried the client certificate. Otherwise make the client start a full handshake (clear its session cache), or make the server require the certificate in the first handshake (IIS: SslNegotiateCert / negotiateClientCert) so that every resumable session carries it.",
    refs: &[RFC5246_CR, RFC5077, RFC8446_PSK],
}];

pub(super) fn resumption(c: &ConnectionReport, out: &mut Vec<Finding>) {
    let refused = c.http.iter().any(|x| matches!(x.status, Some(401 | 403)));
    for (i, h) in c.handshakes.iter().enumerate() {
        let Some(how) = h.resumed else { continue };
        let hello = c.messages.iter().find(|m| {
            m.frame >= h.first_frame
                && matches!(&m.detail, Some(Detail::ServerHello(sh)) if sh.resumed.is_some())
        });
        let frame = hello.map_or(h.first_frame, |m| m.frame);
        let how_words = match how {
            "session-ticket" => "its session ticket",
            "psk" => "a TLS 1.3 pre-shared key",
            _ => "its session ID",
        };
        let mut explanation = format!(
            "The {} handshake{} resumed an earlier session through {how_words} (ServerHello in frame {frame}): an abbreviated handshake has no CertificateRequest, so no client certificate could be asked for or sent in it; the client identity is the one authenticated in the earlier session.",
            h.kind.replace('-', " "),
            if c.handshakes.len() > 1 {
                format!(" (handshake {})", i + 1)
            } else {
                String::new()
            }
        );
        if refused {
            explanation.push_str(" The server refused a request on this connection (401/403): if the earlier session had no client certificate, resuming it cannot add one.");
        }
        out.push(finding(
            "session-resumed",
            c,
            format!("The handshake resumed an earlier session ({how})"),
            explanation,
            vec![frame],
            filter_for(c.stream, "tls.handshake.type == 2"),
        ));
    }
}

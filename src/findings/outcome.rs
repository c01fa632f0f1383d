//! Rules on how the handshake ended: fatal alerts and resets before it completed, renegotiation
//! hidden under encryption, and TLS 1.3 client authentication that cannot be seen.

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::{Detail, Direction};

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "handshake-failed",
        severity: Severity::Error,
        title: "The handshake failed",
        cause: "A fatal alert, a TCP reset or a close (FIN) ended the connection before the handshake completed. The alert names the reason as seen by its sender: 40 handshake_failure, 42 bad_certificate, 45 certificate_expired, 46 certificate_unknown, 48 unknown_ca, 116 certificate_required...",
        evidence: "The alert (level, description, sender) or the reset, and the finding that explains it when there is one.",
        fix: "Follow the linked finding; otherwise the alert's sender logs the detailed reason.",
        refs: &[RFC8446_ALERTS, "RFC 5246 section 7.2 (alerts)"],
    },
    CodeDoc {
        code: "renegotiation-refused",
        severity: Severity::Error,
        title: "A renegotiation was declined",
        cause: "One side asked for a new handshake on the established connection (a client's ClientHello, or a server's HelloRequest to ask for a client certificate as IIS does) and the other declined it with a no_renegotiation warning alert (100). Servers that disable client-initiated renegotiation (OpenSSL's SSL_OP_NO_RENEGOTIATION, most current servers) answer so; a client that refuses a server's request for a certificate this way makes IIS answer 403.7.",
        evidence: "The renegotiation's first message, the no_renegotiation alert and its sender, what followed (a fatal alert, the request that triggered it and whether it got a response).",
        fix: "Make the server ask for the client certificate in the initial handshake (IIS: netsh http sslcert clientcertnegotiation=enable; Apache: SSLVerifyClient outside <Location>), or allow the renegotiation on the side that refused it.",
        refs: &[RFC5746, "RFC 5246 section 7.2.2 (no_renegotiation)"],
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
        code: "tls13-client-auth-hidden",
        severity: Severity::Info,
        title: "TLS 1.3: client authentication is encrypted",
        cause: "TLS 1.3 encrypts everything after ServerHello, including the CertificateRequest and the client's Certificate. Whether a client certificate was asked for or sent cannot be seen without keys.",
        evidence: "The negotiated version; whether the client offered post-handshake authentication.",
        fix: "Capture with a key log (SSLKEYLOGFILE) and decrypt, or test with TLS 1.2.",
        refs: &[RFC8446_CR],
    },
];

/// Renegotiations and post-handshake authentications that failed or were refused, with the
/// HTTP request that triggered them.
fn later_handshakes(c: &ConnectionReport, out: &mut Vec<Finding>) {
    for h in c.handshakes.iter().skip(1) {
        let code = match h.outcome.status {
            OutcomeStatus::Failed => "handshake-failed",
            OutcomeStatus::Refused => "renegotiation-refused",
            _ => continue,
        };
        let what = h.kind.replace('-', " ");
        let trigger = c
            .http
            .iter()
            .rfind(|x| x.request_frame.is_some_and(|f| f <= h.first_frame))
            .map(|x| {
                let request = match (&x.method, &x.target) {
                    (Some(m), Some(t)) => format!("{m} {t}"),
                    _ => "a request".into(),
                };
                match x.response_frame {
                    Some(r) if r > h.first_frame => format!(
                        " It was triggered by {request} (frame {}), answered {} in frame {r}.",
                        x.request_frame.unwrap_or(0),
                        x.status.unwrap_or(0)
                    ),
                    None => format!(
                        " It was triggered by {request} (frame {}), which got no response.",
                        x.request_frame.unwrap_or(0)
                    ),
                    _ => String::new(),
                }
            })
            .unwrap_or_default();
        let explained: Vec<&str> = out
            .iter()
            .filter(|f| f.severity == Severity::Error && f.code.starts_with("client-cert"))
            .map(|f| f.code)
            .collect();
        let link = if explained.is_empty() {
            String::new()
        } else {
            format!(" Explained by: {}.", explained.join(", "))
        };
        let mut frames = vec![h.first_frame];
        frames.extend(h.outcome.frame);
        out.push(finding(
            code,
            c,
            if code == "renegotiation-refused" {
                format!("The {what} started in frame {} was declined", h.first_frame)
            } else {
                format!("The {what} started in frame {} failed", h.first_frame)
            },
            format!(
                "The {} started a {what} in frame {}, and {}.{trigger}{link}",
                match h.initiated_by {
                    Direction::Client => "client",
                    Direction::Server => "server",
                    Direction::Unknown => "peer",
                },
                h.first_frame,
                h.outcome.cause.as_deref().unwrap_or("it did not complete")
            ),
            frames,
            filter_for(
                c.stream,
                &format!(
                    "(tls.handshake || tls.alert_message) && frame.number >= {}",
                    h.first_frame
                ),
            ),
        ));
    }
}

pub(super) fn outcome(c: &ConnectionReport, out: &mut Vec<Finding>) {
    later_handshakes(c, out);
    initial_handshake_failed(c, out);
    renegotiation_encrypted(c, out);
    if c.tls_version.as_deref() == Some("TLS 1.3") && c.decryption.status == "not-decrypted" {
        tls13_hidden(c, out);
    }
}

/// `handshake-failed` for the initial handshake, from its outcome (analyzer/outcome.rs decides
/// how each handshake ended; this rule only words it).
fn initial_handshake_failed(c: &ConnectionReport, out: &mut Vec<Finding>) {
    let Some(h) = c.handshakes.first().filter(|h| h.kind == "initial") else {
        return;
    };
    let o = &h.outcome;
    let (OutcomeStatus::Failed, Some(frame)) = (o.status, o.frame) else {
        return;
    };
    let explained_by: Vec<&str> = out
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect();
    let mut link = if explained_by.is_empty() {
        String::new()
    } else {
        format!(" Explained by: {}.", explained_by.join(", "))
    };
    if c.tls_version.as_deref() == Some("TLS 1.3") && c.decryption.status == "not-decrypted" {
        link.push_str(" TLS 1.3 encrypts the CertificateRequest and the client's Certificate: a key log would show whether a certificate was asked for and sent.");
    }
    let who = match o.by {
        Some(Direction::Client) => "client",
        Some(Direction::Server) => "server",
        _ => "peer",
    };
    let cause = o.cause.as_deref().unwrap_or("it did not complete");
    let (title, detail, filter) = match (o.ended_by, o.alert) {
        (Some("alert"), Some(code)) => {
            let name = c
                .alerts
                .iter()
                .find(|a| a.frame == frame)
                .and_then(|a| a.name)
                .unwrap_or("unknown");
            (
                format!("The {who} aborted the handshake with alert {name} ({code})"),
                format!(
                    "In frame {frame} the {who} sent a fatal {name} alert ({code}) before the handshake completed: {}.",
                    alert_meaning(code)
                ),
                "tls.alert_message",
            )
        }
        (Some("encrypted-alert"), _) => (
            format!("The {who} aborted the handshake with an encrypted alert"),
            format!("{}.", capitalize(cause)),
            "tls.alert_message",
        ),
        (Some("reset"), _) => (
            format!("The connection was reset by the {who} during the handshake"),
            format!(
                "{}, with no alert in clear (an alert may be encrypted, or it gave up without one).",
                capitalize(cause)
            ),
            "tcp.flags.reset == 1",
        ),
        (Some("close"), _) => (
            format!("The connection was closed by the {who} during the handshake"),
            format!(
                "{}, with no alert in clear (it gave up without one, or its alert is encrypted).",
                capitalize(cause)
            ),
            "tcp.flags.fin == 1",
        ),
        _ => return,
    };
    out.push(finding(
        "handshake-failed",
        c,
        title,
        format!("{detail}{link}"),
        vec![frame],
        filter_for(c.stream, filter),
    ));
}

/// Handshake records after both Finished messages: a renegotiation under encryption.
fn renegotiation_encrypted(c: &ConnectionReport, out: &mut Vec<Finding>) {
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
}

/// TLS 1.3 without keys: whether a client certificate was asked for or sent is encrypted.
fn tls13_hidden(c: &ConnectionReport, out: &mut Vec<Finding>) {
    let pha = c
        .messages
        .iter()
        .any(|m| matches!(&m.detail, Some(Detail::ClientHello(ch)) if ch.post_handshake_auth));
    // Told from record sizes instead (tls::inference): a request seen, or none where no
    // post-handshake request can hide.
    let told = |a: &crate::tls::inference::InferredAuth| {
        a.requested == Some(true) || (a.requested == Some(false) && !pha)
    };
    if c.inferred.iter().any(told) {
        return;
    }
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

pub(super) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(super) fn alert_meaning(code: u8) -> &'static str {
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
        51 => "a signature did not verify (typically the client's CertificateVerify: a key that does not match its certificate, or an algorithm the receiver did not offer) or a decryption failed",
        70 => "protocol version not supported",
        71 => "cipher suites too weak for the receiver",
        80 => "internal error of the sender",
        112 => "the server name (SNI) is not known",
        116 => "the server requires a client certificate and got none (TLS 1.3)",
        _ => "see the alert's name",
    }
}

//! Rules on HTTP: 401/403 answers tied to the connection's client-certificate problem (with the
//! IIS sub-status), authentication loops and fall-backs, Basic in clear, HTTP not visible.

use super::catalog::*;
use super::*;
use crate::model::*;
use crate::tls::Detail;

pub(super) const DOCS: &[CodeDoc] = &[
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
];

/// The IIS sub-status a client-certificate problem leads to, with the finding that shows it.
pub(super) fn likely_substatus(
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

/// Rules on the HTTP exchanges of one connection, one function per rule. Returns sub-statuses
/// inferred for exchanges (index, "403.7") whose body did not say.
pub(super) fn http_rules(
    c: &ConnectionReport,
    summary: &ClientAuthSummary,
    out: &mut Vec<Finding>,
) -> Vec<(usize, String)> {
    let mut inferred = Vec::new();
    let cert_problem = likely_substatus(summary, out);
    let loop_members = auth_loop(c, out);
    let after_first = after_first_request(c, out);
    for (i, x) in c.http.iter().enumerate() {
        let Some(status) = x.status else { continue };
        basic_cleartext(c, x, out);
        negotiate_fallback(c, x, out);
        if status == 403 {
            forbidden(
                c,
                i,
                cert_problem,
                !loop_members.contains(&i),
                &mut inferred,
                out,
            );
        }
        if status == 401 && !loop_members.contains(&i) && !after_first.contains(&i) {
            unauthorized(c, i, out);
        }
    }
    not_visible(c, out);
    inferred
}

/// Display filter for the responses with `status` on this connection.
fn filter_status(c: &ConnectionReport, status: u16) -> String {
    if c.tls {
        format!(
            "tcp.stream eq {} && http.response.code == {status}",
            c.stream
        )
    } else {
        filter_for(c.stream, &format!("http.response.code == {status}"))
    }
}

/// "GET /x (frames 4 and 6)".
fn describe(x: &crate::http::Exchange) -> String {
    let request = match (&x.malformed_request, &x.method, &x.target) {
        (Some(problem), Some(m), Some(t)) => format!("a malformed request {m} {t} ({problem})"),
        (Some(problem), ..) => format!("a malformed request ({problem})"),
        (None, Some(m), Some(t)) => format!("{m} {t}"),
        _ => "a request not in the capture".into(),
    };
    let frames = match (x.request_frame, x.response_frame) {
        (Some(a), Some(b)) => format!("frames {a} and {b}"),
        (None, Some(b)) => format!("frame {b}"),
        (Some(a), None) => format!("frame {a}"),
        _ => String::new(),
    };
    format!("{request} ({frames})")
}

fn exchange_frames(x: &crate::http::Exchange) -> Vec<u64> {
    [x.request_frame, x.response_frame]
        .into_iter()
        .flatten()
        .collect()
}

/// Runs of at least three 401 answers for the same resource with Negotiate/NTLM; returns the
/// exchanges in such runs.
fn auth_loop(c: &ConnectionReport, out: &mut Vec<Finding>) -> Vec<usize> {
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
        filter_status(c, 401),
    ));
    }
    loop_members
}

/// 401 answers after a success on the same connection (certificate mapping lost, KB Q190009);
/// returns those exchanges.
fn after_first_request(c: &ConnectionReport, out: &mut Vec<Finding>) -> Vec<usize> {
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
        filter_status(c, 401),
    ));
    }
    after_first
}

/// Basic credentials over plain HTTP.
fn basic_cleartext(c: &ConnectionReport, x: &crate::http::Exchange, out: &mut Vec<Finding>) {
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
}

/// Negotiate carrying NTLM: Kerberos was not possible.
fn negotiate_fallback(c: &ConnectionReport, x: &crate::http::Exchange, out: &mut Vec<Finding>) {
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
}

/// A 403: tied to the connection's client-certificate problem (with the IIS sub-status), or on
/// its own when not part of an authentication loop.
fn forbidden(
    c: &ConnectionReport,
    i: usize,
    cert_problem: Option<(&'static str, &'static str)>,
    report_plain: bool,
    inferred: &mut Vec<(usize, String)>,
    out: &mut Vec<Finding>,
) {
    let x = &c.http[i];
    let frames = exchange_frames(x);
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
            filter_status(c, 403),
        ));
    } else if report_plain {
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
            filter_status(c, 403),
        ));
    }
}

/// A 401 the client never got past. One the client answers with credentials that get past
/// authentication (any later status but 401 for the same resource) is the normal challenge.
fn unauthorized(c: &ConnectionReport, i: usize, out: &mut Vec<Finding>) {
    let x = &c.http[i];
    let frames = exchange_frames(x);
    let answered = c.http[i + 1..]
        .iter()
        .any(|y| y.target == x.target && y.status.is_some_and(|s| s != 401));
    if !answered {
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
            filter_status(c, 401),
        ));
    }
}

/// TLS whose HTTP could not be read.
fn not_visible(c: &ConnectionReport, out: &mut Vec<Finding>) {
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
}

/// " IIS sub-status 403.16: client certificate is untrusted or invalid." or nothing.
pub(super) fn substatus_sentence(sub: Option<&str>) -> String {
    sub.map(|s| {
        format!(
            " IIS sub-status {s}: {}.",
            crate::http::substatus_meaning(s)
        )
    })
    .unwrap_or_default()
}

pub(super) fn endpoint_port(ep: &str) -> Option<u16> {
    ep.rsplit_once(':')?.1.parse().ok()
}

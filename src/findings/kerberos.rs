//! Rules on Kerberos: KRB-ERRORs from the KDC (port 88) and from the web site (inside the
//! 401's `WWW-Authenticate: Negotiate` token), tied to the HTTP requests of the same client
//! (client address, the SPN `HTTP/host` against the request's Host, and time). KDC errors
//! that no HTTP connection explains are said once per file (`file_findings`).

use rustc_hash::FxHashSet;

use super::catalog::*;
use super::correlate::host_part;
use super::*;
use crate::http::Exchange;
use crate::kerberos::{KdcMessage, KrbMessage};

const RFC4120_ERRORS: &str = "RFC 4120 section 7.5.9 (Kerberos error codes)";
const RFC4559: &str = "RFC 4559 (SPNEGO-based Kerberos and NTLM HTTP authentication)";
const MS_SPN: &str =
    "Microsoft Learn: Kerberos authentication troubleshooting guidance (SPNs, setspn -Q / -X)";
const MS_IIS_KERBEROS: &str = "Microsoft Learn: Kerberos for IIS (kernel-mode authentication, useAppPoolCredentials, the application pool identity)";

pub(super) const DOCS: &[CodeDoc] = &[
    CodeDoc {
        code: "krb-spn-unknown",
        severity: Severity::Error,
        title: "The KDC knows no account with the site's SPN",
        cause: "The client asked the KDC for a service ticket to HTTP/host and got KDC_ERR_S_PRINCIPAL_UNKNOWN (7): no account holds that service principal name, so the client cannot use Kerberos for the site. It sends the request without a Kerberos token (or falls back to NTLM) and gets 401.",
        evidence: "The TGS-REQ's KRB-ERROR 7 on port 88 with the SPN it names, and the HTTP requests of the same client to that host (Host header) that were answered 401.",
        fix: "(Without a 401 of the same client that it explains, for example when the HTTP is not in the capture, or when the client got through with NTLM after the 401, it is a warning.) Register the SPN on the account that runs the site: `setspn -Q HTTP/host` finds who holds it, `setspn -S HTTP/host DOMAIN\\account` adds it. Check also that the client uses the host name the SPN is registered for (a CNAME or an alias needs its own SPN).",
        refs: &[RFC4120_ERRORS, MS_SPN, RFC4559],
    },
    CodeDoc {
        code: "krb-ticket-rejected",
        severity: Severity::Error,
        title: "The site could not accept the client's Kerberos ticket",
        cause: "The client got a service ticket from the KDC and sent it (AP-REQ in Authorization: Negotiate), but the site refused it: KRB_AP_ERR_BADKEYVER (44, the ticket's key version is not in the site's keytab), KRB_AP_ERR_NOT_US (35, the site holds no key for that SPN), KRB_AP_ERR_MODIFIED (41) or KRB_AP_ERR_BAD_INTEGRITY (31, the site's key does not decrypt the ticket), or a 401 with no error after the AP-REQ. The SPN is registered to another account than the one running the site, it is duplicated, or the keytab/password is stale.",
        evidence: "The request with the AP-REQ (SPN, key version), the 401 with the KRB-ERROR inside its Negotiate token, and the TGS-REP that issued the ticket when the capture holds it.",
        fix: "`setspn -Q HTTP/host` (one account only; `setspn -X` lists duplicates). On IIS the SPN must be on the application pool identity, or on the machine account with kernel-mode authentication and useAppPoolCredentials false; after a password change re-export the keytab (ktpass) or restart the pool. With MIT/Apache, re-export the keytab (kvno must match).",
        refs: &[RFC4120_ERRORS, MS_IIS_KERBEROS, MS_SPN],
    },
    CodeDoc {
        code: "krb-clock-skew",
        severity: Severity::Error,
        title: "Kerberos refused because of clock skew",
        cause: "The KDC or the site answered KRB_AP_ERR_SKEW (37) (or KRB_AP_ERR_TKT_NYV (33), a ticket not yet valid for a site whose clock is behind): the clocks of the client, the KDC and the site differ by more than the allowed skew (5 minutes by default).",
        evidence: "The KRB-ERROR with the sender's clock (stime) against the capture's clock at that frame, which tells whose clock is off, and the 401 it leads to.",
        fix: "Synchronise the clocks (w32tm /resync on Windows, NTP/chrony elsewhere): of the client when the KDC refuses, of the web server when the site refuses and its stime is off.",
        refs: &[RFC4120_ERRORS, "RFC 4120 section 1.6 (clock skew)"],
    },
    CodeDoc {
        code: "krb-preauth-failed",
        severity: Severity::Error,
        title: "The KDC refused the user's password or account",
        cause: "The KDC answered the AS-REQ with KDC_ERR_PREAUTH_FAILED (24, wrong password) or KDC_ERR_CLIENT_REVOKED (18, account disabled, locked or expired): the user gets no ticket-granting ticket, so no service ticket for any site. (KDC_ERR_PREAUTH_REQUIRED (25) is the normal first answer and is not reported.)",
        evidence: "The AS exchange on port 88 with the client principal, and the 401s of the same client that follow.",
        fix: "Check the user's password and the account's state (locked out, disabled, expired) in the directory; after a password change, log off and on or purge the ticket cache (klist purge).",
        refs: &[RFC4120_ERRORS],
    },
];

/// Capture times a KDC error may precede the request it explains by (a ticket is asked for
/// when the page is first loaded), and follow it by (retries after the 401).
const BEFORE_NS: i64 = 600_000_000_000;
const AFTER_NS: i64 = 60_000_000_000;
/// Kerberos' default maximum clock skew.
const MAX_SKEW_SECS: i64 = 300;

/// The finding a KDC error on port 88 leads to.
fn kdc_code(m: &KrbMessage) -> Option<&'static str> {
    match m.error_code? {
        7 => Some("krb-spn-unknown"),
        33 | 37 => Some("krb-clock-skew"),
        18 | 24 => Some("krb-preauth-failed"),
        _ => None,
    }
}

fn exchange_frames(x: &Exchange) -> Vec<u64> {
    x.request_frame
        .into_iter()
        .chain(x.response_frame)
        .collect()
}

fn frame_list(frames: &[u64]) -> String {
    let v: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
    v.join(", ")
}

/// `HTTP/www.example.com` for a Host header (port and case dropped).
fn spn_for(host: &str) -> String {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    format!("HTTP/{}", name.trim_end_matches('.').to_ascii_lowercase())
}

fn same_spn(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// What the clock in a KRB-ERROR says against the capture's clock.
fn clock_sentence(sender: &str, stime: Option<i64>, at_ns: i64) -> String {
    let Some(stime) = stime else {
        return String::new();
    };
    let capture = at_ns.div_euclid(1_000_000_000);
    let delta = stime - capture;
    if delta.abs() > MAX_SKEW_SECS {
        format!(
            " The {sender}'s clock reads {} while the capture's reads {}: the {sender}'s clock is {} by {} s.",
            utc(stime),
            utc(capture),
            if delta > 0 { "ahead" } else { "behind" },
            delta.abs()
        )
    } else {
        format!(
            " The {sender}'s clock reads {} and agrees with the capture's ({}): the other side's clock is off.",
            utc(stime),
            utc(capture)
        )
    }
}

/// Ties Kerberos to the HTTP exchanges of one connection: KRB-ERRORs in the site's Negotiate
/// answers, and KDC errors of the same client for the SPN of the requests answered 401.
/// `attached` collects the frames of the KDC errors said here.
pub fn kerberos_rules(c: &mut ConnectionReport, kdc: &[KdcMessage], attached: &mut FxHashSet<u64>) {
    let mut out = Vec::new();
    site_errors(c, kdc, &mut out);
    kdc_errors(c, kdc, attached, &mut out);
    if out.is_empty() {
        return;
    }
    for f in c.findings.iter_mut() {
        if !matches!(f.code, "http-401" | "http-auth-loop") {
            continue;
        }
        let why: Vec<&str> = out
            .iter()
            .filter(|k| k.frames.iter().any(|x| f.frames.contains(x)))
            .map(|k| k.code)
            .collect();
        if !why.is_empty() {
            f.explanation
                .push_str(&format!(" Kerberos says why: {}.", why.join(", ")));
        }
    }
    c.findings.extend(out);
    sort_findings(&mut c.findings);
}

/// TGS-REPs of the client's host that issued a ticket for `sname` before `at_ns`.
fn issued(kdc: &[KdcMessage], client: &str, sname: &str, at_ns: i64) -> Vec<u64> {
    kdc.iter()
        .filter(|k| {
            k.message.kind == "TGS-REP"
                && host_part(&k.client) == client
                && k.message
                    .sname
                    .as_deref()
                    .is_some_and(|s| same_spn(s, sname))
                && k.ts_ns <= at_ns
                && at_ns - k.ts_ns <= BEFORE_NS
        })
        .map(|k| k.frame)
        .collect()
}

/// The site's answers: a KRB-ERROR in the 401's token, or a 401 after an AP-REQ.
fn site_errors(c: &ConnectionReport, kdc: &[KdcMessage], out: &mut Vec<Finding>) {
    let client = host_part(&c.client);
    for x in &c.http {
        let ap_req = x
            .negotiate_request
            .as_ref()
            .and_then(|t| t.kerberos.as_ref())
            .filter(|m| m.kind == "AP-REQ");
        let error = x
            .negotiate_response
            .as_ref()
            .and_then(|t| t.kerberos.as_ref())
            .filter(|m| m.is_error());
        let resp = x.response_frame.unwrap_or_default();
        let sname = error
            .and_then(|e| e.sname.clone())
            .or_else(|| ap_req.and_then(|m| m.sname.clone()));
        let spn = sname.clone().unwrap_or_else(|| "the site's SPN".into());
        let kvno = ap_req
            .and_then(|m| m.kvno)
            .map(|k| format!(" (key version {k})"))
            .unwrap_or_default();
        let req = x
            .request_frame
            .map(|f| format!(" in frame {f}"))
            .unwrap_or_default();
        let mut frames = exchange_frames(x);
        let tgs = sname
            .as_deref()
            .map(|s| issued(kdc, &client, s, x.ts_ns))
            .unwrap_or_default();
        let issued_sentence = if tgs.is_empty() {
            String::new()
        } else {
            format!(
                " The KDC issued that ticket (TGS-REP in frame {}).",
                frame_list(&tgs)
            )
        };
        frames.extend(&tgs);
        if let Some(e) = error {
            let code = e.error_code.unwrap_or_default();
            let name = e.error_name.clone().unwrap_or_default();
            if matches!(code, 33 | 37) {
                let title =
                    format!("The site refused the Kerberos ticket for {spn}: {name} ({code})");
                out.push(finding(
                    "krb-clock-skew",
                    c,
                    title,
                    format!(
                        "The client sent a Kerberos ticket for {spn}{kvno}{req}; the site answered 401 with {name} ({code}) in frame {resp}.{}{issued_sentence} Synchronise the web server's clock with the domain's (w32tm /resync).",
                        clock_sentence("web server", e.stime, x.ts_ns)
                    ),
                    frames,
                    filter_for(c.stream, &format!("kerberos.error_code == {code}")),
                ));
                continue;
            }
            let why = match code {
                44 => format!("the ticket is encrypted with a key version{} that the site does not hold: the password of the account with the SPN changed after the site's key was made (a stale keytab), or the site runs under another account", ap_req.and_then(|m| m.kvno).map(|k| format!(" ({k})")).unwrap_or_default()),
                35 => format!("the site holds no key for {spn}: the SPN is registered to another account than the one running the site (IIS: the application pool identity, kernel-mode authentication with useAppPoolCredentials), or its keytab holds another principal"),
                41 | 31 => "the site's key does not decrypt the ticket: the SPN is on another account than the site's (or on two accounts: setspn -X), or the account's password changed".to_string(),
                _ => "the site could not accept the ticket".to_string(),
            };
            out.push(finding(
                "krb-ticket-rejected",
                c,
                format!("The site rejected the Kerberos ticket for {spn}: {name} ({code})"),
                format!(
                    "The client sent a Kerberos ticket for {spn}{kvno}{req}; the site answered{} with {name} ({code}) in frame {resp}: {why}.{issued_sentence} Check with setspn -Q {spn} which account holds the SPN.",
                    x.status.map(|s| format!(" {s}")).unwrap_or_default()
                ),
                frames,
                filter_for(c.stream, &format!("kerberos.error_code == {code}")),
            ));
            continue;
        }
        // A ticket sent and a 401 back without an error token: the client never got through
        // (the HTTP rules said http-401 or http-auth-loop for this response).
        let refused = x.status == Some(401)
            && c.findings.iter().any(|f| {
                matches!(f.code, "http-401" | "http-auth-loop") && f.frames.contains(&resp)
            })
            && x.negotiate_response
                .as_ref()
                .is_none_or(|t| t.neg_result != Some("accept-incomplete"));
        if let (Some(_), true) = (ap_req, refused) {
            // A loop of refusals is one finding: the first refusal's words, every frame.
            match out
                .iter_mut()
                .find(|f| f.code == "krb-ticket-rejected" && f.title.ends_with("without saying why"))
            {
                Some(f) => {
                    f.frames.extend(frames);
                    f.frames.sort_unstable();
                    f.frames.dedup();
                }
                None => out.push(finding(
                    "krb-ticket-rejected",
                    c,
                    format!("The site refused the Kerberos ticket for {spn} without saying why"),
                    format!(
                        "The client sent a Kerberos ticket for {spn}{kvno}{req} and the site answered 401 in frame {resp} without a Kerberos error (and again to every later ticket on this connection, frames listed).{issued_sentence} The SPN is probably registered to another account than the one running the site, or duplicated: check with setspn -Q {spn} and setspn -X."
                    ),
                    frames,
                    filter_for(c.stream, "http.response.code == 401"),
                )),
            }
        }
    }
}

/// KDC errors of the same client tied to the requests of this connection answered 401 with a
/// Negotiate offer that carried no Kerberos ticket.
fn kdc_errors(
    c: &ConnectionReport,
    kdc: &[KdcMessage],
    attached: &mut FxHashSet<u64>,
    out: &mut Vec<Finding>,
) {
    let client = host_part(&c.client);
    // (code, KDC error frames, exchange frames, SPN, the first error)
    let mut groups: Vec<(&'static str, Vec<u64>, Vec<u64>, &KdcMessage)> = Vec::new();
    for x in &c.http {
        let unauthorized = x.status == Some(401)
            && x.www_authenticate
                .iter()
                .any(|s| s.eq_ignore_ascii_case("negotiate"));
        let sent_ticket = x
            .negotiate_request
            .as_ref()
            .is_some_and(|t| t.kerberos.is_some());
        if !unauthorized || sent_ticket {
            continue;
        }
        let spn = x.host.as_deref().map(spn_for);
        for k in kdc.iter().filter(|k| {
            k.message.is_error()
                && host_part(&k.client) == client
                && k.ts_ns >= x.ts_ns.saturating_sub(BEFORE_NS)
                && k.ts_ns <= x.ts_ns.saturating_add(AFTER_NS)
        }) {
            let Some(code) = kdc_code(&k.message) else {
                continue;
            };
            // A missing SPN explains this request only if it is the SPN of its host.
            if code == "krb-spn-unknown"
                && !matches!((&spn, &k.message.sname), (Some(a), Some(b)) if same_spn(a, b))
            {
                continue;
            }
            let group = match groups.iter_mut().position(|g| g.0 == code) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push((code, Vec::new(), Vec::new(), k));
                    groups.last_mut().expect("just pushed")
                }
            };
            if !group.1.contains(&k.frame) {
                group.1.push(k.frame);
            }
            for f in exchange_frames(x) {
                if !group.2.contains(&f) {
                    group.2.push(f);
                }
            }
        }
    }
    for (code, errors, http, first) in groups {
        attached.extend(&errors);
        let fallback = c.http.iter().any(|x| {
            http.contains(&x.request_frame.unwrap_or(u64::MAX)) && x.auth_token == Some("ntlm")
        });
        let http_sentence = format!(
            " The requests to the site on this connection were answered 401 (frames {}){}.",
            frame_list(&http),
            if fallback {
                ", after the client fell back to NTLM"
            } else {
                ", without a Kerberos token"
            }
        );
        let mut frames = errors.clone();
        frames.extend(&http);
        let (title, explanation) = describe_kdc(code, first, &errors);
        // The HTTP rules say whether the client ever got through (an NTLM fall-back that
        // succeeded answers the 401): then Kerberos failed but nothing broke.
        let never_through = c.findings.iter().any(|f| {
            matches!(f.code, "http-401" | "http-auth-loop")
                && f.frames.iter().any(|x| http.contains(x))
        });
        let mut f = finding(
            code,
            c,
            title,
            format!("{explanation}{http_sentence}"),
            frames,
            format!(
                "kerberos.error_code == {} || ({})",
                first.message.error_code.unwrap_or_default(),
                filter_for(c.stream, "http.response.code == 401")
            ),
        );
        if !never_through {
            f.severity = Severity::Warning;
            f.explanation.push_str(
                " A later request got past the 401 (without Kerberos), so the site still answered.",
            );
        }
        out.push(f);
    }
}

/// Title and explanation of a KDC error (the first of its kind) seen in `errors`.
fn describe_kdc(code: &str, first: &KdcMessage, errors: &[u64]) -> (String, String) {
    let m = &first.message;
    let err = m.error_code.unwrap_or_default();
    let name = m.error_name.clone().unwrap_or_default();
    let sname = m.sname.clone().unwrap_or_else(|| "?".into());
    let realm = m.realm.clone().unwrap_or_else(|| "?".into());
    let times = if errors.len() == 1 {
        format!("frame {}", errors[0])
    } else {
        format!("{} times, frames {}", errors.len(), frame_list(errors))
    };
    match code {
        "krb-spn-unknown" => (
            format!("No account holds the SPN {sname} in {realm}"),
            format!(
                "The client {} asked the KDC {} for a ticket to {sname} and got {name} ({err}) ({times}): no account in realm {realm} holds that service principal name, so the client cannot use Kerberos for the site. Check with setspn -Q {sname}, and that the client uses the host name the SPN is registered for.",
                host_part(&first.client), host_part(&first.kdc)
            ),
        ),
        "krb-clock-skew" => (
            format!("The KDC refused {} because of clock skew: {name} ({err})", if sname.starts_with("krbtgt/") { "the logon".to_string() } else { format!("a ticket to {sname}") }),
            format!(
                "The KDC {} answered the client {}'s request for {sname} with {name} ({err}) ({times}).{}{} Synchronise the client's clock with the domain (w32tm /resync).",
                host_part(&first.kdc),
                host_part(&first.client),
                clock_sentence("KDC", m.stime, first.ts_ns),
                m.ctime.map(|t| format!(" The client's request said {}.", utc(t))).unwrap_or_default()
            ),
        ),
        _ => (
            format!(
                "The KDC refused the logon of {}@{realm}: {name} ({err})",
                m.cname.clone().unwrap_or_else(|| "?".into())
            ),
            format!(
                "The KDC {} answered the logon of {}@{realm} from {} with {name} ({err}) ({times}): {}, so the user has no ticket for any site.",
                host_part(&first.kdc),
                m.cname.clone().unwrap_or_else(|| "?".into()),
                host_part(&first.client),
                if err == 24 { "the password is wrong" } else { "the account is disabled, locked or expired" }
            ),
        ),
    }
}

/// KDC errors that no HTTP connection explained: one finding per code, client and principal.
pub fn file_findings(kdc: &[KdcMessage], attached: &FxHashSet<u64>) -> Vec<Finding> {
    // (code, client host, principal, error frames, the first error)
    type Group<'a> = (
        &'static str,
        String,
        Option<String>,
        Vec<u64>,
        &'a KdcMessage,
    );
    let mut groups: Vec<Group> = Vec::new();
    for k in kdc {
        if !k.message.is_error() || attached.contains(&k.frame) {
            continue;
        }
        let Some(code) = kdc_code(&k.message) else {
            continue;
        };
        // A missing SPN matters here only for a web site; clients ask for many others.
        if code == "krb-spn-unknown"
            && !k
                .message
                .sname
                .as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().starts_with("http/"))
        {
            continue;
        }
        let client = host_part(&k.client);
        let principal = match code {
            "krb-preauth-failed" => k.message.cname.clone(),
            _ => k.message.sname.clone(),
        };
        match groups
            .iter_mut()
            .find(|g| g.0 == code && g.1 == client && g.2 == principal)
        {
            Some(g) => g.3.push(k.frame),
            None => groups.push((code, client, principal, vec![k.frame], k)),
        }
    }
    groups
        .into_iter()
        .map(|(code, _, _, frames, first)| {
            let (title, explanation) = describe_kdc(code, first, &frames);
            let d = doc(code).expect("finding code is in the catalog");
            // No request is seen failing for a missing SPN: the client may have fallen back to
            // NTLM or reached the site outside the capture. The logon and clock errors stop
            // every Kerberos use of the client and stay errors.
            let (severity, consequence) = if code == "krb-spn-unknown" {
                (Severity::Warning, " Whether the site then failed is not in the capture (the client may have used NTLM instead).")
            } else {
                (d.severity, "")
            };
            Finding {
                code,
                severity,
                title,
                explanation: format!(
                    "{explanation} The capture holds no HTTP request of this client that it explains.{consequence}"
                ),
                stream: first.tcp_stream.unwrap_or_default(),
                filter: format!(
                    "kerberos.error_code == {} && ip.addr == {}",
                    first.message.error_code.unwrap_or_default(),
                    host_part(&first.client).trim_matches(['[', ']'])
                ),
                frames,
                refs: d.refs.to_vec(),
            }
        })
        .collect()
}

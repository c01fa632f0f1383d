//! Links a 401/403 on one connection to a handshake problem of the same client and server on
//! another connection within a minute (browsers retry on a new connection).

use std::collections::VecDeque;

use crate::model::*;

/// What correlation remembers of a finalized connection.
pub struct Recent {
    stream: u64,
    client_host: String,
    server: String,
    start_ns: i64,
    /// Error findings of the handshake (not HTTP).
    problems: Vec<&'static str>,
}

/// Links every HTTP 401/403 to handshake problems of the same client and server within a minute
/// on any other connection of the file, before or after it. Used when all reports are kept (JSON
/// and library use); streamed output links to earlier connections only.
pub fn correlate_all(connections: &mut [ConnectionReport]) {
    let problems: Vec<(u64, String, String, i64, Vec<&'static str>)> = connections
        .iter()
        .map(|c| {
            let codes: Vec<&'static str> = c
                .findings
                .iter()
                .filter(|f| {
                    f.severity == Severity::Error
                        && !f.code.starts_with("http-")
                        && !f.code.starts_with("krb-")
                })
                .map(|f| f.code)
                .collect();
            (
                c.stream,
                host_part(&c.client),
                c.server.clone(),
                c.start_ns,
                codes,
            )
        })
        .filter(|p| !p.4.is_empty())
        .collect();
    if problems.is_empty() {
        return;
    }
    for c in connections.iter_mut() {
        let client = host_part(&c.client);
        let linked: Vec<String> = problems
            .iter()
            .filter(|(stream, host, server, start, _)| {
                *stream != c.stream
                    && *host == client
                    && *server == c.server
                    && start.saturating_sub(c.start_ns).saturating_abs() <= CORRELATION_WINDOW_NS
            })
            .map(|(stream, _, _, _, codes)| format!("tcp.stream {stream} ({})", codes.join(", ")))
            .collect();
        if linked.is_empty() {
            continue;
        }
        for f in c.findings.iter_mut() {
            if matches!(f.code, "http-403" | "http-401")
                && !f.explanation.contains("within a minute on")
            {
                f.explanation.push_str(&format!(
                    " The same client had a handshake problem with this server within a minute on {}: that is the likely cause.",
                    linked.join(", ")
                ));
            }
        }
    }
}

/// How far apart (capture time) two connections of one client may be to be linked.
pub(super) const CORRELATION_WINDOW_NS: i64 = 60_000_000_000;

/// Connections remembered for correlation at most.
pub(super) const MAX_RECENT: usize = 4096;

pub(super) fn host_part(ep: &str) -> String {
    ep.rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .unwrap_or_default()
}

/// Links an HTTP 401/403 on a connection to a handshake problem of the same client and server
/// on another connection within a minute (browsers retry on a new connection), looking at the
/// connections finalized before it; then remembers this one for the next.
pub fn correlate_recent(report: &mut ConnectionReport, recent: &mut VecDeque<Recent>) {
    let client = host_part(&report.client);
    let wants_link = report
        .findings
        .iter()
        .any(|f| matches!(f.code, "http-403" | "http-401"));
    let linked: Vec<String> = if !wants_link {
        Vec::new()
    } else {
        recent
            .iter()
            .filter(|r| {
                r.stream != report.stream
                    && r.client_host == client
                    && r.server == report.server
                    && r.start_ns.saturating_sub(report.start_ns).saturating_abs()
                        <= CORRELATION_WINDOW_NS
                    && !r.problems.is_empty()
            })
            .map(|r| format!("tcp.stream {} ({})", r.stream, r.problems.join(", ")))
            .collect()
    };
    if !linked.is_empty() {
        for f in report.findings.iter_mut() {
            if matches!(f.code, "http-403" | "http-401") {
                f.explanation.push_str(&format!(
                    " The same client had a handshake problem with this server within a minute on {}: that is the likely cause.",
                    linked.join(", ")
                ));
            }
        }
    }
    let problems: Vec<&'static str> = report
        .findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error
                && !f.code.starts_with("http-")
                && !f.code.starts_with("krb-")
        })
        .map(|f| f.code)
        .collect();
    recent.push_back(Recent {
        stream: report.stream,
        client_host: client,
        server: report.server.clone(),
        start_ns: report.start_ns,
        problems,
    });
    while recent.len() > MAX_RECENT
        || recent
            .front()
            .is_some_and(|r| report.start_ns.saturating_sub(r.start_ns) > 2 * CORRELATION_WINDOW_NS)
    {
        recent.pop_front();
    }
}

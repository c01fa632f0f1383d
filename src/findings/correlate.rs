//! Links a 401/403 on one connection to a handshake problem of the same client and server on
//! another connection within a minute (browsers retry on a new connection).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

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

/// Connection reports taken as they end and handed on as a held report would have them: each
/// under its place in `tcp.stream` order (stream, then order of end: the held report's stable
/// sort), at once, except a 401/403's, which waits for the end of the file to be linked to the
/// handshake problems before and after it, as [`correlate_all`] links them. Only those few
/// reports and the problems are kept (the report formats whose pieces are written as
/// connections end: SARIF, JSON, HTML, Parquet).
#[derive(Default)]
pub struct DeferredLinks {
    problems: ProblemIndex,
    waiting: Vec<((u64, u64), ConnectionReport)>,
    ended: u64,
}

impl DeferredLinks {
    /// Takes a connection as it ends; returns it with its place when it can be written now.
    pub fn admit(&mut self, c: ConnectionReport) -> Option<((u64, u64), ConnectionReport)> {
        let place = (c.stream, self.ended);
        self.ended += 1;
        self.problems.add(&c, place);
        if ProblemIndex::wants_link(&c) {
            self.waiting.push((place, c));
            None
        } else {
            Some((place, c))
        }
    }

    /// The connections that waited, linked, with their places.
    pub fn finish(mut self) -> impl Iterator<Item = ((u64, u64), ConnectionReport)> {
        self.problems.seal();
        let problems = self.problems;
        self.waiting.into_iter().map(move |(place, mut c)| {
            problems.link(&mut c);
            (place, c)
        })
    }
}

/// Links every HTTP 401/403 to handshake problems of the same client and server within a minute
/// on any other connection of the file, before or after it. Used when all reports are kept (JSON
/// and library use); streamed output links to earlier connections only. The linked streams are
/// named in the order of `connections`.
pub fn correlate_all(connections: &mut [ConnectionReport]) {
    let mut index = ProblemIndex::default();
    for (i, c) in connections.iter().enumerate() {
        index.add(c, (i as u64, 0));
    }
    index.seal();
    for c in connections.iter_mut() {
        index.link(c);
    }
}

/// The handshake problems of one file's connections, gathered in any order, so that each
/// 401/403 can then be linked to those of its client and server within a minute before or
/// after it ([`correlate_all`], and SARIF, which writes the other connections' results as they
/// end and keeps only these).
///
/// The connections with handshake problems are grouped by (client host, server) and sorted by
/// start time: each 401/403 looks only at its own group's entries within the window (two binary
/// searches), so a file with many failing handshakes is not compared connection by connection.
#[derive(Default)]
pub struct ProblemIndex {
    by_pair: FxHashMap<(String, String), Vec<Problem>>,
}

impl ProblemIndex {
    /// Notes `c`'s handshake problems, if it has any; `order` places its stream among the
    /// streams a link names.
    pub fn add(&mut self, c: &ConnectionReport, order: (u64, u64)) {
        let codes = problem_codes(c);
        if !codes.is_empty() {
            self.by_pair
                .entry((host_str(&c.client).to_string(), c.server.clone()))
                .or_default()
                .push(Problem {
                    start_ns: c.start_ns,
                    order,
                    stream: c.stream,
                    codes,
                });
        }
    }

    /// Sorts what was added; call once, before [`ProblemIndex::link`].
    pub fn seal(&mut self) {
        for list in self.by_pair.values_mut() {
            list.sort_unstable_by_key(|p| (p.start_ns, p.order));
        }
    }

    /// Whether `c` has a finding that a link would be added to (a 401 or 403).
    pub fn wants_link(c: &ConnectionReport) -> bool {
        c.findings.iter().any(wants_link)
    }

    /// Adds to `c`'s 401/403 findings the handshake problems of its client and server within a
    /// minute on other connections.
    pub fn link(&self, c: &mut ConnectionReport) {
        if !Self::wants_link(c) {
            return;
        }
        let Some(list) = self
            .by_pair
            .get(&(host_str(&c.client).to_string(), c.server.clone()))
        else {
            return;
        };
        let from = c.start_ns.saturating_sub(CORRELATION_WINDOW_NS);
        let to = c.start_ns.saturating_add(CORRELATION_WINDOW_NS);
        let lo = list.partition_point(|p| p.start_ns < from);
        let hi = list.partition_point(|p| p.start_ns <= to);
        let mut near: Vec<&Problem> = list[lo..hi]
            .iter()
            .filter(|p| p.stream != c.stream)
            .collect();
        if near.is_empty() {
            return;
        }
        near.sort_unstable_by_key(|p| p.order);
        let linked: Vec<String> = near
            .iter()
            .map(|p| format!("tcp.stream {} ({})", p.stream, p.codes.join(", ")))
            .collect();
        let linked = linked.join(", ");
        for f in c.findings.iter_mut() {
            if wants_link(f) {
                f.explanation.push_str(&format!(
                    " The same client had a handshake problem with this server within a minute on {linked}: that is the likely cause."
                ));
            }
        }
    }
}

/// A connection with handshake problems, as [`ProblemIndex`] keeps it.
struct Problem {
    start_ns: i64,
    /// Where its stream is named among the links.
    order: (u64, u64),
    stream: u64,
    codes: Vec<&'static str>,
}

/// The error findings of the handshake (not HTTP, not Kerberos).
fn problem_codes(c: &ConnectionReport) -> Vec<&'static str> {
    c.findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error
                && !f.code.starts_with("http-")
                && !f.code.starts_with("krb-")
        })
        .map(|f| f.code)
        .collect()
}

/// A 401/403 finding not linked yet.
fn wants_link(f: &Finding) -> bool {
    matches!(f.code, "http-403" | "http-401") && !f.explanation.contains("within a minute on")
}

/// The host of `host:port` (empty without a port), borrowed.
fn host_str(ep: &str) -> &str {
    ep.rsplit_once(':').map_or("", |(h, _)| h)
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
    let problems = problem_codes(report);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection of a real capture, to be given other endpoints, times and findings.
    fn template() -> ConnectionReport {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/tls13-pha.pcap");
        let r = crate::analyze_path(&path, crate::Options::default()).unwrap();
        let mut c = r.connections.into_iter().next().unwrap();
        c.findings.clear();
        c
    }

    fn finding(code: &'static str, severity: Severity, stream: u64) -> Finding {
        Finding {
            code,
            severity,
            title: code.to_string(),
            explanation: format!("{code}."),
            stream,
            frames: Vec::new(),
            filter: String::new(),
            refs: Vec::new(),
        }
    }

    fn conn(
        t: &ConnectionReport,
        stream: u64,
        client: &str,
        server: &str,
        start_ns: i64,
        codes: &[&'static str],
    ) -> ConnectionReport {
        let mut c = t.clone();
        c.stream = stream;
        c.client = client.to_string();
        c.server = server.to_string();
        c.start_ns = start_ns;
        c.findings = codes
            .iter()
            .map(|&code| finding(code, Severity::Error, stream))
            .collect();
        c
    }

    /// The first version: every connection against every other.
    fn reference(connections: &mut [ConnectionReport]) {
        let problems: Vec<(u64, String, String, i64, Vec<&'static str>)> = connections
            .iter()
            .map(|c| {
                (
                    c.stream,
                    host_part(&c.client),
                    c.server.clone(),
                    c.start_ns,
                    problem_codes(c),
                )
            })
            .filter(|p| !p.4.is_empty())
            .collect();
        for c in connections.iter_mut() {
            let client = host_part(&c.client);
            let linked: Vec<String> = problems
                .iter()
                .filter(|(stream, host, server, start, _)| {
                    *stream != c.stream
                        && *host == client
                        && *server == c.server
                        && start.saturating_sub(c.start_ns).saturating_abs()
                            <= CORRELATION_WINDOW_NS
                })
                .map(|(stream, _, _, _, codes)| {
                    format!("tcp.stream {stream} ({})", codes.join(", "))
                })
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

    const S: i64 = 1_000_000_000;

    #[test]
    fn links_within_the_window_of_the_same_client_and_server_in_connection_order() {
        let t = template();
        let (cl, srv) = ("10.0.0.1", "10.0.0.9:443");
        let mut cs = vec![
            // The 403, with a handshake problem of its own (not linked to itself).
            conn(
                &t,
                1,
                "10.0.0.1:5000",
                srv,
                100 * S,
                &["http-403", "own-error"],
            ),
            // After it, on the window's edge; listed before the one before it.
            conn(&t, 3, &format!("{cl}:5003"), srv, 160 * S, &["after-edge"]),
            conn(&t, 2, &format!("{cl}:5002"), srv, 40 * S, &["before-edge"]),
            // Just outside the window on either side.
            conn(
                &t,
                4,
                &format!("{cl}:5004"),
                srv,
                40 * S - 1,
                &["too-early"],
            ),
            conn(
                &t,
                5,
                &format!("{cl}:5005"),
                srv,
                160 * S + 1,
                &["too-late"],
            ),
            // Another client, another server, at the same time.
            conn(&t, 6, "10.0.0.2:5006", srv, 100 * S, &["other-client"]),
            conn(
                &t,
                7,
                &format!("{cl}:5007"),
                "10.0.0.8:443",
                100 * S,
                &["other-server"],
            ),
            // Same time, same pair, two problems; and one of the same stream number (a UDP
            // conversation numbered like the TCP one): excluded like the 403's own.
            conn(&t, 8, &format!("{cl}:5008"), srv, 100 * S, &["a", "b"]),
            conn(&t, 1, &format!("{cl}:5009"), srv, 100 * S, &["same-stream"]),
            // A 401 a second later, no problem of its own: its window is [41 s, 161 s].
            conn(&t, 10, &format!("{cl}:5010"), srv, 101 * S, &["http-401"]),
        ];
        // A warning is no handshake problem; an HTTP or Kerberos error neither.
        cs[1]
            .findings
            .push(finding("only-a-warning", Severity::Warning, 3));
        cs[2]
            .findings
            .push(finding("krb-error", Severity::Error, 2));
        let mut want = cs.clone();
        reference(&mut want);
        correlate_all(&mut cs);
        let tail = " The same client had a handshake problem with this server within a minute on ";
        assert_eq!(
            cs[0].findings[0].explanation,
            format!(
                "http-403.{tail}tcp.stream 3 (after-edge), tcp.stream 2 (before-edge), tcp.stream 8 (a, b): that is the likely cause."
            )
        );
        assert_eq!(cs[0].findings[1].explanation, "own-error.");
        assert_eq!(
            cs[9].findings[0].explanation,
            format!(
                "http-401.{tail}tcp.stream 1 (own-error), tcp.stream 3 (after-edge), tcp.stream 5 (too-late), tcp.stream 8 (a, b), tcp.stream 1 (same-stream): that is the likely cause."
            )
        );
        for (got, want) in cs.iter().zip(&want) {
            let got: Vec<&str> = got
                .findings
                .iter()
                .map(|f| f.explanation.as_str())
                .collect();
            let want: Vec<&str> = want
                .findings
                .iter()
                .map(|f| f.explanation.as_str())
                .collect();
            assert_eq!(got, want);
        }
        // Linked once: a second pass adds nothing.
        let before = cs.clone();
        correlate_all(&mut cs);
        for (a, b) in cs.iter().zip(&before) {
            assert_eq!(a.findings[0].explanation, b.findings[0].explanation);
        }
    }

    #[test]
    fn same_links_as_every_connection_against_every_other() {
        let t = template();
        let codes: [&[&'static str]; 6] = [
            &["http-403"],
            &["http-401", "x"],
            &["y"],
            &["y", "z"],
            &[],
            &["http-403", "krb-error"],
        ];
        // A small LCG: the same connections on every run.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for round in 0..20 {
            let mut cs: Vec<ConnectionReport> = (0..200)
                .map(|i| {
                    let client = format!("10.0.0.{}:{}", next(3), 1000 + i);
                    let server = format!("10.0.1.{}:443", next(2));
                    // Ties, the window's edges and times far apart.
                    let start = match next(4) {
                        0 => next(5) as i64 * 60 * S,
                        1 => next(300) as i64 * S,
                        2 => i64::MAX - next(3) as i64,
                        _ => next(1000) as i64 * S / 7,
                    };
                    conn(
                        &t,
                        next(150),
                        &client,
                        &server,
                        start,
                        codes[next(6) as usize],
                    )
                })
                .collect();
            let mut want = cs.clone();
            reference(&mut want);
            correlate_all(&mut cs);
            let mut linked = 0;
            for (got, want) in cs.iter().zip(&want) {
                for (g, w) in got.findings.iter().zip(&want.findings) {
                    assert_eq!(g.explanation, w.explanation, "round {round}");
                    linked += g.explanation.contains("within a minute on") as usize;
                }
            }
            assert!(linked > 0, "round {round}");
        }
    }

    #[test]
    fn many_failing_handshakes_of_one_client_and_server() {
        // 20,000 connections one second apart, each with a handshake error but every 100th,
        // which is a 403: each 403 is linked to the 120 others of its two minutes. Compared
        // one with another, that was 400 million comparisons.
        let t = template();
        let mut cs: Vec<ConnectionReport> = (0..20_000u64)
            .map(|i| {
                let code = if i % 100 == 0 {
                    "http-403"
                } else {
                    "tls-alert"
                };
                conn(
                    &t,
                    i,
                    &format!("10.0.0.1:{}", 1024 + i % 60000),
                    "10.0.0.9:443",
                    1_700_000_000 * S + i as i64 * S,
                    &[code],
                )
            })
            .collect();
        correlate_all(&mut cs);
        let e = &cs[10_000].findings[0].explanation;
        assert_eq!(e.matches("tcp.stream ").count(), 120, "{e}");
        assert!(e.contains("on tcp.stream 9940 (tls-alert), tcp.stream 9941 (tls-alert)"));
        assert!(e.contains("tcp.stream 9999 (tls-alert), tcp.stream 10001 (tls-alert)"));
        assert!(e.ends_with("tcp.stream 10060 (tls-alert): that is the likely cause."));
        // The first has only the minute after it.
        assert_eq!(
            cs[0].findings[0].explanation.matches("tcp.stream ").count(),
            60
        );
        assert_eq!(cs[1].findings[0].explanation, "tls-alert.");
    }
}

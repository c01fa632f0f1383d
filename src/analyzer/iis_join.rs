//! The join of `--iis-log` lines to the connections of a report (by client, server and time):
//! kept here, over the model, so that the log parser (`crate::iislog`) knows nothing of reports.

use crate::http::Exchange;
use crate::iislog::{Ambiguous, IisLog, JoinSummary, FROM_LOG};
use crate::model::ConnectionReport;

fn host_port(ep: &str) -> Option<(String, u16)> {
    let (h, p) = ep.rsplit_once(':')?;
    Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?))
}

/// Joins every line to the connection of its client and server that was open at its time
/// (within `tolerance_secs`), and carries it there. Connections whose HTTP is not visible get
/// the logged requests as their HTTP exchanges (status and sub-status `from the IIS log`);
/// visible 401/403 answers without a sub-status take the logged one. Returns the streams that
/// changed, with the summary.
pub fn join(
    log: &IisLog,
    connections: &mut [ConnectionReport],
    tolerance_secs: i64,
) -> (Vec<u64>, JoinSummary) {
    let mut summary = JoinSummary {
        files: log.files.clone(),
        lines: log.lines.len(),
        skipped: log.skipped,
        ..Default::default()
    };
    // Client host and port, server host and port, first and last second of each connection.
    type Key = (String, u16, String, u16, i64, i64);
    let keys: Vec<Option<Key>> = connections
        .iter()
        .map(|c| {
            let (ch, cp) = host_port(&c.client)?;
            let (sh, sp) = host_port(&c.server)?;
            let start = c.start_ns.div_euclid(1_000_000_000);
            let end = c
                .end_ns
                .saturating_add(999_999_999)
                .div_euclid(1_000_000_000);
            Some((ch, cp, sh, sp, start, end))
        })
        .collect();
    let mut changed = Vec::new();
    for l in &log.lines {
        let candidates: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let (ch, cp, sh, sp, start, end) = k.as_ref()?;
                let ok = *ch == l.client_ip
                    && l.client_port.is_none_or(|p| p == *cp)
                    && *sh == l.server_ip
                    && *sp == l.server_port
                    && l.time >= start.saturating_sub(tolerance_secs)
                    && l.time <= end.saturating_add(tolerance_secs);
                ok.then_some(i)
            })
            .collect();
        match candidates.as_slice() {
            [] => summary.unmatched += 1,
            [i] => {
                summary.joined += 1;
                let c = &mut connections[*i];
                c.iis_log.push(l.clone());
                if !changed.contains(&c.stream) {
                    changed.push(c.stream);
                }
            }
            many => summary.ambiguous.push(Ambiguous {
                file: l.file.clone(),
                line: l.line,
                candidates: many.iter().map(|&i| connections[i].stream).collect(),
            }),
        }
    }
    for c in connections.iter_mut().filter(|c| !c.iis_log.is_empty()) {
        carry(c);
    }
    (changed, summary)
}

/// Puts the logged statuses where the HTTP rules read them.
fn carry(c: &mut ConnectionReport) {
    if c.http.is_empty() {
        for l in &c.iis_log {
            let mut x = Exchange::default();
            x.method = l.method.clone();
            x.target = l.uri.clone();
            x.status = Some(l.status);
            x.reason = Some(FROM_LOG.into());
            x.ts_ns = l.time.saturating_mul(1_000_000_000);
            if l.substatus != 0 {
                x.substatus = Some(l.status_text());
                x.substatus_source = Some("iis-log");
            }
            c.http.push(x);
        }
        return;
    }
    // Visible HTTP: the n-th logged answer of a status is the n-th visible one.
    for l in c.iis_log.iter().filter(|l| l.substatus != 0) {
        let nth = c
            .iis_log
            .iter()
            .take_while(|o| !std::ptr::eq(*o, l))
            .filter(|o| o.status == l.status)
            .count();
        if let Some(x) = c
            .http
            .iter_mut()
            .filter(|x| x.status == Some(l.status))
            .nth(nth)
        {
            if x.substatus.is_none() || x.substatus_source == Some("inferred") {
                x.substatus = Some(l.status_text());
                x.substatus_source = Some("iis-log");
            }
        }
    }
}

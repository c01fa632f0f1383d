//! The join of `--schannel-events` to the connections of a report (alert and time): kept here,
//! over the model, so that the export parser (`crate::schannel`) knows nothing of reports.

use crate::model::ConnectionReport;
use crate::schannel::{AmbiguousEvent, JoinSummary, SchannelEvent, SchannelLog};

/// Joins events to connections and says them on the findings they confirm. Returns whether a
/// connection changed, with the summary.
pub fn join(
    log: &SchannelLog,
    connections: &mut [ConnectionReport],
    tolerance_secs: i64,
) -> (bool, JoinSummary) {
    let mut summary = JoinSummary {
        files: log.files.clone(),
        events: log.events.len(),
        skipped: log.skipped,
        ..Default::default()
    };
    let tol = tolerance_secs.saturating_mul(1_000_000_000);
    let mut changed = false;
    for e in &log.events {
        let candidates: Vec<usize> = connections
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                // A huge --iis-log-tolerance saturates instead of overflowing.
                e.time_ns >= c.start_ns.saturating_sub(tol)
                    && e.time_ns <= c.end_ns.saturating_add(tol)
            })
            .filter(|(_, c)| match (e.id, e.alert) {
                (36887 | 36888, Some(a)) => c.alerts.iter().any(|x| x.description == Some(a)),
                (36885, _) => c
                    .findings
                    .iter()
                    .any(|f| f.code == "ca-list-over-limit" || f.code == "ca-list-large"),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        match candidates.as_slice() {
            [] => summary.unmatched += 1,
            [i] => {
                summary.joined += 1;
                changed = true;
                confirm(&mut connections[*i], e);
            }
            many => summary.ambiguous.push(AmbiguousEvent {
                source: e.source.clone(),
                id: e.id,
                candidates: many.iter().map(|&i| connections[i].stream).collect(),
            }),
        }
    }
    (changed, summary)
}

/// Carries the event on the connection and says it on the findings it confirms.
fn confirm(c: &mut ConnectionReport, e: &SchannelEvent) {
    let on = e
        .computer
        .as_deref()
        .map(|m| format!(" on {m}"))
        .unwrap_or_default();
    let when = crate::model::utc(e.time_ns.div_euclid(1_000_000_000));
    let alert_frames: Vec<u64> = c
        .alerts
        .iter()
        .filter(|a| e.alert.is_some() && a.description == e.alert)
        .map(|a| a.frame)
        .collect();
    let sentence = match e.id {
        36885 => format!(
            " Schannel event 36885 at {when}{on} confirms it: the server truncated its list of trusted issuers."
        ),
        id => format!(
            " Schannel event {id} at {when}{on}: {} (alert {}{}).",
            e.meaning,
            e.alert.map(|a| a.to_string()).unwrap_or_default(),
            e.error_state
                .map(|s| format!(", error state {s}"))
                .unwrap_or_default()
        ),
    };
    for f in c.findings.iter_mut() {
        let confirms = match e.id {
            36885 => f.code == "ca-list-over-limit" || f.code == "ca-list-large",
            _ => f.frames.iter().any(|x| alert_frames.contains(x)),
        };
        if confirms && !f.explanation.contains(sentence.trim()) {
            // After an evidence list (lines indented by four spaces) the sentence starts a line.
            if f.explanation
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("    "))
            {
                f.explanation.push('\n');
                f.explanation.push_str(sentence.trim_start());
            } else {
                f.explanation.push_str(&sentence);
            }
        }
    }
    c.schannel_events.push(e.clone());
}

//! How each handshake of a connection ended, and so the connection: the initial handshake, every
//! renegotiation (client- or server-initiated, in clear, decrypted or encrypted without keys) and
//! TLS 1.3 post-handshake authentication, each `completed`, `failed`, `refused`, `incomplete`
//! or `unknown`, with the side, alert and frame that decided it. Reads the model only.

use crate::model::{ConnectionReport, HandshakeOutcome, Outcome, OutcomeStatus};
use crate::tls::{Detail, Direction, HandshakeMessage};

/// RFC 5246 7.2.2: the warning a peer sends to decline a renegotiation.
const NO_RENEGOTIATION: u8 = 100;

struct Start {
    kind: &'static str,
    initiated_by: Direction,
    frame: u64,
    encrypted: bool,
}

fn side(d: Direction) -> &'static str {
    match d {
        Direction::Client => "client",
        Direction::Server => "server",
        Direction::Unknown => "peer",
    }
}

fn outcome(status: OutcomeStatus, cause: Option<String>, frame: Option<u64>) -> Outcome {
    Outcome {
        status,
        cause,
        by: None,
        alert: None,
        ended_by: None,
        frame,
    }
}

/// Where each handshake starts, in frame order.
fn starts(r: &ConnectionReport, msgs: &[&HandshakeMessage]) -> Vec<Start> {
    let tls13 = r.tls_version.as_deref() == Some("TLS 1.3");
    let mut out: Vec<Start> = Vec::new();
    let mut after_hello_request = false;
    let mut after_retry = false;
    let mut server_finished = false;
    for m in msgs {
        match m.kind {
            "hello_request" if !out.is_empty() => {
                out.push(Start {
                    kind: "renegotiation",
                    initiated_by: Direction::Server,
                    frame: m.frame,
                    encrypted: false,
                });
                after_hello_request = true;
            }
            "client_hello" => {
                if out.is_empty() {
                    out.push(Start {
                        kind: "initial",
                        initiated_by: Direction::Client,
                        frame: m.frame,
                        encrypted: false,
                    });
                } else if !after_hello_request && !after_retry {
                    out.push(Start {
                        kind: "renegotiation",
                        initiated_by: Direction::Client,
                        frame: m.frame,
                        encrypted: false,
                    });
                }
                after_hello_request = false;
                after_retry = false;
                server_finished = false;
            }
            "server_hello" => {
                if out.is_empty() {
                    out.push(Start {
                        kind: "initial",
                        initiated_by: Direction::Client,
                        frame: m.frame,
                        encrypted: false,
                    });
                }
                after_retry =
                    matches!(&m.detail, Some(Detail::ServerHello(sh)) if sh.hello_retry_request);
            }
            "finished" if m.direction == Direction::Server => server_finished = true,
            "certificate_request" if tls13 && server_finished => out.push(Start {
                kind: "post-handshake-auth",
                initiated_by: Direction::Server,
                frame: m.frame,
                encrypted: false,
            }),
            _ => {}
        }
    }
    // A renegotiation under encryption that was not decrypted: its records only.
    if let Some(first) = r
        .encrypted_handshake
        .iter()
        .filter(|e| e.after_finished)
        .min_by_key(|e| e.frame)
    {
        let decrypted_here = out.iter().any(|s| s.frame >= first.frame);
        if !out.is_empty() && !decrypted_here {
            out.push(Start {
                kind: if tls13 {
                    "post-handshake-auth"
                } else {
                    "renegotiation"
                },
                initiated_by: first.direction,
                frame: first.frame,
                encrypted: true,
            });
        }
    }
    // TLS 1.3 post-handshake authentication told from record sizes (all records look alike).
    for a in r
        .inferred
        .iter()
        .filter(|a| a.handshake == "post-handshake-auth")
    {
        if !out.is_empty() && !out.iter().any(|s| s.frame >= a.first_frame) {
            out.push(Start {
                kind: "post-handshake-auth",
                initiated_by: Direction::Server,
                frame: a.first_frame,
                encrypted: true,
            });
        }
    }
    out
}

/// The end of an encrypted handshake as told from record sizes (`tls::inference`).
fn inferred_outcome(r: &ConnectionReport, start: &Start, until: u64) -> Option<Outcome> {
    let a = r.inferred.iter().find(|a| {
        a.handshake == start.kind && a.first_frame >= start.frame && a.first_frame < until
    })?;
    let status = match a.end? {
        "completed" => OutcomeStatus::Completed,
        _ => OutcomeStatus::Failed,
    };
    let after = match (a.client_certificate, a.client_certificate_frame) {
        (Some("empty"), Some(f)) => format!(" after the client's empty Certificate (frame {f})"),
        (Some(_), Some(f)) => format!(" after the client's Certificate (frame {f})"),
        _ => String::new(),
    };
    let cause = a.end_frame.map(|f| {
        format!(
            "the {} sent an encrypted alert in frame {f}{after} and the handshake did not complete (inferred from encrypted record sizes; its reason needs keys)",
            side(a.end_by.unwrap_or(Direction::Unknown))
        )
    });
    Some(Outcome {
        status,
        cause: cause.filter(|_| status == OutcomeStatus::Failed),
        by: a.end_by,
        alert: None,
        ended_by: (status == OutcomeStatus::Failed).then_some("encrypted-alert"),
        frame: a.end_frame,
    })
}

/// "after the client's empty Certificate (frame 8)": the client's Certificate when it sent one
/// (the usual reason a server aborts), else the last message before `until`.
fn step(msgs: &[&HandshakeMessage], from: u64, until: u64) -> String {
    let window = || msgs.iter().filter(|m| m.frame >= from && m.frame <= until);
    match window()
        .rfind(|m| m.direction == Direction::Client && m.kind == "certificate")
        .or_else(|| window().next_back())
    {
        Some(m) => {
            let empty = matches!(&m.detail, Some(Detail::Certificate(c)) if c.empty);
            format!(
                " after the {}'s {}{} (frame {})",
                side(m.direction),
                if empty { "empty " } else { "" },
                m.title(),
                m.frame
            )
        }
        None => String::new(),
    }
}

/// The outcome of the handshake that runs from `from` up to (not including) `until`.
fn judge(r: &ConnectionReport, msgs: &[&HandshakeMessage], start: &Start, until: u64) -> Outcome {
    let inside = |f: u64| f >= start.frame && f < until;
    let tls13 = r.tls_version.as_deref() == Some("TLS 1.3");
    if start.encrypted || (tls13 && r.decryption.status == "not-decrypted") {
        if let Some(o) = inferred_outcome(r, start, until) {
            return o;
        }
    }
    let finished = |d: Direction| {
        let clear = msgs
            .iter()
            .filter(|m| m.direction == d && m.kind == "finished" && inside(m.frame))
            .map(|m| m.frame)
            .min();
        // TLS <= 1.2 without keys: the first encrypted handshake record after each
        // ChangeCipherSpec of the initial handshake is its Finished.
        let encrypted = (start.kind == "initial")
            .then(|| {
                r.encrypted_handshake
                    .iter()
                    .filter(|e| e.direction == d && !e.after_finished && inside(e.frame))
                    .map(|e| e.frame)
                    .min()
            })
            .flatten();
        clear.into_iter().chain(encrypted).min()
    };
    let completed_at = if start.kind == "post-handshake-auth" {
        // The client's Finished ends post-handshake authentication.
        finished(Direction::Client)
    } else {
        match (finished(Direction::Client), finished(Direction::Server)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        }
    };
    // TLS <= 1.2 sends application data only under the new keys, after Finished: data both ways
    // means the initial handshake completed even where its messages could not be followed (a
    // protocol violation, a message lost in a capture gap).
    let completed_at = completed_at.or_else(|| {
        let up_to_tls12 = matches!(
            r.tls_version.as_deref(),
            Some("SSLv3" | "TLS 1.0" | "TLS 1.1" | "TLS 1.2")
        );
        (start.kind == "initial" && up_to_tls12)
            .then_some(())
            .and_then(|_| {
                match (
                    r.application_data.client.first_frame,
                    r.application_data.server.first_frame,
                ) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                }
            })
            .filter(|&f| inside(f))
    });
    if let Some(cmk) = msgs
        .iter()
        .find(|m| m.kind == "sslv2_client_master_key" && inside(m.frame))
    {
        return outcome(
            OutcomeStatus::Unknown,
            Some(format!(
                "SSLv2 encrypts the rest of its handshake after the client's ClientMasterKey (frame {}), and tlsdiag does not decrypt SSLv2",
                cmk.frame
            )),
            None,
        );
    }
    if completed_at.is_none() && tls13 && r.decryption.status == "not-decrypted" {
        // Everything after ServerHello is encrypted, alerts included, and looks like
        // application data: whether the handshake completed cannot be told without keys.
        return outcome(
            OutcomeStatus::Unknown,
            Some("TLS 1.3 encrypts the rest of the handshake and its alerts: a key log would show how it ended".into()),
            None,
        );
    }
    // TLS 1.3: the server judges the client's certificate after the client's Finished, so a
    // fatal alert from it before any application data of its own still fails the handshake.
    let late_rejection = completed_at.filter(|_| tls13).and_then(|done| {
        r.alerts.iter().find(|a| {
            a.level == Some(2)
                && a.direction == Direction::Server
                && a.frame >= done
                && inside(a.frame)
                && r.application_data
                    .server
                    .first_frame
                    .is_none_or(|f| f > a.frame)
        })
    });
    if let (Some(frame), None) = (completed_at, late_rejection) {
        return outcome(OutcomeStatus::Completed, None, Some(frame));
    }
    if start.encrypted {
        // TLS <= 1.2 renegotiation: ChangeCipherSpec stays in clear, and the first handshake
        // record after each side's ChangeCipherSpec is its Finished.
        let finished_after_ccs = |d: Direction| {
            let ccs = r
                .change_cipher_spec
                .iter()
                .filter(|x| x.direction == d && inside(x.frame))
                .map(|x| x.frame)
                .min()?;
            r.encrypted_handshake
                .iter()
                .filter(|e| e.direction == d && e.frame >= ccs && inside(e.frame))
                .map(|e| e.frame)
                .min()
        };
        if let (Some(a), Some(b)) = (
            finished_after_ccs(Direction::Client),
            finished_after_ccs(Direction::Server),
        ) {
            return outcome(OutcomeStatus::Completed, None, Some(a.max(b)));
        }
        return outcome(
            OutcomeStatus::Unknown,
            Some(format!(
                "the {} is encrypted and was not decrypted: a key log would show how it ended",
                start.kind.replace('-', " ")
            )),
            None,
        );
    }
    let alerts: Vec<_> = r.alerts.iter().filter(|a| inside(a.frame)).collect();
    if start.kind != "initial" {
        if let Some(a) = alerts.iter().find(|a| {
            a.level == Some(1)
                && a.description == Some(NO_RENEGOTIATION)
                && a.direction != start.initiated_by
        }) {
            let then = alerts
                .iter()
                .find(|b| b.frame >= a.frame && b.level == Some(2))
                .map(|b| {
                    format!(
                        "; the {} then sent a fatal {} alert ({}) in frame {}",
                        side(b.direction),
                        b.name.unwrap_or("?"),
                        b.description.unwrap_or(0),
                        b.frame
                    )
                })
                .unwrap_or_default();
            return Outcome {
                status: OutcomeStatus::Refused,
                cause: Some(format!(
                    "the {} declined the renegotiation with a no_renegotiation warning (100) in frame {}{then}",
                    side(a.direction),
                    a.frame
                )),
                by: Some(a.direction),
                alert: Some(NO_RENEGOTIATION),
                ended_by: Some("alert"),
                frame: Some(a.frame),
            };
        }
    }
    let failed = |cause: String, by: Direction, alert: Option<u8>, frame: u64, how| Outcome {
        status: OutcomeStatus::Failed,
        cause: Some(cause),
        by: Some(by),
        alert,
        ended_by: Some(how),
        frame: Some(frame),
    };
    if let Some(a) = alerts.iter().find(|a| a.level == Some(2)) {
        let cause = format!(
            "the {} sent a fatal {} alert ({}) in frame {}{}",
            side(a.direction),
            a.name.unwrap_or("unknown"),
            a.description.unwrap_or(0),
            a.frame,
            step(msgs, start.frame, a.frame)
        );
        return failed(cause, a.direction, a.description, a.frame, "alert");
    }
    if let Some(a) = alerts.iter().find(|a| a.name.is_none()) {
        let cause = format!(
            "the {} sent an encrypted alert in frame {}{} and the handshake did not complete (its reason needs keys)",
            side(a.direction),
            a.frame,
            step(msgs, start.frame, a.frame)
        );
        return failed(cause, a.direction, None, a.frame, "encrypted-alert");
    }
    // Whichever came first ended it: a peer that closes (FIN) is often answered with a reset,
    // and the reset is then not the reason.
    let rst = r.tcp.rst_frame.filter(|&f| f >= start.frame);
    let fin = r.tcp.fin_frame.filter(|&f| f >= start.frame);
    match (rst, fin) {
        (Some(rst), fin) if fin.is_none_or(|f| rst <= f) => {
            let by = r.tcp.reset_by.unwrap_or(Direction::Unknown);
            let cause = format!(
                "the {} reset the connection in frame {rst}{}",
                side(by),
                step(msgs, start.frame, rst)
            );
            failed(cause, by, None, rst, "reset")
        }
        (rst, Some(fin)) => {
            let by = r.tcp.closed_by.unwrap_or(Direction::Unknown);
            let then = rst
                .map(|rst| {
                    format!(
                        "; the {} then reset it in frame {rst}",
                        side(r.tcp.reset_by.unwrap_or(Direction::Unknown))
                    )
                })
                .unwrap_or_default();
            let cause = format!(
                "the {} closed the connection (FIN) in frame {fin}{}, before the handshake completed{then}",
                side(by),
                step(msgs, start.frame, fin)
            );
            failed(cause, by, None, fin, "close")
        }
        _ => outcome(
            OutcomeStatus::Incomplete,
            Some(format!(
                "the capture ends before the handshake completed{}",
                step(msgs, start.frame, u64::MAX)
            )),
            None,
        ),
    }
}

/// Every handshake of the connection with its outcome, and the connection's outcome: the first
/// handshake that did not complete (a failed renegotiation fails the connection), else the
/// initial one.
/// A TLS <= 1.2 handshake whose ServerHello is followed by the server's ChangeCipherSpec with no
/// Certificate, ServerHelloDone or ClientKeyExchange between: abbreviated although no session ID
/// was echoed, which only an accepted session ticket allows (RFC 5077 3.4).
fn abbreviated(
    r: &ConnectionReport,
    msgs: &[&HandshakeMessage],
    from: u64,
    until: u64,
) -> Option<&'static str> {
    let here: Vec<&&HandshakeMessage> = msgs
        .iter()
        .filter(|m| m.frame >= from && m.frame < until)
        .collect();
    let hello = here.iter().find_map(|m| match &m.detail {
        Some(Detail::ServerHello(sh)) if !sh.hello_retry_request => Some((m.frame, m.seq, sh)),
        _ => None,
    })?;
    let (frame, seq, sh) = hello;
    if !(0x0300..=0x0303).contains(&sh.version_id) {
        return None;
    }
    let full = here.iter().any(|m| {
        matches!(
            m.kind,
            "certificate" | "server_key_exchange" | "server_hello_done" | "client_key_exchange"
        )
    });
    let server_ccs = r.change_cipher_spec.iter().any(|c| {
        c.direction == Direction::Server && c.frame < until && (c.frame, c.seq) > (frame, seq)
    });
    (!full && server_ccs).then_some("session-ticket")
}

pub(super) fn handshake_outcomes(r: &ConnectionReport) -> (Vec<HandshakeOutcome>, Outcome) {
    if !r.tls {
        return (
            Vec::new(),
            outcome(
                OutcomeStatus::Unknown,
                Some("no TLS on this connection".into()),
                None,
            ),
        );
    }
    let mut msgs: Vec<&HandshakeMessage> = r.messages.iter().collect();
    msgs.sort_by_key(|m| (m.frame, m.seq));
    let starts = starts(r, &msgs);
    if starts.is_empty() {
        return (
            Vec::new(),
            outcome(
                OutcomeStatus::Unknown,
                Some(
                    "the capture holds no hello of this connection (it starts after the handshake)"
                        .into(),
                ),
                None,
            ),
        );
    }
    let mut handshakes = Vec::with_capacity(starts.len());
    for (i, s) in starts.iter().enumerate() {
        let until = starts.get(i + 1).map_or(u64::MAX, |n| n.frame);
        let resumed = msgs
            .iter()
            .filter(|m| m.frame >= s.frame && m.frame < until)
            .find_map(|m| match &m.detail {
                Some(Detail::ServerHello(sh)) => sh.resumed,
                _ => None,
            })
            .or_else(|| abbreviated(r, &msgs, s.frame, until));
        let mut outcome = judge(r, &msgs, s, until);
        if let Some(how) = resumed {
            let said = format!(
                "resumed an earlier session ({how}): no CertificateRequest, the client identity is the earlier session's"
            );
            outcome.cause = Some(match outcome.cause {
                Some(c) => format!("{c}; {said}"),
                None => said,
            });
        }
        handshakes.push(HandshakeOutcome {
            kind: s.kind,
            initiated_by: s.initiated_by,
            first_frame: s.frame,
            encrypted: s.encrypted,
            resumed,
            outcome,
        });
    }
    let first = &handshakes[0];
    let connection = if first.outcome.status != OutcomeStatus::Completed {
        first.outcome.clone()
    } else if let Some(h) = handshakes[1..]
        .iter()
        .find(|h| {
            matches!(
                h.outcome.status,
                OutcomeStatus::Failed | OutcomeStatus::Refused
            )
        })
        .or_else(|| {
            handshakes[1..]
                .iter()
                .find(|h| h.outcome.status != OutcomeStatus::Completed)
        })
    {
        let mut o = h.outcome.clone();
        o.cause = o.cause.map(|c| {
            format!(
                "the {} started in frame {} {}: {c}",
                h.kind.replace('-', " "),
                h.first_frame,
                o.status.word()
            )
        });
        o
    } else {
        first.outcome.clone()
    };
    (handshakes, connection)
}

//! The HTML report: one self-contained page (inline styles, inline SVG, a few lines of inline
//! script; nothing fetched, so it works offline and as an e-mail attachment). The verdict first;
//! then, for each connection with a problem, a ladder diagram of the handshake, the
//! CertificateRequest's CA list against the 12 KB and 16 KB limits, the certificate chains as
//! cards with their problems marked, and the findings with copyable Wireshark filters; healthy
//! connections are one table at the end.

use std::fmt::Write as _;
use std::io;

use super::spool::Spool;
use crate::findings::DeferredLinks;

use crate::model::*;
use crate::tls::{Detail, Direction, HandshakeMessage};
use crate::x509::CertInfo;

/// Ladder rows drawn per connection at most (a note says how many were left out).
const MAX_LADDER_ROWS: usize = 150;
/// The CA-list sizes Windows clients and Schannel care about.
const CA_LIST_WARN: usize = 12 * 1024;
const CA_LIST_LIMIT: usize = 16 * 1024;

/// HTML-escapes text (also quotes, for attribute values).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' => o.extend(c.escape_debug()),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px} h3{font-size:15px;margin:18px 0 6px}
.meta{color:#5b6475;font-size:13px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:14px 16px;margin:12px 0}
.verdict{border-left:6px solid #2e7d32}.verdict.bad{border-left-color:#c62828}.verdict.warn{border-left-color:#ef8f00}
.sev{display:inline-block;font-size:11px;font-weight:700;padding:1px 7px;border-radius:10px;color:#fff;vertical-align:1px}
.sev.error{background:#c62828}.sev.warning{background:#ef8f00}.sev.info{background:#607d8b}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.filter{display:flex;gap:8px;align-items:center;margin-top:6px}
.filter code{background:#f0f2f5;padding:3px 6px;border-radius:4px;flex:1;overflow-wrap:anywhere}
button.copy{font-size:12px;padding:2px 8px;border:1px solid #b8c0cc;border-radius:4px;background:#fff;cursor:pointer}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e9ee;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
tr.over td{background:#fdecea} tr.limit td{border-top:3px solid #c62828} tr.warnline td{border-top:3px dashed #ef8f00}
.chain{display:flex;flex-wrap:wrap;gap:10px}
.cert{border:1px solid #dde1e8;border-radius:6px;padding:8px 10px;background:#fbfcfd;width:320px;font-size:12.5px}
.cert.problem{border:2px solid #c62828;background:#fff6f5}
.cert .bad{color:#c62828;font-weight:600}
.ladder{overflow-x:auto} details summary{cursor:pointer;font-weight:600}
.outcome-failed,.outcome-refused{color:#c62828;font-weight:600}.outcome-completed{color:#2e7d32}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('button.copy').forEach(function (b) {
  b.addEventListener('click', function () {
    var text = b.getAttribute('data-filter');
    function done() { b.textContent = 'copied'; setTimeout(function () { b.textContent = 'copy'; }, 1500); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var t = document.createElement('textarea'); t.value = text; document.body.appendChild(t);
      t.select(); try { document.execCommand('copy'); done(); } catch (e) {} t.remove();
    }
  });
});
document.documentElement.setAttribute('data-ready', 'ok');
"#;

/// The page's opening: doctype, title, styles.
pub fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>\n",
        esc(title)
    )
}

/// Closes the page; the script comes last so that every button exists when it runs.
pub fn html_tail() -> String {
    format!(
        "<p class=\"meta\">tlsdiag {}: everything in this page is in this file (no scripts, styles or fonts are fetched).</p>\n</main><script>{SCRIPT}</script></body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A connection has a problem when it did not complete or carries an error or warning.
fn has_problem(c: &ConnectionReport) -> bool {
    matches!(
        c.outcome.status,
        OutcomeStatus::Failed | OutcomeStatus::Refused
    ) || c.findings.iter().any(|f| f.severity >= Severity::Warning)
}

fn sev_badge(s: Severity) -> String {
    format!("<span class=\"sev {0}\">{0}</span>", s.word())
}

fn filter_box(filter: &str) -> String {
    format!(
        "<div class=\"filter\"><code>{0}</code><button class=\"copy\" type=\"button\" data-filter=\"{0}\">copy</button></div>",
        esc(filter)
    )
}

/// One capture's section: header, verdict, problem connections in detail, healthy ones in a table.
pub fn html_file(r: &FileReport) -> String {
    let mut o = file_head(r);
    let mut order: Vec<&ConnectionReport> = r.connections.iter().collect();
    order.sort_by_key(|c| c.stream);
    let (problems, healthy): (Vec<&ConnectionReport>, Vec<&ConnectionReport>) =
        order.into_iter().partition(|c| has_problem(c));
    for c in &problems {
        connection(&mut o, c);
    }
    if !healthy.is_empty() {
        healthy_table_open(&mut o, healthy.len());
        for c in healthy {
            healthy_row(&mut o, c);
        }
        o.push_str(HEALTHY_TABLE_CLOSE);
    }
    o
}

/// The section's header and verdict.
fn file_head(r: &FileReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<h1>{}</h1>", esc(&r.file));
    let _ = writeln!(
        o,
        "<p class=\"meta\">{}, {} packets, {} TCP conversations, {} with TLS, {} with HTTP</p>",
        esc(&r.capture.format),
        r.capture.packets,
        r.tcp_conversations,
        r.tls_connections,
        r.http_connections
    );
    for w in &r.warnings {
        let _ = writeln!(o, "<p class=\"meta\">warning: {}</p>", esc(w));
    }
    verdict(&mut o, r);
    o
}

fn healthy_table_open(o: &mut String, count: usize) {
    let _ = writeln!(
        o,
        "<h2>{count} connection(s) without a problem</h2><div class=\"card\"><details><summary>show them</summary><table><tr><th>tcp.stream</th><th>client</th><th>server</th><th>SNI</th><th>version</th><th>outcome</th><th>findings</th></tr>",
    );
}

const HEALTHY_TABLE_CLOSE: &str = "</table></details></div>\n";

fn healthy_row(o: &mut String, c: &ConnectionReport) {
    let _ = writeln!(
        o,
        "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        c.stream,
        esc(&c.client),
        esc(&c.server),
        esc(c.sni.as_deref().unwrap_or("")),
        esc(c.tls_version.as_deref().unwrap_or(if c.tls { "" } else { "no TLS" })),
        if c.tls { c.outcome.status.word() } else { "" },
        c.findings.len()
    );
}

/// A file's HTML section made as its connections end, so that it is never held whole: each
/// connection is rendered at once (a 401/403 once linked, at the end: [`DeferredLinks`]) into
/// a [`Spool`], problems before healthy ones, and [`HtmlCollector::finish`] writes the header
/// and verdict, then the pieces in `tcp.stream` order: the bytes [`html_file`] gives for the
/// held report.
pub struct HtmlCollector {
    /// Pieces by (healthy, stream, order of end).
    spool: Spool<(bool, u64, u64)>,
    links: DeferredLinks,
    healthy: usize,
    piece: String,
}

impl HtmlCollector {
    /// A collector keeping up to `limit` bytes of rendered connections in memory.
    pub fn new(limit: usize) -> HtmlCollector {
        HtmlCollector {
            spool: Spool::new(limit),
            links: DeferredLinks::default(),
            healthy: 0,
            piece: String::new(),
        }
    }

    /// Takes one connection's report as it ends.
    pub fn add(&mut self, c: ConnectionReport) -> io::Result<()> {
        match self.links.admit(c) {
            Some((place, c)) => self.put(place, &c),
            None => Ok(()),
        }
    }

    fn put(&mut self, (stream, ended): (u64, u64), c: &ConnectionReport) -> io::Result<()> {
        self.piece.clear();
        let healthy = !has_problem(c);
        if healthy {
            self.healthy += 1;
            healthy_row(&mut self.piece, c);
        } else {
            connection(&mut self.piece, c);
        }
        let piece = &self.piece;
        self.spool.put((healthy, stream, ended), |buf| {
            buf.extend_from_slice(piece.as_bytes());
            Ok(())
        })
    }

    /// Writes the file's section: `report` is the analysis's report of the file, without its
    /// connections (they are the ones collected).
    pub fn finish(mut self, report: &FileReport, out: &mut dyn io::Write) -> io::Result<()> {
        for (place, c) in std::mem::take(&mut self.links).finish() {
            self.put(place, &c)?;
        }
        out.write_all(file_head(report).as_bytes())?;
        let mut table_open = false;
        let healthy = self.healthy;
        self.spool.drain_sorted(|&(is_healthy, _, _), piece| {
            if is_healthy && !table_open {
                let mut open = String::new();
                healthy_table_open(&mut open, healthy);
                out.write_all(open.as_bytes())?;
                table_open = true;
            }
            out.write_all(piece)
        })?;
        if table_open {
            out.write_all(HEALTHY_TABLE_CLOSE.as_bytes())?;
        }
        Ok(())
    }
}

fn verdict(o: &mut String, r: &FileReport) {
    let entries = Summary::diagnosis_in_order(&r.summary.diagnosis);
    let worst = entries.first().map(|e| e.severity);
    let class = match worst {
        Some(Severity::Error) => " bad",
        Some(Severity::Warning) => " warn",
        _ => "",
    };
    let outcomes: Vec<String> = ["failed", "refused", "incomplete", "unknown", "completed"]
        .iter()
        .filter_map(|s| r.summary.outcomes.get(s).map(|n| format!("{n} {s}")))
        .collect();
    let _ = writeln!(o, "<section class=\"card verdict{class}\"><h2>Verdict</h2>");
    let _ = writeln!(
        o,
        "<p>{} TLS connection(s){}{}</p>",
        r.summary.outcomes.values().sum::<usize>(),
        if outcomes.is_empty() {
            String::new()
        } else {
            format!(": {}", outcomes.join(", "))
        },
        if entries.is_empty() {
            ". No findings."
        } else {
            ""
        }
    );
    for e in &entries {
        let servers: Vec<String> = e.servers.iter().take(3).map(|s| esc(s)).collect();
        let _ = writeln!(
            o,
            "<h3>{} <code>{}</code> on {} connection(s) to {}{}</h3>",
            sev_badge(e.severity),
            e.code,
            e.connections,
            servers.join(", "),
            if e.servers.len() > 3 || e.more_servers {
                " and more"
            } else {
                ""
            }
        );
        if let Some(x) = e.examples.first() {
            // The first paragraph; the evidence lists stay with the connection below.
            let first = x.explanation.lines().next().unwrap_or("");
            let _ = writeln!(o, "<p><b>{}</b> {}</p>", esc(&x.title), esc(first));
        }
        for x in &e.examples {
            let _ = writeln!(
                o,
                "<div><a href=\"#stream-{}\">tcp.stream {}</a>{}</div>",
                x.stream,
                x.stream,
                filter_box(&x.filter)
            );
        }
    }
    for (code, n) in &r.summary.notes {
        let _ = writeln!(
            o,
            "<p class=\"meta\">note: {}</p>",
            esc(&crate::findings::file_note_text(code, *n))
        );
    }
    o.push_str("</section>\n");
}

fn connection(o: &mut String, c: &ConnectionReport) {
    let _ = writeln!(
        o,
        "<section class=\"card\" id=\"stream-{}\"><h2>tcp.stream {}: <span class=\"mono\">{} &rarr; {}</span></h2>",
        c.stream,
        c.stream,
        esc(&c.client),
        esc(&c.server)
    );
    let _ = writeln!(
        o,
        "<p class=\"meta\">{} {} {} &middot; frames {}-{} &middot; started {}</p>",
        esc(c.tls_version.as_deref().unwrap_or("")),
        esc(c.cipher_suite.as_deref().unwrap_or("")),
        c.sni
            .as_deref()
            .map(|s| format!("&middot; SNI {}", esc(s)))
            .unwrap_or_default(),
        c.first_frame,
        c.last_frame,
        utc(c.start_ns.div_euclid(1_000_000_000))
    );
    if c.tls {
        let _ = writeln!(
            o,
            "<p>Outcome: <span class=\"outcome-{0}\">{0}</span>{1}</p>",
            c.outcome.status.word(),
            c.outcome
                .cause
                .as_deref()
                .map(|x| format!(": {}", esc(x)))
                .unwrap_or_default()
        );
    }
    for f in &c.findings {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        let _ = writeln!(
            o,
            "<div class=\"card\">{} <code>{}</code> <b>{}</b><p>{}</p><p class=\"meta\">frames {}</p>{}</div>",
            sev_badge(f.severity),
            f.code,
            esc(&f.title),
            esc(&f.explanation).replace('\n', "<br>"),
            frames.join(", "),
            filter_box(&f.filter)
        );
    }
    let _ = writeln!(
        o,
        "<h3>Handshake ladder</h3><div class=\"ladder\">{}</div>",
        ladder(c)
    );
    for m in &c.messages {
        if let Some(Detail::CertificateRequest(cr)) = &m.detail {
            ca_list(o, m, cr);
        }
    }
    for m in &c.messages {
        if let Some(Detail::Certificate(cert)) = &m.detail {
            if !cert.certificates.is_empty() {
                chain(o, c, m, &cert.certificates);
            }
        }
    }
    o.push_str("</section>\n");
}

/// One row of the ladder.
struct Step {
    frame: u64,
    order: u32,
    from: Direction,
    label: String,
    /// `hs`, `enc`, `alert`, `fatal`, `http`, `tcp`, `data`, `band` (a phase title).
    class: &'static str,
}

fn steps(c: &ConnectionReport) -> Vec<Step> {
    let mut v: Vec<Step> = Vec::new();
    let label = |m: &HandshakeMessage| -> String {
        match &m.detail {
            Some(Detail::Certificate(x)) if x.empty => "Certificate (empty)".into(),
            Some(Detail::Certificate(x)) => format!("Certificate ({})", x.certificates.len()),
            Some(Detail::CertificateRequest(x)) => {
                format!(
                    "CertificateRequest ({} CAs, {} B)",
                    x.ca_names.len(),
                    x.ca_list_bytes
                )
            }
            _ => m.title().to_string(),
        }
    };
    for h in c.handshakes.iter().skip(1) {
        v.push(Step {
            frame: h.first_frame,
            order: 0,
            from: Direction::Unknown,
            label: format!(
                "{} started by the {} ({})",
                h.kind.replace('-', " "),
                h.initiated_by.word(),
                h.outcome.status.word()
            ),
            class: "band",
        });
    }
    for m in &c.messages {
        v.push(Step {
            frame: m.frame,
            order: m.seq * 2 + 1,
            from: m.direction,
            label: format!(
                "{}{}",
                label(m),
                if m.decrypted { " (decrypted)" } else { "" }
            ),
            class: "hs",
        });
    }
    for x in &c.change_cipher_spec {
        v.push(Step {
            frame: x.frame,
            order: x.seq * 2 + 1,
            from: x.direction,
            label: "ChangeCipherSpec".into(),
            class: "hs",
        });
    }
    for e in &c.encrypted_handshake {
        v.push(Step {
            frame: e.frame,
            order: e.seq * 2 + 1,
            from: e.direction,
            label: format!("encrypted handshake, {} B", e.length),
            class: "enc",
        });
    }
    for a in &c.alerts {
        let fatal = a.level == Some(2);
        v.push(Step {
            frame: a.frame,
            order: a.seq * 2 + 1,
            from: a.direction,
            label: match (a.name, a.level) {
                (Some(n), Some(l)) => format!(
                    "Alert {} {n} ({})",
                    if l == 2 { "fatal" } else { "warning" },
                    a.description.unwrap_or(0)
                ),
                _ => "Alert (encrypted)".into(),
            },
            class: if fatal { "fatal" } else { "alert" },
        });
    }
    for (d, s) in [
        (Direction::Client, &c.application_data.client),
        (Direction::Server, &c.application_data.server),
    ] {
        if let Some(f) = s.first_frame {
            v.push(Step {
                frame: f,
                order: u32::MAX - 2,
                from: d,
                label: format!("application data: {} record(s), {} B", s.records, s.bytes),
                class: "data",
            });
        }
    }
    for x in &c.http {
        if let (Some(f), Some(m), Some(t)) = (x.request_frame, &x.method, &x.target) {
            v.push(Step {
                frame: f,
                order: u32::MAX - 1,
                from: Direction::Client,
                label: format!("HTTP {m} {t}"),
                class: "http",
            });
        }
        if let (Some(f), Some(s)) = (x.response_frame, x.status) {
            v.push(Step {
                frame: f,
                order: u32::MAX - 1,
                from: Direction::Server,
                label: format!("HTTP {s} {}", x.reason.as_deref().unwrap_or("")),
                class: "http",
            });
        }
    }
    if let (Some(f), Some(by)) = (c.tcp.fin_frame, c.tcp.closed_by) {
        v.push(Step {
            frame: f,
            order: u32::MAX,
            from: by,
            label: "TCP FIN (close)".into(),
            class: "tcp",
        });
    }
    if let Some(f) = c.tcp.rst_frame {
        v.push(Step {
            frame: f,
            order: u32::MAX,
            from: c.tcp.reset_by.unwrap_or(Direction::Unknown),
            label: "TCP RST (reset)".into(),
            class: "tcp",
        });
    }
    v.sort_by_key(|s| (s.frame, s.order));
    v
}

/// The handshake as an SVG ladder: client on the left, server on the right, one arrow per
/// message or record with its frame number; encrypted records shaded, the step that decided a
/// failure in red.
fn ladder(c: &ConnectionReport) -> String {
    let all = steps(c);
    let shown = &all[..all.len().min(MAX_LADDER_ROWS)];
    let (w, left, right, row) = (760.0_f64, 200.0_f64, 620.0_f64, 26.0_f64);
    let height = 44.0 + row * shown.len() as f64 + 10.0;
    let decisive = match c.outcome.status {
        OutcomeStatus::Failed | OutcomeStatus::Refused => c.outcome.frame,
        _ => None,
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\" aria-label=\"handshake ladder of tcp.stream {}\" font-family=\"system-ui,sans-serif\" font-size=\"12\">",
        c.stream
    );
    s.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker></defs>");
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"16\" text-anchor=\"middle\" font-weight=\"600\">client {}</text><text x=\"{right}\" y=\"16\" text-anchor=\"middle\" font-weight=\"600\">server {}</text>",
        esc(&c.client),
        esc(&c.server)
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"24\" x2=\"{left}\" y2=\"{}\" stroke=\"#9aa3b2\"/><line x1=\"{right}\" y1=\"24\" x2=\"{right}\" y2=\"{}\" stroke=\"#9aa3b2\"/>",
        height - 6.0,
        height - 6.0
    );
    for (i, st) in shown.iter().enumerate() {
        let y = 44.0 + row * i as f64;
        let _ = write!(
            s,
            "<text x=\"8\" y=\"{}\" fill=\"#5b6475\">frame {}</text>",
            y + 4.0,
            st.frame
        );
        if st.class == "band" {
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#e8eefc\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-style=\"italic\">{}</text>",
                left - 10.0,
                y - 12.0,
                right - left + 20.0,
                row - 4.0,
                (left + right) / 2.0,
                y + 4.0,
                esc(&st.label)
            );
            continue;
        }
        let red =
            decisive == Some(st.frame) && matches!(st.class, "fatal" | "tcp" | "alert" | "enc");
        let color = match st.class {
            _ if red => "#c62828",
            "fatal" => "#c62828",
            "alert" => "#ef8f00",
            "enc" => "#6b7686",
            "http" => "#1565c0",
            "tcp" => "#6d4c41",
            "data" => "#2e7d32",
            _ => "#1d2330",
        };
        if st.class == "enc" || st.class == "data" {
            let _ = write!(
                s,
                "<rect x=\"{left}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#eef0f3\"/>",
                y - 12.0,
                right - left,
                row - 4.0
            );
        }
        let (x1, x2) = match st.from {
            Direction::Server => (right, left),
            _ => (left, right),
        };
        let dash = if st.class == "enc" {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let width = if red { 2.5 } else { 1.4 };
        let _ = write!(
            s,
            "<line x1=\"{x1}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#arrow)\"/>",
            y + 6.0,
            y + 6.0
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{color}\"{}>{}</text>",
            (left + right) / 2.0,
            y + 1.0,
            if red { " font-weight=\"700\"" } else { "" },
            esc(&st.label)
        );
    }
    s.push_str("</svg>");
    if all.len() > shown.len() {
        let _ = write!(
            s,
            "<p class=\"meta\">{} more rows not drawn.</p>",
            all.len() - shown.len()
        );
    }
    s
}

/// The CA list with each name's size on the wire and the running total, with the 12 KB and
/// 16 KB lines drawn where the total passes them.
fn ca_list(
    o: &mut String,
    m: &HandshakeMessage,
    cr: &crate::tls::handshake::CertificateRequestInfo,
) {
    let _ = writeln!(
        o,
        "<h3>CertificateRequest (frame {}): {} CA name(s), {} bytes</h3>",
        m.frame,
        cr.ca_names.len(),
        cr.ca_list_bytes
    );
    if cr.ca_names.is_empty() {
        o.push_str("<p>The list is empty: the client may offer any certificate it has.</p>\n");
        return;
    }
    o.push_str("<div class=\"card\"><details");
    if cr.ca_list_bytes > CA_LIST_WARN {
        o.push_str(" open");
    }
    o.push_str("><summary>CA names with sizes (the 12 KB line dashed, Schannel's 16,384-byte limit solid)</summary><table><tr><th>#</th><th>distinguished name</th><th>bytes</th><th>total on the wire</th></tr>");
    let mut total = 0usize;
    for (i, n) in cr.ca_names.iter().enumerate() {
        let before = total;
        total += 2 + n.der_len;
        let class = if before <= CA_LIST_LIMIT && total > CA_LIST_LIMIT {
            " class=\"limit over\""
        } else if total > CA_LIST_LIMIT {
            " class=\"over\""
        } else if before <= CA_LIST_WARN && total > CA_LIST_WARN {
            " class=\"warnline\""
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "<tr{class}><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&n.dn),
            2 + n.der_len,
            total
        );
    }
    o.push_str("</table></details></div>\n");
}

/// A certificate chain as cards, the problems marked: a Subject==Issuer certificate past the
/// leaf, a validity that excludes the capture time, a leaf without the right EKU, a client
/// issuer not in the CA list.
fn chain(
    o: &mut String,
    c: &ConnectionReport,
    m: &HandshakeMessage,
    certs: &[std::sync::Arc<CertInfo>],
) {
    let client = m.direction == Direction::Client;
    let now = m.ts_ns.div_euclid(1_000_000_000);
    let _ = writeln!(
        o,
        "<h3>{} certificate chain (frame {})</h3><div class=\"chain\">",
        if client { "Client" } else { "Server" },
        m.frame
    );
    for (i, x) in certs.iter().enumerate() {
        let mut problems: Vec<String> = Vec::new();
        if i > 0 && x.self_issued && x.subject == x.issuer && i + 1 < certs.len() {
            problems.push("Subject equals Issuer but it is not the last certificate: Schannel takes it for a root".into());
        }
        if x.not_after.is_some_and(|t| t < now) {
            problems.push("expired at capture time".into());
        }
        if x.not_before.is_some_and(|t| t > now) {
            problems.push("not yet valid at capture time".into());
        }
        let wanted = if client { "clientAuth" } else { "serverAuth" };
        if i == 0
            && !x.eku.is_empty()
            && !x
                .eku
                .iter()
                .any(|e| e == wanted || e == "anyExtendedKeyUsage")
        {
            problems.push(format!("no {wanted} in its extended key usage"));
        }
        if client && i == 0 && c.client_auth.issuer_match == Some("none") {
            problems.push("its issuer is not among the CA names the server listed".into());
        }
        let _ = write!(
            o,
            "<div class=\"cert{}\"><b>[{i}]</b> {}<br><span class=\"meta\">issuer</span> {}<br><span class=\"meta\">valid</span> {} to {}<br><span class=\"meta\">key</span> {}{}",
            if problems.is_empty() { "" } else { " problem" },
            esc(&x.subject),
            esc(&x.issuer),
            x.not_before.map(utc).unwrap_or_default(),
            x.not_after.map(utc).unwrap_or_default(),
            esc(x.key.as_deref().unwrap_or("?")),
            if x.eku.is_empty() { String::new() } else { format!("<br><span class=\"meta\">EKU</span> {}", esc(&x.eku.join(", "))) }
        );
        for p in problems {
            let _ = write!(o, "<br><span class=\"bad\">{}</span>", esc(&p));
        }
        o.push_str("</div>");
    }
    o.push_str("</div>\n");
}

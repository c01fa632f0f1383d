//! The second stage of the analysis: turns finalized connections into reports (findings,
//! Kerberos rules, correlation, the file's counts) and hands them on. It receives connections
//! and Kerberos messages as one ordered stream of [`Event`]s from the first stage (packets, TCP,
//! TLS), so it writes the same reports whether it runs inline or on a thread of its own
//! (`-j 2` on one file, see `run::pipelined`): nothing it reads changes behind its back.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::{assemble, Conn};
use crate::findings::{self, FindingsContext};
use crate::kerberos::KdcMessage;
use crate::model::{self, ConnectionReport};

/// What the first stage hands to the second, in order.
pub(crate) enum Event {
    /// A connection that ended (or was cut off at the end of the capture), with the frame it
    /// was finalized at, and the hosts the capture had contacted by then when its findings
    /// need them (a certificate naming revocation URLs).
    Finalized {
        conn: Box<Conn>,
        at_frame: u64,
        contacted: Option<Arc<FxHashSet<String>>>,
    },
    /// A Kerberos message seen on port 88.
    Kdc(Box<KdcMessage>),
}

/// Reports, counts and Kerberos messages built from the events so far.
#[derive(Default)]
pub(crate) struct Reporter {
    findings: FindingsContext,
    /// Recently finalized connections, for cross-connection correlation.
    recent: VecDeque<findings::Recent>,
    pub(super) summary: model::Summary,
    pub(super) tls_connections: usize,
    pub(super) http_connections: usize,
    pub(super) handshakes: usize,
    /// Kerberos messages seen on port 88, in capture order.
    pub(super) kdc: Vec<KdcMessage>,
    /// Frames of KDC errors said on an HTTP connection (the rest are said once per file).
    pub(super) kdc_attached: FxHashSet<u64>,
    /// All reports are kept to the end: 401/403 are linked to other connections then, both
    /// ways ([`findings::correlate_all`]), instead of to earlier ones as connections end.
    pub(super) keeps_all_reports: bool,
}

impl Reporter {
    pub(super) fn new(findings: FindingsContext) -> Reporter {
        Reporter {
            findings,
            ..Default::default()
        }
    }

    /// Takes one event; a finished report goes to `sink`.
    pub(super) fn event(&mut self, event: Event, sink: &mut dyn FnMut(ConnectionReport)) {
        match event {
            Event::Kdc(m) => self.kdc.push(*m),
            Event::Finalized {
                mut conn,
                at_frame,
                contacted,
            } => {
                if let Some(hosts) = contacted {
                    self.findings.contacted = Arc::unwrap_or_clone(hosts);
                }
                if let Some(report) = assemble::connection_report(&mut conn, at_frame) {
                    // The connection's buffers go now, not after the report is written.
                    drop(conn);
                    sink(self.report(report));
                }
            }
        }
    }

    /// Findings, Kerberos rules, correlation and counts of one connection's report.
    fn report(&mut self, mut report: ConnectionReport) -> ConnectionReport {
        findings::evaluate_into(&mut report, &mut self.findings);
        if !report.http.is_empty() {
            findings::kerberos_rules(&mut report, &self.kdc, &mut self.kdc_attached);
        }
        if report.udp {
            // The findings' filters name the conversation as TCP; this one is UDP.
            for f in &mut report.findings {
                f.filter = f.filter.replace("tcp.stream eq", "udp.stream eq");
            }
        }
        if !self.keeps_all_reports {
            findings::correlate_recent(&mut report, &mut self.recent);
        }
        self.summary.add_connection(&report);
        self.tls_connections += report.tls as usize;
        self.http_connections += report.http_version.is_some() as usize;
        self.handshakes += report
            .messages
            .iter()
            .filter(|m| m.kind == "server_hello")
            .count();
        report
    }

    /// The second stage's part of the file's report: counts, findings summary, and the
    /// Kerberos messages with the findings of those no connection explained.
    pub(super) fn complete(mut self, file_report: &mut model::FileReport) {
        let kerberos = &mut file_report.kerberos;
        kerberos.findings = findings::kerberos_file_findings(&self.kdc, &self.kdc_attached);
        kerberos.messages = std::mem::take(&mut self.kdc);
        for f in &kerberos.findings {
            self.summary.add(f);
        }
        file_report.summary = self.summary;
        file_report.tls_connections = self.tls_connections;
        file_report.http_connections = self.http_connections;
        file_report.handshakes = self.handshakes;
    }
}

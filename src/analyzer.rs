//! The pipeline for one capture: packets to TCP conversations to TLS sessions, and at the end one
//! [`ConnectionReport`](crate::report::ConnectionReport) per connection that carried TLS.

use std::path::Path;

use crate::capture::{self, CaptureError, CaptureEvent, Packet, ReadOutcome};
use crate::findings::{self, FindingsContext, Thresholds};
use crate::http::HttpSession;
use crate::packet::{flags, Endpoint, PacketDecoder, TcpSegment};
use crate::report::{self, ConnectionReport, FileReport};
use crate::tcp::{self, Delivery, FlowTable, HalfStream};
use crate::tls::{TlsContext, TlsSession};

/// Tunables with their defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Out-of-order bytes buffered per direction before a hole is given up.
    pub max_out_of_order_bytes: usize,
    /// Thresholds of the findings.
    pub thresholds: Thresholds,
    /// NSS key log files with TLS secrets.
    pub keylog_files: Vec<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_out_of_order_bytes: 4 << 20,
            thresholds: Thresholds::default(),
            keylog_files: Vec::new(),
        }
    }
}

/// One TCP conversation.
pub(crate) struct Conn {
    pub stream: u64,
    /// Sender of direction 0 and of direction 1.
    pub endpoints: [Endpoint; 2],
    pub tcp: [HalfStream; 2],
    pub app: App,
    /// Direction that sent a SYN without ACK.
    pub syn_dir: Option<u8>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    pub finished: bool,
}

/// State that segments update; kept apart from the packet decoder so both can be borrowed.
#[derive(Default)]
struct State {
    flows: FlowTable,
    conns: Vec<Conn>,
    tls: TlsContext,
    options: Options,
}

/// Analyses one capture.
#[derive(Default)]
pub struct Analyzer {
    decoder: PacketDecoder,
    state: State,
    /// TLS key log text from Decryption Secrets Blocks, kept for decryption.
    pub tls_secrets: Vec<u8>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    warnings: Vec<String>,
}

/// Hands one delivery of direction `dir` to the TLS session.
fn deliver(
    app: &mut App,
    certs: &mut TlsContext,
    dir: u8,
    midstream: bool,
    ts_ns: i64,
    d: Delivery<'_>,
) {
    let session = app.tls.get_or_insert_with(|| Box::new(TlsSession::new()));
    if !session.gave_up() {
        match d {
            Delivery::Data {
                bytes,
                frame,
                at_frame,
            } => session.on_data(dir, bytes, frame, at_frame, ts_ns, midstream, certs),
            Delivery::Gap { len, at_frame } => session.on_gap(dir, len, at_frame),
        }
    }
    if session.detected {
        // HTTP inside TLS: whatever decryption recovered.
        if !session.app_plaintext.is_empty() {
            let http = app.http.get_or_insert_with(|| Box::new(HttpSession::new()));
            for (d, frame, bytes) in session.app_plaintext.drain(..) {
                http.on_data(d, &bytes, frame, ts_ns);
            }
        }
        return;
    }
    // Plaintext HTTP on any port.
    let http = app.http.get_or_insert_with(|| Box::new(HttpSession::new()));
    if http.gave_up() {
        return;
    }
    match d {
        Delivery::Data {
            bytes, at_frame, ..
        } => http.on_data(dir, bytes, at_frame, ts_ns),
        Delivery::Gap { len, .. } => http.on_gap(dir, len),
    }
    // HTTP it is: stop looking for a TLS upgrade, unless a CONNECT tunnel may carry one.
    if http.detected() && !http.tunnel_requested() {
        session.give_up();
    }
}

/// What the payload of a connection turned out to carry.
#[derive(Default)]
pub(crate) struct App {
    pub tls: Option<Box<TlsSession>>,
    pub http: Option<Box<HttpSession>>,
}

impl State {
    fn new_conn(&mut self, seg: &TcpSegment<'_>, frame: u64, ts_ns: i64) -> usize {
        let slot = self.conns.len();
        let stream = self.flows.insert(seg.src, seg.dst, slot);
        self.conns.push(Conn {
            stream,
            endpoints: [seg.src, seg.dst],
            tcp: [HalfStream::new(), HalfStream::new()],
            app: App::default(),
            syn_dir: None,
            first_frame: frame,
            last_frame: frame,
            first_ts: ts_ns,
            last_ts: ts_ns,
            finished: false,
        });
        slot
    }

    fn segment(&mut self, seg: &TcpSegment<'_>, frame: u64, ts_ns: i64) {
        let slot = match self.flows.lookup(seg.src, seg.dst) {
            None => self.new_conn(seg, frame, ts_ns),
            Some(_) if seg.in_icmp_error => return,
            Some(slot) => {
                let conn = &self.conns[slot];
                let dir = if conn.endpoints[0] == seg.src { 0 } else { 1 };
                if tcp::is_port_reuse(&conn.tcp[dir], seg) {
                    self.finish_conn(slot, frame);
                    self.new_conn(seg, frame, ts_ns)
                } else {
                    slot
                }
            }
        };
        if seg.in_icmp_error {
            // Only names the conversation; its bytes are a quote, not data.
            return;
        }
        let max_pending = self.options.max_out_of_order_bytes;
        let State {
            conns, tls: certs, ..
        } = self;
        let conn = &mut conns[slot];
        conn.last_frame = frame;
        conn.last_ts = ts_ns;
        let dir: u8 = if conn.endpoints[0] == seg.src { 0 } else { 1 };
        let d = dir as usize;
        if seg.flags & (flags::SYN | flags::ACK) == flags::SYN && conn.syn_dir.is_none() {
            conn.syn_dir = Some(dir);
        }
        let Conn { tcp, app, .. } = conn;
        let [h0, h1] = tcp;
        let (this, other) = if d == 0 { (h0, h1) } else { (h1, h0) };
        let midstream = !this.syn_seen && !seg.has(flags::SYN);
        this.segment(seg, frame, max_pending, &mut |del| {
            deliver(app, certs, dir, midstream, ts_ns, del)
        });
        if seg.has(flags::ACK) {
            let other_mid = other.midstream;
            other.peer_ack(seg.ack, frame, &mut |del| {
                deliver(app, certs, 1 - dir, other_mid, ts_ns, del)
            });
        }
        if seg.has(flags::RST) {
            // The last flight before a reset is often the answer: deliver all of it.
            let (m0, m1) = (this.midstream, other.midstream);
            this.flush(frame, &mut |del| deliver(app, certs, dir, m0, ts_ns, del));
            other.flush(frame, &mut |del| {
                deliver(app, certs, 1 - dir, m1, ts_ns, del)
            });
        }
    }

    /// Flushes a conversation (port reuse or end of capture).
    fn finish_conn(&mut self, slot: usize, at_frame: u64) {
        let State {
            conns, tls: certs, ..
        } = self;
        let conn = &mut conns[slot];
        if conn.finished {
            return;
        }
        conn.finished = true;
        let Conn {
            tcp, app, last_ts, ..
        } = conn;
        for (d, half) in tcp.iter_mut().enumerate() {
            let mid = half.midstream;
            let ts = *last_ts;
            half.flush(at_frame, &mut |del| {
                deliver(app, certs, d as u8, mid, ts, del)
            });
        }
        if let Some(session) = app.tls.as_mut() {
            session.finish();
        }
        if let Some(http) = app.http.as_mut() {
            http.finish();
        }
    }
}

impl Analyzer {
    /// A new analyzer; key log files that cannot be read become warnings of the report.
    pub fn new(options: Options) -> Self {
        let mut analyzer = Analyzer {
            state: State {
                options,
                ..Default::default()
            },
            ..Default::default()
        };
        for path in analyzer.state.options.keylog_files.clone() {
            if let Err(e) = analyzer.state.tls.keylog.add_file(&path) {
                analyzer
                    .warnings
                    .push(format!("cannot read key log {}: {e}", path.display()));
            }
        }
        analyzer
    }

    /// Takes one packet.
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        if pkt.ts_ns != 0 {
            self.first_ts.get_or_insert(pkt.ts_ns);
            self.last_ts = Some(pkt.ts_ns);
        }
        let state = &mut self.state;
        let frame = pkt.frame;
        let ts = pkt.ts_ns;
        self.decoder
            .decode(pkt, |seg| state.segment(seg, frame, ts));
    }

    /// Takes TLS key log text from a Decryption Secrets Block.
    pub fn tls_secrets(&mut self, text: &[u8]) {
        self.tls_secrets.extend_from_slice(text);
        if !text.ends_with(b"\n") {
            self.tls_secrets.push(b'\n');
        }
        // Keys from a Decryption Secrets Block unlock the packets that follow it.
        self.state
            .tls
            .keylog
            .add_text(text, "Decryption Secrets Block");
    }

    /// Hosts the capture holds TCP traffic with: every conversation's addresses, and the DNS
    /// names that resolved to them in the capture.
    fn contacted_hosts(&self) -> Vec<String> {
        let mut ips: rustc_hash::FxHashSet<String> = rustc_hash::FxHashSet::default();
        for c in &self.state.conns {
            for ep in &c.endpoints {
                let s = ep.to_string();
                let host = s.rsplit_once(':').map(|(h, _)| h).unwrap_or(&s);
                ips.insert(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                );
            }
        }
        let mut out: Vec<String> = self
            .decoder
            .dns
            .iter()
            .filter(|(_, addrs)| addrs.iter().any(|a| ips.contains(a)))
            .map(|(name, _)| name.clone())
            .collect();
        out.extend(ips);
        out.sort();
        out
    }

    /// Ends the capture: flushes every conversation and builds the report.
    pub fn finish(mut self, file: String, outcome: ReadOutcome) -> FileReport {
        let last_frame = outcome.packets;
        for slot in 0..self.state.conns.len() {
            self.state.finish_conn(slot, last_frame);
        }
        let mut connections: Vec<ConnectionReport> = self
            .state
            .conns
            .iter()
            .filter_map(|c| report::connection_report(c, last_frame))
            .collect();
        connections.sort_by_key(|c| c.stream);
        let mut ctx = FindingsContext::new(self.state.options.thresholds.clone());
        ctx.contacted = self.contacted_hosts();
        for c in &mut connections {
            findings::evaluate_into(c, &mut ctx);
        }
        findings::correlate(&mut connections);
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(self.state.tls.keylog.warnings.iter().cloned());
        if let Some(t) = &outcome.truncated {
            warnings.push(t.clone());
        }
        report::file_report(
            file,
            outcome,
            self.decoder.stats.clone(),
            self.state.flows.conversations(),
            self.state.tls.certs.len(),
            !self.tls_secrets.is_empty(),
            self.first_ts,
            self.last_ts,
            connections,
            warnings,
        )
    }
}

/// Reads and analyses one capture file (`-` for standard input).
pub fn analyze_path(path: &Path, options: Options) -> Result<FileReport, CaptureError> {
    let (input, compression) = capture::open_input(path)?;
    let mut analyzer = Analyzer::new(options);
    let outcome = capture::read_capture(input, compression, |ev| match ev {
        CaptureEvent::Packet(p) => analyzer.packet(&p),
        CaptureEvent::TlsSecrets(text) => analyzer.tls_secrets(text),
    })?;
    Ok(analyzer.finish(path.display().to_string(), outcome))
}

/// Analyses a capture held in memory (tests, fuzzing).
pub fn analyze_bytes(
    name: &str,
    bytes: Vec<u8>,
    options: Options,
) -> Result<FileReport, CaptureError> {
    let (input, compression) = capture::decompress(Box::new(std::io::Cursor::new(bytes)))?;
    let mut analyzer = Analyzer::new(options);
    let outcome = capture::read_capture(input, compression, |ev| match ev {
        CaptureEvent::Packet(p) => analyzer.packet(&p),
        CaptureEvent::TlsSecrets(text) => analyzer.tls_secrets(text),
    })?;
    Ok(analyzer.finish(name.to_string(), outcome))
}

//! The pipeline for one capture: packets to TCP conversations to TLS and HTTP, and one
//! [`ConnectionReport`](crate::model::ConnectionReport) per connection that carried TLS or HTTP.
//!
//! Connections are finalized as soon as they end (reset, or both FINs, after a short linger for
//! late packets) or go idle, so memory does not grow with the capture and reports can be written
//! while the file is still being read.

mod assemble;
mod idle;
mod iis_join;
mod outcome;
mod reporter;
mod run;
mod schannel_join;
mod udp;

use reporter::{Event, Reporter};

pub use run::{
    analyze_bytes, analyze_path, analyze_path_sharded, analyze_pipelined, analyze_streaming,
    analyze_streaming_unlinked, summarize_path_sharded,
};

use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::budget::{Budget, Use};
use crate::capture::{self, CaptureError, CaptureEvent, Packet, ReadOutcome};
use crate::findings::{FindingsContext, Thresholds};
use crate::http::HttpSession;
use crate::kerberos;
use crate::model::{self, ConnectionReport, FileReport};
use crate::packet::{flags, Endpoint, PacketDecoder, TcpSegment};
use crate::tcp::{self, Delivery, FlowTable, HalfStream, Lookup};
use crate::tls::{openvpn, TlsContext, TlsSession};

/// Tunables with their defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Out-of-order bytes buffered per direction before a hole is given up.
    pub max_out_of_order_bytes: usize,
    /// Thresholds of the findings.
    pub thresholds: Thresholds,
    /// NSS key log files with TLS secrets.
    pub keylog_files: Vec<std::path::PathBuf>,
    /// RSA server private keys, loaded once for all files (see [`crate::serverkey`]).
    pub server_keys: std::sync::Arc<crate::serverkey::ServerKeys>,
    /// The server's trust store, to validate client chains (`--trust`).
    pub trust: std::sync::Arc<crate::trust::TrustStore>,
    /// The client's trust store, to validate server chains (`--client-trust`).
    pub client_trust: std::sync::Arc<crate::trust::TrustStore>,
    /// A connection without packets for this long (capture time) is finalized.
    pub idle_timeout_secs: u64,
    /// Live connections kept at most; beyond, the longest idle is finalized early.
    pub max_connections: usize,
    /// Bytes read so far are added here (progress display); shared across files.
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Analyse only the conversations of shard `.0` of `.1` (by a symmetric hash of the
    /// addresses); the others are tracked for numbering only. See [`analyze_path_sharded`].
    pub shard: Option<(u32, u32)>,
    /// IIS W3C log lines to join to the connections (`--iis-log`), and how far (seconds) a
    /// line's time may lie outside a connection's packets.
    pub iis_log: Option<std::sync::Arc<crate::iislog::IisLog>>,
    pub iis_tolerance_secs: i64,
    /// Schannel events to join to the connections (`--schannel-events`); they use the same
    /// tolerance.
    pub schannel: Option<std::sync::Arc<crate::schannel::SchannelLog>>,
    /// Bytes held at once while waiting for more (out-of-order TCP data, incomplete TLS records
    /// and handshake messages, IP fragments) over the whole analysis; see [`crate::budget`]. The shards of
    /// [`analyze_path_sharded`] divide it among themselves.
    pub max_memory: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_out_of_order_bytes: 4 << 20,
            thresholds: Thresholds::default(),
            keylog_files: Vec::new(),
            server_keys: Default::default(),
            trust: Default::default(),
            client_trust: Default::default(),
            idle_timeout_secs: 600,
            max_connections: 100_000,
            progress: None,
            shard: None,
            iis_log: None,
            iis_tolerance_secs: 2,
            schannel: None,
            max_memory: crate::budget::DEFAULT_MAX_MEMORY,
        }
    }
}

/// How long a connection that ended (RST, both FINs) waits for late packets, in capture time.
const LINGER_NS: i64 = 5_000_000_000;
/// Sweeps for ended and idle connections run at most this often (capture time) ...
const SWEEP_EVERY_NS: i64 = 1_000_000_000;
/// ... or after this many packets.
const SWEEP_EVERY_PACKETS: u64 = 1 << 16;

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
    /// Capture time at which the connection ended (RST or both FINs).
    pub ended_at: Option<i64>,
    /// What TCP did that the report should say (a retried SYN, disagreeing SYN-ACKs).
    pub tcp_notes: Vec<String>,
    /// A UDP conversation (OpenVPN over UDP): `stream` is its `udp.stream`.
    pub udp: bool,
}

/// State that segments update; kept apart from the packet decoder so both can be borrowed.
#[derive(Default)]
struct State {
    flows: FlowTable,
    udp_flows: tcp::UdpFlows,
    /// Live connections; `None` slots are free.
    conns: Vec<Option<Box<Conn>>>,
    free: Vec<usize>,
    live: usize,
    /// Live connections by idle time and end time (eviction and sweeps).
    idle: idle::IdleIndex,
    tls: TlsContext,
    options: Options,
    /// Slots of connections to finalize now (port reuse, connection limit).
    to_finalize: Vec<usize>,
    /// Addresses of every conversation, for "does the capture hold traffic to this host".
    addresses: FxHashSet<String>,
    /// Packets for conversations already finalized.
    late_packets: u64,
    /// Connections finalized early because too many were live.
    evicted: u64,
    /// Kerberos messages seen on port 88 not yet handed to the second stage, in capture
    /// order.
    kdc: Vec<kerberos::KdcMessage>,
    /// Kerberos messages kept so far (at most [`MAX_KDC_MESSAGES`]).
    kdc_kept: usize,
    /// Kerberos messages on port 88 that could not be decoded, or beyond the limit.
    kdc_skipped: u64,
}

/// Kerberos messages on port 88 kept per capture.
const MAX_KDC_MESSAGES: usize = 100_000;

impl State {
    /// Keeps one message seen on port 88 (or counts it when it is undecodable).
    fn kdc_message(
        &mut self,
        (from, to): (&Endpoint, &Endpoint),
        (transport, tcp_stream): (&'static str, Option<u64>),
        frame: u64,
        ts_ns: i64,
        message: Result<kerberos::KrbMessage, kerberos::DecodeError>,
    ) {
        let Ok(message) = message else {
            self.kdc_skipped += 1;
            return;
        };
        if self.kdc_kept >= MAX_KDC_MESSAGES {
            self.kdc_skipped += 1;
            return;
        }
        self.kdc_kept += 1;
        let (client, kdc) = if to.port == kerberos::PORT {
            (from, to)
        } else {
            (to, from)
        };
        self.kdc.push(kerberos::KdcMessage {
            frame,
            transport,
            tcp_stream,
            client: client.to_string(),
            kdc: kdc.to_string(),
            ts_ns,
            message,
        });
    }
}

/// Analyses one capture, handing each connection's report to a sink when it is finalized.
#[derive(Default)]
pub struct Analyzer {
    decoder: PacketDecoder,
    state: State,
    /// Where finalized connections go: the second stage, inline or on its own thread.
    stage2: Stage2,
    /// Reports of finalized connections not yet taken (inline second stage).
    finished: Vec<ConnectionReport>,
    /// Hosts the capture holds TCP traffic with, as last rebuilt (see `refresh_contacted`).
    contacted: Arc<FxHashSet<String>>,
    /// TLS key log text from Decryption Secrets Blocks.
    pub tls_secrets: Vec<u8>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    warnings: Vec<String>,
    packets: u64,
    last_sweep_ts: i64,
    last_sweep_packet: u64,
    /// Addresses and names counted when `findings.contacted` was last rebuilt.
    contacted_from: usize,
    last_expiry_ts: i64,
}

/// The second stage of the analysis (see `reporter`): run inline, or fed in batches to a
/// thread of its own.
enum Stage2 {
    Inline(Box<Reporter>),
    Channel {
        batch: Vec<Event>,
        to: SyncSender<Vec<Event>>,
    },
}

impl Default for Stage2 {
    fn default() -> Self {
        Stage2::Inline(Box::default())
    }
}

/// Events handed to a second-stage thread at once.
const EVENT_BATCH: usize = 64;

/// Hands one delivery of direction `dir` to the TLS session.
fn deliver(
    app: &mut App,
    certs: &mut TlsContext,
    dir: u8,
    midstream: bool,
    ts_ns: i64,
    d: Delivery<'_>,
) {
    if app.ignored {
        return;
    }
    if let Some(krb) = app.krb.as_mut() {
        // Kerberos on port 88: framed and decoded here, collected by `State::segment`.
        match d {
            Delivery::Data { bytes, frame, .. } => {
                let (msgs, broke) = krb.framers[dir as usize].push(bytes, frame);
                krb.undecodable += broke as u64;
                krb.out
                    .extend(msgs.into_iter().map(|(f, m)| (dir, f, ts_ns, m)));
            }
            Delivery::Gap { .. } => krb.framers[dir as usize].gap(),
        }
        return;
    }
    if app.openvpn.is_none() && !app.decided {
        // The first bytes of the connection tell whether OpenVPN carries the TLS.
        if let Delivery::Data { bytes, .. } = d {
            app.decided = true;
            if openvpn::starts_openvpn_tcp(bytes) {
                app.openvpn = Some(Box::default());
            }
        }
    }
    let session = app.tls.get_or_insert_with(|| Box::new(TlsSession::new()));
    if let Some(ovpn) = app.openvpn.as_mut() {
        // Only the TLS bytes of its control messages reach TLS, never its headers.
        match d {
            Delivery::Data {
                bytes,
                frame,
                at_frame,
            } => ovpn.on_stream(dir, bytes, frame, at_frame, &mut |d, tls, f, at| {
                if !session.gave_up() {
                    session.on_data(d, tls, f, at, ts_ns, midstream, certs)
                }
            }),
            Delivery::Gap { len, at_frame } => {
                ovpn.on_gap(dir);
                session.on_gap(dir, len, at_frame);
            }
        }
        return;
    }
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
    /// Another shard analyses this conversation: its bytes are not looked at here.
    pub ignored: bool,
    pub tls: Option<Box<TlsSession>>,
    pub http: Option<Box<HttpSession>>,
    /// OpenVPN's control channel carries the TLS.
    pub openvpn: Option<Box<openvpn::OpenVpn>>,
    /// The first bytes were looked at for a carrier.
    pub decided: bool,
    /// A conversation with port 88: Kerberos, not TLS or HTTP.
    pub krb: Option<Box<KrbStream>>,
}

/// The Kerberos framing of a TCP conversation on port 88, per direction, and the messages
/// decoded but not yet collected (direction, frame, time, message).
#[derive(Default)]
pub(crate) struct KrbStream {
    framers: [kerberos::TcpFramer; 2],
    out: Vec<(
        u8,
        u64,
        i64,
        Result<kerberos::KrbMessage, kerberos::DecodeError>,
    )>,
    undecodable: u64,
}

impl State {
    /// A new conversation with the next stream number, or with `reopen`'s when it continues
    /// an attempt already finalized.
    fn new_conn(
        &mut self,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts_ns: i64,
        reopen: Option<tcp::Attempt>,
    ) -> usize {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let mut tcp_notes = Vec::new();
        let stream = match reopen {
            Some(a) => {
                self.flows.reopen(seg.src, seg.dst, slot);
                tcp_notes.push(retry_note(a.first_frame, a.last_frame, frame));
                a.stream
            }
            None => self.flows.insert(seg.src, seg.dst, slot),
        };
        self.fill_slot(slot, seg, frame, ts_ns, stream, tcp_notes, false);
        slot
    }

    /// Stores a new connection in `slot`; finalizes the longest idle one when too many live.
    #[allow(clippy::too_many_arguments)]
    fn fill_slot(
        &mut self,
        slot: usize,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts_ns: i64,
        stream: u64,
        tcp_notes: Vec<String>,
        udp: bool,
    ) {
        for ep in [seg.src, seg.dst] {
            if self.addresses.len() < 1 << 20 {
                self.addresses.insert(host_of(&ep));
            }
        }
        let is_krb = seg.src.port == kerberos::PORT || seg.dst.port == kerberos::PORT;
        // Every shard decodes the KDC conversations (they are small and give no connection
        // report), so each can tie them to its HTTP connections.
        let ignored = !is_krb
            && self
                .options
                .shard
                .is_some_and(|(index, count)| flow_shard(&seg.src, &seg.dst, count) != index);
        self.conns[slot] = Some(Box::new(Conn {
            stream,
            endpoints: [seg.src, seg.dst],
            tcp: [HalfStream::new(), HalfStream::new()],
            app: App {
                ignored,
                krb: is_krb.then(Default::default),
                ..Default::default()
            },
            syn_dir: None,
            first_frame: frame,
            last_frame: frame,
            first_ts: ts_ns,
            last_ts: ts_ns,
            ended_at: None,
            tcp_notes,
            udp,
        }));
        self.live += 1;
        self.idle.insert(slot, ts_ns);
        if self.live > self.options.max_connections {
            // Too many live connections: finalize the longest idle one (the smallest
            // `(last_ts, slot)`).
            if let Some(oldest) = self.idle.longest_idle(slot, &self.conns) {
                self.to_finalize.push(oldest);
                self.evicted += 1;
            }
        }
    }

    fn segment(&mut self, seg: &TcpSegment<'_>, frame: u64, ts_ns: i64) {
        if seg.udp {
            self.udp_datagram(seg, frame, ts_ns);
            return;
        }
        if let Some(slot) = self.tcp_segment(seg, frame, ts_ns) {
            if let Some(conn) = self.conns[slot].as_deref() {
                self.idle.touch(slot, conn.last_ts, conn.ended_at);
            }
        }
    }

    /// A TCP segment; the slot of the connection whose `last_ts` or `ended_at` it may have
    /// changed.
    fn tcp_segment(&mut self, seg: &TcpSegment<'_>, frame: u64, ts_ns: i64) -> Option<usize> {
        let slot = match self.flows.lookup(seg.src, seg.dst) {
            Lookup::Unknown => self.new_conn(seg, frame, ts_ns, None),
            Lookup::Closed(_) if seg.in_icmp_error => return None,
            Lookup::Closed(attempt) => {
                if seg.flags & (flags::SYN | flags::ACK) == flags::SYN {
                    // A new connection on the port pair of a finished one, or the same SYN
                    // again after an attempt that never got past it (same stream number).
                    let retry = attempt.filter(|a| a.client == seg.src && a.isn == seg.seq);
                    self.new_conn(seg, frame, ts_ns, retry)
                } else {
                    self.late_packets += 1;
                    return None;
                }
            }
            Lookup::Live(_) if seg.in_icmp_error => return None,
            Lookup::Live(slot) => {
                let conn = self.conns[slot].as_mut()?;
                let dir = if conn.endpoints[0] == seg.src { 0 } else { 1 };
                let ended = conn.ended_at.is_some();
                match tcp::syn_verdict(&conn.tcp[dir], &conn.tcp[1 - dir], ended, seg) {
                    tcp::SynVerdict::New => {
                        self.to_finalize.push(slot);
                        // The old connection is finalized by the analyzer right after this
                        // packet; its slot stays taken until then.
                        let old = self.conns[slot].take();
                        let new_slot = self.new_conn(seg, frame, ts_ns, None);
                        self.conns[slot] = old;
                        new_slot
                    }
                    tcp::SynVerdict::Retry => {
                        // The failed attempt carried no bytes: start over, same stream.
                        if conn.tcp_notes.len() < 8 {
                            conn.tcp_notes.push(retry_note(
                                conn.first_frame,
                                conn.last_frame,
                                frame,
                            ));
                        }
                        conn.tcp = [HalfStream::new(), HalfStream::new()];
                        conn.ended_at = None;
                        slot
                    }
                    tcp::SynVerdict::Same => slot,
                }
            }
        };
        if seg.in_icmp_error {
            // Only names the conversation; its bytes are a quote, not data.
            return None;
        }
        let max_pending = self.options.max_out_of_order_bytes;
        let State {
            conns, tls: certs, ..
        } = self;
        let conn = conns[slot].as_deref_mut()?;
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
        if app.ignored {
            // Another shard reassembles it: only follow its life.
            this.track(seg, frame);
            if seg.has(flags::ACK) {
                other.resync_on_ack(seg.ack, frame);
            }
            let ended =
                seg.has(flags::RST) || (this.fin_frame().is_some() && other.fin_frame().is_some());
            if ended && conn.ended_at.is_none() {
                conn.ended_at = Some(ts_ns);
            }
            return Some(slot);
        }
        let midstream = !this.syn_seen && !seg.has(flags::SYN);
        this.segment(seg, frame, max_pending, &mut |del| {
            deliver(app, certs, dir, midstream, ts_ns, del)
        });
        if seg.has(flags::ACK) {
            other.resync_on_ack(seg.ack, frame);
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
        // All connections' out-of-order data share the memory budget (per direction the bound
        // is `max_out_of_order_bytes`): thousands of lossy connections must not add up.
        let over_budget = (this.unsettled() || other.unsettled()) && {
            other.settle(&certs.budget);
            !this.settle(&certs.budget)
        };
        if over_budget {
            let budget = certs.budget.clone();
            // Over the budget: this direction gives up its holes now (delivering what it
            // buffered after them), so nothing more is held for it.
            let held = this.pending_bytes();
            let m = this.midstream;
            this.flush(frame, &mut |del| deliver(app, certs, dir, m, ts_ns, del));
            this.settle(&budget);
            this.note_budget_overflow(frame);
            budget.refused(Use::OutOfOrder, held as u64, frame);
        }
        let ended =
            seg.has(flags::RST) || (this.fin_frame().is_some() && other.fin_frame().is_some());
        if ended && conn.ended_at.is_none() {
            conn.ended_at = Some(ts_ns);
        }
        if let Some(krb) = conn.app.krb.as_mut() {
            let out = std::mem::take(&mut krb.out);
            let skipped = std::mem::take(&mut krb.undecodable);
            let (endpoints, stream) = (conn.endpoints, conn.stream);
            self.kdc_skipped += skipped;
            for (dir, frame, ts, m) in out {
                let d = dir as usize;
                let (from, to) = (&endpoints[d], &endpoints[1 - d]);
                self.kdc_message((from, to), ("tcp", Some(stream)), frame, ts, m);
            }
        }
        Some(slot)
    }

    /// Flushes a conversation's last bytes and closes its flow; returns it for its report.
    fn finalize(&mut self, slot: usize, at_frame: u64) -> Option<Box<Conn>> {
        let mut conn = self.conns.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.live -= 1;
        self.idle.remove(slot);
        let certs = &mut self.tls;
        let Conn {
            tcp, app, last_ts, ..
        } = &mut *conn;
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
        if conn.udp {
            self.udp_flows
                .set_slot(conn.endpoints[0], conn.endpoints[1], None);
        } else if let Lookup::Live(s) = self.flows.lookup(conn.endpoints[0], conn.endpoints[1]) {
            if s == slot {
                // An attempt that never got past its SYN may be retried with the same SYN.
                let attempt = conn
                    .syn_dir
                    .filter(|_| !conn.tcp[0].sent_data && !conn.tcp[1].sent_data)
                    .and_then(|d| {
                        Some(tcp::Attempt {
                            stream: conn.stream,
                            client: conn.endpoints[d as usize],
                            isn: conn.tcp[d as usize].base_seq?,
                            first_frame: conn.first_frame,
                            last_frame: conn.last_frame,
                        })
                    });
                self.flows
                    .close(conn.endpoints[0], conn.endpoints[1], conn.last_ts, attempt);
            }
        }
        Some(conn)
    }
}

/// The TCP note of a SYN sent again after an attempt that ended before any data.
fn retry_note(first_frame: u64, last_frame: u64, frame: u64) -> String {
    format!(
        "an earlier attempt with the same SYN (frames {first_frame}-{last_frame}) ended without data; the client sent that SYN again in frame {frame} and the connection went on from there, under the same tcp.stream"
    )
}

/// The shard of a conversation: the same for both directions (the endpoints are hashed in
/// sorted order), and for every conversation on that port pair, so port reuse stays in one shard.
fn flow_shard(a: &Endpoint, b: &Endpoint, count: u32) -> u32 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let pair = if a <= b { (a, b) } else { (b, a) };
    let hash = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(pair);
    // The high bits of FxHash are the well-mixed ones.
    ((hash >> 32) % u64::from(count.max(1))) as u32
}

fn host_of(ep: &Endpoint) -> String {
    let s = ep.to_string();
    let host = s.rsplit_once(':').map(|(h, _)| h).unwrap_or(&s);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

impl Analyzer {
    /// A new analyzer; key log files that cannot be read become warnings of the report.
    pub fn new(options: Options) -> Self {
        let reporter = Reporter::new(findings_context(&options));
        Self::with_stage2(options, Stage2::Inline(Box::new(reporter)))
    }

    /// An analyzer whose finalized connections go to a second-stage thread through `to`
    /// (see `run::pipelined`).
    fn with_channel(options: Options, to: SyncSender<Vec<Event>>) -> Self {
        let batch = Vec::with_capacity(EVENT_BATCH);
        Self::with_stage2(options, Stage2::Channel { batch, to })
    }

    fn with_stage2(options: Options, stage2: Stage2) -> Self {
        let mut analyzer = Analyzer {
            state: State {
                options,
                ..Default::default()
            },
            stage2,
            ..Default::default()
        };
        analyzer.state.tls.server_keys = analyzer.state.options.server_keys.clone();
        let budget = Budget::new(analyzer.state.options.max_memory);
        analyzer.decoder.set_budget(budget.clone());
        analyzer.state.tls.budget = budget;
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
        self.packets += 1;
        if pkt.ts_ns != 0 {
            self.first_ts.get_or_insert(pkt.ts_ns);
            self.last_ts = Some(pkt.ts_ns);
        }
        let state = &mut self.state;
        let frame = pkt.frame;
        let ts = pkt.ts_ns;
        self.decoder
            .decode(pkt, |seg| state.segment(seg, frame, ts));
        let budget = &self.state.tls.budget;
        if budget.refusals(Use::Fragments).0 > 0 {
            // The decoder does not know frame numbers: the first fragment dropped for the
            // budget was in this packet when none is known yet.
            budget.note_frame(Use::Fragments, frame);
        }
        if !self.decoder.kerberos_udp.is_empty() {
            for (src, dst, payload) in std::mem::take(&mut self.decoder.kerberos_udp) {
                let m = kerberos::decode(&payload);
                self.state
                    .kdc_message((&src, &dst), ("udp", None), frame, ts, m);
            }
        }
        self.emit_kdc_messages();
        if !self.state.to_finalize.is_empty() {
            for slot in std::mem::take(&mut self.state.to_finalize) {
                self.finalize(slot, frame);
            }
        }
        if ts.saturating_sub(self.last_sweep_ts) >= SWEEP_EVERY_NS
            || self.packets - self.last_sweep_packet >= SWEEP_EVERY_PACKETS
        {
            self.sweep(ts, frame);
        }
    }

    /// Finalizes connections that ended a while ago or went idle.
    fn sweep(&mut self, now: i64, frame: u64) {
        self.last_sweep_ts = now;
        self.last_sweep_packet = self.packets;
        let idle_ns = (self.state.options.idle_timeout_secs as i64).saturating_mul(1_000_000_000);
        let state = &mut self.state;
        let due = state.idle.due(now, LINGER_NS, idle_ns, &state.conns);
        for slot in due {
            self.finalize(slot, frame);
        }
        // Forgetting tombstones walks the whole flow table: once a minute is enough.
        if now.saturating_sub(self.last_expiry_ts) > 60_000_000_000 {
            self.last_expiry_ts = now;
            self.state
                .flows
                .expire_closed(now.saturating_sub(idle_ns.saturating_mul(2)));
        }
    }

    /// Finalizes one connection: its last bytes are delivered here, its report, findings and
    /// counts are made by the second stage.
    fn finalize(&mut self, slot: usize, at_frame: u64) {
        let Some(conn) = self.state.finalize(slot, at_frame) else {
            return;
        };
        // Whether the hosts of revocation URLs were contacted is judged on the traffic seen
        // up to now: the second stage gets that list with the connection.
        let names_revocation = conn.app.tls.as_ref().is_some_and(|t| {
            t.messages.iter().any(|m| match &m.detail {
                Some(crate::tls::Detail::Certificate(cert)) => cert.certificates.iter().any(|c| {
                    !c.crl_urls.is_empty()
                        || !c.ocsp_urls.is_empty()
                        || !c.ca_issuer_urls.is_empty()
                }),
                _ => false,
            })
        });
        let contacted = names_revocation.then(|| {
            self.refresh_contacted();
            self.contacted.clone()
        });
        self.emit(Event::Finalized {
            conn,
            at_frame,
            contacted,
        });
    }

    /// Hands one event to the second stage.
    fn emit(&mut self, event: Event) {
        match &mut self.stage2 {
            Stage2::Inline(reporter) => {
                let finished = &mut self.finished;
                reporter.event(event, &mut |r| finished.push(r));
            }
            Stage2::Channel { batch, to } => {
                batch.push(event);
                if batch.len() >= EVENT_BATCH {
                    let full = std::mem::replace(batch, Vec::with_capacity(EVENT_BATCH));
                    // A second stage that stopped (its thread panicked) is reported when it
                    // is joined.
                    let _ = to.send(full);
                }
            }
        }
    }

    /// Kerberos messages decoded since the last call go to the second stage, before the
    /// connections finalized after them.
    fn emit_kdc_messages(&mut self) {
        if !self.state.kdc.is_empty() {
            for m in std::mem::take(&mut self.state.kdc) {
                self.emit(Event::Kdc(Box::new(m)));
            }
        }
    }

    /// Asks that every report be kept to the end of the file: 401/403 are linked to other
    /// connections then, both ways ([`findings::correlate_all`]), instead of as they end.
    pub fn keep_all_reports(&mut self) {
        if let Stage2::Inline(reporter) = &mut self.stage2 {
            reporter.keeps_all_reports = true;
        }
    }

    /// The memory budget of this analyzer (held bytes, peak, what it refused).
    pub fn budget(&self) -> &Budget {
        &self.state.tls.budget
    }

    /// Reports of connections finalized since the last call, in the order they ended.
    pub fn take_finished(&mut self) -> Vec<ConnectionReport> {
        std::mem::take(&mut self.finished)
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
    /// names that resolved to them. Only rebuilt when a connection needs it (a client
    /// certificate naming revocation URLs), and then only if new addresses or names appeared.
    fn refresh_contacted(&mut self) {
        let known = self.state.addresses.len() + self.decoder.dns.len();
        if known == self.contacted_from {
            return;
        }
        self.contacted_from = known;
        let ips = &self.state.addresses;
        let contacted = Arc::make_mut(&mut self.contacted);
        contacted.extend(ips.iter().cloned());
        for (name, addrs) in &self.decoder.dns {
            if addrs.iter().any(|a| ips.contains(a)) {
                contacted.insert(name.clone());
            }
        }
    }

    /// Ends the capture: finalizes every live connection. The file's report carries no
    /// connections (they went to the sink); `summary` and counters cover them all.
    pub fn finish(
        mut self,
        file: String,
        outcome: ReadOutcome,
    ) -> (FileReport, Vec<ConnectionReport>) {
        let mut file_report = self.finish_first_stage(file, outcome);
        let rest = std::mem::take(&mut self.finished);
        if let Stage2::Inline(reporter) = std::mem::take(&mut self.stage2) {
            reporter.complete(&mut file_report);
        }
        debug_assert_eq!(
            self.state.tls.budget.held(),
            0,
            "every buffer gave its bytes back to the memory budget"
        );
        (file_report, rest)
    }

    /// The first stage's part of the end: finalizes every live connection (handing the last
    /// events to the second stage) and makes the file's report without what the second stage
    /// counts (see [`Reporter::complete`]).
    fn finish_first_stage(&mut self, file: String, outcome: ReadOutcome) -> FileReport {
        let last_frame = outcome.packets;
        self.emit_kdc_messages();
        // Finalize in stream order so reports of connections alive at the end come out sorted.
        let mut live: Vec<(u64, usize)> = self
            .state
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.stream, i)))
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.finalize(slot, last_frame);
        }
        if let Stage2::Channel { batch, to } = &mut self.stage2 {
            if !batch.is_empty() {
                let _ = to.send(std::mem::take(batch));
            }
        }
        self.decoder.forget_fragments();
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.extend(self.state.tls.keylog.warnings.iter().cloned());
        warnings.extend(self.state.tls.server_key_warnings());
        if let Some(t) = &outcome.truncated {
            warnings.push(t.clone());
        }
        if self.state.evicted > 0 {
            warnings.push(format!(
                "{} connections were finalized early because more than {} were live at once (--max-connections)",
                self.state.evicted, self.state.options.max_connections
            ));
        }
        warnings.extend(self.state.tls.budget.warnings());
        let mut file_report = assemble::file_report(
            file,
            outcome,
            self.decoder.stats.clone(),
            self.state.flows.conversations(),
            self.state.tls.certs.len(),
            !self.tls_secrets.is_empty(),
            self.first_ts,
            self.last_ts,
            Vec::new(),
            warnings,
        );
        file_report.kerberos.skipped = self.state.kdc_skipped;
        file_report
    }
}

/// The findings' context for these options (thresholds and trust stores).
fn findings_context(options: &Options) -> FindingsContext {
    let mut context = FindingsContext::new(options.thresholds.clone());
    context.trust = options.trust.clone();
    context.client_trust = options.client_trust.clone();
    context
}

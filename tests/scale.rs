//! Archive scale (issue 15): a port scan's worth of SYN-only flows past `--max-connections`,
//! idle sweeps over a long capture, and which connection eviction finalizes.
//!
//! Sizes are test-sized (the debug build runs this file in a few seconds); the 1,000,000-flow
//! case is measured with `scripts/make-syn-scan.py`, not timed here.

use tlsdiag::analyzer::{analyze_bytes, Options};

/// A classic pcap (Ethernet, IPv4, microsecond timestamps) being written.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        b.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        Pcap(b)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        ts_us: u64,
        (src, sport): ([u8; 4], u16),
        (dst, dport): ([u8; 4], u16),
        flags: u8,
        seq: u32,
        ack: u32,
        data: &[u8],
    ) {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (40 + data.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(data);
        let b = &mut self.0;
        b.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&f);
    }
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const PSH_ACK: u8 = 0x18;
const T0: u64 = 1_700_000_000_000_000;

/// `n` SYN-only flows from distinct source ports and addresses to one server, `gap_us` apart.
fn syn_scan(n: u32, gap_us: u64) -> Vec<u8> {
    let mut p = Pcap::new();
    for i in 0..n {
        let host = i / 50_000 + 1;
        let src = [10, 128, (host >> 8) as u8, host as u8];
        let sport = 1024 + (i % 50_000) as u16;
        p.tcp(
            T0 + u64::from(i) * gap_us,
            (src, sport),
            ([10, 1, 0, 1], 443),
            SYN,
            i.wrapping_mul(2_654_435_761),
            0,
            b"",
        );
    }
    p.0
}

#[test]
fn a_port_scan_past_max_connections_evicts_and_says_so() {
    let options = Options {
        max_connections: 1_000,
        ..Options::default()
    };
    let report = analyze_bytes("scan.pcap", syn_scan(50_000, 1), options).unwrap();
    assert_eq!(report.tcp_conversations, 50_000);
    assert!(report.connections.is_empty(), "SYN-only flows carry no TLS");
    let warning = report
        .warnings
        .iter()
        .find(|w| w.contains("--max-connections"))
        .expect("an eviction warning");
    assert!(
        warning.starts_with("49000 connections were finalized early")
            && warning.contains("more than 1000 were live"),
        "{warning}"
    );
}

#[test]
fn a_slow_scan_is_swept_idle_without_evictions() {
    // 50,000 flows over 500 s with a 10 s idle timeout: about 1,000 live at a time, the rest
    // finalized by the sweeps as they go idle; nothing is evicted.
    let options = Options {
        idle_timeout_secs: 10,
        max_connections: 2_000,
        ..Options::default()
    };
    let report = analyze_bytes("slow.pcap", syn_scan(50_000, 10_000), options).unwrap();
    assert_eq!(report.tcp_conversations, 50_000);
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.contains("--max-connections")),
        "{:?}",
        report.warnings
    );
}

/// One plaintext HTTP exchange's packets on client port `port`: SYN at `syn_s`, the request
/// at `req_s` and, when `resp_s` is given, the response then.
fn http_packets(port: u16, syn_s: u64, req_s: u64, resp_s: Option<u64>) -> Vec<(u64, Vec<u8>)> {
    let client = ([10, 0, 0, 1], port);
    let server = ([10, 0, 0, 2], 80);
    let request = format!("GET /{port} HTTP/1.1\r\nHost: example\r\n\r\n");
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut out = Vec::new();
    let mut push = |ts_s: u64, from_client: bool, flags, seq, ack, data: &[u8]| {
        let mut p = Pcap(Vec::new());
        let (a, b) = if from_client {
            (client, server)
        } else {
            (server, client)
        };
        p.tcp(T0 + ts_s * 1_000_000, a, b, flags, seq, ack, data);
        out.push((ts_s, p.0));
    };
    push(syn_s, true, SYN, 1000, 0, b"");
    push(syn_s, false, SYN_ACK, 5000, 1001, b"");
    push(req_s, true, PSH_ACK, 1001, 5001, request.as_bytes());
    if let Some(t) = resp_s {
        let ack = 1001 + request.len() as u32;
        push(t, false, PSH_ACK, 5001, ack, response);
    }
    out
}

#[test]
fn eviction_finalizes_the_longest_idle_connection() {
    // A opens first (lowest stream, lowest slot) but was active at 10 s; B opened later and
    // was last active at 3 s. C opening at 20 s makes three live with room for two: B, the
    // longest idle, is finalized, and A still gets its response at 21 s.
    let mut packets = http_packets(40001, 1, 10, Some(21)); // A
    packets.extend(http_packets(40002, 2, 3, Some(3))); // B
    packets.extend(http_packets(40003, 20, 20, Some(20))); // C
    packets.sort_by_key(|(ts, _)| *ts); // stable: each connection's packets stay in order
    let mut pcap = Pcap::new();
    for (_, bytes) in packets {
        pcap.0.extend_from_slice(&bytes);
    }
    let options = Options {
        max_connections: 2,
        ..Options::default()
    };
    let report = analyze_bytes("evict.pcap", pcap.0, options).unwrap();
    assert_eq!(report.tcp_conversations, 3);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("1 connections were finalized early")),
        "{:?}",
        report.warnings
    );
    let status = |port: u16| {
        let c = report
            .connections
            .iter()
            .find(|c| c.client.ends_with(&format!(":{port}")))
            .unwrap_or_else(|| panic!("no report for port {port}"));
        c.http.first().and_then(|e| e.status)
    };
    assert_eq!(status(40001), Some(200), "A was evicted instead of B");
    assert_eq!(status(40002), Some(200));
    assert_eq!(status(40003), Some(200));
}

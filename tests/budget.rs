//! The memory budget (`--max-memory`, issue 15): hostile captures generated here (the shapes of
//! scripts/make-hostile.py, test-sized) hit a small budget; the file warns once per kind with
//! counts, the connections say what they lost and where, nothing panics, and every byte claimed
//! is given back. Normal captures give the same findings under a small budget as without.

use std::path::Path;

use tlsdiag::budget::Budget;
use tlsdiag::capture::{self, CaptureEvent};
use tlsdiag::{analyze_path, Analyzer, FileReport, Options};

const MSS: usize = 1448;

/// A classic pcap (Ethernet, IPv4) written packet by packet, 10 µs apart.
struct Pcap {
    bytes: Vec<u8>,
    usec: u64,
}

impl Pcap {
    fn new() -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&262_144u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        Pcap {
            bytes,
            usec: 1_700_000_000_000_000,
        }
    }

    fn packet(&mut self, frame: &[u8]) {
        self.usec += 10;
        let (sec, usec) = (
            (self.usec / 1_000_000) as u32,
            (self.usec % 1_000_000) as u32,
        );
        for v in [sec, usec, frame.len() as u32, frame.len() as u32] {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.bytes.extend_from_slice(frame);
    }

    /// An IPv4 packet from `src` to `dst` (fragment field as on the wire: offset / 8, MF bit).
    fn ipv4(&mut self, src: [u8; 4], dst: [u8; 4], ident: u16, frag: u16, payload: &[u8]) {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(20 + payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&ident.to_be_bytes());
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(payload);
        self.packet(&f);
    }

    /// A TCP segment of connection `i` (client 10.1.x.y:10000+i, server 10.0.0.1:443).
    fn tcp(&mut self, i: u16, to_server: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let server = [10, 0, 0, 1];
        let (cport, sport) = (10_000 + i, 443u16);
        let (src, dst, sp, dp) = if to_server {
            (client, server, cport, sport)
        } else {
            (server, client, sport, cport)
        };
        let mut t = Vec::new();
        t.extend_from_slice(&sp.to_be_bytes());
        t.extend_from_slice(&dp.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        self.ipv4(src, dst, 0, 0, &t);
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

/// Opens `n` connections; returns each one's (next client seq, next server seq).
fn open(p: &mut Pcap, n: u16) -> Vec<(u32, u32)> {
    (0..n)
        .map(|i| {
            let (cs, ss) = (1000 + u32::from(i) * 7, 5000 + u32::from(i) * 13);
            p.tcp(i, true, cs, 0, SYN, &[]);
            p.tcp(i, false, ss, cs + 1, SYN | ACK, &[]);
            p.tcp(i, true, cs + 1, ss + 1, ACK, &[]);
            (cs + 1, ss + 1)
        })
        .collect()
}

/// Sends each connection's stream from `start` in MSS segments, round robin.
fn interleave(p: &mut Pcap, seqs: &[(u32, u32)], stream: &[u8], start: usize) {
    let mut pos = start;
    while pos < stream.len() {
        let chunk = &stream[pos..(pos + MSS).min(stream.len())];
        for (i, &(cs, ss)) in seqs.iter().enumerate() {
            p.tcp(i as u16, true, cs + pos as u32, ss, ACK | PSH, chunk);
        }
        pos += chunk.len();
    }
}

/// `n` connections each announcing a ClientHello of about 4 MiB and sending `kb` KB of it in
/// whole 16 KiB records, never finishing.
fn hostile_handshakes(n: u16, kb: usize) -> Vec<u8> {
    let mut p = Pcap::new();
    let seqs = open(&mut p, n);
    let announced = (4u32 << 20) - 16;
    let mut body = vec![1u8];
    body.extend_from_slice(&announced.to_be_bytes()[1..]);
    body.extend_from_slice(&[3, 3]);
    while body.len() < kb * 1024 {
        body.push((body.len() * 7) as u8);
    }
    let mut stream = Vec::new();
    for chunk in body.chunks(16384) {
        stream.extend_from_slice(&[22, 3, 1]);
        stream.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        stream.extend_from_slice(chunk);
    }
    interleave(&mut p, &seqs, &stream, 0);
    p.bytes
}

/// `n` connections each leaving a hole at the start and sending `kb` KB after it.
fn hostile_out_of_order(n: u16, kb: usize) -> Vec<u8> {
    let mut p = Pcap::new();
    let seqs = open(&mut p, n);
    let stream: Vec<u8> = (0..kb * 1024 + MSS).map(|k| (k * 31) as u8).collect();
    interleave(&mut p, &seqs, &stream, MSS);
    p.bytes
}

/// `n` IPv4 datagrams each seen only by its last 8-byte fragment, at offset 65,512.
fn hostile_fragments(n: u16) -> Vec<u8> {
    let mut p = Pcap::new();
    for i in 0..n {
        p.ipv4(
            [10, 2, (i >> 8) as u8, i as u8],
            [10, 0, 0, 1],
            i,
            8189,
            &[0xaa; 8],
        );
    }
    p.bytes
}

/// Runs the analyzer over `pcap` by hand, to look at its budget after the end.
fn run(pcap: Vec<u8>, max_memory: usize) -> (FileReport, Vec<tlsdiag::ConnectionReport>, Budget) {
    let options = Options {
        max_memory,
        ..Options::default()
    };
    let mut analyzer = Analyzer::new(options);
    let budget = analyzer.budget().clone();
    let (input, compression) =
        capture::decompress(Box::new(std::io::Cursor::new(pcap))).expect("a pcap");
    let mut connections = Vec::new();
    let outcome = capture::read_capture(input, compression, |ev| {
        if let CaptureEvent::Packet(p) = ev {
            analyzer.packet(&p);
            assert!(
                budget.held() <= max_memory + (20 << 10),
                "the budget is passed by at most one segment or record: {} of {max_memory}",
                budget.held()
            );
        }
        connections.extend(analyzer.take_finished());
    })
    .expect("readable");
    let (report, rest) = analyzer.finish("hostile".into(), outcome);
    connections.extend(rest);
    (report, connections, budget)
}

fn budget_warnings(report: &FileReport) -> Vec<&String> {
    report
        .warnings
        .iter()
        .filter(|w| w.contains("--max-memory"))
        .collect()
}

#[test]
fn handshake_messages_over_the_budget_are_dropped_and_said() {
    // 40 connections holding 48 KB each would need 1.9 MB; the budget is 512 KiB.
    let (report, connections, budget) = run(hostile_handshakes(40, 48), 512 << 10);
    assert_eq!(budget.held(), 0, "every byte claimed was given back");
    assert!(
        budget.peak() > 256 << 10,
        "the budget was used: {}",
        budget.peak()
    );
    let warnings = budget_warnings(&report);
    assert_eq!(warnings.len(), 1, "one warning for the file: {warnings:?}");
    let w = warnings[0];
    assert!(
        w.starts_with("the memory budget (512 KiB, --max-memory) was reached by incomplete TLS records and handshake messages:"),
        "{w}"
    );
    let dropped: Vec<&tlsdiag::ConnectionReport> = connections
        .iter()
        .filter(|c| {
            c.not_seen.iter().any(|n| {
                n.starts_with("handshake bytes beyond the memory budget were dropped at frame ")
                    && n.contains("client_hello of 4194288 bytes was not decoded")
            })
        })
        .collect();
    assert!(
        !dropped.is_empty(),
        "{:?}",
        connections.iter().map(|c| &c.not_seen).collect::<Vec<_>>()
    );
    let (count, _, first) = budget.refusals(tlsdiag::budget::Use::Tls);
    assert!(
        w.contains(&format!("{count} were dropped unread"))
            && w.contains(&format!("first at frame {first}")),
        "{w}"
    );
    // Said once: one drop and one note per connection (each has one message).
    assert_eq!(count as usize, dropped.len());
    for c in &connections {
        let notes = c
            .not_seen
            .iter()
            .filter(|n| n.contains("memory budget"))
            .count();
        assert!(notes <= 1, "{:?}", c.not_seen);
    }
    // Connections that fitted are reported as before: incomplete at the end, not dropped.
    assert!(connections.iter().any(|c| c
        .not_seen
        .iter()
        .any(|n| n.starts_with("incomplete client_hello"))));
    assert_eq!(connections.len(), 40);
}

#[test]
fn out_of_order_data_over_the_budget_gives_up_its_holes() {
    // 20 connections with 64 KB each after a hole; the budget is 256 KiB.
    let (report, connections, budget) = run(hostile_out_of_order(20, 64), 256 << 10);
    assert_eq!(budget.held(), 0);
    let warnings = budget_warnings(&report);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .contains("was reached by out-of-order TCP data: a connection gave up its holes early"),
        "{}",
        warnings[0]
    );
    let (count, _, first) = budget.refusals(tlsdiag::budget::Use::OutOfOrder);
    assert!(count > 0 && warnings[0].contains(&format!("first at frame {first}")));
    // These connections carry neither TLS nor HTTP, so they give no report: nothing to say
    // per connection, but nothing panicked and nothing leaked.
    let _ = connections;
}

#[test]
fn out_of_order_tls_connection_says_where_it_gave_up() {
    // One TLS connection: a ClientHello, then a hole, then 300 KB of records after it.
    let mut p = Pcap::new();
    let seqs = open(&mut p, 1);
    let mut stream = vec![22, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3];
    stream.resize(5 + 60, 0);
    while stream.len() < 300 << 10 {
        stream.extend_from_slice(&[23, 3, 3, 0x10, 0]);
        stream.resize(stream.len() + 0x1000, 0x55);
    }
    let (cs, ss) = seqs[0];
    p.tcp(0, true, cs, ss, ACK | PSH, &stream[..MSS]);
    interleave(&mut p, &seqs, &stream, 2 * MSS);
    let (report, connections, budget) = run(p.bytes, 64 << 10);
    assert_eq!(budget.held(), 0);
    assert_eq!(budget_warnings(&report).len(), 1);
    let notes: Vec<&String> = connections
        .iter()
        .flat_map(|c| c.not_seen.iter())
        .filter(|n| n.contains("went over the memory budget"))
        .collect();
    assert_eq!(
        notes.len(),
        1,
        "{notes:?} {:?} {:?}",
        report.warnings,
        connections.iter().map(|c| &c.not_seen).collect::<Vec<_>>()
    );
    assert!(
        notes[0].starts_with("the client's out-of-order data went over the memory budget ")
            && notes[0].contains(", first at frame "),
        "{}",
        notes[0]
    );
}

#[test]
fn fragments_over_the_budget_are_dropped_and_counted_once() {
    // 64 datagrams each hold the 8 bytes of their one fragment (at offset 65,512: what is
    // held is what was received, not the datagram's length); the budget holds 8 of them.
    let (report, _, budget) = run(hostile_fragments(64), 8 * 8);
    assert_eq!(budget.held(), 0);
    let warnings = budget_warnings(&report);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .contains("IP fragments pending reassembly: 56 datagrams were dropped unassembled")
            && warnings[0].contains("first at frame 9"),
        "{}",
        warnings[0]
    );
}

#[test]
fn the_default_budget_says_nothing_on_the_same_small_captures() {
    for pcap in [
        hostile_handshakes(4, 20),
        hostile_out_of_order(4, 64),
        hostile_fragments(16),
    ] {
        let (report, _, budget) = run(pcap, tlsdiag::budget::DEFAULT_MAX_MEMORY);
        assert!(budget_warnings(&report).is_empty(), "{:?}", report.warnings);
        assert_eq!(budget.held(), 0);
    }
}

/// What a report concludes, for comparison.
fn findings(r: &FileReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .connections
        .iter()
        .flat_map(|c| {
            c.findings
                .iter()
                .map(move |f| format!("{} {} {:?}", c.stream, f.code, f.frames))
                .chain(c.not_seen.iter().map(move |n| format!("{} {n}", c.stream)))
                .chain(std::iter::once(format!(
                    "{} {} messages",
                    c.stream,
                    c.messages.len()
                )))
        })
        .collect();
    out.extend(r.warnings.iter().cloned());
    out
}

#[test]
fn normal_captures_give_the_same_report_under_a_small_budget() {
    let mut seen = 0;
    for dir in ["captures", "captures/clientauth"] {
        let mut paths: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
            .collect();
        paths.sort();
        for path in paths {
            let full = analyze_path(&path, Options::default()).unwrap();
            let small = analyze_path(
                &path,
                Options {
                    max_memory: 1 << 20,
                    ..Options::default()
                },
            )
            .unwrap();
            assert_eq!(findings(&full), findings(&small), "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen > 20, "only {seen} captures");
}

#[test]
fn the_command_takes_max_memory() {
    let bin = env!("CARGO_BIN_EXE_tlsdiag");
    let dir = std::env::temp_dir().join(format!("tlsdiag-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hostile.pcap");
    std::fs::write(&path, hostile_handshakes(40, 48)).unwrap();
    let out = std::process::Command::new(bin)
        .args(["-f", "summary", "--max-memory", "512K"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("the memory budget (512 KiB, --max-memory) was reached")
            .count(),
        1,
        "{text}"
    );
    let bad = std::process::Command::new(bin)
        .args(["--max-memory", "lots"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a size"));
    std::fs::remove_dir_all(&dir).unwrap();
}

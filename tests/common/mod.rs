//! Helpers shared by the integration tests.

/// Builds a pcap of one TCP connection (Ethernet, IPv4) from (from_client, payload) pieces,
/// with a SYN handshake first. For rules no captured server of ours shows (auth loops).
#[allow(dead_code)] // not every test binary uses every helper
pub fn synthetic_tcp(pieces: &[(bool, &[u8])]) -> Vec<u8> {
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut t = 1_700_000_000u32;
    let mut packet =
        |pcap: &mut Vec<u8>, client: bool, flags: u8, seq: u32, ack: u32, data: &[u8]| {
            let (src, dst, sport, dport) = if client {
                ([10, 0, 0, 1], [10, 0, 0, 2], 50000u16, 80u16)
            } else {
                ([10, 0, 0, 2], [10, 0, 0, 1], 80, 50000)
            };
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            let total = 40 + data.len();
            f.extend_from_slice(&[
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                0,
                0x40,
                0,
                64,
                6,
                0,
                0,
            ]);
            f.extend_from_slice(&src);
            f.extend_from_slice(&dst);
            f.extend_from_slice(&sport.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&ack.to_be_bytes());
            f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            f.extend_from_slice(data);
            t += 1;
            pcap.extend_from_slice(&t.to_le_bytes());
            pcap.extend_from_slice(&0u32.to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
            pcap.extend_from_slice(&f);
        };
    packet(&mut pcap, true, 0x02, cseq, 0, b"");
    packet(&mut pcap, false, 0x12, sseq, cseq + 1, b"");
    cseq += 1;
    sseq += 1;
    for (client, data) in pieces {
        if *client {
            packet(&mut pcap, true, 0x18, cseq, sseq, data);
            cseq += data.len() as u32;
        } else {
            packet(&mut pcap, false, 0x18, sseq, cseq, data);
            sseq += data.len() as u32;
        }
    }
    pcap
}

/// The records of a classic little-endian pcap, in order (frame 1 first).
fn pcap_records(pcap: &[u8]) -> Vec<&[u8]> {
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian pcap only"
    );
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push(&pcap[at..at + 16 + caplen]);
        at += 16 + caplen;
    }
    records
}

/// A classic little-endian pcap with some frames (numbered from 1) left out: captures that
/// lost packets, made from real ones.
#[allow(dead_code)]
pub fn pcap_without_frames(pcap: &[u8], drop: &[u64]) -> Vec<u8> {
    let keep: Vec<(u64, u32)> = (1..=pcap_records(pcap).len() as u64)
        .filter(|f| !drop.contains(f))
        .map(|f| (f, 0))
        .collect();
    pcap_frames(pcap, &keep)
}

/// A classic little-endian pcap made of the given frames of another, in the given order, each
/// moved later by the given seconds: reordered or delayed packets from real captures.
#[allow(dead_code)]
pub fn pcap_frames(pcap: &[u8], frames: &[(u64, u32)]) -> Vec<u8> {
    let records = pcap_records(pcap);
    let mut out = pcap[..24].to_vec();
    for &(frame, later) in frames {
        let r = records[frame as usize - 1];
        let ts = u32::from_le_bytes(r[..4].try_into().unwrap()) + later;
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&r[4..]);
    }
    out
}

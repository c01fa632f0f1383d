//! Makes large captures from a real seed capture, for benchmarks and tests of big inputs.

/// Replicates a little-endian microsecond Ethernet/IPv4 pcap until it reaches `target` bytes.
pub fn replicate(pcap: &[u8], target: usize) -> (Vec<u8>, u32) {
    let mut records: Vec<(u32, u32, &[u8])> = Vec::new();
    let mut pos = 24;
    while pos + 16 <= pcap.len() {
        let sec = u32::from_le_bytes(pcap[pos..pos + 4].try_into().unwrap());
        let usec = u32::from_le_bytes(pcap[pos + 4..pos + 8].try_into().unwrap());
        let caplen = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if pos + 16 + caplen > pcap.len() {
            break;
        }
        records.push((sec, usec, &pcap[pos + 16..pos + 16 + caplen]));
        pos += 16 + caplen;
    }
    let span =
        records.last().map(|r| r.0).unwrap_or(0) - records.first().map(|r| r.0).unwrap_or(0) + 1;
    let mut out = Vec::with_capacity(target + pcap.len());
    out.extend_from_slice(&pcap[..24]);
    let mut copies = 0u32;
    while out.len() < target {
        copies += 1;
        for &(sec, usec, frame) in &records {
            let start = out.len();
            out.extend_from_slice(&(sec + copies * span).to_le_bytes());
            out.extend_from_slice(&usec.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(frame);
            let f = &mut out[start + 16..];
            if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                // Both addresses of IPv4 get the copy number in their two low bytes (the same
                // change in both directions keeps each conversation whole).
                for at in [28usize, 32] {
                    let k = (copies as u16).to_be_bytes();
                    f[at] ^= k[0];
                    f[at + 1] ^= k[1];
                }
            }
        }
    }
    (out, copies)
}

//! Packets: from link-layer bytes to TCP segments.
//!
//! Link layers are peeled here (Ethernet with 802.1Q/QinQ, MPLS and PPPoE, Linux SLL and SLL2,
//! BSD loopback, raw IP, PPP), then etherparse slices IPv4/IPv6 (with extension headers) and TCP.
//! Tunnels are followed (IP-in-IP, 6in4, GRE incl. ERSPAN, VXLAN, Geneve, GTP-U) so the innermost TCP is
//! what counts, as in Wireshark. IPv4 and IPv6 fragments are reassembled here with bounded,
//! expiring state. Nothing is copied except fragments.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{LaxIpSlice, TcpSlice};
use rustc_hash::FxHashMap;

use crate::capture::Packet;

mod defrag;
mod dns;
mod link;

use defrag::{Defrag, FragKey};
use dns::dns_answers;
use link::{ethernet, ethertype, gre, linktype, ppp, L3};

/// An IP address and port, stored compactly for fast hashing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: [u8; 16],
    pub v6: bool,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(f, "[{}]:{}", Ipv6Addr::from(self.ip), self.port)
        } else {
            let [a, b, c, d] = [self.ip[0], self.ip[1], self.ip[2], self.ip[3]];
            write!(f, "{}:{}", Ipv4Addr::new(a, b, c, d), self.port)
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// TCP flag bits as on the wire.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One TCP segment, borrowed from the packet (or from the fragment buffer).
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture did not keep (snaplen).
    pub missing: u32,
    /// The segment is the copy quoted inside an ICMP error: it names a conversation (Wireshark
    /// gives it a `tcp.stream`) but carries no data for it.
    pub in_icmp_error: bool,
    /// A UDP datagram, not a TCP segment (ports and payload only): every one is passed on so
    /// UDP conversations are numbered like Wireshark's `udp.stream`, before any tunnel it
    /// carries is followed.
    pub udp: bool,
}

impl TcpSegment<'_> {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// What the decoder could not use, for the capture summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PacketStats {
    pub tcp_segments: u64,
    pub not_tcp: u64,
    pub undecodable: u64,
    pub unsupported_linktype: u64,
    pub ipv4_fragments: u64,
    pub ipv4_reassembled: u64,
    pub ipv6_fragments: u64,
    pub ipv6_reassembled: u64,
    pub fragments_dropped: u64,
}

/// Nested encapsulations deeper than this are not followed.
pub(super) const MAX_DEPTH: u8 = 6;
/// Depth given to packets quoted in ICMP errors, so they are recognised as such.
const ICMP_DEPTH: u8 = MAX_DEPTH - 1;

/// Turns captured packets into TCP segments.
#[derive(Default)]
pub struct PacketDecoder {
    defrag: Defrag,
    pub stats: PacketStats,
    /// Addresses learnt from DNS answers (name -> IPs), to tell whether the capture holds
    /// traffic to a host named in a certificate (CRL, OCSP).
    pub dns: FxHashMap<String, Vec<String>>,
    /// UDP datagrams to or from port 88 (Kerberos) of the last packet: (source, destination,
    /// payload). The analyzer takes them after each packet.
    pub kerberos_udp: Vec<(Endpoint, Endpoint, Vec<u8>)>,
}

/// DNS names remembered at most.
const MAX_DNS_NAMES: usize = 65536;

impl PacketDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The memory budget IP fragments pending reassembly draw on (see [`crate::budget`]).
    pub fn set_budget(&mut self, budget: crate::budget::Budget) {
        self.defrag.budget = budget;
    }

    /// Forgets the datagrams still waiting for fragments (the end of the capture).
    pub fn forget_fragments(&mut self) {
        self.defrag.pending.clear();
    }

    /// Decodes one packet and calls `on_segment` with its TCP segment, if it carries one (or
    /// completes a fragmented one).
    pub fn decode<F>(&mut self, pkt: &Packet<'_>, mut on_segment: F)
    where
        F: FnMut(&TcpSegment<'_>),
    {
        let l3 = match self.link_layer(pkt.linktype, pkt.data) {
            Some(l3) => l3,
            None => return,
        };
        match l3 {
            L3::Ip(bytes) => self.ip(bytes, pkt.ts_ns, 0, &mut on_segment),
            L3::None => self.stats.not_tcp += 1,
        }
    }

    fn link_layer<'a>(&mut self, linktype: i32, data: &'a [u8]) -> Option<L3<'a>> {
        use linktype::*;
        let l3 = match linktype {
            ETHERNET => ethernet(data),
            RAW | RAW_BSD1 | RAW_BSD2 | IPV4 | IPV6 => L3::Ip(data),
            NULL | LOOP => {
                // The 4-byte address family is in the capturing host's byte order (NULL) or
                // big-endian (LOOP); the IP version nibble that follows is unambiguous.
                if data.len() < 5 {
                    L3::None
                } else {
                    L3::Ip(&data[4..])
                }
            }
            LINUX_SLL => {
                if data.len() < 16 {
                    L3::None
                } else {
                    ethertype(u16::from_be_bytes([data[14], data[15]]), &data[16..], 0)
                }
            }
            LINUX_SLL2 => {
                if data.len() < 20 {
                    L3::None
                } else {
                    ethertype(u16::from_be_bytes([data[0], data[1]]), &data[20..], 0)
                }
            }
            PPP | PPP_HDLC => ppp(data),
            PPP_ETHER => {
                if data.len() < 6 {
                    L3::None
                } else {
                    ppp(&data[6..])
                }
            }
            _ => {
                self.stats.unsupported_linktype += 1;
                return None;
            }
        };
        Some(l3)
    }

    fn ip<F>(&mut self, bytes: &[u8], ts_ns: i64, depth: u8, on_segment: &mut F)
    where
        F: FnMut(&TcpSegment<'_>),
    {
        if depth > MAX_DEPTH {
            self.stats.undecodable += 1;
            return;
        }
        let Ok((ip, _ext_err)) = LaxIpSlice::from_slice(bytes) else {
            self.stats.undecodable += 1;
            return;
        };
        let (src, dst, v6) = match &ip {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                let mut s = [0u8; 16];
                let mut d = [0u8; 16];
                s[..4].copy_from_slice(&h.source());
                d[..4].copy_from_slice(&h.destination());
                (s, d, false)
            }
            LaxIpSlice::Ipv6(v6) => {
                let h = v6.header();
                (h.source(), h.destination(), true)
            }
        };
        let payload = ip.payload();
        let proto = payload.ip_number.0;
        let claimed = claimed_payload_len(&ip);
        if payload.fragmented {
            let (key, offset, more) = match &ip {
                LaxIpSlice::Ipv4(v4) => {
                    self.stats.ipv4_fragments += 1;
                    let h = v4.header();
                    let key = FragKey {
                        src,
                        dst,
                        v6,
                        id: h.identification() as u32,
                        proto,
                    };
                    (
                        key,
                        h.fragments_offset().value() as u32 * 8,
                        h.more_fragments(),
                    )
                }
                LaxIpSlice::Ipv6(v6_slice) => {
                    self.stats.ipv6_fragments += 1;
                    let fragment =
                        v6_slice
                            .extensions()
                            .clone()
                            .into_iter()
                            .find_map(|e| match e {
                                etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                                _ => None,
                            });
                    let Some(f) = fragment else {
                        self.stats.undecodable += 1;
                        return;
                    };
                    let key = FragKey {
                        src,
                        dst,
                        v6,
                        id: f.identification(),
                        proto,
                    };
                    (
                        key,
                        f.fragment_offset().value() as u32 * 8,
                        f.more_fragments(),
                    )
                }
            };
            let whole = self
                .defrag
                .add(key, offset, more, payload.payload, ts_ns, &mut self.stats);
            if let Some(whole) = whole {
                if v6 {
                    self.stats.ipv6_reassembled += 1;
                } else {
                    self.stats.ipv4_reassembled += 1;
                }
                self.transport(proto, src, dst, v6, &whole, 0, ts_ns, depth, on_segment);
            }
            return;
        }
        let missing = claimed.saturating_sub(payload.payload.len()) as u32;
        self.transport(
            proto,
            src,
            dst,
            v6,
            payload.payload,
            missing,
            ts_ns,
            depth,
            on_segment,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn transport<F>(
        &mut self,
        proto: u8,
        src: [u8; 16],
        dst: [u8; 16],
        v6: bool,
        payload: &[u8],
        missing: u32,
        ts_ns: i64,
        depth: u8,
        on_segment: &mut F,
    ) where
        F: FnMut(&TcpSegment<'_>),
    {
        match proto {
            6 => match TcpSlice::from_slice(payload) {
                Ok(tcp) => {
                    self.stats.tcp_segments += 1;
                    let flag_byte = payload[13];
                    on_segment(&TcpSegment {
                        src: Endpoint {
                            ip: src,
                            v6,
                            port: tcp.source_port(),
                        },
                        dst: Endpoint {
                            ip: dst,
                            v6,
                            port: tcp.destination_port(),
                        },
                        seq: tcp.sequence_number(),
                        ack: tcp.acknowledgment_number(),
                        flags: flag_byte,
                        payload: tcp.payload(),
                        missing,
                        in_icmp_error: depth >= ICMP_DEPTH,
                        udp: false,
                    });
                }
                Err(_) => self.stats.undecodable += 1,
            },
            // IP-in-IP, 6in4 / IPv6-in-IP.
            4 | 41 => self.ip(payload, ts_ns, depth + 1, on_segment),
            // ICMP and ICMPv6 errors quote the offending packet; Wireshark dissects the quoted
            // TCP header and so opens a conversation for it.
            1 | 58 if depth < ICMP_DEPTH && payload.len() > 8 => {
                let is_error = match proto {
                    1 => matches!(payload[0], 3 | 4 | 5 | 11 | 12),
                    _ => matches!(payload[0], 1..=4),
                };
                if is_error {
                    self.ip(&payload[8..], ts_ns, ICMP_DEPTH, on_segment)
                } else {
                    self.stats.not_tcp += 1
                }
            }
            47 => match gre(payload) {
                L3::Ip(inner) => self.ip(inner, ts_ns, depth + 1, on_segment),
                L3::None => self.stats.not_tcp += 1,
            },
            17 => {
                // VXLAN (4789) and Geneve (6081) carry Ethernet frames over UDP, GTP-U (2152)
                // IP packets.
                if payload.len() < 8 {
                    self.stats.not_tcp += 1;
                    return;
                }
                let sport = u16::from_be_bytes([payload[0], payload[1]]);
                let dport = u16::from_be_bytes([payload[2], payload[3]]);
                // The UDP length excludes padding after the datagram (short Ethernet frames).
                let udp_len = u16::from_be_bytes([payload[4], payload[5]]) as usize;
                let udp = &payload[8..udp_len.clamp(8, payload.len())];
                if (sport == 88 || dport == 88) && depth < ICMP_DEPTH {
                    let ep = |ip, port| Endpoint { ip, v6, port };
                    self.kerberos_udp
                        .push((ep(src, sport), ep(dst, dport), udp.to_vec()));
                    self.stats.not_tcp += 1;
                    return;
                }
                on_segment(&TcpSegment {
                    src: Endpoint {
                        ip: src,
                        v6,
                        port: sport,
                    },
                    dst: Endpoint {
                        ip: dst,
                        v6,
                        port: dport,
                    },
                    seq: 0,
                    ack: 0,
                    flags: 0,
                    payload: udp,
                    missing: 0,
                    in_icmp_error: depth >= ICMP_DEPTH,
                    udp: true,
                });
                if sport == 53 {
                    if self.dns.len() < MAX_DNS_NAMES {
                        dns_answers(udp, &mut self.dns);
                    }
                    self.stats.not_tcp += 1;
                    return;
                }
                let inner = match dport {
                    _ if sport == GTPU_PORT || dport == GTPU_PORT => gtpu(udp),
                    4789 if udp.len() >= 8 => ethernet(&udp[8..]),
                    6081 if udp.len() >= 8 => {
                        let opt_len = (udp[0] & 0x3f) as usize * 4;
                        let proto = u16::from_be_bytes([udp[2], udp[3]]);
                        match udp.get(8 + opt_len..) {
                            Some(rest) => ethertype(proto, rest, 0),
                            None => L3::None,
                        }
                    }
                    _ => L3::None,
                };
                match inner {
                    L3::Ip(inner) => self.ip(inner, ts_ns, depth + 1, on_segment),
                    L3::None => self.stats.not_tcp += 1,
                }
            }
            _ => self.stats.not_tcp += 1,
        }
    }
}
/// GTP-U's registered port (3GPP TS 29.281), which Wireshark decodes on either side.
const GTPU_PORT: u16 = 2152;

/// The IP packet inside a GTPv1-U G-PDU (3GPP TS 29.281 section 5): the 8-byte header, the
/// 4 optional bytes when any of the E, S or PN flags is set, then extension headers (length
/// in 4-byte units, next type in their last byte) while the next type is not 0. Written by
/// hand: etherparse has no GTP. Signalling messages (echo, error indication) carry no user
/// packet and give nothing.
fn gtpu(udp: &[u8]) -> L3<'_> {
    const G_PDU: u8 = 0xff;
    if udp.len() < 8 || udp[0] >> 5 != 1 || udp[0] & 0x10 == 0 || udp[1] != G_PDU {
        return L3::None;
    }
    // The length counts what follows the mandatory header; a snaplen may have cut it.
    let end = (8 + u16::from_be_bytes([udp[2], udp[3]]) as usize).min(udp.len());
    let mut at = 8;
    if udp[0] & 0x07 != 0 {
        at = 12;
        if end < at {
            return L3::None;
        }
        let mut next = udp[11];
        while next != 0 {
            let Some(&units) = udp.get(at).filter(|_| at < end) else {
                return L3::None;
            };
            if units == 0 {
                return L3::None;
            }
            at += units as usize * 4;
            if at > end {
                return L3::None;
            }
            next = udp[at - 1];
        }
    }
    match udp[at..end].first() {
        Some(b) if matches!(b >> 4, 4 | 6) => L3::Ip(&udp[at..end]),
        _ => L3::None,
    }
}

/// Payload length announced by the IP header(s), to tell how much snaplen cut.
fn claimed_payload_len(ip: &LaxIpSlice<'_>) -> usize {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (h.total_len() as usize).saturating_sub(h.ihl() as usize * 4)
        }
        LaxIpSlice::Ipv6(v6) => {
            let announced = v6.header().payload_length() as usize;
            if announced == 0 {
                // Jumbogram or unknown: trust what was captured.
                return v6.payload().payload.len();
            }
            announced.saturating_sub(v6.extensions().slice().len())
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let total = 20 + 20 + payload.len();
        let mut p = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&[0x04, 0xd2, 0x01, 0xbb]); // 1234 -> 443
        p.extend_from_slice(&100u32.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    fn decode_one(linktype: i32, data: &[u8]) -> Option<(String, String, Vec<u8>, u32)> {
        let mut dec = PacketDecoder::new();
        let mut out = None;
        let pkt = Packet {
            frame: 1,
            ts_ns: 0,
            linktype,
            interface: 0,
            data,
            orig_len: data.len() as u32,
        };
        dec.decode(&pkt, |s| {
            out = Some((
                s.src.to_string(),
                s.dst.to_string(),
                s.payload.to_vec(),
                s.missing,
            ))
        });
        out
    }

    #[test]
    fn ethernet_with_qinq() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        frame.extend_from_slice(&ipv4_tcp(b"hello"));
        let (src, dst, payload, missing) = decode_one(1, &frame).unwrap();
        assert_eq!(
            (src.as_str(), dst.as_str()),
            ("10.0.0.1:1234", "10.0.0.2:443")
        );
        assert_eq!(payload, b"hello");
        assert_eq!(missing, 0);
    }

    #[test]
    fn snaplen_cut_reports_missing_bytes() {
        let mut frame = ipv4_tcp(&[7u8; 100]);
        frame.truncate(frame.len() - 60);
        let (_, _, payload, missing) = decode_one(101, &frame).unwrap();
        assert_eq!((payload.len(), missing), (40, 60));
    }

    #[test]
    fn sll2_and_null() {
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ipv4_tcp(b"x"));
        assert!(decode_one(276, &sll2).is_some());
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ipv4_tcp(b"x"));
        assert!(decode_one(0, &null).is_some());
    }

    #[test]
    fn ipv4_fragments_are_reassembled() {
        let whole = ipv4_tcp(&[9u8; 64]);
        let l4 = &whole[20..];
        let mut dec = PacketDecoder::new();
        let mut got = Vec::new();
        for (i, (off, chunk, more)) in [(0usize, &l4[..40], true), (40, &l4[40..], false)]
            .into_iter()
            .enumerate()
        {
            let total = 20 + chunk.len();
            let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
            let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 7];
            p.extend_from_slice(&fo.to_be_bytes());
            p.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            p.extend_from_slice(chunk);
            let pkt = Packet {
                frame: i as u64 + 1,
                ts_ns: 0,
                linktype: 101,
                interface: 0,
                data: &p,
                orig_len: p.len() as u32,
            };
            dec.decode(&pkt, |s| got.push(s.payload.len()));
        }
        assert_eq!(got, vec![64]);
        assert_eq!(dec.stats.ipv4_reassembled, 1);
    }

    #[test]
    fn dns_answers_with_compression_and_cname() {
        // Response for crl.example.com: CNAME to edge.example.net, which has A 192.0.2.7.
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03crl\x07example\x03com\x00");
        m.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME: name is a pointer to offset 12.
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let target = b"\x04edge\x07example\x03net\x00";
        m.extend_from_slice(&(target.len() as u16).to_be_bytes());
        let target_at = m.len();
        m.extend_from_slice(target);
        m.extend_from_slice(&[
            0xc0,
            target_at as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            60,
            0,
            4,
            192,
            0,
            2,
            7,
        ]);
        let mut map = FxHashMap::default();
        dns_answers(&m, &mut map);
        assert_eq!(map["edge.example.net"], vec!["192.0.2.7".to_string()]);
        assert_eq!(map["crl.example.com"], vec!["192.0.2.7".to_string()]);
        // Truncated or looping messages are ignored without panicking.
        for cut in 0..m.len() {
            dns_answers(&m[..cut], &mut FxHashMap::default());
        }
        let looping = [0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12];
        dns_answers(&looping, &mut FxHashMap::default());
    }

    #[test]
    fn gtpu_headers() {
        let inner = ipv4_tcp(b"x");
        let plain = |flags: u8, kind: u8, rest: &[u8]| {
            let mut g = vec![flags, kind];
            g.extend_from_slice(&((rest.len()) as u16).to_be_bytes());
            g.extend_from_slice(&0x1001u32.to_be_bytes());
            g.extend_from_slice(rest);
            g
        };
        let ip_of = |g: &[u8]| match gtpu(g) {
            L3::Ip(b) => Some(b.len()),
            L3::None => None,
        };
        assert_eq!(ip_of(&plain(0x30, 0xff, &inner)), Some(inner.len()));
        // E flag, one PDU Session Container (1 unit), then no more extensions.
        let mut ext = vec![0, 0, 0, 0x85, 1, 0x10, 9, 0];
        ext.extend_from_slice(&inner);
        assert_eq!(ip_of(&plain(0x34, 0xff, &ext)), Some(inner.len()));
        // An extension of length 0, one running past the end, an echo request, GTP'.
        let mut zero = vec![0, 0, 0, 0x85, 0, 0, 0, 0];
        zero.extend_from_slice(&inner);
        assert_eq!(ip_of(&plain(0x34, 0xff, &zero)), None);
        assert_eq!(ip_of(&plain(0x34, 0xff, &[0, 0, 0, 0x85, 200, 0])), None);
        assert_eq!(ip_of(&plain(0x32, 0x01, &[0, 1, 0, 0])), None);
        assert_eq!(ip_of(&plain(0x20, 0xff, &inner)), None);
        // Every truncation is refused or yields a shorter packet, never a panic.
        let whole = plain(0x34, 0xff, &ext);
        for cut in 0..whole.len() {
            let _ = gtpu(&whole[..cut]);
        }
    }

    /// IPv6 packets carrying `data` in fragments of (offset, bytes, more).
    fn ipv6_fragments(data: &[u8], pieces: &[(usize, usize, bool)]) -> Vec<Vec<u8>> {
        pieces
            .iter()
            .map(|&(off, len, more)| {
                let chunk = &data[off..off + len];
                let mut p = vec![0x60, 0, 0, 0];
                p.extend_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
                p.extend_from_slice(&[44, 64]);
                p.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
                p.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
                let fo = ((off / 8) as u16) << 3 | more as u16;
                p.extend_from_slice(&[6, 0]);
                p.extend_from_slice(&fo.to_be_bytes());
                p.extend_from_slice(&0x5151u32.to_be_bytes());
                p.extend_from_slice(chunk);
                p
            })
            .collect()
    }

    fn feed(dec: &mut PacketDecoder, packets: &[Vec<u8>]) -> Vec<usize> {
        let mut got = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let pkt = Packet {
                frame: i as u64 + 1,
                ts_ns: 0,
                linktype: 101,
                interface: 0,
                data: p,
                orig_len: p.len() as u32,
            };
            dec.decode(&pkt, |s| got.push(s.payload.len()));
        }
        got
    }

    #[test]
    fn ipv6_fragments_are_reassembled_out_of_order_with_duplicates() {
        let whole = ipv4_tcp(&[9u8; 100]);
        let l4 = &whole[20..];
        assert_eq!(l4.len(), 120);
        let mut dec = PacketDecoder::new();
        let packets = ipv6_fragments(
            l4,
            &[
                (56, 48, true),
                (0, 56, true),
                (0, 56, true),
                (104, 16, false),
            ],
        );
        assert_eq!(feed(&mut dec, &packets), vec![100]);
        assert_eq!(
            (dec.stats.ipv6_fragments, dec.stats.ipv6_reassembled),
            (4, 1)
        );
    }

    #[test]
    fn ipv6_fragment_state_is_bounded() {
        let whole = ipv4_tcp(&[9u8; 100]);
        let l4 = &whole[20..];
        let mut dec = PacketDecoder::new();
        // The same first fragment over and over: the datagram is dropped at the bound, and
        // what follows starts afresh without completing anything.
        let one = ipv6_fragments(l4, &[(0, 56, true)]).remove(0);
        let packets = vec![one; defrag::MAX_FRAGMENTS + 1];
        assert!(feed(&mut dec, &packets).is_empty());
        assert_eq!(dec.stats.fragments_dropped, 1);
        assert!(dec.defrag.pending.len() <= 1);
        // A fragment beyond 64 KiB is refused.
        let mut far = ipv6_fragments(l4, &[(0, 56, true)]).remove(0);
        far[42..44].copy_from_slice(&(((65528u16 / 8) << 3) | 1).to_be_bytes());
        assert!(feed(&mut dec, &[far]).is_empty());
        assert_eq!(dec.stats.fragments_dropped, 2);
    }

    #[test]
    fn garbage_does_not_panic() {
        for lt in [0, 1, 9, 101, 113, 276, 51, 228, 229] {
            for len in 0..80 {
                let data: Vec<u8> = (0..len).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode_one(lt, &data);
            }
        }
    }
}

//! Link layers peeled down to IP: Ethernet with 802.1Q/QinQ, MPLS and PPPoE, Linux SLL and
//! SLL2, BSD loopback, raw IP, PPP, and GRE's payload types.

use super::MAX_DEPTH;

/// LINKTYPE values handled here.
pub(super) mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const PPP: i32 = 9;
    pub const RAW_BSD1: i32 = 12;
    pub const RAW_BSD2: i32 = 14;
    pub const PPP_HDLC: i32 = 50;
    pub const PPP_ETHER: i32 = 51;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

pub(super) enum L3<'a> {
    Ip(&'a [u8]),
    None,
}

pub(super) fn ethernet(data: &[u8]) -> L3<'_> {
    if data.len() < 14 {
        return L3::None;
    }
    ethertype(u16::from_be_bytes([data[12], data[13]]), &data[14..], 0)
}

/// Follows an EtherType through VLAN tags, MPLS and PPPoE down to IP.
pub(super) fn ethertype(kind: u16, rest: &[u8], depth: u8) -> L3<'_> {
    if depth > MAX_DEPTH {
        return L3::None;
    }
    match kind {
        0x0800 | 0x86dd => L3::Ip(rest),
        // 802.1Q, 802.1ad (QinQ), old QinQ.
        0x8100 | 0x88a8 | 0x9100 => {
            if rest.len() < 4 {
                return L3::None;
            }
            ethertype(
                u16::from_be_bytes([rest[2], rest[3]]),
                &rest[4..],
                depth + 1,
            )
        }
        // MPLS unicast/multicast: pop labels until bottom of stack, then guess by IP version.
        0x8847 | 0x8848 => {
            let mut i = 0;
            while i + 4 <= rest.len() {
                let bottom = rest[i + 2] & 1 == 1;
                i += 4;
                if bottom {
                    return match rest.get(i).map(|b| b >> 4) {
                        Some(4) | Some(6) => L3::Ip(&rest[i..]),
                        _ => L3::None,
                    };
                }
            }
            L3::None
        }
        // PPPoE session stage.
        0x8864 => {
            if rest.len() < 6 {
                return L3::None;
            }
            ppp_protocol(&rest[6..])
        }
        // Transparent Ethernet bridging (e.g. inside GRE).
        0x6558 => ethernet(rest),
        // Cisco MetaData (Security Group Tag): version, length in 4-byte option units, options,
        // then the next EtherType.
        0x8909 => {
            if rest.len() < 2 {
                return L3::None;
            }
            let skip = 2 + rest[1] as usize * 4;
            match rest.get(skip..skip + 2) {
                Some(t) => ethertype(
                    u16::from_be_bytes([t[0], t[1]]),
                    &rest[skip + 2..],
                    depth + 1,
                ),
                None => L3::None,
            }
        }
        _ => L3::None,
    }
}

/// PPP with optional HDLC address/control bytes.
pub(super) fn ppp(data: &[u8]) -> L3<'_> {
    let data = if data.starts_with(&[0xff, 0x03]) {
        &data[2..]
    } else {
        data
    };
    ppp_protocol(data)
}

pub(super) fn ppp_protocol(data: &[u8]) -> L3<'_> {
    if data.is_empty() {
        return L3::None;
    }
    // Protocol field compression: a 1-byte protocol has its low bit set.
    let (proto, rest) = if data[0] & 1 == 1 {
        (data[0] as u16, &data[1..])
    } else if data.len() >= 2 {
        (u16::from_be_bytes([data[0], data[1]]), &data[2..])
    } else {
        return L3::None;
    };
    match proto {
        0x0021 | 0x0057 => L3::Ip(rest),
        _ => L3::None,
    }
}

/// GRE (RFC 2784/2890) with ERSPAN types II and III.
pub(super) fn gre(data: &[u8]) -> L3<'_> {
    if data.len() < 4 {
        return L3::None;
    }
    let flags = data[0];
    let proto = u16::from_be_bytes([data[2], data[3]]);
    let mut off = 4;
    if flags & 0x80 != 0 {
        off += 4; // checksum + reserved
    }
    if flags & 0x20 != 0 {
        off += 4; // key
    }
    if flags & 0x10 != 0 {
        off += 4; // sequence number
    }
    let Some(rest) = data.get(off..) else {
        return L3::None;
    };
    match proto {
        // ERSPAN type II: 8-byte header, then the mirrored Ethernet frame.
        0x88be => rest.get(8..).map_or(L3::None, ethernet),
        // ERSPAN type III: 12-byte header plus an optional 8-byte platform subheader (O bit).
        0x22eb => {
            if rest.len() < 12 {
                return L3::None;
            }
            let skip = if rest[11] & 0x01 != 0 { 20 } else { 12 };
            rest.get(skip..).map_or(L3::None, ethernet)
        }
        other => ethertype(other, rest, 0),
    }
}

//! TLS carried by OpenVPN's control channel: OpenVPN packets taken out of the TCP stream
//! (2-byte length prefix), the TLS bytes of their P_CONTROL_V1 messages put back in order by
//! message packet id, and nothing else handed to the TLS layer, so no record is assembled
//! across OpenVPN headers.
//!
//! Written by hand (no crate parses OpenVPN). Layout (OpenVPN `ssl_pkt.h`, as Wireshark's
//! packet-openvpn.c reads it): opcode (5 bits) and key id (3 bits); session id (8); with
//! `--tls-auth` an HMAC (16 to 64 bytes) then packet id and time (4 + 4); the ACK array (a
//! count, that many 4-byte ids, then the peer's session id when the count is not 0); except in
//! P_ACK_V1 the message packet id (4); then the payload. Like Wireshark, the HMAC size is
//! guessed from the packets themselves. `--tls-crypt` encrypts all this and is not decoded.

use std::collections::BTreeMap;

const P_CONTROL_HARD_RESET_CLIENT_V1: u8 = 1;
const P_CONTROL_HARD_RESET_SERVER_V1: u8 = 2;
const P_CONTROL_SOFT_RESET_V1: u8 = 3;
const P_CONTROL_V1: u8 = 4;
const P_ACK_V1: u8 = 5;
const P_CONTROL_HARD_RESET_CLIENT_V2: u8 = 7;
const P_CONTROL_HARD_RESET_SERVER_V2: u8 = 8;
const P_CONTROL_HARD_RESET_CLIENT_V3: u8 = 10;

/// HMAC sizes tried, most common first: none, SHA1 (OpenVPN's default for tls-auth), SHA256,
/// MD5, SHA512, SHA384.
const HMAC_SIZES: [usize; 6] = [0, 20, 32, 16, 64, 48];
/// OpenVPN acknowledges at most 8 packets at once (`RELIABLE_ACK_SIZE`).
const MAX_ACKS: usize = 8;
/// Control messages waiting for an earlier id, per direction.
const MAX_WAITING: usize = 64;

/// The start of a TCP stream that opens an OpenVPN session: a length prefix that a reset
/// packet fits, and the opcode of a client's or server's hard reset with key id 0.
pub fn starts_openvpn_tcp(first: &[u8]) -> bool {
    if first.len() < 3 {
        return false;
    }
    let len = u16::from_be_bytes([first[0], first[1]]) as usize;
    let (op, key_id) = (first[2] >> 3, first[2] & 7);
    key_id == 0
        && (14..=1024).contains(&len)
        && matches!(
            op,
            P_CONTROL_HARD_RESET_CLIENT_V2
                | P_CONTROL_HARD_RESET_SERVER_V2
                | P_CONTROL_HARD_RESET_CLIENT_V3
        )
}

/// A UDP datagram that opens an OpenVPN session: a client's hard reset with key id 0, as the
/// first datagram of its conversation, that decodes as a control packet.
pub fn starts_openvpn_udp(datagram: &[u8]) -> bool {
    datagram.len() >= 14
        && datagram[0] & 7 == 0
        && matches!(
            datagram[0] >> 3,
            P_CONTROL_HARD_RESET_CLIENT_V2 | P_CONTROL_HARD_RESET_CLIENT_V3
        )
        && HMAC_SIZES
            .iter()
            .any(|&h| parse(datagram, h).is_some_and(|c| c.msg_id == Some(0)))
}

/// One decoded control packet.
struct Control<'a> {
    op: u8,
    key_id: u8,
    /// None for P_ACK_V1.
    msg_id: Option<u32>,
    payload: &'a [u8],
}

fn reliable(op: u8) -> bool {
    matches!(
        op,
        P_CONTROL_HARD_RESET_CLIENT_V1
            | P_CONTROL_HARD_RESET_SERVER_V1
            | P_CONTROL_SOFT_RESET_V1
            | P_CONTROL_V1
            | P_CONTROL_HARD_RESET_CLIENT_V2
            | P_CONTROL_HARD_RESET_SERVER_V2
            | P_CONTROL_HARD_RESET_CLIENT_V3
    )
}

/// Reads a control packet assuming an HMAC of `hmac` bytes; None when it does not fit.
fn parse(p: &[u8], hmac: usize) -> Option<Control<'_>> {
    let op = *p.first()? >> 3;
    if !(reliable(op) || op == P_ACK_V1) {
        return None;
    }
    let mut at = 1 + 8;
    if hmac > 0 {
        // packet id and time follow the HMAC; the time is seconds since 1970, which tells a
        // real tls-auth header from random bytes: accept 2001 to 2100.
        let time = p.get(at + hmac + 4..at + hmac + 8)?;
        let time = u32::from_be_bytes([time[0], time[1], time[2], time[3]]);
        if !(1_000_000_000..=4_102_444_800).contains(&time) {
            return None;
        }
        at += hmac + 8;
    }
    let acks = *p.get(at)? as usize;
    if acks > MAX_ACKS {
        return None;
    }
    at += 1 + 4 * acks + if acks > 0 { 8 } else { 0 };
    if op == P_ACK_V1 {
        return (at == p.len()).then_some(Control {
            op,
            key_id: p[0] & 7,
            msg_id: None,
            payload: &[],
        });
    }
    let id = p.get(at..at + 4)?;
    let msg_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    let payload = p.get(at + 4..)?;
    // Resets carry no TLS (at most a short negotiation TLV); TLS messages are not empty.
    let fits = match op {
        P_CONTROL_V1 => !payload.is_empty(),
        _ => payload.len() <= 256,
    };
    fits.then_some(Control {
        op,
        key_id: p[0] & 7,
        msg_id: Some(msg_id),
        payload,
    })
}

#[derive(Default)]
struct Direction {
    /// Bytes of an OpenVPN packet not yet complete (TCP).
    partial: Vec<u8>,
    /// Next message packet id to hand over.
    next_id: Option<u32>,
    /// Control messages that came before an earlier one (by id): (frame, at_frame, payload).
    waiting: BTreeMap<u32, (u64, u64, Vec<u8>)>,
    /// A capture gap broke the TCP framing: nothing more is read.
    lost: bool,
}

/// The OpenVPN control channel of one connection.
#[derive(Default)]
pub struct OpenVpn {
    dirs: [Direction; 2],
    /// The tls-auth HMAC size once guessed (0: no tls-auth).
    pub hmac: Option<usize>,
    /// Key ids other than the first session's, seen in control packets (later TLS sessions,
    /// renegotiations): not analysed.
    pub other_key_ids: u64,
    /// Packets that did not decode as control packets with any HMAC size.
    pub undecoded: u64,
    pub control_packets: u64,
    first_key_id: Option<u8>,
}

impl OpenVpn {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes TCP bytes of direction `dir` and hands the TLS bytes they complete to `tls`
    /// (direction, bytes, frame, at_frame).
    pub fn on_stream<F>(
        &mut self,
        dir: u8,
        mut bytes: &[u8],
        frame: u64,
        at_frame: u64,
        tls: &mut F,
    ) where
        F: FnMut(u8, &[u8], u64, u64),
    {
        let d = (dir & 1) as usize;
        while !bytes.is_empty() && !self.dirs[d].lost {
            let partial = &mut self.dirs[d].partial;
            if partial.len() < 2 {
                let take = (2 - partial.len()).min(bytes.len());
                partial.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                continue;
            }
            let len = u16::from_be_bytes([partial[0], partial[1]]) as usize;
            let take = (2 + len - partial.len()).min(bytes.len());
            partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if partial.len() == 2 + len {
                let packet = std::mem::take(&mut self.dirs[d].partial);
                self.on_packet(dir, &packet[2..], frame, at_frame, tls);
            }
        }
    }

    /// Bytes of direction `dir` were lost: the length prefixes cannot be followed any more.
    pub fn on_gap(&mut self, dir: u8) {
        let d = &mut self.dirs[(dir & 1) as usize];
        d.lost = true;
        d.partial = Vec::new();
        d.waiting.clear();
    }

    /// One OpenVPN packet (a UDP payload, or one taken out of the TCP stream).
    pub fn on_packet<F>(&mut self, dir: u8, packet: &[u8], frame: u64, at_frame: u64, tls: &mut F)
    where
        F: FnMut(u8, &[u8], u64, u64),
    {
        let control = match self.hmac {
            Some(h) => parse(packet, h).map(|c| (h, c)),
            // Guessing wants more than a fit: the first message of a session (id 0) or a
            // TLS record header, so an HMAC is not read as an ACK count by chance.
            None => HMAC_SIZES.iter().find_map(|&h| {
                parse(packet, h)
                    .filter(|c| match c.op {
                        P_CONTROL_V1 => {
                            c.msg_id.is_some_and(|id| id < 1024)
                                && c.payload.len() >= 5
                                && (20..=23).contains(&c.payload[0])
                                && c.payload[1] == 3
                        }
                        P_ACK_V1 => false,
                        _ => c.msg_id == Some(0),
                    })
                    .map(|c| (h, c))
            }),
        };
        let Some((hmac, c)) = control else {
            // Data channel packets (P_DATA_V1/V2) are expected; anything else is noted.
            if !matches!(packet.first().map(|b| b >> 3), Some(6 | 9)) {
                self.undecoded += 1;
            }
            return;
        };
        self.hmac.get_or_insert(hmac);
        self.control_packets += 1;
        let Some(id) = c.msg_id else { return };
        if *self.first_key_id.get_or_insert(c.key_id) != c.key_id {
            self.other_key_ids += 1;
            return;
        }
        let d = &mut self.dirs[(dir & 1) as usize];
        let next = *d.next_id.get_or_insert(id);
        if id < next {
            return; // a retransmission
        }
        if id > next {
            if d.waiting.len() < MAX_WAITING {
                d.waiting
                    .entry(id)
                    .or_insert_with(|| (frame, at_frame, c.payload.to_vec()));
                return;
            }
            // Too many waiting: the missing message is not coming (capture loss).
            d.next_id = Some(id);
        }
        if c.op == P_CONTROL_V1 {
            tls(dir, c.payload, frame, at_frame);
        }
        let d = &mut self.dirs[(dir & 1) as usize];
        let mut next = id.wrapping_add(1);
        while let Some((frame, at, payload)) = d.waiting.remove(&next) {
            tls(dir, &payload, frame, at.max(at_frame));
            next = next.wrapping_add(1);
        }
        d.next_id = Some(next);
    }

    /// What the report says about the carrier.
    pub fn note(&self) -> String {
        let mut note = match self.hmac {
            Some(0) | None => "TLS carried in OpenVPN's control channel".to_string(),
            Some(h) => {
                format!("TLS carried in OpenVPN's control channel (tls-auth, {h}-byte HMAC)")
            }
        };
        if self.other_key_ids > 0 {
            note.push_str(&format!(
                "; {} control packets of later key ids (renegotiated TLS sessions) are not analysed",
                self.other_key_ids
            ));
        }
        if self.dirs.iter().any(|d| d.lost) {
            note.push_str("; a capture gap broke the OpenVPN framing, what follows it is not read");
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(op: u8, hmac: usize, acks: &[u32], id: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![op << 3];
        p.extend_from_slice(&[0xAA; 8]);
        if hmac > 0 {
            p.extend(std::iter::repeat_n(0x5C, hmac));
            p.extend_from_slice(&1u32.to_be_bytes());
            p.extend_from_slice(&1_764_000_000u32.to_be_bytes());
        }
        p.push(acks.len() as u8);
        for a in acks {
            p.extend_from_slice(&a.to_be_bytes());
        }
        if !acks.is_empty() {
            p.extend_from_slice(&[0xBB; 8]);
        }
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn framed(packets: &[Vec<u8>]) -> Vec<u8> {
        let mut s = Vec::new();
        for p in packets {
            s.extend_from_slice(&(p.len() as u16).to_be_bytes());
            s.extend_from_slice(p);
        }
        s
    }

    #[test]
    fn tls_bytes_are_taken_out_of_control_packets_in_order() {
        for hmac in [0, 20, 32] {
            let stream = framed(&[
                control(P_CONTROL_HARD_RESET_CLIENT_V2, hmac, &[], 0, b""),
                control(P_CONTROL_V1, hmac, &[0], 2, b"world"),
                control(P_CONTROL_V1, hmac, &[], 1, b"hello "),
                control(P_CONTROL_V1, hmac, &[], 1, b"hello "),
                {
                    let mut ack = vec![P_ACK_V1 << 3];
                    ack.extend_from_slice(&[0xAA; 8]);
                    if hmac > 0 {
                        ack.extend(std::iter::repeat_n(0x5C, hmac));
                        ack.extend_from_slice(&2u32.to_be_bytes());
                        ack.extend_from_slice(&1_764_000_000u32.to_be_bytes());
                    }
                    ack.push(1);
                    ack.extend_from_slice(&3u32.to_be_bytes());
                    ack.extend_from_slice(&[0xBB; 8]);
                    ack
                },
            ]);
            assert!(starts_openvpn_tcp(&stream));
            let mut ovpn = OpenVpn::new();
            let mut got = Vec::new();
            // In 7-byte pieces, as TCP may cut them.
            for (i, piece) in stream.chunks(7).enumerate() {
                ovpn.on_stream(0, piece, i as u64, i as u64, &mut |_, b, _, _| {
                    got.extend_from_slice(b)
                });
            }
            assert_eq!(got, b"hello world", "hmac {hmac}");
            assert_eq!(ovpn.hmac, Some(hmac));
            assert_eq!((ovpn.control_packets, ovpn.undecoded), (5, 0));
        }
    }

    #[test]
    fn garbage_is_bounded_and_does_not_panic() {
        let mut ovpn = OpenVpn::new();
        let mut n = 0;
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            ovpn.on_stream(
                (len & 1) as u8,
                &data,
                len as u64,
                len as u64,
                &mut |_, _, _, _| n += 1,
            );
            ovpn.on_packet(0, &data, 0, 0, &mut |_, _, _, _| {});
        }
        assert!(ovpn.dirs.iter().all(|d| d.waiting.len() <= MAX_WAITING));
        assert!(ovpn.dirs.iter().all(|d| d.partial.len() <= 65537));
        ovpn.on_gap(1);
        assert!(ovpn.note().contains("capture gap"));
    }
}

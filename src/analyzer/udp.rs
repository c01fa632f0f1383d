//! UDP datagrams: numbered like Wireshark's `udp.stream`, and OpenVPN sessions over UDP
//! analysed as connections (their control channel carries TLS).

use super::{App, State};
use crate::packet::TcpSegment;
use crate::tls::{openvpn, TlsSession};

impl State {
    /// A UDP datagram: numbered like `udp.stream`; an OpenVPN session over UDP is analysed
    /// (its control channel carries TLS), other UDP only counts.
    pub(super) fn udp_datagram(&mut self, seg: &TcpSegment<'_>, frame: u64, ts_ns: i64) {
        let (stream, slot) = self.udp_flows.lookup(seg.src, seg.dst);
        if seg.in_icmp_error {
            return;
        }
        let slot = match slot {
            Some(slot) => slot,
            None if openvpn::starts_openvpn_udp(seg.payload) => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.conns.push(None);
                    self.conns.len() - 1
                });
                self.fill_slot(slot, seg, frame, ts_ns, stream, Vec::new(), true);
                self.udp_flows.set_slot(seg.src, seg.dst, Some(slot));
                if let Some(conn) = self.conns[slot].as_deref_mut() {
                    conn.app.openvpn = Some(Box::default());
                    conn.app.decided = true;
                    conn.syn_dir = Some(0);
                }
                slot
            }
            None => return,
        };
        let State {
            conns, tls, idle, ..
        } = self;
        let Some(conn) = conns.get_mut(slot).and_then(|c| c.as_deref_mut()) else {
            return;
        };
        conn.last_frame = frame;
        conn.last_ts = ts_ns;
        idle.touch(slot, ts_ns, conn.ended_at);
        let dir: u8 = if conn.endpoints[0] == seg.src { 0 } else { 1 };
        let App {
            ignored,
            tls: session,
            openvpn,
            ..
        } = &mut conn.app;
        let (Some(ovpn), false) = (openvpn.as_mut(), *ignored) else {
            return;
        };
        let session = session.get_or_insert_with(|| Box::new(TlsSession::new()));
        ovpn.on_packet(dir, seg.payload, frame, frame, &mut |d, bytes, f, at| {
            if !session.gave_up() {
                session.on_data(d, bytes, f, at, ts_ns, false, tls)
            }
        });
    }
}

#!/usr/bin/env python3
"""Write hostile captures that try to make tlsdiag hold memory (issue 15, --max-memory).

Three kinds, each a classic pcap (Ethernet, IPv4, microsecond timestamps):

  handshake  N connections each send a TLS record header and a handshake header announcing a
             ClientHello of about 4 MiB, then --kb KB of it in whole records, and never finish.
  ooo        N connections each leave a hole at the start of the client's data and send --kb KB
             after it (out of order, never acknowledged, never filled).
  fragments  N IPv4 datagrams each represented by one 8-byte fragment at offset 65,512 (the last
             one), never completed.

Every connection opens with a three-way handshake and stays open (no FIN, no RST), all within a
few seconds of capture time, so none is finalized before the end of the file.

    scripts/make-hostile.py handshake -n 5000 --kb 48 -o /tmp/hostile-hs.pcap
    scripts/make-hostile.py ooo -n 200 --kb 2048 -o /tmp/hostile-ooo.pcap
    scripts/make-hostile.py fragments -n 20000 -o /tmp/hostile-frag.pcap

The test suite (tests/budget.rs) writes small variants of the same shapes itself.
"""
import argparse
import struct

MSS = 1448
SERVER = bytes([10, 0, 0, 1])
CLIENT_MAC = b"\x02\x00\x00\x00\x00\x01"
SERVER_MAC = b"\x02\x00\x00\x00\x00\x02"
SYN, ACK, PSH = 0x02, 0x10, 0x08


class Pcap:
    def __init__(self, path):
        self.out = open(path, "wb")
        self.out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.t = 1_700_000_000.0
        self.frames = 0

    def packet(self, frame):
        # 10 microseconds apart: every packet of the capture fits in a few seconds.
        self.t += 0.00001
        sec = int(self.t)
        usec = int((self.t - sec) * 1e6)
        self.out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.out.write(frame)
        self.frames += 1

    def close(self):
        self.out.close()


def ipv4(src, dst, proto, payload, ident=0, frag=0):
    """An IPv4 header (no options, checksum left 0: tlsdiag and tshark do not check it)."""
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                       src, dst) + payload


def ether(ip, to_server=True):
    dst, src = (SERVER_MAC, CLIENT_MAC) if to_server else (CLIENT_MAC, SERVER_MAC)
    return dst + src + b"\x08\x00" + ip


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                       flags, 65535, 0, 0) + payload


def client_ip(i):
    return bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 0xFF, i & 0xFF])


def segment(cap, i, seq, ack, flags, payload=b"", to_server=True):
    c = client_ip(i)
    cport = 10000 + i % 50000
    if to_server:
        ip = ipv4(c, SERVER, 6, tcp(cport, 443, seq, ack, flags, payload))
    else:
        ip = ipv4(SERVER, c, 6, tcp(443, cport, seq, ack, flags, payload))
    cap.packet(ether(ip, to_server))


def open_connections(cap, n):
    """Three-way handshakes; returns (client seq, server seq) of each after them."""
    seqs = []
    for i in range(n):
        cs, ss = 1000 + i * 7, 5000 + i * 13
        segment(cap, i, cs, 0, SYN)
        segment(cap, i, ss, cs + 1, SYN | ACK, to_server=False)
        segment(cap, i, cs + 1, ss + 1, ACK)
        seqs.append((cs + 1, ss + 1))
    return seqs


def handshake_stream(kb):
    """A ClientHello announcing about 4 MiB, cut after `kb` KB, in whole 16 KiB records."""
    announced = (4 << 20) - 16
    body = bytearray(b"\x01" + announced.to_bytes(3, "big") + b"\x03\x03" + bytes(range(32)))
    while len(body) < kb * 1024:
        body += bytes((len(body) * 7 + k) & 0xFF for k in range(256))
    body = bytes(body[:kb * 1024])
    out = bytearray()
    for off in range(0, len(body), 16384):
        chunk = body[off:off + 16384]
        out += struct.pack(">BHH", 22, 0x0301, len(chunk)) + chunk
    return bytes(out)


def interleaved(cap, seqs, streams, start_offsets):
    """Sends each connection's stream in MSS segments, round robin over the connections."""
    pos = list(start_offsets)
    while True:
        sent = False
        for i, (cs, ss) in enumerate(seqs):
            data = streams[i]
            if pos[i] >= len(data):
                continue
            chunk = data[pos[i]:pos[i] + MSS]
            segment(cap, i, cs + pos[i], ss, ACK | PSH, chunk)
            pos[i] += len(chunk)
            sent = True
        if not sent:
            return


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["handshake", "ooo", "fragments"])
    p.add_argument("-n", type=int, default=None, help="connections (datagrams for fragments)")
    p.add_argument("--kb", type=int, default=None, help="KB each connection sends")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    cap = Pcap(a.output)
    if a.kind == "handshake":
        n, kb = a.n or 5000, a.kb or 48
        seqs = open_connections(cap, n)
        stream = handshake_stream(kb)
        interleaved(cap, seqs, [stream] * n, [0] * n)
    elif a.kind == "ooo":
        n, kb = a.n or 200, a.kb or 2048
        seqs = open_connections(cap, n)
        # The first segment is never sent: everything after it waits for the hole.
        stream = bytes((k * 31) & 0xFF for k in range(kb * 1024 + MSS))
        interleaved(cap, seqs, [stream] * n, [MSS] * n)
    else:
        n = a.n or 20000
        for i in range(n):
            # Last fragment (MF clear) at offset 65,512 (8,189 units of 8 bytes): nothing else.
            ip = ipv4(client_ip(i), SERVER, 6, b"\xAA" * 8, ident=i & 0xFFFF, frag=8189)
            cap.packet(ether(ip))
    cap.close()
    print(f"{a.output}: {cap.frames} packets")


if __name__ == "__main__":
    main()

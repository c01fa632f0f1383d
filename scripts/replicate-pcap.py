#!/usr/bin/env python3
"""Replicate recorded TCP connections into a large capture for benchmarks.

Reads classic pcap files (Ethernet or Linux SLL, IPv4), and writes their packets again and
again, each copy with a new client address, shifted TCP sequence numbers and later timestamps,
so that every connection of every copy is a distinct conversation with the real bytes of the
original.
Checksums are not recomputed (neither tlsdiag nor tshark verifies them by default).

    scripts/replicate-pcap.py --size 1G -o /tmp/big.pcap captures/tls12-*.pcap
"""
import argparse
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4:
        raise SystemExit(f"{path}: only little-endian microsecond pcap is supported")
    linktype = struct.unpack("<I", data[20:24])[0]
    if linktype not in (1, 113):
        raise SystemExit(f"{path}: link type {linktype} not supported")
    l2 = 14 if linktype == 1 else 16
    packets = []
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        packets.append((sec + usec / 1e6, frame, origlen))
    return linktype, l2, packets


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--size", default="300M", help="target output size (K, M, G suffixes)")
    p.add_argument("--mss", type=int, default=0,
                   help="split TCP payloads into segments of at most MSS bytes, as on an Ethernet "
                        "network (loopback recordings carry up to 64 KB per packet)")
    return p.parse_args()


def segments(frame, l2, t, mss):
    """Splits a TCP packet whose payload exceeds mss into several, fixing lengths and seq."""
    hlen = (frame[t + 12] >> 4) * 4
    payload = frame[t + hlen:]
    if mss <= 0 or len(payload) <= mss:
        return [bytes(frame)]
    head = bytearray(frame[:t + hlen])
    seq = struct.unpack(">I", head[t + 4:t + 8])[0]
    out = []
    for off in range(0, len(payload), mss):
        chunk = payload[off:off + mss]
        h = bytearray(head)
        struct.pack_into(">H", h, l2 + 2, (t - l2) + hlen + len(chunk))
        struct.pack_into(">I", h, t + 4, (seq + off) & 0xFFFFFFFF)
        out.append(bytes(h) + chunk)
    return out


def size_of(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * mult[text[-1].upper()]) if text[-1].upper() in mult else int(text)


def main():
    args = parse_args()
    target = size_of(args.size)
    seeds = [read_pcap(p) for p in args.inputs]
    linktypes = {s[0] for s in seeds}
    if len(linktypes) != 1:
        raise SystemExit("all inputs must have the same link type")
    out = open(args.output, "wb")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktypes.pop()))
    written = 24
    copy = 0
    conns = 0
    # Start at the latest seed's own time (certificates are judged at capture time and some seeds
    # use certificates made just before).
    t0 = max(s[2][0][0] for s in seeds if s[2])
    while written < target:
        for _, l2, packets in seeds:
            copy += 1
            # Each copy gets its own client address 10.x.y.z; each connection of the seed keeps
            # its own client port, so every (copy, connection) is a distinct conversation.
            client_ip = struct.pack(">I", (10 << 24) | (copy % (1 << 24)))
            base = packets[0][0]
            # Copies follow each other in time as in a real capture (time-ordered output).
            span = packets[-1][0] - base
            clients = {}  # connection key -> (client ip+port as seen in the seed, seq shift)
            for ts, frame, origlen in packets:
                if len(frame) < l2 + 20 or frame[l2] >> 4 != 4:
                    continue
                ihl = (frame[l2] & 0x0F) * 4
                t = l2 + ihl
                if frame[l2 + 9] != 6 or len(frame) < t + 20:
                    continue
                f = bytearray(frame)
                src = bytes(f[l2 + 12:l2 + 16]) + bytes(f[t:t + 2])
                dst = bytes(f[l2 + 16:l2 + 20]) + bytes(f[t + 2:t + 4])
                key = (min(src, dst), max(src, dst))
                if key not in clients:
                    # The first packet's sender is the client (SYN, in our recordings).
                    clients[key] = (src, (copy * 2654435761 + len(clients) * 40503) & 0xFFFFFFFF)
                client, seq_shift = clients[key]
                from_client = src == client
                ip_at = l2 + 12 if from_client else l2 + 16
                f[ip_at:ip_at + 4] = client_ip
                seq, ack = struct.unpack(">II", f[t + 4:t + 12])
                if from_client:
                    seq = (seq + seq_shift) & 0xFFFFFFFF
                elif f[t + 13] & 0x10:
                    ack = (ack + seq_shift) & 0xFFFFFFFF
                f[t + 4:t + 12] = struct.pack(">II", seq, ack)
                when = t0 + copy * (span + 1.0) + (ts - base)
                sec = int(when)
                usec = int((when - sec) * 1e6)
                for piece in segments(f, l2, t, args.mss):
                    out.write(struct.pack("<IIII", sec, usec, len(piece), len(piece)))
                    out.write(piece)
                    written += 16 + len(piece)
            conns += len(clients)
            if written >= target:
                break
    out.close()
    print(f"{args.output}: {written} bytes, {conns} connections", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write a classic pcap of N SYN-only TCP flows: what a port scan looks like to tlsdiag.

Every flow is one SYN (no answer) from a distinct source address and port to one destination
(or, with --spread, to one of many destinations and ports). Timestamps increase by --gap
microseconds per packet (1 by default: 1,000,000 flows in one second); with --hours H the
flows are spread evenly over H hours instead, so idle sweeps run while the file is read.
Checksums are left at zero (neither tlsdiag nor tshark verifies them by default).

    scripts/make-syn-scan.py -n 1000000 -o /tmp/syn-1M.pcap
    scripts/make-syn-scan.py -n 1000000 --hours 6 --spread -o /tmp/syn-1M-6h.pcap
"""
import argparse
import struct


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--flows", type=int, default=1_000_000)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--gap", type=float, default=1.0, help="microseconds between packets")
    p.add_argument("--hours", type=float, default=0.0,
                   help="spread the flows evenly over this many hours (overrides --gap)")
    p.add_argument("--spread", action="store_true",
                   help="destinations spread over 10.1.0.0/16 and ports 1-1024, not one server")
    p.add_argument("--start", type=int, default=1_700_000_000, help="first timestamp (Unix s)")
    return p.parse_args()


def main():
    args = parse_args()
    n = args.flows
    gap_us = args.hours * 3600e6 / max(n, 1) if args.hours > 0 else args.gap
    out = open(args.output, "wb", buffering=1 << 20)
    # Little-endian, microsecond pcap, Ethernet.
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    rec = struct.Struct("<IIII")
    ip = struct.Struct(">BBHHHBBH4s4s")
    tcp = struct.Struct(">HHIIBBHHH")
    start_us = args.start * 1_000_000
    chunk = []
    for i in range(n):
        # Source: 10.0.0.0/8 less its first /16 (the destinations), ports 1024-65023.
        src_port = 1024 + i % 64000
        host = i // 64000 + 1
        src = bytes((10, 128 + (host >> 16) % 128, (host >> 8) & 0xFF, host & 0xFF))
        if args.spread:
            d = i * 2654435761 % 65536
            dst = bytes((10, 1, d >> 8, d & 0xFF))
            dst_port = 1 + i * 40503 % 1024
        else:
            dst = bytes((10, 1, 0, 1))
            dst_port = 443
        seq = (i * 2654435761 + 12345) & 0xFFFFFFFF
        t = tcp.pack(src_port, dst_port, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
        h = ip.pack(0x45, 0, 20 + len(t), i & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
        frame = eth + h + t
        ts = start_us + int(i * gap_us)
        chunk.append(rec.pack(ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
        chunk.append(frame)
        if len(chunk) >= 8192:
            out.write(b"".join(chunk))
            chunk.clear()
    out.write(b"".join(chunk))
    out.close()


if __name__ == "__main__":
    main()

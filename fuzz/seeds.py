#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the repository's captures (not committed).

    python3 fuzz/seeds.py            # writes fuzz/corpus/<target>/

capture, capture_keys: every capture file of captures/ up to 256 KiB.
tls_session, http: the TCP payloads of each classic pcap, per connection, in packet order,
    as chunks [2-byte header: bit 15 direction, low 14 bits length][bytes].
certificate: the certificates of captures/pki (PEM to DER).
keylog: the key logs of captures/.
"""
import base64
import hashlib
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
OUT = ROOT / "fuzz" / "corpus"


def put(target, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def packets(path):
    """(linktype, bytes) of each packet of a classic little- or big-endian pcap."""
    b = path.read_bytes()
    if len(b) < 24:
        return
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return
    linktype = struct.unpack(e + "I", b[20:24])[0] & 0xFFFF
    at = 24
    while at + 16 <= len(b):
        caplen = struct.unpack(e + "I", b[at + 8 : at + 12])[0]
        yield linktype, b[at + 16 : at + 16 + caplen]
        at += 16 + caplen


def ip_of(linktype, p):
    if linktype == 1:
        kind, rest = struct.unpack(">H", p[12:14])[0] if len(p) >= 14 else 0, p[14:]
        while kind == 0x8100 and len(rest) >= 4:
            kind, rest = struct.unpack(">H", rest[2:4])[0], rest[4:]
        return rest if kind in (0x0800, 0x86DD) else None
    if linktype in (101, 228, 229, 12, 14):
        return p
    if linktype == 113:
        return p[16:]
    if linktype == 0:
        return p[4:]
    return None


def tcp_of(ip):
    if not ip:
        return None
    if ip[0] >> 4 == 4 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        src, dst, l4 = ip[12:16], ip[16:20], ip[ihl:total]
    elif ip[0] >> 4 == 6 and len(ip) >= 40 and ip[6] == 6:
        src, dst, l4 = ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    if len(l4) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", l4[:8])
    off = (l4[12] >> 4) * 4
    return (src, sport), (dst, dport), seq, l4[off:]


def sessions(path):
    conns = {}
    for linktype, p in packets(path):
        t = tcp_of(ip_of(linktype, p))
        if not t or not t[3]:
            continue
        a, b, seq, payload = t
        key = tuple(sorted([a, b]))
        c = conns.setdefault(key, {"first": a, "seen": set(), "out": bytearray()})
        if (a, seq) in c["seen"]:
            continue
        c["seen"].add((a, seq))
        d = 0 if a == c["first"] else 1
        for i in range(0, len(payload), 0x3FFF):
            chunk = payload[i : i + 0x3FFF]
            c["out"] += struct.pack(">H", d << 15 | len(chunk)) + chunk
    return [bytes(c["out"]) for c in conns.values()]


def main():
    files = sorted(p for p in CAPTURES.rglob("*") if p.is_file())
    for p in files:
        name = p.name
        if name.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.zst", ".gz", ".zst")):
            if p.stat().st_size <= 256 * 1024:
                data = p.read_bytes()
                put("capture", data)
                put("capture_keys", data)
            if name.endswith(".pcap"):
                for s in sessions(p):
                    if 0 < len(s) <= 256 * 1024:
                        put("tls_session", s)
                        put("http", s)
        elif name.endswith(".keys"):
            put("keylog", p.read_bytes())
        elif name.endswith(".pem"):
            text = p.read_text(errors="replace")
            for block in text.split("-----BEGIN CERTIFICATE-----")[1:]:
                body = block.split("-----END CERTIFICATE-----")[0]
                put("certificate", base64.b64decode("".join(body.split())))
    for d in sorted(OUT.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()

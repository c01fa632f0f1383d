#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the repository's captures (not committed).

    python3 fuzz/seeds.py            # writes fuzz/corpus/<target>/

capture, capture_keys: every capture file of captures/ up to 256 KiB.
capture_chunks: the same uncompressed, each after two bytes choosing chunks of 100 bytes (the
    size is mutated with the rest).
tls_session, http: the TCP payloads of each classic pcap, per connection, in packet order,
    as chunks [2-byte header: bit 15 direction, low 14 bits length][bytes].
certificate: the certificates of captures/pki (PEM to DER).
keylog: the key logs of captures/.
kerberos: from captures/kerberos/*.pcap, each UDP payload on port 88, each direction of each TCP
    connection on port 88 (4-byte length framing included), and each HTTP Negotiate token
    (base64-decoded).
iislog: the IIS logs of captures/iislogs/.
schannel: the Schannel exports of captures/schannel/ (XML, CSV), and each again as UTF-16LE with
    a byte order mark (what Export-Csv -Encoding Unicode writes).
serverkey: the key files of captures/serverkey/ (PEM, encrypted PEM, DER, PFX) and its pki/*.key.
trust: the trust stores of captures/serverkey/trust/ (PEM, DER, PKCS#7, 300-CA bundle), the
    PEMs of captures/pki/, and a Microsoft serialized store built like the one of
    src/trust.rs's unit test (the root and intermediate DER between property records).
"""
import base64
import hashlib
import pathlib
import re
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


def udp_of(ip):
    """(source port, destination port, payload) of an IPv4 or IPv6 UDP packet."""
    if not ip:
        return None
    if ip[0] >> 4 == 4 and len(ip) >= 20 and ip[9] == 17:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        l4 = ip[ihl:total]
    elif ip[0] >> 4 == 6 and len(ip) >= 40 and ip[6] == 17:
        l4 = ip[40:]
    else:
        return None
    if len(l4) < 8:
        return None
    sport, dport = struct.unpack(">HH", l4[:4])
    return sport, dport, l4[8:]


def kerberos_seeds(path):
    """Port 88 UDP payloads, port 88 TCP streams per direction, and Negotiate tokens."""
    out = []
    streams = {}
    for linktype, p in packets(path):
        ip = ip_of(linktype, p)
        u = udp_of(ip)
        if u and 88 in u[:2] and u[2]:
            out.append(u[2])
        t = tcp_of(ip)
        if t and t[3] and 88 in (t[0][1], t[1][1]):
            s = streams.setdefault((t[0], t[1]), {"seen": set(), "out": bytearray()})
            if t[2] not in s["seen"]:
                s["seen"].add(t[2])
                s["out"] += t[3]
    out += [bytes(s["out"]) for s in streams.values()]
    for m in re.finditer(rb"Negotiate ([A-Za-z0-9+/]+=*)", path.read_bytes()):
        try:
            out.append(base64.b64decode(m.group(1)))
        except ValueError:
            pass
    return out


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
                if not name.endswith((".gz", ".zst")):
                    put("capture_chunks", struct.pack("<H", 99) + data)
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
    for p in sorted((CAPTURES / "kerberos").glob("*.pcap")):
        for seed in kerberos_seeds(p):
            if 0 < len(seed) <= 256 * 1024:
                put("kerberos", seed)
    for p in sorted((CAPTURES / "iislogs").glob("*.log")):
        put("iislog", p.read_bytes())
    for p in sorted((CAPTURES / "schannel").glob("*.[xc][ms][lv]")):
        text = p.read_bytes()
        put("schannel", text)
        put("schannel", b"\xff\xfe" + text.decode("utf-8").encode("utf-16-le"))
    serverkey = CAPTURES / "serverkey"
    for p in sorted(serverkey.glob("*.pem")) + sorted(serverkey.glob("*.der")):
        put("serverkey", p.read_bytes())
    for p in sorted(serverkey.glob("*.pfx")) + sorted((serverkey / "pki").glob("*.key")):
        put("serverkey", p.read_bytes())
    trust = serverkey / "trust"
    for p in sorted(trust.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.suffix in (".pem", ".der", ".p7b"):
            put("trust", p.read_bytes())
    for p in sorted((CAPTURES / "pki").glob("*.pem")):
        put("trust", p.read_bytes())
    root = (trust / "root.der").read_bytes()
    inter_pem = (serverkey / "pki" / "inter.pem").read_text()
    inter = base64.b64decode("".join(inter_pem.split("-----")[2].split()))
    sst = b"\0\0\0\0CERT\x20\0\0\0\x01\0\0\0" + root
    sst += b"\x30\x82\xff\xff\x20\0\0\0" + inter + b"\0" * 12
    put("trust", sst)
    for d in sorted(OUT.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()

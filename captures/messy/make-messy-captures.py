#!/usr/bin/env python3
"""Synthetic "messy traffic" captures for tlsdiag (Python + scapy writer).

The TLS bytes are real: they are the TCP payloads of captures made by
captures/make-captures.sh with openssl s_server/s_client on loopback
(tls12-cr-small.pcap, tls13-cr-small.pcap).  Only the packet headers
(addresses, ports, sequence numbers, segmentation, tunnels, fragments,
file-format damage) are written here.  Those source files are only read.

Run:  python3 captures/messy/make-messy-captures.py     (needs scapy, tshark, editcap, zstd)
Writes the captures next to this script, then facts.tsv (from tshark).
"""
import gzip
import os
import struct
import subprocess
import sys

try:
    from scapy.all import (Ether, IP, IPv6, TCP, UDP, Raw, rdpcap, wrpcap,
                           fragment6, IPv6ExtHdrFragment)
    from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "scapy"])
    from scapy.all import (Ether, IP, IPv6, TCP, UDP, Raw, rdpcap, wrpcap,
                           fragment6, IPv6ExtHdrFragment)
    from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)            # captures/
T0 = 1767225600.0                      # 2026-01-01 00:00:00 UTC, fixed for reproducibility

C_IP, S_IP = "192.0.2.10", "192.0.2.20"
C6_IP, S6_IP = "2001:db8:10::10", "2001:db8:20::20"
SPORT = 443
SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]


def out(name):
    return os.path.join(HERE, name)


# ------------------------------------------------------------------ source bytes
def app_events(path):
    """[(dir 'c'|'s', payload)] of the one TCP connection in a source capture."""
    pk = rdpcap(path)
    syn = next(p for p in pk if TCP in p and p[TCP].flags.S and not p[TCP].flags.A)
    cli = (syn[IP].src, syn[TCP].sport)
    ev = []
    for p in pk:
        if TCP in p and len(p[TCP].payload):
            d = "c" if (p[IP].src, p[TCP].sport) == cli else "s"
            ev.append((d, bytes(p[TCP].payload)))
    return ev


TLS12 = app_events(os.path.join(SRC, "tls12-cr-small.pcap"))
TLS13 = app_events(os.path.join(SRC, "tls13-cr-small.pcap"))


# ------------------------------------------------------------------ writer
class Trace:
    def __init__(self):
        self.pkts = []
        self.t = T0

    def add(self, p, dt=0.0005):
        self.t += dt
        p.time = self.t
        self.pkts.append(p)
        return p

    def wait(self, s):
        self.t += s

    def write(self, name):
        wrpcap(out(name), self.pkts, linktype=1)


class Conn:
    """One TCP connection; tracks next sequence numbers of both sides."""

    def __init__(self, tr, cport, cisn, sisn, cip=C_IP, sip=S_IP, v6=False, sport=SPORT):
        self.tr, self.cport, self.sport = tr, cport, sport
        self.cip, self.sip, self.v6 = cip, sip, v6
        self.cnxt, self.snxt = cisn, sisn

    def pkt(self, frm, flags, payload=b"", seq=None, ack=None, opts=None):
        if frm == "c":
            src, dst, sp, dp = self.cip, self.sip, self.cport, self.sport
            dseq, dack = self.cnxt, self.snxt
        else:
            src, dst, sp, dp = self.sip, self.cip, self.sport, self.cport
            dseq, dack = self.snxt, self.cnxt
        seq = dseq if seq is None else seq
        ack = (dack if "A" in flags else 0) if ack is None else ack
        l3 = IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst, flags="DF")
        p = Ether(src="02:00:00:00:00:0a" if frm == "c" else "02:00:00:00:00:14",
                  dst="02:00:00:00:00:14" if frm == "c" else "02:00:00:00:00:0a") / l3 / \
            TCP(sport=sp, dport=dp, flags=flags, seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF,
                window=502, options=opts or [])
        if payload:
            p = p / Raw(payload)
        return p

    def send(self, frm, flags, payload=b"", dt=0.0005, advance=True, **kw):
        p = self.tr.add(self.pkt(frm, flags, payload, **kw), dt)
        if advance and kw.get("seq") is None:
            n = len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
            if frm == "c":
                self.cnxt += n
            else:
                self.snxt += n
        return p

    def handshake(self):
        self.send("c", "S", opts=SYN_OPTS)
        self.send("s", "SA", opts=SYN_OPTS)
        self.send("c", "A")

    def data(self, events, seg=None):
        for d, pl in events:
            cuts = [0] + list(range(seg, len(pl), seg)) + [len(pl)] if seg else [0, len(pl)]
            for a, b in zip(cuts, cuts[1:]):
                self.send(d, "PA", pl[a:b])
            self.send("s" if d == "c" else "c", "A")

    def close(self):
        self.send("s", "FA")
        self.send("c", "FA")
        self.send("s", "A")


def full_conn(tr, cport, cisn, sisn, events=TLS12, close=True):
    c = Conn(tr, cport, cisn, sisn)
    c.handshake()
    c.data(events)
    if close:
        c.close()
    return c


# ------------------------------------------------------------------ 1. SYN reuse rules
def syn_cases():
    X = 0x1A2B3C4D
    # middlebox bare ACK, client RST, same SYN 3 s later
    tr = Trace()
    c = Conn(tr, 50001, X, 0x5E5E0000)
    c.send("c", "S", opts=SYN_OPTS)
    mb_ack = 0x77770000
    c.send("s", "A", seq=0x0BADF00D, ack=mb_ack, dt=0.002)           # stray ACK from middlebox
    c.send("c", "R", seq=mb_ack, ack=0, dt=0.0001)                    # RFC 793: RST seq = SEG.ACK
    c.cnxt = X
    tr.wait(3.0)
    c.handshake()
    c.data(TLS12)
    c.close()
    tr.wait(0.5)
    full_conn(tr, 50002, 0x22220000, 0x33330000, TLS13)
    tr.write("syn-retrans-after-rst.pcap")

    # variant: the middlebox answers the SYN with RST/ACK; client re-SYNs 3 s later (same ISN)
    tr = Trace()
    c = Conn(tr, 50001, X, 0x5E5E0000)
    c.send("c", "S", opts=SYN_OPTS)
    c.send("s", "RA", seq=0, ack=X + 1, dt=0.002)
    c.cnxt = X
    tr.wait(3.0)
    c.handshake()
    c.data(TLS12)
    c.close()
    tr.wait(0.5)
    full_conn(tr, 50002, 0x22220000, 0x33330000, TLS13)
    tr.write("syn-retrans-after-mbrst.pcap")

    # control: plain SYN retransmission (no answer for 1 s), same ISN
    tr = Trace()
    c = Conn(tr, 50001, X, 0x5E5E0000)
    c.send("c", "S", opts=SYN_OPTS)
    c.cnxt = X
    tr.wait(1.0)
    c.handshake()
    c.data(TLS12)
    c.close()
    tr.wait(0.5)
    full_conn(tr, 50002, 0x22220000, 0x33330000, TLS13)
    tr.write("syn-retrans-plain.pcap")

    # port reuse after FIN/FIN close, new ISN / same ISN
    for name, isn2 in (("syn-new-isn-after-close.pcap", 0x4C000000),
                       ("syn-same-isn-after-close.pcap", X)):
        tr = Trace()
        full_conn(tr, 50001, X, 0x5E5E0000, TLS12)
        tr.wait(2.0)
        full_conn(tr, 50001, isn2, 0x6F6F0000, TLS13)
        tr.wait(0.5)
        full_conn(tr, 50002, 0x22220000, 0x33330000, TLS12)
        tr.write(name)

    # new ISN while the old conversation is still open (no FIN/RST)
    tr = Trace()
    c = Conn(tr, 50001, X, 0x5E5E0000)
    c.handshake()
    c.data(TLS12[:2])                      # ClientHello + server flight, then silence
    tr.wait(2.0)
    full_conn(tr, 50001, 0x4C000000, 0x6F6F0000, TLS13)
    tr.wait(0.5)
    full_conn(tr, 50002, 0x22220000, 0x33330000, TLS12)
    tr.write("syn-new-isn-no-close.pcap")


# ------------------------------------------------------------------ 2. several SYN-ACKs
def multi_synack():
    tr = Trace()
    X = 0x10000000
    c = Conn(tr, 50010, X, 0)
    c.send("c", "S", opts=SYN_OPTS)
    c.send("s", "SA", seq=0xC00C1E00, ack=X + 1, dt=0.0002)                   # SYN-cookie box
    c.send("s", "SA", seq=0x0A0B0C0D, ack=X + 1, opts=[("MSS", 1380)], dt=0.0003)  # 2nd middlebox
    c.snxt = 0x7E570000
    c.send("s", "SA", opts=SYN_OPTS, dt=0.004)                                # real server
    c.send("c", "A")
    c.data(TLS12)
    c.close()
    tr.wait(0.5)
    full_conn(tr, 50011, 0x22220000, 0x33330000, TLS13)
    tr.write("multi-synack.pcap")


# ------------------------------------------------------------------ 3. capture gap
def gap_case(name, cuts, missing):
    """Server flight of TLS12 cut at `cuts`; segment index `missing` not captured.
    The client ACKs the missing bytes before the next server segment is seen."""
    tr = Trace()
    c = Conn(tr, 50020, 0x01010101, 0x02020202)
    c.handshake()
    c.data(TLS12[:1])                                     # ClientHello
    flight = TLS12[1][1]
    bounds = [0] + cuts + [len(flight)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if i == missing:
            c.snxt += b - a                               # sent, but not in the capture
        else:
            c.send("s", "PA", flight[a:b])
        c.send("c", "A", dt=0.0002)                       # client ACK after each segment
    c.data(TLS12[2:])
    c.close()
    tr.write(name)


# ------------------------------------------------------------------ 5. GTP-U
def inner_packets(v6):
    tr = Trace()
    ip = ("2001:db8:1e::2", "2001:db8:cafe::443") if v6 else ("10.45.0.2", "198.51.100.44")
    c = Conn(tr, 50030, 0x31313131, 0x32323232, cip=ip[0], sip=ip[1], v6=v6)
    c.handshake()
    c.data(TLS12)
    c.close()
    return tr.pkts


def gtpu(name, v6=False, ext=False):
    pk = []
    for p in inner_packets(v6):
        inner = p.payload                   # drop the Ether header
        up = (p[TCP].sport == 50030)
        src, dst = ("10.0.0.1", "10.0.0.2") if up else ("10.0.0.2", "10.0.0.1")
        teid = 0x00001001 if up else 0x00002002
        if ext:
            g = GTP_U_Header(E=1, teid=teid, gtp_type=255, next_ex=0x85) / \
                GTPPDUSessionContainer(type=1 if up else 0, QFI=9, NextExtHdr=0)
        else:
            g = GTP_U_Header(teid=teid, gtp_type=255)
        q = Ether(src="02:00:00:00:01:01", dst="02:00:00:00:01:02") / IP(src=src, dst=dst) / \
            UDP(sport=2152, dport=2152) / g / inner
        q = Ether(bytes(q))                  # fix lengths/checksums
        q.time = p.time
        pk.append(q)
    wrpcap(out(name), pk, linktype=1)


# ------------------------------------------------------------------ 7. IPv6 fragments
def ipv6_frag():
    tr = Trace()
    c = Conn(tr, 50040, 0x41414141, 0x42424242, cip=C6_IP, sip=S6_IP, v6=True)
    c.handshake()
    c.data(TLS12)
    c.close()
    pk = []
    for p in tr.pkts:
        pl = len(p[TCP].payload)
        if pl not in (1518, 1252):
            pk.append(p)
            continue
        fid = 0x5151 if pl == 1518 else 0x6262
        base = Ether(bytes(p))          # compute TCP checksum before fragmenting
        l3 = base[IPv6]
        frs = fragment6(IPv6(src=l3.src, dst=l3.dst) / IPv6ExtHdrFragment(id=fid) /
                        l3.payload, 600)
        frs = [Ether(src=base.src, dst=base.dst) / f for f in frs]
        if pl == 1518:                  # server flight: 2nd fragment first, duplicate of the 1st
            order = [frs[1], frs[0], frs[0].copy(), frs[2]]
        else:                           # client flight: in order
            order = frs
        for i, f in enumerate(order):
            f = Ether(bytes(f))
            f.time = p.time + i * 0.0001
            pk.append(f)
    wrpcap(out("ipv6-frag-tls.pcap"), pk, linktype=1)


# ------------------------------------------------------------------ 8. damaged files
def damaged():
    src = os.path.join(SRC, "tls12-cr-small.pcap")
    raw = open(src, "rb").read()
    gz = gzip.compress(raw, mtime=0)
    open(out("truncated.pcap.gz"), "wb").write(gz[: len(gz) // 2])

    ng = out("tmp-src.pcapng")
    subprocess.check_call(["editcap", "-F", "pcapng", src, ng])
    ngb = open(ng, "rb").read()
    # several independent zstd frames (1 KiB of pcapng each), cut inside the 4th frame
    frames = []
    for i in range(0, len(ngb), 1024):
        frames.append(subprocess.run(["zstd", "-19", "-q", "-c", "-"], input=ngb[i:i + 1024],
                                     capture_output=True, check=True).stdout)
    zs = b"".join(frames[:3]) + frames[3][: len(frames[3]) // 2]
    open(out("truncated.pcapng.zst"), "wb").write(zs)

    # walk the blocks, inflate the total length of the 8th EPB (after 7 good packets)
    blocks, off = [], 0
    while off < len(ngb):
        btype, blen = struct.unpack_from("<II", ngb, off)
        blocks.append((off, btype, blen))
        off += blen
    epbs = [b for b in blocks if b[1] == 6]
    boff, _, blen = epbs[7]
    bad = bytearray(ngb)
    struct.pack_into("<I", bad, boff + 4, blen + 0x10000)
    open(out("corrupt-block-length.pcapng"), "wb").write(bytes(bad))
    with open(out("corrupt-block-length.info"), "w") as f:
        f.write("bad_block_offset=%d packets_before=7 declared_len=%d real_len=%d file_len=%d\n"
                % (boff, blen + 0x10000, blen, len(ngb)))
    os.unlink(ng)

    # extreme if_tsoffset: section 1 (+2^62-1 s) carries the TLS1.2 connection,
    # section 2 (-2^62 s) the TLS1.3 connection.
    def opt(code, val):
        pad = (-len(val)) % 4
        return struct.pack("<HH", code, len(val)) + val + b"\0" * pad

    def block(btype, body):
        blen = 12 + len(body)
        return struct.pack("<II", btype, blen) + body + struct.pack("<I", blen)

    def shb():
        return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))

    def idb(tsoff, name):
        opts = opt(2, name.encode()) + opt(14, struct.pack("<q", tsoff)) + opt(0, b"")
        return block(1, struct.pack("<HHI", 1, 0, 0) + opts)

    def epb(p, t):
        d = bytes(p)
        us = int(round(t * 1e6))
        body = struct.pack("<IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(d), len(d)) + d
        body += b"\0" * ((-len(d)) % 4)
        return block(6, body)

    def conn_pkts(ev, cport, base):
        tr = Trace()
        tr.t = base
        full_conn(tr, cport, 0x51515151, 0x52525252, ev)
        return tr.pkts

    data = shb() + idb(2 ** 62 - 1, "tsoffset-plus-2^62")
    for p in conn_pkts(TLS12, 50050, 1.0):
        data += epb(p, p.time)
    data += shb() + idb(-(2 ** 62), "tsoffset-minus-2^62")
    for p in conn_pkts(TLS13, 50051, 2.0):
        data += epb(p, p.time)
    open(out("extreme-tsoffset.pcapng"), "wb").write(data)

    # classic pcap, timestamps 0xFFFFFFFF s and 0 s mixed (alternating)
    tr = Trace()
    full_conn(tr, 50052, 0x61616161, 0x62626262, TLS12)
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    body = b""
    for i, p in enumerate(tr.pkts):
        d = bytes(p)
        sec = 0xFFFFFFFF if i % 2 == 0 else 0
        body += struct.pack("<IIII", sec, i, len(d), len(d)) + d
    open(out("extreme-ts-pcap.pcap"), "wb").write(hdr + body)


# ------------------------------------------------------------------ 9. mid-stream
def midstream():
    tr = Trace()
    full_conn(tr, 50060, 0x71717171, 0x72727272, TLS12)
    wrpcap(out("midstream-clienthello.pcap"), tr.pkts[2:], linktype=1)  # no SYN, SYN-ACK
    # drop SYN, SYN-ACK, ACK, ClientHello and its ACK: starts with the server flight
    wrpcap(out("midstream-real.pcap"), tr.pkts[5:], linktype=1)


# ------------------------------------------------------------------ facts.tsv
EXTRA = {}
FIELDS = ["frame.number", "tcp.stream", "tcp.flags.str", "tcp.seq_raw", "tcp.len",
          "tls.record.content_type", "tls.handshake.type", "http.response.code",
          "websocket.opcode", "openvpn.opcode", "_ws.expert.message"]


def keys():
    """Key log for the TLS bytes reused here (both source connections)."""
    with open(out("messy.keys"), "w") as f:
        for k in ("tls12-cr-small.keys", "tls13-cr-small.keys"):
            f.write(open(os.path.join(SRC, k)).read())


def facts():
    keys()
    files = sorted(f for f in os.listdir(HERE)
                   if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.zst")))
    rows = ["\t".join(["file"] + FIELDS + ["tshark_exit"])]
    for f in files:
        cmd = ["tshark", "-r", f, "-n", "-o", "tls.keylog_file:messy.keys"]   # otherwise tshark defaults
        if f.startswith("openvpn-"):
            cmd += ["-d", "tcp.port==1194,openvpn"]
        cmd += ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
        for x in FIELDS:
            cmd += ["-e", x]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
        err = r.stderr.strip().splitlines()
        err = [e for e in err if "Running as user" not in e]
        for line in r.stdout.splitlines():
            rows.append(f + "\t" + line.replace("\u00b7", ".") + "\t")
        rows.append(f + "\t#end\t" + "\t" * (len(FIELDS) - 1) + "rc=%d %s" % (r.returncode, " | ".join(err)[:200]))
    open(out("facts.tsv"), "w").write("\n".join(rows) + "\n")


def main():
    syn_cases()
    multi_synack()
    # gap in the middle of the Certificate; SKE completed by two segments after the gap
    gap_case("gap-then-message.pcap", [300, 700, 1250, 1400], missing=1)
    # gap removes exactly the Certificate record; next segment starts on a record boundary
    gap_case("gap-record-aligned.pcap", [98, 1173, 1300], missing=1)
    gtpu("gtpu-tls.pcap")
    gtpu("gtpu-ext-tls.pcap", ext=True)
    gtpu("gtpu-ipv6-tls.pcap", v6=True)
    ipv6_frag()
    damaged()
    midstream()
    if "--no-facts" not in sys.argv:
        facts()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Recover the TLS (<= 1.2, RSA key exchange) pre-master secrets of a capture with the
server's RSA private key, independently of tshark's own RSA decryption:

  * tshark (no keys) extracts the client random (ClientHello) and the encrypted
    pre-master (ClientKeyExchange, tls.handshake.epms) of every plaintext handshake;
  * Python `cryptography` decrypts the encrypted pre-master (RSAES-PKCS1-v1_5);
  * writes two NSS key logs: `RSA <first 8 bytes of EPMS> <PMS>` and
    `PMS_CLIENT_RANDOM <client random> <PMS>`.

If the NSS key log of the client (CLIENT_RANDOM lines) is given and the connection did not
negotiate extended_master_secret, the master secret is derived with the TLS 1.2 PRF
(SHA-256) and compared with the client's.
"""
import argparse
import hashlib
import hmac
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding


def tshark_rows(pcap):
    cmd = ["tshark", "-r", pcap, "-Y", "tls.handshake.type == 1 or tls.handshake.type == 2 or tls.handshake.type == 16", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
           "-e", "tcp.stream", "-e", "tls.handshake.type", "-e", "tls.handshake.random",
           "-e", "tls.handshake.epms", "-e", "tls.handshake.extension.type"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = (line.split("\t") + [""] * 5)[:5]
        yield cols[0], cols[1].split(","), cols[2].split(","), cols[3], cols[4].split(",")


def handshake_messages(pcap):
    """Plaintext handshake messages per (tcp.stream, source port), in order, up to the first
    ChangeCipherSpec, from the raw TCP payloads (own record parser; no retransmissions on lo)."""
    cmd = ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-E", "separator=\t",
           "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.payload"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    data = {}
    for line in out.splitlines():
        st, port, payload = line.split("\t")
        data.setdefault((st, port), bytearray()).extend(bytes.fromhex(payload.replace(":", "")))
    msgs = {}
    for k, b in data.items():
        hs, i = bytearray(), 0
        while i + 5 <= len(b):
            ctype, ln = b[i], int.from_bytes(b[i + 3:i + 5], "big")
            if ctype == 20:
                break
            if ctype == 22:
                hs += b[i + 5:i + 5 + ln]
            i += 5 + ln
        lst, j = [], 0
        while j + 4 <= len(hs):
            ln = int.from_bytes(hs[j + 1:j + 4], "big")
            lst.append(bytes(hs[j:j + 4 + ln]))
            j += 4 + ln
        msgs[k] = lst
    return msgs


def prf_sha256(secret, label, seed, n):
    out, a = b"", label + seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + label + seed, hashlib.sha256).digest()
    return out[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--nss")
    ap.add_argument("--rsa-out", required=True)
    ap.add_argument("--pms-out", required=True)
    a = ap.parse_args()
    key = serialization.load_pem_private_key(open(a.key, "rb").read(), password=None)
    streams = {}
    for stream, types, randoms, epms, exts in tshark_rows(a.pcap):
        s = streams.setdefault(stream, {})
        if "1" in types:
            s["cr"] = randoms[0]
        if "2" in types:
            s["sr"] = randoms[0]
            s["ems"] = "23" in exts
        if "16" in types and epms:
            s["epms"] = epms.replace(":", "")
    nss = {}
    if a.nss:
        for line in open(a.nss):
            p = line.split()
            if len(p) == 3 and p[0] == "CLIENT_RANDOM":
                nss[p[1].lower()] = p[2].lower()
    rsa_lines, pms_lines = [], []
    for stream, s in sorted(streams.items()):
        if "epms" not in s:
            continue
        epms = bytes.fromhex(s["epms"])
        pms = key.decrypt(epms, padding.PKCS1v15())
        assert len(pms) == 48, "pre-master is %d bytes" % len(pms)
        print("stream %s: EPMS %d bytes -> PMS 48 bytes, client_version %s" %
              (stream, len(epms), pms[:2].hex()), file=sys.stderr)
        rsa_lines.append("RSA %s %s" % (epms[:8].hex(), pms.hex()))
        pms_lines.append("PMS_CLIENT_RANDOM %s %s" % (s["cr"], pms.hex()))
        if nss and s.get("sr") and not s.get("ems"):
            ms = prf_sha256(pms, b"master secret", bytes.fromhex(s["cr"]) + bytes.fromhex(s["sr"]), 48)
            ok = nss.get(s["cr"]) == ms.hex()
            print("stream %s: master secret from PMS %s the client's key log" %
                  (stream, "MATCHES" if ok else "DIFFERS FROM"), file=sys.stderr)
            if not ok:
                sys.exit(1)
        elif nss and s.get("ems"):
            # RFC 7627: session_hash = Hash(ClientHello .. ClientKeyExchange)
            hm = handshake_messages(a.pcap)
            side = [v for (st, _), v in hm.items() if st == stream]
            cli = next(v for v in side if v and v[0][0] == 1)
            srv = next(v for v in side if v and v[0][0] == 2)
            seq = [cli[0]] + srv
            for m in cli[1:]:
                seq.append(m)
                if m[0] == 16:
                    break
            sh = hashlib.sha256(b"".join(seq)).digest()
            ms = prf_sha256(pms, b"extended master secret", sh, 48)
            ok = nss.get(s["cr"]) == ms.hex()
            print("stream %s: extended master secret from PMS + session hash of %d messages %s "
                  "the client's key log" % (stream, len(seq), "MATCHES" if ok else "DIFFERS FROM"),
                  file=sys.stderr)
            if not ok:
                sys.exit(1)
    if not rsa_lines:
        sys.exit("no RSA ClientKeyExchange found")
    with open(a.rsa_out, "w") as f:
        f.write("\n".join(rsa_lines) + "\n")
    with open(a.pms_out, "w") as f:
        f.write("\n".join(pms_lines) + "\n")


if __name__ == "__main__":
    main()

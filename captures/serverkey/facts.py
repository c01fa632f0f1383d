#!/usr/bin/env python3
"""tshark facts of the captures in captures/serverkey (written for README.md).

For each X.pcap: tshark runs without keys, with the server's RSA key
(-o uat:rsa_keys), with the client's NSS key log X.keys, and with an unrelated RSA key.
The events (handshake messages, alerts, HTTP) come from the key-log run; a message that
is not visible without keys is marked "(enc)" (it travelled encrypted, e.g. a
renegotiation inside the TLS session). It also checks which key FILE formats tshark itself
accepts for the RSA key (on rsa-kx-tls12-gcm.pcap).

Usage: facts.py --dir D --key server-key.pkcs8.pem --other-key other-key.pem --json F --md F
"""
import argparse
import collections
import glob
import json
import os
import subprocess

HS = {0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
      8: "encrypted_extensions", 11: "certificate", 12: "server_key_exchange",
      13: "certificate_request", 14: "server_hello_done", 15: "certificate_verify",
      16: "client_key_exchange", 20: "finished", 24: "key_update"}
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
          40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
          44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
          47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
          51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
          80: "internal_error", 90: "user_canceled", 100: "no_renegotiation",
          109: "missing_extension", 116: "certificate_required"}
SUITES = {0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256", 0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
          0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA", 0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
          0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384",
          0x1303: "TLS_CHACHA20_POLY1305_SHA256"}
FIELDS = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.type",
          "tls.handshake.certificates_length", "tls.alert_message.level",
          "tls.alert_message.desc", "http.request.method", "http.request.uri",
          "http.response.code", "tls.handshake.ciphersuite", "tls.record.version"]


def tshark(pcap, opts, flt="tls or http"):
    cmd = ["tshark", "-r", pcap] + opts + ["-Y", flt, "-T", "fields", "-E", "separator=\t",
                                           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        c = dict(zip(FIELDS, (line.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]))
        rows.append({k: ([x for x in v.split(",") if x] if k not in ("frame.number", "tcp.stream",
                     "tcp.srcport", "tcp.dstport") else v) for k, v in c.items()})
    return rows


def count(pcap, opts, flt):
    out = subprocess.run(["tshark", "-r", pcap] + opts + ["-Y", flt], capture_output=True,
                         text=True).stdout
    return len(out.splitlines())


def num(x):
    return int(x, 16) if x.startswith("0x") else int(x)


def facts_for(pcap, keyfile, other, keylog):
    rsa = ["-o", 'uat:rsa_keys:"%s",""' % keyfile]
    oth = ["-o", 'uat:rsa_keys:"%s",""' % other]
    nss = ["-o", "tls.keylog_file:%s" % keylog] if os.path.exists(keylog) else []
    plain_rows = {r["frame.number"]: r for r in tshark(pcap, [])}
    rows = tshark(pcap, nss)
    rsa_rows = {r["frame.number"]: r for r in tshark(pcap, rsa)}
    server_ports = {r["tcp.dstport"] for r in rows if "1" in r["tls.handshake.type"]}
    events, summary = [], collections.OrderedDict()
    cke, cr, ccert, alerts, http, suites, streams = [], [], [], [], [], [], collections.OrderedDict()
    rsa_same = True
    for r in rows:
        fr, st = r["frame.number"], r["tcp.stream"]
        side = "S" if r["tcp.srcport"] in server_ports else "C"
        plain_types = collections.Counter(plain_rows.get(fr, {}).get("tls.handshake.type", []))
        rsa_types = rsa_rows.get(fr, {}).get("tls.handshake.type", [])
        if rsa_types != r["tls.handshake.type"]:
            rsa_same = False
        parts = []
        certlens = list(r["tls.handshake.certificates_length"])
        ci = 0
        for t in r["tls.handshake.type"]:
            t = int(t)
            enc = ""
            if plain_types[str(t)] > 0:
                plain_types[str(t)] -= 1
            else:
                enc = " (enc)"
            name = HS.get(t, str(t))
            if t == 11:
                ln = int(certlens[ci]) if ci < len(certlens) else -1
                ci += 1
                name += "[empty]" if ln == 0 else "[%d bytes]" % ln
                if side == "C":
                    ccert.append("f%s %s%s" % (fr, "EMPTY" if ln == 0 else "%d bytes" % ln, enc))
            if t == 16:
                cke.append("f%s%s" % (fr, enc))
            if t == 13:
                cr.append("f%s%s" % (fr, enc))
            if t == 2:
                cs = [num(x) for x in r["tls.handshake.ciphersuite"]]
                if cs:
                    suites.append(SUITES.get(cs[0], hex(cs[0])))
                streams.setdefault(st, {"full": False})
            if t == 11 and side == "S":
                streams.setdefault(st, {"full": False})["full"] = True
            parts.append(name + enc)
        plain_alerts = len(plain_rows.get(fr, {}).get("tls.alert_message.desc", []))
        for i, d in enumerate(r["tls.alert_message.desc"]):
            lvl = r["tls.alert_message.level"][i] if i < len(r["tls.alert_message.level"]) else "?"
            enc = "" if i < plain_alerts else " (enc)"
            a = "%s alert %s %s(%s)%s" % ("server" if side == "S" else "client",
                                          "fatal" if lvl == "2" else "warning",
                                          ALERTS.get(int(d), "?"), d, enc)
            alerts.append("f%s %s" % (fr, a))
            parts.append("alert %s(%s)%s" % (ALERTS.get(int(d), "?"), d, enc))
        if r["http.request.method"]:
            parts.append("HTTP %s %s" % (r["http.request.method"][0],
                                         (r["http.request.uri"] or ["?"])[0]))
            http.append("f%s %s %s" % (fr, r["http.request.method"][0], (r["http.request.uri"] or ["?"])[0]))
        if r["http.response.code"]:
            parts.append("HTTP %s" % r["http.response.code"][0])
            http.append("f%s %s" % (fr, r["http.response.code"][0]))
        if parts:
            events.append("f%s s%s %s: %s" % (fr, st, side, ", ".join(parts)))
    # CertificateRequest details: signature algorithms (minus a preceding ServerKeyExchange's
    # and a following CertificateVerify's own one), certificate types, CA names length
    crd = []
    flt = "tls.handshake.type == 13"
    out = subprocess.run(["tshark", "-r", pcap] + nss + ["-Y", flt, "-T", "fields", "-E",
                          "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
                          "-e", "frame.number", "-e", "tls.handshake.type", "-e",
                          "tls.handshake.sig_hash_alg", "-e", "tls.handshake.cert_type",
                          "-e", "tls.handshake.dnames_len"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        fr, types, algs, ctypes, dn = (line.split("\t") + [""] * 5)[:5]
        types, algs = types.split(","), [x for x in algs.split(",") if x]
        i13 = types.index("13")
        if "12" in types[:i13] and algs:
            algs = algs[1:]
        if "15" in types[i13:] and algs:
            algs = algs[:-1]
        crd.append({"frame": int(fr), "sig_hash_algs": algs,
                    "cert_types": [x for x in ctypes.split(",") if x], "dnames_len": dn})
    summary["cipher_suites"] = suites
    summary["streams"] = {k: ("full handshake" if v["full"] else "abbreviated (resumed)")
                          for k, v in streams.items()}
    summary["client_key_exchange"] = cke
    summary["certificate_request"] = cr
    summary["certificate_request_detail"] = crd
    summary["client_certificate"] = ccert
    summary["alerts"] = alerts
    summary["http"] = http
    summary["http_frames"] = {
        "no keys": count(pcap, [], "http"),
        "server RSA key": count(pcap, rsa, "http"),
        "NSS key log": count(pcap, nss, "http") if nss else None,
        "other-key.pem": count(pcap, oth, "http"),
    }
    summary["rsa_key_shows_same_handshake_as_keylog"] = rsa_same
    return summary, events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--other-key", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    a = ap.parse_args()
    os.chdir(a.dir)
    key, other = os.path.abspath(a.key), os.path.abspath(a.other_key)
    res = collections.OrderedDict()
    md = ["# tshark facts (generated by facts.py; frames = tshark frame numbers)", ""]
    for pcap in sorted(glob.glob("*.pcap")):
        name = pcap[:-5]
        s, ev = facts_for(pcap, key, other, name + ".keys")
        res[pcap] = {"summary": s, "events": ev}
        md.append("## " + pcap)
        for k, v in s.items():
            md.append("- %s: %s" % (k, json.dumps(v)))
        md.append("")
        md += ["    " + e for e in ev]
        md.append("")
    # which key file formats does tshark (4.0) itself take for uat:rsa_keys?
    fmt = collections.OrderedDict()
    for f, pw in [("server-key.pkcs8.pem", ""), ("server-key.pkcs1.pem", ""),
                  ("server-key.with-text.pem", ""), ("server-key.der", ""),
                  ("server.pfx", "tlsdiag-test"), ("server-legacy.pfx", "tlsdiag-test"),
                  ("other-key.pem", "")]:
        fmt[f] = count("rsa-kx-tls12-gcm.pcap",
                       ["-o", 'uat:rsa_keys:"%s","%s"' % (os.path.abspath(f), pw)], "http")
    for k in ("rsa-kx-tls12-gcm.keys", "rsa-kx-tls12-gcm.rsa.keys", "rsa-kx-tls12-gcm.pms.keys"):
        fmt["keylog " + k] = count("rsa-kx-tls12-gcm.pcap", ["-o", "tls.keylog_file:" + k], "http")
    res["tshark_key_formats_on_rsa-kx-tls12-gcm"] = fmt
    md.append("## tshark -o uat:rsa_keys with each key file (HTTP frames decrypted in rsa-kx-tls12-gcm.pcap)")
    for k, v in fmt.items():
        md.append("- %s: %d" % (k, v))
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(a.md, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()

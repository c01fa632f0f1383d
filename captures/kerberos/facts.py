#!/usr/bin/env python3
"""Write facts.tsv for the Kerberos captures: one row per Kerberos or HTTP message,
every value taken from tshark's dissection (tshark -T json --no-duplicate-keys).

Usage: facts.py DIR > DIR/facts.tsv      (reads DIR/krb-*.pcap)

Rows:
  Kerberos on port 88            kind AS-REQ, AS-REP, TGS-REQ, TGS-REP, KRB-ERROR
  HTTP request / response        kind HTTP-request / HTTP-response (http_status on responses)
  Kerberos inside an HTTP        kind AP-REQ-in-HTTP, AP-REP-in-HTTP, KRB-ERROR-in-HTTP
  Negotiate header (SPNEGO)      (same frame as its HTTP row)
Columns: file frame transport stream kind error_code realm sname http_status
         frame_time_utc src dst cname kvno stime ctime spnego_negResult detail
transport is "tcp+tls" for HTTP decrypted from TLS (HTTPS variant, with its .keys file).
stime (KRB-ERROR) is as tshark prints it; compare it with frame_time_utc to see whose
clock is off. MIT never fills ctime in these errors (column empty).
sname/cname components are joined with "/"; for KDC requests sname is the one in the
request body, for replies and AP-REQs the ticket's sname; kvno is the ticket's kvno.
"""
import datetime
import glob
import json
import os
import subprocess
import sys

MSG = {"10": "AS-REQ", "11": "AS-REP", "12": "TGS-REQ", "13": "TGS-REP",
       "14": "AP-REQ", "15": "AP-REP", "30": "KRB-ERROR"}
COLS = ["file", "frame", "transport", "stream", "kind", "error_code", "realm", "sname",
        "http_status", "frame_time_utc", "src", "dst", "cname", "kvno", "stime", "ctime", "spnego_negResult",
        "detail"]


def first(v):
    if isinstance(v, list):
        return v[0] if v else ""
    return v if v is not None else ""


def find_msgs(o, out):
    """Kerberos message elements (dicts holding kerberos.msg_type), outermost first,
    not descending into a found message (so the AP-REQ inside a TGS-REQ's padata is
    not reported as a separate message)."""
    if isinstance(o, dict):
        if "kerberos.msg_type" in o:
            out.append(o)
            return
        for v in o.values():
            find_msgs(v, out)
    elif isinstance(o, list):
        for v in o:
            find_msgs(v, out)


def name_of(elem, key):
    """'kerberos.sname_element' / 'kerberos.cname_element' -> 'HTTP/www.tlsdiag.test'."""
    e = elem.get(key)
    if not isinstance(e, dict):
        return ""
    for sub in e.values():
        if isinstance(sub, dict):
            for k, v in sub.items():
                if k in ("kerberos.SNameString", "kerberos.CNameString", "kerberos.KerberosString"):
                    return "/".join(v) if isinstance(v, list) else str(v)
    return ""


def msg_fields(m):
    mt = str(first(m.get("kerberos.msg_type")))
    kind = MSG.get(mt, "krb-msg-" + mt)
    body = m.get("kerberos.req_body_element", {}) if mt in ("10", "12") else m
    tkt = m.get("kerberos.ticket_element", {})
    if not isinstance(tkt, dict):
        tkt = {}
    if mt in ("10", "12"):
        sname, realm = name_of(body, "kerberos.sname_element"), first(body.get("kerberos.realm", ""))
        cname = name_of(body, "kerberos.cname_element")
    elif mt in ("11", "13", "14"):
        sname, realm = name_of(tkt, "kerberos.sname_element"), first(tkt.get("kerberos.realm", ""))
        cname = name_of(m, "kerberos.cname_element")
    else:
        sname, realm = name_of(m, "kerberos.sname_element"), first(m.get("kerberos.realm", ""))
        cname = name_of(m, "kerberos.cname_element")
    kvno = ""
    ep = tkt.get("kerberos.enc_part_element")
    if isinstance(ep, dict):
        kvno = first(ep.get("kerberos.kvno", ""))
    detail = []
    if mt == "30":
        et = first(m.get("kerberos.e_text", ""))
        if et:
            detail.append("e-text=" + et)
    if mt == "10":
        # list of padata types offered (2 = PA-ENC-TIMESTAMP)
        pts = []

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "kerberos.padata_type":
                        pts.extend(v if isinstance(v, list) else [v])
                    elif k != "kerberos.req_body_element":
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(m)
        detail.append("padata=" + (",".join(pts) if pts else "none"))
    return {
        "kind": kind,
        "error_code": first(m.get("kerberos.error_code", "")),
        "realm": realm, "sname": sname, "cname": cname, "kvno": kvno,
        "stime": first(m.get("kerberos.stime", "")),
        "ctime": first(m.get("kerberos.ctime", "")),
        "detail": ";".join(detail),
    }


def get_all(o, key, out):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == key:
                out.extend(v if isinstance(v, list) else [v])
            else:
                get_all(v, key, out)
    elif isinstance(o, list):
        for v in o:
            get_all(v, key, out)
    return out


def rows_for(path):
    name = os.path.basename(path)
    cmd = ["tshark", "-r", path, "-Y", "kerberos || http", "-T", "json", "--no-duplicate-keys"]
    keys = path[:-len(".pcap")] + ".keys"
    if os.path.exists(keys):  # HTTPS variant: decrypt with the key log written by curl
        cmd += ["-o", "tls.keylog_file:" + keys]
    out = subprocess.run(cmd,
        check=True, capture_output=True, text=True).stdout
    rows = []
    for pkt in json.loads(out or "[]"):
        L = pkt["_source"]["layers"]
        frame = first(L["frame"]["frame.number"])
        ip = L.get("ip", {})
        src, dst = first(ip.get("ip.src", "")), first(ip.get("ip.dst", ""))
        if "tcp" in L:
            transport, stream = "tcp", first(L["tcp"]["tcp.stream"])
        else:
            transport, stream = "udp", first(L.get("udp", {}).get("udp.stream", ""))
        t = float(first(L["frame"]["frame.time_epoch"]))
        ftime = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        if "tls" in L:
            transport += "+tls"
        base = {"file": name, "frame": frame, "transport": transport, "stream": stream,
                "frame_time_utc": ftime, "src": src, "dst": dst}
        http = L.get("http")
        if isinstance(http, list):  # several HTTP messages in one segment
            https = http
        elif http:
            https = [http]
        else:
            https = []
        for h in https:
            r = dict(base)
            code = first(get_all(h, "http.response.code", []))
            neg = get_all(h, "spnego.negResult", [])
            if code:
                r["kind"], r["http_status"] = "HTTP-response", code
                wa = get_all(h, "http.www_authenticate", [])
                r["detail"] = "WWW-Authenticate: " + (" | ".join(
                    (w.split(" ")[0] + (" <token>" if " " in w.strip() else " (no token)"))
                    for w in wa) if wa else "none")
            else:
                method = first(get_all(h, "http.request.method", []))
                uri = first(get_all(h, "http.request.uri", []))
                au = get_all(h, "http.authorization", [])
                r["kind"] = "HTTP-request"
                r["detail"] = "%s %s; Authorization: %s" % (
                    method, uri, (au[0].split(" ")[0] + " <token>") if au else "none")
            r["spnego_negResult"] = ",".join(neg)
            rows.append(r)
            msgs = []
            find_msgs(h, msgs)
            for m in msgs:
                k = dict(base)
                k.update(msg_fields(m))
                k["kind"] += "-in-HTTP"
                k["spnego_negResult"] = ",".join(neg)
                rows.append(k)
        if not https and "kerberos" in L:
            msgs = []
            find_msgs(L["kerberos"], msgs)
            for m in msgs:
                k = dict(base)
                k.update(msg_fields(m))
                rows.append(k)
    return rows


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    print("\t".join(COLS))
    for p in sorted(glob.glob(os.path.join(d, "krb-*.pcap"))):
        for r in rows_for(p):
            print("\t".join(str(r.get(c, "")).replace("\t", " ") for c in COLS))


if __name__ == "__main__":
    main()

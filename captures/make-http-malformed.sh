#!/usr/bin/env bash
# make-http-malformed.sh - a real nginx answering a malformed HTTP request with 400.
#
# Records captures/http-malformed-request.pcap on loopback (port 44341): one connection
# whose request has a header line without a colon (nginx: "client sent invalid header
# line", 400 Bad Request, then it closes), then a well-formed GET / on a second connection
# (200). tlsdiag must call the first request malformed, with its frame, not "not in the capture".
#
# Run as root (tcpdump on lo): bash captures/make-http-malformed.sh. Needs nginx, tcpdump,
# python3. Takes a few seconds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
WORK=$(mktemp -d)
PIDS=()
TCPDUMP_PID=""
log() { printf '[make-http-malformed] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=captures/lib.sh
. "$HERE/lib.sh"
NG=$WORK/nginx
cleanup() {
    [ -f "$NG/nginx.pid" ] && kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true
    [ -n "$TCPDUMP_PID" ] && kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$NG/logs" "$NG/html"
chmod 755 "$WORK" "$NG" "$NG/html"   # nginx workers run as www-data
echo hello >"$NG/html/index.html"
cat >"$NG/nginx.conf" <<CONF
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events {}
http {
    access_log $NG/logs/access.log;
    client_body_temp_path $NG/tmp;
    server {
        listen 127.0.0.1:44341;
        root $NG/html;
    }
}
CONF
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
wait_port 44341
cap_start http-malformed-request 44341
python3 - <<'PY'
import socket
def ask(raw):
    s = socket.create_connection(("127.0.0.1", 44341))
    s.sendall(raw)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
        if b"\r\n\r\n" in data and b"Connection: close" not in data:
            break
    s.close()
    print(data.split(b"\r\n", 1)[0].decode())
ask(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nBad Header Line\r\n\r\n")
ask(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
PY
cap_stop
grep -h "invalid header" "$NG/logs/error.log" | sed 's/^.*\[info\]//' >&2 || true

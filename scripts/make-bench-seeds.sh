#!/usr/bin/env bash
# make-bench-seeds.sh - record the REAL loopback TLS captures that seed the
# throughput benchmarks (benches/data/).
#
# What it does
#   * builds a throw-away PKI in a temp dir (root CA, intermediate CA, server
#     and client leaves, 8 extra CA certificates so that nginx's
#     CertificateRequest lists 10 CA names), like captures/make-captures.sh,
#   * starts one nginx on 127.0.0.1:$PORT (TLS 1.2 + 1.3, ssl_verify_client
#     optional, ssl_client_certificate = the 10-name CA file),
#   * records with `tcpdump -i lo --immediate-mode -U -s 0 'tcp port $PORT'`:
#       handshake-heavy.pcap  $HH_CONNS curl runs one after another, each a new
#                             connection doing ONE GET of a $SMALL_BYTES-byte
#                             file; TLS 1.2 / 1.3 alternate, a client
#                             certificate is sent on every other pair
#                             (1.2+cert, 1.3+cert, 1.2 no cert, 1.3 no cert, ...)
#       bulk.pcap             $BULK_CONNS curl runs, each downloading a
#                             $BULK_BYTES-byte file
#     plus the NSS key logs (*.keys) curl wrote, so that the encrypted TLS 1.3
#     handshakes (CertificateRequest included) can be checked with tshark,
#   * checks the result (pcap format, handshake / CertificateRequest counts,
#     HTTP codes, replicate-pcap.py runs on both files) and writes
#     benches/data/README.md with the measured sizes.
#
# How to run
#   sudo bash scripts/make-bench-seeds.sh     (root: tcpdump on lo)
#   KEEP_WORK=1 keeps the temp dir (PKI, nginx config and logs).
#   Takes a few seconds.  Writes only benches/data/{handshake-heavy,bulk}.{pcap,keys}
#   and benches/data/README.md (replaced on every run: idempotent; keys,
#   signatures and random file contents differ from run to run, sizes only by
#   a few bytes per connection).
#
# Needs: openssl, curl, nginx, tcpdump, tshark + capinfos (wireshark-common),
#   python3, ss (iproute2); installed with apt-get if missing.
#
# Network: only 127.0.0.1.  The nginx and tcpdump started here are stopped
# before the script exits (also on error, via the EXIT trap).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$ROOT/benches/data
REPLICATE=$HERE/replicate-pcap.py

PORT=${PORT:-44390}
HH_CONNS=${HH_CONNS:-40}           # handshake-heavy: connections
SMALL_BYTES=${SMALL_BYTES:-25600}  # handshake-heavy: body of the one GET
BULK_CONNS=${BULK_CONNS:-3}        # bulk: connections
BULK_BYTES=${BULK_BYTES:-3145728}  # bulk: body of the one GET (3 MiB)
EXTRA_CAS=8                        # + root + intermediate = 10 CA names

log() { printf '[make-bench-seeds] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=captures/lib.sh
. "$ROOT/captures/lib.sh"

T_START=$(date +%s.%N)

# ---------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
need_pkgs=()
command -v openssl  >/dev/null || need_pkgs+=(openssl)
command -v curl     >/dev/null || need_pkgs+=(curl)
command -v tcpdump  >/dev/null || need_pkgs+=(tcpdump)
command -v tshark   >/dev/null || need_pkgs+=(tshark)
command -v capinfos >/dev/null || need_pkgs+=(wireshark-common)
command -v nginx    >/dev/null || need_pkgs+=(nginx)
command -v python3  >/dev/null || need_pkgs+=(python3)
command -v ss       >/dev/null || need_pkgs+=(iproute2)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]} and not root"
    log "installing ${need_pkgs[*]}"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then     # keep apt from starting nginx
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
[ "$(id -u)" = 0 ] || die "run as root (tcpdump needs it)"
[ -f "$REPLICATE" ] || die "$REPLICATE not found"

# ---------------------------------------------------------------------------
# 1. temp dir, process bookkeeping
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/tlsdiag-bench-seeds.XXXXXX)
chmod 755 "$WORK"
NG=$WORK/nginx
TCPDUMP_PID=""

cleanup() {
    if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$TCPDUMP_PID" 2>/dev/null || true
    fi
    if [ -f "$NG/nginx.pid" ]; then          # nginx daemonizes: stop it via its pid file
        local np
        np=$(cat "$NG/nginx.pid" 2>/dev/null || true)
        if [ -n "$np" ]; then
            kill -QUIT "$np" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$np" 2>/dev/null || true
        fi
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

port_busy "$PORT" && die "port $PORT already in use (set PORT=...)"

# ---------------------------------------------------------------------------
# 2. PKI (same layout as captures/make-captures.sh)
# ---------------------------------------------------------------------------
log "building PKI in $WORK/pki"
P=$WORK/pki
mkdir -p "$P"
cd "$P"
write_ext_cnf

selfsigned root "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Root CA"
issue inter "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Intermediate CA" root inter_ext 5475
issue server "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_ext
issue client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=alice" inter client_ext
cat server.pem inter.pem > server-fullchain.pem     # nginx ssl_certificate
cat client.pem inter.pem > client-chain.pem         # curl --cert: leaf + intermediate
# CA file for ssl_client_certificate: root + intermediate + 8 unrelated CAs
# (nginx sends the subjects of all of them in the CertificateRequest)
cat root.pem inter.pem > cas.pem
newkey pool.key
for ((i = 1; i <= EXTRA_CAS; i++)); do
    n=$(printf %02d "$i")
    openssl req -new -x509 -key pool.key -days 3650 -sha256 -set_serial "$i" \
        -subj "/C=US/O=tlsdiag bench partner $n/OU=Client Certificate Authorities/CN=tlsdiag Bench Partner Client CA $n" \
        -config ext.cnf -extensions list_ca_ext -out "pool-$n.pem" 2>/dev/null
    cat "pool-$n.pem" >> cas.pem
done
CA_NAMES=$(grep -c 'BEGIN CERTIFICATE' cas.pem)

# ---------------------------------------------------------------------------
# 3. nginx
# ---------------------------------------------------------------------------
mkdir -p "$NG/logs" "$NG/html"
openssl rand -out "$NG/html/small.bin" "$SMALL_BYTES"
openssl rand -out "$NG/html/bulk.bin" "$BULK_BYTES"
cat > "$NG/nginx.conf" <<EOF
daemon on;
master_process on;
worker_processes 1;
user root;
pid $NG/nginx.pid;
error_log $NG/logs/error.log info;
events { worker_connections 64; }
http {
    log_format seeds '\$status \$body_bytes_sent \$ssl_protocol \$ssl_client_verify';
    access_log $NG/logs/access.log seeds;
    client_body_temp_path $NG/tmp_body;
    proxy_temp_path $NG/tmp_proxy;
    fastcgi_temp_path $NG/tmp_fastcgi;
    uwsgi_temp_path $NG/tmp_uwsgi;
    scgi_temp_path $NG/tmp_scgi;
    default_type application/octet-stream;
    keepalive_timeout 5;
    ssl_certificate $P/server-fullchain.pem;
    ssl_certificate_key $P/server.key;
    ssl_client_certificate $P/cas.pem;
    ssl_verify_client optional;
    ssl_verify_depth 3;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    server {
        listen 127.0.0.1:$PORT ssl;
        server_name localhost;
        root $NG/html;
    }
}
EOF
nginx -t -q -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
wait_port "$PORT"
log "nginx on 127.0.0.1:$PORT, CertificateRequest with $CA_NAMES CA names"

# ---------------------------------------------------------------------------
# 4. captures
# ---------------------------------------------------------------------------
cap_start() {   # cap_start NAME
    CAP_NAME=$1
    tcpdump -i lo -U -s 0 -n -B 131072 -Z root --immediate-mode -w "$WORK/$CAP_NAME.pcap" "tcp port $PORT" \
        2>"$WORK/tcpdump-$CAP_NAME.err" &
    TCPDUMP_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$WORK/tcpdump-$CAP_NAME.err" 2>/dev/null && break
        sleep 0.1
    done
    grep -q 'listening on' "$WORK/tcpdump-$CAP_NAME.err" || die "tcpdump did not start"
    sleep 0.2
}
cap_stop() {
    sleep 0.5                               # let the last FIN/ACKs through
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=""
    grep -E 'packets (captured|dropped)' "$WORK/tcpdump-$CAP_NAME.err" | sed "s/^/    [$CAP_NAME] /" >&2 || true
    grep -qE '^0 packets dropped by kernel' "$WORK/tcpdump-$CAP_NAME.err" \
        || die "$CAP_NAME: tcpdump dropped packets"
}
# fetch NAME I FILE: connection number I (0-based) of capture NAME
#   I % 2 == 0 -> TLS 1.2, else TLS 1.3;  (I / 2) % 2 == 0 -> with client cert
fetch() {
    local name=$1 i=$2 file=$3 ver cert=()
    if ((i % 2 == 0)); then ver=(--tlsv1.2 --tls-max 1.2); else ver=(--tlsv1.3); fi
    if (((i / 2) % 2 == 0)); then cert=(--cert "$P/client-chain.pem" --key "$P/client.key"); fi
    SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 curl -sS --cacert "$P/root.pem" "${ver[@]}" \
        "${cert[@]}" -o "$WORK/got.bin" -w '%{http_code} %{size_download}\n' \
        "https://127.0.0.1:$PORT/$file" >>"$WORK/curl-$name.log" 2>&1 \
        || die "$name: curl #$i failed: $(tail -1 "$WORK/curl-$name.log")"
    cmp -s "$WORK/got.bin" "$NG/html/$file" || die "$name: curl #$i: wrong body"
}
record() {      # record NAME CONNS FILE
    local name=$1 n=$2 file=$3 i
    log "== $name: $n connections, GET /$file ($(stat -c %s "$NG/html/$file") bytes)"
    : > "$NG/logs/access.log"
    cap_start "$name"
    for ((i = 0; i < n; i++)); do fetch "$name" "$i" "$file"; done
    cap_stop
    # every request: 200, the whole file; client cert verified on the cert runs
    local want_cert=0
    for ((i = 0; i < n; i++)); do if (((i / 2) % 2 == 0)); then want_cert=$((want_cert + 1)); fi; done
    [ "$(grep -c '^200 ' "$NG/logs/access.log")" = "$n" ] || die "$name: not $n x 200"
    [ "$(grep -c ' SUCCESS$' "$NG/logs/access.log")" = "$want_cert" ] \
        || die "$name: expected $want_cert verified client certs"
    sort "$NG/logs/access.log" | uniq -c | sed "s/^/    [$name] nginx: /" >&2
    mv "$WORK/$name.pcap" "$WORK/$name.keys" "$WORK/done/"
}
mkdir -p "$WORK/done"
record handshake-heavy "$HH_CONNS" small.bin
record bulk "$BULK_CONNS" bulk.bin

kill -QUIT "$(cat "$NG/nginx.pid")"
for ((i = 0; i < 50; i++)); do [ -f "$NG/nginx.pid" ] || break; sleep 0.1; done

# ---------------------------------------------------------------------------
# 5. checks (on the temp copies; benches/data is only replaced if they pass)
# ---------------------------------------------------------------------------
count() { tshark -r "$1" "${@:3}" -Y "$2" 2>/dev/null | wc -l; }
check() {       # check NAME CONNS
    local name=$1 n=$2 f=$WORK/done/$1.pcap k=$WORK/done/$1.keys
    local hdr
    hdr=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%08x %d" % (struct.unpack("<I", d[:4])[0], struct.unpack("<I", d[20:24])[0]))' "$f")
    [ "$hdr" = "a1b2c3d4 1" ] || die "$name: header '$hdr', want little-endian usec pcap, link type 1"
    local ch cr cr_all syn n12 n13
    ch=$(count "$f" 'tls.handshake.type==1')
    syn=$(count "$f" 'tcp.flags.syn==1 && tcp.flags.ack==0')
    n12=$(count "$f" 'tls.handshake.type==2 && tls.handshake.version==0x0303 && !tls.handshake.extensions.supported_version')
    n13=$(count "$f" 'tls.handshake.extensions.supported_version==0x0304 && tls.handshake.type==2')
    cr=$(count "$f" 'tls.handshake.type==13')
    cr_all=$(count "$f" 'tls.handshake.type==13' -o "tls.keylog_file:$k")
    log "$name: $syn SYNs, $ch ClientHellos, ServerHello TLS1.2=$n12 TLS1.3=$n13, CertificateRequests: $cr in clear (TLS 1.2), $cr_all with the key log"
    [ "$syn" = "$n" ] && [ "$ch" = "$n" ] && [ "$cr_all" = "$n" ] \
        && [ "$n12" = "$(( (n + 1) / 2 ))" ] && [ "$n13" = "$(( n / 2 ))" ] && [ "$cr" = "$n12" ] \
        || die "$name: unexpected handshake counts"
    # replicate-pcap.py on the seed as it is (and, if that comes out wrong, on
    # the seed split into one file per TCP connection); a correct result has
    # one SYN and one ClientHello per TCP stream and packets in both
    # directions of every stream
    local tmp=$WORK/replicated.pcap res
    python3 "$REPLICATE" --size 50M -o "$tmp" "$f" 2>"$WORK/replicate-$name.log" \
        || { cat "$WORK/replicate-$name.log" >&2; die "$name: replicate-pcap.py failed"; }
    res="$(flows "$tmp"), $(ts_order "$tmp")"
    log "$name: replicate-pcap.py --size 50M $name.pcap: $(sed 's/.*: //' "$WORK/replicate-$name.log"); tshark: $res"
    REPL_WHOLE[$name]="$(sed 's/.*: //' "$WORK/replicate-$name.log"); tshark: $res"
    if flows_ok "$res"; then
        REPL_SPLIT[$name]=""
    else
        log "WARNING: $name: replicate-pcap.py mangles this multi-connection seed (it takes each"
        log "         INPUT FILE as one connection); trying the seed split per connection"
        rm -rf "$WORK/split-$name"
        mkdir -p "$WORK/split-$name"
        split_conns "$f" "$WORK/split-$name"
        python3 "$REPLICATE" --size 50M -o "$tmp" "$WORK/split-$name"/*.pcap 2>"$WORK/replicate-$name.log" \
            || { cat "$WORK/replicate-$name.log" >&2; die "$name: replicate-pcap.py (split) failed"; }
        res=$(flows "$tmp")
        log "$name: replicate-pcap.py --size 50M on $(ls "$WORK/split-$name" | wc -l) per-connection files: $(sed 's/.*: //' "$WORK/replicate-$name.log"); tshark: $res"
        REPL_SPLIT[$name]="$(sed 's/.*: //' "$WORK/replicate-$name.log"); tshark: $res"
        flows_ok "$res" || die "$name: replicated per-connection seeds are not clean connections"
    fi
    rm -f "$tmp"
}
# flows FILE -> "S streams, Y SYNs, C ClientHellos, U one-way streams"
flows() {
    # heuristics first: a replicated client port may be one that tshark would
    # otherwise dissect as SOCKS, OpenVPN, PPTP, MQTT... (1080, 1194, ...)
    tshark -r "$1" -o tcp.try_heuristic_first:TRUE -T fields -e tcp.stream -e ip.src -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack \
        -e tls.handshake.type 2>/dev/null | awk -F'\t' '
        { dir[$1 SUBSEP $2 ":" $3] = 1; st[$1] = 1
          if ($4 == 1 && $5 == 0) syn++
          n = split($6, t, ","); for (i = 1; i <= n; i++) if (t[i] == 1) ch++ }
        END { for (k in dir) { split(k, a, SUBSEP); d[a[1]]++ }
              for (s in st) { ns++; if (d[s] < 2) oneway++ }
              printf "%d streams, %d SYNs, %d ClientHellos, %d one-way streams\n", ns, syn, ch, oneway }'
}
# ts_order FILE -> "N of M packets earlier than a packet before them"
ts_order() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos, latest, back, n = 24, 0.0, 0, 0
while pos + 16 <= len(d):
    sec, usec, caplen, _ = struct.unpack("<IIII", d[pos:pos + 16])
    t = sec + usec / 1e6
    back += t < latest
    latest = max(latest, t)
    n += 1
    pos += 16 + caplen
print(f"{back} of {n} packets earlier than a packet before them")
PY
}
flows_ok() {    # flows_ok "RESULT of flows"
    local ns syn ch ow
    read -r ns _ syn _ ch _ ow _ <<<"${1//,/}"
    [ "$ns" -gt 0 ] && [ "$ns" = "$syn" ] && [ "$ns" = "$ch" ] && [ "$ow" = 0 ]
}
# split_conns FILE DIR: one classic pcap per TCP connection (same header),
# DIR/conn-NNN.pcap in order of first packet
split_conns() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
hdr, pos, conns = data[:24], 24, {}
while pos + 16 <= len(data):
    caplen = struct.unpack("<I", data[pos + 8:pos + 12])[0]
    rec = data[pos:pos + 16 + caplen]
    pos += 16 + caplen
    f = rec[16:]
    ihl = (f[14] & 0x0F) * 4
    t = 14 + ihl
    a = (f[26:30], f[t:t + 2])
    b = (f[30:34], f[t + 2:t + 4])
    conns.setdefault(tuple(sorted([a, b])), []).append(rec)
for i, recs in enumerate(conns.values()):
    with open(f"{sys.argv[2]}/conn-{i:03d}.pcap", "wb") as out:
        out.write(hdr + b"".join(recs))
PY
}
declare -A REPL_WHOLE REPL_SPLIT
check handshake-heavy "$HH_CONNS"
check bulk "$BULK_CONNS"

# ---------------------------------------------------------------------------
# 6. install into benches/data and write README.md
# ---------------------------------------------------------------------------
mkdir -p "$OUT"
rm -f "$OUT/handshake-heavy.pcap" "$OUT/handshake-heavy.keys" "$OUT/bulk.pcap" "$OUT/bulk.keys" \
    "$OUT/README.md"
cp "$WORK/done/"*.pcap "$WORK/done/"*.keys "$OUT/"

T_END=$(date +%s.%N)
RUNTIME=$(python3 -c "print('%.1f' % ($T_END - $T_START))")

stats_row() {   # stats_row NAME: markdown table row
    local f=$OUT/$1.pcap bytes pkts conns tls
    bytes=$(stat -c %s "$f")
    pkts=$(capinfos -M -c -T -r "$f" | awk -F'\t' '{print $2}')
    conns=$(tshark -r "$f" -q -z conv,tcp 2>/dev/null | grep -c '<->')
    # bytes of TLS records that carry application data (with the key log, so
    # that encrypted TLS 1.3 handshake records are not counted)
    tls=$(tshark -r "$f" -o "tls.keylog_file:$OUT/$1.keys" -Y tls -T fields \
        -e tls.record.content_type -e tls.record.length 2>/dev/null \
        | awk -F'\t' '{n = split($1, t, ","); split($2, l, ",")
                       for (i = 1; i <= n; i++) if (t[i] == 23) s += l[i] + 5} END {print s + 0}')
    python3 - "$1" "$bytes" "$pkts" "$conns" "$tls" <<'PY'
import sys
name, b, pkts, conns, app = sys.argv[1], *map(int, sys.argv[2:])
mb = b / 1e6
print(f"| `{name}.pcap` | {b:,} ({b / 2**20:.2f} MiB) | {pkts:,} | {conns} | "
      f"{b / conns / 1000:.1f} KB | {conns / mb:.2f} | {conns / (b / 2**20):.2f} | {100 * app / b:.1f} % |")
PY
}
ROW_HH=$(stats_row handshake-heavy)
ROW_BULK=$(stats_row bulk)
CAPINFOS=$(cd "$OUT" && capinfos -t -E -e -c -d -u handshake-heavy.pcap bulk.pcap 2>/dev/null \
    | grep -vE '^$' || true)
conv() { (cd "$OUT" && tshark -r "$1.pcap" -q -z conv,tcp 2>/dev/null | grep -vE '^(=+|Filter:.*)$'); }
CONV_HH=$(conv handshake-heavy)
CONV_BULK=$(conv bulk)

if flows_ok "${REPL_WHOLE[handshake-heavy]#*tshark: }" && flows_ok "${REPL_WHOLE[bulk]#*tshark: }"; then
    REPL_USAGE="    python3 scripts/replicate-pcap.py --size 1G -o /tmp/hh-1G.pcap benches/data/handshake-heavy.pcap
    python3 scripts/replicate-pcap.py --size 1G -o /tmp/bulk-1G.pcap benches/data/bulk.pcap"
    REPL_NOTE="replicate-pcap.py handles the several connections of each seed (checked by the script)."
else
    REPL_USAGE="    mkdir -p /tmp/hh && for s in \$(seq 0 $((HH_CONNS - 1))); do
        tshark -r benches/data/handshake-heavy.pcap -Y tcp.stream==\$s -F pcap -w /tmp/hh/\$s.pcap; done
    python3 scripts/replicate-pcap.py --size 1G -o /tmp/hh-1G.pcap /tmp/hh/*.pcap
    mkdir -p /tmp/bulk && for s in \$(seq 0 $((BULK_CONNS - 1))); do
        tshark -r benches/data/bulk.pcap -Y tcp.stream==\$s -F pcap -w /tmp/bulk/\$s.pcap; done
    python3 scripts/replicate-pcap.py --size 1G -o /tmp/bulk-1G.pcap /tmp/bulk/*.pcap"
    REPL_NOTE="**Split the seeds per connection first** (as above): when this was generated,
replicate-pcap.py took each *input file* as one connection (the sender of its
first packet is the only client), so these multi-connection files given as
they are come out mangled (the client side of every other connection is
rewritten as if it were the server).  Split into one file per connection,
both seeds replicate into clean connections (checked by the script)."
fi

SPLIT_LINES=""
for n in handshake-heavy bulk; do
    if [ -n "${REPL_SPLIT[$n]}" ]; then
        SPLIT_LINES+="  * \`$n.pcap\` split per connection: ${REPL_SPLIT[$n]}"$'\n'
    fi
done

cat > "$OUT/README.md" <<EOF
# Benchmark seed captures

Real TLS traffic recorded on loopback, used as *seeds* for the throughput
benchmarks: \`scripts/replicate-pcap.py\` copies their connections again and
again (new client addresses, shifted sequence numbers, later timestamps) into a
capture of any size, e.g.

$REPL_USAGE

$REPL_NOTE

Generated by \`scripts/make-bench-seeds.sh\` (run as root; took ${RUNTIME} s for
the run that made these files).  This README is rewritten by that script; edit
the script, not this file.

## Files

| file | what |
|---|---|
| \`handshake-heavy.pcap\` | $HH_CONNS TLS connections, one after another, each a new curl process doing ONE \`GET\` of a $SMALL_BYTES-byte static file. Connection *i* (0-based) uses TLS 1.2 if *i* is even, TLS 1.3 if odd; *i* mod 4 in {0, 1} sends a client certificate (leaf + intermediate), *i* mod 4 in {2, 3} sends none (empty Certificate). Every connection has a CertificateRequest with $CA_NAMES CA names. One full handshake (with certificate chains) per ~30 KB. |
| \`bulk.pcap\` | $BULK_CONNS TLS connections to the same server, each downloading a $BULK_BYTES-byte file (same TLS 1.2 / 1.3 and client-certificate pattern). Almost all bytes are TLS application data. |
| \`*.keys\` | NSS key logs written by curl (\`SSLKEYLOGFILE\`). Not needed by the benchmarks; they let tshark (or tlsdiag) decrypt the TLS 1.3 handshakes, e.g. \`tshark -r handshake-heavy.pcap -o tls.keylog_file:handshake-heavy.keys -Y tls.handshake.type==13\`. replicate-pcap.py keeps the client randoms, so the same key log also works for the replicated copies. |

Format: classic pcap, little-endian, microsecond timestamps, link type 1
(Ethernet: \`tcpdump -i lo\` on Linux writes LINKTYPE_ETHERNET with zero MAC
addresses), IPv4 only - what replicate-pcap.py needs.  All packets are
127.0.0.1 <-> 127.0.0.1:$PORT.

## How they were made

* PKI made with openssl on the fly (P-256 keys): root CA -> intermediate CA ->
  server leaf (CN=localhost, SAN 127.0.0.1) and client leaf (CN=alice,
  clientAuth); plus $EXTRA_CAS unrelated self-signed CAs so that the CA file
  given to nginx (\`ssl_client_certificate\`) has $CA_NAMES names.
* Server: $(nginx -v 2>&1 | sed 's/^nginx version: //') with \`ssl_protocols TLSv1.2 TLSv1.3\`,
  \`ssl_verify_client optional\`, \`ssl_verify_depth 3\`, session tickets and
  session cache off, serving random (incompressible) files.
* Client: $(curl --version | head -1 | cut -d' ' -f1-2) ($(openssl version | cut -d' ' -f1-2)),
  one process per connection (no reuse):
  \`curl --cacert root.pem [--tlsv1.2 --tls-max 1.2 | --tlsv1.3] [--cert client-chain.pem --key client.key] https://127.0.0.1:$PORT/FILE\`
  (ALPN http/1.1, the server only offers that).  Every response was checked:
  HTTP 200, the whole file, nginx \`\$ssl_client_verify\` = SUCCESS exactly on
  the runs with a client certificate.
* Capture: \`tcpdump -i lo -U -s 0 -n --immediate-mode -w X.pcap 'tcp port $PORT'\`
  (0 packets dropped).  Loopback has a 64 KiB MTU and no segmentation, so
  TCP segments are up to ~64 KiB (not ~1.5 KB as on Ethernet): the files
  have few, large packets per byte.
* Checked by the script with tshark: one SYN and one ClientHello
  (\`tls.handshake.type==1\`) per connection, half the ServerHellos TLS 1.2
  and half TLS 1.3, one CertificateRequest (\`tls.handshake.type==13\`) per
  connection (only the TLS 1.2 ones are in clear; the TLS 1.3 ones are
  counted with the key log).
* replicate-pcap.py \`--size 50M\` (tshark on the output, with
  \`-o tcp.try_heuristic_first:TRUE\` so that a client port that happens to
  be registered to another protocol - 1080, 1194, 1723, 1883... - is still
  dissected as TLS; counted: TCP streams, SYNs, ClientHellos, streams with
  packets in one direction only; and, with python, packets whose timestamp is
  earlier than that of a packet before them in the file - should be 0; copies
  that overlap in time but are written one after another would show here):
  * \`handshake-heavy.pcap\`: ${REPL_WHOLE[handshake-heavy]}
  * \`bulk.pcap\`: ${REPL_WHOLE[bulk]}
$SPLIT_LINES
## Sizes (measured with capinfos and \`tshark -q -z conv,tcp\`)

| file | bytes | packets | TCP connections | bytes / connection | connections per MB (10^6) | per MiB | TLS application data records (share of file) |
|---|---|---|---|---|---|---|---|
$ROW_HH
$ROW_BULK

\`\`\`
$CAPINFOS
\`\`\`

\`tshark -r handshake-heavy.pcap -q -z conv,tcp\` (sorted by tshark by frame count):

\`\`\`
$CONV_HH
\`\`\`

\`tshark -r bulk.pcap -q -z conv,tcp\`:

\`\`\`
$CONV_BULK
\`\`\`

Certificates are valid from the time of recording (10 years for the leaves).
replicate-pcap.py (as of this run) starts its output at the seeds' own first
timestamp, so a certificate-validity check on replicated files gives the
same result as on the seeds.  Re-running the script changes keys, signatures, random file
contents and timestamps; sizes change by a few bytes per connection.
EOF

log "wrote: $(cd "$OUT" && ls -l handshake-heavy.pcap handshake-heavy.keys bulk.pcap bulk.keys README.md | awk '{printf "%s (%s) ", $NF, $5}')"
log "done in ${RUNTIME} s"

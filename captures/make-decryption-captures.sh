#!/usr/bin/env bash
# make-decryption-captures.sh - add the "dec-*" captures to tlsdiag's corpus:
# REAL loopback captures, one per TLS record-protection family, made to test
# TLS decryption with NSS key logs (and with pcapng Decryption Secrets Blocks).
#
# What it does
#   * builds its own throw-away PKI in a temp dir (same DNs as make-captures.sh:
#     root CA, intermediate CA, ECDSA server leaf, client leaf "alice"; plus an
#     RSA-2048 server leaf for the RSA key-exchange suites and 81 list CAs for
#     a ~17 KB CertificateRequest CA list),
#   * runs openssl s_server -HTTP/s_client 3.0 (and nginx + curl for one capture) on
#     127.0.0.1, ports 44331..44345, records each exchange with tcpdump on lo
#     and saves the NSS key log of each one as dec-X.keys,
#   * writes dec-X-dsb.pcapng (editcap --inject-secrets tls,dec-X.keys),
#   * writes dec-tls12-wrong-keys.keys (right client random, wrong master
#     secret) for dec-tls12-aes128gcm.pcap,
#   * checks that every capture decrypts with tshark (key log and DSB),
#   * runs the shared tshark ground-truth script on the NEW files only (in a
#     temp dir) and merges its rows into MANIFEST.tsv / truth/dec-*.json; the
#     dec-* rows of selection.tsv are written from the table in this script.
#
# It ONLY writes files whose names start with "dec-" (captures, key logs,
# pcapng copies, dec-outcomes.txt, pki/dec-*.pem, truth/dec-*.json) and
# replaces only the dec-* rows of selection.tsv and MANIFEST.tsv.  The files
# of make-captures.sh are never touched (do not re-run that one lightly: the
# tests assert facts about its current files).
#
# How to run
#   sudo bash captures/make-decryption-captures.sh     (root: tcpdump on lo)
#   KEEP_WORK=1 keeps the temp dir (PKI, server configs and logs);
#   NO_TRUTH=1 skips the truth step; TSHARK_TRUTH=path points at another copy
#   of tshark_truth.py.  Takes about 55 s.
#
# Needs: openssl 3.0, curl, tcpdump, tshark + editcap (wireshark-common),
# nginx, python3, ss (iproute2).  Missing ones are installed with apt-get.
#
# Network: only 127.0.0.1.  Every process started here is stopped before the
# script exits (also on error, EXIT trap); all waits are bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
TSHARK_TRUTH=${TSHARK_TRUTH:-$HERE/../../shared/tools/tshark_truth.py}
[ -f "$TSHARK_TRUTH" ] || TSHARK_TRUTH=/work/shared/tools/tshark_truth.py
T0=$(date +%s)

log() { printf '[make-dec] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=captures/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------
need_pkgs=()
command -v openssl >/dev/null || need_pkgs+=(openssl)
command -v curl    >/dev/null || need_pkgs+=(curl)
command -v tcpdump >/dev/null || need_pkgs+=(tcpdump)
command -v tshark  >/dev/null || need_pkgs+=(tshark)
command -v editcap >/dev/null || need_pkgs+=(wireshark-common)
command -v nginx   >/dev/null || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v ss      >/dev/null || need_pkgs+=(iproute2)
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
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------------------
# 1. clean the dec-* outputs only, temp dir, process bookkeeping
# ---------------------------------------------------------------------------
cd "$OUT"
rm -f ./dec-*.pcap ./dec-*.pcapng ./dec-*.keys ./dec-outcomes.txt ./pki/dec-*.pem ./truth/dec-*.json

WORK=$(mktemp -d /tmp/tlsdiag-dec-captures.XXXXXX)
chmod 755 "$WORK"
PIDS=()
TCPDUMP_PID=""

cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] || continue
        if kill -0 "$p" 2>/dev/null; then
            kill -INT "$p" 2>/dev/null || true
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    [ -f "$WORK/nginx/nginx.pid" ] && kill -QUIT "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    sleep 0.3
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
# 2. PKI (same DNs and extensions as make-captures.sh, new keys)
# ---------------------------------------------------------------------------
log "building PKI in $WORK/pki"
P=$WORK/pki
mkdir -p "$P"
cd "$P"
write_ext_cnf
cat >> ext.cnf <<'EOF'

[server_rsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
EOF

selfsigned root "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Root CA"
issue inter "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Intermediate CA" root inter_ext 5475
issue server "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_ext
issue server-rsa "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_rsa_ext 3650 rsa
issue client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=alice" inter client_ext
cat root.pem inter.pem > cas.pem
cat inter.pem > chain.pem
cat server.pem inter.pem > server-fullchain.pem

# ~17 KB CA list: root + intermediate (158 bytes) + 81 list CAs of 208 bytes
# each = 83 names, dnames_len 17006 (the same names as cas-17k in make-captures.sh)
newkey pool.key
POOL_N=81
mkdir -p pool
cp cas.pem cas-17k.pem
for ((i = 1; i <= POOL_N; i++)); do
    n=$(printf %04d "$i")
    openssl req -new -x509 -key pool.key -days 3650 -sha256 -set_serial "$i" \
        -subj "/C=US/ST=Example State/L=Example City/O=tlsdiag generated certificate authorities/OU=CertificateRequest CA list size tests/CN=tlsdiag Generated Client CA $n" \
        -config ext.cnf -extensions list_ca_ext -out "pool/$n.pem" 2>/dev/null
    cat "pool/$n.pem" >> cas-17k.pem
done
mkdir -p "$OUT/pki"
cp root.pem "$OUT/pki/dec-root.pem"
cp inter.pem "$OUT/pki/dec-inter.pem"
cd "$OUT"

# ---------------------------------------------------------------------------
# 3. openssl s_server -HTTP / s_client captures
# ---------------------------------------------------------------------------
: > "$OUT/dec-outcomes.txt"
OUTCOMES="$OUT/dec-outcomes.txt"
OUTCOME_LINES='Verify return code|verify error|alert|^depth=0 |^CIPHER is|^HTTP |^New, '

mkdir -p "$WORK/www"
SCERT="-cert $P/server.pem -key $P/server.key -cert_chain $P/chain.pem"
SCERT_RSA="-cert $P/server-rsa.pem -key $P/server-rsa.key -cert_chain $P/chain.pem"
CCERT="-cert $P/client.pem -key $P/client.key -cert_chain $P/chain.pem"

# run_http NAME PORT "server args" "client args"
#   s_server -HTTP (serves ./index.html verbatim: a complete HTTP/1.0 200
#   response with Content-Length; -www/-WWW answers have no Content-Length,
#   so tshark 4.0 never completes them and shows no status code), -Verify 1
#   (client certificate required), CA list root + intermediate (2 names);
#   s_client with the alice certificate sends the GET and waits for the close
run_http() {
    local name=$1 port=$2 sargs=$3 cargs=$4
    log "== $name (port $port)"
    local body="$name: hello from openssl s_server"$'\n'
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "${#body}" "$body" > "$WORK/www/index.html"
    cap_start "$name" "$port"
    # shellcheck disable=SC2086
    (cd "$WORK/www" && exec openssl s_server -accept "127.0.0.1:$port" -naccept 1 -HTTP \
        -no_ticket -num_tickets 0 -Verify 1 -verify_return_error -CAfile "$P/cas.pem" $sargs) \
        >"$WORK/srv-$name.log" 2>&1 </dev/null &
    local spid=$!
    PIDS+=("$spid")
    wait_port "$port"
    # shellcheck disable=SC2086
    printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' | timeout 20 openssl s_client \
        -connect "127.0.0.1:$port" -servername localhost -CAfile "$P/root.pem" -ign_eof \
        -keylogfile "$OUT/$name.keys" $CCERT $cargs >"$WORK/cli-$name.log" 2>&1 || true
    wait_pid "$spid" 50
    cap_stop
    outcome "$name" "$WORK/srv-$name.log" "$WORK/cli-$name.log"
}

run_http dec-tls12-chacha        44331 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305" ""
run_http dec-tls12-aes128gcm     44332 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256" ""
run_http dec-tls12-cbc-sha1-etm  44333 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA" ""
run_http dec-tls12-cbc-sha1-mte  44334 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA" "-no_etm"
run_http dec-tls12-cbc-sha256    44335 "$SCERT_RSA -tls1_2 -cipher AES256-SHA256" ""
run_http dec-tls12-cbc-sha384-mte 44336 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384" "-no_etm"
# (CCM is not in OpenSSL's DEFAULT cipher list: the client must ask for it)
run_http dec-tls12-aes128ccm     44337 "$SCERT -tls1_2 -cipher ECDHE-ECDSA-AES128-CCM" \
    "-cipher ECDHE-ECDSA-AES128-CCM"
run_http dec-tls13-chacha        44338 "$SCERT -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256" ""
run_http dec-tls13-aes128gcm     44339 "$SCERT -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" ""

# --- interactive s_server (echo mode) -------------------------------------
# stdin of both sides are FIFOs kept open by this shell (fd 7 = server,
# fd 8 = client); every write becomes one TLS record (application data).
# chat_start NAME PORT "server args" "client args" / chat_end
chat_start() {
    CH_NAME=$1; CH_PORT=$2
    local sargs=$3 cargs=$4
    CH_SIN=$WORK/$CH_NAME.srv.in; CH_CIN=$WORK/$CH_NAME.cli.in
    CH_SLOG=$WORK/srv-$CH_NAME.log; CH_CLOG=$WORK/cli-$CH_NAME.log
    cap_start "$CH_NAME" "$CH_PORT"
    mkfifo "$CH_SIN" "$CH_CIN"
    exec 7<>"$CH_SIN" 8<>"$CH_CIN"
    # shellcheck disable=SC2086
    openssl s_server -accept "127.0.0.1:$CH_PORT" -naccept 1 -no_ticket -num_tickets 0 -no_cache \
        $sargs <"$CH_SIN" >"$CH_SLOG" 2>&1 7>&- 8>&- &
    CH_SPID=$!
    PIDS+=("$CH_SPID")
    wait_port "$CH_PORT"
    # shellcheck disable=SC2086
    timeout 30 openssl s_client -connect "127.0.0.1:$CH_PORT" -servername localhost \
        -CAfile "$P/root.pem" -keylogfile "$OUT/$CH_NAME.keys" $cargs \
        <"$CH_CIN" >"$CH_CLOG" 2>&1 7>&- 8>&- &
    CH_CPID=$!
    PIDS+=("$CH_CPID")
    wait_file_grep "$CH_CLOG" 'Verify return code' 50 || true
    sleep 0.5
}
# put FD STRING: hand STRING to a peer's stdin in ONE write() (bash's own
# printf/echo are line-buffered and would write line by line, and s_server /
# s_client could then turn one message into several records, by chance)
put() {
    printf '%s' "$2" > "$WORK/chunk"
    cat "$WORK/chunk" >&"$1"
}
chat_end() {
    sleep 0.5
    put 8 $'Q\n' || true                             # s_client: Q = close
    sleep 0.3
    exec 8>&- 7>&-
    wait_pid "$CH_CPID" 50
    wait_pid "$CH_SPID" 50
    cap_stop
    outcome "$CH_NAME" "$CH_SLOG" "$CH_CLOG"
}

# TLS 1.0, AES128-SHA (RSA key exchange, CBC with the IV chained from the
# previous record; OpenSSL sends an empty record before each application data
# record, its BEAST countermeasure): two client writes, three server writes.
# dec-tls10-cbc negotiates encrypt_then_mac (OpenSSL's default, also in
# TLS 1.0), dec-tls10-cbc-mte does not (client -no_etm): classic TLS 1.0.
run_tls10() {   # run_tls10 NAME PORT "extra client args"
    log "== $1 (port $2)"
    chat_start "$1" "$2" \
        "$SCERT_RSA -tls1 -cipher AES128-SHA:@SECLEVEL=0 -Verify 1 -verify_return_error -CAfile $P/cas.pem" \
        "$CCERT -tls1 -cipher AES128-SHA:@SECLEVEL=0 $3"
    put 8 $'GET / HTTP/1.0\r\n';                         sleep 0.4
    put 8 $'Host: localhost\r\n\r\n';                    sleep 0.4
    put 7 $'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n'; sleep 0.3
    put 7 $'Content-Length: 33\r\n\r\n';                 sleep 0.3
    put 7 $'hello over TLS 1.0 CBC, chained\n\n'
    chat_end
}
run_tls10 dec-tls10-cbc 44340 ""
run_tls10 dec-tls10-cbc-mte 44343 "-no_etm"

# TLS 1.2 renegotiation requested by the server ('R'), after the GET, with a
# ~17 KB CA list in the renegotiated (encrypted) CertificateRequest
log "== dec-tls12-reneg-ca-17k (port 44341)"
chat_start dec-tls12-reneg-ca-17k 44341 "$SCERT -tls1_2 -CAfile $P/cas-17k.pem" "$CCERT -tls1_2"
put 8 $'GET /secure/ HTTP/1.0\r\nHost: localhost\r\n\r\n'
sleep 0.5
put 7 $'R\n'
sleep 1
body=$'secure content after renegotiation with a 17 KB CA list\n'
printf -v resp 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body"
put 7 "$resp"
chat_end

# TLS 1.3 post-handshake auth ('c'); the client has no certificate and
# answers the post-handshake CertificateRequest with an empty Certificate
log "== dec-tls13-pha-empty (port 44342)"
chat_start dec-tls13-pha-empty 44342 "$SCERT -tls1_3 -CAfile $P/cas.pem" "-tls1_3 -enable_pha"
put 8 $'GET /secure/ HTTP/1.0\r\nHost: localhost\r\n\r\n'
sleep 0.5
put 7 $'c\n'
sleep 1
body=$'post-handshake auth: no client certificate\n'
printf -v resp 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' "${#body}" "$body"
put 7 "$resp"
chat_end

# ---------------------------------------------------------------------------
# 4. nginx TLS 1.3, ssl_verify_client optional, 17 KB CA list, curl without
#    a client certificate -> empty Certificate, HTTP 403
# ---------------------------------------------------------------------------
NG=$WORK/nginx
mkdir -p "$NG/logs" "$NG/html/secure"
echo "secure page" > "$NG/html/secure/index.html"
cat > "$NG/nginx.conf" <<EOF
daemon on;
master_process on;
worker_processes 1;
user root;
pid $NG/nginx.pid;
error_log $NG/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $NG/logs/access.log;
    client_body_temp_path $NG/tmp_body;
    proxy_temp_path $NG/tmp_proxy;
    fastcgi_temp_path $NG/tmp_fastcgi;
    uwsgi_temp_path $NG/tmp_uwsgi;
    scgi_temp_path $NG/tmp_scgi;
    default_type text/plain;
    keepalive_timeout 5;
    ssl_certificate $P/server-fullchain.pem;
    ssl_certificate_key $P/server.key;
    ssl_session_tickets off;
    ssl_session_cache off;
    server {
        listen 127.0.0.1:44345 ssl;
        server_name localhost;
        ssl_protocols TLSv1.3;
        ssl_client_certificate $P/cas-17k.pem;
        ssl_verify_client optional;
        root $NG/html;
        location / {
            if (\$ssl_client_verify != SUCCESS) { return 403; }
        }
    }
}
EOF
log "== dec-tls13-empty-cert-403 (nginx, port 44345)"
nginx -t -q -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
wait_port 44345
cap_start dec-tls13-empty-cert-403 44345
SSLKEYLOGFILE="$OUT/dec-tls13-empty-cert-403.keys" timeout 20 curl -sS --http1.1 --tlsv1.3 \
    --cacert "$P/root.pem" -o /dev/null -w 'HTTP %{http_code} (curl)\n' \
    https://127.0.0.1:44345/secure/ >"$WORK/curl-dec-tls13-empty-cert-403.log" 2>&1 || true
cap_stop
outcome dec-tls13-empty-cert-403 /dev/null "$WORK/curl-dec-tls13-empty-cert-403.log"
kill -QUIT "$(cat "$NG/nginx.pid")"
for ((i = 0; i < 50; i++)); do [ -f "$NG/nginx.pid" ] || break; sleep 0.1; done
rm -f "$NG/nginx.pid"

# ---------------------------------------------------------------------------
# 5. wrong key log, DSB copies, decryption checks
# ---------------------------------------------------------------------------
CAPS=(dec-tls12-chacha dec-tls12-aes128gcm dec-tls12-cbc-sha1-etm dec-tls12-cbc-sha1-mte
      dec-tls12-cbc-sha256 dec-tls12-cbc-sha384-mte dec-tls12-aes128ccm dec-tls10-cbc dec-tls10-cbc-mte
      dec-tls13-chacha dec-tls13-aes128gcm dec-tls12-reneg-ca-17k dec-tls13-empty-cert-403
      dec-tls13-pha-empty)

# right CLIENT_RANDOM, master secret with its first 8 hex digits changed
# (each digit d -> d xor 8), everything else (and the # line) kept
python3 - dec-tls12-aes128gcm.keys dec-tls12-wrong-keys.keys <<'PY'
import sys
out = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3 and f[0] == "CLIENT_RANDOM":
        ms = "".join("%x" % (int(c, 16) ^ 8) for c in f[2][:8]) + f[2][8:]
        line = "%s %s %s\n" % (f[0], f[1], ms)
    out.append(line)
open(sys.argv[2], "w").write("".join(out))
PY

log "== DSB copies and decryption checks"
EXTRA_17K="-o gui.max_tree_depth:1000"
extra_of() { case $1 in *-17k*|*-403*) echo "$EXTRA_17K" ;; *) echo "" ;; esac; }
count_fin() {   # count_fin FILE [tshark args] -> number of Finished messages
    # shellcheck disable=SC2046
    tshark -r "$1" "${@:2}" -o tcp.reassemble_out_of_order:TRUE -Y 'tls.handshake.type == 20' \
        -T fields -e tls.handshake.type 2>/dev/null | tr ',' '\n' | grep -c '^20$' || true
}
for n in "${CAPS[@]}"; do
    [ -s "$n.pcap" ] || die "$n.pcap missing"
    [ -s "$n.keys" ] || die "$n.keys missing"
    editcap --inject-secrets "tls,$n.keys" "$n.pcap" "$n-dsb.pcapng"
    # shellcheck disable=SC2046
    k=$(count_fin "$n.pcap" $(extra_of "$n") -o "tls.keylog_file:$n.keys")
    # shellcheck disable=SC2046
    d=$(count_fin "$n-dsb.pcapng" $(extra_of "$n"))
    log "$n: Finished with key log $k, with DSB $d"
    [ "$k" -ge 2 ] && [ "$d" = "$k" ] || die "$n does not decrypt (Finished: keys $k, dsb $d)"
done
w=$(count_fin dec-tls12-aes128gcm.pcap -o tls.keylog_file:dec-tls12-wrong-keys.keys)
log "dec-tls12-aes128gcm with dec-tls12-wrong-keys.keys: Finished $w (expected 0)"
[ "$w" = 0 ] || die "wrong key log decrypts?"

{
    echo "# versions: $(openssl version) | $(curl --version | head -1 | cut -d' ' -f1-2) | $(nginx -v 2>&1)"
    echo "#           $(tcpdump --version 2>&1 | head -1) | $(tshark --version 2>/dev/null | head -1)"
} >> dec-outcomes.txt

# ---------------------------------------------------------------------------
# 6. selection rows (dec-* only) and tshark ground truth for the new files
# ---------------------------------------------------------------------------
SRC="tlsdiag:captures/make-decryption-captures.sh"
LIC="MIT OR Apache-2.0 (tlsdiag's own, generated on loopback)"
notes_of() {
    case $1 in
    dec-tls12-chacha) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305; CR (2 names), client cert (chain of 2); HTTP/1.0 200 inside TLS" ;;
    dec-tls12-aes128gcm) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256; CR (2 names), client cert; HTTP 200 inside TLS (dec-tls12-wrong-keys.keys = same client random, wrong master secret)" ;;
    dec-tls12-cbc-sha1-etm) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-AES128-SHA with encrypt_then_mac; CR, client cert; HTTP 200 inside TLS" ;;
    dec-tls12-cbc-sha1-mte) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-AES128-SHA, client -no_etm (MAC-then-encrypt); CR, client cert; HTTP 200 inside TLS" ;;
    dec-tls12-cbc-sha256) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 AES256-SHA256 (RSA key exchange, RSA server key) with encrypt_then_mac; CR, client cert; HTTP 200 inside TLS" ;;
    dec-tls12-cbc-sha384-mte) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-AES256-SHA384 (SHA-384 PRF), client -no_etm (MAC-then-encrypt); CR, client cert; HTTP 200 inside TLS" ;;
    dec-tls12-aes128ccm) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.2 ECDHE-ECDSA-AES128-CCM; CR, client cert; HTTP 200 inside TLS" ;;
    dec-tls10-cbc) echo "[decrypt] openssl 3.0 echo mode, TLS 1.0 AES128-SHA (RSA key exchange, SECLEVEL=0) with encrypt_then_mac, CBC IV chained across records; CR, client cert; request in 2 writes, response in 3, each write = empty record + data record; HTTP 200" ;;
    dec-tls10-cbc-mte) echo "[decrypt] same as dec-tls10-cbc but client -no_etm: TLS 1.0 AES128-SHA MAC-then-encrypt, chained CBC IV, empty records before each data record; HTTP 200" ;;
    dec-tls13-chacha) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.3 TLS_CHACHA20_POLY1305_SHA256; encrypted CR (2 names), client cert; HTTP 200 inside TLS" ;;
    dec-tls13-aes128gcm) echo "[decrypt] openssl 3.0 -HTTP, TLS 1.3 TLS_AES_128_GCM_SHA256; encrypted CR (2 names), client cert; HTTP 200 inside TLS" ;;
    dec-tls12-reneg-ca-17k) echo "[decrypt] openssl 3.0 'R', TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384: GET, then renegotiation under encryption whose CR has a ~17 KB CA list (83 names, two records); client cert; HTTP 200" ;;
    dec-tls13-empty-cert-403) echo "[decrypt] nginx 1.22 TLS 1.3 ssl_verify_client optional with a ~17 KB CA list + curl without cert: encrypted CR (83 names, two records), EMPTY client Certificate, HTTP 403 inside TLS" ;;
    dec-tls13-pha-empty) echo "[decrypt] openssl 3.0 'c' + s_client -enable_pha without cert, TLS 1.3: post-handshake CR after the GET, EMPTY client Certificate + Finished; HTTP 200" ;;
    esac
}
SEL=$WORK/selection-dec.tsv
: > "$SEL"
for n in "${CAPS[@]}"; do
    x=$(extra_of "$n"); x=${x:--}
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n.pcap" "$SRC" "$LIC" "$n.keys" "$(notes_of "$n")" "$x" >> "$SEL"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n-dsb.pcapng" "$SRC" "$LIC" "-" \
        "[format] $n.pcap as pcapng with its key log injected as a Decryption Secrets Block (editcap --inject-secrets)" "$x" >> "$SEL"
done
# selection.tsv: keep every non-dec row, then the dec rows
{
    grep -vE '^(dec-|# dec-\* captures)' selection.tsv || true
    echo "# dec-* captures: made by make-decryption-captures.sh (rows written by that script)"
    cat "$SEL"
} > "$WORK/selection.new"
cat "$WORK/selection.new" > selection.tsv

if [ "${NO_TRUTH:-0}" != 1 ]; then
    [ -f "$TSHARK_TRUTH" ] || die "tshark_truth.py not found (set TSHARK_TRUTH or NO_TRUTH=1)"
    log "== tshark ground truth for the dec-* files ($TSHARK_TRUTH)"
    python3 "$TSHARK_TRUTH" --root "$OUT" --select "$SEL" --manifest "$WORK/MANIFEST-dec.tsv" \
        --json-dir "$WORK/truth" 2>"$WORK/truth.err" \
        || { cat "$WORK/truth.err" >&2; die "tshark_truth.py failed"; }
    # same columns as MANIFEST.tsv?
    [ "$(grep -v '^#' "$WORK/MANIFEST-dec.tsv" | head -1)" = "$(grep -v '^#' MANIFEST.tsv | head -1)" ] \
        || die "MANIFEST.tsv columns differ from the truth script's"
    {
        grep -v '^dec-' MANIFEST.tsv
        grep -v '^#' "$WORK/MANIFEST-dec.tsv" | tail -n +2
    } > "$WORK/MANIFEST.new"
    cat "$WORK/MANIFEST.new" > MANIFEST.tsv
    mkdir -p truth
    cp "$WORK"/truth/dec-*.json truth/
    grep -q 'truth script error' "$WORK/MANIFEST-dec.tsv" && die "truth script error (see MANIFEST.tsv)"
fi

log "done in $(( $(date +%s) - T0 )) s: $(cat dec-* | wc -c) bytes of dec-* files"

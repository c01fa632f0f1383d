#!/usr/bin/env bash
# make-captures.sh - regenerate tlsdiag's own corpus of REAL loopback captures.
#
# What it does
#   * builds a throw-away PKI in a temp dir (root CA, intermediate CA, server
#     and client leaves, plus special certificates: expired, wrong EKU, issued
#     by an unlisted CA, a "self-issued" intermediate, ~200 CA certs with long
#     subjects for big CertificateRequest CA lists),
#   * starts real TLS software on 127.0.0.1 (openssl s_server/s_client 3.0,
#     nginx, Apache httpd + mod_ssl, curl), one port per capture (44301..),
#   * records each exchange with `tcpdump -i lo -U -s 0 -w X.pcap 'tcp port P'`
#     and saves the NSS key log of every TLS capture as X.keys,
#   * derives pcapng-with-DSB / gzip / zstd copies with editcap, gzip, zstd,
#   * runs the shared tshark ground-truth script on the result
#     (selection.tsv -> MANIFEST.tsv + truth/*.json).
#
# How to run
#   sudo bash captures/make-captures.sh          (needs root: tcpdump on lo)
#   KEEP_WORK=1 keeps the temp dir (PKI, server configs and logs) for debugging.
#   Takes about 1 minute.  Everything it writes goes into the directory of
#   this script: *.pcap, *.keys, *.pcapng, *.gz, *.zst, pki/, truth/,
#   MANIFEST.tsv, outcomes.txt, versions.txt.  README.md and selection.tsv
#   are hand-written and kept (selection.tsv lists the captures for the truth
#   script: add a row there when adding a capture here).
#   Old generated files are deleted first, so the script is idempotent
#   (the certificates, keys and random values differ from run to run, so the
#   byte-level contents and some lengths - signatures, DH shares - change;
#   CA-list sizes, message counts, alerts and HTTP codes do not).
#
# Needs (installed with apt-get if missing; Debian 12 package names):
#   openssl (3.0), curl, tcpdump, tshark + wireshark-common (editcap,
#   capinfos), nginx, apache2, zstd, python3, iproute2 (ss), gzip.
#   The ground-truth step needs the shared script
#   ../../shared/tools/tshark_truth.py (override with TSHARK_TRUTH=path,
#   skip with NO_TRUTH=1).
#
# Network: only 127.0.0.1 is used.  Every server started here is stopped
# before the script exits (also on error, via the EXIT trap); all waits are
# bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
SHARED_TRUTH_DEFAULT="$HERE/../../shared/tools/tshark_truth.py"
TSHARK_TRUTH=${TSHARK_TRUTH:-$SHARED_TRUTH_DEFAULT}
[ -f "$TSHARK_TRUTH" ] || TSHARK_TRUTH=/work/shared/tools/tshark_truth.py

log() { printf '[make-captures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=captures/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------
need_pkgs=()
command -v openssl  >/dev/null || need_pkgs+=(openssl)
command -v curl     >/dev/null || need_pkgs+=(curl)
command -v tcpdump  >/dev/null || need_pkgs+=(tcpdump)
command -v tshark   >/dev/null || need_pkgs+=(tshark)
command -v editcap  >/dev/null || need_pkgs+=(wireshark-common)
command -v capinfos >/dev/null || need_pkgs+=(wireshark-common)
command -v nginx    >/dev/null || need_pkgs+=(nginx)
command -v apache2  >/dev/null || [ -x /usr/sbin/apache2 ] || need_pkgs+=(apache2)
command -v zstd     >/dev/null || need_pkgs+=(zstd)
command -v python3  >/dev/null || need_pkgs+=(python3)
command -v ss       >/dev/null || need_pkgs+=(iproute2)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]} and not root"
    log "installing ${need_pkgs[*]}"
    # keep apt from starting the distribution's nginx/apache services
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
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
APACHE2=$(command -v apache2 || echo /usr/sbin/apache2)

# ---------------------------------------------------------------------------
# 1. clean output, temp dir, process bookkeeping
# ---------------------------------------------------------------------------
cd "$OUT"
rm -f ./*.pcap ./*.pcapng ./*.keys ./*.pcap.gz ./*.pcapng.zst MANIFEST.tsv versions.txt outcomes.txt
rm -rf ./truth ./pki

WORK=$(mktemp -d /tmp/tlsdiag-captures.XXXXXX)
chmod 755 "$WORK"
PIDS=()           # every background process we started
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
    # nginx and apache daemonize: stop them through their pid files
    [ -f "$WORK/nginx/nginx.pid" ] && kill -QUIT "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    [ -f "$WORK/apache/httpd.pid" ] && kill -TERM "$(cat "$WORK/apache/httpd.pid")" 2>/dev/null || true
    sleep 0.3
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# wait until PID exits (max $2 tenths of a second), then make sure it is gone

# s_server in the background: srv_start PORT LOGNAME [s_server args...]
# stdin is /dev/null: only for -HTTP/-www servers (the echo mode reads stdin
# and ends the connection on EOF; see run_interactive).  cwd = $WORK/www.
srv_start() {
    local port=$1 name=$2; shift 2
    (cd "$WORK/www" && exec openssl s_server -accept "127.0.0.1:$port" -naccept 1 "$@") \
        >"$WORK/srv-$name.log" 2>&1 </dev/null &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_port "$port"
}

# ---------------------------------------------------------------------------
# 2. PKI
# ---------------------------------------------------------------------------
log "building PKI in $WORK/pki"
P=$WORK/pki
mkdir -p "$P"
cd "$P"

write_ext_cnf
cat >> ext.cnf <<'EOF'

[client_serverauth_only_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = email:mallory@example.test
EOF

ROOT_DN="/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Root CA"
selfsigned root "$ROOT_DN"
issue inter "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Intermediate CA" root inter_ext 5475
issue server "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_ext
issue client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=alice" inter client_ext
issue client-serverauth "/C=US/O=tlsdiag test PKI/OU=Clients/CN=mallory (serverAuth EKU only)" \
    inter client_serverauth_only_ext
# a CA that the servers do not list and do not trust
selfsigned other-root "/C=US/O=Unrelated Org/CN=Unlisted Client Root CA"
issue client-unlisted "/C=US/O=Unrelated Org/OU=Clients/CN=bob" other-root client_ext
# "self-issued" intermediate: same DN as the root (Subject == Issuer), but
# its own key pair, signed by the root's key
issue selfiss "$ROOT_DN" root inter_ext 5475
issue server-selfiss "/C=US/O=tlsdiag test PKI/CN=localhost" selfiss server_ext

# expired certificates need explicit dates: openssl ca -startdate/-enddate
mkdir -p ca-db/newcerts
: > ca-db/index.txt
openssl rand -hex 8 > ca-db/serial
cat > ca.cnf <<EOF
[ca]
default_ca = ca_inter
[ca_inter]
dir = $P/ca-db
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
EOF
dated() {       # dated NAME SUBJ EXT START END
    newkey "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -config ext.cnf -out "$1.csr" 2>/dev/null
    openssl ca -batch -notext -config ca.cnf -cert inter.pem -keyfile inter.key \
        -startdate "$4" -enddate "$5" -extfile ext.cnf -extensions "$3" \
        -in "$1.csr" -out "$1.pem" 2>/dev/null
}
dated server-expired "/C=US/O=tlsdiag test PKI/CN=localhost" server_ext 20200101000000Z 20210101000000Z
dated client-expired "/C=US/O=tlsdiag test PKI/OU=Clients/CN=carol (expired)" client_ext \
    20200101000000Z 20210101000000Z

cat root.pem inter.pem > cas.pem                 # the "small" CA list: 2 names
cat inter.pem > chain.pem                        # normal server/client chain
cat server.pem inter.pem > server-fullchain.pem  # for nginx / apache
cat root.pem inter.pem > chain-root-inter.pem    # wrong order (leaf, root, inter)
cat selfiss.pem > chain-selfiss.pem
cat selfiss.pem root.pem > chain-selfiss-root.pem

# pool of CA certificates with long-ish subjects for the big CA lists
dnlist_len() {  # total bytes of the DN list (2-byte length + DER Name each)
    python3 - "$1" <<'PY'
import base64, re, sys
def L(b, i):
    l = b[i]; i += 1
    if l < 0x80:
        return l, i
    n = l & 0x7F
    return int.from_bytes(b[i:i + n], "big"), i + n
tot = 0
for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                     open(sys.argv[1]).read(), re.S):
    d = base64.b64decode(m.group(1))
    _, i = L(d, 1)          # -> tbsCertificate
    _, i = L(d, i + 1)      # -> first field of tbs
    fields = []
    while len(fields) < 6:
        l, j = L(d, i + 1)
        fields.append(d[i:j + l]); i = j + l
    if fields[0][0] == 0xA0:
        fields = fields[1:]
    tot += 2 + len(fields[4])
print(tot)
PY
}
newkey pool.key
POOL_N=200
log "generating $POOL_N list CAs"
mkdir -p pool
for ((i = 1; i <= POOL_N; i++)); do
    n=$(printf %04d "$i")
    openssl req -new -x509 -key pool.key -days 3650 -sha256 -set_serial "$i" \
        -subj "/C=US/ST=Example State/L=Example City/O=tlsdiag generated certificate authorities/OU=CertificateRequest CA list size tests/CN=tlsdiag Generated Client CA $n" \
        -config ext.cnf -extensions list_ca_ext -out "pool/$n.pem" 2>/dev/null
done
ENTRY=$(dnlist_len pool/0001.pem)
BASE=$(dnlist_len cas.pem)
# cas-NAME.pem = root + intermediate + as many pool CAs as fit under TARGET
make_list() {   # make_list NAME TARGET
    local k=$(( ($2 - BASE) / ENTRY )) i
    [ "$k" -le "$POOL_N" ] || die "pool too small for $2"
    cp cas.pem "cas-$1.pem"
    for ((i = 1; i <= k; i++)); do cat "pool/$(printf %04d "$i").pem" >> "cas-$1.pem"; done
    log "CA list $1: $((k + 2)) names, $(dnlist_len "cas-$1.pem") bytes (entry $ENTRY, base $BASE)"
}
make_list 11k 11600     # < 12288
make_list 13k 13300     # 12288 .. 16383
make_list 17k 17100     # >= 16384: CertificateRequest spans two TLS records
make_list 37k 37200

mkdir -p "$OUT/pki"
cp root.pem inter.pem other-root.pem selfiss.pem "$OUT/pki/"
cd "$OUT"

# ---------------------------------------------------------------------------
# 3. openssl s_server / s_client captures
# ---------------------------------------------------------------------------
# outcomes.txt: what the TLS software itself reported (verification results,
# alerts, HTTP status), for README.md
: > "$OUT/outcomes.txt"
OUTCOMES="$OUT/outcomes.txt"
OUTCOME_LINES='Verify return code|verify error|alert|SSL_do_handshake|^HTTP '
# s_server -HTTP serves ./index.html verbatim (status line and headers are in
# the file), so the answer is a small, complete HTTP/1.0 response
mkdir -p "$WORK/www"
BODY=$'hello from openssl s_server\n'
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "${#BODY}" "$BODY" > "$WORK/www/index.html"
GET_REQ=$'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n'

# run_pair NAME PORT "server args" "client args"
#   s_server -HTTP -naccept 1 <server args>  /  s_client <client args> sending GET
run_pair() {
    local name=$1 port=$2 sargs=$3 cargs=$4
    log "== $name (port $port)"
    cap_start "$name" "$port"
    # shellcheck disable=SC2086
    srv_start "$port" "$name" -HTTP -no_ticket -num_tickets 0 $sargs
    # shellcheck disable=SC2086
    printf '%s' "$GET_REQ" | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
        -servername localhost -CAfile "$P/root.pem" -ign_eof \
        -keylogfile "$OUT/$name.keys" $cargs >"$WORK/cli-$name.log" 2>&1 || true
    wait_pid "$SRV_PID" 50
    cap_stop
    outcome "$name" "$WORK/srv-$name.log" "$WORK/cli-$name.log"
}

SCERT="-cert $P/server.pem -key $P/server.key -cert_chain $P/chain.pem"
CCERT="-cert $P/client.pem -key $P/client.key -cert_chain $P/chain.pem"

run_pair tls12-cr-small 44301 "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas.pem" \
    "$CCERT -tls1_2"
run_pair tls13-cr-small 44302 "$SCERT -tls1_3 -Verify 1 -verify_return_error -CAfile $P/cas.pem" \
    "$CCERT -tls1_3"
run_pair tls12-ca-list-11k 44303 "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas-11k.pem" \
    "$CCERT -tls1_2"
run_pair tls12-ca-list-13k 44304 "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas-13k.pem" \
    "$CCERT -tls1_2"
run_pair tls12-ca-list-17k 44305 "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas-17k.pem" \
    "$CCERT -tls1_2"
run_pair tls12-ca-list-37k 44306 "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas-37k.pem" \
    "$CCERT -tls1_2"
run_pair tls13-ca-list-17k 44307 "$SCERT -tls1_3 -Verify 1 -verify_return_error -CAfile $P/cas-17k.pem" \
    "$CCERT -tls1_3"
run_pair tls12-ca-list-empty 44308 \
    "$SCERT -tls1_2 -Verify 1 -verify_return_error -CAfile $P/cas.pem -no_ca_names" "$CCERT -tls1_2"
run_pair tls12-client-cert-empty 44309 "$SCERT -tls1_2 -verify 1 -CAfile $P/cas.pem" "-tls1_2"
run_pair tls12-client-cert-empty-required 44310 \
    "$SCERT -tls1_2 -Verify 1 -CAfile $P/cas.pem" "-tls1_2"
run_pair tls13-client-cert-empty-required 44327 \
    "$SCERT -tls1_3 -Verify 1 -CAfile $P/cas.pem" "-tls1_3"
run_pair tls12-self-issued-intermediate 44311 \
    "-cert $P/server-selfiss.pem -key $P/server-selfiss.key -cert_chain $P/chain-selfiss.pem -tls1_2 -verify 1 -CAfile $P/cas.pem" \
    "$CCERT -tls1_2"
run_pair tls12-self-issued-intermediate-with-root 44312 \
    "-cert $P/server-selfiss.pem -key $P/server-selfiss.key -cert_chain $P/chain-selfiss-root.pem -tls1_2 -verify 1 -CAfile $P/cas.pem" \
    "$CCERT -tls1_2"
run_pair tls12-chain-out-of-order 44313 \
    "-cert $P/server.pem -key $P/server.key -cert_chain $P/chain-root-inter.pem -tls1_2 -verify 1 -CAfile $P/cas.pem" \
    "$CCERT -tls1_2"
run_pair tls12-expired-leaf 44314 \
    "-cert $P/server-expired.pem -key $P/server-expired.key -cert_chain $P/chain.pem -tls1_2 -verify 1 -CAfile $P/cas.pem" \
    "$CCERT -tls1_2"
run_pair tls12-client-cert-expired 44315 \
    "$SCERT -tls1_2 -verify 1 -verify_return_error -CAfile $P/cas.pem" \
    "-cert $P/client-expired.pem -key $P/client-expired.key -cert_chain $P/chain.pem -tls1_2"
run_pair tls12-client-cert-no-clientauth 44316 \
    "$SCERT -tls1_2 -verify 1 -verify_return_error -CAfile $P/cas.pem" \
    "-cert $P/client-serverauth.pem -key $P/client-serverauth.key -cert_chain $P/chain.pem -tls1_2"
run_pair tls12-client-cert-unlisted-ca 44317 \
    "$SCERT -tls1_2 -verify 1 -verify_return_error -CAfile $P/cas.pem" \
    "-cert $P/client-unlisted.pem -key $P/client-unlisted.key -tls1_2"

# --- interactive s_server (echo mode): renegotiation and TLS 1.3 PHA -------
# s_server reads commands from stdin ("R" = renegotiate and request a client
# certificate, "c" = TLS 1.3 post-handshake CertificateRequest); stdin EOF
# ends its connection, so both sides get FIFOs that we keep open.
# run_interactive NAME PORT CMD "server args" "client args"
run_interactive() {
    local name=$1 port=$2 cmd=$3 sargs=$4 cargs=$5
    log "== $name (port $port, server command '$cmd')"
    local sin=$WORK/$name.srv.in cin=$WORK/$name.cli.in
    local slog=$WORK/srv-$name.log clog=$WORK/cli-$name.log
    cap_start "$name" "$port"
    mkfifo "$sin" "$cin"
    exec 7<>"$sin" 8<>"$cin"
    # shellcheck disable=SC2086
    openssl s_server -accept "127.0.0.1:$port" -naccept 1 -no_ticket -num_tickets 0 -no_cache $sargs \
        <"$sin" >"$slog" 2>&1 7>&- 8>&- &
    local spid=$!
    PIDS+=("$spid")
    wait_port "$port"
    # shellcheck disable=SC2086
    timeout 30 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
        -CAfile "$P/root.pem" -keylogfile "$OUT/$name.keys" $cargs <"$cin" >"$clog" 2>&1 7>&- 8>&- &
    local cpid=$!
    PIDS+=("$cpid")
    wait_file_grep "$clog" 'Verify return code' 50 || true
    sleep 0.5
    # like IIS / Apache: the request comes first, then the server asks for a
    # client certificate (renegotiation / post-handshake auth), then answers
    printf 'GET /secure/ HTTP/1.0\r\nHost: localhost\r\n\r\n' >&8
    sleep 0.5
    printf '%s\n' "$cmd" >&7                          # server: request client cert
    sleep 1
    local body=$'secure content after client certificate authentication\n'
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
        "${#body}" "$body" >&7
    sleep 0.5
    printf 'Q\n' >&8 || true                          # s_client: Q = close
    sleep 0.3
    exec 8>&- 7>&-                                    # EOF on both stdins
    wait_pid "$cpid" 50
    wait_pid "$spid" 50
    cap_stop
    outcome "$name" "$slog" "$clog"
}

run_interactive tls12-renegotiation 44318 R "$SCERT -tls1_2 -CAfile $P/cas.pem" "$CCERT -tls1_2"
run_interactive tls13-pha 44319 c "$SCERT -tls1_3 -CAfile $P/cas.pem" "$CCERT -tls1_3 -enable_pha"

# ---------------------------------------------------------------------------
# 4. nginx: optional client cert + 403 over TLS 1.2 / 1.3; plain HTTP 401/403
# ---------------------------------------------------------------------------
NG=$WORK/nginx
mkdir -p "$NG/logs" "$NG/html/private" "$NG/html/forbidden" "$NG/html/secure"
echo "hello from nginx" > "$NG/html/index.html"
echo "private page" > "$NG/html/private/index.html"
echo "secure page" > "$NG/html/secure/index.html"
printf 'user:%s\n' "$(openssl passwd -apr1 -salt tlsdiag secret)" > "$NG/htpasswd"
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
    ssl_client_certificate $P/cas.pem;
    ssl_verify_client optional;
    ssl_session_tickets off;
    ssl_session_cache off;

    server {   # mTLS, TLS 1.2
        listen 127.0.0.1:44320 ssl;
        server_name localhost;
        ssl_protocols TLSv1.2;
        root $NG/html;
        location / {
            if (\$ssl_client_verify != SUCCESS) { return 403; }
        }
    }
    server {   # mTLS, TLS 1.3
        listen 127.0.0.1:44324 ssl;
        server_name localhost;
        ssl_protocols TLSv1.3;
        root $NG/html;
        location / {
            if (\$ssl_client_verify != SUCCESS) { return 403; }
        }
    }
    server {   # plain HTTP: Basic auth (401) and a forbidden location (403)
        listen 127.0.0.1:44325;
        server_name localhost;
        root $NG/html;
        location /private/ {
            auth_basic "tlsdiag test realm";
            auth_basic_user_file $NG/htpasswd;
        }
        location /forbidden/ { return 403; }
    }
}
EOF
log "== nginx"
nginx -t -q -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
wait_port 44320; wait_port 44324; wait_port 44325

curl_tls() {    # curl_tls NAME PORT [curl args...]
    local name=$1 port=$2; shift 2
    cap_start "$name" "$port"
    SSLKEYLOGFILE="$OUT/$name.keys" timeout 20 curl -sS --http1.1 --cacert "$P/root.pem" \
        -o /dev/null -w 'HTTP %{http_code} (curl)\n' "$@" >"$WORK/curl-$name.log" 2>&1 || true
    cap_stop
    outcome "$name" /dev/null "$WORK/curl-$name.log"
}
curl_tls nginx-mtls-403 44320 --tlsv1.2 --tls-max 1.2 https://127.0.0.1:44320/secure/
curl_tls nginx-mtls-403-tls13 44324 --tlsv1.3 https://127.0.0.1:44324/secure/

cap_start http-401-403 44325
timeout 20 curl -sS -o /dev/null -w 'HTTP %{http_code} (curl, no credentials)\n' \
    http://127.0.0.1:44325/private/ \
    --next -sS -o /dev/null -w 'HTTP %{http_code} (curl -u user:secret)\n' -u user:secret \
    http://127.0.0.1:44325/private/ \
    --next -sS -o /dev/null -w 'HTTP %{http_code} (curl, /forbidden/)\n' \
    http://127.0.0.1:44325/forbidden/ >"$WORK/curl-http-401-403.log" 2>&1 || true
cap_stop
outcome http-401-403 /dev/null "$WORK/curl-http-401-403.log"

kill -QUIT "$(cat "$NG/nginx.pid")"
for ((i = 0; i < 50; i++)); do [ -f "$NG/nginx.pid" ] || break; sleep 0.1; done
rm -f "$NG/nginx.pid"

# ---------------------------------------------------------------------------
# 5. Apache httpd: SSLVerifyClient require in <Location /secure> under
#    TLS 1.2 -> renegotiation after the request (like IIS)
# ---------------------------------------------------------------------------
AP=$WORK/apache
mkdir -p "$AP/htdocs/secure" "$AP/run" "$AP/logs"
echo "apache root" > "$AP/htdocs/index.html"
echo "apache secure area" > "$AP/htdocs/secure/index.html"
chmod -R a+rX "$AP/htdocs"
M=/usr/lib/apache2/modules
cat > "$AP/httpd.conf" <<EOF
ServerRoot "$AP"
DefaultRuntimeDir "$AP/run"
PidFile "$AP/httpd.pid"
ServerName localhost
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
LoadModule ssl_module $M/mod_ssl.so
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
ErrorLog "$AP/logs/error.log"
LogLevel warn ssl:info
Listen 127.0.0.1:44326
DocumentRoot "$AP/htdocs"
DirectoryIndex index.html
<Directory "$AP/htdocs">
    Require all granted
</Directory>
SSLSessionCache "shmcb:$AP/run/ssl_scache(32768)"
SSLSessionTickets off
<VirtualHost 127.0.0.1:44326>
    SSLEngine on
    SSLProtocol -all +TLSv1.2
    SSLCertificateFile "$P/server.pem"
    SSLCertificateChainFile "$P/chain.pem"
    SSLCertificateKeyFile "$P/server.key"
    SSLCACertificateFile "$P/cas.pem"
    SSLVerifyDepth 3
    <Location /secure>
        SSLVerifyClient require
    </Location>
</VirtualHost>
EOF
log "== apache"
APACHE_OK=1
if ! "$APACHE2" -t -f "$AP/httpd.conf" 2>"$WORK/apache-t.err"; then
    cat "$WORK/apache-t.err" >&2; APACHE_OK=0
fi
if [ "$APACHE_OK" = 1 ] && ! "$APACHE2" -f "$AP/httpd.conf" -k start; then
    log "apache did not start; apache-reneg-tls12 skipped"; APACHE_OK=0
fi
if [ "$APACHE_OK" = 1 ]; then
    wait_port 44326
    curl_tls apache-reneg-tls12 44326 --tlsv1.2 --tls-max 1.2 \
        --cert "$P/client.pem" --key "$P/client.key" https://127.0.0.1:44326/secure/
    "$APACHE2" -f "$AP/httpd.conf" -k stop || kill -TERM "$(cat "$AP/httpd.pid")"
    for ((i = 0; i < 50; i++)); do [ -f "$AP/httpd.pid" ] || break; sleep 0.1; done
    grep -iE 'renegotiat|verify|error' "$AP/logs/error.log" | grep -v AH10159 | head -6 \
        | sed 's/^/    apache: /' >&2 || true
fi

# ---------------------------------------------------------------------------
# 6. derived files: pcapng + Decryption Secrets Block, gzip, zstd
# ---------------------------------------------------------------------------
log "== derived files"
for n in tls12-cr-small tls12-renegotiation; do
    editcap --inject-secrets "tls,$n.keys" "$n.pcap" "$n-dsb.pcapng"
done
gzip -9 -n -c tls12-cr-small.pcap > tls12-cr-small.pcap.gz
editcap -F pcapng tls12-cr-small.pcap "$WORK/tls12-cr-small.pcapng"
zstd -q -19 -f "$WORK/tls12-cr-small.pcapng" -o tls12-cr-small.pcapng.zst

# versions of the software that made the captures
{
    echo "# generated by make-captures.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "openssl: $(openssl version)"
    echo "curl: $(curl --version | head -1)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "apache2: $("$APACHE2" -v 2>/dev/null | head -1)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "kernel: $(uname -sr)"
} > versions.txt

# ---------------------------------------------------------------------------
# 7. check the CertificateRequest sizes, then tshark ground truth
# ---------------------------------------------------------------------------
for n in tls12-ca-list-11k:12288:-1 tls12-ca-list-13k:16383:12288 tls12-ca-list-17k:99999:16384 \
         tls12-ca-list-37k:99999:30000; do
    IFS=: read -r f max min <<<"$n"
    got=$(tshark -r "$f.pcap" -Y 'tls.handshake.type==13' -T fields -e tls.handshake.dnames_len 2>/dev/null | head -1)
    log "$f: dnames_len=$got"
    [ -n "$got" ] && [ "$got" -lt "$max" ] && [ "$got" -ge "$min" ] || die "$f: unexpected dnames_len '$got'"
done

if [ "${NO_TRUTH:-0}" != 1 ]; then
    [ -f "$TSHARK_TRUTH" ] || die "tshark_truth.py not found (set TSHARK_TRUTH or NO_TRUTH=1)"
    log "== tshark ground truth ($TSHARK_TRUTH)"
    python3 "$TSHARK_TRUTH" --root "$OUT" --select "$OUT/selection.tsv" \
        --manifest "$OUT/MANIFEST.tsv" --json-dir "$OUT/truth" 2>"$WORK/truth.err" \
        || { cat "$WORK/truth.err" >&2; die "tshark_truth.py failed"; }
fi

log "done: $(du -sh "$OUT" | cut -f1) in $OUT"

#!/usr/bin/env bash
# make-clientauth-captures.sh - real loopback captures (with NSS key logs) of how TLS
# client-certificate authentication ends, mostly under encryption: TLS 1.2 renegotiation
# (server- and client-initiated), TLS 1.3 main handshake, TLS 1.3 post-handshake auth.
#
#   sudo bash captures/clientauth/make-clientauth-captures.sh      (about 2 minutes)
#
# Runs everything (servers, clients, tcpdump) inside the private network namespace
# tlsdiag-cauth on its loopback (127.0.0.1 only); the namespace and every process started
# are removed at the end, also on error.  KEEP_WORK=1 keeps the temp dir (PKI, configs, logs).
# Writes into this folder only: *.pcap, *.keys, records.tsv, outcomes.txt, versions.txt,
# selection.tsv, MANIFEST.tsv, truth/, pki/ (CA certs).  README.md is hand-written.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=tlsdiag-cauth
log() { printf '[cauth] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------
# 0. outside the namespace: packages, namespace, re-run this script inside it
# ---------------------------------------------------------------------------------------
if [ "${CAUTH_IN_NS:-0}" != 1 ]; then
    [ "$(id -u)" = 0 ] || die "run as root (network namespace, tcpdump)"
    export PATH="$PATH:/usr/sbin:/sbin"
    need=()
    for c in openssl:openssl curl:curl tcpdump:tcpdump tshark:tshark editcap:wireshark-common \
             nginx:nginx apache2:apache2 python3:python3 ss:iproute2 ip:iproute2; do
        command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
    done
    if [ ${#need[@]} -gt 0 ]; then
        made_policy=0     # keep apt from starting the distribution's nginx/apache services
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
        [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
    ip netns exec "$NS" ip link set lo up
    rc=0
    CAUTH_IN_NS=1 ip netns exec "$NS" bash "${BASH_SOURCE[0]}" "$@" || rc=$?
    exit $rc
fi

# ---------------------------------------------------------------------------------------
# 1. inside the namespace
# ---------------------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
APACHE2=$(command -v apache2 || echo /usr/sbin/apache2)
OUT=$HERE
cd "$OUT"
rm -f ./*.pcap ./*.keys records.tsv outcomes.txt versions.txt MANIFEST.tsv selection.tsv
rm -rf ./truth ./pki
WORK=$(mktemp -d /tmp/tlsdiag-cauth.XXXXXX)
chmod 755 "$WORK"
PIDS=()
TCPDUMP_PID=""
CAPS=()            # capture names, in the order made

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
    [ -f "$WORK/apache/httpd.pid" ] && kill -TERM "$(cat "$WORK/apache/httpd.pid")" 2>/dev/null || true
    sleep 0.5
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_pid() {    # wait_pid PID [TENTHS]: wait for it to exit, kill it after TENTHS/10 s
    local pid=$1 n=${2:-100} i
    for ((i = 0; i < n; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still running after $((n / 10))s, killing it"
        kill -TERM "$pid" 2>/dev/null || true; sleep 0.2; kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do port_busy "$1" && return 0; sleep 0.1; done
    die "nothing listening on port $1"
}
wait_file_grep() {  # wait_file_grep FILE REGEX TENTHS
    local i
    for ((i = 0; i < ${3:-100}; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    log "timeout waiting for /$2/ in $1"; return 1
}
cap_start() {   # cap_start NAME PORT
    CAP_NAME=$1
    CAPS+=("$1")
    rm -f "$OUT/$1.pcap"
    tcpdump -i lo -U -s 0 -n -Z root --immediate-mode -w "$OUT/$1.pcap" "tcp port $2" \
        2>"$WORK/tcpdump-$1.err" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    wait_file_grep "$WORK/tcpdump-$1.err" 'listening on' 100 || die "tcpdump did not start"
    sleep 0.2
}
cap_stop() {
    sleep 0.5
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait_pid "$TCPDUMP_PID" 50
    TCPDUMP_PID=""
}

# outcome NAME WHO FILE REGEX: what the software itself said, into outcomes.txt
OUTCOMES=$OUT/outcomes.txt
: > "$OUTCOMES"
OUTCOME_LINES='Verify return code|verify error|verify return:0|alert|RENEGOTIATING|^HTTP |^curl|exit=|post.handshake|Certificate Verification|AH[0-9]+|rejected|error:'
OUTCOME_SKIP='AH00094|AH00489|AH01876|AH01914|AH01964|AH00491|AH00492|renegotiates|Secure Renegotiation'
outcome() {
    local name=$1 who=$2 f=$3 line
    [ -f "$f" ] || return 0
    grep -aE "$OUTCOME_LINES" "$f" 2>/dev/null | grep -avE "$OUTCOME_SKIP" \
        | sed -E 's/^[0-9A-F]{8,}:error:/error:/; s/^[[:space:]]+//; s/^\[[^]]*\] //; s/ \[pid [0-9]+(:tid [0-9]+)?\]//; s/ \[client [0-9.:]+\]//' \
        | grep -v '^depth=' | sort | uniq -c \
        | sed -E 's/^ *([0-9]+) (.*)$/\2 (x\1)/; s/ \(x1\)$//' \
        | while IFS= read -r line; do printf '%s\t%s\t%s\n' "$name" "$who" "$line"; done \
        >> "$OUTCOMES" || true
}

# ---------------------------------------------------------------------------------------
# 2. PKI: ECDSA P-256 root + intermediate, client leaves, unlisted CA, 178 list CAs
# ---------------------------------------------------------------------------------------
log "building PKI"
P=$WORK/pki
mkdir -p "$P" && cd "$P"
cat > ext.cnf <<'EOF'
[req]
distinguished_name = req_dn
[req_dn]
[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = email:alice@example.test
[list_ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
EOF
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 8)"; }
selfsigned() {  # NAME SUBJ
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -subj "$2" -days 7300 -sha256 -set_serial "$(serial)" \
        -config ext.cnf -extensions root_ext -out "$1.pem" 2>/dev/null
}
issue() {       # NAME SUBJ CA EXT [DAYS]
    newkey "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -config ext.cnf -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$(serial)" \
        -days "${5:-3650}" -sha256 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
selfsigned root "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Root CA"
issue inter "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Intermediate CA" root inter_ext 5475
issue server "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_ext
issue client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=alice" inter client_ext
selfsigned other-root "/C=US/O=Unrelated Org/CN=Unlisted Client Root CA"
issue client-unlisted "/C=US/O=Unrelated Org/OU=Clients/CN=bob" other-root client_ext
# expired client certificate (2020-01-01 .. 2021-01-01): openssl ca for explicit dates
mkdir -p ca-db/newcerts; : > ca-db/index.txt; openssl rand -hex 8 > ca-db/serial
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
newkey client-expired.key
openssl req -new -key client-expired.key -subj "/C=US/O=tlsdiag test PKI/OU=Clients/CN=carol (expired)" \
    -config ext.cnf -out client-expired.csr 2>/dev/null
openssl ca -batch -notext -config ca.cnf -cert inter.pem -keyfile inter.key \
    -startdate 20200101000000Z -enddate 20210101000000Z -extfile ext.cnf -extensions client_ext \
    -in client-expired.csr -out client-expired.pem 2>/dev/null
cat root.pem inter.pem > cas.pem                    # small CA list: 2 names
cat server.pem inter.pem > server-fullchain.pem
cat client.pem inter.pem > client-chain2.pem        # curl: leaf + intermediate
cat client-expired.pem inter.pem > client-expired-chain2.pem
# 178 list CAs with fixed-width subjects (206-byte DER names, 208 bytes per CA-list entry):
# root + intermediate (158 bytes) + 178 * 208 = 37182 bytes, 180 names
newkey pool.key
mkdir -p pool
cp cas.pem cas-37k.pem
for ((i = 1; i <= 178; i++)); do
    n=$(printf %04d "$i")
    openssl req -new -x509 -key pool.key -days 3650 -sha256 -set_serial "$i" \
        -subj "/C=US/ST=Example State/L=Example City/O=tlsdiag generated certificate authorities/OU=CertificateRequest CA list size tests/CN=tlsdiag Generated Client CA $n" \
        -config ext.cnf -extensions list_ca_ext -out "pool/$n.pem" 2>/dev/null
    cat "pool/$n.pem" >> cas-37k.pem
done
mkdir -p "$OUT/pki"
cp root.pem inter.pem other-root.pem "$OUT/pki/"
cd "$OUT"

SCERT="-cert $P/server.pem -key $P/server.key -cert_chain $P/inter.pem"
C_VALID2="-cert $P/client.pem -key $P/client.key -cert_chain $P/inter.pem"
C_VALID1="-cert $P/client.pem -key $P/client.key"
C_EXPIRED="-cert $P/client-expired.pem -key $P/client-expired.key -cert_chain $P/inter.pem"
C_WRONGCA="-cert $P/client-unlisted.pem -key $P/client-unlisted.key"

# ---------------------------------------------------------------------------------------
# 3. openssl s_server -HTTP + s_client (TLS 1.3 main handshake)
# ---------------------------------------------------------------------------------------
mkdir -p "$WORK/www"
BODY=$'hello from openssl s_server\n'
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "${#BODY}" "$BODY" > "$WORK/www/index.html"
GET_REQ=$'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n'
SPORT=4433

run_pair() {    # run_pair NAME "server args" "client args"
    local name=$1 sargs=$2 cargs=$3 rc=0
    log "== $name"
    cap_start "$name" "$SPORT"
    # shellcheck disable=SC2086
    (cd "$WORK/www" && exec openssl s_server -accept "127.0.0.1:$SPORT" -naccept 1 -HTTP \
        -no_ticket -num_tickets 0 $SCERT $sargs) >"$WORK/srv-$name.log" 2>&1 </dev/null &
    local spid=$!; PIDS+=("$spid")
    wait_port "$SPORT"
    # shellcheck disable=SC2086
    printf '%s' "$GET_REQ" | timeout 20 openssl s_client -connect "127.0.0.1:$SPORT" \
        -servername localhost -CAfile "$P/root.pem" -ign_eof -keylogfile "$OUT/$name.keys" \
        $cargs >"$WORK/cli-$name.log" 2>&1 || rc=$?
    echo "s_client exit=$rc" >> "$WORK/cli-$name.log"
    wait_pid "$spid" 50
    cap_stop
    outcome "$name" "server (openssl s_server)" "$WORK/srv-$name.log"
    outcome "$name" "client (openssl s_client)" "$WORK/cli-$name.log"
    grep -aE '^HTTP/' "$WORK/cli-$name.log" | head -1 | sed "s/^/$name\tclient (openssl s_client)\tresponse: /" >> "$OUTCOMES" || true
}
T13REQ="-tls1_3 -Verify 1 -verify_return_error -CAfile $P/cas.pem"
run_pair inf-tls13-aes128-valid2 "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_VALID2"
run_pair inf-tls13-aes128-valid1 "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_VALID1"
run_pair inf-tls13-aes256-valid2 "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 $C_VALID2"
run_pair inf-tls13-chacha-valid2 "$T13REQ" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 $C_VALID2"
run_pair inf-tls13-aes128-empty "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256"
run_pair inf-tls13-aes256-empty "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384"
run_pair inf-tls13-chacha-empty "$T13REQ" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"
run_pair inf-tls13-aes128-expired "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_EXPIRED"
run_pair inf-tls13-chacha-expired "$T13REQ" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 $C_EXPIRED"
run_pair inf-tls13-aes128-wrongca "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_WRONGCA"
run_pair inf-tls13-aes256-wrongca "$T13REQ" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 $C_WRONGCA"
run_pair inf-tls13-aes128-nocr "-tls1_3" "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_VALID2"
run_pair inf-tls13-aes256-nocr "-tls1_3" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 $C_VALID2"
run_pair inf-tls13-chacha-nocr "-tls1_3" "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256"
run_pair inf-tls13-aes128-valid2-ca37k "-tls1_3 -Verify 1 -verify_return_error -CAfile $P/cas-37k.pem" \
    "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $C_VALID2"

# ---------------------------------------------------------------------------------------
# 4. interactive s_server / s_client (echo mode, commands on stdin through FIFOs):
#    TLS 1.3 post-handshake auth ("c" typed at the server) and client-initiated TLS 1.2
#    renegotiation ("R" typed at the client)
# ---------------------------------------------------------------------------------------
# run_interactive NAME WHO CMD "server args" "client args"
#   WHO=srv: GET first, then CMD typed at the server, then the server's HTTP answer
#   WHO=cli: CMD typed at the client first, then GET, then the server's HTTP answer
run_interactive() {
    local name=$1 who=$2 cmd=$3 sargs=$4 cargs=$5
    log "== $name ($who types '$cmd')"
    local sin=$WORK/$name.srv.in cin=$WORK/$name.cli.in
    local slog=$WORK/srv-$name.log clog=$WORK/cli-$name.log
    cap_start "$name" "$SPORT"
    mkfifo "$sin" "$cin"
    exec 7<>"$sin" 8<>"$cin"
    # shellcheck disable=SC2086
    openssl s_server -accept "127.0.0.1:$SPORT" -naccept 1 -no_ticket -num_tickets 0 -no_cache \
        $SCERT $sargs <"$sin" >"$slog" 2>&1 7>&- 8>&- &
    local spid=$!; PIDS+=("$spid")
    wait_port "$SPORT"
    # shellcheck disable=SC2086
    (timeout 30 openssl s_client -connect "127.0.0.1:$SPORT" -servername localhost \
        -CAfile "$P/root.pem" -keylogfile "$OUT/$name.keys" $cargs <"$cin" 7>&- 8>&-; \
        echo "s_client exit=$?") >"$clog" 2>&1 7>&- 8>&- &
    local cpid=$!; PIDS+=("$cpid")
    wait_file_grep "$clog" 'Verify return code' 50 || true
    sleep 0.5
    if [ "$who" = cli ]; then
        printf '%s\n' "$cmd" >&8
        sleep 1
        printf 'GET /secure/ HTTP/1.0\r\nHost: localhost\r\n\r\n' >&8 2>/dev/null || true
        sleep 0.5
    else
        printf 'GET /secure/ HTTP/1.0\r\nHost: localhost\r\n\r\n' >&8
        sleep 0.5
        printf '%s\n' "$cmd" >&7
        sleep 1
    fi
    local body=$'secure content after client certificate authentication\n'
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
        "${#body}" "$body" >&7 2>/dev/null || true
    sleep 0.5
    printf 'Q\n' >&8 2>/dev/null || true
    sleep 0.3
    exec 8>&- 7>&-
    wait_pid "$cpid" 50
    wait_pid "$spid" 50
    cap_stop
    outcome "$name" "server (openssl s_server)" "$slog"
    outcome "$name" "client (openssl s_client)" "$clog"
    grep -aE '^HTTP/' "$clog" | head -1 | sed "s/^/$name\tclient (openssl s_client)\tresponse: /" >> "$OUTCOMES" || true
}
run_interactive inf-tls13-pha-valid srv c "-tls1_3 -CAfile $P/cas.pem" \
    "-tls1_3 -enable_pha $C_VALID2"
run_interactive inf-tls13-pha-empty srv c "-tls1_3 -CAfile $P/cas.pem" "-tls1_3 -enable_pha"
run_interactive inf-tls12-clireneg-nocr cli R \
    "-tls1_2 -client_renegotiation -verify 1 -CAfile $P/cas.pem" \
    "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 $C_VALID2"
run_interactive reneg-refused-by-server cli R "-tls1_2 -verify 1 -CAfile $P/cas.pem" \
    "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 $C_VALID2"

# ---------------------------------------------------------------------------------------
# 5. Apache httpd 2.4 mod_ssl (curl as client): SSLVerifyClient require in <Location /secure>
#    -> TLS 1.2 server-initiated renegotiation / TLS 1.3 post-handshake auth; and
#    SSLVerifyClient optional_no_ca.  nginx: ssl_verify_client optional.
# ---------------------------------------------------------------------------------------
AP=$WORK/apache
mkdir -p "$AP/htdocs/secure" "$AP/run" "$AP/logs"
echo "apache root" > "$AP/htdocs/index.html"
echo "apache secure area" > "$AP/htdocs/secure/index.html"
chmod -R a+rX "$AP/htdocs"
chmod a+rx "$WORK" "$P"; chmod a+r "$P"/*.pem
M=/usr/lib/apache2/modules
SUITES12="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA"
vhost() {   # vhost PORT PROTOCOL CAFILE VERIFY-MODE (location|optional_no_ca)
    local verify
    if [ "$4" = location ]; then
        verify=$'    <Location /secure>\n        SSLVerifyClient require\n    </Location>'
    else
        verify="    SSLVerifyClient $4"
    fi
    cat <<EOF
Listen 127.0.0.1:$1
<VirtualHost 127.0.0.1:$1>
    SSLEngine on
    SSLProtocol -all +$2
    SSLCipherSuite $SUITES12
    SSLHonorCipherOrder off
    SSLCertificateFile "$P/server.pem"
    SSLCertificateChainFile "$P/inter.pem"
    SSLCertificateKeyFile "$P/server.key"
    SSLCACertificateFile "$3"
    SSLVerifyDepth 3
$verify
</VirtualHost>
EOF
}
{
cat <<EOF
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
KeepAlive Off
ErrorLog "$AP/logs/error.log"
LogLevel warn ssl:info
DocumentRoot "$AP/htdocs"
DirectoryIndex index.html
<Directory "$AP/htdocs">
    Require all granted
</Directory>
SSLSessionCache "shmcb:$AP/run/ssl_scache(32768)"
SSLSessionTickets off
EOF
vhost 8443 TLSv1.2 "$P/cas.pem" location
vhost 8444 TLSv1.2 "$P/cas-37k.pem" location
vhost 8445 TLSv1.3 "$P/cas.pem" location
vhost 8446 TLSv1.2 "$P/cas.pem" optional_no_ca
} > "$AP/httpd.conf"

NG=$WORK/nginx
mkdir -p "$NG/logs" "$NG/html/secure"
echo "hello from nginx" > "$NG/html/index.html"
echo "nginx page, client certificate optional" > "$NG/html/secure/index.html"
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
    ssl_session_tickets off;
    ssl_session_cache off;
    server {
        listen 127.0.0.1:8447 ssl;
        server_name localhost;
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
        ssl_certificate $P/server-fullchain.pem;
        ssl_certificate_key $P/server.key;
        ssl_client_certificate $P/cas.pem;
        ssl_verify_client optional;
        root $NG/html;
    }
}
EOF

log "== starting apache and nginx"
"$APACHE2" -t -f "$AP/httpd.conf" 2>"$WORK/apache-t.err" || { cat "$WORK/apache-t.err" >&2; die "apache config"; }
"$APACHE2" -f "$AP/httpd.conf" -k start
nginx -t -q -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
for p in 8443 8444 8445 8446 8447; do wait_port "$p"; done

# curl_cap NAME PORT PATH [curl args]: one curl request, key log, what curl and the
# server's error log said
curl_cap() {
    local name=$1 port=$2 path=$3 rc=0; shift 3
    log "== $name"
    local aplines nglines
    aplines=$(wc -l < "$AP/logs/error.log")
    cap_start "$name" "$port"
    SSLKEYLOGFILE="$OUT/$name.keys" timeout 20 curl -sS --http1.1 --cacert "$P/root.pem" \
        -o "$WORK/body-$name" -w 'HTTP %{http_code} (curl; ssl_verify_result %{ssl_verify_result})\n' \
        "$@" "https://127.0.0.1:$port$path" >"$WORK/curl-$name.log" 2>&1 || rc=$?
    echo "curl exit=$rc" >> "$WORK/curl-$name.log"
    cap_stop
    sleep 0.2
    if [ "$port" = 8447 ]; then
        tail -n 3 "$NG/logs/access.log" > "$WORK/srv-$name.log"
        sed -E 's/^/access.log: /' "$WORK/srv-$name.log" | sed "s/^/$name\tserver (nginx)\t/" >> "$OUTCOMES"
    else
        tail -n +"$((aplines + 1))" "$AP/logs/error.log" \
            | grep -E 'AH02008|AH02039|AH02261|AH02275|AH02276|AH02225|AH02226|AH02221|AH02222|AH02227|AH10158|AH10157|AH02042|AH02255|AH02259|AH02260|AH02262|AH02229|AH02230|AH10129|AH02033|AH01964|AH02219|AH02220|AH02211|AH02257|AH02258|AH02274' \
            > "$WORK/srv-$name.log" || true
        tail -n +"$((aplines + 1))" "$AP/logs/error.log" > "$WORK/srvall-$name.log"
        outcome "$name" "server (apache2 error.log)" "$WORK/srvall-$name.log"
    fi
    outcome "$name" "client (curl)" "$WORK/curl-$name.log"
}
CURL12="--tlsv1.2 --tls-max 1.2"
CV1="--cert $P/client.pem --key $P/client.key"
CV2="--cert $P/client-chain2.pem --key $P/client.key"
CEXP="--cert $P/client-expired-chain2.pem --key $P/client-expired.key"
CWRONG="--cert $P/client-unlisted.pem --key $P/client-unlisted.key"

# outcome cases
# shellcheck disable=SC2086
curl_cap reneg-aborted-empty-cert 8443 /secure/ $CURL12 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
# shellcheck disable=SC2086
curl_cap reneg-ok 8443 /secure/ $CURL12 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 $CV1
# shellcheck disable=SC2086
curl_cap optional-wrong-issuer-completed 8446 / $CURL12 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 $CWRONG
curl_cap optional-empty-completed 8447 /secure/ $CURL12

# inference corpus: TLS 1.2 server-initiated renegotiation, 4 suites x 5 client answers
for s in gcm:ECDHE-ECDSA-AES128-GCM-SHA256 chacha:ECDHE-ECDSA-CHACHA20-POLY1305 \
         cbcsha256:ECDHE-ECDSA-AES128-SHA256 cbcsha1:ECDHE-ECDSA-AES256-SHA; do
    for c in "valid1:$CV1" "valid2:$CV2" "empty:" "expired:$CEXP" "wrongca:$CWRONG"; do
        # shellcheck disable=SC2086
        curl_cap "inf-tls12-reneg-${s%%:*}-${c%%:*}" 8443 /secure/ $CURL12 --ciphers "${s#*:}" ${c#*:}
    done
done
# shellcheck disable=SC2086
curl_cap inf-tls12-reneg-gcm-valid2-ca37k 8444 /secure/ $CURL12 \
    --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 $CV2
# TLS 1.3: Apache asks for the certificate after the request (post-handshake auth)
# shellcheck disable=SC2086
curl_cap inf-tls13-pha-apache-valid1 8445 /secure/ --tlsv1.3 $CV1
curl_cap inf-tls13-pha-apache-empty 8445 /secure/ --tlsv1.3
# shellcheck disable=SC2086
curl_cap inf-tls13-pha-apache-expired 8445 /secure/ --tlsv1.3 $CEXP

"$APACHE2" -f "$AP/httpd.conf" -k stop || kill -TERM "$(cat "$AP/httpd.pid")"
for ((i = 0; i < 50; i++)); do [ -f "$AP/httpd.pid" ] || break; sleep 0.1; done
kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do [ -f "$NG/nginx.pid" ] || break; sleep 0.1; done
cp "$AP/logs/error.log" "$WORK/apache-error.log"

# ---------------------------------------------------------------------------------------
# 6. tshark with each key log -> records.tsv, per-capture summary (README), selection.tsv,
#    ground truth
# ---------------------------------------------------------------------------------------
log "== records.tsv (tshark with key logs)"
cat > "$WORK/records.py" <<'PY'
#!/usr/bin/env python3
"""records.py DIR NAME...: tshark (with each capture's key log) -> records.tsv rows on stdout,
per-capture markdown summary into DIR/.summary.md (read by the script)."""
import json, subprocess, sys

SUITES = {"0x1301": "TLS_AES_128_GCM_SHA256", "0x1302": "TLS_AES_256_GCM_SHA384",
          "0x1303": "TLS_CHACHA20_POLY1305_SHA256",
          "0xc02b": "ECDHE-ECDSA-AES128-GCM-SHA256", "0xcca9": "ECDHE-ECDSA-CHACHA20-POLY1305",
          "0xc023": "ECDHE-ECDSA-AES128-SHA256", "0xc00a": "ECDHE-ECDSA-AES256-SHA"}
HS = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket",
      8: "EncryptedExtensions", 11: "Certificate", 12: "ServerKeyExchange",
      13: "CertificateRequest", 14: "ServerHelloDone", 15: "CertificateVerify",
      16: "ClientKeyExchange", 20: "Finished", 24: "KeyUpdate"}
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 45: "certificate_expired", 46: "certificate_unknown", 48: "unknown_ca",
          51: "decrypt_error", 80: "internal_error", 100: "no_renegotiation", 116: "certificate_required"}


def aslist(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def find_all(o, key):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == key:
                yield from (x for x in aslist(v) if isinstance(x, str))
            else:
                yield from find_all(v, key)
    elif isinstance(o, list):
        for v in o:
            yield from find_all(v, key)


def run(d, name):
    cmd = ["tshark", "-r", f"{d}/{name}.pcap", "-o", f"tls.keylog_file:{d}/{name}.keys",
           "-o", "tcp.reassemble_out_of_order:TRUE", "-o", "gui.max_tree_depth:1000",
           "-T", "json", "--no-duplicate-keys", "-Y", "tls or http"]
    pkts = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    rows, summ = [], {"suite": "-", "records": [], "dnames": [], "certlen": [], "cv_after_cert": [],
                      "alerts": [], "http": [], "hs": []}
    after_ccs = {}          # (stream, dir) -> True once a ChangeCipherSpec went that way
    server_port = {}
    for p in pkts:
        L = p["_source"]["layers"]
        frame = int(L["frame"]["frame.number"])
        tcp = L.get("tcp", {})
        stream = tcp.get("tcp.stream", "?")
        sp, dp = int(tcp.get("tcp.srcport", 0)), int(tcp.get("tcp.dstport", 0))
        srv = server_port.setdefault(stream, min(sp, dp))
        dirn = "s2c" if sp == srv else "c2s"
        codes = [c for c in find_all(L.get("http"), "http.response.code")]
        reqs = [m + " " + u for m, u in zip(find_all(L.get("http"), "http.request.method"),
                                          find_all(L.get("http"), "http.request.uri"))]
        recs = []
        for t in aslist(L.get("tls")):
            if isinstance(t, dict):
                recs += [r for r in aslist(t.get("tls.record")) if isinstance(r, dict)]
        for i, r in enumerate(recs):
            outer = r.get("tls.record.opaque_type") or r.get("tls.record.content_type", "?")
            inner = r.get("tls.record.content_type", "?")
            ver = r.get("tls.record.version", "")
            enc = "yes" if ("tls.record.opaque_type" in r or after_ccs.get((stream, dirn))) else "no"
            types, lens = [], []
            for h in aslist(r.get("tls.handshake")):
                if not isinstance(h, dict) or "tls.handshake.type" not in h:
                    if inner == "22":
                        types.append("frag"); lens.append("-")
                    continue
                ht, hl = int(h["tls.handshake.type"]), h.get("tls.handshake.length", "-")
                types.append(str(ht)); lens.append(hl)
                summ["hs"].append((frame, dirn, ht))
                if ht == 2 and "tls.handshake.ciphersuite" in h:
                    summ["suite"] = SUITES.get(h["tls.handshake.ciphersuite"], h["tls.handshake.ciphersuite"])
                    server_port[stream] = sp
                if ht == 13:
                    dn = h.get("tls.handshake.dnames_len")
                    if dn is None:   # TLS 1.3: inside the certificate_authorities extension
                        s = json.dumps(h)
                        k = s.find('"tls.handshake.dnames_len": "')
                        dn = s[k + 29:s.index('"', k + 29)] if k >= 0 else "-"
                    summ["dnames"].append(f"{dn} (frame {frame})")
                if ht == 11 and dirn == "c2s":
                    summ["certlen"].append(f"{h.get('tls.handshake.certificates_length', '?')} (frame {frame})")
                if ht == 15 and dirn == "c2s":
                    summ["cv_after_cert"].append(f"frame {frame}")
            alert = "-"
            am = r.get("tls.alert_message")
            if isinstance(am, dict) and "tls.alert_message.desc" in am:
                lvl = {"1": "warning", "2": "fatal"}.get(am.get("tls.alert_message.level"), "?")
                dsc = int(am["tls.alert_message.desc"])
                alert = f"{lvl}:{dsc}"
                summ["alerts"].append(f"{dirn} {lvl} {dsc} {ALERTS.get(dsc, '')} (frame {frame}{', encrypted' if enc == 'yes' else ''})")
            elif inner == "21" and enc == "yes":
                alert = "encrypted-undecoded"
            elif inner == "?" and "tls.record.opaque_type" in r:
                inner = "undecrypted"
            if outer == "20":
                after_ccs[(stream, dirn)] = True
            http = ""
            if inner == "23" and i == max(j for j, x in enumerate(recs)
                                           if x.get("tls.record.content_type") == "23"):
                http = ",".join(codes + reqs)
            rows.append([name, stream, str(frame), dirn, r.get("tls.record.length", "?"), outer, inner,
                         ",".join(types) or "-", ",".join(lens) or "-", enc, alert, http or "-", ver])
            if enc == "yes" and inner == "22":
                summ["records"].append(f"{frame} {dirn} {r.get('tls.record.length')} [{'+'.join(HS.get(int(x), x) if x.isdigit() else x for x in types)}]")
        for c in codes:
            summ["http"].append(f"{c} (frame {frame})")
    return rows, summ


def main():
    d = sys.argv[1]
    out = ["\t".join(["file", "tcp_stream", "frame", "direction", "record_length", "content_type",
                      "inner_content_type", "handshake_types", "handshake_lengths", "encrypted",
                      "alert", "http", "record_version"])]
    md = []
    for name in sys.argv[2:]:
        rows, s = run(d, name)
        out += ["\t".join([name + ".pcap"] + r[1:]) for r in rows]
        cvs = "yes (" + ", ".join(s["cv_after_cert"]) + ")" if s["cv_after_cert"] else "no"
        md.append(f"#### `{name}.pcap`\n"
                  f"- suite {s['suite']}; CA list `dnames_len` {', '.join(s['dnames']) or 'no CertificateRequest'}; "
                  f"client `certificates_length` {', '.join(s['certlen']) or 'no client Certificate'}; "
                  f"client CertificateVerify: {cvs}\n"
                  f"- encrypted handshake records (frame dir length [decrypted messages]): "
                  f"{'; '.join(s['records']) or 'none'}\n"
                  f"- alerts: {'; '.join(s['alerts']) or 'none'}; HTTP: {', '.join(s['http']) or 'none'}\n")
    print("\n".join(out))
    with open(f"{d}/.summary.md", "w") as f:
        f.write("\n".join(md))


main()
PY
python3 "$WORK/records.py" "$OUT" "${CAPS[@]}" > "$OUT/records.tsv"

# what each capture shows and what a correct diagnosis says (selection.tsv notes, README)
note() {
    local n=$1 suite cert
    case $n in
    reneg-refused-by-server) echo "[verdict] openssl s_server 3.0 (default: client-initiated renegotiation not allowed) + s_client typing R, TLS 1.2 GCM: first handshake with client cert completes; the client's encrypted renegotiation ClientHello is answered with a warning alert 100 no_renegotiation (encrypted); s_client then sends a fatal alert 40 handshake_failure and closes; no HTTP. Outcome: renegotiation refused by the server (client-initiated), connection ended by the client's fatal alert" ;;
    reneg-aborted-empty-cert) echo "[verdict] Apache 2.4 mod_ssl SSLVerifyClient require in <Location /secure>, TLS 1.2 GCM, curl without cert: GET /secure/ -> HelloRequest -> encrypted renegotiation with CertificateRequest; empty client Certificate (certificates_length 0, no CertificateVerify); server's encrypted fatal alert 40; the GET gets no HTTP response. Outcome: failed renegotiation, client sent no certificate, server aborted" ;;
    reneg-ok) echo "[verdict] same Apache, curl with a valid client cert (leaf only): renegotiation completes with client Certificate + CertificateVerify; HTTP 200. Outcome: completed" ;;
    optional-empty-completed) echo "[verdict] nginx ssl_verify_client optional, TLS 1.2 GCM, curl without cert: cleartext CertificateRequest, empty client Certificate, handshake completes, GET /secure/ -> 200. Outcome: completed without client certificate (not a failure)" ;;
    optional-wrong-issuer-completed) echo "[verdict] Apache SSLVerifyClient optional_no_ca (TLS 1.2 GCM, CA list = root + intermediate): curl sends bob's cert from the unlisted 'Unlisted Client Root CA'; Apache logs AH02009 (verification failed, accepted because of optional_no_ca); handshake completes; GET / -> 200. Outcome: completed; client cert issuer not in the CA list, accepted anyway" ;;
    inf-tls12-reneg-*)
        suite=$(echo "$n" | cut -d- -f4); cert=${n##*-}
        [ "$cert" = ca37k ] && { echo "[inference] Apache TLS 1.2 server-initiated renegotiation, GCM, CA list of 180 names (dnames_len 37182: CertificateRequest over 3 encrypted records), curl cert leaf + intermediate; HTTP 200. Outcome: completed"; return; }
        case $suite in gcm) suite="ECDHE-ECDSA-AES128-GCM-SHA256";; chacha) suite="ECDHE-ECDSA-CHACHA20-POLY1305";;
            cbcsha256) suite="ECDHE-ECDSA-AES128-SHA256 (CBC, HMAC-SHA256)";; cbcsha1) suite="ECDHE-ECDSA-AES256-SHA (CBC, HMAC-SHA1)";; esac
        case $cert in
        valid1) cert="curl sends alice's cert alone (chain of 1) + CertificateVerify; HTTP 200. Outcome: completed" ;;
        valid2) cert="curl sends alice + intermediate (chain of 2) + CertificateVerify; HTTP 200. Outcome: completed" ;;
        empty) cert="curl has no cert: empty client Certificate, no CertificateVerify; server fatal alert 40 (encrypted); no HTTP response. Outcome: failed, no client certificate" ;;
        expired) cert="curl sends carol's expired cert + intermediate + CertificateVerify; Apache: verify error 10; server fatal alert 45 certificate_expired (encrypted); no HTTP response. Outcome: failed, client cert expired" ;;
        wrongca) cert="curl sends bob's cert from the unlisted CA + CertificateVerify; Apache: verify error 20; server fatal alert 48 unknown_ca (encrypted); no HTTP response. Outcome: failed, client cert issuer unknown" ;;
        esac
        echo "[inference] Apache mod_ssl <Location /secure> SSLVerifyClient require, TLS 1.2 $suite: GET /secure/ -> HelloRequest -> encrypted renegotiation with CertificateRequest (2 names, dnames_len 158); $cert" ;;
    inf-tls12-clireneg-nocr) echo "[inference] openssl s_server -client_renegotiation -verify 1 + s_client (alice + intermediate) typing R, TLS 1.2 GCM: CertificateRequest and client cert + CertificateVerify only in the cleartext first handshake; the client-initiated encrypted renegotiation is accepted but has NO CertificateRequest and no client Certificate (s_server -verify uses SSL_VERIFY_CLIENT_ONCE); then GET -> 200. Outcome: completed (renegotiation accepted, no client auth in it)" ;;
    inf-tls13-pha-valid) echo "[inference] openssl s_server (no -verify) typing c after the GET, s_client -enable_pha with alice + intermediate, TLS 1.3 (s_client default suite: AES-256-GCM): no CertificateRequest in the main handshake; post-handshake CertificateRequest (context 32 bytes, 2 names); client Certificate + CertificateVerify + Finished; HTTP 200. tshark 4.0 cannot decrypt the client's close_notify after PHA. Outcome: completed" ;;
    inf-tls13-pha-empty) echo "[inference] same with s_client -enable_pha without cert: post-handshake CertificateRequest answered by an empty Certificate + Finished (no CertificateVerify); s_server's c makes the cert optional, so HTTP 200 follows. Outcome: completed without client certificate" ;;
    inf-tls13-pha-apache-valid1) echo "[inference] Apache <Location /secure> SSLVerifyClient require, TLS 1.3 (AES-256-GCM), curl (offers post_handshake_auth) with alice's cert alone: main handshake without CertificateRequest; after GET /secure/ a post-handshake CertificateRequest; client Certificate + CertificateVerify + Finished; NewSessionTickets around it; HTTP 200. Outcome: completed (real software doing PHA)" ;;
    inf-tls13-pha-apache-empty) echo "[inference] same, curl without cert: post-handshake CertificateRequest answered by an empty Certificate + Finished; Apache AH02263 'Client certificate missing'; encrypted fatal alert 116 certificate_required; no HTTP response (curl exit 56). Outcome: failed, no client certificate (PHA refused/empty)" ;;
    inf-tls13-pha-apache-expired) echo "[inference] same, curl with carol's expired cert + intermediate: PHA Certificate + CertificateVerify + Finished; Apache verify error 10, AH02262; encrypted fatal alert 45; no HTTP response. Outcome: failed, client cert expired" ;;
    inf-tls13-*-nocr) echo "[inference] openssl s_server -tls1_3 without -verify: no CertificateRequest at all, client (with or without a cert configured) sends no Certificate; HTTP 200. Outcome: completed, no client auth requested" ;;
    inf-tls13-aes128-valid2-ca37k) echo "[inference] openssl s_server -tls1_3 -Verify 1 with a CA list of 180 names (dnames_len 37182): encrypted CertificateRequest over 3 records (16401 + 16401 + rest); client Certificate (chain of 2) + CertificateVerify; HTTP 200. Outcome: completed" ;;
    inf-tls13-*)
        cert=${n##*-}
        case $cert in
        valid1) cert="client cert alice alone (chain of 1) + CertificateVerify; HTTP 200. Outcome: completed" ;;
        valid2) cert="client cert alice + intermediate (chain of 2) + CertificateVerify; HTTP 200. Outcome: completed" ;;
        empty) cert="s_client without cert: empty Certificate + Finished; server fatal alert 116 certificate_required (encrypted); no HTTP. Outcome: failed, no client certificate" ;;
        expired) cert="carol's expired cert + intermediate + CertificateVerify; s_server verify error 10; fatal alert 45 (encrypted); no HTTP. Outcome: failed, client cert expired" ;;
        wrongca) cert="bob's cert from the unlisted CA + CertificateVerify; s_server verify error 20; fatal alert 48 unknown_ca (encrypted); no HTTP. Outcome: failed, client cert issuer unknown" ;;
        esac
        echo "[inference] openssl s_server -tls1_3 -Verify 1 -verify_return_error (CA list 2 names, 158 B), s_client -ciphersuites $(echo "$n" | cut -d- -f3): encrypted CertificateRequest in the main handshake; $cert" ;;
    *) echo "-" ;;
    esac
}

SRC="tlsdiag:captures/clientauth/make-clientauth-captures.sh"
LIC="MIT OR Apache-2.0 (tlsdiag's own, generated on loopback)"
{
    echo "# tlsdiag client-certificate outcome / size-inference captures, made by make-clientauth-captures.sh"
    printf '# file\tsource\tlicense\tkeylog\tnotes\textra\n'
    for n in "${CAPS[@]}"; do
        extra=-
        case $n in *ca37k*) extra="-o gui.max_tree_depth:1000" ;; esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n.pcap" "$SRC" "$LIC" "$n.keys" "$(note "$n")" "$extra"
    done
} > "$OUT/selection.tsv"

{
    echo "# generated by make-clientauth-captures.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "openssl: $(openssl version)"
    echo "curl: $(curl --version | head -1)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "apache2: $("$APACHE2" -v 2>/dev/null | head -1)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
} > "$OUT/versions.txt"

# README: replace the generated part (between the markers) with the per-capture details
if [ -f "$OUT/README.md" ] && grep -q '^<!-- BEGIN GENERATED' "$OUT/README.md"; then
    {
        sed '/^<!-- BEGIN GENERATED/q' "$OUT/README.md"
        echo
        for n in "${CAPS[@]}"; do
            awk -v h="#### \`$n.pcap\`" 'BEGIN{RS=""; ORS="\n\n"} index($0, h) == 1' "$OUT/.summary.md"
            echo "- what it is / correct diagnosis: $(note "$n" | sed 's/^\[[a-z]*\] //')"
            echo
        done
        sed -n '/^<!-- END GENERATED/,$p' "$OUT/README.md"
    } > "$WORK/README.new"
    mv "$WORK/README.new" "$OUT/README.md"
fi
rm -f "$OUT/.summary.md"

log "== tshark ground truth"
TRUTH=${TSHARK_TRUTH:-$HERE/../../../shared/tools/tshark_truth.py}
[ -f "$TRUTH" ] || TRUTH=/work/shared/tools/tshark_truth.py
python3 "$TRUTH" --root "$OUT" --select "$OUT/selection.tsv" --manifest "$OUT/MANIFEST.tsv" \
    --json-dir "$OUT/truth" 2>"$WORK/truth.err" || { cat "$WORK/truth.err" >&2; die "tshark_truth.py failed"; }
log "done: $(du -sh --exclude=truth "$OUT" | cut -f1) (+ truth/) in $OUT"

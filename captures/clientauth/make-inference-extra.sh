#!/usr/bin/env bash
# make-inference-extra.sh - more real captures (with NSS key logs) for the record-size
# inference, beside those of make-clientauth-captures.sh (which it leaves alone):
#   inf2-nginx-tls13-{valid,empty,wrongca}   nginx 1.22, ssl_verify_client on, TLS 1.3, an RSA
#                                            server key, curl as client
#   inf2-apache-tls11-cbc-{valid,empty}      Apache mod_ssl <Location> renegotiation over
#                                            TLS 1.1 with ECDHE-RSA-AES128-SHA (CBC, HMAC-SHA1)
#
#   sudo bash captures/clientauth/make-inference-extra.sh      (about 15 s)
#
# Everything (servers, curl, tcpdump) runs inside the private network namespace
# tlsdiag-infx on its loopback; the namespace, its processes and the temp dir are removed at
# the end. Writes inf2-*.pcap and inf2-*.keys into this folder only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=tlsdiag-infx
log() { printf '[infx] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [ "${INFX_IN_NS:-0}" != 1 ]; then
    [ "$(id -u)" = 0 ] || die "run as root (network namespace, tcpdump)"
    for c in openssl curl tcpdump nginx apache2; do
        command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || die "$c is needed"
    done
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
    ip netns exec "$NS" ip link set lo up
    rc=0
    INFX_IN_NS=1 ip netns exec "$NS" bash "${BASH_SOURCE[0]}" "$@" || rc=$?
    exit $rc
fi

export PATH="$PATH:/usr/sbin:/sbin"
OUT=$HERE
WORK=$(mktemp -d /tmp/tlsdiag-infx.XXXXXX)
chmod 755 "$WORK"
TCPDUMP_PID=""
cleanup() {
    [ -n "$TCPDUMP_PID" ] && kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    [ -f "$WORK/nginx/nginx.pid" ] && kill -QUIT "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    [ -f "$WORK/apache/httpd.pid" ] && kill -TERM "$(cat "$WORK/apache/httpd.pid")" 2>/dev/null || true
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT
rm -f "$OUT"/inf2-*.pcap "$OUT"/inf2-*.keys

# PKI: RSA root and server, ECDSA clients (one from a CA the server does not trust).
P=$WORK/pki
mkdir -p "$P"
cd "$P"
cat > ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
[server_ext]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client_ext]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
EOF
rsakey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
eckey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # NAME SUBJ KEYFN
    "$3" "$1.key"
    openssl req -new -x509 -key "$1.key" -subj "$2" -days 3650 -sha256 -config ext.cnf \
        -extensions ca_ext -out "$1.pem" 2>/dev/null
}
leaf() {    # NAME SUBJ CA EXT KEYFN
    "$5" "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -config ext.cnf -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 3650 -sha256 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
ca root "/C=US/O=tlsdiag test PKI/CN=tlsdiag Extra Root CA" rsakey
leaf server "/C=US/O=tlsdiag test PKI/CN=localhost" root server_ext rsakey
leaf client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=dave" root client_ext eckey
ca other "/C=US/O=Unrelated Org/CN=Unlisted Extra Root CA" eckey
leaf stranger "/C=US/O=Unrelated Org/OU=Clients/CN=eve" other client_ext eckey
chmod a+rx "$P"; chmod a+r "$P"/*
cd "$OUT"

cap() {     # cap NAME PORT -- curl args...
    local name=$1 port=$2 rc=0; shift 3
    log "== $name"
    tcpdump -i lo -U -s 0 -n -Z root --immediate-mode -w "$OUT/$name.pcap" "tcp port $port" \
        2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.err" && break; sleep 0.1; done
    sleep 0.2
    SSLKEYLOGFILE="$OUT/$name.keys" timeout 20 curl -sS --http1.1 --cacert "$P/root.pem" \
        -o /dev/null -w 'HTTP %{http_code}\n' "$@" "https://127.0.0.1:$port/secure/" \
        >"$WORK/curl-$name.log" 2>&1 || rc=$?
    log "   curl exit $rc: $(tr '\n' ' ' < "$WORK/curl-$name.log")"
    sleep 0.5
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=""
}

# nginx, TLS 1.3, client certificate required in the main handshake.
NG=$WORK/nginx
mkdir -p "$NG/logs" "$NG/html/secure"
echo "nginx secure" > "$NG/html/secure/index.html"
cat > "$NG/nginx.conf" <<EOF
daemon on;
worker_processes 1;
user root;
pid $NG/nginx.pid;
error_log $NG/logs/error.log info;
events { worker_connections 16; }
http {
    access_log $NG/logs/access.log;
    client_body_temp_path $NG/tmp;
    proxy_temp_path $NG/tmp;
    fastcgi_temp_path $NG/tmp;
    uwsgi_temp_path $NG/tmp;
    scgi_temp_path $NG/tmp;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:8457 ssl;
        ssl_protocols TLSv1.3;
        ssl_certificate $P/server.pem;
        ssl_certificate_key $P/server.key;
        ssl_client_certificate $P/root.pem;
        ssl_verify_client on;
        root $NG/html;
    }
}
EOF
nginx -e "$NG/logs/error.log" -p "$NG" -c "$NG/nginx.conf"
sleep 0.5
cap inf2-nginx-tls13-valid 8457 -- --cert "$P/client.pem" --key "$P/client.key"
cap inf2-nginx-tls13-empty 8457 --
cap inf2-nginx-tls13-wrongca 8457 -- --cert "$P/stranger.pem" --key "$P/stranger.key"
kill -QUIT "$(cat "$NG/nginx.pid")" 2>/dev/null || true

# Apache, TLS 1.1 with a CBC suite: renegotiation for <Location /secure>. OpenSSL 3 allows
# TLS 1.1 only at security level 0, on both sides.
AP=$WORK/apache
M=/usr/lib/apache2/modules
mkdir -p "$AP/htdocs/secure" "$AP/run" "$AP/logs"
echo "apache secure" > "$AP/htdocs/secure/index.html"
chmod -R a+rX "$AP" "$WORK"
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
Listen 127.0.0.1:8458
<VirtualHost 127.0.0.1:8458>
    SSLEngine on
    SSLProtocol -all +TLSv1.1
    SSLCipherSuite ECDHE-RSA-AES128-SHA:@SECLEVEL=0
    SSLCertificateFile "$P/server.pem"
    SSLCertificateKeyFile "$P/server.key"
    SSLCACertificateFile "$P/root.pem"
    <Location /secure>
        SSLVerifyClient require
    </Location>
</VirtualHost>
EOF
apache2 -f "$AP/httpd.conf" -k start
sleep 0.8
TLS11=(--tlsv1.1 --tls-max 1.1 --ciphers 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0')
cap inf2-apache-tls11-cbc-valid 8458 -- "${TLS11[@]}" --cert "$P/client.pem" --key "$P/client.key"
cap inf2-apache-tls11-cbc-empty 8458 -- "${TLS11[@]}"
ls -l "$OUT"/inf2-* >&2

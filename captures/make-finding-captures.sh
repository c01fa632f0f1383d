#!/usr/bin/env bash
# make-finding-captures.sh - add the "fnd-*" captures to tlsdiag's corpus:
# REAL loopback TLS 1.2 captures in which the server requests a client
# certificate (s_server -verify 1, CA file root + intermediate) and one
# certificate in the exchange has a property a diagnosis should point out.
#
#   fnd-server-no-serverauth-eku   server leaf with extendedKeyUsage clientAuth
#                                  ONLY (no serverAuth); s_client (without
#                                  -verify_return_error) goes on, sends alice;
#                                  HTTP 200
#   fnd-client-cert-not-yet-valid  client cert "dave" valid 2035-01-01 ..
#                                  2040-01-01 (openssl ca -startdate/-enddate);
#                                  server -verify 1 -verify_return_error alerts
#   fnd-server-rsa1024-selfsigned  server leaf: self-signed RSA 1024-bit, no
#                                  chain; both sides -cipher DEFAULT:@SECLEVEL=0;
#                                  client sends alice; HTTP 200
#
# (A CertificateRequest whose DN list announces more bytes than the message
# holds cannot be made with openssl; not attempted here.)
#
# What it does
#   * builds its own throw-away PKI in a temp dir (same DNs as make-captures.sh
#     for root, intermediate, localhost and alice; new keys) and the three
#     special leaves above,
#   * runs openssl s_server -HTTP / s_client 3.0 on 127.0.0.1, ports
#     44401..44403, records each exchange with tcpdump on lo and saves the NSS
#     key log of each one as fnd-X.keys,
#   * checks that every capture decrypts with tshark (key log),
#   * runs the shared tshark ground-truth script on the NEW files only (in a
#     temp dir) and merges its rows into MANIFEST.tsv / truth/fnd-*.json; the
#     fnd-* rows of selection.tsv are written from the table in this script.
#
# It ONLY writes files whose names start with "fnd-" (captures, key logs,
# fnd-outcomes.txt, pki/fnd-*.pem, truth/fnd-*.json) and replaces only the
# fnd-* rows of selection.tsv and MANIFEST.tsv (appended at the end).  The
# files of make-captures.sh / make-decryption-captures.sh are never touched.
#
# How to run
#   sudo bash captures/make-finding-captures.sh     (root: tcpdump on lo)
#   KEEP_WORK=1 keeps the temp dir (PKI, logs); NO_TRUTH=1 skips the truth
#   step; TSHARK_TRUTH=path points at another copy of tshark_truth.py.
#   Takes about 15 s.
#
# Needs: openssl 3.0, tcpdump, tshark, python3, ss (iproute2).
#
# Network: only 127.0.0.1.  Every process started here is stopped before the
# script exits (also on error, EXIT trap); all waits are bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
TSHARK_TRUTH=${TSHARK_TRUTH:-$HERE/../../shared/tools/tshark_truth.py}
[ -f "$TSHARK_TRUTH" ] || TSHARK_TRUTH=/work/shared/tools/tshark_truth.py
T0=$(date +%s)

log() { printf '[make-fnd] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=captures/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------------------
# 0. tools
# ---------------------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
for t in openssl tcpdump tshark python3 ss; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install openssl tcpdump tshark python3 iproute2)"
done
[ "$(id -u)" = 0 ] || die "run as root (tcpdump needs it)"

# ---------------------------------------------------------------------------
# 1. clean the fnd-* outputs only, temp dir, process bookkeeping
# ---------------------------------------------------------------------------
cd "$OUT"
rm -f ./fnd-*.pcap ./fnd-*.keys ./fnd-outcomes.txt ./pki/fnd-*.pem ./truth/fnd-*.json

WORK=$(mktemp -d /tmp/tlsdiag-fnd-captures.XXXXXX)
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
    sleep 0.2
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
# 2. PKI (same DNs as make-captures.sh, new keys) + the three special leaves
# ---------------------------------------------------------------------------
log "building PKI in $WORK/pki"
P=$WORK/pki
mkdir -p "$P"
cd "$P"
write_ext_cnf
cat >> ext.cnf <<'EOF'

# server leaf whose EKU lacks serverAuth (clientAuth only)
[server_clientauth_only_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

# self-signed RSA-1024 server leaf (end entity, no CA bit)
[server_selfsigned_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
EOF

newkey root.key
openssl req -new -x509 -key root.key -subj "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Root CA" \
    -days 7300 -sha256 -set_serial "$(serial)" -config ext.cnf -extensions root_ext \
    -out root.pem 2>/dev/null
issue inter "/C=US/O=tlsdiag test PKI/CN=tlsdiag Test Intermediate CA" root inter_ext 5475
issue server "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_ext
issue client "/C=US/O=tlsdiag test PKI/OU=Clients/CN=alice" inter client_ext
issue server-noserverauth "/C=US/O=tlsdiag test PKI/CN=localhost" inter server_clientauth_only_ext

# self-signed RSA 1024 server leaf (OpenSSL 3.0 generates 1024-bit keys fine;
# only the TLS security level rejects them)
newkey server-rsa1024.key rsa 1024
openssl req -new -x509 -key server-rsa1024.key -subj "/C=US/O=tlsdiag test PKI/CN=localhost" \
    -days 3650 -sha256 -set_serial "$(serial)" -config ext.cnf -extensions server_selfsigned_ext \
    -out server-rsa1024.pem 2>/dev/null

# not-yet-valid client certificate: explicit dates need openssl ca
# (openssl x509 -req in 3.0 has no -not_before/-not_after; those came in 3.4)
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
newkey client-future.key
openssl req -new -key client-future.key -subj "/C=US/O=tlsdiag test PKI/OU=Clients/CN=dave (not yet valid)" \
    -config ext.cnf -out client-future.csr 2>/dev/null
openssl ca -batch -notext -config ca.cnf -cert inter.pem -keyfile inter.key \
    -startdate 20350101000000Z -enddate 20400101000000Z -extfile ext.cnf -extensions client_ext \
    -in client-future.csr -out client-future.pem 2>/dev/null

cat root.pem inter.pem > cas.pem      # CA list / trust of the server: 2 names
cat inter.pem > chain.pem
mkdir -p "$OUT/pki"
cp root.pem "$OUT/pki/fnd-root.pem"
cp inter.pem "$OUT/pki/fnd-inter.pem"
cp server-noserverauth.pem "$OUT/pki/fnd-server-noserverauth.pem"
cp client-future.pem "$OUT/pki/fnd-client-future.pem"
cp server-rsa1024.pem "$OUT/pki/fnd-server-rsa1024.pem"
for c in server-noserverauth client-future server-rsa1024; do
    openssl x509 -in "$c.pem" -noout -subject -issuer -startdate -enddate -ext extendedKeyUsage 2>/dev/null \
        | sed "s/^/[$c] /" >&2
    openssl x509 -in "$c.pem" -noout -text | grep -E 'Public-Key:' | sed "s/^ */[$c] /" >&2
done
cd "$OUT"

# ---------------------------------------------------------------------------
# 3. openssl s_server -HTTP / s_client captures
# ---------------------------------------------------------------------------
: > "$OUT/fnd-outcomes.txt"
OUTCOMES="$OUT/fnd-outcomes.txt"
OUTCOME_LINES='Verify return code|verify error|alert|^depth=0 |^CIPHER is|^HTTP |^New, |^Server Temp Key|^Server public key'

mkdir -p "$WORK/www"
SCERT="-cert $P/server.pem -key $P/server.key -cert_chain $P/chain.pem"
CCERT="-cert $P/client.pem -key $P/client.key -cert_chain $P/chain.pem"

# run_http NAME PORT "server args" "client args"
#   s_server -HTTP -naccept 1 -tls1_2 -CAfile root+inter (serves ./index.html
#   verbatim, an HTTP/1.0 200 with Content-Length); s_client -tls1_2 with the
#   root as trust anchor sends the GET and waits for the close
run_http() {
    local name=$1 port=$2 sargs=$3 cargs=$4
    log "== $name (port $port)"
    local body="$name: hello from openssl s_server"$'\n'
    printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "${#body}" "$body" > "$WORK/www/index.html"
    cap_start "$name" "$port"
    # shellcheck disable=SC2086
    (cd "$WORK/www" && exec openssl s_server -accept "127.0.0.1:$port" -naccept 1 -HTTP \
        -no_ticket -num_tickets 0 -tls1_2 -CAfile "$P/cas.pem" $sargs) \
        >"$WORK/srv-$name.log" 2>&1 </dev/null &
    local spid=$!
    PIDS+=("$spid")
    wait_port "$port"
    # shellcheck disable=SC2086
    printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' | timeout 20 openssl s_client \
        -connect "127.0.0.1:$port" -servername localhost -CAfile "$P/root.pem" -ign_eof -tls1_2 \
        -keylogfile "$OUT/$name.keys" $cargs >"$WORK/cli-$name.log" 2>&1 || true
    wait_pid "$spid" 50
    cap_stop
    outcome "$name" "$WORK/srv-$name.log" "$WORK/cli-$name.log"
}

run_http fnd-server-no-serverauth-eku 44401 \
    "-cert $P/server-noserverauth.pem -key $P/server-noserverauth.key -cert_chain $P/chain.pem -verify 1" \
    "$CCERT"
run_http fnd-client-cert-not-yet-valid 44402 \
    "$SCERT -verify 1 -verify_return_error" \
    "-cert $P/client-future.pem -key $P/client-future.key -cert_chain $P/chain.pem"
run_http fnd-server-rsa1024-selfsigned 44403 \
    "-cert $P/server-rsa1024.pem -key $P/server-rsa1024.key -verify 1 -cipher DEFAULT:@SECLEVEL=0" \
    "$CCERT -cipher DEFAULT:@SECLEVEL=0"

CAPS=(fnd-server-no-serverauth-eku fnd-client-cert-not-yet-valid fnd-server-rsa1024-selfsigned)

# ---------------------------------------------------------------------------
# 4. decryption checks
# ---------------------------------------------------------------------------
count_fin() {   # count_fin FILE [tshark args] -> number of Finished messages
    tshark -r "$1" "${@:2}" -o tcp.reassemble_out_of_order:TRUE -Y 'tls.handshake.type == 20' \
        -T fields -e tls.handshake.type 2>/dev/null | tr ',' '\n' | grep -c '^20$' || true
}
for n in "${CAPS[@]}"; do
    [ -s "$n.pcap" ] || die "$n.pcap missing"
    [ -s "$n.keys" ] || die "$n.keys missing"
    k=$(count_fin "$n.pcap" -o "tls.keylog_file:$n.keys")
    log "$n: Finished messages with key log: $k"
    [ "$k" -ge 1 ] || die "$n does not decrypt"
done
{
    echo "# versions: $(openssl version)"
    echo "#           $(tcpdump --version 2>&1 | head -1) | $(tshark --version 2>/dev/null | head -1)"
} >> fnd-outcomes.txt

# ---------------------------------------------------------------------------
# 5. selection rows (fnd-* only) and tshark ground truth for the new files
# ---------------------------------------------------------------------------
SRC="tlsdiag:captures/make-finding-captures.sh"
LIC="MIT OR Apache-2.0 (tlsdiag's own, generated on loopback)"
notes_of() {
    case $1 in
    fnd-server-no-serverauth-eku) echo "[finding] openssl 3.0 -HTTP, TLS 1.2: server leaf with extendedKeyUsage clientAuth ONLY (no serverAuth), chain of 2; s_client goes on despite verify error 26 (unsuitable certificate purpose); CR (2 names), client cert sent; HTTP 200 inside TLS" ;;
    fnd-client-cert-not-yet-valid) echo "[finding] openssl 3.0 -HTTP, TLS 1.2: server -verify 1 -verify_return_error; client cert 'dave' notBefore 2035-01-01 (not yet valid) sent; server: verify error 9 (certificate is not yet valid), fatal alert" ;;
    fnd-server-rsa1024-selfsigned) echo "[finding] openssl 3.0 -HTTP, TLS 1.2, both sides @SECLEVEL=0: server leaf self-signed RSA 1024-bit (chain of 1); s_client goes on despite verify error 18; CR (2 names), client cert sent; HTTP 200 inside TLS" ;;
    esac
}
SEL=$WORK/selection-fnd.tsv
: > "$SEL"
for n in "${CAPS[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n.pcap" "$SRC" "$LIC" "$n.keys" "$(notes_of "$n")" "-" >> "$SEL"
done
# selection.tsv: keep every non-fnd row, then the fnd rows
{
    grep -vE '^(fnd-|# fnd-\* captures)' selection.tsv || true
    echo "# fnd-* captures: made by make-finding-captures.sh (rows written by that script)"
    cat "$SEL"
} > "$WORK/selection.new"
cat "$WORK/selection.new" > selection.tsv

if [ "${NO_TRUTH:-0}" != 1 ]; then
    [ -f "$TSHARK_TRUTH" ] || die "tshark_truth.py not found (set TSHARK_TRUTH or NO_TRUTH=1)"
    log "== tshark ground truth for the fnd-* files ($TSHARK_TRUTH)"
    python3 "$TSHARK_TRUTH" --root "$OUT" --select "$SEL" --manifest "$WORK/MANIFEST-fnd.tsv" \
        --json-dir "$WORK/truth" 2>"$WORK/truth.err" \
        || { cat "$WORK/truth.err" >&2; die "tshark_truth.py failed"; }
    [ "$(grep -v '^#' "$WORK/MANIFEST-fnd.tsv" | head -1)" = "$(grep -v '^#' MANIFEST.tsv | head -1)" ] \
        || die "MANIFEST.tsv columns differ from the truth script's"
    {
        grep -v '^fnd-' MANIFEST.tsv
        grep -v '^#' "$WORK/MANIFEST-fnd.tsv" | tail -n +2
    } > "$WORK/MANIFEST.new"
    cat "$WORK/MANIFEST.new" > MANIFEST.tsv
    mkdir -p truth
    cp "$WORK"/truth/fnd-*.json truth/
    grep -q 'truth script error' "$WORK/MANIFEST-fnd.tsv" && die "truth script error (see MANIFEST.tsv)"
fi

log "done in $(( $(date +%s) - T0 )) s: $(cat fnd-* | wc -c) bytes of fnd-* files"

#!/usr/bin/env bash
# make-serverkey-captures.sh - tlsdiag's "see what the server sees" test material:
# captures that a server's RSA private key can (or cannot) decrypt, the same RSA key in
# every file format a user may hand over (PEM PKCS#1/PKCS#8, DER, PFX modern/legacy),
# trust stores, client certificates the server rejects, and session resumption.
#
# How to run (root; from a clean machine it installs what it needs):
#   sudo bash captures/serverkey/make-serverkey-captures.sh
#   KEEP_WORK=1 keeps the temp dir (PKI, logs, Apache config) for debugging.
#   NO_TRUTH=1 skips the shared tshark_truth.py step.
# Everything runs inside the private network namespace "tlsdiag-srvkey" (loopback only;
# the script creates it and deletes it at the end, also on error). Takes about 1-2 minutes.
#
# Outputs (all in this directory; old generated files are deleted first):
#   *.pcap + *.keys (NSS key log of the client), rsa-kx-tls12-gcm.{rsa,pms}.keys,
#   server-key.* / server*.pfx / other-key.pem, server-cert.pem, pki/, trust/,
#   facts.json + facts.md (tshark facts, by facts.py), outcomes.txt (what the software
#   said), keyfiles.txt (what openssl says about the key files), versions.txt,
#   MANIFEST.tsv + truth/ (shared tshark_truth.py). README.md and selection.tsv are
#   hand-written.
# Certificates, keys and randoms change on every run: byte contents, some lengths and a few
# frame numbers can differ between runs; outcomes, alerts, HTTP codes and message order do not.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$HERE
NS=tlsdiag-srvkey
PFX_PASS=tlsdiag-test

log() { printf '[serverkey] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# =========================================================================================
# outer part: tools, namespace, then the inner part inside the namespace, then checks
# =========================================================================================
if [ "${1:-}" != __inner ]; then
    [ "$(id -u)" = 0 ] || die "run as root (network namespace, tcpdump)"
    export PATH="$PATH:/usr/sbin:/sbin"
    need=()
    command -v openssl >/dev/null || need+=(openssl)
    command -v curl    >/dev/null || need+=(curl)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v tshark  >/dev/null || need+=(tshark)
    command -v apache2 >/dev/null || need+=(apache2)
    command -v python3 >/dev/null || need+=(python3 python3-pip)
    command -v ip      >/dev/null || need+=(iproute2)
    command -v ss      >/dev/null || need+=(iproute2)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]}"
        made_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep apt from starting apache2
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
        [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    if ! python3 -c 'import cryptography' 2>/dev/null; then
        log "pip install cryptography"
        pip install -q cryptography 2>/dev/null || pip install -q --break-system-packages cryptography
    fi
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" bash "${BASH_SOURCE[0]}" __inner
    ip netns del "$NS"
    trap - EXIT

    cd "$OUT"
    log "== tshark facts (facts.py)"
    python3 "$HERE/facts.py" --dir "$OUT" --key server-key.pkcs8.pem --other-key other-key.pem \
        --json facts.json --md facts.md
    if [ "${NO_TRUTH:-0}" != 1 ]; then
        T="$HERE/../../../shared/tools/tshark_truth.py"
        [ -f "$T" ] || T="$HERE/../../shared/tools/tshark_truth.py"
        [ -f "$T" ] || T=/work/shared/tools/tshark_truth.py
        log "== tshark ground truth ($T)"
        python3 "$T" --root "$OUT" --select "$OUT/selection.tsv" --manifest "$OUT/MANIFEST.tsv" \
            --json-dir "$OUT/truth" 2>/tmp/serverkey-truth.err \
            || { cat /tmp/serverkey-truth.err >&2; die "tshark_truth.py failed"; }
    fi
    log "done: $(du -sh --exclude=truth "$OUT" | cut -f1) (+ truth/) in $OUT"
    exit 0
fi

# =========================================================================================
# inner part (inside the namespace)
# =========================================================================================
export PATH="$PATH:/usr/sbin:/sbin"
APACHE2=$(command -v apache2 || echo /usr/sbin/apache2)
cd "$OUT"
rm -f ./*.pcap ./*.keys ./server-key.* ./server*.pfx ./other-key.pem ./server-cert.pem \
    ./facts.json ./facts.md ./outcomes.txt ./keyfiles.txt ./versions.txt MANIFEST.tsv
rm -rf ./truth ./pki ./trust

WORK=$(mktemp -d /tmp/tlsdiag-serverkey.XXXXXX)
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
    [ -f "$WORK/apache/httpd.pid" ] && kill -TERM "$(cat "$WORK/apache/httpd.pid")" 2>/dev/null || true
    sleep 0.3
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "temp dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- process / capture helpers (same style as captures/lib.sh) ----------------------------
wait_pid() {    # wait_pid PID [TENTHS]
    local pid=$1 n=${2:-100} i
    for ((i = 0; i < n; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still running after $((n / 10))s, killing it"
        kill -TERM "$pid" 2>/dev/null || true; sleep 0.2; kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && [ "$p" != "$pid" ] && keep+=("$p"); done
    PIDS=("${keep[@]:-}")
}
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do port_busy "$1" && return 0; sleep 0.1; done
    die "nothing listening on port $1"
}
wait_file_grep() {
    local i
    for ((i = 0; i < ${3:-100}; i++)); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
cap_start() {   # cap_start NAME PORT
    CAP_NAME=$1
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
OUTCOMES="$OUT/outcomes.txt"
: > "$OUTCOMES"
OUTCOME_LINES='Verify return code|verify error|alert|error:|Reused|^New, |^HTTP[/ ]|curl:|Protocol  *:|Cipher  *:'
outcome() {     # outcome NAME SERVERLOG CLIENTLOG
    local name=$1 who f line
    for who in server client; do
        if [ "$who" = server ]; then f=$2; else f=$3; fi
        [ -f "$f" ] || continue
        grep -E "$OUTCOME_LINES" "$f" 2>/dev/null \
            | sed -E 's/^[0-9A-F]{8,}:error:/error:/; s/^[[:space:]]+//' | sort | uniq -c \
            | sed -E 's/^ *([0-9]+) (.*)$/\2 (x\1)/; s/ \(x1\)$//' \
            | while IFS= read -r line; do printf '%s\t%s\t%s\n' "$name" "$who" "$line"; done \
            || true
    done | tee -a "$OUTCOMES" | sed 's/^/    /' >&2 || true
}

# =========================================================================================
# 1. PKI
# =========================================================================================
P=$WORK/pki
mkdir -p "$P"; cd "$P"
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
keyUsage = critical, digitalSignature, keyEncipherment
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

[list_ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
EOF
newkey() {      # newkey FILE [rsa]: P-256 by default, RSA-2048 with "rsa"
    if [ "${2:-}" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    fi
}
serial() { echo "0x$(openssl rand -hex 8)"; }
selfsigned() {  # selfsigned NAME SUBJ
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -subj "$2" -days 7300 -sha256 -set_serial "$(serial)" \
        -config ext.cnf -extensions root_ext -out "$1.pem" 2>/dev/null
}
issue() {       # issue NAME SUBJ CA EXT KEYTYPE(ec|rsa) [DIGEST]
    newkey "$1.key" "$5"
    openssl req -new -key "$1.key" -subj "$2" -config ext.cnf -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$(serial)" \
        -days 3650 "-${6:-sha256}" -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
log "building PKI"
selfsigned root "/C=US/O=tlsdiag serverkey PKI/CN=tlsdiag Serverkey Root CA"
issue inter "/C=US/O=tlsdiag serverkey PKI/CN=tlsdiag Serverkey Intermediate CA" root inter_ext ec
issue server "/C=US/O=tlsdiag serverkey PKI/CN=localhost" inter server_ext rsa
issue client "/C=US/O=tlsdiag serverkey PKI/OU=Clients/CN=alice" inter client_ext rsa
# client certificate signed with ecdsa-with-SHA512 (the server's list will not have it)
issue client-sha512 "/C=US/O=tlsdiag serverkey PKI/OU=Clients/CN=dave (ecdsa-with-SHA512)" \
    inter client_ext rsa sha512
# client certificate with an ECDSA key (the server will list RSA signature algorithms only)
issue client-ec "/C=US/O=tlsdiag serverkey PKI/OU=Clients/CN=erin (ECDSA P-256 key)" \
    inter client_ext ec
# a separate CA that the server does not trust, with its own client
selfsigned untrusted-root "/C=US/O=Untrusted Org/CN=Untrusted Client Root CA"
issue client-untrusted "/C=US/O=Untrusted Org/OU=Clients/CN=mallory" untrusted-root client_ext rsa
# an unrelated CA for the bundle
selfsigned unrelated-root "/C=US/O=Unrelated Org/CN=Unrelated Root CA"
openssl x509 -in client-sha512.pem -noout -text | grep -m1 'Signature Algorithm' \
    | sed 's/^ */    client-sha512.pem: /' >&2
cat client.pem inter.pem > client-chain.pem              # for curl --cert (sends the chain)

# --- the server key in every format (all the SAME RSA key) ------------------------------
cd "$OUT"
openssl pkey -in "$P/server.key" -out server-key.pkcs8.pem                     # BEGIN PRIVATE KEY
openssl pkey -in "$P/server.key" -traditional -out server-key.pkcs1.pem        # BEGIN RSA PRIVATE KEY
openssl pkey -in "$P/server.key" -outform DER -out server-key.der              # PKCS#8 DER
openssl pkcs8 -topk8 -v2 aes-256-cbc -in server-key.pkcs8.pem -passout "pass:$PFX_PASS" \
    -out server-key.encrypted.pem                                             # BEGIN ENCRYPTED PRIVATE KEY
cp "$P/server.pem" server-cert.pem
openssl pkcs12 -export -inkey server-key.pkcs8.pem -in server-cert.pem -certfile "$P/inter.pem" \
    -name "tlsdiag serverkey localhost" -passout "pass:$PFX_PASS" -out server.pfx
openssl pkcs12 -export -legacy -inkey server-key.pkcs8.pem -in server-cert.pem \
    -certfile "$P/inter.pem" -name "tlsdiag serverkey localhost" -passout "pass:$PFX_PASS" \
    -out server-legacy.pfx
# what `openssl pkcs12 -nodes` prints: Bag Attributes / Key Attributes lines, then the key
openssl pkcs12 -in server.pfx -nocerts -nodes -passin "pass:$PFX_PASS" -out server-key.with-text.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other-key.pem 2>/dev/null
head -c 40 server-key.pkcs1.pem | grep -q 'BEGIN RSA PRIVATE KEY' || die "pkcs1 header"
head -c 40 server-key.pkcs8.pem | grep -q 'BEGIN PRIVATE KEY' || die "pkcs8 header"
grep -q '^Bag Attributes' server-key.with-text.pem || die "with-text has no Bag Attributes"
ref=$(openssl pkey -in server-key.pkcs8.pem -pubout | sha256sum)
{
    echo "# key files of captures/serverkey (generated $(date -u +%Y-%m-%dT%H:%M:%SZ)); PFX password: $PFX_PASS"
    echo "# public key SHA-256 (of openssl pkey -pubout PEM) per file; all but other-key.pem must match"
    for f in server-key.pkcs1.pem server-key.pkcs8.pem server-key.with-text.pem server-key.der \
             server.pfx server-legacy.pfx other-key.pem; do
        case $f in
            *.der) h=$(openssl pkey -inform DER -in "$f" -pubout | sha256sum) ;;
            server.pfx) h=$(openssl pkcs12 -in "$f" -nocerts -nodes -passin "pass:$PFX_PASS" | openssl pkey -pubout | sha256sum) ;;
            server-legacy.pfx) h=$(openssl pkcs12 -legacy -in "$f" -nocerts -nodes -passin "pass:$PFX_PASS" | openssl pkey -pubout | sha256sum) ;;
            *) h=$(openssl pkey -in "$f" -pubout | sha256sum) ;;
        esac
        same=no; [ "$h" = "$ref" ] && same=yes
        case $f in *.der|*.pfx) first="(binary DER)" ;; *) first=$(head -1 "$f") ;; esac
        printf '%-28s first line: %-32s same key as server-cert.pem: %s\n' "$f" "$first" "$same"
        if [ "$f" = other-key.pem ]; then [ "$same" = no ] || die "other-key matches"; else [ "$same" = yes ] || die "$f differs"; fi
    done
    echo
    echo "## openssl pkcs12 -info -noout server.pfx (modern defaults)"
    openssl pkcs12 -info -noout -in server.pfx -passin "pass:$PFX_PASS" 2>&1
    echo
    echo "## openssl pkcs12 -legacy -info -noout server-legacy.pfx"
    openssl pkcs12 -legacy -info -noout -in server-legacy.pfx -passin "pass:$PFX_PASS" 2>&1
    echo
    echo "## plain openssl pkcs12 (no -legacy) on server-legacy.pfx: OpenSSL 3 without the legacy provider"
    openssl pkcs12 -info -noout -in server-legacy.pfx -passin "pass:$PFX_PASS" 2>&1 \
        | sed -E 's/^[0-9A-F]{8,}:error:/error:/' | head -6 || true
} > keyfiles.txt
[ "$(openssl x509 -in server-cert.pem -noout -modulus)" = "$(openssl rsa -in server-key.pkcs1.pem -noout -modulus 2>/dev/null)" ] \
    || die "server cert does not match its key"
chmod 644 server-key.* server*.pfx other-key.pem     # test material, not secrets

# --- pki/ (certificates + client keys for the tests) -------------------------------------
mkdir -p pki
for f in root inter untrusted-root unrelated-root client client-sha512 client-ec client-untrusted; do
    cp "$P/$f.pem" "pki/$f.pem"
done
for f in client client-sha512 client-ec client-untrusted; do cp "$P/$f.key" "pki/$f.key"; done
chmod 644 pki/*

# --- trust stores -------------------------------------------------------------------------
mkdir -p trust/dir
cp "$P/root.pem" trust/root.pem
openssl x509 -in "$P/root.pem" -outform DER -out trust/root.der
cat "$P/root.pem" "$P/inter.pem" "$P/unrelated-root.pem" > trust/bundle.pem
cp "$P/root.pem" trust/dir/tlsdiag-serverkey-root.pem
cp "$P/inter.pem" trust/dir/tlsdiag-serverkey-intermediate.pem
cp "$P/unrelated-root.pem" trust/dir/unrelated-root.pem
openssl rehash trust/dir
openssl crl2pkcs7 -nocrl -certfile "$P/root.pem" -certfile "$P/inter.pem" -outform DER -out trust/roots.p7b

# --- 300 CAs with varied subject lengths ------------------------------------------------
log "generating 300 CA certificates"
cd "$P"
newkey list.key
python3 - > list-subjects.txt <<'PY'
import random
rng = random.Random(300)           # fixed seed: the same subjects on every run
words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Regional", "Clients",
         "Issuing", "Policy", "Partner", "Department", "Authority", "Services", "Internal",
         "Federation", "Workstations", "Devices", "Users", "Enterprise", "Certification"]
for i in range(1, 301):
    cn = "tlsdiag CA %03d" % i
    n = rng.choice([0, 0, 1, 2, 3, 5, 8, 12])
    if n:
        cn += " " + " ".join(rng.choice(words) for _ in range(n))
    cn = cn[:64].rstrip()
    parts = ["C=US"]
    if rng.random() < 0.7:
        parts.append("O=" + " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))[:64].rstrip())
    if rng.random() < 0.4:
        parts.append("OU=" + " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))[:64])
    if rng.random() < 0.2:
        parts.append("L=Example City %d" % rng.randint(1, 99))
    parts.append("CN=" + cn)
    print("/" + "/".join(parts))
PY
: > "$OUT/trust/300-cas.pem"
i=0
while IFS= read -r subj; do
    i=$((i + 1))
    openssl req -new -x509 -key list.key -days 3650 -sha256 -set_serial "$i" -subj "$subj" \
        -config ext.cnf -extensions list_ca_ext -out "list-$i.pem" 2>/dev/null
    cat "list-$i.pem" >> "$OUT/trust/300-cas.pem"
done < list-subjects.txt
[ "$i" = 300 ] || die "300 CAs: got $i"
python3 - "$OUT/trust/300-cas.pem" > "$OUT/trust/300-cas.expected.txt" <<'PY'
import sys
from cryptography import x509
certs = x509.load_pem_x509_certificates(open(sys.argv[1], "rb").read())
print("# trust/300-cas.pem: DER size of each certificate's subject Name (cryptography:")
print("# cert.subject.public_bytes()), in bundle order, and the running wire total of a TLS")
print("# CertificateRequest certificate_authorities / distinguished_names list:")
print("# sum(2 + len(DER subject)) (2-byte length prefix per name; the list's own 2-byte")
print("# length is not counted).")
print("# index\tder_len\trunning_total\tsubject")
tot = 0
cross = {}
for i, c in enumerate(certs, 1):
    n = len(c.subject.public_bytes())
    tot += n + 2
    for lim in (12288, 16384):
        if lim not in cross and tot > lim:
            cross[lim] = (i, tot, c.subject.rfc4514_string())
    print("%d\t%d\t%d\t%s" % (i, n, tot, c.subject.rfc4514_string()))
print("count\t%d" % len(certs))
print("wire_total\t%d" % tot)
for lim in (12288, 16384):
    i, t, s = cross[lim]
    print("passes_%d\tname #%d (running total %d > %d): %s" % (lim, i, t, lim, s))
assert len(certs) == 300 and 16384 < tot < 40000, tot
PY
grep -E '^(wire_total|passes)' "$OUT/trust/300-cas.expected.txt" | sed 's/^/    /' >&2
cd "$OUT"

# =========================================================================================
# 2. openssl s_server / s_client captures
# =========================================================================================
mkdir -p "$WORK/www"
BODY=$'hello from openssl s_server (tlsdiag serverkey)\n'
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "${#BODY}" "$BODY" > "$WORK/www/index.html"
GET_REQ=$'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n'
SCERT="-cert $P/server.pem -key $P/server.key -cert_chain $P/inter.pem"
CCERT="-cert $P/client.pem -key $P/client.key -cert_chain $P/inter.pem"
RSAKX=AES128-GCM-SHA256

srv_start() {   # srv_start PORT LOGNAME NACCEPT [s_server args...]
    local port=$1 name=$2 n=$3; shift 3
    (cd "$WORK/www" && exec openssl s_server -accept "127.0.0.1:$port" -naccept "$n" -HTTP "$@") \
        >"$WORK/srv-$name.log" 2>&1 </dev/null &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_port "$port"
}
cli() {         # cli NAME PORT LOGSUFFIX [s_client args...]
    local name=$1 port=$2 sfx=$3; shift 3
    printf '%s' "$GET_REQ" | timeout 20 openssl s_client -connect "127.0.0.1:$port" \
        -servername localhost -CAfile "$P/root.pem" -ign_eof -keylogfile "$OUT/$name.keys" "$@" \
        >>"$WORK/cli-$name.log$sfx" 2>&1 || true
}
# run_pair NAME PORT "server args" "client args": one connection, GET /index.html
run_pair() {
    local name=$1 port=$2 sargs=$3 cargs=$4
    log "== $name"
    cap_start "$name" "$port"
    # shellcheck disable=SC2086
    srv_start "$port" "$name" 1 -no_ticket -num_tickets 0 $sargs
    # shellcheck disable=SC2086
    cli "$name" "$port" "" $cargs
    wait_pid "$SRV_PID" 50
    cap_stop
    outcome "$name" "$WORK/srv-$name.log" "$WORK/cli-$name.log"
}

run_pair rsa-kx-tls12-gcm 4431 \
    "$SCERT -tls1_2 -cipher $RSAKX -Verify 1 -verify_return_error -CAfile $P/root.pem" \
    "$CCERT -tls1_2 -cipher $RSAKX"
run_pair rsa-kx-tls12-cbc 4432 \
    "$SCERT -tls1_2 -cipher AES256-SHA256 -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1_2 -cipher AES256-SHA256"
run_pair rsa-kx-tls10-cbc 4433 \
    "$SCERT -tls1 -cipher AES128-SHA:@SECLEVEL=0 -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1 -cipher AES128-SHA:@SECLEVEL=0"
run_pair ecdhe-tls12 4434 \
    "$SCERT -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1_2"
run_pair tls13 4435 \
    "$SCERT -tls1_3 -verify 1 -CAfile $P/root.pem" "$CCERT -tls1_3"
run_pair untrusted-client-ca 4436 \
    "$SCERT -tls1_2 -cipher $RSAKX -Verify 1 -verify_return_error -CAfile $P/root.pem" \
    "-cert $P/client-untrusted.pem -key $P/client-untrusted.key -tls1_2 -cipher $RSAKX"
# signature algorithms: the server lists RSA+SHA256:ECDSA+SHA256 for client certificates;
# dave's certificate is signed with ecdsa-with-SHA512. s_client -strict (TLS-standard
# checking of the chain against the server's list) withholds it -> empty Certificate.
SIGALGS="RSA+SHA256:ECDSA+SHA256"
run_pair client-sigalg-not-listed 4437 \
    "$SCERT -tls1_2 -cipher $RSAKX -Verify 1 -verify_return_error -client_sigalgs $SIGALGS -CAfile $P/root.pem" \
    "-cert $P/client-sha512.pem -key $P/client-sha512.key -cert_chain $P/inter.pem -strict -tls1_2 -cipher $RSAKX"
# same servers, default (non-strict) s_client: it sends the certificate anyway and
# the OpenSSL server accepts it (it does not check chain signatures against its list)
run_pair client-sigalg-not-listed-sent 4438 \
    "$SCERT -tls1_2 -cipher $RSAKX -Verify 1 -verify_return_error -client_sigalgs $SIGALGS -CAfile $P/root.pem" \
    "-cert $P/client-sha512.pem -key $P/client-sha512.key -cert_chain $P/inter.pem -tls1_2 -cipher $RSAKX"
# the client's KEY type has no signature algorithm in the list (ECDSA key, RSA-only list)
run_pair client-keytype-not-listed 4439 \
    "$SCERT -tls1_2 -cipher $RSAKX -Verify 1 -verify_return_error -client_sigalgs RSA+SHA256:RSA+SHA384 -CAfile $P/root.pem" \
    "-cert $P/client-ec.pem -key $P/client-ec.key -cert_chain $P/inter.pem -tls1_2 -cipher $RSAKX"

# --- resumption: two connections in one capture -----------------------------------------
# run_resume NAME PORT "server args" "client args"
run_resume() {
    local name=$1 port=$2 sargs=$3 cargs=$4
    log "== $name"
    cap_start "$name" "$port"
    # shellcheck disable=SC2086
    srv_start "$port" "$name" 2 $sargs
    # shellcheck disable=SC2086
    cli "$name" "$port" "" -sess_out "$WORK/$name.sess" $cargs
    [ -s "$WORK/$name.sess" ] || log "$name: no session saved"
    sleep 0.3
    # shellcheck disable=SC2086
    cli "$name" "$port" .2 -sess_in "$WORK/$name.sess" $cargs
    wait_pid "$SRV_PID" 50
    cap_stop
    outcome "$name" "$WORK/srv-$name.log" "$WORK/cli-$name.log"
    outcome "$name#2" /dev/null "$WORK/cli-$name.log.2"
    grep -q '^Reused' "$WORK/cli-$name.log.2" || die "$name: second connection not resumed"
}
run_resume resume-session-id 4441 \
    "$SCERT -tls1_2 -cipher $RSAKX -no_ticket -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1_2 -cipher $RSAKX -no_ticket"
run_resume resume-ticket 4442 \
    "$SCERT -tls1_2 -cipher $RSAKX -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1_2 -cipher $RSAKX"
run_resume resume-tls13-psk 4443 \
    "$SCERT -tls1_3 -verify 1 -CAfile $P/root.pem" \
    "$CCERT -tls1_3"

# =========================================================================================
# 3. Apache httpd mod_ssl: RSA key exchange only, TLS 1.2, SSLVerifyClient require in
#    <Location /secure> -> renegotiation inside the encrypted session (like IIS)
# =========================================================================================
AP=$WORK/apache
mkdir -p "$AP/htdocs/secure" "$AP/run" "$AP/logs"
echo "apache root" > "$AP/htdocs/index.html"
echo "apache secure area (client certificate accepted)" > "$AP/htdocs/secure/index.html"
chmod -R a+rX "$AP/htdocs"
M=/usr/lib/apache2/modules
APORT=4440
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
LogFormat "%h \"%r\" %>s %b verify=%{SSL_CLIENT_VERIFY}x cipher=%{SSL_CIPHER}x" tlsdiag
CustomLog "$AP/logs/access.log" tlsdiag
Listen 127.0.0.1:$APORT
DocumentRoot "$AP/htdocs"
DirectoryIndex index.html
<Directory "$AP/htdocs">
    Require all granted
</Directory>
SSLSessionCache "shmcb:$AP/run/ssl_scache(32768)"
SSLSessionTickets off
<VirtualHost 127.0.0.1:$APORT>
    SSLEngine on
    SSLProtocol -all +TLSv1.2
    SSLCipherSuite $RSAKX
    SSLCertificateFile "$P/server.pem"
    SSLCertificateChainFile "$P/inter.pem"
    SSLCertificateKeyFile "$P/server.key"
    SSLCACertificateFile "$P/root.pem"
    SSLVerifyClient none
    SSLVerifyDepth 3
    <Location /secure>
        SSLVerifyClient require
    </Location>
</VirtualHost>
EOF
log "== apache"
"$APACHE2" -t -f "$AP/httpd.conf" 2>"$WORK/apache-t.err" || { cat "$WORK/apache-t.err" >&2; die "apache config"; }
"$APACHE2" -f "$AP/httpd.conf" -k start || die "apache did not start"
wait_port "$APORT"
curl_tls() {    # curl_tls NAME [curl args...]
    local name=$1; shift
    log "== $name"
    cap_start "$name" "$APORT"
    SSLKEYLOGFILE="$OUT/$name.keys" timeout 20 curl -sS --http1.1 --cacert "$P/root.pem" \
        --tlsv1.2 --tls-max 1.2 --ciphers "$RSAKX" -o "$WORK/curl-$name.body" \
        -w 'HTTP %{http_code} (curl)\n' "$@" >"$WORK/curl-$name.log" 2>&1 || true
    cap_stop
    outcome "$name" /dev/null "$WORK/curl-$name.log"
}
curl_tls rsa-kx-reneg-clientauth-ok --cert "$WORK/pki/client-chain.pem" --key "$P/client.key" \
    "https://localhost:$APORT/secure/" --resolve "localhost:$APORT:127.0.0.1"
curl_tls rsa-kx-reneg-clientauth-nocert \
    "https://localhost:$APORT/secure/" --resolve "localhost:$APORT:127.0.0.1"
"$APACHE2" -f "$AP/httpd.conf" -k stop || kill -TERM "$(cat "$AP/httpd.pid")"
for ((i = 0; i < 50; i++)); do [ -f "$AP/httpd.pid" ] || break; sleep 0.1; done
sed -E 's/^\[[^]]*\] //' "$AP/logs/error.log" | grep -E 'AH0(2221|2255|2261|2226|2008|2039|2040)|renegotiat|handshake|verify|Certificate' \
    | grep -vE 'AH01909|AH10159|AH02568' | sed 's/^/apache\tserver\t/' | tee -a "$OUTCOMES" | sed 's/^/    /' >&2 || true
sed 's/^/apache-access\tserver\t/' "$AP/logs/access.log" | tee -a "$OUTCOMES" | sed 's/^/    /' >&2 || true

# =========================================================================================
# 4. RSA / PMS_CLIENT_RANDOM key logs from the server key (independent oracle)
# =========================================================================================
log "== pre-master secrets from the server key (python cryptography)"
python3 "$HERE/pms_from_key.py" --pcap rsa-kx-tls12-gcm.pcap --key server-key.pkcs8.pem \
    --nss rsa-kx-tls12-gcm.keys --rsa-out rsa-kx-tls12-gcm.rsa.keys \
    --pms-out rsa-kx-tls12-gcm.pms.keys
for k in rsa-kx-tls12-gcm.keys rsa-kx-tls12-gcm.rsa.keys rsa-kx-tls12-gcm.pms.keys; do
    n=$(tshark -r rsa-kx-tls12-gcm.pcap -o "tls.keylog_file:$k" -Y http 2>/dev/null | wc -l)
    log "tshark -o tls.keylog_file:$k -Y http -> $n frames"
    [ "$n" -ge 2 ] || die "$k does not decrypt rsa-kx-tls12-gcm.pcap"
done

{
    echo "# generated by make-serverkey-captures.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "openssl: $(openssl version)"
    echo "curl: $(curl --version | head -1)"
    echo "apache2: $("$APACHE2" -v 2>/dev/null | head -1)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "python cryptography: $(python3 -c 'import cryptography; print(cryptography.__version__)')"
    echo "kernel: $(uname -sr)"
} > versions.txt
log "inner part done"

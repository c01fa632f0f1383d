# Shared helpers of the capture scripts (captures/make-*.sh, scripts/make-bench-seeds.sh).
# Sourced, not run. The caller defines log() and die(), and for the capture helpers $OUT
# (where captures go), $WORK (temp dir), PIDS=() and TCPDUMP_PID="".

# --- processes --------------------------------------------------------------------------

wait_pid() {    # wait_pid PID [TENTHS]: wait for it to exit, kill it after TENTHS/10 s
    local pid=$1 n=${2:-100} i
    for ((i = 0; i < n; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still running after $((n / 10))s, killing it"
        kill -TERM "$pid" 2>/dev/null || true
        sleep 0.2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && [ "$p" != "$pid" ] && keep+=("$p"); done
    PIDS=("${keep[@]:-}")
}

port_busy() { ss -Hltn "sport = :$1" | grep -q .; }

wait_port() {   # wait until something listens on port $1
    local i
    for ((i = 0; i < 100; i++)); do port_busy "$1" && return 0; sleep 0.1; done
    die "nothing listening on port $1"
}

wait_file_grep() {  # wait_file_grep FILE REGEX TENTHS
    local i
    for ((i = 0; i < ${3:-100}; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "timeout waiting for /$2/ in $1"
    return 1
}

# --- recording on loopback --------------------------------------------------------------

cap_start() {   # cap_start NAME PORT: record TCP port PORT on lo into $OUT/NAME.pcap
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
    sleep 0.5                       # let the last FIN/ACKs through
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait_pid "$TCPDUMP_PID" 50
    grep -E 'packets captured' "$WORK/tcpdump-$CAP_NAME.err" | sed "s/^/[$CAP_NAME] /" >&2 || true
    TCPDUMP_PID=""
}

# --- PKI (run in a directory holding ext.cnf) -------------------------------------------

newkey() {      # newkey FILE [rsa [BITS]]: P-256 by default, RSA (2048 bits unless given)
    if [ "${2:-}" = rsa ]; then
        openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${3:-2048}" -out "$1" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    fi
}

serial() { echo "0x$(openssl rand -hex 8)"; }

selfsigned() {  # selfsigned NAME SUBJ: a root CA, 20 years
    newkey "$1.key"
    openssl req -new -x509 -key "$1.key" -subj "$2" -days 7300 -sha256 \
        -set_serial "$(serial)" -config ext.cnf -extensions root_ext -out "$1.pem" 2>/dev/null
}

issue() {       # issue NAME SUBJ CA EXT [DAYS] [rsa]: a certificate signed by CA
    newkey "$1.key" "${6:-}"
    openssl req -new -key "$1.key" -subj "$2" -config ext.cnf -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$(serial)" \
        -days "${5:-3650}" -sha256 -extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}

# --- what the TLS software said ---------------------------------------------------------

# outcome NAME SERVERLOG CLIENTLOG: appends to $OUTCOMES (and echoes to stderr) the lines of the
# server's and the client's logs that match $OUTCOME_LINES (an extended regex), counted.
outcome() {
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

# write_ext_cnf: the OpenSSL config every script's PKI starts from (CA, intermediate, server
# and client leaves, the filler CAs of long CA lists); scripts append their own sections.
write_ext_cnf() {
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
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

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
}

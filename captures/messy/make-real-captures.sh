#!/usr/bin/env bash
# Real-software captures of tlsdiag's "messy traffic" set:
#   http-101-websocket.pcap                 python `websockets` server + client, clear HTTP
#   openvpn-tcp.pcap / openvpn-tcp-tlsauth.pcap
#   openvpn-udp.pcap / openvpn-udp-tlsauth.pcap
#   openvpn-tcp-clientcert-rejected.pcap    client cert from a CA the server does not trust
# Everything runs on loopback inside the private network namespace tlsdiag-messy,
# recorded with tcpdump inside it.  Run as root:  bash captures/messy/make-real-captures.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NS=tlsdiag-messy
WORK="$(mktemp -d /tmp/tlsdiag-messy.XXXXXX)"
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
need=()
for c in tcpdump:tcpdump openvpn:openvpn openssl:openssl tshark:tshark; do
    command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
python3 -c 'import websockets' 2>/dev/null || pip install websockets

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
nsx() { ip netns exec "$NS" "$@"; }

# start tcpdump in the netns; wait until it is listening
cap_start() {  # file filter
    ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$WORK/tcpdump.err" &
    CAP_PID=$!; PIDS+=("$CAP_PID")
    for _ in $(seq 50); do grep -q listening "$WORK/tcpdump.err" && break; sleep 0.1; done
}
cap_stop() { sleep 0.5; kill "$CAP_PID" 2>/dev/null || true; wait "$CAP_PID" 2>/dev/null || true
            chown root:root "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- PKI
cd "$WORK"
ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1"; }
mkcert() {  # name subject issuer-name(or self) ext
    local n=$1 subj=$2 iss=$3 ext=$4
    ec "$n.key"
    openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr"
    if [ "$iss" = self ]; then
        openssl x509 -req -in "$n.csr" -signkey "$n.key" -days 3650 -set_serial 0x$RANDOM$RANDOM \
            -extfile <(printf '%s\n' "$ext") -out "$n.crt" 2>/dev/null
    else
        openssl x509 -req -in "$n.csr" -CA "$iss.crt" -CAkey "$iss.key" -days 3650 \
            -set_serial 0x$RANDOM$RANDOM -extfile <(printf '%s\n' "$ext") -out "$n.crt" 2>/dev/null
    fi
}
CAEXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash'
mkcert ca "/O=tlsdiag messy/CN=Messy VPN Root CA" self "$CAEXT"
mkcert ica "/O=tlsdiag messy/CN=Messy VPN Client Issuing CA" ca "$CAEXT
authorityKeyIdentifier=keyid"
mkcert server "/O=tlsdiag messy/CN=vpn.messy.test" ca 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:vpn.messy.test'
mkcert client "/O=tlsdiag messy/CN=alice" ica 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
cat client.crt ica.crt > client-chain.crt
mkcert rogueca "/O=Rogue Org/CN=Rogue Root CA" self "$CAEXT"
mkcert rogue "/O=Rogue Org/CN=mallory" rogueca 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
cat rogue.crt rogueca.crt > rogue-chain.crt
# server trusts the root and the client issuing CA (both appear as CA names)
cat ca.crt ica.crt > server-ca.crt
openvpn --genkey secret ta.key

# ---------------------------------------------------------------- OpenVPN
# point-to-point TLS mode (no --server/--client pool), --dev null: the TLS
# control channel and data channel key exchange are complete without a tun.
ovpn_case() {  # out proto tlsauth(0/1) clientcert clientkey
    local out=$1 proto=$2 ta=$3 ccert=$4 ckey=$5
    local sproto cproto
    if [ "$proto" = tcp ]; then sproto=tcp-server; cproto=tcp-client; else sproto=udp; cproto=udp; fi
    local common=(--dev null --verb 3 --tls-version-max 1.2 --data-ciphers AES-256-GCM
                  --cipher AES-256-GCM --ping 1 --persist-key --connect-retry-max 1)
    local tas=() tac=()
    if [ "$ta" = 1 ]; then tas=(--tls-auth ta.key 0); tac=(--tls-auth ta.key 1); fi
    cap_start "$HERE/$out" "port 1194"
    ip netns exec "$NS" timeout 9 openvpn "${common[@]}" --proto "$sproto" --local 127.0.0.1 --lport 1194 \
        --tls-server --dh none --ca server-ca.crt --cert server.crt --key server.key \
        "${tas[@]}" >"$WORK/$out.server.log" 2>&1 &
    PIDS+=($!)
    sleep 1
    nsx timeout 5 openvpn "${common[@]}" --proto "$cproto" --remote 127.0.0.1 1194 --nobind \
        --tls-client --ca ca.crt --cert "$ccert" --key "$ckey" --remote-cert-eku "TLS Web Server Authentication" \
        "${tac[@]}" >"$WORK/$out.client.log" 2>&1 || true
    sleep 0.5
    kill "${PIDS[-1]}" 2>/dev/null || true; wait "${PIDS[-1]}" 2>/dev/null || true
    cap_stop "$HERE/$out"
    echo "== $out"; grep -E "Peer Connection|VERIFY|Initialization Sequence|TLS Error|error" \
        "$WORK/$out.server.log" "$WORK/$out.client.log" | head -12 || true
}
ovpn_case openvpn-tcp.pcap tcp 0 client-chain.crt client.key
ovpn_case openvpn-tcp-tlsauth.pcap tcp 1 client-chain.crt client.key
ovpn_case openvpn-udp.pcap udp 0 client-chain.crt client.key
ovpn_case openvpn-udp-tlsauth.pcap udp 1 client-chain.crt client.key
ovpn_case openvpn-tcp-clientcert-rejected.pcap tcp 0 rogue-chain.crt rogue.key

# ---------------------------------------------------------------- WebSocket
cat >ws.py <<'EOF'
import asyncio, sys
import websockets
async def handler(ws):
    async for msg in ws:
        await ws.send("echo: " + msg)
async def server():
    async with websockets.serve(handler, "127.0.0.1", 8080, compression=None):
        await asyncio.sleep(6)
async def client():
    async with websockets.connect("ws://127.0.0.1:8080/chat", compression=None,
                                  additional_headers={"User-Agent": "tlsdiag-messy"}) as ws:
        for m in ("hello", "second message"):
            await ws.send(m)
            print(await ws.recv())
asyncio.run(server() if sys.argv[1] == "server" else client())
EOF
cap_start "$HERE/http-101-websocket.pcap" "tcp port 8080"
ip netns exec "$NS" timeout 8 python3 ws.py server &
PIDS+=($!)
sleep 1
nsx timeout 5 python3 ws.py client
wait "${PIDS[-1]}" 2>/dev/null || true
cap_stop "$HERE/http-101-websocket.pcap"
echo "done"

#!/usr/bin/env bash
# Throughput of tlsdiag on large captures, and the comparison with tshark.
#
#   scripts/bench.sh [SIZE]        # SIZE of each generated capture, default 1G
#
# Builds the release binary, replicates the real seed captures of benches/data/ (see its
# README) with new addresses and sequence numbers, cut into Ethernet-sized segments (MSS 1448:
# the seeds were recorded on loopback, whose packets carry up to 64 KB), into two captures of
# SIZE in $BENCH_DIR
# (default /tmp/tlsdiag-bench), runs tlsdiag on each (one thread: one file; median of three
# runs) and `tshark -n -r F -Y tls.handshake` on the same file (once: it takes tens of seconds
# per GB). Prints a Markdown table: seconds, MB/s, peak RSS of both, and the speed-up.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
DIR=${BENCH_DIR:-/tmp/tlsdiag-bench}
mkdir -p "$DIR"

command -v tshark >/dev/null || { echo "tshark is needed: apt-get install tshark" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed: apt-get install time" >&2; exit 2; }
cargo build --release --quiet

for kind in handshake-heavy bulk; do
  [ -s "$DIR/$kind.pcap" ] && [ "$(stat -c %s "$DIR/$kind.pcap")" -ge $(( $(numfmt --from=iec "$SIZE") * 95 / 100 )) ] ||
    python3 scripts/replicate-pcap.py --mss 1448 --size "$SIZE" -o "$DIR/$kind.pcap" "benches/data/$kind.pcap"
done

mbps() { python3 -c "print(f'{$1 / 1e6 / $2:.0f}')"; }

echo "| input | size | connections | tlsdiag s | tlsdiag MB/s | peak RSS | tshark s | tshark MB/s | tshark RSS | speed-up |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for kind in handshake-heavy bulk; do
  f="$DIR/$kind.pcap"
  bytes=$(stat -c %s "$f")
  # Warm the page cache so both tools read from memory.
  cat "$f" > /dev/null
  # tlsdiag: median of three runs, one thread.
  : > "$DIR/time.txt"
  for _ in 1 2 3; do
    /usr/bin/time -a -f "%e %M" -o "$DIR/time.txt" ./target/release/tlsdiag -q -f summary -j 1 "$f" > "$DIR/$kind.summary"
  done
  read -r secs rss < <(sort -n "$DIR/time.txt" | sed -n 2p)
  conns=$(grep -o '[0-9]* TCP conversations' "$DIR/$kind.summary" | head -1 | cut -d' ' -f1)
  ours=$(mbps "$bytes" "$secs")
  # tshark: the issue's command, on the same file, once (it takes tens of seconds).
  /usr/bin/time -f "%e %M" -o "$DIR/tshark.txt" tshark -n -r "$f" -Y tls.handshake > /dev/null 2>&1 || true
  read -r tsecs trss < <(tail -1 "$DIR/tshark.txt")
  theirs=$(mbps "$bytes" "$tsecs")
  ratio=$(python3 -c "print(f'{$tsecs / $secs:.0f}')")
  echo "| $kind | $(numfmt --to=iec "$bytes") | $conns | $secs | $ours | $((rss / 1024)) MB | $tsecs | $theirs | $((trss / 1024)) MB | ${ratio}x |"
done

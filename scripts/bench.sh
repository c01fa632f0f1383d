#!/usr/bin/env bash
# Throughput and memory of tlsdiag on large captures, in every output format, next to `cat`.
#
#   scripts/bench.sh [SIZE]        # SIZE of the two main captures, default 1G
#
# Environment: BENCH_DIR (default /tmp/tlsdiag-bench) holds the generated captures; RUNS
# (default 3) runs per measurement, the median is kept; TSHARK=1 adds tshark on the same files;
# FORMATS (default: every format) limits the formats; JOBS_ONLY=1 measures only `-j 2`.
#
# Inputs, generated once into BENCH_DIR:
#   handshake-heavy  the real nginx/curl connections of benches/data/ (see its README)
#                    replicated with new addresses and sequence numbers and cut into
#                    Ethernet-sized segments (MSS 1448), about 30 connections per MB
#   bulk             3 MB downloads, replicated the same way (about 90% application data)
#   handshake-heavy at SIZE/8, to check that 8x the data costs at most 8x the time
#   syn-scan         1,000,000 SYN-only flows (what a port scan looks like)
#   hostile-*        the memory attacks of issue 15 (scripts/make-hostile.py): 5,000
#                    connections announcing 4 MiB ClientHellos (handshake), 200 connections
#                    sending 2 MB after a hole (ooo), 20,000 lone fragments at offset 65,512
#
# For each input: `cat FILE > /dev/null` (median of RUNS, page cache warm), then tlsdiag
# `-q -f FORMAT -j 1` per format; MB/s, the fraction of cat's speed, peak RSS (wait4).
# Then `-j 2` on one file (summary and jsonl) against `-j 1`, PAIRS (default 7) runs of each
# taking turns, checked byte for byte.
# Prints Markdown tables; the README's Performance section is this output.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
DIR=${BENCH_DIR:-/tmp/tlsdiag-bench}
RUNS=${RUNS:-3}
FORMATS=${FORMATS:-summary jsonl json text sarif html parquet}
mkdir -p "$DIR"
if [[ " $FORMATS " == *" parquet "* ]]; then
  cargo build --release --quiet --features parquet
else
  cargo build --release --quiet
fi
BIN=./target/release/tlsdiag
bytes_of() { numfmt --from=iec "$1"; }
SMALL=$(( $(bytes_of "$SIZE") / 8 ))

# generate NAME COMMAND...: runs COMMAND (which writes $DIR/NAME.pcap) unless the file exists.
generate() {
  local name=$1; shift
  [ -s "$DIR/$name.pcap" ] || "$@" > /dev/null
}
generate handshake-heavy python3 scripts/replicate-pcap.py --mss 1448 --size "$SIZE" -o "$DIR/handshake-heavy.pcap" benches/data/handshake-heavy.pcap
generate bulk python3 scripts/replicate-pcap.py --mss 1448 --size "$SIZE" -o "$DIR/bulk.pcap" benches/data/bulk.pcap
generate handshake-heavy-small python3 scripts/replicate-pcap.py --mss 1448 --size "$SMALL" -o "$DIR/handshake-heavy-small.pcap" benches/data/handshake-heavy.pcap
INPUTS="handshake-heavy bulk handshake-heavy-small"
if [ -f scripts/make-syn-scan.py ]; then
  generate syn-scan python3 scripts/make-syn-scan.py --flows 1000000 -o "$DIR/syn-scan.pcap"
  INPUTS="$INPUTS syn-scan"
fi
if [ -f scripts/make-hostile.py ]; then
  for kind in handshake ooo fragments; do
    generate "hostile-$kind" python3 scripts/make-hostile.py "$kind" -o "$DIR/hostile-$kind.pcap"
    INPUTS="$INPUTS hostile-$kind"
  done
fi

# median COMMAND...: "seconds peak-KB" of the median of RUNS runs (scripts/measure.py).
median() { python3 scripts/measure.py "$RUNS" "$@"; }
ratio() { python3 -c "print(f'{$1 / max($2, 0.005):.${3:-2}f}')"; }
mbps() { python3 -c "print(f'{$1 / 1e6 / max($2, 0.005):,.0f}')"; }

declare -A SECS
if [ "${JOBS_ONLY:-0}" != 1 ]; then
echo "| input | size | cat | format | seconds | MB/s | fraction of cat | peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for input in $INPUTS; do
  f="$DIR/$input.pcap"
  bytes=$(stat -c %s "$f")
  cat "$f" > /dev/null
  read -r cat_secs _ < <(median cat "$f")
  for format in $FORMATS; do
    if [ "$format" = parquet ]; then
      rm -rf "$DIR/parquet"
      set -- $BIN -q -f parquet -j 1 -o "$DIR/parquet" "$f"
    else
      set -- $BIN -q -f "$format" -j 1 "$f"
    fi
    read -r secs rss < <(median "$@")
    SECS[$input/$format]=$secs
    echo "| $input | $(numfmt --to=iec "$bytes") | ${cat_secs} s | $format | $secs | $(mbps "$bytes" "$secs") | $(ratio "$cat_secs" "$secs") | $((rss / 1024)) MB |"
  done
done

echo
echo "Linearity: time on handshake-heavy ($SIZE) over time on handshake-heavy-small ($SIZE/8); at most 8 x 1.2 = 9.6 is linear."
echo
echo "| format | $SIZE | $SIZE/8 | ratio |"
echo "|---|---|---|---|"
for format in $FORMATS; do
  big=${SECS[handshake-heavy/$format]}
  small=${SECS[handshake-heavy-small/$format]}
  echo "| $format | $big s | $small s | $(ratio "$big" "$small" 1) |"
done
fi

echo
echo "One file on two threads (\`-j 2\` against \`-j 1\`, same output byte for byte; PAIRS=${PAIRS:-7}"
echo "runs of each taking turns, since a shared machine's speed drifts; medians, and the best run of"
echo "each, which the machine's other load slows least):"
echo
echo "| input | format | -j 1 | -j 2 | speed-up | best -j 1 | best -j 2 | speed-up of the best | -j 2 peak RSS | same output |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for input in handshake-heavy bulk; do
  f="$DIR/$input.pcap"
  for format in summary jsonl; do
    ones=(); twos=(); rss=0
    for _ in $(seq "${PAIRS:-7}"); do
      read -r one _ < <(python3 scripts/measure.py 1 $BIN -q -f "$format" -j 1 "$f")
      read -r two kb < <(python3 scripts/measure.py 1 $BIN -q -f "$format" -j 2 "$f")
      ones+=("$one"); twos+=("$two"); [ "$kb" -gt "$rss" ] && rss=$kb
    done
    one=$(printf '%s\n' "${ones[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    two=$(printf '%s\n' "${twos[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    best_one=$(printf '%s\n' "${ones[@]}" | sort -n | head -1)
    best_two=$(printf '%s\n' "${twos[@]}" | sort -n | head -1)
    $BIN -q -f "$format" -j 1 "$f" > "$DIR/one.out"
    $BIN -q -f "$format" -j 2 "$f" > "$DIR/two.out"
    same=yes; cmp -s "$DIR/one.out" "$DIR/two.out" || same=NO
    echo "| $input | $format | $one s | $two s | $(ratio "$one" "$two")x | $best_one s | $best_two s | $(ratio "$best_one" "$best_two")x | $((rss / 1024)) MB | $same |"
  done
done
rm -f "$DIR/one.out" "$DIR/two.out"

if [ "${TSHARK:-0}" = 1 ]; then
  command -v tshark >/dev/null || { echo "tshark is needed: apt-get install tshark" >&2; exit 2; }
  echo
  echo "| input | \`tshark -n -r F -Y tls.handshake\` | tshark RSS | tlsdiag summary | speed-up |"
  echo "|---|---|---|---|---|"
  for input in handshake-heavy bulk; do
    f="$DIR/$input.pcap"
    read -r tsecs trss < <(python3 scripts/measure.py 1 tshark -n -r "$f" -Y tls.handshake)
    ours=${SECS[$input/summary]}
    echo "| $input | $tsecs s | $((trss / 1024)) MB | $ours s | $(ratio "$tsecs" "$ours" 0)x |"
  done
fi

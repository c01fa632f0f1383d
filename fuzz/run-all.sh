#!/bin/sh
# Runs fuzz targets in turn, one process each (the machine stays usable), and prints the last
# libFuzzer status line of each (exec count). Seeds: python3 fuzz/seeds.py first.
#   fuzz/run-all.sh 600                      every target for 600 s
#   fuzz/run-all.sh 600 capture http:300     those targets, 600 s unless given
set -u
cd "$(dirname "$0")"
SECONDS_EACH=${1:-600}
[ $# -gt 0 ] && shift
LIST=${*:-tls_session certificate http keylog capture capture_chunks capture_keys kerberos iislog schannel serverkey trust}
for spec in $LIST; do
    t=${spec%%:*}
    secs=$SECONDS_EACH
    [ "$t" != "$spec" ] && secs=${spec#*:}
    mkdir -p corpus/$t artifacts/$t
    cargo +nightly fuzz run "$t" corpus/$t -- -max_total_time="$secs" \
        -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 -artifact_prefix=artifacts/$t/ \
        > "logs-$t.txt" 2>&1
    echo "$t ($secs s): exit $? $(grep -E '^#[0-9]+' "logs-$t.txt" | tail -1)"
    grep -E 'stat::number_of_executed_units' "logs-$t.txt"
done

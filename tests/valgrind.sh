#!/bin/sh
# valgrind.sh BUILD -- a short pbrd run under valgrind (memcheck): start,
# ingest the spec's example events plus a generated stream, settle, query,
# verify, reload, a backup, metrics scrapes, long-poll waits (woken, and
# parked at SIGTERM), SIGTERM; lines with a NUL byte
# and invalid UTF-8 quarantined, listed and purged. Fails when valgrind
# reports an error or a leak.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed"; exit 2; }
tmp=$(mktemp -d /tmp/pbrd-valgrind-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/contracts"
ex="${PBR_SPEC:+$PBR_SPEC/example}"
ex="${ex:-$root/tests/spec-example}"
cp "$ex/example.yaml" "$ex/example2.yaml" "$tmp/contracts/"
base=$((20000 + $$ % 3333 * 3))  # 20000-29998: below the ephemeral range (32768-), so never a port in use by an outgoing connection
ingest="tcp://127.0.0.1:$base"; api="tcp://127.0.0.1:$((base + 1))"; pub="tcp://127.0.0.1:$((base + 2))"
metrics="127.0.0.1:$((base - 10000))"  # 10000-19998: not ephemeral, not the three above
ctl() { "$bin/pbrctl" --ingest "$ingest" --api "$api" --timeout 60000 "$@"; }
printf 'auto_settle: false\nmetrics: %s\n' "$metrics" > "$tmp/pbrd.yaml"
scrape() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "http://$metrics/metrics"; }
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    --error-exitcode=99 --log-file="$tmp/valgrind.log" \
    "$bin/pbrd" -c "$tmp/pbrd.yaml" --foreground --data "$tmp/data" --contracts "$tmp/contracts" \
    --ingest "$ingest" --api "$api" --publish "$pub" --now 2030-01-01 2> "$tmp/pbrd.log" &
pid=$!
i=0
until ctl --timeout 500 status >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 120 ] || { echo "pbrd did not start under valgrind"; cat "$tmp/pbrd.log"; kill $pid; exit 1; }
    sleep 0.5  # pbrctl fails at once while nothing listens: give valgrind its minute
done
ctl send "$ex/example.jsonl" >/dev/null 2>&1
"$bin/pbrgen" --seed 3 --offenders 300 --malformed 0.01 -o "$tmp/gen.jsonl" 2>/dev/null
ctl send "$tmp/gen.jsonl" >/dev/null 2>&1 || true
printf '{"id":"n\000ul"}\nab\377\376\n' > "$tmp/bad.jsonl" # a NUL byte, invalid UTF-8: quarantined
ctl send "$tmp/bad.jsonl" >/dev/null 2>&1 || true
ctl wait --max-wait 60000 > "$tmp/wait1.out" 2>&1 &   # parked, woken by the settle
w1=$!
ctl wait --after 100000 --max-wait 60000 > "$tmp/wait2.out" 2>&1 &  # still parked at SIGTERM
w2=$!
sleep 1
ctl settle 2030-01-01 >/dev/null
wait $w1 || { echo "valgrind.sh: pbrctl wait was not woken by the settle"; cat "$tmp/wait1.out"; kill $pid; exit 1; }
ctl wait --after 0 --max-wait 0 >/dev/null 2>&1
ctl statement example 2022-01-01 --format text >/dev/null
ctl cohorts example >/dev/null
ctl quarantine >/dev/null
ctl quarantine --purge-before 2000-01-01 >/dev/null
ctl verify >/dev/null
ctl reload >/dev/null
ctl backup "$tmp/backup" >/dev/null
scrape | grep -q '^pbrd_events_stored_total [1-9]' || { echo "valgrind.sh: metrics scrape failed"; kill $pid; exit 1; }
scrape > /dev/null
kill -TERM $pid
rc=0; wait $pid || rc=$?
wait $w2 || true  # answered "wait: pbrd is stopping" at shutdown
if [ $rc -ne 0 ] || [ -s "$tmp/valgrind.log" ]; then
    echo "valgrind.sh: pbrd exited $rc; valgrind says:"; cat "$tmp/valgrind.log"; exit 1
fi
echo "valgrind.sh: pbrd is valgrind-clean (no errors, no leaks)"

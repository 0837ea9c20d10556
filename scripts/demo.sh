#!/bin/sh
# demo.sh BUILD -- the main job on an embedded default: starts pbrd on a
# temporary data dir with the contracts in contracts/, sends a generated
# event stream (with a few malformed lines, which are quarantined), settles
# every quarter due, prints a few statements for people, verifies every
# issued statement against the event log, and stops the daemon.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build"
tmp=$(mktemp -d /tmp/pbrd-demo-XXXXXX)
base=$((20000 + $$ % 20000))
ingest="tcp://127.0.0.1:$base"; api="tcp://127.0.0.1:$((base + 1))"; pub="tcp://127.0.0.1:$((base + 2))"
ctl() { "$bin/pbrctl" --ingest "$ingest" --api "$api" "$@"; }
pid=""
finish() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; true; }
trap finish EXIT INT TERM

echo "== pbrd demo in $tmp"
"$bin/pbrctl" check "$root"/contracts/*.yaml
"$bin/pbrgen" --seed 42 --offenders 20000 --malformed 0.0002 -o "$tmp/events.jsonl"
printf 'auto_settle: false\n' > "$tmp/pbrd.yaml"
# The clock is fixed (--now) so every quarter of the example contracts is due.
"$bin/pbrd" -c "$tmp/pbrd.yaml" --foreground --data "$tmp/data" --contracts "$root/contracts" \
    --ingest "$ingest" --api "$api" --publish "$pub" --now 2020-01-01 2> "$tmp/pbrd.log" &
pid=$!
i=0
until ctl --timeout 200 status >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "pbrd did not start:"; cat "$tmp/pbrd.log"; exit 1; }
    sleep 0.1
done
echo "== send (malformed lines are rejected and quarantined)"
ctl send "$tmp/events.jsonl" 2> "$tmp/send.err" || true
grep -v '^ *$' "$tmp/send.err" | tail -n 4
echo "== quarantine (newest 2)"
ctl quarantine --limit 2
echo "== settle every quarter due"
ctl settle 2019-10-01 > "$tmp/settle.txt"
head -n 1 "$tmp/settle.txt"
echo "== contracts"
ctl contracts
for spec in doncaster:2013-07-01 peterborough:2016-01-01 ippr-custody:2015-01-01; do
    c=${spec%%:*}; q=${spec#*:}
    echo "== statement $c $q"
    ctl statement "$c" "$q" --format text || true
done
echo "== provisional figures (cohorts) of doncaster now"
ctl cohorts doncaster | head -n 6
echo "== verify"
ctl verify
echo "== statements on disk: $tmp/data/statements/ ($(find "$tmp/data/statements" -name '*.json' | wc -l) files); log: $tmp/pbrd.log"
kill -TERM "$pid"; wait "$pid"; pid=""
echo "== pbrd stopped cleanly"

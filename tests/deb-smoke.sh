#!/bin/sh
# deb-smoke.sh PACKAGE.deb -- installs the Debian package and uses it as an
# operator would, then purges it (run by .ci/run as root, after make deb):
#   dpkg -i; the files where Debian puts them; --version; pbrd --check -c
#   /etc/pbrd/pbrd.yaml; man pbrd-contract; the installed /usr/bin/pbrd in the
#   foreground on a temporary data directory, with one example contract from
#   /usr/share/doc/pbrd/examples and a fixed --now; pbrgen | pbrctl send -;
#   pbrctl settle; pbrctl statement (real figures, byte for byte what
#   pbrctl simulate computes offline); pbrctl verify; a metrics scrape;
#   pbrctl backup, then pbrd on the backup (restore): verify and last_seq;
#   SIGTERM; dpkg --purge.
# Exit status 0 when every step passed.
set -eu
deb=${1:?usage: deb-smoke.sh PACKAGE.deb}
[ "$(id -u)" -eq 0 ] || { echo "deb-smoke.sh: needs root (dpkg -i)"; exit 2; }
case $deb in /*) ;; *) deb="$(pwd)/$deb" ;; esac
tmp=$(mktemp -d /tmp/pbrd-deb-XXXXXX)
pid=""
finish() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap finish EXIT INT TERM
step() { printf '== %s\n' "$*"; }
die() { printf 'deb-smoke.sh: FAILED: %s\n' "$*" >&2; exit 1; }

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb"
version=$(dpkg-deb -f "$deb" Version)

step "installed files"
for f in /usr/bin/pbrd /usr/bin/pbrctl /usr/bin/pbrgen /etc/pbrd/pbrd.yaml /lib/systemd/system/pbrd.service \
    /usr/share/bash-completion/completions/pbrctl; do
    [ -e "$f" ] || die "$f is not installed"
done
[ -d /etc/pbrd/contracts ] || die "/etc/pbrd/contracts is not installed"
[ -z "$(ls -A /etc/pbrd/contracts)" ] || die "the package installed live contracts: $(ls /etc/pbrd/contracts)"
dpkg-query -W -f '${Conffiles}\n' pbrd | grep -q '^ /etc/pbrd/pbrd.yaml ' || die "/etc/pbrd/pbrd.yaml is not a conffile"
grep -q '^ExecStart=/usr/bin/pbrd ' /lib/systemd/system/pbrd.service || die "the unit does not run /usr/bin/pbrd"
examples=/usr/share/doc/pbrd/examples
if [ ! -e "$examples/doncaster.yaml" ]; then
    # a minimal image may tell dpkg to skip /usr/share/doc (path-exclude)
    grep -rqs 'path-exclude.*/usr/share/doc' /etc/dpkg/dpkg.cfg.d/ || die "$examples/doncaster.yaml is not installed"
    echo "dpkg skips /usr/share/doc on this machine (path-exclude): using contracts/ of the checkout"
    examples="$(cd "$(dirname "$0")/.." && pwd)/contracts"
fi

step "--version"
for p in pbrd pbrctl pbrgen; do
    got=$($p --version)
    echo "$got"
    [ "$got" = "$p $version" ] || die "$p --version says \"$got\", the package is $version"
done

step "pbrd --check"
# validate the installed configuration and its (empty) contracts, then exit
pbrd --check -c /etc/pbrd/pbrd.yaml || die "pbrd --check -c /etc/pbrd/pbrd.yaml failed on the shipped configuration"

step "man pbrd-contract"
if command -v man >/dev/null && [ -e /usr/share/man/man5/pbrd-contract.5.gz ]; then
    MANPAGER=cat MANWIDTH=80 man pbrd-contract 2>/dev/null | sed -n '1,6p'
    man -w pbrd pbrctl pbrgen pbrd.yaml pbrd-contract
elif [ -e /usr/share/man/man5/pbrd-contract.5.gz ]; then
    mandoc -T utf8 /usr/share/man/man5/pbrd-contract.5.gz | sed -n '1,6p'
else
    grep -rqs 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/ || die "pbrd-contract(5) is not installed"
    echo "dpkg skips /usr/share/man on this machine (path-exclude)"
fi

step "the installed pbrd in the foreground"
mkdir "$tmp/contracts"
cp "$examples/doncaster.yaml" "$tmp/contracts/"
# four free loopback ports
set -- $(python3 -c 'import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
ingest=tcp://127.0.0.1:$1 api=tcp://127.0.0.1:$2 publish=tcp://127.0.0.1:$3 metrics=127.0.0.1:$4
ctl() { pbrctl --ingest "$ingest" --api "$api" "$@"; }
# Settle only when asked, so the statements see the events sent first.
printf 'auto_settle: false\nmetrics: %s\n' "$metrics" > "$tmp/pbrd.yaml"
# start_pbrd DATA LOG: the installed pbrd in the foreground on DATA
start_pbrd() {
    /usr/bin/pbrd -c "$tmp/pbrd.yaml" --foreground --data "$1" --contracts "$tmp/contracts" \
        --ingest "$ingest" --api "$api" --publish "$publish" --now 2016-01-01 2> "$2" &
    pid=$!
    i=0
    until ctl --timeout 200 status >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$2"; die "pbrd did not answer within 20 s"; }
        kill -0 "$pid" 2>/dev/null || { cat "$2"; die "pbrd exited"; }
        sleep 0.2  # pbrctl fails at once while nothing listens
    done
}
# stop_pbrd LOG: SIGTERM, exit status 0
stop_pbrd() {
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=""
    [ $rc -eq 0 ] || { cat "$1"; die "pbrd exited with status $rc after SIGTERM"; }
    grep -q 'msg="exiting" status=0' "$1" || die "pbrd did not log its exit"
}
start_pbrd "$tmp/data" "$tmp/pbrd.log"

step "pbrgen --offenders 2000 --seed 1 | pbrctl send -"
pbrgen --offenders 2000 --seed 1 | ctl send - || die "pbrctl send failed"
ctl status

step "pbrctl settle 2014-01-01"
ctl settle 2014-01-01
[ -s "$tmp/data/statements/doncaster/2014-01-01.json" ] || die "no statement file for doncaster 2014-01-01"

step "pbrctl statement doncaster 2014-01-01"
ctl statement doncaster 2014-01-01 --format text
# The first cohort's outcome is final in this quarter: a real line, not just fees.
ctl statement doncaster 2014-01-01 > "$tmp/issued.json"
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
ok = [l for l in s["lines"] if l["kind"] == "outcome" and l["period"] == "2011-12" and l["members"] > 0]
print("outcome line: members %d, reoffenders %d, actual %s, baseline %s, amount_pence %d" % tuple(
      ok[0][k] for k in ("members", "reoffenders", "actual", "baseline", "amount_pence")) if ok else "")
sys.exit(0 if ok else 1)' "$tmp/issued.json" || die "the statement has no outcome line for the 2011-12 cohort"
# ... and it is what pbrctl simulate computes offline from the same events.
pbrgen --offenders 2000 --seed 1 > "$tmp/events.jsonl"
pbrctl simulate "$tmp/contracts/doncaster.yaml" "$tmp/events.jsonl" --through 2014-01-01 | tail -n 1 \
    > "$tmp/simulated.json"
cmp "$tmp/issued.json" "$tmp/simulated.json" || die "the daemon's statement differs from pbrctl simulate"

step "pbrctl verify"
ctl verify

step "metrics: GET http://$metrics/metrics"
python3 -c 'import sys, urllib.request
page = urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=10).read().decode()
want = {"pbrd_events_stored_total": 8205.0, "pbrd_statements_issued_total{contract=\"doncaster\"}": 10.0}
got = {}
for line in page.splitlines():
    if line and not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        got[name] = float(value)
for k, v in want.items():
    print(k, got.get(k))
    if got.get(k) != v:
        sys.exit("metrics: %s is %s, expected %s" % (k, got.get(k), v))
' "$metrics" || die "the metrics page does not show the events and statements"

step "pbrctl backup, restore"
ctl backup "$tmp/backup"
last_seq=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["last_seq"])' "$tmp/backup/MANIFEST.json")
stop_pbrd "$tmp/pbrd.log"
start_pbrd "$tmp/backup" "$tmp/restored.log"
ctl verify
ctl status | tee "$tmp/status"
grep -q "^last_seq *$last_seq\$" "$tmp/status" || die "the restored store is not at the manifest's last_seq $last_seq"
# the statement file (canonical JSON and a newline) is what the daemon issued
cmp "$tmp/issued.json" "$tmp/backup/statements/doncaster/2014-01-01.json" ||
    die "the backed-up statement file differs from the issued statement"

step "SIGTERM"
stop_pbrd "$tmp/restored.log"

step "dpkg --purge pbrd"
dpkg --purge pbrd
for f in /usr/bin/pbrd /usr/bin/pbrctl /etc/pbrd/pbrd.yaml /lib/systemd/system/pbrd.service; do
    [ ! -e "$f" ] || die "$f is still there after purge"
done
echo "deb-smoke.sh: pbrd $version installed, ran, settled and purged"

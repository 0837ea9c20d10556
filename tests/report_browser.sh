#!/bin/sh
# report_browser.sh BUILD OUTDIR -- renders `pbrctl report --offline` of
# every scheme contract (each contracts/NAME.yaml over tests/data/schemes/NAME.jsonl)
# in headless Chromium and checks the page:
#   - self-contained: no script, no http(s):// or protocol-relative URL, no
#     src=, href= or url( at all (and Chromium runs with the network off:
#     every host resolves to nothing and the proxy is a closed port);
#   - one bar per quarter: as many <g class="quarter-bar"> as statements
#     `pbrctl simulate` prints;
#   - one point per cohort window: as many <circle class="window-point"> as
#     distinct (component, period, segment) binary/frequency windows among
#     the statements' lines and the last statement's provisional lines;
#   - no console message (Chromium logs every console message as CONSOLE);
#   - it prints (print stylesheet) to a PDF;
# and writes OUTDIR/report-NAME.png (desktop) and OUTDIR/report-NAME-phone.png.
# Exit 0 all good, 1 a check failed, 77 Chromium is not installed (skipped).
set -u
build=${1:-build}; out=${2:-/tmp}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "report_browser.sh: chromium not installed: browser checks skipped (CI installs it)"
    exit 77
fi
mkdir -p "$out"
tmp=$(mktemp -d /tmp/pbr-report-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
# Chromium as root needs --no-sandbox; no GPU, no network, its own profile.
browse() {
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$tmp/profile" --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="127.0.0.1:9" \
        --enable-logging=stderr --v=0 "$@"
}
for contract in contracts/*.yaml; do
    name=$(basename "$contract" .yaml)
    html="$tmp/$name.html"
    "$build/pbrctl" report --offline "contracts/$name.yaml" "tests/data/schemes/$name.jsonl" -o "$html" ||
        { echo "FAIL $name: pbrctl report exited $?"; fail=1; continue; }
    if grep -Eiq '<script|https?:|src=|href=|url\(|//[a-z0-9.-]+\.[a-z]' "$html"; then
        echo "FAIL $name: the page refers to something outside itself:"
        grep -Eio '.{0,30}(<script|https?:|src=|href=|url\(|//[a-z0-9.-]+\.[a-z]).{0,30}' "$html" | head -3
        fail=1
    fi
    "$build/pbrctl" simulate "contracts/$name.yaml" "tests/data/schemes/$name.jsonl" --format json >"$tmp/$name.jsonl"
    want=$(python3 - "$tmp/$name.jsonl" <<'PY'
import json, sys
sts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
windows = set()
def add(l):
    if l["kind"] == "outcome" and l.get("reoffenders") is not None:
        windows.add((l["component"], l["period"], l.get("segment")))
for s in sts:
    for l in s["lines"]:
        add(l)
for l in sts[-1]["provisional"] if sts else []:
    add(l)
print(len(sts), len(windows))
PY
)
    browse --dump-dom "file://$html" >"$tmp/$name.dom" 2>"$tmp/$name.log"
    bars=$(grep -o 'class="quarter-bar"' "$tmp/$name.dom" | wc -l)
    points=$(grep -o 'class="window-point' "$tmp/$name.dom" | wc -l)
    set -- $want
    if [ "$bars" -ne "$1" ] || [ "$points" -ne "$2" ]; then
        echo "FAIL $name: $bars bars for $1 statements, $points points for $2 cohort windows"
        fail=1
    fi
    if grep -q 'CONSOLE' "$tmp/$name.log"; then
        echo "FAIL $name: console messages:"; grep 'CONSOLE' "$tmp/$name.log" | head -3
        fail=1
    fi
    # printed (the print stylesheet): a PDF comes out
    browse --print-to-pdf="$tmp/$name.pdf" --no-pdf-header-footer "file://$html" >/dev/null 2>&1
    if [ "$(head -c 4 "$tmp/$name.pdf" 2>/dev/null)" != "%PDF" ]; then
        echo "FAIL $name: printing to PDF gave no PDF"
        fail=1
    fi
    browse --window-size=1000,2400 --screenshot="$out/report-$name.png" "file://$html" >/dev/null 2>&1 &&
        browse --window-size=390,1600 --screenshot="$out/report-$name-phone.png" "file://$html" >/dev/null 2>&1 ||
        { echo "FAIL $name: no screenshot"; fail=1; }
    [ $fail -ne 0 ] || echo "ok $name: $bars bars, $points window points, no console message, printed, screenshots in $out"
done
exit $fail

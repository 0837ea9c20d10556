#!/bin/sh
# run-tests.sh BUILD -- runs every Check test program in BUILD/tests and prints
# one summary line "N passed, N failed" (N = Check test cases).
# Each program's own Check output ("100%: Checks: 12, Failures: 0, Errors: 0")
# is shown as it runs. Exit status is non-zero if any test failed.
# Then the published JSON Schemas (docs/schema/) are checked against the
# fixtures and against every request/reply the integration tests recorded
# in $PBR_SCHEMA_OUT (a temporary directory unless set): tests/validate-
# schemas.py, counted as one more check ("schemas").
build=${1:-build}
export PBR_BUILD="${PBR_BUILD:-$build}"
export PBR_ROOT="${PBR_ROOT:-$(pwd)}"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"
passed=0; failed=0; broken=""
schema_tmp=""
if [ -z "${PBR_SCHEMA_OUT:-}" ]; then
    schema_tmp=$(mktemp -d /tmp/pbrd-schema-XXXXXX) && export PBR_SCHEMA_OUT="$schema_tmp"
fi
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
    if [ -n "$line" ]; then
        n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + n - f - e)); failed=$((failed + f + e))
    else
        failed=$((failed + 1))
    fi
    [ $rc -eq 0 ] || broken="$broken $(basename "$t")"
done
# Debian's python3 (python3-jsonschema) when present, else the first python3
py=/usr/bin/python3
[ -x "$py" ] || py=python3
echo "== schemas"
if "$py" tests/validate-schemas.py --root "$PBR_ROOT" --replies "$PBR_SCHEMA_OUT"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); broken="$broken schemas"
fi
[ -z "$schema_tmp" ] || rm -rf "$schema_tmp"
[ -z "$broken" ] || echo "failing programs:$broken"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ -z "$broken" ]

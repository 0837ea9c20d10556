#!/bin/sh
# run.sh [SECONDS] -- builds libpbr and the libFuzzer targets with clang
# (-fsanitize=fuzzer,address,undefined) into build-fuzz/ and runs each target
# for SECONDS (default 60), one after the other.
#
#   targets   fuzz_event, fuzz_contract, fuzz_statement, fuzz_api (tests/fuzz/fuzz_*.c)
#   seeds     tests/fuzz/corpus/<target>/ (copied to build-fuzz/corpus/<target>/,
#             where new inputs accumulate, so the repository's seeds stay small)
#   crashes   tests/fuzz/regress/<target>/ (crash-*, leak-*, timeout-*, oom-*):
#             tests/test_fuzz_regress replays every file there
#   slow      inputs slower than 10 s go to build-fuzz/slow/<target>/ (reported,
#             not failures; once fixed, they go to tests/fuzz/regress/<target>/)
#
# Prints executions and coverage (cov: and ft: of libFuzzer's last report)
# per target; exits non-zero if any target crashed, leaked, hung or failed
# to build. Environment: FUZZ_CC (default clang), FUZZ_TARGETS (default
# "event contract statement api"), FUZZ_SAN_EXTRA (extra sanitizer flags, e.g.
# -fno-sanitize=nonnull-attribute to fuzz past a known report).
set -u
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
cc=${FUZZ_CC:-clang}
targets=${FUZZ_TARGETS:-"event contract statement api"}
out=build-fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=all ${FUZZ_SAN_EXTRA:-}"
cflags="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Iinclude -Idaemon $san"
libs="-lyaml -ljansson -lgmp -llmdb -lzmq -lpthread"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (apt-get install clang)" >&2
    exit 2
fi
mkdir -p "$out/obj" "$out/corpus" || exit 2

# libFuzzer's runtime ships in libclang-rt-NN-dev on Debian.
probe="$out/probe.c"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe"
if ! "$cc" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $cc cannot link -fsanitize=fuzzer; install the runtime: apt-get install -y libclang-rt-14-dev" >&2
    exit 2
fi

# Objects are rebuilt when the flags change.
if [ "$(cat "$out/obj/flags" 2>/dev/null)" != "$cc $cflags" ]; then
    rm -f "$out"/obj/*.o
    echo "$cc $cflags" >"$out/obj/flags"
fi

# The library, and the daemon's API request parser with the role check it
# needs (fuzz_api), compiled directly (the Makefile's BUILD is not used),
# with coverage instrumentation but without libFuzzer's main.
objs=""
for src in daemon/libpbr/*.c daemon/libpbr/eval/*.c daemon/gen/*.c daemon/pbrd/api_request.c daemon/pbrd/auth.c daemon/pbrd/log.c; do
    obj="$out/obj/$(basename "$src" .c).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include/pbr daemon/libpbr daemon/pbrd -name '*.h' -newer "$obj" 2>/dev/null)" ]; then
        # shellcheck disable=SC2086
        "$cc" $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || { echo "fuzz: compiling $src failed" >&2; exit 2; }
    fi
    objs="$objs $obj"
done

max_len_of() {
    case $1 in
    event) echo 4096 ;;
    contract) echo 16384 ;;
    statement) echo 16384 ;;
    api) echo 4096 ;;
    esac
}

status=0
summary=""
for t in $targets; do
    bin="$out/fuzz_$t"
    # shellcheck disable=SC2086
    "$cc" $cflags -Werror -fsanitize=fuzzer -Itests/fuzz "tests/fuzz/fuzz_$t.c" $objs $libs -o "$bin" ||
        { echo "fuzz: building fuzz_$t failed" >&2; status=1; continue; }
    mkdir -p "$out/corpus/$t" "tests/fuzz/regress/$t"
    cp -n "tests/fuzz/corpus/$t"/* "$out/corpus/$t"/ 2>/dev/null
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    log="$out/fuzz_$t.log"
    echo "== fuzz_$t: $seconds s, max_len $(max_len_of "$t")"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="tests/fuzz/regress/$t/" $dict \
        "$out/corpus/$t" >"$log" 2>&1
    rc=$?
    # slow inputs are not crashes: kept aside in build-fuzz/slow/<target>/
    for f in "tests/fuzz/regress/$t"/slow-unit-*; do
        [ -f "$f" ] || continue
        mkdir -p "$out/slow/$t" && mv "$f" "$out/slow/$t/" && echo "fuzz_$t: slow input kept in $out/slow/$t/$(basename "$f")"
    done
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1)
    cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(echo "$last" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
    corpus=$(echo "$last" | sed -nE 's/.* corp: ([0-9]+).*/\1/p')
    line=$(printf 'fuzz_%-10s execs %-10s cov %-6s ft %-6s corpus %-6s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corpus:-?}")
    if [ $rc -ne 0 ]; then
        status=1
        artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
        line="$line CRASH (exit $rc) ${artifact:-see $log}"
        grep -E 'ERROR: |runtime error|invariant broken|SUMMARY' "$log" | head -n 5
    fi
    echo "$line"
    summary="$summary$line
"
done
echo "== fuzz summary ($seconds s per target)"
printf '%s' "$summary"
exit $status

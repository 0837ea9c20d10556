#!/bin/sh
# run.sh BUILD -- runs every benchmark binary in BUILD/bench/ (builds
# nothing: `make bench` builds them first) with modest defaults and prints
# their output. Exits non-zero if any benchmark failed.
#
#   BENCH_OFFENDERS  offenders for the settle benchmark (default 200000;
#                    the national-scale figures of issue 12 are
#                    BENCH_ARGS_bench_settle="--national --daemon", see README)
#   BENCH_EVENTS     events for the ingest benchmark (default 200000)
#   BENCH_QUERY_OFFENDERS  offenders for the query benchmark (default 100000;
#                    the issue's figure is --offenders 1000000)
#   BENCH_SOAK_SECONDS  length of the soak run (default 30, with a reload
#                    every 10 s and a settle every 15 s; the full soak is
#                    `bench/soak --seconds 600`, plotted by bench/plot-soak.sh).
#                    The short run writes bench/out/soak-short.csv so it does
#                    not overwrite a full run's bench/out/soak.csv.
#   BENCH_ARGS_<name> extra arguments for benchmark <name>, replacing the
#                    defaults below (e.g. BENCH_ARGS_bench_settle="--offenders 1000000")
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
if [ ! -d "$build/bench" ]; then
    echo "bench: no $build/bench (run make BUILD=$build first)" >&2
    exit 2
fi

# Modest default arguments per benchmark; unknown benchmarks run with none.
default_args() {
    case $1 in
    bench_settle) echo "--offenders ${BENCH_OFFENDERS:-200000} --contracts contracts" ;;
    bench_ingest) echo "$build/pbrd --events ${BENCH_EVENTS:-200000} --latency-seconds 5" ;;
    query) echo "$build/pbrd --offenders ${BENCH_QUERY_OFFENDERS:-100000} --seconds 3 --contracts contracts" ;;
    soak) echo "--pbrd $build/pbrd --seconds ${BENCH_SOAK_SECONDS:-30} --reload-every 10 --settle-every 15 --contracts contracts --csv bench/out/soak-short.csv" ;;
    *) echo "" ;;
    esac
}

export PBR_BUILD="$build"
status=0
ran=0
for b in "$build"/bench/*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    name=$(basename "$b")
    override=$(eval "printf '%s' \"\${BENCH_ARGS_$(echo "$name" | tr -c 'A-Za-z0-9_\n' '_'):-}\"")
    args=${override:-$(default_args "$name")}
    echo "== bench $name $args"
    # shellcheck disable=SC2086
    if ! "$b" $args; then
        echo "bench: $name failed" >&2
        status=1
    fi
    ran=$((ran + 1))
done
[ $ran -gt 0 ] || echo "bench: no benchmarks in $build/bench" >&2
exit $status

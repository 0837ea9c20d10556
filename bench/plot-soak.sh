#!/bin/sh
# plot-soak.sh [CSV] [PNG] -- plots the CSV that bench/soak writes (default
# bench/out/soak.csv) as a PNG (default bench/out/soak.png): ingest
# throughput, ack latency, query latency (all ops and cohorts alone) and
# pbrd's RSS (total, anonymous, mapped file) against time, one panel each.
# Needs gnuplot (Debian: apt-get install gnuplot-nox). Exits non-zero if
# gnuplot is missing, the CSV has no rows or gnuplot fails.
root=$(cd "$(dirname "$0")/.." && pwd)
csv=${1:-$root/bench/out/soak.csv}
png=${2:-$root/bench/out/soak.png}
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot-soak: gnuplot not found (apt-get install gnuplot-nox)" >&2
    exit 2
fi
if [ ! -f "$csv" ] || [ "$(wc -l <"$csv")" -lt 2 ]; then
    echo "plot-soak: $csv has no rows (run bench/soak first)" >&2
    exit 2
fi
mkdir -p "$(dirname "$png")" || exit 2
# pngcairo draws antialiased text; plain png is the fallback.
term=pngcairo
gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1 || term=png
rows=$(($(wc -l <"$csv") - 1))
last=$(tail -n 1 "$csv" | cut -d, -f1)

gnuplot <<EOF || { echo "plot-soak: gnuplot failed" >&2; exit 1; }
set terminal $term size 1200,1000 font ",10"
set output "$png"
set datafile separator ","
set key outside right top vertical
set lmargin at screen 0.07
set rmargin at screen 0.70
set grid
set xlabel "time (s)"
set xrange [0:$last]
set multiplot layout 4,1 title "bench/soak: $rows samples, $(basename "$csv")"
set ylabel "events/s"
set yrange [0:*]
plot "$csv" skip 1 using 1:2 with linespoints title "ingest throughput (acknowledged events/s)"
set ylabel "ms"
plot "$csv" skip 1 using 1:3 with linespoints title "ack p50", \
     "$csv" skip 1 using 1:4 with linespoints title "ack p99"
set logscale y
set yrange [*:*]
plot "$csv" skip 1 using 1:5 with linespoints title "query p50 (status, cohorts, statement)", \
     "$csv" skip 1 using 1:6 with linespoints title "query p99", \
     "$csv" skip 1 using 1:7 with linespoints title "cohorts p50", \
     "$csv" skip 1 using 1:8 with linespoints title "cohorts p99"
unset logscale y
set ylabel "MB"
set yrange [0:*]
plot "$csv" skip 1 using 1:(\$9/1024) with linespoints title "pbrd RSS", \
     "$csv" skip 1 using 1:(\$10/1024) with linespoints title "anonymous", \
     "$csv" skip 1 using 1:(\$11/1024) with linespoints title "file (LMDB map)"
unset multiplot
EOF
echo "plot-soak: wrote $png"

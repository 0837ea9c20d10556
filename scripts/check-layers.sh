#!/bin/sh
# check-layers.sh OBJ... -- enforces the evaluator's invariant: the objects of
# daemon/libpbr/eval/ (cohorts, measures, pay, settlement) are a pure function
# of contract, events and quarter. Each undefined symbol they reference must be
#   - memory, string or sorting functions of the C library (the list below),
#   - GMP (__gmp*), or
#   - libpbr's own pure modules (pbr_* other than pbr_store_*, and the
#     evaluator's internal functions);
# anything else (mdb_*, zmq_*, json_*, time, clock_gettime, fopen, open, read,
# write, stat, getenv, rand, pthread_*, pbr_store_* ...) fails the check with
# the object and the symbol named. Exit status 1 on a violation, 2 on misuse.
set -u
[ $# -gt 0 ] || { echo "usage: check-layers.sh OBJ..." >&2; exit 2; }

# C library functions the evaluator may call: no I/O, no clock, no randomness,
# no environment. snprintf writes to a buffer (labels, formatted decimals).
libc='calloc|malloc|realloc|free|memcpy|memmove|memset|memcmp|memchr|strcmp|strncmp|strlen|strchr|strrchr|strcpy|strncpy|snprintf|qsort|bsearch|abort|__assert_fail|__stack_chk_fail|__memcpy_chk|__memset_chk|__memmove_chk|__snprintf_chk|__strcpy_chk|__strncpy_chk|__vsnprintf_chk|_GLOBAL_OFFSET_TABLE_'
# Store functions are pbr_* but are not pure.
forbidden_pbr='^pbr_(store|eventfile|log)_'
# Sanitizer and coverage runtimes (make asan, make fuzz) add their own hooks.
runtime='^(__asan_|__ubsan_|__sanitizer_|__sancov_|__lsan_)'

status=0
for obj in "$@"; do
    [ -f "$obj" ] || { echo "check-layers: $obj: no such object (build it first)" >&2; exit 2; }
    syms=$(nm -u "$obj" | awk '{print $2}') || { echo "check-layers: nm $obj failed" >&2; exit 2; }
    for s in $syms; do
        if echo "$s" | grep -Eq "$forbidden_pbr"; then
            echo "check-layers: $obj references $s: the evaluator must not reach the store, files or logs" >&2
            status=1
        elif echo "$s" | grep -Eq "^($libc)\$|^__gmp|$runtime"; then
            :
        elif echo "$s" | grep -Eq '^(pbr_|cohort_|compiled_where_|candidate_line|evaluate_|pay_|eval_|measure_|outcome_eval_|period_range_)'; then
            :
        else
            echo "check-layers: $obj references $s: not allowed in the evaluator (store, ZeroMQ, JSON, files, clock and environment stay outside daemon/libpbr/eval/)" >&2
            status=1
        fi
    done
done
[ $status -eq 0 ] && echo "check-layers: $# evaluator objects reference only pure functions"
exit $status

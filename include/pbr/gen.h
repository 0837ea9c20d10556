/* gen.h -- pbrgen: a seeded, deterministic generator of realistic event
 * streams (SPEC.md section 8) for the demo, the tests and the benchmarks.
 */
#ifndef PBR_GEN_H
#define PBR_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "pbr/date.h"

typedef struct pbr_gen_opts {
    uint64_t seed;      /* default 1 */
    uint64_t offenders; /* default 1000 */
    pbr_date from, to;  /* index events fall in [from, to]; default 2011-04-01..2016-03-31 */
    double
        malformed_rate; /* fraction of lines replaced by malformed ones (0 = none); generator only, never settlement */
    int voids;          /* emit a few voids (default 1) */
    int late;           /* emit a few late-recorded events (default 1) */
} pbr_gen_opts;

void pbr_gen_defaults(pbr_gen_opts *o);

/* Writes the JSON Lines stream to out. Same options -> same bytes. Returns
 * the number of lines written, or -1 on a write error. */
int64_t pbr_gen_write(const pbr_gen_opts *o, FILE *out);

#endif

/* format.h -- pbrctl's shared output helpers: money in text views
 * (£1,234,567.89), CSV rows on stdout (money.h's escaping: text cells that
 * begin with = + - @ are prefixed with ', numbers are left as numbers),
 * the totals table of simulate and diff, and a progress line on a terminal.
 */
#ifndef PBRCTL_FORMAT_H
#define PBRCTL_FORMAT_H

#include <stdint.h>
#include <stdio.h>

#include "pbr/money.h"
#include "pbr/summary.h"

/* "£1,234.56" in a caller's buffer of PBR_GBP_MAX bytes; returns buf. */
const char *fmt_gbp(int64_t pence, char buf[PBR_GBP_MAX]);

/* Prints s padded on the left to width columns (the pound sign counts as
 * one column). */
void print_right(FILE *f, const char *s, int width);

/* Writes one CSV cell (preceded by a comma unless first) to f; text cells
 * are escaped against formula injection. */
void csv_cell(FILE *f, int first, const char *s, int text);
/* A pence cell and its exact pounds beside it (two cells). */
void csv_money(FILE *f, int64_t pence);

/* Prints the totals of simulate: per settlement year and lifetime, split
 * into fees, outcomes and adjustments. */
void print_totals(FILE *f, const pbr_totals *t);

/* A progress line on stderr, shown only when stderr is a terminal and the
 * work has taken more than a second; cleared by progress_done. */
typedef struct progress {
    const char *what;
    int tty;
    double started;
    double last;
    double delay; /* seconds before the line shows (1, or $PBR_PROGRESS_DELAY_MS) */
    int shown;
} progress;

void progress_start(progress *p, const char *what);
/* Reports done of total (total 0: unknown, shows elapsed seconds). */
void progress_update(progress *p, uint64_t done, uint64_t total);
void progress_done(progress *p);

#endif

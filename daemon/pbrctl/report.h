/* report.h -- the HTML report of one contract (`pbrctl report`): one
 * self-contained file (no scripts, no external resources: styles inline,
 * charts as inline SVG, each followed by its data table), readable on a
 * phone (fluid SVG, scrolling tables) and printed (a print stylesheet).
 *
 * The report is drawn from a model, built by cmd_report.c from the daemon
 * or from an offline simulation:
 *   {"contract":…, "title":…, "provider":…, "contract_cap_pence": n|null,
 *    "source": "…", "statements": [statement objects, SPEC section 6],
 *    "provisional_as_of": "…", "provisional": [lines]}
 * Sections: payments per quarter stacked by fees, outcomes and adjustments
 * with the cumulative outcome payments against contract_cap; per cohort
 * window, actual against baseline with the gate (one point per window,
 * hollow while provisional); custody nights against baseline; the
 * provisional figures of open cohorts; the statement table.
 * Chart geometry is integer arithmetic on pence (no floating point).
 */
#ifndef PBRCTL_REPORT_H
#define PBRCTL_REPORT_H

#include <jansson.h>
#include <stdio.h>

/* Writes the report of model to f. Returns 0, or -1 when writing fails. */
int report_write(FILE *f, json_t *model);

#endif

/* explain.h -- the rows behind one line (SPEC.md section 1: "audit any
 * figure back to its events"): for a (component, period, segment) of a
 * contract, computed as of a date over the events up to a sequence number,
 * exactly as the evaluator computes the line:
 *   binary, frequency  one row per member (pooled: of every window), with
 *                      the convictions counted; plus the window's members
 *                      left out and why (no segment, OGRS missing);
 *   clean_period       one row per success of the quarter, with the
 *                      convictions that restarted the clock and F;
 *   custody_nights     one row per spell with nights in the quarter;
 *   disposals          one row per conviction counted (kinds priced);
 *   a volume fee line  one row per index event counted (SPEC 5.9.4).
 * Pure (daemon/libpbr/eval/explain.c): no store, files, JSON or clock.
 * Rows add up to the line: members, reoffenders, reoffences, nights and
 * counts (tests/test_tools.c checks every line of every scheme contract).
 */
#ifndef PBR_EXPLAIN_H
#define PBR_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/contract.h"
#include "pbr/eval_view.h"
#include "pbr/eventset.h"

typedef struct pbr_xrow {
    const pbr_ev *event;        /* index event (members, successes), reception (spells), conviction (disposals) */
    const pbr_ev *end;          /* spells: the discharge, NULL while the spell is open */
    int64_t segment;            /* index into the outcome's segments, -1 without segments */
    char window[32];            /* members and successes: the cohort window's period key */
    int32_t weight;             /* ten-thousandths (weight: ogrs), else 10000 */
    int reoffender;             /* members */
    int64_t reoffences;         /* members: offences or convictions counted */
    const pbr_ev **convictions; /* members: counted; successes: those that restarted the clock */
    size_t nconvictions;
    pbr_date clock, success_on; /* successes: the last clock start and F */
    int64_t nights;             /* spells: nights in the quarter */
    const char *reason;         /* left-out rows: why (static string) */
} pbr_xrow;

typedef struct pbr_explanation {
    const pbr_outcome *outcome; /* the outcome component explained, or NULL */
    const pbr_fee *fee;         /* or the fee of a volume line ("Y-volume") */
    pbr_xrow *rows;
    size_t nrows, caprows;
    pbr_xrow *left_out;
    size_t nleft, capleft;
} pbr_explanation;

/* Which line to explain: a component id (an outcome, or a fee with a
 * volume key), a period key and a segment (NULL when the component has
 * none). Borrowed strings. */
typedef struct pbr_line_key {
    const char *component;
    const char *period;
    const char *segment;
} pbr_line_key;

/* Computes the rows of line k of v->contract as of v->as_of over the
 * view's events (seq <= v->events_through). Returns 0 and fills *out (free
 * with pbr_explanation_clear), 1 when the contract has no such outcome
 * component or volume fee line (other fee lines, unknown ids: *out empty),
 * or -1 with err (out of memory; *out empty). Frees nothing of v or k. */
int pbr_explain_line(const pbr_eval_view *v, const pbr_line_key *k, pbr_explanation *out, char *err, size_t errlen);

/* Releases the rows of x and zeroes it. Safe on a zeroed explanation. */
void pbr_explanation_clear(pbr_explanation *x);

#endif

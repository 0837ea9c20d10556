/* eval.h -- internal interface between the evaluator's modules (not public).
 *
 *   cohort.c    the evaluation view, where-matching on compact events, the
 *               windows of a contract and their members as of a date (5.2)
 *   measure.c   one outcome component compiled against the view, per-member
 *               measures and the candidate lines of every component (5.3,
 *               5.4, 5.6), period ranges
 *   pay.c       the payment rule of one line (5.5)
 *   settle.c    statements, finality, adjustments, caps, the ledger (5.5.6, 5.7)
 *   mechanism.c the Transforming Rehabilitation keys (5.9): significance
 *               gate, hurdle, volume and recovery fee lines
 *   explain.c   the rows behind one line (explain.h)
 *
 * Every step reads one eval_view (contract, events, events_through,
 * as_of) by const pointer; assertions guard the index arithmetic of cells,
 * windows and periods (programmer errors, never bad input).
 */
#ifndef PBR_EVAL_H
#define PBR_EVAL_H

#include <assert.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/statement.h"

/* ---- the evaluation view ------------------------------------------------------------ */

/* What every step of one evaluation reads: the contract, the event set, and
 * which events are visible (seq <= events_through, recorded and not voided
 * by the as-of date). Borrowed pointers: nothing to clear. */
typedef struct eval_view {
    const pbr_contract *contract;
    const pbr_eventset *events;
    const pbr_evvoid *voids; /* pbr_eventset_voids(events) */
    uint64_t events_through; /* the last event seq seen */
    pbr_date as_of;          /* the evaluation date (A(Q) for a statement) */
} eval_view;

/* Fills v (borrowing c and ev). Cannot fail. */
void eval_view_init(eval_view *v, const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through,
                    pbr_date as_of);

/* Is e visible in the view? */
static inline int eval_visible(const eval_view *v, const pbr_ev *e)
{
    return pbr_ev_visible(e, v->voids, v->as_of, v->events_through);
}

/* A where compiled against one event set: strings resolved to symbols. */
typedef struct compiled_cond {
    const pbr_cond *cond;
    pbr_sym *syms; /* string conditions: resolved symbols (0 = unknown, never matches) */
    size_t nsyms;
    unsigned mask; /* gender ('M'=1,'F'=2,'X'=4) or disposal (1 << kind) */
} compiled_cond;

typedef struct compiled_where {
    compiled_cond *conds;
    size_t n;
} compiled_where;

/* Returns 0 or -1 (allocation failure). Free with compiled_where_clear. */
int compiled_where_init(compiled_where *out, const pbr_where *w, const pbr_eventset *ev);
void compiled_where_clear(compiled_where *w);
/* Does event e match every condition? */
int compiled_where_matches(const compiled_where *w, const pbr_eventset *ev, const pbr_ev *e);

/* A cohort window. */
typedef struct cohort_window {
    pbr_date from, to; /* [from, to) */
    char key[32];      /* period key: first day, year label, "all" or the window's name */
} cohort_window;

/* Returns the contract's cohort windows (malloc'd, caller frees) in order, or
 * NULL with *n = 0 when the contract has no cohort. */
cohort_window *cohort_windows(const pbr_contract *c, size_t *n);

/* A cohort member: its index event and the window it belongs to. */
typedef struct cohort_member {
    const pbr_ev *index;
    uint32_t window;
} cohort_member;

/* The cohort of the view's contract (5.2): its windows in order and the
 * members of every window as of the view's date (filter, window, first,
 * size), in no particular order. Empty without a cohort. */
typedef struct eval_cohort {
    cohort_window *windows;
    size_t nwindows;
    cohort_member *members;
    size_t nmembers;
} eval_cohort;

/* Returns 0, or -1 when out of memory (co is then empty). Clear with
 * eval_cohort_clear (safe on an empty cohort). */
int eval_cohort_init(eval_cohort *co, const eval_view *v);
void eval_cohort_clear(eval_cohort *co);

/* ---- one outcome component ------------------------------------------------------------ */

/* An outcome component compiled against the view's event set: its where,
 * its exclude and every segment's where (max(nsegments, 1) slots). */
typedef struct outcome_eval {
    const eval_view *view;
    const pbr_outcome *outcome;
    compiled_where where, exclude;
    compiled_where *segments;
} outcome_eval;

/* Returns 0, or -1 when out of memory. Clear with outcome_eval_clear
 * either way (safe after a failed init). */
int outcome_eval_init(outcome_eval *oe, const eval_view *v, const pbr_outcome *o);
void outcome_eval_clear(outcome_eval *oe);

/* The first segment of the component matching e (0 without segments), or
 * -1 when none matches. Inline: every measure calls it per member. */
static inline int64_t eval_segment_of(const outcome_eval *oe, const pbr_ev *e)
{
    const pbr_outcome *o = oe->outcome;
    if (o->nsegments == 0)
        return 0;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (!o->segments[i].has_where || compiled_where_matches(&oe->segments[i], oe->view->events, e))
            return (int64_t)i;
    }
    return -1;
}

/* Whether a member of segment seg of o needs an OGRS score (weight: ogrs
 * or an OGRS baseline). */
int eval_needs_ogrs(const pbr_outcome *o, size_t seg);

/* ---- periods ---------------------------------------------------------------------------- */

/* Consecutive periods of `months` months (3: quarters, 12: years): period
 * k is [starts[k], starts[k + 1]), k < n. */
typedef struct period_range {
    pbr_date *starts; /* n + 1 boundaries */
    size_t n;
    int months;
} period_range;

/* Returns 0, or -1 when out of memory. Clear with period_range_clear
 * (safe on a zeroed range). */
int period_range_init(period_range *r, pbr_date first, size_t n, int months);
void period_range_clear(period_range *r);
/* The index of the period containing d, or -1 outside the range. Inline:
 * called per event. */
static inline int64_t period_range_find(const period_range *r, pbr_date d)
{
    assert(r->n > 0 && r->starts != NULL);
    if (d < r->starts[0] || d >= r->starts[r->n])
        return -1;
    size_t lo = 0, hi = r->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (r->starts[mid] <= d)
            lo = mid;
        else
            hi = mid;
    }
    return (int64_t)lo;
}

/* The period a line covers: its key (a quarter's first day, a year label,
 * a window's name, "pooled"), its first day (ordering, provisional lines)
 * and the day it becomes final (5.7). The key is borrowed. */
typedef struct line_period {
    const char *key;
    pbr_date first;
    pbr_date final_on;
} line_period;

/* A candidate line with its ordering keys. */
typedef struct candidate_line {
    pbr_line line;
    pbr_date period_first; /* first day of the period (ordering, provisional) */
    int pooled;
    size_t comp_order, seg_order;
    pbr_measure measure;
    int fee_from_events; /* a fee line computed from events (5.9.4 volume): outside the cap,
                               adjusted, never provisional; measure is meaningless */
    int fee_rank;        /* fee lines on one final_on: volume and recovery (0) before the quarterly (1) */
} candidate_line;

typedef struct candidate_lines {
    candidate_line *v;
    size_t n, cap;
} candidate_lines;

/* Appends a zeroed line with nullable figures set to null; NULL on failure. */
candidate_line *candidate_lines_push(candidate_lines *l);
void candidate_lines_clear(candidate_lines *l);

/* Computes every outcome, pooled and volume line of the view's contract
 * that exists as of the view's date (every final or not), appending to
 * out. Returns 0 or -1 with err. */
int evaluate_outcomes(const eval_view *v, candidate_lines *out, char *err, size_t errlen);

/* The figures a pay rule works on (exact). */
typedef struct metrics {
    int has_points; /* custody and disposals have no points */
    mpq_t points, percent, avoided;
    int significant; /* the significance gate (5.9.3) is met; set by the caller when the gate asks */
} metrics;

/* Which threshold gates a line (5.5 step 1, 5.6). */
typedef enum pay_gate {
    PAY_GATE_OWN,    /* the pay rule's threshold, if it has one; a miss pays `below` */
    PAY_GATE_POOLED, /* the component's pooled rule: pooled_metric against pooled_threshold; a miss pays 0 */
} pay_gate;

/* What happens to units below zero (5.5 step 2). */
typedef enum pay_negative_units {
    PAY_NEGATIVE_UNITS_CLAMPED, /* paid as 0 units */
    PAY_NEGATIVE_UNITS_KEPT,    /* custody nights: fewer nights than the baseline pay negatively */
} pay_negative_units;

/* The terms a line is paid on: the component's pay rule and how to apply it. */
typedef struct pay_terms {
    const pbr_pay *pay;
    const mpq_t *segment_price; /* replaces price and tiers when non-NULL */
    pay_gate gate;
    pbr_metric pooled_metric;      /* PAY_GATE_POOLED only */
    const mpq_t *pooled_threshold; /* PAY_GATE_POOLED only */
    pay_negative_units negative_units;
} pay_terms;

/* Applies terms to the figures m of a line: gate, units, price or tiers,
 * max_units, cap. Sets line->threshold_met, units and computed_pence, and
 * amount_pounds (the exact amount before rounding). Cannot fail. */
void pay_line(const pay_terms *terms, const metrics *m, pbr_line *line, mpq_t amount_pounds);

/* Lines are ordered by (final_on, component, period first day, pooled last, segment). */
int candidate_line_cmp(const void *a, const void *b);

/* ---- mechanism.c: SPEC 5.9 -------------------------------------------------------- */

/* The significance gate of 5.9.3 for n members of a binary or frequency
 * component: 1 when actual a < baseline b and (b - a)^2 n >= z^2 V,
 * V = b (1 - b) for PBR_M_BINARY, b for PBR_M_FREQUENCY; exact, no square
 * root. */
int eval_significant(const mpq_t z, int64_t n, const mpq_t a, const mpq_t b, pbr_measure measure);

/* The outcome line of component h for (period, segment) among lines, or
 * NULL (5.9.1: the hurdle's line). segment is NULL for no segment. */
const candidate_line *eval_hurdle_line(const candidate_lines *lines, const pbr_outcome *h, const char *period,
                                       const char *segment);

/* A missed hurdle: the frequency line l of o pays o's below, threshold_met
 * false, units null (5.9.1). */
void eval_hurdle_missed(const pbr_outcome *o, pbr_line *l);

/* Appends the volume lines of every fee with volume (5.9.4), as of the
 * view's date. Returns 0 or -1 (out of memory). */
int eval_volume_lines(const eval_view *v, candidate_lines *out);

/* Appends the recovery line of every quarter of fee f (5.9.5: f has an
 * advance). Returns 0 or -1 (out of memory). */
int eval_recovery_lines(const pbr_contract *c, const pbr_fee *f, candidate_lines *out);

/* The latest final_on of the 5.9 fee lines of c (volume and recovery), or
 * PBR_DATE_NONE: the statement range covers them. */
pbr_date eval_mechanism_last_final_on(const pbr_contract *c);

/* Receives each conviction that restarts a clean-period clock, in order.
 * Returns 0, or non-zero to stop (out of memory). */
typedef int (*clean_restart_fn)(void *ctx, const pbr_ev *conviction);

/* Where a member's clean-period clock stopped: the last start of the clock
 * and the success date F. */
typedef struct clean_clock {
    pbr_date clock;
    pbr_date success_on;
} clean_clock;

/* The clean-period clock of the member with index event idx (5.3), shared
 * by the measure and by explain. Calls on_restart (may be NULL) for each
 * restarting conviction. Returns 1 with *out when the member succeeds, 0
 * when it never does, -1 when on_restart failed (*out untouched then). */
int eval_clean_clock(const outcome_eval *oe, const pbr_ev *idx, clean_restart_fn on_restart, void *ctx,
                     clean_clock *out);

/* Receives one custody spell: its reception, the discharge that closed it
 * (NULL while it is open) and the day it ends (PBR_DATE_MAX while open).
 * Returns 0 to go on, non-zero to stop (out of memory). */
typedef int (*custody_spell_fn)(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to);

/* The custody walk of 5.3 over one offender's events es[0, n) (sorted by
 * date, then id), shared by the measure and by explain: receptions and
 * discharges visible in the view, on one date discharges before receptions
 * (ruled 2026-12-02); a reception opens a spell if none is open, a
 * discharge closes the open one. Calls fn for each spell. Returns 0 or
 * fn's non-zero value. */
int eval_custody_spells(const eval_view *v, const pbr_ev *es, size_t n, custody_spell_fn fn, void *ctx);

/* A member's proven reoffences (5.3). */
typedef struct reoffence_count {
    int reoffender;
    int64_t reoffences; /* offences or convictions, as the component counts them */
    int failed;         /* on_proven asked to stop (out of memory) */
} reoffence_count;

/* Receives each proven reoffence of a member. Returns 0, or non-zero to stop. */
typedef int (*proven_fn)(void *ctx, const pbr_ev *conviction);

/* The proven reoffences of the member with index event idx, passing each
 * to on_proven (may be NULL): the one definition for the measures and for
 * explain. */
reoffence_count eval_proven_reoffences(const outcome_eval *oe, const pbr_ev *idx, proven_fn on_proven, void *ctx);

#endif

/* eval.h -- internal interface between the evaluator's modules (not public).
 *
 *   cohort.c   windows of a contract and their members as of a date (5.2)
 *   measure.c  where-matching on compact events, per-member measures and
 *              the candidate lines of every outcome component (5.3, 5.4, 5.6)
 *   pay.c      the payment rule of one line (5.5)
 *   settle.c   statements, finality, adjustments, caps, the ledger (5.5.6, 5.7)
 *   mechanism.c the Transforming Rehabilitation keys (5.9): significance
 *              gate, hurdle, volume and recovery fee lines
 */
#ifndef PBR_EVAL_H
#define PBR_EVAL_H

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/statement.h"

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

typedef struct member {
    const pbr_ev *index; /* the index event */
    uint32_t window;
} member;

/* Selects the members of every window as of date d (filter, window, first,
 * size). Returns 0 and a malloc'd array (caller frees; NULL when empty) in
 * no particular order, or -1. */
int cohort_members(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, const cohort_window *w,
                   size_t nw, member **out, size_t *n);

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

/* Computes every outcome and pooled line of contract c that exists as of d
 * (every final or not), appending to out. Returns 0 or -1 with err. */
int evaluate_outcomes(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, candidate_lines *out,
                      char *err, size_t errlen);

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

/* Appends the volume lines of every fee with volume (5.9.4), as of d.
 * Returns 0 or -1 (out of memory). */
int eval_volume_lines(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d,
                      candidate_lines *out);

/* Appends the recovery line of every quarter of fee f (5.9.5: f has an
 * advance). Returns 0 or -1 (out of memory). */
int eval_recovery_lines(const pbr_contract *c, const pbr_fee *f, candidate_lines *out);

/* The latest final_on of the 5.9 fee lines of c (volume and recovery), or
 * PBR_DATE_NONE: the statement range covers them. */
pbr_date eval_mechanism_last_final_on(const pbr_contract *c);

/* Receives each conviction that restarts a clean-period clock, in order.
 * Returns 0, or non-zero to stop (out of memory). */
typedef int (*clean_restart_fn)(void *ctx, const pbr_ev *conviction);

/* The clean-period clock of one member (5.3), shared by the measure and by
 * explain. Calls on_restart (may be NULL) for each restarting conviction.
 * Returns 1 with *clock_out (the last clock) and *f_date (the success date
 * F) when the member succeeds, 0 when it never does, -1 when on_restart
 * failed. */
int eval_clean_clock(const pbr_contract *c, const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev,
                     const pbr_ev *idx, uint64_t max_seq, pbr_date d, clean_restart_fn on_restart, void *ctx,
                     pbr_date *clock_out, pbr_date *f_date);

/* Receives one custody spell: its reception, the discharge that closed it
 * (NULL while it is open) and the day it ends (PBR_DATE_MAX while open).
 * Returns 0 to go on, non-zero to stop (out of memory). */
typedef int (*custody_spell_fn)(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to);

/* The custody walk of 5.3 over one offender's events es[0, n) (sorted by
 * date, then id), shared by the measure and by explain: visible receptions
 * and discharges as of d, on one date discharges before receptions (ruled
 * 2026-12-02); a reception opens a spell if none is open, a discharge
 * closes the open one. Calls fn for each spell. Returns 0 or fn's non-zero
 * value. */
int eval_custody_spells(const pbr_eventset *ev, const pbr_ev *es, size_t n, uint64_t max_seq, pbr_date d,
                        custody_spell_fn fn, void *ctx);

/* Segments (5.2): every segment's where compiled against ev (a malloc'd
 * array of max(nsegments, 1) slots, or NULL when out of memory; free with
 * eval_segments_free, safe on NULL), the first segment matching e (0
 * without segments, -1 when none matches), and whether a member of segment
 * seg needs an OGRS score (weight: ogrs or an OGRS baseline). Shared by the
 * measures and by explain. */
compiled_where *eval_segments_compile(const pbr_outcome *o, const pbr_eventset *ev);
void eval_segments_free(compiled_where *w, size_t n);
int64_t eval_segment_of(const pbr_outcome *o, const compiled_where *segs, const pbr_eventset *ev, const pbr_ev *e);
int eval_needs_ogrs(const pbr_outcome *o, size_t seg);

/* A member's proven reoffences (5.3): reoffender, and offences or
 * convictions counted per the component. */
typedef struct reoff {
    int reoffender;
    int64_t f;  /* reoffences counted per the component */
    int failed; /* on_proven asked to stop (out of memory) */
} reoff;

/* Receives each proven reoffence of a member. Returns 0, or non-zero to stop. */
typedef int (*proven_fn)(void *ctx, const pbr_ev *conviction);

/* The proven reoffences of the member with index event idx, as of d over
 * events up to max_seq, passing each to on_proven (may be NULL): the one
 * definition for the measures and for explain. */
reoff eval_proven_reoffences(const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev,
                             const pbr_ev *idx, uint64_t max_seq, pbr_date d, proven_fn on_proven, void *ctx);

#endif

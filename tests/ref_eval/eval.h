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
#include "pbr/settle.h"
#include "pbr/statement.h"

/* A where compiled against one event set: strings resolved to symbols. */
typedef struct cwhere_cond {
    const pbr_cond *cond;
    pbr_sym *syms; /* string conditions: resolved symbols (0 = unknown, never matches) */
    size_t nsyms;
    unsigned mask; /* gender ('M'=1,'F'=2,'X'=4) or disposal (1 << kind) */
} cwhere_cond;

typedef struct cwhere {
    cwhere_cond *conds;
    size_t n;
} cwhere;

/* Returns 0 or -1 (allocation failure). Free with cwhere_free. */
int cwhere_compile(const pbr_where *w, const pbr_eventset *ev, cwhere *out);
void cwhere_free(cwhere *w);
/* the reference keeps the ledger's old destructor (libpbr's is now
 * pbr_ledger_destroy(&l)); renamed ref_pbr_ledger_free by rename.h */
void pbr_ledger_free(pbr_ledger *l);
/* Does event e match every condition? */
int cwhere_match(const cwhere *w, const pbr_eventset *ev, const pbr_ev *e);

/* A cohort window. */
typedef struct ewindow {
    pbr_date from, to; /* [from, to) */
    char key[32];      /* period key: first day, year label, "all" or the window's name */
} ewindow;

/* Returns the contract's cohort windows (malloc'd, caller frees) in order, or
 * NULL with *n = 0 when the contract has no cohort. */
ewindow *cohort_windows(const pbr_contract *c, size_t *n);

typedef struct member {
    const pbr_ev *index; /* the index event */
    uint32_t window;
} member;

/* Selects the members of every window as of date d (filter, window, first,
 * size). Returns 0 and a malloc'd array ordered by (window, date, id), or -1. */
int cohort_members(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, const ewindow *w,
                   size_t nw, member **out, size_t *n);

/* A candidate line with its ordering keys. */
typedef struct cline {
    pbr_line line;
    pbr_date period_first; /* first day of the period (ordering, provisional) */
    int pooled;
    size_t comp_order, seg_order;
    pbr_measure measure;
    int fee;      /* a fee line computed from events (5.9.4 volume): outside the cap,
                               adjusted, never provisional; measure is meaningless */
    int fee_rank; /* fee lines on one final_on: volume and recovery (0) before the quarterly (1) */
} cline;

typedef struct clines {
    cline *v;
    size_t n, cap;
} clines;

/* Appends a zeroed line with nullable figures set to null; NULL on failure. */
cline *clines_push(clines *l);
void clines_free(clines *l);

/* Computes every outcome and pooled line of contract c that exists as of d
 * (every final or not), appending to out. Returns 0 or -1 with err. */
int evaluate_outcomes(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, clines *out,
                      char *err, size_t errlen);

/* The figures a pay rule works on (exact). */
typedef struct metrics {
    int has_points; /* custody and disposals have no points */
    mpq_t points, percent, avoided;
    int significant; /* the significance gate (5.9.3) is met; set by the caller when the gate asks */
} metrics;

/* Applies pay to a line: threshold (override: pooled threshold, below 0),
 * units, price or tiers (seg_price replaces both when non-NULL), cap.
 * custody: negative units are kept. Sets line->threshold_met, units and
 * computed_pence. */
void pay_line(const pbr_pay *pay, const mpq_t *seg_price, const metrics *m, int custody, int pooled_override,
              pbr_metric pooled_metric, const mpq_t *pooled_threshold, pbr_line *line, mpq_t amount_pounds);

/* Lines are ordered by (final_on, component, period first day, pooled last, segment). */
int cline_cmp(const void *a, const void *b);

/* ---- mechanism.c: SPEC 5.9 -------------------------------------------------------- */

/* The significance gate of 5.9.3: 1 when a < b and (b - a)^2 n >= z^2 V,
 * V = b (1 - b) for binary, b for frequency; exact, no square root. */
int eval_significant(const mpq_t z, int64_t n, const mpq_t a, const mpq_t b, int binary);

/* The outcome line of component h for (period, segment) among lines, or
 * NULL (5.9.1: the hurdle's line). segment is NULL for no segment. */
const cline *eval_hurdle_line(const clines *lines, const pbr_outcome *h, const char *period, const char *segment);

/* A missed hurdle: the frequency line l of o pays o's below, threshold_met
 * false, units null (5.9.1). */
void eval_hurdle_missed(const pbr_outcome *o, pbr_line *l);

/* Appends the volume lines of every fee with volume (5.9.4), as of d.
 * Returns 0 or -1 (out of memory). */
int eval_volume_lines(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, clines *out);

/* Appends the recovery line of every quarter of fee f (5.9.5: f has an
 * advance). Returns 0 or -1 (out of memory). */
int eval_recovery_lines(const pbr_contract *c, const pbr_fee *f, clines *out);

/* The latest final_on of the 5.9 fee lines of c (volume and recovery), or
 * PBR_DATE_NONE: the statement range covers them. */
pbr_date eval_mechanism_last_final_on(const pbr_contract *c);

#endif

/* mechanism.c -- the Transforming Rehabilitation keys of SPEC.md 5.9 that
 * the measures and statements call into: the exact significance gate
 * (5.9.3), the hurdle of a frequency outcome (5.9.1), the yearly volume
 * reconciliation of a quarterly fee (5.9.4) and the recovery of a
 * foundation advance (5.9.5). The annual top-up (5.9.2) is the pooled rule
 * of measure.c applied per settlement year.
 *
 * Pure: reads only the contract and the event set; exact rationals and
 * integer pence.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/num.h"

#include "eval.h"

int eval_significant(const mpq_t z, int64_t n, const mpq_t a, const mpq_t b, pbr_measure measure)
{
    assert(measure == PBR_M_BINARY || measure == PBR_M_FREQUENCY);
    if (mpq_cmp(a, b) >= 0)
        return 0;
    mpq_t lhs, rhs, t;
    mpq_inits(lhs, rhs, t, NULL);
    /* lhs = (b - a)^2 n */
    mpq_sub(lhs, b, a);
    mpq_mul(lhs, lhs, lhs);
    mpz_set_si(mpq_numref(t), n);
    mpz_set_ui(mpq_denref(t), 1);
    mpq_mul(lhs, lhs, t);
    /* rhs = z^2 V, V = b (1 - b) (binary) or b (frequency) */
    mpq_mul(rhs, z, z);
    mpq_mul(rhs, rhs, b);
    if (measure == PBR_M_BINARY) {
        mpq_set_ui(t, 1, 1);
        mpq_sub(t, t, b);
        mpq_mul(rhs, rhs, t);
    }
    int met = mpq_cmp(lhs, rhs) >= 0;
    mpq_clears(lhs, rhs, t, NULL);
    return met;
}

const candidate_line *eval_hurdle_line(const candidate_lines *lines, const pbr_outcome *h, const char *period,
                                       const char *segment)
{
    for (size_t i = 0; i < lines->n; i++) {
        const pbr_line *l = &lines->v[i].line;
        if (l->kind != PBR_LINE_OUTCOME || strcmp(l->component, h->id) != 0 || strcmp(l->period, period) != 0)
            continue;
        if (segment == NULL ? !l->has_segment : l->has_segment && strcmp(l->segment, segment) == 0)
            return &lines->v[i];
    }
    return NULL;
}

void eval_hurdle_missed(const pbr_outcome *o, pbr_line *l)
{
    l->threshold_met = 0;
    l->units[0] = '\0';
    l->computed_pence = pbr_pounds_to_pence(o->pay.below);
}

/* ---- fee lines ----------------------------------------------------------------------- */

/* Where a 5.9 fee line's amount comes from. */
typedef enum fee_origin {
    FEE_FIXED_BY_CONTRACT, /* recovery: issued once, never adjusted */
    FEE_FROM_EVENTS,       /* volume: recomputed at every statement, adjusted */
} fee_origin;

/* Appends a fee line of f covering period p with the computed amount.
 * Returns the line, or NULL when out of memory. */
static candidate_line *push_fee_line(candidate_lines *out, const pbr_fee *f, const line_period *p, int64_t pence,
                                     fee_origin origin)
{
    candidate_line *cl = candidate_lines_push(out);
    if (cl == NULL)
        return NULL;
    cl->line.kind = PBR_LINE_FEE;
    snprintf(cl->line.component, sizeof cl->line.component, "%s", f->id);
    snprintf(cl->line.period, sizeof cl->line.period, "%s", p->key);
    cl->line.final_on = p->final_on;
    cl->line.computed_pence = pence;
    cl->period_first = p->first;
    cl->comp_order = f->file_order;
    cl->fee_from_events = origin == FEE_FROM_EVENTS;
    cl->fee_rank = 0;
    return cl;
}

/* Counts, per settlement year of years, the index events of the fee's
 * type visible in the view and matching its where (every event, 5.9.4)
 * into count[k]. Returns 0 or -1 (out of memory). */
static int volume_counts(const eval_view *v, const pbr_fee *f, const period_range *years, int64_t *count)
{
    const eval_view view = *v; /* a local copy: the loop keeps it in registers */
    compiled_where w = {NULL, 0};
    if (compiled_where_init(&w, &f->volume_where, v->events) != 0)
        return -1;
    size_t nall, npos;
    const pbr_ev *all = pbr_eventset_all(v->events, &nall);
    const uint32_t *pos = pbr_eventset_of_type(v->events, (int)f->volume_index, &npos);
    for (size_t i = 0; i < npos; i++) {
        const pbr_ev *e = &all[pos[i]];
        int64_t k = period_range_find(years, e->date);
        if (k < 0)
            continue;
        if (!eval_visible(&view, e) || (w.n > 0 && !compiled_where_matches(&w, v->events, e)))
            continue;
        count[k]++;
    }
    compiled_where_clear(&w);
    return 0;
}

/* The volume amount of one year's count (5.9.4) in pence: (count - hi) x
 * rate above the band, (count - lo) x rate (a clawback) below it, 0
 * inside. n and amount are the caller's scratch rationals. */
static int64_t volume_pence(const pbr_fee *f, int64_t count, mpq_t n, mpq_t amount)
{
    int64_t over = count > f->volume_hi ? count - f->volume_hi : count < f->volume_lo ? count - f->volume_lo : 0;
    mpz_set_si(mpq_numref(n), over);
    mpz_set_ui(mpq_denref(n), 1);
    mpq_mul(amount, n, f->volume_rate);
    return pbr_pounds_to_pence(amount);
}

int eval_volume_lines(const eval_view *v, candidate_lines *out)
{
    const pbr_contract *c = v->contract;
    pbr_date y0 = pbr_year_of(c->start, c->year_start), yn = pbr_year_of(c->end, c->year_start);
    size_t ny = 0;
    for (pbr_date y = y0; y <= yn; y = pbr_add_months(y, 12))
        ny++;
    period_range years = {NULL, 0, 12};
    int64_t *count = calloc(ny, sizeof *count);
    if (count == NULL || period_range_init(&years, y0, ny, 12) != 0) {
        free(count);
        return -1;
    }
    mpq_t n, amount;
    mpq_inits(n, amount, NULL);
    int rc = 0;
    for (size_t i = 0; i < c->nfees && rc == 0; i++) {
        const pbr_fee *f = &c->fees[i];
        if (!f->has_volume)
            continue;
        memset(count, 0, ny * sizeof *count);
        if (volume_counts(v, f, &years, count) != 0) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < ny; k++) {
            pbr_date y = years.starts[k], ynext = years.starts[k + 1];
            char label[20], period[32];
            pbr_year_label(y, c->year_start, label, sizeof label);
            snprintf(period, sizeof period, "%s-volume", label);
            line_period p = {.key = period, .first = y, .final_on = pbr_add_months(ynext, 3)};
            if (push_fee_line(out, f, &p, volume_pence(f, count[k], n, amount), FEE_FROM_EVENTS) == NULL) {
                rc = -1;
                break;
            }
        }
    }
    mpq_clears(n, amount, NULL);
    free(count);
    period_range_clear(&years);
    return rc;
}

int eval_recovery_lines(const pbr_contract *c, const pbr_fee *f, candidate_lines *out)
{
    const pbr_outcome *o = &c->outcomes[f->advance_of];
    int64_t advance = pbr_pounds_to_pence(f->amount);
    for (pbr_date q = pbr_quarter_of(f->from, c->year_start); q <= f->to; q = pbr_add_months(q, 3)) {
        char day[PBR_DATE_STRLEN], period[32];
        pbr_date_format(q, day);
        snprintf(period, sizeof period, "%s-recovery", day);
        /* final on the outcome's window q: add_months(q.next, follow_up + waiting) */
        pbr_date final_on = pbr_add_months(pbr_add_months(q, 3), o->follow_up + o->waiting);
        line_period p = {.key = period, .first = q, .final_on = final_on};
        if (push_fee_line(out, f, &p, -advance, FEE_FIXED_BY_CONTRACT) == NULL)
            return -1;
    }
    return 0;
}

pbr_date eval_mechanism_last_final_on(const pbr_contract *c)
{
    pbr_date last = PBR_DATE_NONE;
    for (size_t i = 0; i < c->nfees; i++) {
        const pbr_fee *f = &c->fees[i];
        if (f->has_volume) {
            pbr_date y = pbr_year_of(c->end, c->year_start);
            pbr_date v = pbr_add_months(pbr_add_months(y, 12), 3);
            last = v > last ? v : last;
        }
        if (f->has_advance) {
            const pbr_outcome *o = &c->outcomes[f->advance_of];
            pbr_date q = pbr_quarter_of(f->to, c->year_start);
            pbr_date r = pbr_add_months(pbr_add_months(q, 3), o->follow_up + o->waiting);
            last = r > last ? r : last;
        }
    }
    return last;
}

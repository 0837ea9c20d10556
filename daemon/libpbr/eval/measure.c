/* measure.c -- the five measures of SPEC.md 5.3 and the improvement figures
 * of 5.4: every outcome and pooled line of a contract as of one date.
 *
 * Per-member work is integer (counts and OGRS weights in ten-thousandths);
 * each line's figures are then exact rationals, rounded once for display and
 * once to pence. Pure: reads only the contract and the event set.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/num.h"
#include "pbr/err.h"
#include "pbr/mem.h"

#include "eval.h"

/* ---- line helpers ------------------------------------------------------------- */

candidate_line *candidate_lines_push(candidate_lines *l)
{
    if (pbr_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != 0)
        return NULL;
    candidate_line *c = &l->v[l->n++];
    memset(c, 0, sizeof *c);
    c->line.members = c->line.excluded = c->line.reoffenders = c->line.reoffences = -1;
    c->line.threshold_met = -1;
    return c;
}

void candidate_lines_clear(candidate_lines *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

int candidate_line_cmp(const void *a, const void *b)
{
    const candidate_line *x = a, *y = b;
    if (x->line.final_on != y->line.final_on)
        return x->line.final_on < y->line.final_on ? -1 : 1;
    if (x->comp_order != y->comp_order)
        return x->comp_order < y->comp_order ? -1 : 1;
    if (x->pooled != y->pooled)
        return x->pooled - y->pooled;
    if (x->period_first != y->period_first)
        return x->period_first < y->period_first ? -1 : 1;
    if (x->seg_order != y->seg_order)
        return x->seg_order < y->seg_order ? -1 : 1;
    return strcmp(x->line.period, y->line.period);
}

/* Fills the identity of a line of segment seg of o covering period p. */
static void name_line(candidate_line *cl, const pbr_outcome *o, size_t seg, const line_period *p)
{
    assert(o->nsegments == 0 ? seg == 0 : seg < o->nsegments);
    cl->line.kind = PBR_LINE_OUTCOME;
    snprintf(cl->line.component, sizeof cl->line.component, "%s", o->id);
    snprintf(cl->line.period, sizeof cl->line.period, "%s", p->key);
    cl->line.has_segment = o->nsegments > 0;
    if (o->nsegments > 0)
        snprintf(cl->line.segment, sizeof cl->line.segment, "%s", o->segments[seg].name);
    cl->line.final_on = p->final_on;
    cl->period_first = p->first;
    cl->comp_order = o->file_order;
    cl->seg_order = seg;
    cl->measure = o->measure;
}

static const pbr_baseline *segment_baseline(const pbr_outcome *o, size_t seg)
{
    assert(o->nsegments == 0 ? seg == 0 : seg < o->nsegments);
    if (o->nsegments > 0 && o->segments[seg].has_baseline)
        return &o->segments[seg].baseline;
    return &o->baseline;
}

static const mpq_t *segment_price(const pbr_outcome *o, size_t seg)
{
    assert(o->nsegments == 0 ? seg == 0 : seg < o->nsegments);
    if (o->nsegments > 0 && o->segments[seg].has_price)
        return (const mpq_t *)&o->segments[seg].price;
    return NULL;
}

/* ---- one outcome component ------------------------------------------------------- */

int outcome_eval_init(outcome_eval *oe, const eval_view *v, const pbr_outcome *o)
{
    const pbr_eventset *ev = v->events;
    memset(oe, 0, sizeof *oe);
    oe->view = v;
    oe->outcome = o;
    oe->segments = calloc(o->nsegments ? o->nsegments : 1, sizeof *oe->segments);
    if (oe->segments == NULL)
        return -1;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (o->segments[i].has_where && compiled_where_init(&oe->segments[i], &o->segments[i].where, ev) != 0)
            return -1;
    }
    if (compiled_where_init(&oe->where, &o->where, ev) != 0 || compiled_where_init(&oe->exclude, &o->exclude, ev) != 0)
        return -1;
    return 0;
}

void outcome_eval_clear(outcome_eval *oe)
{
    /* an uncompiled slot is zeroed: clearing it frees nothing */
    for (size_t i = 0; oe->segments != NULL && i < oe->outcome->nsegments; i++)
        compiled_where_clear(&oe->segments[i]);
    free(oe->segments);
    oe->segments = NULL;
    compiled_where_clear(&oe->where);
    compiled_where_clear(&oe->exclude);
}

static void metrics_init(metrics *m)
{
    mpq_inits(m->points, m->percent, m->avoided, NULL);
    m->has_points = 1;
    m->significant = 0;
}

static void metrics_clear(metrics *m)
{
    mpq_clears(m->points, m->percent, m->avoided, NULL);
}

/* points, percent and avoided from baseline b, actual a and denominator n. */
static void improvement(metrics *m, const mpq_t b, const mpq_t a, const mpq_t n)
{
    mpq_t diff, hundred;
    mpq_inits(diff, hundred, NULL);
    mpq_set_ui(hundred, 100, 1);
    mpq_sub(diff, b, a);
    mpq_mul(m->points, diff, hundred);
    if (mpq_sgn(b) == 0) {
        mpq_set_ui(m->percent, 0, 1);
    } else {
        mpq_div(m->percent, diff, b);
        mpq_mul(m->percent, m->percent, hundred);
    }
    mpq_mul(m->avoided, diff, n);
    mpq_clears(diff, hundred, NULL);
}

static void show_metrics(pbr_line *l, const metrics *m, const mpq_t a, const mpq_t b)
{
    pbr_format6(a, l->actual, sizeof l->actual);
    pbr_format6(b, l->baseline, sizeof l->baseline);
    if (m->has_points)
        pbr_format6(m->points, l->points, sizeof l->points);
    pbr_format6(m->percent, l->percent, sizeof l->percent);
    pbr_format6(m->avoided, l->avoided, sizeof l->avoided);
}

/* ---- cohort measures: binary and frequency -------------------------------------- */

typedef struct cohort_acc {
    int64_t n, r, f;    /* unweighted members, reoffenders, reoffences */
    int64_t wn, wr, wf; /* weighted (weight in ten-thousandths, or 1) */
    int64_t ogrs_sum;   /* sum of member OGRS (ten-thousandths) */
} cohort_acc;

/* Proven reoffences of the member whose index event is idx (5.3). */
reoffence_count eval_proven_reoffences(const outcome_eval *oe, const pbr_ev *idx, proven_fn on_proven, void *ctx)
{
    const pbr_outcome *o = oe->outcome;
    const eval_view view = *oe->view; /* a local copy: the loop keeps it in registers */
    const pbr_eventset *ev = view.events;
    reoffence_count r = {0, 0, 0};
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, idx->offender, &n);
    pbr_date follow_up_end = pbr_add_months(idx->date, o->follow_up);
    pbr_date wait_end = pbr_add_months(idx->date, o->follow_up + o->waiting);
    for (size_t i = 0; i < n; i++) {
        const pbr_ev *e = &es[i];
        if (e->type != PBR_EV_CONVICTION || e->date >= wait_end)
            continue;
        if (e->offence_date < idx->date || e->offence_date >= follow_up_end)
            continue;
        if (!eval_visible(&view, e))
            continue;
        if (oe->exclude.n > 0 && compiled_where_matches(&oe->exclude, ev, e))
            continue;
        r.reoffender = 1;
        r.reoffences += o->counts_convictions ? 1 : e->offences;
        if (on_proven != NULL && on_proven(ctx, e) != 0) {
            r.failed = 1;
            break;
        }
    }
    return r;
}

int eval_needs_ogrs(const pbr_outcome *o, size_t seg)
{
    pbr_baseline_kind k = segment_baseline(o, seg)->kind;
    return o->pay.weight_ogrs || k == PBR_BL_PREDICTED || k == PBR_BL_OGRS_REF;
}

/* Baseline of a cohort line into b. */
static void cohort_baseline(const pbr_baseline *bl, const char *key, const cohort_acc *a, mpq_t b)
{
    mpq_set_ui(b, 0, 1);
    switch (bl->kind) {
    case PBR_BL_RATE: mpq_set(b, bl->rate); break;
    case PBR_BL_RATES:
        for (size_t i = 0; i < bl->nrates; i++) {
            if (strcmp(bl->rate_keys[i], key) == 0)
                mpq_set(b, bl->rate_values[i]);
        }
        break;
    case PBR_BL_PREDICTED:
    case PBR_BL_OGRS_REF:
        if (a->n > 0) {
            mpq_t mean;
            mpq_init(mean);
            mpz_set_si(mpq_numref(mean), a->ogrs_sum);
            mpz_set_si(mpq_denref(mean), a->n * 10000);
            mpq_canonicalize(mean);
            if (bl->kind == PBR_BL_PREDICTED) {
                mpq_mul(b, mean, bl->scale);
            } else {
                mpq_mul(b, bl->rate, mean);
                mpq_div(b, b, bl->ogrs_reference);
            }
            mpq_clear(mean);
        }
        break;
    default: break;
    }
}

static void set_ratio(mpq_t q, int64_t num, int64_t den)
{
    if (den == 0) {
        mpq_set_ui(q, 0, 1);
        return;
    }
    mpz_set_si(mpq_numref(q), num);
    mpz_set_si(mpq_denref(q), den);
    mpq_canonicalize(q);
}

/* actual and the improvement denominator (weighted) of a cohort line. */
static void cohort_actual(const pbr_outcome *o, const cohort_acc *a, mpq_t actual, mpq_t denom)
{
    int64_t scale = o->pay.weight_ogrs ? 10000 : 1;
    if (o->measure == PBR_M_BINARY)
        set_ratio(actual, a->wr, a->wn);
    else if (o->per_reoffender)
        set_ratio(actual, a->wf, a->wr);
    else
        set_ratio(actual, a->wf, a->wn);
    set_ratio(denom, o->measure == PBR_M_FREQUENCY && o->per_reoffender ? a->wr : a->wn, scale);
}

/* The figures of a binary or frequency component per (window, segment)
 * cell: cell i * nsegments + s is window i of the cohort, segment s. */
typedef struct cohort_tally {
    const cohort_window *windows;
    size_t nwindows, nsegments;
    cohort_acc *acc;   /* the members of each cell */
    mpq_t *baseline;   /* each cell's baseline, set when its line is made */
    int64_t *pence;    /* each cell's window line's computed pence (0 without a line) */
    int64_t *excluded; /* per window: members no segment takes or without a needed OGRS */
} cohort_tally;

/* The index of cell (window, seg). */
static size_t tally_cell(const cohort_tally *t, size_t window, size_t seg)
{
    assert(window < t->nwindows && seg < t->nsegments);
    return window * t->nsegments + seg;
}

/* An empty tally over the windows of co for the segments of o. Returns 0,
 * or -1 when out of memory; clear with cohort_tally_clear either way. */
static int cohort_tally_init(cohort_tally *t, const eval_cohort *co, const pbr_outcome *o)
{
    memset(t, 0, sizeof *t);
    t->windows = co->windows;
    t->nwindows = co->nwindows;
    t->nsegments = o->nsegments ? o->nsegments : 1;
    size_t ncells = t->nwindows * t->nsegments;
    t->acc = calloc(ncells + 1, sizeof *t->acc);
    t->excluded = calloc(t->nwindows + 1, sizeof *t->excluded);
    t->pence = calloc(ncells + 1, sizeof *t->pence);
    t->baseline = calloc(ncells + 1, sizeof *t->baseline);
    if (t->acc == NULL || t->excluded == NULL || t->pence == NULL || t->baseline == NULL) {
        free(t->baseline);
        t->baseline = NULL; /* nothing initialised to clear */
        return -1;
    }
    for (size_t i = 0; i < ncells; i++)
        mpq_init(t->baseline[i]);
    return 0;
}

static void cohort_tally_clear(cohort_tally *t)
{
    for (size_t i = 0; t->baseline != NULL && i < t->nwindows * t->nsegments; i++)
        mpq_clear(t->baseline[i]);
    free(t->baseline);
    free(t->pence);
    free(t->excluded);
    free(t->acc);
    memset(t, 0, sizeof *t);
}

/* Counts the members of co into t: each member in its (window, segment)
 * cell with its proven reoffences, or excluded from its window. */
static void tally_members(const outcome_eval *oe, const eval_cohort *co, cohort_tally *t)
{
    const pbr_outcome *o = oe->outcome;
    for (size_t i = 0; i < co->nmembers; i++) {
        const cohort_member *m = &co->members[i];
        const pbr_ev *idx = m->index;
        int64_t seg = eval_segment_of(oe, idx);
        assert(m->window < t->nwindows);
        if (seg < 0 || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0)) {
            t->excluded[m->window]++;
            continue;
        }
        reoffence_count r = eval_proven_reoffences(oe, idx, NULL, NULL);
        int64_t wt = o->pay.weight_ogrs ? idx->ogrs : 1;
        cohort_acc *a = &t->acc[tally_cell(t, m->window, (size_t)seg)];
        a->n++;
        a->wn += wt;
        a->ogrs_sum += idx->ogrs > 0 ? idx->ogrs : 0;
        if (r.reoffender) {
            a->r++;
            a->wr += wt;
            a->f += r.reoffences;
            a->wf += wt * r.reoffences;
        }
    }
}

/* Builds the binary/frequency line of cell (window, seg) from its
 * accumulator and baseline. Returns 0 or -1. */
static int emit_cohort_line(const outcome_eval *oe, const cohort_tally *t, size_t window, size_t seg,
                            candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    const cohort_window *w = &t->windows[window];
    size_t cell = tally_cell(t, window, seg);
    const cohort_acc *a = &t->acc[cell];
    candidate_line *cl = candidate_lines_push(out);
    if (cl == NULL)
        return -1;
    name_line(
        cl, o, seg,
        &(line_period){.key = w->key, .first = w->from, .final_on = pbr_add_months(w->to, o->follow_up + o->waiting)});
    cl->line.members = a->n;
    cl->line.excluded = t->excluded[window];
    cl->line.reoffenders = a->r;
    cl->line.reoffences = a->f;
    metrics m;
    mpq_t actual, denom, amount;
    metrics_init(&m);
    mpq_inits(actual, denom, amount, NULL);
    cohort_actual(o, a, actual, denom);
    improvement(&m, t->baseline[cell], actual, denom);
    if (o->pay.has_threshold && o->pay.threshold_metric == PBR_METRIC_SIGNIFICANT)
        m.significant = eval_significant(o->pay.threshold, a->n, actual, t->baseline[cell], o->measure);
    show_metrics(&cl->line, &m, actual, t->baseline[cell]);
    pay_terms terms = {.pay = &o->pay,
                       .segment_price = segment_price(o, seg),
                       .gate = PAY_GATE_OWN,
                       .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    pay_line(&terms, &m, &cl->line, amount);
    mpq_clears(actual, denom, amount, NULL);
    metrics_clear(&m);
    return 0;
}

/* The windows [from, to) one pooled line pools, and the line's period key
 * ("pooled", or a settlement year's label, 5.9.2) and first day
 * (PBR_DATE_MAX for "pooled"). */
typedef struct pooled_span {
    size_t from, to;
    const char *key;
    pbr_date first;
} pooled_span;

/* The pooled line of segment seg over the windows of span (5.6): it pays
 * what the pooled figures earn beyond the span's window lines. Returns 0
 * or -1. */
static int emit_pooled_line(const outcome_eval *oe, const cohort_tally *t, size_t seg, const pooled_span *span,
                            candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    assert(span->from < span->to && span->to <= t->nwindows);
    cohort_acc p = {0, 0, 0, 0, 0, 0, 0};
    int64_t ex = 0, window_pence = 0;
    pbr_date final_on = PBR_DATE_NONE;
    mpq_t bsum, term, denom, b, actual, amount;
    mpq_inits(bsum, term, denom, b, actual, amount, NULL);
    mpq_t pden;
    mpq_init(pden);
    for (size_t i = span->from; i < span->to; i++) {
        size_t cell = tally_cell(t, i, seg);
        pbr_date f = pbr_add_months(t->windows[i].to, o->follow_up + o->waiting);
        final_on = f > final_on ? f : final_on;
        const cohort_acc *a = &t->acc[cell];
        window_pence += t->pence[cell];
        ex += t->excluded[i]; /* every pooled window, those without a line too (ruled 2026-12-02) */
        if (a->n == 0)
            continue;
        p.n += a->n, p.r += a->r, p.f += a->f, p.wn += a->wn, p.wr += a->wr, p.wf += a->wf;
        p.ogrs_sum += a->ogrs_sum;
        mpq_t actual_w;
        mpq_init(actual_w);
        cohort_actual(o, a, actual_w, denom);
        mpq_mul(term, t->baseline[cell], denom);
        mpq_add(bsum, bsum, term);
        mpq_add(pden, pden, denom);
        mpq_clear(actual_w);
    }
    int rc = 0;
    if (p.n == 0)
        goto done;
    if (mpq_sgn(pden) != 0)
        mpq_div(b, bsum, pden);
    metrics m;
    metrics_init(&m);
    cohort_actual(o, &p, actual, denom);
    improvement(&m, b, actual, denom);
    if (o->pooled_metric == PBR_METRIC_SIGNIFICANT)
        m.significant = eval_significant(o->pooled_threshold, p.n, actual, b, o->measure);
    pbr_line tmp;
    memset(&tmp, 0, sizeof tmp);
    pay_terms terms = {.pay = &o->pay,
                       .segment_price = segment_price(o, seg),
                       .gate = PAY_GATE_POOLED,
                       .pooled_metric = o->pooled_metric,
                       .pooled_threshold = (const mpq_t *)&o->pooled_threshold,
                       .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    pay_line(&terms, &m, &tmp, amount);
    if (tmp.threshold_met == 1) {
        candidate_line *cl = candidate_lines_push(out);
        if (cl == NULL) {
            rc = -1;
        } else {
            name_line(cl, o, seg, &(line_period){.key = span->key, .first = span->first, .final_on = final_on});
            cl->pooled = 1;
            cl->line.kind = PBR_LINE_POOLED;
            cl->line.members = p.n;
            cl->line.excluded = ex;
            cl->line.reoffenders = p.r;
            cl->line.reoffences = p.f;
            show_metrics(&cl->line, &m, actual, b);
            cl->line.threshold_met = 1;
            memcpy(cl->line.units, tmp.units, sizeof tmp.units);
            int64_t extra = tmp.computed_pence - window_pence;
            cl->line.computed_pence = extra > 0 ? extra : 0;
        }
    }
    metrics_clear(&m);
done:
    mpq_clears(bsum, term, denom, b, actual, amount, pden, NULL);
    return rc;
}

/* The pooled lines of segment seg: one over every window (5.6), or one per
 * settlement year over the windows whose first day falls in it (over:
 * year, 5.9.2). Returns 0 or -1. */
static int emit_pooled_lines(const outcome_eval *oe, const cohort_tally *t, size_t seg, candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    int year_start = oe->view->contract->year_start;
    for (size_t i = 0; i < t->nwindows;) {
        pbr_date y = pbr_year_of(t->windows[i].from, year_start);
        size_t j = i;
        while (j < t->nwindows && (!o->pooled_over_year || pbr_year_of(t->windows[j].from, year_start) == y))
            j++;
        char label[32] = "pooled";
        if (o->pooled_over_year)
            pbr_year_label(y, year_start, label, sizeof label);
        pooled_span span = {.from = i, .to = j, .key = label, .first = o->pooled_over_year ? y : PBR_DATE_MAX};
        if (emit_pooled_line(oe, t, seg, &span, out) != 0)
            return -1;
        i = j;
    }
    return 0;
}

/* The window lines of segment seg, recording each line's pence in t. A
 * component with a hurdle (5.9.1) has a line only where the hurdle has
 * one, and pays `below` where the hurdle missed. Returns 0 or -1. */
static int emit_window_lines(const outcome_eval *oe, cohort_tally *t, size_t seg, candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    const pbr_contract *c = oe->view->contract;
    const pbr_outcome *hurdle = o->has_hurdle ? &c->outcomes[o->hurdle] : NULL;
    for (size_t i = 0; i < t->nwindows; i++) {
        size_t cell = tally_cell(t, i, seg);
        cohort_acc *a = &t->acc[cell];
        if (a->n == 0)
            continue;
        int hurdle_met = 1;
        if (hurdle != NULL) {
            const candidate_line *h =
                eval_hurdle_line(out, hurdle, t->windows[i].key, o->nsegments ? o->segments[seg].name : NULL);
            if (h == NULL) { /* no hurdle line: no line, and nothing to pool */
                memset(a, 0, sizeof *a);
                continue;
            }
            hurdle_met = h->line.threshold_met != 0;
        }
        cohort_baseline(segment_baseline(o, seg), t->windows[i].key, a, t->baseline[cell]);
        if (emit_cohort_line(oe, t, i, seg, out) != 0)
            return -1;
        assert(out->n > 0);
        if (!hurdle_met)
            eval_hurdle_missed(o, &out->v[out->n - 1].line);
        t->pence[cell] = out->v[out->n - 1].line.computed_pence;
    }
    return 0;
}

/* Binary and frequency lines (and pooled) of component o. A frequency
 * component with a hurdle (5.9.1) reads the hurdle's lines from out, so the
 * hurdle is evaluated first. Returns 0 or -1. */
static int eval_cohort_component(const eval_view *v, const pbr_outcome *o, const eval_cohort *co, candidate_lines *out)
{
    outcome_eval oe;
    cohort_tally t;
    int rc = -1;
    int tally_rc = cohort_tally_init(&t, co, o);
    if (outcome_eval_init(&oe, v, o) != 0 || tally_rc != 0)
        goto out;
    tally_members(&oe, co, &t);
    for (size_t s = 0; s < t.nsegments; s++) {
        if (emit_window_lines(&oe, &t, s, out) != 0)
            goto out;
        if (o->has_pooled && emit_pooled_lines(&oe, &t, s, out) != 0)
            goto out;
    }
    rc = 0;
out:
    outcome_eval_clear(&oe);
    cohort_tally_clear(&t);
    return rc;
}

/* ---- clean_period ------------------------------------------------------------------- */

int eval_clean_clock(const outcome_eval *oe, const pbr_ev *idx, clean_restart_fn on_restart, void *ctx,
                     clean_clock *out)
{
    const pbr_outcome *o = oe->outcome;
    const eval_view view = *oe->view; /* a local copy: the loop keeps it in registers */
    const pbr_eventset *ev = view.events;
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, idx->offender, &n);
    pbr_date clock = idx->date;
    int first = 1;
    for (;;) {
        pbr_date s = pbr_add_months(clock, o->follow_up);
        /* one month addition (ruled 2026-12-02): at month ends F is not S + waiting */
        pbr_date f = pbr_add_months(clock, o->follow_up + o->waiting);
        const pbr_ev *earliest = NULL;
        for (size_t i = 0; i < n; i++) {
            const pbr_ev *e = &es[i];
            if (e->type != PBR_EV_CONVICTION || e->date >= f || e->offence_date >= s)
                continue;
            if (first ? e->offence_date < clock : e->offence_date <= clock)
                continue;
            if ((earliest != NULL && e->offence_date >= earliest->offence_date) || !eval_visible(&view, e))
                continue;
            if (oe->exclude.n > 0 && compiled_where_matches(&oe->exclude, ev, e))
                continue;
            earliest = e;
        }
        if (earliest == NULL) {
            out->clock = clock;
            out->success_on = f;
            return 1;
        }
        if (earliest->offence_date > view.contract->end)
            return 0;
        if (on_restart != NULL && on_restart(ctx, earliest) != 0)
            return -1;
        clock = earliest->offence_date;
        first = 0;
    }
}

typedef struct clean_acc {
    pbr_date quarter;
    size_t seg;
    int64_t successes;
    int64_t weight; /* sum of weights (ten-thousandths with weight: ogrs) */
} clean_acc;

static int cmp_clean(const void *a, const void *b)
{
    const clean_acc *x = a, *y = b;
    if (x->quarter != y->quarter)
        return x->quarter < y->quarter ? -1 : 1;
    return x->seg < y->seg ? -1 : x->seg > y->seg;
}

/* One line per (quarter, segment) of the successes v[0, n) (sorted here).
 * Returns 0 or -1. */
static int emit_clean_lines(const pbr_outcome *o, clean_acc *v, size_t n, candidate_lines *out)
{
    qsort(v, n, sizeof *v, cmp_clean);
    mpq_t amount, w;
    mpq_inits(amount, w, NULL);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t j = i;
        int64_t succ = 0, weight = 0;
        while (j < n && v[j].quarter == v[i].quarter && v[j].seg == v[i].seg) {
            succ += v[j].successes;
            weight += v[j].weight;
            j++;
        }
        candidate_line *cl = candidate_lines_push(out);
        if (cl == NULL) {
            rc = -1;
            break;
        }
        char key[PBR_DATE_STRLEN];
        pbr_date_format(v[i].quarter, key);
        name_line(cl, o, v[i].seg,
                  &(line_period){.key = key, .first = v[i].quarter, .final_on = pbr_add_months(v[i].quarter, 3)});
        cl->line.members = succ;
        set_ratio(w, weight, o->pay.weight_ogrs ? 10000 : 1);
        const mpq_t *price = segment_price(o, v[i].seg);
        mpq_mul(amount, w, price ? *price : o->pay.price);
        if (o->pay.has_cap && mpq_cmp(amount, o->pay.cap) > 0)
            mpq_set(amount, o->pay.cap);
        cl->line.computed_pence = pbr_pounds_to_pence(amount);
        assert(j > i);
        i = j - 1;
    }
    mpq_clears(amount, w, NULL);
    return rc;
}

/* The clean_period lines of component o (5.3): members who succeed, by
 * the quarter of their success. Returns 0 or -1. */
static int eval_clean_component(const eval_view *v, const pbr_outcome *o, const eval_cohort *co, candidate_lines *out)
{
    int rc = -1;
    outcome_eval oe;
    clean_acc *succ = malloc((co->nmembers ? co->nmembers : 1) * sizeof *succ);
    size_t nv = 0;
    if (outcome_eval_init(&oe, v, o) != 0 || succ == NULL)
        goto out;
    for (size_t i = 0; i < co->nmembers; i++) {
        const pbr_ev *idx = co->members[i].index;
        int64_t seg = eval_segment_of(&oe, idx);
        if (seg < 0 || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0))
            continue;
        clean_clock clock;
        if (eval_clean_clock(&oe, idx, NULL, NULL, &clock) != 1)
            continue;
        clean_acc *x = &succ[nv++];
        x->quarter = pbr_quarter_of(clock.success_on, v->contract->year_start);
        x->seg = (size_t)seg;
        x->successes = 1;
        x->weight = o->pay.weight_ogrs ? idx->ogrs : 1;
    }
    rc = emit_clean_lines(o, succ, nv, out);
out:
    outcome_eval_clear(&oe);
    free(succ);
    return rc;
}

/* ---- periods ------------------------------------------------------------------------- */

int period_range_init(period_range *r, pbr_date first, size_t n, int months)
{
    assert(months > 0 && 12 % months == 0);
    r->n = n;
    r->months = months;
    r->starts = malloc((n + 1) * sizeof *r->starts);
    if (r->starts == NULL)
        return -1;
    for (size_t k = 0; k <= n; k++)
        r->starts[k] = pbr_add_months(first, (int)k * months);
    return 0;
}

void period_range_clear(period_range *r)
{
    free(r->starts);
    r->starts = NULL;
    r->n = 0;
}

/* The most years of history any baseline of o looks back (0 without a
 * history baseline). */
static int history_years(const pbr_outcome *o)
{
    int h = 0;
    if (o->baseline.kind == PBR_BL_HISTORY)
        h = o->baseline.history_years;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (o->segments[i].has_baseline && o->segments[i].baseline.kind == PBR_BL_HISTORY &&
            o->segments[i].baseline.history_years > h)
            h = o->segments[i].baseline.history_years;
    }
    return h;
}

/* ---- custody_nights --------------------------------------------------------------------- */

typedef struct nights_acc {
    int64_t nights;
    int64_t spells;
} nights_acc;

/* Nights in custody per (quarter, segment) cell over a range of quarters
 * that starts with the history years: cell k * nsegments + s. */
typedef struct nights_table {
    period_range quarters;
    size_t nsegments;
    nights_acc *cells;
} nights_table;

/* The index of cell (quarter k, seg). */
static size_t nights_cell(const nights_table *t, size_t k, size_t seg)
{
    assert(k < t->quarters.n && seg < t->nsegments);
    return k * t->nsegments + seg;
}

/* Adds one spell [from, to) to the per-quarter nights of segment seg. */
static void add_spell(nights_table *t, size_t seg, pbr_date from, pbr_date to)
{
    const period_range *r = &t->quarters;
    pbr_date lo = from > r->starts[0] ? from : r->starts[0];
    pbr_date hi = to < r->starts[r->n] ? to : r->starts[r->n];
    if (lo >= hi)
        return;
    for (int64_t k = period_range_find(r, lo); k >= 0 && (size_t)k < r->n && r->starts[k] < hi; k++) {
        pbr_date a = lo > r->starts[k] ? lo : r->starts[k];
        pbr_date b = hi < r->starts[k + 1] ? hi : r->starts[k + 1];
        if (b > a) {
            nights_acc *cell = &t->cells[nights_cell(t, (size_t)k, seg)];
            cell->nights += b - a;
            cell->spells++;
        }
    }
}

/* The position in es[0, n) of step k of the custody walk (5.3, ruled
 * 2026-12-02): events by date, and on one date the discharges (by id)
 * before the receptions (by id). es is sorted by (date, id), so a date's
 * events are contiguous; *grp is the first index of the current date's group
 * and *pass the pass over it (0: discharges, 1: everything else). */
static size_t custody_step(const pbr_ev *es, size_t n, size_t *i, size_t *grp, int *pass)
{
    for (;;) {
        if (*i >= n || es[*i].date != es[*grp].date) {
            if (*pass == 0) {
                *pass = 1;
                *i = *grp;
                continue;
            }
            if (*i >= n)
                return n;
            *grp = *i;
            *pass = 0;
            continue;
        }
        size_t at = (*i)++;
        if ((es[at].type == PBR_EV_DISCHARGE) == (*pass == 0))
            return at;
    }
}

int eval_custody_spells(const eval_view *v, const pbr_ev *es, size_t n, custody_spell_fn fn, void *ctx)
{
    const eval_view view = *v; /* a local copy: the loop keeps it in registers */
    const pbr_ev *open = NULL;
    size_t next = 0, grp = 0;
    int pass = 0;
    for (size_t step = 0; step <= n; step++) {
        size_t at = n > 0 ? custody_step(es, n, &next, &grp, &pass) : n;
        const pbr_ev *e = at < n ? &es[at] : NULL;
        if (e != NULL && e->type != PBR_EV_RECEPTION && e->type != PBR_EV_DISCHARGE)
            continue;
        if (e != NULL && !eval_visible(&view, e))
            continue;
        if (e != NULL && e->type == PBR_EV_RECEPTION) {
            if (open == NULL)
                open = e;
            continue;
        }
        if (open == NULL)
            continue;
        int rc = fn(ctx, open, e, e != NULL ? e->date : PBR_DATE_MAX);
        if (rc != 0)
            return rc;
        open = NULL;
    }
    return 0;
}

/* The custody walk's sink: the component and the table its spells add to. */
typedef struct spell_nights {
    const outcome_eval *oe;
    nights_table *table;
} spell_nights;

/* custody_spell_fn: adds a spell whose reception matches to its segment's
 * nights per quarter. */
static int add_spell_nights(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to)
{
    const spell_nights *sn = ctx;
    (void)discharge;
    if (compiled_where_matches(&sn->oe->where, sn->oe->view->events, reception)) {
        int64_t seg = eval_segment_of(sn->oe, reception);
        if (seg >= 0)
            add_spell(sn->table, (size_t)seg, reception->date, to);
    }
    return 0;
}

/* Walks every offender's receptions and discharges, read through the
 * event set's type index (the two position lists merged, so in (offender,
 * date, id) order) and copied per offender into one contiguous run for
 * eval_custody_spells; offenders without any add nothing, as in a walk over
 * every offender. Returns 0 or -1 (out of memory). */
static int custody_walk(const spell_nights *sn)
{
    const eval_view *v = sn->oe->view;
    size_t nall, nr, nd, i = 0, j = 0, nb = 0, cap = 0;
    const pbr_ev *all = pbr_eventset_all(v->events, &nall);
    const uint32_t *rp = pbr_eventset_of_type(v->events, PBR_EV_RECEPTION, &nr);
    const uint32_t *dp = pbr_eventset_of_type(v->events, PBR_EV_DISCHARGE, &nd);
    pbr_ev *run = NULL;
    while (i < nr || j < nd) {
        uint32_t p = j >= nd || (i < nr && rp[i] < dp[j]) ? rp[i++] : dp[j++];
        assert(p < nall);
        if (nb > 0 && all[p].offender != run[nb - 1].offender) {
            eval_custody_spells(v, run, nb, add_spell_nights, (void *)sn);
            nb = 0;
        }
        if (pbr_grow((void **)&run, &cap, nb + 1, sizeof *run) != 0) {
            free(run);
            return -1;
        }
        run[nb++] = all[p];
    }
    if (nb > 0)
        eval_custody_spells(v, run, nb, add_spell_nights, (void *)sn);
    free(run);
    return 0;
}

/* The history baseline of quarter k of segment seg into b: the mean of the
 * same quarter's nights in each of the `years` years before. */
static void history_mean(const nights_table *t, size_t seg, size_t k, int years, mpq_t b)
{
    size_t per_year = (size_t)(12 / t->quarters.months);
    int64_t sum = 0;
    assert(years >= 0 && k >= (size_t)years * per_year); /* history lies inside the range */
    for (int y = 1; y <= years; y++)
        sum += t->cells[nights_cell(t, k - (size_t)y * per_year, seg)].nights;
    set_ratio(b, sum, years);
}

/* One line per (quarter, segment) from quarter first_target on (the
 * quarters before are history). Returns 0 or -1. */
static int emit_custody_lines(const outcome_eval *oe, const nights_table *t, size_t first_target, candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    const period_range *r = &t->quarters;
    metrics m;
    mpq_t b, actual, one, amount;
    metrics_init(&m);
    m.has_points = 0;
    mpq_inits(b, actual, one, amount, NULL);
    mpq_set_ui(one, 1, 1);
    int rc = 0;
    for (size_t k = first_target; k < r->n && rc == 0; k++) {
        for (size_t s = 0; s < t->nsegments; s++) {
            const pbr_baseline *bl = segment_baseline(o, s);
            const nights_acc *a = &t->cells[nights_cell(t, k, s)];
            if (bl->kind == PBR_BL_HISTORY)
                history_mean(t, s, k, bl->history_years, b);
            else
                mpq_set(b, bl->nights);
            set_ratio(actual, a->nights, 1);
            candidate_line *cl = candidate_lines_push(out);
            if (cl == NULL) {
                rc = -1;
                break;
            }
            char key[PBR_DATE_STRLEN];
            pbr_date_format(r->starts[k], key);
            name_line(cl, o, s, &(line_period){.key = key, .first = r->starts[k], .final_on = r->starts[k + 1]});
            cl->line.members = a->spells;
            improvement(&m, b, actual, one);
            show_metrics(&cl->line, &m, actual, b);
            pay_terms terms = {.pay = &o->pay,
                               .segment_price = segment_price(o, s),
                               .gate = PAY_GATE_OWN,
                               .negative_units = PAY_NEGATIVE_UNITS_KEPT};
            pay_line(&terms, &m, &cl->line, amount);
        }
    }
    mpq_clears(b, actual, one, amount, NULL);
    metrics_clear(&m);
    return rc;
}

/* The custody_nights lines of component o: nights per quarter of the
 * contract, with the history years before it for history baselines.
 * Returns 0 or -1. */
static int eval_custody_component(const eval_view *v, const pbr_outcome *o, candidate_lines *out)
{
    const pbr_contract *c = v->contract;
    int hist = history_years(o);
    pbr_date q0 = pbr_quarter_of(c->start, c->year_start);
    pbr_date qn = pbr_quarter_of(c->end, c->year_start);
    size_t ntarget = 0;
    for (pbr_date q = q0; q <= qn; q = pbr_add_months(q, 3))
        ntarget++;
    nights_table t = {{NULL, 0, 3}, o->nsegments ? o->nsegments : 1, NULL};
    outcome_eval oe;
    int rc = -1;
    if (outcome_eval_init(&oe, v, o) != 0 ||
        period_range_init(&t.quarters, pbr_add_months(q0, -12 * hist), ntarget + 4 * (size_t)hist, 3) != 0)
        goto out;
    t.cells = calloc(t.quarters.n * t.nsegments + 1, sizeof *t.cells);
    if (t.cells == NULL)
        goto out;
    spell_nights sn = {&oe, &t};
    if (custody_walk(&sn) != 0)
        goto out;
    rc = emit_custody_lines(&oe, &t, 4 * (size_t)hist, out);
out:
    free(t.cells);
    period_range_clear(&t.quarters);
    outcome_eval_clear(&oe);
    return rc;
}

/* ---- disposals ----------------------------------------------------------------------------- */

typedef struct disp_acc {
    int64_t count[PBR_DISP_COUNT];
} disp_acc;

/* Proven disposals per (settlement year, segment) cell over a range of
 * years that starts with the history years: cell k * nsegments + s. */
typedef struct disposal_table {
    period_range years;
    size_t nsegments;
    disp_acc *cells;
} disposal_table;

/* The index of cell (year k, seg). */
static size_t disposal_cell(const disposal_table *t, size_t k, size_t seg)
{
    assert(k < t->years.n && seg < t->nsegments);
    return k * t->nsegments + seg;
}

/* The baseline count of every priced disposal kind of year k, segment seg,
 * into bk. */
static void disposal_baseline(const pbr_outcome *o, const disposal_table *t, size_t seg, size_t k,
                              mpq_t bk[PBR_DISP_COUNT])
{
    const pbr_baseline *bl = segment_baseline(o, seg);
    for (int kind = 0; kind < PBR_DISP_COUNT; kind++) {
        mpq_set_ui(bk[kind], 0, 1);
        if (!o->pay.has_kind_price[kind])
            continue;
        if (bl->kind == PBR_BL_COUNTS) {
            if (bl->has_count[kind])
                mpq_set(bk[kind], bl->counts[kind]);
        } else if (bl->kind == PBR_BL_HISTORY) {
            int64_t sum = 0;
            assert(k >= (size_t)bl->history_years); /* history lies inside the range */
            for (int y = 1; y <= bl->history_years; y++)
                sum += t->cells[disposal_cell(t, k - (size_t)y, seg)].count[kind];
            set_ratio(bk[kind], sum, bl->history_years);
        }
    }
}

/* The disposals line of year k, segment seg. Returns 0 or -1. */
static int emit_disposal_line(const outcome_eval *oe, const disposal_table *t, size_t k, size_t seg,
                              candidate_lines *out)
{
    const pbr_outcome *o = oe->outcome;
    const period_range *r = &t->years;
    mpq_t bk[PBR_DISP_COUNT], actual, base, term, amount;
    for (int i = 0; i < PBR_DISP_COUNT; i++)
        mpq_init(bk[i]);
    mpq_inits(actual, base, term, amount, NULL);
    disposal_baseline(o, t, seg, k, bk);
    int64_t members = 0;
    const disp_acc *cell = &t->cells[disposal_cell(t, k, seg)];
    for (int kind = 0; kind < PBR_DISP_COUNT; kind++) {
        if (!o->pay.has_kind_price[kind])
            continue;
        int64_t a = cell->count[kind];
        members += a;
        set_ratio(term, a, 1);
        mpq_mul(term, term, o->pay.prices[kind]);
        mpq_add(actual, actual, term);
        mpq_mul(term, bk[kind], o->pay.prices[kind]);
        mpq_add(base, base, term);
    }
    int rc = -1;
    candidate_line *cl = candidate_lines_push(out);
    if (cl != NULL) {
        char key[32];
        pbr_year_label(r->starts[k], oe->view->contract->year_start, key, sizeof key);
        name_line(cl, o, seg,
                  &(line_period){
                      .key = key, .first = r->starts[k], .final_on = pbr_add_months(r->starts[k + 1], o->waiting)});
        cl->line.members = members;
        metrics m;
        metrics_init(&m);
        m.has_points = 0;
        mpq_set_ui(term, 1, 1);
        improvement(&m, base, actual, term);
        show_metrics(&cl->line, &m, actual, base);
        /* amount = max(0, share/100 x saving), then the per-line cap */
        mpq_set_ui(term, 100, 1);
        mpq_div(amount, o->pay.share, term);
        mpq_mul(amount, amount, m.avoided);
        if (mpq_sgn(amount) < 0)
            mpq_set_ui(amount, 0, 1);
        if (o->pay.has_cap && mpq_cmp(amount, o->pay.cap) > 0)
            mpq_set(amount, o->pay.cap);
        cl->line.threshold_met = 1;
        cl->line.computed_pence = pbr_pounds_to_pence(amount);
        metrics_clear(&m);
        rc = 0;
    }
    for (int i = 0; i < PBR_DISP_COUNT; i++)
        mpq_clear(bk[i]);
    mpq_clears(actual, base, term, amount, NULL);
    return rc;
}

/* Counts the visible convictions matching o's where, not its exclude, by
 * (year, segment) and disposal kind. */
static void count_disposals(const outcome_eval *oe, disposal_table *t)
{
    const eval_view view = *oe->view; /* a local copy: the loop keeps it in registers */
    const pbr_eventset *ev = view.events;
    size_t nall, nconv;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const uint32_t *conv = pbr_eventset_of_type(ev, PBR_EV_CONVICTION, &nconv);
    for (size_t i = 0; i < nconv; i++) {
        const pbr_ev *e = &all[conv[i]];
        if (!eval_visible(&view, e))
            continue;
        int64_t k = period_range_find(&t->years, e->date);
        if (k < 0 || !compiled_where_matches(&oe->where, ev, e) ||
            (oe->exclude.n > 0 && compiled_where_matches(&oe->exclude, ev, e)))
            continue;
        int64_t seg = eval_segment_of(oe, e);
        if (seg >= 0) {
            assert(e->disposal < PBR_DISP_COUNT);
            t->cells[disposal_cell(t, (size_t)k, (size_t)seg)].count[e->disposal]++;
        }
    }
}

/* The disposals lines of component o: one per settlement year of the
 * contract and segment, with the history years before it. Returns 0 or
 * -1. */
static int eval_disposals_component(const eval_view *v, const pbr_outcome *o, candidate_lines *out)
{
    const pbr_contract *c = v->contract;
    int hist = history_years(o);
    pbr_date y0 = pbr_year_of(c->start, c->year_start), yn = pbr_year_of(c->end, c->year_start);
    size_t ntarget = 0;
    for (pbr_date y = y0; y <= yn; y = pbr_add_months(y, 12))
        ntarget++;
    disposal_table t = {{NULL, 0, 12}, o->nsegments ? o->nsegments : 1, NULL};
    outcome_eval oe;
    int rc = -1;
    if (outcome_eval_init(&oe, v, o) != 0 ||
        period_range_init(&t.years, pbr_add_months(y0, -12 * hist), ntarget + (size_t)hist, 12) != 0)
        goto out;
    t.cells = calloc(t.years.n * t.nsegments + 1, sizeof *t.cells);
    if (t.cells == NULL)
        goto out;
    count_disposals(&oe, &t);
    rc = 0;
    for (size_t k = (size_t)hist; k < t.years.n && rc == 0; k++) {
        for (size_t s = 0; s < t.nsegments && rc == 0; s++)
            rc = emit_disposal_line(&oe, &t, k, s, out);
    }
out:
    free(t.cells);
    period_range_clear(&t.years);
    outcome_eval_clear(&oe);
    return rc;
}

/* ---- all components ---------------------------------------------------------------------------- */

int evaluate_outcomes(const eval_view *v, candidate_lines *out, char *err, size_t errlen)
{
    const pbr_contract *c = v->contract;
    eval_cohort co;
    if (eval_cohort_init(&co, v) != 0)
        return pbr_errf(err, errlen, "evaluate %s: out of memory", c->id);
    int rc = 0;
    /* two passes: a component with a hurdle (5.9.1) after all the others */
    for (size_t k = 0; k < 2 * c->noutcomes && rc == 0; k++) {
        const pbr_outcome *o = &c->outcomes[k % c->noutcomes];
        if ((k < c->noutcomes) == (o->has_hurdle != 0))
            continue;
        switch (o->measure) {
        case PBR_M_BINARY:
        case PBR_M_FREQUENCY: rc = eval_cohort_component(v, o, &co, out); break;
        case PBR_M_CLEAN_PERIOD: rc = eval_clean_component(v, o, &co, out); break;
        case PBR_M_CUSTODY_NIGHTS: rc = eval_custody_component(v, o, out); break;
        case PBR_M_DISPOSALS: rc = eval_disposals_component(v, o, out); break;
        }
    }
    if (rc == 0)
        rc = eval_volume_lines(v, out);
    eval_cohort_clear(&co);
    if (rc != 0)
        return pbr_errf(err, errlen, "evaluate %s: out of memory", c->id);
    return 0;
}

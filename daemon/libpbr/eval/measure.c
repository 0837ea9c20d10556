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

compiled_where *eval_segments_compile(const pbr_outcome *o, const pbr_eventset *ev)
{
    size_t n = o->nsegments ? o->nsegments : 1;
    compiled_where *w = calloc(n, sizeof *w);
    if (w == NULL)
        return NULL;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (o->segments[i].has_where && compiled_where_init(&w[i], &o->segments[i].where, ev) != 0) {
            for (size_t j = 0; j < i; j++)
                compiled_where_clear(&w[j]);
            free(w);
            return NULL;
        }
    }
    return w;
}

void eval_segments_free(compiled_where *w, size_t n)
{
    for (size_t i = 0; w != NULL && i < n; i++)
        compiled_where_clear(&w[i]);
    free(w);
}

int64_t eval_segment_of(const pbr_outcome *o, const compiled_where *segs, const pbr_eventset *ev, const pbr_ev *e)
{
    if (o->nsegments == 0)
        return 0;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (!o->segments[i].has_where || compiled_where_matches(&segs[i], ev, e))
            return (int64_t)i;
    }
    return -1;
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
reoff eval_proven_reoffences(const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev,
                             const pbr_ev *idx, uint64_t max_seq, pbr_date d, proven_fn on_proven, void *ctx)
{
    reoff r = {0, 0, 0};
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, idx->offender, &n);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    pbr_date fu_end = pbr_add_months(idx->date, o->follow_up);
    pbr_date wait_end = pbr_add_months(idx->date, o->follow_up + o->waiting);
    for (size_t i = 0; i < n; i++) {
        const pbr_ev *e = &es[i];
        if (e->type != PBR_EV_CONVICTION || e->date >= wait_end)
            continue;
        if (e->offence_date < idx->date || e->offence_date >= fu_end)
            continue;
        if (!pbr_ev_visible(e, voids, d, max_seq))
            continue;
        if (exclude->n > 0 && compiled_where_matches(exclude, ev, e))
            continue;
        r.reoffender = 1;
        r.f += o->counts_convictions ? 1 : e->offences;
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

/* Builds one binary/frequency line from its accumulator; b is its baseline
 * (computed by the caller). Returns 0 or -1. */
static int emit_cohort_line(candidate_lines *out, const pbr_outcome *o, size_t seg, const cohort_window *w,
                            const cohort_acc *a, int64_t excluded, const mpq_t b)
{
    candidate_line *cl = candidate_lines_push(out);
    if (cl == NULL)
        return -1;
    name_line(
        cl, o, seg,
        &(line_period){.key = w->key, .first = w->from, .final_on = pbr_add_months(w->to, o->follow_up + o->waiting)});
    cl->line.members = a->n;
    cl->line.excluded = excluded;
    cl->line.reoffenders = a->r;
    cl->line.reoffences = a->f;
    metrics m;
    mpq_t actual, denom, amount;
    metrics_init(&m);
    mpq_inits(actual, denom, amount, NULL);
    cohort_actual(o, a, actual, denom);
    improvement(&m, b, actual, denom);
    if (o->pay.has_threshold && o->pay.threshold_metric == PBR_METRIC_SIGNIFICANT)
        m.significant = eval_significant(o->pay.threshold, a->n, actual, b, o->measure);
    show_metrics(&cl->line, &m, actual, b);
    pay_terms terms = {.pay = &o->pay,
                       .segment_price = segment_price(o, seg),
                       .gate = PAY_GATE_OWN,
                       .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    pay_line(&terms, &m, &cl->line, amount);
    mpq_clears(actual, denom, amount, NULL);
    metrics_clear(&m);
    return 0;
}

/* The pooled line of one segment (5.6), given the windows' accumulators and
 * baselines; window_pence is the sum of the segment's window lines; period
 * "pooled" (period_first PBR_DATE_MAX) or a settlement year's label (5.9.2). */
static int emit_pooled_line(candidate_lines *out, const pbr_outcome *o, size_t seg, const cohort_window *w, size_t nw,
                            const cohort_acc *accs, const int64_t *excluded, mpq_t *baselines, int64_t window_pence,
                            const char *period, pbr_date period_first)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    cohort_acc p = {0, 0, 0, 0, 0, 0, 0};
    int64_t ex = 0;
    pbr_date final_on = PBR_DATE_NONE;
    mpq_t bsum, term, denom, b, actual, amount;
    mpq_inits(bsum, term, denom, b, actual, amount, NULL);
    mpq_t pden;
    mpq_init(pden);
    for (size_t i = 0; i < nw; i++) {
        pbr_date f = pbr_add_months(w[i].to, o->follow_up + o->waiting);
        final_on = f > final_on ? f : final_on;
        const cohort_acc *a = &accs[i * nseg + seg];
        ex += excluded[i]; /* every pooled window, those without a line too (ruled 2026-12-02) */
        if (a->n == 0)
            continue;
        p.n += a->n, p.r += a->r, p.f += a->f, p.wn += a->wn, p.wr += a->wr, p.wf += a->wf;
        p.ogrs_sum += a->ogrs_sum;
        mpq_t actual_w;
        mpq_init(actual_w);
        cohort_actual(o, a, actual_w, denom);
        mpq_mul(term, baselines[i * nseg + seg], denom);
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
            name_line(cl, o, seg, &(line_period){.key = period, .first = period_first, .final_on = final_on});
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

/* The pooled lines of segment seg of o: one over every window (5.6), or
 * one per settlement year over the windows whose first day falls in it
 * (over: year, 5.9.2). pence holds each window line's computed pence (0
 * without a line). Returns 0 or -1. */
static int emit_pooled_lines(const pbr_contract *c, candidate_lines *out, const pbr_outcome *o, size_t seg,
                             const cohort_window *w, size_t nw, const cohort_acc *accs, const int64_t *excluded,
                             mpq_t *baselines, const int64_t *pence)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    for (size_t i = 0; i < nw;) {
        pbr_date y = pbr_year_of(w[i].from, c->year_start);
        size_t j = i;
        int64_t sum = 0;
        while (j < nw && (!o->pooled_over_year || pbr_year_of(w[j].from, c->year_start) == y))
            sum += pence[j++ * nseg + seg];
        char label[32] = "pooled";
        if (o->pooled_over_year)
            pbr_year_label(y, c->year_start, label, sizeof label);
        if (emit_pooled_line(out, o, seg, w + i, j - i, accs + i * nseg, excluded + i, baselines + i * nseg, sum, label,
                             o->pooled_over_year ? y : PBR_DATE_MAX) != 0)
            return -1;
        i = j;
    }
    return 0;
}

/* Binary and frequency lines (and pooled) of component o. A frequency
 * component with a hurdle (5.9.1) reads the hurdle's lines from out, so the
 * hurdle is evaluated first. Returns 0 or -1. */
static int eval_cohort_component(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                                 pbr_date d, const cohort_window *w, size_t nw, const member *m, size_t nm,
                                 candidate_lines *out)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    const pbr_outcome *hurdle = o->has_hurdle ? &c->outcomes[o->hurdle] : NULL;
    int rc = -1;
    compiled_where exclude = {NULL, 0};
    compiled_where *segs = eval_segments_compile(o, ev);
    cohort_acc *accs = calloc(nw * nseg + 1, sizeof *accs);
    int64_t *excluded = calloc(nw + 1, sizeof *excluded);
    int64_t *pence = calloc(nw * nseg + 1, sizeof *pence);
    mpq_t *baselines = calloc(nw * nseg + 1, sizeof *baselines);
    if (segs == NULL || accs == NULL || excluded == NULL || pence == NULL || baselines == NULL ||
        compiled_where_init(&exclude, &o->exclude, ev) != 0)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        const pbr_ev *idx = m[i].index;
        int64_t seg = eval_segment_of(o, segs, ev, idx);
        if (seg < 0 || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0)) {
            excluded[m[i].window]++;
            continue;
        }
        assert(m[i].window < nw && (size_t)seg < nseg);
        reoff r = eval_proven_reoffences(o, &exclude, ev, idx, max_seq, d, NULL, NULL);
        int64_t wt = o->pay.weight_ogrs ? idx->ogrs : 1;
        cohort_acc *a = &accs[m[i].window * nseg + (size_t)seg];
        a->n++;
        a->wn += wt;
        a->ogrs_sum += idx->ogrs > 0 ? idx->ogrs : 0;
        if (r.reoffender) {
            a->r++;
            a->wr += wt;
            a->f += r.f;
            a->wf += wt * r.f;
        }
    }
    for (size_t i = 0; i < nw * nseg; i++)
        mpq_init(baselines[i]);
    for (size_t s = 0; s < nseg; s++) {
        for (size_t i = 0; i < nw; i++) {
            cohort_acc *a = &accs[i * nseg + s];
            if (a->n == 0)
                continue;
            int hurdle_met = 1;
            if (hurdle != NULL) {
                const candidate_line *h =
                    eval_hurdle_line(out, hurdle, w[i].key, o->nsegments ? o->segments[s].name : NULL);
                if (h == NULL) { /* no hurdle line: no line, and nothing to pool */
                    memset(a, 0, sizeof *a);
                    continue;
                }
                hurdle_met = h->line.threshold_met != 0;
            }
            cohort_baseline(segment_baseline(o, s), w[i].key, a, baselines[i * nseg + s]);
            if (emit_cohort_line(out, o, s, &w[i], a, excluded[i], baselines[i * nseg + s]) != 0)
                goto clear;
            if (!hurdle_met)
                eval_hurdle_missed(o, &out->v[out->n - 1].line);
            pence[i * nseg + s] = out->v[out->n - 1].line.computed_pence;
        }
        if (o->has_pooled && emit_pooled_lines(c, out, o, s, w, nw, accs, excluded, baselines, pence) != 0)
            goto clear;
    }
    rc = 0;
clear:
    for (size_t i = 0; i < nw * nseg; i++)
        mpq_clear(baselines[i]);
out:
    compiled_where_clear(&exclude);
    if (segs != NULL)
        eval_segments_free(segs, o->nsegments);
    free(baselines);
    free(pence);
    free(excluded);
    free(accs);
    return rc;
}

/* ---- clean_period ------------------------------------------------------------------- */

int eval_clean_clock(const pbr_contract *c, const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev,
                     const pbr_ev *idx, uint64_t max_seq, pbr_date d, clean_restart_fn on_restart, void *ctx,
                     pbr_date *clock_out, pbr_date *f_date)
{
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, idx->offender, &n);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
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
            if ((earliest != NULL && e->offence_date >= earliest->offence_date) ||
                !pbr_ev_visible(e, voids, d, max_seq))
                continue;
            if (exclude->n > 0 && compiled_where_matches(exclude, ev, e))
                continue;
            earliest = e;
        }
        if (earliest == NULL) {
            *clock_out = clock;
            *f_date = f;
            return 1;
        }
        if (earliest->offence_date > c->end)
            return 0;
        if (on_restart != NULL && on_restart(ctx, earliest) != 0)
            return -1;
        clock = earliest->offence_date;
        first = 0;
    }
}

/* Runs the clean-period clock for one member (5.3). Returns 1 and *f_date
 * (the success date F) on success, 0 when the member never succeeds. */
static int clean_success(const pbr_contract *c, const pbr_outcome *o, const compiled_where *exclude,
                         const pbr_eventset *ev, const pbr_ev *idx, uint64_t max_seq, pbr_date d, pbr_date *f_date)
{
    pbr_date clock;
    return eval_clean_clock(c, o, exclude, ev, idx, max_seq, d, NULL, NULL, &clock, f_date) == 1;
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

static int emit_clean_lines(const pbr_contract *c, const pbr_outcome *o, clean_acc *v, size_t n, candidate_lines *out)
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
        i = j - 1;
    }
    (void)c;
    mpq_clears(amount, w, NULL);
    return rc;
}

static int eval_clean_component(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                                pbr_date d, const member *m, size_t nm, candidate_lines *out)
{
    int rc = -1;
    compiled_where exclude = {NULL, 0};
    compiled_where *segs = eval_segments_compile(o, ev);
    clean_acc *v = malloc((nm ? nm : 1) * sizeof *v);
    size_t nv = 0;
    if (segs == NULL || v == NULL || compiled_where_init(&exclude, &o->exclude, ev) != 0)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        const pbr_ev *idx = m[i].index;
        int64_t seg = eval_segment_of(o, segs, ev, idx);
        if (seg < 0 || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0))
            continue;
        pbr_date f;
        if (!clean_success(c, o, &exclude, ev, idx, max_seq, d, &f))
            continue;
        v[nv].quarter = pbr_quarter_of(f, c->year_start);
        v[nv].seg = (size_t)seg;
        v[nv].successes = 1;
        v[nv].weight = o->pay.weight_ogrs ? idx->ogrs : 1;
        nv++;
    }
    rc = emit_clean_lines(c, o, v, nv, out);
out:
    compiled_where_clear(&exclude);
    if (segs != NULL)
        eval_segments_free(segs, o->nsegments);
    free(v);
    return rc;
}

/* ---- custody_nights --------------------------------------------------------------------- */

/* Quarter k of a range starting at q0: q0 + 3k months. */
typedef struct qrange {
    pbr_date first;   /* first quarter of the range (history included) */
    size_t n;         /* quarters */
    pbr_date *starts; /* n + 1 boundaries */
} qrange;

static int qrange_init(qrange *r, pbr_date first, size_t n, int months)
{
    r->first = first;
    r->n = n;
    r->starts = malloc((n + 1) * sizeof *r->starts);
    if (r->starts == NULL)
        return -1;
    for (size_t k = 0; k <= n; k++)
        r->starts[k] = pbr_add_months(first, (int)k * months);
    return 0;
}

/* Index of the period containing d, or -1 outside the range. */
static int64_t qrange_find(const qrange *r, pbr_date d)
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

typedef struct nights_acc {
    int64_t nights;
    int64_t spells;
} nights_acc;

/* Adds one spell [from, to) to the per-quarter nights of segment seg. */
static void add_spell(const qrange *r, nights_acc *acc, size_t nseg, size_t seg, pbr_date from, pbr_date to)
{
    assert(seg < nseg);
    pbr_date lo = from > r->starts[0] ? from : r->starts[0];
    pbr_date hi = to < r->starts[r->n] ? to : r->starts[r->n];
    if (lo >= hi)
        return;
    for (int64_t k = qrange_find(r, lo); k >= 0 && (size_t)k < r->n && r->starts[k] < hi; k++) {
        pbr_date a = lo > r->starts[k] ? lo : r->starts[k];
        pbr_date b = hi < r->starts[k + 1] ? hi : r->starts[k + 1];
        if (b > a) {
            acc[(size_t)k * nseg + seg].nights += b - a;
            acc[(size_t)k * nseg + seg].spells++;
        }
    }
}

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

int eval_custody_spells(const pbr_eventset *ev, const pbr_ev *es, size_t n, uint64_t max_seq, pbr_date d,
                        custody_spell_fn fn, void *ctx)
{
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    const pbr_ev *open = NULL;
    size_t next = 0, grp = 0;
    int pass = 0;
    for (size_t step = 0; step <= n; step++) {
        size_t at = n > 0 ? custody_step(es, n, &next, &grp, &pass) : n;
        const pbr_ev *e = at < n ? &es[at] : NULL;
        if (e != NULL && e->type != PBR_EV_RECEPTION && e->type != PBR_EV_DISCHARGE)
            continue;
        if (e != NULL && !pbr_ev_visible(e, voids, d, max_seq))
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

typedef struct spell_nights {
    const pbr_outcome *o;
    const compiled_where *where, *segs;
    const pbr_eventset *ev;
    const qrange *r;
    nights_acc *acc;
} spell_nights;

/* custody_spell_fn: adds a spell whose reception matches to its segment's
 * nights per quarter. */
static int add_spell_nights(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to)
{
    const spell_nights *sn = ctx;
    (void)discharge;
    if (compiled_where_matches(sn->where, sn->ev, reception)) {
        int64_t seg = eval_segment_of(sn->o, sn->segs, sn->ev, reception);
        if (seg >= 0)
            add_spell(sn->r, sn->acc, sn->o->nsegments ? sn->o->nsegments : 1, (size_t)seg, reception->date, to);
    }
    return 0;
}

/* Walks one offender's receptions and discharges (visible as of d) into
 * spells, adding those whose reception matches. */
static void offender_spells(const pbr_outcome *o, const compiled_where *where, const compiled_where *segs,
                            const pbr_eventset *ev, const pbr_ev *es, size_t n, uint64_t max_seq, pbr_date d,
                            const qrange *r, nights_acc *acc)
{
    spell_nights sn = {o, where, segs, ev, r, acc};
    eval_custody_spells(ev, es, n, max_seq, d, add_spell_nights, &sn);
}

/* Walks every offender's receptions and discharges, read through the
 * event set's type index (the two position lists merged, so in (offender,
 * date, id) order) and copied per offender into one contiguous run for
 * offender_spells; offenders without any add nothing, as in a walk over
 * every offender. Returns 0 or -1 (out of memory). */
static int custody_walk(const pbr_outcome *o, const compiled_where *where, const compiled_where *segs,
                        const pbr_eventset *ev, uint64_t max_seq, pbr_date d, const qrange *r, nights_acc *acc)
{
    size_t nall, nr, nd, i = 0, j = 0, nb = 0, cap = 0;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const uint32_t *rp = pbr_eventset_of_type(ev, PBR_EV_RECEPTION, &nr);
    const uint32_t *dp = pbr_eventset_of_type(ev, PBR_EV_DISCHARGE, &nd);
    pbr_ev *run = NULL;
    while (i < nr || j < nd) {
        uint32_t p = j >= nd || (i < nr && rp[i] < dp[j]) ? rp[i++] : dp[j++];
        if (nb > 0 && all[p].offender != run[nb - 1].offender) {
            offender_spells(o, where, segs, ev, run, nb, max_seq, d, r, acc);
            nb = 0;
        }
        if (pbr_grow((void **)&run, &cap, nb + 1, sizeof *run) != 0) {
            free(run);
            return -1;
        }
        run[nb++] = all[p];
    }
    if (nb > 0)
        offender_spells(o, where, segs, ev, run, nb, max_seq, d, r, acc);
    free(run);
    return 0;
}

/* The baseline of a custody or disposals period k (index into the range,
 * history starting hist quarters/years back) into b. per_year is the number
 * of range steps in a year (4 for quarters, 1 for years). */
static void history_mean(const nights_acc *acc, size_t nseg, size_t seg, size_t k, int years, size_t per_year, mpq_t b)
{
    int64_t sum = 0;
    assert(seg < nseg && years >= 0 && k >= (size_t)years * per_year); /* history lies inside the range */
    for (int y = 1; y <= years; y++)
        sum += acc[(k - (size_t)y * per_year) * nseg + seg].nights;
    set_ratio(b, sum, years);
}

static int emit_custody_lines(const pbr_contract *c, const pbr_outcome *o, const qrange *r, size_t first_target,
                              const nights_acc *acc, candidate_lines *out)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    metrics m;
    mpq_t b, actual, one, amount;
    metrics_init(&m);
    m.has_points = 0;
    mpq_inits(b, actual, one, amount, NULL);
    mpq_set_ui(one, 1, 1);
    int rc = 0;
    for (size_t k = first_target; k < r->n && rc == 0; k++) {
        for (size_t s = 0; s < nseg; s++) {
            const pbr_baseline *bl = segment_baseline(o, s);
            const nights_acc *a = &acc[k * nseg + s];
            if (bl->kind == PBR_BL_HISTORY)
                history_mean(acc, nseg, s, k, bl->history_years, 4, b);
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
    (void)c;
    mpq_clears(b, actual, one, amount, NULL);
    metrics_clear(&m);
    return rc;
}

static int eval_custody_component(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                                  pbr_date d, candidate_lines *out)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    int hist = history_years(o);
    pbr_date q0 = pbr_quarter_of(c->start, c->year_start);
    pbr_date qn = pbr_quarter_of(c->end, c->year_start);
    size_t ntarget = 0;
    for (pbr_date q = q0; q <= qn; q = pbr_add_months(q, 3))
        ntarget++;
    qrange r = {0, 0, NULL};
    int rc = -1;
    compiled_where where = {NULL, 0};
    compiled_where *segs = eval_segments_compile(o, ev);
    nights_acc *acc = NULL;
    if (segs == NULL || compiled_where_init(&where, &o->where, ev) != 0 ||
        qrange_init(&r, pbr_add_months(q0, -12 * hist), ntarget + 4 * (size_t)hist, 3) != 0)
        goto out;
    acc = calloc(r.n * nseg + 1, sizeof *acc);
    if (acc == NULL)
        goto out;
    if (custody_walk(o, &where, segs, ev, max_seq, d, &r, acc) != 0)
        goto out;
    rc = emit_custody_lines(c, o, &r, 4 * (size_t)hist, acc, out);
out:
    free(acc);
    free(r.starts);
    compiled_where_clear(&where);
    if (segs != NULL)
        eval_segments_free(segs, o->nsegments);
    return rc;
}

/* ---- disposals ----------------------------------------------------------------------------- */

typedef struct disp_acc {
    int64_t count[PBR_DISP_COUNT];
} disp_acc;

static void disposal_baseline(const pbr_outcome *o, const pbr_baseline *bl, const disp_acc *acc, size_t nseg,
                              size_t seg, size_t k, mpq_t bk[PBR_DISP_COUNT])
{
    for (int kind = 0; kind < PBR_DISP_COUNT; kind++) {
        mpq_set_ui(bk[kind], 0, 1);
        if (!o->pay.has_kind_price[kind])
            continue;
        if (bl->kind == PBR_BL_COUNTS) {
            if (bl->has_count[kind])
                mpq_set(bk[kind], bl->counts[kind]);
        } else if (bl->kind == PBR_BL_HISTORY) {
            int64_t sum = 0;
            for (int y = 1; y <= bl->history_years; y++)
                sum += acc[(k - (size_t)y) * nseg + seg].count[kind];
            set_ratio(bk[kind], sum, bl->history_years);
        }
    }
}

static int emit_disposal_line(const pbr_contract *c, const pbr_outcome *o, const qrange *r, size_t k, size_t seg,
                              const disp_acc *acc, candidate_lines *out)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    mpq_t bk[PBR_DISP_COUNT], actual, base, term, amount;
    for (int i = 0; i < PBR_DISP_COUNT; i++)
        mpq_init(bk[i]);
    mpq_inits(actual, base, term, amount, NULL);
    disposal_baseline(o, segment_baseline(o, seg), acc, nseg, seg, k, bk);
    int64_t members = 0;
    for (int kind = 0; kind < PBR_DISP_COUNT; kind++) {
        if (!o->pay.has_kind_price[kind])
            continue;
        int64_t a = acc[k * nseg + seg].count[kind];
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
        pbr_year_label(r->starts[k], c->year_start, key, sizeof key);
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

static int eval_disposals_component(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev,
                                    uint64_t max_seq, pbr_date d, candidate_lines *out)
{
    size_t nseg = o->nsegments ? o->nsegments : 1;
    int hist = history_years(o);
    pbr_date y0 = pbr_year_of(c->start, c->year_start), yn = pbr_year_of(c->end, c->year_start);
    size_t ntarget = 0;
    for (pbr_date y = y0; y <= yn; y = pbr_add_months(y, 12))
        ntarget++;
    qrange r = {0, 0, NULL};
    int rc = -1;
    compiled_where where = {NULL, 0}, exclude = {NULL, 0};
    compiled_where *segs = eval_segments_compile(o, ev);
    disp_acc *acc = NULL;
    if (segs == NULL || compiled_where_init(&where, &o->where, ev) != 0 ||
        compiled_where_init(&exclude, &o->exclude, ev) != 0 ||
        qrange_init(&r, pbr_add_months(y0, -12 * hist), ntarget + (size_t)hist, 12) != 0)
        goto out;
    acc = calloc(r.n * nseg + 1, sizeof *acc);
    if (acc == NULL)
        goto out;
    size_t nall, nconv;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const uint32_t *conv = pbr_eventset_of_type(ev, PBR_EV_CONVICTION, &nconv);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    for (size_t i = 0; i < nconv; i++) {
        const pbr_ev *e = &all[conv[i]];
        if (!pbr_ev_visible(e, voids, d, max_seq))
            continue;
        int64_t k = qrange_find(&r, e->date);
        if (k < 0 || !compiled_where_matches(&where, ev, e) ||
            (exclude.n > 0 && compiled_where_matches(&exclude, ev, e)))
            continue;
        int64_t seg = eval_segment_of(o, segs, ev, e);
        if (seg >= 0)
            acc[(size_t)k * nseg + (size_t)seg].count[e->disposal]++;
    }
    rc = 0;
    for (size_t k = (size_t)hist; k < r.n && rc == 0; k++) {
        for (size_t s = 0; s < nseg && rc == 0; s++)
            rc = emit_disposal_line(c, o, &r, k, s, acc, out);
    }
out:
    free(acc);
    free(r.starts);
    compiled_where_clear(&where);
    compiled_where_clear(&exclude);
    if (segs != NULL)
        eval_segments_free(segs, o->nsegments);
    return rc;
}

/* ---- all components ---------------------------------------------------------------------------- */

int evaluate_outcomes(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, candidate_lines *out,
                      char *err, size_t errlen)
{
    size_t nw = 0, nm = 0;
    cohort_window *w = cohort_windows(c, &nw);
    member *m = NULL;
    int rc = -1;
    if (c->has_cohort && w == NULL)
        goto oom;
    if (c->has_cohort && cohort_members(c, ev, max_seq, d, w, nw, &m, &nm) != 0)
        goto oom;
    /* two passes: a component with a hurdle (5.9.1) after all the others */
    for (size_t k = 0; k < 2 * c->noutcomes; k++) {
        const pbr_outcome *o = &c->outcomes[k % c->noutcomes];
        if ((k < c->noutcomes) == (o->has_hurdle != 0))
            continue;
        switch (o->measure) {
        case PBR_M_BINARY:
        case PBR_M_FREQUENCY: rc = eval_cohort_component(c, o, ev, max_seq, d, w, nw, m, nm, out); break;
        case PBR_M_CLEAN_PERIOD: rc = eval_clean_component(c, o, ev, max_seq, d, m, nm, out); break;
        case PBR_M_CUSTODY_NIGHTS: rc = eval_custody_component(c, o, ev, max_seq, d, out); break;
        case PBR_M_DISPOSALS: rc = eval_disposals_component(c, o, ev, max_seq, d, out); break;
        }
        if (rc != 0)
            goto oom;
    }
    if (eval_volume_lines(c, ev, max_seq, d, out) != 0)
        goto oom;
    free(m);
    free(w);
    return 0;
oom:
    free(m);
    free(w);
    return pbr_errf(err, errlen, "evaluate %s: out of memory", c->id);
}

/* explain.c -- the rows behind one outcome line (explain.h): members and
 * their counted convictions, clean-period successes, custody spells,
 * disposals. Mirrors measure.c's selection rule for rule (segments, OGRS
 * exclusion, visibility, exclude, windows) without changing it; the Check
 * test test_tools/explain_sums compares every line of every scheme
 * contract with the rows derived here, so the two cannot drift apart
 * unnoticed. Pure: reads only the contract and the event set.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/explain.h"
#include "pbr/err.h"
#include "pbr/mem.h"

#include "eval.h"

void pbr_explanation_clear(pbr_explanation *x)
{
    for (size_t i = 0; i < x->nrows; i++)
        free(x->rows[i].convictions);
    free(x->rows);
    free(x->left_out);
    memset(x, 0, sizeof *x);
}

/* Which list of an explanation a row goes to. */
typedef enum row_list {
    ROW_COUNTED,  /* rows: what the line counts */
    ROW_LEFT_OUT, /* left_out: members the line leaves out, with a reason */
} row_list;

/* Appends a zeroed row to list. Returns it, or NULL when out of memory. */
static pbr_xrow *push_row(pbr_explanation *x, row_list list)
{
    int left = list == ROW_LEFT_OUT;
    pbr_xrow **v = left ? &x->left_out : &x->rows;
    size_t *n = left ? &x->nleft : &x->nrows, *cap = left ? &x->capleft : &x->caprows;
    if (pbr_grow((void **)v, cap, *n + 1, sizeof **v) != 0)
        return NULL;
    pbr_xrow *r = &(*v)[(*n)++];
    memset(r, 0, sizeof *r);
    r->segment = -1;
    r->weight = 10000;
    return r;
}

/* Appends e to the row's convictions. Returns 0 or -1. */
static int add_conviction(pbr_xrow *r, const pbr_ev *e)
{
    const pbr_ev **nv = realloc(r->convictions, (r->nconvictions + 1) * sizeof *nv);
    if (nv == NULL)
        return -1;
    r->convictions = nv;
    r->convictions[r->nconvictions++] = e;
    return 0;
}

/* The target segment's index: 0 without segments; -2 when the name is not
 * one of the component's (or given for a component without segments). */
static int64_t target_segment(const pbr_outcome *o, const char *segment)
{
    if (o->nsegments == 0)
        return segment == NULL ? 0 : -2;
    for (size_t i = 0; segment != NULL && i < o->nsegments; i++) {
        if (strcmp(o->segments[i].name, segment) == 0)
            return (int64_t)i;
    }
    return -2;
}

/* The line explained: its period key, that key as a quarter's first day
 * (PBR_DATE_NONE when it is not a date) and its segment's index. */
typedef struct line_target {
    const char *period;
    pbr_date quarter;
    int64_t segment;
} line_target;

/* ---- binary and frequency ------------------------------------------------------------ */

/* proven_fn: records a proven reoffence on the row. */
static int record_conviction(void *ctx, const pbr_ev *conviction)
{
    return add_conviction(ctx, conviction);
}

/* Fills a member row: the proven reoffences of 5.3 (measure.c's
 * eval_proven_reoffences), with the convictions counted. Returns 0 or -1. */
static int member_row(const outcome_eval *oe, const pbr_ev *idx, pbr_xrow *r)
{
    reoffence_count p = eval_proven_reoffences(oe, idx, record_conviction, r);
    r->reoffender = p.reoffender;
    r->reoffences += p.reoffences;
    return p.failed ? -1 : 0;
}

/* Is window w one of the line's? period: the window's key, "pooled" (every
 * window, 5.6) or a settlement year's label (pooled over: year, 5.9.2: the
 * windows whose first day falls in that year). */
static int window_in_line(const pbr_contract *c, const pbr_outcome *o, const cohort_window *w, const char *period)
{
    if (strcmp(w->key, period) == 0)
        return 1;
    if (!o->has_pooled)
        return 0;
    if (!o->pooled_over_year)
        return strcmp(period, "pooled") == 0;
    char label[32];
    pbr_year_label(pbr_year_of(w->from, c->year_start), c->year_start, label, sizeof label);
    return strcmp(label, period) == 0;
}

/* Marks in has[] the windows of co in which the hurdle h has members in
 * the segment named segname (a hurdle's line exists, 5.9.1). Returns 0 or
 * -1. */
static int windows_with_members(const eval_view *v, const pbr_outcome *h, const char *segname, const eval_cohort *co,
                                unsigned char *has)
{
    outcome_eval he;
    int rc = outcome_eval_init(&he, v, h);
    int64_t target = target_segment(h, segname);
    for (size_t i = 0; rc == 0 && i < co->nmembers; i++) {
        const cohort_member *m = &co->members[i];
        int64_t seg = eval_segment_of(&he, m->index);
        assert(m->window < co->nwindows);
        if (seg >= 0 && seg == target && !(eval_needs_ogrs(h, (size_t)seg) && m->index->ogrs < 0))
            has[m->window] = 1;
    }
    outcome_eval_clear(&he);
    return rc;
}

/* Members of the windows of the line (window_in_line); a component with a
 * hurdle counts only the windows where the hurdle has a line, as
 * measure.c does. Left out: every member of those windows that no segment
 * takes or that lacks the OGRS it needs (pooled: of every pooled window,
 * ruled 2026-12-02). */
static int explain_cohort(const eval_view *v, const pbr_outcome *o, const line_target *t, pbr_explanation *x)
{
    const pbr_contract *c = v->contract;
    eval_cohort co;
    outcome_eval oe;
    unsigned char *in = NULL, *hurdled = NULL;
    int rc = -1;
    int cohort_rc = eval_cohort_init(&co, v);
    if (outcome_eval_init(&oe, v, o) != 0 || cohort_rc != 0)
        goto out;
    in = calloc(co.nwindows, 1);
    hurdled = calloc(co.nwindows, 1);
    if (in == NULL || hurdled == NULL)
        goto out;
    for (size_t i = 0; i < co.nwindows; i++)
        in[i] = window_in_line(c, o, &co.windows[i], t->period);
    if (o->has_hurdle) {
        const char *segname = o->nsegments ? o->segments[t->segment].name : NULL;
        if (windows_with_members(v, &c->outcomes[o->hurdle], segname, &co, hurdled) != 0)
            goto out;
    } else {
        memset(hurdled, 1, co.nwindows);
    }
    for (size_t i = 0; i < co.nmembers; i++) {
        const cohort_member *m = &co.members[i];
        const pbr_ev *idx = m->index;
        assert(m->window < co.nwindows);
        if (!in[m->window])
            continue;
        int64_t seg = eval_segment_of(&oe, idx);
        const char *why = seg < 0                              ? "no segment matched"
            : eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0 ? "ogrs missing"
                                                               : NULL;
        if (why == NULL && (seg != t->segment || !hurdled[m->window]))
            continue;
        pbr_xrow *r = push_row(x, why != NULL ? ROW_LEFT_OUT : ROW_COUNTED);
        if (r == NULL)
            goto out;
        r->event = idx;
        r->reason = why;
        r->segment = o->nsegments ? seg : -1;
        snprintf(r->window, sizeof r->window, "%s", co.windows[m->window].key);
        if (why != NULL)
            continue;
        r->weight = o->pay.weight_ogrs ? idx->ogrs : 10000;
        if (member_row(&oe, idx, r) != 0)
            goto out;
    }
    rc = 0;
out:
    free(hurdled);
    free(in);
    outcome_eval_clear(&oe);
    eval_cohort_clear(&co);
    return rc;
}

/* ---- clean_period -------------------------------------------------------------------------- */

/* clean_restart_fn: records a restarting conviction on the row. */
static int record_restart(void *ctx, const pbr_ev *conviction)
{
    return add_conviction(ctx, conviction);
}

/* The clean-period clock of one member (measure.c's eval_clean_clock), recording
 * each restarting conviction on r. Returns 1 on success (clock and
 * success_on set), 0 when the member never succeeds, -1 when out of
 * memory. */
static int clean_row(const outcome_eval *oe, const pbr_ev *idx, pbr_xrow *r)
{
    clean_clock clock;
    int rc = eval_clean_clock(oe, idx, record_restart, r, &clock);
    if (rc == 1) {
        r->clock = clock.clock;
        r->success_on = clock.success_on;
    }
    return rc;
}

/* Members of the target segment whose clean period succeeds in the
 * target's quarter. Returns 0 or -1. */
static int explain_clean(const eval_view *v, const pbr_outcome *o, const line_target *t, pbr_explanation *x)
{
    eval_cohort co;
    outcome_eval oe;
    int rc = -1;
    int cohort_rc = eval_cohort_init(&co, v);
    if (outcome_eval_init(&oe, v, o) != 0 || cohort_rc != 0)
        goto out;
    for (size_t i = 0; i < co.nmembers; i++) {
        const cohort_member *m = &co.members[i];
        const pbr_ev *idx = m->index;
        int64_t seg = eval_segment_of(&oe, idx);
        if (seg != t->segment || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0))
            continue;
        pbr_xrow row;
        memset(&row, 0, sizeof row);
        int ok = clean_row(&oe, idx, &row);
        if (ok < 0) {
            free(row.convictions);
            goto out;
        }
        if (ok == 0 || pbr_quarter_of(row.success_on, v->contract->year_start) != t->quarter) {
            free(row.convictions);
            continue;
        }
        pbr_xrow *r = push_row(x, ROW_COUNTED);
        if (r == NULL) {
            free(row.convictions);
            goto out;
        }
        *r = row;
        r->event = idx;
        r->segment = o->nsegments ? seg : -1;
        r->weight = o->pay.weight_ogrs ? idx->ogrs : 10000;
        assert(m->window < co.nwindows);
        snprintf(r->window, sizeof r->window, "%s", co.windows[m->window].key);
    }
    rc = 0;
out:
    outcome_eval_clear(&oe);
    eval_cohort_clear(&co);
    return rc;
}

/* ---- custody_nights ------------------------------------------------------------------------- */

/* The rows of a custody line: spells with nights in [q, qnext) whose
 * reception matches the component's where and the target segment. */
typedef struct spell_rows {
    const outcome_eval *oe;
    pbr_date q, qnext;
    int64_t target;
    pbr_explanation *x;
} spell_rows;

/* custody_spell_fn: a row for a spell of the line. Returns 0 or -1. */
static int add_spell_row(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to)
{
    const spell_rows *sr = ctx;
    pbr_date lo = reception->date > sr->q ? reception->date : sr->q, hi = to < sr->qnext ? to : sr->qnext;
    if (hi <= lo || !compiled_where_matches(&sr->oe->where, sr->oe->view->events, reception) ||
        eval_segment_of(sr->oe, reception) != sr->target)
        return 0;
    pbr_xrow *r = push_row(sr->x, ROW_COUNTED);
    if (r == NULL)
        return -1;
    r->event = reception;
    r->end = discharge;
    r->segment = sr->oe->outcome->nsegments ? sr->target : -1;
    r->nights = hi - lo;
    return 0;
}

/* One offender's spells (measure.c's eval_custody_spells) that are rows of
 * the line. Returns 0 or -1. */
static int offender_spell_rows(const spell_rows *sr, uint32_t offender)
{
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(sr->oe->view->events, offender, &n);
    return eval_custody_spells(sr->oe->view, es, n, add_spell_row, (void *)sr) == 0 ? 0 : -1;
}

static int explain_custody(const eval_view *v, const pbr_outcome *o, const line_target *t, pbr_explanation *x)
{
    outcome_eval oe;
    int rc = -1;
    if (outcome_eval_init(&oe, v, o) != 0)
        goto out;
    spell_rows sr = {&oe, t->quarter, pbr_add_months(t->quarter, 3), t->segment, x};
    for (uint32_t off = 0; off < pbr_eventset_offenders(v->events); off++) {
        if (offender_spell_rows(&sr, off) != 0)
            goto out;
    }
    rc = 0;
out:
    outcome_eval_clear(&oe);
    return rc;
}

/* ---- disposals ------------------------------------------------------------------------------ */

/* The convictions a disposals line counts: visible, of a priced kind,
 * dated in the line's settlement year, matching where, not exclude, in the
 * target segment. Returns 0 or -1. */
static int explain_disposals(const eval_view *v, const pbr_outcome *o, const line_target *t, pbr_explanation *x)
{
    const pbr_contract *c = v->contract;
    outcome_eval oe;
    int rc = -1;
    if (outcome_eval_init(&oe, v, o) != 0)
        goto out;
    size_t nall;
    const pbr_ev *all = pbr_eventset_all(v->events, &nall);
    for (size_t i = 0; i < nall; i++) {
        const pbr_ev *e = &all[i];
        if (e->type != PBR_EV_CONVICTION || !o->pay.has_kind_price[e->disposal] || !eval_visible(v, e))
            continue;
        char label[32];
        pbr_year_label(pbr_year_of(e->date, c->year_start), c->year_start, label, sizeof label);
        if (strcmp(label, t->period) != 0 || !compiled_where_matches(&oe.where, v->events, e) ||
            (oe.exclude.n > 0 && compiled_where_matches(&oe.exclude, v->events, e)) ||
            eval_segment_of(&oe, e) != t->segment)
            continue;
        pbr_xrow *r = push_row(x, ROW_COUNTED);
        if (r == NULL)
            goto out;
        r->event = e;
        r->segment = o->nsegments ? t->segment : -1;
    }
    rc = 0;
out:
    outcome_eval_clear(&oe);
    return rc;
}

/* ---- volume fee lines (5.9.4) ------------------------------------------------------------ */

/* The index events a volume line counts: visible, of the fee's type,
 * matching its where, dated in the settlement year labelled `year` (every
 * event, as mechanism.c counts them). Returns 0 or -1. */
static int explain_volume(const eval_view *v, const pbr_fee *f, const char *year, pbr_explanation *x)
{
    const pbr_contract *c = v->contract;
    compiled_where w = {NULL, 0};
    if (compiled_where_init(&w, &f->volume_where, v->events) != 0)
        return -1;
    size_t nall;
    const pbr_ev *all = pbr_eventset_all(v->events, &nall);
    int rc = 0;
    for (size_t i = 0; i < nall && rc == 0; i++) {
        const pbr_ev *e = &all[i];
        if (e->type != f->volume_index || !eval_visible(v, e) || (w.n > 0 && !compiled_where_matches(&w, v->events, e)))
            continue;
        char label[32];
        pbr_year_label(pbr_year_of(e->date, c->year_start), c->year_start, label, sizeof label);
        if (strcmp(label, year) != 0)
            continue;
        pbr_xrow *r = push_row(x, ROW_COUNTED);
        if (r == NULL)
            rc = -1;
        else
            r->event = e;
    }
    compiled_where_clear(&w);
    return rc;
}

/* The fee of a volume line of fee `component` (period "LABEL-volume"),
 * with the year label copied to year[0, n); NULL when the line is not
 * one. */
static const pbr_fee *volume_fee_of(const pbr_contract *c, const char *component, const char *period, char *year,
                                    size_t n)
{
    size_t len = strlen(period);
    if (len <= 7 || strcmp(period + len - 7, "-volume") != 0 || len - 7 >= n)
        return NULL;
    for (size_t i = 0; i < c->nfees; i++) {
        if (c->fees[i].has_volume && strcmp(c->fees[i].id, component) == 0) {
            snprintf(year, n, "%.*s", (int)(len - 7), period);
            return &c->fees[i];
        }
    }
    return NULL;
}

int pbr_explain_line(const pbr_eval_view *pv, const pbr_line_key *k, pbr_explanation *out, char *err, size_t errlen)
{
    const pbr_contract *c = pv->contract;
    const char *component = k->component, *period = k->period, *segment = k->segment;
    memset(out, 0, sizeof *out);
    eval_view v;
    eval_view_init(&v, c, pv->events, pv->events_through, pv->as_of);
    const pbr_outcome *o = NULL;
    for (size_t i = 0; i < c->noutcomes && o == NULL; i++) {
        if (strcmp(c->outcomes[i].id, component) == 0)
            o = &c->outcomes[i];
    }
    char year[32];
    const pbr_fee *fee = o == NULL ? volume_fee_of(c, component, period, year, sizeof year) : NULL;
    if (fee != NULL) {
        out->fee = fee;
        if (explain_volume(&v, fee, year, out) != 0) {
            pbr_explanation_clear(out);
            return pbr_errf(err, errlen, "explain %s %s: out of memory", c->id, component);
        }
        return 0;
    }
    if (o == NULL)
        return 1;
    out->outcome = o;
    line_target t = {.period = period, .quarter = PBR_DATE_NONE, .segment = target_segment(o, segment)};
    if (t.segment == -2)
        return 0; /* no such segment: no rows */
    int is_date = pbr_date_parse(period, strlen(period), &t.quarter) == 0;
    int rc = 0;
    switch (o->measure) {
    case PBR_M_BINARY:
    case PBR_M_FREQUENCY: rc = c->has_cohort ? explain_cohort(&v, o, &t, out) : 0; break;
    case PBR_M_CLEAN_PERIOD: rc = c->has_cohort && is_date ? explain_clean(&v, o, &t, out) : 0; break;
    case PBR_M_CUSTODY_NIGHTS: rc = is_date ? explain_custody(&v, o, &t, out) : 0; break;
    case PBR_M_DISPOSALS: rc = explain_disposals(&v, o, &t, out); break;
    }
    if (rc != 0) {
        pbr_explanation_clear(out);
        return pbr_errf(err, errlen, "explain %s %s: out of memory", c->id, component);
    }
    return 0;
}

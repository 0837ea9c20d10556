/* explain.c -- the rows behind one outcome line (explain.h): members and
 * their counted convictions, clean-period successes, custody spells,
 * disposals. Mirrors measure.c's selection rule for rule (segments, OGRS
 * exclusion, visibility, exclude, windows) without changing it; the Check
 * test test_tools/explain_sums compares every line of every scheme
 * contract with the rows derived here, so the two cannot drift apart
 * unnoticed. Pure: reads only the contract and the event set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/explain.h"
#include "pbr/err.h"
#include "pbr/mem.h"

#include "eval.h"

void pbr_explanation_free(pbr_explanation *x)
{
    for (size_t i = 0; i < x->nrows; i++)
        free(x->rows[i].convictions);
    free(x->rows);
    free(x->left_out);
    memset(x, 0, sizeof *x);
}

/* Appends a zeroed row (left: to left_out). Returns it, or NULL. */
static pbr_xrow *push_row(pbr_explanation *x, int left)
{
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

/* ---- binary and frequency ------------------------------------------------------------ */

/* proven_fn: records a proven reoffence on the row. */
static int record_conviction(void *ctx, const pbr_ev *conviction)
{
    return add_conviction(ctx, conviction);
}

/* Fills a member row: the proven reoffences of 5.3 (measure.c's
 * eval_proven_reoffences), with the convictions counted. Returns 0 or -1. */
static int member_row(const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev, const pbr_ev *idx,
                      uint64_t max_seq, pbr_date d, pbr_xrow *r)
{
    reoff p = eval_proven_reoffences(o, exclude, ev, idx, max_seq, d, record_conviction, r);
    r->reoffender = p.reoffender;
    r->reoffences += p.f;
    return p.failed ? -1 : 0;
}

/* Is window i one of the line's? period: the window's key, "pooled" (every
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

/* Marks in has[] the windows in which outcome o has members in the segment
 * named like o's segment target (a hurdle's line exists, 5.9.1). Returns 0
 * or -1. */
static int windows_with_members(const pbr_outcome *h, const char *segname, const pbr_eventset *ev, const member *m,
                                size_t nm, unsigned char *has)
{
    compiled_where *s = eval_segments_compile(h, ev);
    int rc = s != NULL ? 0 : -1;
    int64_t target = target_segment(h, segname);
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        int64_t seg = eval_segment_of(h, s, ev, m[i].index);
        if (seg >= 0 && seg == target && !(eval_needs_ogrs(h, (size_t)seg) && m[i].index->ogrs < 0))
            has[m[i].window] = 1;
    }
    eval_segments_free(s, h->nsegments);
    return rc;
}

/* Members of the windows of the line (window_in_line); a component with a
 * hurdle counts only the windows where the hurdle has a line, as
 * measure.c does. Left out: every member of those windows that no segment
 * takes or that lacks the OGRS it needs (pooled: of every pooled window,
 * ruled 2026-12-02). */
static int explain_cohort(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                          pbr_date d, const char *period, int64_t target, pbr_explanation *x)
{
    size_t nw = 0, nm = 0;
    cohort_window *w = cohort_windows(c, &nw);
    member *m = NULL;
    compiled_where *s = NULL;
    compiled_where exclude = {NULL, 0};
    unsigned char *in = NULL, *hurdled = NULL;
    int rc = -1;
    if (w == NULL || cohort_members(c, ev, max_seq, d, w, nw, &m, &nm) != 0 ||
        (s = eval_segments_compile(o, ev)) == NULL || compiled_where_init(&exclude, &o->exclude, ev) != 0)
        goto out;
    in = calloc(nw, 1);
    hurdled = calloc(nw, 1);
    if (in == NULL || hurdled == NULL)
        goto out;
    for (size_t i = 0; i < nw; i++)
        in[i] = window_in_line(c, o, &w[i], period);
    if (o->has_hurdle) {
        const char *segname = o->nsegments ? o->segments[target].name : NULL;
        if (windows_with_members(&c->outcomes[o->hurdle], segname, ev, m, nm, hurdled) != 0)
            goto out;
    } else {
        memset(hurdled, 1, nw);
    }
    for (size_t i = 0; i < nm; i++) {
        const pbr_ev *idx = m[i].index;
        if (!in[m[i].window])
            continue;
        int64_t seg = eval_segment_of(o, s, ev, idx);
        const char *why = seg < 0                              ? "no segment matched"
            : eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0 ? "ogrs missing"
                                                               : NULL;
        if (why == NULL && (seg != target || !hurdled[m[i].window]))
            continue;
        pbr_xrow *r = push_row(x, why != NULL);
        if (r == NULL)
            goto out;
        r->event = idx;
        r->reason = why;
        r->segment = o->nsegments ? seg : -1;
        snprintf(r->window, sizeof r->window, "%s", w[m[i].window].key);
        if (why != NULL)
            continue;
        r->weight = o->pay.weight_ogrs ? idx->ogrs : 10000;
        if (member_row(o, &exclude, ev, idx, max_seq, d, r) != 0)
            goto out;
    }
    rc = 0;
out:
    free(hurdled);
    free(in);
    compiled_where_clear(&exclude);
    eval_segments_free(s, o->nsegments);
    free(m);
    free(w);
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
static int clean_row(const pbr_contract *c, const pbr_outcome *o, const compiled_where *exclude, const pbr_eventset *ev,
                     const pbr_ev *idx, uint64_t max_seq, pbr_date d, pbr_xrow *r)
{
    return eval_clean_clock(c, o, exclude, ev, idx, max_seq, d, record_restart, r, &r->clock, &r->success_on);
}

static int explain_clean(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                         pbr_date d, pbr_date quarter, int64_t target, pbr_explanation *x)
{
    size_t nw = 0, nm = 0;
    cohort_window *w = cohort_windows(c, &nw);
    member *m = NULL;
    compiled_where *s = NULL;
    compiled_where exclude = {NULL, 0};
    int rc = -1;
    if (w == NULL || cohort_members(c, ev, max_seq, d, w, nw, &m, &nm) != 0 ||
        (s = eval_segments_compile(o, ev)) == NULL || compiled_where_init(&exclude, &o->exclude, ev) != 0)
        goto out;
    for (size_t i = 0; i < nm; i++) {
        const pbr_ev *idx = m[i].index;
        int64_t seg = eval_segment_of(o, s, ev, idx);
        if (seg != target || (eval_needs_ogrs(o, (size_t)seg) && idx->ogrs < 0))
            continue;
        pbr_xrow row;
        memset(&row, 0, sizeof row);
        int ok = clean_row(c, o, &exclude, ev, idx, max_seq, d, &row);
        if (ok < 0)
            goto out;
        if (ok == 0 || pbr_quarter_of(row.success_on, c->year_start) != quarter) {
            free(row.convictions);
            continue;
        }
        pbr_xrow *r = push_row(x, 0);
        if (r == NULL) {
            free(row.convictions);
            goto out;
        }
        *r = row;
        r->event = idx;
        r->segment = o->nsegments ? seg : -1;
        r->weight = o->pay.weight_ogrs ? idx->ogrs : 10000;
        snprintf(r->window, sizeof r->window, "%s", w[m[i].window].key);
    }
    rc = 0;
out:
    compiled_where_clear(&exclude);
    eval_segments_free(s, o->nsegments);
    free(m);
    free(w);
    return rc;
}

/* ---- custody_nights ------------------------------------------------------------------------- */

typedef struct spell_rows {
    const pbr_outcome *o;
    const compiled_where *where;
    const compiled_where *s;
    const pbr_eventset *ev;
    pbr_date q, qnext;
    int64_t target;
    pbr_explanation *x;
} spell_rows;

/* custody_spell_fn: a row for a spell with nights in [q, qnext) whose
 * reception matches where and the target segment. Returns 0 or -1. */
static int add_spell_row(void *ctx, const pbr_ev *reception, const pbr_ev *discharge, pbr_date to)
{
    const spell_rows *sr = ctx;
    pbr_date lo = reception->date > sr->q ? reception->date : sr->q, hi = to < sr->qnext ? to : sr->qnext;
    if (hi <= lo || !compiled_where_matches(sr->where, sr->ev, reception) ||
        eval_segment_of(sr->o, sr->s, sr->ev, reception) != sr->target)
        return 0;
    pbr_xrow *r = push_row(sr->x, 0);
    if (r == NULL)
        return -1;
    r->event = reception;
    r->end = discharge;
    r->segment = sr->o->nsegments ? sr->target : -1;
    r->nights = hi - lo;
    return 0;
}

/* One offender's spells (measure.c's eval_custody_spells) with nights in
 * [q, qnext), matching where and the target segment. Returns 0 or -1. */
static int offender_spell_rows(const pbr_outcome *o, const compiled_where *where, const compiled_where *s,
                               const pbr_eventset *ev, uint32_t off, uint64_t max_seq, pbr_date d, pbr_date q,
                               pbr_date qnext, int64_t target, pbr_explanation *x)
{
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, off, &n);
    spell_rows sr = {o, where, s, ev, q, qnext, target, x};
    return eval_custody_spells(ev, es, n, max_seq, d, add_spell_row, &sr) == 0 ? 0 : -1;
}

static int explain_custody(const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, pbr_date quarter,
                           int64_t target, pbr_explanation *x)
{
    compiled_where *s = NULL;
    compiled_where where = {NULL, 0};
    int rc = -1;
    if ((s = eval_segments_compile(o, ev)) == NULL || compiled_where_init(&where, &o->where, ev) != 0)
        goto out;
    pbr_date qnext = pbr_add_months(quarter, 3);
    for (uint32_t off = 0; off < pbr_eventset_offenders(ev); off++) {
        if (offender_spell_rows(o, &where, s, ev, off, max_seq, d, quarter, qnext, target, x) != 0)
            goto out;
    }
    rc = 0;
out:
    compiled_where_clear(&where);
    eval_segments_free(s, o->nsegments);
    return rc;
}

/* ---- disposals ------------------------------------------------------------------------------ */

static int explain_disposals(const pbr_contract *c, const pbr_outcome *o, const pbr_eventset *ev, uint64_t max_seq,
                             pbr_date d, const char *period, int64_t target, pbr_explanation *x)
{
    compiled_where *s = NULL;
    compiled_where where = {NULL, 0}, exclude = {NULL, 0};
    int rc = -1;
    if ((s = eval_segments_compile(o, ev)) == NULL || compiled_where_init(&where, &o->where, ev) != 0 ||
        compiled_where_init(&exclude, &o->exclude, ev) != 0)
        goto out;
    size_t nall;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    for (size_t i = 0; i < nall; i++) {
        const pbr_ev *e = &all[i];
        if (e->type != PBR_EV_CONVICTION || !o->pay.has_kind_price[e->disposal] ||
            !pbr_ev_visible(e, voids, d, max_seq))
            continue;
        char label[32];
        pbr_year_label(pbr_year_of(e->date, c->year_start), c->year_start, label, sizeof label);
        if (strcmp(label, period) != 0 || !compiled_where_matches(&where, ev, e) ||
            (exclude.n > 0 && compiled_where_matches(&exclude, ev, e)) || eval_segment_of(o, s, ev, e) != target)
            continue;
        pbr_xrow *r = push_row(x, 0);
        if (r == NULL)
            goto out;
        r->event = e;
        r->segment = o->nsegments ? target : -1;
    }
    rc = 0;
out:
    compiled_where_clear(&where);
    compiled_where_clear(&exclude);
    eval_segments_free(s, o->nsegments);
    return rc;
}

/* ---- volume fee lines (5.9.4) ------------------------------------------------------------ */

/* The index events a volume line counts: visible, of the fee's type,
 * matching its where, dated in the settlement year labelled `year` (every
 * event, as mechanism.c counts them). Returns 0 or -1. */
static int explain_volume(const pbr_contract *c, const pbr_fee *f, const pbr_eventset *ev, uint64_t max_seq, pbr_date d,
                          const char *year, pbr_explanation *x)
{
    compiled_where w = {NULL, 0};
    if (compiled_where_init(&w, &f->volume_where, ev) != 0)
        return -1;
    size_t nall;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    int rc = 0;
    for (size_t i = 0; i < nall && rc == 0; i++) {
        const pbr_ev *e = &all[i];
        if (e->type != f->volume_index || !pbr_ev_visible(e, voids, d, max_seq) ||
            (w.n > 0 && !compiled_where_matches(&w, ev, e)))
            continue;
        char label[32];
        pbr_year_label(pbr_year_of(e->date, c->year_start), c->year_start, label, sizeof label);
        if (strcmp(label, year) != 0)
            continue;
        pbr_xrow *r = push_row(x, 0);
        if (r == NULL)
            rc = -1;
        else
            r->event = e;
    }
    compiled_where_clear(&w);
    return rc;
}

/* A volume line of fee `component`: period "LABEL-volume". Returns 1 and
 * the fee and the year label, or 0. */
static int volume_line(const pbr_contract *c, const char *component, const char *period, const pbr_fee **fee,
                       char *year, size_t n)
{
    size_t len = strlen(period);
    if (len <= 7 || strcmp(period + len - 7, "-volume") != 0 || len - 7 >= n)
        return 0;
    for (size_t i = 0; i < c->nfees; i++) {
        if (c->fees[i].has_volume && strcmp(c->fees[i].id, component) == 0) {
            *fee = &c->fees[i];
            snprintf(year, n, "%.*s", (int)(len - 7), period);
            return 1;
        }
    }
    return 0;
}

int pbr_explain_line(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, const char *component,
                     const char *period, const char *segment, pbr_explanation *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const pbr_outcome *o = NULL;
    for (size_t i = 0; i < c->noutcomes && o == NULL; i++) {
        if (strcmp(c->outcomes[i].id, component) == 0)
            o = &c->outcomes[i];
    }
    const pbr_fee *fee = NULL;
    char year[32];
    if (o == NULL && volume_line(c, component, period, &fee, year, sizeof year)) {
        out->fee = fee;
        if (explain_volume(c, fee, ev, max_seq, d, year, out) != 0) {
            pbr_explanation_free(out);
            return pbr_errf(err, errlen, "explain %s %s: out of memory", c->id, component);
        }
        return 0;
    }
    if (o == NULL)
        return 1;
    out->outcome = o;
    int64_t target = target_segment(o, segment);
    if (target == -2)
        return 0; /* no such segment: no rows */
    pbr_date q = PBR_DATE_NONE;
    int is_date = pbr_date_parse(period, strlen(period), &q) == 0;
    int rc = 0;
    switch (o->measure) {
    case PBR_M_BINARY:
    case PBR_M_FREQUENCY: rc = c->has_cohort ? explain_cohort(c, o, ev, max_seq, d, period, target, out) : 0; break;
    case PBR_M_CLEAN_PERIOD:
        rc = c->has_cohort && is_date ? explain_clean(c, o, ev, max_seq, d, q, target, out) : 0;
        break;
    case PBR_M_CUSTODY_NIGHTS: rc = is_date ? explain_custody(o, ev, max_seq, d, q, target, out) : 0; break;
    case PBR_M_DISPOSALS: rc = explain_disposals(c, o, ev, max_seq, d, period, target, out); break;
    }
    if (rc != 0) {
        pbr_explanation_free(out);
        return pbr_errf(err, errlen, "explain %s %s: out of memory", c->id, component);
    }
    return 0;
}

/* cohort.c -- cohort windows and their members (SPEC.md 5.2), plus the
 * where-matching of compact events that every measure uses.
 *
 * Order of selection: filter (where, contract dates, visibility) -> window
 * -> `first` de-duplication -> `size` cap, each window ordered by
 * (date, event id). Pure: reads only the contract and the event set.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* ---- the view ---------------------------------------------------------------- */

void eval_view_init(eval_view *v, const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through,
                    pbr_date as_of)
{
    v->contract = c;
    v->events = ev;
    v->voids = pbr_eventset_voids(ev);
    v->events_through = events_through;
    v->as_of = as_of;
}

/* ---- where ------------------------------------------------------------------ */

static unsigned gender_bit(int g)
{
    return g == 'M' ? 1u : g == 'F' ? 2u : g == 'X' ? 4u : 0u;
}

int compiled_where_init(compiled_where *out, const pbr_where *w, const pbr_eventset *ev)
{
    out->n = 0;
    out->conds = calloc(w->nconds ? w->nconds : 1, sizeof *out->conds);
    if (out->conds == NULL)
        return -1;
    for (size_t i = 0; i < w->nconds; i++) {
        const pbr_cond *c = &w->conds[i];
        compiled_cond *cc = &out->conds[out->n++];
        cc->cond = c;
        if (c->field == PBR_F_GENDER) {
            for (size_t k = 0; k < c->nstrs; k++)
                cc->mask |= c->strs[k][0] && !c->strs[k][1] ? gender_bit(c->strs[k][0]) : 0;
            continue;
        }
        if (c->field == PBR_F_DISPOSAL) {
            for (size_t k = 0; k < c->nstrs; k++) {
                int d = pbr_disposal_from_name(c->strs[k]);
                cc->mask |= d >= 0 ? 1u << d : 0;
            }
            continue;
        }
        if (c->nstrs == 0)
            continue;
        cc->syms = calloc(c->nstrs, sizeof *cc->syms);
        if (cc->syms == NULL) {
            compiled_where_clear(out);
            return -1;
        }
        for (size_t k = 0; k < c->nstrs; k++)
            cc->syms[k] = pbr_eventset_lookup(ev, c->strs[k]);
        cc->nsyms = c->nstrs;
    }
    return 0;
}

void compiled_where_clear(compiled_where *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->conds[i].syms);
    free(w->conds);
    w->conds = NULL;
    w->n = 0;
}

static int sym_in(const compiled_cond *cc, pbr_sym s)
{
    if (s == 0)
        return 0;
    for (size_t k = 0; k < cc->nsyms; k++) {
        if (cc->syms[k] == s)
            return 1;
    }
    return 0;
}

/* Integer field v against a range or a list; absent (the compact event's
 * -1) never matches. */
static int num_matches(const pbr_cond *c, int64_t v)
{
    if (v < 0)
        return 0;
    if (c->is_range)
        return v >= c->min && v <= c->max;
    for (size_t k = 0; k < c->nnums; k++) {
        if (c->nums[k] == v)
            return 1;
    }
    return 0;
}

static int flags_match(const compiled_cond *cc, const pbr_eventset *ev, const pbr_ev *e)
{
    size_t n;
    const pbr_sym *f = pbr_eventset_flags(ev, e->flags, &n);
    for (size_t i = 0; i < n; i++) {
        if (sym_in(cc, f[i]))
            return 1;
    }
    return 0;
}

static int cond_matches(const compiled_cond *cc, const pbr_eventset *ev, const pbr_ev *e)
{
    const pbr_cond *c = cc->cond;
    switch (c->field) {
    case PBR_F_ESTABLISHMENT: return sym_in(cc, e->establishment);
    case PBR_F_AREA: return sym_in(cc, e->area);
    case PBR_F_PROVIDER: return sym_in(cc, e->provider);
    case PBR_F_ORDER: return sym_in(cc, e->order);
    case PBR_F_CATEGORY: return sym_in(cc, e->category);
    case PBR_F_SENTENCE_DAYS: return num_matches(c, e->sentence_days);
    case PBR_F_AGE: return num_matches(c, e->age);
    case PBR_F_OGRS: return num_matches(c, e->ogrs);
    case PBR_F_PRIOR_SANCTIONS: return num_matches(c, e->prior_sanctions);
    case PBR_F_GENDER: return (cc->mask & gender_bit(e->gender)) != 0;
    case PBR_F_DISPOSAL: return (cc->mask & (1u << e->disposal)) != 0;
    case PBR_F_FLAGS: return flags_match(cc, ev, e);
    case PBR_F_REMAND: return (e->sentence_days < 0) == (c->boolean != 0);
    case PBR_F_COUNT: break;
    }
    return 0;
}

int compiled_where_matches(const compiled_where *w, const pbr_eventset *ev, const pbr_ev *e)
{
    for (size_t i = 0; i < w->n; i++) {
        if (!cond_matches(&w->conds[i], ev, e))
            return 0;
    }
    return 1;
}

/* ---- windows ---------------------------------------------------------------------- */

cohort_window *cohort_windows(const pbr_contract *c, size_t *n)
{
    *n = 0;
    if (!c->has_cohort)
        return NULL;
    const pbr_cohort *co = &c->cohort;
    size_t cap = 1;
    if (co->period == PBR_PERIOD_WINDOWS)
        cap = co->nwindows;
    else if (co->period != PBR_PERIOD_WHOLE)
        cap = (size_t)((c->end - c->start) / 28 / (co->period == PBR_PERIOD_QUARTER ? 3 : 12) + 3);
    cohort_window *w = calloc(cap ? cap : 1, sizeof *w);
    if (w == NULL)
        return NULL;
    if (co->period == PBR_PERIOD_WINDOWS) {
        for (size_t i = 0; i < co->nwindows; i++) {
            w[i].from = co->windows[i].from;
            w[i].to = co->windows[i].to;
            snprintf(w[i].key, sizeof w[i].key, "%s", co->windows[i].name);
        }
        *n = co->nwindows;
        return w;
    }
    if (co->period == PBR_PERIOD_WHOLE) {
        w[0].from = c->start;
        w[0].to = c->end + 1;
        snprintf(w[0].key, sizeof w[0].key, "all");
        *n = 1;
        return w;
    }
    int quarterly = co->period == PBR_PERIOD_QUARTER;
    int months = quarterly ? 3 : 12;
    pbr_date p = quarterly ? pbr_quarter_of(c->start, c->year_start) : pbr_year_of(c->start, c->year_start);
    while (p <= c->end && *n < cap) {
        cohort_window *x = &w[(*n)++];
        x->from = p;
        x->to = pbr_add_months(p, months);
        if (quarterly)
            pbr_date_format(p, x->key);
        else
            pbr_year_label(p, c->year_start, x->key, sizeof x->key);
        p = x->to;
    }
    return w;
}

/* ---- members ------------------------------------------------------------------------ */

/* Appends (e, window) to *m. Returns 0 or -1. */
static int push_member(cohort_member **m, size_t *n, size_t *cap, const pbr_ev *e, uint32_t window)
{
    if (*n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 1024;
        cohort_member *nm = realloc(*m, ncap * sizeof *nm);
        if (nm == NULL)
            return -1;
        *m = nm;
        *cap = ncap;
    }
    (*m)[*n].index = e;
    (*m)[*n].window = window;
    (*n)++;
    return 0;
}

/* A member with its event id, for the order of the size cap. */
typedef struct ranked {
    cohort_member m;
    const char *id;
} ranked;

static int cmp_ranked_id(const void *a, const void *b)
{
    return strcmp(((const ranked *)a)->id, ((const ranked *)b)->id);
}

/* Keeps the first `size` of the n members v[] of one window by (date, id):
 * the dates before the cut-off date whole, and of the cut-off date the
 * first by id. Writes them to out[0, kept). Returns kept, or -1 (out of
 * memory). */
static int64_t cap_one_window(const pbr_eventset *ev, const cohort_member *v, size_t n, int64_t size,
                              cohort_member *out)
{
    assert(size > 0);
    if ((int64_t)n <= size) {
        if (n > 0)
            memcpy(out, v, n * sizeof *v);
        return (int64_t)n;
    }
    pbr_date lo = v[0].index->date, hi = lo;
    for (size_t i = 1; i < n; i++) {
        lo = v[i].index->date < lo ? v[i].index->date : lo;
        hi = v[i].index->date > hi ? v[i].index->date : hi;
    }
    size_t span = (size_t)(hi - lo) + 1;
    size_t *count = calloc(span, sizeof *count);
    if (count == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        count[v[i].index->date - lo]++;
    size_t before = 0, cut = 0; /* members dated before lo + cut; the cut-off date is lo + cut */
    while ((int64_t)(before + count[cut]) < size) {
        before += count[cut++];
        assert(cut < span); /* n > size members: the cut-off date lies inside the span */
    }
    free(count);
    pbr_date cutoff = lo + (pbr_date)cut;
    size_t ntie = 0, kept = 0;
    ranked *tie = malloc(n * sizeof *tie);
    if (tie == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i].index->date < cutoff) {
            out[kept++] = v[i];
        } else if (v[i].index->date == cutoff) {
            tie[ntie].m = v[i];
            tie[ntie++].id = pbr_eventset_id(ev, v[i].index);
        }
    }
    assert(kept == before && (int64_t)(before + ntie) >= size);
    qsort(tie, ntie, sizeof *tie, cmp_ranked_id);
    for (size_t i = 0; (int64_t)(before + i) < size; i++)
        out[kept++] = tie[i].m;
    free(tie);
    return (int64_t)kept;
}

/* The size cap: the first `size` members of each window by (date, id),
 * found without sorting the window (a count of its dates finds the cut-off
 * date; only that date's members are sorted, by id). Compacts m window by
 * window; returns the new count, or -1 on allocation failure. */
static int64_t cap_windows(const pbr_eventset *ev, cohort_member *m, size_t n, size_t nw, int64_t size)
{
    if (n == 0)
        return 0; /* m may be NULL: no pointer arithmetic on it */
    size_t *start = calloc(nw + 1, sizeof *start);
    cohort_member *byw = malloc((n ? n : 1) * sizeof *byw);
    if (start == NULL || byw == NULL) {
        free(start);
        free(byw);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        assert(m[i].window < nw);
        start[m[i].window + 1]++;
    }
    for (size_t j = 0; j < nw; j++)
        start[j + 1] += start[j];
    for (size_t i = 0, *next = start; i < n; i++)
        byw[next[m[i].window]++] = m[i]; /* start[w] now ends window w */
    assert(nw == 0 || start[nw - 1] == n);
    size_t k = 0, from = 0;
    int64_t kept = 0;
    for (size_t j = 0; j < nw && kept >= 0; j++) {
        kept = cap_one_window(ev, byw + from, start[j] - from, size, m + k);
        k += kept > 0 ? (size_t)kept : 0;
        from = start[j];
    }
    free(start);
    free(byw);
    return kept >= 0 ? (int64_t)k : -1;
}

/* Selects the members of every window of co (filter, window, first, size)
 * into co->members. The index events are read per offender in (date, id)
 * order (the event set's type index), so `first` keeps the first event of
 * an offender in a window as it goes: one linear pass, no sort. Only a size
 * cap needs the (window, date, id) order across offenders. Returns 0 or -1
 * (out of memory). */
static int select_members(eval_cohort *co, const eval_view *v)
{
    /* what the scan reads, in locals (registers): nothing it calls can change them */
    const pbr_contract *c = v->contract;
    const pbr_eventset *ev = v->events;
    const pbr_evvoid *voids = v->voids;
    const uint64_t events_through = v->events_through;
    const pbr_date as_of = v->as_of;
    const pbr_date start = c->start, end = c->end;
    const int members_first = c->cohort.members_first;
    const cohort_window *windows = co->windows;
    size_t nw = co->nwindows;
    compiled_where where;
    if (compiled_where_init(&where, &c->cohort.where, ev) != 0)
        return -1;
    size_t nall, npos, k = 0, cap = 0;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const uint32_t *pos = pbr_eventset_of_type(ev, c->cohort.index, &npos);
    uint32_t *taken = calloc(nw ? nw : 1, sizeof *taken); /* offender + 1 last kept in each window */
    cohort_member *m = NULL;
    if (taken == NULL)
        goto fail;
    for (size_t i = 0; i < npos; i++) {
        const pbr_ev *e = &all[pos[i]];
        if (e->date < start || e->date > end)
            continue;
        if (!pbr_ev_visible(e, voids, as_of, events_through) || !compiled_where_matches(&where, ev, e))
            continue;
        for (size_t j = 0; j < nw; j++) {
            const cohort_window *w = &windows[j];
            if (e->date < w->from || e->date >= w->to)
                continue;
            if (members_first && taken[j] == e->offender + 1)
                continue;
            taken[j] = e->offender + 1;
            if (push_member(&m, &k, &cap, e, (uint32_t)j) != 0)
                goto fail;
        }
    }
    if (c->cohort.size > 0) {
        int64_t capped = cap_windows(ev, m, k, nw, c->cohort.size);
        if (capped < 0)
            goto fail;
        k = (size_t)capped;
    }
    free(taken);
    compiled_where_clear(&where);
    co->members = m;
    co->nmembers = k;
    return 0;
fail:
    free(m);
    free(taken);
    compiled_where_clear(&where);
    return -1;
}

int eval_cohort_init(eval_cohort *co, const eval_view *v)
{
    memset(co, 0, sizeof *co);
    if (!v->contract->has_cohort)
        return 0;
    co->windows = cohort_windows(v->contract, &co->nwindows);
    if (co->windows == NULL || select_members(co, v) != 0) {
        eval_cohort_clear(co);
        return -1;
    }
    return 0;
}

void eval_cohort_clear(eval_cohort *co)
{
    free(co->members);
    free(co->windows);
    memset(co, 0, sizeof *co);
}

/* cohort.c -- cohort windows and their members (SPEC.md 5.2), plus the
 * where-matching of compact events that every measure uses.
 *
 * Order of selection: filter (where, contract dates, visibility) -> window
 * -> `first` de-duplication -> `size` cap, each window ordered by
 * (date, event id). Pure: reads only the contract and the event set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* ---- where ------------------------------------------------------------------ */

static unsigned gender_bit(int g)
{
    return g == 'M' ? 1u : g == 'F' ? 2u : g == 'X' ? 4u : 0u;
}

int cwhere_compile(const pbr_where *w, const pbr_eventset *ev, cwhere *out)
{
    out->n = 0;
    out->conds = calloc(w->nconds ? w->nconds : 1, sizeof *out->conds);
    if (out->conds == NULL)
        return -1;
    for (size_t i = 0; i < w->nconds; i++) {
        const pbr_cond *c = &w->conds[i];
        cwhere_cond *cc = &out->conds[out->n++];
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
            cwhere_free(out);
            return -1;
        }
        for (size_t k = 0; k < c->nstrs; k++)
            cc->syms[k] = pbr_eventset_lookup(ev, c->strs[k]);
        cc->nsyms = c->nstrs;
    }
    return 0;
}

void cwhere_free(cwhere *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->conds[i].syms);
    free(w->conds);
    w->conds = NULL;
    w->n = 0;
}

static int sym_in(const cwhere_cond *cc, pbr_sym s)
{
    if (s == 0)
        return 0;
    for (size_t k = 0; k < cc->nsyms; k++) {
        if (cc->syms[k] == s)
            return 1;
    }
    return 0;
}

/* Integer field against a range or a list; absent (-1) never matches. */
static int num_matches(const pbr_cond *c, int64_t v, int present)
{
    if (!present)
        return 0;
    if (c->is_range)
        return v >= c->min && v <= c->max;
    for (size_t k = 0; k < c->nnums; k++) {
        if (c->nums[k] == v)
            return 1;
    }
    return 0;
}

static int flags_match(const cwhere_cond *cc, const pbr_eventset *ev, const pbr_ev *e)
{
    size_t n;
    const pbr_sym *f = pbr_eventset_flags(ev, e->flags, &n);
    for (size_t i = 0; i < n; i++) {
        if (sym_in(cc, f[i]))
            return 1;
    }
    return 0;
}

static int cond_matches(const cwhere_cond *cc, const pbr_eventset *ev, const pbr_ev *e)
{
    const pbr_cond *c = cc->cond;
    switch (c->field) {
    case PBR_F_ESTABLISHMENT: return sym_in(cc, e->establishment);
    case PBR_F_AREA: return sym_in(cc, e->area);
    case PBR_F_PROVIDER: return sym_in(cc, e->provider);
    case PBR_F_ORDER: return sym_in(cc, e->order);
    case PBR_F_CATEGORY: return sym_in(cc, e->category);
    case PBR_F_SENTENCE_DAYS: return num_matches(c, e->sentence_days, e->sentence_days >= 0);
    case PBR_F_AGE: return num_matches(c, e->age, e->age >= 0);
    case PBR_F_OGRS: return num_matches(c, e->ogrs, e->ogrs >= 0);
    case PBR_F_PRIOR_SANCTIONS: return num_matches(c, e->prior_sanctions, e->prior_sanctions >= 0);
    case PBR_F_GENDER: return (cc->mask & gender_bit(e->gender)) != 0;
    case PBR_F_DISPOSAL: return (cc->mask & (1u << e->disposal)) != 0;
    case PBR_F_FLAGS: return flags_match(cc, ev, e);
    case PBR_F_REMAND: return (e->sentence_days < 0) == (c->boolean != 0);
    case PBR_F_COUNT: break;
    }
    return 0;
}

int cwhere_match(const cwhere *w, const pbr_eventset *ev, const pbr_ev *e)
{
    for (size_t i = 0; i < w->n; i++) {
        if (!cond_matches(&w->conds[i], ev, e))
            return 0;
    }
    return 1;
}

/* ---- windows ---------------------------------------------------------------------- */

ewindow *cohort_windows(const pbr_contract *c, size_t *n)
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
    ewindow *w = calloc(cap ? cap : 1, sizeof *w);
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
        ewindow *x = &w[(*n)++];
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

typedef struct cand {
    const pbr_ev *e;
    const char *id;
    uint32_t window;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->window != y->window)
        return x->window < y->window ? -1 : 1;
    if (x->e->date != y->e->date)
        return x->e->date < y->e->date ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Collects the (event, window) pairs that pass the filter. Returns 0 or -1. */
static int collect_candidates(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d,
                              const ewindow *w, size_t nw, cand **out, size_t *n)
{
    cwhere where;
    if (cwhere_compile(&c->cohort.where, ev, &where) != 0)
        return -1;
    size_t nall, cap = 1024, k = 0;
    const pbr_ev *all = pbr_eventset_all(ev, &nall);
    const pbr_evvoid *voids = pbr_eventset_voids(ev);
    cand *v = malloc(cap * sizeof *v);
    if (v == NULL)
        goto fail;
    for (size_t i = 0; i < nall; i++) {
        const pbr_ev *e = &all[i];
        if (e->type != c->cohort.index || e->date < c->start || e->date > c->end)
            continue;
        if (!pbr_ev_visible(e, voids, d, max_seq) || !cwhere_match(&where, ev, e))
            continue;
        for (size_t j = 0; j < nw; j++) {
            if (e->date < w[j].from || e->date >= w[j].to)
                continue;
            if (k == cap) {
                cand *nv = realloc(v, 2 * cap * sizeof *v);
                if (nv == NULL)
                    goto fail;
                v = nv;
                cap *= 2;
            }
            v[k].e = e;
            v[k].id = pbr_eventset_id(ev, e);
            v[k].window = (uint32_t)j;
            k++;
        }
    }
    cwhere_free(&where);
    *out = v;
    *n = k;
    return 0;
fail:
    free(v);
    cwhere_free(&where);
    return -1;
}

int cohort_members(const pbr_contract *c, const pbr_eventset *ev, uint64_t max_seq, pbr_date d, const ewindow *w,
                   size_t nw, member **out, size_t *n)
{
    cand *v;
    size_t nv;
    *out = NULL;
    *n = 0;
    if (collect_candidates(c, ev, max_seq, d, w, nw, &v, &nv) != 0)
        return -1;
    qsort(v, nv, sizeof *v, cmp_cand);
    size_t noff = pbr_eventset_offenders(ev);
    uint32_t *seen = malloc((noff ? noff : 1) * sizeof *seen); /* window+1 in which the offender was last kept */
    member *m = malloc((nv ? nv : 1) * sizeof *m);
    if (seen == NULL || m == NULL) {
        free(seen);
        free(m);
        free(v);
        return -1;
    }
    memset(seen, 0, (noff ? noff : 1) * sizeof *seen);
    size_t k = 0, in_window = 0;
    for (size_t i = 0; i < nv; i++) {
        if (i > 0 && v[i].window != v[i - 1].window)
            in_window = 0;
        if (c->cohort.members_first && seen[v[i].e->offender] == v[i].window + 1)
            continue;
        if (c->cohort.size > 0 && (int64_t)in_window >= c->cohort.size)
            continue;
        seen[v[i].e->offender] = v[i].window + 1;
        m[k].index = v[i].e;
        m[k].window = v[i].window;
        k++;
        in_window++;
    }
    free(seen);
    free(v);
    *out = m;
    *n = k;
    return 0;
}

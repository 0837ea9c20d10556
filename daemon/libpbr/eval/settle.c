/* settle.c -- statements (SPEC.md 5.1, 5.5.6, 5.7): which lines a quarter's
 * statement contains, adjustments for late data under the contract version
 * a line was first issued under, the contract cap, provisional lines, the
 * statement range, and the ledger that carries history between quarters.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/num.h"
#include "pbr/settle.h"
#include "pbr/err.h"
#include "pbr/mem.h"

#include "eval.h"

/* ---- ledger ------------------------------------------------------------------------ */

typedef struct ledger_key {
    char component[72];
    char period[32];
    int has_segment;
    char segment[64];
    int never_adjusted; /* a fee fixed by the contract (pbr_ledger_entry's fee) */
    char version[65];   /* contract sha256 the line was first issued under */
    int64_t issued;     /* computed (uncapped) pence issued so far */
} ledger_key;

struct pbr_ledger {
    ledger_key *keys; /* in order of first issue */
    size_t n, cap;
    int64_t computed_total; /* U of 5.5.6 */
    pbr_date next;          /* first quarter not yet issued, PBR_DATE_NONE at first */
};

pbr_ledger *pbr_ledger_new(void)
{
    pbr_ledger *l = calloc(1, sizeof *l);
    if (l != NULL)
        l->next = PBR_DATE_NONE;
    return l;
}

void pbr_ledger_destroy(pbr_ledger **lp)
{
    if (lp == NULL)
        return;
    pbr_ledger *l = *lp;
    *lp = NULL;
    if (l == NULL)
        return;
    free(l->keys);
    free(l);
}

pbr_date pbr_ledger_next_quarter(const pbr_ledger *l)
{
    return l->next;
}

static int key_matches(const ledger_key *k, const pbr_line *l)
{
    return strcmp(k->component, l->component) == 0 && strcmp(k->period, l->period) == 0 &&
        k->has_segment == l->has_segment && (!k->has_segment || strcmp(k->segment, l->segment) == 0);
}

static ledger_key *ledger_find(const pbr_ledger *l, const pbr_line *line)
{
    for (size_t i = 0; i < l->n; i++) {
        if (key_matches(&l->keys[i], line))
            return &l->keys[i];
    }
    return NULL;
}

/* Whether a ledger key's line is adjusted when its figures change. */
typedef enum ledger_adjusting {
    LEDGER_ADJUSTED,      /* outcome, pooled and volume lines */
    LEDGER_NEVER_ADJUSTED /* fees fixed by the contract */
} ledger_adjusting;

/* Appends the key of line, first issued under version. Returns 0 or -1
 * (out of memory). */
static int ledger_add(pbr_ledger *l, const pbr_line *line, const char *version, ledger_adjusting adjusting)
{
    if (pbr_grow((void **)&l->keys, &l->cap, l->n + 1, sizeof *l->keys) != 0)
        return -1;
    assert(l->n < l->cap);
    ledger_key *k = &l->keys[l->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->component, sizeof k->component, "%s", line->component);
    snprintf(k->period, sizeof k->period, "%s", line->period);
    k->has_segment = line->has_segment;
    snprintf(k->segment, sizeof k->segment, "%s", line->segment);
    snprintf(k->version, sizeof k->version, "%s", version);
    k->never_adjusted = adjusting == LEDGER_NEVER_ADJUSTED;
    k->issued = line->computed_pence;
    return 0;
}

pbr_ledger *pbr_ledger_copy(const pbr_ledger *l)
{
    pbr_ledger *c = pbr_ledger_new();
    if (c == NULL)
        return NULL;
    *c = *l;
    c->keys = malloc((l->cap ? l->cap : 1) * sizeof *c->keys);
    if (c->keys == NULL) {
        free(c);
        return NULL;
    }
    if (l->n > 0)
        memcpy(c->keys, l->keys, l->n * sizeof *c->keys);
    return c;
}

size_t pbr_ledger_count(const pbr_ledger *l)
{
    return l->n;
}

int64_t pbr_ledger_computed_total(const pbr_ledger *l)
{
    return l->computed_total;
}

void pbr_ledger_entry_at(const pbr_ledger *l, size_t i, pbr_ledger_entry *e)
{
    assert(i < l->n);
    const ledger_key *k = &l->keys[i];
    e->component = k->component;
    e->period = k->period;
    e->segment = k->has_segment ? k->segment : NULL;
    e->fee = k->never_adjusted;
    e->version = k->version;
    e->issued = k->issued;
}

int pbr_ledger_restore(pbr_ledger *l, pbr_date next, int64_t computed_total, const pbr_ledger_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pbr_line line;
        memset(&line, 0, sizeof line);
        const pbr_ledger_entry *e = &entries[i];
        if (strlen(e->component) >= sizeof line.component || strlen(e->period) >= sizeof line.period ||
            (e->segment != NULL && strlen(e->segment) >= sizeof line.segment) ||
            strlen(e->version) >= sizeof((ledger_key *)0)->version)
            return -1;
        snprintf(line.component, sizeof line.component, "%s", e->component);
        snprintf(line.period, sizeof line.period, "%s", e->period);
        line.has_segment = e->segment != NULL;
        if (line.has_segment)
            snprintf(line.segment, sizeof line.segment, "%s", e->segment);
        line.computed_pence = e->issued;
        if (ledger_add(l, &line, e->version, e->fee ? LEDGER_NEVER_ADJUSTED : LEDGER_ADJUSTED) != 0)
            return -1;
    }
    l->next = next;
    l->computed_total = computed_total;
    return 0;
}

/* ---- statement range ---------------------------------------------------------------- */

pbr_date pbr_issue_date(const pbr_contract *c, pbr_date q)
{
    return pbr_add_months(q, 3) + c->settle_after_days;
}

pbr_date pbr_contract_first_quarter(const pbr_contract *c)
{
    return pbr_quarter_of(c->start, c->year_start);
}

static pbr_date latest(pbr_date a, pbr_date b)
{
    return a > b ? a : b;
}

/* The latest final_on any line of the contract can have (5.7). */
static pbr_date last_final_on(const pbr_contract *c)
{
    pbr_date end_q_next = pbr_add_months(pbr_quarter_of(c->end, c->year_start), 3);
    /* always at least the quarter containing end (ruled 2026-12-02) */
    pbr_date last = end_q_next;
    for (size_t i = 0; i < c->nfees; i++)
        last = latest(last, c->fees[i].dated ? c->fees[i].on : end_q_next);
    size_t nw = 0;
    cohort_window *w = cohort_windows(c, &nw);
    for (size_t i = 0; i < c->noutcomes; i++) {
        const pbr_outcome *o = &c->outcomes[i];
        switch (o->measure) {
        case PBR_M_BINARY:
        case PBR_M_FREQUENCY:
            for (size_t k = 0; k < nw; k++)
                last = latest(last, pbr_add_months(w[k].to, o->follow_up + o->waiting));
            break;
        case PBR_M_CLEAN_PERIOD: {
            pbr_date f = pbr_add_months(c->end, o->follow_up + o->waiting);
            last = latest(last, pbr_add_months(pbr_quarter_of(f, c->year_start), 3));
            break;
        }
        case PBR_M_CUSTODY_NIGHTS: break; /* the quarter containing end, already counted */
        case PBR_M_DISPOSALS:
            last = latest(last, pbr_add_months(pbr_add_months(pbr_year_of(c->end, c->year_start), 12), o->waiting));
            break;
        }
    }
    free(w);
    return latest(last, eval_mechanism_last_final_on(c));
}

pbr_date pbr_contract_last_quarter(const pbr_contract *c)
{
    /* the quarter Q in which final_on f becomes final: the first with Q.next >= f */
    pbr_date q = pbr_quarter_of(last_final_on(c) - 1, c->year_start);
    return pbr_add_months(q, 3 * c->run_off);
}

/* ---- fees ---------------------------------------------------------------------------- */

/* Appends every fee line the contract alone fixes (5.7: quarterly fees
 * final on their quarter's Q.next, dated fees on their date; 5.9.5: the
 * recovery of an advance). Volume lines depend on events: evaluate_outcomes
 * makes them. Returns 0 or -1. */
static int fee_lines(const pbr_contract *c, candidate_lines *out)
{
    for (size_t i = 0; i < c->nfees; i++) {
        const pbr_fee *f = &c->fees[i];
        if (f->dated) {
            candidate_line *cl = candidate_lines_push(out);
            if (cl == NULL)
                return -1;
            cl->line.kind = PBR_LINE_FEE;
            snprintf(cl->line.component, sizeof cl->line.component, "%s", f->id);
            pbr_date_format(f->on, cl->line.period);
            cl->line.final_on = f->on;
            cl->line.computed_pence = pbr_pounds_to_pence(f->amount);
            cl->period_first = f->on;
            cl->comp_order = f->file_order;
            cl->fee_rank = 1;
            continue;
        }
        if (f->has_advance && eval_recovery_lines(c, f, out) != 0)
            return -1;
        for (pbr_date q = pbr_quarter_of(f->from, c->year_start); q <= f->to; q = pbr_add_months(q, 3)) {
            candidate_line *cl = candidate_lines_push(out);
            if (cl == NULL)
                return -1;
            cl->line.kind = PBR_LINE_FEE;
            snprintf(cl->line.component, sizeof cl->line.component, "%s", f->id);
            pbr_date_format(q, cl->line.period);
            cl->line.final_on = pbr_add_months(q, 3);
            cl->line.computed_pence = pbr_pounds_to_pence(f->amount);
            cl->period_first = q;
            cl->comp_order = f->file_order;
            cl->fee_rank = 1;
        }
    }
    return 0;
}

/* Fee lines: file order, then final_on; on one final_on volume and
 * recovery lines before the quarterly line (5.9), then by period. */
static int cmp_fee(const void *a, const void *b)
{
    const candidate_line *x = a, *y = b;
    if (x->comp_order != y->comp_order)
        return x->comp_order < y->comp_order ? -1 : 1;
    if (x->line.final_on != y->line.final_on)
        return x->line.final_on < y->line.final_on ? -1 : 1;
    if (x->fee_rank != y->fee_rank)
        return x->fee_rank - y->fee_rank;
    if (x->period_first != y->period_first)
        return x->period_first < y->period_first ? -1 : 1;
    return strcmp(x->line.period, y->line.period);
}

/* Is id a fee of c? (A line key of a fee: adjusted outside the cap.) */
static int is_fee_id(const pbr_contract *c, const char *id)
{
    for (size_t i = 0; i < c->nfees; i++)
        if (strcmp(c->fees[i].id, id) == 0)
            return 1;
    return 0;
}

/* ---- lines evaluated ahead ---------------------------------------------------------- */

struct pbr_lines {
    char sha[65]; /* the contract version evaluated */
    uint64_t events_through;
    pbr_date as_of;
    candidate_lines lines;
};

pbr_lines *pbr_lines_evaluate(const pbr_eval_view *pv, char *err, size_t errlen)
{
    const pbr_contract *c = pv->contract;
    pbr_lines *l = calloc(1, sizeof *l);
    if (l == NULL) {
        pbr_errf(err, errlen, "evaluate %s: out of memory", c->id);
        return NULL;
    }
    snprintf(l->sha, sizeof l->sha, "%s", c->sha256);
    l->events_through = pv->events_through;
    l->as_of = pv->as_of;
    eval_view v;
    eval_view_init(&v, c, pv->events, pv->events_through, pv->as_of);
    if (evaluate_outcomes(&v, &l->lines, err, errlen) != 0) {
        pbr_lines_destroy(&l);
        return NULL;
    }
    return l;
}

void pbr_lines_destroy(pbr_lines **lp)
{
    if (lp == NULL)
        return;
    pbr_lines *l = *lp;
    *lp = NULL;
    if (l == NULL)
        return;
    candidate_lines_clear(&l->lines);
    free(l);
}

/* ---- versions ------------------------------------------------------------------------- */

typedef struct version_eval {
    char sha[65];
    candidate_lines lines;
    int borrowed; /* lines of a pbr_lines: not freed with the cache */
} version_eval;

/* The lines of every contract version one statement needs, each evaluated
 * once in the statement's view (the current version's contract, events
 * and as-of date); earlier versions come from versions (may be NULL). */
typedef struct version_cache {
    version_eval *v;
    size_t n;
    const eval_view *view;
    pbr_version_fn versions;
    void *versions_ctx;
} version_cache;

static void version_cache_clear(version_cache *vc)
{
    for (size_t i = 0; i < vc->n; i++) {
        if (!vc->v[i].borrowed)
            candidate_lines_clear(&vc->v[i].lines);
    }
    free(vc->v);
    vc->v = NULL;
    vc->n = 0;
}

/* Seeds the cache with the lines evaluated ahead (borrowed) when they are
 * the current version's in the cache's view. Returns 0 or -1 (out of
 * memory). */
static int seed_cache(version_cache *vc, const pbr_lines *ahead)
{
    const eval_view *v = vc->view;
    if (ahead == NULL || strcmp(ahead->sha, v->contract->sha256) != 0 || ahead->events_through != v->events_through ||
        ahead->as_of != v->as_of)
        return 0;
    assert(vc->n == 0);
    vc->v = calloc(1, sizeof *vc->v);
    if (vc->v == NULL)
        return -1;
    snprintf(vc->v[0].sha, sizeof vc->v[0].sha, "%s", ahead->sha);
    vc->v[0].lines = ahead->lines;
    vc->v[0].borrowed = 1;
    vc->n = 1;
    return 0;
}

/* The lines of contract version sha in the cache's view (evaluated once per
 * version; the current contract when sha is unknown). Returns NULL with
 * err on failure. */
static const candidate_lines *lines_of_version(version_cache *vc, const char *sha, char *err, size_t errlen)
{
    for (size_t i = 0; i < vc->n; i++) {
        if (strcmp(vc->v[i].sha, sha) == 0)
            return &vc->v[i].lines;
    }
    const pbr_contract *current = vc->view->contract, *c = NULL;
    if (strcmp(sha, current->sha256) != 0 && vc->versions != NULL)
        c = vc->versions(vc->versions_ctx, sha);
    if (c == NULL)
        c = current;
    version_eval *nv = realloc(vc->v, (vc->n + 1) * sizeof *nv);
    if (nv == NULL) {
        pbr_errf(err, errlen, "settle %s: out of memory", current->id);
        return NULL;
    }
    vc->v = nv;
    version_eval *e = &vc->v[vc->n];
    memset(e, 0, sizeof *e);
    snprintf(e->sha, sizeof e->sha, "%s", sha);
    eval_view v;
    eval_view_init(&v, c, vc->view->events, vc->view->events_through, vc->view->as_of);
    if (evaluate_outcomes(&v, &e->lines, err, errlen) != 0) {
        candidate_lines_clear(&e->lines);
        return NULL;
    }
    vc->n++;
    return &e->lines;
}

static const candidate_line *find_line(const candidate_lines *l, const ledger_key *k)
{
    for (size_t i = 0; i < l->n; i++) {
        if (key_matches(k, &l->v[i].line))
            return &l->v[i];
    }
    return NULL;
}

/* ---- a statement ------------------------------------------------------------------------- */

/* Checked pence arithmetic (SPEC 4: every sum of pence is checked, an
 * overflow is an error, never a wrapped figure): a + b, or 0 with
 * *overflow set when it does not fit. */
static int64_t add_pence(int64_t a, int64_t b, int *overflow)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        *overflow = 1;
        return 0;
    }
    return r;
}

/* a - b, checked as add_pence. */
static int64_t sub_pence(int64_t a, int64_t b, int *overflow)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) {
        *overflow = 1;
        return 0;
    }
    return r;
}

/* Whether p is pbr_pounds_to_pence's clamp of an amount beyond int64. */
static int pence_clamped(int64_t p)
{
    return p == INT64_MIN || p == INT64_MAX;
}

static int push_line(pbr_line **v, size_t *n, size_t *cap, const pbr_line *l)
{
    if (pbr_grow((void **)v, cap, *n + 1, sizeof **v) != 0)
        return -1;
    assert(*n < *cap);
    (*v)[(*n)++] = *l;
    return 0;
}

static void statement_header(const pbr_contract *c, pbr_date q, uint64_t events_through, pbr_statement *s)
{
    snprintf(s->contract, sizeof s->contract, "%s", c->id);
    snprintf(s->sha256, sizeof s->sha256, "%s", c->sha256);
    s->quarter = q;
    pbr_quarter_label(q, c->year_start, s->label, sizeof s->label);
    s->start = q;
    s->end = pbr_add_months(q, 3) - 1;
    s->as_of = pbr_issue_date(c, q);
    s->events_through = events_through;
}

static int is_provisional_measure(pbr_measure m)
{
    return m == PBR_M_BINARY || m == PBR_M_FREQUENCY || m == PBR_M_DISPOSALS;
}

/* A statement being built: the statement, the ledger it updates, the
 * contract cap in pence and whether any sum overflowed. */
typedef struct statement_build {
    const pbr_contract *contract;
    pbr_date qnext; /* lines final by Q.next are issued */
    pbr_statement *s;
    size_t lines_cap, provisional_cap;
    pbr_ledger *ledger;
    int64_t cap_pence;
    int overflow;
} statement_build;

/* The contract cap of 5.5.6: pays min(U + x, C) - min(U, C), U the
 * ledger's computed total. Sets b->overflow when U + x does not fit. */
static int64_t capped(statement_build *b, int64_t x)
{
    int64_t *u = &b->ledger->computed_total;
    if (!b->contract->has_contract_cap) {
        *u = add_pence(*u, x, &b->overflow);
        return x;
    }
    int64_t before = *u < b->cap_pence ? *u : b->cap_pence;
    *u = add_pence(*u, x, &b->overflow);
    int64_t after = *u < b->cap_pence ? *u : b->cap_pence;
    return sub_pence(after, before, &b->overflow);
}

/* Issues every fee line final by Q.next and not issued before, outside the
 * cap: the contract's fixed fees and the volume lines of current, in file
 * order, then date. Returns 0 or -1 (out of memory). */
static int issue_fees(statement_build *b, const candidate_lines *current)
{
    candidate_lines fees = {NULL, 0, 0};
    int rc = -1;
    if (fee_lines(b->contract, &fees) != 0)
        goto out;
    /* fee lines computed from events (volume, 5.9.4) join the fixed ones */
    for (size_t i = 0; i < current->n; i++) {
        if (!current->v[i].fee_from_events)
            continue;
        candidate_line *x = candidate_lines_push(&fees);
        if (x == NULL)
            goto out;
        *x = current->v[i];
    }
    if (fees.n > 1)
        qsort(fees.v, fees.n, sizeof *fees.v, cmp_fee);
    for (size_t i = 0; i < fees.n; i++) {
        pbr_line *l = &fees.v[i].line;
        if (l->final_on > b->qnext || ledger_find(b->ledger, l) != NULL)
            continue;
        l->amount_pence = l->computed_pence;
        b->overflow |= pence_clamped(l->computed_pence);
        /* a volume line is recomputed later (adjustments), a fixed fee never */
        ledger_adjusting adjusting = fees.v[i].fee_from_events ? LEDGER_ADJUSTED : LEDGER_NEVER_ADJUSTED;
        if (push_line(&b->s->lines, &b->s->nlines, &b->lines_cap, l) != 0 ||
            ledger_add(b->ledger, l, b->contract->sha256, adjusting) != 0)
            goto out;
    }
    rc = 0;
out:
    candidate_lines_clear(&fees);
    return rc;
}

/* Issues the outcome and pooled lines of current final by Q.next and not
 * issued before, in line order, under the contract cap; copies them to
 * fresh (they join the ledger after the adjustments). Returns 0 or -1 (out
 * of memory). */
static int issue_fresh_lines(statement_build *b, const candidate_lines *current, candidate_lines *fresh)
{
    for (size_t i = 0; i < current->n; i++) {
        const candidate_line *cl = &current->v[i];
        if (!cl->fee_from_events && cl->line.final_on <= b->qnext && ledger_find(b->ledger, &cl->line) == NULL) {
            candidate_line *x = candidate_lines_push(fresh);
            if (x == NULL)
                return -1;
            *x = *cl;
        }
    }
    if (fresh->n > 1)
        qsort(fresh->v, fresh->n, sizeof *fresh->v, candidate_line_cmp);
    for (size_t i = 0; i < fresh->n; i++) {
        pbr_line *l = &fresh->v[i].line;
        b->overflow |= pence_clamped(l->computed_pence);
        l->amount_pence = capped(b, l->computed_pence);
        if (push_line(&b->s->lines, &b->s->nlines, &b->lines_cap, l) != 0)
            return -1;
    }
    return 0;
}

/* Issues an adjustment for each of the first nprior ledger keys (those
 * issued before this statement, in order of first issue) whose line,
 * recomputed under the version it was first issued under, changed.
 * Returns 0, or -1 with err. */
static int issue_adjustments(statement_build *b, version_cache *vc, size_t nprior, char *err, size_t errlen)
{
    assert(nprior <= b->ledger->n);
    for (size_t i = 0; i < nprior; i++) {
        ledger_key *k = &b->ledger->keys[i];
        if (k->never_adjusted)
            continue;
        const candidate_lines *vl = lines_of_version(vc, k->version, err, errlen);
        if (vl == NULL)
            return -1;
        const candidate_line *cur = find_line(vl, k);
        int64_t recomputed = cur ? cur->line.computed_pence : 0;
        if (recomputed == k->issued)
            continue;
        pbr_line adj;
        memset(&adj, 0, sizeof adj);
        adj.kind = PBR_LINE_ADJUSTMENT;
        snprintf(adj.component, sizeof adj.component, "%s", k->component);
        snprintf(adj.period, sizeof adj.period, "%s", k->period);
        adj.has_segment = k->has_segment;
        snprintf(adj.segment, sizeof adj.segment, "%s", k->segment);
        adj.previous_pence = k->issued;
        b->overflow |= pence_clamped(recomputed);
        adj.computed_pence = sub_pence(recomputed, k->issued, &b->overflow);
        /* a volume line's adjustment is a fee line's: outside contract_cap (5.9) */
        if (cur ? cur->fee_from_events : is_fee_id(b->contract, k->component))
            adj.amount_pence = adj.computed_pence;
        else
            adj.amount_pence = capped(b, adj.computed_pence);
        k->issued = recomputed;
        if (push_line(&b->s->lines, &b->s->nlines, &b->lines_cap, &adj) != 0)
            return pbr_errf(err, errlen, "settle %s: out of memory", b->contract->id);
    }
    return 0;
}

/* Adds the provisional lines of current: begun, not final by Q.next,
 * figured as of A(q), in line order. Returns 0 or -1 (out of memory). */
static int add_provisional(statement_build *b, const candidate_lines *current)
{
    candidate_lines prov = {NULL, 0, 0};
    int rc = -1;
    for (size_t i = 0; i < current->n; i++) {
        const candidate_line *cl = &current->v[i];
        if (!cl->pooled && !cl->fee_from_events && is_provisional_measure(cl->measure) && cl->period_first < b->qnext &&
            cl->line.final_on > b->qnext) {
            candidate_line *x = candidate_lines_push(&prov);
            if (x == NULL)
                goto out;
            *x = *cl;
            x->line.amount_pence = x->line.computed_pence;
        }
    }
    if (prov.n > 1)
        qsort(prov.v, prov.n, sizeof *prov.v, candidate_line_cmp);
    for (size_t i = 0; i < prov.n; i++) {
        if (push_line(&b->s->provisional, &b->s->nprovisional, &b->provisional_cap, &prov.v[i].line) != 0)
            goto out;
    }
    rc = 0;
out:
    candidate_lines_clear(&prov);
    return rc;
}

/* Builds the statement of rq into s over view (as of A(rq->quarter)),
 * updating ledger (a copy the caller commits on success). Returns 0, or -1
 * with err. */
static int build_statement(const eval_view *view, const pbr_settle_request *rq, pbr_ledger *ledger, pbr_statement *s,
                           char *err, size_t errlen)
{
    const pbr_contract *c = view->contract;
    version_cache vc = {NULL, 0, view, rq->versions, rq->versions_ctx};
    candidate_lines fresh = {NULL, 0, 0};
    size_t nprior = ledger->n;
    int64_t cap_pence = c->has_contract_cap ? pbr_pounds_to_pence(c->contract_cap) : 0;
    statement_build b = {c, pbr_add_months(rq->quarter, 3), s, 0, 0, ledger, cap_pence, pence_clamped(cap_pence)};
    int rc = -1;
    statement_header(c, rq->quarter, view->events_through, s);
    if (seed_cache(&vc, rq->ahead) != 0)
        goto oom;
    const candidate_lines *cached = lines_of_version(&vc, c->sha256, err, errlen);
    if (cached == NULL)
        goto out;
    /* a shallow copy: the cache's array may move when other versions are added */
    const candidate_lines current = *cached;
    if (issue_fees(&b, &current) != 0 || issue_fresh_lines(&b, &current, &fresh) != 0)
        goto oom;
    if (issue_adjustments(&b, &vc, nprior, err, errlen) != 0)
        goto out;
    for (size_t i = 0; i < fresh.n; i++) {
        if (ledger_add(ledger, &fresh.v[i].line, c->sha256, LEDGER_ADJUSTED) != 0)
            goto oom;
    }
    if (add_provisional(&b, &current) != 0)
        goto oom;
    s->total_pence = 0;
    for (size_t i = 0; i < s->nlines; i++)
        s->total_pence = add_pence(s->total_pence, s->lines[i].amount_pence, &b.overflow);
    for (size_t i = 0; i < s->nprovisional; i++)
        b.overflow |= pence_clamped(s->provisional[i].computed_pence);
    if (b.overflow) {
        char qs[PBR_DATE_STRLEN];
        pbr_date_format(rq->quarter, qs);
        pbr_errf(err, errlen,
                 "settle %s %s: an amount in pence overflows (beyond +-9223372036854775807); "
                 "the contract's amounts are too large",
                 c->id, qs);
        goto out;
    }
    ledger->next = b.qnext;
    rc = 0;
    goto out;
oom:
    pbr_errf(err, errlen, "settle %s: out of memory", c->id);
out:
    candidate_lines_clear(&fresh);
    version_cache_clear(&vc);
    return rc;
}

int pbr_settle_quarter(const pbr_eval_view *v, const pbr_settle_request *r, pbr_ledger *ledger, pbr_statement **out,
                       char *err, size_t errlen)
{
    const pbr_contract *c = v->contract;
    pbr_date q = r->quarter;
    *out = NULL;
    pbr_date expect = ledger->next == PBR_DATE_NONE ? pbr_contract_first_quarter(c) : ledger->next;
    if (q != expect) {
        char a[PBR_DATE_STRLEN], b[PBR_DATE_STRLEN];
        pbr_date_format(q, a);
        pbr_date_format(expect, b);
        return pbr_errf(err, errlen, "settle %s: quarter %s is out of order (next to issue is %s)", c->id, a, b);
    }
    if (q > pbr_contract_last_quarter(c)) {
        char a[PBR_DATE_STRLEN];
        pbr_date_format(q, a);
        return pbr_errf(err, errlen, "settle %s: quarter %s is after the contract's last statement", c->id, a);
    }
    pbr_ledger *next_ledger = pbr_ledger_copy(ledger);
    pbr_statement *s = calloc(1, sizeof *s);
    if (next_ledger == NULL || s == NULL) {
        pbr_ledger_destroy(&next_ledger);
        free(s);
        return pbr_errf(err, errlen, "settle %s: out of memory", c->id);
    }
    eval_view view;
    eval_view_init(&view, c, v->events, v->events_through, pbr_issue_date(c, q));
    if (build_statement(&view, r, next_ledger, s, err, errlen) != 0) {
        pbr_statement_destroy(&s);
        pbr_ledger_destroy(&next_ledger);
        return -1;
    }
    /* commit the new ledger into the caller's */
    free(ledger->keys);
    *ledger = *next_ledger;
    free(next_ledger);
    *out = s;
    return 0;
}

int pbr_settle_all(const pbr_eval_view *v, const pbr_series_request *r, char *err, size_t errlen)
{
    const pbr_contract *c = v->contract;
    pbr_ledger *ledger = pbr_ledger_new();
    if (ledger == NULL)
        return pbr_errf(err, errlen, "settle %s: out of memory", c->id);
    pbr_date last = pbr_contract_last_quarter(c);
    if (r->through < last)
        last = r->through;
    int rc = 0;
    for (pbr_date q = pbr_contract_first_quarter(c); q <= last && rc == 0; q = pbr_add_months(q, 3)) {
        pbr_statement *s;
        if (pbr_settle_quarter(v, &(pbr_settle_request){.quarter = q}, ledger, &s, err, errlen) != 0) {
            rc = -1;
            break;
        }
        rc = r->each(r->ctx, s);
        pbr_statement_destroy(&s);
    }
    pbr_ledger_destroy(&ledger);
    return rc;
}

int pbr_provisional_lines(const pbr_eval_view *pv, pbr_line **lines, size_t *n, char *err, size_t errlen)
{
    const pbr_contract *c = pv->contract;
    pbr_date as_of = pv->as_of;
    candidate_lines all = {NULL, 0, 0};
    *lines = NULL;
    *n = 0;
    eval_view v;
    eval_view_init(&v, c, pv->events, pv->events_through, as_of);
    if (evaluate_outcomes(&v, &all, err, errlen) != 0) {
        candidate_lines_clear(&all);
        return -1;
    }
    if (all.n > 1)
        qsort(all.v, all.n, sizeof *all.v, candidate_line_cmp);
    size_t cap = 0;
    for (size_t i = 0; i < all.n; i++) {
        candidate_line *cl = &all.v[i];
        if (cl->pooled || cl->fee_from_events || !is_provisional_measure(cl->measure) || cl->period_first > as_of ||
            cl->line.final_on <= as_of)
            continue;
        cl->line.amount_pence = cl->line.computed_pence;
        if (push_line(lines, n, &cap, &cl->line) != 0) {
            free(*lines);
            *lines = NULL;
            *n = 0;
            candidate_lines_clear(&all);
            return pbr_errf(err, errlen, "cohorts %s: out of memory", c->id);
        }
    }
    candidate_lines_clear(&all);
    return 0;
}

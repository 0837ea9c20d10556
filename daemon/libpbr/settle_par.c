/* settle_par.c -- owns pbr_settle_all_parallel: a contract's whole series
 * of statements with the evaluations (the costly, independent part: one
 * per quarter, as of its own A(Q)) done ahead on worker threads, and the
 * statements themselves (ledger, adjustments, caps: sequential) built in
 * quarter order on the calling thread. Threads live here, outside the
 * evaluator, which stays a pure function (make check-layers).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/settle.h"
#include "pbr/err.h"

/* One contract's series shared by the evaluator threads and the thread
 * building the statements; lines, done, next and stop under lock. */
typedef struct parallel_series {
    const pbr_eval_view *view; /* borrowed from the caller */
    pbr_date *quarters;        /* the n quarters of the series, in order */
    pbr_lines **lines;         /* lines[k]: quarter k's, NULL if its evaluation failed */
    int *done;                 /* done[k]: lines[k] is final (cond signals each) */
    size_t n, next;            /* next: the first quarter no thread has taken */
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} parallel_series;

/* A worker thread: evaluates quarters ahead, in order, until every one is
 * taken or stop is set. Returns NULL. */
static void *evaluate_ahead(void *arg)
{
    parallel_series *p = arg;
    char err[PBR_ERR_MAX];
    pthread_mutex_lock(&p->lock);
    while (!p->stop && p->next < p->n) {
        size_t k = p->next++;
        pthread_mutex_unlock(&p->lock);
        /* on failure lines[k] stays NULL: the statement evaluates itself
         * and reports the error in order */
        pbr_eval_view at_issue = *p->view;
        at_issue.as_of = pbr_issue_date(p->view->contract, p->quarters[k]);
        pbr_lines *l = pbr_lines_evaluate(&at_issue, err, sizeof err);
        pthread_mutex_lock(&p->lock);
        p->lines[k] = l;
        p->done[k] = 1;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Builds the statements in order as their lines arrive. Returns as
 * pbr_settle_all. */
static int settle_in_order(parallel_series *p, const pbr_series_request *r, char *err, size_t errlen)
{
    pbr_ledger *ledger = pbr_ledger_new();
    if (ledger == NULL)
        return pbr_errf(err, errlen, "settle %s: out of memory", p->view->contract->id);
    int rc = 0;
    for (size_t k = 0; k < p->n && rc == 0; k++) {
        pthread_mutex_lock(&p->lock);
        while (!p->done[k])
            pthread_cond_wait(&p->cond, &p->lock);
        pthread_mutex_unlock(&p->lock);
        pbr_statement *s;
        pbr_settle_request req = {.quarter = p->quarters[k], .ahead = p->lines[k]};
        if (pbr_settle_quarter(p->view, &req, ledger, &s, err, errlen) != 0) {
            rc = -1;
            break;
        }
        rc = r->each(r->ctx, s);
        pbr_statement_destroy(&s);
        pbr_lines_destroy(&p->lines[k]);
        p->lines[k] = NULL;
    }
    pbr_ledger_destroy(&ledger);
    return rc;
}

int pbr_settle_all_parallel(const pbr_eval_view *v, const pbr_series_request *r, char *err, size_t errlen)
{
    const pbr_contract *c = v->contract;
    int nthreads = r->threads;
    pbr_date last = pbr_contract_last_quarter(c);
    if (r->through < last)
        last = r->through;
    parallel_series p;
    memset(&p, 0, sizeof p);
    p.view = v;
    for (pbr_date q = pbr_contract_first_quarter(c); q <= last; q = pbr_add_months(q, 3))
        p.n++;
    p.quarters = malloc((p.n ? p.n : 1) * sizeof *p.quarters);
    p.lines = calloc(p.n ? p.n : 1, sizeof *p.lines);
    p.done = calloc(p.n ? p.n : 1, sizeof *p.done);
    if (nthreads < 1 || p.quarters == NULL || p.lines == NULL || p.done == NULL) {
        free(p.quarters);
        free(p.lines);
        free(p.done);
        return nthreads < 1 ? pbr_settle_all(v, r, err, errlen)
                            : pbr_errf(err, errlen, "settle %s: out of memory", c->id);
    }
    size_t k = 0;
    for (pbr_date q = pbr_contract_first_quarter(c); q <= last; q = pbr_add_months(q, 3))
        p.quarters[k++] = q;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.cond, NULL);
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    int started = 0;
    while (t != NULL && started < nthreads && pthread_create(&t[started], NULL, evaluate_ahead, &p) == 0)
        started++;
    if (started == 0) {
        /* no thread: the statements evaluate themselves */
        for (size_t i = 0; i < p.n; i++)
            p.done[i] = 1;
    }
    int rc = settle_in_order(&p, r, err, errlen);
    pthread_mutex_lock(&p.lock);
    p.stop = 1;
    pthread_mutex_unlock(&p.lock);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < p.n; i++)
        pbr_lines_destroy(&p.lines[i]);
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.lock);
    free(t);
    free(p.quarters);
    free(p.lines);
    free(p.done);
    return rc;
}

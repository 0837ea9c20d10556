/* wait.c -- owns the "wait" op (wait.h): the statements issued in this run
 * of pbrd, in order, and the parked long-poll requests with their
 * routing ids, roles, cursors and deadlines. */
#include "pbrd/wait.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbr/event.h"
#include "pbr/mem.h"
#include "pbrd/api.h"
#include "pbrd/auth.h"
#include "pbrd/log.h"

#define ISSUED_MAX 65536 /* statements remembered; older ones make a reply "complete" */

typedef struct issued {
    char *contract, *quarter;
} issued;

typedef struct parked {
    zmq_msg_t ident; /* the client's routing id */
    char role[PBRD_ROLE_MAX];
    json_int_t after; /* the client's cursor */
    int64_t deadline; /* CLOCK_MONOTONIC ms */
} parked;

struct pbrd_waits {
    issued *issued; /* this run's statements, oldest first */
    size_t nissued, cap_issued;
    parked *parked;
    size_t nparked, cap_parked;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

pbrd_waits *pbrd_waits_new(void)
{
    return calloc(1, sizeof(pbrd_waits));
}

/* Removes parked request i (closing its routing id). */
static void unpark(pbrd_waits *w, size_t i)
{
    zmq_msg_close(&w->parked[i].ident);
    w->parked[i] = w->parked[--w->nparked];
}

void pbrd_waits_destroy(pbrd_waits **wp, pbrd_api *api, const char *why)
{
    if (wp == NULL)
        return;
    pbrd_waits *w = *wp;
    *wp = NULL;
    if (w == NULL)
        return;
    while (w->nparked > 0) {
        if (api != NULL) {
            json_t *r = json_pack("{ss}", "error", why);
            pbrd_api_reply(api, &w->parked[0].ident, r);
            json_decref(r);
        }
        unpark(w, 0);
    }
    for (size_t i = 0; i < w->nissued; i++) {
        free(w->issued[i].contract);
        free(w->issued[i].quarter);
    }
    free(w->issued);
    free(w->parked);
    free(w);
}

/* ---- what a role may see ------------------------------------------------ */

/* Whether role may see contract (a contract no longer loaded: no one but
 * finance and operator). */
static int visible(const pbrd_api *api, const char *role, const char *contract)
{
    const char *provider = pbrd_service_provider_of(api->service, contract);
    if (provider == NULL)
        return !strcmp(role, "finance") || !strcmp(role, "operator");
    return pbrd_role_can_see_contract(role, provider);
}

typedef struct visible_scan {
    const pbrd_api *api;
    const char *role;
    size_t n;
    json_t *list; /* when not NULL, {contract, quarter} of each */
} visible_scan;

static int scan_key(void *ctx, const char *contract, const char *quarter)
{
    visible_scan *v = ctx;
    if (!visible(v->api, v->role, contract))
        return 0;
    v->n++;
    if (v->list != NULL &&
        json_array_append_new(v->list, json_pack("{ss ss}", "contract", contract, "quarter", quarter)) != 0)
        return -1;
    return 0;
}

/* Counts (and, with list, lists) the issued statements role may see.
 * Returns 0, or -1 with err. */
static int scan_visible(const pbrd_api *api, const char *role, json_t *list, size_t *n, char *err, size_t errlen)
{
    visible_scan v = {api, role, 0, list};
    if (pbr_store_foreach_statement_key(api->store, scan_key, &v, err, errlen) != 0)
        return -1;
    *n = v.n;
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

/* The newest k statements of this run that role may see, oldest first, or
 * NULL when this run has fewer (they were issued before it started). */
static json_t *newest_visible(const pbrd_api *api, const char *role, size_t k)
{
    json_t *list = json_array();
    size_t found = 0;
    for (size_t i = api->waits->nissued; list != NULL && i > 0 && found < k; i--) {
        const issued *s = &api->waits->issued[i - 1];
        if (!visible(api, role, s->contract))
            continue;
        json_array_insert_new(list, 0, json_pack("{ss ss}", "contract", s->contract, "quarter", s->quarter));
        found++;
    }
    if (found < k) {
        json_decref(list);
        return NULL;
    }
    return list;
}

/* The reply for a caller with cursor after: its unseen statements, or
 * NULL when there are none (or, with timed_out, the empty reply). On a
 * store error, an error reply. */
static json_t *answer(const pbrd_api *api, const char *role, json_int_t after, int timed_out)
{
    char err[PBR_ERR_MAX];
    size_t n = 0;
    if (scan_visible(api, role, NULL, &n, err, sizeof err) != 0)
        return pbrd_api_error("wait: %s", err);
    if (after >= (json_int_t)n)
        return timed_out
            ? json_pack("{sI s[] sb sb}", "seq", (json_int_t)n, "statements", "complete", 0, "timed_out", 1)
            : NULL;
    json_t *list = newest_visible(api, role, (size_t)((json_int_t)n - after));
    int complete = list == NULL;
    if (complete) {
        list = json_array();
        if (list == NULL || scan_visible(api, role, list, &n, err, sizeof err) != 0) {
            json_decref(list);
            return pbrd_api_error("wait: %s", list ? err : "out of memory");
        }
    }
    return json_pack("{sI so sb sb}", "seq", (json_int_t)n, "statements", list, "complete", complete, "timed_out", 0);
}

/* ---- the op and its events ------------------------------------------------ */

json_t *pbrd_wait_op(pbrd_api_call *call)
{
    pbrd_api *api = call->api;
    pbrd_waits *w = api->waits;
    json_int_t after = call->args->after_seq;
    if (after < 0) { /* from now */
        char err[PBR_ERR_MAX];
        size_t n = 0;
        if (scan_visible(api, call->role, NULL, &n, err, sizeof err) != 0)
            return pbrd_api_error("wait: %s", err);
        after = (json_int_t)n;
    }
    json_t *reply = answer(api, call->role, after, call->args->timeout_ms == 0);
    if (reply != NULL)
        return reply;
    if (w->nparked >= PBRD_WAIT_MAX_PARKED)
        return pbrd_api_error("wait: %d clients are already waiting; try again later", PBRD_WAIT_MAX_PARKED);
    size_t mine = 0; /* one role cannot take every slot from the others */
    for (size_t i = 0; i < w->nparked; i++)
        mine += strcmp(w->parked[i].role, call->role) == 0;
    if (mine >= PBRD_WAIT_MAX_PER_ROLE)
        return pbrd_api_error("wait: %d requests of this role are already waiting; try again later",
                              PBRD_WAIT_MAX_PER_ROLE);
    if (pbr_grow((void **)&w->parked, &w->cap_parked, w->nparked + 1, sizeof *w->parked) != 0)
        return pbrd_api_error("wait: out of memory");
    parked *p = &w->parked[w->nparked];
    zmq_msg_init(&p->ident);
    if (zmq_msg_copy(&p->ident, call->ident) != 0) {
        zmq_msg_close(&p->ident);
        return pbrd_api_error("wait: zmq_msg_copy failed");
    }
    snprintf(p->role, sizeof p->role, "%s", call->role);
    p->after = after;
    p->deadline = now_ms() + call->args->timeout_ms;
    w->nparked++;
    call->deferred = PBRD_API_PARKED;
    return json_object();
}

/* Remembers (contract, quarter) as issued now. Returns 0 or -1. */
static int remember(pbrd_waits *w, const char *contract, const char *quarter)
{
    if (w->nissued == ISSUED_MAX) { /* forget the older half: they are then answered "complete" */
        size_t half = ISSUED_MAX / 2;
        for (size_t i = 0; i < half; i++) {
            free(w->issued[i].contract);
            free(w->issued[i].quarter);
        }
        memmove(w->issued, w->issued + half, (w->nissued - half) * sizeof *w->issued);
        w->nissued -= half;
    }
    if (pbr_grow((void **)&w->issued, &w->cap_issued, w->nissued + 1, sizeof *w->issued) != 0)
        return -1;
    issued *s = &w->issued[w->nissued];
    s->contract = strdup(contract);
    s->quarter = strdup(quarter);
    if (s->contract == NULL || s->quarter == NULL) {
        free(s->contract);
        free(s->quarter);
        return -1;
    }
    w->nissued++;
    return 0;
}

void pbrd_wait_statement(pbrd_api *api, const char *contract, const char *quarter)
{
    pbrd_waits *w = api->waits;
    if (w == NULL)
        return;
    if (remember(w, contract, quarter) != 0)
        pbrd_log(PBRD_LOG_WARN, "wait: statement not remembered (waiting clients get the complete list)",
                 "contract=%s quarter=%s error=\"out of memory\"", contract, quarter);
    for (size_t i = 0; i < w->nparked;) {
        parked *p = &w->parked[i];
        json_t *reply = visible(api, p->role, contract) ? answer(api, p->role, p->after, 0) : NULL;
        if (reply == NULL) {
            i++;
            continue;
        }
        pbrd_api_reply(api, &p->ident, reply);
        json_decref(reply);
        unpark(w, i);
    }
}

void pbrd_wait_expire(pbrd_api *api, int64_t now)
{
    pbrd_waits *w = api->waits;
    for (size_t i = 0; w != NULL && i < w->nparked;) {
        parked *p = &w->parked[i];
        if (p->deadline > now) {
            i++;
            continue;
        }
        json_t *reply = answer(api, p->role, p->after, 1);
        pbrd_api_reply(api, &p->ident, reply);
        json_decref(reply);
        unpark(w, i);
    }
}

long pbrd_wait_next_ms(const pbrd_api *api, int64_t now)
{
    const pbrd_waits *w = api->waits;
    long best = -1;
    for (size_t i = 0; w != NULL && i < w->nparked; i++) {
        int64_t d = w->parked[i].deadline - now;
        long ms = d < 0 ? 0 : (long)d;
        if (best < 0 || ms < best)
            best = ms;
    }
    return best;
}

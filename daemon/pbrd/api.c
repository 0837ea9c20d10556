/* api.c -- owns the query/control API: the ROUTER and PUB sockets, request
 * envelopes, the op dispatch table and the ops (requests are parsed and
 * validated by api_request.c; the settlement ops' replies and the PUB
 * bodies are shaped by api_reply.c from the service's structs). */
#include "pbrd/api.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/utf8.h"
#include "pbr/err.h"
#include "pbrd/api_reply.h"
#include "pbrd/backup.h"
#include "pbrd/log.h"

#define API_MAX_PER_WAKEUP 256 /* requests served per pbrd_api_serve call */
#define API_MAX_REQUEST (1u << 20)

/* ---- ops ---------------------------------------------------------------- */

/* The configured --now, or today's UTC date, into out[PBR_DATE_STRLEN]. */
static void current_date(const pbrd_config *cfg, char *out)
{
    if (cfg->now) {
        snprintf(out, PBR_DATE_STRLEN, "%s", cfg->now);
        return;
    }
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, PBR_DATE_STRLEN, "%Y-%m-%d", &tm);
}

pbr_date pbrd_api_today(const pbrd_api *api)
{
    char today[PBR_DATE_STRLEN];
    pbr_date d = 0;
    current_date(api->cfg, today);
    pbr_date_parse(today, strlen(today), &d);
    return d;
}

/* The NAME of a "provider:NAME" role, or NULL for the other roles. */
static const char *provider_of_role(const char *role)
{
    return role != NULL && strncmp(role, "provider:", 9) == 0 ? role + 9 : NULL;
}

/* Counts the issued statements of one provider's contracts. */
typedef struct statement_count {
    const pbrd_service *service;
    const char *provider;
    size_t n;
} statement_count;

static int count_provider_statement(void *ctx, const char *contract, const char *quarter)
{
    (void)quarter;
    statement_count *c = ctx;
    const char *p = pbrd_service_provider_of(c->service, contract);
    if (p != NULL && strcmp(p, c->provider) == 0)
        c->n++;
    return 0;
}

/* status for a provider: counts about its own contracts only (no global
 * event, quarantine or contract counts). */
static json_t *provider_status(pbrd_api_call *call, const char *provider)
{
    char err[PBR_ERR_MAX], today[PBR_DATE_STRLEN];
    current_date(call->api->cfg, today);
    pbrd_service *svc = call->api->service;
    if (svc == NULL)
        return json_pack("{ss sI sI sI ss}", "scope", "provider", "contracts", (json_int_t)0, "statements",
                         (json_int_t)0, "awaiting_settle", (json_int_t)0, "now", today);
    pbrd_contract_row *rows;
    size_t ncontracts;
    if (pbrd_service_contracts(svc, provider, pbrd_api_today(call->api), &rows, &ncontracts) != 0)
        return pbrd_api_error("status: out of memory");
    free(rows);
    statement_count count = {svc, provider, 0};
    if (pbr_store_foreach_statement_key(call->api->store, count_provider_statement, &count, err, sizeof err) != 0)
        return pbrd_api_error("status: %s", err);
    size_t awaiting = pbrd_service_awaiting_settle(svc, provider, pbrd_api_today(call->api));
    return json_pack("{ss sI sI sI ss}", "scope", "provider", "contracts", (json_int_t)ncontracts, "statements",
                     (json_int_t)count.n, "awaiting_settle", (json_int_t)awaiting, "now", today);
}

/* status: global counts for finance and operator; a provider gets
 * provider_status. */
static json_t *op_status(pbrd_api_call *call)
{
    const char *provider = provider_of_role(call->role);
    if (provider != NULL)
        return provider_status(call, provider);
    pbr_store_stats st;
    char err[PBR_ERR_MAX], today[PBR_DATE_STRLEN];
    if (pbr_store_get_stats(call->api->store, &st, err, sizeof err) != 0)
        return pbrd_api_error("status: %s", err);
    current_date(call->api->cfg, today);
    size_t ncontracts = call->api->service ? pbrd_service_ncontracts(call->api->service) : 0;
    size_t awaiting =
        call->api->service ? pbrd_service_awaiting_settle(call->api->service, NULL, pbrd_api_today(call->api)) : 0;
    return json_pack("{ss sI sI sI sI ss sI}", "scope", "all", "events", (json_int_t)st.events, "quarantined",
                     (json_int_t)st.quarantined, "last_seq", (json_int_t)st.last_seq, "contracts",
                     (json_int_t)ncontracts, "now", today, "awaiting_settle", (json_int_t)awaiting);
}

/* Appends one quarantine record to the array ctx: the raw line as "raw"
 * when it is UTF-8 text without a NUL byte, else as "raw_base64" (its
 * exact bytes); "raw_bytes" its length. Returns 0 or -1 (out of memory). */
static int append_record(void *ctx, const pbr_quarantine_record *q)
{
    json_t *rec;
    if (q->unreadable) {
        char msg[160];
        snprintf(msg, sizeof msg, "quarantine record %" PRIu64 ": %s", q->qseq, q->unreadable);
        rec = json_pack("{ss}", "unreadable_record", msg);
    } else if (!pbr_utf8_text_problem(q->raw, q->raw_len, NULL, 0)) {
        rec = json_pack("{ss# sI ss sI}", "raw", q->raw, (int)q->raw_len, "raw_bytes", (json_int_t)q->raw_len, "error",
                        q->error, "at", (json_int_t)q->at);
    } else {
        char *b64 = pbr_base64(q->raw, q->raw_len);
        rec = b64 ? json_pack("{ss sI ss sI}", "raw_base64", b64, "raw_bytes", (json_int_t)q->raw_len, "error",
                              q->error, "at", (json_int_t)q->at)
                  : NULL;
        free(b64);
    }
    return rec && json_array_append_new(ctx, rec) == 0 ? 0 : -1;
}

static json_t *op_quarantine(pbrd_api_call *call)
{
    json_int_t limit = call->args->limit;
    json_t *records = json_array();
    if (!records)
        return pbrd_api_error("quarantine: out of memory");
    char err[PBR_ERR_MAX] = "";
    int rc = pbr_store_foreach_quarantine(call->api->store, (size_t)limit, append_record, records, err, sizeof err);
    if (rc != 0) {
        json_decref(records);
        return pbrd_api_error("quarantine: %s", err[0] ? err : "reading the records failed");
    }
    return json_pack("{so}", "records", records);
}

typedef struct purge_work {
    int64_t before;
    uint64_t purged;
} purge_work;

/* pbr_store_work_fn: deletes the quarantine records before w->before. */
static int purge_quarantine(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    purge_work *w = ctx;
    return pbr_store_purge_quarantine(txn, w->before, &w->purged, err, errlen);
}

/* Deletes the quarantine records stored before the request's day (00:00
 * UTC) and replies with how many went and how many are left. */
static json_t *op_quarantine_purge(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX] = "", day[PBR_DATE_STRLEN];
    purge_work w = {(int64_t)call->args->before * 86400, 0};
    pbr_store_stats st;
    pbr_date_format(call->args->before, day);
    if (pbr_store_write(call->api->store, purge_quarantine, &w, err, sizeof err) != 0)
        return pbrd_api_error("quarantine_purge: %s", err[0] ? err : "the store write failed");
    if (pbr_store_get_stats(call->api->store, &st, err, sizeof err) != 0)
        return pbrd_api_error("quarantine_purge: %s", err);
    pbrd_log(PBRD_LOG_INFO, "quarantine purged", "role=%s before=%s purged=%" PRIu64 " remaining=%" PRIu64, call->role,
             day, w.purged, st.quarantined);
    return json_pack("{sI sI ss}", "purged", (json_int_t)w.purged, "remaining", (json_int_t)st.quarantined, "before",
                     day);
}

static json_t *op_contracts(pbrd_api_call *call)
{
    const char *provider = provider_of_role(call->role);
    pbrd_contract_row *rows;
    size_t n;
    if (pbrd_service_contracts(call->api->service, provider, pbrd_api_today(call->api), &rows, &n) != 0)
        return pbrd_api_error("contracts: out of memory");
    json_t *reply = pbrd_reply_contracts(rows, n);
    free(rows);
    return reply;
}

static json_t *op_statement(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX], why[PBR_ERR_MAX];
    call->raw_reply =
        pbrd_service_statement(call->api->service, call->args->contract, call->args->quarter, err, sizeof err);
    if (call->raw_reply != NULL)
        return json_object();
    if (strstr(err, " is not issued") != NULL && /* say why: a wrong date, not due, or not settled yet */
        pbrd_service_provider_of(call->api->service, call->args->contract) != NULL) {
        pbrd_service_unissued_why(call->api->service, call->args->contract, call->args->quarter_date,
                                  pbrd_api_today(call->api), why, sizeof why);
        return pbrd_api_error("%s: %s", err, why);
    }
    return pbrd_api_error("%s", err);
}

static json_t *op_cohorts(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX];
    pbr_line *lines;
    size_t n;
    pbr_date today = pbrd_api_today(call->api);
    if (pbrd_service_cohorts(call->api->service, call->args->contract, today, &lines, &n, err, sizeof err) != 0)
        return pbrd_api_error("%s", err);
    json_t *reply = pbrd_reply_cohorts(call->args->contract, today, lines, n);
    free(lines);
    return reply;
}

/* Starts the settle job; its reply is sent when the job ends (serve_one
 * keeps the client's routing id). */
static json_t *op_settle(pbrd_api_call *call)
{
    pbrd_api *api = call->api;
    if (api->job != NULL)
        return json_pack("{ss sb sI}", "error",
                         pbrd_service_settle_is_auto(api->job)
                             ? "settle: auto-settle is running; try again when it has finished"
                             : "settle: another settle is running; try again when it has finished",
                         "busy", 1, "issued_so_far", (json_int_t)pbrd_service_settle_issued(api->job));
    char why[PBR_ERR_MAX];
    if (pbrd_service_check_settle(api->service, call->args->quarter_date, call->args->contract, pbrd_api_today(api),
                                  why, sizeof why) != 0)
        return pbrd_api_error("settle: %s", why);
    api->job = pbrd_service_settle_begin(api->service, call->args->quarter_date, call->args->contract,
                                         pbrd_api_today(api), 0, why, sizeof why);
    if (api->job == NULL)
        return pbrd_api_error("%s", why);
    call->deferred = 1;
    return json_object();
}

static json_t *op_verify(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX];
    pbrd_verify_result r;
    if (pbrd_service_verify(call->api->service, &r, err, sizeof err) != 0)
        return pbrd_api_error("%s", err);
    json_t *reply = pbrd_reply_verify(&r);
    pbrd_verify_result_clear(&r);
    return reply;
}

static json_t *op_statements(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX];
    pbrd_statement_list l;
    if (pbrd_service_statements(call->api->service, call->args->contract, &l, err, sizeof err) != 0)
        return pbrd_api_error("%s", err);
    json_t *reply = pbrd_reply_statements(&l);
    pbrd_statement_list_clear(&l);
    return reply;
}

static json_t *op_explain(pbrd_api_call *call)
{
    char err[PBR_ERR_MAX] = "";
    const char *seg = json_string_value(json_object_get(call->req, "segment"));
    const char *component = json_string_value(json_object_get(call->req, "component"));
    const char *period = json_string_value(json_object_get(call->req, "period"));
    pbrd_explain_view v;
    if (pbrd_service_explain(call->api->service, call->args->contract, call->args->quarter, component, period, seg, &v,
                             err, sizeof err) != 0)
        return pbrd_api_error("%s", err[0] ? err : "explain: unreadable statement record");
    json_t *reply = pbrd_reply_explain(&v, component, period, seg);
    pbrd_explain_view_clear(&v);
    return reply;
}

static json_t *op_reload(pbrd_api_call *call)
{
    return pbrd_api_reload(call->api);
}

/* Backs the store and the statement files up into the request's dir
 * (backup.h): a path on the daemon's machine. */
static json_t *op_backup(pbrd_api_call *call)
{
    json_t *r = pbrd_backup_run(call->api->store, call->api->cfg->statements_dir, call->args->dir);
    pbrd_metrics_backup(call->api->metrics, json_object_get(r, "error") == NULL);
    return r;
}

static json_t *op_wait(pbrd_api_call *call)
{
    return pbrd_wait_op(call);
}

/* The dispatch table, indexed by pbrd_api_op: op_NAME for every op of
 * PBRD_API_OPS (api_request.h). */
static const pbrd_api_op_fn op_fns[PBRD_OP_COUNT] = {
#define OP_FN(name, needs_service) op_##name,
    PBRD_API_OPS(OP_FN)
#undef OP_FN
};

json_t *pbrd_api_reload(pbrd_api *api)
{
    api->reload_requested = 0;
    char clients_err[PBR_ERR_MAX] = "";
    if (api->auth != NULL && api->cfg->clients != NULL) {
        char q[2 * PBR_ERR_MAX];
        if (pbrd_auth_reload_file(api->auth, api->cfg->clients, clients_err, sizeof clients_err) != 0)
            pbrd_log(PBRD_LOG_WARN, "clients file not reloaded (the previous keys stay in force)", "error=\"%s\"",
                     pbrd_log_quote(clients_err, q, sizeof q));
        else
            pbrd_log(PBRD_LOG_INFO, "clients reloaded", "keys=%zu", pbrd_auth_nclients(api->auth));
    }
    if (api->service == NULL)
        return pbrd_api_error("reload: the settlement service is not running%s%s",
                              clients_err[0] ? "; clients file: " : "", clients_err);
    char err[PBR_ERR_MAX];
    pbrd_reload_result r;
    if (pbrd_service_reload(api->service, pbrd_api_today(api), &r, err, sizeof err) != 0)
        return pbrd_api_error("%s", err);
    json_t *reply = pbrd_reply_reload(&r);
    pbrd_reload_result_clear(&r);
    if (clients_err[0] && reply != NULL)
        json_object_set_new(reply, "clients_error", json_string(clients_err));
    return reply;
}

/* The request's contract name for a log value: as it is when it is a plain
 * token, else quoted and escaped (it is the client's text: it must not be
 * able to add keys or lines to the log). */
static const char *log_contract(const char *contract, char *out, size_t n)
{
    if (contract == NULL)
        return "-";
    int plain = contract[0] != '\0' && strlen(contract) < n;
    for (const char *c = contract; plain && *c; c++)
        plain = (unsigned char)*c > ' ' && *c != '"' && *c != '\\' && *c != '=' && (unsigned char)*c != 0x7f;
    if (plain) {
        snprintf(out, n, "%s", contract);
    } else {
        char q[256];
        snprintf(out, n, "\"%s\"", pbrd_log_quote(contract, q, sizeof q));
    }
    return out;
}

/* Is the caller's role allowed to run this request? Logs refusals. */
static int request_allowed(pbrd_api *api, const pbrd_api_request *r, const char *role)
{
    const char *provider = r->contract && api->service ? pbrd_service_provider_of(api->service, r->contract) : NULL;
    if (pbrd_role_allows(role, r->op_name, provider))
        return 1;
    char c[300];
    pbrd_log(PBRD_LOG_WARN, "request forbidden", "role=%s op=%s contract=%s", role, r->op_name,
             log_contract(r->contract, c, sizeof c));
    return 0;
}

/* Parses the request text and runs its op. Returns the reply (new
 * reference; NULL only when out of memory); *raw is set when the op
 * replies with exact bytes. The order of the checks is api_request.h's. */
static json_t *dispatch(pbrd_api *api, zmq_msg_t *ident, const char *text, size_t len, const char *role, char **raw,
                        int *deferred)
{
    pbrd_api_request r;
    json_t *reply = NULL;
    *raw = NULL;
    if (pbrd_api_request_parse(text, len, &r, &reply) != 0)
        return reply;
    if (!request_allowed(api, &r, role)) {
        reply = json_pack("{ss}", "error", "forbidden");
    } else if (r.needs_service && api->service == NULL) {
        reply = pbrd_api_error("op \"%s\": the settlement service is not running", r.op_name);
    } else if (r.arg_error != NULL) {
        reply = pbrd_api_error("%s", r.arg_error);
    } else {
        pbrd_api_call call = {api, r.req, &r, role, NULL, 0, ident};
        reply = op_fns[r.op](&call);
        *raw = call.raw_reply;
        *deferred = call.deferred;
        if (!reply)
            reply = pbrd_api_error("op \"%s\" failed: out of memory", r.op_name);
    }
    pbrd_api_request_clear(&r);
    return reply;
}

/* ---- transport ---------------------------------------------------------- */

/* Sends [ident][empty][reply as JSON]. */
static void send_reply(pbrd_api *api, zmq_msg_t *ident, json_t *reply, const char *raw)
{
    char *text = raw ? strdup(raw) : reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    const char *out = text ? text : "{\"error\":\"out of memory\"}";
    if (zmq_send(api->router, zmq_msg_data(ident), zmq_msg_size(ident), ZMQ_SNDMORE) < 0 ||
        zmq_send(api->router, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(api->router, out, strlen(out), 0) < 0)
        pbrd_log(PBRD_LOG_WARN, "api reply not sent", "call=zmq_send error=\"%s\"", zmq_strerror(errno));
    free(text);
}

/* Reads one request and answers it. Returns 1 served, 0 none waiting, -1 error. */
static int serve_one(pbrd_api *api)
{
    zmq_msg_t ident, part, body;
    zmq_msg_init(&ident);
    if (zmq_msg_recv(&ident, api->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ident);
        return errno == EAGAIN ? 0 : -1;
    }
    int more = zmq_msg_more(&ident), nframes = 0, delimiter_ok = 0, has_body = 0;
    zmq_msg_init(&body);
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, api->router, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        nframes++;
        if (nframes == 1 && zmq_msg_size(&part) == 0) {
            delimiter_ok = 1;
            zmq_msg_close(&part);
        } else if (nframes == 2 && delimiter_ok) {
            zmq_msg_close(&body);
            body = part;
            has_body = 1;
        } else {
            zmq_msg_close(&part);
        }
    }
    json_t *reply;
    char *raw = NULL, role[PBRD_ROLE_MAX];
    int deferred = 0;
    if (!delimiter_ok)
        reply = pbrd_api_error("missing empty delimiter frame: send [empty][request]");
    else if (!has_body || nframes != 2)
        reply = pbrd_api_error("a request is exactly one frame after the empty delimiter");
    else if (zmq_msg_size(&body) > API_MAX_REQUEST)
        reply = pbrd_api_error("request of %zu bytes is too large", zmq_msg_size(&body));
    else if (pbrd_auth_peer_role(api->auth, &body, role, sizeof role) != 0)
        reply = json_pack("{ss}", "error", "forbidden");
    else
        reply = dispatch(api, &ident, zmq_msg_data(&body), zmq_msg_size(&body), role, &raw, &deferred);
    if (deferred == PBRD_API_PARKED) { /* wait.c answers it */
    } else if (deferred) {             /* answered when the settle job ends */
        zmq_msg_init(&api->job_ident);
        api->job_has_ident = zmq_msg_copy(&api->job_ident, &ident) == 0;
    } else {
        send_reply(api, &ident, reply, raw);
    }
    free(raw);
    json_decref(reply);
    zmq_msg_close(&body);
    zmq_msg_close(&ident);
    return 1;
}

int pbrd_api_serve(pbrd_api *api)
{
    int n = 0;
    while (n < API_MAX_PER_WAKEUP) {
        int rc = serve_one(api);
        if (rc < 0)
            return n > 0 ? n : -1;
        if (rc == 0)
            break;
        n++;
    }
    return n;
}

/* ---- settle jobs ---------------------------------------------------------- */

int pbrd_api_settling(const pbrd_api *api)
{
    return api->job != NULL;
}

void pbrd_api_auto_settle(pbrd_api *api)
{
    if (api->job != NULL || api->service == NULL || !api->cfg->auto_settle)
        return;
    pbr_date today = pbrd_api_today(api);
    if (!pbrd_service_auto_due(api->service, today))
        return;
    char err[PBR_ERR_MAX], q[PBR_ERR_MAX];
    api->job = pbrd_service_settle_begin(api->service, PBR_DATE_MAX, NULL, today, 1, err, sizeof err);
    if (api->job == NULL)
        pbrd_log(PBRD_LOG_ERROR, "auto-settle failed", "error=\"%s\"", pbrd_log_quote(err, q, sizeof q));
}

/* Ends the running job (interrupted: why, or NULL when it finished),
 * answers its client and logs auto-settle's outcome. */
static void finish_job(pbrd_api *api, const char *interrupted)
{
    int is_auto = pbrd_service_settle_is_auto(api->job);
    pbrd_settle_result r;
    pbrd_service_settle_end(api->service, api->job, &r);
    api->job = NULL;
    const char *error = r.error;
    size_t issued = r.nissued;
    char q[PBR_ERR_MAX];
    if (error != NULL)
        pbrd_log(PBRD_LOG_ERROR, is_auto ? "auto-settle failed" : "settle failed", "issued=%zu error=\"%s\"", issued,
                 pbrd_log_quote(error, q, sizeof q));
    else if (interrupted != NULL)
        pbrd_log(PBRD_LOG_WARN, is_auto ? "auto-settle interrupted" : "settle interrupted", "issued=%zu reason=\"%s\"",
                 issued, pbrd_log_quote(interrupted, q, sizeof q));
    else if (is_auto)
        pbrd_log(PBRD_LOG_INFO, "auto-settle finished", "issued=%zu", issued);
    if (api->job_has_ident) {
        json_t *reply = pbrd_reply_settle(&r, interrupted);
        send_reply(api, &api->job_ident, reply, NULL);
        json_decref(reply);
        zmq_msg_close(&api->job_ident);
        api->job_has_ident = 0;
    }
    pbrd_settle_result_clear(&r);
}

int pbrd_api_settle_step(pbrd_api *api)
{
    if (api->job == NULL)
        return 0;
    if (pbrd_service_settle_step(api->service, api->job) == 1)
        return 1;
    finish_job(api, NULL);
    return 0;
}

void pbrd_api_settle_interrupt(pbrd_api *api, const char *why)
{
    if (api->job != NULL)
        finish_job(api, why);
}

void pbrd_api_reply(pbrd_api *api, zmq_msg_t *ident, json_t *reply)
{
    send_reply(api, ident, reply, NULL);
}

int pbrd_api_publish(pbrd_api *api, const char *topic, const char *json)
{
    if (zmq_send(api->pub, topic, strlen(topic), ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(api->pub, json, strlen(json), 0) < 0 ? -1 : 0;
}

/* Sends body as compact JSON on topic; failures are logged. */
static void publish_json(pbrd_api *api, const char *topic, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text != NULL && pbrd_api_publish(api, topic, text) != 0)
        pbrd_log(PBRD_LOG_WARN, "publish failed", "topic=%s error=\"%s\"", topic, zmq_strerror(errno));
    free(text);
}

/* pbrd_service_events.statement: wakes the wait op's requests that may
 * see it, then announces it on "statement". */
static void announce_statement(void *ctx, const pbrd_issued *st, const char *sha256)
{
    pbrd_api *api = ctx;
    pbrd_wait_statement(api, st->contract, st->quarter);
    json_t *body = pbrd_reply_statement_message(st, sha256);
    publish_json(api, "statement", body);
    json_decref(body);
}

/* pbrd_service_events.reload: announces a (re)load on "reload". */
static void announce_reload(void *ctx, const pbrd_reload_result *r)
{
    json_t *body = pbrd_reply_reload(r);
    publish_json(ctx, "reload", body);
    json_decref(body);
}

const pbrd_service_events pbrd_api_events = {announce_statement, announce_reload};

/* ---- AUTH ----------------------------------------------------------------
 * With auth.server_secret_key configured every socket is a CURVE server and
 * the ZAP handler of auth.c (started before any socket binds) admits only
 * the keys of auth.clients; each request's role is read from its frames
 * (pbrd_auth_peer_role) and checked per op (request_allowed).
 */

/* Creates, secures and binds one socket. Returns it or NULL with err. */
static void *open_socket(void *zctx, int type, const char *endpoint, const char *curve_secret, const char *domain,
                         char *err, size_t errlen)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        pbr_errf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int linger = 1000;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_LINGER): %s", zmq_strerror(errno));
        goto fail;
    }
    if (type == ZMQ_ROUTER) {
        int64_t maxmsg = API_MAX_REQUEST;
        if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
            pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_MAXMSGSIZE): %s", zmq_strerror(errno));
            goto fail;
        }
    }
    if (curve_secret && pbrd_auth_curve_server(s, curve_secret, domain, err, errlen) < 0)
        goto fail;
    if (zmq_bind(s, endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_bind(%s): %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    return s;
fail:
    zmq_close(s);
    return NULL;
}

int pbrd_api_open(pbrd_api *api, void *zctx, pbr_store *store, const pbrd_config *cfg, const char *curve_secret,
                  char *err, size_t errlen)
{
    memset(api, 0, sizeof *api);
    api->zctx = zctx;
    api->store = store;
    api->cfg = cfg;
    api->waits = pbrd_waits_new();
    if (api->waits == NULL)
        return pbr_errf(err, errlen, "pbrd_waits_new: out of memory");
    api->router = open_socket(zctx, ZMQ_ROUTER, cfg->api, curve_secret, NULL, err, errlen);
    if (!api->router) {
        pbrd_waits_destroy(&api->waits, NULL, NULL);
        api->waits = NULL;
        return -1;
    }
    api->pub = open_socket(zctx, ZMQ_PUB, cfg->publish, curve_secret, PBRD_ZAP_DOMAIN_PUBLISH, err, errlen);
    if (!api->pub) {
        zmq_close(api->router);
        api->router = NULL;
        pbrd_waits_destroy(&api->waits, NULL, NULL);
        api->waits = NULL;
        return -1;
    }
    return 0;
}

void pbrd_api_close(pbrd_api *api)
{
    if (api->job_has_ident)
        zmq_msg_close(&api->job_ident);
    api->job_has_ident = 0;
    if (api->router != NULL)
        pbrd_waits_destroy(&api->waits, api, "wait: pbrd is stopping");
    else
        pbrd_waits_destroy(&api->waits, NULL, NULL);
    api->waits = NULL;
    if (api->pub)
        zmq_close(api->pub);
    if (api->router)
        zmq_close(api->router);
    api->pub = api->router = NULL;
}

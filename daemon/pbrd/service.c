/* service.c -- owns the settlement domain: contracts in force
 * (reloadable), the event set mirrored from the store, quarter closing
 * with immutable statements, provisional figures and verification. It
 * answers with C structs and status codes (service.h); api_reply.c shapes
 * them as JSON, record.c keeps the statement records and files.
 *
 * Issuing is: evaluate, commit the statement record (record.h) and the
 * contract version's bytes in one LMDB transaction, then write the
 * statement's files atomically. A crash between the two is repaired at
 * open: files are rewritten from the store (pbrd_record_repair).
 */
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/due.h"
#include "pbr/eventset.h"
#include "pbr/ledger_json.h"
#include "pbr/num.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/sha256.h"
#include "pbrd/log.h"
#include "pbrd/record.h"
#include "pbrd/service.h"

typedef struct loaded {
    pbr_contract *c;
    char *file;                         /* the file it was loaded from */
    pbr_ledger *ledger;                 /* history after its last issued statement */
    char last_quarter[PBR_DATE_STRLEN]; /* "" before the first */
    pbr_date first_loaded;              /* the day its id was first loaded into this store */
    pbr_line *cohorts;                  /* cached provisional lines (pbrd_service_cohorts), or NULL */
    size_t ncohorts;                    /* ... how many */
    uint64_t cohorts_seq;               /* ... computed over the events up to this seq */
    pbr_date cohorts_day;               /* ... as of this date */
} loaded;

typedef struct version {
    char sha[65];
    pbr_contract *c; /* NULL when the store does not hold it */
} version;

struct pbrd_service {
    pbr_store *store;
    char *contracts_dir;
    char *statements_dir;
    loaded *contracts;
    size_t n;
    version *versions; /* contract versions read back from the store */
    size_t nversions;
    pbr_eventset *ev;
    uint64_t loaded_seq;               /* events mirrored up to this seq */
    uint64_t unfinished;               /* events mirrored since the set was last finished */
    int quiet;                         /* the last idle call found the store unchanged */
    const pbrd_service_events *events; /* announcements, or NULL */
    void *events_ctx;
    int auto_settle;         /* the daemon settles due quarters by itself */
    pbrd_metrics *metrics;   /* settle and reload counters, or NULL */
    uint64_t generation;     /* bumped by every reload (settle jobs re-scan) */
    size_t last_load_errors; /* files that failed at the last (re)load */
};

/* ---- events ------------------------------------------------------------------- */

typedef struct mirror_ctx {
    pbr_eventset *ev;
    uint64_t last;
    char err[PBR_ERR_MAX];
} mirror_ctx;

static int mirror_one(void *ctx, uint64_t seq, const char *json, size_t len)
{
    mirror_ctx *m = ctx;
    pbr_event e;
    if (pbr_event_parse(json, len, &e, m->err, sizeof m->err) != 0)
        return -1;
    int rc = pbr_eventset_add(m->ev, &e, seq, m->err, sizeof m->err);
    pbr_event_clear(&e);
    m->last = seq;
    return rc == 0 ? 0 : -1;
}

/* Mirrors the events after loaded_seq up to seq upto from the store into
 * the set, without finishing it. Returns 0 or -1 (err). */
static int mirror_events(pbrd_service *svc, uint64_t upto, char *err, size_t errlen)
{
    mirror_ctx m = {svc->ev, svc->loaded_seq, ""};
    int rc = pbr_store_foreach_event(svc->store, svc->loaded_seq + 1, upto, mirror_one, &m, err, errlen);
    svc->unfinished += m.last - svc->loaded_seq;
    svc->loaded_seq = m.last;
    if (rc != 0)
        return pbr_errf(err, errlen, "reading the event log: %s", m.err[0] ? m.err : err);
    return 0;
}

/* Finishes (sorts and indexes) what was mirrored since the last finish.
 * Returns 0 or -1 (err). */
static int finish_events(pbrd_service *svc, char *err, size_t errlen)
{
    if (svc->unfinished == 0)
        return 0;
    svc->unfinished = 0;
    return pbr_eventset_finish(svc->ev, 0, err, errlen);
}

/* Brings the event set up to the store's last commit. Usually the idle
 * mirroring (pbrd_service_idle) has done it already. Returns 0 or -1 (err). */
static int refresh_events(pbrd_service *svc, char *err, size_t errlen)
{
    pbr_store_stats st;
    if (pbr_store_get_stats(svc->store, &st, err, errlen) != 0)
        return -1;
    if (st.last_seq > svc->loaded_seq && mirror_events(svc, st.last_seq, err, errlen) != 0)
        return -1;
    return finish_events(svc, err, errlen);
}

#define IDLE_MIRROR_STEP 50000   /* events mirrored per idle call (about 0.1 s) */
#define IDLE_FINISH_EVERY 250000 /* finish during a long burst: no one finish sorts (and copies) much */

int pbrd_service_idle(pbrd_service *svc)
{
    char err[PBR_ERR_MAX];
    pbr_store_stats st;
    if (pbr_store_get_stats(svc->store, &st, err, sizeof err) != 0)
        goto fail;
    if (st.last_seq > svc->loaded_seq) {
        uint64_t upto =
            st.last_seq - svc->loaded_seq > IDLE_MIRROR_STEP ? svc->loaded_seq + IDLE_MIRROR_STEP : st.last_seq;
        svc->quiet = 0;
        if (mirror_events(svc, upto, err, sizeof err) != 0)
            goto fail;
        if (svc->unfinished >= IDLE_FINISH_EVERY && finish_events(svc, err, sizeof err) != 0)
            goto fail;
        return 1;
    }
    /* the store has stopped growing for one idle interval: index now, and
     * give back what the burst's parsing left free in the heaps */
    if (svc->unfinished > 0 && svc->quiet) {
        if (finish_events(svc, err, sizeof err) != 0)
            goto fail;
        malloc_trim(0);
    }
    svc->quiet = 1;
    return 0;
fail:
    pbrd_log(PBRD_LOG_ERROR, "mirroring events failed", "error=\"%s\"", err);
    return -1;
}

/* ---- contract versions ----------------------------------------------------------------- */

/* The contract with this sha: a loaded one, or a version read from the store. */
static const pbr_contract *version_lookup(void *ctx, const char *sha)
{
    pbrd_service *svc = ctx;
    for (size_t i = 0; i < svc->n; i++) {
        if (strcmp(svc->contracts[i].c->sha256, sha) == 0)
            return svc->contracts[i].c;
    }
    for (size_t i = 0; i < svc->nversions; i++) {
        if (strcmp(svc->versions[i].sha, sha) == 0)
            return svc->versions[i].c;
    }
    version *nv = realloc(svc->versions, (svc->nversions + 1) * sizeof *nv);
    if (nv == NULL)
        return NULL;
    svc->versions = nv;
    version *v = &svc->versions[svc->nversions++];
    snprintf(v->sha, sizeof v->sha, "%s", sha);
    v->c = NULL;
    char err[PBR_ERR_MAX], *bytes;
    size_t len;
    if (pbr_store_get_contract(svc->store, sha, &bytes, &len, err, sizeof err) != PBR_STORE_OK)
        return NULL;
    pbr_diag d;
    char name[80];
    snprintf(name, sizeof name, "store:%.12s", sha);
    if (pbr_contract_parse(name, bytes, len, &v->c, &d) != 0)
        pbrd_log(PBRD_LOG_ERROR, "stored contract version does not parse", "sha256=%s line=%d", sha, d.line);
    free(bytes);
    return v->c;
}

/* The title of the contract version sha (the CSV's title column), or NULL
 * when the version is unknown. */
static const char *version_title(pbrd_service *svc, const char *sha)
{
    const pbr_contract *c = sha ? version_lookup(svc, sha) : NULL;
    return c ? c->title : NULL;
}

/* ---- the contracts in force ---------------------------------------------------------------- */

static loaded *find_loaded(const pbrd_service *svc, const char *id)
{
    for (size_t i = 0; i < svc->n; i++) {
        if (strcmp(svc->contracts[i].c->id, id) == 0)
            return &svc->contracts[i];
    }
    return NULL;
}

typedef struct last_record_ctx {
    pbrd_record last;
    char quarter[PBR_DATE_STRLEN];
    int ok;
} last_record_ctx;

/* pbr_store_event_fn: keeps the record (and its quarter) of the last
 * statement of a contract. */
static int keep_last_record(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    last_record_ctx *l = ctx;
    char err[PBR_ERR_MAX];
    pbrd_record_key k;
    pbrd_record_clear(&l->last);
    l->ok = pbrd_record_decode(json, len, &l->last, err, sizeof err) == 0;
    snprintf(l->quarter, sizeof l->quarter, "%s",
             l->ok && pbrd_record_key_of(&l->last, &k, err, sizeof err) == 0 ? k.quarter : "");
    return 0;
}

/* Restores a contract's ledger from its last stored statement. Returns 0 or -1. */
static int restore_ledger(pbrd_service *svc, loaded *l, char *err, size_t errlen)
{
    last_record_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (pbr_store_foreach_statement(svc->store, l->c->id, keep_last_record, &ctx, err, errlen) != 0) {
        pbrd_record_clear(&ctx.last);
        return -1;
    }
    pbr_ledger *lg =
        ctx.ok ? pbr_ledger_from_json(ctx.last.ledger, strlen(ctx.last.ledger), err, errlen) : pbr_ledger_new();
    pbrd_record_clear(&ctx.last);
    if (lg == NULL)
        return -1;
    pbr_ledger_destroy(&l->ledger);
    l->ledger = lg;
    snprintf(l->last_quarter, sizeof l->last_quarter, "%s", ctx.quarter);
    return 0;
}

/* A contract version to store, the day it is loaded, and the first-loaded
 * day read back. */
typedef struct version_put {
    const pbr_contract *c;
    char day[PBR_DATE_STRLEN];
    char first[PBR_STORE_DATE_LEN];
} version_put;

/* pbr_store_work_fn: stores one contract version; an identical stored
 * version (CONFLICT from the content-addressed put) is success. */
static int put_contract_version(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    const pbr_contract *c = ctx;
    int rc = pbr_store_put_contract(txn, c->sha256, c->bytes, c->nbytes, err, errlen);
    return rc == PBR_STORE_CONFLICT ? PBR_STORE_OK : rc;
}

/* pbr_store_work_fn: put_contract_version, and the contract id's
 * first-loaded day unless one is recorded. */
static int put_version_first_loaded(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    version_put *v = ctx;
    int rc = put_contract_version(txn, (void *)v->c, err, errlen);
    if (rc != PBR_STORE_OK)
        return rc;
    return pbr_store_put_first_loaded(txn, v->c->id, v->day, v->first, err, errlen);
}

/* Stores the contract's bytes as a version (idempotent) and, the first
 * time its id is seen, today as its first-loaded day; *first_loaded gets
 * the recorded day. Returns 0 or -1. */
static int store_contract_version(pbrd_service *svc, const pbr_contract *c, pbr_date today, pbr_date *first_loaded,
                                  char *err, size_t errlen)
{
    version_put v = {c, "", ""};
    pbr_date_format(today, v.day);
    if (pbr_store_write(svc->store, put_version_first_loaded, &v, err, errlen) != 0)
        return -1;
    if (pbr_date_parse(v.first, strlen(v.first), first_loaded) != 0)
        return pbr_errf(err, errlen, "contract %s: stored first-loaded day \"%s\" is not a date", c->id, v.first);
    return 0;
}

static void loaded_free(loaded *l)
{
    free(l->cohorts);
    pbr_contract_destroy(&l->c);
    pbr_ledger_destroy(&l->ledger);
    free(l->file);
}

/* Logs a reload error at warn as error="FILE:LINE:COL: message" (quoted
 * for logfmt: contract messages hold quotes and spaces). */
static void log_reload_error(const pbr_diag *d)
{
    char msg[PBR_ERR_MAX + 300], q[2 * (PBR_ERR_MAX + 300)];
    pbr_diag_format(d, msg, sizeof msg);
    pbrd_log(PBRD_LOG_WARN, "contract not loaded", "error=\"%s\"", pbrd_log_quote(msg, q, sizeof q));
}

/* Loads one file into the new table, keeping the old version on error.
 * Appends the contract's id to out->loaded (which has room), or its
 * diagnostic to out->errors (likewise). */
static void reload_file(pbrd_service *svc, const char *path, pbr_date today, loaded *next, size_t *nnext,
                        pbrd_reload_result *out)
{
    char err[PBR_ERR_MAX];
    pbr_contract *c;
    pbr_diag d;
    if (pbr_contract_load(path, &c, &d) != 0) {
        log_reload_error(&d);
        out->errors[out->nerrors++] = d;
        /* the previous version from this file stays in force */
        for (size_t i = 0; i < svc->n; i++) {
            if (svc->contracts[i].file && strcmp(svc->contracts[i].file, path) == 0 && svc->contracts[i].c) {
                next[(*nnext)++] = svc->contracts[i];
                svc->contracts[i].c = NULL;
                svc->contracts[i].ledger = NULL;
                svc->contracts[i].file = NULL;
                svc->contracts[i].cohorts = NULL;
            }
        }
        return;
    }
    for (size_t i = 0; i < *nnext; i++) {
        if (strcmp(next[i].c->id, c->id) == 0) {
            pbr_diag dup = {"", 1, 1, ""};
            snprintf(dup.file, sizeof dup.file, "%.250s", path);
            snprintf(dup.message, sizeof dup.message, "contract \"%.64s\" is already defined in %.300s", c->id,
                     next[i].file);
            log_reload_error(&dup);
            out->errors[out->nerrors++] = dup;
            pbr_contract_destroy(&c);
            return;
        }
    }
    pbr_date first_loaded;
    if (store_contract_version(svc, c, today, &first_loaded, err, sizeof err) != 0) {
        pbrd_log(PBRD_LOG_ERROR, "contract version not stored", "contract=%s error=\"%s\"", c->id, err);
        pbr_diag sd = {"", 0, 0, ""};
        snprintf(sd.file, sizeof sd.file, "%.250s", path);
        snprintf(sd.message, sizeof sd.message, "storing the contract version failed: %.400s", err);
        log_reload_error(&sd);
        out->errors[out->nerrors++] = sd;
        pbr_contract_destroy(&c);
        return;
    }
    loaded *l = &next[(*nnext)++];
    memset(l, 0, sizeof *l);
    l->c = c;
    l->first_loaded = first_loaded;
    l->file = strdup(path);
    if (restore_ledger(svc, l, err, sizeof err) != 0)
        pbrd_log(PBRD_LOG_ERROR, "ledger not restored", "contract=%s error=\"%s\"", c->id, err);
    char *id = strdup(c->id);
    if (id != NULL) /* out of memory: loaded, but left out of the list */
        out->loaded[out->nloaded++] = id;
}

void pbrd_reload_result_clear(pbrd_reload_result *r)
{
    if (r == NULL)
        return;
    pbr_free_list(r->loaded, r->nloaded);
    free(r->errors);
    memset(r, 0, sizeof *r);
}

int pbrd_service_reload(pbrd_service *svc, pbr_date today, pbrd_reload_result *out, char *err, size_t errlen)
{
    size_t nfiles;
    char q[PBR_ERR_MAX];
    memset(out, 0, sizeof *out);
    char **files = pbr_list_contract_files(svc->contracts_dir, &nfiles, err, errlen);
    if (files == NULL) { /* the contracts in force stay in force */
        pbrd_log(PBRD_LOG_WARN, "contracts not reloaded", "dir=%s error=\"%s\"", svc->contracts_dir,
                 pbrd_log_quote(err, q, sizeof q));
        return -1;
    }
    /* every file ends up loaded or with one error: room for nfiles of each */
    loaded *next = calloc(nfiles + svc->n + 1, sizeof *next);
    out->loaded = calloc(nfiles + 1, sizeof *out->loaded);
    out->errors = calloc(nfiles + 1, sizeof *out->errors);
    if (next == NULL || out->loaded == NULL || out->errors == NULL) {
        free(next);
        pbrd_reload_result_clear(out);
        pbr_free_list(files, nfiles);
        return pbr_errf(err, errlen, "reload: out of memory");
    }
    size_t nnext = 0;
    for (size_t i = 0; i < nfiles; i++)
        reload_file(svc, files[i], today, next, &nnext, out);
    pbr_free_list(files, nfiles);
    for (size_t i = 0; i < svc->n; i++)
        loaded_free(&svc->contracts[i]);
    free(svc->contracts);
    svc->contracts = next;
    svc->n = nnext;
    svc->generation++;
    svc->last_load_errors = out->nerrors;
    pbrd_metrics_reload(svc->metrics, nnext, svc->last_load_errors, 0);
    pbrd_log(PBRD_LOG_INFO, "contracts reloaded", "dir=%s loaded=%zu errors=%zu", svc->contracts_dir, nnext,
             out->nerrors);
    if (svc->events != NULL && svc->events->reload != NULL)
        svc->events->reload(svc->events_ctx, out);
    return 0;
}

/* ---- issuing ---------------------------------------------------------------------------------- */

typedef struct statement_record {
    const pbr_contract *c;
    const char *quarter;
    const char *rec;
} statement_record;

/* pbr_store_work_fn: the contract version the statement was issued under,
 * then the statement record (CONFLICT if the quarter is already issued). */
static int put_statement_record(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    const statement_record *r = ctx;
    int rc = put_contract_version(txn, (void *)r->c, err, errlen);
    if (rc == PBR_STORE_OK)
        rc = pbr_store_put_statement(txn, r->c->id, r->quarter, r->rec, strlen(r->rec), err, errlen);
    return rc;
}

/* Commits one statement record. Returns 0, or -1 with err. */
static int commit_record(pbrd_service *svc, const pbr_contract *c, const char *quarter, const char *rec, char *err,
                         size_t errlen)
{
    statement_record r = {c, quarter, rec};
    int rc = pbr_store_write(svc->store, put_statement_record, &r, err, errlen);
    if (rc == PBR_STORE_CONFLICT)
        return pbr_errf(err, errlen, "statement %s %s is already issued", c->id, quarter);
    return rc == 0 ? 0 : -1;
}

/* Announces an issued statement (events->statement): st and the SHA-256
 * of its canonical JSON. */
static void announce_statement(pbrd_service *svc, const pbrd_issued *st, const char *json)
{
    if (svc->events == NULL || svc->events->statement == NULL)
        return;
    char sha[65];
    pbr_sha256_hex(json, strlen(json), sha);
    svc->events->statement(svc->events_ctx, st, sha);
}

/* Appends st to r->issued (growing it; *cap its room). Returns 0, or -1
 * when out of memory. */
static int add_issued(pbrd_settle_result *r, size_t *cap, const pbrd_issued *st)
{
    if (r->nissued == *cap) {
        size_t ncap = *cap ? 2 * *cap : 16;
        pbrd_issued *ni = realloc(r->issued, ncap * sizeof *ni);
        if (ni == NULL)
            return -1;
        r->issued = ni;
        *cap = ncap;
    }
    r->issued[r->nissued++] = *st;
    return 0;
}

/* Issues quarter q of l. Returns 0 and appends it to issued (*cap its
 * room), or -1 with err. */
static int issue_quarter(pbrd_service *svc, loaded *l, pbr_date q, pbrd_settle_result *issued, size_t *cap, char *err,
                         size_t errlen)
{
    char quarter[PBR_DATE_STRLEN];
    pbr_date_format(q, quarter);
    pbr_ledger *work = pbr_ledger_copy(l->ledger);
    if (work == NULL)
        return pbr_errf(err, errlen, "issuing %s %s: out of memory", l->c->id, quarter);
    pbr_statement *s = NULL;
    char *json = NULL, *ledger_json = NULL, *rec = NULL;
    int rc = -1;
    pbr_eval_view view = {.contract = l->c, .events = svc->ev, .events_through = pbr_eventset_last_seq(svc->ev)};
    pbr_settle_request req = {.quarter = q, .versions = version_lookup, .versions_ctx = svc};
    if (pbr_settle_quarter(&view, &req, work, &s, err, errlen) != 0)
        goto out;
    json = pbr_statement_to_json(s, NULL);
    ledger_json = pbr_ledger_to_json(work);
    rec = json && ledger_json ? pbrd_record_encode(l->c->sha256, json, ledger_json) : NULL;
    if (rec == NULL) {
        pbr_errf(err, errlen, "issuing %s %s: out of memory", l->c->id, quarter);
        goto out;
    }
    if (commit_record(svc, l->c, quarter, rec, err, errlen) != 0)
        goto out;
    /* committed: the statement is issued; files follow (repaired at open if we die here) */
    pbr_ledger_destroy(&l->ledger);
    l->ledger = work;
    work = NULL;
    snprintf(l->last_quarter, sizeof l->last_quarter, "%s", quarter);
    if (pbrd_record_write_files(svc->statements_dir, l->c->id, quarter, l->c->title, json, err, errlen) != 0)
        pbrd_log(PBRD_LOG_ERROR, "statement files not written", "contract=%s quarter=%s error=\"%s\"", l->c->id,
                 quarter, err);
    pbrd_log(PBRD_LOG_INFO, "statement issued", "contract=%s quarter=%s total_pence=%lld events_through=%llu", l->c->id,
             quarter, (long long)s->total_pence, (unsigned long long)s->events_through);
    pbrd_issued st;
    snprintf(st.contract, sizeof st.contract, "%s", l->c->id);
    snprintf(st.quarter, sizeof st.quarter, "%s", quarter);
    st.total_pence = s->total_pence;
    if (add_issued(issued, cap, &st) != 0) /* issued all the same: the job's list is short of one */
        pbrd_log(PBRD_LOG_ERROR, "issued statement not listed in the settle reply",
                 "contract=%s quarter=%s error=\"out of memory\"", l->c->id, quarter);
    announce_statement(svc, &st, json);
    rc = 0;
out:
    if (s != NULL) {
        pbr_statement_destroy(&s);
    }
    free(json);
    free(ledger_json);
    free(rec);
    pbr_ledger_destroy(&work);
    return rc;
}

static pbr_date next_quarter_of(const loaded *l)
{
    pbr_date q = pbr_ledger_next_quarter(l->ledger);
    return q == PBR_DATE_NONE ? pbr_contract_first_quarter(l->c) : q;
}

/* Whether auto-settle may issue quarter q of l: only a quarter that was
 * not yet due (A(q) >= the day) when l's id was first loaded into this
 * store. Older ones are a backlog that only an explicit settle issues: a
 * new store must never fill with statements issued before any event came. */
static int auto_may_issue(const loaded *l, pbr_date q)
{
    return !pbr_quarter_held_back(l->c, q, l->first_loaded);
}

/* The quarter of l a settle issues next (its next unissued quarter, when
 * it is within through and the contract's range, A(Q) < today and, with
 * is_auto, auto_may_issue allows it), or PBR_DATE_NONE. */
static pbr_date issuable_quarter(const loaded *l, pbr_date through, pbr_date today, int is_auto)
{
    pbr_date q = next_quarter_of(l);
    if (q > through || pbr_quarter_state_of(l->c, q, today) != PBR_QUARTER_DUE)
        return PBR_DATE_NONE;
    if (is_auto && !auto_may_issue(l, q))
        return PBR_DATE_NONE;
    return q;
}

struct pbrd_settle_job {
    pbr_date through;
    char *contract; /* only this contract, or NULL */
    pbr_date today;
    int is_auto;
    size_t next;               /* index into svc->contracts to look at next */
    uint64_t generation;       /* svc->generation when next was set */
    pbrd_settle_result result; /* what it issued, and the error that ended it */
    size_t cap;                /* room in result.issued */
    uint64_t started_ns;       /* for the metrics */
};

pbrd_settle_job *pbrd_service_settle_begin(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                                           int is_auto, char *err, size_t errlen)
{
    if (contract != NULL && find_loaded(svc, contract) == NULL) {
        pbr_errf(err, errlen, "settle: no such contract");
        return NULL;
    }
    if (refresh_events(svc, err, errlen) != 0)
        return NULL;
    pbrd_settle_job *job = calloc(1, sizeof *job);
    if (job != NULL && contract != NULL && (job->contract = strdup(contract)) == NULL) {
        free(job);
        job = NULL;
    }
    if (job == NULL) {
        pbr_errf(err, errlen, "settle: out of memory");
        return NULL;
    }
    job->through = through;
    job->today = today;
    job->is_auto = is_auto;
    job->generation = svc->generation;
    job->started_ns = pbrd_metrics_now_ns();
    return job;
}

int pbrd_service_settle_step(pbrd_service *svc, pbrd_settle_job *job)
{
    char err[PBR_ERR_MAX];
    if (job->result.error != NULL)
        return -1;
    if (job->generation != svc->generation) { /* a reload replaced the table: look again from the start */
        job->next = 0;
        job->generation = svc->generation;
    }
    for (; job->next < svc->n; job->next++) {
        loaded *l = &svc->contracts[job->next];
        if (job->contract != NULL && strcmp(l->c->id, job->contract) != 0)
            continue;
        pbr_date q = issuable_quarter(l, job->through, job->today, job->is_auto);
        if (q == PBR_DATE_NONE)
            continue;
        if (issue_quarter(svc, l, q, &job->result, &job->cap, err, sizeof err) != 0) {
            job->result.error = strdup(err);
            if (job->result.error == NULL) /* still an error: says what failed first */
                job->result.error = strdup("settle: out of memory");
            return -1;
        }
        return 1; /* the same contract may have more: looked at again next step */
    }
    return 0;
}

size_t pbrd_service_settle_issued(const pbrd_settle_job *job)
{
    return job->result.nissued;
}

int pbrd_service_settle_is_auto(const pbrd_settle_job *job)
{
    return job->is_auto;
}

void pbrd_settle_result_clear(pbrd_settle_result *r)
{
    if (r == NULL)
        return;
    free(r->issued);
    free(r->error);
    memset(r, 0, sizeof *r);
}

void pbrd_service_settle_end(pbrd_service *svc, pbrd_settle_job *job, pbrd_settle_result *out)
{
    pbrd_metrics_settle(svc->metrics, pbrd_metrics_now_ns() - job->started_ns, job->result.error == NULL,
                        job->result.nissued);
    *out = job->result;
    free(job->contract);
    free(job);
}

int pbrd_service_settle(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                        pbrd_settle_result *out)
{
    char err[PBR_ERR_MAX];
    memset(out, 0, sizeof *out);
    pbrd_settle_job *job = pbrd_service_settle_begin(svc, through, contract, today, 0, err, sizeof err);
    if (job == NULL) {
        out->error = strdup(err);
        return -1;
    }
    while (pbrd_service_settle_step(svc, job) == 1)
        ;
    pbrd_service_settle_end(svc, job, out);
    return out->error == NULL ? 0 : -1;
}

int pbrd_service_auto_due(const pbrd_service *svc, pbr_date today)
{
    for (size_t i = 0; i < svc->n; i++)
        if (issuable_quarter(&svc->contracts[i], PBR_DATE_MAX, today, 1) != PBR_DATE_NONE)
            return 1;
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------------- */

const char *pbrd_service_provider_of(const pbrd_service *svc, const char *contract)
{
    const loaded *l = find_loaded(svc, contract);
    return l ? l->c->provider : NULL;
}

size_t pbrd_service_ncontracts(const pbrd_service *svc)
{
    return svc->n;
}

/* The number of l's quarters that are due (A(Q) < today) and not issued;
 * *held gets how many of them wait for an explicit settle (all of them
 * when auto-settle is off or the next one was already due when l was
 * first loaded: statements are issued in order). */
static size_t due_quarters(const pbrd_service *svc, const loaded *l, pbr_date today, size_t *held)
{
    size_t n = 0;
    pbr_date first = next_quarter_of(l);
    for (pbr_date q = first; pbr_quarter_state_of(l->c, q, today) == PBR_QUARTER_DUE; q = pbr_add_months(q, 3))
        n++;
    *held = n > 0 && (!svc->auto_settle || !auto_may_issue(l, first)) ? n : 0;
    return n;
}

/* "up to date", "due" (auto-settle issues it at its next tick) or "due,
 * awaiting settle" (only an explicit settle issues it). */
static const char *settle_state(size_t due, size_t held)
{
    return due == 0 ? "up to date" : held > 0 ? "due, awaiting settle" : "due";
}

size_t pbrd_service_awaiting_settle(const pbrd_service *svc, const char *provider, pbr_date today)
{
    size_t total = 0;
    for (size_t i = 0; i < svc->n; i++) {
        const loaded *l = &svc->contracts[i];
        size_t held;
        if (provider != NULL && strcmp(l->c->provider, provider) != 0)
            continue;
        due_quarters(svc, l, today, &held);
        total += held;
    }
    return total;
}

int pbrd_service_contracts(const pbrd_service *svc, const char *provider, pbr_date today, pbrd_contract_row **rows,
                           size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (svc->n == 0)
        return 0;
    pbrd_contract_row *out = calloc(svc->n, sizeof *out);
    if (out == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < svc->n; i++) {
        const loaded *l = &svc->contracts[i];
        if (provider != NULL && strcmp(l->c->provider, provider) != 0)
            continue;
        pbrd_contract_row *r = &out[k++];
        size_t held;
        r->contract = l->c->id;
        r->provider = l->c->provider;
        r->title = l->c->title;
        r->sha256 = l->c->sha256;
        snprintf(r->last_statement, sizeof r->last_statement, "%s", l->last_quarter);
        pbr_date_format(l->first_loaded, r->first_loaded);
        r->due = due_quarters(svc, l, today, &held);
        r->state = settle_state(r->due, held);
    }
    if (k == 0) {
        free(out);
        out = NULL;
    }
    *rows = out;
    *n = k;
    return 0;
}

/* Why quarter q of l cannot have a statement (yet), into err: not the
 * first day of one of l's quarters, outside its quarters, or not due
 * (A(q) not yet passed). Returns 0 when q is a due quarter of l, -1 with
 * err otherwise. */
static int quarter_problem(const loaded *l, pbr_date q, pbr_date today, char *err, size_t errlen)
{
    char qs[PBR_DATE_STRLEN], other[PBR_DATE_STRLEN], other2[PBR_DATE_STRLEN];
    pbr_date_format(q, qs);
    pbr_date start = pbr_quarter_of(q, l->c->year_start);
    if (start != q) {
        pbr_date_format(start, other);
        return pbr_errf(err, errlen,
                        "%s is not the first day of a quarter of %s (its quarters follow year_start %d): did you "
                        "mean %s?",
                        qs, l->c->id, l->c->year_start, other);
    }
    pbr_date first = pbr_contract_first_quarter(l->c), last = pbr_contract_last_quarter(l->c);
    if (q < first || q > last) {
        pbr_date_format(first, other);
        pbr_date_format(last, other2);
        return pbr_errf(err, errlen, "%s is not a quarter of %s (its statements run from %s to %s)", qs, l->c->id,
                        other, other2);
    }
    pbr_date due = pbr_issue_date(l->c, q);
    if (due >= today) {
        pbr_date_format(due, other);
        pbr_date_format(today, other2);
        return pbr_errf(err, errlen,
                        "the statement of %s for %s is not due yet: A(Q) is %s (the quarter's end plus "
                        "settle_after_days) and today is %s; it can be issued from the day after",
                        l->c->id, qs, other, other2);
    }
    return 0;
}

int pbrd_service_unissued_why(const pbrd_service *svc, const char *contract, pbr_date q, pbr_date today, char *err,
                              size_t errlen)
{
    const loaded *l = find_loaded(svc, contract);
    if (l == NULL)
        return pbr_errf(err, errlen, "no such contract");
    if (quarter_problem(l, q, today, err, errlen) != 0)
        return 0;
    return pbr_errf(err, errlen, "it is due; issue it with pbrctl settle");
}

int pbrd_service_check_settle(const pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                              char *err, size_t errlen)
{
    const loaded *named = contract != NULL ? find_loaded(svc, contract) : NULL;
    if (contract != NULL && named == NULL)
        return 0;        /* settle itself says "no such contract" */
    if (named != NULL) { /* past its range: "everything", like a settle of all */
        if (pbr_quarter_of(through, named->c->year_start) == through && through > pbr_contract_last_quarter(named->c))
            return 0;
        return quarter_problem(named, through, today, err, errlen) == 0 ||
                issuable_quarter(named, through, today, 0) != PBR_DATE_NONE
            ? 0
            : -1;
    }
    /* every contract: refuse a date that starts no contract's quarter, and
     * a quarter due for none of the contracts it starts a quarter of when
     * nothing earlier is left to issue either (past a contract's range it
     * means "everything" for that contract: due) */
    int starts_a_quarter = svc->n == 0, issuable = 0, due = 0;
    char not_start[PBR_ERR_MAX] = "", not_due[PBR_ERR_MAX] = "";
    for (size_t i = 0; i < svc->n; i++) {
        const loaded *l = &svc->contracts[i];
        if (pbr_quarter_of(through, l->c->year_start) != through) {
            if (not_start[0] == '\0')
                quarter_problem(l, through, today, not_start, sizeof not_start);
            continue;
        }
        starts_a_quarter = 1;
        if (issuable_quarter(l, through, today, 0) != PBR_DATE_NONE)
            issuable = 1;
        if (through > pbr_contract_last_quarter(l->c) || pbr_issue_date(l->c, through) < today)
            due = 1;
        else if (through >= pbr_contract_first_quarter(l->c) && not_due[0] == '\0')
            quarter_problem(l, through, today, not_due, sizeof not_due);
    }
    if (!starts_a_quarter)
        return pbr_errf(err, errlen, "%s", not_start);
    if (!issuable && !due && not_due[0] != '\0')
        return pbr_errf(err, errlen, "nothing to issue: %s", not_due);
    return 0;
}

char *pbrd_service_statement(pbrd_service *svc, const char *contract, const char *quarter, char *err, size_t errlen)
{
    pbrd_record r;
    int rc = pbrd_record_get(svc->store, contract, quarter, &r, err, errlen);
    if (rc == PBR_STORE_NOTFOUND)
        pbr_errf(err, errlen, "statement %s %s is not issued", contract, quarter);
    else if (rc == PBRD_RECORD_UNREADABLE)
        pbr_errf(err, errlen, "statement %s %s: unreadable record", contract, quarter);
    if (rc != PBR_STORE_OK)
        return NULL;
    char *st = r.statement;
    r.statement = NULL;
    pbrd_record_clear(&r);
    return st;
}

typedef struct list_ctx {
    pbrd_statement_list *list;
    size_t cap; /* room in list->statements */
    int bad;    /* records that did not decode */
    int oom;
} list_ctx;

/* pbr_store_event_fn: appends the statement of one stored record to the
 * list (counting the records that do not decode). */
static int list_one(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    list_ctx *lc = ctx;
    pbrd_record r;
    char err[PBR_ERR_MAX];
    if (pbrd_record_decode(json, len, &r, err, sizeof err) != 0) {
        lc->bad++;
        return 0;
    }
    pbrd_statement_list *l = lc->list;
    if (l->n == lc->cap) {
        size_t ncap = lc->cap ? 2 * lc->cap : 16;
        char **ns = realloc(l->statements, ncap * sizeof *ns);
        if (ns == NULL) {
            lc->oom = 1;
            pbrd_record_clear(&r);
            return -1;
        }
        l->statements = ns;
        lc->cap = ncap;
    }
    l->statements[l->n++] = r.statement; /* taken from the record */
    r.statement = NULL;
    pbrd_record_clear(&r);
    return 0;
}

void pbrd_statement_list_clear(pbrd_statement_list *l)
{
    if (l == NULL)
        return;
    pbr_free_list(l->statements, l->n);
    memset(l, 0, sizeof *l);
}

int pbrd_service_statements(pbrd_service *svc, const char *contract, pbrd_statement_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const loaded *l = find_loaded(svc, contract);
    if (l == NULL)
        return pbr_errf(err, errlen, "statements: no such contract");
    char serr[PBR_ERR_MAX];
    list_ctx lc = {out, 0, 0, 0};
    int rc = pbr_store_foreach_statement(svc->store, contract, list_one, &lc, serr, sizeof serr);
    if (rc != 0 || lc.bad > 0) {
        pbrd_statement_list_clear(out);
        if (lc.oom)
            return pbr_errf(err, errlen, "statements: out of memory");
        if (rc != 0)
            return pbr_errf(err, errlen, "statements: %s", serr);
        return pbr_errf(err, errlen, "statements: unreadable statement record in the store");
    }
    out->contract = l->c->id;
    out->title = l->c->title;
    out->provider = l->c->provider;
    out->has_contract_cap = l->c->has_contract_cap;
    out->contract_cap_pence = l->c->has_contract_cap ? pbr_pounds_to_pence(l->c->contract_cap) : 0;
    return 0;
}

void pbrd_explain_view_clear(pbrd_explain_view *v)
{
    if (v == NULL)
        return;
    pbrd_record_clear(&v->record);
    memset(v, 0, sizeof *v);
}

/* The contract version the line (component, period, segment) of a
 * statement was first issued under, from the statement's ledger; c when
 * the ledger does not name one. */
static const pbr_contract *line_version_of(pbrd_service *svc, const pbr_ledger *lg, const pbr_contract *c,
                                           const char *component, const char *period, const char *segment)
{
    const pbr_contract *lv = c;
    for (size_t i = 0; i < pbr_ledger_count(lg); i++) {
        pbr_ledger_entry e;
        pbr_ledger_entry_at(lg, i, &e);
        int same_seg = segment == NULL ? e.segment == NULL : e.segment != NULL && !strcmp(e.segment, segment);
        if (!strcmp(e.component, component) && !strcmp(e.period, period) && same_seg)
            lv = version_lookup(svc, e.version);
    }
    return lv ? lv : c;
}

int pbrd_service_explain(pbrd_service *svc, const char *contract, const char *quarter, const char *component,
                         const char *period, const char *segment, pbrd_explain_view *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = pbrd_record_get(svc->store, contract, quarter, &out->record, err, errlen);
    if (rc == PBR_STORE_NOTFOUND)
        pbr_errf(err, errlen, "explain: statement %s %s is not issued", contract, quarter);
    else if (rc == PBRD_RECORD_UNREADABLE)
        err[0] = '\0';
    if (rc != PBR_STORE_OK || refresh_events(svc, err, errlen) != 0) {
        pbrd_explain_view_clear(out);
        return -1;
    }
    const pbr_contract *c = version_lookup(svc, out->record.contract_sha256);
    pbr_ledger *lg = pbr_ledger_from_json(out->record.ledger, strlen(out->record.ledger), err, errlen);
    if (c == NULL || lg == NULL) {
        pbr_ledger_destroy(&lg);
        pbrd_explain_view_clear(out);
        return pbr_errf(err, errlen, "explain: the contract version of %s %s is not readable", contract, quarter);
    }
    out->version = c;
    out->line_version = line_version_of(svc, lg, c, component, period, segment);
    out->events = svc->ev;
    pbr_ledger_destroy(&lg);
    return 0;
}

/* The provisional lines are a pure function of (contract, events, date):
 * computed once per (event log position, date) and then copied from the
 * cache until an event arrives, the date changes or the contract reloads. */
int pbrd_service_cohorts(pbrd_service *svc, const char *contract, pbr_date today, pbr_line **lines, size_t *n,
                         char *err, size_t errlen)
{
    *lines = NULL;
    *n = 0;
    loaded *l = find_loaded(svc, contract);
    if (l == NULL)
        return pbr_errf(err, errlen, "cohorts: no such contract");
    if (refresh_events(svc, err, errlen) != 0)
        return -1;
    if (l->cohorts == NULL || l->cohorts_seq != svc->loaded_seq || l->cohorts_day != today) {
        pbr_line *fresh;
        size_t nfresh;
        pbr_eval_view view = {
            .contract = l->c, .events = svc->ev, .events_through = pbr_eventset_last_seq(svc->ev), .as_of = today};
        if (pbr_provisional_lines(&view, &fresh, &nfresh, err, errlen) != 0)
            return -1;
        free(l->cohorts);
        l->cohorts = fresh;
        l->ncohorts = nfresh;
        l->cohorts_seq = svc->loaded_seq;
        l->cohorts_day = today;
    }
    *lines = malloc((l->ncohorts ? l->ncohorts : 1) * sizeof **lines);
    if (*lines == NULL)
        return pbr_errf(err, errlen, "cohorts: out of memory");
    if (l->ncohorts > 0)
        memcpy(*lines, l->cohorts, l->ncohorts * sizeof **lines);
    *n = l->ncohorts;
    return 0;
}

/* ---- verify --------------------------------------------------------------------------------------- */

typedef struct verify_ctx {
    pbrd_service *svc;
    pbrd_verify_result *out;
    char contract[PBR_ID_MAX + 1]; /* the contract whose chain is being replayed */
    pbr_ledger *ledger;            /* recomputed history of that contract */
    int broken;                    /* the chain of this contract cannot be replayed further */
} verify_ctx;

/* Appends one difference to v->out (dropped, and logged, when out of
 * memory: verify still reports the others). */
static void add_diff(verify_ctx *v, const char *contract, const char *quarter, const char *where, const char *detail)
{
    pbrd_verify_result *r = v->out;
    if (r->ndiffs == r->cap) {
        size_t ncap = r->cap ? 2 * r->cap : 16;
        pbrd_difference *nd = realloc(r->diffs, ncap * sizeof *nd);
        if (nd == NULL) {
            pbrd_log(PBRD_LOG_ERROR, "verify: difference not reported",
                     "contract=%s quarter=%s error=\"out of memory\"", contract, quarter);
            return;
        }
        r->diffs = nd;
        r->cap = ncap;
    }
    pbrd_difference *d = &r->diffs[r->ndiffs++];
    snprintf(d->contract, sizeof d->contract, "%s", contract);
    snprintf(d->quarter, sizeof d->quarter, "%s", quarter);
    d->where = where;
    snprintf(d->detail, sizeof d->detail, "%s", detail);
}

/* Checks the two files of an issued statement. */
static void verify_files(verify_ctx *v, const pbrd_record_key *k, const char *title, const char *statement)
{
    int problems = pbrd_record_check_files(v->svc->statements_dir, k->contract, k->quarter, title, statement);
    if (problems & PBRD_RECORD_JSON_DIFFERS)
        add_diff(v, k->contract, k->quarter, "file", "the .json file is missing or differs from the issued statement");
    if (problems & PBRD_RECORD_CSV_DIFFERS)
        add_diff(v, k->contract, k->quarter, "file", "the .csv file is missing or differs from the issued statement");
}

/* Recomputes one stored statement and compares. */
static int verify_one(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    verify_ctx *v = ctx;
    pbrd_record r;
    pbrd_record_key k;
    char err[PBR_ERR_MAX];
    if (pbrd_record_decode(json, len, &r, err, sizeof err) != 0) {
        add_diff(v, "?", "?", "store", "unreadable statement record");
        return 0;
    }
    if (pbrd_record_key_of(&r, &k, err, sizeof err) != 0) {
        add_diff(v, "?", "?", "store", "statement record without contract or quarter");
        goto out;
    }
    const char *contract = k.contract, *quarter = k.quarter;
    v->out->checked++;
    verify_files(v, &k, version_title(v->svc, r.contract_sha256), r.statement);
    if (strcmp(v->contract, contract) != 0) {
        snprintf(v->contract, sizeof v->contract, "%s", contract);
        pbr_ledger_destroy(&v->ledger);
        v->ledger = pbr_ledger_new();
        v->broken = 0;
    }
    if (v->broken)
        goto out;
    const pbr_contract *c = version_lookup(v->svc, r.contract_sha256);
    if (c == NULL) {
        add_diff(v, contract, quarter, "store", "the contract version it was issued under is not in the store");
        v->broken = 1;
        goto out;
    }
    pbr_statement *s;
    pbr_eval_view view = {.contract = c, .events = v->svc->ev, .events_through = k.events_through};
    pbr_settle_request req = {.quarter = k.q, .versions = version_lookup, .versions_ctx = v->svc};
    if (pbr_settle_quarter(&view, &req, v->ledger, &s, err, sizeof err) != 0) {
        add_diff(v, contract, quarter, "recompute", err);
        v->broken = 1;
        goto out;
    }
    char *again = pbr_statement_to_json(s, NULL);
    if (again == NULL || strcmp(again, r.statement) != 0)
        add_diff(v, contract, quarter, "store", "recomputing from the event log gives a different statement");
    free(again);
    pbr_statement_destroy(&s);
out:
    pbrd_record_clear(&r);
    return 0;
}

void pbrd_verify_result_clear(pbrd_verify_result *r)
{
    if (r == NULL)
        return;
    free(r->diffs);
    memset(r, 0, sizeof *r);
}

int pbrd_service_verify(pbrd_service *svc, pbrd_verify_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (refresh_events(svc, err, errlen) != 0)
        return -1;
    verify_ctx v;
    memset(&v, 0, sizeof v);
    v.svc = svc;
    v.out = out;
    int rc = pbr_store_foreach_statement(svc->store, NULL, verify_one, &v, err, errlen);
    pbr_ledger_destroy(&v.ledger);
    if (rc != 0) {
        pbrd_verify_result_clear(out);
        return -1;
    }
    pbrd_log(PBRD_LOG_INFO, "verify finished", "checked=%zu differences=%zu", out->checked, out->ndiffs);
    return 0;
}

/* ---- open / close ------------------------------------------------------------------------------------ */

/* pbrd_record_title_fn: the title of a contract version. */
static const char *title_of_version(void *ctx, const char *sha)
{
    return version_title(ctx, sha);
}

int pbrd_service_open(pbrd_service **out, pbr_store *store, const pbrd_service_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    pbrd_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return pbr_errf(err, errlen, "service: out of memory");
    svc->store = store;
    svc->contracts_dir = strdup(opts->contracts_dir);
    svc->statements_dir = strdup(opts->statements_dir);
    svc->ev = pbr_eventset_new();
    svc->events = opts->events;
    svc->events_ctx = opts->events_ctx;
    svc->auto_settle = opts->auto_settle;
    if (svc->contracts_dir == NULL || svc->statements_dir == NULL || svc->ev == NULL) {
        pbrd_service_close(&svc);
        return pbr_errf(err, errlen, "service: out of memory");
    }
    if (refresh_events(svc, err, errlen) != 0) {
        pbrd_service_close(&svc);
        return -1;
    }
    pbrd_log(PBRD_LOG_INFO, "event log mirrored", "events=%zu last_seq=%llu", pbr_eventset_count(svc->ev),
             (unsigned long long)svc->loaded_seq);
    pbrd_reload_result initial;
    char rerr[PBR_ERR_MAX];
    if (pbrd_service_reload(svc, opts->today, &initial, rerr, sizeof rerr) == 0) /* failures are logged */
        pbrd_reload_result_clear(&initial);
    size_t stale = pbrd_record_remove_temp_files(svc->statements_dir);
    if (stale > 0)
        pbrd_log(PBRD_LOG_INFO, "temporary statement files of an interrupted write removed", "files=%zu", stale);
    if (pbrd_record_repair(store, svc->statements_dir, title_of_version, svc, NULL, err, errlen) != 0) {
        pbrd_service_close(&svc);
        return -1;
    }
    *out = svc;
    return 0;
}

void pbrd_service_set_metrics(pbrd_service *svc, pbrd_metrics *m)
{
    svc->metrics = m;
    pbrd_metrics_reload(m, svc->n, svc->last_load_errors, 1);
}

void pbrd_service_close(pbrd_service **svcp)
{
    if (svcp == NULL)
        return;
    pbrd_service *svc = *svcp;
    *svcp = NULL;
    if (svc == NULL)
        return;
    for (size_t i = 0; i < svc->n; i++)
        loaded_free(&svc->contracts[i]);
    free(svc->contracts);
    for (size_t i = 0; i < svc->nversions; i++)
        pbr_contract_destroy(&svc->versions[i].c);
    free(svc->versions);
    pbr_eventset_destroy(&svc->ev);
    free(svc->contracts_dir);
    free(svc->statements_dir);
    free(svc);
}

/* test_faults.c -- fault injection against a real pbrd (tests/daemon_harness.h):
 *
 *  - SIGKILL at random points while batches are being ingested and quarters
 *    closed, then restart and check the promises of SPEC.md 3, 5.7 and 7:
 *    every acknowledged event is stored exactly once, every statement seen
 *    before a kill is byte-identical afterwards, a statement being issued is
 *    either complete (store, files) or absent, and `verify` finds nothing.
 *    Rounds: PBR_FAULT_ROUNDS (default 100, 30 under sanitizers); the PRNG
 *    seed is printed and can be replayed with PBR_FAULT_SEED.
 *  - A data dir on a 4 MiB tmpfs that fills up: nothing is acknowledged that
 *    is not stored, the daemon stays up, ingest resumes when space returns.
 *  - A 1 MiB initial LMDB map (PBR_STORE_MAPSIZE): the map grows by itself
 *    and no event is lost.
 *
 * Expected outcomes are the promises themselves (ids the test numbered and
 * saw acknowledged, bytes it saw issued), never figures from the daemon.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/mount.h>
#include <time.h>

#include "daemon_harness.h"
#include "settle_helpers.h"
#include "pbr/store.h"
#include "pbr/files.h"

#define FAULT_BATCH 20         /* events per ingest batch */
#define FAULT_INFLIGHT 4       /* pipelined batches */
#define FAULT_ROUND_EVENTS 400 /* events sent per round at most (keeps restarts fast) */
#define FAULT_MAX_IDS 2000000
#define FAULT_COPIES 6          /* copies of each example contract */
#define FAULT_BATCH_GAP_MS 15.0 /* pacing of new batches */
#define FAULT_KILL_MAX_MS 400   /* kill after a delay in [0, this) after start */
#define FAULT_SETTLE_MAX_MS 250 /* settle request after a delay in [0, this) */
#define MAX_STATEMENTS 512

/* ---- small helpers ------------------------------------------------------------------- */

static char *read_text(const char *path)
{
    char err[PBR_ERR_MAX];
    char *t = pbr_read_file(path, NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

/* Appends one release with number n (in the example contract's first
 * quarter, so the statements depend on what was ingested). */
static size_t add_numbered_release(char *buf, size_t cap, size_t len, const char *prefix, uint64_t n)
{
    int w = snprintf(buf + len, cap - len,
                     "{\"id\":\"%s-%llu\",\"type\":\"release\",\"offender\":\"o-%llu\",\"date\":\"2020-05-01\","
                     "\"area\":\"X\",\"establishment\":\"HMP-X\",\"sentence_days\":100,\"age\":30,\"gender\":\"M\"}\n",
                     prefix, (unsigned long long)n, (unsigned long long)(n % 5000));
    ck_assert(w > 0 && (size_t)w < cap - len);
    return len + (size_t)w;
}

/* Sends [empty][body] on s and waits for the reply body, polling stop every
 * 20 ms, for at most max_ms. Returns the body (malloc'd, caller frees) or
 * NULL. */
static char *ask_raw(void *s, const char *body, volatile int *stop, int max_ms)
{
    if (send_body(s, body, strlen(body)) != 0)
        return NULL;
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    for (int waited = 0; waited < max_ms; waited += 20) {
        if (stop && *stop)
            return NULL;
        if (zmq_poll(&it, 1, 20) != 1)
            continue;
        char *out;
        recv_body(s, &out); /* a failed receive leaves what was read */
        return out;
    }
    return NULL;
}

/* ask_raw, parsed. Returns the JSON reply or NULL. */
static json_t *ask(void *s, const char *body, volatile int *stop, int max_ms)
{
    char *text = ask_raw(s, body, stop, max_ms);
    json_t *r = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return r;
}

/* ---- statements seen ---------------------------------------------------------------- */

typedef struct seen_statement {
    char contract[64], quarter[16];
    char *bytes; /* the statement as first seen */
} seen_statement;

typedef struct statement_list {
    seen_statement v[MAX_STATEMENTS];
    size_t n;
} statement_list;

static seen_statement *find_statement(statement_list *l, const char *contract, const char *quarter)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].contract, contract) == 0 && strcmp(l->v[i].quarter, quarter) == 0)
            return &l->v[i];
    return NULL;
}

/* Adds (contract, quarter) with a copy of bytes (NULL allowed) unless present. */
static seen_statement *add_statement(statement_list *l, const char *contract, const char *quarter, const char *bytes)
{
    seen_statement *s = find_statement(l, contract, quarter);
    if (s == NULL) {
        ck_assert_uint_lt(l->n, MAX_STATEMENTS);
        s = &l->v[l->n++];
        snprintf(s->contract, sizeof s->contract, "%s", contract);
        snprintf(s->quarter, sizeof s->quarter, "%s", quarter);
        s->bytes = NULL;
    }
    if (s->bytes == NULL && bytes != NULL)
        s->bytes = strdup(bytes);
    return s;
}

static void clear_statements(statement_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].bytes);
    l->n = 0;
}

/* ---- the kill rounds ------------------------------------------------------------------ */

typedef struct fault_run {
    daemon_t d;
    uint64_t rng;
    /* ingest client */
    uint8_t *acked; /* acked[n] = 1 once f-n was acknowledged */
    uint64_t next_id;
    uint64_t pending[FAULT_INFLIGHT]; /* first ids of batches unanswered at the last kill */
    int npending;
    uint64_t acked_events, resent_batches;
    /* settle client */
    pbr_date next_quarter, last_quarter;
    unsigned settle_delay_ms;
    volatile int settle_outstanding;
    unsigned settle_ms;     /* duration of the last settle that answered */
    statement_list claimed; /* listed in a settle reply: committed */
    statement_list seen;    /* fetched over the API: bytes are final */
    pthread_mutex_t lock;   /* guards claimed and seen */
    volatile int stop;
    /* figures for the report */
    unsigned rounds, kills_during_settle, epochs, tmp_leftovers, statements_checked;
} fault_run;

/* Sends one batch starting at id first on s. */
static void send_batch(void *s, uint64_t first)
{
    static const size_t cap = FAULT_BATCH * 300;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t len = 0;
    for (uint64_t i = 0; i < FAULT_BATCH; i++)
        len = add_numbered_release(buf, cap, len, "f", first + i);
    send_body(s, buf, len);
    free(buf);
}

/* Ingest client: first re-sends the batches left unanswered by the last
 * kill (they must come back accepted or duplicate, never twice stored),
 * then new numbered batches, FAULT_INFLIGHT in flight, until stop or the
 * round's quota; records every acknowledged id. */
static void *ingest_client(void *arg)
{
    fault_run *r = arg;
    void *s = harness_dealer(r->d.ctx, r->d.ingest);
    uint64_t queue[FAULT_INFLIGHT];
    int head = 0, inflight = 0, sent = 0;
    int resend = r->npending;
    r->resent_batches += (uint64_t)resend;
    double start = mono_ms();
    while (!r->stop) {
        /* paced (one batch per FAULT_BATCH_GAP_MS) so the kill window covers the ingest */
        while (inflight < FAULT_INFLIGHT &&
               (resend > 0 ||
                (sent * FAULT_BATCH < FAULT_ROUND_EVENTS && mono_ms() - start >= sent * FAULT_BATCH_GAP_MS))) {
            uint64_t first;
            if (resend > 0) {
                first = r->pending[--resend];
            } else {
                first = r->next_id;
                r->next_id += FAULT_BATCH;
                sent++;
                ck_assert_uint_lt(r->next_id, FAULT_MAX_IDS);
            }
            send_batch(s, first);
            queue[(head + inflight) % FAULT_INFLIGHT] = first;
            inflight++;
        }
        if (inflight == 0) {
            sleep_ms(2);
            continue;
        }
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 20) != 1)
            continue;
        json_t *rep = recv_json(s, 0);
        uint64_t first = queue[head];
        ck_assert_msg(rep != NULL && json_object_get(rep, "error") == NULL, "ingest error reply for batch f-%llu",
                      (unsigned long long)first);
        json_int_t ok = json_integer_value(json_object_get(rep, "accepted")) +
            json_integer_value(json_object_get(rep, "duplicates"));
        ck_assert_msg(ok == FAULT_BATCH, "batch f-%llu: accepted+duplicates %lld", (unsigned long long)first,
                      (long long)ok);
        for (uint64_t i = 0; i < FAULT_BATCH; i++)
            r->acked[first + i] = 1;
        r->acked_events += FAULT_BATCH;
        json_decref(rep);
        head = (head + 1) % FAULT_INFLIGHT;
        inflight--;
    }
    /* whatever is still unanswered is re-sent after the restart */
    r->npending = inflight;
    for (int i = 0; i < inflight; i++)
        r->pending[i] = queue[(head + i) % FAULT_INFLIGHT];
    zmq_close(s);
    return NULL;
}

/* Settle client: after settle_delay_ms asks for the next quarter; records
 * what the reply says was issued and fetches each statement's bytes. */
static void *settle_client(void *arg)
{
    fault_run *r = arg;
    for (unsigned waited = 0; waited < r->settle_delay_ms && !r->stop; waited += 5)
        sleep_ms(5);
    if (r->stop || r->next_quarter > r->last_quarter)
        return NULL;
    void *s = harness_dealer(r->d.ctx, r->d.api);
    char q[PBR_DATE_STRLEN], req[256];
    pbr_date_format(r->next_quarter, q);
    snprintf(req, sizeof req, "{\"op\":\"settle\",\"quarter\":\"%s\"}", q);
    r->settle_outstanding = 1;
    double t0 = mono_ms();
    json_t *rep = ask(s, req, &r->stop, 20000);
    r->settle_outstanding = 0;
    if (rep != NULL) {
        r->settle_ms = (unsigned)(mono_ms() - t0);
        json_t *issued = json_object_get(rep, "issued");
        if (!json_is_array(issued)) {
            char *text = json_dumps(rep, JSON_COMPACT);
            ck_abort_msg("settle %s failed: %s", q, text ? text : "?");
        }
        r->next_quarter = pbr_add_months(r->next_quarter, 3);
        size_t i;
        json_t *e;
        json_array_foreach(issued, i, e)
        {
            const char *c = json_string_value(json_object_get(e, "contract"));
            const char *qq = json_string_value(json_object_get(e, "quarter"));
            ck_assert(c && qq);
            pthread_mutex_lock(&r->lock);
            add_statement(&r->claimed, c, qq, NULL);
            pthread_mutex_unlock(&r->lock);
            snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}", c, qq);
            char *bytes = ask_raw(s, req, &r->stop, 20000);
            if (bytes == NULL)
                break; /* killed meanwhile */
            ck_assert_msg(strncmp(bytes, "{\"error\"", 8) != 0, "statement %s %s not served: %s", c, qq, bytes);
            pthread_mutex_lock(&r->lock);
            seen_statement *ss = add_statement(&r->seen, c, qq, NULL);
            if (ss->bytes == NULL)
                ss->bytes = bytes, bytes = NULL;
            pthread_mutex_unlock(&r->lock);
            free(bytes);
        }
        json_decref(rep);
    }
    zmq_close(s);
    return NULL;
}

/* The contracts dir: FAULT_COPIES renamed copies of each spec example. */
static void make_fault_contracts(daemon_t *d)
{
    snprintf(d->contracts, sizeof d->contracts, "%s.contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    static const char *const examples[2] = {"example.yaml", "example2.yaml"};
    static const char *const ids[2] = {"example", "example2"};
    for (int e = 0; e < 2; e++) {
        char from[1024];
        char *text = read_text(spec_example(from, sizeof from, examples[e]));
        char needle[64];
        snprintf(needle, sizeof needle, "\ncontract: %s\n", ids[e]);
        char *hit = strstr(text, needle);
        ck_assert_ptr_nonnull(hit);
        for (int k = 0; k < FAULT_COPIES; k++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s-%d.yaml", d->contracts, ids[e], k);
            FILE *f = fopen(path, "w");
            ck_assert_ptr_nonnull(f);
            fwrite(text, 1, (size_t)(hit - text), f);
            fprintf(f, "\ncontract: %s-%d\n", ids[e], k);
            fputs(hit + strlen(needle), f);
            fclose(f);
        }
        free(text);
    }
}

/* A stored statement: (contract, quarter) and the statement text. */
typedef struct stored_ctx {
    statement_list *out;
} stored_ctx;

static int collect_statement(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    statement_list *out = ctx;
    json_t *rec = json_loadb(json, len, 0, NULL);
    const char *text = json_string_value(json_object_get(rec, "statement"));
    ck_assert_msg(text != NULL, "statement record without a statement");
    json_t *st = json_loads(text, 0, NULL);
    const char *c = json_string_value(json_object_get(st, "contract"));
    const char *q = json_string_value(json_object_get(st, "quarter"));
    ck_assert_msg(c && q, "stored statement without contract/quarter");
    ck_assert_ptr_null(find_statement(out, c, q));
    add_statement(out, c, q, text);
    json_decref(st);
    json_decref(rec);
    return 0;
}

/* Counts the events "prefix-K" of a store (foreach callback): counts[K] = 1,
 * failing the test when an id is missing or stored twice. */
typedef struct prefix_count {
    const char *prefix;
    uint8_t *counts;
    uint64_t max;
} prefix_count;

static int count_prefixed(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    prefix_count *pc = ctx;
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    ck_assert_msg(id != NULL, "stored event without an id");
    size_t pl = strlen(pc->prefix);
    if (strncmp(id, pc->prefix, pl) == 0 && id[pl] == '-') {
        unsigned long long k = strtoull(id + pl + 1, NULL, 10);
        ck_assert(k < pc->max);
        ck_assert_msg(pc->counts[k] == 0, "event %s stored twice", id);
        pc->counts[k] = 1;
    }
    json_decref(j);
    return 0;
}

/* With pbrd dead: every acknowledged id stored once (none twice), every
 * statement claimed or seen is in the store, seen bytes unchanged. Fills
 * stored with the store's statements. */
static void check_store_after_kill(fault_run *r, statement_list *stored)
{
    pbr_store *store = NULL;
    char err[512];
    ck_assert_msg(pbr_store_open(r->d.dir, &store, err, sizeof err) == 0, "store open: %s", err);
    prefix_count pc = {"f", calloc(FAULT_MAX_IDS, 1), FAULT_MAX_IDS};
    ck_assert_ptr_nonnull(pc.counts);
    ck_assert_int_eq(pbr_store_foreach_event(store, 1, UINT64_MAX, count_prefixed, &pc, err, sizeof err), 0);
    for (uint64_t i = 0; i < r->next_id; i++)
        ck_assert_msg(!r->acked[i] || pc.counts[i] == 1, "acknowledged event f-%llu is missing after SIGKILL",
                      (unsigned long long)i);
    free(pc.counts);
    clear_statements(stored);
    ck_assert_int_eq(pbr_store_foreach_statement(store, NULL, collect_statement, stored, err, sizeof err), 0);
    pbr_store_close(&store);
    for (size_t i = 0; i < r->claimed.n; i++)
        ck_assert_msg(find_statement(stored, r->claimed.v[i].contract, r->claimed.v[i].quarter) != NULL,
                      "statement %s %s was reported issued but is not in the store", r->claimed.v[i].contract,
                      r->claimed.v[i].quarter);
    for (size_t i = 0; i < r->seen.n; i++) {
        seen_statement *s = find_statement(stored, r->seen.v[i].contract, r->seen.v[i].quarter);
        ck_assert_msg(s != NULL, "statement %s %s vanished", r->seen.v[i].contract, r->seen.v[i].quarter);
        ck_assert_msg(strcmp(s->bytes, r->seen.v[i].bytes) == 0, "statement %s %s changed across a kill", s->contract,
                      s->quarter);
    }
}

/* Checks that no temporary file of an interrupted write survived the
 * restart (pbrd removes them at open), and that every .json in dir parses
 * and is a stored statement. */
static void check_statement_dir(fault_run *r, const char *dir, const char *contract, statement_list *stored)
{
    DIR *dh = opendir(dir);
    if (dh == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        const char *name = e->d_name;
        if (strstr(name, ".tmp") != NULL) {
            r->tmp_leftovers++;
            ck_assert_msg(0, "%s/%s: a temporary file survived the restart", dir, name);
        }
        size_t n = strlen(name);
        if (n < 5 || strcmp(name + n - 5, ".json") != 0)
            continue;
        char path[2048], quarter[16];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        snprintf(quarter, sizeof quarter, "%.*s", (int)(n - 5), name);
        json_error_t je;
        json_t *j = json_load_file(path, 0, &je);
        ck_assert_msg(j != NULL, "%s does not parse: %s", path, je.text);
        json_decref(j);
        ck_assert_msg(find_statement(stored, contract, quarter) != NULL, "%s exists but is not in the store", path);
    }
    closedir(dh);
}

/* With pbrd restarted: the files of every stored statement are complete
 * (json = stored bytes + "\n", csv present), nothing partial exists, the
 * API serves the same bytes and verify finds no difference. */
static void check_after_restart(fault_run *r, statement_list *stored)
{
    char path[1024];
    for (size_t i = 0; i < stored->n; i++) {
        seen_statement *s = &stored->v[i];
        snprintf(path, sizeof path, "%s/statements/%s/%s.json", r->d.dir, s->contract, s->quarter);
        size_t len;
        char *file = pbr_read_file(path, &len, NULL, 0);
        ck_assert_msg(file != NULL, "%s missing after restart", path);
        size_t sl = strlen(s->bytes);
        ck_assert_msg(len == sl + 1 && memcmp(file, s->bytes, sl) == 0 && file[sl] == '\n',
                      "%s differs from the stored statement", path);
        free(file);
        snprintf(path, sizeof path, "%s/statements/%s/%s.csv", r->d.dir, s->contract, s->quarter);
        ck_assert_msg(access(path, R_OK) == 0, "%s missing after restart", path);
        r->statements_checked++;
    }
    char sdir[512];
    snprintf(sdir, sizeof sdir, "%s/statements", r->d.dir);
    DIR *dh = opendir(sdir);
    if (dh != NULL) {
        struct dirent *e;
        while ((e = readdir(dh)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", sdir, e->d_name);
            check_statement_dir(r, sub, e->d_name, stored);
        }
        closedir(dh);
    }
    for (size_t i = 0; i < r->seen.n; i++) {
        char req[256];
        snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}",
                 r->seen.v[i].contract, r->seen.v[i].quarter);
        char *bytes = request_d(&r->d, r->d.api, req, strlen(req), 30000);
        ck_assert_ptr_nonnull(bytes);
        ck_assert_msg(strcmp(bytes, r->seen.v[i].bytes) == 0, "statement %s %s served differently after restart",
                      r->seen.v[i].contract, r->seen.v[i].quarter);
        free(bytes);
    }
    json_t *v = api_call(&r->d, "{\"op\":\"verify\"}");
    ck_assert_msg(json_array_size(json_object_get(v, "differences")) == 0, "verify found differences: %s",
                  json_dumps(json_object_get(v, "differences"), JSON_COMPACT));
    ck_assert_int_eq(geti(v, "checked"), (json_int_t)stored->n);
    json_decref(v);
}

/* A fresh data dir and contracts, pbrd started, the example events stored. */
static void start_epoch(fault_run *r)
{
    daemon_prepare(&r->d, "auto_settle: false\n");
    snprintf(r->d.now, sizeof r->d.now, "2030-01-01");
    make_fault_contracts(&r->d);
    daemon_start(&r->d);
    char p[1024];
    char *e1 = read_text(spec_example(p, sizeof p, "example.jsonl"));
    char *e2 = read_text(spec_example(p, sizeof p, "example2.jsonl"));
    json_t *rep = ingest_batch(&r->d, e1);
    ck_assert_int_eq(geti(rep, "accepted"), 12);
    json_decref(rep);
    rep = ingest_batch(&r->d, e2);
    ck_assert_int_eq(geti(rep, "accepted"), 9);
    json_decref(rep);
    free(e1);
    free(e2);
    memset(r->acked, 0, FAULT_MAX_IDS);
    r->next_id = 0;
    r->npending = 0;
    pbr_date_parse("2020-04-01", 10, &r->next_quarter);
    pbr_date_parse("2023-07-01", 10, &r->last_quarter); /* example2's last quarter */
    clear_statements(&r->claimed);
    clear_statements(&r->seen);
    r->epochs++;
}

static void end_epoch(fault_run *r)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->d.contracts);
    int rc = system(cmd);
    (void)rc;
    daemon_finish(&r->d);
}

/* One round: ingest and settle concurrently, SIGKILL after a random delay. */
static void run_round(fault_run *r)
{
    unsigned kill_ms = (unsigned)(prng_next(&r->rng) % FAULT_KILL_MAX_MS);
    r->settle_delay_ms = (unsigned)(prng_next(&r->rng) % FAULT_SETTLE_MAX_MS);
    if (r->rounds % 2 == 1) /* aim at quarter closing: inside the last settle's duration */
        kill_ms = r->settle_delay_ms + (unsigned)(prng_next(&r->rng) % (2 * (uint64_t)r->settle_ms + 5));
    r->stop = 0;
    pthread_t ti, ts;
    ck_assert_int_eq(pthread_create(&ti, NULL, ingest_client, r), 0);
    ck_assert_int_eq(pthread_create(&ts, NULL, settle_client, r), 0);
    sleep_ms(kill_ms);
    int during_settle = r->settle_outstanding;
    ck_assert_int_eq(kill(r->d.pid, SIGKILL), 0);
    int st;
    ck_assert_int_eq(waitpid(r->d.pid, &st, 0), r->d.pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "pbrd ended before the kill (status %d)", st);
    r->d.pid = 0;
    r->stop = 1;
    pthread_join(ti, NULL);
    pthread_join(ts, NULL);
    if (during_settle)
        r->kills_during_settle++;
    r->rounds++;
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

START_TEST(sigkill_during_ingest_and_settle)
{
    unsigned dflt = getenv("PBR_SANITIZED") && *getenv("PBR_SANITIZED") ? 30 : 100;
    unsigned rounds = env_unsigned("PBR_FAULT_ROUNDS", dflt);
    uint64_t seed = getenv("PBR_FAULT_SEED") ? strtoull(getenv("PBR_FAULT_SEED"), NULL, 10)
                                             : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (seed == 0)
        seed = 1;
    printf("test_faults: %u SIGKILL rounds, seed %llu (replay with PBR_FAULT_SEED=%llu)\n", rounds,
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    fault_run *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->rng = seed;
    r->acked = calloc(FAULT_MAX_IDS, 1);
    ck_assert_ptr_nonnull(r->acked);
    pthread_mutex_init(&r->lock, NULL);
    statement_list *stored = calloc(1, sizeof *stored);
    ck_assert_ptr_nonnull(stored);
    double t0 = mono_ms();
    start_epoch(r);
    for (unsigned i = 0; i < rounds; i++) {
        run_round(r);
        check_store_after_kill(r, stored);
        daemon_start(&r->d); /* pbrd repairs statement files at open */
        check_after_restart(r, stored);
        if (r->next_quarter > r->last_quarter) {
            end_epoch(r);
            if (i + 1 < rounds)
                start_epoch(r);
        }
    }
    if (r->d.pid > 0)
        end_epoch(r);
    printf("test_faults: %u rounds in %.1f s over %u epochs: %llu events acknowledged (%llu batches re-sent after "
           "a kill), %u kills while a settle was outstanding, %u statement files checked, %u *.tmp* leftovers\n",
           r->rounds, (mono_ms() - t0) / 1000.0, r->epochs, (unsigned long long)r->acked_events,
           (unsigned long long)r->resent_batches, r->kills_during_settle, r->statements_checked, r->tmp_leftovers);
    fflush(stdout);
    clear_statements(stored);
    clear_statements(&r->claimed);
    clear_statements(&r->seen);
    free(stored);
    free(r->acked);
    free(r);
}
END_TEST

/* ---- disk trouble ------------------------------------------------------------------------ */

/* Ingests one numbered batch of n "prefix-k" events synchronously. Returns
 * the reply (NULL on timeout); marks acked ids when it was accepted. */
static json_t *ingest_numbered(daemon_t *d, const char *prefix, uint64_t first, int n, uint8_t *acked)
{
    size_t cap = (size_t)n * 300;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len = add_numbered_release(buf, cap, len, prefix, first + (uint64_t)i);
    char *text = request_d(d, d->ingest, buf, len, 20000);
    free(buf);
    if (text == NULL)
        return NULL;
    json_t *r = parse_reply(text);
    if (json_object_get(r, "error") == NULL && acked != NULL) {
        ck_assert_int_eq(geti(r, "accepted") + geti(r, "duplicates"), n);
        for (int i = 0; i < n; i++)
            acked[first + (uint64_t)i] = 1;
    }
    return r;
}

/* Opens the (stopped) daemon's store and checks every acked id is there. */
static uint64_t check_acked_stored(const char *dir, const char *prefix, const uint8_t *acked, uint64_t max)
{
    pbr_store *store = NULL;
    char err[512];
    ck_assert_msg(pbr_store_open(dir, &store, err, sizeof err) == 0, "store open: %s", err);
    prefix_count pc = {prefix, calloc(max, 1), max};
    ck_assert_ptr_nonnull(pc.counts);
    ck_assert_int_eq(pbr_store_foreach_event(store, 1, UINT64_MAX, count_prefixed, &pc, err, sizeof err), 0);
    uint64_t n = 0;
    for (uint64_t i = 0; i < max; i++) {
        if (acked[i]) {
            ck_assert_msg(pc.counts[i] == 1, "acknowledged %s-%llu is not stored", prefix, (unsigned long long)i);
            n++;
        }
    }
    free(pc.counts);
    pbr_store_close(&store);
    return n;
}

#define DISK_MAX_IDS 200000
#define DISK_BATCH 200

START_TEST(full_tmpfs_data_dir)
{
    daemon_t d;
    daemon_prepare(&d, "auto_settle: false\n");
    if (mount("tmpfs", d.dir, "tmpfs", 0, "size=4m") != 0) {
        printf("test_faults: skipping full_tmpfs_data_dir: mount -t tmpfs: %s (needs root)\n", strerror(errno));
        fflush(stdout);
        zmq_ctx_term(d.ctx);
        remove_tree(d.dir);
        return;
    }
    snprintf(d.now, sizeof d.now, "2030-01-01");
    snprintf(d.contracts, sizeof d.contracts, "%s.contracts", d.dir);
    ck_assert_int_eq(mkdir(d.contracts, 0700), 0);
    {
        char from[1024], to[1024];
        char *text = read_text(spec_example(from, sizeof from, "example.yaml"));
        snprintf(to, sizeof to, "%s/example.yaml", d.contracts);
        harness_write_text(to, text);
        free(text);
    }
    daemon_start(&d);
    uint8_t *acked = calloc(DISK_MAX_IDS, 1);
    ck_assert_ptr_nonnull(acked);
    uint64_t next = 0, acked_before = 0;
    int errors = 0;
    char first_error[512] = "";
    /* fill it: 4 MiB holds roughly 10k events; stop at the first errors */
    while (next + DISK_BATCH < DISK_MAX_IDS && errors < 3) {
        json_t *r = ingest_numbered(&d, "t", next, DISK_BATCH, acked);
        ck_assert_msg(r != NULL, "no ingest reply while the disk fills (daemon hung or died)");
        const char *e = json_string_value(json_object_get(r, "error"));
        if (e != NULL) {
            if (!first_error[0])
                snprintf(first_error, sizeof first_error, "%s", e);
            errors++;
        } else {
            acked_before += DISK_BATCH;
        }
        json_decref(r);
        next += DISK_BATCH;
    }
    ck_assert_msg(errors > 0, "a 4 MiB tmpfs never filled up");
    printf("test_faults: tmpfs full after %llu acknowledged events; error reply: %s\n",
           (unsigned long long)acked_before, first_error);
    fflush(stdout);
    /* the daemon is up and answers */
    json_t *st = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "events"), (json_int_t)acked_before);
    json_decref(st);
    /* closing a quarter on the full disk: issued (files may fail) or refused, never half */
    st = api_call(&d, "{\"op\":\"settle\",\"quarter\":\"2020-07-01\"}");
    char *txt = json_dumps(st, JSON_COMPACT);
    printf("test_faults: settle on the full disk: %s\n", txt);
    free(txt);
    json_decref(st);
    /* space returns: ingest resumes */
    ck_assert_msg(mount("tmpfs", d.dir, "tmpfs", MS_REMOUNT, "size=64m") == 0, "remount: %s", strerror(errno));
    int resumed = 0;
    for (int attempt = 0; attempt < 3 && !resumed; attempt++) {
        json_t *r = ingest_numbered(&d, "t", next, DISK_BATCH, acked);
        ck_assert_ptr_nonnull(r);
        resumed = json_object_get(r, "error") == NULL;
        if (!resumed)
            printf("test_faults: still failing after remount: %s\n", json_string_value(json_object_get(r, "error")));
        json_decref(r);
        next += DISK_BATCH;
    }
    ck_assert_msg(resumed, "ingest did not resume after space returned");
    for (int k = 0; k < 5; k++, next += DISK_BATCH)
        json_decref(ingest_numbered(&d, "t", next, DISK_BATCH, acked));
    int status = daemon_signal_wait(&d, SIGTERM);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pbrd did not exit 0 after a full disk");
    uint64_t n = check_acked_stored(d.dir, "t", acked, DISK_MAX_IDS);
    ck_assert_uint_ge(n, acked_before + 6 * DISK_BATCH);
    /* and it opens again on the same store, statement files complete */
    daemon_start(&d);
    st = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "events"), (json_int_t)n);
    json_decref(st);
    st = api_call(&d, "{\"op\":\"settle\",\"quarter\":\"2020-07-01\"}");
    ck_assert(json_is_array(json_object_get(st, "issued")));
    json_decref(st);
    st = api_call(&d, "{\"op\":\"verify\"}");
    ck_assert_int_eq(geti(st, "checked"), 2); /* example: quarters 2020-04-01 and 2020-07-01 */
    ck_assert_msg(json_array_size(json_object_get(st, "differences")) == 0, "verify after a full disk: %s",
                  json_dumps(json_object_get(st, "differences"), JSON_COMPACT));
    json_decref(st);
    status = daemon_signal_wait(&d, SIGTERM);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(umount2(d.dir, MNT_DETACH), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d.contracts);
    ck_assert_int_eq(system(cmd), 0);
    free(acked);
    zmq_ctx_term(d.ctx);
    remove_tree(d.dir);
}
END_TEST

/* Pipelined ingest with a 1 MiB initial map: grows many times, loses nothing. */
START_TEST(small_map_grows_without_loss)
{
    daemon_t d;
    daemon_prepare(&d, NULL);
    ck_assert_int_eq(setenv("PBR_STORE_MAPSIZE", "1048576", 1), 0);
    daemon_start(&d);
    ck_assert_int_eq(unsetenv("PBR_STORE_MAPSIZE"), 0);
    const int nbatches = 150, inflight_max = 8; /* 30,000 events of ~200 bytes + indexes */
    uint8_t *acked = calloc(DISK_MAX_IDS, 1);
    ck_assert_ptr_nonnull(acked);
    void *s = harness_dealer(d.ctx, d.ingest);
    uint64_t firsts[8];
    int head = 0, inflight = 0, sent = 0, answered = 0;
    size_t cap = DISK_BATCH * 300;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while (answered < nbatches) {
        while (sent < nbatches && inflight < inflight_max) {
            size_t len = 0;
            for (int i = 0; i < DISK_BATCH; i++)
                len = add_numbered_release(buf, cap, len, "m", (uint64_t)sent * DISK_BATCH + (uint64_t)i);
            send_body(s, buf, len);
            firsts[(head + inflight) % 8] = (uint64_t)sent * DISK_BATCH;
            inflight++;
            sent++;
        }
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        ck_assert_msg(zmq_poll(&it, 1, 20000) == 1, "no ingest reply within 20 s");
        json_t *rep = recv_json(s, 1);
        ck_assert_msg(rep && json_object_get(rep, "error") == NULL, "ingest failed with a small map");
        ck_assert_int_eq(json_integer_value(json_object_get(rep, "accepted")), DISK_BATCH);
        for (int i = 0; i < DISK_BATCH; i++)
            acked[firsts[head] + (uint64_t)i] = 1;
        json_decref(rep);
        head = (head + 1) % 8;
        inflight--;
        answered++;
    }
    free(buf);
    zmq_close(s);
    long rss = pid_rss_kb(d.pid);
    int status = daemon_signal_wait(&d, SIGTERM);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint64_t n = check_acked_stored(d.dir, "m", acked, DISK_MAX_IDS);
    ck_assert_uint_eq(n, (uint64_t)nbatches * DISK_BATCH);
    pbr_store *store = NULL;
    char err[512];
    ck_assert_int_eq(pbr_store_open(d.dir, &store, err, sizeof err), 0);
    pbr_store_stats stats;
    ck_assert_int_eq(pbr_store_get_stats(store, &stats, err, sizeof err), 0);
    ck_assert_uint_eq(stats.events, (uint64_t)nbatches * DISK_BATCH);
    printf("test_faults: 1 MiB initial map grew to %llu bytes over %d events (pbrd RSS %ld kB)\n",
           (unsigned long long)stats.map_size, nbatches * DISK_BATCH, rss);
    fflush(stdout);
    ck_assert_uint_gt(stats.map_size, 1048576);
    pbr_store_close(&store);
    free(acked);
    zmq_ctx_term(d.ctx);
    remove_tree(d.dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("daemon");
    tcase_set_timeout(tc, 170);
    tcase_add_test(tc, sigkill_during_ingest_and_settle);
    tcase_add_test(tc, full_tmpfs_data_dir);
    tcase_add_test(tc, small_map_grows_without_loss);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

/* soak.c -- a long soak run of pbrd: the real contracts (contracts/), a
 * steady ingest of generated events (pbrgen's generator, pipelined batches)
 * with concurrent queries (status, cohorts, statement), a settle of the
 * next quarter every 60 s and a reload every 30 s. Every 10 s it prints the
 * ingest throughput, ack latency p50/p99, query latency p50/p99 (all ops, and
 * cohorts alone: it is computed live, so every new event makes the next call
 * cold) and pbrd's RSS (also split into anonymous memory and mapped file
 * pages: LMDB's map counts in RSS as it is read); at the end a summary per op
 * and a CSV (one row per 10 s; bench/plot-soak.sh plots it).
 *
 * usage: bench/soak [--seconds N] [--rate EVENTS_PER_S] [--batch N]
 *                   [--reload-every S] [--settle-every S]
 *                   [--pbrd PATH] [--contracts DIR] [--csv FILE]
 * Defaults: 600 s, 2000 events/s in 100-event batches, reload every 30 s,
 * settle every 60 s, $PBR_BUILD/pbrd, $PBR_ROOT/contracts,
 * $PBR_ROOT/bench/out/soak.csv. Exits 1 if pbrd dies, an ingest or query
 * fails, or pbrd does not exit 0 on SIGTERM. Latencies are measured in
 * floating point (they are timings, never money).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "pbr/date.h"
#include "pbr/gen.h"

#define REPORT_SECONDS 10
#define GEN_OFFENDERS 5000 /* offenders per generated chunk (~21k events) */
#define MAX_INFLIGHT 64    /* pipelined batches before the sender waits */
#define QUERY_PAUSE_MS 50  /* pause between query rounds */

/* Prints "bench/soak: what" and exits 1. */
static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "bench/soak: %s\n", what);
    exit(1);
}

/* ---- samples ------------------------------------------------------------------ */

/* A growable list of latencies (ms) for one reporting interval. */
typedef struct samples {
    double *v;
    size_t n, cap;
} samples;

/* Appends x; exits on allocation failure (a benchmark has nothing to save). */
static void samples_add(samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *nv = realloc(s->v, cap * sizeof *nv);
        if (nv == NULL)
            die("out of memory");
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* The p-th percentile (0..100) of s (sorted in place), or 0 when empty. */
static double percentile(samples *s, int p)
{
    return bench_percentile(s->v, s->n, p);
}

/* ---- shared state (owned by main, passed to the threads) ------------------------ */

/* The query ops timed, in the order the query thread sends them. */
enum { OP_STATUS, OP_COHORTS, OP_STATEMENT, NOPS };
static const char *const op_names[NOPS] = {"status", "cohorts", "statement"};

typedef struct soak {
    void *ctx;
    char ingest[64], api[64];
    double seconds, rate, reload_every, settle_every;
    int batch;
    volatile int stop;
    pthread_mutex_t lock; /* guards everything below */
    samples ack, query, cohorts, all_ack, all_query, all_op[NOPS];
    uint64_t acked_events, acked_batches, ack_errors, rejected, query_errors, queries;
    uint64_t reloads, settles, issued, control_errors;
    double settle_ms_max, reload_ms_max;
    char issued_list[64][2][65]; /* (contract, quarter) of some issued statements */
    size_t nissued;
} soak;

/* ---- pbrd ------------------------------------------------------------------------- */

/* A DEALER connected to endpoint with no high-water marks (the caller
 * closes it). Exits on failure. */
static void *dealer(void *ctx, const char *endpoint)
{
    void *s = bench_dealer(ctx, endpoint);
    if (s == NULL)
        die("setting up a DEALER socket failed");
    return s;
}

/* Sends one [empty][body] request. Exits on failure (the sockets have no
 * high-water mark, so a send only fails when something is broken). */
static void send_request(void *s, const char *body, size_t len)
{
    if (bench_send(s, body, len) != 0)
        die("zmq_send failed");
}

/* Receives one [empty][body] reply into a malloc'd string (caller frees),
 * or NULL after timeout_ms. */
static char *recv_reply(void *s, int timeout_ms)
{
    char *body;
    if (bench_recv(s, timeout_ms, &body, NULL, NULL) < 0)
        die("zmq_msg_recv failed");
    return body;
}

/* One request/reply on s; returns the reply (caller frees) or NULL. */
static char *call(void *s, const char *req, int timeout_ms)
{
    send_request(s, req, strlen(req));
    return recv_reply(s, timeout_ms);
}

/* pbrd's resident memory in kB: total, anonymous (heap) and file-backed
 * (mostly LMDB's map). Fields it cannot read are -1. */
typedef struct rss {
    long total, anon, file;
} rss;

/* Reads VmRSS, RssAnon and RssFile of pid. */
static rss rss_of(pid_t pid)
{
    rss r = {bench_status_kb(pid, "VmRSS"), bench_status_kb(pid, "RssAnon"), bench_status_kb(pid, "RssFile")};
    return r;
}

/* Starts pbrd on a fresh data dir (dir gets its path; the config and log
 * are dir.yaml and dir.log) and waits up to 30 s for it to answer status.
 * Returns its pid; exits on failure. */
static pid_t start_pbrd(soak *s, const char *bin, const char *contracts, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "/tmp/pbrd-soak-XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp failed");
    char config[128], log[128], publish[64];
    snprintf(config, sizeof config, "%s.yaml", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    if (bench_write_text(config, "auto_settle: false\n") != 0)
        die("writing the config failed");
    if (bench_endpoints(s->ingest, s->api, publish) != 0)
        die("finding a free port failed");
    char *argv[] = {(char *)bin, "-c",         config, "--foreground", "--data", dir,           "--ingest",
                    s->ingest,   "--api",      s->api, "--publish",    publish,  "--contracts", (char *)contracts,
                    "--now",     "2030-01-01", NULL};
    pid_t pid = bench_spawn(argv, log, 0);
    if (pid < 0)
        die("fork failed");
    int rc = bench_wait_status(s->ctx, s->api, pid, 300);
    if (rc < 0)
        die("pbrd exited at startup (see its .log beside the data dir)");
    if (rc == 0)
        die("pbrd did not answer status within 30 s");
    return pid;
}

/* ---- events ------------------------------------------------------------------------- */

/* Generated events: chunk k is pbrgen --seed k+1 with every id, void target
 * and offender prefixed "k.", so chunks never collide. */
typedef struct event_source {
    char *text; /* the current chunk (malloc'd) */
    size_t len, pos;
    uint64_t chunk;
} event_source;

/* Copies line into out with "k." inserted after each "id":", "target":"
 * and "offender":"; returns the new length. out must hold len + 64. */
static size_t prefix_ids(const char *line, size_t len, uint64_t chunk, char *out)
{
    static const char *const keys[] = {"\"id\":\"", "\"target\":\"", "\"offender\":\""};
    char pre[24];
    int pl = snprintf(pre, sizeof pre, "%llu.", (unsigned long long)chunk);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int hit = 0;
        for (size_t k = 0; k < 3 && !hit; k++) {
            size_t kl = strlen(keys[k]);
            if (len - i >= kl && memcmp(line + i, keys[k], kl) == 0) {
                memcpy(out + o, keys[k], kl);
                o += kl;
                i += kl;
                memcpy(out + o, pre, (size_t)pl);
                o += (size_t)pl;
                hit = 1;
            }
        }
        if (!hit)
            out[o++] = line[i++];
    }
    return o;
}

/* Generates the next chunk (prefixed ids) into src->text (freed by the
 * next call or the owner). Exits on failure. */
static void source_next_chunk(event_source *src)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.seed = src->chunk + 1;
    o.offenders = GEN_OFFENDERS;
    char *raw = NULL;
    size_t rawlen = 0;
    FILE *f = open_memstream(&raw, &rawlen);
    if (f == NULL || pbr_gen_write(&o, f) < 0 || fclose(f) != 0)
        die("generating events failed");
    free(src->text);
    src->text = malloc(rawlen + rawlen / 4 + 1024);
    if (src->text == NULL)
        die("out of memory");
    size_t out = 0;
    for (size_t i = 0; i < rawlen;) {
        const char *nl = memchr(raw + i, '\n', rawlen - i);
        size_t ll = nl ? (size_t)(nl - (raw + i)) + 1 : rawlen - i;
        out += prefix_ids(raw + i, ll, src->chunk, src->text + out);
        i += ll;
    }
    free(raw);
    src->len = out;
    src->pos = 0;
    src->chunk++;
}

/* Appends up to n event lines to buf (cap bytes); returns bytes used. A
 * line that does not fit ends the batch early. */
static size_t source_take(event_source *src, int n, char *buf, size_t cap)
{
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (src->pos >= src->len)
            source_next_chunk(src);
        const char *p = src->text + src->pos;
        const char *nl = memchr(p, '\n', src->len - src->pos);
        size_t ll = nl ? (size_t)(nl - p) + 1 : src->len - src->pos;
        if (used + ll > cap)
            break;
        memcpy(buf + used, p, ll);
        used += ll;
        src->pos += ll;
    }
    return used;
}

/* ---- ingest thread: batches at a steady rate, pipelined -------------------------------- */

/* The integer after "key": in a reply, or 0 (the replies are pbrd's own
 * compact JSON, so a substring search is enough). */
static uint64_t json_count(const char *reply, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(reply, pat);
    return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

/* Records one ingest reply (NULL: none) to a batch sent at t_sent. */
static void note_ack(soak *s, const char *reply, double t_sent)
{
    double ms = (bench_now_s() - t_sent) * 1000.0;
    pthread_mutex_lock(&s->lock);
    samples_add(&s->ack, ms);
    samples_add(&s->all_ack, ms);
    s->acked_batches++;
    if (reply == NULL || strstr(reply, "\"error\"") != NULL) {
        s->ack_errors++;
        if (s->ack_errors <= 5)
            fprintf(stderr, "bench/soak: ingest error reply: %s\n", reply ? reply : "(none)");
    } else {
        s->acked_events += json_count(reply, "accepted") + json_count(reply, "duplicates");
        s->rejected += json_count(reply, "rejected");
    }
    pthread_mutex_unlock(&s->lock);
}

/* Ingest thread: sends s->batch-event batches at s->rate events/s, up to
 * MAX_INFLIGHT unacknowledged, until s->stop; then waits (30 s at most)
 * for the outstanding acks. */
static void *ingest_main(void *arg)
{
    soak *s = arg;
    void *sock = dealer(s->ctx, s->ingest);
    event_source src = {NULL, 0, 0, 0};
    size_t cap = (size_t)s->batch * 600;
    char *buf = malloc(cap);
    double sent_at[MAX_INFLIGHT];
    size_t head = 0, inflight = 0;
    if (buf == NULL)
        die("out of memory");
    double interval = (double)s->batch / s->rate, start = bench_now_s();
    uint64_t nsent = 0;
    while (!s->stop || inflight > 0) {
        double due = start + (double)nsent * interval;
        if (!s->stop && inflight < MAX_INFLIGHT && bench_now_s() >= due) {
            size_t len = source_take(&src, s->batch, buf, cap);
            size_t slot = (head + inflight) % MAX_INFLIGHT;
            sent_at[slot] = bench_now_s();
            send_request(sock, buf, len);
            inflight++;
            nsent++;
            continue;
        }
        int wait_ms = 100;
        if (!s->stop && inflight < MAX_INFLIGHT) {
            double w = (due - bench_now_s()) * 1000.0;
            wait_ms = w < 0 ? 0 : w > 100 ? 100 : (int)w + 1;
        }
        if (inflight == 0) {
            bench_sleep_s((double)wait_ms / 1000.0);
            continue;
        }
        char *reply = recv_reply(sock, s->stop ? 30000 : wait_ms);
        if (reply == NULL) {
            if (s->stop)
                break; /* 30 s without the last acks: give up */
            continue;
        }
        note_ack(s, reply, sent_at[head]);
        free(reply);
        head = (head + 1) % MAX_INFLIGHT;
        inflight--;
    }
    zmq_close(sock);
    free(buf);
    free(src.text);
    return NULL;
}

/* ---- query thread: status, cohorts, statement; settle and reload on a timer --------- */

/* Times one API call; op is one of OP_* for a query, or -1 for a control
 * call (settle, reload: not counted as queries). Returns the reply (caller
 * frees) or NULL after 120 s. */
static char *timed_call(soak *s, void *sock, const char *req, int op, double *ms_out)
{
    double t0 = bench_now_s();
    char *r = call(sock, req, 120000);
    double ms = (bench_now_s() - t0) * 1000.0;
    if (ms_out)
        *ms_out = ms;
    pthread_mutex_lock(&s->lock);
    if (op >= 0) {
        samples_add(&s->query, ms);
        samples_add(&s->all_query, ms);
        samples_add(&s->all_op[op], ms);
        if (op == OP_COHORTS)
            samples_add(&s->cohorts, ms);
        s->queries++;
    }
    if (r == NULL || strstr(r, "{\"error\"") == r) {
        if (op >= 0)
            s->query_errors++;
        else
            s->control_errors++;
        if (s->query_errors + s->control_errors <= 5)
            fprintf(stderr, "bench/soak: %s -> %s\n", req, r ? r : "(no reply)");
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* Remembers the (contract, quarter) pairs of a settle reply. */
static void note_issued(soak *s, const char *reply)
{
    const char *p = reply;
    while ((p = strstr(p, "\"contract\":\"")) != NULL) {
        p += 12;
        const char *e = strchr(p, '"');
        const char *q = strstr(p, "\"quarter\":\"");
        if (e == NULL || q == NULL)
            break;
        q += 11;
        pthread_mutex_lock(&s->lock);
        size_t slot = s->nissued < 64 ? s->nissued : (s->issued % 64);
        snprintf(s->issued_list[slot][0], sizeof s->issued_list[slot][0], "%.*s", (int)(e - p) < 64 ? (int)(e - p) : 64,
                 p);
        snprintf(s->issued_list[slot][1], sizeof s->issued_list[slot][1], "%.10s", q);
        if (s->nissued < 64)
            s->nissued++;
        s->issued++;
        pthread_mutex_unlock(&s->lock);
    }
}

/* Query thread: status, cohorts (contracts in turn) and an issued
 * statement, then QUERY_PAUSE_MS, until s->stop; a reload every
 * s->reload_every seconds and a settle of the next quarter (from
 * 2011-04-01) every s->settle_every seconds. */
static void *query_main(void *arg)
{
    static const char *const contracts[] = {"accelerator", "doncaster",        "gm-fim",       "ippr-custody",
                                            "lewisham",    "national-tariffs", "peterborough", "rising-share"};
    soak *s = arg;
    void *sock = dealer(s->ctx, s->api);
    double start = bench_now_s(), next_reload = start + s->reload_every, next_settle = start + s->settle_every;
    pbr_date quarter;
    pbr_date_parse("2011-04-01", 10, &quarter);
    char req[256], qs[PBR_DATE_STRLEN];
    unsigned round = 0;
    while (!s->stop) {
        double ms;
        free(timed_call(s, sock, "{\"op\":\"status\"}", OP_STATUS, NULL));
        snprintf(req, sizeof req, "{\"op\":\"cohorts\",\"contract\":\"%s\"}", contracts[round % 8]);
        free(timed_call(s, sock, req, OP_COHORTS, NULL));
        pthread_mutex_lock(&s->lock);
        int have = s->nissued > 0;
        if (have)
            snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}",
                     s->issued_list[round % s->nissued][0], s->issued_list[round % s->nissued][1]);
        pthread_mutex_unlock(&s->lock);
        if (have)
            free(timed_call(s, sock, req, OP_STATEMENT, NULL));
        if (bench_now_s() >= next_reload) {
            free(timed_call(s, sock, "{\"op\":\"reload\"}", -1, &ms));
            pthread_mutex_lock(&s->lock);
            s->reloads++;
            if (ms > s->reload_ms_max)
                s->reload_ms_max = ms;
            pthread_mutex_unlock(&s->lock);
            next_reload += s->reload_every;
        }
        if (bench_now_s() >= next_settle) {
            pbr_date_format(quarter, qs);
            snprintf(req, sizeof req, "{\"op\":\"settle\",\"quarter\":\"%s\"}", qs);
            char *r = timed_call(s, sock, req, -1, &ms);
            if (r)
                note_issued(s, r);
            free(r);
            pthread_mutex_lock(&s->lock);
            s->settles++;
            if (ms > s->settle_ms_max)
                s->settle_ms_max = ms;
            pthread_mutex_unlock(&s->lock);
            quarter = pbr_add_months(quarter, 3);
            next_settle += s->settle_every;
        }
        round++;
        bench_sleep_s(QUERY_PAUSE_MS / 1000.0);
    }
    zmq_close(sock);
    return NULL;
}

/* ---- main: options, reporting, summary ------------------------------------------------- */

typedef struct options {
    double seconds, rate, reload_every, settle_every;
    int batch;
    char pbrd[512], contracts[512], csv[512];
} options;

/* Fills o from the command line (defaults in the header comment); exits 2
 * on a usage error. */
static void parse_args(int argc, char **argv, options *o)
{
    const char *build = getenv("PBR_BUILD"), *root = getenv("PBR_ROOT");
    o->seconds = 600;
    o->rate = 2000;
    o->batch = 100;
    o->reload_every = 30;
    o->settle_every = 60;
    snprintf(o->pbrd, sizeof o->pbrd, "%s/pbrd", build && *build ? build : "build");
    snprintf(o->contracts, sizeof o->contracts, "%s/contracts", root && *root ? root : ".");
    snprintf(o->csv, sizeof o->csv, "%s/bench/out/soak.csv", root && *root ? root : ".");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--seconds"))
            o->seconds = atof(v), i++;
        else if (v && !strcmp(a, "--rate"))
            o->rate = atof(v), i++;
        else if (v && !strcmp(a, "--batch"))
            o->batch = atoi(v), i++;
        else if (v && !strcmp(a, "--reload-every"))
            o->reload_every = atof(v), i++;
        else if (v && !strcmp(a, "--settle-every"))
            o->settle_every = atof(v), i++;
        else if (v && !strcmp(a, "--pbrd"))
            snprintf(o->pbrd, sizeof o->pbrd, "%s", v), i++;
        else if (v && !strcmp(a, "--contracts"))
            snprintf(o->contracts, sizeof o->contracts, "%s", v), i++;
        else if (v && !strcmp(a, "--csv"))
            snprintf(o->csv, sizeof o->csv, "%s", v), i++;
        else {
            fprintf(stderr,
                    "usage: soak [--seconds N] [--rate EVENTS_PER_S] [--batch N] [--reload-every S]\n"
                    "            [--settle-every S] [--pbrd PATH] [--contracts DIR] [--csv FILE]\n");
            exit(2);
        }
    }
    if (o->seconds <= 0 || o->rate <= 0 || o->batch <= 0 || o->batch > 10000 || o->reload_every <= 0 ||
        o->settle_every <= 0)
        die("--seconds, --rate, --batch, --reload-every and --settle-every must be positive (batch <= 10000)");
}

/* Opens the CSV (creating its directory); NULL if it cannot. */
static FILE *open_csv(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
    FILE *f = fopen(path, "w");
    if (f)
        fprintf(f,
                "t_s,events_per_s,ack_p50_ms,ack_p99_ms,query_p50_ms,query_p99_ms,cohorts_p50_ms,cohorts_p99_ms,"
                "rss_kb,rss_anon_kb,rss_file_kb,acked_events,queries,ack_errors,query_errors,reloads,settles,load1\n");
    else
        fprintf(stderr, "bench/soak: cannot write %s\n", path);
    return f;
}

/* Prints the summary line of one op's latencies (sorted in place). */
static void print_op(const char *name, samples *v)
{
    double p50 = percentile(v, 50), p99 = percentile(v, 99); /* sorts v */
    printf("soak summary:   %-10s n %7zu  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", name, v->n, p50, p99,
           v->n ? v->v[v->n - 1] : 0.0);
}

/* The 1-minute load average (as uptime prints it), or -1. */
static double load1(void)
{
    double l = -1;
    bench_loadavg(&l, 1);
    return l;
}

/* Starts pbrd and the two threads, reports every REPORT_SECONDS, then
 * stops everything and prints the summary. Returns 0, or 1 (see the header). */
int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    soak s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.seconds = o.seconds;
    s.rate = o.rate;
    s.batch = o.batch;
    s.reload_every = o.reload_every;
    s.settle_every = o.settle_every;
    s.ctx = zmq_ctx_new();
    char dir[64];
    pid_t pid = start_pbrd(&s, o.pbrd, o.contracts, dir, sizeof dir);
    rss r0 = rss_of(pid), rmax = r0;
    printf("soak: pbrd pid %ld, data %s, %.0f s at %.0f events/s (%d-event batches), reload every %.0f s, settle "
           "every %.0f s, contracts %s\n",
           (long)pid, dir, o.seconds, o.rate, o.batch, o.reload_every, o.settle_every, o.contracts);
    printf("soak: pbrd RSS at start %ld kB (anon %ld, file %ld); load average %.2f\n", r0.total, r0.anon, r0.file,
           load1());
    printf("%6s %9s %8s %8s %8s %8s %8s %8s %9s %9s %9s %5s\n", "t(s)", "events/s", "ack p50", "ack p99", "qry p50",
           "qry p99", "coh p50", "coh p99", "RSS kB", "anon kB", "file kB", "load");
    FILE *csv = open_csv(o.csv);
    pthread_t ti, tq;
    if (pthread_create(&ti, NULL, ingest_main, &s) != 0 || pthread_create(&tq, NULL, query_main, &s) != 0)
        die("pthread_create failed");
    double start = bench_now_s();
    uint64_t last_events = 0;
    int crashed = 0;
    for (int k = 1; (double)(k * REPORT_SECONDS) <= o.seconds + 0.001; k++) {
        bench_sleep_s(start + k * REPORT_SECONDS - bench_now_s());
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "bench/soak: pbrd died (status %d) at t=%d s\n", st, k * REPORT_SECONDS);
            crashed = 1;
            break;
        }
        rss r = rss_of(pid);
        if (r.total > rmax.total)
            rmax = r;
        pthread_mutex_lock(&s.lock);
        double rate = (double)(s.acked_events - last_events) / REPORT_SECONDS;
        last_events = s.acked_events;
        double a50 = percentile(&s.ack, 50), a99 = percentile(&s.ack, 99);
        double q50 = percentile(&s.query, 50), q99 = percentile(&s.query, 99);
        double c50 = percentile(&s.cohorts, 50), c99 = percentile(&s.cohorts, 99);
        s.ack.n = s.query.n = s.cohorts.n = 0;
        printf("%6d %9.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %9ld %9ld %9ld %5.2f\n", k * REPORT_SECONDS, rate, a50,
               a99, q50, q99, c50, c99, r.total, r.anon, r.file, load1());
        fflush(stdout);
        if (csv) {
            fprintf(csv, "%d,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%ld,%ld,%ld,%llu,%llu,%llu,%llu,%llu,%llu,%.2f\n",
                    k * REPORT_SECONDS, rate, a50, a99, q50, q99, c50, c99, r.total, r.anon, r.file,
                    (unsigned long long)s.acked_events, (unsigned long long)s.queries, (unsigned long long)s.ack_errors,
                    (unsigned long long)s.query_errors, (unsigned long long)s.reloads, (unsigned long long)s.settles,
                    load1());
            fflush(csv);
        }
        pthread_mutex_unlock(&s.lock);
    }
    s.stop = 1;
    pthread_join(ti, NULL);
    pthread_join(tq, NULL);
    double elapsed = bench_now_s() - start;
    rss rend = {-1, -1, -1};
    if (!crashed)
        rend = rss_of(pid);
    printf("soak summary: %.0f s, %llu events acknowledged (%.0f events/s), %llu batches, %llu ack errors, "
           "%llu rejected lines\n",
           elapsed, (unsigned long long)s.acked_events, (double)s.acked_events / elapsed,
           (unsigned long long)s.acked_batches, (unsigned long long)s.ack_errors, (unsigned long long)s.rejected);
    printf("soak summary: ack latency p50 %.2f ms p99 %.2f ms; query latency p50 %.2f ms p99 %.2f ms over %llu "
           "queries (%llu errors)\n",
           percentile(&s.all_ack, 50), percentile(&s.all_ack, 99), percentile(&s.all_query, 50),
           percentile(&s.all_query, 99), (unsigned long long)s.queries, (unsigned long long)s.query_errors);
    for (int i = 0; i < NOPS; i++)
        print_op(op_names[i], &s.all_op[i]);
    printf("soak summary: %llu reloads (max %.0f ms), %llu settles issuing %llu statements (max %.0f ms), %llu "
           "control errors\n",
           (unsigned long long)s.reloads, s.reload_ms_max, (unsigned long long)s.settles, (unsigned long long)s.issued,
           s.settle_ms_max, (unsigned long long)s.control_errors);
    printf("soak summary: pbrd RSS start %ld kB, max %ld kB (anon %ld, file %ld), end %ld kB (anon %ld, file %ld)%s; "
           "load average %.2f\n",
           r0.total, rmax.total, rmax.anon, rmax.file, rend.total, rend.anon, rend.file, crashed ? " (pbrd died)" : "",
           load1());
    if (csv) {
        if (fclose(csv) != 0)
            fprintf(stderr, "bench/soak: writing %s failed\n", o.csv);
        else
            printf("soak: wrote %s\n", o.csv);
    }
    int status = crashed || s.ack_errors > 0 || s.query_errors > 0 || s.control_errors > 0;
    if (!crashed) {
        int st = 0;
        if (!bench_stop(pid, &st)) {
            fprintf(stderr, "bench/soak: pbrd did not exit 0 on SIGTERM (status %d)\n", st);
            status = 1;
        }
    }
    zmq_ctx_term(s.ctx);
    char config[80], log[80];
    snprintf(config, sizeof config, "%s.yaml", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    const char *paths[3] = {dir, config, log};
    if (status)
        fprintf(stderr, "bench/soak: kept %s (and its .yaml, .log)\n", dir);
    else if (bench_remove(paths, 3) != 0)
        fprintf(stderr, "bench/soak: could not remove %s\n", dir);
    free(s.ack.v);
    free(s.query.v);
    free(s.cohorts.v);
    free(s.all_ack.v);
    free(s.all_query.v);
    for (int i = 0; i < NOPS; i++)
        free(s.all_op[i].v);
    pthread_mutex_destroy(&s.lock);
    return status;
}

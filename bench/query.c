/* query.c -- owns the query benchmark: starts pbrd on a temporary data dir
 * with the real contracts, loads a generated national-scale year over the
 * ingest socket, settles every quarter due by the daemon's --now (default
 * 2013-07-01, one quarter after the last index event, so the year's cohorts
 * are still in their measurement periods and `cohorts` has provisional
 * lines to compute), then measures the query API over loopback:
 *
 *   - status round trips (the transport floor);
 *   - `statement` (issued, read from the store): p50/p99/max from one client;
 *   - `cohorts` (provisional, computed live): the cold first call per
 *     contract, warm (cached) p50/p99, and the cold cost after each small
 *     ingest batch (which invalidates the cache);
 *   - `statement` from C concurrent clients (one DEALER each) for S seconds:
 *     requests/s and p50/p99/max.
 * Targets (SETTLEMENT issue): issued statement p99 < 1 ms; live cohorts
 * p99 < 100 ms. Also prints the load rate, the daemon's RSS and CPU time per
 * phase and the machine load (/proc/loadavg, as `uptime` shows it).
 *
 * usage: query [PBRD] [--offenders N] [--requests N] [--seconds S]
 *              [--clients C] [--rounds R] [--seed S] [--contracts DIR]
 *              [--from DATE] [--to DATE] [--now DATE] [--keep]
 * PBRD defaults to $PBR_BUILD/pbrd (PBR_BUILD defaults to "build"); DIR to
 * $PBR_ROOT/contracts (PBR_ROOT defaults to "."). Doubles are used only for
 * timings, never for anything settled.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "pbr/date.h"
#include "pbr/gen.h"

#define BATCH_EVENTS 1000
#define INGEST_WINDOW 16          /* batches in flight while loading */
#define REPLY_TIMEOUT_MS 60000    /* ordinary requests */
#define SETTLE_TIMEOUT_MS 3600000 /* the settle op over a whole year */
#define MAX_CONTRACTS 64

typedef struct options {
    char pbrd[PATH_MAX];
    char contracts[PATH_MAX];
    uint64_t offenders;
    uint64_t seed;
    size_t requests;           /* statement requests from one client */
    double seconds;            /* concurrent phase */
    int clients;               /* concurrent clients */
    int rounds;                /* invalidation rounds */
    pbr_date from, to;         /* index events of the generated year */
    char now[PBR_DATE_STRLEN]; /* the daemon's --now */
    int keep;                  /* keep the temp dir */
} options;

typedef struct daemon_proc {
    pid_t pid;
    char dir[64];
    char data[128], config[128], log[128];
    char ingest[64], api[64], publish[64];
} daemon_proc;

/* An issued (contract, quarter). */
typedef struct pair {
    char contract[65];
    char quarter[PBR_DATE_STRLEN];
} pair;

/* Sorted latencies (ms) reduced to the figures printed. */
typedef struct summary {
    size_t n;
    double p50, p99, max, mean;
} summary;

/* One reply as the client saw it. */
typedef struct reply_info {
    size_t bytes;
    int error;  /* the body is {"error":...} */
    char *body; /* malloc'd when asked for, else NULL */
} reply_info;

/* Per concurrent client. */
typedef struct client_arg {
    void *zctx;
    const char *endpoint;
    const pair *pairs;
    size_t npairs;
    size_t offset;
    double seconds;
    pthread_barrier_t *start;
    double *lat; /* malloc'd by the thread */
    size_t n, cap;
    size_t errors;
    int failed;
} client_arg;

/* ---- small helpers ----------------------------------------------------------------- */

/* Prints "bench/query: <message>" and exits 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench/query: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Sorts lat in place and summarises it (nearest-rank percentiles). */
static summary summarise(double *lat, size_t n)
{
    summary s = {n, 0, 0, 0, 0};
    if (n == 0)
        return s;
    qsort(lat, n, sizeof *lat, bench_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    s.p50 = lat[(n * 50 + 99) / 100 - 1];
    s.p99 = lat[(n * 99 + 99) / 100 - 1];
    s.max = lat[n - 1];
    s.mean = sum / (double)n;
    return s;
}

/* The 1/5/15-minute load averages as `uptime` prints them. */
static void print_load(const char *when)
{
    double load[3] = {0, 0, 0};
    bench_loadavg(load, 3);
    printf("  machine load %-14s load average: %.2f, %.2f, %.2f  (%ld CPUs)\n", when, load[0], load[1], load[2],
           sysconf(_SC_NPROCESSORS_ONLN));
}

/* Prints pbrd's resident memory: VmRSS (split into anonymous memory and
 * mapped file pages, mostly LMDB's map of the event log) and the peak. */
static void print_daemon_memory(pid_t pid, const char *when)
{
    printf("  pbrd memory %-15s VmRSS %8.1f MB (anon %.1f, file %.1f)   VmHWM %8.1f MB\n", when,
           bench_status_kb(pid, "VmRSS") / 1024.0, bench_status_kb(pid, "RssAnon") / 1024.0,
           bench_status_kb(pid, "RssFile") / 1024.0, bench_status_kb(pid, "VmHWM") / 1024.0);
}

/* ---- ZeroMQ client side ----------------------------------------------------------------- */

/* Waits up to timeout_ms for one [empty][body] reply. Returns 1 with *out
 * filled (out->body malloc'd when want_body; caller frees), 0 on timeout,
 * -1 on a receive error or a malformed envelope. */
static int recv_reply(void *s, int timeout_ms, int want_body, reply_info *out)
{
    memset(out, 0, sizeof *out);
    return bench_recv(s, timeout_ms, want_body ? &out->body : NULL, &out->bytes, &out->error);
}

/* One request/reply round trip; returns the latency in ms or dies on
 * timeout. */
static double timed_call(void *s, const char *req, int timeout_ms, int want_body, reply_info *out)
{
    double t0 = bench_now_s();
    if (bench_send(s, req, strlen(req)) != 0)
        die("zmq_send failed: %s", zmq_strerror(errno));
    int rc = recv_reply(s, timeout_ms, want_body, out);
    double ms = (bench_now_s() - t0) * 1000.0;
    if (rc == 0)
        die("no reply within the timeout to %s", req);
    if (rc < 0)
        die("receiving the reply to %s failed", req);
    return ms;
}

/* ---- the daemon ------------------------------------------------------------------------ */

/* Starts pbrd (config with auto_settle off, --now o->now) and waits up
 * to 10 s until it answers status. Dies on failure. */
static void start_daemon(daemon_proc *d, const options *o, void *zctx)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/pbrd-qb-XXXXXX");
    if (mkdtemp(d->dir) == NULL)
        die("mkdtemp failed: %s", strerror(errno));
    snprintf(d->data, sizeof d->data, "%s/data", d->dir);
    snprintf(d->config, sizeof d->config, "%s/pbrd.yaml", d->dir);
    snprintf(d->log, sizeof d->log, "%s/pbrd.log", d->dir);
    if (bench_endpoints(d->ingest, d->api, d->publish) != 0)
        die("finding a free port failed: %s", strerror(errno));
    if (bench_write_text(d->config, "# bench/query: settlement only on request\nauto_settle: false\n") != 0)
        die("writing %s failed", d->config);
    char *argv[] = {(char *)o->pbrd,
                    "-c",
                    d->config,
                    "--foreground",
                    "--data",
                    d->data,
                    "--contracts",
                    (char *)o->contracts,
                    "--ingest",
                    d->ingest,
                    "--api",
                    d->api,
                    "--publish",
                    d->publish,
                    "--now",
                    (char *)o->now,
                    NULL};
    d->pid = bench_spawn(argv, d->log, 1);
    if (d->pid < 0)
        die("fork failed: %s", strerror(errno));
    int rc = bench_wait_status(zctx, d->api, d->pid, 100);
    if (rc < 0)
        die("pbrd exited at startup (see %s)", d->log);
    if (rc == 0)
        die("pbrd did not answer status within 10 s (see %s)", d->log);
}

/* ---- loading ----------------------------------------------------------------------------- */

/* Generates the year into a temp file (rewound). Dies on failure. */
static FILE *generate_year(const options *o, int64_t *lines)
{
    FILE *f = tmpfile();
    if (f == NULL)
        die("tmpfile failed: %s", strerror(errno));
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.seed = o->seed;
    g.offenders = o->offenders;
    g.from = o->from;
    g.to = o->to;
    *lines = pbr_gen_write(&g, f);
    if (*lines < 0 || fflush(f) != 0)
        die("pbr_gen_write failed");
    rewind(f);
    return f;
}

/* Reads up to BATCH_EVENTS lines into *buf (grown as needed). Returns the
 * bytes read (0 at the end). */
static size_t read_batch(FILE *f, char **buf, size_t *cap)
{
    size_t len = 0;
    char *line = NULL;
    size_t lcap = 0;
    for (int i = 0; i < BATCH_EVENTS; i++) {
        ssize_t n = getline(&line, &lcap, f);
        if (n <= 0)
            break;
        if (len + (size_t)n > *cap) {
            size_t ncap = (*cap ? *cap * 2 : 1 << 18) + (size_t)n;
            char *nb = realloc(*buf, ncap);
            if (nb == NULL)
                die("out of memory");
            *buf = nb;
            *cap = ncap;
        }
        memcpy(*buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    free(line);
    return len;
}

typedef struct ingest_totals {
    long long accepted, duplicates, rejected;
    uint64_t batches;
    char first_error[256];
} ingest_totals;

/* Adds one ingest reply's counts to t. Dies on an unreadable reply. */
static void count_ingest_reply(const reply_info *r, ingest_totals *t)
{
    json_error_t je;
    json_t *j = r->body ? json_loads(r->body, 0, &je) : NULL;
    json_t *acc = json_object_get(j, "accepted");
    if (!json_is_integer(acc))
        die("unexpected ingest reply: %s", r->body ? r->body : "(none)");
    t->accepted += json_integer_value(acc);
    t->duplicates += json_integer_value(json_object_get(j, "duplicates"));
    t->rejected += json_integer_value(json_object_get(j, "rejected"));
    json_t *errs = json_object_get(j, "errors");
    if (t->first_error[0] == '\0' && json_array_size(errs) > 0) {
        json_t *e = json_array_get(errs, 0);
        snprintf(t->first_error, sizeof t->first_error, "line %lld: %s",
                 (long long)json_integer_value(json_object_get(e, "line")),
                 json_string_value(json_object_get(e, "error")) ? json_string_value(json_object_get(e, "error")) : "?");
    }
    json_decref(j);
}

/* Sends the file as BATCH_EVENTS-line batches, INGEST_WINDOW in flight on
 * one DEALER (so batches commit in file order). Dies on failure. */
static void send_events(void *zctx, const char *endpoint, FILE *f, ingest_totals *t)
{
    void *s = bench_dealer(zctx, endpoint);
    if (s == NULL)
        die("connecting to ingest failed: %s", zmq_strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    uint64_t sent = 0, acked = 0;
    int eof = 0;
    memset(t, 0, sizeof *t);
    while (!eof || acked < sent) {
        while (!eof && sent - acked < INGEST_WINDOW) {
            size_t len = read_batch(f, &buf, &cap);
            if (len == 0) {
                eof = 1;
                break;
            }
            if (bench_send(s, buf, len) != 0)
                die("zmq_send (ingest) failed: %s", zmq_strerror(errno));
            sent++;
        }
        if (acked == sent)
            break;
        reply_info r;
        int rc = recv_reply(s, REPLY_TIMEOUT_MS, 1, &r);
        if (rc != 1)
            die("no ingest reply within %s", "60 s");
        count_ingest_reply(&r, t);
        free(r.body);
        acked++;
    }
    t->batches = acked;
    free(buf);
    zmq_close(s);
}

/* The first offender id of the generated file (for the invalidation
 * batches), into out. */
static void first_offender(FILE *f, char *out, size_t n)
{
    char *line = NULL;
    size_t cap = 0;
    rewind(f);
    snprintf(out, n, "PN000000000A");
    if (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *who = json_string_value(json_object_get(j, "offender"));
        if (who)
            snprintf(out, n, "%s", who);
        json_decref(j);
    }
    free(line);
}

/* ---- settling ----------------------------------------------------------------------------- */

/* Reads the issued list of a settle reply into pairs (at most max). */
static size_t issued_pairs(const char *body, pair *pairs, size_t max, long long *total_pence)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *issued = json_object_get(j, "issued");
    if (!json_is_array(issued))
        die("settle failed: %s", body);
    size_t n = 0;
    *total_pence = 0;
    for (size_t i = 0; i < json_array_size(issued) && n < max; i++) {
        json_t *e = json_array_get(issued, i);
        const char *c = json_string_value(json_object_get(e, "contract"));
        const char *q = json_string_value(json_object_get(e, "quarter"));
        if (c == NULL || q == NULL)
            continue;
        snprintf(pairs[n].contract, sizeof pairs[n].contract, "%s", c);
        snprintf(pairs[n].quarter, sizeof pairs[n].quarter, "%s", q);
        *total_pence += json_integer_value(json_object_get(e, "total_pence"));
        n++;
    }
    json_decref(j);
    return n;
}

/* The distinct contracts of the loaded set (op contracts), into names. */
static size_t contract_names(void *s, char names[][65], size_t max)
{
    reply_info r;
    timed_call(s, "{\"op\":\"contracts\"}", REPLY_TIMEOUT_MS, 1, &r);
    json_t *j = json_loads(r.body, 0, NULL);
    json_t *list = json_object_get(j, "contracts");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(list) && n < max; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(list, i), "contract"));
        if (c)
            snprintf(names[n++], 65, "%s", c);
    }
    json_decref(j);
    free(r.body);
    return n;
}

/* ---- measuring ---------------------------------------------------------------------------- */

/* The statement request for p, into out (n bytes). */
static void statement_request(const pair *p, char *out, size_t n)
{
    snprintf(out, n, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}", p->contract, p->quarter);
}

/* The cohorts request for contract, into out (n bytes). */
static void cohorts_request(const char *contract, char *out, size_t n)
{
    snprintf(out, n, "{\"op\":\"cohorts\",\"contract\":\"%s\"}", contract);
}

/* n sequential requests of req; latencies into lat. Returns the error count. */
static size_t repeat_calls(void *s, const char *req, size_t n, double *lat, size_t *bytes)
{
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        reply_info r;
        lat[i] = timed_call(s, req, REPLY_TIMEOUT_MS, 0, &r);
        errors += (size_t)r.error;
        *bytes = r.bytes;
    }
    return errors;
}

/* n sequential statement requests cycling over pairs. Returns errors;
 * *bytes gets the mean reply size. */
static size_t statement_calls(void *s, const pair *pairs, size_t npairs, size_t n, double *lat, size_t *bytes)
{
    size_t errors = 0, total = 0;
    char req[256];
    for (size_t i = 0; i < n; i++) {
        reply_info r;
        statement_request(&pairs[i % npairs], req, sizeof req);
        lat[i] = timed_call(s, req, REPLY_TIMEOUT_MS, 0, &r);
        errors += (size_t)r.error;
        total += r.bytes;
    }
    *bytes = n ? total / n : 0;
    return errors;
}

/* One cohorts call; dies on an error reply (naming it). Returns ms, the
 * reply size in *bytes and, when nlines is not NULL, the number of
 * provisional lines in *nlines (parsed after the clock stopped). */
static double cohorts_call(void *s, const char *contract, size_t *bytes, size_t *nlines)
{
    char req[256];
    reply_info r;
    cohorts_request(contract, req, sizeof req);
    double ms = timed_call(s, req, REPLY_TIMEOUT_MS, 1, &r);
    if (r.error)
        die("cohorts failed: %s", r.body);
    *bytes = r.bytes;
    if (nlines != NULL) {
        json_t *j = json_loads(r.body, 0, NULL);
        *nlines = json_array_size(json_object_get(j, "provisional"));
        json_decref(j);
    }
    free(r.body);
    return ms;
}

/* Sends one conviction for offender (id qb-inv-K) and waits for its
 * commit. Dies unless it was accepted. */
static void ingest_one(void *s, const char *offender, int k)
{
    char line[512];
    reply_info r;
    snprintf(line, sizeof line,
             "{\"id\":\"qb-inv-%d\",\"type\":\"conviction\",\"offender\":\"%s\",\"date\":\"2013-06-%02d\","
             "\"offence_date\":\"2013-05-20\",\"offences\":1,\"category\":\"acquisitive\",\"disposal\":\"fine\"}\n",
             k, offender, 3 + k % 25);
    timed_call(s, line, REPLY_TIMEOUT_MS, 1, &r);
    if (r.body == NULL || strstr(r.body, "\"accepted\":1") == NULL)
        die("the invalidation event was not accepted: %s", r.body ? r.body : "(none)");
    free(r.body);
}

/* Concurrent client: statement requests until its time is up. */
static void *client_main(void *p)
{
    client_arg *a = p;
    void *s = bench_dealer(a->zctx, a->endpoint);
    if (s == NULL) {
        a->failed = 1;
        pthread_barrier_wait(a->start);
        return NULL;
    }
    char req[256];
    pthread_barrier_wait(a->start);
    double end = bench_now_s() + a->seconds;
    for (size_t i = a->offset; bench_now_s() < end; i++) {
        if (a->n == a->cap) {
            size_t ncap = a->cap ? a->cap * 2 : 4096;
            double *nl = realloc(a->lat, ncap * sizeof *nl);
            if (nl == NULL) {
                a->failed = 1;
                break;
            }
            a->lat = nl;
            a->cap = ncap;
        }
        statement_request(&a->pairs[i % a->npairs], req, sizeof req);
        double t0 = bench_now_s();
        reply_info r;
        if (bench_send(s, req, strlen(req)) != 0 || recv_reply(s, REPLY_TIMEOUT_MS, 0, &r) != 1) {
            a->failed = 1;
            break;
        }
        a->lat[a->n++] = (bench_now_s() - t0) * 1000.0;
        a->errors += (size_t)r.error;
    }
    zmq_close(s);
    return NULL;
}

/* Runs nclients concurrent clients for seconds; fills *rate (requests/s)
 * and the merged latency summary. Returns the error count. */
static size_t concurrent_statements(void *zctx, const char *endpoint, const pair *pairs, size_t npairs, int nclients,
                                    double seconds, double *rate, summary *sum)
{
    client_arg *args = calloc((size_t)nclients, sizeof *args);
    pthread_t *th = calloc((size_t)nclients, sizeof *th);
    pthread_barrier_t start;
    if (args == NULL || th == NULL || pthread_barrier_init(&start, NULL, (unsigned)nclients + 1) != 0)
        die("setting up the clients failed");
    for (int i = 0; i < nclients; i++) {
        client_arg a = {zctx, endpoint, pairs, npairs, (size_t)i * npairs / (size_t)nclients, seconds, &start, NULL,
                        0,    0,        0,     0};
        args[i] = a;
        if (pthread_create(&th[i], NULL, client_main, &args[i]) != 0)
            die("pthread_create failed");
    }
    pthread_barrier_wait(&start);
    double t0 = bench_now_s();
    for (int i = 0; i < nclients; i++)
        pthread_join(th[i], NULL);
    double elapsed = bench_now_s() - t0;
    pthread_barrier_destroy(&start);
    size_t total = 0, errors = 0;
    for (int i = 0; i < nclients; i++) {
        if (args[i].failed)
            die("a concurrent client failed (send/receive error or timeout)");
        total += args[i].n;
        errors += args[i].errors;
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    if (all == NULL)
        die("out of memory");
    size_t k = 0;
    for (int i = 0; i < nclients; i++) {
        memcpy(all + k, args[i].lat, args[i].n * sizeof *all);
        k += args[i].n;
        free(args[i].lat);
    }
    *sum = summarise(all, total);
    *rate = (double)total / elapsed;
    free(all);
    free(args);
    free(th);
    return errors;
}

/* ---- output --------------------------------------------------------------------------------- */

/* One row of the latency table. */
static void print_row(const char *what, const summary *s, const char *note)
{
    printf("  %-34s %7zu %9.3f %9.3f %9.3f %9.3f  %s\n", what, s->n, s->p50, s->p99, s->max, s->mean, note);
}

/* The latency table's header. */
static void print_header(void)
{
    printf("  %-34s %7s %9s %9s %9s %9s\n", "op (latency in ms)", "n", "p50", "p99", "max", "mean");
}

/* "MET" when value < target, else "MISSED". */
static const char *verdict(double value, double target)
{
    return value < target ? "MET" : "MISSED";
}

/* ---- options --------------------------------------------------------------------------------- */

/* Prints the usage and exits 2. */
static void usage(void) __attribute__((noreturn));
static void usage(void)
{
    fprintf(stderr,
            "usage: query [PBRD] [--offenders N] [--requests N] [--seconds S] [--clients C]\n"
            "             [--rounds R] [--seed S] [--contracts DIR] [--from DATE] [--to DATE] [--now DATE]\n"
            "             [--keep]\n");
    exit(2);
}

/* A YYYY-MM-DD argument; dies if it is not one. */
static pbr_date parse_date_arg(const char *s)
{
    pbr_date d;
    if (pbr_date_parse(s, strlen(s), &d) != 0)
        die("not a date (YYYY-MM-DD): %s", s);
    return d;
}

/* Fills o from the command line (defaults in the header comment); exits 2
 * on a usage error, dies if pbrd or the contracts dir is missing. */
static void parse_options(int argc, char **argv, options *o)
{
    const char *build = getenv("PBR_BUILD"), *root = getenv("PBR_ROOT");
    memset(o, 0, sizeof *o);
    snprintf(o->pbrd, sizeof o->pbrd, "%s/pbrd", build && *build ? build : "build");
    snprintf(o->contracts, sizeof o->contracts, "%s/contracts", root && *root ? root : ".");
    snprintf(o->now, sizeof o->now, "2013-07-01");
    o->offenders = 1000000;
    o->seed = 1;
    o->requests = 2000;
    o->seconds = 5;
    o->clients = 8;
    o->rounds = 3;
    o->from = pbr_date_from_ymd(2012, 4, 1);
    o->to = pbr_date_from_ymd(2013, 3, 31);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep")) {
            o->keep = 1;
            continue;
        }
        if (a[0] != '-') {
            snprintf(o->pbrd, sizeof o->pbrd, "%s", a);
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (!strcmp(a, "--offenders"))
            o->offenders = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--requests"))
            o->requests = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            o->seconds = strtod(v, NULL);
        else if (!strcmp(a, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(a, "--rounds"))
            o->rounds = atoi(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--contracts"))
            snprintf(o->contracts, sizeof o->contracts, "%s", v);
        else if (!strcmp(a, "--from"))
            o->from = parse_date_arg(v);
        else if (!strcmp(a, "--to"))
            o->to = parse_date_arg(v);
        else if (!strcmp(a, "--now"))
            pbr_date_format(parse_date_arg(v), o->now);
        else
            usage();
    }
    if (o->offenders == 0 || o->requests == 0 || o->seconds <= 0 || o->clients < 1 || o->clients > 256 ||
        o->rounds < 0 || o->from > o->to)
        usage();
    char abs[PATH_MAX];
    if (realpath(o->contracts, abs) == NULL)
        die("contracts dir %s not found", o->contracts);
    snprintf(o->contracts, sizeof o->contracts, "%s", abs);
    if (access(o->pbrd, X_OK) != 0)
        die("%s is not an executable pbrd (set PBR_BUILD or pass the path)", o->pbrd);
}

/* ---- main ------------------------------------------------------------------------------------- */

/* Generate, start, load, settle, measure, report, stop. Returns 0, or 1 if
 * pbrd did not exit 0 on SIGTERM (anything else dies with 1 earlier). */
int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    char from[PBR_DATE_STRLEN], to[PBR_DATE_STRLEN];
    pbr_date_format(o.from, from);
    pbr_date_format(o.to, to);
    printf("bench/query: %llu offenders, index events %s..%s, seed %llu, contracts %s\n",
           (unsigned long long)o.offenders, from, to, (unsigned long long)o.seed, o.contracts);
    print_load("at start");
    fflush(stdout);

    /* 1. generate */
    double t0 = bench_now_s();
    int64_t lines;
    FILE *events = generate_year(&o, &lines);
    long fbytes = fseek(events, 0, SEEK_END) == 0 ? ftell(events) : -1;
    if (fbytes < 0)
        die("sizing the generated events failed: %s", strerror(errno));
    rewind(events);
    printf("  generate                     %8.2f s  %lld events, %.1f MB JSON Lines\n", bench_now_s() - t0,
           (long long)lines, (double)fbytes / 1e6);
    fflush(stdout);

    /* 2. start and load */
    void *zctx = zmq_ctx_new();
    if (zctx == NULL)
        die("zmq_ctx_new failed");
    daemon_proc d;
    start_daemon(&d, &o, zctx);
    double cpu0 = bench_cpu_s(d.pid);
    t0 = bench_now_s();
    ingest_totals it;
    send_events(zctx, d.ingest, events, &it);
    double load_s = bench_now_s() - t0, cpu1 = bench_cpu_s(d.pid);
    printf("  load (ingest)                %8.2f s  %.0f events/s, %llu batches of %d, %d in flight; pbrd CPU %.1f s\n",
           load_s, (double)lines / load_s, (unsigned long long)it.batches, BATCH_EVENTS, INGEST_WINDOW, cpu1 - cpu0);
    printf("                                          accepted %lld, duplicates %lld, rejected %lld%s%s\n", it.accepted,
           it.duplicates, it.rejected, it.first_error[0] ? " -- first error: " : "", it.first_error);
    print_daemon_memory(d.pid, "after load");
    print_load("after load");
    fflush(stdout);
    char offender[80];
    first_offender(events, offender, sizeof offender);
    fclose(events);

    void *api = bench_dealer(zctx, d.api);
    void *ing = bench_dealer(zctx, d.ingest);
    if (api == NULL || ing == NULL)
        die("connecting to pbrd failed: %s", zmq_strerror(errno));

    /* 3. settle */
    static pair pairs[4096];
    reply_info r;
    char req[256];
    snprintf(req, sizeof req, "{\"op\":\"settle\",\"quarter\":\"%s\"}", o.now);
    cpu0 = bench_cpu_s(d.pid);
    double settle_ms = timed_call(api, req, SETTLE_TIMEOUT_MS, 1, &r);
    long long total_pence;
    size_t npairs = issued_pairs(r.body, pairs, sizeof pairs / sizeof pairs[0], &total_pence);
    free(r.body);
    printf("  settle (all due by %s)  %8.2f s  %zu statements issued (sum of totals %lld pence); pbrd CPU %.1f s\n",
           o.now, settle_ms / 1000.0, npairs, total_pence, bench_cpu_s(d.pid) - cpu0);
    print_daemon_memory(d.pid, "after settle");
    if (npairs == 0)
        die("settle issued no statements; nothing to query (see %s)", d.log);
    char names[MAX_CONTRACTS][65];
    size_t ncontracts = contract_names(api, names, MAX_CONTRACTS);
    fflush(stdout);

    /* 4. measurements */
    size_t nlat = o.requests > 500 ? o.requests : 500;
    double *lat = malloc(nlat * sizeof *lat);
    double cold[MAX_CONTRACTS * 2];
    if (lat == NULL)
        die("out of memory");
    size_t bytes, errors;
    printf("\n");
    print_load("before queries");
    print_header();

    repeat_calls(api, "{\"op\":\"status\"}", 500, lat, &bytes);
    summary s_status = summarise(lat, 500);
    print_row("status (transport floor)", &s_status, "");

    statement_calls(api, pairs, npairs, npairs < 100 ? 100 : npairs, lat, &bytes); /* warm-up, not counted */
    cpu0 = bench_cpu_s(d.pid);
    errors = statement_calls(api, pairs, npairs, o.requests, lat, &bytes);
    double stmt_cpu = bench_cpu_s(d.pid) - cpu0;
    summary s_stmt = summarise(lat, o.requests);
    char note[200];
    snprintf(note, sizeof note, "%zu pairs, mean reply %zu B, %zu errors, pbrd CPU %.0f us/request", npairs, bytes,
             errors, stmt_cpu * 1e6 / (double)o.requests);
    print_row("statement (issued, 1 client)", &s_stmt, note);
    fflush(stdout);

    /* cohorts: cold per contract, then warm */
    size_t cbytes[MAX_CONTRACTS], clines[MAX_CONTRACTS], total_lines = 0;
    for (size_t i = 0; i < ncontracts; i++) {
        cold[i] = cohorts_call(api, names[i], &cbytes[i], &clines[i]);
        total_lines += clines[i];
    }
    summary s_cold = summarise(memcpy(lat, cold, ncontracts * sizeof *lat), ncontracts);
    size_t warm_n = o.requests / 4 > ncontracts ? o.requests / 4 : ncontracts;
    if (warm_n > nlat)
        warm_n = nlat;
    for (size_t i = 0; i < warm_n; i++)
        lat[i] = cohorts_call(api, names[i % ncontracts], &bytes, NULL);
    summary s_warm = summarise(lat, warm_n);
    snprintf(note, sizeof note, "computed live, one per contract; %zu provisional lines in all", total_lines);
    print_row("cohorts cold (first per contract)", &s_cold, note);
    print_row("cohorts warm (cached)", &s_warm, "same event log and date");
    fflush(stdout);

    /* cohorts after invalidation: 1-event batch, then each contract cold */
    size_t ninv = (size_t)o.rounds * ncontracts, k = 0;
    double *inv = malloc((ninv ? ninv : 1) * sizeof *inv), *first = malloc((size_t)(o.rounds + 1) * sizeof *first);
    double *ing_ms = malloc((size_t)(o.rounds + 1) * sizeof *ing_ms);
    if (inv == NULL || first == NULL || ing_ms == NULL)
        die("out of memory");
    for (int round = 0; round < o.rounds; round++) {
        double t_ing = bench_now_s();
        ingest_one(ing, offender, round);
        ing_ms[round] = (bench_now_s() - t_ing) * 1000.0;
        for (size_t i = 0; i < ncontracts; i++) {
            inv[k] = cohorts_call(api, names[i], &bytes, NULL);
            if (i == 0)
                first[round] = inv[k];
            k++;
        }
    }
    summary s_inv = summarise(inv, ninv), s_first = summarise(first, (size_t)o.rounds),
            s_ing = summarise(ing_ms, (size_t)o.rounds);
    print_row("ingest 1-event batch (ack)", &s_ing, "durable commit");
    print_row("cohorts 1st call after the batch", &s_first, "includes mirroring the event");
    print_row("cohorts cold after the batch (all)", &s_inv, "every contract, each round");
    fflush(stdout);

    /* concurrent clients */
    double rate;
    summary s_conc;
    cpu0 = bench_cpu_s(d.pid);
    errors = concurrent_statements(zctx, d.api, pairs, npairs, o.clients, o.seconds, &rate, &s_conc);
    double conc_cpu = bench_cpu_s(d.pid) - cpu0;
    snprintf(note, sizeof note, "%.0f requests/s, %zu errors, pbrd CPU %.0f%% of one core", rate, errors,
             conc_cpu * 100.0 / o.seconds);
    char what[64];
    snprintf(what, sizeof what, "statement, %d clients, %.0f s", o.clients, o.seconds);
    print_row(what, &s_conc, note);

    /* per-contract cold cohorts */
    printf("\n  cohorts per contract: cold first call, reply size, provisional lines (as of %s)\n", o.now);
    for (size_t i = 0; i < ncontracts; i++)
        printf("    %-20s %9.3f ms  %8zu B  %5zu lines\n", names[i], cold[i], cbytes[i], clines[i]);

    /* summary */
    double live_p99 = s_cold.p99 > s_inv.p99 ? s_cold.p99 : s_inv.p99;
    printf("\n  targets\n");
    printf("    issued statement p99 < 1 ms:  %.3f ms (1 client) %s; %.3f ms (%d clients) %s\n", s_stmt.p99,
           verdict(s_stmt.p99, 1.0), s_conc.p99, o.clients, verdict(s_conc.p99, 1.0));
    printf("    live cohorts p99 < 100 ms:    %.3f ms (cold computations) %s; warm p99 %.3f ms %s\n", live_p99,
           verdict(live_p99, 100.0), s_warm.p99, verdict(s_warm.p99, 100.0));
    printf("    throughput, %d clients:        %.0f statement requests/s\n", o.clients, rate);
    printf("\n");
    print_daemon_memory(d.pid, "at end");
    printf("  pbrd CPU total               %8.1f s\n", bench_cpu_s(d.pid));
    print_load("at end");

    free(lat);
    free(inv);
    free(first);
    free(ing_ms);
    zmq_close(api);
    zmq_close(ing);
    int clean = bench_stop(d.pid, NULL);
    zmq_ctx_term(zctx);
    if (!clean)
        fprintf(stderr, "bench/query: pbrd did not exit 0 on SIGTERM (see %s)\n", d.log);
    if (o.keep || !clean)
        printf("  kept %s (data, config, pbrd.log)\n", d.dir);
    else if (bench_remove((const char *const[]){d.dir}, 1) != 0)
        fprintf(stderr, "bench/query: could not remove %s\n", d.dir);
    return clean ? 0 : 1;
}

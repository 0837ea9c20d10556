/* ingest.c -- benchmark of the ingest path:
 *   (a) raw LMDB append rate (mdb directly: the same number of records of
 *       the same canonical sizes, 10,000-record durable transactions);
 *   (b) pbrd's durable ingest rate over ZeroMQ loopback (N events in
 *       pipelined 1,000-event batches, 16 in flight);
 *   (c) the ratio b/a (target >= 0.4);
 *   (d) p50/p99 acknowledgement latency at a steady 10,000 events/s
 *       (100-event batches every 10 ms; target p99 < 5 ms);
 *   (e) pbrd's peak RSS (VmHWM).
 * usage: bench/bench_ingest [PBRD] [--events N] [--latency-seconds S] [--rate-only]
 * --rate-only: just (a), (b), (c) and (e), for quick A/B runs.
 * PBRD defaults to $PBR_BUILD/pbrd (PBR_BUILD defaults to "build").
 * PBR_BENCH_PBRD_LOG=FILE keeps pbrd's log (stderr) in FILE.
 */
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "pbr/event.h"

static void die(const char *what)
{
    fprintf(stderr, "bench/bench_ingest: %s\n", what);
    exit(1);
}

/* One release event line for id number i (prefix distinguishes runs). */
static int event_line(char *out, size_t n, const char *prefix, uint64_t i)
{
    return snprintf(out, n,
                    "{\"id\":\"%s-%llu\",\"type\":\"release\",\"offender\":\"o-%llu\",\"date\":\"2020-01-15\","
                    "\"area\":\"X\",\"establishment\":\"HMP-X\",\"sentence_days\":100,\"age\":30,\"gender\":\"M\","
                    "\"ogrs\":0.4321}\n",
                    prefix, (unsigned long long)i, (unsigned long long)(i % 100000));
}

/* ---- (a) raw LMDB ------------------------------------------------------------ */

static int check_mdb(int rc, const char *call)
{
    if (rc != 0) {
        fprintf(stderr, "bench/bench_ingest: %s: %s\n", call, mdb_strerror(rc));
        exit(1);
    }
    return 0;
}

/* qsort_r comparator: orders record numbers by offender id (ctx: the ids;
 * memcmp order, shorter first on a tie, as LMDB compares keys), then by
 * number. */
static int cmp_off(const void *a, const void *b, void *ctx)
{
    char(*sort_offs)[24] = ctx;
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    size_t lx = strlen(sort_offs[x]), ly = strlen(sort_offs[y]);
    int c = memcmp(sort_offs[x], sort_offs[y], lx < ly ? lx : ly);
    if (c != 0)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* An LMDB environment in dir as pbrd opens its store (4 named databases,
 * an 8 GiB map). Exits on failure. */
static MDB_env *open_env(const char *dir)
{
    MDB_env *env;
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_maxdbs(env, 4), "mdb_env_set_maxdbs");
    check_mdb(mdb_env_set_mapsize(env, (size_t)8 << 30), "mdb_env_set_mapsize");
    check_mdb(mdb_env_open(env, dir, 0, 0600), "mdb_env_open");
    return env;
}

/* Puts the offenders index entries of a transaction's cnt records the way
 * store.c writes them, in key order before the commit: offs[order[k]] ->
 * big-endian seq base + order[k] + 1, order[0..cnt) sorted here. */
static void put_offenders(MDB_txn *txn, MDB_dbi offs_dbi, char (*offs)[24], uint64_t *order, uint64_t cnt,
                          uint64_t base)
{
    qsort_r(order, cnt, sizeof *order, cmp_off, offs);
    for (uint64_t k = 0; k < cnt; k++) {
        uint64_t seq = base + order[k] + 1;
        unsigned char be[8];
        for (int b = 0; b < 8; b++)
            be[b] = (unsigned char)(seq >> (56 - 8 * b));
        MDB_val ok = {strlen(offs[order[k]]), offs[order[k]]}, ov = {sizeof be, be};
        check_mdb(mdb_put(txn, offs_dbi, &ok, &ov, 0), "mdb_put(offenders)");
    }
}

/* Appends the canonical form of every event in 10k-record durable
 * transactions; returns records per second. Each record is the canonical
 * JSON plus its NUL, exactly the value pbrd's events log stores.
 * With `indexed`, also maintains pbrd's two indexes the way store.c does
 * (ids: id -> 9-byte value with MDB_NOOVERWRITE, in arrival order;
 * offenders: MDB_DUPSORT offender -> big-endian seq, a transaction's
 * entries in key order before its commit): not the baseline, an
 * informational figure of what LMDB alone costs for pbrd's schema, before
 * any parsing or networking. With keep, the environment is left in place
 * and its directory written there (the caller removes it). */
static double raw_lmdb_rate(uint64_t n, int indexed, char keep[64])
{
    char dir[] = "/tmp/pbrd-bench-lmdb-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp failed");
    /* canonical records (and ids, offenders) prepared before timing */
    char **canon = malloc(n * sizeof *canon);
    size_t *lens = malloc(n * sizeof *lens);
    char(*ids)[24] = indexed ? malloc(n * sizeof *ids) : NULL;
    char(*offs)[24] = indexed ? malloc(n * sizeof *offs) : NULL;
    uint64_t *order = indexed ? malloc(10000 * sizeof *order) : NULL;
    if (!canon || !lens || (indexed && (!ids || !offs || !order)))
        die("out of memory");
    char line[512], err[PBR_ERR_MAX];
    for (uint64_t i = 0; i < n; i++) {
        int len = event_line(line, sizeof line, "a", i);
        pbr_event ev;
        if (pbr_event_parse(line, (size_t)len - 1, &ev, err, sizeof err) != 0)
            die(err);
        canon[i] = pbr_event_canonical(&ev, &lens[i]);
        if (indexed) {
            snprintf(ids[i], sizeof ids[i], "%s", ev.id);
            snprintf(offs[i], sizeof offs[i], "%s", ev.offender);
        }
        pbr_event_clear(&ev);
        if (!canon[i])
            die("pbr_event_canonical failed");
        lens[i]++; /* the NUL, as stored */
    }
    MDB_env *env = open_env(dir);
    MDB_dbi dbi, ids_dbi = 0, offs_dbi = 0;
    double t0 = bench_now_s();
    for (uint64_t i = 0; i < n;) {
        MDB_txn *txn;
        uint64_t first = i;
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        /* the baseline keeps its log in the main database; with indexes the
         * main database holds the names, so the log is a named one as in pbrd */
        check_mdb(mdb_dbi_open(txn, indexed ? "events" : NULL, MDB_INTEGERKEY | (indexed ? MDB_CREATE : 0), &dbi),
                  "mdb_dbi_open");
        if (indexed) {
            check_mdb(mdb_dbi_open(txn, "ids", MDB_CREATE, &ids_dbi), "mdb_dbi_open(ids)");
            check_mdb(mdb_dbi_open(txn, "offenders", MDB_CREATE | MDB_DUPSORT, &offs_dbi), "mdb_dbi_open(off)");
        }
        for (uint64_t k = 0; k < 10000 && i < n; k++, i++) {
            uint64_t seq = i + 1;
            MDB_val key = {sizeof seq, &seq}, val = {lens[i], canon[i]};
            check_mdb(mdb_put(txn, dbi, &key, &val, MDB_APPEND), "mdb_put");
            if (indexed) {
                unsigned char idval[9];
                memcpy(idval, &seq, 8);
                idval[8] = 0;
                MDB_val ik = {strlen(ids[i]), ids[i]}, iv = {sizeof idval, idval};
                check_mdb(mdb_put(txn, ids_dbi, &ik, &iv, MDB_NOOVERWRITE), "mdb_put(ids)");
            }
        }
        if (indexed) { /* offenders entries in key order at commit, as store.c writes them */
            uint64_t cnt = i - first;
            for (uint64_t k = 0; k < cnt; k++)
                order[k] = first + k;
            put_offenders(txn, offs_dbi, offs, order, cnt, 0);
        }
        check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    double t = bench_now_s() - t0;
    mdb_env_close(env);
    for (uint64_t i = 0; i < n; i++)
        free(canon[i]);
    free(canon);
    free(lens);
    free(ids);
    free(offs);
    free(order);
    if (keep) { /* the caller removes it */
        snprintf(keep, 64, "%s", dir);
        return (double)n / t;
    }
    const char *paths[1] = {dir};
    if (bench_remove(paths, 1) != 0)
        fprintf(stderr, "bench/bench_ingest: could not remove %s\n", dir);
    return (double)n / t;
}

/* The disk's floor under (d): commits a 100-record durable transaction
 * every 10 ms for `seconds` into the environment `dir` that
 * raw_lmdb_rate(n, 1, ...) left (pbrd's schema, n records already, as
 * pbrd's store after (b)): log records of canonical size, ids and
 * offenders entries as store.c writes them. Fills p50/p99 of the commit
 * time in ms. Every acknowledgement waits for one such commit (LMDB:
 * write the dirty pages, fdatasync, then a synchronous meta page write). */
static void raw_lmdb_latency(const char *dir, uint64_t n, double seconds, double *p50, double *p99)
{
    size_t nt = (size_t)(seconds * 100);
    double *lat = malloc(nt * sizeof *lat);
    char val[260];
    if (!lat)
        die("out of memory");
    memset(val, 'x', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    MDB_env *env = open_env(dir);
    MDB_dbi dbi, ids_dbi, offs_dbi;
    double start = bench_now_s();
    uint64_t seq = n;
    char(*offs)[24] = malloc(100 * sizeof *offs);
    uint64_t order[100];
    if (!offs)
        die("out of memory");
    for (size_t t = 0; t < nt; t++) {
        bench_sleep_s(start + (double)t * 0.010 - bench_now_s());
        MDB_txn *txn;
        double t0 = bench_now_s();
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        check_mdb(mdb_dbi_open(txn, "events", MDB_INTEGERKEY, &dbi), "mdb_dbi_open(events)");
        check_mdb(mdb_dbi_open(txn, "ids", 0, &ids_dbi), "mdb_dbi_open(ids)");
        check_mdb(mdb_dbi_open(txn, "offenders", MDB_DUPSORT, &offs_dbi), "mdb_dbi_open(offenders)");
        uint64_t first = seq;
        for (int k = 0; k < 100; k++) {
            seq++;
            char id[32];
            unsigned char idval[9];
            MDB_val key = {sizeof seq, &seq}, v = {sizeof val, val};
            check_mdb(mdb_put(txn, dbi, &key, &v, MDB_APPEND), "mdb_put");
            snprintf(id, sizeof id, "f-%llu", (unsigned long long)seq);
            memcpy(idval, &seq, 8);
            idval[8] = 0;
            MDB_val ik = {strlen(id), id}, iv = {sizeof idval, idval};
            check_mdb(mdb_put(txn, ids_dbi, &ik, &iv, MDB_NOOVERWRITE), "mdb_put(ids)");
            snprintf(offs[k], sizeof offs[k], "o-%llu", (unsigned long long)(seq % 100000));
            order[k] = (uint64_t)k;
        }
        put_offenders(txn, offs_dbi, offs, order, 100, first);
        check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
        lat[t] = (bench_now_s() - t0) * 1000.0;
    }
    mdb_env_close(env);
    free(offs);
    *p50 = bench_percentile(lat, nt, 50);
    *p99 = bench_percentile(lat, nt, 99);
    free(lat);
}

/* ---- pbrd ---------------------------------------------------------------------- */

typedef struct pbrd_proc {
    pid_t pid;
    char dir[64];
    char ingest[64], api[64], publish[64];
} pbrd_proc;

/* Waits up to timeout_ms for a reply on s; returns 1 if one was read, its
 * body (truncated to n - 1 bytes) into body. */
static int recv_reply(void *s, int timeout_ms, char *body, size_t n)
{
    char *text;
    size_t size;
    int rc = bench_recv(s, timeout_ms, &text, &size, NULL);
    if (rc < 0)
        die("zmq_msg_recv failed");
    if (rc == 1) {
        size_t len = size < n - 1 ? size : n - 1;
        memcpy(body, text, len);
        body[len] = '\0';
        free(text);
    }
    return rc;
}

static void *dealer(void *ctx, const char *endpoint)
{
    void *s = bench_dealer(ctx, endpoint);
    if (s == NULL)
        die("zmq_connect failed");
    return s;
}

static void start_pbrd(pbrd_proc *p, const char *bin, void *ctx)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/pbrd-bench-XXXXXX");
    if (!mkdtemp(p->dir))
        die("mkdtemp failed");
    if (bench_endpoints(p->ingest, p->api, p->publish) != 0)
        die("finding a free port failed");
    const char *log = getenv("PBR_BENCH_PBRD_LOG"); /* keep pbrd's log there, for diagnosis */
    char *argv[] = {(char *)bin, "--foreground", "--data",    p->dir,     "--ingest", p->ingest,
                    "--api",     p->api,         "--publish", p->publish, NULL};
    p->pid = bench_spawn(argv, log && *log ? log : "/dev/null", 0);
    if (p->pid < 0)
        die("fork failed");
    if (bench_wait_status(ctx, p->api, p->pid, 100) != 1)
        die("pbrd did not answer status");
}

/* Sends n events as 1000-event batches, 16 in flight; returns events/s. */
static double pbrd_rate(void *ctx, const pbrd_proc *p, uint64_t n)
{
    const uint64_t per_batch = 1000;
    const int window = 16;
    uint64_t nb = (n + per_batch - 1) / per_batch;
    char **batches = malloc(nb * sizeof *batches);
    size_t *lens = malloc(nb * sizeof *lens);
    if (!batches || !lens)
        die("out of memory");
    for (uint64_t b = 0; b < nb; b++) {
        batches[b] = malloc(per_batch * 300);
        if (!batches[b])
            die("out of memory");
        size_t len = 0;
        for (uint64_t i = b * per_batch; i < n && i < (b + 1) * per_batch; i++)
            len += (size_t)event_line(batches[b] + len, 300, "b", i);
        lens[b] = len;
    }
    void *s = dealer(ctx, p->ingest);
    uint64_t sent = 0, acked = 0;
    char reply[4096];
    double t0 = bench_now_s();
    while (acked < nb) {
        while (sent < nb && sent - acked < (uint64_t)window) {
            bench_send(s, batches[sent], lens[sent]);
            sent++;
        }
        if (!recv_reply(s, 30000, reply, sizeof reply))
            die("no ingest reply within 30 s");
        if (!strstr(reply, "\"rejected\":0"))
            fprintf(stderr, "bench/bench_ingest: unexpected reply %s\n", reply);
        acked++;
    }
    double t = bench_now_s() - t0;
    zmq_close(s);
    for (uint64_t b = 0; b < nb; b++)
        free(batches[b]);
    free(batches);
    free(lens);
    return (double)n / t;
}

/* 100-event batches every 10 ms for seconds s; fills p50/p99 in ms. */
static void latency(void *ctx, const pbrd_proc *p, double seconds, double *p50, double *p99)
{
    size_t nb = (size_t)(seconds * 100);
    double *lat = malloc(nb * sizeof *lat);
    char *batch = malloc(100 * 300), reply[4096];
    if (!lat || !batch)
        die("out of memory");
    void *s = dealer(ctx, p->ingest);
    double start = bench_now_s();
    for (size_t b = 0; b < nb; b++) {
        size_t len = 0;
        for (uint64_t i = 0; i < 100; i++)
            len += (size_t)event_line(batch + len, 300, "l", b * 100 + i);
        bench_sleep_s(start + (double)b * 0.010 - bench_now_s());
        double t0 = bench_now_s();
        bench_send(s, batch, len);
        if (!recv_reply(s, 30000, reply, sizeof reply))
            die("no ingest reply within 30 s");
        lat[b] = (bench_now_s() - t0) * 1000.0;
    }
    zmq_close(s);
    *p50 = bench_percentile(lat, nb, 50);
    *p99 = bench_percentile(lat, nb, 99);
    free(lat);
    free(batch);
}

int main(int argc, char **argv)
{
    char bin[512];
    const char *build = getenv("PBR_BUILD");
    snprintf(bin, sizeof bin, "%s/pbrd", build && *build ? build : "build");
    uint64_t n = 1000000;
    double lat_seconds = 10;
    int rate_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--latency-seconds") && i + 1 < argc)
            lat_seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--rate-only"))
            rate_only = 1;
        else if (argv[i][0] != '-')
            snprintf(bin, sizeof bin, "%s", argv[i]);
        else {
            fprintf(stderr, "usage: bench/bench_ingest [PBRD] [--events N] [--latency-seconds S] [--rate-only]\n");
            return 2;
        }
    }
    if (n == 0 || lat_seconds <= 0.1)
        die("--events and --latency-seconds must be positive");

    double a = raw_lmdb_rate(n, 0, NULL);
    printf("(a) raw LMDB append:       %10.0f records/s  (%llu records, 10k-record durable txns)\n", a,
           (unsigned long long)n);
    fflush(stdout);
    char schema_dir[64] = ""; /* (info) environment, reused for the floor under (d) */
    if (!rate_only) {
        double a2 = raw_lmdb_rate(n, 1, schema_dir);
        printf("    (info) raw LMDB + pbrd's ids and offenders indexes: %.0f records/s (%.2f of a)\n", a2, a2 / a);
        fflush(stdout);
    }

    void *ctx = zmq_ctx_new();
    pbrd_proc p;
    start_pbrd(&p, bin, ctx);
    double cpu0 = bench_cpu_s(p.pid);
    double b = pbrd_rate(ctx, &p, n);
    double cpu = bench_cpu_s(p.pid) - cpu0;
    printf("(b) pbrd durable ingest:   %10.0f events/s   (%llu events, 1000-event batches, 16 in flight)\n", b,
           (unsigned long long)n);
    printf("    (info) pbrd CPU time: %.2f s, %.2f us/event (all threads)\n", cpu, cpu * 1e6 / (double)n);
    printf("(c) ratio b/a:             %10.2f            (target >= 0.40)\n", b / a);
    fflush(stdout);
    if (rate_only) {
        printf("(e) pbrd peak RSS (VmHWM): %10ld kB\n", bench_status_kb(p.pid, "VmHWM"));
        goto stop;
    }
    double p50, p99;
    latency(ctx, &p, lat_seconds, &p50, &p99);
    printf("(d) ack latency @10k ev/s: p50 %.2f ms, p99 %.2f ms  (target p99 < 5 ms; %.0f s)\n", p50, p99, lat_seconds);
    printf("(e) pbrd peak RSS (VmHWM): %10ld kB\n", bench_status_kb(p.pid, "VmHWM"));
    raw_lmdb_latency(schema_dir, n, lat_seconds, &p50, &p99);
    printf("    (info) floor under (d): raw LMDB, pbrd's schema, %llu records, 100-record durable commits: "
           "p50 %.2f ms, p99 %.2f ms\n",
           (unsigned long long)n, p50, p99);
stop:;
    int clean = bench_stop(p.pid, NULL);
    zmq_ctx_term(ctx);
    const char *paths[2] = {p.dir, schema_dir};
    if (bench_remove(paths, schema_dir[0] ? 2 : 1) != 0)
        fprintf(stderr, "bench/bench_ingest: could not remove %s %s\n", p.dir, schema_dir);
    return clean ? 0 : 1;
}

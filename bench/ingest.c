/* ingest.c -- benchmark of the ingest path:
 *   (a) raw LMDB append rate (mdb directly: the same number of records of
 *       the same canonical sizes, 10,000-record durable transactions);
 *   (b) pbrd's durable ingest rate over ZeroMQ loopback (N events in
 *       pipelined 1,000-event batches, 16 in flight);
 *   (c) the ratio b/a (target >= 0.4);
 *   (d) p50/p99 acknowledgement latency at a steady 10,000 events/s
 *       (100-event batches every 10 ms; target p99 < 5 ms);
 *   (e) pbrd's peak RSS (VmHWM).
 * usage: bench/ingest [PBRD] [--events N] [--latency-seconds S]
 * PBRD defaults to $PBR_BUILD/pbrd (PBR_BUILD defaults to "build").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "pbr/event.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench/ingest: %s\n", what);
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
        fprintf(stderr, "bench/ingest: %s: %s\n", call, mdb_strerror(rc));
        exit(1);
    }
    return 0;
}

/* Appends the canonical form of every event in 10k-record durable
 * transactions; returns records per second. */
static double raw_lmdb_rate(uint64_t n)
{
    char dir[] = "/tmp/pbrd-bench-lmdb-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp failed");
    /* canonical records prepared before timing */
    char **canon = malloc(n * sizeof *canon);
    size_t *lens = malloc(n * sizeof *lens);
    if (!canon || !lens)
        die("out of memory");
    char line[512], err[PBR_ERR_MAX];
    for (uint64_t i = 0; i < n; i++) {
        int len = event_line(line, sizeof line, "a", i);
        pbr_event ev;
        if (pbr_event_parse(line, (size_t)len - 1, &ev, err, sizeof err) != 0)
            die(err);
        canon[i] = pbr_event_canonical(&ev, &lens[i]);
        pbr_event_free(&ev);
        if (!canon[i])
            die("pbr_event_canonical failed");
    }
    MDB_env *env;
    MDB_dbi dbi;
    check_mdb(mdb_env_create(&env), "mdb_env_create");
    check_mdb(mdb_env_set_mapsize(env, (size_t)8 << 30), "mdb_env_set_mapsize");
    check_mdb(mdb_env_open(env, dir, 0, 0600), "mdb_env_open");
    double t0 = now_s();
    for (uint64_t i = 0; i < n;) {
        MDB_txn *txn;
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin");
        check_mdb(mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi), "mdb_dbi_open");
        for (uint64_t k = 0; k < 10000 && i < n; k++, i++) {
            uint64_t seq = i + 1;
            MDB_val key = {sizeof seq, &seq}, val = {lens[i], canon[i]};
            check_mdb(mdb_put(txn, dbi, &key, &val, MDB_APPEND), "mdb_put");
        }
        check_mdb(mdb_txn_commit(txn), "mdb_txn_commit");
    }
    double t = now_s() - t0;
    mdb_env_close(env);
    for (uint64_t i = 0; i < n; i++)
        free(canon[i]);
    free(canon);
    free(lens);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/ingest: could not remove %s\n", dir);
    return (double)n / t;
}

/* ---- pbrd ---------------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len))
        die("finding a free port failed");
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct pbrd_proc {
    pid_t pid;
    char dir[64];
    char ingest[64], api[64], publish[64];
} pbrd_proc;

/* Waits up to timeout_ms for a reply on s; returns 1 if one was read. */
static int recv_reply(void *s, int timeout_ms, char *body, size_t n)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1)
        return 0;
    int more = 1, k = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0)
            die("zmq_msg_recv failed");
        more = zmq_msg_more(&m);
        if (++k == 2 && body) {
            size_t len = zmq_msg_size(&m) < n - 1 ? zmq_msg_size(&m) : n - 1;
            memcpy(body, zmq_msg_data(&m), len);
            body[len] = '\0';
        }
        zmq_msg_close(&m);
    }
    return 1;
}

static void *dealer(void *ctx, const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) != 0)
        die("zmq_connect failed");
    return s;
}

static void start_pbrd(pbrd_proc *p, const char *bin, void *ctx)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/pbrd-bench-XXXXXX");
    if (!mkdtemp(p->dir))
        die("mkdtemp failed");
    snprintf(p->ingest, sizeof p->ingest, "tcp://127.0.0.1:%d", free_port());
    snprintf(p->api, sizeof p->api, "tcp://127.0.0.1:%d", free_port());
    snprintf(p->publish, sizeof p->publish, "tcp://127.0.0.1:%d", free_port());
    p->pid = fork();
    if (p->pid < 0)
        die("fork failed");
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        execl(bin, bin, "--foreground", "--data", p->dir, "--ingest", p->ingest, "--api", p->api, "--publish",
              p->publish, (char *)NULL);
        _exit(127);
    }
    void *s = dealer(ctx, p->api);
    for (int i = 0; i < 100; i++) {
        zmq_send(s, "", 0, ZMQ_SNDMORE);
        zmq_send(s, "{\"op\":\"status\"}", 15, 0);
        if (recv_reply(s, 100, NULL, 0)) {
            zmq_close(s);
            return;
        }
    }
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
    double t0 = now_s();
    while (acked < nb) {
        while (sent < nb && sent - acked < (uint64_t)window) {
            zmq_send(s, "", 0, ZMQ_SNDMORE);
            zmq_send(s, batches[sent], lens[sent], 0);
            sent++;
        }
        if (!recv_reply(s, 30000, reply, sizeof reply))
            die("no ingest reply within 30 s");
        if (!strstr(reply, "\"rejected\":0"))
            fprintf(stderr, "bench/ingest: unexpected reply %s\n", reply);
        acked++;
    }
    double t = now_s() - t0;
    zmq_close(s);
    for (uint64_t b = 0; b < nb; b++)
        free(batches[b]);
    free(batches);
    free(lens);
    return (double)n / t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    double start = now_s();
    for (size_t b = 0; b < nb; b++) {
        size_t len = 0;
        for (uint64_t i = 0; i < 100; i++)
            len += (size_t)event_line(batch + len, 300, "l", b * 100 + i);
        double due = start + (double)b * 0.010;
        double wait = due - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
        double t0 = now_s();
        zmq_send(s, "", 0, ZMQ_SNDMORE);
        zmq_send(s, batch, len, 0);
        if (!recv_reply(s, 30000, reply, sizeof reply))
            die("no ingest reply within 30 s");
        lat[b] = (now_s() - t0) * 1000.0;
    }
    zmq_close(s);
    qsort(lat, nb, sizeof *lat, cmp_double);
    *p50 = lat[nb / 2];
    *p99 = lat[(nb * 99) / 100];
    free(lat);
    free(batch);
}

/* VmHWM of pid in kB, or -1. */
static long peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    char bin[512];
    const char *build = getenv("PBR_BUILD");
    snprintf(bin, sizeof bin, "%s/pbrd", build && *build ? build : "build");
    uint64_t n = 1000000;
    double lat_seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--latency-seconds") && i + 1 < argc)
            lat_seconds = strtod(argv[++i], NULL);
        else if (argv[i][0] != '-')
            snprintf(bin, sizeof bin, "%s", argv[i]);
        else {
            fprintf(stderr, "usage: bench/ingest [PBRD] [--events N] [--latency-seconds S]\n");
            return 2;
        }
    }
    if (n == 0 || lat_seconds <= 0.1)
        die("--events and --latency-seconds must be positive");

    double a = raw_lmdb_rate(n);
    printf("(a) raw LMDB append:       %10.0f records/s  (%llu records, 10k-record durable txns)\n", a,
           (unsigned long long)n);
    fflush(stdout);

    void *ctx = zmq_ctx_new();
    pbrd_proc p;
    start_pbrd(&p, bin, ctx);
    double b = pbrd_rate(ctx, &p, n);
    printf("(b) pbrd durable ingest:   %10.0f events/s   (%llu events, 1000-event batches, 16 in flight)\n", b,
           (unsigned long long)n);
    printf("(c) ratio b/a:             %10.2f            (target >= 0.40)\n", b / a);
    fflush(stdout);
    double p50, p99;
    latency(ctx, &p, lat_seconds, &p50, &p99);
    printf("(d) ack latency @10k ev/s: p50 %.2f ms, p99 %.2f ms  (target p99 < 5 ms; %.0f s)\n", p50, p99,
           lat_seconds);
    printf("(e) pbrd peak RSS (VmHWM): %10ld kB\n", peak_rss_kb(p.pid));
    kill(p.pid, SIGTERM);
    int st;
    waitpid(p.pid, &st, 0);
    zmq_ctx_term(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/ingest: could not remove %s\n", p.dir);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

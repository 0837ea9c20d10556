/* bench_util.h -- helpers shared by the benchmarks (bench/bench_ingest.c,
 * bench/query.c, bench/soak.c, bench/bench_settle.c): monotonic time, figures of
 * a process from /proc, latency percentiles, and starting, talking to and
 * stopping pbrd over ZeroMQ loopback. Everything is static so each
 * benchmark gets its own copy; none of it exits: failures are returned and
 * each benchmark reports them its own way.
 */
#ifndef PBR_BENCH_UTIL_H
#define PBR_BENCH_UTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Not every benchmark uses every helper. */
#define BENCH_UTIL static __attribute__((unused))

/* ---- time ------------------------------------------------------------------------------ */

/* Monotonic seconds. */
BENCH_UTIL double bench_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sleeps s seconds (nothing when s <= 0). */
BENCH_UTIL void bench_sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- latencies -------------------------------------------------------------------------- */

/* qsort order of doubles. */
BENCH_UTIL int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of v[0..n) (sorted in place): v[n * p / 100],
 * or 0 when n is 0. */
BENCH_UTIL double bench_percentile(double *v, size_t n, int p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (n * (size_t)p) / 100;
    return v[i < n ? i : n - 1];
}

/* ---- process figures -------------------------------------------------------------------- */

/* The value in kB of the "Key:  N kB" line of /proc/PID/status (pid 0:
 * /proc/self/status), or -1 when it cannot be read. */
BENCH_UTIL long bench_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* User + system CPU seconds (all threads) of pid so far (from
 * /proc/PID/stat), or -1. */
BENCH_UTIL double bench_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name, which may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The 1/5/15-minute load averages (as `uptime` prints them) into
 * load[0..n), n <= 3. Returns how many were read (0 when /proc/loadavg
 * cannot be read). */
BENCH_UTIL int bench_loadavg(double *load, int n)
{
    double v[3];
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL)
        return 0;
    int got = fscanf(f, "%lf %lf %lf", &v[0], &v[1], &v[2]);
    fclose(f);
    if (got < 0)
        got = 0;
    for (int i = 0; i < n && i < got; i++)
        load[i] = v[i];
    return got < n ? got : n;
}

/* ---- files -------------------------------------------------------------------------------- */

/* Writes text to path. Returns 0 or -1. */
BENCH_UTIL int bench_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int bad = fputs(text, f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* rm -rf of each of the n paths. Returns 0, or -1 if that failed. */
BENCH_UTIL int bench_remove(const char *const *paths, int n)
{
    char cmd[1024];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "rm -rf");
    for (int i = 0; i < n && len < sizeof cmd; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", paths[i]);
    if (len >= sizeof cmd)
        return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- ZeroMQ client side -------------------------------------------------------------------- */

/* A free loopback TCP port (racy, but fine for a benchmark), or -1. */
BENCH_UTIL int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0;
    close(fd);
    return rc ? -1 : ntohs(a.sin_port);
}

/* Fills the three endpoints "tcp://127.0.0.1:PORT" with free ports.
 * Returns 0, or -1 when no free port was found. */
BENCH_UTIL int bench_endpoints(char ingest[64], char api[64], char publish[64])
{
    char *eps[3] = {ingest, api, publish};
    for (int i = 0; i < 3; i++) {
        int port = bench_free_port();
        if (port < 0)
            return -1;
        snprintf(eps[i], 64, "tcp://127.0.0.1:%d", port);
    }
    return 0;
}

/* A DEALER connected to endpoint with no linger and unbounded queues (the
 * caller closes it); NULL on failure. */
BENCH_UTIL void *bench_dealer(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    if (s == NULL)
        return NULL;
    int zero = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) != 0 || zmq_connect(s, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Sends [empty][body]. Returns 0 or -1. */
BENCH_UTIL int bench_send(void *s, const void *body, size_t len)
{
    if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(s, body, len, 0) < 0 ? -1 : 0;
}

/* Waits up to timeout_ms for one [empty][body] reply on s. Returns 1 when
 * one was read: *size (when not NULL) gets the body's size, *is_error (when
 * not NULL) whether it is an {"error":...} reply, and *body (when body is
 * not NULL) the body, malloc'd and NUL-terminated (caller frees). Returns 0
 * on timeout, -1 on a receive error, a malformed envelope or no memory. */
BENCH_UTIL int bench_recv(void *s, int timeout_ms, char **body, size_t *size, int *is_error)
{
    if (body)
        *body = NULL;
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc <= 0)
        return rc == 0 ? 0 : -1;
    int more = 1, k = 0, ok = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            ok = 0;
            break;
        }
        more = zmq_msg_more(&m);
        k++;
        size_t n = zmq_msg_size(&m);
        if (k == 1 && n != 0)
            ok = 0;
        if (k == 2) {
            const char *d = zmq_msg_data(&m);
            if (size)
                *size = n;
            if (is_error)
                *is_error = n >= 8 && memcmp(d, "{\"error\"", 8) == 0;
            if (body) {
                if ((*body = malloc(n + 1)) == NULL) {
                    ok = 0;
                } else {
                    memcpy(*body, d, n);
                    (*body)[n] = '\0';
                }
            }
        }
        zmq_msg_close(&m);
    }
    if (!ok || k != 2) {
        if (body) {
            free(*body);
            *body = NULL;
        }
        return -1;
    }
    return 1;
}

/* ---- pbrd ------------------------------------------------------------------------------------ */

/* Forks and execs argv[0] with argv (NULL-terminated) as a child that dies
 * with this process, its stderr going to log (appended to when append, else
 * truncated). Returns the child's pid, or -1 when fork failed. */
BENCH_UTIL pid_t bench_spawn(char *const argv[], const char *log, int append)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd >= 0)
        dup2(fd, STDERR_FILENO);
    execv(argv[0], argv);
    _exit(127);
}

/* Asks pbrd (pid, api endpoint) for status every 100 ms, tries times at
 * most. Returns 1 once it answers, 0 if it never did, -1 if it exited (it
 * is then reaped) or the socket could not be set up. */
BENCH_UTIL int bench_wait_status(void *zctx, const char *api, pid_t pid, int tries)
{
    void *s = bench_dealer(zctx, api);
    if (s == NULL)
        return -1;
    int rc = 0;
    for (int i = 0; i < tries && rc == 0; i++) {
        int st;
        if (bench_send(s, "{\"op\":\"status\"}", 15) == 0 && bench_recv(s, 100, NULL, NULL, NULL) == 1)
            rc = 1;
        else if (waitpid(pid, &st, WNOHANG) == pid)
            rc = -1;
    }
    zmq_close(s);
    return rc;
}

/* SIGTERM and wait (30 s, then SIGKILL). Returns 1 if it exited 0; *status
 * (when not NULL) gets the wait status. */
BENCH_UTIL int bench_stop(pid_t pid, int *status)
{
    int st = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (status)
                *status = st;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    if (status)
        *status = st;
    return 0;
}

#endif

/* daemon_harness.h -- starts pbrd from $PBR_BUILD/pbrd on a fresh temporary
 * data dir and free loopback ports, and talks to it over ZeroMQ like a real
 * client (plain or CURVE). Included by the integration tests; everything is
 * static so each test program gets its own copy.
 */
#ifndef PBR_DAEMON_HARNESS_H
#define PBR_DAEMON_HARNESS_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check_main.h"

/* Not every test program uses every helper. */
#define HARNESS static __attribute__((unused))

/* ---- daemon control ------------------------------------------------------ */

typedef struct daemon_t {
    char dir[64]; /* data dir (mkdtemp) */
    char ingest[64], api[64], publish[64];
    char config[300];                                          /* "" or a config file path */
    char contracts[300];                                       /* --contracts (default: the data dir) */
    char now[16];                                              /* --now (default 2020-06-30) */
    char curve_server[41], curve_public[41], curve_secret[41]; /* client CURVE keys ("" = plain) */
    pid_t pid;
    void *ctx;
} daemon_t;

/* CURVE options for the harness's own requests (all "" = plain). */
typedef struct harness_keys {
    const char *server, *public_key, *secret;
} harness_keys;

/* ---- small helpers ------------------------------------------------------- */

/* Monotonic milliseconds. */
HARNESS double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

HARNESS void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* xorshift64*: reproducible randomness from a seed the test prints. */
HARNESS uint64_t prng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Writes text to path (failing the test if it cannot). */
HARNESS void harness_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- ZeroMQ client side ---------------------------------------------------- */

/* A free loopback TCP port (bound to port 0 and released). */
HARNESS int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A DEALER with no linger connected to endpoint, with the given client
 * CURVE keys (NULL or an empty server key = plain). The caller closes it. */
HARNESS void *harness_dealer_keys(void *ctx, const char *endpoint, const harness_keys *keys)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    ck_assert_ptr_nonnull(s);
    int linger = 0;
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    if (keys != NULL && keys->server != NULL && keys->server[0]) {
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, keys->server, 40), 0);
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, keys->public_key, 40), 0);
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, keys->secret, 40), 0);
    }
    ck_assert_int_eq(zmq_connect(s, endpoint), 0);
    return s;
}

/* A plain DEALER with no linger connected to endpoint. */
HARNESS void *harness_dealer(void *ctx, const char *endpoint)
{
    return harness_dealer_keys(ctx, endpoint, NULL);
}

/* Sends [empty][body] on s. Returns 0, or -1 if a send failed. */
HARNESS int send_body(void *s, const void *body, size_t len)
{
    if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(s, body, len, 0) < 0 ? -1 : 0;
}

/* Reads the reply waiting on s ([empty][body]): *body gets its second frame
 * (malloc'd and NUL-terminated; NULL when there was none). Returns 0, or -1
 * when a receive failed (*body keeps what was read before) or a frame
 * other than the body was not an empty delimiter. */
HARNESS int recv_body(void *s, char **body)
{
    int more = 1, n = 0, rc = 0;
    *body = NULL;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (++n == 2) {
            *body = malloc(zmq_msg_size(&m) + 1);
            ck_assert_ptr_nonnull(*body);
            memcpy(*body, zmq_msg_data(&m), zmq_msg_size(&m));
            (*body)[zmq_msg_size(&m)] = '\0';
        } else if (zmq_msg_size(&m) != 0) {
            rc = -1; /* not a delimiter */
        }
        zmq_msg_close(&m);
    }
    return rc;
}

/* recv_body, parsed: the reply's JSON, or NULL when there was no body or it
 * is not JSON. With must_receive, fails the test when receiving failed. */
HARNESS json_t *recv_json(void *s, int must_receive)
{
    char *text;
    int rc = recv_body(s, &text);
    if (must_receive)
        ck_assert_msg(rc == 0, "receiving a reply failed");
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

/* ---- recording replies for the schema check -------------------------------
 * With PBR_SCHEMA_OUT set, every request the harness sends to a daemon it
 * prepared and the reply it gets are written to that directory, one JSON
 * file each ({"kind":"api"|"ingest","frames":n,"request":…,"reply":…}),
 * for tests/validate-schemas.py (run by tests/run-tests.sh). At most
 * SCHEMA_RECORD_MAX per process, so flooding tests stay fast. */

#define SCHEMA_RECORD_MAX 200

typedef struct harness_endpoint {
    char endpoint[64];
    const char *kind;
} harness_endpoint;
static harness_endpoint harness_endpoints[64] __attribute__((unused));
static int harness_nendpoints __attribute__((unused));
static int harness_nrecorded __attribute__((unused));

/* Remembers which socket of a prepared daemon an endpoint is. */
HARNESS void harness_register_endpoint(const char *endpoint, const char *kind)
{
    int i = harness_nendpoints < 64 ? harness_nendpoints++ : 63;
    snprintf(harness_endpoints[i].endpoint, sizeof harness_endpoints[i].endpoint, "%s", endpoint);
    harness_endpoints[i].kind = kind;
}

/* Writes one record {"kind","frames","request","reply"} when
 * PBR_SCHEMA_OUT is set (request may be NULL: null). */
HARNESS void harness_record(const char *kind, int nframes, json_t *request, const char *reply)
{
    const char *dir = getenv("PBR_SCHEMA_OUT");
    if (dir == NULL || *dir == '\0' || reply == NULL || harness_nrecorded >= SCHEMA_RECORD_MAX) {
        json_decref(request);
        return;
    }
    json_t *rep = json_string(reply);
    json_t *rec = json_pack("{ss si so so}", "kind", kind, "frames", nframes, "request",
                            request ? request : json_null(), "reply", rep ? rep : json_null());
    char path[512];
    snprintf(path, sizeof path, "%s/%ld-%d.json", dir, (long)getpid(), harness_nrecorded++);
    if (rec)
        json_dump_file(rec, path, JSON_COMPACT);
    json_decref(rec);
}

/* Records a request and its reply when the endpoint belongs to a prepared
 * daemon (kind "api" or "ingest"). */
HARNESS void harness_record_reply(const char *endpoint, const void *const *frames, const size_t *lens, int nframes,
                                  const char *reply)
{
    const char *kind = NULL;
    if (getenv("PBR_SCHEMA_OUT") == NULL || reply == NULL)
        return;
    for (int i = harness_nendpoints - 1; i >= 0 && kind == NULL; i--)
        if (strcmp(harness_endpoints[i].endpoint, endpoint) == 0)
            kind = harness_endpoints[i].kind;
    if (kind != NULL)
        harness_record(kind, nframes, nframes > 0 ? json_stringn(frames[nframes - 1], lens[nframes - 1]) : NULL, reply);
}

/* Sends body on a fresh DEALER (with the empty delimiter unless raw) and
 * waits up to timeout_ms for the reply body. Returns a malloc'd string or
 * NULL on timeout. */
HARNESS char *request_frames_keys(void *ctx, const char *endpoint, const void *const *frames, const size_t *lens,
                                  int nframes, int timeout_ms, const harness_keys *keys)
{
    void *s = harness_dealer_keys(ctx, endpoint, keys);
    for (int i = 0; i < nframes; i++)
        ck_assert_int_ge(zmq_send(s, frames[i], lens[i], i + 1 < nframes ? ZMQ_SNDMORE : 0), 0);
    char *out = NULL;
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) == 1)
        ck_assert_msg(recv_body(s, &out) == 0, "receiving the reply failed or its delimiter was not empty");
    zmq_close(s);
    harness_record_reply(endpoint, frames, lens, nframes, out);
    return out;
}

HARNESS char *request_frames(void *ctx, const char *endpoint, const void *const *frames, const size_t *lens,
                             int nframes, int timeout_ms)
{
    return request_frames_keys(ctx, endpoint, frames, lens, nframes, timeout_ms, NULL);
}

/* [empty][body] request with the given client keys (NULL = plain). */
HARNESS char *request_keys(void *ctx, const char *endpoint, const char *body, size_t len, int timeout_ms,
                           const harness_keys *keys)
{
    const void *frames[2] = {"", body};
    size_t lens[2] = {0, len};
    return request_frames_keys(ctx, endpoint, frames, lens, 2, timeout_ms, keys);
}

/* The daemon's own client keys (finance, for the harness). */
HARNESS harness_keys daemon_keys(const daemon_t *d)
{
    harness_keys k = {d->curve_server, d->curve_public, d->curve_secret};
    return k;
}

/* [empty][body] request, with the daemon's harness keys when it runs CURVE. */
HARNESS char *request_d(const daemon_t *d, const char *endpoint, const char *body, size_t len, int timeout_ms)
{
    harness_keys k = daemon_keys(d);
    return request_keys(d->ctx, endpoint, body, len, timeout_ms, &k);
}

/* [empty][body] request without keys. */
HARNESS char *request(void *ctx, const char *endpoint, const char *body, size_t len, int timeout_ms)
{
    return request_keys(ctx, endpoint, body, len, timeout_ms, NULL);
}

/* Parses a reply; fails the test if it is not a JSON object. */
HARNESS json_t *parse_reply(char *text)
{
    ck_assert_msg(text != NULL, "no reply");
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(json_is_object(j), "reply is not a JSON object: %s", text);
    free(text);
    return j;
}

HARNESS json_t *api_call(daemon_t *d, const char *req)
{
    return parse_reply(request_d(d, d->api, req, strlen(req), 30000));
}

/* An API request as the client with keys pub and sec (to the daemon's
 * server key); fails the test without a reply within timeout_ms. */
HARNESS json_t *api_call_as(daemon_t *d, const char *pub, const char *sec, const char *req, int timeout_ms)
{
    harness_keys hk = {d->curve_server, pub, sec};
    char *r = request_keys(d->ctx, d->api, req, strlen(req), timeout_ms, &hk);
    ck_assert_msg(r != NULL, "no reply to %s", req);
    return parse_reply(r);
}

HARNESS json_t *ingest_batch(daemon_t *d, const char *body)
{
    return parse_reply(request_d(d, d->ingest, body, strlen(body), 10000));
}

HARNESS json_int_t geti(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "field %s missing", k);
    return json_integer_value(v);
}

/* Forks $PBR_BUILD/pbrd with the arguments args (NULL-terminated, at most
 * 30) as a child that dies with the test, its stderr going to log
 * (appended to when append, else truncated). Returns its pid. */
HARNESS pid_t spawn_pbrd(char *const args[], const char *log, int append)
{
    char bin[512];
    char *argv[32];
    int n = 0;
    snprintf(bin, sizeof bin, "%s/pbrd", pbr_test_build());
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* Starts pbrd on d (dir and ports already set) and waits until it answers
 * status. */
HARNESS void daemon_start(daemon_t *d)
{
    char log[300];
    snprintf(log, sizeof log, "%s.log", d->dir);
    char *argv[20];
    int n = 0;
    if (d->config[0]) {
        argv[n++] = "-c";
        argv[n++] = d->config;
    }
    argv[n++] = "--foreground";
    argv[n++] = "--data";
    argv[n++] = d->dir;
    argv[n++] = "--ingest";
    argv[n++] = d->ingest;
    argv[n++] = "--api";
    argv[n++] = d->api;
    argv[n++] = "--publish";
    argv[n++] = d->publish;
    argv[n++] = "--contracts";
    argv[n++] = d->contracts[0] ? d->contracts : d->dir;
    argv[n++] = "--now";
    argv[n++] = d->now[0] ? d->now : "2020-06-30";
    argv[n] = NULL;
    pid_t pid = spawn_pbrd(argv, log, 1);
    d->pid = pid;
    for (int i = 0; i < 100; i++) {
        char *r = request_d(d, d->api, "{\"op\":\"status\"}", 15, 100);
        if (r) {
            free(r);
            return;
        }
        int st;
        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "pbrd exited early (see %s)", log);
    }
    ck_abort_msg("pbrd did not answer status within 10 s (see %s)", log);
}

/* A fresh data dir, ports and context, and the config file when
 * config_text is given; does not start the daemon. */
HARNESS void daemon_prepare(daemon_t *d, const char *config_text)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/pbrd-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d->dir));
    snprintf(d->ingest, sizeof d->ingest, "tcp://127.0.0.1:%d", free_port());
    snprintf(d->api, sizeof d->api, "tcp://127.0.0.1:%d", free_port());
    snprintf(d->publish, sizeof d->publish, "tcp://127.0.0.1:%d", free_port());
    harness_register_endpoint(d->ingest, "ingest");
    harness_register_endpoint(d->api, "api");
    if (config_text) {
        snprintf(d->config, sizeof d->config, "%s.yaml", d->dir);
        harness_write_text(d->config, config_text);
    }
    d->ctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(d->ctx);
}

/* daemon_prepare, then starts the daemon. */
HARNESS void daemon_init(daemon_t *d, const char *config_text)
{
    daemon_prepare(d, config_text);
    daemon_start(d);
}

/* Sends sig and waits (up to 15 s) for the exit; returns the wait status. */
HARNESS int daemon_signal_wait(daemon_t *d, int sig)
{
    kill(d->pid, sig);
    for (int i = 0; i < 1500; i++) {
        int st;
        pid_t r = waitpid(d->pid, &st, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            return st;
        }
        usleep(10000);
    }
    kill(d->pid, SIGKILL);
    ck_abort_msg("pbrd did not exit within 15 s of signal %d", sig);
    return -1;
}

HARNESS void remove_tree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.log' '%s.yaml'", dir, dir, dir);
    int rc = system(cmd);
    (void)rc;
}

/* Stops the daemon with SIGTERM (must exit 0) and removes everything. */
HARNESS void daemon_finish(daemon_t *d)
{
    if (d->pid > 0) {
        int st = daemon_signal_wait(d, SIGTERM);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pbrd did not exit 0 on SIGTERM");
    }
    zmq_ctx_term(d->ctx);
    remove_tree(d->dir);
}

/* ---- process figures ------------------------------------------------------ */

/* The number read by the sscanf format fmt (one %ld) from the first line
 * of /proc/PID/FILE it matches, or -1. */
HARNESS long pid_proc_long(pid_t pid, const char *file, const char *fmt)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &v) == 1)
            break;
    fclose(f);
    return v;
}

/* Resident set size of pid in kB (VmRSS of /proc/PID/status), or -1. */
HARNESS long pid_rss_kb(pid_t pid)
{
    return pid_proc_long(pid, "status", "VmRSS: %ld kB");
}

/* Number of open file descriptors of pid (entries of /proc/PID/fd), or -1. */
HARNESS int pid_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* 1 while the daemon process runs; 0 once it has exited (then it is
 * reaped, the wait status printed and d->pid cleared). */
HARNESS int daemon_alive(daemon_t *d)
{
    if (d->pid <= 0)
        return 0;
    int st;
    pid_t r = waitpid(d->pid, &st, WNOHANG);
    if (r == 0)
        return 1;
    if (r == d->pid) {
        if (WIFSIGNALED(st))
            printf("pbrd (pid %ld) died of signal %d (see %s.log)\n", (long)d->pid, WTERMSIG(st), d->dir);
        else
            printf("pbrd (pid %ld) exited with status %d (see %s.log)\n", (long)d->pid, WEXITSTATUS(st), d->dir);
        fflush(stdout);
        d->pid = 0;
    }
    return 0;
}

/* ---- CURVE daemons ---------------------------------------------------------- */

typedef struct harness_keypair {
    char pub[41], sec[41];
} harness_keypair;

HARNESS harness_keypair harness_keypair_new(void)
{
    harness_keypair k;
    ck_assert_int_eq(zmq_curve_keypair(k.pub, k.sec), 0);
    return k;
}

/* daemon_prepare for a CURVE daemon: writes the server's secret key file,
 * the clients file (clients_yaml, the auth.clients list) and a config of
 * config_extra (may be NULL) plus the auth: section into the data dir, and
 * makes the harness's own requests (request_d, api_call, ingest_batch,
 * daemon_start's status probe) use client, which clients_yaml must list
 * (normally as finance). Does not start the daemon. */
HARNESS void daemon_prepare_curve(daemon_t *d, const char *config_extra, const harness_keypair *server,
                                  const harness_keypair *client, const char *clients_yaml)
{
    daemon_prepare(d, NULL);
    char secret_path[300], clients_path[300], line[64];
    snprintf(secret_path, sizeof secret_path, "%s/server.key_secret", d->dir);
    snprintf(clients_path, sizeof clients_path, "%s/clients.yaml", d->dir);
    snprintf(line, sizeof line, "%s\n", server->sec);
    harness_write_text(secret_path, line);
    harness_write_text(clients_path, clients_yaml);
    size_t n = (config_extra ? strlen(config_extra) : 0) + 2 * sizeof secret_path + 64;
    char *config = malloc(n);
    ck_assert_ptr_nonnull(config);
    snprintf(config, n, "%sauth:\n  server_secret_key: %s\n  clients: %s\n", config_extra ? config_extra : "",
             secret_path, clients_path);
    snprintf(d->config, sizeof d->config, "%s.yaml", d->dir);
    harness_write_text(d->config, config);
    free(config);
    snprintf(d->curve_server, sizeof d->curve_server, "%s", server->pub);
    snprintf(d->curve_public, sizeof d->curve_public, "%s", client->pub);
    snprintf(d->curve_secret, sizeof d->curve_secret, "%s", client->sec);
}

#endif

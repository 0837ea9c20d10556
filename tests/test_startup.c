/* test_startup.c -- every way pbrd's start-up can fail ends the process
 * promptly with a non-zero status and a log line naming the cause: bad
 * endpoints for each socket with and without CURVE (with CURVE a failure
 * after the ZAP handler started used to leave zmq_ctx_term waiting for
 * ever), an unreadable key, a missing clients file, a data dir whose
 * parent is missing, a bad config file, a missing contracts directory, and
 * the same in daemon mode (the waiting parent reports the child's status).
 */
#include <sys/syscall.h>

#include "daemon_harness.h"

#define STARTUP_LIMIT_MS 5000 /* "within a few seconds" */

/* Options for one start-up attempt. */
typedef struct attempt {
    int curve;                          /* write a key and clients file and enable auth */
    const char *ingest, *api, *publish; /* NULL: a free loopback port */
    const char *key_path;               /* override auth.server_secret_key (CURVE only) */
    const char *clients_path;           /* override auth.clients (CURVE only) */
    const char *config_text;            /* a whole config file instead (no CURVE) */
    const char *data;                   /* --data (default: the fresh temp dir) */
    const char *contracts;              /* --contracts (default: the temp dir) */
    int daemon_mode;                    /* omit --foreground */
    const char *expect_log;             /* a fragment the log must contain */
} attempt;

/* The whole text of the file at path (malloc'd; "" when unreadable). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    if (f != NULL) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* Kills and reaps every child left to this process (a daemon-mode pbrd
 * whose parent was killed reparents here: the test is a subreaper).
 * Returns how many there were. */
static int reap_leftovers(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
    char *text = read_text(path);
    int n = 0;
    for (char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        kill((pid_t)pid, SIGKILL);
        waitpid((pid_t)pid, NULL, 0);
        n++;
        p = end;
    }
    free(text);
    return n;
}

/* Writes the CURVE config for a into d->config. */
static void write_curve_config(daemon_t *d, const attempt *a)
{
    harness_keypair server = harness_keypair_new(), client = harness_keypair_new();
    char secret_path[300], clients_path[300], line[64], clients[200], config[1200];
    snprintf(secret_path, sizeof secret_path, "%s/server.key_secret", d->dir);
    snprintf(clients_path, sizeof clients_path, "%s/clients.yaml", d->dir);
    snprintf(line, sizeof line, "%s\n", server.sec);
    harness_write_text(secret_path, line);
    snprintf(clients, sizeof clients, "- key: \"%s\"\n  role: finance\n", client.pub);
    harness_write_text(clients_path, clients);
    snprintf(config, sizeof config, "auth:\n  server_secret_key: %s\n  clients: %s\n",
             a->key_path ? a->key_path : secret_path, a->clients_path ? a->clients_path : clients_path);
    snprintf(d->config, sizeof d->config, "%s.yaml", d->dir);
    harness_write_text(d->config, config);
}

/* Starts pbrd as a describes and asserts that it exits non-zero within
 * STARTUP_LIMIT_MS, its log holding a->expect_log. */
static void expect_startup_failure(const char *what, const attempt *a)
{
    daemon_t d;
    daemon_prepare(&d, a->config_text);
    if (a->curve)
        write_curve_config(&d, a);
    char log[300];
    snprintf(log, sizeof log, "%s.log", d.dir);
    char *argv[24];
    int n = 0;
    if (d.config[0]) {
        argv[n++] = "-c";
        argv[n++] = d.config;
    }
    if (!a->daemon_mode)
        argv[n++] = "--foreground";
    argv[n++] = "--data";
    argv[n++] = (char *)(a->data ? a->data : d.dir);
    argv[n++] = "--ingest";
    argv[n++] = (char *)(a->ingest ? a->ingest : d.ingest);
    argv[n++] = "--api";
    argv[n++] = (char *)(a->api ? a->api : d.api);
    argv[n++] = "--publish";
    argv[n++] = (char *)(a->publish ? a->publish : d.publish);
    argv[n++] = "--contracts";
    argv[n++] = (char *)(a->contracts ? a->contracts : d.dir);
    argv[n++] = "--now";
    argv[n++] = "2020-06-30";
    argv[n] = NULL;
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    double t0 = mono_ms();
    pid_t pid = spawn_pbrd(argv, log, 0);
    int st = 0, exited = 0;
    while (mono_ms() - t0 < STARTUP_LIMIT_MS) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        sleep_ms(20);
    }
    double took = mono_ms() - t0;
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    int leftovers = reap_leftovers();
    char *text = read_text(log);
    printf("%s: exited=%d status=%d in %.0f ms\n", what, exited, WIFEXITED(st) ? WEXITSTATUS(st) : -1, took);
    ck_assert_msg(exited, "%s: pbrd still running after %d ms (log: %s)", what, STARTUP_LIMIT_MS, text);
    ck_assert_msg(leftovers == 0, "%s: %d pbrd process(es) still running after the parent exited", what, leftovers);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s: pbrd exited with status %d, want non-zero", what,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    ck_assert_msg(strstr(text, a->expect_log) != NULL, "%s: log lacks \"%s\": %s", what, a->expect_log, text);
    free(text);
    zmq_ctx_term(d.ctx);
    remove_tree(d.dir);
}

START_TEST(bad_endpoints_plain)
{
    const char *bad = "tcp://127.0.0.1:notaport";
    attempt a = {0};
    a.expect_log = "ingest start failed";
    a.ingest = bad;
    expect_startup_failure("plain, bad ingest endpoint", &a);
    a.ingest = NULL;
    a.api = bad;
    a.expect_log = "api start failed";
    expect_startup_failure("plain, bad api endpoint", &a);
    a.api = NULL;
    a.publish = bad;
    expect_startup_failure("plain, bad publish endpoint", &a);
}
END_TEST

START_TEST(bad_endpoints_curve)
{
    const char *bad = "tcp://127.0.0.1:notaport";
    attempt a = {0};
    a.curve = 1;
    a.ingest = bad;
    a.expect_log = "ingest start failed";
    expect_startup_failure("CURVE, bad ingest endpoint", &a);
    a.ingest = NULL;
    a.api = bad;
    a.expect_log = "api start failed";
    expect_startup_failure("CURVE, bad api endpoint", &a);
    a.api = NULL;
    a.publish = bad;
    expect_startup_failure("CURVE, bad publish endpoint", &a);
}
END_TEST

START_TEST(endpoint_in_use_curve)
{
    /* a real port held by another socket: bind fails with EADDRINUSE */
    void *ctx = zmq_ctx_new();
    void *holder = zmq_socket(ctx, ZMQ_ROUTER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", free_port());
    ck_assert_int_eq(zmq_bind(holder, ep), 0);
    attempt a = {0};
    a.curve = 1;
    a.ingest = ep;
    a.expect_log = "Address already in use";
    expect_startup_failure("CURVE, ingest port in use", &a);
    a.ingest = NULL;
    a.api = ep;
    expect_startup_failure("CURVE, api port in use", &a);
    zmq_close(holder);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(daemon_mode_reports_child_failure)
{
    attempt a = {0};
    a.curve = 1;
    a.daemon_mode = 1;
    a.ingest = "tcp://127.0.0.1:notaport";
    a.expect_log = "ingest start failed";
    expect_startup_failure("daemon mode, CURVE, bad ingest endpoint", &a);
}
END_TEST

START_TEST(unreadable_keys)
{
    attempt a = {0};
    a.curve = 1;
    a.key_path = "/nonexistent/pbrd-test/server.key_secret";
    a.expect_log = "reading the server secret key failed";
    expect_startup_failure("missing server key file", &a);
    a.key_path = "/tmp"; /* a directory, not a key */
    expect_startup_failure("server key path is a directory", &a);
    a.key_path = NULL;
    a.clients_path = "/nonexistent/pbrd-test/clients.yaml";
    a.expect_log = "auth start failed";
    expect_startup_failure("missing clients file", &a);
}
END_TEST

START_TEST(bad_paths)
{
    attempt a = {0};
    a.data = "/nonexistent/pbrd-test/data";
    a.expect_log = "cannot create data dir";
    expect_startup_failure("data dir parent missing", &a);
    a.data = NULL;
    a.contracts = "/nonexistent/pbrd-test/contracts";
    a.expect_log = "contracts directory unusable";
    expect_startup_failure("contracts dir missing", &a);
}
END_TEST

START_TEST(bad_config)
{
    attempt a = {0};
    a.config_text = "data_dir: [unclosed\n";
    a.expect_log = ".yaml:";
    expect_startup_failure("config YAML syntax error", &a);
    a.config_text = "ingset: tcp://127.0.0.1:1\n";
    a.expect_log = "unknown key \"ingset\"";
    expect_startup_failure("config unknown key", &a);
    a.config_text = "auto_settle: perhaps\n";
    a.expect_log = "auto_settle must be true or false";
    expect_startup_failure("config bad value", &a);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("startup");
    TCase *tc = tcase_create("failures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_endpoints_plain);
    tcase_add_test(tc, bad_endpoints_curve);
    tcase_add_test(tc, endpoint_in_use_curve);
    tcase_add_test(tc, daemon_mode_reports_child_failure);
    tcase_add_test(tc, unreadable_keys);
    tcase_add_test(tc, bad_paths);
    tcase_add_test(tc, bad_config);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

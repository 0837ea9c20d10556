/* test_errors.c -- errors that say what happened, at once (issue 13, item 3),
 * and providers that see only their own (item 7): pbrctl against nothing
 * listening and against a CURVE pbrd with missing, wrong, unknown and
 * forbidden keys, run as a user runs it. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon_harness.h"
#include "settle_helpers.h"
#include "pbr/event.h"
#include "pbr/files.h"
#include "pbr/mem.h"

/* Runs cmd through the shell; returns its output (stdout and stderr,
 * malloc'd), *status its exit status and *ms the wall time it took. */
static char *run_command(const char *cmd, int *status, double *ms)
{
    double t0 = mono_ms();
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        ck_assert_int_eq(pbr_grow((void **)&out, &cap, len + n + 1, 1), 0);
        memcpy(out + len, buf, n);
        len += n;
    }
    if (out == NULL)
        out = calloc(1, 1);
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (ms)
        *ms = mono_ms() - t0;
    return out;
}

/* Writes NAME.key and NAME.key_secret for k into dir (pbrctl --key). */
static void write_keypair(const char *dir, const char *name, const harness_keypair *k)
{
    char path[512], line[64];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(line, sizeof line, "%s\n", k->pub);
    harness_write_text(path, line);
    snprintf(path, sizeof path, "%s/%s.key_secret", dir, name);
    snprintf(line, sizeof line, "%s\n", k->sec);
    harness_write_text(path, line);
}

/* Runs `pbrctl --api A --ingest I KEYS ARGS` for daemon d (2>&1) and checks
 * it exits with want_status within max_ms, its output containing want. */
static void expect_pbrctl(const daemon_t *d, const char *keys, const char *args, int want_status, double max_ms,
                          const char *want)
{
    char cmd[8192], build[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(pbr_test_build(), build));
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/pbrctl' --api %s --ingest %s %s %s 2>&1", d->dir, build, d->api,
             d->ingest, keys, args);
    int st;
    double ms;
    char *out = run_command(cmd, &st, &ms);
    ck_assert_msg(st == want_status, "%s: exit %d, want %d: %s", cmd, st, want_status, out);
    ck_assert_msg(ms <= max_ms, "%s: took %.0f ms (at most %.0f): %s", cmd, ms, max_ms, out);
    ck_assert_msg(strstr(out, want) != NULL, "%s: output lacks \"%s\": %s", cmd, want, out);
    free(out);
}

/* Whether the daemon's log contains s (polled for up to 2 s). */
static int log_contains(const daemon_t *d, const char *s)
{
    char path[300];
    snprintf(path, sizeof path, "%s.log", d->dir);
    for (int i = 0; i < 40; i++) {
        char err[PBR_ERR_MAX];
        size_t len = 0;
        char *text = pbr_read_file(path, &len, err, sizeof err);
        int found = text && strstr(text, s) != NULL;
        free(text);
        if (found)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

START_TEST(test_pbrctl_nothing_listening)
{
    /* Nothing bound at the API port: connection refused is reported within
     * about a second (not after the 30 s default timeout), exit status 2,
     * so `pbrctl status` works as a health check. */
    daemon_t d;
    daemon_prepare(&d, NULL);
    expect_pbrctl(&d, "", "status", 2, 5000, "nothing is listening at tcp://127.0.0.1:");
    expect_pbrctl(&d, "", "contracts", 2, 5000, "(connection refused)");
    daemon_finish(&d);
}
END_TEST

/* A CURVE daemon whose clients file lists fin (finance) and prov
 * (provider:acme); other is a key pair it does not know, and wrong.key a
 * public key that is not the server's. */
static void start_curve_daemon(daemon_t *d, harness_keypair *server, harness_keypair *fin, harness_keypair *prov)
{
    *server = harness_keypair_new();
    *fin = harness_keypair_new();
    *prov = harness_keypair_new();
    harness_keypair other = harness_keypair_new(), wrong = harness_keypair_new();
    char clients[512];
    snprintf(clients, sizeof clients,
             "- {key: \"%s\", role: finance, name: fin}\n- {key: \"%s\", role: \"provider:acme\", name: prov}\n",
             fin->pub, prov->pub);
    daemon_prepare_curve(d, NULL, server, fin, clients);
    daemon_start(d);
    write_keypair(d->dir, "fin", fin);
    write_keypair(d->dir, "prov", prov);
    write_keypair(d->dir, "other", &other);
    write_keypair(d->dir, "server", server);
    write_keypair(d->dir, "wrong", &wrong);
}

START_TEST(test_pbrctl_curve_errors_each_have_their_message)
{
    /* Each way of holding the wrong keys gets its own message within a
     * second or two and exit status 2; the right keys get exit 0. */
    daemon_t d;
    harness_keypair server, fin, prov;
    start_curve_daemon(&d, &server, &fin, &prov);
    expect_pbrctl(&d, "--server-key server.key --key fin", "status", 0, 5000, "events");
    expect_pbrctl(&d, "", "status", 2, 3000, "requires CURVE keys");
    expect_pbrctl(&d, "--server-key wrong.key --key fin", "status", 2, 3000,
                  "is --server-key the public key of that pbrd?");
    expect_pbrctl(&d, "--server-key server.key --key other", "status", 2, 3000,
                  "refused this client key: it is not in pbrd's clients file");
    /* pbrd logs each refusal: the two the ZAP handler never sees (no keys,
     * wrong server key) from its socket monitor, the unknown key from ZAP.
     * Which monitor event the server gets for the key-less client (a
     * mechanism mismatch, or the client hanging up first) is a race, so
     * the reason is matched loosely. */
    ck_assert(log_contains(&d, "msg=\"handshake refused\" socket=api reason="));
    ck_assert(log_contains(&d, "a client without CURVE keys"));
    ck_assert(log_contains(&d, "a server key that is not ours"));
    ck_assert(log_contains(&d, "reason=\"unknown client key\""));
    daemon_finish(&d);
}
END_TEST

START_TEST(test_provider_key_on_ingest_is_forbidden)
{
    /* A provider's key on the ingest socket: "forbidden" at once (not a
     * timeout), exit status 2, and the refusal is in pbrd's log. */
    daemon_t d;
    harness_keypair server, fin, prov;
    start_curve_daemon(&d, &server, &fin, &prov);
    char path[300];
    snprintf(path, sizeof path, "%s/events.jsonl", d.dir);
    harness_write_text(path, "{\"id\":\"e1\"}\n");
    expect_pbrctl(&d, "--server-key server.key --key prov", "send events.jsonl", 2, 3000, "forbidden:");
    ck_assert(log_contains(&d, "domain=\"ingest\" reason=\"role may not push events\""));
    daemon_finish(&d);
}
END_TEST

/* ---- providers see only their own (item 7) ---------------------------------- */

/* A CURVE daemon on 2030-01-01 (auto-settle off) with two contracts of the
 * spec example: "example" of demo-provider and "example-b" of
 * other-provider; keys fin (finance), op (operator) and prov
 * (provider:demo-provider). */
static void start_two_provider_daemon(daemon_t *d, harness_keypair *fin, harness_keypair *op, harness_keypair *prov)
{
    harness_keypair server = harness_keypair_new();
    *fin = harness_keypair_new();
    *op = harness_keypair_new();
    *prov = harness_keypair_new();
    char clients[1024];
    snprintf(clients, sizeof clients,
             "- {key: \"%s\", role: finance}\n- {key: \"%s\", role: operator}\n"
             "- {key: \"%s\", role: \"provider:demo-provider\"}\n",
             fin->pub, op->pub, prov->pub);
    daemon_prepare_curve(d, "auto_settle: false\n", &server, fin, clients);
    snprintf(d->now, sizeof d->now, "2030-01-01");
    snprintf(d->contracts, sizeof d->contracts, "%s.contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    char from[1024], to[1024], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(spec_example(from, sizeof from, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/example.yaml", d->contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, text, len, err, sizeof err), 0);
    /* the same contract under another id and provider */
    char *b = malloc(len + 64), *p = strstr(text, "contract: example\n"),
         *q = strstr(text, "provider: demo-provider\n");
    ck_assert(b != NULL && p != NULL && q != NULL && p < q);
    int n = snprintf(b, len + 64, "%.*scontract: example-b\n%.*sprovider: other-provider\n%s", (int)(p - text), text,
                     (int)(q - (p + 18)), p + 18, q + 24);
    snprintf(to, sizeof to, "%s/example-b.yaml", d->contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, b, (size_t)n, err, sizeof err), 0);
    free(b);
    free(text);
    daemon_start(d);
}

/* Waits up to ms for a socket monitor event in mask on mon; returns it (0:
 * none) and its value in *value. */
static int monitor_event(void *mon, int mask, int ms, uint32_t *value)
{
    double end = mono_ms() + ms;
    while (mono_ms() < end) {
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) != 1)
            continue;
        zmq_msg_t m;
        uint16_t ev = 0;
        int first = 1, more = 1;
        while (more) {
            zmq_msg_init(&m);
            ck_assert_int_ge(zmq_msg_recv(&m, mon, 0), 0);
            if (first && zmq_msg_size(&m) >= 6) {
                memcpy(&ev, zmq_msg_data(&m), 2);
                memcpy(value, (char *)zmq_msg_data(&m) + 2, 4);
            }
            first = 0;
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev & mask)
            return ev;
    }
    return 0;
}

/* Connects a SUB socket with key k to d's PUB socket and returns the
 * handshake's outcome: ZMQ_EVENT_HANDSHAKE_SUCCEEDED or _FAILED_AUTH (with
 * the ZAP status in *status). */
static int subscribe_as(daemon_t *d, const harness_keypair *k, uint32_t *status)
{
    static int n;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://test-sub-monitor-%d", n++);
    void *sub = zmq_socket(d->ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, d->curve_server, 40), 0);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, k->pub, 40), 0);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, k->sec, 40), 0);
    ck_assert_int_eq(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    ck_assert_int_eq(zmq_socket_monitor(sub, endpoint, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
                     0);
    void *mon = zmq_socket(d->ctx, ZMQ_PAIR);
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_connect(mon, endpoint), 0);
    ck_assert_int_eq(zmq_connect(sub, d->publish), 0);
    int ev = monitor_event(mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 5000, status);
    zmq_socket_monitor(sub, NULL, 0);
    zmq_close(mon);
    zmq_close(sub);
    return ev;
}

START_TEST(test_provider_refused_on_publish)
{
    /* The PUB socket announces every contract's total: finance and operator
     * keys subscribe, a provider's key is refused at the handshake (ZAP
     * 400) and the refusal is logged. */
    daemon_t d;
    harness_keypair fin, op, prov;
    start_two_provider_daemon(&d, &fin, &op, &prov);
    uint32_t status = 0;
    ck_assert_int_eq(subscribe_as(&d, &fin, &status), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ck_assert_int_eq(subscribe_as(&d, &op, &status), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    ck_assert_int_eq(subscribe_as(&d, &prov, &status), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    ck_assert_uint_eq(status, 400);
    ck_assert(log_contains(&d, "domain=\"publish\" reason=\"role may not subscribe to announcements\""));
    daemon_finish(&d);
}
END_TEST

/* Checks every statement of a wait reply names contract. */
static void assert_only(json_t *r, const char *contract)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "statements"), i, s)
        ck_assert_str_eq(json_string_value(json_object_get(s, "contract")), contract);
}

START_TEST(test_provider_sees_only_its_own)
{
    /* status is scoped to the role; wait wakes a provider only for its own
     * statements, its cursor counting only them. */
    daemon_t d;
    harness_keypair fin, op, prov;
    start_two_provider_daemon(&d, &fin, &op, &prov);
    json_t *r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"status\"}", 5000);
    ck_assert_str_eq(json_string_value(json_object_get(r, "scope")), "provider");
    ck_assert_int_eq(geti(r, "contracts"), 1);
    ck_assert_int_eq(geti(r, "statements"), 0);
    ck_assert_ptr_null(json_object_get(r, "events"));
    ck_assert_ptr_null(json_object_get(r, "quarantined"));
    ck_assert_ptr_null(json_object_get(r, "last_seq"));
    json_decref(r);
    r = api_call_as(&d, fin.pub, fin.sec, "{\"op\":\"status\"}", 5000);
    ck_assert_str_eq(json_string_value(json_object_get(r, "scope")), "all");
    ck_assert_int_eq(geti(r, "contracts"), 2);
    ck_assert_ptr_nonnull(json_object_get(r, "events"));
    json_decref(r);

    /* nothing yet: timeout 0 answers at once */
    r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"wait\",\"after_seq\":0,\"timeout_ms\":0}", 5000);
    ck_assert_int_eq(geti(r, "seq"), 0);
    ck_assert(json_is_true(json_object_get(r, "timed_out")));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "statements")), 0);
    json_decref(r);

    /* a parked wait: not woken by the other provider's statements */
    harness_keys pk = {d.curve_server, prov.pub, prov.sec};
    void *waiter = harness_dealer_keys(d.ctx, d.api, &pk);
    const char *req = "{\"op\":\"wait\",\"after_seq\":0,\"timeout_ms\":20000}";
    ck_assert_int_eq(send_body(waiter, req, strlen(req)), 0);
    sleep_ms(200);
    r = api_call_as(&d, fin.pub, fin.sec, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\",\"contract\":\"example-b\"}",
                    30000);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 12);
    json_decref(r);
    zmq_pollitem_t it = {waiter, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&it, 1, 500), 0);
    /* ... and woken by its own */
    r = api_call_as(&d, fin.pub, fin.sec, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\",\"contract\":\"example\"}",
                    30000);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 12);
    json_decref(r);
    ck_assert_int_eq(zmq_poll(&it, 1, 5000), 1);
    r = recv_json(waiter, 1);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(json_object_get(r, "error"));
    ck_assert_int_ge(geti(r, "seq"), 1);
    ck_assert_int_eq(geti(r, "seq"), (json_int_t)json_array_size(json_object_get(r, "statements")));
    ck_assert(json_is_false(json_object_get(r, "timed_out")));
    assert_only(r, "example");
    json_decref(r);
    zmq_close(waiter);

    /* the provider's cursor counts its 12, finance's and the operator's all 24 */
    r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"wait\",\"after_seq\":0,\"timeout_ms\":0}", 5000);
    ck_assert_int_eq(geti(r, "seq"), 12);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "statements")), 12);
    ck_assert(json_is_false(json_object_get(r, "complete")));
    assert_only(r, "example");
    json_decref(r);
    r = api_call_as(&d, op.pub, op.sec, "{\"op\":\"wait\",\"after_seq\":20,\"timeout_ms\":0}", 5000);
    ck_assert_int_eq(geti(r, "seq"), 24);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "statements")), 4);
    assert_only(r, "example"); /* the newest four: the last settle's */
    json_decref(r);
    r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"status\"}", 5000);
    ck_assert_int_eq(geti(r, "statements"), 12);
    json_decref(r);

    /* a wait with nothing new ends at its timeout, not before, not much after */
    double t0 = mono_ms();
    r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"wait\",\"after_seq\":12,\"timeout_ms\":400}", 5000);
    double took = mono_ms() - t0;
    ck_assert(json_is_true(json_object_get(r, "timed_out")));
    ck_assert_int_eq(geti(r, "seq"), 12);
    ck_assert_msg(took >= 380 && took < 2000, "wait took %.0f ms", took);
    json_decref(r);
    /* bad arguments */
    r = api_call_as(&d, prov.pub, prov.sec, "{\"op\":\"wait\",\"timeout_ms\":-1}", 5000);
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")),
                     "wait: timeout_ms must be an integer from 0 to 3600000");
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

/* ---- reload and log lines ---------------------------------------------------- */

START_TEST(test_reload_reports_clients_file_error)
{
    /* A clients file that does not load: pbrctl reload says where
     * (FILE:LINE:COL) with exit status 1, the previous keys stay in force,
     * and pbrd logs it at warn; a contract error with quotes in its message
     * is logged as one well-formed logfmt value. */
    daemon_t d;
    harness_keypair server, fin, prov;
    start_curve_daemon(&d, &server, &fin, &prov);
    char path[300], contract[300];
    snprintf(path, sizeof path, "%s/clients.yaml", d.dir);
    harness_write_text(path, "- {key: \"not a key\", role: finance}\n");
    snprintf(contract, sizeof contract, "%s/bad.yaml", d.dir);
    harness_write_text(contract, "contract: bad\nbogus_key: 1\n");
    char want[400];
    snprintf(want, sizeof want, "%s:1:9: key is not a Z85 CURVE public key", path);
    expect_pbrctl(&d, "--server-key server.key --key fin", "reload", 1, 5000, want);
    expect_pbrctl(&d, "--server-key server.key --key fin", "reload", 1, 5000, "the previous keys stay in force");
    expect_pbrctl(&d, "--server-key server.key --key fin", "status", 0, 5000, "events"); /* old keys still work */
    ck_assert(log_contains(&d, "level=warn msg=\"clients file not reloaded (the previous keys stay in force)\""));
    char logline[600];
    snprintf(logline, sizeof logline,
             "level=warn msg=\"contract not loaded\" error=\"%s:2:1: unknown key \\\"bogus_key\\\"", contract);
    ck_assert_msg(log_contains(&d, logline), "no line %s", logline);
    daemon_finish(&d);
}
END_TEST

START_TEST(test_log_level_and_journal_priorities)
{
    /* log_level: warn drops info lines; with stderr the journal
     * (JOURNAL_STREAM naming it) each line starts with its sd-daemon(3)
     * priority, <4> for warn. A bad --log-level is a usage error. */
    daemon_t d;
    daemon_prepare(&d, "log_level: warn\n");
    char log[300], js[64];
    snprintf(log, sizeof log, "%s.log", d.dir);
    harness_write_text(log, "");
    struct stat st;
    ck_assert_int_eq(stat(log, &st), 0);
    snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", js, 1);
    daemon_start(&d);
    unsetenv("JOURNAL_STREAM");
    /* the unauthenticated-API warning is logged at start-up at warn */
    ck_assert(log_contains(&d, "<4>ts="));
    ck_assert(log_contains(&d, "level=warn msg=\"API is unauthenticated, loopback only\""));
    char err[PBR_ERR_MAX];
    char *text = pbr_read_file(log, NULL, err, sizeof err);
    daemon_finish(&d);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "level=info") == NULL, "info lines with log_level: warn: %s", text);
    for (char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line))
        ck_assert_msg(*line == '<' || *line == '\n', "a line without its priority: %.80s", line);
    free(text);

    char cmd[PATH_MAX + 128], build[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(pbr_test_build(), build));
    snprintf(cmd, sizeof cmd, "'%s/pbrd' --log-level loud --foreground 2>&1", build);
    int status;
    char *out = run_command(cmd, &status, NULL);
    ck_assert_int_eq(status, 2);
    ck_assert_msg(strstr(out, "log level \"loud\" is not debug, info, warn or error") != NULL, "%s", out);
    free(out);
}
END_TEST

/* ---- settle and statement dates ------------------------------------------------ */

START_TEST(test_settle_and_statement_say_what_is_wrong_with_the_date)
{
    /* The spec example (year_start 4, settle_after_days 30) on 2020-08-15:
     * quarter 2020-04-01 is due (A(Q) = 2020-07-01 + 30 days = 2020-07-31),
     * 2020-07-01 is not (A(Q) = 2020-10-01 + 30 days = 2020-10-31). A date
     * that starts no quarter, or a quarter not yet due, is an error with
     * exit status 1, not "issued 0 statement(s)". */
    daemon_t d;
    daemon_prepare(&d, "auto_settle: false\n");
    snprintf(d.now, sizeof d.now, "2020-08-15");
    snprintf(d.contracts, sizeof d.contracts, "%s.contracts", d.dir);
    ck_assert_int_eq(mkdir(d.contracts, 0700), 0);
    char from[1024], to[1024], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(spec_example(from, sizeof from, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/example.yaml", d.contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, text, len, err, sizeof err), 0);
    /* a second contract whose statements start later (2021-04-01): the
     * date 2020-04-01 is none of its quarters, which must not make a
     * repeated settle of the first contract an error */
    char *later = strdup(text);
    ck_assert_ptr_nonnull(later);
    char *p = strstr(later, "contract: example");
    ck_assert_ptr_nonnull(p);
    memcpy(p, "contract: later-1", 17);
    ck_assert_ptr_nonnull(p = strstr(later, "start: 2020-04-01"));
    memcpy(p, "start: 2021-04-01", 17);
    ck_assert_ptr_nonnull(p = strstr(later, "end: 2020-09-30"));
    memcpy(p, "end: 2021-09-30", 15);
    snprintf(to, sizeof to, "%s/later.yaml", d.contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, later, len, err, sizeof err), 0);
    free(later);
    free(text);
    daemon_start(&d);
    expect_pbrctl(&d, "", "settle 2020-07-02", 1, 5000,
                  "2020-07-02 is not the first day of a quarter of example (its quarters follow year_start 4): did "
                  "you mean 2020-07-01?");
    expect_pbrctl(&d, "", "statement example 2020-05-01", 1, 5000, "is not the first day of a quarter of example");
    expect_pbrctl(&d, "", "statement example 2020-04-01", 1, 5000, "it is due; issue it with pbrctl settle");
    expect_pbrctl(&d, "", "settle 2020-04-01", 0, 5000, "2020-04-01");
    expect_pbrctl(&d, "", "settle 2020-04-01", 0, 5000, "issued 0"); /* a re-run is not an error */
    expect_pbrctl(&d, "", "settle 2020-07-01", 1, 5000,
                  "the statement of example for 2020-07-01 is not due yet: A(Q) is 2020-10-31");
    expect_pbrctl(&d, "", "settle 2020-07-01 --contract example", 1, 5000, "is not due yet");
    expect_pbrctl(&d, "", "statement example 2020-07-01", 1, 5000, "is not due yet");
    expect_pbrctl(&d, "", "settle 2019-01-01 --contract example", 1, 5000,
                  "2019-01-01 is not a quarter of example (its statements run from 2020-04-01 to");
    daemon_finish(&d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *c = tcase_create("pbrctl");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_pbrctl_nothing_listening);
    tcase_add_test(c, test_pbrctl_curve_errors_each_have_their_message);
    tcase_add_test(c, test_provider_key_on_ingest_is_forbidden);
    suite_add_tcase(s, c);
    TCase *scope = tcase_create("scope");
    tcase_set_timeout(scope, 120);
    tcase_add_test(scope, test_provider_refused_on_publish);
    tcase_add_test(scope, test_provider_sees_only_its_own);
    suite_add_tcase(s, scope);
    TCase *logs = tcase_create("logs");
    tcase_set_timeout(logs, 120);
    tcase_add_test(logs, test_reload_reports_clients_file_error);
    tcase_add_test(logs, test_log_level_and_journal_priorities);
    tcase_add_test(logs, test_settle_and_statement_say_what_is_wrong_with_the_date);
    suite_add_tcase(s, logs);
    return s;
}

PBR_CHECK_MAIN(make_suite)

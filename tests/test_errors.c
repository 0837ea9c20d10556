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
#include "pbr/event.h"
#include "pbr/util.h"

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

static Suite *make_suite(void)
{
    Suite *s = suite_create("errors");
    TCase *c = tcase_create("pbrctl");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, test_pbrctl_nothing_listening);
    tcase_add_test(c, test_pbrctl_curve_errors_each_have_their_message);
    tcase_add_test(c, test_provider_key_on_ingest_is_forbidden);
    suite_add_tcase(s, c);
    return s;
}

PBR_CHECK_MAIN(make_suite)

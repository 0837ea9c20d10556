/* test_metrics.c -- pbrd's Prometheus endpoint (daemon/pbrd/metrics.c):
 * a real pbrd with `metrics:` on a free loopback port, scraped over HTTP
 * before and during a run (events sent, a bad line, a duplicate, a
 * settle, a reload, a connected client). Checks every metric's name and
 * `# TYPE` line, the histogram's shape, and that each counter moves by
 * exactly what the run did.
 */
#include "pbr/files.h"
#include "daemon_harness.h"
#include "settle_helpers.h"

/* ---- HTTP --------------------------------------------------------------------- */

/* GET (or method) path from 127.0.0.1:port with HTTP/1.0; returns the
 * whole response (status line, headers, body), malloc'd. */
static char *http_request(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect to metrics port %d: %s", port,
                  strerror(errno));
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len - 1);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

/* The body of a 200 GET /metrics, malloc'd (fails the test otherwise). */
static char *scrape(int port)
{
    char *resp = http_request(port, "GET", "/metrics");
    ck_assert_msg(strncmp(resp, "HTTP/1.0 200", 12) == 0 || strncmp(resp, "HTTP/1.1 200", 12) == 0,
                  "scrape status: %.40s", resp);
    ck_assert_msg(strstr(resp, "text/plain; version=0.0.4") != NULL, "no exposition content type");
    char *body = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    char *out = strdup(body + 4);
    free(resp);
    return out;
}

/* The value of the sample `series` (name with its labels, exactly as
 * rendered) in page; fails the test when absent. */
static double sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    ck_abort_msg("sample %s not on the page", series);
    return 0;
}

/* Asserts the page declares name with `# TYPE name type` and a HELP line. */
static void assert_type(const char *page, const char *name, const char *type)
{
    char want[256];
    snprintf(want, sizeof want, "\n# TYPE %s %s\n", name, type);
    ck_assert_msg(strstr(page, want) != NULL || strncmp(page, want + 1, strlen(want + 1)) == 0,
                  "no \"# TYPE %s %s\" line", name, type);
    snprintf(want, sizeof want, "# HELP %s ", name);
    ck_assert_msg(strstr(page, want) != NULL, "no HELP line for %s", name);
}

/* Every metric of README.md's table, with its type. */
static const char *const metric_types[][2] = {
    {"pbrd_events_stored_total", "counter"},
    {"pbrd_events_duplicate_total", "counter"},
    {"pbrd_events_rejected_total", "counter"},
    {"pbrd_ingest_batches_total", "counter"},
    {"pbrd_ingest_commit_seconds", "histogram"},
    {"pbrd_store_events", "gauge"},
    {"pbrd_store_last_seq", "gauge"},
    {"pbrd_quarantine_records", "gauge"},
    {"pbrd_lmdb_map_size_bytes", "gauge"},
    {"pbrd_lmdb_map_used_bytes", "gauge"},
    {"pbrd_statements_issued_total", "counter"},
    {"pbrd_settle_runs_total", "counter"},
    {"pbrd_settle_last_duration_seconds", "gauge"},
    {"pbrd_settle_last_issued", "gauge"},
    {"pbrd_reloads_total", "counter"},
    {"pbrd_contracts_loaded", "gauge"},
    {"pbrd_contract_errors", "gauge"},
    {"pbrd_backups_total", "counter"},
    {"pbrd_clients_connected", "gauge"},
    {"pbrd_auth_handshakes_total", "counter"},
    {"pbrd_metrics_scrapes_total", "counter"},
};

/* Every non-comment line is "name{labels} value" or "name value" and
 * its name belongs to a declared metric. */
static void assert_well_formed(const char *page)
{
    char *copy = strdup(page), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        ck_assert_msg(sp != NULL && sp[1] != '\0', "sample without value: %s", line);
        char *end;
        strtod(sp + 1, &end);
        ck_assert_msg(*end == '\0', "value not a number: %s", line);
        int known = 0;
        for (size_t i = 0; i < sizeof metric_types / sizeof metric_types[0] && !known; i++) {
            size_t n = strlen(metric_types[i][0]);
            known = strncmp(line, metric_types[i][0], n) == 0 && (line[n] == ' ' || line[n] == '{' || line[n] == '_');
        }
        ck_assert_msg(known, "undeclared sample: %s", line);
    }
    free(copy);
}

/* The commit histogram: cumulative buckets never decrease and +Inf equals _count. */
static void assert_histogram(const char *page)
{
    static const char *const le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                     "0.1",    "0.25",  "0.5",    "1",     "2.5",  "+Inf"};
    double prev = 0;
    for (size_t i = 0; i < sizeof le / sizeof le[0]; i++) {
        char s[128];
        snprintf(s, sizeof s, "pbrd_ingest_commit_seconds_bucket{le=\"%s\"}", le[i]);
        double v = sample(page, s);
        ck_assert_msg(v >= prev, "bucket %s decreases", le[i]);
        prev = v;
    }
    ck_assert_msg(prev == sample(page, "pbrd_ingest_commit_seconds_count"), "+Inf != _count");
}

/* ---- fixtures ----------------------------------------------------------------------- */

/* Starts pbrd with example.yaml as its only contract, auto-settle off, the
 * clock at 2030-01-01 and metrics on a free loopback port (*port). */
static void start_metrics_daemon(daemon_t *d, int *port)
{
    char config[256];
    *port = free_port();
    snprintf(config, sizeof config, "auto_settle: false\nmetrics: 127.0.0.1:%d\n", *port);
    daemon_prepare(d, config);
    snprintf(d->now, sizeof d->now, "2030-01-01");
    snprintf(d->contracts, sizeof d->contracts, "%s.contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    char from[1024], to[1024], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(spec_example(from, sizeof from, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/example.yaml", d->contracts);
    ck_assert_int_eq(pbr_write_file_atomic(to, text, len, err, sizeof err), 0);
    free(text);
    daemon_start(d);
}

static void stop_metrics_daemon(daemon_t *d)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->contracts);
    int rc = system(cmd);
    (void)rc;
    daemon_finish(d);
}

/* ---- tests -------------------------------------------------------------------------- */

/* Every metric is declared with its type before anything happened, the
 * counters start at zero and the store gauges describe the empty store. */
START_TEST(metrics_page_declares_every_metric)
{
    daemon_t d;
    int port;
    start_metrics_daemon(&d, &port);
    char *page = scrape(port);
    for (size_t i = 0; i < sizeof metric_types / sizeof metric_types[0]; i++)
        assert_type(page, metric_types[i][0], metric_types[i][1]);
    assert_well_formed(page);
    assert_histogram(page);
    ck_assert(sample(page, "pbrd_events_stored_total") == 0);
    ck_assert(sample(page, "pbrd_ingest_batches_total") == 0);
    ck_assert(sample(page, "pbrd_ingest_commit_seconds_count") == 0);
    ck_assert(sample(page, "pbrd_store_events") == 0);
    ck_assert(sample(page, "pbrd_contracts_loaded") == 1);
    ck_assert(sample(page, "pbrd_contract_errors") == 0);
    ck_assert(sample(page, "pbrd_lmdb_map_size_bytes") >= sample(page, "pbrd_lmdb_map_used_bytes"));
    ck_assert(sample(page, "pbrd_lmdb_map_used_bytes") > 0);
    ck_assert(sample(page, "pbrd_metrics_scrapes_total") == 1);
    free(page);
    page = scrape(port);
    ck_assert(sample(page, "pbrd_metrics_scrapes_total") == 2);
    free(page);
    stop_metrics_daemon(&d);
}
END_TEST

/* A run moves the counters by exactly what it did:
 *   batch 1: example.jsonl (12 events) + 1 unparsable line -> stored 12, rejected 1
 *   batch 2: the first line of example.jsonl again          -> duplicate 1
 *   settle through 2030-01-01: example runs 2020-04-01..2023-01-01 -> 12 statements
 *   reload: the one contract loads without error            -> reloads ok 1 */
START_TEST(metrics_counters_move_during_a_run)
{
    daemon_t d;
    int port;
    start_metrics_daemon(&d, &port);
    char path[1024], err[PBR_ERR_MAX];
    char *events = pbr_read_file(spec_example(path, sizeof path, "example.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(events != NULL, "%s", err);
    size_t elen = strlen(events);
    char *batch = malloc(elen + 64);
    snprintf(batch, elen + 64, "%s{\"this is\": not json\n", events);
    json_t *r = ingest_batch(&d, batch);
    ck_assert_int_eq(geti(r, "accepted"), 12);
    ck_assert_int_eq(geti(r, "rejected"), 1);
    json_decref(r);
    char *first = strndup(events, (size_t)(strchr(events, '\n') - events + 1));
    r = ingest_batch(&d, first);
    ck_assert_int_eq(geti(r, "duplicates"), 1);
    json_decref(r);

    /* a client that stays connected to the API while we scrape */
    void *client = harness_dealer(d.ctx, d.api);
    ck_assert_int_eq(send_body(client, "{\"op\":\"status\"}", 15), 0);
    json_t *st = recv_json(client, 1);
    json_decref(st);

    char *page = scrape(port);
    ck_assert(sample(page, "pbrd_events_stored_total") == 12);
    ck_assert(sample(page, "pbrd_events_rejected_total") == 1);
    ck_assert(sample(page, "pbrd_events_duplicate_total") == 1);
    ck_assert(sample(page, "pbrd_ingest_batches_total") == 2);
    ck_assert(sample(page, "pbrd_ingest_commit_seconds_count") >= 1);
    ck_assert(sample(page, "pbrd_ingest_commit_seconds_sum") > 0);
    ck_assert(sample(page, "pbrd_store_events") == 12);
    ck_assert(sample(page, "pbrd_store_last_seq") == 12);
    ck_assert(sample(page, "pbrd_quarantine_records") == 1);
    /* the socket monitor counts connections in its own thread: give it a moment */
    for (int i = 0; i < 100 && sample(page, "pbrd_clients_connected{socket=\"api\"}") < 1; i++) {
        free(page);
        usleep(20000);
        page = scrape(port);
    }
    ck_assert(sample(page, "pbrd_clients_connected{socket=\"api\"}") >= 1);
    ck_assert(sample(page, "pbrd_settle_runs_total{result=\"ok\"}") == 0);
    ck_assert_msg(strstr(page, "pbrd_statements_issued_total{") == NULL, "statements before any settle");
    assert_histogram(page);
    free(page);

    r = api_call(&d, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 12);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"reload\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "errors")), 0);
    json_decref(r);

    page = scrape(port);
    assert_well_formed(page);
    ck_assert(sample(page, "pbrd_statements_issued_total{contract=\"example\"}") == 12);
    ck_assert(sample(page, "pbrd_settle_runs_total{result=\"ok\"}") == 1);
    ck_assert(sample(page, "pbrd_settle_runs_total{result=\"error\"}") == 0);
    ck_assert(sample(page, "pbrd_settle_last_issued") == 12);
    ck_assert(sample(page, "pbrd_settle_last_duration_seconds") > 0);
    ck_assert(sample(page, "pbrd_reloads_total{result=\"ok\"}") == 1);
    ck_assert(sample(page, "pbrd_reloads_total{result=\"error\"}") == 0);
    ck_assert(sample(page, "pbrd_contracts_loaded") == 1);
    free(page);

    zmq_close(client);
    free(first);
    free(batch);
    free(events);
    stop_metrics_daemon(&d);
}
END_TEST

/* Only GET /metrics is served: another path is 404, another method 405. */
START_TEST(metrics_other_requests_refused)
{
    daemon_t d;
    int port;
    start_metrics_daemon(&d, &port);
    char *r = http_request(port, "GET", "/");
    ck_assert_msg(strstr(r, " 404 ") != NULL, "GET / gave %.40s", r);
    free(r);
    r = http_request(port, "POST", "/metrics");
    ck_assert_msg(strstr(r, " 405 ") != NULL, "POST gave %.40s", r);
    ck_assert_msg(strstr(r, "Allow: GET, HEAD") != NULL, "405 without Allow");
    free(r);
    stop_metrics_daemon(&d);
}
END_TEST

/* A bad `metrics:` value is a configuration error naming the line and
 * column (exit 2, nothing started). */
START_TEST(metrics_bad_address_is_config_error)
{
    static const char *const bad[] = {"metrics: 9301\n", "metrics: 127.0.0.1:0\n", "metrics: example.org:9301\n",
                                      "metrics: \"[::1:9301\"\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[] = "/tmp/pbrd-metrics-XXXXXX", config[128], log[128];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(config, sizeof config, "%s.yaml", dir);
        snprintf(log, sizeof log, "%s.log", dir);
        harness_write_text(config, bad[i]);
        char *args[] = {"-c", config, "--foreground", "--data", dir, NULL};
        pid_t pid = spawn_pbrd(args, log, 0);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "\"%s\" did not exit 2", bad[i]);
        char *text = pbr_read_file(log, NULL, NULL, 0);
        ck_assert_msg(text && strstr(text, ".yaml:1:10: metrics: ") != NULL, "no FILE:1:10 message: %s",
                      text ? text : "");
        free(text);
        remove_tree(dir);
    }
}
END_TEST

/* With auth: each admitted handshake counts under its key's role, an
 * unknown key under "refused" (the ZAP handler's observer). */
START_TEST(metrics_handshakes_per_role)
{
    harness_keypair server = harness_keypair_new(), fin = harness_keypair_new(), op = harness_keypair_new(),
                    stranger = harness_keypair_new();
    char clients[512], config[128];
    snprintf(clients, sizeof clients, "- {key: \"%s\", role: finance}\n- {key: \"%s\", role: operator}\n", fin.pub,
             op.pub);
    int port = free_port();
    snprintf(config, sizeof config, "metrics: 127.0.0.1:%d\n", port);
    daemon_t d;
    daemon_prepare_curve(&d, config, &server, &fin, clients);
    daemon_start(&d); /* its status probe: finance handshakes */
    char *page = scrape(port);
    double fin0 = sample(page, "pbrd_auth_handshakes_total{role=\"finance\"}");
    ck_assert(fin0 >= 1);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"operator\"}") == 0);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"refused\"}") == 0);
    free(page);
    json_decref(api_call_as(&d, op.pub, op.sec, "{\"op\":\"status\"}", 10000));
    harness_keys bad = {d.curve_server, stranger.pub, stranger.sec};
    char *r = request_keys(d.ctx, d.api, "{\"op\":\"status\"}", 15, 300, &bad);
    ck_assert_ptr_null(r); /* refused at the handshake: no reply */
    page = scrape(port);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"operator\"}") == 1);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"refused\"}") >= 1);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"finance\"}") == fin0);
    ck_assert(sample(page, "pbrd_auth_handshakes_total{role=\"provider\"}") == 0);
    free(page);
    daemon_finish(&d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, metrics_page_declares_every_metric);
    tcase_add_test(tc, metrics_counters_move_during_a_run);
    tcase_add_test(tc, metrics_other_requests_refused);
    tcase_add_test(tc, metrics_bad_address_is_config_error);
    tcase_add_test(tc, metrics_handshakes_per_role);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

/* test_service.c -- the settlement service driven over real sockets: a
 * real pbrd (tests/daemon_harness.h), real contract files, real events.
 *
 * Expected statements come from the spec's worked examples (hand-derived
 * in the spec's example/example*.md) and from `simulate`'s code path run
 * in-process on the same inputs; the daemon must match them byte for byte.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "pbr/files.h"
#include "daemon_harness.h"
#include "settle_helpers.h"

/* ---- fixtures ------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char err[PBR_ERR_MAX];
    char *text = pbr_read_file(from, &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    FILE *f = fopen(to, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
}

/* A contracts dir <data>.contracts holding the named spec examples. */
static void make_contracts_dir(daemon_t *d, const char *const *examples)
{
    snprintf(d->contracts, sizeof d->contracts, "%s.contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    for (size_t i = 0; examples[i]; i++) {
        char from[1024], to[1024];
        snprintf(to, sizeof to, "%s/%s", d->contracts, examples[i]);
        copy_file(spec_example(from, sizeof from, examples[i]), to);
    }
}

/* Starts pbrd with config_text, the clock at now and the named examples
 * as its contracts. */
static void start_with_examples(daemon_t *d, const char *config_text, const char *now, const char *const *examples)
{
    daemon_prepare(d, config_text);
    snprintf(d->now, sizeof d->now, "%s", now);
    make_contracts_dir(d, examples);
    daemon_start(d);
}

static void cleanup(daemon_t *d)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->contracts);
    int rc = system(cmd);
    (void)rc;
    daemon_finish(d);
}

/* The lines of a file, without the one whose id field matches skip_id. */
static char *read_events_without(const char *path, const char *skip_id)
{
    char err[PBR_ERR_MAX];
    char *text = pbr_read_file(path, NULL, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    if (skip_id == NULL)
        return text;
    char needle[128];
    snprintf(needle, sizeof needle, "\"id\": \"%s\"", skip_id);
    char *hit = strstr(text, needle);
    ck_assert_ptr_nonnull(hit);
    char *line = hit;
    while (line > text && line[-1] != '\n')
        line--;
    char *next = strchr(hit, '\n');
    memmove(line, next + 1, strlen(next + 1) + 1);
    return text;
}

static void send_events(daemon_t *d, const char *body, json_int_t expect_accepted)
{
    json_t *r = ingest_batch(d, body);
    ck_assert_msg(geti(r, "accepted") == expect_accepted, "accepted %lld, want %lld", (long long)geti(r, "accepted"),
                  (long long)expect_accepted);
    ck_assert_int_eq(geti(r, "rejected"), 0);
    json_decref(r);
}

/* The raw reply of an API request (a statement comes back byte for byte). */
static char *api_raw(daemon_t *d, const char *req)
{
    char *r = request_d(d, d->api, req, strlen(req), 30000);
    ck_assert_msg(r != NULL, "no reply to %s", req);
    return r;
}

static char *statement_of(daemon_t *d, const char *contract, const char *quarter)
{
    char req[256];
    snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}", contract, quarter);
    return api_raw(d, req);
}

static json_t *settle(daemon_t *d, const char *quarter)
{
    char req[128];
    snprintf(req, sizeof req, "{\"op\":\"settle\",\"quarter\":\"%s\"}", quarter);
    json_t *r = api_call(d, req);
    ck_assert_msg(json_is_array(json_object_get(r, "issued")), "settle %s failed", quarter);
    return r;
}

/* Line i (0-based) of a JSON Lines text, malloc'd. */
static char *nth_line(const char *text, int i)
{
    const char *p = text;
    for (; i > 0 && p; i--) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    ck_assert_ptr_nonnull(p);
    const char *e = strchr(p, '\n');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* ---- scenario: the daemon issues what simulate computes --------------------------- */

/* Both example contracts over the union of both event files: the daemon is
 * advanced quarter by quarter with `settle` and every issued statement must
 * equal simulate's output for the same contract file and events, byte for
 * byte, in the store, over the API and in the statement file. */
START_TEST(scenario_daemon_matches_simulate)
{
    static const char *const examples[] = {"example.yaml", "example2.yaml", NULL};
    daemon_t d;
    start_with_examples(&d, "auto_settle: false\n", "2030-01-01", examples);
    char p1[1024], p2[1024], all_events[1024];
    char *e1 = read_events_without(spec_example(p1, sizeof p1, "example.jsonl"), NULL);
    char *e2 = read_events_without(spec_example(p2, sizeof p2, "example2.jsonl"), NULL);
    size_t l1 = strlen(e1), l2 = strlen(e2);
    char *both = malloc(l1 + l2 + 1);
    memcpy(both, e1, l1);
    memcpy(both + l1, e2, l2 + 1);
    send_events(&d, both, 21); /* 12 + 9 events */
    snprintf(all_events, sizeof all_events, "%s.events.jsonl", d.dir);
    harness_write_text(all_events, both);

    char c1[1024], c2[1024];
    snprintf(c1, sizeof c1, "%s/example.yaml", d.contracts);
    snprintf(c2, sizeof c2, "%s/example2.yaml", d.contracts);
    char *sim1 = simulate_jsonl(c1, all_events), *sim2 = simulate_jsonl(c2, all_events);
    const char *ids[2] = {"example", "example2"};
    const char *sims[2] = {sim1, sim2};
    /* example: 2020-04-01 .. 2023-01-01 (12); example2: 2021-01-01 .. 2023-07-01 (11) */
    const char *firsts[2] = {"2020-04-01", "2021-01-01"};
    const int counts[2] = {12, 11};
    int issued_total = 0;
    pbr_date q0, q;
    pbr_date_parse("2020-04-01", 10, &q0);
    for (q = q0; issued_total < 23; q = pbr_add_months(q, 3)) {
        char qs[PBR_DATE_STRLEN];
        pbr_date_format(q, qs);
        json_t *r = settle(&d, qs);
        issued_total += (int)json_array_size(json_object_get(r, "issued"));
        json_decref(r);
        for (int k = 0; k < 2; k++) {
            pbr_date first;
            pbr_date_parse(firsts[k], 10, &first);
            int idx = 0;
            for (pbr_date x = first; x < q; x = pbr_add_months(x, 3))
                idx++;
            if (q < first || idx >= counts[k])
                continue;
            char *want = nth_line(sims[k], idx), *got = statement_of(&d, ids[k], qs);
            ck_assert_str_eq(got, want);
            char path[1024];
            snprintf(path, sizeof path, "%s/statements/%s/%s.json", d.dir, ids[k], qs);
            char *file = pbr_read_file(path, NULL, NULL, 0);
            ck_assert_msg(file != NULL, "missing %s", path);
            ck_assert_uint_eq(strlen(file), strlen(want) + 1);
            ck_assert_int_eq(strncmp(file, want, strlen(want)), 0);
            free(file);
            free(got);
            free(want);
        }
    }
    ck_assert_int_eq(issued_total, 23);
    /* asking again returns the stored statement byte for byte; nothing more to issue */
    char *again = statement_of(&d, "example", "2022-01-01"), *want = nth_line(sim1, 7);
    ck_assert_str_eq(again, want);
    json_t *r = settle(&d, "2030-01-01");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 0);
    json_decref(r);
    free(again);
    free(want);
    unlink(all_events);
    free(sim1);
    free(sim2);
    free(both);
    free(e1);
    free(e2);
    cleanup(&d);
}
END_TEST

/* ---- late data ------------------------------------------------------------------------- */

/* example.yaml without C's late conviction e07. Settled through 2021-10-01,
 * the 2020-04-01 window pays 22220 (example.md: A reoffends, 1/3, points
 * 16.666667, units 6.666667 x 33.33 = 222.20). Then a conviction of B
 * recorded 2022-02-01 arrives (offence 2021-01-10 inside B's follow-up
 * [2020-05-31, 2021-05-31), convicted 2021-06-01 before 2021-11-30): as of
 * A(2022-01-01) = 2022-05-01 the window has 2 reoffenders of 3, points
 * (0.5 - 2/3) x 100 = -16.67 < 10, so the line is `below` = -250.00:
 * adjustment -25000 - 22220 = -47220 with previous_pence 22220, total
 * 99990 - 47220 = 52770. The 2021-10-01 statement stays as issued. */
START_TEST(late_conviction_adjusts_next_statement)
{
    static const char *const examples[] = {"example.yaml", NULL};
    daemon_t d;
    start_with_examples(&d, "auto_settle: false\n", "2030-01-01", examples);
    char p[1024];
    char *events = read_events_without(spec_example(p, sizeof p, "example.jsonl"), "e07");
    send_events(&d, events, 11);
    json_decref(settle(&d, "2021-10-01"));
    char *before = statement_of(&d, "example", "2021-10-01");
    ck_assert_ptr_nonnull(
        strstr(before, "\"period\": \"2020-04-01\", \"segment\": null, \"final_on\": \"2022-01-01\""));
    ck_assert_ptr_nonnull(strstr(before, "\"total_pence\": 22220}"));
    send_events(&d,
                "{\"id\": \"late1\", \"type\": \"conviction\", \"offender\": \"B\", \"date\": \"2021-06-01\", "
                "\"offence_date\": \"2021-01-10\", \"recorded\": \"2022-02-01\"}\n",
                1);
    json_decref(settle(&d, "2022-01-01"));
    char *after = statement_of(&d, "example", "2021-10-01");
    ck_assert_str_eq(after, before);
    char *next = statement_of(&d, "example", "2022-01-01");
    ck_assert_ptr_nonnull(strstr(next,
                                 "{\"kind\": \"adjustment\", \"component\": \"reoffending\", \"period\": "
                                 "\"2020-04-01\", \"segment\": null, \"previous_pence\": 22220, "
                                 "\"amount_pence\": -47220}"));
    ck_assert_ptr_nonnull(strstr(next, "\"total_pence\": 52770}"));
    ck_assert_ptr_nonnull(strstr(next, "\"events_through\": 12,"));
    free(before);
    free(after);
    free(next);
    free(events);
    cleanup(&d);
}
END_TEST

/* ---- reload ---------------------------------------------------------------------------------- */

/* A broken edit is reported with file:line:column and the previous version
 * stays in force; a valid edit (SIGHUP) replaces it; issued statements keep
 * the version they were issued under. */
START_TEST(reload_keeps_previous_version_on_error)
{
    static const char *const examples[] = {"example.yaml", NULL};
    daemon_t d;
    start_with_examples(&d, "auto_settle: false\n", "2030-01-01", examples);
    json_t *c = api_call(&d, "{\"op\":\"contracts\"}");
    char *sha0 =
        strdup(json_string_value(json_object_get(json_array_get(json_object_get(c, "contracts"), 0), "sha256")));
    ck_assert_str_eq(sha0, "0606e6233c202ef5023d57fd754c4b49baad6e1c39dd0782134f8d14af53122f");
    json_decref(c);
    json_decref(settle(&d, "2020-04-01"));

    char path[1024];
    snprintf(path, sizeof path, "%s/example.yaml", d.contracts);
    harness_write_text(path,
                       "contract: example\ntitle: broken\nprovider: demo-provider\nstart: 2020-02-30\n"
                       "end: 2020-09-30\n");
    json_t *r = api_call(&d, "{\"op\":\"reload\"}");
    json_t *e = json_array_get(json_object_get(r, "errors"), 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(e, "file")), path);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "line")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "column")), 8);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "message")), "2020-02-30"));
    json_decref(r);
    c = api_call(&d, "{\"op\":\"contracts\"}");
    json_t *first = json_array_get(json_object_get(c, "contracts"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "sha256")),
                     "0606e6233c202ef5023d57fd754c4b49baad6e1c39dd0782134f8d14af53122f");
    ck_assert_str_eq(json_string_value(json_object_get(first, "last_statement")), "2020-04-01");
    json_decref(c);

    /* a valid edit, by SIGHUP: the fee doubles from the next statement on */
    char from[1024];
    copy_file(spec_example(from, sizeof from, "example.yaml"), path);
    char *text = pbr_read_file(path, NULL, NULL, 0);
    char *fee = strstr(text, "per_quarter: 1000.00");
    ck_assert_ptr_nonnull(fee);
    memcpy(fee, "per_quarter: 2000.00", 20);
    harness_write_text(path, text);
    free(text);
    kill(d.pid, SIGHUP);
    char *sha1 = NULL;
    for (int i = 0; i < 100 && sha1 == NULL; i++) {
        usleep(50000);
        c = api_call(&d, "{\"op\":\"contracts\"}");
        const char *s =
            json_string_value(json_object_get(json_array_get(json_object_get(c, "contracts"), 0), "sha256"));
        if (s && strcmp(s, sha0) != 0)
            sha1 = strdup(s);
        json_decref(c);
    }
    ck_assert_msg(sha1 != NULL, "SIGHUP did not reload the edited contract");
    json_decref(settle(&d, "2020-07-01"));
    char *s1 = statement_of(&d, "example", "2020-04-01"), *s2 = statement_of(&d, "example", "2020-07-01");
    ck_assert_ptr_nonnull(strstr(s1, sha0));
    ck_assert_ptr_nonnull(strstr(s1, "\"amount_pence\": 100000}"));
    ck_assert_ptr_nonnull(strstr(s2, sha1));
    ck_assert_ptr_nonnull(strstr(s2, "\"amount_pence\": 200000}"));
    free(s1);
    free(s2);
    free(sha1);
    free(sha0);
    cleanup(&d);
}
END_TEST

/* ---- verify ------------------------------------------------------------------------------------ */

START_TEST(verify_clean_then_detects_tampered_file)
{
    static const char *const examples[] = {"example.yaml", "example2.yaml", NULL};
    daemon_t d;
    start_with_examples(&d, "auto_settle: true\n", "2021-06-01", examples);
    char p[1024];
    char *events = read_events_without(spec_example(p, sizeof p, "example.jsonl"), NULL);
    send_events(&d, events, 12);
    /* with now 2021-06-01 auto-settle has issued the quarters with A(Q) < now:
       example 2020-04-01 .. 2021-01-01 (A = 2021-05-01), example2 2021-01-01 (A = 2021-05-01) */
    json_decref(settle(&d, "2030-01-01"));
    json_t *v = api_call(&d, "{\"op\":\"verify\"}");
    ck_assert_int_eq(geti(v, "checked"), 5);
    ck_assert_uint_eq(json_array_size(json_object_get(v, "differences")), 0);
    json_decref(v);
    char path[1024];
    snprintf(path, sizeof path, "%s/statements/example/2020-07-01.json", d.dir);
    char *text = pbr_read_file(path, NULL, NULL, 0);
    ck_assert_ptr_nonnull(text);
    char *amount = strstr(text, "100000");
    ck_assert_ptr_nonnull(amount);
    amount[0] = '9';
    harness_write_text(path, text);
    free(text);
    v = api_call(&d, "{\"op\":\"verify\"}");
    json_t *diffs = json_object_get(v, "differences");
    ck_assert_uint_eq(json_array_size(diffs), 1);
    json_t *diff = json_array_get(diffs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(diff, "contract")), "example");
    ck_assert_str_eq(json_string_value(json_object_get(diff, "quarter")), "2020-07-01");
    ck_assert_str_eq(json_string_value(json_object_get(diff, "where")), "file");
    json_decref(v);
    free(events);
    cleanup(&d);
}
END_TEST

/* ---- auto-settle and the backlog of a new store ------------------------------------------------ */

/* The "state" and "due" of contract id in a contracts reply (fails the test when absent). */
static void contract_state(json_t *contracts, const char *id, const char **state, json_int_t *due)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(contracts, "contracts"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "contract")), id) == 0) {
            *state = json_string_value(json_object_get(c, "state"));
            *due = geti(c, "due");
            return;
        }
    }
    ck_abort_msg("contract %s not listed", id);
}

/* Is (contract, quarter) issued? */
static int is_issued(daemon_t *d, const char *contract, const char *quarter)
{
    char *r = statement_of(d, contract, quarter);
    int issued = strstr(r, "\"error\"") == NULL;
    free(r);
    return issued;
}

START_TEST(new_store_auto_settle_leaves_backlog_to_explicit_settle)
{
    static const char *const examples[] = {"example.yaml", "example2.yaml", NULL};
    daemon_t d;
    /* first loaded on 2021-06-01 with auto-settle on. A(Q) = Q + 3 months
       + settle_after_days (30 for example, see example.yaml):
       example   2020-04-01 (A 2020-07-31), 2020-07-01 (A 2020-10-31),
                 2020-10-01 (A 2021-01-31), 2021-01-01 (A 2021-05-01): 4 due
       example2  2021-01-01 (A 2021-05-01 per test verify_clean...): 1 due
       so 5 statements were due before any event arrived: none may be issued. */
    start_with_examples(&d, "auto_settle: true\n", "2021-06-01", examples);
    ck_assert_msg(!is_issued(&d, "example", "2020-04-01"), "auto-settle issued a backlog statement");
    ck_assert_msg(!is_issued(&d, "example2", "2021-01-01"), "auto-settle issued a backlog statement");
    json_t *st = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "awaiting_settle"), 5);
    json_decref(st);
    json_t *cs = api_call(&d, "{\"op\":\"contracts\"}");
    const char *state;
    json_int_t due;
    contract_state(cs, "example", &state, &due);
    ck_assert_str_eq(state, "due, awaiting settle");
    ck_assert_int_eq(due, 4);
    contract_state(cs, "example2", &state, &due);
    ck_assert_str_eq(state, "due, awaiting settle");
    ck_assert_int_eq(due, 1);
    json_decref(cs);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/statements/example", d.dir);
    ck_assert_msg(access(dir, F_OK) != 0, "statement files written for the backlog");

    /* the operator backfills once the events are in */
    char p[1024];
    char *events = read_events_without(spec_example(p, sizeof p, "example.jsonl"), NULL);
    send_events(&d, events, 12);
    free(events);
    json_t *r = settle(&d, "2030-01-01");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 5);
    json_decref(r);
    st = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "awaiting_settle"), 0);
    json_decref(st);
    cs = api_call(&d, "{\"op\":\"contracts\"}");
    contract_state(cs, "example", &state, &due);
    ck_assert_str_eq(state, "up to date");
    ck_assert_int_eq(due, 0);
    json_decref(cs);

    /* later quarters fall due after the first load: auto-settle issues them.
       example 2021-04-01 has A = 2021-07-01 + 30 = 2021-07-31 < 2021-08-15. */
    ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM), 0);
    snprintf(d.now, sizeof d.now, "2021-08-15");
    daemon_start(&d);
    ck_assert_msg(is_issued(&d, "example", "2021-04-01"), "auto-settle did not issue a quarter due after first load");
    st = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(st, "awaiting_settle"), 0);
    json_decref(st);
    cleanup(&d);
}
END_TEST

/* ---- CURVE roles ------------------------------------------------------------------------------- */

static json_t *call_as(daemon_t *d, const harness_keypair *k, const char *req)
{
    return api_call_as(d, k->pub, k->sec, req, 5000);
}

static int is_forbidden(json_t *r)
{
    const char *e = json_string_value(json_object_get(r, "error"));
    int f = e != NULL && strcmp(e, "forbidden") == 0;
    json_decref(r);
    return f;
}

START_TEST(curve_roles_isolate_providers)
{
    static const char *const examples[] = {"example.yaml", NULL};
    harness_keypair server = harness_keypair_new(), finance = harness_keypair_new(), operator_ = harness_keypair_new(),
                    prov_a = harness_keypair_new(), prov_b = harness_keypair_new(), stranger = harness_keypair_new();
    char clients[2048];
    snprintf(clients, sizeof clients,
             "- {key: \"%s\", role: finance, name: treasury}\n- {key: \"%s\", role: operator}\n"
             "- {key: \"%s\", role: \"provider:demo-provider\"}\n- {key: \"%s\", role: \"provider:other\"}\n",
             finance.pub, operator_.pub, prov_a.pub, prov_b.pub);
    daemon_t d;
    daemon_prepare_curve(&d, "auto_settle: false\n", &server, &finance, clients);
    snprintf(d.now, sizeof d.now, "2030-01-01");
    make_contracts_dir(&d, examples);
    daemon_start(&d);
    char p[1024];
    char *events = read_events_without(spec_example(p, sizeof p, "example.jsonl"), NULL);
    send_events(&d, events, 12);
    free(events);

    /* finance: everything */
    json_t *r = call_as(&d, &finance, "{\"op\":\"settle\",\"quarter\":\"2020-07-01\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 2);
    json_decref(r);
    const char *all_ops[] = {"{\"op\":\"status\"}",
                             "{\"op\":\"contracts\"}",
                             "{\"op\":\"quarantine\"}",
                             "{\"op\":\"verify\"}",
                             "{\"op\":\"reload\"}",
                             "{\"op\":\"cohorts\",\"contract\":\"example\"}",
                             "{\"op\":\"statement\",\"contract\":\"example\",\"quarter\":\"2020-04-01\"}"};
    for (size_t i = 0; i < sizeof all_ops / sizeof *all_ops; i++)
        ck_assert_msg(!is_forbidden(call_as(&d, &finance, all_ops[i])), "finance refused %s", all_ops[i]);

    /* provider B: sees nothing of demo-provider's contract */
    r = call_as(&d, &prov_b, "{\"op\":\"contracts\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "contracts")), 0);
    json_decref(r);
    const char *b_refused[] = {"{\"op\":\"statement\",\"contract\":\"example\",\"quarter\":\"2020-04-01\"}",
                               "{\"op\":\"cohorts\",\"contract\":\"example\"}",
                               "{\"op\":\"settle\",\"quarter\":\"2020-10-01\"}",
                               "{\"op\":\"reload\"}",
                               "{\"op\":\"quarantine\"}",
                               "{\"op\":\"verify\"}",
                               "{\"op\":\"statement\",\"contract\":\"no-such\",\"quarter\":\"2020-04-01\"}",
                               "{\"op\":\"statements\",\"contract\":\"example\"}",
                               ("{\"op\":\"explain\",\"contract\":\"example\",\"quarter\":\"2020-04-01\","
                                "\"component\":\"service\",\"period\":\"2020-04-01\"}")};
    for (size_t i = 0; i < sizeof b_refused / sizeof *b_refused; i++)
        ck_assert_msg(is_forbidden(call_as(&d, &prov_b, b_refused[i])), "provider B allowed %s", b_refused[i]);

    /* provider A: its own contract only, read-only */
    r = call_as(&d, &prov_a, "{\"op\":\"contracts\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "contracts")), 1);
    json_decref(r);
    r = call_as(&d, &prov_a, "{\"op\":\"statement\",\"contract\":\"example\",\"quarter\":\"2020-04-01\"}");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "total_pence")), 100000);
    json_decref(r);
    ck_assert(!is_forbidden(call_as(&d, &prov_a, "{\"op\":\"cohorts\",\"contract\":\"example\"}")));
    /* its statements and the rows behind them: its own contract only (prov_b refused above) */
    r = call_as(&d, &prov_a, "{\"op\":\"statements\",\"contract\":\"example\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "statements")), 2);
    json_decref(r);
    r = call_as(&d, &prov_a,
                "{\"op\":\"explain\",\"contract\":\"example\",\"quarter\":\"2020-04-01\","
                "\"component\":\"service\",\"period\":\"2020-04-01\"}");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "line"), "kind")), "fee");
    json_decref(r);
    ck_assert(is_forbidden(call_as(&d, &prov_a, "{\"op\":\"settle\",\"quarter\":\"2020-10-01\"}")));
    ck_assert(is_forbidden(call_as(&d, &prov_a, "{\"op\":\"quarantine\"}")));

    /* operator: reload and read, not settle */
    ck_assert(!is_forbidden(call_as(&d, &operator_, "{\"op\":\"reload\"}")));
    ck_assert(is_forbidden(call_as(&d, &operator_, "{\"op\":\"settle\",\"quarter\":\"2020-10-01\"}")));

    /* an unknown key never gets a reply; a plain client neither */
    harness_keys hk = {d.curve_server, stranger.pub, stranger.sec};
    char *none = request_keys(d.ctx, d.api, "{\"op\":\"status\"}", 15, 1500, &hk);
    ck_assert_ptr_null(none);
    none = request(d.ctx, d.api, "{\"op\":\"status\"}", 15, 1500);
    ck_assert_ptr_null(none);

    /* ingest: only finance (and the ingest role) may feed events; a provider
     * key is refused at the handshake of the ingest socket (ZAP domain
     * "ingest"), so its batch is never stored */
    static const char batch[] = "{\"id\": \"forged\", \"type\": \"release\", \"offender\": \"Z\", "
                                "\"date\": \"2020-04-15\", \"area\": \"X\", \"establishment\": \"HMP-X\", "
                                "\"sentence_days\": 120, \"age\": 30, \"gender\": \"M\"}\n";
    harness_keys pk = {d.curve_server, prov_a.pub, prov_a.sec};
    none = request_keys(d.ctx, d.ingest, batch, strlen(batch), 1500, &pk);
    ck_assert_ptr_null(none);
    r = call_as(&d, &finance, "{\"op\":\"status\"}");
    json_t *nevents = json_object_get(r, "events");
    ck_assert_msg(nevents != NULL, "status has no \"events\"");
    ck_assert_int_eq(json_integer_value(nevents), 12);
    json_decref(r);
    cleanup(&d);
}
END_TEST

/* The next datagram on fd within timeout_ms, NUL-terminated in buf;
 * returns buf, or NULL on timeout. */
static char *recv_notify(int fd, int timeout_ms, char *buf, size_t size)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return NULL;
    ssize_t n = recv(fd, buf, size - 1, 0);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return buf;
}

/* Under systemd (Type=notify, ExecReload=kill -HUP): READY=1 once serving,
 * RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM,
 * each sent to the socket named by NOTIFY_SOCKET. */
START_TEST(sd_notify_ready_reloading_stopping)
{
#ifdef PBR_HAVE_SYSTEMD
    char dir[64] = "/tmp/pbrd-notify-XXXXXX", path[96], msg[512];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
    daemon_t d;
    daemon_init(&d, NULL); /* the daemon inherits NOTIFY_SOCKET */
    unsetenv("NOTIFY_SOCKET");
    ck_assert_ptr_nonnull(recv_notify(fd, 5000, msg, sizeof msg));
    ck_assert_msg(strstr(msg, "READY=1") != NULL, "first notification: %s", msg);
    kill(d.pid, SIGHUP);
    ck_assert_ptr_nonnull(recv_notify(fd, 5000, msg, sizeof msg));
    ck_assert_str_eq(msg, "RELOADING=1");
    ck_assert_ptr_nonnull(recv_notify(fd, 5000, msg, sizeof msg));
    ck_assert_str_eq(msg, "READY=1");
    ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM), 0);
    ck_assert_ptr_nonnull(recv_notify(fd, 5000, msg, sizeof msg));
    ck_assert_msg(strstr(msg, "STOPPING=1") != NULL, "on SIGTERM: %s", msg);
    close(fd);
    unlink(path);
    rmdir(dir);
    daemon_finish(&d);
#endif
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("service");
    TCase *tc = tcase_create("daemon");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, scenario_daemon_matches_simulate);
    tcase_add_test(tc, late_conviction_adjusts_next_statement);
    tcase_add_test(tc, reload_keeps_previous_version_on_error);
    tcase_add_test(tc, verify_clean_then_detects_tampered_file);
    tcase_add_test(tc, new_store_auto_settle_leaves_backlog_to_explicit_settle);
    tcase_add_test(tc, curve_roles_isolate_providers);
    tcase_add_test(tc, sd_notify_ready_reloading_stopping);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

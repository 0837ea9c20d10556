/* test_service_unit.c -- the settlement service in-process (libpbrd.a): no
 * sockets, no daemon; a real LMDB store in a temp dir, a real contracts
 * dir, and the spec's worked example. Expected statements are the spec's
 * own (tests/spec-example/example.expected.jsonl, derived by hand in
 * example.md), byte for byte, from the store and from the files.
 *
 * The statement record (record.h) is tested alone too: its stored form,
 * the refusal of corrupted records, the files and their repair; and so are
 * the replies shaped from the service's structs (api_reply.h), to the byte.
 */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "pbr/event.h"
#include "pbr/store.h"
#include "pbr/files.h"
#include "pbr/sha256.h"
#include "pbrd/api_reply.h"
#include "pbrd/record.h"
#include "pbrd/service.h"
#include "settle_helpers.h"

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* The events of one JSON Lines text, stored in file order (a void after
 * its target, as ingest requires). */
typedef struct events_in {
    char *text;
    int stored;
} events_in;

static int put_lines(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    events_in *in = ctx;
    char *copy = strdup(in->text), *save = NULL;
    ck_assert_ptr_nonnull(copy);
    in->stored = 0;
    int rc = PBR_STORE_OK;
    for (char *l = strtok_r(copy, "\n", &save); l && rc == PBR_STORE_OK; l = strtok_r(NULL, "\n", &save)) {
        pbr_event ev;
        uint64_t seq;
        ck_assert_msg(pbr_event_parse(l, strlen(l), &ev, err, errlen) == 0, "%s", err);
        size_t clen;
        char *canon = pbr_event_canonical(&ev, &clen);
        ck_assert_ptr_nonnull(canon);
        rc = pbr_store_put_event(txn, &ev, canon, clen, &seq, err, errlen);
        if (rc == PBR_STORE_ADDED)
            in->stored++;
        free(canon);
        pbr_event_clear(&ev);
    }
    free(copy);
    return rc;
}

/* What the service announced (pbrd_service_events). */
typedef struct published {
    int statements, reloads;
    char last_contract[80], last_quarter[16], last_sha[65];
    size_t last_loaded, last_errors;
} published;

static void on_statement(void *ctx, const pbrd_issued *st, const char *sha256)
{
    published *p = ctx;
    p->statements++;
    snprintf(p->last_contract, sizeof p->last_contract, "%s", st->contract);
    snprintf(p->last_quarter, sizeof p->last_quarter, "%s", st->quarter);
    snprintf(p->last_sha, sizeof p->last_sha, "%s", sha256);
}

static void on_reload(void *ctx, const pbrd_reload_result *r)
{
    published *p = ctx;
    p->reloads++;
    p->last_loaded = r->nloaded;
    p->last_errors = r->nerrors;
}

static const pbrd_service_events test_events = {on_statement, on_reload};

/* A service over the spec's example: its contract in tmp/contracts, its 12
 * events committed to a store in tmp/data, statements in tmp/statements. */
typedef struct example_fixture {
    char tmp[64], contracts[256], statements[256];
    pbr_store *store;
    pbrd_service *svc;
    published pub;
    pbr_date today; /* 2030-01-01: every quarter of the example is due */
} example_fixture;

static void example_open_service(example_fixture *f)
{
    char err[PBR_ERR_MAX];
    pbrd_service_opts so = {f->contracts, f->statements, &test_events, &f->pub, 0, f->today};
    ck_assert_msg(pbrd_service_open(&f->svc, f->store, &so, err, sizeof err) == 0, "%s", err);
}

static void example_setup(example_fixture *f)
{
    char path[2048], err[PBR_ERR_MAX];
    memset(f, 0, sizeof *f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/pbr-test-svc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->tmp));
    snprintf(f->contracts, sizeof f->contracts, "%s/contracts", f->tmp);
    snprintf(f->statements, sizeof f->statements, "%s/statements", f->tmp);
    ck_assert_int_eq(mkdir(f->contracts, 0700), 0);
    ck_assert_int_eq(pbr_date_parse("2030-01-01", 10, &f->today), 0);

    /* the contract, under the service's contracts dir */
    size_t len;
    char *yaml = pbr_read_file(spec_example(path, sizeof path, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(yaml != NULL, "%s", err);
    snprintf(path, sizeof path, "%s/example.yaml", f->contracts);
    ck_assert_int_eq(pbr_write_file_atomic(path, yaml, len, err, sizeof err), 0);
    free(yaml);

    /* the 12 events of the example, committed through the one write path */
    snprintf(path, sizeof path, "%s/data", f->tmp);
    ck_assert_msg(pbr_store_open(path, &f->store, err, sizeof err) == 0, "%s", err);
    events_in in = {pbr_read_file(spec_example(path, sizeof path, "example.jsonl"), NULL, err, sizeof err), 0};
    ck_assert_msg(in.text != NULL, "%s", err);
    ck_assert_msg(pbr_store_write(f->store, put_lines, &in, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(in.stored, 12);
    free(in.text);
    example_open_service(f);
    ck_assert_uint_eq(pbrd_service_ncontracts(f->svc), 1);
}

static void example_teardown(example_fixture *f)
{
    pbrd_service_close(&f->svc);
    pbr_store_close(&f->store);
    nftw(f->tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Settles everything the example covers: its 12 quarters, from 2020-04-01
 * to 2023-01-01 (the last line final 2022-01-01, plus run_off). */
static void example_settle_all(example_fixture *f, pbrd_settle_result *r)
{
    pbr_date through;
    ck_assert_int_eq(pbr_date_parse("2023-01-01", 10, &through), 0);
    int rc = pbrd_service_settle(f->svc, through, NULL, f->today, r);
    ck_assert_msg(rc == 0, "%s", r->error ? r->error : "?");
    ck_assert_ptr_null(r->error);
}

START_TEST(issues_the_spec_example_in_process)
{
    char path[2048], err[PBR_ERR_MAX];
    example_fixture f;
    example_setup(&f);
    ck_assert_int_eq(f.pub.reloads, 1); /* the initial load is announced */
    ck_assert_uint_eq(f.pub.last_loaded, 1);
    ck_assert_uint_eq(f.pub.last_errors, 0);

    pbrd_settle_result r;
    example_settle_all(&f, &r);
    ck_assert_uint_eq(r.nissued, 12);
    ck_assert_int_eq(f.pub.statements, 12);

    /* every statement: the spec's bytes from the store, and the same bytes
     * and a newline in statements/example/<quarter>.json; the settle
     * result lists it, in order, with the spec's total (example.md) */
    char *expected = pbr_read_file(spec_example(path, sizeof path, "example.expected.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(expected != NULL, "%s", err);
    char *save = NULL, *last_line = NULL;
    size_t n = 0, len;
    for (char *line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        json_t *st = json_loads(line, 0, NULL);
        const char *quarter = json_string_value(json_object_get(st, "quarter"));
        ck_assert_ptr_nonnull(quarter);
        ck_assert_uint_lt(n, r.nissued);
        ck_assert_str_eq(r.issued[n].contract, "example");
        ck_assert_str_eq(r.issued[n].quarter, quarter);
        ck_assert_int_eq(r.issued[n].total_pence, json_integer_value(json_object_get(st, "total_pence")));
        char *got = pbrd_service_statement(f.svc, "example", quarter, err, sizeof err);
        ck_assert_msg(got != NULL, "%s: %s", quarter, err);
        ck_assert_str_eq(got, line);
        free(got);
        snprintf(path, sizeof path, "%s/example/%s.json", f.statements, quarter);
        char *file = pbr_read_file(path, &len, err, sizeof err);
        ck_assert_msg(file != NULL, "%s", err);
        ck_assert_uint_eq(len, strlen(line) + 1);
        ck_assert_int_eq(memcmp(file, line, strlen(line)), 0);
        ck_assert_int_eq(file[len - 1], '\n');
        free(file);
        json_decref(st);
        last_line = line;
    }
    ck_assert_uint_eq(n, 12);
    /* the fee of 2020-04-01 is per_quarter 1000.00 = 100000 pence (SPEC 5.4) */
    ck_assert_int_eq(r.issued[0].total_pence, 100000);
    /* the last announcement: the last statement, with its bytes' SHA-256 */
    char sha[65];
    pbr_sha256_hex(last_line, strlen(last_line), sha);
    ck_assert_str_eq(f.pub.last_contract, "example");
    ck_assert_str_eq(f.pub.last_quarter, "2023-01-01");
    ck_assert_str_eq(f.pub.last_sha, sha);
    free(expected);
    pbrd_settle_result_clear(&r);
    ck_assert_ptr_null(r.issued);
    pbrd_settle_result_clear(&r); /* safe on an empty result */

    /* a settle that finds everything issued issues nothing */
    example_settle_all(&f, &r);
    ck_assert_uint_eq(r.nissued, 0);
    pbrd_settle_result_clear(&r);

    /* verify recomputes all 12 from the log and finds nothing different */
    pbrd_verify_result v;
    ck_assert_msg(pbrd_service_verify(f.svc, &v, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(v.checked, 12);
    ck_assert_uint_eq(v.ndiffs, 0);
    pbrd_verify_result_clear(&v);
    example_teardown(&f);
}
END_TEST

START_TEST(settle_refuses_an_unknown_contract)
{
    example_fixture f;
    example_setup(&f);
    pbrd_settle_result r;
    pbr_date through;
    ck_assert_int_eq(pbr_date_parse("2023-01-01", 10, &through), 0);
    ck_assert_int_eq(pbrd_service_settle(f.svc, through, "nope", f.today, &r), -1);
    ck_assert_str_eq(r.error, "settle: no such contract");
    ck_assert_uint_eq(r.nissued, 0);
    pbrd_settle_result_clear(&r);
    ck_assert_int_eq(f.pub.statements, 0);
    example_teardown(&f);
}
END_TEST

START_TEST(contracts_and_statements_listings)
{
    char err[PBR_ERR_MAX];
    example_fixture f;
    example_setup(&f);
    /* before a settle: all 12 quarters are due (A(Q) < 2030-01-01), and
     * without auto-settle only an explicit settle issues them */
    pbrd_contract_row *rows;
    size_t n;
    ck_assert_int_eq(pbrd_service_contracts(f.svc, NULL, f.today, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].contract, "example");
    ck_assert_str_eq(rows[0].provider, "demo-provider");
    ck_assert_str_eq(rows[0].last_statement, "");
    ck_assert_str_eq(rows[0].first_loaded, "2030-01-01");
    ck_assert_uint_eq(rows[0].due, 12);
    ck_assert_str_eq(rows[0].state, "due, awaiting settle");
    ck_assert_uint_eq(pbrd_service_awaiting_settle(f.svc, NULL, f.today), 12);
    free(rows);
    /* another provider sees none */
    ck_assert_int_eq(pbrd_service_contracts(f.svc, "someone-else", f.today, &rows, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(rows);

    pbrd_statement_list l;
    ck_assert_msg(pbrd_service_statements(f.svc, "example", &l, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 0);
    pbrd_statement_list_clear(&l);

    pbrd_settle_result r;
    example_settle_all(&f, &r);
    ck_assert_uint_eq(r.nissued, 12);

    ck_assert_int_eq(pbrd_service_contracts(f.svc, "demo-provider", f.today, &rows, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(rows[0].last_statement, "2023-01-01");
    ck_assert_uint_eq(rows[0].due, 0);
    ck_assert_str_eq(rows[0].state, "up to date");
    free(rows);

    /* the listing holds each issued statement's stored bytes, in order */
    ck_assert_msg(pbrd_service_statements(f.svc, "example", &l, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 12);
    ck_assert_str_eq(l.contract, "example");
    ck_assert_str_eq(l.provider, "demo-provider");
    ck_assert_int_eq(l.has_contract_cap, 0);
    for (size_t i = 0; i < l.n; i++) {
        char *st = pbrd_service_statement(f.svc, "example", r.issued[i].quarter, err, sizeof err);
        ck_assert_msg(st != NULL, "%s", err);
        ck_assert_str_eq(l.statements[i], st);
        free(st);
    }
    pbrd_statement_list_clear(&l);
    ck_assert_int_eq(pbrd_service_statements(f.svc, "nope", &l, err, sizeof err), -1);
    ck_assert_str_eq(err, "statements: no such contract");
    pbrd_settle_result_clear(&r);
    example_teardown(&f);
}
END_TEST

START_TEST(cohorts_and_explain_give_structs)
{
    char err[PBR_ERR_MAX];
    example_fixture f;
    example_setup(&f);
    /* as of 2030 every line of the example is final (the last on
     * 2022-01-01): nothing is provisional, twice (the second from the cache) */
    pbr_line *lines;
    size_t n = 99;
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(pbrd_service_cohorts(f.svc, "example", f.today, &lines, &n, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(n, 0);
        free(lines);
    }
    ck_assert_int_eq(pbrd_service_cohorts(f.svc, "nope", f.today, &lines, &n, err, sizeof err), -1);
    ck_assert_str_eq(err, "cohorts: no such contract");

    pbrd_explain_view v;
    ck_assert_int_eq(
        pbrd_service_explain(f.svc, "example", "2020-04-01", "service", "2020-04-01", NULL, &v, err, sizeof err), -1);
    ck_assert_str_eq(err, "explain: statement example 2020-04-01 is not issued");
    ck_assert_ptr_null(v.record.statement);

    pbrd_settle_result r;
    example_settle_all(&f, &r);
    pbrd_settle_result_clear(&r);
    /* issued: the view holds its record and the version it was issued under */
    ck_assert_msg(
        pbrd_service_explain(f.svc, "example", "2020-04-01", "service", "2020-04-01", NULL, &v, err, sizeof err) == 0,
        "%s", err);
    char *st = pbrd_service_statement(f.svc, "example", "2020-04-01", err, sizeof err);
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(v.record.statement, st);
    free(st);
    ck_assert_ptr_nonnull(v.version);
    ck_assert_str_eq(v.version->id, "example");
    ck_assert_str_eq(v.version->sha256, v.record.contract_sha256);
    ck_assert_ptr_eq(v.line_version, v.version); /* one version only */
    ck_assert_ptr_nonnull(v.events);
    pbrd_explain_view_clear(&v);
    ck_assert_ptr_null(v.record.statement);
    example_teardown(&f);
}
END_TEST

START_TEST(verify_reports_a_missing_file_that_reopening_repairs)
{
    char path[2048], err[PBR_ERR_MAX];
    example_fixture f;
    example_setup(&f);
    pbrd_settle_result r;
    example_settle_all(&f, &r);
    pbrd_settle_result_clear(&r);

    snprintf(path, sizeof path, "%s/example/2021-10-01.json", f.statements);
    ck_assert_int_eq(unlink(path), 0);
    pbrd_verify_result v;
    ck_assert_msg(pbrd_service_verify(f.svc, &v, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(v.checked, 12);
    ck_assert_uint_eq(v.ndiffs, 1);
    ck_assert_str_eq(v.diffs[0].contract, "example");
    ck_assert_str_eq(v.diffs[0].quarter, "2021-10-01");
    ck_assert_str_eq(v.diffs[0].where, "file");
    ck_assert_str_eq(v.diffs[0].detail, "the .json file is missing or differs from the issued statement");
    pbrd_verify_result_clear(&v);

    /* opening the service again rewrites the file from the store */
    pbrd_service_close(&f.svc);
    example_open_service(&f);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_msg(pbrd_service_verify(f.svc, &v, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(v.checked, 12);
    ck_assert_uint_eq(v.ndiffs, 0);
    pbrd_verify_result_clear(&v);
    example_teardown(&f);
}
END_TEST

START_TEST(reload_reports_a_broken_file_and_keeps_the_rest)
{
    char path[2048], err[PBR_ERR_MAX];
    example_fixture f;
    example_setup(&f);
    /* a second file that is not a contract: line 1 is a YAML list */
    snprintf(path, sizeof path, "%s/broken.yaml", f.contracts);
    ck_assert_int_eq(pbr_write_file_atomic(path, "- 1\n", 4, err, sizeof err), 0);
    pbrd_reload_result r;
    ck_assert_msg(pbrd_service_reload(f.svc, f.today, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.nloaded, 1);
    ck_assert_str_eq(r.loaded[0], "example");
    ck_assert_uint_eq(r.nerrors, 1);
    ck_assert_str_eq(r.errors[0].file, path);
    ck_assert_int_eq(r.errors[0].line, 1);
    ck_assert(r.errors[0].message[0] != '\0');
    pbrd_reload_result_clear(&r);
    ck_assert_ptr_null(r.loaded);
    ck_assert_int_eq(f.pub.reloads, 2); /* the open's and this one */
    ck_assert_uint_eq(f.pub.last_errors, 1);
    ck_assert_uint_eq(pbrd_service_ncontracts(f.svc), 1);

    /* a contracts dir that is gone: an error, the contracts in force stay */
    char moved[300];
    snprintf(moved, sizeof moved, "%s/gone", f.tmp);
    ck_assert_int_eq(rename(f.contracts, moved), 0);
    ck_assert_int_eq(pbrd_service_reload(f.svc, f.today, &r, err, sizeof err), -1);
    ck_assert(err[0] != '\0');
    ck_assert_uint_eq(r.nloaded, 0);
    ck_assert_int_eq(f.pub.reloads, 2); /* nothing announced */
    ck_assert_uint_eq(pbrd_service_ncontracts(f.svc), 1);
    example_teardown(&f);
}
END_TEST

/* ---- the statement record alone ---------------------------------------------- */

/* The first statement of the spec's example (2020-04-01), exactly as
 * example.expected.jsonl holds it: malloc'd, without its newline. */
static char *first_expected_statement(void)
{
    char path[2048], err[PBR_ERR_MAX];
    char *all = pbr_read_file(spec_example(path, sizeof path, "example.expected.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(all != NULL, "%s", err);
    char *nl = strchr(all, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    return all;
}

START_TEST(record_round_trip)
{
    /* strings with quotes, backslashes and a newline survive the stored form */
    const char *sha = "0606e6233c202ef5023d57fd754c4b49baad6e1c39dd0782134f8d14af53122f";
    const char *st = "{\"contract\":\"c-1\",\"quarter\":\"2021-07-01\",\"events_through\":42,\"x\":\"a\\\"b\\\\\\n\"}";
    const char *lg = "{\"entries\":[],\"next\":\"2021-10-01\"}";
    char *bytes = pbrd_record_encode(sha, st, lg);
    ck_assert_ptr_nonnull(bytes);
    pbrd_record r;
    char err[PBR_ERR_MAX];
    ck_assert_msg(pbrd_record_decode(bytes, strlen(bytes), &r, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(r.contract_sha256, sha);
    ck_assert_str_eq(r.statement, st);
    ck_assert_str_eq(r.ledger, lg);
    /* the key is read from the statement */
    pbrd_record_key k;
    ck_assert_msg(pbrd_record_key_of(&r, &k, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(k.contract, "c-1");
    ck_assert_str_eq(k.quarter, "2021-07-01");
    ck_assert_uint_eq(k.events_through, 42);
    pbr_date q;
    ck_assert_int_eq(pbr_date_parse("2021-07-01", 10, &q), 0);
    ck_assert_int_eq(k.q, q);
    /* re-encoding the decoded record gives the same bytes */
    char *again = pbrd_record_encode(r.contract_sha256, r.statement, r.ledger);
    ck_assert_str_eq(again, bytes);
    free(again);
    pbrd_record_clear(&r);
    ck_assert_ptr_null(r.statement);
    pbrd_record_clear(&r); /* safe on an empty record */
    free(bytes);
}
END_TEST

START_TEST(record_corrupted_is_refused)
{
    pbrd_record r;
    char err[PBR_ERR_MAX];
    /* cut short: not JSON, with the place */
    const char *cut = "{\"contract_sha256\":\"ab\",\"statement\":\"{}\",\"ledger\":";
    ck_assert_int_eq(pbrd_record_decode(cut, strlen(cut), &r, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "statement record: not JSON (line 1, column ", 43) == 0, "%s", err);
    ck_assert_ptr_null(r.contract_sha256);
    ck_assert_ptr_null(r.statement);
    /* a member missing, or of the wrong type: named */
    const char *noledger = "{\"contract_sha256\":\"ab\",\"statement\":\"{}\"}";
    ck_assert_int_eq(pbrd_record_decode(noledger, strlen(noledger), &r, err, sizeof err), -1);
    ck_assert_str_eq(err, "statement record: \"ledger\" is missing or not a string");
    ck_assert_ptr_null(r.contract_sha256);
    const char *numsha = "{\"contract_sha256\":7,\"statement\":\"{}\",\"ledger\":\"{}\"}";
    ck_assert_int_eq(pbrd_record_decode(numsha, strlen(numsha), &r, err, sizeof err), -1);
    ck_assert_str_eq(err, "statement record: \"contract_sha256\" is missing or not a string");
    ck_assert_int_eq(pbrd_record_decode("[1]", 3, &r, err, sizeof err), -1);
    ck_assert_str_eq(err, "statement record: not a JSON object");
    /* decodes, but its statement names no quarter */
    const char *noquarter =
        "{\"contract_sha256\":\"ab\",\"statement\":\"{\\\"contract\\\":\\\"c\\\"}\",\"ledger\":\"{}\"}";
    ck_assert_msg(pbrd_record_decode(noquarter, strlen(noquarter), &r, err, sizeof err) == 0, "%s", err);
    pbrd_record_key k;
    ck_assert_int_eq(pbrd_record_key_of(&r, &k, err, sizeof err), -1);
    ck_assert_str_eq(err, "statement record: the statement's \"quarter\" is missing or not a date");
    pbrd_record_clear(&r);
}
END_TEST

typedef struct record_put {
    const char *contract, *quarter, *bytes;
} record_put;

static int put_record(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    const record_put *p = ctx;
    return pbr_store_put_statement(txn, p->contract, p->quarter, p->bytes, strlen(p->bytes), err, errlen);
}

static const char *title_example(void *ctx, const char *sha)
{
    (void)ctx, (void)sha;
    return "Example contract";
}

START_TEST(record_repair_rewrites_a_deleted_file)
{
    char tmp[] = "/tmp/pbr-test-rec-XXXXXX", dir[256], path[2048], err[PBR_ERR_MAX];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/statements", tmp);
    pbr_store *store = NULL;
    snprintf(path, sizeof path, "%s/data", tmp);
    ck_assert_msg(pbr_store_open(path, &store, err, sizeof err) == 0, "%s", err);
    char *st = first_expected_statement();
    char *bytes = pbrd_record_encode("0606e6233c202ef5023d57fd754c4b49baad6e1c39dd0782134f8d14af53122f", st, "{}");
    ck_assert_ptr_nonnull(bytes);
    record_put p = {"example", "2020-04-01", bytes};
    ck_assert_msg(pbr_store_write(store, put_record, &p, err, sizeof err) == 0, "%s", err);

    /* nothing on disk yet: both files are reported, then repair writes them */
    ck_assert_int_eq(pbrd_record_check_files(dir, "example", "2020-04-01", "Example contract", st),
                     PBRD_RECORD_JSON_DIFFERS | PBRD_RECORD_CSV_DIFFERS);
    size_t rewritten = 99;
    ck_assert_msg(pbrd_record_repair(store, dir, title_example, NULL, &rewritten, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(rewritten, 1);
    ck_assert_int_eq(pbrd_record_check_files(dir, "example", "2020-04-01", "Example contract", st), 0);

    /* the .json deleted: repair rewrites it, the statement and a newline */
    ck_assert_int_eq(pbrd_record_path(dir, "example", "2020-04-01", "json", path, sizeof path), 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(pbrd_record_check_files(dir, "example", "2020-04-01", "Example contract", st),
                     PBRD_RECORD_JSON_DIFFERS);
    ck_assert_msg(pbrd_record_repair(store, dir, title_example, NULL, &rewritten, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(rewritten, 1);
    size_t len;
    char *file = pbr_read_file(path, &len, err, sizeof err);
    ck_assert_msg(file != NULL, "%s", err);
    ck_assert_uint_eq(len, strlen(st) + 1);
    ck_assert_int_eq(memcmp(file, st, strlen(st)), 0);
    ck_assert_int_eq(file[len - 1], '\n');
    free(file);

    /* the .csv carries the title it was given: another title differs */
    ck_assert_int_eq(pbrd_record_check_files(dir, "example", "2020-04-01", "Another title", st),
                     PBRD_RECORD_CSV_DIFFERS);
    /* all in place: a repair rewrites nothing */
    ck_assert_msg(pbrd_record_repair(store, dir, title_example, NULL, &rewritten, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(rewritten, 0);

    /* a temporary file left by an interrupted write goes; the files stay */
    snprintf(path, sizeof path, "%s/example/2020-07-01.json.tmpAbC123", dir);
    ck_assert_int_eq(pbr_write_file_atomic(path, "x", 1, err, sizeof err), 0);
    ck_assert_uint_eq(pbrd_record_remove_temp_files(dir), 1);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(pbrd_record_check_files(dir, "example", "2020-04-01", "Example contract", st), 0);

    /* a path that does not fit is refused, not truncated silently */
    char small[16];
    ck_assert_int_eq(pbrd_record_path(dir, "example", "2020-04-01", "json", small, sizeof small), -1);

    free(bytes);
    free(st);
    pbr_store_close(&store);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* ---- the replies alone (api_reply.h): exact bytes, in SPEC section 7's key order ---- */

/* Checks that reply dumps compactly to exactly want, and frees it. */
static void assert_reply(json_t *reply, const char *want)
{
    ck_assert_ptr_nonnull(reply);
    char *got = json_dumps(reply, JSON_COMPACT);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
    json_decref(reply);
}

START_TEST(replies_of_settle_and_reload)
{
    pbrd_issued issued[2] = {{"a", "2020-04-01", 100000}, {"b", "2020-07-01", -250}};
    pbrd_settle_result r = {issued, 2, NULL};
    assert_reply(pbrd_reply_settle(&r, NULL),
                 "{\"issued\":[{\"contract\":\"a\",\"quarter\":\"2020-04-01\",\"total_pence\":100000},"
                 "{\"contract\":\"b\",\"quarter\":\"2020-07-01\",\"total_pence\":-250}]}");
    r.nissued = 1;
    assert_reply(pbrd_reply_settle(&r, "pbrd is stopping"),
                 "{\"issued\":[{\"contract\":\"a\",\"quarter\":\"2020-04-01\",\"total_pence\":100000}],"
                 "\"interrupted\":\"pbrd is stopping\"}");
    char error[] = "issuing a 2020-07-01: out of memory";
    r.error = error; /* an error wins over an interruption */
    assert_reply(pbrd_reply_settle(&r, "pbrd is stopping"),
                 "{\"error\":\"issuing a 2020-07-01: out of memory\","
                 "\"issued\":[{\"contract\":\"a\",\"quarter\":\"2020-04-01\",\"total_pence\":100000}]}");
    pbrd_settle_result none = {NULL, 0, NULL};
    assert_reply(pbrd_reply_settle(&none, NULL), "{\"issued\":[]}");

    char *loaded[] = {"a", "b"};
    pbr_diag errors[1] = {{"c.yaml", 3, 7, "unknown key \"x\""}};
    pbrd_reload_result rr = {loaded, 2, errors, 1};
    assert_reply(pbrd_reply_reload(&rr),
                 "{\"loaded\":[\"a\",\"b\"],\"errors\":[{\"file\":\"c.yaml\",\"line\":3,"
                 "\"column\":7,\"message\":\"unknown key \\\"x\\\"\"}]}");
    pbrd_reload_result empty = {NULL, 0, NULL, 0};
    assert_reply(pbrd_reply_reload(&empty), "{\"loaded\":[],\"errors\":[]}");

    assert_reply(pbrd_reply_statement_message(&issued[0], "ab12"),
                 "{\"contract\":\"a\",\"quarter\":\"2020-04-01\",\"total_pence\":100000,\"sha256\":\"ab12\"}");
}
END_TEST

START_TEST(replies_of_listings_and_verify)
{
    pbrd_contract_row rows[2] = {
        {"a", "p", "A title", "ff00", "", "2020-01-02", 3, "due, awaiting settle"},
        {"b", "q", "B", "00ff", "2021-01-01", "2020-01-02", 0, "up to date"},
    };
    assert_reply(pbrd_reply_contracts(rows, 2),
                 "{\"contracts\":[{\"contract\":\"a\",\"provider\":\"p\",\"title\":\"A title\",\"sha256\":\"ff00\","
                 "\"last_statement\":null,\"first_loaded\":\"2020-01-02\",\"due\":3,\"state\":\"due, awaiting "
                 "settle\"},{\"contract\":\"b\",\"provider\":\"q\",\"title\":\"B\",\"sha256\":\"00ff\","
                 "\"last_statement\":\"2021-01-01\",\"first_loaded\":\"2020-01-02\",\"due\":0,\"state\":\"up to "
                 "date\"}]}");
    assert_reply(pbrd_reply_contracts(NULL, 0), "{\"contracts\":[]}");

    pbrd_difference diffs[2] = {{"a", "2020-04-01", "file", "the .csv file is missing"}, {"?", "?", "store", "x"}};
    pbrd_verify_result v = {5, diffs, 2, 2};
    assert_reply(pbrd_reply_verify(&v),
                 "{\"checked\":5,\"differences\":[{\"contract\":\"a\",\"quarter\":\"2020-04-01\",\"where\":\"file\","
                 "\"detail\":\"the .csv file is missing\"},{\"contract\":\"?\",\"quarter\":\"?\",\"where\":\"store\","
                 "\"detail\":\"x\"}]}");

    /* a listing without statements: the cap as pence, or null */
    pbrd_statement_list l = {"a", "A title", "p", 1, 123456, NULL, 0};
    assert_reply(pbrd_reply_statements(&l),
                 "{\"contract\":\"a\",\"title\":\"A title\",\"provider\":\"p\","
                 "\"contract_cap_pence\":123456,\"statements\":[]}");
    l.has_contract_cap = 0;
    assert_reply(pbrd_reply_statements(&l),
                 "{\"contract\":\"a\",\"title\":\"A title\",\"provider\":\"p\","
                 "\"contract_cap_pence\":null,\"statements\":[]}");
    /* a stored text that is not a statement is refused, not listed */
    char *bad[] = {"{\"not\":\"a statement\"}"};
    l.statements = bad;
    l.n = 1;
    assert_reply(pbrd_reply_statements(&l), "{\"error\":\"statements: unreadable statement record in the store\"}");

    pbr_date d;
    ck_assert_int_eq(pbr_date_parse("2030-01-01", 10, &d), 0);
    assert_reply(pbrd_reply_cohorts("a", d, NULL, 0),
                 "{\"contract\":\"a\",\"as_of\":\"2030-01-01\",\"provisional\":[]}");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("service_unit");
    TCase *tc = tcase_create("service_unit");
    tcase_add_test(tc, issues_the_spec_example_in_process);
    tcase_add_test(tc, settle_refuses_an_unknown_contract);
    tcase_add_test(tc, contracts_and_statements_listings);
    tcase_add_test(tc, cohorts_and_explain_give_structs);
    tcase_add_test(tc, verify_reports_a_missing_file_that_reopening_repairs);
    tcase_add_test(tc, reload_reports_a_broken_file_and_keeps_the_rest);
    suite_add_tcase(s, tc);
    TCase *rec = tcase_create("record");
    tcase_add_test(rec, record_round_trip);
    tcase_add_test(rec, record_corrupted_is_refused);
    tcase_add_test(rec, record_repair_rewrites_a_deleted_file);
    suite_add_tcase(s, rec);
    TCase *rep = tcase_create("reply");
    tcase_add_test(rep, replies_of_settle_and_reload);
    tcase_add_test(rep, replies_of_listings_and_verify);
    suite_add_tcase(s, rep);
    return s;
}

PBR_CHECK_MAIN(make_suite)

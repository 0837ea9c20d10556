/* test_service_unit.c -- the settlement service in-process (libpbrd.a): no
 * sockets, no daemon; a real LMDB store in a temp dir, a real contracts
 * dir, and the spec's worked example. Expected statements are the spec's
 * own (tests/spec-example/example.expected.jsonl, derived by hand in
 * example.md), byte for byte, from the store and from the files.
 *
 * The statement record (record.h) is tested alone too: its stored form,
 * the refusal of corrupted records, the files and their repair.
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
        pbr_event_free(&ev);
    }
    free(copy);
    return rc;
}

typedef struct published {
    int statements, reloads;
} published;

static void count_published(void *ctx, const char *topic, const char *json)
{
    published *p = ctx;
    (void)json;
    if (strcmp(topic, "statement") == 0)
        p->statements++;
    else if (strcmp(topic, "reload") == 0)
        p->reloads++;
}

START_TEST(issues_the_spec_example_in_process)
{
    char tmp[] = "/tmp/pbr-test-svc-XXXXXX", path[2048], contracts[256], statements[256], err[PBR_ERR_MAX];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(contracts, sizeof contracts, "%s/contracts", tmp);
    snprintf(statements, sizeof statements, "%s/statements", tmp);
    ck_assert_int_eq(mkdir(contracts, 0700), 0);

    /* the contract, under the service's contracts dir */
    size_t len;
    char *yaml = pbr_read_file(spec_example(path, sizeof path, "example.yaml"), &len, err, sizeof err);
    ck_assert_msg(yaml != NULL, "%s", err);
    snprintf(path, sizeof path, "%s/example.yaml", contracts);
    ck_assert_int_eq(pbr_write_file_atomic(path, yaml, len, err, sizeof err), 0);
    free(yaml);

    /* the 12 events of the example, committed through the one write path */
    pbr_store *store = NULL;
    snprintf(path, sizeof path, "%s/data", tmp);
    ck_assert_msg(pbr_store_open(path, &store, err, sizeof err) == 0, "%s", err);
    events_in in = {pbr_read_file(spec_example(path, sizeof path, "example.jsonl"), NULL, err, sizeof err), 0};
    ck_assert_msg(in.text != NULL, "%s", err);
    ck_assert_msg(pbr_store_write(store, put_lines, &in, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(in.stored, 12);
    free(in.text);

    published pub = {0, 0};
    pbrd_service *svc = NULL;
    pbrd_service_opts so = {contracts, statements, count_published, &pub, 0, 0};
    ck_assert_int_eq(pbr_date_parse("2030-01-01", 10, &so.today), 0);
    ck_assert_msg(pbrd_service_open(&svc, store, &so, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(pbrd_service_ncontracts(svc), 1);

    /* settle everything the example covers: its 12 quarters, from 2020-04-01
     * to 2023-01-01 (the last line final 2022-01-01, plus run_off) */
    pbr_date through, today;
    ck_assert_int_eq(pbr_date_parse("2023-01-01", 10, &through), 0);
    ck_assert_int_eq(pbr_date_parse("2030-01-01", 10, &today), 0);
    json_t *r = pbrd_service_settle(svc, through, NULL, today);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(json_object_get(r, "error") == NULL, "%s", json_string_value(json_object_get(r, "error")));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "issued")), 12);
    json_decref(r);
    ck_assert_int_eq(pub.statements, 12);

    /* every statement: the spec's bytes from the store, and the same bytes
     * and a newline in statements/example/<quarter>.json */
    char *expected = pbr_read_file(spec_example(path, sizeof path, "example.expected.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(expected != NULL, "%s", err);
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        json_t *st = json_loads(line, 0, NULL);
        const char *quarter = json_string_value(json_object_get(st, "quarter"));
        ck_assert_ptr_nonnull(quarter);
        char *got = pbrd_service_statement(svc, "example", quarter, err, sizeof err);
        ck_assert_msg(got != NULL, "%s: %s", quarter, err);
        ck_assert_str_eq(got, line);
        free(got);
        snprintf(path, sizeof path, "%s/example/%s.json", statements, quarter);
        char *file = pbr_read_file(path, &len, err, sizeof err);
        ck_assert_msg(file != NULL, "%s", err);
        ck_assert_uint_eq(len, strlen(line) + 1);
        ck_assert_int_eq(memcmp(file, line, strlen(line)), 0);
        ck_assert_int_eq(file[len - 1], '\n');
        free(file);
        json_decref(st);
    }
    ck_assert_int_eq(n, 12);
    free(expected);

    /* verify recomputes all 12 from the log and finds nothing different */
    r = pbrd_service_verify(svc);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "checked")), 12);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "differences")), 0);
    json_decref(r);

    pbrd_service_close(svc);
    pbr_store_close(store);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
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
    pbr_store_close(store);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("service_unit");
    TCase *tc = tcase_create("service_unit");
    tcase_add_test(tc, issues_the_spec_example_in_process);
    suite_add_tcase(s, tc);
    TCase *rec = tcase_create("record");
    tcase_add_test(rec, record_round_trip);
    tcase_add_test(rec, record_corrupted_is_refused);
    tcase_add_test(rec, record_repair_rewrites_a_deleted_file);
    suite_add_tcase(s, rec);
    return s;
}

PBR_CHECK_MAIN(make_suite)

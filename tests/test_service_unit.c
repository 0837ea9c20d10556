/* test_service_unit.c -- the settlement service in-process (libpbrd.a): no
 * sockets, no daemon; a real LMDB store in a temp dir, a real contracts
 * dir, and the spec's worked example. Expected statements are the spec's
 * own (tests/spec-example/example.expected.jsonl, derived by hand in
 * example.md), byte for byte, from the store and from the files.
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

static Suite *make_suite(void)
{
    Suite *s = suite_create("service_unit");
    TCase *tc = tcase_create("service_unit");
    tcase_add_test(tc, issues_the_spec_example_in_process);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

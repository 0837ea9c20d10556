/* test_example.c -- the spec's two worked examples, end to end.
 *
 * ../shared/spec/example/example*.md derive every figure by hand (a copy
 * of that folder is kept in tests/spec-example/ so a clean checkout can run
 * these tests; the first test checks the copy against the spec when the spec
 * is beside the repository); the
 * expected statements (example*.expected.jsonl) come with the spec, not from
 * this program. Settling each contract over its events quarter by quarter
 * must reproduce those files byte for byte, with the events read in file
 * order and in shuffled orders (evaluation never depends on arrival order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pbr/files.h"
#include "settle_helpers.h"

/* Writes the lines of src into a temp file in the order given by perm. */
static void write_permuted(const char *src, const int *perm, size_t nperm, char *out_path)
{
    size_t len;
    char err[PBR_ERR_MAX];
    char *text = pbr_read_file(src, &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    char *lines[64];
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    ck_assert_uint_eq(n, nperm);
    strcpy(out_path, "/tmp/pbr-example-XXXXXX");
    int fd = mkstemp(out_path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[perm[i]]);
    fclose(f);
    free(text);
}

/* Settles the spec example contract yaml over its events and expects
 * exactly the bytes of expected_file: over the events as they are when
 * nperms is 0, else over the events reordered by each of perms[0..nperms)
 * (permutations of the file's nlines lines). */
static void check_permuted(const char *yaml, const char *events, const char *expected_file, const int *const *perms,
                           int nperms, size_t nlines)
{
    char cp[1024], ep[1024], xp[1024], tmp[64];
    spec_example(cp, sizeof cp, yaml);
    spec_example(ep, sizeof ep, events);
    spec_example(xp, sizeof xp, expected_file);
    char err[PBR_ERR_MAX];
    char *expected = pbr_read_file(xp, NULL, err, sizeof err);
    ck_assert_msg(expected != NULL, "%s", err);
    for (int p = 0; p < (nperms > 0 ? nperms : 1); p++) {
        if (nperms > 0)
            write_permuted(ep, perms[p], nlines, tmp);
        char *got = simulate_jsonl(cp, nperms > 0 ? tmp : ep);
        if (nperms > 0)
            unlink(tmp);
        ck_assert_str_eq(got, expected);
        free(got);
    }
    free(expected);
}

static void check_example(const char *yaml, const char *events, const char *expected_file)
{
    check_permuted(yaml, events, expected_file, NULL, 0, 0);
}

START_TEST(example1_quarterly_binary_gate_late_conviction)
{
    check_example("example.yaml", "example.jsonl", "example.expected.jsonl");
}
END_TEST

START_TEST(example2_clean_period_and_custody_nights)
{
    check_example("example2.yaml", "example2.jsonl", "example2.expected.jsonl");
}
END_TEST

/* Shuffled input: the reverse order (the void e12 now precedes its target
 * e11) and an interleaving must give the same bytes. */
START_TEST(example1_shuffled_is_byte_identical)
{
    static const int reversed[12] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    static const int mixed[12] = {6, 11, 0, 9, 3, 10, 1, 8, 5, 2, 7, 4};
    const int *perms[2] = {reversed, mixed};
    check_permuted("example.yaml", "example.jsonl", "example.expected.jsonl", perms, 2, 12);
}
END_TEST

START_TEST(example2_shuffled_is_byte_identical)
{
    static const int reversed[9] = {8, 7, 6, 5, 4, 3, 2, 1, 0};
    const int *perms[1] = {reversed};
    check_permuted("example2.yaml", "example2.jsonl", "example2.expected.jsonl", perms, 1, 9);
}
END_TEST

/* Settling out of order is refused, and the ledger is left untouched. */
START_TEST(quarters_must_be_settled_in_order)
{
    char cp[1024], ep[1024], err[PBR_ERR_MAX];
    pbr_contract *c = load_contract_or_fail(spec_example(cp, sizeof cp, "example.yaml"));
    uint64_t n;
    pbr_eventset *set = load_events_or_fail(spec_example(ep, sizeof ep, "example.jsonl"), &n);
    pbr_ledger *l = pbr_ledger_new();
    pbr_statement *s;
    pbr_date q2 = pbr_add_months(pbr_contract_first_quarter(c), 3);
    pbr_eval_view view = {.contract = c, .events = set, .events_through = n};
    ck_assert_int_eq(pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q2}, l, &s, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "out of order (next to issue is 2020-04-01)"));
    ck_assert_int_eq(pbr_ledger_next_quarter(l), PBR_DATE_NONE);
    pbr_ledger_destroy(&l);
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
}
END_TEST

/* The ledger survives a JSON round trip mid-contract: settling the rest from
 * the restored ledger gives the same statements (this is how the daemon
 * resumes after a restart). */
START_TEST(ledger_round_trip_resumes_identically)
{
    char cp[1024], ep[1024], xp[1024], err[PBR_ERR_MAX];
    pbr_contract *c = load_contract_or_fail(spec_example(cp, sizeof cp, "example.yaml"));
    uint64_t n;
    pbr_eventset *set = load_events_or_fail(spec_example(ep, sizeof ep, "example.jsonl"), &n);
    char *expected = pbr_read_file(spec_example(xp, sizeof xp, "example.expected.jsonl"), NULL, err, sizeof err);
    pbr_ledger *l = pbr_ledger_new();
    char *line = expected;
    pbr_eval_view view = {.contract = c, .events = set, .events_through = n};
    for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c); q = pbr_add_months(q, 3)) {
        char *j = pbr_ledger_to_json(l);
        pbr_ledger *l2 = pbr_ledger_from_json(j, strlen(j), err, sizeof err);
        ck_assert_msg(l2 != NULL, "%s", err);
        free(j);
        pbr_ledger_destroy(&l);
        l = l2;
        pbr_statement *s;
        ck_assert_int_eq(pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, l, &s, err, sizeof err), 0);
        char *got = pbr_statement_to_json(s, NULL);
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(strncmp(got, line, (size_t)(nl - line)), 0);
        line = nl + 1;
        free(got);
        pbr_statement_destroy(&s);
    }
    free(expected);
    pbr_ledger_destroy(&l);
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
}
END_TEST

/* The settle request's seams: a statement is as of A(Q) whatever the view's
 * as_of says, lines evaluated ahead as of another date are ignored, and
 * lines evaluated ahead as of A(Q) give the same statement. Each case must
 * reproduce the spec's hand-worked example.expected.jsonl line by line. */
START_TEST(settle_request_ahead_and_as_of_do_not_change_statements)
{
    char cp[1024], ep[1024], xp[1024], err[PBR_ERR_MAX];
    pbr_contract *c = load_contract_or_fail(spec_example(cp, sizeof cp, "example.yaml"));
    uint64_t n;
    pbr_eventset *set = load_events_or_fail(spec_example(ep, sizeof ep, "example.jsonl"), &n);
    char *expected = pbr_read_file(spec_example(xp, sizeof xp, "example.expected.jsonl"), NULL, err, sizeof err);
    ck_assert_msg(expected != NULL, "%s", err);
    for (int k = 0; k < 3; k++) {
        /* k = 0: as_of nonsense, no ahead; 1: ahead as of the contract's
         * start (too early: must be ignored); 2: ahead as of A(Q) */
        pbr_eval_view view = {.contract = c, .events = set, .events_through = n, .as_of = c->start};
        pbr_ledger *l = pbr_ledger_new();
        char *line = expected;
        for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c); q = pbr_add_months(q, 3)) {
            pbr_eval_view at = view;
            at.as_of = k == 2 ? pbr_issue_date(c, q) : c->start;
            pbr_lines *ahead = k == 0 ? NULL : pbr_lines_evaluate(&at, err, sizeof err);
            ck_assert_msg(k == 0 || ahead != NULL, "%s", err);
            pbr_settle_request req = {.quarter = q, .ahead = ahead};
            pbr_statement *s;
            ck_assert_msg(pbr_settle_quarter(&view, &req, l, &s, err, sizeof err) == 0, "%s", err);
            char *got = pbr_statement_to_json(s, NULL);
            char *nl = strchr(line, '\n');
            ck_assert_ptr_nonnull(nl);
            ck_assert_msg(strncmp(got, line, (size_t)(nl - line)) == 0 && got[nl - line] == '\0',
                          "case %d: got %s\nwant %.*s", k, got, (int)(nl - line), line);
            line = nl + 1;
            free(got);
            pbr_statement_destroy(&s);
            pbr_lines_destroy(&ahead);
        }
        pbr_ledger_destroy(&l);
    }
    free(expected);
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
}
END_TEST

/* The copy in tests/spec-example/ is the spec's folder, byte for byte, when
 * ../shared/spec/example/ is there (skipped on a checkout without it). */
START_TEST(spec_example_copy_is_current)
{
    static const char *const files[] = {"example.yaml",  "example.jsonl",  "example.expected.jsonl",
                                        "example2.yaml", "example2.jsonl", "example2.expected.jsonl"};
    char spec[1024];
    snprintf(spec, sizeof spec, "%s/../shared/spec/example", pbr_test_root());
    if (access(spec, R_OK) != 0) {
        printf("test_example: %s not found; the copy in tests/spec-example is not compared\n", spec);
        return;
    }
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char a[1200], b[1200], err[PBR_ERR_MAX];
        size_t la, lb;
        snprintf(a, sizeof a, "%s/%s", spec, files[i]);
        snprintf(b, sizeof b, "%s/tests/spec-example/%s", pbr_test_root(), files[i]);
        char *x = pbr_read_file(a, &la, err, sizeof err);
        ck_assert_msg(x != NULL, "%s", err);
        char *y = pbr_read_file(b, &lb, err, sizeof err);
        ck_assert_msg(y != NULL, "%s", err);
        ck_assert_msg(la == lb && memcmp(x, y, la) == 0, "tests/spec-example/%s differs from %s: copy it again",
                      files[i], a);
        free(x);
        free(y);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("example");
    TCase *tc = tcase_create("worked examples");
    tcase_add_test(tc, spec_example_copy_is_current);
    tcase_add_test(tc, example1_quarterly_binary_gate_late_conviction);
    tcase_add_test(tc, example2_clean_period_and_custody_nights);
    tcase_add_test(tc, example1_shuffled_is_byte_identical);
    tcase_add_test(tc, example2_shuffled_is_byte_identical);
    tcase_add_test(tc, quarters_must_be_settled_in_order);
    tcase_add_test(tc, ledger_round_trip_resumes_identically);
    tcase_add_test(tc, settle_request_ahead_and_as_of_do_not_change_statements);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

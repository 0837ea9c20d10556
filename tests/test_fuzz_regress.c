/* test_fuzz_regress.c -- replays the fuzzing corpora and every input a
 * fuzzer ever crashed on through the fuzzed entry points (fuzz/fuzz_entry.h),
 * in the normal build, without libFuzzer.
 *
 *   tests/fuzz/regress/<target>/FILE must not crash, leak under ASan, or break
 *                                  an invariant (a crash is a Check error:
 *                                  Check forks for each test)
 *   tests/fuzz/corpus/<target>/valid-*    must be accepted
 *   tests/fuzz/corpus/<target>/invalid-*  must be rejected cleanly
 *   tests/fuzz/corpus/<target>/other      must not crash (odd-*: behaviour
 *                                         the spec leaves open)
 * <target> is event, contract, statement or api. Each directory is one
 * Check test, each file one assertion that names the file.
 */
#include <dirent.h>
#include <string.h>

#include "check_main.h"
#include "fuzz/fuzz_entry.h"
#include "pbr/files.h"

/* The api entry point's daemon code (not in libpbr). */
#include "pbrd/api_request.c"
#include "pbrd/auth.c"
#include "pbrd/log.c"

typedef enum { EXPECT_NOTHING = 0, EXPECT_ACCEPT, EXPECT_REJECT } expectation;

static expectation expectation_of(const char *file)
{
    if (strncmp(file, "valid-", 6) == 0)
        return EXPECT_ACCEPT;
    if (strncmp(file, "invalid-", 8) == 0)
        return EXPECT_REJECT;
    return EXPECT_NOTHING;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of root/<kind>/<target>/ (kind "corpus" or
 * "regress"). Returns the number of files replayed; fails the test on the
 * first broken expectation. */
static size_t replay_directory(const char *kind, const char *target)
{
    char dir[1024], rel[256];
    snprintf(rel, sizeof rel, "tests/fuzz/%s/%s", kind, target);
    pbr_test_path(dir, sizeof dir, rel);
    pbr_fuzz_fn fn = pbr_fuzz_entry(target);
    ck_assert_msg(fn != NULL, "no entry point for %s", target);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* an empty regress directory may not exist in a checkout */
    char *names[4096];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < sizeof names / sizeof names[0]) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
            continue;
        names[n] = strdup(de->d_name);
        ck_assert_ptr_nonnull(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        char path[2048], err[PBR_ERR_MAX], why[1024] = "";
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *bytes = pbr_read_file(path, &len, err, sizeof err);
        ck_assert_msg(bytes != NULL, "%s", err);
        int rc = fn((const uint8_t *)bytes, len, why, sizeof why);
        free(bytes);
        ck_assert_msg(rc >= 0, "%s/%s: invariant broken: %s", rel, names[i], why);
        expectation e = strcmp(kind, "corpus") == 0 ? expectation_of(names[i]) : EXPECT_NOTHING;
        ck_assert_msg(e != EXPECT_ACCEPT || rc == 1, "%s/%s: a valid seed was rejected", rel, names[i]);
        ck_assert_msg(e != EXPECT_REJECT || rc == 0, "%s/%s: an invalid seed was accepted", rel, names[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return n;
}

START_TEST(corpus_event)
{
    /* 23 example lines, 8 valid and 15 invalid lines of tests/data/events, hand-made ones */
    ck_assert_uint_ge(replay_directory("corpus", "event"), 40);
}
END_TEST

START_TEST(corpus_contract)
{
    ck_assert_uint_ge(replay_directory("corpus", "contract"), 10);
}
END_TEST

START_TEST(corpus_statement)
{
    ck_assert_uint_ge(replay_directory("corpus", "statement"), 20);
}
END_TEST

START_TEST(corpus_api)
{
    /* the 10 requests pbrctl sends, others of SPEC.md section 7, every error reply */
    ck_assert_uint_ge(replay_directory("corpus", "api"), 30);
}
END_TEST

START_TEST(regress_event)
{
    replay_directory("regress", "event");
}
END_TEST

START_TEST(regress_contract)
{
    replay_directory("regress", "contract");
}
END_TEST

START_TEST(regress_statement)
{
    replay_directory("regress", "statement");
}
END_TEST

START_TEST(regress_api)
{
    replay_directory("regress", "api");
}
END_TEST

/* The fixed event set contracts are settled over must load: otherwise every
 * contract replay would report an invariant failure for the wrong reason. */
START_TEST(fixed_event_set_loads)
{
    char why[1024] = "";
    pbr_eventset *set = pbr_fuzz_event_set(why, sizeof why);
    ck_assert_msg(set != NULL, "%s", why);
    /* 18 lines, one of them a void: 17 events, 7 offenders (A..G) */
    ck_assert_uint_eq(pbr_eventset_count(set), 17);
    ck_assert_uint_eq(pbr_eventset_offenders(set), 7);
    pbr_eventset_destroy(&set);
}
END_TEST

/* The entry points classify hand-made inputs as the spec says. */
START_TEST(entry_points_classify)
{
    char why[1024] = "";
    const char *ev = "{\"id\":\"d1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2021-09-01\"}";
    ck_assert_int_eq(pbr_fuzz_event((const uint8_t *)ev, strlen(ev), why, sizeof why), 1);
    const char *bad = "{\"id\":\"d1\",\"type\":\"discharge\",\"offender\":\"A\",\"date\":\"2021-09-31\"}";
    ck_assert_int_eq(pbr_fuzz_event((const uint8_t *)bad, strlen(bad), why, sizeof why), 0);
    const char *st = "{\"lines\": []}";
    ck_assert_int_eq(pbr_fuzz_statement((const uint8_t *)st, strlen(st), why, sizeof why), 1);
    ck_assert_int_eq(pbr_fuzz_statement((const uint8_t *)"[]", 2, why, sizeof why), 0);
    const char *yaml = "contract: [";
    ck_assert_int_eq(pbr_fuzz_contract((const uint8_t *)yaml, strlen(yaml), why, sizeof why), 0);
    const char *req = "{\"op\":\"statement\",\"contract\":\"doncaster\",\"quarter\":\"2012-01-01\"}";
    ck_assert_int_eq(pbr_fuzz_api((const uint8_t *)req, strlen(req), why, sizeof why), 1);
    const char *noq = "{\"op\":\"statement\",\"contract\":\"doncaster\"}";
    ck_assert_int_eq(pbr_fuzz_api((const uint8_t *)noq, strlen(noq), why, sizeof why), 0);
    ck_assert_int_eq(pbr_fuzz_api((const uint8_t *)"[]", 2, why, sizeof why), 0);
    ck_assert_ptr_null(pbr_fuzz_entry("requests"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fixed_event_set_loads);
    tcase_add_test(tc, entry_points_classify);
    tcase_add_test(tc, corpus_event);
    tcase_add_test(tc, corpus_contract);
    tcase_add_test(tc, corpus_statement);
    tcase_add_test(tc, corpus_api);
    tcase_add_test(tc, regress_event);
    tcase_add_test(tc, regress_contract);
    tcase_add_test(tc, regress_statement);
    tcase_add_test(tc, regress_api);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

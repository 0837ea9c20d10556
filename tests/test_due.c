/* test_due.c -- the quarter-due policy (pbr/due.h) on the spec's worked
 * example (tests/spec-example/example.yaml, example.md): year_start 4, so
 * quarters start 1 Apr, 1 Jul, 1 Oct, 1 Jan; A(Q) = Q.next + 30 days; start
 * 2020-04-01; the last line final 2022-04-01 (quarter 2022-01-01) plus 4
 * quarters of run_off: statements from 2020-04-01 to 2023-01-01, 12 in all.
 */
#include <string.h>

#include "check_main.h"
#include "pbr/due.h"
#include "settle_helpers.h"

static pbr_date D(const char *s)
{
    pbr_date d;
    ck_assert_msg(pbr_date_parse(s, strlen(s), &d) == 0, "bad date %s", s);
    return d;
}

START_TEST(states_of_the_example_quarters)
{
    char path[1024];
    pbr_contract *c = load_contract_or_fail(spec_example(path, sizeof path, "example.yaml"));
    /* Q 2020-04-01: Q.next 2020-07-01, A(Q) = 2020-07-31; due once the day has passed */
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2020-04-01"), D("2020-07-31")), PBR_QUARTER_NOT_YET_DUE);
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2020-04-01"), D("2020-08-01")), PBR_QUARTER_DUE);
    /* not a quarter start of an April year */
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2020-05-01"), D("2030-01-01")), PBR_QUARTER_NOT_A_QUARTER);
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2020-04-02"), D("2030-01-01")), PBR_QUARTER_NOT_A_QUARTER);
    /* the range: 2020-01-01 is before the first, 2023-01-01 the last, 2023-04-01 after */
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2020-01-01"), D("2030-01-01")), PBR_QUARTER_BEFORE_RANGE);
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2023-01-01"), D("2030-01-01")), PBR_QUARTER_DUE);
    ck_assert_int_eq(pbr_quarter_state_of(c, D("2023-04-01"), D("2030-01-01")), PBR_QUARTER_AFTER_RANGE);
    ck_assert_uint_eq(pbr_quarters_in_range(c, D("2020-04-01"), PBR_DATE_MAX), 12);
    ck_assert_uint_eq(pbr_quarters_in_range(c, D("2020-04-01"), D("2020-10-01")), 3);
    ck_assert_uint_eq(pbr_quarters_in_range(c, D("2022-10-01"), PBR_DATE_MAX), 2);
    /* first loaded 2021-01-15: A(2020-10-01) = 2021-01-31 was not yet due
     * then, A(2020-07-01) = 2020-10-31 was: auto-settle holds that one back */
    ck_assert_int_eq(pbr_quarter_held_back(c, D("2020-07-01"), D("2021-01-15")), 1);
    ck_assert_int_eq(pbr_quarter_held_back(c, D("2020-10-01"), D("2021-01-15")), 0);
    ck_assert_str_eq(pbr_quarter_state_name(PBR_QUARTER_NOT_YET_DUE), "not yet due");
    pbr_contract_destroy(&c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("due");
    TCase *tc = tcase_create("due");
    tcase_add_test(tc, states_of_the_example_quarters);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

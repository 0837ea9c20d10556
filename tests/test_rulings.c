/* test_rulings.c -- the rulings of 2026-12-02 (SPEC.md, "ruled 2026-12-02"),
 * each settled end to end over a hand-made event file and checked against
 * figures worked out BY HAND from the spec (arithmetic in the comments).
 *
 * Contracts and events: tests/data/rulings/. Conventions: A(Q) = Q.next +
 * 30 days is the as-of date of the statement for quarter Q; a line final on
 * F is in the statement of the quarter Q with Q.next = F.
 */
#include <check.h>

#include "check_main.h"
#include "scheme_harness.h"

#define DATA "tests/data/rulings/"

START_TEST(test_custody_discharge_before_reception)
{
    /* custody-same-date.yaml: Q1 2023 only, budget 100 nights, 10.00 a night.
     * A: a1 reception 2023-01-10; on 2023-02-01 a2 reception and a3
     *   discharge. Discharges first on one date: a3 closes the spell
     *   [01-10, 02-01) = 22 nights (10..31 January), then a2 opens
     *   [02-01, 02-11) closed by a4 = 10 nights. (Taken by id, a2 would come
     *   first, be ignored while a spell is open, and A would have 22 nights.)
     * B: on 2023-03-01 b1 reception and b2 discharge: b2 first closes
     *   nothing (ignored), b1 opens a spell that runs on: 1..31 March = 31.
     * Nights 22 + 10 + 31 = 63 in 3 spells; avoided 100 - 63 = 37;
     * percent 37 / 100 x 100 = 37; 37 x 10.00 = 370.00. Final on 2023-04-01. */
    run r;
    run_load(&r, DATA "custody-same-date.yaml", DATA "custody-same-date.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .kind = OUT,
                        .component = "nights",
                        .period = "2023-01-01",
                        .final_on = "2023-04-01",
                        .members = "3",
                        .actual = "63.000000",
                        .baseline = "100.000000",
                        .points = "null",
                        .percent = "37.000000",
                        .avoided = "37.000000",
                        .units = "37.000000",
                        .amount_pence = 37000});
    expect_run(&r, 1, "2023-01-01", "2023-01-01", 1, 37000);
    run_free(&r);
    expect_same_statements(DATA "custody-same-date.yaml", DATA "custody-same-date.jsonl");
}
END_TEST

START_TEST(test_clean_period_month_end)
{
    /* clean-month-end.yaml: follow_up 6, waiting 6, 100.00 a success.
     * Both members' index date is 2023-08-31.
     * B: no conviction: F = add_months(2023-08-31, 12) = 2024-08-31, in
     *   quarter 2024-07-01: line final on 2024-10-01, members 1, 100.00.
     * A: conviction dated 2024-08-30 for an offence of 2024-01-15, which is in
     *   [clock, S) = [2023-08-31, 2024-02-29). It restarts the clock only if
     *   its date is before F: F = add_months(2023-08-31, 12) = 2024-08-31
     *   (ruled), so it does: 2024-08-30 < 2024-08-31. (Two additions,
     *   add_months(2024-02-29, 6) = 2024-08-29, would miss it and pay A in
     *   2024-07-01 too.) New clock 2024-01-15 (<= end 2024-03-31): S =
     *   2024-07-15, F = 2025-01-15, nothing else: A succeeds in quarter
     *   2025-01-01, final on 2025-04-01, 100.00.
     * Range: quarter containing add_months(2024-03-31, 12) = 2025-03-31, i.e.
     * 2025-01-01, run_off 0: 2023-07-01 .. 2025-01-01, 7 statements. */
    run r;
    run_load(&r, DATA "clean-month-end.yaml", DATA "clean-month-end.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "clean",
                        .period = "2024-07-01",
                        .final_on = "2024-10-01",
                        .members = "1",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2025-01-01",
                        .kind = OUT,
                        .component = "clean",
                        .period = "2025-01-01",
                        .final_on = "2025-04-01",
                        .members = "1",
                        .amount_pence = 10000});
    expect_run(&r, 7, "2023-07-01", "2025-01-01", 2, 20000);
    run_free(&r);
}
END_TEST

START_TEST(test_range_reaches_end_quarter)
{
    /* range-to-end.yaml: one explicit window C1 [2020-01-01, 2020-04-01),
     * follow_up 6, waiting 3: final on add_months(2020-04-01, 9) =
     * 2021-01-01, statement 2020-10-01 (A = 2021-01-31). end = 2021-09-30,
     * so the range runs to the quarter containing end, 2021-07-01 (ruled;
     * from the window alone it would stop at 2020-10-01): 7 statements.
     * At 2020-10-01: A and B, no visible conviction: actual 0, points 50,
     * 50 x 10.00 = 500.00.
     * A's conviction (offence 2020-06-01 < add_months(2020-01-15, 6) =
     * 2020-07-15, date 2020-09-01 < add_months(2020-01-15, 9) = 2020-10-15)
     * is recorded 2021-08-01: invisible at A(2021-04-01) = 2021-07-31,
     * visible at A(2021-07-01) = 2021-10-31. Recomputed: 1 of 2, actual 0.5,
     * points 0, 0.00: adjustment -500.00 with previous 50000 in 2021-07-01. */
    run r;
    run_load(&r, DATA "range-to-end.yaml", DATA "range-to-end.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2020-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "C1",
                        .final_on = "2021-01-01",
                        .members = "2",
                        .reoffenders = "0",
                        .points = "50.000000",
                        .amount_pence = 50000});
    expect_line(&r,
                &(want){.quarter = "2021-07-01",
                        .kind = ADJ,
                        .component = "reoff",
                        .period = "C1",
                        .previous_pence = "50000",
                        .amount_pence = -50000});
    expect_statement(&r, "2021-04-01", 0, 0);
    expect_run(&r, 7, "2020-01-01", "2021-07-01", 2, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_pooled_excluded_counts_every_window)
{
    /* pooled-excluded.yaml: quarterly windows Q1, Q2 of 2023, one segment
     * "adult" (age >= 18). Q1: A (30) a member, B (17) excluded. Q2: C (16)
     * excluded, so Q2 has no line. Pooled: members 1 (A), excluded 1 + 1 = 2
     * (the window without a line included: ruled).
     * Q1 line: actual 0, baseline 0.5, points 50, 500.00; final on
     * add_months(2023-04-01, 9) = 2024-01-01, excluded 1.
     * Pooled: final on the latest window's, add_months(2023-07-01, 9) =
     * 2024-04-01 (statement 2024-01-01); points 50 >= 10: 500.00 - 500.00 of
     * the window line = 0.00. Range 2023-01-01 .. 2024-01-01: 5 statements. */
    run r;
    run_load(&r, DATA "pooled-excluded.yaml", DATA "pooled-excluded.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .segment = "adult",
                        .final_on = "2024-01-01",
                        .members = "1",
                        .excluded = "1",
                        .amount_pence = 50000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "pooled",
                        .segment = "adult",
                        .final_on = "2024-04-01",
                        .members = "1",
                        .excluded = "2",
                        .points = "50.000000",
                        .threshold_met = "true",
                        .amount_pence = 0});
    expect_run(&r, 5, "2023-01-01", "2024-01-01", 2, 50000);
    run_free(&r);
}
END_TEST

START_TEST(test_pooled_max_units_and_cap)
{
    /* pooled-max-units.yaml: baseline 0.5, window gate 70 points (below 0),
     * 10.00 a point, max_units 30, cap 250.00; pooled gate 10 points.
     * Q1 (A, B) and Q2 (C): no reoffences, points 50 < 70 each: amount 0,
     * threshold_met false, units null. Finals: Q1 2024-01-01, Q2 2024-04-01.
     * Pooled: n 3, actual 0, points 50 >= 10; units min(50, 30) = 30
     * (max_units on the pooled figures, ruled); 30 x 10.00 = 300.00, capped
     * at 250.00; minus the windows' 0.00: 250.00. */
    run r;
    run_load(&r, DATA "pooled-max-units.yaml", DATA "pooled-max-units.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .members = "2",
                        .points = "50.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "pooled",
                        .members = "3",
                        .points = "50.000000",
                        .units = "30.000000",
                        .threshold_met = "true",
                        .amount_pence = 25000});
    expect_run(&r, 5, "2023-01-01", "2024-01-01", 3, 25000);
    run_free(&r);
}
END_TEST

START_TEST(test_clean_period_cap)
{
    /* clean-cap.yaml: A released 2023-08-01, B 2023-08-20, no convictions:
     * F = add_months(i, 12) = 2024-08-01 and 2024-08-20, both in quarter
     * 2024-07-01 (final on 2024-10-01): min(2 x 100.00, cap 150.00) = 150.00.
     * Range: quarter of add_months(2023-09-30, 12) = 2024-09-30: 2023-07-01
     * .. 2024-07-01, 5 statements. */
    run r;
    run_load(&r, DATA "clean-cap.yaml", DATA "clean-cap.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "clean",
                        .period = "2024-07-01",
                        .final_on = "2024-10-01",
                        .members = "2",
                        .amount_pence = 15000});
    expect_run(&r, 5, "2023-07-01", "2024-07-01", 1, 15000);
    run_free(&r);
}
END_TEST

START_TEST(test_disposals_exclude_and_display)
{
    /* disposals-exclude.yaml: 2023, baseline 3 custody, 1,000.00 each, share
     * 50%, exclude category breach. c1 (violence, custody) counts; c2
     * (breach) is excluded: a = 1. actual 1,000.00; baseline 3,000.00;
     * saving 2,000.00 (avoided); percent 2000 / 3000 x 100 = 66.666667;
     * amount 50% x 2,000.00 = 1,000.00. points and units null, threshold_met
     * true (ruled). Final on add_months(2024-01-01, 3) = 2024-04-01:
     * statement 2024-01-01; range 2023-01-01 .. 2024-01-01, 5 statements. */
    run r;
    run_load(&r, DATA "disposals-exclude.yaml", DATA "disposals-exclude.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "d",
                        .period = "2023",
                        .final_on = "2024-04-01",
                        .members = "1",
                        .actual = "1000.000000",
                        .baseline = "3000.000000",
                        .points = "null",
                        .percent = "66.666667",
                        .avoided = "2000.000000",
                        .units = "null",
                        .threshold_met = "true",
                        .amount_pence = 100000});
    expect_run(&r, 5, "2023-01-01", "2024-01-01", 1, 100000);
    run_free(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("rulings");
    TCase *t = tcase_create("rulings");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_custody_discharge_before_reception);
    tcase_add_test(t, test_clean_period_month_end);
    tcase_add_test(t, test_range_reaches_end_quarter);
    tcase_add_test(t, test_pooled_excluded_counts_every_window);
    tcase_add_test(t, test_pooled_max_units_and_cap);
    tcase_add_test(t, test_clean_period_cap);
    tcase_add_test(t, test_disposals_exclude_and_display);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)

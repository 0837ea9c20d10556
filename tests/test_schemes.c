/* test_schemes.c -- the schemes of SPEC.md section 9 settled end to end, and
 * the edge cases of section 5, checked against figures worked out BY HAND
 * from the spec (never from the program's output).
 *
 * Each test loads a contract (contracts/<id>.yaml, or a small companion in
 * tests/data/schemes/edge-*.yaml), builds an event set from a hand-made JSON
 * Lines file in tests/data/schemes/ (seq = line number), settles every
 * quarter of the statement range in order with one ledger, and asserts the
 * statement lines (the harness is scheme_harness.h). The arithmetic is in a comment above each expectation.
 * On a failure the whole run's statements are written to stderr as
 * canonical JSON.
 *
 * Conventions used in the comments: A(Q) = Q.next + 30 days is the as-of
 * date of the statement for quarter Q; a line final on F is in the statement
 * of the quarter Q with Q.next = F (F is always a quarter's first day here,
 * except dated fees).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/contract.h"
#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "scheme_harness.h"

/* ---- the real contracts load ----------------------------------------------- */

START_TEST(test_contracts_load)
{
    static const char *const ids[] = {"peterborough", "doncaster",    "lewisham",         "gm-fim", "ippr-custody",
                                      "accelerator",  "rising-share", "national-tariffs", "crc"};
    static const char *const edges[] = {"edge-binary", "edge-pay",  "edge-cap",       "edge-pooled",      "edge-ogrs",
                                        "edge-misc",   "edge-gone", "edge-disposals", "edge-freq-pooled", "edge-clean"};
    char rel[256], path[512], msg[1024];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] + sizeof edges / sizeof edges[0]; i++) {
        int edge = i >= sizeof ids / sizeof ids[0];
        const char *id = edge ? edges[i - sizeof ids / sizeof ids[0]] : ids[i];
        snprintf(rel, sizeof rel, edge ? "tests/data/schemes/%s.yaml" : "contracts/%s.yaml", id);
        pbr_contract *c = NULL;
        pbr_diag d;
        if (pbr_contract_load(pbr_test_path(path, sizeof path, rel), &c, &d) != 0) {
            pbr_diag_format(&d, msg, sizeof msg);
            ck_abort_msg("%s", msg);
        }
        ck_assert_str_eq(c->id, id); /* file name = contract id + .yaml */
        pbr_contract_destroy(&c);
    }
}
END_TEST

/* ---- HMP Doncaster ------------------------------------------------------------ */

START_TEST(test_doncaster)
{
    run r;
    run_load(&r, "contracts/doncaster.yaml", "tests/data/schemes/doncaster.jsonl", ORDER_FILE);

    /* year_start 10: settlement years start 1 October; cohorts are the years
     * 2011-12 [2011-10-01, 2012-10-01) .. 2014-15; baseline 0.58; gate 5
     * points; below -2,000,000.00; 200,000.00 per point beyond 5, at most 5
     * units, cap 1,000,000.00.
     *
     * Fee: 5,000,000.00 = 500000000 pence every quarter 2011-10-01 ..
     * 2015-07-01 (16 quarters), final on Q.next, in its own statement. */
    expect_line(&r,
                &(want){.quarter = "2011-10-01",
                        .kind = FEE,
                        .component = "operating",
                        .period = "2011-10-01",
                        .final_on = "2012-01-01",
                        .amount_pence = 500000000});
    expect_line(&r,
                &(want){.quarter = "2015-07-01",
                        .kind = FEE,
                        .component = "operating",
                        .period = "2015-07-01",
                        .final_on = "2015-10-01",
                        .amount_pence = 500000000});

    /* Provisional, statement 2011-10-01 as of A = 2012-01-31: window 2011-12
     * has begun; visible members A (2011-10-15) and B (2012-01-10); no
     * conviction recorded yet. actual 0, points 58, units min(58-5, 5) = 5,
     * 5 x 200,000 = 1,000,000.00 (= cap) -> 100000000 pence. */
    expect_line(&r,
                &(want){.quarter = "2011-10-01",
                        .provisional = 1,
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2011-12",
                        .final_on = "2014-04-01",
                        .members = "2",
                        .reoffenders = "0",
                        .points = "58.000000",
                        .units = "5.000000",
                        .amount_pence = 100000000});

    /* Window 2011-12: members A 2011-10-15, B 2012-01-10, C 2012-05-05,
     * D 2012-09-30 (n = 4).
     * A: offence 2012-02-01 in [2011-10-15, 2012-10-15), convicted 2012-03-01
     *    before 2013-04-15: reoffender, 1 offence.
     * B: offence 2012-05-20, convicted 2012-06-01, offences 2: reoffender.
     * C: nothing.  D: offence 2013-09-30 = add_months(2012-09-30, 12), the
     *    end of the follow-up (half-open): not counted.
     * reoffenders 2, reoffences 1 + 2 = 3; actual 2/4 = 0.5;
     * points (0.58 - 0.5) x 100 = 8 >= 5: met; percent 8 / 0.58 = 13.7931034..;
     * avoided 0.08 x 4 = 0.32; units 8 - 5 = 3; 3 x 200,000.00 = 600,000.00.
     * final_on add_months(2012-10-01, 18) = 2014-04-01 -> statement 2014-01-01. */
    expect_line(&r,
                &(want){.quarter = "2014-01-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2011-12",
                        .final_on = "2014-04-01",
                        .members = "4",
                        .excluded = "0",
                        .reoffenders = "2",
                        .reoffences = "3",
                        .actual = "0.500000",
                        .baseline = "0.580000",
                        .points = "8.000000",
                        .percent = "13.793103",
                        .avoided = "0.320000",
                        .threshold_met = "true",
                        .units = "3.000000",
                        .amount_pence = 60000000});
    /* fee 500000000 + 60000000 */
    expect_statement(&r, "2014-01-01", 2, 560000000);
    const pbr_statement *s = statement_for(&r, "2014-01-01");
    EXPECT(&r, strcmp(s->label, "2013-14 Q2") == 0, "label of 2014-01-01: %s", s->label);
    EXPECT(&r, s->as_of == date_of("2014-05-01"), "as_of of 2014-01-01"); /* 2014-04-01 + 30 days */
    EXPECT(&r, s->lines[0].kind == FEE && s->lines[1].kind == OUT, "fees come before outcome lines");

    /* Window 2012-13: E 2012-10-01 (offence 2012-12-01, convicted 2013-01-10)
     * and F 2013-09-30 (offence 2014-01-15 < 2014-09-30, convicted
     * 2014-02-01 < 2015-03-30): 2 of 2. G left HMP-LEEDS: not a member.
     * actual 1; points (0.58 - 1) x 100 = -42 < 5: missed -> below
     * -2,000,000.00; percent -42 / 0.58 = -72.4137931..; avoided -0.42 x 2.
     * final_on add_months(2013-10-01, 18) = 2015-04-01 -> statement 2015-01-01. */
    expect_line(&r,
                &(want){.quarter = "2015-01-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2012-13",
                        .final_on = "2015-04-01",
                        .members = "2",
                        .excluded = "0",
                        .reoffenders = "2",
                        .reoffences = "2",
                        .actual = "1.000000",
                        .baseline = "0.580000",
                        .points = "-42.000000",
                        .percent = "-72.413793",
                        .avoided = "-0.840000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -200000000});
    expect_statement(&r, "2015-01-01", 2, 300000000); /* 500000000 - 200000000 */

    /* Window 2013-14: H 2014-03-03 (his conviction's offence 2014-01-01 is
     * before his release: not counted) and J 2014-08-20: 0 of 2.
     * points 58; percent 100; avoided 0.58 x 2 = 1.16;
     * units min(58 - 5, 5) = 5; 5 x 200,000 = 1,000,000.00, cap 1,000,000.00.
     * final_on add_months(2014-10-01, 18) = 2016-04-01 -> statement 2016-01-01;
     * no fee then (the contract ended 2015-09-30). */
    expect_line(&r,
                &(want){.quarter = "2016-01-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2013-14",
                        .final_on = "2016-04-01",
                        .members = "2",
                        .excluded = "0",
                        .reoffenders = "0",
                        .reoffences = "0",
                        .actual = "0.000000",
                        .points = "58.000000",
                        .percent = "100.000000",
                        .avoided = "1.160000",
                        .threshold_met = "true",
                        .units = "5.000000",
                        .amount_pence = 100000000});
    expect_statement(&r, "2016-01-01", 1, 100000000);
    expect_statement(&r, "2015-10-01", 0, 0);

    /* Window 2014-15 has no members: no line. Range: 2011-10-01 to the
     * quarter before add_months(2015-10-01, 18) = 2017-04-01, i.e.
     * 2017-01-01, + 4 run-off = 2018-01-01: 26 statements; 16 fees + 3
     * outcome lines; 16 x 500000000 + 60000000 - 200000000 + 100000000. */
    expect_run(&r, 26, "2011-10-01", "2018-01-01", 19, INT64_C(7960000000));
    run_free(&r);
}
END_TEST

/* ---- HMP Peterborough ------------------------------------------------------------ */

START_TEST(test_peterborough)
{
    run r;
    run_load(&r, "contracts/peterborough.yaml", "tests/data/schemes/peterborough.jsonl", ORDER_FILE);

    /* Frequency of reconviction events (counts: convictions), per member,
     * windows C1 [2010-09-09, 2012-07-01), C2, C3 [2014-07-01, 2016-07-01);
     * rates C1 1.60, C3 1.45; gate 10 percent; 3,000.00 per event avoided;
     * pooled gate 7.5 percent.
     *
     * C1: P1 (first release 2011-01-10; his second release 2011-08-01 is not a
     * new membership: members first), P2 2011-06-15, P3 2012-01-20,
     * P4 2012-06-30. X1 is female: not a member. n = 4.
     * P1: convictions of 2011-05-01 (offence 2011-04-01, offences 2 but
     *   counts: convictions -> 1 event) and 2011-11-01 (offence 2011-10-15):
     *   2; the offence of 2012-01-10 is at the end of his follow-up
     *   [2011-01-10, 2012-01-10): not counted (it would be, from his second
     *   release, under members: every).
     * P2: 2 (offences 2011-07-01, 2011-12-01). P3: 1. P4: 1 (offence
     *   2013-05-01 < 2013-06-30).
     * F = 6; actual 6/4 = 1.5; points (1.6 - 1.5) x 100 = 10; percent
     * 0.1 / 1.6 x 100 = 6.25 < 10: gate missed (although points = 10), below
     * defaults to 0; avoided 0.1 x 4 = 0.4.
     * final_on add_months(2012-07-01, 18) = 2014-01-01 -> statement 2013-10-01. */
    expect_line(&r,
                &(want){.quarter = "2013-10-01",
                        .kind = OUT,
                        .component = "reconvictions",
                        .period = "C1",
                        .final_on = "2014-01-01",
                        .members = "4",
                        .excluded = "0",
                        .reoffenders = "4",
                        .reoffences = "6",
                        .actual = "1.500000",
                        .baseline = "1.600000",
                        .points = "10.000000",
                        .percent = "6.250000",
                        .avoided = "0.400000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_statement(&r, "2013-10-01", 1, 0);

    /* C2: no members, no line.
     * C3: P5 2014-07-01 (one conviction, offence 2015-01-01) and P6
     * 2016-06-30 (= end, admitted). F = 1, n = 2; actual 0.5; points 95;
     * percent 0.95 / 1.45 x 100 = 65.5172413..; avoided 0.95 x 2 = 1.9;
     * 1.9 x 3,000.00 = 5,700.00.
     * final_on add_months(2016-07-01, 18) = 2018-01-01 -> statement 2017-10-01. */
    expect_line(&r,
                &(want){.quarter = "2017-10-01",
                        .kind = OUT,
                        .component = "reconvictions",
                        .period = "C3",
                        .final_on = "2018-01-01",
                        .members = "2",
                        .excluded = "0",
                        .reoffenders = "1",
                        .reoffences = "1",
                        .actual = "0.500000",
                        .baseline = "1.450000",
                        .points = "95.000000",
                        .percent = "65.517241",
                        .avoided = "1.900000",
                        .threshold_met = "true",
                        .units = "1.900000",
                        .amount_pence = 570000});

    /* Pooled (5.6), final on the latest window final_on 2018-01-01:
     * n = 6, F = 7, actual 7/6 = 1.1666..; baseline weighted by n:
     * (1.6 x 4 + 1.45 x 2) / 6 = 9.3 / 6 = 1.55; points (1.55 - 7/6) x 100 =
     * 230/6 = 38.3333..; percent (2.3/6) / 1.55 x 100 = 230/9.3 = 24.7311827..
     * >= 7.5: met; avoided 9.3 - 7 = 2.3 (= 0.4 + 1.9); pooled amount
     * 2.3 x 3,000 = 6,900.00 = 690000 pence, minus the window lines
     * 0 + 570000 = 120000 pence. */
    expect_line(&r,
                &(want){.quarter = "2017-10-01",
                        .kind = POOL,
                        .component = "reconvictions",
                        .period = "pooled",
                        .final_on = "2018-01-01",
                        .members = "6",
                        .excluded = "0",
                        .reoffenders = "5",
                        .reoffences = "7",
                        .actual = "1.166667",
                        .baseline = "1.550000",
                        .points = "38.333333",
                        .percent = "24.731183",
                        .avoided = "2.300000",
                        .threshold_met = "true",
                        .units = "2.300000",
                        .amount_pence = 120000});
    expect_statement(&r, "2017-10-01", 2, 690000);
    const pbr_statement *s = statement_for(&r, "2017-10-01");
    EXPECT(&r, s->lines[0].kind == OUT && s->lines[1].kind == POOL, "pooled line comes after the window line");

    /* Range: quarter containing 2010-09-09 = 2010-07-01 .. 2017-10-01 + 4 =
     * 2018-10-01: 34 statements, 3 lines, 690000 pence in all (the
     * 8,000,000.00 contract cap does not bite). */
    expect_run(&r, 34, "2010-07-01", "2018-10-01", 3, 690000);
    run_free(&r);
}
END_TEST

/* ---- Lewisham ---------------------------------------------------------------------- */

START_TEST(test_lewisham)
{
    run r;
    run_load(&r, "contracts/lewisham.yaml", "tests/data/schemes/lewisham.jsonl", ORDER_FILE);

    /* clean_period, follow_up 12, waiting 6, 1,000.00 x OGRS. Fee 25,000.00 a
     * quarter for 2011-07-01 .. 2014-01-01 (11 quarters).
     *
     * L1 released 2011-06-01 (= start), OGRS 0.5, no conviction: S =
     * 2012-06-01, F = add_months(S, 6) = 2012-12-01, quarter 2012-10-01,
     * final on 2013-01-01: 1,000 x 0.5 = 500.00. */
    expect_line(&r,
                &(want){.quarter = "2012-10-01",
                        .kind = OUT,
                        .component = "clean-year",
                        .period = "2012-10-01",
                        .segment = NULL,
                        .final_on = "2013-01-01",
                        .members = "1",
                        .excluded = "null",
                        .reoffenders = "null",
                        .reoffences = "null",
                        .actual = "null",
                        .baseline = "null",
                        .points = "null",
                        .percent = "null",
                        .avoided = "null",
                        .threshold_met = "null",
                        .units = "null",
                        .amount_pence = 50000});
    expect_line(&r,
                &(want){.quarter = "2012-10-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2012-10-01",
                        .final_on = "2013-01-01",
                        .amount_pence = 2500000});
    expect_statement(&r, "2012-10-01", 2, 2550000);

    /* L3 released 2011-08-31, OGRS 0.6123: offence 2012-02-29 in
     * [2011-08-31, 2012-08-31), convicted 2012-04-01 < F = 2013-02-28:
     * the clock restarts at 2012-02-29; S = add_months(2012-02-29, 12) =
     * 2013-02-28; F = add_months(2013-02-28, 6) = 2013-08-28 (not
     * 2013-08-29: F is computed from S). Success, quarter 2013-07-01,
     * final on 2013-10-01: 1,000 x 0.6123 = 612.30. */
    expect_line(&r,
                &(want){.quarter = "2013-07-01",
                        .kind = OUT,
                        .component = "clean-year",
                        .period = "2013-07-01",
                        .final_on = "2013-10-01",
                        .members = "1",
                        .amount_pence = 61230});
    expect_statement(&r, "2013-07-01", 2, 2561230);

    /* L4 released 2012-01-15, OGRS 0.4: offence 2012-03-01 (convicted
     * 2012-05-01) restarts the clock: S = 2013-03-01, F = 2013-09-01; offence
     * 2013-02-28 in (2012-03-01, 2013-03-01), convicted 2013-08-31 < F:
     * restarts again: S = 2014-02-28, F = 2014-08-28, quarter 2014-07-01:
     * 400.00. */
    expect_line(&r,
                &(want){.quarter = "2014-07-01",
                        .kind = OUT,
                        .component = "clean-year",
                        .period = "2014-07-01",
                        .final_on = "2014-10-01",
                        .members = "1",
                        .amount_pence = 40000});
    expect_statement(&r, "2014-07-01", 1, 40000);

    /* L8 released 2013-09-01, OGRS 0.9: offence 2014-08-31 inside the
     * follow-up but convicted 2015-03-01 = F = add_months(2014-09-01, 6): not
     * before F, no restart. Success on 2015-03-01, quarter 2015-01-01: 900.00.
     * L2 (released before start), L5 (no OGRS: excluded), L6 (restarted at
     * 2014-06-01, after end: never succeeds) and L7 (NEWHAM) pay nothing. */
    expect_line(&r,
                &(want){.quarter = "2015-01-01",
                        .kind = OUT,
                        .component = "clean-year",
                        .period = "2015-01-01",
                        .final_on = "2015-04-01",
                        .members = "1",
                        .amount_pence = 90000});
    expect_statement(&r, "2015-01-01", 1, 90000);
    expect_statement(&r, "2011-04-01", 0, 0); /* the fee starts 2011-07-01 */

    /* Range: 2011-04-01 .. quarter containing add_months(add_months(
     * 2014-05-31, 12), 6) = 2015-11-30, i.e. 2015-10-01, + 4 = 2016-10-01:
     * 23 statements; 11 fees + 4 clean lines;
     * 11 x 2500000 + 50000 + 61230 + 40000 + 90000 = 27741230. */
    expect_run(&r, 23, "2011-04-01", "2016-10-01", 15, 27741230);
    run_free(&r);
}
END_TEST

/* ---- Greater Manchester Financial Incentive Model ---------------------------------- */

START_TEST(test_gm_fim)
{
    run r;
    run_load(&r, "contracts/gm-fim.yaml", "tests/data/schemes/gm-fim.jsonl", ORDER_FILE);

    /* Baseline value B = 4200 x 9000 + 2600 x 2500 + 6100 x 2800 +
     * 12000 x 150 = 37,800,000 + 6,500,000 + 17,080,000 + 1,800,000 =
     * 63,180,000.00.
     *
     * Year 2011-12, final on add_months(2012-04-01, 6) = 2012-10-01 ->
     * statement 2012-07-01 (as of 2012-10-31). MANCHESTER convictions: custody
     * x2 (g01, g02), sso (g03), community (g04), fine (g05); the caution (g06)
     * is not priced; g07 is NEWHAM; g08 has no area (does not match); g11 is
     * recorded 2012-11-15, not yet visible. members 5.
     * A = 2 x 9000 + 2500 + 2800 + 150 = 23,450.00; saving 63,156,550.00;
     * x 50% = 31,578,275.00. */
    expect_line(&r,
                &(want){.quarter = "2012-07-01",
                        .kind = OUT,
                        .component = "disposals",
                        .period = "2011-12",
                        .final_on = "2012-10-01",
                        .members = "5",
                        .actual = "23450.000000",
                        .baseline = "63180000.000000",
                        .avoided = "63156550.000000",
                        .amount_pence = INT64_C(3157827500)});

    /* Statement 2012-10-01 (as of 2013-01-31): g11 (custody, 2011-12-01) is
     * now visible: A = 32,450.00, saving 63,147,550.00, x 50% =
     * 31,573,775.00: adjustment 3157377500 - 3157827500 = -450000. */
    expect_line(&r,
                &(want){.quarter = "2012-10-01",
                        .kind = ADJ,
                        .component = "disposals",
                        .period = "2011-12",
                        .previous_pence = "3157827500",
                        .amount_pence = -450000});
    expect_statement(&r, "2012-10-01", 1, -450000);

    /* Year 2012-13: g09 custody 2012-04-01: A = 9,000.00; saving
     * 63,171,000.00; x 50% = 31,585,500.00; final on 2013-10-01 -> statement
     * 2013-07-01. g10 (2013-04-01) falls in 2013-14, which does not overlap
     * the contract: no line. */
    expect_line(&r,
                &(want){.quarter = "2013-07-01",
                        .kind = OUT,
                        .component = "disposals",
                        .period = "2012-13",
                        .final_on = "2013-10-01",
                        .members = "1",
                        .actual = "9000.000000",
                        .baseline = "63180000.000000",
                        .avoided = "63171000.000000",
                        .amount_pence = INT64_C(3158550000)});

    /* Range 2011-04-01 .. 2013-07-01 + 4 = 2014-07-01: 3 quarters of 2011,
     * 4 of 2012 and of 2013, 3 of 2014 = 14 statements. */
    expect_run(&r, 14, "2011-04-01", "2014-07-01", 3, INT64_C(6315927500));
    run_free(&r);
}
END_TEST

/* ---- IPPR devolved custody budget --------------------------------------------------- */

START_TEST(test_ippr_custody)
{
    run r;
    run_load(&r, "contracts/ippr-custody.yaml", "tests/data/schemes/ippr-custody.jsonl", ORDER_FILE);

    /* Tariff 123.29 a night; baseline = mean nights of the same quarter in
     * the 3 previous years, per segment; one line per (segment, quarter)
     * 2014-04-01 .. 2016-01-01 (8 quarters x 3 segments = 24 lines), final on
     * Q.next. Spells: W1 woman 2013-04-01..2013-04-11 (10 nights in
     * 2013-04-01); Y1 aged 19 2014-05-01..2014-05-31 (30 nights); S1 short
     * sentence 2012-01-15..2012-02-14 (17 + 13 = 30 nights in 2012-01-01);
     * S2 short 2015-01-10..2015-02-09 (22 + 8 = 30 nights in 2015-01-01).
     * L1 (1000 days, man of 45) and R1 (remand man of 40) match no segment;
     * N1 is NEWHAM.
     *
     * Transformation fee 250,000.00, dated 2014-04-01, in the first
     * statement. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = FEE,
                        .component = "transformation",
                        .period = "2014-04-01",
                        .final_on = "2014-04-01",
                        .amount_pence = 25000000});
    /* women 2014-04-01: baseline (10 + 0 + 0) / 3 = 3.3333..; actual 0;
     * avoided 10/3; 10/3 x 123.29 = 410.96666.. -> 41097 pence. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2014-04-01",
                        .segment = "women",
                        .final_on = "2014-07-01",
                        .members = "0",
                        .actual = "0.000000",
                        .baseline = "3.333333",
                        .avoided = "3.333333",
                        .amount_pence = 41097});
    /* young 2014-04-01: actual 30, baseline 0 (no young nights in 2011-13),
     * avoided -30, percent 0 (b = 0); -30 x 123.29 = -3,698.70. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2014-04-01",
                        .segment = "young",
                        .final_on = "2014-07-01",
                        .members = "1",
                        .actual = "30.000000",
                        .baseline = "0.000000",
                        .percent = "0.000000",
                        .avoided = "-30.000000",
                        .amount_pence = -369870});
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2014-04-01",
                        .segment = "short",
                        .members = "0",
                        .actual = "0.000000",
                        .baseline = "0.000000",
                        .amount_pence = 0});
    expect_statement(&r, "2014-04-01", 4, 24671227); /* 25000000 + 41097 - 369870 + 0 */

    /* short 2015-01-01: actual 30 (S2); baseline (0 + 0 + 30) / 3 = 10 from
     * S1's 2012-01-01 nights; avoided -20; percent -20 / 10 = -200;
     * -20 x 123.29 = -2,465.80. */
    expect_line(&r,
                &(want){.quarter = "2015-01-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2015-01-01",
                        .segment = "short",
                        .members = "1",
                        .actual = "30.000000",
                        .baseline = "10.000000",
                        .percent = "-200.000000",
                        .avoided = "-20.000000",
                        .amount_pence = -246580});
    expect_statement(&r, "2015-01-01", 3, -246580);

    /* 2015-04-01: women baseline (0 + 10 + 0) / 3 again -> 41097; young
     * baseline (30 + 0 + 0) / 3 = 10, actual 0: 10 x 123.29 = 1,232.90. */
    expect_line(&r,
                &(want){.quarter = "2015-04-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2015-04-01",
                        .segment = "women",
                        .baseline = "3.333333",
                        .amount_pence = 41097});
    expect_line(&r,
                &(want){.quarter = "2015-04-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2015-04-01",
                        .segment = "young",
                        .members = "0",
                        .actual = "0.000000",
                        .baseline = "10.000000",
                        .avoided = "10.000000",
                        .amount_pence = 123290});
    expect_statement(&r, "2015-04-01", 3, 164387);

    /* short 2016-01-01: baseline (30 + 0 + 0) / 3 = 10 from S2: 123290. */
    expect_line(&r,
                &(want){.quarter = "2016-01-01",
                        .kind = OUT,
                        .component = "bed-nights",
                        .period = "2016-01-01",
                        .segment = "short",
                        .baseline = "10.000000",
                        .amount_pence = 123290});
    expect_statement(&r, "2016-01-01", 3, 123290);
    expect_statement(&r, "2014-07-01", 3, 0);

    /* Clawback -125,000.00 dated 2016-06-30 (after end): final on that day,
     * which lies in quarter 2016-04-01. */
    expect_line(&r,
                &(want){.quarter = "2016-04-01",
                        .kind = FEE,
                        .component = "clawback",
                        .period = "2016-06-30",
                        .final_on = "2016-06-30",
                        .amount_pence = -12500000});
    expect_statement(&r, "2016-04-01", 1, -12500000);

    /* Range: the latest final_on is the clawback's 2016-06-30 (quarter
     * 2016-04-01) + 4 = 2017-04-01: 13 statements; 24 + 2 lines;
     * 25000000 - 12500000 + 41097 x 2 - 369870 - 246580 + 123290 x 2. */
    expect_run(&r, 13, "2014-04-01", "2017-04-01", 26, 12212324);
    run_free(&r);
}
END_TEST

/* ---- Accelerator ---------------------------------------------------------------------- */

START_TEST(test_accelerator)
{
    run r;
    run_load(&r, "contracts/accelerator.yaml", "tests/data/schemes/accelerator.jsonl", ORDER_FILE);

    /* Binary per reoffender avoided; window 2014-15 [2014-04-01, 2015-04-01),
     * final on add_months(2015-04-01, 18) = 2016-10-01 -> statement 2016-07-01.
     *
     * ppo (flags any of PPO; K3 has [DV, PPO]): K1..K4, n = 4. K1 offence
     * 2014-08-01: reoffender. K2 offence 2015-05-31 < 2015-06-01, convicted
     * 2015-11-30 < 2015-12-01: reoffender. K3's offence 2014-06-30 is before
     * its start 2014-07-01. K4: none. actual 0.5; baseline 0.82; points 32;
     * percent 32 / 0.82 = 39.0243902..; avoided 0.32 x 4 = 1.28; segment price
     * 2,000.00 (replaces the tiers): 2,560.00. Z1 is SOUTH: not a member. */
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2014-15",
                        .segment = "ppo",
                        .final_on = "2016-10-01",
                        .members = "4",
                        .excluded = "0",
                        .reoffenders = "2",
                        .reoffences = "2",
                        .actual = "0.500000",
                        .baseline = "0.820000",
                        .points = "32.000000",
                        .percent = "39.024390",
                        .avoided = "1.280000",
                        .threshold_met = "true",
                        .units = "1.280000",
                        .amount_pence = 256000});
    /* other: M1..M5, n = 5; M1's offence is on his start date 2014-04-01:
     * counts. actual 0.2; baseline 0.55; points 35; percent 35 / 0.55 =
     * 63.636363..; avoided 0.35 x 5 = 1.75 -> tiers: 1.75 in (0, 20] at
     * 1,000.00 = 1,750.00. */
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2014-15",
                        .segment = "other",
                        .final_on = "2016-10-01",
                        .members = "5",
                        .excluded = "0",
                        .reoffenders = "1",
                        .reoffences = "1",
                        .actual = "0.200000",
                        .baseline = "0.550000",
                        .points = "35.000000",
                        .percent = "63.636364",
                        .avoided = "1.750000",
                        .threshold_met = "true",
                        .units = "1.750000",
                        .amount_pence = 175000});
    expect_statement(&r, "2016-07-01", 2, 431000);
    const pbr_statement *s = statement_for(&r, "2016-07-01");
    EXPECT(&r, strcmp(s->lines[0].segment, "ppo") == 0, "segments in file order");

    /* Range 2014-04-01 .. quarter before add_months(2016-04-01, 18) =
     * 2017-10-01, i.e. 2017-07-01, + 4 = 2018-07-01: 18 statements. */
    expect_run(&r, 18, "2014-04-01", "2018-07-01", 2, 431000);
    run_free(&r);
}
END_TEST

/* ---- Rising at-risk share ------------------------------------------------------------ */

START_TEST(test_rising_share)
{
    run r;
    run_load(&r, "contracts/rising-share.yaml", "tests/data/schemes/rising-share.jsonl", ORDER_FILE);

    /* Binary per point, baseline 0.34, gate 1 point (below 0), 400,000.00 a
     * point, at most 10 units; contract_cap 12,000,000.00 = 1200000000 pence.
     * Year cohorts 2011-12 .. 2015-16, each final on add_months(year end, 18).
     *
     * 2011-12: R1..R4, none reoffends: points 34, units min(34, 10) = 10:
     * 4,000,000.00; U = 0 -> paid in full. Statement 2013-07-01 also has the
     * year-3 fee 4,400,000.00. */
    expect_line(&r,
                &(want){.quarter = "2013-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2011-12",
                        .final_on = "2013-10-01",
                        .members = "4",
                        .reoffenders = "0",
                        .actual = "0.000000",
                        .baseline = "0.340000",
                        .points = "34.000000",
                        .percent = "100.000000",
                        .avoided = "1.360000",
                        .threshold_met = "true",
                        .units = "10.000000",
                        .amount_pence = 400000000});
    expect_line(&r,
                &(want){.quarter = "2013-07-01",
                        .kind = FEE,
                        .component = "core-y3",
                        .period = "2013-07-01",
                        .final_on = "2013-10-01",
                        .amount_pence = 440000000});
    expect_statement(&r, "2013-07-01", 2, 840000000);

    /* 2012-13: R5 (offence 2012-10-01) of R5..R8: actual 0.25; points 9;
     * percent 9 / 0.34 = 26.4705882..; avoided 0.09 x 4 = 0.36; 9 x 400,000 =
     * 3,600,000.00; U = 400000000 -> paid in full (U = 760000000). */
    expect_line(&r,
                &(want){.quarter = "2014-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2012-13",
                        .final_on = "2014-10-01",
                        .members = "4",
                        .reoffenders = "1",
                        .reoffences = "1",
                        .actual = "0.250000",
                        .points = "9.000000",
                        .percent = "26.470588",
                        .avoided = "0.360000",
                        .threshold_met = "true",
                        .units = "9.000000",
                        .amount_pence = 360000000});
    expect_statement(&r, "2014-07-01", 2, 780000000); /* + core-y4 420000000 */

    /* 2013-14: R9, R10, none reoffends: 10 units, 4,000,000.00; U =
     * 760000000 -> min(1160000000, 1200000000) - 760000000 = all of it. */
    expect_line(&r,
                &(want){.quarter = "2015-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2013-14",
                        .members = "2",
                        .units = "10.000000",
                        .amount_pence = 400000000});
    expect_statement(&r, "2015-07-01", 2, 800000000); /* + core-y5 400000000 */

    /* 2014-15: R11 (offence 2014-06-06) of R11..R13: actual 1/3; points
     * (0.34 - 1/3) x 100 = 2/3 < 1: gate missed, below 0; percent
     * (1/150) / 0.34 x 100 = 100/51 = 1.9607843..; avoided 1.02 - 1 = 0.02. */
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2014-15",
                        .final_on = "2016-10-01",
                        .members = "3",
                        .reoffenders = "1",
                        .actual = "0.333333",
                        .points = "0.666667",
                        .percent = "1.960784",
                        .avoided = "0.020000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_statement(&r, "2016-07-01", 1, 0);

    /* 2015-16: R14 (2016-03-31 = end): 10 units, 4,000,000.00 computed; U =
     * 1160000000 -> min(1560000000, 1200000000) - 1160000000 = 40000000:
     * the contract cap pays only what is left of the 12m at risk. */
    expect_line(&r,
                &(want){.quarter = "2017-07-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2015-16",
                        .final_on = "2017-10-01",
                        .members = "1",
                        .units = "10.000000",
                        .amount_pence = 40000000});

    /* Fees: 4 quarters each of 4.8m, 4.6m, 4.4m, 4.2m, 4.0m = 88,000,000.00;
     * outcomes paid 12,000,000.00 (the cap). Range 2011-04-01 .. 2017-07-01 +
     * 4 = 2018-07-01: 3 quarters of 2011, 24 of 2012-17, 3 of 2018 = 30
     * statements; 20 fees + 5 outcome lines. */
    expect_run(&r, 30, "2011-04-01", "2018-07-01", 25, INT64_C(10000000000));
    run_free(&r);
}
END_TEST

/* ---- National tariffs ------------------------------------------------------------------ */

START_TEST(test_national_tariffs)
{
    run r;
    run_load(&r, "contracts/national-tariffs.yaml", "tests/data/schemes/national-tariffs.jsonl", ORDER_FILE);

    /* Quarter 2014-04-01:
     * remand (remand: true): R1 NORTH 2014-04-01..04-11 = 10 nights, R2 EAST
     * 2014-06-25..07-05 = 6 nights (Jun 25-30): 16; (9100 - 16) x 142.47 =
     * 9084 x 142.47 = 1,294,197.48. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "places",
                        .period = "2014-04-01",
                        .segment = "remand",
                        .final_on = "2014-07-01",
                        .members = "2",
                        .actual = "16.000000",
                        .baseline = "9100.000000",
                        .avoided = "9084.000000",
                        .amount_pence = 129419748});
    /* short: S1 WEST (sentence 90) 2014-05-01..06-15 = 31 + 14 = 45 nights;
     * 18155 x 123.29 = 2,238,329.95. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "places",
                        .period = "2014-04-01",
                        .segment = "short",
                        .members = "1",
                        .actual = "45.000000",
                        .baseline = "18200.000000",
                        .avoided = "18155.000000",
                        .amount_pence = 223832995});
    /* long: L1 NORTH (1500 days) 2014-04-01..07-01 = 30 + 31 + 30 = 91;
     * 45409 x 90.41 = 4,105,427.69. X1 is SOUTH: not counted. */
    expect_line(&r,
                &(want){.quarter = "2014-04-01",
                        .kind = OUT,
                        .component = "places",
                        .period = "2014-04-01",
                        .segment = "long",
                        .members = "1",
                        .actual = "91.000000",
                        .baseline = "45500.000000",
                        .avoided = "45409.000000",
                        .amount_pence = 410542769});
    expect_statement(&r, "2014-04-01", 3, 763795512);

    /* Quarter 2014-07-01: R2's remaining 4 nights (Jul 1-4): 9096 x 142.47 =
     * 1,295,907.12; short and long have no nights: 18200 x 123.29 =
     * 2,243,878.00 and 45500 x 90.41 = 4,113,655.00. */
    expect_line(&r,
                &(want){.quarter = "2014-07-01",
                        .kind = OUT,
                        .component = "places",
                        .period = "2014-07-01",
                        .segment = "remand",
                        .members = "1",
                        .actual = "4.000000",
                        .avoided = "9096.000000",
                        .amount_pence = 129590712});
    expect_statement(&r, "2014-07-01", 3, 765344012);

    /* A quarter without nights: 129647700 + 224387800 + 411365500. */
    expect_statement(&r, "2016-01-01", 3, 765401000);

    /* Range 2014-04-01 .. 2016-01-01 + 4 = 2017-01-01: 12 statements, 24
     * lines; 763795512 + 765344012 + 6 x 765401000. */
    expect_run(&r, 12, "2014-04-01", "2017-01-01", 24, INT64_C(6121545524));
    run_free(&r);
}
END_TEST

/* ---- Edge cases (tests/data/schemes/edge-binary.yaml) ------------------------------------
 *
 * One quarterly window [2023-07-01, 2023-10-01), follow_up 6, waiting 6,
 * final on add_months(2023-10-01, 12) = 2024-10-01 -> statement 2024-07-01
 * (as of 2024-10-31). Baseline 0.5, gate 25 points, 10.00 a point, below
 * -100.00. With 4 members: 1 reoffender -> actual 0.25, points 25 = the gate
 * (met), 25 x 10.00 = 250.00; 2 -> points 0: -100.00; 0 -> 500.00.
 * Range 2023-07-01 .. 2024-07-01 + 4 = 2025-07-01: 9 statements. */

static void expect_edge_binary(const char *jsonl, const char *reoffenders, int64_t amount)
{
    run r;
    run_load(&r, "tests/data/schemes/edge-binary.yaml", jsonl, ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .final_on = "2024-10-01",
                        .members = "4",
                        .excluded = "0",
                        .reoffenders = reoffenders,
                        .amount_pence = amount});
    expect_statement(&r, "2024-07-01", 1, amount);
    expect_run(&r, 9, "2023-07-01", "2025-07-01", 1, amount);
    run_free(&r);
}

START_TEST(test_edge_offence_on_index_date)
{
    /* A released 2023-07-10, offence on 2023-07-10: i <= offence_date, counts.
     * 1 reoffender of 4 -> 25000 (not counting it would give 0 -> 50000). */
    expect_edge_binary("tests/data/schemes/edge-index-date.jsonl", "1", 25000);
}
END_TEST

START_TEST(test_edge_conviction_at_waiting_end)
{
    /* A released 2023-07-10: convicted 2024-07-10 = add_months(2023-07-10,
     * 6 + 6), not before it: not counted. B released 2023-07-11: convicted
     * 2024-07-09 < 2024-07-11: counts. 1 reoffender -> 25000. */
    expect_edge_binary("tests/data/schemes/edge-waiting-end.jsonl", "1", 25000);
}
END_TEST

START_TEST(test_edge_31_august_plus_6_months)
{
    /* A and B released 2023-08-31: follow-up ends add_months(2023-08-31, 6) =
     * 2024-02-29 (leap year). A's offence 2024-02-28 counts; B's offence
     * 2024-02-29 does not. 1 reoffender -> 25000 (an end of 2024-02-28 gives
     * 0 -> 50000; an end in March gives 2 -> -10000). */
    expect_edge_binary("tests/data/schemes/edge-feb29.jsonl", "1", 25000);
}
END_TEST

START_TEST(test_edge_gate_exactly_met)
{
    /* A's offence 2023-09-01 (released 2023-07-20) counts: 1 of 4, points
     * (0.5 - 0.25) x 100 = 25 = threshold: met (improvement < threshold
     * fails, equal passes). 25 x 10.00 = 250.00 -> 25000. */
    run r;
    run_load(&r, "tests/data/schemes/edge-binary.yaml", "tests/data/schemes/edge-gate-equal.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .final_on = "2024-10-01",
                        .members = "4",
                        .reoffenders = "1",
                        .reoffences = "1",
                        .actual = "0.250000",
                        .baseline = "0.500000",
                        .points = "25.000000",
                        .percent = "50.000000",
                        .avoided = "1.000000",
                        .threshold_met = "true",
                        .units = "25.000000",
                        .amount_pence = 25000});
    run_free(&r);
}
END_TEST

START_TEST(test_edge_members_first)
{
    /* A released 2023-07-05 and again 2023-09-01 (same window); offence
     * 2023-08-01. members: first -> A once, from 2023-07-05: a reoffender.
     * 4 members, 1 reoffender -> 25000. (Counting both releases would give 5
     * members, 1 reoffender, points 30 -> 30000.) */
    expect_edge_binary("tests/data/schemes/edge-first.jsonl", "1", 25000);
}
END_TEST

START_TEST(test_edge_void)
{
    /* A's conviction is voided by v1 (recorded 2024-01-01): invisible.
     * B's counts. C's conviction is voided by v2 recorded 2024-11-15, after
     * A(2024-07-01) = 2024-10-31: still visible in that statement.
     * Statement 2024-07-01: B, C reoffend: 2 of 4 -> points 0 < 25 -> -100.00.
     * Statement 2024-10-01 (as of 2025-01-31): v2 now visible: 1 of 4 -> 250.00:
     * adjustment 25000 - (-10000) = +35000, previous -10000. */
    run r;
    run_load(&r, "tests/data/schemes/edge-binary.yaml", "tests/data/schemes/edge-void.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .members = "4",
                        .reoffenders = "2",
                        .points = "0.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -10000});
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = ADJ,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .previous_pence = "-10000",
                        .amount_pence = 35000});
    expect_statement(&r, "2024-10-01", 1, 35000);
    expect_run(&r, 9, "2023-07-01", "2025-07-01", 2, 25000);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_late_conviction_adjustment)
{
    /* A reoffends (offence 2023-08-01). B's conviction (offence 2023-12-01,
     * convicted 2024-03-01) is recorded 2024-11-20: after 2024-10-31.
     * Statement 2024-07-01: 1 of 4 -> 25000.
     * Statement 2024-10-01 (as of 2025-01-31): 2 of 4 -> -10000: adjustment
     * -10000 - 25000 = -35000 with previous_pence 25000. */
    run r;
    run_load(&r, "tests/data/schemes/edge-binary.yaml", "tests/data/schemes/edge-late.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .reoffenders = "1",
                        .amount_pence = 25000});
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = ADJ,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .segment = NULL,
                        .previous_pence = "25000",
                        .amount_pence = -35000});
    expect_statement(&r, "2024-10-01", 1, -35000);
    expect_run(&r, 9, "2023-07-01", "2025-07-01", 2, -10000);
    run_free(&r);
}
END_TEST

/* ---- Edge cases (edge-pay.yaml): whole-contract window "all", final on
 * add_months(2023-04-01, 18) = 2024-10-01 -> statement 2024-07-01; range
 * 2023-01-01 .. 2024-07-01 + run_off 1 = 2024-10-01 (8 statements). No member
 * reoffends, so avoided = baseline x n. ------------------------------------- */

START_TEST(test_edge_half_even)
{
    run r;
    run_load(&r, "tests/data/schemes/edge-pay.yaml", "tests/data/schemes/edge-pay.jsonl", ORDER_FILE);
    /* half-down: n = 1, avoided 0.5 x 1; 0.5 x 10.01 = 5.005 = 500.5 pence:
     * half to even -> 500 (down). */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pay",
                        .period = "all",
                        .segment = "half-down",
                        .final_on = "2024-10-01",
                        .members = "1",
                        .actual = "0.000000",
                        .baseline = "0.500000",
                        .avoided = "0.500000",
                        .units = "0.500000",
                        .amount_pence = 500});
    /* half-up: 0.5 x 10.03 = 5.015 = 501.5 pence: half to even -> 502 (up). */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pay",
                        .period = "all",
                        .segment = "half-up",
                        .units = "0.500000",
                        .amount_pence = 502});
    run_free(&r);
}
END_TEST

START_TEST(test_edge_tier_boundary)
{
    run r;
    run_load(&r, "tests/data/schemes/edge-pay.yaml", "tests/data/schemes/edge-pay.jsonl", ORDER_FILE);
    /* Tiers (0,1] at 100.00, (1,2] at 200.00, above at 500.00.
     * boundary: n = 1, baseline 1.0: avoided 1 = the first upto: all in tier 1:
     * 100.00 (pricing every unit at the next tier would give 200.00). */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pay",
                        .period = "all",
                        .segment = "boundary",
                        .members = "1",
                        .avoided = "1.000000",
                        .units = "1.000000",
                        .amount_pence = 10000});
    /* over: n = 2, baseline 0.75: avoided 1.5: 1 x 100 + 0.5 x 200 = 200.00
     * (graduated, not 1.5 x 200 = 300.00). */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pay",
                        .period = "all",
                        .segment = "over",
                        .members = "2",
                        .baseline = "0.750000",
                        .avoided = "1.500000",
                        .units = "1.500000",
                        .amount_pence = 20000});
    run_free(&r);
}
END_TEST

START_TEST(test_edge_line_cap)
{
    run r;
    run_load(&r, "tests/data/schemes/edge-pay.yaml", "tests/data/schemes/edge-pay.jsonl", ORDER_FILE);
    /* capped: n = 3, avoided 3: 100 + 200 + 1 x 500 = 800.00; cap 600.00. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pay",
                        .period = "all",
                        .segment = "capped",
                        .members = "3",
                        .avoided = "3.000000",
                        .units = "3.000000",
                        .amount_pence = 60000});
    /* The statement: 500 + 502 + 10000 + 20000 + 60000. */
    expect_statement(&r, "2024-07-01", 5, 91002);
    const pbr_statement *s = statement_for(&r, "2024-07-01");
    EXPECT(&r, strcmp(s->lines[0].segment, "half-down") == 0 && strcmp(s->lines[4].segment, "capped") == 0,
           "segments in file order");
    expect_run(&r, 8, "2023-01-01", "2024-10-01", 5, 91002);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_contract_cap)
{
    /* edge-cap.yaml: quarterly windows, baseline 1.0, 400.00 per reoffender
     * avoided, contract_cap 1,000.00 = 100000 pence (5.5.6: paid = min(U + x,
     * C) - min(U, C), U = running computed sum).
     * 2023-01-01 window (A1, A2), final on 2024-10-01 -> statement 2024-07-01
     * (as of 2024-10-31; A2's conviction is recorded 2024-12-01, unseen):
     * avoided 2, computed 80000; U = 0 -> paid 80000. */
    run r;
    run_load(&r, "tests/data/schemes/edge-cap.yaml", "tests/data/schemes/edge-cap.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .members = "2",
                        .reoffenders = "0",
                        .amount_pence = 80000});
    /* Statement 2024-10-01 (as of 2025-01-31):
     * 2023-04-01 window (B1), final on 2025-01-01: computed 40000; U = 80000:
     * min(120000, 100000) - 80000 = 20000 paid; U = 120000.
     * Adjustment of 2023-01-01: A2 now reoffends (offence 2023-06-01,
     * convicted 2023-07-01): computed 40000, difference -40000, previous
     * 80000; paid min(80000, 100000) - min(120000, 100000) = -20000; U = 80000.
     * Outcome lines come before adjustments. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-04-01",
                        .final_on = "2025-01-01",
                        .members = "1",
                        .amount_pence = 20000});
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = ADJ,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .previous_pence = "80000",
                        .amount_pence = -20000});
    expect_statement(&r, "2024-10-01", 2, 0);
    const pbr_statement *s = statement_for(&r, "2024-10-01");
    EXPECT(&r, s->lines[0].kind == OUT && s->lines[1].kind == ADJ, "adjustments come last");
    /* 2023-07-01 window (C1), final on 2025-04-01 -> statement 2025-01-01:
     * computed 40000; U = 80000: min(120000, 100000) - 80000 = 20000. */
    expect_line(&r,
                &(want){.quarter = "2025-01-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .members = "1",
                        .amount_pence = 20000});
    /* Paid in all: min(total computed 120000, 100000) = 100000. Range
     * 2023-01-01 .. 2025-01-01 + 4 = 2026-01-01: 13 statements. */
    expect_run(&r, 13, "2023-01-01", "2026-01-01", 4, 100000);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_pooled)
{
    /* edge-pooled.yaml: quarterly windows, baseline 0.5, gate 30 points,
     * 100.00 per reoffender avoided; pooled gate 10 points.
     * 2023-01-01 window: A1..A4, none reoffends: points 50 >= 30; avoided 2:
     * 200.00; final on 2024-10-01 -> statement 2024-07-01. */
    run r;
    run_load(&r, "tests/data/schemes/edge-pooled.yaml", "tests/data/schemes/edge-pooled.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .members = "4",
                        .points = "50.000000",
                        .avoided = "2.000000",
                        .amount_pence = 20000});
    /* 2023-04-01 window: B1 (offence 2023-07-01) of B1..B4: actual 0.25,
     * points 25 < 30: missed, below 0; avoided 1. Final on 2025-01-01. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-04-01",
                        .final_on = "2025-01-01",
                        .members = "4",
                        .reoffenders = "1",
                        .points = "25.000000",
                        .avoided = "1.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    /* Pooled, final on 2025-01-01: 8 members, 1 reoffender, actual 0.125;
     * baseline (0.5 x 4 + 0.5 x 4) / 8 = 0.5; points 37.5 >= 10; percent
     * 75; avoided 0.375 x 8 = 3 (= 2 + 1); 3 x 100 = 300.00 minus the window
     * lines 200.00 + 0 = 100.00. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "pooled",
                        .segment = NULL,
                        .final_on = "2025-01-01",
                        .members = "8",
                        .excluded = "0",
                        .reoffenders = "1",
                        .reoffences = "1",
                        .actual = "0.125000",
                        .baseline = "0.500000",
                        .points = "37.500000",
                        .percent = "75.000000",
                        .avoided = "3.000000",
                        .threshold_met = "true",
                        .units = "3.000000",
                        .amount_pence = 10000});
    expect_statement(&r, "2024-10-01", 2, 10000);
    /* Range 2023-01-01 .. 2024-10-01 + 4 = 2025-10-01: 12 statements. */
    expect_run(&r, 12, "2023-01-01", "2025-10-01", 3, 30000);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_ogrs_size_per_reoffender)
{
    /* edge-ogrs.yaml: one whole window [2023-01-01, 2023-04-01), size 4;
     * final on add_months(2023-04-01, 18) = 2024-10-01 -> statement
     * 2024-07-01; run_off 0 -> 7 statements 2023-01-01 .. 2024-07-01.
     * Qualifying releases by (date, id): e1 A 01-10 (OGRS 0.2), e2 B 01-10
     * (0.6), e3 C 02-01 (0.4), e4 D 03-01 (no OGRS), e5 E 03-02 (0.9): size
     * 4 keeps A, B, C, D. Proven reoffences: A c1 (offences 3) and c2
     * (breach, 1 offence); B c3 (1). */
    run r;
    run_load(&r, "tests/data/schemes/edge-ogrs.yaml", "tests/data/schemes/edge-ogrs.jsonl", ORDER_FILE);
    /* weighted (weight: ogrs, rate 0.9, per avoided, 100.00): D has no OGRS:
     * excluded 1; members 3 (unweighted). Weighted n = 0.2 + 0.6 + 0.4 = 1.2,
     * weighted reoffenders 0.2 + 0.6 = 0.8; actual 0.8 / 1.2 = 2/3; points
     * (0.9 - 2/3) x 100 = 23.3333..; percent 0.2333.. / 0.9 = 25.925925..%;
     * avoided (0.9 - 2/3) x 1.2 = 1.08 - 0.8 = 0.28: 28.00. reoffences
     * (unweighted) 3 + 1 + 1 = 5. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "weighted",
                        .period = "all",
                        .final_on = "2024-10-01",
                        .members = "3",
                        .excluded = "1",
                        .reoffenders = "2",
                        .reoffences = "5",
                        .actual = "0.666667",
                        .baseline = "0.900000",
                        .points = "23.333333",
                        .percent = "25.925926",
                        .avoided = "0.280000",
                        .units = "0.280000",
                        .amount_pence = 2800});
    /* predicted (scale 2, per point, 10.00): b = 2 x mean(0.2, 0.6, 0.4) =
     * 0.8; actual 2/3 (unweighted); points 13.3333..; percent 16.6666..;
     * avoided (0.8 - 2/3) x 3 = 0.4; 13.3333.. x 10 = 133.333.. -> 13333. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "predicted",
                        .period = "all",
                        .members = "3",
                        .excluded = "1",
                        .reoffenders = "2",
                        .actual = "0.666667",
                        .baseline = "0.800000",
                        .points = "13.333333",
                        .percent = "16.666667",
                        .avoided = "0.400000",
                        .units = "13.333333",
                        .amount_pence = 13333});
    /* casemix (rate 0.75, ogrs_reference 0.4): b = 0.75 x 0.4 / 0.4 = 0.75;
     * points 8.3333..; percent 0.08333.. / 0.75 = 11.1111..%; avoided
     * 0.25; 8.3333.. x 10 = 83.333.. -> 8333. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "casemix",
                        .period = "all",
                        .members = "3",
                        .excluded = "1",
                        .baseline = "0.750000",
                        .points = "8.333333",
                        .percent = "11.111111",
                        .avoided = "0.250000",
                        .units = "8.333333",
                        .amount_pence = 8333});
    /* freq (frequency, per reoffender, exclude breach, rate 3, per avoided,
     * 100.00): OGRS not needed: members 4, excluded 0. F = 3 (A's c1; c2 is
     * a breach) + 1 (B) = 4; reoffenders 2; actual 4 / 2 = 2; points 100;
     * percent 33.3333..; avoided (3 - 2) x 2 reoffenders = 2: 200.00. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "freq",
                        .period = "all",
                        .members = "4",
                        .excluded = "0",
                        .reoffenders = "2",
                        .reoffences = "4",
                        .actual = "2.000000",
                        .baseline = "3.000000",
                        .points = "100.000000",
                        .percent = "33.333333",
                        .avoided = "2.000000",
                        .units = "2.000000",
                        .amount_pence = 20000});
    expect_statement(&r, "2024-07-01", 4, 44466); /* 2800 + 13333 + 8333 + 20000 */
    expect_run(&r, 7, "2023-01-01", "2024-07-01", 4, 44466);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_pooled_floor_void_spells)
{
    /* edge-misc.yaml, year_start 1, run_off 0. */
    run r;
    run_load(&r, "tests/data/schemes/edge-misc.yaml", "tests/data/schemes/edge-misc.jsonl", ORDER_FILE);
    /* nights (area X, 10 nights a quarter, 1.00 a night). P: r1 2023-01-01
     * opens a spell; r2 2023-01-05 is ignored (a spell is open); r3
     * 2023-01-11 closes it: 10 nights (Jan 1-10); r4 is ignored (none open);
     * r5 2023-03-30 opens a spell that runs on: 2 nights in Q1 (Mar 30, 31),
     * 91 in Q2. Q's reception is in area Y.
     * Q1: 12 nights, 2 spells, avoided -2: -2.00. Q2: 91, avoided -81. */
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .kind = OUT,
                        .component = "nights",
                        .period = "2023-01-01",
                        .final_on = "2023-04-01",
                        .members = "2",
                        .actual = "12.000000",
                        .baseline = "10.000000",
                        .avoided = "-2.000000",
                        .amount_pence = -200});
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "nights",
                        .period = "2023-04-01",
                        .final_on = "2023-07-01",
                        .members = "1",
                        .actual = "91.000000",
                        .avoided = "-81.000000",
                        .amount_pence = -8100});
    /* Window 2023-01-01: A, B; E's release is voided (v1 recorded 2023-04-01):
     * not a member. n = 2, no reoffender: avoided 0.5 x 2 = 1: 100.00 in each
     * of the two binary components; final 2024-10-01 -> statement 2024-07-01. */
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pool-zero",
                        .period = "2023-01-01",
                        .members = "2",
                        .reoffenders = "0",
                        .avoided = "1.000000",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "pool-missed",
                        .period = "2023-01-01",
                        .members = "2",
                        .amount_pence = 10000});
    /* Window 2023-04-01: C and D both reoffend: actual 1, points -50,
     * avoided -1: negative units -> 0: amount 0. Final 2025-01-01 ->
     * statement 2024-10-01. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = OUT,
                        .component = "pool-zero",
                        .period = "2023-04-01",
                        .final_on = "2025-01-01",
                        .members = "2",
                        .reoffenders = "2",
                        .actual = "1.000000",
                        .points = "-50.000000",
                        .avoided = "-1.000000",
                        .units = "0.000000",
                        .amount_pence = 0});
    /* pool-zero pooled (gate 0 points): 4 members, 2 reoffenders, actual 0.5 =
     * baseline: points 0 >= 0: met; avoided 0 (= 1 + -1); pooled amount 0,
     * minus the window lines 10000 + 0: max(0, -10000) = 0. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = POOL,
                        .component = "pool-zero",
                        .period = "pooled",
                        .final_on = "2025-01-01",
                        .members = "4",
                        .reoffenders = "2",
                        .actual = "0.500000",
                        .baseline = "0.500000",
                        .points = "0.000000",
                        .avoided = "0.000000",
                        .threshold_met = "true",
                        .amount_pence = 0});
    /* pool-missed: the same pooled figures, points 0 < 40: no pooled line. */
    EXPECT(&r, count_issues(&r, POOL, "pool-missed", "pooled", NULL) == 0, "pool-missed: pooled gate was missed");
    expect_statement(&r, "2024-10-01", 3, 0);
    const pbr_statement *s = statement_for(&r, "2024-10-01");
    EXPECT(&r,
           strcmp(s->lines[0].component, "pool-zero") == 0 && s->lines[1].kind == POOL &&
               strcmp(s->lines[2].component, "pool-missed") == 0,
           "order: by component, the pooled line last within it");
    /* 8 statements 2023-01-01 .. 2024-10-01; -200 - 8100 + 10000 + 10000. */
    expect_run(&r, 8, "2023-01-01", "2024-10-01", 7, 11700);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_line_disappears)
{
    /* edge-gone.yaml: quarterly window 2023-01-01, follow_up 3, waiting 0,
     * baseline 0.5, 100.00 per reoffender avoided. B released 2023-03-01, no
     * conviction: avoided 0.5: 50.00, final on add_months(2023-04-01, 3) =
     * 2023-07-01 -> statement 2023-04-01 (as of 2023-07-31).
     * B's release is voided by v1, recorded 2023-08-25: as of A(2023-07-01) =
     * 2023-10-31 the window has no member and the line no longer exists:
     * recomputed 0, adjustment -5000 with previous 5000.
     * Range 2023-01-01 .. 2023-04-01 + run_off 1 = 2023-07-01: 3 statements. */
    run r;
    run_load(&r, "tests/data/schemes/edge-gone.yaml", "tests/data/schemes/edge-gone.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "b",
                        .period = "2023-01-01",
                        .final_on = "2023-07-01",
                        .members = "1",
                        .avoided = "0.500000",
                        .amount_pence = 5000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = ADJ,
                        .component = "b",
                        .period = "2023-01-01",
                        .previous_pence = "5000",
                        .amount_pence = -5000});
    expect_run(&r, 3, "2023-01-01", "2023-07-01", 2, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_disposals_history)
{
    /* edge-disposals.yaml, calendar years, run_off 0.
     * d: year 2023, final on add_months(2024-01-01, 3) = 2024-04-01 ->
     * statement 2024-01-01. Actual: custody 0, fine 1 (h5); the caution h6 is
     * not priced: members 1; actual value 1 x 10.00 = 10.00.
     * Baseline history 2 = mean of 2022 and 2021 by kind: custody (2 + 1) / 2
     * = 1.5, fine (1 + 0) / 2 = 0.5: value 1.5 x 1000 + 0.5 x 10 = 1,505.00.
     * Saving 1,495.00 (avoided); percent 1495 / 1505 = 99.3355481..%;
     * x 50% = 747.50. */
    run r;
    run_load(&r, "tests/data/schemes/edge-disposals.yaml", "tests/data/schemes/edge-disposals.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "d",
                        .period = "2023",
                        .final_on = "2024-04-01",
                        .members = "1",
                        .reoffenders = "null",
                        .actual = "10.000000",
                        .baseline = "1505.000000",
                        .percent = "99.335548",
                        .avoided = "1495.000000",
                        .amount_pence = 74750});
    /* The disposals line is provisional from the year's first quarter,
     * figured as of A(2023-01-01) = 2023-05-01, before h5: actual 0, saving
     * 1,505.00, x 50% = 752.50. */
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .provisional = 1,
                        .kind = OUT,
                        .component = "d",
                        .period = "2023",
                        .members = "0",
                        .actual = "0.000000",
                        .avoided = "1505.000000",
                        .amount_pence = 75250});
    /* rated: rates keyed by the year label "2023": R1 released 2023-12-31,
     * no conviction: avoided 0.5 x 1: 50.00; final on add_months(2024-01-01,
     * 3) = 2024-04-01. */
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "rated",
                        .period = "2023",
                        .final_on = "2024-04-01",
                        .members = "1",
                        .baseline = "0.500000",
                        .avoided = "0.500000",
                        .amount_pence = 5000});
    /* Range 2023-01-01 .. 2024-01-01: 5 statements; 74750 + 5000. */
    expect_run(&r, 5, "2023-01-01", "2024-01-01", 2, 79750);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_frequency_pooled_segments)
{
    /* edge-freq-pooled.yaml: quarterly windows, frequency per reoffender
     * (counts offences), gate avoided >= 1, per avoided from the threshold,
     * tiers (0,1] at 10.00, above at 20.00; segments s1 (flag S1, rate 3) and
     * s2 (rate 4); pooled gate avoided >= 1. Everyone reoffends once, with
     * offences A 3, B 1, C 5, D 1, E 1, F 2.
     * Q1 window (final 2024-10-01 -> statement 2024-07-01):
     *   s1 A, B: F 4, reoffenders 2, actual 2, avoided (3 - 2) x 2 = 2 >= 1,
     *   units 2 - 1 = 1: 10.00.
     *   s2 C: F 5, actual 5, avoided (4 - 5) x 1 = -1 < 1: below 0. */
    run r;
    run_load(&r, "tests/data/schemes/edge-freq-pooled.yaml", "tests/data/schemes/edge-freq-pooled.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "f",
                        .period = "2023-01-01",
                        .segment = "s1",
                        .members = "2",
                        .reoffenders = "2",
                        .reoffences = "4",
                        .actual = "2.000000",
                        .avoided = "2.000000",
                        .threshold_met = "true",
                        .units = "1.000000",
                        .amount_pence = 1000});
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "f",
                        .period = "2023-01-01",
                        .segment = "s2",
                        .reoffences = "5",
                        .actual = "5.000000",
                        .avoided = "-1.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    /* Q2 window (final 2025-01-01 -> statement 2024-10-01):
     *   s1 D: avoided (3 - 1) x 1 = 2, units 1: 10.00.
     *   s2 E, F: F 3, actual 1.5, avoided (4 - 1.5) x 2 = 5, units 4:
     *   1 x 10 + 3 x 20 = 70.00. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = OUT,
                        .component = "f",
                        .period = "2023-04-01",
                        .segment = "s1",
                        .avoided = "2.000000",
                        .units = "1.000000",
                        .amount_pence = 1000});
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = OUT,
                        .component = "f",
                        .period = "2023-04-01",
                        .segment = "s2",
                        .actual = "1.500000",
                        .avoided = "5.000000",
                        .units = "4.000000",
                        .amount_pence = 7000});
    /* Pooled s1: reoffenders 3, F 5, actual 5/3; baseline weighted by
     * reoffenders (3 x 2 + 3 x 1) / 3 = 3; avoided (3 - 5/3) x 3 = 4 (= 2 + 2);
     * units 3: 10 + 2 x 20 = 50.00, minus 10.00 + 10.00 = 30.00. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = POOL,
                        .component = "f",
                        .period = "pooled",
                        .segment = "s1",
                        .members = "3",
                        .reoffenders = "3",
                        .reoffences = "5",
                        .actual = "1.666667",
                        .baseline = "3.000000",
                        .avoided = "4.000000",
                        .threshold_met = "true",
                        .units = "3.000000",
                        .amount_pence = 3000});
    /* Pooled s2: reoffenders 3, F 8, actual 8/3; baseline 4; avoided
     * (4 - 8/3) x 3 = 4 (= -1 + 5); 50.00 minus 0 + 70.00: max(0, -20.00) = 0. */
    expect_line(&r,
                &(want){.quarter = "2024-10-01",
                        .kind = POOL,
                        .component = "f",
                        .period = "pooled",
                        .segment = "s2",
                        .reoffences = "8",
                        .actual = "2.666667",
                        .baseline = "4.000000",
                        .avoided = "4.000000",
                        .units = "3.000000",
                        .amount_pence = 0});
    const pbr_statement *s = statement_for(&r, "2024-10-01");
    EXPECT(&r, s->nlines == 4 && s->lines[2].kind == POOL && strcmp(s->lines[3].segment, "s2") == 0,
           "order: window lines, then pooled lines by segment");
    /* 2023-01-01 .. 2024-10-01 (run_off 0): 8 statements, 6 lines. */
    expect_run(&r, 8, "2023-01-01", "2024-10-01", 6, 12000);
    run_free(&r);
}
END_TEST

START_TEST(test_edge_clean_period_boundaries)
{
    /* edge-clean.yaml: whole window, follow_up 12, waiting 3, 100.00 each.
     * A released 2023-01-15: offence 2024-01-15 = S is outside [clock, S):
     *   no restart; succeeds on F = add_months(2024-01-15, 3) = 2024-04-15.
     * B released 2023-01-20: offence 2023-01-10 is before the clock: ignored;
     *   succeeds on 2024-04-20.
     * C released 2023-02-28: offence 2023-06-15 restarts the clock after the
     *   contract's end (2023-03-31): C never succeeds.
     * One line: quarter 2024-04-01, final on 2024-07-01, members 2, 200.00.
     * Range: quarter containing add_months(2023-03-31, 12 + 3) =
     * 2024-06-30, i.e. 2024-04-01, run_off 0: 6 statements. */
    run r;
    run_load(&r, "tests/data/schemes/edge-clean.yaml", "tests/data/schemes/edge-clean.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-04-01",
                        .kind = OUT,
                        .component = "c",
                        .period = "2024-04-01",
                        .final_on = "2024-07-01",
                        .members = "2",
                        .amount_pence = 20000});
    expect_run(&r, 6, "2023-01-01", "2024-04-01", 1, 20000);
    run_free(&r);
}
END_TEST

/* ---- Community Rehabilitation Company (SPEC 5.9) --------------------------------------- */

START_TEST(test_crc)
{
    /* contracts/crc.yaml over crc.jsonl: settlement years from April;
     * quarterly community_start cohorts of provider crc-north; follow_up 12,
     * waiting 6: window final_on = add_months(window.to, 18).
     * reoffending: binary, b = 0.34, significance z = 1.96: z^2 V = 3.8416 x
     *   0.34 x 0.66 = 0.86205504; 3,000.00 per reoffender avoided; annual
     *   top-up with the same gate.
     * frequency: per reoffender, b = 2.6, 700.00 per reoffence avoided,
     *   hurdle reoffending.
     *
     * Window 2015-04-01 (final 2017-01-01, statement 2016-10-01): 14 members
     *   (M1 twice: one membership; N01 is another provider's). R1 reoffends
     *   with 2 offences. a = 1/14; (0.34 - 1/14)^2 x 14 = 3.76^2 / 14 =
     *   1.009829 >= 0.862055: met. points 26.857143, percent 3.76 / 4.76 x
     *   100 = 78.991597, avoided 0.34 x 14 - 1 = 3.76: 11,280.00.
     *   frequency: hurdle met; F 2, reoffenders 1: actual 2, avoided
     *   (2.6 - 2) x 1 = 0.6: 420.00.
     *   The foundation's 2015-04-01-recovery (-50,000.00, final 2017-01-01)
     *   is in the same statement, among the fees.
     * Window 2015-07-01 (final 2017-04-01, statement 2017-01-01): 6 members,
     *   R2 reoffends (4 offences): (0.34 - 1/6)^2 x 6 = 1.04^2 / 6 =
     *   0.180267 < 0.862055: missed, 0.00 (below 0). frequency: hurdle
     *   missed: 0.00, threshold_met false, units null.
     * Window 2015-10-01: no members, no lines.
     * Window 2016-01-01 (final 2017-10-01, statement 2017-07-01): L01, late
     *   (recorded 2016-09-01): n 1, a 0: 0.34^2 = 0.1156 < 0.862055: missed.
     *   frequency: hurdle missed, 0.00.
     * Pooled 2015-16 (final on the latest, 2017-10-01): n 21, reoffenders 2,
     *   a = 2/21: (0.34 - 2/21)^2 x 21 = 5.14^2 / 21 = 1.258076 >= 0.862055:
     *   met; points 24.476190; avoided 7.14 - 2 = 5.14: 15,420.00, net of
     *   the year's window lines (11,280.00 + 0 + 0): 4,140.00.
     * Volume (community starts of crc-north, every event; band 1800..2200,
     *   250.00 an order): 2015-16 at A(2016-04-01) = 2016-07-31: 15 + 6 =
     *   21 (L01 not yet recorded): (21 - 1800) x 250 = -444,750.00, final
     *   add_months(2016-04-01, 3) = 2016-07-01; at A(2016-07-01) =
     *   2016-10-31, 22: -444,500.00: an adjustment of +250.00 (outside the
     *   cap). 2016-17: 0: -1800 x 250 = -450,000.00, final 2017-07-01.
     * Range: the last final_on is window 2017-01-01's, add_months(2017-04-01,
     *   18) = 2018-10-01 (also the last recovery's): quarter 2018-07-01 + 4
     *   run-off quarters: 2015-04-01 .. 2019-07-01, 18 statements.
     * Lines: service 8 + foundation 8 + recovery 8 + volume 2 + volume
     *   adjustment 1 + reoffending 3 + frequency 3 + pooled 1 = 34.
     * Sum (pence): 8 x 60,000,000 + (8 - 8) x 5,000,000 - 44,475,000 +
     *   25,000 - 45,000,000 + 1,128,000 + 42,000 + 414,000 = 392,134,000. */
    run r;
    run_load(&r, "contracts/crc.yaml", "tests/data/schemes/crc.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2016-10-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2015-04-01",
                        .final_on = "2017-01-01",
                        .members = "14",
                        .excluded = "0",
                        .reoffenders = "1",
                        .reoffences = "2",
                        .actual = "0.071429",
                        .baseline = "0.340000",
                        .points = "26.857143",
                        .percent = "78.991597",
                        .avoided = "3.760000",
                        .threshold_met = "true",
                        .units = "3.760000",
                        .amount_pence = 1128000});
    expect_line(&r,
                &(want){.quarter = "2016-10-01",
                        .kind = OUT,
                        .component = "frequency",
                        .period = "2015-04-01",
                        .members = "14",
                        .reoffenders = "1",
                        .reoffences = "2",
                        .actual = "2.000000",
                        .baseline = "2.600000",
                        .avoided = "0.600000",
                        .threshold_met = "true",
                        .units = "0.600000",
                        .amount_pence = 42000});
    expect_line(&r,
                &(want){.quarter = "2016-10-01",
                        .kind = FEE,
                        .component = "foundation",
                        .period = "2015-04-01-recovery",
                        .final_on = "2017-01-01",
                        .amount_pence = -5000000});
    expect_line(&r,
                &(want){.quarter = "2017-01-01",
                        .kind = OUT,
                        .component = "reoffending",
                        .period = "2015-07-01",
                        .members = "6",
                        .reoffenders = "1",
                        .avoided = "1.040000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2017-01-01",
                        .kind = OUT,
                        .component = "frequency",
                        .period = "2015-07-01",
                        .members = "6",
                        .reoffences = "4",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2017-07-01",
                        .kind = OUT,
                        .component = "frequency",
                        .period = "2016-01-01",
                        .members = "1",
                        .threshold_met = "false",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2017-07-01",
                        .kind = POOL,
                        .component = "reoffending",
                        .period = "2015-16",
                        .final_on = "2017-10-01",
                        .members = "21",
                        .excluded = "0",
                        .reoffenders = "2",
                        .points = "24.476190",
                        .avoided = "5.140000",
                        .threshold_met = "true",
                        .units = "5.140000",
                        .amount_pence = 414000});
    expect_line(&r,
                &(want){.quarter = "2016-04-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2015-16-volume",
                        .final_on = "2016-07-01",
                        .amount_pence = -44475000});
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = ADJ,
                        .component = "service",
                        .period = "2015-16-volume",
                        .previous_pence = "-44475000",
                        .amount_pence = 25000});
    expect_line(&r,
                &(want){.quarter = "2017-04-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2016-17-volume",
                        .final_on = "2017-07-01",
                        .amount_pence = -45000000});
    EXPECT(&r, count_issues(&r, OUT, "reoffending", "2015-10-01", NULL) == 0, "an empty window has no line");
    expect_run(&r, 18, "2015-04-01", "2019-07-01", 34, 392134000);
    run_free(&r);
}
END_TEST

/* ---- Determinism: the event file is a set ------------------------------------------------ */

START_TEST(test_determinism_doncaster)
{
    expect_same_statements("contracts/doncaster.yaml", "tests/data/schemes/doncaster.jsonl");
}
END_TEST

START_TEST(test_determinism_void_before_target)
{
    /* Reversed, the voids come before their targets. */
    expect_same_statements("tests/data/schemes/edge-binary.yaml", "tests/data/schemes/edge-void.jsonl");
}
END_TEST

START_TEST(test_determinism_crc)
{
    expect_same_statements("contracts/crc.yaml", "tests/data/schemes/crc.jsonl");
}
END_TEST

START_TEST(test_determinism_lewisham)
{
    expect_same_statements("contracts/lewisham.yaml", "tests/data/schemes/lewisham.jsonl");
}
END_TEST

/* SPEC 4: every sum of pence is checked. A custody_nights line of a
 * 10^15-night baseline at the largest price, 1,000,000,000,000.00 a night
 * avoided, with no receptions at all: 10^15 x 10^12 pounds = 10^29 pence,
 * far beyond int64. Settling it is an error naming the contract and the
 * quarter, never a clamped or wrapped figure. */
static int no_statement(void *ctx, const pbr_statement *st)
{
    (void)ctx;
    (void)st;
    ck_abort_msg("a statement was issued with an out-of-range amount");
    return 1;
}

START_TEST(test_pence_overflow_is_an_error)
{
    const char *y = "contract: t\ntitle: T\nprovider: p\nstart: 2012-04-01\nend: 2012-06-30\n"
                    "outcomes:\n  - id: n\n    measure: custody_nights\n    baseline: {nights: 1000000000000000}\n"
                    "    pay: {price: 1000000000000.00}\n";
    pbr_contract *c;
    pbr_diag d;
    ck_assert_int_eq(pbr_contract_parse("o.yaml", y, strlen(y), &c, &d), 0);
    pbr_eventset *ev = pbr_eventset_new();
    char err[PBR_ERR_MAX];
    ck_assert_int_eq(pbr_eventset_finish(ev, 1, err, sizeof err), 0);
    pbr_eval_view view = {.contract = c, .events = ev, .events_through = 0};
    pbr_series_request series = {.through = PBR_DATE_MAX, .each = no_statement};
    ck_assert_int_eq(pbr_settle_all(&view, &series, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "settle t 2012-04-01: an amount in pence overflows") != NULL, "%s", err);
    pbr_eventset_destroy(&ev);
    pbr_contract_destroy(&c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("schemes");
    TCase *t = tcase_create("schemes");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_contracts_load);
    tcase_add_test(t, test_pence_overflow_is_an_error);
    tcase_add_test(t, test_doncaster);
    tcase_add_test(t, test_peterborough);
    tcase_add_test(t, test_lewisham);
    tcase_add_test(t, test_gm_fim);
    tcase_add_test(t, test_ippr_custody);
    tcase_add_test(t, test_accelerator);
    tcase_add_test(t, test_rising_share);
    tcase_add_test(t, test_national_tariffs);
    tcase_add_test(t, test_crc);
    suite_add_tcase(s, t);

    TCase *e = tcase_create("edges");
    tcase_set_timeout(e, 60);
    tcase_add_test(e, test_edge_offence_on_index_date);
    tcase_add_test(e, test_edge_conviction_at_waiting_end);
    tcase_add_test(e, test_edge_31_august_plus_6_months);
    tcase_add_test(e, test_edge_gate_exactly_met);
    tcase_add_test(e, test_edge_members_first);
    tcase_add_test(e, test_edge_void);
    tcase_add_test(e, test_edge_late_conviction_adjustment);
    tcase_add_test(e, test_edge_half_even);
    tcase_add_test(e, test_edge_tier_boundary);
    tcase_add_test(e, test_edge_line_cap);
    tcase_add_test(e, test_edge_contract_cap);
    tcase_add_test(e, test_edge_pooled);
    tcase_add_test(e, test_edge_ogrs_size_per_reoffender);
    tcase_add_test(e, test_edge_pooled_floor_void_spells);
    tcase_add_test(e, test_edge_line_disappears);
    tcase_add_test(e, test_edge_disposals_history);
    tcase_add_test(e, test_edge_frequency_pooled_segments);
    tcase_add_test(e, test_edge_clean_period_boundaries);
    suite_add_tcase(s, e);

    TCase *d = tcase_create("determinism");
    tcase_set_timeout(d, 60);
    tcase_add_test(d, test_determinism_doncaster);
    tcase_add_test(d, test_determinism_void_before_target);
    tcase_add_test(d, test_determinism_lewisham);
    tcase_add_test(d, test_determinism_crc);
    suite_add_tcase(s, d);
    return s;
}

PBR_CHECK_MAIN(make_suite)

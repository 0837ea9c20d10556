/* test_mechanism.c -- the Transforming Rehabilitation mechanism (SPEC.md
 * 5.9): each of the five keys alone, the CRC contract using all five, the
 * load errors 5.9 names (file:line:col), and shuffled event files giving
 * byte-identical statements. Figures are worked out BY HAND from the spec;
 * the arithmetic is in the comments.
 *
 * Contracts and events: tests/data/mechanism/ and contracts/crc.yaml.
 * Conventions: A(Q) = Q.next + 30 days is the as-of date of the statement
 * for quarter Q; a line final on F is in the statement of the quarter Q
 * with Q.next = F.
 */
#include <check.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "daemon_harness.h"
#include "libpbr/eval/eval.h"
#include "scheme_harness.h"
#include "settle_helpers.h"

#define DATA "tests/data/mechanism/"

/* ---- 5.9.1 hurdle ------------------------------------------------------------------ */

START_TEST(test_hurdle)
{
    /* hurdle.yaml: quarterly windows 2023 Q1..Q3; follow_up 6, waiting 3:
     * window final_on = add_months(window.to, 9): Q1 2024-01-01 (statement
     * 2023-10-01), Q2 2024-04-01 (2024-01-01), Q3 2024-07-01 (2024-04-01).
     * bin: binary, baseline 0.5, gate 10 points, below -20.00, 10.00 a
     * point, weight ogrs (every member with OGRS has 0.5, so weights do not
     * move the rates). freq: frequency, hurdle bin, baseline 3 offences a
     * member, 100.00 per offence avoided, below -30.00.
     *
     * Q1: A, B, C (OGRS 0.5); B has one conviction with 2 offences.
     *   bin: actual 1/3, points (0.5 - 1/3) x 100 = 16.666667 >= 10: met;
     *     16.666...7 x 10.00 = 166.666... -> 166.67.
     *   freq: hurdle met, pays by its own rule: F = 2, actual 2/3,
     *     avoided (3 - 2/3) x 3 = 7: 700.00.
     * Q2: E, G (OGRS 0.5), both reoffend (1 offence each).
     *   bin: actual 1, points -50 < 10: missed, below -20.00.
     *   freq: would pay (3 - 1) x 2 = 4 x 100.00, but the hurdle is missed
     *     (a hurdle missed): its below -30.00, threshold_met false, units
     *     null.
     * Q3: D, no OGRS: excluded from bin (weight ogrs), so bin has no Q3
     *   line; freq has member D but no line (a hurdle line with no members).
     * freq's pooled rule (gate 0 avoided) pools the windows with a freq line
     *   (README: a choice where 5.9 is silent), Q1 and Q2, not D's Q3:
     *   n 5, F 4, actual 0.8, baseline 3, avoided (3 - 0.8) x 5 = 11
     *   (= 7 + 4): 1,100.00, net of the window lines as paid after the hurdle
     *   (700.00 - 30.00): 430.00. Final on the latest window's, 2024-07-01.
     *   (Pooling D too would give (3 - 4/6) x 6 = 14.)
     * Range 2023-01-01 .. 2024-04-01: 6 statements; 5 lines;
     * 16667 + 70000 - 2000 - 3000 + 43000 = 124667. */
    run r;
    run_load(&r, DATA "hurdle.yaml", DATA "hurdle.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-01-01",
                        .final_on = "2024-01-01",
                        .members = "3",
                        .reoffenders = "1",
                        .points = "16.666667",
                        .threshold_met = "true",
                        .units = "16.666667",
                        .amount_pence = 16667});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "freq",
                        .period = "2023-01-01",
                        .final_on = "2024-01-01",
                        .members = "3",
                        .reoffenders = "1",
                        .reoffences = "2",
                        .actual = "0.666667",
                        .baseline = "3.000000",
                        .avoided = "7.000000",
                        .threshold_met = "true",
                        .units = "7.000000",
                        .amount_pence = 70000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-04-01",
                        .members = "2",
                        .points = "-50.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -2000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "freq",
                        .period = "2023-04-01",
                        .members = "2",
                        .reoffences = "2",
                        .actual = "1.000000",
                        .avoided = "4.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -3000});
    EXPECT(&r, count_issues(&r, OUT, "freq", "2023-07-01", NULL) == 0, "freq has a line without its hurdle's");
    expect_line(&r,
                &(want){.quarter = "2024-04-01",
                        .kind = POOL,
                        .component = "freq",
                        .period = "pooled",
                        .final_on = "2024-07-01",
                        .members = "5",
                        .excluded = "0",
                        .reoffences = "4",
                        .actual = "0.800000",
                        .baseline = "3.000000",
                        .avoided = "11.000000",
                        .amount_pence = 43000});
    expect_statement(&r, "2024-04-01", 1, 43000);
    expect_run(&r, 6, "2023-01-01", "2024-04-01", 5, 124667);
    run_free(&r);
}
END_TEST

/* ---- 5.9.2 annual top-up ------------------------------------------------------------ */

START_TEST(test_annual_topup)
{
    /* topup.yaml: settlement years from April; quarterly windows from
     * 2015-04-01 to 2016-04-01; follow_up 3, waiting 0: final_on =
     * add_months(window.to, 3). Baseline 0.6, window gate 20 points, 100.00
     * per reoffender avoided; pooled over each settlement year, gate 5
     * points.
     * 2015-16:
     *   Q 2015-04-01: A (reoffends), B: actual 0.5, points 10 < 20: 0.00
     *     (below 0); avoided (0.6 - 0.5) x 2 = 0.2. Final 2015-10-01.
     *   Q 2015-07-01: C, D: actual 0, points 60: met; avoided 1.2: 120.00.
     *     Final 2016-01-01.
     *   Q 2015-10-01: no members, no line (final would be 2016-04-01).
     *   Q 2016-01-01: E (reoffends), G: points 10: 0.00; avoided 0.2.
     *     Final 2016-07-01.
     *   Pooled "2015-16": n 6, reoffenders 2, actual 1/3, baseline 0.6,
     *     points 26.666667 >= 5; avoided (0.6 - 1/3) x 6 = 1.6 (= 0.2 + 1.2
     *     + 0.2): 160.00, net of the year's window lines 0 + 120.00 + 0:
     *     40.00. Final on the latest window's, 2016-07-01: statement
     *     2016-04-01, after the Q 2016-01-01 line.
     * 2016-17: Q 2016-04-01: K, L: avoided 1.2: 120.00, final 2016-10-01;
     *   pooled "2016-17": the same figures, 120.00 - 120.00 = 0.00.
     * Range 2015-04-01 .. 2016-07-01: 6 statements, 6 lines, 28000. */
    run r;
    run_load(&r, DATA "topup.yaml", DATA "topup.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2015-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2015-04-01",
                        .final_on = "2015-10-01",
                        .points = "10.000000",
                        .avoided = "0.200000",
                        .threshold_met = "false",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2015-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2015-07-01",
                        .avoided = "1.200000",
                        .amount_pence = 12000});
    expect_line(&r,
                &(want){.quarter = "2016-04-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "2015-16",
                        .final_on = "2016-07-01",
                        .members = "6",
                        .excluded = "0",
                        .reoffenders = "2",
                        .actual = "0.333333",
                        .baseline = "0.600000",
                        .points = "26.666667",
                        .avoided = "1.600000",
                        .threshold_met = "true",
                        .units = "1.600000",
                        .amount_pence = 4000});
    const pbr_statement *s = statement_for(&r, "2016-04-01");
    EXPECT(&r, s && s->nlines == 2 && s->lines[0].kind == OUT && s->lines[1].kind == POOL,
           "2016-04-01: the window line, then the pooled line");
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2016-04-01",
                        .final_on = "2016-10-01",
                        .amount_pence = 12000});
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "2016-17",
                        .final_on = "2016-10-01",
                        .members = "2",
                        .amount_pence = 0});
    expect_run(&r, 6, "2015-04-01", "2016-07-01", 6, 28000);
    run_free(&r);
}
END_TEST

/* ---- 5.9.3 significance gate --------------------------------------------------------- */

START_TEST(test_significance_gate)
{
    /* significant.yaml: quarterly windows Q1, Q2 2023; follow_up 3, waiting
     * 0: finals Q1 2023-07-01 (statement 2023-04-01), Q2 2023-10-01
     * (statement 2023-07-01).
     * bin: baseline 0.5, gate significant z = 2, below -50.00, 10.00 a
     *   point, excludes category minor. V = b (1 - b) = 0.25; z^2 V = 1.
     *   Q1: A, B, C, D; A's only conviction is minor (excluded): a = 0.
     *     (b - a)^2 n = 0.25 x 4 = 1 = z^2 V: met exactly at equality;
     *     points 50: 500.00.
     *   Q2: E, G, H, a = 0: 0.25 x 3 = 0.75 < 1: missed: -50.00.
     *   Pooled (gate significant 2): n 7, a 0, b 0.5: 0.25 x 7 = 1.75 >= 1:
     *     met; points 50: 500.00 - (500.00 - 50.00) = 50.00. Final on
     *     2023-10-01.
     * frq: baseline 1 offence a member, gate significant z = 1, V = b = 1,
     *   z^2 V = 1; 100.00 per offence avoided; no exclude.
     *   Q1: F = 2 (A's 2 offences), a = 2/4 = 0.5: (1 - 0.5)^2 x 4 = 1 = 1:
     *     met at equality; avoided (1 - 0.5) x 4 = 2: 200.00.
     *   Q2: F = 0: (1 - 0)^2 x 3 = 3 >= 1: met; avoided 3: 300.00.
     * 3 statements; 5 lines; 50000 + 20000 - 5000 + 30000 + 5000 = 100000. */
    run r;
    run_load(&r, DATA "significant.yaml", DATA "significant.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-01-01",
                        .members = "4",
                        .reoffenders = "0",
                        .actual = "0.000000",
                        .points = "50.000000",
                        .threshold_met = "true",
                        .units = "50.000000",
                        .amount_pence = 50000});
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-01-01",
                        .members = "4",
                        .reoffences = "2",
                        .actual = "0.500000",
                        .avoided = "2.000000",
                        .threshold_met = "true",
                        .amount_pence = 20000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-04-01",
                        .members = "3",
                        .points = "50.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -5000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-04-01",
                        .members = "3",
                        .avoided = "3.000000",
                        .threshold_met = "true",
                        .amount_pence = 30000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = POOL,
                        .component = "bin",
                        .period = "pooled",
                        .final_on = "2023-10-01",
                        .members = "7",
                        .points = "50.000000",
                        .threshold_met = "true",
                        .amount_pence = 5000});
    expect_run(&r, 3, "2023-01-01", "2023-07-01", 5, 100000);
    run_free(&r);
}
END_TEST

/* The gate of 5.9.3 on its own (eval_significant), where a square root
 * would be inexact. */
static int sig(const char *z, int64_t n, const char *a, const char *b, int binary)
{
    mpq_t qz, qa, qb;
    mpq_inits(qz, qa, qb, NULL);
    ck_assert_int_eq(mpq_set_str(qz, z, 10), 0);
    ck_assert_int_eq(mpq_set_str(qa, a, 10), 0);
    ck_assert_int_eq(mpq_set_str(qb, b, 10), 0);
    mpq_canonicalize(qz);
    mpq_canonicalize(qa);
    mpq_canonicalize(qb);
    int met = eval_significant(qz, n, qa, qb, binary ? PBR_M_BINARY : PBR_M_FREQUENCY);
    mpq_clears(qz, qa, qb, NULL);
    return met;
}

START_TEST(test_significance_exact)
{
    /* binary, b = 1/2, V = 1/4; z = 2: z^2 V = 1. a = 0: (1/2)^2 n = n/4:
     * n = 4 -> 1 >= 1 met (equality); n = 3 -> 3/4 < 1 not met. */
    ck_assert_int_eq(sig("2", 4, "0", "1/2", 1), 1);
    ck_assert_int_eq(sig("2", 3, "0", "1/2", 1), 0);
    /* a = b and a > b never meet it, whatever n. */
    ck_assert_int_eq(sig("0", 1000, "1/2", "1/2", 1), 0);
    ck_assert_int_eq(sig("0", 1000, "3/5", "1/2", 1), 0);
    /* z = 1.96 = 49/25, b = 0.58 = 29/50, V = 29/50 x 21/50 = 609/2500;
     * z^2 V = 2401/625 x 609/2500 = 1462209/1562500. a = 0.48 = 12/25,
     * (b - a)^2 = (1/10)^2 = 1/100: n/100 >= 1462209/1562500 <=> n >=
     * 93.58...: n = 94 met, n = 93 not (sqrt would round near here). */
    ck_assert_int_eq(sig("49/25", 94, "12/25", "29/50", 1), 1);
    ck_assert_int_eq(sig("49/25", 93, "12/25", "29/50", 1), 0);
    /* frequency: V = b = 2, z = 2: z^2 V = 8; a = 0: 4n >= 8 <=> n >= 2. */
    ck_assert_int_eq(sig("2", 2, "0", "2", 0), 1);
    ck_assert_int_eq(sig("2", 1, "0", "2", 0), 0);
}
END_TEST

/* ---- 5.9.4 volume ---------------------------------------------------------------------- */

START_TEST(test_volume_band)
{
    /* volume.yaml: settlement years from April, 2015-16 .. 2017-18; fee
     * service 1,000.00 a quarter (12 quarters); volume: community orders in
     * LEEDS, band [2, 3], 50.00 each outside it; the volume line of year Y
     * is final on add_months(Y.next, 3).
     * 2015-16: v1, v2, v3 in LEEDS (x1 is YORK, x2 a release: not counted):
     *   c = 3, inside the band: 0.00; final 2016-07-01, statement 2016-04-01
     *   (A = 2016-07-31), where it comes before the quarterly line of the
     *   same final_on.
     *   v4 (2015-09-01) is recorded 2016-09-01: visible at A(2016-07-01) =
     *   2016-10-31: c = 4 > 3: (4 - 3) x 50.00 = 50.00: an adjustment of
     *   +50.00 on previous 0 (a late index event after the line is final).
     * 2016-17: v5..v9: c = 5 > 3: (5 - 3) x 50.00 = 100.00 (above the band);
     *   final 2017-07-01.
     * 2017-18: c = 0 < 2: (0 - 2) x 50.00 = -100.00 (below: a clawback);
     *   final 2018-07-01, statement 2018-04-01 (the range covers it).
     * The contract cap of 0.01 does not touch them: volume lines and their
     * adjustments are fee lines, outside contract_cap.
     * 13 statements 2015-04-01 .. 2018-04-01; 12 + 3 + 1 = 16 lines;
     * 12 x 100000 + 0 + 5000 + 10000 - 10000 = 1205000. */
    run r;
    run_load(&r, DATA "volume.yaml", DATA "volume.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2016-04-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2015-16-volume",
                        .final_on = "2016-07-01",
                        .amount_pence = 0});
    const pbr_statement *s = statement_for(&r, "2016-04-01");
    EXPECT(&r,
           s && s->nlines == 2 && strcmp(s->lines[0].period, "2015-16-volume") == 0 &&
               strcmp(s->lines[1].period, "2016-04-01") == 0,
           "2016-04-01: the volume line comes before the quarterly line of the same final_on");
    expect_line(&r,
                &(want){.quarter = "2016-07-01",
                        .kind = ADJ,
                        .component = "service",
                        .period = "2015-16-volume",
                        .previous_pence = "0",
                        .amount_pence = 5000});
    expect_line(&r,
                &(want){.quarter = "2017-04-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2016-17-volume",
                        .final_on = "2017-07-01",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2018-04-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2017-18-volume",
                        .final_on = "2018-07-01",
                        .amount_pence = -10000});
    for (size_t i = 0; i < r.nst; i++)
        EXPECT(&r, r.st[i]->nprovisional == 0, "volume lines are never provisional");
    expect_run(&r, 13, "2015-04-01", "2018-04-01", 16, 1205000);
    run_free(&r);
}
END_TEST

/* ---- 5.9.5 foundation advance ----------------------------------------------------------- */

START_TEST(test_foundation_advance)
{
    /* advance.yaml: quarterly windows Q1, Q2 2023; binary follow_up 3,
     * waiting 3: window final = add_months(window.to, 6): Q1 2023-10-01,
     * Q2 2024-01-01. Fee foundation 100.00 a quarter, advance_of reoff: each
     * quarter's advance is recovered (-100.00) on its window's final_on.
     * Q1: A, B no reoffence: points 50 x 10.00 = 500.00 computed; the
     *   contract cap of 400.00 pays min(0 + 500, 400) - min(0, 400) =
     *   400.00. Its recovery line 2023-01-01-recovery, -100.00, outside the
     *   cap, is in the same statement (2023-07-01), among the fees, before
     *   the outcome line: total 300.00.
     * Q2: C reoffends: actual 1, points -50, units 0: 0.00; recovery
     *   2023-04-01-recovery -100.00 in statement 2023-10-01.
     * Quarterly advances: 2023-01-01 and 2023-04-01, 100.00 each.
     * 4 statements; 6 lines; 100 + 100 - 100 - 100 + 400 + 0 = 400.00. */
    run r;
    run_load(&r, DATA "advance.yaml", DATA "advance.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .kind = FEE,
                        .component = "foundation",
                        .period = "2023-01-01",
                        .final_on = "2023-04-01",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = FEE,
                        .component = "foundation",
                        .period = "2023-01-01-recovery",
                        .final_on = "2023-10-01",
                        .amount_pence = -10000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .final_on = "2023-10-01",
                        .amount_pence = 40000});
    const pbr_statement *s = statement_for(&r, "2023-07-01");
    EXPECT(&r, s && s->nlines == 2 && s->lines[0].kind == FEE && s->lines[1].kind == OUT,
           "2023-07-01: the recovery line (a fee) first, then its window's outcome line");
    expect_statement(&r, "2023-07-01", 2, 30000);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = FEE,
                        .component = "foundation",
                        .period = "2023-04-01-recovery",
                        .final_on = "2024-01-01",
                        .amount_pence = -10000});
    expect_run(&r, 4, "2023-01-01", "2023-10-01", 6, 40000);
    run_free(&r);
}
END_TEST

/* ---- renderings --------------------------------------------------------------------- */

/* Renders the statement for quarter of r in fmt (malloc'd). */
static char *render(const run *r, const char *quarter, pbr_format fmt)
{
    const pbr_statement *s = statement_for(r, quarter);
    ck_assert_ptr_nonnull(s);
    size_t len;
    char err[PBR_ERR_MAX], *json = pbr_statement_to_json(s, &len);
    ck_assert_ptr_nonnull(json);
    char *out = pbr_statement_render(json, len, fmt, err, sizeof err);
    ck_assert_msg(out != NULL, "%s", err);
    free(json);
    return out;
}

START_TEST(test_renderings)
{
    /* The CRC contract's statements with the 5.9 fee lines in every format
     * (figures from test_crc in test_schemes.c): 2016-07-01 holds the volume
     * adjustment (+250.00 on -444,750.00), 2016-10-01 the recovery
     * -50,000.00 (final on 2017-01-01) beside its window's outcome line. */
    run r;
    run_load(&r, "contracts/crc.yaml", "tests/data/schemes/crc.jsonl", ORDER_FILE);
    char *json = render(&r, "2016-10-01", PBR_FMT_JSON);
    ck_assert_ptr_nonnull(strstr(json,
                                 "{\"kind\": \"fee\", \"component\": \"foundation\", \"period\": "
                                 "\"2015-04-01-recovery\", \"final_on\": \"2017-01-01\", \"amount_pence\": -5000000}"));
    char *csv = render(&r, "2016-10-01", PBR_FMT_CSV);
    /* columns contract, title (none given here), quarter, label, section, ...; pence then exact pounds */
    ck_assert_ptr_nonnull(
        strstr(csv, "\ncrc,,2016-10-01,2016-17 Q3,lines,fee,foundation,2015-04-01-recovery,,2017-01-01,"));
    ck_assert_ptr_nonnull(strstr(csv, ",-5000000,-50000.00\n"));
    char *yaml = render(&r, "2016-10-01", PBR_FMT_YAML);
    ck_assert_ptr_nonnull(strstr(yaml,
                                 "    period: \"2015-04-01-recovery\"\n    final_on: \"2017-01-01\"\n"
                                 "    amount_pence: -5000000\n"));
    char *text = render(&r, "2016-10-01", PBR_FMT_TEXT);
    /* the period column widens to the recovery period (19 characters) */
    ck_assert_ptr_nonnull(strstr(text,
                                 "  fee        foundation           2015-04-01-recovery -             -\xc2\xa3"
                                 "50,000.00\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "  outcome    reoffending          2015-04-01          -              \xc2\xa3"
                                 "11,280.00"));
    char *adj = render(&r, "2016-07-01", PBR_FMT_TEXT);
    ck_assert_ptr_nonnull(strstr(adj,
                                 "  adjustment service              2015-16-volume -                 \xc2\xa3"
                                 "250.00   "
                                 "(previously -\xc2\xa3"
                                 "444,750.00)\n"));
    char *adjcsv = render(&r, "2016-07-01", PBR_FMT_CSV);
    ck_assert_ptr_nonnull(strstr(adjcsv, "\ncrc,,2016-07-01,2016-17 Q2,lines,adjustment,service,2015-16-volume,"));
    ck_assert_ptr_nonnull(strstr(adjcsv, ",-44475000,-444750.00,25000,250.00\n"));
    free(json);
    free(csv);
    free(yaml);
    free(text);
    free(adj);
    free(adjcsv);
    run_free(&r);
}
END_TEST

/* ---- the daemon ----------------------------------------------------------------------- */

/* The daemon's statement (raw API reply) of contract for quarter. */
static char *daemon_statement(daemon_t *d, const char *contract, const char *quarter)
{
    char req[256];
    snprintf(req, sizeof req, "{\"op\":\"statement\",\"contract\":\"%s\",\"quarter\":\"%s\"}", contract, quarter);
    char *r = request_d(d, d->api, req, strlen(req), 30000);
    ck_assert_msg(r != NULL, "no reply to %s", req);
    return r;
}

static size_t settle_through(daemon_t *d, const char *quarter)
{
    char req[128];
    snprintf(req, sizeof req, "{\"op\":\"settle\",\"quarter\":\"%s\"}", quarter);
    json_t *r = api_call(d, req);
    ck_assert_msg(json_is_array(json_object_get(r, "issued")), "settle %s failed", quarter);
    size_t n = json_array_size(json_object_get(r, "issued"));
    json_decref(r);
    return n;
}

START_TEST(test_daemon_crc)
{
    /* pbrd with contracts/crc.yaml and crc.jsonl ingested (25 events): the
     * 18 statements it issues equal simulate's, byte for byte, with a
     * restart between the 2015-16 volume line (statement 2016-04-01) and
     * its adjustment (2016-07-01), so the adjustment comes from the ledger
     * stored with the statements; verify then finds no difference. */
    daemon_t d;
    char path[1024], err[PBR_ERR_MAX], contract[1024], events[1024];
    daemon_prepare(&d, "auto_settle: false\n");
    snprintf(d.now, sizeof d.now, "2030-01-01");
    snprintf(d.contracts, sizeof d.contracts, "%s.contracts", d.dir);
    ck_assert_int_eq(mkdir(d.contracts, 0700), 0);
    char *yaml = pbr_read_file(pbr_test_path(path, sizeof path, "contracts/crc.yaml"), NULL, err, sizeof err);
    ck_assert_msg(yaml != NULL, "%s", err);
    snprintf(contract, sizeof contract, "%s/crc.yaml", d.contracts);
    harness_write_text(contract, yaml);
    free(yaml);
    daemon_start(&d);
    pbr_test_path(events, sizeof events, "tests/data/schemes/crc.jsonl");
    char *body = pbr_read_file(events, NULL, err, sizeof err);
    ck_assert_msg(body != NULL, "%s", err);
    json_t *r = ingest_batch(&d, body);
    ck_assert_int_eq(geti(r, "accepted"), 25);
    json_decref(r);
    free(body);

    ck_assert_uint_eq(settle_through(&d, "2016-04-01"), 5); /* 2015-04-01 .. 2016-04-01 */
    ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM), 0);
    daemon_start(&d);
    ck_assert_uint_eq(settle_through(&d, "2030-01-01"), 13); /* .. 2019-07-01 */

    char *sim = simulate_jsonl(contract, events), *line = sim;
    pbr_date q;
    pbr_date_parse("2015-04-01", 10, &q);
    for (int i = 0; i < 18; i++, q = pbr_add_months(q, 3)) {
        char qs[PBR_DATE_STRLEN], *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        pbr_date_format(q, qs);
        char *got = daemon_statement(&d, "crc", qs);
        ck_assert_msg(strcmp(got, line) == 0, "statement %s differs:\ndaemon:   %s\nsimulate: %s", qs, got, line);
        free(got);
        line = nl + 1;
    }
    ck_assert_str_eq(line, "");
    free(sim);
    json_t *v = api_call(&d, "{\"op\":\"verify\"}");
    ck_assert_int_eq(geti(v, "checked"), 18);
    ck_assert_uint_eq(json_array_size(json_object_get(v, "differences")), 0);
    json_decref(v);
    unlink(contract);
    rmdir(d.contracts);
    daemon_finish(&d);
}
END_TEST

/* Contract text for the loader tests: a header, cohorts, a binary outcome. */
#define HEAD "contract: t\ntitle: T\nprovider: p\nstart: 2023-01-01\nend: 2023-12-31\nyear_start: 1\n"
#define QCOHORT "cohort: {index: release, period: quarter}\n"
#define YCOHORT "cohort: {index: release, period: year}\n"
#define BIN "  - id: b\n    measure: binary\n    baseline: {rate: 0.5}\n    pay: {price: 1.00}\n"

/* ---- pbrctl check and simulate ------------------------------------------------------------ */

/* Runs cmd through the shell; returns its output (stdout and stderr,
 * malloc'd) and *status its exit status. */
static char *run_command(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = NULL;
    size_t len = 0, cap = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        ck_assert_int_eq(pbr_grow((void **)&out, &cap, len + n + 1, 1), 0);
        memcpy(out + len, buf, n);
        len += n;
    }
    if (out == NULL)
        out = calloc(1, 1);
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

START_TEST(test_pbrctl_check_and_simulate)
{
    /* The command-line tool: `pbrctl check` accepts crc.yaml and reports a
     * 5.9 error as file:line:col with exit status 1; `pbrctl simulate
     * --format json` prints exactly what the library computes (the
     * statements test_crc checks by hand). */
    char ctl[512], crc[512], events[512], cmd[2048], bad[] = "/tmp/pbr-mechanism-XXXXXX";
    snprintf(ctl, sizeof ctl, "%s/pbrctl", pbr_test_build());
    pbr_test_path(crc, sizeof crc, "contracts/crc.yaml");
    pbr_test_path(events, sizeof events, "tests/data/schemes/crc.jsonl");
    int st;
    snprintf(cmd, sizeof cmd, "'%s' check '%s' 2>&1", ctl, crc);
    char *out = run_command(cmd, &st);
    ck_assert_msg(st == 0 && strstr(out, ": ok: contract crc (2 fees, 2 outcomes)"), "%s", out);
    free(out);

    int fd = mkstemp(bad);
    ck_assert_int_ge(fd, 0);
    static const char yaml[] = HEAD QCOHORT "fees:\n  - {id: f, per_quarter: 1.00, advance_of: b}\n"
                                            "outcomes:\n  - id: b\n    measure: clean_period\n    pay: {price: 1.00}\n";
    ck_assert_int_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    snprintf(cmd, sizeof cmd, "'%s' check '%s' 2>&1", ctl, bad);
    out = run_command(cmd, &st);
    char expect[1024];
    snprintf(expect, sizeof expect,
             "%s:9:44: advance_of: \"b\" is a clean_period outcome; an advance is recovered from a binary or "
             "frequency one\n",
             bad);
    ck_assert_int_eq(st, 1);
    ck_assert_msg(strncmp(out, expect, strlen(expect)) == 0, "got %s", out);
    free(out);
    unlink(bad);

    snprintf(cmd, sizeof cmd, "'%s' simulate '%s' '%s' --format json", ctl, crc, events);
    out = run_command(cmd, &st);
    char *lib = simulate_jsonl(crc, events);
    ck_assert_int_eq(st, 0);
    ck_assert_str_eq(out, lib);
    free(lib);
    free(out);
}
END_TEST

/* ---- load errors named by 5.9 -------------------------------------------------------- */

static const struct bad_case {
    const char *yaml, *want;
} BAD[] = {
    /* hurdle on a binary */
    {HEAD QCOHORT "outcomes:\n" BIN "  - id: f\n"
                  "    measure: binary\n"
                  "    hurdle: b\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:15:5: outcome: \"hurdle\" does not apply to binary"},
    /* hurdle names no outcome */
    {HEAD QCOHORT "outcomes:\n" BIN "  - id: f\n"
                  "    measure: frequency\n"
                  "    hurdle: nope\n"
                  "    baseline: {rate: 1}\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:15:13: hurdle: \"nope\" is not an outcome of this contract"},
    /* hurdle names a clean_period */
    {HEAD QCOHORT "outcomes:\n"
                  "  - id: f\n"
                  "    measure: frequency\n"
                  "    hurdle: c\n"
                  "    baseline: {rate: 1}\n"
                  "    pay: {price: 1.00}\n"
                  "  - id: c\n"
                  "    measure: clean_period\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:11:13: hurdle: \"c\" is a clean_period outcome; a hurdle must be binary"},
    /* hurdle with other segment names */
    {HEAD QCOHORT "outcomes:\n" BIN "  - id: f\n"
                  "    measure: frequency\n"
                  "    hurdle: b\n"
                  "    baseline: {rate: 1}\n"
                  "    pay: {price: 1.00}\n"
                  "    segments: [{name: ppo}]\n",
     "c.yaml:15:13: hurdle: \"b\" and \"f\" have different segment names (a hurdle line is matched by segment)"},
    /* over: year without quarterly cohorts */
    {HEAD YCOHORT "outcomes:\n" BIN "    pooled: {over: year, threshold: {points: 1}}\n",
     "c.yaml:13:20: over: year tops up quarterly cohorts; the cohort has no period: quarter"},
    /* over: neither whole nor year */
    {HEAD QCOHORT "outcomes:\n" BIN "    pooled: {over: decade, threshold: {points: 1}}\n",
     "c.yaml:13:20: over: \"decade\" is not one of whole or year"},
    /* significant with per: reoffender */
    {HEAD QCOHORT "outcomes:\n"
                  "  - id: f\n"
                  "    measure: frequency\n"
                  "    per: reoffender\n"
                  "    baseline: {rate: 1}\n"
                  "    pay: {threshold: {significant: 1.96}, price: 1.00}\n",
     "c.yaml:13:23: significant: needs per: member (the gate's variance is per member, not per reoffender)"},
    /* pooled significant with per: reoffender */
    {HEAD QCOHORT "outcomes:\n"
                  "  - id: f\n"
                  "    measure: frequency\n"
                  "    per: reoffender\n"
                  "    baseline: {rate: 1}\n"
                  "    pay: {price: 1.00}\n"
                  "    pooled: {threshold: {significant: 1.96}}\n",
     "c.yaml:14:26: significant: needs per: member (the gate's variance is per member, not per reoffender)"},
    /* significant with from_threshold */
    {HEAD QCOHORT "outcomes:\n"
                  "  - id: b\n"
                  "    measure: binary\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {threshold: {significant: 1.96}, from_threshold: true, price: 1.00}\n",
     "c.yaml:12:43: from_threshold: a significance gate has no value to count units from"},
    /* significant on custody_nights */
    {HEAD "outcomes:\n"
          "  - id: n\n"
          "    measure: custody_nights\n"
          "    baseline: {nights: 5}\n"
          "    pay: {threshold: {significant: 1.96}, price: 1.00}\n",
     "c.yaml:11:23: significant: applies to binary and frequency, not custody_nights"},
    /* a negative z */
    {HEAD QCOHORT "outcomes:\n"
                  "  - id: b\n"
                  "    measure: binary\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {threshold: {significant: -1}, price: 1.00}\n",
     "c.yaml:12:36: significant: \"-1\" must be 0 or more"},
    /* volume on a dated fee */
    {HEAD "fees:\n"
          "  - {id: f, on: 2023-06-01, amount: 1.00, volume: {index: release, band: [1, 2], rate: 1.00}}\n",
     "c.yaml:8:43: fee: \"volume\" applies only to per_quarter fees"},
    /* volume without index */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {band: [1, 2], rate: 1.00}}\n",
     "c.yaml:8:40: missing key \"index\" in volume"},
    /* volume index not an index event */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: reception, band: [1, 2], rate: 1.00}}\n",
     "c.yaml:8:48: index: \"reception\" is not one of release or community_start"},
    /* band of three */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1, 2, 3], rate: 1.00}}\n",
     "c.yaml:8:63: band: give two whole numbers [lo, hi]"},
    /* band lo above hi */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [5, 2], rate: 1.00}}\n",
     "c.yaml:8:63: band: lo 5 is greater than hi 2"},
    /* band not whole */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1.5, 2], rate: 1.00}}\n",
     "c.yaml:8:64: band: \"1.5\" is not a whole number"},
    /* volume without rate */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1, 2]}}\n",
     "c.yaml:8:40: missing key \"rate\" in volume"},
    /* rate not money */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1, 2], rate: 1.001}}\n",
     "c.yaml:8:77: rate: \"1.001\" is not an amount of money (at most 2 decimal places)"},
    /* volume where on a reception field */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1, 2], rate: 1.00, where: {remand: true}}}\n",
     "c.yaml:8:91: where: \"remand\" is not a field of index events"},
    /* unknown key in volume */
    {HEAD "fees:\n"
          "  - {id: f, per_quarter: 1.00, volume: {index: release, band: [1, 2], rate: 1.00, price: 2}}\n",
     "c.yaml:8:83: unknown key \"price\" in volume"},
    /* advance_of on a dated fee */
    {HEAD QCOHORT "fees:\n"
                  "  - {id: f, on: 2023-06-01, amount: 1.00, advance_of: b}\n"
                  "outcomes:\n"
                  "  - id: b\n"
                  "    measure: binary\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:9:43: fee: \"advance_of\" applies only to per_quarter fees"},
    /* advance_of names no outcome */
    {HEAD QCOHORT "fees:\n"
                  "  - {id: f, per_quarter: 1.00, advance_of: nope}\n"
                  "outcomes:\n"
                  "  - id: b\n"
                  "    measure: binary\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:9:44: advance_of: \"nope\" is not an outcome of this contract"},
    /* advance_of names a clean_period */
    {HEAD QCOHORT "fees:\n"
                  "  - {id: f, per_quarter: 1.00, advance_of: c}\n"
                  "outcomes:\n"
                  "  - id: c\n"
                  "    measure: clean_period\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:9:44: advance_of: \"c\" is a clean_period outcome; an advance is recovered from a binary or frequency "
     "one"},
    /* advance_of without quarterly cohorts */
    {HEAD YCOHORT "fees:\n"
                  "  - {id: f, per_quarter: 1.00, advance_of: b}\n"
                  "outcomes:\n"
                  "  - id: b\n"
                  "    measure: binary\n"
                  "    baseline: {rate: 0.5}\n"
                  "    pay: {price: 1.00}\n",
     "c.yaml:9:44: advance_of: \"b\" needs quarterly cohorts (period: quarter) to recover each quarter's advance"},
};

START_TEST(test_load_errors)
{
    const struct bad_case *bc = &BAD[_i];
    pbr_contract *c = (pbr_contract *)1;
    pbr_diag d;
    char got[1024];
    int rc = pbr_contract_parse("c.yaml", bc->yaml, strlen(bc->yaml), &c, &d);
    pbr_diag_format(&d, got, sizeof got);
    ck_assert_msg(rc == -1, "case %d loaded, wanted %s", _i, bc->want);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(got, bc->want);
}
END_TEST

/* The keys load into the model (the figures are tested above). */
START_TEST(test_load_model)
{
    pbr_contract *c;
    pbr_diag d;
    static const char yaml[] =
        HEAD QCOHORT "fees:\n"
                     "  - id: f\n"
                     "    per_quarter: 10.00\n"
                     "    advance_of: fr\n"
                     "    volume: {index: community_start, where: {area: [X]}, band: [3, 7], rate: 12.50}\n"
                     "outcomes:\n" BIN "    pooled: {over: year, threshold: {significant: 1.96}}\n"
                     "  - id: fr\n"
                     "    measure: frequency\n"
                     "    hurdle: b\n"
                     "    baseline: {rate: 1}\n"
                     "    pay: {threshold: {significant: 2}, price: 1.00}\n";
    ck_assert_msg(pbr_contract_parse("c.yaml", yaml, strlen(yaml), &c, &d) == 0, "%s:%d:%d: %s", d.file, d.line,
                  d.column, d.message);
    const pbr_fee *f = &c->fees[0];
    ck_assert(f->has_volume && f->volume_index == PBR_EV_COMMUNITY_START);
    ck_assert_int_eq(f->volume_lo, 3);
    ck_assert_int_eq(f->volume_hi, 7);
    ck_assert_int_eq(mpq_cmp_si(f->volume_rate, 25, 2), 0);
    ck_assert_int_eq(f->volume_where.nconds, 1);
    ck_assert(f->has_advance && f->advance_of == 1);
    const pbr_outcome *b = &c->outcomes[0], *fr = &c->outcomes[1];
    ck_assert(b->has_pooled && b->pooled_over_year && b->pooled_metric == PBR_METRIC_SIGNIFICANT);
    ck_assert_int_eq(mpq_cmp_si(b->pooled_threshold, 49, 25), 0);
    ck_assert(!b->has_hurdle && fr->has_hurdle && fr->hurdle == 0);
    ck_assert(fr->pay.threshold_metric == PBR_METRIC_SIGNIFICANT);
    ck_assert_int_eq(mpq_cmp_si(fr->pay.threshold, 2, 1), 0);
    pbr_contract_destroy(&c);
}
END_TEST

/* ---- determinism ------------------------------------------------------------------------- */

START_TEST(test_shuffled_events)
{
    static const char *const names[] = {"hurdle", "topup", "significant", "volume", "advance"};
    char y[128], j[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(y, sizeof y, DATA "%s.yaml", names[i]);
        snprintf(j, sizeof j, DATA "%s.jsonl", names[i]);
        expect_same_statements(y, j);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("mechanism");
    TCase *k = tcase_create("keys");
    tcase_set_timeout(k, 60);
    tcase_add_test(k, test_hurdle);
    tcase_add_test(k, test_annual_topup);
    tcase_add_test(k, test_significance_gate);
    tcase_add_test(k, test_significance_exact);
    tcase_add_test(k, test_volume_band);
    tcase_add_test(k, test_foundation_advance);
    tcase_add_test(k, test_renderings);
    suite_add_tcase(s, k);

    TCase *l = tcase_create("loader");
    tcase_add_loop_test(l, test_load_errors, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(l, test_load_model);
    tcase_add_test(l, test_pbrctl_check_and_simulate);
    suite_add_tcase(s, l);

    TCase *dm = tcase_create("daemon");
    tcase_set_timeout(dm, 120);
    tcase_add_test(dm, test_daemon_crc);
    suite_add_tcase(s, dm);

    TCase *d = tcase_create("determinism");
    tcase_set_timeout(d, 60);
    tcase_add_test(d, test_shuffled_events);
    suite_add_tcase(s, d);
    return s;
}

PBR_CHECK_MAIN(make_suite)

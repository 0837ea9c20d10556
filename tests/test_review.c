/* test_review.c -- an independent review of the Transforming Rehabilitation
 * mechanism (SPEC.md 5.9) and of the rulings of 2026-12-02 that change
 * figures: corners the tests of test_mechanism.c and test_rulings.c do not
 * reach. Every expected figure is worked out BY HAND from the spec text
 * (arithmetic in the comments), never copied from pbrd's output.
 *
 * Contracts and events: tests/data/review/. Conventions: A(Q) = Q.next +
 * 30 days is the as-of date of the statement for quarter Q (5.1); a line
 * final on F is in the statement of the quarter Q with Q.next = F; a
 * binary/frequency window's line is final on add_months(window.to,
 * follow_up + waiting) (5.3).
 */
#include <check.h>

#include "check_main.h"
#include "scheme_harness.h"

#define DATA "tests/data/review/"

/* One line's identity, for checking the order of a statement's lines. */
typedef struct key {
    pbr_line_kind kind;
    const char *component, *period, *segment;
} key;

/* The statement for quarter has exactly the n lines of keys, in that order
 * (SPEC 5.5.7 and 5.9: fees by file order then final_on, volume and
 * recovery before the quarterly line; outcome and pooled lines by
 * (final_on, component file order, period with pooled last, segment);
 * adjustments last). */
static void expect_order(const run *r, const char *quarter, const key *keys, size_t n)
{
    const pbr_statement *s = statement_for(r, quarter);
    EXPECT(r, s != NULL, "no statement for %s", quarter);
    EXPECT(r, s->nlines == n, "statement %s: expected %zu lines, got %zu", quarter, n, s->nlines);
    for (size_t i = 0; i < n; i++)
        EXPECT(r, line_has_key(&s->lines[i], keys[i].kind, keys[i].component, keys[i].period, keys[i].segment),
               "statement %s: line %zu is not %s %s/%s/%s", quarter, i, kind_name(keys[i].kind), keys[i].component,
               keys[i].period, keys[i].segment ? keys[i].segment : "null");
}

/* The statement for quarter has no line (any kind) of the given key. */
static void expect_no_line(const run *r, const char *quarter, pbr_line_kind kind, const char *component,
                           const char *period, const char *segment)
{
    EXPECT(r, find_line(r, quarter, 0, kind, component, period, segment) == NULL,
           "statement %s: unexpected %s line %s/%s/%s", quarter, kind_name(kind), component, period,
           segment ? segment : "null");
}

/* ---- 5.9.3 significance gate at and just below equality ------------------------------- */

START_TEST(test_significance_at_equality)
{
    /* sig-edge.yaml: year_start 4, quarterly windows 2023-04-01 (Q1) and
     * 2023-07-01 (Q2), both in settlement year 2023-24; follow_up 3, waiting
     * 3: Q1 final on add_months(2023-07-01, 6) = 2024-01-01 (statement
     * 2023-10-01), Q2 and the year's top-up on add_months(2023-10-01, 6) =
     * 2024-04-01 (statement 2024-01-01). Range 2023-04-01 .. 2024-01-01
     * (run_off 0): 4 statements.
     * Members: Q1 A B C D (D on 2023-06-30); A reoffends, one conviction of
     * 2 offences. Q2 E F G H I (I on end, 2023-09-30); E reoffends with 1
     * offence, F with 3.
     *
     * Binary, b = 0.5, V = b(1 - b) = 0.25; pay 100.00 per avoided,
     * below -50.00. Gate (b - a)^2 n >= z^2 V.
     *   Q1: n 4, r 1, a 0.25: (0.25)^2 x 4 = 0.25.
     *     bin-eq (z 1): 0.25 >= 1 x 0.25, met at equality; avoided
     *       (0.5 - 0.25) x 4 = 1: 100.00.
     *     bin-below (z 1.0001): z^2 V = 1.00020001 x 0.25 = 0.2500500025
     *       > 0.25: missed, below -50.00, units null.
     *   Q2: n 5, r 2, a 0.4: (0.1)^2 x 5 = 0.05 < 0.25: missed in both,
     *     -50.00 each.
     *   Year 2023-24 pooled: n 9, r 3, a 1/3, b = (0.5 x 4 + 0.5 x 5) / 9 =
     *     0.5: (1/6)^2 x 9 = 0.25: bin-eq met at equality; avoided
     *     (0.5 - 1/3) x 9 = 1.5: 150.00, minus the windows' 100.00 - 50.00:
     *     100.00. bin-below: 0.25 < 0.2500500025, no line.
     * Frequency, b = 1, V = b = 1, pay 10.00 per avoided.
     *   Q1: n 4, F 2, a 0.5: (0.5)^2 x 4 = 1. frq-eq: met at equality,
     *     avoided (1 - 0.5) x 4 = 2: 20.00. frq-below: 1 < 1.00020001,
     *     missed, below -1.00.
     *   Q2: n 5, F 4, a 0.8: (0.2)^2 x 5 = 0.2 < 1: missed; frq-eq below
     *     0.00, frq-below -1.00.
     *   Pooled: n 9, F 6, a 2/3: (1/3)^2 x 9 = 1: frq-eq met at equality,
     *     avoided (1/3) x 9 = 3: 30.00 minus 20.00 + 0.00 = 10.00.
     *     frq-below: 1 < 1.00020001, no line.
     * Statement 2023-10-01: 100.00 - 50.00 + 20.00 - 1.00 = 69.00.
     * Statement 2024-01-01: -50.00 + 100.00 - 50.00 + 0.00 + 10.00 - 1.00 =
     * 9.00. In all 10 lines, 78.00. */
    run r;
    run_load(&r, DATA "sig-edge.yaml", DATA "sig-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "bin-eq",
                        .period = "2023-04-01",
                        .final_on = "2024-01-01",
                        .members = "4",
                        .reoffenders = "1",
                        .reoffences = "2",
                        .actual = "0.250000",
                        .baseline = "0.500000",
                        .points = "25.000000",
                        .avoided = "1.000000",
                        .threshold_met = "true",
                        .units = "1.000000",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "bin-below",
                        .period = "2023-04-01",
                        .members = "4",
                        .avoided = "1.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -5000});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "frq-eq",
                        .period = "2023-04-01",
                        .members = "4",
                        .reoffenders = "1",
                        .reoffences = "2",
                        .actual = "0.500000",
                        .baseline = "1.000000",
                        .avoided = "2.000000",
                        .threshold_met = "true",
                        .units = "2.000000",
                        .amount_pence = 2000});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "frq-below",
                        .period = "2023-04-01",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -100});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "bin-eq",
                        .period = "2023-07-01",
                        .members = "5",
                        .reoffenders = "2",
                        .actual = "0.400000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -5000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = POOL,
                        .component = "bin-eq",
                        .period = "2023-24",
                        .final_on = "2024-04-01",
                        .members = "9",
                        .excluded = "0",
                        .reoffenders = "3",
                        .reoffences = "6",
                        .actual = "0.333333",
                        .baseline = "0.500000",
                        .points = "16.666667",
                        .percent = "33.333333",
                        .avoided = "1.500000",
                        .threshold_met = "true",
                        .units = "1.500000",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "bin-below",
                        .period = "2023-07-01",
                        .threshold_met = "false",
                        .amount_pence = -5000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "frq-eq",
                        .period = "2023-07-01",
                        .members = "5",
                        .reoffences = "4",
                        .actual = "0.800000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = POOL,
                        .component = "frq-eq",
                        .period = "2023-24",
                        .members = "9",
                        .reoffences = "6",
                        .actual = "0.666667",
                        .baseline = "1.000000",
                        .avoided = "3.000000",
                        .threshold_met = "true",
                        .units = "3.000000",
                        .amount_pence = 1000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "frq-below",
                        .period = "2023-07-01",
                        .threshold_met = "false",
                        .amount_pence = -100});
    expect_no_line(&r, "2024-01-01", POOL, "bin-below", "2023-24", NULL);
    expect_no_line(&r, "2024-01-01", POOL, "frq-below", "2023-24", NULL);
    /* one final_on: component file order, each component's pooled line last */
    static const key order[] = {{OUT, "bin-eq", "2023-07-01", NULL},    {POOL, "bin-eq", "2023-24", NULL},
                                {OUT, "bin-below", "2023-07-01", NULL}, {OUT, "frq-eq", "2023-07-01", NULL},
                                {POOL, "frq-eq", "2023-24", NULL},      {OUT, "frq-below", "2023-07-01", NULL}};
    expect_order(&r, "2024-01-01", order, sizeof order / sizeof order[0]);
    expect_statement(&r, "2023-10-01", 4, 6900);
    expect_statement(&r, "2024-01-01", 6, 900);
    expect_run(&r, 4, "2023-04-01", "2024-01-01", 10, 7800);
    run_free(&r);
    expect_same_statements(DATA "sig-edge.yaml", DATA "sig-edge.jsonl");
}
END_TEST

/* ---- 5.9.3 on an OGRS-weighted line ------------------------------------------------------- */

START_TEST(test_significance_weighted)
{
    /* sig-ogrs.yaml: one quarterly window 2023-01-01 (follow_up 3, waiting
     * 0: final on add_months(2023-04-01, 3) = 2023-07-01, statement
     * 2023-04-01); b 0.5, gate significant 1, weight: ogrs, 100.00 per
     * avoided. X (OGRS 0.2) reoffends; Y (0.3), Z (0.5) do not; W has no
     * OGRS and is excluded (5.2).
     *   Weighted: n_w = 1.0, r_w = 0.2, a = 0.2; points 30, percent 60,
     *   avoided (0.5 - 0.2) x 1.0 = 0.3.
     *   Gate (5.9.3, n = the line's unweighted members = 3): (0.5 - 0.2)^2 x
     *   3 = 0.27 >= 1^2 x 0.5 x 0.5 = 0.25: met. (With the weighted n 1.0:
     *   0.09, missed; with the unweighted a 1/3: 1/12, missed.)
     *   Amount 0.3 x 100.00 = 30.00. Two statements, 1 line. */
    run r;
    run_load(&r, DATA "sig-ogrs.yaml", DATA "sig-ogrs.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .final_on = "2023-07-01",
                        .members = "3",
                        .excluded = "1",
                        .reoffenders = "1",
                        .actual = "0.200000",
                        .baseline = "0.500000",
                        .points = "30.000000",
                        .percent = "60.000000",
                        .avoided = "0.300000",
                        .threshold_met = "true",
                        .units = "0.300000",
                        .amount_pence = 3000});
    expect_run(&r, 2, "2023-01-01", "2023-04-01", 1, 3000);
    run_free(&r);
}
END_TEST

/* ---- 5.9.1 hurdles without a gate and with segments ------------------------------------ */

START_TEST(test_hurdle_corners)
{
    /* hurdle-edge.yaml: year_start 1, quarterly windows 2023-01-01 (Q1,
     * final on add_months(2023-04-01, 6) = 2023-10-01, statement 2023-07-01)
     * and 2023-04-01 (Q2, final on 2024-01-01, statement 2023-10-01).
     * Members: Q1 P1 (PPO, 2 offences), P2 (PPO, 1 offence), O1 (age 45,
     * clean), O2 (1 offence), O3 (clean); Q2 O4 (age 50, clean), O5 (1
     * offence). All others age 30 or 25.
     *
     * bin (no threshold; 100.00 per avoided; segments ppo = flags PPO,
     * other; b 0.5):
     *   Q1 ppo: n 2, r 2, a 1: avoided -1, units 0, 0.00; threshold_met is
     *     true (5.9.1: a hurdle line without a threshold).
     *   Q1 other: O1 O2 O3, r 1, a 1/3: avoided (0.5 - 1/3) x 3 = 0.5: 50.00.
     *   Q2 ppo: no member, no line. Q2 other: O4 O5, a 0.5: avoided 0, 0.00.
     * frq (hurdle bin; b 1; gate 10 points, below -3.00; 10.00 per avoided;
     * segments ppo = age >= 40, other):
     *   Q1 ppo: O1, F 0, a 0: points 100 >= 10; hurdle bin Q1 ppo exists and
     *     is met (no gate): avoided 1 x 1 = 1: 10.00.
     *   Q1 other: P1 P2 O2 O3, F 2 + 1 + 1 = 4, a 1: points 0 < 10: below
     *     -3.00 by its own gate (hurdle met).
     *   Q2 ppo: O4 is a member of frq's ppo segment, but bin has no Q2 ppo
     *     line: no line (5.9.1 "exists only if the hurdle's line ...").
     *   Q2 other: O5, F 1, a 1: points 0: -3.00.
     * bin2 (gate 30 points, below -20.00; ppo b 0.5, other b 0.7):
     *   Q1 ppo: a 1, points -50: missed, -20.00.
     *   Q1 other: a 1/3, points (0.7 - 1/3) x 100 = 36.666667 >= 30: avoided
     *     (0.7 - 1/3) x 3 = 1.1: 110.00.
     *   Q2 other: a 0.5, points 20 < 30: -20.00.
     * frq2 (hurdle bin2, listed before it; no gate of its own; below -5.00;
     * b 1; 10.00 per avoided; ppo = flags PPO, other):
     *   Q1 ppo: P1 P2, F 3, a 1.5; hurdle missed: -5.00, threshold_met
     *     false, units null.
     *   Q1 other: O1 O2 O3, F 1, a 1/3; hurdle met: avoided (1 - 1/3) x 3 =
     *     2: 20.00.
     *   Q2 other: O4 O5, F 1, a 0.5; hurdle missed: -5.00.
     * Statement 2023-07-01: 0 + 50.00 + 10.00 - 3.00 - 5.00 + 20.00 - 20.00 +
     * 110.00 = 162.00 (8 lines). Statement 2023-10-01: 0 - 3.00 - 5.00 -
     * 20.00 = -28.00 (4 lines). Range 2023-01-01 .. 2023-10-01: 4
     * statements, 12 lines, 134.00. */
    run r;
    run_load(&r, DATA "hurdle-edge.yaml", DATA "hurdle-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-01-01",
                        .segment = "ppo",
                        .final_on = "2023-10-01",
                        .members = "2",
                        .reoffenders = "2",
                        .reoffences = "3",
                        .actual = "1.000000",
                        .avoided = "-1.000000",
                        .threshold_met = "true",
                        .units = "0.000000",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-01-01",
                        .segment = "other",
                        .members = "3",
                        .reoffenders = "1",
                        .actual = "0.333333",
                        .avoided = "0.500000",
                        .threshold_met = "true",
                        .amount_pence = 5000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-01-01",
                        .segment = "ppo",
                        .members = "1",
                        .reoffenders = "0",
                        .reoffences = "0",
                        .actual = "0.000000",
                        .points = "100.000000",
                        .avoided = "1.000000",
                        .threshold_met = "true",
                        .units = "1.000000",
                        .amount_pence = 1000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-01-01",
                        .segment = "other",
                        .members = "4",
                        .reoffenders = "3",
                        .reoffences = "4",
                        .actual = "1.000000",
                        .points = "0.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -300});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "frq2",
                        .period = "2023-01-01",
                        .segment = "ppo",
                        .members = "2",
                        .reoffences = "3",
                        .actual = "1.500000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -500});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "frq2",
                        .period = "2023-01-01",
                        .segment = "other",
                        .members = "3",
                        .reoffences = "1",
                        .actual = "0.333333",
                        .avoided = "2.000000",
                        .threshold_met = "true",
                        .units = "2.000000",
                        .amount_pence = 2000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "bin2",
                        .period = "2023-01-01",
                        .segment = "ppo",
                        .points = "-50.000000",
                        .threshold_met = "false",
                        .amount_pence = -2000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "bin2",
                        .period = "2023-01-01",
                        .segment = "other",
                        .baseline = "0.700000",
                        .points = "36.666667",
                        .avoided = "1.100000",
                        .threshold_met = "true",
                        .units = "1.100000",
                        .amount_pence = 11000});
    static const key q1[] = {{OUT, "bin", "2023-01-01", "ppo"},  {OUT, "bin", "2023-01-01", "other"},
                             {OUT, "frq", "2023-01-01", "ppo"},  {OUT, "frq", "2023-01-01", "other"},
                             {OUT, "frq2", "2023-01-01", "ppo"}, {OUT, "frq2", "2023-01-01", "other"},
                             {OUT, "bin2", "2023-01-01", "ppo"}, {OUT, "bin2", "2023-01-01", "other"}};
    expect_order(&r, "2023-07-01", q1, sizeof q1 / sizeof q1[0]);
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-04-01",
                        .segment = "other",
                        .final_on = "2024-01-01",
                        .members = "2",
                        .reoffenders = "1",
                        .avoided = "0.000000",
                        .threshold_met = "true",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-04-01",
                        .segment = "other",
                        .members = "1",
                        .reoffences = "1",
                        .threshold_met = "false",
                        .amount_pence = -300});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "frq2",
                        .period = "2023-04-01",
                        .segment = "other",
                        .members = "2",
                        .reoffences = "1",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = -500});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "bin2",
                        .period = "2023-04-01",
                        .segment = "other",
                        .points = "20.000000",
                        .threshold_met = "false",
                        .amount_pence = -2000});
    expect_no_line(&r, "2023-10-01", OUT, "frq", "2023-04-01", "ppo");
    expect_no_line(&r, "2023-10-01", OUT, "bin", "2023-04-01", "ppo");
    expect_statement(&r, "2023-07-01", 8, 16200);
    expect_statement(&r, "2023-10-01", 4, -2800);
    expect_run(&r, 4, "2023-01-01", "2023-10-01", 12, 13400);
    run_free(&r);
    expect_same_statements(DATA "hurdle-edge.yaml", DATA "hurdle-edge.jsonl");
}
END_TEST

START_TEST(test_hurdle_missed_late)
{
    /* hurdle-flip.yaml: one quarterly window 2023-01-01, follow_up 3,
     * waiting 0: final on add_months(2023-04-01, 3) = 2023-07-01, statement
     * 2023-04-01 (A = 2023-07-31); run_off 2: statements 2023-01-01 ..
     * 2023-10-01 (4). contract_cap 50.00 = 5000 pence.
     * bin: b 0.5, gate 20 points, below -10.00, 100.00 per avoided. frq:
     * hurdle bin, b 1 per member, below -2.00, 10.00 per avoided.
     *   2023-04-01: A, B, C, D; A reoffends (1 offence). bin: a 0.25,
     *     points 25 >= 20, avoided 1: computed 100.00; U 0 -> 10000, pays
     *     min(10000, 5000) - 0 = 50.00. frq: hurdle met, F 1, a 0.25,
     *     avoided (1 - 0.25) x 4 = 3: computed 30.00; U -> 13000, pays
     *     min(13000, 5000) - 5000 = 0.00.
     *   B's conviction (offence 2023-03-01, date 2023-04-10 <
     *     add_months(2023-01-20, 3) = 2023-04-20) is recorded 2023-08-15:
     *     visible at A(2023-07-01) = 2023-10-31. bin: a 0.5, points 0 < 20:
     *     -10.00; adjustment previous 10000, computed -11000: U -> 2000, pays
     *     min(2000, 5000) - min(13000, 5000) = -30.00. frq: its hurdle is
     *     now missed: below -2.00; adjustment previous 3000, computed -3200:
     *     U -> -1200, pays min(-1200, 5000) - min(2000, 5000) = -32.00.
     *     Adjustments in the order the lines were first issued: bin, frq.
     * Paid in all 50.00 + 0 - 30.00 - 32.00 = -12.00 = min(total computed
     * 100 + 30 - 110 - 32 = -12.00, C) (5.5.6). */
    run r;
    run_load(&r, DATA "hurdle-flip.yaml", DATA "hurdle-flip.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "bin",
                        .period = "2023-01-01",
                        .final_on = "2023-07-01",
                        .members = "4",
                        .reoffenders = "1",
                        .points = "25.000000",
                        .threshold_met = "true",
                        .amount_pence = 5000});
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = OUT,
                        .component = "frq",
                        .period = "2023-01-01",
                        .members = "4",
                        .reoffences = "1",
                        .actual = "0.250000",
                        .avoided = "3.000000",
                        .threshold_met = "true",
                        .units = "3.000000",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = ADJ,
                        .component = "bin",
                        .period = "2023-01-01",
                        .previous_pence = "10000",
                        .amount_pence = -3000});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = ADJ,
                        .component = "frq",
                        .period = "2023-01-01",
                        .previous_pence = "3000",
                        .amount_pence = -3200});
    static const key adj[] = {{ADJ, "bin", "2023-01-01", NULL}, {ADJ, "frq", "2023-01-01", NULL}};
    expect_order(&r, "2023-07-01", adj, 2);
    expect_statement(&r, "2023-10-01", 0, 0);
    expect_run(&r, 4, "2023-01-01", "2023-10-01", 4, -1200);
    run_free(&r);
}
END_TEST

/* ---- 5.9.2 annual top-up at the edges of the term ---------------------------------------- */

START_TEST(test_topup_edges)
{
    /* topup-edge.yaml: year_start 4, start 2023-01-01, end 2023-11-15;
     * quarterly windows 2023-01-01 (settlement year 2022-23), 2023-04-01,
     * 2023-07-01, 2023-10-01 (2023-24; none for 2024-01-01, which has no
     * day in [start, end]). follow_up 3, waiting 3: finals 2023-10-01,
     * 2024-01-01, 2024-04-01, 2024-07-01. Baselines per window 0.5, 0.5,
     * 0.6, 0.4; window gate 20 points (below 0), 100.00 per avoided; top-up
     * gate 5 points.
     *   2023-01-01: J1..J5 (J5 on 2023-03-31), J1 J2 reoffend: n 5, a 0.4,
     *     points 10 < 20: 0.00, units null.
     *   2023-04-01: K1 K2 clean: a 0, points 50: avoided 0.5 x 2 = 1: 100.00.
     *   2023-07-01: L1..L4, L1 L3 reoffend: a 0.5, b 0.6, points 10: 0.00.
     *   2023-10-01: M1, M2 (on end, reoffends); M3 (2023-11-16, after end)
     *     is not admitted: n 2, a 0.5, b 0.4, points -10: 0.00.
     *   Top-up 2022-23 (one window): n 5, a 0.4, b 0.5, points 10 >= 5;
     *     avoided 0.1 x 5 = 0.5: 50.00 - 0.00 = 50.00; final on 2023-10-01.
     *   Top-up 2023-24: n 2 + 4 + 2 = 8, r 0 + 2 + 1 = 3, a 0.375; b =
     *     (0.5 x 2 + 0.6 x 4 + 0.4 x 2) / 8 = 4.2 / 8 = 0.525; points 15 >=
     *     5; percent 0.15 / 0.525 x 100 = 28.571429; avoided 0.15 x 8 = 1.2
     *     (= 1 + 0.4 - 0.2, the windows' avoided): 120.00, minus 100.00 +
     *     0.00 + 0.00 = 20.00; final on the latest window's, 2024-07-01.
     * Range 2023-01-01 .. 2024-04-01: 6 statements, 6 lines, 170.00. */
    run r;
    run_load(&r, DATA "topup-edge.yaml", DATA "topup-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-01-01",
                        .final_on = "2023-10-01",
                        .members = "5",
                        .reoffenders = "2",
                        .points = "10.000000",
                        .threshold_met = "false",
                        .units = "null",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2023-07-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "2022-23",
                        .final_on = "2023-10-01",
                        .members = "5",
                        .actual = "0.400000",
                        .baseline = "0.500000",
                        .points = "10.000000",
                        .avoided = "0.500000",
                        .threshold_met = "true",
                        .units = "0.500000",
                        .amount_pence = 5000});
    expect_line(&r,
                &(want){.quarter = "2023-10-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-04-01",
                        .final_on = "2024-01-01",
                        .members = "2",
                        .avoided = "1.000000",
                        .threshold_met = "true",
                        .amount_pence = 10000});
    expect_line(&r,
                &(want){.quarter = "2024-01-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-07-01",
                        .members = "4",
                        .baseline = "0.600000",
                        .points = "10.000000",
                        .threshold_met = "false",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2024-04-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2023-10-01",
                        .final_on = "2024-07-01",
                        .members = "2",
                        .reoffenders = "1",
                        .baseline = "0.400000",
                        .points = "-10.000000",
                        .threshold_met = "false",
                        .amount_pence = 0});
    expect_line(&r,
                &(want){.quarter = "2024-04-01",
                        .kind = POOL,
                        .component = "reoff",
                        .period = "2023-24",
                        .final_on = "2024-07-01",
                        .members = "8",
                        .excluded = "0",
                        .reoffenders = "3",
                        .actual = "0.375000",
                        .baseline = "0.525000",
                        .points = "15.000000",
                        .percent = "28.571429",
                        .avoided = "1.200000",
                        .threshold_met = "true",
                        .units = "1.200000",
                        .amount_pence = 2000});
    static const key last[] = {{OUT, "reoff", "2023-10-01", NULL}, {POOL, "reoff", "2023-24", NULL}};
    expect_order(&r, "2024-04-01", last, 2);
    expect_run(&r, 6, "2023-01-01", "2024-04-01", 6, 17000);
    run_free(&r);
    expect_same_statements(DATA "topup-edge.yaml", DATA "topup-edge.jsonl");
}
END_TEST

/* ---- 5.9.4 volume at the edges ------------------------------------------------------------- */

START_TEST(test_volume_edges)
{
    /* volume-edge.yaml: year_start 1, start 2021-04-01, end 2022-06-30;
     * contract_cap 1.00; fee service 10.00 a quarter (2021-04-01 ..
     * 2022-04-01: 5 quarterly lines) with volume band [2, 3], 100.00 per
     * order outside it, community starts with provider p1.
     * Year 2021 (final on add_months(2022-01-01, 3) = 2022-04-01, statement
     * 2022-01-01, as of 2022-05-01): v1 (2021-02-01, before start: counts,
     * "not limited to [start, end]"), v2; v3 is provider p2; v4 is voided
     * (x1, 2021-08-01); v5, v6 are recorded 2022-05-20 and 2022-06-01,
     * invisible: c = 2 = lo: 0.00.
     *   Statement 2022-04-01 (as of 2022-07-31): v5, v6 visible: c = 4 > 3:
     *   (4 - 3) x 100.00 = 100.00: adjustment previous 0, +100.00.
     *   Statement 2022-07-01 (as of 2022-10-31): x2 (2022-09-01) voids v6:
     *   c = 3 = hi: 0.00: adjustment previous 10000, -100.00.
     * Year 2022 (final on add_months(2023-01-01, 3) = 2023-04-01, statement
     * 2023-01-01, as of 2023-05-01): w1, w2, w3 (2022-08-01, after end:
     * counts); w4 is in 2023 (no 2023 line: the year has no day of [start,
     * end]); w5 (2022-12-15) recorded 2023-06-01: c = 3 = hi: 0.00.
     *   Statement 2023-04-01 (as of 2023-07-31): w5 visible, c = 4:
     *   adjustment +100.00.
     * Outcome reoff (whole window [2021-04-01, 2022-07-01), follow_up 3,
     * waiting 0, final on 2022-10-01, statement 2022-07-01): R1, R2 clean,
     * a 0, b 0.5, avoided 1: computed 100.00, paid min(100.00, 1.00) = 1.00
     * (U becomes 10000 >= C). The volume lines and their adjustments are
     * fee lines, outside the cap (5.9): they pay in full whatever U is (a
     * capped -100.00 after the outcome line would pay min(0, C) - min(U, C)
     * = -1.00; a capped +100.00 in 2022-04-01, U = 0, would pay 1.00).
     * On 2022-04-01 the 2021 volume line comes before the quarterly line of
     * 2022-01-01 (5.9). Range: add_months(Y.next, 3) of the year of end =
     * 2023-04-01 (statement 2023-01-01) plus run_off 1: 2021-04-01 ..
     * 2023-04-01, 9 statements (without the volume rule the range would
     * stop at 2022-10-01). Lines: 5 quarterly + 2 volume + 3 adjustments + 1
     * outcome = 11; total 5 x 10.00 + 100.00 - 100.00 + 1.00 + 100.00 =
     * 151.00. */
    run r;
    run_load(&r, DATA "volume-edge.yaml", DATA "volume-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2022-01-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2021-volume",
                        .final_on = "2022-04-01",
                        .amount_pence = 0});
    static const key q2201[] = {{FEE, "service", "2021-volume", NULL}, {FEE, "service", "2022-01-01", NULL}};
    expect_order(&r, "2022-01-01", q2201, 2);
    expect_line(&r,
                &(want){.quarter = "2022-04-01",
                        .kind = ADJ,
                        .component = "service",
                        .period = "2021-volume",
                        .previous_pence = "0",
                        .amount_pence = 10000});
    expect_statement(&r, "2022-04-01", 2, 11000);
    expect_line(&r,
                &(want){.quarter = "2022-07-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "all",
                        .final_on = "2022-10-01",
                        .members = "2",
                        .avoided = "1.000000",
                        .amount_pence = 100});
    expect_line(&r,
                &(want){.quarter = "2022-07-01",
                        .kind = ADJ,
                        .component = "service",
                        .period = "2021-volume",
                        .previous_pence = "10000",
                        .amount_pence = -10000});
    static const key q2207[] = {{OUT, "reoff", "all", NULL}, {ADJ, "service", "2021-volume", NULL}};
    expect_order(&r, "2022-07-01", q2207, 2);
    expect_statement(&r, "2022-10-01", 0, 0);
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .kind = FEE,
                        .component = "service",
                        .period = "2022-volume",
                        .final_on = "2023-04-01",
                        .amount_pence = 0});
    expect_statement(&r, "2023-01-01", 1, 0);
    expect_line(&r,
                &(want){.quarter = "2023-04-01",
                        .kind = ADJ,
                        .component = "service",
                        .period = "2022-volume",
                        .previous_pence = "0",
                        .amount_pence = 10000});
    expect_statement(&r, "2023-04-01", 1, 10000);
    expect_no_line(&r, "2023-04-01", FEE, "service", "2023-volume", NULL);
    expect_run(&r, 9, "2021-04-01", "2023-04-01", 11, 15100);
    run_free(&r);
    expect_same_statements(DATA "volume-edge.yaml", DATA "volume-edge.jsonl");
}
END_TEST

/* ---- 5.9.5 recovery at the edges ----------------------------------------------------------- */

START_TEST(test_recovery_edges)
{
    /* advance-edge.yaml: year_start 1, 2022-01-01 .. 2022-06-30,
     * contract_cap 1.00; fees found (20.00 a quarter, advance_of reoff) then
     * service (5.00 a quarter); reoff binary on quarterly windows, follow_up
     * 3, waiting 0: Q1 final on add_months(2022-04-01, 3) = 2022-07-01, Q2 on
     * 2022-10-01.
     *   Q1: S1, S2 clean, a 0, b 0.5, avoided 1: computed 100.00, paid 1.00
     *     (cap). Q2: no member, no outcome line.
     *   Recovery of Q1 (2022-01-01-recovery): -20.00, final on 2022-07-01
     *     (statement 2022-04-01); of Q2: -20.00, final on 2022-10-01
     *     (statement 2022-07-01): the advance is recovered though the
     *     window has no line ("for each quarter q with a quarterly line").
     *   Recovery lines are fee lines, outside the cap: -20.00 in full, and
     *     the outcome line still pays min(10000, 100) - min(0, 100) = 1.00
     *     (a capped recovery first would leave U = -2000 and the outcome
     *     paying min(8000, 100) - min(-2000, 100) = 21.00).
     *   Order in 2022-04-01: found's lines by final_on; on 2022-07-01 the
     *     recovery before the quarterly line of 2022-04-01; then service;
     *     then the outcome line.
     * Statements 2022-01-01: 20.00 + 5.00 = 25.00; 2022-04-01: -20.00 +
     * 20.00 + 5.00 + 1.00 = 6.00; 2022-07-01: -20.00. Range 2022-01-01 ..
     * 2022-07-01 (run_off 0): 3 statements, 7 lines, 11.00. */
    run r;
    run_load(&r, DATA "advance-edge.yaml", DATA "advance-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2022-04-01",
                        .kind = FEE,
                        .component = "found",
                        .period = "2022-01-01-recovery",
                        .final_on = "2022-07-01",
                        .amount_pence = -2000});
    expect_line(&r,
                &(want){.quarter = "2022-04-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "2022-01-01",
                        .final_on = "2022-07-01",
                        .members = "2",
                        .amount_pence = 100});
    static const key q2204[] = {{FEE, "found", "2022-01-01-recovery", NULL},
                                {FEE, "found", "2022-04-01", NULL},
                                {FEE, "service", "2022-04-01", NULL},
                                {OUT, "reoff", "2022-01-01", NULL}};
    expect_order(&r, "2022-04-01", q2204, 4);
    expect_statement(&r, "2022-04-01", 4, 600);
    expect_line(&r,
                &(want){.quarter = "2022-07-01",
                        .kind = FEE,
                        .component = "found",
                        .period = "2022-04-01-recovery",
                        .final_on = "2022-10-01",
                        .amount_pence = -2000});
    expect_no_line(&r, "2022-07-01", OUT, "reoff", "2022-04-01", NULL);
    expect_statement(&r, "2022-01-01", 2, 2500);
    expect_statement(&r, "2022-07-01", 1, -2000);
    expect_run(&r, 3, "2022-01-01", "2022-07-01", 7, 1100);
    run_free(&r);
}
END_TEST

/* ---- the rulings of 2026-12-02 that change figures -------------------------------------------- */

START_TEST(test_ruling_range_late_conviction)
{
    /* range-late.yaml: one window C1 [2020-01-01, 2020-04-01), follow_up 3,
     * waiting 0: final on add_months(2020-04-01, 3) = 2020-07-01, statement
     * 2020-04-01 (A = 2020-07-31). end 2021-03-31: the range reaches the
     * quarter containing end, 2021-01-01, three quarters later (ruled), plus
     * run_off 2: 2020-01-01 .. 2021-07-01, 7 statements (from the window
     * alone: 2020-04-01 + 2 = 2020-10-01).
     *   2020-04-01: A (2020-01-15), B (2020-02-15), no visible conviction:
     *     a 0, points 50 x 10.00 = 500.00.
     *   A's conviction (offence 2020-03-01 < add_months(2020-01-15, 3) =
     *     2020-04-15, date 2020-04-10 < 2020-04-15) recorded 2021-07-15:
     *     visible at A(2021-04-01) = 2021-07-31: a 0.5, points 0: adjustment
     *     previous 50000, -500.00 in the first run-off statement.
     *   B's conviction is recorded 2021-11-01, after A(2021-07-01) =
     *     2021-10-31: never seen. 2 lines, 0.00 in all. */
    run r;
    run_load(&r, DATA "range-late.yaml", DATA "range-late.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2020-04-01",
                        .kind = OUT,
                        .component = "reoff",
                        .period = "C1",
                        .final_on = "2020-07-01",
                        .members = "2",
                        .reoffenders = "0",
                        .points = "50.000000",
                        .amount_pence = 50000});
    expect_line(&r,
                &(want){.quarter = "2021-04-01",
                        .kind = ADJ,
                        .component = "reoff",
                        .period = "C1",
                        .previous_pence = "50000",
                        .amount_pence = -50000});
    expect_statement(&r, "2021-07-01", 0, 0);
    expect_run(&r, 7, "2020-01-01", "2021-07-01", 2, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_ruling_clean_month_end)
{
    /* clean-edge.yaml: follow_up 6, waiting 6, 100.00 a success; A, B, C
     * released 2023-08-31: S = add_months(2023-08-31, 6) = 2024-02-29, F =
     * add_months(2023-08-31, 12) = 2024-08-31 (ruled; two additions would
     * give add_months(2024-02-29, 6) = 2024-08-29).
     *   A: offence 2024-01-10 in [clock, S), convicted 2024-08-29 < F =
     *     2024-08-31: restarts the clock (under F = 2024-08-29 it would not:
     *     not strictly before). Clock 2024-01-10 (<= end): S 2024-07-10, F
     *     add_months(2024-01-10, 12) = 2025-01-10; the same offence is not
     *     after the clock: A succeeds in quarter 2025-01-01.
     *   B: convicted on F itself, 2024-08-31: not before F, no restart;
     *     succeeds on 2024-08-31, quarter 2024-07-01.
     *   C: no conviction: F 2024-08-31, quarter 2024-07-01.
     * Lines: 2024-07-01 (final on 2024-10-01) members 2, 200.00; 2025-01-01
     * (final on 2025-04-01) members 1, 100.00. Range: the quarter of
     * add_months(2024-03-31, 12) = 2025-03-31: 2023-07-01 .. 2025-01-01, 7
     * statements. */
    run r;
    run_load(&r, DATA "clean-edge.yaml", DATA "clean-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2024-07-01",
                        .kind = OUT,
                        .component = "clean",
                        .period = "2024-07-01",
                        .final_on = "2024-10-01",
                        .members = "2",
                        .amount_pence = 20000});
    expect_line(&r,
                &(want){.quarter = "2025-01-01",
                        .kind = OUT,
                        .component = "clean",
                        .period = "2025-01-01",
                        .final_on = "2025-04-01",
                        .members = "1",
                        .amount_pence = 10000});
    expect_run(&r, 7, "2023-07-01", "2025-01-01", 2, 30000);
    run_free(&r);
}
END_TEST

START_TEST(test_ruling_custody_same_date)
{
    /* custody-edge.yaml: Q1 2023, where area NORTH, 50 nights budgeted,
     * 10.00 a night.
     *   A: a1 reception (SOUTH) 2023-01-10; on 2023-02-01 a2 reception
     *     (NORTH) and a3 discharge; a4 discharge 2023-02-11. Discharges
     *     first: a3 closes the SOUTH spell (not counted), a2 opens a NORTH
     *     spell closed by a4: 1..10 February = 10 nights. (By id alone a2
     *     would be ignored while the SOUTH spell is open: 0 nights.)
     *   C: on 2023-03-10 c2 discharge and c1 reception (NORTH): c2 closes
     *     nothing, c1 opens a spell that runs on: 10..31 March = 22 nights.
     *     (By id alone c1 would open and c2 close it: 0 nights.)
     * Nights 32 in 2 spells; avoided 50 - 32 = 18; percent 36; 180.00. */
    run r;
    run_load(&r, DATA "custody-edge.yaml", DATA "custody-edge.jsonl", ORDER_FILE);
    expect_line(&r,
                &(want){.quarter = "2023-01-01",
                        .kind = OUT,
                        .component = "nights",
                        .period = "2023-01-01",
                        .final_on = "2023-04-01",
                        .members = "2",
                        .actual = "32.000000",
                        .baseline = "50.000000",
                        .percent = "36.000000",
                        .avoided = "18.000000",
                        .units = "18.000000",
                        .amount_pence = 18000});
    expect_run(&r, 1, "2023-01-01", "2023-01-01", 1, 18000);
    run_free(&r);
    expect_same_statements(DATA "custody-edge.yaml", DATA "custody-edge.jsonl");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("review");
    TCase *t = tcase_create("mechanism");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_significance_at_equality);
    tcase_add_test(t, test_significance_weighted);
    tcase_add_test(t, test_hurdle_corners);
    tcase_add_test(t, test_hurdle_missed_late);
    tcase_add_test(t, test_topup_edges);
    tcase_add_test(t, test_volume_edges);
    tcase_add_test(t, test_recovery_edges);
    suite_add_tcase(s, t);
    TCase *u = tcase_create("rulings");
    tcase_set_timeout(u, 60);
    tcase_add_test(u, test_ruling_range_late_conviction);
    tcase_add_test(u, test_ruling_clean_month_end);
    tcase_add_test(u, test_ruling_custody_same_date);
    suite_add_tcase(s, u);
    return s;
}

PBR_CHECK_MAIN(make_suite)

/* test_evalparts.c -- the evaluator's seams tested alone, without a contract
 * file or an event set: the pay rule of one line (SPEC.md 5.5 steps 1-3 and
 * 5, the pooled gate of 5.6) through pay_terms, the significance gate of
 * 5.9.3 by measure, and period_range's lookup. Every figure is worked out
 * by hand in the comments (pounds x 100 = pence, rounded half to even once).
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "libpbr/eval/eval.h"
#include "pbr/date.h"

/* A pay rule: no threshold, per points, 10.00 a unit, no tiers, no cap. */
static void pay_init(pbr_pay *p)
{
    memset(p, 0, sizeof *p);
    mpq_inits(p->threshold, p->below, p->price, p->max_units, p->cap, p->share, NULL);
    p->per = PBR_METRIC_POINTS;
    p->has_price = 1;
    mpq_set_ui(p->price, 10, 1);
}

static void pay_clear(pbr_pay *p)
{
    mpq_clears(p->threshold, p->below, p->price, p->max_units, p->cap, p->share, NULL);
}

/* Figures with points = pnum/pden and percent = pct; no avoided. */
static void metrics_set(metrics *m, long pnum, unsigned long pden, long pct)
{
    mpq_inits(m->points, m->percent, m->avoided, NULL);
    m->has_points = 1;
    m->significant = 0;
    mpq_set_si(m->points, pnum, pden);
    mpq_canonicalize(m->points);
    mpq_set_si(m->percent, pct, 1);
}

static void metrics_done(metrics *m)
{
    mpq_clears(m->points, m->percent, m->avoided, NULL);
}

/* Pays m on terms; returns the line. */
static pbr_line pay(const pay_terms *terms, const metrics *m)
{
    pbr_line l;
    memset(&l, 0, sizeof l);
    l.threshold_met = -1;
    mpq_t amount;
    mpq_init(amount);
    pay_line(terms, m, &l, amount);
    mpq_clear(amount);
    return l;
}

START_TEST(test_own_gate)
{
    /* threshold 10 points, below -20.00, 10.00 a point.
     * 5 points: missed, pays below: -20.00 = -2000 p, units null.
     * 16.5 points: met, 16.5 x 10.00 = 165.00 = 16500 p.
     * from_threshold: units 16.5 - 10 = 6.5, 65.00 = 6500 p. */
    pbr_pay p;
    pay_init(&p);
    p.has_threshold = 1;
    p.threshold_metric = PBR_METRIC_POINTS;
    mpq_set_ui(p.threshold, 10, 1);
    mpq_set_si(p.below, -20, 1);
    pay_terms terms = {.pay = &p, .gate = PAY_GATE_OWN, .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    metrics m;
    metrics_set(&m, 5, 1, 0);
    pbr_line l = pay(&terms, &m);
    ck_assert_int_eq(l.threshold_met, 0);
    ck_assert_str_eq(l.units, "");
    ck_assert_int_eq(l.computed_pence, -2000);
    metrics_done(&m);

    metrics_set(&m, 33, 2, 0);
    l = pay(&terms, &m);
    ck_assert_int_eq(l.threshold_met, 1);
    ck_assert_str_eq(l.units, "16.500000");
    ck_assert_int_eq(l.computed_pence, 16500);
    p.from_threshold = 1;
    l = pay(&terms, &m);
    ck_assert_str_eq(l.units, "6.500000");
    ck_assert_int_eq(l.computed_pence, 6500);
    metrics_done(&m);
    pay_clear(&p);
}
END_TEST

START_TEST(test_pooled_gate)
{
    /* The pooled rule (5.6) replaces the own gate: percent >= 20. The own
     * rule (points >= 30, below -20.00) would miss 16.5 points; the pooled
     * gate decides instead, and a pooled miss pays 0, never below.
     * 16.5 points, 15 percent: pooled missed, 0 p.
     * 16.5 points, 25 percent: met, 16.5 x 10.00 = 16500 p. */
    pbr_pay p;
    pay_init(&p);
    p.has_threshold = 1;
    p.threshold_metric = PBR_METRIC_POINTS;
    mpq_set_ui(p.threshold, 30, 1);
    mpq_set_si(p.below, -20, 1);
    mpq_t pooled;
    mpq_init(pooled);
    mpq_set_ui(pooled, 20, 1);
    pay_terms terms = {.pay = &p,
                       .gate = PAY_GATE_POOLED,
                       .pooled_metric = PBR_METRIC_PERCENT,
                       .pooled_threshold = (const mpq_t *)&pooled,
                       .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    metrics m;
    metrics_set(&m, 33, 2, 15);
    pbr_line l = pay(&terms, &m);
    ck_assert_int_eq(l.threshold_met, 0);
    ck_assert_int_eq(l.computed_pence, 0);
    metrics_done(&m);

    metrics_set(&m, 33, 2, 25);
    l = pay(&terms, &m);
    ck_assert_int_eq(l.threshold_met, 1);
    ck_assert_int_eq(l.computed_pence, 16500);
    metrics_done(&m);
    mpq_clear(pooled);
    pay_clear(&p);
}
END_TEST

START_TEST(test_negative_units)
{
    /* No threshold, 10.00 a point, -3 points (worse than the baseline).
     * Clamped (5.5 step 2): 0 units, 0 p. Kept (custody nights): -3 units,
     * -3 x 10.00 = -30.00 = -3000 p. */
    pbr_pay p;
    pay_init(&p);
    metrics m;
    metrics_set(&m, -3, 1, 0);
    pay_terms clamped = {.pay = &p, .gate = PAY_GATE_OWN, .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    pbr_line l = pay(&clamped, &m);
    ck_assert_int_eq(l.threshold_met, 1);
    ck_assert_str_eq(l.units, "0.000000");
    ck_assert_int_eq(l.computed_pence, 0);
    pay_terms kept = {.pay = &p, .gate = PAY_GATE_OWN, .negative_units = PAY_NEGATIVE_UNITS_KEPT};
    l = pay(&kept, &m);
    ck_assert_str_eq(l.units, "-3.000000");
    ck_assert_int_eq(l.computed_pence, -3000);
    metrics_done(&m);
    pay_clear(&p);
}
END_TEST

START_TEST(test_segment_price_and_cap)
{
    /* 16.5 points. A segment price of 4.00 replaces 10.00: 16.5 x 4.00 =
     * 66.00 = 6600 p. At 10.00 with a cap of 100.00: 165.00 capped to
     * 100.00 = 10000 p. */
    pbr_pay p;
    pay_init(&p);
    mpq_t seg;
    mpq_init(seg);
    mpq_set_ui(seg, 4, 1);
    metrics m;
    metrics_set(&m, 33, 2, 0);
    pay_terms terms = {.pay = &p,
                       .segment_price = (const mpq_t *)&seg,
                       .gate = PAY_GATE_OWN,
                       .negative_units = PAY_NEGATIVE_UNITS_CLAMPED};
    ck_assert_int_eq(pay(&terms, &m).computed_pence, 6600);
    terms.segment_price = NULL;
    p.has_cap = 1;
    mpq_set_ui(p.cap, 100, 1);
    ck_assert_int_eq(pay(&terms, &m).computed_pence, 10000);
    metrics_done(&m);
    mpq_clear(seg);
    pay_clear(&p);
}
END_TEST

/* eval_significant on decimal strings. */
static int significant(const char *z, int64_t n, const char *a, const char *b, pbr_measure measure)
{
    mpq_t qz, qa, qb;
    mpq_inits(qz, qa, qb, NULL);
    ck_assert_int_eq(mpq_set_str(qz, z, 10), 0);
    ck_assert_int_eq(mpq_set_str(qa, a, 10), 0);
    ck_assert_int_eq(mpq_set_str(qb, b, 10), 0);
    mpq_canonicalize(qz);
    mpq_canonicalize(qa);
    mpq_canonicalize(qb);
    int met = eval_significant(qz, n, qa, qb, measure);
    mpq_clears(qz, qa, qb, NULL);
    return met;
}

START_TEST(test_significance_by_measure)
{
    /* z = 2, n = 100, actual 2/5, baseline 1/2: (b - a)^2 n = (1/10)^2 x
     * 100 = 1. Binary: z^2 b (1 - b) = 4 x 1/4 = 1, and 1 >= 1: met.
     * Frequency: z^2 b = 4 x 1/2 = 2 > 1: not met. An actual at or above the
     * baseline is never significant. */
    ck_assert_int_eq(significant("2", 100, "2/5", "1/2", PBR_M_BINARY), 1);
    ck_assert_int_eq(significant("2", 100, "2/5", "1/2", PBR_M_FREQUENCY), 0);
    ck_assert_int_eq(significant("2", 1000000, "1/2", "1/2", PBR_M_BINARY), 0);
}
END_TEST

START_TEST(test_period_range)
{
    /* Four quarters from 2023-01-01: [2023-01-01, 2023-04-01) is 0, ...,
     * [2023-10-01, 2024-01-01) is 3; outside: -1. Two years from
     * 2023-04-01: 2024-03-31 is year 0, 2024-04-01 year 1. */
    period_range q = {NULL, 0, 3};
    ck_assert_int_eq(period_range_init(&q, pbr_date_from_ymd(2023, 1, 1), 4, 3), 0);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2022, 12, 31)), -1);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2023, 1, 1)), 0);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2023, 3, 31)), 0);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2023, 4, 1)), 1);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2023, 12, 31)), 3);
    ck_assert_int_eq(period_range_find(&q, pbr_date_from_ymd(2024, 1, 1)), -1);
    period_range_clear(&q);
    ck_assert_ptr_null(q.starts);

    period_range y = {NULL, 0, 12};
    ck_assert_int_eq(period_range_init(&y, pbr_date_from_ymd(2023, 4, 1), 2, 12), 0);
    ck_assert_int_eq(period_range_find(&y, pbr_date_from_ymd(2024, 3, 31)), 0);
    ck_assert_int_eq(period_range_find(&y, pbr_date_from_ymd(2024, 4, 1)), 1);
    ck_assert_int_eq(period_range_find(&y, pbr_date_from_ymd(2025, 4, 1)), -1);
    period_range_clear(&y);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("evalparts");
    TCase *p = tcase_create("pay");
    tcase_add_test(p, test_own_gate);
    tcase_add_test(p, test_pooled_gate);
    tcase_add_test(p, test_negative_units);
    tcase_add_test(p, test_segment_price_and_cap);
    suite_add_tcase(s, p);
    TCase *g = tcase_create("significance");
    tcase_add_test(g, test_significance_by_measure);
    suite_add_tcase(s, g);
    TCase *r = tcase_create("periods");
    tcase_add_test(r, test_period_range);
    suite_add_tcase(s, r);
    return s;
}

PBR_CHECK_MAIN(make_suite)

/* test_contract.c -- the contract loader (SPEC.md section 4): the example
 * contracts and an every-key fixture load with the right values and defaults,
 * decimals are exact, and every error kind is reported with its message and
 * 1-based line:column. Expected positions were counted by hand from the YAML
 * text of each case.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check_main.h"
#include "pbr/contract.h"

/* ---- helpers ------------------------------------------------------------------ */

static int parse(const char *yaml, pbr_contract **c, pbr_diag *d)
{
    return pbr_contract_parse("c.yaml", yaml, strlen(yaml), c, d);
}

static pbr_contract *parse_ok(const char *yaml)
{
    pbr_contract *c = NULL;
    pbr_diag d;
    char msg[1024];
    int rc = parse(yaml, &c, &d);
    pbr_diag_format(&d, msg, sizeof msg);
    ck_assert_msg(rc == 0, "expected to load, got %s", msg);
    ck_assert_ptr_nonnull(c);
    return c;
}

static pbr_contract *load_ok(const char *rel)
{
    char path[1024], msg[1024];
    pbr_contract *c = NULL;
    pbr_diag d;
    int rc = pbr_contract_load(pbr_test_path(path, sizeof path, rel), &c, &d);
    pbr_diag_format(&d, msg, sizeof msg);
    ck_assert_msg(rc == 0, "%s: expected to load, got %s", rel, msg);
    return c;
}

/* 1 when q == num/den exactly. */
static int q_is(const mpq_t q, long num, unsigned long den)
{
    mpq_t e;
    mpq_init(e);
    mpq_set_si(e, num, den);
    mpq_canonicalize(e);
    int eq = mpq_equal(q, e);
    mpq_clear(e);
    return eq;
}

#define ck_q(q, n, d) ck_assert_msg(q_is((q), (n), (d)), "%s is not %ld/%lu", #q, (long)(n), (unsigned long)(d))

static pbr_date ymd(int y, int m, int d)
{
    return pbr_date_from_ymd(y, m, d);
}

static const pbr_cond *cond_of(const pbr_where *w, pbr_field f)
{
    for (size_t i = 0; i < w->nconds; i++)
        if (w->conds[i].field == f)
            return &w->conds[i];
    return NULL;
}

/* ---- the example contracts ------------------------------------------------------ */

START_TEST(example_loads)
{
    pbr_contract *c = load_ok("tests/spec-example/example.yaml");
    ck_assert_str_eq(c->id, "example");
    ck_assert_str_eq(c->provider, "demo-provider");
    ck_assert_ptr_null(c->commissioner);
    ck_assert_int_eq(c->start, ymd(2020, 4, 1));
    ck_assert_int_eq(c->end, ymd(2020, 9, 30));
    ck_assert_int_eq(c->year_start, 4);
    ck_assert_int_eq(c->settle_after_days, 30);
    ck_assert_int_eq(c->run_off, 4);
    ck_assert_int_eq(c->has_contract_cap, 0);
    ck_assert_int_eq(c->has_cohort, 1);
    ck_assert_int_eq(c->cohort.index, PBR_EV_RELEASE);
    ck_assert_int_eq(c->cohort.period, PBR_PERIOD_QUARTER);
    ck_assert_int_eq(c->cohort.members_first, 1);
    ck_assert_int_eq(c->cohort.size, 0);
    ck_assert_uint_eq(c->cohort.where.nconds, 1);
    const pbr_cond *sd = cond_of(&c->cohort.where, PBR_F_SENTENCE_DAYS);
    ck_assert_ptr_nonnull(sd);
    ck_assert_int_eq(sd->is_range, 1);
    ck_assert(sd->min == INT64_MIN);
    ck_assert(sd->max == 364);

    ck_assert_uint_eq(c->nfees, 1);
    ck_assert_str_eq(c->fees[0].id, "service");
    ck_assert_int_eq(c->fees[0].dated, 0);
    ck_q(c->fees[0].amount, 1000, 1);
    ck_assert_int_eq(c->fees[0].from, ymd(2020, 4, 1));
    ck_assert_int_eq(c->fees[0].to, ymd(2020, 9, 30));

    ck_assert_uint_eq(c->noutcomes, 1);
    const pbr_outcome *o = &c->outcomes[0];
    ck_assert_str_eq(o->id, "reoffending");
    ck_assert_int_eq(o->measure, PBR_M_BINARY);
    ck_assert_int_eq(o->follow_up, 12);
    ck_assert_int_eq(o->waiting, 6);
    ck_assert_int_eq(o->counts_convictions, 0);
    ck_assert_int_eq(o->per_reoffender, 0);
    ck_assert_int_eq(o->has_baseline, 1);
    ck_assert_int_eq(o->baseline.kind, PBR_BL_RATE);
    ck_q(o->baseline.rate, 1, 2);
    ck_assert_int_eq(o->pay.has_threshold, 1);
    ck_assert_int_eq(o->pay.threshold_metric, PBR_METRIC_POINTS);
    ck_q(o->pay.threshold, 10, 1);
    ck_q(o->pay.below, -250, 1);
    ck_assert_int_eq(o->pay.per, PBR_METRIC_POINTS);
    ck_assert_int_eq(o->pay.from_threshold, 1);
    ck_assert_int_eq(o->pay.has_price, 1);
    ck_q(o->pay.price, 3333, 100);
    ck_assert_int_eq(o->pay.has_max_units, 1);
    ck_q(o->pay.max_units, 30, 1);
    ck_assert_int_eq(o->pay.has_cap, 0);
    ck_assert_int_eq(o->pay.weight_ogrs, 0);
    ck_assert_uint_eq(o->pay.ntiers, 0);
    ck_assert_uint_eq(o->nsegments, 0);
    ck_assert_int_eq(o->has_pooled, 0);
    ck_assert_uint_eq(o->exclude.nconds, 0);
    ck_assert(c->nbytes > 0 && c->bytes[c->nbytes] == '\0');
    ck_assert_uint_eq(strlen(c->sha256), 64);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(example2_loads)
{
    pbr_contract *c = load_ok("tests/spec-example/example2.yaml");
    ck_assert_str_eq(c->id, "example2");
    ck_assert_int_eq(c->year_start, 1);
    ck_assert_int_eq(c->cohort.index, PBR_EV_COMMUNITY_START);
    ck_assert_int_eq(c->cohort.period, PBR_PERIOD_WHOLE);
    ck_assert_uint_eq(c->nfees, 0);
    ck_assert_uint_eq(c->noutcomes, 2);
    const pbr_outcome *cl = &c->outcomes[0], *n = &c->outcomes[1];
    ck_assert_int_eq(cl->measure, PBR_M_CLEAN_PERIOD);
    ck_assert_int_eq(cl->follow_up, 12);
    ck_assert_int_eq(cl->waiting, 3);
    ck_assert_int_eq(cl->has_baseline, 0);
    ck_q(cl->pay.price, 2000, 1);
    ck_assert_int_eq(cl->pay.weight_ogrs, 1);
    ck_assert_uint_eq(cl->file_order, 0);
    ck_assert_int_eq(n->measure, PBR_M_CUSTODY_NIGHTS);
    ck_assert_uint_eq(n->file_order, 1);
    const pbr_cond *area = cond_of(&n->where, PBR_F_AREA);
    ck_assert_ptr_nonnull(area);
    ck_assert_uint_eq(area->nstrs, 1);
    ck_assert_str_eq(area->strs[0], "NORTH");
    ck_assert_int_eq(n->baseline.kind, PBR_BL_NIGHTS);
    ck_q(n->baseline.nights, 60, 1);
    ck_assert_int_eq(n->pay.per, PBR_METRIC_AVOIDED);
    ck_q(n->pay.price, 100, 1);
    ck_assert_int_eq(n->pay.has_threshold, 0);
    pbr_contract_destroy(&c);
}
END_TEST

/* ---- the every-key fixture ----------------------------------------------------------- */

START_TEST(full_fixture_loads)
{
    pbr_contract *c = load_ok("tests/data/contracts-good/full.yaml");
    ck_assert_str_eq(c->id, "full-example");
    ck_assert_str_eq(c->title, "Every key: fees, five measures, segments, tiers, pooled");
    ck_assert_str_eq(c->commissioner, "moj");
    ck_assert_int_eq(c->settle_after_days, 45);
    ck_assert_int_eq(c->run_off, 2);
    ck_assert_int_eq(c->has_contract_cap, 1);
    ck_q(c->contract_cap, 2000000, 1);

    /* cohort */
    const pbr_cohort *co = &c->cohort;
    ck_assert_int_eq(co->period, PBR_PERIOD_WINDOWS);
    ck_assert_uint_eq(co->nwindows, 2);
    ck_assert_str_eq(co->windows[1].name, "C2");
    ck_assert_int_eq(co->windows[0].from, ymd(2012, 4, 1));
    ck_assert_int_eq(co->windows[1].to, ymd(2014, 4, 1));
    ck_assert(co->size == 1000);
    ck_assert_int_eq(co->members_first, 0);
    ck_assert_uint_eq(co->where.nconds, 10);
    const pbr_cond *est = cond_of(&co->where, PBR_F_ESTABLISHMENT);
    ck_assert_uint_eq(est->nstrs, 2);
    ck_assert_str_eq(est->strs[1], "LEEDS");
    ck_assert_uint_eq(cond_of(&co->where, PBR_F_AREA)->nstrs, 1);
    const pbr_cond *age = cond_of(&co->where, PBR_F_AGE);
    ck_assert(age->is_range && age->min == 18 && age->max == 64);
    const pbr_cond *ogrs = cond_of(&co->where, PBR_F_OGRS);
    ck_assert(ogrs->is_range && ogrs->min == 2500 && ogrs->max == 9999);
    const pbr_cond *ps = cond_of(&co->where, PBR_F_PRIOR_SANCTIONS);
    ck_assert(!ps->is_range);
    ck_assert_uint_eq(ps->nnums, 2);
    ck_assert(ps->nums[0] == 0 && ps->nums[1] == 1);
    ck_assert_str_eq(cond_of(&co->where, PBR_F_GENDER)->strs[0], "M");
    ck_assert_str_eq(cond_of(&co->where, PBR_F_FLAGS)->strs[0], "PPO");
    ck_assert_uint_eq(cond_of(&co->where, PBR_F_ORDER)->nstrs, 2);
    ck_assert_str_eq(cond_of(&co->where, PBR_F_PROVIDER)->strs[0], "acme-rehab");

    /* fees */
    ck_assert_uint_eq(c->nfees, 3);
    ck_q(c->fees[1].amount, 160001, 2);
    ck_assert_int_eq(c->fees[1].from, ymd(2012, 10, 1));
    ck_assert_int_eq(c->fees[1].to, ymd(2013, 9, 30));
    ck_assert_uint_eq(c->fees[1].file_order, 1);
    ck_assert_int_eq(c->fees[2].dated, 1);
    ck_assert_int_eq(c->fees[2].on, ymd(2016, 4, 1));
    ck_q(c->fees[2].amount, -500000, 1);

    ck_assert_uint_eq(c->noutcomes, 5);
    /* binary with rates, tiers, segments, pooled */
    const pbr_outcome *b = &c->outcomes[0];
    ck_assert_int_eq(b->counts_convictions, 1);
    ck_assert_uint_eq(b->exclude.nconds, 3);
    ck_assert_str_eq(cond_of(&b->exclude, PBR_F_DISPOSAL)->strs[0], "caution");
    ck_assert_int_eq(b->baseline.kind, PBR_BL_RATES);
    ck_assert_uint_eq(b->baseline.nrates, 2);
    ck_assert_str_eq(b->baseline.rate_keys[0], "C1");
    ck_q(b->baseline.rate_values[1], 23, 40);
    ck_q(b->pay.below, -400000, 1);
    ck_assert_uint_eq(b->pay.ntiers, 3);
    ck_assert_int_eq(b->pay.tiers[1].has_upto, 1);
    ck_q(b->pay.tiers[1].upto, 15, 2);
    ck_q(b->pay.tiers[1].price, 70000, 1);
    ck_assert_int_eq(b->pay.tiers[2].has_upto, 0);
    ck_q(b->pay.max_units, 10, 1);
    ck_q(b->pay.cap, 400000, 1);
    ck_assert_uint_eq(b->nsegments, 2);
    ck_assert_str_eq(b->segments[0].name, "ppo");
    ck_assert_int_eq(b->segments[0].has_where, 1);
    ck_assert_int_eq(b->segments[0].baseline.kind, PBR_BL_PREDICTED);
    ck_q(b->segments[0].baseline.scale, 11, 10);
    ck_q(b->segments[0].price, 1400, 1);
    ck_assert_int_eq(b->segments[1].has_where, 0);
    ck_assert_int_eq(b->segments[1].has_price, 0);
    ck_assert_int_eq(b->segments[1].baseline.kind, PBR_BL_OGRS_REF);
    ck_q(b->segments[1].baseline.ogrs_reference, 9, 20);
    ck_assert_int_eq(b->has_pooled, 1);
    ck_assert_int_eq(b->pooled_metric, PBR_METRIC_PERCENT);
    ck_q(b->pooled_threshold, 15, 2);

    const pbr_outcome *f = &c->outcomes[1];
    ck_assert_int_eq(f->measure, PBR_M_FREQUENCY);
    ck_assert_int_eq(f->per_reoffender, 1);
    ck_assert_int_eq(f->counts_convictions, 0);
    ck_q(f->baseline.rate, 11, 4);
    ck_assert_int_eq(f->pay.weight_ogrs, 1);
    ck_assert_int_eq(f->pooled_metric, PBR_METRIC_AVOIDED);

    const pbr_outcome *n = &c->outcomes[3];
    ck_assert_int_eq(n->measure, PBR_M_CUSTODY_NIGHTS);
    const pbr_cond *rem = cond_of(&n->where, PBR_F_REMAND);
    ck_assert_ptr_nonnull(rem);
    ck_assert_int_eq(rem->boolean, 0);
    ck_assert_int_eq(n->baseline.history_years, 3);
    ck_assert_int_eq(n->pay.per, PBR_METRIC_PERCENT);
    ck_assert_int_eq(cond_of(&n->segments[0].where, PBR_F_REMAND)->boolean, 1);
    ck_assert_int_eq(n->segments[1].has_baseline, 0);

    const pbr_outcome *d = &c->outcomes[4];
    ck_assert_int_eq(d->measure, PBR_M_DISPOSALS);
    ck_assert_int_eq(d->baseline.kind, PBR_BL_COUNTS);
    ck_assert_int_eq(d->baseline.has_count[PBR_DISP_SSO], 1);
    ck_assert_int_eq(d->baseline.has_count[PBR_DISP_FINE], 0);
    ck_q(d->baseline.counts[PBR_DISP_SSO], 161, 2);
    ck_assert_int_eq(d->pay.has_prices, 1);
    ck_q(d->pay.prices[PBR_DISP_CUSTODY], 9000, 1);
    ck_assert_int_eq(d->pay.has_kind_price[PBR_DISP_FINE], 0);
    ck_q(d->pay.share, 50, 1);
    ck_assert_uint_eq(cond_of(&d->where, PBR_F_DISPOSAL)->nstrs, 2);
    pbr_contract_destroy(&c);
}
END_TEST

/* ---- exactness, defaults, period keys, hashing ------------------------------------------- */

#define HEAD "contract: t\ntitle: T\nprovider: p\nstart: 2012-04-01\nend: 2014-03-31\n"

START_TEST(decimals_are_exact)
{
    pbr_contract *c = parse_ok(HEAD "cohort: {index: release}\n"
                                    "outcomes:\n"
                                    "  - {id: r, measure: frequency, baseline: {rate: 0.1}, pay: {price: 33.33, "
                                    "threshold: {avoided: 0.0000001}, max_units: 123456789.987654321}}\n");
    const pbr_outcome *o = &c->outcomes[0];
    ck_q(o->baseline.rate, 1, 10);
    ck_q(o->pay.price, 3333, 100);
    ck_q(o->pay.threshold, 1, 10000000);
    mpq_t e;
    mpq_init(e);
    ck_assert_int_eq(mpq_set_str(e, "123456789987654321/1000000000", 10), 0);
    mpq_canonicalize(e);
    ck_assert(mpq_equal(e, o->pay.max_units));
    mpq_clear(e);
    /* defaults */
    ck_assert_int_eq(c->cohort.period, PBR_PERIOD_YEAR);
    ck_assert_int_eq(o->pay.per, PBR_METRIC_AVOIDED);
    ck_q(o->pay.below, 0, 1);
    ck_q(o->pay.share, 100, 1);
    ck_q(o->baseline.scale, 1, 1);
    ck_assert_int_eq(o->pay.from_threshold, 0);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(sha256_and_bytes)
{
    const char *y = "contract: s\ntitle: S\nprovider: p\nstart: 2020-01-01\nend: 2020-12-31\n"
                    "fees: [{id: f, per_quarter: 1.00}]\n";
    pbr_contract *c = parse_ok(y);
    /* computed independently: python3 hashlib.sha256 of the same bytes */
    ck_assert_str_eq(c->sha256, "fe6e3b67b91a62bc8ec315900d375448363a471f2a4c3feffad3fd0a34ba5db0");
    ck_assert_uint_eq(c->nbytes, strlen(y));
    ck_assert_str_eq(c->bytes, y);
    ck_assert_int_eq(c->has_cohort, 0);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(rates_keys_quarters)
{
    /* 2012-05-15 .. 2012-12-01, year_start 4: aligned quarters overlapping are
     * 2012-04-01, 2012-07-01, 2012-10-01 (not clipped to the contract). */
    pbr_contract *c = parse_ok("contract: t\ntitle: T\nprovider: p\nstart: 2012-05-15\nend: 2012-12-01\n"
                               "cohort: {index: release, period: quarter}\n"
                               "outcomes:\n"
                               "  - {id: r, measure: binary, pay: {price: 1.00},\n"
                               "     baseline: {rates: {2012-10-01: 0.3, 2012-04-01: 0.1, 2012-07-01: 0.2}}}\n");
    ck_assert_uint_eq(c->outcomes[0].baseline.nrates, 3);
    ck_assert_str_eq(c->outcomes[0].baseline.rate_keys[0], "2012-10-01");
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(rates_keys_calendar_years)
{
    pbr_contract *c = parse_ok(HEAD "year_start: 1\ncohort: {index: release}\n"
                                    "outcomes:\n"
                                    "  - {id: r, measure: binary, pay: {price: 1.00},\n"
                                    "     baseline: {rates: {'2012': 0.1, '2013': 0.2, '2014': 0.3}}}\n");
    pbr_contract_destroy(&c);
    char buf[128];
    pbr_diag d;
    pbr_contract *bad = NULL;
    ck_assert_int_eq(parse(HEAD "year_start: 1\ncohort: {index: release}\n"
                                "outcomes:\n"
                                "  - {id: r, measure: binary, pay: {price: 1.00},\n"
                                "     baseline: {rates: {'2012': 0.1, '2013': 0.2}}}\n",
                           &bad, &d),
                     -1);
    pbr_diag_format(&d, buf, sizeof buf);
    ck_assert_str_eq(buf, "c.yaml:10:24: rates: missing cohort \"2014\"");
}
END_TEST

START_TEST(rates_keys_whole_and_segments)
{
    pbr_contract *c = parse_ok(HEAD "cohort: {index: release, period: whole}\n"
                                    "outcomes:\n"
                                    "  - id: r\n"
                                    "    measure: binary\n"
                                    "    pay: {price: 1.00}\n"
                                    "    segments:\n"
                                    "      - {name: a, baseline: {rates: {all: 0.5}}}\n"
                                    "      - {name: b, baseline: {rate: 0.4}}\n");
    ck_assert_str_eq(c->outcomes[0].segments[0].baseline.rate_keys[0], "all");
    ck_assert_int_eq(c->outcomes[0].has_baseline, 0);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(segments_inherit_baseline)
{
    pbr_contract *c = parse_ok(HEAD "cohort: {index: release}\n"
                                    "outcomes:\n"
                                    "  - id: r\n"
                                    "    measure: binary\n"
                                    "    baseline: {rate: 0.5}\n"
                                    "    pay: {}\n"
                                    "    segments: [{name: a, price: 1.00}, {name: b, price: 2.00}]\n");
    ck_assert_int_eq(c->outcomes[0].pay.has_price, 0);
    ck_assert_int_eq(c->outcomes[0].segments[1].has_baseline, 0);
    ck_q(c->outcomes[0].segments[1].price, 2, 1);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(where_numbers_compile)
{
    pbr_contract *c = parse_ok(HEAD "cohort:\n  index: release\n  where:\n"
                                    "    ogrs: [0.5, 0.12345, 1]\n"
                                    "    age: {min: 17.5, max: 20.9}\n"
                                    "    sentence_days: 30\n"
                                    "    prior_sanctions: {min: -1}\n"
                                    "outcomes: [{id: r, measure: clean_period, pay: {price: 1.00}}]\n");
    const pbr_where *w = &c->cohort.where;
    const pbr_cond *o = cond_of(w, PBR_F_OGRS), *a = cond_of(w, PBR_F_AGE), *s = cond_of(w, PBR_F_SENTENCE_DAYS);
    ck_assert_uint_eq(o->nnums, 2); /* 0.12345 is 1234.5 ten-thousandths: dropped */
    ck_assert(o->nums[0] == 5000 && o->nums[1] == 10000);
    ck_assert(a->min == 18 && a->max == 20);
    ck_assert(!s->is_range && s->nnums == 1 && s->nums[0] == 30);
    const pbr_cond *p = cond_of(w, PBR_F_PRIOR_SANCTIONS);
    ck_assert(p->min == -1 && p->max == INT64_MAX);
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(load_missing_file)
{
    pbr_contract *c = (pbr_contract *)1;
    pbr_diag d;
    ck_assert_int_eq(pbr_contract_load("/nonexistent/x.yaml", &c, &d), -1);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(d.line, 0);
    ck_assert_str_eq(d.file, "/nonexistent/x.yaml");
    ck_assert(strlen(d.message) > 0);
}
END_TEST

START_TEST(measure_names)
{
    ck_assert_str_eq(pbr_measure_name(PBR_M_BINARY), "binary");
    ck_assert_str_eq(pbr_measure_name(PBR_M_CLEAN_PERIOD), "clean_period");
    ck_assert_str_eq(pbr_measure_name(PBR_M_DISPOSALS), "disposals");
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

/* A valid base: lines 1-5 HEAD, 6-7 cohort, 8-13 one binary outcome. */
#define COHORT "cohort:\n  index: release\n"
#define OUT9 "outcomes:\n  - id: r\n"
#define BASE HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      price: 10.00\n"
/* HEAD then one outcome at lines 6-10 of the given measure and pay. */
#define ONE(measure, baseline, pay) \
    HEAD "outcomes:\n  - id: n\n    measure: " measure "\n    baseline: " baseline "\n    pay: " pay "\n"

static const struct bad_case {
    const char *yaml, *want;
} BAD[] = {
    /* unknown, duplicate and missing keys */
    {BASE "      treshold: {points: 5}\n", "c.yaml:14:7: unknown key \"treshold\" in pay"},
    {BASE "colour: red\n", "c.yaml:14:1: unknown key \"colour\" in contract"},
    {BASE "title: X\n", "c.yaml:14:1: duplicate key \"title\" in contract"},
    {"contract: t\nprovider: p\nstart: 2012-04-01\nend: 2014-03-31\nfees: [{id: f, per_quarter: 1.00}]\n",
     "c.yaml:1:1: missing key \"title\" in contract"},
    {HEAD, "c.yaml:1:1: a contract needs at least one fee or outcome"},
    /* scalars */
    {"contract: t\ntitle: T\nprovider: p\nstart: 2011-02-30\n", "c.yaml:4:8: start: \"2011-02-30\" is not a real date"},
    {"contract: t\ntitle: T\nprovider: p\nstart: 2011-2-3\n",
     "c.yaml:4:8: start: \"2011-2-3\" is not a date (YYYY-MM-DD)"},
    {"contract: t\ntitle: T\nprovider: p\nstart: 2012-04-01\nend: 2011-01-01\n",
     "c.yaml:5:6: end: \"2011-01-01\" is before start"},
    {"contract: Don caster\n",
     "c.yaml:1:11: contract: \"Don caster\" is not a valid id ([a-z0-9-], 1 to 48 characters)"},
    {"contract: t\ntitle: \"a\\0b\"\n", "c.yaml:2:8: title: contains a NUL byte"},
    {"contract: t\ntitle:\n", "c.yaml:2:7: title: must not be empty"},
    {BASE "year_start: 13\n", "c.yaml:14:13: year_start: \"13\" is out of range 1..12"},
    {BASE "settle_after_days: -1\n", "c.yaml:14:20: settle_after_days: \"-1\" is out of range 0..3660"},
    {BASE "run_off: 2.0\n", "c.yaml:14:10: run_off: \"2.0\" is not a whole number"},
    {BASE "contract_cap: 1.234\n",
     "c.yaml:14:15: contract_cap: \"1.234\" is not an amount of money (at most 2 decimal places)"},
    {BASE "    follow_up: 1.5\n", "c.yaml:14:16: follow_up: \"1.5\" is not a whole number"},
    {BASE "    follow_up: +3\n", "c.yaml:14:16: follow_up: \"+3\" is not a whole number"},
    {BASE "    waiting: [6]\n", "c.yaml:14:14: waiting: expected a single value, not a list"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      price: 10.005\n",
     "c.yaml:13:14: price: \"10.005\" is not an amount of money (at most 2 decimal places)"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      price: abc\n",
     "c.yaml:13:14: price: \"abc\" is not a decimal number"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      price: 1e3\n",
     "c.yaml:13:14: price: \"1e3\" is not a decimal number"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      price: -1.00\n",
     "c.yaml:13:14: price: \"-1.00\" must be 0 or more"},
    {HEAD COHORT OUT9 "    measure: triple\n",
     "c.yaml:10:14: measure: \"triple\" is not one of binary, frequency, "
     "clean_period, custody_nights or disposals"},
    /* pay */
    {BASE "      tiers: [{price: 5.00}]\n", "c.yaml:14:7: tiers: give either price or tiers, not both"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n"
                      "      tiers: [{upto: 5, price: 1.00}, {upto: 5, price: 2.00}, {price: 3.00}]\n",
     "c.yaml:13:46: upto: \"5\" does not rise above the previous tier's upto"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n"
                      "      tiers: [{price: 1.00}, {upto: 5, price: 2.00}]\n",
     "c.yaml:13:15: tiers: only the last tier may leave out upto"},
    {BASE "      from_threshold: true\n", "c.yaml:14:7: from_threshold: there is no threshold"},
    {BASE "      threshold: {percent: 5}\n      per: point\n      from_threshold: true\n",
     "c.yaml:16:7: from_threshold: the gate is in percent but per is point"},
    {BASE "      threshold: {points: 5, percent: 3}\n",
     "c.yaml:14:18: threshold: give exactly one of points, percent, avoided or significant"},
    {BASE "      threshold: {pts: 5}\n", "c.yaml:14:19: unknown key \"pts\" in threshold"},
    {BASE "      per: points\n", "c.yaml:14:12: per: \"points\" is not one of point, percent or avoided"},
    {BASE "      from_threshold: yes\n", "c.yaml:14:23: from_threshold: \"yes\" is not true or false"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n    pay:\n      cap: 10.00\n",
     "c.yaml:13:7: pay: missing price (give price or tiers, or a price on every segment)"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5}\n", "c.yaml:9:5: missing key \"pay\" in outcome"},
    {ONE("custody_nights", "{nights: 5}", "{price: 1.00, weight: ogrs}"),
     "c.yaml:10:32: weight: ogrs applies only to binary, frequency and clean_period, not custody_nights"},
    {ONE("custody_nights", "{nights: 5}", "{tiers: [{price: 1.00}]}"),
     "c.yaml:10:11: pay: \"tiers\" does not apply to custody_nights"},
    {ONE("custody_nights", "{nights: 5}", "{price: 1.00, max_units: 3}"),
     "c.yaml:10:24: pay: \"max_units\" does not apply to custody_nights"},
    {ONE("custody_nights", "{nights: 5}", "{price: 1.00, per: point}"),
     "c.yaml:10:29: per: custody_nights pays per avoided or percent, not point"},
    {ONE("custody_nights", "{nights: 5}", "{price: 1.00, threshold: {points: 1}}"),
     "c.yaml:10:36: threshold: custody_nights has no points metric (use avoided or percent)"},
    {ONE("disposals", "{history: 2}", "{price: 1.00}"), "c.yaml:10:11: pay: \"price\" does not apply to disposals"},
    {ONE("disposals", "{history: 2}", "{share: 50}"), "c.yaml:10:10: missing key \"prices\" in pay"},
    {ONE("disposals", "{history: 2}", "{prices: {custody: 1.00}, share: 150}"),
     "c.yaml:10:43: share: \"150\" is more than 100 percent"},
    {ONE("disposals", "{history: 2}", "{prices: {jail: 1.00}}"), "c.yaml:10:20: unknown key \"jail\" in prices"},
    {ONE("disposals", "{history: 2}", "{prices: {custody: 1.001}}"),
     "c.yaml:10:29: prices: \"1.001\" is not an amount of money (at most 2 decimal places)"},
    /* baselines */
    {HEAD COHORT OUT9 "    measure: frequency\n    baseline: {predicted: ogrs}\n    pay: {price: 1.00}\n",
     "c.yaml:11:16: baseline: \"predicted\" (an OGRS baseline) applies only to binary, not frequency"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {history: 2}\n    pay: {price: 1.00}\n",
     "c.yaml:11:16: baseline: \"history\" does not apply to binary"},
    {ONE("custody_nights", "{rate: 5}", "{price: 1.00}"),
     "c.yaml:9:16: baseline: \"rate\" does not apply to custody_nights"},
    {ONE("custody_nights", "{history: 0}", "{price: 1.00}"), "c.yaml:9:25: history: \"0\" is out of range 1..100"},
    {ONE("disposals", "{counts: {custody: -1}}", "{prices: {custody: 1.00}}"),
     "c.yaml:9:34: counts: \"-1\" must be 0 or more"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5, nights: 3}\n    pay: {price: 1.00}\n",
     "c.yaml:11:15: baseline: give only one of rate, rates, predicted, history, nights or counts"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {ogrs_reference: 0.5}\n    pay: {price: 1.00}\n",
     "c.yaml:11:16: ogrs_reference: needs rate"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5, ogrs_reference: 0}\n    pay: {price: 1.00}\n",
     "c.yaml:11:43: ogrs_reference: \"0\" must be greater than 0"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {predicted: risk}\n    pay: {price: 1.00}\n",
     "c.yaml:11:27: predicted: \"risk\" is not ogrs"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 0.5, scale: 2}\n    pay: {price: 1.00}\n",
     "c.yaml:11:27: scale: applies only to predicted"},
    {HEAD COHORT OUT9 "    measure: binary\n    pay:\n      price: 10.00\n",
     "c.yaml:9:5: missing key \"baseline\" in outcome (binary needs one)"},
    {HEAD COHORT OUT9 "    measure: binary\n    pay: {price: 1.00}\n    segments:\n"
                      "      - {name: a, baseline: {rate: 0.5}}\n      - {name: b}\n",
     "c.yaml:14:9: segment \"b\": no baseline, and the component has none"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rates: {2012-13: 0.5}}\n    pay: {price: 1.00}\n",
     "c.yaml:11:23: rates: missing cohort \"2013-14\""},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rates: {2012-13: 0.5, 2013-14: 0.5, 2014-15: 0.5}}\n"
                      "    pay: {price: 1.00}\n",
     "c.yaml:11:52: rates: \"2014-15\" is not a cohort window of this contract"},
    /* outcome keys by measure, ids, segments, pooled */
    {HEAD COHORT OUT9 "    measure: clean_period\n    baseline: {rate: 0.5}\n",
     "c.yaml:11:5: outcome: \"baseline\" does not apply to clean_period"},
    {BASE "    where: {area: X}\n", "c.yaml:14:5: outcome: \"where\" does not apply to binary"},
    {BASE "    per: reoffender\n", "c.yaml:14:5: outcome: \"per\" does not apply to binary"},
    {ONE("custody_nights", "{nights: 5}", "{price: 1.00}") "    pooled: {threshold: {percent: 5}}\n",
     "c.yaml:11:5: outcome: \"pooled\" does not apply to custody_nights"},
    {BASE "    pooled: {threshold: {percent: 5}, below: 1}\n", "c.yaml:14:39: unknown key \"below\" in pooled"},
    {BASE "    segments:\n      - {name: a}\n      - {name: a}\n", "c.yaml:16:16: name: duplicate segment name \"a\""},
    {BASE "    segments: []\n", "c.yaml:14:15: segments: an empty list excludes every member"},
    {BASE "    segments: [{name: a, colour: red}]\n", "c.yaml:14:26: unknown key \"colour\" in segment"},
    {BASE "  - id: r\n    measure: binary\n    baseline: {rate: 0.5}\n    pay: {price: 1.00}\n",
     "c.yaml:14:9: id: duplicate outcome id \"r\""},
    {BASE "  - id: has space\n",
     "c.yaml:14:9: id: \"has space\" is not an identifier (1 to 64 printable characters, no spaces)"},
    {HEAD "fees:\n  - {id: f, per_quarter: 1.00}\n  - {id: f, per_quarter: 2.00}\n",
     "c.yaml:8:10: id: duplicate fee id \"f\""},
    {HEAD COHORT "fees:\n  - {id: r, per_quarter: 1.00}\n"
                 "outcomes:\n  - id: r\n",
     "c.yaml:11:9: id: \"r\" is already the id of a fee (line keys would collide)"},
    {HEAD "fees:\n  - {id: f, per_quarter: 1.00, from: 2012-01-01}\n",
     "c.yaml:7:38: from: \"2012-01-01\" is outside the contract (2012-04-01 to 2014-03-31)"},
    {HEAD "fees:\n  - {id: f, per_quarter: 1.00, to: 2014-04-01}\n",
     "c.yaml:7:36: to: \"2014-04-01\" is outside the contract (2012-04-01 to 2014-03-31)"},
    {HEAD "fees:\n  - {id: f, per_quarter: 1.00, on: 2014-04-01}\n",
     "c.yaml:7:32: fee: \"on\" cannot be used with per_quarter"},
    {HEAD "fees:\n  - {id: f, on: 2014-04-01}\n", "c.yaml:7:5: missing key \"amount\" in fee"},
    {HEAD "fees:\n  - {id: f}\n", "c.yaml:7:5: fee: needs per_quarter, or on and amount"},
    {HEAD "fees: {id: f}\n", "c.yaml:6:7: fees: expected a list"},
    /* cohort */
    {HEAD OUT9 "    measure: binary\n", "c.yaml:8:14: measure: binary needs a cohort (there is no cohort section)"},
    {HEAD "cohort:\n  index: release\n  period: year\n  windows: [{name: A, from: 2012-04-01, to: 2013-04-01}]\n",
     "c.yaml:9:3: windows: give either period or windows, not both"},
    {HEAD "cohort:\n  index: release\n  windows: [{name: A, from: 2012-04-01, to: 2012-04-01}]\n",
     "c.yaml:8:45: to: \"2012-04-01\" is not after from"},
    {HEAD "cohort:\n  index: release\n"
          "  windows: [{name: A, from: 2012-04-01, to: 2013-04-01}, {name: A, from: 2013-04-01, to: 2014-04-01}]\n",
     "c.yaml:8:65: name: duplicate window name \"A\""},
    {HEAD "cohort:\n  index: release\n  size: 0\n", "c.yaml:8:9: size: \"0\" must be at least 1"},
    {HEAD "cohort:\n  index: release\n  size: 99999999999999999999\n",
     "c.yaml:8:9: size: \"99999999999999999999\" is too large"},
    {HEAD "cohort:\n  index: prison\n", "c.yaml:7:10: index: \"prison\" is not one of release or community_start"},
    {HEAD "cohort:\n  period: year\n", "c.yaml:7:3: missing key \"index\" in cohort"},
    {HEAD "cohort:\n  index: release\n  members: all\n", "c.yaml:8:12: members: \"all\" is not one of first or every"},
    /* where */
    {HEAD "cohort:\n  index: release\n  where: {remand: true}\n",
     "c.yaml:8:11: where: \"remand\" is not a field of index events"},
    {HEAD "cohort:\n  index: release\n  where: {area: {min: 1}}\n",
     "c.yaml:8:17: area: a range {min, max} applies only to numeric fields"},
    {HEAD "cohort:\n  index: release\n  where: {age: {}}\n", "c.yaml:8:16: age: a range needs min, max or both"},
    {HEAD "cohort:\n  index: release\n  where: {age: {min: 30, max: 20}}\n",
     "c.yaml:8:16: age: min is greater than max"},
    {HEAD "cohort:\n  index: release\n  where: {age: {min: 1, mx: 2}}\n",
     "c.yaml:8:25: unknown key \"mx\" in age range"},
    {HEAD "cohort:\n  index: release\n  where: {age: [18, old]}\n",
     "c.yaml:8:21: age: \"old\" is not a decimal number"},
    {HEAD "cohort:\n  index: release\n  where: {colour: red}\n", "c.yaml:8:11: unknown key \"colour\" in where"},
    {HEAD "cohort:\n  index: release\n  where: {gender: Q}\n", "c.yaml:8:19: gender: \"Q\" is not one of M, F or X"},
    {HEAD "cohort:\n  index: release\n  where: {area: []}\n", "c.yaml:8:17: area: an empty list never matches"},
    {HEAD "cohort:\n  index: release\n  where: {area: [[X]]}\n",
     "c.yaml:8:18: area: expected a single value, not a list"},
    {HEAD "cohort:\n  index: release\n  where: {area: X, area: Y}\n", "c.yaml:8:20: duplicate key \"area\" in where"},
    {HEAD "cohort:\n  index: release\n  where: [area]\n", "c.yaml:8:10: where: expected a mapping"},
    {BASE "    exclude: {age: 18}\n", "c.yaml:14:15: exclude: \"age\" is not a field of convictions"},
    {BASE "    exclude: {disposal: jail}\n",
     "c.yaml:14:25: disposal: \"jail\" is not a disposal (custody, sso, community, fine, discharge, caution or other)"},
    {HEAD "outcomes:\n  - id: n\n    measure: custody_nights\n    where: {remand: maybe}\n",
     "c.yaml:9:21: remand: \"maybe\" is not true or false"},
    {HEAD "outcomes:\n  - id: n\n    measure: custody_nights\n    where: {flags: [PPO]}\n",
     "c.yaml:9:13: where: \"flags\" is not a field of receptions"},
    {HEAD "outcomes:\n  - id: n\n    measure: disposals\n    where: {age: 1}\n",
     "c.yaml:9:13: where: \"age\" is not a field of convictions"},
    /* SPEC 4 limits (ruled 2026-12-02): money, dates, rates, gates, share, windows */
    {HEAD "fees:\n  - {id: a, per_quarter: 1000000000000.01}\n",
     "c.yaml:7:26: per_quarter: \"1000000000000.01\" is beyond the money limit of +-1,000,000,000,000.00"},
    {HEAD "fees:\n  - {id: a, on: 2013-01-01, amount: -1000000000000.01}\n",
     "c.yaml:7:37: amount: \"-1000000000000.01\" is beyond the money limit of +-1,000,000,000,000.00"},
    {HEAD "fees:\n  - {id: a, per_quarter: 100000000000000000000000000.00}\n",
     "c.yaml:7:26: per_quarter: \"100000000000000000000000000.00\" is beyond the money limit of "
     "+-1,000,000,000,000.00"},
    {"contract: t\ntitle: T\nprovider: p\nstart: 2012-04-01\nend: 9999-12-31\n",
     "c.yaml:5:6: end: \"9999-12-31\" is outside the supported dates 1900-01-01 to 2199-12-31"},
    {"contract: t\ntitle: T\nprovider: p\nstart: 1899-12-31\n",
     "c.yaml:4:8: start: \"1899-12-31\" is outside the supported dates 1900-01-01 to 2199-12-31"},
    {HEAD "fees:\n  - {id: a, on: 2200-01-01, amount: 1.00}\n",
     "c.yaml:7:17: on: \"2200-01-01\" is outside the supported dates 1900-01-01 to 2199-12-31"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 45}\n    pay: {price: 1.00}\n",
     "c.yaml:11:22: rate: \"45\" is above 1 (a binary rate is a proportion: 0.45, not 45)"},
    {HEAD COHORT OUT9 "    measure: binary\n    baseline: {rates: {2012-13: 0.5, 2013-14: 1.5}}\n"
                      "    pay: {price: 1.00}\n",
     "c.yaml:11:47: rates: \"1.5\" is above 1 (a binary rate is a proportion: 0.45, not 45)"},
    {BASE "      threshold: {percent: 250}\n", "c.yaml:14:28: percent: \"250\" is above 100"},
    {BASE "      threshold: {points: 100.5}\n", "c.yaml:14:27: points: \"100.5\" is above 100"},
    {BASE "    pooled: {threshold: {percent: 101}}\n", "c.yaml:14:35: percent: \"101\" is above 100"},
    {ONE("disposals", "{history: 2}", "{prices: {custody: 1.00}, share: 0}"),
     "c.yaml:10:43: share: \"0\" must be greater than 0"},
    {HEAD "cohort:\n  index: release\n  windows: [{name: A, from: 2010-01-01, to: 2012-04-01}]\n",
     "c.yaml:8:13: window \"A\": no day of it is in the contract (2012-04-01 to 2014-03-31)"},
    {HEAD "cohort:\n  index: release\n  windows: [{name: A, from: 2014-04-01, to: 2015-01-01}]\n",
     "c.yaml:8:13: window \"A\": no day of it is in the contract (2012-04-01 to 2014-03-31)"},
    {HEAD "cohort:\n  index: release\n"
          "  windows: [{name: A, from: 2012-04-01, to: 2013-04-01}, {name: B, from: 2013-03-31, to: 2014-04-01}]\n",
     "c.yaml:8:58: window \"B\" overlaps window \"A\""},
    /* YAML level */
    {"contract: t\ntitle: \xff\n", "c.yaml:2:8: YAML encoding error: invalid leading UTF-8 octet"},
    {"contract: &a t\ntitle: *a\n", "c.yaml:1:11: anchors and aliases are not supported"},
    {"", "c.yaml:1:1: the file holds no contract (empty YAML document)"},
    {"# only a comment\n", "c.yaml:1:1: the file holds no contract (empty YAML document)"},
    {"- a\n- b\n", "c.yaml:1:1: a contract file must be a mapping of keys"},
    {"contract: t\n---\ncontract: u\n", "c.yaml:2:1: a contract file holds one YAML document, this is a second"},
    {"? [a]\n: b\n", "c.yaml:1:3: contract: keys must be plain strings"},
};

/* The edges of SPEC 4's limits load: +-1,000,000,000,000.00, the first
 * and last supported dates, a binary rate of 1, gates of 100, a share of
 * 100, adjacent windows, and a frequency rate above 1 (not a proportion). */
START_TEST(limits_edges_load)
{
    const char *y = "contract: t\ntitle: T\nprovider: p\nstart: 1900-01-01\nend: 2199-12-31\n"
                    "fees:\n  - {id: a, per_quarter: 1000000000000.00}\n"
                    "  - {id: b, on: 2199-12-31, amount: -1000000000000.00}\n";
    pbr_contract *c = parse_ok(y);
    pbr_contract_destroy(&c);
    c = parse_ok(BASE "      threshold: {percent: 100}\n");
    pbr_contract_destroy(&c);
    c = parse_ok(HEAD COHORT OUT9 "    measure: binary\n    baseline: {rate: 1}\n"
                                  "    pay: {price: 1.00, threshold: {points: 100}}\n");
    pbr_contract_destroy(&c);
    c = parse_ok(HEAD COHORT OUT9 "    measure: frequency\n    baseline: {rate: 2.5}\n    pay: {price: 1.00}\n");
    pbr_contract_destroy(&c);
    c = parse_ok(ONE("disposals", "{history: 2}", "{prices: {custody: 1.00}, share: 100}"));
    pbr_contract_destroy(&c);
    c = parse_ok(HEAD "cohort:\n  index: release\n"
                      "  windows: [{name: A, from: 2011-04-01, to: 2013-04-01}, {name: B, from: 2013-04-01, to: "
                      "2015-04-01}]\n"
                      "outcomes:\n  - {id: r, measure: binary, baseline: {rate: 0.5}, pay: {price: 1.00}}\n");
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(bad_contract)
{
    const struct bad_case *bc = &BAD[_i];
    pbr_contract *c = (pbr_contract *)1;
    pbr_diag d;
    char got[1024];
    int rc = pbr_contract_parse("c.yaml", bc->yaml, strlen(bc->yaml), &c, &d);
    pbr_diag_format(&d, got, sizeof got);
    ck_assert_msg(rc == -1, "case %d loaded, wanted %s", _i, bc->want);
    ck_assert_ptr_null(c);
    ck_assert_msg(strcmp(got, bc->want) == 0, "case %d:\n got  %s\n want %s", _i, got, bc->want);
}
END_TEST

/* A YAML syntax error carries the parser's position. */
START_TEST(syntax_error_position)
{
    const char *y = "contract: t\ntitle: [a, b\nprovider: p\n";
    pbr_contract *c;
    pbr_diag d;
    ck_assert_int_eq(parse(y, &c, &d), -1);
    ck_assert_str_eq(d.file, "c.yaml");
    ck_assert_int_ge(d.line, 2);
    ck_assert_msg(strncmp(d.message, "YAML syntax error: ", 19) == 0, "%s", d.message);
}
END_TEST

/* Every prefix of the full fixture either loads or fails cleanly (ASan checks
 * for leaks and bad accesses). */
START_TEST(prefixes_never_crash)
{
    char path[1024];
    pbr_diag d;
    size_t len;
    char err[PBR_ERR_MAX];
    FILE *f = fopen(pbr_test_path(path, sizeof path, "tests/data/contracts-good/full.yaml"), "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[16384];
    len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    (void)err;
    for (size_t n = 0; n <= len; n += 7) {
        pbr_contract *c = NULL;
        if (pbr_contract_parse("p.yaml", buf, n, &c, &d) == 0)
            pbr_contract_destroy(&c);
        else
            ck_assert_ptr_null(c);
    }
}
END_TEST

/* ---- size limits (fuzzing: tests/fuzz/regress/contract/) ------------------------- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Parses yaml, expecting failure with message want; returns the seconds taken. */
static double parse_fails(const char *yaml, size_t len, const char *want)
{
    pbr_contract *c = NULL;
    pbr_diag d;
    char got[1024];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = pbr_contract_parse("c.yaml", yaml, len, &c, &d);
    double secs = seconds_since(&t0);
    pbr_diag_format(&d, got, sizeof got);
    ck_assert_msg(rc == -1, "loaded, wanted %s", want);
    ck_assert_ptr_null(c);
    ck_assert_msg(strcmp(got, want) == 0, "\n got  %s\n want %s", got, want);
    return secs;
}

/* A cohort of quarterly periods over 8,648 years (found by fuzz_contract:
 * 34,594 window keys appended one realloc at a time took 23 s under ASan)
 * is now refused at its dates (SPEC 4: 1900-01-01 to 2199-12-31); within
 * those dates 1200 quarterly cohorts are still refused at once (at most
 * 1000 cohort windows), and 300 yearly ones load. */
START_TEST(cohort_window_limit)
{
    const char *slow = "contract: edge-pooled\ntitle: T\nprovider: test\nstart: 1011-01-01\nend: 9659-06-30\n"
                       "year_start: 1\ncohort:\n  index: release\n  period: quarter\n"
                       "outcomes:\n  - {id: r, measure: binary, baseline: {rate: 0.5}, pay: {price: 1.00}}\n";
    parse_fails(slow, strlen(slow),
                "c.yaml:4:8: start: \"1011-01-01\" is outside the supported dates 1900-01-01 to 2199-12-31");
    const char *wide = "contract: edge-pooled\ntitle: T\nprovider: test\nstart: 1900-01-01\nend: 2199-12-31\n"
                       "year_start: 1\ncohort:\n  index: release\n  period: quarter\n"
                       "outcomes:\n  - {id: r, measure: binary, baseline: {rate: 0.5}, pay: {price: 1.00}}\n";
    /* 300 years x 4 quarters = 1200 > 1000 */
    double secs = parse_fails(wide, strlen(wide),
                              "c.yaml:8:3: cohort: 1900-01-01 to 2199-12-31 makes 1200 quarterly cohorts; "
                              "at most 1000 are supported");
    ck_assert_msg(secs < 1.0, "refusing took %.2f s", secs);
    const char *years = "contract: t\ntitle: T\nprovider: p\nstart: 1900-01-01\nend: 2199-12-31\nyear_start: 1\n"
                        "cohort: {index: release}\n"
                        "outcomes:\n  - {id: r, measure: binary, baseline: {rate: 0.5}, pay: {price: 1.00}}\n";
    pbr_contract *c = parse_ok(years);
    pbr_contract_destroy(&c);
}
END_TEST

/* 1000 quarterly cohorts with a rate for each load quickly (the rates map's
 * duplicate check is a hash table above 16 keys, not a scan of the earlier
 * keys); a rates map of 60,000 keys with a duplicate at the end is refused
 * at that duplicate, quickly. */
START_TEST(rates_map_scales)
{
    size_t cap = 4 << 20, n = 0;
    char *y = malloc(cap);
    ck_assert_ptr_nonnull(y);
    n += (size_t)snprintf(y + n, cap - n,
                          "contract: t\ntitle: T\nprovider: p\nstart: 1950-01-01\nend: 2199-12-31\nyear_start: 1\n"
                          "cohort: {index: release, period: quarter}\n"
                          "outcomes:\n  - id: r\n    measure: binary\n    pay: {price: 1.00}\n"
                          "    baseline:\n      rates:\n");
    size_t head = n;
    for (int yr = 1950; yr < 2200; yr++)
        for (int m = 1; m <= 10; m += 3)
            n += (size_t)snprintf(y + n, cap - n, "        %04d-%02d-01: 0.5\n", yr, m);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pbr_contract *c = parse_ok(y);
    double secs = seconds_since(&t0);
    ck_assert_uint_eq(c->outcomes[0].baseline.nrates, 1000);
    pbr_contract_destroy(&c);
    ck_assert_msg(secs < 2.0, "1000 rates took %.2f s", secs);
    /* 60,000 distinct keys then a repeat of the first: reported at its line */
    n = head;
    for (int i = 0; i < 60000; i++)
        n += (size_t)snprintf(y + n, cap - n, "        k%d: 0.5\n", i);
    n += (size_t)snprintf(y + n, cap - n, "        k0: 0.5\n");
    secs = parse_fails(y, n, "c.yaml:60014:9: duplicate key \"k0\" in rates");
    ck_assert_msg(secs < 5.0, "refusing 60,001 rates took %.2f s", secs);
    free(y);
}
END_TEST

/* Fee, outcome and segment ids are checked pairwise: lists are capped at
 * 1000 items (50,000 fees took 4.6 s to load before). */
START_TEST(list_limits)
{
    size_t cap = 1 << 20, n = 0;
    char *y = malloc(cap);
    ck_assert_ptr_nonnull(y);
    n += (size_t)snprintf(y, cap, HEAD "fees:\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(y + n, cap - n, "  - {id: f%d, on: 2013-01-01, amount: 1.00}\n", i);
    pbr_contract *c = parse_ok(y);
    ck_assert_uint_eq(c->nfees, 1000);
    pbr_contract_destroy(&c);
    n += (size_t)snprintf(y + n, cap - n, "  - {id: f1000, on: 2013-01-01, amount: 1.00}\n");
    parse_fails(y, n, "c.yaml:7:3: fees: 1001 fees; at most 1000 are supported");
    n = (size_t)snprintf(y, cap, HEAD "outcomes:\n");
    for (int i = 0; i < 1001; i++)
        n += (size_t)snprintf(y + n, cap - n, "  - {id: o%d, measure: custody_nights, pay: {price: 1.00}}\n", i);
    parse_fails(y, n, "c.yaml:7:3: outcomes: 1001 outcomes; at most 1000 are supported");
    free(y);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("contract");
    TCase *good = tcase_create("good");
    tcase_add_test(good, example_loads);
    tcase_add_test(good, example2_loads);
    tcase_add_test(good, full_fixture_loads);
    tcase_add_test(good, decimals_are_exact);
    tcase_add_test(good, sha256_and_bytes);
    tcase_add_test(good, rates_keys_quarters);
    tcase_add_test(good, rates_keys_calendar_years);
    tcase_add_test(good, rates_keys_whole_and_segments);
    tcase_add_test(good, segments_inherit_baseline);
    tcase_add_test(good, where_numbers_compile);
    tcase_add_test(good, load_missing_file);
    tcase_add_test(good, measure_names);
    tcase_add_test(good, limits_edges_load);
    suite_add_tcase(s, good);
    TCase *bad = tcase_create("bad");
    tcase_add_loop_test(bad, bad_contract, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(bad, syntax_error_position);
    tcase_add_test(bad, prefixes_never_crash);
    tcase_add_test(bad, cohort_window_limit);
    tcase_add_test(bad, rates_map_scales);
    tcase_add_test(bad, list_limits);
    suite_add_tcase(s, bad);
    return s;
}

PBR_CHECK_MAIN(make_suite)

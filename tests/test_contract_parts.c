/* test_contract_parts.c -- the contract loader's parts alone, below
 * pbr_contract_parse: the typed scalar readers, key checks and list bounds
 * of contract_yaml.c on one YAML node (message and 1-based line:column),
 * the cohort windows' period keys of contract_cohort.c, where compilation
 * of contract_where.c (inward rounding, dropped values, the field table's
 * kinds), and the cross-field rules of contract_rules.c on outcomes and
 * contracts built in code. Positions were counted by hand from each YAML
 * text; the rules' expected answers come from SPEC 4 and 5.9.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "libpbr/contract_internal.h"
#include "pbr/yamldoc.h"

/* ---- a one-document fixture ---------------------------------------------------- */

typedef struct fixture {
    yaml_document_t doc;
    lctx x;
    pbr_diag d;
} fixture;

/* Loads yaml (a mapping) into f and returns the value of its first key. */
static yaml_node_t *first_value(fixture *f, const char *yaml)
{
    pbr_yaml_problem p;
    ck_assert_int_eq(pbr_yaml_load_one(yaml, strlen(yaml), "test", &f->doc, &p), 0);
    memset(&f->x, 0, sizeof f->x);
    memset(&f->d, 0, sizeof f->d);
    f->x.doc = &f->doc;
    f->x.diag = &f->d;
    yaml_node_t *root = yaml_document_get_root_node(&f->doc);
    ck_assert_ptr_nonnull(root);
    ck_assert(is_map(root));
    return node_at(&f->x, root->data.mapping.pairs.start[0].value);
}

static yaml_node_t *root_of(fixture *f, const char *yaml)
{
    first_value(f, yaml);
    return yaml_document_get_root_node(&f->doc);
}

/* Asserts the recorded error is exactly line:column: message. */
static void expect_error(const fixture *f, int line, int column, const char *message)
{
    ck_assert_int_eq(f->x.failed, 1);
    ck_assert_str_eq(f->d.message, message);
    ck_assert_int_eq(f->d.line, line);
    ck_assert_int_eq(f->d.column, column);
}

/* ---- typed scalars ---------------------------------------------------------------- */

START_TEST(int_in_range_and_out)
{
    fixture f;
    int64_t v = 0;
    ck_assert_int_eq(pbr_ct_get_int(&f.x, first_value(&f, "k: 12\n"), "k", 1, 12, &v), 0);
    ck_assert_int_eq(v, 12);
    ck_assert_int_eq(f.x.failed, 0);
    yaml_document_delete(&f.doc);

    /* "k: 13": the value starts at column 4 */
    ck_assert_int_eq(pbr_ct_get_int(&f.x, first_value(&f, "k: 13\n"), "k", 1, 12, &v), -1);
    expect_error(&f, 1, 4, "k: \"13\" is out of range 1..12");
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_int(&f.x, first_value(&f, "k: -5\n"), "k", 0, INT64_MAX, &v), -1);
    expect_error(&f, 1, 4, "k: \"-5\" must be at least 0");
    yaml_document_delete(&f.doc);
}
END_TEST

START_TEST(int_rejects_what_is_not_whole)
{
    static const struct {
        const char *yaml, *message;
    } cases[] = {
        {"k: 1.5\n", "k: \"1.5\" is not a whole number"},
        {"k: '-'\n", "k: \"-\" is not a whole number"},
        {"k: 99999999999999999999\n", "k: \"99999999999999999999\" is too large"},
        {"k: [1]\n", "k: expected a single value, not a list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture f;
        int64_t v = 7;
        ck_assert_int_eq(pbr_ct_get_int(&f.x, first_value(&f, cases[i].yaml), "k", INT64_MIN, INT64_MAX, &v), -1);
        expect_error(&f, 1, 4, cases[i].message);
        ck_assert_int_eq(v, 7); /* untouched on failure */
        yaml_document_delete(&f.doc);
    }
}
END_TEST

START_TEST(money_is_exact_and_bounded)
{
    fixture f;
    mpq_t q, want;
    mpq_init(q);
    mpq_init(want);

    /* -3.50 pounds is exactly -7/2 */
    ck_assert_int_eq(pbr_ct_get_money(&f.x, first_value(&f, "k: -3.50\n"), "k", 0, q), 0);
    mpq_set_si(want, -7, 2);
    ck_assert(mpq_equal(q, want));
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_money(&f.x, first_value(&f, "k: -1\n"), "k", 1, q), -1);
    expect_error(&f, 1, 4, "k: \"-1\" must be 0 or more");
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_money(&f.x, first_value(&f, "k: 12.345\n"), "k", 0, q), -1);
    expect_error(&f, 1, 4, "k: \"12.345\" is not an amount of money (at most 2 decimal places)");
    yaml_document_delete(&f.doc);

    /* 10^12 is the limit itself; one penny more is beyond it */
    ck_assert_int_eq(pbr_ct_get_money(&f.x, first_value(&f, "k: 1000000000000.00\n"), "k", 0, q), 0);
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_money(&f.x, first_value(&f, "k: -1000000000000.01\n"), "k", 0, q), -1);
    expect_error(&f, 1, 4, "k: \"-1000000000000.01\" is beyond the money limit of +-1,000,000,000,000.00");
    yaml_document_delete(&f.doc);

    /* a decimal with no place limit: 0.1 is exactly 1/10 */
    ck_assert_int_eq(pbr_ct_get_decimal(&f.x, first_value(&f, "k: 0.1\n"), "k", -1, q), 0);
    mpq_set_ui(want, 1, 10);
    ck_assert(mpq_equal(q, want));
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_nonneg(&f.x, first_value(&f, "k: 0\n"), "k", -1, 1, q), -1);
    expect_error(&f, 1, 4, "k: \"0\" must be greater than 0");
    yaml_document_delete(&f.doc);

    mpq_clear(want);
    mpq_clear(q);
}
END_TEST

START_TEST(dates_bools_choices_idents)
{
    fixture f;
    pbr_date d;
    int b = -1, i = -1;
    char *s = NULL;
    static const char *const names[] = {"a", "b", "c", NULL};

    ck_assert_int_eq(pbr_ct_get_date(&f.x, first_value(&f, "k: 2024-02-29\n"), "k", &d), 0);
    ck_assert_int_eq(d, pbr_date_from_ymd(2024, 2, 29));
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_date(&f.x, first_value(&f, "k: 2025-02-29\n"), "k", &d), -1);
    expect_error(&f, 1, 4, "k: \"2025-02-29\" is not a real date");
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_date(&f.x, first_value(&f, "k: 1899-12-31\n"), "k", &d), -1);
    expect_error(&f, 1, 4, "k: \"1899-12-31\" is outside the supported dates 1900-01-01 to 2199-12-31");
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_bool(&f.x, first_value(&f, "k: True\n"), "k", &b), 0);
    ck_assert_int_eq(b, 1);
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_bool(&f.x, first_value(&f, "k: yes\n"), "k", &b), -1);
    expect_error(&f, 1, 4, "k: \"yes\" is not true or false");
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_choice(&f.x, first_value(&f, "k: c\n"), "k", names, &i), 0);
    ck_assert_int_eq(i, 2);
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_choice(&f.x, first_value(&f, "k: avg\n"), "k", names, &i), -1);
    expect_error(&f, 1, 4, "k: \"avg\" is not one of a, b or c");
    yaml_document_delete(&f.doc);

    ck_assert_int_eq(pbr_ct_get_ident(&f.x, first_value(&f, "k: 'two words'\n"), "k", &s), -1);
    expect_error(&f, 1, 4, "k: \"two words\" is not an identifier (1 to 64 printable characters, no spaces)");
    ck_assert_ptr_null(s);
    yaml_document_delete(&f.doc);
    ck_assert_int_eq(pbr_ct_get_str(&f.x, first_value(&f, "k: ~\n"), "k", &s), -1);
    expect_error(&f, 1, 4, "k: must not be empty");
    yaml_document_delete(&f.doc);
}
END_TEST

/* The first error is the one reported; later ones leave it as it was. */
START_TEST(first_error_wins)
{
    fixture f;
    int64_t v;
    yaml_node_t *n = first_value(&f, "k: x\n");
    ck_assert_int_eq(pbr_ct_get_int(&f.x, n, "k", 0, 9, &v), -1);
    ck_assert_int_eq(FAIL(&f.x, yaml_document_get_root_node(&f.doc), "later"), -1);
    expect_error(&f, 1, 4, "k: \"x\" is not a whole number");
    yaml_document_delete(&f.doc);
}
END_TEST

START_TEST(quoted_excerpts)
{
    fixture f;
    char small[12], big[QBUF];
    yaml_node_t *n = first_value(&f, "k: \"a\\tb\\\"c\"\n");
    /* tab and quote are not printed as themselves */
    ck_assert_str_eq(Q(n, big), "\"a?b?c\"");
    yaml_document_delete(&f.doc);
    n = first_value(&f, "k: abcdefghijklmnop\n");
    /* 12 bytes: quote, 6 characters, "...", quote, NUL */
    ck_assert_str_eq(Q(n, small), "\"abcdef...\"");
    yaml_document_delete(&f.doc);
}
END_TEST

/* ---- key checks --------------------------------------------------------------- */

START_TEST(keys_unknown_and_duplicate)
{
    static const char *const allowed[] = {"a", "b", NULL};
    fixture f;
    yaml_node_t *m = root_of(&f, "a: 1\nc: 2\n");
    ck_assert_int_eq(pbr_ct_check_keys(&f.x, m, allowed, "thing"), -1);
    expect_error(&f, 2, 1, "unknown key \"c\" in thing");
    yaml_document_delete(&f.doc);

    m = root_of(&f, "a: 1\nb: 2\na: 3\n");
    ck_assert_int_eq(pbr_ct_check_keys(&f.x, m, allowed, "thing"), -1);
    expect_error(&f, 3, 1, "duplicate key \"a\" in thing");
    yaml_document_delete(&f.doc);

    m = root_of(&f, "a: 1\n[x]: 2\n");
    ck_assert_int_eq(pbr_ct_check_keys(&f.x, m, NULL, "thing"), -1);
    expect_error(&f, 2, 1, "thing: keys must be plain strings");
    yaml_document_delete(&f.doc);
}
END_TEST

/* More than KEYS_LINEAR_MAX keys go through the hash table: the duplicate
 * is still found, at its own line. */
START_TEST(keys_duplicate_in_a_large_mapping)
{
    char yaml[512] = "";
    for (int i = 0; i < 20; i++) {
        size_t l = strlen(yaml);
        snprintf(yaml + l, sizeof yaml - l, "k%d: %d\n", i, i);
    }
    strcat(yaml, "k7: again\n"); /* line 21 */
    fixture f;
    yaml_node_t *m = root_of(&f, yaml);
    ck_assert_int_eq(pbr_ct_check_keys(&f.x, m, NULL, "rates"), -1);
    expect_error(&f, 21, 1, "duplicate key \"k7\" in rates");
    yaml_document_delete(&f.doc);

    m = root_of(&f,
                "k0: 0\nk1: 1\nk2: 2\nk3: 3\nk4: 4\nk5: 5\nk6: 6\nk7: 7\nk8: 8\nk9: 9\n"
                "k10: 0\nk11: 1\nk12: 2\nk13: 3\nk14: 4\nk15: 5\nk16: 6\nk17: 7\n");
    ck_assert_int_eq(pbr_ct_check_keys(&f.x, m, NULL, "rates"), 0);
    ck_assert_int_eq(f.x.failed, 0);
    yaml_document_delete(&f.doc);
}
END_TEST

/* ---- lists ------------------------------------------------------------------------ */

START_TEST(lists_are_bounded_and_allocated)
{
    fixture f;
    pbr_window *items = NULL;
    size_t cnt = 99;
    /* three windows against a maximum of two: the message names the list at
     * its first item (line 2, column 3) */
    yaml_node_t *n = first_value(&f, "windows:\n  - a\n  - b\n  - c\n");
    ck_assert_int_eq(pbr_ct_list_alloc(&f.x, n, "windows", 2, sizeof *items, (void **)&items, &cnt), -1);
    expect_error(&f, 2, 3, "windows: 3 windows; at most 2 are supported");
    ck_assert_ptr_null(items);
    yaml_document_delete(&f.doc);

    n = first_value(&f, "windows: {a: 1}\n");
    ck_assert_int_eq(pbr_ct_list_alloc(&f.x, n, "windows", 2, sizeof *items, (void **)&items, &cnt), -1);
    expect_error(&f, 1, 10, "windows: expected a list");
    yaml_document_delete(&f.doc);

    /* an empty list still gets an array (zeroed) for its owner to free */
    n = first_value(&f, "windows: []\n");
    ck_assert_int_eq(pbr_ct_list_alloc(&f.x, n, "windows", 2, sizeof *items, (void **)&items, &cnt), 0);
    ck_assert_uint_eq(cnt, 0);
    ck_assert_ptr_nonnull(items);
    ck_assert_ptr_null(items[0].name);
    free(items);
    yaml_document_delete(&f.doc);

    n = first_value(&f, "windows: [a, b]\n");
    ck_assert_int_eq(pbr_ct_list_alloc(&f.x, n, "windows", 2, sizeof *items, (void **)&items, &cnt), 0);
    ck_assert_uint_eq(cnt, 2);
    ck_assert_int_eq(items[1].from, 0);
    free(items);
    yaml_document_delete(&f.doc);
}
END_TEST

/* ---- cohort period keys -------------------------------------------------------------- */

/* Parses the cohort mapping of yaml for a contract from start to end with
 * year_start ys, and checks that its windows' period keys are want[0..n). */
static void expect_period_keys(const char *yaml, pbr_date start, pbr_date end, int ys, const char *const *want,
                               size_t n)
{
    fixture f;
    yaml_node_t *v = first_value(&f, yaml);
    pbr_contract *c = pbr_ct_contract_new();
    ck_assert_ptr_nonnull(c);
    c->start = start;
    c->end = end;
    c->year_start = ys;
    f.x.c = c;
    ck_assert_msg(pbr_ct_parse_cohort(&f.x, v) == 0, "%d:%d: %s", f.d.line, f.d.column, f.d.message);
    ck_assert_uint_eq(f.x.nwkeys, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(f.x.wkeys[i], want[i]);
    for (size_t i = 0; i < f.x.nwkeys; i++)
        free(f.x.wkeys[i]);
    free(f.x.wkeys);
    pbr_contract_destroy(&c);
    yaml_document_delete(&f.doc);
}

START_TEST(cohort_period_keys)
{
    pbr_date start = pbr_date_from_ymd(2025, 5, 15), end = pbr_date_from_ymd(2026, 2, 10);
    /* settlement years from April: 15 May 2025 is in the quarter of 1 April;
     * quarters then start 1 July, 1 October and 1 January, the last on or
     * before 10 February 2026 */
    static const char *const quarters[] = {"2025-04-01", "2025-07-01", "2025-10-01", "2026-01-01"};
    expect_period_keys("cohort: {index: release, period: quarter}\n", start, end, 4, quarters, 4);
    /* one settlement year, April 2025 to March 2026 */
    static const char *const april_years[] = {"2025-26"};
    expect_period_keys("cohort: {index: release}\n", start, end, 4, april_years, 1);
    /* calendar years: 2025 and 2026 (10 February) */
    static const char *const calendar_years[] = {"2025", "2026"};
    expect_period_keys("cohort: {index: community_start, period: year}\n", start, end, 1, calendar_years, 2);
    static const char *const whole[] = {"all"};
    expect_period_keys("cohort: {index: release, period: whole}\n", start, end, 4, whole, 1);
    /* listed windows are keyed by their names, in file order */
    static const char *const named[] = {"late", "early"};
    expect_period_keys("cohort:\n  index: release\n  windows:\n"
                       "    - {name: late, from: 2025-10-01, to: 2026-01-01}\n"
                       "    - {name: early, from: 2025-06-01, to: 2025-10-01}\n",
                       start, end, 4, named, 2);
}
END_TEST

/* ---- where compilation ------------------------------------------------------------- */

START_TEST(where_rounds_bounds_inward_and_drops_unrepresentable)
{
    fixture f;
    pbr_where w = {0};
    /* ogrs in ten-thousandths: min 0.12345 -> 1234.5 rounded up to 1235,
     * max 0.5 -> 5000; age 20.5 can never match a whole age and is dropped */
    yaml_node_t *n = first_value(&f, "where: {ogrs: {min: 0.12345, max: 0.5}, age: [18, 20.5, 21], area: North}\n");
    ck_assert_int_eq(pbr_ct_parse_where(&f.x, n, "where", PBR_WHERE_INDEX, &w), 0);
    ck_assert_int_eq(w.nconds, 3);
    ck_assert_int_eq(w.conds[0].field, PBR_F_OGRS);
    ck_assert_int_eq(w.conds[0].is_range, 1);
    ck_assert_int_eq(w.conds[0].min, 1235);
    ck_assert_int_eq(w.conds[0].max, 5000);
    ck_assert_int_eq(w.conds[1].field, PBR_F_AGE);
    ck_assert_int_eq(w.conds[1].nnums, 2);
    ck_assert_int_eq(w.conds[1].nums[0], 18);
    ck_assert_int_eq(w.conds[1].nums[1], 21);
    ck_assert_int_eq(w.conds[2].field, PBR_F_AREA);
    ck_assert_int_eq(w.conds[2].nstrs, 1);
    ck_assert_str_eq(w.conds[2].strs[0], "North");
    yaml_document_delete(&f.doc);
    /* the contract's free releases a where; here the test owns it */
    pbr_contract *c = pbr_ct_contract_new();
    ck_assert_ptr_nonnull(c);
    c->cohort.where = w;
    pbr_contract_destroy(&c);

    /* a max bound below the open min side: sentence_days {max: 9.9} -> 9 */
    pbr_where w2 = {0};
    n = first_value(&f, "where: {sentence_days: {max: 9.9}}\n");
    ck_assert_int_eq(pbr_ct_parse_where(&f.x, n, "where", PBR_WHERE_RECEPTION, &w2), 0);
    ck_assert_int_eq(w2.conds[0].min, INT64_MIN);
    ck_assert_int_eq(w2.conds[0].max, 9);
    yaml_document_delete(&f.doc);
    c = pbr_ct_contract_new();
    c->cohort.where = w2;
    pbr_contract_destroy(&c);
}
END_TEST

START_TEST(where_names_fields_by_event_kind)
{
    fixture f;
    pbr_contract *c = pbr_ct_contract_new();
    ck_assert_ptr_nonnull(c);
    /* remand is a field of receptions only: "where: {area: N, remand: true}"
     * puts remand at column 18 */
    yaml_node_t *n = first_value(&f, "where: {area: N, remand: true}\n");
    ck_assert_int_eq(pbr_ct_parse_where(&f.x, n, "where", PBR_WHERE_INDEX, &c->cohort.where), -1);
    expect_error(&f, 1, 18, "where: \"remand\" is not a field of index events");
    yaml_document_delete(&f.doc);

    pbr_contract_destroy(&c); /* and with it what the failed compilation built */

    /* a disposal that is not one, as the second item of a list (column 28) */
    c = pbr_ct_contract_new();
    ck_assert_ptr_nonnull(c);
    n = first_value(&f, "exclude: {disposal: [fine, prison]}\n");
    ck_assert_int_eq(pbr_ct_parse_where(&f.x, n, "exclude", PBR_WHERE_CONVICTION, &c->cohort.where), -1);
    expect_error(&f, 1, 28,
                 "disposal: \"prison\" is not a disposal (custody, sso, community, fine, discharge, caution or other)");
    yaml_document_delete(&f.doc);
    pbr_contract_destroy(&c);
}
END_TEST

/* ---- vocabularies ---------------------------------------------------------------- */

/* The contract's disposal kinds are the events' disposals, in their order;
 * the measure names are pbr_measure_name's. */
START_TEST(vocabularies_agree)
{
    for (int i = 0; i < PBR_DISP_COUNT; i++)
        ck_assert_str_eq(pbr_ct_disposals[i], pbr_disposal_name((pbr_disposal)i));
    ck_assert_ptr_null(pbr_ct_disposals[PBR_DISP_COUNT]);
    ck_assert_str_eq(pbr_ct_measures[PBR_M_CUSTODY_NIGHTS], "custody_nights");
    ck_assert_str_eq(pbr_measure_name(PBR_M_DISPOSALS), "disposals");
    ck_assert_ptr_null(pbr_ct_measures[PBR_M_DISPOSALS + 1]);
    ck_assert_str_eq(pbr_measure_name((pbr_measure)99), "unknown");
}
END_TEST

/* ---- cross-field rules on structs built in code ------------------------------------- */

#define FORM(k) (1u << (k))

START_TEST(baseline_forms_by_measure)
{
    /* SPEC 4: binary takes rate, rates, predicted and an OGRS reference;
     * frequency rate or rates; custody_nights history or nights; disposals
     * history or counts; clean_period none */
    ck_assert_uint_eq(pbr_ct_baseline_forms(PBR_M_BINARY),
                      FORM(PBR_BL_RATE) | FORM(PBR_BL_RATES) | FORM(PBR_BL_PREDICTED) | FORM(PBR_BL_OGRS_REF));
    ck_assert_uint_eq(pbr_ct_baseline_forms(PBR_M_FREQUENCY), FORM(PBR_BL_RATE) | FORM(PBR_BL_RATES));
    ck_assert_uint_eq(pbr_ct_baseline_forms(PBR_M_CUSTODY_NIGHTS), FORM(PBR_BL_HISTORY) | FORM(PBR_BL_NIGHTS));
    ck_assert_uint_eq(pbr_ct_baseline_forms(PBR_M_DISPOSALS), FORM(PBR_BL_HISTORY) | FORM(PBR_BL_COUNTS));
    ck_assert_uint_eq(pbr_ct_baseline_forms(PBR_M_CLEAN_PERIOD), 0);
}
END_TEST

START_TEST(outcome_gaps)
{
    pbr_segment segs[2];
    pbr_outcome o;
    size_t seg = 99;

    memset(&o, 0, sizeof o);
    o.measure = PBR_M_BINARY;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_NO_PRICE);
    o.pay.ntiers = 1; /* tiers price it */
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_NO_BASELINE);
    o.has_baseline = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_COMPLETE);

    /* clean_period needs a price but no baseline */
    memset(&o, 0, sizeof o);
    o.measure = PBR_M_CLEAN_PERIOD;
    o.pay.has_price = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_COMPLETE);

    /* disposals are priced by pay.prices: no price needed, a baseline is */
    memset(&o, 0, sizeof o);
    o.measure = PBR_M_DISPOSALS;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_NO_BASELINE);

    /* frequency with two segments: priced only when both are */
    memset(&o, 0, sizeof o);
    memset(segs, 0, sizeof segs);
    o.measure = PBR_M_FREQUENCY;
    o.segments = segs;
    o.nsegments = 2;
    segs[0].has_price = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_NO_PRICE);
    segs[1].has_price = 1;
    /* no baseline on the outcome; segment 0 has one, segment 1 not */
    segs[0].has_baseline = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_SEGMENT_NO_BASELINE);
    ck_assert_uint_eq(seg, 1);
    segs[1].has_baseline = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_COMPLETE);
    /* the outcome's baseline covers a segment without one */
    segs[0].has_baseline = 0;
    o.has_baseline = 1;
    ck_assert_int_eq(pbr_ct_outcome_gap(&o, &seg), PBR_CT_COMPLETE);
}
END_TEST

START_TEST(significance_needs_binary_or_frequency_per_member)
{
    pbr_outcome o;
    memset(&o, 0, sizeof o);
    o.measure = PBR_M_BINARY;
    ck_assert_int_eq(pbr_ct_significance_fits(&o), PBR_CT_SIGNIFICANCE_OK);
    o.measure = PBR_M_FREQUENCY;
    o.per_reoffender = 1;
    ck_assert_int_eq(pbr_ct_significance_fits(&o), PBR_CT_SIGNIFICANCE_PER_REOFFENDER);
    o.measure = PBR_M_CUSTODY_NIGHTS;
    o.per_reoffender = 0;
    ck_assert_int_eq(pbr_ct_significance_fits(&o), PBR_CT_SIGNIFICANCE_MEASURE);
}
END_TEST

START_TEST(hurdle_matches_segments_by_name)
{
    pbr_segment hs[2], os[2];
    pbr_outcome h, o;
    memset(&h, 0, sizeof h);
    memset(&o, 0, sizeof o);
    memset(hs, 0, sizeof hs);
    memset(os, 0, sizeof os);
    h.measure = PBR_M_BINARY;
    o.measure = PBR_M_FREQUENCY;
    ck_assert_int_eq(pbr_ct_hurdle_fits(&h, &o), PBR_CT_HURDLE_OK); /* neither has segments */

    hs[0].name = "young";
    hs[1].name = "adult";
    os[0].name = "adult";
    os[1].name = "young";
    h.segments = hs;
    h.nsegments = 2;
    o.segments = os;
    o.nsegments = 2;
    ck_assert_int_eq(pbr_ct_hurdle_fits(&h, &o), PBR_CT_HURDLE_OK); /* any order */
    os[1].name = "older";
    ck_assert_int_eq(pbr_ct_hurdle_fits(&h, &o), PBR_CT_HURDLE_SEGMENTS);
    os[1].name = "young";
    o.nsegments = 1; /* a subset is not the same names */
    ck_assert_int_eq(pbr_ct_hurdle_fits(&h, &o), PBR_CT_HURDLE_SEGMENTS);

    h.measure = PBR_M_FREQUENCY;
    ck_assert_int_eq(pbr_ct_hurdle_fits(&h, &o), PBR_CT_HURDLE_NOT_BINARY);
}
END_TEST

START_TEST(advance_needs_quarterly_binary_or_frequency)
{
    pbr_contract c;
    pbr_outcome o;
    memset(&c, 0, sizeof c);
    memset(&o, 0, sizeof o);
    c.cohort.period = PBR_PERIOD_QUARTER;
    o.measure = PBR_M_FREQUENCY;
    ck_assert_int_eq(pbr_ct_advance_fits(&c, &o), PBR_CT_ADVANCE_OK);
    c.cohort.period = PBR_PERIOD_YEAR;
    ck_assert_int_eq(pbr_ct_advance_fits(&c, &o), PBR_CT_ADVANCE_NOT_QUARTERLY);
    /* the measure is judged first */
    o.measure = PBR_M_CLEAN_PERIOD;
    ck_assert_int_eq(pbr_ct_advance_fits(&c, &o), PBR_CT_ADVANCE_MEASURE);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("contract_parts");
    TCase *t = tcase_create("scalars");
    tcase_add_test(t, int_in_range_and_out);
    tcase_add_test(t, int_rejects_what_is_not_whole);
    tcase_add_test(t, money_is_exact_and_bounded);
    tcase_add_test(t, dates_bools_choices_idents);
    tcase_add_test(t, first_error_wins);
    tcase_add_test(t, quoted_excerpts);
    suite_add_tcase(s, t);
    t = tcase_create("keys");
    tcase_add_test(t, keys_unknown_and_duplicate);
    tcase_add_test(t, keys_duplicate_in_a_large_mapping);
    tcase_add_test(t, lists_are_bounded_and_allocated);
    suite_add_tcase(s, t);
    t = tcase_create("cohort");
    tcase_add_test(t, cohort_period_keys);
    suite_add_tcase(s, t);
    t = tcase_create("where");
    tcase_add_test(t, where_rounds_bounds_inward_and_drops_unrepresentable);
    tcase_add_test(t, where_names_fields_by_event_kind);
    tcase_add_test(t, vocabularies_agree);
    suite_add_tcase(s, t);
    t = tcase_create("rules");
    tcase_add_test(t, baseline_forms_by_measure);
    tcase_add_test(t, outcome_gaps);
    tcase_add_test(t, significance_needs_binary_or_frequency_per_member);
    tcase_add_test(t, hurdle_matches_segments_by_name);
    tcase_add_test(t, advance_needs_quarterly_binary_or_frequency);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)

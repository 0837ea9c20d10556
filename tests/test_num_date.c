/* test_num_date.c -- dates and month arithmetic (SPEC.md 5.1), exact
 * decimals and half-even rounding (5.5.5, section 6), SHA-256, the
 * interning string table.
 * Every expected value is worked out by hand in the comments.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "pbr/date.h"
#include "pbr/num.h"
#include "pbr/strtab.h"
#include "pbr/sha256.h"

static pbr_date D(const char *s)
{
    pbr_date d;
    ck_assert_msg(pbr_date_parse(s, strlen(s), &d) == 0, "bad date %s", s);
    return d;
}

static void assert_date(pbr_date d, const char *want)
{
    char b[PBR_DATE_STRLEN];
    pbr_date_format(d, b);
    ck_assert_str_eq(b, want);
}

START_TEST(parse_rejects_malformed_and_impossible)
{
    pbr_date d;
    ck_assert_int_eq(pbr_date_parse("2023-02-30", 10, &d), -2); /* February 2023 has 28 days */
    ck_assert_int_eq(pbr_date_parse("2024-02-29", 10, &d), 0);  /* 2024 is a leap year */
    ck_assert_int_eq(pbr_date_parse("1900-02-29", 10, &d), -2); /* divisible by 100, not 400 */
    ck_assert_int_eq(pbr_date_parse("2000-02-29", 10, &d), 0);  /* divisible by 400 */
    ck_assert_int_eq(pbr_date_parse("2023-13-01", 10, &d), -2);
    ck_assert_int_eq(pbr_date_parse("2023-2-01", 9, &d), -1);
    ck_assert_int_eq(pbr_date_parse("2023/02/01", 10, &d), -1);
    ck_assert_int_eq(pbr_date_parse("2023-02-01x", 11, &d), -1);
    ck_assert_int_eq(pbr_date_parse("1970-01-01", 10, &d), 0);
    ck_assert_int_eq(d, 0);
    ck_assert_int_eq(D("1970-01-02") - D("1969-12-31"), 2);
    ck_assert_int_eq(D("2021-01-01") - D("2020-01-01"), 366); /* 2020 is a leap year */
}
END_TEST

START_TEST(add_months_clamps_to_month_end)
{
    assert_date(pbr_add_months(D("2023-08-31"), 6), "2024-02-29"); /* the spec's own example */
    assert_date(pbr_add_months(D("2023-01-31"), 1), "2023-02-28");
    assert_date(pbr_add_months(D("2020-04-15"), 18), "2021-10-15");
    assert_date(pbr_add_months(D("2020-05-31"), 18), "2021-11-30"); /* example.md: B's waiting end */
    assert_date(pbr_add_months(D("2022-01-31"), 3), "2022-04-30");  /* example2.md: A's F */
    assert_date(pbr_add_months(D("2020-03-31"), -1), "2020-02-29");
    assert_date(pbr_add_months(D("2020-01-15"), -13), "2018-12-15");
}
END_TEST

START_TEST(quarters_follow_year_start)
{
    /* April years: 2021-01-01 is in 2020-21 Q4 */
    assert_date(pbr_quarter_of(D("2021-02-15"), 4), "2021-01-01");
    char b[16];
    pbr_quarter_label(D("2021-01-01"), 4, b, sizeof b);
    ck_assert_str_eq(b, "2020-21 Q4");
    pbr_quarter_label(D("2020-04-01"), 4, b, sizeof b);
    ck_assert_str_eq(b, "2020-21 Q1");
    /* October years (Doncaster): July-September 2013 is 2012-13 Q4 (SPEC.md section 6) */
    pbr_quarter_label(D("2013-07-01"), 10, b, sizeof b);
    ck_assert_str_eq(b, "2012-13 Q4");
    assert_date(pbr_year_of(D("2013-09-30"), 10), "2012-10-01");
    assert_date(pbr_year_of(D("2013-10-01"), 10), "2013-10-01");
    /* calendar years: "2021 Q1" and year label "2021" */
    pbr_quarter_label(pbr_quarter_of(D("2021-03-31"), 1), 1, b, sizeof b);
    ck_assert_str_eq(b, "2021 Q1");
    pbr_year_label(D("2021-01-01"), 1, b, sizeof b);
    ck_assert_str_eq(b, "2021");
    /* a year crossing a century: 1999-00 */
    pbr_year_label(D("1999-04-01"), 4, b, sizeof b);
    ck_assert_str_eq(b, "1999-00");
}
END_TEST

static int64_t pence_of(const char *pounds)
{
    mpq_t q;
    mpq_init(q);
    ck_assert_int_eq(pbr_decimal_parse(pounds, strlen(pounds), -1, q), 0);
    int64_t p = pbr_pounds_to_pence(q);
    mpq_clear(q);
    return p;
}

START_TEST(pence_round_half_to_even)
{
    ck_assert_int_eq(pence_of("0.005"), 0);     /* 0.5p -> 0 (even) */
    ck_assert_int_eq(pence_of("0.015"), 2);     /* 1.5p -> 2 (even) */
    ck_assert_int_eq(pence_of("0.025"), 2);     /* 2.5p -> 2 (even) */
    ck_assert_int_eq(pence_of("-0.015"), -2);   /* -1.5p -> -2 */
    ck_assert_int_eq(pence_of("-0.025"), -2);   /* -2.5p -> -2 */
    ck_assert_int_eq(pence_of("0.0051"), 1);    /* above half -> up */
    ck_assert_int_eq(pence_of("222.2"), 22220); /* example.md */
    ck_assert_int_eq(pence_of("-250.00"), -25000);
}
END_TEST

static void six(const char *dec, const char *want)
{
    mpq_t q;
    mpq_init(q);
    ck_assert_int_eq(pbr_decimal_parse(dec, strlen(dec), -1, q), 0);
    char b[64];
    pbr_format6(q, b, sizeof b);
    ck_assert_str_eq(b, want);
    mpq_clear(q);
}

START_TEST(six_places_half_even)
{
    six("0.0000005", "0.000000");  /* half -> even 0 */
    six("0.0000015", "0.000002");  /* half -> even 2 */
    six("-0.0000005", "0.000000"); /* rounds to zero: no minus sign */
    six("16.6666666", "16.666667");
    six("-10", "-10.000000");
    six("12", "12.000000");
    /* 1/3 exactly: 0.333333 */
    mpq_t q;
    mpq_init(q);
    mpq_set_ui(q, 1, 3);
    char b[64];
    pbr_format6(q, b, sizeof b);
    ck_assert_str_eq(b, "0.333333");
    mpq_clear(q);
}
END_TEST

START_TEST(decimal_parse_is_exact_and_strict)
{
    mpq_t q, want;
    mpq_inits(q, want, NULL);
    ck_assert_int_eq(pbr_decimal_parse("33.33", 5, 2, q), 0);
    mpq_set_ui(want, 3333, 100);
    ck_assert(mpq_equal(q, want));
    ck_assert_int_eq(pbr_decimal_parse("0.1", 3, -1, q), 0);
    mpq_set_ui(want, 1, 10);
    ck_assert(mpq_equal(q, want));
    ck_assert_int_eq(pbr_decimal_parse("1.234", 5, 2, q), -1); /* too many places for money */
    ck_assert_int_eq(pbr_decimal_parse("1e3", 3, -1, q), -1);
    ck_assert_int_eq(pbr_decimal_parse("+1", 2, -1, q), -1);
    ck_assert_int_eq(pbr_decimal_parse(".5", 2, -1, q), -1);
    ck_assert_int_eq(pbr_decimal_parse("5.", 2, -1, q), -1);
    ck_assert_int_eq(pbr_decimal_parse("", 0, -1, q), -1);
    ck_assert_int_eq(pbr_decimal_parse("-", 1, -1, q), -1);
    mpq_clears(q, want, NULL);
}
END_TEST

START_TEST(pence_format)
{
    char b[32];
    pbr_format_pence(-5, b, sizeof b);
    ck_assert_str_eq(b, "-0.05");
    pbr_format_pence(123450, b, sizeof b);
    ck_assert_str_eq(b, "1234.50");
}
END_TEST

START_TEST(sha256_test_vectors)
{
    char h[65];
    /* FIPS 180-2 test vectors */
    pbr_sha256_hex("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pbr_sha256_hex("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    pbr_sha256_hex(two, strlen(two), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* Interning: dense indexes in first-seen order, the same index for the same
 * string, growth through many rehashes keeps every string findable. */
START_TEST(strtab_interns_dense_indexes)
{
    pbr_strtab t;
    memset(&t, 0, sizeof t);
    int added = -1;
    ck_assert_int_eq(pbr_strtab_find(&t, "a"), -1);
    ck_assert_int_eq(pbr_strtab_intern(&t, "north", &added), 0);
    ck_assert_int_eq(added, 1);
    ck_assert_int_eq(pbr_strtab_intern(&t, "", &added), 1);
    ck_assert_int_eq(pbr_strtab_intern(&t, "north", &added), 0);
    ck_assert_int_eq(added, 0);
    char buf[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(buf, sizeof buf, "offender-%d", i);
        ck_assert_int_eq(pbr_strtab_intern(&t, buf, NULL), i + 2);
    }
    for (int i = 19999; i >= 0; i -= 7) {
        snprintf(buf, sizeof buf, "offender-%d", i);
        ck_assert_int_eq(pbr_strtab_find(&t, buf), i + 2);
        ck_assert_str_eq(pbr_strtab_str(&t, (uint32_t)i + 2), buf);
    }
    ck_assert_str_eq(pbr_strtab_str(&t, 0), "north");
    ck_assert_str_eq(pbr_strtab_str(&t, 1), "");
    ck_assert_int_eq(pbr_strtab_find(&t, "offender-20000"), -1);
    pbr_strtab_clear(&t);
    ck_assert_uint_eq(t.n, 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("num_date");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parse_rejects_malformed_and_impossible);
    tcase_add_test(tc, add_months_clamps_to_month_end);
    tcase_add_test(tc, quarters_follow_year_start);
    tcase_add_test(tc, pence_round_half_to_even);
    tcase_add_test(tc, six_places_half_even);
    tcase_add_test(tc, decimal_parse_is_exact_and_strict);
    tcase_add_test(tc, pence_format);
    tcase_add_test(tc, sha256_test_vectors);
    tcase_add_test(tc, strtab_interns_dense_indexes);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

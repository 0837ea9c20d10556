/* test_gen.c -- pbrgen (gen.h): determinism, validity of every line, unique
 * ids, voids that target earlier non-void events, malformed-line injection
 * at the requested rate, and a realistic OGRS spread whose score predicts
 * reoffending.
 */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/event.h"
#include "pbr/gen.h"
#include "settle_helpers.h"

typedef struct {
    char *buf;
    size_t len;
    int64_t lines;
} stream;

/* Generates the stream for o into memory. */
static stream generate(const pbr_gen_opts *o)
{
    stream s = {NULL, 0, 0};
    s.buf = gen_text(o, &s.len, &s.lines);
    return s;
}

/* Splits the stream into lines; returns how many, with starts and lengths
 * (without the newline) in malloc'd arrays. */
static size_t split_lines(const stream *s, const char ***starts, size_t **lens)
{
    size_t n = 0, cap = 1024;
    *starts = malloc(cap * sizeof **starts);
    *lens = malloc(cap * sizeof **lens);
    const char *p = s->buf, *end = s->buf + s->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        ck_assert_ptr_nonnull(nl); /* every line ends with a newline */
        if (n == cap) {
            cap *= 2;
            *starts = realloc(*starts, cap * sizeof **starts);
            *lens = realloc(*lens, cap * sizeof **lens);
        }
        (*starts)[n] = p;
        (*lens)[n] = (size_t)(nl - p);
        n++;
        p = nl + 1;
    }
    return n;
}

START_TEST(defaults_are_documented_ones)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    ck_assert_uint_eq(o.seed, 1);
    ck_assert_uint_eq(o.offenders, 1000);
    ck_assert_int_eq(o.from, pbr_date_from_ymd(2011, 4, 1));
    ck_assert_int_eq(o.to, pbr_date_from_ymd(2016, 3, 31));
    ck_assert_int_eq(o.voids, 1);
    ck_assert_int_eq(o.late, 1);
    ck_assert(o.malformed_rate == 0);
}
END_TEST

START_TEST(same_seed_same_bytes)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 500;
    o.seed = 42;
    o.malformed_rate = 0.05;
    stream a = generate(&o), b = generate(&o);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_int_eq(a.lines, b.lines);
    ck_assert(memcmp(a.buf, b.buf, a.len) == 0);
    o.seed = 43;
    stream c = generate(&o);
    ck_assert(c.len != a.len || memcmp(a.buf, c.buf, a.len) != 0);
    free(a.buf);
    free(b.buf);
    free(c.buf);
}
END_TEST

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns 1 if id is in the sorted array. */
static int contains(char **sorted, size_t n, const char *id)
{
    return bsearch(&id, sorted, n, sizeof *sorted, compare_strings) != NULL;
}

START_TEST(every_line_valid_and_ids_unique)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 2000;
    o.seed = 7;
    stream s = generate(&o);
    const char **starts;
    size_t *lens;
    size_t n = split_lines(&s, &starts, &lens);
    ck_assert_int_eq((int64_t)n, s.lines);
    char **ids = malloc(n * sizeof *ids);
    char **seen = malloc(n * sizeof *seen); /* non-void ids seen so far, for void targets */
    size_t nseen = 0, nvoids = 0, nlate = 0, counts[PBR_EV_TYPE_COUNT] = {0};
    char *prev_offender = NULL;
    for (size_t i = 0; i < n; i++) {
        pbr_event ev;
        char err[PBR_ERR_MAX];
        ck_assert_msg(pbr_event_parse(starts[i], lens[i], &ev, err, sizeof err) == 0, "line %zu: %s", i + 1, err);
        ids[i] = strdup(ev.id);
        counts[ev.type]++;
        if (ev.recorded - ev.date >= 60)
            nlate++;
        if (ev.type == PBR_EV_VOID) {
            /* the target is an earlier non-void line of the same offender's block */
            int found = 0;
            for (size_t j = nseen; j-- > 0 && !found;)
                found = strcmp(seen[j], ev.target) == 0;
            ck_assert_msg(found, "void %s targets %s, not an earlier event", ev.id, ev.target);
            nvoids++;
        } else {
            if (prev_offender && strcmp(prev_offender, ev.offender) != 0) {
                for (size_t j = 0; j < nseen; j++)
                    free(seen[j]);
                nseen = 0;
            }
            free(prev_offender);
            prev_offender = strdup(ev.offender);
            seen[nseen++] = strdup(ev.id);
        }
        if (ev.type == PBR_EV_RELEASE || ev.type == PBR_EV_COMMUNITY_START) {
            ck_assert_int_ge(ev.date, o.from);
            ck_assert_int_le(ev.date, o.to);
        }
        pbr_event_clear(&ev);
    }
    qsort(ids, n, sizeof *ids, compare_strings);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0, "duplicate id %s", ids[i]);
    ck_assert(contains(ids, n, ids[n / 2]));
    /* every kind of event occurs, with a few voids and late records */
    for (int t = 0; t < PBR_EV_TYPE_COUNT; t++)
        ck_assert_msg(counts[t] > 0, "no %s events", pbr_event_type_name((pbr_event_type)t));
    ck_assert_uint_ge(counts[PBR_EV_RELEASE] + counts[PBR_EV_COMMUNITY_START], 2000);
    ck_assert_uint_gt(nvoids, 5);
    ck_assert_uint_lt(nvoids, n / 50);
    ck_assert_uint_gt(nlate, 20);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    for (size_t j = 0; j < nseen; j++)
        free(seen[j]);
    free(prev_offender);
    free(seen);
    free(ids);
    free(starts);
    free(lens);
    free(s.buf);
}
END_TEST

START_TEST(no_voids_no_late)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 1000;
    o.voids = 0;
    o.late = 0;
    stream s = generate(&o);
    char *z = malloc(s.len + 1);
    memcpy(z, s.buf, s.len);
    z[s.len] = '\0';
    ck_assert_ptr_null(strstr(z, "\"type\":\"void\""));
    ck_assert_ptr_null(strstr(z, "\"recorded\""));
    free(z);
    free(s.buf);
}
END_TEST

/* Fraction of lines that fail to parse for a given malformed rate. */
static double failing_fraction(double rate, uint64_t seed)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 2000;
    o.seed = seed;
    o.malformed_rate = rate;
    stream s = generate(&o);
    const char **starts;
    size_t *lens;
    size_t n = split_lines(&s, &starts, &lens), bad = 0;
    for (size_t i = 0; i < n; i++) {
        pbr_event ev;
        char err[PBR_ERR_MAX];
        if (pbr_event_parse(starts[i], lens[i], &ev, err, sizeof err) == 0)
            pbr_event_clear(&ev);
        else
            bad++;
    }
    free(starts);
    free(lens);
    free(s.buf);
    return (double)bad / (double)n;
}

START_TEST(malformed_rate_respected)
{
    ck_assert(failing_fraction(0, 3) == 0);
    double f = failing_fraction(0.1, 3);
    ck_assert_msg(f > 0.08 && f < 0.12, "rate 0.1 gave %f", f);
    f = failing_fraction(0.5, 4);
    ck_assert_msg(f > 0.45 && f < 0.55, "rate 0.5 gave %f", f);
}
END_TEST

/* An index event with an OGRS score and whether its offender was convicted
 * of an offence committed within two years of it. */
typedef struct {
    int32_t ogrs;
    int reoffended;
} index_outcome;

static int by_ogrs(const void *a, const void *b)
{
    const index_outcome *x = a, *y = b;
    return (x->ogrs > y->ogrs) - (x->ogrs < y->ogrs);
}

START_TEST(ogrs_spread_and_prediction)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 2000;
    o.seed = 11;
    o.voids = 0;
    stream s = generate(&o);
    const char **starts;
    size_t *lens;
    size_t n = split_lines(&s, &starts, &lens);
    pbr_event *evs = calloc(n, sizeof *evs);
    for (size_t i = 0; i < n; i++) {
        char err[PBR_ERR_MAX];
        ck_assert_msg(pbr_event_parse(starts[i], lens[i], &evs[i], err, sizeof err) == 0, "%s", err);
    }
    /* lines come in offender blocks: look for convictions in the same block */
    index_outcome *ix = calloc(n, sizeof *ix);
    size_t nix = 0, mid = 0, ogrs_missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (evs[i].type != PBR_EV_RELEASE && evs[i].type != PBR_EV_COMMUNITY_START)
            continue;
        if (evs[i].ogrs < 0) {
            ogrs_missing++;
            continue;
        }
        pbr_date from = evs[i].date, to = pbr_add_months(evs[i].date, 24);
        int hit = 0;
        for (size_t j = 0; j < n && !hit; j++) /* n is small: 2000 offenders */
            hit = evs[j].type == PBR_EV_CONVICTION && strcmp(evs[j].offender, evs[i].offender) == 0 &&
                evs[j].offence_date >= from && evs[j].offence_date < to;
        ix[nix].ogrs = evs[i].ogrs;
        ix[nix].reoffended = hit;
        if (evs[i].ogrs >= 2000 && evs[i].ogrs <= 8000)
            mid++;
        nix++;
    }
    ck_assert_uint_gt(nix, 1500);
    ck_assert_msg(mid * 100 >= nix * 70, "only %zu of %zu OGRS scores in 0.2..0.8", mid, nix);
    ck_assert_uint_gt(ogrs_missing, 0); /* ogrs is optional: some index events lack it */
    qsort(ix, nix, sizeof *ix, by_ogrs);
    size_t q = nix / 4, low = 0, high = 0;
    for (size_t i = 0; i < q; i++) {
        low += (size_t)ix[i].reoffended;
        high += (size_t)ix[nix - 1 - i].reoffended;
    }
    double low_rate = (double)low / (double)q, high_rate = (double)high / (double)q;
    ck_assert_msg(high_rate - low_rate > 0.3, "bottom quartile %f, top quartile %f", low_rate, high_rate);
    ck_assert_msg(low_rate < 0.45 && high_rate > 0.6, "bottom quartile %f, top quartile %f", low_rate, high_rate);
    for (size_t i = 0; i < n; i++)
        pbr_event_clear(&evs[i]);
    free(evs);
    free(ix);
    free(starts);
    free(lens);
    free(s.buf);
}
END_TEST

START_TEST(write_error_reported)
{
    pbr_gen_opts o;
    pbr_gen_defaults(&o);
    o.offenders = 100;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        return; /* no /dev/full here */
    ck_assert_int_eq(pbr_gen_write(&o, f), -1);
    fclose(f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, defaults_are_documented_ones);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, every_line_valid_and_ids_unique);
    tcase_add_test(tc, no_voids_no_late);
    tcase_add_test(tc, malformed_rate_respected);
    tcase_add_test(tc, ogrs_spread_and_prediction);
    tcase_add_test(tc, write_error_reported);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

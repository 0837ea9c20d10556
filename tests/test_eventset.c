/* test_eventset.c -- the event set evaluation reads (eventset.h).
 *
 * The daemon keeps one set and finishes it again after every commit; that
 * finish works only on what was added (new offenders merged into the name
 * order, new events merged into the sorted array, new voids attached). The
 * promise is that the result does not depend on how the events arrived: the
 * same events in the same order, the same offenders by rank, and the same
 * visibility of every event on every date as one finish over everything.
 * The reference here is that single finish of a set built in one go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/gen.h"
#include "settle_helpers.h"

typedef struct stream {
    pbr_event *evs;
    size_t n;
} stream;

/* A generated stream of offenders (voids and late records included), parsed. */
static stream generate(unsigned offenders, uint64_t seed)
{
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.offenders = offenders;
    g.seed = seed;
    size_t len;
    char *text = gen_text(&g, &len, NULL);
    stream s = {NULL, 0};
    size_t cap = 0;
    char err[PBR_ERR_MAX];
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        if (s.n == cap) {
            cap = cap ? cap * 2 : 1024;
            s.evs = realloc(s.evs, cap * sizeof *s.evs);
            ck_assert_ptr_nonnull(s.evs);
        }
        ck_assert_msg(pbr_event_parse(line, l, &s.evs[s.n], err, sizeof err) == 0, "%s", err);
        s.n++;
        line += l + (nl != NULL);
    }
    free(text);
    return s;
}

static void stream_free(stream *s)
{
    for (size_t i = 0; i < s->n; i++)
        pbr_event_clear(&s->evs[i]);
    free(s->evs);
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Adds the events listed in order[] (indexes into st, seq = index + 1) in
 * chunks of random size up to max_chunk, finishing (non-strict, as the
 * daemon does) after each chunk. */
static pbr_eventset *build_in_chunks(const stream *st, const size_t *order, size_t max_chunk, uint64_t seed)
{
    pbr_eventset *set = pbr_eventset_new();
    ck_assert_ptr_nonnull(set);
    char err[PBR_ERR_MAX];
    size_t i = 0;
    while (i < st->n) {
        size_t chunk = 1 + (size_t)(next_random(&seed) % max_chunk);
        for (size_t end = i + chunk; i < end && i < st->n; i++)
            ck_assert(pbr_eventset_add(set, &st->evs[order[i]], order[i] + 1, err, sizeof err) == 0);
        ck_assert_msg(pbr_eventset_finish(set, 0, err, sizeof err) == 0, "%s", err);
    }
    return set;
}

/* Checks that a and b hold the same events in the same order, the same
 * offenders by rank, and the same visibility on every month's first day. */
static void assert_same_sets(const pbr_eventset *a, const pbr_eventset *b)
{
    ck_assert_uint_eq(pbr_eventset_count(a), pbr_eventset_count(b));
    ck_assert_uint_eq(pbr_eventset_offenders(a), pbr_eventset_offenders(b));
    ck_assert_uint_eq(pbr_eventset_last_seq(a), pbr_eventset_last_seq(b));
    for (uint32_t r = 0; r < pbr_eventset_offenders(a); r++)
        ck_assert_str_eq(pbr_eventset_offender_name(a, r), pbr_eventset_offender_name(b, r));
    size_t n;
    const pbr_ev *ea = pbr_eventset_all(a, &n), *eb = pbr_eventset_all(b, &n);
    const pbr_evvoid *va = pbr_eventset_voids(a), *vb = pbr_eventset_voids(b);
    pbr_date from, to;
    ck_assert(pbr_date_parse("2008-01-01", 10, &from) == 0 && pbr_date_parse("2024-01-01", 10, &to) == 0);
    uint64_t all = pbr_eventset_last_seq(a);
    size_t voided = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(pbr_eventset_id(a, &ea[i]), pbr_eventset_id(b, &eb[i]));
        ck_assert_uint_eq(ea[i].seq, eb[i].seq);
        ck_assert_uint_eq(ea[i].offender, eb[i].offender);
        ck_assert_int_eq(ea[i].date, eb[i].date);
        ck_assert_int_eq(ea[i].recorded, eb[i].recorded);
        ck_assert_int_eq(ea[i].type, eb[i].type);
        ck_assert_str_eq(pbr_eventset_symbol(a, ea[i].area) ? pbr_eventset_symbol(a, ea[i].area) : "-",
                         pbr_eventset_symbol(b, eb[i].area) ? pbr_eventset_symbol(b, eb[i].area) : "-");
        for (pbr_date d = from; d < to; d = pbr_add_months(d, 1)) {
            int x = pbr_ev_visible(&ea[i], va, d, all), y = pbr_ev_visible(&eb[i], vb, d, all);
            ck_assert_msg(x == y, "event %s on day %d: visible %d vs %d", pbr_eventset_id(a, &ea[i]), (int)d, x, y);
        }
        voided += !pbr_ev_visible(&ea[i], va, to, all);
    }
    /* the stream has voids, so the comparison of visibility means something */
    ck_assert_uint_gt(voided, 0);
}

/* Chunks in file order (voids after their targets), as the daemon's log. */
START_TEST(incremental_finish_equals_one_finish)
{
    stream st = generate(1500, 7);
    size_t *order = calloc(st.n, sizeof *order);
    ck_assert_ptr_nonnull(order);
    for (size_t i = 0; i < st.n; i++)
        order[i] = i;
    pbr_eventset *whole = build_in_chunks(&st, order, st.n, 1); /* chunk up to n: often one */
    pbr_eventset *one = pbr_eventset_new();
    char err[PBR_ERR_MAX];
    for (size_t i = 0; i < st.n; i++)
        ck_assert(pbr_eventset_add(one, &st.evs[i], i + 1, err, sizeof err) == 0);
    ck_assert(pbr_eventset_finish(one, 0, err, sizeof err) == 0);
    pbr_eventset *small = build_in_chunks(&st, order, 20, 2);
    pbr_eventset *large = build_in_chunks(&st, order, 900, 3);
    assert_same_sets(one, whole);
    assert_same_sets(one, small);
    assert_same_sets(one, large);
    pbr_eventset_destroy(&whole);
    pbr_eventset_destroy(&small);
    pbr_eventset_destroy(&large);
    pbr_eventset_destroy(&one);
    free(order);
    stream_free(&st);
}
END_TEST

/* Shuffled arrival: voids often come before their targets, new offenders
 * sort anywhere among the old ones; still the same set. */
START_TEST(incremental_finish_ignores_arrival_order)
{
    stream st = generate(1000, 11);
    size_t *order = calloc(st.n, sizeof *order);
    ck_assert_ptr_nonnull(order);
    for (size_t i = 0; i < st.n; i++)
        order[i] = i;
    uint64_t x = 99;
    for (size_t i = st.n; i > 1; i--) {
        size_t j = (size_t)(next_random(&x) % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    pbr_eventset *one = pbr_eventset_new();
    char err[PBR_ERR_MAX];
    for (size_t i = 0; i < st.n; i++)
        ck_assert(pbr_eventset_add(one, &st.evs[i], i + 1, err, sizeof err) == 0);
    ck_assert(pbr_eventset_finish(one, 0, err, sizeof err) == 0);
    pbr_eventset *shuffled = build_in_chunks(&st, order, 50, 5);
    assert_same_sets(one, shuffled);
    pbr_eventset_destroy(&shuffled);
    pbr_eventset_destroy(&one);
    free(order);
    stream_free(&st);
}
END_TEST

typedef struct rejects {
    char msg[4][160];
    size_t line[4], n;
} rejects;

static void on_reject(void *ctx, size_t line, const char *message)
{
    rejects *r = ctx;
    ck_assert_uint_lt(r->n, 4);
    r->line[r->n] = line;
    snprintf(r->msg[r->n++], sizeof r->msg[0], "%s", message);
}

/* An event file (pbrctl simulate, check, explain) rejects a line that is
 * not text with the reason the daemon's ingest gives, and goes on. */
START_TEST(read_jsonl_names_the_bad_byte)
{
    static const char body[] = "{\"id\":\"n\0ul\"}\n"
                               "ab\xff\xfe\n"
                               "{\"id\":\"r1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2020-04-15\","
                               "\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"provider\":\"serco\","
                               "\"sentence_days\":120,\"age\":30,\"gender\":\"M\",\"ogrs\":0.1234}\n";
    char path[] = "/tmp/pbr-test-eventfile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, body, sizeof body - 1), (ssize_t)(sizeof body - 1));
    close(fd);
    pbr_eventset *set = pbr_eventset_new();
    ck_assert_ptr_nonnull(set);
    rejects r = {0};
    uint64_t nread = 0;
    char err[PBR_ERR_MAX];
    ck_assert_int_eq(pbr_eventset_read_jsonl(set, path, on_reject, &r, &nread, err, sizeof err), 0);
    unlink(path);
    ck_assert_uint_eq(nread, 1);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_uint_eq(r.line[0], 1);
    ck_assert_str_eq(r.msg[0], "NUL byte at byte 9"); /* {"id":"n is 8 bytes */
    ck_assert_uint_eq(r.line[1], 2);
    ck_assert_str_eq(r.msg[1], "invalid UTF-8 at byte 3");
    pbr_eventset_destroy(&set);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eventset");
    TCase *tc = tcase_create("finish");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, incremental_finish_equals_one_finish);
    tcase_add_test(tc, incremental_finish_ignores_arrival_order);
    suite_add_tcase(s, tc);
    tc = tcase_create("file");
    tcase_add_test(tc, read_jsonl_names_the_bad_byte);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

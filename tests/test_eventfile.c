/* test_eventfile.c -- reading a JSON Lines file as a set
 * (pbr_eventset_read_jsonl), which parses on several threads and keeps
 * everything that depends on line order on the caller's thread.
 *
 * The reference is the plain sequential load: each line parsed and added
 * in file order with seq 1, 2, ..., then one strict finish. The parallel
 * loader must give the same events (every field), the same ids, the same
 * offenders and the same voids, over a file of many chunks; rejected lines
 * must come back in line order with their own line numbers, also across a
 * line longer than a chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/gen.h"
#include "settle_helpers.h"

/* Writes len bytes of text to a new temporary file; path gets its name. */
static void write_temp(const char *text, size_t len, char path[64])
{
    snprintf(path, 64, "/tmp/pbr-eventfile-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

typedef struct rejects {
    size_t n;
    size_t lines[16];
    char msgs[16][PBR_ERR_MAX];
} rejects;

static void on_reject(void *ctx, size_t line, const char *message)
{
    rejects *r = ctx;
    if (r->n < 16) {
        r->lines[r->n] = line;
        snprintf(r->msgs[r->n], PBR_ERR_MAX, "%s", message);
    }
    r->n++;
}

/* The sequential reference of a file without duplicates or bad lines. */
static pbr_eventset *load_sequential(const char *text)
{
    pbr_eventset *set = pbr_eventset_new();
    ck_assert_ptr_nonnull(set);
    char err[PBR_ERR_MAX];
    uint64_t seq = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        pbr_event ev;
        ck_assert_msg(pbr_event_parse(p, len, &ev, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(pbr_eventset_add(set, &ev, ++seq, err, sizeof err), 0);
        pbr_event_free(&ev);
        p = nl ? nl + 1 : p + len;
    }
    ck_assert_msg(pbr_eventset_finish(set, 1, err, sizeof err) == 0, "%s", err);
    return set;
}

START_TEST(parallel_load_equals_sequential)
{
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.offenders = 30000; /* about 20 MB: many chunks, the job ring wraps */
    g.seed = 7;
    size_t len;
    char *text = gen_text(&g, &len, NULL);
    ck_assert_uint_gt(len, 10u << 20);
    char path[64];
    write_temp(text, len, path);
    pbr_eventset *ref = load_sequential(text);
    pbr_eventset *set = pbr_eventset_new();
    char err[PBR_ERR_MAX];
    rejects r = {0};
    uint64_t nread = 0;
    ck_assert_msg(pbr_eventset_read_jsonl(set, path, on_reject, &r, &nread, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(nread, pbr_eventset_last_seq(ref));
    ck_assert_uint_eq(pbr_eventset_last_seq(set), pbr_eventset_last_seq(ref));
    size_t na, nb;
    const pbr_ev *a = pbr_eventset_all(set, &na), *b = pbr_eventset_all(ref, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_gt(na, 100000);
    const pbr_evvoid *va = pbr_eventset_voids(set), *vb = pbr_eventset_voids(ref);
    size_t voided = 0;
    for (size_t i = 0; i < na; i++) {
        ck_assert_str_eq(pbr_eventset_id(set, &a[i]), pbr_eventset_id(ref, &b[i]));
        pbr_ev x = a[i], y = b[i];
        x.id = y.id = 0; /* arena offsets may differ; the strings are equal */
        x.void_ix = y.void_ix = 0;
        ck_assert_int_eq(memcmp(&x, &y, sizeof x), 0);
        /* the same voids, in the same chain order */
        uint32_t p = a[i].void_ix, q = b[i].void_ix;
        for (; p != 0 && q != 0; p = va[p].next, q = vb[q].next) {
            ck_assert_uint_eq(va[p].seq, vb[q].seq);
            ck_assert_int_eq(va[p].recorded, vb[q].recorded);
            voided++;
        }
        ck_assert(p == 0 && q == 0);
    }
    ck_assert_uint_gt(voided, 0);
    ck_assert_uint_eq(pbr_eventset_offenders(set), pbr_eventset_offenders(ref));
    for (uint32_t o = 0; o < pbr_eventset_offenders(set); o++)
        ck_assert_str_eq(pbr_eventset_offender_name(set, o), pbr_eventset_offender_name(ref, o));
    /* the type index: every event once, ascending within its type */
    size_t total = 0;
    for (int t = 0; t < PBR_EV_TYPE_COUNT; t++) {
        size_t n;
        const uint32_t *pos = pbr_eventset_of_type(set, t, &n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(a[pos[i]].type, t);
            ck_assert(i == 0 || pos[i] > pos[i - 1]);
        }
        total += n;
    }
    ck_assert_uint_eq(total, na);
    pbr_eventset_free(set);
    pbr_eventset_free(ref);
    unlink(path);
    free(text);
}
END_TEST

#define REL(id, off, date)                                                                                       \
    "{\"id\":\"" id "\",\"type\":\"release\",\"offender\":\"" off "\",\"date\":\"" date                          \
    "\",\"area\":\"NORTH\",\"establishment\":\"HMP-N\",\"provider\":\"serco\",\"sentence_days\":100,\"age\":30," \
    "\"gender\":\"M\"}"

START_TEST(rejects_come_in_line_order)
{
    /* line 1 ok; 2 blank; 3 malformed; 4 ok with CRLF; 5 identical
     * duplicate of 1 (skipped silently); 6 same id as 1, other content;
     * 7 a void of line 4; 8 a blank line longer than a chunk (1 MiB); 9
     * malformed; 10 ok, without a final newline */
    size_t big = (1u << 20) + 4096;
    size_t cap = big + 4096;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t n = (size_t)snprintf(
        text, cap,
        REL("A", "P1",
            "2012-01-01") "\n"
                          "   \n"
                          "{\"id\":\"B\",\"type\":\"release\"\n" REL("C", "P2", "2012-02-01") "\r\n" REL(
                              "A", "P1",
                              "2012-01-01") "\n" REL("A", "P1",
                                                     "2012-03-03") "\n"
                                                                   "{\"id\":\"V\",\"type\":\"void\",\"date\":\"2013-01-"
                                                                   "01\",\"target\":\"C\",\"reason\":\"wrong "
                                                                   "person\"}\n");
    memset(text + n, ' ', big);
    n += big;
    n += (size_t)snprintf(text + n, cap - n, "\nnot json\n" REL("D", "P3", "2012-04-01"));
    char path[64];
    write_temp(text, n, path);
    pbr_eventset *set = pbr_eventset_new();
    char err[PBR_ERR_MAX];
    rejects r = {0};
    uint64_t nread = 0;
    ck_assert_msg(pbr_eventset_read_jsonl(set, path, on_reject, &r, &nread, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.lines[0], 3);
    ck_assert_uint_eq(r.lines[1], 6);
    ck_assert_ptr_nonnull(strstr(r.msgs[1], "release \"A\": id exists with different content"));
    ck_assert_uint_eq(r.lines[2], 9);
    /* A, C, V, D were read (the duplicate of A was not), so seq 1..4 */
    ck_assert_uint_eq(nread, 4);
    ck_assert_uint_eq(pbr_eventset_count(set), 3);
    size_t k;
    const pbr_ev *all = pbr_eventset_all(set, &k);
    int c_voided = 0;
    for (size_t i = 0; i < k; i++) {
        if (strcmp(pbr_eventset_id(set, &all[i]), "C") == 0)
            c_voided = all[i].void_ix != 0;
        if (strcmp(pbr_eventset_id(set, &all[i]), "D") == 0)
            ck_assert_uint_eq(all[i].seq, 4);
    }
    ck_assert(c_voided);
    pbr_eventset_free(set);
    unlink(path);
    free(text);
}
END_TEST

/* A void must target an event of the file, and not a void. */
START_TEST(void_targets_are_checked)
{
    static const char *const files[] = {
        REL("A", "P1", "2012-01-01") "\n{\"id\":\"V\",\"type\":\"void\",\"date\":\"2013-01-01\",\"target\":\"Z\","
                                     "\"reason\":\"wrong person\"}\n",
        REL("A", "P1", "2012-01-01") "\n{\"id\":\"V\",\"type\":\"void\",\"date\":\"2013-01-01\",\"target\":\"A\","
                                     "\"reason\":\"wrong person\"}\n{\"id\":\"W\",\"type\":\"void\",\"date\":\"2013-"
                                     "01-02\",\"target\":\"V\",\"reason\":\"wrong person\"}\n",
    };
    static const char *const expect[] = {"void \"V\": target \"Z\" is not an event of the input",
                                         "void \"W\": target \"V\" is a void (a void may not target a void)"};
    for (int i = 0; i < 2; i++) {
        char path[64];
        write_temp(files[i], strlen(files[i]), path);
        pbr_eventset *set = pbr_eventset_new();
        char err[PBR_ERR_MAX];
        uint64_t nread = 0;
        ck_assert_int_eq(pbr_eventset_read_jsonl(set, path, NULL, NULL, &nread, err, sizeof err), -1);
        ck_assert_str_eq(err, expect[i]);
        pbr_eventset_free(set);
        unlink(path);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("eventfile");
    TCase *t = tcase_create("read_jsonl");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, parallel_load_equals_sequential);
    tcase_add_test(t, rejects_come_in_line_order);
    tcase_add_test(t, void_targets_are_checked);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)

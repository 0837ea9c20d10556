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
        pbr_event_clear(&ev);
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
    pbr_eventset_destroy(&set);
    pbr_eventset_destroy(&ref);
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
    pbr_eventset_destroy(&set);
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
        pbr_eventset_destroy(&set);
        unlink(path);
    }
}
END_TEST

/* Duplicates are judged on canonical bytes: a line repeated with every
 * field of its type (in another key order and spacing) is the same event
 * and is skipped; the same line with any one field changed is a conflict.
 * Each event type is written out with every field it can carry, so a field
 * the set failed to keep would make the repeat a conflict too. */
static const char *const full_events[] = {
    "{\"id\":\"R\",\"type\":\"release\",\"offender\":\"P1\",\"date\":\"2012-01-02\",\"recorded\":\"2012-01-05\","
    "\"area\":\"Leeds\",\"provider\":\"serco\",\"establishment\":\"HMP Leeds\",\"sentence_days\":200,\"age\":31,"
    "\"gender\":\"F\",\"ogrs\":0.4321,\"prior_sanctions\":7,\"flags\":[\"PPO\",\"DV\"]}",
    "{\"id\":\"S\",\"type\":\"community_start\",\"offender\":\"P2\",\"date\":\"2012-01-03\",\"area\":\"Kent\","
    "\"provider\":\"sodexo\",\"order\":\"SSO\",\"sentence_days\":365,\"age\":19,\"gender\":\"X\",\"ogrs\":0.05,"
    "\"prior_sanctions\":0,\"flags\":[\"YA\"]}",
    "{\"id\":\"C\",\"type\":\"conviction\",\"offender\":\"P1\",\"date\":\"2012-06-01\",\"offence_date\":\"2012-03-01\","
    "\"offences\":3,\"category\":\"violence\",\"disposal\":\"custody\",\"area\":\"Leeds\"}",
    "{\"id\":\"N\",\"type\":\"reception\",\"offender\":\"P1\",\"date\":\"2012-06-02\",\"area\":\"Leeds\","
    "\"establishment\":\"HMP Leeds\",\"sentence_days\":90,\"age\":31,\"gender\":\"F\"}",
    "{\"id\":\"D\",\"type\":\"discharge\",\"offender\":\"P1\",\"date\":\"2012-08-31\"}",
    "{\"id\":\"V\",\"type\":\"void\",\"date\":\"2013-01-01\",\"recorded\":\"2013-01-02\",\"target\":\"S\","
    "\"reason\":\"wrong person\"}",
};

/* The same events, keys reordered and spaced: identical canonical bytes. */
static const char *const full_events_reordered[] = {
    "{ \"flags\": [\"PPO\", \"DV\"], \"prior_sanctions\": 7, \"ogrs\": 0.43210, \"gender\": \"F\", \"age\": 31,"
    " \"sentence_days\": 200, \"establishment\": \"HMP Leeds\", \"provider\": \"serco\", \"area\": \"Leeds\","
    " \"recorded\": \"2012-01-05\", \"date\": \"2012-01-02\", \"offender\": \"P1\", \"type\": \"release\", \"id\": "
    "\"R\" }",
    "{\"flags\":[\"YA\"],\"prior_sanctions\":0,\"ogrs\":0.0500,\"gender\":\"X\",\"age\":19,\"sentence_days\":365,"
    "\"order\":\"SSO\",\"provider\":\"sodexo\",\"area\":\"Kent\",\"date\":\"2012-01-03\",\"offender\":\"P2\","
    "\"type\":\"community_start\",\"id\":\"S\"}",
    "{\"area\":\"Leeds\",\"disposal\":\"custody\",\"category\":\"violence\",\"offences\":3,\"offence_date\":"
    "\"2012-03-01\",\"date\":\"2012-06-01\",\"offender\":\"P1\",\"type\":\"conviction\",\"id\":\"C\"}",
    "{\"gender\":\"F\",\"age\":31,\"sentence_days\":90,\"establishment\":\"HMP Leeds\",\"area\":\"Leeds\","
    "\"date\":\"2012-06-02\",\"offender\":\"P1\",\"type\":\"reception\",\"id\":\"N\"}",
    "{\"date\":\"2012-08-31\",\"offender\":\"P1\",\"type\":\"discharge\",\"id\":\"D\",\"recorded\":\"2012-08-31\"}",
    "{\"reason\":\"wrong person\",\"target\":\"S\",\"recorded\":\"2013-01-02\",\"date\":\"2013-01-01\","
    "\"type\":\"void\",\"id\":\"V\"}",
};

/* One field changed in each: {index into full_events, from, to}. */
static const char *const one_field_changed[][3] = {
    {"0", "\"recorded\":\"2012-01-05\"", "\"recorded\":\"2012-01-06\""},
    {"0", "\"area\":\"Leeds\"", "\"area\":\"Leed\""},
    {"0", "\"provider\":\"serco\"", "\"provider\":\"g4s\""},
    {"0", "\"establishment\":\"HMP Leeds\"", "\"establishment\":\"HMP Hull\""},
    {"0", "\"sentence_days\":200", "\"sentence_days\":201"},
    {"0", "\"age\":31", "\"age\":32"},
    {"0", "\"gender\":\"F\"", "\"gender\":\"M\""},
    {"0", "\"ogrs\":0.4321", "\"ogrs\":0.4322"},
    {"0", "\"prior_sanctions\":7", "\"prior_sanctions\":8"},
    {"0", "[\"PPO\",\"DV\"]", "[\"DV\",\"PPO\"]"},
    {"0", "[\"PPO\",\"DV\"]", "[\"PPO\"]"},
    {"0", "\"offender\":\"P1\"", "\"offender\":\"P9\""},
    {"1", "\"order\":\"SSO\"", "\"order\":\"CO\""},
    {"1", "\"date\":\"2012-01-03\"", "\"date\":\"2012-01-04\""},
    {"2", "\"offence_date\":\"2012-03-01\"", "\"offence_date\":\"2012-03-02\""},
    {"2", "\"offences\":3", "\"offences\":2"},
    {"2", "\"category\":\"violence\"", "\"category\":\"breach\""},
    {"2", "\"disposal\":\"custody\"", "\"disposal\":\"sso\""},
    {"2", ",\"area\":\"Leeds\"}", "}"},
    {"3", "\"sentence_days\":90,", ""},
    {"4", "\"date\":\"2012-08-31\"", "\"date\":\"2012-08-30\""},
    {"5", "\"reason\":\"wrong person\"", "\"reason\":\"wrong date\""},
    {"5", "\"date\":\"2013-01-01\"", "\"date\":\"2012-12-31\""},
    {"5", "\"target\":\"S\"", "\"target\":\"R\""},
};

/* Reads text as a set; returns the number of rejected lines (r gets them). */
static size_t read_text_rejects(const char *text, rejects *r)
{
    char path[64], err[PBR_ERR_MAX];
    write_temp(text, strlen(text), path);
    pbr_eventset *set = pbr_eventset_new();
    uint64_t nread = 0;
    memset(r, 0, sizeof *r);
    ck_assert_msg(pbr_eventset_read_jsonl(set, path, on_reject, r, &nread, err, sizeof err) == 0, "%s", err);
    /* six events read, whatever the repeats were */
    ck_assert_uint_eq(nread, 6);
    pbr_eventset_destroy(&set);
    unlink(path);
    return r->n;
}

START_TEST(duplicates_compare_canonical_bytes)
{
    char text[8192];
    size_t n = 0;
    for (size_t i = 0; i < 6; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", full_events[i]);
    size_t base = n;
    rejects r;
    /* every line again as it was, then reordered: nothing rejected */
    for (size_t i = 0; i < 6; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n%s\n", full_events[i], full_events_reordered[i]);
    ck_assert_uint_eq(read_text_rejects(text, &r), 0);
    /* each one-field change alone: exactly that line is rejected */
    for (size_t k = 0; k < sizeof one_field_changed / sizeof one_field_changed[0]; k++) {
        const char *const *c = one_field_changed[k];
        const char *line = full_events[atoi(c[0])];
        const char *at = strstr(line, c[1]);
        ck_assert_msg(at != NULL, "case %zu: \"%s\" not in the line", k, c[1]);
        n = base +
            (size_t)snprintf(text + base, sizeof text - base, "%.*s%s%s\n", (int)(at - line), line, c[2],
                             at + strlen(c[1]));
        ck_assert_msg(read_text_rejects(text, &r) == 1, "case %zu (%s -> %s): %zu rejected", k, c[1], c[2], r.n);
        ck_assert_uint_eq(r.lines[0], 7);
        ck_assert_msg(strstr(r.msgs[0], "id exists with different content") != NULL, "case %zu: %s", k, r.msgs[0]);
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
    tcase_add_test(t, duplicates_compare_canonical_bytes);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)

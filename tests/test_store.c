/* test_store.c -- the LMDB store: append and read back, idempotency
 * (duplicate / conflict), the offender index, find_id inside a transaction,
 * quarantine, contracts, statement immutability, reopen, map growth under a
 * tiny map (with RETRY replays), concurrent writers and readers, and a write
 * failure at commit (file size limit standing in for a full disk).
 *
 * Every test works in a fresh mkdtemp directory under /tmp, removed after.
 * Events are built by hand; the store treats their canonical JSON as bytes.
 */
#include <check.h>
#include <ftw.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "pbr/store.h"

/* ---- fixture: a fresh store per test --------------------------------------- */

static char tmpdir[64];
static char storedir[128];
static pbr_store *st;
static char err[PBR_ERR_MAX];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void open_store(void)
{
    int rc = pbr_store_open(storedir, &st, err, sizeof err);
    ck_assert_msg(rc == 0, "pbr_store_open: %s", err);
}

static void setup(void)
{
    unsetenv("PBR_STORE_MAPSIZE");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pbr-test-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* a directory that does not exist yet: open must create it */
    snprintf(storedir, sizeof storedir, "%s/data/store", tmpdir);
    st = NULL;
}

static void teardown(void)
{
    pbr_store_close(&st);
    st = NULL;
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers --------------------------------------------------------------- */

static pbr_event make_event(const char *id, pbr_event_type type, const char *offender)
{
    pbr_event ev;
    memset(&ev, 0, sizeof ev);
    ev.id = (char *)id;
    ev.type = type;
    ev.offender = (char *)offender;
    return ev;
}

/* Puts one event in its own transaction; returns the put's result. */
static int put_one(const char *id, pbr_event_type type, const char *offender, const char *json, uint64_t *seq)
{
    pbr_store_txn *txn;
    pbr_event ev = make_event(id, type, offender);
    int rc;
    ck_assert_msg(pbr_store_begin(st, &txn, err, sizeof err) == 0, "begin: %s", err);
    rc = pbr_store_put_event(txn, &ev, json, strlen(json), seq, err, sizeof err);
    ck_assert_msg(pbr_store_commit(txn, err, sizeof err) == 0, "commit: %s", err);
    return rc;
}

typedef struct record {
    uint64_t seq;
    char *json; /* events: the JSON; quarantine: "ERROR@AT" */
    char *raw;  /* quarantine: the raw bytes (malloc'd) */
    size_t raw_len;
} record;

typedef struct collected {
    record *v;
    size_t n, cap;
    size_t stop_after; /* 0 = never stop */
} collected;

static int collect(void *ctx, uint64_t seq, const char *json, size_t len)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        ck_assert_ptr_nonnull(c->v);
    }
    ck_assert_uint_eq(strlen(json), len); /* values handed out are C strings */
    c->v[c->n].seq = seq;
    c->v[c->n].json = strndup(json, len);
    c->v[c->n].raw = NULL;
    c->n++;
    if (c->stop_after != 0 && c->n == c->stop_after)
        return 7;
    return 0;
}

/* pbr_store_quarantine_fn: records qseq, "ERROR@AT" and the raw bytes. */
static int collect_q(void *ctx, const pbr_quarantine_record *q)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        ck_assert_ptr_nonnull(c->v);
    }
    ck_assert_ptr_null(q->unreadable);
    record *r = &c->v[c->n++];
    r->seq = q->qseq;
    ck_assert_int_ge(asprintf(&r->json, "%s@%lld", q->error, (long long)q->at), 0);
    r->raw = malloc(q->raw_len + 1);
    ck_assert_ptr_nonnull(r->raw);
    memcpy(r->raw, q->raw, q->raw_len);
    r->raw[q->raw_len] = '\0';
    r->raw_len = q->raw_len;
    return 0;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].json);
        free(c->v[i].raw);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

static pbr_store_stats stats_now(void)
{
    pbr_store_stats s;
    ck_assert_msg(pbr_store_get_stats(st, &s, err, sizeof err) == 0, "stats: %s", err);
    return s;
}

static const char *E1 = "{\"id\":\"e1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2024-01-02\"}";
static const char *E2 = "{\"id\":\"e2\",\"type\":\"conviction\",\"offender\":\"B\",\"date\":\"2024-02-03\"}";
static const char *E3 = "{\"id\":\"e3\",\"type\":\"reception\",\"offender\":\"A\",\"date\":\"2024-03-04\"}";

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_empty_store_stats)
{
    open_store();
    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 0);
    ck_assert_uint_eq(s.quarantined, 0);
    ck_assert_uint_eq(s.last_seq, 0);
    ck_assert_uint_eq(s.map_size, 64u << 20); /* the 64 MiB default */
}
END_TEST

START_TEST(test_append_and_read_back)
{
    pbr_store_txn *txn;
    uint64_t seq = 0;
    collected c = {0};
    pbr_event e1 = make_event("e1", PBR_EV_RELEASE, "A");
    pbr_event e2 = make_event("e2", PBR_EV_CONVICTION, "B");
    pbr_event e3 = make_event("e3", PBR_EV_RECEPTION, "A");

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_event(txn, &e1, E1, strlen(E1), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(pbr_store_put_event(txn, &e2, E2, strlen(E2), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(pbr_store_put_event(txn, &e3, E3, strlen(E3), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_foreach_event(st, 1, UINT64_MAX, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(c.v[0].seq, 1);
    ck_assert_str_eq(c.v[0].json, E1);
    ck_assert_uint_eq(c.v[1].seq, 2);
    ck_assert_str_eq(c.v[1].json, E2);
    ck_assert_uint_eq(c.v[2].seq, 3);
    ck_assert_str_eq(c.v[2].json, E3);
    collected_free(&c);

    /* a sub-range, an empty range, a range past the end */
    ck_assert_int_eq(pbr_store_foreach_event(st, 2, 2, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].json, E2);
    collected_free(&c);
    ck_assert_int_eq(pbr_store_foreach_event(st, 3, 2, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(pbr_store_foreach_event(st, 4, 100, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);

    /* the callback's non-zero value stops the walk and is returned */
    c.stop_after = 2;
    ck_assert_int_eq(pbr_store_foreach_event(st, 0, UINT64_MAX, collect, &c, err, sizeof err), 7);
    ck_assert_uint_eq(c.n, 2);
    collected_free(&c);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 3);
    ck_assert_uint_eq(s.last_seq, 3);
    ck_assert_uint_eq(s.quarantined, 0);
}
END_TEST

START_TEST(test_duplicate_same_bytes)
{
    pbr_store_txn *txn;
    uint64_t seq = 0;
    collected c = {0};
    pbr_event e1 = make_event("e1", PBR_EV_RELEASE, "A");

    open_store();
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    ck_assert_int_eq(put_one("e2", PBR_EV_CONVICTION, "B", E2, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 2);

    /* re-sent in a later transaction: duplicate of seq 1 */
    seq = 0;
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 1);

    /* twice within one transaction: the second sees the first */
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    pbr_event e3 = make_event("e3", PBR_EV_RECEPTION, "A");
    ck_assert_int_eq(pbr_store_put_event(txn, &e3, E3, strlen(E3), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 3);
    seq = 0;
    ck_assert_int_eq(pbr_store_put_event(txn, &e3, E3, strlen(E3), &seq, err, sizeof err), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(pbr_store_put_event(txn, &e1, E1, strlen(E1), &seq, err, sizeof err), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 3);
    ck_assert_uint_eq(s.last_seq, 3);
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 2); /* e1 and e3, each once */
    ck_assert_uint_eq(c.v[0].seq, 1);
    ck_assert_uint_eq(c.v[1].seq, 3);
    collected_free(&c);
}
END_TEST

START_TEST(test_conflict_different_bytes)
{
    const char *other = "{\"id\":\"e1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2024-01-03\"}";
    uint64_t seq = 0;
    collected c = {0};

    open_store();
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", other, &seq), PBR_STORE_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "e1"));
    /* a prefix of the stored bytes is different content too */
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", "{\"id\":\"e1\"", &seq), PBR_STORE_CONFLICT);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 1);
    ck_assert_uint_eq(s.last_seq, 1);
    ck_assert_int_eq(pbr_store_foreach_event(st, 1, UINT64_MAX, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].json, E1);
    collected_free(&c);
}
END_TEST

/* The id index is claimed first when an event is added: a duplicate or a
 * conflict must leave no trace (no log record, no index entry, no seq
 * used), and the same transaction goes on normally, quarantine and id
 * lookups included. */
START_TEST(test_duplicate_and_conflict_write_nothing)
{
    const char *other = "{\"id\":\"e1\",\"type\":\"release\",\"offender\":\"A\",\"date\":\"2024-01-09\"}";
    pbr_store_txn *txn;
    uint64_t seq = 0;
    pbr_event_type t;
    collected c = {0};
    pbr_event e1 = make_event("e1", PBR_EV_RELEASE, "A");
    pbr_event e1b = make_event("e1", PBR_EV_RELEASE, "C");
    pbr_event e2 = make_event("e2", PBR_EV_CONVICTION, "B");

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_event(txn, &e1, E1, strlen(E1), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(pbr_store_put_event(txn, &e1b, other, strlen(other), &seq, err, sizeof err), PBR_STORE_CONFLICT);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, other, strlen(other), "conflict", 7, err, sizeof err), 0);
    seq = 0;
    ck_assert_int_eq(pbr_store_put_event(txn, &e1, E1, strlen(E1), &seq, err, sizeof err), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(pbr_store_put_event(txn, &e2, E2, strlen(E2), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 2); /* no seq was used up by the conflict or the duplicate */
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "e2", &t, err, sizeof err), PBR_STORE_OK);
    ck_assert_int_eq(t, PBR_EV_CONVICTION);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 2);
    ck_assert_uint_eq(s.last_seq, 2);
    ck_assert_uint_eq(s.quarantined, 1);
    ck_assert_int_eq(pbr_store_foreach_event(st, 1, UINT64_MAX, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.v[0].json, E1);
    ck_assert_str_eq(c.v[1].json, E2);
    collected_free(&c);
    /* the conflicting event's offender got no index entry */
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "C", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
    collected_free(&c);
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.v[0].seq, 1);
    collected_free(&c);
    /* and the id still maps to the first event */
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 1);
}
END_TEST

/* The offenders index entries of a transaction are written at commit, in
 * key order: whatever the arrival order, each offender lists exactly its
 * events in seq order; the caller's strings may be gone by then; an abort
 * leaves no entry behind. */
START_TEST(test_offender_index_deferred_to_commit)
{
    enum { N = 600, NOFF = 37 };
    pbr_store_txn *txn;
    char id[32], json[96];
    uint64_t seq;
    collected c = {0};

    open_store();
    /* an aborted transaction first: none of its entries may survive */
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    pbr_event gone = make_event("gone", PBR_EV_RELEASE, "o-1");
    ck_assert_int_eq(pbr_store_put_event(txn, &gone, "{}", 2, &seq, err, sizeof err), PBR_STORE_ADDED);
    pbr_store_abort(txn);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    for (int i = 0; i < N; i++) {
        char *off = malloc(16); /* freed right after the put */
        ck_assert_ptr_nonnull(off);
        snprintf(off, 16, "o-%d", (i * 7919) % NOFF);
        snprintf(id, sizeof id, "d%d", i);
        snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
        pbr_event ev = make_event(id, PBR_EV_RELEASE, off);
        ck_assert_int_eq(pbr_store_put_event(txn, &ev, json, strlen(json), &seq, err, sizeof err), PBR_STORE_ADDED);
        ck_assert_uint_eq(seq, (uint64_t)i + 1);
        memset(off, 'z', 15);
        free(off);
    }
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    uint64_t total = 0;
    for (int o = 0; o < NOFF; o++) {
        char off[16];
        snprintf(off, sizeof off, "o-%d", o);
        ck_assert_int_eq(pbr_store_foreach_offender_event(st, off, collect, &c, err, sizeof err), 0);
        uint64_t prev = 0;
        for (size_t k = 0; k < c.n; k++) {
            int i = (int)c.v[k].seq - 1;
            ck_assert_int_eq((i * 7919) % NOFF, o);
            ck_assert_uint_gt(c.v[k].seq, prev);
            prev = c.v[k].seq;
        }
        total += c.n;
        collected_free(&c);
    }
    ck_assert_uint_eq(total, N);
}
END_TEST

START_TEST(test_offender_index)
{
    /* offenders in order A, AB, A, B, A, Z: A's events are seqs 1, 3, 5 */
    static const char *off[] = {"A", "AB", "A", "B", "A", "Z"};
    char id[16], json[128];
    uint64_t seq;
    collected c = {0};

    open_store();
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "x%d", i + 1);
        snprintf(json, sizeof json, "{\"id\":\"%s\",\"offender\":\"%s\"}", id, off[i]);
        ck_assert_int_eq(put_one(id, PBR_EV_CONVICTION, off[i], json, &seq), PBR_STORE_ADDED);
        ck_assert_uint_eq(seq, (uint64_t)i + 1);
    }
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(c.v[0].seq, 1);
    ck_assert_str_eq(c.v[0].json, "{\"id\":\"x1\",\"offender\":\"A\"}");
    ck_assert_uint_eq(c.v[1].seq, 3);
    ck_assert_str_eq(c.v[1].json, "{\"id\":\"x3\",\"offender\":\"A\"}");
    ck_assert_uint_eq(c.v[2].seq, 5);
    ck_assert_str_eq(c.v[2].json, "{\"id\":\"x5\",\"offender\":\"A\"}");
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "AB", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.v[0].seq, 2);
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "Z", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.v[0].seq, 6);
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "nobody", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(test_offender_index_orders_seqs_numerically)
{
    /* seqs 1..300 for one offender: 256 follows 255 (big-endian dup values) */
    pbr_store_txn *txn;
    char id[16], json[64];
    uint64_t seq;
    collected c = {0};

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    for (int i = 1; i <= 300; i++) {
        snprintf(id, sizeof id, "n%d", i);
        snprintf(json, sizeof json, "{\"id\":\"%s\"}", id);
        pbr_event ev = make_event(id, PBR_EV_CONVICTION, "P");
        ck_assert_int_eq(pbr_store_put_event(txn, &ev, json, strlen(json), &seq, err, sizeof err), PBR_STORE_ADDED);
    }
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "P", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 300);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_uint_eq(c.v[i].seq, i + 1);
    collected_free(&c);
}
END_TEST

START_TEST(test_void_has_no_offender)
{
    const char *v = "{\"id\":\"v1\",\"type\":\"void\",\"target\":\"e1\",\"reason\":\"typo\"}";
    pbr_store_txn *txn;
    pbr_event_type type = PBR_EV_RELEASE;
    uint64_t seq;
    collected c = {0};

    open_store();
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    ck_assert_int_eq(put_one("v1", PBR_EV_VOID, NULL, v, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 2);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "v1", &type, err, sizeof err), PBR_STORE_OK);
    ck_assert_int_eq(type, PBR_EV_VOID);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "e1", &type, err, sizeof err), PBR_STORE_OK);
    ck_assert_int_eq(type, PBR_EV_RELEASE);
    pbr_store_abort(txn);

    /* the void is in the log but in nobody's offender index */
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.v[0].seq, 1);
    collected_free(&c);
    ck_assert_int_eq(pbr_store_foreach_event(st, 2, 2, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.v[0].json, v);
    collected_free(&c);
}
END_TEST

START_TEST(test_find_id_sees_own_writes_and_nothing_after_abort)
{
    pbr_store_txn *txn;
    pbr_event_type type = PBR_EV_RELEASE;
    uint64_t seq = 0;
    collected c = {0};
    pbr_event e2 = make_event("e2", PBR_EV_CONVICTION, "B");

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "e2", &type, err, sizeof err), PBR_STORE_NOTFOUND);
    ck_assert_int_eq(pbr_store_put_event(txn, &e2, E2, strlen(E2), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "e2", &type, err, sizeof err), PBR_STORE_OK);
    ck_assert_int_eq(type, PBR_EV_CONVICTION);
    pbr_store_abort(txn);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "e2", &type, err, sizeof err), PBR_STORE_NOTFOUND);
    pbr_store_abort(txn);
    ck_assert_int_eq(pbr_store_foreach_event(st, 0, UINT64_MAX, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "B", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 0);
    ck_assert_uint_eq(s.last_seq, 0);

    /* the aborted seq is not burnt: the next event is seq 1 */
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 1);
}
END_TEST

START_TEST(test_quarantine_newest_first_with_limit)
{
    pbr_store_txn *txn;
    collected c = {0};
    char raw[32], reason[32];

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    for (int i = 1; i <= 4; i++) {
        snprintf(raw, sizeof raw, "line %d", i);
        snprintf(reason, sizeof reason, "reason %d", i);
        ck_assert_int_eq(pbr_store_put_quarantine(txn, raw, strlen(raw), reason, 1700000000 + i, err, sizeof err), 0);
    }
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    /* a raw text needing escapes, a NUL and an invalid UTF-8 byte (0xff,
     * which becomes U+FFFD), in a later transaction */
    static const char nasty[] = "{\"a\":\n\x01\xff\0z";
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, nasty, sizeof nasty - 1, "bad \"json\"", -5, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 3, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(c.v[0].seq, 5);
    /* the raw bytes come back exactly: the NUL, 0xff and 'z' after it too */
    ck_assert_uint_eq(c.v[0].raw_len, sizeof nasty - 1);
    ck_assert_mem_eq(c.v[0].raw, nasty, sizeof nasty - 1);
    ck_assert_str_eq(c.v[0].json, "bad \"json\"@-5");
    ck_assert_uint_eq(c.v[1].seq, 4);
    ck_assert_str_eq(c.v[1].json, "reason 4@1700000004");
    ck_assert_str_eq(c.v[1].raw, "line 4");
    ck_assert_uint_eq(c.v[2].seq, 3);
    ck_assert_str_eq(c.v[2].json, "reason 3@1700000003");
    ck_assert_str_eq(c.v[2].raw, "line 3");
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 0, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_uint_eq(c.v[i].seq, 5 - i);
    ck_assert_str_eq(c.v[4].json, "reason 1@1700000001");
    ck_assert_str_eq(c.v[4].raw, "line 1");
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 100, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 5);
    collected_free(&c);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.quarantined, 5);
    ck_assert_uint_eq(s.events, 0);
}
END_TEST

/* Purging deletes exactly the records stored before the cut-off (by their
 * "at", not their order), in its own transaction, and numbering goes on
 * from the newest record left. */
START_TEST(test_quarantine_purge)
{
    pbr_store_txn *txn;
    collected c = {0};
    uint64_t purged = 99;
    static const int64_t at[] = {300, 100, 250, 200};

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    for (size_t i = 0; i < 4; i++) {
        char raw[8];
        snprintf(raw, sizeof raw, "r%zu", i + 1);
        ck_assert_int_eq(pbr_store_put_quarantine(txn, raw, strlen(raw), "why", at[i], err, sizeof err), 0);
    }
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_purge_quarantine(txn, 250, &purged, err, sizeof err), 0);
    ck_assert_uint_eq(purged, 2); /* at 100 and 200; 250 is not before 250 */
    ck_assert_int_eq(pbr_store_put_quarantine(txn, "r5", 2, "why", 400, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 0, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(c.v[0].seq, 4); /* key 4 (r4, at 200) was purged: the newest left is 3 */
    ck_assert_str_eq(c.v[0].raw, "r5");
    ck_assert_uint_eq(c.v[1].seq, 3);
    ck_assert_str_eq(c.v[1].raw, "r3");
    ck_assert_uint_eq(c.v[2].seq, 1);
    ck_assert_str_eq(c.v[2].raw, "r1");
    collected_free(&c);
    ck_assert_uint_eq(stats_now().quarantined, 3);

    /* an aborted purge deletes nothing */
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_purge_quarantine(txn, 1000, &purged, err, sizeof err), 0);
    ck_assert_uint_eq(purged, 3);
    pbr_store_abort(txn);
    ck_assert_uint_eq(stats_now().quarantined, 3);

    /* purging everything: the next record is number 1 again */
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_purge_quarantine(txn, 1000, &purged, err, sizeof err), 0);
    ck_assert_uint_eq(purged, 3);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, "", 0, "empty", 500, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 0, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.v[0].seq, 1);
    ck_assert_uint_eq(c.v[0].raw_len, 0);
    ck_assert_str_eq(c.v[0].json, "empty@500");
    collected_free(&c);
}
END_TEST

/* pbr_store_quarantine_fn: counts records; copies the unreadable reasons
 * and the others like collect_q. */
typedef struct mixed {
    collected ok;
    char unreadable[4][160];
    size_t nbad;
} mixed;

static int collect_mixed(void *ctx, const pbr_quarantine_record *q)
{
    mixed *m = ctx;
    if (q->unreadable) {
        ck_assert_uint_lt(m->nbad, 4);
        snprintf(m->unreadable[m->nbad++], sizeof m->unreadable[0], "%" PRIu64 ": %s", q->qseq, q->unreadable);
        return 0;
    }
    return collect_q(&m->ok, q);
}

/* Writes value (len bytes) under quarantine key k with LMDB itself, the way
 * an older pbrd or a damaged disk left it; the store must be closed. */
static void raw_put_quarantine(uint64_t k, const void *value, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
    ck_assert_int_eq(mdb_env_open(env, storedir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "quarantine", MDB_INTEGERKEY, &dbi), 0);
    MDB_val key = {sizeof k, &k}, val = {len, (void *)value};
    ck_assert_int_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Records of the format before raw bytes were kept still list (their
 * repaired text as the raw bytes); a damaged record is reported as
 * unreadable with the reason, and a purge removes it. */
START_TEST(test_quarantine_old_and_damaged_records)
{
    mixed m;
    memset(&m, 0, sizeof m);
    uint64_t purged;
    pbr_store_txn *txn;
    open_store();
    pbr_store_close(&st);
    st = NULL;
    static const char old[] = "{\"raw\":\"bad \\u0000 x\",\"error\":\"old reason\",\"at\":42}";
    raw_put_quarantine(1, old, sizeof old);               /* with its NUL */
    raw_put_quarantine(2, "not json", sizeof "not json"); /* with its NUL */
    static const char short_raw[] = "{\"error\":\"e\",\"at\":1,\"raw_bytes\":5}\0abc";
    raw_put_quarantine(3, short_raw, sizeof short_raw); /* 3 raw bytes and the NUL: not 5 */
    raw_put_quarantine(4, "x", 1);                      /* no NUL at all */
    open_store();
    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 0, collect_mixed, &m, err, sizeof err), 0);
    ck_assert_uint_eq(m.ok.n, 1);
    ck_assert_uint_eq(m.ok.v[0].seq, 1);
    ck_assert_uint_eq(m.ok.v[0].raw_len, 7);
    ck_assert_mem_eq(m.ok.v[0].raw, "bad \0 x", 7);
    ck_assert_str_eq(m.ok.v[0].json, "old reason@42");
    ck_assert_uint_eq(m.nbad, 3);
    ck_assert_str_eq(m.unreadable[0], "4: the value is not NUL-terminated");
    ck_assert_str_eq(m.unreadable[1], "3: the raw bytes do not match the header's raw_bytes");
    ck_assert_str_eq(m.unreadable[2], "2: the header is not JSON with \"error\" and \"at\"");
    collected_free(&m.ok);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_purge_quarantine(txn, 0, &purged, err, sizeof err), 0);
    ck_assert_uint_eq(purged, 3); /* the damaged ones; the old record (at 42) stays */
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    ck_assert_uint_eq(stats_now().quarantined, 1);
}
END_TEST

START_TEST(test_contracts)
{
    static const char sha[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    static const char yaml[] = "contract: lewisham\nprovider: x\n";
    pbr_store_txn *txn;
    char *bytes = NULL;
    size_t len = 0;

    open_store();
    ck_assert_int_eq(pbr_store_get_contract(st, sha, &bytes, &len, err, sizeof err), PBR_STORE_NOTFOUND);
    ck_assert_ptr_null(bytes);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_contract(txn, sha, yaml, strlen(yaml), err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_contract(txn, sha, yaml, strlen(yaml), err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_contract(txn, sha, yaml, strlen(yaml), err, sizeof err), 0); /* idempotent */
    ck_assert_int_eq(pbr_store_put_contract(txn, sha, "other", 5, err, sizeof err), PBR_STORE_CONFLICT);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_get_contract(st, sha, &bytes, &len, err, sizeof err), 0);
    ck_assert_uint_eq(len, strlen(yaml));
    ck_assert_str_eq(bytes, yaml);
    free(bytes);
}
END_TEST

START_TEST(test_first_loaded_is_recorded_once)
{
    pbr_store_txn *txn;
    char first[PBR_STORE_DATE_LEN];
    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "lewisham", "2026-12-02", first, err, sizeof err), 0);
    ck_assert_str_eq(first, "2026-12-02");
    /* a later load (same transaction or after a reopen) keeps the first day */
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "lewisham", "2027-01-05", first, err, sizeof err), 0);
    ck_assert_str_eq(first, "2026-12-02");
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    pbr_store_close(&st);
    st = NULL;
    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "lewisham", "2030-01-01", first, err, sizeof err), 0);
    ck_assert_str_eq(first, "2026-12-02");
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "doncaster", "2030-01-01", first, err, sizeof err), 0);
    ck_assert_str_eq(first, "2030-01-01");
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "doncaster", "2030-1-1", first, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "YYYY-MM-DD"));
    ck_assert_int_eq(pbr_store_put_first_loaded(txn, "", "2030-01-01", first, err, sizeof err), -1);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
}
END_TEST

START_TEST(test_statements_are_immutable_and_ordered)
{
    pbr_store_txn *txn;
    char *rec = NULL;
    size_t len = 0;
    collected c = {0};

    open_store();
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    /* inserted out of order; "AB" must not be taken for a quarter of "A" */
    ck_assert_int_eq(pbr_store_put_statement(txn, "B", "2024-01-01", "{\"s\":\"B1\"}", 10, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "A", "2024-04-01", "{\"s\":\"A2\"}", 10, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "AB", "2023-01-01", "{\"s\":\"AB1\"}", 11, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "A", "2024-01-01", "{\"s\":\"A1\"}", 10, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "A", "2024-01-01", "{\"s\":\"new\"}", 11, err, sizeof err),
                     PBR_STORE_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err, "2024-01-01"));
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_get_statement(st, "A", "2024-01-01", &rec, &len, err, sizeof err), 0);
    ck_assert_str_eq(rec, "{\"s\":\"A1\"}");
    ck_assert_uint_eq(len, 10);
    free(rec);
    ck_assert_int_eq(pbr_store_get_statement(st, "A", "2024-07-01", &rec, &len, err, sizeof err), PBR_STORE_NOTFOUND);

    ck_assert_int_eq(pbr_store_foreach_statement(st, NULL, collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_str_eq(c.v[0].json, "{\"s\":\"A1\"}");
    ck_assert_str_eq(c.v[1].json, "{\"s\":\"A2\"}");
    ck_assert_str_eq(c.v[2].json, "{\"s\":\"AB1\"}");
    ck_assert_str_eq(c.v[3].json, "{\"s\":\"B1\"}");
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_statement(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.v[0].json, "{\"s\":\"A1\"}");
    ck_assert_str_eq(c.v[1].json, "{\"s\":\"A2\"}");
    collected_free(&c);

    ck_assert_int_eq(pbr_store_foreach_statement(st, "C", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(test_reopen_keeps_everything_and_continues_seq)
{
    pbr_store_txn *txn;
    uint64_t seq;
    collected c = {0};

    open_store();
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    ck_assert_int_eq(put_one("e2", PBR_EV_CONVICTION, "B", E2, &seq), PBR_STORE_ADDED);
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, "q1", 2, "r1", 1, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "A", "2024-01-01", "{}", 2, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    pbr_store_close(&st);
    st = NULL;

    open_store();
    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 2);
    ck_assert_uint_eq(s.last_seq, 2);
    ck_assert_uint_eq(s.quarantined, 1);

    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(put_one("e3", PBR_EV_RECEPTION, "A", E3, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 3);
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, "q2", 2, "r2", 2, err, sizeof err), 0);
    ck_assert_int_eq(pbr_store_put_statement(txn, "A", "2024-01-01", "{}", 2, err, sizeof err), PBR_STORE_CONFLICT);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);

    ck_assert_int_eq(pbr_store_foreach_quarantine(st, 0, collect_q, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_uint_eq(c.v[0].seq, 2);
    ck_assert_str_eq(c.v[0].json, "r2@2");
    ck_assert_str_eq(c.v[0].raw, "q2");
    ck_assert_uint_eq(c.v[1].seq, 1);
    collected_free(&c);
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "A", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_uint_eq(c.v[0].seq, 1);
    ck_assert_uint_eq(c.v[1].seq, 3);
    collected_free(&c);
}
END_TEST

/* Event i of the growth tests: ~200 bytes, offender o<i % 1000>. */
#define GROW_EVENTS 50000
#define GROW_BATCH 6000

static void growth_event(int i, char *id, size_t idlen, char *off, size_t offlen, char *json, size_t jsonlen)
{
    snprintf(id, idlen, "g%06d", i);
    snprintf(off, offlen, "o%04d", i % 1000);
    snprintf(json, jsonlen,
             "{\"id\":\"%s\",\"type\":\"conviction\",\"offender\":\"%s\",\"date\":\"2024-01-01\","
             "\"offence_date\":\"2023-12-01\",\"offences\":1,\"category\":\"acquisitive\","
             "\"disposal\":\"community\",\"area\":\"Lewisham\",\"recorded\":\"2024-01-01\",\"n\":%d}",
             id, off, i);
}

typedef struct growth_check {
    uint64_t next;
    int bad;
} growth_check;

static int check_growth_event(void *ctx, uint64_t seq, const char *json, size_t len)
{
    growth_check *g = ctx;
    char id[16], off[16], want[256];
    (void)len;
    if (seq != g->next) {
        g->bad = 1;
        return 1;
    }
    growth_event((int)seq - 1, id, sizeof id, off, sizeof off, want, sizeof want);
    if (strcmp(json, want) != 0) {
        g->bad = 2;
        return 1;
    }
    g->next++;
    return 0;
}

START_TEST(test_map_grows_with_retry_and_replay)
{
    char id[16], off[16], json[256];
    int retries = 0;
    uint64_t seq;
    growth_check g = {1, 0};
    collected c = {0};

    setenv("PBR_STORE_MAPSIZE", "1048576", 1);
    open_store();
    ck_assert_uint_eq(stats_now().map_size, 1048576);
    for (int start = 0; start < GROW_EVENTS; start += GROW_BATCH) {
        int end = start + GROW_BATCH < GROW_EVENTS ? start + GROW_BATCH : GROW_EVENTS;
        for (;;) {
            pbr_store_txn *txn;
            int rc = PBR_STORE_ADDED;
            ck_assert_msg(pbr_store_begin(st, &txn, err, sizeof err) == 0, "begin: %s", err);
            for (int i = start; i < end && rc == PBR_STORE_ADDED; i++) {
                growth_event(i, id, sizeof id, off, sizeof off, json, sizeof json);
                pbr_event ev = make_event(id, PBR_EV_CONVICTION, off);
                rc = pbr_store_put_event(txn, &ev, json, strlen(json), &seq, err, sizeof err);
                if (rc == PBR_STORE_ADDED)
                    ck_assert_uint_eq(seq, (uint64_t)i + 1);
            }
            if (rc == PBR_STORE_RETRY) {
                ck_assert_ptr_nonnull(strstr(err, "MDB_MAP_FULL"));
                /* replay, after a commit (even batches) or an abort (odd) */
                if ((start / GROW_BATCH) % 2 == 0)
                    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), PBR_STORE_RETRY);
                else
                    pbr_store_abort(txn);
                retries++;
                continue;
            }
            ck_assert_msg(rc == PBR_STORE_ADDED, "put: %d %s", rc, err);
            rc = pbr_store_commit(txn, err, sizeof err);
            if (rc == PBR_STORE_RETRY) {
                retries++;
                continue;
            }
            ck_assert_msg(rc == 0, "commit: %s", err);
            break;
        }
    }
    /* 6000 events of ~250 bytes (1.5 MB) cannot fit a 1 MiB map */
    ck_assert_int_ge(retries, 1);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, GROW_EVENTS);
    ck_assert_uint_eq(s.last_seq, GROW_EVENTS);
    ck_assert_uint_gt(s.map_size, 1048576);
    ck_assert_int_eq(pbr_store_foreach_event(st, 1, UINT64_MAX, check_growth_event, &g, err, sizeof err), 0);
    ck_assert_int_eq(g.bad, 0);
    ck_assert_uint_eq(g.next, GROW_EVENTS + 1);

    /* offender o0007: events 7, 1007, ..., 49007 -> seqs 8, 1008, ... */
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "o0007", collect, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.n, GROW_EVENTS / 1000);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_uint_eq(c.v[i].seq, 8 + 1000 * i);
    collected_free(&c);

    /* every one exactly once: re-sending is a duplicate of its own seq */
    growth_event(12345, id, sizeof id, off, sizeof off, json, sizeof json);
    ck_assert_int_eq(put_one(id, PBR_EV_CONVICTION, off, json, &seq), PBR_STORE_DUPLICATE);
    ck_assert_uint_eq(seq, 12346);
    unsetenv("PBR_STORE_MAPSIZE");
}
END_TEST

/* pbr_store_write's work: 600 quarantine records of 2 KiB (1.2 MB) in one
 * transaction, so a 64 KiB map must double 5 times (64 KiB * 2^5 = 2 MiB)
 * before it fits; counts how often it was run. */
typedef struct write_work {
    int runs;
    int code; /* returned instead of writing, when not PBR_STORE_OK */
} write_work;

static int put_many_quarantine(pbr_store_txn *txn, void *ctx, char *e, size_t elen)
{
    write_work *w = ctx;
    char raw[2048];
    w->runs++;
    if (w->code != PBR_STORE_OK)
        return w->code;
    memset(raw, 'q', sizeof raw);
    for (int i = 0; i < 600; i++) {
        int rc = pbr_store_put_quarantine(txn, raw, sizeof raw, "reason", i, e, elen);
        if (rc != 0)
            return rc;
    }
    return PBR_STORE_OK;
}

START_TEST(test_store_write_replays_until_the_map_fits)
{
    write_work w = {0, PBR_STORE_OK};
    setenv("PBR_STORE_MAPSIZE", "1", 1); /* raised to the 64 KiB floor */
    open_store();
    ck_assert_int_eq(pbr_store_write(st, put_many_quarantine, &w, err, sizeof err), 0);
    /* at least one replay, and all 600 records committed once */
    ck_assert_int_ge(w.runs, 2);
    ck_assert_int_le(w.runs, PBR_STORE_MAX_REPLAYS);
    ck_assert_uint_eq(stats_now().quarantined, 600);

    /* a work code other than OK/RETRY aborts and comes back as is */
    write_work c = {0, PBR_STORE_CONFLICT};
    ck_assert_int_eq(pbr_store_write(st, put_many_quarantine, &c, err, sizeof err), PBR_STORE_CONFLICT);
    ck_assert_int_eq(c.runs, 1);
    /* a work that always finds the map full gives up after the limit */
    write_work r = {0, PBR_STORE_RETRY};
    ck_assert_int_eq(pbr_store_write(st, put_many_quarantine, &r, err, sizeof err), -1);
    ck_assert_int_eq(r.runs, PBR_STORE_MAX_REPLAYS);
    ck_assert_ptr_nonnull(strstr(err, "still full"));
    ck_assert_uint_eq(stats_now().quarantined, 600);
    unsetenv("PBR_STORE_MAPSIZE");
}
END_TEST

START_TEST(test_map_full_fails_the_transaction)
{
    pbr_store_txn *txn;
    char id[16], json[1100];
    uint64_t seq;
    int rc = PBR_STORE_ADDED, n = 0;

    setenv("PBR_STORE_MAPSIZE", "1", 1); /* raised to the 64 KiB floor */
    open_store();
    ck_assert_uint_eq(stats_now().map_size, 65536);
    memset(json, 'x', sizeof json - 1);
    json[sizeof json - 1] = '\0';
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    while (rc == PBR_STORE_ADDED && n < 1000) {
        snprintf(id, sizeof id, "big%d", n++);
        pbr_event ev = make_event(id, PBR_EV_RELEASE, "A");
        rc = pbr_store_put_event(txn, &ev, json, strlen(json), &seq, err, sizeof err);
    }
    ck_assert_int_eq(rc, PBR_STORE_RETRY);
    ck_assert_msg(strstr(err, "mdb_put(") != NULL && strstr(err, "MDB_MAP_FULL") != NULL, "err: %s", err);
    /* the transaction is dead: more puts and the commit say RETRY */
    pbr_event ev = make_event("late", PBR_EV_RELEASE, "A");
    ck_assert_int_eq(pbr_store_put_event(txn, &ev, "{}", 2, &seq, err, sizeof err), PBR_STORE_RETRY);
    ck_assert_int_eq(pbr_store_put_quarantine(txn, "x", 1, "y", 0, err, sizeof err), PBR_STORE_RETRY);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), PBR_STORE_RETRY);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 0);
    ck_assert_uint_eq(s.map_size, 2 * 65536); /* doubled once */
    unsetenv("PBR_STORE_MAPSIZE");
}
END_TEST

/* ---- concurrency: writers replaying on RETRY while readers read ------------ */

#define CONC_WRITERS 3
#define CONC_PER_WRITER 3000
#define CONC_BATCH 150

typedef struct writer_arg {
    int w;
    int failed;
    char err[PBR_ERR_MAX];
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    char id[32], off[16], json[256];
    uint64_t seq;
    for (int start = 0; start < CONC_PER_WRITER; start += CONC_BATCH) {
        for (;;) {
            pbr_store_txn *txn;
            int rc = PBR_STORE_ADDED;
            if (pbr_store_begin(st, &txn, a->err, sizeof a->err) != 0) {
                a->failed = 1;
                return NULL;
            }
            for (int i = start; i < start + CONC_BATCH && rc == PBR_STORE_ADDED; i++) {
                snprintf(id, sizeof id, "w%d-%d", a->w, i);
                snprintf(off, sizeof off, "o%d", i % 50);
                snprintf(json, sizeof json, "{\"id\":\"%s\",\"pad\":\"%0180d\"}", id, i);
                pbr_event ev = make_event(id, PBR_EV_RELEASE, off);
                rc = pbr_store_put_event(txn, &ev, json, strlen(json), &seq, a->err, sizeof a->err);
            }
            if (rc == PBR_STORE_ADDED)
                rc = pbr_store_commit(txn, a->err, sizeof a->err);
            else
                pbr_store_abort(txn);
            if (rc == PBR_STORE_RETRY)
                continue;
            if (rc != 0) {
                a->failed = 1;
                return NULL;
            }
            break;
        }
    }
    return NULL;
}

typedef struct reader_arg {
    volatile int stop;
    int failed;
    long rounds;
    char err[PBR_ERR_MAX];
} reader_arg;

static int count_event(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    (void)json;
    (void)len;
    (*(uint64_t *)ctx)++;
    return 0;
}

static void *reader_main(void *p)
{
    reader_arg *a = p;
    while (!__atomic_load_n(&a->stop, __ATOMIC_SEQ_CST)) {
        pbr_store_stats s;
        uint64_t n = 0;
        if (pbr_store_get_stats(st, &s, a->err, sizeof a->err) != 0 ||
            pbr_store_foreach_offender_event(st, "o7", count_event, &n, a->err, sizeof a->err) != 0) {
            a->failed = 1;
            return NULL;
        }
        /* a snapshot: never more than committed, events == last_seq */
        if (s.events != s.last_seq) {
            a->failed = 2;
            return NULL;
        }
        a->rounds++;
    }
    return NULL;
}

START_TEST(test_concurrent_writers_and_readers)
{
    pthread_t wt[CONC_WRITERS], rt[2];
    writer_arg wa[CONC_WRITERS];
    reader_arg ra[2];
    uint64_t n = 0;

    setenv("PBR_STORE_MAPSIZE", "262144", 1);
    open_store();
    memset(ra, 0, sizeof ra);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&rt[i], NULL, reader_main, &ra[i]), 0);
    for (int i = 0; i < CONC_WRITERS; i++) {
        memset(&wa[i], 0, sizeof wa[i]);
        wa[i].w = i;
        ck_assert_int_eq(pthread_create(&wt[i], NULL, writer_main, &wa[i]), 0);
    }
    for (int i = 0; i < CONC_WRITERS; i++)
        pthread_join(wt[i], NULL);
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&ra[i].stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(rt[i], NULL);
    }
    for (int i = 0; i < CONC_WRITERS; i++)
        ck_assert_msg(!wa[i].failed, "writer %d: %s", i, wa[i].err);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(!ra[i].failed, "reader %d (%d): %s", i, ra[i].failed, ra[i].err);

    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, CONC_WRITERS * CONC_PER_WRITER);
    ck_assert_uint_eq(s.last_seq, CONC_WRITERS * CONC_PER_WRITER);
    ck_assert_uint_gt(s.map_size, 262144);
    /* o7 gets i = 7, 57, ... (60 per writer) from each writer */
    ck_assert_int_eq(pbr_store_foreach_offender_event(st, "o7", count_event, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, CONC_WRITERS * (CONC_PER_WRITER / 50));
    unsetenv("PBR_STORE_MAPSIZE");
}
END_TEST

/* ---- failures ---------------------------------------------------------------- */

START_TEST(test_commit_write_failure_leaves_store_usable)
{
    /* A file size limit makes LMDB's page writes fail at commit, as a full
     * disk would (ENOSPC); SIGXFSZ is ignored so write returns an error. */
    struct rlimit old, lim;
    struct stat sb;
    char path[256], id[16], json[4200];
    pbr_store_txn *txn;
    uint64_t seq;

    open_store();
    ck_assert_int_eq(put_one("e1", PBR_EV_RELEASE, "A", E1, &seq), PBR_STORE_ADDED);
    snprintf(path, sizeof path, "%s/data.mdb", storedir);
    ck_assert_int_eq(stat(path, &sb), 0);

    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)sb.st_size + 16384;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

    memset(json, 'y', sizeof json - 1);
    json[sizeof json - 1] = '\0';
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    for (int i = 0; i < 100; i++) { /* ~420 KB, far past the limit */
        snprintf(id, sizeof id, "big%d", i);
        pbr_event ev = make_event(id, PBR_EV_RELEASE, "A");
        ck_assert_int_eq(pbr_store_put_event(txn, &ev, json, strlen(json), &seq, err, sizeof err), PBR_STORE_ADDED);
    }
    err[0] = '\0';
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "mdb_txn_commit(", 15) == 0 && strstr(err, "not stored") != NULL, "err: %s", err);

    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);

    /* nothing of the failed batch is stored, and the store still works */
    pbr_store_stats s = stats_now();
    ck_assert_uint_eq(s.events, 1);
    ck_assert_int_eq(put_one("e2", PBR_EV_CONVICTION, "B", E2, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(put_one("big0", PBR_EV_RELEASE, "A", json, &seq), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 3);
    pbr_store_close(&st);
    st = NULL;
    open_store();
    ck_assert_uint_eq(stats_now().events, 3);
}
END_TEST

START_TEST(test_open_errors_name_the_problem)
{
    char file[160];
    FILE *f;

    setenv("PBR_STORE_MAPSIZE", "12abc", 1);
    ck_assert_int_eq(pbr_store_open(storedir, &st, err, sizeof err), -1);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(err, "PBR_STORE_MAPSIZE") != NULL, "err: %s", err);
    unsetenv("PBR_STORE_MAPSIZE");

    snprintf(file, sizeof file, "%s/plainfile", tmpdir);
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(pbr_store_open(file, &st, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a directory") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_bad_keys_are_refused)
{
    pbr_store_txn *txn;
    char longid[600];
    uint64_t seq;
    pbr_event_type type;

    open_store();
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ck_assert_int_eq(pbr_store_begin(st, &txn, err, sizeof err), 0);
    pbr_event ev = make_event(longid, PBR_EV_RELEASE, "A");
    ck_assert_int_eq(pbr_store_put_event(txn, &ev, "{}", 2, &seq, err, sizeof err), PBR_STORE_ERROR);
    ck_assert_msg(strstr(err, "event id") != NULL, "err: %s", err);
    ck_assert_int_eq(pbr_store_txn_find_id(txn, "", &type, err, sizeof err), PBR_STORE_ERROR);
    /* a non-void event without an offender */
    pbr_event nooff = make_event("e9", PBR_EV_RELEASE, NULL);
    ck_assert_int_eq(pbr_store_put_event(txn, &nooff, "{}", 2, &seq, err, sizeof err), PBR_STORE_ERROR);
    ck_assert_msg(strstr(err, "offender") != NULL, "err: %s", err);
    /* refusals do not poison the transaction */
    pbr_event e1 = make_event("e1", PBR_EV_RELEASE, "A");
    ck_assert_int_eq(pbr_store_put_event(txn, &e1, E1, strlen(E1), &seq, err, sizeof err), PBR_STORE_ADDED);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(pbr_store_commit(txn, err, sizeof err), 0);
    ck_assert_uint_eq(stats_now().events, 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty_store_stats);
    tcase_add_test(tc, test_append_and_read_back);
    tcase_add_test(tc, test_duplicate_same_bytes);
    tcase_add_test(tc, test_conflict_different_bytes);
    tcase_add_test(tc, test_duplicate_and_conflict_write_nothing);
    tcase_add_test(tc, test_offender_index_deferred_to_commit);
    tcase_add_test(tc, test_offender_index);
    tcase_add_test(tc, test_offender_index_orders_seqs_numerically);
    tcase_add_test(tc, test_void_has_no_offender);
    tcase_add_test(tc, test_find_id_sees_own_writes_and_nothing_after_abort);
    tcase_add_test(tc, test_quarantine_newest_first_with_limit);
    tcase_add_test(tc, test_quarantine_purge);
    tcase_add_test(tc, test_quarantine_old_and_damaged_records);
    tcase_add_test(tc, test_contracts);
    tcase_add_test(tc, test_first_loaded_is_recorded_once);
    tcase_add_test(tc, test_statements_are_immutable_and_ordered);
    tcase_add_test(tc, test_reopen_keeps_everything_and_continues_seq);
    tcase_add_test(tc, test_map_grows_with_retry_and_replay);
    tcase_add_test(tc, test_map_full_fails_the_transaction);
    tcase_add_test(tc, test_concurrent_writers_and_readers);
    tcase_add_test(tc, test_commit_write_failure_leaves_store_usable);
    tcase_add_test(tc, test_open_errors_name_the_problem);
    tcase_add_test(tc, test_store_write_replays_until_the_map_fits);
    tcase_add_test(tc, test_bad_keys_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

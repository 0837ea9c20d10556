/* test_ingest.c -- integration tests of pbrd's ingest and API: the daemon
 * is started from $PBR_BUILD/pbrd on a fresh temporary data dir and random
 * free loopback ports, and driven over ZeroMQ like a real client.
 *
 * Expected counts come from the batches the tests build (SPEC.md sections 3
 * and 7), never from the daemon's own output.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check_main.h"
#include "pbr/store.h"

#include "daemon_harness.h"

/* ---- events --------------------------------------------------------------- */

/* Appends one valid release line with the given id. */
static void add_release(char *buf, size_t n, const char *id, const char *area)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len,
             "{\"id\":\"%s\",\"type\":\"release\",\"offender\":\"o-%s\",\"date\":\"2020-01-15\",\"area\":\"%s\","
             "\"establishment\":\"HMP-X\",\"sentence_days\":100,\"age\":30,\"gender\":\"M\"}\n",
             id, id, area);
}

static void add_void(char *buf, size_t n, const char *id, const char *target)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len,
             "{\"id\":\"%s\",\"type\":\"void\",\"date\":\"2020-02-01\",\"target\":\"%s\",\"reason\":\"typo\"}\n", id,
             target);
}

/* The error text for batch line k in a reply, or NULL. */
static const char *error_for_line(json_t *reply, json_int_t k)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(reply, "errors"), i, e)
    {
        if (json_integer_value(json_object_get(e, "line")) == k)
            return json_string_value(json_object_get(e, "error"));
    }
    return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(batch_counts)
{
    daemon_t d;
    daemon_init(&d, NULL);
    char buf[8192] = "";
    char id[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(id, sizeof id, "r%d", i);
        add_release(buf, sizeof buf, id, "X");
    }
    json_t *r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 10);
    ck_assert_int_eq(geti(r, "duplicates"), 0);
    ck_assert_int_eq(geti(r, "rejected"), 0);
    ck_assert_int_eq(geti(r, "last_seq"), 10);
    ck_assert_int_eq((int)json_array_size(json_object_get(r, "errors")), 0);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), 10);
    ck_assert_int_eq(geti(r, "quarantined"), 0);
    ck_assert_int_eq(geti(r, "last_seq"), 10);
    ck_assert_int_eq(geti(r, "contracts"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "now")), "2020-06-30");
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

START_TEST(idempotent_resend)
{
    daemon_t d;
    daemon_init(&d, NULL);
    static char buf[65536];
    buf[0] = '\0';
    char id[16];
    for (int i = 1; i <= 50; i++) {
        snprintf(id, sizeof id, "r%d", i);
        add_release(buf, sizeof buf, id, "X");
    }
    json_t *r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 50);
    json_decref(r);
    r = ingest_batch(&d, buf); /* the same file again */
    ck_assert_int_eq(geti(r, "accepted"), 0);
    ck_assert_int_eq(geti(r, "duplicates"), 50);
    ck_assert_int_eq(geti(r, "rejected"), 0);
    ck_assert_int_eq(geti(r, "last_seq"), 50);
    json_decref(r);
    char conflict[1024] = "";
    add_release(conflict, sizeof conflict, "r7", "Y"); /* same id, different area */
    r = ingest_batch(&d, conflict);
    ck_assert_int_eq(geti(r, "accepted"), 0);
    ck_assert_int_eq(geti(r, "rejected"), 1);
    const char *msg = error_for_line(r, 1);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, "line 1: event \"r7\": id exists with different content");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r, "errors"), 0), "id")), "r7");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), 50);
    ck_assert_int_eq(geti(r, "quarantined"), 1);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"quarantine\"}");
    json_t *recs = json_object_get(r, "records");
    ck_assert_int_eq((int)json_array_size(recs), 1);
    json_t *rec = json_array_get(recs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "error")),
                     "event \"r7\": id exists with different content");
    conflict[strlen(conflict) - 1] = '\0'; /* raw text is the line without its newline */
    ck_assert_str_eq(json_string_value(json_object_get(rec, "raw")), conflict);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

START_TEST(mixed_batch_keeps_good_lines)
{
    daemon_t d;
    daemon_init(&d, NULL);
    char buf[8192] = "";
    add_release(buf, sizeof buf, "g1", "X");                                       /* line 1 good */
    strcat(buf, "{\"id\":\"b1\",\"type\":\"release\",\"date\":\"2020-01-01\"}\n"); /* line 2 bad */
    add_release(buf, sizeof buf, "g2", "X");                                       /* line 3 good */
    strcat(buf, "not json at all\n");                                              /* line 4 bad */
    strcat(buf, "\n");                                                             /* line 5 blank */
    add_release(buf, sizeof buf, "g3", "X");                                       /* line 6 good */
    strcat(buf, "{\"id\":\"b2\",\"type\":\"teleport\",\"offender\":\"o\",\"date\":\"2020-01-01\"}\n"); /* 7 bad */
    add_release(buf, sizeof buf, "g4", "X"); /* line 8 good, no newline: */
    buf[strlen(buf) - 1] = '\0';
    json_t *r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 4);
    ck_assert_int_eq(geti(r, "rejected"), 3);
    ck_assert_int_eq(geti(r, "duplicates"), 0);
    ck_assert_ptr_nonnull(error_for_line(r, 2));
    ck_assert_ptr_nonnull(error_for_line(r, 4));
    ck_assert_ptr_nonnull(error_for_line(r, 7));
    ck_assert_ptr_null(error_for_line(r, 5));
    ck_assert(strncmp(error_for_line(r, 2), "line 2: ", 8) == 0);
    ck_assert(strstr(error_for_line(r, 2), "offender") != NULL); /* names the missing field */
    ck_assert(strstr(error_for_line(r, 7), "type") != NULL);
    json_t *e4 = json_array_get(json_object_get(r, "errors"), 1);
    ck_assert(json_is_null(json_object_get(e4, "id"))); /* no id in a non-JSON line */
    json_t *e2 = json_array_get(json_object_get(r, "errors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(e2, "id")), "b1");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), 4);
    ck_assert_int_eq(geti(r, "quarantined"), 3);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

START_TEST(void_target_rules)
{
    daemon_t d;
    daemon_init(&d, NULL);
    char buf[8192] = "";
    add_release(buf, sizeof buf, "stored", "X");
    json_t *r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 1);
    json_decref(r);

    buf[0] = '\0';
    add_void(buf, sizeof buf, "v-early", "later");   /* 1: target comes later in the batch: rejected */
    add_release(buf, sizeof buf, "later", "X");      /* 2 */
    add_void(buf, sizeof buf, "v-later", "later");   /* 3: target earlier in the batch: ok */
    add_void(buf, sizeof buf, "v-stored", "stored"); /* 4: target stored before: ok */
    add_void(buf, sizeof buf, "v-v", "v-stored");    /* 5: void of a void: rejected */
    add_void(buf, sizeof buf, "v-none", "nothing");  /* 6: unknown target: rejected */
    r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 3);
    ck_assert_int_eq(geti(r, "rejected"), 3);
    ck_assert_ptr_nonnull(error_for_line(r, 1));
    ck_assert_ptr_null(error_for_line(r, 3));
    ck_assert_ptr_null(error_for_line(r, 4));
    ck_assert_ptr_nonnull(error_for_line(r, 5));
    ck_assert_ptr_nonnull(error_for_line(r, 6));
    ck_assert(strstr(error_for_line(r, 1), "\"later\"") != NULL);
    ck_assert(strstr(error_for_line(r, 5), "void") != NULL);
    json_decref(r);
    /* the early void is now valid: its target has been stored since */
    buf[0] = '\0';
    add_void(buf, sizeof buf, "v-early", "later");
    r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 1);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

/* The quarantine record of index i (newest first) of a quarantine reply. */
static json_t *qrec(json_t *reply, size_t i)
{
    json_t *rec = json_array_get(json_object_get(reply, "records"), i);
    ck_assert_ptr_nonnull(rec);
    return rec;
}

/* Lines that are not text (a NUL byte, invalid UTF-8) get a reason naming
 * the byte, in the reply and the quarantine; the quarantine keeps the bytes
 * exactly and shows them as base64 (text stays text); finance and operator
 * can purge the quarantine by date, a provider may not. */
START_TEST(quarantine_keeps_raw_bytes_and_reasons)
{
    daemon_t d;
    daemon_init(&d, NULL);
    /* line 1: {"id":"n NUL ul"} -- the NUL is the 9th byte;
     * line 2: a b 0xff 0xfe -- 0xff (3rd byte) starts no UTF-8 character;
     * line 3: text, but not JSON */
    static const char body[] = "{\"id\":\"n\0ul\"}\nab\xff\xfe\nplain text\n";
    char *text = request_d(&d, d.ingest, body, sizeof body - 1, 10000);
    json_t *r = parse_reply(text);
    ck_assert_int_eq(geti(r, "rejected"), 3);
    ck_assert_str_eq(error_for_line(r, 1), "line 1: NUL byte at byte 9");
    ck_assert_str_eq(error_for_line(r, 2), "line 2: invalid UTF-8 at byte 3");
    ck_assert_ptr_nonnull(error_for_line(r, 3));
    json_decref(r);

    r = api_call(&d, "{\"op\":\"quarantine\"}");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "records")), 3);
    json_t *q = qrec(r, 0); /* text: as text, no base64 */
    ck_assert_str_eq(json_string_value(json_object_get(q, "raw")), "plain text");
    ck_assert_ptr_null(json_object_get(q, "raw_base64"));
    ck_assert_int_eq(geti(q, "raw_bytes"), 10);
    q = qrec(r, 1);
    ck_assert_ptr_null(json_object_get(q, "raw"));
    /* 61 62 ff fe = 011000 010110 001011 111111 | 111111 10(0000) -> Y W L / / g, padded "==" */
    ck_assert_str_eq(json_string_value(json_object_get(q, "raw_base64")), "YWL//g==");
    ck_assert_int_eq(geti(q, "raw_bytes"), 4);
    ck_assert_str_eq(json_string_value(json_object_get(q, "error")), "invalid UTF-8 at byte 3");
    q = qrec(r, 2);
    /* the 13 bytes {"id":"n NUL ul"}: base64 of them, NUL kept */
    ck_assert_str_eq(json_string_value(json_object_get(q, "raw_base64")), "eyJpZCI6Im4AdWwifQ==");
    ck_assert_int_eq(geti(q, "raw_bytes"), 13);
    ck_assert_str_eq(json_string_value(json_object_get(q, "error")), "NUL byte at byte 9");
    ck_assert_ptr_null(json_object_get(q, "unreadable_record"));
    json_decref(r);

    r = api_call(&d, "{\"op\":\"quarantine_purge\"}");
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")),
                     "quarantine_purge: needs \"before\" (YYYY-MM-DD): records stored before that day (UTC) are "
                     "deleted");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"quarantine_purge\",\"before\":\"2000-01-01\"}"); /* all are newer */
    ck_assert_int_eq(geti(r, "purged"), 0);
    ck_assert_int_eq(geti(r, "remaining"), 3);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"quarantine_purge\",\"before\":\"2200-01-01\"}");
    ck_assert_int_eq(geti(r, "purged"), 3);
    ck_assert_int_eq(geti(r, "remaining"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(r, "before")), "2200-01-01");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "quarantined"), 0);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

START_TEST(status_quarantine_and_ops)
{
    daemon_t d;
    daemon_init(&d, NULL);
    json_t *r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), 0);
    ck_assert_int_eq(geti(r, "quarantined"), 0);
    ck_assert_int_eq(geti(r, "last_seq"), 0);
    json_decref(r);
    r = ingest_batch(&d, "bad-a\nbad-b\nbad-c\n");
    ck_assert_int_eq(geti(r, "rejected"), 3);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"quarantine\",\"limit\":2}");
    json_t *recs = json_object_get(r, "records");
    ck_assert_int_eq((int)json_array_size(recs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 0), "raw")), "bad-c");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recs, 1), "raw")), "bad-b");
    ck_assert(json_is_integer(json_object_get(json_array_get(recs, 0), "at")));
    json_decref(r);
    r = api_call(&d, "{\"op\":\"quarantine\"}");
    ck_assert_int_eq((int)json_array_size(json_object_get(r, "records")), 3);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"frobnicate\"}");
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")), "unknown op \"frobnicate\"");
    json_decref(r);
    r = api_call(&d, "{\"op\":\"verify\"}"); /* no contracts, nothing issued */
    ck_assert_int_eq(geti(r, "checked"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "differences")), 0);
    json_decref(r);
    r = api_call(&d, "{\"op\":\"statement\",\"contract\":\"none\",\"quarter\":\"2020-04-01\"}");
    ck_assert_str_eq(json_string_value(json_object_get(r, "error")), "statement none 2020-04-01 is not issued");
    json_decref(r);
    r = api_call(&d, "{\"op\":");
    ck_assert(strncmp(json_string_value(json_object_get(r, "error")), "request is not a JSON object: ", 30) == 0);
    json_decref(r);
    r = api_call(&d, "[1]");
    ck_assert(strncmp(json_string_value(json_object_get(r, "error")), "request is not a JSON object", 28) == 0);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

/* Expects an {"error":…} reply containing needle. */
static void expect_error(char *text, const char *needle)
{
    json_t *r = parse_reply(text);
    const char *e = json_string_value(json_object_get(r, "error"));
    ck_assert_msg(e && strstr(e, needle), "expected an error with \"%s\"", needle);
    json_decref(r);
}

static void expect_alive(daemon_t *d)
{
    json_t *r = api_call(d, "{\"op\":\"status\"}");
    ck_assert(json_is_integer(json_object_get(r, "events")));
    json_decref(r);
}

START_TEST(bad_transport)
{
    daemon_t d;
    daemon_init(&d, "max_frame_bytes: 1048576\n");
    expect_error(request(d.ctx, d.ingest, "", 0, 5000), "empty batch");
    expect_alive(&d);
    { /* DEALER that forgets the delimiter */
        const void *f[1] = {"{\"id\":\"x\"}"};
        size_t l[1] = {10};
        expect_error(request_frames(d.ctx, d.ingest, f, l, 1, 5000), "delimiter");
    }
    { /* extra frames */
        const void *f[3] = {"", "a\n", "b\n"};
        size_t l[3] = {0, 2, 2};
        expect_error(request_frames(d.ctx, d.ingest, f, l, 3, 5000), "frames");
    }
    json_t *r = ingest_batch(&d, "\xff\xfe{\"id\":\"u\"}\n");
    ck_assert_int_eq(geti(r, "rejected"), 1);
    ck_assert(strstr(error_for_line(r, 1), "UTF-8") != NULL);
    json_decref(r);
    r = ingest_batch(&d, "[{\"id\":\"a\"},{\"id\":\"b\"}]");
    ck_assert_int_eq(geti(r, "rejected"), 1);
    ck_assert_int_eq(geti(r, "accepted"), 0);
    json_decref(r);
    r = ingest_batch(&d, "this is\nnot json\n");
    ck_assert_int_eq(geti(r, "rejected"), 2);
    json_decref(r);
    expect_alive(&d);

    /* one frame over the configured 1 MiB: libzmq drops it (no reply) or we answer an error */
    size_t big = 1048576 + 1;
    char *blob = malloc(big);
    ck_assert_ptr_nonnull(blob);
    memset(blob, 'a', big);
    char *reply = request(d.ctx, d.ingest, blob, big, 1500);
    if (reply)
        expect_error(reply, "max_frame_bytes");
    free(blob);
    expect_alive(&d);
    r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), 0);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

START_TEST(huge_frame_default_limit)
{
    daemon_t d;
    daemon_init(&d, NULL);
    size_t big = 50u << 20;
    char *blob = malloc(big);
    ck_assert_ptr_nonnull(blob);
    memset(blob, '{', big);
    char *reply = request(d.ctx, d.ingest, blob, big, 2000);
    if (reply)
        expect_error(reply, "max_frame_bytes");
    free(blob);
    expect_alive(&d);
    char buf[1024] = "";
    add_release(buf, sizeof buf, "after", "X");
    json_t *r = ingest_batch(&d, buf);
    ck_assert_int_eq(geti(r, "accepted"), 1);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

/* ---- durability under SIGKILL ---------------------------------------------- */

#define DUR_BATCH 50
#define DUR_MAX_IDS 400000

typedef struct dur_client {
    daemon_t *d;
    uint64_t next_id;       /* first id of the next batch */
    uint8_t *acked;         /* acked[i] = 1 when id d-i was acknowledged */
    volatile uint64_t acks; /* acknowledged batches in this round */
    volatile int stop;
} dur_client;

/* Sends numbered batches with up to 4 in flight until the daemon stops
 * answering (killed) or stop is set; records every acknowledged id. */
static void *dur_client_main(void *arg)
{
    dur_client *c = arg;
    void *s = harness_dealer(c->d->ctx, c->d->ingest);
    uint64_t first[4];
    int head = 0, inflight = 0;
    static char buf[DUR_BATCH * 300];
    while (!c->stop) {
        while (inflight < 4 && c->next_id + DUR_BATCH < DUR_MAX_IDS) {
            buf[0] = '\0';
            char id[32];
            for (int i = 0; i < DUR_BATCH; i++) {
                snprintf(id, sizeof id, "d-%llu", (unsigned long long)(c->next_id + (uint64_t)i));
                add_release(buf, sizeof buf, id, "X");
            }
            send_body(s, buf, strlen(buf));
            first[(head + inflight) % 4] = c->next_id;
            inflight++;
            c->next_id += DUR_BATCH;
        }
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 1000) != 1)
            break; /* daemon gone */
        json_t *r = recv_json(s, 0);
        if (r &&
            json_integer_value(json_object_get(r, "accepted")) + json_integer_value(json_object_get(r, "duplicates")) ==
                DUR_BATCH)
            for (int i = 0; i < DUR_BATCH; i++)
                c->acked[first[head] + (uint64_t)i] = 1;
        json_decref(r);
        head = (head + 1) % 4;
        inflight--;
        c->acks++;
    }
    zmq_close(s);
    return NULL;
}

/* Counts each id of the log in ctx (an array of DUR_MAX_IDS counters). */
static int count_ids(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    uint8_t *counts = ctx;
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    ck_assert_ptr_nonnull(id);
    ck_assert(strncmp(id, "d-", 2) == 0);
    unsigned long long k = strtoull(id + 2, NULL, 10);
    ck_assert(k < DUR_MAX_IDS);
    counts[k]++;
    json_decref(j);
    return 0;
}

START_TEST(durability_sigkill)
{
    daemon_t d;
    daemon_init(&d, NULL);
    dur_client c;
    memset(&c, 0, sizeof c);
    c.d = &d;
    c.acked = calloc(DUR_MAX_IDS, 1);
    ck_assert_ptr_nonnull(c.acked);
    const uint64_t kill_after[] = {1, 5, 20, 0 /* 0: mid-stream, after 150 ms */};
    for (size_t round = 0; round < 4; round++) {
        if (round > 0)
            daemon_start(&d); /* restart on the same data dir: must open cleanly */
        c.acks = 0;
        c.stop = 0;
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, dur_client_main, &c), 0);
        if (kill_after[round]) {
            for (int i = 0; i < 2000 && c.acks < kill_after[round]; i++)
                usleep(1000);
            ck_assert_uint_ge(c.acks, kill_after[round]);
        } else {
            usleep(150000);
        }
        kill(d.pid, SIGKILL);
        int st;
        waitpid(d.pid, &st, 0);
        d.pid = 0;
        c.stop = 1;
        pthread_join(t, NULL);
    }
    daemon_start(&d);
    expect_alive(&d);
    int st = daemon_signal_wait(&d, SIGTERM);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    pbr_store *store = NULL;
    char err[512];
    ck_assert_msg(pbr_store_open(d.dir, &store, err, sizeof err) == 0, "store open: %s", err);
    uint8_t *counts = calloc(DUR_MAX_IDS, 1);
    ck_assert_int_eq(pbr_store_foreach_event(store, 1, UINT64_MAX, count_ids, counts, err, sizeof err), 0);
    uint64_t acked = 0;
    for (uint64_t i = 0; i < DUR_MAX_IDS; i++) {
        ck_assert_msg(counts[i] <= 1, "id d-%llu stored %d times", (unsigned long long)i, counts[i]);
        if (c.acked[i]) {
            acked++;
            ck_assert_msg(counts[i] == 1, "acknowledged id d-%llu is missing", (unsigned long long)i);
        }
    }
    ck_assert_uint_ge(acked, (1 + 5 + 20) * DUR_BATCH);
    pbr_store_close(&store);
    free(counts);
    free(c.acked);
    zmq_ctx_term(d.ctx);
    remove_tree(d.dir);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------------ */

START_TEST(sigterm_drains)
{
    daemon_t d;
    daemon_init(&d, NULL);
    void *s = harness_dealer(d.ctx, d.ingest);
    static char buf[200 * 300];
    char id[32];
    const int nbatches = 20;
    for (int b = 0; b < nbatches; b++) {
        buf[0] = '\0';
        for (int i = 0; i < 200; i++) {
            snprintf(id, sizeof id, "t-%d-%d", b, i);
            add_release(buf, sizeof buf, id, "X");
        }
        send_body(s, buf, strlen(buf));
    }
    /* wait for the first ack so the connection is up, then SIGTERM */
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&it, 1, 10000), 1);
    kill(d.pid, SIGTERM);
    int acked = 0;
    for (;;) {
        json_t *r = recv_json(s, 1);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "accepted")), 200);
        json_decref(r);
        acked++;
        if (zmq_poll(&it, 1, 2000) != 1)
            break;
    }
    zmq_close(s);
    int st = daemon_signal_wait(&d, SIGTERM);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    /* everything acknowledged is stored */
    pbr_store *store = NULL;
    char err[512];
    ck_assert_int_eq(pbr_store_open(d.dir, &store, err, sizeof err), 0);
    pbr_store_stats stats;
    ck_assert_int_eq(pbr_store_get_stats(store, &stats, err, sizeof err), 0);
    ck_assert_uint_ge(stats.events, (uint64_t)acked * 200);
    ck_assert_uint_eq(stats.events % 200, 0); /* whole batches only */
    pbr_store_close(&store);
    zmq_ctx_term(d.ctx);
    remove_tree(d.dir);
}
END_TEST

/* Many batches sent back to back on one DEALER, so that the daemon validates
 * some while it commits others and stores several per group: every batch
 * is answered, in sending order, with its own counts; rules that look at
 * the store (duplicates, conflicts, void targets) see events of earlier
 * batches whichever group they landed in; a bad envelope among them is
 * answered with an error in its place and stores nothing. */
START_TEST(pipelined_batches_in_order)
{
    daemon_t d;
    daemon_init(&d, NULL);
    void *s = harness_dealer(d.ctx, d.ingest);
    enum { NB = 60, PER = 40 };
    static char buf[PER * 400 + 4096];
    char id[32], prev[32], line[512];
    json_int_t want_acc[NB], want_dup[NB], want_rej[NB];
    int bad_envelope[NB];
    json_int_t total = 0;
    for (int b = 0; b < NB; b++) {
        buf[0] = '\0';
        want_acc[b] = want_dup[b] = want_rej[b] = 0;
        bad_envelope[b] = b % 13 == 7;
        if (bad_envelope[b]) {
            send_body(s, "", 0); /* empty batch */
            continue;
        }
        for (int i = 0; i < PER; i++) {
            snprintf(id, sizeof id, "p-%d-%d", b, i);
            add_release(buf, sizeof buf, id, "X");
            want_acc[b]++;
        }
        int pb = b - 1;
        while (pb >= 0 && bad_envelope[pb])
            pb--;
        if (pb >= 0) {
            snprintf(prev, sizeof prev, "p-%d-0", pb);
            add_release(buf, sizeof buf, prev, "X"); /* same content: duplicate */
            want_dup[b]++;
            snprintf(prev, sizeof prev, "p-%d-1", pb);
            add_release(buf, sizeof buf, prev, "Y"); /* same id, other area: rejected */
            want_rej[b]++;
            snprintf(id, sizeof id, "v-%d", b);
            snprintf(prev, sizeof prev, "p-%d-2", pb);
            add_void(buf, sizeof buf, id, prev); /* target in an earlier batch: accepted */
            want_acc[b]++;
        }
        snprintf(line, sizeof line, "{\"id\":\"bad-%d\",\"type\":\"release\"}\n", b); /* rejected */
        strcat(buf, line);
        want_rej[b]++;
        snprintf(id, sizeof id, "v2-%d", b);
        add_void(buf, sizeof buf, id, "p-nowhere"); /* no such target: rejected */
        want_rej[b]++;
        total += want_acc[b];
        send_body(s, buf, strlen(buf));
    }
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    json_int_t last_seq = 0;
    for (int b = 0; b < NB; b++) {
        ck_assert_int_eq(zmq_poll(&it, 1, 20000), 1);
        json_t *r = recv_json(s, 1);
        ck_assert_ptr_nonnull(r);
        if (bad_envelope[b]) {
            ck_assert_msg(json_is_string(json_object_get(r, "error")), "batch %d: expected an error reply", b);
        } else {
            ck_assert_msg(geti(r, "accepted") == want_acc[b] && geti(r, "duplicates") == want_dup[b] &&
                              geti(r, "rejected") == want_rej[b],
                          "batch %d: accepted %lld duplicates %lld rejected %lld", b, (long long)geti(r, "accepted"),
                          (long long)geti(r, "duplicates"), (long long)geti(r, "rejected"));
            ck_assert_int_eq((json_int_t)json_array_size(json_object_get(r, "errors")), want_rej[b]);
            ck_assert_int_ge(geti(r, "last_seq"), last_seq); /* answered in commit order */
            last_seq = geti(r, "last_seq");
        }
        json_decref(r);
    }
    zmq_close(s);
    ck_assert_int_eq(last_seq, total);
    json_t *r = api_call(&d, "{\"op\":\"status\"}");
    ck_assert_int_eq(geti(r, "events"), total);
    json_decref(r);
    daemon_finish(&d);
}
END_TEST

/* ---- configuration ---------------------------------------------------------------- */

/* Runs pbrd with args and returns its exit status; its stderr goes to errfile. */
static int run_pbrd(char *const extra[], const char *errfile)
{
    pid_t pid = spawn_pbrd(extra, errfile, 0);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_contains(const char *path, const char *needle)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

START_TEST(config_errors)
{
    char dir[] = "/tmp/pbrd-cfg-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cfg[300], errf[300];
    snprintf(cfg, sizeof cfg, "%s/pbrd.yaml", dir);
    snprintf(errf, sizeof errf, "%s/err", dir);
    harness_write_text(cfg, "data_dir: /tmp/x\nauth:\n  colour: blue\n");
    char *a1[] = {"-c", cfg, "--foreground", NULL};
    ck_assert_int_eq(run_pbrd(a1, errf), 2);
    char want[400];
    snprintf(want, sizeof want, "%s:3:3: unknown key \"auth.colour\"", cfg);
    ck_assert_msg(file_contains(errf, want), "expected \"%s\"", want);

    harness_write_text(cfg, "max_frame_bytes: lots\n");
    ck_assert_int_eq(run_pbrd(a1, errf), 2);
    snprintf(want, sizeof want, "%s:1:18:", cfg);
    ck_assert_msg(file_contains(errf, want), "expected \"%s\"", want);

    /* no auth: a non-loopback endpoint is refused */
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    char *a2[] = {"--foreground", "--data", data, "--ingest", "tcp://0.0.0.0:7301", NULL};
    ck_assert_int_eq(run_pbrd(a2, errf), 2);
    ck_assert(file_contains(errf, "non-loopback"));
    remove_tree(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("daemon");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, batch_counts);
    tcase_add_test(tc, idempotent_resend);
    tcase_add_test(tc, mixed_batch_keeps_good_lines);
    tcase_add_test(tc, void_target_rules);
    tcase_add_test(tc, status_quarantine_and_ops);
    tcase_add_test(tc, quarantine_keeps_raw_bytes_and_reasons);
    tcase_add_test(tc, bad_transport);
    tcase_add_test(tc, huge_frame_default_limit);
    tcase_add_test(tc, durability_sigkill);
    tcase_add_test(tc, sigterm_drains);
    tcase_add_test(tc, pipelined_batches_in_order);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

PBR_CHECK_MAIN(make_suite)

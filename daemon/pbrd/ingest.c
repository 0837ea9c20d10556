/* ingest.c -- owns the ingest service's two threads and everything they
 * share: the socket thread (reads batches off the ROUTER socket, splits and
 * validates their lines and writes the canonical encodings, then sends the
 * replies) and the commit thread (stores the prepared batches of a group in
 * one write transaction, commits it durably, hands the group back). The two
 * meet in two queues under one mutex: `todo` (prepared, not yet stored) and
 * `done` (committed or failed, reply not yet sent); an eventfd wakes the
 * socket thread when `done` gets a group. A group is a burst: the commit
 * thread begins its transaction with the first batch handed over and keeps
 * adding the batches handed over while the socket thread is still reading
 * requests that arrived together, then commits once. So validating overlaps
 * storing, requests that arrive during a commit's fsync are validated
 * meanwhile and form the next group, and a reply never waits for more than
 * the commit that stored its batch. Only the socket thread touches the
 * ZeroMQ socket; only the commit thread touches the store. */
#include "pbrd/ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "pbr/event.h"
#include "pbr/utf8.h"
#include "pbr/err.h"
#include "pbrd/auth.h"
#include "pbrd/log.h"

/* Per-connection queues in libzmq: a client that sends faster than batches
 * are stored meets TCP back-pressure after INGEST_RCVHWM messages; replies
 * to a client that does not read them are dropped (for that client only;
 * its events are stored, a re-send reports them as duplicates) after
 * INGEST_SNDHWM messages, so such a client cannot grow pbrd's memory. */
#define INGEST_RCVHWM 1000
#define INGEST_SNDHWM 10000
#define READ_BURST 16       /* requests read (and prepared) per socket wake-up */
#define CANON_HEADROOM 1024 /* free arena bytes ensured before encoding an event */
/* The socket thread stops reading new requests while this much is prepared
 * but not yet answered (libzmq keeps the rest queued): bounds the memory of
 * a client that sends faster than the disk commits. */
#define BACKLOG_BATCHES (4 * PBRD_INGEST_GROUP_BATCHES)
#define BACKLOG_BYTES (2 * (uint64_t)PBRD_INGEST_GROUP_BYTES)

/* One non-blank line of a batch, prepared by the socket thread. */
typedef struct line_item {
    uint64_t lineno;
    const char *line; /* inside the batch's body frame, without "\r\n" */
    size_t len;
    int ok; /* 1: ev and its canonical bytes; 0: rejected */
    pbr_event ev;
    size_t canon_off; /* ok: offset of the canonical bytes in batch.canon */
    size_t canon_len;
    char *reason; /* !ok: malloc'd rejection reason */
    json_t *id;   /* !ok: the line's id (string) or json null; owned */
} line_item;

/* One request. Allocated and prepared by the socket thread, results filled
 * by the commit thread, answered and freed by the socket thread. */
typedef struct batch {
    struct batch *next; /* queue link */
    zmq_msg_t ident;
    zmq_msg_t body;
    int has_body;
    char transport_error[192]; /* non-empty: answer this instead of processing */
    line_item *items;
    size_t nitems, items_cap;
    char *canon; /* canonical encodings of the ok items */
    size_t canon_len, canon_cap;
    /* results (commit thread) */
    uint64_t accepted, duplicates, rejected, last_seq;
    json_t *errors;                      /* NULL until the first rejected line */
    char commit_error[PBR_ERR_MAX + 32]; /* non-empty: the group failed */
} batch;

typedef struct bqueue {
    batch *head, *tail;
} bqueue;

struct pbrd_ingest {
    void *sock;
    int stop_fd; /* eventfd: readable when the service must stop */
    int done_fd; /* eventfd: readable when `done` has groups to answer */
    pthread_t thread, committer;
    int thread_started, committer_started, sync_ready;
    pbr_store *store;
    uint64_t max_frame_bytes;
    char *endpoint;
    pbrd_metrics *metrics; /* NULL: metrics off */
    pthread_mutex_t lock;  /* guards todo, done, finish and reading */
    pthread_cond_t wake;   /* signalled when todo grows, reading ends or finish is set */
    bqueue todo, done;
    int finish;            /* the commit thread ends once todo is empty */
    int reading;           /* the socket thread is reading a burst of requests */
    uint64_t total_groups; /* commit thread only (read after it is joined) */
    /* socket thread only */
    uint64_t inflight_batches, inflight_bytes; /* handed over, not yet answered */
    uint64_t total_batches, total_accepted, total_rejected;
};

/* Appends b to q (caller holds the lock of q). */
static void bqueue_push(bqueue *q, batch *b)
{
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

/* ---- preparing a batch (socket thread) ----------------------------------- */

/* The id of a line that failed to parse, if it is a JSON object with a
 * string "id". Returns a new json string or json_null(). */
static json_t *id_of_bad_line(const char *line, size_t len)
{
    json_t *root = json_loadb(line, len, 0, NULL);
    json_t *id = NULL;
    if (json_is_object(root)) {
        json_t *v = json_object_get(root, "id");
        if (json_is_string(v))
            id = json_string(json_string_value(v));
    }
    json_decref(root);
    return id ? id : json_null();
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Makes room for one more item in b. Returns the new (zeroed) item or NULL
 * on allocation failure. */
static line_item *new_item(batch *b)
{
    if (b->nitems == b->items_cap) {
        size_t cap = b->items_cap ? b->items_cap * 2 : 64;
        line_item *p = realloc(b->items, cap * sizeof *p);
        if (!p)
            return NULL;
        b->items = p;
        b->items_cap = cap;
    }
    line_item *it = &b->items[b->nitems++];
    memset(it, 0, sizeof *it);
    return it;
}

/* Makes sure b->canon has at least `need` free bytes. Returns 0 or -1
 * (allocation failure; b unchanged). */
static int reserve_canon(batch *b, size_t need)
{
    if (b->canon_cap - b->canon_len >= need)
        return 0;
    size_t cap = b->canon_cap ? b->canon_cap : 64u << 10;
    while (cap - b->canon_len < need)
        cap *= 2;
    char *p = realloc(b->canon, cap);
    if (!p)
        return -1;
    b->canon = p;
    b->canon_cap = cap;
    return 0;
}

/* Appends the canonical encoding of ev to b->canon. Returns 0 with its
 * offset and length, or -1 on allocation failure. */
static int encode_canonical(batch *b, const pbr_event *ev, size_t *off, size_t *len)
{
    if (reserve_canon(b, CANON_HEADROOM) != 0)
        return -1;
    size_t room = b->canon_cap - b->canon_len;
    size_t n = pbr_event_canonical_to(ev, b->canon + b->canon_len, room);
    if (n >= room) { /* longer than the headroom: grow to its size, write again */
        if (reserve_canon(b, n + 1) != 0)
            return -1;
        room = b->canon_cap - b->canon_len;
        if (pbr_event_canonical_to(ev, b->canon + b->canon_len, room) != n)
            return -1;
    }
    *off = b->canon_len;
    *len = n;
    b->canon_len += n + 1; /* keep the NUL */
    return 0;
}

/* Validates one line into a new item of b (the store-dependent rules, void
 * targets and duplicates, are the commit thread's). Returns 0, or -1 on
 * allocation failure. */
static int prepare_line(batch *b, uint64_t lineno, const char *line, size_t len)
{
    char reason[PBR_ERR_MAX];
    line_item *it = new_item(b);
    if (!it)
        return -1;
    it->lineno = lineno;
    it->line = line;
    it->len = len;
    if (pbr_utf8_text_problem(line, len, reason, sizeof reason)) {
        it->id = json_null();
    } else if (pbr_event_parse(line, len, &it->ev, reason, sizeof reason) != 0) {
        it->id = id_of_bad_line(line, len);
    } else {
        it->ok = 1;
        return encode_canonical(b, &it->ev, &it->canon_off, &it->canon_len);
    }
    it->reason = strdup(reason);
    return it->reason ? 0 : -1;
}

/* Frees the prepared items of b (not the frames). */
static void free_items(batch *b)
{
    for (size_t i = 0; i < b->nitems; i++) {
        line_item *it = &b->items[i];
        if (it->ok)
            pbr_event_clear(&it->ev);
        free(it->reason);
        json_decref(it->id);
    }
    free(b->items);
    free(b->canon);
    b->items = NULL;
    b->canon = NULL;
    b->nitems = b->items_cap = b->canon_len = b->canon_cap = 0;
}

/* Splits the body of b into lines and prepares each. On allocation failure
 * the batch is answered with an error instead (nothing of it is stored). */
static void prepare_batch(batch *b)
{
    const char *p = zmq_msg_data(&b->body);
    size_t left = zmq_msg_size(&b->body);
    uint64_t lineno = 0;
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        size_t len = nl ? (size_t)(nl - p) : left;
        lineno++;
        if (!is_blank(p, len)) {
            size_t l = len;
            if (l > 0 && p[l - 1] == '\r')
                l--;
            if (prepare_line(b, lineno, p, l) != 0) {
                free_items(b);
                snprintf(b->transport_error, sizeof b->transport_error,
                         "out of memory while validating the batch (nothing of it was stored)");
                return;
            }
        }
        if (!nl)
            break;
        left -= len + 1;
        p = nl + 1;
    }
}

/* ---- storing a group (commit thread) ------------------------------------- */

typedef struct group_ctx {
    pbr_store_txn *txn;
    int64_t now;
    char err[PBR_ERR_MAX]; /* store error when a call failed */
} group_ctx;

/* Records a rejected line: quarantine (raw bytes, reason, time) and the reply's
 * error list. Takes the reference id. Returns 0, PBR_STORE_RETRY or -1
 * (store error or out of memory, in g->err). */
static int reject_line(group_ctx *g, batch *b, const line_item *it, json_t *id, const char *reason)
{
    /* the bytes exactly as given: the store keeps them raw */
    int rc = pbr_store_put_quarantine(g->txn, it->line, it->len, reason, g->now, g->err, sizeof g->err);
    if (rc != 0) {
        json_decref(id);
        return rc;
    }
    char msg[PBR_ERR_MAX + 32];
    snprintf(msg, sizeof msg, "line %" PRIu64 ": %s", it->lineno, reason);
    if (!b->errors && !(b->errors = json_array())) {
        json_decref(id);
        return pbr_errf(g->err, sizeof g->err, "json_array: out of memory");
    }
    json_t *e = json_pack("{sI so ss}", "line", (json_int_t)it->lineno, "id", id, "error", msg);
    if (!e || json_array_append_new(b->errors, e) < 0)
        return pbr_errf(g->err, sizeof g->err, "json_pack: out of memory");
    b->rejected++;
    return 0;
}

/* Checks the void rules for ev: the target exists (stored or earlier in
 * this transaction) and is not a void. Returns 0 and reason[0]=0 when fine,
 * 0 with a reason when the event must be rejected, or -1 on a store error. */
static int check_void_target(group_ctx *g, const pbr_event *ev, char *reason, size_t n)
{
    reason[0] = '\0';
    if (ev->type != PBR_EV_VOID)
        return 0;
    pbr_event_type t;
    int rc = pbr_store_txn_find_id(g->txn, ev->target, &t, g->err, sizeof g->err);
    if (rc == PBR_STORE_NOTFOUND)
        snprintf(reason, n, "void \"%s\": target \"%s\" is not a stored event", ev->id, ev->target);
    else if (rc == PBR_STORE_OK && t == PBR_EV_VOID)
        snprintf(reason, n, "void \"%s\": target \"%s\" is a void (a void cannot be voided)", ev->id, ev->target);
    else if (rc != PBR_STORE_OK)
        return -1;
    return 0;
}

/* Stores one prepared line (or quarantines it). Returns 0, PBR_STORE_RETRY
 * or -1. */
static int store_item(group_ctx *g, batch *b, const line_item *it)
{
    char reason[PBR_ERR_MAX];
    if (!it->ok)
        return reject_line(g, b, it, json_incref(it->id), it->reason);
    const pbr_event *ev = &it->ev;
    if (check_void_target(g, ev, reason, sizeof reason) < 0)
        return -1;
    if (reason[0])
        return reject_line(g, b, it, json_string(ev->id), reason);
    uint64_t seq = 0;
    int rc = pbr_store_put_event(g->txn, ev, b->canon + it->canon_off, it->canon_len, &seq, g->err, sizeof g->err);
    if (rc == PBR_STORE_ADDED) {
        b->accepted++;
    } else if (rc == PBR_STORE_DUPLICATE) {
        b->duplicates++;
        rc = 0;
    } else if (rc == PBR_STORE_CONFLICT) {
        snprintf(reason, sizeof reason, "event \"%s\": id exists with different content", ev->id);
        rc = reject_line(g, b, it, json_string(ev->id), reason);
    }
    return rc;
}

/* Clears b's results before (re)storing it. */
static void reset_results(batch *b)
{
    b->accepted = b->duplicates = b->rejected = b->last_seq = 0;
    b->commit_error[0] = '\0';
    if (b->errors)
        json_array_clear(b->errors);
}

typedef struct group_work {
    group_ctx *g;
    batch *group;
} group_work;

/* pbr_store_work_fn: stores every line of every batch of the group (the
 * results are reset first, since a replay starts over). */
static int store_group(pbr_store_txn *txn, void *ctx, char *err, size_t errlen)
{
    group_work *w = ctx;
    group_ctx *g = w->g;
    g->txn = txn;
    for (batch *b = w->group; b; b = b->next)
        reset_results(b);
    int rc = 0;
    for (batch *b = w->group; b && rc == 0; b = b->next)
        if (!b->transport_error[0])
            for (size_t i = 0; i < b->nitems && rc == 0; i++)
                rc = store_item(g, b, &b->items[i]);
    if (rc != 0 && rc != PBR_STORE_RETRY) {
        pbr_errf(err, errlen, "%s", g->err);
        return PBR_STORE_ERROR;
    }
    return rc;
}

/* Stores every prepared batch of the list `group` in one transaction and
 * commits it (pbr_store_write replays it when the map grows). Returns 0 or
 * -1 with err (nothing was committed). */
static int commit_group(pbrd_ingest *ing, batch *group, char *err, size_t errlen)
{
    group_ctx g;
    g.now = (int64_t)time(NULL);
    group_work w = {&g, group};
    return pbr_store_write(ing->store, store_group, &w, err, errlen) == 0 ? 0 : -1;
}

/* Body bytes of b (0 when it has none). */
static uint64_t batch_bytes(const batch *b)
{
    return b->has_body ? zmq_msg_size(&b->body) : 0;
}

/* Fills in every batch's results after the group committed (last_seq) or
 * failed (commit_error: then none of it is stored). */
static void finish_group(pbrd_ingest *ing, batch *group, int failed, const char *err)
{
    size_t work = 0;
    for (batch *b = group; b; b = b->next)
        if (!b->transport_error[0])
            work++;
    if (failed) {
        char q[PBR_ERR_MAX];
        pbrd_log(PBRD_LOG_ERROR, "ingest commit failed", "batches=%zu error=\"%s\"", work,
                 pbrd_log_quote(err, q, sizeof q));
        for (batch *b = group; b; b = b->next) {
            reset_results(b);
            snprintf(b->commit_error, sizeof b->commit_error, "store commit failed: %s", err);
        }
        return;
    }
    if (work == 0)
        return;
    pbr_store_stats stats;
    char serr[PBR_ERR_MAX];
    uint64_t last_seq = 0;
    if (pbr_store_get_stats(ing->store, &stats, serr, sizeof serr) == 0)
        last_seq = stats.last_seq;
    else
        pbrd_log(PBRD_LOG_WARN, "reading last_seq failed", "call=pbr_store_get_stats error=\"%s\"", serr);
    for (batch *b = group; b; b = b->next)
        b->last_seq = last_seq;
}

/* Takes the batches queued in todo, up to the group bounds given what the
 * group already has (*n batches, *bytes). Caller holds lock. Returns the
 * list (NULL if todo is empty or the group is full) and its last batch. */
static batch *take_todo(pbrd_ingest *ing, size_t *n, uint64_t *bytes, batch **last)
{
    batch *first = ing->todo.head, *b = NULL;
    while (ing->todo.head && *n < PBRD_INGEST_GROUP_BATCHES && *bytes < PBRD_INGEST_GROUP_BYTES) {
        b = ing->todo.head;
        ing->todo.head = b->next;
        (*n)++;
        *bytes += batch_bytes(b);
    }
    if (!b)
        return NULL;
    if (!ing->todo.head)
        ing->todo.tail = NULL;
    b->next = NULL;
    *last = b;
    return first;
}

/* Builds and stores one group, streaming: the transaction begins with the
 * first batch handed over, and every batch the socket thread hands over
 * while it is still reading the same burst of requests goes into it too
 * (so storing overlaps validating, and the burst costs one commit, one
 * fsync pair). Map-full replays run over the whole group afterwards. Called
 * without lock, todo non-empty. Returns the group (a list) and *last. */
static batch *stream_group(pbrd_ingest *ing, batch **last)
{
    batch *group = NULL, *tail = NULL;
    size_t n = 0;
    uint64_t bytes = 0;
    group_ctx g;
    g.now = (int64_t)time(NULL);
    char err[PBR_ERR_MAX] = "";
    int rc = pbr_store_begin(ing->store, &g.txn, g.err, sizeof g.err);
    int began = rc == 0;
    if (!began)
        snprintf(err, sizeof err, "%s", g.err);
    for (;;) {
        pthread_mutex_lock(&ing->lock);
        while (!ing->todo.head && ing->reading)
            pthread_cond_wait(&ing->wake, &ing->lock);
        batch *blast = NULL, *more = take_todo(ing, &n, &bytes, &blast);
        pthread_mutex_unlock(&ing->lock);
        if (!more)
            break;
        if (tail)
            tail->next = more;
        else
            group = more;
        tail = blast;
        for (batch *b = more; b && rc == 0; b = b->next) {
            reset_results(b);
            if (!b->transport_error[0])
                for (size_t i = 0; i < b->nitems && rc == 0; i++)
                    rc = store_item(&g, b, &b->items[i]);
        }
        if (rc != 0) /* failed or map full: the rest of the burst waits for the next group */
            break;
    }
    *last = tail;
    int failed = 0;
    uint64_t commit_start = pbrd_metrics_now_ns();
    if (began && rc == 0)
        rc = pbr_store_commit(g.txn, g.err, sizeof g.err);
    else if (began)
        pbr_store_abort(g.txn);
    if (rc == PBR_STORE_RETRY) /* the map has been grown: replay the whole group */
        failed = commit_group(ing, group, err, sizeof err) != 0;
    else if (rc != 0) {
        failed = 1;
        if (began)
            snprintf(err, sizeof err, "%s", g.err);
    }
    if (!failed)
        pbrd_metrics_commit_latency(ing->metrics, pbrd_metrics_now_ns() - commit_start);
    finish_group(ing, group, failed, err);
    return group;
}

/* The commit thread: waits for a handed-over batch, stores a group
 * starting with it (stream_group), moves the group to done and wakes the
 * socket thread; ends when finish is set and todo is empty. */
static void *commit_main(void *arg)
{
    pbrd_ingest *ing = arg;
    pthread_setname_np(pthread_self(), "pbrd-commit"); /* best effort: for top/perf */
    pthread_mutex_lock(&ing->lock);
    for (;;) {
        while (!ing->finish && !ing->todo.head)
            pthread_cond_wait(&ing->wake, &ing->lock);
        if (!ing->todo.head)
            break;
        pthread_mutex_unlock(&ing->lock);

        batch *last = NULL, *group = stream_group(ing, &last);
        ing->total_groups++;

        pthread_mutex_lock(&ing->lock);
        if (ing->done.tail)
            ing->done.tail->next = group;
        else
            ing->done.head = group;
        ing->done.tail = last;
        uint64_t one = 1;
        if (write(ing->done_fd, &one, sizeof one) != (ssize_t)sizeof one)
            pbrd_log(PBRD_LOG_ERROR, "ingest wake-up failed", "call=write error=\"%s\"", strerror(errno));
    }
    pthread_mutex_unlock(&ing->lock);
    return NULL;
}

/* ---- replies (socket thread) --------------------------------------------- */

/* Sends [ident][empty][text] to the batch's client. A client that has gone
 * simply misses its reply (ROUTER drops unroutable messages). */
static void send_reply(pbrd_ingest *ing, batch *b, const char *text)
{
    if (zmq_send(ing->sock, zmq_msg_data(&b->ident), zmq_msg_size(&b->ident), ZMQ_SNDMORE) < 0 ||
        zmq_send(ing->sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(ing->sock, text, strlen(text), 0) < 0)
        pbrd_log(PBRD_LOG_WARN, "ingest reply not sent", "call=zmq_send error=\"%s\"", zmq_strerror(errno));
}

/* Sends {"error":msg}. */
static void send_error(pbrd_ingest *ing, batch *b, const char *msg)
{
    json_t *o = json_pack("{ss}", "error", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    send_reply(ing, b, text ? text : "{\"error\":\"out of memory\"}");
    free(text);
    json_decref(o);
}

/* Sends the counts reply of a committed batch. The counters move first, so
 * a client that scrapes the metrics after its reply sees its batch. */
static void send_counts(pbrd_ingest *ing, batch *b)
{
    ing->total_batches++;
    ing->total_accepted += b->accepted;
    ing->total_rejected += b->rejected;
    pbrd_metrics_ingest_batch(ing->metrics, b->accepted, b->duplicates, b->rejected);
    json_t *errors = b->errors ? json_incref(b->errors) : json_array();
    json_t *o = errors
        ? json_pack("{sI sI sI so sI}", "accepted", (json_int_t)b->accepted, "duplicates", (json_int_t)b->duplicates,
                    "rejected", (json_int_t)b->rejected, "errors", errors, "last_seq", (json_int_t)b->last_seq)
        : NULL;
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        send_reply(ing, b, text);
    else
        send_error(ing, b, "building the reply failed: out of memory");
    free(text);
    json_decref(o);
}

/* Frees b: frames, prepared items, results. Safe on NULL. */
static void free_batch(batch *b)
{
    if (!b)
        return;
    zmq_msg_close(&b->ident);
    if (b->has_body)
        zmq_msg_close(&b->body);
    free_items(b);
    json_decref(b->errors);
    free(b);
}

/* Answers and frees every batch the commit thread has finished. With
 * only_if_signalled, returns at once unless done_fd says there is some.
 * Returns the number answered. */
static size_t answer_done(pbrd_ingest *ing, int only_if_signalled)
{
    uint64_t count;
    if (read(ing->done_fd, &count, sizeof count) < 0) {
        if (errno != EAGAIN)
            pbrd_log(PBRD_LOG_WARN, "ingest wake-up read failed", "call=read error=\"%s\"", strerror(errno));
        else if (only_if_signalled)
            return 0;
    }
    pthread_mutex_lock(&ing->lock);
    batch *b = ing->done.head;
    ing->done.head = ing->done.tail = NULL;
    pthread_mutex_unlock(&ing->lock);
    size_t n = 0;
    while (b) {
        batch *next = b->next;
        if (b->transport_error[0])
            send_error(ing, b, b->transport_error);
        else if (b->commit_error[0])
            send_error(ing, b, b->commit_error);
        else
            send_counts(ing, b);
        ing->inflight_batches--;
        ing->inflight_bytes -= batch_bytes(b);
        free_batch(b);
        b = next;
        n++;
    }
    return n;
}

/* ---- requests (socket thread) -------------------------------------------- */

/* Receives one request into a new batch, closing frames it does not keep.
 * Returns 1 with *out (caller owns it), 0 when none is waiting, -1 on a
 * socket error or allocation failure. */
static int read_request(pbrd_ingest *ing, batch **out)
{
    zmq_msg_t part;
    int more = 0;
    batch *b = calloc(1, sizeof *b);
    *out = NULL;
    if (!b)
        return -1;
    zmq_msg_init(&b->ident);
    if (zmq_msg_recv(&b->ident, ing->sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&b->ident);
        free(b);
        return e == EAGAIN ? 0 : -1;
    }
    more = zmq_msg_more(&b->ident);
    size_t nframes = 0;
    int delimiter_ok = 0;
    uint64_t biggest = 0;
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, ing->sock, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        nframes++;
        if (zmq_msg_size(&part) > biggest)
            biggest = zmq_msg_size(&part);
        if (nframes == 1 && zmq_msg_size(&part) == 0) {
            delimiter_ok = 1;
            zmq_msg_close(&part);
        } else if (nframes == 2 && delimiter_ok) {
            b->body = part; /* ownership moves to the batch */
            b->has_body = 1;
        } else {
            zmq_msg_close(&part);
        }
    }
    if (biggest > ing->max_frame_bytes)
        snprintf(b->transport_error, sizeof b->transport_error,
                 "frame of %" PRIu64 " bytes exceeds max_frame_bytes %" PRIu64, biggest, ing->max_frame_bytes);
    else if (!delimiter_ok)
        snprintf(b->transport_error, sizeof b->transport_error,
                 "missing empty delimiter frame: send [empty][body] (REQ does this; DEALER must send the empty "
                 "frame first)");
    else if (!b->has_body)
        snprintf(b->transport_error, sizeof b->transport_error, "missing body frame after the empty delimiter");
    else if (nframes > 2)
        snprintf(b->transport_error, sizeof b->transport_error,
                 "%zu frames after the delimiter: a batch is exactly one body frame", nframes - 1);
    else if (zmq_msg_size(&b->body) == 0 ||
             is_blank(zmq_msg_data(&b->body), zmq_msg_size(&b->body)) /* only whitespace, no lines */)
        snprintf(b->transport_error, sizeof b->transport_error, "empty batch");
    *out = b;
    return 1;
}

/* Hands a prepared batch to the commit thread. */
static void hand_over(pbrd_ingest *ing, batch *b)
{
    ing->inflight_batches++;
    ing->inflight_bytes += batch_bytes(b);
    pthread_mutex_lock(&ing->lock);
    bqueue_push(&ing->todo, b);
    pthread_cond_signal(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
}

/* Reads up to `limit` waiting requests, prepares each and hands it over at
 * once (so the commit thread can start on the first while the others are
 * validated). Returns the number read, or -1 on a socket error. */
static int read_requests(pbrd_ingest *ing, int limit)
{
    int n = 0, rc = 0;
    pthread_mutex_lock(&ing->lock);
    ing->reading = 1;
    pthread_mutex_unlock(&ing->lock);
    while (n < limit) {
        batch *b = NULL;
        rc = read_request(ing, &b);
        if (rc <= 0)
            break;
        if (!b->transport_error[0])
            prepare_batch(b);
        hand_over(ing, b);
        n++;
        answer_done(ing, 1); /* a group committed meanwhile: its clients need not wait for this burst */
    }
    pthread_mutex_lock(&ing->lock);
    ing->reading = 0;
    pthread_cond_signal(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
    return rc < 0 ? -1 : n;
}

/* Whether the socket thread should stop reading requests for now. */
static int backlog_full(const pbrd_ingest *ing)
{
    return ing->inflight_batches >= BACKLOG_BATCHES || ing->inflight_bytes >= BACKLOG_BYTES;
}

/* ---- the threads ------------------------------------------------------------ */

/* Tells the commit thread to end once todo is empty, answers everything
 * still in flight and joins it. */
static void stop_committer(pbrd_ingest *ing)
{
    if (!ing->committer_started)
        return;
    pthread_mutex_lock(&ing->lock);
    ing->finish = 1;
    pthread_cond_signal(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
    while (ing->inflight_batches > 0) {
        zmq_pollitem_t it = {NULL, ing->done_fd, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, -1) < 0 && errno != EINTR)
            break;
        answer_done(ing, 0);
    }
    pthread_join(ing->committer, NULL);
    ing->committer_started = 0;
    answer_done(ing, 0);
}

/* The socket thread: waits for requests, finished groups or the stop
 * signal; on stop, stops accepting new connections, hands over what has
 * already arrived and answers everything before returning. */
static void *ingest_main(void *arg)
{
    pbrd_ingest *ing = arg;
    pthread_setname_np(pthread_self(), "pbrd-ingest"); /* best effort: for top/perf */
    zmq_pollitem_t items[3] = {
        {ing->sock, 0, ZMQ_POLLIN, 0}, {NULL, ing->stop_fd, ZMQ_POLLIN, 0}, {NULL, ing->done_fd, ZMQ_POLLIN, 0}};
    for (;;) {
        items[0].events = backlog_full(ing) ? 0 : ZMQ_POLLIN;
        items[0].revents = items[1].revents = items[2].revents = 0;
        if (zmq_poll(items, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            pbrd_log(PBRD_LOG_ERROR, "ingest poll failed", "call=zmq_poll error=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[2].revents & ZMQ_POLLIN)
            answer_done(ing, 0);
        if ((items[0].revents & ZMQ_POLLIN) && read_requests(ing, READ_BURST) < 0)
            pbrd_log(PBRD_LOG_WARN, "ingest receive failed", "call=zmq_msg_recv error=\"%s\"", zmq_strerror(errno));
    }
    /* No zmq_unbind here: unbinding a TCP endpoint also ends the
     * connections accepted through it, and the replies queued on them (the
     * acknowledgements of committed batches) would be dropped. The socket
     * stays bound until pbrd_ingest_stop closes it, after every reply has
     * been queued; ZMQ_LINGER then gives them time to leave. */
    /* finish in-flight batches: whatever libzmq has already received */
    int drained = 0;
    for (int round = 0; round < 64; round++) {
        while (backlog_full(ing))
            if (answer_done(ing, 0) == 0)
                usleep(1000);
        int n = read_requests(ing, PBRD_INGEST_GROUP_BATCHES);
        if (n <= 0)
            break;
        drained += n;
    }
    stop_committer(ing);
    pbrd_log(PBRD_LOG_INFO, "ingest stopped",
             "drained=%d batches=%" PRIu64 " groups=%" PRIu64 " accepted=%" PRIu64 " rejected=%" PRIu64, drained,
             ing->total_batches, ing->total_groups, ing->total_accepted, ing->total_rejected);
    return NULL;
}

/* Sets an int socket option; returns 0 or -1 with err. */
static int set_int_opt(void *sock, int opt, int val, const char *name, char *err, size_t errlen)
{
    if (zmq_setsockopt(sock, opt, &val, sizeof val) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(%s): %s", name, zmq_strerror(errno));
    return 0;
}

/* Frees everything of ing (socket closed with its linger). The threads
 * must have been joined (or never started). */
static void free_ingest(pbrd_ingest *ing)
{
    if (ing->sock)
        zmq_close(ing->sock);
    if (ing->sync_ready) {
        pthread_cond_destroy(&ing->wake);
        pthread_mutex_destroy(&ing->lock);
    }
    if (ing->done_fd >= 0)
        close(ing->done_fd);
    if (ing->stop_fd >= 0)
        close(ing->stop_fd);
    free(ing->endpoint);
    free(ing);
}

int pbrd_ingest_start(const pbrd_ingest_opts *opts, pbrd_ingest **out, char *err, size_t errlen)
{
    pbrd_ingest *ing = calloc(1, sizeof *ing);
    if (!ing)
        return pbr_errf(err, errlen, "calloc: out of memory");
    ing->stop_fd = ing->done_fd = -1;
    ing->store = opts->store;
    ing->max_frame_bytes = opts->max_frame_bytes;
    ing->metrics = opts->metrics;
    ing->endpoint = strdup(opts->endpoint);
    if (!ing->endpoint) {
        pbr_errf(err, errlen, "strdup: out of memory");
        goto fail;
    }
    ing->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ing->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ing->stop_fd < 0 || ing->done_fd < 0) {
        pbr_errf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (pthread_mutex_init(&ing->lock, NULL) != 0) {
        pbr_errf(err, errlen, "pthread_mutex_init: failed");
        goto fail;
    }
    if (pthread_cond_init(&ing->wake, NULL) != 0) {
        pthread_mutex_destroy(&ing->lock);
        pbr_errf(err, errlen, "pthread_cond_init: failed");
        goto fail;
    }
    ing->sync_ready = 1;
    ing->sock = zmq_socket(opts->zctx, ZMQ_ROUTER);
    if (!ing->sock) {
        pbr_errf(err, errlen, "zmq_socket(ROUTER): %s", zmq_strerror(errno));
        goto fail;
    }
    int64_t maxmsg = (int64_t)opts->max_frame_bytes;
    if (zmq_setsockopt(ing->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_MAXMSGSIZE): %s", zmq_strerror(errno));
        goto fail;
    }
    if (set_int_opt(ing->sock, ZMQ_LINGER, 2000, "ZMQ_LINGER", err, errlen) < 0 ||
        set_int_opt(ing->sock, ZMQ_RCVHWM, INGEST_RCVHWM, "ZMQ_RCVHWM", err, errlen) < 0 ||
        set_int_opt(ing->sock, ZMQ_SNDHWM, INGEST_SNDHWM, "ZMQ_SNDHWM", err, errlen) < 0)
        goto fail;
    if (opts->curve_secret) {
        /* CURVE: encryption with the server key. Client authorisation is
         * the ZAP handler's (auth.c), asked with this socket's domain: for
         * it the handler admits only roles that may push events (auth.h);
         * without it any known key could ingest */
        if (pbrd_auth_curve_server(ing->sock, opts->curve_secret, PBRD_ZAP_DOMAIN_INGEST, err, errlen) < 0)
            goto fail;
    }
    if (zmq_bind(ing->sock, opts->endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_bind(%s): %s", opts->endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (pbrd_metrics_watch(opts->metrics, opts->zctx, ing->sock, PBRD_SOCK_INGEST, err, errlen) != 0)
        goto fail;
    int prc = pthread_create(&ing->committer, NULL, commit_main, ing);
    if (prc != 0) {
        pbr_errf(err, errlen, "pthread_create(commit): %s", strerror(prc));
        goto fail;
    }
    ing->committer_started = 1;
    prc = pthread_create(&ing->thread, NULL, ingest_main, ing);
    if (prc != 0) {
        pbr_errf(err, errlen, "pthread_create(socket): %s", strerror(prc));
        stop_committer(ing); /* nothing is in flight yet */
        goto fail;
    }
    ing->thread_started = 1;
    *out = ing;
    return 0;
fail:
    free_ingest(ing);
    return -1;
}

void pbrd_ingest_stop(pbrd_ingest *ing)
{
    if (!ing)
        return;
    if (ing->thread_started) {
        uint64_t one = 1;
        if (write(ing->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
            pbrd_log(PBRD_LOG_ERROR, "ingest stop signal failed", "call=write error=\"%s\"", strerror(errno));
        pthread_join(ing->thread, NULL);
    }
    free_ingest(ing);
}

/* ingest.c -- owns the ingest thread: reading batches off the ROUTER socket,
 * validating each line, group commit into the store, and the replies. */
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
#include "pbr/util.h"
#include "pbrd/log.h"

#define MAX_REPLAYS 16 /* map-grown replays of one group before giving up */

/* One request of a group. */
typedef struct batch {
    zmq_msg_t ident;
    zmq_msg_t body;
    int has_body;
    char transport_error[192]; /* non-empty: answer this instead of processing */
    uint64_t accepted, duplicates, rejected;
    json_t *errors;
} batch;

struct pbrd_ingest {
    void *sock;
    int stop_fd; /* eventfd: readable when the thread must stop */
    pthread_t thread;
    int thread_started;
    pbr_store *store;
    uint64_t max_frame_bytes;
    char *endpoint;
    batch group[PBRD_INGEST_GROUP_BATCHES];
    /* counters for the shutdown log line */
    uint64_t total_batches, total_accepted, total_rejected;
};

/* ---- UTF-8 ------------------------------------------------------------ */

/* Returns the offset of the first byte that is not valid UTF-8, or len. */
static size_t find_invalid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07;
        else
            return i;
        if (len - i <= n) /* truncated sequence */
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

/* Copies s with each invalid byte replaced by U+FFFD, so the quarantine can
 * keep it as a JSON string. Returns a malloc'd copy (caller frees) or NULL. */
static char *sanitize_utf8(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        size_t ok = find_invalid_utf8((const unsigned char *)s + i, len - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i < len) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* ---- per-line processing ------------------------------------------------ */

typedef struct group_ctx {
    pbr_store_txn *txn;
    int64_t now;
    char err[PBR_ERR_MAX]; /* store error when a call failed */
} group_ctx;

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

/* Records a rejected line: quarantine (raw, reason, time) and the reply's
 * error list. Returns 0, PBR_STORE_RETRY or -1 (store error in g->err). */
static int reject_line(group_ctx *g, batch *b, uint64_t lineno, const char *line, size_t len, json_t *id,
                       const char *reason)
{
    int rc;
    size_t bad = find_invalid_utf8((const unsigned char *)line, len);
    if (bad < len) {
        size_t clean_len = 0;
        char *clean = sanitize_utf8(line, len, &clean_len);
        if (!clean) {
            json_decref(id);
            return pbr_errf(g->err, sizeof g->err, "sanitize_utf8: out of memory");
        }
        rc = pbr_store_put_quarantine(g->txn, clean, clean_len, reason, g->now, g->err, sizeof g->err);
        free(clean);
    } else {
        rc = pbr_store_put_quarantine(g->txn, line, len, reason, g->now, g->err, sizeof g->err);
    }
    if (rc != 0) {
        json_decref(id);
        return rc;
    }
    char msg[PBR_ERR_MAX + 32];
    snprintf(msg, sizeof msg, "line %" PRIu64 ": %s", lineno, reason);
    json_t *e = json_pack("{sI so ss}", "line", (json_int_t)lineno, "id", id, "error", msg);
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
        snprintf(reason, n, "void \"%s\": target \"%s\" is a void (a void cannot be voided)", ev->id,
                 ev->target);
    else if (rc != PBR_STORE_OK)
        return -1;
    return 0;
}

/* Validates and stores one line. Returns 0, PBR_STORE_RETRY or -1. */
static int ingest_line(group_ctx *g, batch *b, uint64_t lineno, const char *line, size_t len)
{
    char reason[PBR_ERR_MAX];
    size_t bad = find_invalid_utf8((const unsigned char *)line, len);
    if (bad < len) {
        snprintf(reason, sizeof reason, "invalid UTF-8 at byte %zu", bad + 1);
        return reject_line(g, b, lineno, line, len, json_null(), reason);
    }
    pbr_event ev;
    if (pbr_event_parse(line, len, &ev, reason, sizeof reason) != 0)
        return reject_line(g, b, lineno, line, len, id_of_bad_line(line, len), reason);

    int rc = check_void_target(g, &ev, reason, sizeof reason);
    if (rc < 0)
        goto out;
    if (reason[0]) {
        rc = reject_line(g, b, lineno, line, len, json_string(ev.id), reason);
        goto out;
    }
    size_t clen = 0;
    char *canon = pbr_event_canonical(&ev, &clen);
    if (!canon) {
        rc = pbr_errf(g->err, sizeof g->err, "pbr_event_canonical: out of memory");
        goto out;
    }
    uint64_t seq = 0;
    rc = pbr_store_put_event(g->txn, &ev, canon, clen, &seq, g->err, sizeof g->err);
    free(canon);
    if (rc == PBR_STORE_ADDED) {
        b->accepted++;
    } else if (rc == PBR_STORE_DUPLICATE) {
        b->duplicates++;
        rc = 0;
    } else if (rc == PBR_STORE_CONFLICT) {
        snprintf(reason, sizeof reason, "event \"%s\": id exists with different content", ev.id);
        rc = reject_line(g, b, lineno, line, len, json_string(ev.id), reason);
    }
out:
    pbr_event_free(&ev);
    return rc;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Processes every line of one batch into the group's transaction. Returns 0,
 * PBR_STORE_RETRY or -1. */
static int ingest_batch(group_ctx *g, batch *b)
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
            int rc = ingest_line(g, b, lineno, p, l);
            if (rc != 0)
                return rc;
        }
        if (!nl)
            break;
        left -= len + 1;
        p = nl + 1;
    }
    return 0;
}

/* ---- the group ---------------------------------------------------------- */

static void reset_results(batch *b)
{
    b->accepted = b->duplicates = b->rejected = 0;
    json_array_clear(b->errors);
}

/* Runs every batch of the group in one transaction and commits it, replaying
 * on PBR_STORE_RETRY. Returns 0 or -1 with err (nothing was committed). */
static int commit_group(pbrd_ingest *ing, size_t n, char *err, size_t errlen)
{
    group_ctx g;
    g.now = (int64_t)time(NULL);
    for (int attempt = 0; attempt < MAX_REPLAYS; attempt++) {
        for (size_t i = 0; i < n; i++)
            reset_results(&ing->group[i]);
        if (pbr_store_begin(ing->store, &g.txn, g.err, sizeof g.err) != 0)
            return pbr_errf(err, errlen, "%s", g.err);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (!ing->group[i].transport_error[0])
                rc = ingest_batch(&g, &ing->group[i]);
        if (rc != 0) {
            pbr_store_abort(g.txn);
            if (rc == PBR_STORE_RETRY)
                continue;
            return pbr_errf(err, errlen, "%s", g.err);
        }
        rc = pbr_store_commit(g.txn, g.err, sizeof g.err);
        if (rc == PBR_STORE_RETRY)
            continue;
        if (rc != 0)
            return pbr_errf(err, errlen, "%s", g.err);
        return 0;
    }
    return pbr_errf(err, errlen, "the store map kept filling up after %d replays", MAX_REPLAYS);
}

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

/* Sends the counts reply of a committed batch. */
static void send_counts(pbrd_ingest *ing, batch *b, uint64_t last_seq)
{
    json_t *o = json_pack("{sI sI sI sO sI}", "accepted", (json_int_t)b->accepted, "duplicates",
                          (json_int_t)b->duplicates, "rejected", (json_int_t)b->rejected, "errors", b->errors,
                          "last_seq", (json_int_t)last_seq);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        send_reply(ing, b, text);
    else
        send_error(ing, b, "building the reply failed: out of memory");
    free(text);
    json_decref(o);
    ing->total_batches++;
    ing->total_accepted += b->accepted;
    ing->total_rejected += b->rejected;
}

/* Receives one request into b, closing frames it does not keep. Returns 1
 * when a request was read, 0 when none is waiting, -1 on a socket error. */
static int read_request(pbrd_ingest *ing, batch *b)
{
    zmq_msg_t part;
    int more = 0;
    b->has_body = 0;
    b->transport_error[0] = '\0';
    zmq_msg_init(&b->ident);
    if (zmq_msg_recv(&b->ident, ing->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&b->ident);
        return errno == EAGAIN ? 0 : -1;
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
    return 1;
}

/* Frees the frames of batch b. */
static void release_batch(batch *b)
{
    zmq_msg_close(&b->ident);
    if (b->has_body)
        zmq_msg_close(&b->body);
    b->has_body = 0;
}

/* Reads every readable request (bounded), commits them as one group and
 * replies. Returns the number of requests handled, or -1 on a socket error. */
static int serve_group(pbrd_ingest *ing)
{
    size_t n = 0, bytes = 0;
    int rc = 0;
    while (n < PBRD_INGEST_GROUP_BATCHES && bytes < PBRD_INGEST_GROUP_BYTES) {
        rc = read_request(ing, &ing->group[n]);
        if (rc <= 0)
            break;
        if (ing->group[n].has_body)
            bytes += zmq_msg_size(&ing->group[n].body);
        n++;
    }
    if (n == 0)
        return rc < 0 ? -1 : 0;

    size_t work = 0;
    for (size_t i = 0; i < n; i++)
        if (!ing->group[i].transport_error[0])
            work++;
    char err[PBR_ERR_MAX] = "";
    int failed = work > 0 ? commit_group(ing, n, err, sizeof err) : 0;
    uint64_t last_seq = 0;
    if (!failed) {
        pbr_store_stats stats;
        char serr[PBR_ERR_MAX];
        if (pbr_store_get_stats(ing->store, &stats, serr, sizeof serr) == 0)
            last_seq = stats.last_seq;
        else
            pbrd_log(PBRD_LOG_WARN, "reading last_seq failed", "call=pbr_store_get_stats error=\"%s\"", serr);
    } else {
        char q[PBR_ERR_MAX];
        pbrd_log(PBRD_LOG_ERROR, "ingest commit failed", "batches=%zu error=\"%s\"", work,
                 pbrd_log_quote(err, q, sizeof q));
    }
    for (size_t i = 0; i < n; i++) {
        batch *b = &ing->group[i];
        if (b->transport_error[0]) {
            send_error(ing, b, b->transport_error);
        } else if (failed) {
            char msg[PBR_ERR_MAX + 32];
            snprintf(msg, sizeof msg, "store commit failed: %s", err);
            send_error(ing, b, msg);
        } else {
            send_counts(ing, b, last_seq);
        }
        release_batch(b);
    }
    return (int)n;
}

/* ---- the thread ----------------------------------------------------------- */

/* Waits for requests or the stop signal; on stop, stops accepting new
 * connections and answers what has already arrived. */
static void *ingest_main(void *arg)
{
    pbrd_ingest *ing = arg;
    zmq_pollitem_t items[2] = {{ing->sock, 0, ZMQ_POLLIN, 0}, {NULL, ing->stop_fd, ZMQ_POLLIN, 0}};
    for (;;) {
        items[0].revents = items[1].revents = 0;
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            pbrd_log(PBRD_LOG_ERROR, "ingest poll failed", "call=zmq_poll error=\"%s\"", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if ((items[0].revents & ZMQ_POLLIN) && serve_group(ing) < 0)
            pbrd_log(PBRD_LOG_WARN, "ingest receive failed", "call=zmq_msg_recv error=\"%s\"",
                     zmq_strerror(errno));
    }
    if (zmq_unbind(ing->sock, ing->endpoint) != 0)
        pbrd_log(PBRD_LOG_DEBUG, "ingest unbind failed", "call=zmq_unbind error=\"%s\"", zmq_strerror(errno));
    /* finish in-flight batches: whatever libzmq has already received */
    int drained = 0;
    for (int round = 0; round < 64; round++) {
        int n = serve_group(ing);
        if (n <= 0)
            break;
        drained += n;
    }
    pbrd_log(PBRD_LOG_INFO, "ingest stopped",
             "drained=%d batches=%" PRIu64 " accepted=%" PRIu64 " rejected=%" PRIu64, drained,
             ing->total_batches, ing->total_accepted, ing->total_rejected);
    return NULL;
}

/* Sets an int socket option; returns 0 or -1 with err. */
static int set_int_opt(void *sock, int opt, int val, const char *name, char *err, size_t errlen)
{
    if (zmq_setsockopt(sock, opt, &val, sizeof val) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(%s): %s", name, zmq_strerror(errno));
    return 0;
}

/* Frees everything of ing (socket closed with its linger). */
static void free_ingest(pbrd_ingest *ing)
{
    for (size_t i = 0; i < PBRD_INGEST_GROUP_BATCHES; i++)
        json_decref(ing->group[i].errors);
    if (ing->sock)
        zmq_close(ing->sock);
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
    ing->stop_fd = -1;
    ing->store = opts->store;
    ing->max_frame_bytes = opts->max_frame_bytes;
    ing->endpoint = strdup(opts->endpoint);
    if (!ing->endpoint) {
        pbr_errf(err, errlen, "strdup: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < PBRD_INGEST_GROUP_BATCHES; i++)
        if (!(ing->group[i].errors = json_array())) {
            pbr_errf(err, errlen, "json_array: out of memory");
            goto fail;
        }
    ing->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ing->stop_fd < 0) {
        pbr_errf(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
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
        set_int_opt(ing->sock, ZMQ_RCVHWM, 0, "ZMQ_RCVHWM", err, errlen) < 0 ||
        set_int_opt(ing->sock, ZMQ_SNDHWM, 0, "ZMQ_SNDHWM", err, errlen) < 0)
        goto fail;
    if (opts->curve_secret) {
        /* CURVE: encryption with the server key. Client authorisation (ZAP,
         * roles) belongs to api.c's auth section, see pbrd_api_secure. */
        if (set_int_opt(ing->sock, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", err, errlen) < 0)
            goto fail;
        if (zmq_setsockopt(ing->sock, ZMQ_CURVE_SECRETKEY, opts->curve_secret, 40) != 0) {
            pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_CURVE_SECRETKEY): %s", zmq_strerror(errno));
            goto fail;
        }
    }
    if (zmq_bind(ing->sock, opts->endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_bind(%s): %s", opts->endpoint, zmq_strerror(errno));
        goto fail;
    }
    int prc = pthread_create(&ing->thread, NULL, ingest_main, ing);
    if (prc != 0) {
        pbr_errf(err, errlen, "pthread_create: %s", strerror(prc));
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

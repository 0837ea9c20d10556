/* client.c -- owns pbrctl's ZeroMQ connections: DEALER sockets, CURVE client
 * keys, the REQ envelope and timeouts. */
#include "pbrctl/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "pbr/keyfile.h"
#include "pbr/err.h"

/* Sets the CURVE client options from --server-key and --key (an ephemeral
 * client key pair when only --server-key is given). Returns 0 or -1. */
static int set_curve(void *sock, const pbrctl_opts *o, char *err, size_t errlen)
{
    char server[41], pub[41], sec[41], path[4096];
    if (!o->server_key) {
        if (o->key)
            return pbr_errf(err, errlen, "--key needs --server-key (the server's public key file)");
        return 0;
    }
    if (pbr_key_file_read(o->server_key, server, err, errlen) < 0)
        return -1;
    if (o->key) {
        snprintf(path, sizeof path, "%s.key", o->key);
        if (pbr_key_file_read(path, pub, err, errlen) < 0)
            return -1;
        snprintf(path, sizeof path, "%s.key_secret", o->key);
        if (pbr_key_file_read(path, sec, err, errlen) < 0)
            return -1;
    } else if (zmq_curve_keypair(pub, sec) != 0) {
        return pbr_errf(err, errlen, "zmq_curve_keypair: %s", zmq_strerror(errno));
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0)
        return pbr_errf(err, errlen, "zmq_setsockopt(ZMQ_CURVE_*): %s", zmq_strerror(errno));
    memset(sec, 0, sizeof sec);
    return 0;
}

/* How long "connection refused" is retried before it is reported: long
 * enough to ride over a daemon restart, short enough for a health check. */
#define REFUSED_GRACE_MS 1000
#define MONITOR_EVENTS                                                                 \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Starts the socket monitor of c->sock and connects c->monitor to it.
 * Returns 0 or -1 with err. */
static int open_monitor(pbrctl_client *c, char *err, size_t errlen)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://pbrctl-monitor-%p", (void *)c);
    if (zmq_socket_monitor(c->sock, endpoint, MONITOR_EVENTS) != 0)
        return pbr_errf(err, errlen, "zmq_socket_monitor: %s", zmq_strerror(errno));
    c->monitor = zmq_socket(c->ctx, ZMQ_PAIR);
    if (!c->monitor)
        return pbr_errf(err, errlen, "zmq_socket(PAIR): %s", zmq_strerror(errno));
    int linger = 0;
    if (zmq_setsockopt(c->monitor, ZMQ_LINGER, &linger, sizeof linger) != 0 || zmq_connect(c->monitor, endpoint) != 0)
        return pbr_errf(err, errlen, "zmq_connect(%s): %s", endpoint, zmq_strerror(errno));
    return 0;
}

/* The message for a handshake the server refused with ZAP status code. */
static void auth_failure(pbrctl_client *c, unsigned status)
{
    if (status == 400 && c->ingest)
        snprintf(c->failure, sizeof c->failure,
                 "forbidden: pbrd at %s refused this client key on the ingest socket (only finance and ingest "
                 "keys may send events; or the key is not in pbrd's clients file)",
                 c->endpoint);
    else if (status == 400)
        snprintf(c->failure, sizeof c->failure,
                 "pbrd at %s refused this client key: it is not in pbrd's clients file (auth.clients)", c->endpoint);
    else
        snprintf(c->failure, sizeof c->failure,
                 "pbrd at %s could not check this client key (authentication status %u; see pbrd's log)", c->endpoint,
                 status);
}

/* The message for a handshake that failed for a protocol reason. */
static void protocol_failure(pbrctl_client *c, unsigned value)
{
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH && !c->curve)
        snprintf(c->failure, sizeof c->failure,
                 "pbrd at %s requires CURVE keys: give --server-key FILE (the server's public key) and --key NAME",
                 c->endpoint);
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        snprintf(c->failure, sizeof c->failure, "pbrd at %s does not use CURVE: leave out --server-key and --key",
                 c->endpoint);
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC || value == ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
        snprintf(c->failure, sizeof c->failure,
                 "the CURVE handshake with %s failed: --server-key is not the public key of that pbrd", c->endpoint);
    else
        snprintf(c->failure, sizeof c->failure, "the handshake with %s failed (ZeroMQ protocol error 0x%x)",
                 c->endpoint, value);
}

/* Reads one monitor event and updates c; sets c->failure when it ends the
 * wait. */
static void read_monitor_event(pbrctl_client *c)
{
    uint16_t event = 0;
    uint32_t value = 0;
    int first = 1, more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        if (first && zmq_msg_size(&part) >= 6) {
            memcpy(&event, zmq_msg_data(&part), sizeof event);
            memcpy(&value, (char *)zmq_msg_data(&part) + 2, sizeof value);
        }
        first = 0;
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    switch (event) {
    case ZMQ_EVENT_CONNECTED: c->connected = 1; break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: c->handshaken = 1; break;
    case ZMQ_EVENT_CONNECT_RETRIED:
        if (!c->connected && now_ms() - c->opened_ms >= REFUSED_GRACE_MS)
            snprintf(c->failure, sizeof c->failure,
                     "nothing is listening at %s (connection refused): is pbrd running, and is that its endpoint?",
                     c->endpoint);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: auth_failure(c, value); break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: protocol_failure(c, value); break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (c->curve)
            snprintf(c->failure, sizeof c->failure,
                     "the CURVE handshake with %s failed: pbrd closed the connection (is --server-key the public "
                     "key of that pbrd?)",
                     c->endpoint);
        else
            snprintf(c->failure, sizeof c->failure,
                     "the handshake with %s failed: the peer closed the connection (pbrd with auth configured "
                     "requires CURVE keys: give --server-key FILE and --key NAME)",
                     c->endpoint);
        break;
    default: break;
    }
}

int pbrctl_client_open(pbrctl_client *c, const pbrctl_opts *o, const char *endpoint, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = o->timeout_ms;
    c->endpoint = endpoint;
    c->curve = o->server_key != NULL;
    c->ingest = o->ingest != NULL && !strcmp(endpoint, o->ingest);
    c->opened_ms = now_ms();
    c->ctx = zmq_ctx_new();
    if (!c->ctx)
        return pbr_errf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock) {
        pbr_errf(err, errlen, "zmq_socket(DEALER): %s", zmq_strerror(errno));
        goto fail;
    }
    int linger = 0, hwm = 0;
    if (zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0) {
        pbr_errf(err, errlen, "zmq_setsockopt: %s", zmq_strerror(errno));
        goto fail;
    }
    if (set_curve(c->sock, o, err, errlen) < 0 || open_monitor(c, err, errlen) < 0)
        goto fail;
    if (zmq_connect(c->sock, endpoint) != 0) {
        pbr_errf(err, errlen, "zmq_connect(%s): %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    return 0;
fail:
    pbrctl_client_close(c);
    return -1;
}

void pbrctl_client_close(pbrctl_client *c)
{
    if (c->sock)
        zmq_socket_monitor(c->sock, NULL, 0);
    if (c->monitor)
        zmq_close(c->monitor);
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    c->sock = c->ctx = c->monitor = NULL;
}

/* Waits up to ms until a reply is readable on c->sock (1), the time
 * passes (0), the monitor reports a connection problem (-2, c->failure
 * set) or polling fails (-1, errno). */
static int wait_readable_for(pbrctl_client *c, int ms)
{
    long long deadline = now_ms() + ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, c->monitor ? 2 : 1, (long)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (items[0].revents & ZMQ_POLLIN)
            return 1;
        if (c->monitor && (items[1].revents & ZMQ_POLLIN)) {
            read_monitor_event(c);
            if (c->failure[0])
                return -2;
        }
    }
}

int pbrctl_client_send(pbrctl_client *c, const void *body, size_t len, char *err, size_t errlen)
{
    if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(c->sock, body, len, 0) < 0)
        return pbr_errf(err, errlen, "zmq_send(%s): %s", c->endpoint, zmq_strerror(errno));
    return 0;
}

int pbrctl_client_wait(pbrctl_client *c, int ms, char *err, size_t errlen)
{
    int rc = wait_readable_for(c, ms);
    if (rc == -2)
        return pbr_errf(err, errlen, "%s", c->failure);
    if (rc < 0)
        return pbr_errf(err, errlen, "zmq_poll(%s): %s", c->endpoint, zmq_strerror(errno));
    return rc;
}

int pbrctl_client_recv(pbrctl_client *c, char **out, size_t *len, char *err, size_t errlen)
{
    int rc = wait_readable_for(c, c->timeout_ms);
    if (rc == -2)
        return pbr_errf(err, errlen, "%s", c->failure);
    if (rc < 0)
        return pbr_errf(err, errlen, "zmq_poll(%s): %s", c->endpoint, zmq_strerror(errno));
    if (rc == 0 && c->handshaken)
        return pbr_errf(err, errlen, "pbrd at %s accepted the connection but did not reply within %d ms", c->endpoint,
                        c->timeout_ms);
    if (rc == 0)
        return pbr_errf(err, errlen, "no reply from %s within %d ms (is pbrd running?)", c->endpoint, c->timeout_ms);
    char *body = NULL;
    size_t blen = 0;
    int nframes = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) < 0) {
            zmq_msg_close(&m);
            free(body);
            return pbr_errf(err, errlen, "zmq_msg_recv(%s): %s", c->endpoint, zmq_strerror(errno));
        }
        more = zmq_msg_more(&m);
        nframes++;
        if (nframes == 2) { /* frame 1 is the empty delimiter */
            blen = zmq_msg_size(&m);
            body = malloc(blen + 1);
            if (body) {
                memcpy(body, zmq_msg_data(&m), blen);
                body[blen] = '\0';
            }
        }
        zmq_msg_close(&m);
    }
    if (!body)
        return pbr_errf(err, errlen, "malformed reply from %s (%d frames)", c->endpoint, nframes);
    *out = body;
    if (len)
        *len = blen;
    return 0;
}

int pbrctl_api_request(const pbrctl_opts *o, json_t *req, json_t **reply, char *err, size_t errlen)
{
    pbrctl_client c;
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text)
        return pbr_errf(err, errlen, "json_dumps: out of memory");
    int rc = -1;
    if (pbrctl_client_open(&c, o, o->api, err, errlen) < 0)
        goto out;
    char *body = NULL;
    size_t len = 0;
    if (pbrctl_client_send(&c, text, strlen(text), err, errlen) < 0 ||
        pbrctl_client_recv(&c, &body, &len, err, errlen) < 0)
        goto out_close;
    json_error_t jerr;
    *reply = json_loadb(body, len, 0, &jerr);
    free(body);
    if (!*reply) {
        pbr_errf(err, errlen, "reply from %s is not JSON: %s", o->api, jerr.text);
        goto out_close;
    }
    rc = 0;
out_close:
    pbrctl_client_close(&c);
out:
    free(text);
    return rc;
}

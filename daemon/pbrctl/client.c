/* client.c -- owns pbrctl's ZeroMQ connections: DEALER sockets, CURVE client
 * keys, the REQ envelope and timeouts. */
#include "pbrctl/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "pbr/keyfile.h"
#include "pbr/util.h"

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

int pbrctl_client_open(pbrctl_client *c, const pbrctl_opts *o, const char *endpoint, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = o->timeout_ms;
    c->endpoint = endpoint;
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
    if (set_curve(c->sock, o, err, errlen) < 0)
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
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    c->sock = c->ctx = NULL;
}

int pbrctl_client_send(pbrctl_client *c, const void *body, size_t len, char *err, size_t errlen)
{
    if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(c->sock, body, len, 0) < 0)
        return pbr_errf(err, errlen, "zmq_send(%s): %s", c->endpoint, zmq_strerror(errno));
    return 0;
}

int pbrctl_client_recv(pbrctl_client *c, char **out, size_t *len, char *err, size_t errlen)
{
    zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, c->timeout_ms);
    if (rc < 0)
        return pbr_errf(err, errlen, "zmq_poll(%s): %s", c->endpoint, zmq_strerror(errno));
    if (rc == 0)
        return pbr_errf(err, errlen, "no reply from %s within %d ms (is pbrd running?)", c->endpoint,
                        c->timeout_ms);
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

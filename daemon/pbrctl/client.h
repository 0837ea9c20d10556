/* client.h -- pbrctl's ZeroMQ client: a DEALER socket speaking the REQ
 * envelope ([empty][body]) to pbrd's ROUTER sockets, with CURVE keys when
 * --server-key/--key are given and a timeout on every wait.
 */
#ifndef PBRCTL_CLIENT_H
#define PBRCTL_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "pbrctl/pbrctl.h"

typedef struct pbrctl_client {
    void *ctx;
    void *sock;
    void *monitor; /* PAIR reading the socket monitor of sock, or NULL */
    int timeout_ms;
    const char *endpoint;
    int curve;           /* --server-key given */
    int ingest;          /* endpoint is the ingest socket (ZAP domain "ingest") */
    int connected;       /* a TCP connection was made at least once */
    int handshaken;      /* a handshake succeeded at least once */
    long long opened_ms; /* CLOCK_MONOTONIC at open */
    char failure[320];   /* the connection problem that ends the wait, or "" */
} pbrctl_client;

/* Connects a DEALER socket to endpoint with the CURVE options of o. Returns
 * 0, or -1 with err naming the failing call. Close with pbrctl_client_close. */
int pbrctl_client_open(pbrctl_client *c, const pbrctl_opts *o, const char *endpoint, char *err, size_t errlen);
void pbrctl_client_close(pbrctl_client *c);

/* Sends [empty][body]. Returns 0 or -1 with err. */
int pbrctl_client_send(pbrctl_client *c, const void *body, size_t len, char *err, size_t errlen);

/* Waits up to the timeout for one reply and returns its body frame as a
 * malloc'd NUL-terminated string (caller frees) in *out. Returns 0, or -1
 * with err: a timeout, a socket error, or -- within about a second, from
 * the socket monitor -- a connection problem with its own message: nothing
 * listening (connection refused), a security mechanism mismatch (CURVE on
 * one side only), a wrong server key, or a client key pbrd refuses
 * (unknown, or "forbidden" on the ingest socket for a role that may not
 * push events). */
int pbrctl_client_recv(pbrctl_client *c, char **out, size_t *len, char *err, size_t errlen);

/* Waits up to ms for a reply to be readable (without reading it), for
 * callers that wait in slices (a progress line). Returns 1 readable, 0
 * not yet, or -1 with err: a connection problem the socket monitor saw
 * (as pbrctl_client_recv reports it) or a polling error. */
int pbrctl_client_wait(pbrctl_client *c, int ms, char *err, size_t errlen);

/* One request/reply on the API: sends the JSON object req and parses the
 * reply into *reply (caller decrefs). Returns 0, or -1 with err (connection,
 * timeout, or a reply that is not JSON). */
int pbrctl_api_request(const pbrctl_opts *o, json_t *req, json_t **reply, char *err, size_t errlen);

#endif

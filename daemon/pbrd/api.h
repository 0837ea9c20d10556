/* api.h -- the query/control API (ROUTER, SPEC.md section 7) and the PUB
 * socket, both served from the main thread.
 *
 * Requests arrive in the REQ envelope [identity][empty][{"op":…}] and every
 * reply is one JSON object ({"error":"message"} on failure).
 *
 * Adding an op: add X(NAME, needs_service) to PBRD_API_OPS in
 * api_request.h (and its argument checks, if any, to check_arguments in
 * api_request.c), and write one function
 *     static json_t *op_NAME(pbrd_api_call *call);
 * in api.c returning a new reference (the reply object; build errors with
 * pbrd_api_error(); a settlement op shapes the service's struct with
 * api_reply.h). Nothing else changes: dispatch, envelopes, JSON
 * parsing and "unknown op" are done once for all ops, the parsing in
 * api_request.c (pure, fuzzed by tests/fuzz/fuzz_api.c).
 *
 * Auth: with auth configured every request's role comes from its client
 * key (auth.h); before an op runs, pbrd_role_allows(role, op, provider of
 * the named contract) must agree, else {"error":"forbidden"} and a log line.
 */
#ifndef PBRD_API_H
#define PBRD_API_H

#include <jansson.h>
#include <zmq.h>
#include <stddef.h>

#include "pbr/date.h"
#include "pbr/store.h"
#include "pbrd/api_request.h"
#include "pbrd/auth.h"
#include "pbrd/config.h"
#include "pbrd/metrics.h"
#include "pbrd/service.h"
#include "pbrd/wait.h"

typedef struct pbrd_api {
    void *zctx;
    void *router;     /* API ROUTER socket */
    void *pub;        /* PUB socket */
    pbr_store *store; /* shared with the ingest thread */
    const pbrd_config *cfg;
    pbrd_service *service; /* contracts, statements, evaluation (NULL: only status/quarantine) */
    pbrd_auth *auth;       /* ZAP handler and client roles; NULL without auth (loopback only) */
    int reload_requested;  /* set by SIGHUP, consumed by pbrd_api_reload */
    pbrd_metrics *metrics; /* counters of ops that have them (backup), or NULL */
    pbrd_settle_job *job;  /* the settle in progress (one at a time), or NULL */
    zmq_msg_t job_ident;   /* ... the routing id of the client waiting for its reply */
    int job_has_ident;     /* ... 0 for auto-settle */
    pbrd_waits *waits;     /* the wait op's parked requests and this run's statements (wait.h) */
} pbrd_api;

#define PBRD_API_PARKED 2 /* pbrd_api_call.deferred: parked by the wait op, answered by wait.c */

/* One call of an op: the request object and who asked. */
typedef struct pbrd_api_call {
    pbrd_api *api;
    json_t *req;                  /* the request object (borrowed) */
    const pbrd_api_request *args; /* the parsed request: op and arguments (borrowed) */
    const char *role;             /* "finance" without auth (loopback only); else the client key's role */
    char *raw_reply;              /* set by an op (malloc'd) to reply with exact bytes instead of a JSON object */
    int deferred;                 /* set by an op that replies later (1 settle: when its job ends; PBRD_API_PARKED) */
    zmq_msg_t *ident;             /* the client's routing id (borrowed; copy it to reply later) */
} pbrd_api_call;

typedef json_t *(*pbrd_api_op_fn)(pbrd_api_call *call);

/* The daemon's date: the configured now, or today's UTC date. */
pbr_date pbrd_api_today(const pbrd_api *api);

/* Creates and binds the API ROUTER and the PUB socket. curve_secret is the
 * Z85 server secret key or NULL (no auth). Returns 0, or -1 with err naming
 * the failing call; on failure nothing is left open. */
int pbrd_api_open(pbrd_api *api, void *zctx, pbr_store *store, const pbrd_config *cfg, const char *curve_secret,
                  char *err, size_t errlen);

/* Serves every request readable on the router now (bounded). Returns the
 * number served, or -1 on a socket error. */
int pbrd_api_serve(pbrd_api *api);

/* Sends [ident][empty][reply as JSON] on the router: the answer to a
 * request answered later (wait.c). Failures are logged. */
void pbrd_api_reply(pbrd_api *api, zmq_msg_t *ident, json_t *reply);

/* Sends [topic][json] on the PUB socket. Returns 0 or -1 (errno). */
int pbrd_api_publish(pbrd_api *api, const char *topic, const char *json);

/* The settlement service's announcements (pbrd_service_opts.events, with
 * the pbrd_api as events_ctx): a statement wakes the wait op's parked
 * requests that may see it and goes out on "statement", a (re)load on
 * "reload" (bodies: api_reply.h); a failed send is logged. */
extern const pbrd_service_events pbrd_api_events;

/* Reloads contracts_dir (and the clients file when auth is configured):
 * SIGHUP and the "reload" op. Returns the reply object of the "reload" op
 * (new reference); a clients file that does not load is kept out (the
 * previous keys stay in force), logged at warn and named in the reply as
 * "clients_error": "FILE:LINE:COL: message". */
json_t *pbrd_api_reload(pbrd_api *api);

/* Settling runs in steps between requests (the settle op starts a job and
 * is answered when it ends; a second settle meanwhile is refused with
 * {"error":…,"busy":true}). pbrd_api_settling: whether a job runs.
 * pbrd_api_auto_settle: starts auto-settle's job when nothing runs, the
 * config allows it and a statement is due. pbrd_api_settle_step: issues at
 * most one statement, answering the waiting client when the job ends;
 * returns 1 while the job runs. pbrd_api_settle_interrupt: ends a running
 * job now, its client getting {"issued":[…],"interrupted":why}. */
int pbrd_api_settling(const pbrd_api *api);
void pbrd_api_auto_settle(pbrd_api *api);
int pbrd_api_settle_step(pbrd_api *api);
void pbrd_api_settle_interrupt(pbrd_api *api, const char *why);

/* Closes the sockets (a settle still running must have been interrupted). */
void pbrd_api_close(pbrd_api *api);

#endif

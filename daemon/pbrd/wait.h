/* wait.h -- the API's "wait" op: a long poll for issued statements, scoped
 * to what the caller's role may see (SPEC.md section 7; issue 13 item 7).
 *
 * Providers may not subscribe to the PUB socket (it announces every
 * contract's total); they learn of their own statements with
 *     {"op":"wait","after_seq":N,"timeout_ms":T}
 * The cursor counts the statements the CALLER may see: seq is the number
 * of issued statements of contracts visible to the caller's role (all for
 * finance and operator, the provider's own for provider:NAME), so it tells
 * a provider nothing about other providers. The reply is
 *     {"seq":S,"statements":[{"contract":C,"quarter":Q},…],
 *      "complete":bool,"timed_out":bool}
 * with the statements the caller has not seen (those after after_seq, the
 * newest last); "complete": true when pbrd cannot tell which ones are new
 * (they were issued before this run of pbrd) and lists every visible
 * statement instead. With after_seq absent the wait starts from now.
 *
 * The request is answered at once when something is new (or timeout_ms is
 * 0); otherwise it is parked -- the API thread goes on serving -- and
 * answered when a visible statement is issued (pbrd_wait_statement) or
 * timeout_ms passes (pbrd_wait_expire, timed_out: true, nothing listed).
 */
#ifndef PBRD_WAIT_H
#define PBRD_WAIT_H

#include <jansson.h>
#include <stdint.h>
#include <zmq.h>

struct pbrd_api;
struct pbrd_api_call;

#define PBRD_WAIT_MAX_PARKED 4096  /* parked requests at once; more get an error */
#define PBRD_WAIT_MAX_PER_ROLE 256 /* ... of one role (one provider cannot take every slot) */

typedef struct pbrd_waits pbrd_waits;

/* A new, empty set. Returns NULL when out of memory. */
pbrd_waits *pbrd_waits_new(void);

/* Answers every parked request with {"error":why} through api (NULL api:
 * drops them), frees *wp and sets it to NULL. NULL is fine. */
void pbrd_waits_destroy(pbrd_waits **wp, struct pbrd_api *api, const char *why);

/* The wait op (api.c's op table). Returns the reply, or an empty object
 * with call->deferred set to PBRD_API_PARKED when the request was parked
 * (answered later). */
json_t *pbrd_wait_op(struct pbrd_api_call *call);

/* A statement was issued (called for each "statement" announcement):
 * remembers it and answers the parked requests that may see it. */
void pbrd_wait_statement(struct pbrd_api *api, const char *contract, const char *quarter);

/* Answers the parked requests whose timeout has passed at now_ms
 * (CLOCK_MONOTONIC milliseconds). */
void pbrd_wait_expire(struct pbrd_api *api, int64_t now_ms);

/* Milliseconds from now_ms to the next parked deadline, or -1 when
 * nothing is parked (for the main loop's poll timeout). */
long pbrd_wait_next_ms(const struct pbrd_api *api, int64_t now_ms);

#endif

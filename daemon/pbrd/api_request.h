/* api_request.h -- parsing and validation of one API request (SPEC.md
 * section 7): the bytes of the request frame -> the op and its arguments,
 * or the exact error reply. Pure: no store, no sockets, no service, no
 * logging, so the libFuzzer target tests/fuzz/fuzz_api.c runs it on
 * arbitrary bytes; api.c's dispatch is the only caller in the daemon.
 *
 * Replies are decided in this order (api.c):
 *   1. pbrd_api_request_parse fails: its error reply ("request is not a
 *      JSON object: …", "request has no \"op\" string", "unknown op \"…\"");
 *   2. the role may not run the op: {"error":"forbidden"};
 *   3. the op needs the settlement service and it is not running;
 *   4. the op's arguments are wrong: {"error": arg_error};
 *   5. the op runs, with the arguments parsed here.
 * so an argument error never tells a caller more than "forbidden" would.
 */
#ifndef PBRD_API_REQUEST_H
#define PBRD_API_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "pbr/date.h"

/* Every op: X(name, needs_service). needs_service: the op works on
 * contracts and statements. api.c builds its table of op functions
 * (op_NAME) from this list. */
#define PBRD_API_OPS(X)    \
    X(status, 0)           \
    X(quarantine, 0)       \
    X(quarantine_purge, 0) \
    X(contracts, 1)        \
    X(statement, 1)        \
    X(cohorts, 1)          \
    X(settle, 1)           \
    X(reload, 1)           \
    X(verify, 1)           \
    X(backup, 0)           \
    X(statements, 1)       \
    X(explain, 1)          \
    X(wait, 1)

typedef enum {
#define PBRD_API_OP_ENUM(name, needs_service) PBRD_OP_##name,
    PBRD_API_OPS(PBRD_API_OP_ENUM)
#undef PBRD_API_OP_ENUM
        PBRD_OP_COUNT
} pbrd_api_op;

#define PBRD_API_QUARANTINE_DEFAULT_LIMIT 100
#define PBRD_API_WAIT_DEFAULT_MS 30000 /* wait: "timeout_ms" when absent */
#define PBRD_API_WAIT_MAX_MS 3600000   /* wait: largest "timeout_ms" (an hour) */

/* One parsed request. The strings are borrowed from req. */
typedef struct pbrd_api_request {
    json_t *req; /* the request object (owned) */
    pbrd_api_op op;
    const char *op_name; /* the op's name (static string) */
    int needs_service;
    const char *contract;  /* "contract" when it is a string, else NULL (also for the role check) */
    const char *quarter;   /* "quarter" when it is a string, else NULL */
    pbr_date quarter_date; /* the parsed quarter (statement, settle) */
    json_int_t limit;      /* quarantine: "limit", PBRD_API_QUARANTINE_DEFAULT_LIMIT when absent or null */
    const char *dir;       /* backup: "dir" (an absolute path on the daemon's machine) */
    pbr_date before;       /* quarantine_purge: "before" (a date) */
    json_int_t after_seq;  /* wait: "after_seq" (>= 0), or -1 when absent or null (from now) */
    json_int_t timeout_ms; /* wait: "timeout_ms" (0..PBRD_API_WAIT_MAX_MS), PBRD_API_WAIT_DEFAULT_MS when absent */
    const char *arg_error; /* the op's argument error (static string, reply step 4), or NULL */
} pbrd_api_request;

/* Parses len bytes of request text. Returns 0 with *out filled (release
 * it with pbrd_api_request_clear), or -1 with *out zeroed and *reply a new
 * {"error":…} object (NULL only when out of memory). When out->arg_error
 * is NULL the op's arguments are complete:
 *   statement  contract and quarter (a date) set
 *   cohorts    contract set
 *   statements contract set
 *   explain    contract, quarter (a date), "component" and "period"
 *              strings; "segment" absent, null or a string
 *   settle     quarter (a date) set; "contract" absent, null or a string
 *   quarantine limit >= 1
 *   quarantine_purge  before (a date) set
 *   backup     dir an absolute path
 *   wait       after_seq -1 or >= 0; timeout_ms in 0..PBRD_API_WAIT_MAX_MS */
int pbrd_api_request_parse(const char *text, size_t len, pbrd_api_request *out, json_t **reply);

/* Releases what pbrd_api_request_parse filled in (a zeroed one is fine). */
void pbrd_api_request_clear(pbrd_api_request *r);

/* The op named name, or PBRD_OP_COUNT. */
pbrd_api_op pbrd_api_op_of(const char *name);

/* The name of op (op < PBRD_OP_COUNT). */
const char *pbrd_api_op_name(pbrd_api_op op);

/* Returns a new {"error": formatted} object (NULL only when out of
 * memory). The message is cut at 1023 bytes; bytes that are not UTF-8
 * (also a character cut by that limit) become '?', so a request's own
 * bytes quoted in a message can never make the reply unbuildable. */
json_t *pbrd_api_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* service.h -- the settlement service (SPEC.md 5.7 and 7): the contracts in
 * force, the event set mirrored from the store, quarter closing, issued
 * statements (LMDB + files), provisional figures, reload and verify.
 *
 * Runs on the API thread only (not thread-safe); reads events the ingest
 * thread has committed through the store. Replies are jansson objects (new
 * references) shaped as the API ops of section 7; errors are {"error":…}.
 */
#ifndef PBRD_SERVICE_H
#define PBRD_SERVICE_H

#include <jansson.h>
#include <stddef.h>

#include "pbr/contract.h"
#include "pbr/date.h"
#include "pbr/store.h"
#include "pbrd/metrics.h"

typedef struct pbrd_service pbrd_service;

/* Called after a statement is issued or contracts reloaded: topic
 * "statement" or "reload" and a JSON body. */
typedef void (*pbrd_publish_fn)(void *ctx, const char *topic, const char *json);

typedef struct pbrd_service_opts {
    const char *contracts_dir;
    const char *statements_dir;
    pbrd_publish_fn publish; /* may be NULL */
    void *publish_ctx;
    int auto_settle; /* the daemon settles due quarters by itself (tick) */
    pbr_date today;  /* the day the contracts are loaded */
} pbrd_service_opts;

/* Opens the service: loads contracts_dir (errors are logged, valid files
 * load), mirrors the event log, checks that every issued statement's files
 * exist (rewriting missing ones from the store). Returns 0 and *out, or -1
 * with err. Free with pbrd_service_close. */
int pbrd_service_open(pbrd_service **out, pbr_store *store, const pbrd_service_opts *opts, char *err, size_t errlen);
void pbrd_service_close(pbrd_service *svc);

/* Counts settle runs and reloads in m from now on (NULL: not counted);
 * records the contracts loaded at open as the initial load. */
void pbrd_service_set_metrics(pbrd_service *svc, pbrd_metrics *m);

/* Re-reads contracts_dir. A file with an error keeps the contract's
 * previous version in force. A contract id loaded for the first time into
 * this store has today recorded as its first-loaded day (see
 * pbrd_service_tick). Returns {"loaded":[ids],"errors":[{file,line,
 * column,message}]} and publishes it on "reload". */
json_t *pbrd_service_reload(pbrd_service *svc, pbr_date today);

/* Issues, for every contract (or only `contract`), each unissued quarter up
 * to and including `through` whose issue date A(Q) is before `today`.
 * Returns {"issued":[{contract,quarter,total_pence}]} (possibly empty), or
 * {"error":…} (statements issued before the error stay issued). */
json_t *pbrd_service_settle(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today);

/* Idle work, for the moments no request is waiting: mirrors a step of new
 * events from the store into the in-memory event set (parsing each once),
 * and sorts and indexes the set once the store has been quiet for one
 * call, so a settle or a query finds every event in memory and indexed
 * instead of parsing the log. Returns 1 when there is more to mirror (call
 * again soon), 0 when up to date, -1 on an error (logged; the next settle
 * or query reports it). */
int pbrd_service_idle(pbrd_service *svc);

/* A settle in steps, so the daemon can answer requests and honour
 * SIGTERM between statements: each step issues at most one statement (a
 * statement is atomic: committed whole with its files, or absent). */
typedef struct pbrd_settle_job pbrd_settle_job;

/* Starts a settle of every contract (or only `contract`) up to through, as
 * of today. With is_auto, auto-settle's rule: a quarter that was already
 * due (A(Q) < the day) when its contract was first loaded into this store
 * is never issued, nor anything after it (that backlog waits for an
 * explicit settle). Returns the job, or NULL with *reply an {"error":…}
 * (no such contract, the event log unreadable, out of memory). */
pbrd_settle_job *pbrd_service_settle_begin(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                                           int is_auto, json_t **reply);

/* Issues at most one statement. Returns 1 when more may follow, 0 when
 * the job is done, -1 after an error (pbrd_service_settle_end reports it).
 * A reload between steps is allowed (the job looks at the new table). */
int pbrd_service_settle_step(pbrd_service *svc, pbrd_settle_job *job);

/* Statements issued so far by the job; whether it is auto-settle's. */
size_t pbrd_service_settle_issued(const pbrd_settle_job *job);
int pbrd_service_settle_is_auto(const pbrd_settle_job *job);

/* Ends the job and frees it. Returns {"issued":[…]}, or with an error
 * {"error":…,"issued":[…]}, or when interrupted is not NULL (the daemon is
 * stopping) {"issued":[…],"interrupted":interrupted}. */
json_t *pbrd_service_settle_end(pbrd_service *svc, pbrd_settle_job *job, const char *interrupted);

/* Before a settle up to through (of contract, or of all when NULL): 0
 * when it can issue something, or through is a due quarter or past a
 * contract's last (a re-run that finds everything issued is fine); -1
 * with err when through is not the first day of a quarter (of that
 * contract, or of any loaded one), before the named contract's first
 * quarter, or not yet due (A(Q) >= today) with nothing earlier left to
 * issue. */
int pbrd_service_check_settle(const pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                              char *err, size_t errlen);

/* Why the statement of (contract, q) is not issued, into err: not a
 * quarter's first day, not one of its quarters, not yet due, or due (and
 * waiting for a settle). Returns -1 always (err set), 0 when it is one of
 * the first three reasons (err set too). */
int pbrd_service_unissued_why(const pbrd_service *svc, const char *contract, pbr_date q, pbr_date today, char *err,
                              size_t errlen);

/* Whether auto-settle has a statement to issue today. */
int pbrd_service_auto_due(const pbrd_service *svc, pbr_date today);

/* The provider of a loaded contract, or NULL if no such contract. */
const char *pbrd_service_provider_of(const pbrd_service *svc, const char *contract);

/* {"contracts":[{contract,provider,title,sha256,last_statement,
 * first_loaded,due,state}]}: due is the number of due, unissued quarters as
 * of today; state "up to date", "due" or "due, awaiting settle" (only an
 * explicit settle will issue them). When provider is not NULL only that
 * provider's contracts. */
json_t *pbrd_service_contracts(pbrd_service *svc, const char *provider, pbr_date today);

/* The number of due quarters that wait for an explicit settle (of
 * provider's contracts, or all when NULL). */
size_t pbrd_service_awaiting_settle(const pbrd_service *svc, const char *provider, pbr_date today);

/* The stored statement bytes of (contract, quarter "YYYY-MM-DD"): returns a
 * malloc'd canonical JSON string (caller frees) or NULL with err ("not
 * issued", …). */
char *pbrd_service_statement(pbrd_service *svc, const char *contract, const char *quarter, char *err, size_t errlen);

/* {"contract":C,"as_of":today,"provisional":[lines]}: binary, frequency and
 * disposals lines begun and not final, as of today. */
json_t *pbrd_service_cohorts(pbrd_service *svc, const char *contract, pbr_date today);

/* Recomputes every issued statement from the event log and the stored
 * contract versions and compares it with the store and the files:
 * {"checked":n,"differences":[{contract,quarter,where,detail}]}. */
json_t *pbrd_service_verify(pbrd_service *svc);

/* {"contract":C,"title":…,"provider":…,"contract_cap_pence":n|null,
 * "statements":[{quarter,label,as_of,
 * events_through,contract_sha256,lines,fees_pence,outcomes_pence,
 * adjustments_pence,total_pence}]}: the issued statements of a contract in
 * quarter order (summary.h). */
json_t *pbrd_service_statements(pbrd_service *svc, const char *contract);

/* The rows behind one line of an issued statement (explain_json.h),
 * computed as that statement was: its as-of date, its events, the contract
 * version the line was issued under. segment NULL: a line without one. */
json_t *pbrd_service_explain(pbrd_service *svc, const char *contract, const char *quarter, const char *component,
                             const char *period, const char *segment);

/* Number of contracts in force. */
size_t pbrd_service_ncontracts(const pbrd_service *svc);

#endif

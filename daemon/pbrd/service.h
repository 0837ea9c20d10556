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

/* Opens the service: loads contracts_dir (errors are logged, valid files
 * load), mirrors the event log, checks that every issued statement's files
 * exist (rewriting missing ones from the store). Returns 0 and *out, or -1
 * with err. Free with pbrd_service_close. */
int pbrd_service_open(pbrd_service **out, pbr_store *store, const char *contracts_dir, const char *statements_dir,
                      pbrd_publish_fn publish, void *publish_ctx, char *err, size_t errlen);
void pbrd_service_close(pbrd_service *svc);

/* Counts settle runs and reloads in m from now on (NULL: not counted);
 * records the contracts loaded at open as the initial load. */
void pbrd_service_set_metrics(pbrd_service *svc, pbrd_metrics *m);

/* Re-reads contracts_dir. A file with an error keeps the contract's
 * previous version in force. Returns {"loaded":[ids],"errors":[{file,line,
 * column,message}]} and publishes it on "reload". */
json_t *pbrd_service_reload(pbrd_service *svc);

/* Issues, for every contract (or only `contract`), each unissued quarter up
 * to and including `through` whose issue date A(Q) is before `today`.
 * Returns {"issued":[{contract,quarter,total_pence}]} (possibly empty), or
 * {"error":…} (statements issued before the error stay issued). */
json_t *pbrd_service_settle(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today);

/* Auto-settle: settle every quarter whose A(Q) < today. Returns the number
 * of statements issued, or -1 (logged). */
int pbrd_service_tick(pbrd_service *svc, pbr_date today);

/* The provider of a loaded contract, or NULL if no such contract. */
const char *pbrd_service_provider_of(const pbrd_service *svc, const char *contract);

/* {"contracts":[{contract,provider,title,sha256,last_statement}]}; when
 * provider is not NULL only that provider's contracts. */
json_t *pbrd_service_contracts(pbrd_service *svc, const char *provider);

/* The stored statement bytes of (contract, quarter "YYYY-MM-DD"): returns a
 * malloc'd canonical JSON string (caller frees) or NULL with err ("not
 * issued", …). */
char *pbrd_service_statement(pbrd_service *svc, const char *contract, const char *quarter, char *err,
                             size_t errlen);

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

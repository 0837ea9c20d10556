/* api_reply.h -- the JSON of the settlement ops' replies (SPEC.md section
 * 7, docs/schema/api/OP.reply.json) and of the PUB messages "statement"
 * and "reload" (docs/schema/publish/), shaped from the settlement
 * service's structs (service.h). The only place that turns settlement
 * results into JSON: the service returns structs, api.c sends what these
 * functions build.
 *
 * Every function returns a new reference (NULL only when out of memory)
 * and borrows its arguments.
 */
#ifndef PBRD_API_REPLY_H
#define PBRD_API_REPLY_H

#include <jansson.h>
#include <stddef.h>

#include "pbr/date.h"
#include "pbr/statement.h"
#include "pbrd/service.h"

/* The settle op's reply: {"issued":[{contract,quarter,total_pence}]}; with
 * r->error {"error":…,"issued":[…]}; else when interrupted is not NULL
 * (the daemon is stopping) {"issued":[…],"interrupted":interrupted}. */
json_t *pbrd_reply_settle(const pbrd_settle_result *r, const char *interrupted);

/* The reload op's reply and the "reload" message body:
 * {"loaded":[ids],"errors":[{file,line,column,message}]}. */
json_t *pbrd_reply_reload(const pbrd_reload_result *r);

/* The "statement" message body: {contract,quarter,total_pence,sha256}. */
json_t *pbrd_reply_statement_message(const pbrd_issued *st, const char *sha256);

/* The contracts op's reply: {"contracts":[{contract,provider,title,sha256,
 * last_statement (null before the first),first_loaded,due,state}]}. */
json_t *pbrd_reply_contracts(const pbrd_contract_row *rows, size_t n);

/* The statements op's reply: {"contract","title","provider",
 * "contract_cap_pence":n|null,"statements":[{quarter,label,as_of,
 * events_through,contract_sha256,lines,fees_pence,outcomes_pence,
 * adjustments_pence,total_pence}]} (summary.h); {"error":…} when a stored
 * statement is not a statement. */
json_t *pbrd_reply_statements(const pbrd_statement_list *l);

/* The cohorts op's reply: {"contract":C,"as_of":today,"provisional":[lines]}. */
json_t *pbrd_reply_cohorts(const char *contract, pbr_date today, const pbr_line *lines, size_t n);

/* The verify op's reply: {"checked":n,"differences":[{contract,quarter,
 * where,detail}]}. */
json_t *pbrd_reply_verify(const pbrd_verify_result *r);

/* The explain op's reply (explain_json.h) for the line (component,
 * period, segment) of the statement in v; {"error":…} naming what is
 * missing when the line cannot be explained. */
json_t *pbrd_reply_explain(const pbrd_explain_view *v, const char *component, const char *period, const char *segment);

#endif

/* explain_json.h -- the reply of the `explain` op and of `pbrctl explain
 * --offline` (kept outside the evaluator: explain.c never sees JSON):
 *   {"contract":C,"title":…,"quarter":Q,"label":…,"as_of":…,"events_through":n,
 *    "contract_sha256":…,"line":{…the line…},"rows":[…],"left_out":[…]}
 * Member rows (binary, frequency) carry offender, index_id, index_date,
 * window, segment, weight, reoffender, reoffences, convictions (event ids)
 * and conviction_dates; clean_period rows the successes with their clock
 * restarts and F (success_on); custody rows the spells and their nights in
 * the quarter; disposals rows the convictions counted with their kind; a
 * volume fee line (5.9.4) the index events counted (offender, index_id,
 * type, date); other fee lines have no rows. An
 * adjustment's rows are the rows that changed since the previous
 * statement's as-of date, each with "change" (added, removed, changed),
 * the figures before, and the ids of the offender's events recorded since.
 */
#ifndef PBR_EXPLAIN_JSON_H
#define PBR_EXPLAIN_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/explain.h"

/* What a statement's line is explained against: contract is the version
 * the statement was issued under; line_version the version the line was
 * first issued under (adjustments; NULL or contract when the same); events
 * hold the events (the statement's events_through limits them). Borrowed. */
typedef struct pbr_explain_source {
    const pbr_contract *contract;
    const pbr_contract *line_version;
    const pbr_eventset *events;
} pbr_explain_source;

/* Explains line k (segment NULL for a line without one) of the statement
 * given as canonical JSON (len bytes), against src. Returns a new reply
 * object (the caller decrefs it), or NULL with err naming what is missing
 * (the line is not in the statement, the statement does not parse, out of
 * memory). */
json_t *pbr_explain_json(const char *statement, size_t len, const pbr_explain_source *src, const pbr_line_key *k,
                         char *err, size_t errlen);

#endif

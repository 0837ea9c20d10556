/* api_reply.c -- owns the JSON shapes of the settlement ops' replies and
 * of the PUB message bodies (api_reply.h), built from the settlement
 * service's structs. */
#include "pbrd/api_reply.h"

#include <stdlib.h>
#include <string.h>

#include "pbr/err.h"
#include "pbr/explain_json.h"
#include "pbr/summary.h"
#include "pbrd/api_request.h"

/* [{contract,quarter,total_pence}] of the issued statements, or NULL. */
static json_t *issued_json(const pbrd_settle_result *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->nissued; i++) {
        const pbrd_issued *st = &r->issued[i];
        if (json_array_append_new(a,
                                  json_pack("{ss ss sI}", "contract", st->contract, "quarter", st->quarter,
                                            "total_pence", (json_int_t)st->total_pence)) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

json_t *pbrd_reply_settle(const pbrd_settle_result *r, const char *interrupted)
{
    json_t *issued = issued_json(r);
    if (issued == NULL)
        return NULL;
    if (r->error != NULL)
        return json_pack("{ss so}", "error", r->error, "issued", issued);
    if (interrupted != NULL)
        return json_pack("{so ss}", "issued", issued, "interrupted", interrupted);
    return json_pack("{so}", "issued", issued);
}

json_t *pbrd_reply_reload(const pbrd_reload_result *r)
{
    json_t *loaded = json_array(), *errors = json_array();
    int bad = loaded == NULL || errors == NULL;
    for (size_t i = 0; !bad && i < r->nloaded; i++)
        bad = json_array_append_new(loaded, json_string(r->loaded[i])) != 0;
    for (size_t i = 0; !bad && i < r->nerrors; i++) {
        const pbr_diag *d = &r->errors[i];
        bad = json_array_append_new(errors,
                                    json_pack("{ss si si ss}", "file", d->file, "line", d->line, "column", d->column,
                                              "message", d->message)) != 0;
    }
    if (bad) {
        json_decref(loaded);
        json_decref(errors);
        return NULL;
    }
    return json_pack("{so so}", "loaded", loaded, "errors", errors);
}

json_t *pbrd_reply_statement_message(const pbrd_issued *st, const char *sha256)
{
    return json_pack("{ss ss sI ss}", "contract", st->contract, "quarter", st->quarter, "total_pence",
                     (json_int_t)st->total_pence, "sha256", sha256);
}

json_t *pbrd_reply_contracts(const pbrd_contract_row *rows, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < n; i++) {
        const pbrd_contract_row *r = &rows[i];
        json_t *last = r->last_statement[0] ? json_string(r->last_statement) : json_null();
        json_array_append_new(list,
                              json_pack("{ss ss ss ss so ss sI ss}", "contract", r->contract, "provider", r->provider,
                                        "title", r->title, "sha256", r->sha256, "last_statement", last, "first_loaded",
                                        r->first_loaded, "due", (json_int_t)r->due, "state",
                                        r->state)); /* a row that cannot be built is left out */
    }
    return list ? json_pack("{so}", "contracts", list) : NULL;
}

json_t *pbrd_reply_statements(const pbrd_statement_list *l)
{
    json_t *rows = json_array();
    if (rows == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        json_t *row = pbr_statement_summary_json(l->statements[i], strlen(l->statements[i]));
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            return pbrd_api_error("statements: unreadable statement record in the store");
        }
    }
    json_t *cap = l->has_contract_cap ? json_integer((json_int_t)l->contract_cap_pence) : json_null();
    return json_pack("{ss ss ss so so}", "contract", l->contract, "title", l->title, "provider", l->provider,
                     "contract_cap_pence", cap, "statements", rows);
}

json_t *pbrd_reply_cohorts(const char *contract, pbr_date today, const pbr_line *lines, size_t n)
{
    char asof[PBR_DATE_STRLEN];
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) { /* a line is canonical JSON of its own (statement.h) */
        char *j = pbr_line_to_json(&lines[i], NULL);
        json_t *o = j ? json_loads(j, 0, NULL) : NULL;
        free(j);
        if (o)
            json_array_append_new(arr, o);
    }
    pbr_date_format(today, asof);
    return json_pack("{ss ss so}", "contract", contract, "as_of", asof, "provisional", arr);
}

json_t *pbrd_reply_verify(const pbrd_verify_result *r)
{
    json_t *diffs = json_array();
    for (size_t i = 0; diffs != NULL && i < r->ndiffs; i++) {
        const pbrd_difference *d = &r->diffs[i];
        json_array_append_new(diffs,
                              json_pack("{ss ss ss ss}", "contract", d->contract, "quarter", d->quarter, "where",
                                        d->where, "detail", d->detail)); /* likewise */
    }
    return diffs ? json_pack("{sI so}", "checked", (json_int_t)r->checked, "differences", diffs) : NULL;
}

json_t *pbrd_reply_explain(const pbrd_explain_view *v, const char *component, const char *period, const char *segment)
{
    char err[PBR_ERR_MAX] = "";
    const char *st = v->record.statement;
    pbr_explain_source src = {.contract = v->version, .line_version = v->line_version, .events = v->events};
    pbr_line_key key = {.component = component, .period = period, .segment = segment};
    json_t *reply = pbr_explain_json(st, strlen(st), &src, &key, err, sizeof err);
    return reply ? reply : pbrd_api_error("%s", err[0] ? err : "explain: unreadable statement record");
}

/* ledger_json.c -- owns the JSON form of a settlement ledger: one object
 * {"next": quarter or null, "computed_total": U, "keys": [...]}, a key per
 * line already issued, in order of first issue. Built through settle.h's
 * read view and pbr_ledger_restore, so the evaluator stays free of JSON.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/ledger_json.h"
#include "pbr/err.h"

char *pbr_ledger_to_json(const pbr_ledger *l)
{
    char next[PBR_DATE_STRLEN] = "";
    pbr_date nq = pbr_ledger_next_quarter(l);
    if (nq != PBR_DATE_NONE)
        pbr_date_format(nq, next);
    json_t *keys = json_array();
    if (keys == NULL)
        return NULL;
    for (size_t i = 0; i < pbr_ledger_count(l); i++) {
        pbr_ledger_entry e;
        pbr_ledger_entry_at(l, i, &e);
        if (json_array_append_new(keys,
                                  json_pack("{s:s, s:s, s:o, s:b, s:s, s:I}", "component", e.component, "period",
                                            e.period, "segment", e.segment ? json_string(e.segment) : json_null(),
                                            "fee", e.fee, "version", e.version, "issued", (json_int_t)e.issued)) != 0) {
            json_decref(keys);
            return NULL;
        }
    }
    json_t *root = json_pack("{s:s?, s:I, s:o}", "next", nq == PBR_DATE_NONE ? NULL : next, "computed_total",
                             (json_int_t)pbr_ledger_computed_total(l), "keys", keys);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}

/* Reads one key object into e (strings borrowed from k). Returns 0, or -1
 * when a required field is missing or of the wrong type. */
static int read_entry(json_t *k, pbr_ledger_entry *e)
{
    json_t *seg = json_object_get(k, "segment");
    json_t *issued = json_object_get(k, "issued");
    e->component = json_string_value(json_object_get(k, "component"));
    e->period = json_string_value(json_object_get(k, "period"));
    e->version = json_string_value(json_object_get(k, "version"));
    e->segment = json_is_string(seg) ? json_string_value(seg) : NULL;
    e->fee = json_is_true(json_object_get(k, "fee"));
    e->issued = json_integer_value(issued);
    if (e->component == NULL || e->period == NULL || e->version == NULL || !json_is_integer(issued))
        return -1;
    return 0;
}

pbr_ledger *pbr_ledger_from_json(const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    pbr_ledger_entry *entries = NULL;
    pbr_ledger *l = NULL;
    json_t *root = json_loadb(json, len, 0, &je);
    if (root == NULL) {
        pbr_errf(err, errlen, "ledger: %s", je.text);
        return NULL;
    }
    json_t *keys = json_object_get(root, "keys"), *next = json_object_get(root, "next");
    pbr_date nq = PBR_DATE_NONE;
    if (!json_is_array(keys) || !json_is_integer(json_object_get(root, "computed_total")))
        goto bad;
    if (json_is_string(next) && pbr_date_parse(json_string_value(next), json_string_length(next), &nq) != 0)
        goto bad;
    size_t n = json_array_size(keys);
    entries = calloc(n ? n : 1, sizeof *entries);
    l = pbr_ledger_new();
    if (entries == NULL || l == NULL)
        goto bad;
    for (size_t i = 0; i < n; i++)
        if (read_entry(json_array_get(keys, i), &entries[i]) != 0)
            goto bad;
    if (pbr_ledger_restore(l, nq, json_integer_value(json_object_get(root, "computed_total")), entries, n) != 0)
        goto bad;
    free(entries);
    json_decref(root);
    return l;
bad:
    pbr_errf(err, errlen, "ledger: malformed record");
    pbr_ledger_destroy(&l);
    free(entries);
    json_decref(root);
    return NULL;
}

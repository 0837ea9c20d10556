/* summary.c -- fees/outcomes/adjustments splits and running totals per
 * settlement year and lifetime (summary.h). */
#include "pbr/summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/mem.h"

int64_t pbr_split_total(const pbr_split *s)
{
    return s->fees + s->outcomes + s->adjustments;
}

void pbr_split_add(pbr_split *into, const pbr_split *s)
{
    into->fees += s->fees;
    into->outcomes += s->outcomes;
    into->adjustments += s->adjustments;
}

void pbr_split_add_line(pbr_split *s, const char *kind, int64_t amount_pence)
{
    if (!strcmp(kind, "fee"))
        s->fees += amount_pence;
    else if (!strcmp(kind, "outcome") || !strcmp(kind, "pooled"))
        s->outcomes += amount_pence;
    else if (!strcmp(kind, "adjustment"))
        s->adjustments += amount_pence;
}

void pbr_split_statement(const pbr_statement *st, pbr_split *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < st->nlines; i++) {
        const pbr_line *l = &st->lines[i];
        if (l->kind == PBR_LINE_FEE)
            out->fees += l->amount_pence;
        else if (l->kind == PBR_LINE_ADJUSTMENT)
            out->adjustments += l->amount_pence;
        else
            out->outcomes += l->amount_pence;
    }
}

void pbr_year_of_label(const char *label, char *out, size_t n)
{
    const char *q = strstr(label, " Q");
    size_t len = q ? (size_t)(q - label) : strlen(label);
    snprintf(out, n, "%.*s", (int)len, label);
}

int pbr_totals_add(pbr_totals *t, const char *label, const pbr_split *s)
{
    char year[16];
    pbr_year_of_label(label, year, sizeof year);
    if (t->nyears == 0 || strcmp(t->years[t->nyears - 1].year, year) != 0) {
        if (pbr_grow((void **)&t->years, &t->cap, t->nyears + 1, sizeof *t->years) != 0)
            return -1;
        pbr_year_total *y = &t->years[t->nyears++];
        memset(y, 0, sizeof *y);
        snprintf(y->year, sizeof y->year, "%s", year);
    }
    pbr_split_add(&t->years[t->nyears - 1].split, s);
    pbr_split_add(&t->life, s);
    return 0;
}

void pbr_totals_clear(pbr_totals *t)
{
    free(t->years);
    memset(t, 0, sizeof *t);
}

/* Sums the lines of a parsed statement into out. */
static void split_of(const json_t *st, pbr_split *out)
{
    memset(out, 0, sizeof *out);
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(st, "lines"), i, l)
    {
        const char *kind = json_string_value(json_object_get(l, "kind"));
        pbr_split_add_line(out, kind ? kind : "", (int64_t)json_integer_value(json_object_get(l, "amount_pence")));
    }
}

json_t *pbr_statement_summary_json(const char *json, size_t len)
{
    json_t *st = json_loadb(json, len, 0, NULL);
    if (!json_is_array(json_object_get(st, "lines"))) {
        json_decref(st);
        return NULL;
    }
    pbr_split s;
    split_of(st, &s);
    json_t *row =
        json_pack("{sO sO sO sO sO sI sI sI sI sO}", "quarter", json_object_get(st, "quarter"), "label",
                  json_object_get(st, "label"), "as_of", json_object_get(st, "as_of"), "events_through",
                  json_object_get(st, "events_through"), "contract_sha256", json_object_get(st, "contract_sha256"),
                  "lines", (json_int_t)json_array_size(json_object_get(st, "lines")), "fees_pence", (json_int_t)s.fees,
                  "outcomes_pence", (json_int_t)s.outcomes, "adjustments_pence", (json_int_t)s.adjustments,
                  "total_pence", json_object_get(st, "total_pence"));
    json_decref(st);
    return row;
}

/* explain_json.c -- the explain reply (explain_json.h): finds the line in
 * the statement, derives its rows with pbr_explain_line as of the
 * statement's date, and writes them as JSON. */
#include "pbr/explain_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/explain.h"
#include "pbr/settle.h"
#include "pbr/err.h"

static json_t *date_or_null(pbr_date d)
{
    char s[PBR_DATE_STRLEN];
    if (d == PBR_DATE_NONE || d == PBR_DATE_MAX)
        return json_null();
    pbr_date_format(d, s);
    return json_string(s);
}

/* Does a line's segment s (NULL: none) equal want (NULL: none)? */
static int same_segment(const char *s, const char *want)
{
    if (want == NULL)
        return s == NULL;
    return s != NULL && strcmp(s, want) == 0;
}

/* The line of section `lines` or `provisional` with this key, or NULL. */
static json_t *find_line(json_t *st, const char *component, const char *period, const char *segment)
{
    static const char *const sections[] = {"lines", "provisional"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(st, sections[k]), i, l)
        {
            const char *c = json_string_value(json_object_get(l, "component"));
            const char *p = json_string_value(json_object_get(l, "period"));
            const char *s = json_string_value(json_object_get(l, "segment"));
            if (c && p && !strcmp(c, component) && !strcmp(p, period) && same_segment(s, segment))
                return l;
        }
    }
    return NULL;
}

static json_t *segment_json(const pbr_outcome *o, const pbr_xrow *r)
{
    return r->segment >= 0 && (size_t)r->segment < o->nsegments ? json_string(o->segments[r->segment].name)
                                                                : json_null();
}

/* The weight as an exact decimal string: "1", or the OGRS ("0.4500"). */
static json_t *weight_json(const pbr_outcome *o, const pbr_xrow *r)
{
    char s[32];
    if (!o->pay.weight_ogrs)
        return json_string("1");
    snprintf(s, sizeof s, "%d.%04d", r->weight / 10000, r->weight % 10000);
    return json_string(s);
}

static json_t *ids_json(const pbr_eventset *ev, const pbr_ev *const *v, size_t n, int dates)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, dates ? date_or_null(v[i]->date) : json_string(pbr_eventset_id(ev, v[i])));
    return a;
}

/* One row as JSON, shaped by the component's measure (o NULL: a volume
 * line's index event). */
static json_t *row_json(const pbr_outcome *o, const pbr_eventset *ev, const pbr_xrow *r)
{
    const char *off = pbr_eventset_offender_name(ev, r->event->offender);
    const char *id = pbr_eventset_id(ev, r->event);
    if (o == NULL)
        return json_pack("{ss ss ss so}", "offender", off, "index_id", id, "type",
                         pbr_event_type_name((pbr_event_type)r->event->type), "date", date_or_null(r->event->date));
    switch (o->measure) {
    case PBR_M_BINARY:
    case PBR_M_FREQUENCY:
        return json_pack("{ss ss so ss so so sb sI so so}", "offender", off, "index_id", id, "index_date",
                         date_or_null(r->event->date), "window", r->window, "segment", segment_json(o, r), "weight",
                         weight_json(o, r), "reoffender", r->reoffender, "reoffences", (json_int_t)r->reoffences,
                         "convictions", ids_json(ev, r->convictions, r->nconvictions, 0), "conviction_dates",
                         ids_json(ev, r->convictions, r->nconvictions, 1));
    case PBR_M_CLEAN_PERIOD:
        return json_pack("{ss ss so ss so so so so so so}", "offender", off, "index_id", id, "index_date",
                         date_or_null(r->event->date), "window", r->window, "segment", segment_json(o, r), "weight",
                         weight_json(o, r), "restarts", ids_json(ev, r->convictions, r->nconvictions, 0),
                         "restart_dates", ids_json(ev, r->convictions, r->nconvictions, 1), "clock",
                         date_or_null(r->clock), "success_on", date_or_null(r->success_on));
    case PBR_M_CUSTODY_NIGHTS:
        return json_pack("{ss ss so so so so sI}", "offender", off, "reception_id", id, "from",
                         date_or_null(r->event->date), "discharge_id",
                         r->end ? json_string(pbr_eventset_id(ev, r->end)) : json_null(), "to",
                         r->end ? date_or_null(r->end->date) : json_null(), "segment", segment_json(o, r), "nights",
                         (json_int_t)r->nights);
    case PBR_M_DISPOSALS:
        return json_pack("{ss ss so so ss so}", "offender", off, "conviction_id", id, "date",
                         date_or_null(r->event->date), "offence_date", date_or_null(r->event->offence_date), "disposal",
                         pbr_disposal_name((pbr_disposal)r->event->disposal), "segment", segment_json(o, r));
    }
    return NULL;
}

static json_t *left_json(const pbr_eventset *ev, const pbr_xrow *r)
{
    return json_pack("{ss ss ss ss}", "offender", pbr_eventset_offender_name(ev, r->event->offender), "index_id",
                     pbr_eventset_id(ev, r->event), "window", r->window, "reason", r->reason);
}

/* The figures of a row that an adjustment can change. */
static int same_row(const pbr_xrow *a, const pbr_xrow *b)
{
    if (a->reoffender != b->reoffender || a->reoffences != b->reoffences || a->nights != b->nights ||
        a->nconvictions != b->nconvictions || a->end != b->end || a->success_on != b->success_on)
        return 0;
    for (size_t i = 0; i < a->nconvictions; i++) {
        if (a->convictions[i] != b->convictions[i])
            return 0;
    }
    return 1;
}

static const pbr_xrow *find_row(const pbr_explanation *x, const pbr_ev *e)
{
    for (size_t i = 0; i < x->nrows; i++) {
        if (x->rows[i].event == e)
            return &x->rows[i];
    }
    return NULL;
}

/* The ids of the offender's events (voids excluded) recorded in (from, to]. */
static json_t *recorded_since(const pbr_eventset *ev, uint32_t offender, pbr_date from, pbr_date to)
{
    size_t n;
    const pbr_ev *es = pbr_eventset_offender_events(ev, offender, &n);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (es[i].recorded > from && es[i].recorded <= to)
            json_array_append_new(a, json_string(pbr_eventset_id(ev, &es[i])));
    }
    return a;
}

/* Appends to rows one changed row: the row now (or before, when removed). */
static void add_change(json_t *rows, const pbr_outcome *o, const pbr_eventset *ev, const pbr_xrow *now,
                       const pbr_xrow *before, pbr_date prev_asof, pbr_date asof)
{
    const pbr_xrow *r = now ? now : before;
    json_t *j = r ? row_json(o, ev, r) : NULL;
    if (j == NULL)
        return;
    json_object_set_new(j, "change", json_string(!before ? "added" : !now ? "removed" : "changed"));
    if (before && now) {
        json_t *prev = row_json(o, ev, before);
        json_object_del(prev, "offender");
        json_object_set_new(j, "before", prev);
    }
    json_object_set_new(j, "recorded_since", recorded_since(ev, r->event->offender, prev_asof, asof));
    json_array_append_new(rows, j);
}

/* Rows of an adjustment: those that differ between the previous
 * statement's as-of date and v->as_of (v over the version the line was
 * first issued under). Returns 0 or -1 (err). */
static int adjustment_rows(const pbr_eval_view *v, pbr_date q, const pbr_line_key *k, json_t *rows, char *err,
                           size_t errlen)
{
    const pbr_eventset *ev = v->events;
    pbr_date asof = v->as_of;
    pbr_date prev_asof = pbr_issue_date(v->contract, pbr_add_months(q, -3));
    pbr_eval_view prev = *v;
    prev.as_of = prev_asof;
    pbr_explanation now, before;
    if (pbr_explain_line(v, k, &now, err, errlen) < 0)
        return -1;
    if (pbr_explain_line(&prev, k, &before, err, errlen) < 0) {
        pbr_explanation_clear(&now);
        return -1;
    }
    if (now.outcome != NULL || now.fee != NULL) {
        for (size_t i = 0; i < now.nrows; i++) {
            const pbr_xrow *b = find_row(&before, now.rows[i].event);
            if (b == NULL || !same_row(b, &now.rows[i]))
                add_change(rows, now.outcome, ev, &now.rows[i], b, prev_asof, asof);
        }
        for (size_t i = 0; i < before.nrows; i++) {
            if (find_row(&now, before.rows[i].event) == NULL)
                add_change(rows, now.outcome, ev, NULL, &before.rows[i], prev_asof, asof);
        }
    }
    pbr_explanation_clear(&before);
    pbr_explanation_clear(&now);
    return 0;
}

/* Rows and left_out of an outcome or pooled line. Returns 0 or -1 (err). */
static int line_rows(const pbr_eval_view *v, const pbr_line_key *k, json_t *rows, json_t *left, char *err,
                     size_t errlen)
{
    const pbr_eventset *ev = v->events;
    pbr_explanation x;
    int rc = pbr_explain_line(v, k, &x, err, errlen);
    if (rc < 0)
        return -1;
    for (size_t i = 0; (x.outcome != NULL || x.fee != NULL) && i < x.nrows; i++)
        json_array_append_new(rows, row_json(x.outcome, ev, &x.rows[i]));
    for (size_t i = 0; i < x.nleft; i++)
        json_array_append_new(left, left_json(ev, &x.left_out[i]));
    pbr_explanation_clear(&x);
    return 0;
}

json_t *pbr_explain_json(const char *statement, size_t len, const pbr_explain_source *src, const pbr_line_key *k,
                         char *err, size_t errlen)
{
    const pbr_contract *c = src->contract, *line_version = src->line_version;
    const pbr_eventset *ev = src->events;
    const char *component = k->component, *period = k->period, *segment = k->segment;
    json_t *st = json_loadb(statement, len, 0, NULL);
    const char *quarter = json_string_value(json_object_get(st, "quarter"));
    const char *asof_s = json_string_value(json_object_get(st, "as_of"));
    pbr_date q, asof;
    if (quarter == NULL || asof_s == NULL || pbr_date_parse(quarter, strlen(quarter), &q) != 0 ||
        pbr_date_parse(asof_s, strlen(asof_s), &asof) != 0) {
        json_decref(st);
        pbr_errf(err, errlen, "explain: not a statement");
        return NULL;
    }
    json_t *line = find_line(st, component, period, segment);
    if (line == NULL) {
        pbr_errf(err, errlen, "explain: statement %s %s has no line %s %s%s%s", c->id, quarter, component, period,
                 segment ? " " : "", segment ? segment : "");
        json_decref(st);
        return NULL;
    }
    uint64_t through = (uint64_t)json_integer_value(json_object_get(st, "events_through"));
    const char *kind = json_string_value(json_object_get(line, "kind"));
    json_t *rows = json_array(), *left = json_array();
    int rc = 0;
    if (kind && !strcmp(kind, "adjustment")) {
        pbr_eval_view first_issued = {
            .contract = line_version ? line_version : c, .events = ev, .events_through = through, .as_of = asof};
        rc = adjustment_rows(&first_issued, q, k, rows, err, errlen);
    } else {
        pbr_eval_view current = {.contract = c, .events = ev, .events_through = through, .as_of = asof};
        rc = line_rows(&current, k, rows, left, err, errlen);
    }
    json_t *reply = NULL;
    if (rc == 0)
        reply = json_pack("{sO ss sO sO sO sO sO sO so so}", "contract", json_object_get(st, "contract"), "title",
                          c->title, "quarter", json_object_get(st, "quarter"), "label", json_object_get(st, "label"),
                          "as_of", json_object_get(st, "as_of"), "events_through",
                          json_object_get(st, "events_through"), "contract_sha256",
                          json_object_get(st, "contract_sha256"), "line", line, "rows", rows, "left_out", left);
    else {
        json_decref(rows);
        json_decref(left);
    }
    if (rc == 0 && reply == NULL)
        pbr_errf(err, errlen, "explain: out of memory");
    json_decref(st);
    return reply;
}

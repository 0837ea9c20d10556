/* statement.c -- statements as canonical JSON (SPEC.md section 6) and their
 * YAML, CSV and text renderings.
 *
 * Canonical JSON is built with jansson (insertion order kept, separators
 * ", " and ": ", ASCII only). Renderings parse canonical JSON back, so they
 * work the same on a statement computed here or received from the daemon.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/money.h"
#include "pbr/num.h"
#include "pbr/statement.h"
#include "pbr/err.h"

void pbr_statement_clear(pbr_statement *s)
{
    if (s == NULL)
        return;
    free(s->lines);
    free(s->provisional);
    s->lines = s->provisional = NULL;
    s->nlines = s->nprovisional = 0;
}

void pbr_statement_destroy(pbr_statement **sp)
{
    if (sp == NULL || *sp == NULL)
        return;
    pbr_statement_clear(*sp);
    free(*sp);
    *sp = NULL;
}

const char *pbr_line_kind_name(pbr_line_kind k)
{
    switch (k) {
    case PBR_LINE_FEE: return "fee";
    case PBR_LINE_OUTCOME: return "outcome";
    case PBR_LINE_POOLED: return "pooled";
    case PBR_LINE_ADJUSTMENT: return "adjustment";
    }
    return "outcome";
}

static json_t *date_json(pbr_date d)
{
    char b[PBR_DATE_STRLEN];
    pbr_date_format(d, b);
    return json_string(b);
}

static json_t *count_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *num_json(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *segment_json(const pbr_line *l)
{
    return l->has_segment ? json_string(l->segment) : json_null();
}

/* Returns a new JSON object for one line (jansson reference), or NULL. */
static json_t *line_object(const pbr_line *l)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "kind", json_string(pbr_line_kind_name(l->kind)));
    json_object_set_new(o, "component", json_string(l->component));
    json_object_set_new(o, "period", json_string(l->period));
    if (l->kind == PBR_LINE_FEE) {
        json_object_set_new(o, "final_on", date_json(l->final_on));
    } else if (l->kind == PBR_LINE_ADJUSTMENT) {
        json_object_set_new(o, "segment", segment_json(l));
        json_object_set_new(o, "previous_pence", json_integer((json_int_t)l->previous_pence));
    } else {
        json_object_set_new(o, "segment", segment_json(l));
        json_object_set_new(o, "final_on", date_json(l->final_on));
        json_object_set_new(o, "members", count_json(l->members));
        json_object_set_new(o, "excluded", count_json(l->excluded));
        json_object_set_new(o, "reoffenders", count_json(l->reoffenders));
        json_object_set_new(o, "reoffences", count_json(l->reoffences));
        json_object_set_new(o, "actual", num_json(l->actual));
        json_object_set_new(o, "baseline", num_json(l->baseline));
        json_object_set_new(o, "points", num_json(l->points));
        json_object_set_new(o, "percent", num_json(l->percent));
        json_object_set_new(o, "avoided", num_json(l->avoided));
        json_object_set_new(o, "threshold_met", l->threshold_met < 0 ? json_null() : json_boolean(l->threshold_met));
        json_object_set_new(o, "units", num_json(l->units));
    }
    json_object_set_new(o, "amount_pence", json_integer((json_int_t)l->amount_pence));
    return o;
}

static json_t *lines_array(const pbr_line *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, line_object(&v[i]));
    return a;
}

static char *dump(json_t *o, size_t *len)
{
    char *s = o ? json_dumps(o, JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}

char *pbr_line_to_json(const pbr_line *l, size_t *len)
{
    return dump(line_object(l), len);
}

char *pbr_statement_to_json(const pbr_statement *s, size_t *len)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "contract", json_string(s->contract));
    json_object_set_new(o, "contract_sha256", json_string(s->sha256));
    json_object_set_new(o, "quarter", date_json(s->quarter));
    json_object_set_new(o, "label", json_string(s->label));
    json_object_set_new(o, "start", date_json(s->start));
    json_object_set_new(o, "end", date_json(s->end));
    json_object_set_new(o, "as_of", date_json(s->as_of));
    json_object_set_new(o, "events_through", json_integer((json_int_t)s->events_through));
    json_object_set_new(o, "lines", lines_array(s->lines, s->nlines));
    json_object_set_new(o, "provisional", lines_array(s->provisional, s->nprovisional));
    json_object_set_new(o, "total_pence", json_integer((json_int_t)s->total_pence));
    return dump(o, len);
}

int pbr_format_from_name(const char *name)
{
    static const char *names[] = {"json", "yaml", "csv", "text"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0)
            return i;
    }
    return -1;
}

/* ---- renderings ----------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap <= b->n + (size_t)w)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A JSON scalar as plain text: strings bare, null as "", numbers and booleans. */
static void scalar_text(const json_t *v, char *out, size_t n)
{
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        snprintf(out, n, "true");
    else if (json_is_false(v))
        snprintf(out, n, "false");
    else
        out[0] = '\0';
}

/* YAML scalar: null, numbers and booleans plain; strings in "quotes". */
static void yaml_scalar(sbuf *b, const json_t *v)
{
    if (json_is_null(v) || v == NULL) {
        sb_printf(b, "null");
    } else if (json_is_string(v)) {
        sb_printf(b, "\"");
        for (const char *p = json_string_value(v); *p; p++) {
            if (*p == '"' || *p == '\\')
                sb_printf(b, "\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                sb_printf(b, "\\x%02x", (unsigned char)*p);
            else
                sb_printf(b, "%c", *p);
        }
        sb_printf(b, "\"");
    } else {
        char t[64];
        scalar_text(v, t, sizeof t);
        sb_printf(b, "%s", t);
    }
}

static void render_yaml_lines(sbuf *b, const char *name, const json_t *lines)
{
    if (json_array_size(lines) == 0) {
        sb_printf(b, "%s: []\n", name);
        return;
    }
    sb_printf(b, "%s:\n", name);
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l)
    {
        const char *k;
        const json_t *v;
        int first = 1;
        json_object_foreach((json_t *)l, k, v)
        {
            sb_printf(b, "%s%s: ", first ? "  - " : "    ", k);
            yaml_scalar(b, v);
            sb_printf(b, "\n");
            first = 0;
        }
    }
}

static void render_yaml(sbuf *b, const json_t *st)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)st, k, v)
    {
        if (json_is_array(v)) {
            render_yaml_lines(b, k, v);
            continue;
        }
        sb_printf(b, "%s: ", k);
        yaml_scalar(b, v);
        sb_printf(b, "\n");
    }
}

/* CSV columns of a line, and whether each is text (escaped against formula
 * injection) or a number (left as it is, so -150 stays a number). */
static const struct {
    const char *name;
    int text;
} csv_columns[] = {{"kind", 1},     {"component", 1},      {"period", 1},      {"segment", 1},    {"final_on", 0},
                   {"members", 0},  {"excluded", 0},       {"reoffenders", 0}, {"reoffences", 0}, {"actual", 0},
                   {"baseline", 0}, {"points", 0},         {"percent", 0},     {"avoided", 0},    {"threshold_met", 0},
                   {"units", 0},    {"previous_pence", 0}, {"amount_pence", 0}};
#define NCSV (sizeof csv_columns / sizeof *csv_columns)

/* One CSV cell (text: escaped against formulas; see money.h). */
static void csv_field(sbuf *b, const char *s, int text)
{
    size_t need = 2 * strlen(s) + 4; /* every quote doubled, the quotes, ' and NUL */
    char *cell = malloc(need);
    if (cell == NULL || pbr_csv_cell(s, text, cell, need) != 0) {
        free(cell);
        b->failed = 1;
        return;
    }
    sb_printf(b, "%s", cell);
    free(cell);
}

/* The columns every row starts with: contract, title, quarter, label, section. */
static void csv_row_start(sbuf *b, const json_t *st, const char *title, const char *section)
{
    char t[128];
    scalar_text(json_object_get(st, "contract"), t, sizeof t);
    csv_field(b, t, 1);
    sb_printf(b, ",");
    csv_field(b, title ? title : "", 1);
    scalar_text(json_object_get(st, "quarter"), t, sizeof t);
    sb_printf(b, ",%s,", t);
    scalar_text(json_object_get(st, "label"), t, sizeof t);
    csv_field(b, t, 1);
    sb_printf(b, ",%s", section);
}

/* A pence cell and its exact pounds beside it ("" when null). */
static void csv_money(sbuf *b, const json_t *v)
{
    char gbp[32] = "";
    if (json_is_integer(v)) {
        pbr_format_gbp_plain((int64_t)json_integer_value(v), gbp, sizeof gbp);
        sb_printf(b, ",%lld,%s", (long long)json_integer_value(v), gbp);
    } else {
        sb_printf(b, ",,");
    }
}

static void render_csv_lines(sbuf *b, const json_t *st, const char *title, const char *section)
{
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(st, section), i, l)
    {
        char t[128];
        csv_row_start(b, st, title, section);
        for (size_t c = 0; c < NCSV; c++) {
            const json_t *v = json_object_get(l, csv_columns[c].name);
            if (!strcmp(csv_columns[c].name, "previous_pence") || !strcmp(csv_columns[c].name, "amount_pence")) {
                csv_money(b, v);
                continue;
            }
            scalar_text(v, t, sizeof t);
            sb_printf(b, ",");
            csv_field(b, t, csv_columns[c].text);
        }
        sb_printf(b, "\n");
    }
}

/* Columns: contract,title,quarter,label,section, the line's keys (pence
 * amounts each followed by their _gbp twin), then a total row. */
static void render_csv(sbuf *b, const json_t *st, const char *title)
{
    sb_printf(b, "contract,title,quarter,label,section");
    for (size_t c = 0; c < NCSV; c++) {
        sb_printf(b, ",%s", csv_columns[c].name);
        if (!strcmp(csv_columns[c].name, "previous_pence"))
            sb_printf(b, ",previous_gbp");
    }
    sb_printf(b, ",amount_gbp\n");
    render_csv_lines(b, st, title, "lines");
    render_csv_lines(b, st, title, "provisional");
    csv_row_start(b, st, title, "total");
    for (size_t c = 0; c + 1 < NCSV; c++)
        sb_printf(b, ",%s", !strcmp(csv_columns[c].name, "previous_pence") ? "," : "");
    csv_money(b, json_object_get(st, "total_pence"));
    sb_printf(b, "\n");
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* The period column's width: 12, or the longest period of the statement
 * (recovery lines: "2015-04-01-recovery"). */
static int period_width(const json_t *st)
{
    static const char *const sections[] = {"lines", "provisional"};
    size_t w = 12, i;
    const json_t *l;
    for (size_t k = 0; k < 2; k++) {
        json_array_foreach(json_object_get(st, sections[k]), i, l)
        {
            size_t n = strlen(str_or(l, "period", ""));
            w = n > w ? n : w;
        }
    }
    return w > 64 ? 64 : (int)w;
}

static void text_line(sbuf *b, const json_t *l, int pw)
{
    char money[PBR_GBP_MAX], seg[80];
    pbr_format_gbp((int64_t)json_integer_value(json_object_get(l, "amount_pence")), money, sizeof money);
    const json_t *sg = json_object_get(l, "segment");
    snprintf(seg, sizeof seg, "%s", json_is_string(sg) ? json_string_value(sg) : "-");
    const char *kind = str_or(l, "kind", "?");
    /* %15s: the pound sign is two bytes and one column */
    sb_printf(b, "  %-10s %-20s %-*s %-10s %15s", kind, str_or(l, "component", ""), pw, str_or(l, "period", ""), seg,
              money);
    if (strcmp(kind, "adjustment") == 0) {
        char prev[PBR_GBP_MAX];
        pbr_format_gbp((int64_t)json_integer_value(json_object_get(l, "previous_pence")), prev, sizeof prev);
        sb_printf(b, "   (previously %s)", prev);
    } else if (strcmp(kind, "fee") != 0) {
        const json_t *members = json_object_get(l, "members");
        sb_printf(b, "   members %lld", (long long)json_integer_value(members));
        if (json_is_string(json_object_get(l, "actual")))
            sb_printf(b, ", actual %s vs baseline %s", str_or(l, "actual", ""), str_or(l, "baseline", ""));
        const json_t *met = json_object_get(l, "threshold_met");
        if (json_is_false(met))
            sb_printf(b, ", gate missed");
    }
    sb_printf(b, "\n");
}

static void render_text(sbuf *b, const json_t *st)
{
    char money[PBR_GBP_MAX];
    sb_printf(b, "Statement %s %s (%s .. %s), as of %s\n", str_or(st, "contract", "?"), str_or(st, "label", ""),
              str_or(st, "start", ""), str_or(st, "end", ""), str_or(st, "as_of", ""));
    sb_printf(b, "contract sha256 %s, events through %lld\n", str_or(st, "contract_sha256", ""),
              (long long)json_integer_value(json_object_get(st, "events_through")));
    int pw = period_width(st);
    sb_printf(b, "  %-10s %-20s %-*s %-10s %14s\n", "kind", "component", pw, "period", "segment", "amount GBP");
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(st, "lines"), i, l) text_line(b, l, pw);
    if (json_array_size(json_object_get(st, "lines")) == 0)
        sb_printf(b, "  (no payable lines)\n");
    pbr_format_gbp((int64_t)json_integer_value(json_object_get(st, "total_pence")), money, sizeof money);
    sb_printf(b, "  %-*s %15s\n", 44 + pw, "TOTAL", money);
    if (json_array_size(json_object_get(st, "provisional")) > 0) {
        sb_printf(b, "Provisional (not payable):\n");
        json_array_foreach(json_object_get(st, "provisional"), i, l) text_line(b, l, pw);
    }
}

char *pbr_statement_render(const char *json, size_t len, pbr_format fmt, char *err, size_t errlen)
{
    return pbr_statement_render_titled(json, len, fmt, NULL, err, errlen);
}

char *pbr_statement_render_titled(const char *json, size_t len, pbr_format fmt, const char *title, char *err,
                                  size_t errlen)
{
    json_error_t je;
    json_t *st = json_loadb(json, len, 0, &je);
    if (st == NULL || !json_is_object(st) || !json_is_array(json_object_get(st, "lines"))) {
        pbr_errf(err, errlen, "not a statement: %s", st ? "missing \"lines\"" : je.text);
        json_decref(st);
        return NULL;
    }
    sbuf b = {NULL, 0, 0, 0};
    switch (fmt) {
    case PBR_FMT_JSON: sb_printf(&b, "%.*s", (int)len, json); break;
    case PBR_FMT_YAML: render_yaml(&b, st); break;
    case PBR_FMT_CSV: render_csv(&b, st, title); break;
    case PBR_FMT_TEXT: render_text(&b, st); break;
    }
    json_decref(st);
    if (b.failed || b.p == NULL) {
        free(b.p);
        pbr_errf(err, errlen, "render: out of memory");
        return NULL;
    }
    return b.p;
}

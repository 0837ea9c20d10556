/* cmd_explain.c -- the rows behind one line of one statement:
 *   pbrctl explain CONTRACT QUARTER COMPONENT PERIOD [SEGMENT] [--format F]
 *   pbrctl explain --offline CONTRACT.yaml EVENTS.jsonl QUARTER COMPONENT PERIOD [SEGMENT]
 * From the daemon (the explain op: the issued statement as it was
 * computed) or offline (the statement simulate computes for QUARTER). The
 * reply (explain_json.h) is printed as JSON, as CSV (contract, title,
 * quarter, label, section, then one column per key seen, one row per row
 * and per member left out, lists joined with ';') or as text (the line,
 * then the rows as a table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/explain_json.h"
#include "pbr/settle.h"
#include "pbrctl/tools.h"

enum { F_TEXT, F_JSON, F_CSV };
static const char *const formats[] = {"text", "json", "csv", NULL};

/* A cell of a row as text: strings bare, lists joined with ';', null "",
 * booleans yes/no (csv: true/false, as the statement CSV). */
static void cell_text_as(const json_t *v, char *out, size_t n, int csv)
{
    out[0] = '\0';
    if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(out, n, "%s", json_is_true(v) ? (csv ? "true" : "yes") : (csv ? "false" : "no"));
    } else if (json_is_array(v)) {
        size_t i, k = 0;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            char t[256];
            cell_text_as(e, t, sizeof t, csv);
            int w = snprintf(out + k, n - k, "%s%s", i ? ";" : "", t);
            if (w < 0 || (size_t)w >= n - k)
                break;
            k += (size_t)w;
        }
    } else if (json_is_object(v)) {
        /* an adjustment's "before": the figures that can change */
        static const char *const keys[] = {"reoffender", "reoffences", "convictions", "nights", "to", "success_on"};
        size_t k = 0;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            json_t *e = json_object_get(v, keys[i]);
            char t[256];
            if (e == NULL)
                continue;
            cell_text_as(e, t, sizeof t, csv);
            int w = snprintf(out + k, n - k, "%s%s=%s", k ? " " : "", keys[i], t[0] ? t : "-");
            if (w < 0 || (size_t)w >= n - k)
                break;
            k += (size_t)w;
        }
    }
}

static void cell_text(const json_t *v, char *out, size_t n)
{
    cell_text_as(v, out, n, 0);
}

/* Appends every key of the rows of arr not yet in cols. */
static void collect_columns(json_t *cols, json_t *arr)
{
    size_t i;
    json_t *row;
    json_array_foreach(arr, i, row)
    {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v)
        {
            size_t j;
            json_t *c;
            int seen = 0;
            json_array_foreach(cols, j, c) seen |= !strcmp(json_string_value(c), k);
            if (!seen)
                json_array_append_new(cols, json_string(k));
        }
    }
}

static const char *str_or_empty(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void csv_rows(json_t *r, json_t *cols, const char *section)
{
    size_t i, j;
    json_t *row, *c;
    json_array_foreach(json_object_get(r, section), i, row)
    {
        csv_cell(stdout, 1, json_string_value(json_object_get(r, "contract")), 1);
        csv_cell(stdout, 0, str_or_empty(r, "title"), 1);
        csv_cell(stdout, 0, str_or_empty(r, "quarter"), 0);
        csv_cell(stdout, 0, str_or_empty(r, "label"), 1);
        csv_cell(stdout, 0, section, 1);
        json_array_foreach(cols, j, c)
        {
            char t[4096];
            json_t *v = json_object_get(row, json_string_value(c));
            cell_text_as(v, t, sizeof t, 1);
            csv_cell(stdout, 0, t, !json_is_integer(v) && !json_is_boolean(v));
        }
        putchar('\n');
    }
}

static void print_csv(json_t *r)
{
    json_t *cols = json_array();
    collect_columns(cols, json_object_get(r, "rows"));
    collect_columns(cols, json_object_get(r, "left_out"));
    printf("contract,title,quarter,label,section");
    size_t j;
    json_t *c;
    json_array_foreach(cols, j, c) printf(",%s", json_string_value(c));
    putchar('\n');
    csv_rows(r, cols, "rows");
    csv_rows(r, cols, "left_out");
    json_decref(cols);
}

/* A table of rows: one column per key, as wide as its widest cell. */
static void text_table(json_t *arr)
{
    json_t *cols = json_array();
    collect_columns(cols, arr);
    size_t nc = json_array_size(cols), i, j;
    int *w = calloc(nc + 1, sizeof *w);
    json_t *row, *c;
    char t[4096];
    json_array_foreach(cols, j, c) w[j] = (int)strlen(json_string_value(c));
    json_array_foreach(arr, i, row) json_array_foreach(cols, j, c)
    {
        cell_text(json_object_get(row, json_string_value(c)), t, sizeof t);
        w[j] = (int)strlen(t) > w[j] ? (int)strlen(t) : w[j];
    }
    printf(" ");
    json_array_foreach(cols, j, c) printf(" %-*s", w[j], json_string_value(c));
    putchar('\n');
    json_array_foreach(arr, i, row)
    {
        printf(" ");
        json_array_foreach(cols, j, c)
        {
            cell_text(json_object_get(row, json_string_value(c)), t, sizeof t);
            printf(" %-*s", w[j], t);
        }
        putchar('\n');
    }
    free(w);
    json_decref(cols);
}

static void print_text(json_t *r)
{
    json_t *l = json_object_get(r, "line");
    char a[PBR_GBP_MAX], t[256];
    cell_text(json_object_get(l, "segment"), t, sizeof t);
    printf("%s %s %s%s%s of %s, statement %s as of %s (events through %lld, contract %.12s)\n",
           json_string_value(json_object_get(l, "kind")), json_string_value(json_object_get(l, "component")),
           json_string_value(json_object_get(l, "period")), t[0] ? " segment " : "", t,
           json_string_value(json_object_get(r, "contract")), json_string_value(json_object_get(r, "quarter")),
           json_string_value(json_object_get(r, "as_of")),
           (long long)json_integer_value(json_object_get(r, "events_through")),
           json_string_value(json_object_get(r, "contract_sha256")));
    printf("  amount %s", fmt_gbp((int64_t)json_integer_value(json_object_get(l, "amount_pence")), a));
    static const char *const counts[] = {"members", "excluded", "reoffenders", "reoffences", "actual", "baseline"};
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
        json_t *v = json_object_get(l, counts[k]);
        if (v && !json_is_null(v)) {
            cell_text(v, t, sizeof t);
            printf(", %s %s", counts[k], t);
        }
    }
    putchar('\n');
    json_t *rows = json_object_get(r, "rows"), *left = json_object_get(r, "left_out");
    printf("\nrows (%zu):\n", json_array_size(rows));
    if (json_array_size(rows) > 0)
        text_table(rows);
    if (json_array_size(left) > 0) {
        printf("\nleft out (%zu):\n", json_array_size(left));
        text_table(left);
    }
}

typedef struct find_ctx {
    pbr_date quarter;
    char *json;
} find_ctx;

/* Keeps the statement of the wanted quarter and stops there. */
static int keep_quarter(void *ctx, const pbr_statement *s)
{
    find_ctx *f = ctx;
    if (s->quarter != f->quarter)
        return 0;
    f->json = pbr_statement_to_json(s, NULL);
    return 1;
}

/* Offline: settles the contract through the quarter and explains the line. */
static json_t *explain_offline(char **pos, int npos, int *status)
{
    pbr_contract *c = NULL;
    pbr_eventset *ev = NULL;
    pbr_diag d;
    char err[PBR_ERR_MAX], msg[PBR_ERR_MAX + 300];
    uint64_t n = 0;
    json_t *r = NULL;
    find_ctx f = {0, NULL};
    *status = 1;
    if (pbr_date_parse(pos[2], strlen(pos[2]), &f.quarter) != 0) {
        fprintf(stderr, "pbrctl explain: QUARTER %s is not a date YYYY-MM-DD\n", pos[2]);
        *status = 2;
        return NULL;
    }
    if (pbr_contract_load(pos[0], &c, &d) != 0) {
        pbr_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
        return NULL;
    }
    ev = pbr_eventset_new();
    if (ev == NULL || pbr_eventset_read_jsonl(ev, pos[1], NULL, NULL, &n, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl explain: %s\n", ev ? err : "out of memory");
        goto out;
    }
    pbr_eval_view view = {.contract = c, .events = ev, .events_through = n};
    pbr_series_request series = {.through = f.quarter, .each = keep_quarter, .ctx = &f};
    int rc = pbr_settle_all(&view, &series, err, sizeof err);
    if (rc < 0 || f.json == NULL) {
        fprintf(stderr, "pbrctl explain: %s\n",
                rc < 0 ? err : "QUARTER is not the first day of a statement quarter of the contract");
        goto out;
    }
    pbr_explain_source src = {.contract = c, .line_version = c, .events = ev};
    pbr_line_key key = {.component = pos[3], .period = pos[4], .segment = npos > 5 ? pos[5] : NULL};
    r = pbr_explain_json(f.json, strlen(f.json), &src, &key, err, sizeof err);
    if (r == NULL)
        fprintf(stderr, "pbrctl explain: %s\n", err);
    else
        *status = 0;
out:
    free(f.json);
    pbr_eventset_destroy(&ev);
    pbr_contract_destroy(&c);
    return r;
}

int cmd_explain(const pbrctl_opts *o, int argc, char **argv)
{
    char *pos[8];
    int npos = 0, offline = 0, fmt = F_TEXT;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--offline")) {
            offline = 1;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if ((fmt = tools_format_index(argv[0], argv[++i], formats)) < 0)
                return 2;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "pbrctl explain: unknown option %s\n", argv[i]);
            return 2;
        } else if (npos < 8) {
            pos[npos++] = argv[i];
        } else {
            npos = 99;
        }
    }
    int need = offline ? 5 : 4;
    if (npos < need || npos > need + 1) {
        fprintf(stderr,
                "usage: pbrctl explain CONTRACT QUARTER COMPONENT PERIOD [SEGMENT] [--format text|json|csv]\n"
                "       pbrctl explain --offline CONTRACT.yaml EVENTS.jsonl QUARTER COMPONENT PERIOD "
                "[SEGMENT]\n");
        return 2;
    }
    int st;
    json_t *r;
    if (offline) {
        r = explain_offline(pos, npos, &st);
    } else {
        json_t *req = json_pack("{ss ss ss ss ss}", "op", "explain", "contract", pos[0], "quarter", pos[1], "component",
                                pos[2], "period", pos[3]);
        if (req && npos > 4)
            json_object_set_new(req, "segment", json_string(pos[4]));
        r = tools_api_call(o, argv[0], req, &st);
    }
    if (r == NULL)
        return st;
    if (fmt == F_JSON) {
        char *text = json_dumps(r, JSON_COMPACT);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (fmt == F_CSV) {
        print_csv(r);
    } else {
        print_text(r);
    }
    json_decref(r);
    return 0;
}

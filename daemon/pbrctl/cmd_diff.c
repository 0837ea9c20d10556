/* cmd_diff.c -- `pbrctl diff OLD.yaml NEW.yaml EVENTS.jsonl [--through
 * QUARTER] [--format text|json|csv]`: what a contract change does to the
 * money. Both versions are settled offline over the same events (the
 * library code the daemon uses); then, per quarter and per line, the old
 * amount, the new amount and the difference, lines only in one version
 * marked, and totals per quarter, per settlement year and over the
 * contract's life. Lines are matched by (kind, component, period,
 * segment); provisional lines are not payable and not compared.
 * Exit status as diff(1): 0 every figure equal (text prints nothing), 1
 * some differ, 2 an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "pbr/summary.h"
#include "pbr/mem.h"
#include "pbrctl/tools.h"

enum { F_TEXT, F_JSON, F_CSV };
static const char *const formats[] = {"text", "json", "csv", NULL};

/* The payable lines of one statement of one version. */
typedef struct qlines {
    pbr_date quarter;
    char label[16];
    pbr_line *lines;
    size_t n;
} qlines;

typedef struct version_run {
    qlines *q;
    size_t n, cap;
    progress *prog;
    uint64_t *done, total;
} version_run;

static int keep_statement(void *ctx, const pbr_statement *s)
{
    version_run *v = ctx;
    if (pbr_grow((void **)&v->q, &v->cap, v->n + 1, sizeof *v->q) != 0)
        return 1;
    qlines *q = &v->q[v->n];
    q->quarter = s->quarter;
    snprintf(q->label, sizeof q->label, "%s", s->label);
    q->n = s->nlines;
    q->lines = malloc((s->nlines ? s->nlines : 1) * sizeof *q->lines);
    if (q->lines == NULL)
        return 1;
    if (s->nlines > 0)
        memcpy(q->lines, s->lines, s->nlines * sizeof *s->lines);
    v->n++;
    progress_update(v->prog, ++*v->done, v->total);
    return 0;
}

static void run_free(version_run *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->q[i].lines);
    free(v->q);
}

static int same_key(const pbr_line *a, const pbr_line *b)
{
    return a->kind == b->kind && !strcmp(a->component, b->component) && !strcmp(a->period, b->period) &&
        a->has_segment == b->has_segment && (!a->has_segment || !strcmp(a->segment, b->segment));
}

static const qlines *find_quarter(const version_run *v, pbr_date q)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->q[i].quarter == q)
            return &v->q[i];
    }
    return NULL;
}

static int64_t sum_lines(const qlines *q)
{
    int64_t t = 0;
    for (size_t i = 0; q && i < q->n; i++)
        t += q->lines[i].amount_pence;
    return t;
}

/* One compared line. only: 0 both, 'o' old only, 'n' new only. */
static json_t *line_json(const pbr_line *l, int64_t old, int64_t new_, int only)
{
    return json_pack("{ss ss ss so sI sI sI so}", "kind", pbr_line_kind_name(l->kind), "component", l->component,
                     "period", l->period, "segment", l->has_segment ? json_string(l->segment) : json_null(),
                     "old_pence", (json_int_t)old, "new_pence", (json_int_t)new_, "diff_pence",
                     (json_int_t)(new_ - old), "only",
                     only == 'o'       ? json_string("old")
                         : only == 'n' ? json_string("new")
                                       : json_null());
}

static json_t *money3(int64_t old, int64_t new_)
{
    return json_pack("{sI sI sI}", "old_pence", (json_int_t)old, "new_pence", (json_int_t)new_, "diff_pence",
                     (json_int_t)(new_ - old));
}

/* Adds the differing lines of quarter q to arr. */
static void compare_quarter(const qlines *a, const qlines *b, json_t *arr)
{
    for (size_t i = 0; a && i < a->n; i++) {
        const pbr_line *l = &a->lines[i], *m = NULL;
        for (size_t j = 0; b && j < b->n && m == NULL; j++)
            m = same_key(l, &b->lines[j]) ? &b->lines[j] : NULL;
        if (m == NULL)
            json_array_append_new(arr, line_json(l, l->amount_pence, 0, 'o'));
        else if (m->amount_pence != l->amount_pence)
            json_array_append_new(arr, line_json(l, l->amount_pence, m->amount_pence, 0));
    }
    for (size_t j = 0; b && j < b->n; j++) {
        int found = 0;
        for (size_t i = 0; a && i < a->n && !found; i++)
            found = same_key(&a->lines[i], &b->lines[j]);
        if (!found)
            json_array_append_new(arr, line_json(&b->lines[j], 0, b->lines[j].amount_pence, 'n'));
    }
}

/* Running totals of one settlement year. */
typedef struct ytot {
    char year[16];
    int64_t old, new_;
} ytot;

/* Builds the diff: quarters with differences, every year, lifetime. */
static json_t *build_diff(const pbr_contract *co, const pbr_contract *cn, const version_run *a, const version_run *b)
{
    json_t *quarters = json_array(), *years = json_array();
    ytot y = {"", 0, 0};
    int64_t lo = 0, ln = 0;
    int differ = 0;
    size_t ia = 0, ib = 0;
    while (ia < a->n || ib < b->n) {
        pbr_date q =
            ia < a->n && (ib >= b->n || a->q[ia].quarter <= b->q[ib].quarter) ? a->q[ia].quarter : b->q[ib].quarter;
        const qlines *qa = find_quarter(a, q), *qb = find_quarter(b, q);
        ia += qa != NULL;
        ib += qb != NULL;
        const char *label = qa ? qa->label : qb->label;
        char year[16], qs[PBR_DATE_STRLEN];
        pbr_year_of_label(label, year, sizeof year);
        if (strcmp(year, y.year) != 0) {
            if (y.year[0])
                json_array_append_new(years, json_pack("{ss so}", "year", y.year, "totals", money3(y.old, y.new_)));
            snprintf(y.year, sizeof y.year, "%s", year);
            y.old = y.new_ = 0;
        }
        int64_t to = sum_lines(qa), tn = sum_lines(qb);
        y.old += to, y.new_ += tn, lo += to, ln += tn;
        json_t *lines = json_array();
        compare_quarter(qa, qb, lines);
        if (json_array_size(lines) > 0 || to != tn || !qa || !qb) {
            differ = 1;
            pbr_date_format(q, qs);
            json_array_append_new(quarters,
                                  json_pack("{ss ss so so sb sb}", "quarter", qs, "label", label, "lines", lines,
                                            "totals", money3(to, tn), "in_old", qa != NULL, "in_new", qb != NULL));
        } else {
            json_decref(lines);
        }
    }
    if (y.year[0])
        json_array_append_new(years, json_pack("{ss so}", "year", y.year, "totals", money3(y.old, y.new_)));
    return json_pack("{s{ss ss ss} s{ss ss ss} sb so so so}", "old", "contract", co->id, "title", co->title, "sha256",
                     co->sha256, "new", "contract", cn->id, "title", cn->title, "sha256", cn->sha256, "equal", !differ,
                     "quarters", quarters, "years", years, "lifetime", money3(lo, ln));
}

static int64_t p(json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *s(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void text_money_row(const char *name, json_t *t)
{
    char a[PBR_GBP_MAX];
    printf("  %-44s", name);
    print_right(stdout, fmt_gbp(p(t, "old_pence"), a), 17);
    print_right(stdout, fmt_gbp(p(t, "new_pence"), a), 17);
    char d[PBR_GBP_MAX + 1];
    int64_t diff = p(t, "diff_pence");
    snprintf(d, sizeof d, "%s%s", diff > 0 ? "+" : "", fmt_gbp(diff, a));
    print_right(stdout, d, 17);
    putchar('\n');
}

static void print_text(json_t *r)
{
    json_t *o = json_object_get(r, "old"), *n = json_object_get(r, "new");
    printf("--- %s (sha256 %.12s)\n+++ %s (sha256 %.12s)\n", s(o, "contract"), s(o, "sha256"), s(n, "contract"),
           s(n, "sha256"));
    printf("  %-44s%17s%17s%17s\n", "", "OLD", "NEW", "DIFFERENCE");
    size_t i, j;
    json_t *q, *l;
    json_array_foreach(json_object_get(r, "quarters"), i, q)
    {
        printf("@@ %s %s%s\n", s(q, "quarter"), s(q, "label"),
               !json_is_true(json_object_get(q, "in_old"))       ? " (only in new)"
                   : !json_is_true(json_object_get(q, "in_new")) ? " (only in old)"
                                                                 : "");
        json_array_foreach(json_object_get(q, "lines"), j, l)
        {
            char name[160];
            const char *only = s(l, "only");
            snprintf(name, sizeof name, "%c %s %s %s%s%s",
                     !strcmp(only, "old")       ? '-'
                         : !strcmp(only, "new") ? '+'
                                                : '~',
                     s(l, "kind"), s(l, "component"), s(l, "period"),
                     json_is_string(json_object_get(l, "segment")) ? " " : "", s(l, "segment"));
            text_money_row(name, l);
        }
        text_money_row("  quarter total", json_object_get(q, "totals"));
    }
    printf("totals per settlement year:\n");
    json_array_foreach(json_object_get(r, "years"), i, q) text_money_row(s(q, "year"), json_object_get(q, "totals"));
    text_money_row("lifetime", json_object_get(r, "lifetime"));
}

static void csv_row(json_t *r, const char *scope, const char *quarter, const char *label, json_t *l, json_t *money)
{
    json_t *nv = json_object_get(r, "new");
    csv_cell(stdout, 1, s(nv, "contract"), 1);
    csv_cell(stdout, 0, s(nv, "title"), 1);
    csv_cell(stdout, 0, scope, 1);
    csv_cell(stdout, 0, quarter, 0);
    csv_cell(stdout, 0, label, 1);
    csv_cell(stdout, 0, l ? s(l, "kind") : "", 1);
    csv_cell(stdout, 0, l ? s(l, "component") : "", 1);
    csv_cell(stdout, 0, l ? s(l, "period") : "", 1);
    csv_cell(stdout, 0, l ? s(l, "segment") : "", 1);
    csv_cell(stdout, 0, l ? s(l, "only") : "", 1);
    csv_money(stdout, p(money, "old_pence"));
    csv_money(stdout, p(money, "new_pence"));
    csv_money(stdout, p(money, "diff_pence"));
    putchar('\n');
}

static void print_csv(json_t *r)
{
    printf("contract,title,scope,quarter,label,kind,component,period,segment,only,old_pence,old_gbp,new_pence,new_gbp,"
           "diff_pence,diff_gbp\n");
    size_t i, j;
    json_t *q, *l;
    json_array_foreach(json_object_get(r, "quarters"), i, q)
    {
        json_array_foreach(json_object_get(q, "lines"), j, l) csv_row(r, "line", s(q, "quarter"), s(q, "label"), l, l);
        csv_row(r, "quarter", s(q, "quarter"), s(q, "label"), NULL, json_object_get(q, "totals"));
    }
    json_array_foreach(json_object_get(r, "years"), i, q)
        csv_row(r, "year", "", s(q, "year"), NULL, json_object_get(q, "totals"));
    csv_row(r, "lifetime", "", "", NULL, json_object_get(r, "lifetime"));
}

typedef struct diff_args {
    const char *old, *new_, *events;
    pbr_date through;
    int fmt;
} diff_args;

static int parse_args(int argc, char **argv, diff_args *a)
{
    memset(a, 0, sizeof *a);
    a->through = PBR_DATE_MAX;
    const char **pos[] = {&a->old, &a->new_, &a->events};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if ((a->fmt = tools_format_index(argv[0], argv[++i], formats)) < 0)
                return -1;
        } else if (!strcmp(argv[i], "--through") && i + 1 < argc) {
            const char *v = argv[++i];
            if (pbr_date_parse(v, strlen(v), &a->through) != 0) {
                fprintf(stderr, "pbrctl diff: --through %s is not a date YYYY-MM-DD\n", v);
                return -1;
            }
        } else if ((argv[i][0] == '-' && argv[i][1] != '\0') || npos == 3) {
            npos = 99;
            break;
        } else {
            *pos[npos++] = argv[i];
        }
    }
    if (npos != 3) {
        fprintf(stderr,
                "usage: pbrctl diff OLD.yaml NEW.yaml EVENTS.jsonl [--through QUARTER] "
                "[--format text|json|csv]\n");
        return -1;
    }
    return 0;
}

static uint64_t count_quarters(const pbr_contract *c, pbr_date through)
{
    uint64_t n = 0;
    for (pbr_date q = pbr_contract_first_quarter(c); q <= pbr_contract_last_quarter(c) && q <= through;
         q = pbr_add_months(q, 3))
        n++;
    return n;
}

int cmd_diff(const pbrctl_opts *o, int argc, char **argv)
{
    (void)o;
    diff_args a;
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    pbr_contract *c[2] = {NULL, NULL};
    const char *paths[2] = {a.old, a.new_};
    pbr_eventset *ev = NULL;
    version_run run[2];
    memset(run, 0, sizeof run);
    int rc = 2;
    char err[PBR_ERR_MAX], msg[PBR_ERR_MAX + 300];
    for (int k = 0; k < 2; k++) {
        pbr_diag d;
        if (pbr_contract_load(paths[k], &c[k], &d) != 0) {
            pbr_diag_format(&d, msg, sizeof msg);
            fprintf(stderr, "%s\n", msg);
            goto out;
        }
    }
    uint64_t n = 0, done = 0;
    ev = pbr_eventset_new();
    if (ev == NULL || pbr_eventset_read_jsonl(ev, a.events, NULL, NULL, &n, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl diff: %s\n", ev ? err : "out of memory");
        goto out;
    }
    progress prog;
    progress_start(&prog, "diff");
    uint64_t total = count_quarters(c[0], a.through) + count_quarters(c[1], a.through);
    for (int k = 0; k < 2; k++) {
        run[k].prog = &prog;
        run[k].done = &done;
        run[k].total = total;
        pbr_eval_view view = {.contract = c[k], .events = ev, .events_through = n};
        pbr_series_request series = {.through = a.through, .each = keep_statement, .ctx = &run[k]};
        int src = pbr_settle_all(&view, &series, err, sizeof err);
        if (src != 0) {
            progress_done(&prog);
            fprintf(stderr, "pbrctl diff: %s: %s\n", paths[k], src < 0 ? err : "out of memory");
            goto out;
        }
    }
    progress_done(&prog);
    json_t *r = build_diff(c[0], c[1], &run[0], &run[1]);
    if (r == NULL) {
        fprintf(stderr, "pbrctl diff: out of memory\n");
        goto out;
    }
    int equal = json_is_true(json_object_get(r, "equal"));
    if (a.fmt == F_JSON) {
        char *text = json_dumps(r, JSON_COMPACT);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (a.fmt == F_CSV) {
        print_csv(r);
    } else if (!equal) {
        print_text(r);
    }
    json_decref(r);
    rc = equal ? 0 : 1;
out:
    for (int k = 0; k < 2; k++)
        run_free(&run[k]);
    pbr_eventset_destroy(&ev);
    pbr_contract_destroy(&c[0]);
    pbr_contract_destroy(&c[1]);
    return rc;
}

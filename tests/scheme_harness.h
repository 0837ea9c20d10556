/* scheme_harness.h -- shared by the settlement tests of SPEC.md sections 5
 * and 9 (test_schemes.c, test_mechanism.c): load a contract and a hand-made
 * JSON Lines file (in file, reversed or interleaved line order), settle every
 * quarter of the statement range with one ledger, and assert statement lines
 * (want/expect_line), statements and whole runs. On a failure the run's
 * statements are written to stderr as canonical JSON.
 */
#ifndef PBR_SCHEME_HARNESS_H
#define PBR_SCHEME_HARNESS_H

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pbr/contract.h"
#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "pbr/files.h"

/* Not every test program uses every helper. */
#define SCHEME_HELPER static __attribute__((unused))

/* ---- the harness ---------------------------------------------------------- */

/* Line orders for the determinism test: the file's, reversed, and taken
 * alternately from both ends (last, first, second last, second, ...). */
typedef enum { ORDER_FILE = 0, ORDER_REVERSED, ORDER_INTERLEAVED } line_order;

typedef struct run {
    char name[160];
    pbr_contract *c;
    pbr_eventset *ev;
    pbr_statement **st; /* one per quarter, in order */
    size_t nst;
} run;

/* The contract version callback: only the loaded version is known. */
SCHEME_HELPER const pbr_contract *version_of(void *ctx, const char *sha256)
{
    const pbr_contract *c = ctx;
    return strcmp(c->sha256, sha256) == 0 ? c : NULL;
}

/* Writes every statement of r as canonical JSON to stderr (debugging aid). */
SCHEME_HELPER void dump_run(const run *r)
{
    fprintf(stderr, "---- statements of %s ----\n", r->name);
    for (size_t i = 0; i < r->nst; i++) {
        size_t len = 0;
        char *j = pbr_statement_to_json(r->st[i], &len);
        fprintf(stderr, "%s\n", j ? j : "(pbr_statement_to_json failed)");
        free(j);
    }
}

#define EXPECT(r, cond, ...)           \
    do {                               \
        if (!(cond)) {                 \
            dump_run(r);               \
            ck_abort_msg(__VA_ARGS__); \
        }                              \
    } while (0)

SCHEME_HELPER void run_free(run *r)
{
    for (size_t i = 0; i < r->nst; i++) {
        pbr_statement_destroy(&r->st[i]);
    }
    free(r->st);
    pbr_eventset_destroy(&r->ev);
    pbr_contract_destroy(&r->c);
    memset(r, 0, sizeof *r);
}

/* Splits text into its non-empty lines (pointers into text, NUL-terminated in
 * place). Returns the number of lines; *out is malloc'd (caller frees). */
SCHEME_HELPER size_t split_lines(char *text, char ***out)
{
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p) {
            if (n == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                ck_assert_ptr_nonnull(v);
            }
            v[n++] = p;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    *out = v;
    return n;
}

/* Position in the file of the k-th line of the given order. */
SCHEME_HELPER size_t line_at(line_order order, size_t n, size_t k)
{
    switch (order) {
    case ORDER_REVERSED: return n - 1 - k;
    case ORDER_INTERLEAVED: return (k % 2 == 0) ? n - 1 - k / 2 : k / 2;
    default: return k;
    }
}

/* Loads the contract and events, settles every quarter of the contract's
 * statement range in order. Aborts the test on any failure. */
SCHEME_HELPER void run_load(run *r, const char *yaml_rel, const char *jsonl_rel, line_order order)
{
    char path[512], err[PBR_ERR_MAX];
    pbr_diag diag;
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s over %s", yaml_rel, jsonl_rel);

    if (pbr_contract_load(pbr_test_path(path, sizeof path, yaml_rel), &r->c, &diag) != 0) {
        char msg[1024];
        pbr_diag_format(&diag, msg, sizeof msg);
        ck_abort_msg("pbr_contract_load: %s", msg);
    }

    size_t len = 0;
    char *text = pbr_read_file(pbr_test_path(path, sizeof path, jsonl_rel), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "pbr_read_file: %s", err);
    char **lines = NULL;
    size_t n = split_lines(text, &lines);
    r->ev = pbr_eventset_new();
    ck_assert_ptr_nonnull(r->ev);
    for (size_t k = 0; k < n; k++) {
        const char *l = lines[line_at(order, n, k)];
        pbr_event e;
        ck_assert_msg(pbr_event_parse(l, strlen(l), &e, err, sizeof err) == 0, "%s line %zu: pbr_event_parse: %s",
                      jsonl_rel, line_at(order, n, k) + 1, err);
        int rc = pbr_eventset_add(r->ev, &e, (uint64_t)(k + 1), err, sizeof err);
        pbr_event_clear(&e);
        ck_assert_msg(rc == 0, "pbr_eventset_add: %s", err);
    }
    free(lines);
    free(text);
    ck_assert_msg(pbr_eventset_finish(r->ev, 1, err, sizeof err) == 0, "pbr_eventset_finish: %s", err);

    pbr_ledger *ledger = pbr_ledger_new();
    ck_assert_ptr_nonnull(ledger);
    pbr_date first = pbr_contract_first_quarter(r->c), last = pbr_contract_last_quarter(r->c);
    ck_assert_msg(first != PBR_DATE_NONE && last >= first, "statement range of %s", yaml_rel);
    pbr_eval_view view = {.contract = r->c, .events = r->ev, .events_through = (uint64_t)n};
    for (pbr_date q = first; q <= last; q = pbr_add_months(q, 3)) {
        pbr_statement *s = NULL;
        char qs[PBR_DATE_STRLEN];
        pbr_date_format(q, qs);
        pbr_settle_request req = {.quarter = q, .versions = version_of, .versions_ctx = r->c};
        if (pbr_settle_quarter(&view, &req, ledger, &s, err, sizeof err) != 0) {
            pbr_ledger_destroy(&ledger);
            dump_run(r);
            ck_abort_msg("pbr_settle_quarter %s %s: %s", r->c->id, qs, err);
        }
        pbr_statement **grown = realloc(r->st, (r->nst + 1) * sizeof *grown);
        ck_assert_ptr_nonnull(grown);
        r->st = grown;
        r->st[r->nst++] = s;
    }
    pbr_ledger_destroy(&ledger);
}

SCHEME_HELPER pbr_date date_of(const char *s)
{
    pbr_date d;
    ck_assert_msg(pbr_date_parse(s, strlen(s), &d) == 0, "bad date in test: %s", s);
    return d;
}

SCHEME_HELPER const pbr_statement *statement_for(const run *r, const char *quarter)
{
    pbr_date q = date_of(quarter);
    for (size_t i = 0; i < r->nst; i++)
        if (r->st[i]->quarter == q)
            return r->st[i];
    return NULL;
}

SCHEME_HELPER int line_has_key(const pbr_line *l, pbr_line_kind kind, const char *component, const char *period,
                               const char *segment)
{
    if (l->kind != kind || strcmp(l->component, component) != 0 || strcmp(l->period, period) != 0)
        return 0;
    if (segment == NULL)
        return !l->has_segment;
    return l->has_segment && strcmp(l->segment, segment) == 0;
}

/* The line (kind, component, period, segment) of the statement for quarter,
 * in its lines (provisional = 0) or provisional lines; NULL if absent. */
SCHEME_HELPER const pbr_line *find_line(const run *r, const char *quarter, int provisional, pbr_line_kind kind,
                                        const char *component, const char *period, const char *segment)
{
    const pbr_statement *s = statement_for(r, quarter);
    if (!s)
        return NULL;
    const pbr_line *v = provisional ? s->provisional : s->lines;
    size_t n = provisional ? s->nprovisional : s->nlines;
    for (size_t i = 0; i < n; i++)
        if (line_has_key(&v[i], kind, component, period, segment))
            return &v[i];
    return NULL;
}

/* How many statements' lines carry the key (outcome lines: exactly one). */
SCHEME_HELPER size_t count_issues(const run *r, pbr_line_kind kind, const char *component, const char *period,
                                  const char *segment)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nst; i++)
        for (size_t j = 0; j < r->st[i]->nlines; j++)
            k += line_has_key(&r->st[i]->lines[j], kind, component, period, segment);
    return k;
}

/* An expected line. String fields: NULL = not checked; counts and decimals
 * as rendered ("null" for null); threshold_met "true"/"false"/"null". */
typedef struct want {
    const char *quarter;
    int provisional;
    pbr_line_kind kind;
    const char *component, *period, *segment;
    const char *final_on;
    const char *members, *excluded, *reoffenders, *reoffences;
    const char *actual, *baseline, *points, *percent, *avoided, *units;
    const char *threshold_met;
    int64_t amount_pence;
    const char *previous_pence;
} want;

SCHEME_HELPER void count_text(int64_t v, char *out, size_t n)
{
    if (v < 0)
        snprintf(out, n, "null");
    else
        snprintf(out, n, "%" PRId64, v);
}

SCHEME_HELPER const char *dec_text(const char *s)
{
    return s[0] ? s : "null";
}

SCHEME_HELPER const char *kind_name(pbr_line_kind k)
{
    static const char *const names[] = {"fee", "outcome", "pooled", "adjustment"};
    return names[k];
}

#define CHECK_FIELD(r, w, field, got)                                                                                 \
    do {                                                                                                              \
        if ((w)->field)                                                                                               \
            EXPECT(r, strcmp((w)->field, (got)) == 0, "%s %s %s/%s/%s: " #field " expected %s, got %s", (w)->quarter, \
                   kind_name((w)->kind), (w)->component, (w)->period, (w)->segment ? (w)->segment : "null",           \
                   (w)->field, (got));                                                                                \
    } while (0)

SCHEME_HELPER void expect_line(const run *r, const want *w)
{
    const pbr_line *l = find_line(r, w->quarter, w->provisional, w->kind, w->component, w->period, w->segment);
    EXPECT(r, l != NULL, "statement %s: no %s%s line %s/%s/%s", w->quarter, w->provisional ? "provisional " : "",
           kind_name(w->kind), w->component, w->period, w->segment ? w->segment : "null");
    char buf[64], fo[PBR_DATE_STRLEN];
    if (w->final_on) {
        pbr_date_format(l->final_on, fo);
        CHECK_FIELD(r, w, final_on, fo);
    }
    count_text(l->members, buf, sizeof buf);
    CHECK_FIELD(r, w, members, buf);
    count_text(l->excluded, buf, sizeof buf);
    CHECK_FIELD(r, w, excluded, buf);
    count_text(l->reoffenders, buf, sizeof buf);
    CHECK_FIELD(r, w, reoffenders, buf);
    count_text(l->reoffences, buf, sizeof buf);
    CHECK_FIELD(r, w, reoffences, buf);
    CHECK_FIELD(r, w, actual, dec_text(l->actual));
    CHECK_FIELD(r, w, baseline, dec_text(l->baseline));
    CHECK_FIELD(r, w, points, dec_text(l->points));
    CHECK_FIELD(r, w, percent, dec_text(l->percent));
    CHECK_FIELD(r, w, avoided, dec_text(l->avoided));
    CHECK_FIELD(r, w, units, dec_text(l->units));
    const char *tm = l->threshold_met < 0 ? "null" : l->threshold_met ? "true" : "false";
    CHECK_FIELD(r, w, threshold_met, tm);
    snprintf(buf, sizeof buf, "%" PRId64, l->previous_pence);
    CHECK_FIELD(r, w, previous_pence, buf);
    EXPECT(r, l->amount_pence == w->amount_pence, "%s %s %s/%s/%s: amount_pence expected %" PRId64 ", got %" PRId64,
           w->quarter, kind_name(w->kind), w->component, w->period, w->segment ? w->segment : "null", w->amount_pence,
           l->amount_pence);
    if (!w->provisional && w->kind != PBR_LINE_ADJUSTMENT)
        EXPECT(r, count_issues(r, w->kind, w->component, w->period, w->segment) == 1,
               "%s line %s/%s issued in more than one statement", kind_name(w->kind), w->component, w->period);
}

/* The statement for quarter has nlines lines and totals total_pence. */
SCHEME_HELPER void expect_statement(const run *r, const char *quarter, size_t nlines, int64_t total_pence)
{
    const pbr_statement *s = statement_for(r, quarter);
    EXPECT(r, s != NULL, "no statement for %s", quarter);
    EXPECT(r, s->nlines == nlines, "statement %s: expected %zu lines, got %zu", quarter, nlines, s->nlines);
    EXPECT(r, s->total_pence == total_pence, "statement %s: total_pence expected %" PRId64 ", got %" PRId64, quarter,
           total_pence, s->total_pence);
}

/* The whole run: statement count and range, all lines, and the sum of totals
 * (catches any line the expectations above did not name). */
SCHEME_HELPER void expect_run(const run *r, size_t nst, const char *first, const char *last, size_t nlines, int64_t sum)
{
    EXPECT(r, r->nst == nst, "%s: expected %zu statements, got %zu", r->name, nst, r->nst);
    EXPECT(r, r->st[0]->quarter == date_of(first), "%s: first statement is not %s", r->name, first);
    EXPECT(r, r->st[r->nst - 1]->quarter == date_of(last), "%s: last statement is not %s", r->name, last);
    size_t lines = 0;
    int64_t total = 0;
    for (size_t i = 0; i < r->nst; i++) {
        int64_t t = 0;
        for (size_t j = 0; j < r->st[i]->nlines; j++)
            t += r->st[i]->lines[j].amount_pence;
        EXPECT(r, t == r->st[i]->total_pence, "%s: statement %zu total is not the sum of its lines", r->name, i);
        lines += r->st[i]->nlines;
        total += r->st[i]->total_pence;
    }
    EXPECT(r, lines == nlines, "%s: expected %zu lines in all, got %zu", r->name, nlines, lines);
    EXPECT(r, total == sum, "%s: expected %" PRId64 " pence in all, got %" PRId64, r->name, sum, total);
}

#define OUT PBR_LINE_OUTCOME
#define FEE PBR_LINE_FEE
#define POOL PBR_LINE_POOLED
#define ADJ PBR_LINE_ADJUSTMENT

/* Settles yaml over jsonl in file order, reversed and interleaved, and
 * requires byte-identical statements (the event file is a set). */
SCHEME_HELPER void expect_same_statements(const char *yaml, const char *jsonl)
{
    run base, other;
    run_load(&base, yaml, jsonl, ORDER_FILE);
    for (line_order o = ORDER_REVERSED; o <= ORDER_INTERLEAVED; o++) {
        run_load(&other, yaml, jsonl, o);
        EXPECT(&base, other.nst == base.nst, "%s: statement count depends on line order", yaml);
        for (size_t i = 0; i < base.nst; i++) {
            size_t la = 0, lb = 0;
            char *a = pbr_statement_to_json(base.st[i], &la);
            char *b = pbr_statement_to_json(other.st[i], &lb);
            int same = a && b && la == lb && memcmp(a, b, la) == 0;
            if (!same)
                fprintf(stderr, "file order:    %s\nshuffled (%d): %s\n", a ? a : "?", (int)o, b ? b : "?");
            free(a);
            free(b);
            ck_assert_msg(same, "%s: statement %zu differs with line order %d", yaml, i, (int)o);
        }
        run_free(&other);
    }
    run_free(&base);
}

#endif

/* test_tools.c -- the tools for the people who use the figures (issue 14):
 * money in text and CSV, formula escaping, simulate's totals, explain's
 * rows adding up to their lines on every scheme contract, diff, and the
 * pbrctl commands that print them (run as the built binary).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "pbr/files.h"
#include "check_main.h"
#include "daemon_harness.h"
#include "pbr/explain_json.h"
#include "pbr/money.h"
#include "pbr/num.h"
#include "pbr/statement.h"
#include "pbr/summary.h"
#include "settle_helpers.h"

/* The scheme contracts: every contracts/NAME.yaml (each has its events in
 * tests/data/schemes/NAME.jsonl). Fills names (at most max, sorted) and
 * returns how many. */
static size_t scheme_names(char names[][64], size_t max)
{
    char path[512];
    DIR *d = opendir(pbr_test_path(path, sizeof path, "contracts"));
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len < 64 && !strcmp(e->d_name + len - 5, ".yaml"))
            snprintf(names[n++], 64, "%.*s", (int)(len - 5), e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    ck_assert_uint_ge(n, 8);
    return n;
}

/* Runs a shell command and returns its stdout (malloc'd); *status = exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = NULL;
    size_t cap = 0, n = 0, got;
    char buf[65536];
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        ck_assert_int_eq(pbr_grow((void **)&out, &cap, n + got + 1, 1), 0);
        memcpy(out + n, buf, got);
        n += got;
    }
    if (out == NULL)
        out = calloc(1, 1);
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* "BUILD/pbrctl ARGS" with paths relative to the repository root. */
static char *pbrctl(const char *args, int *status)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s/pbrctl %s", pbr_test_root(), pbr_test_build(), args);
    return run(cmd, status);
}

/* ---- money and cells ------------------------------------------------------------- */

START_TEST(gbp_text)
{
    char s[PBR_GBP_MAX];
    pbr_format_gbp(123456789, s, sizeof s);
    ck_assert_str_eq(s,
                     "\xc2\xa3"
                     "1,234,567.89");
    pbr_format_gbp(-5, s, sizeof s);
    ck_assert_str_eq(s,
                     "-\xc2\xa3"
                     "0.05");
    pbr_format_gbp(0, s, sizeof s);
    ck_assert_str_eq(s,
                     "\xc2\xa3"
                     "0.00");
    pbr_format_gbp(100000, s, sizeof s); /* 1000 pounds: one separator */
    ck_assert_str_eq(s,
                     "\xc2\xa3"
                     "1,000.00");
    pbr_format_gbp(99999, s, sizeof s);
    ck_assert_str_eq(s,
                     "\xc2\xa3"
                     "999.99");
    pbr_format_gbp(INT64_MIN, s, sizeof s);
    ck_assert_str_eq(s,
                     "-\xc2\xa3"
                     "92,233,720,368,547,758.08");
    pbr_format_gbp_plain(-123456, s, sizeof s);
    ck_assert_str_eq(s, "-1234.56");
    pbr_format_gbp_plain(7, s, sizeof s);
    ck_assert_str_eq(s, "0.07");
}
END_TEST

START_TEST(csv_cells)
{
    char c[64];
    ck_assert_int_eq(pbr_csv_cell("=SUM(A1:A9)", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "'=SUM(A1:A9)");
    ck_assert_int_eq(pbr_csv_cell("@cmd", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "'@cmd");
    ck_assert_int_eq(pbr_csv_cell("+1,2", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "\"'+1,2\"");
    ck_assert_int_eq(pbr_csv_cell("-150", 0, c, sizeof c), 0); /* a number stays a number */
    ck_assert_str_eq(c, "-150");
    ck_assert_int_eq(pbr_csv_cell("-x", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "'-x");
    ck_assert_int_eq(pbr_csv_cell("say \"hi\"", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "\"say \"\"hi\"\"\"");
    ck_assert_int_eq(pbr_csv_cell("plain", 1, c, sizeof c), 0);
    ck_assert_str_eq(c, "plain");
    ck_assert_int_eq(pbr_csv_cell("much too long for four", 1, c, 4), -1);
    ck_assert_str_eq(c, "");
}
END_TEST

/* A statement with a hostile segment name and a negative adjustment, rendered as CSV. */
START_TEST(statement_csv_columns)
{
    const char *st =
        "{\"contract\":\"c1\",\"contract_sha256\":\"ab\",\"quarter\":\"2013-07-01\",\"label\":\"2013-14 Q2\","
        "\"start\":\"2013-07-01\",\"end\":\"2013-09-30\",\"as_of\":\"2013-10-31\",\"events_through\":9,"
        "\"lines\":[{\"kind\":\"fee\",\"component\":\"svc\",\"period\":\"2013-07-01\",\"final_on\":\"2013-10-01\","
        "\"amount_pence\":123456789},"
        "{\"kind\":\"adjustment\",\"component\":\"r\",\"period\":\"2012-13\",\"segment\":\"=HYPERLINK(1)\","
        "\"previous_pence\":100,\"amount_pence\":-150}],\"provisional\":[],\"total_pence\":123456639}";
    char err[PBR_ERR_MAX];
    char *csv = pbr_statement_render_titled(st, strlen(st), PBR_FMT_CSV, "+Title, with comma", err, sizeof err);
    ck_assert_msg(csv != NULL, "%s", err);
    const char *header = "contract,title,quarter,label,section,kind,component,period,segment,final_on,members,"
                         "excluded,reoffenders,reoffences,actual,baseline,points,percent,avoided,threshold_met,"
                         "units,previous_pence,previous_gbp,amount_pence,amount_gbp\n";
    ck_assert_msg(strncmp(csv, header, strlen(header)) == 0, "header: %s", csv);
    /* the fee: 123456789 pence = 1234567.89 pounds, the title quoted and escaped */
    ck_assert_msg(strstr(csv,
                         "c1,\"'+Title, with comma\",2013-07-01,2013-14 Q2,lines,fee,svc,2013-07-01,,"
                         "2013-10-01,,,,,,,,,,,,,,123456789,1234567.89\n") != NULL,
                  "%s", csv);
    /* the adjustment: segment escaped, -150 pence stays a number, -1.50 pounds */
    ck_assert_msg(strstr(csv, ",adjustment,r,2012-13,'=HYPERLINK(1),,,,,,,,,,,,,100,1.00,-150,-1.50\n") != NULL, "%s",
                  csv);
    ck_assert_msg(strstr(csv, ",total,,,,,,,,,,,,,,,,,,,123456639,1234566.39\n") != NULL, "%s", csv);
    free(csv);
    /* a title far longer than any buffer still renders, whole */
    char *longt = malloc(5001);
    ck_assert_ptr_nonnull(longt);
    memset(longt, '"', 5000);
    longt[5000] = '\0';
    csv = pbr_statement_render_titled(st, strlen(st), PBR_FMT_CSV, longt, err, sizeof err);
    ck_assert_msg(csv != NULL, "%s", err);
    ck_assert_ptr_nonnull(strstr(csv, "c1,\"\"\"\"\""));
    ck_assert_uint_gt(strlen(csv), 10000); /* 5000 quotes doubled */
    free(csv);
    free(longt);
    char *text = pbr_statement_render(st, strlen(st), PBR_FMT_TEXT, err, sizeof err);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text,
                         "\xc2\xa3"
                         "1,234,567.89") &&
                      strstr(text,
                             "-\xc2\xa3"
                             "1.50") &&
                      strstr(text,
                             "(previously \xc2\xa3"
                             "1.00)") &&
                      strstr(text,
                             "\xc2\xa3"
                             "1,234,566.39"),
                  "%s", text);
    free(text);
}
END_TEST

/* ---- explain ---------------------------------------------------------------------- */

typedef struct explain_ctx {
    const pbr_contract *c;
    const pbr_eventset *ev;
    size_t lines, rows;
} explain_ctx;

/* The whole part of a 6-place decimal string ("123.000000" -> 123). */
static long long whole(const char *s)
{
    return strtoll(s, NULL, 10);
}

/* Checks one outcome or pooled line against its explained rows. */
static void check_line(explain_ctx *x, const char *stjson, size_t len, json_t *line)
{
    const char *component = json_string_value(json_object_get(line, "component"));
    const char *period = json_string_value(json_object_get(line, "period"));
    const char *segment = json_string_value(json_object_get(line, "segment"));
    char err[PBR_ERR_MAX];
    pbr_explain_source src = {.contract = x->c, .line_version = x->c, .events = x->ev};
    pbr_line_key key = {.component = component, .period = period, .segment = segment};
    json_t *r = pbr_explain_json(stjson, len, &src, &key, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    json_t *rows = json_object_get(r, "rows"), *left = json_object_get(r, "left_out");
    const pbr_outcome *o = NULL;
    for (size_t i = 0; i < x->c->noutcomes; i++)
        if (!strcmp(x->c->outcomes[i].id, component))
            o = &x->c->outcomes[i];
    ck_assert_ptr_nonnull(o);
    long long members = json_integer_value(json_object_get(line, "members"));
    const char *where = json_string_value(json_object_get(r, "quarter"));
    ck_assert_msg((long long)json_array_size(rows) == members, "%s %s %s %s: %zu rows, members %lld", x->c->id, where,
                  component, period, json_array_size(rows), members);
    long long reoffenders = 0, reoffences = 0, nights = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        reoffenders += json_is_true(json_object_get(row, "reoffender"));
        reoffences += json_integer_value(json_object_get(row, "reoffences"));
        nights += json_integer_value(json_object_get(row, "nights"));
        if (o->measure == PBR_M_BINARY || o->measure == PBR_M_FREQUENCY) {
            json_t *conv = json_object_get(row, "convictions");
            /* a reoffender has at least one counted conviction; counts: convictions counts them */
            ck_assert_int_eq(json_is_true(json_object_get(row, "reoffender")), json_array_size(conv) > 0);
            if (o->counts_convictions)
                ck_assert_int_eq(json_integer_value(json_object_get(row, "reoffences")), json_array_size(conv));
        }
    }
    switch (o->measure) {
    case PBR_M_BINARY:
    case PBR_M_FREQUENCY:
        ck_assert_msg(reoffenders == json_integer_value(json_object_get(line, "reoffenders")),
                      "%s %s %s %s reoffenders", x->c->id, where, component, period);
        ck_assert_msg(reoffences == json_integer_value(json_object_get(line, "reoffences")), "%s %s %s %s reoffences",
                      x->c->id, where, component, period);
        ck_assert_msg((long long)json_array_size(left) == json_integer_value(json_object_get(line, "excluded")),
                      "%s %s %s %s: %zu left out, excluded %lld", x->c->id, where, component, period,
                      json_array_size(left), (long long)json_integer_value(json_object_get(line, "excluded")));
        break;
    case PBR_M_CUSTODY_NIGHTS:
        ck_assert_msg(nights == whole(json_string_value(json_object_get(line, "actual"))), "%s %s %s nights %lld",
                      x->c->id, where, period, nights);
        break;
    default: break;
    }
    x->lines++;
    x->rows += json_array_size(rows);
    json_decref(r);
}

/* A volume fee line (5.9.4): its rows are the index events counted, c; the
 * line pays (c - hi) x rate above the band, (c - lo) x rate below it, 0
 * inside (rate in whole pence in the scheme contracts). */
static void check_volume_line(explain_ctx *x, const char *stjson, size_t len, json_t *line)
{
    const char *component = json_string_value(json_object_get(line, "component"));
    const char *period = json_string_value(json_object_get(line, "period"));
    const pbr_fee *f = NULL;
    for (size_t i = 0; i < x->c->nfees; i++)
        if (!strcmp(x->c->fees[i].id, component))
            f = &x->c->fees[i];
    ck_assert_ptr_nonnull(f);
    ck_assert(f->has_volume);
    char err[PBR_ERR_MAX];
    pbr_explain_source src = {.contract = x->c, .line_version = x->c, .events = x->ev};
    pbr_line_key key = {.component = component, .period = period, .segment = NULL};
    json_t *r = pbr_explain_json(stjson, len, &src, &key, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    int64_t c = (int64_t)json_array_size(json_object_get(r, "rows"));
    int64_t over = c > f->volume_hi ? c - f->volume_hi : c < f->volume_lo ? c - f->volume_lo : 0;
    int64_t rate = pbr_pounds_to_pence(f->volume_rate);
    ck_assert_msg(over * rate == json_integer_value(json_object_get(line, "amount_pence")),
                  "%s %s: %lld index events, band [%lld, %lld], rate %lld pence, line %lld", component, period,
                  (long long)c, (long long)f->volume_lo, (long long)f->volume_hi, (long long)rate,
                  (long long)json_integer_value(json_object_get(line, "amount_pence")));
    x->lines++;
    x->rows += (size_t)c;
    json_decref(r);
}

static int explain_statement(void *ctx, const pbr_statement *s)
{
    explain_ctx *x = ctx;
    size_t len;
    char *j = pbr_statement_to_json(s, &len);
    ck_assert_ptr_nonnull(j);
    json_t *st = json_loadb(j, len, 0, NULL);
    static const char *const sections[] = {"lines", "provisional"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(st, sections[k]), i, l)
        {
            const char *kind = json_string_value(json_object_get(l, "kind"));
            const char *period = json_string_value(json_object_get(l, "period"));
            if (!strcmp(kind, "outcome") || !strcmp(kind, "pooled"))
                check_line(x, j, len, l);
            else if (!strcmp(kind, "fee") && strlen(period) > 7 && !strcmp(period + strlen(period) - 7, "-volume"))
                check_volume_line(x, j, len, l);
        }
    }
    json_decref(st);
    free(j);
    return 0;
}

/* Every outcome, pooled and provisional line of every statement of every
 * scheme contract: rows = members, reoffenders, reoffences and left_out =
 * excluded (binary, frequency), nights = actual (custody). */
/* Explains every line of every statement of one contract over one event
 * file; returns the number of lines checked. */
static size_t explain_pair(const char *contract_rel, const char *events_rel)
{
    char cpath[512], epath[512], err[PBR_ERR_MAX];
    pbr_test_path(cpath, sizeof cpath, contract_rel);
    pbr_test_path(epath, sizeof epath, events_rel);
    uint64_t n;
    pbr_contract *c = load_contract_or_fail(cpath);
    pbr_eventset *ev = load_events_or_fail(epath, &n);
    explain_ctx x = {c, ev, 0, 0};
    pbr_eval_view view = {.contract = c, .events = ev, .events_through = n};
    pbr_series_request series = {.through = PBR_DATE_MAX, .each = explain_statement, .ctx = &x};
    ck_assert_msg(pbr_settle_all(&view, &series, err, sizeof err) == 0, "%s", err);
    pbr_eventset_destroy(&ev);
    pbr_contract_destroy(&c);
    return x.lines;
}

START_TEST(explain_sums)
{
    char schemes[64][64];
    size_t nschemes = scheme_names(schemes, 64), total_lines = 0;
    for (size_t k = 0; k < nschemes; k++) {
        char crel[128], erel[128];
        snprintf(crel, sizeof crel, "contracts/%s.yaml", schemes[k]);
        snprintf(erel, sizeof erel, "tests/data/schemes/%s.jsonl", schemes[k]);
        size_t lines = explain_pair(crel, erel);
        ck_assert_msg(lines > 0, "%s: no outcome line explained", schemes[k]);
        total_lines += lines;
    }
    fprintf(stderr, "explain_sums: %zu lines of %zu contracts checked\n", total_lines, nschemes);
    ck_assert_int_gt(total_lines, 50);
}
END_TEST

/* The same on the edge cases of tests/data/schemes (segments, OGRS
 * missing, pooled lines, clean-period restarts, late data, voids). */
START_TEST(explain_sums_edges)
{
    static const char *const pairs[][2] = {{"edge-cap", "edge-cap"},
                                           {"edge-clean", "edge-clean"},
                                           {"edge-disposals", "edge-disposals"},
                                           {"edge-freq-pooled", "edge-freq-pooled"},
                                           {"edge-gone", "edge-gone"},
                                           {"edge-misc", "edge-misc"},
                                           {"edge-ogrs", "edge-ogrs"},
                                           {"edge-pay", "edge-pay"},
                                           {"edge-pooled", "edge-pooled"},
                                           {"edge-binary", "edge-feb29"},
                                           {"edge-binary", "edge-first"},
                                           {"edge-binary", "edge-gate-equal"},
                                           {"edge-binary", "edge-index-date"},
                                           {"edge-binary", "edge-late"},
                                           {"edge-binary", "edge-void"},
                                           {"edge-binary", "edge-waiting-end"}};
    size_t total = 0;
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        char crel[128], erel[128];
        snprintf(crel, sizeof crel, "tests/data/schemes/%s.yaml", pairs[k][0]);
        snprintf(erel, sizeof erel, "tests/data/schemes/%s.jsonl", pairs[k][1]);
        total += explain_pair(crel, erel);
    }
    fprintf(stderr, "explain_sums_edges: %zu lines checked\n", total);
    ck_assert_int_gt(total, 20);
}
END_TEST

/* edge-binary over edge-late.jsonl: B (released 2023-07-11, window
 * 2023-07-01) is convicted on 2024-03-01 of an offence of 2023-12-01, inside
 * its 6-month follow-up, but the conviction is recorded on 2024-11-20. The
 * line is final on 2024-07-01 (window end + 6 + 6 months), issued in the
 * 2024-04-01 statement (as of 2024-07-31) without b2; the statement of
 * 2024-10-01 (as of 2025-01-31) sees it and adjusts the line. Its explain
 * row: B, a reoffender now, not before, b2 counted and recorded since. */
START_TEST(explain_adjustment)
{
    int st;
    char *out = pbrctl("explain --offline tests/data/schemes/edge-binary.yaml tests/data/schemes/edge-late.jsonl "
                       "2024-10-01 reoff 2023-07-01 --format json",
                       &st);
    ck_assert_int_eq(st, 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "line"), "kind")), "adjustment");
    json_t *rows = json_object_get(r, "rows");
    ck_assert_uint_eq(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    ck_assert_str_eq(json_string_value(json_object_get(row, "offender")), "B");
    ck_assert_str_eq(json_string_value(json_object_get(row, "change")), "changed");
    ck_assert(json_is_true(json_object_get(row, "reoffender")));
    ck_assert(json_is_false(json_object_get(json_object_get(row, "before"), "reoffender")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(row, "convictions"), 0)), "b2");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(row, "recorded_since"), 0)), "b2");
    json_decref(r);
    free(out);
}
END_TEST

/* ---- simulate's totals -------------------------------------------------------------- */

/* The lifetime row of simulate's text equals the sum of total_pence over
 * its JSON statements, and each year row the sum of that year's. */
START_TEST(simulate_totals)
{
    int st;
    char *json = pbrctl("simulate contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl --format json", &st);
    ck_assert_int_eq(st, 0);
    long long life = 0, fees = 0;
    for (char *line = strtok(json, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *s = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(s);
        life += json_integer_value(json_object_get(s, "total_pence"));
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(s, "lines"), i,
                           l) if (!strcmp(json_string_value(json_object_get(l, "kind")), "fee")) fees +=
            json_integer_value(json_object_get(l, "amount_pence"));
        json_decref(s);
    }
    free(json);
    char *text = pbrctl("simulate contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl --format text", &st);
    ck_assert_int_eq(st, 0);
    char lifes[PBR_GBP_MAX], feess[PBR_GBP_MAX];
    pbr_format_gbp(life, lifes, sizeof lifes);
    pbr_format_gbp(fees, feess, sizeof feess);
    const char *row = strstr(text, "  lifetime");
    ck_assert_msg(row != NULL, "%s", text);
    ck_assert_msg(strstr(row, lifes) && strstr(row, feess), "lifetime %s fees %s: %s", lifes, feess, row);
    ck_assert_ptr_nonnull(strstr(text, "Totals (paid, after contract_cap)"));
    free(text);
}
END_TEST

/* ---- diff ----------------------------------------------------------------------------- */

/* A copy of contracts/NAME.yaml at a temporary path with `from` replaced by
 * `to` (once). Returns the path (malloc'd). */
static char *edited_contract(const char *name, const char *from, const char *to)
{
    char path[512], rel[128], err[PBR_ERR_MAX];
    snprintf(rel, sizeof rel, "contracts/%s.yaml", name);
    size_t len;
    char *text = pbr_read_file(pbr_test_path(path, sizeof path, rel), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    char *hit = strstr(text, from);
    ck_assert_msg(hit != NULL, "%s not in %s", from, rel);
    char *out = malloc(len + strlen(to) + 1);
    ck_assert_ptr_nonnull(out);
    sprintf(out, "%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
    char *tmp = strdup("/tmp/pbr-diff-XXXXXX");
    int fd = mkstemp(tmp);
    ck_assert_int_ge(fd, 0);
    close(fd);
    harness_write_text(tmp, out);
    free(out);
    free(text);
    return tmp;
}

/* A contract diffed with itself: no output, exit 0 (every scheme). */
START_TEST(diff_self_is_empty)
{
    char schemes[64][64];
    size_t nschemes = scheme_names(schemes, 64);
    for (size_t k = 0; k < nschemes; k++) {
        char args[512];
        snprintf(args, sizeof args, "diff contracts/%s.yaml contracts/%s.yaml tests/data/schemes/%s.jsonl", schemes[k],
                 schemes[k], schemes[k]);
        int st;
        char *out = pbrctl(args, &st);
        ck_assert_msg(st == 0 && out[0] == '\0', "%s: exit %d, output %s", schemes[k], st, out);
        free(out);
    }
}
END_TEST

/* peterborough's price per reconviction avoided, 3000 -> 4000. The lines it
 * touches are derived here from the old statements alone: the lines of the
 * component whose units are not null and not zero (a missed gate pays
 * `below`, whatever the price); each pays units x price, so its new amount
 * is old x 4000 / 3000 (the pooled line pays pooled units x price minus the
 * window lines' units x price: linear in the price too). Nothing else moves:
 * no cap is reached (contract_cap is 8,000,000 pounds). */
START_TEST(diff_one_price)
{
    char *edited = edited_contract("peterborough", "price: 3000.00", "price: 4000.00");
    int st;
    char *sim = pbrctl("simulate contracts/peterborough.yaml tests/data/schemes/peterborough.jsonl --format json", &st);
    ck_assert_int_eq(st, 0);
    json_t *want = json_object(); /* "quarter kind component period" -> expected new pence */
    long long want_life = 0;
    for (char *line = strtok(sim, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *s = json_loads(line, 0, NULL);
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(s, "lines"), i, l)
        {
            const char *units = json_string_value(json_object_get(l, "units"));
            want_life += json_integer_value(json_object_get(l, "amount_pence"));
            if (units == NULL || !strcmp(units, "0.000000"))
                continue;
            long long old = json_integer_value(json_object_get(l, "amount_pence"));
            ck_assert_int_eq(old * 4 % 3, 0); /* whole pence, so x 4/3 is exact */
            char key[256];
            snprintf(key, sizeof key, "%s %s %s %s", json_string_value(json_object_get(s, "quarter")),
                     json_string_value(json_object_get(l, "kind")), json_string_value(json_object_get(l, "component")),
                     json_string_value(json_object_get(l, "period")));
            json_object_set_new(want, key, json_integer(old * 4 / 3));
            want_life += old * 4 / 3 - old;
        }
        json_decref(s);
    }
    free(sim);
    ck_assert_int_gt(json_object_size(want), 0);
    char args[512];
    snprintf(args, sizeof args,
             "diff contracts/peterborough.yaml %s tests/data/schemes/peterborough.jsonl --format json", edited);
    char *out = pbrctl(args, &st);
    ck_assert_int_eq(st, 1);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    size_t got = 0, i, j;
    json_t *q, *l;
    json_array_foreach(json_object_get(r, "quarters"), i, q) json_array_foreach(json_object_get(q, "lines"), j, l)
    {
        char key[256];
        snprintf(key, sizeof key, "%s %s %s %s", json_string_value(json_object_get(q, "quarter")),
                 json_string_value(json_object_get(l, "kind")), json_string_value(json_object_get(l, "component")),
                 json_string_value(json_object_get(l, "period")));
        json_t *w = json_object_get(want, key);
        ck_assert_msg(w != NULL, "unexpected line %s", key);
        ck_assert_int_eq(geti(l, "new_pence"), json_integer_value(w));
        ck_assert(json_is_null(json_object_get(l, "only")));
        got++;
    }
    ck_assert_uint_eq(got, json_object_size(want));
    ck_assert_int_eq(geti(json_object_get(r, "lifetime"), "new_pence"), want_life);
    json_decref(r);
    free(out);
    json_decref(want);
    unlink(edited);
    free(edited);
}
END_TEST

/* A renamed fee: every fee line is only in the old version (-) and its
 * twin only in the new (+); totals are unchanged, yet the exit is 1. */
START_TEST(diff_lines_in_one_version)
{
    char *edited = edited_contract("doncaster", "id: operating", "id: running");
    char args[512];
    snprintf(args, sizeof args, "diff contracts/doncaster.yaml %s tests/data/schemes/doncaster.jsonl --format json",
             edited);
    int st;
    char *out = pbrctl(args, &st);
    ck_assert_int_eq(st, 1);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(r);
    size_t olds = 0, news = 0, i, j;
    json_t *q, *l;
    json_array_foreach(json_object_get(r, "quarters"), i, q) json_array_foreach(json_object_get(q, "lines"), j, l)
    {
        const char *only = json_string_value(json_object_get(l, "only"));
        ck_assert_ptr_nonnull(only);
        ck_assert_str_eq(json_string_value(json_object_get(l, "kind")), "fee");
        olds += !strcmp(only, "old");
        news += !strcmp(only, "new");
    }
    /* doncaster: 5,000,000 a quarter from 2011-10-01 to 2015-09-30 = 16 quarters */
    ck_assert_uint_eq(olds, 16);
    ck_assert_uint_eq(news, 16);
    ck_assert_int_eq(geti(json_object_get(r, "lifetime"), "diff_pence"), 0);
    json_decref(r);
    free(out);
    snprintf(args, sizeof args, "diff contracts/doncaster.yaml %s tests/data/schemes/doncaster.jsonl", edited);
    out = pbrctl(args, &st);
    ck_assert_int_eq(st, 1);
    ck_assert_msg(strstr(out, "- fee operating 2011-10-01") && strstr(out, "+ fee running 2011-10-01"), "%s", out);
    free(out);
    out = pbrctl("diff contracts/doncaster.yaml no-such.yaml tests/data/schemes/doncaster.jsonl", &st);
    ck_assert_int_eq(st, 2);
    free(out);
    unlink(edited);
    free(edited);
}
END_TEST

/* ---- report -------------------------------------------------------------------------------- */

/* Occurrences of needle in hay. */
static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The offline report of doncaster: one bar per statement simulate prints
 * (26: 2011-10-01 .. 2018-01-01), one point per cohort window (its three
 * pilot years 2011-12, 2012-13, 2013-14), self-contained. */
START_TEST(report_offline_page)
{
    int st;
    char *sim = pbrctl("simulate contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl --format json", &st);
    ck_assert_int_eq(st, 0);
    size_t nst = count_of(sim, "\n");
    free(sim);
    char *html = pbrctl("report --offline contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_uint_eq(count_of(html, "class=\"quarter-bar\""), nst);
    ck_assert_uint_eq(count_of(html, "class=\"window-point"), 3);
    ck_assert_ptr_null(strstr(html, "http"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_nonnull(strstr(html, "@media print"));
    ck_assert_ptr_nonnull(strstr(html, "HMP Doncaster reoffending pilot"));
    free(html);
}
END_TEST

/* tests/report_browser.sh: every scheme's report rendered in headless
 * Chromium (bars, points, console, network, screenshots); skipped with a
 * message when Chromium is not installed (CI installs it). */
START_TEST(report_in_browser)
{
    char cmd[1024], out[] = "/tmp/pbr-shots-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(out));
    snprintf(cmd, sizeof cmd, "cd %s && ./tests/report_browser.sh %s %s", pbr_test_root(), pbr_test_build(), out);
    int st;
    char *text = run(cmd, &st);
    fputs(text, stderr);
    if (st == 77)
        fprintf(stderr, "report_in_browser: skipped, chromium is not installed\n");
    else
        ck_assert_msg(st == 0, "%s", text);
    free(text);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- from the daemon: statements and explain ------------------------------------------ */

/* pbrd with contracts/doncaster.yaml, its scheme events, every quarter settled. */
static void start_doncaster(daemon_t *d)
{
    daemon_prepare(d, "auto_settle: false\n");
    snprintf(d->now, sizeof d->now, "2030-01-01");
    snprintf(d->contracts, sizeof d->contracts, "%s/contracts", d->dir);
    ck_assert_int_eq(mkdir(d->contracts, 0700), 0);
    char from[512], to[512], err[PBR_ERR_MAX];
    size_t len;
    char *text = pbr_read_file(pbr_test_path(from, sizeof from, "contracts/doncaster.yaml"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    snprintf(to, sizeof to, "%s/doncaster.yaml", d->contracts);
    harness_write_text(to, text);
    free(text);
    daemon_start(d);
    text = pbr_read_file(pbr_test_path(from, sizeof from, "tests/data/schemes/doncaster.jsonl"), &len, err, sizeof err);
    ck_assert_msg(text != NULL, "%s", err);
    json_t *r = ingest_batch(d, text);
    ck_assert_int_eq(geti(r, "rejected"), 0);
    ck_assert_int_gt(geti(r, "accepted"), 0);
    json_decref(r);
    free(text);
    r = api_call(d, "{\"op\":\"settle\",\"quarter\":\"2030-01-01\"}");
    ck_assert_int_gt(json_array_size(json_object_get(r, "issued")), 10);
    json_decref(r);
}

/* pbrctl against d's API. */
static char *pbrctl_d(const daemon_t *d, const char *args, int *status)
{
    char a[2048];
    snprintf(a, sizeof a, "--api %s %s", d->api, args);
    return pbrctl(a, status);
}

/* statements lists every issued quarter with the totals simulate computes
 * for it, split so that fees + outcomes + adjustments = total. */
START_TEST(daemon_statements)
{
    daemon_t d;
    start_doncaster(&d);
    int st;
    char *out = pbrctl_d(&d, "statements doncaster --format json", &st);
    ck_assert_int_eq(st, 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    free(out);
    ck_assert_str_eq(json_string_value(json_object_get(r, "title")), "HMP Doncaster reoffending pilot");
    /* the op itself (the harness records it for tests/validate-schemas.py) */
    json_t *op = api_call(&d, "{\"op\":\"statements\",\"contract\":\"doncaster\"}");
    ck_assert(json_equal(op, r));
    ck_assert(json_is_null(json_object_get(op, "contract_cap_pence"))); /* doncaster has no contract_cap */
    json_decref(op);
    char *sim = pbrctl("simulate contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl --format json", &st);
    ck_assert_int_eq(st, 0);
    json_t *rows = json_object_get(r, "statements");
    size_t i = 0;
    for (char *line = strtok(sim, "\n"); line; line = strtok(NULL, "\n"), i++) {
        json_t *s = json_loads(line, 0, NULL), *row = json_array_get(rows, i);
        ck_assert_ptr_nonnull(row);
        ck_assert_str_eq(json_string_value(json_object_get(row, "quarter")),
                         json_string_value(json_object_get(s, "quarter")));
        ck_assert_int_eq(geti(row, "total_pence"), geti(s, "total_pence"));
        ck_assert_int_eq(geti(row, "fees_pence") + geti(row, "outcomes_pence") + geti(row, "adjustments_pence"),
                         geti(row, "total_pence"));
        json_decref(s);
    }
    ck_assert_uint_eq(i, json_array_size(rows));
    free(sim);
    json_decref(r);
    out = pbrctl_d(&d, "statements doncaster --format csv", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(!strncmp(out, "contract,title,quarter,label,as_of,events_through,lines,fees_pence,fees_gbp,", 76),
                  "%s", out);
    /* the first quarter: a 5,000,000-pound quarterly fee (doncaster.yaml, operating per_quarter) */
    ck_assert_msg(strstr(out, ",500000000,5000000.00,0,0.00,0,0.00,500000000,5000000.00\n") != NULL, "%s", out);
    free(out);
    /* cohorts as CSV: the title, and pounds beside pence */
    out = pbrctl_d(&d, "cohorts doncaster --format csv", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(!strncmp(out, "contract,title,as_of,kind,component,", 36) &&
                      strstr(out, ",amount_pence,amount_gbp\n"),
                  "%s", out);
    free(out);
    out = pbrctl_d(&d, "contracts --format csv", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out, "\ndoncaster,serco,HMP Doncaster reoffending pilot,"), "%s", out);
    free(out);
    out = pbrctl_d(&d, "statements doncaster", &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(strstr(out,
                         "\xc2\xa3"
                         "5,000,000.00") &&
                      strstr(out, "lifetime"),
                  "%s", out);
    free(out);
    /* the report from the daemon: one bar per issued statement */
    char rpath[300], rargs[400], err[PBR_ERR_MAX];
    snprintf(rpath, sizeof rpath, "%s/report.html", d.dir);
    snprintf(rargs, sizeof rargs, "report doncaster -o %s", rpath);
    out = pbrctl_d(&d, rargs, &st);
    ck_assert_int_eq(st, 0);
    free(out);
    char *html = pbr_read_file(rpath, NULL, err, sizeof err);
    ck_assert_msg(html != NULL, "%s", err);
    ck_assert_uint_eq(count_of(html, "class=\"quarter-bar\""), i);
    ck_assert_ptr_nonnull(strstr(html, "issued statements from pbrd"));
    free(html);
    out = pbrctl_d(&d, "statements no-such", &st);
    ck_assert_int_eq(st, 1);
    free(out);
    daemon_finish(&d);
}
END_TEST

/* explain from the daemon gives the rows the offline explain gives, and
 * they add up to the line; an unknown line is an error (exit 1). */
START_TEST(daemon_explain)
{
    daemon_t d;
    start_doncaster(&d);
    int st;
    char *on = pbrctl_d(&d, "explain doncaster 2014-01-01 reoffending 2011-12 --format json", &st);
    ck_assert_int_eq(st, 0);
    char *off = pbrctl("explain --offline contracts/doncaster.yaml tests/data/schemes/doncaster.jsonl 2014-01-01 "
                       "reoffending 2011-12 --format json",
                       &st);
    ck_assert_int_eq(st, 0);
    json_t *a = json_loads(on, 0, NULL), *b = json_loads(off, 0, NULL);
    ck_assert_msg(a && b, "%s\n%s", on, off);
    json_t *line = json_object_get(a, "line");
    ck_assert_int_eq(json_array_size(json_object_get(a, "rows")), geti(line, "members"));
    json_t *op = api_call(&d,
                          "{\"op\":\"explain\",\"contract\":\"doncaster\",\"quarter\":\"2014-01-01\","
                          "\"component\":\"reoffending\",\"period\":\"2011-12\",\"segment\":null}");
    ck_assert(json_equal(op, a));
    json_decref(op);
    ck_assert(json_equal(json_object_get(a, "rows"), json_object_get(b, "rows")));
    ck_assert(json_equal(line, json_object_get(b, "line")));
    json_decref(a);
    json_decref(b);
    free(on);
    free(off);
    on = pbrctl_d(&d, "explain doncaster 2014-01-01 reoffending 1999-00", &st);
    ck_assert_int_eq(st, 1);
    free(on);
    daemon_finish(&d);
}
END_TEST

/* ---- progress ------------------------------------------------------------------------------- */

/* simulate shows "simulate: N/M" on a terminal (script(1) gives it one;
 * PBR_PROGRESS_DELAY_MS=0 so that the short run shows it) and nothing when
 * standard error is a file. */
START_TEST(progress_on_a_terminal_only)
{
    char cmd[2048];
    int st;
    snprintf(cmd, sizeof cmd,
             "cd %s && PBR_PROGRESS_DELAY_MS=0 script -qec '%s/pbrctl simulate contracts/doncaster.yaml "
             "tests/data/schemes/doncaster.jsonl --format json >/dev/null' /dev/null",
             pbr_test_root(), pbr_test_build());
    char *out = run(cmd, &st);
    if (st == 127 || strstr(out, "not found")) {
        fprintf(stderr, "progress_on_a_terminal_only: script(1) not available, terminal case skipped\n");
    } else {
        ck_assert_int_eq(st, 0);
        ck_assert_msg(strstr(out, "simulate: ") && strstr(out, "/26"), "no progress on the terminal: %s", out);
    }
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd %s && PBR_PROGRESS_DELAY_MS=0 %s/pbrctl simulate contracts/doncaster.yaml "
             "tests/data/schemes/doncaster.jsonl --format json 2>&1 >/dev/null",
             pbr_test_root(), pbr_test_build());
    out = run(cmd, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_msg(out[0] == '\0', "progress written to a file: %s", out);
    free(out);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tools");
    TCase *t = tcase_create("money");
    tcase_add_test(t, gbp_text);
    tcase_add_test(t, csv_cells);
    tcase_add_test(t, statement_csv_columns);
    suite_add_tcase(s, t);
    t = tcase_create("explain");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, explain_sums);
    tcase_add_test(t, explain_adjustment);
    tcase_add_test(t, explain_sums_edges);
    suite_add_tcase(s, t);
    t = tcase_create("simulate");
    tcase_add_test(t, simulate_totals);
    tcase_add_test(t, progress_on_a_terminal_only);
    suite_add_tcase(s, t);
    t = tcase_create("diff");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, diff_self_is_empty);
    tcase_add_test(t, diff_one_price);
    tcase_add_test(t, diff_lines_in_one_version);
    suite_add_tcase(s, t);
    t = tcase_create("report");
    tcase_set_timeout(t, 600);
    tcase_add_test(t, report_offline_page);
    tcase_add_test(t, report_in_browser);
    suite_add_tcase(s, t);
    t = tcase_create("daemon");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, daemon_statements);
    tcase_add_test(t, daemon_explain);
    suite_add_tcase(s, t);
    return s;
}

PBR_CHECK_MAIN(make_suite)

/* cmd_query.c -- owns the API commands of pbrctl: status and quarantine
 * (listing and purge) as readable text (or --format json); contracts, cohorts, settle, reload and
 * verify as text tables (or --format json); statement as the canonical
 * JSON the daemon stored, byte for byte, or rendered as yaml, csv or text. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbr/event.h"
#include "pbr/num.h"
#include "pbr/statement.h"
#include "pbrctl/client.h"
#include "pbrctl/pbrctl.h"
#include "pbrctl/tools.h"

/* Options shared by the query commands. */
typedef struct query_args {
    const char *format;   /* --format, NULL = text */
    const char *contract; /* --contract */
    long limit;           /* --limit, -1 = not given */
    const char *pos[4];   /* positional arguments */
    int npos;
} query_args;

/* Parses argv[1..]. Returns 0 or 2 (message printed). */
static int parse_query_args(int argc, char **argv, int max_pos, query_args *a)
{
    memset(a, 0, sizeof *a);
    a->limit = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **str = NULL;
        if (!strcmp(arg, "--format"))
            str = &a->format;
        else if (!strcmp(arg, "--contract"))
            str = &a->contract;
        if (str || !strcmp(arg, "--limit")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pbrctl %s: %s needs a value\n", argv[0], arg);
                return 2;
            }
            if (str) {
                *str = argv[++i];
            } else {
                char *end = NULL;
                a->limit = strtol(argv[++i], &end, 10);
                if (*end || a->limit < 1) {
                    fprintf(stderr, "pbrctl %s: --limit must be a positive integer\n", argv[0]);
                    return 2;
                }
            }
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "pbrctl %s: unknown option \"%s\"\n", argv[0], arg);
            return 2;
        }
        if (a->npos >= max_pos) {
            fprintf(stderr, "pbrctl %s: unexpected argument \"%s\"\n", argv[0], arg);
            return 2;
        }
        a->pos[a->npos++] = arg;
    }
    return 0;
}

/* Sends req (stolen) and returns the reply, or NULL after printing why.
 * *status is set to the exit status for a failure (2 transport, 1 error reply). */
static json_t *call_api(const pbrctl_opts *o, const char *cmd, json_t *req, int *status)
{
    /* tools_api_call: a progress line on a terminal while settle or verify run */
    return tools_api_call(o, cmd, req, status);
}

/* Prints the reply as indented JSON. Returns 0. */
static int print_json(json_t *reply)
{
    char *text = json_dumps(reply, JSON_INDENT(2));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(reply);
    return 0;
}

/* Checks --format is absent, text or json. Returns 0 or 2. */
static int check_format(const char *cmd, const query_args *a)
{
    if (a->format && strcmp(a->format, "json") && strcmp(a->format, "text")) {
        fprintf(stderr, "pbrctl %s: --format must be text or json\n", cmd);
        return 2;
    }
    return 0;
}

static json_int_t int_field(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

int cmd_status(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st || (st = check_format(argv[0], &a)))
        return st;
    json_t *r = call_api(o, argv[0], json_pack("{ss}", "op", "status"), &st);
    if (!r)
        return st;
    if (a.format && !strcmp(a.format, "json"))
        return print_json(r);
    const char *now = json_string_value(json_object_get(r, "now"));
    const char *scope = json_string_value(json_object_get(r, "scope"));
    if (scope != NULL && !strcmp(scope, "provider")) { /* a provider's key: its own contracts only */
        printf("contracts    %" JSON_INTEGER_FORMAT "\n"
               "statements   %" JSON_INTEGER_FORMAT "\n"
               "awaiting     %" JSON_INTEGER_FORMAT "\n"
               "now          %s\n",
               int_field(r, "contracts"), int_field(r, "statements"), int_field(r, "awaiting_settle"), now ? now : "?");
        json_decref(r);
        return 0;
    }
    printf("events       %" JSON_INTEGER_FORMAT "\n"
           "quarantined  %" JSON_INTEGER_FORMAT "\n"
           "last_seq     %" JSON_INTEGER_FORMAT "\n"
           "contracts    %" JSON_INTEGER_FORMAT "\n"
           "now          %s\n",
           int_field(r, "events"), int_field(r, "quarantined"), int_field(r, "last_seq"), int_field(r, "contracts"),
           now ? now : "?");
    if (int_field(r, "awaiting_settle") > 0)
        printf("awaiting     %" JSON_INTEGER_FORMAT
               " due statement(s) wait for an explicit settle (pbrctl contracts)\n",
               int_field(r, "awaiting_settle"));
    json_decref(r);
    return 0;
}

/* Prints one line of raw text, escaping control characters. */
static void print_raw(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

/* pbrctl quarantine --purge-before DATE: asks the daemon to delete the
 * records stored before DATE. Returns 0, or the exit status of the error. */
static int quarantine_purge(const pbrctl_opts *o, const char *cmd, const char *before, const query_args *a)
{
    int st;
    json_t *req = json_pack("{ss ss}", "op", "quarantine_purge", "before", before);
    json_t *r = call_api(o, cmd, req, &st);
    if (!r)
        return st;
    if (a->format && !strcmp(a->format, "json"))
        return print_json(r);
    printf("purged %" JSON_INTEGER_FORMAT " record(s) stored before %s; %" JSON_INTEGER_FORMAT " left\n",
           json_integer_value(json_object_get(r, "purged")), before,
           json_integer_value(json_object_get(r, "remaining")));
    json_decref(r);
    return 0;
}

/* Prints one quarantine record as text: when, why, and the raw line (text
 * with control bytes escaped, or the base64 of bytes that are not text). */
static void print_quarantine_record(json_t *rec)
{
    json_t *at = json_object_get(rec, "at");
    const char *err = json_string_value(json_object_get(rec, "error"));
    const char *raw = json_string_value(json_object_get(rec, "raw"));
    const char *b64 = json_string_value(json_object_get(rec, "raw_base64"));
    const char *bad = json_string_value(json_object_get(rec, "unreadable_record"));
    char when[32] = "?";
    if (bad) {
        printf("?  %s\n", bad);
        return;
    }
    if (json_is_integer(at)) {
        time_t t = (time_t)json_integer_value(at);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("%s  %s\n    ", when, err ? err : "?");
    if (b64)
        printf("(%" JSON_INTEGER_FORMAT " bytes, not UTF-8 text; base64) %s",
               json_integer_value(json_object_get(rec, "raw_bytes")), b64);
    else
        print_raw(raw ? raw : "");
    putchar('\n');
}

int cmd_quarantine(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    const char *before = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest) {
        fprintf(stderr, "pbrctl %s: out of memory\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < argc; i++) { /* --purge-before DATE is this command's own option */
        if (i > 0 && !strcmp(argv[i], "--purge-before")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pbrctl %s: --purge-before needs a value (YYYY-MM-DD)\n", argv[0]);
                free(rest);
                return 2;
            }
            before = argv[++i];
            continue;
        }
        rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    int st = parse_query_args(nrest, rest, 0, &a);
    free(rest); /* a's strings point into argv, not rest */
    if (st || (st = check_format(argv[0], &a)))
        return st;
    if (before) {
        if (a.limit > 0) {
            fprintf(stderr, "pbrctl %s: --limit and --purge-before do not go together\n", argv[0]);
            return 2;
        }
        return quarantine_purge(o, argv[0], before, &a);
    }
    json_t *req = json_pack("{ss}", "op", "quarantine");
    if (req && a.limit > 0)
        json_object_set_new(req, "limit", json_integer(a.limit));
    json_t *r = call_api(o, argv[0], req, &st);
    if (!r)
        return st;
    if (a.format && !strcmp(a.format, "json"))
        return print_json(r);
    json_t *records = json_object_get(r, "records");
    size_t i;
    json_t *rec;
    if (json_array_size(records) == 0)
        printf("quarantine is empty\n");
    json_array_foreach(records, i, rec) print_quarantine_record(rec);
    json_decref(r);
    return 0;
}

/* Checks the number of positional arguments. Returns 0 or 2. */
static int need_args(const char *cmd, const query_args *a, int n, const char *usage)
{
    if (a->npos != n) {
        fprintf(stderr, "usage: pbrctl %s %s\n", cmd, usage);
        return 2;
    }
    return 0;
}

/* Checks --format is one of the names in allowed (NULL-terminated). Returns 0 or 2. */
static int check_format_in(const char *cmd, const query_args *a, const char *const *allowed)
{
    if (a->format == NULL)
        return 0;
    for (size_t i = 0; allowed[i]; i++) {
        if (!strcmp(a->format, allowed[i]))
            return 0;
    }
    fprintf(stderr, "pbrctl %s: unknown --format \"%s\"\n", cmd, a->format);
    return 2;
}

static int wants_json(const query_args *a)
{
    return a->format && !strcmp(a->format, "json");
}

static const char *const text_or_json[] = {"text", "json", NULL};
static const char *const text_json_csv[] = {"text", "json", "csv", NULL};

static int wants_csv(const query_args *a)
{
    return a->format && !strcmp(a->format, "csv");
}
static const char *const all_formats[] = {"text", "json", "yaml", "csv", NULL};

static const char *str_field(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

/* contracts as CSV: contract,provider,title,sha256,last_statement,state,due. */
static int print_contracts_csv(json_t *r)
{
    printf("contract,provider,title,sha256,last_statement,state,due\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "contracts"), i, c)
    {
        const char *last = json_string_value(json_object_get(c, "last_statement"));
        csv_cell(stdout, 1, str_field(c, "contract"), 1);
        csv_cell(stdout, 0, str_field(c, "provider"), 1);
        csv_cell(stdout, 0, str_field(c, "title"), 1);
        csv_cell(stdout, 0, str_field(c, "sha256"), 1);
        csv_cell(stdout, 0, last ? last : "", 0);
        csv_cell(stdout, 0, json_is_string(json_object_get(c, "state")) ? str_field(c, "state") : "", 1);
        printf(",%lld\n", (long long)int_field(c, "due"));
    }
    json_decref(r);
    return 0;
}

int cmd_contracts(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st || (st = check_format_in(argv[0], &a, text_json_csv)))
        return st;
    json_t *r = call_api(o, argv[0], json_pack("{ss}", "op", "contracts"), &st);
    if (!r)
        return st;
    if (wants_json(&a))
        return print_json(r);
    if (wants_csv(&a))
        return print_contracts_csv(r);
    printf("%-20s %-16s %-12s %-26s %-14s %s\n", "CONTRACT", "PROVIDER", "LAST", "STATE", "SHA256", "TITLE");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "contracts"), i, c)
    {
        char state[64];
        json_int_t due = int_field(c, "due");
        if (due > 0)
            snprintf(state, sizeof state, "%s (%lld)", str_field(c, "state"), (long long)due);
        else
            snprintf(state, sizeof state, "%s", str_field(c, "state"));
        printf("%-20s %-16s %-12s %-26s %-14.12s %s\n", str_field(c, "contract"), str_field(c, "provider"),
               str_field(c, "last_statement"), state, str_field(c, "sha256"), str_field(c, "title"));
    }
    json_decref(r);
    return 0;
}

/* Sends req (stolen) on the API and returns the raw reply text (malloc'd),
 * or NULL after printing why (*status set). An {"error":…} reply is printed
 * and returns NULL with status 1. */
static char *call_api_raw(const pbrctl_opts *o, const char *cmd, json_t *req, int *status)
{
    char err[PBR_ERR_MAX], *body = json_dumps(req, JSON_COMPACT), *out = NULL;
    size_t len;
    json_decref(req);
    pbrctl_client c;
    *status = 2;
    if (body == NULL || pbrctl_client_open(&c, o, o->api, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, body ? err : "out of memory");
        free(body);
        return NULL;
    }
    if (pbrctl_client_send(&c, body, strlen(body), err, sizeof err) != 0 ||
        pbrctl_client_recv(&c, &out, &len, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, err);
        out = NULL;
    }
    pbrctl_client_close(&c);
    free(body);
    if (out == NULL)
        return NULL;
    json_t *j = json_loads(out, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (e != NULL) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, e);
        json_decref(j);
        free(out);
        *status = 1;
        return NULL;
    }
    json_decref(j);
    *status = 0;
    return out;
}

/* The title of a contract from the contracts op ("" when unknown). */
static void contract_title(const pbrctl_opts *o, const char *contract, char *out, size_t n)
{
    int st;
    json_t *r = call_api(o, "statement", json_pack("{ss}", "op", "contracts"), &st);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "contracts"), i, c)
    {
        if (!strcmp(str_field(c, "contract"), contract))
            snprintf(out, n, "%s", str_field(c, "title"));
    }
    json_decref(r);
}

int cmd_statement(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 2, &a);
    if (st || (st = need_args(argv[0], &a, 2, "CONTRACT QUARTER [--format json|yaml|csv|text]")) ||
        (st = check_format_in(argv[0], &a, all_formats)))
        return st;
    char *raw = call_api_raw(
        o, argv[0], json_pack("{ss ss ss}", "op", "statement", "contract", a.pos[0], "quarter", a.pos[1]), &st);
    if (raw == NULL)
        return st;
    int fmt = a.format ? pbr_format_from_name(a.format) : PBR_FMT_JSON;
    char err[PBR_ERR_MAX], title[512] = "";
    if (fmt == PBR_FMT_CSV)
        contract_title(o, a.pos[0], title, sizeof title);
    char *out = pbr_statement_render_titled(raw, strlen(raw), (pbr_format)fmt, title, err, sizeof err);
    free(raw);
    if (out == NULL) {
        fprintf(stderr, "pbrctl %s: %s\n", argv[0], err);
        return 1;
    }
    fputs(out, stdout);
    if (fmt == PBR_FMT_JSON)
        putchar('\n');
    free(out);
    return 0;
}

/* One provisional line as a text row. */
static void print_line_row(json_t *l)
{
    const json_t *seg = json_object_get(l, "segment");
    char money[PBR_GBP_MAX];
    printf("%-16s %-12s %-10s %8lld %8lld %10s %10s %s ", str_field(l, "component"), str_field(l, "period"),
           json_is_string(seg) ? json_string_value(seg) : "-", (long long)int_field(l, "members"),
           (long long)int_field(l, "reoffenders"), str_field(l, "actual"), str_field(l, "baseline"),
           json_is_false(json_object_get(l, "threshold_met")) ? "missed" : "met   ");
    print_right(stdout, fmt_gbp((int64_t)int_field(l, "amount_pence"), money), 16);
    putchar('\n');
}

/* cohorts as CSV: the statement CSV's line columns, with the as-of date. */
static int print_cohorts_csv(json_t *r, const char *title)
{
    static const char *const cols[] = {"component", "period",      "segment",    "final_on",      "members",
                                       "excluded",  "reoffenders", "reoffences", "actual",        "baseline",
                                       "points",    "percent",     "avoided",    "threshold_met", "units"};
    printf("contract,title,as_of,kind");
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
        printf(",%s", cols[k]);
    printf(",amount_pence,amount_gbp\n");
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(r, "provisional"), i, l)
    {
        csv_cell(stdout, 1, str_field(r, "contract"), 1);
        csv_cell(stdout, 0, title, 1);
        csv_cell(stdout, 0, str_field(r, "as_of"), 0);
        csv_cell(stdout, 0, str_field(l, "kind"), 1);
        for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
            json_t *v = json_object_get(l, cols[k]);
            char t[256] = "";
            if (json_is_string(v))
                snprintf(t, sizeof t, "%s", json_string_value(v));
            else if (json_is_integer(v))
                snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
            else if (json_is_boolean(v))
                snprintf(t, sizeof t, "%s", json_is_true(v) ? "true" : "false");
            /* text: the names; the figures stay numbers */
            csv_cell(stdout, 0, t, k < 3);
        }
        csv_money(stdout, (int64_t)int_field(l, "amount_pence"));
        putchar('\n');
    }
    json_decref(r);
    return 0;
}

int cmd_cohorts(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 1, &a);
    if (st || (st = need_args(argv[0], &a, 1, "CONTRACT [--format text|json|csv]")) ||
        (st = check_format_in(argv[0], &a, text_json_csv)))
        return st;
    json_t *r = call_api(o, argv[0], json_pack("{ss ss}", "op", "cohorts", "contract", a.pos[0]), &st);
    if (!r)
        return st;
    if (wants_json(&a))
        return print_json(r);
    if (wants_csv(&a)) {
        char title[512] = "";
        contract_title(o, a.pos[0], title, sizeof title);
        return print_cohorts_csv(r, title);
    }
    printf("provisional figures of %s as of %s (not payable)\n", str_field(r, "contract"), str_field(r, "as_of"));
    printf("%-16s %-12s %-10s %8s %8s %10s %10s %s %16s\n", "COMPONENT", "PERIOD", "SEGMENT", "MEMBERS", "REOFF",
           "ACTUAL", "BASELINE", "GATE  ", "AMOUNT");
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(r, "provisional"), i, l) print_line_row(l);
    json_decref(r);
    return 0;
}

int cmd_settle(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 1, &a);
    if (st || (st = need_args(argv[0], &a, 1, "QUARTER [--contract C] [--format text|json]")) ||
        (st = check_format_in(argv[0], &a, text_or_json)))
        return st;
    json_t *req = json_pack("{ss ss}", "op", "settle", "quarter", a.pos[0]);
    if (req && a.contract)
        json_object_set_new(req, "contract", json_string(a.contract));
    json_t *r = call_api(o, argv[0], req, &st);
    if (!r)
        return st;
    if (wants_json(&a))
        return print_json(r);
    json_t *issued = json_object_get(r, "issued");
    printf("issued %zu statement(s)\n", json_array_size(issued));
    size_t i;
    json_t *s;
    json_array_foreach(issued, i, s)
    {
        char money[PBR_GBP_MAX];
        fmt_gbp((int64_t)int_field(s, "total_pence"), money);
        printf("  %-20s %s  total %s\n", str_field(s, "contract"), str_field(s, "quarter"), money);
    }
    const char *interrupted = json_string_value(json_object_get(r, "interrupted"));
    if (interrupted != NULL)
        fprintf(stderr, "pbrctl settle: interrupted (%s) after %zu statement(s); run it again to continue\n",
                interrupted, json_array_size(issued));
    json_decref(r);
    return interrupted != NULL ? 1 : 0;
}

int cmd_reload(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st || (st = check_format_in(argv[0], &a, text_or_json)))
        return st;
    json_t *r = call_api(o, argv[0], json_pack("{ss}", "op", "reload"), &st);
    if (!r)
        return st;
    const char *clients_error = json_string_value(json_object_get(r, "clients_error"));
    size_t nerr = json_array_size(json_object_get(r, "errors")) + (clients_error != NULL);
    if (wants_json(&a)) {
        print_json(r);
        return nerr ? 1 : 0;
    }
    if (clients_error != NULL)
        fprintf(stderr, "%s (the clients file was not reloaded; the previous keys stay in force)\n", clients_error);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(r, "loaded"), i, v) printf("loaded %s\n", json_string_value(v));
    json_array_foreach(json_object_get(r, "errors"), i, v)
    {
        fprintf(stderr, "%s:%lld:%lld: %s (previous version stays in force)\n", str_field(v, "file"),
                (long long)int_field(v, "line"), (long long)int_field(v, "column"), str_field(v, "message"));
    }
    json_decref(r);
    return nerr ? 1 : 0;
}

int cmd_verify(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st || (st = check_format_in(argv[0], &a, text_or_json)))
        return st;
    json_t *r = call_api(o, argv[0], json_pack("{ss}", "op", "verify"), &st);
    if (!r)
        return st;
    size_t ndiff = json_array_size(json_object_get(r, "differences"));
    if (wants_json(&a)) {
        print_json(r);
        return ndiff ? 1 : 0;
    }
    printf("checked %lld issued statement(s): %zu difference(s)\n", (long long)int_field(r, "checked"), ndiff);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r, "differences"), i, d)
    {
        printf("  %s %s [%s] %s\n", str_field(d, "contract"), str_field(d, "quarter"), str_field(d, "where"),
               str_field(d, "detail"));
    }
    json_decref(r);
    return ndiff ? 1 : 0;
}

#define BACKUP_MIN_TIMEOUT_MS 600000 /* a backup of a large store takes a while */

/* backup DIR: the daemon writes a backup into DIR, a path on the daemon's
 * machine (so it must be absolute: pbrctl's working directory means
 * nothing there). Exit 0, 1 (error reply) or 2. */
int cmd_backup(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 1, &a);
    if (st || (st = check_format_in(argv[0], &a, text_or_json)) || (st = need_args(argv[0], &a, 1, "backup DIR")))
        return st;
    if (a.pos[0][0] != '/') {
        fprintf(stderr, "pbrctl backup: DIR must be an absolute path: the daemon writes it on its own machine\n");
        return 2;
    }
    pbrctl_opts slow = *o;
    if (slow.timeout_ms < BACKUP_MIN_TIMEOUT_MS)
        slow.timeout_ms = BACKUP_MIN_TIMEOUT_MS;
    json_t *r = call_api(&slow, argv[0], json_pack("{ss ss}", "op", "backup", "dir", a.pos[0]), &st);
    if (!r)
        return st;
    if (wants_json(&a))
        return print_json(r);
    printf("backup %s: events through seq %lld (%lld events), %lld statement(s), %lld files, %lld bytes\n",
           str_field(r, "dir"), (long long)int_field(r, "last_seq"), (long long)int_field(r, "events"),
           (long long)int_field(r, "statements"), (long long)int_field(r, "files"), (long long)int_field(r, "bytes"));
    json_decref(r);
    return 0;
}

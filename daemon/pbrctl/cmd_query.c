/* cmd_query.c -- owns the API commands of pbrctl: status and quarantine as
 * readable text (or --format json), and contracts, statement, cohorts,
 * settle, reload, verify as a request printing the JSON reply. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbr/event.h"
#include "pbrctl/client.h"
#include "pbrctl/pbrctl.h"

/* Options shared by the query commands. */
typedef struct query_args {
    const char *format;     /* --format, NULL = text */
    const char *contract;   /* --contract */
    long limit;             /* --limit, -1 = not given */
    const char *pos[4];     /* positional arguments */
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
    char err[PBR_ERR_MAX];
    json_t *reply = NULL;
    if (!req) {
        fprintf(stderr, "pbrctl %s: out of memory\n", cmd);
        *status = 2;
        return NULL;
    }
    int rc = pbrctl_api_request(o, req, &reply, err, sizeof err);
    json_decref(req);
    if (rc != 0) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, err);
        *status = 2;
        return NULL;
    }
    json_t *e = json_object_get(reply, "error");
    if (json_is_string(e)) {
        fprintf(stderr, "pbrctl %s: %s\n", cmd, json_string_value(e));
        json_decref(reply);
        *status = 1;
        return NULL;
    }
    *status = 0;
    return reply;
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
    printf("events       %" JSON_INTEGER_FORMAT "\n"
           "quarantined  %" JSON_INTEGER_FORMAT "\n"
           "last_seq     %" JSON_INTEGER_FORMAT "\n"
           "contracts    %" JSON_INTEGER_FORMAT "\n"
           "now          %s\n",
           int_field(r, "events"), int_field(r, "quarantined"), int_field(r, "last_seq"),
           int_field(r, "contracts"), now ? now : "?");
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

int cmd_quarantine(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st || (st = check_format(argv[0], &a)))
        return st;
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
    json_array_foreach(records, i, rec) {
        json_t *at = json_object_get(rec, "at");
        const char *err = json_string_value(json_object_get(rec, "error"));
        const char *raw = json_string_value(json_object_get(rec, "raw"));
        char when[32] = "?";
        if (json_is_integer(at)) {
            time_t t = (time_t)json_integer_value(at);
            struct tm tm;
            if (gmtime_r(&t, &tm))
                strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        } else if (json_is_string(at)) {
            snprintf(when, sizeof when, "%s", json_string_value(at));
        }
        printf("%s  %s\n    ", when, err ? err : "?");
        print_raw(raw ? raw : "");
        putchar('\n');
    }
    json_decref(r);
    return 0;
}

/* A command that sends req and prints the JSON reply. */
static int request_and_print(const pbrctl_opts *o, const char *cmd, json_t *req)
{
    int st;
    json_t *r = call_api(o, cmd, req, &st);
    return r ? print_json(r) : st;
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

int cmd_contracts(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st)
        return st;
    return request_and_print(o, argv[0], json_pack("{ss}", "op", "contracts"));
}

int cmd_statement(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 2, &a);
    if (st || (st = need_args(argv[0], &a, 2, "CONTRACT QUARTER [--format json|yaml|csv|text]")))
        return st;
    return request_and_print(o, argv[0],
                             json_pack("{ss ss ss}", "op", "statement", "contract", a.pos[0], "quarter", a.pos[1]));
}

int cmd_cohorts(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 1, &a);
    if (st || (st = need_args(argv[0], &a, 1, "CONTRACT")))
        return st;
    return request_and_print(o, argv[0], json_pack("{ss ss}", "op", "cohorts", "contract", a.pos[0]));
}

int cmd_settle(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 1, &a);
    if (st || (st = need_args(argv[0], &a, 1, "QUARTER [--contract C]")))
        return st;
    json_t *req = json_pack("{ss ss}", "op", "settle", "quarter", a.pos[0]);
    if (req && a.contract)
        json_object_set_new(req, "contract", json_string(a.contract));
    return request_and_print(o, argv[0], req);
}

int cmd_reload(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st)
        return st;
    return request_and_print(o, argv[0], json_pack("{ss}", "op", "reload"));
}

int cmd_verify(const pbrctl_opts *o, int argc, char **argv)
{
    query_args a;
    int st = parse_query_args(argc, argv, 0, &a);
    if (st)
        return st;
    return request_and_print(o, argv[0], json_pack("{ss}", "op", "verify"));
}

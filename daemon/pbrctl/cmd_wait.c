/* cmd_wait.c -- owns `pbrctl wait`: the long poll for issued statements
 * (the API's "wait" op, daemon/pbrd/wait.h), the way a provider, who may
 * not subscribe to the publish socket, learns of its own statements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/event.h"
#include "pbrctl/client.h"
#include "pbrctl/pbrctl.h"

#define WAIT_DEFAULT_MS 30000L
#define WAIT_MAX_MS 3600000L
#define REPLY_MARGIN_MS 5000 /* how much longer than the wait pbrctl waits for the reply */

/* The options of `pbrctl wait`. */
typedef struct wait_args {
    long after;       /* --after N, -1 = from now */
    long max_wait_ms; /* --max-wait MS */
    int json;         /* --format json */
} wait_args;

/* Parses a number in [lo, hi] for option opt. Returns 0 or 2 (printed). */
static int parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "pbrctl wait: %s must be an integer from %ld to %ld, got \"%s\"\n", opt, lo, hi, text);
        return 2;
    }
    *out = v;
    return 0;
}

/* Parses argv[1..]. Returns 0 or 2 (message printed). */
static int parse_wait_args(int argc, char **argv, wait_args *a)
{
    a->after = -1;
    a->max_wait_ms = WAIT_DEFAULT_MS;
    a->json = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--after") && strcmp(arg, "--max-wait") && strcmp(arg, "--format")) {
            fprintf(stderr, "pbrctl wait: unknown argument \"%s\" (see pbrctl wait --help)\n", arg);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "pbrctl wait: %s needs a value\n", arg);
            return 2;
        }
        const char *val = argv[++i];
        int st = 0;
        if (!strcmp(arg, "--after"))
            st = parse_long(arg, val, 0, 0x7fffffffL, &a->after);
        else if (!strcmp(arg, "--max-wait"))
            st = parse_long(arg, val, 0, WAIT_MAX_MS, &a->max_wait_ms);
        else if (!strcmp(val, "json") || !strcmp(val, "text"))
            a->json = !strcmp(val, "json");
        else
            st = (fprintf(stderr, "pbrctl wait: --format must be text or json\n"), 2);
        if (st)
            return st;
    }
    return 0;
}

/* Prints the reply as text: one "CONTRACT QUARTER" line per statement,
 * then the cursor for the next call on standard error. */
static void print_text(json_t *r)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "statements"), i, s) printf(
        "%s %s\n", json_string_value(json_object_get(s, "contract")), json_string_value(json_object_get(s, "quarter")));
    if (json_is_true(json_object_get(r, "complete")))
        fprintf(stderr, "pbrctl wait: listed every statement you may see (issued before pbrd started)\n");
    fprintf(stderr, "next: pbrctl wait --after %" JSON_INTEGER_FORMAT "\n",
            json_integer_value(json_object_get(r, "seq")));
}

int cmd_wait(const pbrctl_opts *o, int argc, char **argv)
{
    wait_args a;
    int st = parse_wait_args(argc, argv, &a);
    if (st)
        return st;
    json_t *req = json_pack("{ss sI}", "op", "wait", "timeout_ms", (json_int_t)a.max_wait_ms);
    if (req && a.after >= 0)
        json_object_set_new(req, "after_seq", json_integer(a.after));
    if (!req) {
        fprintf(stderr, "pbrctl wait: out of memory\n");
        return 2;
    }
    pbrctl_opts slow = *o; /* the reply comes when the wait ends */
    if (slow.timeout_ms < a.max_wait_ms + REPLY_MARGIN_MS)
        slow.timeout_ms = (int)(a.max_wait_ms + REPLY_MARGIN_MS);
    char err[PBR_ERR_MAX];
    json_t *r = NULL;
    int rc = pbrctl_api_request(&slow, req, &r, err, sizeof err);
    json_decref(req);
    if (rc != 0) {
        fprintf(stderr, "pbrctl wait: %s\n", err);
        return 2;
    }
    const char *e = json_string_value(json_object_get(r, "error"));
    if (e != NULL) {
        fprintf(stderr, "pbrctl wait: %s\n", e);
        json_decref(r);
        return 1;
    }
    int none = json_array_size(json_object_get(r, "statements")) == 0;
    if (a.json) {
        char *text = json_dumps(r, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        print_text(r);
    }
    json_decref(r);
    return none ? 1 : 0;
}

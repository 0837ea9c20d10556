/* cmd_offline.c -- the operator's offline commands, no daemon needed:
 *   pbrctl check FILE|DIR...                  validate contracts (a DIR: its *.yaml, *.yml)
 *   pbrctl simulate CONTRACT.yaml EVENTS.jsonl [--through QUARTER]
 *                   [--format json|yaml|csv|text]
 * simulate settles every quarter in order from the contract's start, with
 * the same library code the daemon uses, and prints the statements (text:
 * then the totals per settlement year and lifetime; a progress line on a
 * terminal when it takes over a second).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pbr/due.h"
#include "pbr/contract.h"
#include "pbr/contract_check.h"
#include "pbr/eventset.h"
#include "pbr/files.h"
#include "pbr/mem.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "pbr/summary.h"
#include "pbrctl/format.h"
#include "pbrctl/pbrctl.h"

#define SIMULATE_THREADS 2 /* evaluation threads of simulate (the machine has two cores in mind) */

/* Appends the contract files named by arg to *paths: arg itself, or the
 * *.yaml and *.yml files of arg when it is a directory (the files pbrd
 * loads from its contracts directory). Returns 0, or -1 after printing why. */
static int add_check_paths(const char *arg, char ***paths, size_t *n, size_t *cap)
{
    struct stat st;
    char err[PBR_ERR_MAX];
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t nd;
        char **files = pbr_list_contract_files(arg, &nd, err, sizeof err);
        if (files == NULL) {
            fprintf(stderr, "pbrctl check: %s\n", err);
            return -1;
        }
        if (nd == 0)
            fprintf(stderr, "pbrctl check: %s: no *.yaml or *.yml files\n", arg);
        int rc = 0;
        for (size_t i = 0; i < nd && rc == 0; i++) {
            rc = pbr_grow((void **)paths, cap, *n + 1, sizeof **paths);
            if (rc == 0)
                (*paths)[(*n)++] = files[i];
            else
                free(files[i]);
        }
        free(files);
        return rc;
    }
    if (pbr_grow((void **)paths, cap, *n + 1, sizeof **paths) != 0 || ((*paths)[*n] = strdup(arg)) == NULL)
        return -1;
    (*n)++;
    return 0;
}

/* Checks each contract file as the daemon would load it, and that no two
 * of them define the same contract id (the daemon would refuse the second
 * at a reload): `check` is the pre-flight of a reload. */
int cmd_check(const pbrctl_opts *o, int argc, char **argv)
{
    (void)o;
    if (argc < 2) {
        fprintf(stderr, "usage: pbrctl check CONTRACT.yaml|DIR...\n");
        return 2;
    }
    char **paths = NULL;
    size_t n = 0, cap = 0;
    for (int i = 1; i < argc; i++)
        if (add_check_paths(argv[i], &paths, &n, &cap) != 0) {
            pbr_free_list(paths, n);
            return 2;
        }
    size_t bad = pbr_contracts_check(paths, n, stdout, stderr);
    if (bad > 0)
        fprintf(stderr, "%zu of %zu contract files invalid\n", bad, n);
    pbr_free_list(paths, n);
    return bad ? 1 : 0;
}

typedef struct sim_opts {
    const char *contract, *events;
    pbr_date through;
    pbr_format format;
} sim_opts;

static int parse_sim_args(int argc, char **argv, sim_opts *so)
{
    so->contract = so->events = NULL;
    so->through = PBR_DATE_NONE;
    so->format = PBR_FMT_JSON;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--through") == 0 || strcmp(a, "--format") == 0) && i + 1 >= argc) {
            fprintf(stderr, "pbrctl simulate: %s needs a value\n", a);
            return -1;
        }
        if (strcmp(a, "--through") == 0) {
            const char *v = argv[++i];
            if (pbr_date_parse(v, strlen(v), &so->through) != 0) {
                fprintf(stderr, "pbrctl simulate: --through %s is not a date YYYY-MM-DD\n", v);
                return -1;
            }
        } else if (strcmp(a, "--format") == 0) {
            int f = pbr_format_from_name(argv[++i]);
            if (f < 0) {
                fprintf(stderr, "pbrctl simulate: unknown format \"%s\" (json, yaml, csv, text)\n", argv[i]);
                return -1;
            }
            so->format = (pbr_format)f;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "pbrctl simulate: unknown option %s\n", a);
            return -1;
        } else if (so->contract == NULL) {
            so->contract = a;
        } else if (so->events == NULL) {
            so->events = a;
        } else {
            fprintf(stderr, "pbrctl simulate: unexpected argument %s\n", a);
            return -1;
        }
    }
    if (so->events == NULL) {
        fprintf(stderr,
                "usage: pbrctl simulate CONTRACT.yaml EVENTS.jsonl [--through QUARTER] "
                "[--format json|yaml|csv|text]\n");
        return -1;
    }
    return 0;
}

static void print_rejected(void *ctx, size_t line, const char *message)
{
    size_t *count = ctx;
    (*count)++;
    fprintf(stderr, "line %zu: %s (skipped)\n", line, message);
}

typedef struct print_ctx {
    pbr_format fmt;
    int first;
    const char *title; /* the contract's title (CSV) */
    pbr_totals totals; /* per settlement year and lifetime (text) */
    progress prog;
    uint64_t done, nquarters;
} print_ctx;

/* Prints one statement in the chosen format; CSV keeps one header. */
static int print_statement(void *ctx, const pbr_statement *s)
{
    print_ctx *p = ctx;
    size_t len;
    char *json = pbr_statement_to_json(s, &len);
    char err[PBR_ERR_MAX];
    char *out = json ? pbr_statement_render_titled(json, len, p->fmt, p->title, err, sizeof err) : NULL;
    pbr_split split;
    pbr_split_statement(s, &split);
    if (out != NULL && pbr_totals_add(&p->totals, s->label, &split) != 0) {
        free(out);
        out = NULL;
    }
    free(json);
    if (out == NULL) {
        progress_done(&p->prog);
        fprintf(stderr, "pbrctl simulate: %s\n", json ? err : "out of memory");
        return 1;
    }
    progress_done(&p->prog);
    const char *text = out;
    if (p->fmt == PBR_FMT_CSV && !p->first) {
        const char *nl = strchr(out, '\n');
        text = nl ? nl + 1 : out;
    }
    if (p->fmt == PBR_FMT_YAML)
        printf("---\n");
    else if (p->fmt == PBR_FMT_TEXT && !p->first)
        printf("\n");
    fputs(text, stdout);
    if (p->fmt == PBR_FMT_JSON)
        putchar('\n');
    free(out);
    p->first = 0;
    progress_update(&p->prog, ++p->done, p->nquarters);
    return 0;
}

int cmd_simulate(const pbrctl_opts *o, int argc, char **argv)
{
    (void)o;
    sim_opts so;
    if (parse_sim_args(argc, argv, &so) != 0)
        return 2;
    pbr_contract *c;
    pbr_diag d;
    if (pbr_contract_load(so.contract, &c, &d) != 0) {
        char msg[PBR_ERR_MAX + 300];
        pbr_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    int rc = 1;
    char err[PBR_ERR_MAX];
    size_t rejected = 0;
    uint64_t nread = 0;
    pbr_eventset *set = pbr_eventset_new();
    if (set == NULL) {
        fprintf(stderr, "pbrctl simulate: out of memory\n");
        goto out;
    }
    if (pbr_eventset_read_jsonl(set, so.events, print_rejected, &rejected, &nread, err, sizeof err) != 0) {
        fprintf(stderr, "pbrctl simulate: %s\n", err);
        goto out;
    }
    if (rejected > 0)
        fprintf(stderr, "pbrctl simulate: %zu line(s) of %s rejected and skipped\n", rejected, so.events);
    print_ctx pc = {so.format, 1, c->title, {NULL, 0, 0, {0, 0, 0}}, {0}, 0, 0};
    pbr_date through = so.through == PBR_DATE_NONE ? PBR_DATE_MAX : so.through;
    pc.nquarters = pbr_quarters_in_range(c, pbr_contract_first_quarter(c), through);
    progress_start(&pc.prog, "simulate");
    /* the quarters' evaluations on two threads; the statements in order */
    pbr_eval_view view = {.contract = c, .events = set, .events_through = nread};
    pbr_series_request series = {.through = through, .each = print_statement, .ctx = &pc, .threads = SIMULATE_THREADS};
    int src = pbr_settle_all_parallel(&view, &series, err, sizeof err);
    progress_done(&pc.prog);
    if (src == 0 && so.format == PBR_FMT_TEXT)
        print_totals(stdout, &pc.totals);
    pbr_totals_clear(&pc.totals);
    if (src != 0) {
        if (src < 0)
            fprintf(stderr, "pbrctl simulate: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
    return rc;
}

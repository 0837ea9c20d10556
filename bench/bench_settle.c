/* settle.c -- owns the settlement benchmark: generates a national-scale
 * event stream in-process with pbrgen, loads it into an event set the way
 * `pbrctl simulate` does, then settles every contract in a directory and
 * prints a table of times and the peak resident set size.
 *
 *   settle [--offenders N] [--seed S] [--contracts DIR] [--direct] [--keep FILE]
 *   bench_settle --national [--events FILE] [--contract FILE] [--daemon] [--no-simulate] ...
 *
 * --national is issue 12's national-cohort benchmark (bench/national.h):
 * per-statement p50 and max through the daemon's settle call, the series
 * total, simulate's time and peak RSS, and optionally the daemon itself.
 *
 * Per contract it settles every quarter from pbr_contract_first_quarter to
 * pbr_contract_last_quarter with one fresh ledger, in order (each quarter is
 * one evaluation), and reports: the quarters settled, the time of the
 * statement of the quarter containing the contract's end ("one statement",
 * a quarter late in the contract with every cohort open), the slowest single
 * statement and the time of all statements. "One pass" = the sum of the
 * one-statement times over all contracts.
 *
 * Statement times are CPU time of the process (CLOCK_PROCESS_CPUTIME_ID),
 * so a busy shared machine does not inflate them; phases print both wall
 * and CPU time. Doubles are used only to print
 * seconds, never for anything settled.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/gen.h"
#include "pbr/settle.h"
#include "pbr/statement.h"
#include "pbr/err.h"

#define MAX_CONTRACTS 64
#define NATIONAL_EVENTS "bench/out/national-1m.jsonl" /* --national defaults */
#define NATIONAL_CONTRACT "bench/national.yaml"

typedef struct options {
    uint64_t offenders;
    uint64_t seed;
    const char *contracts_dir;
    const char *keep;     /* keep the generated file here (NULL = temp, deleted) */
    int direct;           /* load with parse + add + finish instead of read_jsonl */
    int national;         /* the national-cohort mode (bench/national.h) */
    int daemon;           /* --national: also through pbrd */
    int no_simulate;      /* --national: skip pbrctl simulate */
    int series_only;      /* --national: only the national series */
    const char *events;   /* --national: the stream */
    const char *contract; /* --national: the contract */
} options;

/* One contract's figures. */
typedef struct result {
    char name[64];
    size_t quarters;
    char late_label[16];
    double one_s; /* the quarter containing the end */
    double max_s; /* slowest quarter */
    double all_s; /* all quarters */
    int64_t late_total_pence;
    size_t late_lines;
} result;

/* Counts of what was loaded. */
typedef struct load_counts {
    int64_t lines;
    uint64_t read;
    size_t rejected;
    size_t by_type[PBR_EV_TYPE_COUNT];
} load_counts;

/* CPU time of this process: unlike wall time, not inflated when other
 * processes share the machine's cores. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* kilobytes on Linux */
}

static void print_memory(const char *phase)
{
    printf("  memory after %-10s VmRSS %7.1f MB   VmHWM %7.1f MB\n", phase, bench_status_kb(0, "VmRSS") / 1024.0,
           bench_status_kb(0, "VmHWM") / 1024.0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_settle [--offenders N] [--seed S] [--contracts DIR] [--direct] [--keep FILE]\n"
            "       bench_settle --national [--events FILE] [--contract FILE] [--offenders N] [--contracts DIR]"
            " [--daemon] [--no-simulate] [--series-only]\n");
}

/* Parses argv into *o. Returns 0, or -1 after printing usage. */
static int parse_options(int argc, char **argv, options *o)
{
    o->offenders = 1000000;
    o->seed = 1;
    o->contracts_dir = "contracts";
    o->keep = NULL;
    o->direct = 0;
    o->national = o->daemon = o->no_simulate = o->series_only = 0;
    o->events = NATIONAL_EVENTS;
    o->contract = NATIONAL_CONTRACT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *flag = !strcmp(a, "--direct") ? &o->direct
            : !strcmp(a, "--national")     ? &o->national
            : !strcmp(a, "--daemon")       ? &o->daemon
            : !strcmp(a, "--no-simulate")  ? &o->no_simulate
            : !strcmp(a, "--series-only")  ? &o->series_only
                                           : NULL;
        if (flag != NULL) {
            *flag = 1;
            continue;
        }
        if (v == NULL) {
            usage();
            return -1;
        }
        char *end;
        if (strcmp(a, "--offenders") == 0 || strcmp(a, "--seed") == 0) {
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (errno != 0 || *end != '\0' || end == v) {
                fprintf(stderr, "settle: %s: not a number: %s\n", a, v);
                return -1;
            }
            if (a[2] == 'o')
                o->offenders = n;
            else
                o->seed = n;
        } else if (strcmp(a, "--contracts") == 0) {
            o->contracts_dir = v;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = v;
        } else if (strcmp(a, "--events") == 0) {
            o->events = v;
        } else if (strcmp(a, "--contract") == 0) {
            o->contract = v;
        } else {
            usage();
            return -1;
        }
        i++;
    }
    return 0;
}

/* Writes the generated stream to a file (path returned in path, which the
 * caller unlinks unless it was --keep). Returns 0 or -1 with a message. */
static int generate_events(const options *o, char *path, size_t pathlen, load_counts *lc)
{
    FILE *f;
    if (o->keep != NULL) {
        snprintf(path, pathlen, "%s", o->keep);
        f = fopen(path, "w");
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, pathlen, "%s/pbr-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        f = fd < 0 ? NULL : fdopen(fd, "w");
        if (fd >= 0 && f == NULL)
            close(fd);
    }
    if (f == NULL) {
        fprintf(stderr, "settle: create %s: %s\n", path, strerror(errno));
        return -1;
    }
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.seed = o->seed;
    g.offenders = o->offenders;
    lc->lines = pbr_gen_write(&g, f);
    if (fclose(f) != 0 || lc->lines < 0) {
        fprintf(stderr, "settle: pbr_gen_write %s failed\n", path);
        return -1;
    }
    return 0;
}

static void count_reject(void *ctx, size_t line, const char *message)
{
    load_counts *lc = ctx;
    if (lc->rejected++ < 5)
        fprintf(stderr, "settle: line %zu rejected: %s\n", line, message);
}

/* Loads path with parse + add + finish (no duplicate detection): the
 * evaluator's input without the loader's id table, the way the daemon fills
 * its set from the store. Prints the CPU time of each step and the memory
 * before finish. Returns 0 or -1 with err. */
static int load_direct(pbr_eventset *set, const char *path, load_counts *lc, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = -1;
    double t_parse = 0, t_add = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        pbr_event ev;
        char msg[PBR_ERR_MAX];
        lineno++;
        double t0 = cpu_seconds();
        int parsed = pbr_event_parse(line, (size_t)got, &ev, msg, sizeof msg);
        double t1 = cpu_seconds();
        t_parse += t1 - t0;
        if (parsed != 0) {
            count_reject(lc, lineno, msg);
            continue;
        }
        int added = pbr_eventset_add(set, &ev, ++lc->read, err, errlen);
        pbr_event_clear(&ev);
        t_add += cpu_seconds() - t1;
        if (added != 0)
            goto out;
    }
    print_memory("add:");
    double t0 = cpu_seconds();
    rc = pbr_eventset_finish(set, 1, err, errlen);
    printf("    pbr_event_parse %.3f s CPU, pbr_eventset_add (+free) %.3f s CPU, pbr_eventset_finish %.3f s CPU\n",
           t_parse, t_add, cpu_seconds() - t0);
out:
    free(line);
    fclose(f);
    return rc;
}

static void count_types(const pbr_eventset *set, load_counts *lc)
{
    size_t n;
    const pbr_ev *all = pbr_eventset_all(set, &n);
    for (size_t i = 0; i < n; i++) {
        if (all[i].type < PBR_EV_TYPE_COUNT)
            lc->by_type[all[i].type]++;
    }
    lc->by_type[PBR_EV_VOID] = lc->read - n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the DIR/NAME.yaml files, sorted, into names (malloc'd each). Returns the count or -1. */
static int list_contracts(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "settle: opendir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".yaml"))
            continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL)
            break;
        snprintf(names[n], len, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, compare_names);
    return n;
}

/* Settles every quarter of contract c with a fresh ledger, timing each.
 * Returns 0 or -1 with a message. */
static int settle_contract(const pbr_contract *c, const pbr_eventset *set, result *r)
{
    char err[PBR_ERR_MAX];
    pbr_ledger *ledger = pbr_ledger_new();
    if (ledger == NULL) {
        fprintf(stderr, "settle: pbr_ledger_new: out of memory\n");
        return -1;
    }
    snprintf(r->name, sizeof r->name, "%s", c->id);
    pbr_date first = pbr_contract_first_quarter(c);
    pbr_date last = pbr_contract_last_quarter(c);
    pbr_date late = pbr_quarter_of(c->end, c->year_start);
    uint64_t through = pbr_eventset_last_seq(set);
    int rc = 0;
    pbr_eval_view view = {.contract = c, .events = set, .events_through = through};
    for (pbr_date q = first; q <= last; q = pbr_add_months(q, 3)) {
        pbr_statement *s = NULL;
        double t0 = cpu_seconds();
        if (pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, ledger, &s, err, sizeof err) != 0) {
            fprintf(stderr, "settle: %s: pbr_settle_quarter: %s\n", c->id, err);
            rc = -1;
            break;
        }
        double dt = cpu_seconds() - t0;
        r->quarters++;
        r->all_s += dt;
        if (dt > r->max_s)
            r->max_s = dt;
        if (q == late) {
            r->one_s = dt;
            snprintf(r->late_label, sizeof r->late_label, "%s", s->label);
            r->late_total_pence = s->total_pence;
            r->late_lines = s->nlines + s->nprovisional;
        }
        pbr_statement_destroy(&s);
    }
    pbr_ledger_destroy(&ledger);
    return rc;
}

static void print_counts(const load_counts *lc, const pbr_eventset *set)
{
    printf("  lines written %" PRId64 ", events read %" PRIu64 ", rejected %zu, offenders with events %zu\n", lc->lines,
           lc->read, lc->rejected, pbr_eventset_offenders(set));
    printf("  by type:");
    for (int t = 0; t < PBR_EV_TYPE_COUNT; t++)
        printf(" %s %zu", pbr_event_type_name((pbr_event_type)t), lc->by_type[t]);
    printf("\n");
}

/* Loads and settles every contract, printing the table. Returns 0 or -1. */
static int settle_all(const options *o, const pbr_eventset *set)
{
    char *names[MAX_CONTRACTS];
    int n = list_contracts(o->contracts_dir, names, MAX_CONTRACTS);
    if (n < 0)
        return -1;
    double pass = 0, worst = 0, all = 0;
    int rc = 0;
    printf("\nCPU seconds per contract (fresh ledger, every quarter in order):\n");
    printf("%-18s %8s %-12s %10s %10s %10s %8s %16s\n", "contract", "quarters", "late q", "one stmt", "slowest",
           "all stmts", "lines", "late total p");
    for (int i = 0; i < n; i++) {
        pbr_contract *c = NULL;
        pbr_diag diag;
        result r;
        memset(&r, 0, sizeof r);
        if (pbr_contract_load(names[i], &c, &diag) != 0) {
            char msg[PBR_ERR_MAX + 300];
            pbr_diag_format(&diag, msg, sizeof msg);
            fprintf(stderr, "settle: %s\n", msg);
            rc = -1;
            continue;
        }
        if (settle_contract(c, set, &r) != 0)
            rc = -1;
        pbr_contract_destroy(&c);
        printf("%-18s %8zu %-12s %9.3fs %9.3fs %9.3fs %8zu %16" PRId64 "\n", r.name, r.quarters, r.late_label, r.one_s,
               r.max_s, r.all_s, r.late_lines, r.late_total_pence);
        pass += r.one_s;
        worst += r.max_s;
        all += r.all_s;
    }
    printf("%-18s %8s %-12s %9.3fs %9.3fs %9.3fs\n", "TOTAL", "", "", pass, worst, all);
    printf("  one settlement pass: %.3f s with the late statement of each contract, %.3f s with the slowest"
           " (target < 2 s)\n",
           pass, worst);
    for (int i = 0; i < n; i++)
        free(names[i]);
    return rc;
}

#include "national.h"

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    if (o.national) {
        national_opts no = {
            o.events,      o.contract, o.contracts_dir, o.offenders, o.seed, o.daemon, !o.no_simulate && !o.series_only,
            !o.series_only};
        return national_main(&no);
    }
    char path[4096];
    char err[PBR_ERR_MAX];
    load_counts lc;
    memset(&lc, 0, sizeof lc);
    int rc = 1;

    printf("settle benchmark: %" PRIu64 " offenders, seed %" PRIu64 ", contracts %s, loader %s\n", o.offenders, o.seed,
           o.contracts_dir, o.direct ? "parse+add+finish" : "pbr_eventset_read_jsonl");
    double t0 = bench_now_s(), c0 = cpu_seconds();
    if (generate_events(&o, path, sizeof path, &lc) != 0)
        return 1;
    printf("  generate   %8.3f s wall %8.3f s CPU\n", bench_now_s() - t0, cpu_seconds() - c0);

    pbr_eventset *set = pbr_eventset_new();
    if (set == NULL) {
        fprintf(stderr, "settle: pbr_eventset_new: out of memory\n");
        goto out;
    }
    t0 = bench_now_s();
    c0 = cpu_seconds();
    int loaded = o.direct ? load_direct(set, path, &lc, err, sizeof err)
                          : pbr_eventset_read_jsonl(set, path, count_reject, &lc, &lc.read, err, sizeof err);
    double t_load = bench_now_s() - t0, c_load = cpu_seconds() - c0;
    if (loaded != 0) {
        fprintf(stderr, "settle: load %s: %s\n", path, err);
        goto out;
    }
    printf("  load       %8.3f s wall %8.3f s CPU\n", t_load, c_load);
    count_types(set, &lc);
    print_counts(&lc, set);
    print_memory("load:");

    t0 = bench_now_s();
    c0 = cpu_seconds();
    rc = settle_all(&o, set) == 0 ? 0 : 1;
    printf("  settle (all contracts, all quarters) %.3f s wall %.3f s CPU\n", bench_now_s() - t0, cpu_seconds() - c0);
    print_memory("settle:");
    printf("  peak RSS (getrusage ru_maxrss) %.1f MB (target < 500 MB)\n", peak_rss_kb() / 1024.0);
out:
    pbr_eventset_destroy(&set);
    if (o.keep == NULL)
        unlink(path);
    return rc;
}

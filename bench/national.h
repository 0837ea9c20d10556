/* national.h -- the national-cohort mode of bench/bench_settle (issue 12), kept
 * apart from the per-contract table of settle.c:
 *
 *   bench_settle --national [--events FILE] [--contract FILE] [--offenders N]
 *          [--contracts DIR] [--daemon] [--no-simulate] [--series-only]
 *
 * 1. The stream: FILE (default bench/out/national-1m.jsonl), generated with
 *    the library generator (pbrgen --offenders N, default 1,000,000) when it
 *    does not exist, and kept there for the next run.
 * 2. simulate: `$PBR_BUILD/pbrctl simulate CONTRACT FILE` as a child, with
 *    its wall time, CPU time (user + system, all threads) and peak RSS
 *    from wait4; its output goes to bench/out/national-simulate.json.
 * 3. In-process: the file loaded with pbr_eventset_read_jsonl, then every
 *    statement of CONTRACT (default bench/national.yaml) with
 *    pbr_settle_quarter, the call the daemon's settle op makes: per
 *    statement wall and CPU, p50 and max, the series total, and a digest
 *    (sha256 of the statements' sha256s) so runs before and after a change
 *    prove the figures equal. Then every contract of DIR with its cohort's
 *    where removed (a national cohort): its series total and digest.
 * 4. --daemon: pbrd on a fresh data dir with CONTRACT alone, `pbrctl send
 *    FILE`, a wait until pbrd is idle (it mirrors new events into memory
 *    while idle), then `pbrctl settle 2019-07-01`: the settle op's wall time
 *    and pbrd's CPU for it, per statement, and pbrd's peak RSS.
 *
 * --series-only skips 2 and the other contracts of 3 (for profiling).
 * Every phase prints the load average, since the machine is shared.
 */
#ifndef PBR_BENCH_NATIONAL_H
#define PBR_BENCH_NATIONAL_H

#include <sys/resource.h>
#include <sys/stat.h>
#include "pbr/files.h"
#include "pbr/sha256.h"

#define NATIONAL_MAX_Q 256

typedef struct national_opts {
    const char *events;
    const char *contract;
    const char *contracts_dir;
    uint64_t offenders;
    uint64_t seed;
    int daemon;
    int simulate;
    int others;
} national_opts;

static double national_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void national_load_line(const char *when)
{
    double l[3] = {0, 0, 0};
    bench_loadavg(l, 3);
    printf("  load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

static const char *national_build(void)
{
    const char *b = getenv("PBR_BUILD");
    return b && *b ? b : "build";
}

/* Generates the stream into path unless it exists (creating its
 * directory). Returns 0 or -1. */
static int national_events(const national_opts *o)
{
    struct stat st;
    if (stat(o->events, &st) == 0) {
        printf("  stream %s (%.0f MB, cached)\n", o->events, (double)st.st_size / 1e6);
        return 0;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->events);
    char err[PBR_ERR_MAX];
    if (pbr_make_parent_dirs(tmp, err, sizeof err) != 0) {
        fprintf(stderr, "settle: %s\n", err);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "settle: create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    pbr_gen_opts g;
    pbr_gen_defaults(&g);
    g.seed = o->seed;
    g.offenders = o->offenders;
    double t0 = bench_now_s();
    int64_t lines = pbr_gen_write(&g, f);
    if (fclose(f) != 0 || lines < 0 || rename(tmp, o->events) != 0) {
        fprintf(stderr, "settle: writing %s failed\n", o->events);
        unlink(tmp);
        return -1;
    }
    printf("  stream %s: %" PRId64 " lines generated (pbrgen --offenders %" PRIu64 ") in %.1f s\n", o->events, lines,
           o->offenders, bench_now_s() - t0);
    return 0;
}

/* Runs argv as a child with stdout to out_path (NULL: inherited) and waits:
 * wall seconds, CPU seconds and peak RSS (kB). Returns its exit status or -1. */
static int national_run(char *const argv[], const char *out_path, double *wall, double *cpu, long *maxrss_kb)
{
    double t0 = bench_now_s();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (out_path != NULL) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                dup2(fd, STDOUT_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid)
        return -1;
    *wall = bench_now_s() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
        (double)ru.ru_stime.tv_usec / 1e6;
    *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int national_simulate(const national_opts *o)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s/pbrctl", national_build());
    char *argv[] = {bin, "simulate", (char *)o->contract, (char *)o->events, NULL};
    double wall, cpu;
    long rss;
    national_load_line("before simulate");
    int rc = national_run(argv, "bench/out/national-simulate.json", &wall, &cpu, &rss);
    if (rc != 0) {
        fprintf(stderr, "settle: pbrctl simulate exited %d\n", rc);
        return -1;
    }
    printf("  pbrctl simulate (whole contract, file loading included): %.3f s wall, %.3f s CPU, peak RSS %.1f MB"
           " (targets <= 12 s wall, <= 500 MB)\n",
           wall, cpu, (double)rss / 1024.0);
    national_load_line("after simulate");
    return 0;
}

/* Figures of one contract's series. */
typedef struct series {
    size_t n;
    double wall[NATIONAL_MAX_Q], cpu[NATIONAL_MAX_Q];
    double wall_total, cpu_total;
    int64_t total_pence;
    char digest[65];
} series;

/* Settles every quarter of c with a fresh ledger, as the daemon does (one
 * pbr_settle_quarter per statement). Returns 0 or -1 with a message. */
static int national_series(const pbr_contract *c, const pbr_eventset *set, series *s)
{
    char err[PBR_ERR_MAX];
    memset(s, 0, sizeof *s);
    pbr_ledger *ledger = pbr_ledger_new();
    char *hexes = calloc(NATIONAL_MAX_Q, 64);
    if (ledger == NULL || hexes == NULL) {
        pbr_ledger_destroy(&ledger);
        free(hexes);
        fprintf(stderr, "settle: out of memory\n");
        return -1;
    }
    uint64_t through = pbr_eventset_last_seq(set);
    pbr_date last = pbr_contract_last_quarter(c);
    int rc = 0;
    pbr_eval_view view = {.contract = c, .events = set, .events_through = through};
    for (pbr_date q = pbr_contract_first_quarter(c); q <= last && s->n < NATIONAL_MAX_Q; q = pbr_add_months(q, 3)) {
        pbr_statement *st = NULL;
        double w0 = bench_now_s(), c0 = national_cpu_s();
        if (pbr_settle_quarter(&view, &(pbr_settle_request){.quarter = q}, ledger, &st, err, sizeof err) != 0) {
            fprintf(stderr, "settle: %s: pbr_settle_quarter: %s\n", c->id, err);
            rc = -1;
            break;
        }
        s->wall[s->n] = bench_now_s() - w0;
        s->cpu[s->n] = national_cpu_s() - c0;
        s->wall_total += s->wall[s->n];
        s->cpu_total += s->cpu[s->n];
        s->total_pence += st->total_pence;
        char *json = pbr_statement_to_json(st, NULL);
        if (json != NULL) {
            pbr_sha256_hex(json, strlen(json), hexes + 64 * s->n);
            free(json);
        }
        s->n++;
        pbr_statement_destroy(&st);
    }
    pbr_sha256_hex(hexes, 64 * s->n, s->digest);
    free(hexes);
    pbr_ledger_destroy(&ledger);
    return rc;
}

static void national_print_series(const char *name, series *s)
{
    double w[NATIONAL_MAX_Q], c[NATIONAL_MAX_Q];
    memcpy(w, s->wall, s->n * sizeof *w);
    memcpy(c, s->cpu, s->n * sizeof *c);
    double wmax = s->n ? bench_percentile(w, s->n, 100) : 0, cmax = s->n ? bench_percentile(c, s->n, 100) : 0;
    printf("  %-18s %3zu stmts  p50 %7.3f s wall %7.3f s CPU  max %7.3f s wall %7.3f s CPU  series %7.3f s wall"
           " %7.3f s CPU  paid %14" PRId64 " p  digest %.16s\n",
           name, s->n, bench_percentile(w, s->n, 50), bench_percentile(c, s->n, 50), wmax, cmax, s->wall_total,
           s->cpu_total, s->total_pence, s->digest);
}

/* Every contract of dir with its cohort's where removed. Returns 0 or -1. */
static int national_others(const national_opts *o, const pbr_eventset *set)
{
    char *names[MAX_CONTRACTS];
    int n = list_contracts(o->contracts_dir, names, MAX_CONTRACTS);
    if (n < 0)
        return -1;
    int rc = 0;
    printf("\n  every contract of %s with a national cohort (cohort where removed):\n", o->contracts_dir);
    for (int i = 0; i < n; i++) {
        pbr_contract *c = NULL;
        pbr_diag diag;
        if (pbr_contract_load(names[i], &c, &diag) != 0) {
            char msg[PBR_ERR_MAX + 300];
            pbr_diag_format(&diag, msg, sizeof msg);
            fprintf(stderr, "settle: %s\n", msg);
            rc = -1;
            continue;
        }
        size_t keep = c->cohort.where.nconds;
        c->cohort.where.nconds = 0;
        series s;
        if (national_series(c, set, &s) != 0)
            rc = -1;
        c->cohort.where.nconds = keep;
        national_print_series(c->id, &s);
        pbr_contract_destroy(&c);
        free(names[i]);
    }
    return rc;
}

/* pbrd on a fresh data dir with the contract alone: send, then settle.
 * Returns 0 or -1. */
static int national_daemon(const national_opts *o, size_t nstatements)
{
    char dir[64] = "/tmp/pbrd-national-XXXXXX", cdir[96], config[96], log[96], cpath[160];
    char ingest[64], api[64], publish[64];
    if (mkdtemp(dir) == NULL || bench_endpoints(ingest, api, publish) != 0) {
        fprintf(stderr, "settle: mkdtemp or free ports failed\n");
        return -1;
    }
    snprintf(cdir, sizeof cdir, "%s.contracts", dir);
    snprintf(config, sizeof config, "%s.yaml", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    snprintf(cpath, sizeof cpath, "%s/national.yaml", cdir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s'", cdir, o->contract, cpath);
    if (system(cmd) != 0 || bench_write_text(config, "auto_settle: false\n") != 0) {
        fprintf(stderr, "settle: preparing %s failed\n", cdir);
        return -1;
    }
    char pbrd[512], pbrctl[512];
    snprintf(pbrd, sizeof pbrd, "%s/pbrd", national_build());
    snprintf(pbrctl, sizeof pbrctl, "%s/pbrctl", national_build());
    char *argv[] = {pbrd, "-c",        config,  "--foreground", "--data", dir,     "--ingest",   ingest, "--api",
                    api,  "--publish", publish, "--contracts",  cdir,     "--now", "2030-01-01", NULL};
    void *zctx = zmq_ctx_new();
    pid_t pid = bench_spawn(argv, log, 0);
    int rc = -1;
    if (pid < 0 || bench_wait_status(zctx, api, pid, 300) != 1) {
        fprintf(stderr, "settle: pbrd did not start (see %s)\n", log);
        goto out;
    }
    double wall, cpu;
    long rss;
    char *send[] = {pbrctl, "--ingest", ingest, "send", (char *)o->events, NULL};
    national_load_line("before send");
    if (national_run(send, "/dev/null", &wall, &cpu, &rss) != 0) {
        fprintf(stderr, "settle: pbrctl send failed\n");
        goto stop;
    }
    printf("  daemon: pbrctl send %.1f s wall; pbrd VmRSS %.1f MB after it\n", wall,
           bench_status_kb(pid, "VmRSS") / 1024.0);
    /* pbrd mirrors and indexes the events while idle: wait until it is quiet
     * (under 5% of a core for half a second), as a user would before settling */
    double q0 = bench_now_s(), cpu_prev = bench_cpu_s(pid);
    for (;;) {
        bench_sleep_s(0.5);
        double cpu_now = bench_cpu_s(pid);
        if (cpu_now - cpu_prev < 0.025 || bench_now_s() - q0 > 600)
            break;
        cpu_prev = cpu_now;
    }
    printf("  daemon: pbrd idle (events mirrored and indexed) %.1f s after send returned; VmRSS %.1f MB (anon %.1f,"
           " file %.1f), VmHWM %.1f MB\n",
           bench_now_s() - q0, bench_status_kb(pid, "VmRSS") / 1024.0, bench_status_kb(pid, "RssAnon") / 1024.0,
           bench_status_kb(pid, "RssFile") / 1024.0, bench_status_kb(pid, "VmHWM") / 1024.0);
    char *settle[] = {pbrctl, "--api", api, "--timeout", "3600000", "settle", "2019-07-01", NULL};
    double c0 = bench_cpu_s(pid);
    national_load_line("before settle");
    if (national_run(settle, "/dev/null", &wall, &cpu, &rss) != 0) {
        fprintf(stderr, "settle: pbrctl settle failed\n");
        goto stop;
    }
    double pcpu = bench_cpu_s(pid) - c0;
    printf("  daemon: pbrctl settle 2019-07-01: %zu statements in %.3f s wall, pbrd %.3f s CPU: %.3f s wall,"
           " %.3f s CPU per statement (target <= 0.2 s); pbrd peak RSS %.1f MB (target <= 500 MB)\n",
           nstatements, wall, pcpu, wall / (double)(nstatements ? nstatements : 1),
           pcpu / (double)(nstatements ? nstatements : 1), bench_status_kb(pid, "VmHWM") / 1024.0);
    national_load_line("after settle");
    rc = 0;
stop:
    bench_stop(pid, NULL);
out:
    zmq_ctx_term(zctx);
    const char *paths[] = {dir, cdir, config, log};
    bench_remove(paths, rc == 0 ? 4 : 3);
    return rc;
}

static void national_count_reject(void *ctx, size_t line, const char *message)
{
    size_t *n = ctx;
    if ((*n)++ < 5)
        fprintf(stderr, "settle: line %zu rejected: %s\n", line, message);
}

/* The national mode. Returns the exit status. */
static int national_main(const national_opts *o)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures appear as they are measured */
    printf("settle --national: stream %s, contract %s\n", o->events, o->contract);
    national_load_line("at start");
    if (national_events(o) != 0)
        return 1;
    if (o->simulate && national_simulate(o) != 0)
        return 1;
    char err[PBR_ERR_MAX];
    pbr_contract *c = NULL;
    pbr_diag diag;
    if (pbr_contract_load(o->contract, &c, &diag) != 0) {
        char msg[PBR_ERR_MAX + 300];
        pbr_diag_format(&diag, msg, sizeof msg);
        fprintf(stderr, "settle: %s\n", msg);
        return 1;
    }
    int rc = 1;
    size_t rejected = 0;
    uint64_t nread = 0;
    pbr_eventset *set = pbr_eventset_new();
    double w0 = bench_now_s(), c0 = national_cpu_s();
    if (set == NULL ||
        pbr_eventset_read_jsonl(set, o->events, national_count_reject, &rejected, &nread, err, sizeof err) != 0) {
        fprintf(stderr, "settle: load %s: %s\n", o->events, set ? err : "out of memory");
        goto out;
    }
    printf("  in-process load (pbr_eventset_read_jsonl): %" PRIu64 " events, %zu offenders, %.3f s wall %.3f s"
           " CPU\n",
           nread, pbr_eventset_offenders(set), bench_now_s() - w0, national_cpu_s() - c0);
    national_load_line("before the series");
    series s;
    if (national_series(c, set, &s) != 0)
        goto out;
    printf("  the daemon's settle path in-process (pbr_settle_quarter per statement):\n");
    national_print_series(c->id, &s);
    printf("  per statement: p50 %.3f s, series %.3f s wall (targets <= 0.2 s, <= 4.5 s); digest %s\n",
           bench_percentile(s.wall, s.n, 50), s.wall_total, s.digest);
    national_load_line("after the series");
    if (o->others && national_others(o, set) != 0)
        goto out;
    printf("  in-process peak RSS %.1f MB\n", bench_status_kb(0, "VmHWM") / 1024.0);
    size_t nstatements = s.n;
    pbr_eventset_destroy(&set);
    set = NULL;
    if (o->daemon && national_daemon(o, nstatements) != 0)
        goto out;
    rc = 0;
out:
    pbr_eventset_destroy(&set);
    pbr_contract_destroy(&c);
    return rc;
}

#endif

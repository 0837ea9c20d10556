/* cmd_gen.c -- owns `pbrctl gen` (also run as `pbrgen`): option parsing for
 * the synthetic event generator of libpbr (gen.h) and writing its stream to
 * stdout or a file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/gen.h"
#include "pbrctl/pbrctl.h"

static void print_gen_usage(FILE *f)
{
    fprintf(f,
            "usage: pbrctl gen [--seed N] [--offenders N] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
            "                  [--malformed RATE] [--no-voids] [--no-late] [-o FILE]\n"
            "  writes a deterministic synthetic event stream (JSON Lines) to stdout or FILE.\n"
            "  defaults: --seed 1 --offenders 1000 --from 2011-04-01 --to 2016-03-31 --malformed 0\n");
}

/* Returns 2 after printing a usage error. */
static int usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));
static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pbrctl gen: ");
    fprintf(stderr, fmt, arg); /* fmt: one %s, from the callers below */
    fprintf(stderr, "\n");
    print_gen_usage(stderr);
    return 2;
}

/* Parses a whole unsigned decimal. Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Parses a rate in [0, 1]. Returns 0 or -1. */
static int parse_rate(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0 && v <= 1.0))
        return -1;
    *out = v;
    return 0;
}

/* Splits "--name=value" into name and value; otherwise takes the value from
 * the next argument (advancing *i). Returns the value or NULL if none. */
static const char *option_value(int argc, char **argv, int *i, const char *arg, size_t namelen)
{
    if (arg[namelen] == '=')
        return arg + namelen + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* Returns 1 if arg is the option name, alone or as "name=value". */
static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* pbrctl gen: returns 0, 1 on a write error, 2 on a usage error. */
int cmd_gen(const pbrctl_opts *o, int argc, char **argv)
{
    (void)o;
    pbr_gen_opts g;
    const char *path = NULL;
    pbr_gen_defaults(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_gen_usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-voids") == 0) {
            g.voids = 0;
        } else if (strcmp(a, "--no-late") == 0) {
            g.late = 0;
        } else if (strcmp(a, "-o") == 0 || is_option(a, "--output")) {
            v = option_value(argc, argv, &i, a, strcmp(a, "-o") == 0 ? 2 : strlen("--output"));
            if (!v || !*v)
                return usage_error("%s needs a file name", a);
            path = v;
        } else if (is_option(a, "--seed")) {
            v = option_value(argc, argv, &i, a, strlen("--seed"));
            if (parse_u64(v, &g.seed) < 0)
                return usage_error("--seed needs a whole number, got \"%s\"", v ? v : "");
        } else if (is_option(a, "--offenders")) {
            v = option_value(argc, argv, &i, a, strlen("--offenders"));
            if (parse_u64(v, &g.offenders) < 0 || g.offenders > 100000000ULL)
                return usage_error("--offenders needs a whole number up to 100000000, got \"%s\"", v ? v : "");
        } else if (is_option(a, "--from") || is_option(a, "--to")) {
            int from = is_option(a, "--from");
            v = option_value(argc, argv, &i, a, strlen(from ? "--from" : "--to"));
            if (!v || pbr_date_parse(v, strlen(v), from ? &g.from : &g.to) != 0)
                return usage_error("date \"%s\" is not a real YYYY-MM-DD day", v ? v : "");
        } else if (is_option(a, "--malformed")) {
            v = option_value(argc, argv, &i, a, strlen("--malformed"));
            if (parse_rate(v, &g.malformed_rate) < 0)
                return usage_error("--malformed needs a rate between 0 and 1, got \"%s\"", v ? v : "");
        } else {
            return usage_error("unknown argument \"%s\"", a);
        }
    }
    if (g.from > g.to) {
        fprintf(stderr, "pbrctl gen: --from is after --to\n");
        print_gen_usage(stderr);
        return 2;
    }
    FILE *out = stdout;
    if (path && strcmp(path, "-") != 0) {
        out = fopen(path, "w");
        if (!out) {
            fprintf(stderr, "pbrctl gen: fopen %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    int64_t n = pbr_gen_write(&g, out);
    int write_errno = errno;
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "pbrctl gen: writing %s: %s\n", out == stdout ? "stdout" : path, strerror(write_errno));
        rc = 1;
    }
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "pbrctl gen: fclose %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && out != stdout)
        fprintf(stderr, "pbrctl gen: wrote %lld events to %s\n", (long long)n, path);
    return rc;
}

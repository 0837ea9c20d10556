/* format.c -- pbrctl's money, CSV, totals and progress output (format.h). */
#include "pbrctl/format.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *fmt_gbp(int64_t pence, char buf[PBR_GBP_MAX])
{
    pbr_format_gbp(pence, buf, PBR_GBP_MAX);
    return buf;
}

/* Display columns of UTF-8 text: bytes that do not continue a character. */
static int columns(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

void print_right(FILE *f, const char *s, int width)
{
    for (int pad = width - columns(s); pad > 0; pad--)
        fputc(' ', f);
    fputs(s, f);
}

void csv_cell(FILE *f, int first, const char *s, int text)
{
    size_t need = 2 * strlen(s) + 4; /* every quote doubled, the quotes, ' and NUL */
    char *cell = malloc(need);
    if (!first)
        fputc(',', f);
    if (cell != NULL && pbr_csv_cell(s, text, cell, need) == 0)
        fputs(cell, f);
    free(cell);
}

void csv_money(FILE *f, int64_t pence)
{
    char gbp[32];
    pbr_format_gbp_plain(pence, gbp, sizeof gbp);
    fprintf(f, ",%lld,%s", (long long)pence, gbp);
}

static void totals_row(FILE *f, const char *name, const pbr_split *s)
{
    char a[PBR_GBP_MAX];
    fprintf(f, "  %-10s", name);
    print_right(f, fmt_gbp(s->fees, a), 18);
    print_right(f, fmt_gbp(s->outcomes, a), 18);
    print_right(f, fmt_gbp(s->adjustments, a), 18);
    print_right(f, fmt_gbp(pbr_split_total(s), a), 18);
    fputc('\n', f);
}

void print_totals(FILE *f, const pbr_totals *t)
{
    fprintf(f, "\nTotals (paid, after contract_cap)\n");
    fprintf(f, "  %-10s%18s%18s%18s%18s\n", "year", "fees", "outcomes", "adjustments", "total");
    for (size_t i = 0; i < t->nyears; i++)
        totals_row(f, t->years[i].year, &t->years[i].split);
    totals_row(f, "lifetime", &t->life);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_start(progress *p, const char *what)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->tty = isatty(STDERR_FILENO);
    p->started = now_s();
    /* PBR_PROGRESS_DELAY_MS: how long work runs before the line shows
     * (default 1000; the tests set 0) */
    const char *d = getenv("PBR_PROGRESS_DELAY_MS");
    p->delay = d && *d ? (double)strtol(d, NULL, 10) / 1000.0 : 1.0;
}

void progress_update(progress *p, uint64_t done, uint64_t total)
{
    if (!p->tty)
        return;
    double t = now_s();
    if (t - p->started < p->delay || t - p->last < 0.1)
        return;
    p->last = t;
    p->shown = 1;
    if (total > 0)
        fprintf(stderr, "\r%s: %llu/%llu (%.0f%%) %.0fs ", p->what, (unsigned long long)done, (unsigned long long)total,
                100.0 * (double)done / (double)total, t - p->started);
    else
        fprintf(stderr, "\r%s: %.0fs ", p->what, t - p->started);
    fflush(stderr);
}

void progress_done(progress *p)
{
    if (p->tty && p->shown) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->shown = 0;
}

/* cmd_send.c -- owns `pbrctl send FILE|-`: reading JSON Lines, cutting them
 * into batches, pipelining the batches over one DEALER socket (a window of
 * batches in flight; replies come back in order on one connection), mapping
 * each rejection back to its line of FILE, progress and the summary. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pbr/event.h"
#include "pbrctl/client.h"
#include "pbrctl/pbrctl.h"

#define DEFAULT_BATCH 1000
#define DEFAULT_WINDOW 16
#define MAX_WINDOW 1024
#define DEFAULT_MAX_BYTES 16777216u

typedef struct send_state {
    const char *name; /* FILE as given, "-" is shown as <stdin> */
    FILE *in;
    long batch_lines, window;
    size_t max_bytes;
    /* reading */
    char *line; /* getline buffer */
    size_t line_cap;
    ssize_t line_len; /* pending line not yet in a batch, -1 none */
    uint64_t lineno;  /* lines read so far */
    int eof;
    char *buf; /* the batch being built */
    size_t buf_len, buf_cap;
    /* in flight: first FILE line of each batch, oldest first (a ring) */
    uint64_t first_line[MAX_WINDOW];
    long head, count;
    /* results */
    uint64_t accepted, duplicates, rejected, failed_batches, batches;
    /* progress */
    int tty;
    off_t total_bytes;
    uint64_t bytes_read;
    struct timespec start, last_draw;
} send_state;

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Appends len bytes to the batch buffer. Returns 0 or -1 (out of memory). */
static int buf_append(send_state *s, const char *p, size_t len)
{
    if (s->buf_len + len > s->buf_cap) {
        size_t cap = s->buf_cap ? s->buf_cap : 65536;
        while (cap < s->buf_len + len)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return -1;
        s->buf = nb;
        s->buf_cap = cap;
    }
    memcpy(s->buf + s->buf_len, p, len);
    s->buf_len += len;
    return 0;
}

/* Reads the next line into s->line (without its newline). Returns 1, 0 at
 * end of input, -1 on a read error. */
static int read_line(send_state *s)
{
    errno = 0;
    ssize_t n = getline(&s->line, &s->line_cap, s->in);
    if (n < 0)
        return errno ? -1 : 0;
    s->bytes_read += (uint64_t)n;
    if (n > 0 && s->line[n - 1] == '\n')
        n--;
    s->line_len = n;
    s->lineno++;
    return 1;
}

/* Fills the next batch (up to batch_lines lines and max_bytes bytes) in
 * s->buf and sets *first to its first FILE line. A single line bigger than
 * max_bytes is reported and counted as rejected, not sent. Returns the number
 * of lines in the batch (0 at end of input) or -1 on an error (printed). */
static long next_batch(send_state *s, uint64_t *first)
{
    long n = 0;
    s->buf_len = 0;
    for (;;) {
        if (s->line_len < 0) {
            if (s->eof)
                break;
            int rc = read_line(s);
            if (rc < 0) {
                fprintf(stderr, "pbrctl send: reading %s: %s\n", s->name, strerror(errno));
                return -1;
            }
            if (rc == 0) {
                s->eof = 1;
                break;
            }
        }
        size_t need = (size_t)s->line_len + 1;
        if (need > s->max_bytes) {
            if (n > 0)
                break; /* send what we have; this line is handled next time */
            printf("%s:%" PRIu64 ": line of %zu bytes exceeds the frame limit of %zu bytes; not sent\n", s->name,
                   s->lineno, (size_t)s->line_len, s->max_bytes);
            s->rejected++;
            s->line_len = -1;
            continue;
        }
        if (s->buf_len + need > s->max_bytes)
            break;
        if (n == 0)
            *first = s->lineno;
        if (buf_append(s, s->line, (size_t)s->line_len) < 0 || buf_append(s, "\n", 1) < 0) {
            fprintf(stderr, "pbrctl send: out of memory\n");
            return -1;
        }
        s->line_len = -1;
        if (++n >= s->batch_lines)
            break;
    }
    return n;
}

/* Redraws the progress line on a terminal, at most every 100 ms. */
static void draw_progress(send_state *s, int force)
{
    if (!s->tty)
        return;
    if (!force && seconds_since(&s->last_draw) < 0.1)
        return;
    clock_gettime(CLOCK_MONOTONIC, &s->last_draw);
    double t = seconds_since(&s->start);
    uint64_t done = s->accepted + s->duplicates + s->rejected;
    double rate = t > 0 ? (double)done / t : 0;
    char bar[33];
    int pct = -1;
    if (s->total_bytes > 0) {
        pct = (int)((double)s->bytes_read * 100.0 / (double)s->total_bytes);
        if (pct > 100)
            pct = 100;
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3d%%  %" PRIu64 " events  %.0f events/s   ", bar, pct, done, rate);
    } else {
        fprintf(stderr, "\r%" PRIu64 " events  %.0f events/s   ", done, rate);
    }
    fflush(stderr);
}

/* Handles one reply for the batch starting at FILE line first. */
static void handle_reply(send_state *s, uint64_t first, const char *text)
{
    json_error_t jerr;
    json_t *r = json_loads(text, 0, &jerr);
    json_t *e = json_object_get(r, "error");
    if (!r || json_is_string(e)) {
        if (s->tty)
            fputc('\n', stderr);
        printf("%s:%" PRIu64 ": batch not stored: %s\n", s->name, first,
               r ? json_string_value(e) : "reply is not JSON");
        s->failed_batches++;
        json_decref(r);
        return;
    }
    s->accepted += (uint64_t)json_integer_value(json_object_get(r, "accepted"));
    s->duplicates += (uint64_t)json_integer_value(json_object_get(r, "duplicates"));
    s->rejected += (uint64_t)json_integer_value(json_object_get(r, "rejected"));
    size_t i;
    json_t *err;
    json_array_foreach(json_object_get(r, "errors"), i, err)
    {
        json_int_t k = json_integer_value(json_object_get(err, "line"));
        const char *msg = json_string_value(json_object_get(err, "error"));
        if (!msg)
            msg = "?";
        /* the daemon says "line K: reason" with K counted in the batch */
        if (!strncmp(msg, "line ", 5)) {
            const char *colon = strstr(msg, ": ");
            if (colon)
                msg = colon + 2;
        }
        if (s->tty && i == 0)
            fputs("\r\033[K", stderr);
        printf("%s:%" PRIu64 ": %s\n", s->name, first + (uint64_t)(k > 0 ? k - 1 : 0), msg);
    }
    json_decref(r);
}

/* Parses send's own options. Returns 0 or 2. */
static int parse_send_args(send_state *s, int argc, char **argv)
{
    s->batch_lines = DEFAULT_BATCH;
    s->window = DEFAULT_WINDOW;
    s->max_bytes = DEFAULT_MAX_BYTES;
    for (int i = 1; i < argc; i++) {
        long *target = NULL, lo = 1, hi = 1000000;
        long maxb = 0;
        if (!strcmp(argv[i], "--batch"))
            target = &s->batch_lines;
        else if (!strcmp(argv[i], "--window"))
            target = &s->window, hi = MAX_WINDOW;
        else if (!strcmp(argv[i], "--max-bytes"))
            target = &maxb, lo = 64, hi = 1L << 31;
        if (target) {
            char *end = NULL;
            if (i + 1 >= argc) {
                fprintf(stderr, "pbrctl send: %s needs a value\n", argv[i]);
                return 2;
            }
            long v = strtol(argv[i + 1], &end, 10);
            if (*end || v < lo || v > hi) {
                fprintf(stderr, "pbrctl send: %s must be %ld..%ld\n", argv[i], lo, hi);
                return 2;
            }
            *target = v;
            if (target == &maxb)
                s->max_bytes = (size_t)maxb;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "pbrctl send: unknown option \"%s\"\n", argv[i]);
            return 2;
        } else if (s->name) {
            fprintf(stderr, "pbrctl send: one FILE only\n");
            return 2;
        } else {
            s->name = argv[i];
        }
    }
    if (!s->name) {
        fprintf(stderr, "usage: pbrctl send FILE|- [--batch N] [--window N] [--max-bytes N]\n");
        return 2;
    }
    return 0;
}

/* Opens the input and notes its size for the progress bar. Returns 0 or 2. */
static int open_input(send_state *s)
{
    if (!strcmp(s->name, "-")) {
        s->in = stdin;
        s->name = "<stdin>";
    } else if (!(s->in = fopen(s->name, "r"))) {
        fprintf(stderr, "pbrctl send: %s: %s\n", s->name, strerror(errno));
        return 2;
    }
    struct stat sb;
    if (fstat(fileno(s->in), &sb) == 0 && S_ISREG(sb.st_mode))
        s->total_bytes = sb.st_size;
    return 0;
}

/* The send loop: keep the window full, take replies in order. Returns the
 * exit status. */
static int pump(send_state *s, pbrctl_client *c)
{
    char err[PBR_ERR_MAX];
    for (;;) {
        while (!s->eof && s->count < s->window) {
            uint64_t first = 0;
            long n = next_batch(s, &first);
            if (n < 0)
                return 2;
            if (n == 0)
                break;
            if (pbrctl_client_send(c, s->buf, s->buf_len, err, sizeof err) < 0) {
                fprintf(stderr, "pbrctl send: %s\n", err);
                return 2;
            }
            s->first_line[(s->head + s->count) % MAX_WINDOW] = first;
            s->count++;
            s->batches++;
        }
        if (s->count == 0)
            return 0;
        char *reply = NULL;
        if (pbrctl_client_recv(c, &reply, NULL, err, sizeof err) < 0) {
            if (s->tty)
                fputc('\n', stderr);
            fprintf(stderr, "pbrctl send: %s (%ld batches unacknowledged)\n", err, s->count);
            return 2;
        }
        handle_reply(s, s->first_line[s->head], reply);
        free(reply);
        s->head = (s->head + 1) % MAX_WINDOW;
        s->count--;
        draw_progress(s, 0);
    }
}

int cmd_send(const pbrctl_opts *o, int argc, char **argv)
{
    send_state s;
    memset(&s, 0, sizeof s);
    s.line_len = -1;
    int rc = parse_send_args(&s, argc, argv);
    if (rc || (rc = open_input(&s)))
        return rc;
    s.tty = isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &s.start);
    pbrctl_client c;
    char err[PBR_ERR_MAX];
    if (pbrctl_client_open(&c, o, o->ingest, err, sizeof err) < 0) {
        fprintf(stderr, "pbrctl send: %s\n", err);
        rc = 2;
        goto out;
    }
    rc = pump(&s, &c);
    pbrctl_client_close(&c);
    draw_progress(&s, 1);
    if (s.tty)
        fputc('\n', stderr);
    double t = seconds_since(&s.start);
    uint64_t done = s.accepted + s.duplicates + s.rejected;
    printf("accepted %" PRIu64 ", duplicates %" PRIu64 ", rejected %" PRIu64 "\n", s.accepted, s.duplicates,
           s.rejected);
    fprintf(stderr, "%" PRIu64 " lines in %" PRIu64 " batches, %.2f s, %.0f events/s%s\n", s.lineno, s.batches, t,
            t > 0 ? (double)done / t : 0.0, s.failed_batches ? " (some batches were not stored)" : "");
    if (rc == 0 && (s.rejected > 0 || s.failed_batches > 0))
        rc = 1;
out:
    if (s.in && s.in != stdin)
        fclose(s.in);
    free(s.line);
    free(s.buf);
    return rc;
}

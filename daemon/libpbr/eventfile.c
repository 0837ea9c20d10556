/* eventfile.c -- reading a JSON Lines event file into an event set, as a
 * set: order never matters, identical duplicates count once, conflicting
 * duplicates and invalid lines are rejected with their line number. Lines
 * are parsed on NPARSERS threads; everything that depends on the order of
 * the lines happens in file order on the calling thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/eventset.h"
#include "pbr/utf8.h"
#include "pbr/err.h"
#include "pbr/mem.h"

static void reject(pbr_reject_fn fn, void *ctx, size_t line, const char *msg)
{
    if (fn != NULL)
        fn(ctx, line, msg);
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

/* ---- parallel parsing --------------------------------------------------------------
 * The file is cut into chunks of whole lines (jobs). Parser threads turn a
 * job's lines into parsed events and the hash of their ids (the
 * costly, independent part); the calling thread takes the jobs back in file
 * order and does what depends on order: duplicate detection, sequence
 * numbers, the event set, the reject callback. A ring of NJOBS jobs bounds
 * the memory; the caller parses a job itself when no parser has taken it. */

#define NPARSERS 2
#define NJOBS 6
#define CHUNK (1u << 19)
#define PREFETCH_AHEAD 8 /* events the caller looks ahead in the id table */

enum { JOB_FREE, JOB_READY, JOB_PARSING, JOB_PARSED };

typedef struct pitem {
    size_t line; /* 0-based line number within the job */
    int ok;      /* 1: ev and id_hash; 0: msg */
    pbr_event ev;
    uint64_t id_hash; /* hash of the id */
    char *msg;        /* the rejection (malloc'd) */
} pitem;

typedef struct job {
    char *text; /* whole lines (the last may lack its newline at EOF) */
    size_t len, cap;
    pitem *items;
    size_t nitems, items_cap;
    size_t nlines; /* lines in text, blank ones included */
    int state;
    int oom;
} job;

typedef struct loader {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job jobs[NJOBS];
    size_t next_parse; /* the next job (counter) a parser may take */
    size_t filled;     /* jobs filled so far (counter) */
    int stop;
} loader;

static void job_clear_items(job *j)
{
    for (size_t i = 0; i < j->nitems; i++) {
        if (j->items[i].ok)
            pbr_event_clear(&j->items[i].ev);
        free(j->items[i].msg);
    }
    j->nitems = 0;
    j->nlines = 0;
    j->oom = 0;
}

/* Parses every line of j into j->items (sets j->oom on allocation failure). */
static void parse_job(job *j)
{
    const char *p = j->text, *end = j->text + j->len;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!is_blank(p, len)) {
            if (pbr_grow((void **)&j->items, &j->items_cap, j->nitems + 1, sizeof *j->items) != 0) {
                j->oom = 1;
                return;
            }
            pitem *it = &j->items[j->nitems];
            char msg[PBR_ERR_MAX];
            memset(it, 0, sizeof *it);
            it->line = line;
            /* not text: the same reason as the daemon's ingest gives ("NUL byte at byte 5") */
            if (pbr_utf8_text_problem(p, len, msg, sizeof msg) ||
                pbr_event_parse(p, len, &it->ev, msg, sizeof msg) != 0) {
                it->msg = strdup(msg);
                j->oom |= it->msg == NULL;
            } else {
                it->ok = 1;
                it->id_hash = pbr_hash_bytes(it->ev.id, strlen(it->ev.id));
            }
            j->nitems++;
        }
        line++;
        p = nl ? nl + 1 : end;
    }
    j->nlines = line;
}

/* Takes the oldest ready job, if any (lock held). Returns it or NULL. */
static job *take_ready(loader *L)
{
    if (L->next_parse >= L->filled)
        return NULL;
    job *j = &L->jobs[L->next_parse % NJOBS];
    if (j->state != JOB_READY)
        return NULL;
    j->state = JOB_PARSING;
    L->next_parse++;
    return j;
}

static void *parser_main(void *arg)
{
    loader *L = arg;
    pthread_mutex_lock(&L->lock);
    for (;;) {
        job *j = take_ready(L);
        if (j == NULL) {
            if (L->stop)
                break;
            pthread_cond_wait(&L->cond, &L->lock);
            continue;
        }
        pthread_mutex_unlock(&L->lock);
        parse_job(j);
        pthread_mutex_lock(&L->lock);
        j->state = JOB_PARSED;
        pthread_cond_broadcast(&L->cond);
    }
    pthread_mutex_unlock(&L->lock);
    return NULL;
}

/* Reads the next chunk of whole lines into j, carrying a partial last line
 * over in *carry. Returns 1 (j has text), 0 (end of input) or -1 (errno:
 * I/O; ENOMEM). */
static int fill_job(FILE *f, job *j, char **carry, size_t *carry_len, size_t *carry_cap)
{
    j->len = 0;
    if (pbr_grow((void **)&j->text, &j->cap, *carry_len + CHUNK, 1) != 0) {
        errno = ENOMEM;
        return -1;
    }
    if (*carry_len > 0)
        memcpy(j->text, *carry, *carry_len);
    j->len = *carry_len;
    *carry_len = 0;
    for (;;) {
        if (pbr_grow((void **)&j->text, &j->cap, j->len + CHUNK, 1) != 0) {
            errno = ENOMEM;
            return -1;
        }
        size_t got = fread(j->text + j->len, 1, CHUNK, f);
        size_t old = j->len;
        j->len += got;
        if (got == 0) {
            if (ferror(f))
                return -1;
            return j->len > 0;
        }
        const char *last = memrchr(j->text + old, '\n', got);
        if (last == NULL)
            continue; /* a line longer than a chunk */
        size_t keep = (size_t)(last - j->text) + 1, rest = j->len - keep;
        if (pbr_grow((void **)carry, carry_cap, rest + 1, 1) != 0) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(*carry, j->text + keep, rest);
        *carry_len = rest;
        j->len = keep;
        return 1;
    }
}

/* Feeds one parsed job to the set in file order. Returns 0 or -1 (err). */
static int consume_job(pbr_eventset *set, job *j, size_t first_line, pbr_reject_fn on_reject, void *ctx,
                       uint64_t *nread, char *err, size_t errlen)
{
    if (j->oom)
        return pbr_errf(err, errlen, "read events: out of memory");
    for (size_t i = 0; i < j->nitems; i++) {
        pitem *it = &j->items[i];
        size_t lineno = first_line + it->line;
        if (i + PREFETCH_AHEAD < j->nitems && j->items[i + PREFETCH_AHEAD].ok)
            pbr_eventset_prefetch_id(set, j->items[i + PREFETCH_AHEAD].id_hash);
        if (!it->ok) {
            reject(on_reject, ctx, lineno, it->msg);
            continue;
        }
        int s = pbr_eventset_add_unique(set, &it->ev, *nread + 1, it->id_hash, err, errlen);
        if (s < 0)
            return -1;
        if (s == 0)
            ++*nread;
        if (s == 2) {
            char msg[PBR_ERR_MAX];
            snprintf(msg, sizeof msg, "%s \"%s\": id exists with different content", pbr_event_type_name(it->ev.type),
                     it->ev.id);
            reject(on_reject, ctx, lineno, msg);
        }
    }
    return 0;
}

/* Reads f through the parsers into set. Returns 0 or -1 (err). */
static int load_all(loader *L, FILE *f, const char *path, pbr_eventset *set, pbr_reject_fn on_reject, void *ctx,
                    uint64_t *nread, char *err, size_t errlen)
{
    char *carry = NULL;
    size_t carry_len = 0, carry_cap = 0, consumed = 0, lines = 0;
    int eof = 0, rc = 0;
    while (rc == 0) {
        /* keep the ring full */
        while (!eof && L->filled - consumed < NJOBS) {
            job *j = &L->jobs[L->filled % NJOBS];
            int got = fill_job(f, j, &carry, &carry_len, &carry_cap);
            if (got < 0) {
                rc = pbr_errf(err, errlen, "read %s: %s", path, strerror(errno));
                break;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            pthread_mutex_lock(&L->lock);
            j->state = JOB_READY;
            L->filled++;
            pthread_cond_broadcast(&L->cond);
            pthread_mutex_unlock(&L->lock);
        }
        if (rc != 0 || consumed == L->filled)
            break;
        job *j = &L->jobs[consumed % NJOBS];
        pthread_mutex_lock(&L->lock);
        while (j->state != JOB_PARSED) {
            job *mine = take_ready(L);
            if (mine != NULL) { /* no parser free: parse it here */
                pthread_mutex_unlock(&L->lock);
                parse_job(mine);
                pthread_mutex_lock(&L->lock);
                mine->state = JOB_PARSED;
                pthread_cond_broadcast(&L->cond);
                continue;
            }
            pthread_cond_wait(&L->cond, &L->lock);
        }
        pthread_mutex_unlock(&L->lock);
        rc = consume_job(set, j, lines + 1, on_reject, ctx, nread, err, errlen);
        lines += j->nlines;
        job_clear_items(j);
        j->state = JOB_FREE;
        consumed++;
    }
    free(carry);
    return rc;
}

int pbr_eventset_read_jsonl(pbr_eventset *set, const char *path, pbr_reject_fn on_reject, void *ctx, uint64_t *nread,
                            char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
    loader *L = calloc(1, sizeof *L);
    pthread_t parsers[NPARSERS];
    int nparsers = 0, rc = -1;
    *nread = 0;
    if (L == NULL) {
        pbr_errf(err, errlen, "read events: out of memory");
        goto close;
    }
    pthread_mutex_init(&L->lock, NULL);
    pthread_cond_init(&L->cond, NULL);
    /* with no parser thread the caller parses every job itself */
    while (nparsers < NPARSERS && pthread_create(&parsers[nparsers], NULL, parser_main, L) == 0)
        nparsers++;
    rc = load_all(L, f, path, set, on_reject, ctx, nread, err, errlen);
    pthread_mutex_lock(&L->lock);
    L->stop = 1;
    pthread_cond_broadcast(&L->cond);
    pthread_mutex_unlock(&L->lock);
    for (int i = 0; i < nparsers; i++)
        pthread_join(parsers[i], NULL);
    for (int i = 0; i < NJOBS; i++) {
        job_clear_items(&L->jobs[i]);
        free(L->jobs[i].items);
        free(L->jobs[i].text);
    }
    pthread_cond_destroy(&L->cond);
    pthread_mutex_destroy(&L->lock);
    free(L);
    pbr_eventset_end_unique(set); /* before finish, which needs memory of its own */
    if (rc == 0)
        rc = pbr_eventset_finish(set, 1, err, errlen);
close:
    if (f != stdin)
        fclose(f);
    return rc;
}

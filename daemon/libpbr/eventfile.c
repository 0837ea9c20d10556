/* eventfile.c -- reading a JSON Lines event file into an event set, as a
 * set: order never matters, identical duplicates count once, conflicting
 * duplicates and invalid lines are rejected with their line number.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbr/eventset.h"
#include "pbr/util.h"

/* id -> hash of the canonical form, to recognise re-sent events. Ids live
 * in one arena (no allocation per id): a national-scale file has millions. */
typedef struct seen_table {
    char *arena;         /* NUL-terminated ids */
    size_t arena_len, arena_cap;
    uint32_t *id_off;    /* entry i: offset of its id in arena */
    uint64_t *content;   /* entry i: hash of its canonical form */
    size_t n, cap;
    uint32_t *slots;     /* entry index + 1, 0 = empty */
    size_t nslots;       /* power of two */
} seen_table;

static void seen_free(seen_table *t)
{
    free(t->arena);
    free(t->id_off);
    free(t->content);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static const char *seen_id(const seen_table *t, size_t i)
{
    return t->arena + t->id_off[i];
}

/* Doubles the slot array. Returns 0 or -1 on allocation failure. */
static int seen_rehash(seen_table *t)
{
    size_t nslots = t->nslots ? t->nslots * 2 : 4096;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const char *id = seen_id(t, i);
        size_t h = (size_t)pbr_hash_bytes(id, strlen(id)) & (nslots - 1);
        while (slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* Appends id with its content hash as entry n. Returns 0 or -1 (memory, or
 * more than 4 GiB of ids). */
static int seen_append(seen_table *t, const char *id, size_t len, uint64_t content)
{
    if (t->arena_len + len + 1 > UINT32_MAX || t->n + 1 > UINT32_MAX - 1)
        return -1;
    if (pbr_grow((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1) != 0 ||
        pbr_grow((void **)&t->id_off, &t->cap, t->n + 1, sizeof *t->id_off) != 0)
        return -1;
    uint64_t *c = realloc(t->content, t->cap * sizeof *c);
    if (c == NULL)
        return -1;
    t->content = c;
    memcpy(t->arena + t->arena_len, id, len + 1);
    t->id_off[t->n] = (uint32_t)t->arena_len;
    t->content[t->n] = content;
    t->arena_len += len + 1;
    return 0;
}

/* Returns 0 (new, remembered), 1 (identical duplicate), 2 (conflict), -1 (memory). */
static int seen_check(seen_table *t, const char *id, uint64_t content)
{
    if ((t->n + 1) * 2 > t->nslots && seen_rehash(t) != 0)
        return -1;
    size_t len = strlen(id);
    size_t h = (size_t)pbr_hash_bytes(id, len) & (t->nslots - 1);
    while (t->slots[h] != 0) {
        uint32_t i = t->slots[h] - 1;
        if (strcmp(seen_id(t, i), id) == 0)
            return t->content[i] == content ? 1 : 2;
        h = (h + 1) & (t->nslots - 1);
    }
    if (seen_append(t, id, len, content) != 0)
        return -1;
    t->slots[h] = (uint32_t)t->n + 1;
    t->n++;
    return 0;
}

static void reject(pbr_reject_fn fn, void *ctx, size_t line, const char *msg)
{
    if (fn != NULL)
        fn(ctx, line, msg);
}

/* Handles one non-blank line. Returns 0 (added or rejected) or -1 (fatal, err). */
static int read_line(pbr_eventset *set, seen_table *seen, const char *text, size_t len, size_t lineno,
                     pbr_reject_fn on_reject, void *ctx, uint64_t *nread, char *err, size_t errlen)
{
    char msg[PBR_ERR_MAX];
    pbr_event ev;
    if (pbr_event_parse(text, len, &ev, msg, sizeof msg) != 0) {
        reject(on_reject, ctx, lineno, msg);
        return 0;
    }
    size_t clen;
    char *canon = pbr_event_canonical(&ev, &clen);
    int rc = -1;
    if (canon == NULL) {
        pbr_errf(err, errlen, "read events: out of memory");
        goto out;
    }
    int s = seen_check(seen, ev.id, pbr_hash_bytes(canon, clen));
    if (s < 0) {
        pbr_errf(err, errlen, "read events: out of memory");
        goto out;
    }
    if (s == 2) {
        snprintf(msg, sizeof msg, "%s \"%s\": id exists with different content", pbr_event_type_name(ev.type), ev.id);
        reject(on_reject, ctx, lineno, msg);
    } else if (s == 0) {
        if (pbr_eventset_add(set, &ev, ++*nread, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    free(canon);
    pbr_event_free(&ev);
    return rc;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    }
    return 1;
}

int pbr_eventset_read_jsonl(pbr_eventset *set, const char *path, pbr_reject_fn on_reject, void *ctx,
                            uint64_t *nread, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
    seen_table seen;
    memset(&seen, 0, sizeof seen);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = -1;
    *nread = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (is_blank(line, len))
            continue;
        if (read_line(set, &seen, line, len, lineno, on_reject, ctx, nread, err, errlen) != 0)
            goto out;
    }
    if (ferror(f)) {
        pbr_errf(err, errlen, "read %s: %s", path, strerror(errno));
        goto out;
    }
    seen_free(&seen); /* before finish, which needs memory of its own */
    rc = pbr_eventset_finish(set, 1, err, errlen);
out:
    free(line);
    seen_free(&seen);
    if (f != stdin)
        fclose(f);
    return rc;
}

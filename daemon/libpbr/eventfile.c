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
#include "pbr/strtab.h"
#include "pbr/utf8.h"
#include "pbr/util.h"

/* id -> hash of the canonical form, to recognise re-sent events. Ids are
 * interned in one arena (a national-scale file has millions). */
typedef struct seen_table {
    pbr_strtab ids;
    uint64_t *content;   /* content[i]: hash of the canonical form of id i */
    size_t cap;
} seen_table;

static void seen_free(seen_table *t)
{
    pbr_strtab_free(&t->ids);
    free(t->content);
    memset(t, 0, sizeof *t);
}

/* Returns 0 (new, remembered), 1 (identical duplicate), 2 (conflict), -1 (memory). */
static int seen_check(seen_table *t, const char *id, uint64_t content)
{
    int added;
    int64_t i = pbr_strtab_intern(&t->ids, id, &added);
    if (i < 0 || pbr_grow((void **)&t->content, &t->cap, (size_t)i + 1, sizeof *t->content) != 0)
        return -1;
    if (!added)
        return t->content[i] == content ? 1 : 2;
    t->content[i] = content;
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
    /* not text: the same reason as the daemon's ingest gives ("NUL byte at byte 5") */
    if (pbr_utf8_text_problem(text, len, msg, sizeof msg) || pbr_event_parse(text, len, &ev, msg, sizeof msg) != 0) {
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

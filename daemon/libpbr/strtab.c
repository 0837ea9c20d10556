/* strtab.c -- owns the interning string table of strtab.h: one arena of
 * strings, their offsets and a linear-probing hash of indexes. */
#include <stdlib.h>
#include <string.h>

#include "pbr/strtab.h"
#include "pbr/mem.h"

void pbr_strtab_clear(pbr_strtab *t)
{
    free(t->arena);
    free(t->offs);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Rebuilds the hash with nslots slots. Returns 0 or -1 on allocation failure
 * (the old hash is kept). */
static int rehash(pbr_strtab *t, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const char *s = pbr_strtab_str(t, (uint32_t)i);
        size_t h = (size_t)pbr_hash_bytes(s, strlen(s)) & (nslots - 1);
        while (slots[h] != 0)
            h = (h + 1) & (nslots - 1);
        slots[h] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* The slot holding s, or the empty slot where it would go. t->nslots > 0. */
static size_t slot_of(const pbr_strtab *t, const char *s, size_t len)
{
    size_t h = (size_t)pbr_hash_bytes(s, len) & (t->nslots - 1);
    while (t->slots[h] != 0 && strcmp(pbr_strtab_str(t, t->slots[h] - 1), s) != 0)
        h = (h + 1) & (t->nslots - 1);
    return h;
}

int64_t pbr_strtab_find(const pbr_strtab *t, const char *s)
{
    if (t->nslots == 0)
        return -1;
    uint32_t v = t->slots[slot_of(t, s, strlen(s))];
    return v == 0 ? -1 : (int64_t)v - 1;
}

int64_t pbr_strtab_intern(pbr_strtab *t, const char *s, int *added)
{
    if (added != NULL)
        *added = 0;
    int64_t found = pbr_strtab_find(t, s);
    if (found >= 0)
        return found;
    size_t len = strlen(s) + 1;
    if (t->arena_len + len > UINT32_MAX || t->n + 1 >= UINT32_MAX)
        return -1;
    if ((t->n + 1) * 2 > t->nslots && rehash(t, t->nslots ? t->nslots * 2 : 1024) != 0)
        return -1;
    if (pbr_grow((void **)&t->arena, &t->arena_cap, t->arena_len + len, 1) != 0 ||
        pbr_grow((void **)&t->offs, &t->cap, t->n + 1, sizeof *t->offs) != 0)
        return -1;
    size_t h = slot_of(t, s, len - 1);
    memcpy(t->arena + t->arena_len, s, len);
    t->offs[t->n] = (uint32_t)t->arena_len;
    t->arena_len += len;
    t->slots[h] = (uint32_t)t->n + 1;
    if (added != NULL)
        *added = 1;
    return (int64_t)t->n++;
}

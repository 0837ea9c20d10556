/* strtab.h -- an interning string table: strings get dense indexes 0, 1, 2,
 * ... in the order first seen, stored in one arena (no allocation per
 * string), found again by an open-addressing hash. Used for event-set
 * symbols, offender ids and the id table of an event file. Total string
 * bytes and count are limited to 4 GiB / 4G entries.
 */
#ifndef PBR_STRTAB_H
#define PBR_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct pbr_strtab {
    char *arena; /* NUL-terminated strings */
    size_t arena_len, arena_cap;
    uint32_t *offs; /* offset in arena of string i */
    size_t n, cap;
    uint32_t *slots; /* index + 1, 0 = empty */
    size_t nslots;   /* power of two */
} pbr_strtab;

/* A zeroed pbr_strtab is an empty table. Releases its memory and zeroes it. */
void pbr_strtab_clear(pbr_strtab *t);

/* String i (0 <= i < t->n); owned by the table. */
static inline const char *pbr_strtab_str(const pbr_strtab *t, uint32_t i)
{
    return t->arena + t->offs[i];
}

/* Returns the index of s, or -1 when absent. */
int64_t pbr_strtab_find(const pbr_strtab *t, const char *s);

/* Returns the index of s, adding it (as index t->n) when absent; *added (if
 * not NULL) says which. Returns -1 on allocation failure or when the table
 * is full; the table is unchanged then. */
int64_t pbr_strtab_intern(pbr_strtab *t, const char *s, int *added);

#endif

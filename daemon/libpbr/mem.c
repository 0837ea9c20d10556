/* mem.c -- growing arrays (pbr_grow) and the 64-bit content hash of byte
 * strings (pbr_hash_bytes, FNV-1a with a final mix). */
#include <stdint.h>
#include <stdlib.h>

#include "pbr/mem.h"

int pbr_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

uint64_t pbr_hash_bytes(const void *data, size_t len)
{
    const unsigned char *s = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

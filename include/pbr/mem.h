/* mem.h -- growable arrays and byte hashing for the library's tables. */
#ifndef PBR_MEM_H
#define PBR_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Grows the array *p (elements of elem bytes, capacity *cap) to hold at
 * least need elements, doubling (first capacity 16). Returns 0, or -1 on
 * allocation failure (*p and *cap unchanged). */
int pbr_grow(void **p, size_t *cap, size_t need, size_t elem);

/* FNV-1a 64-bit hash of len bytes, with a final mix. */
uint64_t pbr_hash_bytes(const void *data, size_t len);

#endif

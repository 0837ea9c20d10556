/* util.h -- small shared helpers: SHA-256, whole-file reading, error
 * formatting, atomic file writes.
 */
#ifndef PBR_UTIL_H
#define PBR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of data as 64 lowercase hex digits and a NUL in out[65]. */
void pbr_sha256_hex(const void *data, size_t len, char out[65]);

/* Reads a whole file. Returns malloc'd bytes with a NUL appended (caller
 * frees) and *len, or NULL with err naming the call and errno. */
char *pbr_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. Creates missing parent directories.
 * Returns 0 or -1 with err. */
int pbr_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Grows the array *p (elements of elem bytes, capacity *cap) to hold at
 * least need elements, doubling (first capacity 16). Returns 0, or -1 on
 * allocation failure (*p and *cap unchanged). */
int pbr_grow(void **p, size_t *cap, size_t need, size_t elem);

/* FNV-1a 64-bit hash of len bytes, with a final mix. */
uint64_t pbr_hash_bytes(const void *data, size_t len);

/* snprintf into err (if err != NULL and errlen > 0). Returns -1 so callers can
 * write `return pbr_errf(err, n, "...")`. */
int pbr_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats "PATH:LINE:COL: message" (1-based, from a libyaml node's start
 * mark) into err, for errors in YAML files. Returns -1, so that callers can
 * `return pbr_yaml_errf(...)`. */
struct yaml_node_s;
int pbr_yaml_errf(char *err, size_t errlen, const char *path, const struct yaml_node_s *n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif

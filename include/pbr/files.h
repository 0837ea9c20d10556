/* files.h -- whole-file reads and crash-safe (atomic, fsynced) writes. */
#ifndef PBR_FILES_H
#define PBR_FILES_H

#include <stddef.h>

/* Reads a whole file. Returns malloc'd bytes with a NUL appended (caller
 * frees) and *len, or NULL with err naming the call and errno. */
char *pbr_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. Creates missing parent directories.
 * Returns 0 or -1 with err. */
int pbr_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif

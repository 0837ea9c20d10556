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

/* Creates every missing directory above path (mkdir -p of its dirname,
 * mode 0755). Returns 0, or -1 with err naming the mkdir that failed. */
int pbr_make_parent_dirs(const char *path, char *err, size_t errlen);

/* The contract files of directory dir: the names ending in .yaml or .yml
 * that do not start with '.', sorted, as "dir/name" paths (the daemon
 * loads exactly these). Returns a malloc'd array of *n malloc'd paths
 * (free with pbr_free_list), or NULL with err (opendir, out of memory);
 * an empty directory gives a non-NULL array with *n = 0. */
char **pbr_list_contract_files(const char *dir, size_t *n, char *err, size_t errlen);

/* Frees a list of n malloc'd strings and the list. Safe on NULL. */
void pbr_free_list(char **list, size_t n);

#endif

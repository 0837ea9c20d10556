/* files.c -- whole-file reads, atomic durable writes (temp file, fsync,
 * rename, fsync of the directory) and the sorted list of contract files
 * in a directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/mem.h"

char *pbr_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        goto fail_alloc;
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL)
                goto fail_alloc;
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        pbr_errf(err, errlen, "read %s: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
fail_alloc:
    pbr_errf(err, errlen, "read %s: out of memory", path);
    free(buf);
    fclose(f);
    return NULL;
}

int pbr_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return pbr_errf(err, errlen, "strdup: out of memory");
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            pbr_errf(err, errlen, "mkdir %s: %s", copy, strerror(errno));
            free(copy);
            return -1;
        }
        *p = '/';
    }
    free(copy);
    return 0;
}

static int fsync_parent_dir(const char *path, char *err, size_t errlen)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return pbr_errf(err, errlen, "strdup: out of memory");
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        pbr_errf(err, errlen, "open directory of %s: %s", path, strerror(errno));
        free(copy);
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    free(copy);
    if (rc != 0)
        return pbr_errf(err, errlen, "fsync directory of %s: %s", path, strerror(errno));
    return 0;
}

int pbr_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    if (pbr_make_parent_dirs(path, err, errlen) != 0)
        return -1;
    size_t tl = strlen(path) + 16;
    char *tmp = malloc(tl);
    if (tmp == NULL)
        return pbr_errf(err, errlen, "malloc: out of memory");
    snprintf(tmp, tl, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        pbr_errf(err, errlen, "mkstemp %s: %s", tmp, strerror(errno));
        goto fail_tmp;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            pbr_errf(err, errlen, "write %s: %s", tmp, strerror(errno));
            goto fail_fd;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        pbr_errf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
        goto fail_fd;
    }
    if (close(fd) != 0) {
        pbr_errf(err, errlen, "close %s: %s", tmp, strerror(errno));
        fd = -1;
        goto fail_fd;
    }
    if (rename(tmp, path) != 0) {
        pbr_errf(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto fail_tmp;
    }
    free(tmp);
    return fsync_parent_dir(path, err, errlen);
fail_fd:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
fail_tmp:
    free(tmp);
    return -1;
}

/* Whether name is a contract file name: *.yaml or *.yml, not hidden. */
static int is_contract_file_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' &&
        ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0));
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pbr_free_list(char **list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

char **pbr_list_contract_files(const char *dir, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        pbr_errf(err, errlen, "%s: opendir: %s", dir, strerror(errno));
        return NULL;
    }
    size_t cap = 16;
    char **paths = malloc(cap * sizeof *paths);
    struct dirent *e = NULL;
    while (paths != NULL && (e = readdir(d)) != NULL) {
        if (!is_contract_file_name(e->d_name))
            continue;
        if (pbr_grow((void **)&paths, &cap, *n + 1, sizeof *paths) != 0)
            break;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (path == NULL)
            break;
        snprintf(path, len, "%s/%s", dir, e->d_name);
        paths[(*n)++] = path;
    }
    int complete = paths != NULL && e == NULL;
    closedir(d);
    if (!complete) {
        pbr_free_list(paths, *n);
        *n = 0;
        pbr_errf(err, errlen, "%s: listing the contract files: out of memory", dir);
        return NULL;
    }
    qsort(paths, *n, sizeof *paths, cmp_cstr);
    return paths;
}

/* backup.c -- owns the backup op (backup.h): the backup directory, the
 * copies of the statement files and of the store, the SHA-256 of each
 * file and MANIFEST.json. */
#include "pbrd/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pbr/err.h"
#include "pbr/files.h"
#include "pbr/sha256.h"
#include "pbrd/api_request.h"
#include "pbrd/log.h"

#define BACKUP_FORMAT "pbrd-backup/1"

/* One backup in progress. */
typedef struct backup {
    const char *dir;
    const char *statements_dir;
    json_t *files;   /* [{path, bytes, sha256}] */
    json_t *missing; /* statement files not found for a statement in the copy */
    uint64_t bytes;
    int created_dir; /* 1: we made dir (remove it on failure) */
    char err[PBR_ERR_MAX];
} backup;

/* Records one written file in the manifest list. Returns 0 or -1. */
static int add_file(backup *b, const char *rel, const void *data, size_t len)
{
    char sha[65];
    pbr_sha256_hex(data, len, sha);
    b->bytes += len;
    return json_array_append_new(b->files,
                                 json_pack("{ss sI ss}", "path", rel, "bytes", (json_int_t)len, "sha256", sha)) == 0
        ? 0
        : pbr_errf(b->err, sizeof b->err, "out of memory");
}

/* Creates path (which must not exist) with mode 0600 and writes data,
 * synced. Returns 0 or -1 with err. */
static int write_new_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            pbr_errf(err, errlen, "write %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        pbr_errf(err, errlen, "fsync %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return close(fd) == 0 ? 0 : pbr_errf(err, errlen, "close %s: %s", path, strerror(errno));
}

/* fsyncs a directory (so the names in it are durable). Returns 0 or -1. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pbr_errf(err, errlen, "open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : pbr_errf(err, errlen, "fsync %s: %s", path, strerror(errno));
}

/* ---- the directory ---------------------------------------------------------------- */

/* Creates dir with mode 0700, or accepts an existing empty directory (and
 * sets its mode to 0700). The parent must exist. Returns 0 or -1 (b->err). */
static int make_backup_dir(backup *b)
{
    if (mkdir(b->dir, 0700) == 0) {
        b->created_dir = 1;
        return 0;
    }
    if (errno != EEXIST)
        return pbr_errf(b->err, sizeof b->err, "mkdir %s: %s", b->dir, strerror(errno));
    struct stat sb;
    if (lstat(b->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pbr_errf(b->err, sizeof b->err, "%s exists and is not a directory", b->dir);
    DIR *d = opendir(b->dir);
    if (d == NULL)
        return pbr_errf(b->err, sizeof b->err, "opendir %s: %s", b->dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    if (!empty)
        return pbr_errf(b->err, sizeof b->err, "%s exists and is not empty (a backup needs a new or empty directory)",
                        b->dir);
    if (chmod(b->dir, 0700) != 0)
        return pbr_errf(b->err, sizeof b->err, "chmod %s: %s", b->dir, strerror(errno));
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes what a failed backup wrote: dir's contents, and dir itself when
 * it was created here. */
static void remove_partial(backup *b)
{
    nftw(b->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!b->created_dir)
        mkdir(b->dir, 0700); /* nftw removed the (empty) directory the operator gave: put it back */
}

/* ---- statement files ---------------------------------------------------------------- */

/* Is name "<something>.json" or ".csv" and not a temporary file? */
static int is_statement_file(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || strstr(name, ".tmp") != NULL || n < 6)
        return 0;
    return !strcmp(name + n - 5, ".json") || !strcmp(name + n - 4, ".csv");
}

/* Copies statements_dir/<contract>/<name> to dir/statements/<contract>/<name>
 * unless the copy exists. Returns 0, 1 when the source does not exist, or
 * -1 (b->err). */
static int copy_statement_file(backup *b, const char *contract, const char *name)
{
    char from[4096], rel[4096], to[8192];
    snprintf(from, sizeof from, "%s/%s/%s", b->statements_dir, contract, name);
    snprintf(rel, sizeof rel, "statements/%s/%s", contract, name);
    snprintf(to, sizeof to, "%s/%s", b->dir, rel);
    if (access(to, F_OK) == 0)
        return 0;
    char sub[8192];
    snprintf(sub, sizeof sub, "%s/statements/%s", b->dir, contract);
    if (mkdir(sub, 0700) != 0 && errno != EEXIST)
        return pbr_errf(b->err, sizeof b->err, "mkdir %s: %s", sub, strerror(errno));
    size_t len;
    char *data = pbr_read_file(from, &len, b->err, sizeof b->err);
    if (data == NULL)
        return errno == ENOENT ? 1 : -1;
    int rc = write_new_file(to, data, len, b->err, sizeof b->err);
    if (rc == 0)
        rc = add_file(b, rel, data, len);
    free(data);
    return rc;
}

/* Copies every statement file there is now. Returns 0 or -1 (b->err). */
static int copy_statement_files(backup *b)
{
    char top[4096];
    snprintf(top, sizeof top, "%s/statements", b->dir);
    if (mkdir(top, 0700) != 0)
        return pbr_errf(b->err, sizeof b->err, "mkdir %s: %s", top, strerror(errno));
    DIR *d = opendir(b->statements_dir);
    if (d == NULL)
        return errno == ENOENT ? 0
                               : pbr_errf(b->err, sizeof b->err, "opendir %s: %s", b->statements_dir, strerror(errno));
    int rc = 0;
    struct dirent *c;
    while (rc == 0 && (c = readdir(d)) != NULL) {
        if (c->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", b->statements_dir, c->d_name);
        DIR *s = opendir(sub);
        if (s == NULL)
            continue; /* not a directory */
        struct dirent *f;
        while (rc == 0 && (f = readdir(s)) != NULL)
            if (is_statement_file(f->d_name))
                rc = copy_statement_file(b, c->d_name, f->d_name) < 0 ? -1 : 0;
        closedir(s);
    }
    closedir(d);
    return rc;
}

/* For a statement in the copy: copies its two files if they appeared after
 * the first pass, else lists them as missing. */
static int complete_statement(void *ctx, const char *contract, const char *quarter)
{
    backup *b = ctx;
    static const char *const ext[] = {"json", "csv"};
    for (int i = 0; i < 2; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", quarter, ext[i]);
        int rc = copy_statement_file(b, contract, name);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            char rel[1024];
            snprintf(rel, sizeof rel, "statements/%s/%s", contract, name);
            json_array_append_new(b->missing, json_string(rel));
        }
    }
    return 0;
}

static int count_key(void *ctx, const char *contract, const char *quarter)
{
    (void)contract;
    (void)quarter;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* ---- the store ------------------------------------------------------------------------ */

/* Hashes the file at path (mapped read-only) into the manifest as rel. */
static int add_mapped_file(backup *b, const char *path, const char *rel)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pbr_errf(b->err, sizeof b->err, "open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return pbr_errf(b->err, sizeof b->err, "fstat %s: %s", path, strerror(errno));
    }
    size_t len = (size_t)sb.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && map == MAP_FAILED)
        return pbr_errf(b->err, sizeof b->err, "mmap %s: %s", path, strerror(errno));
    int rc = add_file(b, rel, map ? map : "", len);
    if (map)
        munmap(map, len);
    return rc;
}

/* Writes dir/data.mdb (a compacted copy), hashes it. Returns 0 or -1. */
static int copy_store(backup *b, pbr_store *store)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", b->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return pbr_errf(b->err, sizeof b->err, "open %s: %s", path, strerror(errno));
    int rc = pbr_store_copy_compact(store, fd, b->err, sizeof b->err);
    if (rc == 0 && fsync(fd) != 0)
        rc = pbr_errf(b->err, sizeof b->err, "fsync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = pbr_errf(b->err, sizeof b->err, "close %s: %s", path, strerror(errno));
    return rc == 0 ? add_mapped_file(b, path, "data.mdb") : -1;
}

/* Reads the figures of the copy and completes its statement files. Fills
 * stats and *nstatements. Returns 0 or -1. */
static int inspect_copy(backup *b, pbr_store_stats *stats, uint64_t *nstatements)
{
    pbr_store *copy = NULL;
    *nstatements = 0;
    if (pbr_store_open_readonly(b->dir, &copy, b->err, sizeof b->err) != 0)
        return -1;
    int rc = pbr_store_get_stats(copy, stats, b->err, sizeof b->err);
    if (rc == 0)
        rc = pbr_store_foreach_statement_key(copy, count_key, nstatements, b->err, sizeof b->err);
    if (rc == 0)
        rc = pbr_store_foreach_statement_key(copy, complete_statement, b, b->err, sizeof b->err) == 0 ? 0 : -1;
    pbr_store_close(&copy);
    return rc;
}

/* ---- the manifest --------------------------------------------------------------------- */

static int cmp_path(const void *x, const void *y)
{
    json_t *const *a = x, *const *b = y;
    return strcmp(json_string_value(json_object_get(*a, "path")), json_string_value(json_object_get(*b, "path")));
}

/* Sorts the manifest's file list by path (readdir's order is arbitrary).
 * Returns 0 or -1. */
static int sort_files(backup *b)
{
    size_t n = json_array_size(b->files);
    json_t **v = malloc((n ? n : 1) * sizeof *v), *sorted = json_array();
    if (v == NULL || sorted == NULL) {
        free(v);
        json_decref(sorted);
        return pbr_errf(b->err, sizeof b->err, "sorting the file list: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(b->files, i);
    qsort(v, n, sizeof *v, cmp_path);
    for (size_t i = 0; i < n; i++)
        json_array_append(sorted, v[i]);
    free(v);
    json_decref(b->files);
    b->files = sorted;
    return 0;
}

static int write_manifest(backup *b, const pbr_store_stats *st, uint64_t nstatements)
{
    char created[32], path[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *m = json_pack("{ss ss sI sI sI sI sO sO}", "format", BACKUP_FORMAT, "created", created, "last_seq",
                          (json_int_t)st->last_seq, "events", (json_int_t)st->events, "quarantined",
                          (json_int_t)st->quarantined, "statements", (json_int_t)nstatements, "files", b->files,
                          "missing_statement_files", b->missing);
    char *text = m ? json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    if (text == NULL)
        return pbr_errf(b->err, sizeof b->err, "building MANIFEST.json: out of memory");
    size_t len = strlen(text);
    snprintf(path, sizeof path, "%s/MANIFEST.json", b->dir);
    char *withnl = malloc(len + 2);
    int rc = -1;
    if (withnl != NULL) {
        memcpy(withnl, text, len);
        withnl[len] = '\n';
        rc = write_new_file(path, withnl, len + 1, b->err, sizeof b->err);
    } else {
        pbr_errf(b->err, sizeof b->err, "building MANIFEST.json: out of memory");
    }
    free(withnl);
    free(text);
    return rc;
}

/* fsyncs dir, dir/statements and each dir/statements/<contract>. */
static int sync_dirs(backup *b)
{
    char top[4096];
    snprintf(top, sizeof top, "%s/statements", b->dir);
    DIR *d = opendir(top);
    if (d == NULL)
        return pbr_errf(b->err, sizeof b->err, "opendir %s: %s", top, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[8192];
        snprintf(sub, sizeof sub, "%s/%s", top, e->d_name);
        rc = sync_dir(sub, b->err, sizeof b->err);
    }
    closedir(d);
    if (rc == 0)
        rc = sync_dir(top, b->err, sizeof b->err);
    return rc == 0 ? sync_dir(b->dir, b->err, sizeof b->err) : -1;
}

json_t *pbrd_backup_run(pbr_store *store, const char *statements_dir, const char *dir)
{
    backup b;
    memset(&b, 0, sizeof b);
    b.dir = dir;
    b.statements_dir = statements_dir;
    if (dir == NULL || dir[0] != '/')
        return pbrd_api_error("backup: \"dir\" must be an absolute path on the daemon's machine");
    b.files = json_array();
    b.missing = json_array();
    if (b.files == NULL || b.missing == NULL) {
        json_decref(b.files);
        json_decref(b.missing);
        return pbrd_api_error("backup: out of memory");
    }
    uint64_t start = (uint64_t)time(NULL), nstatements = 0;
    pbr_store_stats st;
    json_t *reply = NULL;
    if (make_backup_dir(&b) != 0)
        goto fail_early;
    if (copy_statement_files(&b) != 0 || copy_store(&b, store) != 0 || inspect_copy(&b, &st, &nstatements) != 0 ||
        sync_dirs(&b) != 0 || sort_files(&b) != 0 || write_manifest(&b, &st, nstatements) != 0 ||
        sync_dir(dir, b.err, sizeof b.err) != 0)
        goto fail;
    pbrd_log(PBRD_LOG_INFO, "backup written",
             "dir=%s last_seq=%llu events=%llu statements=%llu files=%zu missing_files=%zu bytes=%llu seconds=%llu",
             dir, (unsigned long long)st.last_seq, (unsigned long long)st.events, (unsigned long long)nstatements,
             json_array_size(b.files) + 1, json_array_size(b.missing), (unsigned long long)b.bytes,
             (unsigned long long)((uint64_t)time(NULL) - start));
    reply = json_pack("{ss sI sI sI sI sI}", "dir", dir, "last_seq", (json_int_t)st.last_seq, "events",
                      (json_int_t)st.events, "statements", (json_int_t)nstatements, "files",
                      (json_int_t)json_array_size(b.files) + 1, "bytes", (json_int_t)b.bytes);
    json_decref(b.files);
    json_decref(b.missing);
    return reply;

fail:
    remove_partial(&b);
fail_early:;
    char q[PBR_ERR_MAX];
    pbrd_log(PBRD_LOG_ERROR, "backup failed", "dir=%s error=\"%s\"", dir, pbrd_log_quote(b.err, q, sizeof q));
    reply = pbrd_api_error("backup: %s", b.err);
    json_decref(b.files);
    json_decref(b.missing);
    return reply;
}

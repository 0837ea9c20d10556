/* util.c -- small shared helpers: SHA-256 (FIPS 180-4), whole-file reads,
 * atomic file writes, error formatting (also FILE:LINE:COL for YAML nodes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbr/util.h"

int pbr_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

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

/* ---- SHA-256 ---------------------------------------------------------------- */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;
    uint64_t total;
} sha256_ctx;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_compress(sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
    uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
    c->h[5] += f;
    c->h[6] += g;
    c->h[7] += h;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n)
{
    c->total += n;
    while (n > 0) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == 64) {
            sha256_compress(c, c->block);
            c->used = 0;
        }
    }
}

void pbr_sha256_hex(const void *data, size_t len, char out[65])
{
    sha256_ctx c = {
        {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}, {0}, 0, 0};
    sha256_update(&c, data, len);
    uint64_t bits = c.total * 8;
    uint8_t pad = 0x80, zero = 0, lenbuf[8];
    sha256_update(&c, &pad, 1);
    while (c.used != 56)
        sha256_update(&c, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(&c, lenbuf, 8);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", c.h[i]);
}

/* ---- files --------------------------------------------------------------------- */

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

/* Creates every missing directory of path's parent. Returns 0 or -1. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
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
    if (make_parent_dirs(path, err, errlen) != 0)
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

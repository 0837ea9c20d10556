/* store.c -- the durable LMDB store (include/pbr/store.h): one environment
 * in a directory holding the append-only event log, the id index used for
 * idempotency, the per-offender index, the quarantine, contract versions,
 * issued statements and a little metadata.
 *
 * On-disk formats (native byte order where not said otherwise):
 *   events      key uint64 seq (MDB_INTEGERKEY, 1, 2, ...)
 *               value canonical event JSON followed by one NUL byte
 *   ids         key event id (no NUL)
 *               value 9 bytes: uint64 seq, then uint8 pbr_event_type
 *   offenders   key offender id (no NUL), MDB_DUPSORT
 *               value uint64 seq, 8 bytes big-endian (so dups sort by seq)
 *   quarantine  key uint64 qseq (MDB_INTEGERKEY, 1, 2, ...)
 *               value JSON {"error":…,"at":…,"raw_bytes":N}, one NUL, the
 *               N raw bytes exactly as received (any bytes, NULs too),
 *               then one NUL. Records written before raw bytes were kept
 *               are JSON {"raw":…,"error":…,"at":…} and one NUL, the raw
 *               text repaired (invalid UTF-8 replaced by U+FFFD).
 *   contracts   key sha256 hex (64 chars), value file bytes followed by NUL
 *   statements  key contract, NUL, quarter; value record JSON followed by NUL
 *   meta        key name, value text; "format" = "1"
 * Every text value carries a trailing NUL (not counted in the lengths this
 * module reports), so pointers handed to callbacks are also C strings.
 * The last seq is the last key of events (read with a cursor), the last
 * qseq the last key of quarantine: no separate counter can drift.
 *
 * Thread safety: a pbr_store may be shared by threads.
 *  - Write transactions: pbr_store_begin takes st->write_lock and holds it
 *    until commit/abort, so there is at most one write transaction in the
 *    process; begin, every put and commit/abort of one transaction must run
 *    on the same thread (LMDB's and pthread's rule for the writer lock).
 *  - Read functions (get_*, foreach_*, get_stats) open their own read-only
 *    transaction (MDB_NOTLS, so any thread) and hold st->map_lock shared
 *    while it is open.
 *  - Changing the map size needs no transaction open in the process: it is
 *    done with write_lock held (no write txn) and map_lock exclusive (no read
 *    txn). Consequently a foreach callback must not begin, commit or abort a
 *    write transaction (the map may need to grow: that would deadlock); read
 *    calls from a callback are fine.
 *  - Map growth: before each write transaction, if more than half of the
 *    map is used, the map doubles (opportunistically: skipped this time if
 *    readers are active). On MDB_MAP_FULL the transaction is marked failed,
 *    the put returns PBR_STORE_RETRY, and commit/abort doubles the map
 *    (waiting for readers); the caller then replays its transaction.
 */
#include "pbr/utf8.h"
#include "pbr/store.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbr/err.h"

#define STORE_DEFAULT_MAPSIZE ((size_t)64 << 20) /* 64 MiB */
#define STORE_MIN_MAPSIZE ((size_t)64 << 10)     /* PBR_STORE_MAPSIZE floor */
#define STORE_MAXDBS 8                           /* 7 named databases + 1 spare */
#define STORE_FORMAT "1"
#define IDS_VALUE_SIZE 9 /* uint64 seq + uint8 type */

struct pbr_store {
    MDB_env *env;
    MDB_dbi events, ids, offenders, quarantine, contracts, statements, meta;
    size_t initial_mapsize;
    size_t maxkey;              /* mdb_env_get_maxkeysize */
    pthread_mutex_t write_lock; /* held from begin to commit/abort */
    pthread_rwlock_t map_lock;  /* shared: a read txn is open; exclusive: mapsize change */
    char *dir;
};

struct pbr_store_txn {
    pbr_store *st;
    MDB_txn *txn;
    int failed;    /* an LMDB call failed: the txn can only be aborted */
    int must_grow; /* MDB_MAP_FULL was seen: double the map when it ends */
    int have_seq;  /* last_seq loaded from events */
    uint64_t last_seq;
    int have_qseq; /* last_qseq loaded from quarantine */
    uint64_t last_qseq;
    /* Cursors of pbr_store_put_event, opened on first use and closed by
     * LMDB when the txn ends. A positioned cursor skips the descent from the
     * root when the next key falls on the same leaf page (sequential seqs,
     * ids and offenders of one batch often do). */
    MDB_cursor *cur_events, *cur_ids, *cur_offenders;
    /* The offenders index entries of this txn, written in key order when it
     * commits (see flush_offenders): inserts in key order touch each leaf
     * page once and split pages at their ends, so the commit writes far
     * fewer pages than inserts in arrival order. Nothing reads the index
     * inside a write txn, so deferring is invisible. */
    struct pending_offender *pend;
    size_t npend, pend_cap;
    char *pend_keys; /* the offender ids, back to back */
    size_t keys_len, keys_cap;
};

/* One deferred offenders entry: key pend_keys[off, off + len), value seq. */
struct pending_offender {
    size_t off, len;
    uint64_t seq;
    const char *key; /* set just before sorting */
};

/* ---- errors -------------------------------------------------------------- */

/* Writes "call(db): <mdb_strerror>" into err. Returns -1. */
static int mdb_fail(char *err, size_t errlen, const char *call, const char *db, int rc)
{
    if (db != NULL)
        return pbr_errf(err, errlen, "%s(%s): %s", call, db, mdb_strerror(rc));
    return pbr_errf(err, errlen, "%s: %s", call, mdb_strerror(rc));
}

/* ---- small encodings ------------------------------------------------------ */

static void put_be64(unsigned char out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

static uint64_t get_u64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Splits a stored text value into pointer and length without its trailing
 * NUL. Returns 0, or -1 if the value is not NUL-terminated (corruption). */
static int value_text(const MDB_val *v, const char **text, size_t *len)
{
    if (v->mv_size == 0 || ((const char *)v->mv_data)[v->mv_size - 1] != '\0')
        return -1;
    *text = v->mv_data;
    *len = v->mv_size - 1;
    return 0;
}

/* Returns a malloc'd copy of len bytes plus a NUL (caller frees), or NULL. */
static char *copy_text(const char *text, size_t len)
{
    char *p = malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, text, len);
    p[len] = '\0';
    return p;
}

/* Returns a jansson string of the len bytes at s, each byte that is not part
 * of valid UTF-8 replaced by U+FFFD (rejected input may be any bytes), or
 * NULL on allocation failure. The caller owns the reference. */
static json_t *json_string_lossy(const char *s, size_t len)
{
    size_t n = 0;
    char *clean = pbr_utf8_lossy(s, len, &n);
    json_t *js = clean ? json_stringn(clean, n) : NULL;
    free(clean);
    return js;
}

/* ---- environment ----------------------------------------------------------- */

/* Reads PBR_STORE_MAPSIZE (bytes) or the 64 MiB default into *size. Returns
 * 0, or -1 with err if the variable is set but not a positive number. */
static int initial_mapsize(size_t *size, char *err, size_t errlen)
{
    const char *s = getenv("PBR_STORE_MAPSIZE");
    char *end;
    unsigned long long v;
    long page = sysconf(_SC_PAGESIZE);
    if (s == NULL || *s == '\0') {
        *size = STORE_DEFAULT_MAPSIZE;
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX / 2)
        return pbr_errf(err, errlen, "PBR_STORE_MAPSIZE: \"%s\" is not a size in bytes", s);
    if (v < STORE_MIN_MAPSIZE)
        v = STORE_MIN_MAPSIZE;
    if (page > 0 && v % (unsigned long long)page != 0)
        v += (unsigned long long)page - v % (unsigned long long)page;
    *size = (size_t)v;
    return 0;
}

/* Creates dir and its missing parents (mode 0700). Returns 0 or -1 (err). */
static int make_directories(const char *dir, char *err, size_t errlen)
{
    char *path = strdup(dir);
    int rc = 0;
    if (path == NULL)
        return pbr_errf(err, errlen, "strdup: out of memory");
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = pbr_errf(err, errlen, "mkdir %s: %s", path, strerror(errno));
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
    if (rc == 0) {
        struct stat sb;
        if (stat(dir, &sb) != 0)
            return pbr_errf(err, errlen, "stat %s: %s", dir, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
            return pbr_errf(err, errlen, "store %s: not a directory", dir);
    }
    return rc;
}

/* The store's databases: name, flags and where st keeps the handle. */
static const struct store_db {
    const char *name;
    unsigned flags;
    size_t offset; /* of the MDB_dbi in pbr_store */
} store_dbs[] = {{"events", MDB_INTEGERKEY, offsetof(pbr_store, events)},
                 {"ids", 0, offsetof(pbr_store, ids)},
                 {"offenders", MDB_DUPSORT, offsetof(pbr_store, offenders)},
                 {"quarantine", MDB_INTEGERKEY, offsetof(pbr_store, quarantine)},
                 {"contracts", 0, offsetof(pbr_store, contracts)},
                 {"statements", 0, offsetof(pbr_store, statements)},
                 {"meta", 0, offsetof(pbr_store, meta)}};

/* Opens every database of store_dbs in txn (create: MDB_CREATE, for a
 * writable store). Returns 0 or -1 (err names the database). */
static int open_dbs(pbr_store *st, MDB_txn *txn, unsigned create, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof store_dbs / sizeof store_dbs[0]; i++) {
        MDB_dbi *dbi = (MDB_dbi *)((char *)st + store_dbs[i].offset);
        int rc = mdb_dbi_open(txn, store_dbs[i].name, store_dbs[i].flags | create, dbi);
        if (rc != 0)
            return mdb_fail(err, errlen, "mdb_dbi_open", store_dbs[i].name, rc);
    }
    return 0;
}

/* Records the format version on a new store, checks it on an old one.
 * Returns 0 or -1 (err). */
static int check_format(pbr_store *st, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = {strlen("format"), (void *)"format"};
    MDB_val v = {sizeof STORE_FORMAT, (void *)STORE_FORMAT};
    int rc = mdb_put(txn, st->meta, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        if (v.mv_size != sizeof STORE_FORMAT || memcmp(v.mv_data, STORE_FORMAT, sizeof STORE_FORMAT) != 0)
            return pbr_errf(err, errlen, "store %s: unsupported format (meta \"format\" is not %s)", st->dir,
                            STORE_FORMAT);
        return 0;
    }
    if (rc != 0)
        return mdb_fail(err, errlen, "mdb_put", "meta", rc);
    return 0;
}

/* Creates and opens st->env and its databases. Returns 0, or -1 with err and
 * st->env NULL. */
static int open_env(pbr_store *st, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&st->env);
    if (rc != 0) {
        st->env = NULL;
        return mdb_fail(err, errlen, "mdb_env_create", NULL, rc);
    }
    if ((rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) != 0) {
        mdb_fail(err, errlen, "mdb_env_set_maxdbs", NULL, rc);
        goto fail_env;
    }
    if ((rc = mdb_env_set_mapsize(st->env, st->initial_mapsize)) != 0) {
        mdb_fail(err, errlen, "mdb_env_set_mapsize", NULL, rc);
        goto fail_env;
    }
    if ((rc = mdb_env_open(st->env, st->dir, MDB_NOTLS, 0600)) != 0) {
        pbr_errf(err, errlen, "mdb_env_open(%s): %s", st->dir, mdb_strerror(rc));
        goto fail_env;
    }
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
        mdb_fail(err, errlen, "mdb_txn_begin", NULL, rc);
        goto fail_env;
    }
    if (open_dbs(st, txn, MDB_CREATE, err, errlen) != 0 || check_format(st, txn, err, errlen) != 0)
        goto fail_txn;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        mdb_fail(err, errlen, "mdb_txn_commit", NULL, rc);
        goto fail_env;
    }
    return 0;

fail_txn:
    mdb_txn_abort(txn);
fail_env:
    mdb_env_close(st->env);
    st->env = NULL;
    return -1;
}

/* Opens the store in dir. Returns 0 and *out (free with pbr_store_close), or
 * -1 with err naming the failing call. */
int pbr_store_open(const char *dir, pbr_store **out, char *err, size_t errlen)
{
    pbr_store *st;
    *out = NULL;
    if (dir == NULL || *dir == '\0')
        return pbr_errf(err, errlen, "pbr_store_open: empty directory name");
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return pbr_errf(err, errlen, "calloc: out of memory");
    if ((st->dir = strdup(dir)) == NULL) {
        pbr_errf(err, errlen, "strdup: out of memory");
        goto fail_st;
    }
    if (initial_mapsize(&st->initial_mapsize, err, errlen) != 0 || make_directories(dir, err, errlen) != 0)
        goto fail_dir;
    if (pthread_mutex_init(&st->write_lock, NULL) != 0) {
        pbr_errf(err, errlen, "pthread_mutex_init: failed");
        goto fail_dir;
    }
    if (pthread_rwlock_init(&st->map_lock, NULL) != 0) {
        pbr_errf(err, errlen, "pthread_rwlock_init: failed");
        goto fail_mutex;
    }
    if (open_env(st, err, errlen) != 0)
        goto fail_rwlock;
    st->maxkey = (size_t)mdb_env_get_maxkeysize(st->env); /* fixed for the process's LMDB */
    *out = st;
    return 0;

fail_rwlock:
    pthread_rwlock_destroy(&st->map_lock);
fail_mutex:
    pthread_mutex_destroy(&st->write_lock);
fail_dir:
    free(st->dir);
fail_st:
    free(st);
    return -1;
}

/* Opens st->env of an existing store read-only, without a lock file, and
 * its databases (which must exist). Returns 0, or -1 with err and st->env
 * NULL. */
static int open_env_readonly(pbr_store *st, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&st->env);
    if (rc != 0) {
        st->env = NULL;
        return mdb_fail(err, errlen, "mdb_env_create", NULL, rc);
    }
    if ((rc = mdb_env_set_maxdbs(st->env, STORE_MAXDBS)) != 0) {
        mdb_fail(err, errlen, "mdb_env_set_maxdbs", NULL, rc);
        goto fail_env;
    }
    if ((rc = mdb_env_open(st->env, st->dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600)) != 0) {
        pbr_errf(err, errlen, "mdb_env_open(%s, read-only): %s", st->dir, mdb_strerror(rc));
        goto fail_env;
    }
    if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
        mdb_fail(err, errlen, "mdb_txn_begin", "read", rc);
        goto fail_env;
    }
    if (open_dbs(st, txn, 0, err, errlen) != 0) {
        mdb_txn_abort(txn);
        goto fail_env;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) { /* commit (not abort) keeps the handles open */
        mdb_fail(err, errlen, "mdb_txn_commit", "read", rc);
        goto fail_env;
    }
    return 0;

fail_env:
    mdb_env_close(st->env);
    st->env = NULL;
    return -1;
}

int pbr_store_open_readonly(const char *dir, pbr_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (dir == NULL || *dir == '\0')
        return pbr_errf(err, errlen, "pbr_store_open_readonly: empty directory name");
    pbr_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return pbr_errf(err, errlen, "calloc: out of memory");
    if ((st->dir = strdup(dir)) == NULL) {
        free(st);
        return pbr_errf(err, errlen, "strdup: out of memory");
    }
    if (pthread_mutex_init(&st->write_lock, NULL) != 0) {
        pbr_errf(err, errlen, "pthread_mutex_init: failed");
        goto fail_dir;
    }
    if (pthread_rwlock_init(&st->map_lock, NULL) != 0) {
        pbr_errf(err, errlen, "pthread_rwlock_init: failed");
        goto fail_mutex;
    }
    if (open_env_readonly(st, err, errlen) != 0)
        goto fail_rwlock;
    st->maxkey = (size_t)mdb_env_get_maxkeysize(st->env);
    *out = st;
    return 0;

fail_rwlock:
    pthread_rwlock_destroy(&st->map_lock);
fail_mutex:
    pthread_mutex_destroy(&st->write_lock);
fail_dir:
    free(st->dir);
    free(st);
    return -1;
}

/* Holds map_lock shared for the copy: the copy's own read transaction must
 * not see the map change size under it. */
int pbr_store_copy_compact(pbr_store *st, int fd, char *err, size_t errlen)
{
    if (pthread_rwlock_rdlock(&st->map_lock) != 0)
        return pbr_errf(err, errlen, "pthread_rwlock_rdlock: failed");
    int rc = st->env ? mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT) : EINVAL;
    pthread_rwlock_unlock(&st->map_lock);
    if (rc != 0)
        return pbr_errf(err, errlen, "mdb_env_copyfd2(MDB_CP_COMPACT): %s", mdb_strerror(rc));
    return 0;
}

/* Closes the environment and frees st. No transaction may be open. */
void pbr_store_close(pbr_store **stp)
{
    if (stp == NULL)
        return;
    pbr_store *st = *stp;
    *stp = NULL;
    if (st == NULL)
        return;
    if (st->env != NULL)
        mdb_env_close(st->env);
    pthread_rwlock_destroy(&st->map_lock);
    pthread_mutex_destroy(&st->write_lock);
    free(st->dir);
    free(st);
}

/* ---- map size -------------------------------------------------------------- */

/* Sets the map size to size (0: adopt the size another process set). The
 * caller holds write_lock and no write txn is open; this takes map_lock
 * exclusively (blocking, or only if free when `try` is set). Returns 0, 1 if
 * `try` found readers active, or -1 (err). */
static int set_map_size(pbr_store *st, size_t size, int try, char *err, size_t errlen)
{
    int rc;
    if (try) {
        if (pthread_rwlock_trywrlock(&st->map_lock) != 0)
            return 1;
    } else if (pthread_rwlock_wrlock(&st->map_lock) != 0)
        return pbr_errf(err, errlen, "pthread_rwlock_wrlock: failed");
    rc = mdb_env_set_mapsize(st->env, size);
    pthread_rwlock_unlock(&st->map_lock);
    if (rc != 0)
        return pbr_errf(err, errlen, "mdb_env_set_mapsize(%zu): %s", size, mdb_strerror(rc));
    return 0;
}

/* Reads the map size and the bytes used (last page + 1). Returns 0 or -1. */
static int map_usage(pbr_store *st, size_t *mapsize, size_t *used, char *err, size_t errlen)
{
    MDB_envinfo info;
    MDB_stat stat;
    int rc = mdb_env_info(st->env, &info);
    if (rc != 0)
        return mdb_fail(err, errlen, "mdb_env_info", NULL, rc);
    if ((rc = mdb_env_stat(st->env, &stat)) != 0)
        return mdb_fail(err, errlen, "mdb_env_stat", NULL, rc);
    *mapsize = info.me_mapsize;
    *used = ((size_t)info.me_last_pgno + 1) * stat.ms_psize;
    return 0;
}

/* Doubles the map (caller holds write_lock, no write txn open). With `try`,
 * gives up silently if readers are active. Returns 0 or -1 (err). */
static int double_map(pbr_store *st, int try, char *err, size_t errlen)
{
    size_t mapsize, used;
    if (map_usage(st, &mapsize, &used, err, errlen) != 0)
        return -1;
    if (mapsize > SIZE_MAX / 2)
        return pbr_errf(err, errlen, "store %s: map size %zu cannot double", st->dir, mapsize);
    return set_map_size(st, mapsize * 2, try, err, errlen) < 0 ? -1 : 0;
}

/* Doubles the map if more than half of it is used (opportunistic: skipped
 * while readers are active). Caller holds write_lock. Returns 0 or -1. */
static int grow_if_half_full(pbr_store *st, char *err, size_t errlen)
{
    size_t mapsize, used;
    if (map_usage(st, &mapsize, &used, err, errlen) != 0)
        return -1;
    if (used <= mapsize / 2)
        return 0;
    return double_map(st, 1, err, errlen);
}

/* Replaces an environment LMDB declared unusable (MDB_PANIC, e.g. after a
 * failed meta page write) by a freshly opened one. Caller holds write_lock;
 * waits for readers. Returns 0 or -1 (err). */
static int reopen_env(pbr_store *st, char *err, size_t errlen)
{
    int rc;
    if (pthread_rwlock_wrlock(&st->map_lock) != 0)
        return pbr_errf(err, errlen, "pthread_rwlock_wrlock: failed");
    if (st->env != NULL)
        mdb_env_close(st->env);
    st->env = NULL;
    rc = open_env(st, err, errlen);
    pthread_rwlock_unlock(&st->map_lock);
    return rc;
}

/* ---- read transactions ------------------------------------------------------ */

/* Opens a read-only txn and holds map_lock shared until read_end. Returns 0
 * or -1 (err). */
static int read_begin(pbr_store *st, MDB_txn **txn, char *err, size_t errlen)
{
    int rc;
    if (pthread_rwlock_rdlock(&st->map_lock) != 0)
        return pbr_errf(err, errlen, "pthread_rwlock_rdlock: failed");
    if (st->env == NULL) {
        pthread_rwlock_unlock(&st->map_lock);
        return pbr_errf(err, errlen, "store %s: environment is closed after an earlier failure", st->dir);
    }
    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map. Adopting its size needs no txn
         * open here: possible only if no writer is active right now. */
        pthread_rwlock_unlock(&st->map_lock);
        if (pthread_mutex_trylock(&st->write_lock) != 0)
            return mdb_fail(err, errlen, "mdb_txn_begin", "read", rc);
        int grc = set_map_size(st, 0, 0, err, errlen);
        pthread_mutex_unlock(&st->write_lock);
        if (grc != 0)
            return -1;
        if (pthread_rwlock_rdlock(&st->map_lock) != 0)
            return pbr_errf(err, errlen, "pthread_rwlock_rdlock: failed");
        rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
    }
    if (rc != 0) {
        pthread_rwlock_unlock(&st->map_lock);
        return mdb_fail(err, errlen, "mdb_txn_begin", "read", rc);
    }
    return 0;
}

static void read_end(pbr_store *st, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->map_lock);
}

/* ---- write transactions ------------------------------------------------------ */

/* Reports an LMDB write failure: marks the txn failed (MDB_MAP_FULL: also
 * to be grown). Returns PBR_STORE_RETRY or -1, with err naming call and db. */
static int write_failed(pbr_store_txn *t, const char *call, const char *db, int rc, char *err, size_t errlen)
{
    t->failed = 1;
    mdb_fail(err, errlen, call, db, rc);
    if (rc == MDB_MAP_FULL) {
        t->must_grow = 1;
        return PBR_STORE_RETRY;
    }
    return -1;
}

/* Refuses work on a failed txn. Returns 0 if usable, else RETRY or -1. */
static int txn_usable(pbr_store_txn *t, char *err, size_t errlen)
{
    if (!t->failed)
        return 0;
    if (t->must_grow) {
        pbr_errf(err, errlen, "transaction hit MDB_MAP_FULL: abort and replay it");
        return PBR_STORE_RETRY;
    }
    return pbr_errf(err, errlen, "transaction failed earlier: abort it");
}

/* Starts the one write transaction of the process (waits for the current
 * one to end). Returns 0 and *out (end it with commit or abort, on this
 * thread), or -1 with err. */
int pbr_store_begin(pbr_store *st, pbr_store_txn **out, char *err, size_t errlen)
{
    pbr_store_txn *t;
    int rc;
    *out = NULL;
    if ((t = calloc(1, sizeof *t)) == NULL)
        return pbr_errf(err, errlen, "calloc: out of memory");
    t->st = st;
    if (pthread_mutex_lock(&st->write_lock) != 0) {
        free(t);
        return pbr_errf(err, errlen, "pthread_mutex_lock: failed");
    }
    if (st->env == NULL && reopen_env(st, err, errlen) != 0)
        goto fail;
    if (grow_if_half_full(st, err, errlen) != 0)
        goto fail;
    rc = mdb_txn_begin(st->env, NULL, 0, &t->txn);
    if (rc == MDB_MAP_RESIZED) {
        if (set_map_size(st, 0, 0, err, errlen) != 0)
            goto fail;
        rc = mdb_txn_begin(st->env, NULL, 0, &t->txn);
    }
    if (rc == MDB_PANIC) {
        if (reopen_env(st, err, errlen) != 0)
            goto fail;
        rc = mdb_txn_begin(st->env, NULL, 0, &t->txn);
    }
    if (rc != 0) {
        mdb_fail(err, errlen, "mdb_txn_begin", "write", rc);
        goto fail;
    }
    *out = t;
    return 0;

fail:
    pthread_mutex_unlock(&st->write_lock);
    free(t);
    return -1;
}

/* Ends a transaction whose LMDB txn is already committed or aborted: grows
 * the map if MDB_MAP_FULL was seen, releases write_lock, frees t. Returns 0
 * or -1 (err) if growing failed. */
static int finish_txn(pbr_store_txn *t, char *err, size_t errlen)
{
    pbr_store *st = t->st;
    int rc = 0;
    if (t->must_grow)
        rc = double_map(st, 0, err, errlen);
    pthread_mutex_unlock(&st->write_lock);
    free(t->pend);
    free(t->pend_keys);
    free(t);
    return rc;
}

static int flush_offenders(pbr_store_txn *t, char *err, size_t errlen);

/* Commits (durably: fsync before returning), after writing the deferred
 * offenders index entries. Returns 0; PBR_STORE_RETRY if
 * the map was full (it has been grown: replay the transaction); or -1 with
 * err, e.g. "mdb_txn_commit(DIR): No space left on device (the transaction
 * was not stored)" -- LMDB aborts the txn, the meta pages are
 * untouched, so the store stays usable once space is freed. Frees txn in
 * every case. */
int pbr_store_commit(pbr_store_txn *txn, char *err, size_t errlen)
{
    int rc, ret = 0;
    if (!txn->failed && (rc = flush_offenders(txn, err, errlen)) != 0) {
        mdb_txn_abort(txn->txn); /* flush_offenders marked the txn failed and wrote err */
        ret = rc;
    } else if (txn->failed) {
        mdb_txn_abort(txn->txn);
        if (txn->must_grow)
            ret = txn_usable(txn, err, errlen);
        else
            ret = pbr_errf(err, errlen, "pbr_store_commit: transaction failed earlier and was aborted");
    } else if ((rc = mdb_txn_commit(txn->txn)) == MDB_MAP_FULL) {
        txn->must_grow = 1;
        ret = PBR_STORE_RETRY;
        pbr_errf(err, errlen, "mdb_txn_commit: %s", mdb_strerror(rc));
    } else if (rc != 0) {
        ret = pbr_errf(err, errlen, "mdb_txn_commit(%s): %s (the transaction was not stored)", txn->st->dir,
                       mdb_strerror(rc));
    }
    if (finish_txn(txn, err, errlen) != 0)
        return -1;
    return ret;
}

/* Abandons the transaction (and grows the map if it was full). Frees txn. */
void pbr_store_abort(pbr_store_txn *txn)
{
    if (txn == NULL)
        return;
    mdb_txn_abort(txn->txn);
    finish_txn(txn, NULL, 0);
}

int pbr_store_write(pbr_store *st, pbr_store_work_fn work, void *ctx, char *err, size_t errlen)
{
    for (int replay = 0; replay < PBR_STORE_MAX_REPLAYS; replay++) {
        pbr_store_txn *txn;
        if (pbr_store_begin(st, &txn, err, errlen) != 0)
            return -1;
        int rc = work(txn, ctx, err, errlen);
        if (rc != PBR_STORE_OK) {
            pbr_store_abort(txn);
            if (rc == PBR_STORE_RETRY)
                continue;
            return rc == PBR_STORE_ERROR ? -1 : rc;
        }
        rc = pbr_store_commit(txn, err, errlen);
        if (rc == PBR_STORE_RETRY)
            continue;
        return rc == 0 ? 0 : -1;
    }
    return pbr_errf(err, errlen, "store: the map was still full after %d replays of one transaction",
                    PBR_STORE_MAX_REPLAYS);
}

/* Checks that a key is storable (1..maxkeysize bytes). Returns 0 or -1. */
static int check_key(pbr_store *st, const char *what, size_t len, char *err, size_t errlen)
{
    if (len == 0)
        return pbr_errf(err, errlen, "%s: empty", what);
    if (len > st->maxkey)
        return pbr_errf(err, errlen, "%s: %zu bytes, longer than the store's key limit %zu", what, len, st->maxkey);
    return 0;
}

/* Puts bytes + NUL under key k (MDB_RESERVE). Returns 0, PBR_STORE_CONFLICT
 * (MDB_NOOVERWRITE and the key exists: *existing is the stored value),
 * PBR_STORE_RETRY or -1. */
static int put_text(pbr_store_txn *t, MDB_dbi dbi, const char *db, MDB_val *k, const void *bytes, size_t len,
                    unsigned flags, MDB_val *existing, char *err, size_t errlen)
{
    MDB_val v = {len + 1, NULL};
    int rc = mdb_put(t->txn, dbi, k, &v, flags | MDB_RESERVE);
    if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE)) {
        if (existing != NULL)
            *existing = v;
        return PBR_STORE_CONFLICT;
    }
    if (rc != 0)
        return write_failed(t, "mdb_put", db, rc, err, errlen);
    memcpy(v.mv_data, bytes, len);
    ((char *)v.mv_data)[len] = '\0';
    return 0;
}

/* Loads the last key of an MDB_INTEGERKEY db (0 when empty) into *last.
 * Returns 0 or -1 (err). */
static int last_integer_key(MDB_txn *txn, MDB_dbi dbi, const char *db, uint64_t *last, char *err, size_t errlen)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return mdb_fail(err, errlen, "mdb_cursor_open", db, rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *last = 0;
        return 0;
    }
    if (rc != 0)
        return mdb_fail(err, errlen, "mdb_cursor_get(MDB_LAST)", db, rc);
    if (k.mv_size != sizeof(uint64_t))
        return pbr_errf(err, errlen, "store: %s key of %zu bytes, expected 8", db, k.mv_size);
    *last = get_u64(k.mv_data);
    return 0;
}

/* Looks id up in ids: returns 0 with *seq and *type, PBR_STORE_NOTFOUND, or
 * -1 (err). */
static int lookup_id(MDB_txn *txn, pbr_store *st, const char *id, uint64_t *seq, pbr_event_type *type, char *err,
                     size_t errlen)
{
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc;
    if (check_key(st, "event id", k.mv_size, err, errlen) != 0)
        return -1;
    rc = mdb_get(txn, st->ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PBR_STORE_NOTFOUND;
    if (rc != 0)
        return mdb_fail(err, errlen, "mdb_get", "ids", rc);
    if (v.mv_size != IDS_VALUE_SIZE)
        return pbr_errf(err, errlen, "store: ids value for \"%s\" has %zu bytes, expected %d", id, v.mv_size,
                        IDS_VALUE_SIZE);
    *seq = get_u64(v.mv_data);
    *type = (pbr_event_type)((const unsigned char *)v.mv_data)[8];
    return 0;
}

/* Compares canon with the stored event seq. Returns PBR_STORE_DUPLICATE,
 * PBR_STORE_CONFLICT or -1 (err). */
static int compare_stored_event(pbr_store_txn *t, uint64_t seq, const char *id, const char *canon, size_t len,
                                char *err, size_t errlen)
{
    MDB_val k = {sizeof seq, &seq}, v;
    const char *stored;
    size_t slen;
    int rc = mdb_get(t->txn, t->st->events, &k, &v);
    if (rc != 0)
        return pbr_errf(err, errlen, "mdb_get(events) seq %" PRIu64 " of id \"%s\": %s", seq, id, mdb_strerror(rc));
    if (value_text(&v, &stored, &slen) != 0)
        return pbr_errf(err, errlen, "store: event %" PRIu64 " is not NUL-terminated", seq);
    if (slen == len && memcmp(stored, canon, len) == 0)
        return PBR_STORE_DUPLICATE;
    pbr_errf(err, errlen, "event \"%s\": id exists (seq %" PRIu64 ") with different content", id, seq);
    return PBR_STORE_CONFLICT;
}

/* Opens *cur on dbi in t if it is not open yet. Returns 0 or -1 (err; the
 * txn is then marked failed). */
static int txn_cursor(pbr_store_txn *t, MDB_dbi dbi, const char *db, MDB_cursor **cur, char *err, size_t errlen)
{
    int rc;
    if (*cur != NULL)
        return 0;
    if ((rc = mdb_cursor_open(t->txn, dbi, cur)) != 0) {
        *cur = NULL;
        return write_failed(t, "mdb_cursor_open", db, rc, err, errlen);
    }
    return 0;
}

/* Orders deferred offenders entries as LMDB orders the keys (memcmp, the
 * shorter first on a tie), then by seq. */
static int cmp_pending(const void *a, const void *b)
{
    const struct pending_offender *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    if (c != 0)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Makes room for one more deferred offenders entry with a key of keylen
 * bytes, so that recording it after the event is stored cannot fail.
 * Returns 0 or -1 (err; nothing changed). */
static int reserve_pending(pbr_store_txn *t, size_t keylen, char *err, size_t errlen)
{
    if (t->npend == t->pend_cap) {
        size_t cap = t->pend_cap ? t->pend_cap * 2 : 256;
        struct pending_offender *p = realloc(t->pend, cap * sizeof *p);
        if (p == NULL)
            return pbr_errf(err, errlen, "realloc: out of memory (offenders index)");
        t->pend = p;
        t->pend_cap = cap;
    }
    if (t->keys_cap - t->keys_len < keylen) {
        size_t cap = t->keys_cap ? t->keys_cap : 4096;
        while (cap - t->keys_len < keylen)
            cap *= 2;
        char *p = realloc(t->pend_keys, cap);
        if (p == NULL)
            return pbr_errf(err, errlen, "realloc: out of memory (offenders index)");
        t->pend_keys = p;
        t->keys_cap = cap;
    }
    return 0;
}

/* Writes the deferred offenders entries in key order. Returns 0, or
 * PBR_STORE_RETRY / -1 with the txn marked failed (err). */
static int flush_offenders(pbr_store_txn *t, char *err, size_t errlen)
{
    unsigned char be[8];
    MDB_val k, v;
    int rc;
    if (t->npend == 0)
        return 0;
    for (size_t i = 0; i < t->npend; i++)
        t->pend[i].key = t->pend_keys + t->pend[i].off;
    qsort(t->pend, t->npend, sizeof *t->pend, cmp_pending);
    if ((rc = txn_cursor(t, t->st->offenders, "offenders", &t->cur_offenders, err, errlen)) != 0)
        return rc;
    for (size_t i = 0; i < t->npend; i++) {
        put_be64(be, t->pend[i].seq);
        k.mv_size = t->pend[i].len;
        k.mv_data = (void *)t->pend[i].key;
        v.mv_size = sizeof be;
        v.mv_data = be;
        if ((rc = mdb_cursor_put(t->cur_offenders, &k, &v, 0)) != 0)
            return write_failed(t, "mdb_put", "offenders", rc, err, errlen);
    }
    t->npend = t->keys_len = 0;
    return 0;
}

/* Appends ev unless its id exists. The id is inserted first (MDB_NOOVERWRITE
 * with the next seq): one descent of the ids tree both checks and claims it;
 * if the id exists LMDB hands back the stored value and nothing is written.
 * Returns PBR_STORE_ADDED (*seq), PBR_STORE_DUPLICATE (*seq of the stored
 * event), PBR_STORE_CONFLICT (err says so), PBR_STORE_RETRY or -1 (err). */
int pbr_store_put_event(pbr_store_txn *txn, const pbr_event *ev, const char *canon, size_t len, uint64_t *seq,
                        char *err, size_t errlen)
{
    pbr_store *st = txn->st;
    uint64_t next;
    unsigned char idval[IDS_VALUE_SIZE];
    MDB_val k, v;
    int rc, index_offender;

    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if (ev == NULL || ev->id == NULL || canon == NULL)
        return pbr_errf(err, errlen, "pbr_store_put_event: missing event, id or canonical bytes");
    if ((unsigned)ev->type >= PBR_EV_TYPE_COUNT)
        return pbr_errf(err, errlen, "event \"%s\": type %d out of range", ev->id, (int)ev->type);
    index_offender = ev->type != PBR_EV_VOID;
    if (index_offender && (ev->offender == NULL || check_key(st, "offender", strlen(ev->offender), err, errlen) != 0))
        return pbr_errf(err, errlen, "event \"%s\": offender missing, empty or too long", ev->id);
    k.mv_size = strlen(ev->id);
    k.mv_data = ev->id;
    if (check_key(st, "event id", k.mv_size, err, errlen) != 0)
        return -1;

    if (!txn->have_seq) {
        if (last_integer_key(txn->txn, st->events, "events", &txn->last_seq, err, errlen) != 0)
            return -1;
        txn->have_seq = 1;
    }
    if ((rc = txn_cursor(txn, st->ids, "ids", &txn->cur_ids, err, errlen)) != 0 ||
        (rc = txn_cursor(txn, st->events, "events", &txn->cur_events, err, errlen)) != 0)
        return rc;
    if (index_offender && reserve_pending(txn, strlen(ev->offender), err, errlen) != 0)
        return -1;
    next = txn->last_seq + 1;

    memcpy(idval, &next, sizeof next);
    idval[8] = (unsigned char)ev->type;
    v.mv_size = sizeof idval;
    v.mv_data = idval;
    rc = mdb_cursor_put(txn->cur_ids, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) { /* v is the stored value */
        uint64_t found;
        if (v.mv_size != IDS_VALUE_SIZE)
            return pbr_errf(err, errlen, "store: ids value for \"%s\" has %zu bytes, expected %d", ev->id, v.mv_size,
                            IDS_VALUE_SIZE);
        found = get_u64(v.mv_data);
        rc = compare_stored_event(txn, found, ev->id, canon, len, err, errlen);
        if (rc == PBR_STORE_DUPLICATE && seq != NULL)
            *seq = found;
        return rc;
    }
    if (rc != 0)
        return write_failed(txn, "mdb_put", "ids", rc, err, errlen);

    k.mv_size = sizeof next;
    k.mv_data = &next;
    v.mv_size = len + 1;
    v.mv_data = NULL;
    if ((rc = mdb_cursor_put(txn->cur_events, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0)
        return write_failed(txn, "mdb_put", "events", rc, err, errlen);
    memcpy(v.mv_data, canon, len);
    ((char *)v.mv_data)[len] = '\0';

    if (index_offender) { /* room reserved above: cannot fail */
        struct pending_offender *p = &txn->pend[txn->npend++];
        p->off = txn->keys_len;
        p->len = strlen(ev->offender);
        p->seq = next;
        memcpy(txn->pend_keys + txn->keys_len, ev->offender, p->len);
        txn->keys_len += p->len;
    }
    txn->last_seq = next;
    if (seq != NULL)
        *seq = next;
    return PBR_STORE_ADDED;
}

/* Looks id up inside the txn (its own writes included). Returns
 * PBR_STORE_OK with *type, PBR_STORE_NOTFOUND, or -1 (err). */
int pbr_store_txn_find_id(pbr_store_txn *txn, const char *id, pbr_event_type *type, char *err, size_t errlen)
{
    uint64_t seq = 0;
    pbr_event_type t = PBR_EV_RELEASE;
    int rc;
    if (txn->failed) {
        txn_usable(txn, err, errlen);
        return -1;
    }
    if (id == NULL)
        return pbr_errf(err, errlen, "pbr_store_txn_find_id: id is NULL");
    rc = lookup_id(txn->txn, txn->st, id, &seq, &t, err, errlen);
    if (rc == 0 && type != NULL)
        *type = t;
    return rc;
}

/* Builds the quarantine value (see the format at the top): the header
 * JSON, a NUL, the raw bytes; malloc'd into *out with its length in
 * *outlen (put_text adds the final NUL). Returns 0, or -1 with err. */
static int quarantine_value(const char *raw, size_t rawlen, const char *reason, int64_t at, char **out, size_t *outlen,
                            char *err, size_t errlen)
{
    json_t *jerr = json_string_lossy(reason != NULL ? reason : "", reason != NULL ? strlen(reason) : 0);
    json_t *obj =
        jerr ? json_pack("{so sI sI}", "error", jerr, "at", (json_int_t)at, "raw_bytes", (json_int_t)rawlen) : NULL;
    char *head = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    int rc = -1;
    json_decref(obj);
    if (head == NULL)
        return pbr_errf(err, errlen, "quarantine record: out of memory");
    size_t hlen = strlen(head);
    if (rawlen > SIZE_MAX - hlen - 2) {
        pbr_errf(err, errlen, "quarantine record: %zu raw bytes are too many", rawlen);
        goto done;
    }
    if ((*out = malloc(hlen + 1 + rawlen)) == NULL) {
        pbr_errf(err, errlen, "quarantine record: out of memory");
        goto done;
    }
    memcpy(*out, head, hlen + 1);
    if (rawlen > 0)
        memcpy(*out + hlen + 1, raw, rawlen);
    *outlen = hlen + 1 + rawlen;
    rc = 0;
done:
    free(head);
    return rc;
}

/* Stores a rejected input. Returns 0, PBR_STORE_RETRY or -1 (err). */
int pbr_store_put_quarantine(pbr_store_txn *txn, const char *raw, size_t rawlen, const char *reason, int64_t at,
                             char *err, size_t errlen)
{
    char *rec = NULL;
    size_t reclen = 0;
    uint64_t next;
    MDB_val k;
    int rc;
    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if (!txn->have_qseq) {
        if (last_integer_key(txn->txn, txn->st->quarantine, "quarantine", &txn->last_qseq, err, errlen) != 0)
            return -1;
        txn->have_qseq = 1;
    }
    if (quarantine_value(raw != NULL ? raw : "", raw != NULL ? rawlen : 0, reason, at, &rec, &reclen, err, errlen) != 0)
        return -1;
    next = txn->last_qseq + 1;
    k.mv_size = sizeof next;
    k.mv_data = &next;
    rc = put_text(txn, txn->st->quarantine, "quarantine", &k, rec, reclen, MDB_APPEND, NULL, err, errlen);
    free(rec);
    if (rc == 0)
        txn->last_qseq = next;
    return rc;
}

/* Decodes one quarantine value into *rec (pointers into v and *hold, which
 * the caller releases with json_decref after using rec). A value that cannot
 * be decoded gives rec->unreadable saying why (and at = INT64_MIN). */
static void quarantine_decode(uint64_t qseq, const MDB_val *v, pbr_quarantine_record *rec, json_t **hold)
{
    const char *text;
    size_t len;
    json_error_t jerr;
    memset(rec, 0, sizeof *rec);
    rec->qseq = qseq;
    rec->at = INT64_MIN;
    *hold = NULL;
    if (value_text(v, &text, &len) != 0) {
        rec->unreadable = "the value is not NUL-terminated";
        return;
    }
    size_t hlen = strnlen(text, len);
    json_t *h = json_loadb(text, hlen, JSON_ALLOW_NUL, &jerr); /* old records: "raw" may hold \u0000 */
    json_t *error = json_object_get(h, "error"), *at = json_object_get(h, "at");
    json_t *nraw = json_object_get(h, "raw_bytes"), *oldraw = json_object_get(h, "raw");
    *hold = h;
    if (!json_is_string(error) || !json_is_integer(at)) {
        rec->unreadable = "the header is not JSON with \"error\" and \"at\"";
        return;
    }
    if (json_is_integer(nraw) && hlen < len && (uint64_t)json_integer_value(nraw) == len - hlen - 1) {
        rec->raw = text + hlen + 1;
        rec->raw_len = len - hlen - 1;
    } else if (nraw == NULL && hlen == len && json_is_string(oldraw)) {
        rec->raw = json_string_value(oldraw); /* the format before raw bytes were kept */
        rec->raw_len = json_string_length(oldraw);
    } else {
        rec->unreadable = "the raw bytes do not match the header's raw_bytes";
        return;
    }
    rec->error = json_string_value(error);
    rec->at = (int64_t)json_integer_value(at);
}

int pbr_store_purge_quarantine(pbr_store_txn *txn, int64_t before, uint64_t *purged, char *err, size_t errlen)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    *purged = 0;
    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn->txn, txn->st->quarantine, &cur)) != 0)
        return write_failed(txn, "mdb_cursor_open", "quarantine", rc, err, errlen);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        pbr_quarantine_record rec;
        json_t *hold;
        quarantine_decode(get_u64(k.mv_data), &v, &rec, &hold);
        json_decref(hold);
        if (rec.at >= before)
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*purged)++;
    }
    mdb_cursor_close(cur);
    txn->have_qseq = 0; /* the last key may be gone: reload it at the next put */
    if (rc != 0 && rc != MDB_NOTFOUND)
        return write_failed(txn, "mdb_cursor_del", "quarantine", rc, err, errlen);
    return 0;
}

/* Stores a contract version under its SHA-256 hex. Returns 0 (also when the
 * same bytes are already there), PBR_STORE_CONFLICT if different bytes are
 * stored under that hash, PBR_STORE_RETRY or -1 (err). */
int pbr_store_put_contract(pbr_store_txn *txn, const char *sha256, const void *bytes, size_t len, char *err,
                           size_t errlen)
{
    MDB_val k, existing;
    const char *stored;
    size_t slen;
    int rc;
    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if (sha256 == NULL || (bytes == NULL && len > 0))
        return pbr_errf(err, errlen, "pbr_store_put_contract: missing hash or bytes");
    if (check_key(txn->st, "contract sha256", strlen(sha256), err, errlen) != 0)
        return -1;
    k.mv_size = strlen(sha256);
    k.mv_data = (void *)sha256;
    rc = put_text(txn, txn->st->contracts, "contracts", &k, bytes, len, MDB_NOOVERWRITE, &existing, err, errlen);
    if (rc != PBR_STORE_CONFLICT)
        return rc;
    if (value_text(&existing, &stored, &slen) == 0 && slen == len && (len == 0 || memcmp(stored, bytes, len) == 0))
        return 0;
    pbr_errf(err, errlen, "contract %s: stored with different bytes", sha256);
    return PBR_STORE_CONFLICT;
}

/* The meta key "first_loaded:<contract>" in a malloc'd buffer (caller
 * frees k->mv_data). Returns 0 or -1 (err). */
static int first_loaded_key(pbr_store *st, const char *contract, MDB_val *k, char *err, size_t errlen)
{
    static const char prefix[] = "first_loaded:";
    size_t cl = contract != NULL ? strlen(contract) : 0;
    if (cl == 0 || check_key(st, "first_loaded key", sizeof prefix - 1 + cl, err, errlen) != 0)
        return pbr_errf(err, errlen, "first_loaded: contract id missing, empty or too long");
    char *buf = malloc(sizeof prefix + cl);
    if (buf == NULL)
        return pbr_errf(err, errlen, "malloc: out of memory");
    memcpy(buf, prefix, sizeof prefix - 1);
    memcpy(buf + sizeof prefix - 1, contract, cl + 1);
    k->mv_size = sizeof prefix - 1 + cl;
    k->mv_data = buf;
    return 0;
}

int pbr_store_put_first_loaded(pbr_store_txn *txn, const char *contract, const char *date,
                               char first[PBR_STORE_DATE_LEN], char *err, size_t errlen)
{
    MDB_val k, existing;
    const char *stored;
    size_t slen;
    int rc;
    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if (date == NULL || strlen(date) != PBR_STORE_DATE_LEN - 1)
        return pbr_errf(err, errlen, "pbr_store_put_first_loaded: date must be YYYY-MM-DD");
    if (first_loaded_key(txn->st, contract, &k, err, errlen) != 0)
        return -1;
    rc = put_text(txn, txn->st->meta, "meta", &k, date, strlen(date), MDB_NOOVERWRITE, &existing, err, errlen);
    free(k.mv_data);
    if (rc == 0) {
        memcpy(first, date, PBR_STORE_DATE_LEN);
        return 0;
    }
    if (rc != PBR_STORE_CONFLICT)
        return rc;
    if (value_text(&existing, &stored, &slen) != 0 || slen != PBR_STORE_DATE_LEN - 1)
        return pbr_errf(err, errlen, "store: meta first_loaded:%s is not a date", contract);
    memcpy(first, stored, slen);
    first[slen] = '\0';
    return 0;
}

/* Builds the statements key "contract\0quarter" in a malloc'd buffer (caller
 * frees). Returns 0 or -1 (err). */
static int statement_key(pbr_store *st, const char *contract, const char *quarter, MDB_val *k, char *err, size_t errlen)
{
    size_t cl, ql;
    char *buf;
    if (contract == NULL || quarter == NULL || *contract == '\0' || *quarter == '\0')
        return pbr_errf(err, errlen, "statement key: contract or quarter missing");
    cl = strlen(contract);
    ql = strlen(quarter);
    if (check_key(st, "statement key (contract, quarter)", cl + 1 + ql, err, errlen) != 0)
        return -1;
    if ((buf = malloc(cl + 1 + ql)) == NULL)
        return pbr_errf(err, errlen, "malloc: out of memory");
    memcpy(buf, contract, cl + 1);
    memcpy(buf + cl + 1, quarter, ql);
    k->mv_size = cl + 1 + ql;
    k->mv_data = buf;
    return 0;
}

/* Stores an issued statement. Returns 0, PBR_STORE_CONFLICT if (contract,
 * quarter) exists (nothing written), PBR_STORE_RETRY or -1 (err). */
int pbr_store_put_statement(pbr_store_txn *txn, const char *contract, const char *quarter, const char *record,
                            size_t len, char *err, size_t errlen)
{
    MDB_val k;
    int rc;
    if ((rc = txn_usable(txn, err, errlen)) != 0)
        return rc;
    if (record == NULL)
        return pbr_errf(err, errlen, "pbr_store_put_statement: record is NULL");
    if (statement_key(txn->st, contract, quarter, &k, err, errlen) != 0)
        return -1;
    rc = put_text(txn, txn->st->statements, "statements", &k, record, len, MDB_NOOVERWRITE, NULL, err, errlen);
    free(k.mv_data);
    if (rc == PBR_STORE_CONFLICT)
        pbr_errf(err, errlen, "statement %s %s: already issued (statements are immutable)", contract, quarter);
    return rc;
}

/* ---- reads ------------------------------------------------------------------ */

/* Counters as of the last commit. Returns 0 or -1 (err). */
int pbr_store_get_stats(pbr_store *st, pbr_store_stats *out, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_stat ev, q;
    MDB_envinfo info;
    int rc, ret = -1;
    memset(out, 0, sizeof *out);
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_stat(txn, st->events, &ev)) != 0) {
        mdb_fail(err, errlen, "mdb_stat", "events", rc);
        goto done;
    }
    if ((rc = mdb_stat(txn, st->quarantine, &q)) != 0) {
        mdb_fail(err, errlen, "mdb_stat", "quarantine", rc);
        goto done;
    }
    if ((rc = mdb_env_info(st->env, &info)) != 0) {
        mdb_fail(err, errlen, "mdb_env_info", NULL, rc);
        goto done;
    }
    if (last_integer_key(txn, st->events, "events", &out->last_seq, err, errlen) != 0)
        goto done;
    out->events = ev.ms_entries;
    out->quarantined = q.ms_entries;
    out->map_size = info.me_mapsize;
    MDB_stat env_stat;
    if ((rc = mdb_env_stat(st->env, &env_stat)) != 0) {
        mdb_fail(err, errlen, "mdb_env_stat", NULL, rc);
        goto done;
    }
    out->map_used = ((uint64_t)info.me_last_pgno + 1) * env_stat.ms_psize;
    ret = 0;
done:
    read_end(st, txn);
    return ret;
}

/* Calls fn for each event in [from_seq, to_seq]. Returns 0, fn's non-zero
 * value, or -1 (err). */
/* Gives back the pages of the map between lo and hi (a range just read):
 * the map is a read-only shared file mapping (no MDB_WRITEMAP), so
 * MADV_DONTNEED only drops this process's page-table entries and a later
 * read faults the page in again from the page cache. A scan of the whole
 * event log (mirroring it into memory) then leaves the resident set as it
 * was, instead of adding the log's size to it. Advisory: failure is
 * harmless. Call with map_lock held (the map cannot move). */
static void release_pages(const char *lo, const char *hi)
{
    if (lo == NULL || hi <= lo)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)lo & ~(page - 1), b = ((uintptr_t)hi + page - 1) & ~(page - 1);
    (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

int pbr_store_foreach_event(pbr_store *st, uint64_t from_seq, uint64_t to_seq, pbr_store_event_fn fn, void *ctx,
                            char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof from_seq, &from_seq}, v;
    const char *json, *lo = NULL, *hi = NULL;
    size_t len;
    int rc, ret = 0;
    if (from_seq > to_seq)
        return 0;
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->events, &cur)) != 0) {
        ret = mdb_fail(err, errlen, "mdb_cursor_open", "events", rc);
        goto done_txn;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t seq = get_u64(k.mv_data);
        if (seq > to_seq)
            break;
        if (value_text(&v, &json, &len) != 0) {
            ret = pbr_errf(err, errlen, "store: event %" PRIu64 " is not NUL-terminated", seq);
            goto done_cur;
        }
        if (lo == NULL || json < lo)
            lo = json;
        if (json + len > hi)
            hi = json + len;
        if ((ret = fn(ctx, seq, json, len)) != 0)
            goto done_cur;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(err, errlen, "mdb_cursor_get", "events", rc);
done_cur:
    mdb_cursor_close(cur);
done_txn:
    release_pages(lo, hi);
    read_end(st, txn);
    return ret;
}

/* Calls fn for each event of offender in seq order. Returns 0, fn's non-zero
 * value, or -1 (err). */
int pbr_store_foreach_offender_event(pbr_store *st, const char *offender, pbr_store_event_fn fn, void *ctx, char *err,
                                     size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v, ek, ev;
    const char *json;
    size_t len;
    int rc, ret = 0;
    if (offender == NULL || check_key(st, "offender", strlen(offender), err, errlen) != 0)
        return pbr_errf(err, errlen, "pbr_store_foreach_offender_event: offender missing, empty or too long");
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->offenders, &cur)) != 0) {
        ret = mdb_fail(err, errlen, "mdb_cursor_open", "offenders", rc);
        goto done_txn;
    }
    k.mv_size = strlen(offender);
    k.mv_data = (void *)offender;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        uint64_t seq;
        if (v.mv_size != 8) {
            ret = pbr_errf(err, errlen, "store: offenders value of \"%s\" has %zu bytes", offender, v.mv_size);
            goto done_cur;
        }
        seq = get_be64(v.mv_data);
        ek.mv_size = sizeof seq;
        ek.mv_data = &seq;
        if ((rc = mdb_get(txn, st->events, &ek, &ev)) != 0) {
            ret = pbr_errf(err, errlen, "mdb_get(events) seq %" PRIu64 " of offender \"%s\": %s", seq, offender,
                           mdb_strerror(rc));
            goto done_cur;
        }
        if (value_text(&ev, &json, &len) != 0) {
            ret = pbr_errf(err, errlen, "store: event %" PRIu64 " is not NUL-terminated", seq);
            goto done_cur;
        }
        if ((ret = fn(ctx, seq, json, len)) != 0)
            goto done_cur;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(err, errlen, "mdb_cursor_get", "offenders", rc);
done_cur:
    mdb_cursor_close(cur);
done_txn:
    read_end(st, txn);
    return ret;
}

/* Calls fn for the newest `limit` quarantine records (0 = all), newest
 * first. Returns 0, fn's non-zero value, or -1 (err). */
int pbr_store_foreach_quarantine(pbr_store *st, size_t limit, pbr_store_quarantine_fn fn, void *ctx, char *err,
                                 size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    int rc, ret = 0;
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->quarantine, &cur)) != 0) {
        ret = mdb_fail(err, errlen, "mdb_cursor_open", "quarantine", rc);
        goto done_txn;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && (limit == 0 || n < limit);
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV), n++) {
        pbr_quarantine_record rec;
        json_t *hold;
        quarantine_decode(get_u64(k.mv_data), &v, &rec, &hold);
        ret = fn(ctx, &rec);
        json_decref(hold);
        if (ret != 0)
            goto done_cur;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(err, errlen, "mdb_cursor_get", "quarantine", rc);
done_cur:
    mdb_cursor_close(cur);
done_txn:
    read_end(st, txn);
    return ret;
}

/* Copies the value under key k of dbi into a malloc'd NUL-terminated buffer
 * (caller frees). Returns 0, PBR_STORE_NOTFOUND or -1 (err). */
static int get_copy(pbr_store *st, MDB_dbi dbi, const char *db, MDB_val *k, char **out, size_t *outlen, char *err,
                    size_t errlen)
{
    MDB_txn *txn;
    MDB_val v;
    const char *text;
    size_t len;
    int rc, ret;
    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    rc = mdb_get(txn, dbi, k, &v);
    if (rc == MDB_NOTFOUND)
        ret = PBR_STORE_NOTFOUND;
    else if (rc != 0)
        ret = mdb_fail(err, errlen, "mdb_get", db, rc);
    else if (value_text(&v, &text, &len) != 0)
        ret = pbr_errf(err, errlen, "store: %s value is not NUL-terminated", db);
    else if ((*out = copy_text(text, len)) == NULL)
        ret = pbr_errf(err, errlen, "malloc: out of memory");
    else {
        if (outlen != NULL)
            *outlen = len;
        ret = 0;
    }
    read_end(st, txn);
    return ret;
}

/* Returns 0 with a malloc'd copy of the contract bytes (NUL appended; caller
 * frees), PBR_STORE_NOTFOUND, or -1 (err). */
int pbr_store_get_contract(pbr_store *st, const char *sha256, char **bytes, size_t *len, char *err, size_t errlen)
{
    MDB_val k;
    *bytes = NULL;
    if (sha256 == NULL || check_key(st, "contract sha256", strlen(sha256), err, errlen) != 0)
        return pbr_errf(err, errlen, "pbr_store_get_contract: hash missing, empty or too long");
    k.mv_size = strlen(sha256);
    k.mv_data = (void *)sha256;
    return get_copy(st, st->contracts, "contracts", &k, bytes, len, err, errlen);
}

/* Returns 0 with a malloc'd copy of the statement record (NUL appended;
 * caller frees), PBR_STORE_NOTFOUND, or -1 (err). */
int pbr_store_get_statement(pbr_store *st, const char *contract, const char *quarter, char **record, size_t *len,
                            char *err, size_t errlen)
{
    MDB_val k;
    int rc;
    *record = NULL;
    if (statement_key(st, contract, quarter, &k, err, errlen) != 0)
        return -1;
    rc = get_copy(st, st->statements, "statements", &k, record, len, err, errlen);
    free(k.mv_data);
    return rc;
}

/* Calls fn (seq = 1, 2, … in call order) with each statement record of
 * contract (NULL: all), ordered by contract then quarter. Returns 0, fn's
 * non-zero value, or -1 (err). */
int pbr_store_foreach_statement(pbr_store *st, const char *contract, pbr_store_event_fn fn, void *ctx, char *err,
                                size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    const char *json;
    size_t len, plen = 0;
    uint64_t n = 0;
    int rc, ret = 0;
    if (contract != NULL) {
        plen = strlen(contract) + 1; /* the prefix "contract\0" */
        if (check_key(st, "contract", plen, err, errlen) != 0)
            return -1;
    }
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->statements, &cur)) != 0) {
        ret = mdb_fail(err, errlen, "mdb_cursor_open", "statements", rc);
        goto done_txn;
    }
    if (contract != NULL) {
        k.mv_size = plen;
        k.mv_data = (void *)contract;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (contract != NULL && (k.mv_size < plen || memcmp(k.mv_data, contract, plen) != 0))
            break;
        if (value_text(&v, &json, &len) != 0) {
            ret = pbr_errf(err, errlen, "store: statement record is not NUL-terminated");
            goto done_cur;
        }
        if ((ret = fn(ctx, ++n, json, len)) != 0)
            goto done_cur;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(err, errlen, "mdb_cursor_get", "statements", rc);
done_cur:
    mdb_cursor_close(cur);
done_txn:
    read_end(st, txn);
    return ret;
}

int pbr_store_foreach_statement_key(pbr_store *st, pbr_store_key_fn fn, void *ctx, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, ret = 0;
    if (read_begin(st, &txn, err, errlen) != 0)
        return -1;
    if ((rc = mdb_cursor_open(txn, st->statements, &cur)) != 0) {
        ret = mdb_fail(err, errlen, "mdb_cursor_open", "statements", rc);
        goto done_txn;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* key: contract NUL quarter (no trailing NUL) */
        const char *key = k.mv_data;
        const char *nul = memchr(key, '\0', k.mv_size);
        size_t qlen = nul ? k.mv_size - (size_t)(nul - key) - 1 : 0;
        char contract[512], quarter[64];
        if (nul == NULL || (size_t)(nul - key) >= sizeof contract || qlen >= sizeof quarter) {
            ret = pbr_errf(err, errlen, "store: malformed statement key");
            break;
        }
        memcpy(contract, key, (size_t)(nul - key) + 1);
        memcpy(quarter, nul + 1, qlen);
        quarter[qlen] = '\0';
        if ((ret = fn(ctx, contract, quarter)) != 0)
            break;
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(err, errlen, "mdb_cursor_get", "statements", rc);
    mdb_cursor_close(cur);
done_txn:
    read_end(st, txn);
    return ret;
}

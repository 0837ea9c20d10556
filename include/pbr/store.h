/* store.h -- the durable LMDB store: append-only event log, id index for
 * idempotency, per-offender index, quarantine, contract versions and issued
 * statements.
 *
 * Databases (one LMDB environment in DIR/):
 *   events      seq (uint64, MDB_INTEGERKEY)  -> canonical event JSON
 *   ids         event id                      -> seq (uint64)
 *   offenders   offender id (MDB_DUPSORT)     -> seq (8 bytes big-endian)
 *   quarantine  qseq (uint64, MDB_INTEGERKEY) -> JSON {"error","at","raw_bytes"}, the raw bytes
 *   contracts   sha256 hex                    -> contract file bytes
 *   statements  "contract\0quarter"           -> JSON record (see pbr_store_put_statement)
 *   meta        name                          -> value (counters;
 *               "first_loaded:<contract>" -> "YYYY-MM-DD")
 * The map grows by itself: before every write transaction when it is more
 * than half used, and on MDB_MAP_FULL (the caller's transaction is then
 * aborted with PBR_STORE_RETRY and must be replayed).
 *
 * A pbr_store may be used from several threads: one write transaction at a
 * time (LMDB serialises writers), read transactions from any thread.
 */
#ifndef PBR_STORE_H
#define PBR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/event.h"

typedef struct pbr_store pbr_store;
typedef struct pbr_store_txn pbr_store_txn;

enum {
    PBR_STORE_OK = 0,
    PBR_STORE_ADDED = 0,
    PBR_STORE_DUPLICATE = 1, /* same id, identical canonical content: nothing written */
    PBR_STORE_CONFLICT = 2,  /* same id, different content: nothing written */
    PBR_STORE_NOTFOUND = 3,
    PBR_STORE_RETRY = -2, /* map was full and has been grown: abort and replay the transaction */
    PBR_STORE_ERROR = -1  /* err says which call failed */
};

/* Opens (creating if needed) the store in directory dir. Returns 0 and *out,
 * or -1 with err naming the failing call. Close with pbr_store_close. */
int pbr_store_open(const char *dir, pbr_store **out, char *err, size_t errlen);
/* Closes the environment, frees *stp and sets it to NULL (NULL is fine). */
void pbr_store_close(pbr_store **stp);

/* Opens an existing store read-only, without a lock file (MDB_RDONLY |
 * MDB_NOLOCK): for inspecting a copy no process has open (a backup).
 * Returns 0 and *out, or -1 with err. Only the read functions work on it. */
int pbr_store_open_readonly(const char *dir, pbr_store **out, char *err, size_t errlen);

/* Writes a consistent, compacted copy of the whole environment (LMDB
 * mdb_env_copyfd2 with MDB_CP_COMPACT, one read transaction: writers go on
 * meanwhile) to fd, the caller's open data file. Returns 0 or -1 with err.
 * The caller syncs and closes fd. */
int pbr_store_copy_compact(pbr_store *st, int fd, char *err, size_t errlen);

/* Write transactions. pbr_store_begin returns 0 or -1 (err). A transaction
 * must end with commit or abort; commit returns 0, PBR_STORE_RETRY or -1 and
 * frees the transaction in every case (RETRY may also come from writing the
 * deferred offenders index entries: replay as for any other). */
int pbr_store_begin(pbr_store *st, pbr_store_txn **out, char *err, size_t errlen);
int pbr_store_commit(pbr_store_txn *txn, char *err, size_t errlen);
void pbr_store_abort(pbr_store_txn *txn);

/* The work of one write transaction: its puts into txn. Returns
 * PBR_STORE_OK to commit, PBR_STORE_RETRY when a put found the map full, or
 * any other code to abort (err set for PBR_STORE_ERROR). */
typedef int (*pbr_store_work_fn)(pbr_store_txn *txn, void *ctx, char *err, size_t errlen);

/* How many times pbr_store_write replays a transaction whose map had to grow
 * (the map doubles each time, so 16 replays cover any realistic batch). */
#define PBR_STORE_MAX_REPLAYS 16

/* Runs work in a new write transaction and commits it; when the map had to
 * grow (PBR_STORE_RETRY from work or commit) the whole transaction is
 * replayed from the start, so work must be repeatable. Returns 0 when
 * committed; work's own code (e.g. PBR_STORE_CONFLICT), with nothing
 * committed; or -1 with err (a failing call, or the map still full after
 * PBR_STORE_MAX_REPLAYS replays). The one write path with a retry policy:
 * ingest, statements and contract versions all go through it. */
int pbr_store_write(pbr_store *st, pbr_store_work_fn work, void *ctx, char *err, size_t errlen);

/* Appends ev (canonical bytes canon/len) unless its id exists. Returns
 * PBR_STORE_ADDED (and *seq), PBR_STORE_DUPLICATE (and *seq of the stored
 * one), PBR_STORE_CONFLICT, PBR_STORE_RETRY or PBR_STORE_ERROR. A duplicate
 * or conflict writes nothing. The event's offenders index entry is written
 * by pbr_store_commit (all of a transaction's, in key order: far fewer
 * pages than in arrival order); ev need not outlive this call. */
int pbr_store_put_event(pbr_store_txn *txn, const pbr_event *ev, const char *canon, size_t len, uint64_t *seq,
                        char *err, size_t errlen);

/* Looks up an id inside the transaction (sees its own writes). Returns
 * PBR_STORE_OK with *type, PBR_STORE_NOTFOUND, or PBR_STORE_ERROR. */
int pbr_store_txn_find_id(pbr_store_txn *txn, const char *id, pbr_event_type *type, char *err, size_t errlen);

/* Keeps rejected input: the raw bytes exactly as given (any bytes), the
 * reason and the ingest time (unix seconds). Returns 0, PBR_STORE_RETRY or
 * -1. */
int pbr_store_put_quarantine(pbr_store_txn *txn, const char *raw, size_t rawlen, const char *reason, int64_t at,
                             char *err, size_t errlen);

/* Counters as of the last commit. Returns 0 or -1. */
typedef struct pbr_store_stats {
    uint64_t events;      /* stored events */
    uint64_t quarantined; /* quarantine records */
    uint64_t last_seq;    /* highest event seq (0 when empty) */
    uint64_t map_size;    /* bytes */
    uint64_t map_used;    /* bytes of the map in use (pages up to the last used one) */
} pbr_store_stats;
int pbr_store_get_stats(pbr_store *st, pbr_store_stats *out, char *err, size_t errlen);

/* Calls fn for every event with seq in [from_seq, to_seq] in seq order, with
 * the canonical JSON. fn returns 0 to go on, non-zero to stop (that value is
 * returned). Returns 0 or -1 on a store error. */
typedef int (*pbr_store_event_fn)(void *ctx, uint64_t seq, const char *json, size_t len);
int pbr_store_foreach_event(pbr_store *st, uint64_t from_seq, uint64_t to_seq, pbr_store_event_fn fn, void *ctx,
                            char *err, size_t errlen);

/* Calls fn for every event of one offender, in seq order. */
int pbr_store_foreach_offender_event(pbr_store *st, const char *offender, pbr_store_event_fn fn, void *ctx, char *err,
                                     size_t errlen);

/* One quarantine record as pbr_store_foreach_quarantine hands it over; the
 * pointers are valid during the callback only. */
typedef struct pbr_quarantine_record {
    uint64_t qseq;   /* its key, 1, 2, ... (reused once the newest are purged) */
    const char *raw; /* the rejected bytes exactly as received (not NUL-terminated text: any bytes) */
    size_t raw_len;
    const char *error;      /* why it was rejected */
    int64_t at;             /* when, unix seconds */
    const char *unreadable; /* non-NULL: the stored value could not be decoded, and why (other fields unset) */
} pbr_quarantine_record;
typedef int (*pbr_store_quarantine_fn)(void *ctx, const pbr_quarantine_record *rec);

/* Calls fn for the newest `limit` quarantine records (0 = all), newest
 * first. fn returns 0 to go on, non-zero to stop (that value is returned).
 * Returns 0 or -1 on a store error. */
int pbr_store_foreach_quarantine(pbr_store *st, size_t limit, pbr_store_quarantine_fn fn, void *ctx, char *err,
                                 size_t errlen);

/* Deletes the quarantine records stored before `before` (unix seconds;
 * undecodable records too), *purged their number. Returns 0,
 * PBR_STORE_RETRY or -1 (err; abort the transaction). */
int pbr_store_purge_quarantine(pbr_store_txn *txn, int64_t before, uint64_t *purged, char *err, size_t errlen);

/* Contract versions by SHA-256 (hex). put is idempotent. get returns a
 * malloc'd copy in *bytes (caller frees) or PBR_STORE_NOTFOUND. */
int pbr_store_put_contract(pbr_store_txn *txn, const char *sha256, const void *bytes, size_t len, char *err,
                           size_t errlen);
int pbr_store_get_contract(pbr_store *st, const char *sha256, char **bytes, size_t *len, char *err, size_t errlen);

/* Issued statements: record is an opaque JSON document (the service stores
 * the statement, its ledger and contract sha there). put fails with
 * PBR_STORE_CONFLICT if (contract, quarter) exists: issued statements are
 * immutable. get returns a malloc'd copy or PBR_STORE_NOTFOUND. */
int pbr_store_put_statement(pbr_store_txn *txn, const char *contract, const char *quarter, const char *record,
                            size_t len, char *err, size_t errlen);
int pbr_store_get_statement(pbr_store *st, const char *contract, const char *quarter, char **record, size_t *len,
                            char *err, size_t errlen);
/* Calls fn for every statement of a contract (contract == NULL: all), in
 * (contract, quarter) order; ctx gets the record JSON. */
int pbr_store_foreach_statement(pbr_store *st, const char *contract, pbr_store_event_fn fn, void *ctx, char *err,
                                size_t errlen);

/* The day a contract id was first loaded into this store (auto-settle never
 * issues a quarter that was already due then: SPEC rulings / README). */
#define PBR_STORE_DATE_LEN 11 /* "YYYY-MM-DD" and NUL */

/* Records date ("YYYY-MM-DD") as the day contract was first loaded, unless
 * a day is already recorded; first gets the recorded day either way.
 * Returns PBR_STORE_OK, PBR_STORE_RETRY or -1 (err). */
int pbr_store_put_first_loaded(pbr_store_txn *txn, const char *contract, const char *date,
                               char first[PBR_STORE_DATE_LEN], char *err, size_t errlen);

/* Calls fn(ctx, contract, quarter) for the key of every issued statement,
 * in (contract, quarter) order, without reading the records. fn returns 0
 * to go on, non-zero to stop (that value is returned). Returns 0 or -1. */
typedef int (*pbr_store_key_fn)(void *ctx, const char *contract, const char *quarter);
int pbr_store_foreach_statement_key(pbr_store *st, pbr_store_key_fn fn, void *ctx, char *err, size_t errlen);

#endif

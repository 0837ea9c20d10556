/* record.h -- the statement record: what the daemon keeps of every issued
 * statement, in the store and on disk.
 *
 * In the store (the statements table, key "contract\0quarter") a record is
 * the JSON object
 *   {"contract_sha256": sha, "statement": "<canonical JSON>", "ledger": "<ledger JSON>"}
 * where ledger is the settlement history after that statement (so the next
 * quarter resumes from the last record) and sha names the contract version
 * it was issued under. On disk, statements_dir/<contract>/<quarter>.json
 * holds the statement and a newline, and .csv its CSV rendering titled with
 * the contract's title.
 *
 * This module encodes and decodes the stored form, names, writes and
 * compares the files, rewrites missing or stale files from the store and
 * removes the temporary files an interrupted write left. It knows nothing
 * of the contracts in force or of settling (service.c); titles come from
 * its caller.
 */
#ifndef PBRD_RECORD_H
#define PBRD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/store.h"

/* A decoded record: three malloc'd strings. Embedded in the caller's
 * struct; empty when zeroed; emptied by pbrd_record_clear. */
typedef struct pbrd_record {
    char *contract_sha256; /* the contract version it was issued under */
    char *statement;       /* the statement's canonical JSON */
    char *ledger;          /* the ledger after it (ledger_json.h) */
} pbrd_record;

/* Which statement a record holds, read from its statement JSON. */
typedef struct pbrd_record_key {
    char contract[PBR_ID_MAX + 1];
    char quarter[PBR_DATE_STRLEN]; /* "YYYY-MM-DD" */
    pbr_date q;                    /* the same, as a date */
    uint64_t events_through;       /* the statement's events_through (0 when absent) */
} pbrd_record_key;

/* Encodes a record in its stored form. Returns malloc'd compact JSON
 * (caller frees), or NULL when out of memory or a string is not UTF-8. */
char *pbrd_record_encode(const char *contract_sha256, const char *statement, const char *ledger);

/* Decodes a stored record into *r (which need not be initialised). Returns
 * 0, or -1 with err saying what is wrong ("statement record: not JSON
 * (line L, column C): …", "statement record: \"ledger\" is missing or not
 * a string", out of memory) and *r empty. Free with pbrd_record_clear. */
int pbrd_record_decode(const char *bytes, size_t len, pbrd_record *r, char *err, size_t errlen);

/* Frees the strings of r and zeroes it; safe on an empty record. */
void pbrd_record_clear(pbrd_record *r);

/* Reads the contract, quarter and events_through of r's statement. Returns
 * 0, or -1 with err when the statement is not JSON, or has no contract
 * (or one longer than an id) or no quarter that is a date. */
int pbrd_record_key_of(const pbrd_record *r, pbrd_record_key *k, char *err, size_t errlen);

#define PBRD_RECORD_UNREADABLE (-3) /* pbrd_record_get: stored, but it does not decode */

/* Reads and decodes the record of (contract, quarter) from the store.
 * Returns PBR_STORE_OK with *r (free with pbrd_record_clear),
 * PBR_STORE_NOTFOUND when it is not issued (err untouched),
 * PBR_STORE_ERROR with err when the store failed, or
 * PBRD_RECORD_UNREADABLE with err (the decoder's) when the record does not
 * decode; *r is empty but on PBR_STORE_OK. */
int pbrd_record_get(pbr_store *store, const char *contract, const char *quarter, pbrd_record *r, char *err,
                    size_t errlen);

/* Writes statements_dir/<contract>/<quarter>.<ext> into out. Returns 0, or
 * -1 when it does not fit in n bytes (out then holds a truncated path). */
int pbrd_record_path(const char *statements_dir, const char *contract, const char *quarter, const char *ext, char *out,
                     size_t n);

/* Writes the .json (statement + newline) and .csv (titled with title, may
 * be NULL) files of a statement, each atomically. Returns 0, or -1 with
 * err naming the failing file or rendering. */
int pbrd_record_write_files(const char *statements_dir, const char *contract, const char *quarter, const char *title,
                            const char *statement, char *err, size_t errlen);

/* What pbrd_record_check_files found: a bit set per problem. */
#define PBRD_RECORD_JSON_DIFFERS 1   /* the .json file is missing or not the statement and a newline */
#define PBRD_RECORD_CSV_DIFFERS 2    /* the .csv file is missing or not the statement's rendering */
#define PBRD_RECORD_CSV_UNRENDERED 4 /* the statement could not be rendered as CSV (not compared) */

/* Compares the two files of a statement with what they must hold. Returns
 * 0 when both match, else the PBRD_RECORD_* bits of the problems. */
int pbrd_record_check_files(const char *statements_dir, const char *contract, const char *quarter, const char *title,
                            const char *statement);

/* The title of the contract version sha, for the CSV (NULL when unknown). */
typedef const char *(*pbrd_record_title_fn)(void *ctx, const char *contract_sha256);

/* Rewrites, for every record in the store, the files that are missing or
 * differ (a crash between the LMDB commit and the file writes, or a .csv
 * of an older layout), logging each rewrite at warn; undecodable records
 * and failed rewrites are skipped (verify reports them). *rewritten (may be
 * NULL) gets the number of statements whose files were rewritten. Returns
 * 0, or -1 with err when the store cannot be read. */
int pbrd_record_repair(pbr_store *store, const char *statements_dir, pbrd_record_title_fn title, void *title_ctx,
                       size_t *rewritten, char *err, size_t errlen);

/* Removes the temporary files a crash left in statements_dir/<contract>/
 * (the "NAME.tmpXXXXXX" of pbr_write_file_atomic, never renamed into
 * place). Returns the number removed; problems are logged, never fatal. */
size_t pbrd_record_remove_temp_files(const char *statements_dir);

#endif

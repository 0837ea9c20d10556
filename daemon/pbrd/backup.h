/* backup.h -- the backup op: a consistent, compacted copy of the store and
 * the statement files, taken while ingest goes on, in a new directory that
 * is itself a pbrd data directory (restore = `pbrd --data DIR`).
 *
 * Layout of DIR (mode 0700; every file 0600):
 *   data.mdb                       compacted LMDB copy (mdb_env_copyfd2, MDB_CP_COMPACT)
 *   statements/<contract>/<quarter>.json|.csv   the issued statement files
 *   MANIFEST.json                  written last: its presence marks a complete backup
 * MANIFEST.json: {"format":"pbrd-backup/1","created":"…Z","last_seq":n,
 * "events":n,"quarantined":n,"statements":n,
 * "files":[{"path":…,"bytes":n,"sha256":…}, …],"missing_statement_files":[…]}
 * (paths relative to DIR; the manifest's own entry is not listed).
 *
 * Consistency: the statement files are copied first, then the store. A
 * statement file exists only after its record is committed, so every file
 * copied belongs to a statement in the copy. A statement committed while
 * the files were being copied is in the copy without its files: they are
 * copied afterwards if they have appeared meanwhile, else listed under
 * missing_statement_files (pbrd rewrites them from the store when it
 * starts on the backup). The event figures are read from the copy itself.
 *
 * Runs on the calling thread (the API thread): it blocks other API
 * requests for its duration, not ingest.
 */
#ifndef PBRD_BACKUP_H
#define PBRD_BACKUP_H

#include <jansson.h>

#include "pbr/store.h"

/* Backs up store and statements_dir into dir (an absolute path; created
 * with mode 0700, or an existing empty directory). Returns the reply of
 * the backup op (new reference): {"dir","last_seq","events","statements",
 * "files","bytes"} or {"error":…}; on error what it wrote is removed. */
json_t *pbrd_backup_run(pbr_store *store, const char *statements_dir, const char *dir);

#endif

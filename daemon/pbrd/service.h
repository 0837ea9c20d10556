/* service.h -- the settlement service (SPEC.md 5.7 and 7): the contracts in
 * force, the event set mirrored from the store, quarter closing, issued
 * statements, provisional figures, reload and verify. The statement record
 * kept for each issued statement (LMDB and files) is record.h's.
 *
 * Runs on the API thread only (not thread-safe); reads events the ingest
 * thread has committed through the store. Functions return C structs and
 * status codes (0, or -1 with an err text ready for an {"error":…} reply);
 * api_reply.h shapes them as the API ops of section 7, and the PUB message
 * bodies of what the service announces (pbrd_service_events).
 */
#ifndef PBRD_SERVICE_H
#define PBRD_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/contract.h"
#include "pbr/date.h"
#include "pbr/event.h"
#include "pbr/eventset.h"
#include "pbr/statement.h"
#include "pbr/store.h"
#include "pbrd/metrics.h"
#include "pbrd/record.h"

typedef struct pbrd_service pbrd_service;

/* One statement a settle issued. */
typedef struct pbrd_issued {
    char contract[PBR_ID_MAX + 1];
    char quarter[PBR_DATE_STRLEN]; /* "YYYY-MM-DD" */
    int64_t total_pence;
} pbrd_issued;

/* What a settle did: the statements it issued, in order, and the error
 * that ended it early (NULL when none; those issued before it stay
 * issued). Embedded; zeroed is empty; emptied by pbrd_settle_result_clear. */
typedef struct pbrd_settle_result {
    pbrd_issued *issued; /* malloc'd */
    size_t nissued;
    char *error; /* malloc'd, or NULL */
} pbrd_settle_result;

/* Frees what r holds and zeroes it; safe on an empty result. */
void pbrd_settle_result_clear(pbrd_settle_result *r);

/* What a (re)load did: the ids of the contracts loaded from their files,
 * in file order, and one diagnostic per file that failed (its previous
 * version, if any, stays in force). Embedded; zeroed is empty. */
typedef struct pbrd_reload_result {
    char **loaded; /* malloc'd ids */
    size_t nloaded;
    pbr_diag *errors; /* malloc'd */
    size_t nerrors;
} pbrd_reload_result;

/* Frees what r holds and zeroes it; safe on an empty result. */
void pbrd_reload_result_clear(pbrd_reload_result *r);

/* What the service announces: a statement issued (sha256: the SHA-256 of
 * its canonical JSON), contracts (re)loaded, the initial load included.
 * Either may be NULL. The structs are borrowed for the call. */
typedef struct pbrd_service_events {
    void (*statement)(void *ctx, const pbrd_issued *st, const char *sha256);
    void (*reload)(void *ctx, const pbrd_reload_result *r);
} pbrd_service_events;

typedef struct pbrd_service_opts {
    const char *contracts_dir;
    const char *statements_dir;
    const pbrd_service_events *events; /* may be NULL */
    void *events_ctx;
    int auto_settle; /* the daemon settles due quarters by itself (tick) */
    pbr_date today;  /* the day the contracts are loaded */
} pbrd_service_opts;

/* Opens the service: loads contracts_dir (errors are logged, valid files
 * load), mirrors the event log, checks that every issued statement's files
 * exist (rewriting missing ones from the store). Returns 0 and *out, or -1
 * with err. Close with pbrd_service_close. */
int pbrd_service_open(pbrd_service **out, pbr_store *store, const pbrd_service_opts *opts, char *err, size_t errlen);
/* Frees *svcp and sets it to NULL (NULL is fine); the store stays open. */
void pbrd_service_close(pbrd_service **svcp);

/* Counts settle runs and reloads in m from now on (NULL: not counted);
 * records the contracts loaded at open as the initial load. */
void pbrd_service_set_metrics(pbrd_service *svc, pbrd_metrics *m);

/* Re-reads contracts_dir. A file with an error keeps the contract's
 * previous version in force. A contract id loaded for the first time into
 * this store has today recorded as its first-loaded day (auto-settle's
 * rule: pbrd_service_settle_begin). Returns 0 with *out (free with
 * pbrd_reload_result_clear) and announces it (events->reload), or -1 with
 * err when the directory cannot be listed or out of memory (the contracts
 * in force stay in force; nothing announced; *out empty). */
int pbrd_service_reload(pbrd_service *svc, pbr_date today, pbrd_reload_result *out, char *err, size_t errlen);

/* Issues, for every contract (or only `contract`), each unissued quarter up
 * to and including `through` whose issue date A(Q) is before `today`, into
 * *out (free with pbrd_settle_result_clear). Returns 0, or -1 with
 * out->error set (statements issued before the error stay issued and are
 * in out->issued). */
int pbrd_service_settle(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                        pbrd_settle_result *out);

/* Idle work, for the moments no request is waiting: mirrors a step of new
 * events from the store into the in-memory event set (parsing each once),
 * and sorts and indexes the set once the store has been quiet for one
 * call, so a settle or a query finds every event in memory and indexed
 * instead of parsing the log. Returns 1 when there is more to mirror (call
 * again soon), 0 when up to date, -1 on an error (logged; the next settle
 * or query reports it). */
int pbrd_service_idle(pbrd_service *svc);

/* A settle in steps, so the daemon can answer requests and honour
 * SIGTERM between statements: each step issues at most one statement (a
 * statement is atomic: committed whole with its files, or absent). */
typedef struct pbrd_settle_job pbrd_settle_job;

/* Starts a settle of every contract (or only `contract`) up to through, as
 * of today. With is_auto, auto-settle's rule: a quarter that was already
 * due (A(Q) < the day) when its contract was first loaded into this store
 * is never issued, nor anything after it (that backlog waits for an
 * explicit settle). Returns the job (end it with pbrd_service_settle_end),
 * or NULL with err ("settle: no such contract", the event log unreadable,
 * out of memory). */
pbrd_settle_job *pbrd_service_settle_begin(pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                                           int is_auto, char *err, size_t errlen);

/* Issues at most one statement. Returns 1 when more may follow, 0 when
 * the job is done, -1 after an error (pbrd_service_settle_end reports it).
 * A reload between steps is allowed (the job looks at the new table). */
int pbrd_service_settle_step(pbrd_service *svc, pbrd_settle_job *job);

/* Statements issued so far by the job; whether it is auto-settle's. */
size_t pbrd_service_settle_issued(const pbrd_settle_job *job);
int pbrd_service_settle_is_auto(const pbrd_settle_job *job);

/* Ends the job (finished or not: a job ended early is interrupted) and
 * frees it; counts the run in the metrics. *out gets what it issued and
 * its error, if any (free with pbrd_settle_result_clear). */
void pbrd_service_settle_end(pbrd_service *svc, pbrd_settle_job *job, pbrd_settle_result *out);

/* Before a settle up to through (of contract, or of all when NULL): 0
 * when it can issue something, or through is a due quarter or past a
 * contract's last (a re-run that finds everything issued is fine); -1
 * with err when through is not the first day of a quarter (of that
 * contract, or of any loaded one), before the named contract's first
 * quarter, or not yet due (A(Q) >= today) with nothing earlier left to
 * issue. */
int pbrd_service_check_settle(const pbrd_service *svc, pbr_date through, const char *contract, pbr_date today,
                              char *err, size_t errlen);

/* Why the statement of (contract, q) is not issued, into err: not a
 * quarter's first day, not one of its quarters, not yet due, or due (and
 * waiting for a settle). Returns -1 always (err set), 0 when it is one of
 * the first three reasons (err set too). */
int pbrd_service_unissued_why(const pbrd_service *svc, const char *contract, pbr_date q, pbr_date today, char *err,
                              size_t errlen);

/* Whether auto-settle has a statement to issue today. */
int pbrd_service_auto_due(const pbrd_service *svc, pbr_date today);

/* The provider of a loaded contract, or NULL if no such contract. */
const char *pbrd_service_provider_of(const pbrd_service *svc, const char *contract);

/* One contract in force as of a day. The strings are borrowed from the
 * service: valid until the next reload. */
typedef struct pbrd_contract_row {
    const char *contract, *provider, *title, *sha256;
    char last_statement[PBR_DATE_STRLEN]; /* the last issued quarter, "" before the first */
    char first_loaded[PBR_DATE_STRLEN];   /* the day its id was first loaded into this store */
    size_t due;                           /* due, unissued quarters */
    const char *state;                    /* "up to date", "due" or "due, awaiting settle" (static) */
} pbrd_contract_row;

/* The contracts in force (only provider's when provider is not NULL), in
 * load order, as of today: "due, awaiting settle" when only an explicit
 * settle will issue them. Returns 0 with *rows (malloc'd, caller frees;
 * NULL when *n is 0) and *n, or -1 when out of memory. */
int pbrd_service_contracts(const pbrd_service *svc, const char *provider, pbr_date today, pbrd_contract_row **rows,
                           size_t *n);

/* The number of due quarters that wait for an explicit settle (of
 * provider's contracts, or all when NULL). */
size_t pbrd_service_awaiting_settle(const pbrd_service *svc, const char *provider, pbr_date today);

/* The stored statement bytes of (contract, quarter "YYYY-MM-DD"): returns a
 * malloc'd canonical JSON string (caller frees) or NULL with err ("not
 * issued", …). */
char *pbrd_service_statement(pbrd_service *svc, const char *contract, const char *quarter, char *err, size_t errlen);

/* The provisional lines of a contract as of today: binary, frequency and
 * disposals lines begun and not final. Returns 0 with *lines (malloc'd,
 * caller frees; computed once per event log position and day, then copied
 * from a cache) and *n, or -1 with err ("cohorts: no such contract", the
 * event log unreadable, out of memory). */
int pbrd_service_cohorts(pbrd_service *svc, const char *contract, pbr_date today, pbr_line **lines, size_t *n,
                         char *err, size_t errlen);

/* One difference verify found. */
typedef struct pbrd_difference {
    char contract[PBR_ID_MAX + 1]; /* "?" when the record does not say */
    char quarter[PBR_DATE_STRLEN]; /* "?" likewise */
    const char *where;             /* "store", "file" or "recompute" (static) */
    char detail[PBR_ERR_MAX];
} pbrd_difference;

/* What verify found: how many statements it checked, and the differences.
 * Embedded; zeroed is empty; emptied by pbrd_verify_result_clear. */
typedef struct pbrd_verify_result {
    size_t checked;
    pbrd_difference *diffs; /* malloc'd */
    size_t ndiffs, cap;
} pbrd_verify_result;

/* Frees what r holds and zeroes it; safe on an empty result. */
void pbrd_verify_result_clear(pbrd_verify_result *r);

/* Recomputes every issued statement from the event log and the stored
 * contract versions and compares it with the store and the files. Returns
 * 0 with *out (free with pbrd_verify_result_clear), or -1 with err (the
 * event log or the store unreadable, out of memory; *out empty). */
int pbrd_service_verify(pbrd_service *svc, pbrd_verify_result *out, char *err, size_t errlen);

/* The issued statements of a contract, and what a listing shows of the
 * contract. Embedded; zeroed is empty; emptied by pbrd_statement_list_clear. */
typedef struct pbrd_statement_list {
    const char *contract, *title, *provider; /* borrowed from the service: valid until the next reload */
    int has_contract_cap;
    int64_t contract_cap_pence;
    char **statements; /* malloc'd canonical JSON of each, in quarter order */
    size_t n;
} pbrd_statement_list;

/* Frees what l holds and zeroes it; safe on an empty list. */
void pbrd_statement_list_clear(pbrd_statement_list *l);

/* Lists the issued statements of contract. Returns 0 with *out (free with
 * pbrd_statement_list_clear), or -1 with err ("statements: no such
 * contract", "statements: unreadable statement record in the store", the
 * store failed, out of memory; *out empty). */
int pbrd_service_statements(pbrd_service *svc, const char *contract, pbrd_statement_list *out, char *err,
                            size_t errlen);

/* What explaining a line of an issued statement needs: its stored record,
 * the contract version it was issued under, the version the line was first
 * issued under (adjustments; may be the same) and the events (the
 * statement's events_through limits them). Embedded; emptied by
 * pbrd_explain_view_clear. */
typedef struct pbrd_explain_view {
    pbrd_record record;
    const pbr_contract *version;      /* owned by the service */
    const pbr_contract *line_version; /* owned by the service */
    const pbr_eventset *events;       /* owned by the service: valid until its next call */
} pbrd_explain_view;

/* Frees what v holds and zeroes it; safe on an empty view. */
void pbrd_explain_view_clear(pbrd_explain_view *v);

/* Finds what explaining the line (component, period, segment; segment
 * NULL: a line without one) of the statement of (contract, quarter) needs,
 * as that statement was computed. Returns 0 with *out (free with
 * pbrd_explain_view_clear), or -1 with err ("explain: statement C Q is not
 * issued", "explain: the contract version of C Q is not readable", the
 * store or event log failed) or with err "" when the record does not
 * decode; *out empty. */
int pbrd_service_explain(pbrd_service *svc, const char *contract, const char *quarter, const char *component,
                         const char *period, const char *segment, pbrd_explain_view *out, char *err, size_t errlen);

/* Number of contracts in force. */
size_t pbrd_service_ncontracts(const pbrd_service *svc);

#endif

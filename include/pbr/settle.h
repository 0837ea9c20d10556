/* settle.h -- the evaluator: SPEC.md section 5 as a pure function of
 * (contract, visible events, quarter, what was issued before).
 *
 * Never touches the store, ZeroMQ or the clock. The daemon and `pbrctl
 * simulate` both call pbr_settle_quarter in quarter order, carrying a
 * pbr_ledger (what earlier statements issued) from one call to the next.
 */
#ifndef PBR_SETTLE_H
#define PBR_SETTLE_H

#include <stddef.h>
#include <stdint.h>

#include "pbr/contract.h"
#include "pbr/eventset.h"
#include "pbr/statement.h"

/* The settlement history of one contract: for every line key already
 * issued, the contract version (sha256) it was first issued under and the
 * computed (uncapped) pence issued so far; the running computed sum U of
 * 5.5.6; the next quarter to issue. Serialisable, so the daemon stores it
 * with every statement. */
typedef struct pbr_ledger pbr_ledger;

/* Returns a ledger for a contract that has issued nothing, or NULL. */
pbr_ledger *pbr_ledger_new(void);
/* Frees *lp and sets it to NULL (lp or *lp NULL: nothing to do). */
void pbr_ledger_destroy(pbr_ledger **lp);
/* Returns a deep copy of l (free with pbr_ledger_destroy), or NULL when out of
 * memory. */
pbr_ledger *pbr_ledger_copy(const pbr_ledger *l);

/* A read view of one key of a ledger (borrowed: valid while the ledger is
 * unchanged). segment is NULL for a line without a segment. */
typedef struct pbr_ledger_entry {
    const char *component;
    const char *period;
    const char *segment;
    int fee;             /* fee lines are never adjusted */
    const char *version; /* contract sha256 the line was first issued under */
    int64_t issued;      /* computed (uncapped) pence issued so far */
} pbr_ledger_entry;

/* The number of keys, in order of first issue, and the running computed
 * sum U of 5.5.6. */
size_t pbr_ledger_count(const pbr_ledger *l);
int64_t pbr_ledger_computed_total(const pbr_ledger *l);
/* Fills e with key i (i < pbr_ledger_count). */
void pbr_ledger_entry_at(const pbr_ledger *l, size_t i, pbr_ledger_entry *e);
/* Appends n entries to l (a new ledger) and sets its next quarter and U:
 * how a stored ledger is rebuilt. Returns 0, or -1 when a field is too
 * long or memory runs out (l is then unusable: free it). */
int pbr_ledger_restore(pbr_ledger *l, pbr_date next, int64_t computed_total, const pbr_ledger_entry *entries, size_t n);
/* The first quarter not yet issued (PBR_DATE_NONE before the first). */
pbr_date pbr_ledger_next_quarter(const pbr_ledger *l);

/* Finds the contract version a line was first issued under. Returns NULL if
 * unknown (the evaluator then uses the current contract). */
typedef const pbr_contract *(*pbr_version_fn)(void *ctx, const char *sha256);

/* The statement range of 5.1: first = quarter containing start; last = the
 * quarter in which the last possible line becomes final, plus run_off. */
pbr_date pbr_contract_first_quarter(const pbr_contract *c);
pbr_date pbr_contract_last_quarter(const pbr_contract *c);
/* A(Q) = Q.next + settle_after_days. */
pbr_date pbr_issue_date(const pbr_contract *c, pbr_date quarter);

/* Settles quarter q (must be the ledger's next quarter, or the first quarter
 * for a new ledger) as of A(q), seeing events with seq <= events_through.
 * On success returns 0, *out (free with pbr_statement_destroy(&out)) and
 * updates the ledger. On failure returns -1 with err, ledger untouched. */
int pbr_settle_quarter(const pbr_contract *c, pbr_version_fn versions, void *vctx, const pbr_eventset *ev,
                       uint64_t events_through, pbr_date q, pbr_ledger *ledger, pbr_statement **out, char *err,
                       size_t errlen);

/* The outcome lines of contract c as of date d over events up to
 * events_through, evaluated ahead of the statement that needs them: it only
 * reads c and ev, so several may be evaluated at once on other threads
 * (pbr_settle_all_parallel). Returns NULL with err on failure; free with
 * pbr_lines_destroy. */
typedef struct pbr_lines pbr_lines;
pbr_lines *pbr_lines_evaluate(const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through, pbr_date d,
                              char *err, size_t errlen);
void pbr_lines_destroy(pbr_lines **lp);

/* pbr_settle_quarter with c's lines as of A(q) already evaluated (ahead,
 * from pbr_lines_evaluate(c, ev, events_through, pbr_issue_date(c, q));
 * ignored when they are not, or NULL). The statement is the same either
 * way. */
int pbr_settle_quarter_with(const pbr_contract *c, const pbr_lines *ahead, pbr_version_fn versions, void *vctx,
                            const pbr_eventset *ev, uint64_t events_through, pbr_date q, pbr_ledger *ledger,
                            pbr_statement **out, char *err, size_t errlen);

/* Receives each statement of pbr_settle_all in quarter order (borrowed:
 * valid during the call). Returns 0 to go on, non-zero to stop. */
typedef int (*pbr_statement_fn)(void *ctx, const pbr_statement *s);

/* Settles every quarter of c, from the first through min(through, the last
 * of its range) (through = PBR_DATE_MAX for all), with a fresh ledger, over
 * events up to events_through: what `pbrctl simulate` prints. Returns 0,
 * the callback's non-zero value, or -1 with err. */
int pbr_settle_all(const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through, pbr_date through,
                   pbr_statement_fn fn, void *ctx, char *err, size_t errlen);

/* pbr_settle_all with the statements' evaluations spread over nthreads
 * threads (settle_par.c, outside the evaluator): each quarter's lines are
 * evaluated ahead with pbr_lines_evaluate, then the statements are built
 * in quarter order on the calling thread, so the result is byte-identical
 * to pbr_settle_all's. Returns as pbr_settle_all does. */
int pbr_settle_all_parallel(const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through, pbr_date through,
                            int nthreads, pbr_statement_fn fn, void *ctx, char *err, size_t errlen);

/* Provisional figures as of date d (the `cohorts` query): every binary,
 * frequency and disposals line whose period has begun by d and which is not
 * yet final, computed as of d. Returns 0 and a malloc'd array (free each
 * with nothing; free the array) or -1 with err. */
int pbr_provisional_lines(const pbr_contract *c, const pbr_eventset *ev, uint64_t events_through, pbr_date d,
                          pbr_line **lines, size_t *n, char *err, size_t errlen);

#endif

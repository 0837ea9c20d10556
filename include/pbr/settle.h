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
#include "pbr/eval_view.h"
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

/* The outcome lines of a contract as of a date, evaluated ahead of the
 * statement that needs them (pbr_settle_request.ahead). */
typedef struct pbr_lines pbr_lines;

/* One statement to settle: the quarter, optionally the contract's lines as
 * of A(quarter) already evaluated, and where to find the versions earlier
 * lines were first issued under. */
typedef struct pbr_settle_request {
    pbr_date quarter;        /* the ledger's next quarter (the first for a new ledger) */
    const pbr_lines *ahead;  /* from pbr_lines_evaluate as of A(quarter), or NULL */
    pbr_version_fn versions; /* NULL: lines first issued under another version use the current one */
    void *versions_ctx;      /* passed to versions */
} pbr_settle_request;

/* Settles r->quarter as of A(quarter) over the view's events (v->as_of is
 * not read). r->ahead is used only when it was evaluated from the same
 * contract version, events_through and A(quarter) (else ignored): the
 * statement is the same either way. On success returns 0, *out (free with
 * pbr_statement_destroy(&out)) and updates the ledger. On failure returns
 * -1 with err, *out NULL, ledger untouched. Frees nothing of v or r. */
int pbr_settle_quarter(const pbr_eval_view *v, const pbr_settle_request *r, pbr_ledger *ledger, pbr_statement **out,
                       char *err, size_t errlen);

/* The outcome lines of v->contract as of v->as_of, evaluated ahead of the
 * statement that needs them: it only reads the view, so several may be
 * evaluated at once on other threads (pbr_settle_all_parallel). Returns
 * NULL with err on failure; free with pbr_lines_destroy(&l) (nulls the
 * pointer, safe on NULL). */
pbr_lines *pbr_lines_evaluate(const pbr_eval_view *v, char *err, size_t errlen);
void pbr_lines_destroy(pbr_lines **lp);

/* Receives each statement of pbr_settle_all in quarter order (borrowed:
 * valid during the call). Returns 0 to go on, non-zero to stop. */
typedef int (*pbr_statement_fn)(void *ctx, const pbr_statement *s);

/* A contract's whole series of statements: through which quarter, who
 * receives each statement, and on how many threads. */
typedef struct pbr_series_request {
    pbr_date through;      /* the last quarter settled (PBR_DATE_MAX: to the end of the range) */
    pbr_statement_fn each; /* called once per statement, in quarter order */
    void *ctx;             /* passed to each */
    int threads;           /* pbr_settle_all_parallel only; < 1: all on the calling thread */
} pbr_series_request;

/* Settles every quarter of v->contract, from the first through
 * min(r->through, the last of its range), with a fresh ledger, over the
 * view's events (v->as_of is not read): what `pbrctl simulate` prints.
 * Returns 0, the callback's non-zero value, or -1 with err. The statements
 * are freed after each callback. */
int pbr_settle_all(const pbr_eval_view *v, const pbr_series_request *r, char *err, size_t errlen);

/* pbr_settle_all with the statements' evaluations spread over r->threads
 * threads (settle_par.c, outside the evaluator): each quarter's lines are
 * evaluated ahead with pbr_lines_evaluate, then the statements are built
 * in quarter order on the calling thread, so the result is byte-identical
 * to pbr_settle_all's. Returns as pbr_settle_all does. */
int pbr_settle_all_parallel(const pbr_eval_view *v, const pbr_series_request *r, char *err, size_t errlen);

/* Provisional figures as of v->as_of (the `cohorts` query): every binary,
 * frequency and disposals line whose period has begun by then and which is
 * not yet final, computed as of that date. Returns 0 and a malloc'd array
 * (free each with nothing; free the array) or -1 with err, *lines NULL and
 * *n 0. */
int pbr_provisional_lines(const pbr_eval_view *v, pbr_line **lines, size_t *n, char *err, size_t errlen);

#endif

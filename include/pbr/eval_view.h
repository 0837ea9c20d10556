/* eval_view.h -- what one evaluation reads, as the public entry points of
 * the evaluator take it (settle.h, explain.h): a contract, an event set,
 * how far into the event set to look, and the evaluation date. The
 * evaluator builds its internal view (daemon/libpbr/eval/eval.h) from it.
 */
#ifndef PBR_EVAL_VIEW_H
#define PBR_EVAL_VIEW_H

#include <stdint.h>

#include "pbr/contract.h"
#include "pbr/date.h"
#include "pbr/eventset.h"

/* Borrowed pointers: the caller keeps contract and events alive and
 * unchanged during the call; nothing to free. Events with seq <=
 * events_through are seen, and of those only the ones recorded and not
 * voided by the evaluation date. as_of is that date for
 * pbr_lines_evaluate, pbr_provisional_lines and pbr_explain_line; the
 * settle functions evaluate each quarter Q as of its issue date A(Q) and
 * never read it (leave it out of the initialiser). */
typedef struct pbr_eval_view {
    const pbr_contract *contract; /* the current version */
    const pbr_eventset *events;
    uint64_t events_through; /* the last event seq seen */
    pbr_date as_of;          /* the evaluation date (not read when settling) */
} pbr_eval_view;

#endif

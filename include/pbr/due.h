/* due.h -- when a quarter's statement may be issued (SPEC 5.1, 5.7): the one
 * quarter-due policy of the daemon (settle op, auto-settle, status) and of
 * pbrctl (simulate's range). Pure: the day is always the caller's.
 */
#ifndef PBR_DUE_H
#define PBR_DUE_H

#include <stddef.h>

#include "pbr/contract.h"
#include "pbr/date.h"

typedef enum pbr_quarter_state {
    PBR_QUARTER_DUE,           /* in the statement range and A(q) < today: may be issued */
    PBR_QUARTER_NOT_YET_DUE,   /* in the range, but the day A(q) has not passed */
    PBR_QUARTER_NOT_A_QUARTER, /* not the first day of a quarter of the contract's settlement year */
    PBR_QUARTER_BEFORE_RANGE,  /* before the quarter containing start */
    PBR_QUARTER_AFTER_RANGE    /* after the last statement (the contract is closed) */
} pbr_quarter_state;

/* The state of quarter q of contract c on day today. */
pbr_quarter_state pbr_quarter_state_of(const pbr_contract *c, pbr_date q, pbr_date today);

/* A short description of a state for messages ("not yet due", ...). */
const char *pbr_quarter_state_name(pbr_quarter_state s);

/* Whether auto-settle must leave quarter q to an explicit settle: it was
 * already due (A(q) < first_loaded) on the day the contract was first
 * loaded into this store, so issuing it by itself would fill a new store
 * with statements made before any event arrived. */
int pbr_quarter_held_back(const pbr_contract *c, pbr_date q, pbr_date first_loaded);

/* The number of quarters of c's statement range from `from` through
 * `through` (both quarter starts; PBR_DATE_MAX for the whole range). */
size_t pbr_quarters_in_range(const pbr_contract *c, pbr_date from, pbr_date through);

#endif

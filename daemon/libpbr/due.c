/* due.c -- owns the quarter-due policy (pbr/due.h): the statement range of
 * 5.1 and 5.7 and the issue date A(Q) = Q.next + settle_after_days, read
 * against a day the caller gives. */
#include "pbr/due.h"
#include "pbr/settle.h"

pbr_quarter_state pbr_quarter_state_of(const pbr_contract *c, pbr_date q, pbr_date today)
{
    if (q == PBR_DATE_NONE || pbr_quarter_of(q, c->year_start) != q)
        return PBR_QUARTER_NOT_A_QUARTER;
    if (q < pbr_contract_first_quarter(c))
        return PBR_QUARTER_BEFORE_RANGE;
    if (q > pbr_contract_last_quarter(c))
        return PBR_QUARTER_AFTER_RANGE;
    return pbr_issue_date(c, q) < today ? PBR_QUARTER_DUE : PBR_QUARTER_NOT_YET_DUE;
}

const char *pbr_quarter_state_name(pbr_quarter_state s)
{
    switch (s) {
    case PBR_QUARTER_DUE: return "due";
    case PBR_QUARTER_NOT_YET_DUE: return "not yet due";
    case PBR_QUARTER_NOT_A_QUARTER: return "not the first day of one of the contract's quarters";
    case PBR_QUARTER_BEFORE_RANGE: return "before the contract's first quarter";
    case PBR_QUARTER_AFTER_RANGE: return "after the contract's last statement";
    }
    return "?";
}

int pbr_quarter_held_back(const pbr_contract *c, pbr_date q, pbr_date first_loaded)
{
    return pbr_issue_date(c, q) < first_loaded;
}

size_t pbr_quarters_in_range(const pbr_contract *c, pbr_date from, pbr_date through)
{
    pbr_date first = pbr_contract_first_quarter(c), last = pbr_contract_last_quarter(c);
    size_t n = 0;
    for (pbr_date q = from > first ? from : first; q <= last && q <= through; q = pbr_add_months(q, 3))
        n++;
    return n;
}

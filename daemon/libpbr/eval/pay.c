/* pay.c -- the payment rule of one line (SPEC.md 5.5 steps 1-3 and 5):
 * gate, units, price or graduated tiers, max_units, cap; exact rationals,
 * rounded to pence (half to even) once, at the end.
 */
#include <assert.h>

#include "pbr/num.h"

#include "eval.h"

static const mpq_t *metric_value(const metrics *m, pbr_metric k)
{
    switch (k) {
    case PBR_METRIC_POINTS: return (const mpq_t *)&m->points;
    case PBR_METRIC_PERCENT: return (const mpq_t *)&m->percent;
    case PBR_METRIC_AVOIDED:
    case PBR_METRIC_SIGNIFICANT: break; /* a gate without a figure: pay_line reads m->significant */
    }
    return (const mpq_t *)&m->avoided;
}

/* amount = units graduated over tiers: units in (previous upto, upto] at that
 * tier's price. Units <= 0 pay units x first price (0 after clamping). */
static void tiered_amount(const pbr_pay *pay, const mpq_t units, mpq_t amount)
{
    mpq_t prev, slice, part;
    mpq_inits(prev, slice, part, NULL);
    mpq_set_ui(amount, 0, 1);
    for (size_t i = 0; i < pay->ntiers && mpq_cmp(units, prev) > 0; i++) {
        const pbr_tier *t = &pay->tiers[i];
        if (t->has_upto && mpq_cmp(units, t->upto) > 0)
            mpq_sub(slice, t->upto, prev);
        else
            mpq_sub(slice, units, prev);
        mpq_mul(part, slice, t->price);
        mpq_add(amount, amount, part);
        if (!t->has_upto)
            break;
        mpq_set(prev, t->upto);
    }
    mpq_clears(prev, slice, part, NULL);
}

void pay_line(const pay_terms *terms, const metrics *m, pbr_line *line, mpq_t amount)
{
    const pbr_pay *pay = terms->pay;
    int pooled = terms->gate == PAY_GATE_POOLED;
    assert(!pooled || terms->pooled_threshold != NULL);
    int has_gate = pooled ? 1 : pay->has_threshold;
    pbr_metric gate_metric = pooled ? terms->pooled_metric : pay->threshold_metric;
    const mpq_t *gate = pooled ? terms->pooled_threshold : (const mpq_t *)&pay->threshold;
    mpq_t units;
    mpq_init(units);
    int missed = 0;
    if (has_gate)
        missed =
            gate_metric == PBR_METRIC_SIGNIFICANT ? !m->significant : mpq_cmp(*metric_value(m, gate_metric), *gate) < 0;
    if (missed) {
        line->threshold_met = 0;
        line->units[0] = '\0';
        if (pooled)
            mpq_set_ui(amount, 0, 1);
        else
            mpq_set(amount, pay->below);
        goto done;
    }
    line->threshold_met = 1;
    mpq_set(units, *metric_value(m, pay->per));
    if (pay->from_threshold && has_gate)
        mpq_sub(units, units, *gate);
    if (pay->has_max_units && mpq_cmp(units, pay->max_units) > 0)
        mpq_set(units, pay->max_units);
    if (terms->negative_units == PAY_NEGATIVE_UNITS_CLAMPED && mpq_sgn(units) < 0)
        mpq_set_ui(units, 0, 1);
    pbr_format6(units, line->units, sizeof line->units);
    if (terms->segment_price != NULL)
        mpq_mul(amount, units, *terms->segment_price);
    else if (pay->ntiers > 0)
        tiered_amount(pay, units, amount);
    else
        mpq_mul(amount, units, pay->price);
    if (pay->has_cap && mpq_cmp(amount, pay->cap) > 0)
        mpq_set(amount, pay->cap);
done:
    line->computed_pence = pbr_pounds_to_pence(amount);
    mpq_clear(units);
}

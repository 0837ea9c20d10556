/* contract_rules.c -- the cross-field rules of SPEC 4 and 5.9 on the model,
 * free of YAML: which baselines a measure takes, whether an outcome has a
 * price and the baselines it needs, what a significance gate, a hurdle and
 * an advance require. Each returns what is wrong as a code; the parsers
 * report it at the right node with the right words.
 */
#include <string.h>

#include "libpbr/contract_internal.h"

unsigned pbr_ct_baseline_forms(pbr_measure m)
{
    switch (m) {
    case PBR_M_BINARY: return 1u << PBR_BL_RATE | 1u << PBR_BL_RATES | 1u << PBR_BL_PREDICTED | 1u << PBR_BL_OGRS_REF;
    case PBR_M_FREQUENCY: return 1u << PBR_BL_RATE | 1u << PBR_BL_RATES;
    case PBR_M_CUSTODY_NIGHTS: return 1u << PBR_BL_HISTORY | 1u << PBR_BL_NIGHTS;
    case PBR_M_DISPOSALS: return 1u << PBR_BL_HISTORY | 1u << PBR_BL_COUNTS;
    case PBR_M_CLEAN_PERIOD: break;
    }
    return 0;
}

pbr_ct_gap pbr_ct_outcome_gap(const pbr_outcome *o, size_t *segment)
{
    int all_seg_priced = o->nsegments > 0, all_seg_baselined = o->nsegments > 0;
    for (size_t i = 0; i < o->nsegments; i++) {
        all_seg_priced &= o->segments[i].has_price;
        all_seg_baselined &= o->segments[i].has_baseline;
    }
    if (o->measure != PBR_M_DISPOSALS && !o->pay.has_price && o->pay.ntiers == 0 && !all_seg_priced)
        return PBR_CT_NO_PRICE;
    if (o->measure == PBR_M_CLEAN_PERIOD || o->has_baseline || all_seg_baselined)
        return PBR_CT_COMPLETE;
    if (o->nsegments == 0)
        return PBR_CT_NO_BASELINE;
    for (size_t i = 0; i < o->nsegments; i++) {
        if (!o->segments[i].has_baseline) {
            *segment = i;
            break;
        }
    }
    return PBR_CT_SEGMENT_NO_BASELINE;
}

pbr_ct_significance pbr_ct_significance_fits(const pbr_outcome *o)
{
    if (o->measure != PBR_M_BINARY && o->measure != PBR_M_FREQUENCY)
        return PBR_CT_SIGNIFICANCE_MEASURE;
    if (o->per_reoffender)
        return PBR_CT_SIGNIFICANCE_PER_REOFFENDER;
    return PBR_CT_SIGNIFICANCE_OK;
}

/* 1 when a has a segment named name. */
static int has_segment_named(const pbr_outcome *a, const char *name)
{
    for (size_t i = 0; i < a->nsegments; i++)
        if (strcmp(a->segments[i].name, name) == 0)
            return 1;
    return 0;
}

pbr_ct_hurdle pbr_ct_hurdle_fits(const pbr_outcome *h, const pbr_outcome *o)
{
    if (h->measure != PBR_M_BINARY)
        return PBR_CT_HURDLE_NOT_BINARY;
    int same = h->nsegments == o->nsegments;
    for (size_t i = 0; same && i < o->nsegments; i++)
        same = has_segment_named(h, o->segments[i].name);
    return same ? PBR_CT_HURDLE_OK : PBR_CT_HURDLE_SEGMENTS;
}

pbr_ct_advance pbr_ct_advance_fits(const pbr_contract *c, const pbr_outcome *o)
{
    if (o->measure != PBR_M_BINARY && o->measure != PBR_M_FREQUENCY)
        return PBR_CT_ADVANCE_MEASURE;
    if (c->cohort.period != PBR_PERIOD_QUARTER)
        return PBR_CT_ADVANCE_NOT_QUARTERLY;
    return PBR_CT_ADVANCE_OK;
}
